# The project's suites: the native core (test/native), the DBConnection
# driver (test/driver) and the Ecto adapter (test/ecto).
Logger.configure(level: :warning)

# Debian ships PropEr as `erlang-proper`, outside the default code path.
unless Code.ensure_loaded?(:proper) do
  for ebin <- Path.wildcard("/usr/lib/erlang/lib/proper-*/ebin"), do: Code.append_path(ebin)
end

exclude = if Code.ensure_loaded?(:proper), do: [], else: [:proper]

# ECTO_LIBSQL_ENGINE=turso runs the suites with local databases on the
# turso engine; tests that need what it lacks carry `capability:` tags.
exclude =
  case System.get_env("ECTO_LIBSQL_ENGINE", "libsql") do
    "libsql" ->
      exclude

    "turso" ->
      Application.put_env(:ecto_libsql, :default_engine, :turso)
      IO.puts("Running local databases on the turso engine")
      [:capability | exclude]

    other ->
      raise "ECTO_LIBSQL_ENGINE must be libsql or turso, got: #{inspect(other)}"
  end

exclude = exclude ++ EctoLibSql.TestServer.start_for_suite()

# A second OS process writing the same file is played by Python's sqlite3.
exclude =
  if System.find_executable("python3"),
    do: exclude,
    else: IO.puts("Skipping :python tests: python3 is not on PATH") && [:python | exclude]

ExUnit.start(exclude: exclude)
