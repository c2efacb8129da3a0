//! [`Manager`]: starts (or reaches) a server and makes proxies on it.

use std::marker::PhantomData;
use std::time::{Duration, Instant};

use mp_processes::{Process, ProcessHandle};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::link::Link;
use crate::protocol::{Kind, Request};
use crate::served::{Proxy, Registry, Served};
use crate::{Barrier, Condition, Dict, Error, Event, List, Lock, Queue, Semaphore, Value};

/// How long [`Manager::start`] waits for its server to listen.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A server process holding shared objects, and the way to make proxies on it
/// (Python's `multiprocessing.Manager()`).
///
/// Dropping a started manager kills its server (Python's `shutdown()`); the proxies
/// then fail with [`Error::ServerGone`]. The server is a daemonic child, so it also
/// dies with its owner, even one killed by SIGKILL.
///
/// ```
/// use mp_managers::Manager;
///
/// let manager = Manager::start()?;
/// let scores = manager.dict::<String, u32>()?;
/// scores.set(&"ada".into(), &3)?;
/// assert_eq!(scores.get(&"ada".into())?, Some(3));
/// # Ok::<(), mp_managers::Error>(())
/// ```
#[derive(Debug)]
pub struct Manager {
    link: Link,
    server: Option<ProcessHandle<Result<(), String>>>,
}

impl Manager {
    /// Starts a server process with mp-processes' default start method, on a private
    /// abstract Unix address with a random key, and waits until it listens.
    ///
    /// Fails with [`Error::Process`] if the process cannot start, and
    /// [`Error::StartTimedOut`] if it does not listen in time.
    ///
    /// ```
    /// let manager = mp_managers::Manager::start()?;
    /// assert!(manager.address().starts_with('@'));
    /// # Ok::<(), mp_managers::Error>(())
    /// ```
    pub fn start() -> Result<Self, Error> {
        Self::builder().start()
    }

    /// A builder, to register [`Served`] types before starting (Python's
    /// `BaseManager.register` then `start()`).
    ///
    /// ```
    /// use mp_managers::{Manager, Served};
    ///
    /// #[derive(Default)]
    /// struct Log(Vec<String>);
    /// impl Served for Log {
    ///     type Request = String;
    ///     type Response = usize;
    ///     fn handle(&mut self, line: String) -> usize {
    ///         self.0.push(line);
    ///         self.0.len()
    ///     }
    /// }
    ///
    /// let manager = Manager::builder().register::<Log>().start()?;
    /// assert_eq!(manager.served::<Log>()?.call(&"started".into())?, 1);
    /// # Ok::<(), mp_managers::Error>(())
    /// ```
    pub fn builder() -> ManagerBuilder<()> {
        ManagerBuilder {
            registry: PhantomData,
        }
    }

    fn start_with<R: Registry>() -> Result<Self, Error> {
        let mut authkey = vec![0u8; 32];
        let mut nonce = [0u8; 8];
        getrandom::fill(&mut authkey)
            .and_then(|()| getrandom::fill(&mut nonce))
            .map_err(|err| Error::NoRandomness {
                code: err.raw_os_error(),
            })?;
        let address = format!(
            "@mp-manager-{}-{:016x}",
            std::process::id(),
            u64::from_ne_bytes(nonce)
        );
        let server = Process::new(
            crate::server::serve_in_child::<R>,
            (address.clone(), authkey.clone()),
        )
        .name("manager")
        .daemon(true)
        .start()?;
        let manager = Manager {
            link: Link::new(address, authkey),
            server: Some(server),
        };
        manager.wait_listening()?;
        Ok(manager)
    }

    fn wait_listening(&self) -> Result<(), Error> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            match self.link.connect() {
                Ok(()) => return Ok(()),
                Err(Error::ServerGone { .. }) if Instant::now() < deadline => {
                    if let Some(server) = &self.server
                        && !server.is_alive()
                    {
                        return Err(Error::ServerGone {
                            address: self.address().to_owned(),
                        });
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(Error::ServerGone { .. }) => return Err(Error::StartTimedOut),
                Err(other) => return Err(other),
            }
        }
    }

    /// A manager for a server that another process runs with [`serve`](crate::serve),
    /// maybe on another machine (Python's `BaseManager(address, authkey).connect()`).
    ///
    /// Fails with [`Error::Ipc`] (`AuthenticationFailed`) for a wrong key and
    /// [`Error::ServerGone`] if nothing listens there.
    ///
    /// ```
    /// let nobody = mp_managers::Manager::connect("@mp-doc-nobody-listens", b"key");
    /// assert!(matches!(nobody, Err(mp_managers::Error::ServerGone { .. })));
    /// ```
    pub fn connect(address: &str, authkey: &[u8]) -> Result<Self, Error> {
        let link = Link::new(address.to_owned(), authkey.to_vec());
        link.connect()?;
        Ok(Manager { link, server: None })
    }

    /// Where the server listens (`@name` for an abstract Unix address).
    ///
    /// ```
    /// let manager = mp_managers::Manager::start()?;
    /// println!("serving at {}", manager.address());
    /// # Ok::<(), mp_managers::Error>(())
    /// ```
    pub fn address(&self) -> &str {
        self.link.address()
    }

    /// The server process's id, for a manager that started one.
    ///
    /// ```
    /// let manager = mp_managers::Manager::start()?;
    /// assert_ne!(manager.server_pid(), Some(std::process::id()));
    /// # Ok::<(), mp_managers::Error>(())
    /// ```
    pub fn server_pid(&self) -> Option<u32> {
        self.server.as_ref().map(ProcessHandle::pid)
    }

    fn create(&self, kind: Kind, name: Option<&str>) -> Result<u64, Error> {
        let request = Request::Create {
            kind,
            name: name.map(str::to_owned),
        };
        match self.link.call(request)? {
            crate::protocol::Reply::Created(id) => Ok(id),
            other => Err(crate::link::unexpected(&other)),
        }
    }

    /// A new empty dict on the server (Python's `manager.dict()`).
    ///
    /// ```
    /// let manager = mp_managers::Manager::start()?;
    /// let dict = manager.dict::<u8, String>()?;
    /// assert!(dict.is_empty()?);
    /// # Ok::<(), mp_managers::Error>(())
    /// ```
    pub fn dict<K, V>(&self) -> Result<Dict<K, V>, Error>
    where
        K: Serialize + DeserializeOwned,
        V: Serialize + DeserializeOwned,
    {
        Ok(Dict::new(self.link.clone(), self.create(Kind::Dict, None)?))
    }

    /// The dict called `name` on the server, made empty on first use: how a client of
    /// [`connect`](Self::connect) finds the objects others share.
    ///
    /// ```
    /// let manager = mp_managers::Manager::start()?;
    /// manager.named_dict::<u8, u8>("shared")?.set(&1, &2)?;
    /// assert_eq!(manager.named_dict::<u8, u8>("shared")?.get(&1)?, Some(2));
    /// # Ok::<(), mp_managers::Error>(())
    /// ```
    pub fn named_dict<K, V>(&self, name: &str) -> Result<Dict<K, V>, Error>
    where
        K: Serialize + DeserializeOwned,
        V: Serialize + DeserializeOwned,
    {
        Ok(Dict::new(
            self.link.clone(),
            self.create(Kind::Dict, Some(name))?,
        ))
    }

    /// A new empty list on the server (Python's `manager.list()`).
    ///
    /// ```
    /// let manager = mp_managers::Manager::start()?;
    /// let list = manager.list::<String>()?;
    /// list.append(&"x".into())?;
    /// assert_eq!(list.len()?, 1);
    /// # Ok::<(), mp_managers::Error>(())
    /// ```
    pub fn list<T: Serialize + DeserializeOwned>(&self) -> Result<List<T>, Error> {
        Ok(List::new(self.link.clone(), self.create(Kind::List, None)?))
    }

    /// The list called `name` on the server, made empty on first use.
    ///
    /// ```
    /// let manager = mp_managers::Manager::start()?;
    /// manager.named_list::<u8>("log")?.append(&7)?;
    /// assert_eq!(manager.named_list::<u8>("log")?.to_vec()?, [7]);
    /// # Ok::<(), mp_managers::Error>(())
    /// ```
    pub fn named_list<T: Serialize + DeserializeOwned>(
        &self,
        name: &str,
    ) -> Result<List<T>, Error> {
        Ok(List::new(
            self.link.clone(),
            self.create(Kind::List, Some(name))?,
        ))
    }

    /// A new shared value on the server holding `initial` (Python's `manager.Namespace()`
    /// with a serde struct for its attributes, or `manager.Value`).
    ///
    /// ```
    /// let manager = mp_managers::Manager::start()?;
    /// let counter = manager.value(&0u64)?;
    /// counter.update(|n| n + 1)?;
    /// assert_eq!(counter.get()?, 1);
    /// # Ok::<(), mp_managers::Error>(())
    /// ```
    pub fn value<T: Serialize + DeserializeOwned>(&self, initial: &T) -> Result<Value<T>, Error> {
        let entry = self.dict::<(), T>()?;
        entry.set(&(), initial)?;
        Ok(Value::new(entry))
    }

    /// A new FIFO queue on the server, holding at most `maxsize` values (`None`: no
    /// bound), as Python's `manager.Queue(maxsize)`.
    ///
    /// ```
    /// let manager = mp_managers::Manager::start()?;
    /// let queue = manager.queue::<String>(Some(10))?;
    /// queue.put(&"job".into())?;
    /// assert_eq!(queue.qsize()?, 1);
    /// # Ok::<(), mp_managers::Error>(())
    /// ```
    pub fn queue<T: Serialize + DeserializeOwned>(
        &self,
        maxsize: Option<usize>,
    ) -> Result<Queue<T>, Error> {
        let maxsize = maxsize.map(|max| max as u64);
        Ok(Queue::new(
            self.link.clone(),
            self.create(Kind::Queue { maxsize }, None)?,
        ))
    }

    /// A new semaphore on the server with `value` counts (Python's
    /// `manager.Semaphore(value)`).
    ///
    /// ```
    /// let manager = mp_managers::Manager::start()?;
    /// let slots = manager.semaphore(1)?;
    /// slots.acquire()?;
    /// slots.release()?;
    /// slots.release()?; // unbounded: the count grows to 2
    /// # Ok::<(), mp_managers::Error>(())
    /// ```
    pub fn semaphore(&self, value: usize) -> Result<Semaphore, Error> {
        self.semaphore_of(value as u64, None)
    }

    /// A new semaphore whose count cannot be released past `value` (Python's
    /// `manager.BoundedSemaphore(value)`).
    ///
    /// ```
    /// let manager = mp_managers::Manager::start()?;
    /// let slots = manager.bounded_semaphore(1)?;
    /// assert!(slots.release().is_err());
    /// # Ok::<(), mp_managers::Error>(())
    /// ```
    pub fn bounded_semaphore(&self, value: usize) -> Result<Semaphore, Error> {
        self.semaphore_of(value as u64, Some(value as u64))
    }

    /// A new lock on the server, unlocked (Python's `manager.Lock()`).
    ///
    /// ```
    /// let manager = mp_managers::Manager::start()?;
    /// let lock = manager.lock()?;
    /// lock.try_acquire()?;
    /// lock.release()?;
    /// # Ok::<(), mp_managers::Error>(())
    /// ```
    pub fn lock(&self) -> Result<Lock, Error> {
        self.semaphore_of(1, Some(1))
    }

    fn semaphore_of(&self, initial: u64, bound: Option<u64>) -> Result<Semaphore, Error> {
        let kind = Kind::Semaphore { initial, bound };
        Ok(Semaphore::new(self.link.clone(), self.create(kind, None)?))
    }

    /// A new barrier on the server for `parties` callers (Python's
    /// `manager.Barrier(parties)`).
    ///
    /// ```
    /// let manager = mp_managers::Manager::start()?;
    /// assert_eq!(manager.barrier(1)?.wait()?, 0);
    /// # Ok::<(), mp_managers::Error>(())
    /// ```
    pub fn barrier(&self, parties: usize) -> Result<Barrier, Error> {
        let kind = Kind::Barrier {
            parties: parties as u64,
        };
        Ok(Barrier::new(self.link.clone(), self.create(kind, None)?))
    }

    /// A new condition variable on the server using `lock`, or a new lock of its own
    /// (Python's `manager.Condition(lock=None)`).
    ///
    /// ```
    /// let manager = mp_managers::Manager::start()?;
    /// let lock = manager.lock()?;
    /// let condition = manager.condition(Some(lock.clone()))?;
    /// condition.acquire()?;
    /// assert!(lock.try_acquire().is_err()); // the same lock
    /// # Ok::<(), mp_managers::Error>(())
    /// ```
    pub fn condition(&self, lock: Option<Lock>) -> Result<Condition, Error> {
        let lock = match lock {
            Some(lock) => lock,
            None => self.lock()?,
        };
        let id = self.create(Kind::Condition, None)?;
        Ok(Condition::new(self.link.clone(), id, lock))
    }

    /// A new event on the server, not set (Python's `manager.Event()`).
    ///
    /// ```
    /// let manager = mp_managers::Manager::start()?;
    /// assert!(!manager.event()?.is_set()?);
    /// # Ok::<(), mp_managers::Error>(())
    /// ```
    pub fn event(&self) -> Result<Event, Error> {
        Ok(Event::new(
            self.link.clone(),
            self.create(Kind::Event, None)?,
        ))
    }

    /// A new default value of the registered type `S`, served by the server; fails with
    /// [`Refusal::NotRegistered`](crate::Refusal::NotRegistered) if the server was not
    /// built with `S`.
    ///
    /// ```
    /// use mp_managers::{Error, Manager, Refusal, Served};
    ///
    /// #[derive(Default)]
    /// struct Nothing;
    /// impl Served for Nothing {
    ///     type Request = ();
    ///     type Response = ();
    ///     fn handle(&mut self, (): ()) {}
    /// }
    ///
    /// let plain = Manager::start()?;
    /// let refused = plain.served::<Nothing>();
    /// assert!(matches!(refused, Err(Error::Refused(Refusal::NotRegistered { .. }))));
    /// # Ok::<(), mp_managers::Error>(())
    /// ```
    pub fn served<S: Served>(&self) -> Result<Proxy<S>, Error> {
        self.served_of(None)
    }

    /// The served value of type `S` called `name`, made on first use: how clients of
    /// [`connect`](Self::connect) share one.
    ///
    /// ```
    /// use mp_managers::{Manager, Served};
    ///
    /// #[derive(Default)]
    /// struct Total(u64);
    /// impl Served for Total {
    ///     type Request = u64;
    ///     type Response = u64;
    ///     fn handle(&mut self, n: u64) -> u64 {
    ///         self.0 += n;
    ///         self.0
    ///     }
    /// }
    ///
    /// let manager = Manager::builder().register::<Total>().start()?;
    /// manager.named_served::<Total>("t")?.call(&2)?;
    /// assert_eq!(manager.named_served::<Total>("t")?.call(&3)?, 5);
    /// # Ok::<(), mp_managers::Error>(())
    /// ```
    pub fn named_served<S: Served>(&self, name: &str) -> Result<Proxy<S>, Error> {
        self.served_of(Some(name))
    }

    fn served_of<S: Served>(&self, name: Option<&str>) -> Result<Proxy<S>, Error> {
        let request = Request::CreateServed {
            type_name: std::any::type_name::<S>().to_owned(),
            name: name.map(str::to_owned),
        };
        match self.link.call(request)? {
            crate::protocol::Reply::Created(id) => Ok(Proxy::new(self.link.clone(), id)),
            other => Err(crate::link::unexpected(&other)),
        }
    }
}

impl Drop for Manager {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            // The server never returns by itself: kill it and reap it (bounded).
            let _ = server.kill();
            let _ = server.join_timeout(Duration::from_secs(5));
        }
    }
}

/// Builds a [`Manager`] whose server also serves the [`Served`] types registered on it.
///
/// ```
/// use mp_managers::{Manager, Served};
///
/// #[derive(Default)]
/// struct A;
/// impl Served for A {
///     type Request = ();
///     type Response = char;
///     fn handle(&mut self, (): ()) -> char {
///         'a'
///     }
/// }
/// #[derive(Default)]
/// struct B;
/// impl Served for B {
///     type Request = ();
///     type Response = char;
///     fn handle(&mut self, (): ()) -> char {
///         'b'
///     }
/// }
///
/// let manager = Manager::builder().register::<A>().register::<B>().start()?;
/// assert_eq!(manager.served::<B>()?.call(&())?, 'b');
/// # Ok::<(), mp_managers::Error>(())
/// ```
#[derive(Debug)]
pub struct ManagerBuilder<R> {
    registry: PhantomData<fn() -> R>,
}

impl<R: Registry> ManagerBuilder<R> {
    /// Adds `S` to the types the server serves.
    ///
    /// ```
    /// use mp_managers::{Manager, Served};
    ///
    /// #[derive(Default)]
    /// struct Unit;
    /// impl Served for Unit {
    ///     type Request = ();
    ///     type Response = ();
    ///     fn handle(&mut self, (): ()) {}
    /// }
    ///
    /// let builder = Manager::builder().register::<Unit>();
    /// # drop(builder);
    /// ```
    pub fn register<S: Served>(self) -> ManagerBuilder<(R, S)> {
        ManagerBuilder {
            registry: PhantomData,
        }
    }

    /// Starts the server process, as [`Manager::start`] does.
    ///
    /// ```
    /// let manager = mp_managers::Manager::builder().start()?;
    /// # drop(manager);
    /// # Ok::<(), mp_managers::Error>(())
    /// ```
    pub fn start(self) -> Result<Manager, Error> {
        Manager::start_with::<R>()
    }

    /// Serves in this process on `address`, with the registered types, for clients of
    /// [`Manager::connect`] (as [`serve`](crate::serve)); blocks for good.
    ///
    /// ```no_run
    /// mp_managers::Manager::builder().serve("127.0.0.1:50000", b"secret")?;
    /// # Ok::<(), mp_managers::Error>(())
    /// ```
    pub fn serve(self, address: &str, authkey: &[u8]) -> Result<(), Error> {
        crate::server::serve_registered::<R>(address, authkey)
    }
}
