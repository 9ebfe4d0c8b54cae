defmodule Ecto.Adapters.LibSql.TableRebuildTest do
  # `alter table` changes ALTER TABLE cannot make (a primary key added or
  # changed, a column's reference changed) rebuild the table inside the
  # migration's transaction, with foreign keys on.
  use ExUnit.Case, async: true

  import EctoLibSql.TestDB, only: [tmp_db!: 1]

  defmodule Repo do
    use Ecto.Repo, otp_app: :ecto_libsql, adapter: Ecto.Adapters.LibSql
  end

  defmodule CreateTables do
    use Ecto.Migration

    def change do
      create table(:authors) do
        add(:code, :string, null: false)
        add(:name, :string)
      end

      create(unique_index(:authors, [:code]))
      # books references authors(id): it stays a key when code becomes the primary key.
      create(unique_index(:authors, [:id]))
      create(index(:authors, [:name]))

      create table(:books) do
        add(:title, :string)
        add(:author_id, references(:authors, on_delete: :delete_all))
        add(:editor_code, :string)
      end

      execute(
        "CREATE TRIGGER authors_name_upper AFTER INSERT ON authors BEGIN UPDATE authors SET name = upper(name) WHERE id = NEW.id; END",
        "DROP TRIGGER authors_name_upper"
      )
    end
  end

  defmodule ChangeAuthorsKey do
    use Ecto.Migration

    # The primary key column becomes a plain column; the code becomes the
    # key (libSQL's ALTER COLUMN refuses primary key columns).
    def up do
      alter table(:authors) do
        modify(:id, :bigint, null: false)
        modify(:code, :string, primary_key: true)
        add(:born, :integer, default: 1900)
      end
    end

    def down, do: :ok
  end

  defmodule ReferenceEditors do
    use Ecto.Migration

    def up do
      alter table(:books) do
        modify(:editor_code, references(:authors, column: :code, type: :string))
        add(:reviewer_id, references(:authors, on_delete: {:nilify, [:reviewer_id]}))
      end
    end

    def down, do: :ok
  end

  setup ctx do
    start_supervised!({Repo, database: tmp_db!(ctx), log: false, pool_size: 2})
    :ok = Ecto.Migrator.up(Repo, 1, CreateTables, log: false)
    Repo.query!("INSERT INTO authors (code, name) VALUES ('ann', 'ann'), ('bob', 'bob'), ('cy', 'cy')")
    Repo.query!("DELETE FROM authors WHERE code = 'cy'")
    Repo.query!("INSERT INTO books (title, author_id, editor_code) VALUES ('a', 1, 'bob'), ('b', 2, 'ann')")
    :ok
  end

  defp sql(name) do
    %{rows: [[sql]]} = Repo.query!("SELECT sql FROM sqlite_master WHERE name = ?", [name])
    sql
  end

  defp rows(sql), do: Repo.query!(sql).rows

  @tag capability: :writable_schema
  test "a primary key change keeps rows, indexes, triggers, references and the AUTOINCREMENT counter" do
    :ok = Ecto.Migrator.up(Repo, 2, ChangeAuthorsKey, log: false)

    assert sql("authors") =~ ~s|"code" TEXT PRIMARY KEY|
    refute sql("authors") =~ "AUTOINCREMENT"

    assert rows("SELECT id, code, name, born FROM authors ORDER BY id") == [
             [1, "ann", "ANN", 1900],
             [2, "bob", "BOB", 1900]
           ]

    assert rows(
             "SELECT name FROM sqlite_master WHERE tbl_name = 'authors' AND sql IS NOT NULL AND type <> 'table' ORDER BY name"
           ) ==
             [["authors_code_index"], ["authors_id_index"], ["authors_name_index"], ["authors_name_upper"]]

    # The trigger still fires; the key is now the code.
    Repo.query!("INSERT INTO authors (id, code, name) VALUES (9, 'dee', 'dee')")
    assert rows("SELECT name FROM authors WHERE code = 'dee'") == [["DEE"]]

    assert rows("SELECT name FROM pragma_table_info('authors') WHERE pk > 0") == [["code"]]

    assert {:error, %EctoLibSql.Error{code: :constraint_unique}} =
             Repo.query("INSERT INTO authors (id, code) VALUES (10, 'dee')")

    # books still references authors by name (it was pointed back), and its
    # ON DELETE CASCADE still acts.
    assert sql("books") =~ ~r/REFERENCES "?authors"?/
    refute sql("books") =~ "rebuild"
    assert rows("PRAGMA foreign_key_check") == []
    Repo.query!("DELETE FROM authors WHERE code = 'ann'")
    assert rows("SELECT title FROM books") == [["b"]]
    assert {:ok, []} = Ecto.Adapters.LibSql.integrity_check(Repo)
    assert rows("SELECT count(*) FROM sqlite_master WHERE name LIKE '%ecto_libsql_rebuild%'") == [[0]]
  end

  test "a new reference that a row breaks fails the migration, which is rolled back" do
    defmodule ReferenceMissingEditor do
      use Ecto.Migration

      def up do
        alter table(:books) do
          modify(:editor_code, references(:authors, column: :code, type: :string))
        end
      end

      def down, do: :ok
    end

    Repo.query!("UPDATE books SET editor_code = 'nobody' WHERE title = 'b'")

    # Each copied row is checked against the new foreign key.
    error = assert_raise EctoLibSql.Error, fn -> Ecto.Migrator.up(Repo, 4, ReferenceMissingEditor, log: false) end
    assert error.code == :constraint_foreign_key

    refute sql("books") =~ "editor_code_fkey"
    assert rows("SELECT title, editor_code FROM books ORDER BY title") == [["a", "bob"], ["b", "nobody"]]
  end

  @tag capability: :writable_schema
  test "the AUTOINCREMENT counter survives a rebuild that keeps the key" do
    defmodule AddKeyedColumn do
      use Ecto.Migration

      def up do
        alter table(:authors) do
          modify(:id, :id, primary_key: true)
        end
      end

      def down, do: :ok
    end

    :ok = Ecto.Migrator.up(Repo, 3, AddKeyedColumn, log: false)
    assert sql("authors") =~ "AUTOINCREMENT"
    # cy's id (3) was deleted; it is not handed out again.
    Repo.query!("INSERT INTO authors (code) VALUES ('eve')")
    assert rows("SELECT id FROM authors WHERE code = 'eve'") == [[4]]
  end

  # Its end deletes through an on_delete column-list trigger.
  @tag capability: :foreign_key_triggers
  test "a new reference is checked against existing rows: a violation fails the migration, which changes nothing" do
    before = sql("books")
    Repo.query!("UPDATE books SET editor_code = 'nobody' WHERE title = 'a'")

    # The copy into the rebuilt table checks each row's foreign keys.
    error = assert_raise EctoLibSql.Error, fn -> Ecto.Migrator.up(Repo, 4, ReferenceEditors, log: false) end
    assert error.code == :constraint_foreign_key

    assert sql("books") == before
    assert Ecto.Migrator.migrated_versions(Repo) == [1]

    Repo.query!("UPDATE books SET editor_code = 'bob' WHERE title = 'a'")
    :ok = Ecto.Migrator.up(Repo, 4, ReferenceEditors, log: false)
    # (The turso engine stores the schema text re-rendered: `"authors" ("code")`.)
    assert sql("books") =~ ~r/"editor_code" TEXT CONSTRAINT "books_editor_code_fkey" REFERENCES "authors" ?\("code"\)/
    assert rows("SELECT title, editor_code FROM books ORDER BY title") == [["a", "bob"], ["b", "ann"]]

    # The added reference's on_delete column list acts (a trigger on authors).
    Repo.query!("UPDATE books SET author_id = 2, reviewer_id = 1, editor_code = NULL")
    Repo.query!("DELETE FROM authors WHERE id = 1")
    assert rows("SELECT title, author_id, reviewer_id FROM books ORDER BY title") == [["a", 2, nil], ["b", 2, nil]]
  end
end

defmodule Ecto.Adapters.LibSql.TableSqlRebuildTest do
  use ExUnit.Case, async: true

  alias Ecto.Adapters.LibSql.TableSql

  @sql ~s|CREATE TABLE "t" ("id" INTEGER PRIMARY KEY, -- the key, (really)\n| <>
         ~s|"a,b" TEXT DEFAULT ('x,y'), n NUMERIC(10, 2), [p] INTEGER REFERENCES "Parent"(id), | <>
         ~s|CONSTRAINT c CHECK (n > 0), FOREIGN KEY (p) REFERENCES parent (id))|

  test "columns are found past quotes, strings, comments and nested parentheses" do
    assert TableSql.column_names(@sql) == ["id", "a,b", "n", "p"]
  end

  test "a column is replaced, removed or added, and table constraints stay" do
    assert TableSql.replace_column(@sql, "N", ~s|"n" REAL|) =~ ~s|, "n" REAL, [p]|
    removed = TableSql.remove_column(@sql, "a,b")
    assert TableSql.column_names(removed) == ["id", "n", "p"]
    assert removed =~ "CONSTRAINT c CHECK (n > 0)"
    first_removed = TableSql.remove_column(@sql, "id")
    assert TableSql.column_names(first_removed) == ["a,b", "n", "p"]
    added = TableSql.add_column(@sql, ~s|"z" TEXT|)
    assert TableSql.column_names(added) == ["id", "a,b", "n", "p", "z"]
    assert added =~ ~s|REFERENCES "Parent"(id), "z" TEXT, CONSTRAINT c|
    assert_raise ArgumentError, ~r/no column named "nope"/, fn -> TableSql.replace_column(@sql, "nope", "x") end
  end

  test "the table is renamed, and references to a table are retargeted whatever their quoting" do
    assert TableSql.rename(@sql, ~s|"t2"|) =~ ~r/^CREATE TABLE "t2" \(/
    retargeted = TableSql.retarget_references(@sql, "parent", "parent_new")
    assert retargeted =~ ~s|[p] INTEGER REFERENCES "parent_new"(id)|
    assert retargeted =~ ~s|FOREIGN KEY (p) REFERENCES "parent_new" (id)|
  end
end
