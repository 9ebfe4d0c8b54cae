# The EctoLibSql demo (bin/demo): works in core mode, with no hex package.
alias EctoLibSql.Native

path = Path.join(System.tmp_dir!(), "ecto_libsql_demo.db")
for suffix <- ["", "-wal", "-shm"], do: File.rm(path <> suffix)

IO.puts("EctoLibSql demo on SQLite #{Native.sqlite_version()} (libSQL), database #{path}\n")

{:ok, conn} = Native.open(database: path)
{:ok, journal} = Native.pragma(conn, :journal_mode)
{:ok, sync} = Native.pragma(conn, :synchronous)
{:ok, fk} = Native.pragma(conn, :foreign_keys)
IO.puts("defaults: journal_mode=#{journal} synchronous=#{sync} (1 = NORMAL) foreign_keys=#{fk}")

{:ok, _} =
  Native.execute(conn, """
  CREATE TABLE posts (id INTEGER PRIMARY KEY, title TEXT NOT NULL UNIQUE, views INTEGER, score REAL, body BLOB)
  """)

insert = "INSERT INTO posts (title, views, score, body) VALUES (?1, ?2, ?3, ?4)"

for i <- 1..5 do
  {:ok, 1} = Native.execute(conn, insert, ["post #{i}", i * 10, i / 2, {:blob, <<i, 0, 255>>}])
end

IO.puts("\nwrote 5 rows; reading them back:")
{:ok, result} = Native.query(conn, "SELECT id, title, views, score, body FROM posts WHERE views >= :min", min: 20)
IO.puts("  columns: #{inspect(result.columns)}")
Enum.each(result.rows, &IO.puts("  #{inspect(&1)}"))

{:ok, stats} = Native.cache_stats(conn)
IO.puts("\nstatement cache: #{stats.size} statements cached, #{stats.hits} hits, #{stats.misses} misses")
IO.puts("(the INSERT was prepared once and reused 4 times)")

IO.puts("\na transaction that fails halfway is rolled back whole:")
:ok = Native.begin(conn, :immediate)
{:ok, 1} = Native.execute(conn, insert, ["post 6", 60, 3.0, nil])
{:error, err} = Native.execute(conn, insert, ["post 1", 70, 3.5, nil])
IO.puts("  second insert failed: code=#{inspect(err.code)} (#{err.message})")
{:ok, status} = Native.transaction_status(conn)
IO.puts("  transaction status: #{status}; rolling back")
:ok = Native.rollback(conn)
{:ok, [count]} = Native.query_one(conn, "SELECT count(*) FROM posts", [])
IO.puts("  rows after rollback: #{count}")

{:ok, [count]} = Native.query_one(conn, "SELECT count(*) FROM posts", [])
{:ok, stats} = Native.cache_stats(conn)
IO.puts("\nfinal: #{count} rows; cache #{stats.hits} hits / #{stats.misses} misses")
:ok = Native.close(conn)
{:error, closed} = Native.query(conn, "SELECT 1")
IO.puts("after close, queries answer code=#{inspect(closed.code)}")
