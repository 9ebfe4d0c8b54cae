//! CPU slots. A connection thread stepping a local statement is CPU work
//! the VM's schedulers compete with for the same cores: twenty long queries
//! on twenty threads would leave the schedulers a tenth of a 2-core
//! machine. So at most as many local statements step at a time as there
//! are cores; the others wait here (on their own threads, cancellably),
//! and the schedulers always keep a fair share. Remote statements wait on
//! the network, not the CPU, and take no slot.

use std::sync::{Condvar, Mutex, PoisonError};
use std::time::Duration;

use once_cell::sync::Lazy;

pub struct Slots {
    free: Mutex<Count>,
    freed: Condvar,
}

/// Free slots, and threads waiting for one: a freed slot wakes a waiter
/// only when there is one (a wake-up is a system call, and a point read
/// is a few microseconds).
#[derive(Default)]
struct Count {
    free: usize,
    waiting: usize,
}

/// A slot held; dropping it frees it.
pub struct Slot<'s> {
    slots: &'s Slots,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut count = self
            .slots
            .free
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        count.free += 1;
        if count.waiting > 0 {
            self.slots.freed.notify_one();
        }
    }
}

/// How often a waiter re-reads its cancellation check.
const RECHECK: Duration = Duration::from_millis(10);

impl Slots {
    pub fn new(count: usize) -> Slots {
        Slots {
            free: Mutex::new(Count {
                free: count.max(1),
                waiting: 0,
            }),
            freed: Condvar::new(),
        }
    }

    /// Waits for a free slot, or returns `None` once `cancelled()` is true.
    pub fn acquire(&self, cancelled: impl Fn() -> bool) -> Option<Slot<'_>> {
        let mut count = self.free.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if count.free > 0 {
                count.free -= 1;
                return Some(Slot { slots: self });
            }
            if cancelled() {
                return None;
            }
            count.waiting += 1;
            count = self
                .freed
                .wait_timeout(count, RECHECK)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            count.waiting -= 1;
        }
    }
}

/// The VM's slots: one per core.
pub static CPU: Lazy<Slots> =
    Lazy::new(|| Slots::new(std::thread::available_parallelism().map_or(2, |n| n.get())));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_counted_and_a_cancelled_waiter_gives_up() {
        let slots = Slots::new(2);
        let a = slots.acquire(|| false).expect("free");
        let b = slots.acquire(|| false).expect("free");
        assert!(slots.acquire(|| true).is_none());
        drop(a);
        let c = slots.acquire(|| true).expect("one was freed");
        drop((b, c));
        let count = slots.free.lock().expect("lock");
        assert_eq!((count.free, count.waiting), (2, 0));
    }
}
