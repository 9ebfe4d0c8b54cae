defmodule Ecto.Adapters.LibSql.CodecTest do
  use ExUnit.Case, async: true

  alias Ecto.Adapters.LibSql.Codec

  describe "datetime loaders" do
    test "read every layout the adapter writes, and other ISO 8601 forms" do
      assert Codec.load_naive_datetime("2024-02-29T23:59:58.000001") == {:ok, ~N[2024-02-29 23:59:58.000001]}
      assert Codec.load_naive_datetime("2024-02-29 23:59:58.000001") == {:ok, ~N[2024-02-29 23:59:58.000001]}
      assert Codec.load_naive_datetime("2024-02-29T23:59:58") == {:ok, ~N[2024-02-29 23:59:58]}
      assert Codec.load_naive_datetime("2024-02-29") == {:ok, ~N[2024-02-29 00:00:00]}
      assert Codec.load_utc_datetime("2024-02-29T23:59:58.123456Z") == {:ok, ~U[2024-02-29 23:59:58.123456Z]}
      assert Codec.load_utc_datetime("2024-02-29 23:59:58.123456") == {:ok, ~U[2024-02-29 23:59:58.123456Z]}
      assert Codec.load_utc_datetime("2024-02-29T23:59:58+00:00") == {:ok, ~U[2024-02-29 23:59:58Z]}
    end

    test "refuse text that only looks like a datetime" do
      assert Codec.load_naive_datetime("2023-02-29T10:00:00.000000") == :error
      assert Codec.load_naive_datetime("2024-0a-01T10:00:00.000000") == :error
      assert Codec.load_utc_datetime("2024-13-01T10:00:00.000000Z") == :error
      assert Codec.load_naive_datetime("not a date") == :error
    end
  end

  if Code.ensure_loaded?(Duration) do
    describe "durations" do
      test "are ISO 8601 text, read back with every unit and the microsecond precision" do
        duration = %Duration{year: 1, month: 13, day: 2, second: 1, microsecond: {100, 6}}

        assert {:ok, "P1Y13M2DT1.000100S" = text} = Codec.dump_duration(duration)
        assert Codec.load_duration(text) == {:ok, duration}
        assert Codec.dump_duration(nil) == {:ok, nil}
        assert Codec.load_duration(nil) == {:ok, nil}
      end

      test "refuse what is not a duration" do
        assert Codec.dump_duration("P1Y") == :error
        assert Codec.load_duration("one year") == :error
        assert Codec.load_duration(5) == :error
      end
    end
  end

  describe "JSON" do
    setup do
      previous = Application.fetch_env(:ecto_libsql, :json_library)

      on_exit(fn ->
        case previous do
          {:ok, library} -> Application.put_env(:ecto_libsql, :json_library, library)
          :error -> Application.delete_env(:ecto_libsql, :json_library)
        end
      end)
    end

    test "Jason by default when the app has it, the configured library otherwise" do
      assert Ecto.Adapters.LibSql.JSON.library() == Jason
      Application.put_env(:ecto_libsql, :json_library, Jason)
      assert {:ok, {:json_array, json}} = Codec.dump_json(["a", "b"])
      assert IO.iodata_to_binary(json) == ~s(["a","b"])
    end

    if Code.ensure_loaded?(JSON) and function_exported?(JSON, :encode_to_iodata!, 1) do
      test "Elixir's JSON encodes and decodes literal lists and maps the same way" do
        Application.put_env(:ecto_libsql, :json_library, JSON)
        assert {:ok, {:json_array, json}} = Codec.dump_json(["a", "b"])
        assert IO.iodata_to_binary(json) == ~s(["a","b"])
        assert Codec.load_json(~s({"k":[1,2]})) == {:ok, %{"k" => [1, 2]}}
      end
    end
  end
end
