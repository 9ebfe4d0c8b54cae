defmodule EctoLibSql.InterruptTest do
  use ExUnit.Case, async: true

  import EctoLibSql.TestDB
  alias EctoLibSql.Native

  test "interrupt stops a running query within 100 ms and the connection works afterwards" do
    conn = open_memory!()
    task = Task.async(fn -> Native.query(conn, counting_query()) end)
    {result, latency_ms} = interrupt_until_done(conn, task)
    assert {:error, %{code: :interrupted}} = result
    assert latency_ms < 100
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
