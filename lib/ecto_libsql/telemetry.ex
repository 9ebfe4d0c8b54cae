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
    * `[:ecto_libsql, :sync]` - an embedded replica's replication call
      (`EctoLibSql.sync/2`, `sync_until/3`, `replication_index/2`, and the
      Ecto adapter's functions of the same names) finished.
      Measurements: `%{duration: native_time, frames: frames_synced}`
      (frames is 0 for `replication_index`). Metadata: `%{database: path,
      call: atom, result: :ok | :error, frame_no: integer | nil,
      error: %EctoLibSql.Error{} | nil}`.

    * `[:ecto_libsql, :maintenance]` - an `EctoLibSql.Maintenance` call
      (backup, checkpoint, checks, optimize, analyze, vacuum, sizes)
      finished. Measurements: `%{duration: native_time}`. Metadata:
      `%{call: atom, result: :ok | :error, error: exception | nil}`.
    * `[:ecto_libsql, :transaction]` - a transaction ended (commit or
      rollback). Measurements: `%{duration: native_time}` from BEGIN
      (including any wait for the write lock) to its end. Metadata:
      `%{database: ..., mode: :deferred | :immediate | :exclusive,
      outcome: :commit | :rollback}`.

    * `[:ecto_libsql, :write_gate]` - a local write took the database's
      write gate (a BEGIN IMMEDIATE/EXCLUSIVE, or a write outside a
      transaction). Measurements: `%{wait: native_time}`, the time spent
      queued behind other writers of the VM (about 0 when none). Metadata:
      `%{database: path, command: :begin | :query}`.

  Durations are in `:native` time units (`System.convert_time_unit/3`).
  """

  @doc false
  def connect(duration, metadata),
    do: :telemetry.execute([:ecto_libsql, :connect], %{duration: duration}, metadata)

  @doc false
  def disconnect(metadata), do: :telemetry.execute([:ecto_libsql, :disconnect], %{}, metadata)

  @doc false
  def sync(duration, %{database: database, call: call, reply: reply}) do
    {frames, frame_no, error} =
      case reply do
        {:ok, {frame_no, frames}} -> {frames, frame_no, nil}
        {:ok, frame_no} -> {0, frame_no, nil}
        {:error, error} -> {0, nil, error}
      end

    :telemetry.execute([:ecto_libsql, :sync], %{duration: duration, frames: frames}, %{
      database: database,
      call: call,
      result: if(error, do: :error, else: :ok),
      frame_no: frame_no,
      error: error
    })
  end

  @doc false
  def maintenance(duration, %{call: call, result: result}) do
    error = with {:error, err} <- result, do: err, else: (_ -> nil)

    :telemetry.execute([:ecto_libsql, :maintenance], %{duration: duration}, %{
      call: call,
      result: if(error, do: :error, else: :ok),
      error: error
    })
  end

  @doc false
  def write_gate(wait, metadata), do: :telemetry.execute([:ecto_libsql, :write_gate], %{wait: wait}, metadata)

  @doc false
  def transaction(duration, metadata),
    do: :telemetry.execute([:ecto_libsql, :transaction], %{duration: duration}, metadata)

  @doc false
  def query(duration, rows, metadata),
    do: :telemetry.execute([:ecto_libsql, :query], %{duration: duration, rows: rows}, metadata)
end
