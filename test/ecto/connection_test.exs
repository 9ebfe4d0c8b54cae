defmodule Ecto.Adapters.LibSql.ConnectionTest do
  use ExUnit.Case, async: true

  import Ecto.Query

  alias Ecto.Adapters.LibSql.Connection, as: SQL
  alias Ecto.Adapters.LibSql.DDL
  alias Ecto.Migration.{Constraint, Index, Reference, Table}

  # Planning only needs the adapter's dumpers; this keeps the tests free of
  # the adapter module and of any database.
  defmodule PlanAdapter do
    def dumpers(_primitive, type), do: [type]
  end

  defmodule Post do
    use Ecto.Schema

    schema "posts" do
      field(:title, :string)
      field(:views, :integer)
      field(:price, :decimal)
      field(:meta, :map)
      field(:tags, {:array, :string})
      field(:inserted_at, :naive_datetime_usec)
      field(:published_on, :date)
      has_many(:comments, Ecto.Adapters.LibSql.ConnectionTest.Comment)
    end
  end

  defmodule Comment do
    use Ecto.Schema

    schema "comments" do
      field(:body, :string)
      belongs_to(:post, Ecto.Adapters.LibSql.ConnectionTest.Post)
    end
  end

  defmodule Flags do
    use Ecto.Schema

    schema "flags" do
      field(:flags, {:array, :boolean})
    end
  end

  defp plan(query, operation \\ :all) do
    {query, _cast, _dump} = Ecto.Adapter.Queryable.plan_query(operation, PlanAdapter, query)
    query
  end

  defp all(query), do: query |> plan() |> SQL.all() |> IO.iodata_to_binary()
  defp update_all(query), do: query |> plan(:update_all) |> SQL.update_all() |> IO.iodata_to_binary()
  defp delete_all(query), do: query |> plan(:delete_all) |> SQL.delete_all() |> IO.iodata_to_binary()
  defp ddl(command), do: command |> SQL.execute_ddl() |> Enum.map(&IO.iodata_to_binary/1)

  defp insert(prefix, table, header, rows, on_conflict, returning, placeholders \\ []) do
    SQL.insert(prefix, table, header, rows, on_conflict, returning, placeholders)
    |> IO.iodata_to_binary()
  end

  describe "select" do
    test "selects fields from a schema with aliased sources" do
      assert all(from(p in Post, select: p.title)) == ~s{SELECT p0."title" FROM "posts" AS p0}

      assert all(from(p in Post, select: {p.id, p.title})) ==
               ~s{SELECT p0."id", p0."title" FROM "posts" AS p0}
    end

    test "selects a constant when no field is asked for" do
      assert all(from(p in Post, select: true)) == ~s{SELECT 1 FROM "posts" AS p0}
    end

    test "qualifies tables with their prefix" do
      assert all(from(p in Post, select: p.id) |> Map.put(:prefix, "other")) ==
               ~s{SELECT p0."id" FROM "other"."posts" AS p0}
    end

    test "distinct true is DISTINCT, distinct on expressions raises" do
      assert all(from(p in Post, distinct: true, select: p.title)) ==
               ~s{SELECT DISTINCT p0."title" FROM "posts" AS p0}

      assert_raise Ecto.QueryError, ~r/DISTINCT ON/, fn ->
        all(from(p in Post, distinct: p.title, select: p.title))
      end
    end

    test "where clauses combine with AND and OR in order" do
      query = from(p in Post, where: p.views > 1, where: p.title == "a", or_where: is_nil(p.price), select: p.id)

      assert all(query) ==
               ~s{SELECT p0."id" FROM "posts" AS p0 WHERE ((p0."views" > 1) AND (p0."title" = 'a')) OR (p0."price" IS NULL)}
    end

    test "parameters use Ecto's numbering" do
      query = from(p in Post, where: p.views > ^1 and p.title == ^"x", select: p.id)
      assert all(query) == ~s{SELECT p0."id" FROM "posts" AS p0 WHERE ((p0."views" > ?1) AND (p0."title" = ?2))}
    end

    test "literals: booleans as 1/0, strings escaped, blobs as X''" do
      query =
        from(p in Post,
          where: fragment("? > ?", p.views, 1.5) or p.title == "it's",
          select: {p.id, type(^<<1, 255>>, :binary)}
        )

      assert all(query) ==
               ~s{SELECT p0."id", CAST(?1 AS BLOB) FROM "posts" AS p0 WHERE (p0."views" > 1.5 OR (p0."title" = 'it''s'))}

      assert all(from(p in Post, where: p.id > 0 == true and is_nil(nil), select: p.id)) =~
               ~s{WHERE (((p0."id" > 0) = 1) AND (NULL IS NULL))}

      blob = %Ecto.Query.Tagged{value: <<1, 255>>, type: :binary}
      assert IO.iodata_to_binary(Ecto.Adapters.LibSql.Expr.expr(blob, {}, nil)) == "X'01FF'"
    end

    test "arithmetic, coalesce, not and functions" do
      query = from(p in Post, select: {p.views * 2 + 1, coalesce(p.title, "none"), not (p.views > 1)})

      assert all(query) ==
               ~s{SELECT (p0."views" * 2) + 1, coalesce(p0."title", 'none'), NOT (p0."views" > 1) FROM "posts" AS p0}
    end

    test "like is LIKE and ilike is LIKE too (SQLite's LIKE ignores ASCII case)" do
      assert all(from(p in Post, where: like(p.title, "a%"), select: p.id)) =~ ~s{WHERE (p0."title" LIKE 'a%')}
      assert all(from(p in Post, where: ilike(p.title, ^"a%"), select: p.id)) =~ ~s{WHERE (p0."title" LIKE ?1)}
    end

    test "in with lists, interpolated lists and subqueries" do
      assert all(from(p in Post, where: p.id in [1, 2], select: p.id)) =~ ~s{WHERE (p0."id" IN (1,2))}
      assert all(from(p in Post, where: p.id in [], select: p.id)) =~ ~s{WHERE (0)}

      assert all(from(p in Post, where: p.title == ^"t" and p.id in ^[1, 2, 3], select: p.id)) =~
               ~s{WHERE ((p0."title" = ?1) AND p0."id" IN (?2,?3,?4))}

      assert all(from(p in Post, where: p.id in ^[], select: p.id)) =~ ~s{WHERE (0)}

      sub = from(c in Comment, select: c.post_id)

      assert all(from(p in Post, where: p.id in subquery(sub), select: p.id)) ==
               ~s{SELECT p0."id" FROM "posts" AS p0 WHERE (p0."id" IN (SELECT sc0."post_id" FROM "comments" AS sc0))}
    end

    test "value in a JSON array column uses json_each" do
      assert all(from(p in Post, where: "a" in p.tags, select: p.id)) =~
               ~s{WHERE ('a' IN (SELECT value FROM json_each(p0."tags")))}
    end

    test "exists with a correlated subquery" do
      sub = from(c in Comment, where: c.post_id == parent_as(:post).id, select: 1)
      query = from(p in Post, as: :post, where: exists(sub), select: p.id)

      assert all(query) ==
               ~s{SELECT p0."id" FROM "posts" AS p0 WHERE (EXISTS (SELECT 1 FROM "comments" AS sc0 WHERE (sc0."post_id" = p0."id")))}
    end

    test "type/2 casts where SQLite has a matching storage class" do
      assert all(from(p in Post, select: type(^"1", :integer))) =~ "SELECT CAST(?1 AS INTEGER)"
      assert all(from(p in Post, select: type(p.views, :float))) =~ ~s{SELECT CAST(p0."views" AS REAL)}
      assert all(from(p in Post, select: type(p.views, :decimal))) =~ ~s{SELECT CAST(p0."views" AS TEXT)}
      assert all(from(p in Post, select: type(p.meta, :map))) =~ ~s{SELECT p0."meta" FROM}
    end

    test "fragments, literals and identifiers" do
      query = from(p in Post, select: fragment("lower(?)", p.title), where: fragment("? > 0", p.views))
      assert all(query) == ~s{SELECT lower(p0."title") FROM "posts" AS p0 WHERE (p0."views" > 0)}

      assert all(from(p in Post, select: fragment("?", identifier(^"col")))) =~ ~s{SELECT "col"}
      assert all(from(p in Post, select: fragment("?", constant(^"x")))) =~ "SELECT 'x'"

      assert_raise ArgumentError, ~r/double quote/, fn ->
        all(from(p in Post, select: fragment("?", identifier(^"a\"b"))))
      end
    end

    test "splice in fragments expands to numbered placeholders" do
      query = from(p in Post, where: fragment("? IN (?)", p.id, splice(^[1, 2])), select: p.id)
      assert all(query) =~ ~s{WHERE (p0."id" IN (?1,?2))}
    end

    test "json_extract_path uses json_extract with a JSON path" do
      assert all(from(p in Post, select: p.meta["a"][0]["b c"])) ==
               ~s{SELECT json_extract(p0."meta", '$."a"[0]."b c"') FROM "posts" AS p0}
    end

    test "a json_extract_path step from a column indexes arrays by integers and objects by keys" do
      assert all(from(p in Post, select: p.meta["a"][p.views])) ==
               ~s{SELECT json_extract(p0."meta", '$' || '."a"' || (CASE WHEN typeof(p0."views") = 'integer' } <>
                 ~s{THEN '[' || p0."views" || ']' ELSE '."' || p0."views" || '"' END)) FROM "posts" AS p0}
    end

    test "literals tagged by the dumpers are written in the default stored forms" do
      expr = &(&1 |> Ecto.Adapters.LibSql.Expr.expr({}, nil) |> IO.iodata_to_binary())
      assert expr.({:json_array, ["[", "1", "]"]}) == "'[1]'"
      assert expr.({:json_map, ~s({"a":"it's"})}) == ~s('{"a":"it''s"}')
      assert expr.({:uuid, <<0::120, 1>>}) == "'00000000-0000-0000-0000-000000000001'"
      assert expr.({:blob, <<0, 255>>}) == "X'00FF'"
    end

    test "aggregates with distinct and filter" do
      query = from(p in Post, select: {count(p.id, :distinct), filter(sum(p.views), p.views > 1), count()})

      assert all(query) ==
               ~s{SELECT count(DISTINCT p0."id"), sum(p0."views") FILTER (WHERE p0."views" > 1), count(*) FROM "posts" AS p0}
    end

    test "selected_as names a column and is referred to by name" do
      query =
        from(p in Post,
          select: %{v: selected_as(p.views, :v)},
          group_by: selected_as(:v),
          order_by: selected_as(:v)
        )

      assert all(query) ==
               ~s{SELECT p0."views" AS "v" FROM "posts" AS p0 GROUP BY "v" ORDER BY "v"}
    end

    test "group_by and having" do
      query = from(p in Post, group_by: p.title, having: count(p.id) > 1, select: p.title)

      assert all(query) ==
               ~s{SELECT p0."title" FROM "posts" AS p0 GROUP BY p0."title" HAVING (count(p0."id") > 1)}
    end

    test "order_by with directions and nulls placement" do
      query =
        from(p in Post,
          order_by: [asc: p.id, desc: p.title, asc_nulls_last: p.views, desc_nulls_first: p.price],
          select: p.id
        )

      assert all(query) ==
               ~s{SELECT p0."id" FROM "posts" AS p0 ORDER BY p0."id", p0."title" DESC, p0."views" ASC NULLS LAST, CAST(p0."price" AS NUMERIC) DESC NULLS FIRST}
    end

    test "decimal fields (stored as TEXT) compare as numbers" do
      query = from(p in Post, where: p.price > ^Decimal.new("9.5") and p.views == 1, select: p.id)

      assert all(query) ==
               ~s{SELECT p0."id" FROM "posts" AS p0 WHERE ((CAST(p0."price" AS NUMERIC) > ?1) AND (p0."views" = 1))}
    end

    test "limit and offset; offset alone gets LIMIT -1" do
      assert all(from(p in Post, limit: 3, offset: ^2, select: p.id)) ==
               ~s{SELECT p0."id" FROM "posts" AS p0 LIMIT 3 OFFSET ?1}

      assert all(from(p in Post, offset: 2, select: p.id)) ==
               ~s{SELECT p0."id" FROM "posts" AS p0 LIMIT -1 OFFSET 2}
    end

    test "lock raises: SQLite has no row locks" do
      assert_raise ArgumentError, ~r/row locks.*FOR UPDATE/, fn ->
        all(from(p in Post, lock: "FOR UPDATE", select: p.id))
      end
    end

    test "table hints are SQLite index hints" do
      assert all(from(p in Post, hints: ["INDEXED BY posts_title_index"], select: p.id)) ==
               ~s{SELECT p0."id" FROM "posts" AS p0 INDEXED BY posts_title_index}
    end
  end

  describe "joins" do
    test "inner, left, right, full and cross joins" do
      query =
        from(p in Post,
          join: c in Comment,
          on: c.post_id == p.id,
          left_join: c2 in Comment,
          on: true,
          right_join: c3 in Comment,
          on: c3.id == c.id,
          full_join: c4 in Comment,
          on: c4.id == c.id,
          cross_join: c5 in Comment,
          select: p.id
        )

      assert all(query) ==
               ~s{SELECT p0."id" FROM "posts" AS p0} <>
                 ~s{ INNER JOIN "comments" AS c1 ON c1."post_id" = p0."id"} <>
                 ~s{ LEFT OUTER JOIN "comments" AS c2 ON 1} <>
                 ~s{ RIGHT OUTER JOIN "comments" AS c3 ON c3."id" = c1."id"} <>
                 ~s{ FULL OUTER JOIN "comments" AS c4 ON c4."id" = c1."id"} <>
                 ~s{ CROSS JOIN "comments" AS c5}
    end

    test "association joins" do
      assert all(from(p in Post, join: c in assoc(p, :comments), select: c.body)) ==
               ~s{SELECT c1."body" FROM "posts" AS p0 INNER JOIN "comments" AS c1 ON c1."post_id" = p0."id"}
    end

    test "lateral joins raise" do
      sub = from(c in Comment, where: c.post_id == parent_as(:p).id, select: c.id)

      assert_raise Ecto.QueryError, ~r/LATERAL/, fn ->
        all(from(p in Post, as: :p, inner_lateral_join: c in subquery(sub), on: true, select: p.id))
      end
    end

    test "joins on subqueries and fragments" do
      sub = from(c in Comment, select: %{post_id: c.post_id})

      assert all(from(p in Post, join: s in subquery(sub), on: s.post_id == p.id, select: p.id)) ==
               ~s{SELECT p0."id" FROM "posts" AS p0 INNER JOIN (SELECT sc0."post_id" AS "post_id" FROM "comments" AS sc0) AS s1 ON s1."post_id" = p0."id"}

      query = from(p in Post, join: f in fragment("SELECT 1 AS x"), on: true, select: p.id)

      assert all(query) ==
               ~s{SELECT p0."id" FROM "posts" AS p0 INNER JOIN (SELECT 1 AS x) AS f1 ON 1}
    end
  end

  # `{fragment, Schema}` sources are new in Ecto 3.14: the query cannot even
  # be built with 3.13, so the test is only defined on 3.14 and later.
  Code.ensure_loaded(Ecto.Adapter.Queryable)

  if function_exported?(Ecto.Adapter.Queryable, :prepare_query, 4) do
    describe "fragment sources mapped to a schema" do
      test "in from and in joins, aliased as fragments and selected by the schema's fields" do
        query = from(f in {fragment("SELECT 1 AS id, 'a' AS body"), Comment}, select: f)

        assert all(query) ==
                 ~s{SELECT f0."id", f0."body", f0."post_id" FROM (SELECT 1 AS id, 'a' AS body) AS f0}

        query =
          from(p in Post,
            join: c in {fragment("SELECT 1 AS id, 1 AS post_id"), Comment},
            on: c.post_id == p.id,
            select: {p.id, c.id}
          )

        assert all(query) ==
                 ~s{SELECT p0."id", f1."id" FROM "posts" AS p0 INNER JOIN (SELECT 1 AS id, 1 AS post_id) AS f1 ON f1."post_id" = p0."id"}
      end
    end
  end

  describe "subqueries, CTEs and combinations" do
    test "subquery in from and in select" do
      sub = from(p in Post, select: %{id: p.id})

      assert all(from(s in subquery(sub), select: s.id)) ==
               ~s{SELECT s0."id" FROM (SELECT sp0."id" AS "id" FROM "posts" AS sp0) AS s0}

      count = from(c in Comment, where: c.post_id == parent_as(:p).id, select: count())

      assert all(from(p in Post, as: :p, select: {p.id, subquery(count)})) ==
               ~s{SELECT p0."id", (SELECT count(*) AS "result" FROM "comments" AS sc0 WHERE (sc0."post_id" = p0."id")) FROM "posts" AS p0}
    end

    test "recursive CTE with materialized hint" do
      base = from(p in Post, where: p.id == 1, select: %{id: p.id})
      step = from(p in Post, join: t in "tree", on: t.id == p.views, select: %{id: p.id})
      cte = union_all(base, ^step)

      query =
        "tree"
        |> recursive_ctes(true)
        |> with_cte("tree", as: ^cte, materialized: true)
        |> select([t], t.id)

      assert all(query) ==
               ~s{WITH RECURSIVE "tree" AS MATERIALIZED (SELECT sp0."id" AS "id" FROM "posts" AS sp0 WHERE (sp0."id" = 1)} <>
                 ~s{ UNION ALL SELECT sp0."id" FROM "posts" AS sp0 INNER JOIN "tree" AS st1 ON st1."id" = sp0."views")} <>
                 ~s{ SELECT t0."id" FROM "tree" AS t0}
    end

    test "CTEs that modify data raise" do
      cte = from(p in Post, where: p.id == 1, update: [set: [views: 1]])

      assert_raise Ecto.QueryError, ~r/WITH clause/, fn ->
        "x" |> with_cte("x", as: ^cte, operation: :update_all) |> select([x], x.id) |> all()
      end
    end

    test "union, union_all, except and intersect; the _all forms SQLite lacks raise" do
      other = from(p in Post, select: p.id, order_by: p.id, limit: 1)

      assert all(from(p in Post, select: p.id, union: ^other)) ==
               ~s{SELECT p0."id" FROM "posts" AS p0 UNION SELECT * FROM (SELECT p0."id" FROM "posts" AS p0 ORDER BY p0."id" LIMIT 1)}

      assert all(from(p in Post, select: p.id, union_all: ^other)) =~ " UNION ALL SELECT * FROM ("
      assert all(from(p in Post, select: p.id, except: ^other)) =~ " EXCEPT SELECT * FROM ("
      assert all(from(p in Post, select: p.id, intersect: ^other)) =~ " INTERSECT SELECT * FROM ("

      assert_raise Ecto.QueryError, ~r/except_all/, fn -> all(from(p in Post, select: p.id, except_all: ^other)) end

      assert_raise Ecto.QueryError, ~r/intersect_all/, fn ->
        all(from(p in Post, select: p.id, intersect_all: ^other))
      end
    end

    test "values lists get their column names" do
      values = [%{id: 1, n: "a"}, %{id: 2, n: "b"}]
      query = from(v in values(values, %{id: :integer, n: :string}), select: v.n)

      assert all(query) ==
               ~s{SELECT v0."n" FROM (SELECT column1 AS "id", column2 AS "n" FROM (VALUES (?1,?2),(?3,?4))) AS v0}
    end
  end

  describe "window functions" do
    test "named windows and over with partition and order" do
      query =
        from(p in Post,
          windows: [w: [partition_by: p.title, order_by: p.id]],
          select: {over(row_number(), :w), over(sum(p.views), partition_by: p.title)}
        )

      assert all(query) ==
               ~s{SELECT row_number() OVER "w", sum(p0."views") OVER (PARTITION BY p0."title") FROM "posts" AS p0 WINDOW "w" AS (PARTITION BY p0."title" ORDER BY p0."id")}
    end

    test "window frames are fragments" do
      query = from(p in Post, select: over(sum(p.views), order_by: p.id, frame: fragment("ROWS 2 PRECEDING")))
      assert all(query) =~ ~s{OVER (ORDER BY p0."id" ROWS 2 PRECEDING)}
    end
  end

  describe "datetime arithmetic" do
    test "datetime_add with a fixed unit counts whole microseconds and keeps the stored layout" do
      sql = all(from(p in Post, select: datetime_add(p.inserted_at, 2, "day")))
      assert sql =~ "strftime('%Y-%m-%dT%H:%M:%S', ((unixepoch(substr(p0.\"inserted_at\", 1, 19)) + 62167219200)"
      assert sql =~ "+ 172800000000) / 1000000 - 62167219200, 'unixepoch') || printf('.%06d', "
      assert sql =~ "(CASE WHEN substr(p0.\"inserted_at\", -1) = 'Z' THEN 'Z' ELSE '' END)"
    end

    test "datetime_add with months clamps to the end of the month" do
      sql = all(from(p in Post, select: datetime_add(p.inserted_at, ^1, "year")))

      assert sql =~
               "strftime('%Y-%m-%dT%H:%M:%S', substr(p0.\"inserted_at\", 1, 19), ((?1) * 12) || ' months', 'floor')"
    end

    test "ago/2 is datetime_add on a parameter with a negated count" do
      sql = all(from(p in Post, where: p.inserted_at > ago(3, "hour"), select: p.id))
      assert sql =~ "unixepoch(substr(?1, 1, 19))"
      assert sql =~ "+ -10800000000)"
    end

    test "date_add uses date() with a modifier" do
      assert all(from(p in Post, select: date_add(p.published_on, 1, "week"))) =~
               ~s{SELECT date(p0."published_on", '604800 seconds')}

      assert all(from(p in Post, select: date_add(p.published_on, ^2, "month"))) =~
               ~s{SELECT date(p0."published_on", ((?1) * 1) || ' months')}
    end

    test "format_datetime writes the layout the generated SQL expects" do
      assert SQL.format_datetime(~N[2024-01-01 10:00:00]) == "2024-01-01T10:00:00.000000"
      assert SQL.format_datetime(~U[2024-01-01 10:00:00.123Z]) == "2024-01-01T10:00:00.123000Z"
    end
  end

  describe "update_all and delete_all" do
    test "update_all with set and inc" do
      query = from(p in Post, where: p.id == 1, update: [set: [title: ^"x"], inc: [views: 2]])

      assert update_all(query) ==
               ~s{UPDATE "posts" AS p0 SET "views" = p0."views" + 2, "title" = ?1 WHERE (p0."id" = 1)}
    end

    test "update_all with an inner join uses UPDATE ... FROM" do
      query =
        from(p in Post,
          join: c in Comment,
          on: c.post_id == p.id,
          where: c.body == "x",
          update: [set: [title: c.body]]
        )

      assert update_all(query) ==
               ~s{UPDATE "posts" AS p0 SET "title" = c1."body" FROM "comments" AS c1 WHERE (c1."post_id" = p0."id") AND (c1."body" = 'x')}
    end

    test "update_all returning names the table's columns" do
      query = from(p in Post, update: [set: [views: 0]], select: p.title)
      assert update_all(query) == ~s{UPDATE "posts" AS p0 SET "views" = 0 RETURNING "posts"."title"}
    end

    test "push appends to the JSON array, starting one on NULL" do
      assert update_all(from(p in Post, update: [push: [tags: ^"a"]])) ==
               ~s{UPDATE "posts" AS p0 SET "tags" = json_insert(coalesce(p0."tags", '[]'), '$[#]', ?1)}
    end

    test "pull removes every equal element, keeping order and NULL" do
      assert update_all(from(p in Post, update: [pull: [tags: "a"]])) ==
               ~s{UPDATE "posts" AS p0 SET "tags" = CASE WHEN p0."tags" IS NULL THEN NULL ELSE } <>
                 ~s{(SELECT json_group_array(e__.value ORDER BY e__.key) FROM json_each(p0."tags") AS e__ } <>
                 ~s{WHERE e__.value IS NOT 'a') END}
    end

    test "push and pull raise on fields that are not arrays of JSON scalars" do
      assert_raise Ecto.QueryError, ~r/arrays/, fn ->
        update_all(from(f in Flags, update: [push: [flags: true]]))
      end

      assert_raise Ecto.QueryError, ~r/arrays/, fn ->
        update_all(from(p in "posts", update: [pull: [tags: "a"]]))
      end
    end

    test "delete_all without and with joins" do
      assert delete_all(from(p in Post, where: p.views == 0)) ==
               ~s{DELETE FROM "posts" AS p0 WHERE (p0."views" = 0)}

      query = from(p in Post, join: c in Comment, on: c.post_id == p.id, where: c.body == "x")

      assert delete_all(query) ==
               ~s{DELETE FROM "posts" AS p0 WHERE p0.rowid IN (SELECT p0.rowid FROM "posts" AS p0 INNER JOIN "comments" AS c1 ON c1."post_id" = p0."id" WHERE (c1."body" = 'x'))}
    end

    test "delete_all returning" do
      assert delete_all(from(p in Post, select: p.id)) == ~s{DELETE FROM "posts" AS p0 RETURNING "posts"."id"}
    end
  end

  describe "insert" do
    test "single and multiple rows with RETURNING" do
      assert insert(nil, "posts", [:title, :views], [[:title, :views]], {:raise, [], []}, [:id]) ==
               ~s{INSERT INTO "posts" ("title","views") VALUES (?,?) RETURNING "id"}

      assert insert("p", "posts", [:title], [[:title], [:title]], {:raise, [], []}, []) ==
               ~s{INSERT INTO "p"."posts" ("title") VALUES (?),(?)}
    end

    test "default values, and rows with missing fields raise" do
      assert insert(nil, "posts", [], [[]], {:raise, [], []}, [:id]) ==
               ~s{INSERT INTO "posts" DEFAULT VALUES RETURNING "id"}

      assert_raise ArgumentError, ~r/DEFAULT keyword/, fn ->
        insert(nil, "posts", [:title, :views], [[:title, nil]], {:raise, [], []}, [])
      end
    end

    test "a cell a row leaves out is its column's default expression, or NULL" do
      rows = [
        [:title, {:default, "0"}],
        [{:default, nil}, :views],
        [{:default, "'x'"}, {:default, "CURRENT_TIMESTAMP"}]
      ]

      assert insert(nil, "posts", [:title, :views], rows, {:raise, [], []}, []) ==
               ~s{INSERT INTO "posts" ("title","views") VALUES (?1,(0)),(NULL,?2),(('x'),(CURRENT_TIMESTAMP))}
    end

    test "placeholders and queries as values" do
      sub = from(c in Comment, select: c.id, limit: 1) |> plan()

      assert insert(
               nil,
               "posts",
               [:title, :views],
               [[{:placeholder, "1"}, {sub, 0}], [{:placeholder, "1"}, :views]],
               {:raise, [], []},
               [],
               [
                 :shared
               ]
             ) ==
               ~s{INSERT INTO "posts" ("title","views") VALUES (?1,(SELECT c0."id" FROM "comments" AS c0 LIMIT 1)),(?1,?2)}
    end

    test "insert from a select" do
      source = from(c in Comment, select: %{title: c.body}) |> plan()

      assert insert(nil, "posts", [:title], source, {:raise, [], []}, []) ==
               ~s{INSERT INTO "posts" ("title") SELECT c0."body" FROM "comments" AS c0}

      assert insert(nil, "posts", [:title], source, {:nothing, [], [:title]}, []) ==
               ~s{INSERT INTO "posts" ("title") SELECT * FROM (SELECT c0."body" FROM "comments" AS c0) WHERE 1 ON CONFLICT ("title") DO NOTHING}
    end

    test "on_conflict nothing, replace and targets" do
      assert insert(nil, "posts", [:title], [[:title]], {:nothing, [], []}, []) ==
               ~s{INSERT INTO "posts" ("title") VALUES (?) ON CONFLICT DO NOTHING}

      assert insert(nil, "posts", [:title], [[:title]], {[:title, :views], [], [:id]}, []) ==
               ~s{INSERT INTO "posts" ("title") VALUES (?) ON CONFLICT ("id") DO UPDATE SET "title" = excluded."title", "views" = excluded."views"}

      assert insert(nil, "posts", [:title], [[:title]], {[:title], [], {:unsafe_fragment, "(lower(title))"}}, []) ==
               ~s{INSERT INTO "posts" ("title") VALUES (?) ON CONFLICT (lower(title)) DO UPDATE SET "title" = excluded."title"}
    end

    test "the options of insert/8 (ecto_sql 3.14) leave the SQL as insert/7 writes it" do
      args = [nil, "posts", [:title], [[:title]], {:nothing, [], [:title]}, [:id], []]
      with_opts = args ++ [[cast_params: ["x"], insert_mode: :ignore]]

      assert IO.iodata_to_binary(apply(SQL, :insert, with_opts)) == IO.iodata_to_binary(apply(SQL, :insert, args))

      assert IO.iodata_to_binary(apply(SQL, :insert, args)) ==
               ~s{INSERT INTO "posts" ("title") VALUES (?) ON CONFLICT ("title") DO NOTHING RETURNING "id"}
    end

    test "RETURNING given as raw SQL (Ecto 3.14)" do
      assert insert(nil, "posts", [:title], [[:title]], {:raise, [], []}, {:unsafe_fragment, "id, length(title)"}) ==
               ~s{INSERT INTO "posts" ("title") VALUES (?) RETURNING id, length(title)}
    end

    test "on_conflict with an update query" do
      update = from(p in Post, where: p.views > 0, update: [set: [title: "x"], inc: [views: 1]]) |> plan(:update_all)

      assert insert(nil, "posts", [:title], [[:title]], {update, [], [:id]}, [:id]) ==
               ~s{INSERT INTO "posts" AS p0 ("title") VALUES (?) ON CONFLICT ("id") DO UPDATE SET "title" = 'x', "views" = p0."views" + 1 WHERE (p0."views" > 0) RETURNING "id"}
    end
  end

  describe "update and delete of one row" do
    test "update" do
      assert SQL.update(nil, "posts", [:title, :views], [id: 1, slug: nil], [:views]) |> IO.iodata_to_binary() ==
               ~s{UPDATE "posts" SET "title" = ?1, "views" = ?2 WHERE "id" = ?3 AND "slug" IS NULL RETURNING "views"}
    end

    test "delete" do
      assert SQL.delete("p", "posts", [id: 1, title: "x"], []) |> IO.iodata_to_binary() ==
               ~s{DELETE FROM "p"."posts" WHERE "id" = ?1 AND "title" = ?2}
    end
  end

  describe "DDL: tables" do
    test "create table with primary key, types, defaults and references" do
      create =
        {:create, %Table{name: :comments},
         [
           {:add, :id, :id, [primary_key: true]},
           {:add, :body, :string, [null: false, default: "none", size: 20]},
           {:add, :price, :decimal, [precision: 10, scale: 2]},
           {:add, :active, :boolean, [default: true]},
           {:add, :meta, :map, [default: %{}]},
           {:add, :at, :naive_datetime, [default: {:fragment, "CURRENT_TIMESTAMP"}]},
           {:add, :post_id, %Reference{table: :posts, on_delete: :delete_all, on_update: :update_all}, []},
           {:add, :blob, :binary, []},
           {:add, :uid, :binary_id, []}
         ]}

      assert ddl(create) == [
               ~s{CREATE TABLE "comments" ("id" INTEGER PRIMARY KEY AUTOINCREMENT, "body" TEXT DEFAULT 'none' NOT NULL, } <>
                 ~s|"price" TEXT, "active" INTEGER DEFAULT 1, "meta" TEXT DEFAULT '{}', "at" TEXT DEFAULT (CURRENT_TIMESTAMP), | <>
                 ~s{"post_id" INTEGER CONSTRAINT "comments_post_id_fkey" REFERENCES "posts"("id") ON DELETE CASCADE ON UPDATE CASCADE, } <>
                 ~s{"blob" BLOB, "uid" TEXT)}
             ]
    end

    test "a column's collation, as :collation (Ecto) or :collate (ecto_sqlite3)" do
      create =
        {:create, %Table{name: :c},
         [{:add, :a, :string, [collation: "nocase"]}, {:add, :b, :string, [collate: :rtrim]}]}

      assert ddl(create) == [~s{CREATE TABLE "c" ("a" TEXT COLLATE "nocase", "b" TEXT COLLATE "rtrim")}]
    end

    test "binary and bit string defaults are blob literals (bit strings padded to whole bytes)" do
      create =
        {:create, %Table{name: :b},
         [
           {:add, :raw, :binary, [default: <<0, 255>>]},
           {:add, :bits, :bitstring, [default: <<42::6>>]},
           {:add, :text, :string, [default: <<255>>]}
         ]}

      assert ddl(create) == [
               ~s{CREATE TABLE "b" ("raw" BLOB DEFAULT X'00FF', "bits" BLOB DEFAULT X'A8', "text" TEXT DEFAULT X'FF')}
             ]
    end

    test "create if not exists with options, autoincrement opt-out, check constraints" do
      create =
        {:create_if_not_exists, %Table{name: :t, options: "STRICT"},
         [
           {:add, :id, :bigserial, [primary_key: true, autoincrement: false]},
           {:add, :n, :integer, [check: %{name: "positive_n", expr: "n > 0"}]}
         ]}

      assert ddl(create) == [
               ~s{CREATE TABLE IF NOT EXISTS "t" ("id" INTEGER PRIMARY KEY, "n" INTEGER CONSTRAINT "positive_n" CHECK (n > 0)) STRICT}
             ]
    end

    test "composite primary keys and composite foreign keys are table constraints" do
      create =
        {:create, %Table{name: :t, options: "WITHOUT ROWID"},
         [
           {:add, :a, :integer, [primary_key: true]},
           {:add, :b, :string, [primary_key: true]},
           {:add, :c, %Reference{table: :other, column: :x, with: [b: :y], on_delete: :nilify_all}, []}
         ]}

      assert ddl(create) == [
               ~s{CREATE TABLE "t" ("a" INTEGER, "b" TEXT, "c" INTEGER, PRIMARY KEY ("a","b"), } <>
                 ~s{CONSTRAINT "t_c_fkey" FOREIGN KEY ("c","b") REFERENCES "other"("x","y") ON DELETE SET NULL) WITHOUT ROWID}
             ]
    end

    test "on_delete with a column list is a trigger on the referenced table" do
      create =
        {:create, %Table{name: :t},
         [
           {:add, :code, :integer, [default: 7]},
           {:add, :p,
            %Reference{table: :parents, type: :integer, with: [code: :code], on_delete: {:default, [:p, :code]}}, []}
         ]}

      assert [_create_table, trigger] = ddl(create)

      assert trigger ==
               ~s{CREATE TRIGGER "ecto_libsql_on_delete__t__t_p_fkey" AFTER DELETE ON "parents" FOR EACH ROW } <>
                 ~s{BEGIN UPDATE "t" SET "p" = NULL, "code" = 7 WHERE "p" = OLD."id" AND "code" = OLD."code"; END}

      assert_raise ArgumentError, ~r/on_delete/, fn ->
        ddl({:create, %Table{name: :t}, [{:add, :p, %Reference{table: :p, on_delete: :explode}, []}]})
      end
    end

    test "drop table" do
      assert ddl({:drop, %Table{name: :t}, :restrict}) == [~s{DROP TABLE "t"}]
      assert ddl({:drop_if_exists, %Table{name: :t, prefix: :aux}, :restrict}) == [~s{DROP TABLE IF EXISTS "aux"."t"}]
      assert_raise ArgumentError, ~r/CASCADE/, fn -> ddl({:drop, %Table{name: :t}, :cascade}) end
    end

    test "alter table: one statement per change, modify with ALTER COLUMN ... TO" do
      alter =
        {:alter, %Table{name: :posts},
         [
           {:add, :summary, :text, [default: ""]},
           {:add, :author_id, %Reference{table: :authors}, []},
           {:modify, :views, :bigint, [null: false, default: 0]},
           {:remove, :title, :string, []},
           {:remove, :body}
         ]}

      assert ddl(alter) == [
               ~s{ALTER TABLE "posts" ADD COLUMN "summary" TEXT DEFAULT ''},
               ~s{ALTER TABLE "posts" ADD COLUMN "author_id" INTEGER CONSTRAINT "posts_author_id_fkey" REFERENCES "authors"("id")},
               ~s{ALTER TABLE "posts" ALTER COLUMN "views" TO "views" INTEGER DEFAULT 0 NOT NULL},
               ~s{ALTER TABLE "posts" DROP COLUMN "title"},
               ~s{ALTER TABLE "posts" DROP COLUMN "body"}
             ]
    end

    test "alter table: a modify between types SQLite stores alike, with nothing else changed, is left out" do
      alter =
        {:alter, %Table{name: :posts},
         [
           {:modify, :id, :bigint, [from: :integer]},
           {:modify, :count, :integer, [from: {:bigint, null: false}]},
           {:modify, :views, :string, [from: :integer]},
           {:modify, :score, :bigint, [from: :integer, null: false]},
           {:modify, :author_id, :integer, [from: %Reference{table: :authors, type: :integer}]}
         ]}

      assert ddl(alter) == [
               ~s{ALTER TABLE "posts" ALTER COLUMN "views" TO "views" TEXT},
               ~s{ALTER TABLE "posts" ALTER COLUMN "score" TO "score" INTEGER NOT NULL},
               ~s{ALTER TABLE "posts" ALTER COLUMN "author_id" TO "author_id" INTEGER}
             ]

      assert ddl({:alter, %Table{name: :posts}, [{:modify, :id, :bigint, [from: :integer]}]}) == []
    end

    test "table modifiers (Ecto 3.14) go between CREATE and TABLE" do
      # Map.put: Ecto 3.13's table struct has no :modifiers field.
      table = Map.put(%Table{name: :scratch}, :modifiers, "TEMPORARY")

      assert ddl({:create, table, [{:add, :id, :id, [primary_key: true]}]}) ==
               [~s{CREATE TEMPORARY TABLE "scratch" ("id" INTEGER PRIMARY KEY AUTOINCREMENT)}]

      assert_raise ArgumentError, ~r/:modifiers/, fn ->
        ddl({:create, Map.put(%Table{name: :t}, :modifiers, [:temp]), [{:add, :id, :id, [primary_key: true]}]})
      end
    end

    test "conditional column changes raise and are resolved against the existing columns" do
      alter =
        {:alter, %Table{name: :posts},
         [
           {:add_if_not_exists, :a, :integer, []},
           {:add_if_not_exists, :b, :integer, []},
           {:remove_if_exists, :c, :string}
         ]}

      assert_raise ArgumentError, ~r/IF \[NOT\] EXISTS/, fn -> ddl(alter) end
      assert DDL.conditional_columns?(alter)

      assert DDL.columns_query(%Table{name: :posts}) == {"SELECT name FROM pragma_table_info(?1)", ["posts"]}

      assert DDL.columns_query(%Table{name: :posts, prefix: "aux"}) ==
               {"SELECT name FROM pragma_table_info(?1, ?2)", ["posts", "aux"]}

      resolved = DDL.resolve_conditional_columns(alter, ["id", "a", "c"])
      refute DDL.conditional_columns?(resolved)

      assert ddl(resolved) == [
               ~s{ALTER TABLE "posts" ADD COLUMN "b" INTEGER},
               ~s{ALTER TABLE "posts" DROP COLUMN "c"}
             ]
    end

    test "conditional changes see the columns that earlier changes added or removed" do
      alter =
        {:alter, %Table{name: :t},
         [
           {:add_if_not_exists, :v, :integer, []},
           {:add_if_not_exists, :v, :integer, []},
           {:remove_if_exists, :v, :integer},
           {:remove_if_exists, :v, :integer}
         ]}

      assert ddl(DDL.resolve_conditional_columns(alter, ["id"])) == [
               ~s{ALTER TABLE "t" ADD COLUMN "v" INTEGER},
               ~s{ALTER TABLE "t" DROP COLUMN "v"}
             ]
    end

    test "renaming an index recreates it from its stored definition" do
      index = %Index{name: "old", table: "t"}

      assert DDL.index_sql_query(index) ==
               {~s{SELECT sql FROM "main"."sqlite_master" WHERE type = 'index' AND name = ?1}, ["old"]}

      assert ddl({:rename, index, "new", ~s{CREATE UNIQUE INDEX "old" ON "t" ("a", "b")}}) == [
               ~s{DROP INDEX "old"},
               ~s{CREATE UNIQUE INDEX "new" ON "t" ("a", "b")}
             ]
    end

    test "rename table and column" do
      assert ddl({:rename, %Table{name: :a}, %Table{name: :b}}) == [~s{ALTER TABLE "a" RENAME TO "b"}]
      assert ddl({:rename, %Table{name: :a}, :x, :y}) == [~s{ALTER TABLE "a" RENAME COLUMN "x" TO "y"}]
    end

    test "constraint changes need the table's definition: the SQL generator alone refuses them" do
      assert_raise ArgumentError, ~r/cannot add constraint.*adapter's execute_ddl/, fn ->
        ddl({:create, %Constraint{name: "c", table: "t", check: "x > 0"}})
      end

      assert_raise ArgumentError, ~r/cannot drop constraint.*adapter's execute_ddl/, fn ->
        ddl({:drop, %Constraint{name: "c", table: "t"}, :restrict})
      end
    end

    test "a rewritten table definition is stored under writable_schema, with the schema version bumped" do
      assert ddl({:rewrite_table, nil, "t", ~s|CREATE TABLE "t" (a, CHECK (a <> 'x'))|, 41}) == [
               "PRAGMA writable_schema = ON",
               ~s|UPDATE "main"."sqlite_master" SET sql = 'CREATE TABLE "t" (a, CHECK (a <> ''x''))' WHERE type = 'table' AND name = 't'|,
               ~s|PRAGMA "main".schema_version = 42|,
               "PRAGMA writable_schema = OFF"
             ]
    end

    test "execute passes strings through" do
      assert ddl("PRAGMA foo") == ["PRAGMA foo"]
    end
  end

  describe "DDL: indexes" do
    test "create, unique, partial, if not exists, prefixed" do
      assert ddl({:create, %Index{name: "posts_title_index", table: "posts", columns: [:title, "lower(slug)"]}}) ==
               [~s{CREATE INDEX "posts_title_index" ON "posts" ("title", lower(slug))}]

      index = %Index{
        name: "u",
        table: "posts",
        prefix: "aux",
        unique: true,
        columns: [desc: :views],
        where: "views > 0",
        concurrently: true
      }

      assert ddl({:create_if_not_exists, index}) ==
               [~s{CREATE UNIQUE INDEX IF NOT EXISTS "aux"."u" ON "posts" ("views" DESC) WHERE views > 0}]
    end

    test "options SQLite indexes lack raise" do
      assert_raise ArgumentError, ~r/using/, fn ->
        ddl({:create, %Index{name: "i", table: "t", columns: [:a], using: "hash"}})
      end
    end

    test "drop and rename" do
      assert ddl({:drop_if_exists, %Index{name: "i", table: "t"}, :restrict}) == [~s{DROP INDEX IF EXISTS "i"}]
      assert_raise ArgumentError, ~r/cannot rename index/, fn -> ddl({:rename, %Index{name: "i", table: "t"}, "j"}) end
    end
  end

  describe "to_constraints" do
    defp error(code, message), do: %EctoLibSql.Error{code: code, message: message}

    test "unique failures are named after Ecto's default index name" do
      assert SQL.to_constraints(error(:constraint_unique, "UNIQUE constraint failed: posts.title, posts.slug"), []) ==
               [unique: "posts_title_slug_index"]

      assert SQL.to_constraints(error(:constraint_primary_key, "UNIQUE constraint failed: posts.id"), []) ==
               [unique: "posts_id_index"]
    end

    test "unique failures on expression indexes carry the index name" do
      assert SQL.to_constraints(error(:constraint_unique, "UNIQUE constraint failed: index 'posts_lower_title'"), []) ==
               [unique: "posts_lower_title"]
    end

    test "check failures carry the constraint name" do
      assert SQL.to_constraints(error(:constraint_check, "CHECK constraint failed: positive_price"), []) ==
               [check: "positive_price"]
    end

    test "foreign key and not null failures map to no constraint" do
      assert SQL.to_constraints(error(:constraint_foreign_key, "FOREIGN KEY constraint failed"), []) == []
      assert SQL.to_constraints(error(:constraint_not_null, "NOT NULL constraint failed: posts.title"), []) == []
      assert SQL.to_constraints(%RuntimeError{message: "x"}, []) == []
    end
  end

  test "table_exists_query reads sqlite_master" do
    assert {"SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1 LIMIT 1", ["posts"]} =
             SQL.table_exists_query("posts")
  end
end
