//! Tasks and outcomes as bytes: the seam through which a pool's work leaves the machine.
//!
//! An executor that spreads tasks over machines (mp-cluster) encodes a task where it is
//! submitted, carries the bytes to a worker machine, runs them there on a local [`Pool`]
//! (so a crashing task takes down one worker process, never the machine's worker), and
//! carries the outcomes back, where they are decoded. Neither machine in the middle needs
//! the task's types: an [`EncodedTask`] is the pool's own task frame (the function as an
//! offset of its trampoline, the arguments as postcard bytes), and [`EncodedOutcomes`] is
//! the worker's reply frame with the failures the pool saw beside it.
//!
//! Only values without handles cross: a descriptor means nothing on another machine.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::Duration;

use mp_futures::Promise;
use parking_lot::Mutex;

use super::frame::{ItemOutcome, MAX_FRAME_LEN, Outcomes, TaskHead};
use super::process_pool::Pool;
use super::sink::Sink;
use super::state::Task;
use super::submit::submit_tasks;
use super::worker::entry_of;
use crate::error::{Error, ProtocolFault};
use crate::target::{Stateless, Target};

/// One task (one item, or a chunk of a map) whose function and arguments are encoded:
/// runnable by a [`Pool`] of *the same build* of this program in any process, on any
/// machine, through [`Pool::submit_encoded`].
///
/// ```
/// use mp_processes::Pool;
/// use mp_processes::pool::EncodedTask;
///
/// fn square(n: u64) -> u64 {
///     n * n
/// }
///
/// let task = EncodedTask::new(square, &[(3,), (4,)])?;
/// assert_eq!(task.len(), 2);
/// let pool = Pool::new(1)?;
/// let outcomes = pool.submit_encoded(task)?.result()?;
/// let values: Vec<u64> = outcomes
///     .decode::<u64>(2)?
///     .into_iter()
///     .collect::<Result<_, _>>()?;
/// assert_eq!(values, [9, 16]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncodedTask {
    entry: i64,
    items: Vec<u8>,
    len: usize,
}

impl EncodedTask {
    /// Encodes the calls `function(items[0])`, `function(items[1])`, ... as one task.
    ///
    /// Fails if an argument does not serialize, holds a handle (a descriptor cannot leave
    /// its machine), or makes the task larger than a pool's largest frame (1 GiB).
    ///
    /// ```
    /// use mp_processes::pool::EncodedTask;
    ///
    /// let task = EncodedTask::new(|a: u8, b: u8| a + b, &[(1, 2)])?;
    /// assert_eq!(task.len(), 1);
    /// # Ok::<(), mp_processes::Error>(())
    /// ```
    pub fn new<F, A>(function: F, items: &[A]) -> Result<EncodedTask, Error>
    where
        F: Target<A>,
        A: Serialize + DeserializeOwned + Send + 'static,
        F::Output: Serialize + DeserializeOwned + Send + 'static,
    {
        let () = Stateless::<F>::CHECK;
        let _ = function;
        let (bytes, fds) = mp_wire::encode(items)?;
        if !fds.is_empty() {
            return Err(Error::Transfer(mp_shared_mem::Error::TooManyFds {
                count: fds.len(),
                max: 0,
            }));
        }
        check_size(bytes.len())?;
        Ok(EncodedTask {
            entry: entry_of::<F, A, F::Output>(),
            items: bytes,
            len: items.len(),
        })
    }

    /// How many calls the task holds.
    ///
    /// ```
    /// let task = mp_processes::pool::EncodedTask::new(|n: u8| n, &[(1,), (2,), (3,)])?;
    /// assert_eq!(task.len(), 3);
    /// # Ok::<(), mp_processes::Error>(())
    /// ```
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the task holds no call.
    ///
    /// ```
    /// let task = mp_processes::pool::EncodedTask::new(|n: u8| n, &[] as &[(u8,)])?;
    /// assert!(task.is_empty());
    /// # Ok::<(), mp_processes::Error>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The task's parts, to carry elsewhere: the function's entry (an offset that means
    /// something only in this build of the program), the arguments' bytes, the number of
    /// calls.
    ///
    /// ```
    /// let task = mp_processes::pool::EncodedTask::new(|n: u8| n, &[(1,)])?;
    /// let (entry, items, len) = task.clone().into_parts();
    /// // SAFETY: the parts come from `EncodedTask::new` in this very process.
    /// let back = unsafe { mp_processes::pool::EncodedTask::from_parts(entry, items, len) };
    /// assert_eq!(back, task);
    /// # Ok::<(), mp_processes::Error>(())
    /// ```
    pub fn into_parts(self) -> (i64, Vec<u8>, usize) {
        (self.entry, self.items, self.len)
    }

    /// Rebuilds a task from the parts of [`into_parts`](EncodedTask::into_parts).
    ///
    /// # Safety
    ///
    /// `entry` must come from [`EncodedTask::new`] in a process running *the same build*
    /// of this program (the same executable file, byte for byte: compare
    /// `mp_sys::build_id::BuildId`s), unaltered. A worker jumps to the function at that
    /// offset: any other value makes it run arbitrary code. The items and the length may be
    /// anything: bytes that do not decode as the function's arguments fail the task
    /// cleanly.
    ///
    /// ```
    /// let (entry, items, len) = mp_processes::pool::EncodedTask::new(|n: u8| n, &[(1,)])?.into_parts();
    /// // SAFETY: `entry` was made just above, in this process.
    /// let task = unsafe { mp_processes::pool::EncodedTask::from_parts(entry, items, len) };
    /// assert_eq!(task.len(), 1);
    /// # Ok::<(), mp_processes::Error>(())
    /// ```
    pub unsafe fn from_parts(entry: i64, items: Vec<u8>, len: usize) -> EncodedTask {
        EncodedTask { entry, items, len }
    }
}

fn check_size(len: usize) -> Result<(), Error> {
    if len > MAX_FRAME_LEN - 64 {
        return Err(Error::Transfer(mp_shared_mem::Error::MessageTooLarge {
            len: len as u64,
            max: MAX_FRAME_LEN - 64,
        }));
    }
    Ok(())
}

/// How one call of an encoded task failed, in a form that crosses machines.
///
/// ```
/// use mp_processes::pool::ItemFailure;
///
/// let failure = ItemFailure::Signaled { worker: "Worker-2".into(), signal: 9, signal_name: "SIGKILL".into() };
/// assert_eq!(failure.to_string(), "the worker process Worker-2 running the call was killed by signal 9 (SIGKILL)");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[non_exhaustive]
pub enum ItemFailure {
    /// The function panicked.
    #[error("the call panicked in worker {worker}: {message}")]
    Panicked {
        /// The worker process that ran it.
        worker: String,
        /// The panic message.
        message: String,
        /// Where (`file:line:column`), when known.
        location: Option<String>,
        /// The backtrace, when the worker was asked for one (`RUST_BACKTRACE`).
        backtrace: Option<String>,
    },
    /// The worker process died of a signal while running the call.
    #[error(
        "the worker process {worker} running the call was killed by signal {signal} ({signal_name})"
    )]
    Signaled {
        /// The worker process.
        worker: String,
        /// The signal number.
        signal: i32,
        /// Its name, such as `SIGSEGV`.
        signal_name: String,
    },
    /// The worker process exited while running the call (`std::process::exit` in it).
    #[error("the worker process {worker} running the call exited with code {code}")]
    Exited {
        /// The worker process.
        worker: String,
        /// Its exit code.
        code: i32,
    },
    /// The call ran over the pool's per-task timeout; its worker was killed.
    #[error("the call ran over the pool's task timeout of {timeout:?}")]
    TimedOut {
        /// The pool's per-task timeout.
        timeout: Duration,
    },
    /// The arguments did not decode as the function's, or the value did not encode.
    #[error("the call's arguments or value could not cross: {detail}")]
    Transfer {
        /// What the codec said.
        detail: String,
    },
    /// The pool could not run the call: it was terminated, closed, or broken. The call
    /// did not run; another pool may run it.
    #[error("the pool could not run the call (it did not run): {detail}")]
    PoolUnavailable {
        /// What the pool said.
        detail: String,
    },
}

impl ItemFailure {
    fn of(error: Error) -> ItemFailure {
        match error {
            Error::Panicked {
                name,
                message,
                location,
                backtrace,
            } => ItemFailure::Panicked {
                worker: name,
                message,
                location,
                backtrace,
            },
            Error::Signaled {
                name,
                signal,
                signal_name,
            } => ItemFailure::Signaled {
                worker: name,
                signal,
                signal_name,
            },
            Error::Exited { name, code } => ItemFailure::Exited { worker: name, code },
            Error::TaskTimedOut { timeout } => ItemFailure::TimedOut { timeout },
            Error::Transfer(error) => ItemFailure::Transfer {
                detail: error.to_string(),
            },
            other => ItemFailure::PoolUnavailable {
                detail: other.to_string(),
            },
        }
    }

    /// Whether the call did not run because the pool could not run it, so that running it
    /// elsewhere runs it once.
    ///
    /// ```
    /// use mp_processes::pool::ItemFailure;
    ///
    /// assert!(ItemFailure::PoolUnavailable { detail: "terminated".into() }.did_not_run());
    /// assert!(!ItemFailure::Exited { worker: "w".into(), code: 3 }.did_not_run());
    /// ```
    pub fn did_not_run(&self) -> bool {
        matches!(self, ItemFailure::PoolUnavailable { .. })
    }
}

/// What became of an [`EncodedTask`]: the worker's reply (the values, in their encoding)
/// and the calls that failed outside the function (their worker died, timed out, ...).
/// Serializable, to travel back to where the task was submitted.
///
/// ```
/// use mp_processes::Pool;
/// use mp_processes::pool::{EncodedTask, ItemFailure};
///
/// fn check(n: i32) -> i32 {
///     assert!(n >= 0, "negative: {n}");
///     n
/// }
///
/// let pool = Pool::new(1)?;
/// let outcomes = pool.submit_encoded(EncodedTask::new(check, &[(1,), (-1,)])?)?.result()?;
/// let mut results = outcomes.decode::<i32>(2)?.into_iter();
/// assert_eq!(results.next(), Some(Ok(1)));
/// assert!(matches!(results.next(), Some(Err(ItemFailure::Panicked { message, .. })) if message == "negative: -1"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncodedOutcomes {
    /// The worker's reply frame (the items' values and panics), if one came.
    reply: Option<Vec<u8>>,
    /// The worker process that sent the reply.
    worker: String,
    /// The calls that failed outside their function, by index.
    failures: Vec<(u32, ItemFailure)>,
}

impl EncodedOutcomes {
    /// Each call's value as an `R`, or how it failed, in the order of the task's items.
    ///
    /// `len` is the number of calls the task held (what the submitter knows): outcomes
    /// that do not describe exactly `len` calls, or values that do not decode as `R`, are
    /// an error for the whole task.
    ///
    /// ```
    /// use mp_processes::Pool;
    /// use mp_processes::pool::EncodedTask;
    ///
    /// let pool = Pool::new(1)?;
    /// let outcomes = pool.submit_encoded(EncodedTask::new(|n: u8| n + 1, &[(1,)])?)?.result()?;
    /// assert!(outcomes.clone().decode::<u8>(2).is_err(), "not the task's length");
    /// assert_eq!(outcomes.decode::<u8>(1)?, [Ok(2)]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn decode<R: DeserializeOwned>(
        self,
        len: usize,
    ) -> Result<Vec<Result<R, ItemFailure>>, Error> {
        let mut failures = self.failures;
        failures.sort_by_key(|(index, _)| *index);
        let mut failures = failures.into_iter().peekable();
        let mut failed_at = |index: usize| {
            failures
                .next_if(|(failed, _)| *failed as usize == index)
                .map(|(_, failure)| failure)
        };
        let mut results = Vec::with_capacity(len);
        match self.reply {
            Some(reply) => {
                let outcomes: Outcomes<R> = mp_wire::decode(&reply, Vec::new())?;
                outcomes
                    .check(len)
                    .map_err(|fault| Error::Protocol { fault })?;
                for (index, outcome) in outcomes.into_items().enumerate() {
                    results.push(match outcome {
                        ItemOutcome::Returned(value) => Ok(value),
                        ItemOutcome::Panicked(report) => Err(ItemFailure::Panicked {
                            worker: self.worker.clone(),
                            message: report.message,
                            location: report.location,
                            backtrace: report.backtrace,
                        }),
                        ItemOutcome::Skipped => Err(failed_at(index)
                            .ok_or(missing(ProtocolFault::SkippedWithoutFailure { index }))?),
                    });
                }
            }
            None => {
                for index in 0..len {
                    results.push(Err(
                        failed_at(index).ok_or(missing(ProtocolFault::NoOutcome { index }))?
                    ));
                }
            }
        }
        Ok(results)
    }

    /// Whether every call that failed did so because the pool could not run it (none
    /// ran): the task may be run elsewhere without running anything twice.
    ///
    /// ```
    /// use mp_processes::Pool;
    /// use mp_processes::pool::EncodedTask;
    ///
    /// let pool = Pool::new(1)?;
    /// let outcomes = pool.submit_encoded(EncodedTask::new(|n: u8| n, &[(1,)])?)?.result()?;
    /// assert!(!outcomes.did_not_run());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn did_not_run(&self) -> bool {
        self.reply.is_none()
            && self
                .failures
                .iter()
                .all(|(_, failure)| failure.did_not_run())
    }
}

fn missing(fault: ProtocolFault) -> Error {
    Error::Protocol { fault }
}

impl Pool {
    /// Runs an [`EncodedTask`] (made by [`EncodedTask::new`] in a process of this build,
    /// here or on another machine) on this pool's workers. Its outcomes come in the
    /// future, encoded; a call whose worker dies fails alone, as with every task.
    ///
    /// ```
    /// use mp_processes::Pool;
    /// use mp_processes::pool::EncodedTask;
    ///
    /// let pool = Pool::new(2)?;
    /// let future = pool.submit_encoded(EncodedTask::new(|s: String| s.len(), &[("abc".to_owned(),)])?)?;
    /// assert_eq!(future.result()?.decode::<usize>(1)?, [Ok(3)]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn submit_encoded(
        &self,
        task: EncodedTask,
    ) -> Result<mp_futures::Future<EncodedOutcomes, Error>, Error> {
        let (promise, future) = Promise::<EncodedOutcomes, Error>::new();
        let inner = &self.inner;
        let id = inner
            .next_task
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let head = TaskHead {
            id,
            entry: task.entry,
            skip: Vec::new(),
        };
        let mut frame = Vec::with_capacity(task.items.len() + 32);
        mp_wire::encode_bytes_into(&head, &mut frame)?;
        frame.extend_from_slice(&task.items);
        check_size(frame.len())?;
        let sink = Arc::new(EncodedSink {
            promise,
            len: task.len,
            failures: Mutex::new(Vec::new()),
        });
        let task = Task {
            frame,
            fds: Vec::new(),
            len: task.len,
            skip: Vec::new(),
            requeued: 0,
            claimed: false,
            sink,
        };
        submit_tasks(inner, vec![(id, task)])?;
        Ok(future)
    }
}

/// Gathers an encoded task's outcomes and settles its future once every call is
/// accounted for.
struct EncodedSink {
    promise: Promise<EncodedOutcomes, Error>,
    len: usize,
    failures: Mutex<Vec<(u32, ItemFailure)>>,
}

impl Sink for EncodedSink {
    fn claim(&self) -> bool {
        self.promise.set_running()
    }

    fn deliver(&self, outcomes: &[u8], fds: Vec<OwnedFd>, worker: &str) {
        let failures = std::mem::take(&mut *self.failures.lock());
        if !fds.is_empty() {
            // A value holding a handle: its descriptor cannot leave this machine.
            drop(fds);
            let detail = "a value holds a file descriptor, which cannot leave its machine";
            let all = (0..self.len)
                .filter(|index| {
                    !failures
                        .iter()
                        .any(|(failed, _)| *failed as usize == *index)
                })
                .map(|index| {
                    (
                        index as u32,
                        ItemFailure::Transfer {
                            detail: detail.into(),
                        },
                    )
                });
            let failures = failures.iter().cloned().chain(all).collect();
            self.promise.complete(Ok(EncodedOutcomes {
                reply: None,
                worker: worker.to_owned(),
                failures,
            }));
            return;
        }
        self.promise.complete(Ok(EncodedOutcomes {
            reply: Some(outcomes.to_vec()),
            worker: worker.to_owned(),
            failures,
        }));
    }

    fn fail_item(&self, index: usize, error: Error) {
        self.failures
            .lock()
            .push((index as u32, ItemFailure::of(error)));
    }

    fn fail_rest(&self, error: Error, skip: &[u32]) {
        let mut failures = std::mem::take(&mut *self.failures.lock());
        let failure = ItemFailure::of(error);
        for index in 0..self.len as u32 {
            if !skip.contains(&index) && !failures.iter().any(|(failed, _)| *failed == index) {
                failures.push((index, failure.clone()));
            }
        }
        self.promise.complete(Ok(EncodedOutcomes {
            reply: None,
            worker: String::new(),
            failures,
        }));
    }
}
