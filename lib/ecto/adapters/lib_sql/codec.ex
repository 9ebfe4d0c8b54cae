defmodule Ecto.Adapters.LibSql.Codec do
  @moduledoc false
  # Loaders and dumpers of Ecto.Adapters.LibSql. Dumpers tag values whose
  # stored form is a per-Repo choice (see EctoLibSql.Types); the driver
  # writes them per the pool's options. Loaders accept every stored form,
  # so changing a type option never makes existing rows unreadable.

  ## Dumpers

  def dump_blob(binary) when is_binary(binary), do: {:ok, {:blob, binary}}
  def dump_blob(_), do: :error

  # Tagged with the option that decides their stored form: :binary_id_type
  # or :uuid_type (EctoLibSql.Types).
  def dump_binary_id(<<_::128>> = raw), do: {:ok, {:binary_id, raw}}
  def dump_binary_id(nil), do: {:ok, nil}
  def dump_binary_id(_), do: :error

  def dump_uuid(<<_::128>> = raw), do: {:ok, {:uuid, raw}}
  def dump_uuid(nil), do: {:ok, nil}
  def dump_uuid(_), do: :error

  def dump_json(nil), do: {:ok, nil}
  def dump_json(value) when is_map(value), do: {:ok, {:json_map, Ecto.Adapters.LibSql.JSON.encode!(value)}}
  def dump_json(value) when is_list(value), do: {:ok, {:json_array, Ecto.Adapters.LibSql.JSON.encode!(value)}}
  def dump_json(_), do: :error

  def dump_decimal(%Decimal{} = d) do
    if Decimal.inf?(d) or Decimal.nan?(d), do: :error, else: {:ok, Decimal.to_string(d, :normal)}
  end

  def dump_decimal(nil), do: {:ok, nil}
  def dump_decimal(_), do: :error

  def dump_date(%Date{} = d), do: {:ok, Date.to_iso8601(d)}
  def dump_date(nil), do: {:ok, nil}
  def dump_date(_), do: :error

  def dump_time(%Time{} = t), do: {:ok, Time.to_iso8601(t)}
  def dump_time(nil), do: {:ok, nil}
  def dump_time(_), do: :error

  def dump_datetime(%NaiveDateTime{} = dt), do: {:ok, {:datetime, dt}}
  def dump_datetime(%DateTime{} = dt), do: {:ok, {:datetime, dt}}
  def dump_datetime(nil), do: {:ok, nil}
  def dump_datetime(_), do: :error

  # Durations (Elixir 1.17 and later) are ISO 8601 text such as
  # "P13MT1.000100S": SQLite has no interval type, and the text keeps every
  # unit and the microsecond precision, so equal durations compare equal.
  if Code.ensure_loaded?(Duration) do
    def dump_duration(%Duration{} = d), do: {:ok, Duration.to_iso8601(d)}
  end

  def dump_duration(nil), do: {:ok, nil}
  def dump_duration(_), do: :error

  ## Loaders

  # NULL loads as nil whatever the type.
  def load_boolean(nil), do: {:ok, nil}
  def load_boolean(0), do: {:ok, false}
  def load_boolean(1), do: {:ok, true}
  def load_boolean(b) when is_boolean(b), do: {:ok, b}
  def load_boolean(_), do: :error

  # Ecto.UUID loads the 16-byte form: text is turned into it first.
  def load_uuid(nil), do: {:ok, nil}
  def load_uuid(<<_::128>> = raw), do: {:ok, raw}
  def load_uuid({tag, <<_::128>> = raw}) when tag in [:uuid, :binary_id], do: {:ok, raw}
  def load_uuid(<<_::288>> = text), do: Ecto.UUID.dump(text)
  def load_uuid(_), do: :error

  def load_json(nil), do: {:ok, nil}

  def load_json(stored) when is_binary(stored),
    do: stored |> EctoLibSql.Types.json_text() |> Ecto.Adapters.LibSql.JSON.decode()

  def load_json(other) when is_map(other) or is_list(other), do: {:ok, other}
  def load_json(_), do: :error

  def load_float(nil), do: {:ok, nil}
  def load_float(i) when is_integer(i), do: {:ok, i * 1.0}
  def load_float(f) when is_float(f), do: {:ok, f}
  def load_float(_), do: :error

  def load_decimal(nil), do: {:ok, nil}

  def load_decimal(text) when is_binary(text) do
    case Decimal.parse(text) do
      {decimal, ""} -> {:ok, decimal}
      _ -> :error
    end
  end

  def load_decimal(i) when is_integer(i), do: {:ok, Decimal.new(i)}
  def load_decimal(f) when is_float(f), do: {:ok, Decimal.from_float(f)}
  def load_decimal(%Decimal{} = d), do: {:ok, d}
  def load_decimal(_), do: :error

  def load_date(nil), do: {:ok, nil}

  def load_date(text) when is_binary(text) do
    case Date.from_iso8601(binary_part(text, 0, min(byte_size(text), 10))) do
      {:ok, date} -> {:ok, date}
      _ -> :error
    end
  end

  def load_date(%Date{} = d), do: {:ok, d}
  def load_date(_), do: :error

  def load_time(nil), do: {:ok, nil}

  def load_time(text) when is_binary(text) do
    case Time.from_iso8601(text) do
      {:ok, time} -> {:ok, time}
      _ -> :error
    end
  end

  def load_time(%Time{} = t), do: {:ok, t}
  def load_time(_), do: :error

  def load_duration(nil), do: {:ok, nil}

  if Code.ensure_loaded?(Duration) do
    def load_duration(text) when is_binary(text) do
      case Duration.from_iso8601(text) do
        {:ok, duration} -> {:ok, duration}
        {:error, _} -> :error
      end
    end

    def load_duration(%Duration{} = d), do: {:ok, d}
  end

  def load_duration(_), do: :error

  def load_naive_datetime(nil), do: {:ok, nil}

  # The layouts this adapter writes (EctoLibSql.Types.format_datetime/2) are
  # read by a binary match, several times cheaper than a general ISO 8601
  # parse, which matters when a scan loads a datetime per row. Anything
  # else takes the general parser.
  def load_naive_datetime(
        <<y::binary-4, ?-, mo::binary-2, ?-, d::binary-2, sep, h::binary-2, ?:, mi::binary-2, ?:, s::binary-2, ?.,
          us::binary-6>>
      )
      when sep in [?T, ?\s] do
    with {:ok, us} <- digits(us), do: naive(y, mo, d, h, mi, s, {us, 6})
  end

  def load_naive_datetime(text) when is_binary(text) do
    case NaiveDateTime.from_iso8601(text) do
      {:ok, dt} ->
        {:ok, dt}

      _ ->
        with :error <- date_only(text, &NaiveDateTime.new(&1, ~T[00:00:00])),
             do: unix_text(text, &load_naive_datetime/1)
    end
  end

  def load_naive_datetime(unix) when is_integer(unix) do
    with {:ok, dt} <- DateTime.from_unix(unix), do: {:ok, DateTime.to_naive(dt)}
  end

  def load_naive_datetime(%NaiveDateTime{} = dt), do: {:ok, dt}
  def load_naive_datetime(_), do: :error

  def load_utc_datetime(nil), do: {:ok, nil}

  def load_utc_datetime(<<naive::binary-26, ?Z>>) do
    case load_naive_datetime(naive) do
      {:ok, dt} -> {:ok, DateTime.from_naive!(dt, "Etc/UTC")}
      :error -> load_utc_datetime_general(naive <> "Z")
    end
  end

  def load_utc_datetime(text) when is_binary(text), do: load_utc_datetime_general(text)

  def load_utc_datetime(unix) when is_integer(unix), do: DateTime.from_unix(unix)
  def load_utc_datetime(%DateTime{} = dt), do: {:ok, dt}
  def load_utc_datetime(_), do: :error

  defp load_utc_datetime_general(text) do
    case DateTime.from_iso8601(text) do
      {:ok, dt, _offset} ->
        {:ok, dt}

      {:error, :missing_offset} ->
        with {:ok, naive} <- load_naive_datetime(text), do: {:ok, DateTime.from_naive!(naive, "Etc/UTC")}

      _ ->
        with :error <- date_only(text, &DateTime.new(&1, ~T[00:00:00], "Etc/UTC")),
             do: unix_text(text, &load_utc_datetime/1)
    end
  end

  # Unix seconds stored in a column of TEXT affinity (a datetime column
  # declared TEXT) read back as text.
  defp unix_text(text, load) do
    case Integer.parse(text) do
      {unix, ""} -> load.(unix)
      _ -> :error
    end
  end

  defp naive(y, mo, d, h, mi, s, microsecond) do
    with {:ok, y} <- digits(y),
         {:ok, mo} <- digits(mo),
         {:ok, d} <- digits(d),
         {:ok, h} <- digits(h),
         {:ok, mi} <- digits(mi),
         {:ok, s} <- digits(s),
         {:ok, dt} <- NaiveDateTime.new(y, mo, d, h, mi, s, microsecond) do
      {:ok, dt}
    else
      _ -> :error
    end
  end

  defp digits(text) do
    case Integer.parse(text) do
      {n, ""} when n >= 0 -> {:ok, n}
      _ -> :error
    end
  end

  defp date_only(text, build) do
    with {:ok, date} <- Date.from_iso8601(text), {:ok, dt} <- build.(date), do: {:ok, dt}, else: (_ -> :error)
  end
end
