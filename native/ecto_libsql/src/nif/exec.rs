//! Running one prepared statement: bind, step every row straight into Erlang
//! terms, reset. Shared by the statement cache, explicit statements and
//! batches, so that all of them behave the same.

use libsql::params::Params as LibsqlParams;
use libsql::Value;
use rustler::{Encoder, Env, Term};

use std::sync::Arc;

use crate::control::Interruptible;
use crate::error::Result;
use crate::nif::runtime::{block_on, Driver};
use crate::nif::term::{encode_value, Params};
use crate::nif::worker::Ctx;
use crate::params::{check_count, order_named};
use crate::sql;

/// A prepared statement and what we learnt about it at prepare time, so
/// that each execution does no more than bind and step.
pub struct Prepared {
    /// Shared with `control` while it runs, so that an interrupt can reach
    /// the statement itself.
    pub stmt: Arc<libsql::Statement>,
    /// The SQL it was prepared from: replica statements are prepared
    /// again for each run (see `run`).
    pub sql: String,
    pub command: &'static str,
    pub columns: Vec<String>,
    pub param_count: usize,
    /// Whose parameter metadata `bind_values` can trust.
    pub kind: crate::nif::database::Kind,
}

impl Prepared {
    pub fn prepare(
        driver: Driver,
        kind: crate::nif::database::Kind,
        conn: &libsql::Connection,
        sql: &str,
    ) -> Result<Prepared> {
        if crate::sql::has_trailing_statement(sql) {
            return Err(crate::error::Error::misuse(
                "the SQL holds more than one statement and only the first would run: \
                 run several with a batch (EctoLibSql.Native.batch/2, Repo.query_many/4)",
            ));
        }
        let stmt = block_on(driver, conn.prepare(sql))??;
        let columns = stmt
            .columns()
            .iter()
            .map(|c| c.name().to_string())
            .collect();
        let param_count = stmt.parameter_count();
        Ok(Prepared {
            stmt: Arc::new(stmt),
            sql: sql.to_string(),
            command: sql::command(sql),
            columns,
            param_count,
            kind,
        })
    }

    /// The placeholders' names, in parameter order (`None` for a bare `?`).
    pub fn placeholders(&self) -> Vec<Option<String>> {
        (1..=self.param_count)
            .map(|i| self.stmt.parameter_name(i as i32).map(str::to_string))
            .collect()
    }

    /// The values to bind, in parameter order.
    pub fn bind_values(&self, params: Params) -> Result<LibsqlParams> {
        use crate::nif::database::Kind;
        match (self.kind, params) {
            // libsql 0.10's Hrana statement reports 0 parameters and no
            // names until it is bound: the server checks them instead
            // (ARGS_INVALID), and resolves names with or without prefix.
            (Kind::Remote, Params::Positional(values)) => Ok(LibsqlParams::Positional(values)),
            (Kind::Remote, Params::Named(pairs)) => Ok(LibsqlParams::Named(pairs)),
            // A replica statement delegated to the primary names its
            // parameters 0-based (libsql 0.10 RemoteStatement::parameter_name),
            // where SQLite's index 0 has no name: give the names to the server.
            (Kind::Replica, Params::Named(pairs)) if self.stmt.parameter_name(0).is_some() => {
                Ok(LibsqlParams::Named(pairs))
            }
            (_, Params::Positional(values)) => {
                check_count(self.param_count, values.len())?;
                Ok(LibsqlParams::Positional(values))
            }
            (_, Params::Named(pairs)) => {
                order_named(&self.placeholders(), pairs).map(LibsqlParams::Positional)
            }
        }
    }

    /// Whether the statement changes the schema: cached statements (and
    /// their cached column names) are dropped after one runs.
    pub fn changes_schema(&self) -> bool {
        matches!(self.command, "create" | "drop" | "alter")
    }
}

/// What one execution produced.
pub struct Outcome<'a> {
    /// The rows as an Erlang list of lists, when the statement has columns.
    pub rows: Option<Term<'a>>,
    /// Rows returned, or rows changed for a statement that returns none.
    pub num_rows: u64,
}

/// Binds `values`, steps the statement to the end and resets it. Rows are
/// encoded as they are stepped: no intermediate copy of the result.
pub fn run<'a>(
    env: Env<'a>,
    ctx: &Ctx,
    conn: &libsql::Connection,
    prepared: &Prepared,
    values: LibsqlParams,
) -> Result<Outcome<'a>> {
    let driver = prepared.kind.driver();
    let ncols = prepared.columns.len();
    // libsql 0.10's replica statements ignore `reset` (their wrapper's
    // reset is empty), and SQLite refuses new bindings on a statement that
    // was not reset: a reused one would silently run with its first
    // parameters. A replica therefore runs a freshly prepared statement
    // every time (a local prepare, some microseconds); the cache still
    // saves the metadata.
    let stmt = if prepared.kind == crate::nif::database::Kind::Replica {
        Arc::new(block_on(driver, conn.prepare(&prepared.sql))??)
    } else {
        prepared.stmt.clone()
    };
    let running = ctx.enter_for(driver, Interruptible::Statement(stmt.clone()));
    let result = running.and_then(|_running| {
        block_on(driver, async {
            let mut rows = stmt.query(values).await?;
            let mut out: Vec<Term<'a>> = Vec::new();
            let mut cells: Vec<Term<'a>> = Vec::with_capacity(ncols);
            while let Some(row) = rows.next().await? {
                cells.clear();
                for i in 0..ncols {
                    cells.push(encode_value(env, &read_value(&row, i)?));
                }
                out.push(cells.encode(env));
            }
            Ok::<_, libsql::Error>(out)
        })
    });
    // Always reset, on success and on error alike: a statement left mid-step
    // keeps its read transaction open (and blocks checkpoints). Every run
    // ends here, so the next one finds the statement reset.
    stmt.reset();
    let out = result??;
    if ncols == 0 {
        Ok(Outcome {
            rows: None,
            num_rows: conn.changes(),
        })
    } else {
        let num_rows = out.len() as u64;
        Ok(Outcome {
            rows: Some(out.encode(env)),
            num_rows,
        })
    }
}

/// Steps at most `max` rows of an open result set (a cursor). Returns the
/// rows and whether the result set is exhausted.
pub fn fetch_rows<'a>(
    env: Env<'a>,
    driver: Driver,
    rows: &mut libsql::Rows,
    ncols: usize,
    max: usize,
) -> Result<(Vec<Term<'a>>, bool)> {
    let out = block_on(driver, async {
        let mut out: Vec<Term<'a>> = Vec::with_capacity(max.min(4096));
        let mut cells: Vec<Term<'a>> = Vec::with_capacity(ncols);
        while out.len() < max {
            match rows.next().await? {
                Some(row) => {
                    cells.clear();
                    for i in 0..ncols {
                        cells.push(encode_value(env, &read_value(&row, i)?));
                    }
                    out.push(cells.encode(env));
                }
                None => return Ok::<_, libsql::Error>((out, true)),
            }
        }
        Ok((out, false))
    })??;
    Ok(out)
}

/// Reads one cell. libSQL 0.10 reads TEXT through a C string and unwraps
/// its UTF-8 check, so TEXT that is not UTF-8 (`CAST(x'ff' AS TEXT)`)
/// panics inside `get_value`: that panic becomes an error, not a crashed
/// call, and prints nothing. (The C-string read also ends TEXT at its
/// first NUL byte.)
fn read_value(row: &libsql::Row, i: usize) -> libsql::Result<Value> {
    crate::panics::catch_quietly(|| row.get_value(i as i32)).unwrap_or_else(|_| {
        // SQLITE_MISMATCH: the stored type cannot be read as asked.
        Err(libsql::Error::SqliteFailure(
            20,
            format!(
                "column {i} holds TEXT that is not valid UTF-8: CAST it to BLOB to read its bytes"
            ),
        ))
    })
}

/// Column names as an Erlang list of binaries.
pub fn columns_term<'a>(env: Env<'a>, columns: &[String]) -> Term<'a> {
    columns.encode(env)
}
