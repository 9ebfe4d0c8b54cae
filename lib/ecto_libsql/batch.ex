defmodule EctoLibSql.Batch do
  @moduledoc false
  # Several statements of SQL text sent through a pool like one query
  # (`EctoLibSql.query_many/4`): they run in order on one connection, in one
  # call to its thread, and each gives its own result.

  defstruct [:statement]

  @type t :: %__MODULE__{statement: String.t()}

  defimpl DBConnection.Query do
    def parse(batch, _opts), do: batch
    def describe(batch, _opts), do: batch
    def encode(_batch, params, _opts), do: params
    def decode(_batch, results, _opts), do: results
  end

  defimpl String.Chars do
    def to_string(%{statement: statement}), do: statement
  end
end
