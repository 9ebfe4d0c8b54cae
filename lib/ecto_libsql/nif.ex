defmodule EctoLibSql.Nif do
  @moduledoc false
  # The NIF functions of the Rust crate in native/ecto_libsql. Call them
  # through `EctoLibSql.Native`, which validates arguments and documents
  # them; every stub here is replaced when the library loads.

  @on_load :load_nif

  @doc false
  def load_nif do
    path = :filename.join(:code.priv_dir(:ecto_libsql), ~c"libecto_libsql")

    case :erlang.load_nif(path, 0) do
      :ok -> :ok
      {:error, {:reload, _}} -> :ok
      {:error, reason} -> {:error, reason}
    end
  end

  defp not_loaded, do: :erlang.nif_error(:nif_not_loaded)

  def sqlite_version, do: not_loaded()
  def open_database(_opts), do: not_loaded()
  def database_kind(_db), do: not_loaded()
  def db_sync(_db), do: not_loaded()
  def db_sync_until(_db, _frame), do: not_loaded()
  def db_replication_index(_db), do: not_loaded()
  def db_flush_replicator(_db), do: not_loaded()
  def db_max_write_replication_index(_db), do: not_loaded()
  def connect(_db, _opts), do: not_loaded()
  def close(_conn), do: not_loaded()
  def query(_conn, _sql, _params), do: not_loaded()
  def query_traced(_conn, _sql, _params), do: not_loaded()
  def query_fast(_conn, _sql, _params), do: not_loaded()
  def query_traced_fast(_conn, _sql, _params), do: not_loaded()
  def stmt_query_fast(_stmt, _params), do: not_loaded()
  def prepare_cached(_conn, _sql), do: not_loaded()
  def execute(_conn, _sql, _params), do: not_loaded()
  def batch_sql(_conn, _sql, _transactional), do: not_loaded()
  def batch_statements(_conn, _statements, _transactional), do: not_loaded()
  def begin(_conn, _mode), do: not_loaded()
  def commit(_conn), do: not_loaded()
  def rollback(_conn), do: not_loaded()
  def savepoint_op(_conn, _op, _name), do: not_loaded()
  def autocommit(_conn), do: not_loaded()
  def interrupt(_conn), do: not_loaded()
  def set_busy_timeout(_conn, _ms), do: not_loaded()
  def reset(_conn), do: not_loaded()
  def ping(_conn), do: not_loaded()
  def counters(_conn), do: not_loaded()
  def cache_stats(_conn), do: not_loaded()
  def enable_load_extension(_conn, _enable), do: not_loaded()
  def load_extension(_conn, _path, _entry_point), do: not_loaded()
  def connection_database(_conn), do: not_loaded()
  def prepare(_conn, _sql), do: not_loaded()
  def stmt_query(_stmt, _params), do: not_loaded()
  def stmt_execute(_stmt, _params), do: not_loaded()
  def stmt_close(_stmt), do: not_loaded()
  def stmt_columns(_stmt), do: not_loaded()
  def stmt_parameter_count(_stmt), do: not_loaded()
  def stmt_parameter_name(_stmt, _index), do: not_loaded()
  def declare_cursor(_conn, _sql, _params), do: not_loaded()
  def fetch(_cursor, _max_rows), do: not_loaded()
  def close_cursor(_cursor), do: not_loaded()
end
