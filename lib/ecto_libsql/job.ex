defmodule EctoLibSql.Job do
  @moduledoc false
  # How `EctoLibSql.Native` waits for the native layer. A call that touches
  # a database hands a job to a thread the NIF owns (the connection's worker,
  # or a thread of its own for opening and replication) and returns at once;
  # the reply arrives as `{tag, reply}`, and the caller waits in `receive`.
  # No scheduler ever waits on SQLite, a lock or the network.
  #
  # A caller that times out abandons its job: the worker interrupts it (or
  # stops its wait for the write gate) and drops its reply, so a late reply
  # never lands in the caller's mailbox.

  alias EctoLibSql.{Error, Nif}

  @doc """
  Hands a job over with `submit.(tag)`, which returns the job's number (or
  an error), and waits up to `timeout` ms for its reply.
  """
  @spec run(reference(), timeout(), (reference() -> non_neg_integer() | {:error, Error.t()})) :: term()
  def run(handle, timeout, submit) do
    tag = make_ref()

    case submit.(tag) do
      seq when is_integer(seq) -> await(handle, tag, seq, timeout)
      {:error, %Error{}} = error -> error
    end
  end

  @doc "Like `run/3`, for jobs whose success carries nothing: `:ok`."
  @spec run_ok(reference(), timeout(), (reference() -> non_neg_integer() | {:error, Error.t()})) ::
          :ok | {:error, Error.t()}
  def run_ok(handle, timeout, submit) do
    case run(handle, timeout, submit) do
      {:ok, :ok} -> :ok
      other -> other
    end
  end

  @doc """
  For work on a thread of its own (opening, replication), which always
  replies and bounds its own waits: waits for the reply.
  """
  @spec on_thread((reference() -> :ok | {:error, Error.t()})) :: term()
  def on_thread(submit) do
    tag = make_ref()

    case submit.(tag) do
      :ok ->
        receive do
          {^tag, reply} -> reply
        end

      {:error, %Error{}} = error ->
        error
    end
  end

  defp await(handle, tag, seq, timeout) do
    receive do
      {^tag, reply} -> reply
    after
      timeout ->
        case Nif.abandon(handle, seq) do
          :dropped ->
            {:error,
             %Error{code: :timeout, message: "the database call did not finish within #{timeout} ms and was stopped"}}

          :sent ->
            receive do
              {^tag, reply} -> reply
            end
        end
    end
  end
end
