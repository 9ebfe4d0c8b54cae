defmodule EctoLibSql.Telemetry do
  @moduledoc """
  Telemetry events of the `EctoLibSql` driver. All are in the
  `[:ecto_libsql, ...]` namespace:

    * `[:ecto_libsql, :connect]` - a pooled connection opened.
      Measurements: `%{duration: native_time}`. Metadata:
      `%{database: path_or_uri, mode: :local | :remote | :replica}`.
    * `[:ecto_libsql, :disconnect]` - a pooled connection closed.
      Measurements: `%{}`. Metadata: `%{database: ..., reason: exception}`.
    * `[:ecto_libsql, :query]` - a statement ran.
      Measurements: `%{duration: native_time, rows: num_rows}`. Metadata:
      `%{sql: sql, command: atom | nil, cached: boolean, result: :ok | :error,
      error: %EctoLibSql.Error{} | nil}`; `cached` says whether the prepared
      statement came from the connection's statement cache.

  Durations are in `:native` time units (`System.convert_time_unit/3`).
  """

  @doc false
  def connect(duration, metadata),
    do: :telemetry.execute([:ecto_libsql, :connect], %{duration: duration}, metadata)

  @doc false
  def disconnect(metadata), do: :telemetry.execute([:ecto_libsql, :disconnect], %{}, metadata)

  @doc false
  def query(duration, rows, metadata),
    do: :telemetry.execute([:ecto_libsql, :query], %{duration: duration, rows: rows}, metadata)
end
