//! [`Client`]: connects to a [`Listener`](crate::Listener).

use mp_sys::Deadline;
use std::net::TcpStream;
use std::os::fd::OwnedFd;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr as UnixAddress, UnixStream};
use std::time::Duration;

use super::{Address, io_error};
use crate::connection::{HANDSHAKE_TIMEOUT, answer_challenge, deliver_challenge};
use crate::{Connection, Error};

/// Connects to a [`Listener`](crate::Listener) (Python's
/// `multiprocessing.connection.Client(address, authkey=authkey)`). A namespace for
/// [`connect`](Self::connect); there is no `Client` value.
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
    /// have the same key. The handshake may take ten seconds in all; see
    /// [`connect_timeout`](Client::connect_timeout) to choose.
    ///
    /// Fails with [`Error::AuthenticationFailed`] (a different key, a server without
    /// one that never challenges in time, ...), [`Error::Os`] (`ECONNREFUSED`,
    /// `ENOENT` for a missing socket file, ...) or [`Error::InvalidAddress`].
    ///
    /// ```
    /// use mp_ipc::{Address, Client, Error};
    ///
    /// let missing = Address::Unix("/nonexistent/mp.sock".into());
    /// assert!(matches!(Client::connect::<u8>(&missing, None), Err(Error::Os { .. })));
    /// ```
    pub fn connect<T>(address: &Address, authkey: Option<&[u8]>) -> Result<Connection<T>, Error> {
        Self::connect_timeout(address, authkey, HANDSHAKE_TIMEOUT)
    }

    /// [`connect`](Client::connect), with `timeout` for connecting and the whole
    /// handshake (`Duration::MAX`: as long as it takes): a keyed client facing a server
    /// that never challenges (a listener without a key) gives up then.
    ///
    /// ```
    /// use std::time::Duration;
    /// use mp_ipc::{Client, Error, Listener};
    ///
    /// let keyless = Listener::bind(&"127.0.0.1:0".parse()?, None)?;
    /// let keyed = Client::connect_timeout::<u8>(keyless.address(), Some(b"key"), Duration::from_millis(50));
    /// assert!(matches!(keyed, Err(Error::AuthenticationFailed(_))));
    /// # Ok::<(), mp_ipc::Error>(())
    /// ```
    pub fn connect_timeout<T>(
        address: &Address,
        authkey: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<Connection<T>, Error> {
        let deadline = Deadline::after(timeout);
        let socket: OwnedFd = match address {
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
                    Some(left) => {
                        TcpStream::connect_timeout(tcp, left.max(Duration::from_millis(1)))
                    }
                }
                .map_err(|err| io_error("connect", address, err))?;
                // Frames go out whole in one call: Nagle's delay only adds latency.
                stream
                    .set_nodelay(true)
                    .map_err(|err| io_error("setsockopt(TCP_NODELAY)", address, err))?;
                stream.into()
            }
        };
        let connection = Connection::from_socket(socket, true, true);
        if let Some(key) = authkey {
            answer_challenge(&connection, key, deadline)
                .and_then(|()| deliver_challenge(&connection, key, deadline))?;
        }
        tracing::debug!(%address, "connected");
        Ok(connection)
    }
}
