defmodule EctoLibSql.MaintenanceTest do
  use ExUnit.Case, async: true

  import EctoLibSql.TestDB, only: [tmp_db!: 1, tmp_db!: 2]

  alias EctoLibSql.{Maintenance, Native}

  defp pool!(path, opts \\ []) do
    start_supervised!({EctoLibSql, Keyword.merge([database: path, pool_size: 2], opts)})
  end

  defp fill!(pool, rows) do
    EctoLibSql.query!(pool, "CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, body TEXT)")
    EctoLibSql.query!(pool, "CREATE INDEX IF NOT EXISTS items_body ON items (body)")

    EctoLibSql.transaction(pool, fn conn ->
      for _ <- 1..rows, do: EctoLibSql.query!(conn, "INSERT INTO items (body) VALUES (?)", [String.duplicate("x", 500)])
    end)
  end

  defp count(path) do
    {:ok, conn} = Native.open(database: path, read_only: true)
    {:ok, %{rows: [[n]]}} = Native.query(conn, "SELECT count(*) FROM items")
    Native.close(conn)
    n
  end

  @tag capability: :maintenance
  test "a backup taken while writers run holds everything committed before it and passes integrity_check", ctx do
    pool = pool!(tmp_db!(ctx))
    fill!(pool, 2_000)
    parent = self()

    # Writers keep committing during the backup.
    writers =
      for _ <- 1..2 do
        Task.async(fn ->
          Stream.repeatedly(fn ->
            receive do
              :stop -> :stop
            after
              0 -> EctoLibSql.query!(pool, "INSERT INTO items (body) VALUES ('during')")
            end
          end)
          |> Enum.take_while(&(&1 != :stop))
          |> length()
          |> tap(fn _ -> send(parent, :stopped) end)
        end)
      end

    target = tmp_db!(ctx, "backup.db")
    assert {:ok, %{bytes: bytes, pages: pages, duration_ms: ms}} = Maintenance.backup(pool, target)
    Enum.each(writers, &send(&1.pid, :stop))
    written = writers |> Task.await_many() |> Enum.sum()

    assert bytes == File.stat!(target).size and pages > 0 and ms >= 0
    assert count(target) >= 2_000
    assert count(target) <= 2_000 + written

    {:ok, restored} = EctoLibSql.start_link(database: target, pool_size: 1)
    assert {:ok, []} = Maintenance.integrity_check(restored)
    assert {:ok, []} = Maintenance.quick_check(restored)
    GenServer.stop(restored)

    assert {:error, %EctoLibSql.Error{code: :misuse}} = Maintenance.backup(pool, target)
  end

  @tag capability: :maintenance
  test "checkpoint, sizes, analyze, optimize, vacuum, incremental_vacuum", ctx do
    path = tmp_db!(ctx)
    pool = pool!(path, auto_vacuum: :incremental)
    fill!(pool, 500)

    assert {:ok, %{wal_bytes: wal, database_bytes: db, path: ^path, page_size: page_size, page_count: pages}} =
             Maintenance.sizes(pool)

    assert wal > 0 and db > 0 and pages * page_size >= db

    assert {:ok, %{busy: false, log_frames: log, checkpointed_frames: log}} = Maintenance.checkpoint(pool, :passive)
    assert log > 0
    assert {:ok, %{busy: false}} = Maintenance.checkpoint(pool, :truncate)
    assert {:ok, %{wal_bytes: 0}} = Maintenance.sizes(pool)

    assert :ok = Maintenance.analyze(pool)
    assert %{rows: [[n]]} = EctoLibSql.query!(pool, "SELECT count(*) FROM sqlite_stat1")
    assert n > 0

    EctoLibSql.query!(pool, "DELETE FROM items")
    assert {:ok, %{freelist_count: free}} = Maintenance.sizes(pool)
    assert free > 0
    assert :ok = Maintenance.incremental_vacuum(pool, 5)
    assert {:ok, %{freelist_count: fewer}} = Maintenance.sizes(pool)
    assert fewer == free - 5

    assert :ok = Maintenance.optimize(pool)
    assert :ok = Maintenance.vacuum(pool)
    assert {:ok, %{freelist_count: 0}} = Maintenance.sizes(pool)

    assert {:error, %EctoLibSql.Error{code: :invalid_option}} = Maintenance.checkpoint(pool, :sideways)
  end

  @tag capability: :writable_schema
  test "integrity_check and quick_check report a damaged database", ctx do
    path = tmp_db!(ctx)
    conn = EctoLibSql.TestDB.open!(database: path)

    for sql <- [
          "CREATE TABLE t (a INTEGER, b INTEGER)",
          "CREATE INDEX ta ON t (a)",
          "CREATE INDEX tb ON t (b)",
          "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 50) INSERT INTO t SELECT x, -x FROM n",
          "PRAGMA writable_schema = ON"
        ] do
      assert {:ok, _} = Native.query(conn, sql)
    end

    # Indexes ta and tb swap their pages: each index's entries no longer
    # match the column it claims to index.
    {:ok, %{rows: [[ta], [tb]]}} =
      Native.query(conn, "SELECT rootpage FROM sqlite_schema WHERE name IN ('ta', 'tb') ORDER BY name")

    {:ok, _} = Native.query(conn, "UPDATE sqlite_schema SET rootpage = ? WHERE name = 'ta'", [tb])
    {:ok, _} = Native.query(conn, "UPDATE sqlite_schema SET rootpage = ? WHERE name = 'tb'", [ta])
    Native.close(conn)
    pool = pool!(path)
    assert {:ok, [_ | _] = problems} = Maintenance.integrity_check(pool, max_errors: 5)
    assert length(problems) <= 5
    assert Enum.any?(problems, &(&1 =~ "ta"))
    # quick_check skips comparing indexes with their tables.
    assert {:ok, []} = Maintenance.quick_check(pool)
  end

  test "the WAL shrinks back under journal_size_limit once a long reader ends", ctx do
    limit = 64 * 1024
    pool = pool!(tmp_db!(ctx), journal_size_limit: limit)
    fill!(pool, 10)
    parent = self()

    reader =
      Task.async(fn ->
        EctoLibSql.transaction(
          pool,
          fn conn ->
            EctoLibSql.query!(conn, "SELECT count(*) FROM items")
            send(parent, :reading)

            receive do
              :done -> :ok
            end
          end,
          mode: :deferred
        )
      end)

    assert_receive :reading
    # The reader's snapshot keeps checkpoints from resetting the WAL.
    fill!(pool, 2_000)
    assert {:ok, %{wal_bytes: grown}} = Maintenance.sizes(pool)
    assert grown > 10 * limit

    send(reader.pid, :done)
    Task.await(reader)
    assert {:ok, %{busy: false}} = Maintenance.checkpoint(pool, :passive)
    # The next write restarts the WAL from its beginning and truncates it.
    EctoLibSql.query!(pool, "INSERT INTO items (body) VALUES ('after')")
    assert {:ok, %{wal_bytes: wal}} = Maintenance.sizes(pool)
    assert wal <= limit
  end

  @tag capability: :pragmas
  test "journal_size_limit defaults to 64 MiB on local files", ctx do
    pool = pool!(tmp_db!(ctx))
    assert %{rows: [[67_108_864]]} = EctoLibSql.query!(pool, "PRAGMA journal_size_limit")
  end

  @tag capability: :maintenance
  test "stopping a pool closes its connections: the WAL is checkpointed and removed at once", ctx do
    path = tmp_db!(ctx)
    {:ok, pool} = EctoLibSql.start_link(database: path, pool_size: 3)
    fill!(pool, 10)
    assert File.exists?(path <> "-wal")
    GenServer.stop(pool)
    refute File.exists?(path <> "-wal")
  end

  test "maintenance of a :memory: pool works on the pool's database" do
    pool = pool!(":memory:")
    fill!(pool, 10)
    assert {:ok, %{path: "", wal_bytes: 0, page_count: pages}} = Maintenance.sizes(pool)
    assert pages > 0
    assert {:ok, []} = Maintenance.integrity_check(pool)
  end
end
