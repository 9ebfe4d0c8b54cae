//! An opened database: a local file or memory database, a remote server, or
//! an embedded replica. Several connections share one (`connect/2`), so a
//! pool sees one `:memory:` database and a replica file is opened once.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rustler::{Env, NifMap, ResourceArc, Term};

use crate::error::{Error, Result};
use crate::nif::runtime::{block_on, Driver};
use crate::nif::term::reply;

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
    pub db: libsql::Database,
    pub kind: Kind,
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
    pub read_only: bool,
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

fn open(opts: &DatabaseOpts) -> Result<DbResource> {
    let required = |value: &Option<String>, name: &str| {
        value.clone().ok_or_else(|| {
            Error::InvalidOption(format!("{} mode needs the {name} option", opts.mode))
        })
    };
    match opts.mode.as_str() {
        "local" => {
            let path = required(&opts.database, "database")?;
            let path = if path == ":memory:" {
                memory_path()
            } else {
                path
            };
            let mut flags =
                libsql::OpenFlags::SQLITE_OPEN_READ_WRITE | libsql::OpenFlags::SQLITE_OPEN_CREATE;
            if opts.read_only {
                flags = libsql::OpenFlags::SQLITE_OPEN_READ_ONLY;
            }
            let mut builder = libsql::Builder::new_local(path).flags(flags);
            if let Some(config) = encryption(&opts.encryption_key) {
                builder = builder.encryption_config(config);
            }
            let db = block_on(Driver::Inline, builder.build())??;
            Ok(DbResource {
                db,
                kind: Kind::Local,
            })
        }
        "remote" => {
            let uri = required(&opts.uri, "uri")?;
            let token = opts.auth_token.clone().unwrap_or_default();
            let db = block_on(
                Driver::Tokio,
                libsql::Builder::new_remote(uri, token).build(),
            )??;
            Ok(DbResource {
                db,
                kind: Kind::Remote,
            })
        }
        "replica" => {
            let path = required(&opts.database, "database")?;
            let uri = required(&opts.uri, "uri")?;
            let token = opts.auth_token.clone().unwrap_or_default();
            let mut builder = libsql::Builder::new_remote_replica(path, uri, token)
                .read_your_writes(opts.read_your_writes);
            if let Some(ms) = opts.sync_interval {
                builder = builder.sync_interval(Duration::from_millis(ms));
            }
            if let Some(config) = encryption(&opts.encryption_key) {
                builder = builder.encryption_config(config);
            }
            let db = block_on(Driver::Tokio, async move {
                let db = builder.build().await?;
                // Synced once on open, so the first read sees the primary.
                db.sync().await?;
                Ok::<_, libsql::Error>(db)
            })??;
            Ok(DbResource {
                db,
                kind: Kind::Replica,
            })
        }
        other => Err(Error::InvalidOption(format!(
            "unknown mode {other:?}: expected local, remote or replica"
        ))),
    }
}

fn initialise(resource: &DbResource, init_sql: &[String]) -> Result<()> {
    if init_sql.is_empty() {
        return Ok(());
    }
    let conn = resource.db.connect()?;
    block_on(resource.kind.driver(), async {
        // The pragma may return a row (journal_mode does): read and drop it.
        for sql in init_sql {
            let mut rows = conn.query(sql, ()).await?;
            while rows.next().await?.is_some() {}
        }
        Ok::<_, libsql::Error>(())
    })??;
    Ok(())
}

#[rustler::nif(schedule = "DirtyIo")]
fn open_database<'a>(env: Env<'a>, opts: DatabaseOpts) -> Term<'a> {
    let result = open(&opts).and_then(|resource| {
        initialise(&resource, &opts.init_sql)?;
        Ok(ResourceArc::new(resource))
    });
    reply(env, result.map(|r| rustler::Encoder::encode(&r, env)))
}

fn replica<'r>(db: &'r DbResource, call: &str) -> Result<&'r libsql::Database> {
    match db.kind {
        Kind::Replica => Ok(&db.db),
        kind => Err(Error::Unsupported(format!(
            "{call} needs an embedded replica connection, this one is {}",
            match kind {
                Kind::Local => "local",
                _ => "remote",
            }
        ))),
    }
}

fn frame_term(frame: Option<u64>) -> Option<u64> {
    frame
}

#[rustler::nif(schedule = "DirtyIo")]
fn db_sync<'a>(env: Env<'a>, db: ResourceArc<DbResource>) -> Term<'a> {
    let result = replica(&db, "sync").and_then(|d| {
        let replicated = block_on(Driver::Tokio, d.sync())??;
        Ok((
            frame_term(replicated.frame_no()),
            replicated.frames_synced() as u64,
        ))
    });
    reply(env, result.map(|r| rustler::Encoder::encode(&r, env)))
}

#[rustler::nif(schedule = "DirtyIo")]
fn db_sync_until<'a>(env: Env<'a>, db: ResourceArc<DbResource>, frame: u64) -> Term<'a> {
    let result = replica(&db, "sync_until").and_then(|d| {
        let replicated = block_on(Driver::Tokio, d.sync_until(frame))??;
        Ok((
            frame_term(replicated.frame_no()),
            replicated.frames_synced() as u64,
        ))
    });
    reply(env, result.map(|r| rustler::Encoder::encode(&r, env)))
}

#[rustler::nif(schedule = "DirtyIo")]
fn db_replication_index<'a>(env: Env<'a>, db: ResourceArc<DbResource>) -> Term<'a> {
    let result = replica(&db, "replication_index")
        .and_then(|d| Ok(block_on(Driver::Tokio, d.replication_index())??));
    reply(env, result.map(|r| rustler::Encoder::encode(&r, env)))
}

#[rustler::nif(schedule = "DirtyIo")]
fn db_flush_replicator<'a>(env: Env<'a>, db: ResourceArc<DbResource>) -> Term<'a> {
    let result = replica(&db, "flush_replicator")
        .and_then(|d| Ok(block_on(Driver::Tokio, d.flush_replicator())??));
    reply(env, result.map(|r| rustler::Encoder::encode(&r, env)))
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
