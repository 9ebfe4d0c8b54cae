defmodule EctoLibSql.DriverCase do
  @moduledoc false
  use ExUnit.CaseTemplate

  using do
    quote do
      import EctoLibSql.DriverCase
    end
  end

  setup do
    dir = Path.join(System.tmp_dir!(), "ecto_libsql_driver_#{System.unique_integer([:positive])}")
    File.mkdir_p!(dir)
    on_exit(fn -> File.rm_rf(dir) end)
    {:ok, path: Path.join(dir, "test.db")}
  end

  def start_pool!(opts) do
    {:ok, pool} = EctoLibSql.start_link(opts)
    pool
  end

  def collect_telemetry(events) do
    test = self()
    id = make_ref()

    :telemetry.attach_many(
      id,
      events,
      fn event, measurements, metadata, _ -> send(test, {:telemetry, event, measurements, metadata}) end,
      nil
    )

    id
  end
end
