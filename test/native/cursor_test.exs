defmodule EctoLibSql.CursorTest do
  use ExUnit.Case, async: true

  import EctoLibSql.TestDB
  alias EctoLibSql.{Cursor, Native}

  setup do
    conn = open_memory!()
    {:ok, _} = Native.execute(conn, "CREATE TABLE t (x INTEGER)")
    for i <- 1..5, do: {:ok, 1} = Native.execute(conn, "INSERT INTO t VALUES (?)", [i])
    %{conn: conn}
  end

  test "fetch returns {:cont, rows} then {:halt, rows}", %{conn: conn} do
    {:ok, %Cursor{columns: ["x"]} = cursor} = Native.declare_cursor(conn, "SELECT x FROM t ORDER BY x")
    assert Native.fetch(cursor, 2) == {:cont, [[1], [2]]}
    assert Native.fetch(cursor, 2) == {:cont, [[3], [4]]}
    assert Native.fetch(cursor, 2) == {:halt, [[5]]}
  end

  test "a cursor with parameters and an empty result halts at once", %{conn: conn} do
    {:ok, cursor} = Native.declare_cursor(conn, "SELECT x FROM t WHERE x > ?", [100])
    assert Native.fetch(cursor, 10) == {:halt, []}
  end

  test "a cursor is closed after halt", %{conn: conn} do
    {:ok, cursor} = Native.declare_cursor(conn, "SELECT x FROM t")
    assert {:halt, _} = Native.fetch(cursor, 100)
    assert_error(Native.fetch(cursor, 1), :closed)
  end

  test "close_cursor closes it early", %{conn: conn} do
    {:ok, cursor} = Native.declare_cursor(conn, "SELECT x FROM t")
    assert {:cont, [_]} = Native.fetch(cursor, 1)
    assert {:ok, %{cursors: 1}} = Native.cache_stats(conn)
    assert Native.close_cursor(cursor) == :ok
    assert {:ok, %{cursors: 0}} = Native.cache_stats(conn)
    assert_error(Native.fetch(cursor, 1), :closed)
  end

  test "a cursor fetched by another process is :misuse", %{conn: conn} do
    {:ok, cursor} = Native.declare_cursor(conn, "SELECT x FROM t ORDER BY x")
    assert_error(Task.await(Task.async(fn -> Native.fetch(cursor, 1) end)), :misuse)
    assert Native.fetch(cursor, 1) == {:cont, [[1]]}
  end

  test "max_rows must be positive", %{conn: conn} do
    {:ok, cursor} = Native.declare_cursor(conn, "SELECT x FROM t")
    assert_error(Native.fetch(cursor, 0), :misuse)
    assert_error(Native.fetch(cursor, -1), :misuse)
  end

  test "declaring a cursor on bad SQL or parameters fails", %{conn: conn} do
    assert_error(Native.declare_cursor(conn, "SELEC x"), :syntax)
    assert_error(Native.declare_cursor(conn, "SELECT ?", [:bad]), :misuse)
    assert_error(Native.declare_cursor(conn, "SELECT ?", []), :misuse)
  end

  test "other queries run on the connection while a cursor is open", %{conn: conn} do
    {:ok, cursor} = Native.declare_cursor(conn, "SELECT x FROM t ORDER BY x")
    assert {:cont, [[1]]} = Native.fetch(cursor, 1)
    assert rows!(conn, "SELECT count(*) FROM t") == [[5]]
    assert {:cont, [[2]]} = Native.fetch(cursor, 1)
  end

  test "a cursor on a closed connection is :closed" do
    {:ok, conn} = Native.open(database: ":memory:")
    {:ok, cursor} = Native.declare_cursor(conn, "SELECT 1")
    :ok = Native.close(conn)
    assert_error(Native.fetch(cursor, 1), :closed)
    assert_error(Native.close_cursor(cursor), :closed)
    assert_error(Native.declare_cursor(conn, "SELECT 1"), :closed)
  end

  test "a cursor streams 100k rows in chunks", %{conn: conn} do
    {:ok, cursor} =
      Native.declare_cursor(
        conn,
        "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 100000) SELECT n FROM c"
      )

    {count, sum, chunks} = drain(cursor, 0, 0, 0)
    assert count == 100_000
    assert sum == div(100_000 * 100_001, 2)
    assert chunks == 100
  end

  defp drain(cursor, count, sum, chunks) do
    case Native.fetch(cursor, 1000) do
      {:cont, rows} -> drain(cursor, count + length(rows), sum + sum_rows(rows), chunks + 1)
      {:halt, rows} -> {count + length(rows), sum + sum_rows(rows), chunks + if(rows == [], do: 0, else: 1)}
    end
  end

  defp sum_rows(rows), do: Enum.reduce(rows, 0, fn [n], acc -> acc + n end)
end
