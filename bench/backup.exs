# An online backup of a large database while writers run (see
# bench/README.md):
#
#     MIX_ENV=bench mix run bench/backup.exs            # 200 MB
#     BENCH_BACKUP_MB=50 MIX_ENV=bench mix run bench/backup.exs
#
# 8 writer processes insert rows without pause; their write latencies are
# recorded for 3 s without a backup, then while Ecto.Adapters.LibSql.backup/3
# copies the database. Reports both latency distributions, the backup's
# duration and size, and checks the copy: integrity_check, and every row
# committed before the backup started is in it. The writers' errors are
# counted (there should be none).

defmodule BackupBench.Repo do
  use Ecto.Repo, otp_app: :ecto_libsql, adapter: Ecto.Adapters.LibSql
end

defmodule BackupBench do
  @moduledoc false
  alias BackupBench.Repo
  alias Ecto.Adapters.LibSql

  @writers 8

  def main do
    mb = String.to_integer(System.get_env("BENCH_BACKUP_MB", "200"))
    dir = Path.join(System.tmp_dir!(), "ecto_libsql_backup_bench_#{System.os_time()}")
    File.mkdir_p!(dir)
    path = Path.join(dir, "live.db")

    try do
      {:ok, _} = Repo.start_link(database: path, pool_size: @writers + 2, log: false)
      fill!(mb)
      {:ok, %{database_bytes: bytes}} = LibSql.sizes(Repo)
      IO.puts("# Online backup, #{div(bytes, 1_048_576)} MB database, #{@writers} writers\n")

      {baseline, :ok} = with_writers(fn -> Process.sleep(3_000) end)

      target = Path.join(dir, "backup.db")

      {during, {committed_before, backup}} =
        with_writers(fn ->
          %{rows: [[before]]} = Repo.query!("SELECT max(id) FROM items")
          {:ok, backup} = LibSql.backup(Repo, target)
          {before, backup}
        end)

      report("writers, no backup (3 s)", baseline)
      report("writers, during the backup", during)

      IO.puts(
        "backup: #{div(backup.bytes, 1_048_576)} MB, #{backup.pages} pages in #{backup.duration_ms} ms " <>
          "(#{Float.round(backup.bytes / 1_048_576 / max(backup.duration_ms, 1) * 1000, 1)} MB/s)"
      )

      check!(target, committed_before)
    after
      File.rm_rf!(dir)
    end
  end

  defp fill!(mb) do
    Repo.query!("CREATE TABLE items (id INTEGER PRIMARY KEY, body TEXT)")
    body = String.duplicate("x", 1_000)
    rows = div(mb * 1_048_576, 1_100)

    Repo.transaction(fn ->
      for chunk <- Enum.chunk_every(1..rows, 500) do
        Repo.insert_all("items", Enum.map(chunk, fn _ -> %{body: body} end))
      end
    end)

    LibSql.checkpoint(Repo, :truncate)
  end

  # Runs `fun` while the writers insert; returns {latencies, fun's result}.
  defp with_writers(fun) do
    parent = self()

    writers =
      for _ <- 1..@writers do
        spawn_link(fn -> write_loop(parent, [], 0) end)
      end

    result = fun.()
    Enum.each(writers, &send(&1, :stop))

    {latencies, errors} =
      Enum.reduce(writers, {[], 0}, fn pid, {all, errors} ->
        receive do
          {:done, ^pid, latencies, n} -> {latencies ++ all, errors + n}
        end
      end)

    {{latencies, errors}, result}
  end

  defp write_loop(parent, latencies, errors) do
    receive do
      :stop -> send(parent, {:done, self(), latencies, errors})
    after
      0 ->
        started = System.monotonic_time(:microsecond)

        case Repo.query("INSERT INTO items (body) VALUES ('written during the run')") do
          {:ok, _} -> write_loop(parent, [System.monotonic_time(:microsecond) - started | latencies], errors)
          {:error, _} -> write_loop(parent, latencies, errors + 1)
        end
    end
  end

  defp report(label, {latencies, errors}) do
    sorted = Enum.sort(latencies)
    n = length(sorted)
    at = fn q -> Enum.at(sorted, min(n - 1, trunc(n * q))) / 1000 end

    IO.puts(
      "#{label}: #{n} writes, median #{at.(0.5)} ms, p99 #{at.(0.99)} ms, max #{List.last(sorted) / 1000} ms, " <>
        "#{errors} errors"
    )
  end

  defp check!(target, committed_before) do
    {:ok, copy} = EctoLibSql.start_link(database: target, pool_size: 1)
    {:ok, problems} = EctoLibSql.Maintenance.integrity_check(copy)
    %{rows: [[missing]]} = EctoLibSql.query!(copy, "SELECT ?1 - count(*) FROM items WHERE id <= ?1", [committed_before])

    IO.puts(
      "copy: integrity_check #{if problems == [], do: "ok", else: inspect(problems)}, rows committed before the backup missing: #{missing}"
    )

    GenServer.stop(copy)
  end
end

BackupBench.main()
