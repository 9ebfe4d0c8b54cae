defmodule Ecto.Adapters.LibSql.RemoteRepoTest do
  # Ecto Repos on a remote libSQL server and on embedded replicas of it,
  # against a real sqld (see EctoLibSql.TestServer; excluded without one).
  use ExUnit.Case, async: false

  import Ecto.Query
  import EctoLibSql.TestDB, only: [tmp_dir!: 1]

  alias EctoLibSql.TestServer

  @moduletag :remote

  defmodule Repo do
    use Ecto.Repo, otp_app: :ecto_libsql, adapter: Ecto.Adapters.LibSql
  end

  defmodule Post do
    use Ecto.Schema

    schema "posts" do
      field(:title, :string)
    end
  end

  # Each test gets its own server: some restart it.
  setup ctx do
    server = TestServer.start_supervised!()
    %{server: server, dir: tmp_dir!(ctx)}
  end

  defp start_repo!(opts) do
    start_supervised!({Repo, Keyword.merge([log: false, pool_size: 2], opts)})
  end

  # Runs `fun` with a Repo on `opts` that is stopped afterwards.
  defp with_repo(opts, fun) do
    start_repo!(opts)
    fun.()
    :ok = stop_supervised!(Repo)
  end

  defp create_posts!(n) do
    Repo.query!("CREATE TABLE posts (id INTEGER PRIMARY KEY, title TEXT NOT NULL)")
    Repo.insert_all(Post, for(i <- 1..n, do: [id: i, title: "post #{i}"]))
  end

  defp modes(server, dir) do
    [
      local: [database: Path.join(dir, "local.db")],
      remote: [uri: server.url],
      replica: [database: Path.join(dir, "replica.db"), uri: server.url]
    ]
  end

  test "one cached SELECT run with 100 different parameters returns 100 right rows, in every mode", ctx do
    for {mode, opts} <- modes(ctx.server, ctx.dir) do
      with_repo(opts, fn ->
        # The replica reads the table the remote Repo created on the server.
        if mode != :replica, do: create_posts!(100)

        for i <- Enum.shuffle(1..100) do
          assert %Post{id: ^i, title: title} = Repo.get(Post, i), "#{mode}: Repo.get(Post, #{i})"
          assert title == "post #{i}"
          assert [^i] = Repo.all(from(p in Post, where: p.title == ^"post #{i}", select: p.id)), "#{mode}: by title"
        end
      end)
    end
  end

  test "a replica's stream reads each row once", ctx do
    with_repo([uri: ctx.server.url], fn -> create_posts!(1000) end)

    start_repo!(database: Path.join(ctx.dir, "replica.db"), uri: ctx.server.url)

    {:ok, ids} = Repo.transaction(fn -> Repo.stream(from(p in Post, select: p.id), max_rows: 37) |> Enum.to_list() end)
    assert Enum.sort(ids) == Enum.to_list(1..1000)
  end

  test "a replica Repo syncs, reports its replication index and waits for a frame, with telemetry", ctx do
    with_repo([uri: ctx.server.url], fn -> create_posts!(3) end)
    start_repo!(database: Path.join(ctx.dir, "replica.db"), uri: ctx.server.url)
    test = self()
    id = make_ref()

    :telemetry.attach(
      id,
      [:ecto_libsql, :sync],
      fn _, measurements, meta, _ -> send(test, {:sync, measurements, meta}) end,
      nil
    )

    on_exit(fn -> :telemetry.detach(id) end)

    assert {:ok, %{frame_no: frame, frames_synced: _}} = Ecto.Adapters.LibSql.sync(Repo)
    assert is_integer(frame)
    assert_receive {:sync, %{duration: _, frames: _}, %{call: :sync, result: :ok, frame_no: ^frame}}
    assert {:ok, ^frame} = Ecto.Adapters.LibSql.replication_index(Repo)
    assert {:ok, %{frame_no: ^frame}} = Ecto.Adapters.LibSql.sync_until(Repo, frame)

    # A frame the primary does not have yet: waited for up to the timeout.
    started = System.monotonic_time(:millisecond)

    assert {:error, %EctoLibSql.Error{code: :timeout}} =
             Ecto.Adapters.LibSql.sync_until(Repo, frame + 1000, timeout: 500)

    assert System.monotonic_time(:millisecond) - started < 5_000
    assert_receive {:sync, _, %{call: :sync_until, result: :error, error: %EctoLibSql.Error{code: :timeout}}}
    assert Repo.aggregate(Post, :count) == 3
  end

  test "a remote Repo keeps working after the server forgets its streams (restart)", ctx do
    start_repo!(uri: ctx.server.url, pool_size: 1)
    create_posts!(3)
    assert Repo.aggregate(Post, :count) == 3

    TestServer.restart!(ctx.server)

    # Outside a transaction: the statement runs again on a fresh stream.
    assert Repo.aggregate(Post, :count) == 3
    assert {:ok, %Post{id: 4}} = Repo.insert(%Post{id: 4, title: "after restart"})
    assert Repo.aggregate(Post, :count) == 4
  end

  test "a transaction whose stream the server forgot fails clearly, and the next one works", ctx do
    start_repo!(uri: ctx.server.url, pool_size: 1)
    create_posts!(1)

    err =
      assert_raise EctoLibSql.Error, fn ->
        Repo.transaction(fn ->
          Repo.insert!(%Post{title: "inside"})
          TestServer.restart!(ctx.server)
          Repo.insert!(%Post{title: "lost"})
        end)
      end

    assert err.code == :disconnected
    # The transaction's work is gone with its stream; the pool replaced the connection.
    assert Repo.all(from(p in Post, select: p.title)) == ["post 1"]
    assert {:ok, _} = Repo.insert(%Post{title: "next"})
  end

  @tag timeout: 60_000
  test "a remote Repo left idle longer than the server's stream expiry still answers", ctx do
    start_repo!(uri: ctx.server.url, pool_size: 1)
    create_posts!(1)
    # sqld expires a stream idle for 10 s: the idle time is the behaviour under test.
    Process.sleep(11_000)
    assert Repo.aggregate(Post, :count) == 1
  end

  test "more remote queries in flight than dirty IO schedulers leave file I/O prompt", ctx do
    start_repo!(uri: ctx.server.url, pool_size: 16)
    path = Path.join(ctx.dir, "side.txt")
    File.write!(path, "side")
    slow = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000) SELECT count(*) FROM c"

    queries =
      Task.async(fn ->
        1..16
        |> Task.async_stream(fn _ -> Repo.query(slow, [], timeout: 60_000) end, max_concurrency: 16, timeout: 90_000)
        |> Enum.map(fn {:ok, result} -> result end)
        |> then(&{&1, System.monotonic_time(:millisecond)})
      end)

    {file_us, "side"} = :timer.tc(fn -> File.read!(path) end)
    read_at = System.monotonic_time(:millisecond)
    {results, done_at} = Task.await(queries, 120_000)
    assert Enum.all?(results, &match?({:ok, %{rows: [[1_000_000]]}}, &1))
    assert read_at < done_at
    assert file_us < 500_000
  end

  test "a server that is down reads as :unavailable", ctx do
    start_repo!(uri: ctx.server.url, pool_size: 1)
    create_posts!(1)
    TestServer.stop(ctx.server)
    assert {:error, %EctoLibSql.Error{code: :unavailable}} = Repo.query("SELECT count(*) FROM posts")
  end

  test "a replica opens from its last sync while its primary is down, and catches up when the primary returns", ctx do
    path = Path.join(ctx.dir, "replica.db")
    with_repo([uri: ctx.server.url], fn -> create_posts!(3) end)
    with_repo([database: path, uri: ctx.server.url], fn -> assert Repo.aggregate(Post, :count) == 3 end)

    TestServer.stop(ctx.server)
    start_repo!(database: path, uri: ctx.server.url)
    # What the replica last synced, served without its primary.
    assert Repo.aggregate(Post, :count) == 3
    assert {:error, %EctoLibSql.Error{code: code}} = Ecto.Adapters.LibSql.sync(Repo)
    assert code in [:unavailable, :sync]
    assert {:error, %EctoLibSql.Error{code: :unavailable}} = Repo.query("INSERT INTO posts (title) VALUES ('offline')")

    server = TestServer.restart!(ctx.server)
    {:ok, remote} = EctoLibSql.Native.open(uri: server.url)
    {:ok, 1} = EctoLibSql.Native.execute(remote, "INSERT INTO posts (id, title) VALUES (4, 'post 4')")
    EctoLibSql.Native.close(remote)

    # No sync is asked for: the replica catches up by itself (its
    # background retries back off from 1 s).
    await_count(4, System.monotonic_time(:millisecond) + 30_000)
    assert {:ok, %{since_last_sync_ms: since}} = Ecto.Adapters.LibSql.health(Repo)
    assert is_integer(since)
    assert {:ok, %{frame_no: frame}} = Ecto.Adapters.LibSql.sync(Repo)
    assert is_integer(frame)
  end

  # Polls: the replica learns of the row only through its background sync.
  defp await_count(n, deadline) do
    cond do
      Repo.aggregate(Post, :count) == n -> :ok
      System.monotonic_time(:millisecond) > deadline -> flunk("the replica did not catch up")
      true -> Process.sleep(50) && await_count(n, deadline)
    end
  end

  test "health reports a replica's frame and the time since its last sync", ctx do
    start_repo!(database: Path.join(ctx.dir, "replica.db"), uri: ctx.server.url)
    create_posts!(1)
    {:ok, _} = Ecto.Adapters.LibSql.sync(Repo)

    assert {:ok, %{kind: :replica, answers: true, replication_index: frame, since_last_sync_ms: since}} =
             Ecto.Adapters.LibSql.health(Repo)

    assert is_integer(frame) and since >= 0 and since < 60_000
  end

  test "sync_on_open: false opens a synced replica file without its primary, then catches up", ctx do
    path = Path.join(ctx.dir, "replica.db")
    with_repo([uri: ctx.server.url], fn -> create_posts!(2) end)
    with_repo([database: path, uri: ctx.server.url], fn -> assert Repo.aggregate(Post, :count) == 2 end)

    {:ok, remote} = EctoLibSql.Native.open(uri: ctx.server.url)
    {:ok, 1} = EctoLibSql.Native.execute(remote, "INSERT INTO posts (id, title) VALUES (3, 'post 3')")
    EctoLibSql.Native.close(remote)

    start_repo!(database: path, uri: ctx.server.url, sync_on_open: false)
    # The background sync brings the third row.
    await_count(3, System.monotonic_time(:millisecond) + 30_000)
    assert {:ok, %{since_last_sync_ms: since}} = Ecto.Adapters.LibSql.health(Repo)
    assert is_integer(since)
  end

  test "a replica that never synced does not open while its primary is down", ctx do
    TestServer.stop(ctx.server)

    assert {:error, %EctoLibSql.Error{code: :unavailable}} =
             EctoLibSql.Native.open(database: Path.join(ctx.dir, "never.db"), uri: ctx.server.url)
  end
end
