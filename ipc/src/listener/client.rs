//! [`Client`]: connects to a [`Listener`](crate::Listener).

use std::io;
use std::net::TcpStream;
use std::os::fd::{AsFd, OwnedFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr as UnixAddress, UnixStream};
use std::time::Duration;

use mp_sys::Deadline;

use super::{Address, io_error};
use crate::connection::{HANDSHAKE_TIMEOUT, authenticate_server};
use crate::{Connection, Error};

/// Connects to a [`Listener`](crate::Listener) (Python's
/// `multiprocessing.connection.Client(address, authkey=authkey)`). A namespace for
/// [`connect`](Self::connect) and [`connect_timeout`](Self::connect_timeout); there is no
/// `Client` value.
///
/// ```
/// use mp_ipc::{Client, Listener};
///
/// let address = format!("@mp-doc-client-{}", std::process::id()).parse()?;
/// let listener = Listener::bind(&address, None)?;
/// let connection = Client::connect::<u32>(listener.address(), None)?;
/// connection.send(&42)?;
/// assert_eq!(listener.accept::<u32>()?.recv()?, 42);
/// # Ok::<(), mp_ipc::Error>(())
/// ```
#[derive(Debug)]
pub enum Client {}

impl Client {
    /// Connects to `address` and, with a key, runs the handshake (answering the server's
    /// challenge, then challenging it): the connection is returned only if both sides
    /// have the same key.
    ///
    /// The handshake must be over within ten seconds; [`connect_timeout`](Self::connect_timeout)
    /// sets another bound. Fails with [`Error::AuthenticationFailed`] (a different key,
    /// ...), [`Error::TimedOut`] (a server without a key never challenges), [`Error::Os`]
    /// (`ECONNREFUSED`, `ENOENT` for a missing socket file, ...) or
    /// [`Error::InvalidAddress`].
    ///
    /// ```
    /// use mp_ipc::{Address, Client, Error};
    ///
    /// let missing = Address::Unix("/nonexistent/mp.sock".into());
    /// assert!(matches!(Client::connect::<u8>(&missing, None), Err(Error::Os { .. })));
    /// ```
    pub fn connect<T>(address: &Address, authkey: Option<&[u8]>) -> Result<Connection<T>, Error> {
        let socket = open(address, Deadline::NEVER)?;
        finish(address, socket, authkey, Deadline::after(HANDSHAKE_TIMEOUT))
    }

    /// [`connect`](Self::connect) within `timeout` as a whole: the TCP connection's setup
    /// and the handshake (all its steps together) must be over by then. `Duration::MAX`
    /// waits without limit. A Unix socket connects at once, unless the listener's backlog
    /// of peers not yet accepted is full (the connect then waits for room).
    ///
    /// Fails as `connect`, and with [`Error::TimedOut`] if the TCP connection is not set up
    /// or the handshake is not over in time (a server without a key never challenges).
    ///
    /// ```
    /// use std::time::Duration;
    /// use mp_ipc::{Client, Error, Listener};
    ///
    /// // A server without a key says nothing: a client with one gives up in time.
    /// let listener = Listener::bind(&"127.0.0.1:0".parse()?, None)?;
    /// let outcome =
    ///     Client::connect_timeout::<u8>(listener.address(), Some(b"key"), Duration::from_millis(50));
    /// assert!(matches!(outcome, Err(Error::TimedOut)));
    /// # Ok::<(), mp_ipc::Error>(())
    /// ```
    pub fn connect_timeout<T>(
        address: &Address,
        authkey: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<Connection<T>, Error> {
        let deadline = Deadline::after(timeout);
        let socket = open(address, deadline)?;
        finish(address, socket, authkey, deadline)
    }
}

/// Connects a socket to `address`; a TCP connection is set up by `deadline`.
fn open(address: &Address, deadline: Deadline) -> Result<OwnedFd, Error> {
    Ok(match address {
        Address::Unix(path) => UnixStream::connect(path)
            .map_err(|err| io_error("connect", address, err))?
            .into(),
        Address::Abstract(name) => {
            let unix = UnixAddress::from_abstract_name(name)
                .map_err(|err| io_error("connect", address, err))?;
            UnixStream::connect_addr(&unix)
                .map_err(|err| io_error("connect", address, err))?
                .into()
        }
        Address::Tcp(tcp) => {
            let stream = match deadline.remaining() {
                None => TcpStream::connect(tcp),
                // The standard library refuses a zero timeout: a passed deadline gets the
                // shortest try.
                Some(left) => TcpStream::connect_timeout(tcp, left.max(Duration::from_micros(1))),
            }
            .map_err(|err| match err.kind() {
                io::ErrorKind::TimedOut => Error::TimedOut,
                _ => io_error("connect", address, err),
            })?;
            // Frames go out whole in one call: Nagle's delay only adds latency.
            stream
                .set_nodelay(true)
                .map_err(|err| io_error("setsockopt(TCP_NODELAY)", address, err))?;
            stream.into()
        }
    })
}

/// Runs the handshake, if there is a key, by `deadline`, and hands out the connection.
fn finish<T>(
    address: &Address,
    socket: OwnedFd,
    authkey: Option<&[u8]>,
    deadline: Deadline,
) -> Result<Connection<T>, Error> {
    if let Some(key) = authkey {
        authenticate_server(socket.as_fd(), key, deadline)?;
    }
    tracing::debug!(%address, "connected");
    Ok(Connection::from_socket(socket, true, true))
}
