defmodule Ecto.Adapters.LibSql.Expr do
  @moduledoc false
  # Writes Ecto query expressions (the AST inside where, select, order_by, ...)
  # as SQLite expressions, one clause per expression shape, and names the
  # sources (tables, subqueries, fragments, values lists) of a query.

  alias Ecto.Adapters.LibSql.{Quoting, Statement}

  # Where a subquery keeps its parent query, for parent_as/1.
  @parent_as __MODULE__

  binary_ops = [
    ==: " = ",
    !=: " != ",
    <=: " <= ",
    >=: " >= ",
    <: " < ",
    >: " > ",
    +: " + ",
    -: " - ",
    *: " * ",
    /: " / ",
    and: " AND ",
    or: " OR ",
    like: " LIKE "
  ]

  @binary_ops Keyword.keys(binary_ops) ++ [:ilike]
  @comparisons [:==, :!=, :<, :>, :<=, :>=]

  for {op, sql} <- binary_ops do
    defp binary_op(unquote(op)), do: unquote(sql)
  end

  ## Sources

  @doc "Names every source of `query`: `{quoted table or nil, alias, schema}` by index."
  def sources(%{sources: sources}, as_prefix) do
    sources
    |> Tuple.to_list()
    |> Enum.with_index(fn source, ix -> source_name(source, ix, as_prefix) end)
    |> Kernel.++([as_prefix])
    |> List.to_tuple()
  end

  defp source_name({:fragment, _, _}, ix, prefix), do: {nil, [prefix, ?f | Integer.to_string(ix)], nil}

  # Ecto 3.14's `{fragment, Schema}` source: a fragment whose rows load as the schema.
  defp source_name({{:fragment, _, _}, schema, _prefix}, ix, prefix),
    do: {nil, [prefix, ?f | Integer.to_string(ix)], schema}

  defp source_name({:values, _, _}, ix, prefix), do: {nil, [prefix, ?v | Integer.to_string(ix)], nil}
  defp source_name(%Ecto.SubQuery{}, ix, prefix), do: {nil, [prefix, ?s | Integer.to_string(ix)], nil}

  defp source_name({table, schema, table_prefix}, ix, prefix) do
    {Quoting.quote_table(table_prefix, table), [prefix, alias_letter(table) | Integer.to_string(ix)], schema}
  end

  defp alias_letter(<<letter, _::binary>>) when letter in ?a..?z or letter in ?A..?Z, do: letter
  defp alias_letter(_table), do: ?t

  @doc "The alias prefix for a subquery of a query with `sources`, so aliases do not clash."
  def subquery_prefix(sources), do: [?s | elem(sources, tuple_size(sources) - 1)]

  @doc "Returns `{table_sql, alias}` for source `ix`."
  def source(query, sources, ix, source) do
    {table, name, _schema} = elem(sources, ix)
    {table || expr(source, sources, query), name}
  end

  @doc "Remembers the parent of a subquery, so that parent_as/1 can find it."
  def with_parent(subquery, parent, sources) do
    put_in(subquery.aliases[@parent_as], {parent, sources})
  end

  @doc "A field of source `ix`, qualified by the source's alias."
  def qualified_name(field, sources, ix) do
    {_table, name, _schema} = elem(sources, ix)
    [name, ?. | Quoting.quote_name(field)]
  end

  ## Window and order

  @doc "A window definition: `(PARTITION BY ... ORDER BY ... frame)`."
  def window(kw, sources, query) do
    [?(, Enum.map_intersperse(kw, ?\s, &window_part(&1, sources, query)), ?)]
  end

  defp window_part({:partition_by, fields}, sources, query),
    do: ["PARTITION BY " | Enum.map_intersperse(fields, ", ", &expr(&1, sources, query))]

  defp window_part({:order_by, fields}, sources, query),
    do: ["ORDER BY " | Enum.map_intersperse(fields, ", ", &order_by_expr(&1, sources, query))]

  defp window_part({:frame, {:fragment, _, _} = fragment}, sources, query), do: expr(fragment, sources, query)

  @doc "One ORDER BY term; SQLite supports NULLS FIRST/LAST."
  def order_by_expr({dir, expr}, sources, query), do: [numeric_operand(expr, sources, query) | order_dir(dir)]

  defp order_dir(:asc), do: []
  defp order_dir(:desc), do: " DESC"
  defp order_dir(:asc_nulls_first), do: " ASC NULLS FIRST"
  defp order_dir(:asc_nulls_last), do: " ASC NULLS LAST"
  defp order_dir(:desc_nulls_first), do: " DESC NULLS FIRST"
  defp order_dir(:desc_nulls_last), do: " DESC NULLS LAST"

  ## Expressions

  @doc "Writes one expression."
  def expr({:^, [], [ix]}, _sources, _query), do: [?? | Integer.to_string(ix + 1)]

  def expr({{:., _, [{:parent_as, _, [as]}, field]}, _, []}, _sources, query)
      when is_atom(field) or is_binary(field) do
    {ix, sources} = parent_source(query, as)
    qualified_name(field, sources, ix)
  end

  def expr({{:., _, [{:&, _, [ix]}, field]}, _, []}, sources, _query) when is_atom(field) or is_binary(field),
    do: qualified_name(field, sources, ix)

  def expr({:&, _, [ix]}, sources, _query) do
    {_table, name, _schema} = elem(sources, ix)
    name
  end

  def expr({:in, _, [_left, []]}, _sources, _query), do: "0"

  def expr({:in, _, [left, right]}, sources, query) when is_list(right),
    do: [expr(left, sources, query), " IN (", Enum.map_intersperse(right, ?,, &expr(&1, sources, query)), ?)]

  def expr({:in, _, [_left, {:^, _, [_ix, 0]}]}, _sources, _query), do: "0"

  def expr({:in, _, [left, {:^, _, [ix, length]}]}, sources, query),
    do: [expr(left, sources, query), " IN (", placeholders(ix, length), ?)]

  def expr({:in, _, [left, %Ecto.SubQuery{} = subquery]}, sources, query),
    do: [expr(left, sources, query), " IN ", expr(subquery, sources, query)]

  # `x in p.tags` on a JSON array column.
  def expr({:in, _, [left, right]}, sources, query) do
    [expr(left, sources, query), " IN (SELECT value FROM json_each(", expr(right, sources, query), "))"]
  end

  def expr({:is_nil, _, [arg]}, sources, query), do: [maybe_paren(arg, sources, query) | " IS NULL"]
  def expr({:not, _, [arg]}, sources, query), do: ["NOT (", expr(arg, sources, query), ?)]

  def expr({:exists, _, [subquery]}, sources, query), do: ["EXISTS ", expr(subquery, sources, query)]

  def expr(%Ecto.SubQuery{query: subquery}, sources, query) do
    combinations = Enum.map(subquery.combinations, fn {kind, member} -> {kind, with_parent(member, query, sources)} end)

    subquery = with_parent(%{subquery | combinations: combinations}, query, sources)
    [?(, Statement.all(subquery, subquery_prefix(sources)), ?)]
  end

  def expr({:fragment, _, [kw]}, _sources, query) when is_list(kw) or tuple_size(kw) == 3 do
    raise Ecto.QueryError,
      query: query,
      message: "the libSQL adapter does not support keyword or interpolated fragments"
  end

  def expr({:fragment, _, parts}, sources, query) do
    parts
    |> Enum.map(fn
      {:raw, raw} -> raw
      {:expr, expr} -> expr(expr, sources, query)
    end)
    |> parens_for_select()
  end

  # The source of a `{fragment, Schema}` from or join (Ecto 3.14).
  def expr({{:fragment, _, _} = fragment, schema}, sources, query) when is_atom(schema),
    do: expr(fragment, sources, query)

  def expr({:values, _, [types, ix, num_rows]}, _sources, _query), do: values_list(types, ix, num_rows)

  def expr({:identifier, _, [name]}, _sources, _query), do: Quoting.quote_name(name)
  def expr({:constant, _, [literal]}, _sources, _query) when is_binary(literal), do: Quoting.single_quote(literal)
  def expr({:constant, _, [literal]}, _sources, _query) when is_number(literal), do: to_string(literal)

  def expr({:splice, _, [{:^, _, [ix, length]}]}, _sources, _query), do: placeholders(ix, length)

  def expr({:selected_as, _, [name]}, _sources, _query), do: Quoting.quote_name(name)

  def expr({:datetime_add, _, [datetime, count, interval]}, sources, query),
    do: datetime_add(expr(datetime, sources, query), untag(count), interval, sources, query)

  def expr({:date_add, _, [date, count, interval]}, sources, query),
    do: ["date(", expr(date, sources, query), ", ", modifier(untag(count), interval, sources, query), ?)]

  def expr({:json_extract_path, _, [json, path]}, sources, query),
    do: ["json_extract(", expr(json, sources, query), ", ", json_path(path, sources, query), ?)]

  def expr({:filter, _, [aggregate, filter]}, sources, query),
    do: [expr(aggregate, sources, query), " FILTER (WHERE ", expr(filter, sources, query), ?)]

  def expr({:over, _, [aggregate, name]}, sources, query) when is_atom(name),
    do: [expr(aggregate, sources, query), " OVER " | Quoting.quote_name(name)]

  def expr({:over, _, [aggregate, kw]}, sources, query),
    do: [expr(aggregate, sources, query), " OVER " | window(kw, sources, query)]

  def expr({:{}, _, elems}, sources, query), do: [?(, Enum.map_intersperse(elems, ?,, &expr(&1, sources, query)), ?)]

  def expr({:count, _, []}, _sources, _query), do: "count(*)"

  # SQLite's LIKE already ignores case, for ASCII letters only; ilike is LIKE.
  def expr({:ilike, _, [left, right]}, sources, query),
    do: [maybe_paren(left, sources, query), " LIKE " | maybe_paren(right, sources, query)]

  def expr({op, _, [left, right]}, sources, query) when op in @comparisons do
    # Decimals are stored as TEXT so that they load back exactly; compared
    # as TEXT, '1.0' = 1 would be false and '10' < '9' true. A decimal
    # field is therefore compared as a number (CAST gives it NUMERIC
    # affinity, which SQLite then applies to the other side).
    [numeric_operand(left, sources, query), binary_op(op) | numeric_operand(right, sources, query)]
  end

  def expr({op, _, [left, right]}, sources, query) when op in @binary_ops,
    do: [maybe_paren(left, sources, query), binary_op(op) | maybe_paren(right, sources, query)]

  def expr({fun, _, [arg, :distinct]}, sources, query) when is_atom(fun),
    do: [Atom.to_string(fun), "(DISTINCT ", expr(arg, sources, query), ?)]

  def expr({fun, _, args}, sources, query) when is_atom(fun) and is_list(args),
    do: [Atom.to_string(fun), ?(, Enum.map_intersperse(args, ", ", &expr(&1, sources, query)), ?)]

  # Literals Ecto dumped through this adapter's dumpers (`where: t.ints ==
  # [1, 2]`, `x in []`) arrive tagged. The generator cannot see the Repo's
  # type options, so they are written in the default stored forms (JSON,
  # UUIDs and datetimes as text); the adapter docs tell users of the :binary
  # or :text_datetime options to interpolate such values (^) instead.
  def expr({:json_array, json}, _sources, _query), do: Quoting.single_quote(IO.iodata_to_binary(json))
  def expr({:json_map, json}, _sources, _query), do: Quoting.single_quote(IO.iodata_to_binary(json))
  def expr({:blob, binary}, _sources, _query) when is_binary(binary), do: Quoting.blob_literal(binary)

  def expr({tag, <<_::128>> = raw}, _sources, _query) when tag in [:uuid, :binary_id],
    do: Quoting.single_quote(EctoLibSql.Types.uuid_string(raw))

  def expr({:datetime, datetime}, _sources, _query),
    do: Quoting.single_quote(EctoLibSql.Types.format_datetime(datetime))

  def expr(list, _sources, query) when is_list(list) do
    raise Ecto.QueryError,
      query: query,
      message: "SQLite has no array literals; interpolate the list as a parameter (JSON) instead"
  end

  def expr(%Decimal{} = decimal, _sources, _query), do: Decimal.to_string(decimal, :normal)

  def expr(%Ecto.Query.Tagged{value: binary, type: :binary}, _sources, _query) when is_binary(binary),
    do: Quoting.blob_literal(binary)

  def expr(%Ecto.Query.Tagged{value: value, type: type}, sources, query),
    do: cast(expr(value, sources, query), type, query)

  def expr(nil, _sources, _query), do: "NULL"
  def expr(true, _sources, _query), do: "1"
  def expr(false, _sources, _query), do: "0"
  def expr(literal, _sources, _query) when is_binary(literal), do: Quoting.single_quote(literal)
  def expr(literal, _sources, _query) when is_integer(literal), do: Integer.to_string(literal)
  def expr(literal, _sources, _query) when is_float(literal), do: Float.to_string(literal)

  def expr(expr, _sources, query) do
    raise Ecto.QueryError, query: query, message: "the libSQL adapter cannot write the expression #{inspect(expr)}"
  end

  @doc """
  Writes an operand of a comparison or ordering: a decimal field as
  `CAST(field AS NUMERIC)`, anything else as usual.
  """
  def numeric_operand(expr, sources, query) do
    if decimal_field?(expr, sources),
      do: ["CAST(", expr(expr, sources, query), " AS NUMERIC)"],
      else: maybe_paren(expr, sources, query)
  end

  defp decimal_field?({{:., _, [{:&, _, [ix]}, field]}, _, []}, sources) when is_atom(field) do
    case elem(sources, ix) do
      {_table, _name, schema} when is_atom(schema) and not is_nil(schema) ->
        function_exported?(schema, :__schema__, 2) and schema.__schema__(:type, field) in [:decimal, {:maybe, :decimal}]

      _ ->
        false
    end
  end

  defp decimal_field?(_expr, _sources), do: false

  defp maybe_paren({op, _, [_, _]} = expr, sources, query) when op in @binary_ops,
    do: [?(, expr(expr, sources, query), ?)]

  defp maybe_paren({:is_nil, _, [_]} = expr, sources, query), do: [?(, expr(expr, sources, query), ?)]
  defp maybe_paren(expr, sources, query), do: expr(expr, sources, query)

  defp parens_for_select([first | _] = sql) when is_binary(first) do
    if String.match?(first, ~r/^\s*select\s/i), do: [?(, sql, ?)], else: sql
  end

  defp parens_for_select(sql), do: sql

  defp placeholders(ix, length), do: Enum.map_intersperse(1..length, ?,, &[?? | Integer.to_string(ix + &1)])

  defp parent_source(query, as) do
    case query.aliases[@parent_as] do
      {%{aliases: %{^as => ix}}, sources} -> {ix, sources}
      {%{} = parent, _sources} -> parent_source(parent, as)
    end
  end

  # SQLite names the columns of a VALUES list column1, column2...; a SELECT
  # over it gives them the names Ecto expects.
  defp values_list(types, ix, num_rows) do
    names = types |> Keyword.keys() |> Enum.with_index(1)

    columns =
      Enum.map_intersperse(names, ", ", fn {name, n} ->
        ["column", Integer.to_string(n), " AS " | Quoting.quote_name(name)]
      end)

    width = length(types)

    rows =
      Enum.map_intersperse(0..(num_rows - 1), ?,, fn row ->
        [?(, placeholders(ix + row * width, width), ?)]
      end)

    ["(SELECT ", columns, " FROM (VALUES ", rows, "))"]
  end

  ## Type casts

  defp cast(sql, type, query), do: cast_to(sql, sql_type(type, query))

  defp cast_to(sql, nil), do: sql
  defp cast_to(sql, type), do: ["CAST(", sql, " AS ", type, ?)]

  defp sql_type(type, _query) when type in [:id, :integer, :boolean], do: "INTEGER"
  defp sql_type(:float, _query), do: "REAL"
  defp sql_type(:binary, _query), do: "BLOB"

  # Decimals, UUIDs, dates and times are stored as text (see the DDL module).
  defp sql_type(type, _query)
       when type in [:string, :decimal, :binary_id, :uuid, :date, :time, :time_usec, :naive_datetime] or
              type in [:naive_datetime_usec, :utc_datetime, :utc_datetime_usec],
       do: "TEXT"

  # JSON values are text already, and :any asks for no conversion at all.
  defp sql_type(type, _query) when type in [:any, :map], do: nil
  defp sql_type({composite, _}, _query) when composite in [:map, :array], do: nil

  defp sql_type(type, query) do
    raise Ecto.QueryError, query: query, message: "the libSQL adapter cannot cast to type #{inspect(type)}"
  end

  ## JSON

  defp json_path(path, sources, query) do
    if Enum.all?(path, &(is_binary(&1) or is_integer(&1))) do
      Quoting.single_quote(IO.iodata_to_binary(["$" | Enum.map(path, &json_path_step/1)]))
    else
      ["'$' || ", Enum.map_intersperse(path, " || ", &json_path_expr(&1, sources, query))]
    end
  end

  defp json_path_step(key) when is_binary(key), do: [?., ?", String.replace(key, "\"", "\\\""), ?"]
  defp json_path_step(index) when is_integer(index), do: [?[, Integer.to_string(index), ?]]

  defp json_path_expr(step, _sources, _query) when is_binary(step) or is_integer(step),
    do: Quoting.single_quote(IO.iodata_to_binary(json_path_step(step)))

  # A step taken from a column is only known at run time: an integer
  # indexes an array, anything else names an object key.
  defp json_path_expr(field, sources, query) do
    step = expr(field, sources, query)

    [
      "(CASE WHEN typeof(",
      step,
      ") = 'integer' THEN '[' || ",
      step,
      " || ']' ELSE '.\"' || ",
      step,
      " || '\"' END)"
    ]
  end

  ## Date and time arithmetic

  @micros_per_unit %{
    "week" => 604_800_000_000,
    "day" => 86_400_000_000,
    "hour" => 3_600_000_000,
    "minute" => 60_000_000,
    "second" => 1_000_000,
    "millisecond" => 1_000,
    "microsecond" => 1
  }

  @months_per_unit %{"month" => 1, "year" => 12}

  # Seconds from 0000-01-01 to 1970-01-01: shifting epoch seconds by this
  # keeps them positive, so SQLite's truncating `/` and `%` act as floor.
  @epoch_shift 62_167_219_200

  # Months and years change the calendar fields and keep the time of day;
  # 'floor' clamps Jan 31 + 1 month to Feb 28/29, as Ecto's other adapters do.
  defp datetime_add(datetime, count, interval, sources, query) when is_map_key(@months_per_unit, interval) do
    [
      "strftime('%Y-%m-%dT%H:%M:%S', substr(",
      datetime,
      ", 1, 19), ",
      modifier(count, interval, sources, query),
      ", 'floor') || printf('.%06d', CAST(substr(",
      datetime,
      ", 21, 6) AS INTEGER)) || ",
      zone_suffix(datetime)
    ]
  end

  # Fixed-length units are added as whole microseconds to the datetime's
  # microseconds since year 0, then written back in the stored layout.
  defp datetime_add(datetime, count, interval, sources, query) when is_map_key(@micros_per_unit, interval) do
    micros = [
      "((unixepoch(substr(",
      datetime,
      ", 1, 19)) + #{@epoch_shift}) * 1000000 + CAST(substr(",
      datetime,
      ", 21, 6) AS INTEGER) + ",
      scaled(count, Map.fetch!(@micros_per_unit, interval), sources, query),
      ?)
    ]

    [
      "strftime('%Y-%m-%dT%H:%M:%S', ",
      micros,
      " / 1000000 - #{@epoch_shift}, 'unixepoch') || printf('.%06d', ",
      micros,
      " % 1000000) || ",
      zone_suffix(datetime)
    ]
  end

  defp datetime_add(_datetime, _count, interval, _sources, query) do
    raise Ecto.QueryError, query: query, message: "unknown datetime interval #{inspect(interval)}"
  end

  # Ecto tags interval counts with a number type; the arithmetic below is
  # numeric whatever the tag, so the cast would only add noise.
  defp untag(%Ecto.Query.Tagged{value: value}), do: value
  defp untag(count), do: count

  defp zone_suffix(datetime), do: ["(CASE WHEN substr(", datetime, ", -1) = 'Z' THEN 'Z' ELSE '' END)"]

  # An SQLite date modifier adding `count` intervals to a date.
  defp modifier(count, interval, sources, query) when is_map_key(@months_per_unit, interval),
    do: modifier_text(count, Map.fetch!(@months_per_unit, interval), " months", sources, query)

  defp modifier(count, interval, sources, query) when is_map_key(@micros_per_unit, interval) do
    seconds = Map.fetch!(@micros_per_unit, interval) / 1_000_000
    modifier_text(count, seconds, " seconds", sources, query)
  end

  defp modifier(_count, interval, _sources, query) do
    raise Ecto.QueryError, query: query, message: "unknown date interval #{inspect(interval)}"
  end

  defp modifier_text(count, factor, unit, _sources, _query) when is_number(count),
    do: Quoting.single_quote(number_text(count * factor) <> unit)

  defp modifier_text(count, factor, unit, sources, query),
    do: ["((", expr(count, sources, query), ") * ", number_text(factor), ") || '", unit, ?']

  defp scaled(count, factor, _sources, _query) when is_integer(count), do: Integer.to_string(count * factor)
  defp scaled(count, factor, _sources, _query) when is_float(count), do: Integer.to_string(round(count * factor))

  defp scaled(count, factor, sources, query),
    do: ["CAST(round((", expr(count, sources, query), ") * ", Integer.to_string(factor), ") AS INTEGER)"]

  defp number_text(number) when is_integer(number), do: Integer.to_string(number)

  defp number_text(number) when is_float(number) do
    if number == Float.round(number),
      do: Integer.to_string(trunc(number)),
      else: :erlang.float_to_binary(number, [:compact, decimals: 12])
  end
end
