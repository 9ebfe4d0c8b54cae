ecto = Mix.Project.deps_paths()[:ecto]
ecto_sql = Mix.Project.deps_paths()[:ecto_sql]

for file <- ~w(assoc interval joins preload repo type windows) do
  Code.require_file("#{ecto}/integration_test/cases/#{file}.exs", __DIR__)
end

# lock.exs is left out: SQLite has no row locks (SELECT ... FOR UPDATE), and its one test
# sets a query lock, which the adapter refuses to write.
for file <- ~w(alter logging migration migrator query_many sandbox sql stream subquery transaction) do
  Code.require_file("#{ecto_sql}/integration_test/sql/#{file}.exs", __DIR__)
end
