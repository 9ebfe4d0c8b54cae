//! The fast path: a cached, read-only statement on a local connection runs
//! on the calling (normal) scheduler, saving the hand-off to a dirty
//! scheduler, which on a busy 2-core machine costs several times what a
//! point read does. Whatever could block or run long goes back to the dirty
//! path instead (the caller gets `:dirty` and calls the dirty NIF):
//!
//! - the connection is held by someone else, or has open cursors;
//! - the statement is not cached yet, or is not a SELECT;
//! - a lock is busy (the busy handler is off here, so it fails at once);
//! - the statement outlives the watchdog's budget and is interrupted.
//!
//! A SELECT has no side effects, so running it again on the dirty path is
//! safe.

use std::time::{Duration, Instant};

use rustler::{Binary, Encoder, Env, ResourceArc, Term};

use crate::error::{Error, Result};
use crate::nif::connection::{execute_prepared, traced, ConnInner, ConnResource, Executed};
use crate::nif::database::Kind;
use crate::nif::exec::Prepared;
use crate::nif::runtime::Driver;
use crate::nif::statement::StmtResource;
use crate::nif::term::{decode_params, reply};
use crate::nif::watchdog;

mod atoms {
    rustler::atoms! { dirty }
}

/// Why a fast attempt handed over to the dirty path.
struct Dirty;

type Attempt<T> = std::result::Result<Result<T>, Dirty>;

fn eligible(prepared: &Prepared) -> bool {
    prepared.command == "select"
}

/// Runs `prepared` under the watchdog with the busy handler off.
fn run_guarded<'a>(
    env: Env<'a>,
    conn: &libsql::Connection,
    busy_timeout: Duration,
    prepared: &Prepared,
    params: Term<'a>,
) -> Attempt<Executed<'a>> {
    let params = match decode_params(params) {
        Ok(params) => params,
        Err(err) => return Ok(Err(err)),
    };
    let Some(watch) = watchdog::watch(conn) else {
        return Err(Dirty);
    };
    if conn.busy_timeout(Duration::ZERO).is_err() {
        watch.finish();
        return Err(Dirty);
    }
    let started = Instant::now();
    let result = execute_prepared(env, Driver::Inline, conn, prepared, params);
    let interrupted_by_watchdog = watch.finish();
    let restored = conn.busy_timeout(busy_timeout);
    let percent = (started.elapsed().as_micros() / 10).clamp(1, 100) as i32;
    rustler::schedule::consume_timeslice(env, percent);
    if restored.is_err() {
        return Err(Dirty);
    }
    match result {
        Err(err) if matches!(err.code(), "busy" | "locked") => Err(Dirty),
        // Interrupted by the watchdog, not by the user: run it dirty.
        Err(err) if interrupted_by_watchdog && err.code() == "interrupted" => Err(Dirty),
        other => Ok(other),
    }
}

fn attempt_cached<'a>(
    env: Env<'a>,
    inner: &mut ConnInner,
    sql: &str,
    params: Term<'a>,
) -> Attempt<Executed<'a>> {
    if !inner.cursors.is_empty() || !inner.cache.peek(sql).is_some_and(eligible) {
        return Err(Dirty);
    }
    // Counted (and marked as used) only once the fast path takes it.
    let prepared = inner.cache.get(sql).ok_or(Dirty)?;
    run_guarded(env, &inner.conn, inner.busy_timeout, prepared, params).map(|r| {
        r.map(|mut executed| {
            executed.cached = true;
            executed
        })
    })
}

fn on_conn<T>(
    conn: &ConnResource,
    f: impl FnOnce(&mut ConnInner) -> Attempt<T>,
) -> std::result::Result<Result<T>, Dirty> {
    if conn.kind != Kind::Local {
        return Err(Dirty);
    }
    // `try_with` wraps the attempt's own Result; unwrap the layers so that
    // a busy connection and a hand-over both read as Dirty.
    match conn.try_with(|inner| Ok(f(inner))) {
        None => Err(Dirty),
        Some(Err(err)) => Ok(Err(err)),
        Some(Ok(attempt)) => attempt,
    }
}

/// Tries a cached statement by its SQL, which is only looked up, never
/// kept: borrowed from the binary rather than copied.
fn attempt_sql<'a>(
    env: Env<'a>,
    conn: &ConnResource,
    sql: Binary<'a>,
    params: Term<'a>,
) -> Attempt<Executed<'a>> {
    let sql = std::str::from_utf8(sql.as_slice()).map_err(|_| Dirty)?;
    on_conn(conn, |inner| attempt_cached(env, inner, sql, params))
}

/// `query/3`'s fast path: `{:ok, result}`, `{:error, error}` or `:dirty`.
#[rustler::nif]
fn query_fast<'a>(
    env: Env<'a>,
    conn: ResourceArc<ConnResource>,
    sql: Binary<'a>,
    params: Term<'a>,
) -> Term<'a> {
    match attempt_sql(env, &conn, sql, params) {
        Ok(result) => reply(env, result.map(|e| e.result(env))),
        Err(Dirty) => atoms::dirty().encode(env),
    }
}

/// `query_traced/3`'s fast path: `{:ok, result, cached?}`, `{:error, error}`
/// or `:dirty`.
#[rustler::nif]
fn query_traced_fast<'a>(
    env: Env<'a>,
    conn: ResourceArc<ConnResource>,
    sql: Binary<'a>,
    params: Term<'a>,
) -> Term<'a> {
    match attempt_sql(env, &conn, sql, params) {
        Ok(Ok(executed)) => traced(env, executed),
        Ok(Err(err)) => reply(env, Err::<Term, Error>(err)),
        Err(Dirty) => atoms::dirty().encode(env),
    }
}

/// `query_stmt/2`'s fast path for explicit statements.
#[rustler::nif]
fn stmt_query_fast<'a>(
    env: Env<'a>,
    stmt: ResourceArc<StmtResource>,
    params: Term<'a>,
) -> Term<'a> {
    let attempt = on_conn(stmt.conn(), |inner| {
        if !inner.cursors.is_empty() {
            return Err(Dirty);
        }
        let Some(prepared) = inner.statements.get(&stmt.id()) else {
            // Closed: the dirty path reports it.
            return Err(Dirty);
        };
        if !eligible(prepared) {
            return Err(Dirty);
        }
        run_guarded(env, &inner.conn, inner.busy_timeout, prepared, params)
    });
    match attempt {
        Ok(result) => reply(env, result.map(|e| e.result(env))),
        Err(Dirty) => atoms::dirty().encode(env),
    }
}
