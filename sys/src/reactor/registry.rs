//! The table of async waiters: who waits on which word for which value, and whom to wake.
//!
//! Every operation runs under the reactor's one lock; it is short (a hash lookup or a
//! scan when the reactor thread rebuilds its list), and wakers are always woken *after*
//! the lock is released, so a waker that runs its task inline cannot deadlock on it.
//!
//! The maps hash with FxHash, not the standard SipHash: their keys are this process's own
//! addresses and counters, never input from another party, so SipHash's resistance to
//! chosen keys buys nothing, and it cost about half the instructions of a wait that
//! registers and unregisters.

use std::task::Waker;

use rustc_hash::{FxHashMap, FxHashSet};

/// A word awaited for a value: the unit the reactor thread sleeps on.
pub(crate) type Word = (usize, u32);

/// One waiting future.
struct Entry {
    word: Word,
    waker: Waker,
    /// The reactor saw the word woken (or gave up telling, and wakes everyone); the future
    /// has not polled since. A fired entry is no longer waited on.
    fired: bool,
}

/// The waiters of one reactor.
#[derive(Default)]
pub(crate) struct Registry {
    entries: FxHashMap<u64, Entry>,
    /// How many unfired entries wait on each word, so that the reactor thread sleeps on each
    /// word once however many futures await it, and is only disturbed for a new word.
    words: FxHashMap<Word, usize>,
    next_id: u64,
}

/// What a poll found for a waiter.
pub(crate) enum Polled {
    /// Its word was woken since the last poll; the entry is gone.
    Fired,
    /// Registered (again) and waiting; `true` if its word is new to the reactor thread,
    /// which must then be told to sleep on it too.
    Waiting { id: u64, new_word: bool },
}

impl Registry {
    /// Every entry, fired or not: futures registered and not yet completed or dropped.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Registers `waker` for `word`, or refreshes the waiter `id`; reports a firing.
    pub(crate) fn poll(&mut self, id: Option<u64>, word: Word, waker: &Waker) -> Polled {
        if let Some(id) = id
            && let Some(entry) = self.entries.get_mut(&id)
        {
            if entry.fired {
                self.entries.remove(&id);
                return Polled::Fired;
            }
            if !entry.waker.will_wake(waker) {
                entry.waker = waker.clone();
            }
            if entry.word == word {
                return Polled::Waiting {
                    id,
                    new_word: false,
                };
            }
            let old = std::mem::replace(&mut entry.word, word);
            Self::forget_word(&mut self.words, old);
            let new_word = Self::count_word(&mut self.words, word);
            return Polled::Waiting { id, new_word };
        }
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        self.entries.insert(
            id,
            Entry {
                word,
                waker: waker.clone(),
                fired: false,
            },
        );
        let new_word = Self::count_word(&mut self.words, word);
        Polled::Waiting { id, new_word }
    }

    /// Removes the waiter `id` (a future dropped, or done without its word firing).
    pub(crate) fn remove(&mut self, id: u64) {
        if let Some(entry) = self.entries.remove(&id)
            && !entry.fired
        {
            Self::forget_word(&mut self.words, entry.word);
        }
    }

    /// The distinct words waited on, as many as `limit`; `true` if some were left out.
    pub(crate) fn words(&self, limit: usize) -> (Vec<Word>, bool) {
        let listed: Vec<Word> = self.words.keys().take(limit).copied().collect();
        (listed, self.words.len() > limit)
    }

    /// Fires every waiter of the word at `address` (for any value); returns their wakers.
    pub(crate) fn fire_address(&mut self, address: usize) -> Vec<Waker> {
        self.fire_where(|word| word.0 == address)
    }

    /// Fires every waiter whose word is not in `listed`: those the reactor thread could
    /// not sleep on, which it polls instead.
    pub(crate) fn fire_unlisted(&mut self, listed: &FxHashSet<Word>) -> Vec<Waker> {
        self.fire_where(|word| !listed.contains(word))
    }

    /// Fires every waiter (each future then checks its own word).
    pub(crate) fn fire_all(&mut self) -> Vec<Waker> {
        self.fire_where(|_| true)
    }

    fn fire_where(&mut self, mut hit: impl FnMut(&Word) -> bool) -> Vec<Waker> {
        let mut wakers = Vec::new();
        for entry in self.entries.values_mut() {
            if !entry.fired && hit(&entry.word) {
                entry.fired = true;
                wakers.push(entry.waker.clone());
                Self::forget_word(&mut self.words, entry.word);
            }
        }
        wakers
    }

    /// Counts one more waiter of `word`; `true` if it is the first.
    fn count_word(words: &mut FxHashMap<Word, usize>, word: Word) -> bool {
        let count = words.entry(word).or_insert(0);
        *count += 1;
        *count == 1
    }

    fn forget_word(words: &mut FxHashMap<Word, usize>, word: Word) {
        if let Some(count) = words.get_mut(&word) {
            *count -= 1;
            if *count == 0 {
                words.remove(&word);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn waker() -> (Arc<Count>, Waker) {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        (Arc::clone(&count), Waker::from(count))
    }

    fn waiting(polled: Polled) -> (u64, bool) {
        match polled {
            Polled::Waiting { id, new_word } => (id, new_word),
            Polled::Fired => panic!("expected a waiting entry"),
        }
    }

    #[test]
    fn one_word_is_listed_once_however_many_wait_on_it() {
        let mut registry = Registry::default();
        let (_, w) = waker();
        let (a, new_a) = waiting(registry.poll(None, (8, 1), &w));
        let (b, new_b) = waiting(registry.poll(None, (8, 1), &w));
        assert!(new_a && !new_b && a != b);
        assert_eq!(registry.words(10), (vec![(8, 1)], false));
        assert_eq!(registry.len(), 2);
        registry.remove(a);
        registry.remove(b);
        assert_eq!(registry.len(), 0);
        assert_eq!(registry.words(10), (vec![], false));
    }

    #[test]
    fn a_fired_entry_reports_once_then_is_gone() {
        let mut registry = Registry::default();
        let (count, w) = waker();
        let (id, _) = waiting(registry.poll(None, (16, 0), &w));
        let wakers = registry.fire_address(16);
        assert_eq!(wakers.len(), 1);
        wakers.into_iter().for_each(Waker::wake);
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        assert_eq!(registry.words(10).0, vec![]);
        assert!(matches!(
            registry.poll(Some(id), (16, 0), &w),
            Polled::Fired
        ));
        assert_eq!(registry.len(), 0);
    }

    #[test]
    fn words_past_the_limit_are_reported_and_fired_by_polling() {
        let mut registry = Registry::default();
        let (_, w) = waker();
        for address in 0..5 {
            registry.poll(None, (address, 0), &w);
        }
        let (listed, left_out) = registry.words(3);
        assert!(left_out);
        let listed: FxHashSet<Word> = listed.into_iter().collect();
        assert_eq!(registry.fire_unlisted(&listed).len(), 2);
        assert_eq!(registry.fire_all().len(), 3);
        assert!(registry.fire_all().is_empty());
    }

    #[test]
    fn a_waiter_that_changes_its_value_moves_to_the_new_word() {
        let mut registry = Registry::default();
        let (_, w) = waker();
        let (id, _) = waiting(registry.poll(None, (4, 0), &w));
        let (same, new_word) = waiting(registry.poll(Some(id), (4, 2), &w));
        assert_eq!(same, id);
        assert!(new_word);
        assert_eq!(registry.words(10).0, vec![(4, 2)]);
    }
}
