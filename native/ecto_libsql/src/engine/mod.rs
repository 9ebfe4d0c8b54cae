//! The engines a connection runs on. libSQL (the `libsql` crate: SQLite's
//! fork, for local files, memory, remote servers and embedded replicas) is
//! the default; with the `turso` cargo feature, Turso (`turso_core`, the Rust
//! rewrite of SQLite, with MVCC and `BEGIN CONCURRENT`) serves local files
//! and memory. Everything above this module holds a `Conn`, a `Stmt` or a
//! `Rows` and never asks which engine is inside, except where a feature
//! exists on one engine only (`Conn::libsql`).
//!
//! Rows leave the engines through a `RowSink`, one borrowed `Cell` at a time,
//! so that each engine's values are encoded where they lie, without an
//! intermediate copy.

use std::sync::Arc;

use crate::control::Interruptible;
use crate::error::{Error, Result};
use crate::runtime::{block_on, Driver};

#[cfg(feature = "turso")]
pub mod turso;

/// Which engine a database is opened with (`engine:` in the Repo config).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Libsql,
    Turso,
}

impl Engine {
    pub fn parse(name: &str) -> Result<Engine> {
        match name {
            "libsql" => Ok(Engine::Libsql),
            "turso" if cfg!(feature = "turso") => Ok(Engine::Turso),
            "turso" => Err(Error::Unsupported(
                "this build of ecto_libsql has no turso engine (cargo feature `turso`)".into(),
            )),
            other => Err(Error::InvalidOption(format!(
                "unknown engine {other:?}: use :libsql or :turso"
            ))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Engine::Libsql => "libsql",
            Engine::Turso => "turso",
        }
    }
}

/// The error for a feature an engine does not have.
pub fn unsupported(engine: Engine, feature: &str) -> Error {
    Error::Unsupported(format!(
        "the {} engine does not support {feature}",
        engine.name()
    ))
}

/// One cell of a row, borrowed from the engine that read it.
#[derive(Debug, PartialEq)]
pub enum Cell<'r> {
    Null,
    Integer(i64),
    Real(f64),
    Text(&'r str),
    Blob(&'r [u8]),
}

impl<'r> From<&'r libsql::Value> for Cell<'r> {
    fn from(value: &'r libsql::Value) -> Cell<'r> {
        match value {
            libsql::Value::Null => Cell::Null,
            libsql::Value::Integer(i) => Cell::Integer(*i),
            libsql::Value::Real(f) => Cell::Real(*f),
            libsql::Value::Text(s) => Cell::Text(s),
            libsql::Value::Blob(b) => Cell::Blob(b),
        }
    }
}

/// Where the rows of a statement go: `cell` for each column of a row in
/// order, then `end_row`.
pub trait RowSink {
    fn cell(&mut self, cell: Cell<'_>) -> Result<()>;
    fn end_row(&mut self) -> Result<()>;
}

/// An opened database of either engine, shared by its connections.
// One per opened database, inside an `Arc`: its size does not matter.
#[allow(clippy::large_enum_variant)]
pub enum Database {
    Libsql(libsql::Database),
    #[cfg(feature = "turso")]
    Turso(turso::Database),
}

impl Database {
    pub fn connect(&self) -> Result<Conn> {
        match self {
            Database::Libsql(db) => Ok(Conn::Libsql(db.connect()?)),
            #[cfg(feature = "turso")]
            Database::Turso(db) => db.connect().map(Conn::Turso),
        }
    }

    pub fn engine(&self) -> Engine {
        match self {
            Database::Libsql(_) => Engine::Libsql,
            #[cfg(feature = "turso")]
            Database::Turso(_) => Engine::Turso,
        }
    }

    /// The libSQL database, for what only libSQL has (replication, sandbox
    /// snapshots); `feature` names it in the error.
    #[cfg_attr(not(feature = "turso"), allow(unused_variables))]
    pub fn libsql(&self, feature: &str) -> Result<&libsql::Database> {
        match self {
            Database::Libsql(db) => Ok(db),
            #[cfg(feature = "turso")]
            Database::Turso(_) => Err(unsupported(Engine::Turso, feature)),
        }
    }
}

/// Where the results of a script (several statements of SQL text) go:
/// `begin_statement` with the statement's columns (`None` for one that
/// returns no rows), its rows through `RowSink`, then `end_statement`.
pub trait ScriptSink: RowSink {
    fn begin_statement(&mut self, columns: Option<Vec<String>>) -> Result<()>;
    fn end_statement(&mut self) -> Result<()>;
}

/// A connection of either engine.
pub enum Conn {
    Libsql(libsql::Connection),
    #[cfg(feature = "turso")]
    Turso(turso::Conn),
}

impl Conn {
    pub fn engine(&self) -> Engine {
        match self {
            Conn::Libsql(_) => Engine::Libsql,
            #[cfg(feature = "turso")]
            Conn::Turso(_) => Engine::Turso,
        }
    }

    /// The libSQL connection, for what only libSQL has (authorizer, update
    /// hooks, extensions, replication); `feature` names it in the error.
    #[cfg_attr(not(feature = "turso"), allow(unused_variables))]
    pub fn libsql(&self, feature: &str) -> Result<&libsql::Connection> {
        match self {
            Conn::Libsql(conn) => Ok(conn),
            #[cfg(feature = "turso")]
            Conn::Turso(_) => Err(unsupported(Engine::Turso, feature)),
        }
    }

    /// The libSQL connection, if that is the engine.
    pub fn as_libsql(&self) -> Option<&libsql::Connection> {
        match self {
            Conn::Libsql(conn) => Some(conn),
            #[cfg(feature = "turso")]
            Conn::Turso(_) => None,
        }
    }

    pub fn is_autocommit(&self) -> bool {
        match self {
            Conn::Libsql(conn) => conn.is_autocommit(),
            #[cfg(feature = "turso")]
            Conn::Turso(conn) => conn.is_autocommit(),
        }
    }

    /// Rows changed by the last INSERT, UPDATE or DELETE.
    pub fn changes(&self) -> u64 {
        match self {
            Conn::Libsql(conn) => conn.changes(),
            #[cfg(feature = "turso")]
            Conn::Turso(conn) => conn.changes(),
        }
    }

    pub fn total_changes(&self) -> u64 {
        match self {
            Conn::Libsql(conn) => conn.total_changes(),
            #[cfg(feature = "turso")]
            Conn::Turso(conn) => conn.total_changes(),
        }
    }

    pub fn last_insert_rowid(&self) -> i64 {
        match self {
            Conn::Libsql(conn) => conn.last_insert_rowid(),
            #[cfg(feature = "turso")]
            Conn::Turso(conn) => conn.last_insert_rowid(),
        }
    }

    pub fn busy_timeout(&self, timeout: std::time::Duration) -> Result<()> {
        match self {
            Conn::Libsql(conn) => Ok(conn.busy_timeout(timeout)?),
            #[cfg(feature = "turso")]
            Conn::Turso(conn) => {
                conn.busy_timeout(timeout);
                Ok(())
            }
        }
    }

    /// What an interrupt stops while this connection runs SQL text.
    pub fn interruptible(&self) -> Interruptible {
        match self {
            Conn::Libsql(conn) => Interruptible::Connection(conn.clone()),
            #[cfg(feature = "turso")]
            Conn::Turso(conn) => conn.interruptible(),
        }
    }

    /// Runs one statement of SQL text without parameters and without rows
    /// (transaction control): libSQL's `execute`, which a remote connection
    /// also reads to follow the transaction's state.
    pub fn execute(&self, driver: Driver, sql: &str) -> Result<()> {
        match self {
            Conn::Libsql(conn) => {
                block_on(driver, conn.execute(sql, ()))??;
                Ok(())
            }
            #[cfg(feature = "turso")]
            Conn::Turso(conn) => conn.execute(sql),
        }
    }

    /// Runs one statement of SQL text without parameters, stepping any rows
    /// it returns (a pragma's) to the end.
    pub fn run_to_end(&self, driver: Driver, sql: &str) -> Result<()> {
        match self {
            Conn::Libsql(conn) => {
                block_on(driver, async {
                    let mut rows = conn.query(sql, ()).await?;
                    while rows.next().await?.is_some() {}
                    Ok::<_, libsql::Error>(())
                })??;
                Ok(())
            }
            #[cfg(feature = "turso")]
            Conn::Turso(conn) => conn.execute(sql),
        }
    }

    /// Runs SQL text that may hold several statements, one after another,
    /// stopping at the first failure.
    pub fn execute_script(&self, driver: Driver, sql: &str) -> Result<()> {
        match self {
            Conn::Libsql(conn) => {
                block_on(driver, conn.execute_batch(sql))??;
                Ok(())
            }
            #[cfg(feature = "turso")]
            Conn::Turso(conn) => conn.script(sql, |stmt| stmt.drain()),
        }
    }

    /// Runs SQL text that may hold several statements, every result into
    /// `sink`, stopping at the first failure.
    pub fn script_rows(&self, driver: Driver, sql: &str, sink: &mut impl ScriptSink) -> Result<()> {
        match self {
            Conn::Libsql(conn) => {
                let mut batch = block_on(driver, conn.execute_batch(sql))??;
                while let Some(rows) = batch.next_stmt_row() {
                    match rows {
                        None => sink.begin_statement(None)?,
                        Some(mut rows) => {
                            let ncols = usize::try_from(rows.column_count()).unwrap_or(0);
                            let columns = (0..ncols)
                                .map(|i| {
                                    let i = i32::try_from(i).unwrap_or(i32::MAX);
                                    rows.column_name(i).unwrap_or_default().to_string()
                                })
                                .collect();
                            sink.begin_statement(Some(columns))?;
                            fetch_libsql(driver, &mut rows, ncols, usize::MAX, sink)?;
                        }
                    }
                    sink.end_statement()?;
                }
                Ok(())
            }
            #[cfg(feature = "turso")]
            Conn::Turso(conn) => conn.script(sql, |stmt| {
                let columns: Vec<String> = stmt.columns().into_iter().map(|(n, _)| n).collect();
                let ncols = columns.len();
                sink.begin_statement((ncols > 0).then_some(columns))?;
                while stmt.step()? {
                    stmt.each_cell(ncols, sink)?;
                    sink.end_row()?;
                }
                sink.end_statement()
            }),
        }
    }

    pub fn prepare(&self, driver: Driver, sql: &str) -> Result<Stmt> {
        match self {
            Conn::Libsql(conn) => Ok(Stmt::Libsql(Arc::new(block_on(
                driver,
                conn.prepare(sql),
            )??))),
            #[cfg(feature = "turso")]
            Conn::Turso(conn) => conn.prepare(sql).map(Stmt::Turso),
        }
    }
}

/// A prepared statement of either engine.
pub enum Stmt {
    /// Shared with `control` while it runs, so that an interrupt reaches it.
    Libsql(Arc<libsql::Statement>),
    #[cfg(feature = "turso")]
    Turso(turso::Stmt),
}

/// A column: its name and declared type.
pub type Column = (String, Option<String>);

impl Stmt {
    pub fn columns(&self) -> Vec<Column> {
        match self {
            Stmt::Libsql(stmt) => stmt
                .columns()
                .iter()
                .map(|c| (c.name().to_string(), c.decl_type().map(str::to_string)))
                .collect(),
            #[cfg(feature = "turso")]
            Stmt::Turso(stmt) => stmt.columns(),
        }
    }

    pub fn parameter_count(&self) -> usize {
        match self {
            Stmt::Libsql(stmt) => stmt.parameter_count(),
            #[cfg(feature = "turso")]
            Stmt::Turso(stmt) => stmt.parameter_count(),
        }
    }

    /// The name of parameter `index` (from 1) with its prefix, `None` for
    /// a bare `?`.
    pub fn parameter_name(&self, index: usize) -> Option<String> {
        match self {
            Stmt::Libsql(stmt) => {
                let index = i32::try_from(index).ok()?;
                stmt.parameter_name(index).map(str::to_string)
            }
            #[cfg(feature = "turso")]
            Stmt::Turso(stmt) => stmt.parameter_name(index),
        }
    }

    /// Back to the start, bindings kept (libSQL) or cleared (Turso); every
    /// run binds all parameters anyway.
    pub fn reset(&self) {
        match self {
            Stmt::Libsql(stmt) => stmt.reset(),
            #[cfg(feature = "turso")]
            Stmt::Turso(stmt) => stmt.reset(),
        }
    }

    /// Rows the statement's last run changed. libSQL's connection-wide
    /// count is the statement's own after an INSERT, UPDATE or DELETE (and
    /// the previous one after anything else, as SQLite's); turso counts
    /// per statement.
    pub fn changes(&self, conn: &Conn) -> u64 {
        match self {
            Stmt::Libsql(_) => conn.changes(),
            #[cfg(feature = "turso")]
            Stmt::Turso(stmt) => stmt.changes(),
        }
    }

    /// What an interrupt stops while this statement runs.
    pub fn interruptible(&self) -> Interruptible {
        match self {
            Stmt::Libsql(stmt) => Interruptible::Statement(stmt.clone()),
            #[cfg(feature = "turso")]
            Stmt::Turso(stmt) => stmt.interruptible(),
        }
    }

    /// Binds `values`, steps every row into `sink`. The caller resets.
    pub fn run(
        &self,
        driver: Driver,
        values: libsql::params::Params,
        ncols: usize,
        sink: &mut impl RowSink,
    ) -> Result<()> {
        match self {
            Stmt::Libsql(stmt) => block_on(driver, async {
                let mut rows = stmt.query(values).await?;
                while let Some(row) = rows.next().await? {
                    for i in 0..ncols {
                        sink.cell(Cell::from(&read_value(&row, i)?))?;
                    }
                    sink.end_row()?;
                }
                Ok(())
            })?,
            #[cfg(feature = "turso")]
            Stmt::Turso(stmt) => {
                stmt.bind(values)?;
                while stmt.step()? {
                    stmt.each_cell(ncols, sink)?;
                    sink.end_row()?;
                }
                Ok(())
            }
        }
    }

    /// Binds `values` and leaves the statement to be stepped by a cursor.
    pub fn open(self, driver: Driver, values: libsql::params::Params) -> Result<Rows> {
        match self {
            Stmt::Libsql(stmt) => {
                let rows = block_on(driver, stmt.query(values))??;
                Ok(Rows::Libsql { rows, stmt })
            }
            #[cfg(feature = "turso")]
            Stmt::Turso(stmt) => {
                stmt.bind(values)?;
                Ok(Rows::Turso(stmt))
            }
        }
    }
}

/// An open result set (a cursor), which owns its statement: dropping it
/// finalizes both.
pub enum Rows {
    Libsql {
        rows: libsql::Rows,
        // Kept so the statement outlives its rows.
        stmt: Arc<libsql::Statement>,
    },
    #[cfg(feature = "turso")]
    Turso(turso::Stmt),
}

impl Rows {
    pub fn interruptible(&self) -> Interruptible {
        match self {
            Rows::Libsql { stmt, .. } => Interruptible::Statement(stmt.clone()),
            #[cfg(feature = "turso")]
            Rows::Turso(stmt) => stmt.interruptible(),
        }
    }

    /// Steps at most `max` rows into `sink`; `true` when the result set is
    /// exhausted.
    pub fn fetch(
        &mut self,
        driver: Driver,
        ncols: usize,
        max: usize,
        sink: &mut impl RowSink,
    ) -> Result<bool> {
        match self {
            Rows::Libsql { rows, .. } => fetch_libsql(driver, rows, ncols, max, sink),
            #[cfg(feature = "turso")]
            Rows::Turso(stmt) => {
                for _ in 0..max {
                    if !stmt.step()? {
                        return Ok(true);
                    }
                    stmt.each_cell(ncols, sink)?;
                    sink.end_row()?;
                }
                Ok(false)
            }
        }
    }
}

/// Steps at most `max` rows of libSQL rows into `sink`; `true` when done.
pub fn fetch_libsql(
    driver: Driver,
    rows: &mut libsql::Rows,
    ncols: usize,
    max: usize,
    sink: &mut impl RowSink,
) -> Result<bool> {
    block_on(driver, async {
        for _ in 0..max {
            match rows.next().await? {
                Some(row) => {
                    for i in 0..ncols {
                        sink.cell(Cell::from(&read_value(&row, i)?))?;
                    }
                    sink.end_row()?;
                }
                None => return Ok(true),
            }
        }
        Ok(false)
    })?
}

/// Reads one libSQL cell. libSQL 0.10 reads TEXT through a C string and
/// unwraps its UTF-8 check, so TEXT that is not UTF-8
/// (`CAST(x'ff' AS TEXT)`) panics inside `get_value`: that panic becomes an
/// error, not a crashed call, and prints nothing. (The C-string read also
/// ends TEXT at its first NUL byte.)
fn read_value(row: &libsql::Row, i: usize) -> Result<libsql::Value> {
    let index = i32::try_from(i).map_err(|_| Error::misuse("too many columns"))?;
    match crate::panics::catch_quietly(|| row.get_value(index)) {
        Ok(value) => Ok(value?),
        // SQLITE_MISMATCH: the stored type cannot be read as asked.
        Err(_) => Err(Error::Sqlite {
            extended_code: Some(20),
            message: format!(
                "column {i} holds TEXT that is not valid UTF-8: CAST it to BLOB to read its bytes"
            ),
        }),
    }
}
