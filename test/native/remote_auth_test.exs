defmodule EctoLibSql.RemoteAuthTest do
  # A libSQL server with JWT authentication: refused credentials read as
  # :auth, for remote connections and for replicas alike.
  use ExUnit.Case, async: false

  import EctoLibSql.TestDB
  alias EctoLibSql.{Native, TestServer}

  @moduletag :remote

  setup ctx do
    dir = tmp_dir!(ctx)
    {key_file, private_key} = TestServer.jwt_key!(dir)
    server = TestServer.start_supervised!(jwt_key: key_file)

    %{
      server: server,
      dir: dir,
      token: TestServer.jwt(private_key),
      ro_token: TestServer.jwt(private_key, ~s({"a":"ro"}))
    }
  end

  test "a valid token works; a wrong or missing one is :auth", ctx do
    conn = open!(uri: ctx.server.url, auth_token: ctx.token)
    assert {:ok, _} = Native.execute(conn, "CREATE TABLE t (x INTEGER)")

    for opts <- [[auth_token: "not-a-jwt"], []] do
      other = open!([uri: ctx.server.url] ++ opts)
      error = assert_error(Native.query(other, "SELECT 1"), :auth)
      assert error.message =~ "HTTP 401"
    end
  end

  test "a replica whose primary refuses its token fails to open with :auth", ctx do
    result = Native.open(database: Path.join(ctx.dir, "replica.db"), uri: ctx.server.url, auth_token: "not-a-jwt")
    assert_error(result, :auth)
  end

  test "a replica with a read-only token reads, and its writes are refused as :auth", ctx do
    writer = open!(uri: ctx.server.url, auth_token: ctx.token)
    {:ok, _} = Native.execute(writer, "CREATE TABLE t (x INTEGER)")
    {:ok, 1} = Native.execute(writer, "INSERT INTO t VALUES (1)")

    replica = open!(database: Path.join(ctx.dir, "replica.db"), uri: ctx.server.url, auth_token: ctx.ro_token)
    assert rows!(replica, "SELECT x FROM t") == [[1]]
    assert_error(Native.execute(replica, "INSERT INTO t VALUES (2)"), :auth)
  end
end
