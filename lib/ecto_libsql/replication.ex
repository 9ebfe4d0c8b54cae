defmodule EctoLibSql.Replication do
  @moduledoc false
  # A replication call (sync, sync_until, replication_index) sent through
  # a pool like a query, so that it runs on one of the pool's connections
  # with DBConnection's timeouts: it acts on the database the whole pool
  # shares, once, not once per connection.

  defstruct [:call, args: []]

  @type t :: %__MODULE__{call: :sync | :sync_until | :replication_index, args: list()}

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
