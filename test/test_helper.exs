# The project's suites: the native core (test/native), the DBConnection
# driver (test/driver) and the Ecto adapter (test/ecto).
Logger.configure(level: :warning)

# Debian ships PropEr as `erlang-proper`, outside the default code path.
unless Code.ensure_loaded?(:proper) do
  for ebin <- Path.wildcard("/usr/lib/erlang/lib/proper-*/ebin"), do: Code.append_path(ebin)
end

exclude = if Code.ensure_loaded?(:proper), do: [], else: [:proper]
exclude = exclude ++ EctoLibSql.TestServer.start_for_suite()

ExUnit.start(exclude: exclude)
