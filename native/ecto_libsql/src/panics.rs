//! Catching the panics we expect without printing them. libsql 0.10 panics
//! on some inputs it should refuse (non-UTF-8 TEXT); the NIF turns such a
//! panic into an error, and the default hook would still write a message
//! and a backtrace into every user's log. The hook installed here stays
//! silent only on a thread inside `catch_quietly`, and hands every other
//! panic to the hook that was there before, so nothing else in the VM
//! loses its panic messages.

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Once;

thread_local! {
    static QUIET: Cell<bool> = const { Cell::new(false) };
}

static INSTALL: Once = Once::new();

fn install() {
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET.with(Cell::get) {
                previous(info);
            }
        }));
    });
}

/// Restores the thread's previous quiet state, even when `f` unwinds.
struct QuietGuard(bool);

impl Drop for QuietGuard {
    fn drop(&mut self) {
        QUIET.with(|q| q.set(self.0));
    }
}

/// Runs `f`, returning `Err` instead of unwinding if it panics, and without
/// printing the panic.
pub fn catch_quietly<T>(f: impl FnOnce() -> T) -> std::thread::Result<T> {
    install();
    let _guard = QuietGuard(QUIET.with(|q| q.replace(true)));
    catch_unwind(AssertUnwindSafe(f))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caught_panic_is_an_error_and_the_flag_is_restored() {
        let result: std::thread::Result<()> = catch_quietly(|| panic!("expected"));
        assert!(result.is_err());
        assert!(!QUIET.with(Cell::get));
        assert_eq!(catch_quietly(|| 7).ok(), Some(7));
    }
}
