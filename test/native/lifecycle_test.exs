defmodule EctoLibSql.LifecycleTest do
  use ExUnit.Case, async: false

  import EctoLibSql.TestDB
  alias EctoLibSql.Native

  @moduletag timeout: 300_000
  # Generous: the point is to catch leaks that grow with the cycle count
  # (a leaked connection costs tens of KB, 100k of them several GB).
  @max_growth 50 * 1024 * 1024

  defp measure(fun) do
    threads = Native.connection_threads()
    fun.(1_000)
    full_gc(threads)
    {beam0, rss0} = {:erlang.memory(:total), rss_bytes()}
    result = fun.(100_000)
    full_gc(threads)
    {beam1, rss1} = {:erlang.memory(:total), rss_bytes()}
    {result, beam1 - beam0, rss1 - rss0}
  end

  @tag capability: :memory_flat_open_close
  test "100,000 open/close cycles of :memory: connections keep memory flat" do
    {_, beam_growth, rss_growth} =
      measure(fn n ->
        for _ <- 1..n do
          {:ok, conn} = Native.open(database: ":memory:")
          :ok = Native.close(conn)
        end
      end)

    assert beam_growth < @max_growth
    assert rss_growth < @max_growth
  end

  test "100,000 prepare/close_stmt cycles keep memory flat" do
    conn = open_memory!()

    {_, beam_growth, rss_growth} =
      measure(fn n ->
        for i <- 1..n do
          {:ok, stmt} = Native.prepare(conn, "SELECT ? + #{rem(i, 7)}")
          :ok = Native.close_stmt(stmt)
        end
      end)

    assert {:ok, %{statements: 0}} = Native.cache_stats(conn)
    assert beam_growth < @max_growth
    assert rss_growth < @max_growth
  end

  test "connections dropped without close are freed by the garbage collector" do
    open_many = fn n ->
      {pid, ref} =
        spawn_monitor(fn ->
          conns = for _ <- 1..n, do: elem(Native.open(database: ":memory:"), 1)
          Enum.each(conns, &(:ok = Native.ping(&1)))
        end)

      receive do
        {:DOWN, ^ref, :process, ^pid, reason} -> reason
      end
    end

    # Connections held at once set the allocator's high-water mark (each
    # holds its page cache and its thread), so the warm-up opens as many as
    # each round. Rounds stay small: thousands of threads at once leave the
    # allocator's per-thread arenas varying by ~100 MB between rounds.
    # 10,000 connections are dropped in all; leaked, they would hold a GB.
    threads = Native.connection_threads()
    for _ <- 1..3, do: open_many.(200)
    full_gc(threads)
    rss0 = rss_bytes()

    for _ <- 1..50, do: assert(open_many.(200) == :normal)
    # Every dropped connection's thread has ended.
    full_gc(threads)

    assert rss_bytes() - rss0 < @max_growth
  end

  test "statements and cursors dropped without close are released from their connection" do
    conn = open_memory!()

    {pid, ref} =
      spawn_monitor(fn ->
        for _ <- 1..100, do: {:ok, _} = Native.prepare(conn, "SELECT 1")
        for _ <- 1..10, do: {:ok, _} = Native.declare_cursor(conn, "SELECT 1")
      end)

    assert_receive {:DOWN, ^ref, :process, ^pid, :normal}, 10_000
    full_gc()
    # A dropped handle hands its connection a job to forget it: in queue order, before these.
    assert :ok = Native.ping(conn)
    assert {:ok, %{statements: 0, cursors: 0}} = Native.cache_stats(conn)
  end
end
