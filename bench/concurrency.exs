# The concurrency model under stress (see README "Concurrency"):
#
#     MIX_ENV=bench mix run bench/concurrency.exs
#
# 64 writer processes run read-then-insert transactions for BENCH_SECONDS
# (default 5) on a pool of 8, then of 32 (three times the VM's 10 dirty IO
# schedulers). Meanwhile a probe process times, every 100 ms, an unrelated
# File.read/1 and a point read on another pool. A fixed-duration concurrent
# workload is what benchee cannot express, hence the hand-written loop.
# Reports transactions/s, errors by code, and the probes' median and worst
# latency, with the load average before and after.

defmodule ConcurrencyBench do
  @moduledoc false

  def main do
    seconds = String.to_integer(System.get_env("BENCH_SECONDS", "5"))
    dir = Path.join(System.tmp_dir!(), "ecto_libsql_concurrency_#{System.os_time()}")
    File.mkdir_p!(dir)
    IO.puts("load average before: #{load()}")

    for pool_size <- [8, 32] do
      report(pool_size, run(dir, pool_size, seconds), seconds)
    end

    IO.puts("load average after: #{load()}")
    File.rm_rf!(dir)
  end

  defp run(dir, pool_size, seconds) do
    path = Path.join(dir, "w#{pool_size}.db")
    {:ok, pool} = EctoLibSql.start_link(database: path, pool_size: pool_size)
    {:ok, other} = EctoLibSql.start_link(database: path <> ".other", pool_size: 1)
    EctoLibSql.query!(pool, "CREATE TABLE t (writer INTEGER, n INTEGER)")
    EctoLibSql.query!(other, "CREATE TABLE o (x INTEGER PRIMARY KEY)")
    EctoLibSql.query!(other, "INSERT INTO o VALUES (1)")
    File.write!(path <> ".txt", :crypto.strong_rand_bytes(4096))
    deadline = System.monotonic_time(:millisecond) + seconds * 1000

    probe = Task.async(fn -> probe(path <> ".txt", other, deadline, []) end)

    writers =
      for w <- 1..64 do
        Task.async(fn -> write(pool, w, deadline, %{ok: 0}) end)
      end

    counts = writers |> Task.await_many(:infinity) |> Enum.reduce(&Map.merge(&1, &2, fn _, a, b -> a + b end))
    probes = Task.await(probe, :infinity)
    GenServer.stop(pool)
    GenServer.stop(other)
    {counts, probes}
  end

  defp write(pool, w, deadline, acc) do
    if System.monotonic_time(:millisecond) >= deadline do
      acc
    else
      result =
        EctoLibSql.transaction(pool, fn conn ->
          EctoLibSql.query!(conn, "SELECT count(*) FROM t WHERE writer = ?", [w])
          EctoLibSql.query!(conn, "INSERT INTO t VALUES (?, ?)", [w, acc.ok])
        end)

      key =
        case result do
          {:ok, _} -> :ok
          {:error, %{code: code}} -> code
          {:error, other} -> other.__struct__
        end

      write(pool, w, deadline, Map.update(acc, key, 1, &(&1 + 1)))
    end
  rescue
    e in [EctoLibSql.Error, DBConnection.ConnectionError] ->
      write(pool, w, deadline, Map.update(acc, Map.get(e, :code, e.__struct__), 1, &(&1 + 1)))
  end

  defp probe(file, other, deadline, acc) do
    if System.monotonic_time(:millisecond) >= deadline do
      acc
    else
      {file_us, _} = :timer.tc(fn -> File.read!(file) end)
      {read_us, _} = :timer.tc(fn -> EctoLibSql.query!(other, "SELECT x FROM o WHERE x = 1") end)
      Process.sleep(100)
      probe(file, other, deadline, [{file_us, read_us} | acc])
    end
  end

  defp report(pool_size, {counts, probes}, seconds) do
    {file, read} = Enum.unzip(probes)
    errors = counts |> Map.delete(:ok) |> Enum.map_join(", ", fn {k, v} -> "#{inspect(k)}: #{v}" end)

    IO.puts(
      "pool #{pool_size}, 64 writers: #{round(counts.ok / seconds)} tx/s, errors: #{if errors == "", do: "0", else: errors}; " <>
        "File.read median #{median(file)} us, worst #{Enum.max(file)} us; " <>
        "point read on another pool median #{median(read)} us, worst #{Enum.max(read)} us (#{length(probes)} probes)"
    )
  end

  defp median(list), do: list |> Enum.sort() |> Enum.at(div(length(list), 2))
  defp load, do: File.read!("/proc/loadavg") |> String.split() |> Enum.take(3) |> Enum.join(" ")
end

ConcurrencyBench.main()
