defmodule Ecto.Adapters.LibSql.MigrationLockTest do
  # Migrators of one database file take turns: the lock is an OS lock on
  # a file beside the database, held by one pooled connection.
  use ExUnit.Case, async: true

  import EctoLibSql.TestDB, only: [tmp_db!: 1]

  alias EctoLibSql.Native

  defmodule Repo do
    use Ecto.Repo, otp_app: :ecto_libsql, adapter: Ecto.Adapters.LibSql
  end

  defmodule SmallRepo do
    use Ecto.Repo, otp_app: :ecto_libsql, adapter: Ecto.Adapters.LibSql
  end

  defmodule CreateThings do
    use Ecto.Migration

    def change do
      create table(:things) do
        add(:name, :string)
      end
    end
  end

  setup ctx do
    path = tmp_db!(ctx)
    start_supervised!({Repo, database: path, log: false, pool_size: 2})
    {:ok, path: path, lock: path <> "-migrations.lock"}
  end

  test "a migrator waits while another holder has the lock, then runs", %{path: path, lock: lock} do
    {:ok, holder} = Native.open(database: path)
    :ok = Native.lock_file(holder, lock)

    # Another OS process sees the lock too.
    assert {_, 1} = System.cmd("flock", ["-n", lock, "true"])

    migrator = Task.async(fn -> Ecto.Migrator.up(Repo, 1, CreateThings, log: false) end)
    assert Task.yield(migrator, 300) == nil
    # (Ecto.Migrator.migrated_versions/1 would wait for the lock too.)
    assert Repo.query!("SELECT version FROM schema_migrations").rows == []

    :ok = Native.unlock_file(holder)
    assert Task.await(migrator) == :ok
    assert Ecto.Migrator.migrated_versions(Repo) == [1]
    # Released after the migration.
    assert {_, 0} = System.cmd("flock", ["-n", lock, "true"])
    Native.close(holder)
  end

  test "a lock wait ends with the caller's timeout; closing a holder releases its lock", %{path: path, lock: lock} do
    {:ok, holder} = Native.open(database: path)
    {:ok, other} = Native.open(database: path)
    :ok = Native.lock_file(holder, lock)
    assert {:error, %EctoLibSql.Error{code: :timeout}} = Native.lock_file(other, lock, timeout: 100)
    assert {:error, %EctoLibSql.Error{code: :misuse}} = Native.lock_file(holder, lock)

    :ok = Native.close(holder)
    assert :ok = Native.lock_file(other, lock, timeout: 5_000)
    Native.close(other)
  end

  test "a pool of one cannot hold the lock and migrate: refused with the pool size error", ctx do
    start_supervised!({SmallRepo, database: tmp_db!(ctx), log: false, pool_size: 1})

    assert_raise Ecto.MigrationError, ~r/connection pool size is less than 2/, fn ->
      Ecto.Migrator.up(SmallRepo, 1, CreateThings, log: false)
    end

    assert Ecto.Migrator.up(SmallRepo, 1, CreateThings, log: false, migration_lock: false) == :ok
  end
end
