defmodule EctoLibSql.MixProject.Mode do
  @moduledoc false
  # Decides, once per `mix` invocation, whether the hex dependencies
  # (ecto_sql, db_connection, ...) can be had. See "Modes of building" in the
  # design guide: `:full` compiles every layer, `:core` only the native core.

  @doc false
  def deps_path do
    case System.get_env("ECTO_LIBSQL_DEPS_PATH") do
      nil -> nil
      "" -> nil
      path -> if File.dir?(path), do: Path.expand(path), else: nil
    end
  end

  @doc false
  def mode do
    cond do
      System.get_env("ECTO_LIBSQL_MODE") == "core" -> :core
      deps_path() -> :full
      Code.ensure_loaded?(Hex) -> :full
      true -> :core
    end
  end
end

defmodule EctoLibSql.MixProject.LocalSCM do
  @moduledoc false
  # Serves hex requirements (ours and those inside the dependencies' own
  # mix.exs files, e.g. ecto's `{:telemetry, "~> 1.0"}`) from the folder named
  # by ECTO_LIBSQL_DEPS_PATH, so that a machine without Hex can build in full
  # mode. Every callback but `accepts_options/2` is Mix's own path SCM.
  @behaviour Mix.SCM

  @impl true
  def accepts_options(app, opts) do
    root = EctoLibSql.MixProject.Mode.deps_path()

    # Requirements we hold no source for (a dependency's docs or dev tools)
    # are accepted too: Mix drops them by their `only:`/`optional:` options,
    # and reports any that is really needed as unavailable.
    if root && not (Keyword.has_key?(opts, :path) or Keyword.has_key?(opts, :git)) do
      Mix.SCM.Path.accepts_options(app, Keyword.put(opts, :path, Path.join(root, Atom.to_string(app))))
    end
  end

  @impl true
  def fetchable?, do: false
  @impl true
  def format(opts), do: Mix.SCM.Path.format(opts)
  @impl true
  def format_lock(opts), do: Mix.SCM.Path.format_lock(opts)
  @impl true
  def checked_out?(opts), do: Mix.SCM.Path.checked_out?(opts)
  @impl true
  def lock_status(opts), do: Mix.SCM.Path.lock_status(opts)
  @impl true
  def equal?(a, b), do: Mix.SCM.Path.equal?(a, b)
  @impl true
  def managers(opts), do: Mix.SCM.Path.managers(opts)
  @impl true
  def checkout(opts), do: Mix.SCM.Path.checkout(opts)
  @impl true
  def update(opts), do: Mix.SCM.Path.update(opts)
end

defmodule Mix.Tasks.Compile.LibsqlNif do
  @moduledoc false
  # Builds the Rust crate with cargo (release profile) and copies the shared
  # library into priv/. Rustler's mix package cannot be fetched everywhere we
  # build, and all it would do for us is these few lines. Cargo is only run
  # when a Rust source or manifest is newer than the library in priv/.
  use Mix.Task.Compiler

  @crate "ecto_libsql"

  @impl true
  def run(_args) do
    target = Path.join(priv_dir(), "lib#{@crate}.so")

    if stale?(target) do
      build!(target)
      {:ok, []}
    else
      {:noop, []}
    end
  end

  # The project's own priv/ (Mix links it into _build), so the library is
  # found where `:code.priv_dir/1` looks in every build environment.
  defp priv_dir, do: Path.join(Path.dirname(Mix.Project.project_file()), "priv")

  defp sources do
    Path.wildcard("native/**/*.rs") ++ ["Cargo.toml", "Cargo.lock", "native/#{@crate}/Cargo.toml"]
  end

  defp stale?(target), do: Mix.Utils.stale?(Enum.filter(sources(), &File.exists?/1), [target])

  defp build!(target) do
    Mix.shell().info("Compiling native crate #{@crate} (cargo build --release)")
    cargo = System.find_executable("cargo") || Mix.raise("cargo not found: install Rust to build #{@crate}")

    {_, status} =
      System.cmd(cargo, ["build", "--release", "--package", @crate],
        into: IO.stream(:stdio, :line),
        stderr_to_stdout: true
      )

    status == 0 || Mix.raise("cargo build failed with status #{status}")
    built = Path.join(target_dir(), "release/#{library_file()}")
    File.mkdir_p!(Path.dirname(target))
    # Copy to a temporary name and rename, so a running VM that has the old
    # library mapped never sees a half-written file.
    tmp = target <> ".tmp"
    File.cp!(built, tmp)
    File.rename!(tmp, target)
  end

  defp target_dir, do: System.get_env("CARGO_TARGET_DIR") || "target"

  defp library_file do
    case :os.type() do
      {:unix, :darwin} -> "lib#{@crate}.dylib"
      {:win32, _} -> "#{@crate}.dll"
      _ -> "lib#{@crate}.so"
    end
  end
end

defmodule EctoLibSql.MixProject do
  use Mix.Project

  alias EctoLibSql.MixProject.Mode

  @version "0.1.0"

  if Mode.deps_path() do
    Mix.SCM.prepend(EctoLibSql.MixProject.LocalSCM)
  end

  def project do
    mode = Mode.mode()

    [
      app: :ecto_libsql,
      version: @version,
      elixir: "~> 1.14",
      start_permanent: Mix.env() == :prod,
      # The two modes compile different files; separate build folders keep
      # a switch between them from recompiling everything.
      build_path: if(mode == :core, do: "_build/core", else: "_build"),
      compilers: [:libsql_nif] ++ Mix.compilers(),
      elixirc_paths: elixirc_paths(Mix.env(), mode),
      test_paths: test_paths(mode, System.get_env("ECTO_LIBSQL_INTEGRATION")),
      deps: deps(mode),
      aliases: aliases(mode),
      description: "Ecto adapter and DBConnection driver for libSQL (SQLite, Turso), with a Rust NIF core",
      package: package(),
      docs: [main: "readme", extras: ["README.md"]]
    ]
  end

  def application do
    [extra_applications: [:logger]]
  end

  # Layers 3 and 4 (the DBConnection driver and the Ecto adapter) need hex
  # packages; core mode compiles everything else.
  @full_only ~w(lib/ecto_libsql.ex lib/ecto_libsql/protocol.ex lib/ecto_libsql/query.ex
                lib/ecto_libsql/telemetry.ex lib/ecto)

  defp elixirc_paths(:test, :full), do: ["lib", "test/support"]
  defp elixirc_paths(_, :full), do: ["lib"]

  defp elixirc_paths(_, :core) do
    Enum.reject(Path.wildcard("lib/**/*.ex"), fn file ->
      Enum.any?(@full_only, &(file == &1 or String.starts_with?(file, &1 <> "/")))
    end)
  end

  defp test_paths(:full, integration) when integration not in [nil, ""], do: ["integration_test/libsql"]
  defp test_paths(:full, _), do: ["test/core", "test/full"]
  defp test_paths(:core, _), do: ["test/core"]

  defp deps(:core), do: []

  defp deps(:full) do
    [
      {:db_connection, "~> 2.5"},
      {:ecto_sql, "~> 3.13"},
      {:ecto, "~> 3.13"},
      {:telemetry, "~> 0.4 or ~> 1.0"},
      {:decimal, "~> 1.6 or ~> 2.0"},
      {:jason, "~> 1.0", optional: true},
      {:stream_data, "~> 1.0", only: [:test, :dev]}
    ] ++ bench_deps()
  end

  # ecto_sqlite3 is only a point of comparison for the benchmark, used when
  # its sources sit in ECTO_LIBSQL_DEPS_PATH.
  defp bench_deps do
    root = Mode.deps_path()

    if System.get_env("ECTO_LIBSQL_BENCH_COMPARE") && root && File.dir?(Path.join(root, "ecto_sqlite3")) do
      [{:ecto_sqlite3, "~> 0.17", only: :bench}, {:exqlite, "~> 0.20", only: :bench}]
    else
      []
    end
  end

  defp aliases(mode) do
    [compile: [&announce_mode(&1, mode), "compile"]]
  end

  defp announce_mode(_args, mode) do
    if Process.get(:ecto_libsql_mode_announced) != true do
      Process.put(:ecto_libsql_mode_announced, true)

      case mode do
        :full ->
          Mix.shell().info("ecto_libsql: full mode (native core, DBConnection driver, Ecto adapter)")

        :core ->
          Mix.shell().info(
            "ecto_libsql: core mode (native core and EctoLibSql.Native only; " <>
              "set ECTO_LIBSQL_DEPS_PATH to build the driver and the Ecto adapter)"
          )
      end
    end
  end

  defp package do
    [
      licenses: ["Apache-2.0"],
      files: ~w(lib native/ecto_libsql/src native/ecto_libsql/Cargo.toml Cargo.toml Cargo.lock mix.exs README.md)
    ]
  end
end
