//! Who took a joinable queue's tasks: one account per consumer process, so that the tasks
//! a process took and never marked done are counted lost once it dies, and `join`
//! returns instead of waiting for them for ever.
//!
//! Why not deliver them again: the ring frees a message's bytes when it is taken, so that
//! a consumer that holds a task for an hour (or never calls `task_done`) does not stop
//! producers. Keeping every unfinished message until its `task_done` would let one slow
//! consumer fill the ring for everyone, and copying them aside would need shared memory
//! without bound. So the queue counts instead, exactly.
//!
//! - **Accounts.** An account holds two counts in one word: tasks taken and tasks marked
//!   done by its owner, each modulo 2^32. The unfinished tasks are the messages put (the
//!   tail's count) minus the sum of every account's "done", so `task_done` is one atomic
//!   update of the caller's own account, and nothing can leave the two apart.
//! - **Takes.** Taking a message (the head's commit) and counting it in the account are
//!   two stores. Between them the taker, which holds the consumer lock, leaves a note in
//!   the control block: which account, the head's count and the account's "taken" before
//!   the take. A process killed between the two leaves the note and the lock behind; the
//!   next holder of the consumer lock (told by mp-sync that the holder died) reads the
//!   note, sees from the head whether the take was committed and from the account whether
//!   it was counted, and finishes what the dead process began.
//! - **Settling.** A process that died with tasks taken and not done is found by a joiner
//!   (or by a process looking for a free account): its identity (process id and start
//!   time, so a reused process id is not mistaken for it) no longer runs. Its account's
//!   "done" is raised to its "taken" and the difference added to the account's lost
//!   count, with the "taken" it was settled at recorded beside it, so settling twice
//!   counts nothing twice. Settling and handing an account to another process happen
//!   under one more lock, so an account is never settled while a new owner uses it.
//! - **Limits.** [`ACCOUNTS`] minus one processes can hold an account at once; past
//!   them, processes share an anonymous account, whose tasks are never counted lost (a
//!   join waits for them as Python's does). `task_done` counts for the process that
//!   calls it: a task taken by one process and marked done by another is counted lost if
//!   the first dies, as if it had been its own.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use mp_sync::{Lock, LockGuard, TryLockError};
use mp_sys::futex;
use mp_sys::process::current_pid;

use super::control::{ACCOUNTS, Account};
use super::identity::Identity;
use super::raw::RawQueue;

/// The shared account of processes that found no other.
const ANONYMOUS: usize = ACCOUNTS - 1;
/// How long a process waits for the accounts lock (held only while one account is
/// settled; a dead holder is noticed by mp-sync in about 100 ms).
const ACCOUNTS_LOCK_WAIT: Duration = Duration::from_millis(500);
/// How long a joiner tries the consumer lock to have a dead holder's take finished.
const CONSUMER_RESCUE: Duration = Duration::from_millis(150);

/// What a take does to the taker's account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum Take {
    /// A task handed to the caller, to be marked done.
    Task = 1,
    /// A message that did not decode: taken and done at once (nobody can work on it).
    Dropped = 2,
    /// The rest of a message whose consumer died while receiving it: taken, done and
    /// counted lost.
    Lost = 3,
}

impl Take {
    /// The take of a message that decoded (a task) or did not (dropped).
    pub(crate) fn of<T>(message: &Result<T, crate::Error>) -> Self {
        if message.is_ok() {
            Take::Task
        } else {
            Take::Dropped
        }
    }

    fn from_raw(raw: u32) -> Option<Self> {
        match raw {
            1 => Some(Take::Task),
            2 => Some(Take::Dropped),
            3 => Some(Take::Lost),
            _ => None,
        }
    }
}

fn pack(high: u32, low: u32) -> u64 {
    (u64::from(high) << 32) | u64::from(low)
}

fn unpack(word: u64) -> (u32, u32) {
    ((word >> 32) as u32, word as u32)
}

/// `taken - done` if it is a plausible count of unfinished tasks (not "negative").
fn outstanding(tasks: u64) -> u32 {
    let (taken, done) = unpack(tasks);
    let outstanding = taken.wrapping_sub(done);
    if outstanding > u32::MAX / 2 {
        0
    } else {
        outstanding
    }
}

/// Adds to one half of a packed word, leaving the other alone.
fn add_to_half(word: &AtomicU64, high: u32, low: u32) {
    let _ = word.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |packed| {
        let (h, l) = unpack(packed);
        Some(pack(h.wrapping_add(high), l.wrapping_add(low)))
    });
}

impl RawQueue {
    fn accounts(&self) -> &[Account; ACCOUNTS] {
        &self.control().accounts
    }

    /// The accounts that may be in use: those handed out, and the anonymous one.
    fn accounts_in_use(&self) -> impl Iterator<Item = &Account> {
        let in_use = (self
            .control()
            .shared
            .0
            .accounts_in_use
            .load(Ordering::Acquire) as usize)
            .min(ANONYMOUS);
        self.accounts()[..in_use]
            .iter()
            .chain(std::iter::once(&self.accounts()[ANONYMOUS]))
    }

    /// Every account's "done", summed: the tasks marked done or counted lost.
    pub(crate) fn tasks_done(&self) -> u32 {
        self.accounts_in_use()
            .map(|account| unpack(account.tasks.load(Ordering::SeqCst)).1)
            .fold(0, u32::wrapping_add)
    }

    /// The tasks counted lost with processes that died before marking them done.
    pub(crate) fn lost_tasks(&self) -> u32 {
        self.accounts_in_use()
            .map(|account| unpack(account.losses.load(Ordering::SeqCst)).1)
            .fold(0, u32::wrapping_add)
    }

    /// This process's account: looked up (or handed out) once per handle and process.
    #[inline]
    pub(crate) fn my_account(&self) -> usize {
        let pid = current_pid() as u32;
        let (cached_pid, cached) = unpack(self.account.load(Ordering::Relaxed));
        if cached_pid == pid && cached != 0 {
            return (cached - 1) as usize;
        }
        let index = self.find_account();
        self.account
            .store(pack(pid, index as u32 + 1), Ordering::Relaxed);
        index
    }

    fn find_account(&self) -> usize {
        let me = Identity::current().word();
        let shared = &self.control().shared.0;
        let accounts = self.accounts();
        let in_use = (shared.accounts_in_use.load(Ordering::Acquire) as usize).min(ANONYMOUS);
        if let Some(index) = (0..in_use).find(|&i| accounts[i].owner.load(Ordering::Acquire) == me)
        {
            return index;
        }
        let handed_out = |index: usize| {
            shared
                .accounts_in_use
                .fetch_max(index as u32 + 1, Ordering::AcqRel);
            tracing::debug!(index, "consumer account handed out");
            index
        };
        for (index, account) in accounts[..ANONYMOUS].iter().enumerate() {
            if account
                .owner
                .compare_exchange(0, me, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                return handed_out(index);
            }
        }
        // Every account has an owner: take a dead one's, once it is settled.
        if let Some(guard) = self.lock_accounts() {
            for (index, account) in accounts[..ANONYMOUS].iter().enumerate() {
                let owner = account.owner.load(Ordering::Acquire);
                if owner != me && !Identity::from_word(owner).is_alive() && self.settle(index) {
                    // Under the accounts lock, and a dead owner changes nothing: a store.
                    account.owner.store(me, Ordering::Release);
                    drop(guard);
                    return handed_out(index);
                }
            }
        }
        tracing::debug!("no consumer account free: using the anonymous one");
        ANONYMOUS
    }

    /// The accounts lock, taken over from a dead holder if need be (settling is
    /// idempotent, so a holder that died half-way left nothing to repair).
    fn lock_accounts(&self) -> Option<LockGuard<'_>> {
        let lock: &Lock = &self.control().shared.0.accounts_lock;
        match lock.lock_timeout(ACCOUNTS_LOCK_WAIT) {
            Ok(guard) => Some(guard),
            Err(TryLockError::OwnerDied(died)) => {
                let guard = died.into_inner();
                lock.clear_poison();
                Some(guard)
            }
            Err(_) => None,
        }
    }

    // -- takes (under the consumer lock) ---------------------------------------------------

    /// Called under the consumer lock just before a commit of the head that completes a
    /// message (`head_count` is the head's count before it): leaves the note that lets
    /// the next holder finish the take if we die. `None` in a queue that is not joinable.
    #[inline]
    pub(crate) fn begin_take(&self, head_count: u32, take: Take) -> Option<usize> {
        if !self.is_joinable() {
            return None;
        }
        let index = self.my_account();
        let consumer = &self.control().consumer.0;
        let (taken, _) = unpack(self.accounts()[index].tasks.load(Ordering::Relaxed));
        consumer.taking_count.store(head_count, Ordering::Relaxed);
        consumer.taking_taken.store(taken, Ordering::Relaxed);
        consumer
            .taking
            .store(((take as u32) << 16) | (index as u32 + 1), Ordering::SeqCst);
        Some(index)
    }

    /// Called right after the commit that `begin_take` announced: counts the take and
    /// clears the note.
    #[inline]
    pub(crate) fn end_take(&self, account: Option<usize>, take: Take) {
        let Some(index) = account else {
            return;
        };
        self.count_take(index, take);
        self.control().consumer.0.taking.store(0, Ordering::SeqCst);
    }

    fn count_take(&self, index: usize, take: Take) {
        let account = &self.accounts()[index];
        add_to_half(&account.tasks, 1, u32::from(take != Take::Task));
        if take == Take::Lost {
            add_to_half(&account.losses, 0, 1);
            tracing::debug!("a task went with a consumer that died receiving it");
        }
        if take != Take::Task {
            self.tasks_may_be_finished();
        }
    }

    /// Called with the consumer lock just taken over from a dead holder: finishes the take
    /// it left half-done, if any.
    pub(crate) fn finish_dead_take(&self) {
        let consumer = &self.control().consumer.0;
        let note = consumer.taking.load(Ordering::SeqCst);
        if note == 0 {
            return;
        }
        let index = (note & 0xffff) as usize;
        if let (Some(take), 1..=ACCOUNTS) = (Take::from_raw(note >> 16), index) {
            let index = index - 1;
            let committed = self.head().count != consumer.taking_count.load(Ordering::Relaxed);
            let (taken, _) = unpack(self.accounts()[index].tasks.load(Ordering::SeqCst));
            if committed && taken == consumer.taking_taken.load(Ordering::Relaxed) {
                self.count_take(index, take);
                tracing::debug!("finished counting the take of a consumer that died");
            }
        }
        consumer.taking.store(0, Ordering::SeqCst);
    }

    // -- task_done and settling ------------------------------------------------------------

    /// Counts one task done by this process.
    pub(crate) fn count_task_done(&self) {
        add_to_half(&self.accounts()[self.my_account()].tasks, 0, 1);
    }

    /// Wakes the joiners if the unfinished tasks may have reached none.
    pub(crate) fn tasks_may_be_finished(&self) {
        let shared = &self.control().shared.0;
        if self.unfinished_tasks() == 0 {
            shared.tasks_seq.fetch_add(1, Ordering::SeqCst);
            if shared.joiners.load(Ordering::SeqCst) != 0 {
                futex::wake_all(&shared.tasks_seq);
            }
        }
    }

    /// Whether account `index`'s owner is dead with tasks it took and did not mark done.
    fn holds_lost_tasks(&self, index: usize) -> bool {
        let account = &self.accounts()[index];
        let owner = account.owner.load(Ordering::Acquire);
        owner != 0
            && outstanding(account.tasks.load(Ordering::SeqCst)) != 0
            && !Identity::from_word(owner).is_alive()
    }

    /// The processes with unfinished tasks that no longer run: counts their tasks lost.
    /// What a joiner does between two sleeps.
    pub(crate) fn settle_dead_consumers(&self) {
        let in_use = (self
            .control()
            .shared
            .0
            .accounts_in_use
            .load(Ordering::Acquire) as usize)
            .min(ANONYMOUS);
        let dead: Vec<usize> = (0..in_use)
            .filter(|&index| self.holds_lost_tasks(index))
            .collect();
        if dead.is_empty() {
            return;
        }
        // A take the dead left half-done is finished by the next holder of the consumer
        // lock: be that holder if nobody else is.
        if self.control().consumer.0.taking.load(Ordering::SeqCst) != 0 {
            self.rescue_consumer_lock();
        }
        let Some(guard) = self.lock_accounts() else {
            return;
        };
        for index in dead {
            self.settle(index);
        }
        drop(guard);
        self.tasks_may_be_finished();
    }

    /// The processes that hold unfinished tasks (their identity words and process ids):
    /// what an async joiner watches, to wake when one of them dies.
    #[cfg(feature = "async")]
    pub(crate) fn task_holders(&self) -> Vec<(u64, u32)> {
        let in_use = (self
            .control()
            .shared
            .0
            .accounts_in_use
            .load(Ordering::Acquire) as usize)
            .min(ANONYMOUS);
        self.accounts()[..in_use]
            .iter()
            .filter(|account| outstanding(account.tasks.load(Ordering::SeqCst)) != 0)
            .map(|account| account.owner.load(Ordering::Acquire))
            .filter(|&owner| owner != 0)
            .map(|owner| (owner, Identity::from_word(owner).pid()))
            .collect()
    }

    fn rescue_consumer_lock(&self) {
        let lock = &self.control().consumer.0.lock;
        match lock.lock_timeout(CONSUMER_RESCUE) {
            Ok(guard) => drop(guard),
            Err(TryLockError::OwnerDied(died)) => {
                let guard = died.into_inner();
                self.repair_consumer();
                lock.clear_poison();
                drop(guard);
            }
            Err(_) => {}
        }
    }

    /// Counts the unfinished tasks of account `index`, whose owner is dead, as lost.
    /// Called under the accounts lock. False if a take of the dead owner is still to be
    /// finished (the account cannot be settled yet).
    fn settle(&self, index: usize) -> bool {
        let note = self.control().consumer.0.taking.load(Ordering::SeqCst);
        if note != 0 && (note & 0xffff) as usize == index + 1 {
            return false;
        }
        let account = &self.accounts()[index];
        loop {
            let tasks = account.tasks.load(Ordering::SeqCst);
            let lost = outstanding(tasks);
            if lost == 0 {
                return true;
            }
            let (taken, _) = unpack(tasks);
            let losses = account.losses.load(Ordering::SeqCst);
            let (settled_at, counted) = unpack(losses);
            if settled_at != taken
                && account
                    .losses
                    .compare_exchange(
                        losses,
                        pack(taken, counted.wrapping_add(lost)),
                        Ordering::SeqCst,
                        Ordering::SeqCst,
                    )
                    .is_err()
            {
                continue;
            }
            if account
                .tasks
                .compare_exchange(
                    tasks,
                    pack(taken, taken),
                    Ordering::SeqCst,
                    Ordering::SeqCst,
                )
                .is_ok()
            {
                tracing::debug!(lost, "tasks counted lost with a consumer that died");
                return true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::control::Kind;
    use crate::queue::raw::Patience;
    use crate::queue::record;

    /// A joinable queue holding one message, and the size of its record.
    fn queue_with_one_task() -> (RawQueue, u32) {
        let raw = RawQueue::create(Kind::Joinable, 4096, 0, "u32").unwrap();
        raw.put(&7u32, Patience::NoWait).unwrap();
        let (len, _) = raw.read_header(raw.head().pos);
        (raw, record::footprint(len as usize).unwrap())
    }

    fn taken_and_done(raw: &RawQueue) -> (u32, u32) {
        unpack(
            raw.accounts()[raw.my_account()]
                .tasks
                .load(Ordering::SeqCst),
        )
    }

    #[test]
    fn a_take_committed_by_a_consumer_that_died_before_counting_it_is_counted_by_the_next() {
        let (raw, size) = queue_with_one_task();
        let head = raw.head();
        let account = raw.begin_take(head.count, Take::Task);
        assert!(account.is_some());
        raw.commit_head(head, size, true);
        // Killed here: the message is taken, the account does not say so yet.
        assert_eq!(taken_and_done(&raw), (0, 0));
        raw.finish_dead_take(); // what the next holder of the consumer lock does
        assert_eq!(taken_and_done(&raw), (1, 0));
        assert_eq!(raw.control().consumer.0.taking.load(Ordering::SeqCst), 0);
        raw.finish_dead_take(); // nothing is counted twice
        assert_eq!(taken_and_done(&raw), (1, 0));
    }

    #[test]
    fn a_take_whose_consumer_died_before_the_commit_counts_nothing() {
        let (raw, _) = queue_with_one_task();
        raw.begin_take(raw.head().count, Take::Task);
        // Killed here: the message is still queued.
        raw.finish_dead_take();
        assert_eq!(taken_and_done(&raw), (0, 0));
        assert_eq!(raw.qsize(), 1);
    }

    #[test]
    fn a_take_both_committed_and_counted_is_not_counted_again() {
        let (raw, size) = queue_with_one_task();
        let head = raw.head();
        raw.begin_take(head.count, Take::Task);
        raw.commit_head(head, size, true);
        raw.count_take(raw.my_account(), Take::Task);
        // Killed before the note was cleared.
        raw.finish_dead_take();
        assert_eq!(taken_and_done(&raw), (1, 0));
    }

    #[test]
    fn settling_counts_outstanding_tasks_lost_once() {
        let (raw, size) = queue_with_one_task();
        let head = raw.head();
        let account = raw.begin_take(head.count, Take::Task);
        raw.commit_head(head, size, true);
        raw.end_take(account, Take::Task);
        let index = raw.my_account();
        assert!(raw.settle(index));
        assert!(raw.settle(index));
        assert_eq!(raw.lost_tasks(), 1);
        assert_eq!(raw.unfinished_tasks(), 0);
    }
}
