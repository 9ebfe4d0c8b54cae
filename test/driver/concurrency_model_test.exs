defmodule EctoLibSql.ConcurrencyModelTest do
  # The concurrency model: statements run on the connections' own threads,
  # writers of one VM queue for their database's write gate, timeouts stop
  # work, and nothing a database does holds up the rest of the VM.
  use EctoLibSql.DriverCase, async: false

  alias EctoLibSql.{Error, Result}

  @moduletag timeout: 180_000

  @long_query "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000000000) SELECT count(*) FROM c"

  test "64 writers on a pool of 32 all commit, with no busy error, while file reads and another pool stay prompt",
       %{path: path} do
    pool = start_pool!(database: path, pool_size: 32)
    other = start_pool!(database: path <> ".other", pool_size: 2)
    EctoLibSql.query!(pool, "CREATE TABLE t (writer INTEGER, n INTEGER)")
    EctoLibSql.query!(other, "CREATE TABLE o (x INTEGER)")
    File.write!(path <> ".txt", String.duplicate("x", 4096))

    writers =
      Task.async(fn ->
        1..64
        |> Task.async_stream(
          fn w ->
            for n <- 1..25 do
              EctoLibSql.transaction(pool, fn conn ->
                EctoLibSql.query!(conn, "SELECT count(*) FROM t WHERE writer = ?", [w])
                EctoLibSql.query!(conn, "INSERT INTO t VALUES (?, ?)", [w, n])
              end)
            end
          end,
          max_concurrency: 64,
          timeout: 120_000
        )
        |> Enum.flat_map(fn {:ok, results} -> results end)
        |> then(&{&1, System.monotonic_time(:millisecond)})
      end)

    # While the writers run (they take far longer than this), unrelated work
    # answers at once: a file read needs a dirty IO scheduler, a point read
    # on another database its own connection.
    {file_us, _} = :timer.tc(fn -> File.read!(path <> ".txt") end)
    {read_us, %Result{rows: [[0]]}} = :timer.tc(fn -> EctoLibSql.query!(other, "SELECT count(*) FROM o") end)
    side_done = System.monotonic_time(:millisecond)

    {results, writers_done} = Task.await(writers, 150_000)
    assert Enum.reject(results, &match?({:ok, _}, &1)) == []
    assert %Result{rows: [[1600]]} = EctoLibSql.query!(pool, "SELECT count(*) FROM t")
    assert side_done < writers_done
    assert file_us < 1_000_000
    assert read_us < 1_000_000
  end

  test "20 CPU-bound queries with timeout: 500 each stop at their deadline, and the VM keeps running",
       %{path: path} do
    # Queued checkouts wait (rather than being dropped) while the 20
    # connections come up, so that every query really runs to its deadline.
    pool = start_pool!(database: path, pool_size: 20, queue_target: 5_000, queue_interval: 10_000)
    ticker = self()

    # A process that must keep getting scheduled: it reports each 50 ms tick.
    heartbeat =
      spawn_link(fn ->
        Stream.repeatedly(fn ->
          receive do
          after
            50 -> send(ticker, {:tick, System.monotonic_time(:millisecond)})
          end
        end)
        |> Stream.run()
      end)

    results =
      1..20
      |> Task.async_stream(
        fn _ ->
          started = System.monotonic_time(:millisecond)
          result = EctoLibSql.query(pool, @long_query, [], timeout: 500)
          {result, System.monotonic_time(:millisecond) - started}
        end,
        max_concurrency: 20,
        timeout: 30_000
      )
      |> Enum.map(fn {:ok, r} -> r end)

    Process.unlink(heartbeat)
    Process.exit(heartbeat, :kill)

    for {result, elapsed} <- results do
      assert {:error, error} = result
      # The pool's own timer for the same deadline may win the race: it
      # then closes the connection, which stops the statement too.
      assert match?(%Error{code: code} when code in [:timeout, :closed], error) or
               match?(%DBConnection.ConnectionError{}, error),
             "got #{inspect(error)}"

      assert elapsed < 1_500
    end

    # Ticks are due every 50 ms: they kept coming, never 500 ms apart.
    ticks = collect_ticks([])
    assert length(ticks) >= 3
    gaps = ticks |> Enum.reverse() |> Enum.chunk_every(2, 1, :discard) |> Enum.map(fn [a, b] -> b - a end)
    assert Enum.max(gaps) < 500

    # Every statement was stopped: the pool answers at once.
    assert %Result{rows: [[1]]} = EctoLibSql.query!(pool, "SELECT 1", [], timeout: 2_000)
  end

  test "a write waiting for the write gate gives up at its timeout, not at the busy timeout", %{path: path} do
    pool = start_pool!(database: path, pool_size: 2, busy_timeout: 5_000)
    EctoLibSql.query!(pool, "CREATE TABLE t (a INTEGER)")
    test = self()

    holder =
      Task.async(fn ->
        EctoLibSql.transaction(pool, fn conn ->
          EctoLibSql.query!(conn, "INSERT INTO t VALUES (1)")
          send(test, :holding)

          receive do
            :release -> :ok
          end
        end)
      end)

    assert_receive :holding, 5_000
    started = System.monotonic_time(:millisecond)
    assert {:error, error} = EctoLibSql.query(pool, "INSERT INTO t VALUES (2)", [], timeout: 500)
    elapsed = System.monotonic_time(:millisecond) - started
    # Ended by the caller's timeout (or the pool's timer for the same
    # deadline, which closes the connection), not by the 5 s busy timeout.
    assert match?(%Error{code: code} when code in [:timeout, :closed], error) or
             match?(%DBConnection.ConnectionError{}, error),
           "got #{inspect(error)}"

    assert elapsed >= 500 and elapsed < 2_000

    send(holder.pid, :release)
    assert {:ok, _} = Task.await(holder)
    assert %Result{rows: [[1]]} = EctoLibSql.query!(pool, "SELECT count(*) FROM t")
  end

  @tag :python
  @tag capability: :multiprocess
  test "a second OS process writing the same file: both make progress with no error", %{path: path} do
    pool = start_pool!(database: path, pool_size: 4)
    EctoLibSql.query!(pool, "CREATE TABLE t (who TEXT, n INTEGER)")

    script = """
    import sqlite3, sys
    db = sqlite3.connect(sys.argv[1], timeout=10, isolation_level=None)
    for n in range(300):
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO t VALUES ('python', ?)", (n,))
        db.execute("COMMIT")
    print("done")
    """

    python = Task.async(fn -> System.cmd("python3", ["-c", script, path], stderr_to_stdout: true) end)

    elixir =
      1..4
      |> Task.async_stream(
        fn w ->
          for n <- 1..75, do: EctoLibSql.query(pool, "INSERT INTO t VALUES (?, ?)", ["elixir #{w}", n])
        end,
        timeout: 60_000
      )
      |> Enum.flat_map(fn {:ok, r} -> r end)

    assert {"done\n", 0} = Task.await(python, 60_000)
    assert Enum.reject(elixir, &match?({:ok, _}, &1)) == []

    assert %Result{rows: [[300, 300]]} =
             EctoLibSql.query!(
               pool,
               "SELECT sum(who = 'python'), sum(who != 'python') FROM t"
             )
  end

  defp collect_ticks(acc) do
    receive do
      {:tick, at} -> collect_ticks([at | acc])
    after
      0 -> acc
    end
  end
end
