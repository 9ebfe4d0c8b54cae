defmodule Ecto.Adapters.LibSql.SandboxCopyTest do
  # `sandbox: :copy`: each sandbox owner works on a private copy of the
  # test database. Not async: the tests count the copy files this VM makes.
  use ExUnit.Case, async: false

  # Needs what the turso engine lacks (ECTO_LIBSQL_ENGINE=turso excludes it).
  @moduletag capability: :sandbox_copy

  import EctoLibSql.TestDB, only: [tmp_db!: 1]

  alias Ecto.Adapters.SQL.Sandbox

  defmodule Repo do
    use Ecto.Repo, otp_app: :ecto_libsql, adapter: Ecto.Adapters.LibSql
  end

  defmodule Item do
    use Ecto.Schema

    schema "items" do
      field(:owner, :string)
    end
  end

  @owners 40

  defp start_repo!(database, opts \\ []) do
    opts = Keyword.merge([database: database, pool: Sandbox, sandbox: :copy, pool_size: 4, log: false], opts)
    start_supervised!({Repo, opts})
    # As in a Phoenix app's test_helper.exs.
    Sandbox.mode(Repo, :manual)

    # The migrated test database, as `mix test`'s ecto.migrate leaves it.
    Sandbox.unboxed_run(Repo, fn ->
      Repo.query!("CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, owner TEXT)")
      Repo.query!("PRAGMA wal_checkpoint(TRUNCATE)")
    end)
  end

  defp copies do
    for dir <- ["/dev/shm", System.tmp_dir!()],
        file <- Path.wildcard(Path.join(dir, "ecto_libsql-#{System.pid()}-copy-*")),
        do: file
  end

  defp sha(path), do: :crypto.hash(:sha256, File.read!(path))

  test "owners work in parallel on private copies, and the test file is never written", ctx do
    path = tmp_db!(ctx)
    start_repo!(path, pool_size: @owners)
    before = sha(path)
    parent = self()

    # Every owner inserts, then waits until all owners have inserted before
    # it reads: with one sandbox at a time (a transaction on the shared file
    # holding its write lock) the first owner would wait forever.
    owners =
      for i <- 1..@owners do
        Task.async(fn ->
          owner = Sandbox.start_owner!(Repo, shared: false)
          name = "owner #{i}"
          Repo.insert!(%Item{owner: name})
          send(parent, {:inserted, self()})

          receive do
            :all_inserted -> :ok
          end

          seen = Repo.all(Item) |> Enum.map(& &1.owner)
          Sandbox.stop_owner(owner)
          seen == [name]
        end)
      end

    for _ <- 1..@owners, do: assert_receive({:inserted, _}, 30_000)
    Enum.each(owners, &send(&1.pid, :all_inserted))
    assert Enum.all?(Task.await_many(owners, 30_000))

    assert [] = Sandbox.unboxed_run(Repo, fn -> Repo.all(Item) end)
    assert sha(path) == before
    assert copies() == []
  end

  test "a sandboxed test behaves as under the standard sandbox", ctx do
    start_repo!(tmp_db!(ctx))
    Sandbox.checkout(Repo)

    # A transaction inside the test is a savepoint on the copy.
    assert {:error, :undone} =
             Repo.transaction(fn ->
               Repo.insert!(%Item{owner: "rolled back"})
               Repo.rollback(:undone)
             end)

    {:ok, _} = Repo.transaction(fn -> Repo.insert!(%Item{owner: "kept"}) end)
    assert {3, _} = Repo.insert_all(Item, [%{owner: "a"}, %{owner: "b"}, %{owner: "c"}])

    # Processes allowed into the sandbox see and write the same copy.
    parent = self()

    counts =
      1..4
      |> Task.async_stream(fn i ->
        Sandbox.allow(Repo, parent, self())
        Repo.insert!(%Item{owner: "task #{i}"})
        :ok
      end)
      |> Enum.to_list()

    assert length(counts) == 4
    assert Repo.aggregate(Item, :count) == 8

    {:ok, owners} = Repo.transaction(fn -> Repo.stream(Item, max_rows: 3) |> Enum.map(& &1.owner) end)

    refute "rolled back" in owners
    assert length(owners) == 8

    # DDL inside a test stays inside it.
    Repo.query!("CREATE TABLE scratch (x INTEGER)")
    Repo.query!("INSERT INTO scratch VALUES (1)")
    Sandbox.checkin(Repo)

    Sandbox.checkout(Repo)
    assert Repo.aggregate(Item, :count) == 0
    assert {:error, %EctoLibSql.Error{message: message}} = Repo.query("SELECT * FROM scratch")
    assert message =~ "no such table"
    Sandbox.checkin(Repo)
  end

  test "shared mode: other processes use the owner's copy", ctx do
    start_repo!(tmp_db!(ctx))
    Sandbox.checkout(Repo)
    Sandbox.mode(Repo, {:shared, self()})
    Task.await(Task.async(fn -> Repo.insert!(%Item{owner: "shared"}) end))
    assert [%Item{owner: "shared"}] = Repo.all(Item)
    Sandbox.checkin(Repo)
  end

  test "copies start from the database as it is after unsandboxed changes", ctx do
    start_repo!(tmp_db!(ctx))
    Sandbox.checkout(Repo)
    assert Repo.aggregate(Item, :count) == 0
    Sandbox.checkin(Repo)

    # A migration (or any write outside the sandbox) after the first copy.
    Sandbox.unboxed_run(Repo, fn -> Repo.insert!(%Item{owner: "migrated"}) end)

    Sandbox.checkout(Repo)
    assert [%Item{owner: "migrated"}] = Repo.all(Item)
    Sandbox.checkin(Repo)
  end

  test "a :memory: Repo gives each owner a copy of the pool's database" do
    start_repo!(":memory:")
    Sandbox.unboxed_run(Repo, fn -> Repo.insert!(%Item{owner: "seed"}) end)

    first =
      Task.async(fn ->
        Sandbox.checkout(Repo)
        Repo.insert!(%Item{owner: "first"})
        Repo.all(Item) |> Enum.map(& &1.owner) |> Enum.sort()
      end)

    assert Task.await(first) == ["first", "seed"]

    Sandbox.checkout(Repo)
    assert [%Item{owner: "seed"}] = Repo.all(Item)
    Sandbox.checkin(Repo)
  end

  test "sandbox: :copy is refused where it cannot work" do
    assert {:error, %EctoLibSql.Error{code: :invalid_option, message: message}} =
             EctoLibSql.Config.normalize(uri: "http://127.0.0.1:1", sandbox: :copy)

    assert message =~ "local database"

    assert {:error, %EctoLibSql.Error{code: :invalid_option}} =
             EctoLibSql.Config.normalize(database: "x.db", sandbox: :yes)
  end

  # The pool logs the disconnect the failed checkout causes.
  @tag :capture_log
  test "without the option, a test waiting too long for the write lock is told about it", ctx do
    opts = [database: tmp_db!(ctx), pool: Sandbox, pool_size: 2, log: false]
    start_supervised!({Repo, opts})
    Sandbox.mode(Repo, :manual)
    Sandbox.unboxed_run(Repo, fn -> Repo.query!("CREATE TABLE items (id INTEGER PRIMARY KEY, owner TEXT)") end)

    parent = self()
    handler = "sandbox-reconnect-#{inspect(parent)}"
    :telemetry.attach(handler, [:ecto_libsql, :connect], fn _, _, _, _ -> send(parent, :reconnected) end, nil)
    on_exit(fn -> :telemetry.detach(handler) end)

    # The standard sandbox: this test's transaction holds the write lock.
    Sandbox.checkout(Repo)
    Repo.insert!(%Item{owner: "holder"})

    waiter =
      Task.async(fn ->
        try do
          Sandbox.checkout(Repo, timeout: 200)
        rescue
          e -> {:raised, e}
        end
      end)

    assert {:raised, %EctoLibSql.Error{code: :timeout, message: message}} = Task.await(waiter)
    assert message =~ "sandbox: :copy"
    Sandbox.checkin(Repo)
    # The sandbox disconnects a connection whose checkout failed; the test
    # ends once the pool has replaced it, so nothing opens the file later.
    assert_receive :reconnected, 5_000
  end
end
