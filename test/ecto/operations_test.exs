defmodule Ecto.Adapters.LibSql.OperationsTest do
  # The adapter's operations functions on a Repo, and the transaction
  # telemetry an operator charts.
  use ExUnit.Case, async: false

  import Ecto.Query
  import EctoLibSql.TestDB, only: [tmp_db!: 1, tmp_db!: 2]

  alias Ecto.Adapters.LibSql

  defmodule Repo do
    use Ecto.Repo, otp_app: :ecto_libsql, adapter: Ecto.Adapters.LibSql
  end

  defmodule Post do
    use Ecto.Schema

    schema "posts" do
      field(:title, :string)
    end
  end

  setup ctx do
    start_supervised!({Repo, database: tmp_db!(ctx), pool_size: 2, log: false})
    Repo.query!("CREATE TABLE posts (id INTEGER PRIMARY KEY, title TEXT)")
    Repo.query!("CREATE INDEX posts_title ON posts (title)")
    Repo.insert_all(Post, for(i <- 1..100, do: %{title: "post #{i}"}))
    :ok
  end

  @tag capability: :maintenance
  test "backup, checks, checkpoint and sizes through the Repo", ctx do
    target = tmp_db!(ctx, "backup.db")
    assert {:ok, %{pages: pages}} = LibSql.backup(Repo, target)
    assert pages > 0
    assert {:ok, []} = LibSql.integrity_check(Repo)
    assert {:ok, []} = LibSql.quick_check(Repo)
    assert {:ok, %{busy: false}} = LibSql.checkpoint(Repo, :truncate)
    assert {:ok, %{wal_bytes: 0, freelist_count: 0}} = LibSql.sizes(Repo)
    assert :ok = LibSql.analyze(Repo)
    assert :ok = LibSql.optimize(Repo)
    assert :ok = LibSql.vacuum(Repo)
    assert :ok = LibSql.incremental_vacuum(Repo)

    {:ok, copy} = EctoLibSql.start_link(database: target, pool_size: 1)
    assert %{rows: [[100]]} = EctoLibSql.query!(copy, "SELECT count(*) FROM posts")
    GenServer.stop(copy)
  end

  @tag capability: :query_plan
  test "explain_query_plan returns SQLite's plan as data" do
    # Statistics as they are after filling (a pooled connection that opened
    # while the table was empty may have analyzed it as empty).
    :ok = LibSql.analyze(Repo)

    assert {:ok, [%{detail: detail, id: id, parent: 0}]} =
             LibSql.explain_query_plan(Repo, from(p in Post, where: p.title == ^"post 3"))

    assert is_integer(id)
    assert detail =~ "posts_title"

    assert {:ok, [%{detail: "SCAN p0"}]} = LibSql.explain_query_plan(Repo, Post)
    assert {:ok, [_ | _]} = LibSql.explain_query_plan(Repo, :delete_all, from(p in Post, where: p.id > 5))
  end

  test "transactions emit their mode, outcome and duration" do
    parent = self()
    handler = "operations-test-#{inspect(parent)}"

    :telemetry.attach(
      handler,
      [:ecto_libsql, :transaction],
      fn _, measurements, metadata, _ -> send(parent, {:transaction, measurements, metadata}) end,
      nil
    )

    on_exit(fn -> :telemetry.detach(handler) end)

    {:ok, _} = Repo.transaction(fn -> Repo.insert!(%Post{title: "x"}) end)
    assert_receive {:transaction, %{duration: d}, %{mode: :immediate, outcome: :commit}}
    assert d > 0

    {:error, :no} = Repo.transaction(fn -> Repo.rollback(:no) end, mode: :deferred)
    assert_receive {:transaction, _, %{mode: :deferred, outcome: :rollback}}

    # A nested transaction is a savepoint: one event, for the outer one.
    {:ok, _} = Repo.transaction(fn -> Repo.transaction(fn -> :inner end) end)
    assert_receive {:transaction, _, %{outcome: :commit}}
    refute_received {:transaction, _, _}
  end

  @tag capability: :change_capture
  test "a Repo's committed changes reach its subscribers" do
    {:ok, id} = LibSql.subscribe_changes(Repo, [:posts])
    post = Repo.insert!(%Post{title: "new"})
    assert_received {:ecto_libsql_change, ^id, {"posts", :insert, rowid}}
    assert rowid == post.id

    {:error, :undo} = Repo.transaction(fn -> Repo.delete!(post) && Repo.rollback(:undo) end)
    refute_received {:ecto_libsql_change, ^id, _}

    :ok = LibSql.unsubscribe_changes(Repo, id)
  end

  test "stats and health describe the whole pool" do
    # The pool opens its connections in the background: both are counted
    # once both have opened.
    pool = Ecto.Adapter.lookup_meta(Repo).pid

    wait_until(
      fn -> pool |> DBConnection.get_connection_metrics() |> Enum.map(& &1.ready_conn_count) |> Enum.sum() == 2 end,
      5_000
    )

    for _ <- 1..3, do: Repo.all(Post)
    Repo.get(Post, 1)
    assert {:ok, stats} = LibSql.stats(Repo)
    assert stats.connections == 2
    assert stats.cache_hits >= 2 and stats.cache_misses >= 1
    assert stats.cache_size >= 2 and stats.cache_capacity == 2 * 256
    assert %{in_transaction: 0, statements: 0, cursors: 0, write_gate_waiting: 0} = stats

    parent = self()

    holder =
      Task.async(fn ->
        Repo.transaction(fn ->
          Repo.insert!(%Post{title: "held"})
          send(parent, :inside)

          receive do
            :done -> :ok
          end
        end)
      end)

    assert_receive :inside
    assert {:ok, %{in_transaction: 1}} = LibSql.stats(Repo)

    assert {:ok, %{kind: :local, answers: true, in_transaction: 1, replication_index: nil, error: nil}} =
             LibSql.health(Repo)

    send(holder.pid, :done)
    Task.await(holder)
    assert {:ok, %{in_transaction: 0}} = LibSql.stats(Repo)
  end

  test "each write's wait at the write gate is reported, including the time a writer queued" do
    parent = self()
    handler = "gate-test-#{inspect(parent)}"

    :telemetry.attach(
      handler,
      [:ecto_libsql, :write_gate],
      fn _, %{wait: wait}, meta, _ -> send(parent, {:gate, wait, meta}) end,
      nil
    )

    on_exit(fn -> :telemetry.detach(handler) end)

    Repo.insert!(%Post{title: "x"})
    assert_receive {:gate, _wait, %{command: :query}}
    Repo.all(Post)
    refute_received {:gate, _, _}

    # A transaction holds the gate while a second writer queues behind it.
    holder =
      Task.async(fn ->
        Repo.transaction(fn ->
          send(parent, :holding)

          receive do
            :release -> :ok
          end
        end)
      end)

    assert_receive {:gate, _, %{command: :begin}}
    assert_receive :holding
    # Both pooled connections are about to be busy: the gate's queue is read
    # from the database handle directly.
    {:ok, database} = EctoLibSql.DatabaseCall.database(Ecto.Adapter.lookup_meta(Repo).pid)
    writer = Task.async(fn -> Repo.insert!(%Post{title: "queued"}) end)
    # The writer is queued once the gate counts a waiter.
    wait_until(fn -> match?(%{write_gate_waiting: 1}, EctoLibSql.Native.database_stats(database)) end)
    held_for = System.monotonic_time()
    send(holder.pid, :release)
    Task.await(holder)
    Task.await(writer)
    assert_receive {:gate, wait, %{command: :query}}
    assert wait > 0 and wait < System.monotonic_time() - held_for + System.convert_time_unit(1, :second, :native)
  end

  # Polls a condition another process makes true (the gate's queue): no
  # message tells when a writer has queued.
  defp wait_until(fun, tries \\ 500) do
    cond do
      fun.() -> :ok
      tries == 0 -> flunk("condition never held")
      true -> Process.sleep(2) && wait_until(fun, tries - 1)
    end
  end
end
