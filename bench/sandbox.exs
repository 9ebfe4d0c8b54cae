# What a sandboxed test pays at checkout and checkin (see bench/README.md):
#
#     MIX_ENV=bench mix run bench/sandbox.exs
#
# For a migrated database of about 1 MB and of about 50 MB: one
# `Sandbox.checkout` + `Sandbox.checkin` with `sandbox: :copy` (a private
# copy per checkout), next to the standard sandbox (a transaction on the
# shared file) on the same database, in the same run. Benchee, 2 s per case.

defmodule SandboxBench.Repo do
  use Ecto.Repo, otp_app: :ecto_libsql, adapter: Ecto.Adapters.LibSql
end

defmodule SandboxBench do
  @moduledoc false
  alias Ecto.Adapters.SQL.Sandbox
  alias SandboxBench.Repo

  def main do
    dir = Path.join(System.tmp_dir!(), "ecto_libsql_sandbox_bench_#{System.os_time()}")
    File.mkdir_p!(dir)

    try do
      for mb <- [1, 50] do
        path = Path.join(dir, "#{mb}mb.db")
        fill!(path, mb)
        IO.puts("\n## #{mb} MB database (#{div(File.stat!(path).size, 1024)} KiB on disk)\n")

        Benchee.run(
          %{
            "sandbox: :copy" => fn _ -> cycle() end,
            "standard sandbox (transaction)" => fn _ -> cycle() end
          }
          |> Map.new(fn {name, fun} ->
            {name, {fun, before_scenario: fn _ -> start!(path, name) end, after_scenario: fn _ -> stop!() end}}
          end),
          time: 2,
          warmup: 0.5,
          memory_time: 0,
          print: [fast_warning: false, configuration: false]
        )
      end
    after
      File.rm_rf!(dir)
    end
  end

  defp cycle do
    :ok = Sandbox.checkout(Repo)
    # One read, so the copy is really opened and used.
    %{rows: [[_]]} = Repo.query!("SELECT count(*) FROM items")
    :ok = Sandbox.checkin(Repo)
  end

  defp start!(path, name) do
    sandbox = if name == "sandbox: :copy", do: :copy, else: :transaction
    {:ok, _} = Repo.start_link(database: path, pool: Sandbox, sandbox: sandbox, pool_size: 1, log: false)
    Sandbox.mode(Repo, :manual)
  end

  defp stop!, do: Supervisor.stop(Repo)

  # About `mb` MB of rows with an index, as a migrated and seeded test
  # database might be.
  defp fill!(path, mb) do
    {:ok, pid} = Repo.start_link(database: path, pool_size: 1, log: false)
    Repo.query!("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, body TEXT)")
    Repo.query!("CREATE INDEX items_name ON items (name)")
    body = String.duplicate("x", 400)

    Repo.transaction(fn ->
      for chunk <- Enum.chunk_every(1..(mb * 2_000), 500) do
        rows = Enum.map(chunk, &%{name: "item #{&1}", body: body})
        Repo.insert_all("items", rows)
      end
    end)

    Repo.query!("PRAGMA wal_checkpoint(TRUNCATE)")
    Supervisor.stop(pid)
  end
end

SandboxBench.main()
