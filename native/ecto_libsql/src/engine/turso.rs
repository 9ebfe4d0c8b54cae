//! The Turso engine (`turso_core`): local files and memory, with MVCC
//! (`mvcc: true`, `BEGIN CONCURRENT`). Its statements are stepped here, on
//! the connection's worker thread: the platform I/O completes synchronously
//! (`io.step()` between steps), so nothing waits on a BEAM scheduler.
//!
//! Interrupts: `turso_core::Connection::interrupt` is ignored while no
//! statement is active, so an interrupt that arrives just before a
//! statement starts would be lost. Instead each connection has a progress
//! handler that stops the running statement when the connection's `stop`
//! flag is set; the flag is cleared when a job publishes what it runs
//! (`interruptible`), and set by `Control` afterwards, so it is never lost.
//!
//! Capabilities: Turso does not have all of SQLite yet. At open, probes
//! check a few features with known answers; a statement that uses a
//! feature that failed its probe is refused at prepare with an
//! `:unsupported` error naming the engine and the feature, so that it
//! cannot return a wrong answer.

use std::cell::RefCell;
use std::num::NonZero;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use turso_core::{LimboError, StepResult, Value};

use super::{Cell, Column, Engine, RowSink};
use crate::control::Interruptible;
use crate::error::{Error, Result};

/// How many VM instructions pass between two looks at the `stop` flag.
const PROGRESS_OPS: u64 = 256;

/// The longest a busy wait sleeps before it looks at `stop` again.
const SLEEP_SLICE: Duration = Duration::from_millis(10);

/// An opened Turso database, shared by its connections.
pub struct Database {
    db: Arc<turso_core::Database>,
    read_only: bool,
    /// The features that failed their probe (see `CAPABILITIES`).
    missing: Arc<Vec<&'static Capability>>,
}

/// Opens `path` (`:memory:` for a private in-memory database), in MVCC
/// mode when `mvcc` is set.
pub fn open(path: &str, read_only: bool, mvcc: bool) -> Result<Database> {
    let io: Arc<dyn turso_core::IO> = if path == ":memory:" {
        Arc::new(turso_core::MemoryIO::new())
    } else {
        Arc::new(turso_core::PlatformIO::new().map_err(error)?)
    };
    let flags = if read_only {
        turso_core::OpenFlags::ReadOnly
    } else {
        turso_core::OpenFlags::default()
    };
    let options = turso_core::OpenOptions::new(Arc::new(turso_core::SqliteDialect))
        .flags(flags)
        .db_opts(turso_core::DatabaseOpts::new());
    let db = caught(|| turso_core::Database::open(io, path, options).map_err(error))?;
    let mut database = Database {
        db,
        read_only,
        missing: Arc::new(Vec::new()),
    };
    let conn = database.connect()?;
    if mvcc && !read_only {
        conn.execute("PRAGMA journal_mode = 'mvcc'")?;
    }
    database.missing = Arc::new(probe(&conn));
    Ok(database)
}

impl Database {
    pub fn connect(&self) -> Result<Conn> {
        let conn = caught(|| self.db.connect().map_err(error))?;
        // Turso opens a file read-only yet lets its connections write: its
        // query-only mode refuses the writes `prepare` does not catch.
        conn.set_query_only(self.read_only);
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        conn.set_progress_handler(
            PROGRESS_OPS,
            Some(Box::new(move || flag.load(Ordering::SeqCst))),
        );
        Ok(Conn {
            conn,
            read_only: self.read_only,
            stop,
            missing: self.missing.clone(),
        })
    }

    /// The names of the features this database's engine lacks.
    pub fn missing(&self) -> Vec<&'static str> {
        self.missing.iter().map(|c| c.name).collect()
    }
}

pub struct Conn {
    conn: Arc<turso_core::Connection>,
    read_only: bool,
    /// Set to stop the running statement (see the module doc).
    stop: Arc<AtomicBool>,
    missing: Arc<Vec<&'static Capability>>,
}

impl Conn {
    pub fn is_autocommit(&self) -> bool {
        self.conn.get_auto_commit()
    }

    pub fn changes(&self) -> u64 {
        u64::try_from(self.conn.changes()).unwrap_or(0)
    }

    pub fn total_changes(&self) -> u64 {
        u64::try_from(self.conn.total_changes()).unwrap_or(0)
    }

    pub fn last_insert_rowid(&self) -> i64 {
        self.conn.last_insert_rowid()
    }

    pub fn busy_timeout(&self, timeout: Duration) {
        self.conn.set_busy_timeout(timeout);
    }

    pub fn mvcc(&self) -> bool {
        self.conn.mvcc_enabled()
    }

    /// Clears the stop flag for the job about to run and hands it to
    /// `Control`.
    pub fn interruptible(&self) -> Interruptible {
        self.stop.store(false, Ordering::SeqCst);
        Interruptible::Flag(self.stop.clone())
    }

    pub fn prepare(&self, sql: &str) -> Result<Stmt> {
        if let Some(capability) = self.missing.iter().find(|c| (c.used_by)(sql)) {
            return Err(super::unsupported(Engine::Turso, capability.name));
        }
        if self.read_only && writes(sql) {
            return Err(Error::Sqlite {
                extended_code: Some(8),
                message: "attempt to write a readonly database".into(),
            });
        }
        let stmt = caught(|| self.conn.prepare(sql).map_err(error))?;
        // Turso drops the parameter slots of a condition it folds away
        // (`WHERE 0 AND x = ?1` has none): SQLite's numbering, read from
        // the SQL, keeps the count callers expect.
        let placeholders = crate::sql::placeholders(sql);
        let folded = if placeholders.len() > stmt.parameters_count() {
            placeholders
        } else {
            Vec::new()
        };
        Ok(Stmt {
            stmt: RefCell::new(Box::new(stmt)),
            stop: self.stop.clone(),
            folded,
        })
    }

    /// Runs one statement to the end, rows discarded.
    pub fn execute(&self, sql: &str) -> Result<()> {
        let stmt = self.prepare(sql)?;
        let result = stmt.drain();
        stmt.reset();
        result
    }

    /// Prepares each statement of `sql` in turn and hands it to `each`,
    /// which steps it to the end.
    pub fn script(&self, sql: &str, mut each: impl FnMut(&Stmt) -> Result<()>) -> Result<()> {
        let mut rest = sql;
        loop {
            if let Some(capability) = self.missing.iter().find(|c| (c.used_by)(rest)) {
                return Err(super::unsupported(Engine::Turso, capability.name));
            }
            let next = caught(|| self.conn.consume_stmt(rest).map_err(error))?;
            let Some((stmt, end)) = next else {
                return Ok(());
            };
            let stmt = Stmt {
                stmt: RefCell::new(Box::new(stmt)),
                stop: self.stop.clone(),
                folded: Vec::new(),
            };
            let result = each(&stmt);
            stmt.reset();
            result?;
            rest = rest.get(end..).unwrap_or("");
        }
    }
}

/// A prepared Turso statement. Only its connection's worker thread uses
/// it, one call at a time.
pub struct Stmt {
    // Boxed: a statement is large, and it sits in the statement cache.
    stmt: RefCell<Box<turso_core::Statement>>,
    stop: Arc<AtomicBool>,
    /// SQLite's parameters, when Turso reports fewer (see `Conn::prepare`);
    /// else empty.
    folded: Vec<Option<String>>,
}

impl Stmt {
    pub fn columns(&self) -> Vec<Column> {
        let stmt = self.stmt.borrow();
        (0..stmt.num_columns())
            .map(|i| {
                (
                    stmt.get_column_name(i).into_owned(),
                    stmt.get_column_decltype(i),
                )
            })
            .collect()
    }

    pub fn parameter_count(&self) -> usize {
        self.stmt.borrow().parameters_count().max(self.folded.len())
    }

    pub fn parameter_name(&self, index: usize) -> Option<String> {
        let slot = NonZero::new(index)?;
        let stmt = self.stmt.borrow();
        if stmt.parameters().has_slot(slot) {
            stmt.parameters().name(slot)
        } else {
            self.folded.get(index - 1).cloned().flatten()
        }
    }

    pub fn reset(&self) {
        let mut stmt = self.stmt.borrow_mut();
        // A statement that cannot be reset fails again on its next step.
        let _ = caught(|| stmt.reset().map_err(error));
    }

    pub fn interruptible(&self) -> Interruptible {
        self.stop.store(false, Ordering::SeqCst);
        Interruptible::Flag(self.stop.clone())
    }

    /// Binds positional values (named ones are put in order above this).
    pub fn bind(&self, values: libsql::params::Params) -> Result<()> {
        let values = match values {
            libsql::params::Params::None => Vec::new(),
            libsql::params::Params::Positional(values) => values,
            libsql::params::Params::Named(_) => {
                return Err(Error::misuse(
                    "internal: named parameters reached the turso engine unordered",
                ))
            }
        };
        let mut stmt = self.stmt.borrow_mut();
        for (i, value) in values.into_iter().enumerate() {
            let index = NonZero::new(i + 1).ok_or_else(|| Error::misuse("parameter index 0"))?;
            // A parameter Turso folded away is read by nothing.
            if !stmt.parameters().has_slot(index) && i < self.folded.len() {
                continue;
            }
            let value = value_of(value)?;
            caught(|| stmt.bind_at(index, value).map_err(error))?;
        }
        Ok(())
    }

    /// Steps to the next row: `true` when there is one.
    pub fn step(&self) -> Result<bool> {
        let mut stmt = self.stmt.borrow_mut();
        loop {
            let stepped = caught(|| stmt.step().map_err(error))?;
            match stepped {
                StepResult::Row => return Ok(true),
                StepResult::Done => return Ok(false),
                StepResult::IO | StepResult::Yield => {
                    caught(|| stmt._io().step().map_err(error))?;
                }
                StepResult::Sleep { duration } => {
                    // A busy wait: in slices, so that an interrupt ends it.
                    if self.stop.load(Ordering::SeqCst) {
                        return Err(interrupted());
                    }
                    std::thread::sleep(duration.min(SLEEP_SLICE));
                    caught(|| stmt._io().step().map_err(error))?;
                }
                StepResult::Busy => return Err(error(LimboError::Busy)),
                StepResult::Interrupt => return Err(interrupted()),
            }
        }
    }

    /// Rows the last run of this statement changed.
    pub fn changes(&self) -> u64 {
        u64::try_from(self.stmt.borrow().n_change()).unwrap_or(0)
    }

    /// Steps to the end, rows discarded.
    pub fn drain(&self) -> Result<()> {
        while self.step()? {}
        Ok(())
    }

    /// Hands the current row's first `ncols` cells to `sink`.
    pub fn each_cell(&self, ncols: usize, sink: &mut impl RowSink) -> Result<()> {
        let stmt = self.stmt.borrow();
        let row = stmt
            .row()
            .ok_or_else(|| Error::misuse("internal: the statement holds no row"))?;
        for i in 0..ncols {
            sink.cell(cell(row.get_value(i)))?;
        }
        Ok(())
    }
}

/// Whether `sql` changes the database's contents or schema (connection
/// pragmas do not).
fn writes(sql: &str) -> bool {
    matches!(
        crate::sql::command(sql),
        "insert"
            | "update"
            | "delete"
            | "replace"
            | "create"
            | "drop"
            | "alter"
            | "reindex"
            | "vacuum"
            | "analyze"
    )
}

fn value_of(value: libsql::Value) -> Result<Value> {
    Ok(match value {
        libsql::Value::Null => Value::Null,
        libsql::Value::Integer(i) => Value::from_i64(i),
        libsql::Value::Real(f) => Value::from_f64(f),
        libsql::Value::Text(s) => Value::from_text(s),
        libsql::Value::Blob(b) => Value::from_slice(&b)
            .map_err(|_| Error::misuse("out of memory for a BLOB parameter"))?,
    })
}

fn cell(value: &Value) -> Cell<'_> {
    match value {
        Value::Null => Cell::Null,
        Value::Numeric(turso_core::Numeric::Integer(i)) => Cell::Integer(*i),
        Value::Numeric(turso_core::Numeric::Float(f)) => Cell::Real(**f),
        Value::Text(text) => Cell::Text(text.as_str()),
        Value::Blob(bytes) => Cell::Blob(bytes),
    }
}

fn interrupted() -> Error {
    Error::Sqlite {
        extended_code: Some(9),
        message: "interrupted".into(),
    }
}

/// Runs a call into `turso_core`, whose code still has `unwrap`s on some
/// inputs: a panic becomes an error instead of a dead worker thread.
fn caught<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    crate::panics::catch_quietly(f).unwrap_or_else(|_| {
        Err(Error::Sqlite {
            extended_code: Some(2),
            message: "the turso engine failed internally (it panicked) on this statement".into(),
        })
    })
}

/// Turso's errors, with SQLite's result codes where there is one. A
/// constraint failure carries no extended code, only SQLite's wording
/// (`UNIQUE constraint failed: ...`), which `crate::error` reads as it
/// does for a remote server's.
pub fn error(err: LimboError) -> Error {
    let message = err.to_string();
    match err {
        LimboError::WriteWriteConflict
        | LimboError::CommitDependencyAborted
        | LimboError::Conflict(_) => Error::Conflict(format!(
            "{message}: another concurrent transaction wrote the same rows first; \
             roll back and run the transaction again"
        )),
        LimboError::BusySnapshot => crate::error::busy_snapshot(message),
        // Turso reports unknown tables as parse errors too: SQLite's code
        // for both is SQLITE_ERROR, and its wording says which it is.
        LimboError::ParseError(_) | LimboError::LexerError(_) => Error::Sqlite {
            extended_code: Some(1),
            message,
        },
        LimboError::CompletionError(turso_core::CompletionError::IOError(
            std::io::ErrorKind::NotFound,
            _,
        )) => Error::Sqlite {
            extended_code: Some(14),
            message: format!("unable to open database file: {message}"),
        },
        LimboError::ForeignKeyConstraint(_) => Error::Sqlite {
            extended_code: Some(787),
            message,
        },
        LimboError::Constraint(_) => Error::Sqlite {
            extended_code: Some(crate::error::constraint_code(&message)),
            message,
        },
        other => Error::Sqlite {
            extended_code: Some(other.sqlite_result_code()),
            message,
        },
    }
}

/// A feature Turso may lack: how to find out (`probe` must return
/// `expected` as its only cell), and how to tell that SQL uses it.
pub struct Capability {
    pub name: &'static str,
    probe: &'static str,
    expected: i64,
    used_by: fn(&str) -> bool,
}

/// The features checked at open. Each probe's SQL computes a known number.
pub static CAPABILITIES: &[Capability] = &[
    Capability {
        name: "recursive common table expressions (WITH RECURSIVE)",
        probe: "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 4) \
                SELECT sum(x) FROM c",
        expected: 10,
        used_by: |sql| crate::sql::has_word(sql, "recursive"),
    },
    Capability {
        name: "window functions lag/lead",
        probe: "SELECT sum(l) FROM (SELECT lag(x) OVER (ORDER BY x) + lead(x) OVER (ORDER BY x) AS l \
                FROM (SELECT 1 AS x UNION ALL SELECT 2 UNION ALL SELECT 3))",
        expected: 4,
        used_by: |sql| crate::sql::calls(sql, "lag") || crate::sql::calls(sql, "lead"),
    },
    Capability {
        name: "window functions (OVER)",
        probe: "SELECT sum(n) FROM (SELECT row_number() OVER (ORDER BY x) AS n \
                FROM (SELECT 5 AS x UNION ALL SELECT 6))",
        expected: 3,
        used_by: |sql| crate::sql::has_word(sql, "over"),
    },
    Capability {
        name: "aggregate FILTER clauses",
        probe: "SELECT count(*) FILTER (WHERE x > 1) FROM (SELECT 1 AS x UNION ALL SELECT 2 UNION ALL SELECT 3)",
        expected: 2,
        used_by: |sql| crate::sql::calls(sql, "filter"),
    },
];

/// Runs each capability's probe; returns the ones that failed.
fn probe(conn: &Conn) -> Vec<&'static Capability> {
    CAPABILITIES
        .iter()
        .filter(|c| probe_one(conn, c) != Some(c.expected))
        .collect()
}

fn probe_one(conn: &Conn, capability: &Capability) -> Option<i64> {
    let stmt = caught(|| conn.conn.prepare(capability.probe).map_err(error)).ok()?;
    let stmt = Stmt {
        stmt: RefCell::new(Box::new(stmt)),
        stop: conn.stop.clone(),
        folded: Vec::new(),
    };
    struct First(Option<i64>, usize);
    impl RowSink for First {
        fn cell(&mut self, cell: Cell<'_>) -> Result<()> {
            self.1 += 1;
            self.0 = match cell {
                Cell::Integer(i) if self.1 == 1 => Some(i),
                _ => None,
            };
            Ok(())
        }
        fn end_row(&mut self) -> Result<()> {
            Ok(())
        }
    }
    let mut first = First(None, 0);
    let stepped = stmt.step().ok()?;
    if stepped {
        stmt.each_cell(1, &mut first).ok()?;
    }
    let more = stmt.step().ok()?;
    stmt.reset();
    (!more).then_some(first.0).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Collect(Vec<Vec<String>>, Vec<String>);
    impl RowSink for Collect {
        fn cell(&mut self, cell: Cell<'_>) -> Result<()> {
            self.1.push(format!("{cell:?}"));
            Ok(())
        }
        fn end_row(&mut self) -> Result<()> {
            self.0.push(std::mem::take(&mut self.1));
            Ok(())
        }
    }

    fn rows(conn: &Conn, sql: &str, params: Vec<libsql::Value>) -> Result<Vec<Vec<String>>> {
        let stmt = conn.prepare(sql)?;
        let ncols = stmt.columns().len();
        stmt.bind(libsql::params::Params::Positional(params))?;
        let mut sink = Collect(Vec::new(), Vec::new());
        let result = (|| {
            while stmt.step()? {
                stmt.each_cell(ncols, &mut sink)?;
                sink.end_row()?;
            }
            Ok(())
        })();
        stmt.reset();
        result.map(|()| sink.0)
    }

    fn tmp_path(name: &str) -> String {
        let dir =
            std::env::temp_dir().join(format!("ecto_libsql_turso_{}_{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir.join("t.db").to_string_lossy().into_owned()
    }

    #[test]
    fn values_go_in_and_come_back_out() {
        let db = open(":memory:", false, false).expect("open");
        let conn = db.connect().expect("connect");
        let got = rows(
            &conn,
            "SELECT ?1, ?2, ?3, ?4, ?5",
            vec![
                libsql::Value::Null,
                libsql::Value::Integer(-7),
                libsql::Value::Real(1.5),
                libsql::Value::Text("héllo".into()),
                libsql::Value::Blob(vec![0, 255]),
            ],
        )
        .expect("select");
        assert_eq!(
            got,
            vec![vec![
                "Null".to_string(),
                "Integer(-7)".into(),
                "Real(1.5)".into(),
                "Text(\"héllo\")".into(),
                "Blob([0, 255])".into()
            ]]
        );
    }

    #[test]
    fn a_stop_flag_set_before_the_statement_starts_still_stops_it() {
        let db = open(":memory:", false, false).expect("open");
        let conn = db.connect().expect("connect");
        let stmt = conn
            .prepare("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c")
            .or_else(|_| conn.prepare("SELECT count(*) FROM generate_series(1, 9223372036854775807)"))
            .expect("prepare an endless query");
        let Interruptible::Flag(flag) = stmt.interruptible() else {
            panic!("a turso statement is stopped through its flag");
        };
        flag.store(true, Ordering::SeqCst);
        let err = stmt.drain().expect_err("stopped");
        assert_eq!(err.code(), "interrupted");
    }

    #[test]
    fn concurrent_writers_of_one_row_conflict_and_of_two_rows_do_not() {
        let path = tmp_path("mvcc");
        let db = open(&path, false, true).expect("open");
        let a = db.connect().expect("a");
        let b = db.connect().expect("b");
        assert!(a.mvcc() && b.mvcc());
        a.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, v INTEGER)")
            .expect("create");
        a.execute("INSERT INTO t VALUES (1, 0), (2, 0)")
            .expect("insert");

        a.execute("BEGIN CONCURRENT").expect("begin a");
        b.execute("BEGIN CONCURRENT").expect("begin b");
        a.execute("UPDATE t SET v = v + 1 WHERE id = 1")
            .expect("a writes 1");
        b.execute("UPDATE t SET v = v + 1 WHERE id = 2")
            .expect("b writes 2");
        a.execute("COMMIT").expect("commit a");
        b.execute("COMMIT").expect("commit b");

        a.execute("BEGIN CONCURRENT").expect("begin a");
        b.execute("BEGIN CONCURRENT").expect("begin b");
        a.execute("UPDATE t SET v = v + 1 WHERE id = 1")
            .expect("a writes 1");
        let second = b
            .execute("UPDATE t SET v = v + 10 WHERE id = 1")
            .and_then(|()| b.execute("COMMIT"));
        a.execute("COMMIT").expect("commit a");
        let err = second.expect_err("b's write of the same row conflicts");
        assert_eq!(err.code(), "conflict");
        if !b.is_autocommit() {
            b.execute("ROLLBACK").expect("rollback b");
        }
        let got = rows(&a, "SELECT v FROM t ORDER BY id", vec![]).expect("select");
        assert_eq!(got, vec![vec!["Integer(2)"], vec!["Integer(1)"]]);
        drop((a, b, db));
        let _ = std::fs::remove_dir_all(std::path::Path::new(&path).parent().expect("dir"));
    }

    #[test]
    fn capabilities_that_fail_their_probe_refuse_statements_that_use_them() {
        let db = open(":memory:", false, false).expect("open");
        let conn = db.connect().expect("connect");
        for capability in CAPABILITIES {
            let result = conn.prepare(capability.probe);
            if db.missing().contains(&capability.name) {
                let err = result.err().expect("refused");
                assert_eq!(err.code(), "unsupported");
                assert!(err.to_string().contains("turso"));
            } else {
                assert_eq!(
                    rows(&conn, capability.probe, vec![]).expect("runs"),
                    vec![vec![format!("Integer({})", capability.expected)]]
                );
            }
        }
    }

    #[test]
    fn a_statement_using_a_missing_capability_is_refused_by_name() {
        let mut db = open(":memory:", false, false).expect("open");
        db.missing = Arc::new(vec![&CAPABILITIES[0]]);
        let conn = db.connect().expect("connect");
        let err = conn
            .prepare("WITH RECURSIVE c(x) AS (SELECT 1) SELECT x FROM c")
            .err()
            .expect("refused");
        assert_eq!(err.code(), "unsupported");
        assert!(err
            .to_string()
            .contains("the turso engine does not support recursive"));
        assert!(conn
            .prepare("WITH c(x) AS (SELECT 1) SELECT x FROM c")
            .is_ok());
        let err = conn
            .script(
                "SELECT 1; WITH RECURSIVE c(x) AS (SELECT 1) SELECT x FROM c",
                |s| s.drain(),
            )
            .expect_err("refused in a script too");
        assert_eq!(err.code(), "unsupported");
    }

    #[test]
    fn parameters_of_a_condition_turso_folds_away_still_count() {
        let db = open(":memory:", false, false).expect("open");
        let conn = db.connect().expect("connect");
        conn.execute("CREATE TABLE c (id INTEGER PRIMARY KEY, p INTEGER)")
            .expect("create");
        conn.execute("INSERT INTO c VALUES (1, 1)").expect("insert");
        let sql = "SELECT id FROM c WHERE (0) AND (p IN (?1, ?2, :three))";
        let stmt = conn.prepare(sql).expect("prepare");
        assert_eq!(stmt.parameter_count(), 3);
        assert_eq!(stmt.parameter_name(3), Some(":three".to_string()));
        let values = vec![libsql::Value::Integer(1); 3];
        assert_eq!(
            rows(&conn, sql, values).expect("runs"),
            Vec::<Vec<String>>::new()
        );
        let sql = "SELECT id FROM c WHERE (1) AND (p IN (?1, ?2))";
        let values = vec![libsql::Value::Integer(1); 2];
        assert_eq!(
            rows(&conn, sql, values).expect("runs"),
            vec![vec!["Integer(1)"]]
        );
    }

    #[test]
    fn a_script_runs_every_statement() {
        let db = open(":memory:", false, false).expect("open");
        let conn = db.connect().expect("connect");
        let mut seen = 0;
        conn.script(
            "CREATE TABLE s(a); INSERT INTO s VALUES (1); INSERT INTO s VALUES (2);",
            |stmt| {
                seen += 1;
                stmt.drain()
            },
        )
        .expect("script");
        assert_eq!(seen, 3);
        assert_eq!(
            rows(&conn, "SELECT count(*) FROM s", vec![]).expect("count"),
            vec![vec!["Integer(2)"]]
        );
    }
}
