//! The write gate: one per database file, shared by every connection of
//! the VM that opened that file. A connection acquires it before a
//! transaction that may write (IMMEDIATE, EXCLUSIVE) or an autocommit
//! write statement, and holds it until the transaction or statement ends.
//! Writers of one VM therefore queue here, first come first served, on the
//! connections' own worker threads; SQLite's busy handler is left to
//! writers in other OS processes.
//!
//! A waiter gives up when its `cancelled` check says so: the caller timed
//! out or interrupted. `wake_all` makes waiters look at that check at once.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use once_cell::sync::Lazy;

#[derive(Default)]
struct State {
    held: bool,
    queue: VecDeque<u64>,
    next_ticket: u64,
    /// Times a writer had to wait, for statistics.
    waits: u64,
}

#[derive(Default)]
pub struct WriteGate {
    state: Mutex<State>,
    changed: Condvar,
}

/// Holding the gate; dropping it lets the next writer in.
pub struct GateGuard {
    gate: Arc<WriteGate>,
}

impl Drop for GateGuard {
    fn drop(&mut self) {
        self.gate.lock().held = false;
        self.gate.changed.notify_all();
    }
}

/// Why `acquire` returned without the gate.
#[derive(Debug, PartialEq, Eq)]
pub struct Cancelled;

/// How often a waiter re-reads its `cancelled` check even when nobody
/// wakes it (a cancellation is normally announced by `wake_all`).
const RECHECK: Duration = Duration::from_millis(50);

impl WriteGate {
    pub fn new() -> Arc<WriteGate> {
        Arc::new(WriteGate::default())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits for the gate in arrival order, or until `cancelled()` is true.
    pub fn acquire(self: &Arc<Self>, cancelled: impl Fn() -> bool) -> Result<GateGuard, Cancelled> {
        let mut state = self.lock();
        let ticket = state.next_ticket;
        state.next_ticket += 1;
        state.queue.push_back(ticket);
        let mut waited = false;
        loop {
            if !state.held && state.queue.front() == Some(&ticket) {
                state.queue.pop_front();
                state.held = true;
                if waited {
                    state.waits += 1;
                }
                drop(state);
                // The next in line may be cancelled: let it look.
                self.changed.notify_all();
                return Ok(GateGuard { gate: self.clone() });
            }
            if cancelled() {
                state.queue.retain(|t| *t != ticket);
                drop(state);
                self.changed.notify_all();
                return Err(Cancelled);
            }
            waited = true;
            state = self
                .changed
                .wait_timeout(state, RECHECK)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Makes every waiter re-read its `cancelled` check now.
    pub fn wake_all(&self) {
        let _state = self.lock();
        self.changed.notify_all();
    }

    /// Writers waiting now, and how many writers ever had to wait.
    pub fn stats(&self) -> (usize, u64) {
        let state = self.lock();
        (state.queue.len(), state.waits)
    }
}

/// Gates of the files open in this VM, by canonical path: every pool (and
/// every `Native.open/1`) that opens the same file shares its gate.
static GATES: Lazy<Mutex<HashMap<String, Weak<WriteGate>>>> =
    Lazy::new(|| Mutex::new(HashMap::new()));

/// The gate for the file at `path` (already canonical where it exists).
pub fn for_file(path: &str) -> Arc<WriteGate> {
    let mut gates = GATES.lock().unwrap_or_else(PoisonError::into_inner);
    gates.retain(|_, gate| gate.strong_count() > 0);
    if let Some(gate) = gates.get(path).and_then(Weak::upgrade) {
        return gate;
    }
    let gate = WriteGate::new();
    gates.insert(path.to_string(), Arc::downgrade(&gate));
    gate
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::mpsc;
    use std::thread;

    #[test]
    fn one_holder_at_a_time_in_arrival_order() {
        let gate = WriteGate::new();
        let first = gate.acquire(|| false).expect("free gate");
        let (tx, rx) = mpsc::channel();
        let mut waiters = Vec::new();
        for i in 0..4 {
            let shared = gate.clone();
            let tx = tx.clone();
            waiters.push(thread::spawn(move || {
                let _guard = shared.acquire(|| false).expect("no cancel");
                tx.send(i).expect("receiver alive");
            }));
            // Each waiter is queued before the next one starts.
            while gate.stats().0 < i + 1 {
                thread::yield_now();
            }
        }
        drop(first);
        for w in waiters {
            w.join().expect("waiter");
        }
        let order: Vec<usize> = rx.try_iter().collect();
        assert_eq!(order, vec![0, 1, 2, 3]);
        assert_eq!(gate.stats(), (0, 4));
    }

    #[test]
    fn a_cancelled_waiter_leaves_the_queue() {
        let gate = WriteGate::new();
        let held = gate.acquire(|| false).expect("free gate");
        let cancel = Arc::new(AtomicBool::new(false));
        let waiter = {
            let shared = gate.clone();
            let cancel = cancel.clone();
            thread::spawn(move || shared.acquire(|| cancel.load(Ordering::SeqCst)).map(drop))
        };
        while gate.stats().0 < 1 {
            thread::yield_now();
        }
        cancel.store(true, Ordering::SeqCst);
        gate.wake_all();
        assert_eq!(waiter.join().expect("waiter"), Err(Cancelled));
        assert_eq!(gate.stats().0, 0);
        drop(held);
        assert!(gate.acquire(|| false).is_ok());
    }

    #[test]
    fn files_share_a_gate_while_it_is_in_use() {
        let a = for_file("/tmp/ecto_libsql_gate_test.db");
        let b = for_file("/tmp/ecto_libsql_gate_test.db");
        assert!(Arc::ptr_eq(&a, &b));
        let c = for_file("/tmp/ecto_libsql_gate_other.db");
        assert!(!Arc::ptr_eq(&a, &c));
    }
}
