//! Each connection's worker: a thread of the crate's own that owns the
//! libSQL connection and runs its jobs one after another. A NIF call only
//! hands a job over and returns the job's number; the worker sends the
//! reply to the caller as `{tag, reply}`, where `tag` is the caller's
//! reference. No scheduler, normal or dirty, waits on SQLite, on a lock or
//! on the network: the caller waits in `receive`, with its timeout.
//!
//! One shortcut (see `crate::handback`): a submitting NIF may watch for its job's
//! reply for a few microseconds before it returns. A point read finishes
//! well within that, and its reply is then returned by the NIF itself,
//! which saves waking the caller's process through its mailbox. The NIF
//! only watches (SQLite still runs on the worker), and never for longer
//! than a few tens of microseconds.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex, PoisonError};

use rustler::env::{OwnedEnv, SavedTerm};
use rustler::{Encoder, Env, LocalPid, Term};

use crate::control::{Control, Interruptible, Running};
use crate::error::{Error, Result};
use crate::handback::Handback;
use crate::nif::connection::ConnInner;
use crate::nif::term::{atoms, reply};

/// What a running job may ask of its worker.
pub struct Ctx<'c> {
    pub seq: u64,
    pub control: &'c Control,
}

impl Ctx<'_> {
    /// Publishes `what` as what this job runs, so that an interrupt or a
    /// timeout can stop it; fails with `:interrupted` when the job was
    /// stopped before it got here.
    pub fn enter(&self, what: Interruptible) -> Result<Running<'_>> {
        self.control
            .enter(self.seq, what)
            .ok_or_else(|| self.stopped())
    }

    /// `enter` for a statement of a local database: it first waits for a
    /// CPU slot (see `slots`), which it holds until the returned guard is
    /// dropped. Remote statements (`Driver::Tokio`) take no slot.
    pub fn enter_for(
        &self,
        driver: crate::runtime::Driver,
        what: Interruptible,
    ) -> Result<(Running<'_>, Option<crate::slots::Slot<'static>>)> {
        let slot = match driver {
            crate::runtime::Driver::Inline => Some(
                crate::slots::CPU
                    .acquire(|| self.is_cancelled())
                    .ok_or_else(|| self.stopped())?,
            ),
            crate::runtime::Driver::Tokio => None,
        };
        Ok((self.enter(what)?, slot))
    }

    pub fn is_cancelled(&self) -> bool {
        self.control.is_cancelled(self.seq)
    }

    /// The error for a job that was stopped.
    pub fn stopped(&self) -> Error {
        if self.control.is_closing() {
            Error::Closed("the connection was closed")
        } else {
            Error::Sqlite {
                extended_code: Some(9),
                message: "interrupted".into(),
            }
        }
    }
}

/// The caller's address and tag, ready for the reply.
pub struct Reply {
    env: OwnedEnv,
    to: LocalPid,
    tag: SavedTerm,
}

/// A built reply, sent by the worker unless the caller abandoned it.
pub struct Outgoing {
    env: OwnedEnv,
    to: LocalPid,
    message: SavedTerm,
}

impl Reply {
    pub fn new(env: Env, tag: Term) -> Reply {
        let owned = OwnedEnv::new();
        let tag = owned.save(tag);
        Reply {
            env: owned,
            to: env.pid(),
            tag,
        }
    }

    /// Builds `{tag, reply}` in the reply's own environment: rows are
    /// encoded straight into the message, with no copy after.
    pub fn build(self, f: impl for<'a> FnOnce(Env<'a>) -> Term<'a>) -> Outgoing {
        let message = self.env.run(|env| {
            let term = (self.tag.load(env), f(env)).encode(env);
            // Saving a term of the same environment does not copy it.
            self.env.save(term)
        });
        Outgoing {
            env: self.env,
            to: self.to,
            message,
        }
    }
}

impl Outgoing {
    /// The message, copied into the submitting NIF's own environment.
    fn into_term(self, env: Env<'_>) -> Term<'_> {
        self.env.run(|owned| self.message.load(owned).in_env(env))
    }

    pub fn send(mut self) {
        let message = self.message;
        // The caller may have died meanwhile: nothing to do then.
        let _ = self.env.send_and_clear(&self.to, |env| message.load(env));
    }
}

/// The connection a worker serves: `None` until its connect job ran, and
/// after a failed connect.
pub type Slot = Option<ConnInner>;

type JobFn = Box<dyn FnOnce(&mut Slot, &Ctx) -> Option<Outgoing> + Send>;

struct Job {
    seq: u64,
    run: JobFn,
}

/// The handing-over side of a worker, kept in the connection's resource.
pub struct Worker {
    sender: Mutex<Option<Sender<Job>>>,
    pub control: Arc<Control>,
    handback: Arc<Handback<Outgoing>>,
}

/// A job handed over: its number, and the watch its submitter may keep.
pub struct Posted {
    seq: u64,
    watch: Option<Arc<Handback<Outgoing>>>,
}

impl From<u64> for Posted {
    fn from(seq: u64) -> Posted {
        Posted { seq, watch: None }
    }
}

impl Worker {
    /// Starts the worker thread.
    pub fn spawn(control: Arc<Control>) -> Result<Worker> {
        let (sender, receiver) = channel::<Job>();
        let thread_control = control.clone();
        let handback = Arc::new(Handback::default());
        let thread_handback = handback.clone();
        std::thread::Builder::new()
            .name("ecto_libsql conn".into())
            .spawn(move || run(receiver, thread_control, thread_handback))
            .map_err(|e| Error::Misuse(format!("cannot start a connection thread: {e}")))?;
        Ok(Worker {
            sender: Mutex::new(Some(sender)),
            control,
            handback,
        })
    }

    /// Hands `run` over; returns its job number, or `:closed`.
    pub fn post(
        &self,
        run: impl FnOnce(&mut Slot, &Ctx) -> Option<Outgoing> + Send + 'static,
    ) -> Result<u64> {
        self.hand_over(false, Box::new(run))
            .map(|posted| posted.seq)
    }

    /// `post`, and the submitter may watch for the reply (`handed_over`).
    fn post_watched(
        &self,
        run: impl FnOnce(&mut Slot, &Ctx) -> Option<Outgoing> + Send + 'static,
    ) -> Result<Posted> {
        self.hand_over(true, Box::new(run))
    }

    fn hand_over(&self, watch: bool, run: JobFn) -> Result<Posted> {
        let sender = self.sender.lock().unwrap_or_else(PoisonError::into_inner);
        let sender = sender
            .as_ref()
            .ok_or(Error::Closed("the connection is closed"))?;
        let seq = self.control.next_seq();
        // Claimed before the job can run, so the worker sees the watch.
        let watch = (watch && self.handback.claim(seq)).then(|| self.handback.clone());
        sender
            .send(Job { seq, run })
            .map_err(|_| Error::Closed("the connection is closed"))?;
        Ok(Posted { seq, watch })
    }

    /// Stops what runs, refuses new jobs, and lets the thread finish the
    /// queue (every queued job answers `:closed`) and close the connection.
    /// `last`, when given, runs after the connection is closed (to tell the
    /// closer): its job number is returned (0 without one); `None` when the
    /// connection was closed already.
    pub fn close(&self, last: Option<Box<dyn FnOnce() -> Option<Outgoing> + Send>>) -> Option<u64> {
        self.control.close();
        let mut sender = self.sender.lock().unwrap_or_else(PoisonError::into_inner);
        let open = sender.take()?;
        let Some(last) = last else {
            return Some(0);
        };
        let seq = self.control.next_seq();
        let run: JobFn = Box::new(move |slot, _ctx| {
            if let Some(inner) = slot.take() {
                inner.shut_down();
            }
            last()
        });
        let _ = open.send(Job { seq, run });
        Some(seq)
    }
}

/// How long a worker keeps looking for its next job before it sleeps. A
/// caller running queries one after another hands the next one over within
/// microseconds of the last reply; catching it awake saves the two thread
/// wake-ups (here and in the VM) that dominate a point read's cost.
const SPIN: std::time::Duration = std::time::Duration::from_micros(50);

/// Workers spinning for their next job now. A spinning worker takes a
/// whole core from the schedulers, so only half the cores (at least one)
/// may: under load (more connections busy than cores) the others sleep at
/// once, where spinning would only slow the callers down.
static SPINNING: AtomicUsize = AtomicUsize::new(0);

static MAX_SPINNING: once_cell::sync::Lazy<usize> = once_cell::sync::Lazy::new(|| {
    (std::thread::available_parallelism().map_or(2, |n| n.get()) / 2).max(1)
});

/// A place among the spinning workers, given back when dropped.
struct Spinning;

impl Spinning {
    fn take() -> Option<Spinning> {
        SPINNING
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < *MAX_SPINNING).then_some(n + 1)
            })
            .ok()
            .map(|_| Spinning)
    }
}

impl Drop for Spinning {
    fn drop(&mut self) {
        SPINNING.fetch_sub(1, Ordering::SeqCst);
    }
}

fn next_job(receiver: &Receiver<Job>, handback: &Handback<Outgoing>) -> Option<Job> {
    use std::sync::mpsc::TryRecvError;
    match receiver.try_recv() {
        Ok(job) => return Some(job),
        Err(TryRecvError::Disconnected) => return None,
        Err(TryRecvError::Empty) => {}
    }
    if let Some(_spinning) = Spinning::take() {
        handback.worker_awake(true);
        let started = std::time::Instant::now();
        let found = loop {
            match receiver.try_recv() {
                Ok(job) => break Some(Some(job)),
                Err(TryRecvError::Disconnected) => break Some(None),
                Err(TryRecvError::Empty) if started.elapsed() < SPIN => std::hint::spin_loop(),
                Err(TryRecvError::Empty) => break None,
            }
        };
        handback.worker_awake(false);
        if let Some(found) = found {
            return found;
        }
    }
    receiver.recv().ok()
}

/// Worker threads alive now: each ends after its connection is closed or
/// dropped and its queue is drained.
static LIVE: AtomicUsize = AtomicUsize::new(0);

/// Counts a worker thread from its start to its very end.
struct Alive;

impl Alive {
    fn new() -> Alive {
        LIVE.fetch_add(1, Ordering::SeqCst);
        Alive
    }
}

impl Drop for Alive {
    fn drop(&mut self) {
        LIVE.fetch_sub(1, Ordering::SeqCst);
    }
}

/// How many connection threads are alive.
#[rustler::nif]
fn connection_threads() -> usize {
    LIVE.load(Ordering::SeqCst)
}

fn run(receiver: Receiver<Job>, control: Arc<Control>, handback: Arc<Handback<Outgoing>>) {
    let _alive = Alive::new();
    let mut slot: Slot = None;
    while let Some(job) = next_job(&receiver, &handback) {
        control.start(job.seq);
        let ctx = Ctx {
            seq: job.seq,
            control: &control,
        };
        if let Some(inner) = slot.as_mut() {
            inner.before_job();
        }
        let watched = control.clone();
        let seq = job.seq;
        let registered = crate::runtime::while_running(move || watched.is_cancelled(seq));
        // A job that panics loses its reply (callers then time out), never
        // the worker: the connection keeps serving.
        let outgoing = crate::panics::catch_quietly(|| (job.run)(&mut slot, &ctx)).unwrap_or(None);
        drop(registered);
        if let Some(inner) = slot.as_mut() {
            inner.after_job();
        }
        control.finish(job.seq, || {
            if let Some(outgoing) = outgoing.and_then(|o| handback.offer(job.seq, o)) {
                outgoing.send();
            }
        });
        handback.release(job.seq);
    }
    // The connection's last handle is gone or it was closed: statements
    // and cursors are finalized before the connection itself.
    if let Some(inner) = slot.take() {
        inner.shut_down();
    }
}

/// The common job: runs `f` on the open connection and replies with its
/// result as `{:ok, term}` or `{:error, error}`.
pub fn submit<F>(worker: &Worker, env: Env, tag: Term, f: F) -> Result<Posted>
where
    F: for<'a> FnOnce(&mut ConnInner, &Ctx, Env<'a>) -> Result<Term<'a>> + Send + 'static,
{
    let reply_to = Reply::new(env, tag);
    worker.post_watched(move |slot, ctx| {
        Some(reply_to.build(|env| {
            let result = match slot.as_mut() {
                _ if ctx.is_cancelled() => Err(ctx.stopped()),
                Some(inner) => {
                    let result = guarded(|| f(inner, ctx, env));
                    if matches!(result, Err(Error::Conflict(_))) {
                        inner.note_conflict();
                    }
                    result
                }
                None => Err(Error::Closed("the connection is closed")),
            };
            // A statement interrupted because its connection is closing
            // says so, rather than looking interrupted by a user.
            let result = match result {
                Err(err) if err.code() == "interrupted" && ctx.control.is_closing() => {
                    Err(ctx.stopped())
                }
                other => other,
            };
            reply(env, result)
        }))
    })
}

/// Runs `f`, turning a panic (a bug, here or in libsql) into an error
/// reply instead of a lost one.
pub fn guarded<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    crate::panics::catch_quietly(f).unwrap_or_else(|_| {
        Err(Error::Misuse(
            "internal error: the native call panicked (please report it)".into(),
        ))
    })
}

/// Like `submit`, for jobs whose success carries nothing: `:ok`.
pub fn submit_ok<F>(worker: &Worker, env: Env, tag: Term, f: F) -> Result<Posted>
where
    F: FnOnce(&mut ConnInner, &Ctx) -> Result<()> + Send + 'static,
{
    submit(worker, env, tag, move |inner, ctx, env| {
        f(inner, ctx).map(|()| atoms::ok().encode(env))
    })
}

/// What every submitting NIF returns: the reply message `{tag, reply}`
/// when the job finished while the NIF watched, else the job number (the
/// reply then arrives by message); or the error.
pub fn handed_over<'a>(env: Env<'a>, posted: Result<impl Into<Posted>>) -> Term<'a> {
    match posted.map(Into::into) {
        Ok(Posted {
            seq,
            watch: Some(handback),
        }) => {
            let started = std::time::Instant::now();
            let watched = handback.watch(seq);
            // The time watched counts against the caller's timeslice (1% per
            // 10 µs of its 1 ms): a process whose replies keep coming back
            // this way never waits in `receive`, and would otherwise hold
            // its scheduler far past its turn.
            let percent = (started.elapsed().as_micros() / 10).clamp(1, 100) as i32;
            rustler::schedule::consume_timeslice(env, percent);
            match watched {
                Some(outgoing) => outgoing.into_term(env),
                None => seq.encode(env),
            }
        }
        Ok(Posted { seq, watch: None }) => seq.encode(env),
        Err(err) => reply(env, Err(err)),
    }
}
