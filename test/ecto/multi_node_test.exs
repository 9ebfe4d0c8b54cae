defmodule Ecto.Adapters.LibSql.MultiNodeTest do
  # Three embedded-replica Repos of one sqld, each in a BEAM of its own (an
  # OS process, see EctoLibSql.TestNode): how an app runs on several
  # machines. Writes through any node reach the others; the primary killed
  # and restarted under them.
  use ExUnit.Case, async: false

  import EctoLibSql.TestDB, only: [tmp_dir!: 1]

  alias EctoLibSql.{Native, TestNode, TestServer}

  @moduletag :remote

  # Nodes sync in the background every @interval ms; a write must be seen
  # everywhere within the interval plus @bound ms (the sync's own round
  # trips, on a busy 2-core CI machine).
  @interval 200
  @bound 3_000

  # Polls `node` until it sees `expected`, or fails after the deadline: this
  # measures replication lag, which only the replica's background sync ends.
  defp assert_sees(node, expected, deadline \\ System.monotonic_time(:millisecond) + @interval + @bound) do
    seen = TestNode.call(node, {TestNode, :titles, []})

    cond do
      Enum.sort(seen) == Enum.sort(expected) ->
        assert length(seen) == length(Enum.uniq(seen)), "duplicated rows: #{inspect(seen)}"

      System.monotonic_time(:millisecond) > deadline ->
        flunk(
          "after #{@interval + @bound} ms a node saw #{length(seen)} rows, expected #{length(expected)}: #{inspect(seen)}"
        )

      true ->
        Process.sleep(25)
        assert_sees(node, expected, deadline)
    end
  end

  test "writes through any node reach every node; the primary killed: reads go on, writes fail fast, all recovers",
       ctx do
    server = TestServer.start_supervised!()
    dir = tmp_dir!(ctx)
    {:ok, remote} = Native.open(uri: server.url)
    {:ok, _} = Native.execute(remote, "CREATE TABLE posts (id INTEGER PRIMARY KEY, title TEXT NOT NULL)")
    Native.close(remote)

    nodes =
      for i <- 1..3 do
        TestNode.start!(database: Path.join(dir, "node#{i}.db"), uri: server.url, sync_interval: @interval)
      end

    written =
      for {node, i} <- Enum.with_index(nodes, 1), j <- 1..10 do
        title = "node #{i} post #{j}"
        assert :ok = TestNode.call(node, {TestNode, :insert, [title]})
        title
      end

    Enum.each(nodes, &assert_sees(&1, written))

    # The primary goes down: every node keeps serving what it has, and a
    # write fails with :unavailable instead of hanging.
    TestServer.stop(server)
    for node <- nodes, do: assert(Enum.sort(TestNode.call(node, {TestNode, :titles, []})) == Enum.sort(written))

    {us, result} = :timer.tc(fn -> TestNode.call(hd(nodes), {TestNode, :insert, ["while down"]}) end)
    assert {:error, %EctoLibSql.Error{code: :unavailable}} = result
    assert us < 10_000_000, "a write with the primary down took #{div(us, 1000)} ms"

    # Back up on the same address: writes and syncs resume, no restart of
    # any node.
    server = TestServer.restart!(server)
    assert :ok = TestNode.call(Enum.at(nodes, 1), {TestNode, :insert, ["after restart"]})
    Enum.each(nodes, &assert_sees(&1, written ++ ["after restart"]))
    # The peers are linked to this test's process and end with it.
    TestServer.stop(server)
  end
end
