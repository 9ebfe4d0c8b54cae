//! A reply handed straight back to the NIF call that submitted its job.
//! The call may watch its job for a few microseconds before it returns;
//! when the worker finishes within that time, the reply goes back to the
//! call instead of the caller's mailbox, which saves the wake-ups of a
//! message. Whoever gives up the watch first decides: the worker (the
//! reply is kept for the call) or the call (the reply is sent).

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long a submitting NIF watches for its job's reply before it returns
/// the job number instead. A cached point read's job takes about 4 µs on
/// the worker; a job that takes longer than this is left to the mailbox.
const AWAIT_BRIEFLY: Duration = Duration::from_micros(20);

/// After a watch that came back empty, this many jobs are handed over
/// without one: when the worker is slow to get a CPU (a busy machine), a
/// watching scheduler would only take the CPU it needs.
const SKIP_AFTER_MISS: u32 = 16;

/// A reply handed straight back to the NIF that submitted its job and is
/// still watching for it, instead of being sent to the caller's mailbox.
pub struct Handback<T> {
    /// The job whose submitter watches (0: none). The worker and the
    /// watcher each try to swap it to 0: whoever succeeds decides whether
    /// the reply goes back to the NIF (the worker won) or by message (the
    /// watcher gave up first). The watcher spins on it, so it has a cache
    /// line of its own: the worker's other writes do not disturb the spin.
    watched: Line<AtomicU64>,
    /// Replies kept for their watchers, by job number. Usually one; a
    /// watcher that has seen its watch end but not yet taken its reply can
    /// still find it when a later job's reply is kept meanwhile.
    replies: Mutex<Vec<(u64, T)>>,
    skip: AtomicU32,
    /// Whether the worker is spinning for its next job: only then does it
    /// pick a job up within nanoseconds. A busy worker (jobs queued before)
    /// or a sleeping one (a thread wake-up away) would not answer within a
    /// watch, which would only keep the scheduler from other processes.
    worker_awake: AtomicBool,
}

#[repr(align(128))]
struct Line<T>(T);

impl<T> Default for Handback<T> {
    fn default() -> Self {
        Handback {
            watched: Line(AtomicU64::new(0)),
            replies: Mutex::new(Vec::new()),
            skip: AtomicU32::new(0),
            worker_awake: AtomicBool::new(false),
        }
    }
}

impl<T> Handback<T> {
    /// The worker says whether it is spinning for its next job.
    pub fn worker_awake(&self, awake: bool) {
        self.worker_awake.store(awake, Ordering::SeqCst);
    }

    /// Claims the watch for job `seq`; false when the worker is not waiting
    /// awake for a job, another job is watched, or a recent watch came back
    /// empty.
    pub fn claim(&self, seq: u64) -> bool {
        if !self.worker_awake.load(Ordering::SeqCst) {
            return false;
        }
        let skip = self.skip.load(Ordering::Relaxed);
        if skip > 0 {
            self.skip.store(skip - 1, Ordering::Relaxed);
            return false;
        }
        self.end_watch(0, seq)
    }

    fn end_watch(&self, from: u64, to: u64) -> bool {
        self.watched
            .0
            .compare_exchange(from, to, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    }

    /// The worker's side: hands the reply to the watching submitter, or
    /// gives it back to be sent when nobody watches job `seq` (any more).
    pub fn offer(&self, seq: u64, outgoing: T) -> Option<T> {
        if self.watched.0.load(Ordering::SeqCst) != seq {
            return Some(outgoing);
        }
        // Stored before the watch ends, so the watcher finds it.
        self.replies().push((seq, outgoing));
        if self.end_watch(seq, 0) {
            None
        } else {
            // The watcher gave up just now: it will not look.
            self.take(seq)
        }
    }

    /// Ends the watch for a job that replied nothing (it panicked).
    pub fn release(&self, seq: u64) {
        self.end_watch(seq, 0);
    }

    fn replies(&self) -> std::sync::MutexGuard<'_, Vec<(u64, T)>> {
        self.replies.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn take(&self, seq: u64) -> Option<T> {
        let mut replies = self.replies();
        let at = replies.iter().position(|(kept, _)| *kept == seq)?;
        Some(replies.swap_remove(at).1)
    }

    /// The submitter's side: watches job `seq` for up to `AWAIT_BRIEFLY`.
    /// `Some(reply)` when the worker handed it back; `None` when it will
    /// arrive by message (or, for a job that panicked, not at all).
    pub fn watch(&self, seq: u64) -> Option<T> {
        let started = Instant::now();
        while self.watched.0.load(Ordering::SeqCst) == seq {
            if started.elapsed() >= AWAIT_BRIEFLY && self.end_watch(seq, 0) {
                self.skip.store(SKIP_AFTER_MISS, Ordering::Relaxed);
                return None;
            }
            std::hint::spin_loop();
        }
        self.take(seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::Control;

    /// What the worker does at the end of job `seq`: offers the reply,
    /// marks the job ended, and ends the watch. Returns what it would send.
    fn finish(
        control: &Control,
        handback: &Handback<&'static str>,
        seq: u64,
    ) -> Option<&'static str> {
        let mut sent = None;
        control.finish(seq, || sent = handback.offer(seq, "reply"));
        handback.release(seq);
        sent
    }

    #[test]
    fn a_reply_ready_within_the_watch_goes_back_to_the_watcher_and_is_not_sent() {
        let control = Control::new(None);
        let handback = Handback::default();
        handback.worker_awake(true);
        let seq = control.next_seq();
        assert!(handback.claim(seq));
        assert_eq!(finish(&control, &handback, seq), None);
        assert_eq!(handback.watch(seq), Some("reply"));
    }

    #[test]
    fn a_watcher_that_gave_up_leaves_the_reply_to_the_mailbox_and_skips_the_next_watches() {
        let control = Control::new(None);
        let handback = Handback::default();
        handback.worker_awake(true);
        let seq = control.next_seq();
        assert!(handback.claim(seq));
        assert_eq!(handback.watch(seq), None);
        assert_eq!(finish(&control, &handback, seq), Some("reply"));
        let next = control.next_seq();
        assert!((0..SKIP_AFTER_MISS).all(|_| !handback.claim(next)));
        assert!(handback.claim(next));
    }

    #[test]
    fn one_watch_at_a_time_and_a_job_without_reply_ends_its_watch() {
        let control = Control::new(None);
        let handback: Handback<&'static str> = Handback::default();
        let first = control.next_seq();
        assert!(
            !handback.claim(first),
            "a worker not spinning for jobs is not watched"
        );
        handback.worker_awake(true);
        let second = control.next_seq();
        assert!(handback.claim(first));
        assert!(!handback.claim(second));
        // The job panicked: no reply to offer.
        control.finish(first, || ());
        handback.release(first);
        assert_eq!(handback.watch(first), None);
        assert!(handback.claim(second));
    }

    #[test]
    fn racing_worker_and_watcher_deliver_every_reply_exactly_once() {
        let handback = std::sync::Arc::new(Handback::<u64>::default());
        let (jobs, queue) = std::sync::mpsc::channel::<u64>();
        let (mail, mailbox) = std::sync::mpsc::channel::<u64>();
        let worker = {
            let handback = handback.clone();
            std::thread::spawn(move || loop {
                // Spins for its next job, as the connection's worker does.
                handback.worker_awake(true);
                let seq = match queue.try_recv() {
                    Ok(seq) => {
                        handback.worker_awake(false);
                        seq
                    }
                    Err(std::sync::mpsc::TryRecvError::Empty) => {
                        std::hint::spin_loop();
                        continue;
                    }
                    Err(std::sync::mpsc::TryRecvError::Disconnected) => break,
                };
                // Some jobs take longer than a watch lasts.
                if seq % 7 == 0 {
                    let started = Instant::now();
                    while started.elapsed() < AWAIT_BRIEFLY * 2 {
                        std::hint::spin_loop();
                    }
                }
                if let Some(reply) = handback.offer(seq, seq) {
                    mail.send(reply).expect("caller alive");
                }
                handback.release(seq);
            })
        };
        for seq in 1..=5_000u64 {
            let watched = handback.claim(seq);
            jobs.send(seq).expect("worker alive");
            let reply = watched
                .then(|| handback.watch(seq))
                .flatten()
                .unwrap_or_else(|| mailbox.recv().expect("a reply by message"));
            assert_eq!(reply, seq);
        }
        drop(jobs);
        worker.join().expect("worker");
        // How many came back directly depends on how the threads were
        // scheduled (on a busy machine, maybe none): the tests above take
        // that path for certain; this one checks every interleaving's result.
        assert!(mailbox.try_recv().is_err(), "a reply was delivered twice");
    }

    #[test]
    fn a_reply_not_yet_taken_survives_a_later_jobs_reply() {
        let control = Control::new(None);
        let handback = Handback::default();
        handback.worker_awake(true);
        let first = control.next_seq();
        assert!(handback.claim(first));
        assert_eq!(finish(&control, &handback, first), None);
        // Another caller's job is watched and answered before the first
        // watcher comes round to take its reply.
        let second = control.next_seq();
        assert!(handback.claim(second));
        assert_eq!(finish(&control, &handback, second), None);
        assert_eq!(handback.watch(first), Some("reply"));
        assert_eq!(handback.watch(second), Some("reply"));
        assert_eq!(handback.watch(second), None);
    }
}
