//! Transactions and savepoints. Savepoint names are spliced into SQL, so
//! they are validated as identifiers first.

use rustler::{Encoder, Env, ResourceArc, Term};

use crate::error::Error;
use crate::nif::connection::ConnResource;
use crate::nif::term::{reply, reply_ok};
use crate::params::check_identifier;

#[rustler::nif(schedule = "DirtyIo")]
fn begin(env: Env, conn: ResourceArc<ConnResource>, mode: rustler::Atom) -> Term {
    let driver = conn.driver();
    let sql = match mode.to_term(env).atom_to_string().as_deref() {
        Ok("deferred") => Ok("BEGIN DEFERRED"),
        Ok("immediate") => Ok("BEGIN IMMEDIATE"),
        Ok("exclusive") => Ok("BEGIN EXCLUSIVE"),
        _ => Err(Error::misuse(
            "transaction mode must be :deferred, :immediate or :exclusive",
        )),
    };
    let result = sql.and_then(|sql| conn.with(|inner| inner.execute_sql(driver, sql)));
    reply_ok(env, result)
}

#[rustler::nif(schedule = "DirtyIo")]
fn commit(env: Env, conn: ResourceArc<ConnResource>) -> Term {
    let driver = conn.driver();
    reply_ok(env, conn.with(|inner| inner.execute_sql(driver, "COMMIT")))
}

#[rustler::nif(schedule = "DirtyIo")]
fn rollback(env: Env, conn: ResourceArc<ConnResource>) -> Term {
    let driver = conn.driver();
    reply_ok(
        env,
        conn.with(|inner| inner.execute_sql(driver, "ROLLBACK")),
    )
}

#[rustler::nif(schedule = "DirtyIo")]
fn savepoint_op(
    env: Env,
    conn: ResourceArc<ConnResource>,
    op: rustler::Atom,
    name: String,
) -> Term {
    let driver = conn.driver();
    let result = check_identifier("savepoint", &name).and_then(|()| {
        let sql = match op.to_term(env).atom_to_string().as_deref() {
            Ok("savepoint") => Ok(format!("SAVEPOINT {name}")),
            Ok("release") => Ok(format!("RELEASE SAVEPOINT {name}")),
            Ok("rollback_to") => Ok(format!("ROLLBACK TO SAVEPOINT {name}")),
            _ => Err(Error::misuse("unknown savepoint operation")),
        }?;
        conn.with(|inner| inner.execute_sql(driver, &sql))
    });
    reply_ok(env, result)
}

#[rustler::nif(schedule = "DirtyIo")]
fn autocommit(env: Env, conn: ResourceArc<ConnResource>) -> Term {
    reply(
        env,
        conn.with(|inner| Ok(inner.conn.is_autocommit().encode(env))),
    )
}
