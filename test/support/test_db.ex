defmodule EctoLibSql.TestDB do
  @moduledoc false
  # Helpers shared by the core suites: fresh databases and error matching.

  import ExUnit.Assertions

  alias EctoLibSql.Native

  @doc "A fresh directory for this test, removed when it finishes."
  def tmp_dir!(context) do
    name = "#{inspect(context.module)}_#{context.test}" |> String.replace(~r/[^A-Za-z0-9_]/, "_") |> String.slice(0, 80)
    dir = Path.join(System.tmp_dir!(), "ecto_libsql_test_#{System.unique_integer([:positive])}_#{name}")
    File.rm_rf!(dir)
    File.mkdir_p!(dir)
    ExUnit.Callbacks.on_exit(fn -> File.rm_rf!(dir) end)
    dir
  end

  @doc "A path for a database file in a fresh directory."
  def tmp_db!(context, name \\ "test.db"), do: Path.join(tmp_dir!(context), name)

  @doc "Opens a private in-memory connection, closed when the test ends."
  def open_memory!(opts \\ []) do
    {:ok, conn} = Native.open(Keyword.put(opts, :database, ":memory:"))
    ExUnit.Callbacks.on_exit(fn -> Native.close(conn) end)
    conn
  end

  @doc "Opens `opts`, closed when the test ends."
  def open!(opts) do
    {:ok, conn} = Native.open(opts)
    ExUnit.Callbacks.on_exit(fn -> Native.close(conn) end)
    conn
  end

  @doc "Asserts `result` is an error with `code` and returns the error."
  def assert_error(result, code) do
    assert {:error, %EctoLibSql.Error{code: ^code} = error} = result
    assert is_binary(error.message) and error.message != ""
    error
  end

  @doc "The rows of a successful query."
  def rows!(conn, sql, params \\ []) do
    {:ok, %EctoLibSql.Result{rows: rows}} = Native.query(conn, sql, params)
    rows
  end

  @doc """
  A recursive CTE that counts to `n`: long-running, but never endless, so
  a test whose interrupt is lost still ends.
  """
  def counting_query(n \\ 2_000_000_000),
    do: "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < #{n}) SELECT count(*) FROM c"

  @doc """
  Interrupts `conn` until `task` (running a statement on it) finishes, and
  returns the task's result with the time from the last interrupt to the
  reply. An interrupt that reaches SQLite before the statement starts is
  dropped by SQLite, so one interrupt is not enough to be sure.
  """
  def interrupt_until_done(conn, %Task{ref: ref} = task, deadline_ms \\ 10_000) do
    deadline = System.monotonic_time(:millisecond) + deadline_ms
    do_interrupt(conn, task, ref, deadline)
  end

  defp do_interrupt(conn, task, ref, deadline) do
    sent = System.monotonic_time(:millisecond)
    :ok = EctoLibSql.Native.interrupt(conn)

    receive do
      {^ref, result} ->
        Process.demonitor(ref, [:flush])
        {result, System.monotonic_time(:millisecond) - sent}
    after
      100 ->
        if System.monotonic_time(:millisecond) > deadline,
          do: flunk("the statement did not stop"),
          else: do_interrupt(conn, task, ref, deadline)
    end
  end

  @doc "The OS resident set size of this VM, in bytes."
  def rss_bytes do
    "/proc/self/status"
    |> File.read!()
    |> String.split("\n")
    |> Enum.find_value(fn line ->
      case Regex.run(~r/^VmRSS:\s+(\d+) kB/, line) do
        [_, kb] -> String.to_integer(kb) * 1024
        nil -> nil
      end
    end)
  end

  @doc """
  Collects garbage in every process, so dropped handles are freed, and
  waits (up to 30 s) until the connection threads of the freed handles
  have finished, so that their memory is returned.
  """
  def full_gc(threads_left \\ nil) do
    for pid <- Process.list(), do: :erlang.garbage_collect(pid)
    # Freed resources can release others (a statement its connection).
    for pid <- Process.list(), do: :erlang.garbage_collect(pid)
    if threads_left, do: await_threads(threads_left, System.monotonic_time(:millisecond) + 30_000)
    :ok
  end

  defp await_threads(limit, deadline) do
    cond do
      EctoLibSql.Native.connection_threads() <= limit ->
        :ok

      System.monotonic_time(:millisecond) > deadline ->
        flunk("#{EctoLibSql.Native.connection_threads()} connection threads still alive, expected at most #{limit}")

      true ->
        # Threads end on their own; there is no message to wait for.
        Process.sleep(10)
        await_threads(limit, deadline)
    end
  end
end
