//! An advisory lock on a file, held by a connection: the migration lock
//! (`Ecto.Adapters.LibSql.lock_for_migrations/3`). The lock is the
//! operating system's (`flock`), so it also keeps out other OS processes
//! and is released when the holder's process dies, however it dies. It
//! belongs to the connection that took it: released by `unlock_file`, or
//! when the connection closes.
//!
//! The lock file is never the database file itself: closing any
//! descriptor of a file drops every POSIX lock the process holds on it,
//! SQLite's included.

use std::fs::{File, OpenOptions, TryLockError};
use std::time::Duration;

use rustler::{Env, ResourceArc, Term};

use crate::error::{Error, Result};
use crate::nif::connection::ConnResource;
use crate::nif::worker::{handed_over, submit_ok, Ctx};

/// How often a waiting lock is tried again (the wait is on the
/// connection's thread, and stops when the caller times out).
const RETRY: Duration = Duration::from_millis(20);

/// Takes the lock on `path` (created if missing) for this connection,
/// waiting for another holder to release it.
pub fn lock(held: &mut Option<File>, ctx: &Ctx, path: &str) -> Result<()> {
    if held.is_some() {
        return Err(Error::misuse("this connection holds a file lock already"));
    }
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| Error::misuse(format!("cannot open the lock file {path}: {e}")))?;
    loop {
        match file.try_lock() {
            Ok(()) => {
                *held = Some(file);
                return Ok(());
            }
            Err(TryLockError::WouldBlock) if ctx.is_cancelled() => return Err(ctx.stopped()),
            Err(TryLockError::WouldBlock) => std::thread::sleep(RETRY),
            Err(TryLockError::Error(e)) => {
                return Err(Error::misuse(format!("cannot lock {path}: {e}")))
            }
        }
    }
}

#[rustler::nif]
fn lock_file<'a>(
    env: Env<'a>,
    tag: Term<'a>,
    conn: ResourceArc<ConnResource>,
    path: String,
) -> Term<'a> {
    let seq = submit_ok(&conn.worker, env, tag, move |inner, ctx| {
        lock(&mut inner.file_lock, ctx, &path)
    });
    handed_over(env, seq)
}

/// Releases the connection's file lock; `:ok` when it holds none.
#[rustler::nif]
fn unlock_file<'a>(env: Env<'a>, tag: Term<'a>, conn: ResourceArc<ConnResource>) -> Term<'a> {
    let seq = submit_ok(&conn.worker, env, tag, move |inner, _ctx| {
        // Closing the file releases its lock.
        inner.file_lock = None;
        Ok(())
    });
    handed_over(env, seq)
}
