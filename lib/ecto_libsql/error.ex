defmodule EctoLibSql.Error do
  @moduledoc """
  An error from libSQL or from the driver, returned as
  `{:error, %EctoLibSql.Error{}}` by every fallible function.

    * `:code` - an atom that classifies the failure, to match on:
      `:busy`, `:locked`, `:constraint_unique`, `:constraint_primary_key`,
      `:constraint_foreign_key`, `:constraint_not_null`, `:constraint_check`,
      `:constraint` (any other constraint), `:interrupted`, `:readonly`,
      `:syntax`, `:error` (a generic SQL error), `:closed` (the connection,
      statement or cursor was closed), `:misuse` (an API used wrongly, such as
      a bad parameter or a cursor fetched from another process),
      `:unsupported` (not available for this kind of connection),
      `:not_found`/`:too_many_rows` (from `query_one/3`), `:mismatch` (a stored
      value that cannot be read, such as TEXT that is not UTF-8), `:io`, `:corrupt`,
      `:full`, `:cantopen`, `:invalid_option`; `:timeout` (a call's
      `timeout` ran out and its work was stopped), `:in_transaction` /
      `:no_transaction` (BEGIN inside, COMMIT or ROLLBACK outside a
      transaction); for remote databases and replicas `:auth` (credentials
      refused), `:unavailable` (the server cannot be reached),
      `:disconnected` (the server forgot the connection's stream inside a
      transaction), `:remote`, `:sync`.
    * `:extended_code` - SQLite's extended result code when there is one
      (for example 2067 for `SQLITE_CONSTRAINT_UNIQUE`), else `nil`.
    * `:message` - a human-readable description.
    * `:statement` - the SQL that failed, when known.
    * `:constraint` - the name of the constraint that failed, when SQLite's
      message does not say: for a foreign key, `<table>_<columns>_fkey`
      (Ecto's naming), found by checking the failed write against the
      table's foreign keys.
  """

  defexception [:code, :extended_code, :message, :statement, :constraint]

  @type code :: atom()

  @type t :: %__MODULE__{
          code: code(),
          extended_code: integer() | nil,
          message: String.t(),
          statement: String.t() | nil,
          constraint: String.t() | nil
        }

  @impl true
  def message(%__MODULE__{code: code, message: message, statement: nil}),
    do: "#{message} (#{code})"

  def message(%__MODULE__{code: code, message: message, statement: statement}),
    do: "#{message} (#{code})\n\n    #{statement}"
end
