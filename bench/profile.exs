# Where a point read's time goes, layer by layer (see bench/README.md):
#
#     MIX_ENV=bench mix run bench/profile.exs
#
# Each line is the median of 5 runs of 50,000 calls, in µs per call.

defmodule Profile.Post do
  use Ecto.Schema

  schema "posts" do
    field(:title, :string)
    field(:body, :string)
    field(:views, :integer)
    field(:score, :float)
    field(:inserted_at, :naive_datetime)
  end
end

defmodule Profile.Repo do
  use Ecto.Repo, otp_app: :ecto_libsql, adapter: Ecto.Adapters.LibSql
end

defmodule Profile do
  @moduledoc false
  alias EctoLibSql.{Native, Nif}

  @calls 50_000
  @rows 10_000
  @read "SELECT id, title, views FROM posts WHERE id = ?"
  @get "SELECT id, title, body, views, score, inserted_at FROM posts WHERE id = ?"

  def main do
    path = Path.join(System.tmp_dir!(), "ecto_libsql_profile_#{System.os_time()}.db")
    {:ok, repo} = Profile.Repo.start_link(database: path, pool_size: 1, log: false)

    Profile.Repo.query!("""
    CREATE TABLE posts (id INTEGER PRIMARY KEY, title TEXT, body TEXT,
                        views INTEGER, score REAL, inserted_at TEXT)
    """)

    for chunk <- Enum.chunk_every(1..@rows, 1_000) do
      rows =
        for id <- chunk,
            do: %{
              id: id,
              title: "title #{id}",
              body: "body #{id}",
              views: id,
              score: id / 7,
              inserted_at: ~N[2024-01-01 00:00:00]
            }

      Profile.Repo.insert_all(Profile.Post, rows)
    end

    {:ok, conn} = Native.open(database: path)
    {:ok, stmt} = Native.prepare(conn, @read)
    ids = for _ <- 1..@calls, do: :rand.uniform(@rows)

    line("regular NIF, no work (connection_database)", fn _ -> Nif.connection_database(conn) end, ids)
    # A round trip to the connection's thread with no SQLite work.
    line("worker round trip, no SQLite work (stmt_parameter_count)", fn _ -> Native.stmt_parameter_count(stmt) end, ids)
    line("W6 Native.query_stmt (3 columns)", fn id -> {:ok, _} = Native.query_stmt(stmt, [id]) end, ids)

    line(
      "Native.query, Repo.get's SQL (6 columns, cache)",
      fn id -> {:ok, _} = Native.query(conn, @get, [id]) end,
      ids
    )

    line(
      "Ecto.Adapters.SQL.query (DBConnection, 6 columns)",
      fn id -> {:ok, _} = Ecto.Adapters.SQL.query(Profile.Repo, @get, [id]) end,
      ids
    )

    line("Repo.get (Ecto + DBConnection)", fn id -> %Profile.Post{} = Profile.Repo.get(Profile.Post, id) end, ids)
    Supervisor.stop(repo)
    File.rm(path)
  end

  defp line(label, fun, ids) do
    Enum.each(Enum.take(ids, 5_000), fun)

    times =
      for _ <- 1..5 do
        {us, _} = :timer.tc(fn -> Enum.each(ids, fun) end)
        us / length(ids)
      end

    median = times |> Enum.sort() |> Enum.at(2)
    IO.puts("#{String.pad_trailing(label, 60)} #{:erlang.float_to_binary(median, decimals: 2)} µs")
  end
end

Profile.main()
