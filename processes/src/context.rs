//! [`Context`]: processes with a chosen start method, as Python's `get_context(method)`.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::process::Process;
use crate::start_method::StartMethod;
use crate::target::Target;

/// Makes processes that start with one method, as Python's
/// `multiprocessing.get_context("spawn")`: a library can pick its method without
/// touching the process-wide default ([`set_start_method`](crate::set_start_method)).
///
/// ```
/// use mp_processes::{Context, StartMethod};
///
/// let ctx = Context::new(StartMethod::Spawn);
/// let child = ctx.process(|a: i32, b: i32| a + b, (2, 3)).start()?;
/// assert_eq!(child.start_method(), StartMethod::Spawn);
/// assert_eq!(child.join()?, 5);
/// # Ok::<(), mp_processes::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Context {
    method: StartMethod,
}

impl Context {
    /// A context whose processes start with `method`.
    ///
    /// ```
    /// let ctx = mp_processes::Context::new(mp_processes::StartMethod::Fork);
    /// assert_eq!(ctx.start_method(), mp_processes::StartMethod::Fork);
    /// ```
    pub fn new(method: StartMethod) -> Self {
        Context { method }
    }

    /// The method of this context's processes.
    ///
    /// ```
    /// use mp_processes::{Context, StartMethod};
    ///
    /// assert_eq!(Context::new(StartMethod::Forkserver).start_method(), StartMethod::Forkserver);
    /// ```
    pub fn start_method(&self) -> StartMethod {
        self.method
    }

    /// [`Process::new`] with this context's start method.
    ///
    /// ```
    /// use mp_processes::{Context, StartMethod};
    ///
    /// let child = Context::new(StartMethod::Fork).process(|| 7u8, ()).start()?;
    /// assert_eq!(child.join()?, 7);
    /// # Ok::<(), mp_processes::Error>(())
    /// ```
    pub fn process<F, A, R>(&self, target: F, args: A) -> Process<R>
    where
        F: Target<A, Output = R>,
        A: Serialize + DeserializeOwned + Send + 'static,
        R: Serialize + DeserializeOwned + 'static,
    {
        Process::new(target, args).start_method(self.method)
    }
}
