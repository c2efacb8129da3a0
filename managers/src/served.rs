//! Serving a user type (Python's `BaseManager.register`): the user's state lives in the
//! server, and typed requests reach it one at a time. The set of types a server knows is
//! a type (a [`Registry`]), so the server process is one generic function of the binary
//! and crosses to the child like any target: nothing is looked up by name at run time
//! but the type's own name, checked against the registered ones.

use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::link::{Link, decode, encode, unexpected};
use crate::protocol::{Reply, Request};
use crate::{Error, ProtocolFault, Refusal};

/// A type whose value a manager's server holds and serves: each
/// [`request`](Proxy::call) from any process runs [`handle`](Self::handle) on the one
/// value, one at a time, and the response goes back.
///
/// ```
/// use mp_managers::{Manager, Served};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Default)]
/// struct Counter(u64);
///
/// #[derive(Serialize, Deserialize)]
/// enum Ask {
///     Add(u64),
///     Total,
/// }
///
/// impl Served for Counter {
///     type Request = Ask;
///     type Response = u64;
///     fn handle(&mut self, request: Ask) -> u64 {
///         if let Ask::Add(n) = request {
///             self.0 += n;
///         }
///         self.0
///     }
/// }
///
/// let manager = Manager::builder().register::<Counter>().start()?;
/// let counter = manager.served::<Counter>()?;
/// counter.call(&Ask::Add(2))?;
/// assert_eq!(counter.call(&Ask::Total)?, 2);
/// # Ok::<(), mp_managers::Error>(())
/// ```
pub trait Served: Default + Send + 'static {
    /// What a proxy sends.
    type Request: Serialize + DeserializeOwned;
    /// What the server answers.
    type Response: Serialize + DeserializeOwned;

    /// Answers one request, with the state to itself for the call.
    fn handle(&mut self, request: Self::Request) -> Self::Response;
}

/// A served value behind its wire form, as the server holds it.
pub(crate) trait Handler: Send {
    fn handle_bytes(&mut self, request: &[u8]) -> Result<Vec<u8>, Refusal>;
}

struct Holder<S>(S);

impl<S: Served> Handler for Holder<S> {
    fn handle_bytes(&mut self, request: &[u8]) -> Result<Vec<u8>, Refusal> {
        let request = decode(request).map_err(|err| Refusal::Protocol {
            fault: ProtocolFault::UndecodableRequest {
                type_name: std::any::type_name::<S::Request>().to_owned(),
                detail: err.to_string(),
            },
        })?;
        // The state stays the caller's to judge after a panic, as with a poisoned lock:
        // the panic is reported (not printed), and the value keeps what `handle` left.
        let state = &mut self.0;
        let response =
            mp_sys::panic::catch_silently(std::panic::AssertUnwindSafe(|| state.handle(request)))
                .map_err(|caught| Refusal::HandlerPanicked {
                message: caught.message,
            })?;
        encode(&response).map_err(|err| Refusal::Protocol {
            fault: ProtocolFault::UnencodableResponse {
                type_name: std::any::type_name::<S::Response>().to_owned(),
                detail: err.to_string(),
            },
        })
    }
}

/// The set of [`Served`] types a server knows, built by
/// [`ManagerBuilder::register`](crate::ManagerBuilder::register): `()` for none, `(R, S)`
/// for the types of `R` and `S`.
///
/// ```
/// use mp_managers::{Registry, Served};
///
/// #[derive(Default)]
/// struct Echo;
/// impl Served for Echo {
///     type Request = String;
///     type Response = String;
///     fn handle(&mut self, request: String) -> String {
///         request
///     }
/// }
///
/// assert!(<((), Echo)>::knows(std::any::type_name::<Echo>()));
/// assert!(!<()>::knows("anything"));
/// ```
pub trait Registry: 'static {
    /// Whether a type of this name is registered.
    fn knows(type_name: &str) -> bool;

    /// A new default value of the type of this name, as the server holds it.
    #[doc(hidden)]
    #[allow(private_interfaces)]
    fn make(type_name: &str) -> Option<Box<dyn Handler>>;
}

impl Registry for () {
    fn knows(_: &str) -> bool {
        false
    }

    #[allow(private_interfaces)]
    fn make(_: &str) -> Option<Box<dyn Handler>> {
        None
    }
}

impl<R: Registry, S: Served> Registry for (R, S) {
    fn knows(type_name: &str) -> bool {
        type_name == std::any::type_name::<S>() || R::knows(type_name)
    }

    #[allow(private_interfaces)]
    fn make(type_name: &str) -> Option<Box<dyn Handler>> {
        if type_name == std::any::type_name::<S>() {
            Some(Box::new(Holder(S::default())))
        } else {
            R::make(type_name)
        }
    }
}

/// The proxy of a served value (Python's proxy of a registered type): clone it or pass
/// it to another process like any proxy.
///
/// ```
/// use mp_managers::{Manager, Served};
///
/// #[derive(Default)]
/// struct Names(Vec<String>);
/// impl Served for Names {
///     type Request = String;
///     type Response = usize;
///     fn handle(&mut self, name: String) -> usize {
///         self.0.push(name);
///         self.0.len()
///     }
/// }
///
/// let manager = Manager::builder().register::<Names>().start()?;
/// let names = manager.served::<Names>()?;
/// assert_eq!(names.call(&"ada".into())?, 1);
/// assert_eq!(names.clone().call(&"bob".into())?, 2);
/// # Ok::<(), mp_managers::Error>(())
/// ```
#[derive(Serialize, Deserialize)]
#[serde(bound = "")]
pub struct Proxy<S> {
    link: Link,
    id: u64,
    #[serde(skip)]
    types: PhantomData<fn() -> S>,
}

impl<S> Clone for Proxy<S> {
    fn clone(&self) -> Self {
        Proxy {
            link: self.link.clone(),
            id: self.id,
            types: PhantomData,
        }
    }
}

impl<S> std::fmt::Debug for Proxy<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("server", &self.link)
            .field("id", &self.id)
            .finish()
    }
}

impl<S: Served> Proxy<S> {
    pub(crate) fn new(link: Link, id: u64) -> Self {
        Proxy {
            link,
            id,
            types: PhantomData,
        }
    }

    /// Sends `request` to the served value and returns its response.
    ///
    /// ```
    /// use mp_managers::{Manager, Served};
    ///
    /// #[derive(Default)]
    /// struct Max(i64);
    /// impl Served for Max {
    ///     type Request = i64;
    ///     type Response = i64;
    ///     fn handle(&mut self, n: i64) -> i64 {
    ///         self.0 = self.0.max(n);
    ///         self.0
    ///     }
    /// }
    ///
    /// let manager = Manager::builder().register::<Max>().start()?;
    /// let max = manager.served::<Max>()?;
    /// max.call(&7)?;
    /// assert_eq!(max.call(&3)?, 7);
    /// # Ok::<(), mp_managers::Error>(())
    /// ```
    pub fn call(&self, request: &S::Request) -> Result<S::Response, Error> {
        let request = Request::Call {
            id: self.id,
            request: encode(request)?,
        };
        match self.link.call(request)? {
            Reply::Value(Some(bytes)) => decode(&bytes),
            other => Err(unexpected(&other)),
        }
    }
}

#[cfg(test)]
mod tests {
    //! The protocol faults a served value and a proxy report, with their fields.

    use super::*;
    use crate::{MessageKind, ProtocolFault};

    #[derive(Default)]
    struct Echo;

    impl Served for Echo {
        type Request = String;
        type Response = String;
        fn handle(&mut self, request: String) -> String {
            request
        }
    }

    #[test]
    fn a_request_that_does_not_decode_names_its_type() {
        let mut holder = Holder(Echo);
        // A length of 200 with no bytes after it: not a String.
        match holder.handle_bytes(&[200, 1]) {
            Err(Refusal::Protocol {
                fault: ProtocolFault::UndecodableRequest { type_name, detail },
            }) => {
                assert_eq!(type_name, std::any::type_name::<String>());
                assert!(!detail.is_empty());
            }
            other => panic!("{other:?}"),
        }
        let answer = holder.handle_bytes(&encode(&"hi".to_owned()).expect("encodes"));
        assert_eq!(
            decode::<String>(&answer.expect("answered")).expect("decodes"),
            "hi"
        );
    }

    #[test]
    fn a_reply_of_the_wrong_kind_says_what_came() {
        assert!(matches!(
            unexpected(&Reply::Flag(true)),
            Error::Refused(Refusal::Protocol {
                fault: ProtocolFault::UnexpectedReply {
                    got: MessageKind::Flag
                }
            })
        ));
    }
}
