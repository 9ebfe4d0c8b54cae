defmodule Ecto.Adapters.LibSqlTest do
  use ExUnit.Case, async: false

  import Ecto.Query
  alias Ecto.Adapters.LibSql

  defmodule Repo do
    use Ecto.Repo, otp_app: :ecto_libsql, adapter: Ecto.Adapters.LibSql
  end

  defmodule BinaryRepo do
    use Ecto.Repo, otp_app: :ecto_libsql, adapter: Ecto.Adapters.LibSql
  end

  defmodule Item do
    use Ecto.Schema

    @primary_key {:id, :binary_id, autogenerate: true}
    schema "items" do
      field(:name, :string)
      field(:price, :decimal)
      field(:data, :binary)
      field(:flag, :boolean)
      field(:meta, :map)
      field(:tags, {:array, :string})
      field(:at, :utc_datetime_usec)
      field(:naive, :naive_datetime_usec)
      field(:day, :date)
      field(:time, :time_usec)
      field(:ratio, :float)
      timestamps()
    end

    def changeset(item, attrs) do
      item
      |> Ecto.Changeset.cast(attrs, [:name, :price])
      |> Ecto.Changeset.unique_constraint(:name)
      |> Ecto.Changeset.check_constraint(:price, name: :price_positive)
    end
  end

  defmodule CreateItems do
    use Ecto.Migration

    def change do
      create table(:items, primary_key: false) do
        add(:id, :binary_id, primary_key: true)
        add(:name, :string)
        add(:price, :decimal, check: %{name: "price_positive", expr: "CAST(price AS REAL) > 0"})
        add(:data, :binary)
        add(:flag, :boolean)
        add(:meta, :map)
        add(:tags, {:array, :string})
        add(:at, :utc_datetime_usec)
        add(:naive, :naive_datetime_usec)
        add(:day, :date)
        add(:time, :time_usec)
        add(:ratio, :float)
        timestamps()
      end

      create(unique_index(:items, [:name]))
    end
  end

  setup_all do
    dir = Path.join(System.tmp_dir!(), "ecto_libsql_adapter_#{System.unique_integer([:positive])}")
    File.mkdir_p!(dir)
    Application.put_env(:ecto_libsql, Repo, database: Path.join(dir, "repo.db"), pool_size: 2)

    Application.put_env(:ecto_libsql, BinaryRepo,
      database: Path.join(dir, "binary.db"),
      binary_id_type: :binary,
      map_type: :binary,
      datetime_type: :text_datetime
    )

    for repo <- [Repo, BinaryRepo] do
      :ok = LibSql.storage_up(repo.config())
      start_supervised!(repo)
      :ok = Ecto.Migrator.up(repo, 1, CreateItems, log: false)
    end

    on_exit(fn -> File.rm_rf(dir) end)
    {:ok, dir: dir}
  end

  setup do
    for repo <- [Repo, BinaryRepo], do: repo.delete_all(Item)
    :ok
  end

  @full %{
    name: "widget",
    price: Decimal.new("12345678901234567890.123456789"),
    data: <<0, 255, 0>>,
    flag: true,
    meta: %{"a" => [1, 2, %{"b" => nil}]},
    tags: ["x", "y"],
    at: ~U[2024-01-02 03:04:05.123456Z],
    naive: ~N[2024-01-02 03:04:05.000001],
    day: ~D[2024-02-29],
    time: ~T[23:59:59.999999],
    ratio: 0.1
  }

  describe "types round-trip exactly" do
    for repo <- [Repo, BinaryRepo] do
      test "through #{inspect(repo)}" do
        repo = unquote(repo)
        item = repo.insert!(struct(Item, @full))
        loaded = repo.get!(Item, item.id)

        for {field, value} <- @full do
          assert Map.fetch!(loaded, field) == value, "#{field}: #{inspect(Map.fetch!(loaded, field))}"
        end

        assert is_binary(loaded.id) and byte_size(loaded.id) == 36
        assert repo.get_by!(Item, price: Decimal.new("12345678901234567890.123456789")).id == item.id
      end
    end

    test "false, empty and nil values" do
      item = Repo.insert!(%Item{flag: false, data: <<0>>, meta: %{}, tags: []})
      loaded = Repo.get!(Item, item.id)
      assert {loaded.flag, loaded.data, loaded.meta, loaded.tags, loaded.price} == {false, <<0>>, %{}, [], nil}
    end

    test "the per-Repo type options decide the stored form" do
      Repo.insert!(struct(Item, @full))
      BinaryRepo.insert!(struct(Item, @full))

      %{rows: [[id, meta, at]]} = Repo.query!("SELECT typeof(id), typeof(meta), at FROM items")
      assert {id, meta, at} == {"text", "text", "2024-01-02T03:04:05.123456Z"}

      %{rows: [[id, meta, at]]} = BinaryRepo.query!("SELECT typeof(id), typeof(meta), at FROM items")
      assert {id, meta, at} == {"blob", "blob", "2024-01-02 03:04:05.123456"}
    end

    test "map_type: :binary stores SQLite's JSONB, which SQLite's JSON functions read" do
      meta = %{"a" => [1, 2.5, %{"b" => nil}], "q" => "say \"hi\"\n", "t" => true, "é" => -7}
      item = BinaryRepo.insert!(%Item{meta: meta})

      %{rows: [[json, a1, quote, valid]]} =
        BinaryRepo.query!("SELECT json(meta), meta ->> '$.a[1]', meta ->> '$.q', json_valid(meta, 8) FROM items")

      assert {Jason.decode!(json), a1, quote, valid} == {meta, 2.5, "say \"hi\"\n", 1}
      assert BinaryRepo.get!(Item, item.id).meta == meta
      assert [meta] == BinaryRepo.all(from(i in "items", select: type(i.meta, :map)))

      # JSONB written by SQLite itself, and JSON text in a BLOB (what
      # ecto_sqlite3's map_type: :binary writes), load too.
      BinaryRepo.query!("UPDATE items SET meta = jsonb('{\"x\": [1e2, \"\\u00e9\\t\"], \"y\": {}}')")
      assert BinaryRepo.get!(Item, item.id).meta == %{"x" => [100.0, "é\t"], "y" => %{}}
      BinaryRepo.query!("UPDATE items SET meta = CAST('{\"ab\":1}' AS BLOB)")
      assert BinaryRepo.get!(Item, item.id).meta == %{"ab" => 1}
    end

    test "migrations declare the column types the Repo's type options store" do
      declared = fn repo ->
        %{rows: rows} =
          repo.query!("SELECT name, type FROM pragma_table_info('items') WHERE name IN ('id', 'meta', 'tags')")

        Map.new(rows, fn [name, type] -> {name, type} end)
      end

      assert declared.(Repo) == %{"id" => "TEXT", "meta" => "TEXT", "tags" => "TEXT"}
      # binary_id_type: :binary and map_type: :binary; array_type stays :string.
      assert declared.(BinaryRepo) == %{"id" => "BLOB", "meta" => "BLOB", "tags" => "TEXT"}
    end

    test "schemaless maps load with type/2" do
      Repo.insert!(%Item{meta: %{"k" => "v"}})
      assert [%{"k" => "v"}] == Repo.all(from(i in "items", select: type(i.meta, :map)))
    end

    test "datetime comparisons and datetime_add work on stored text" do
      Repo.insert!(%Item{name: "old", at: ~U[2020-01-01 00:00:00.000000Z]})
      Repo.insert!(%Item{name: "new", at: ~U[2030-01-01 00:00:00.000000Z]})
      now = ~U[2025-01-01 00:00:00.000000Z]
      assert ["new"] == Repo.all(from(i in Item, where: i.at > ^now, select: i.name))

      assert ["old"] ==
               Repo.all(
                 from(i in Item, where: datetime_add(i.at, 365 * 6, "day") > ^now and i.at < ^now, select: i.name)
               )
    end
  end

  # Ecto's :duration type needs Elixir 1.17's Duration.
  if Code.ensure_loaded?(Duration) do
    defmodule Span do
      use Ecto.Schema

      schema "spans" do
        field(:dur, :duration)
      end
    end

    describe "durations" do
      test "round-trip as ISO 8601 text, and compare equal to a parameter" do
        Repo.query!("CREATE TABLE spans (id INTEGER PRIMARY KEY, dur TEXT)")
        duration = %Duration{month: 13, second: 1, microsecond: {100, 6}}
        span = Repo.insert!(%Span{dur: duration})

        assert Repo.get!(Span, span.id).dur == duration
        assert [span.id] == Repo.all(from(s in Span, where: s.dur == ^duration, select: s.id))
        assert %{rows: [["P13MT1.000100S"]]} = Repo.query!("SELECT dur FROM spans")
      end
    end
  end

  describe "constraints become changeset errors" do
    test "unique index, by Ecto's default name" do
      {:ok, _} = Repo.insert(Item.changeset(%Item{}, %{name: "a", price: "1"}))
      assert {:error, changeset} = Repo.insert(Item.changeset(%Item{}, %{name: "a", price: "1"}))
      assert [name: {"has already been taken", _}] = changeset.errors
    end

    test "check constraint, by its name" do
      assert {:error, changeset} = Repo.insert(Item.changeset(%Item{}, %{name: "b", price: "-1"}))
      assert [price: {"is invalid", _}] = changeset.errors
    end

    test "an unhandled constraint raises Ecto.ConstraintError" do
      Repo.insert!(%Item{name: "c"})
      assert_raise Ecto.ConstraintError, fn -> Repo.insert!(%Item{name: "c"}) end
    end
  end

  describe "queries" do
    test "insert_all, update_all, delete_all, upserts and returning" do
      now = ~N[2024-01-01 00:00:00]
      row = fn name -> [id: Ecto.UUID.generate(), name: name, inserted_at: now, updated_at: now] end
      {2, _} = Repo.insert_all(Item, [row.("a"), row.("b")])
      {1, [%{name: "a!"}]} = Repo.update_all(from(i in Item, where: i.name == "a", select: i), set: [name: "a!"])

      Repo.insert!(%Item{name: "b", ratio: 2.0},
        on_conflict: [set: [ratio: 3.0]],
        conflict_target: :name
      )

      assert [3.0] == Repo.all(from(i in Item, where: i.name == "b", select: i.ratio))
      assert {1, _} = Repo.delete_all(from(i in Item, where: i.name in ^["a!"]))
      assert Repo.aggregate(Item, :count) == 1
    end

    test "insert_all rows with different fields get the columns' defaults" do
      Repo.query!(
        "CREATE TABLE defaults (id INTEGER PRIMARY KEY, a TEXT DEFAULT 'x', b INTEGER, c INTEGER DEFAULT (1 + 1))"
      )

      {3, _} = Repo.insert_all("defaults", [[a: "given"], [b: 5, c: 9], [c: 3]])
      {2, _} = Repo.insert_all("defaults", [[], []])

      assert Repo.all(from(d in "defaults", select: [d.id, d.a, d.b, d.c], order_by: d.id)) ==
               [[1, "given", nil, 2], [2, "x", 5, 9], [3, "x", nil, 3], [4, "x", nil, 2], [5, "x", nil, 2]]
    end

    @tag capability: :aggregate_order_by
    test "push and pull update JSON arrays in order" do
      item = Repo.insert!(%Item{name: "arr", tags: ["a", "b", "a"]})
      Repo.insert!(%Item{name: "nil"})
      {2, _} = Repo.update_all(Item, push: [tags: "c"])
      assert Repo.get!(Item, item.id).tags == ["a", "b", "a", "c"]
      {2, _} = Repo.update_all(Item, pull: [tags: "a"])
      assert Repo.all(from(i in Item, order_by: i.name, select: i.tags)) == [["b", "c"], ["c"]]
    end

    test "Repo.query, to_sql and explain" do
      assert %{rows: [[3]]} = Repo.query!("SELECT 1 + ?", [2])
      assert {"SELECT" <> _, []} = Repo.to_sql(:all, Item)
      assert Repo.explain(:all, from(i in Item, where: i.name == "x")) =~ "items"
    end

    test "streams inside a transaction" do
      for n <- 1..25, do: Repo.insert!(%Item{name: "s#{n}"})

      {:ok, names} =
        Repo.transaction(fn -> Repo.stream(from(i in Item, select: i.name), max_rows: 10) |> Enum.to_list() end)

      assert length(names) == 25
    end
  end

  describe "storage and structure" do
    test "storage_up, storage_status and storage_down, -wal and -shm included", %{dir: dir} do
      path = Path.join(dir, "storage.db")
      assert LibSql.storage_status(database: path) == :down
      assert LibSql.storage_up(database: path) == :ok
      assert LibSql.storage_up(database: path) == {:error, :already_up}
      assert LibSql.storage_status(database: path) == :up
      File.write!(path <> "-wal", "")
      File.write!(path <> "-shm", "")
      assert LibSql.storage_down(database: path) == :ok
      refute Enum.any?(["", "-wal", "-shm"], &File.exists?(path <> &1))
      assert LibSql.storage_down(database: path) == {:error, :already_down}
    end

    test "remote databases get a clear answer" do
      assert {:error, message} = LibSql.storage_up(uri: "http://127.0.0.1:1")
      assert message =~ "remote"
    end

    test "structure_dump and structure_load, with migration versions", %{dir: dir} do
      config = Repo.config() |> Keyword.put(:dump_path, Path.join(dir, "structure.sql"))
      assert {:ok, path} = LibSql.structure_dump(dir, config)
      sql = File.read!(path)
      assert sql =~ ~s(CREATE TABLE "items")
      assert sql =~ "items_name_index"
      assert sql =~ ~s(INSERT INTO "schema_migrations")

      target = Path.join(dir, "loaded.db")
      assert {:ok, ^path} = LibSql.structure_load(dir, database: target, dump_path: path)
      {:ok, conn} = EctoLibSql.Native.open(database: target)
      assert {:ok, [1]} = EctoLibSql.Native.query_one(conn, "SELECT version FROM schema_migrations", [])
      assert {:ok, [0]} = EctoLibSql.Native.query_one(conn, "SELECT count(*) FROM items", [])
    end
  end
end
