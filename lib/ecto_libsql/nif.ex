defmodule EctoLibSql.Nif do
  @moduledoc false
  # The NIF functions of the Rust crate in native/ecto_libsql. Call them
  # through `EctoLibSql.Native`, which validates arguments and documents
  # them; every stub here is replaced when the library loads.

  version = Mix.Project.config()[:version]

  # Built from source, the crate shares the workspace's target directory
  # (or CARGO_TARGET_DIR) with cargo test and clippy, in every Mix env:
  # rustler 0.38+ leaves the target directory to cargo, older ones need it
  # named (they default to one under _build per Mix env).
  target_dir =
    if Code.ensure_loaded?(Rustler.Compiler.Config) and
         Map.has_key?(Rustler.Compiler.Config.__struct__(), :target_dir),
       do: [target_dir: System.get_env("CARGO_TARGET_DIR") || Path.expand("../../target", __DIR__)],
       else: []

  # Precompiled NIFs are downloaded from the release assets of `version`
  # and checked against checksum-Elixir.EctoLibSql.Nif.exs (see
  # RELEASING.md). ECTO_LIBSQL_BUILD=1, or
  # `config :rustler_precompiled, :force_build, ecto_libsql: true`, builds
  # from source with cargo instead; so does a checkout of this repository,
  # which carries no checksum file. ECTO_LIBSQL_NIF_URL points the download
  # at a mirror.
  use RustlerPrecompiled,
      [
        otp_app: :ecto_libsql,
        crate: "ecto_libsql",
        version: version,
        base_url:
          System.get_env("ECTO_LIBSQL_NIF_URL") ||
            "https://github.com/ecto-libsql/ecto_libsql/releases/download/v#{version}",
        force_build:
          System.get_env("ECTO_LIBSQL_BUILD") in ["1", "true"] or
            Application.compile_env(:rustler_precompiled, [:force_build, :ecto_libsql], false) or
            not File.exists?(Path.expand("../../checksum-Elixir.EctoLibSql.Nif.exs", __DIR__)),
        nif_versions: ["2.15"],
        targets: ~w(
      aarch64-apple-darwin
      x86_64-apple-darwin
      aarch64-unknown-linux-gnu
      x86_64-unknown-linux-gnu
      aarch64-unknown-linux-musl
      x86_64-unknown-linux-musl
      x86_64-pc-windows-msvc
      x86_64-pc-windows-gnu
    )
      ] ++ target_dir

  defp not_loaded, do: :erlang.nif_error(:nif_not_loaded)

  def sqlite_version, do: not_loaded()
  def connection_threads, do: not_loaded()
  def open_database(_tag, _opts), do: not_loaded()
  def open_sandbox_copy(_tag, _source, _opts), do: not_loaded()
  def discard_sandbox_copy(_db), do: not_loaded()
  def database_stats(_db), do: not_loaded()
  def set_authorizer(_tag, _conn, _rules), do: not_loaded()
  def changes_subscribe(_db, _pid, _tables), do: not_loaded()
  def changes_unsubscribe(_db, _id), do: not_loaded()
  def database_kind(_db), do: not_loaded()
  def db_sync(_tag, _db), do: not_loaded()
  def db_sync_until(_tag, _db, _frame, _timeout_ms), do: not_loaded()
  def db_replication_index(_tag, _db), do: not_loaded()
  def db_flush_replicator(_tag, _db), do: not_loaded()
  def db_max_write_replication_index(_db), do: not_loaded()
  def connect(_tag, _db, _opts), do: not_loaded()
  def close(_tag, _conn), do: not_loaded()
  def closed(_conn), do: not_loaded()
  def query(_tag, _conn, _sql, _params, _traced), do: not_loaded()
  def execute(_tag, _conn, _sql, _params), do: not_loaded()
  def prepare_cached(_tag, _conn, _sql), do: not_loaded()
  def batch_sql(_tag, _conn, _sql, _transactional), do: not_loaded()
  def batch_statements(_tag, _conn, _statements, _transactional), do: not_loaded()
  def begin(_tag, _conn, _mode), do: not_loaded()
  def commit(_tag, _conn), do: not_loaded()
  def rollback(_tag, _conn), do: not_loaded()
  def savepoint_op(_tag, _conn, _op, _name), do: not_loaded()
  def autocommit(_tag, _conn), do: not_loaded()
  def interrupt(_conn), do: not_loaded()
  def abandon(_handle, _seq), do: not_loaded()
  def set_busy_timeout(_tag, _conn, _ms), do: not_loaded()
  def lock_file(_tag, _conn, _path), do: not_loaded()
  def json_to_jsonb(_text), do: not_loaded()
  def json_to_jsonb_dirty(_text), do: not_loaded()
  def jsonb_to_json(_bytes), do: not_loaded()
  def jsonb_to_json_dirty(_bytes), do: not_loaded()
  def jsonb_container(_bytes), do: not_loaded()
  def unlock_file(_tag, _conn), do: not_loaded()
  def reset(_tag, _conn), do: not_loaded()
  def ping(_tag, _conn), do: not_loaded()
  def counters(_tag, _conn), do: not_loaded()
  def cache_stats(_tag, _conn), do: not_loaded()
  def enable_load_extension(_tag, _conn, _enable), do: not_loaded()
  def load_extension(_tag, _conn, _path, _entry_point), do: not_loaded()
  def connection_database(_conn), do: not_loaded()
  def prepare(_tag, _conn, _sql), do: not_loaded()
  def stmt_query(_tag, _stmt, _params), do: not_loaded()
  def stmt_execute(_tag, _stmt, _params), do: not_loaded()
  def stmt_close(_tag, _stmt), do: not_loaded()
  def stmt_columns(_tag, _stmt), do: not_loaded()
  def stmt_parameter_count(_tag, _stmt), do: not_loaded()
  def stmt_parameter_name(_tag, _stmt, _index), do: not_loaded()
  def declare_cursor(_tag, _conn, _sql, _params), do: not_loaded()
  def fetch(_tag, _cursor, _max_rows), do: not_loaded()
  def close_cursor(_tag, _cursor), do: not_loaded()
end
