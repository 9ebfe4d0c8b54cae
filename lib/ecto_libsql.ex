defmodule EctoLibSql do
  @moduledoc """
  A `DBConnection` driver for libSQL: local SQLite files, remote libSQL
  servers (Turso, `sqld`) and embedded replicas, with the same API shape as
  Postgrex.

      {:ok, pool} = EctoLibSql.start_link(database: "app.db", pool_size: 4)
      {:ok, %EctoLibSql.Result{rows: [[1]]}} = EctoLibSql.query(pool, "SELECT 1", [])

  `start_link/1` takes every option of `EctoLibSql.Native.open/1`, the
  `DBConnection` pool options, and:

    * `:default_transaction_mode` - `:immediate` (default), `:deferred` or
      `:exclusive`, used by `transaction/3` unless it is given `mode:`.
      IMMEDIATE takes the write lock at BEGIN, so a transaction that reads
      and then writes waits for other writers instead of failing with
      `:busy`; use `mode: :deferred` for read-only transactions
    * `:max_rows` - rows per chunk for `stream/4`, default 500
    * `:slow_query_ms` - log (at `:warning`) every statement that takes at
      least this many milliseconds, with its SQL; its parameters only with
      `log_slow_query_params: true` (they may hold personal data). Off by
      default
    * `:authorizer` - rules for SQL from untrusted sources, applied to
      every connection (see `EctoLibSql.Native.authorize/2`), e.g.
      `[deny: [:attach, :ddl, :pragma_writes], tables: ["api_keys"]]`
    * `:sandbox` - with `pool: Ecto.Adapters.SQL.Sandbox`: `:transaction`
      (default, Ecto's standard sandbox: each owner's work is a transaction
      on the shared database) or `:copy` (each owner works on a private
      copy of the database, thrown away at checkin; see the README's
      "Testing" section). `:copy` needs a local database

  All connections of a pool share one opened database, so a `:memory:`
  database is one database for the whole pool.
  """

  alias EctoLibSql.{Query, Result}

  @type conn :: DBConnection.conn()

  @doc "Starts a connection pool. See the module documentation for options."
  @spec start_link(keyword()) :: GenServer.on_start()
  def start_link(opts) do
    # Every option is checked before anything starts. The database is
    # opened here, once, and shared by the pool's connections: they are
    # started with a reference to it. Secrets stay concealed in the pool's
    # options (see EctoLibSql.Config.conceal/1).
    with {:ok, opts} <- EctoLibSql.Config.normalize(EctoLibSql.Config.conceal(opts)),
         native_opts = EctoLibSql.Config.reveal(Keyword.take(opts, EctoLibSql.Options.keys())),
         {:ok, database} <- EctoLibSql.Native.open_database(native_opts) do
      DBConnection.start_link(EctoLibSql.Protocol, [database_ref: database] ++ opts)
    end
  end

  @doc "A child spec that starts the pool through `start_link/1`."
  @spec child_spec(keyword()) :: Supervisor.child_spec()
  def child_spec(opts) do
    %{
      id: Keyword.get(opts, :name, __MODULE__),
      start: {__MODULE__, :start_link, [EctoLibSql.Config.conceal(opts)]},
      type: :supervisor
    }
  end

  @doc "Runs `sql` with `params`; the prepared statement is cached per connection."
  @spec query(conn(), iodata(), list() | map(), keyword()) :: {:ok, Result.t()} | {:error, Exception.t()}
  def query(conn, sql, params \\ [], opts \\ []) do
    # One call to the connection's thread: executing prepares the SQL
    # through the connection's statement cache, so there is no separate
    # prepare step (SQL errors are reported by the execution).
    case DBConnection.execute(conn, %Query{statement: IO.iodata_to_binary(sql)}, params, opts) do
      {:ok, _query, result} -> {:ok, result}
      {:error, _} = error -> error
    end
  end

  @doc """
  Runs SQL text holding several statements, in order, on one connection:
  `{:ok, [result]}`, one result per statement. Statements before a failing
  one stay applied (wrap the call in `transaction/3` to make it all or
  nothing). SQLite binds parameters per statement, so `params` must be
  `[]`; to run several statements with parameters, use
  `EctoLibSql.Native.batch/2` with a list of `{sql, params}`.
  """
  @spec query_many(conn(), iodata(), list(), keyword()) :: {:ok, [Result.t()]} | {:error, Exception.t()}
  def query_many(conn, sql, params \\ [], opts \\ [])

  def query_many(conn, sql, [], opts) do
    case DBConnection.execute(conn, %EctoLibSql.Batch{statement: IO.iodata_to_binary(sql)}, [], opts) do
      {:ok, _batch, results} -> {:ok, results}
      {:error, _} = error -> error
    end
  end

  def query_many(_conn, _sql, params, _opts) do
    {:error,
     %EctoLibSql.Error{
       code: :misuse,
       message:
         "query_many takes no parameters (#{length(params)} given): SQLite binds them per statement; " <>
           "run EctoLibSql.Native.batch/2 with a list of {sql, params} instead"
     }}
  end

  @doc "Like `query/4`, raising on error."
  @spec query!(conn(), iodata(), list() | map(), keyword()) :: Result.t()
  def query!(conn, sql, params \\ [], opts \\ []) do
    case query(conn, sql, params, opts) do
      {:ok, result} -> result
      {:error, err} -> raise err
    end
  end

  @doc "Prepares `sql` under `name`; errors in the SQL are reported here."
  @spec prepare(conn(), iodata(), iodata(), keyword()) :: {:ok, Query.t()} | {:error, Exception.t()}
  def prepare(conn, name, sql, opts \\ []) do
    DBConnection.prepare(conn, %Query{name: name, statement: sql}, opts)
  end

  @doc "Runs a prepared query."
  @spec execute(conn(), Query.t(), list() | map(), keyword()) ::
          {:ok, Query.t(), Result.t()} | {:error, Exception.t()}
  def execute(conn, %Query{} = query, params, opts \\ []), do: DBConnection.execute(conn, query, params, opts)

  @doc "Prepares and runs `sql` in one call."
  @spec prepare_execute(conn(), iodata(), iodata(), list() | map(), keyword()) ::
          {:ok, Query.t(), Result.t()} | {:error, Exception.t()}
  def prepare_execute(conn, name, sql, params, opts \\ []) do
    DBConnection.prepare_execute(conn, %Query{name: name, statement: sql}, params, opts)
  end

  @doc "Closes a prepared query (its statement stays in the connection's bounded cache)."
  @spec close(conn(), Query.t(), keyword()) :: :ok | {:error, Exception.t()}
  def close(conn, %Query{} = query, opts \\ []) do
    case DBConnection.close(conn, query, opts) do
      {:ok, _} -> :ok
      {:error, _} = error -> error
    end
  end

  @doc """
  Runs `fun` in a transaction. `mode:` picks `:deferred`, `:immediate` or
  `:exclusive` for this transaction (default: the pool's
  `:default_transaction_mode`); `mode: :savepoint` nests as a savepoint.
  """
  @spec transaction(conn(), (DBConnection.t() -> result), keyword()) :: {:ok, result} | {:error, any()}
        when result: var
  def transaction(conn, fun, opts \\ []), do: DBConnection.transaction(conn, fun, opts)

  @doc """
  Pulls new frames from the primary into an embedded replica pool's
  database: `{:ok, %{frame_no: n, frames_synced: m}}`. Runs once for the
  whole pool (its connections share the database), within `:timeout`.
  Emits `[:ecto_libsql, :sync]`.
  """
  @spec sync(conn(), keyword()) :: {:ok, map()} | {:error, Exception.t()}
  def sync(pool, opts \\ []), do: replicate(pool, :sync, [], opts)

  @doc """
  Syncs until the replica has reached `frame` (for example the
  `replication_index/2` of another node after its write), or fails with
  `code: :timeout` after `:timeout` ms (default 30,000).
  """
  @spec sync_until(conn(), non_neg_integer(), keyword()) :: {:ok, map()} | {:error, Exception.t()}
  def sync_until(pool, frame, opts \\ []) when is_integer(frame) and frame >= 0,
    do: replicate(pool, :sync_until, [frame], opts)

  @doc "The replica's replication index (frame number), or `nil` before any sync."
  @spec replication_index(conn(), keyword()) :: {:ok, non_neg_integer() | nil} | {:error, Exception.t()}
  def replication_index(pool, opts \\ []), do: replicate(pool, :replication_index, [], opts)

  defp replicate(pool, call, args, opts) do
    case DBConnection.execute(pool, %EctoLibSql.DatabaseCall{call: call, args: args}, [], opts) do
      {:ok, _call, result} -> {:ok, result}
      {:error, _} = error -> error
    end
  end

  @doc "Rolls back the current transaction with `reason`."
  @spec rollback(DBConnection.t(), any()) :: no_return()
  defdelegate rollback(conn, reason), to: DBConnection

  @doc """
  A lazy stream of results, `max_rows` rows at a time, stepped through a
  cursor. Must run inside `transaction/3`, like every DBConnection stream.
  """
  @spec stream(DBConnection.t(), iodata() | Query.t(), list() | map(), keyword()) :: DBConnection.Stream.t()
  def stream(conn, query, params \\ [], opts \\ [])
  def stream(conn, %Query{} = query, params, opts), do: DBConnection.stream(conn, query, params, opts)
  def stream(conn, sql, params, opts), do: DBConnection.stream(conn, %Query{statement: sql}, params, opts)
end
