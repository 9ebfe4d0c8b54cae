defmodule EctoLibSql.RemoteTest do
  # Runs against a real libSQL server when LIBSQL_URL (and optionally
  # LIBSQL_AUTH_TOKEN) is set; test_helper.exs excludes :remote otherwise.
  use ExUnit.Case, async: false

  import EctoLibSql.TestDB
  alias EctoLibSql.{Native, Result}

  @moduletag :remote

  setup do
    url = System.get_env("LIBSQL_URL")
    auth = System.get_env("LIBSQL_AUTH_TOKEN")
    opts = [uri: url] ++ if(auth in [nil, ""], do: [], else: [auth_token: auth])
    table = "ecto_libsql_test_#{System.unique_integer([:positive])}"
    %{opts: opts, table: table}
  end

  defp cleanup(opts, table) do
    ExUnit.Callbacks.on_exit(fn ->
      {:ok, conn} = Native.open(opts)
      Native.execute(conn, "DROP TABLE IF EXISTS #{table}")
      Native.close(conn)
    end)
  end

  test "remote query, execute, transaction and batch", %{opts: opts, table: table} do
    cleanup(opts, table)
    conn = open!(opts)
    {:ok, _} = Native.execute(conn, "CREATE TABLE #{table} (id INTEGER PRIMARY KEY, v TEXT UNIQUE)")
    assert {:ok, 1} = Native.execute(conn, "INSERT INTO #{table} (v) VALUES (?)", ["a"])
    assert {:ok, %Result{rows: [["a"]]}} = Native.query(conn, "SELECT v FROM #{table}")
    assert_error(Native.execute(conn, "INSERT INTO #{table} (v) VALUES (?)", ["a"]), :constraint_unique)

    :ok = Native.begin(conn)
    {:ok, 1} = Native.execute(conn, "INSERT INTO #{table} (v) VALUES ('b')")
    :ok = Native.rollback(conn)
    assert rows!(conn, "SELECT count(*) FROM #{table}") == [[1]]

    assert_error(
      Native.transactional_batch(conn, [
        {"INSERT INTO #{table} (v) VALUES (?)", ["c"]},
        {"INSERT INTO #{table} (v) VALUES (?)", ["c"]}
      ]),
      :constraint_unique
    )

    assert rows!(conn, "SELECT count(*) FROM #{table}") == [[1]]
    assert {:ok, [_, _]} = Native.batch(conn, "INSERT INTO #{table} (v) VALUES ('d'); SELECT 1;")
    assert_error(Native.sync(conn), :unsupported)
  end

  test "an embedded replica writes through, syncs and reads locally", %{opts: opts, table: table} = ctx do
    cleanup(opts, table)
    replica = open!([database: tmp_db!(ctx, "replica.db")] ++ opts)
    {:ok, _} = Native.execute(replica, "CREATE TABLE #{table} (v TEXT)")
    {:ok, 1} = Native.execute(replica, "INSERT INTO #{table} VALUES ('through')")
    assert {:ok, {_frame, _synced}} = Native.sync(replica)
    assert rows!(replica, "SELECT v FROM #{table}") == [["through"]]
    assert {:ok, index} = Native.replication_index(replica)
    assert is_integer(index) and index > 0

    remote = open!(opts)
    assert rows!(remote, "SELECT v FROM #{table}") == [["through"]]
  end

  test "remote named parameters and constraint codes", %{opts: opts, table: table} do
    cleanup(opts, table)
    conn = open!(opts)

    {:ok, _} =
      Native.execute(conn, "CREATE TABLE #{table} (id INTEGER PRIMARY KEY, v TEXT UNIQUE NOT NULL CHECK (v <> 'bad'))")

    assert {:ok, 1} = Native.execute(conn, "INSERT INTO #{table} (v) VALUES (:v)", v: "a")
    assert {:ok, 1} = Native.execute(conn, "INSERT INTO #{table} (v) VALUES (@v)", %{"v" => "b"})
    assert rows!(conn, "SELECT v FROM #{table} WHERE v = $v", v: "b") == [["b"]]
    assert_error(Native.execute(conn, "INSERT INTO #{table} (v) VALUES (?)", [nil]), :constraint_not_null)
    assert_error(Native.execute(conn, "INSERT INTO #{table} (v) VALUES (?)", ["bad"]), :constraint_check)
    assert {:ok, %Result{rows: [[2]]}} = Native.query(conn, "SELECT count(*) FROM #{table}")
  end

  test "an embedded replica writes named parameters through", %{opts: opts, table: table} = ctx do
    cleanup(opts, table)
    replica = open!([database: tmp_db!(ctx, "replica.db")] ++ opts)
    {:ok, _} = Native.execute(replica, "CREATE TABLE #{table} (v TEXT)")
    assert {:ok, 1} = Native.execute(replica, "INSERT INTO #{table} VALUES (:v)", v: "named")
    {:ok, _} = Native.sync(replica)
    assert rows!(replica, "SELECT v FROM #{table} WHERE v = ?", ["named"]) == [["named"]]
  end
end
