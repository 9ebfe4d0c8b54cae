defmodule Ecto.Adapters.LibSql.JSON do
  @moduledoc false
  # The JSON library the adapter encodes maps, arrays and literal lists
  # with: `config :ecto_libsql, :json_library, Module` when set, else Jason
  # when the app has it (its encoder knows Decimal, which embeds carry),
  # else Elixir's own `JSON` (1.18+). Jason stays an optional dependency:
  # an app on Elixir 1.18+ needs no JSON package at all.

  @doc "The module to encode and decode JSON with."
  @spec library() :: module()
  def library do
    case Application.get_env(:ecto_libsql, :json_library) do
      nil -> default()
      library -> library
    end
  end

  defp default do
    cond do
      Code.ensure_loaded?(Jason) ->
        Jason

      Code.ensure_loaded?(JSON) and function_exported?(JSON, :encode_to_iodata!, 1) ->
        JSON

      true ->
        raise ArgumentError, "Ecto.Adapters.LibSql needs a JSON library on Elixir < 1.18: add {:jason, \"~> 1.0\"}"
    end
  end

  @doc "Encodes `value` as JSON iodata."
  @spec encode!(term()) :: iodata()
  def encode!(value), do: library().encode_to_iodata!(value)

  @doc "Decodes JSON text."
  @spec decode(String.t()) :: {:ok, term()} | {:error, term()}
  def decode(text), do: library().decode(text)
end
