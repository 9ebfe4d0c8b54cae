defmodule EctoLibSql.DatabaseCall do
  @moduledoc false
  # A call on the database the whole pool shares, sent through the pool
  # like a query, so that it runs once (not once per connection) with
  # DBConnection's timeouts: a replication call (sync, sync_until,
  # replication_index), or `:database`, which answers the shared database
  # handle itself (EctoLibSql.Maintenance works on a connection of its own),
  # or the migration lock taken or released by the pooled connection that
  # runs it (`:lock_migrations`, `:unlock_migrations`).

  defstruct [:call, args: []]

  @type t :: %__MODULE__{
          call: :sync | :sync_until | :replication_index | :database | :lock_migrations | :unlock_migrations,
          args: list()
        }

  @doc false
  # The database `pool` shares (a pooled connection is borrowed only for
  # the moment it takes to ask).
  @spec database(DBConnection.conn(), keyword()) :: {:ok, reference()} | {:error, Exception.t()}
  def database(pool, opts \\ []) do
    case DBConnection.execute(pool, %__MODULE__{call: :database}, [], opts) do
      {:ok, _call, database} -> {:ok, database}
      {:error, _} = error -> error
    end
  end

  defimpl DBConnection.Query do
    def parse(call, _opts), do: call
    def describe(call, _opts), do: call
    def encode(_call, params, _opts), do: params
    def decode(_call, result, _opts), do: result
  end

  defimpl String.Chars do
    def to_string(%{call: call, args: args}), do: "#{call}(#{Enum.map_join(args, ", ", &inspect/1)})"
  end
end
