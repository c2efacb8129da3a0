//! `recv_async` and `recv_bytes_async`: waiting for a message on a [`Connection`] from
//! async code (feature `async`), on any runtime.
//!
//! A connection is a socket, so its wait is a readiness wait on a descriptor: it goes
//! through mp-sys's [`reactor`](mp_sys::reactor), whose one epoll thread per process
//! watches every awaited descriptor (a duplicate of the socket's, so two waits on one
//! socket never collide) and wakes the task. No thread of ours is parked per waiter, and
//! no particular executor is needed.
//!
//! Once the socket is readable (or a message is already in the connection's read-ahead
//! buffer), the message is read with the blocking `recv`: the sender writes a frame in
//! one system call, so it is there; a peer that stalls in the middle of a frame holds up
//! the thread of the task that reads it until it goes on or closes.

use std::future::poll_fn;
use std::os::fd::AsFd;
use std::task::Poll;
use std::time::Duration;

use mp_sys::reactor::{Reactor, Waiter};
use nix::errno::Errno;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::Connection;
use crate::Error;

/// The reactor's error as this crate's.
fn reactor_error(error: mp_sys::Error) -> Error {
    match error {
        mp_sys::Error::Os { operation, errno } => Error::Os { operation, errno },
        _ => Error::Os {
            operation: "waiting for the socket",
            errno: Errno::EIO,
        },
    }
}

impl<T> Connection<T> {
    /// Waits until a message can be read without blocking on an empty socket: something
    /// is buffered, or the socket is readable (data, or the peer's end of stream).
    async fn readable_async(&self) -> Result<(), Error> {
        // Dropped with the future: a cancelled wait leaves nothing registered.
        let mut waiter = Waiter::new(Reactor::global());
        poll_fn(|cx| {
            loop {
                match self.poll(Some(Duration::ZERO)) {
                    Ok(true) => return Poll::Ready(Ok(())),
                    Ok(false) => {}
                    Err(error) => return Poll::Ready(Err(error)),
                }
                // Ready: the socket reported readable; look again (another task may have
                // read the message), and wait for the next one if so.
                match waiter.poll_readable(cx, self.as_fd()) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Ok(())) => {}
                    Poll::Ready(Err(error)) => return Poll::Ready(Err(reactor_error(error))),
                }
            }
        })
        .await
    }

    /// Receives the next message as raw bytes, waiting without blocking the async
    /// runtime. Feature `async`; any runtime (see the [`recv_async`](Connection::recv_async)
    /// docs).
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
    /// its end and everything it sent was read. The wait goes through mp-sys's
    /// [`reactor`](mp_sys::reactor), so any executor drives it. Receive on a connection
    /// from one task at a time (as with Python's `Connection`): a second task woken by the
    /// same readiness would find the message taken and wait for the next one in the
    /// blocking `recv`, holding its thread. A dropped future reads nothing. For a
    /// timeout, wrap it (`tokio::time::timeout`).
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
