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

  ## Scheduling and timeouts

  Nothing here runs on a BEAM scheduler. Each connection has a thread of
  its own that runs its calls in order; a call hands its work over and
  waits for the reply in `receive`. Calls that take a `timeout` (default
  15,000 ms) stop the work when it runs out (the statement is
  interrupted, a wait for the write lock abandoned) and return
  `code: :timeout`; no late reply ever reaches the caller.

  Writers of one VM to the same database file queue for its write gate in
  arrival order (a transaction that may write, `:immediate` or
  `:exclusive`, from its BEGIN to its end; an autocommit write for its
  statement), so they never fail with `:busy`; SQLite's busy timeout is
  left to writers in other OS processes.

  ## Results

  `query/3` returns `%EctoLibSql.Result{}` with INTEGER as integers, REAL as
  floats, TEXT and BLOB as binaries and NULL as `nil`.
  """

  alias EctoLibSql.{Cursor, Error, Job, Nif, Options, Result}

  @transaction_modes [:deferred, :immediate, :exclusive, :concurrent]

  @timeout 15_000

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
  How many connection threads are alive in this VM. Each connection has
  one, from `open/1` or `connect/2` until shortly after `close/1` (or after
  its last reference is garbage collected).
  """
  @spec connection_threads() :: non_neg_integer()
  def connection_threads, do: Nif.connection_threads()

  @doc """
  Opens a database and one connection to it.

  Options (see `EctoLibSql.Options` for their validation):

    * `:database` - a file path, or `":memory:"` (local mode)
    * `:uri`, `:auth_token` - a remote libSQL server (remote mode)
    * `:database` + `:uri` + `:auth_token` - an embedded replica, synced once
      on open (waiting at most 10 s for its primary); `:sync_interval` (ms)
      syncs in the background and `:read_your_writes` (default `true`)
      makes writes visible locally. `sync_on_open: false` opens a replica
      file that has synced before without asking its primary anything, and
      syncs it in the background (with backoff until the primary answers):
      the open never waits on the network, and the first reads may be
      older than the primary
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
         {:ok, db} <- Job.on_thread(&Nif.open_database(&1, db_opts)) do
      connect_with(db, conn_opts)
    end
  end

  @doc """
  Opens a database without connecting, so that several connections
  (`connect/2`) share it: one `:memory:` database for a whole pool, a
  replica file opened once, `journal_mode` set once per file.
  """
  @spec open_database(keyword()) :: {:ok, database()} | error()
  def open_database(opts) do
    with {:ok, {db_opts, _}} <- Options.parse(opts), do: Job.on_thread(&Nif.open_database(&1, db_opts))
  end

  @doc """
  Opens a private copy of the local database `source` (a file or
  `:memory:`) as it is now, with the settings of `opts` (the options of
  `open/1`; `:database` and `:uri` are ignored). The copy is a file in a
  RAM-backed temporary directory when the system has one, removed by
  `discard_sandbox_copy/1` (or, at the latest, when the copy is garbage
  collected); writes to it never reach `source`.
  What `sandbox: :copy` gives each sandboxed test (see `EctoLibSql.Protocol`).
  """
  @spec open_sandbox_copy(database(), keyword()) :: {:ok, database()} | error()
  def open_sandbox_copy(source, opts) when is_reference(source) do
    opts = opts |> Keyword.delete(:uri) |> Keyword.put(:database, "sandbox copy")

    with {:ok, {db_opts, _}} <- Options.parse(opts),
         do: Job.on_thread(&Nif.open_sandbox_copy(&1, source, db_opts))
  end

  @doc """
  Removes a sandbox copy's file (see `open_sandbox_copy/2`) now: call it
  once the copy's connections are closed. `true` when there was one to
  remove.
  """
  @spec discard_sandbox_copy(database()) :: boolean()
  def discard_sandbox_copy(database) when is_reference(database), do: Nif.discard_sandbox_copy(database)

  @doc """
  A new connection to `database`, with the per-connection settings of
  `opts` (the same options as `open/1`; those that describe the database
  itself are ignored here).
  """
  @spec connect(database(), keyword()) :: {:ok, conn()} | error()
  def connect(database, opts) when is_reference(database) do
    with {:ok, conn_opts} <- Options.parse_connect(opts, Nif.database_kind(database)),
         do: connect_with(database, conn_opts)
  end

  defp connect_with(database, conn_opts),
    do: Job.run(nil, :infinity, &Nif.connect(&1, database, conn_opts))

  @doc """
  Sets what SQL the connection may run, for SQL from untrusted sources.
  SQLite checks every statement as it is prepared (cached statements are
  checked again); a denied action fails the statement with `code: :auth`
  (`extended_code: 23`, "not authorized"). `rules`:

    * `deny:` any of `:attach` (ATTACH/DETACH), `:ddl` (CREATE, DROP and
      ALTER of tables, indexes, views, triggers; ANALYZE, REINDEX),
      `:pragma_writes` (a PRAGMA that sets a value), `:writes` (INSERT,
      UPDATE, DELETE)
    * `tables:` table names that may be neither read nor written

  `nil` removes the authorizer. Local databases and replicas only.

      :ok = EctoLibSql.Native.authorize(conn, deny: [:attach, :ddl, :pragma_writes], tables: ["api_keys"])
  """
  @spec authorize(conn(), keyword() | nil) :: :ok | error()
  def authorize(conn, nil), do: Job.run_ok(conn, @timeout, &Nif.set_authorizer(&1, conn, nil))

  def authorize(conn, rules) when is_list(rules) do
    with {:ok, rules} <- authorizer_rules(rules),
         do: Job.run_ok(conn, @timeout, &Nif.set_authorizer(&1, conn, rules))
  end

  @denials [:attach, :ddl, :pragma_writes, :writes]

  @doc false
  # Validates `authorize/2`'s rules into the map the NIF takes.
  @spec authorizer_rules(keyword()) :: {:ok, map()} | error()
  def authorizer_rules(rules) do
    deny = Keyword.get(rules, :deny, [])
    tables = Keyword.get(rules, :tables, [])

    cond do
      not Keyword.keyword?(rules) or Enum.any?(Keyword.keys(rules), &(&1 not in [:deny, :tables])) ->
        error(:invalid_option, "authorizer rules take :deny and :tables, got: #{inspect(rules)}")

      not is_list(deny) or Enum.any?(deny, &(&1 not in @denials)) ->
        error(:invalid_option, "authorizer :deny takes a list of #{inspect(@denials)}, got: #{inspect(deny)}")

      not is_list(tables) or not Enum.all?(tables, &(is_binary(&1) or is_atom(&1))) ->
        error(:invalid_option, "authorizer :tables takes a list of table names, got: #{inspect(tables)}")

      true ->
        {:ok, Map.new(@denials, &{&1, &1 in deny}) |> Map.put(:tables, Enum.map(tables, &to_string/1))}
    end
  end

  @doc """
  Subscribes `pid` to the committed changes of `tables` of the local
  database `database`: `{:ok, id}`. See `EctoLibSql.Changes`.
  """
  @spec subscribe_changes(database(), pid(), [String.t()]) :: {:ok, pos_integer()} | error()
  def subscribe_changes(database, pid, tables) when is_reference(database) and is_pid(pid) and is_list(tables),
    do: Nif.changes_subscribe(database, pid, tables)

  @doc "Ends subscription `id`; `true` when it existed."
  @spec unsubscribe_changes(database(), pos_integer()) :: boolean()
  def unsubscribe_changes(database, id) when is_reference(database) and is_integer(id),
    do: Nif.changes_unsubscribe(database, id)

  @doc """
  Figures summed over `database`'s open connections: `connections`,
  `in_transaction` (how many are inside one), the statement caches'
  `cache_size`, `cache_capacity`, `cache_hits`, `cache_misses` and
  `cache_evictions`, open `statements` and `cursors`, and the write gate's
  `write_gate_waiting` (queued now) and `write_gate_waits` (writers that
  ever had to queue), and for a replica `last_sync_ms` (Unix time of its
  last successful sync through this library, 0 before any). Each connection publishes its figures after each of
  its calls.
  """
  @spec database_stats(database()) :: map()
  def database_stats(database) when is_reference(database), do: Nif.database_stats(database)

  @doc "What kind of database `database` is: `:local`, `:remote` or `:replica`."
  @spec database_kind(database()) :: :local | :remote | :replica
  def database_kind(database) when is_reference(database), do: Nif.database_kind(database)

  @doc "The database a connection belongs to."
  @spec database(conn()) :: database()
  def database(conn), do: Nif.connection_database(conn)

  @doc """
  Closes the connection, its statements and its cursors. A statement
  running on the connection is interrupted, so this never waits for one;
  it returns once the connection's thread has closed the connection (or
  after 5 s, when that thread is stuck in a wait SQLite cannot interrupt,
  such as a busy wait on another OS process's lock: it then finishes in
  the background). Closing a closed connection is `:ok`.
  """
  @spec close(conn()) :: :ok
  def close(conn) do
    _ =
      Job.run(conn, 5_000, fn tag ->
        case Nif.close(tag, conn) do
          :closed -> {:error, %Error{code: :closed, message: "the connection is closed"}}
          seq -> seq
        end
      end)

    :ok
  end

  @doc """
  Runs `sql` with `params` and returns every row. The statement is
  prepared through the connection's cache, bound, stepped and reset in one
  call to the connection's thread. Options: `:timeout` (ms).
  """
  @spec query(conn(), iodata(), params(), keyword()) :: {:ok, Result.t()} | error()
  def query(conn, sql, params \\ [], opts \\ []) do
    with {:ok, params} <- encode_params(params) do
      Job.run(conn, timeout(opts), &Nif.query(&1, conn, sql_text(sql), params, false))
    end
  end

  @doc false
  # `query/4` for the DBConnection driver: `{:ok, {result, cached?,
  # gate_wait_us}}`, where `cached?` tells whether the statement came from
  # the cache and `gate_wait_us` how long it waited for the write gate
  # (nil when it did not take it).
  @spec query_traced(conn(), String.t(), list() | {:named, list()}, keyword()) ::
          {:ok, {Result.t(), boolean(), non_neg_integer() | nil}} | error()
  def query_traced(conn, sql, encoded_params, opts) do
    Job.run(conn, timeout(opts), &Nif.query(&1, conn, sql, encoded_params, true))
  end

  @doc false
  # Prepares `sql` into the connection's statement cache without running it:
  # `{:ok, {command, columns}}`.
  @spec prepare_cached(conn(), String.t(), keyword()) :: {:ok, {atom(), [String.t()]}} | error()
  def prepare_cached(conn, sql, opts \\ []),
    do: Job.run(conn, timeout(opts), &Nif.prepare_cached(&1, conn, sql))

  @doc "Runs `sql` and returns the number of rows it changed."
  @spec execute(conn(), iodata(), params(), keyword()) :: {:ok, non_neg_integer()} | error()
  def execute(conn, sql, params \\ [], opts \\ []) do
    with {:ok, params} <- encode_params(params),
         do: Job.run(conn, timeout(opts), &Nif.execute(&1, conn, sql_text(sql), params))
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
  def prepare(conn, sql), do: Job.run(conn, @timeout, &Nif.prepare(&1, conn, sql_text(sql)))

  @doc "Runs a prepared statement and returns its rows."
  @spec query_stmt(stmt(), params(), keyword()) :: {:ok, Result.t()} | error()
  def query_stmt(stmt, params \\ [], opts \\ []) do
    with {:ok, params} <- encode_params(params),
         do: Job.run(stmt, timeout(opts), &Nif.stmt_query(&1, stmt, params))
  end

  @doc "Runs a prepared statement and returns the number of rows changed."
  @spec execute_stmt(stmt(), params(), keyword()) :: {:ok, non_neg_integer()} | error()
  def execute_stmt(stmt, params \\ [], opts \\ []) do
    with {:ok, params} <- encode_params(params),
         do: Job.run(stmt, timeout(opts), &Nif.stmt_execute(&1, stmt, params))
  end

  @doc "Finalizes a prepared statement; later use gives `code: :closed`."
  @spec close_stmt(stmt()) :: :ok | error()
  def close_stmt(stmt), do: Job.run_ok(stmt, @timeout, &Nif.stmt_close(&1, stmt))

  @doc "The statement's result columns as `{name, declared_type | nil}`."
  @spec stmt_columns(stmt()) :: {:ok, [{String.t(), String.t() | nil}]} | error()
  def stmt_columns(stmt), do: Job.run(stmt, @timeout, &Nif.stmt_columns(&1, stmt))

  @doc "How many parameters the statement takes."
  @spec stmt_parameter_count(stmt()) :: {:ok, non_neg_integer()} | error()
  def stmt_parameter_count(stmt), do: Job.run(stmt, @timeout, &Nif.stmt_parameter_count(&1, stmt))

  @doc """
  The name of parameter `index` (1-based) with its prefix (`":id"`,
  `"@id"`, `"$id"`, `"?3"`), or `nil` for an anonymous `?`.
  """
  @spec stmt_parameter_name(stmt(), pos_integer()) :: {:ok, String.t() | nil} | error()
  def stmt_parameter_name(stmt, index) when is_integer(index),
    do: Job.run(stmt, @timeout, &Nif.stmt_parameter_name(&1, stmt, index))

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
        {:ok, list} -> Job.run(conn, @timeout, &Nif.batch_statements(&1, conn, Enum.reverse(list), transactional))
        error -> error
      end
    else
      batch_sql(conn, statements, transactional)
    end
  end

  defp run_batch(conn, sql, transactional), do: batch_sql(conn, sql, transactional)

  defp batch_sql(conn, sql, transactional),
    do: Job.run(conn, @timeout, &Nif.batch_sql(&1, conn, sql_text(sql), transactional))

  @typedoc """
  How a transaction begins. `:concurrent` (`BEGIN CONCURRENT`) needs a
  database opened with `engine: :turso, mvcc: true`.
  """
  @type transaction_mode :: :deferred | :immediate | :exclusive | :concurrent

  @doc """
  Begins a transaction: `:deferred` (default), `:immediate`, `:exclusive`
  or `:concurrent`. On a local database, `:immediate` and `:exclusive`
  first wait (up to `timeout`) for the database's write gate; `:concurrent`
  transactions (turso engine, MVCC) do not: they write side by side, and
  the loser of a conflict gets a `:conflict` error.
  """
  @spec begin(conn(), transaction_mode(), keyword()) :: :ok | error()
  def begin(conn, mode \\ :deferred, opts \\ []) when mode in @transaction_modes do
    case begin_traced(conn, mode, opts) do
      {:ok, _gate_wait_us} -> :ok
      {:error, _} = error -> error
    end
  end

  @doc false
  # `begin/3` for the DBConnection driver: `{:ok, gate_wait_us}`, how long
  # the transaction waited for the write gate (nil when it does not take it).
  @spec begin_traced(conn(), transaction_mode(), keyword()) ::
          {:ok, non_neg_integer() | nil} | error()
  def begin_traced(conn, mode, opts) when mode in @transaction_modes,
    do: Job.run(conn, timeout(opts), &Nif.begin(&1, conn, mode))

  @doc "Commits the open transaction."
  @spec commit(conn()) :: :ok | error()
  def commit(conn), do: Job.run_ok(conn, @timeout, &Nif.commit(&1, conn))

  @doc "Rolls back the open transaction."
  @spec rollback(conn()) :: :ok | error()
  def rollback(conn), do: Job.run_ok(conn, @timeout, &Nif.rollback(&1, conn))

  @doc "`:transaction` inside a transaction, `:idle` otherwise (from SQLite's autocommit state)."
  @spec transaction_status(conn()) :: {:ok, :idle | :transaction} | error()
  def transaction_status(conn) do
    with {:ok, auto} <- autocommit?(conn), do: {:ok, if(auto, do: :idle, else: :transaction)}
  end

  @doc "Whether the connection is outside any transaction."
  @spec autocommit?(conn()) :: {:ok, boolean()} | error()
  def autocommit?(conn), do: Job.run(conn, @timeout, &Nif.autocommit(&1, conn))

  @doc "Opens a savepoint. Names are letters, digits and underscores."
  @spec savepoint(conn(), String.t() | atom()) :: :ok | error()
  def savepoint(conn, name), do: savepoint_op(conn, :savepoint, name)

  @doc "Releases (commits) a savepoint."
  @spec release(conn(), String.t() | atom()) :: :ok | error()
  def release(conn, name), do: savepoint_op(conn, :release, name)

  @doc "Rolls back to a savepoint, which stays open."
  @spec rollback_to(conn(), String.t() | atom()) :: :ok | error()
  def rollback_to(conn, name), do: savepoint_op(conn, :rollback_to, name)

  defp savepoint_op(conn, op, name),
    do: Job.run_ok(conn, @timeout, &Nif.savepoint_op(&1, conn, op, to_string(name)))

  @doc """
  Starts stepping `sql` without reading its rows: `fetch/2` reads them a
  chunk at a time. The cursor holds a read transaction until it is
  exhausted or closed.
  """
  @spec declare_cursor(conn(), iodata(), params()) :: {:ok, Cursor.t()} | error()
  def declare_cursor(conn, sql, params \\ []) do
    with {:ok, params} <- encode_params(params),
         {:ok, {ref, columns}} <- Job.run(conn, @timeout, &Nif.declare_cursor(&1, conn, sql_text(sql), params)) do
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
    case Job.run(ref, @timeout, &Nif.fetch(&1, ref, max_rows)) do
      {:ok, chunk} -> chunk
      error -> error
    end
  end

  def fetch(%Cursor{}, max_rows), do: error(:misuse, "max_rows must be a positive integer, got: #{inspect(max_rows)}")

  @doc "Closes a cursor before it is exhausted."
  @spec close_cursor(Cursor.t()) :: :ok | error()
  def close_cursor(%Cursor{ref: ref}), do: Job.run_ok(ref, @timeout, &Nif.close_cursor(&1, ref))

  @doc """
  Stops the statement running on `conn` now, and every call made on it
  before this one that has not finished (even one that has not started
  yet); later calls are not affected. Callable from any process; it does
  not wait: the stopped calls return `code: :interrupted`.
  """
  @spec interrupt(conn()) :: :ok | error()
  def interrupt(conn) do
    if Nif.closed(conn), do: error(:closed, "the connection is closed"), else: Nif.interrupt(conn)
  end

  @doc "Sets how long (ms) the connection waits for a lock before `:busy`."
  @spec busy_timeout(conn(), non_neg_integer()) :: :ok | error()
  def busy_timeout(conn, ms) when is_integer(ms) and ms >= 0,
    do: Job.run_ok(conn, @timeout, &Nif.set_busy_timeout(&1, conn, ms))

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

  # Documents up to this size convert on the caller's scheduler (well
  # under a millisecond); larger ones on a dirty CPU scheduler.
  @small_json 64 * 1024

  @doc """
  JSON text as SQLite's JSONB (the binary form `jsonb()` returns, which
  every SQLite JSON function reads): how `map_type: :binary` stores maps.
  Invalid JSON is a `:misuse` error.
  """
  @spec json_to_jsonb(iodata()) :: {:ok, binary()} | error()
  def json_to_jsonb(text) do
    text = IO.iodata_to_binary(text)
    if byte_size(text) <= @small_json, do: Nif.json_to_jsonb(text), else: Nif.json_to_jsonb_dirty(text)
  end

  @doc """
  JSONB (`json_to_jsonb/1`, or SQLite's `jsonb()`) as JSON text; bytes
  that are not one well-formed JSONB element are a `:misuse` error.
  """
  @spec jsonb_to_json(binary()) :: {:ok, String.t()} | error()
  def jsonb_to_json(bytes) when is_binary(bytes) do
    if byte_size(bytes) <= @small_json, do: Nif.jsonb_to_json(bytes), else: Nif.jsonb_to_json_dirty(bytes)
  end

  @doc """
  Whether `bytes` start like a JSONB object or array. JSON text (which
  starts with `{` or `[`) never passes `jsonb_to_json/1`'s checks, so a
  stored map can be read whichever form it was written in.
  """
  @spec jsonb_container?(binary()) :: boolean()
  def jsonb_container?(bytes) when is_binary(bytes), do: Nif.jsonb_container(bytes)

  @doc """
  Takes an exclusive advisory lock on the file at `path` (created if
  missing) for this connection, waiting while another connection or OS
  process holds it (the wait happens on the connection's thread, and ends
  with a timeout error after `:timeout` ms, default `:infinity`). The lock
  is the operating system's, so it is released when the holding OS process
  dies; otherwise by `unlock_file/1` or when the connection closes. Never
  point it at a database file: closing the lock file would drop SQLite's
  own locks on it.
  """
  @spec lock_file(conn(), Path.t(), keyword()) :: :ok | error()
  def lock_file(conn, path, opts \\ []) when is_binary(path) do
    case Job.run_ok(conn, Keyword.get(opts, :timeout, :infinity), &Nif.lock_file(&1, conn, path)) do
      {:error, %Error{code: :timeout}} = timeout ->
        # The lock may have come free as the wait was abandoned: the
        # connection's thread runs this release after that wait, whatever
        # it ended with.
        _ = unlock_file(conn)
        timeout

      other ->
        other
    end
  end

  @doc "Releases the connection's file lock (`lock_file/3`); `:ok` when it holds none."
  @spec unlock_file(conn()) :: :ok | error()
  def unlock_file(conn), do: Job.run_ok(conn, @timeout, &Nif.unlock_file(&1, conn))

  @doc """
  Makes the connection clean for its next user: open cursors closed, any
  open transaction rolled back.
  """
  @spec reset(conn()) :: :ok | error()
  def reset(conn), do: Job.run_ok(conn, @timeout, &Nif.reset(&1, conn))

  @doc """
  `:ok` while the connection is open and answers. On a remote connection
  it is a round trip, which keeps the server's stream alive and, outside a
  transaction, replaces a stream the server forgot.
  """
  @spec ping(conn()) :: :ok | error()
  def ping(conn, opts \\ []), do: Job.run_ok(conn, timeout(opts), &Nif.ping(&1, conn))

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
    with {:ok, counters} <- Job.run(conn, @timeout, &Nif.counters(&1, conn)), do: {:ok, Map.fetch!(counters, key)}
  end

  @doc """
  Statement-cache counters: `size`, `capacity`, `hits`, `misses`; the
  numbers of open explicit `statements` and `cursors`; and, for a local
  database, its write gate's `write_gate_waiting` (writers queued now) and
  `write_gate_waits` (writers that ever had to wait).
  """
  @spec cache_stats(conn()) :: {:ok, map()} | error()
  def cache_stats(conn), do: Job.run(conn, @timeout, &Nif.cache_stats(&1, conn))

  @doc "Allows or forbids `load_extension/3` on this connection (forbidden by default)."
  @spec enable_load_extension(conn(), boolean()) :: :ok | error()
  def enable_load_extension(conn, enable) when is_boolean(enable),
    do: Job.run_ok(conn, @timeout, &Nif.enable_load_extension(&1, conn, enable))

  @doc "Loads a SQLite extension from a shared library. A failed load is an error."
  @spec load_extension(conn(), Path.t(), String.t() | nil) :: :ok | error()
  def load_extension(conn, path, entry_point \\ nil),
    do: Job.run_ok(conn, @timeout, &Nif.load_extension(&1, conn, to_string(path), entry_point))

  @doc "Pulls new frames from the primary (embedded replicas): `{:ok, {frame_no, frames_synced}}`."
  @spec sync(conn()) :: {:ok, {non_neg_integer() | nil, non_neg_integer()}} | error()
  def sync(conn), do: on_database(conn, fn db -> Job.on_thread(&Nif.db_sync(&1, db)) end)

  @doc """
  Syncs until the replica has reached `frame`, giving up with
  `code: :timeout` after `timeout` ms (default 30,000).
  """
  @spec sync_until(conn(), non_neg_integer(), keyword()) ::
          {:ok, {non_neg_integer() | nil, non_neg_integer()}} | error()
  def sync_until(conn, frame, opts \\ []) when is_integer(frame) and frame >= 0 do
    timeout = Keyword.get(opts, :timeout, 30_000)
    on_database(conn, fn db -> Job.on_thread(&Nif.db_sync_until(&1, db, frame, timeout)) end)
  end

  @doc "The replica's current replication index (frame number), or `nil` before any sync."
  @spec replication_index(conn()) :: {:ok, non_neg_integer() | nil} | error()
  def replication_index(conn), do: on_database(conn, fn db -> Job.on_thread(&Nif.db_replication_index(&1, db)) end)

  @doc "Flushes the replicator's pending frames to the local file."
  @spec flush_replicator(conn()) :: {:ok, non_neg_integer() | nil} | error()
  def flush_replicator(conn), do: on_database(conn, fn db -> Job.on_thread(&Nif.db_flush_replicator(&1, db)) end)

  @doc "The highest frame number this replica's writes produced on the primary."
  @spec max_write_replication_index(conn()) :: {:ok, non_neg_integer() | nil} | error()
  def max_write_replication_index(conn), do: on_database(conn, &Nif.db_max_write_replication_index/1)

  # -- helpers ---------------------------------------------------------------

  # Replication calls act on the database, which outlives a closed
  # connection: a closed connection still answers `:closed`, like every
  # other call on it.
  defp on_database(conn, fun) do
    if Nif.closed(conn), do: error(:closed, "the connection is closed"), else: fun.(database(conn))
  end

  defp timeout(opts), do: Keyword.get(opts, :timeout, @timeout)

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
