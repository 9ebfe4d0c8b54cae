# Debian ships PropEr as `erlang-proper`, outside the default code path.
unless Code.ensure_loaded?(:proper) do
  for ebin <- Path.wildcard("/usr/lib/erlang/lib/proper-*/ebin"), do: Code.append_path(ebin)
end

exclude =
  if System.get_env("LIBSQL_URL") in [nil, ""] do
    IO.puts("Skipping remote and replica tests (:remote): set LIBSQL_URL (and LIBSQL_AUTH_TOKEN) to run them")
    [:remote]
  else
    []
  end

exclude = if Code.ensure_loaded?(:proper), do: exclude, else: [:proper | exclude]

Code.require_file("support/test_db.exs", __DIR__)

ExUnit.start(exclude: exclude)
