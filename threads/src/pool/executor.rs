//! `ThreadPool` as an [`Executor`]: the thread side of "switch between threads and
//! processes by changing one line".

use mp_futures::{Executor, Portable};
use mp_sys::Call;

use super::future::Future;
use super::map::Map;
use super::thread_pool::ThreadPool;
use crate::error::Error;

/// Python's `ThreadPoolExecutor`: `submit`, `map` and `shutdown` are the pool's own.
/// Through the trait, the work is held to what a process pool can run too (a function
/// item or a non-capturing closure, [`Portable`] values); the pool's own methods take
/// any `Send` closure and values.
///
/// ```
/// use mp_futures::Executor;
/// use mp_threads::{Error, ThreadPool};
///
/// fn lengths(executor: &impl Executor<Error = Error>, words: Vec<String>) -> Result<Vec<usize>, Error> {
///     executor.map(|word: String| word.len(), words)?.collect()
/// }
///
/// let pool = ThreadPool::new(2)?;
/// assert_eq!(lengths(&pool, vec!["one".into(), "three".into()])?, [3, 5]);
/// # Ok::<(), Error>(())
/// ```
impl Executor for ThreadPool {
    type Error = Error;
    type Map<R: Portable> = Map<R>;

    fn submit<F, A>(&self, function: F, args: A) -> Result<Future<F::Output>, Error>
    where
        F: Call<A> + Copy + Send + Sync + 'static,
        A: Portable,
        F::Output: Portable,
    {
        ThreadPool::submit(self, function, args)
    }

    fn map<F, T, I>(&self, function: F, items: I) -> Result<Map<F::Output>, Error>
    where
        F: Call<(T,)> + Copy + Send + Sync + 'static,
        T: Portable,
        F::Output: Portable,
        I: IntoIterator<Item = T>,
    {
        ThreadPool::map(self, move |item| function.call((item,)), items)
    }

    fn shutdown(&self, wait: bool, cancel_futures: bool) {
        ThreadPool::shutdown(self, wait, cancel_futures);
    }
}
