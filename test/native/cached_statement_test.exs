defmodule EctoLibSql.CachedStatementTest do
  # A statement from the connection's cache answers exactly as its first,
  # uncached run; long runs complete, interrupts stop them, and a read
  # waiting for a lock waits rather than failing.
  use ExUnit.Case, async: true

  import EctoLibSql.TestDB
  alias EctoLibSql.Native

  @count_to "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ?) SELECT count(*) FROM c"
  # Long, never endless: a test whose interrupts were all lost still ends.
  @long "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000000000) SELECT count(*) FROM c WHERE x > ?"

  test "a cached SELECT answers the same as its first, uncached run" do
    conn = open_memory!()
    {:ok, _} = Native.execute(conn, "CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b REAL, c BLOB)")
    {:ok, 1} = Native.execute(conn, "INSERT INTO t VALUES (1, 'x', 1.5, ?)", [{:blob, <<0, 1>>}])

    results = for _ <- 1..50, do: Native.query(conn, "SELECT * FROM t WHERE id = ?", [1])
    assert Enum.uniq(results) |> length() == 1
    assert {:ok, %{rows: [[1, "x", 1.5, <<0, 1>>]], columns: ["id", "a", "b", "c"]}} = hd(results)

    {:ok, stats} = Native.cache_stats(conn)
    assert stats.hits >= 49
  end

  test "a cached SELECT that runs long completes" do
    conn = open_memory!()
    assert {:ok, %{rows: [[10]]}} = Native.query(conn, @count_to, [10])
    # Cached now; this run is long (3,000,000 steps).
    assert {:ok, %{rows: [[3_000_000]]}} = Native.query(conn, @count_to, [3_000_000])
  end

  test "the user's interrupt still interrupts a cached SELECT" do
    conn = open_memory!()
    # The first run caches the statement; the second reuses it and must
    # stop just the same.
    assert {:error, %{code: :interrupted}} = interrupt_running(conn, @long, [0])
    assert {:error, %{code: :interrupted}} = interrupt_running(conn, @long, [0])
    assert {:ok, %{rows: [[1]]}} = Native.query(conn, "SELECT 1")
  end

  test "explicit prepared statements give the same results on every run" do
    conn = open_memory!()
    {:ok, stmt} = Native.prepare(conn, "SELECT ? + 1, ?")
    for i <- 1..100, do: assert(Native.query_stmt(stmt, [i, "v"]) == {:ok, result([[i + 1, "v"]])})
    assert {:error, %{code: :misuse}} = Native.query_stmt(stmt, [1])
    :ok = Native.close_stmt(stmt)
    assert {:error, %{code: :closed}} = Native.query_stmt(stmt, [1, 2])
  end

  @tag capability: :journal_modes
  test "a read blocked by a lock waits for it instead of failing", context do
    path = tmp_db!(context)
    writer = open!(database: path, journal_mode: :delete)
    reader = open!(database: path, journal_mode: :delete, busy_timeout: 5_000)
    {:ok, _} = Native.execute(writer, "CREATE TABLE t (a INTEGER)")
    {:ok, _} = Native.execute(writer, "INSERT INTO t VALUES (1)")
    assert {:ok, %{rows: [[1]]}} = Native.query(reader, "SELECT count(*) FROM t")

    # An exclusive lock in rollback-journal mode blocks readers until commit.
    :ok = Native.begin(writer, :exclusive)
    {:ok, _} = Native.execute(writer, "INSERT INTO t VALUES (2)")
    task = Task.async(fn -> Native.query(reader, "SELECT count(*) FROM t") end)
    # Still waiting for the lock (busy timeout 5 s), not failed.
    assert Task.yield(task, 100) == nil
    :ok = Native.commit(writer)
    assert {:ok, %{rows: [[2]]}} = Task.await(task)
  end

  defp result(rows) do
    %EctoLibSql.Result{command: :select, columns: ["? + 1", "?"], rows: rows, num_rows: length(rows)}
  end

  defp interrupt_running(conn, sql, params) do
    task = Task.async(fn -> Native.query(conn, sql, params) end)
    {result, _latency} = interrupt_until_done(conn, task)
    result
  end
end
