//! [`Target`]: a function with no captured state, called with a tuple of arguments.
//!
//! Unpacking the tuple is mp-sys's [`Call`], written once for the workspace; what is this
//! crate's own is the stricter bound a child process needs (a function it can find by
//! address, so `Copy`, `Sync` and `'static`).

use mp_sys::Call;

/// A function that a child process calls with an argument tuple, as Python's
/// `Process(target=f, args=(a, b))`.
///
/// It is implemented for every function of 0 to 8 arguments (mp-sys's [`Call`]) that is
/// `Copy + Send + Sync + 'static`, with `Args` the tuple of its argument types. [`Process::new`](crate::Process::new)
/// also requires the function to have no size: a function item (`fn add(..)`) or a
/// closure that captures nothing. Such a function has exactly one value, so the child
/// needs only to know *which* function it is, and learns that from its address: the
/// function crosses to a spawned child as an offset inside the binary, never as data.
/// A closure that captures something is refused at compile time; run it with
/// [`Process::fork`](crate::Process::fork) instead.
///
/// A closure that takes arguments needs its argument types written out
/// (`|n: u64| n * 2`), because Rust infers a closure's signature only from a bare
/// `Fn*` bound.
///
/// ```
/// use mp_processes::Target;
///
/// fn add(a: i32, b: i32) -> i32 {
///     a + b
/// }
/// assert_eq!(add.call((2, 3)), 5);
/// assert_eq!((|| "no arguments").call(()), "no arguments");
/// assert_eq!((|s: String, n: usize| s.repeat(n)).call(("ab".to_owned(), 2)), "abab");
/// ```
pub trait Target<Args>: Copy + Send + Sync + 'static {
    /// What the function returns.
    type Output;

    /// Calls the function with the arguments unpacked from the tuple (in this process;
    /// a child process does the same with the arguments it received).
    ///
    /// ```
    /// use mp_processes::Target;
    ///
    /// assert_eq!((|a: u8, b: u8| a * b).call((6, 7)), 42);
    /// ```
    fn call(self, args: Args) -> Self::Output;
}

/// Every `Copy + Send + Sync + 'static` function of mp-sys's [`Call`] (which unpacks the
/// tuple, for 0 to 8 arguments) is a target; this trait adds only the bounds a function
/// needs to be named to another process.
impl<Func, Args> Target<Args> for Func
where
    Func: Call<Args> + Copy + Send + Sync + 'static,
{
    type Output = <Func as Call<Args>>::Output;

    #[inline]
    fn call(self, args: Args) -> Self::Output {
        Call::call(self, args)
    }
}

#[cfg(test)]
mod tests {
    use super::Target;

    #[allow(clippy::too_many_arguments)] // eight is the most a target takes
    fn sum8(a: u8, b: u16, c: u32, d: u64, e: i8, f: i16, g: i32, h: i64) -> i128 {
        [
            i128::from(a),
            i128::from(b),
            i128::from(c),
            i128::from(d),
            i128::from(e),
            i128::from(f),
            i128::from(g),
            i128::from(h),
        ]
        .iter()
        .sum()
    }

    #[test]
    fn every_arity_unpacks_in_order() {
        assert_eq!((|| 0).call(()), 0);
        assert_eq!((|a: i32| a).call((1,)), 1);
        assert_eq!((|a: i32, b: i32| a * 10 + b).call((1, 2)), 12);
        assert_eq!(
            (|a: i32, b: i32, c: i32, d: i32, e: i32| [a, b, c, d, e]).call((1, 2, 3, 4, 5)),
            [1, 2, 3, 4, 5]
        );
        assert_eq!(sum8.call((1, 2, 3, 4, 5, 6, 7, 8)), 36);
    }
}
