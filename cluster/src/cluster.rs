//! The handle on one Redis server that every queue of a program shares.
//!
//! A blocking `get` holds its connection for as long as it waits, so one connection per
//! program would stall every other call behind it. A [`Cluster`] keeps a small pool of
//! connections instead: each call takes an idle one (or opens one), and gives it back
//! when it is done, so threads never wait on each other's reads.
//!
//! Connections break: the server restarts, a failover moves it, a network path drops.
//! A call whose connection broke opens a new one and tries again, with a backoff that
//! doubles from 10 ms to half a second, until the reconnect bound (5 s unless
//! [`ClusterBuilder::reconnect_for`] says otherwise); then it fails with
//! [`Error::Unreachable`]. It never hangs: every command has a read timeout. A command
//! that broke in flight may have run on the server before the break, so a `put` retried
//! after a break can store its message twice (at-least-once, see the crate docs).
//!
//! A forked child does not use its parent's connections (they are the same sockets):
//! the pool notices the new process id and opens its own.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use redis::{Connection, ConnectionLike, RedisError, RedisResult};

use crate::Error;

/// The environment variable [`Cluster::from_env`] reads, as Ray reads `RAY_ADDRESS`.
///
/// ```
/// assert_eq!(mp_cluster::URL_ENV, "MP_REDIS_URL");
/// ```
pub const URL_ENV: &str = "MP_REDIS_URL";

const FIRST_PAUSE: Duration = Duration::from_millis(10);
const LONGEST_PAUSE: Duration = Duration::from_millis(500);
/// How many idle connections a cluster handle keeps for later calls.
const IDLE_KEPT: usize = 8;

/// A connection to one Redis server, shared by every queue opened through it. Cloning
/// is cheap (the clones share the connections); `&self` everywhere.
///
/// ```
/// # let server = test_support::redis::RedisServer::start()?;
/// # let url = server.url();
/// let cluster = mp_cluster::Cluster::connect(&url)?;
/// let jobs = cluster.queue::<String>("jobs")?;
/// jobs.put(&"resize photo.jpg".to_string())?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct Cluster {
    shared: Arc<Shared>,
}

struct Shared {
    client: redis::Client,
    /// The URL without its password, for messages.
    shown_url: String,
    command_timeout: Duration,
    reconnect_for: Duration,
    /// Idle connections, and the process that opened them.
    idle: Mutex<(u32, Vec<Connection>)>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("url", &self.shown_url)
            .field("command_timeout", &self.command_timeout)
            .field("reconnect_for", &self.reconnect_for)
            .finish_non_exhaustive()
    }
}

/// How a [`Cluster`] connects: the URL, and the bounds on commands and reconnection.
///
/// ```
/// # let server = test_support::redis::RedisServer::start()?;
/// # let url = server.url();
/// use std::time::Duration;
///
/// let cluster = mp_cluster::Cluster::builder(&url)
///     .command_timeout(Duration::from_secs(2))
///     .reconnect_for(Duration::from_secs(30))
///     .connect()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
#[must_use = "a builder does nothing until connect()"]
pub struct ClusterBuilder {
    url: String,
    command_timeout: Duration,
    reconnect_for: Duration,
    /// The PEM certificates of the authorities a `rediss://` server is checked against,
    /// instead of the system's.
    #[cfg(feature = "tls")]
    authorities: Option<Vec<u8>>,
}

impl ClusterBuilder {
    /// How long one command may take before its connection counts as broken (default
    /// 10 s). A blocking take waits longer than this without being taken for broken: its
    /// read timeout is its own wait plus this.
    ///
    /// ```
    /// use std::time::Duration;
    /// let _ = mp_cluster::Cluster::builder("redis://h/").command_timeout(Duration::from_secs(1));
    /// ```
    pub fn command_timeout(mut self, timeout: Duration) -> Self {
        self.command_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// How long a call keeps reconnecting after its connection broke before it fails
    /// with [`Error::Unreachable`] (default 5 s; zero: one attempt).
    ///
    /// ```
    /// use std::time::Duration;
    /// let _ = mp_cluster::Cluster::builder("redis://h/").reconnect_for(Duration::ZERO);
    /// ```
    pub fn reconnect_for(mut self, bound: Duration) -> Self {
        self.reconnect_for = bound;
        self
    }

    /// Checks a `rediss://` server's certificate against the certificate authorities in
    /// `pem` (one or more PEM certificates) instead of the system's, as for a server
    /// whose certificate a private authority signed. Without it the system's
    /// authorities are used, which the `SSL_CERT_FILE` variable replaces: that is how a
    /// worker started with [`Cluster::from_env`] trusts a private authority.
    ///
    /// ```
    /// # let server = test_support::redis::RedisServer::start_tls()?;
    /// # let url = server.url();
    /// # let authority_file = server.authority_file().expect("a TLS server");
    /// // url is rediss://..., authority_file the PEM file of the authority that signed
    /// // the server's certificate.
    /// let authority = std::fs::read(authority_file)?;
    /// let cluster = mp_cluster::Cluster::builder(&url)
    ///     .trust_authorities(authority)
    ///     .connect()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "tls")]
    pub fn trust_authorities(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.authorities = Some(pem.into());
        self
    }

    /// Connects, and checks that the server answers (`PING`), reconnecting as
    /// [`reconnect_for`](Self::reconnect_for) allows.
    ///
    /// ```
    /// let refused = mp_cluster::Cluster::builder("http://not-redis/").connect();
    /// assert!(matches!(refused, Err(mp_cluster::Error::InvalidUrl { .. })));
    /// ```
    pub fn connect(self) -> Result<Cluster, Error> {
        let shown_url = without_password(&self.url);
        let client = self.client().map_err(|err| Error::InvalidUrl {
            url: shown_url.clone(),
            reason: err.to_string(),
        })?;
        let cluster = Cluster {
            shared: Arc::new(Shared {
                client,
                shown_url,
                command_timeout: self.command_timeout,
                reconnect_for: self.reconnect_for,
                idle: Mutex::new((std::process::id(), Vec::new())),
            }),
        };
        cluster.run("PING", |connection| {
            redis::cmd("PING").query::<String>(connection)
        })?;
        tracing::debug!(url = %cluster.shared.shown_url, "cluster connected");
        Ok(cluster)
    }

    /// The client of the URL, with the authorities to trust if some were given.
    fn client(&self) -> RedisResult<redis::Client> {
        // rustls needs a process-wide provider of its cryptography; one the program
        // installed first stays.
        #[cfg(feature = "tls")]
        let _ = rustls::crypto::ring::default_provider().install_default();
        #[cfg(feature = "tls")]
        if let Some(authorities) = &self.authorities {
            let certificates = redis::TlsCertificates {
                client_tls: None,
                root_cert: Some(authorities.clone()),
            };
            return redis::Client::build_with_tls(self.url.as_str(), certificates);
        }
        redis::Client::open(self.url.as_str())
    }
}

impl Cluster {
    /// Connects to the server at `url` (`redis://[user:password@]host[:port][/db]`, or
    /// `rediss://` with the `tls` feature), with the default bounds.
    ///
    /// ```no_run
    /// let cluster = mp_cluster::Cluster::connect("redis://worker:secret@10.0.0.5:6379/0")?;
    /// # Ok::<(), mp_cluster::Error>(())
    /// ```
    pub fn connect(url: &str) -> Result<Cluster, Error> {
        Cluster::builder(url).connect()
    }

    /// Connects to the server named by `MP_REDIS_URL` ([`URL_ENV`]).
    ///
    /// ```no_run
    /// // MP_REDIS_URL=redis://10.0.0.5:6379/ ./my-program
    /// let cluster = mp_cluster::Cluster::from_env()?;
    /// # Ok::<(), mp_cluster::Error>(())
    /// ```
    ///
    /// Without the variable, the error says what to set:
    ///
    /// ```
    /// # if std::env::var_os("MP_REDIS_URL").is_none() {
    /// assert!(matches!(mp_cluster::Cluster::from_env(), Err(mp_cluster::Error::NoUrl)));
    /// # }
    /// ```
    pub fn from_env() -> Result<Cluster, Error> {
        let url = std::env::var(URL_ENV).map_err(|_| Error::NoUrl)?;
        Cluster::connect(&url)
    }

    /// A builder, to set bounds before connecting.
    ///
    /// ```
    /// let builder = mp_cluster::Cluster::builder("redis://127.0.0.1:6379/");
    /// # let _ = builder;
    /// ```
    pub fn builder(url: &str) -> ClusterBuilder {
        ClusterBuilder {
            url: url.to_string(),
            command_timeout: Duration::from_secs(10),
            reconnect_for: Duration::from_secs(5),
            #[cfg(feature = "tls")]
            authorities: None,
        }
    }

    /// The server's URL, without its password.
    ///
    /// ```no_run
    /// let cluster = mp_cluster::Cluster::connect("redis://me:secret@127.0.0.1:6379/")?;
    /// assert!(!cluster.url().contains("secret"));
    /// # Ok::<(), mp_cluster::Error>(())
    /// ```
    pub fn url(&self) -> &str {
        &self.shared.shown_url
    }

    /// Runs `command` on a connection, reconnecting and running it again while the
    /// connection breaks, up to the reconnect bound. `read_timeout` is the extra time
    /// the command may wait on the server (a blocking read), beyond the command timeout.
    pub(crate) fn run<R>(
        &self,
        operation: &'static str,
        command: impl FnMut(&mut Connection) -> RedisResult<R>,
    ) -> Result<R, Error> {
        self.run_waiting(operation, Duration::ZERO, command)
    }

    /// [`run`](Self::run) for a command that waits up to `wait` on the server.
    pub(crate) fn run_waiting<R>(
        &self,
        operation: &'static str,
        wait: Duration,
        command: impl FnMut(&mut Connection) -> RedisResult<R>,
    ) -> Result<R, Error> {
        self.run_reconnecting(operation, wait, self.shared.reconnect_for, command)
    }

    /// [`run`](Self::run) with one attempt only, for clean-ups that must not wait for a
    /// server that is gone.
    pub(crate) fn run_once<R>(
        &self,
        operation: &'static str,
        command: impl FnMut(&mut Connection) -> RedisResult<R>,
    ) -> Result<R, Error> {
        self.run_reconnecting(operation, Duration::ZERO, Duration::ZERO, command)
    }

    fn run_reconnecting<R>(
        &self,
        operation: &'static str,
        wait: Duration,
        reconnect_for: Duration,
        mut command: impl FnMut(&mut Connection) -> RedisResult<R>,
    ) -> Result<R, Error> {
        let started = Instant::now();
        let mut pause = FIRST_PAUSE;
        let mut attempts = 0;
        loop {
            attempts += 1;
            let outcome = self.connection().and_then(|mut connection| {
                let read_timeout = self.shared.command_timeout.saturating_add(wait);
                connection.set_read_timeout(Some(read_timeout))?;
                let outcome = command(&mut connection);
                if outcome
                    .as_ref()
                    .err()
                    .is_none_or(|err| !breaks_connection(err))
                {
                    self.give_back(connection);
                }
                outcome
            });
            match outcome {
                Ok(value) => return Ok(value),
                Err(err) if breaks_connection(&err) => {
                    let waited = started.elapsed();
                    if waited.saturating_add(pause) > reconnect_for {
                        return Err(Error::Unreachable {
                            url: self.shared.shown_url.clone(),
                            attempts,
                            waited,
                            source: err,
                        });
                    }
                    tracing::debug!(%err, attempts, operation, "connection broke; reconnecting");
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(LONGEST_PAUSE);
                }
                Err(source) => return Err(Error::Redis { operation, source }),
            }
        }
    }

    /// An idle connection of this process, or a new one.
    fn connection(&self) -> RedisResult<Connection> {
        {
            let mut idle = self.idle();
            let here = std::process::id();
            if idle.0 != here {
                // Inherited through fork: the parent's sockets. Closing this process's
                // copies leaves the parent's connections alone.
                *idle = (here, Vec::new());
            }
            if let Some(connection) = idle.1.pop() {
                return Ok(connection);
            }
        }
        let connection = self
            .shared
            .client
            .get_connection_with_timeout(self.shared.command_timeout)?;
        connection.set_write_timeout(Some(self.shared.command_timeout))?;
        Ok(connection)
    }

    fn give_back(&self, connection: Connection) {
        let mut idle = self.idle();
        if idle.0 == std::process::id() && idle.1.len() < IDLE_KEPT && connection.is_open() {
            idle.1.push(connection);
        }
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, (u32, Vec<Connection>)> {
        // The list stays consistent whatever panicked while it was locked.
        self.shared
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// Whether `err` leaves its connection unusable (closed, refused, timed out, the server
/// loading its data after a restart): the call may succeed on a new connection.
fn breaks_connection(err: &RedisError) -> bool {
    err.is_io_error()
        || err.is_connection_dropped()
        || err.is_connection_refusal()
        || err.is_timeout()
        || err.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::BusyLoading)
}

/// `url` with its password replaced by `***`, for messages and logs.
fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((credentials, host)) => {
            let user = credentials.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}{path}")
        }
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::without_password;

    #[test]
    fn passwords_never_show() {
        assert_eq!(
            without_password("redis://me:secret@host:6379/0"),
            "redis://me:***@host:6379/0"
        );
        assert_eq!(
            without_password("redis://:secret@host/"),
            "redis://:***@host/"
        );
        assert_eq!(without_password("redis://host:6379/"), "redis://host:6379/");
    }
}
