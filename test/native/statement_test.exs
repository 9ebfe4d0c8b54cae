defmodule EctoLibSql.StatementTest do
  use ExUnit.Case, async: true

  import EctoLibSql.TestDB
  alias EctoLibSql.{Native, Result}

  setup do
    conn = open_memory!()
    {:ok, _} = Native.execute(conn, "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL, score REAL)")
    %{conn: conn}
  end

  test "a prepared statement runs with query_stmt and execute_stmt", %{conn: conn} do
    {:ok, insert} = Native.prepare(conn, "INSERT INTO t (name, score) VALUES (?, ?)")
    assert Native.execute_stmt(insert, ["a", 1.5]) == {:ok, 1}

    {:ok, select} = Native.prepare(conn, "SELECT name, score FROM t WHERE name = ?")
    assert {:ok, %Result{columns: ["name", "score"], rows: [["a", 1.5]]}} = Native.query_stmt(select, ["a"])
  end

  test "a statement reused many times rebinds its parameters each time", %{conn: conn} do
    {:ok, insert} = Native.prepare(conn, "INSERT INTO t (id, name) VALUES (?, ?)")
    for i <- 1..500, do: {:ok, 1} = Native.execute_stmt(insert, [i, "n#{i}"])

    {:ok, select} = Native.prepare(conn, "SELECT name FROM t WHERE id = ?")

    for i <- [1, 250, 500, 7] do
      assert {:ok, %Result{rows: [[name]]}} = Native.query_stmt(select, [i])
      assert name == "n#{i}"
    end

    assert {:ok, %Result{rows: []}} = Native.query_stmt(select, [501])
  end

  test "prepared statements take named parameters", %{conn: conn} do
    {:ok, stmt} = Native.prepare(conn, "SELECT :a + @b")
    assert {:ok, %Result{rows: [[3]]}} = Native.query_stmt(stmt, a: 1, b: 2)
    assert {:ok, %Result{rows: [[30]]}} = Native.query_stmt(stmt, %{"a" => 10, "@b" => 20})
  end

  test "stmt_columns gives names and declared types", %{conn: conn} do
    {:ok, stmt} = Native.prepare(conn, "SELECT id, name, score, 1 + 1 AS two FROM t")

    assert Native.stmt_columns(stmt) ==
             {:ok, [{"id", "INTEGER"}, {"name", "TEXT"}, {"score", "REAL"}, {"two", nil}]}
  end

  test "a statement without result columns has none", %{conn: conn} do
    {:ok, stmt} = Native.prepare(conn, "DELETE FROM t")
    assert Native.stmt_columns(stmt) == {:ok, []}
  end

  test "stmt_parameter_count and stmt_parameter_name describe the placeholders", %{conn: conn} do
    {:ok, stmt} = Native.prepare(conn, "SELECT ?, :a, @b, $c, ?7")
    assert Native.stmt_parameter_count(stmt) == {:ok, 7}
    assert Native.stmt_parameter_name(stmt, 1) == {:ok, nil}
    assert Native.stmt_parameter_name(stmt, 2) == {:ok, ":a"}
    assert Native.stmt_parameter_name(stmt, 3) == {:ok, "@b"}
    assert Native.stmt_parameter_name(stmt, 4) == {:ok, "$c"}
    assert Native.stmt_parameter_name(stmt, 7) == {:ok, "?7"}

    {:ok, none} = Native.prepare(conn, "SELECT 1")
    assert Native.stmt_parameter_count(none) == {:ok, 0}
  end

  test "a parameter index out of range is :misuse", %{conn: conn} do
    {:ok, stmt} = Native.prepare(conn, "SELECT ?")
    assert_error(Native.stmt_parameter_name(stmt, 0), :misuse)
    assert_error(Native.stmt_parameter_name(stmt, 2), :misuse)
    assert_error(Native.stmt_parameter_name(stmt, -1), :misuse)
  end

  test "preparing bad SQL fails", %{conn: conn} do
    assert_error(Native.prepare(conn, "SELEC 1"), :syntax)
    assert_error(Native.prepare(conn, "SELECT * FROM nope"), :error)
  end

  test "bad parameters to a statement are :misuse and leave it usable", %{conn: conn} do
    {:ok, stmt} = Native.prepare(conn, "SELECT ?")
    assert_error(Native.query_stmt(stmt, []), :misuse)
    assert_error(Native.query_stmt(stmt, [:atom]), :misuse)
    assert_error(Native.execute_stmt(stmt, [1, 2]), :misuse)
    assert {:ok, %Result{rows: [[1]]}} = Native.query_stmt(stmt, [1])
  end

  @tag capability: :constraint_codes
  test "a failing execution reports the SQLite error and the statement still works", %{conn: conn} do
    {:ok, stmt} = Native.prepare(conn, "INSERT INTO t (id, name) VALUES (?, ?)")
    {:ok, 1} = Native.execute_stmt(stmt, [1, "a"])
    assert_error(Native.execute_stmt(stmt, [1, "b"]), :constraint_primary_key)
    assert_error(Native.execute_stmt(stmt, [2, nil]), :constraint_not_null)
    assert Native.execute_stmt(stmt, [2, "b"]) == {:ok, 1}
  end

  test "every call on a closed statement is :closed", %{conn: conn} do
    {:ok, stmt} = Native.prepare(conn, "SELECT ?")
    assert Native.close_stmt(stmt) == :ok
    assert_error(Native.query_stmt(stmt, [1]), :closed)
    assert_error(Native.execute_stmt(stmt, [1]), :closed)
    assert_error(Native.stmt_columns(stmt), :closed)
    assert_error(Native.stmt_parameter_count(stmt), :closed)
    assert_error(Native.stmt_parameter_name(stmt, 1), :closed)
    assert_error(Native.close_stmt(stmt), :closed)
  end

  test "a statement used after its connection closed is :closed" do
    {:ok, conn} = Native.open(database: ":memory:")
    {:ok, stmt} = Native.prepare(conn, "SELECT 1")
    :ok = Native.close(conn)
    assert_error(Native.query_stmt(stmt), :closed)
    assert_error(Native.execute_stmt(stmt), :closed)
    assert_error(Native.stmt_columns(stmt), :closed)
    assert_error(Native.close_stmt(stmt), :closed)
  end

  test "explicit statements are counted and released", %{conn: conn} do
    {:ok, a} = Native.prepare(conn, "SELECT 1")
    {:ok, b} = Native.prepare(conn, "SELECT 2")
    assert {:ok, %{statements: 2}} = Native.cache_stats(conn)
    :ok = Native.close_stmt(a)
    :ok = Native.close_stmt(b)
    assert {:ok, %{statements: 0}} = Native.cache_stats(conn)
  end

  test "a statement sees rows written after it was prepared", %{conn: conn} do
    {:ok, count} = Native.prepare(conn, "SELECT count(*) FROM t")
    assert {:ok, %Result{rows: [[0]]}} = Native.query_stmt(count)
    {:ok, 1} = Native.execute(conn, "INSERT INTO t (name) VALUES ('x')")
    assert {:ok, %Result{rows: [[1]]}} = Native.query_stmt(count)
  end
end
