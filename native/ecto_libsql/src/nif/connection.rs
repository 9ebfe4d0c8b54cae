//! A connection: one libSQL connection, its statement cache, and the
//! explicit statements and cursors opened on it. Everything that touches the
//! libSQL connection holds `inner`'s lock; `interrupter` is a separate handle
//! so that `interrupt/1` never waits for the statement it is stopping.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rustler::{Encoder, Env, NifMap, ResourceArc, Term};

use crate::cache::StatementCache;
use crate::error::{Error, Result};
use crate::nif::database::{DbResource, Kind};
use crate::nif::exec::{closed_connection, columns_term, run, Prepared};
use crate::nif::runtime::{block_on, Driver};
use crate::nif::term::{decode_params, encode_result, reply, reply_ok};

/// An open cursor: a result set being stepped, owned by one process.
pub struct OpenCursor {
    pub rows: libsql::Rows,
    // Kept so the statement outlives its rows; dropped (finalized) with them.
    pub _stmt: libsql::Statement,
    pub ncols: usize,
    pub owner: rustler::LocalPid,
}

pub struct ConnInner {
    pub conn: libsql::Connection,
    /// Remote and replica statements need their parameters bound differently.
    pub kind: crate::nif::database::Kind,
    /// The busy timeout to restore after a fast-path call, which runs with
    /// none (it must not sleep on a normal scheduler).
    pub busy_timeout: Duration,
    pub cache: StatementCache<Prepared>,
    pub statements: HashMap<u64, Prepared>,
    pub cursors: HashMap<u64, OpenCursor>,
}

/// Handles dropped by the garbage collector while the connection was busy:
/// removed the next time the connection is locked, so a destructor never
/// blocks a scheduler.
pub enum Orphan {
    Statement(u64),
    Cursor(u64),
}

pub struct ConnResource {
    pub db: ResourceArc<DbResource>,
    pub kind: Kind,
    inner: Mutex<Option<ConnInner>>,
    interrupter: Mutex<Option<libsql::Connection>>,
    orphans: Mutex<Vec<Orphan>>,
    next_id: AtomicU64,
}

#[rustler::resource_impl]
impl rustler::Resource for ConnResource {}

fn unpoison<T>(result: std::result::Result<T, PoisonError<T>>) -> T {
    // A panic is caught at the NIF boundary; the data it left is still
    // consistent for our uses (at worst a statement needing a reset).
    result.unwrap_or_else(PoisonError::into_inner)
}

impl ConnResource {
    pub fn driver(&self) -> Driver {
        self.kind.driver()
    }

    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    fn lock(&self) -> MutexGuard<'_, Option<ConnInner>> {
        unpoison(self.inner.lock())
    }

    /// Runs `f` on the open connection if nobody holds it now; `None` when
    /// it is busy (the fast path never waits on a normal scheduler).
    pub fn try_with<T>(&self, f: impl FnOnce(&mut ConnInner) -> Result<T>) -> Option<Result<T>> {
        let mut guard = match self.inner.try_lock() {
            Ok(guard) => guard,
            Err(std::sync::TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return None,
        };
        Some(match guard.as_mut() {
            Some(inner) => {
                self.reap(inner);
                f(inner)
            }
            None => Err(closed_connection()),
        })
    }

    /// Runs `f` on the open connection, or fails with `:closed`.
    pub fn with<T>(&self, f: impl FnOnce(&mut ConnInner) -> Result<T>) -> Result<T> {
        let mut guard = self.lock();
        let inner = guard.as_mut().ok_or_else(closed_connection)?;
        self.reap(inner);
        f(inner)
    }

    fn reap(&self, inner: &mut ConnInner) {
        let orphans = std::mem::take(&mut *unpoison(self.orphans.lock()));
        for orphan in orphans {
            match orphan {
                Orphan::Statement(id) => drop(inner.statements.remove(&id)),
                Orphan::Cursor(id) => drop(inner.cursors.remove(&id)),
            }
        }
    }

    /// Forgets a statement or cursor whose handle was garbage collected.
    pub fn release(&self, orphan: Orphan) {
        match self.inner.try_lock() {
            Ok(mut guard) => {
                if let Some(inner) = guard.as_mut() {
                    match orphan {
                        Orphan::Statement(id) => drop(inner.statements.remove(&id)),
                        Orphan::Cursor(id) => drop(inner.cursors.remove(&id)),
                    }
                }
            }
            Err(_) => unpoison(self.orphans.lock()).push(orphan),
        }
    }

    /// Runs `f`; on a remote connection outside a transaction whose stream
    /// the server forgot (idle expiry, restart), replaces the connection
    /// and runs `f` once more. The server refused the first attempt, so
    /// nothing ran twice. Inside a transaction the error is returned: the
    /// transaction is gone with the stream, and the caller replaces the
    /// connection (`:disconnected` is fatal to DBConnection).
    pub fn with_healing<T>(&self, mut f: impl FnMut(&mut ConnInner) -> Result<T>) -> Result<T> {
        self.with(|inner| {
            let healable = inner.kind == Kind::Remote && inner.conn.is_autocommit();
            match f(inner) {
                Err(err) if healable && matches!(err, Error::Disconnected(_)) => {
                    let fresh = self.db.db.connect()?;
                    *unpoison(self.interrupter.lock()) = Some(fresh.clone());
                    inner.conn = fresh;
                    inner.cache.clear();
                    f(inner)
                }
                other => other,
            }
        })
    }

    pub fn close(&self) {
        let closed = self.lock().take();
        *unpoison(self.interrupter.lock()) = None;
        // Statements and cursors are finalized before the connection.
        if let Some(mut inner) = closed {
            inner.cursors.clear();
            inner.statements.clear();
            inner.cache.clear();
        }
    }
}

impl ConnInner {
    /// Runs `sql` through the statement cache.
    pub fn run_cached<'a>(
        &mut self,
        env: Env<'a>,
        driver: Driver,
        sql: &str,
        params: crate::nif::term::Params,
    ) -> Result<Executed<'a>> {
        let executed = if self.cache.get(sql).is_some() {
            let prepared = self
                .cache
                .peek(sql)
                .ok_or_else(|| Error::misuse("statement cache lost an entry"))?;
            execute_prepared(env, driver, &self.conn, prepared, params).map(|mut executed| {
                executed.cached = true;
                executed
            })
        } else {
            let prepared = Prepared::prepare(driver, self.kind, &self.conn, sql)?;
            match self.cache.insert(sql, prepared) {
                Ok(prepared) => execute_prepared(env, driver, &self.conn, prepared, params),
                Err(uncached) => execute_prepared(env, driver, &self.conn, &uncached, params),
            }
        };
        if matches!(&executed, Ok(e) if e.schema_change) {
            // Cached column lists may be stale now.
            self.cache.clear();
        }
        executed
    }

    pub fn execute_sql(&mut self, driver: Driver, sql: &str) -> Result<()> {
        block_on(driver, self.conn.execute(sql, ()))??;
        Ok(())
    }
}

/// One statement's execution, ready to encode.
pub struct Executed<'a> {
    pub columns: Option<Term<'a>>,
    pub outcome: crate::nif::exec::Outcome<'a>,
    pub command: &'static str,
    pub schema_change: bool,
    /// Whether the statement came from the cache (for telemetry).
    pub cached: bool,
}

impl<'a> Executed<'a> {
    pub fn result(self, env: Env<'a>) -> Term<'a> {
        encode_result(
            env,
            self.command,
            self.columns,
            self.outcome.rows,
            self.outcome.num_rows,
        )
    }
}

/// Binds `params` to a prepared statement and runs it.
pub fn execute_prepared<'a>(
    env: Env<'a>,
    driver: Driver,
    conn: &libsql::Connection,
    prepared: &Prepared,
    params: crate::nif::term::Params,
) -> Result<Executed<'a>> {
    let values = prepared.bind_values(params)?;
    let columns = (!prepared.columns.is_empty()).then(|| columns_term(env, &prepared.columns));
    let outcome = run(env, driver, conn, prepared, values)?;
    Ok(Executed {
        columns,
        outcome,
        command: prepared.command,
        schema_change: prepared.changes_schema(),
        cached: false,
    })
}

/// What `EctoLibSql.Native.connect/2` passes down, already validated.
#[derive(NifMap)]
pub struct ConnectOpts {
    pub busy_timeout: u64,
    pub statement_cache_size: usize,
    /// Statements run on every new connection (per-connection pragmas).
    pub setup_sql: Vec<String>,
}

fn connect_to(db: ResourceArc<DbResource>, opts: &ConnectOpts) -> Result<ConnResource> {
    let kind = db.kind;
    let conn = db.db.connect()?;
    if kind != Kind::Remote {
        // First, so the setup statements below already wait instead of
        // failing when another connection holds the lock.
        conn.busy_timeout(Duration::from_millis(opts.busy_timeout))?;
    }
    block_on(kind.driver(), async {
        for sql in &opts.setup_sql {
            let mut rows = conn.query(sql, ()).await?;
            while rows.next().await?.is_some() {}
        }
        Ok::<_, libsql::Error>(())
    })??;
    Ok(ConnResource {
        db,
        kind,
        interrupter: Mutex::new(Some(conn.clone())),
        inner: Mutex::new(Some(ConnInner {
            conn,
            kind,
            busy_timeout: Duration::from_millis(opts.busy_timeout),
            cache: StatementCache::new(opts.statement_cache_size),
            statements: HashMap::new(),
            cursors: HashMap::new(),
        })),
        orphans: Mutex::new(Vec::new()),
        next_id: AtomicU64::new(1),
    })
}

#[rustler::nif(schedule = "DirtyIo")]
fn connect<'a>(env: Env<'a>, db: ResourceArc<DbResource>, opts: ConnectOpts) -> Term<'a> {
    let result = connect_to(db, &opts).map(|c| ResourceArc::new(c).encode(env));
    reply(env, result)
}

#[rustler::nif(schedule = "DirtyIo")]
fn close(env: Env, conn: ResourceArc<ConnResource>) -> Term {
    conn.close();
    reply_ok(env, Ok(()))
}

/// Decodes `params`, runs `sql` through the cache and shapes the outcome
/// with `finish`: the body of `query`, `query_traced` and `execute`.
fn run_sql<'a>(
    env: Env<'a>,
    conn: &ConnResource,
    sql: &str,
    params: Term<'a>,
    finish: impl FnOnce(Executed<'a>) -> Term<'a>,
) -> Result<Term<'a>> {
    let driver = conn.driver();
    let params = decode_params(params)?;
    let executed = conn.with_healing(|inner| inner.run_cached(env, driver, sql, params.clone()))?;
    Ok(finish(executed))
}

/// `{:ok, result, cached?}`, as the DBConnection driver wants it.
pub fn traced<'a>(env: Env<'a>, executed: Executed<'a>) -> Term<'a> {
    let cached = executed.cached;
    (crate::nif::term::atoms::ok(), executed.result(env), cached).encode(env)
}

#[rustler::nif(schedule = "DirtyIo")]
fn query<'a>(
    env: Env<'a>,
    conn: ResourceArc<ConnResource>,
    sql: String,
    params: Term<'a>,
) -> Term<'a> {
    reply(env, run_sql(env, &conn, &sql, params, |e| e.result(env)))
}

/// `query/3` for the DBConnection driver: `{:ok, result, cached?}`.
#[rustler::nif(schedule = "DirtyIo")]
fn query_traced<'a>(
    env: Env<'a>,
    conn: ResourceArc<ConnResource>,
    sql: String,
    params: Term<'a>,
) -> Term<'a> {
    match run_sql(env, &conn, &sql, params, |e| traced(env, e)) {
        Ok(term) => term,
        Err(err) => reply(env, Err(err)),
    }
}

/// Prepares `sql` into the statement cache without running it (a cache
/// hit costs one lookup): `{:ok, {command, columns}}`. Errors in the SQL
/// surface here rather than at the first execution.
#[rustler::nif(schedule = "DirtyIo")]
fn prepare_cached<'a>(env: Env<'a>, conn: ResourceArc<ConnResource>, sql: String) -> Term<'a> {
    let driver = conn.driver();
    let describe = |prepared: &Prepared| -> Result<Term<'a>> {
        Ok((
            rustler::Atom::from_str(env, prepared.command)?,
            &prepared.columns,
        )
            .encode(env))
    };
    let result = conn.with(|inner| {
        if inner.cache.get(&sql).is_some() {
            let prepared = inner
                .cache
                .peek(&sql)
                .ok_or_else(|| Error::misuse("statement cache lost an entry"))?;
            return describe(prepared);
        }
        let prepared = Prepared::prepare(driver, inner.kind, &inner.conn, &sql)?;
        let info = describe(&prepared)?;
        // With caching disabled the statement is dropped here and prepared
        // again when it runs.
        let _ = inner.cache.insert(&sql, prepared);
        Ok(info)
    });
    reply(env, result)
}

#[rustler::nif(schedule = "DirtyIo")]
fn execute<'a>(
    env: Env<'a>,
    conn: ResourceArc<ConnResource>,
    sql: String,
    params: Term<'a>,
) -> Term<'a> {
    reply(
        env,
        run_sql(env, &conn, &sql, params, |e| e.outcome.num_rows.encode(env)),
    )
}

/// Interrupts whatever runs on the connection now. It takes only the
/// interrupter's lock, which nothing holds for longer than this call.
#[rustler::nif]
fn interrupt(env: Env, conn: ResourceArc<ConnResource>) -> Term {
    let result = match unpoison(conn.interrupter.lock()).as_ref() {
        Some(handle) => handle.interrupt().map_err(Error::from),
        None => Err(closed_connection()),
    };
    reply_ok(env, result)
}

#[rustler::nif(schedule = "DirtyIo")]
fn set_busy_timeout(env: Env, conn: ResourceArc<ConnResource>, ms: u64) -> Term {
    let result = conn.with(|inner| {
        inner.conn.busy_timeout(Duration::from_millis(ms))?;
        inner.busy_timeout = Duration::from_millis(ms);
        Ok(())
    });
    reply_ok(env, result)
}

/// Back to a clean state for the next user: cursors closed, any open
/// transaction rolled back.
#[rustler::nif(schedule = "DirtyIo")]
fn reset(env: Env, conn: ResourceArc<ConnResource>) -> Term {
    let driver = conn.driver();
    let result = conn.with(|inner| {
        inner.cursors.clear();
        for prepared in inner.cache.values() {
            prepared.stmt.reset();
        }
        for prepared in inner.statements.values() {
            prepared.stmt.reset();
        }
        if !inner.conn.is_autocommit() {
            inner.execute_sql(driver, "ROLLBACK")?;
        }
        Ok(())
    });
    reply_ok(env, result)
}

#[rustler::nif(schedule = "DirtyIo")]
fn ping(env: Env, conn: ResourceArc<ConnResource>) -> Term {
    // Local and replica: the connection answers from memory. Remote: a
    // round trip, which also keeps the server's stream from expiring
    // (sqld forgets a stream idle for 10 s) and replaces one it forgot.
    let driver = conn.driver();
    let result = conn.with_healing(|inner| match inner.kind {
        Kind::Remote => inner.execute_sql(driver, "SELECT 1"),
        _ => Ok(()),
    });
    reply_ok(env, result)
}

#[derive(NifMap)]
struct Counters {
    changes: u64,
    total_changes: u64,
    last_insert_rowid: i64,
    autocommit: bool,
}

#[rustler::nif(schedule = "DirtyIo")]
fn counters(env: Env, conn: ResourceArc<ConnResource>) -> Term {
    reply(
        env,
        conn.with(|inner| {
            Ok(Counters {
                changes: inner.conn.changes(),
                total_changes: inner.conn.total_changes(),
                last_insert_rowid: inner.conn.last_insert_rowid(),
                autocommit: inner.conn.is_autocommit(),
            }
            .encode(env))
        }),
    )
}

#[derive(NifMap)]
struct CacheStats {
    size: usize,
    capacity: usize,
    hits: u64,
    misses: u64,
    statements: usize,
    cursors: usize,
}

#[rustler::nif(schedule = "DirtyIo")]
fn cache_stats(env: Env, conn: ResourceArc<ConnResource>) -> Term {
    reply(
        env,
        conn.with(|inner| {
            let stats = inner.cache.stats();
            Ok(CacheStats {
                size: stats.size,
                capacity: stats.capacity,
                hits: stats.hits,
                misses: stats.misses,
                statements: inner.statements.len(),
                cursors: inner.cursors.len(),
            }
            .encode(env))
        }),
    )
}

#[rustler::nif(schedule = "DirtyIo")]
fn enable_load_extension(env: Env, conn: ResourceArc<ConnResource>, enable: bool) -> Term {
    let result = conn.with(|inner| {
        if enable {
            inner.conn.load_extension_enable()?;
        } else {
            inner.conn.load_extension_disable()?;
        }
        Ok(())
    });
    reply_ok(env, result)
}

#[rustler::nif(schedule = "DirtyIo")]
fn load_extension(
    env: Env,
    conn: ResourceArc<ConnResource>,
    path: String,
    entry_point: Option<String>,
) -> Term {
    let result = conn.with(|inner| {
        inner.conn.load_extension(&path, entry_point.as_deref())?;
        Ok(())
    });
    reply_ok(env, result)
}

#[rustler::nif]
fn connection_database(env: Env, conn: ResourceArc<ConnResource>) -> Term {
    conn.db.clone().encode(env)
}
