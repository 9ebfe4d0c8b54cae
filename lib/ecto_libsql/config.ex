defmodule EctoLibSql.Config do
  @moduledoc """
  Validation of a pool's (or an Ecto Repo's) configuration before anything
  starts: every option is either known here, or refused with an error that
  names it and the closest valid option. Nothing is dropped silently.

  ecto_sqlite3's options are accepted with the same meaning where libSQL
  can give it, and refused with a message saying what to use where it
  cannot:

    * `mode: :readonly` opens the file read-only (`:readwrite` and
      `:readwrite_create`, the default, need nothing);
    * `cache_spill`, `case_sensitive_like`, `auto_vacuum`, `locking_mode`,
      `secure_delete`, `wal_auto_check_point`, `journal_size_limit`,
      `soft_heap_limit` and `hard_heap_limit` set the pragma of the same
      name (`wal_auto_check_point` is `PRAGMA wal_autocheckpoint`) on every
      connection;
    * `key` (SQLCipher) is refused: libSQL encrypts with its own format,
      set by `encryption_key`;
    * `load_extensions` is refused for now: load extensions with
      `EctoLibSql.Native.load_extension/3`.
  """

  alias EctoLibSql.{Error, Options}

  # The driver's own options.
  @driver [
    :default_transaction_mode,
    :max_rows,
    :sandbox,
    :slow_query_ms,
    :log_slow_query_params,
    :authorizer,
    :database_ref
  ]
  # How the Ecto adapter writes types (see EctoLibSql.Types).
  @types [:binary_id_type, :uuid_type, :map_type, :array_type, :datetime_type, :datetime_precision]
  # DBConnection's pool and connection options.
  @db_connection [
    :pool,
    :pool_size,
    :pool_count,
    :name,
    :timeout,
    :queue,
    :queue_target,
    :queue_interval,
    :idle_interval,
    :idle_limit,
    :backoff_min,
    :backoff_max,
    :backoff_type,
    :after_connect,
    :after_connect_timeout,
    :configure,
    :connection_listeners,
    :show_sensitive_data_on_connection_error,
    :max_restarts,
    :max_seconds,
    :ownership_timeout,
    :ownership_mode,
    :ownership_log,
    :log,
    # Process labels (DBConnection 2.8+); ecto_sql 3.14 passes the Repo name.
    :label
  ]
  # What Ecto and ecto_sql keep in a Repo's configuration.
  @ecto [
    :otp_app,
    :adapter,
    :repo,
    :log_stacktrace_mfa,
    :stacktrace,
    :telemetry_prefix,
    :priv,
    :url,
    :migration_source,
    :migration_repo,
    :migration_primary_key,
    :migration_foreign_key,
    :migration_timestamps,
    :migration_lock,
    :migration_default_prefix,
    :migration_cast_version_column,
    :start_apps_before_migration
  ]
  # ecto_sqlite3's pragma options, and the pragma each sets.
  @pragmas %{
    cache_spill: "cache_spill",
    case_sensitive_like: "case_sensitive_like",
    auto_vacuum: "auto_vacuum",
    locking_mode: "locking_mode",
    secure_delete: "secure_delete",
    wal_auto_check_point: "wal_autocheckpoint",
    journal_size_limit: "journal_size_limit",
    soft_heap_limit: "soft_heap_limit",
    hard_heap_limit: "hard_heap_limit"
  }
  @refused %{
    key:
      "the :key option is SQLCipher's, which libSQL does not read: libSQL encrypts with its own format, " <>
        "set by :encryption_key (a SQLCipher file cannot be opened)",
    load_extensions: ":load_extensions is not supported yet: load extensions with EctoLibSql.Native.load_extension/3"
  }
  @transaction_modes [:deferred, :immediate, :exclusive, :concurrent]

  @doc "Every option a pool or Repo accepts."
  @spec known() :: [atom()]
  def known,
    do: Options.keys() ++ @driver ++ @types ++ @db_connection ++ @ecto ++ Map.keys(@pragmas) ++ [:mode]

  @doc """
  Validates `opts` and returns them with ecto_sqlite3's options turned into
  their libSQL equivalents, or `{:error, %EctoLibSql.Error{code:
  :invalid_option}}`.
  """
  @spec normalize(keyword()) :: {:ok, keyword()} | {:error, Error.t()}
  def normalize(opts) when is_list(opts) do
    with :ok <- check_known(opts),
         :ok <- check_driver(opts),
         :ok <- check_types(opts),
         {:ok, opts} <- translate_mode(opts) do
      translate_pragmas(opts)
    end
  end

  defp check_known(opts) do
    known = known()

    case Enum.find(Keyword.keys(opts), &(&1 not in known or Map.has_key?(@refused, &1))) do
      nil -> :ok
      key when is_map_key(@refused, key) -> invalid(@refused[key])
      key -> invalid("unknown option #{inspect(key)}#{suggestion(key, known)}")
    end
  end

  defp suggestion(key, known) do
    name = Atom.to_string(key)

    case Enum.max_by(known, &String.jaro_distance(name, Atom.to_string(&1))) do
      best ->
        if String.jaro_distance(name, Atom.to_string(best)) > 0.8, do: " (did you mean #{inspect(best)}?)", else: ""
    end
  end

  defp check_driver(opts) do
    cond do
      (mode = Keyword.get(opts, :default_transaction_mode, :immediate)) not in @transaction_modes ->
        invalid("option :default_transaction_mode must be one of #{inspect(@transaction_modes)}, got: #{inspect(mode)}")

      not positive_integer?(Keyword.get(opts, :pool_size, 1)) ->
        invalid("option :pool_size must be a positive integer, got: #{inspect(opts[:pool_size])}")

      not positive_integer?(Keyword.get(opts, :max_rows, 500)) ->
        invalid("option :max_rows must be a positive integer, got: #{inspect(opts[:max_rows])}")

      not (is_nil(opts[:slow_query_ms]) or (is_integer(opts[:slow_query_ms]) and opts[:slow_query_ms] >= 0)) ->
        invalid(
          "option :slow_query_ms must be a non-negative integer (milliseconds), got: #{inspect(opts[:slow_query_ms])}"
        )

      not is_boolean(Keyword.get(opts, :log_slow_query_params, false)) ->
        invalid("option :log_slow_query_params must be a boolean, got: #{inspect(opts[:log_slow_query_params])}")

      match?({:error, _}, authorizer = authorizer_rules(opts[:authorizer])) ->
        authorizer

      (sandbox = Keyword.get(opts, :sandbox, :transaction)) not in [:transaction, :copy] ->
        invalid("option :sandbox must be :transaction or :copy, got: #{inspect(sandbox)}")

      opts[:sandbox] == :copy and (opts[:uri] != nil or opts[:encryption_key] != nil) ->
        invalid(
          "option sandbox: :copy needs a local database without :encryption_key " <>
            "(a test copy of a remote database or of an encrypted file is not supported)"
        )

      true ->
        :ok
    end
  end

  defp positive_integer?(value), do: is_integer(value) and value > 0

  defp authorizer_rules(nil), do: :ok
  defp authorizer_rules(rules) when is_list(rules), do: EctoLibSql.Native.authorizer_rules(rules)

  defp authorizer_rules(other),
    do: invalid("option :authorizer must be a keyword list of rules, got: #{inspect(other)}")

  defp check_types(opts) do
    EctoLibSql.Types.from_options(opts)
    :ok
  rescue
    e in ArgumentError -> invalid(Exception.message(e))
  end

  defp translate_mode(opts) do
    case Keyword.pop(opts, :mode) do
      {nil, opts} -> {:ok, opts}
      {:readonly, opts} -> {:ok, Keyword.put(opts, :read_only, true)}
      {mode, opts} when mode in [:readwrite, :readwrite_create] -> {:ok, opts}
      {other, _} -> invalid("option :mode must be :readwrite, :readwrite_create or :readonly, got: #{inspect(other)}")
    end
  end

  defp translate_pragmas(opts) do
    {pragmas, opts} = Keyword.split(opts, Map.keys(@pragmas))

    if pragmas == [] do
      {:ok, opts}
    else
      extra = Enum.map(pragmas, fn {key, value} -> {@pragmas[key], value} end)
      {:ok, Keyword.update(opts, :custom_pragmas, extra, &(&1 ++ extra))}
    end
  end

  @secrets [:auth_token, :encryption_key]

  @doc """
  Replaces the secrets in `opts` (`:auth_token`, `:encryption_key`) by
  functions that return them, so that they show in no `inspect`, process
  state or crash report; `reveal/1` undoes it where the native layer needs
  them.
  """
  @spec conceal(keyword()) :: keyword()
  def conceal(opts) do
    Enum.map(opts, fn
      {key, secret} when key in @secrets and is_binary(secret) -> {key, fn -> secret end}
      pair -> pair
    end)
  end

  @doc "The secrets of `opts` as plain values again (see `conceal/1`)."
  @spec reveal(keyword()) :: keyword()
  def reveal(opts) do
    Enum.map(opts, fn
      {key, concealed} when key in @secrets and is_function(concealed, 0) -> {key, concealed.()}
      pair -> pair
    end)
  end

  defp invalid(message), do: {:error, %Error{code: :invalid_option, message: message}}
end
