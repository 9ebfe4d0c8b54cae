defmodule EctoLibSql.Native do
  @moduledoc """
  The low-level, process-free API over libSQL connection handles.

  Every function works on handles returned by `open/1` or `prepare/2` and
  can be called from any process (a cursor only from the process that
  declared it). Failures are `{:error, %EctoLibSql.Error{}}`; a closed
  handle gives `code: :closed`. Handles nobody references any more are
  closed by the garbage collector.

  ## Parameters

  A list binds positional parameters (`?`, `?NNN`); a map or keyword list
  binds named ones (`:name`, `@name`, `$name`; the key may be given with or
  without its prefix). A list made only of `{:blob, binary}` values is
  positional: to bind a parameter named `blob`, use a map.

  Values: `nil`, integers (64-bit), floats, booleans (stored as 1/0), UTF-8
  binaries (TEXT; without NUL bytes, which libSQL 0.10 would read back cut
  short) and `{:blob, binary}` (BLOB). Anything else is a `:misuse` error.

  ## Scheduling

  Work that can touch the disk or the network runs on dirty IO
  schedulers. A SELECT whose prepared statement is already cached, on a
  local connection nobody else is using, is first tried on the calling
  scheduler, which saves the hand-off to a dirty scheduler (on a busy
  machine several times the cost of a point read). It gives up at once, and
  the query runs on a dirty scheduler, if a lock is busy or the statement
  runs longer than 0.5 ms (a watchdog thread interrupts it); a SELECT has
  no side effects, so running it again is safe.

  ## Results

  `query/3` returns `%EctoLibSql.Result{}` with INTEGER as integers, REAL as
  floats, TEXT and BLOB as binaries and NULL as `nil`.
  """

  alias EctoLibSql.{Cursor, Error, Nif, Options, Result}

  @typedoc "A connection handle."
  @type conn :: reference()
  @typedoc "An opened database, shared by the connections made with `connect/2`."
  @type database :: reference()
  @typedoc "A prepared statement handle."
  @type stmt :: reference()
  @type params :: [term()] | map() | keyword()
  @type error :: {:error, Error.t()}

  @doc "The version of SQLite that libSQL bundles, e.g. `\"3.47.0\"`."
  @spec sqlite_version() :: String.t()
  def sqlite_version, do: Nif.sqlite_version()

  @doc """
  Opens a database and one connection to it.

  Options (see `EctoLibSql.Options` for their validation):

    * `:database` - a file path, or `":memory:"` (local mode)
    * `:uri`, `:auth_token` - a remote libSQL server (remote mode)
    * `:database` + `:uri` + `:auth_token` - an embedded replica, synced once
      on open; `:sync_interval` (ms) syncs in the background and
      `:read_your_writes` (default `true`) makes writes visible locally
    * `:encryption_key` - encrypts a local file or replica at rest
    * `:busy_timeout` - ms to wait for a lock, default 5000
    * `:journal_mode` - default `:wal` for files; `:synchronous` default
      `:normal`; `:foreign_keys` default `true`; `:cache_size`;
      `:temp_store`; `:custom_pragmas` (a list of `{name, value}`)
    * `:statement_cache_size` - prepared statements kept per connection,
      default 256 (0 disables the cache)
    * `:read_only` - open a local file read-only
  """
  @spec open(keyword()) :: {:ok, conn()} | error()
  def open(opts) do
    with {:ok, {db_opts, conn_opts}} <- Options.parse(opts),
         {:ok, db} <- Nif.open_database(db_opts) do
      Nif.connect(db, conn_opts)
    end
  end

  @doc """
  Opens a database without connecting, so that several connections
  (`connect/2`) share it: one `:memory:` database for a whole pool, a
  replica file opened once, `journal_mode` set once per file.
  """
  @spec open_database(keyword()) :: {:ok, database()} | error()
  def open_database(opts) do
    with {:ok, {db_opts, _}} <- Options.parse(opts), do: Nif.open_database(db_opts)
  end

  @doc """
  A new connection to `database`, with the per-connection settings of
  `opts` (the same options as `open/1`; those that describe the database
  itself are ignored here).
  """
  @spec connect(database(), keyword()) :: {:ok, conn()} | error()
  def connect(database, opts) when is_reference(database) do
    with {:ok, conn_opts} <- Options.parse_connect(opts, Nif.database_kind(database)),
         do: Nif.connect(database, conn_opts)
  end

  @doc "The database a connection belongs to."
  @spec database(conn()) :: database()
  def database(conn), do: Nif.connection_database(conn)

  @doc "Closes the connection, its statements and its cursors."
  @spec close(conn()) :: :ok
  def close(conn), do: Nif.close(conn)

  @doc """
  Runs `sql` with `params` and returns every row. The statement is
  prepared through the connection's cache, bound, stepped and reset in one
  native call.
  """
  @spec query(conn(), iodata(), params()) :: {:ok, Result.t()} | error()
  def query(conn, sql, params \\ []) do
    with {:ok, params} <- encode_params(params) do
      sql = sql_text(sql)

      # A cached SELECT on a local connection runs without the hand-off to
      # a dirty scheduler when it can (see "Scheduling" above); anything
      # else, or anything that would block or run long, runs dirty.
      case Nif.query_fast(conn, sql, params) do
        :dirty -> Nif.query(conn, sql, params)
        reply -> reply
      end
    end
  end

  @doc "Runs `sql` and returns the number of rows it changed."
  @spec execute(conn(), iodata(), params()) :: {:ok, non_neg_integer()} | error()
  def execute(conn, sql, params \\ []) do
    with {:ok, params} <- encode_params(params), do: Nif.execute(conn, sql_text(sql), params)
  end

  @doc """
  Runs `sql` and returns its only row. None or several rows are an error
  (`code: :not_found` or `:too_many_rows`).
  """
  @spec query_one(conn(), iodata(), params()) :: {:ok, [term()]} | error()
  def query_one(conn, sql, params \\ []) do
    case query(conn, sql, params) do
      {:ok, %Result{rows: [row]}} -> {:ok, row}
      {:ok, %Result{rows: rows}} when rows in [nil, []] -> error(:not_found, "the query returned no rows")
      {:ok, %Result{num_rows: n}} -> error(:too_many_rows, "the query returned #{n} rows, expected one")
      {:error, _} = error -> error
    end
  end

  @doc """
  Prepares an explicit statement. It is reset and rebound before each
  `query_stmt/2` or `execute_stmt/2`, and finalized by `close_stmt/1`, by
  closing its connection, or by the garbage collector.
  """
  @spec prepare(conn(), iodata()) :: {:ok, stmt()} | error()
  def prepare(conn, sql), do: Nif.prepare(conn, sql_text(sql))

  @doc "Runs a prepared statement and returns its rows."
  @spec query_stmt(stmt(), params()) :: {:ok, Result.t()} | error()
  def query_stmt(stmt, params \\ []) do
    with {:ok, params} <- encode_params(params) do
      case Nif.stmt_query_fast(stmt, params) do
        :dirty -> Nif.stmt_query(stmt, params)
        reply -> reply
      end
    end
  end

  @doc "Runs a prepared statement and returns the number of rows changed."
  @spec execute_stmt(stmt(), params()) :: {:ok, non_neg_integer()} | error()
  def execute_stmt(stmt, params \\ []) do
    with {:ok, params} <- encode_params(params), do: Nif.stmt_execute(stmt, params)
  end

  @doc "Finalizes a prepared statement; later use gives `code: :closed`."
  @spec close_stmt(stmt()) :: :ok | error()
  def close_stmt(stmt), do: Nif.stmt_close(stmt)

  @doc "The statement's result columns as `{name, declared_type | nil}`."
  @spec stmt_columns(stmt()) :: {:ok, [{String.t(), String.t() | nil}]} | error()
  def stmt_columns(stmt), do: Nif.stmt_columns(stmt)

  @doc "How many parameters the statement takes."
  @spec stmt_parameter_count(stmt()) :: {:ok, non_neg_integer()} | error()
  def stmt_parameter_count(stmt), do: Nif.stmt_parameter_count(stmt)

  @doc """
  The name of parameter `index` (1-based) with its prefix (`":id"`,
  `"@id"`, `"$id"`, `"?3"`), or `nil` for an anonymous `?`.
  """
  @spec stmt_parameter_name(stmt(), pos_integer()) :: {:ok, String.t() | nil} | error()
  def stmt_parameter_name(stmt, index) when is_integer(index), do: Nif.stmt_parameter_name(stmt, index)

  @doc """
  Runs several statements in one native call: a string of `;`-separated
  SQL (through libSQL's batch execution), or a list of `{sql, params}`.
  Returns one result per statement. Without a transaction, statements
  before a failing one stay applied.
  """
  @spec batch(conn(), iodata() | [{iodata(), params()}]) :: {:ok, [Result.t()]} | error()
  def batch(conn, statements), do: run_batch(conn, statements, false)

  @doc """
  Like `batch/2`, inside a transaction: all statements apply or none does.
  Inside an open transaction the batch is a savepoint.
  """
  @spec transactional_batch(conn(), iodata() | [{iodata(), params()}]) :: {:ok, [Result.t()]} | error()
  def transactional_batch(conn, statements), do: run_batch(conn, statements, true)

  defp run_batch(conn, statements, transactional) when is_list(statements) do
    if Enum.all?(statements, &match?({_, _}, &1)) and statements != [] do
      statements
      |> Enum.reduce_while({:ok, []}, fn {sql, params}, {:ok, acc} ->
        case encode_params(params) do
          {:ok, encoded} -> {:cont, {:ok, [{sql_text(sql), encoded} | acc]}}
          error -> {:halt, error}
        end
      end)
      |> case do
        {:ok, list} -> Nif.batch_statements(conn, Enum.reverse(list), transactional)
        error -> error
      end
    else
      Nif.batch_sql(conn, sql_text(statements), transactional)
    end
  end

  defp run_batch(conn, sql, transactional), do: Nif.batch_sql(conn, sql_text(sql), transactional)

  @doc "Begins a transaction: `:deferred` (default), `:immediate` or `:exclusive`."
  @spec begin(conn(), :deferred | :immediate | :exclusive) :: :ok | error()
  def begin(conn, mode \\ :deferred) when mode in [:deferred, :immediate, :exclusive],
    do: Nif.begin(conn, mode)

  @doc "Commits the open transaction."
  @spec commit(conn()) :: :ok | error()
  def commit(conn), do: Nif.commit(conn)

  @doc "Rolls back the open transaction."
  @spec rollback(conn()) :: :ok | error()
  def rollback(conn), do: Nif.rollback(conn)

  @doc "`:transaction` inside a transaction, `:idle` otherwise (from SQLite's autocommit state)."
  @spec transaction_status(conn()) :: {:ok, :idle | :transaction} | error()
  def transaction_status(conn) do
    with {:ok, auto} <- Nif.autocommit(conn), do: {:ok, if(auto, do: :idle, else: :transaction)}
  end

  @doc "Whether the connection is outside any transaction."
  @spec autocommit?(conn()) :: {:ok, boolean()} | error()
  def autocommit?(conn), do: Nif.autocommit(conn)

  @doc "Opens a savepoint. Names are letters, digits and underscores."
  @spec savepoint(conn(), String.t() | atom()) :: :ok | error()
  def savepoint(conn, name), do: Nif.savepoint_op(conn, :savepoint, to_string(name))

  @doc "Releases (commits) a savepoint."
  @spec release(conn(), String.t() | atom()) :: :ok | error()
  def release(conn, name), do: Nif.savepoint_op(conn, :release, to_string(name))

  @doc "Rolls back to a savepoint, which stays open."
  @spec rollback_to(conn(), String.t() | atom()) :: :ok | error()
  def rollback_to(conn, name), do: Nif.savepoint_op(conn, :rollback_to, to_string(name))

  @doc """
  Starts stepping `sql` without reading its rows: `fetch/2` reads them a
  chunk at a time. The cursor holds a read transaction until it is
  exhausted or closed.
  """
  @spec declare_cursor(conn(), iodata(), params()) :: {:ok, Cursor.t()} | error()
  def declare_cursor(conn, sql, params \\ []) do
    with {:ok, params} <- encode_params(params),
         {:ok, {ref, columns}} <- Nif.declare_cursor(conn, sql_text(sql), params) do
      {:ok, %Cursor{ref: ref, columns: columns}}
    end
  end

  @doc """
  Reads up to `max_rows` rows: `{:cont, rows}` while more may follow,
  `{:halt, rows}` when the result set is done (the cursor is then closed).
  Only the declaring process may fetch.
  """
  @spec fetch(Cursor.t(), pos_integer()) :: {:cont, list()} | {:halt, list()} | error()
  def fetch(%Cursor{ref: ref}, max_rows) when is_integer(max_rows) and max_rows > 0 do
    case Nif.fetch(ref, max_rows) do
      {:ok, chunk} -> chunk
      error -> error
    end
  end

  def fetch(%Cursor{}, max_rows), do: error(:misuse, "max_rows must be a positive integer, got: #{inspect(max_rows)}")

  @doc "Closes a cursor before it is exhausted."
  @spec close_cursor(Cursor.t()) :: :ok | error()
  def close_cursor(%Cursor{ref: ref}), do: Nif.close_cursor(ref)

  @doc """
  Stops the statement running on `conn` now. Callable from any process; it
  does not wait for the running statement, which returns
  `code: :interrupted`.
  """
  @spec interrupt(conn()) :: :ok | error()
  def interrupt(conn), do: Nif.interrupt(conn)

  @doc "Sets how long (ms) the connection waits for a lock before `:busy`."
  @spec busy_timeout(conn(), non_neg_integer()) :: :ok | error()
  def busy_timeout(conn, ms) when is_integer(ms) and ms >= 0, do: Nif.set_busy_timeout(conn, ms)

  @doc "Reads a pragma: `{:ok, value}` for a single value, else the rows."
  @spec pragma(conn(), atom() | String.t()) :: {:ok, term()} | error()
  def pragma(conn, name) do
    name = to_string(name)

    if Regex.match?(~r/\A([A-Za-z_][A-Za-z0-9_]*\.)?[A-Za-z_][A-Za-z0-9_]*\z/, name) do
      case query(conn, "PRAGMA #{name}") do
        {:ok, %Result{rows: [[value]]}} -> {:ok, value}
        {:ok, %Result{rows: rows}} -> {:ok, rows}
        error -> error
      end
    else
      error(:misuse, "invalid pragma name #{inspect(name)}")
    end
  end

  @doc "Sets a pragma; returns the rows the pragma answers with, if any."
  @spec pragma(conn(), atom() | String.t(), term()) :: {:ok, term()} | error()
  def pragma(conn, name, value) do
    sql = Options.pragma_sql(name, value)

    case query(conn, sql) do
      {:ok, %Result{rows: [[value]]}} -> {:ok, value}
      {:ok, %Result{rows: rows}} -> {:ok, rows || []}
      error -> error
    end
  rescue
    e in ArgumentError -> error(:misuse, Exception.message(e))
  end

  @doc """
  Makes the connection clean for its next user: open cursors closed, any
  open transaction rolled back.
  """
  @spec reset(conn()) :: :ok | error()
  def reset(conn), do: Nif.reset(conn)

  @doc """
  `:ok` while the connection is open and answers. On a remote connection
  it is a round trip, which keeps the server's stream alive and, outside a
  transaction, replaces a stream the server forgot.
  """
  @spec ping(conn()) :: :ok | error()
  def ping(conn), do: Nif.ping(conn)

  @doc "Rows changed by the last statement."
  @spec changes(conn()) :: {:ok, non_neg_integer()} | error()
  def changes(conn), do: counter(conn, :changes)

  @doc "Rows changed since the connection opened."
  @spec total_changes(conn()) :: {:ok, non_neg_integer()} | error()
  def total_changes(conn), do: counter(conn, :total_changes)

  @doc "The rowid of the last successful insert on this connection."
  @spec last_insert_rowid(conn()) :: {:ok, integer()} | error()
  def last_insert_rowid(conn), do: counter(conn, :last_insert_rowid)

  defp counter(conn, key) do
    with {:ok, counters} <- Nif.counters(conn), do: {:ok, Map.fetch!(counters, key)}
  end

  @doc """
  Statement-cache counters: `size`, `capacity`, `hits`, `misses`, and the
  numbers of open explicit `statements` and `cursors`.
  """
  @spec cache_stats(conn()) :: {:ok, map()} | error()
  def cache_stats(conn), do: Nif.cache_stats(conn)

  @doc """
  Writes dirty pages of the open write transaction to disk early.

  libSQL 0.10 does not expose `sqlite3_db_cacheflush` through its public
  API, so this returns `code: :unsupported` on every connection rather than
  pretending to have flushed; committing (or `PRAGMA wal_checkpoint`) is
  what writes data through.
  """
  @spec cacheflush(conn()) :: :ok | error()
  def cacheflush(conn) do
    with :ok <- ping(conn),
         do: error(:unsupported, "cacheflush is not available: libSQL does not expose sqlite3_db_cacheflush")
  end

  @doc "Allows or forbids `load_extension/3` on this connection (forbidden by default)."
  @spec enable_load_extension(conn(), boolean()) :: :ok | error()
  def enable_load_extension(conn, enable) when is_boolean(enable), do: Nif.enable_load_extension(conn, enable)

  @doc "Loads a SQLite extension from a shared library. A failed load is an error."
  @spec load_extension(conn(), Path.t(), String.t() | nil) :: :ok | error()
  def load_extension(conn, path, entry_point \\ nil), do: Nif.load_extension(conn, to_string(path), entry_point)

  @doc "Pulls new frames from the primary (embedded replicas): `{:ok, {frame_no, frames_synced}}`."
  @spec sync(conn()) :: {:ok, {non_neg_integer() | nil, non_neg_integer()}} | error()
  def sync(conn), do: on_database(conn, &Nif.db_sync/1)

  @doc "Syncs until the replica has reached `frame`."
  @spec sync_until(conn(), non_neg_integer()) :: {:ok, {non_neg_integer() | nil, non_neg_integer()}} | error()
  def sync_until(conn, frame) when is_integer(frame) and frame >= 0,
    do: on_database(conn, &Nif.db_sync_until(&1, frame))

  @doc "The replica's current replication index (frame number), or `nil` before any sync."
  @spec replication_index(conn()) :: {:ok, non_neg_integer() | nil} | error()
  def replication_index(conn), do: on_database(conn, &Nif.db_replication_index/1)

  @doc "Flushes the replicator's pending frames to the local file."
  @spec flush_replicator(conn()) :: {:ok, non_neg_integer() | nil} | error()
  def flush_replicator(conn), do: on_database(conn, &Nif.db_flush_replicator/1)

  @doc "The highest frame number this replica's writes produced on the primary."
  @spec max_write_replication_index(conn()) :: {:ok, non_neg_integer() | nil} | error()
  def max_write_replication_index(conn), do: on_database(conn, &Nif.db_max_write_replication_index/1)

  # -- helpers ---------------------------------------------------------------

  # Replication calls act on the database, which outlives a closed
  # connection: a closed connection still answers `:closed`, like every
  # other call on it.
  defp on_database(conn, fun) do
    with :ok <- ping(conn), do: fun.(database(conn))
  end

  @doc false
  # Maps and keyword lists become `{:named, [{name, value}]}` for the NIF.
  @spec encode_params(params()) :: {:ok, list() | {:named, list()}} | error()
  def encode_params([]), do: {:ok, []}

  def encode_params(params) when is_map(params) do
    named(Map.to_list(params))
  end

  def encode_params([{key, _} | _] = params) when is_atom(key) do
    # `[{:blob, <<...>>}]` is also a keyword list: a list of nothing but
    # blob values is positional (bind a parameter named `blob` with a map).
    if Keyword.keyword?(params) and not Enum.all?(params, &match?({:blob, _}, &1)),
      do: named(params),
      else: {:ok, params}
  end

  def encode_params(params) when is_list(params), do: {:ok, params}

  def encode_params(other),
    do: error(:misuse, "parameters must be a list, a map or a keyword list, got: #{inspect(other)}")

  defp named(pairs) do
    Enum.reduce_while(pairs, {:ok, []}, fn
      {key, value}, {:ok, acc} when is_atom(key) -> {:cont, {:ok, [{Atom.to_string(key), value} | acc]}}
      {key, value}, {:ok, acc} when is_binary(key) -> {:cont, {:ok, [{key, value} | acc]}}
      {key, _}, _ -> {:halt, error(:misuse, "parameter names must be atoms or strings, got: #{inspect(key)}")}
    end)
    |> case do
      {:ok, list} -> {:ok, {:named, list}}
      error -> error
    end
  end

  defp sql_text(sql) when is_binary(sql), do: sql
  defp sql_text(sql), do: IO.iodata_to_binary(sql)

  defp error(code, message), do: {:error, %Error{code: code, message: message}}
end
