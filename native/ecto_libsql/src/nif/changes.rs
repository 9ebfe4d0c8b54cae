//! Change capture: processes subscribed to a local database's tables get a
//! message per row inserted, updated or deleted, once the write commits.
//!
//! SQLite's update hook fires while a statement runs, before anyone knows
//! whether its transaction will commit, and libsql exposes no commit or
//! rollback hook. So the changes are recorded by TEMP triggers into a TEMP
//! table of each connection: those rows belong to the writing transaction
//! and vanish with it when it (or a failing statement) rolls back. Once the
//! connection is back in autocommit mode after a job, what the table holds
//! was committed: the worker reads it, empties it and sends it, before it
//! lets the write gate go, so messages follow commit order.

use std::collections::{BTreeSet, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rustler::{Encoder, Env, LocalPid, ResourceArc, Term};

use crate::error::{Error, Result};
use crate::nif::database::{DbResource, Kind};
use crate::nif::term::reply;
use crate::runtime::{block_on, Driver};

/// The TEMP table each watching connection records its changes in.
pub const TABLE: &str = "ecto_libsql_changes";

struct Subscriber {
    id: u64,
    pid: LocalPid,
    tables: HashSet<String>,
}

/// The subscribers of one database, shared by its connections.
#[derive(Default)]
pub struct Hub {
    subscribers: Mutex<Vec<Subscriber>>,
    /// Bumped by every (un)subscription: a connection compares it with the
    /// one its triggers were made for.
    generation: AtomicU64,
    next_id: AtomicU64,
}

/// One committed row change.
pub struct Change {
    table: String,
    op: String,
    rowid: Option<i64>,
}

impl Hub {
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Every table some subscriber watches.
    pub fn tables(&self) -> BTreeSet<String> {
        match self.subscribers.lock() {
            Ok(subs) => subs.iter().flat_map(|s| s.tables.iter().cloned()).collect(),
            Err(_) => BTreeSet::new(),
        }
    }

    fn subscribe(&self, pid: LocalPid, tables: HashSet<String>) -> Result<u64> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let mut subs = self.subscribers.lock().map_err(|_| {
            Error::misuse("the subscription list was poisoned by an earlier failure")
        })?;
        subs.push(Subscriber { id, pid, tables });
        self.generation.fetch_add(1, Ordering::AcqRel);
        Ok(id)
    }

    fn unsubscribe(&self, id: u64) -> bool {
        let Ok(mut subs) = self.subscribers.lock() else {
            return false;
        };
        let before = subs.len();
        subs.retain(|s| s.id != id);
        let removed = subs.len() != before;
        if removed {
            self.generation.fetch_add(1, Ordering::AcqRel);
        }
        removed
    }

    /// Sends each change to the subscribers of its table, in order:
    /// `{:ecto_libsql_change, id, {table, op, rowid}}`. A subscriber that is
    /// gone is dropped.
    pub fn deliver(&self, changes: &[Change]) {
        let Ok(mut subs) = self.subscribers.lock() else {
            return;
        };
        let mut gone = Vec::new();
        let mut env = rustler::OwnedEnv::new();
        for sub in subs.iter() {
            for change in changes.iter().filter(|c| sub.tables.contains(&c.table)) {
                let sent = env.send_and_clear(&sub.pid, |env| {
                    let op = rustler::Atom::from_str(env, &change.op)
                        .map(|a| a.encode(env))
                        .unwrap_or_else(|_| change.op.as_str().encode(env));
                    let payload = (change.table.as_str(), op, change.rowid).encode(env);
                    (atoms::ecto_libsql_change(), sub.id, payload).encode(env)
                });
                if sent.is_err() {
                    gone.push(sub.id);
                    break;
                }
            }
        }
        if !gone.is_empty() {
            subs.retain(|s| !gone.contains(&s.id));
            self.generation.fetch_add(1, Ordering::AcqRel);
        }
    }
}

/// What one connection has set up for change capture.
#[derive(Default)]
pub struct Watch {
    /// The hub generation the triggers below were made for.
    generation: u64,
    tables: BTreeSet<String>,
    /// Set by the update hook when a trigger recorded a change; the hook
    /// is installed with the first triggers (libsql keeps a hook's closure
    /// for the connection's life: connections that never watch get none).
    recorded: Option<Arc<AtomicBool>>,
}

impl Watch {
    fn hook(&mut self, conn: &libsql::Connection) -> Result<()> {
        if self.recorded.is_none() {
            let recorded = Arc::new(AtomicBool::new(false));
            let flag = recorded.clone();
            conn.add_update_hook(Box::new(move |op, db, table, _rowid| {
                if matches!(op, libsql::Op::Insert) && db == "temp" && table == TABLE {
                    flag.store(true, Ordering::Release);
                }
            }))?;
            self.recorded = Some(recorded);
        }
        Ok(())
    }

    /// Brings the connection's triggers in line with the hub's tables. Only
    /// outside a transaction: a rollback would undo the triggers too.
    pub fn refresh(&mut self, conn: &libsql::Connection, hub: &Hub) {
        let generation = hub.generation();
        if generation == self.generation || !conn.is_autocommit() {
            return;
        }
        let wanted = hub.tables();
        if !wanted.is_empty() && self.hook(conn).is_err() {
            return;
        }
        if !wanted.is_empty() {
            // The table the triggers write to, before the triggers.
            let create = format!(
                "CREATE TEMP TABLE IF NOT EXISTS {TABLE} (seq INTEGER PRIMARY KEY, tbl TEXT NOT NULL, op TEXT NOT NULL, row INTEGER)"
            );
            if run_all(conn, &[create]).is_err() {
                return;
            }
        }
        let drops: Vec<String> = self
            .tables
            .difference(&wanted)
            .flat_map(|table| {
                ["insert", "update", "delete"]
                    .map(|op| format!("DROP TRIGGER IF EXISTS temp.{}", trigger_name(table, op)))
            })
            .collect();
        let _ = run_all(conn, &drops);
        let mut installed: BTreeSet<String> = self.tables.intersection(&wanted).cloned().collect();
        for table in wanted.difference(&self.tables) {
            let statements: Vec<String> = ["insert", "update", "delete"]
                .iter()
                .map(|op| trigger_sql(table, op))
                .collect();
            // A table this connection cannot watch (gone since) is skipped;
            // the others still are watched.
            if run_all(conn, &statements).is_ok() {
                installed.insert(table.clone());
            }
        }
        self.tables = installed;
        self.generation = generation;
    }

    /// Sends what committed transactions recorded, and forgets it. Called
    /// in autocommit mode only: what the TEMP table holds then committed.
    pub fn deliver(&self, conn: &libsql::Connection, hub: &Hub) {
        let recorded = self
            .recorded
            .as_ref()
            .is_some_and(|r| r.swap(false, Ordering::AcqRel));
        if !recorded || !conn.is_autocommit() {
            if recorded {
                // Still inside the transaction: look again after its end.
                if let Some(r) = &self.recorded {
                    r.store(true, Ordering::Release);
                }
            }
            return;
        }
        let read = block_on(Driver::Inline, async {
            let mut rows = conn
                .query(
                    &format!("SELECT tbl, op, row FROM temp.{TABLE} ORDER BY seq"),
                    (),
                )
                .await?;
            let mut changes = Vec::new();
            while let Some(row) = rows.next().await? {
                changes.push(Change {
                    table: row.get::<String>(0)?,
                    op: row.get::<String>(1)?,
                    rowid: row.get::<Option<i64>>(2)?,
                });
            }
            drop(rows);
            conn.execute(&format!("DELETE FROM temp.{TABLE}"), ())
                .await?;
            Ok::<_, libsql::Error>(changes)
        });
        if let Ok(Ok(changes)) = read {
            hub.deliver(&changes);
        }
    }
}

fn run_all(conn: &libsql::Connection, statements: &[String]) -> Result<()> {
    block_on(Driver::Inline, async {
        for sql in statements {
            conn.execute(sql, ()).await?;
        }
        Ok::<_, libsql::Error>(())
    })??;
    Ok(())
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn quote_text(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn trigger_name(table: &str, op: &str) -> String {
    quote_ident(&format!("ecto_libsql_{op}_{table}"))
}

/// A trigger body may not name a table's schema; unqualified, the TEMP
/// table is found first.
fn trigger_sql(table: &str, op: &str) -> String {
    let row = if op == "delete" { "OLD" } else { "NEW" };
    format!(
        "CREATE TEMP TRIGGER IF NOT EXISTS {} AFTER {} ON main.{} BEGIN \
         INSERT INTO {TABLE} (tbl, op, row) VALUES ({}, '{op}', {row}.rowid); END",
        trigger_name(table, op),
        op.to_uppercase(),
        quote_ident(table),
        quote_text(table)
    )
}

fn local(db: &DbResource) -> Result<()> {
    match db.kind {
        Kind::Local => Ok(()),
        _ => Err(Error::Unsupported(
            "change capture needs a local database: a remote server's or a replica's writes happen on the primary, \
             where no trigger of this node runs"
                .into(),
        )),
    }
}

/// Subscribes `pid` to changes of `tables`: `{:ok, id}`.
#[rustler::nif]
fn changes_subscribe<'a>(
    env: Env<'a>,
    db: ResourceArc<DbResource>,
    pid: LocalPid,
    tables: Vec<String>,
) -> Term<'a> {
    let result = local(&db)
        .and_then(|()| db.db.libsql("change subscriptions").map(drop))
        .and_then(|()| db.changes.subscribe(pid, tables.into_iter().collect()));
    reply(env, result.map(|id| id.encode(env)))
}

/// Ends subscription `id`: `true` when it existed.
#[rustler::nif]
fn changes_unsubscribe(db: ResourceArc<DbResource>, id: u64) -> bool {
    db.changes.unsubscribe(id)
}

mod atoms {
    rustler::atoms! { ecto_libsql_change }
}
