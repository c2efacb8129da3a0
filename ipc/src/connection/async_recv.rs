//! `recv_async` and `recv_bytes_async`: waiting for a message on a [`Connection`] from
//! async code (feature `async`).
//!
//! A connection is a socket, so its wait is a readiness wait on a descriptor, which is
//! what an async runtime's I/O driver does already: the wait goes through tokio's
//! [`AsyncFd`], with no thread of ours parked per waiter. This is the one bridge of the
//! crate that needs a runtime: it must run inside a tokio runtime with I/O enabled
//! (`#[tokio::main]` and `Runtime::new` enable it). A waiter of its own (a poll thread)
//! would work with any runtime, but would add a thread and a wake-up hop to every message
//! for what tokio's driver does in place.
//!
//! Each wait registers a duplicate of the socket's descriptor (the driver's epoll set holds
//! a descriptor once; a duplicate never collides with another registration of the same
//! socket). Once the socket is readable (or a message is already in the
//! connection's read-ahead buffer), the message is read with the blocking `recv`: the
//! sender writes a frame in one system call, so it is there; a peer that stalls in the
//! middle of a frame holds up the thread of the task that reads it until it goes on or
//! closes.

use std::os::fd::AsFd;
use std::time::Duration;

use nix::errno::Errno;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

use super::Connection;
use crate::Error;

impl<T> Connection<T> {
    /// Waits until a message can be read without blocking on an empty socket: something
    /// is buffered, or the socket is readable (data, or the peer's end of stream).
    async fn readable_async(&self) -> Result<(), Error> {
        if self.poll(Some(Duration::ZERO))? {
            return Ok(());
        }
        let os = |operation| {
            move |error: std::io::Error| Error::Os {
                operation,
                errno: Errno::from_raw(error.raw_os_error().unwrap_or(libc::EIO)),
            }
        };
        let duplicate = self
            .as_fd()
            .try_clone_to_owned()
            .map_err(os("dup of the connection's socket"))?;
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(Error::InvalidArgument(
                "recv_async must run inside a tokio runtime",
            ));
        }
        // SAFETY: the `AsyncFd` owns `duplicate`, an `OwnedFd` that is open (we just made
        // it), closed by nobody else, and returns the same descriptor from `as_raw_fd` for
        // as long as it lives; it is closed only when the `AsyncFd`, which deregisters it
        // first, is dropped.
        let registered = unsafe { AsyncFd::register_with_interest(duplicate, Interest::READABLE) }
            .map_err(|refused| {
                os("registering the socket with the tokio runtime")(refused.into())
            })?;
        tracing::debug!("recv_async waits for the connection to be readable");
        loop {
            let mut ready = registered
                .readable()
                .await
                .map_err(os("waiting for the socket"))?;
            if self.poll(Some(Duration::ZERO))? {
                return Ok(());
            }
            // A stale readiness (another task read the message): wait for the next one.
            ready.clear_ready();
        }
    }

    /// Receives the next message as raw bytes, waiting without blocking the async
    /// runtime. Feature `async`; needs a tokio runtime with I/O enabled (see the
    /// [`recv_async`](Connection::recv_async) docs).
    ///
    /// Errors as [`recv_bytes`](Connection::recv_bytes); [`Error::PeerClosed`] once the
    /// peer closed its end and everything it sent was read.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), mp_ipc::Error> {
    /// let (a, b) = mp_ipc::pipe::<u8>(true)?;
    /// let sender = std::thread::spawn(move || a.send_bytes(b"hello"));
    /// assert_eq!(b.recv_bytes_async().await?, b"hello");
    /// sender.join().unwrap()?;
    /// # Ok(()) }
    /// ```
    pub async fn recv_bytes_async(&self) -> Result<Vec<u8>, Error> {
        if self.readable() {
            self.readable_async().await?;
        }
        self.recv_bytes()
    }
}

impl<T: Serialize + DeserializeOwned> Connection<T> {
    /// Receives the next message, waiting without blocking the async runtime: Python's
    /// `await loop.run_in_executor(None, conn.recv)` without the executor's thread.
    /// Feature `async`.
    ///
    /// Errors as [`recv`](Connection::recv): [`Error::PeerClosed`] once the peer closed
    /// its end and everything it sent was read. The wait goes through tokio's I/O driver,
    /// so it must run inside a tokio runtime with I/O enabled: outside any tokio runtime it
    /// gives [`Error::InvalidArgument`]; in a runtime built without I/O, tokio panics. Receive on a connection
    /// from one task at a time (as with Python's `Connection`): a second task woken by the
    /// same readiness would find the message taken and wait for the next one in the
    /// blocking `recv`, holding its thread. A dropped future reads nothing. For a timeout, wrap it (`tokio::time::timeout`).
    ///
    /// ```
    /// use mp_ipc::Error;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Error> {
    /// let (a, b) = mp_ipc::pipe::<(u32, String)>(true)?;
    /// let sender = std::thread::spawn(move || {
    ///     a.send(&(1, "one".to_string()))?;
    ///     a.close();
    ///     Ok::<(), Error>(())
    /// });
    /// assert_eq!(b.recv_async().await?, (1, "one".to_string()));
    /// assert!(matches!(b.recv_async().await, Err(Error::PeerClosed)));
    /// sender.join().unwrap()?;
    /// # Ok(()) }
    /// ```
    pub async fn recv_async(&self) -> Result<T, Error> {
        if self.readable() {
            self.readable_async().await?;
        }
        self.recv()
    }
}
