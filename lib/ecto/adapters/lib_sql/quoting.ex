defmodule Ecto.Adapters.LibSql.Quoting do
  @moduledoc false
  # Quoting of identifiers and literals, shared by the query generator
  # (`Ecto.Adapters.LibSql.Connection`) and the DDL generator
  # (`Ecto.Adapters.LibSql.DDL`), so that both write names the same way.

  @doc """
  Quotes an identifier with double quotes.

  Names holding a double quote are rejected rather than escaped: a name that
  needs escaping almost always comes from user input by mistake.
  """
  @spec quote_name(atom | String.t()) :: iodata
  def quote_name(name) when is_atom(name), do: quote_name(Atom.to_string(name))

  def quote_name(name) when is_binary(name) do
    if String.contains?(name, "\"") do
      raise ArgumentError,
            "bad identifier #{inspect(name)}: SQLite identifiers may not contain a double quote (\")"
    end

    [?", name, ?"]
  end

  @doc """
  Quotes a table name, qualified by its prefix when there is one.

  In SQLite a prefix names an attached database (`main`, `temp` or one
  attached with `ATTACH DATABASE`).
  """
  @spec quote_table(atom | String.t() | nil, atom | String.t()) :: iodata
  def quote_table(nil, name), do: quote_name(name)
  def quote_table(prefix, name), do: [quote_name(prefix), ?., quote_name(name)]

  @doc "Quotes a list of identifiers, separated by commas."
  @spec quote_names([atom | String.t()]) :: iodata
  def quote_names(names), do: Enum.map_intersperse(names, ?,, &quote_name/1)

  @doc "Writes a string as an SQL string literal."
  @spec single_quote(String.t()) :: iodata
  def single_quote(value) when is_binary(value), do: [?', escape_string(value), ?']

  @doc "Doubles the single quotes of a string, for use inside an SQL string literal."
  @spec escape_string(String.t()) :: String.t()
  def escape_string(value) when is_binary(value), do: :binary.replace(value, "'", "''", [:global])

  @doc "Writes a binary as an SQLite blob literal (`X'0A1B'`)."
  @spec blob_literal(binary) :: iodata
  def blob_literal(value) when is_binary(value), do: ["X'", Base.encode16(value), ?']
end
