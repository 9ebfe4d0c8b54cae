defmodule EctoLibSql.QueryTest do
  use ExUnit.Case, async: true

  import EctoLibSql.TestDB
  alias EctoLibSql.{Error, Native, Result}

  setup do
    conn = open_memory!()
    {:ok, _} = Native.execute(conn, "CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b)")
    %{conn: conn}
  end

  describe "query/3" do
    test "returns columns, rows, num_rows and the command", %{conn: conn} do
      {:ok, 1} = Native.execute(conn, "INSERT INTO t (a) VALUES ('x')")
      {:ok, 1} = Native.execute(conn, "INSERT INTO t (a) VALUES ('y')")

      assert {:ok, %Result{command: :select, columns: ["id", "a"], rows: [[1, "x"], [2, "y"]], num_rows: 2}} =
               Native.query(conn, "SELECT id, a FROM t ORDER BY id")
    end

    test "an empty result still names its columns", %{conn: conn} do
      assert {:ok, %Result{columns: ["id", "a", "b"], rows: [], num_rows: 0}} = Native.query(conn, "SELECT * FROM t")
    end

    test "a statement without columns returns the rows it changed", %{conn: conn} do
      assert {:ok, %Result{command: :insert, columns: nil, rows: nil, num_rows: 1}} =
               Native.query(conn, "INSERT INTO t (a) VALUES (?)", ["x"])

      assert {:ok, %Result{command: :update, num_rows: 1}} = Native.query(conn, "UPDATE t SET a = 'z'")
      assert {:ok, %Result{command: :delete, num_rows: 1}} = Native.query(conn, "DELETE FROM t")
    end

    test "RETURNING gives rows from a write", %{conn: conn} do
      assert {:ok, %Result{columns: ["id"], rows: [[1]]}} =
               Native.query(conn, "INSERT INTO t (a) VALUES ('r') RETURNING id")
    end

    test "accepts iodata SQL", %{conn: conn} do
      assert {:ok, %Result{rows: [[3]]}} = Native.query(conn, ["SELECT ", "1 + ", ?2])
    end

    test "a syntax error is :syntax", %{conn: conn} do
      error = assert_error(Native.query(conn, "SELEC 1"), :syntax)
      assert error.extended_code == 1
      assert_error(Native.query(conn, "SELECT (1"), :syntax)
    end

    test "a missing table is :error with its message", %{conn: conn} do
      error = assert_error(Native.query(conn, "SELECT * FROM nope"), :error)
      assert error.message =~ "no such table"
    end

    test "too many or too few positional parameters are :misuse", %{conn: conn} do
      assert_error(Native.query(conn, "SELECT ?", [1, 2]), :misuse)
      assert_error(Native.query(conn, "SELECT ?, ?", [1]), :misuse)
      assert_error(Native.query(conn, "SELECT ?"), :misuse)
      assert_error(Native.query(conn, "SELECT 1", [1]), :misuse)
    end

    for {label, value} <- [
          {"an atom", :foo},
          {"a bignum (2^70)", Integer.pow(2, 70)},
          {"a negative bignum", -Integer.pow(2, 64)},
          {"a tuple", {1, 2}},
          {"a blob tuple without a binary", {:blob, 1}},
          {"a non-UTF-8 binary", <<255, 254>>},
          {"text with a NUL byte (libSQL would read it back cut short)", "a\0b"},
          {"a map", %{a: 1}},
          {"a nested list", [1]},
          {"a bitstring", <<1::3>>}
        ] do
      test "binding #{label} is :misuse", %{conn: conn} do
        assert_error(Native.query(conn, "SELECT ?", [unquote(Macro.escape(value))]), :misuse)
      end
    end

    test "binding a pid, a reference or a function is :misuse", %{conn: conn} do
      for value <- [self(), make_ref(), fn -> :ok end] do
        assert_error(Native.query(conn, "SELECT ?", [value]), :misuse)
      end
    end

    test "parameters that are neither a list nor a map are :misuse", %{conn: conn} do
      assert_error(Native.query(conn, "SELECT ?", 1), :misuse)
      assert_error(Native.query(conn, "SELECT ?", "x"), :misuse)
    end

    @tag capability: :non_utf8_text
    test "reading TEXT that is not UTF-8 is an error, not a crash", %{conn: conn} do
      error = assert_error(Native.query(conn, "SELECT CAST(x'ff' AS TEXT)"), :mismatch)
      assert error.message =~ "UTF-8"
      assert rows!(conn, "SELECT CAST(CAST(x'ff' AS TEXT) AS BLOB)") == [[<<255>>]]
    end

    test "the connection keeps working after errors", %{conn: conn} do
      assert_error(Native.query(conn, "SELEC 1"), :syntax)
      assert_error(Native.query(conn, "SELECT ?", [:bad]), :misuse)
      assert rows!(conn, "SELECT 1") == [[1]]
    end
  end

  describe "named parameters" do
    test "a map binds :name, @name and $name", %{conn: conn} do
      assert rows!(conn, "SELECT :a, @b, $c", %{a: 1, b: 2, c: 3}) == [[1, 2, 3]]
    end

    test "a keyword list binds named parameters", %{conn: conn} do
      assert rows!(conn, "SELECT :a, @b, $c", c: 3, a: 1, b: 2) == [[1, 2, 3]]
    end

    test "string keys may carry their prefix or not", %{conn: conn} do
      assert rows!(conn, "SELECT :a, @b, $c", %{":a" => 1, "@b" => 2, "c" => 3}) == [[1, 2, 3]]
    end

    test "a name used twice in the SQL binds once", %{conn: conn} do
      assert rows!(conn, "SELECT :x + :x", %{x: 21}) == [[42]]
    end

    test "a missing or unknown name is :misuse", %{conn: conn} do
      assert_error(Native.query(conn, "SELECT :a, :b", %{a: 1}), :misuse)
      assert_error(Native.query(conn, "SELECT :a", %{a: 1, z: 2}), :misuse)
    end

    test "naming a positional ? is :misuse", %{conn: conn} do
      assert_error(Native.query(conn, "SELECT ?", %{a: 1}), :misuse)
    end

    test "a non-atom, non-string key is :misuse", %{conn: conn} do
      assert_error(Native.query(conn, "SELECT :a", %{1 => 1}), :misuse)
    end

    test "named inserts land in the right columns", %{conn: conn} do
      {:ok, 1} = Native.execute(conn, "INSERT INTO t (a, b) VALUES (@a, $b)", b: 2, a: "one")
      assert rows!(conn, "SELECT a, b FROM t") == [["one", 2]]
    end
  end

  describe "value round trips" do
    @max_i64 9_223_372_036_854_775_807
    @min_i64 -9_223_372_036_854_775_808

    for {label, value, expected} <- [
          {"nil", nil, nil},
          {"zero", 0, 0},
          {"max i64", 9_223_372_036_854_775_807, 9_223_372_036_854_775_807},
          {"min i64", -9_223_372_036_854_775_808, -9_223_372_036_854_775_808},
          {"a float", 3.25, 3.25},
          {"a negative float", -1.0e-300, -1.0e-300},
          {"true", true, 1},
          {"false", false, 0},
          {"empty text", "", ""},
          {"unicode text", "héllo wörld ✓ 日本語 🎉", "héllo wörld ✓ 日本語 🎉"},
          {"a zero byte blob", {:blob, <<0>>}, <<0>>},
          {"an empty blob", {:blob, <<>>}, <<>>},
          {"a non-UTF-8 blob", {:blob, <<255, 0, 254>>}, <<255, 0, 254>>}
        ] do
      test "#{label} survives insert and select", %{conn: conn} do
        {:ok, 1} = Native.execute(conn, "INSERT INTO t (b) VALUES (?)", [unquote(Macro.escape(value))])
        assert rows!(conn, "SELECT b FROM t") == [[unquote(Macro.escape(expected))]]
      end
    end

    test "values come back with their storage class", %{conn: conn} do
      {:ok, 1} = Native.execute(conn, "INSERT INTO t (b) VALUES (?)", [@max_i64])
      {:ok, 1} = Native.execute(conn, "INSERT INTO t (b) VALUES (?)", [@min_i64])
      {:ok, 1} = Native.execute(conn, "INSERT INTO t (b) VALUES (?)", [{:blob, "text-looking"}])

      assert rows!(conn, "SELECT typeof(b) FROM t ORDER BY id") == [["integer"], ["integer"], ["blob"]]
    end
  end

  describe "execute/3" do
    test "returns the number of rows changed", %{conn: conn} do
      for a <- ~w(a b c), do: {:ok, 1} = Native.execute(conn, "INSERT INTO t (a) VALUES (?)", [a])
      assert Native.execute(conn, "UPDATE t SET b = 1") == {:ok, 3}
      assert Native.execute(conn, "DELETE FROM t WHERE a = ?", ["a"]) == {:ok, 1}
    end

    test "fails like query/3", %{conn: conn} do
      assert_error(Native.execute(conn, "INSERT INTO nope VALUES (1)"), :error)
      assert_error(Native.execute(conn, "INSERT INTO t (a) VALUES (?)", []), :misuse)
    end
  end

  describe "query_one/3" do
    test "returns the only row", %{conn: conn} do
      assert Native.query_one(conn, "SELECT 1, 'a'") == {:ok, [1, "a"]}
    end

    test "no row is :not_found", %{conn: conn} do
      assert_error(Native.query_one(conn, "SELECT * FROM t"), :not_found)
    end

    test "several rows are :too_many_rows", %{conn: conn} do
      assert_error(Native.query_one(conn, "SELECT 1 UNION ALL SELECT 2"), :too_many_rows)
    end

    test "a statement without rows is :not_found", %{conn: conn} do
      assert_error(Native.query_one(conn, "INSERT INTO t (a) VALUES ('x')"), :not_found)
    end

    test "an SQL error passes through", %{conn: conn} do
      assert_error(Native.query_one(conn, "SELEC 1"), :syntax)
    end
  end

  describe "constraint errors" do
    setup %{conn: conn} do
      {:ok, _} =
        Native.batch(conn, """
        CREATE TABLE parent (id INTEGER PRIMARY KEY);
        CREATE TABLE child (
          id INTEGER PRIMARY KEY,
          email TEXT UNIQUE,
          name TEXT NOT NULL DEFAULT 'n',
          age INTEGER CHECK (age >= 0),
          parent_id INTEGER REFERENCES parent(id)
        );
        """)

      :ok
    end

    test "a unique violation is :constraint_unique with extended code 2067", %{conn: conn} do
      {:ok, 1} = Native.execute(conn, "INSERT INTO child (email) VALUES ('a@b')")
      error = assert_error(Native.execute(conn, "INSERT INTO child (email) VALUES ('a@b')"), :constraint_unique)
      assert error.extended_code == 2067
      assert error.message =~ "child.email"
    end

    @tag capability: :constraint_codes
    test "a primary key violation is :constraint_primary_key", %{conn: conn} do
      {:ok, 1} = Native.execute(conn, "INSERT INTO parent (id) VALUES (1)")
      error = assert_error(Native.execute(conn, "INSERT INTO parent (id) VALUES (1)"), :constraint_primary_key)
      assert error.extended_code == 1555
    end

    test "a NOT NULL violation is :constraint_not_null", %{conn: conn} do
      error = assert_error(Native.execute(conn, "INSERT INTO child (name) VALUES (NULL)"), :constraint_not_null)
      assert error.extended_code == 1299
    end

    test "a CHECK violation is :constraint_check", %{conn: conn} do
      error = assert_error(Native.execute(conn, "INSERT INTO child (age) VALUES (-1)"), :constraint_check)
      assert error.extended_code == 275
    end

    test "a foreign key violation is :constraint_foreign_key", %{conn: conn} do
      error = assert_error(Native.execute(conn, "INSERT INTO child (parent_id) VALUES (99)"), :constraint_foreign_key)
      assert error.extended_code == 787
    end

    test "errors are exceptions with a readable message", %{conn: conn} do
      {:error, error} = Native.execute(conn, "INSERT INTO child (age) VALUES (-1)")
      assert %Error{} = error
      assert Exception.message(error) =~ "constraint_check"
    end
  end

  test "SQL that is not valid UTF-8 is a :misuse error on every entry point" do
    conn = open_memory!()
    bad = "SELECT '" <> <<0xFF, 0xFE>> <> "'"
    assert_error(Native.query(conn, bad), :misuse)
    assert_error(Native.execute(conn, bad), :misuse)
    assert_error(Native.prepare(conn, bad), :misuse)
    assert_error(Native.declare_cursor(conn, bad), :misuse)
    assert_error(Native.batch(conn, bad), :misuse)
    assert_error(Native.batch(conn, [{bad, []}]), :misuse)
    # The connection is unharmed.
    assert rows!(conn, "SELECT 1") == [[1]]
  end

  @tag capability: :constraint_codes
  test "a failed foreign key is named, on insert, update and delete, and nothing of the probe stays" do
    conn = open_memory!()

    {:ok, _} =
      Native.batch(conn, """
      CREATE TABLE users (id INTEGER PRIMARY KEY);
      CREATE TABLE posts (id INTEGER PRIMARY KEY, title TEXT,
        author_id INTEGER REFERENCES users(id), editor_id INTEGER REFERENCES users(id));
      INSERT INTO users VALUES (1), (2);
      INSERT INTO posts VALUES (1, 'a', 1, 2);
      """)

    insert = Native.execute(conn, "INSERT INTO posts (title, author_id, editor_id) VALUES ('b', 1, ?)", [9])
    assert %{constraint: "posts_editor_id_fkey", extended_code: 787} = assert_error(insert, :constraint_foreign_key)

    update = Native.execute(conn, "UPDATE posts SET author_id = ? WHERE id = 1", [9])
    assert %{constraint: "posts_author_id_fkey"} = assert_error(update, :constraint_foreign_key)

    delete = Native.execute(conn, "DELETE FROM users WHERE id = ?", [2])
    assert %{constraint: "posts_editor_id_fkey"} = assert_error(delete, :constraint_foreign_key)

    assert rows!(conn, "SELECT id, author_id, editor_id FROM posts") == [[1, 1, 2]]
    assert rows!(conn, "SELECT count(*) FROM users") == [[2]]
    assert rows!(conn, "PRAGMA defer_foreign_keys") == [[0]]
    assert {:ok, true} = Native.autocommit?(conn)
  end

  test "a bit string that is not whole bytes is refused, saying why" do
    conn = open_memory!()
    error = assert_error(Native.query(conn, "SELECT ?", [<<42::6>>]), :misuse)
    assert error.message =~ "whole bytes"
  end
end
