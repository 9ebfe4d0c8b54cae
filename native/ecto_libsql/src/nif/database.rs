//! An opened database: a local file or memory database, a remote server, or
//! an embedded replica. Several connections share one (`connect/2`), so a
//! pool sees one `:memory:` database and a replica file is opened once.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustler::{Encoder, Env, NifMap, ResourceArc, Term};

use crate::error::{Error, Result};
use crate::gate::{self, WriteGate};
use crate::nif::term::reply;
use crate::nif::worker::{guarded, Reply};
use crate::nif::{changes, sandbox, stats};
use crate::runtime::{block_on, block_on_for, Driver};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Local,
    Remote,
    Replica,
}

impl Kind {
    pub fn driver(self) -> Driver {
        match self {
            Kind::Local => Driver::Inline,
            Kind::Remote | Kind::Replica => Driver::Tokio,
        }
    }
}

pub struct DbResource {
    /// Shared so that a replica's background catch-up (see
    /// `catch_up_in_background`) can hold it weakly.
    pub db: Arc<crate::engine::Database>,
    pub kind: Kind,
    /// The write gate of a local database (shared with every other opening
    /// of the same file in this VM); remote and replica writes are ordered
    /// by the server.
    pub gate: Option<std::sync::Arc<WriteGate>>,
    /// The snapshot sandbox copies of this database are made from (see
    /// `sandbox`), taken on the first copy.
    pub template: Mutex<Option<sandbox::Template>>,
    /// Subscribers to this database's committed changes (see `changes`).
    pub changes: changes::Hub,
    /// Its connections' published figures (see `stats`).
    pub stats: stats::Registry,
    /// When a sync of this replica last succeeded (milliseconds since the
    /// Unix epoch; 0 before any), for `health/1`. The open's first sync
    /// counts; libsql's own background syncs (`sync_interval`) cannot be
    /// seen from here.
    pub last_sync_ms: Arc<AtomicU64>,
    /// For a sandbox copy: its file, removed when it is discarded
    /// (`discard_sandbox_copy`) or at the latest when the database is
    /// dropped (declared after `db`, so dropped after it).
    pub owned: Mutex<Option<sandbox::OwnedFile>>,
}

impl DbResource {
    /// Records a successful sync (see `last_sync_ms`).
    pub fn synced_now(&self) {
        record_sync(&self.last_sync_ms);
    }

    fn new(
        db: crate::engine::Database,
        kind: Kind,
        gate: Option<std::sync::Arc<WriteGate>>,
    ) -> Self {
        DbResource {
            db: Arc::new(db),
            kind,
            gate,
            template: Mutex::new(None),
            changes: changes::Hub::default(),
            stats: stats::Registry::default(),
            last_sync_ms: Arc::new(AtomicU64::new(0)),
            owned: Mutex::new(None),
        }
    }
}

#[rustler::resource_impl]
impl rustler::Resource for DbResource {}

/// What `EctoLibSql.Native.open_database/1` passes down, already validated.
#[derive(NifMap)]
pub struct DatabaseOpts {
    pub mode: String,
    pub database: Option<String>,
    pub uri: Option<String>,
    pub auth_token: Option<String>,
    pub encryption_key: Option<String>,
    pub sync_interval: Option<u64>,
    pub read_your_writes: bool,
    /// Sync a replica before the open returns (else, for a file synced
    /// before: open it as it is and sync in the background).
    pub sync_on_open: bool,
    pub read_only: bool,
    /// `"libsql"` or `"turso"` (local files and memory only).
    pub engine: String,
    /// Turso's MVCC mode (`BEGIN CONCURRENT`).
    pub mvcc: bool,
    /// Statements run once, on a first connection, before any other
    /// connection exists: `PRAGMA journal_mode` belongs here, so that N
    /// pooled connections do not race to switch the file to WAL.
    pub init_sql: Vec<String>,
}

/// Each private in-memory database gets its own name in the memdb VFS, which
/// every connection of the same `DbResource` opens, and nothing else does.
static MEMORY_DATABASES: AtomicU64 = AtomicU64::new(0);

fn memory_path() -> String {
    let n = MEMORY_DATABASES.fetch_add(1, Ordering::Relaxed);
    format!(
        "file:/ecto_libsql_memory_{}_{n}?vfs=memdb",
        std::process::id()
    )
}

fn encryption(key: &Option<String>) -> Option<libsql::EncryptionConfig> {
    key.as_ref().map(|k| {
        libsql::EncryptionConfig::new(
            libsql::Cipher::Aes256Cbc,
            bytes::Bytes::from(k.clone().into_bytes()),
        )
    })
}

fn open_local(path: String, opts: &DatabaseOpts) -> Result<crate::engine::Database> {
    use crate::engine::{Database, Engine};
    match Engine::parse(&opts.engine)? {
        Engine::Libsql => open_libsql(path, opts).map(Database::Libsql),
        #[cfg(feature = "turso")]
        Engine::Turso => {
            if opts.encryption_key.is_some() {
                return Err(crate::engine::unsupported(Engine::Turso, "encryption_key"));
            }
            crate::engine::turso::open(&path, opts.read_only, opts.mvcc).map(Database::Turso)
        }
        #[cfg(not(feature = "turso"))]
        Engine::Turso => Err(crate::engine::unsupported(Engine::Turso, "this build")),
    }
}

fn open_libsql(path: String, opts: &DatabaseOpts) -> Result<libsql::Database> {
    let mut flags =
        libsql::OpenFlags::SQLITE_OPEN_READ_WRITE | libsql::OpenFlags::SQLITE_OPEN_CREATE;
    if opts.read_only {
        flags = libsql::OpenFlags::SQLITE_OPEN_READ_ONLY;
    }
    let mut builder = libsql::Builder::new_local(path).flags(flags);
    if let Some(config) = encryption(&opts.encryption_key) {
        builder = builder.encryption_config(config);
    }
    Ok(block_on(Driver::Inline, builder.build())??)
}

fn open(opts: &DatabaseOpts) -> Result<DbResource> {
    use crate::engine::Database;
    if opts.mode != "local" && opts.engine != "libsql" {
        return Err(Error::InvalidOption(format!(
            "the {} engine opens local files and :memory: only; {} databases use the libsql engine",
            opts.engine, opts.mode
        )));
    }
    let required = |value: &Option<String>, name: &str| {
        value.clone().ok_or_else(|| {
            Error::InvalidOption(format!("{} mode needs the {name} option", opts.mode))
        })
    };
    match opts.mode.as_str() {
        "local" => {
            let path = required(&opts.database, "database")?;
            let (path, gate) = if path == ":memory:" {
                let path = if opts.engine == "turso" {
                    path
                } else {
                    memory_path()
                };
                (path, WriteGate::new())
            } else {
                let key = std::fs::canonicalize(&path)
                    .map(|p| p.to_string_lossy().into_owned())
                    .unwrap_or_else(|_| path.clone());
                let gate = gate::for_file(&key);
                (path, gate)
            };
            Ok(DbResource::new(
                open_local(path, opts)?,
                Kind::Local,
                Some(gate),
            ))
        }
        "remote" => {
            let uri = required(&opts.uri, "uri")?;
            let token = opts.auth_token.clone().unwrap_or_default();
            let db = block_on(
                Driver::Tokio,
                libsql::Builder::new_remote(uri, token).build(),
            )??;
            Ok(DbResource::new(Database::Libsql(db), Kind::Remote, None))
        }
        "replica" => {
            let path = required(&opts.database, "database")?;
            let uri = required(&opts.uri, "uri")?;
            let token = opts.auth_token.clone().unwrap_or_default();
            if !opts.sync_on_open {
                if let Some(db) = open_offline(opts, &path, &uri, &token)? {
                    let resource = DbResource::new(Database::Libsql(db), Kind::Replica, None);
                    catch_up_in_background(&resource, Duration::ZERO);
                    return Ok(resource);
                }
            }
            let build = build_replica(opts, &path, &uri, &token, None);
            // Synced once on open, so the first read sees the primary; a
            // primary that does not answer in time is treated as down, so
            // that start_link never hangs on it.
            let opened = block_on_for(
                async move {
                    let db = build.await?;
                    db.sync().await?;
                    Ok::<_, libsql::Error>(db)
                },
                OPEN_LIMIT,
                "the replica's first sync with its primary",
            )
            .and_then(|opened| opened.map_err(Error::from));
            let failed = match opened {
                Ok(db) => {
                    let resource = DbResource::new(Database::Libsql(db), Kind::Replica, None);
                    resource.synced_now();
                    return Ok(resource);
                }
                Err(Error::Timeout(m)) => Error::Unavailable(m),
                Err(err) => replica_open_error(err, uri.clone(), token.clone()),
            };
            match failed {
                unreachable @ Error::Unavailable(_) => {
                    let db = open_offline(opts, &path, &uri, &token)?.ok_or(unreachable)?;
                    let resource = DbResource::new(Database::Libsql(db), Kind::Replica, None);
                    catch_up_in_background(&resource, Duration::from_secs(1));
                    Ok(resource)
                }
                other => Err(other),
            }
        }
        other => Err(Error::InvalidOption(format!(
            "unknown mode {other:?}: expected local, remote or replica"
        ))),
    }
}

fn record_sync(last_sync_ms: &AtomicU64) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0);
    last_sync_ms.store(now, Ordering::Relaxed);
}

/// A replica opened from its file (its primary unreachable, or
/// `sync_on_open: false`) catches up by itself: a thread syncs after
/// `first_wait`, then retries with backoff (1 s, doubling to 30 s) until a
/// sync succeeds, or until the database is closed (it holds the database
/// weakly). `sync_interval` (libsql's own loop) and
/// explicit syncs keep working meanwhile.
fn catch_up_in_background(resource: &DbResource, first_wait: Duration) {
    let db = Arc::downgrade(&resource.db);
    let last_sync_ms = Arc::downgrade(&resource.last_sync_ms);
    let spawned = std::thread::Builder::new()
        .name("ecto_libsql catch-up".into())
        .spawn(move || {
            let mut wait = first_wait;
            let mut backoff = Duration::from_secs(1);
            loop {
                std::thread::sleep(wait);
                let (Some(db), Some(last)) = (db.upgrade(), last_sync_ms.upgrade()) else {
                    return;
                };
                let Ok(db) = db.libsql("replication") else {
                    return;
                };
                if matches!(
                    block_on_for(db.sync(), SYNC_LIMIT, "catch-up sync"),
                    Ok(Ok(_))
                ) {
                    record_sync(&last);
                    return;
                }
                wait = backoff;
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        });
    // Without a thread, catching up waits for the next explicit sync.
    drop(spawned);
}

/// How long opening a replica may wait on its primary.
const OPEN_LIMIT: Duration = Duration::from_secs(10);

/// Builds (opens) an embedded replica with `opts`' settings.
fn build_replica(
    opts: &DatabaseOpts,
    path: &str,
    uri: &str,
    token: &str,
    protocol: Option<libsql::SyncProtocol>,
) -> impl std::future::Future<Output = libsql::Result<libsql::Database>> {
    let mut builder = libsql::Builder::new_remote_replica(path, uri.to_owned(), token.to_owned())
        .read_your_writes(opts.read_your_writes);
    if let Some(protocol) = protocol {
        builder = builder.sync_protocol(protocol);
    }
    if let Some(ms) = opts.sync_interval {
        builder = builder.sync_interval(Duration::from_millis(ms));
    }
    if let Some(config) = encryption(&opts.encryption_key) {
        builder = builder.encryption_config(config);
    }
    builder.build()
}

/// A replica whose primary cannot be reached opens from its own file when
/// that file has been synced before: it serves what it last synced (writes,
/// which go to the primary, fail with `:unavailable`), and catches up by
/// itself (`catch_up_in_background`). The
/// replication protocol is named so that opening asks the primary nothing
/// (libsql probes it to choose one otherwise). `None` when the file was
/// never synced: there is nothing to serve.
fn open_offline(
    opts: &DatabaseOpts,
    path: &str,
    uri: &str,
    token: &str,
) -> Result<Option<libsql::Database>> {
    let build = build_replica(opts, path, uri, token, Some(libsql::SyncProtocol::V1));
    let opened = block_on_for(
        async move {
            let db = build.await?;
            let synced = db.replication_index().await?;
            Ok::<_, libsql::Error>((db, synced))
        },
        OPEN_LIMIT,
        "opening the replica from its file",
    )?;
    match opened {
        Ok((db, Some(_))) => Ok(Some(db)),
        Ok((_, None)) | Err(_) => Ok(None),
    }
}

/// libsql reports a primary that refuses a replica's credentials only as a
/// handshake that timed out. Asking the primary once over Hrana with the
/// same token tells a refusal (`:auth`) from an unreachable primary.
fn replica_open_error(err: Error, uri: String, token: String) -> Error {
    if !matches!(err, Error::Sync(_)) {
        return err;
    }
    let probe = block_on_for(
        async move {
            let db = libsql::Builder::new_remote(uri, token).build().await?;
            db.connect()?.query("SELECT 1", ()).await.map(drop)
        },
        OPEN_LIMIT,
        "asking the replica's primary",
    );
    match probe {
        Ok(Err(probe_err)) => match Error::from(probe_err) {
            refused @ Error::Auth(_) => refused,
            Error::Unavailable(m) => {
                Error::Unavailable(format!("the replica's primary cannot be reached: {m}"))
            }
            _ => err,
        },
        _ => err,
    }
}

/// How long a database's first statements (`journal_mode`, `auto_vacuum`)
/// wait for a lock another opener holds.
pub const INIT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

fn initialise(resource: &DbResource, init_sql: &[String]) -> Result<()> {
    if init_sql.is_empty() {
        return Ok(());
    }
    let conn = resource.db.connect()?;
    if resource.kind != Kind::Remote {
        // Another pool (or OS process) may be opening or recovering the
        // same file right now: wait for it rather than fail at once.
        conn.busy_timeout(INIT_BUSY_TIMEOUT)?;
    }
    let deadline = std::time::Instant::now() + INIT_BUSY_TIMEOUT;
    loop {
        // A pragma may return a row (journal_mode does): it is read and dropped.
        let ran = init_sql
            .iter()
            .try_for_each(|sql| conn.run_to_end(resource.kind.driver(), sql));
        match ran {
            // Two openers of a new file (still in rollback-journal mode)
            // can each hold a shared lock and want the exclusive one to
            // switch it to WAL: SQLite then fails one of them at once,
            // since waiting could not help. It steps back and tries again
            // (the statements are pragmas: running them twice is harmless).
            Err(err)
                if err.extended_code().is_some_and(|code| code & 0xff == 5)
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            other => return other,
        }
    }
}

/// Runs `work` on a thread of its own and replies `{tag, reply}` to the
/// caller: opening a database and replication calls can wait on the disk
/// or the network, which no scheduler may do.
fn on_thread<'a, T>(env: Env<'a>, tag: Term<'a>, work: T) -> Term<'a>
where
    T: for<'b> FnOnce(Env<'b>) -> Term<'b> + Send + 'static,
{
    let reply_to = Reply::new(env, tag);
    match std::thread::Builder::new()
        .name("ecto_libsql open".into())
        .spawn(move || reply_to.build(work).send())
    {
        Ok(_) => rustler::types::atom::ok().encode(env),
        Err(e) => reply(
            env,
            Err(Error::Misuse(format!("cannot start a thread: {e}"))),
        ),
    }
}

#[rustler::nif]
fn open_database<'a>(env: Env<'a>, tag: Term<'a>, opts: DatabaseOpts) -> Term<'a> {
    on_thread(env, tag, move |env| {
        let result = guarded(|| {
            let resource = open(&opts)?;
            initialise(&resource, &opts.init_sql)?;
            Ok(ResourceArc::new(resource))
        });
        reply(env, result.map(|r| rustler::Encoder::encode(&r, env)))
    })
}

/// Opens a private copy of the local database `source` (see `sandbox`),
/// with `opts`' settings; its `database` is ignored. The copy has a write
/// gate of its own: nothing else ever opens its file.
#[rustler::nif]
fn open_sandbox_copy<'a>(
    env: Env<'a>,
    tag: Term<'a>,
    source: ResourceArc<DbResource>,
    opts: DatabaseOpts,
) -> Term<'a> {
    on_thread(env, tag, move |env| {
        let result = guarded(|| {
            if source.kind != Kind::Local {
                return Err(Error::Unsupported(
                    "sandbox copies need a local database (a file or :memory:)".into(),
                ));
            }
            let file = sandbox::copy(source.db.libsql("sandbox copies")?, &source.template)?;
            let db = open_local(file.path().to_string_lossy().into_owned(), &opts)?;
            let resource = DbResource {
                owned: Mutex::new(Some(file)),
                ..DbResource::new(db, Kind::Local, Some(WriteGate::new()))
            };
            initialise(&resource, &opts.init_sql)?;
            Ok(ResourceArc::new(resource))
        });
        reply(env, result.map(|r| rustler::Encoder::encode(&r, env)))
    })
}

/// Removes a sandbox copy's file now, rather than when the garbage
/// collector drops the last reference to the copy. Its connections must be
/// closed: on Unix an open file is only unlinked, on other systems the
/// removal may fail and is left to the drop.
#[rustler::nif]
fn discard_sandbox_copy(db: ResourceArc<DbResource>) -> bool {
    match db.owned.lock() {
        Ok(mut owned) => owned.take().is_some(),
        Err(_) => false,
    }
}

fn replica<'r>(db: &'r DbResource, call: &str) -> Result<&'r libsql::Database> {
    match db.kind {
        Kind::Replica => db.db.libsql("replication"),
        kind => Err(Error::Unsupported(format!(
            "{call} needs an embedded replica connection, this one is {}",
            match kind {
                Kind::Local => "local",
                _ => "remote",
            }
        ))),
    }
}

/// How long a replication call may wait on the primary.
const SYNC_LIMIT: Duration = Duration::from_secs(30);

fn sync_reply(replicated: libsql::replication::Replicated) -> (Option<u64>, u64) {
    (replicated.frame_no(), replicated.frames_synced() as u64)
}

#[rustler::nif]
fn db_sync<'a>(env: Env<'a>, tag: Term<'a>, db: ResourceArc<DbResource>) -> Term<'a> {
    on_thread(env, tag, move |env| {
        let result = guarded(|| {
            let d = replica(&db, "sync")?;
            let synced = sync_reply(block_on_for(d.sync(), SYNC_LIMIT, "sync")??);
            db.synced_now();
            Ok(synced)
        });
        reply(env, result.map(|r| r.encode(env)))
    })
}

#[rustler::nif]
fn db_sync_until<'a>(
    env: Env<'a>,
    tag: Term<'a>,
    db: ResourceArc<DbResource>,
    frame: u64,
    timeout_ms: u64,
) -> Term<'a> {
    on_thread(env, tag, move |env| {
        let limit = Duration::from_millis(timeout_ms);
        let result = guarded(|| {
            let d = replica(&db, "sync_until")?;
            let synced = sync_reply(block_on_for(d.sync_until(frame), limit, "sync_until")??);
            db.synced_now();
            Ok(synced)
        });
        reply(env, result.map(|r| r.encode(env)))
    })
}

#[rustler::nif]
fn db_replication_index<'a>(env: Env<'a>, tag: Term<'a>, db: ResourceArc<DbResource>) -> Term<'a> {
    on_thread(env, tag, move |env| {
        let result = guarded(|| {
            let d = replica(&db, "replication_index")?;
            Ok(block_on_for(
                d.replication_index(),
                SYNC_LIMIT,
                "replication_index",
            )??)
        });
        reply(env, result.map(|r| r.encode(env)))
    })
}

#[rustler::nif]
fn db_flush_replicator<'a>(env: Env<'a>, tag: Term<'a>, db: ResourceArc<DbResource>) -> Term<'a> {
    on_thread(env, tag, move |env| {
        let result = guarded(|| {
            let d = replica(&db, "flush_replicator")?;
            Ok(block_on_for(
                d.flush_replicator(),
                SYNC_LIMIT,
                "flush_replicator",
            )??)
        });
        reply(env, result.map(|r| r.encode(env)))
    })
}

#[rustler::nif]
fn db_max_write_replication_index<'a>(env: Env<'a>, db: ResourceArc<DbResource>) -> Term<'a> {
    let result =
        replica(&db, "max_write_replication_index").map(|d| d.max_write_replication_index());
    reply(env, result.map(|r| rustler::Encoder::encode(&r, env)))
}

/// `:local`, `:remote` or `:replica`: `connect/2` applies a database's
/// defaults by its kind.
#[rustler::nif]
fn database_kind(db: ResourceArc<DbResource>) -> rustler::Atom {
    match db.kind {
        Kind::Local => atoms::local(),
        Kind::Remote => atoms::remote(),
        Kind::Replica => atoms::replica(),
    }
}

mod atoms {
    rustler::atoms! { local, remote, replica }
}
