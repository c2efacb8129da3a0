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
/// A closure that captures something is refused when the program is compiled, with one
/// error that names the ways out and a note that points at the call:
///
/// ```compile_fail,E0080
/// use mp_processes::Process;
///
/// let offset = 5u32;
/// // error[E0080]: evaluation panicked: this closure captures variables, and a process
/// // cannot be given what a closure captured. Pass the values as arguments ...
/// let child = Process::new(move |x: u32| x + offset, (1,)).start()?;
/// # Ok::<(), mp_processes::Error>(())
/// ```
///
/// The error comes from `cargo build` (and `cargo test`, `cargo run`), not from `cargo
/// check`: stable Rust cannot bound a generic parameter by its size, so the check is a
/// constant evaluated when the call is compiled to code, which `cargo check` never does.
/// A bound that fails at `cargo check` would have to reject function items too, or
/// make every caller cast them to function pointers.
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

/// The check that a target captures nothing, written once: every generic function
/// that sends a target (or makes one from nothing, in the child) asks for
/// `Stateless::<F>::CHECK`, and a constant is evaluated once per type, so a capturing
/// closure gets one error, not one per function it passes through.
pub(crate) struct Stateless<F>(std::marker::PhantomData<F>);

impl<F> Stateless<F> {
    pub(crate) const CHECK: () = assert!(
        size_of::<F>() == 0,
        "this closure captures variables, and a process cannot be given what a closure \
         captured. Pass the values as arguments instead: Process::new(f, (value,)), \
         pool.apply(f, (value,)), pool.starmap(f, items) for many; or run the closure in \
         a forked child with Process::fork(closure)"
    );
}

#[cfg(test)]
mod tests {
    use super::Target;

    /// Calls `target` twice through the trait: a target is `Copy`, so the same function
    /// can be named to many children.
    fn call_twice<T: Target<(u8, u8), Output = u8>>(target: T) -> [u8; 2] {
        [target.call((6, 7)), target.call((1, 2))]
    }

    fn multiply(a: u8, b: u8) -> u8 {
        a * b
    }

    #[test]
    fn function_items_and_non_capturing_closures_are_targets() {
        // The unpacking of every arity is mp-sys's `Call`, tested there.
        assert_eq!(call_twice(multiply), [42, 2]);
        assert_eq!(call_twice(|a: u8, b: u8| a + b), [13, 3]);
    }
}
