//! Several statements in one native call: a string of SQL through libSQL's
//! batch execution, or a list of `{sql, params}` through the statement
//! cache, optionally inside a transaction (a savepoint when one is open).

use rustler::{Binary, Encoder, Env, ResourceArc, Term};

use crate::engine::{Cell, RowSink, ScriptSink};
use crate::error::Result;
use crate::nif::connection::ConnResource;
use crate::nif::exec::TermRows;
use crate::nif::term::{encode_result, sql_and_params, sql_text, Params};
use crate::nif::worker::{handed_over, submit};

/// Each statement's result as `%EctoLibSql.Result{}`, rows encoded as they
/// are stepped.
struct Results<'a> {
    env: Env<'a>,
    done: Vec<Term<'a>>,
    columns: Option<Vec<String>>,
    rows: TermRows<'a>,
}

impl RowSink for Results<'_> {
    fn cell(&mut self, cell: Cell<'_>) -> Result<()> {
        self.rows.cell(cell)
    }

    fn end_row(&mut self) -> Result<()> {
        self.rows.end_row()
    }
}

impl ScriptSink for Results<'_> {
    fn begin_statement(&mut self, columns: Option<Vec<String>>) -> Result<()> {
        self.rows = TermRows::new(self.env, columns.as_ref().map_or(0, Vec::len));
        self.columns = columns;
        Ok(())
    }

    fn end_statement(&mut self) -> Result<()> {
        let env = self.env;
        let rows = std::mem::replace(&mut self.rows, TermRows::new(env, 0)).rows;
        let term = match self.columns.take() {
            None => encode_result(env, "other", None, None, 0),
            Some(columns) => {
                let n = rows.len() as u64;
                encode_result(
                    env,
                    "other",
                    Some(columns.encode(env)),
                    Some(rows.encode(env)),
                    n,
                )
            }
        };
        self.done.push(term);
        Ok(())
    }
}

#[rustler::nif]
fn batch_sql<'a>(
    env: Env<'a>,
    tag: Term<'a>,
    conn: ResourceArc<ConnResource>,
    sql: Binary<'a>,
    transactional: bool,
) -> Term<'a> {
    let sql = match sql_text(sql) {
        Ok(sql) => sql,
        Err(err) => return handed_over(env, Err::<u64, _>(err)),
    };
    let seq = submit(&conn.worker, env, tag, move |inner, ctx, env| {
        inner.check_usable()?;
        let driver = inner.driver();
        // SQL text is not classified statement by statement: a batch
        // outside a transaction takes the write gate.
        if inner.conn.is_autocommit() {
            inner.take_write_gate(ctx)?;
        }
        let batch = |inner: &mut crate::nif::connection::ConnInner, sql: &str| -> Result<Term> {
            let _running = ctx.enter_for(driver, inner.conn.interruptible())?;
            let mut results = Results {
                env,
                done: Vec::new(),
                columns: None,
                rows: TermRows::new(env, 0),
            };
            inner.conn.script_rows(driver, sql, &mut results)?;
            Ok(results.done.encode(env))
        };
        if !transactional {
            return batch(inner, &sql);
        }
        // libSQL's own transactional batch returns no results and cannot
        // nest: wrap the plain batch in BEGIN or, inside an open
        // transaction, a savepoint.
        let nested = !inner.conn.is_autocommit();
        let (begin, done, undo) = if nested {
            (
                "SAVEPOINT ecto_libsql_batch",
                "RELEASE ecto_libsql_batch",
                "ROLLBACK TO ecto_libsql_batch; RELEASE ecto_libsql_batch",
            )
        } else {
            ("BEGIN", "COMMIT", "ROLLBACK")
        };
        inner.execute_sql(ctx, begin)?;
        match batch(inner, &sql) {
            Ok(results) => {
                inner.execute_sql(ctx, done)?;
                Ok(results)
            }
            Err(err) => {
                // The batch's own error is the one to report.
                let _ = inner.conn.execute_script(driver, undo);
                Err(err)
            }
        }
    });
    handed_over(env, seq)
}

#[rustler::nif]
fn batch_statements<'a>(
    env: Env<'a>,
    tag: Term<'a>,
    conn: ResourceArc<ConnResource>,
    statements: Vec<(Binary<'a>, Term<'a>)>,
    transactional: bool,
) -> Term<'a> {
    let decoded: Result<Vec<(String, Params)>> = statements
        .into_iter()
        .map(|(sql, params)| sql_and_params(sql, params))
        .collect();
    let seq = decoded.and_then(|statements| {
        submit(&conn.worker, env, tag, move |inner, ctx, env| {
            inner.check_usable()?;
            let driver = inner.driver();
            // Inside a transaction already, the batch nests as a savepoint.
            let nested = transactional && !inner.conn.is_autocommit();
            if transactional {
                if nested {
                    inner.execute_sql(ctx, "SAVEPOINT ecto_libsql_batch")?;
                } else {
                    inner.take_write_gate(ctx)?;
                    inner.execute_sql(ctx, "BEGIN IMMEDIATE")?;
                }
            }
            let mut results = Vec::with_capacity(statements.len());
            let mut failure = None;
            for (sql, params) in statements {
                match inner.run_cached(env, ctx, &sql, params) {
                    Ok(executed) => results.push(executed.result(env)),
                    Err(err) => {
                        failure = Some(err);
                        break;
                    }
                }
            }
            match (transactional, failure) {
                (false, Some(err)) => Err(err),
                (false, None) => Ok(results.encode(env)),
                (true, Some(err)) => {
                    let undo = if nested {
                        "ROLLBACK TO ecto_libsql_batch; RELEASE ecto_libsql_batch"
                    } else {
                        "ROLLBACK"
                    };
                    // The batch's own error is the one to report.
                    let _ = inner.conn.execute_script(driver, undo);
                    Err(err)
                }
                (true, None) => {
                    let done = if nested {
                        "RELEASE ecto_libsql_batch"
                    } else {
                        "COMMIT"
                    };
                    inner.execute_sql(ctx, done)?;
                    Ok(results.encode(env))
                }
            }
        })
    });
    handed_over(env, seq)
}
