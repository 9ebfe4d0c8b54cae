defmodule Ecto.Adapters.LibSql.ConflictRetry do
  @moduledoc """
  Runs a transaction again when it loses a write conflict: opt in per call
  with `Repo.transaction(fun, mode: :concurrent, retry_conflicts: n)`.

  In the turso engine's MVCC mode (`engine: :turso, mvcc: true`),
  transactions begun with `mode: :concurrent` write side by side; when two
  write the same row, the later one fails with
  `%EctoLibSql.Error{code: :conflict}` (at the write or at COMMIT) and is
  rolled back. With `retry_conflicts: n` the whole transaction function
  runs again, up to `n` more times, after a random backoff that doubles
  with each attempt (full jitter, from 1 ms up to 64 ms). The function must
  therefore be safe to run again: it should do nothing outside the
  database that a second run would repeat.

  Each retry emits `[:ecto_libsql, :transaction, :retry]` with
  measurements `%{attempt: n, backoff_ms: ms}` and metadata
  `%{repo: repo, error: %EctoLibSql.Error{}}`. A transaction nested in
  another (a savepoint) is never retried on its own: the conflict ends the
  outer transaction, which is the one to retry.
  """

  @base_ms 1
  @cap_ms 64

  @doc """
  Runs `transaction` (a zero-arity function that runs the whole
  transaction), again after each `:conflict` error while `opts`'
  `:retry_conflicts` allows. `nested?` says whether a transaction is open
  already (no retry then).
  """
  @spec run(keyword(), boolean(), module() | nil, function()) :: term()
  def run(opts, nested?, repo, transaction) do
    case Keyword.get(opts, :retry_conflicts, 0) do
      0 ->
        transaction.()

      retries when is_integer(retries) and retries > 0 ->
        if nested?, do: transaction.(), else: attempt(transaction, retries, 1, repo)

      other ->
        raise ArgumentError, "option :retry_conflicts must be a non-negative integer, got: #{inspect(other)}"
    end
  end

  defp attempt(transaction, retries, n, repo) do
    transaction.()
  rescue
    error in EctoLibSql.Error ->
      if error.code == :conflict and n <= retries do
        backoff = :rand.uniform(backoff_ceiling(n)) - 1

        :telemetry.execute([:ecto_libsql, :transaction, :retry], %{attempt: n, backoff_ms: backoff}, %{
          repo: repo,
          error: error
        })

        Process.sleep(backoff)
        attempt(transaction, retries, n + 1, repo)
      else
        reraise error, __STACKTRACE__
      end
  end

  @doc false
  # The largest backoff before retry `n` (from 1): 1, 2, 4, ... ms, at most 64.
  @spec backoff_ceiling(pos_integer()) :: pos_integer()
  def backoff_ceiling(n), do: min(@cap_ms, @base_ms * Integer.pow(2, min(n - 1, 16)))
end
