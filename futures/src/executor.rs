//! [`Executor`]: Python's `concurrent.futures.Executor`, one trait for the thread pool
//! and the process pool.

use mp_sys::Call;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::TaskError;
use crate::future::Future;

/// A value that can go to a worker and come back, in whichever executor: what crosses a
/// process boundary must be serde, and what crosses a thread boundary must be `Send`.
///
/// Implemented for every type that is both; code written against [`Executor`] asks it
/// of its arguments and results.
///
/// ```
/// fn send_anywhere<T: mp_futures::Portable>(_: T) {}
/// send_anywhere((1u32, "text".to_string(), vec![0.5f64]));
/// ```
pub trait Portable: Serialize + DeserializeOwned + Send + 'static {}

impl<T: Serialize + DeserializeOwned + Send + 'static> Portable for T {}

/// Python's `concurrent.futures.Executor`: `submit`, `map` and `shutdown`, implemented by
/// mp-threads' `ThreadPool` and mp-processes' `Pool`.
///
/// Python's lesson "switch between threads and processes by changing one line" is this
/// trait: write the work against `impl Executor` and pick the executor where it is made.
/// What it asks of the work is what both can run: a function item or a non-capturing
/// closure (a process gets no copy of captured state), and [`Portable`] arguments and
/// results.
///
/// ```
/// use mp_futures::{Executor, FutureError, Promise, Portable};
///
/// fn checksums(executor: &impl Executor, lines: Vec<String>) -> Result<Vec<usize>, FutureError> {
///     fn score(line: String) -> usize {
///         line.bytes().map(usize::from).sum()
///     }
///     executor
///         .map(score, lines)
///         .map_err(|_| FutureError::Abandoned)?
///         .map(|checksum| checksum.map_err(|_| FutureError::Abandoned))
///         .collect()
/// }
///
/// /// An executor that runs every task on the calling thread, to show the trait's shape.
/// struct Inline;
///
/// impl Executor for Inline {
///     type Error = FutureError;
///     type Map<R: Portable> = std::vec::IntoIter<Result<R, FutureError>>;
///
///     fn submit<F, A>(&self, function: F, args: A) -> Result<mp_futures::Future<F::Output, FutureError>, FutureError>
///     where
///         F: mp_sys::Call<A> + Copy + Send + Sync + 'static,
///         A: Portable,
///         F::Output: Portable,
///     {
///         let (promise, future) = Promise::new();
///         promise.set_running();
///         promise.complete(Ok(function.call(args)));
///         Ok(future)
///     }
///
///     fn map<F, T, I>(&self, function: F, items: I) -> Result<Self::Map<F::Output>, FutureError>
///     where
///         F: mp_sys::Call<(T,)> + Copy + Send + Sync + 'static,
///         T: Portable,
///         F::Output: Portable,
///         I: IntoIterator<Item = T>,
///     {
///         Ok(items.into_iter().map(|item| Ok(function.call((item,)))).collect::<Vec<_>>().into_iter())
///     }
///
///     fn shutdown(&self, _wait: bool, _cancel_futures: bool) {}
/// }
///
/// assert_eq!(checksums(&Inline, vec!["ab".into(), "c".into()])?, [195, 99]);
/// # Ok::<(), FutureError>(())
/// ```
pub trait Executor {
    /// The executor's error: what its calls and its futures fail with.
    type Error: TaskError + std::error::Error;

    /// What [`map`](Executor::map) gives: each item's result, in the order of the items.
    type Map<R: Portable>: Iterator<Item = Result<R, Self::Error>>;

    /// Runs `function(args...)` on a worker; returns at once with the task's
    /// [`Future`] (Python's `executor.submit(fn, *args)`).
    fn submit<F, A>(
        &self,
        function: F,
        args: A,
    ) -> Result<Future<F::Output, Self::Error>, Self::Error>
    where
        F: Call<A> + Copy + Send + Sync + 'static,
        A: Portable,
        F::Output: Portable;

    /// Runs `function(item)` for every item on the workers; the results come in the
    /// order of the items, each as its task ended (Python's `executor.map(fn, items)`,
    /// which raises an item's exception when the iteration reaches it).
    fn map<F, T, I>(&self, function: F, items: I) -> Result<Self::Map<F::Output>, Self::Error>
    where
        F: Call<(T,)> + Copy + Send + Sync + 'static,
        T: Portable,
        F::Output: Portable,
        I: IntoIterator<Item = T>;

    /// Accepts no more tasks; with `wait`, returns when the submitted ones are done; with
    /// `cancel_futures`, cancels those not started (Python's `executor.shutdown(wait,
    /// cancel_futures=...)`).
    fn shutdown(&self, wait: bool, cancel_futures: bool);
}
