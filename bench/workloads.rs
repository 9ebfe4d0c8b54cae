//! The W7 "native floor" workloads of bench/README.md in plain Rust
//! on the `libsql` crate, with no BEAM in the way. Shared by the criterion
//! bench (`bench/native.rs`) and the example that `bench/run.exs` runs to
//! put W7 next to the Elixir figures (`native/ecto_libsql/examples/floor.rs`).
//!
//! The local backend never awaits I/O, so `futures::executor::block_on`
//! drives it; each call blocks on one future and never nests.

// Each including target uses a different subset of these helpers.
#![allow(dead_code)]

use futures::executor::block_on;
use libsql::{Connection, Database, Statement, Value};

/// Rows the W1/W6 table holds.
pub const POINT_ROWS: i64 = 10_000;
/// Rows W3 inserts and W4 scans.
pub const BULK_ROWS: i64 = 100_000;
/// Rows per W3 `INSERT`, as `Repo.insert_all` chunks would send them.
pub const CHUNK: usize = 1_000;
/// Columns of `posts`, so a chunk binds `?1..?6000`.
pub const COLUMNS: usize = 6;

pub const CREATE: &str = "CREATE TABLE posts (id INTEGER PRIMARY KEY, title TEXT, body TEXT, \
                          views INTEGER, score REAL, inserted_at TEXT)";
/// W1: what `Repo.get(Post, id)` sends.
pub const POINT_READ: &str =
    "SELECT id, title, body, views, score, inserted_at FROM posts WHERE id = ?1";
/// W6: the driver-floor statement.
pub const DRIVER_READ: &str = "SELECT id, title, views FROM posts WHERE id = ?";
/// W4: what `Repo.all(Post)` sends.
pub const SCAN: &str = "SELECT id, title, body, views, score, inserted_at FROM posts";

/// A fresh database file in its own temporary directory (removed on drop),
/// with the adapter's default pragmas: WAL and `synchronous=NORMAL`.
pub struct Fixture {
    pub dir: std::path::PathBuf,
    pub db: Database,
    pub conn: Connection,
}

impl Fixture {
    pub fn new(tag: &str) -> Fixture {
        let dir = std::env::temp_dir().join(format!(
            "ecto_libsql_floor_{}_{}_{}",
            tag,
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("bench.db");
        let db = block_on(libsql::Builder::new_local(&path).build()).expect("open database");
        let conn = db.connect().expect("connect");
        // journal_mode answers with a row: read it and let it go.
        {
            let mut rows = block_on(conn.query("PRAGMA journal_mode = WAL", ())).expect("wal");
            let mode = block_on(rows.next()).expect("wal row").expect("a row");
            assert_eq!(mode.get_value(0).expect("mode"), Value::Text("wal".into()));
        }
        block_on(conn.execute("PRAGMA synchronous = NORMAL", ())).expect("synchronous");
        block_on(conn.execute(CREATE, ())).expect("create table");
        Fixture { dir, db, conn }
    }

    /// A fixture already holding `rows` posts with ids `1..=rows`.
    pub fn seeded(tag: &str, rows: i64) -> Fixture {
        let fixture = Fixture::new(tag);
        let insert = BulkInsert::new(&fixture.conn);
        let mut next = 1;
        while next <= rows {
            let n = CHUNK.min((rows - next + 1) as usize);
            if n == CHUNK {
                insert.chunk(next);
            } else {
                for id in next..next + n as i64 {
                    block_on(
                        fixture
                            .conn
                            .execute("INSERT INTO posts VALUES (?1, ?2, ?3, ?4, ?5, ?6)", row(id)),
                    )
                    .expect("insert");
                }
            }
            next += n as i64;
        }
        fixture
    }

    /// Deletes every row, for a fresh W3 round on the same file.
    pub fn truncate(&self) {
        block_on(self.conn.execute("DELETE FROM posts", ())).expect("delete");
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One row of `posts`, as the Elixir benchmark builds it.
pub fn row(id: i64) -> Vec<Value> {
    vec![
        Value::Integer(id),
        Value::Text(format!("title {id}")),
        Value::Text(format!(
            "body of post {id}, some text to make the row less tiny"
        )),
        Value::Integer(id % 1000),
        Value::Real(id as f64 / 7.0),
        Value::Text("2024-01-01T00:00:00".to_string()),
    ]
}

/// The multi-row `INSERT` Ecto's `insert_all` emits for `n` rows:
/// `(?1,?2,...,?6),(?7,...)`.
pub fn insert_sql(n: usize) -> String {
    let mut sql =
        String::from("INSERT INTO posts (id, title, body, views, score, inserted_at) VALUES ");
    for r in 0..n {
        if r > 0 {
            sql.push(',');
        }
        sql.push('(');
        for c in 0..COLUMNS {
            if c > 0 {
                sql.push(',');
            }
            sql.push('?');
            sql.push_str(&(r * COLUMNS + c + 1).to_string());
        }
        sql.push(')');
    }
    sql
}

/// W3: a 1,000-row chunk, prepared once (the adapter's statement cache
/// does the same) and rebound for every chunk.
pub struct BulkInsert {
    stmt: Statement,
}

impl BulkInsert {
    pub fn new(conn: &Connection) -> BulkInsert {
        let stmt = block_on(conn.prepare(&insert_sql(CHUNK))).expect("prepare insert");
        BulkInsert { stmt }
    }

    /// Inserts ids `first..first + CHUNK` in one autocommit statement.
    pub fn chunk(&self, first: i64) {
        let mut values = Vec::with_capacity(CHUNK * COLUMNS);
        for id in first..first + CHUNK as i64 {
            values.extend(row(id));
        }
        let changed = block_on(self.stmt.execute(values)).expect("insert chunk");
        debug_assert_eq!(changed, CHUNK);
        self.stmt.reset();
    }

    /// All of W3: `rows` rows from id 1.
    pub fn all(&self, rows: i64) {
        let mut first = 1;
        while first <= rows {
            self.chunk(first);
            first += CHUNK as i64;
        }
    }
}

/// Reads every column of the (single) row as `libsql::Value`, the way the
/// NIF does before encoding it; returns a checksum so nothing is optimised
/// away.
fn read_row(row: &libsql::Row, columns: i32) -> i64 {
    let mut sum = 0;
    for i in 0..columns {
        sum += match row.get_value(i).expect("value") {
            Value::Integer(n) => n,
            Value::Text(s) => s.len() as i64,
            Value::Real(f) => f as i64,
            Value::Blob(b) => b.len() as i64,
            Value::Null => 0,
        };
    }
    sum
}

/// W1 with `conn.query` each time: prepare, bind, step, finalize.
pub fn point_read_query(conn: &Connection, id: i64) -> i64 {
    let mut rows = block_on(conn.query(POINT_READ, [id])).expect("query");
    let row = block_on(rows.next()).expect("step").expect("a row");
    read_row(&row, 6)
}

/// W1 (and W6) on a statement prepared once: bind, step, read, reset.
pub fn point_read_prepared(stmt: &Statement, id: i64, columns: i32) -> i64 {
    let sum = {
        let mut rows = block_on(stmt.query([id])).expect("query");
        let row = block_on(rows.next()).expect("step").expect("a row");
        read_row(&row, columns)
    };
    // Dropping the rows is not enough: an un-reset statement keeps its
    // WAL read transaction open.
    stmt.reset();
    sum
}

pub fn prepare(conn: &Connection, sql: &str) -> Statement {
    block_on(conn.prepare(sql)).expect("prepare")
}

/// W4: every row of `posts`, every value read as `libsql::Value`. Returns
/// the number of rows.
pub fn full_scan(conn: &Connection) -> i64 {
    let mut rows = block_on(conn.query(SCAN, ())).expect("scan");
    let mut n = 0;
    let mut sum = 0;
    while let Some(row) = block_on(rows.next()).expect("step") {
        sum += read_row(&row, 6);
        n += 1;
    }
    std::hint::black_box(sum);
    n
}

/// A small, dependency-free xorshift generator for the random ids.
pub struct Ids(u64);

impl Ids {
    pub fn new(seed: u64) -> Ids {
        Ids(seed | 1)
    }

    /// An id in `1..=max`.
    pub fn next_id(&mut self, max: i64) -> i64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        (x % max as u64) as i64 + 1
    }
}
