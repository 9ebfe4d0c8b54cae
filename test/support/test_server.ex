defmodule EctoLibSql.TestServer do
  @moduledoc false
  # A real libSQL server (sqld) for the remote and replica suites: started
  # on a free 127.0.0.1 port with a temporary data directory, and stopped
  # with the test (or the suite). sqld is found on PATH, or at SQLD_BIN.
  #
  # sqld runs under a small shell wrapper that kills it when its stdin
  # closes, so a VM that dies without cleaning up takes sqld with it.

  defstruct [:port, :os_pid, :http_port, :dir, :url, :args]

  @type t :: %__MODULE__{}

  # (A background job's stdin is /dev/null unless redirected: fd 3 keeps
  # the port's pipe for the watcher.)
  @wrapper ~S"""
  exec 3<&0 2>/dev/null
  "$0" "$@" </dev/null >"$SQLD_LOG" 2>&1 &
  child=$!
  echo "$child"
  (cat <&3; kill -9 "$child") >/dev/null 2>&1 &
  wait "$child"
  """

  @doc """
  Called once by test_helper.exs: starts the suite's server, or says why
  the `:remote` tests are skipped. Returns the tags to exclude.
  """
  def start_for_suite do
    cond do
      System.get_env("LIBSQL_URL") not in [nil, ""] ->
        IO.puts("Remote and replica tests (:remote) run against LIBSQL_URL=#{System.get_env("LIBSQL_URL")}")
        []

      executable() ->
        # Owned by a process that outlives every test.
        {:ok, holder} = Agent.start(fn -> start!() end)
        server = Agent.get(holder, & &1)
        ExUnit.after_suite(fn _ -> File.rm_rf(server.dir) end)
        System.put_env("LIBSQL_URL", server.url)
        IO.puts("Remote and replica tests (:remote) run against sqld at #{server.url}")
        []

      true ->
        IO.puts(
          "Skipping remote and replica tests (:remote): put sqld (libsql-server) on PATH, " <>
            "set SQLD_BIN to its path, or set LIBSQL_URL to a running server"
        )

        [:remote]
    end
  end

  @doc "Whether a sqld binary can be started."
  def available?, do: executable() != nil

  defp executable do
    case System.get_env("SQLD_BIN") do
      path when path not in [nil, ""] -> if File.exists?(path), do: path
      _ -> System.find_executable("sqld")
    end
  end

  @doc """
  Starts a server; returns once it answers HTTP. Options: `:dir` (reuse a
  data directory, as a restart does), `:http_port`, `:jwt_key` (a public key
  file turning authentication on).
  """
  def start!(opts \\ []) do
    dir = Keyword.get_lazy(opts, :dir, fn -> tmp_dir() end)
    http_port = Keyword.get_lazy(opts, :http_port, &free_port/0)

    args =
      ["--db-path", Path.join(dir, "data.sqld"), "--http-listen-addr", "127.0.0.1:#{http_port}", "--no-welcome"] ++
        if(key = opts[:jwt_key], do: ["--auth-jwt-key-file", key], else: [])

    port =
      Port.open({:spawn_executable, System.find_executable("sh")}, [
        :binary,
        :exit_status,
        {:line, 1024},
        {:args, ["-c", @wrapper, executable() | args]},
        {:env, [{~c"SQLD_LOG", String.to_charlist(Path.join(dir, "sqld.log"))}]}
      ])

    os_pid =
      receive do
        {^port, {:data, {:eol, pid}}} -> String.to_integer(pid)
      after
        10_000 -> raise "sqld did not start"
      end

    server = %__MODULE__{
      port: port,
      os_pid: os_pid,
      http_port: http_port,
      dir: dir,
      url: "http://127.0.0.1:#{http_port}",
      args: opts
    }

    await_ready!(server, System.monotonic_time(:millisecond) + 30_000)
    server
  end

  @doc "Stops the server (SIGKILL, as a crash would) and waits until it is gone."
  def stop(%__MODULE__{port: port, os_pid: os_pid}) do
    # Stopped already (a restart stops the server it replaces).
    if Port.info(port), do: kill(port, os_pid)
    :ok
  end

  # The port is owned by the process that started the server: when that
  # process ends, the port closes and the wrapper kills sqld.
  defp kill(port, os_pid) do
    System.cmd("kill", ["-9", Integer.to_string(os_pid)], stderr_to_stdout: true)

    receive do
      {^port, {:exit_status, _}} -> :ok
    after
      10_000 -> :ok
    end

    if Port.info(port), do: Port.close(port)
    :ok
  end

  @doc "Starts the server again on the same port and data directory."
  def restart!(%__MODULE__{} = server) do
    stop(server)
    start!(Keyword.merge(server.args, dir: server.dir, http_port: server.http_port))
  end

  @doc "Starts a server owned by the test, stopped when the test ends."
  def start_supervised!(opts \\ []) do
    server = start!(opts)

    ExUnit.Callbacks.on_exit(fn ->
      stop(server)
      File.rm_rf(server.dir)
    end)

    server
  end

  @doc """
  A fresh Ed25519 key pair for a server with authentication: writes the
  public key where sqld's `--auth-jwt-key-file` reads it and returns
  `{key_file, private_key}`.
  """
  def jwt_key!(dir) do
    {public, private} = :crypto.generate_key(:eddsa, :ed25519)
    file = Path.join(dir, "jwt_key.pub")
    File.write!(file, Base.url_encode64(public, padding: false))
    {file, private}
  end

  @doc "A JWT signed with `private_key`: `%{}` claims give full access, `%{\"a\" => \"ro\"}` read-only."
  def jwt(private_key, claims_json \\ "{}") do
    encode = &Base.url_encode64(&1, padding: false)
    signing_input = encode.(~s({"alg":"EdDSA","typ":"JWT"})) <> "." <> encode.(claims_json)
    signing_input <> "." <> encode.(:crypto.sign(:eddsa, :none, signing_input, [private_key, :ed25519]))
  end

  defp await_ready!(server, deadline) do
    case :gen_tcp.connect(~c"127.0.0.1", server.http_port, [:binary, active: false], 1_000) do
      {:ok, socket} ->
        :ok = :gen_tcp.send(socket, "GET /health HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n")
        reply = :gen_tcp.recv(socket, 0, 5_000)
        :gen_tcp.close(socket)

        case reply do
          {:ok, "HTTP/1.1 200" <> _} -> :ok
          _ -> retry_ready!(server, deadline)
        end

      {:error, _} ->
        retry_ready!(server, deadline)
    end
  end

  defp retry_ready!(server, deadline) do
    if System.monotonic_time(:millisecond) > deadline do
      raise "sqld did not answer on #{server.url}: #{File.read!(Path.join(server.dir, "sqld.log"))}"
    end

    # Polling a starting server: there is no event to wait for.
    receive do
      {port, {:exit_status, status}} when port == server.port ->
        raise "sqld exited with status #{status}: #{File.read!(Path.join(server.dir, "sqld.log"))}"
    after
      50 -> await_ready!(server, deadline)
    end
  end

  defp free_port do
    {:ok, socket} = :gen_tcp.listen(0, ip: {127, 0, 0, 1})
    {:ok, port} = :inet.port(socket)
    :gen_tcp.close(socket)
    port
  end

  # Unique across VM runs too: a data directory left by an earlier run
  # would hand a new server its tables.
  defp tmp_dir do
    name = "ecto_libsql_sqld_#{:os.getpid()}_#{System.unique_integer([:positive])}"
    dir = Path.join(System.tmp_dir!(), name)
    File.rm_rf!(dir)
    File.mkdir_p!(dir)
    dir
  end
end
