defmodule EctoLibSql.Protocol do
  @moduledoc """
  The `DBConnection` behaviour over `EctoLibSql.Native`, in callback order:
  connect, checkout, ping, transactions, prepared queries, cursors,
  disconnect.

  Every connection of a pool shares the database opened by
  `EctoLibSql.start_link/1` (one `:memory:` database for the whole pool,
  `journal_mode` set once per file). Queries run through each connection's
  statement cache in one native call, so a query prepared on one connection
  runs on any other without a separate prepare.
  """

  @behaviour DBConnection

  alias EctoLibSql.{Error, Native, Query, Result, Telemetry}

  require Logger

  defstruct conn: nil,
            database: nil,
            mode: :local,
            label: nil,
            default_transaction_mode: :immediate,
            max_rows: 500,
            types: %EctoLibSql.Types{},
            sandbox: :transaction,
            copy_opts: [],
            boxed: nil,
            transaction: nil,
            slow_query: nil,
            authorizer: nil

  @type t :: %__MODULE__{
          conn: Native.conn(),
          database: Native.database(),
          mode: :local | :remote | :replica,
          label: String.t() | nil,
          default_transaction_mode: Native.transaction_mode(),
          max_rows: pos_integer(),
          types: EctoLibSql.Types.t(),
          sandbox: :transaction | :copy,
          copy_opts: keyword(),
          boxed: nil | {Native.conn(), Native.database()},
          transaction: nil | {Native.transaction_mode(), integer()},
          slow_query: nil | {threshold :: integer(), with_params :: boolean()},
          authorizer: keyword() | nil
        }

  # Errors after which the connection cannot be trusted: DBConnection
  # disconnects (and reconnects) instead of returning it to the pool.
  # `:disconnected`: a remote server forgot the connection's stream inside
  # a transaction (outside one, the native layer replaces it and retries).
  @fatal [:closed, :corrupt, :notadb, :cantopen, :io, :nomem, :disconnected]

  @transaction_modes [:deferred, :immediate, :exclusive, :concurrent]

  ## Connection

  @impl true
  def connect(opts) do
    started = System.monotonic_time()
    native_opts = EctoLibSql.Config.reveal(Keyword.take(opts, EctoLibSql.Options.keys()))
    # IMMEDIATE: a DEFERRED transaction that reads and then writes fails at
    # once with SQLITE_BUSY_SNAPSHOT when another writer committed between
    # its read and its write, and no busy timeout can help it.
    default_mode = Keyword.get(opts, :default_transaction_mode, :immediate)

    # Trapping exits lets DBConnection call disconnect/2 when the pool shuts
    # down, so stopping a Repo closes its connections then and there (the
    # last one to close checkpoints the WAL and removes it), instead of
    # whenever the garbage collector drops them.
    Process.flag(:trap_exit, true)

    with :ok <- check_transaction_mode(default_mode),
         {:ok, database} <- database(opts, native_opts),
         {:ok, conn} <- Native.connect(database, native_opts) do
      state = %__MODULE__{
        conn: conn,
        database: database,
        mode: mode(native_opts),
        label: native_opts[:database] || native_opts[:uri],
        default_transaction_mode: default_mode,
        max_rows: Keyword.get(opts, :max_rows, 500),
        types: EctoLibSql.Types.from_options(opts),
        sandbox: Keyword.get(opts, :sandbox, :transaction),
        copy_opts: copy_opts(Keyword.get(opts, :sandbox), native_opts),
        slow_query: slow_query(opts),
        authorizer: Keyword.get(opts, :authorizer)
      }

      # Before the authorizer, which may deny the pragma.
      optimize(state, native_opts)

      with :ok <- authorize(conn, state.authorizer) do
        Telemetry.connect(System.monotonic_time() - started, %{database: state.label, mode: state.mode})
        {:ok, state}
      end
    end
  end

  # `authorizer:` rules apply to every connection of the pool (and to the
  # sandbox copies it opens), before it runs anything for a caller.
  defp authorize(_conn, nil), do: :ok

  defp authorize(conn, rules) do
    with {:error, _} = error <- Native.authorize(conn, rules) do
      Native.close(conn)
      error
    end
  end

  # SQLite recommends `PRAGMA optimize = 0x10002` when a long-lived
  # connection opens: it refreshes planner statistics that are missing or
  # stale, within a small analysis budget. It may write (sqlite_stat1), so
  # it runs like any write, through the write gate, but waits at most
  # 250 ms: a connection opening while a long transaction holds the gate
  # must not wait for it. Skipped or refused, the statistics stay as they
  # were, which is no reason to refuse the connection (`optimize/2` in
  # EctoLibSql.Maintenance runs it on demand).
  defp optimize(%__MODULE__{mode: :local, conn: conn}, native_opts) do
    unless native_opts[:read_only], do: _ = Native.execute(conn, "PRAGMA optimize = 0x10002", [], timeout: 250)
    :ok
  end

  defp optimize(_state, _native_opts), do: :ok

  # `slow_query_ms: n` logs statements that take n ms or more, without
  # their parameters (which may hold personal data) unless
  # `log_slow_query_params: true`.
  defp slow_query(opts) do
    case Keyword.get(opts, :slow_query_ms) do
      nil -> nil
      ms -> {System.convert_time_unit(ms, :millisecond, :native), Keyword.get(opts, :log_slow_query_params, false)}
    end
  end

  defp migration_lock_path(%{mode: :local, label: path}) when is_binary(path) and path != ":memory:",
    do: Path.expand(path) <> "-migrations.lock"

  defp migration_lock_path(_state), do: nil

  defp file_lock_reply(:ok, query, state), do: {:ok, query, :ok, state}
  defp file_lock_reply({:error, err}, _query, state), do: error(err, state)

  defp log_if_slow({threshold, with_params}, duration, sql, params) when duration >= threshold do
    ms = System.convert_time_unit(duration, :native, :microsecond) / 1000
    suffix = if with_params, do: " parameters: #{inspect(params)}", else: ""
    Logger.warning("slow query (#{:erlang.float_to_binary(ms, decimals: 1)} ms): #{sql}#{suffix}")
  end

  defp log_if_slow(_slow_query, _duration, _sql, _params), do: :ok

  # How a sandbox copy is opened: a copy is thrown away at checkin, so it
  # needs no durability. Only for `sandbox: :copy`, which takes no secrets
  # (no remote database, no encryption key): the state holds none.
  defp copy_opts(:copy, native_opts),
    do:
      native_opts
      |> Keyword.drop([:auth_token, :encryption_key])
      |> Keyword.merge(journal_mode: :memory, synchronous: :off)

  defp copy_opts(_, _native_opts), do: []

  # A pool's connections share the database its start_link opened; a
  # connection started some other way opens its own.
  defp database(opts, native_opts) do
    case Keyword.fetch(opts, :database_ref) do
      {:ok, database} when is_reference(database) -> {:ok, database}
      _ -> Native.open_database(native_opts)
    end
  end

  defp mode(opts) do
    case {opts[:database], opts[:uri]} do
      {_, nil} -> :local
      {nil, _} -> :remote
      _ -> :replica
    end
  end

  defp check_transaction_mode(mode) when mode in @transaction_modes, do: :ok

  defp check_transaction_mode(mode) do
    {:error,
     %Error{
       code: :invalid_option,
       message: "default_transaction_mode must be one of #{inspect(@transaction_modes)}, got: #{inspect(mode)}"
     }}
  end

  @impl true
  def checkout(%__MODULE__{conn: conn} = state) do
    # Called once after (re)connecting: start from a clean connection.
    case Native.reset(conn) do
      :ok -> {:ok, state}
      {:error, err} -> {:disconnect, err, state}
    end
  end

  @impl true
  def ping(%__MODULE__{conn: conn} = state) do
    # A round trip for remote databases (it keeps the server's stream
    # alive, and replaces one the server forgot); local answers at once.
    case Native.ping(conn) do
      :ok -> {:ok, state}
      {:error, err} -> {:disconnect, err, state}
    end
  end

  ## Transactions

  @impl true
  def handle_begin(opts, state) do
    case Keyword.get(opts, :mode, :transaction) do
      :savepoint -> savepoint(state, &Native.savepoint(&1, "ecto_libsql_savepoint"), :transaction)
      :transaction when state.sandbox == :copy and state.boxed == nil -> sandbox_begin(opts, state)
      mode -> mode |> begin(opts, state) |> explain_wait(opts)
    end
  end

  # Ecto's standard sandbox holds each test's transaction, and with it the
  # write lock, for the whole test: tests that write run one at a time, and
  # one that waits too long for its turn is told how to run them in parallel.
  defp explain_wait({:error, %Error{code: code} = err, state} = failed, opts) when code in [:timeout, :busy] do
    if Keyword.fetch(opts, :mode) == {:ok, :transaction} do
      hint =
        " (Ecto's SQL sandbox holds each test's transaction, and SQLite's one write lock, " <>
          "until the test ends; set `sandbox: :copy` in the Repo's test configuration " <>
          "to give each test a private copy of the database instead)"

      {:error, %{err | message: err.message <> hint}, state}
    else
      failed
    end
  end

  defp explain_wait(other, _opts), do: other

  # `sandbox: :copy`. Ecto's SQL sandbox begins a transaction after a
  # checkout (`mode: :transaction`, given explicitly: transactions inside a
  # sandboxed test arrive as savepoints) and rolls it back before checkin.
  # Here that transaction is opened on a private copy of the database, and
  # checkin throws the copy away: a test never waits for another test's
  # write lock, never sees another test's writes, and never writes to the
  # shared file.
  defp sandbox_begin(opts, state) do
    if Keyword.fetch(opts, :mode) == {:ok, :transaction} do
      with {:ok, database} <- Native.open_sandbox_copy(state.database, state.copy_opts),
           {:ok, conn} <- Native.connect(database, state.copy_opts),
           :ok <- authorize(conn, state.authorizer) do
        copy = %{state | conn: conn, database: database, boxed: {state.conn, state.database}}

        case begin(:transaction, opts, copy) do
          {:ok, result, copy} -> {:ok, result, copy}
          other -> other |> put_elem(tuple_size(other) - 1, sandbox_end(copy))
        end
      else
        {:error, err} -> error(err, state)
      end
    else
      begin(:transaction, opts, state)
    end
  end

  defp sandbox_end(%__MODULE__{boxed: {conn, database}} = copy) do
    :ok = Native.close(copy.conn)
    Native.discard_sandbox_copy(copy.database)
    %{copy | conn: conn, database: database, boxed: nil, transaction: nil}
  end

  # BEGIN, COMMIT and ROLLBACK run without asking for the status first (one
  # native call, not two); SQLite's refusal tells when the connection was
  # not in the expected state, and DBConnection is told so.
  defp begin(mode, opts, %__MODULE__{conn: conn} = state) do
    mode = if mode == :transaction, do: state.default_transaction_mode, else: mode

    started = System.monotonic_time()

    with :ok <- check_transaction_mode(mode),
         {:ok, gate_wait} <- Native.begin_traced(conn, mode, opts) do
      gate_waited(gate_wait, :begin, state)
      {:ok, %Result{command: :begin, num_rows: 0}, %{state | transaction: {mode, started}}}
    else
      {:error, %Error{code: :in_transaction}} -> {:transaction, state}
      {:error, %Error{} = err} -> error(err, state)
    end
  end

  @impl true
  def handle_commit(opts, state) do
    case Keyword.get(opts, :mode, :transaction) do
      :savepoint -> savepoint(state, &Native.release(&1, "ecto_libsql_savepoint"), :transaction)
      _ -> finish(state, &Native.commit/1, :commit)
    end
  end

  @impl true
  def handle_rollback(opts, state) do
    case Keyword.get(opts, :mode, :transaction) do
      # The copy is discarded whatever state the test left it in.
      :transaction when state.boxed != nil ->
        {:ok, %Result{command: :rollback, num_rows: 0}, sandbox_end(state)}

      :savepoint ->
        savepoint(
          state,
          fn conn ->
            with :ok <- Native.rollback_to(conn, "ecto_libsql_savepoint"),
                 do: Native.release(conn, "ecto_libsql_savepoint")
          end,
          :transaction
        )

      _ ->
        finish(state, &Native.rollback/1, :rollback)
    end
  end

  defp finish(%__MODULE__{conn: conn} = state, fun, command) do
    case fun.(conn) do
      :ok ->
        {:ok, %Result{command: command, num_rows: 0}, transaction_ended(state, command)}

      {:error, %Error{code: :no_transaction}} ->
        {:idle, %{state | transaction: nil}}

      {:error, err} ->
        error(err, state)
    end
  end

  defp gate_waited(nil, _command, _state), do: :ok

  defp gate_waited(wait_us, command, state),
    do:
      Telemetry.write_gate(System.convert_time_unit(wait_us, :microsecond, :native), %{
        database: state.label,
        command: command
      })

  defp transaction_ended(%__MODULE__{transaction: {mode, started}} = state, outcome) do
    Telemetry.transaction(System.monotonic_time() - started, %{database: state.label, mode: mode, outcome: outcome})
    %{state | transaction: nil}
  end

  defp transaction_ended(state, _outcome), do: state

  defp savepoint(%__MODULE__{conn: conn} = state, fun, _expected) do
    case fun.(conn) do
      :ok -> {:ok, %Result{command: :savepoint, num_rows: 0}, state}
      {:error, err} -> error(err, state)
    end
  end

  @impl true
  def handle_status(_opts, state) do
    case status(state) do
      {:ok, status} -> {status, state}
      {:error, err} -> {:disconnect, err, state}
    end
  end

  defp status(%__MODULE__{conn: conn}), do: Native.transaction_status(conn)

  ## Prepared queries

  @impl true
  def handle_prepare(%Query{statement: sql} = query, opts, %__MODULE__{conn: conn} = state) do
    case Native.prepare_cached(conn, sql, opts) do
      {:ok, {command, columns}} -> {:ok, %{query | command: command, columns: columns}, state}
      {:error, err} -> error(%{err | statement: sql}, state)
    end
  end

  @impl true
  def handle_execute(%EctoLibSql.DatabaseCall{call: :database} = query, _params, _opts, state),
    do: {:ok, query, state.database, state}

  # The migration lock (Ecto.Adapters.LibSql.lock_for_migrations/3): an OS
  # lock on a file beside a local database file. A :memory: database or a
  # remote server has no file to lock beside.
  def handle_execute(%EctoLibSql.DatabaseCall{call: :lock_migrations} = query, _params, _opts, state) do
    case migration_lock_path(state) do
      nil -> {:ok, query, :ok, state}
      path -> file_lock_reply(Native.lock_file(state.conn, path), query, state)
    end
  end

  def handle_execute(%EctoLibSql.DatabaseCall{call: :unlock_migrations} = query, _params, _opts, state),
    do: file_lock_reply(Native.unlock_file(state.conn), query, state)

  def handle_execute(%EctoLibSql.DatabaseCall{call: call, args: args} = query, _params, opts, state) do
    started = System.monotonic_time()
    reply = replicate(call, args, opts, state.conn)
    Telemetry.sync(System.monotonic_time() - started, %{database: state.label, call: call, reply: reply})

    case reply do
      {:ok, {frame_no, synced}} -> {:ok, query, %{frame_no: frame_no, frames_synced: synced}, state}
      {:ok, index} -> {:ok, query, index, state}
      {:error, err} -> error(err, state)
    end
  end

  def handle_execute(%EctoLibSql.Batch{statement: sql} = batch, [], _opts, %__MODULE__{conn: conn} = state) do
    case Native.batch(conn, sql) do
      {:ok, results} -> {:ok, batch, results, state}
      {:error, err} -> error(%{err | statement: sql}, state)
    end
  end

  def handle_execute(%Query{statement: sql} = query, params, opts, %__MODULE__{conn: conn} = state) do
    started = System.monotonic_time()

    case Native.encode_params(EctoLibSql.Types.finalize(params, state.types)) do
      {:ok, params} ->
        reply = Native.query_traced(conn, sql, params, opts)
        duration = System.monotonic_time() - started
        log_if_slow(state.slow_query, duration, sql, params)

        case reply do
          {:ok, {result, cached, gate_wait}} ->
            gate_waited(gate_wait, :query, state)

            Telemetry.query(duration, result.num_rows, %{
              sql: sql,
              command: result.command,
              cached: cached,
              result: :ok,
              error: nil
            })

            {:ok, query, result, state}

          {:error, err} ->
            err = %{err | statement: sql}
            Telemetry.query(duration, 0, %{sql: sql, command: query.command, cached: false, result: :error, error: err})
            error(err, state)
        end

      {:error, err} ->
        error(%{err | statement: sql}, state)
    end
  end

  defp replicate(:sync, [], _opts, conn), do: Native.sync(conn)

  defp replicate(:sync_until, [frame], opts, conn),
    do: Native.sync_until(conn, frame, timeout: opts[:timeout] || 30_000)

  defp replicate(:replication_index, [], _opts, conn), do: Native.replication_index(conn)

  @impl true
  def handle_close(_query, _opts, state) do
    # Statements live in the connection's cache, which bounds itself.
    {:ok, %Result{command: :close, num_rows: 0}, state}
  end

  ## Cursors

  @impl true
  def handle_declare(%Query{statement: sql} = query, params, _opts, %__MODULE__{conn: conn} = state) do
    case Native.declare_cursor(conn, sql, EctoLibSql.Types.finalize(params, state.types)) do
      {:ok, cursor} -> {:ok, %{query | columns: cursor.columns}, cursor, state}
      {:error, err} -> error(%{err | statement: sql}, state)
    end
  end

  @impl true
  def handle_fetch(query, cursor, opts, state) do
    max_rows = Keyword.get(opts, :max_rows, state.max_rows)

    case Native.fetch(cursor, max_rows) do
      {:cont, rows} -> {:cont, chunk(query, cursor, rows), state}
      {:halt, rows} -> {:halt, chunk(query, cursor, rows), state}
      {:error, err} -> error(err, state)
    end
  end

  defp chunk(query, cursor, rows) do
    %Result{command: query.command || :select, columns: cursor.columns, rows: rows, num_rows: length(rows)}
  end

  @impl true
  def handle_deallocate(_query, cursor, _opts, state) do
    case Native.close_cursor(cursor) do
      :ok -> {:ok, %Result{command: :close, num_rows: 0}, state}
      {:error, err} -> error(err, state)
    end
  end

  ## Disconnect

  @impl true
  def disconnect(err, %__MODULE__{boxed: {_, _}} = state), do: disconnect(err, sandbox_end(state))

  def disconnect(err, %__MODULE__{conn: conn} = state) do
    # DBConnection calls this from the pool when a client outlived its
    # timeout, while the client may still be inside a statement: close
    # interrupts it and returns at once; the connection's thread finishes
    # the statement's cleanup and closes.
    :ok = Native.close(conn)
    Telemetry.disconnect(%{database: state.label, reason: err})
    :ok
  end

  defp error(%Error{code: code} = err, state) when code in @fatal, do: {:disconnect, err, state}
  defp error(%Error{} = err, state), do: {:error, err, state}
end
