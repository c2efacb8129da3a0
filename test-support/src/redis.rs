//! A real `redis-server` for tests, never a mock: each test starts its own on a free
//! loopback port, with its data in a folder of its own, and nothing of it outlives the
//! test.
//!
//! A mock answers what its author believed Redis answers; the crates built on Redis
//! Streams depend on exactly the details a mock gets wrong (pending entries, blocking
//! reads, what a restart forgets). So the tests run the Debian package's server, one per
//! test, which also keeps tests from seeing each other's keys.
//!
//! The server runs without persistence (`--save "" --appendonly no`): a restart starts
//! empty, like a failover to a replica that had not caught up.
//! [`RedisServer::start_persistent`] keeps every write in a synced append-only file
//! instead, so that a restart keeps the data. It is asked to die with
//! the thread that started it (`PR_SET_PDEATHSIG`), so a test process killed outright
//! takes its server along; dropping a [`RedisServer`] shuts it down (`SHUTDOWN NOSAVE`,
//! then SIGKILL if it lingers, always reaped, every wait bounded) and removes its folder;
//! the folders of test processes killed before they could are removed by the next start.
//!
//! [`RedisServer::start_tls`] starts a server that takes TLS only on its port
//! (`rediss://`), with a certificate signed by an authority made for it
//! ([`RedisServer::authority_file`]), so that a client under test verifies it as it would
//! in a deployment. The fixture's own commands reach that server through a Unix socket
//! in its folder.
//!
//! The client here speaks just enough of the protocol for fixtures and checks
//! ([`RedisServer::command`]); the code under test uses a real client library.
//!
//! ```
//! use test_support::redis::RedisServer;
//!
//! // Without redis-server installed, the error says how to install it.
//! let server = RedisServer::start()?;
//! server.command(&["SET", "greeting", "hello"])?;
//! assert_eq!(server.keys("*")?, ["greeting"]);
//! assert_eq!(server.dbsize()?, 1);
//! # Ok::<(), test_support::redis::ServerError>(())
//! ```

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use mp_sys::Deadline;

use crate::redis_tls::{TlsFiles, write_certificates};

/// How long a starting server has to answer, and a stopping one to exit.
const STARTUP_BOUND: Duration = Duration::from_secs(5);
/// The start of every server folder's name; the test process's id and a counter follow.
const DIR_PREFIX: &str = "mp-test-redis-";
/// How many fresh ports are tried when the chosen one was taken in the meantime.
const PORT_ATTEMPTS: u32 = 8;
/// The bound on one command of the fixture's own client.
const COMMAND_BOUND: Duration = Duration::from_secs(5);

/// Why a test's Redis server could not be started, queried or stopped.
///
/// ```
/// let error = test_support::redis::ServerError::NotInstalled;
/// assert!(error.to_string().contains("apt-get install"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// No `redis-server` program on `PATH`.
    #[error(
        "redis-server is not installed: install the Debian package \
         (`sudo apt-get install -y redis-server`) or put a Redis 7 `redis-server` on PATH"
    )]
    NotInstalled,
    /// The server exited before it answered.
    #[error("redis-server on port {port} exited before answering; its log ends with:\n{log}")]
    Exited {
        /// The port it was asked to listen on.
        port: u16,
        /// The last lines of its log file.
        log: String,
    },
    /// The server did not answer within the bound (it was killed and reaped).
    #[error("redis-server on port {port} did not answer PING within {bound:?}; it was killed")]
    NotAnswering {
        /// The port it was asked to listen on.
        port: u16,
        /// How long it was given.
        bound: Duration,
    },
    /// No free port was found in several attempts.
    #[error("no free loopback port for redis-server after {attempts} attempts")]
    NoFreePort {
        /// How many ports were tried.
        attempts: u32,
    },
    /// The port of a restarted server stayed taken by another program for the whole bound.
    #[error("port {port} stayed taken by another program: redis-server cannot restart on it")]
    PortTaken {
        /// The port.
        port: u16,
    },
    /// A system call or a socket operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The certificates of a TLS server could not be made.
    #[error("making redis-server's TLS certificates: {reason}")]
    Certificates {
        /// What the certificate generator said.
        reason: String,
    },
    /// The server answered a command with an error or an unexpected shape.
    #[error("redis-server answered `{command}` with {reply}")]
    Reply {
        /// The command's name.
        command: String,
        /// What came back.
        reply: String,
    },
}

impl ServerError {
    pub(crate) fn io(what: &'static str) -> impl FnOnce(std::io::Error) -> Self {
        move |source| ServerError::Io { what, source }
    }
}

/// One reply of the Redis protocol (RESP2), as the fixture's client reads it.
///
/// ```
/// use test_support::redis::Reply;
///
/// assert_eq!(Reply::Integer(3).as_integer(), Some(3));
/// assert_eq!(Reply::Status("OK".into()).as_integer(), None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reply {
    /// A status line (`+OK`).
    Status(String),
    /// An error line (`-ERR ...`).
    Error(String),
    /// An integer (`:3`).
    Integer(i64),
    /// A bulk string, `None` for the null bulk string.
    Bulk(Option<Vec<u8>>),
    /// An array, `None` for the null array.
    Array(Option<Vec<Reply>>),
}

impl Reply {
    /// The integer, if this is one.
    ///
    /// ```
    /// assert_eq!(test_support::redis::Reply::Integer(-2).as_integer(), Some(-2));
    /// ```
    pub fn as_integer(&self) -> Option<i64> {
        match self {
            Reply::Integer(value) => Some(*value),
            _ => None,
        }
    }

    /// The text of a status or bulk string reply.
    ///
    /// ```
    /// use test_support::redis::Reply;
    ///
    /// assert_eq!(Reply::Bulk(Some(b"v".to_vec())).as_text().as_deref(), Some("v"));
    /// assert_eq!(Reply::Bulk(None).as_text(), None);
    /// ```
    pub fn as_text(&self) -> Option<String> {
        match self {
            Reply::Status(text) => Some(text.clone()),
            Reply::Bulk(Some(bytes)) => Some(String::from_utf8_lossy(bytes).into_owned()),
            _ => None,
        }
    }
}

/// A `redis-server` of this test's own, on a free loopback port; dropped, it is shut
/// down and reaped and its folder removed.
///
/// ```
/// use test_support::redis::RedisServer;
///
/// let mut server = RedisServer::start()?;
/// assert!(server.url().starts_with("redis://127.0.0.1:"));
/// server.command(&["SET", "k", "v"])?;
/// server.restart()?; // same port, and empty again: nothing is persisted
/// assert_eq!(server.dbsize()?, 0);
/// # Ok::<(), test_support::redis::ServerError>(())
/// ```
#[derive(Debug)]
pub struct RedisServer {
    port: u16,
    dir: PathBuf,
    process: Option<Child>,
    /// Writes go to an append-only file, synced at each write, and survive a restart.
    persistent: bool,
    /// The certificates of a server that takes TLS only on its port.
    tls: Option<TlsFiles>,
}

/// What kind of server a start makes, and where its files go.
#[derive(Default)]
struct Options {
    persistent: bool,
    tls: bool,
    /// The caller's folder instead of a fresh one under the temporary directory.
    dir: Option<PathBuf>,
}

/// Where the fixture's own client reaches the server.
enum Endpoint<'a> {
    /// The loopback port (a server without TLS).
    Tcp(u16),
    /// The Unix socket in the server's folder (a TLS server, whose port needs TLS).
    Unix(&'a Path),
}

impl RedisServer {
    /// Starts a server on a free loopback port and waits (at most 5 s) until it answers.
    /// A port taken between choosing it and the server binding it is replaced by
    /// another. The program is the `redis-server` on `PATH`; without one,
    /// [`ServerError::NotInstalled`] says how to install it.
    ///
    /// ```
    /// let server = test_support::redis::RedisServer::start()?;
    /// assert_eq!(server.dbsize()?, 0);
    /// # Ok::<(), test_support::redis::ServerError>(())
    /// ```
    pub fn start() -> Result<RedisServer, ServerError> {
        Self::start_with(Options::default())
    }

    /// As [`start`](Self::start), with the server's files in `dir` (created if missing,
    /// and removed with the server) instead of a fresh folder under the temporary
    /// directory: for a program that keeps everything it makes under one folder of its
    /// own.
    ///
    /// ```
    /// let dir = std::env::temp_dir().join(format!("start-in-example-{}", std::process::id()));
    /// let server = test_support::redis::RedisServer::start_in(&dir)?;
    /// assert!(dir.join("redis.log").is_file());
    /// drop(server);
    /// assert!(!dir.exists());
    /// # Ok::<(), test_support::redis::ServerError>(())
    /// ```
    pub fn start_in(dir: &Path) -> Result<RedisServer, ServerError> {
        Self::start_with(Options {
            dir: Some(dir.to_path_buf()),
            ..Options::default()
        })
    }

    /// As [`start`](Self::start), with TLS only on the port: [`url`](Self::url) is
    /// `rediss://127.0.0.1:PORT/`, and a client must trust the authority of
    /// [`authority_file`](Self::authority_file), made for this server alone (its
    /// certificate names `127.0.0.1` and `localhost`). A client without TLS is refused.
    /// The fixture's own commands ([`command`](Self::command), ...) go through a Unix
    /// socket in the server's folder.
    ///
    /// ```
    /// let server = test_support::redis::RedisServer::start_tls()?;
    /// assert!(server.url().starts_with("rediss://127.0.0.1:"));
    /// let authority = std::fs::read_to_string(server.authority_file().expect("a TLS server"))?;
    /// assert!(authority.starts_with("-----BEGIN CERTIFICATE-----"));
    /// assert_eq!(server.dbsize()?, 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn start_tls() -> Result<RedisServer, ServerError> {
        Self::start_with(Options {
            tls: true,
            ..Options::default()
        })
    }

    /// As [`start`](Self::start), with every write in an append-only file synced before
    /// it is answered (`--appendonly yes --appendfsync always`): a
    /// [`restart`](Self::restart) keeps the data, as a server that restarts on a machine
    /// that stays up.
    ///
    /// ```
    /// let mut server = test_support::redis::RedisServer::start_persistent()?;
    /// server.command(&["SET", "kept", "1"])?;
    /// server.restart()?;
    /// assert_eq!(server.keys("*")?, ["kept"]);
    /// # Ok::<(), test_support::redis::ServerError>(())
    /// ```
    pub fn start_persistent() -> Result<RedisServer, ServerError> {
        Self::start_with(Options {
            persistent: true,
            ..Options::default()
        })
    }

    fn start_with(options: Options) -> Result<RedisServer, ServerError> {
        let program = find_program().ok_or(ServerError::NotInstalled)?;
        let dir = match options.dir {
            Some(dir) => {
                std::fs::create_dir_all(&dir)
                    .map_err(ServerError::io("creating redis-server's folder"))?;
                // The server changes into its folder before it opens its log: absolute.
                std::path::absolute(&dir)
                    .map_err(ServerError::io("locating redis-server's folder"))?
            }
            None => make_dir()?,
        };
        let mut server = RedisServer {
            port: 0,
            dir,
            process: None,
            persistent: options.persistent,
            tls: None,
        };
        if options.tls {
            // Dropped on failure, the server removes its folder with them.
            server.tls = Some(write_certificates(&server.dir)?);
        }
        for _ in 0..PORT_ATTEMPTS {
            server.port = free_port()?;
            match server.launch(&program) {
                Ok(()) => return Ok(server),
                Err(Launch::PortTaken) => continue,
                Err(Launch::Failed(error)) => return Err(error),
            }
        }
        Err(ServerError::NoFreePort {
            attempts: PORT_ATTEMPTS,
        })
    }

    /// The port the server listens on.
    ///
    /// ```
    /// let server = test_support::redis::RedisServer::start()?;
    /// assert!(server.url().ends_with(&format!(":{}/", server.port())));
    /// # Ok::<(), test_support::redis::ServerError>(())
    /// ```
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL a client connects to: `redis://127.0.0.1:PORT/`, or `rediss://...` for a
    /// server started with [`start_tls`](Self::start_tls).
    ///
    /// ```
    /// let server = test_support::redis::RedisServer::start()?;
    /// assert!(server.url().starts_with("redis://127.0.0.1:"));
    /// # Ok::<(), test_support::redis::ServerError>(())
    /// ```
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() {
            "rediss"
        } else {
            "redis"
        };
        format!("{scheme}://127.0.0.1:{}/", self.port)
    }

    /// The PEM file of the certificate authority a client must trust to reach a server
    /// started with [`start_tls`](Self::start_tls); `None` for a server without TLS. It
    /// lies in the server's folder, and goes with it.
    ///
    /// ```
    /// let server = test_support::redis::RedisServer::start()?;
    /// assert!(server.authority_file().is_none());
    /// # Ok::<(), test_support::redis::ServerError>(())
    /// ```
    pub fn authority_file(&self) -> Option<&Path> {
        self.tls.as_ref().map(|files| files.authority.as_path())
    }

    /// The server's process id, while it runs.
    ///
    /// ```
    /// let mut server = test_support::redis::RedisServer::start()?;
    /// assert!(server.pid().is_some());
    /// server.stop();
    /// assert_eq!(server.pid(), None);
    /// # Ok::<(), test_support::redis::ServerError>(())
    /// ```
    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(Child::id)
    }

    /// Where the fixture's own client reaches the server.
    fn endpoint(&self) -> Endpoint<'_> {
        match self.tls {
            Some(_) => Endpoint::Unix(&self.dir),
            None => Endpoint::Tcp(self.port),
        }
    }

    /// Whether the server process is running (it was not stopped, and did not die).
    ///
    /// ```
    /// let mut server = test_support::redis::RedisServer::start()?;
    /// assert!(server.is_running());
    /// server.stop();
    /// assert!(!server.is_running());
    /// # Ok::<(), test_support::redis::ServerError>(())
    /// ```
    pub fn is_running(&mut self) -> bool {
        match &mut self.process {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Stops the server (`SHUTDOWN NOSAVE`, then SIGKILL if it lingers), and reaps it.
    /// Clients see their connections closed and new ones refused until
    /// [`restart`](Self::restart). Stopping a stopped server does nothing.
    ///
    /// ```
    /// let mut server = test_support::redis::RedisServer::start()?;
    /// server.stop();
    /// assert!(server.dbsize().is_err());
    /// # Ok::<(), test_support::redis::ServerError>(())
    /// ```
    pub fn stop(&mut self) {
        let Some(mut child) = self.process.take() else {
            return;
        };
        // The server closes the connection instead of answering: any outcome is fine,
        // the wait below is what counts.
        let _ = self.command(&["SHUTDOWN", "NOSAVE"]);
        let deadline = Deadline::after(STARTUP_BOUND);
        while matches!(child.try_wait(), Ok(None)) && !deadline.has_passed() {
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Stops the server if it runs and starts it again on the same port, waiting until it
    /// answers: empty, or with its data if it was started with
    /// [`start_persistent`](Self::start_persistent). For tests of what a client does when
    /// its server goes away and comes back.
    ///
    /// ```
    /// let mut server = test_support::redis::RedisServer::start()?;
    /// let url = server.url();
    /// server.restart()?;
    /// assert_eq!(server.url(), url);
    /// # Ok::<(), test_support::redis::ServerError>(())
    /// ```
    pub fn restart(&mut self) -> Result<(), ServerError> {
        self.stop();
        let program = find_program().ok_or(ServerError::NotInstalled)?;
        // The old socket may linger for a moment, or another test may have taken the
        // port in between: try again until the bound.
        let deadline = Deadline::after(STARTUP_BOUND);
        loop {
            match self.launch(&program) {
                Ok(()) => return Ok(()),
                Err(Launch::PortTaken) if !deadline.has_passed() => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(Launch::PortTaken) => {
                    return Err(ServerError::PortTaken { port: self.port });
                }
                Err(Launch::Failed(error)) => return Err(error),
            }
        }
    }

    /// Runs one command and returns its reply; an error reply is
    /// [`ServerError::Reply`].
    ///
    /// ```
    /// use test_support::redis::Reply;
    ///
    /// let server = test_support::redis::RedisServer::start()?;
    /// assert_eq!(server.command(&["INCR", "n"])?, Reply::Integer(1));
    /// assert!(server.command(&["NO-SUCH-COMMAND"]).is_err());
    /// # Ok::<(), test_support::redis::ServerError>(())
    /// ```
    pub fn command(&self, args: &[&str]) -> Result<Reply, ServerError> {
        let name = args.first().copied().unwrap_or_default().to_string();
        match query(&self.endpoint(), args).map_err(ServerError::io("talking to redis-server"))? {
            Reply::Error(text) => Err(ServerError::Reply {
                command: name,
                reply: text,
            }),
            reply => Ok(reply),
        }
    }

    /// The names of the keys matching `pattern` (`KEYS`), sorted.
    ///
    /// ```
    /// let server = test_support::redis::RedisServer::start()?;
    /// server.command(&["SET", "b", "1"])?;
    /// server.command(&["SET", "a", "1"])?;
    /// assert_eq!(server.keys("*")?, ["a", "b"]);
    /// # Ok::<(), test_support::redis::ServerError>(())
    /// ```
    pub fn keys(&self, pattern: &str) -> Result<Vec<String>, ServerError> {
        let reply = self.command(&["KEYS", pattern])?;
        let Reply::Array(Some(items)) = &reply else {
            return Err(unexpected("KEYS", &reply));
        };
        let mut names = items
            .iter()
            .map(|item| item.as_text().ok_or_else(|| unexpected("KEYS", &reply)))
            .collect::<Result<Vec<_>, _>>()?;
        names.sort();
        Ok(names)
    }

    /// How many keys the server holds (`DBSIZE`).
    ///
    /// ```
    /// let server = test_support::redis::RedisServer::start()?;
    /// assert_eq!(server.dbsize()?, 0);
    /// # Ok::<(), test_support::redis::ServerError>(())
    /// ```
    pub fn dbsize(&self) -> Result<u64, ServerError> {
        let reply = self.command(&["DBSIZE"])?;
        reply
            .as_integer()
            .and_then(|count| u64::try_from(count).ok())
            .ok_or_else(|| unexpected("DBSIZE", &reply))
    }

    /// Starts the server on `self.port` and waits until it answers.
    fn launch(&mut self, program: &Path) -> Result<(), Launch> {
        let log = self.dir.join("redis.log");
        let _ = std::fs::remove_file(&log);
        let mut command = Command::new(program);
        command.args(["--bind", "127.0.0.1"]);
        match &self.tls {
            None => {
                command.arg("--port").arg(self.port.to_string());
            }
            Some(files) => {
                command
                    .args(["--port", "0", "--tls-port"])
                    .arg(self.port.to_string())
                    .arg("--tls-cert-file")
                    .arg(&files.certificate)
                    .arg("--tls-key-file")
                    .arg(&files.key)
                    .arg("--tls-ca-cert-file")
                    .arg(&files.authority)
                    .args(["--tls-auth-clients", "no", "--unixsocketperm", "700"])
                    .arg("--unixsocket")
                    .arg(unix_socket(&self.dir));
            }
        }
        command
            .args(["--save", "", "--daemonize", "no"])
            .args(if self.persistent {
                ["--appendonly", "yes", "--appendfsync", "always"]
            } else {
                ["--appendonly", "no", "--appendfsync", "everysec"]
            })
            .arg("--dir")
            .arg(&self.dir)
            .arg("--logfile")
            .arg(&log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let parent = std::process::id();
        // SAFETY: the closure runs in the forked child before `exec`, where only
        // async-signal-safe work is allowed: it makes two system calls (prctl with a
        // signal number, getppid), allocates nothing and takes no lock.
        unsafe {
            command.pre_exec(move || {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                // The parent may have died before the death signal was armed.
                if libc::getppid() as u32 != parent {
                    return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
                }
                Ok(())
            });
        }
        let child = command
            .spawn()
            .map_err(|err| Launch::Failed(ServerError::io("starting redis-server")(err)))?;
        let pid = child.id();
        self.process = Some(child);
        let deadline = Deadline::after(STARTUP_BOUND);
        loop {
            let exited = match &mut self.process {
                Some(child) => !matches!(child.try_wait(), Ok(None)),
                None => true,
            };
            if exited {
                self.process = None;
                let log = log_tail(&log);
                if log.contains("Address already in use") {
                    return Err(Launch::PortTaken);
                }
                return Err(Launch::Failed(ServerError::Exited {
                    port: self.port,
                    log,
                }));
            }
            // Until it listens (or while it loads) the query fails or answers otherwise.
            if let Ok(Reply::Bulk(Some(info))) = query(&self.endpoint(), &["INFO", "server"]) {
                if serving_pid(&info) == Some(pid) {
                    // INFO answers while the data loads; PING only once it has loaded.
                    if matches!(query(&self.endpoint(), &["PING"]), Ok(Reply::Status(pong)) if pong == "PONG")
                    {
                        return Ok(());
                    }
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                }
                // Another server holds the port: ours cannot bind it.
                self.kill_process();
                return Err(Launch::PortTaken);
            }
            if deadline.has_passed() {
                self.kill_process();
                return Err(Launch::Failed(ServerError::NotAnswering {
                    port: self.port,
                    bound: STARTUP_BOUND,
                }));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn kill_process(&mut self) {
        if let Some(mut child) = self.process.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Why one launch did not give a running server.
enum Launch {
    /// The port was taken: try another (or wait for it).
    PortTaken,
    /// Anything else: give up.
    Failed(ServerError),
}

fn unexpected(command: &str, reply: &Reply) -> ServerError {
    ServerError::Reply {
        command: command.into(),
        reply: format!("{reply:?}"),
    }
}

/// `redis-server` on `PATH`, or, without a `PATH`, in `/usr/bin` (where the Debian
/// package puts it). A `PATH` that holds none means none, so that a test can show what a
/// machine without it does.
fn find_program() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| OsString::from("/usr/bin:/usr/sbin"));
    std::env::split_paths(&path)
        .map(|dir| dir.join("redis-server"))
        .find(|candidate| candidate.is_file())
}

/// A new, empty folder under the temporary directory, unique to this server. Folders
/// of test processes that died without dropping their server (killed, or ended by
/// `exit`) are removed first.
fn make_dir() -> Result<PathBuf, ServerError> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    remove_orphaned_dirs();
    loop {
        let dir = std::env::temp_dir().join(format!(
            "{DIR_PREFIX}{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(err) => return Err(ServerError::io("creating redis-server's folder")(err)),
        }
    }
}

/// Removes the folders whose test process is gone (its id names no process).
fn remove_orphaned_dirs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let owner = name
            .to_str()
            .and_then(|name| name.strip_prefix(DIR_PREFIX))
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<i32>().ok());
        if owner.is_some_and(|pid| !crate::procfs::process_exists(pid)) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// A loopback port nothing listens on right now (the kernel's choice).
fn free_port() -> Result<u16, ServerError> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(ServerError::io("finding a free port"))?;
    let port = listener
        .local_addr()
        .map_err(ServerError::io("finding a free port"))?
        .port();
    Ok(port)
}

/// The last lines of the server's log, for an error message.
fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(10)..].join("\n")
}

/// The `process_id` field of an `INFO server` reply.
fn serving_pid(info: &[u8]) -> Option<u32> {
    String::from_utf8_lossy(info)
        .lines()
        .find_map(|line| line.strip_prefix("process_id:"))
        .and_then(|pid| pid.trim().parse().ok())
}

/// The Unix socket of a TLS server, in its folder `dir`.
fn unix_socket(dir: &Path) -> PathBuf {
    dir.join("redis.sock")
}

/// Sends one command on a fresh connection and reads its reply, every step bounded.
fn query(endpoint: &Endpoint<'_>, args: &[&str]) -> std::io::Result<Reply> {
    match endpoint {
        Endpoint::Tcp(port) => {
            let address = SocketAddr::from((Ipv4Addr::LOCALHOST, *port));
            let stream = TcpStream::connect_timeout(&address, COMMAND_BOUND)?;
            stream.set_read_timeout(Some(COMMAND_BOUND))?;
            stream.set_write_timeout(Some(COMMAND_BOUND))?;
            exchange(stream, args)
        }
        Endpoint::Unix(dir) => {
            // A local socket connects at once or fails at once: no bound needed there.
            let stream = UnixStream::connect(unix_socket(dir))?;
            stream.set_read_timeout(Some(COMMAND_BOUND))?;
            stream.set_write_timeout(Some(COMMAND_BOUND))?;
            exchange(stream, args)
        }
    }
}

/// Writes one command on `stream` and reads its reply.
fn exchange(mut stream: impl std::io::Read + Write, args: &[&str]) -> std::io::Result<Reply> {
    let mut request = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        request.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        request.extend_from_slice(arg.as_bytes());
        request.extend_from_slice(b"\r\n");
    }
    stream.write_all(&request)?;
    read_reply(&mut BufReader::new(stream))
}

fn read_reply(reader: &mut impl BufRead) -> std::io::Result<Reply> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    let line = line.trim_end_matches("\r\n");
    let (kind, rest) = line.split_at(line.len().min(1));
    let number = || -> std::io::Result<i64> {
        rest.parse()
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, line.to_string()))
    };
    Ok(match kind {
        "+" => Reply::Status(rest.into()),
        "-" => Reply::Error(rest.into()),
        ":" => Reply::Integer(number()?),
        "$" => match usize::try_from(number()?) {
            Err(_) => Reply::Bulk(None),
            Ok(len) => {
                let mut bytes = vec![0; len + 2];
                reader.read_exact(&mut bytes)?;
                bytes.truncate(len);
                Reply::Bulk(Some(bytes))
            }
        },
        "*" => match usize::try_from(number()?) {
            Err(_) => Reply::Array(None),
            Ok(len) => Reply::Array(Some(
                (0..len)
                    .map(|_| read_reply(reader))
                    .collect::<std::io::Result<_>>()?,
            )),
        },
        _ => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                line.to_string(),
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropping_the_server_leaves_no_process_and_no_folder() {
        let server = RedisServer::start().expect("start redis-server");
        let pid = server
            .process
            .as_ref()
            .map(Child::id)
            .expect("a running server");
        let dir = server.dir.clone();
        assert!(dir.is_dir());
        drop(server);
        assert!(!crate::procfs::process_exists(pid as i32));
        assert!(!dir.exists());
    }

    #[test]
    fn folders_of_test_processes_that_died_are_removed() {
        let mut ended = Command::new("true").spawn().expect("run true");
        ended.wait().expect("reap true");
        let orphan = std::env::temp_dir().join(format!("{DIR_PREFIX}{}-0", ended.id()));
        std::fs::create_dir_all(&orphan).expect("make an orphaned folder");
        let _server = RedisServer::start().expect("start redis-server");
        assert!(!orphan.exists());
    }

    #[test]
    fn a_restarted_server_answers_on_the_same_port_and_holds_nothing() {
        let mut server = RedisServer::start().expect("start redis-server");
        let port = server.port();
        server.command(&["SET", "k", "v"]).expect("SET");
        server.stop();
        assert!(server.keys("*").is_err());
        server.restart().expect("restart");
        assert_eq!(server.port(), port);
        assert_eq!(server.keys("*").expect("KEYS"), Vec::<String>::new());
    }

    #[test]
    fn a_tls_server_answers_its_fixture_and_refuses_plain_clients_on_its_port() {
        let mut server = RedisServer::start_tls().expect("start a TLS redis-server");
        let dir = server.dir.clone();
        assert!(server.url().starts_with("rediss://127.0.0.1:"));
        assert!(server.authority_file().is_some_and(Path::is_file));
        server
            .command(&["SET", "k", "v"])
            .expect("SET over the Unix socket");
        // A plain client on the port gets no reply: the server waits for a TLS hello.
        let plain = query(&Endpoint::Tcp(server.port()), &["PING"]);
        assert!(plain.is_err(), "a plain client was answered: {plain:?}");
        server.restart().expect("restart");
        assert_eq!(server.dbsize().expect("DBSIZE"), 0);
        drop(server);
        assert!(!dir.exists());
    }

    #[test]
    fn a_server_in_a_chosen_folder_removes_it() {
        let dir = std::env::temp_dir()
            .join(format!("mp-test-chosen-{}", std::process::id()))
            .join("redis");
        let server = RedisServer::start_in(&dir).expect("start redis-server");
        assert!(dir.join("redis.log").is_file());
        drop(server);
        assert!(!dir.exists());
        let _ = std::fs::remove_dir(dir.parent().expect("a parent"));
    }

    #[test]
    fn many_servers_at_once_get_ports_of_their_own() {
        let servers: Vec<RedisServer> = (0..4)
            .map(|_| RedisServer::start().expect("start redis-server"))
            .collect();
        let mut ports: Vec<u16> = servers.iter().map(RedisServer::port).collect();
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), servers.len());
    }
}
