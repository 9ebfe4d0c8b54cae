defmodule EctoLibSql.Result do
  @moduledoc """
  The result of a query.

    * `:command` - the kind of statement that ran (`:select`, `:insert`,
      `:update`, `:delete`, `:create`, `:begin`, ... or `:other`); `nil`
      when the low-level API did not classify it
    * `:columns` - the column names, present even when no row came back
      (`nil` for a statement that returns no columns)
    * `:rows` - a list of rows, each a list of values (`nil` for a
      statement that returns no columns)
    * `:num_rows` - the number of rows returned, or the number of rows changed
      for a statement that returns none
  """

  defstruct command: nil, columns: nil, rows: nil, num_rows: 0

  @type value :: nil | integer() | float() | binary()

  @type t :: %__MODULE__{
          command: atom() | nil,
          columns: [String.t()] | nil,
          rows: [[value()]] | nil,
          num_rows: non_neg_integer()
        }
end
