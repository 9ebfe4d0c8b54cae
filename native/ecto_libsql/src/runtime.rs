//! Where libSQL's futures are driven: always on the crate's own threads
//! (connection workers, or a thread started for an open or a sync), never
//! on a BEAM scheduler. The local backend never awaits real I/O, so its
//! futures complete on the first poll and a light executor is enough;
//! remote and replica connections need tokio's reactor. Calls are never
//! nested.
//!
//! A remote call can wait on the network for long: while a worker runs a
//! job it registers the job's cancellation check here, and a remote future
//! is dropped as soon as the job is interrupted or abandoned.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::time::Duration;

use once_cell::sync::Lazy;

use crate::error::{Error, Result};

static TOKIO: Lazy<Option<tokio::runtime::Runtime>> = Lazy::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("ecto_libsql io")
        .enable_all()
        .build()
        .ok()
});

/// Whether a database's futures need tokio.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Driver {
    /// Local file or memory: futures complete without a reactor.
    Inline,
    /// Remote or replica: futures do real network I/O.
    Tokio,
}

type CancelCheck = Box<dyn Fn() -> bool>;

thread_local! {
    static CANCELLED: RefCell<Option<CancelCheck>> = const { RefCell::new(None) };
    static DROPPED: Cell<bool> = const { Cell::new(false) };
}

/// Registers the running job's cancellation check on this thread until
/// the returned guard is dropped.
pub fn while_running(check: impl Fn() -> bool + 'static) -> impl Drop {
    CANCELLED.with(|c| *c.borrow_mut() = Some(Box::new(check)));
    struct Clear;
    impl Drop for Clear {
        fn drop(&mut self) {
            CANCELLED.with(|c| *c.borrow_mut() = None);
        }
    }
    Clear
}

fn cancelled() -> bool {
    CANCELLED.with(|c| c.borrow().as_ref().is_some_and(|check| check()))
}

/// Whether a remote future was dropped unfinished since the last call
/// (the connection's server-side state is then unknown).
pub fn take_dropped() -> bool {
    DROPPED.with(|d| d.replace(false))
}

/// How often a remote wait looks at its job's cancellation check.
const RECHECK: Duration = Duration::from_millis(20);

/// Runs `fut` to completion on the calling thread.
pub fn block_on<F: Future>(driver: Driver, fut: F) -> Result<F::Output> {
    match driver {
        Driver::Inline => Ok(futures::executor::block_on(fut)),
        Driver::Tokio => {
            let rt = TOKIO.as_ref().ok_or_else(|| {
                Error::Remote("could not start the runtime for remote connections".into())
            })?;
            rt.block_on(async {
                tokio::pin!(fut);
                loop {
                    tokio::select! {
                        out = &mut fut => return Ok(out),
                        _ = tokio::time::sleep(RECHECK) => {
                            if cancelled() {
                                DROPPED.with(|d| d.set(true));
                                return Err(Error::Sqlite {
                                    extended_code: Some(9),
                                    message: "interrupted".into(),
                                });
                            }
                        }
                    }
                }
            })
        }
    }
}

/// Runs `fut` on the I/O runtime, giving up after `limit`.
pub fn block_on_for<F: Future>(fut: F, limit: Duration, what: &str) -> Result<F::Output> {
    let rt = TOKIO.as_ref().ok_or_else(|| {
        Error::Remote("could not start the runtime for remote connections".into())
    })?;
    rt.block_on(async { tokio::time::timeout(limit, fut).await })
        .map_err(|_| {
            Error::Timeout(format!(
                "{what} did not finish within {} ms",
                limit.as_millis()
            ))
        })
}
