defmodule EctoLibSql.Options do
  @moduledoc """
  Validation of `EctoLibSql.Native.open/1` options, and their translation
  into what the native layer runs: statements run once per database
  (`journal_mode`) and statements run on every new connection (the other
  pragmas).

  Defaults for a local file: WAL journal, `synchronous = NORMAL`, foreign
  keys on, a 5 s busy timeout, a 256-statement cache, `journal_size_limit`
  64 MiB.

  `engine: :turso` opens a local file or `:memory:` with the Turso engine
  (the Rust rewrite of SQLite) instead of libSQL; `mvcc: true` turns on its
  MVCC mode, where transactions begun with `mode: :concurrent` write side
  by side and a conflict ends one of them with a `:conflict` error.
  """

  alias EctoLibSql.Error

  @keys [
    :database,
    :uri,
    :auth_token,
    :encryption_key,
    :sync_interval,
    :read_your_writes,
    :sync_on_open,
    :read_only,
    :busy_timeout,
    :journal_mode,
    :synchronous,
    :foreign_keys,
    :cache_size,
    :temp_store,
    :custom_pragmas,
    :statement_cache_size,
    :engine,
    :mvcc
  ]

  @journal_modes [:delete, :truncate, :persist, :memory, :wal, :off]
  @synchronous [:off, :normal, :full, :extra]
  @temp_store [:default, :file, :memory]

  @typedoc "The options `EctoLibSql.Native.open/1` accepts."
  @type t :: keyword()

  @doc "Every option `EctoLibSql.Native.open/1` knows."
  @spec keys() :: [atom()]
  def keys, do: @keys

  @doc """
  Validates `opts` and returns `{database_opts, connect_opts}`, the maps the
  NIF's `open_database` and `connect` take. Unknown or ill-typed options are
  an `:invalid_option` error that names the option.
  """
  @spec parse(keyword()) :: {:ok, {map(), map()}} | {:error, Error.t()}
  def parse(opts) when is_list(opts) do
    with :ok <- check_keyword(opts),
         :ok <- check_known(opts),
         {:ok, mode} <- mode(opts),
         {:ok, values} <- check_values(opts),
         :ok <- check_engine(mode, values) do
      {:ok, {database_opts(mode, values), connect_opts(mode, values)}}
    end
  end

  def parse(other), do: invalid("options must be a keyword list, got: #{inspect(other)}")

  @doc """
  Validates `opts` for a new connection to an already opened database of
  `kind` (`:local`, `:remote` or `:replica`) and returns the map the NIF's
  `connect` takes. `:database` and `:uri` are not needed: the database is
  already open, and its kind decides the defaults.
  """
  @spec parse_connect(keyword(), :local | :remote | :replica) :: {:ok, map()} | {:error, Error.t()}
  def parse_connect(opts, kind) when is_list(opts) do
    with :ok <- check_keyword(opts),
         :ok <- check_known(opts),
         {:ok, values} <- check_values(opts) do
      {:ok, connect_opts(kind, values)}
    end
  end

  def parse_connect(other, _kind), do: invalid("options must be a keyword list, got: #{inspect(other)}")

  defp check_keyword(opts) do
    if Keyword.keyword?(opts), do: :ok, else: invalid("options must be a keyword list, got: #{inspect(opts)}")
  end

  defp check_known(opts) do
    case Enum.find(Keyword.keys(opts), &(&1 not in @keys)) do
      nil -> :ok
      key -> invalid("unknown option #{inspect(key)}; known options: #{inspect(@keys)}")
    end
  end

  defp mode(opts) do
    case {opts[:database], opts[:uri]} do
      {nil, nil} -> invalid("give :database (a path or \":memory:\"), :uri, or both")
      {_, nil} -> {:ok, :local}
      {nil, _} -> {:ok, :remote}
      {_, _} -> {:ok, :replica}
    end
  end

  defp check_values(opts) do
    Enum.reduce_while(opts, {:ok, %{}}, fn {key, value}, {:ok, acc} ->
      case check(key, value) do
        :ok -> {:cont, {:ok, Map.put(acc, key, value)}}
        {:error, expected} -> {:halt, invalid("option #{inspect(key)} must be #{expected}, got: #{inspect(value)}")}
      end
    end)
  end

  defp check(key, v) when key in [:database, :uri, :auth_token, :encryption_key],
    do: if(is_binary(v) and v != "", do: :ok, else: {:error, "a non-empty string"})

  # ecto_sqlite3 spells it :on/:off; both spellings work, so switching
  # adapters stays a one-line change.
  defp check(:foreign_keys, v) when v in [:on, :off], do: :ok

  defp check(:engine, v), do: one_of(v, [:libsql, :turso])

  defp check(key, v) when key in [:read_your_writes, :sync_on_open, :read_only, :foreign_keys, :mvcc],
    do: if(is_boolean(v), do: :ok, else: {:error, "a boolean"})

  defp check(key, v) when key in [:busy_timeout, :statement_cache_size],
    do: if(is_integer(v) and v >= 0, do: :ok, else: {:error, "a non-negative integer"})

  defp check(:sync_interval, v),
    do: if(is_integer(v) and v > 0, do: :ok, else: {:error, "a positive integer (milliseconds)"})

  defp check(:cache_size, v), do: if(is_integer(v), do: :ok, else: {:error, "an integer"})
  defp check(:journal_mode, v), do: one_of(v, @journal_modes)
  defp check(:synchronous, v), do: one_of(v, @synchronous)
  defp check(:temp_store, v), do: one_of(v, @temp_store)

  defp check(:custom_pragmas, v) do
    valid? =
      is_list(v) and
        Enum.all?(v, fn
          {name, value} when is_atom(name) or is_binary(name) -> pragma_value(value) != :error
          _ -> false
        end)

    if valid?, do: :ok, else: {:error, "a list of {name, value} pairs with integer, boolean, atom or string values"}
  end

  # The turso engine serves local files and memory, without libSQL's
  # encryption; MVCC is the turso engine's.
  defp check_engine(mode, values) do
    engine = engine(mode, values)

    cond do
      engine == :turso and mode != :local ->
        invalid("engine: :turso opens local files and \":memory:\" only; #{mode} databases use engine: :libsql")

      engine == :turso and values[:encryption_key] != nil ->
        invalid("option :encryption_key is libSQL's encryption: the turso engine does not read it")

      engine == :turso and values[:journal_mode] not in [nil, :wal] ->
        invalid("the turso engine keeps a WAL journal (or its MVCC log): option :journal_mode must be :wal")

      values[:mvcc] == true and engine != :turso ->
        invalid("option mvcc: true needs engine: :turso (libSQL has no MVCC mode)")

      true ->
        :ok
    end
  end

  @doc """
  The engine options ask for, for a database of `mode`: `:engine` when
  given; else, for a local database, the application's `:default_engine`
  (`config :ecto_libsql, default_engine: :turso`, which runs a whole test
  suite on the other engine); else `:libsql`.
  """
  @spec engine(:local | :remote | :replica, keyword() | map()) :: :libsql | :turso
  def engine(mode, opts) do
    case {opts[:engine], mode} do
      {nil, :local} -> Application.get_env(:ecto_libsql, :default_engine, :libsql)
      {nil, _} -> :libsql
      {engine, _} -> engine
    end
  end

  defp one_of(v, allowed),
    do: if(v in allowed, do: :ok, else: {:error, "one of #{inspect(allowed)}"})

  defp database_opts(mode, values) do
    file? = mode == :local and values[:database] != ":memory:"
    read_only? = Map.get(values, :read_only, false)

    # The turso engine's files are always in WAL (or MVCC) mode.
    journal =
      case {file? and not read_only? and engine(mode, values) == :libsql, Map.get(values, :journal_mode, :wal)} do
        {true, journal} -> ["PRAGMA journal_mode = #{journal}"]
        {false, _} -> []
      end

    # auto_vacuum only takes effect before the file's first page is
    # written, and switching to WAL writes it: it goes first.
    auto_vacuum =
      for {name, value} <- Map.get(values, :custom_pragmas, []),
          to_string(name) == "auto_vacuum",
          file?,
          do: pragma_sql(name, value)

    %{
      mode: Atom.to_string(mode),
      database: values[:database],
      uri: values[:uri],
      auth_token: values[:auth_token],
      encryption_key: values[:encryption_key],
      sync_interval: values[:sync_interval],
      read_your_writes: Map.get(values, :read_your_writes, true),
      sync_on_open: Map.get(values, :sync_on_open, true),
      read_only: read_only?,
      engine: Atom.to_string(engine(mode, values)),
      mvcc: Map.get(values, :mvcc, false),
      init_sql: auto_vacuum ++ journal
    }
  end

  defp connect_opts(mode, values) do
    defaults =
      if mode in [:remote, :replica] do
        # A remote server keeps its own settings; only what the user asks
        # for explicitly is sent. An embedded replica's connection parses
        # each statement and refuses `PRAGMA synchronous = ...` and the like
        # (libsql 0.10), so it gets no defaults either.
        Map.take(values, [:synchronous, :foreign_keys, :cache_size, :temp_store])
      else
        Map.merge(
          %{synchronous: :normal, foreign_keys: true},
          Map.take(values, [:synchronous, :foreign_keys, :cache_size, :temp_store])
        )
      end

    # WAL is a property of the file, set once per database; the rollback
    # journal modes are per connection, so every connection sets them.
    journal =
      case {mode, values[:journal_mode], values[:read_only]} do
        {:local, journal, read_only} when journal not in [nil, :wal] and read_only != true -> [journal_mode: journal]
        _ -> []
      end

    # A writable local database: the WAL is truncated back to 64 MiB after
    # a checkpoint (a long reader can make it grow far beyond, and SQLite
    # never shrinks it by itself), unless `journal_size_limit` says
    # otherwise (a custom pragma, so it comes later and wins).
    limits =
      if mode == :local and values[:read_only] != true,
        do: [journal_size_limit: 64 * 1024 * 1024],
        else: []

    pragmas =
      journal
      |> Kernel.++(Enum.map([:synchronous, :foreign_keys, :cache_size, :temp_store], &{&1, defaults[&1]}))
      |> Enum.reject(fn {_, v} -> is_nil(v) end)
      |> Kernel.++(limits)
      |> Kernel.++(Map.get(values, :custom_pragmas, []))
      |> Enum.map(fn {name, value} -> pragma_sql(name, value) end)

    %{
      busy_timeout: Map.get(values, :busy_timeout, 5000),
      statement_cache_size: Map.get(values, :statement_cache_size, 256),
      setup_sql: pragmas
    }
  end

  @doc """
  The SQL for `PRAGMA name = value`. Names must be identifiers (optionally
  prefixed by a schema, `main.cache_size`); values may be integers,
  booleans, atoms or strings (quoted unless they are plain identifiers).
  Raises `ArgumentError` for anything else.
  """
  @spec pragma_sql(atom() | String.t(), term()) :: String.t()
  def pragma_sql(name, value) do
    name = to_string(name)

    unless Regex.match?(~r/\A([A-Za-z_][A-Za-z0-9_]*\.)?[A-Za-z_][A-Za-z0-9_]*\z/, name) do
      raise ArgumentError, "invalid pragma name #{inspect(name)}"
    end

    case pragma_value(value) do
      :error -> raise ArgumentError, "invalid value for pragma #{name}: #{inspect(value)}"
      rendered -> "PRAGMA #{name} = #{rendered}"
    end
  end

  defp pragma_value(true), do: "ON"
  defp pragma_value(false), do: "OFF"
  defp pragma_value(v) when is_integer(v), do: Integer.to_string(v)
  defp pragma_value(nil), do: :error
  defp pragma_value(v) when is_atom(v), do: pragma_value(Atom.to_string(v))

  defp pragma_value(v) when is_binary(v) do
    if Regex.match?(~r/\A[A-Za-z_][A-Za-z0-9_]*\z/, v),
      do: v,
      else: "'" <> String.replace(v, "'", "''") <> "'"
  end

  defp pragma_value(_), do: :error

  defp invalid(message), do: {:error, %Error{code: :invalid_option, message: message}}
end
