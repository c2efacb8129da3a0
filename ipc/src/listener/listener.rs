//! [`Listener`]: accepts connections on an address.

use mp_sys::Deadline;
use std::net::TcpListener;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::{SocketAddr as UnixAddress, UnixListener};
use std::path::PathBuf;

use super::{Address, io_error};
use std::time::Duration;

use crate::connection::{HANDSHAKE_TIMEOUT, answer_challenge, deliver_challenge};
use crate::{Connection, Error, Waitable};

/// A socket that accepts connections (Python's `multiprocessing.connection.Listener`).
///
/// Bind it to an [`Address`], give the address to the peers, and [`accept`](Self::accept)
/// each one as a [`Connection`]. With an authentication key, `accept` first runs the
/// handshake (an HMAC-SHA256 challenge each way, Python 3.12's protocol, which also
/// understands the HMAC-MD5 form of Python 3.11 and older) and returns
/// [`Error::AuthenticationFailed`] for a peer with another key, closing its connection;
/// the listener goes on accepting.
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
    authkey: Option<Vec<u8>>,
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
        tracing::debug!(address = %bound, authenticated = authkey.is_some(), "listener bound");
        Ok(Self {
            socket,
            address: bound,
            authkey: authkey.map(<[u8]>::to_vec),
            handshake_timeout: HANDSHAKE_TIMEOUT,
            socket_file,
        })
    }

    /// Waits for a peer and returns its connection (Python's `accept()`), after the
    /// handshake if the listener has a key.
    ///
    /// Fails with [`Error::AuthenticationFailed`] if the peer does not prove it has the
    /// key (or does not answer within the
    /// [handshake timeout](Self::set_handshake_timeout)); its connection is closed and the
    /// listener stays usable. [`Error::Os`] if `accept` fails (`EMFILE`: out of
    /// descriptors).
    ///
    /// ```
    /// use mp_ipc::{Client, Error, Listener};
    ///
    /// let listener = Listener::bind(&"127.0.0.1:0".parse()?, Some(b"right"))?;
    /// let address = listener.address().clone();
    /// let intruder = std::thread::spawn(move || Client::connect::<u8>(&address, Some(b"wrong")));
    /// assert!(matches!(listener.accept::<u8>(), Err(Error::AuthenticationFailed(_))));
    /// assert!(matches!(intruder.join().unwrap(), Err(Error::AuthenticationFailed(_))));
    /// # Ok::<(), mp_ipc::Error>(())
    /// ```
    pub fn accept<T>(&self) -> Result<Connection<T>, Error> {
        let socket: OwnedFd = match &self.socket {
            Socket::Unix(listener) => listener
                .accept()
                .map(|(stream, _)| stream.into())
                .map_err(|err| io_error("accept", &self.address, err))?,
            Socket::Tcp(listener) => {
                let (stream, _) = listener
                    .accept()
                    .map_err(|err| io_error("accept", &self.address, err))?;
                // Frames go out whole in one call: Nagle's delay only adds latency.
                stream
                    .set_nodelay(true)
                    .map_err(|err| io_error("setsockopt(TCP_NODELAY)", &self.address, err))?;
                stream.into()
            }
        };
        let connection = Connection::from_socket(socket, true, true);
        if let Some(key) = &self.authkey {
            // One deadline for the whole handshake, however the peer paces its bytes.
            let deadline = Deadline::after(self.handshake_timeout);
            let handshake = deliver_challenge(&connection, key, deadline)
                .and_then(|()| answer_challenge(&connection, key, deadline));
            if let Err(error) = handshake {
                tracing::debug!(address = %self.address, %error, "connection refused");
                return Err(error);
            }
        }
        tracing::debug!(address = %self.address, "connection accepted");
        Ok(connection)
    }

    /// Sets how long the whole handshake in [`accept`](Self::accept) may take (default ten
    /// seconds), so that a peer that connects and stays silent, or sends a byte now and
    /// then, cannot hold `accept` longer. `Duration::MAX` waits as long as the peer
    /// takes. Without a key there is no handshake.
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
    /// assert!(matches!(listener.accept::<u8>(), Err(Error::AuthenticationFailed(_))));
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

/// Ready when a peer is waiting to be accepted.
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
