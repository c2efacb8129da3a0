//! The state one task's [`Future`](crate::Future)s and its [`Promise`](crate::Promise)
//! share: the outcome, the done-callbacks, the blocked and the awaiting waiters.
//!
//! The status is an atomic, changed only by compare-and-swap, so that exactly one
//! party wins each race (a worker starting the task against a caller cancelling it, a
//! completion against a cancellation) without taking the lock: an executor may claim a
//! task while it holds locks of its own, and a done-callback (which runs under this
//! state's lock, so that a waiter woken by the completion sees its effects) may submit
//! more work to that executor without the two locks ever being taken in opposite
//! orders. The winner of a settling swap then publishes the outcome under the lock;
//! waiters wait for the publication, not for the swap.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use mp_sys::panic::panic_message;
use mp_sys::reactor::{WakerList, WakerSlot};
use mp_sys::{Backoff, BackoffPolicy};
use parking_lot::{Condvar, Mutex, MutexGuard};

use crate::error::TaskError;

pub(crate) const PENDING: u8 = 0;
pub(crate) const RUNNING: u8 = 1;
pub(crate) const FINISHED: u8 = 2;
pub(crate) const CANCELLED: u8 = 3;

pub(crate) type Callback<T, E> = Box<dyn FnOnce(Result<&T, &E>) + Send>;

enum Outcome<T, E> {
    None,
    Value(T),
    Failed(E),
    Taken,
}

struct State<T, E> {
    /// The outcome is in: set once, by whoever won the settling swap.
    published: bool,
    outcome: Outcome<T, E>,
    callbacks: Vec<(u64, Callback<T, E>)>,
    next_callback: u64,
    wakers: WakerList,
}

pub(crate) struct Shared<T, E> {
    state: Mutex<State<T, E>>,
    status: AtomicU8,
    /// `State::published`, readable without the lock: what `done()` answers, so that a
    /// task seen done gives its result at once.
    done: AtomicBool,
    published: Condvar,
}

impl<T, E: TaskError> Shared<T, E> {
    pub(crate) fn new() -> Self {
        Shared {
            state: Mutex::new(State {
                published: false,
                outcome: Outcome::None,
                callbacks: Vec::new(),
                next_callback: 0,
                wakers: WakerList::new(),
            }),
            status: AtomicU8::new(PENDING),
            done: AtomicBool::new(false),
            published: Condvar::new(),
        }
    }

    pub(crate) fn status(&self) -> u8 {
        self.status.load(Ordering::Acquire)
    }

    /// Settled and published: the result can be had without waiting.
    pub(crate) fn is_done(&self) -> bool {
        self.done.load(Ordering::Acquire)
    }

    /// Cancelled, and the cancellation published.
    pub(crate) fn is_cancelled(&self) -> bool {
        self.is_done() && self.status() == CANCELLED
    }

    /// Moves the status from `from` to `to`; whether this call did it.
    fn swap(&self, from: u8, to: u8) -> bool {
        self.status
            .compare_exchange(from, to, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    pub(crate) fn set_running(&self) -> bool {
        self.swap(PENDING, RUNNING)
    }

    /// Records the outcome unless the task is settled already; `false` if it was.
    pub(crate) fn finish(&self, outcome: Result<T, E>) -> bool {
        if self.swap(RUNNING, FINISHED) || self.swap(PENDING, FINISHED) {
            self.publish(outcome);
            return true;
        }
        false
    }

    /// Cancels a task that has not started; `true` if it is (now or already) cancelled.
    pub(crate) fn cancel(&self) -> bool {
        if self.swap(PENDING, CANCELLED) {
            self.publish(Err(E::cancelled()));
            return true;
        }
        self.status() == CANCELLED
    }

    /// Settles a task its promise let go of: cancelled if it had not started, abandoned
    /// if it had.
    pub(crate) fn abandon(&self) {
        if self.swap(PENDING, CANCELLED) {
            self.publish(Err(E::cancelled()));
        } else if self.swap(RUNNING, FINISHED) {
            self.publish(Err(E::abandoned()));
        }
    }

    /// Publishes the outcome, runs the done-callbacks (under the lock: a waiter that
    /// returns sees their effects, as in Python), then wakes every waiter. Only the
    /// winner of a settling swap calls it, once.
    fn publish(&self, outcome: Result<T, E>) {
        let mut state = self.state.lock();
        state.outcome = match outcome {
            Ok(value) => Outcome::Value(value),
            Err(error) => Outcome::Failed(error),
        };
        state.published = true;
        self.done.store(true, Ordering::Release);
        for (_, callback) in std::mem::take(&mut state.callbacks) {
            run_callback(&state.outcome, callback);
        }
        let wakers = state.wakers.take();
        drop(state);
        self.published.notify_all();
        wakers.into_iter().for_each(Waker::wake);
    }

    pub(crate) fn has_failed(&self) -> bool {
        let state = self.state.lock();
        state.published && self.status() == FINISHED && matches!(state.outcome, Outcome::Failed(_))
    }

    pub(crate) fn succeeded(&self) -> Option<bool> {
        let state = self.state.lock();
        if !state.published {
            return None;
        }
        Some(!matches!(state.outcome, Outcome::Failed(_)))
    }

    /// Adds a done-callback, or runs it now if the task is settled; the id removes it.
    pub(crate) fn add_callback(&self, callback: Callback<T, E>) -> Option<u64> {
        let mut state = self.state.lock();
        if state.published {
            run_callback(&state.outcome, callback);
            return None;
        }
        let id = state.next_callback;
        state.next_callback += 1;
        state.callbacks.push((id, callback));
        Some(id)
    }

    pub(crate) fn remove_callback(&self, id: u64) {
        self.state
            .lock()
            .callbacks
            .retain(|(other, _)| *other != id);
    }

    /// Waits until the outcome is published or `deadline`; the lock is held on success.
    fn wait_published(&self, deadline: Option<Instant>) -> Result<MutexGuard<'_, State<T, E>>, E> {
        self.spin_until_settled(deadline);
        let mut state = self.state.lock();
        while !state.published {
            match deadline {
                None => self.published.wait(&mut state),
                Some(deadline) => {
                    if self.published.wait_until(&mut state, deadline).timed_out()
                        && !state.published
                    {
                        return Err(E::timed_out());
                    }
                }
            }
        }
        Ok(state)
    }

    /// A result is often a moment away (a short task on another CPU): look a few times
    /// before sleeping on the condition variable, whose wake-up costs more.
    fn spin_until_settled(&self, deadline: Option<Instant>) {
        let mut backoff = Backoff::new(BackoffPolicy::THREAD_HANDOFF);
        while !self.is_done() && deadline.is_none_or(|deadline| Instant::now() < deadline) {
            if !backoff.snooze() {
                return;
            }
        }
    }

    pub(crate) fn wait(&self, deadline: Option<Instant>) -> bool {
        self.wait_published(deadline).is_ok()
    }

    pub(crate) fn take(&self, deadline: Option<Instant>) -> Result<T, E> {
        let mut state = self.wait_published(deadline)?;
        take_outcome(&mut state.outcome)
    }

    pub(crate) fn exception(&self, deadline: Option<Instant>) -> Result<Option<E>, E> {
        let state = self.wait_published(deadline)?;
        Ok(match &state.outcome {
            Outcome::Failed(error) => Some(error.clone()),
            Outcome::Value(_) | Outcome::Taken | Outcome::None => None,
        })
    }

    pub(crate) fn poll_take(
        &self,
        cx: &mut Context<'_>,
        slot: &mut WakerSlot,
    ) -> Poll<Result<T, E>> {
        let mut state = self.state.lock();
        if state.published {
            // `publish` took every registered waker already; this only clears the slot.
            state.wakers.remove(slot);
            return Poll::Ready(take_outcome(&mut state.outcome));
        }
        // Registered under the lock `publish` takes: no wake-up is lost.
        state.wakers.register(slot, cx.waker());
        Poll::Pending
    }

    pub(crate) fn remove_waker(&self, slot: &mut WakerSlot) {
        if slot.is_registered() {
            self.state.lock().wakers.remove(slot);
        }
    }

    pub(crate) fn registered_wakers(&self) -> usize {
        self.state.lock().wakers.len()
    }
}

/// Takes the value out (later takers are told it is gone); an error stays, for
/// `exception()` and other takers.
fn take_outcome<T, E: TaskError>(outcome: &mut Outcome<T, E>) -> Result<T, E> {
    match std::mem::replace(outcome, Outcome::Taken) {
        Outcome::Value(value) => Ok(value),
        Outcome::Failed(error) => {
            *outcome = Outcome::Failed(error.clone());
            Err(error)
        }
        Outcome::Taken | Outcome::None => Err(E::already_taken()),
    }
}

fn run_callback<T, E: TaskError>(outcome: &Outcome<T, E>, callback: Callback<T, E>) {
    let taken;
    let argument = match outcome {
        Outcome::Value(value) => Ok(value),
        Outcome::Failed(error) => Err(error),
        Outcome::Taken | Outcome::None => {
            taken = E::already_taken();
            Err(&taken)
        }
    };
    // A panicking callback must cost neither the task its outcome nor the completing
    // thread (a pool worker, a supervisor) its life; Python logs and goes on too.
    if let Err(payload) = catch_unwind(AssertUnwindSafe(|| callback(argument))) {
        tracing::warn!(
            message = %panic_message(&*payload),
            "a future's done-callback panicked; the panic is ignored"
        );
    }
}
