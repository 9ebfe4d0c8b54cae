# The EctoLibSql demo (bin/demo): an Ecto Repo on a libSQL file database.
Logger.configure(level: :warning)

defmodule Demo.Repo do
  use Ecto.Repo, otp_app: :ecto_libsql_demo, adapter: Ecto.Adapters.LibSql
end

defmodule Demo.Migration do
  use Ecto.Migration

  def change do
    create table(:posts) do
      add(:title, :string, null: false)
      add(:views, :integer, default: 0)
      timestamps()
    end

    create(unique_index(:posts, [:title]))
  end
end

defmodule Demo.Post do
  use Ecto.Schema
  import Ecto.Changeset

  schema "posts" do
    field(:title, :string)
    field(:views, :integer, default: 0)
    timestamps()
  end

  def changeset(post, attrs) do
    post
    |> cast(attrs, [:title, :views])
    |> validate_required([:title])
    |> unique_constraint(:title)
  end
end

defmodule Demo do
  @moduledoc false
  import Ecto.Query
  alias Demo.{Post, Repo}

  def main do
    dir = Path.join(System.tmp_dir!(), "ecto_libsql_demo")
    File.rm_rf!(dir)
    File.mkdir_p!(dir)
    database = Path.join(dir, "demo.db")

    # Count how many queries reuse a prepared statement from the connection's cache.
    counter = :counters.new(2, [])

    :telemetry.attach(
      "demo-cache",
      [:ecto_libsql, :query],
      fn _event, _measurements, meta, _ -> :counters.add(counter, if(meta.cached, do: 1, else: 2), 1) end,
      nil
    )

    {:ok, _} = Repo.start_link(database: database, pool_size: 2, log: false)

    IO.puts(
      "EctoLibSql demo: an Ecto Repo on the libSQL file #{database} (SQLite #{EctoLibSql.Native.sqlite_version()})\n"
    )

    %{rows: [[journal]]} = Repo.query!("PRAGMA journal_mode")
    %{rows: [[fk]]} = Repo.query!("PRAGMA foreign_keys")
    IO.puts("Defaults for a file database: journal mode #{journal}, foreign keys #{if fk == 1, do: "on", else: "off"}")

    :ok = Ecto.Migrator.up(Repo, 1, Demo.Migration, log: false)
    IO.puts("Migration 1 ran: table posts with a unique index on title\n")

    for {title, views} <- [{"Hello libSQL", 10}, {"Ecto on SQLite", 25}, {"Embedded replicas", 40}] do
      {:ok, post} = %Post{} |> Post.changeset(%{title: title, views: views}) |> Repo.insert()
      IO.puts("Inserted post #{post.id}: #{inspect(post.title)} (#{post.views} views)")
    end

    {:error, changeset} = %Post{} |> Post.changeset(%{title: "Hello libSQL"}) |> Repo.insert()
    {message, _} = changeset.errors[:title]
    IO.puts("A second \"Hello libSQL\" is refused by the unique index, as a changeset error: title #{message}\n")

    popular = Repo.all(from(p in Post, where: p.views >= 20, order_by: [desc: p.views], select: {p.title, p.views}))
    IO.puts("Posts with at least 20 views: #{inspect(popular)}")

    {:ok, total} =
      Repo.transaction(fn ->
        {n, _} = Repo.update_all(Post, inc: [views: 1])
        IO.puts("In a transaction: every post gets one more view (#{n} rows updated)")
        Repo.aggregate(Post, :sum, :views)
      end)

    IO.puts("Total views after commit: #{total}")

    result =
      Repo.transaction(fn ->
        Repo.insert!(%Post{title: "Draft"})
        Repo.rollback(:changed_my_mind)
      end)

    IO.puts("A transaction rolled back with #{inspect(result)}; posts now: #{Repo.aggregate(Post, :count)}\n")

    {:ok, titles} =
      Repo.transaction(fn ->
        from(p in Post, order_by: p.id, select: p.title) |> Repo.stream(max_rows: 2) |> Enum.to_list()
      end)

    IO.puts("Repo.stream read the titles two rows at a time: #{inspect(titles)}")

    for id <- 1..100, do: Repo.get(Post, rem(id, 3) + 1)
    cached = :counters.get(counter, 1)
    prepared = :counters.get(counter, 2)

    IO.puts(
      "\nStatement cache: of #{cached + prepared} queries, #{cached} reused a prepared statement " <>
        "and #{prepared} were prepared (100 Repo.get calls share one statement per connection)"
    )
  end
end

Demo.main()
