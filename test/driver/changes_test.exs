defmodule EctoLibSql.ChangesTest do
  use ExUnit.Case, async: true

  # Needs what the turso engine lacks (ECTO_LIBSQL_ENGINE=turso excludes it).
  @moduletag capability: :change_capture

  import EctoLibSql.TestDB, only: [tmp_db!: 1]

  alias EctoLibSql.Changes

  setup ctx do
    pool = start_supervised!({EctoLibSql, database: tmp_db!(ctx), pool_size: 4})
    EctoLibSql.query!(pool, "CREATE TABLE posts (id INTEGER PRIMARY KEY AUTOINCREMENT, title TEXT UNIQUE)")
    EctoLibSql.query!(pool, "CREATE TABLE other (id INTEGER PRIMARY KEY, x)")
    EctoLibSql.query!(pool, "CREATE TABLE keyed (k TEXT PRIMARY KEY) WITHOUT ROWID")
    %{pool: pool}
  end

  defp drain(id, acc \\ []) do
    receive do
      {:ecto_libsql_change, ^id, change} -> drain(id, [change | acc])
    after
      0 -> Enum.reverse(acc)
    end
  end

  test "committed inserts, updates and deletes arrive in order; rolled-back and failed writes never", %{pool: pool} do
    {:ok, id} = Changes.subscribe(pool, [:posts])

    EctoLibSql.query!(pool, "INSERT INTO posts (title) VALUES ('a'), ('b')")
    EctoLibSql.query!(pool, "UPDATE posts SET title = 'a2' WHERE title = 'a'")
    EctoLibSql.query!(pool, "DELETE FROM posts WHERE title = 'b'")
    EctoLibSql.query!(pool, "INSERT INTO other VALUES (1, 1)")
    # The writer's call returns after the messages were sent.
    assert drain(id) == [{"posts", :insert, 1}, {"posts", :insert, 2}, {"posts", :update, 1}, {"posts", :delete, 2}]

    {:error, :no} =
      EctoLibSql.transaction(pool, fn conn ->
        EctoLibSql.query!(conn, "INSERT INTO posts (title) VALUES ('rolled back')")
        EctoLibSql.rollback(conn, :no)
      end)

    # A statement that fails half-way (the second row breaks UNIQUE).
    assert {:error, %EctoLibSql.Error{code: :constraint_unique}} =
             EctoLibSql.query(pool, "INSERT INTO posts (title) VALUES ('c'), ('a2')")

    {:ok, _} =
      EctoLibSql.transaction(pool, fn conn ->
        EctoLibSql.query!(conn, "INSERT INTO posts (title) VALUES ('kept')")
        # A savepoint rolled back inside a committed transaction.
        EctoLibSql.query!(conn, "SAVEPOINT inner")
        EctoLibSql.query!(conn, "INSERT INTO posts (title) VALUES ('undone')")
        EctoLibSql.query!(conn, "ROLLBACK TO inner")
        EctoLibSql.query!(conn, "RELEASE inner")

        # Nothing arrives before the commit.
        assert drain(id) == []
      end)

    assert [{"posts", :insert, kept}] = drain(id)
    assert %{rows: [["kept"]]} = EctoLibSql.query!(pool, "SELECT title FROM posts WHERE id = ?", [kept])

    :ok = Changes.unsubscribe(pool, id)
    EctoLibSql.query!(pool, "INSERT INTO posts (title) VALUES ('after')")
    assert drain(id) == []
    assert {:error, %EctoLibSql.Error{code: :misuse}} = Changes.unsubscribe(pool, id)
  end

  test "10,000 mixed writes from 8 processes: exactly the committed changes, in commit order", %{pool: pool} do
    {:ok, id} = Changes.subscribe(pool, ["posts"])

    writers =
      for w <- 1..8 do
        Task.async(fn ->
          Enum.reduce(1..500, 0, fn i, _ ->
            title = "w#{w}-#{i}"
            roll_back? = rem(i, 10) == 0

            EctoLibSql.transaction(pool, fn conn ->
              %{rows: [[row]]} = EctoLibSql.query!(conn, "INSERT INTO posts (title) VALUES (?) RETURNING id", [title])
              EctoLibSql.query!(conn, "UPDATE posts SET title = title || '!' WHERE id = ?", [row])
              if rem(i, 3) == 0, do: EctoLibSql.query!(conn, "DELETE FROM posts WHERE id = ?", [row])
              # An update of an older row of this writer, if any is left.
              EctoLibSql.query!(
                conn,
                "UPDATE posts SET title = title || '.' WHERE id = (SELECT min(id) FROM posts WHERE title LIKE ?)",
                ["w#{w}-%"]
              )

              if roll_back?, do: EctoLibSql.rollback(conn, :skip)
            end)

            0
          end)
        end)
      end

    Task.await_many(writers, 120_000)
    changes = collect(id, [])

    # Replaying the changes, in the order they came, gives the table's rows,
    # and each row's history is insert, updates, then at most a delete.
    rows =
      Enum.reduce(changes, %{}, fn
        {"posts", :insert, row}, rows ->
          refute Map.has_key?(rows, row), "row #{row} inserted twice"
          Map.put(rows, row, :live)

        {"posts", :update, row}, rows ->
          assert rows[row] == :live, "update of row #{row} before its insert or after its delete"
          rows

        {"posts", :delete, row}, rows ->
          assert rows[row] == :live, "delete of row #{row} that is not there"
          Map.put(rows, row, :deleted)
      end)

    %{rows: table} = EctoLibSql.query!(pool, "SELECT id FROM posts ORDER BY id")
    assert for({row, :live} <- rows, do: row) |> Enum.sort() == List.flatten(table)

    # Rows are numbered in commit order, so inserts arrive in rowid order;
    # 4,000 transactions, a tenth rolled back.
    inserts = for {"posts", :insert, row} <- changes, do: row
    assert inserts == Enum.sort(inserts)
    assert length(inserts) == 3_600
    assert length(changes) >= 10_000
  end

  defp collect(id, acc) do
    receive do
      {:ecto_libsql_change, ^id, change} -> collect(id, [change | acc])
    after
      100 -> Enum.reverse(acc)
    end
  end

  test "only watched tables are reported; bad tables and remote databases are refused", %{pool: pool} do
    {:ok, posts} = Changes.subscribe(pool, ["posts"])
    {:ok, other} = Changes.subscribe(pool, ["other"])
    EctoLibSql.query!(pool, "INSERT INTO other VALUES (7, 1)")
    assert drain(posts) == []
    assert drain(other) == [{"other", :insert, 7}]

    assert {:error, %EctoLibSql.Error{code: :misuse, message: message}} = Changes.subscribe(pool, ["keyed"])
    assert message =~ "WITHOUT ROWID"
    assert {:error, %EctoLibSql.Error{code: :misuse, message: message}} = Changes.subscribe(pool, ["nope"])
    assert message =~ "no table"
  end
end
