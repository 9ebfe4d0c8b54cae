defmodule Ecto.Adapters.LibSql.DDL do
  @moduledoc """
  Migration commands written as libSQL/SQLite DDL.

  Choices SQLite forces, and the ones we made:

    * Column types map onto SQLite's five storage names (`INTEGER`, `REAL`,
      `TEXT`, `BLOB`, `ANY`) so tables work with the `STRICT` option.
      Decimals, UUIDs, dates, times and JSON (`:map`, `{:array, _}`) are
      `TEXT`: text round-trips decimals exactly, where a numeric type would
      turn them into floats. `:size`, `:precision` and `:scale` are ignored:
      SQLite does not enforce them and `STRICT` tables reject them.
    * A single `:id`/`:serial`/`:bigserial`/`:identity` primary key is
      `INTEGER PRIMARY KEY AUTOINCREMENT`: like the sequences of other
      databases, it never hands out the id of a deleted row again. Pass
      `autoincrement: false` to get a plain rowid alias instead (rowids of
      deleted rows at the end of the table may then be reused).
    * `modify` uses libSQL's `ALTER TABLE t ALTER COLUMN c TO c <definition>`,
      which replaces the column's whole definition (type, default, NULL)
      without checking existing rows. What ALTER TABLE cannot do (a primary
      key added, changed, made or removed; a column's reference changed) rebuilds
      the table inside the migration's transaction: a new table with the
      changed definition, rows copied (each checked against the new
      foreign keys), referencing tables kept pointing at it, indexes,
      triggers and the AUTOINCREMENT counter carried over, foreign keys
      checked after (see `execute_ddl/1`, `:rebuild_table`).
    * Every ALTER TABLE change is its own statement: SQLite takes one change
      per ALTER TABLE.
    * `on_delete: {:nilify, columns}` and `{:default, columns}` (SQLite's SET
      NULL and SET DEFAULT act on every column of a key) are triggers on the
      referenced table, named with `on_delete_trigger_prefix/1` of the
      referencing table, which the adapter drops with that table.
    * `add_if_not_exists` and `remove_if_exists` raise here: SQLite has no
      `IF [NOT] EXISTS` for columns and DDL cannot be made conditional in SQL.
      The adapter resolves them first with `columns_query/1` and
      `resolve_conditional_columns/2`.
    * CHECK constraints are declared with a table (column option
      `check: %{name: ..., expr: ...}`) or added and dropped later
      (`create constraint(:t, :name, check: "...")`, `drop constraint`): the
      adapter rewrites the table's stored CREATE TABLE statement, as SQLite
      documents for changes that leave stored rows as they are, after
      checking that existing rows pass the new constraint (unless
      `validate: false`). Exclusion constraints do not exist in SQLite.
      An index is renamed by dropping it and
      creating it again from its stored definition, which the adapter reads
      first (`index_sql_query/1`). Comments are dropped, SQLite has nowhere to keep
      them. `concurrently` is ignored: SQLite builds an index under its one
      write lock anyway.
  """

  alias Ecto.Adapters.LibSql.{Quoting, TableSql}
  alias Ecto.Migration.{Constraint, Index, Reference, Table}

  @creates [:create, :create_if_not_exists]

  # `CREATE [UNIQUE] INDEX [IF NOT EXISTS]` and the index name after it, as
  # SQLite keeps them in sqlite_master.
  @index_head ~r/^(\s*CREATE\s+(?:UNIQUE\s+)?INDEX\s+(?:IF\s+NOT\s+EXISTS\s+)?)("(?:[^"]|"")*"|\[[^\]]*\]|`[^`]*`|[^\s(]+)/i
  @drops [:drop, :drop_if_exists]
  @conditional_changes [:add_if_not_exists, :remove_if_exists]

  @doc "Returns the statements that carry out a migration command."
  @spec execute_ddl(Ecto.Adapter.Migration.command()) :: [iodata]
  def execute_ddl({command, %Table{} = table, columns}) when command in @creates do
    check_table_options!(table)

    [
      [
        "CREATE ",
        table_modifiers(table),
        "TABLE ",
        if_do(command == :create_if_not_exists, "IF NOT EXISTS "),
        Quoting.quote_table(table.prefix, table.name),
        " (",
        Enum.intersperse(column_definitions(table, columns) ++ table_constraints(table, columns), ", "),
        ?),
        table_options(table.options)
      ]
      | on_delete_triggers(table, columns)
    ]
  end

  def execute_ddl({command, %Table{} = table, mode}) when command in @drops do
    check_drop_mode!(mode)
    [["DROP TABLE ", if_do(command == :drop_if_exists, "IF EXISTS "), Quoting.quote_table(table.prefix, table.name)]]
  end

  def execute_ddl({:alter, %Table{} = table, changes}) do
    changes = Enum.reject(changes, &same_column_type?/1)

    Enum.map(changes, &["ALTER TABLE ", Quoting.quote_table(table.prefix, table.name), ?\s | column_change(table, &1)]) ++
      on_delete_triggers(table, for({:add, _, _, _} = add <- changes, do: add))
  end

  def execute_ddl({command, %Index{} = index}) when command in @creates do
    check_index_options!(index)

    [
      [
        "CREATE ",
        if_do(index.unique, "UNIQUE "),
        "INDEX ",
        if_do(command == :create_if_not_exists, "IF NOT EXISTS "),
        # SQLite qualifies the index, not the table, with the database name.
        Quoting.quote_table(index.prefix, index.name),
        " ON ",
        Quoting.quote_name(index.table),
        " (",
        Enum.map_intersperse(index.columns, ", ", &index_column/1),
        ?),
        if_do(index.where, [" WHERE ", to_string(index.where)])
      ]
    ]
  end

  def execute_ddl({command, %Index{} = index, mode}) when command in @drops do
    check_drop_mode!(mode)
    [["DROP INDEX ", if_do(command == :drop_if_exists, "IF EXISTS "), Quoting.quote_table(index.prefix, index.name)]]
  end

  def execute_ddl({:rename, %Index{} = index, _new_name}) do
    raise ArgumentError,
          "SQLite cannot rename index #{inspect(index.name)} without reading its definition: " <>
            "run the rename through the adapter's execute_ddl/3"
  end

  # SQLite has no ALTER INDEX: the index is dropped and created again under
  # the new name from its stored definition (`sql`, from sqlite_master).
  def execute_ddl({:rename, %Index{} = index, new_name, sql}) when is_binary(sql) do
    case Regex.run(@index_head, sql, return: :index) do
      [{0, match_len}, {0, head_len}, _name] ->
        rest = binary_part(sql, match_len, byte_size(sql) - match_len)

        [
          ["DROP INDEX ", Quoting.quote_table(index.prefix, index.name)],
          [binary_part(sql, 0, head_len), Quoting.quote_table(index.prefix, new_name), rest]
        ]

      _ ->
        raise ArgumentError, "cannot rename index #{inspect(index.name)}: unrecognized definition #{inspect(sql)}"
    end
  end

  def execute_ddl({:rename, %Table{} = table, %Table{} = new_table}) do
    [["ALTER TABLE ", Quoting.quote_table(table.prefix, table.name), " RENAME TO ", Quoting.quote_name(new_table.name)]]
  end

  def execute_ddl({:rename, %Table{} = table, column, new_column}) do
    [
      [
        "ALTER TABLE ",
        Quoting.quote_table(table.prefix, table.name),
        " RENAME COLUMN ",
        Quoting.quote_name(column),
        " TO ",
        Quoting.quote_name(new_column)
      ]
    ]
  end

  def execute_ddl({command, %Constraint{} = constraint}) when command in @creates do
    raise ArgumentError,
          "SQLite cannot add constraint #{inspect(constraint.name)} without reading the table's " <>
            "definition: run the migration through the adapter's execute_ddl/3"
  end

  def execute_ddl({command, %Constraint{} = constraint, _mode}) when command in @drops do
    raise ArgumentError,
          "SQLite cannot drop constraint #{inspect(constraint.name)} without reading the table's " <>
            "definition: run the migration through the adapter's execute_ddl/3"
  end

  # A table's stored CREATE TABLE statement replaced by `sql` (see
  # Ecto.Adapters.LibSql.TableSql), as SQLite documents for changes that
  # leave stored rows unchanged: the schema version is bumped so that every
  # connection reloads the schema. Runs inside the migration's transaction.
  def execute_ddl({:rewrite_table, prefix, table, sql, schema_version}) do
    schema = Quoting.quote_name(prefix || "main")

    [
      "PRAGMA writable_schema = ON",
      [
        "UPDATE ",
        Quoting.quote_table(prefix || "main", "sqlite_master"),
        " SET sql = ",
        Quoting.single_quote(sql),
        " WHERE type = 'table' AND name = ",
        Quoting.single_quote(to_string(table))
      ],
      ["PRAGMA ", schema, ".schema_version = ", Integer.to_string(schema_version + 1)],
      "PRAGMA writable_schema = OFF"
    ]
  end

  # A table rebuilt with a new definition, for what ALTER TABLE cannot do
  # (a primary key added or changed, a column's reference changed), inside
  # the migration's transaction with foreign keys on. SQLite's documented
  # procedure turns foreign keys off, which a transaction cannot; instead,
  # once the rows are copied, the tables that reference this one are
  # pointed at the new table (their stored statements rewritten, and the
  # schema version moved past the one the new table's CREATE gave it), so
  # dropping the old one deletes nothing they reference; the new table
  # then takes the old one's name,
  # which points them back (a rename with foreign keys on updates
  # references; `legacy_alter_table` keeps SQLite from re-checking views
  # while the name is briefly free). Indexes and triggers are created
  # again from their stored statements, the AUTOINCREMENT counter is kept,
  # and the adapter checks foreign keys afterwards.
  def execute_ddl({:rebuild_table, rebuild}) do
    %{prefix: prefix, table: table, sql: sql, copy: copy, recreate: recreate, children: children} = rebuild
    schema = prefix || "main"
    new = table <> "__ecto_libsql_rebuild"
    columns = Quoting.quote_names(copy)

    retarget =
      if children == [] do
        []
      else
        ["PRAGMA writable_schema = ON"] ++
          for {child, child_sql} <- children do
            [
              "UPDATE ",
              Quoting.quote_table(schema, "sqlite_master"),
              " SET sql = ",
              Quoting.single_quote(TableSql.retarget_references(child_sql, table, new)),
              " WHERE type = 'table' AND name = ",
              Quoting.single_quote(child)
            ]
          end ++
          [
            [
              "PRAGMA ",
              Quoting.quote_name(schema),
              ".schema_version = ",
              Integer.to_string(rebuild.schema_version + 2)
            ],
            "PRAGMA writable_schema = OFF"
          ]
      end

    sequence =
      case rebuild.sequence do
        nil ->
          []

        seq ->
          sequence_table = Quoting.quote_table(schema, "sqlite_sequence")

          [
            [
              "UPDATE ",
              sequence_table,
              " SET seq = max(seq, ",
              Integer.to_string(seq),
              ") WHERE name = ",
              Quoting.single_quote(table)
            ]
          ]
      end

    [
      TableSql.rename(sql, Quoting.quote_table(prefix, new)),
      ["INSERT INTO ", Quoting.quote_table(prefix, new), " (", columns, ") SELECT ", columns, " FROM "] ++
        [Quoting.quote_table(prefix, table)]
    ] ++
      retarget ++
      [
        ["DROP TABLE ", Quoting.quote_table(prefix, table)],
        "PRAGMA legacy_alter_table = ON",
        ["ALTER TABLE ", Quoting.quote_table(prefix, new), " RENAME TO ", Quoting.quote_name(table)],
        "PRAGMA legacy_alter_table = OFF"
      ] ++ recreate ++ sequence ++ on_delete_triggers(rebuild.migration_table, rebuild.adds)
  end

  def execute_ddl({:noop, _command}), do: []

  # Commands the adapter resolved into several (see on_delete_triggers/2).
  def execute_ddl({:sequence, commands}), do: Enum.flat_map(commands, &execute_ddl/1)

  def execute_ddl({:drop_triggers, prefix, names}),
    do: Enum.map(names, &["DROP TRIGGER IF EXISTS " | Quoting.quote_table(prefix, &1)])

  def execute_ddl(sql) when is_binary(sql), do: [sql]

  def execute_ddl(keyword) when is_list(keyword) do
    raise ArgumentError, "the libSQL adapter does not support keyword lists in execute"
  end

  ## Conditional columns, resolved by the adapter

  @doc """
  A query listing the column names of `table`, for
  `resolve_conditional_columns/2`.
  """
  @spec columns_query(Table.t()) :: {String.t(), [term]}
  def columns_query(%Table{prefix: nil, name: name}) do
    # Without the schema argument, which the turso engine does not take.
    {"SELECT name FROM pragma_table_info(?1)", [to_string(name)]}
  end

  def columns_query(%Table{prefix: prefix, name: name}) do
    {"SELECT name FROM pragma_table_info(?1, ?2)", [to_string(name), to_string(prefix)]}
  end

  @doc "Whether an ALTER TABLE command has changes that depend on existing columns."
  @spec conditional_columns?(Ecto.Adapter.Migration.command()) :: boolean
  def conditional_columns?({:alter, %Table{}, changes}),
    do: Enum.any?(changes, &(elem(&1, 0) in @conditional_changes))

  def conditional_columns?(_command), do: false

  @doc """
  Rewrites `add_if_not_exists`/`remove_if_exists` changes into plain `add`
  and `remove` changes, or drops them, given the names of the columns the
  table has now.
  """
  @spec resolve_conditional_columns(Ecto.Adapter.Migration.command(), [String.t()]) ::
          Ecto.Adapter.Migration.command()
  def resolve_conditional_columns({:alter, %Table{} = table, changes}, existing) do
    existing = MapSet.new(existing, &to_string/1)

    # Changes apply in order, so each one sees the columns the earlier ones
    # added or removed.
    {changes, _existing} =
      Enum.flat_map_reduce(changes, existing, fn change, existing ->
        resolve_column_change(change, existing)
      end)

    {:alter, table, changes}
  end

  defp resolve_column_change({:add_if_not_exists, name, type, opts}, existing) do
    name_text = to_string(name)

    if MapSet.member?(existing, name_text),
      do: {[], existing},
      else: {[{:add, name, type, opts}], MapSet.put(existing, name_text)}
  end

  defp resolve_column_change({:remove_if_exists, name, type}, existing),
    do: resolve_removal(name, {:remove, name, type, []}, existing)

  defp resolve_column_change({:remove_if_exists, name}, existing),
    do: resolve_removal(name, {:remove, name}, existing)

  defp resolve_column_change({:add, name, _type, _opts} = change, existing),
    do: {[change], MapSet.put(existing, to_string(name))}

  defp resolve_column_change(change, existing) when elem(change, 0) == :remove,
    do: {[change], MapSet.delete(existing, to_string(elem(change, 1)))}

  defp resolve_column_change(change, existing), do: {[change], existing}

  defp resolve_removal(name, removal, existing) do
    name_text = to_string(name)

    if MapSet.member?(existing, name_text),
      do: {[removal], MapSet.delete(existing, name_text)},
      else: {[], existing}
  end

  @doc """
  The query reading a table's stored CREATE TABLE statement, and its
  database's schema version, for a constraint change.
  """
  @spec table_sql_query(Constraint.t()) :: {String.t(), list()}
  def table_sql_query(%Constraint{prefix: prefix, table: table}) do
    schema = Quoting.quote_name(prefix || "main")

    {[
       "SELECT sql, (SELECT schema_version FROM ",
       schema,
       ".pragma_schema_version) FROM ",
       Quoting.quote_table(prefix || "main", "sqlite_master"),
       " WHERE type = 'table' AND name = ?1"
     ]
     |> IO.iodata_to_binary(), [to_string(table)]}
  end

  @doc "The query that reads an index's stored definition, for renaming it."
  @spec index_sql_query(Index.t()) :: {String.t(), [term]}
  def index_sql_query(%Index{prefix: prefix, name: name}) do
    {["SELECT sql FROM ", Quoting.quote_table(prefix || "main", "sqlite_master"), " WHERE type = 'index' AND name = ?1"]
     |> IO.iodata_to_binary(), [to_string(name)]}
  end

  ## CREATE TABLE parts

  defp check_table_options!(%Table{engine: nil}), do: :ok

  defp check_table_options!(%Table{engine: engine}),
    do: raise(ArgumentError, "SQLite has no storage engines, got engine: #{inspect(engine)}")

  # Ecto 3.14's `table(name, modifiers: "TEMPORARY")`, written between CREATE
  # and TABLE. Ecto 3.13's table struct has no such field, hence Map.get.
  defp table_modifiers(table), do: modifiers(Map.get(table, :modifiers))

  defp modifiers(nil), do: []
  defp modifiers(modifiers) when is_binary(modifiers), do: [modifiers, ?\s]

  defp modifiers(other),
    do: raise(ArgumentError, "the libSQL adapter expects :modifiers to be a string or nil, got: #{inspect(other)}")

  defp table_options(nil), do: []
  defp table_options(options) when is_binary(options), do: [?\s, options]

  defp table_options(options),
    do:
      raise(
        ArgumentError,
        "the libSQL adapter does not support keyword lists in :options; give table options as a string, got: #{inspect(options)}"
      )

  defp column_definitions(table, columns) do
    inline_pk = inline_primary_key(columns)
    Enum.map(columns, &column_definition(table, &1, inline_pk))
  end

  defp column_definition(table, {:add, name, type, opts}, inline_pk) do
    [
      Quoting.quote_name(name),
      ?\s,
      column_type(type),
      if_do(name == inline_pk, primary_key_clause(table, type, opts)),
      column_options(type, opts),
      inline_reference(table, name, type)
    ]
  end

  # One primary key column is declared on the column itself, which makes an
  # INTEGER key the table's rowid; several form a table constraint.
  defp inline_primary_key(columns) do
    case primary_keys(columns) do
      [name] -> name
      _ -> nil
    end
  end

  defp primary_keys(columns), do: for({:add, name, _type, opts} <- columns, opts[:primary_key], do: name)

  defp primary_key_clause(table, type, opts) do
    if type in [:id, :serial, :bigserial, :identity] and Keyword.get(opts, :autoincrement, true) and
         not without_rowid?(table) do
      " PRIMARY KEY AUTOINCREMENT"
    else
      " PRIMARY KEY"
    end
  end

  defp without_rowid?(%Table{options: options}) when is_binary(options),
    do: options |> String.upcase() |> String.contains?("WITHOUT ROWID")

  defp without_rowid?(_table), do: false

  defp table_constraints(table, columns) do
    primary_key =
      case primary_keys(columns) do
        [_, _ | _] = names -> [["PRIMARY KEY (", Quoting.quote_names(names), ?)]]
        _ -> []
      end

    composite_references =
      for {:add, name, %Reference{with: [_ | _]} = ref, _opts} <- columns do
        [
          "CONSTRAINT ",
          reference_name(ref, table, name),
          " FOREIGN KEY (",
          Quoting.quote_names([name | Keyword.keys(ref.with)]),
          ?) | references(ref, table)
        ]
      end

    primary_key ++ composite_references
  end

  ## ALTER TABLE changes

  defp column_change(table, {:add, name, type, opts}) do
    if match?(%Reference{with: [_ | _]}, type) do
      raise ArgumentError, "SQLite cannot add a composite foreign key to an existing table"
    end

    [
      "ADD COLUMN ",
      Quoting.quote_name(name),
      ?\s,
      column_type(type),
      column_options(type, opts) | inline_reference(table, name, type)
    ]
  end

  defp column_change(table, {:modify, name, type, opts}) do
    [
      "ALTER COLUMN ",
      Quoting.quote_name(name),
      " TO ",
      Quoting.quote_name(name),
      ?\s,
      column_type(type),
      column_options(type, opts) | inline_reference(table, name, type)
    ]
  end

  defp column_change(_table, {:remove, name}), do: ["DROP COLUMN " | Quoting.quote_name(name)]
  defp column_change(_table, {:remove, name, _type, _opts}), do: ["DROP COLUMN " | Quoting.quote_name(name)]

  defp column_change(table, {change, name, _type, _opts}) when change in @conditional_changes,
    do: conditional_column!(table, change, name)

  defp column_change(table, {change, name, _type}) when change in @conditional_changes,
    do: conditional_column!(table, change, name)

  defp column_change(table, {change, name}) when change in @conditional_changes,
    do: conditional_column!(table, change, name)

  defp conditional_column!(table, change, name) do
    raise ArgumentError,
          "SQLite has no IF [NOT] EXISTS for columns, so #{change} #{inspect(name)} on " <>
            "#{inspect(table.name)} cannot be written as one statement; " <>
            "resolve it first with Ecto.Adapters.LibSql.DDL.resolve_conditional_columns/2"
  end

  ## Rebuilds

  @doc """
  Whether the changes of an `alter table` need the table rebuilt (see
  `execute_ddl/1`, `:rebuild_table`): a primary key column added, changed,
  made or removed, or a column's reference changed. `primary_key` names the
  table's primary key columns now. On the turso engine, which has no
  `ALTER COLUMN`, every `modify` rebuilds the table.
  """
  @spec rebuild?([tuple], [String.t()], :libsql | :turso) :: boolean
  def rebuild?(changes, primary_key, engine \\ :libsql) do
    changes
    |> Enum.reject(&same_column_type?/1)
    |> Enum.any?(fn
      {:modify, _name, _type, _opts} when engine == :turso ->
        true

      {:add, _name, _type, opts} ->
        opts[:primary_key] == true

      {:modify, name, type, opts} ->
        opts[:primary_key] == true or to_string(name) in primary_key or match?(%Reference{}, type)

      {:remove, name} ->
        to_string(name) in primary_key

      {:remove, name, _type, _opts} ->
        to_string(name) in primary_key

      _change ->
        false
    end)
  end

  @doc """
  A query counting the rows of `child` (in `schema`, quoted) whose foreign
  key to `parent`, over the `{child_column, parent_column}` pairs, finds no
  parent row. Rows with a NULL in the key reference nothing.
  """
  @spec foreign_key_violations_sql(iodata(), String.t(), String.t(), [{String.t(), String.t()}]) :: iodata()
  def foreign_key_violations_sql(schema, child, parent, pairs) do
    not_null =
      Enum.map_intersperse(pairs, " AND ", fn {from, _to} -> ["c.", Quoting.quote_name(from), " IS NOT NULL"] end)

    matches =
      Enum.map_intersperse(pairs, " AND ", fn {from, to} ->
        ["p.", Quoting.quote_name(to), " = c.", Quoting.quote_name(from)]
      end)

    [
      ["SELECT count(*) FROM ", schema, ".", Quoting.quote_name(child), " AS c WHERE "],
      not_null,
      [" AND NOT EXISTS (SELECT 1 FROM ", schema, ".", Quoting.quote_name(parent), " AS p WHERE "],
      matches,
      ")"
    ]
  end

  @doc """
  The rebuilt table's CREATE TABLE statement: `sql` (the table's stored
  one) with `changes` applied, and the columns whose rows are copied.
  """
  @spec rebuilt_table(Table.t(), String.t(), [tuple]) :: {String.t(), [String.t()]}
  def rebuilt_table(table, sql, changes) do
    old = TableSql.column_names(sql)

    new_sql =
      changes
      |> Enum.reject(&same_column_type?/1)
      |> Enum.reduce(sql, fn
        {:add, name, type, opts}, sql ->
          TableSql.add_column(sql, rebuilt_column(table, name, type, opts))

        {:modify, name, type, opts}, sql ->
          TableSql.replace_column(sql, to_string(name), rebuilt_column(table, name, type, opts))

        {:remove, name}, sql ->
          TableSql.remove_column(sql, to_string(name))

        {:remove, name, _type, _opts}, sql ->
          TableSql.remove_column(sql, to_string(name))

        change, _sql ->
          raise ArgumentError, "cannot rebuild table #{inspect(table.name)} with #{inspect(change)}"
      end)

    new = new_sql |> TableSql.column_names() |> MapSet.new(&String.downcase/1)
    {new_sql, Enum.filter(old, &(String.downcase(&1) in new))}
  end

  defp rebuilt_column(table, name, type, opts) do
    column_definition(table, {:add, name, type, Keyword.delete(opts, :from)}, if(opts[:primary_key], do: name))
  end

  # A modify that only changes the type (`modify :id, :bigint, from: :integer`)
  # between two types SQLite stores alike changes nothing, and is left out.
  # libSQL's ALTER COLUMN would instead rewrite the whole column definition:
  # it would drop the constraints that PostgreSQL's ALTER COLUMN TYPE keeps,
  # and it refuses a PRIMARY KEY column outright.
  defp same_column_type?({:modify, _name, type, opts}) do
    case Keyword.pop(opts, :from) do
      {nil, _opts} -> false
      {from, []} -> plain_type?(type) and plain_type?(from_type(from)) and sql_type(type) == sql_type(from_type(from))
      {_from, _other_opts} -> false
    end
  end

  defp same_column_type?(_change), do: false

  defp from_type({type, opts}) when is_list(opts), do: type
  defp from_type(type), do: type

  defp plain_type?(%Reference{}), do: false
  defp plain_type?(_type), do: true

  ## Column parts

  defp column_options(type, opts) do
    [
      default(Keyword.fetch(opts, :default), type),
      null(Keyword.get(opts, :null)),
      # ecto_sqlite3 spells it :collate; Ecto's own option is :collation.
      collation(Keyword.get(opts, :collation, Keyword.get(opts, :collate))),
      generated(Keyword.get(opts, :generated)),
      check(Keyword.get(opts, :check))
    ]
  end

  defp null(false), do: " NOT NULL"
  defp null(_null), do: []

  defp collation(nil), do: []
  defp collation(name), do: [" COLLATE " | Quoting.quote_name(name)]

  defp generated(nil), do: []
  defp generated(expr) when is_binary(expr), do: [" GENERATED " | expr]

  defp generated(other),
    do: raise(ArgumentError, "the :generated option only accepts strings, got: #{inspect(other)}")

  defp check(nil), do: []

  defp check(%{name: name, expr: expr}),
    do: [" CONSTRAINT ", Quoting.quote_name(name), " CHECK (", expr, ?)]

  defp check(other),
    do: raise(ArgumentError, "the :check option takes %{name: name, expr: sql}, got: #{inspect(other)}")

  defp default(:error, _type), do: []
  defp default({:ok, nil}, _type), do: " DEFAULT NULL"
  defp default({:ok, value}, type), do: [" DEFAULT " | default_value(value, type)]

  defp default_value(true, _type), do: "1"
  defp default_value(false, _type), do: "0"

  defp default_value(value, type) when is_binary(value) and type in [:binary, :blob, :bitstring],
    do: blob_literal(value)

  # Bytes that are not text can only be a blob literal.
  defp default_value(value, _type) when is_binary(value) do
    if String.valid?(value) and not String.contains?(value, <<0>>),
      do: Quoting.single_quote(value),
      else: blob_literal(value)
  end

  # SQLite stores whole bytes: a bit string default is padded with zero
  # bits to the next byte, as a BLOB column stores it.
  defp default_value(value, _type) when is_bitstring(value) do
    pad = 8 - rem(bit_size(value), 8)
    blob_literal(<<value::bitstring, 0::size(pad)>>)
  end

  defp default_value(value, _type) when is_number(value), do: to_string(value)
  defp default_value(%Decimal{} = value, _type), do: Quoting.single_quote(Decimal.to_string(value, :normal))
  # SQLite wants an expression default in parentheses.
  defp default_value({:fragment, expr}, _type), do: [?(, expr, ?)]

  defp default_value(value, _type) when is_map(value) or is_list(value),
    do: Quoting.single_quote(IO.iodata_to_binary(Ecto.Adapters.LibSql.JSON.encode!(value)))

  defp default_value(value, type) do
    raise ArgumentError,
          "unknown default #{inspect(value)} for type #{inspect(type)}: :default may be a string, " <>
            "number, boolean, decimal, map, list or fragment(...)"
  end

  defp blob_literal(bytes), do: ["X'", Base.encode16(bytes), ?']

  defp inline_reference(table, name, %Reference{with: []} = ref),
    do: [" CONSTRAINT ", reference_name(ref, table, name) | references(ref, table)]

  defp inline_reference(_table, _name, _type), do: []

  defp references(%Reference{} = ref, _table) do
    check_reference!(ref)
    columns = [ref.column | Keyword.values(ref.with)]

    [
      " REFERENCES ",
      Quoting.quote_name(ref.table),
      ?(,
      Quoting.quote_names(columns),
      ?),
      on_delete(ref.on_delete),
      on_update(ref.on_update)
    ]
  end

  # SQLite parses MATCH and ignores it, and reference prefixes name another
  # database, which SQLite foreign keys cannot point to.
  defp check_reference!(%Reference{match: match}) when match != nil,
    do: raise(ArgumentError, "SQLite ignores MATCH on foreign keys, got match: #{inspect(match)}")

  defp check_reference!(%Reference{prefix: prefix}) when prefix != nil,
    do: raise(ArgumentError, "SQLite foreign keys cannot reference another database, got prefix: #{inspect(prefix)}")

  defp check_reference!(_ref), do: :ok

  # Ecto's default foreign key name, the one foreign_key_constraint/3 expects.
  defp reference_name(%Reference{name: nil}, table, column), do: Quoting.quote_name("#{table.name}_#{column}_fkey")
  defp reference_name(%Reference{name: name}, _table, _column), do: Quoting.quote_name(name)

  defp on_delete(:nothing), do: []
  defp on_delete(:delete_all), do: " ON DELETE CASCADE"
  defp on_delete(:nilify_all), do: " ON DELETE SET NULL"
  defp on_delete(:default_all), do: " ON DELETE SET DEFAULT"
  defp on_delete(:restrict), do: " ON DELETE RESTRICT"

  # SQLite's SET NULL / SET DEFAULT act on every column of a foreign key: a
  # list of columns is carried out by a trigger on the referenced table
  # instead (see on_delete_triggers/2), and the key itself takes no action,
  # so that it is checked once the trigger has run.
  defp on_delete({kind, [_ | _]}) when kind in [:nilify, :default], do: []

  defp on_delete(other) do
    raise ArgumentError,
          "SQLite cannot do on_delete: #{inspect(other)}; use :nothing, :delete_all, :nilify_all, " <>
            ":default_all, :restrict, {:nilify, columns} or {:default, columns}"
  end

  @doc """
  The prefix of the names of the triggers that carry out
  `on_delete: {:nilify | :default, columns}` for the foreign keys of
  `table`: dropping the table drops them too (the adapter finds them by it).
  """
  @spec on_delete_trigger_prefix(atom | String.t()) :: String.t()
  def on_delete_trigger_prefix(table), do: "ecto_libsql_on_delete__#{table}__"

  # For each foreign key of `columns` with on_delete: {:nilify | :default,
  # cols}: after a row of the referenced table is deleted, the rows that
  # referenced it get NULL (or their column's default) in `cols` only.
  defp on_delete_triggers(table, columns) do
    defaults =
      for {:add, name, type, opts} <- columns,
          Keyword.has_key?(opts, :default),
          into: %{},
          do: {name, {type, opts[:default]}}

    for {:add, name, %Reference{on_delete: {kind, [_ | _] = cols}} = ref, _opts} <- columns do
      keys = [{name, ref.column} | ref.with]

      sets =
        Enum.map_intersperse(cols, ", ", fn col ->
          value =
            case {kind, defaults[col]} do
              {:default, {_type, nil}} -> "NULL"
              {:default, {type, default}} -> default_value(default, type)
              _ -> "NULL"
            end

          [Quoting.quote_name(col), " = ", value]
        end)

      matches =
        Enum.map_intersperse(keys, " AND ", fn {child, parent} ->
          [Quoting.quote_name(child), " = OLD.", Quoting.quote_name(parent)]
        end)

      fk_name = ref.name || "#{table.name}_#{name}_fkey"

      [
        "CREATE TRIGGER ",
        Quoting.quote_table(table.prefix, on_delete_trigger_prefix(table.name) <> to_string(fk_name)),
        " AFTER DELETE ON ",
        Quoting.quote_name(ref.table),
        " FOR EACH ROW BEGIN UPDATE ",
        Quoting.quote_name(table.name),
        " SET ",
        sets,
        " WHERE ",
        matches,
        "; END"
      ]
    end
  end

  defp on_update(:nothing), do: []
  defp on_update(:update_all), do: " ON UPDATE CASCADE"
  defp on_update(:nilify_all), do: " ON UPDATE SET NULL"
  defp on_update(:default_all), do: " ON UPDATE SET DEFAULT"
  defp on_update(:restrict), do: " ON UPDATE RESTRICT"
  defp on_update(other), do: raise(ArgumentError, "SQLite cannot do on_update: #{inspect(other)}")

  ## Types

  defp column_type(%Reference{type: type}), do: reference_type(type)
  defp column_type(type), do: sql_type(type)

  defp reference_type(type) when type in [:id, :serial, :bigserial, :identity], do: "INTEGER"
  defp reference_type(type), do: sql_type(type)

  defp sql_type(type) when type in [:id, :serial, :bigserial, :identity, :integer, :bigint, :boolean], do: "INTEGER"
  defp sql_type(type) when type in [:float, :real], do: "REAL"
  defp sql_type(type) when type in [:binary, :blob, :bitstring], do: "BLOB"

  defp sql_type(type)
       when type in [:string, :text, :decimal, :numeric, :binary_id, :uuid, :map, :date, :time, :time_usec] or
              type in [:naive_datetime, :naive_datetime_usec, :utc_datetime, :utc_datetime_usec, :duration],
       do: "TEXT"

  defp sql_type(:any), do: "ANY"
  defp sql_type({composite, _}) when composite in [:map, :array], do: "TEXT"
  # A type the user names is SQL they chose, written as given.
  defp sql_type(type) when is_atom(type), do: Atom.to_string(type)
  defp sql_type(type) when is_binary(type), do: type

  defp sql_type(type), do: raise(ArgumentError, "unsupported column type #{inspect(type)}")

  ## Indexes

  # SQLite indexes have no methods, included columns or storage options, and
  # a unique index always treats NULLs as distinct.
  defp check_index_options!(%Index{} = index) do
    unsupported = [
      using: index.using != nil,
      include: index.include != [],
      nulls_distinct: index.nulls_distinct == false,
      only: index.only == true,
      options: index.options != nil
    ]

    case for({option, true} <- unsupported, do: option) do
      [] -> :ok
      [option | _] -> raise ArgumentError, "SQLite indexes do not support the #{option} option"
    end
  end

  defp index_column({dir, column}), do: [index_column(column) | index_dir(dir)]
  defp index_column(column) when is_binary(column), do: column
  defp index_column(column) when is_atom(column), do: Quoting.quote_name(column)

  defp index_dir(:asc), do: " ASC"
  defp index_dir(:desc), do: " DESC"
  defp index_dir(other), do: raise(ArgumentError, "SQLite index columns take :asc or :desc, got: #{inspect(other)}")

  defp check_drop_mode!(:restrict), do: :ok
  defp check_drop_mode!(mode), do: raise(ArgumentError, "SQLite has no #{inspect(mode)} drop mode (no CASCADE)")

  defp if_do(condition, value), do: if(condition, do: value, else: [])
end
