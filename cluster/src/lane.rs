//! The two threads behind a queue handle's `_async` forms.
//!
//! The redis crate's connections are blocking, and its own async connections need a
//! tokio or smol runtime: mp's async forms work under any executor, so a handle runs
//! its Redis commands for them on threads of its own and hands each outcome to the
//! awaiting task through a one-shot channel, whose waker wakes it. The same
//! connections, reconnection with backoff, and TLS serve both forms.
//!
//! A handle starts at most two threads, on its first async call, and they end with it:
//! - the *take* thread serves `get_async` futures one at a time, in the order they were
//!   made, reading in slices of [`TAKE_SLICE`] so that a future dropped while it waits
//!   frees the thread within a slice (no busy polling: each slice is one blocking read
//!   on the server);
//! - the *command* thread runs puts, the acknowledgements that follow a `get_async`,
//!   give-backs, and `join_async` checks, so a `put_async` never waits behind a
//!   blocked `get_async`.
//!
//! Cancel safety: an entry the take thread read for a future that is gone by then is
//! kept by the handle (see `StreamQueue::keep`) for its next take, never dropped.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use futures_channel::oneshot;

use crate::Error;
use crate::stream::{Entry, StreamQueue};

/// The longest blocking read of the take thread.
const TAKE_SLICE: Duration = Duration::from_millis(200);
/// How often a waiting `join_async` asks the server, at first and at most.
const FIRST_JOIN_PAUSE: Duration = Duration::from_millis(1);
const LONGEST_JOIN_PAUSE: Duration = Duration::from_millis(50);

/// Where a thread sends one outcome.
pub(crate) type Reply<V> = oneshot::Sender<Result<V, Error>>;

/// What the command thread does.
pub(crate) enum Command {
    /// Append an encoded message.
    Put { body: Vec<u8>, reply: Reply<()> },
    /// Acknowledge and delete an entry a plain queue's `get_async` returned.
    Finish { id: String },
    /// Put back an entry a `get_async` could not decode, for a reader of its type.
    GiveBack { entry: Entry },
    /// Answer once every message put is finished.
    Join { reply: Reply<()> },
}

/// A handle's two threads, started on first use.
#[derive(Debug)]
pub(crate) struct Lanes {
    stream: Arc<StreamQueue>,
    takes: Mutex<Option<Sender<Reply<Entry>>>>,
    commands: Mutex<Option<Sender<Command>>>,
}

impl Lanes {
    pub(crate) fn new(stream: Arc<StreamQueue>) -> Self {
        Lanes {
            stream,
            takes: Mutex::new(None),
            commands: Mutex::new(None),
        }
    }

    /// Asks the take thread for the next entry.
    pub(crate) fn take(&self) -> Result<oneshot::Receiver<Result<Entry, Error>>, Error> {
        let (reply, receiver) = oneshot::channel();
        let stream = Arc::clone(&self.stream);
        send(&self.takes, "get_async", reply, move |requests| {
            serve_takes(&stream, &requests)
        })?;
        Ok(receiver)
    }

    /// Gives the command thread `command`.
    pub(crate) fn command(&self, command: Command) -> Result<(), Error> {
        let stream = Arc::clone(&self.stream);
        send(&self.commands, "commands", command, move |commands| {
            serve_commands(&stream, &commands)
        })
    }
}

/// Sends `message` to the thread behind `lane`, starting it with `serve` first if it
/// is not running.
fn send<M: Send + 'static>(
    lane: &Mutex<Option<Sender<M>>>,
    what: &str,
    message: M,
    serve: impl FnOnce(Receiver<M>) + Send + 'static,
) -> Result<(), Error> {
    let mut lane = lane.lock().unwrap_or_else(PoisonError::into_inner);
    let sender = match &*lane {
        Some(sender) => sender,
        None => {
            let (sender, receiver) = crossbeam_channel::unbounded();
            std::thread::Builder::new()
                .name(format!("mp-cluster queue {what}"))
                .spawn(move || serve(receiver))
                .map_err(|err| Error::Thread {
                    reason: err.to_string(),
                })?;
            lane.insert(sender)
        }
    };
    // The thread ends only when this sender is dropped (or if it panicked).
    sender.send(message).map_err(|_| Error::Thread {
        reason: format!("the queue's {what} thread has ended"),
    })
}

fn serve_takes(stream: &StreamQueue, requests: &Receiver<Reply<Entry>>) {
    for reply in requests {
        loop {
            if reply.is_canceled() {
                break;
            }
            match stream.take_slice(TAKE_SLICE) {
                Ok(None) => continue,
                Ok(Some(entry)) => {
                    if let Err(Ok(entry)) = reply.send(Ok(entry)) {
                        stream.keep(entry);
                    }
                    break;
                }
                Err(err) => {
                    let _ = reply.send(Err(err));
                    break;
                }
            }
        }
    }
}

fn serve_commands(stream: &StreamQueue, commands: &Receiver<Command>) {
    let mut joins: Vec<Reply<()>> = Vec::new();
    let mut pause = FIRST_JOIN_PAUSE;
    let mut next_check = Instant::now();
    loop {
        let received = if joins.is_empty() {
            commands.recv().map_err(|_| RecvTimeoutError::Disconnected)
        } else {
            commands.recv_deadline(next_check)
        };
        match received {
            Ok(Command::Put { body, reply }) => {
                if !reply.is_canceled() {
                    let _ = reply.send(stream.put(&body));
                }
            }
            Ok(Command::Finish { id }) => {
                if let Err(err) = stream.finish(&id) {
                    // Still leased: it goes to a consumer again after the visibility
                    // timeout (at least once, never lost).
                    tracing::warn!(queue = %stream.name(), %id, %err, "message not acknowledged");
                }
            }
            Ok(Command::GiveBack { entry }) => {
                if let Err(err) = stream.give_back(&entry) {
                    tracing::warn!(queue = %stream.name(), id = %entry.id, %err, "undecodable message not given back; it stays leased");
                }
            }
            Ok(Command::Join { reply }) => {
                joins.push(reply);
                pause = FIRST_JOIN_PAUSE;
                next_check = Instant::now();
            }
            Err(RecvTimeoutError::Timeout) => {}
            // Futures borrow their handle, so no join waits once the handle is gone.
            Err(RecvTimeoutError::Disconnected) => return,
        }
        joins.retain(|reply| !reply.is_canceled());
        if !joins.is_empty() && Instant::now() >= next_check {
            match stream.unfinished() {
                Ok(0) => {
                    for reply in joins.drain(..) {
                        let _ = reply.send(Ok(()));
                    }
                }
                Ok(_) => {}
                Err(err) => {
                    let first = joins.remove(0);
                    let _ = first.send(Err(err));
                }
            }
            next_check = Instant::now() + pause;
            pause = (pause * 2).min(LONGEST_JOIN_PAUSE);
        }
    }
}
