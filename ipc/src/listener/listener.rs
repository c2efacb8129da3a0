//! [`Listener`]: accepts connections on an address.

use std::io;
use std::net::TcpListener;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::{SocketAddr as UnixAddress, UnixListener};
use std::path::PathBuf;
use std::time::Duration;

use mp_sys::Deadline;
use mp_sys::poll::wait_readable;

use super::handshakes::Handshakes;
use super::{Address, io_error};
use crate::connection::HANDSHAKE_TIMEOUT;
use crate::{Connection, Error, Waitable};

/// A socket that accepts connections (Python's `multiprocessing.connection.Listener`).
///
/// Bind it to an [`Address`], give the address to the peers, and [`accept`](Self::accept)
/// each one as a [`Connection`]. With an authentication key, each peer first goes through
/// the handshake (an HMAC-SHA256 challenge each way, Python 3.12's protocol, which also
/// understands the HMAC-MD5 form of Python 3.11 and older), bounded as a whole by the
/// [handshake timeout](Self::set_handshake_timeout); `accept` returns
/// [`Error::AuthenticationFailed`] for a peer with another key ([`Error::TimedOut`] for
/// one too slow), closing its
/// connection, and the listener goes on accepting. Handshakes run side by side, each on
/// a thread of its own: a slow peer never delays another peer's `accept`.
///
/// A Unix socket file made by `bind` is removed when the listener is dropped (unless
/// another file has taken its place since).
///
/// ```
/// use mp_ipc::{Address, Client, Listener};
///
/// let listener = Listener::bind(&"127.0.0.1:0".parse()?, Some(b"secret"))?;
/// let address = listener.address().clone(); // the port the system chose
/// let client = std::thread::spawn(move || -> Result<String, mp_ipc::Error> {
///     let connection = Client::connect::<String>(&address, Some(b"secret"))?;
///     connection.send(&"hello".to_string())?;
///     connection.recv()
/// });
/// let connection = listener.accept::<String>()?;
/// let greeting = connection.recv()?;
/// connection.send(&format!("{greeting} back"))?;
/// assert_eq!(client.join().unwrap()?, "hello back");
/// # Ok::<(), mp_ipc::Error>(())
/// ```
#[derive(Debug)]
pub struct Listener {
    socket: Socket,
    address: Address,
    /// With a key: the handshakes running and finished.
    handshakes: Option<Handshakes>,
    handshake_timeout: Duration,
    /// The socket file `bind` made, with its device and inode, to remove on drop.
    socket_file: Option<(PathBuf, u64, u64)>,
}

#[derive(Debug)]
enum Socket {
    Unix(UnixListener),
    Tcp(TcpListener),
}

impl Listener {
    /// Binds `address` and listens (Python's `Listener(address, authkey=authkey)`).
    ///
    /// `authkey`: `None` accepts any peer, as Python's `authkey=None`. Fails with
    /// [`Error::Os`] (`EADDRINUSE` for a taken address or an existing file, ...) or
    /// [`Error::InvalidAddress`].
    ///
    /// ```
    /// use mp_ipc::{Address, Listener};
    ///
    /// // Abstract names are shared by the whole machine: make it unique.
    /// let name = format!("mp-doc-listener-{}", std::process::id());
    /// let listener = Listener::bind(&Address::Abstract(name.clone().into_bytes()), None)?;
    /// assert_eq!(listener.address().to_string(), format!("@{name}"));
    /// # Ok::<(), mp_ipc::Error>(())
    /// ```
    pub fn bind(address: &Address, authkey: Option<&[u8]>) -> Result<Self, Error> {
        let (socket, bound, socket_file) = match address {
            Address::Unix(path) => {
                let listener =
                    UnixListener::bind(path).map_err(|err| io_error("bind", address, err))?;
                let socket_file = std::fs::symlink_metadata(path)
                    .ok()
                    .map(|meta| (path.clone(), meta.dev(), meta.ino()));
                (Socket::Unix(listener), address.clone(), socket_file)
            }
            Address::Abstract(name) => {
                let unix = UnixAddress::from_abstract_name(name)
                    .map_err(|err| io_error("bind", address, err))?;
                let listener =
                    UnixListener::bind_addr(&unix).map_err(|err| io_error("bind", address, err))?;
                (Socket::Unix(listener), address.clone(), None)
            }
            Address::Tcp(tcp) => {
                let listener =
                    TcpListener::bind(tcp).map_err(|err| io_error("bind", address, err))?;
                let bound = listener
                    .local_addr()
                    .map_err(|err| io_error("getsockname", address, err))?;
                (Socket::Tcp(listener), Address::Tcp(bound), None)
            }
        };
        let handshakes = authkey.map(Handshakes::new).transpose()?;
        if handshakes.is_some() {
            // `accept` waits in `poll` for a peer or a finished handshake, then takes the
            // peer without blocking (another thread may have taken it first).
            match &socket {
                Socket::Unix(listener) => listener.set_nonblocking(true),
                Socket::Tcp(listener) => listener.set_nonblocking(true),
            }
            .map_err(|err| io_error("fcntl(O_NONBLOCK)", &bound, err))?;
        }
        tracing::debug!(address = %bound, authenticated = authkey.is_some(), "listener bound");
        Ok(Self {
            socket,
            address: bound,
            handshakes,
            handshake_timeout: HANDSHAKE_TIMEOUT,
            socket_file,
        })
    }

    /// Waits for a peer and returns its connection (Python's `accept()`), after the
    /// handshake if the listener has a key.
    ///
    /// With a key, `accept` takes every peer that connects and starts its handshake on a
    /// thread of its own, with its own deadline, and returns as soon as any handshake
    /// ends: with the connection if it succeeded, or with
    /// [`Error::AuthenticationFailed`] if the peer did not prove it has the key (or
    /// [`Error::TimedOut`] if it did not finish within the
    /// [handshake timeout](Self::set_handshake_timeout)), as
    /// Python raises `AuthenticationError` from `accept`. That peer's connection is
    /// closed and the listener stays usable: call `accept` again for the next. Outcomes
    /// come in the order the handshakes end, so a slow peer delays no other (up to 64
    /// handshakes run at once; more peers wait for one of them to end). Fails with
    /// [`Error::Os`] if `accept` fails (`EMFILE`: out of descriptors).
    ///
    /// ```
    /// use mp_ipc::{Client, Error, Listener};
    ///
    /// let listener = Listener::bind(&"127.0.0.1:0".parse()?, Some(b"right"))?;
    /// let address = listener.address().clone();
    /// let intruder = std::thread::spawn(move || Client::connect::<u8>(&address, Some(b"wrong")));
    /// assert!(matches!(listener.accept::<u8>(), Err(Error::AuthenticationFailed { .. })));
    /// assert!(matches!(intruder.join().unwrap(), Err(Error::AuthenticationFailed { .. })));
    /// # Ok::<(), mp_ipc::Error>(())
    /// ```
    pub fn accept<T>(&self) -> Result<Connection<T>, Error> {
        let Some(handshakes) = &self.handshakes else {
            let socket = self.accept_socket()?;
            tracing::debug!(address = %self.address, "connection accepted");
            return Ok(Connection::from_socket(socket, true, true));
        };
        loop {
            if let Some(outcome) = handshakes.take_finished() {
                return match outcome {
                    Ok(socket) => {
                        tracing::debug!(address = %self.address, "connection accepted");
                        Ok(Connection::from_socket(socket, true, true))
                    }
                    Err(error) => {
                        tracing::debug!(address = %self.address, %error, "connection refused");
                        Err(error)
                    }
                };
            }
            // With as many handshakes running as allowed, new peers wait in the backlog.
            let watched: &[BorrowedFd<'_>] = if handshakes.is_full() {
                &[handshakes.doorbell()]
            } else {
                &[handshakes.doorbell(), self.as_fd()]
            };
            let ready = wait_readable(watched, Deadline::NEVER).map_err(|errno| Error::Os {
                operation: "poll",
                errno,
            })?;
            if ready.get(1).copied().unwrap_or(false) {
                match self.accept_socket() {
                    Ok(socket) => {
                        handshakes.start(socket, Deadline::after(self.handshake_timeout))?;
                    }
                    // Another thread took the peer, or it gave up while waiting.
                    Err(Error::Os {
                        errno: nix::errno::Errno::EAGAIN | nix::errno::Errno::ECONNABORTED,
                        ..
                    }) => {}
                    Err(error) => return Err(error),
                }
            }
        }
    }

    /// Takes one peer off the listening socket (blocking without a key, not with one).
    fn accept_socket(&self) -> Result<OwnedFd, Error> {
        let accepted: io::Result<OwnedFd> = match &self.socket {
            Socket::Unix(listener) => listener.accept().map(|(stream, _)| stream.into()),
            Socket::Tcp(listener) => listener.accept().and_then(|(stream, _)| {
                // Frames go out whole in one call: Nagle's delay only adds latency.
                stream.set_nodelay(true)?;
                Ok(stream.into())
            }),
        };
        accepted.map_err(|err| io_error("accept", &self.address, err))
    }

    /// Sets how long the whole handshake of each peer may take in
    /// [`accept`](Self::accept) (default ten seconds), counted from when the peer is
    /// taken off the listening socket: a peer that stays silent, or sends a byte at a
    /// time, cannot hold a handshake longer. `Duration::MAX` sets no limit (a silent peer
    /// then holds only its own handshake, never another peer's `accept`). Without a key
    /// there is no handshake.
    ///
    /// ```
    /// use std::net::TcpStream;
    /// use std::time::Duration;
    /// use mp_ipc::{Address, Error, Listener};
    ///
    /// let mut listener = Listener::bind(&"127.0.0.1:0".parse()?, Some(b"key"))?;
    /// listener.set_handshake_timeout(Duration::from_millis(50));
    /// let Address::Tcp(address) = listener.address() else { unreachable!() };
    /// let _silent = TcpStream::connect(address).unwrap();
    /// assert!(matches!(listener.accept::<u8>(), Err(Error::TimedOut)));
    /// # Ok::<(), mp_ipc::Error>(())
    /// ```
    pub fn set_handshake_timeout(&mut self, timeout: Duration) {
        self.handshake_timeout = timeout;
    }

    /// The address the listener is bound to; for TCP port 0, with the port the system
    /// chose (Python's `address`).
    ///
    /// ```
    /// use mp_ipc::{Address, Listener};
    ///
    /// let listener = Listener::bind(&"127.0.0.1:0".parse()?, None)?;
    /// assert!(matches!(listener.address(), Address::Tcp(tcp) if tcp.port() != 0));
    /// # Ok::<(), mp_ipc::Error>(())
    /// ```
    pub fn address(&self) -> &Address {
        &self.address
    }

    /// Stops listening and removes the socket file (Python's `close()`); the same as
    /// dropping it.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("mp-doc-{}.sock", std::process::id()));
    /// let listener = mp_ipc::Listener::bind(&path.clone().into(), None)?;
    /// assert!(path.exists());
    /// listener.close();
    /// assert!(!path.exists());
    /// # Ok::<(), mp_ipc::Error>(())
    /// ```
    pub fn close(self) {
        drop(self);
    }
}

/// Ready when a peer is waiting to be accepted, or (with a key) a finished handshake
/// waits to be returned by [`accept`](Listener::accept). The readiness descriptor is the
/// listening socket's: a wait that sleeps wakes for new peers.
///
/// ```
/// use std::time::Duration;
/// use mp_ipc::{Client, Listener, Waitable, wait};
///
/// let listener = Listener::bind(&"127.0.0.1:0".parse()?, None)?;
/// assert!(!listener.is_ready());
/// let _client = Client::connect::<u8>(listener.address(), None)?;
/// assert_eq!(wait(&[&listener], Some(Duration::from_secs(5)))?, [0]);
/// # Ok::<(), mp_ipc::Error>(())
/// ```
impl Waitable for Listener {
    fn is_ready(&self) -> bool {
        self.as_fd().is_ready()
            || self
                .handshakes
                .as_ref()
                .is_some_and(Handshakes::has_finished)
    }

    fn readiness_fd(&self) -> Option<BorrowedFd<'_>> {
        Some(self.as_fd())
    }
}

/// The listening socket.
///
/// ```
/// use std::os::fd::AsFd;
/// let listener = mp_ipc::Listener::bind(&"127.0.0.1:0".parse()?, None)?;
/// let _fd = listener.as_fd();
/// # Ok::<(), mp_ipc::Error>(())
/// ```
impl AsFd for Listener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match &self.socket {
            Socket::Unix(listener) => listener.as_fd(),
            Socket::Tcp(listener) => listener.as_fd(),
        }
    }
}

/// Removes the socket file `bind` made, if it is still that file.
impl Drop for Listener {
    fn drop(&mut self) {
        if let Some((path, dev, ino)) = &self.socket_file {
            let same = std::fs::symlink_metadata(path)
                .is_ok_and(|meta| meta.dev() == *dev && meta.ino() == *ino);
            if same {
                let _ = std::fs::remove_file(path);
            }
        }
        tracing::debug!(address = %self.address, "listener closed");
    }
}
