defmodule EctoLibSql.DriverTest do
  use EctoLibSql.DriverCase, async: true

  alias EctoLibSql.{Error, Query, Result}

  describe "queries" do
    test "query/4 returns results with command, columns and rows", %{path: path} do
      pool = start_pool!(database: path, pool_size: 2)

      assert {:ok, %Result{command: :create}} =
               EctoLibSql.query(pool, "CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT)")

      assert {:ok, %Result{command: :insert, num_rows: 1, rows: nil}} =
               EctoLibSql.query(pool, "INSERT INTO t (a) VALUES (?)", ["x"])

      assert {:ok, %Result{command: :select, columns: ["id", "a"], rows: [[1, "x"]], num_rows: 1}} =
               EctoLibSql.query(pool, "SELECT id, a FROM t", [])

      assert %Result{rows: []} = EctoLibSql.query!(pool, "SELECT id FROM t WHERE a = ?", ["nope"])
    end

    test "errors are returned with their code and raised by query!", %{path: path} do
      pool = start_pool!(database: path)
      assert {:error, %Error{code: :syntax, statement: "SELEC 1"}} = EctoLibSql.query(pool, "SELEC 1", [])
      assert_raise Error, ~r/no such table/, fn -> EctoLibSql.query!(pool, "SELECT * FROM missing", []) end
      # An ordinary error does not cost the connection.
      assert {:ok, %Result{rows: [[1]]}} = EctoLibSql.query(pool, "SELECT 1", [])
    end

    test "a unique violation has code :constraint_unique", %{path: path} do
      pool = start_pool!(database: path)
      EctoLibSql.query!(pool, "CREATE TABLE u (a TEXT UNIQUE)")
      EctoLibSql.query!(pool, "INSERT INTO u VALUES ('x')")
      assert {:error, %Error{code: :constraint_unique}} = EctoLibSql.query(pool, "INSERT INTO u VALUES ('x')")
    end

    test "prepare/execute/close and prepare_execute", %{path: path} do
      pool = start_pool!(database: path)
      assert {:ok, %Query{command: :select, columns: ["x"]} = q} = EctoLibSql.prepare(pool, "q", "SELECT ? AS x")
      assert {:ok, ^q, %Result{rows: [[5]]}} = EctoLibSql.execute(pool, q, [5])
      assert {:ok, _, %Result{rows: [["a"]]}} = EctoLibSql.prepare_execute(pool, "", "SELECT ?", ["a"])
      assert :ok = EctoLibSql.close(pool, q)
      assert {:error, %Error{code: :syntax}} = EctoLibSql.prepare(pool, "bad", "SELEC")
    end

    test "dates, times and decimals are encoded as text", %{path: path} do
      pool = start_pool!(database: path)

      assert %Result{rows: [["2024-01-02", "2024-01-02T03:04:05.000006", "1.50"]]} =
               EctoLibSql.query!(pool, "SELECT ?, ?, ?", [
                 ~D[2024-01-02],
                 ~N[2024-01-02 03:04:05.000006],
                 Decimal.new("1.50")
               ])
    end

    test "typed parameters follow the pool's type options", %{path: path} do
      raw = <<1::128>>
      strings = start_pool!(database: path)

      assert %Result{rows: [["00000000-0000-0000-0000-000000000001"]]} =
               EctoLibSql.query!(strings, "SELECT ?", [{:uuid, raw}])

      blobs = start_pool!(database: path <> ".2", binary_id_type: :binary, datetime_type: :text_datetime)

      # :binary_id_type decides binary ids; :uuid_type (still :string) UUIDs.
      assert %Result{rows: [[^raw, "00000000-0000-0000-0000-000000000001", "2024-01-02 03:04:05.000000"]]} =
               EctoLibSql.query!(blobs, "SELECT ?, ?, ?", [
                 {:binary_id, raw},
                 {:uuid, raw},
                 {:datetime, ~N[2024-01-02 03:04:05]}
               ])

      fields = start_pool!(database: path <> ".3", uuid_type: :binary, datetime_precision: :field)

      assert %Result{rows: [["00000000-0000-0000-0000-000000000001", ^raw, "2024-01-02T03:04:05Z"]]} =
               EctoLibSql.query!(fields, "SELECT ?, ?, ?", [
                 {:binary_id, raw},
                 {:uuid, raw},
                 {:datetime, ~U[2024-01-02 03:04:05Z]}
               ])
    end

    test "SQL holding a second statement is refused, never run half; query_many runs them all", %{path: path} do
      pool = start_pool!(database: path, pool_size: 1)
      EctoLibSql.query!(pool, "CREATE TABLE t (a INTEGER)")

      assert {:error, %Error{code: :misuse, message: message}} =
               EctoLibSql.query(pool, "INSERT INTO t VALUES (1); DROP TABLE t", [])

      assert message =~ "more than one statement"
      assert %Result{rows: [[0]]} = EctoLibSql.query!(pool, "SELECT count(*) FROM t")

      # (libSQL's batch of SQL text reports rows, not change counts.)
      assert {:ok, [%Result{}, %Result{rows: [[1]]}]} =
               EctoLibSql.query_many(pool, "INSERT INTO t VALUES (1); SELECT count(*) FROM t;")

      assert {:error, %Error{code: :misuse}} = EctoLibSql.query_many(pool, "SELECT ?; SELECT ?", [1, 2])

      # A trigger body's semicolons belong to its one statement.
      assert {:ok, _} =
               EctoLibSql.query(
                 pool,
                 "CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET a = a + 1 WHERE a < 0; END",
                 []
               )
    end

    test "SQL that is not valid UTF-8 is an error, and the pooled connection survives it", %{path: path} do
      pool = start_pool!(database: path, pool_size: 1)
      # Only this pool's disconnects: other async tests' pools report theirs.
      id = collect_telemetry([[:ecto_libsql, :disconnect]])
      assert {:error, %Error{code: :misuse}} = EctoLibSql.query(pool, "SELECT '" <> <<0xFF>> <> "'", [])
      refute_received {:telemetry, [:ecto_libsql, :disconnect], _, %{database: ^path}}
      :telemetry.detach(id)
      assert {:ok, %Result{rows: [[1]]}} = EctoLibSql.query(pool, "SELECT 1", [])
    end

    test "a binary that is not valid UTF-8 is stored as a BLOB", %{path: path} do
      pool = start_pool!(database: path)
      raw = <<0xFF, 0xFE, 1, 2>>

      assert %Result{rows: [["blob", ^raw, "text", "é"]]} =
               EctoLibSql.query!(pool, "SELECT typeof(?1), ?1, typeof(?2), ?2", [raw, "é"])
    end

    test "a binary holding a NUL byte is stored as a BLOB and read back whole", %{path: path} do
      pool = start_pool!(database: path)
      EctoLibSql.query!(pool, "CREATE TABLE b (v)")
      EctoLibSql.query!(pool, "INSERT INTO b VALUES (?)", [<<"a", 0, "b">>])
      assert %Result{rows: [["blob", <<"a", 0, "b">>]]} = EctoLibSql.query!(pool, "SELECT typeof(v), v FROM b")
    end

    test "a query prepared on one connection runs on another", %{path: path} do
      pool = start_pool!(database: path, pool_size: 2)
      {:ok, q} = EctoLibSql.prepare(pool, "", "SELECT 41 + ?")

      results =
        1..20
        |> Task.async_stream(fn _ -> EctoLibSql.execute(pool, q, [1]) end, max_concurrency: 4)
        |> Enum.map(fn {:ok, {:ok, _q, %Result{rows: [[n]]}}} -> n end)

      assert results == List.duplicate(42, 20)
    end
  end

  describe "the pool shares one database" do
    test "every connection of a :memory: pool sees the same tables" do
      pool = start_pool!(database: ":memory:", pool_size: 3)
      EctoLibSql.query!(pool, "CREATE TABLE shared (a INTEGER)")

      counts =
        1..12
        |> Task.async_stream(
          fn i ->
            EctoLibSql.query!(pool, "INSERT INTO shared VALUES (?)", [i])
            EctoLibSql.query!(pool, "SELECT count(*) FROM shared", []).rows
          end,
          max_concurrency: 6
        )
        |> Enum.map(fn {:ok, [[n]]} -> n end)

      assert Enum.all?(counts, &(&1 >= 1))
      assert %Result{rows: [[12]]} = EctoLibSql.query!(pool, "SELECT count(*) FROM shared")
    end

    test "pragmas apply on every connection and WAL is set once", %{path: path} do
      pool = start_pool!(database: path, pool_size: 4, custom_pragmas: [cache_size: -4000])

      values =
        for _ <- 1..8 do
          DBConnection.run(pool, fn conn ->
            [
              EctoLibSql.query!(conn, "PRAGMA journal_mode").rows,
              EctoLibSql.query!(conn, "PRAGMA cache_size").rows,
              EctoLibSql.query!(conn, "PRAGMA foreign_keys").rows
            ]
          end)
        end

      assert Enum.uniq(values) == [[[["wal"]], [[-4000]], [[1]]]]
    end
  end

  describe "concurrency" do
    test "50 concurrent clients on a pool of 5", %{path: path} do
      pool = start_pool!(database: path, pool_size: 5)
      EctoLibSql.query!(pool, "CREATE TABLE c (id INTEGER PRIMARY KEY, client INTEGER, n INTEGER)")

      results =
        1..50
        |> Task.async_stream(
          fn client ->
            for n <- 1..20 do
              {:ok, _} = EctoLibSql.query(pool, "INSERT INTO c (client, n) VALUES (?, ?)", [client, n])

              {:ok, %Result{rows: [[count]]}} =
                EctoLibSql.query(pool, "SELECT count(*) FROM c WHERE client = ?", [client])

              count
            end
          end,
          max_concurrency: 50,
          timeout: 60_000
        )
        |> Enum.map(fn {:ok, counts} -> counts end)

      # Each client sees its own writes in order.
      assert Enum.all?(results, &(&1 == Enum.to_list(1..20)))
      assert %Result{rows: [[1000]]} = EctoLibSql.query!(pool, "SELECT count(*) FROM c")
    end

    test "W5 mix: autocommit updates under contention surface no busy error", %{path: path} do
      pool = start_pool!(database: path, pool_size: 8)
      EctoLibSql.query!(pool, "CREATE TABLE p (id INTEGER PRIMARY KEY, views INTEGER)")

      EctoLibSql.query!(
        pool,
        "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 500) INSERT INTO p SELECT x, 0 FROM n"
      )

      errors =
        1..16
        |> Task.async_stream(
          fn _ ->
            Enum.count(1..200, fn i ->
              id = :rand.uniform(500)

              result =
                if rem(i, 10) == 0,
                  do: EctoLibSql.query(pool, "UPDATE p SET views = views + 1 WHERE id = ?", [id]),
                  else: EctoLibSql.query(pool, "SELECT views FROM p WHERE id = ?", [id])

              match?({:error, _}, result)
            end)
          end,
          max_concurrency: 16,
          timeout: 120_000
        )
        |> Enum.map(fn {:ok, n} -> n end)
        |> Enum.sum()

      assert errors == 0
      assert %Result{rows: [[320]]} = EctoLibSql.query!(pool, "SELECT sum(views) FROM p")
    end
  end

  describe "telemetry" do
    test "connect and query events, with the cache flag", %{path: path} do
      id = collect_telemetry([[:ecto_libsql, :connect], [:ecto_libsql, :query]])
      pool = start_pool!(database: path, pool_size: 1)
      assert_receive {:telemetry, [:ecto_libsql, :connect], %{duration: d}, %{mode: :local}} when is_integer(d), 5_000

      {:ok, q} = EctoLibSql.prepare(pool, "", "SELECT 1")
      {:ok, _, _} = EctoLibSql.execute(pool, q, [])
      assert_receive {:telemetry, [:ecto_libsql, :query], %{rows: 1}, %{sql: "SELECT 1", cached: true, result: :ok}}

      {:error, _} = EctoLibSql.query(pool, "SELECT * FROM nope", [])
      :telemetry.detach(id)
    end

    test "a prepared query reused 10,000 times is prepared once", %{path: path} do
      pool = start_pool!(database: path, pool_size: 1)
      counts = :counters.new(2, [])
      handler = make_ref()

      :telemetry.attach(
        handler,
        [:ecto_libsql, :query],
        fn _, _, metadata, _ ->
          if metadata.sql == "SELECT ? + 1", do: :counters.add(counts, if(metadata.cached, do: 1, else: 2), 1)
        end,
        nil
      )

      {:ok, q} = EctoLibSql.prepare(pool, "", "SELECT ? + 1")
      for i <- 1..10_000, do: {:ok, _, %Result{rows: [[_]]}} = EctoLibSql.execute(pool, q, [i])
      :telemetry.detach(handler)

      # Prepared once (by prepare/4, into the statement cache); every one of
      # the 10,000 executions found it there.
      assert :counters.get(counts, 1) == 10_000
      assert :counters.get(counts, 2) == 0
    end
  end

  describe "several openers of one file" do
    test "databases opening the same new file at the same time all open", %{path: path} do
      # Each opening switches the file to WAL: the others wait for the lock
      # (or the WAL recovery) instead of failing as :busy.
      for round <- 1..10 do
        file = "#{path}.#{round}"

        results =
          1..4
          |> Enum.map(fn _ -> Task.async(fn -> EctoLibSql.Native.open(database: file) end) end)
          |> Task.await_many(30_000)

        for result <- results do
          assert {:ok, conn} = result
          assert {:ok, %Result{rows: [[1]]}} = EctoLibSql.Native.query(conn, "SELECT 1")
          EctoLibSql.Native.close(conn)
        end
      end
    end
  end
end
