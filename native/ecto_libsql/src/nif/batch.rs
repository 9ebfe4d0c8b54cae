//! Several statements in one native call: a string of SQL through libSQL's
//! batch execution, or a list of `{sql, params}` through the statement
//! cache, optionally inside a transaction (a savepoint when one is open).

use rustler::{Encoder, Env, ResourceArc, Term};

use crate::error::Result;
use crate::nif::connection::ConnResource;
use crate::nif::runtime::{block_on, Driver};
use crate::nif::term::{decode_params, encode_result, reply};

fn batch_results<'a>(
    env: Env<'a>,
    driver: Driver,
    mut batch: libsql::BatchRows,
) -> Result<Term<'a>> {
    let mut results = Vec::new();
    while let Some(rows) = batch.next_stmt_row() {
        let term = match rows {
            None => encode_result(env, "other", None, None, 0),
            Some(mut rows) => {
                let ncols = rows.column_count().max(0) as usize;
                let columns: Vec<String> = (0..ncols)
                    .map(|i| rows.column_name(i as i32).unwrap_or_default().to_string())
                    .collect();
                let (out, _) =
                    crate::nif::exec::fetch_rows(env, driver, &mut rows, ncols, usize::MAX)?;
                let n = out.len() as u64;
                encode_result(
                    env,
                    "other",
                    Some(columns.encode(env)),
                    Some(out.encode(env)),
                    n,
                )
            }
        };
        results.push(term);
    }
    Ok(results.encode(env))
}

#[rustler::nif(schedule = "DirtyIo")]
fn batch_sql<'a>(
    env: Env<'a>,
    conn: ResourceArc<ConnResource>,
    sql: String,
    transactional: bool,
) -> Term<'a> {
    let driver = conn.driver();
    let result = conn.with(|inner| {
        if !transactional {
            let batch = block_on(driver, inner.conn.execute_batch(&sql))??;
            return batch_results(env, driver, batch);
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
        inner.execute_sql(driver, begin)?;
        let ran = block_on(driver, inner.conn.execute_batch(&sql))
            .and_then(|batch| Ok(batch?))
            .and_then(|batch| batch_results(env, driver, batch));
        match ran {
            Ok(results) => {
                inner.execute_sql(driver, done)?;
                Ok(results)
            }
            Err(err) => {
                // The batch's own error is the one to report.
                let _ = block_on(driver, inner.conn.execute_batch(undo));
                Err(err)
            }
        }
    });
    reply(env, result)
}

#[rustler::nif(schedule = "DirtyIo")]
fn batch_statements<'a>(
    env: Env<'a>,
    conn: ResourceArc<ConnResource>,
    statements: Vec<(String, Term<'a>)>,
    transactional: bool,
) -> Term<'a> {
    let driver = conn.driver();
    let result = conn.with(|inner| {
        // Inside a transaction already, the batch nests as a savepoint.
        let nested = transactional && !inner.conn.is_autocommit();
        if transactional {
            let begin = if nested {
                "SAVEPOINT ecto_libsql_batch"
            } else {
                "BEGIN"
            };
            inner.execute_sql(driver, begin)?;
        }
        let mut results = Vec::with_capacity(statements.len());
        let mut failure = None;
        for (sql, params) in &statements {
            let step = decode_params(*params).and_then(|p| inner.run_cached(env, driver, sql, p));
            match step {
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
                let _ = block_on(driver, inner.conn.execute_batch(undo));
                Err(err)
            }
            (true, None) => {
                let done = if nested {
                    "RELEASE ecto_libsql_batch"
                } else {
                    "COMMIT"
                };
                inner.execute_sql(driver, done)?;
                Ok(results.encode(env))
            }
        }
    });
    reply(env, result)
}
