# The workloads of bench/README.md (W1-W7), measured in one run and printed as a
# markdown table (see bench/README.md).
#
#     bench/run                              # the wrapper; sets up the
#                                            # ecto_sqlite3 comparison too
#     ECTO_LIBSQL_DEPS_PATH=$DEPS MIX_ENV=bench mix run bench/run.exs
#     mix run bench/run.exs                  # core mode: W6 and W7 only
#
# Full mode (Ecto and the adapter compiled) measures W1-W6; core mode (no hex
# dependencies) has no Ecto, so it skips W1-W5 and measures W6 through
# EctoLibSql.Native. W7 comes from the crate's `floor` example in both.
#
# W1-W4 and W6 run on benchee (BENCH_SECONDS per workload and system,
# default 5, after one untimed warm-up); W5 is a fixed-duration loop of 16
# concurrent processes, which benchee (one function, timed per call) cannot
# express: it is timed by hand, BENCH_REPS times.
#
# Environment: BENCH_SECONDS (default 5), BENCH_REPS (W5, default 5), BENCH_W5_SECONDS (default 5),
# BENCH_SKIP_FLOOR=1 (do not build and run the W7 example), BENCH_ONLY
# (comma-separated workload ids, e.g. "W1,W6").

defmodule Bench.Common do
  @moduledoc false
  # Helpers shared by both modes.

  @stamp ~N[2024-01-01 00:00:00]

  def wanted?(%{only: nil}, _), do: true
  def wanted?(%{only: only}, id), do: id in only

  def env_int(name, default) do
    case System.get_env(name) do
      nil -> default
      "" -> default
      value -> String.to_integer(value)
    end
  end

  def row(id) do
    %{
      id: id,
      title: "title #{id}",
      body: "body of post #{id}, some text to make the row less tiny",
      views: rem(id, 1000),
      score: id / 7,
      inserted_at: @stamp
    }
  end

  def describe(%{median: m, best: b, unit: u} = r) do
    extra = for {k, v} <- Map.drop(r, [:median, :best, :unit, :samples]), do: " #{k}=#{inspect(v)}"
    "median #{fmt(m)} #{u}, best #{fmt(b)}#{extra}"
  end

  # Benchee runs `fun` (one whole workload: thousands of calls, or one
  # bulk operation) after one untimed warm-up, for `ctx.seconds`; `setup`
  # runs untimed before each run. Returns the median and best run as
  # throughput (`ops` per second) or µs per op.
  def measure(ctx, ops, unit, fun, setup \\ fn -> :ok end) do
    setup.()
    fun.()

    suite =
      Benchee.run(
        %{"run" => {fn -> fun.() end, before_each: fn input -> untimed(setup, input) end}},
        warmup: 0,
        time: ctx.seconds,
        memory_time: 0,
        formatters: [],
        print: [benchmarking: false, configuration: false, fast_warning: false]
      )

    [scenario] = suite.scenarios
    # Benchee's samples are nanoseconds per run.
    times = Enum.map(scenario.run_time_data.samples, &(&1 / 1000))

    values =
      case unit do
        "µs/op" -> Enum.map(times, &(&1 / ops))
        _ -> Enum.map(times, &(ops * 1_000_000 / &1))
      end

    sorted = Enum.sort(values)
    best = if unit == "µs/op", do: hd(sorted), else: List.last(sorted)
    %{median: median(sorted), best: best, unit: unit, samples: values}
  end

  defp untimed(setup, input) do
    setup.()
    :erlang.garbage_collect()
    input
  end

  defp median(sorted) do
    n = length(sorted)

    if rem(n, 2) == 1,
      do: Enum.at(sorted, div(n, 2)),
      else: (Enum.at(sorted, div(n, 2) - 1) + Enum.at(sorted, div(n, 2))) / 2
  end

  def random_ids(n, max), do: for(_ <- 1..n, do: :rand.uniform(max))

  def fmt(nil), do: ""
  def fmt(x) when is_float(x) and x >= 100, do: x |> round() |> Integer.to_string()
  def fmt(x) when is_float(x) and x >= 10, do: :erlang.float_to_binary(x, decimals: 1)
  def fmt(x) when is_float(x), do: :erlang.float_to_binary(x, decimals: 2)
  def fmt(x), do: to_string(x)
end

# W1-W5 need Ecto: these modules exist in full mode only.
if Code.ensure_loaded?(Ecto.Schema) and Code.ensure_loaded?(Ecto.Adapters.LibSql) do
  defmodule Bench.Post do
    use Ecto.Schema

    @primary_key {:id, :id, autogenerate: true}
    schema "posts" do
      field(:title, :string)
      field(:body, :string)
      field(:views, :integer)
      field(:score, :float)
      field(:inserted_at, :naive_datetime)
    end
  end

  defmodule Bench.LibSqlRepo do
    use Ecto.Repo, otp_app: :ecto_libsql, adapter: Ecto.Adapters.LibSql
  end

  # The same adapter on the turso engine (`engine: :turso`).
  defmodule Bench.TursoRepo do
    use Ecto.Repo, otp_app: :ecto_libsql, adapter: Ecto.Adapters.LibSql
  end

  defmodule Bench.Full do
    @moduledoc false
    # W1-W5 for one system (a repo module).
    import Bench.Common
    alias Bench.Post

    @create """
    CREATE TABLE posts (id INTEGER PRIMARY KEY, title TEXT, body TEXT,
                        views INTEGER, score REAL, inserted_at TEXT)
    """
    @point_rows 10_000
    @bulk_rows 100_000
    @chunk 1_000

    # Runs `fun` (returning [{key, result}]) under :erlang.system_monitor
    # long_schedule (10 ms), and adds the count to each result.
    defp with_long_schedules(fun) do
      parent = self()

      started = System.monotonic_time(:millisecond)

      monitor =
        spawn_link(fn ->
          :erlang.system_monitor(self(), [{:long_schedule, 10}])
          send(parent, {:monitoring, self()})
          count_long_schedules(parent, 0, started)
        end)

      receive do
        {:monitoring, ^monitor} -> :ok
      end

      results = fun.()
      send(monitor, :stop)

      count =
        receive do
          {:long_schedules, ^monitor, count} -> count
        end

      for {key, r} <- results, do: {key, Map.put(r, :long_schedules, count)}
    end

    defp count_long_schedules(parent, count, started) do
      receive do
        {:monitor, _pid_or_port, :long_schedule, info} ->
          # Where it happened, so that a count can be traced to its cause.
          IO.puts("long schedule at #{System.monotonic_time(:millisecond) - started} ms: #{inspect(info)}")
          count_long_schedules(parent, count + 1, started)

        :stop ->
          :erlang.system_monitor(:undefined)
          send(parent, {:long_schedules, self(), count})
      end
    end

    def run_system(ctx, name, repo, repo_opts) do
      ctx = Map.put(ctx, :repo_opts, repo_opts)
      dir = Path.join(ctx.tmp, String.replace(name, ~r/[^a-z0-9_]/, "_"))
      File.mkdir_p!(dir)

      [
        {"W1", &w1/3},
        {"W2", &w2/3},
        {"W3", &w3/3},
        {"W4", &w4/3},
        {"W5", &w5/3}
      ]
      |> Enum.filter(fn {id, _} -> wanted?(ctx, id) end)
      |> Enum.flat_map(fn {id, fun} ->
        run = fn -> fun.(ctx, repo, Path.join(dir, "#{String.downcase(id)}.db")) end
        # The concurrency model's check (issue: no scheduler waits): how
        # many times a process kept a scheduler for 10 ms or more while the
        # point-read workloads ran.
        results = if id in ["W1", "W5"], do: with_long_schedules(run), else: run.()
        Enum.each(results, fn {key, r} -> IO.puts("#{key}: #{describe(r)}") end)
        results
      end)
      |> Map.new()
    end

    # The same settings for both systems (each has other defaults: temp_store
    # and cache_size differ), checked on the running Repo by verify!/2.
    @pragmas [journal_mode: :wal, synchronous: :normal, temp_store: :memory, cache_size: -64_000, busy_timeout: 5_000]
    @expected_pragmas %{
      "journal_mode" => "wal",
      "synchronous" => 1,
      "temp_store" => 2,
      "cache_size" => -64_000,
      "foreign_keys" => 1
    }

    # Starts `repo` on a fresh file with the table, runs `fun`, stops it.
    defp with_repo(repo, path, opts, fun) do
      for suffix <- ["", "-wal", "-shm", "-log"], do: File.rm(path <> suffix)

      # opts override the defaults (Keyword.get takes the first of repeated keys).
      opts = Keyword.merge([database: path, pool_size: 1, log: false] ++ @pragmas, opts)
      {:ok, pid} = repo.start_link(opts)

      try do
        expected = if opts[:mvcc], do: %{@expected_pragmas | "journal_mode" => "mvcc"}, else: @expected_pragmas
        verify!(repo, opts[:pool_size], expected)
        repo.query!(@create)
        fun.()
      after
        Supervisor.stop(pid)
      end
    end

    # A benchmark is only as good as its setup: the W5 "pool of 8" once ran
    # on a pool of 1. Each Repo is checked for the pool size and pragmas it
    # was meant to have, on its every connection, before it is measured.
    defp verify!(repo, pool_size, expected) do
      ready = ready_connections(repo, pool_size, System.monotonic_time(:millisecond) + 5_000)
      ready == pool_size || raise "#{inspect(repo)} runs #{ready} connections, not #{pool_size}"

      # Each pooled connection answers once, all holding their checkout at
      # the same time so that none answers twice.
      parent = self()

      tasks =
        for _ <- 1..pool_size do
          Task.async(fn ->
            repo.checkout(fn ->
              seen = for {name, _} <- expected, into: %{}, do: {name, pragma(repo, name)}
              send(parent, {:checked, self()})

              receive do
                :release -> seen
              end
            end)
          end)
        end

      for _ <- tasks, do: receive(do: ({:checked, _} -> :ok))
      Enum.each(tasks, &send(&1.pid, :release))

      for seen <- Task.await_many(tasks), seen != expected do
        raise "#{inspect(repo)} runs with #{inspect(seen)}, expected #{inspect(expected)}"
      end
    end

    # Connections open in the background after start_link: wait (up to the
    # deadline) until the pool has them all, or report how many it has.
    defp ready_connections(repo, pool_size, deadline) do
      ready =
        repo
        |> Ecto.Adapter.lookup_meta()
        |> Map.fetch!(:pid)
        |> DBConnection.get_connection_metrics()
        |> Enum.map(& &1.ready_conn_count)
        |> Enum.sum()

      if ready >= pool_size or System.monotonic_time(:millisecond) > deadline do
        ready
      else
        Process.sleep(10)
        ready_connections(repo, pool_size, deadline)
      end
    end

    defp pragma(repo, name) do
      %{rows: [[value]]} = repo.query!("PRAGMA #{name}")
      value
    end

    defp seed(repo, rows) do
      1..rows
      |> Stream.map(&row/1)
      |> Stream.chunk_every(@chunk)
      |> Enum.each(&repo.insert_all(Post, &1))
    end

    ## W1: Repo.get on 10,000 rows, 20,000 random ids, one process

    defp w1(ctx, repo, path) do
      with_repo(repo, path, ctx.repo_opts, fn ->
        seed(repo, @point_rows)
        ids = random_ids(20_000, @point_rows)
        r = measure(ctx, length(ids), "ops/s", fn -> Enum.each(ids, &(%Post{} = repo.get(Post, &1))) end)
        [{"W1", r}]
      end)
    end

    ## W2: Repo.insert outside a transaction, 5,000 calls

    defp w2(ctx, repo, path) do
      with_repo(repo, path, ctx.repo_opts, fn ->
        insert = fn ->
          for i <- 1..5_000 do
            {:ok, _} = repo.insert(struct(Post, Map.delete(row(i), :id)))
          end
        end

        [{"W2", measure(ctx, 5_000, "ops/s", insert)}]
      end)
    end

    ## W3: Repo.insert_all of 100,000 rows in chunks of 1,000 (?1..?6000)

    defp w3(ctx, repo, path) do
      with_repo(repo, path, ctx.repo_opts, fn ->
        chunks = 1..@bulk_rows |> Enum.map(&row/1) |> Enum.chunk_every(@chunk)
        insert = fn -> Enum.each(chunks, &({@chunk, _} = repo.insert_all(Post, &1))) end
        truncate = fn -> repo.query!("DELETE FROM posts") end
        [{"W3", measure(ctx, @bulk_rows, "rows/s", insert, truncate)}]
      end)
    end

    ## W4: Repo.all(Post) over 100,000 rows, with peak memory

    defp w4(ctx, repo, path) do
      with_repo(repo, path, ctx.repo_opts, fn ->
        seed(repo, @bulk_rows)
        scan = fn -> @bulk_rows = length(repo.all(Post)) end
        r = measure(ctx, @bulk_rows, "rows/s", scan)
        :erlang.garbage_collect()
        base = :erlang.memory(:total)
        reset_hwm()
        rss0 = vm_kb("VmRSS")
        poller = start_memory_poller()
        scan.()
        peak = stop_memory_poller(poller)
        rss_peak = vm_kb("VmHWM")

        memory = %{
          beam_peak_mb: Float.round((peak - base) / 1_048_576, 1),
          rss_peak_mb: rss_peak && rss0 && Float.round((rss_peak - rss0) / 1024, 1)
        }

        [{"W4", Map.merge(r, memory)}]
      end)
    end

    # High-water mark of :erlang.memory(:total), sampled every millisecond.
    defp start_memory_poller do
      parent = self()

      spawn_link(fn ->
        Process.flag(:priority, :high)
        poll(parent, 0)
      end)
    end

    defp poll(parent, peak) do
      receive do
        {:stop, from} -> send(from, {:peak, max(peak, :erlang.memory(:total))})
      after
        1 -> poll(parent, max(peak, :erlang.memory(:total)))
      end
    end

    defp stop_memory_poller(pid) do
      send(pid, {:stop, self()})

      receive do
        {:peak, peak} -> peak
      end
    end

    # Linux: writing 5 to clear_refs resets VmHWM to the current RSS.
    defp reset_hwm, do: File.write("/proc/self/clear_refs", "5")

    defp vm_kb(field) do
      with {:ok, status} <- File.read("/proc/self/status"),
           [_, kb] <- Regex.run(~r/#{field}:\s+(\d+) kB/, status) do
        String.to_integer(kb)
      else
        _ -> nil
      end
    end

    ## W5: pool of 8, 16 processes, 90% get / 10% update, 5 s
    # On the turso engine also with MVCC and concurrent transactions (each
    # retried on a conflict), at pools of 8 and 32.

    defp w5(ctx, repo, path) do
      seconds = env_int("BENCH_W5_SECONDS", 5)

      variants =
        [
          {"W5 update outside transaction", :outside, [pool_size: 8]},
          {"W5 update in transaction (deferred)", :inside, [pool_size: 8, default_transaction_mode: :deferred]},
          {"W5 update in transaction (immediate)", :inside, [pool_size: 8, default_transaction_mode: :immediate]}
        ] ++
          if ctx.repo_opts[:engine] == :turso do
            for pool <- [8, 32] do
              {"W5 update in transaction (concurrent, MVCC, pool #{pool})", :concurrent, [pool_size: pool, mvcc: true]}
            end
          else
            []
          end

      for {key, variant, opts} <- variants do
        with_repo(repo, path, ctx.repo_opts ++ opts, fn ->
          seed(repo, @point_rows)
          # Warm-up: one short round, its counts discarded.
          w5_round(repo, variant, 500)
          before = total_views(repo)
          retries = :counters.new(1, [])
          handler = "bench-w5-#{System.unique_integer([:positive])}"

          :telemetry.attach(
            handler,
            [:ecto_libsql, :transaction, :retry],
            fn _, _, _, counter -> :counters.add(counter, 1, 1) end,
            retries
          )

          rounds =
            try do
              for _ <- 1..ctx.reps, do: w5_round(repo, variant, seconds * 1000)
            after
              :telemetry.detach(handler)
            end

          rates = Enum.sort(Enum.map(rounds, &(&1.ops / seconds)))
          updates = Enum.sum(Enum.map(rounds, & &1.updates))

          # A read-then-write outside a transaction may lose an update by
          # design; inside one it must not.
          lost = if variant == :outside, do: nil, else: before + updates - total_views(repo)

          {key,
           %{
             median: Enum.at(rates, div(length(rates), 2)),
             best: List.last(rates),
             unit: "ops/s",
             samples: rates,
             busy_errors: Enum.sum(Enum.map(rounds, & &1.busy)),
             other_errors: Enum.sum(Enum.map(rounds, & &1.other)),
             updates: updates,
             retries: :counters.get(retries, 1),
             lost_updates: lost
           }}
        end)
      end
    end

    defp total_views(repo) do
      %{rows: [[sum]]} = repo.query!("SELECT sum(views) FROM posts")
      sum
    end

    defp w5_round(repo, variant, ms) do
      deadline = System.monotonic_time(:millisecond) + ms

      1..16
      |> Enum.map(fn _ ->
        Task.async(fn -> w5_loop(repo, variant, deadline, %{ops: 0, updates: 0, busy: 0, other: 0}) end)
      end)
      |> Enum.map(&Task.await(&1, ms + 60_000))
      |> Enum.reduce(fn a, b -> Map.merge(a, b, fn _, x, y -> x + y end) end)
    end

    defp w5_loop(repo, variant, deadline, acc) do
      if System.monotonic_time(:millisecond) >= deadline do
        acc
      else
        id = :rand.uniform(@point_rows)

        acc =
          try do
            if :rand.uniform(10) == 1 do
              w5_update(repo, variant, id)
              %{acc | ops: acc.ops + 1, updates: acc.updates + 1}
            else
              %Post{} = repo.get(Post, id)
              %{acc | ops: acc.ops + 1}
            end
          rescue
            e ->
              if busy?(e), do: %{acc | busy: acc.busy + 1}, else: %{acc | other: acc.other + 1}
          end

        w5_loop(repo, variant, deadline, acc)
      end
    end

    # Read the row, then write it back: inside a transaction this is the
    # read-then-write that a deferred transaction cannot always upgrade.
    defp w5_update(repo, :outside, id) do
      post = repo.get!(Post, id)
      repo.update!(Ecto.Changeset.change(post, views: post.views + 1))
    end

    defp w5_update(repo, :inside, id) do
      {:ok, _} =
        repo.transaction(fn ->
          post = repo.get!(Post, id)
          repo.update!(Ecto.Changeset.change(post, views: post.views + 1))
        end)
    end

    defp w5_update(repo, :concurrent, id) do
      {:ok, _} =
        repo.transaction(
          fn ->
            post = repo.get!(Post, id)
            repo.update!(Ecto.Changeset.change(post, views: post.views + 1))
          end,
          mode: :concurrent,
          retry_conflicts: 1_000
        )
    end

    # Ours are told by code. exqlite's errors carry only SQLite's message
    # (no code field), so for them the message is all there is to read.
    defp busy?(%EctoLibSql.Error{code: code}), do: code in [:busy, :locked]
    defp busy?(%{__struct__: Exqlite.Error, message: message}), do: message =~ ~r/database (table )?is locked|busy/i
    defp busy?(_), do: false
  end
end

if Code.ensure_loaded?(Ecto.Adapters.SQLite3) do
  defmodule Bench.Sqlite3Repo do
    use Ecto.Repo, otp_app: :ecto_libsql, adapter: Ecto.Adapters.SQLite3
  end

  defmodule Bench.ExqliteFloor do
    @moduledoc false
    # W6 for the comparison system: exqlite's lowest-level API, bind then
    # step to the end (which resets the statement), as Exqlite.Connection does.
    alias Exqlite.Sqlite3

    def run(path, sql, ids) do
      {:ok, db} = Sqlite3.open(path)
      {:ok, stmt} = Sqlite3.prepare(db, sql)

      fun = fn ->
        Enum.each(ids, fn id ->
          :ok = Sqlite3.bind(stmt, [id])
          {:ok, [_row]} = Sqlite3.fetch_all(db, stmt)
        end)
      end

      {fun, fn -> Sqlite3.release(db, stmt) && Sqlite3.close(db) end}
    end
  end
end

defmodule Bench do
  @moduledoc false
  import Bench.Common
  alias EctoLibSql.Native

  @create """
  CREATE TABLE posts (id INTEGER PRIMARY KEY, title TEXT, body TEXT,
                      views INTEGER, score REAL, inserted_at TEXT)
  """
  @insert "INSERT INTO posts (id, title, body, views, score, inserted_at) VALUES (?, ?, ?, ?, ?, ?)"
  @driver_read "SELECT id, title, views FROM posts WHERE id = ?"
  @point_rows 10_000

  ## Entry point

  def main do
    reps = env_int("BENCH_REPS", 5)
    only = System.get_env("BENCH_ONLY")
    only = if only in [nil, ""], do: nil, else: String.split(only, ",", trim: true)
    tmp = Path.join(System.tmp_dir!(), "ecto_libsql_bench_#{System.os_time()}")
    File.mkdir_p!(tmp)
    Logger.configure(level: :warning)

    # Full mode: Ecto and the adapter are compiled, W1-W6 run through them.
    # Core mode: EctoLibSql.Native only, so W6 (and W7) but no W1-W5.
    full? = Code.ensure_loaded?(Bench.Full)

    systems =
      if full?,
        do:
          [{"ecto_libsql", Bench.LibSqlRepo, []}, {"ecto_libsql turso", Bench.TursoRepo, [engine: :turso]}] ++
            comparison(),
        else: []

    unless Code.ensure_loaded?(Benchee) do
      IO.puts("benchee is not available: run bench/run (MIX_ENV=bench), which fetches it")
      System.halt(1)
    end

    IO.puts("# EctoLibSql benchmark")
    IO.puts("load average before: #{load_average()}")

    IO.puts(
      "SQLite (libSQL) #{Native.sqlite_version()}; #{System.schedulers_online()} schedulers; " <>
        "Elixir #{System.version()}, OTP #{System.otp_release()}; benchee #{env_int("BENCH_SECONDS", 5)} s per workload; W5 reps=#{reps}; " <>
        "#{if full?, do: "full", else: "core"} mode"
    )

    cond do
      not full? ->
        IO.puts(
          "core mode (no Ecto): skipping W1-W5; measuring W6 (EctoLibSql.Native) and W7 " <>
            "(set ECTO_LIBSQL_DEPS_PATH for full mode)"
        )

      length(systems) == 2 ->
        IO.puts("ecto_sqlite3 not available: comparing against the native floor (W7) only")

      true ->
        :ok
    end

    floor = if System.get_env("BENCH_SKIP_FLOOR") in [nil, ""], do: native_floor(reps), else: %{}

    ctx = %{reps: reps, seconds: env_int("BENCH_SECONDS", 5), tmp: tmp, only: only}

    results =
      for {name, repo, repo_opts} <- systems, into: %{} do
        IO.puts("\n## #{name}")
        # apply/3: Bench.Full only exists in full mode.
        {name, apply(Bench.Full, :run_system, [ctx, name, repo, repo_opts])}
      end

    core = if wanted?(ctx, "W6"), do: w6_core(ctx), else: %{}
    table(results, core, floor, length(systems) > 2)
    engines_table(results, core)
    IO.puts("\nload average after: #{load_average()}")
    File.rm_rf!(tmp)
  end

  defp comparison do
    if Code.ensure_loaded?(Bench.Sqlite3Repo) do
      [{"ecto_sqlite3", Bench.Sqlite3Repo, []}]
    else
      []
    end
  end

  ## W7: the native floor, from the crate's example

  defp native_floor(reps) do
    IO.puts("\n## W7 (cargo run --release --example floor)")
    crate = Path.expand("../native/ecto_libsql", __DIR__)
    cargo = System.find_executable("cargo")

    if cargo do
      {out, status} =
        System.cmd(cargo, ["run", "--quiet", "--release", "--example", "floor", "--", "#{reps}"],
          cd: crate,
          stderr_to_stdout: true
        )

      if status != 0, do: IO.puts("floor failed (status #{status}):\n#{out}")

      for line <- String.split(out, "\n"),
          ["W7", name, median, best] <- [String.split(line)],
          into: %{} do
        IO.puts(line)
        {name, {parse_float(median), parse_float(best)}}
      end
    else
      IO.puts("cargo not found: no W7")
      %{}
    end
  end

  defp parse_float(text), do: text |> Float.parse() |> elem(0)

  ## W6: the driver floor, through EctoLibSql.Native (core mode's API)

  defp w6_core(ctx) do
    IO.puts("\n## W6 (EctoLibSql.Native)")
    path = Path.join(ctx.tmp, "w6.db")
    {:ok, conn} = Native.open(database: path)
    {:ok, _} = Native.execute(conn, @create)
    seed_native(conn, @point_rows)

    ids = random_ids(50_000, @point_rows)
    {:ok, stmt} = Native.prepare(conn, @driver_read)

    prepared =
      measure(ctx, length(ids), "µs/op", fn ->
        Enum.each(ids, fn id -> {:ok, %{num_rows: 1}} = Native.query_stmt(stmt, [id]) end)
      end)

    cached =
      measure(ctx, length(ids), "µs/op", fn ->
        Enum.each(ids, fn id -> {:ok, %{num_rows: 1}} = Native.query(conn, @driver_read, [id]) end)
      end)

    results = %{"W6 prepare + query_stmt" => prepared, "W6 Native.query (cache)" => cached}

    results =
      if Code.ensure_loaded?(Bench.ExqliteFloor) do
        # apply/3: the module only exists when exqlite is loaded.
        {fun, done} = apply(Bench.ExqliteFloor, :run, [path, @driver_read, ids])
        r = measure(ctx, length(ids), "µs/op", fun)
        done.()
        Map.put(results, "W6 exqlite Sqlite3 bind + fetch_all", r)
      else
        results
      end

    Native.close(conn)

    # The same on the turso engine.
    turso_path = Path.join(ctx.tmp, "w6_turso.db")
    {:ok, conn} = Native.open(database: turso_path, engine: :turso)
    {:ok, _} = Native.execute(conn, @create)
    seed_native(conn, @point_rows)
    {:ok, stmt} = Native.prepare(conn, @driver_read)

    turso =
      measure(ctx, length(ids), "µs/op", fn ->
        Enum.each(ids, fn id -> {:ok, %{num_rows: 1}} = Native.query_stmt(stmt, [id]) end)
      end)

    Native.close(conn)
    results = Map.put(results, "W6 turso prepare + query_stmt", turso)
    Enum.each(results, fn {k, r} -> IO.puts("#{k}: #{describe(r)}") end)
    results
  end

  # The same rows as the Ecto workloads' seed, inserted through Native.
  defp seed_native(conn, rows) do
    {:ok, insert} = Native.prepare(conn, @insert)
    :ok = Native.begin(conn)

    for id <- 1..rows do
      r = row(id)
      params = [r.id, r.title, r.body, r.views, r.score, NaiveDateTime.to_iso8601(r.inserted_at)]
      {:ok, 1} = Native.execute_stmt(insert, params)
    end

    :ok = Native.commit(conn)
    Native.close_stmt(insert)
  end

  ## The table

  # 1, 5 and 15 minute load averages: figures from a busy machine are not
  # comparable with a quiet one's.
  defp load_average do
    case File.read("/proc/loadavg") do
      {:ok, text} -> text |> String.split() |> Enum.take(3) |> Enum.join(" ")
      {:error, _} -> "unknown"
    end
  end

  defp table(results, core, floor, compare?) do
    ours = Map.get(results, "ecto_libsql", %{})
    theirs = Map.get(results, "ecto_sqlite3", %{})
    floor_us = fn name -> with {median, _} <- floor[name], do: median end
    floor_ops = fn name -> with median when is_float(median) <- floor_us.(name), do: 1_000_000 / median end

    # {label, our result, ecto_sqlite3 result, W7 in the same unit}
    rows =
      [
        {"W1 Repo.get (1 process)", ours["W1"], theirs["W1"], floor_ops.("W1_prepared")},
        {"W2 Repo.insert", ours["W2"], theirs["W2"], nil},
        {"W3 Repo.insert_all 1k chunks", ours["W3"], theirs["W3"], floor_ops.("W3")},
        {"W4 Repo.all 100k rows", ours["W4"], theirs["W4"], floor_ops.("W4")}
      ] ++
        for key <- [
              "W5 update outside transaction",
              "W5 update in transaction (deferred)",
              "W5 update in transaction (immediate)"
            ] do
          {key, ours[key], theirs[key], nil}
        end ++
        [
          {"W6 Native prepare + query_stmt", core["W6 prepare + query_stmt"],
           core["W6 exqlite Sqlite3 bind + fetch_all"], floor_us.("W6")},
          {"W6 Native.query (statement cache)", core["W6 Native.query (cache)"],
           core["W6 exqlite Sqlite3 bind + fetch_all"], floor_us.("W6")}
        ]

    IO.puts("\n## Results\n")

    header =
      "| workload | unit | median | best |" <>
        if(compare?, do: " ecto_sqlite3 median | x ecto_sqlite3 |", else: "") <>
        " W7 floor | x W7 cost | notes |"

    IO.puts(header)
    IO.puts(String.replace(header, ~r/[^|]+/, "---"))

    for {label, r, other, w7} <- rows, r != nil do
      IO.puts(
        "| #{label} | #{r.unit} | #{fmt(r.median)} | #{fmt(r.best)} |" <>
          if(compare?, do: " #{other && fmt(other.median)} | #{speedup(r, other)} |", else: "") <>
          " #{w7 && fmt(w7)} | #{cost(r, w7)} | #{notes(r, other)} |"
      )
    end

    floor_lines =
      for {name, {median, best}} <- Enum.sort(floor),
          do: "| W7 #{name} | µs/op (per row for W3/W4) | #{fmt(median)} | #{fmt(best)} |"

    if floor_lines != [] do
      IO.puts("\n| native floor | unit | median | best |\n|---|---|---|---|")
      Enum.each(floor_lines, &IO.puts/1)
    end
  end

  # The turso engine against the libSQL engine, same adapter, same run.
  defp engines_table(results, core) do
    libsql = Map.get(results, "ecto_libsql", %{})
    turso = Map.get(results, "ecto_libsql turso", %{})

    keys =
      ["W1", "W2", "W3", "W4", "W5 update outside transaction", "W5 update in transaction (immediate)"] ++
        for(pool <- [8, 32], do: "W5 update in transaction (concurrent, MVCC, pool #{pool})")

    rows =
      for(key <- keys, do: {key, libsql[key], turso[key]}) ++
        [{"W6 Native prepare + query_stmt", core["W6 prepare + query_stmt"], core["W6 turso prepare + query_stmt"]}]

    if Enum.any?(rows, fn {_, _, t} -> t != nil end) do
      IO.puts("\n## Engines: turso against libSQL (same adapter, same run)\n")
      IO.puts("| workload | unit | libSQL median | turso median | turso x libSQL | notes |\n|---|---|---|---|---|---|")

      for {key, l, t} <- rows, t != nil do
        IO.puts(
          "| #{key} | #{t.unit} | #{l && fmt(l.median)} | #{fmt(t.median)} | #{l && speedup(t, l)} | " <>
            "#{engine_notes(t)} |"
        )
      end
    end
  end

  defp engine_notes(%{retries: retries, lost_updates: lost} = r),
    do: "#{note(r, "")}; conflicts retried: #{retries}; lost updates: #{inspect(lost)}"

  defp engine_notes(r), do: note(r, "")

  # How many times faster than ecto_sqlite3 (> 1 is better).
  defp speedup(_, nil), do: ""
  defp speedup(%{unit: "µs/op"} = r, other), do: "#{fmt(other.median / r.median)}x"
  defp speedup(r, other), do: "#{fmt(r.median / other.median)}x"

  # How many times the floor's cost (1.0 is the floor).
  defp cost(_, nil), do: ""
  defp cost(%{unit: "µs/op"} = r, w7), do: "#{fmt(r.median / w7)}x"
  defp cost(r, w7), do: "#{fmt(w7 / r.median)}x"

  defp notes(r, other) do
    [
      note(r, ""),
      long_schedules(r, ""),
      other && note(other, "ecto_sqlite3 "),
      other && long_schedules(other, "ecto_sqlite3 ")
    ]
    |> Enum.reject(&(&1 in [nil, ""]))
    |> Enum.join("; ")
  end

  defp note(%{busy_errors: busy, other_errors: other}, prefix),
    do: "#{prefix}busy/locked errors: #{busy}, other errors: #{other}"

  defp note(%{beam_peak_mb: beam, rss_peak_mb: rss}, prefix),
    do: "#{prefix}peak BEAM +#{beam} MB, VmHWM +#{rss} MB"

  defp note(_, _), do: ""

  defp long_schedules(%{long_schedules: n}, prefix), do: "#{prefix}long schedules (>= 10 ms): #{n}"
  defp long_schedules(_, _), do: ""
end

Bench.main()
