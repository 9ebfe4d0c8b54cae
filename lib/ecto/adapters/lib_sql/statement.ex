defmodule Ecto.Adapters.LibSql.Statement do
  @moduledoc false
  # Builds whole SELECT, UPDATE, DELETE and INSERT statements from planned
  # Ecto queries, clause by clause. Expressions inside the clauses are written
  # by `Ecto.Adapters.LibSql.Expr`.

  alias Ecto.Adapters.LibSql.{Expr, Quoting}
  alias Ecto.Query.{BooleanExpr, ByExpr, JoinExpr, QueryExpr, WithExpr}

  @doc "Builds a SELECT; `as_prefix` keeps the aliases of a subquery apart from its parent's."
  def all(query, as_prefix \\ [])

  def all(%Ecto.Query{lock: lock}, _as_prefix) when lock != nil do
    raise ArgumentError,
          "SQLite has no row locks, so the lock #{inspect(lock)} cannot be expressed: " <>
            "a write transaction already locks the whole database"
  end

  def all(query, as_prefix) do
    sources = Expr.sources(query, as_prefix)

    [
      cte(query, sources),
      select(query, sources),
      from(query, sources),
      joins(query, sources),
      where(query, sources),
      group_by(query, sources),
      having(query, sources),
      window(query, sources),
      combinations(query, as_prefix),
      order_by(query, sources),
      limit(query, sources),
      offset(query, sources)
    ]
  end

  @doc "Builds an UPDATE from an `update_all` query; inner joins become UPDATE ... FROM."
  def update_all(%{from: %{source: source}} = query) do
    sources = Expr.sources(query, [])
    {table, name} = Expr.source(query, sources, 0, source)
    {from, join_wheres} = update_from(query, sources)
    where = where(%{query | wheres: join_wheres ++ query.wheres}, sources)

    [
      cte(query, sources),
      "UPDATE ",
      table,
      " AS ",
      name,
      " SET ",
      update_fields(query, sources),
      from,
      where | returning(query, sources)
    ]
  end

  @doc """
  Builds a DELETE from a `delete_all` query.

  SQLite's DELETE has no join clause, so a query with joins deletes the rows
  whose rowid the joined SELECT finds (tables WITHOUT ROWID cannot do this).
  """
  def delete_all(%{from: %{source: source}, joins: []} = query) do
    sources = Expr.sources(query, [])
    {table, name} = Expr.source(query, sources, 0, source)

    [cte(query, sources), "DELETE FROM ", table, " AS ", name, where(query, sources)] ++
      returning(query, sources)
  end

  def delete_all(%{from: %{source: source}} = query) do
    sources = Expr.sources(query, [])
    {table, name} = Expr.source(query, sources, 0, source)

    [
      cte(query, sources),
      "DELETE FROM ",
      table,
      " AS ",
      name,
      " WHERE ",
      name,
      ".rowid IN (SELECT ",
      name,
      ".rowid",
      from(query, sources),
      joins(query, sources),
      where(query, sources),
      ?)
      | returning(query, sources)
    ]
  end

  @doc "Builds an INSERT of `rows` (lists of values or a query) with its upsert clause."
  def insert(prefix, table, header, rows, on_conflict, returning, placeholders) do
    counter = length(placeholders) + 1

    [
      "INSERT INTO ",
      Quoting.quote_table(prefix, table),
      insert_as(on_conflict),
      insert_values(header, rows, on_conflict, counter),
      on_conflict(on_conflict)
      | returning_fields(returning)
    ]
  end

  ## SELECT clauses

  defp cte(%{with_ctes: %WithExpr{queries: [_ | _] = queries, recursive: recursive}} = query, sources) do
    [
      "WITH ",
      if(recursive, do: "RECURSIVE ", else: []),
      Enum.map_intersperse(queries, ", ", &cte_expr(&1, sources, query)),
      ?\s
    ]
  end

  defp cte(_query, _sources), do: []

  defp cte_expr({name, opts, cte}, sources, query) do
    [
      Quoting.quote_name(name),
      " AS ",
      materialized(opts[:materialized]) | cte_query(cte, opts[:operation], sources, query)
    ]
  end

  defp materialized(nil), do: []
  defp materialized(true), do: "MATERIALIZED "
  defp materialized(false), do: "NOT MATERIALIZED "

  defp cte_query(%Ecto.Query{} = cte, operation, sources, query) when operation in [nil, :all] do
    cte = Expr.with_parent(cte, query, sources)
    [?(, all(cte, Expr.subquery_prefix(sources)), ?)]
  end

  defp cte_query(%Ecto.Query{} = cte, operation, _sources, _query) do
    raise Ecto.QueryError,
      query: cte,
      message: "SQLite does not allow #{inspect(operation)} inside a WITH clause, only SELECT"
  end

  defp cte_query(%QueryExpr{expr: expr}, _operation, sources, query) do
    Expr.expr(expr, sources, query)
  end

  defp select(%{select: %{fields: fields}, distinct: distinct} = query, sources) do
    ["SELECT", distinct(distinct, query), ?\s | select_fields(fields, sources, query)]
  end

  defp select_fields([], _sources, _query), do: "1"

  defp select_fields(fields, sources, query) do
    Enum.map_intersperse(fields, ", ", fn
      {:&, _, [ix]} -> whole_source(elem(sources, ix), query)
      {name, value} -> [Expr.expr(value, sources, query), " AS " | Quoting.quote_name(name)]
      value -> Expr.expr(value, sources, query)
    end)
  end

  defp whole_source({_table, _name, nil}, query) do
    raise Ecto.QueryError,
      query: query,
      message:
        "the libSQL adapter cannot select all fields of a source without a schema; " <>
          "select the fields you want"
  end

  defp whole_source({_table, name, _schema}, _query), do: [name | ".*"]

  defp distinct(nil, _query), do: []
  defp distinct(%ByExpr{expr: true}, _query), do: " DISTINCT"
  defp distinct(%ByExpr{expr: false}, _query), do: []
  defp distinct(%ByExpr{expr: []}, _query), do: []

  defp distinct(%ByExpr{}, query) do
    raise Ecto.QueryError,
      query: query,
      message: "SQLite does not support DISTINCT ON (distinct with expressions); use distinct: true"
  end

  defp from(%{from: %{source: source, hints: hints}} = query, sources) do
    {table, name} = Expr.source(query, sources, 0, source)
    [" FROM ", table, " AS ", name | hints(hints, query)]
  end

  # SQLite's table hints are INDEXED BY and NOT INDEXED, written after the alias.
  defp hints(hints, query) do
    Enum.map(hints, fn
      hint when is_binary(hint) ->
        [?\s | hint]

      hint ->
        raise Ecto.QueryError, query: query, message: "unsupported table hint #{inspect(hint)}"
    end)
  end

  defp joins(%{joins: []}, _sources), do: []

  defp joins(%{joins: joins} = query, sources) do
    Enum.map(joins, fn %JoinExpr{qual: qual, ix: ix, source: source, on: %QueryExpr{expr: on}, hints: hints} ->
      {table, name} = Expr.source(query, sources, ix, source)
      [?\s, join_qual(qual, query), table, " AS ", name, hints(hints, query) | join_on(qual, on, sources, query)]
    end)
  end

  defp join_qual(:inner, _query), do: "INNER JOIN "
  defp join_qual(:left, _query), do: "LEFT OUTER JOIN "
  defp join_qual(:right, _query), do: "RIGHT OUTER JOIN "
  defp join_qual(:full, _query), do: "FULL OUTER JOIN "
  defp join_qual(:cross, _query), do: "CROSS JOIN "

  defp join_qual(qual, query) do
    raise Ecto.QueryError,
      query: query,
      message: "SQLite does not support #{inspect(qual)} joins (it has no LATERAL joins)"
  end

  defp join_on(:cross, true, _sources, _query), do: []
  defp join_on(_qual, on, sources, query), do: [" ON " | Expr.expr(on, sources, query)]

  defp where(%{wheres: wheres} = query, sources), do: boolean(" WHERE ", wheres, sources, query)
  defp having(%{havings: havings} = query, sources), do: boolean(" HAVING ", havings, sources, query)

  # Consecutive expressions joined by the same operator share a group;
  # a change of operator closes the group in parentheses, keeping Ecto's
  # left-to-right meaning.
  defp boolean(_keyword, [], _sources, _query), do: []

  defp boolean(keyword, [%{expr: expr, op: op} | rest], sources, query) do
    {_op, sql} =
      Enum.reduce(rest, {op, paren(expr, sources, query)}, fn
        %BooleanExpr{expr: expr, op: op}, {op, acc} ->
          {op, [acc, bool_op(op) | paren(expr, sources, query)]}

        %BooleanExpr{expr: expr, op: op}, {_other, acc} ->
          {op, [?(, acc, ?), bool_op(op) | paren(expr, sources, query)]}
      end)

    [keyword | sql]
  end

  defp bool_op(:and), do: " AND "
  defp bool_op(:or), do: " OR "

  defp paren(expr, sources, query), do: [?(, Expr.expr(expr, sources, query), ?)]

  defp group_by(%{group_bys: []}, _sources), do: []

  defp group_by(%{group_bys: group_bys} = query, sources) do
    exprs = Enum.flat_map(group_bys, fn %ByExpr{expr: expr} -> expr end)
    [" GROUP BY " | Enum.map_intersperse(exprs, ", ", &Expr.expr(&1, sources, query))]
  end

  defp window(%{windows: []}, _sources), do: []

  defp window(%{windows: windows} = query, sources) do
    [
      " WINDOW "
      | Enum.map_intersperse(windows, ", ", fn {name, %{expr: kw}} ->
          [Quoting.quote_name(name), " AS " | Expr.window(kw, sources, query)]
        end)
    ]
  end

  defp order_by(%{order_bys: []}, _sources), do: []

  defp order_by(%{order_bys: order_bys} = query, sources) do
    exprs = Enum.flat_map(order_bys, & &1.expr)
    [" ORDER BY " | Enum.map_intersperse(exprs, ", ", &Expr.order_by_expr(&1, sources, query))]
  end

  defp limit(%{limit: nil}, _sources), do: []

  defp limit(%{limit: %{with_ties: true}} = query, _sources) do
    raise Ecto.QueryError, query: query, message: "SQLite does not support limits WITH TIES"
  end

  defp limit(%{limit: %{expr: expr}} = query, sources), do: [" LIMIT " | Expr.expr(expr, sources, query)]

  defp offset(%{offset: nil}, _sources), do: []

  # SQLite only accepts OFFSET after a LIMIT; -1 means no limit.
  defp offset(%{offset: %QueryExpr{expr: expr}, limit: nil} = query, sources),
    do: [" LIMIT -1 OFFSET " | Expr.expr(expr, sources, query)]

  defp offset(%{offset: %QueryExpr{expr: expr}} = query, sources),
    do: [" OFFSET " | Expr.expr(expr, sources, query)]

  # SQLite does not accept a parenthesized SELECT as a compound member, and
  # would apply a member's ORDER BY/LIMIT to the whole compound; selecting
  # from such a member as a subquery keeps its clauses to itself. Plain
  # members stay bare: a recursive CTE may not refer to itself from a subquery.
  defp combinations(%{combinations: combinations} = query, as_prefix) do
    Enum.map(combinations, fn {kind, member} ->
      [?\s, compound_operator(kind, query), ?\s | compound_member(member, as_prefix)]
    end)
  end

  defp compound_member(%{order_bys: [], limit: nil, offset: nil, combinations: []} = member, as_prefix),
    do: all(member, as_prefix)

  defp compound_member(member, as_prefix), do: ["SELECT * FROM (", all(member, as_prefix), ?)]

  defp compound_operator(:union, _query), do: "UNION"
  defp compound_operator(:union_all, _query), do: "UNION ALL"
  defp compound_operator(:except, _query), do: "EXCEPT"
  defp compound_operator(:intersect, _query), do: "INTERSECT"

  defp compound_operator(kind, query) do
    raise Ecto.QueryError, query: query, message: "SQLite does not support #{kind}, only its distinct form"
  end

  ## UPDATE and DELETE parts

  defp update_fields(%{updates: updates} = query, sources) do
    for(%{expr: expr} <- updates, {op, kw} <- expr, {key, value} <- kw, do: update_op(op, key, value, sources, query))
    |> Enum.intersperse(", ")
  end

  defp update_op(:set, key, value, sources, query),
    do: [Quoting.quote_name(key), " = " | Expr.expr(value, sources, query)]

  defp update_op(:inc, key, value, sources, query) do
    [Quoting.quote_name(key), " = ", Expr.qualified_name(key, sources, 0), " + " | Expr.expr(value, sources, query)]
  end

  # Arrays are JSON arrays. push/pull are written only for element types
  # stored in JSON as the very values bound here (numbers, strings); for
  # others (booleans, maps, datetimes...) the bound value and the JSON
  # element differ, so no SQL could match PostgreSQL's semantics.
  defp update_op(:push, key, value, sources, query) do
    json_array_element!(:push, key, sources, query)
    name = Quoting.quote_name(key)
    column = Expr.qualified_name(key, sources, 0)
    [name, " = json_insert(coalesce(", column, ", '[]'), '$[#]', ", Expr.expr(value, sources, query), ?)]
  end

  # Like PostgreSQL's array_remove: every element equal to the value goes
  # (IS NOT, so pulling NULL removes nulls), order kept, NULL stays NULL.
  defp update_op(:pull, key, value, sources, query) do
    json_array_element!(:pull, key, sources, query)
    name = Quoting.quote_name(key)
    column = Expr.qualified_name(key, sources, 0)

    [
      name,
      " = CASE WHEN ",
      column,
      " IS NULL THEN NULL ELSE (SELECT json_group_array(e__.value ORDER BY e__.key) FROM json_each(",
      column,
      ") AS e__ WHERE e__.value IS NOT ",
      Expr.expr(value, sources, query),
      ") END"
    ]
  end

  defp update_op(op, _key, _value, _sources, query) do
    raise Ecto.QueryError, query: query, message: "the update operation #{inspect(op)} is not supported by SQLite"
  end

  @json_scalars [:integer, :id, :float, :string]

  defp json_array_element!(op, key, sources, query) do
    element =
      case elem(sources, 0) do
        {_table, _name, nil} -> nil
        {_table, _name, schema} -> array_element_type(schema, key)
      end

    unless element in @json_scalars do
      raise Ecto.QueryError,
        query: query,
        message:
          "SQLite has no arrays (they are stored as JSON): update operation #{inspect(op)} " <>
            "is supported only on a schema field of type {:array, t} with t one of " <>
            inspect(@json_scalars) <> ", got field #{inspect(key)}"
    end
  end

  defp array_element_type(schema, source_name) do
    field = Enum.find(schema.__schema__(:fields), &(schema.__schema__(:field_source, &1) == source_name))

    case field && Ecto.Type.type(schema.__schema__(:type, field)) do
      {:array, element} -> Ecto.Type.type(element)
      _ -> nil
    end
  end

  # UPDATE ... FROM takes a list of tables; their join conditions move to WHERE.
  defp update_from(%{joins: []}, _sources), do: {[], []}

  defp update_from(%{joins: joins} = query, sources) do
    tables =
      Enum.map_intersperse(joins, ", ", fn
        %JoinExpr{qual: :inner, ix: ix, source: source} ->
          {table, name} = Expr.source(query, sources, ix, source)
          [table, " AS " | name]

        %JoinExpr{qual: qual} ->
          raise Ecto.QueryError,
            query: query,
            message: "the libSQL adapter supports only inner joins on update_all, got: #{inspect(qual)}"
      end)

    wheres =
      for %JoinExpr{on: %QueryExpr{expr: on} = expr} <- joins, on != true do
        %BooleanExpr{op: :and, expr: on, params: expr.params, file: expr.file, line: expr.line}
      end

    {[" FROM " | tables], wheres}
  end

  # RETURNING may only name the modified table's columns, and not through
  # the statement's alias: refer to them by the table's own name.
  defp returning(%{select: nil}, _sources), do: []

  defp returning(%{select: %{fields: fields}, from: %{source: {table, _schema}}} = query, sources) do
    {_table, _alias, schema} = elem(sources, 0)
    sources = put_elem(sources, 0, {nil, Quoting.quote_name(table), schema})
    [" RETURNING " | select_fields(fields, sources, query)]
  end

  defp returning_fields([]), do: []
  # Ecto 3.14 lets `:returning` be raw SQL, written as given.
  defp returning_fields({:unsafe_fragment, fragment}) when is_binary(fragment), do: [" RETURNING " | fragment]
  defp returning_fields(fields), do: [" RETURNING " | Quoting.quote_names(fields)]

  ## INSERT parts

  defp insert_as({%Ecto.Query{} = query, _, _}) do
    {_table, name, _schema} = elem(Expr.sources(query, []), 0)
    [" AS " | name]
  end

  defp insert_as(_on_conflict), do: []

  defp insert_values([], [[]], _on_conflict, _counter), do: " DEFAULT VALUES"

  defp insert_values([], _rows, _on_conflict, _counter) do
    raise ArgumentError, "SQLite can insert only one row of default values at a time (DEFAULT VALUES)"
  end

  defp insert_values(header, %Ecto.Query{} = query, on_conflict, _counter) do
    [" (", Quoting.quote_names(header), ") " | insert_select(query, on_conflict)]
  end

  # With no placeholders and only plain values, parameters are numbered in
  # the order they appear, which is what a bare `?` means in SQLite (one
  # more than the largest number before it): every row of a width is then
  # the same text, written once. A bulk insert of 1,000 rows of 6 columns
  # would otherwise write and number 6,000 parameters one by one.
  defp insert_values(header, rows, on_conflict, 1 = counter) do
    if Enum.all?(rows, fn row -> Enum.all?(row, &bound_value?/1) end) do
      {rows, _templates} = Enum.map_reduce(rows, %{}, &plain_row/2)
      [" (", Quoting.quote_names(header), ") VALUES " | Enum.intersperse(rows, ?,)]
    else
      numbered_values(header, rows, on_conflict, counter)
    end
  end

  defp insert_values(header, rows, on_conflict, counter), do: numbered_values(header, rows, on_conflict, counter)

  # A value bound as the next parameter (a field name, as ecto_sql's
  # insert_all passes it), as opposed to a default, a query or a placeholder.
  defp bound_value?(value), do: is_atom(value) and value != nil

  defp plain_row(row, templates) do
    width = length(row)

    case templates do
      %{^width => text} ->
        {text, templates}

      _ ->
        text = IO.iodata_to_binary([?(, Enum.intersperse(List.duplicate(??, width), ?,), ?)])
        {text, Map.put(templates, width, text)}
    end
  end

  defp numbered_values(header, rows, _on_conflict, counter) do
    {rows, _counter} = Enum.map_reduce(rows, counter, &insert_row/2)
    [" (", Quoting.quote_names(header), ") VALUES " | Enum.intersperse(rows, ?,)]
  end

  # With an upsert clause, SQLite would read the ON of ON CONFLICT as a join
  # constraint of the SELECT unless the SELECT ends with a WHERE.
  defp insert_select(query, {:raise, _, _}), do: all(query)
  defp insert_select(query, _on_conflict), do: ["SELECT * FROM (", all(query), ") WHERE 1"]

  defp insert_row(row, counter) do
    {values, counter} = Enum.map_reduce(row, counter, &insert_value/2)
    {[?(, Enum.intersperse(values, ?,), ?)], counter}
  end

  defp insert_value(nil, _counter) do
    raise ArgumentError,
          "SQLite has no DEFAULT keyword inside VALUES: a cell a row leaves out must be " <>
            "given as {:default, column_default_sql | nil} (Ecto.Adapters.LibSql.insert_all/8 does this)"
  end

  # A cell the row leaves out: the column's default expression, which is
  # what SQLite itself inserts for a column an INSERT does not name.
  defp insert_value({:default, nil}, counter), do: {"NULL", counter}
  defp insert_value({:default, sql}, counter) when is_binary(sql), do: {[?(, sql, ?)], counter}

  defp insert_value({%Ecto.Query{} = query, params}, counter), do: {[?(, all(query), ?)], counter + params}
  defp insert_value({:placeholder, ix}, counter), do: {[?? | ix], counter}
  defp insert_value(_value, counter), do: {[?? | Integer.to_string(counter)], counter + 1}

  defp on_conflict({:raise, _, []}), do: []
  defp on_conflict({:nothing, _, targets}), do: [" ON CONFLICT", conflict_target(targets) | " DO NOTHING"]

  defp on_conflict({fields, _, targets}) when is_list(fields) do
    [" ON CONFLICT", conflict_target(targets), " DO UPDATE SET " | replace(fields)]
  end

  defp on_conflict({%Ecto.Query{} = query, _, targets}) do
    [" ON CONFLICT", conflict_target(targets), " DO " | conflict_update(query)]
  end

  # SQLite allows the last ON CONFLICT clause to have no target.
  defp conflict_target([]), do: []
  defp conflict_target({:unsafe_fragment, fragment}), do: [?\s | fragment]
  defp conflict_target(columns), do: [" (", Quoting.quote_names(columns), ?)]

  defp replace(fields) do
    Enum.map_intersperse(fields, ", ", fn field ->
      name = Quoting.quote_name(field)
      [name, " = excluded." | name]
    end)
  end

  defp conflict_update(%{joins: [_ | _]} = query) do
    raise Ecto.QueryError, query: query, message: "SQLite does not allow joins in an upsert's update"
  end

  defp conflict_update(query) do
    sources = Expr.sources(query, [])
    ["UPDATE SET ", update_fields(query, sources) | where(query, sources)]
  end
end
