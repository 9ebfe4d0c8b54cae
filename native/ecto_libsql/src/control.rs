//! What other threads know of a connection's worker: the jobs handed to it
//! (numbered in order), the one running, the ones interrupted or abandoned
//! by their caller, and what the running job is stepping. With it,
//! `interrupt/1` and a caller's timeout stop exactly the job they mean,
//! never wait for it, and are never lost: a job checks for its own
//! interruption after it has published what it runs, and an interrupter
//! sets the flag before it looks at what runs, so one of the two sees the
//! other.
//!
//! An abandoned job (its caller timed out) is interrupted and its reply is
//! dropped: replies are sent under `reply_lock`, which `abandon` takes too,
//! so once `abandon` returns the reply is either in the caller's mailbox
//! already or never sent.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::gate::WriteGate;

/// What can be interrupted from another thread while a job runs.
pub enum Interruptible {
    /// A prepared statement: its own interrupt flag, which stays set until
    /// the statement is reset, so it stops even a statement not stepping yet.
    Statement(Arc<libsql::Statement>),
    /// The whole connection (batches of SQL text, remote calls).
    Connection(libsql::Connection),
    /// A flag the running statement looks at as it steps (the turso
    /// engine's progress handler): it stays set until the next job clears
    /// it, so it stops even a statement not stepping yet.
    Flag(Arc<AtomicBool>),
}

impl Interruptible {
    fn interrupt(&self) {
        // Remote statements cannot be interrupted (libsql says so with an
        // error); their futures are dropped by the worker instead.
        let _ = match self {
            Interruptible::Statement(stmt) => stmt.interrupt(),
            Interruptible::Connection(conn) => conn.interrupt(),
            Interruptible::Flag(flag) => {
                flag.store(true, SeqCst);
                Ok(())
            }
        };
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[derive(Default)]
pub struct Control {
    last_seq: AtomicU64,
    running: AtomicU64,
    interrupted_upto: AtomicU64,
    completed_upto: AtomicU64,
    closing: AtomicBool,
    abandoned: Mutex<HashSet<u64>>,
    /// What runs now, and the number of the job it runs for.
    current: Mutex<Option<(u64, Interruptible)>>,
    reply_lock: Mutex<()>,
    gate: Option<Arc<WriteGate>>,
}

/// Whether `abandon` stopped the reply or came too late for it.
#[derive(Debug, PartialEq, Eq)]
pub enum Abandoned {
    /// The reply will never be sent.
    Dropped,
    /// The reply was sent before: it is in the caller's mailbox.
    AlreadySent,
}

/// Publishes what a job runs until dropped.
pub struct Running<'c> {
    control: &'c Control,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        *lock(&self.control.current) = None;
    }
}

impl Control {
    pub fn new(gate: Option<Arc<WriteGate>>) -> Control {
        Control {
            gate,
            ..Control::default()
        }
    }

    /// The number of the next job handed to the worker (from 1).
    pub fn next_seq(&self) -> u64 {
        self.last_seq.fetch_add(1, SeqCst) + 1
    }

    pub fn gate(&self) -> Option<&Arc<WriteGate>> {
        self.gate.as_ref()
    }

    /// Whether job `seq` must stop (or not start): interrupted, abandoned,
    /// or its connection is closing.
    pub fn is_cancelled(&self, seq: u64) -> bool {
        self.closing.load(SeqCst)
            || seq <= self.interrupted_upto.load(SeqCst)
            || lock(&self.abandoned).contains(&seq)
    }

    pub fn is_closing(&self) -> bool {
        self.closing.load(SeqCst)
    }

    /// The worker starts job `seq`.
    pub fn start(&self, seq: u64) {
        self.running.store(seq, SeqCst);
    }

    /// Publishes `what` as what job `seq` runs now; `None` if the job was
    /// cancelled already (then nothing runs).
    pub fn enter(&self, seq: u64, what: Interruptible) -> Option<Running<'_>> {
        *lock(&self.current) = Some((seq, what));
        let running = Running { control: self };
        (!self.is_cancelled(seq)).then_some(running)
    }

    /// Interrupts what runs now if `meant` says its job is one to stop:
    /// an interrupt never reaches a later job than the ones it was for.
    fn interrupt_current(&self, meant: impl Fn(u64) -> bool) {
        if let Some((seq, what)) = lock(&self.current).as_ref() {
            if meant(*seq) {
                what.interrupt();
            }
        }
        if let Some(gate) = &self.gate {
            gate.wake_all();
        }
    }

    /// `interrupt/1`: stops the job running now and every job handed over
    /// before this call; later jobs are not affected.
    pub fn interrupt_all(&self) {
        let upto = self.last_seq.load(SeqCst);
        self.interrupted_upto.fetch_max(upto, SeqCst);
        self.interrupt_current(|seq| seq <= upto);
    }

    /// A caller gave up on job `seq` (its timeout): interrupt it if it runs
    /// or waits, and drop its reply.
    pub fn abandon(&self, seq: u64) -> Abandoned {
        {
            let _sending = lock(&self.reply_lock);
            if seq <= self.completed_upto.load(SeqCst) {
                return Abandoned::AlreadySent;
            }
            lock(&self.abandoned).insert(seq);
        }
        if self.running.load(SeqCst) == seq {
            self.interrupt_current(|running| running == seq);
        } else if let Some(gate) = &self.gate {
            gate.wake_all();
        }
        Abandoned::Dropped
    }

    /// Close: every job, running or queued, stops.
    pub fn close(&self) {
        self.closing.store(true, SeqCst);
        self.interrupt_current(|_| true);
    }

    /// Ends job `seq`: calls `send` with the reply lock held unless the job
    /// was abandoned.
    pub fn finish(&self, seq: u64, send: impl FnOnce()) {
        let _sending = lock(&self.reply_lock);
        if !lock(&self.abandoned).remove(&seq) {
            send();
        }
        self.completed_upto.store(seq, SeqCst);
        self.running.store(0, SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interrupt_reaches_jobs_handed_over_before_it_only() {
        let control = Control::new(None);
        let first = control.next_seq();
        control.interrupt_all();
        let second = control.next_seq();
        assert!(control.is_cancelled(first));
        assert!(!control.is_cancelled(second));
    }

    #[test]
    fn an_abandoned_job_sends_nothing_and_a_finished_one_cannot_be_abandoned() {
        let control = Control::new(None);
        let a = control.next_seq();
        let b = control.next_seq();
        assert_eq!(control.abandon(b), Abandoned::Dropped);
        assert!(control.is_cancelled(b));
        let mut sent = Vec::new();
        control.finish(a, || sent.push(a));
        control.finish(b, || sent.push(b));
        assert_eq!(sent, vec![a]);
        assert_eq!(control.abandon(a), Abandoned::AlreadySent);
    }

    #[test]
    fn a_late_abandon_does_not_stop_the_next_job() {
        let control = Control::new(None);
        let first = control.next_seq();
        let second = control.next_seq();
        let flag = Arc::new(AtomicBool::new(false));
        control.start(second);
        let running = control
            .enter(second, Interruptible::Flag(flag.clone()))
            .expect("not cancelled");
        // The first job finished before; its caller gives up only now.
        control.abandon(first);
        control.interrupt_current(|seq| seq == first);
        assert!(!flag.load(SeqCst));
        // An interrupt meant for every job so far reaches it.
        control.interrupt_all();
        assert!(flag.load(SeqCst));
        drop(running);
    }

    #[test]
    fn closing_cancels_everything() {
        let control = Control::new(None);
        control.close();
        let later = control.next_seq();
        assert!(control.is_cancelled(later));
    }
}
