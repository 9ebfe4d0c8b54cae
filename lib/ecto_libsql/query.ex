defmodule EctoLibSql.Query do
  @moduledoc """
  A query for the `EctoLibSql` driver.

    * `:name` - the name given to `EctoLibSql.prepare/4` (informational:
      statements are cached per connection by their SQL text)
    * `:statement` - the SQL
    * `:command` - the kind of statement, known once prepared
    * `:columns` - the result columns, known once prepared

  A query is never bound to one connection: prepared on one, it runs on any
  other (its SQL is prepared there through that connection's cache).
  """

  defstruct name: "", statement: nil, command: nil, columns: nil

  @type t :: %__MODULE__{
          name: iodata(),
          statement: iodata(),
          command: atom() | nil,
          columns: [String.t()] | nil
        }

  defimpl DBConnection.Query do
    alias EctoLibSql.Query

    def parse(%Query{statement: statement} = query, _opts) when is_binary(statement), do: query
    def parse(%Query{statement: statement} = query, _opts), do: %{query | statement: IO.iodata_to_binary(statement)}

    def describe(query, _opts), do: query

    # Values the native layer does not take directly are turned into what an
    # Ecto adapter would store: ISO 8601 text for dates and times, decimal
    # text for decimals.
    def encode(_query, params, _opts) when is_list(params), do: Enum.map(params, &encode_value/1)
    def encode(_query, params, _opts) when is_map(params), do: Map.new(params, fn {k, v} -> {k, encode_value(v)} end)

    def decode(_query, result, _opts), do: result

    defp encode_value(%DateTime{} = v), do: DateTime.to_iso8601(v)
    defp encode_value(%NaiveDateTime{} = v), do: NaiveDateTime.to_iso8601(v)
    defp encode_value(%Date{} = v), do: Date.to_iso8601(v)
    defp encode_value(%Time{} = v), do: Time.to_iso8601(v)
    defp encode_value(%Decimal{} = v), do: Decimal.to_string(v, :normal)
    defp encode_value(v), do: v
  end

  defimpl String.Chars do
    def to_string(%{statement: statement}), do: IO.iodata_to_binary(statement)
  end
end
