//! Running one prepared statement: bind, step every row straight into Erlang
//! terms, reset. Shared by the statement cache, explicit statements and
//! batches, so that all of them behave the same.

use libsql::params::Params as LibsqlParams;
use rustler::{Encoder, Env, Term};

use crate::engine::{Cell, Conn, RowSink, Stmt};
use crate::error::Result;
use crate::nif::term::{encode_cell, Params};
use crate::nif::worker::Ctx;
use crate::params::{check_count, order_named};
use crate::runtime::Driver;
use crate::sql;

/// A prepared statement and what we learnt about it at prepare time, so
/// that each execution does no more than bind and step.
pub struct Prepared {
    pub stmt: Stmt,
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
        conn: &Conn,
        sql: &str,
    ) -> Result<Prepared> {
        if crate::sql::has_trailing_statement(sql) {
            return Err(crate::error::Error::misuse(
                "the SQL holds more than one statement and only the first would run: \
                 run several with a batch (EctoLibSql.Native.batch/2, Repo.query_many/4)",
            ));
        }
        let stmt = conn.prepare(driver, sql)?;
        let columns = stmt.columns().into_iter().map(|(name, _)| name).collect();
        let param_count = stmt.parameter_count();
        Ok(Prepared {
            stmt,
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
            .map(|i| self.stmt.parameter_name(i))
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
            (Kind::Replica, Params::Named(pairs)) if self.replica_names_from_zero() => {
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

    /// libsql 0.10's replica statements delegated to the primary name
    /// parameter 0, which SQLite's numbering does not have.
    fn replica_names_from_zero(&self) -> bool {
        match &self.stmt {
            Stmt::Libsql(stmt) => stmt.parameter_name(0).is_some(),
            #[cfg(feature = "turso")]
            Stmt::Turso(_) => false,
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

/// Rows encoded as they are stepped: each an Erlang list of its cells.
pub struct TermRows<'a> {
    env: Env<'a>,
    pub rows: Vec<Term<'a>>,
    cells: Vec<Term<'a>>,
}

impl<'a> TermRows<'a> {
    pub fn new(env: Env<'a>, ncols: usize) -> TermRows<'a> {
        TermRows {
            env,
            rows: Vec::new(),
            cells: Vec::with_capacity(ncols),
        }
    }
}

impl RowSink for TermRows<'_> {
    fn cell(&mut self, cell: Cell<'_>) -> Result<()> {
        self.cells.push(encode_cell(self.env, cell));
        Ok(())
    }

    fn end_row(&mut self) -> Result<()> {
        self.rows.push(self.cells.encode(self.env));
        self.cells.clear();
        Ok(())
    }
}

/// Binds `values`, steps the statement to the end and resets it. Rows are
/// encoded as they are stepped: no intermediate copy of the result.
pub fn run<'a>(
    env: Env<'a>,
    ctx: &Ctx,
    conn: &Conn,
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
    let fresh;
    let stmt = if prepared.kind == crate::nif::database::Kind::Replica {
        fresh = conn.prepare(driver, &prepared.sql)?;
        &fresh
    } else {
        &prepared.stmt
    };
    let mut sink = TermRows::new(env, ncols);
    let result = ctx
        .enter_for(driver, stmt.interruptible())
        .and_then(|_running| stmt.run(driver, values, ncols, &mut sink));
    // Always reset, on success and on error alike: a statement left mid-step
    // keeps its read transaction open (and blocks checkpoints). Every run
    // ends here, so the next one finds the statement reset.
    let changes = stmt.changes(conn);
    stmt.reset();
    result?;
    if ncols == 0 {
        Ok(Outcome {
            rows: None,
            num_rows: changes,
        })
    } else {
        let num_rows = sink.rows.len() as u64;
        Ok(Outcome {
            rows: Some(sink.rows.encode(env)),
            num_rows,
        })
    }
}

/// Column names as an Erlang list of binaries.
pub fn columns_term<'a>(env: Env<'a>, columns: &[String]) -> Term<'a> {
    columns.encode(env)
}
