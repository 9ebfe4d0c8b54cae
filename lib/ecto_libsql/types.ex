defmodule EctoLibSql.Types do
  @moduledoc """
  Typed parameters: values a caller (such as the Ecto adapter's dumpers)
  hands to the driver tagged with what they are, which the driver writes in
  the form the pool's type options choose.

    * `{:uuid, <<_::128>>}` - `:binary_id_type` (alias `:uuid_type`):
      `:string` (default, 36-character text) or `:binary` (16-byte BLOB)
    * `{:json_map, json}` / `{:json_array, json}` - `:map_type` /
      `:array_type`: `:string` (default, TEXT) or `:binary` (BLOB)
    * `{:datetime, NaiveDateTime | DateTime}` - `:datetime_type`:
      `:iso8601` (default, `2024-01-02T03:04:05.000006`, `Z` for UTC) or
      `:text_datetime` (`2024-01-02 03:04:05.000006`)

  A plain binary is written as TEXT when it is text SQLite can hold, and
  otherwise as a BLOB (`{:blob, binary}`), so that its bytes come back
  unchanged:

    * not valid UTF-8 - it is bytes (a raw UUID, a hash), not text;
    * valid UTF-8 holding a NUL byte - libSQL reads TEXT back through a C
      string, which would cut the value at its first NUL.

  Any other value passes through unchanged.
  """

  defstruct binary_id: :string, map: :string, array: :string, datetime: :iso8601

  @type t :: %__MODULE__{
          binary_id: :string | :binary,
          map: :string | :binary,
          array: :string | :binary,
          datetime: :iso8601 | :text_datetime
        }

  @doc """
  Reads the type options from a pool or Repo configuration, raising
  `ArgumentError` for an unknown value.
  """
  @spec from_options(keyword()) :: t()
  def from_options(opts) do
    %__MODULE__{
      binary_id: option(opts, [:binary_id_type, :uuid_type], [:string, :binary], :string),
      map: option(opts, [:map_type], [:string, :binary], :string),
      array: option(opts, [:array_type], [:string, :binary], :string),
      datetime: option(opts, [:datetime_type], [:iso8601, :text_datetime], :iso8601)
    }
  end

  defp option(opts, keys, allowed, default) do
    {key, value} = Enum.find_value(keys, {hd(keys), default}, &(Keyword.has_key?(opts, &1) && {&1, opts[&1]}))

    if value in allowed,
      do: value,
      else: raise(ArgumentError, "#{inspect(key)} must be one of #{inspect(allowed)}, got: #{inspect(value)}")
  end

  @doc "Writes every typed parameter of `params` in the form `types` chooses."
  @spec finalize([term()], t()) :: [term()]
  def finalize(params, %__MODULE__{} = types) when is_list(params) do
    if Enum.all?(params, &plain?/1), do: params, else: Enum.map(params, &value(&1, types))
  end

  def finalize(params, _types), do: params

  defp value({:uuid, <<_::128>> = raw}, %{binary_id: :binary}), do: {:blob, raw}
  defp value({:uuid, <<_::128>> = raw}, %{binary_id: :string}), do: uuid_string(raw)
  defp value({:json_map, json}, %{map: kind}), do: json(json, kind)
  defp value({:json_array, json}, %{array: kind}), do: json(json, kind)
  defp value({:datetime, datetime}, %{datetime: format}), do: format_datetime(datetime, format)
  defp value(binary, _types) when is_binary(binary), do: if(text?(binary), do: binary, else: {:blob, binary})
  defp value(other, _types), do: other

  defp plain?(value) when is_tuple(value), do: false
  defp plain?(value) when is_binary(value), do: text?(value)
  defp plain?(_value), do: true

  defp text?(binary), do: String.valid?(binary) and :binary.match(binary, <<0>>) == :nomatch

  defp json(json, :string), do: IO.iodata_to_binary(json)
  defp json(json, :binary), do: {:blob, IO.iodata_to_binary(json)}

  @doc """
  A datetime as stored text, always with six fractional digits so that
  stored values compare in time order as text.
  """
  @spec format_datetime(NaiveDateTime.t() | DateTime.t(), :iso8601 | :text_datetime) :: String.t()
  def format_datetime(datetime, format \\ :iso8601)

  def format_datetime(%NaiveDateTime{microsecond: {us, _}} = dt, :iso8601),
    do: NaiveDateTime.to_iso8601(%{dt | microsecond: {us, 6}})

  def format_datetime(%NaiveDateTime{microsecond: {us, _}} = dt, :text_datetime),
    do: NaiveDateTime.to_string(%{dt | microsecond: {us, 6}})

  def format_datetime(%DateTime{} = dt, format) do
    %DateTime{microsecond: {us, _}} = utc = DateTime.shift_zone!(dt, "Etc/UTC")
    utc = %{utc | microsecond: {us, 6}}

    case format do
      :iso8601 -> DateTime.to_iso8601(utc)
      :text_datetime -> utc |> DateTime.to_naive() |> NaiveDateTime.to_string()
    end
  end

  @doc "The 36-character text form of a 16-byte UUID."
  @spec uuid_string(<<_::128>>) :: String.t()
  def uuid_string(<<a::32, b::16, c::16, d::16, e::48>>) do
    [pad(a, 8), ?-, pad(b, 4), ?-, pad(c, 4), ?-, pad(d, 4), ?-, pad(e, 12)] |> IO.iodata_to_binary()
  end

  defp pad(int, width), do: int |> Integer.to_string(16) |> String.downcase() |> String.pad_leading(width, "0")
end
