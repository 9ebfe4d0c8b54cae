defmodule EctoLibSql.TestNode do
  @moduledoc false
  # A second BEAM, in an OS process of its own, running an Ecto Repo: the
  # nodes of a multi-node test. Started with OTP's :peer over standard I/O,
  # so the test VM needs no distribution; the peer gets this VM's code path
  # (the project, its dependencies and the NIF).

  defmodule Repo do
    use Ecto.Repo, otp_app: :ecto_libsql, adapter: Ecto.Adapters.LibSql
  end

  defmodule Post do
    use Ecto.Schema

    schema "posts" do
      field(:title, :string)
    end
  end

  @doc """
  Starts a peer VM (linked to the caller, so it ends with it) and, in it,
  `Repo` with `opts`; returns the peer.
  """
  def start!(opts) do
    args = Enum.flat_map(:code.get_path(), &[~c"-pa", &1])
    {:ok, peer, _node} = :peer.start_link(%{connection: :standard_io, args: args})
    {:ok, _} = :peer.call(peer, Application, :ensure_all_started, [:ecto_sql])
    :ok = :peer.call(peer, __MODULE__, :start_repo, [opts])
    peer
  end

  @doc "Runs `fun` (a `{module, function, args}`) on the peer."
  def call(peer, {module, function, args}, timeout \\ 30_000), do: :peer.call(peer, module, function, args, timeout)

  ## Run on the peer

  @doc false
  def start_repo(opts) do
    # Owned by a process that outlives the :peer.call that started it.
    parent = self()

    spawn(fn ->
      {:ok, _} = Repo.start_link(Keyword.merge([log: false, pool_size: 2], opts))
      send(parent, :started)
      Process.sleep(:infinity)
    end)

    receive do
      :started -> :ok
    after
      30_000 -> :timeout
    end
  end

  @doc false
  def insert(title) do
    case Repo.insert(%Post{title: title}) do
      {:ok, _} -> :ok
      {:error, error} -> {:error, error}
    end
  rescue
    error -> {:error, error}
  end

  @doc false
  def titles do
    import Ecto.Query
    Repo.all(from(p in Post, select: p.title, order_by: p.id))
  end
end
