defmodule EctoLibSql.ConnectionTest do
  use ExUnit.Case, async: true

  import EctoLibSql.TestDB
  alias EctoLibSql.Native

  describe "pragma/2 and pragma/3" do
    test "read and set a pragma" do
      conn = open_memory!()
      assert {:ok, _} = Native.pragma(conn, :cache_size, -8000)
      assert Native.pragma(conn, "cache_size") == {:ok, -8000}
      assert {:ok, [[_, "main", _] | _]} = Native.pragma(conn, :database_list)
    end

    test "an invalid pragma name is :misuse" do
      conn = open_memory!()
      assert_error(Native.pragma(conn, "x; DROP TABLE t"), :misuse)
      assert_error(Native.pragma(conn, "foo bar", 1), :misuse)
      assert_error(Native.pragma(conn, :cache_size, 1.5), :misuse)
      assert_error(Native.pragma(conn, :cache_size, nil), :misuse)
    end
  end

  test "busy_timeout/2 changes the connection's busy timeout" do
    conn = open_memory!()
    assert Native.busy_timeout(conn, 1234) == :ok
    assert Native.pragma(conn, :busy_timeout) == {:ok, 1234}
  end

  test "reset rolls back an open transaction and closes cursors" do
    conn = open_memory!()
    {:ok, _} = Native.execute(conn, "CREATE TABLE t (x)")
    :ok = Native.begin(conn)
    {:ok, 1} = Native.execute(conn, "INSERT INTO t VALUES (1)")
    {:ok, cursor} = Native.declare_cursor(conn, "SELECT 1")
    assert Native.reset(conn) == :ok
    assert Native.transaction_status(conn) == {:ok, :idle}
    assert_error(Native.fetch(cursor, 1), :closed)
    assert rows!(conn, "SELECT count(*) FROM t") == [[0]]
    assert Native.reset(conn) == :ok
  end

  test "changes, total_changes and last_insert_rowid follow writes" do
    conn = open_memory!()
    {:ok, _} = Native.execute(conn, "CREATE TABLE t (id INTEGER PRIMARY KEY, x)")
    {:ok, 1} = Native.execute(conn, "INSERT INTO t (id, x) VALUES (41, 'a')")
    assert Native.last_insert_rowid(conn) == {:ok, 41}
    {:ok, 1} = Native.execute(conn, "INSERT INTO t (x) VALUES ('b')")
    assert Native.last_insert_rowid(conn) == {:ok, 42}
    {:ok, 2} = Native.execute(conn, "UPDATE t SET x = 'c'")
    assert Native.changes(conn) == {:ok, 2}
    assert Native.total_changes(conn) == {:ok, 4}
    assert Native.autocommit?(conn) == {:ok, true}
  end

  test "cache_stats counts hits when a query is reused" do
    conn = open_memory!()
    {:ok, %{hits: hits0}} = Native.cache_stats(conn)
    for _ <- 1..5, do: rows!(conn, "SELECT 1 + ?", [1])
    assert {:ok, %{hits: hits, misses: misses, size: size}} = Native.cache_stats(conn)
    assert hits - hits0 >= 4
    assert misses >= 1 and size >= 1
  end

  test "ping is :ok on an open connection" do
    assert Native.ping(open_memory!()) == :ok
  end

  describe "extensions" do
    test "loading while disabled fails" do
      conn = open_memory!()
      assert {:error, %EctoLibSql.Error{}} = Native.load_extension(conn, "/nonexistent/ext.so")
    end

    @tag capability: :extensions
    test "loading a nonexistent path fails with an error once enabled" do
      conn = open_memory!()
      assert Native.enable_load_extension(conn, true) == :ok
      error = assert_error(Native.load_extension(conn, "/nonexistent/ext.so"), :error)
      assert error.message =~ "nonexistent"
      assert {:error, _} = Native.load_extension(conn, "/nonexistent/ext.so", "entry")
      assert Native.enable_load_extension(conn, false) == :ok
    end
  end

  test "replication calls on a local connection are :unsupported" do
    conn = open_memory!()
    assert_error(Native.sync(conn), :unsupported)
    assert_error(Native.sync_until(conn, 1), :unsupported)
    assert_error(Native.replication_index(conn), :unsupported)
    assert_error(Native.flush_replicator(conn), :unsupported)
    assert_error(Native.max_write_replication_index(conn), :unsupported)
  end

  test "every function on a closed connection is :closed" do
    {:ok, conn} = Native.open(database: ":memory:")
    assert Native.close(conn) == :ok
    assert Native.close(conn) == :ok

    calls = [
      query: fn -> Native.query(conn, "SELECT 1") end,
      execute: fn -> Native.execute(conn, "SELECT 1") end,
      query_one: fn -> Native.query_one(conn, "SELECT 1") end,
      prepare: fn -> Native.prepare(conn, "SELECT 1") end,
      batch: fn -> Native.batch(conn, "SELECT 1") end,
      batch_list: fn -> Native.batch(conn, [{"SELECT 1", []}]) end,
      transactional_batch: fn -> Native.transactional_batch(conn, "SELECT 1") end,
      begin: fn -> Native.begin(conn) end,
      commit: fn -> Native.commit(conn) end,
      rollback: fn -> Native.rollback(conn) end,
      transaction_status: fn -> Native.transaction_status(conn) end,
      autocommit?: fn -> Native.autocommit?(conn) end,
      savepoint: fn -> Native.savepoint(conn, "s") end,
      release: fn -> Native.release(conn, "s") end,
      rollback_to: fn -> Native.rollback_to(conn, "s") end,
      declare_cursor: fn -> Native.declare_cursor(conn, "SELECT 1") end,
      interrupt: fn -> Native.interrupt(conn) end,
      busy_timeout: fn -> Native.busy_timeout(conn, 1) end,
      pragma: fn -> Native.pragma(conn, :cache_size) end,
      pragma3: fn -> Native.pragma(conn, :cache_size, 1) end,
      reset: fn -> Native.reset(conn) end,
      ping: fn -> Native.ping(conn) end,
      changes: fn -> Native.changes(conn) end,
      total_changes: fn -> Native.total_changes(conn) end,
      last_insert_rowid: fn -> Native.last_insert_rowid(conn) end,
      cache_stats: fn -> Native.cache_stats(conn) end,
      enable_load_extension: fn -> Native.enable_load_extension(conn, true) end,
      load_extension: fn -> Native.load_extension(conn, "/x.so") end,
      sync: fn -> Native.sync(conn) end,
      sync_until: fn -> Native.sync_until(conn, 1) end,
      replication_index: fn -> Native.replication_index(conn) end,
      flush_replicator: fn -> Native.flush_replicator(conn) end,
      max_write_replication_index: fn -> Native.max_write_replication_index(conn) end
    ]

    for {name, call} <- calls do
      assert {name, {:error, %EctoLibSql.Error{code: :closed}}} ==
               {name, call.()} |> then(fn {n, r} -> {n, strip(r)} end)
    end
  end

  defp strip({:error, %EctoLibSql.Error{code: code}}), do: {:error, %EctoLibSql.Error{code: code}}
  defp strip(other), do: other
end
