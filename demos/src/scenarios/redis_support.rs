//! A Redis server of the scenario's own, and worker processes that stand in for
//! machines: what `cluster-pool` needs around mp-cluster's `Pool`.
//!
//! The server is the Debian package's `redis-server`, started on a free loopback port
//! with nothing persisted and its folder of its own; it is asked to die with the
//! scenario (`PR_SET_PDEATHSIG`), and dropping it shuts it down, reaps it and removes
//! its folder, every wait bounded. Where it is not installed the scenario is skipped, not
//! failed: it says how to install it.
//!
//! A worker is this very binary started again with the variables mp-cluster reads before
//! `main` (`MP_CLUSTER_WORKER`, `MP_REDIS_URL`, ...), so it serves the pool instead of
//! running the demos. It too dies with the scenario, and dropping it kills and reaps it.
//!
//! The few commands the scenario sends the server itself (`PING`, `DBSIZE`, `KEYS`,
//! `SHUTDOWN`) go over a plain socket here; the pool talks to it through mp-cluster.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use mp::sys::Deadline;
use nix::errno::Errno;
use nix::sys::signal::Signal;

use crate::DemoError;

/// How the scenario says where to get the server when it is missing.
pub(super) const INSTALL_HINT: &str = "redis-server is not installed: install it with \
     `sudo apt-get install redis-server` (or set MP_REDIS_URL to a Redis 7 server)";

/// How long a starting server has to answer, a stopping one to exit, and one command to
/// be answered.
const SERVER_BOUND: Duration = Duration::from_secs(5);

/// How many fresh ports are tried when the chosen one was taken in the meantime.
const PORT_ATTEMPTS: u32 = 5;

/// How long a killed process may take to be reaped: `SIGKILL` ends it at once, so this
/// only bounds a wait that something else went wrong with.
const REAP_BOUND: Duration = Duration::from_secs(10);

/// Asks the kernel to kill the started program when this thread ends, so that nothing
/// outlives a scenario killed outright.
fn die_with_parent(command: &mut Command) {
    let parent = nix::unistd::getpid();
    // SAFETY: `pre_exec` runs the closure in the forked child before `exec`, where only
    // async-signal-safe work is allowed. It makes two system calls (prctl, getppid) and
    // builds its error from a raw errno: it allocates nothing and takes no lock.
    unsafe {
        command.pre_exec(move || {
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)?;
            // The parent may have died before the death signal was armed.
            if nix::unistd::getppid() != parent {
                return Err(Errno::ESRCH.into());
            }
            Ok(())
        });
    }
}

/// Kills `child` (`SIGKILL`) unless it has ended, and reaps it within [`REAP_BOUND`];
/// how it ended, if it was reaped.
fn kill_and_reap(child: &mut Child) -> Option<ExitStatus> {
    if let Ok(Some(status)) = child.try_wait() {
        return Some(status);
    }
    let _ = child.kill();
    let deadline = Deadline::after(REAP_BOUND);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if !deadline.has_passed() => std::thread::sleep(Duration::from_millis(5)),
            _ => return None,
        }
    }
}

/// A `redis-server` of the scenario's own, on a free loopback port; dropped, it is shut
/// down and reaped and its folder removed.
pub(super) struct LocalRedis {
    port: u16,
    dir: PathBuf,
    process: Option<Child>,
}

impl LocalRedis {
    /// Starts a server with its files in `dir` (created, and removed on drop) and waits
    /// until it answers; `None` if `redis-server` is not installed.
    pub(super) fn start(dir: PathBuf) -> Result<Option<LocalRedis>, DemoError> {
        let Some(program) = find_program() else {
            return Ok(None);
        };
        std::fs::create_dir_all(&dir)
            .map_err(|e| DemoError::io(format!("creating {}", dir.display()), e))?;
        // The server changes into its folder before it opens its log: both absolute.
        let dir = std::path::absolute(&dir)
            .map_err(|e| DemoError::io(format!("locating {}", dir.display()), e))?;
        let mut server = LocalRedis {
            port: 0,
            dir,
            process: None,
        };
        for _ in 0..PORT_ATTEMPTS {
            server.port = free_port()?;
            if server.launch(&program)? {
                return Ok(Some(server));
            }
        }
        Err(DemoError::CheckFailed(format!(
            "no free loopback port for redis-server in {PORT_ATTEMPTS} attempts"
        )))
    }

    /// The URL a client connects to.
    pub(super) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// The server's process id.
    pub(super) fn pid(&self) -> u32 {
        self.process.as_ref().map_or(0, Child::id)
    }

    /// The names of the keys the server holds, sorted.
    pub(super) fn keys(&self) -> Result<Vec<String>, DemoError> {
        let mut keys = match query(self.port, &["KEYS", "*"]) {
            Ok(Reply::Array(keys)) => keys,
            Ok(other) => return Err(unexpected("KEYS", &other)),
            Err(e) => return Err(DemoError::io("asking redis-server for its keys", e)),
        };
        keys.sort();
        Ok(keys)
    }

    /// Starts the server on `self.port` and waits until it answers; `false` if another
    /// program took the port first.
    fn launch(&mut self, program: &Path) -> Result<bool, DemoError> {
        let log = self.dir.join("redis.log");
        let mut command = Command::new(program);
        command
            .args(["--bind", "127.0.0.1", "--port"])
            .arg(self.port.to_string())
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .arg("--logfile")
            .arg(&log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        die_with_parent(&mut command);
        let child = command
            .spawn()
            .map_err(|e| DemoError::io(format!("starting {}", program.display()), e))?;
        let pid = child.id();
        self.process = Some(child);
        let deadline = Deadline::after(SERVER_BOUND);
        loop {
            let exited = !matches!(self.process.as_mut().map(Child::try_wait), Some(Ok(None)));
            if exited {
                self.process = None;
                let log = std::fs::read_to_string(&log).unwrap_or_default();
                if log.contains("Address already in use") {
                    return Ok(false);
                }
                let tail: Vec<&str> = log.lines().rev().take(5).collect();
                return Err(DemoError::CheckFailed(format!(
                    "redis-server on port {} exited at once; its log ends: {}",
                    self.port,
                    tail.into_iter().rev().collect::<Vec<_>>().join(" / ")
                )));
            }
            // Until it listens the query fails; then it must be our server answering.
            if let Ok(Reply::Text(info)) = query(self.port, &["INFO", "server"]) {
                if info.lines().any(|line| line == format!("process_id:{pid}")) {
                    if matches!(query(self.port, &["PING"]), Ok(Reply::Text(pong)) if pong == "PONG")
                    {
                        return Ok(true);
                    }
                } else {
                    // Another server holds the port: ours cannot bind it.
                    self.stop();
                    return Ok(false);
                }
            }
            if deadline.has_passed() {
                self.stop();
                return Err(DemoError::CheckFailed(format!(
                    "redis-server on port {} did not answer within {SERVER_BOUND:?}",
                    self.port
                )));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Shuts the server down (`SHUTDOWN NOSAVE`, then `SIGKILL` if it lingers) and reaps
    /// it; doing it twice does nothing.
    pub(super) fn stop(&mut self) {
        let Some(mut child) = self.process.take() else {
            return;
        };
        // The server closes the connection instead of answering: the wait is what counts.
        let _ = query(self.port, &["SHUTDOWN", "NOSAVE"]);
        let deadline = Deadline::after(SERVER_BOUND);
        while matches!(child.try_wait(), Ok(None)) && !deadline.has_passed() {
            std::thread::sleep(Duration::from_millis(5));
        }
        kill_and_reap(&mut child);
    }
}

impl Drop for LocalRedis {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A worker of a cluster pool: this binary again, serving the pool; killed and reaped
/// when dropped.
pub(super) struct WorkerProcess {
    child: Child,
    ended: Option<ExitStatus>,
}

/// How a worker process is started: the variables mp-cluster's worker reads.
pub(super) struct WorkerSettings<'a> {
    /// The Redis server.
    pub(super) url: &'a str,
    /// The pool to serve.
    pub(super) pool: &'a str,
    /// Its local worker processes.
    pub(super) processes: u32,
    /// How long its tasks stay leased to it without a renewal.
    pub(super) lease: Duration,
}

impl WorkerProcess {
    /// Starts a worker with `settings`; its standard output is discarded, its errors go to
    /// the scenario's.
    pub(super) fn start(settings: &WorkerSettings<'_>) -> Result<WorkerProcess, DemoError> {
        let mut command = Command::new("/proc/self/exe");
        command
            .env(mp::cluster::worker::boot::WORKER_ENV, settings.pool)
            .env(mp::cluster::URL_ENV, settings.url)
            .env("MP_CLUSTER_PROCESSES", settings.processes.to_string())
            .env(
                "MP_CLUSTER_LEASE_MS",
                settings.lease.as_millis().to_string(),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        die_with_parent(&mut command);
        let child = command
            .spawn()
            .map_err(|e| DemoError::io("starting a worker process", e))?;
        tracing::debug!(
            pid = child.id(),
            pool = settings.pool,
            "worker process started"
        );
        Ok(WorkerProcess { child, ended: None })
    }

    /// Its process id.
    pub(super) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills it with `SIGKILL`, as a machine that dies, and reaps it; the signal that
    /// ended it (`None` if it had ended otherwise, or could not be reaped).
    pub(super) fn kill(&mut self) -> Option<i32> {
        if self.ended.is_none() {
            self.ended = kill_and_reap(&mut self.child);
        }
        self.ended.and_then(|status| status.signal())
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `redis-server` on `PATH`, or where the Debian package puts it.
fn find_program() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/sbin")])
        .map(|dir| dir.join("redis-server"))
        .find(|candidate| candidate.is_file())
}

/// A loopback port nothing listens on right now (the kernel's choice).
fn free_port() -> Result<u16, DemoError> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .map_err(|e| DemoError::io("finding a free loopback port", e))
}

/// A reply of the few commands sent here: a status, an integer or a string as text, or
/// an array of strings.
#[derive(Debug, PartialEq)]
enum Reply {
    Text(String),
    Integer(i64),
    Array(Vec<String>),
    Error(String),
    Nil,
}

fn unexpected(command: &str, reply: &Reply) -> DemoError {
    DemoError::CheckFailed(format!("redis-server answered {command} with {reply:?}"))
}

/// Sends one command on a fresh connection and reads its reply, every step bounded.
fn query(port: u16, args: &[&str]) -> io::Result<Reply> {
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&address, SERVER_BOUND)?;
    stream.set_read_timeout(Some(SERVER_BOUND))?;
    stream.set_write_timeout(Some(SERVER_BOUND))?;
    let mut request = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        request.extend_from_slice(format!("${}\r\n{arg}\r\n", arg.len()).as_bytes());
    }
    stream.write_all(&request)?;
    read_reply(&mut BufReader::new(stream))
}

fn invalid(line: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("not a reply: {line:?}"))
}

/// Reads one reply: a status, an error, an integer, a bulk string, or an array of bulk
/// strings (all that the commands of this module answer).
fn read_reply(reader: &mut impl BufRead) -> io::Result<Reply> {
    let line = read_line(reader)?;
    let (kind, rest) = line.split_at(line.len().min(1));
    let number = || rest.parse::<i64>().map_err(|_| invalid(&line));
    match kind {
        "+" => Ok(Reply::Text(rest.to_owned())),
        "-" => Ok(Reply::Error(rest.to_owned())),
        ":" => Ok(Reply::Integer(number()?)),
        "$" => Ok(read_bulk(reader, number()?)?.map_or(Reply::Nil, Reply::Text)),
        "*" => {
            let mut items = Vec::new();
            for _ in 0..number()?.max(0) {
                let header = read_line(reader)?;
                let len = header
                    .strip_prefix('$')
                    .and_then(|len| len.parse().ok())
                    .ok_or_else(|| invalid(&header))?;
                items.extend(read_bulk(reader, len)?);
            }
            Ok(Reply::Array(items))
        }
        _ => Err(invalid(&line)),
    }
}

/// One line of the protocol, without its `\r\n`.
fn read_line(reader: &mut impl BufRead) -> io::Result<String> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

/// The `len` bytes of a bulk string and their `\r\n`; `None` for the null string (-1).
fn read_bulk(reader: &mut impl BufRead, len: i64) -> io::Result<Option<String>> {
    let Ok(len) = usize::try_from(len) else {
        return Ok(None);
    };
    let mut bytes = vec![0; len + 2];
    reader.read_exact(&mut bytes)?;
    bytes.truncate(len);
    Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_read_as_the_protocol_writes_them() {
        let read = |bytes: &[u8]| read_reply(&mut &bytes[..]).unwrap();
        assert_eq!(read(b"+PONG\r\n"), Reply::Text("PONG".into()));
        assert_eq!(read(b":42\r\n"), Reply::Integer(42));
        assert_eq!(read(b"$5\r\nhello\r\n"), Reply::Text("hello".into()));
        assert_eq!(read(b"$-1\r\n"), Reply::Nil);
        assert_eq!(read(b"-ERR no\r\n"), Reply::Error("ERR no".into()));
        assert_eq!(
            read(b"*2\r\n$1\r\na\r\n$2\r\nbc\r\n"),
            Reply::Array(vec!["a".into(), "bc".into()])
        );
        assert_eq!(read(b"*0\r\n"), Reply::Array(vec![]));
        assert!(read_reply(&mut &b"?\r\n"[..]).is_err());
        assert!(read_reply(&mut &b""[..]).is_err());
    }

    #[test]
    fn a_local_server_answers_and_leaves_nothing_when_dropped() {
        let dir = std::env::temp_dir().join(format!("mp-demos-redis-test-{}", std::process::id()));
        let Some(server) = LocalRedis::start(dir.clone()).unwrap() else {
            eprintln!("{INSTALL_HINT}");
            return;
        };
        let pid = server.pid();
        assert!(server.url().starts_with("redis://127.0.0.1:"));
        assert_eq!(server.keys().unwrap(), Vec::<String>::new());
        assert_eq!(
            query(server.port, &["SET", "k", "v"]).unwrap(),
            Reply::Text("OK".into())
        );
        assert_eq!(server.keys().unwrap(), ["k"]);
        drop(server);
        assert!(!dir.exists());
        assert!(!Path::new(&format!("/proc/{pid}")).exists());
    }
}
