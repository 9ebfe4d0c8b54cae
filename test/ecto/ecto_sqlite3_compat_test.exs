defmodule Ecto.Adapters.LibSql.EctoSqlite3CompatTest do
  # Switching from ecto_sqlite3: its type options mean the same here, and a
  # database it wrote keeps working. The rows below are written in the forms
  # ecto_sqlite3 0.24 stores (its Codec: DateTime/NaiveDateTime.to_iso8601
  # at the field's precision, "Z" for UTC; `:text_datetime` with a space;
  # UUIDs as text or 16 bytes per `:binary_id_type` / `:uuid_type`).
  # Not async: one test sets a Repo's application configuration.
  use ExUnit.Case, async: false

  import Ecto.Query
  import EctoLibSql.TestDB, only: [tmp_db!: 1]

  defmodule Event do
    use Ecto.Schema

    @primary_key {:id, :binary_id, autogenerate: true}
    schema "events" do
      field(:name, :string)
      field(:ref, Ecto.UUID)
      field(:at, :utc_datetime)
      field(:naive, :naive_datetime)
      field(:at_usec, :utc_datetime_usec)
    end
  end

  defmodule UuidTables do
    use Ecto.Migration

    def change do
      create table(:tokens, primary_key: false) do
        add(:id, :binary_id, primary_key: true)
        add(:ref, :uuid)
      end
    end
  end

  defmodule Token do
    use Ecto.Schema

    @primary_key {:id, :binary_id, autogenerate: true}
    schema "tokens" do
      field(:ref, Ecto.UUID)
    end
  end

  defmodule FieldRepo do
    use Ecto.Repo, otp_app: :ecto_libsql, adapter: Ecto.Adapters.LibSql
  end

  defmodule TextRepo do
    use Ecto.Repo, otp_app: :ecto_libsql, adapter: Ecto.Adapters.LibSql
  end

  @create "CREATE TABLE events (id BLOB PRIMARY KEY, name TEXT, ref TEXT, at TEXT, naive TEXT, at_usec TEXT)"
  @ref "5a7f2f0e-1111-4c3b-9d2e-0123456789ab"

  # Rows as ecto_sqlite3 (binary_id_type: :binary, uuid_type: :string,
  # datetime_type: :iso8601) wrote them.
  defp written_by_ecto_sqlite3!(repo) do
    repo.query!(@create)

    for {name, at, naive, usec} <- [
          {"first", "2024-01-02T03:04:05Z", "2024-01-02T03:04:05", "2024-01-02T03:04:05.000001Z"},
          {"third", "2024-01-02T03:04:07Z", "2024-01-02T03:04:07", "2024-01-02T03:04:07.500000Z"}
        ] do
      repo.query!("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?)", [
        {:blob, Ecto.UUID.bingenerate()},
        name,
        @ref,
        at,
        naive,
        usec
      ])
    end
  end

  test "with datetime_precision: :field, rows ecto_sqlite3 wrote and new rows load, compare and order together", ctx do
    start_supervised!(
      {FieldRepo,
       database: tmp_db!(ctx), binary_id_type: :binary, uuid_type: :string, datetime_precision: :field, log: false}
    )

    written_by_ecto_sqlite3!(FieldRepo)

    FieldRepo.insert!(%Event{
      name: "second",
      ref: @ref,
      at: ~U[2024-01-02 03:04:06Z],
      naive: ~N[2024-01-02 03:04:06],
      at_usec: ~U[2024-01-02 03:04:06.250000Z]
    })

    # New values are stored exactly as ecto_sqlite3 stores them.
    assert %{rows: [[id_type, "2024-01-02T03:04:06Z", "2024-01-02T03:04:06", ref]]} =
             FieldRepo.query!("SELECT typeof(id), at, naive, ref FROM events WHERE name = 'second'")

    assert {id_type, ref} == {"blob", @ref}

    assert ["first", "second", "third"] == FieldRepo.all(from(e in Event, order_by: e.at, select: e.name))
    assert ["first", "second", "third"] == FieldRepo.all(from(e in Event, order_by: e.naive, select: e.name))
    assert ["first", "second", "third"] == FieldRepo.all(from(e in Event, order_by: e.at_usec, select: e.name))

    # Comparisons with parameters at the field's precision, including equality.
    assert ["second", "third"] ==
             FieldRepo.all(from(e in Event, where: e.at >= ^~U[2024-01-02 03:04:06Z], order_by: e.at, select: e.name))

    assert ["first"] == FieldRepo.all(from(e in Event, where: e.naive == ^~N[2024-01-02 03:04:05], select: e.name))

    assert ["third"] ==
             FieldRepo.all(from(e in Event, where: e.at_usec > ^~U[2024-01-02 03:04:06.250000Z], select: e.name))

    first = FieldRepo.one!(from(e in Event, where: e.name == "first"))
    assert first.at == ~U[2024-01-02 03:04:05Z]
    assert first.naive == ~N[2024-01-02 03:04:05]
    assert first.at_usec == ~U[2024-01-02 03:04:05.000001Z]
    assert first.ref == @ref
    assert FieldRepo.get!(Event, first.id).name == "first"
  end

  test ":text_datetime rows ecto_sqlite3 wrote load and order with new ones", ctx do
    start_supervised!(
      {TextRepo, database: tmp_db!(ctx), datetime_type: :text_datetime, datetime_precision: :field, log: false}
    )

    TextRepo.query!("CREATE TABLE events (id TEXT PRIMARY KEY, name TEXT, ref TEXT, at TEXT, naive TEXT, at_usec TEXT)")

    TextRepo.query!(
      "INSERT INTO events (id, name, at, naive) VALUES (?, 'old', '2024-01-02 03:04:05', '2024-01-02 03:04:05')",
      [
        Ecto.UUID.generate()
      ]
    )

    TextRepo.insert!(%Event{name: "new", at: ~U[2024-01-02 03:04:04Z], naive: ~N[2024-01-02 03:04:06]})

    assert %{rows: [["2024-01-02 03:04:04", "2024-01-02 03:04:06"]]} =
             TextRepo.query!("SELECT at, naive FROM events WHERE name = 'new'")

    assert ["new", "old"] == TextRepo.all(from(e in Event, order_by: e.at, select: e.name))
    assert ["old", "new"] == TextRepo.all(from(e in Event, order_by: e.naive, select: e.name))
    assert %Event{at: ~U[2024-01-02 03:04:05Z]} = TextRepo.one!(from(e in Event, where: e.name == "old"))
  end

  test "unix timestamps load as datetimes", ctx do
    start_supervised!({TextRepo, database: tmp_db!(ctx), log: false})
    TextRepo.query!(@create)

    TextRepo.query!("INSERT INTO events (id, name, at, naive) VALUES (?, 'unix', 1704164645, 1704164645)", [
      {:blob, Ecto.UUID.bingenerate()}
    ])

    assert %Event{at: ~U[2024-01-02 03:04:05Z], naive: ~N[2024-01-02 03:04:05]} = TextRepo.one!(Event)
  end

  test "binary_id_type and uuid_type are separate choices, in stored values and migrations", ctx do
    # Type options belong in the Repo's configuration: migrations read them there.
    Application.put_env(:ecto_libsql, FieldRepo, binary_id_type: :string, uuid_type: :binary)
    on_exit(fn -> Application.delete_env(:ecto_libsql, FieldRepo) end)
    start_supervised!({FieldRepo, database: tmp_db!(ctx), log: false})

    :ok = Ecto.Migrator.up(FieldRepo, 1, UuidTables, log: false)
    %{rows: rows} = FieldRepo.query!("SELECT name, type FROM pragma_table_info('tokens')")
    assert Map.new(rows, &List.to_tuple/1) == %{"id" => "TEXT", "ref" => "BLOB"}

    token = FieldRepo.insert!(%Token{ref: @ref})
    assert %{rows: [["text", "blob"]]} = FieldRepo.query!("SELECT typeof(id), typeof(ref) FROM tokens")
    assert %Token{ref: @ref} = FieldRepo.get!(Token, token.id)
    assert [token.id] == FieldRepo.all(from(t in Token, where: t.ref == ^@ref, select: t.id))
  end
end
