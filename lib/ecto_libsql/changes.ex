defmodule EctoLibSql.Changes do
  @moduledoc """
  Change capture: a process subscribes to tables of a pool's local
  database and receives a message for each row inserted, updated or
  deleted there, once the write has committed:

      {:ok, id} = EctoLibSql.Changes.subscribe(pool, ["posts", "comments"])

      receive do
        {:ecto_libsql_change, ^id, {"posts", :insert, rowid}} -> ...
      end

  Guarantees:

    * only committed changes: a transaction that rolls back (or a statement
      that fails) sends nothing;
    * in commit order, across every connection of the pool (and every pool
      of the VM on the same database), one message per row, in the order
      the rows were written within a transaction;
    * from the moment `subscribe/3` returns: a transaction already open on
      another connection when it was called may go unreported.

  Each change is recorded by a TEMP trigger of the writing connection, so
  a write costs a little more on watched tables (a row in a TEMP table),
  and nothing on others. Rows are identified by rowid: a `WITHOUT ROWID`
  table cannot be watched. Messages are sent as commits happen, with no
  buffer in between: a subscriber that falls behind sees its mailbox grow,
  so keep the handler cheap (or hand work to other processes). A
  subscriber that exits is dropped at its next message; `unsubscribe/2`
  ends a subscription at once.

  Only writes made through this library's connections in this VM are
  seen (not another OS process's). Remote databases and embedded replicas
  are written on their primary, where this VM's triggers do not run:
  subscribing to them is `code: :unsupported`.
  """

  alias EctoLibSql.{DatabaseCall, Error, Native}

  @type id :: pos_integer()

  @doc """
  Subscribes `pid` (default: the caller) to the committed changes of
  `tables` (names as atoms or strings). Returns `{:ok, id}`; messages are
  `{:ecto_libsql_change, id, {table, :insert | :update | :delete, rowid}}`.
  """
  @spec subscribe(DBConnection.conn(), [atom() | String.t()], keyword()) :: {:ok, id()} | {:error, Exception.t()}
  def subscribe(pool, tables, opts \\ []) when is_list(tables) and tables != [] do
    tables = Enum.map(tables, &to_string/1)
    pid = Keyword.get(opts, :pid, self())

    with {:ok, database} <- DatabaseCall.database(pool),
         :ok <- local(database),
         :ok <- watchable(pool, tables) do
      Native.subscribe_changes(database, pid, tables)
    end
  end

  @doc "Ends subscription `id`: `:ok`, or `{:error, _}` when there is none."
  @spec unsubscribe(DBConnection.conn(), id()) :: :ok | {:error, Exception.t()}
  def unsubscribe(pool, id) when is_integer(id) do
    with {:ok, database} <- DatabaseCall.database(pool) do
      if Native.unsubscribe_changes(database, id),
        do: :ok,
        else: {:error, %Error{code: :misuse, message: "no change subscription #{id}"}}
    end
  end

  defp local(database) do
    case Native.database_kind(database) do
      :local ->
        :ok

      kind ->
        {:error,
         %Error{
           code: :unsupported,
           message:
             "change capture needs a local database, this one is #{kind}: its writes happen on the primary, " <>
               "where no trigger of this node runs"
         }}
    end
  end

  # Every table must exist and have rowids.
  defp watchable(pool, tables) do
    placeholders = Enum.map_join(1..length(tables), ", ", &"?#{&1}")

    sql =
      "SELECT name, wr FROM pragma_table_list WHERE schema = 'main' AND type = 'table' AND name IN (#{placeholders})"

    with {:ok, %{rows: rows}} <- EctoLibSql.query(pool, sql, tables) do
      found = Map.new(rows, fn [name, without_rowid] -> {name, without_rowid} end)

      case Enum.find(tables, &(Map.get(found, &1, 1) == 1)) do
        nil ->
          :ok

        table when is_map_key(found, table) ->
          {:error,
           %Error{
             code: :misuse,
             message: "table #{inspect(table)} is WITHOUT ROWID: its changes have no rowid to report"
           }}

        table ->
          {:error, %Error{code: :misuse, message: "no table #{inspect(table)} in the database"}}
      end
    end
  end
end
