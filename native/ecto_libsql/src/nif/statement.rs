//! Explicit prepared statements (`EctoLibSql.Native.prepare/2`). The
//! statement itself lives in its connection's worker, so closing the
//! connection finalizes it; the handle only names it.

use rustler::{Binary, Encoder, Env, ResourceArc, Term};

use crate::error::{Error, Result};
use crate::nif::connection::{execute_prepared, ConnInner, ConnResource};
use crate::nif::exec::Prepared;
use crate::nif::term::{atoms, decode_params, sql_text, Params};
use crate::nif::worker::{handed_over, submit, Ctx};

pub struct StmtResource {
    conn: ResourceArc<ConnResource>,
    id: u64,
}

#[rustler::resource_impl]
impl rustler::Resource for StmtResource {}

impl Drop for StmtResource {
    fn drop(&mut self) {
        // Forgotten by the worker in its own time: a destructor never waits.
        let id = self.id;
        let _ = self.conn.worker.post(move |slot, _ctx| {
            if let Some(inner) = slot.as_mut() {
                inner.statements.remove(&id);
            }
            None
        });
    }
}

fn closed_statement() -> Error {
    Error::Closed("the statement is closed")
}

impl StmtResource {
    pub fn conn(&self) -> &ResourceArc<ConnResource> {
        &self.conn
    }
}

/// Runs `f` on the statement inside the worker.
fn with_statement<F>(
    env: Env,
    tag: Term,
    stmt: &StmtResource,
    f: F,
) -> Result<crate::nif::worker::Posted>
where
    F: for<'a> FnOnce(&mut ConnInner, &Ctx, &Prepared, Env<'a>) -> Result<Term<'a>>
        + Send
        + 'static,
{
    let id = stmt.id;
    submit(&stmt.conn.worker, env, tag, move |inner, ctx, env| {
        // Taken out while it runs, so `f` may borrow the connection too.
        let prepared = inner.statements.remove(&id).ok_or_else(closed_statement)?;
        let result = f(inner, ctx, &prepared, env);
        inner.statements.insert(id, prepared);
        result
    })
}

#[rustler::nif]
fn prepare<'a>(
    env: Env<'a>,
    tag: Term<'a>,
    conn: ResourceArc<ConnResource>,
    sql: Binary<'a>,
) -> Term<'a> {
    let sql = match sql_text(sql) {
        Ok(sql) => sql,
        Err(err) => return handed_over(env, Err::<u64, _>(err)),
    };
    let id = conn.next_id();
    let handle = ResourceArc::new(StmtResource {
        conn: conn.clone(),
        id,
    });
    let seq = submit(&conn.worker, env, tag, move |inner, _ctx, env| {
        let prepared = Prepared::prepare(inner.driver(), inner.kind, &inner.conn, &sql)?;
        inner.statements.insert(id, prepared);
        Ok(handle.encode(env))
    });
    handed_over(env, seq)
}

fn run_statement<'a>(
    env: Env<'a>,
    tag: Term<'a>,
    stmt: ResourceArc<StmtResource>,
    params: Term<'a>,
    rows: bool,
) -> Term<'a> {
    let seq = decode_params(params).and_then(|params: Params| {
        with_statement(env, tag, &stmt, move |inner, ctx, prepared, env| {
            inner.check_usable()?;
            if inner.conn.is_autocommit() && crate::sql::takes_write_lock(&prepared.sql) {
                inner.take_write_gate(ctx)?;
            }
            let executed = execute_prepared(env, ctx, &inner.conn, prepared, params)?;
            Ok(if rows {
                executed.result(env)
            } else {
                executed.outcome.num_rows.encode(env)
            })
        })
    });
    handed_over(env, seq)
}

#[rustler::nif]
fn stmt_query<'a>(
    env: Env<'a>,
    tag: Term<'a>,
    stmt: ResourceArc<StmtResource>,
    params: Term<'a>,
) -> Term<'a> {
    run_statement(env, tag, stmt, params, true)
}

#[rustler::nif]
fn stmt_execute<'a>(
    env: Env<'a>,
    tag: Term<'a>,
    stmt: ResourceArc<StmtResource>,
    params: Term<'a>,
) -> Term<'a> {
    run_statement(env, tag, stmt, params, false)
}

#[rustler::nif]
fn stmt_close<'a>(env: Env<'a>, tag: Term<'a>, stmt: ResourceArc<StmtResource>) -> Term<'a> {
    let id = stmt.id;
    let seq = submit(&stmt.conn.worker, env, tag, move |inner, _ctx, env| {
        inner
            .statements
            .remove(&id)
            .map(drop)
            .ok_or_else(closed_statement)?;
        Ok(atoms::ok().encode(env))
    });
    handed_over(env, seq)
}

#[rustler::nif]
fn stmt_columns<'a>(env: Env<'a>, tag: Term<'a>, stmt: ResourceArc<StmtResource>) -> Term<'a> {
    let seq = with_statement(env, tag, &stmt, |_inner, _ctx, prepared, env| {
        Ok(prepared.stmt.columns().encode(env))
    });
    handed_over(env, seq)
}

#[rustler::nif]
fn stmt_parameter_count<'a>(
    env: Env<'a>,
    tag: Term<'a>,
    stmt: ResourceArc<StmtResource>,
) -> Term<'a> {
    let seq = with_statement(env, tag, &stmt, |_inner, _ctx, prepared, env| {
        Ok(prepared.param_count.encode(env))
    });
    handed_over(env, seq)
}

#[rustler::nif]
fn stmt_parameter_name<'a>(
    env: Env<'a>,
    tag: Term<'a>,
    stmt: ResourceArc<StmtResource>,
    index: i64,
) -> Term<'a> {
    let seq = with_statement(env, tag, &stmt, move |_inner, _ctx, prepared, env| {
        if index < 1 || index as usize > prepared.param_count {
            return Err(Error::misuse(format!(
                "parameter index {index} out of range 1..{}",
                prepared.param_count
            )));
        }
        Ok(prepared.stmt.parameter_name(index as usize).encode(env))
    });
    handed_over(env, seq)
}
