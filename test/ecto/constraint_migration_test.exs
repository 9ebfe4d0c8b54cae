defmodule Ecto.Adapters.LibSql.ConstraintMigrationTest do
  # CHECK constraints added to and dropped from existing tables by
  # migrations (SQLite has no ALTER TABLE ... ADD/DROP CONSTRAINT).
  use ExUnit.Case, async: true

  import EctoLibSql.TestDB, only: [tmp_db!: 1]

  alias Ecto.Adapters.LibSql.TableSql

  defmodule Repo do
    use Ecto.Repo, otp_app: :ecto_libsql, adapter: Ecto.Adapters.LibSql
  end

  defmodule Product do
    use Ecto.Schema
    import Ecto.Changeset

    schema "products" do
      field(:name, :string)
      field(:price, :integer)
    end

    def changeset(product, attrs) do
      product |> cast(attrs, [:name, :price]) |> check_constraint(:price, name: :price_must_be_positive)
    end
  end

  defmodule CreateProducts do
    use Ecto.Migration

    def change do
      create table(:products) do
        add(:name, :string, check: %{name: "name_not_empty", expr: "name <> ''"})
        add(:price, :integer)
      end

      create(index(:products, [:name]))
    end
  end

  defmodule AddPriceCheck do
    use Ecto.Migration

    def change do
      create(constraint(:products, :price_must_be_positive, check: "price > 0"))
    end
  end

  defmodule AddUnvalidatedCheck do
    use Ecto.Migration

    def change do
      create(constraint(:products, :price_below_1000, check: "price < 1000", validate: false))
    end
  end

  defmodule DropNameCheck do
    use Ecto.Migration

    def up, do: drop(constraint(:products, :name_not_empty))
    def down, do: :ok
  end

  defmodule DropMissingCheck do
    use Ecto.Migration

    def up, do: drop_if_exists(constraint(:products, :no_such_constraint))
    def down, do: :ok
  end

  defmodule NilifySome do
    use Ecto.Migration

    def change do
      create table(:parents) do
        add(:code, :integer)
      end

      create(unique_index(:parents, [:id, :code]))

      create table(:children) do
        add(:code, :integer, default: 7)
        add(:note, :string)
        add(:parent_id, references(:parents, with: [code: :code], on_delete: {:nilify, [:parent_id]}))
      end
    end
  end

  defmodule DropChildren do
    use Ecto.Migration

    def up, do: drop(table(:children))
    def down, do: :ok
  end

  setup ctx do
    start_supervised!({Repo, database: tmp_db!(ctx), log: false, pool_size: 2})
    :ok = Ecto.Migrator.up(Repo, 1, CreateProducts, log: false)
    :ok
  end

  defp table_sql do
    %{rows: [[sql]]} = Repo.query!("SELECT sql FROM sqlite_master WHERE name = 'products'")
    sql
  end

  @tag capability: :writable_schema
  test "create constraint checks existing rows, then every write; down drops it; data and indexes stay" do
    Repo.insert!(%Product{name: "a", price: 5})
    :ok = Ecto.Migrator.up(Repo, 2, AddPriceCheck, log: false)
    assert table_sql() =~ ~s|CONSTRAINT "price_must_be_positive" CHECK (price > 0)|

    # Every pooled connection enforces it (the schema version moved).
    for _ <- 1..4 do
      assert {:error, changeset} = Repo.insert(Product.changeset(%Product{}, %{name: "b", price: -1}))
      assert [price: {"is invalid", [constraint: :check, constraint_name: "price_must_be_positive"]}] = changeset.errors
    end

    assert [%Product{name: "a", price: 5}] = Repo.all(Product)

    assert %{rows: [["products_name_index"]]} =
             Repo.query!("SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'products_name_index'")

    assert {:ok, []} = Ecto.Adapters.LibSql.integrity_check(Repo)

    :ok = Ecto.Migrator.down(Repo, 2, AddPriceCheck, log: false)
    refute table_sql() =~ "price_must_be_positive"
    assert {:ok, _} = Repo.insert(Product.changeset(%Product{}, %{name: "b", price: -1}))
  end

  @tag capability: :writable_schema
  test "a constraint existing rows break is refused, and the migration changes nothing" do
    Repo.insert!(%Product{name: "a", price: -5})
    before = table_sql()

    assert_raise ArgumentError, ~r/1 existing row\(s\) of "products" do not pass CHECK \(price > 0\)/, fn ->
      Ecto.Migrator.up(Repo, 2, AddPriceCheck, log: false)
    end

    assert table_sql() == before
    assert Ecto.Migrator.migrated_versions(Repo) == [1]

    # validate: false adds it without looking at existing rows.
    Repo.insert!(%Product{name: "b", price: 5000})
    :ok = Ecto.Migrator.up(Repo, 3, AddUnvalidatedCheck, log: false)
    assert_raise Ecto.ConstraintError, fn -> Repo.insert!(%Product{name: "c", price: 2000}) end
  end

  @tag capability: :writable_schema
  test "a column's CHECK constraint declared with its table drops too; drop_if_exists of a missing one is fine" do
    assert_raise Ecto.ConstraintError, fn -> Repo.insert!(%Product{name: "", price: 1}) end
    :ok = Ecto.Migrator.up(Repo, 2, DropNameCheck, log: false)
    assert Repo.insert!(%Product{name: "", price: 1})
    refute table_sql() =~ "name_not_empty"
    :ok = Ecto.Migrator.up(Repo, 3, DropMissingCheck, log: false)
  end

  @tag capability: :foreign_key_triggers
  test "on_delete: {:nilify, columns} nulls only those columns; dropping the table drops its trigger" do
    :ok = Ecto.Migrator.up(Repo, 2, NilifySome, log: false)
    Repo.query!("INSERT INTO parents (id, code) VALUES (1, 5)")
    Repo.query!("INSERT INTO children (code, note, parent_id) VALUES (5, 'kept', 1)")
    Repo.query!("DELETE FROM parents WHERE id = 1")
    # parent_id is NULL (so the composite key holds), code keeps its value.
    assert %{rows: [[nil, 5, "kept"]]} = Repo.query!("SELECT parent_id, code, note FROM children")

    :ok = Ecto.Migrator.up(Repo, 3, DropChildren, log: false)
    assert %{rows: []} = Repo.query!("SELECT name FROM sqlite_master WHERE type = 'trigger'")
    Repo.query!("INSERT INTO parents (id, code) VALUES (2, 6)")
    assert %{num_rows: 1} = Repo.query!("DELETE FROM parents WHERE id = 2")
  end

  describe "TableSql" do
    @sql ~s|CREATE TABLE "t" ("id" INTEGER PRIMARY KEY, "s" TEXT DEFAULT '(,)' CONSTRAINT "c1" CHECK (s <> ')'), /* ) */ "n" INTEGER, CONSTRAINT "c2" CHECK ((n > 0) AND (n < 9))) STRICT|

    test "adds a table constraint before the column list closes, past strings and comments" do
      assert TableSql.add_check(@sql, "c3", "n <> 5") ==
               String.replace(@sql, ") STRICT", ~s|, CONSTRAINT "c3" CHECK (n <> 5)) STRICT|)

      assert_raise ArgumentError, ~r/already has a constraint named "c2"/, fn -> TableSql.add_check(@sql, "c2", "1") end
    end

    test "drops a table constraint with its comma, or a column constraint alone" do
      assert {:ok, without_c2} = TableSql.drop_check(@sql, "c2")

      assert without_c2 ==
               ~s|CREATE TABLE "t" ("id" INTEGER PRIMARY KEY, "s" TEXT DEFAULT '(,)' CONSTRAINT "c1" CHECK (s <> ')'), /* ) */ "n" INTEGER) STRICT|

      assert {:ok, without_c1} = TableSql.drop_check(@sql, "c1")
      assert without_c1 == String.replace(@sql, ~s| CONSTRAINT "c1" CHECK (s <> ')')|, "")

      assert TableSql.drop_check(@sql, "c9") == :error
      assert {:ok, _} = TableSql.drop_check(~s|CREATE TABLE t (a, constraint [odd name] check (a))|, "odd name")
    end
  end
end
