defmodule Ecto.Adapters.LibSql.ReadmeTest do
  # The README's Repo and migration examples, run as written.
  use ExUnit.Case, async: false

  import EctoLibSql.TestDB, only: [tmp_db!: 1]

  @readme Path.expand("../../README.md", __DIR__)

  defp elixir_blocks do
    ~r/```elixir\n(.*?)```/s
    |> Regex.scan(File.read!(@readme), capture: :all_but_first)
    |> List.flatten()
  end

  test "the README's Repo and migration compile and migrate a file database", ctx do
    block = Enum.find(elixir_blocks(), &String.contains?(&1, "Migrations.CreatePosts"))
    assert block, "the README lost its migration example"
    Code.compile_string(block, "README.md")

    # Named at run time: the module only exists once the README compiled it.
    repo = Module.concat(["MyApp", "Repo"])
    start_supervised!({repo, database: tmp_db!(ctx), log: false})
    repo.query!("CREATE TABLE users (id INTEGER PRIMARY KEY)")
    assert :ok = Ecto.Migrator.up(repo, 1, Module.concat(["MyApp.Repo.Migrations.CreatePosts"]), log: false)

    repo.query!("INSERT INTO users (id) VALUES (1)")
    now = "2026-01-01 00:00:00"

    repo.query!("INSERT INTO posts (title, author_id, inserted_at, updated_at) VALUES ('a', 1, ?, ?)", [now, now])
    # default: 0
    assert %{rows: [[0]]} = repo.query!("SELECT views FROM posts WHERE title = 'a'")

    assert {:error, %EctoLibSql.Error{code: :constraint_unique}} =
             repo.query("INSERT INTO posts (title, inserted_at, updated_at) VALUES ('a', ?, ?)", [now, now])

    # on_delete: :delete_all, with foreign keys on by default.
    repo.query!("DELETE FROM users WHERE id = 1")
    assert %{rows: [[0]]} = repo.query!("SELECT count(*) FROM posts")
  end
end
