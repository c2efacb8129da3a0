//! The server's blocking objects (semaphores and locks, events, queues): each call
//! waits on its object's condition variable for at most the caller's timeout, in the
//! caller's connection thread, so one waiter never holds up another object.

use std::collections::{BTreeSet, VecDeque};
use std::sync::MutexGuard;
use std::time::{Duration, Instant};

use crate::protocol::{Kind, Reply};
use crate::server::{Entry, Object, Shared, lock, object, wrong_kind};
use crate::{ProtocolFault, Refusal};

/// Waits until `ready` gives an answer or `timeout` passes (then `None`). `ready`
/// returns `Err` for an object of the wrong kind.
fn wait_for<R>(
    entry: &Entry,
    timeout: Option<Duration>,
    mut ready: impl FnMut(&mut Object) -> Result<Option<R>, Refusal>,
) -> Result<Option<R>, Refusal> {
    let deadline = timeout.and_then(|timeout| Instant::now().checked_add(timeout));
    let mut guard: MutexGuard<'_, Option<Object>> = lock(&entry.object);
    loop {
        let Some(object) = guard.as_mut() else {
            return Err(Refusal::Protocol {
                fault: ProtocolFault::ObjectWithoutState,
            });
        };
        if let Some(answer) = ready(object)? {
            entry.changed.notify_all();
            return Ok(Some(answer));
        }
        guard = match deadline {
            // No timeout, or one past the clock's end: forever.
            None => entry
                .changed
                .wait(guard)
                .unwrap_or_else(std::sync::PoisonError::into_inner),
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Ok(None);
                }
                entry
                    .changed
                    .wait_timeout(guard, left)
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .0
            }
        };
    }
}

/// Runs `change` on the object at once and wakes its waiters.
fn change<R>(
    table: &Shared,
    id: u64,
    change: impl FnOnce(&mut Object) -> Result<R, Refusal>,
) -> Result<R, Refusal> {
    let entry = object(table, id)?;
    let mut guard = lock(&entry.object);
    let object = guard.as_mut().ok_or(Refusal::Protocol {
        fault: ProtocolFault::ObjectWithoutState,
    })?;
    let answer = change(object)?;
    entry.changed.notify_all();
    Ok(answer)
}

const SEMAPHORE: Kind = Kind::Semaphore {
    initial: 0,
    bound: None,
};

pub(crate) fn acquire(
    table: &Shared,
    id: u64,
    timeout: Option<Duration>,
) -> Result<Reply, Refusal> {
    let entry = object(table, id)?;
    let taken = wait_for(&entry, timeout, |object| match object {
        Object::Semaphore { value, .. } if *value > 0 => {
            *value -= 1;
            Ok(Some(()))
        }
        Object::Semaphore { .. } => Ok(None),
        _ => Err(wrong_kind(id, SEMAPHORE)),
    })?;
    Ok(Reply::Flag(taken.is_some()))
}

pub(crate) fn release(table: &Shared, id: u64) -> Result<Reply, Refusal> {
    change(table, id, |object| match object {
        Object::Semaphore { value, bound } => {
            if bound.is_some_and(|bound| *value >= bound) {
                return Err(Refusal::ReleasedTooMany);
            }
            *value += 1;
            Ok(Reply::Done)
        }
        _ => Err(wrong_kind(id, SEMAPHORE)),
    })
}

pub(crate) fn event_set(table: &Shared, id: u64, set: bool) -> Result<Reply, Refusal> {
    change(table, id, |object| match object {
        Object::Event(flag) => {
            *flag = set;
            Ok(Reply::Done)
        }
        _ => Err(wrong_kind(id, Kind::Event)),
    })
}

pub(crate) fn event_is_set(table: &Shared, id: u64) -> Result<Reply, Refusal> {
    change(table, id, |object| match object {
        Object::Event(flag) => Ok(Reply::Flag(*flag)),
        _ => Err(wrong_kind(id, Kind::Event)),
    })
}

pub(crate) fn event_wait(
    table: &Shared,
    id: u64,
    timeout: Option<Duration>,
) -> Result<Reply, Refusal> {
    let entry = object(table, id)?;
    let set = wait_for(&entry, timeout, |object| match object {
        Object::Event(true) => Ok(Some(())),
        Object::Event(false) => Ok(None),
        _ => Err(wrong_kind(id, Kind::Event)),
    })?;
    Ok(Reply::Flag(set.is_some()))
}

const QUEUE: Kind = Kind::Queue { maxsize: None };

fn queue(object: &mut Object, id: u64) -> Result<(&mut VecDeque<Vec<u8>>, Option<u64>), Refusal> {
    match object {
        Object::Queue { items, maxsize } => Ok((items, *maxsize)),
        _ => Err(wrong_kind(id, QUEUE)),
    }
}

pub(crate) fn queue_put(
    table: &Shared,
    id: u64,
    value: Vec<u8>,
    timeout: Option<Duration>,
) -> Result<Reply, Refusal> {
    let entry = object(table, id)?;
    let mut value = Some(value);
    let put = wait_for(&entry, timeout, |object| {
        let (items, maxsize) = queue(object, id)?;
        if maxsize.is_some_and(|max| items.len() as u64 >= max) {
            return Ok(None);
        }
        items.extend(value.take());
        Ok(Some(()))
    })?;
    Ok(Reply::Flag(put.is_some()))
}

pub(crate) fn queue_get(
    table: &Shared,
    id: u64,
    timeout: Option<Duration>,
) -> Result<Reply, Refusal> {
    let entry = object(table, id)?;
    let got = wait_for(&entry, timeout, |object| {
        Ok(queue(object, id)?.0.pop_front())
    })?;
    Ok(Reply::Value(got))
}

pub(crate) fn queue_len(table: &Shared, id: u64) -> Result<Reply, Refusal> {
    change(table, id, |object| {
        Ok(Reply::Len(queue(object, id)?.0.len() as u64))
    })
}

const BARRIER: Kind = Kind::Barrier { parties: 0 };

pub(crate) fn barrier_wait(
    table: &Shared,
    id: u64,
    timeout: Option<Duration>,
) -> Result<Reply, Refusal> {
    let entry = object(table, id)?;
    // This caller's generation and arrival index, once it has arrived.
    let mut arrived: Option<(u64, u64)> = None;
    let passed = wait_for(&entry, timeout, |object| {
        let Object::Barrier {
            parties,
            count,
            generation,
            broken,
        } = object
        else {
            return Err(wrong_kind(id, BARRIER));
        };
        match arrived {
            Some((mine, index)) if *generation != mine => Ok(Some(index)),
            _ if *broken => Err(Refusal::BrokenBarrier),
            Some(_) => Ok(None),
            None => {
                let index = *count;
                *count += 1;
                if *count >= *parties {
                    *count = 0;
                    *generation += 1;
                    return Ok(Some(index));
                }
                arrived = Some((*generation, index));
                Ok(None)
            }
        }
    });
    match passed {
        Ok(Some(index)) => Ok(Reply::Len(index)),
        Ok(None) => {
            // Timed out: the barrier breaks for everyone, as Python's does; this caller is
            // told its timeout elapsed.
            barrier_break(table, id, true)?;
            Ok(Reply::Flag(false))
        }
        Err(refusal) => Err(refusal),
    }
}

pub(crate) fn barrier_break(table: &Shared, id: u64, broken: bool) -> Result<Reply, Refusal> {
    change(table, id, |object| match object {
        Object::Barrier {
            count,
            broken: state,
            ..
        } => {
            *state = broken;
            if !broken {
                *count = 0;
            }
            Ok(Reply::Done)
        }
        _ => Err(wrong_kind(id, BARRIER)),
    })
}

fn condition_of(
    object: &mut Object,
    id: u64,
) -> Result<(&mut u64, &mut u64, &mut BTreeSet<u64>), Refusal> {
    match object {
        Object::Condition {
            next,
            woken,
            given_up,
        } => Ok((next, woken, given_up)),
        _ => Err(wrong_kind(id, Kind::Condition)),
    }
}

/// Python's `Condition.wait`: the ticket is taken before the lock is released, so a
/// notification sent once the lock is free cannot be missed.
pub(crate) fn condition_wait(
    table: &Shared,
    id: u64,
    lock_id: u64,
    timeout: Option<Duration>,
) -> Result<Reply, Refusal> {
    let ticket = change(table, id, |object| {
        let (next, _, _) = condition_of(object, id)?;
        *next += 1;
        Ok(*next - 1)
    })?;
    if let Err(refusal) = release(table, lock_id) {
        change(table, id, |object| {
            condition_of(object, id)?.2.insert(ticket);
            Ok(())
        })?;
        return Err(refusal);
    }
    let entry = object(table, id)?;
    let woken = wait_for(&entry, timeout, |object| {
        let (_, woken, _) = condition_of(object, id)?;
        Ok((ticket < *woken).then_some(()))
    });
    let notified = match woken {
        Ok(Some(())) => true,
        // A timeout: woken meanwhile after all, or the ticket is given up.
        Ok(None) => change(table, id, |object| {
            let (_, woken, given_up) = condition_of(object, id)?;
            if ticket < *woken {
                Ok(true)
            } else {
                given_up.insert(ticket);
                Ok(false)
            }
        })?,
        Err(refusal) => return Err(refusal),
    };
    // Python reacquires the lock whatever happened, waiting as long as it takes.
    acquire(table, lock_id, None)?;
    Ok(Reply::Flag(notified))
}

pub(crate) fn condition_notify(table: &Shared, id: u64, count: u64) -> Result<Reply, Refusal> {
    change(table, id, |object| {
        let (next, woken, given_up) = condition_of(object, id)?;
        let mut left = count;
        while left > 0 && *woken < *next {
            if !given_up.remove(woken) {
                left -= 1;
            }
            *woken += 1;
        }
        Ok(Reply::Done)
    })
}
