//! Where libSQL's futures are driven. The local backend never awaits real
//! I/O, so its futures complete on the first poll and a light executor is
//! enough; remote and replica connections need tokio's reactor. Each NIF
//! drives one future to completion: calls are never nested.

use once_cell::sync::Lazy;
use std::future::Future;

static TOKIO: Lazy<Option<tokio::runtime::Runtime>> = Lazy::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("ecto_libsql")
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

/// Runs `fut` to completion on the calling (dirty scheduler) thread.
pub fn block_on<F: Future>(driver: Driver, fut: F) -> crate::error::Result<F::Output> {
    match driver {
        Driver::Inline => Ok(futures::executor::block_on(fut)),
        Driver::Tokio => match TOKIO.as_ref() {
            Some(rt) => Ok(rt.block_on(fut)),
            None => Err(crate::error::Error::Remote(
                "could not start the runtime for remote connections".into(),
            )),
        },
    }
}
