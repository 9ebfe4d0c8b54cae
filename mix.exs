defmodule EctoLibSql.MixProject do
  use Mix.Project

  @version "0.1.0"
  @source_url "https://github.com/ecto-libsql/ecto_libsql"

  def project do
    [
      app: :ecto_libsql,
      version: @version,
      elixir: "~> 1.14",
      start_permanent: Mix.env() == :prod,
      elixirc_paths: elixirc_paths(Mix.env()),
      test_paths: test_paths(System.get_env("ECTO_LIBSQL_INTEGRATION")),
      deps: deps(),
      # bin/test keeps one lock file per Elixir line (their Hex repositories
      # differ); everyone else uses mix.lock.
      lockfile: System.get_env("ECTO_LIBSQL_LOCKFILE", "mix.lock"),
      description: "Ecto adapter and DBConnection driver for libSQL (SQLite, Turso), with a Rust NIF core",
      package: package(),
      source_url: @source_url,
      docs: docs()
    ]
  end

  def application do
    [extra_applications: [:logger]]
  end

  defp elixirc_paths(:test), do: ["lib", "test/support"]
  defp elixirc_paths(_), do: ["lib"]

  # `ECTO_LIBSQL_INTEGRATION=1 mix test` runs ecto's and ecto_sql's shared
  # integration suites against this adapter instead of the project's own.
  defp test_paths(flag) when flag in [nil, "", "0"], do: ["test"]
  defp test_paths(_), do: ["integration_test/libsql"]

  defp deps do
    [
      {:ecto_sql, "~> 3.13"},
      {:ecto, "~> 3.13"},
      {:db_connection, "~> 2.5"},
      {:telemetry, "~> 0.4 or ~> 1.0"},
      {:decimal, "~> 2.0 or ~> 3.0"},
      {:jason, "~> 1.0", optional: true},
      {:rustler_precompiled, "~> 0.8"},
      # Only to build the NIF from source (ECTO_LIBSQL_BUILD=1, or this repository).
      {:rustler, ">= 0.30.0", optional: true},
      {:stream_data, "~> 1.0", only: [:dev, :test]},
      {:benchee, "~> 1.3", only: :bench}
    ] ++ current_elixir_deps()
  end

  # ex_doc 0.40 and ecto_sqlite3 0.24 need Elixir 1.15 or newer; on the 1.14
  # line the docs and the comparison benchmark are not built.
  defp current_elixir_deps do
    if Version.match?(System.version(), ">= 1.15.0") do
      [
        {:ex_doc, "~> 0.34", only: :dev, runtime: false},
        {:ecto_sqlite3, "~> 0.24", only: :bench}
      ]
    else
      []
    end
  end

  defp package do
    [
      licenses: ["Apache-2.0"],
      links: %{"Source" => @source_url},
      files: ~w(lib native/ecto_libsql/src native/ecto_libsql/Cargo.toml Cargo.toml Cargo.lock
                checksum-Elixir.EctoLibSql.Nif.exs mix.exs README.md LICENSE .formatter.exs)
    ]
  end

  defp docs do
    [
      main: "readme",
      source_ref: "v#{@version}",
      extras: ["README.md", "RELEASING.md", {"bench/README.md", filename: "benchmarks", title: "Benchmarks"}],
      groups_for_modules: [
        "Ecto adapter": [~r/^Ecto\.Adapters\.LibSql/],
        Driver: [EctoLibSql, EctoLibSql.Query, EctoLibSql.Maintenance, EctoLibSql.Changes, EctoLibSql.Telemetry],
        "Native API": [EctoLibSql.Native, EctoLibSql.Result, EctoLibSql.Error, EctoLibSql.Cursor, EctoLibSql.Options]
      ]
    ]
  end
end
