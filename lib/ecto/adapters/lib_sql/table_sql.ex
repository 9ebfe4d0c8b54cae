defmodule Ecto.Adapters.LibSql.TableSql do
  @moduledoc false
  # Edits of a table's stored CREATE TABLE statement (its `sql` in
  # sqlite_master): a CHECK constraint added or removed. SQLite has no ALTER
  # TABLE ... ADD/DROP CONSTRAINT, but documents rewriting the stored
  # statement (under `PRAGMA writable_schema`, with the schema version
  # bumped) for changes that leave the table's stored rows as they are,
  # which a CHECK constraint does (see DDL.execute_ddl/1, :rewrite_table).
  #
  # The statement is scanned, not parsed: strings, quoted identifiers and
  # comments are skipped, and parentheses counted.

  alias Ecto.Adapters.LibSql.Quoting

  @doc """
  `sql` with the table constraint `CONSTRAINT name CHECK (expr)` added after
  its last column or constraint.
  """
  @spec add_check(String.t(), String.t(), String.t()) :: String.t()
  def add_check(sql, name, expr) do
    if find_constraint(sql, name) do
      raise ArgumentError, "the table already has a constraint named #{inspect(name)}"
    end

    close = closing_paren(sql)
    addition = IO.iodata_to_binary([", CONSTRAINT ", Quoting.quote_name(name), " CHECK (", expr, ?)])
    binary_part(sql, 0, close) <> addition <> binary_part(sql, close, byte_size(sql) - close)
  end

  @doc """
  `sql` without the CHECK constraint `name` (a table constraint with its
  comma, or a column constraint), or `:error` when it has none.
  """
  @spec drop_check(String.t(), String.t()) :: {:ok, String.t()} | :error
  def drop_check(sql, name) do
    case find_constraint(sql, name) do
      {start, stop} ->
        # With the comma of a table constraint, or the space before a
        # column constraint.
        before = sql |> binary_part(0, start) |> String.trim_trailing()
        start = if String.ends_with?(before, ","), do: byte_size(before) - 1, else: byte_size(before)
        {:ok, binary_part(sql, 0, start) <> binary_part(sql, stop, byte_size(sql) - stop)}

      nil ->
        :error
    end
  end

  ## Rebuilds (see DDL.execute_ddl/1, :rebuild_table)

  @table_constraints ~w(CONSTRAINT PRIMARY UNIQUE CHECK FOREIGN)

  @doc "The names of the table's columns, in order."
  @spec column_names(String.t()) :: [String.t()]
  def column_names(sql), do: for({name, _, _} <- columns(sql), do: name)

  @doc "`sql` with column `name`'s definition replaced by `definition`."
  @spec replace_column(String.t(), String.t(), iodata()) :: String.t()
  def replace_column(sql, name, definition) do
    {_, start, stop} = column!(sql, name)
    splice(sql, start, stop, definition)
  end

  @doc "`sql` without column `name` (and its comma)."
  @spec remove_column(String.t(), String.t()) :: String.t()
  def remove_column(sql, name) do
    {_, start, stop} = column!(sql, name)
    commas = for {:comma, _, at, next, 1} <- tokens(sql), do: {at, next}

    # From the comma before it; the first column takes the comma after it.
    case Enum.filter(commas, fn {_, next} -> next <= start end) do
      [] ->
        case Enum.find(commas, fn {at, _} -> at >= stop end) do
          {_, next} -> splice(sql, start, next, "")
          nil -> raise ArgumentError, "cannot remove #{inspect(name)}, the table's only column"
        end

      before ->
        {at, _} = List.last(before)
        splice(sql, at, stop, "")
    end
  end

  @doc "`sql` with a column `definition` added after its last column."
  @spec add_column(String.t(), iodata()) :: String.t()
  def add_column(sql, definition) do
    stop =
      case columns(sql) do
        [] -> raise ArgumentError, "cannot read the table's definition: #{inspect(sql)}"
        columns -> columns |> List.last() |> elem(2)
      end

    splice(sql, stop, stop, [", " | definition])
  end

  @doc "`sql` creating the table under `quoted_name` (quoted, maybe with its schema) instead."
  @spec rename(String.t(), iodata()) :: String.t()
  def rename(sql, quoted_name) do
    {_, _, start, stop, _} =
      sql
      |> tokens()
      |> Enum.take_while(&(not match?({:open, _, _, _, 0}, &1)))
      |> Enum.filter(&(elem(&1, 0) in [:word, :quoted]))
      |> List.last()

    splice(sql, start, stop, quoted_name)
  end

  @doc "`sql` with its `REFERENCES from` clauses pointing at table `to`."
  @spec retarget_references(String.t(), String.t(), String.t()) :: String.t()
  def retarget_references(sql, from, to) do
    sql
    |> tokens()
    |> Enum.chunk_every(2, 1, :discard)
    |> Enum.filter(fn
      [{:word, word, _, _, _}, target] ->
        String.upcase(word) == "REFERENCES" and String.downcase(identifier(target) || "") == String.downcase(from)

      _ ->
        false
    end)
    |> Enum.reverse()
    |> Enum.reduce(sql, fn [_, {_, _, start, stop, _}], sql -> splice(sql, start, stop, Quoting.quote_name(to)) end)
  end

  defp column!(sql, name) do
    Enum.find(columns(sql), fn {column, _, _} -> String.downcase(column) == String.downcase(name) end) ||
      raise ArgumentError, "the table has no column named #{inspect(name)}"
  end

  # Column definitions as {name, start, stop}: the column list's items
  # (split at its own commas) that do not start a table constraint.
  defp columns(sql) do
    sql
    |> tokens()
    |> Enum.drop_while(&(not match?({:open, _, _, _, 0}, &1)))
    |> Enum.drop(1)
    |> Enum.take_while(&(not match?({:close, _, _, _, 0}, &1)))
    |> Enum.chunk_by(&match?({:comma, _, _, _, 1}, &1))
    |> Enum.reject(&match?([{:comma, _, _, _, 1} | _], &1))
    |> Enum.flat_map(fn [first | _] = item ->
      if column_start?(first),
        do: [{identifier(first), elem(first, 2), item |> List.last() |> elem(3)}],
        else: []
    end)
  end

  defp column_start?({:word, word, _, _, _}), do: String.upcase(word) not in @table_constraints
  defp column_start?({:quoted, _, _, _, _}), do: true
  defp column_start?(_token), do: false

  defp splice(sql, start, stop, insert),
    do: IO.iodata_to_binary([binary_part(sql, 0, start), insert, binary_part(sql, stop, byte_size(sql) - stop)])

  ## Scanning

  # Tokens at any depth: {kind, text, start, stop, depth}, with kind
  # :word, :quoted (an identifier in "", `` or []), :string, :open, :close,
  # :comma or :other. Comments and whitespace are dropped.
  defp tokens(sql), do: scan(sql, 0, 0, [])

  defp scan(sql, pos, _depth, acc) when pos >= byte_size(sql), do: Enum.reverse(acc)

  defp scan(sql, pos, depth, acc) do
    rest = binary_part(sql, pos, byte_size(sql) - pos)

    case rest do
      <<c, _::binary>> when c in [?\s, ?\t, ?\n, ?\r] ->
        scan(sql, pos + 1, depth, acc)

      "--" <> _ ->
        scan(sql, until(sql, pos, "\n"), depth, acc)

      "/*" <> _ ->
        scan(sql, until(sql, pos + 2, "*/"), depth, acc)

      "(" <> _ ->
        scan(sql, pos + 1, depth + 1, [{:open, "(", pos, pos + 1, depth} | acc])

      ")" <> _ ->
        scan(sql, pos + 1, depth - 1, [{:close, ")", pos, pos + 1, depth - 1} | acc])

      "," <> _ ->
        scan(sql, pos + 1, depth, [{:comma, ",", pos, pos + 1, depth} | acc])

      <<q, _::binary>> when q in [?", ?`, ?[, ?'] ->
        close = if q == ?[, do: ?], else: q
        stop = quoted_end(sql, pos + 1, close)
        kind = if q == ?', do: :string, else: :quoted
        scan(sql, stop, depth, [{kind, binary_part(sql, pos, stop - pos), pos, stop, depth} | acc])

      _ ->
        stop = word_end(sql, pos)
        stop = if stop == pos, do: pos + 1, else: stop
        kind = if stop - pos > 1 or word_char?(:binary.at(sql, pos)), do: :word, else: :other
        scan(sql, stop, depth, [{kind, binary_part(sql, pos, stop - pos), pos, stop, depth} | acc])
    end
  end

  defp until(sql, pos, terminator) do
    case :binary.match(sql, terminator, scope: {pos, byte_size(sql) - pos}) do
      {at, len} -> at + len
      :nomatch -> byte_size(sql)
    end
  end

  # A quote doubled inside quotes is an escaped quote.
  defp quoted_end(sql, pos, close) do
    case :binary.match(sql, <<close>>, scope: {pos, byte_size(sql) - pos}) do
      {at, 1} ->
        if close != ?] and at + 1 < byte_size(sql) and :binary.at(sql, at + 1) == close,
          do: quoted_end(sql, at + 2, close),
          else: at + 1

      :nomatch ->
        byte_size(sql)
    end
  end

  defp word_end(sql, pos) do
    if pos < byte_size(sql) and word_char?(:binary.at(sql, pos)), do: word_end(sql, pos + 1), else: pos
  end

  defp word_char?(c), do: c in ?a..?z or c in ?A..?Z or c in ?0..?9 or c == ?_ or c >= 128

  # The position of the parenthesis that closes the column list.
  defp closing_paren(sql) do
    case Enum.find(tokens(sql), &match?({:close, _, _, _, 0}, &1)) do
      {:close, _, start, _, _} -> start
      nil -> raise ArgumentError, "cannot read the table's definition: #{inspect(sql)}"
    end
  end

  # `CONSTRAINT name CHECK ( ... )` at the column list's depth: its start
  # and the end of its closing parenthesis.
  defp find_constraint(sql, name) do
    tokens = tokens(sql)

    tokens
    |> Enum.with_index()
    |> Enum.find_value(fn
      {{:word, word, start, _, 1}, i} ->
        with true <- String.upcase(word) == "CONSTRAINT",
             [ident, {:word, check, _, _, 1}, {:open, _, _, _, 1} | _] <- Enum.drop(tokens, i + 1),
             true <- identifier(ident) == name and String.upcase(check) == "CHECK",
             {:close, _, _, stop, 1} <- Enum.find(Enum.drop(tokens, i + 4), &match?({:close, _, _, _, 1}, &1)) do
          {start, stop}
        else
          _ -> nil
        end

      _ ->
        nil
    end)
  end

  defp identifier({:word, word, _, _, _}), do: word

  defp identifier({:quoted, <<q, _::binary>> = text, _, _, _}) when q in [?", ?`] do
    inner = binary_part(text, 1, byte_size(text) - 2)
    String.replace(inner, <<q, q>>, <<q>>)
  end

  defp identifier({:quoted, "[" <> _ = text, _, _, _}), do: binary_part(text, 1, byte_size(text) - 2)
  defp identifier(_), do: nil
end
