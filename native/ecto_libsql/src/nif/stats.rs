//! Statistics of a database across all its connections, for one call that
//! answers for a whole pool (`EctoLibSql.Maintenance.stats/2`).
//!
//! Each connection's worker publishes its own figures into atomics after
//! every job (no lock on the hot path); the database keeps weak references
//! to them and sums the live ones when asked.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};

use rustler::{Encoder, Env, NifMap, ResourceArc, Term};

use crate::cache::Stats;
use crate::nif::database::DbResource;

/// One connection's published figures.
#[derive(Default)]
pub struct Counters {
    cache_size: AtomicUsize,
    cache_capacity: AtomicUsize,
    cache_hits: AtomicU64,
    cache_misses: AtomicU64,
    cache_evictions: AtomicU64,
    statements: AtomicUsize,
    cursors: AtomicUsize,
    in_transaction: AtomicBool,
}

impl Counters {
    pub fn publish(&self, cache: Stats, statements: usize, cursors: usize, in_transaction: bool) {
        self.cache_size.store(cache.size, Ordering::Relaxed);
        self.cache_capacity.store(cache.capacity, Ordering::Relaxed);
        self.cache_hits.store(cache.hits, Ordering::Relaxed);
        self.cache_misses.store(cache.misses, Ordering::Relaxed);
        self.cache_evictions
            .store(cache.evictions, Ordering::Relaxed);
        self.statements.store(statements, Ordering::Relaxed);
        self.cursors.store(cursors, Ordering::Relaxed);
        self.in_transaction.store(in_transaction, Ordering::Relaxed);
    }
}

/// The connections of one database.
#[derive(Default)]
pub struct Registry {
    connections: Mutex<Vec<Weak<Counters>>>,
}

impl Registry {
    /// A new connection's counters, counted until it is dropped.
    pub fn register(&self) -> Arc<Counters> {
        let counters = Arc::new(Counters::default());
        if let Ok(mut connections) = self.connections.lock() {
            connections.retain(|c| c.strong_count() > 0);
            connections.push(Arc::downgrade(&counters));
        }
        counters
    }
}

#[derive(NifMap, Default)]
struct Totals {
    connections: usize,
    in_transaction: usize,
    cache_size: usize,
    cache_capacity: usize,
    cache_hits: u64,
    cache_misses: u64,
    cache_evictions: u64,
    statements: usize,
    cursors: usize,
    write_gate_waiting: usize,
    write_gate_waits: u64,
    /// Milliseconds since the Unix epoch of the last successful sync of a
    /// replica (0 before any, and for other kinds).
    last_sync_ms: u64,
}

/// The sums over the database's open connections, and its write gate's
/// queue.
#[rustler::nif]
fn database_stats(env: Env, db: ResourceArc<DbResource>) -> Term {
    let mut totals = Totals::default();
    if let Ok(connections) = db.stats.connections.lock() {
        for c in connections.iter().filter_map(Weak::upgrade) {
            totals.connections += 1;
            totals.in_transaction += usize::from(c.in_transaction.load(Ordering::Relaxed));
            totals.cache_size += c.cache_size.load(Ordering::Relaxed);
            totals.cache_capacity += c.cache_capacity.load(Ordering::Relaxed);
            totals.cache_hits += c.cache_hits.load(Ordering::Relaxed);
            totals.cache_misses += c.cache_misses.load(Ordering::Relaxed);
            totals.cache_evictions += c.cache_evictions.load(Ordering::Relaxed);
            totals.statements += c.statements.load(Ordering::Relaxed);
            totals.cursors += c.cursors.load(Ordering::Relaxed);
        }
    }
    totals.last_sync_ms = db.last_sync_ms.load(Ordering::Relaxed);
    if let Some(gate) = &db.gate {
        (totals.write_gate_waiting, totals.write_gate_waits) = gate.stats();
    }
    totals.encode(env)
}
