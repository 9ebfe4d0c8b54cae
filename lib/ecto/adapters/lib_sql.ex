defmodule Ecto.Adapters.LibSql do
  @moduledoc """
  Ecto adapter for libSQL: local SQLite files, remote libSQL servers (Turso,
  `sqld`) and embedded replicas.

      config :my_app, MyApp.Repo,
        adapter: Ecto.Adapters.LibSql,
        database: "priv/my_app.db",
        pool_size: 5

  Built on `Ecto.Adapters.SQL`, so `Repo.query/3`, `Repo.explain/3`,
  `Repo.to_sql/2`, `Ecto.Adapters.SQL.Sandbox` and the `mix ecto.*` tasks
  work as with the adapters in `ecto_sql`.

  ## Options

  Every option of `EctoLibSql.start_link/1` (and so of
  `EctoLibSql.Native.open/1`): `:database`, `:uri`, `:auth_token`,
  `:sync_interval`, `:read_your_writes`, `:encryption_key`, `:journal_mode`,
  `:busy_timeout`, `:synchronous`, `:foreign_keys`, `:cache_size`,
  `:temp_store`, `:custom_pragmas`, `:statement_cache_size`,
  `:default_transaction_mode`, `:sandbox`, plus the pool options. The names
  match ecto_sqlite3's, so switching is a one-line change.

  ## Tests in parallel

  With `pool: Ecto.Adapters.SQL.Sandbox` and `sandbox: :copy` in the test
  configuration, each sandbox owner works on a private copy of the test
  database, so `async: true` tests that write run in parallel. See the
  README's "Testing" section.

  ## Types, per Repo

    * `:binary_id_type` (alias `:uuid_type`) - `:string` (default: UUIDs as
      36-character TEXT) or `:binary` (16-byte BLOB)
    * `:map_type` / `:array_type` - `:string` (default: JSON as TEXT) or
      `:binary` (JSON as BLOB)
    * `:datetime_type` - `:iso8601` (default: `2024-01-02T03:04:05.000006`,
      with `Z` for UTC types) or `:text_datetime` (`2024-01-02 03:04:05.000006`)

  Whatever the options, loading accepts every one of these forms, so
  changing an option never makes existing rows unreadable.

  Query generation cannot see these options: a literal written into a query
  (`where: t.tags == ["a"]`, as opposed to `^tags`) is always written in the
  default form. With a non-default option, interpolate such values.

  Decimals are stored as TEXT and come back exactly as written; booleans as
  0/1; `:binary` as BLOB; `:duration` (Elixir 1.17 and later) as ISO 8601
  TEXT such as `P13MT1.000100S`, with no PostgreSQL interval fields or
  precision applied. Arrays are JSON: `update_all` `push:`/`pull:` work
  on arrays of integers, floats and strings.

  `insert_all` rows may give different fields: a cell a row leaves out gets
  its column's default (read once per call from the table), as SQLite has
  no `DEFAULT` keyword inside `VALUES`.
  """

  use Ecto.Adapters.SQL, driver: :ecto_libsql

  @behaviour Ecto.Adapter.Storage
  @behaviour Ecto.Adapter.Structure

  alias Ecto.Adapters.LibSql.{Codec, Connection, DDL}
  alias EctoLibSql.{Maintenance, Native}

  ## Embedded replicas

  @doc """
  Syncs an embedded replica Repo's database from its primary, once for the
  whole pool: `{:ok, %{frame_no: n, frames_synced: m}}`. See
  `EctoLibSql.sync/2`.
  """
  @spec sync(Ecto.Repo.t() | pid(), keyword()) :: {:ok, map()} | {:error, Exception.t()}
  def sync(repo, opts \\ []), do: EctoLibSql.sync(pool(repo), opts)

  @doc "Syncs until the replica reaches `frame`; see `EctoLibSql.sync_until/3`."
  @spec sync_until(Ecto.Repo.t() | pid(), non_neg_integer(), keyword()) :: {:ok, map()} | {:error, Exception.t()}
  def sync_until(repo, frame, opts \\ []), do: EctoLibSql.sync_until(pool(repo), frame, opts)

  @doc "The replica's replication index (frame number); see `EctoLibSql.replication_index/2`."
  @spec replication_index(Ecto.Repo.t() | pid(), keyword()) :: {:ok, non_neg_integer() | nil} | {:error, Exception.t()}
  def replication_index(repo, opts \\ []), do: EctoLibSql.replication_index(pool(repo), opts)

  defp pool(repo), do: Ecto.Adapter.lookup_meta(repo).pid

  ## Operations (see EctoLibSql.Maintenance, which these call with the Repo's pool)

  @doc """
  Writes a consistent, compacted copy of the Repo's database to `path`
  while the Repo serves traffic: `{:ok, %{bytes: n, pages: p, duration_ms: t}}`.
  See `EctoLibSql.Maintenance.backup/3`.
  """
  @spec backup(Ecto.Repo.t() | pid(), Path.t(), keyword()) :: {:ok, map()} | {:error, Exception.t()}
  def backup(repo, path, opts \\ []), do: Maintenance.backup(pool(repo), path, opts)

  @doc "A WAL checkpoint; see `EctoLibSql.Maintenance.checkpoint/3`."
  @spec checkpoint(Ecto.Repo.t() | pid(), Maintenance.checkpoint_mode(), keyword()) ::
          {:ok, map()} | {:error, Exception.t()}
  def checkpoint(repo, mode \\ :passive, opts \\ []), do: Maintenance.checkpoint(pool(repo), mode, opts)

  @doc "`PRAGMA integrity_check`: `{:ok, []}` or `{:ok, problems}`; see `EctoLibSql.Maintenance.integrity_check/2`."
  @spec integrity_check(Ecto.Repo.t() | pid(), keyword()) :: {:ok, [String.t()]} | {:error, Exception.t()}
  def integrity_check(repo, opts \\ []), do: Maintenance.integrity_check(pool(repo), opts)

  @doc "`PRAGMA quick_check`; see `EctoLibSql.Maintenance.quick_check/2`."
  @spec quick_check(Ecto.Repo.t() | pid(), keyword()) :: {:ok, [String.t()]} | {:error, Exception.t()}
  def quick_check(repo, opts \\ []), do: Maintenance.quick_check(pool(repo), opts)

  @doc "`PRAGMA optimize`; see `EctoLibSql.Maintenance.optimize/2`."
  @spec optimize(Ecto.Repo.t() | pid(), keyword()) :: :ok | {:error, Exception.t()}
  def optimize(repo, opts \\ []), do: Maintenance.optimize(pool(repo), opts)

  @doc "`ANALYZE`; see `EctoLibSql.Maintenance.analyze/2`."
  @spec analyze(Ecto.Repo.t() | pid(), keyword()) :: :ok | {:error, Exception.t()}
  def analyze(repo, opts \\ []), do: Maintenance.analyze(pool(repo), opts)

  @doc "`VACUUM`; see `EctoLibSql.Maintenance.vacuum/2`."
  @spec vacuum(Ecto.Repo.t() | pid(), keyword()) :: :ok | {:error, Exception.t()}
  def vacuum(repo, opts \\ []), do: Maintenance.vacuum(pool(repo), opts)

  @doc "`PRAGMA incremental_vacuum`; see `EctoLibSql.Maintenance.incremental_vacuum/3`."
  @spec incremental_vacuum(Ecto.Repo.t() | pid(), pos_integer() | nil, keyword()) :: :ok | {:error, Exception.t()}
  def incremental_vacuum(repo, pages \\ nil, opts \\ []), do: Maintenance.incremental_vacuum(pool(repo), pages, opts)

  @doc "Database and WAL file sizes and page counts; see `EctoLibSql.Maintenance.sizes/2`."
  @spec sizes(Ecto.Repo.t() | pid(), keyword()) :: {:ok, map()} | {:error, Exception.t()}
  def sizes(repo, opts \\ []), do: Maintenance.sizes(pool(repo), opts)

  @doc """
  SQLite's query plan for `queryable` as data, one map per plan step:
  `[%{id: 2, parent: 0, detail: "SEARCH p0 USING INTEGER PRIMARY KEY (rowid=?)"}]`
  `operation` is `:all` (default), `:update_all` or `:delete_all`.
  """
  @spec explain_query_plan(Ecto.Repo.t(), :all | :update_all | :delete_all, Ecto.Queryable.t(), keyword()) ::
          {:ok, [map()]} | {:error, Exception.t()}
  def explain_query_plan(repo, operation \\ :all, queryable, opts \\ []) do
    {sql, params} = Ecto.Adapters.SQL.to_sql(operation, repo, queryable)

    case Ecto.Adapters.SQL.query(repo, "EXPLAIN QUERY PLAN " <> sql, params, opts) do
      {:ok, %{rows: rows}} ->
        {:ok, Enum.map(rows, fn [id, parent, _, detail] -> %{id: id, parent: parent, detail: detail} end)}

      {:error, _} = error ->
        error
    end
  end

  ## Types

  @impl Ecto.Adapter
  def loaders(:boolean, type), do: [&Codec.load_boolean/1, type]
  def loaders(:binary_id, type), do: [&Codec.load_uuid/1, Ecto.UUID, type]
  def loaders(:uuid, type), do: [&Codec.load_uuid/1, type]
  def loaders(:map, type), do: [&Codec.load_json/1, type]
  def loaders({:map, _}, type), do: [&Codec.load_json/1, type]
  def loaders({:array, _}, type), do: [&Codec.load_json/1, type]
  def loaders(:float, type), do: [&Codec.load_float/1, type]
  def loaders(:decimal, type), do: [&Codec.load_decimal/1, type]
  def loaders(:date, type), do: [&Codec.load_date/1, type]
  def loaders(:time, type), do: [&Codec.load_time/1, type]
  def loaders(:time_usec, type), do: [&Codec.load_time/1, type]
  def loaders(:naive_datetime, type), do: [&Codec.load_naive_datetime/1, type]
  def loaders(:naive_datetime_usec, type), do: [&Codec.load_naive_datetime/1, type]
  def loaders(:utc_datetime, type), do: [&Codec.load_utc_datetime/1, type]
  def loaders(:utc_datetime_usec, type), do: [&Codec.load_utc_datetime/1, type]
  def loaders(:duration, type), do: [&Codec.load_duration/1, type]
  def loaders(_primitive, type), do: [type]

  @impl Ecto.Adapter
  def dumpers(:binary, type), do: [type, &Codec.dump_blob/1]
  def dumpers(:binary_id, type), do: [type, Ecto.UUID, &Codec.dump_uuid/1]
  def dumpers(:uuid, type), do: [type, &Codec.dump_uuid/1]
  def dumpers(:map, type), do: [&Ecto.Type.embedded_dump(type, &1, :json), &Codec.dump_json/1]
  def dumpers({:map, _}, type), do: [&Ecto.Type.embedded_dump(type, &1, :json), &Codec.dump_json/1]
  # Arrays are JSON, so their elements dump the way embeds do (UUIDs and
  # datetimes as JSON strings), not through this adapter's dumpers.
  def dumpers({:array, _}, type), do: [&Ecto.Type.embedded_dump(type, &1, :json), &Codec.dump_json/1]
  def dumpers(:decimal, type), do: [type, &Codec.dump_decimal/1]
  def dumpers(:date, type), do: [type, &Codec.dump_date/1]
  def dumpers(:time, type), do: [type, &Codec.dump_time/1]
  def dumpers(:time_usec, type), do: [type, &Codec.dump_time/1]
  def dumpers(:naive_datetime, type), do: [type, &Codec.dump_datetime/1]
  def dumpers(:naive_datetime_usec, type), do: [type, &Codec.dump_datetime/1]
  def dumpers(:utc_datetime, type), do: [type, &Codec.dump_datetime/1]
  def dumpers(:utc_datetime_usec, type), do: [type, &Codec.dump_datetime/1]
  def dumpers(:duration, type), do: [type, &Codec.dump_duration/1]
  def dumpers(_primitive, type), do: [type]

  # A generated binary_id is already in dumped form, so it skips the
  # dumpers: tag it here for the driver to write per `:binary_id_type`.
  @impl Ecto.Adapter.Schema
  def autogenerate(:binary_id), do: {:uuid, Ecto.UUID.bingenerate()}
  def autogenerate(type), do: super(type)

  ## insert_all

  # SQLite has no DEFAULT keyword inside VALUES. When the rows of an
  # insert_all do not all give the same fields, each cell a row leaves out
  # is written as its column's default expression (read from the table), or
  # NULL when the column has none: exactly what SQLite inserts for a column
  # an INSERT does not name (NULL into an INTEGER PRIMARY KEY takes a new
  # rowid; a NOT NULL column without a default still fails). Several rows
  # that give no field at all (DEFAULT VALUES inserts only one) name the
  # table's first column the same way.
  @impl Ecto.Adapter.Schema
  def insert_all(adapter_meta, schema_meta, header, rows, on_conflict, returning, placeholders, opts)
      when is_list(rows) do
    width = length(header)
    all_defaults? = header == [] and length(rows) > 1

    if all_defaults? or not Enum.all?(rows, &(length(&1) == width)) do
      %{source: source, prefix: prefix} = schema_meta
      {_, conflict_params, _} = on_conflict
      defaults = column_defaults(adapter_meta, prefix, source, opts)
      header = if all_defaults?, do: Enum.take(Enum.map(defaults, &elem(&1, 0)), 1), else: header
      {rows, params} = fill_rows(header, rows, Map.new(defaults))
      sql = Connection.insert(prefix, source, header, rows, on_conflict, returning, placeholders, opts)
      opts = if opts[:cache_statement], do: opts, else: [{:cache_statement, "ecto_insert_all_#{source}"} | opts]
      params = placeholders ++ Enum.reverse(params, conflict_params)

      %{num_rows: num, rows: rows} = Ecto.Adapters.SQL.query!(adapter_meta, sql, params, [source: source] ++ opts)
      {num, rows}
    else
      super(adapter_meta, schema_meta, header, rows, on_conflict, returning, placeholders, opts)
    end
  end

  def insert_all(adapter_meta, schema_meta, header, rows, on_conflict, returning, placeholders, opts) do
    super(adapter_meta, schema_meta, header, rows, on_conflict, returning, placeholders, opts)
  end

  # The table's columns in order, as {name, default expression | nil}.
  defp column_defaults(adapter_meta, prefix, source, opts) do
    {sql, params} =
      case prefix do
        nil -> {"SELECT name, dflt_value FROM pragma_table_info(?1) ORDER BY cid", [source]}
        prefix -> {"SELECT name, dflt_value FROM pragma_table_info(?1, ?2) ORDER BY cid", [source, to_string(prefix)]}
      end

    %{rows: rows} = Ecto.Adapters.SQL.query!(adapter_meta, sql, params, Keyword.delete(opts, :cache_statement))
    Enum.map(rows, fn [name, default] -> {name, default} end)
  end

  # Like Ecto.Adapters.SQL's own unzip of insert_all rows, with
  # {:default, sql | nil} for the cells a row leaves out.
  defp fill_rows(header, rows, defaults) do
    Enum.map_reduce(rows, [], fn fields, params ->
      Enum.map_reduce(header, params, fn key, acc ->
        case :lists.keyfind(key, 1, fields) do
          {^key, {%Ecto.Query{} = query, query_params}} ->
            {{query, length(query_params)}, Enum.reverse(query_params, acc)}

          {^key, {:placeholder, placeholder_index}} ->
            {{:placeholder, Integer.to_string(placeholder_index)}, acc}

          {^key, value} ->
            {key, [value | acc]}

          false ->
            {{:default, Map.get(defaults, to_string(key))}, acc}
        end
      end)
    end)
  end

  ## Migrations

  @impl Ecto.Adapter.Migration
  def supports_ddl_transaction?, do: true

  @impl Ecto.Adapter.Migration
  def execute_ddl(meta, command, opts) do
    # SQLite has no ADD COLUMN IF NOT EXISTS: look at the table's columns
    # and turn the conditional changes into plain ones.
    command = meta |> resolve_command(command, opts) |> storage_types(meta)

    Ecto.Adapters.SQL.execute_ddl(meta, Connection, command, opts)
  end

  # The Repo's type options decide the column types too: a :binary_id (or
  # :uuid) column is a BLOB when the Repo writes UUIDs as 16 bytes, and a map
  # or array column a BLOB when the Repo writes JSON as a BLOB.
  defp storage_types({kind, table, changes}, %{repo: repo})
       when kind in [:create, :create_if_not_exists, :alter] and is_list(changes) do
    types = EctoLibSql.Types.from_options(repo.config())
    {kind, table, Enum.map(changes, &storage_type(&1, types))}
  end

  defp storage_types(command, _meta), do: command

  defp storage_type({op, name, type, opts}, types) when op in [:add, :add_if_not_exists, :modify],
    do: {op, name, column_storage(type, types), opts}

  defp storage_type(change, _types), do: change

  defp column_storage(type, %{binary_id: :binary}) when type in [:binary_id, :uuid], do: :binary
  defp column_storage(type, %{map: :binary}) when type == :map, do: :binary
  defp column_storage({:map, _}, %{map: :binary}), do: :binary
  defp column_storage({:array, _}, %{array: :binary}), do: :binary
  defp column_storage(type, _types), do: type

  # Commands whose SQL depends on what the database holds now.
  defp resolve_command(meta, {:rename, %Ecto.Migration.Index{} = index, new_name}, opts) do
    {sql, params} = DDL.index_sql_query(index)

    case Ecto.Adapters.SQL.query!(meta, sql, params, opts) do
      %{rows: [[index_sql]]} when is_binary(index_sql) ->
        {:rename, index, new_name, index_sql}

      _ ->
        raise ArgumentError,
              "cannot rename index #{inspect(index.name)}: SQLite has no ALTER INDEX, and no " <>
                "CREATE INDEX definition of it was found (indexes made by UNIQUE constraints have none)"
    end
  end

  defp resolve_command(meta, command, opts) do
    if DDL.conditional_columns?(command) do
      {sql, params} = DDL.columns_query(elem(command, 1))
      %{rows: rows} = Ecto.Adapters.SQL.query!(meta, sql, params, opts)
      DDL.resolve_conditional_columns(command, Enum.map(rows, &hd/1))
    else
      command
    end
  end

  @impl Ecto.Adapter.Migration
  def lock_for_migrations(_meta, _opts, fun) do
    # SQLite serializes writers itself, and Ecto's migrator runs each
    # migration from its own process: holding a write lock here would make
    # those processes wait on us. Versions are recorded inside each
    # migration's transaction, so two migrators cannot both record one.
    fun.()
  end

  ## Storage

  @impl Ecto.Adapter.Storage
  def storage_up(opts) do
    case target(opts) do
      {:file, path} ->
        if File.exists?(path) do
          {:error, :already_up}
        else
          File.mkdir_p!(Path.dirname(path))
          with_connection(opts, fn _conn -> :ok end)
        end

      {:memory, _} ->
        {:error, :already_up}

      {:remote, _} ->
        {:error,
         "storage_up does not apply to a remote libSQL database: create it on the server (e.g. turso db create)"}
    end
  end

  @impl Ecto.Adapter.Storage
  def storage_down(opts) do
    case target(opts) do
      {:file, path} ->
        if File.exists?(path) do
          Enum.each([path, path <> "-wal", path <> "-shm", path <> "-journal"], &File.rm/1)
          :ok
        else
          {:error, :already_down}
        end

      {:memory, _} ->
        {:error, :already_down}

      {:remote, _} ->
        {:error, "storage_down does not apply to a remote libSQL database: drop it on the server"}
    end
  end

  @impl Ecto.Adapter.Storage
  def storage_status(opts) do
    case target(opts) do
      {:file, path} -> if File.exists?(path), do: :up, else: :down
      {:memory, _} -> :up
      {:remote, _} -> {:error, "storage_status does not apply to a remote libSQL database"}
    end
  end

  # Replicas are local files too: they can be created and removed here.
  defp target(opts) do
    case {Keyword.get(opts, :database), Keyword.get(opts, :uri)} do
      {nil, nil} -> raise ArgumentError, "the libSQL adapter needs :database or :uri in the Repo configuration"
      {":memory:", _} -> {:memory, ":memory:"}
      {nil, uri} -> {:remote, uri}
      {path, _} -> {:file, Path.expand(path)}
    end
  end

  defp with_connection(opts, fun) do
    case Native.open(Keyword.take(opts, EctoLibSql.Options.keys())) do
      {:ok, conn} ->
        try do
          fun.(conn)
        after
          Native.close(conn)
        end

      {:error, err} ->
        {:error, Exception.message(err)}
    end
  end

  ## Structure

  @impl Ecto.Adapter.Structure
  def structure_dump(default, config) do
    path = config[:dump_path] || Path.join(default, "structure.sql")
    migration_table = to_string(config[:migration_source] || "schema_migrations")

    with_connection(config, fn conn ->
      with {:ok, sql} <- Ecto.Adapters.LibSql.Structure.dump(conn, migration_table) do
        File.mkdir_p!(Path.dirname(path))
        File.write!(path, sql)
        {:ok, path}
      end
    end)
  end

  @impl Ecto.Adapter.Structure
  def structure_load(default, config) do
    path = config[:dump_path] || Path.join(default, "structure.sql")

    with {:ok, sql} <- File.read(path),
         {:ok, _} <- with_connection(config, &Native.transactional_batch(&1, sql)) do
      {:ok, path}
    else
      {:error, %EctoLibSql.Error{} = err} -> {:error, Exception.message(err)}
      {:error, reason} when is_atom(reason) -> {:error, "could not read #{path}: #{:file.format_error(reason)}"}
      {:error, message} -> {:error, message}
    end
  end

  @impl Ecto.Adapter.Structure
  def dump_cmd(_args, _opts, _config) do
    {"dump_cmd is not available: the libSQL adapter dumps through its own connection (mix ecto.dump)", 1}
  end
end
