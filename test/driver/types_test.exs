defmodule EctoLibSql.TypesTest do
  use ExUnit.Case, async: true

  alias EctoLibSql.Types

  describe "format_datetime/3" do
    test "writes every layout and precision the same as Calendar's own formatter" do
      for dt <- [
            ~N[2024-01-02 03:04:05],
            ~N[2024-01-02 03:04:05.1],
            ~N[2024-01-02 03:04:05.120],
            ~N[2024-12-31 23:59:59.999999],
            ~N[0001-02-03 04:05:06.000007],
            ~N[0999-01-01 00:00:00]
          ],
          precision <- [:microsecond, :field] do
        expected = if precision == :microsecond, do: %{dt | microsecond: {elem(dt.microsecond, 0), 6}}, else: dt
        assert Types.format_datetime(dt, :iso8601, precision) == NaiveDateTime.to_iso8601(expected)
        assert Types.format_datetime(dt, :text_datetime, precision) == NaiveDateTime.to_string(expected)

        utc = DateTime.from_naive!(dt, "Etc/UTC")

        assert Types.format_datetime(utc, :iso8601, precision) ==
                 DateTime.to_iso8601(%{utc | microsecond: expected.microsecond})
      end
    end

    test "years outside 0-9999 take Calendar's general path" do
      assert Types.format_datetime(~N[-0001-01-01 00:00:00]) ==
               NaiveDateTime.to_iso8601(~N[-0001-01-01 00:00:00.000000])
    end
  end
end
