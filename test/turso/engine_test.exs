defmodule EctoLibSql.Turso.EngineTest do
  # The turso engine through the native API: the same calls as libSQL's,
  # MVCC's concurrent transactions, and clear errors for what it lacks.
  use ExUnit.Case, async: true

  import EctoLibSql.TestDB

  alias EctoLibSql.{Native, Result}

  describe "options" do
    test "the turso engine is for local files and memory, and mvcc is the turso engine's" do
      assert_error(Native.open(uri: "http://127.0.0.1:1", engine: :turso), :invalid_option)
      assert_error(Native.open(database: ":memory:", mvcc: true, engine: :libsql), :invalid_option)
      assert_error(Native.open(database: ":memory:", engine: :sqlite), :invalid_option)
      assert_error(Native.open(database: ":memory:", engine: :turso, encryption_key: "k"), :invalid_option)
      assert_error(Native.open(database: ":memory:", engine: :turso, journal_mode: :delete), :invalid_option)
    end
  end

  describe "statements" do
    setup ctx do
      %{conn: open!(database: tmp_db!(ctx), engine: :turso)}
    end

    test "a file opens in WAL mode with the usual pragmas", %{conn: conn} do
      assert rows!(conn, "PRAGMA journal_mode") == [["wal"]]
      assert rows!(conn, "PRAGMA foreign_keys") == [[1]]
    end

    test "values of every type go in and come back out", %{conn: conn} do
      assert rows!(conn, "SELECT ?1, ?2, ?3, ?4, ?5, ?6", [nil, -7, 1.5, "héllo", {:blob, <<0, 255>>}, true]) ==
               [[nil, -7, 1.5, "héllo", <<0, 255>>, 1]]

      assert rows!(conn, "SELECT :a || :b", %{a: "x", b: "y"}) == [["xy"]]
    end

    test "writes, RETURNING, changes and constraint errors", %{conn: conn} do
      {:ok, _} = Native.query(conn, "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL)")

      assert {:ok, %Result{command: :insert, rows: [[1]], num_rows: 1}} =
               Native.query(conn, "INSERT INTO t (name) VALUES (?1) RETURNING id", ["a"])

      assert {:ok, %Result{command: :update, num_rows: 1}} = Native.query(conn, "UPDATE t SET name = 'b'")
      assert_error(Native.query(conn, "INSERT INTO t (name) VALUES ('b')"), :constraint_unique)
      assert_error(Native.query(conn, "INSERT INTO t (name) VALUES (NULL)"), :constraint_not_null)
      assert_error(Native.query(conn, "SELEC 1"), :syntax)
    end

    test "transactions and savepoints", %{conn: conn} do
      {:ok, _} = Native.query(conn, "CREATE TABLE t (a)")
      :ok = Native.begin(conn, :immediate)
      {:ok, _} = Native.query(conn, "INSERT INTO t VALUES (1)")
      :ok = Native.savepoint(conn, "sp")
      {:ok, _} = Native.query(conn, "INSERT INTO t VALUES (2)")
      :ok = Native.rollback_to(conn, "sp")
      :ok = Native.release(conn, "sp")
      :ok = Native.commit(conn)
      assert rows!(conn, "SELECT a FROM t") == [[1]]
      assert_error(Native.commit(conn), :no_transaction)
    end

    test "prepared statements, cursors and batches", %{conn: conn} do
      {:ok, _} = Native.query(conn, "CREATE TABLE t (a INTEGER, b TEXT)")

      {:ok, stmt} = Native.prepare(conn, "INSERT INTO t VALUES (:a, :b)")
      assert Native.stmt_parameter_count(stmt) == {:ok, 2}
      assert Native.stmt_parameter_name(stmt, 1) == {:ok, ":a"}
      for i <- 1..10, do: {:ok, 1} = Native.execute_stmt(stmt, %{a: i, b: "r#{i}"})
      :ok = Native.close_stmt(stmt)

      sql = "SELECT a FROM t ORDER BY a"
      {:ok, %EctoLibSql.Cursor{columns: ["a"]} = cursor} = Native.declare_cursor(conn, sql, [])

      assert {:cont, [[1], [2], [3], [4]]} = Native.fetch(cursor, 4)
      assert {:cont, [[5], [6], [7], [8]]} = Native.fetch(cursor, 4)
      assert {:halt, [[9], [10]]} = Native.fetch(cursor, 4)

      assert {:ok, [%Result{}, %Result{rows: [[11]]}]} =
               Native.batch(conn, "INSERT INTO t VALUES (11, 'x'); SELECT max(a) FROM t;")
    end

    test "a long statement stops at its timeout, or when interrupted", %{conn: conn} do
      started = System.monotonic_time(:millisecond)
      assert_error(Native.query(conn, counting_query(), [], timeout: 300), :timeout)
      assert System.monotonic_time(:millisecond) - started < 2_000
      assert rows!(conn, "SELECT 1") == [[1]]

      task = Task.async(fn -> Native.query(conn, counting_query()) end)
      {result, _ms} = interrupt_until_done(conn, task)
      assert_error(result, :interrupted)
      assert rows!(conn, "SELECT 2") == [[2]]
    end

    test "the foreign key check of a table rebuild counts dangling rows", %{conn: conn} do
      {:ok, _} = Native.query(conn, "CREATE TABLE p (a INTEGER, b INTEGER, PRIMARY KEY (a, b))")
      {:ok, _} = Native.query(conn, "CREATE TABLE c (x INTEGER, y INTEGER, FOREIGN KEY (x, y) REFERENCES p)")
      {:ok, _} = Native.query(conn, "PRAGMA foreign_keys = OFF")
      {:ok, _} = Native.query(conn, "INSERT INTO p VALUES (1, 1)")
      {:ok, _} = Native.query(conn, "INSERT INTO c VALUES (1, 1), (1, 2), (NULL, 2), (3, 3)")
      sql = Ecto.Adapters.LibSql.DDL.foreign_key_violations_sql(~s("main"), "c", "p", [{"x", "a"}, {"y", "b"}])
      assert rows!(conn, IO.iodata_to_binary(sql)) == [[2]]
    end

    test "what only libSQL has is refused with an error naming the engine", %{conn: conn} do
      for result <- [
            Native.authorize(conn, deny: [:writes]),
            Native.load_extension(conn, "/nonexistent")
          ] do
        error = assert_error(result, :unsupported)
        assert error.message =~ "turso engine"
      end

      error = assert_error(Native.begin(conn, :concurrent), :unsupported)
      assert error.message =~ "mvcc: true"
    end
  end

  describe "MVCC" do
    setup ctx do
      path = tmp_db!(ctx)
      a = open!(database: path, engine: :turso, mvcc: true)
      database = Native.database(a)
      {:ok, b} = Native.connect(database, [])
      on_exit(fn -> Native.close(b) end)
      {:ok, _} = Native.query(a, "CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)")
      {:ok, _} = Native.query(a, "INSERT INTO t VALUES (1, 0), (2, 0)")
      %{a: a, b: b, path: path}
    end

    test "the file is in MVCC mode, also when opened again", %{a: a, path: path} do
      assert rows!(a, "PRAGMA journal_mode") == [["mvcc"]]
      again = open!(database: path, engine: :turso, mvcc: true)
      assert rows!(again, "SELECT count(*) FROM t") == [[2]]
    end

    test "concurrent transactions writing different rows both commit", %{a: a, b: b} do
      :ok = Native.begin(a, :concurrent)
      :ok = Native.begin(b, :concurrent)
      {:ok, _} = Native.query(a, "UPDATE t SET v = v + 1 WHERE id = 1")
      {:ok, _} = Native.query(b, "UPDATE t SET v = v + 1 WHERE id = 2")
      :ok = Native.commit(a)
      :ok = Native.commit(b)
      assert rows!(a, "SELECT v FROM t ORDER BY id") == [[1], [1]]
    end

    test "the second writer of a row gets :conflict, and its transaction is over", %{a: a, b: b} do
      :ok = Native.begin(a, :concurrent)
      :ok = Native.begin(b, :concurrent)
      {:ok, _} = Native.query(a, "UPDATE t SET v = v + 1 WHERE id = 1")
      {:ok, _} = Native.query(b, "UPDATE t SET v = v + 100 WHERE id = 2")
      error = assert_error(Native.query(b, "UPDATE t SET v = v + 10 WHERE id = 1"), :conflict)
      assert error.message =~ "run the transaction again"

      # Until it is rolled back, the connection refuses statements: they
      # would run outside the transaction the caller believes is open.
      assert_error(Native.query(b, "UPDATE t SET v = v + 1000 WHERE id = 2"), :conflict)
      :ok = Native.rollback(b)
      :ok = Native.commit(a)

      assert rows!(a, "SELECT v FROM t ORDER BY id") == [[1], [0]]
      assert_error(Native.rollback(b), :no_transaction)
    end
  end
end
