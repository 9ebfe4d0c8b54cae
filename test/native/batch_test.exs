defmodule EctoLibSql.BatchTest do
  use ExUnit.Case, async: true

  import EctoLibSql.TestDB
  alias EctoLibSql.{Native, Result}

  setup do
    conn = open_memory!()
    {:ok, _} = Native.execute(conn, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT UNIQUE)")
    %{conn: conn}
  end

  describe "batch/2" do
    test "runs a string of statements and returns one result each", %{conn: conn} do
      assert {:ok, [_insert1, _insert2, %Result{columns: ["v"], rows: [["a"], ["b"]]}]} =
               Native.batch(
                 conn,
                 "INSERT INTO t (v) VALUES ('a'); INSERT INTO t (v) VALUES ('b'); SELECT v FROM t ORDER BY v;"
               )
    end

    test "runs a list of {sql, params}", %{conn: conn} do
      assert {:ok, [%Result{num_rows: 1}, %Result{num_rows: 1}, %Result{rows: [[2]]}]} =
               Native.batch(conn, [
                 {"INSERT INTO t (v) VALUES (?)", ["a"]},
                 {"INSERT INTO t (v) VALUES (:v)", %{v: "b"}},
                 {"SELECT count(*) FROM t", []}
               ])
    end

    test "without a transaction, statements before a failure stay applied", %{conn: conn} do
      assert_error(
        Native.batch(conn, [{"INSERT INTO t (v) VALUES (?)", ["a"]}, {"INSERT INTO t (v) VALUES (?)", ["a"]}]),
        :constraint_unique
      )

      assert rows!(conn, "SELECT v FROM t") == [["a"]]
    end

    test "a string batch with bad SQL fails", %{conn: conn} do
      assert {:error, %{code: code}} = Native.batch(conn, "INSERT INTO t (v) VALUES ('a'); SELEC 1;")
      assert code in [:syntax, :error]
    end

    test "bad parameters in a list batch are :misuse", %{conn: conn} do
      assert_error(Native.batch(conn, [{"INSERT INTO t (v) VALUES (?)", [:bad]}]), :misuse)
      assert_error(Native.batch(conn, [{"INSERT INTO t (v) VALUES (?)", 5}]), :misuse)
      assert rows!(conn, "SELECT count(*) FROM t") == [[0]]
    end
  end

  describe "transactional_batch/2" do
    test "applies every statement of a string", %{conn: conn} do
      assert {:ok, [_, _]} =
               Native.transactional_batch(conn, "INSERT INTO t (v) VALUES ('a'); INSERT INTO t (v) VALUES ('b');")

      assert rows!(conn, "SELECT count(*) FROM t") == [[2]]
      assert Native.transaction_status(conn) == {:ok, :idle}
    end

    test "a failure in a string batch leaves no rows", %{conn: conn} do
      assert {:error, _} =
               Native.transactional_batch(conn, "INSERT INTO t (v) VALUES ('a'); INSERT INTO t (v) VALUES ('a');")

      assert rows!(conn, "SELECT count(*) FROM t") == [[0]]
      assert Native.transaction_status(conn) == {:ok, :idle}
    end

    test "a failure in a list batch leaves no rows and reports the failure", %{conn: conn} do
      assert_error(
        Native.transactional_batch(conn, [
          {"INSERT INTO t (v) VALUES (?)", ["a"]},
          {"INSERT INTO t (v) VALUES (?)", ["b"]},
          {"INSERT INTO t (v) VALUES (?)", ["a"]}
        ]),
        :constraint_unique
      )

      assert rows!(conn, "SELECT count(*) FROM t") == [[0]]
      assert Native.transaction_status(conn) == {:ok, :idle}
    end

    test "a list batch applies all statements", %{conn: conn} do
      assert {:ok, [_, _]} =
               Native.transactional_batch(conn, [
                 {"INSERT INTO t (v) VALUES (?)", ["a"]},
                 {"INSERT INTO t (v) VALUES (?)", ["b"]}
               ])

      assert rows!(conn, "SELECT v FROM t ORDER BY v") == [["a"], ["b"]]
    end

    test "inside an open transaction a failed batch undoes only itself", %{conn: conn} do
      :ok = Native.begin(conn)
      {:ok, 1} = Native.execute(conn, "INSERT INTO t (v) VALUES ('before')")

      assert_error(
        Native.transactional_batch(conn, [
          {"INSERT INTO t (v) VALUES (?)", ["x"]},
          {"INSERT INTO t (v) VALUES (?)", ["x"]}
        ]),
        :constraint_unique
      )

      assert Native.transaction_status(conn) == {:ok, :transaction}
      assert {:ok, [_]} = Native.transactional_batch(conn, [{"INSERT INTO t (v) VALUES (?)", ["y"]}])
      assert Native.transaction_status(conn) == {:ok, :transaction}
      :ok = Native.commit(conn)
      assert rows!(conn, "SELECT v FROM t ORDER BY v") == [["before"], ["y"]]
    end

    test "a string batch nests inside an open transaction", %{conn: conn} do
      :ok = Native.begin(conn)

      assert {:error, _} =
               Native.transactional_batch(conn, "INSERT INTO t (v) VALUES ('x'); INSERT INTO t (v) VALUES ('x');")

      assert {:ok, [_]} = Native.transactional_batch(conn, "INSERT INTO t (v) VALUES ('y');")
      assert Native.transaction_status(conn) == {:ok, :transaction}
      :ok = Native.commit(conn)
      assert rows!(conn, "SELECT v FROM t") == [["y"]]
    end

    test "inside an open transaction a batch is undone by the outer rollback", %{conn: conn} do
      :ok = Native.begin(conn)
      assert {:ok, [_]} = Native.transactional_batch(conn, [{"INSERT INTO t (v) VALUES (?)", ["y"]}])
      :ok = Native.rollback(conn)
      assert rows!(conn, "SELECT count(*) FROM t") == [[0]]
    end
  end
end
