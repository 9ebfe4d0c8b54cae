# Remote databases and embedded replicas against a local sqld (see
# bench/README.md). Needs sqld (libsql-server) on PATH, or SQLD_BIN naming it:
#
#     MIX_ENV=bench mix run bench/remote.exs
#
# W1 (Repo.get on 1,000 rows) and W2 (Repo.insert) through a local file, a
# remote connection (Hrana over HTTP) and an embedded replica, with benchee,
# in one run; then the replication lag between two replicas of the same
# primary at sync_interval 100 and 500 ms: one writes a row, the other is
# polled every 5 ms until it sees it (30 rows each; median and p90).

# Run from the project root, like every bench script (mix run bench/...).
Code.require_file("test/support/test_server.ex", File.cwd!())

defmodule RemoteBench.Post do
  use Ecto.Schema

  schema "posts" do
    field(:title, :string)
  end
end

defmodule RemoteBench.Repo do
  use Ecto.Repo, otp_app: :ecto_libsql, adapter: Ecto.Adapters.LibSql
end

defmodule RemoteBench do
  @moduledoc false
  alias EctoLibSql.TestServer
  alias RemoteBench.{Post, Repo}

  @rows 1_000

  def main do
    unless TestServer.available?() do
      IO.puts("bench/remote.exs needs sqld: put it on PATH or set SQLD_BIN")
      System.halt(1)
    end

    server = TestServer.start!()
    dir = Path.join(System.tmp_dir!(), "ecto_libsql_remote_bench_#{System.os_time()}")
    File.mkdir_p!(dir)

    try do
      {:ok, remote} = EctoLibSql.Native.open(uri: server.url)
      {:ok, _} = EctoLibSql.Native.execute(remote, "CREATE TABLE posts (id INTEGER PRIMARY KEY, title TEXT)")
      EctoLibSql.Native.close(remote)

      modes = [
        {"local file", [database: Path.join(dir, "local.db")]},
        {"remote (Hrana)", [uri: server.url]},
        {"embedded replica", [database: Path.join(dir, "replica.db"), uri: server.url]}
      ]

      IO.puts("# Remote and replica benchmark\n\nsqld #{server.url}; #{System.schedulers_online()} schedulers\n")
      workloads(modes)
      for interval <- [100, 500], do: lag(server, dir, interval)
    after
      TestServer.stop(server)
      File.rm_rf!(dir)
    end
  end

  defp workloads(modes) do
    jobs =
      for {name, opts} <- modes, {workload, fun} <- [{"W1 Repo.get", &w1/0}, {"W2 Repo.insert", &w2/0}], into: %{} do
        {"#{workload}, #{name}",
         {fn _ -> fun.() end, before_scenario: fn _ -> start!(opts) end, after_scenario: fn _ -> stop!() end}}
      end

    Benchee.run(jobs, time: 3, warmup: 1, memory_time: 0, print: [fast_warning: false, configuration: false])
  end

  defp w1, do: %Post{} = Repo.get(Post, :rand.uniform(@rows))
  defp w2, do: {:ok, _} = Repo.insert(%Post{title: "w2"})

  defp start!(opts) do
    {:ok, _} = Repo.start_link(Keyword.merge([pool_size: 1, log: false], opts))

    if opts[:database] && !opts[:uri] do
      Repo.query!("CREATE TABLE IF NOT EXISTS posts (id INTEGER PRIMARY KEY, title TEXT)")
    end

    Repo.query!("DELETE FROM posts")
    Repo.insert_all(Post, for(i <- 1..@rows, do: [id: i, title: "post #{i}"]))
    # A replica reads locally: make sure it has the rows before timing.
    if opts[:uri] && opts[:database], do: {:ok, _} = Ecto.Adapters.LibSql.sync(Repo)
    :ok
  end

  defp stop!, do: Supervisor.stop(Repo)

  defp lag(server, dir, interval) do
    open = fn name ->
      {:ok, pool} =
        EctoLibSql.start_link(
          database: Path.join(dir, "#{name}-#{interval}.db"),
          uri: server.url,
          sync_interval: interval
        )

      pool
    end

    writer = open.("writer")
    reader = open.("reader")

    lags =
      for i <- 1..30 do
        title = "lag #{interval} #{i}"
        EctoLibSql.query!(writer, "INSERT INTO posts (title) VALUES (?)", [title])
        written = System.monotonic_time(:millisecond)
        await(reader, title)
        System.monotonic_time(:millisecond) - written
      end

    sorted = Enum.sort(lags)

    IO.puts(
      "replication lag at sync_interval #{interval} ms: median #{Enum.at(sorted, 15)} ms, " <>
        "p90 #{Enum.at(sorted, 27)} ms, max #{List.last(sorted)} ms (30 writes)"
    )

    GenServer.stop(writer)
    GenServer.stop(reader)
  end

  # Polling is what is measured here: the replica learns of the row only
  # through its background sync.
  defp await(reader, title) do
    case EctoLibSql.query!(reader, "SELECT count(*) FROM posts WHERE title = ?", [title]) do
      %{rows: [[1]]} ->
        :ok

      _ ->
        Process.sleep(5)
        await(reader, title)
    end
  end
end

RemoteBench.main()
