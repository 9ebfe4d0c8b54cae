//! Bounds the time a statement may run on a normal scheduler. A call on the
//! fast path registers its connection here; a background thread interrupts
//! any registration older than its budget, and the caller then reruns the
//! statement on a dirty scheduler. The thread parks when nothing has been
//! registered for a while, so an idle VM pays nothing.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use once_cell::sync::{Lazy, OnceCell};

/// How long a statement may run on a normal scheduler. The BEAM asks NIFs
/// to return within about a millisecond; the poll interval below comes on
/// top of this.
pub const BUDGET: Duration = Duration::from_micros(500);
const POLL: Duration = Duration::from_micros(200);
const IDLE_BEFORE_PARKING: Duration = Duration::from_millis(100);

struct Watch {
    deadline: Instant,
    conn: libsql::Connection,
    fired: bool,
}

static WATCHES: Lazy<Mutex<HashMap<u64, Watch>>> = Lazy::new(|| Mutex::new(HashMap::new()));
static NEXT_ID: AtomicU64 = AtomicU64::new(0);
static PARKED: AtomicBool = AtomicBool::new(true);
static THREAD: OnceCell<Option<Thread>> = OnceCell::new();

/// A registration; `finish` ends it and tells whether the watchdog
/// interrupted the statement.
pub struct Registration {
    id: u64,
}

/// Starts watching `conn` for `BUDGET`. `None` if the watchdog thread could
/// not be started (the caller then takes the dirty path).
pub fn watch(conn: &libsql::Connection) -> Option<Registration> {
    let thread = THREAD.get_or_init(spawn).as_ref()?;
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let watch = Watch {
        deadline: Instant::now() + BUDGET,
        conn: conn.clone(),
        fired: false,
    };
    WATCHES
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(id, watch);
    if PARKED.swap(false, Ordering::AcqRel) {
        thread.unpark();
    }
    Some(Registration { id })
}

impl Registration {
    /// Ends the watch. Interrupts happen under the same lock, so none can
    /// reach the connection after this returns.
    pub fn finish(self) -> bool {
        WATCHES
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.id)
            .is_some_and(|w| w.fired)
    }
}

fn spawn() -> Option<Thread> {
    thread::Builder::new()
        .name("ecto_libsql_watchdog".into())
        .spawn(run)
        .ok()
        .map(|handle| handle.thread().clone())
}

fn run() {
    let mut last_active = Instant::now();
    loop {
        let now = Instant::now();
        let idle = {
            let mut watches = WATCHES.lock().unwrap_or_else(PoisonError::into_inner);
            for watch in watches.values_mut() {
                if !watch.fired && now >= watch.deadline {
                    watch.fired = true;
                    let _ = watch.conn.interrupt();
                }
            }
            watches.is_empty()
        };
        if !idle {
            last_active = now;
        }
        if idle && now.duration_since(last_active) > IDLE_BEFORE_PARKING {
            PARKED.store(true, Ordering::Release);
            // A registration that swapped PARKED before the store above did
            // not unpark us: its watch is already in the map, so look again.
            if WATCHES
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .is_empty()
            {
                thread::park();
            } else {
                PARKED.store(false, Ordering::Release);
            }
            last_active = Instant::now();
        } else {
            thread::sleep(POLL);
        }
    }
}
