//! [`Chunked`]: the map family with Python's `chunksize`, as one option instead of a
//! second method per call (`pool.chunked(64).map(f, items)` for Python's
//! `pool.map(f, items, chunksize=64)`).

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::process_pool::Pool;
use super::results::{Imap, ImapUnordered};
use super::submit::{map_all, map_items, one_tuples, submit_items};
use crate::error::Error;
use crate::target::{Stateless, Target};

/// A [`Pool`] whose map calls send `chunksize` items to a worker at once: made by
/// [`Pool::chunked`]. Larger chunks cost less per item; smaller ones balance uneven
/// work better. A zero `chunksize` fails each call with [`Error::InvalidArgument`].
///
/// ```
/// let pool = mp_processes::Pool::new(2)?;
/// let doubled = pool.chunked(100).map(|n: u32| n * 2, 0..1000)?;
/// assert_eq!(doubled.len(), 1000);
/// assert_eq!(doubled[999], 1998);
/// # Ok::<(), mp_processes::Error>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Chunked<'pool> {
    pool: &'pool Pool,
    chunksize: usize,
}

impl<'pool> Chunked<'pool> {
    pub(super) fn new(pool: &'pool Pool, chunksize: usize) -> Self {
        Chunked { pool, chunksize }
    }

    /// [`Pool::map`] in chunks of this size.
    ///
    /// ```
    /// let pool = mp_processes::Pool::new(2)?;
    /// assert_eq!(pool.chunked(2).map(|n: u8| n + 1, [1, 2, 3])?, [2, 3, 4]);
    /// # Ok::<(), mp_processes::Error>(())
    /// ```
    pub fn map<F, T, I>(&self, function: F, items: I) -> Result<Vec<F::Output>, Error>
    where
        F: Target<(T,)>,
        I: IntoIterator<Item = T>,
        T: Serialize + DeserializeOwned + Send + 'static,
        F::Output: Serialize + DeserializeOwned + Send + 'static,
    {
        let () = Stateless::<F>::CHECK;
        map_all(
            self.pool.inner(),
            function,
            one_tuples(items),
            self.chunksize,
        )
    }

    /// [`Pool::starmap`] in chunks of this size.
    ///
    /// ```
    /// let pool = mp_processes::Pool::new(2)?;
    /// let sums = pool.chunked(2).starmap(|a: u8, b: u8| a + b, [(1, 2), (3, 4), (5, 6)])?;
    /// assert_eq!(sums, [3, 7, 11]);
    /// # Ok::<(), mp_processes::Error>(())
    /// ```
    pub fn starmap<F, A, I>(&self, function: F, items: I) -> Result<Vec<F::Output>, Error>
    where
        F: Target<A>,
        I: IntoIterator<Item = A>,
        A: Serialize + DeserializeOwned + Send + 'static,
        F::Output: Serialize + DeserializeOwned + Send + 'static,
    {
        let () = Stateless::<F>::CHECK;
        let items: Vec<A> = items.into_iter().collect();
        map_all(self.pool.inner(), function, items, self.chunksize)
    }

    /// [`Pool::imap`] in chunks of this size.
    ///
    /// ```
    /// let pool = mp_processes::Pool::new(2)?;
    /// let results = pool.chunked(10).imap(|n: u64| n + 1, 0..100)?;
    /// assert_eq!(results.len(), 100);
    /// assert_eq!(results.map(Result::unwrap).sum::<u64>(), 5050);
    /// # Ok::<(), mp_processes::Error>(())
    /// ```
    pub fn imap<F, T, I>(&self, function: F, items: I) -> Result<Imap<F::Output>, Error>
    where
        F: Target<(T,)>,
        I: IntoIterator<Item = T>,
        T: Serialize + DeserializeOwned + Send + 'static,
        F::Output: Serialize + DeserializeOwned + Send + 'static,
    {
        let () = Stateless::<F>::CHECK;
        map_items(
            self.pool.inner(),
            function,
            one_tuples(items),
            self.chunksize,
        )
    }

    /// [`Pool::imap_unordered`] in chunks of this size.
    ///
    /// ```
    /// let pool = mp_processes::Pool::new(2)?;
    /// let results = pool.chunked(8).imap_unordered(|n: u32| n % 7, 0..50)?;
    /// assert_eq!(results.len(), 50);
    /// # Ok::<(), mp_processes::Error>(())
    /// ```
    pub fn imap_unordered<F, T, I>(
        &self,
        function: F,
        items: I,
    ) -> Result<ImapUnordered<F::Output>, Error>
    where
        F: Target<(T,)>,
        I: IntoIterator<Item = T>,
        T: Serialize + DeserializeOwned + Send + 'static,
        F::Output: Serialize + DeserializeOwned + Send + 'static,
    {
        let () = Stateless::<F>::CHECK;
        let _ = function;
        let items = one_tuples(items);
        let len = items.len();
        let results =
            submit_items::<F, (T,), F::Output>(self.pool.inner(), items, self.chunksize, true)?;
        Ok(ImapUnordered::new(results, len))
    }
}
