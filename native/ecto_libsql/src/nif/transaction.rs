//! Transactions and savepoints. A local transaction that may write
//! (IMMEDIATE, EXCLUSIVE) waits for the database's write gate before its
//! BEGIN; the worker lets the gate go once the connection is back in
//! autocommit mode. Savepoint names are spliced into SQL, so they are
//! validated as identifiers first.

use rustler::{Encoder, Env, ResourceArc, Term};

use crate::error::Error;
use crate::nif::connection::{ConnInner, ConnResource};
use crate::nif::term::reply;
use crate::nif::worker::{handed_over, submit, submit_ok, Ctx};
use crate::params::check_identifier;

#[rustler::nif]
fn begin<'a>(
    env: Env<'a>,
    tag: Term<'a>,
    conn: ResourceArc<ConnResource>,
    mode: rustler::Atom,
) -> Term<'a> {
    let sql = match mode.to_term(env).atom_to_string().as_deref() {
        Ok("deferred") => "BEGIN DEFERRED",
        Ok("immediate") => "BEGIN IMMEDIATE",
        Ok("exclusive") => "BEGIN EXCLUSIVE",
        Ok("concurrent") => "BEGIN CONCURRENT",
        _ => {
            return reply(
                env,
                Err(Error::misuse(
                    "transaction mode must be :deferred, :immediate, :exclusive or :concurrent",
                )),
            )
        }
    };
    // Replies with the wait for the write gate in microseconds (nil when
    // the transaction does not take it), for telemetry.
    let seq = submit(&conn.worker, env, tag, move |inner, ctx, env| {
        if !inner.conn.is_autocommit() {
            return Err(Error::InTransaction);
        }
        inner.take_conflicted();
        match sql {
            "BEGIN DEFERRED" => {}
            // Concurrent transactions write side by side (MVCC) and find
            // out at commit whether they conflicted: no gate.
            "BEGIN CONCURRENT" => inner.check_concurrent()?,
            _ => inner.take_write_gate(ctx)?,
        }
        inner.with_healing(|inner| inner.execute_sql(ctx, sql))?;
        Ok(inner.gate_wait_us().encode(env))
    });
    handed_over(env, seq)
}

/// COMMIT or ROLLBACK, or `:no_transaction` when none is open.
fn finish(inner: &mut ConnInner, ctx: &Ctx, sql: &str) -> crate::error::Result<()> {
    if inner.conn.is_autocommit() {
        // A concurrent transaction that lost a conflict was rolled back by
        // the engine already: its ROLLBACK has nothing left to do.
        if sql == "ROLLBACK" && inner.take_conflicted() {
            return Ok(());
        }
        return Err(Error::NoTransaction);
    }
    inner.execute_sql(ctx, sql)
}

#[rustler::nif]
fn commit<'a>(env: Env<'a>, tag: Term<'a>, conn: ResourceArc<ConnResource>) -> Term<'a> {
    let seq = submit_ok(&conn.worker, env, tag, |inner, ctx| {
        finish(inner, ctx, "COMMIT")
    });
    handed_over(env, seq)
}

#[rustler::nif]
fn rollback<'a>(env: Env<'a>, tag: Term<'a>, conn: ResourceArc<ConnResource>) -> Term<'a> {
    let seq = submit_ok(&conn.worker, env, tag, |inner, ctx| {
        finish(inner, ctx, "ROLLBACK")
    });
    handed_over(env, seq)
}

#[rustler::nif]
fn savepoint_op<'a>(
    env: Env<'a>,
    tag: Term<'a>,
    conn: ResourceArc<ConnResource>,
    op: rustler::Atom,
    name: String,
) -> Term<'a> {
    let sql = check_identifier("savepoint", &name).and_then(|()| {
        match op.to_term(env).atom_to_string().as_deref() {
            Ok("savepoint") => Ok(format!("SAVEPOINT {name}")),
            Ok("release") => Ok(format!("RELEASE SAVEPOINT {name}")),
            Ok("rollback_to") => Ok(format!("ROLLBACK TO SAVEPOINT {name}")),
            _ => Err(Error::misuse("unknown savepoint operation")),
        }
    });
    let seq = sql.and_then(|sql| {
        submit_ok(&conn.worker, env, tag, move |inner, ctx| {
            inner.execute_sql(ctx, &sql)
        })
    });
    handed_over(env, seq)
}

#[rustler::nif]
fn autocommit<'a>(env: Env<'a>, tag: Term<'a>, conn: ResourceArc<ConnResource>) -> Term<'a> {
    let seq = submit(&conn.worker, env, tag, |inner, _ctx, env| {
        Ok(inner.conn.is_autocommit().encode(env))
    });
    handed_over(env, seq)
}
