//! `Pool` as an [`Executor`]: the process side of "switch between threads and processes
//! by changing one line".

use mp_futures::{Executor, Portable};
use mp_sys::Call;

use super::async_result::AsyncResult;
use super::process_pool::Pool;
use super::results::Imap;
use crate::Error;

/// Python's `ProcessPoolExecutor`: `submit` is [`Pool::submit`], `map` is [`Pool::imap`]
/// (the results in order, each as it comes), `shutdown` is [`Pool::shutdown`].
///
/// ```
/// use mp_futures::Executor;
/// use mp_processes::{Error, Pool};
///
/// fn lengths(executor: &impl Executor<Error = Error>, words: Vec<String>) -> Result<Vec<usize>, Error> {
///     executor.map(|word: String| word.len(), words)?.collect()
/// }
///
/// let pool = Pool::new(2)?;
/// assert_eq!(lengths(&pool, vec!["one".into(), "three".into()])?, [3, 5]);
/// # Ok::<(), Error>(())
/// ```
impl Executor for Pool {
    type Error = Error;
    type Map<R: Portable> = Imap<R>;

    fn submit<F, A>(&self, function: F, args: A) -> Result<AsyncResult<F::Output>, Error>
    where
        F: Call<A> + Copy + Send + Sync + 'static,
        A: Portable,
        F::Output: Portable,
    {
        Pool::submit(self, function, args)
    }

    fn map<F, T, I>(&self, function: F, items: I) -> Result<Imap<F::Output>, Error>
    where
        F: Call<(T,)> + Copy + Send + Sync + 'static,
        T: Portable,
        F::Output: Portable,
        I: IntoIterator<Item = T>,
    {
        self.imap(function, items)
    }

    fn shutdown(&self, wait: bool, cancel_futures: bool) {
        Pool::shutdown(self, wait, cancel_futures);
    }
}
