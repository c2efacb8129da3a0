//! One queue as one Redis Stream with one consumer group: what both queue types share.
//!
//! Layout: the stream `mp:queue:{NAME}` (the braces make it a Redis Cluster hash tag)
//! holds one entry per message not yet finished, with the postcard bytes in its field
//! `body`; the group `mp` delivers each entry to one consumer and keeps it pending
//! there until it is acknowledged. Finishing an entry acknowledges *and deletes* it in
//! one transaction (`MULTI XACK XDEL`), so the stream's length is the number of
//! messages put and not finished, and "joined" is "the stream is empty". That is the
//! only key: nothing else to keep in step, and one expiry covers the queue.
//!
//! Taking: first a pending entry idle for longer than the visibility timeout (its
//! consumer died or is too slow): `XPENDING .. IDLE` finds it and `XCLAIM` (which
//! checks the idle time again, so two consumers never both win it) takes it over; then
//! new entries with `XREADGROUP .. >`, blocking in slices of at most a second, so that a
//! blocked consumer also picks up entries whose lease ran out meanwhile, and a wait of
//! any length never looks like a dead connection.
//!
//! A group that is missing (the server restarted empty, the keys expired, the queue was
//! destroyed) is created again on the spot (`XGROUP CREATE .. MKSTREAM`).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use mp_sys::Deadline;
use redis::streams::{StreamClaimReply, StreamId, StreamPendingCountReply, StreamReadReply};
use redis::{Connection, RedisError, RedisResult, Value};

use crate::builder::{QueueBuilder, QueueOptions};
use crate::names::{millis, unique_name};
use crate::{Cluster, Error};

const GROUP: &str = "mp";
const BODY: &str = "body";
/// The longest single blocking read: a blocked take looks for expired leases this often.
const LONGEST_BLOCK: Duration = Duration::from_secs(1);

/// One entry taken from the stream: its id (to finish it) and its body.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) id: String,
    pub(crate) body: Vec<u8>,
}

/// The queue in Redis, as both queue types use it.
#[derive(Debug)]
pub(crate) struct StreamQueue {
    cluster: Cluster,
    name: String,
    key: String,
    consumer: String,
    options: QueueOptions,
    closed: AtomicBool,
    /// Whether the consumer is known to the group (it read or claimed), and so has to
    /// leave it when this handle is dropped.
    registered: AtomicBool,
    /// The process that opened the handle: a forked copy leaves the group alone.
    opener: u32,
    /// Entries taken for a `get_async` whose future was dropped before it had them:
    /// the next take of this handle returns them first (see [`keep`](Self::keep)).
    kept: Mutex<VecDeque<Entry>>,
    /// Held by the `get_async` thread for each of its blocking reads, and by `destroy`,
    /// so that a read already under way cannot create the queue again behind a
    /// `destroy`.
    reading: Mutex<()>,
}

impl StreamQueue {
    /// Opens the queue of `builder`, creating its stream and group if they are missing.
    pub(crate) fn open(builder: QueueBuilder) -> Result<StreamQueue, Error> {
        let QueueBuilder {
            cluster,
            name,
            options,
        } = builder;
        let queue = StreamQueue {
            key: format!("mp:queue:{{{name}}}"),
            consumer: unique_name(),
            cluster,
            name,
            options,
            closed: AtomicBool::new(false),
            registered: AtomicBool::new(false),
            opener: std::process::id(),
            kept: Mutex::new(VecDeque::new()),
            reading: Mutex::new(()),
        };
        queue
            .cluster
            .run("XGROUP CREATE", |connection| queue.create_group(connection))?;
        tracing::debug!(queue = %queue.name, consumer = %queue.consumer, "queue opened");
        Ok(queue)
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }

    pub(crate) fn check_open(&self) -> Result<(), Error> {
        match self.closed.load(Ordering::Acquire) {
            true => Err(Error::Closed),
            false => Ok(()),
        }
    }

    /// Whether `body` may be put: the handle is open and the body within the limit.
    pub(crate) fn check_put(&self, body: &[u8]) -> Result<(), Error> {
        self.check_open()?;
        if body.len() > self.options.max_message_len {
            return Err(Error::MessageTooLarge {
                len: body.len(),
                max: self.options.max_message_len,
            });
        }
        Ok(())
    }

    /// Appends one message (already encoded).
    pub(crate) fn put(&self, body: &[u8]) -> Result<(), Error> {
        self.check_put(body)?;
        self.cluster.run("XADD", |connection| {
            let mut transaction = redis::pipe();
            transaction.atomic();
            self.append(&mut transaction, body);
            self.refresh_expiry(&mut transaction);
            transaction.query::<()>(connection)
        })
    }

    /// Takes one entry: an expired lease first, then a new one, waiting until
    /// `deadline` (a passed deadline: look once). `None` if there was none.
    pub(crate) fn take(&self, deadline: Deadline) -> Result<Option<Entry>, Error> {
        loop {
            self.check_open()?;
            if let Some(entry) = self.kept().pop_front() {
                return Ok(Some(entry));
            }
            if let Some(entry) = self.claim_expired()? {
                return Ok(Some(entry));
            }
            let slice = match deadline.remaining() {
                None => LONGEST_BLOCK,
                Some(left) => left.min(LONGEST_BLOCK),
            };
            let slice = slice.min(self.options.visibility_timeout / 2);
            if let Some(entry) = self.read_new(slice)? {
                return Ok(Some(entry));
            }
            if deadline.has_passed() {
                return Ok(None);
            }
        }
    }

    /// [`take`](Self::take) as the `get_async` thread does it: one read of at most
    /// `slice`, which a `destroy` waits for.
    pub(crate) fn take_slice(&self, slice: Duration) -> Result<Option<Entry>, Error> {
        let _reading = self.reading.lock().unwrap_or_else(PoisonError::into_inner);
        self.take(Deadline::after(slice))
    }

    /// Keeps an entry this handle took but could not hand over (its `get_async` future
    /// was dropped): the next take of this handle returns it, and a handle dropped with
    /// entries kept puts them back at the end of the queue. It stays leased meanwhile,
    /// so if this process dies it goes to another consumer after the visibility timeout.
    pub(crate) fn keep(&self, entry: Entry) {
        self.kept().push_back(entry);
    }

    fn kept(&self) -> MutexGuard<'_, VecDeque<Entry>> {
        // A plain list of entries: consistent whatever panicked while it was locked.
        self.kept.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Finishes an entry: acknowledged and deleted, at once. Whether it was still
    /// pending (false: another consumer finished it first, after its lease ran out here).
    pub(crate) fn finish(&self, id: &str) -> Result<bool, Error> {
        let (acknowledged, _deleted): (i64, i64) = self.cluster.run("XACK", |connection| {
            let mut transaction = redis::pipe();
            transaction
                .atomic()
                .cmd("XACK")
                .arg(&self.key)
                .arg(GROUP)
                .arg(id)
                .cmd("XDEL")
                .arg(&self.key)
                .arg(id);
            self.refresh_expiry(&mut transaction);
            transaction.query(connection)
        })?;
        Ok(acknowledged > 0)
    }

    /// Puts an entry that this handle cannot read back at the end of the queue, and
    /// finishes the original, in one transaction: nothing lost, nothing doubled.
    pub(crate) fn give_back(&self, entry: &Entry) -> Result<(), Error> {
        self.cluster.run("XADD", |connection| {
            self.give_back_transaction(entry).query::<()>(connection)
        })
    }

    /// Adds to `transaction` the append of one message with `body`.
    fn append(&self, transaction: &mut redis::Pipeline, body: &[u8]) {
        transaction
            .cmd("XADD")
            .arg(&self.key)
            .arg("*")
            .arg(BODY)
            .arg(body)
            .ignore();
    }

    /// Appends a copy of `entry` and finishes the original, as one transaction.
    fn give_back_transaction(&self, entry: &Entry) -> redis::Pipeline {
        let mut transaction = redis::pipe();
        transaction.atomic();
        self.append(&mut transaction, &entry.body);
        transaction
            .cmd("XACK")
            .arg(&self.key)
            .arg(GROUP)
            .arg(&entry.id)
            .ignore()
            .cmd("XDEL")
            .arg(&self.key)
            .arg(&entry.id)
            .ignore();
        self.refresh_expiry(&mut transaction);
        transaction
    }

    /// (messages not finished, of those: taken and not finished).
    pub(crate) fn counts(&self) -> Result<(u64, u64), Error> {
        self.grouped("XPENDING", |connection| {
            let mut transaction = redis::pipe();
            transaction
                .atomic()
                .cmd("XLEN")
                .arg(&self.key)
                .cmd("XPENDING")
                .arg(&self.key)
                .arg(GROUP);
            let (length, pending): (u64, Value) = transaction.query(connection)?;
            let pending = match pending {
                Value::Array(summary) => match summary.first() {
                    Some(Value::Int(count)) => u64::try_from(*count).unwrap_or(0),
                    _ => 0,
                },
                _ => 0,
            };
            Ok((length, pending))
        })
    }

    /// Messages not finished (the stream's length).
    pub(crate) fn unfinished(&self) -> Result<u64, Error> {
        self.cluster.run("XLEN", |connection| {
            redis::cmd("XLEN").arg(&self.key).query(connection)
        })
    }

    /// Deletes the queue's key: its messages, taken or not, and its group.
    pub(crate) fn destroy(&self) -> Result<(), Error> {
        self.kept().clear();
        let _reading = self.reading.lock().unwrap_or_else(PoisonError::into_inner);
        self.cluster.run("DEL", |connection| {
            redis::cmd("DEL").arg(&self.key).query::<()>(connection)
        })?;
        tracing::debug!(queue = %self.name, "queue destroyed");
        Ok(())
    }

    /// The entry of the first pending message idle for longer than the visibility
    /// timeout, now this consumer's; `None` if there is none.
    fn claim_expired(&self) -> Result<Option<Entry>, Error> {
        let idle_ms = millis(self.options.visibility_timeout);
        self.registered.store(true, Ordering::Relaxed);
        let reply: Option<StreamClaimReply> = self.grouped("XCLAIM", |connection| {
            let expired: StreamPendingCountReply = redis::cmd("XPENDING")
                .arg(&self.key)
                .arg(GROUP)
                .arg("IDLE")
                .arg(idle_ms)
                .arg("-")
                .arg("+")
                .arg(1)
                .query(connection)?;
            let Some(pending) = expired.ids.first() else {
                return Ok(None);
            };
            // XCLAIM checks the idle time again: of two consumers that saw the same
            // expired entry, one gets it and the other an empty reply.
            redis::cmd("XCLAIM")
                .arg(&self.key)
                .arg(GROUP)
                .arg(&self.consumer)
                .arg(idle_ms)
                .arg(&pending.id)
                .query(connection)
                .map(Some)
        })?;
        let Some(claimed) = reply.and_then(|reply| reply.ids.into_iter().next()) else {
            return Ok(None);
        };
        tracing::debug!(queue = %self.name, id = %claimed.id, "took over an expired lease");
        self.entry(claimed).map(Some)
    }

    /// A new entry, waiting at most `wait` (zero: look once).
    fn read_new(&self, wait: Duration) -> Result<Option<Entry>, Error> {
        self.registered.store(true, Ordering::Relaxed);
        let reply: Option<StreamReadReply> =
            self.grouped_waiting("XREADGROUP", wait, |connection| {
                let mut read = redis::cmd("XREADGROUP");
                read.arg("GROUP")
                    .arg(GROUP)
                    .arg(&self.consumer)
                    .arg("COUNT")
                    .arg(1);
                if !wait.is_zero() {
                    // BLOCK 0 would be "forever": a wait under a millisecond is one.
                    read.arg("BLOCK").arg(millis(wait).max(1));
                }
                read.arg("STREAMS")
                    .arg(&self.key)
                    .arg(">")
                    .query(connection)
            })?;
        let entry = reply
            .and_then(|reply| reply.keys.into_iter().next())
            .and_then(|key| key.ids.into_iter().next());
        entry.map(|entry| self.entry(entry)).transpose()
    }

    fn entry(&self, entry: StreamId) -> Result<Entry, Error> {
        match entry.map.get(BODY) {
            Some(Value::BulkString(body)) => Ok(Entry {
                body: body.clone(),
                id: entry.id,
            }),
            _ => Err(Error::Corrupt {
                queue: self.name.clone(),
                id: entry.id,
            }),
        }
    }

    /// Runs a command that needs the group, creating the group once if it is missing.
    fn grouped<R>(
        &self,
        operation: &'static str,
        command: impl FnMut(&mut Connection) -> RedisResult<R>,
    ) -> Result<R, Error> {
        self.grouped_waiting(operation, Duration::ZERO, command)
    }

    fn grouped_waiting<R>(
        &self,
        operation: &'static str,
        wait: Duration,
        mut command: impl FnMut(&mut Connection) -> RedisResult<R>,
    ) -> Result<R, Error> {
        self.cluster
            .run_waiting(operation, wait, |connection| match command(connection) {
                Err(err) if no_group(&err) => {
                    tracing::debug!(queue = %self.name, "consumer group missing; creating it");
                    self.create_group(connection)?;
                    command(connection)
                }
                outcome => outcome,
            })
    }

    fn create_group(&self, connection: &mut Connection) -> RedisResult<()> {
        let created = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(&self.key)
            .arg(GROUP)
            .arg("0")
            .arg("MKSTREAM")
            .query::<()>(connection);
        match created {
            Err(err) if err.code() == Some("BUSYGROUP") => {}
            other => other?,
        }
        match self.options.expire_after {
            Some(expiry) => redis::cmd("PEXPIRE")
                .arg(&self.key)
                .arg(millis(expiry))
                .query::<()>(connection),
            None => Ok(()),
        }
    }

    fn refresh_expiry(&self, transaction: &mut redis::Pipeline) {
        if let Some(expiry) = self.options.expire_after {
            transaction
                .cmd("PEXPIRE")
                .arg(&self.key)
                .arg(millis(expiry))
                .ignore();
        }
    }
}

/// Deletes the consumer `ARGV[2]` from the group `ARGV[1]` of the stream `KEYS[1]` if
/// it holds no pending entry (deleting it would drop them: they must stay claimable).
const LEAVE_GROUP: &str = r"
if #redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2]) == 0 then
    return redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
end
return -1
";

impl Drop for StreamQueue {
    /// The consumer leaves the group unless it holds unfinished messages (those stay,
    /// for another consumer to take over after the visibility timeout), so a queue used
    /// by many short-lived processes does not collect one consumer per process. One
    /// attempt: a server that is gone is not waited for (the keys expire anyway).
    fn drop(&mut self) {
        if !self.registered.load(Ordering::Relaxed) || self.opener != std::process::id() {
            return;
        }
        let kept: Vec<Entry> = self.kept().drain(..).collect();
        for entry in kept {
            // Not given back: it stays leased, and goes to another consumer after the
            // visibility timeout.
            let given = self.cluster.run_once("XADD", |connection| {
                self.give_back_transaction(&entry).query::<()>(connection)
            });
            if let Err(err) = given {
                tracing::debug!(queue = %self.name, %err, id = %entry.id, "kept entry not given back");
            }
        }
        let left = self.cluster.run_once("XGROUP DELCONSUMER", |connection| {
            redis::cmd("EVAL")
                .arg(LEAVE_GROUP)
                .arg(1)
                .arg(&self.key)
                .arg(GROUP)
                .arg(&self.consumer)
                .query::<i64>(connection)
        });
        if let Err(err) = left {
            tracing::debug!(queue = %self.name, %err, "consumer could not leave its group");
        }
    }
}

fn no_group(err: &RedisError) -> bool {
    err.code() == Some("NOGROUP")
}
