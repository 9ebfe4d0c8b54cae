defmodule EctoLibSql.ProtocolTest do
  use EctoLibSql.DriverCase, async: true

  alias EctoLibSql.{Error, Result}

  # Long, never endless: a test whose interrupt was lost still ends.
  @long_query "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000000000) SELECT count(*) FROM c"

  describe "transactions" do
    test "begin, commit and rollback report the state they found", %{path: path} do
      {:ok, state} = EctoLibSql.Protocol.connect(database: path)
      assert {:idle, state} = EctoLibSql.Protocol.handle_status([], state)
      assert {:ok, %Result{command: :begin}, state} = EctoLibSql.Protocol.handle_begin([], state)
      assert {:transaction, state} = EctoLibSql.Protocol.handle_status([], state)
      assert {:transaction, state} = EctoLibSql.Protocol.handle_begin([], state)
      assert {:ok, %Result{command: :commit}, state} = EctoLibSql.Protocol.handle_commit([], state)
      assert {:idle, state} = EctoLibSql.Protocol.handle_commit([], state)
      assert {:idle, state} = EctoLibSql.Protocol.handle_rollback([], state)
      assert :ok = EctoLibSql.Protocol.disconnect(%Error{code: :closed, message: "test"}, state)
    end

    test "commit, rollback and DBConnection.rollback/2", %{path: path} do
      pool = start_pool!(database: path)
      EctoLibSql.query!(pool, "CREATE TABLE t (a INTEGER)")

      assert {:ok, :done} =
               EctoLibSql.transaction(pool, fn conn ->
                 EctoLibSql.query!(conn, "INSERT INTO t VALUES (1)")
                 :done
               end)

      assert {:error, :nope} =
               EctoLibSql.transaction(pool, fn conn ->
                 EctoLibSql.query!(conn, "INSERT INTO t VALUES (2)")
                 EctoLibSql.rollback(conn, :nope)
               end)

      assert %Result{rows: [[1]]} = EctoLibSql.query!(pool, "SELECT sum(a) FROM t")
    end

    for pool_size <- [8, 32, 64] do
      test "transactions are IMMEDIATE by default: read-then-update from 16 processes on a pool of #{pool_size} loses nothing",
           %{path: path} do
        pool = start_pool!(database: path, pool_size: unquote(pool_size))
        EctoLibSql.query!(pool, "CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)")
        EctoLibSql.query!(pool, "INSERT INTO counter VALUES (1, 0)")

        results =
          1..16
          |> Task.async_stream(
            fn _ ->
              for _ <- 1..25 do
                EctoLibSql.transaction(pool, fn conn ->
                  %Result{rows: [[n]]} = EctoLibSql.query!(conn, "SELECT n FROM counter WHERE id = 1")
                  EctoLibSql.query!(conn, "UPDATE counter SET n = ? WHERE id = 1", [n + 1])
                end)
              end
            end,
            timeout: 60_000
          )
          |> Enum.flat_map(fn {:ok, list} -> list end)

        # A DEFERRED read-then-write would fail with busy (SQLITE_BUSY_SNAPSHOT) here.
        assert Enum.reject(results, &match?({:ok, _}, &1)) == []
        assert %Result{rows: [[400]]} = EctoLibSql.query!(pool, "SELECT n FROM counter WHERE id = 1")
      end
    end

    test "a DEFERRED transaction whose snapshot went stale says why it cannot write, and what to use",
         %{path: path} do
      pool = start_pool!(database: path, pool_size: 2)
      EctoLibSql.query!(pool, "CREATE TABLE t (a INTEGER)")
      test = self()

      result =
        EctoLibSql.transaction(
          pool,
          fn conn ->
            EctoLibSql.query!(conn, "SELECT count(*) FROM t")
            # Another connection commits a write after this transaction read.
            Task.async(fn -> send(test, {:other, EctoLibSql.query(pool, "INSERT INTO t VALUES (1)")}) end)
            |> Task.await()

            EctoLibSql.query(conn, "INSERT INTO t VALUES (2)")
          end,
          mode: :deferred
        )

      assert_received {:other, {:ok, _}}
      assert {:ok, {:error, %Error{code: :busy, extended_code: 517, message: message}}} = result
      assert message =~ "IMMEDIATE"
    end

    test "modes per transaction and by default", %{path: path} do
      pool = start_pool!(database: path, pool_size: 2, default_transaction_mode: :immediate)
      EctoLibSql.query!(pool, "CREATE TABLE t (a INTEGER)")
      test = self()

      # An immediate transaction takes the write gate at BEGIN: a second
      # writer of this VM waits for it (here until its own timeout).
      {:ok, _} =
        EctoLibSql.transaction(pool, fn conn ->
          EctoLibSql.query!(conn, "SELECT 1")

          Task.async(fn ->
            {:ok, other} = EctoLibSql.Native.open(database: path, busy_timeout: 0)
            send(test, {:write, EctoLibSql.Native.execute(other, "INSERT INTO t VALUES (1)", [], timeout: 100)})
          end)
          |> Task.await()
        end)

      assert_receive {:write, {:error, %Error{code: :timeout}}}

      assert {:ok, :ok} =
               EctoLibSql.transaction(pool, fn conn -> EctoLibSql.query!(conn, "SELECT 1") && :ok end, mode: :exclusive)

      assert_raise Error, ~r/must be one of/, fn ->
        EctoLibSql.transaction(pool, fn _ -> :ok end, mode: :bogus)
      end
    end

    test "a statement run with mode: :savepoint fails alone inside a transaction", %{path: path} do
      pool = start_pool!(database: path)
      EctoLibSql.query!(pool, "CREATE TABLE t (a INTEGER UNIQUE)")

      {:ok, :kept} =
        EctoLibSql.transaction(pool, fn conn ->
          EctoLibSql.query!(conn, "INSERT INTO t VALUES (1)")
          assert {:ok, _} = EctoLibSql.query(conn, "INSERT INTO t VALUES (2)", [], mode: :savepoint)

          assert {:error, %Error{code: :constraint_unique}} =
                   EctoLibSql.query(conn, "INSERT INTO t VALUES (1)", [], mode: :savepoint)

          assert {:ok, :transaction} = {:ok, DBConnection.status(conn)}
          :kept
        end)

      assert %Result{rows: [[3]]} = EctoLibSql.query!(pool, "SELECT sum(a) FROM t")
    end

    test "a client that crashes mid-transaction leaves nothing locked", %{path: path} do
      pool = start_pool!(database: path, pool_size: 1)
      EctoLibSql.query!(pool, "CREATE TABLE t (a INTEGER)")
      test = self()

      {pid, ref} =
        spawn_monitor(fn ->
          EctoLibSql.transaction(pool, fn conn ->
            EctoLibSql.query!(conn, "INSERT INTO t VALUES (1)")
            send(test, :in_transaction)
            Process.sleep(:infinity)
          end)
        end)

      assert_receive :in_transaction, 5_000
      Process.exit(pid, :kill)
      assert_receive {:DOWN, ^ref, _, _, :killed}

      # The same (only) connection works, the write was rolled back, and an
      # independent connection is not blocked by a leftover write lock.
      assert %Result{rows: [[0]]} = EctoLibSql.query!(pool, "SELECT count(*) FROM t")
      {:ok, other} = EctoLibSql.Native.open(database: path, busy_timeout: 0)
      assert {:ok, 1} = EctoLibSql.Native.execute(other, "INSERT INTO t VALUES (2)")
    end
  end

  describe "timeouts" do
    test "a query that outlives its timeout is stopped, answers :timeout, and the pool recovers", %{path: path} do
      pool = start_pool!(database: path, pool_size: 1)
      started = System.monotonic_time(:millisecond)

      # The pool's own timer for the same deadline may win the race: it then
      # closes the connection, which stops the statement too.
      assert {:error, error} = EctoLibSql.query(pool, @long_query, [], timeout: 300)

      assert match?(%Error{code: code} when code in [:timeout, :closed], error) or
               match?(%DBConnection.ConnectionError{}, error)

      assert System.monotonic_time(:millisecond) - started < 1_000

      # The statement was stopped: the only connection answers at once.
      assert {:ok, %Result{rows: [[1]]}} = EctoLibSql.query(pool, "SELECT 1", [], timeout: 1_000)
      refute_received _
    end
  end

  describe "streams" do
    test "stream/4 steps rows lazily in max_rows chunks", %{path: path} do
      pool = start_pool!(database: path)
      EctoLibSql.query!(pool, "CREATE TABLE s (a INTEGER)")

      EctoLibSql.query!(
        pool,
        "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 2500) INSERT INTO s SELECT x FROM n"
      )

      {:ok, chunks} =
        EctoLibSql.transaction(pool, fn conn ->
          conn
          |> EctoLibSql.stream("SELECT a FROM s ORDER BY a", [], max_rows: 1000)
          |> Enum.map(fn %Result{rows: rows, num_rows: n} -> {n, List.first(rows)} end)
        end)

      assert chunks == [{1000, [1]}, {1000, [1001]}, {500, [2001]}] or
               chunks == [{1000, [1]}, {1000, [1001]}, {500, [2001]}, {0, nil}]
    end

    test "a stream halted early releases its cursor", %{path: path} do
      pool = start_pool!(database: path, pool_size: 1)
      EctoLibSql.query!(pool, "CREATE TABLE s (a INTEGER)")

      EctoLibSql.query!(
        pool,
        "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 100) INSERT INTO s SELECT x FROM n"
      )

      {:ok, [first]} =
        EctoLibSql.transaction(pool, fn conn ->
          conn |> EctoLibSql.stream("SELECT a FROM s", [], max_rows: 10) |> Enum.take(1)
        end)

      assert first.num_rows == 10

      # With the cursor gone its read transaction is over: a checkpoint can
      # truncate the whole WAL.
      assert %Result{rows: [[0, _, _]]} = EctoLibSql.query!(pool, "PRAGMA wal_checkpoint(TRUNCATE)")
    end

    test "streaming 1,000,000 rows keeps memory flat", %{path: path} do
      pool = start_pool!(database: path, pool_size: 1, timeout: 120_000)
      EctoLibSql.query!(pool, "CREATE TABLE big (a INTEGER, b TEXT)")

      EctoLibSql.query!(
        pool,
        "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 1000000) INSERT INTO big SELECT x, 'row ' || x FROM n",
        [],
        timeout: 120_000
      )

      :erlang.garbage_collect()
      before = :erlang.memory(:total)
      peak = :counters.new(1, [])

      {:ok, total} =
        EctoLibSql.transaction(
          pool,
          fn conn ->
            conn
            |> EctoLibSql.stream("SELECT a, b FROM big", [], max_rows: 2000)
            |> Enum.reduce(0, fn %Result{num_rows: n}, acc ->
              used = :erlang.memory(:total) - before
              if used > :counters.get(peak, 1), do: :counters.put(peak, 1, used)
              acc + n
            end)
          end,
          timeout: 120_000
        )

      assert total == 1_000_000
      # A million rows buffered would take hundreds of MB; chunks take little.
      assert :counters.get(peak, 1) < 64 * 1024 * 1024
    end
  end

  describe "errors" do
    test "fatal errors disconnect, ordinary ones do not", %{path: path} do
      pool = start_pool!(database: path, pool_size: 1)
      # Telemetry is global: other async tests' pools stopping also report
      # their disconnects; only this pool's matter.
      id = collect_telemetry([[:ecto_libsql, :disconnect]])
      assert {:error, %Error{code: :syntax}} = EctoLibSql.query(pool, "SELEC", [])
      refute_received {:telemetry, [:ecto_libsql, :disconnect], _, %{database: ^path}}
      :telemetry.detach(id)
    end

    test "ping keeps an idle connection", %{path: path} do
      pool = start_pool!(database: path, pool_size: 1, idle_interval: 10)
      Process.sleep(100)
      assert {:ok, %Result{rows: [[1]]}} = EctoLibSql.query(pool, "SELECT 1", [])
    end
  end
end
