defmodule EctoLibSql.Maintenance do
  @moduledoc """
  Backup and maintenance of a pool's local database, while the pool serves
  traffic.

  Each function borrows a pooled connection only for a moment (to learn
  which database the pool shares), then works on a connection of its own,
  with a thread of its own: a backup or a `VACUUM` never holds one of the
  pool's connections, and its caller waits in `receive`, never on a
  scheduler. Every function takes `:timeout` (default 30 minutes) and emits
  `[:ecto_libsql, :maintenance]` (see `EctoLibSql.Telemetry`).

  The Ecto adapter has the same functions taking a Repo
  (`Ecto.Adapters.LibSql.backup/3`, ...).

  Remote databases are maintained by their server: these functions answer
  `code: :unsupported` for them. An embedded replica's file is written only
  by replication, so only the read-only functions (`backup/3`, the checks,
  `sizes/2`) make sense on it.
  """

  alias EctoLibSql.{DatabaseCall, Error, Native, Telemetry}

  @default_timeout :timer.minutes(30)

  @type pool :: DBConnection.conn()
  @type checkpoint_mode :: :passive | :full | :restart | :truncate

  @doc """
  Writes a consistent copy of the database to `path` (which must not exist)
  with `VACUUM INTO`: compacted, in one read transaction, so writers keep
  going (in WAL mode they never wait for it) and the copy holds every
  transaction committed before the backup started.

  Returns `{:ok, %{bytes: size, pages: count, duration_ms: ms}}`. Restore
  by opening the copy (or copying it over a database no connection has
  open). SQLite's page-by-page backup API, with progress per step, is not
  reachable through libSQL's Rust API; a backup reports start and stop
  through telemetry.
  """
  @spec backup(pool(), Path.t(), keyword()) :: {:ok, map()} | {:error, Exception.t()}
  def backup(pool, path, opts \\ []) do
    path = Path.expand(path)

    if File.exists?(path) do
      {:error, %Error{code: :misuse, message: "backup target #{path} exists: give a new file"}}
    else
      run(pool, :backup, opts, fn conn, timeout ->
        started = System.monotonic_time(:millisecond)

        with {:ok, _} <- Native.query(conn, "VACUUM INTO ?1", [path], timeout: timeout),
             {:ok, %{size: bytes}} <- File.stat(path) |> file_error(path),
             {:ok, pages} <- pages(path) do
          {:ok, %{bytes: bytes, pages: pages, duration_ms: System.monotonic_time(:millisecond) - started}}
        end
      end)
    end
  end

  @doc """
  Runs a WAL checkpoint (`PRAGMA wal_checkpoint(mode)`, default
  `:passive`): `{:ok, %{busy: boolean, log_frames: n, checkpointed_frames: m}}`.
  `:truncate` also empties the WAL file when no reader is using it.
  """
  @spec checkpoint(pool(), checkpoint_mode(), keyword()) :: {:ok, map()} | {:error, Exception.t()}
  def checkpoint(pool, mode \\ :passive, opts \\ [])

  def checkpoint(pool, mode, opts) when mode in [:passive, :full, :restart, :truncate] do
    run(pool, :checkpoint, opts, fn conn, timeout ->
      sql = "PRAGMA wal_checkpoint(#{String.upcase(Atom.to_string(mode))})"

      case Native.query(conn, sql, [], timeout: timeout) do
        {:ok, %{rows: [[busy, log, done]]}} -> {:ok, %{busy: busy == 1, log_frames: log, checkpointed_frames: done}}
        {:error, _} = error -> error
      end
    end)
  end

  def checkpoint(_pool, mode, _opts),
    do:
      {:error,
       %Error{
         code: :invalid_option,
         message: "checkpoint mode must be :passive, :full, :restart or :truncate, got: #{inspect(mode)}"
       }}

  @doc """
  `PRAGMA integrity_check`: `{:ok, []}` for a sound database, else
  `{:ok, problems}` with SQLite's description of each (at most
  `:max_errors`, default 100).
  """
  @spec integrity_check(pool(), keyword()) :: {:ok, [String.t()]} | {:error, Exception.t()}
  def integrity_check(pool, opts \\ []), do: check(pool, "integrity_check", opts)

  @doc "`PRAGMA quick_check`: like `integrity_check/2`, without index verification (faster)."
  @spec quick_check(pool(), keyword()) :: {:ok, [String.t()]} | {:error, Exception.t()}
  def quick_check(pool, opts \\ []), do: check(pool, "quick_check", opts)

  @doc """
  `PRAGMA optimize`: lets SQLite refresh the query planner's statistics
  where they are stale. Cheap; run it from time to time (every pooled
  connection also runs `PRAGMA optimize = 0x10002` when it opens).
  """
  @spec optimize(pool(), keyword()) :: :ok | {:error, Exception.t()}
  def optimize(pool, opts \\ []), do: statement(pool, :optimize, "PRAGMA optimize", opts)

  @doc "`ANALYZE`: gathers the query planner's statistics for every table and index."
  @spec analyze(pool(), keyword()) :: :ok | {:error, Exception.t()}
  def analyze(pool, opts \\ []), do: statement(pool, :analyze, "ANALYZE", opts)

  @doc """
  `VACUUM`: rebuilds the database file, returning free pages to the file
  system. It writes the whole database, holding the write lock until it
  finishes: writers wait for it (it is queued like any writer). Prefer
  `backup/3` for a compacted copy.
  """
  @spec vacuum(pool(), keyword()) :: :ok | {:error, Exception.t()}
  def vacuum(pool, opts \\ []), do: statement(pool, :vacuum, "VACUUM", opts)

  @doc """
  `PRAGMA incremental_vacuum(pages)`: frees up to `pages` free pages (all
  when `nil`). Does something only with `auto_vacuum: :incremental` set
  before the first table was created.
  """
  @spec incremental_vacuum(pool(), pos_integer() | nil, keyword()) :: :ok | {:error, Exception.t()}
  def incremental_vacuum(pool, pages \\ nil, opts \\ [])

  def incremental_vacuum(pool, nil, opts), do: statement(pool, :incremental_vacuum, "PRAGMA incremental_vacuum", opts)

  def incremental_vacuum(pool, pages, opts) when is_integer(pages) and pages > 0,
    do: statement(pool, :incremental_vacuum, "PRAGMA incremental_vacuum(#{pages})", opts)

  @doc """
  Sizes of the database: `{:ok, %{path: file, database_bytes: n,
  wal_bytes: m, page_size: s, page_count: c, freelist_count: f}}`
  (`wal_bytes` is 0 when there is no WAL file; `path` is `""` for
  `:memory:`).
  """
  @spec sizes(pool(), keyword()) :: {:ok, map()} | {:error, Exception.t()}
  def sizes(pool, opts \\ []) do
    run(pool, :sizes, opts, fn conn, timeout ->
      with {:ok, path} <- main_file(conn, timeout),
           {:ok, page_size} <- pragma_integer(conn, "page_size", timeout),
           {:ok, page_count} <- pragma_integer(conn, "page_count", timeout),
           {:ok, freelist} <- pragma_integer(conn, "freelist_count", timeout) do
        {:ok,
         %{
           path: path,
           database_bytes: file_size(path),
           wal_bytes: if(path == "", do: 0, else: file_size(path <> "-wal")),
           page_size: page_size,
           page_count: page_count,
           freelist_count: freelist
         }}
      end
    end)
  end

  @doc """
  The pool's statistics in one map (see `EctoLibSql.Native.database_stats/1`
  for the fields): statement caches, open statements and cursors,
  connections inside a transaction, the write gate's queue. Cheap: no
  statement runs.
  """
  @spec stats(pool(), keyword()) :: {:ok, map()} | {:error, Exception.t()}
  def stats(pool, _opts \\ []) do
    with {:ok, database} <- DatabaseCall.database(pool), do: {:ok, Native.database_stats(database)}
  end

  @doc """
  Whether the pool's database answers, and what state it is in:
  `{:ok, %{kind: :local | :remote | :replica, answers: boolean,
  latency_us: n, connections: n, in_transaction: n, replication_index:
  frame | nil, since_last_sync_ms: n | nil, error: exception | nil}}`.
  `since_last_sync_ms` is the time since an embedded replica's last
  successful sync through this library (at open, `sync/2`,
  `sync_until/3`; libsql's own `sync_interval` syncs are not seen).
  `answers` is a round trip
  through a pooled connection (for a remote database, to the server);
  `replication_index` is the frame an embedded replica has reached (`nil`
  for other kinds). Each connection's own liveness is DBConnection's to
  check (its idle `ping`).
  """
  @spec health(pool(), keyword()) :: {:ok, map()} | {:error, Exception.t()}
  def health(pool, opts \\ []) do
    with {:ok, database} <- DatabaseCall.database(pool) do
      kind = Native.database_kind(database)
      started = System.monotonic_time(:microsecond)
      ping = EctoLibSql.query(pool, "SELECT 1", [], Keyword.take(opts, [:timeout]))
      latency = System.monotonic_time(:microsecond) - started
      stats = Native.database_stats(database)

      index =
        with :replica <- kind,
             {:ok, frame} <- EctoLibSql.replication_index(pool) do
          frame
        else
          _ -> nil
        end

      {:ok,
       %{
         kind: kind,
         answers: match?({:ok, _}, ping),
         latency_us: latency,
         connections: stats.connections,
         in_transaction: stats.in_transaction,
         replication_index: index,
         since_last_sync_ms: since_last_sync(kind, stats.last_sync_ms),
         error: with({:error, err} <- ping, do: err, else: (_ -> nil))
       }}
    end
  end

  defp since_last_sync(:replica, last) when last > 0, do: max(System.os_time(:millisecond) - last, 0)
  defp since_last_sync(_kind, _last), do: nil

  ## Helpers

  defp check(pool, pragma, opts) do
    max = Keyword.get(opts, :max_errors, 100)

    run(pool, String.to_existing_atom(pragma), opts, fn conn, timeout ->
      case Native.query(conn, "PRAGMA #{pragma}(#{max})", [], timeout: timeout) do
        {:ok, %{rows: [["ok"]]}} -> {:ok, []}
        {:ok, %{rows: rows}} -> {:ok, List.flatten(rows)}
        {:error, _} = error -> error
      end
    end)
  end

  defp statement(pool, call, sql, opts) do
    run(pool, call, opts, fn conn, timeout ->
      case Native.query(conn, sql, [], timeout: timeout) do
        {:ok, _} -> :ok
        {:error, _} = error -> error
      end
    end)
  end

  # The pool's shared database, a connection of its own to it, `fun`, and
  # the connection closed whatever happens.
  defp run(pool, call, opts, fun) do
    timeout = Keyword.get(opts, :timeout, @default_timeout)
    started = System.monotonic_time()

    result =
      with {:ok, database} <- DatabaseCall.database(pool),
           :ok <- local(database, call),
           {:ok, conn} <- Native.connect(database, []) do
        try do
          fun.(conn, timeout)
        after
          Native.close(conn)
        end
      end

    Telemetry.maintenance(System.monotonic_time() - started, %{call: call, result: result})
    result
  end

  defp local(database, call) do
    case Native.database_kind(database) do
      :remote ->
        {:error,
         %Error{
           code: :unsupported,
           message: "#{call} needs a local database or an embedded replica: a remote server maintains its own"
         }}

      _ ->
        :ok
    end
  end

  defp main_file(conn, timeout) do
    case Native.query(conn, "PRAGMA database_list", [], timeout: timeout) do
      {:ok, %{rows: rows}} -> {:ok, Enum.find_value(rows, "", fn [_, name, file] -> name == "main" && (file || "") end)}
      {:error, _} = error -> error
    end
  end

  defp pragma_integer(conn, name, timeout) do
    case Native.query(conn, "PRAGMA #{name}", [], timeout: timeout) do
      {:ok, %{rows: [[n]]}} -> {:ok, n}
      {:error, _} = error -> error
    end
  end

  # The page count a file's header records (big-endian at offset 28).
  defp pages(path) do
    case File.open(path, [:read, :binary], &IO.binread(&1, 32)) do
      {:ok, <<_::binary-size(28), pages::32, _::binary>>} -> {:ok, pages}
      {:ok, _} -> {:error, %Error{code: :io, message: "backup #{path} is not a database file"}}
      {:error, reason} -> file_error({:error, reason}, path)
    end
  end

  defp file_size(path) do
    case File.stat(path) do
      {:ok, %{size: size}} -> size
      {:error, _} -> 0
    end
  end

  defp file_error({:ok, _} = ok, _path), do: ok

  defp file_error({:error, reason}, path),
    do: {:error, %Error{code: :io, message: "#{path}: #{:file.format_error(reason)}"}}
end
