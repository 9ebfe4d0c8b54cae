defmodule EctoLibSql.Cursor do
  @moduledoc """
  A cursor from `EctoLibSql.Native.declare_cursor/3`: an open result set
  stepped `max_rows` at a time by `EctoLibSql.Native.fetch/2`. It belongs to
  the process that declared it.
  """

  defstruct [:ref, :columns]

  @type t :: %__MODULE__{ref: reference(), columns: [String.t()]}
end
