defmodule Ecto.Adapters.LibSql.Connection do
  @moduledoc """
  SQL generation for libSQL/SQLite, the `Ecto.Adapters.SQL.Connection`
  behaviour of `Ecto.Adapters.LibSql`.

  Queries (`all/1`, `update_all/1`, `delete_all/1`, `insert/8`, ...) are built
  here; DDL is built by `Ecto.Adapters.LibSql.DDL`. Placeholders are numbered
  (`?1`, `?2`, ...) with Ecto's own parameter numbering, identifiers are
  double-quoted, booleans are written as `1`/`0`.

  Where SQLite cannot express what a query asks for (row locks, `DISTINCT ON`,
  lateral joins, `EXCEPT ALL`/`INTERSECT ALL`, ...) generation raises instead
  of emitting SQL that would mean something else.

  ## Datetimes

  Datetimes are stored as ISO 8601 text with six fractional digits,
  `YYYY-MM-DDTHH:MM:SS.ffffff`, followed by `Z` for UTC datetimes (see
  `format_datetime/1`). Text in that layout sorts in time order, so comparisons
  work on the text. `datetime_add/3` (and `ago/2`, `from_now/2`) does its
  arithmetic on whole microseconds and writes its result in that same layout,
  keeping the `Z` of its input, so its results compare correctly with stored
  values. SQLite's own date functions only keep milliseconds, which is why
  `%f` is not used.
  """

  @behaviour Ecto.Adapters.SQL.Connection

  alias Ecto.Adapters.LibSql.DDL
  alias Ecto.Adapters.LibSql.{Quoting, Statement}

  ## Datetime text layout

  @doc """
  The text layout of stored datetimes, as a description.

  Stored datetimes are `YYYY-MM-DDTHH:MM:SS.ffffff` with exactly six
  fractional digits; UTC datetimes end with `Z`, naive ones with nothing.
  """
  @spec datetime_layout() :: String.t()
  def datetime_layout, do: "YYYY-MM-DDTHH:MM:SS.ffffff[Z]"

  @doc """
  Writes a datetime as the text the generated SQL expects to find stored.

      iex> format_datetime(~N[2024-01-01 10:00:00])
      "2024-01-01T10:00:00.000000"
      iex> format_datetime(~U[2024-01-01 10:00:00.123Z])
      "2024-01-01T10:00:00.123000Z"
  """
  @spec format_datetime(NaiveDateTime.t() | DateTime.t()) :: String.t()
  defdelegate format_datetime(datetime), to: EctoLibSql.Types

  ## Driver

  @impl true
  @doc "The child spec of the `EctoLibSql` connection pool."
  def child_spec(opts), do: EctoLibSql.child_spec(opts)

  @impl true
  @doc "Prepares `sql` under `name` and runs it."
  def prepare_execute(conn, name, sql, params, opts) do
    ensure_list_params!(params)
    query = %EctoLibSql.Query{name: name, statement: IO.iodata_to_binary(sql)}
    DBConnection.prepare_execute(conn, query, params, opts)
  end

  @impl true
  @doc """
  Runs a query prepared by `prepare_execute/5`. A query is never bound
  to one connection (each prepares it through its own statement cache), so
  the one Ecto cached always runs as it is.
  """
  def execute(conn, %EctoLibSql.Query{} = query, params, opts) do
    ensure_list_params!(params)

    case DBConnection.execute(conn, query, params, opts) do
      {:ok, _query, result} -> {:ok, result}
      {:error, _} = error -> error
    end
  end

  @impl true
  @doc "Runs `sql` once, without caching its prepared statement."
  def query(conn, sql, params, opts) do
    ensure_list_params!(params)
    EctoLibSql.query(conn, IO.iodata_to_binary(sql), params, opts)
  end

  @impl true
  @doc "Runs several statements of SQL text; one result each (see `EctoLibSql.query_many/4`)."
  def query_many(conn, sql, params, opts) do
    ensure_list_params!(params)
    EctoLibSql.query_many(conn, sql, params, opts)
  end

  @impl true
  @doc "Streams the rows of `sql` through a cursor."
  def stream(conn, sql, params, opts) do
    ensure_list_params!(params)
    query = %EctoLibSql.Query{name: "", statement: IO.iodata_to_binary(sql)}
    DBConnection.stream(conn, query, params, opts)
  end

  defp ensure_list_params!(params) when is_list(params), do: :ok

  defp ensure_list_params!(params) do
    raise ArgumentError, "expected params to be a list, got: #{inspect(params)}"
  end

  ## Constraint errors

  @impl true
  @doc """
  Maps a constraint error to the constraint Ecto should look for.

  The kind of constraint comes from the error code; only the name is read
  from SQLite's message. SQLite names the columns of a failed unique index,
  not the index, so the name is rebuilt with Ecto's default index naming
  (`posts_title_slug_index` for `UNIQUE constraint failed: posts.title,
  posts.slug`), which is what `unique_constraint/3` looks for by default.
  Primary keys get the same naming. SQLite does not say which foreign key
  failed, so foreign key errors map to no constraint and are raised as they
  are; guessing a name could attach the error to the wrong field.
  """
  def to_constraints(%EctoLibSql.Error{code: code, message: message}, _opts)
      when code in [:constraint_unique, :constraint_primary_key] do
    case failed_constraint(message) do
      "index '" <> quoted -> [unique: String.trim_trailing(quoted, "'")]
      nil -> []
      columns -> [unique: unique_index_name(columns)]
    end
  end

  def to_constraints(%EctoLibSql.Error{code: :constraint_check, message: message}, _opts) do
    case failed_constraint(message) do
      nil -> []
      name -> [check: name]
    end
  end

  # SQLite's message names no foreign key; the driver finds which one
  # failed and names it as Ecto does (`<table>_<column>_fkey`).
  def to_constraints(%EctoLibSql.Error{code: :constraint_foreign_key, constraint: name}, _opts) when is_binary(name),
    do: [foreign_key: name]

  def to_constraints(_error, _opts), do: []

  # The driver may wrap SQLite's message, so look for its text anywhere.
  defp failed_constraint(message) when is_binary(message) do
    case :binary.split(message, " constraint failed: ") do
      [_, rest] -> rest |> String.trim() |> String.trim_trailing("`")
      [_] -> nil
    end
  end

  defp failed_constraint(_message), do: nil

  defp unique_index_name(columns) do
    [table_column | _] = qualified = String.split(columns, ", ")
    [table | _] = String.split(table_column, ".")
    names = Enum.map(qualified, &(&1 |> String.split(".") |> List.last()))
    Enum.join([table | names] ++ ["index"], "_")
  end

  ## Queries

  @impl true
  @doc "Builds a SELECT statement."
  defdelegate all(query), to: Statement

  @impl true
  @doc "Builds an UPDATE statement from an `update_all` query."
  defdelegate update_all(query), to: Statement

  @impl true
  @doc "Builds a DELETE statement from a `delete_all` query."
  defdelegate delete_all(query), to: Statement

  @impl true
  @doc """
  Builds an INSERT statement, with its upsert clause and RETURNING.

  ecto_sql 3.14 and later call this with the `insert_all` options as an
  eighth argument (earlier versions, and single inserts, call it without).
  No option changes the SQL SQLite needs, so they are accepted and unused.
  """
  def insert(prefix, table, header, rows, on_conflict, returning, placeholders, _opts \\ []),
    do: Statement.insert(prefix, table, header, rows, on_conflict, returning, placeholders)

  @impl true
  @doc "Builds an UPDATE of one row, found by `filters`."
  def update(prefix, table, fields, filters, returning) do
    {set, next} = numbered(fields, 1, ", ", &[Quoting.quote_name(&1), " = " | &2])
    {where, _} = filter_list(filters, next)

    ["UPDATE ", Quoting.quote_table(prefix, table), " SET ", set, " WHERE ", where | returning(returning)]
  end

  @impl true
  @doc "Builds a DELETE of the rows found by `filters`."
  def delete(prefix, table, filters, returning) do
    {where, _} = filter_list(filters, 1)
    ["DELETE FROM ", Quoting.quote_table(prefix, table), " WHERE ", where | returning(returning)]
  end

  defp filter_list(filters, first) do
    Enum.map_reduce(filters, first, fn
      {field, nil}, ix -> {[Quoting.quote_name(field), " IS NULL"], ix}
      {field, _value}, ix -> {[Quoting.quote_name(field), " = ?", Integer.to_string(ix)], ix + 1}
    end)
    |> then(fn {parts, ix} -> {Enum.intersperse(parts, " AND "), ix} end)
  end

  defp numbered(fields, first, separator, fun) do
    {parts, ix} =
      Enum.map_reduce(fields, first, fn field, ix ->
        {fun.(field, [?? | Integer.to_string(ix)]), ix + 1}
      end)

    {Enum.intersperse(parts, separator), ix}
  end

  defp returning([]), do: []
  defp returning(fields), do: [" RETURNING " | Quoting.quote_names(fields)]

  @impl true
  @doc """
  Explains a query.

  By default runs `EXPLAIN QUERY PLAN` and returns the plan as indented text,
  one step a line. Options:

    * `:type` - `:query_plan` (default) or `:bytecode`, for SQLite's
      `EXPLAIN` listing of virtual machine instructions (one line each,
      columns separated by tabs).
    * `:format` - `:text` (default) or `:map`, for a list of maps with the
      columns SQLite returns.
  """
  def explain_query(conn, sql, params, opts) do
    {type, opts} = Keyword.pop(opts, :type, :query_plan)
    {format, opts} = Keyword.pop(opts, :format, :text)

    with {:ok, result} <- query(conn, [explain_prefix(type), sql], params, opts) do
      {:ok, format_explain(type, format, result)}
    end
  end

  defp explain_prefix(:query_plan), do: "EXPLAIN QUERY PLAN "
  defp explain_prefix(:bytecode), do: "EXPLAIN "

  defp explain_prefix(other) do
    raise ArgumentError, "unknown explain :type #{inspect(other)}, expected :query_plan or :bytecode"
  end

  defp format_explain(_type, :map, %{columns: columns, rows: rows}) do
    Enum.map(rows, &Map.new(Enum.zip(columns, &1)))
  end

  defp format_explain(:query_plan, :text, %{rows: rows}) do
    # Rows are [id, parent, notused, detail]; a step's depth is its parent's + 1.
    {lines, _depths} =
      Enum.map_reduce(rows, %{0 => -1}, fn [id, parent, _, detail], depths ->
        depth = Map.get(depths, parent, -1) + 1
        {[String.duplicate("  ", depth), detail], Map.put(depths, id, depth)}
      end)

    lines |> Enum.intersperse("\n") |> IO.iodata_to_binary()
  end

  defp format_explain(:bytecode, :text, %{rows: rows}) do
    Enum.map_join(rows, "\n", fn row -> Enum.map_join(row, "\t", &to_string/1) end)
  end

  defp format_explain(_type, format, _result) do
    raise ArgumentError, "unknown explain :format #{inspect(format)}, expected :text or :map"
  end

  ## DDL

  @impl true
  @doc "Builds the statements of a migration command; see `Ecto.Adapters.LibSql.DDL`."
  defdelegate execute_ddl(command), to: DDL

  @impl true
  @doc "SQLite sends no notices with DDL, so there is nothing to log."
  def ddl_logs(_result), do: []

  @impl true
  @doc "A query returning a row when `table` exists in the main database."
  def table_exists_query(table) do
    {"SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1 LIMIT 1", [table]}
  end
end
