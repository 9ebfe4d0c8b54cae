defmodule Ecto.Adapters.LibSql.Structure do
  @moduledoc false
  # `mix ecto.dump` without the sqlite3 CLI: the schema from sqlite_master,
  # then the rows of the migrations table, as SQL that structure_load runs.

  alias EctoLibSql.Native

  @spec dump(Native.conn(), String.t()) :: {:ok, String.t()} | {:error, EctoLibSql.Error.t()}
  def dump(conn, migration_table) do
    schema_sql = """
    SELECT type, name, sql FROM sqlite_master
    WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'
    ORDER BY CASE type WHEN 'table' THEN 0 WHEN 'index' THEN 1 WHEN 'view' THEN 2 ELSE 3 END, rowid
    """

    with {:ok, %{rows: objects}} <- Native.query(conn, schema_sql),
         {:ok, versions} <- versions(conn, migration_table, objects) do
      schema = Enum.map(objects, fn [_type, _name, sql] -> sql <> ";\n" end)
      {:ok, IO.iodata_to_binary([schema, versions])}
    end
  end

  defp versions(conn, table, objects) do
    if Enum.any?(objects, &match?(["table", ^table, _], &1)) do
      with {:ok, %{columns: columns, rows: rows}} <- Native.query(conn, ~s(SELECT * FROM "#{table}" ORDER BY 1)) do
        names = Enum.map_join(columns, ", ", &~s("#{&1}"))

        {:ok,
         Enum.map(rows, fn row ->
           [~s(INSERT INTO "#{table}" \(#{names}\) VALUES \(), Enum.map_join(row, ", ", &literal/1), ");\n"]
         end)}
      end
    else
      {:ok, []}
    end
  end

  defp literal(nil), do: "NULL"
  defp literal(v) when is_integer(v) or is_float(v), do: to_string(v)
  defp literal(v) when is_binary(v), do: "'" <> String.replace(v, "'", "''") <> "'"
end
