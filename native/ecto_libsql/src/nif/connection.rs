//! A connection: its worker (see `worker`), which owns the libSQL
//! connection, its statement cache, and the explicit statements and
//! cursors opened on it. The NIFs here hand jobs to the worker and return
//! at once; the worker replies to the caller.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rustler::{Binary, Encoder, Env, NifMap, ResourceArc, Term};

use crate::cache::StatementCache;
use crate::control::{Abandoned, Control};
use crate::engine::Conn;
use crate::error::{Error, Result};
use crate::gate::GateGuard;
use crate::nif::database::{DbResource, Kind};
use crate::nif::exec::{columns_term, run, Prepared};
use crate::nif::term::{atoms, encode_result, sql_and_params, sql_text};
use crate::nif::worker::{handed_over, submit, submit_ok, Ctx, Reply, Worker};
use crate::runtime::{block_on, take_dropped, Driver};

/// An open cursor: a result set being stepped, owned by one process.
pub struct OpenCursor {
    /// The result set and its statement, finalized together when dropped.
    pub rows: crate::engine::Rows,
    pub ncols: usize,
    pub owner: rustler::LocalPid,
}

/// The connection's state, owned by its worker thread.
pub struct ConnInner {
    pub conn: Conn,
    db: ResourceArc<DbResource>,
    pub kind: Kind,
    pub cache: StatementCache<Prepared>,
    pub statements: HashMap<u64, Prepared>,
    pub cursors: HashMap<u64, OpenCursor>,
    /// Held from the start of a writing transaction (or autocommit write)
    /// until the connection is back in autocommit mode.
    gate: Option<GateGuard>,
    /// Set when a remote call was cut short inside a transaction: the
    /// server's side of it is unknown, so the connection must be replaced.
    broken: bool,
    /// Change capture on this connection (local databases).
    watch: crate::nif::changes::Watch,
    /// Figures published for `EctoLibSql.Maintenance.stats/2`.
    counters: Arc<crate::nif::stats::Counters>,
    /// How long the current job waited for the write gate, if it took it
    /// (reported by the traced calls for telemetry).
    gate_wait: Option<Duration>,
    /// An advisory file lock this connection holds (see `file_lock`).
    pub file_lock: Option<std::fs::File>,
    /// A concurrent transaction lost a conflict, and the engine rolled it
    /// back: the ROLLBACK the caller sends next has nothing to do.
    conflicted: bool,
}

/// SQLITE_CONSTRAINT_FOREIGNKEY.
const FOREIGN_KEY: i32 = 787;

pub struct ConnResource {
    pub db: ResourceArc<DbResource>,
    pub worker: Worker,
    next_id: AtomicU64,
}

#[rustler::resource_impl]
impl rustler::Resource for ConnResource {}

impl Drop for ConnResource {
    fn drop(&mut self) {
        // The last handle is gone: the worker finishes and closes.
        self.worker.close(None);
    }
}

impl ConnResource {
    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }
}

impl ConnInner {
    pub fn driver(&self) -> Driver {
        self.kind.driver()
    }

    /// Waits for the database's write gate unless this connection holds it
    /// already (a local database's writers of this VM queue there).
    pub fn take_write_gate(&mut self, ctx: &Ctx) -> Result<()> {
        if self.gate.is_none() {
            if let Some(gate) = ctx.control.gate() {
                let started = std::time::Instant::now();
                let guard = gate
                    .acquire(|| ctx.is_cancelled())
                    .map_err(|_| ctx.stopped())?;
                self.gate = Some(guard);
                self.gate_wait = Some(started.elapsed());
            }
        }
        Ok(())
    }

    /// The current job's wait for the write gate, in microseconds, when it
    /// took the gate.
    pub fn gate_wait_us(&self) -> Option<u64> {
        self.gate_wait
            .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
    }

    /// Called by the worker before every job: a new subscription to the
    /// database's changes is watched from this job on.
    pub fn before_job(&mut self) {
        self.gate_wait = None;
        if let (Kind::Local, Some(conn)) = (self.kind, self.conn.as_libsql()) {
            self.watch.refresh(conn, &self.db.changes);
        }
    }

    /// Called by the worker after every job.
    pub fn after_job(&mut self) {
        if take_dropped() {
            // A remote call was abandoned mid-flight. Outside a transaction
            // a fresh stream is as good; inside one, the transaction is lost.
            if self.conn.is_autocommit() {
                let _ = self.replace_connection();
            } else {
                self.broken = true;
            }
        }
        if let (Kind::Local, Some(conn)) = (self.kind, self.conn.as_libsql()) {
            // While the gate is still held: the next writer's changes
            // cannot be sent before these.
            self.watch.deliver(conn, &self.db.changes);
        }
        if self.gate.is_some() && self.conn.is_autocommit() {
            self.gate = None;
        }
        self.counters.publish(
            self.cache.stats(),
            self.statements.len(),
            self.cursors.len(),
            !self.conn.is_autocommit(),
        );
    }

    /// A job failed with `:conflict` (see `conflicted`).
    pub fn note_conflict(&mut self) {
        self.conflicted = self.conn.is_autocommit();
    }

    /// Whether the last transaction ended in a conflict; forgets it.
    pub fn take_conflicted(&mut self) -> bool {
        std::mem::take(&mut self.conflicted)
    }

    /// `BEGIN CONCURRENT` needs the turso engine in MVCC mode.
    pub fn check_concurrent(&mut self) -> Result<()> {
        self.conflicted = false;
        match &self.conn {
            #[cfg(feature = "turso")]
            Conn::Turso(conn) if conn.mvcc() => Ok(()),
            conn => Err(Error::Unsupported(format!(
                "transactions in :concurrent mode need `engine: :turso, mvcc: true` (this database uses the {} engine{})",
                conn.engine().name(),
                if conn.engine() == crate::engine::Engine::Turso { " without mvcc" } else { "" }
            ))),
        }
    }

    fn replace_connection(&mut self) -> Result<()> {
        self.conn = self.db.db.connect()?;
        self.cache.clear();
        self.broken = false;
        Ok(())
    }

    pub fn check_usable(&self) -> Result<()> {
        if self.conflicted {
            return Err(Error::Conflict(
                "this concurrent transaction lost a write conflict and was rolled back: \
                 roll it back before using the connection again"
                    .into(),
            ));
        }
        if self.broken {
            return Err(Error::Disconnected(
                "a remote call was cut short inside a transaction: the transaction is lost".into(),
            ));
        }
        Ok(())
    }

    /// Runs `f`; on a remote connection outside a transaction whose stream
    /// the server forgot (idle expiry, restart), replaces the connection
    /// and runs `f` once more. The server refused the first attempt, so
    /// nothing ran twice. Inside a transaction the error is returned: the
    /// transaction is gone with the stream, and the caller replaces the
    /// connection (`:disconnected` is fatal to DBConnection).
    pub fn with_healing<T>(&mut self, mut f: impl FnMut(&mut ConnInner) -> Result<T>) -> Result<T> {
        self.check_usable()?;
        let healable = self.kind == Kind::Remote && self.conn.is_autocommit();
        match f(self) {
            Err(Error::Disconnected(_)) if healable => {
                self.replace_connection()?;
                f(self)
            }
            other => other,
        }
    }

    /// Runs `sql` through the statement cache. A write that fails a
    /// foreign key on a local database reports which one (`:constraint`).
    pub fn run_cached<'a>(
        &mut self,
        env: Env<'a>,
        ctx: &Ctx,
        sql: &str,
        params: crate::nif::term::Params,
    ) -> Result<Executed<'a>> {
        let probe = (self.kind == Kind::Local
            && matches!(crate::sql::command(sql), "insert" | "update" | "delete"))
        .then(|| params.clone());
        match self.run_cached_once(env, ctx, sql, params) {
            Err(err) if err.extended_code() == Some(FOREIGN_KEY) => {
                let named = probe.and_then(|params| self.name_failed_foreign_key(sql, params));
                Err(named.map_or(err, |constraint| Error::ForeignKey { constraint }))
            }
            other => other,
        }
    }

    fn run_cached_once<'a>(
        &mut self,
        env: Env<'a>,
        ctx: &Ctx,
        sql: &str,
        params: crate::nif::term::Params,
    ) -> Result<Executed<'a>> {
        if self.conn.is_autocommit() && crate::sql::takes_write_lock(sql) {
            self.take_write_gate(ctx)?;
        }
        let driver = self.driver();
        let cached = self.cache.get(sql).is_some();
        if !cached {
            let prepared = Prepared::prepare(driver, self.kind, &self.conn, sql)?;
            if let Err(uncached) = self.cache.insert(sql, prepared) {
                // Caching disabled: run it once and drop it.
                return execute_prepared(env, ctx, &self.conn, &uncached, params);
            }
        }
        let prepared = self
            .cache
            .peek(sql)
            .ok_or_else(|| Error::misuse("statement cache lost an entry"))?;
        let executed = execute_prepared(env, ctx, &self.conn, prepared, params).map(|mut e| {
            e.cached = cached;
            e
        });
        if matches!(&executed, Ok(e) if e.schema_change) {
            // Cached column lists may be stale now.
            self.cache.clear();
        }
        executed
    }

    /// SQLite says only that "a" foreign key failed. To name it, the write
    /// runs again inside a savepoint with foreign keys checked at commit
    /// instead, `PRAGMA foreign_key_check` reports the row that breaks one,
    /// and everything is rolled back. The name is Ecto's default,
    /// `<table>_<first column>_fkey`. `None` when it cannot be told.
    fn name_failed_foreign_key(
        &self,
        sql: &str,
        params: crate::nif::term::Params,
    ) -> Option<String> {
        let values = self.cache.peek(sql)?.bind_values(params).ok()?;
        // libSQL only: the probe needs PRAGMA foreign_key_check.
        let conn = self.conn.as_libsql()?;
        block_on(Driver::Inline, async {
            conn.execute("SAVEPOINT ecto_libsql_fk_probe", ()).await.ok()?;
            let _ = conn.execute("PRAGMA defer_foreign_keys = ON", ()).await;
            let found = async {
                // Stepped to the end: a write with RETURNING yields rows.
                let stmt = conn.prepare(sql).await.ok()?;
                let mut written = stmt.query(values).await.ok()?;
                while written.next().await.ok()?.is_some() {}
                drop(written);
                let mut check = conn.query("PRAGMA foreign_key_check", ()).await.ok()?;
                let row = check.next().await.ok()??;
                let table = row.get::<String>(0).ok()?;
                let fk_id = row.get::<i64>(3).ok()?;
                drop(check);
                let mut keys = conn
                    .query("SELECT \"from\" FROM pragma_foreign_key_list(?1) WHERE id = ?2 ORDER BY seq", (table.as_str(), fk_id))
                    .await
                    .ok()?;
                let column = keys.next().await.ok()??.get::<String>(0).ok()?;
                Some(format!("{table}_{column}_fkey"))
            }
            .await;
            let _ = conn.execute("ROLLBACK TO ecto_libsql_fk_probe", ()).await;
            let _ = conn.execute("RELEASE ecto_libsql_fk_probe", ()).await;
            let _ = conn.execute("PRAGMA defer_foreign_keys = OFF", ()).await;
            found
        })
        .ok()
        .flatten()
    }

    /// Runs SQL with no result (transaction control), interruptibly.
    pub fn execute_sql(&mut self, ctx: &Ctx, sql: &str) -> Result<()> {
        let _running = ctx.enter_for(self.driver(), self.conn.interruptible())?;
        self.conn.execute(self.driver(), sql)
    }

    /// Finalizes statements and cursors before the connection closes.
    pub fn shut_down(mut self) {
        self.cursors.clear();
        self.statements.clear();
        self.cache.clear();
        self.gate = None;
        self.file_lock = None;
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

    /// `{result, cached?}`, as the DBConnection driver wants it.
    /// `{result, cached, gate_wait_us | nil}`.
    pub fn traced(self, env: Env<'a>, gate_wait_us: Option<u64>) -> Term<'a> {
        let cached = self.cached;
        (self.result(env), cached, gate_wait_us).encode(env)
    }
}

/// Binds `params` to a prepared statement and runs it.
pub fn execute_prepared<'a>(
    env: Env<'a>,
    ctx: &Ctx,
    conn: &Conn,
    prepared: &Prepared,
    params: crate::nif::term::Params,
) -> Result<Executed<'a>> {
    let values = prepared.bind_values(params)?;
    let columns = (!prepared.columns.is_empty()).then(|| columns_term(env, &prepared.columns));
    let outcome = run(env, ctx, conn, prepared, values)?;
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

fn open_connection(db: &ResourceArc<DbResource>, opts: &ConnectOpts) -> Result<ConnInner> {
    let kind = db.kind;
    let conn = db.db.connect()?;
    if kind != Kind::Remote {
        // First, so the setup statements below already wait instead of
        // failing when another process holds the lock.
        conn.busy_timeout(Duration::from_millis(opts.busy_timeout))?;
    }
    for sql in &opts.setup_sql {
        conn.run_to_end(kind.driver(), sql)?;
    }
    Ok(ConnInner {
        conn,
        db: db.clone(),
        kind,
        cache: StatementCache::new(opts.statement_cache_size),
        statements: HashMap::new(),
        cursors: HashMap::new(),
        gate: None,
        broken: false,
        watch: Default::default(),
        counters: db.stats.register(),
        gate_wait: None,
        file_lock: None,
        conflicted: false,
    })
}

/// Starts a connection's worker, which connects and replies
/// `{:ok, conn}` or `{:error, error}`.
#[rustler::nif]
fn connect<'a>(
    env: Env<'a>,
    tag: Term<'a>,
    db: ResourceArc<DbResource>,
    opts: ConnectOpts,
) -> Term<'a> {
    let control = Arc::new(Control::new(db.gate.clone()));
    let seq = Worker::spawn(control).and_then(|worker| {
        let resource = ResourceArc::new(ConnResource {
            db: db.clone(),
            worker,
            next_id: AtomicU64::new(1),
        });
        let handle = resource.clone();
        let reply_to = Reply::new(env, tag);
        resource.worker.post(move |slot, _ctx| {
            let opened = open_connection(&db, &opts);
            let outgoing = reply_to.build(|env| match opened {
                Ok(inner) => {
                    *slot = Some(inner);
                    (atoms::ok(), handle.encode(env)).encode(env)
                }
                Err(err) => crate::nif::term::reply(env, Err(err)),
            });
            // The worker must not keep its own connection alive.
            drop(handle);
            Some(outgoing)
        })
    });
    handed_over(env, seq)
}

/// Closes the connection: what runs is interrupted at once, queued jobs
/// answer `:closed`, and the worker finalizes everything, closes the
/// connection and replies `:ok`. Returns the job number of that reply, or
/// `:closed` when the connection was closed already.
#[rustler::nif]
fn close<'a>(env: Env<'a>, tag: Term<'a>, conn: ResourceArc<ConnResource>) -> Term<'a> {
    let reply_to = Reply::new(env, tag);
    let last = move || Some(reply_to.build(|env| atoms::ok().encode(env)));
    match conn.worker.close(Some(Box::new(last))) {
        Some(seq) => seq.encode(env),
        None => atoms::closed().encode(env),
    }
}

/// What `query` and `execute` reply with.
#[derive(Clone, Copy)]
enum Shape {
    Rows,
    Traced,
    Count,
}

/// The body of `query` and `execute`: runs `sql` through the cache,
/// healing a forgotten remote stream, and replies in `shape`.
fn run_sql<'a>(
    env: Env<'a>,
    tag: Term<'a>,
    conn: &ConnResource,
    sql: Binary<'a>,
    params: Term<'a>,
    shape: Shape,
) -> Term<'a> {
    let seq = sql_and_params(sql, params).and_then(|(sql, params)| {
        submit(&conn.worker, env, tag, move |inner, ctx, env| {
            let executed =
                inner.with_healing(|inner| inner.run_cached(env, ctx, &sql, params.clone()))?;
            Ok(match shape {
                Shape::Rows => executed.result(env),
                Shape::Traced => executed.traced(env, inner.gate_wait_us()),
                Shape::Count => executed.outcome.num_rows.encode(env),
            })
        })
    });
    handed_over(env, seq)
}

#[rustler::nif]
fn query<'a>(
    env: Env<'a>,
    tag: Term<'a>,
    conn: ResourceArc<ConnResource>,
    sql: Binary<'a>,
    params: Term<'a>,
    traced: bool,
) -> Term<'a> {
    let shape = if traced { Shape::Traced } else { Shape::Rows };
    run_sql(env, tag, &conn, sql, params, shape)
}

#[rustler::nif]
fn execute<'a>(
    env: Env<'a>,
    tag: Term<'a>,
    conn: ResourceArc<ConnResource>,
    sql: Binary<'a>,
    params: Term<'a>,
) -> Term<'a> {
    run_sql(env, tag, &conn, sql, params, Shape::Count)
}

/// Prepares `sql` into the statement cache without running it (a cache
/// hit costs one lookup): `{:ok, {command, columns}}`. Errors in the SQL
/// surface here rather than at the first execution.
#[rustler::nif]
fn prepare_cached<'a>(
    env: Env<'a>,
    tag: Term<'a>,
    conn: ResourceArc<ConnResource>,
    sql: Binary<'a>,
) -> Term<'a> {
    let seq = sql_text(sql).and_then(|sql| {
        submit(&conn.worker, env, tag, move |inner, _ctx, env| {
            let describe = |prepared: &Prepared| -> Result<Term> {
                Ok((
                    rustler::Atom::from_str(env, prepared.command)?,
                    &prepared.columns,
                )
                    .encode(env))
            };
            inner.check_usable()?;
            if inner.cache.get(&sql).is_some() {
                let prepared = inner
                    .cache
                    .peek(&sql)
                    .ok_or_else(|| Error::misuse("statement cache lost an entry"))?;
                return describe(prepared);
            }
            let prepared = Prepared::prepare(inner.driver(), inner.kind, &inner.conn, &sql)?;
            let info = describe(&prepared)?;
            // With caching disabled the statement is dropped here and prepared
            // again when it runs.
            let _ = inner.cache.insert(&sql, prepared);
            Ok(info)
        })
    });
    handed_over(env, seq)
}

/// Stops whatever runs on the connection now, and every job handed over
/// before this call. It never waits: the stopped job answers
/// `:interrupted`.
#[rustler::nif]
fn interrupt(env: Env, conn: ResourceArc<ConnResource>) -> Term {
    conn.worker.control.interrupt_all();
    atoms::ok().encode(env)
}

/// The caller of job `seq` gave up (its timeout): the job is interrupted
/// and its reply dropped. `:dropped`, or `:sent` when the reply was sent
/// before (it is in the caller's mailbox).
#[rustler::nif]
fn abandon<'a>(env: Env<'a>, handle: Term<'a>, seq: u64) -> Term<'a> {
    use crate::nif::cursor::CursorResource;
    use crate::nif::statement::StmtResource;
    // Jobs of statements and cursors run on their connection's worker.
    let conn = handle
        .decode::<ResourceArc<ConnResource>>()
        .or_else(|_| {
            handle
                .decode::<ResourceArc<StmtResource>>()
                .map(|s| s.conn().clone())
        })
        .or_else(|_| {
            handle
                .decode::<ResourceArc<CursorResource>>()
                .map(|c| c.conn().clone())
        });
    let Ok(conn) = conn else {
        return crate::nif::term::reply(
            env,
            Err(Error::misuse("not a connection, statement or cursor")),
        );
    };
    match conn.worker.control.abandon(seq) {
        Abandoned::Dropped => atoms::dropped().encode(env),
        Abandoned::AlreadySent => atoms::sent().encode(env),
    }
}

#[rustler::nif]
fn set_busy_timeout<'a>(
    env: Env<'a>,
    tag: Term<'a>,
    conn: ResourceArc<ConnResource>,
    ms: u64,
) -> Term<'a> {
    let seq = submit_ok(&conn.worker, env, tag, move |inner, _ctx| {
        inner.conn.busy_timeout(Duration::from_millis(ms))?;
        Ok(())
    });
    handed_over(env, seq)
}

/// Back to a clean state for the next user: cursors closed, any open
/// transaction rolled back.
#[rustler::nif]
fn reset<'a>(env: Env<'a>, tag: Term<'a>, conn: ResourceArc<ConnResource>) -> Term<'a> {
    let seq = submit_ok(&conn.worker, env, tag, move |inner, ctx| {
        inner.cursors.clear();
        inner.take_conflicted();
        for prepared in inner.cache.values() {
            prepared.stmt.reset();
        }
        for prepared in inner.statements.values() {
            prepared.stmt.reset();
        }
        inner.check_usable()?;
        if !inner.conn.is_autocommit() {
            inner.execute_sql(ctx, "ROLLBACK")?;
        }
        Ok(())
    });
    handed_over(env, seq)
}

/// `:ok` while the connection answers. Local and replica: from memory.
/// Remote: a round trip, which also keeps the server's stream from
/// expiring (sqld forgets a stream idle for 10 s) and replaces one it
/// forgot.
#[rustler::nif]
fn ping<'a>(env: Env<'a>, tag: Term<'a>, conn: ResourceArc<ConnResource>) -> Term<'a> {
    let seq = submit_ok(&conn.worker, env, tag, move |inner, ctx| {
        inner.with_healing(|inner| match inner.kind {
            Kind::Remote => inner.execute_sql(ctx, "SELECT 1"),
            _ => Ok(()),
        })
    });
    handed_over(env, seq)
}

#[derive(NifMap)]
struct Counters {
    changes: u64,
    total_changes: u64,
    last_insert_rowid: i64,
    autocommit: bool,
}

#[rustler::nif]
fn counters<'a>(env: Env<'a>, tag: Term<'a>, conn: ResourceArc<ConnResource>) -> Term<'a> {
    let seq = submit(&conn.worker, env, tag, move |inner, _ctx, env| {
        Ok(Counters {
            changes: inner.conn.changes(),
            total_changes: inner.conn.total_changes(),
            last_insert_rowid: inner.conn.last_insert_rowid(),
            autocommit: inner.conn.is_autocommit(),
        }
        .encode(env))
    });
    handed_over(env, seq)
}

#[derive(NifMap)]
struct CacheStats {
    size: usize,
    capacity: usize,
    hits: u64,
    misses: u64,
    statements: usize,
    cursors: usize,
    write_gate_waiting: usize,
    write_gate_waits: u64,
}

#[rustler::nif]
fn cache_stats<'a>(env: Env<'a>, tag: Term<'a>, conn: ResourceArc<ConnResource>) -> Term<'a> {
    let seq = submit(&conn.worker, env, tag, move |inner, ctx, env| {
        let stats = inner.cache.stats();
        let (waiting, waits) = ctx.control.gate().map_or((0, 0), |g| g.stats());
        Ok(CacheStats {
            size: stats.size,
            capacity: stats.capacity,
            hits: stats.hits,
            misses: stats.misses,
            statements: inner.statements.len(),
            cursors: inner.cursors.len(),
            write_gate_waiting: waiting,
            write_gate_waits: waits,
        }
        .encode(env))
    });
    handed_over(env, seq)
}

#[rustler::nif]
fn enable_load_extension<'a>(
    env: Env<'a>,
    tag: Term<'a>,
    conn: ResourceArc<ConnResource>,
    enable: bool,
) -> Term<'a> {
    let seq = submit_ok(&conn.worker, env, tag, move |inner, _ctx| {
        let conn = inner.conn.libsql("loading extensions")?;
        if enable {
            conn.load_extension_enable()?;
        } else {
            conn.load_extension_disable()?;
        }
        Ok(())
    });
    handed_over(env, seq)
}

#[rustler::nif]
fn load_extension<'a>(
    env: Env<'a>,
    tag: Term<'a>,
    conn: ResourceArc<ConnResource>,
    path: String,
    entry_point: Option<String>,
) -> Term<'a> {
    let seq = submit_ok(&conn.worker, env, tag, move |inner, _ctx| {
        inner
            .conn
            .libsql("loading extensions")?
            .load_extension(&path, entry_point.as_deref())?;
        Ok(())
    });
    handed_over(env, seq)
}

#[rustler::nif]
fn connection_database(env: Env, conn: ResourceArc<ConnResource>) -> Term {
    conn.db.clone().encode(env)
}

/// Whether the connection was closed (`close/1`), without a round trip.
#[rustler::nif]
fn closed(conn: ResourceArc<ConnResource>) -> bool {
    conn.worker.control.is_closing()
}
