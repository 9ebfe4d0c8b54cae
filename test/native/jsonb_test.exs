defmodule EctoLibSql.JsonbTest do
  # JSONB made here must be what SQLite reads, and JSONB SQLite makes must
  # read back here: both are checked against SQLite's own json()/jsonb()
  # on random documents.
  use ExUnit.Case, async: true

  import EctoLibSql.TestDB
  alias EctoLibSql.Native

  @documents 400

  # A random JSON document as text, with escapes, unicode, numbers in
  # several forms and nesting.
  defp document(depth \\ 0) do
    case :rand.uniform(if depth > 3, do: 6, else: 8) do
      1 ->
        "null"

      2 ->
        Enum.random(["true", "false"])

      3 ->
        Integer.to_string(:rand.uniform(2_000_000_000_000) - 1_000_000_000_000)

      4 ->
        Enum.random(["1.5", "-0.25", "3e10", "2.5E-3", "0", "-0"])

      5 ->
        string()

      6 ->
        string()

      7 ->
        "[" <> Enum.map_join(1..:rand.uniform(4)//1, ",", fn _ -> document(depth + 1) end) <> "]"

      8 ->
        "{" <> Enum.map_join(1..:rand.uniform(4)//1, ", ", fn _ -> string() <> ": " <> document(depth + 1) end) <> "}"
    end
  end

  defp string do
    parts = ["a", "é", "☃", "𝄞", "\\\"", "\\\\", "\\n", "\\u00e9", "\\/", " ", "x"]
    "\"" <> Enum.map_join(1..:rand.uniform(6)//1, fn _ -> Enum.random(parts) end) <> "\""
  end

  defp one!(conn, sql, params) do
    {:ok, %{rows: [[value]]}} = Native.query(conn, sql, params)
    value
  end

  test "random documents convert both ways as SQLite converts them" do
    :rand.seed(:exsss, {1, 2, 3})
    conn = open_memory!()

    for _ <- 1..@documents do
      text = document()
      canonical = one!(conn, "SELECT json(?)", [text])

      assert {:ok, ours} = Native.json_to_jsonb(text)
      assert one!(conn, "SELECT json(?)", [{:blob, ours}]) == canonical, text
      assert one!(conn, "SELECT json_valid(?, 8)", [{:blob, ours}]) == 1

      sqlites = one!(conn, "SELECT jsonb(?)", [text])
      assert {:ok, back} = Native.jsonb_to_json(sqlites)
      assert one!(conn, "SELECT json(?)", [back]) == canonical, text
    end
  end

  test "bad input is an error, not a crash" do
    assert {:error, %EctoLibSql.Error{code: :misuse, message: "invalid JSON" <> _}} = Native.json_to_jsonb("{\"a\": }")
    assert {:error, %EctoLibSql.Error{code: :misuse}} = Native.jsonb_to_json(<<0x2B, 0x13>>)
    refute Native.jsonb_container?(~s({"a":1}))
    deep = String.duplicate("[", 5_000) <> String.duplicate("]", 5_000)
    assert {:error, %EctoLibSql.Error{code: :misuse}} = Native.json_to_jsonb(deep)
  end

  test "large documents convert on a dirty scheduler, with the same result" do
    big = "[" <> Enum.map_join(1..30_000, ",", &~s({"n":#{&1},"s":"v#{&1}"})) <> "]"
    assert byte_size(big) > 64 * 1024
    assert {:ok, jsonb} = Native.json_to_jsonb(big)
    assert {:ok, ^big} = Native.jsonb_to_json(jsonb)
  end
end
