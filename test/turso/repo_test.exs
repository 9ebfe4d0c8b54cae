defmodule Ecto.Adapters.LibSql.TursoRepoTest do
  # An Ecto Repo on the turso engine in MVCC mode: migrations (a `modify`
  # rebuilds the table), the usual Repo calls, and concurrent transactions
  # with their conflicts and opt-in retries.
  use ExUnit.Case, async: true

  import EctoLibSql.TestDB, only: [tmp_db!: 1]
  import Ecto.Query

  defmodule Repo do
    use Ecto.Repo, otp_app: :ecto_libsql, adapter: Ecto.Adapters.LibSql
  end

  defmodule Counter do
    use Ecto.Schema

    schema "counters" do
      field(:name, :string)
      field(:value, :integer, default: 0)
      field(:note, :string)
      timestamps(type: :utc_datetime_usec)
    end
  end

  defmodule CreateCounters do
    use Ecto.Migration

    def change do
      create table(:counters) do
        add(:name, :string, null: false)
        add(:value, :integer, default: 0)
        add(:note, :integer)
        timestamps(type: :utc_datetime_usec)
      end

      create(unique_index(:counters, [:name]))
    end
  end

  defmodule NoteIsText do
    use Ecto.Migration

    def change do
      alter table(:counters) do
        modify(:note, :string, null: true, from: :integer)
      end
    end
  end

  setup ctx do
    start_supervised!({Repo, database: tmp_db!(ctx), engine: :turso, mvcc: true, log: false, pool_size: 8})
    :ok = Ecto.Migrator.up(Repo, 1, CreateCounters, log: false)
    :ok = Ecto.Migrator.up(Repo, 2, NoteIsText, log: false)
    :ok
  end

  test "the Repo runs on the turso engine in MVCC mode" do
    assert %{rows: [["mvcc"]]} = Repo.query!("PRAGMA journal_mode")
  end

  test "inserts, reads, updates, deletes, streams; a modified column keeps its rows" do
    {:ok, a} = Repo.insert(%Counter{name: "a", value: 1, note: "first"})
    {:ok, _} = Repo.insert(%Counter{name: "b", value: 2})

    assert {:error, changeset} =
             %Counter{name: "a"} |> Ecto.Changeset.change() |> Ecto.Changeset.unique_constraint(:name) |> Repo.insert()

    assert [name: {"has already been taken", _}] = changeset.errors

    assert %Counter{name: "a", note: "first", inserted_at: %DateTime{}} = Repo.get!(Counter, a.id)
    {:ok, _} = a |> Ecto.Changeset.change(value: 10) |> Repo.update()
    assert Repo.all(from(c in Counter, order_by: c.name, select: {c.name, c.value})) == [{"a", 10}, {"b", 2}]
    assert {1, _} = Repo.update_all(from(c in Counter, where: c.name == "b"), inc: [value: 5])

    assert {:ok, [10, 7]} =
             Repo.transaction(fn ->
               from(c in Counter, order_by: c.name, select: c.value) |> Repo.stream(max_rows: 1) |> Enum.to_list()
             end)

    {:ok, _} = Repo.delete(a)
    assert Repo.aggregate(Counter, :count) == 1
  end

  test "a new reference that a row breaks fails the migration, which is rolled back" do
    defmodule ReferenceParent do
      use Ecto.Migration

      def up do
        alter table(:counters) do
          add(:parent_id, :integer)
        end

        execute("UPDATE counters SET parent_id = 999")

        alter table(:counters) do
          modify(:parent_id, references(:counters))
        end
      end

      def down, do: :ok
    end

    {:ok, _} = Repo.insert(%Counter{name: "orphan"})

    # Each copied row is checked against the new foreign key.
    error = assert_raise EctoLibSql.Error, fn -> Ecto.Migrator.up(Repo, 3, ReferenceParent, log: false) end
    assert error.code == :constraint_foreign_key

    assert Repo.query!("SELECT name FROM pragma_table_info('counters') WHERE name = 'parent_id'").rows == []
    assert Repo.aggregate(Counter, :count) == 1
  end

  test "the second concurrent writer of a row gets :conflict and nothing of it is kept" do
    {:ok, c} = Repo.insert(%Counter{name: "hot"})
    test = self()

    holder =
      Task.async(fn ->
        Repo.transaction(
          fn ->
            Repo.update_all(from(x in Counter, where: x.id == ^c.id), inc: [value: 1])
            send(test, :written)
            receive(do: (:commit -> :ok))
          end,
          mode: :concurrent
        )
      end)

    assert_receive :written, 5_000

    error =
      assert_raise EctoLibSql.Error, fn ->
        Repo.transaction(
          fn ->
            Repo.insert!(%Counter{name: "kept only if the transaction commits"})
            Repo.update_all(from(x in Counter, where: x.id == ^c.id), inc: [value: 100])
          end,
          mode: :concurrent
        )
      end

    assert error.code == :conflict
    send(holder.pid, :commit)
    assert {:ok, :ok} = Task.await(holder)
    assert Repo.get!(Counter, c.id).value == 1
    assert Repo.aggregate(Counter, :count) == 1
  end

  test "retry_conflicts runs the losing transaction again until it commits" do
    {:ok, c} = Repo.insert(%Counter{name: "hot"})
    test = self()
    handler = "retry-#{inspect(self())}"

    :telemetry.attach(
      handler,
      [:ecto_libsql, :transaction, :retry],
      fn _event, measurements, %{repo: Repo}, _ -> send(test, {:retry, measurements}) end,
      nil
    )

    on_exit(fn -> :telemetry.detach(handler) end)

    holder =
      Task.async(fn ->
        Repo.transaction(
          fn ->
            Repo.update_all(from(x in Counter, where: x.id == ^c.id), inc: [value: 1])
            send(test, :written)
            receive(do: (:commit -> :ok))
          end,
          mode: :concurrent
        )
      end)

    assert_receive :written, 5_000

    retried =
      Task.async(fn ->
        Repo.transaction(
          fn ->
            send(test, {:attempt, self()})
            Repo.update_all(from(x in Counter, where: x.id == ^c.id), inc: [value: 10])
            :done
          end,
          mode: :concurrent,
          retry_conflicts: 20
        )
      end)

    # The first attempt runs into the holder's write; the holder then
    # commits, and a later attempt gets through.
    assert_receive {:attempt, _}, 5_000
    assert_receive {:retry, %{attempt: 1, backoff_ms: backoff}}, 5_000
    assert backoff in 0..(Ecto.Adapters.LibSql.ConflictRetry.backoff_ceiling(1) - 1)
    send(holder.pid, :commit)
    assert {:ok, :ok} = Task.await(holder)
    assert {:ok, :done} = Task.await(retried)
    assert Repo.get!(Counter, c.id).value == 11
  end

  test "many concurrent transactions with retries lose no update" do
    {:ok, hot} = Repo.insert(%Counter{name: "hot"})
    own = for i <- 1..16, do: Repo.insert!(%Counter{name: "own#{i}"})

    own
    |> Enum.map(fn mine ->
      Task.async(fn ->
        for _ <- 1..20 do
          {:ok, _} =
            Repo.transaction(
              fn ->
                Repo.update_all(from(x in Counter, where: x.id == ^mine.id), inc: [value: 1])
                Repo.update_all(from(x in Counter, where: x.id == ^hot.id), inc: [value: 1])
              end,
              mode: :concurrent,
              retry_conflicts: 1_000
            )
        end
      end)
    end)
    |> Task.await_many(60_000)

    assert Repo.get!(Counter, hot.id).value == 16 * 20
    assert Repo.all(from(c in Counter, where: c.id != ^hot.id, select: c.value)) == List.duplicate(20, 16)
  end

  test "retry_conflicts must be a non-negative integer" do
    assert_raise ArgumentError, ~r/retry_conflicts/, fn ->
      Repo.transaction(fn -> :ok end, retry_conflicts: :forever)
    end
  end
end
