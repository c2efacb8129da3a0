//! [`Call`]: a function called with a tuple of arguments, as Python's
//! `Thread(target=f, args=(a, b))` and `Process(target=f, args=(a, b))` take one.
//!
//! Rust has no variadic functions, so a thread, a pool task, a timer or a child process
//! that takes "a function and its arguments" takes a function and a tuple, and unpacks the
//! tuple when it calls. The trait has no bounds of its own: each crate states what it
//! needs on top (`Send + 'static` to cross threads; `Copy`, no captured state, to cross
//! into a spawned process).

/// A function called once with its arguments packed in a tuple.
///
/// It is implemented for every `FnOnce` of 0 to 8 arguments, with `Args` the tuple of its
/// argument types: `()`, `(A,)`, `(A, B)`, and so on. Named functions work as they are; a
/// closure that takes arguments needs its argument types written out (`|n: u64| n * 2`),
/// because Rust infers a closure's signature only from a bare `Fn*` bound. Closures with
/// no arguments need nothing.
///
/// ```
/// use mp_sys::Call;
///
/// fn add(a: i32, b: i32) -> i32 {
///     a + b
/// }
/// assert_eq!(add.call((2, 3)), 5);
/// assert_eq!((|| "no arguments").call(()), "no arguments");
/// assert_eq!((|s: &str, n: usize| s.repeat(n)).call(("ab", 2)), "abab");
/// ```
pub trait Call<Args> {
    /// What the function returns.
    type Output;

    /// Calls the function with the arguments unpacked from the tuple.
    ///
    /// ```
    /// use mp_sys::Call;
    ///
    /// assert_eq!((|a: u8, b: u8| a * b).call((6, 7)), 42);
    /// ```
    fn call(self, args: Args) -> Self::Output;
}

macro_rules! impl_call {
    ($($arg:ident),*) => {
        impl<Func, Out, $($arg,)*> Call<($($arg,)*)> for Func
        where
            Func: FnOnce($($arg,)*) -> Out,
        {
            type Output = Out;

            #[allow(non_snake_case)]
            #[inline]
            fn call(self, args: ($($arg,)*)) -> Out {
                let ($($arg,)*) = args;
                self($($arg,)*)
            }
        }
    };
}

impl_call!();
impl_call!(A1);
impl_call!(A1, A2);
impl_call!(A1, A2, A3);
impl_call!(A1, A2, A3, A4);
impl_call!(A1, A2, A3, A4, A5);
impl_call!(A1, A2, A3, A4, A5, A6);
impl_call!(A1, A2, A3, A4, A5, A6, A7);
impl_call!(A1, A2, A3, A4, A5, A6, A7, A8);

#[cfg(test)]
mod tests {
    use super::Call;

    #[allow(clippy::too_many_arguments)] // eight is the most a call takes
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
            (|a: i32, b: i32, c: i32| [a, b, c]).call((1, 2, 3)),
            [1, 2, 3]
        );
        assert_eq!(
            (|a: i32, b: i32, c: i32, d: i32| [a, b, c, d]).call((1, 2, 3, 4)),
            [1, 2, 3, 4]
        );
        assert_eq!(
            (|a: i32, b: i32, c: i32, d: i32, e: i32| [a, b, c, d, e]).call((1, 2, 3, 4, 5)),
            [1, 2, 3, 4, 5]
        );
        assert_eq!(
            (|a: i32, b: i32, c: i32, d: i32, e: i32, f: i32| [a, b, c, d, e, f])
                .call((1, 2, 3, 4, 5, 6)),
            [1, 2, 3, 4, 5, 6]
        );
        assert_eq!(
            (|a: i32, b: i32, c: i32, d: i32, e: i32, f: i32, g: i32| [a, b, c, d, e, f, g])
                .call((1, 2, 3, 4, 5, 6, 7)),
            [1, 2, 3, 4, 5, 6, 7]
        );
        assert_eq!(sum8.call((1, 2, 3, 4, 5, 6, 7, 8)), 36);
    }

    #[test]
    fn a_moved_capture_is_consumed_once() {
        let owned = String::from("once");
        assert_eq!((move || owned).call(()), "once");
    }
}
