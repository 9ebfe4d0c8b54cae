defmodule EctoLibSql.ConcurrencyTest do
  use ExUnit.Case, async: false

  import EctoLibSql.TestDB
  alias EctoLibSql.Native

  @processes 50
  @rows_each 40

  test "each reply arrives once, whether the call got it back at once or by message" do
    conn = open_memory!()
    {:ok, _} = Native.execute(conn, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    {:ok, _} = Native.execute(conn, "INSERT INTO t SELECT value, 'v' || value FROM generate_series(1, 100)")
    # A statement of some milliseconds: its reply always comes by message.
    slow = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ?) SELECT max(x) FROM c"

    for i <- 1..500 do
      id = rem(i, 100) + 1
      assert {:ok, [["v" <> text]]} = rows(Native.query(conn, "SELECT v FROM t WHERE id = ?", [id]))
      assert text == Integer.to_string(id)
      assert {:ok, [[n]]} = rows(Native.query(conn, slow, [2_000 + i]))
      assert n == 2_000 + i
    end

    refute_received _
  end

  defp rows({:ok, %{rows: rows}}), do: {:ok, rows}
  defp rows(other), do: other

  test "50 processes share one connection handle for inserts and selects" do
    conn = open_memory!()
    {:ok, _} = Native.execute(conn, "CREATE TABLE t (worker INTEGER, n INTEGER)")

    results =
      1..@processes
      |> Enum.map(fn worker ->
        Task.async(fn ->
          for n <- 1..@rows_each do
            {:ok, 1} = Native.execute(conn, "INSERT INTO t VALUES (?, ?)", [worker, n])
            {:ok, [count]} = Native.query_one(conn, "SELECT count(*) FROM t WHERE worker = ?", [worker])
            # This worker's own rows are all visible to it, in order.
            count == n
          end
        end)
      end)
      |> Task.await_many(60_000)

    assert Enum.all?(List.flatten(results))
    assert rows!(conn, "SELECT count(*), count(DISTINCT worker) FROM t") == [[@processes * @rows_each, @processes]]

    assert rows!(conn, "SELECT min(c), max(c) FROM (SELECT count(*) AS c FROM t GROUP BY worker)") == [
             [@rows_each, @rows_each]
           ]
  end

  test "50 processes with their own connections write to one WAL file without busy errors", ctx do
    path = tmp_db!(ctx)
    setup_conn = open!(database: path)
    {:ok, _} = Native.execute(setup_conn, "CREATE TABLE t (worker INTEGER, n INTEGER)")

    results =
      1..@processes
      |> Enum.map(fn worker ->
        Task.async(fn ->
          {:ok, conn} = Native.open(database: path, busy_timeout: 30_000)

          try do
            for n <- 1..10 do
              case Native.execute(conn, "INSERT INTO t VALUES (?, ?)", [worker, n]) do
                {:ok, 1} -> :ok
                other -> other
              end
            end
          after
            Native.close(conn)
          end
        end)
      end)
      |> Task.await_many(120_000)

    assert Enum.reject(List.flatten(results), &(&1 == :ok)) == []
    assert Native.pragma(setup_conn, :journal_mode) == {:ok, "wal"}
    assert rows!(setup_conn, "SELECT count(*) FROM t") == [[@processes * 10]]
  end
end
