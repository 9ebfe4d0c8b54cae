//! Explicit prepared statements (`EctoLibSql.Native.prepare/2`). The
//! statement itself lives in its connection, so closing the connection
//! finalizes it; the handle only names it.

use rustler::{Encoder, Env, ResourceArc, Term};

use crate::error::{Error, Result};
use crate::nif::connection::{execute_prepared, ConnResource, Orphan};
use crate::nif::exec::Prepared;
use crate::nif::term::{decode_params, reply, reply_ok};

pub struct StmtResource {
    conn: ResourceArc<ConnResource>,
    id: u64,
}

#[rustler::resource_impl]
impl rustler::Resource for StmtResource {}

impl Drop for StmtResource {
    fn drop(&mut self) {
        self.conn.release(Orphan::Statement(self.id));
    }
}

fn closed_statement() -> Error {
    Error::Closed("the statement is closed")
}

impl StmtResource {
    pub fn conn(&self) -> &ConnResource {
        &self.conn
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&mut crate::nif::connection::ConnInner, &Prepared) -> Result<T>,
    ) -> Result<T> {
        self.conn.with(|inner| {
            // Taken out while it runs, so `f` may borrow the connection too.
            let prepared = inner
                .statements
                .remove(&self.id)
                .ok_or_else(closed_statement)?;
            let result = f(inner, &prepared);
            inner.statements.insert(self.id, prepared);
            result
        })
    }
}

#[rustler::nif(schedule = "DirtyIo")]
fn prepare<'a>(env: Env<'a>, conn: ResourceArc<ConnResource>, sql: String) -> Term<'a> {
    let driver = conn.driver();
    let id = conn.next_id();
    let result = conn.with(|inner| {
        let prepared = Prepared::prepare(driver, inner.kind, &inner.conn, &sql)?;
        inner.statements.insert(id, prepared);
        Ok(())
    });
    let result = result.map(|()| {
        ResourceArc::new(StmtResource {
            conn: conn.clone(),
            id,
        })
        .encode(env)
    });
    reply(env, result)
}

#[rustler::nif(schedule = "DirtyIo")]
fn stmt_query<'a>(env: Env<'a>, stmt: ResourceArc<StmtResource>, params: Term<'a>) -> Term<'a> {
    let driver = stmt.conn.driver();
    let result = decode_params(params).and_then(|params| {
        stmt.with(|inner, prepared| {
            Ok(execute_prepared(env, driver, &inner.conn, prepared, params)?.result(env))
        })
    });
    reply(env, result)
}

#[rustler::nif(schedule = "DirtyIo")]
fn stmt_execute<'a>(env: Env<'a>, stmt: ResourceArc<StmtResource>, params: Term<'a>) -> Term<'a> {
    let driver = stmt.conn.driver();
    let result = decode_params(params).and_then(|params| {
        stmt.with(|inner, prepared| {
            Ok(
                execute_prepared(env, driver, &inner.conn, prepared, params)?
                    .outcome
                    .num_rows
                    .encode(env),
            )
        })
    });
    reply(env, result)
}

#[rustler::nif(schedule = "DirtyIo")]
fn stmt_close(env: Env, stmt: ResourceArc<StmtResource>) -> Term {
    let result = stmt.conn.with(|inner| {
        inner
            .statements
            .remove(&stmt.id)
            .map(drop)
            .ok_or_else(closed_statement)
    });
    reply_ok(env, result)
}

#[rustler::nif(schedule = "DirtyIo")]
fn stmt_columns(env: Env, stmt: ResourceArc<StmtResource>) -> Term {
    let result = stmt.with(|_, prepared| {
        let columns: Vec<(String, Option<String>)> = prepared
            .stmt
            .columns()
            .iter()
            .map(|c| (c.name().to_string(), c.decl_type().map(str::to_string)))
            .collect();
        Ok(columns.encode(env))
    });
    reply(env, result)
}

#[rustler::nif(schedule = "DirtyIo")]
fn stmt_parameter_count(env: Env, stmt: ResourceArc<StmtResource>) -> Term {
    reply(
        env,
        stmt.with(|_, prepared| Ok(prepared.param_count.encode(env))),
    )
}

#[rustler::nif(schedule = "DirtyIo")]
fn stmt_parameter_name(env: Env, stmt: ResourceArc<StmtResource>, index: i64) -> Term {
    let result = stmt.with(|_, prepared| {
        if index < 1 || index as usize > prepared.param_count {
            return Err(Error::misuse(format!(
                "parameter index {index} out of range 1..{}",
                prepared.param_count
            )));
        }
        Ok(prepared
            .stmt
            .parameter_name(index as i32)
            .map(str::to_string)
            .encode(env))
    });
    reply(env, result)
}
