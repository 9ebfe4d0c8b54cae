defmodule EctoLibSql.TransactionTest do
  use ExUnit.Case, async: true

  import EctoLibSql.TestDB
  alias EctoLibSql.Native

  setup ctx do
    conn = open!(database: tmp_db!(ctx))
    {:ok, _} = Native.execute(conn, "CREATE TABLE t (x INTEGER)")
    %{conn: conn}
  end

  for mode <- [:deferred, :immediate, :exclusive] do
    test "begin #{mode} then commit keeps the writes", %{conn: conn} do
      assert Native.transaction_status(conn) == {:ok, :idle}
      assert Native.begin(conn, unquote(mode)) == :ok
      assert Native.transaction_status(conn) == {:ok, :transaction}
      assert Native.autocommit?(conn) == {:ok, false}
      {:ok, 1} = Native.execute(conn, "INSERT INTO t VALUES (1)")
      assert Native.commit(conn) == :ok
      assert Native.transaction_status(conn) == {:ok, :idle}
      assert rows!(conn, "SELECT x FROM t") == [[1]]
    end
  end

  test "begin defaults to deferred and rollback discards writes", %{conn: conn} do
    :ok = Native.begin(conn)
    {:ok, 1} = Native.execute(conn, "INSERT INTO t VALUES (1)")
    assert Native.rollback(conn) == :ok
    assert Native.autocommit?(conn) == {:ok, true}
    assert rows!(conn, "SELECT count(*) FROM t") == [[0]]
  end

  test "begin inside a transaction is an error", %{conn: conn} do
    :ok = Native.begin(conn)
    assert_error(Native.begin(conn, :immediate), :in_transaction)
    assert Native.transaction_status(conn) == {:ok, :transaction}
  end

  test "commit and rollback without a transaction are errors", %{conn: conn} do
    assert_error(Native.commit(conn), :no_transaction)
    assert_error(Native.rollback(conn), :no_transaction)
  end

  test "a writer of this VM waits for an immediate transaction's write gate, in the BEAM, up to its timeout",
       %{conn: conn} do
    other = open!(database: db_path(conn), busy_timeout: 0)
    :ok = Native.begin(conn, :immediate)
    # No :busy even without a busy timeout: it queues for the gate, and its
    # own timeout ends the wait.
    started = System.monotonic_time(:millisecond)
    assert_error(Native.execute(other, "INSERT INTO t VALUES (2)", [], timeout: 300), :timeout)
    assert System.monotonic_time(:millisecond) - started < 1_000

    waiting = Task.async(fn -> Native.execute(other, "INSERT INTO t VALUES (3)") end)
    {:ok, 1} = Native.execute(conn, "INSERT INTO t VALUES (1)")
    :ok = Native.commit(conn)
    assert {:ok, 1} = Task.await(waiting)
    assert rows!(conn, "SELECT x FROM t ORDER BY x") == [[1], [3]]
  end

  test "savepoints roll back and release inside a transaction", %{conn: conn} do
    :ok = Native.begin(conn)
    {:ok, 1} = Native.execute(conn, "INSERT INTO t VALUES (1)")
    assert Native.savepoint(conn, "sp1") == :ok
    {:ok, 1} = Native.execute(conn, "INSERT INTO t VALUES (2)")
    assert Native.rollback_to(conn, "sp1") == :ok
    {:ok, 1} = Native.execute(conn, "INSERT INTO t VALUES (3)")
    assert Native.release(conn, :sp1) == :ok
    :ok = Native.commit(conn)
    assert rows!(conn, "SELECT x FROM t ORDER BY x") == [[1], [3]]
  end

  test "a savepoint outside a transaction opens one, released on release", %{conn: conn} do
    :ok = Native.savepoint(conn, :outer)
    assert Native.transaction_status(conn) == {:ok, :transaction}
    {:ok, 1} = Native.execute(conn, "INSERT INTO t VALUES (1)")
    :ok = Native.release(conn, :outer)
    assert Native.transaction_status(conn) == {:ok, :idle}
    assert rows!(conn, "SELECT count(*) FROM t") == [[1]]
  end

  test "invalid savepoint names are :misuse and run nothing", %{conn: conn} do
    for name <- ["bad name", "1x", "", "x; DROP TABLE t", "a-b", String.duplicate("a", 129)] do
      assert_error(Native.savepoint(conn, name), :misuse)
      assert_error(Native.release(conn, name), :misuse)
      assert_error(Native.rollback_to(conn, name), :misuse)
    end

    assert Native.transaction_status(conn) == {:ok, :idle}
    assert rows!(conn, "SELECT count(*) FROM t") == [[0]]
  end

  test "releasing or rolling back to an unknown savepoint is an error", %{conn: conn} do
    assert_error(Native.release(conn, "nope"), :error)
    assert_error(Native.rollback_to(conn, "nope"), :error)
  end

  defp db_path(conn) do
    {:ok, [[_, "main", path] | _]} = Native.pragma(conn, :database_list)
    path
  end
end
