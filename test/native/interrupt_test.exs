defmodule EctoLibSql.InterruptTest do
  use ExUnit.Case, async: true

  import EctoLibSql.TestDB
  alias EctoLibSql.Native

  @endless "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"

  test "interrupt stops a running query within 100 ms and the connection works afterwards" do
    conn = open_memory!()
    test_pid = self()

    task =
      Task.async(fn ->
        result = Native.query(conn, @endless)
        send(test_pid, {:finished, System.monotonic_time(:millisecond)})
        result
      end)

    Process.sleep(50)
    refute_received {:finished, _}
    interrupted_at = System.monotonic_time(:millisecond)
    assert Native.interrupt(conn) == :ok
    assert_receive {:finished, finished_at}, 1_000
    assert finished_at - interrupted_at < 100
    assert {:error, %{code: :interrupted}} = Task.await(task)
    assert rows!(conn, "SELECT 1") == [[1]]
  end

  test "interrupt with nothing running does not affect the next query" do
    conn = open_memory!()
    assert Native.interrupt(conn) == :ok
    assert rows!(conn, "SELECT 1") == [[1]]
  end

  test "interrupt on a closed connection is :closed" do
    {:ok, conn} = Native.open(database: ":memory:")
    :ok = Native.close(conn)
    assert_error(Native.interrupt(conn), :closed)
  end
end
