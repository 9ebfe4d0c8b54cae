defmodule EctoLibSql.AuthorizerTest do
  use ExUnit.Case, async: true

  # Needs what the turso engine lacks (ECTO_LIBSQL_ENGINE=turso excludes it).
  @moduletag capability: :authorizer

  import EctoLibSql.TestDB, only: [tmp_db!: 1, open!: 1]

  alias EctoLibSql.{Changes, Native}

  setup ctx do
    path = tmp_db!(ctx)
    conn = open!(database: path)

    for sql <- [
          "CREATE TABLE posts (id INTEGER PRIMARY KEY, title TEXT)",
          "CREATE TABLE api_keys (key TEXT)",
          "INSERT INTO posts (title) VALUES ('a')"
        ] do
      {:ok, _} = Native.query(conn, sql)
    end

    %{conn: conn, path: path}
  end

  defp denied(result) do
    assert {:error, %EctoLibSql.Error{code: :auth, extended_code: 23}} = result
  end

  test "denied actions fail as :auth, allowed ones run; nil lifts the rules", %{conn: conn} do
    # Prepared (and cached) before the rules: checked again after.
    {:ok, _} = Native.query(conn, "SELECT key FROM api_keys")
    :ok = Native.authorize(conn, deny: [:attach, :ddl, :pragma_writes], tables: ["api_keys"])

    denied(Native.query(conn, "SELECT key FROM api_keys"))
    denied(Native.query(conn, "INSERT INTO api_keys VALUES ('k')"))
    denied(Native.query(conn, "ATTACH DATABASE ':memory:' AS other"))
    denied(Native.query(conn, "CREATE TABLE t (x)"))
    denied(Native.query(conn, "DROP TABLE posts"))
    denied(Native.query(conn, "PRAGMA foreign_keys = OFF"))

    assert {:ok, %{rows: [["a"]]}} = Native.query(conn, "SELECT title FROM posts")
    assert {:ok, 1} = Native.execute(conn, "INSERT INTO posts (title) VALUES ('b')")
    assert {:ok, %{rows: [[1]]}} = Native.query(conn, "PRAGMA foreign_keys")

    :ok = Native.authorize(conn, deny: [:writes])
    denied(Native.execute(conn, "UPDATE posts SET title = 'c'"))
    assert {:ok, %{rows: [[2]]}} = Native.query(conn, "SELECT count(*) FROM posts")

    :ok = Native.authorize(conn, nil)
    assert {:ok, 0} = Native.execute(conn, "DELETE FROM api_keys")
  end

  test "bad rules are refused", %{conn: conn} do
    assert {:error, %EctoLibSql.Error{code: :invalid_option}} = Native.authorize(conn, deny: [:everything])
    assert {:error, %EctoLibSql.Error{code: :invalid_option}} = Native.authorize(conn, tabels: ["x"])

    assert {:error, %EctoLibSql.Error{code: :invalid_option}} =
             EctoLibSql.Config.normalize(database: "x", authorizer: :yes)
  end

  test "a pool's authorizer applies to every connection, and change capture still works under it", %{path: path} do
    pool =
      start_supervised!({EctoLibSql, database: path, pool_size: 3, authorizer: [deny: [:ddl], tables: ["api_keys"]]})

    # Change capture creates TEMP objects of its own, which :ddl does not deny.
    {:ok, id} = Changes.subscribe(pool, ["posts"])

    for i <- 1..6 do
      denied(EctoLibSql.query(pool, "SELECT * FROM api_keys"))
      denied(EctoLibSql.query(pool, "CREATE TABLE t (x)"))
      EctoLibSql.query!(pool, "INSERT INTO posts (title) VALUES (?)", ["p#{i}"])
      assert_received {:ecto_libsql_change, ^id, {"posts", :insert, _}}
    end
  end
end
