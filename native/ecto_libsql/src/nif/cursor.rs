//! Cursors: a result set stepped a chunk at a time (`fetch/2`), never
//! buffered whole. A cursor belongs to the process that declared it.

use rustler::{Encoder, Env, ResourceArc, Term};

use crate::error::Error;
use crate::nif::connection::{ConnResource, OpenCursor, Orphan};
use crate::nif::exec::{fetch_rows, Prepared};
use crate::nif::runtime::block_on;
use crate::nif::term::{decode_params, reply};

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
        self.conn.release(Orphan::Cursor(self.id));
    }
}

/// Returns `{:ok, {cursor, columns}}`.
#[rustler::nif(schedule = "DirtyIo")]
fn declare_cursor<'a>(
    env: Env<'a>,
    conn: ResourceArc<ConnResource>,
    sql: String,
    params: Term<'a>,
) -> Term<'a> {
    let driver = conn.driver();
    let id = conn.next_id();
    let owner = env.pid();
    let result = decode_params(params).and_then(|params| {
        conn.with(|inner| {
            // A fresh statement, not a cached one: the cursor keeps it
            // mid-step while other queries run on the connection.
            let prepared = Prepared::prepare(driver, inner.kind, &inner.conn, &sql)?;
            let values = prepared.bind_values(params)?;
            let rows = block_on(driver, prepared.stmt.query(values))??;
            let columns = prepared.columns.clone();
            inner.cursors.insert(
                id,
                OpenCursor {
                    rows,
                    _stmt: prepared.stmt,
                    ncols: columns.len(),
                    owner,
                },
            );
            Ok(columns)
        })
    });
    let result = result.map(|columns| {
        (
            ResourceArc::new(CursorResource {
                conn: conn.clone(),
                id,
            }),
            columns,
        )
            .encode(env)
    });
    reply(env, result)
}

/// Returns `{:ok, {:cont, rows}}` or, when the result set is exhausted (and
/// the cursor closed), `{:ok, {:halt, rows}}`.
#[rustler::nif(schedule = "DirtyIo")]
fn fetch(env: Env, cursor: ResourceArc<CursorResource>, max_rows: usize) -> Term {
    let driver = cursor.conn.driver();
    let caller = env.pid();
    let result = cursor.conn.with(|inner| {
        let open = inner
            .cursors
            .get_mut(&cursor.id)
            .ok_or(Error::Closed("the cursor is closed"))?;
        if open.owner != caller {
            return Err(Error::misuse("the cursor belongs to another process"));
        }
        if max_rows == 0 {
            return Err(Error::misuse("max_rows must be a positive integer"));
        }
        let fetched = fetch_rows(env, driver, &mut open.rows, open.ncols, max_rows);
        let (rows, done) = match fetched {
            Ok(ok) => ok,
            Err(err) => {
                inner.cursors.remove(&cursor.id);
                return Err(err);
            }
        };
        if done {
            inner.cursors.remove(&cursor.id);
            Ok((atoms::halt(), rows).encode(env))
        } else {
            Ok((atoms::cont(), rows).encode(env))
        }
    });
    reply(env, result)
}

#[rustler::nif(schedule = "DirtyIo")]
fn close_cursor(env: Env, cursor: ResourceArc<CursorResource>) -> Term {
    let result = cursor.conn.with(|inner| {
        inner.cursors.remove(&cursor.id);
        Ok(())
    });
    crate::nif::term::reply_ok(env, result)
}
