//! The futures of the queues' `_async` forms: [`GetAsync`], [`PutAsync`], [`JoinAsync`].
//!
//! Each borrows its handle, as mp-ipc's do, and is woken by the handle's thread that
//! runs the Redis command (see the module `lane`). They work under any executor.

use std::collections::VecDeque;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};
use std::task::{Context, Poll};

use futures_channel::oneshot;
use serde::de::DeserializeOwned;

use crate::Error;
use crate::lane::{Command, Lanes};
use crate::queue::decode_body;
use crate::stream::{Entry, StreamQueue};

/// What a delivered entry's id becomes.
pub(crate) enum Settle<'a> {
    /// Acknowledged and deleted (the plain [`Queue`](crate::Queue)).
    Finish,
    /// Leased until `task_done` (the [`JoinableQueue`](crate::JoinableQueue)).
    Track(&'a Mutex<VecDeque<String>>),
}

/// One outcome from a handle's thread, or a failure known before asking it.
enum Answer<V> {
    Failed(Option<Error>),
    Waiting(oneshot::Receiver<Result<V, Error>>),
    Done,
}

impl<V> Answer<V> {
    fn new(asked: Result<oneshot::Receiver<Result<V, Error>>, Error>) -> Self {
        match asked {
            Ok(receiver) => Answer::Waiting(receiver),
            Err(err) => Answer::Failed(Some(err)),
        }
    }

    fn poll_answer(&mut self, cx: &mut Context<'_>) -> Poll<Result<V, Error>> {
        let outcome = match self {
            Answer::Failed(err) => err.take().map_or(Err(Error::AlreadyTaken), Err),
            Answer::Waiting(receiver) => match Pin::new(receiver).poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(outcome)) => outcome,
                Poll::Ready(Err(oneshot::Canceled)) => Err(Error::Thread {
                    reason: "the queue's thread ended before answering".to_string(),
                }),
            },
            // Polled again after it gave its outcome.
            Answer::Done => Err(Error::AlreadyTaken),
        };
        *self = Answer::Done;
        Poll::Ready(outcome)
    }
}

/// The future of `get_async` on a [`Queue`](crate::Queue) or a
/// [`JoinableQueue`](crate::JoinableQueue): the oldest message, or the error `get`
/// would give.
///
/// Dropping it loses nothing: a message already taken for it is kept by the handle and
/// returned by its next `get` (or put back at the end of the queue when the handle is
/// dropped first).
///
/// ```
/// # let server = test_support::redis::RedisServer::start()?;
/// # let url = server.url();
/// let cluster = mp_cluster::Cluster::connect(&url)?;
/// let queue = cluster.queue::<u32>("awaited")?;
/// queue.put(&5)?;
/// let runtime = tokio::runtime::Builder::new_current_thread().build()?;
/// let got: mp_cluster::GetAsync<'_, u32> = queue.get_async();
/// assert_eq!(runtime.block_on(got)?, 5);
/// queue.destroy()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "a future does nothing unless awaited"]
pub struct GetAsync<'a, T> {
    stream: &'a StreamQueue,
    lanes: &'a Lanes,
    settle: Settle<'a>,
    answer: Answer<Entry>,
    _message: PhantomData<fn() -> T>,
}

impl<'a, T> GetAsync<'a, T> {
    pub(crate) fn new(stream: &'a StreamQueue, lanes: &'a Lanes, settle: Settle<'a>) -> Self {
        GetAsync {
            stream,
            lanes,
            settle,
            answer: Answer::new(lanes.take()),
            _message: PhantomData,
        }
    }
}

impl<T: DeserializeOwned> GetAsync<'_, T> {
    fn deliver(&self, entry: Entry) -> Result<T, Error> {
        let message = match decode_body::<T>(self.stream.name(), &entry.body) {
            Ok(message) => message,
            Err(err) => {
                if let Err(unsent) = self.lanes.command(Command::GiveBack { entry }) {
                    tracing::warn!(queue = %self.stream.name(), %unsent, "undecodable message stays leased");
                }
                return Err(err);
            }
        };
        match &self.settle {
            Settle::Finish => {
                let id = entry.id;
                if let Err(unsent) = self.lanes.command(Command::Finish { id }) {
                    tracing::warn!(queue = %self.stream.name(), %unsent, "message not acknowledged; it stays leased");
                }
            }
            Settle::Track(taken) => taken
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push_back(entry.id),
        }
        Ok(message)
    }
}

impl<T: DeserializeOwned> Future for GetAsync<'_, T> {
    type Output = Result<T, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        match this.answer.poll_answer(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(entry)) => Poll::Ready(this.deliver(entry)),
            Poll::Ready(Err(err)) => Poll::Ready(Err(err)),
        }
    }
}

impl<T> Drop for GetAsync<'_, T> {
    fn drop(&mut self) {
        if let Answer::Waiting(receiver) = &mut self.answer {
            receiver.close();
            if let Ok(Some(Ok(entry))) = receiver.try_recv() {
                self.stream.keep(entry);
            }
        }
    }
}

impl<T> std::fmt::Debug for GetAsync<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GetAsync")
            .field("queue", &self.stream.name())
            .finish_non_exhaustive()
    }
}

/// The future of `put_async`: `Ok(())` once the message is in Redis, or the error
/// `put` would give (a message over the limit fails before anything is sent).
///
/// Dropping it before it is ready may or may not withdraw the put.
///
/// ```
/// # let server = test_support::redis::RedisServer::start()?;
/// # let url = server.url();
/// let cluster = mp_cluster::Cluster::connect(&url)?;
/// let queue = cluster.queue::<String>("sent")?;
/// let runtime = tokio::runtime::Builder::new_current_thread().build()?;
/// let sent: mp_cluster::PutAsync<'_> = queue.put_async(&"hello".to_string());
/// runtime.block_on(sent)?;
/// assert_eq!(queue.get()?, "hello");
/// queue.destroy()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "a future does nothing unless awaited"]
pub struct PutAsync<'a> {
    answer: Answer<()>,
    _handle: PhantomData<&'a ()>,
}

impl PutAsync<'_> {
    pub(crate) fn new(stream: &StreamQueue, lanes: &Lanes, body: Result<Vec<u8>, Error>) -> Self {
        let asked = body
            .and_then(|body| stream.check_put(&body).map(|()| body))
            .and_then(|body| {
                let (reply, receiver) = oneshot::channel();
                lanes.command(Command::Put { body, reply })?;
                Ok(receiver)
            });
        PutAsync {
            answer: Answer::new(asked),
            _handle: PhantomData,
        }
    }
}

impl Future for PutAsync<'_> {
    type Output = Result<(), Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.get_mut().answer.poll_answer(cx)
    }
}

impl std::fmt::Debug for PutAsync<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PutAsync").finish_non_exhaustive()
    }
}

/// The future of [`JoinableQueue::join_async`](crate::JoinableQueue::join_async):
/// `Ok(())` once every message put is done, from any process on any machine.
///
/// ```
/// # let server = test_support::redis::RedisServer::start()?;
/// # let url = server.url();
/// let cluster = mp_cluster::Cluster::connect(&url)?;
/// let tasks = cluster.joinable_queue::<u8>("joined")?;
/// tasks.put(&1)?;
/// tasks.get()?;
/// tasks.task_done()?;
/// let runtime = tokio::runtime::Builder::new_current_thread().build()?;
/// let joined: mp_cluster::JoinAsync<'_> = tasks.join_async();
/// runtime.block_on(joined)?;
/// tasks.destroy()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "a future does nothing unless awaited"]
pub struct JoinAsync<'a> {
    answer: Answer<()>,
    _handle: PhantomData<&'a ()>,
}

impl JoinAsync<'_> {
    pub(crate) fn new(lanes: &Lanes) -> Self {
        let (reply, receiver) = oneshot::channel();
        let asked = lanes.command(Command::Join { reply }).map(|()| receiver);
        JoinAsync {
            answer: Answer::new(asked),
            _handle: PhantomData,
        }
    }
}

impl Future for JoinAsync<'_> {
    type Output = Result<(), Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.get_mut().answer.poll_answer(cx)
    }
}

impl std::fmt::Debug for JoinAsync<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinAsync").finish_non_exhaustive()
    }
}
