defmodule EctoLibSql.PropertyTest do
  use ExUnit.Case, async: true

  import EctoLibSql.TestDB
  alias EctoLibSql.{Error, Native}

  @moduletag :proper

  # PropEr generators, used from Elixir.
  defp value_gen do
    :proper_types.oneof([
      :proper_types.exactly(nil),
      :proper_types.boolean(),
      :proper_types.integer(-9_223_372_036_854_775_808, 9_223_372_036_854_775_807),
      :proper_types.float(),
      # Text without NUL: libSQL 0.10 reads TEXT up to its first NUL byte.
      :proper_types.bind(
        :proper_types.list(
          :proper_types.oneof([:proper_types.integer(1, 0xD7FF), :proper_types.integer(0xE000, 0x10FFFF)])
        ),
        &List.to_string/1,
        false
      ),
      :proper_types.bind(:proper_types.binary(), fn bin -> {:blob, bin} end, false)
    ])
  end

  defp expected(true), do: 1
  defp expected(false), do: 0
  defp expected({:blob, bin}), do: bin
  defp expected(other), do: other

  defp check(prop, n) do
    assert :proper.quickcheck(prop, [{:numtests, n}, :quiet, {:on_output, fn _, _ -> :ok end}]) == true
  end

  test "random rows of every value type survive insert and select unchanged" do
    conn = open_memory!()
    {:ok, _} = Native.execute(conn, "CREATE TABLE t (a, b, c, d)")

    prop =
      :proper.forall(:proper_types.vector(4, value_gen()), fn row ->
        {:ok, _} = Native.execute(conn, "DELETE FROM t")
        {:ok, 1} = Native.execute(conn, "INSERT INTO t VALUES (?, ?, ?, ?)", row)
        {:ok, got} = Native.query_one(conn, "SELECT a, b, c, d FROM t")
        got == Enum.map(row, &expected/1)
      end)

    check(prop, 300)
  end

  test "random parameter lists never crash: every call returns {:ok, _} or {:error, %Error{}}" do
    conn = open_memory!()

    prop =
      :proper.forall({:proper_types.integer(0, 4), :proper_types.list(:proper_types.any())}, fn {n, params} ->
        sql = "SELECT " <> Enum.join(List.duplicate("?", max(n, 1)), ", ")

        Enum.all?(
          [
            Native.query(conn, sql, params),
            Native.execute(conn, sql, params),
            Native.query(conn, "SELECT :a", params),
            Native.batch(conn, [{sql, params}])
          ],
          fn
            {:ok, _} -> true
            {:error, %Error{}} -> true
            _ -> false
          end
        )
      end)

    check(prop, 300)
    assert rows!(conn, "SELECT 1") == [[1]]
  end
end
