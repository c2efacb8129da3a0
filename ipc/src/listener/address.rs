//! [`Address`]: where a [`Listener`](crate::Listener) listens and a
//! [`Client`](crate::Client) connects.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::Error;

/// A socket address: a Unix socket file, a Linux abstract Unix name, or TCP (Python's
/// `'AF_UNIX'` and `'AF_INET'` families; an abstract name is Python's address starting
/// with a NUL byte).
///
/// Parsed from text: an IP address with a port is TCP (`"127.0.0.1:0"`, `"[::1]:6000"`),
/// a name starting with `@` or a NUL byte is abstract (`"@mp-server"`), anything else is a
/// path.
///
/// ```
/// use std::path::PathBuf;
/// use mp_ipc::Address;
///
/// assert_eq!("127.0.0.1:6000".parse::<Address>()?, Address::Tcp("127.0.0.1:6000".parse().unwrap()));
/// assert_eq!("@server".parse::<Address>()?, Address::Abstract(b"server".to_vec()));
/// assert_eq!("/run/app.sock".parse::<Address>()?, Address::Unix(PathBuf::from("/run/app.sock")));
/// # Ok::<(), mp_ipc::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Address {
    /// A Unix socket file; a [`Listener`](crate::Listener) removes it when dropped.
    Unix(PathBuf),
    /// A Linux abstract Unix socket name (no file; gone with the last socket).
    Abstract(Vec<u8>),
    /// A TCP address; port 0 asks the system for a free port when binding.
    Tcp(SocketAddr),
}

impl FromStr for Address {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        if text.is_empty() {
            return Err(Error::InvalidAddress {
                address: String::new(),
                fault: crate::AddressFault::Empty,
            });
        }
        if let Ok(tcp) = text.parse::<SocketAddr>() {
            return Ok(Address::Tcp(tcp));
        }
        if let Some(name) = text.strip_prefix('@').or_else(|| text.strip_prefix('\0')) {
            return Ok(Address::Abstract(name.as_bytes().to_vec()));
        }
        Ok(Address::Unix(PathBuf::from(text)))
    }
}

/// A TCP address.
///
/// ```
/// use std::net::SocketAddr;
/// use mp_ipc::Address;
///
/// let tcp: SocketAddr = "127.0.0.1:0".parse().unwrap();
/// assert_eq!(Address::from(tcp), Address::Tcp(tcp));
/// ```
impl From<SocketAddr> for Address {
    fn from(address: SocketAddr) -> Self {
        Address::Tcp(address)
    }
}

/// A Unix socket file.
///
/// ```
/// use std::path::Path;
/// use mp_ipc::Address;
///
/// let address = Address::from(Path::new("/run/x.sock"));
/// assert!(matches!(address, Address::Unix(_)));
/// ```
impl From<&Path> for Address {
    fn from(path: &Path) -> Self {
        Address::Unix(path.to_path_buf())
    }
}

/// A Unix socket file.
///
/// ```
/// use std::path::PathBuf;
/// use mp_ipc::Address;
///
/// assert!(matches!(Address::from(PathBuf::from("x.sock")), Address::Unix(_)));
/// ```
impl From<PathBuf> for Address {
    fn from(path: PathBuf) -> Self {
        Address::Unix(path)
    }
}

/// The form [`FromStr`] reads back (`@name` for abstract names).
///
/// ```
/// use mp_ipc::Address;
///
/// let address: Address = "@name".parse()?;
/// assert_eq!(address.to_string(), "@name");
/// # Ok::<(), mp_ipc::Error>(())
/// ```
impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Unix(path) => write!(f, "{}", path.display()),
            Address::Abstract(name) => write!(f, "@{}", String::from_utf8_lossy(name)),
            Address::Tcp(address) => write!(f, "{address}"),
        }
    }
}
