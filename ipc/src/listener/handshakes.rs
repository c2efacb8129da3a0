//! The handshakes of a [`Listener`](crate::Listener) with a key, each on its own thread,
//! so that a slow or silent peer delays no other peer's `accept`.
//!
//! Why a thread per handshake: a handshake waits for its peer several times, and a peer
//! may take up to the whole handshake timeout (or for ever, with no timeout). Run in
//! `accept` itself, it would hold up every peer behind it. So `accept` only takes sockets
//! off the listening socket and hands each to a thread that runs its handshake by its own
//! deadline; `accept` returns whichever handshake ends first, a success or a failure,
//! in the order they end.
//!
//! At most [`MAX_RUNNING`] handshakes run at once: past that, peers wait in the listening
//! socket's backlog until one ends, so a flood of silent peers costs a bounded number of
//! threads. Finished handshakes wait in a queue, and a doorbell (one end of a socket pair) is
//! readable exactly while the queue is not empty, so `accept` sleeps in one `poll` on the
//! listening socket and the doorbell. Dropping the listener shuts down the sockets of the
//! handshakes still running (their peers see the end of the stream and their threads end
//! at once) and joins their threads.

use std::collections::{HashMap, VecDeque};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use mp_sys::Deadline;
use nix::errno::Errno;
use nix::sys::socket::{Shutdown, shutdown};

use crate::Error;
use crate::connection::authenticate_client;

/// How many handshakes of one listener run at once, at most.
pub(super) const MAX_RUNNING: usize = 64;

/// The stack of a handshake thread: an HMAC and a few small buffers.
const STACK_SIZE: usize = 256 << 10;

/// The handshakes of one listener: running, and finished but not yet taken.
#[derive(Debug)]
pub(super) struct Handshakes {
    shared: Arc<Shared>,
    key: Arc<[u8]>,
    /// The process that started the threads: a forked copy has none of them, and shuts
    /// down no socket it shares with its parent.
    owner: u32,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    /// Readable while `State::finished` is not empty.
    doorbell: UnixStream,
    /// Holds one byte while `State::finished` is not empty.
    ringer: UnixStream,
}

#[derive(Debug, Default)]
struct State {
    finished: VecDeque<Result<OwnedFd, Error>>,
    running: HashMap<u64, Running>,
    next_id: u64,
}

#[derive(Debug)]
struct Running {
    /// Shared with the thread, so that a drop can shut it down.
    socket: Arc<OwnedFd>,
    /// Set as soon as the thread is spawned (under the lock, so before it can end).
    thread: Option<JoinHandle<()>>,
}

impl Handshakes {
    /// Handshakes under `key`.
    pub(super) fn new(key: &[u8]) -> Result<Self, Error> {
        let (doorbell, ringer) = UnixStream::pair().map_err(|err| os("socketpair", &err))?;
        for end in [&doorbell, &ringer] {
            end.set_nonblocking(true)
                .map_err(|err| os("fcntl(O_NONBLOCK)", &err))?;
        }
        Ok(Self {
            shared: Arc::new(Shared {
                state: Mutex::new(State::default()),
                doorbell,
                ringer,
            }),
            key: key.into(),
            owner: std::process::id(),
        })
    }

    /// Readable while a finished handshake waits to be taken.
    pub(super) fn doorbell(&self) -> BorrowedFd<'_> {
        self.shared.doorbell.as_fd()
    }

    /// Whether [`MAX_RUNNING`] handshakes run: no new one may start.
    pub(super) fn is_full(&self) -> bool {
        self.shared.lock().running.len() >= MAX_RUNNING
    }

    /// Whether a finished handshake waits to be taken.
    pub(super) fn has_finished(&self) -> bool {
        !self.shared.lock().finished.is_empty()
    }

    /// The handshake that ended first and was not taken yet: its socket, or why it
    /// failed.
    pub(super) fn take_finished(&self) -> Option<Result<OwnedFd, Error>> {
        let mut state = self.shared.lock();
        let outcome = state.finished.pop_front()?;
        if state.finished.is_empty() {
            self.shared.silence();
        }
        Some(outcome)
    }

    /// Runs the handshake on `socket` on a thread of its own, over by `deadline`.
    pub(super) fn start(&self, socket: OwnedFd, deadline: Deadline) -> Result<(), Error> {
        let socket = Arc::new(socket);
        let shared = Arc::clone(&self.shared);
        let key = Arc::clone(&self.key);
        let theirs = Arc::clone(&socket);
        let mut state = self.shared.lock();
        let id = state.next_id;
        state.next_id += 1;
        let thread = std::thread::Builder::new()
            .name("mp-ipc-handshake".into())
            .stack_size(STACK_SIZE)
            .spawn(move || {
                let outcome = authenticate_client(theirs.as_fd(), &key, deadline);
                shared.finish(id, theirs, outcome);
            })
            .map_err(|err| os("spawning a handshake thread", &err))?;
        state.running.insert(
            id,
            Running {
                socket,
                thread: Some(thread),
            },
        );
        Ok(())
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is changed in single steps that cannot panic half-way.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues the outcome of handshake `id` and rings the doorbell.
    fn finish(&self, id: u64, socket: Arc<OwnedFd>, outcome: Result<(), Error>) {
        let mut state = self.lock();
        // The thread is at its end: its handle is let go (detached), not joined.
        state.running.remove(&id);
        let result = outcome.and_then(|()| {
            // Only a listener being dropped still holds a copy: the socket is not needed.
            Arc::try_unwrap(socket).map_err(|_| Error::Closed)
        });
        if state.finished.is_empty() {
            self.ring();
        }
        state.finished.push_back(result);
    }

    /// Makes the doorbell readable (called with the lock held, the queue empty).
    fn ring(&self) {
        loop {
            match (&self.ringer).write(&[1]) {
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                // An empty socket always takes one byte: nothing else can happen.
                _ => return,
            }
        }
    }

    /// Makes the doorbell silent again (called with the lock held, the queue emptied).
    fn silence(&self) {
        let mut byte = [0u8; 1];
        loop {
            match (&self.doorbell).read(&mut byte) {
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                _ => return,
            }
        }
    }
}

/// Ends the handshakes still running: their sockets are shut down, so each thread's next
/// wait returns at once, and the threads are joined.
impl Drop for Handshakes {
    fn drop(&mut self) {
        if std::process::id() != self.owner {
            return;
        }
        let threads: Vec<JoinHandle<()>> = {
            let mut state = self.shared.lock();
            state
                .running
                .drain()
                .filter_map(|(_, mut running)| {
                    // A socket the peer already closed may refuse: the thread ends anyway.
                    let _ = shutdown(running.socket.as_raw_fd(), Shutdown::Both);
                    running.thread.take()
                })
                .collect()
        };
        for thread in threads {
            // A thread that panicked has nothing left to clean up.
            let _ = thread.join();
        }
    }
}

fn os(operation: &'static str, error: &io::Error) -> Error {
    Error::Os {
        operation,
        errno: error.raw_os_error().map_or(Errno::EIO, Errno::from_raw),
    }
}
