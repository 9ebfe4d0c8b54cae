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
  #
  # A job that finishes within a few microseconds (a point read) is often
  # answered by the submitting call itself, as the very message `{tag,
  # reply}` it would have sent: the NIF watched the worker briefly, which
  # saves waking this process through its mailbox.

  alias EctoLibSql.{Error, Nif}

  @typedoc "What a submitting NIF returns: a job number, the reply message, or an error."
  @type submitted :: non_neg_integer() | {reference(), term()} | {:error, Error.t()}

  @doc """
  Hands a job over with `submit.(tag)`, which returns the job's number (or
  an error, or the reply itself), and waits up to `timeout` ms for its reply.
  """
  @spec run(reference(), timeout(), (reference() -> submitted())) :: term()
  def run(handle, timeout, submit) do
    tag = make_ref()

    case submit.(tag) do
      seq when is_integer(seq) -> await(handle, tag, seq, timeout)
      {^tag, reply} -> reply
      {:error, %Error{}} = error -> error
    end
  end

  @doc "Like `run/3`, for jobs whose success carries nothing: `:ok`."
  @spec run_ok(reference(), timeout(), (reference() -> submitted())) ::
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
            # Sent before the abandon: it is in the mailbox. (A job whose
            # reply could not even be built, a bug, sent nothing.)
            receive do
              {^tag, reply} -> reply
            after
              1_000 ->
                {:error,
                 %Error{
                   code: :misuse,
                   message: "internal error: the database call ended without a reply (please report it)"
                 }}
            end
        end
    end
  end
end
