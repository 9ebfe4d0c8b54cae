defmodule EctoLibSql.ConfigTest do
  # Pool and Repo options: nothing unknown is dropped silently, bad values
  # fail start_link before the pool starts, ecto_sqlite3's options mean the
  # same here or say what to use, and secrets show nowhere.
  use EctoLibSql.DriverCase, async: true

  alias EctoLibSql.{Error, Result}

  defp start_error(opts) do
    Process.flag(:trap_exit, true)
    assert {:error, %Error{code: :invalid_option, message: message}} = EctoLibSql.start_link(opts)
    message
  end

  test "an unknown option is an error naming it and the closest valid one", %{path: path} do
    assert start_error(database: path, jounral_mode: :wal) =~
             ~r/unknown option :jounral_mode.*did you mean :journal_mode/

    assert start_error(database: path, busy_timout: 100) =~ "did you mean :busy_timeout"
    assert start_error(database: path, frobnicate: true) == "unknown option :frobnicate"
  end

  test "bad values fail start_link before any connection starts", %{path: path} do
    assert start_error(database: path, default_transaction_mode: :eventual) =~
             ":default_transaction_mode must be one of"

    assert start_error(database: path, pool_size: 0) =~ ":pool_size must be a positive integer"
    assert start_error(database: path, binary_id_type: :bogus) =~ ":binary_id_type must be one of"
    assert start_error(database: path, datetime_type: :unix) =~ ":datetime_type must be one of"
    assert start_error(database: path, custom_pragmas: [{"x", %{}}]) =~ ":custom_pragmas"
    assert start_error(database: path, mode: :sometimes) =~ ":mode must be"
    refute File.exists?(path)
  end

  test "ecto_sqlite3's :key is refused, pointing at :encryption_key", %{path: path} do
    assert start_error(database: path, key: "secret") =~ ":encryption_key"
    assert start_error(database: path, load_extensions: ["x"]) =~ "load_extension/3"
  end

  test "mode: :readonly opens the file read-only", %{path: path} do
    writer = start_pool!(database: path)
    EctoLibSql.query!(writer, "CREATE TABLE t (a INTEGER)")
    reader = start_pool!(database: path, mode: :readonly)
    assert %Result{rows: [[0]]} = EctoLibSql.query!(reader, "SELECT count(*) FROM t")
    assert {:error, %Error{code: :readonly}} = EctoLibSql.query(reader, "INSERT INTO t VALUES (1)")
  end

  @tag capability: :pragmas
  test "ecto_sqlite3's pragma options set their pragmas on every connection", %{path: path} do
    pool =
      start_pool!(
        database: path,
        pool_size: 2,
        journal_size_limit: 4_194_304,
        wal_auto_check_point: 500,
        cache_spill: false,
        secure_delete: true,
        case_sensitive_like: true
      )

    for _ <- 1..2 do
      assert %Result{rows: [[4_194_304]]} = EctoLibSql.query!(pool, "PRAGMA journal_size_limit")
      assert %Result{rows: [[500]]} = EctoLibSql.query!(pool, "PRAGMA wal_autocheckpoint")
      assert %Result{rows: [[0]]} = EctoLibSql.query!(pool, "PRAGMA cache_spill")
      assert %Result{rows: [[1]]} = EctoLibSql.query!(pool, "PRAGMA secure_delete")
    end

    # case_sensitive_like is write-only; its effect shows in LIKE.
    assert %Result{rows: [[0]]} = EctoLibSql.query!(pool, "SELECT 'A' LIKE 'a'")
  end

  @tag capability: :encryption
  test "secrets show in no child spec, option list or connection state", %{path: path} do
    secret = "k-#{System.unique_integer([:positive])}-do-not-print"
    refute inspect(EctoLibSql.child_spec(database: path, encryption_key: secret), limit: :infinity) =~ secret

    pool = start_pool!(database: path, encryption_key: secret, pool_size: 2)
    EctoLibSql.query!(pool, "CREATE TABLE t (a INTEGER)")

    # Every connection process of the VM (other async tests' pools may be
    # stopping meanwhile); this pool's two are those that hold its path.
    states =
      for pid <- Process.list(),
          {:dictionary, dictionary} <- [Process.info(pid, :dictionary)],
          dictionary[:"$initial_call"] == {DBConnection.Connection, :init, 1},
          state = connection_state(pid),
          inspect(state, limit: :infinity, printable_limit: :infinity) =~ path,
          do: state

    assert length(states) == 2
    refute inspect(states, limit: :infinity, printable_limit: :infinity) =~ secret
  end

  defp connection_state(pid) do
    :sys.get_state(pid, 1_000)
  catch
    :exit, _ -> nil
  end

  describe "slow-query log" do
    import ExUnit.CaptureLog

    test "statements over slow_query_ms are logged with their SQL, parameters only when asked", ctx do
      path = EctoLibSql.TestDB.tmp_db!(ctx)
      quiet = start_supervised!({EctoLibSql, database: path, slow_query_ms: 0}, id: :quiet)
      loud = start_supervised!({EctoLibSql, database: path, slow_query_ms: 0, log_slow_query_params: true}, id: :loud)
      off = start_supervised!({EctoLibSql, database: path}, id: :off)

      log = capture_log([level: :warning], fn -> EctoLibSql.query!(quiet, "SELECT ? AS secret", ["s3cr3t"]) end)
      assert log =~ ~r/slow query \([0-9.]+ ms\): SELECT \? AS secret/
      refute log =~ "s3cr3t"

      log = capture_log([level: :warning], fn -> EctoLibSql.query!(loud, "SELECT ? AS secret", ["s3cr3t"]) end)
      assert log =~ "s3cr3t"

      # (Logs are global: other tests' lines may show up, never this query.)
      refute capture_log([level: :warning], fn -> EctoLibSql.query!(off, "SELECT 1 AS not_logged") end) =~ "not_logged"
    end

    test "bad values are refused" do
      assert {:error, %EctoLibSql.Error{code: :invalid_option}} =
               EctoLibSql.Config.normalize(database: "x", slow_query_ms: -1)

      assert {:error, %EctoLibSql.Error{code: :invalid_option}} =
               EctoLibSql.Config.normalize(database: "x", log_slow_query_params: 1)
    end
  end
end
