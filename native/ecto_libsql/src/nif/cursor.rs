//! Cursors: a result set stepped a chunk at a time (`fetch/2`), never
//! buffered whole. A cursor belongs to the process that declared it.

use rustler::{Binary, Encoder, Env, ResourceArc, Term};

use crate::error::Error;
use crate::nif::connection::{ConnResource, OpenCursor};
use crate::nif::exec::{Prepared, TermRows};
use crate::nif::term::{atoms as term_atoms, sql_and_params};
use crate::nif::worker::{handed_over, submit};

mod atoms {
    rustler::atoms! { cont, halt }
}

pub struct CursorResource {
    conn: ResourceArc<ConnResource>,
    id: u64,
}

#[rustler::resource_impl]
impl rustler::Resource for CursorResource {}

impl Drop for CursorResource {
    fn drop(&mut self) {
        let id = self.id;
        let _ = self.conn.worker.post(move |slot, _ctx| {
            if let Some(inner) = slot.as_mut() {
                inner.cursors.remove(&id);
            }
            None
        });
    }
}

impl CursorResource {
    pub fn conn(&self) -> &ResourceArc<ConnResource> {
        &self.conn
    }
}

/// Replies `{:ok, {cursor, columns}}`.
#[rustler::nif]
fn declare_cursor<'a>(
    env: Env<'a>,
    tag: Term<'a>,
    conn: ResourceArc<ConnResource>,
    sql: Binary<'a>,
    params: Term<'a>,
) -> Term<'a> {
    let id = conn.next_id();
    let owner = env.pid();
    let handle = ResourceArc::new(CursorResource {
        conn: conn.clone(),
        id,
    });
    let seq = sql_and_params(sql, params).and_then(|(sql, params)| {
        submit(&conn.worker, env, tag, move |inner, ctx, env| {
            let driver = inner.driver();
            // A fresh statement, not a cached one: the cursor keeps it
            // mid-step while other queries run on the connection.
            let prepared = Prepared::prepare(driver, inner.kind, &inner.conn, &sql)?;
            let values = prepared.bind_values(params)?;
            let Prepared { stmt, columns, .. } = prepared;
            let rows = {
                let _running = ctx.enter_for(driver, stmt.interruptible())?;
                stmt.open(driver, values)?
            };
            inner.cursors.insert(
                id,
                OpenCursor {
                    rows,
                    ncols: columns.len(),
                    owner,
                },
            );
            Ok((handle, columns).encode(env))
        })
    });
    handed_over(env, seq)
}

/// Replies `{:ok, {:cont, rows}}` or, when the result set is exhausted (and
/// the cursor closed), `{:ok, {:halt, rows}}`.
#[rustler::nif]
fn fetch<'a>(
    env: Env<'a>,
    tag: Term<'a>,
    cursor: ResourceArc<CursorResource>,
    max_rows: usize,
) -> Term<'a> {
    let caller = env.pid();
    let id = cursor.id;
    let seq = submit(&cursor.conn.worker, env, tag, move |inner, ctx, env| {
        let driver = inner.driver();
        let open = inner
            .cursors
            .get_mut(&id)
            .ok_or(Error::Closed("the cursor is closed"))?;
        if open.owner != caller {
            return Err(Error::misuse("the cursor belongs to another process"));
        }
        if max_rows == 0 {
            return Err(Error::misuse("max_rows must be a positive integer"));
        }
        let mut sink = TermRows::new(env, open.ncols);
        let fetched = ctx
            .enter_for(driver, open.rows.interruptible())
            .and_then(|_running| open.rows.fetch(driver, open.ncols, max_rows, &mut sink));
        let (rows, done) = match fetched.map(|done| (sink.rows, done)) {
            Ok(ok) => ok,
            Err(err) => {
                inner.cursors.remove(&id);
                return Err(err);
            }
        };
        if done {
            inner.cursors.remove(&id);
            Ok((atoms::halt(), rows).encode(env))
        } else {
            Ok((atoms::cont(), rows).encode(env))
        }
    });
    handed_over(env, seq)
}

#[rustler::nif]
fn close_cursor<'a>(env: Env<'a>, tag: Term<'a>, cursor: ResourceArc<CursorResource>) -> Term<'a> {
    let id = cursor.id;
    let seq = submit(&cursor.conn.worker, env, tag, move |inner, _ctx, env| {
        inner.cursors.remove(&id);
        Ok(term_atoms::ok().encode(env))
    });
    handed_over(env, seq)
}
