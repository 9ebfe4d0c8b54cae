defmodule EctoLibSql.OpenTest do
  use ExUnit.Case, async: true

  import EctoLibSql.TestDB
  alias EctoLibSql.{Error, Native}

  describe "open/1 with a local file" do
    test "applies the defaults: WAL, synchronous NORMAL, foreign keys, 5 s busy timeout", ctx do
      conn = open!(database: tmp_db!(ctx))
      assert Native.pragma(conn, :journal_mode) == {:ok, "wal"}
      assert Native.pragma(conn, :synchronous) == {:ok, 1}
      assert Native.pragma(conn, :foreign_keys) == {:ok, 1}
      assert Native.pragma(conn, :busy_timeout) == {:ok, 5000}
      assert {:ok, %{capacity: 256}} = Native.cache_stats(conn)
    end

    test "creates the file and keeps data across connections", ctx do
      path = tmp_db!(ctx)
      conn = open!(database: path)
      {:ok, _} = Native.execute(conn, "CREATE TABLE t (x INTEGER)")
      {:ok, 1} = Native.execute(conn, "INSERT INTO t VALUES (42)")
      :ok = Native.close(conn)
      assert File.exists?(path)

      again = open!(database: path)
      assert rows!(again, "SELECT x FROM t") == [[42]]
    end

    @tag capability: :journal_modes
    test "applies every connection option and custom pragma", ctx do
      conn =
        open!(
          database: tmp_db!(ctx),
          journal_mode: :delete,
          synchronous: :full,
          foreign_keys: false,
          busy_timeout: 10,
          cache_size: -4000,
          temp_store: :memory,
          custom_pragmas: [{:user_version, 7}, {"application_id", 42}],
          statement_cache_size: 16
        )

      assert Native.pragma(conn, :journal_mode) == {:ok, "delete"}
      assert Native.pragma(conn, :synchronous) == {:ok, 2}
      assert Native.pragma(conn, :foreign_keys) == {:ok, 0}
      assert Native.pragma(conn, :busy_timeout) == {:ok, 10}
      assert Native.pragma(conn, :cache_size) == {:ok, -4000}
      assert Native.pragma(conn, :temp_store) == {:ok, 2}
      assert Native.pragma(conn, :user_version) == {:ok, 7}
      assert Native.pragma(conn, :application_id) == {:ok, 42}
      assert {:ok, %{capacity: 16}} = Native.cache_stats(conn)
    end

    @tag capability: :journal_modes
    test "journal_mode :wal and :truncate are honoured", ctx do
      dir = tmp_dir!(ctx)
      wal = open!(database: Path.join(dir, "a.db"), journal_mode: :wal)
      truncate = open!(database: Path.join(dir, "b.db"), journal_mode: :truncate)
      assert Native.pragma(wal, :journal_mode) == {:ok, "wal"}
      assert Native.pragma(truncate, :journal_mode) == {:ok, "truncate"}
    end

    test "statement_cache_size 0 disables the statement cache but queries still run", ctx do
      conn = open!(database: tmp_db!(ctx), statement_cache_size: 0)

      for _ <- 1..3, do: assert(rows!(conn, "SELECT 1") == [[1]])

      assert {:ok, %{capacity: 0, size: 0, hits: 0}} = Native.cache_stats(conn)
    end

    test "read_only connections read but refuse writes with :readonly", ctx do
      path = tmp_db!(ctx)
      writer = open!(database: path)
      {:ok, _} = Native.execute(writer, "CREATE TABLE t (x INTEGER)")
      {:ok, 1} = Native.execute(writer, "INSERT INTO t VALUES (1)")

      reader = open!(database: path, read_only: true)
      assert rows!(reader, "SELECT x FROM t") == [[1]]
      assert_error(Native.execute(reader, "INSERT INTO t VALUES (2)"), :readonly)
      assert_error(Native.execute(reader, "CREATE TABLE u (y)"), :readonly)
      assert rows!(writer, "SELECT count(*) FROM t") == [[1]]
    end

    test "read_only on a missing file fails instead of creating it", ctx do
      path = tmp_db!(ctx, "missing.db")
      assert_error(Native.open(database: path, read_only: true), :cantopen)
      refute File.exists?(path)
    end

    test "a path in a missing directory fails with an error", ctx do
      path = Path.join([tmp_dir!(ctx), "no", "such", "dir", "x.db"])
      assert {:error, %Error{}} = Native.open(database: path)
    end
  end

  describe "open/1 with :encryption_key" do
    @tag capability: :encryption
    test "encrypts the file: without the right key it cannot be read", ctx do
      path = tmp_db!(ctx)
      conn = open!(database: path, encryption_key: "s3cret")
      {:ok, _} = Native.execute(conn, "CREATE TABLE s (x TEXT)")
      {:ok, 1} = Native.execute(conn, "INSERT INTO s VALUES ('plaintext-marker')")
      :ok = Native.close(conn)

      contents = File.read!(path)
      assert :binary.match(contents, "SQLite format 3") == :nomatch
      assert :binary.match(contents, "plaintext-marker") == :nomatch

      for opts <- [[database: path], [database: path, encryption_key: "wrong"]] do
        result =
          with {:ok, c} <- Native.open(opts) do
            try do
              Native.query(c, "SELECT x FROM s")
            after
              Native.close(c)
            end
          end

        assert {:error, %Error{code: code}} = result
        assert code in [:notadb, :corrupt]
      end

      reopened = open!(database: path, encryption_key: "s3cret")
      assert rows!(reopened, "SELECT x FROM s") == [["plaintext-marker"]]
    end
  end

  describe "open/1 with :memory:" do
    test "gives each open its own private database" do
      a = open_memory!()
      b = open_memory!()
      {:ok, _} = Native.execute(a, "CREATE TABLE only_in_a (x)")
      assert rows!(a, "SELECT count(*) FROM only_in_a") == [[0]]
      assert_error(Native.query(b, "SELECT * FROM only_in_a"), :error)
    end

    test "applies foreign_keys and synchronous defaults" do
      conn = open_memory!()
      assert Native.pragma(conn, :foreign_keys) == {:ok, 1}
      assert Native.pragma(conn, :busy_timeout) == {:ok, 5000}
    end
  end

  describe "open/1 option validation" do
    test "foreign_keys also takes ecto_sqlite3's :on and :off" do
      assert Native.pragma(open_memory!(foreign_keys: :off), :foreign_keys) == {:ok, 0}
      assert Native.pragma(open_memory!(foreign_keys: :on), :foreign_keys) == {:ok, 1}
      assert_error(Native.open(database: ":memory:", foreign_keys: :maybe), :invalid_option)
    end

    test "an unknown option is :invalid_option naming it" do
      error = assert_error(Native.open(database: ":memory:", bogus: 1), :invalid_option)
      assert error.message =~ ":bogus"
    end

    for {key, value} <- [
          database: 1,
          database: "",
          uri: :nope,
          auth_token: 5,
          encryption_key: "",
          sync_interval: 0,
          read_your_writes: "yes",
          read_only: 1,
          busy_timeout: -1,
          busy_timeout: "5000",
          journal_mode: :bogus,
          synchronous: 3,
          foreign_keys: :yes,
          cache_size: 1.5,
          temp_store: :disk,
          custom_pragmas: [:not_a_pair],
          custom_pragmas: [{"x", 1.5}],
          statement_cache_size: -5
        ] do
      test "an ill-typed #{inspect(key)} (#{inspect(value)}) is :invalid_option naming it" do
        opts = Keyword.merge([database: ":memory:"], [{unquote(key), unquote(Macro.escape(value))}])
        error = assert_error(Native.open(opts), :invalid_option)
        assert error.message =~ inspect(unquote(key))
      end
    end

    test "options that are not a keyword list are :invalid_option" do
      assert_error(Native.open(:memory), :invalid_option)
      assert_error(Native.open([{"database", ":memory:"}]), :invalid_option)
    end

    test "no :database and no :uri is :invalid_option" do
      error = assert_error(Native.open(busy_timeout: 1), :invalid_option)
      assert error.message =~ ":database"
    end
  end

  describe "open_database/1 and connect/2" do
    test "two connections to one :memory: database see the same tables" do
      {:ok, db} = Native.open_database(database: ":memory:")
      {:ok, a} = Native.connect(db, database: ":memory:")
      {:ok, b} = Native.connect(db, database: ":memory:")
      {:ok, _} = Native.execute(a, "CREATE TABLE shared (x INTEGER)")
      {:ok, 1} = Native.execute(a, "INSERT INTO shared VALUES (5)")
      assert rows!(b, "SELECT x FROM shared") == [[5]]
      assert Native.database(a) == db and Native.database(b) == db
      Native.close(a)
      assert rows!(b, "SELECT x FROM shared") == [[5]]
      Native.close(b)
    end

    test "connect/2 with only connection options uses the database's defaults" do
      {:ok, db} = Native.open_database(database: ":memory:")
      assert {:ok, conn} = Native.connect(db, busy_timeout: 123)
      assert Native.pragma(conn, :busy_timeout) == {:ok, 123}
      assert Native.pragma(conn, :foreign_keys) == {:ok, 1}
      assert {:ok, conn2} = Native.connect(db, [])
      assert Native.ping(conn2) == :ok
    end

    test "connect/2 applies its own per-connection options" do
      {:ok, db} = Native.open_database(database: ":memory:")
      {:ok, conn} = Native.connect(db, database: ":memory:", foreign_keys: false, statement_cache_size: 3)
      assert Native.pragma(conn, :foreign_keys) == {:ok, 0}
      assert {:ok, %{capacity: 3}} = Native.cache_stats(conn)
    end

    test "open_database/1 and connect/2 reject bad options" do
      assert_error(Native.open_database(database: ":memory:", nope: true), :invalid_option)
      {:ok, db} = Native.open_database(database: ":memory:")
      assert_error(Native.connect(db, busy_timeout: :forever), :invalid_option)
    end

    test "sqlite_version/0 names the bundled SQLite" do
      assert Native.sqlite_version() =~ ~r/^3\.\d+\.\d+/
    end
  end

  describe "open/1 with a primary that never answers" do
    # A listener that accepts connections (the kernel's backlog does) and
    # never replies: what a hung primary looks like to a replica.
    setup do
      {:ok, socket} = :gen_tcp.listen(0, [:binary, active: false, ip: {127, 0, 0, 1}])
      {:ok, port} = :inet.port(socket)
      on_exit(fn -> :gen_tcp.close(socket) end)
      %{url: "http://127.0.0.1:#{port}"}
    end

    @tag timeout: 60_000
    test "a replica that never synced gives up as :unavailable instead of hanging", ctx do
      started = System.monotonic_time(:millisecond)
      path = Path.join(EctoLibSql.TestDB.tmp_dir!(ctx), "replica.db")
      assert {:error, %Error{code: :unavailable}} = Native.open(database: path, uri: ctx.url)
      # Bounded by the 10 s the opening gives its primary (with the probe).
      assert System.monotonic_time(:millisecond) - started < 30_000
    end
  end
end
