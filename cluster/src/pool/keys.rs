//! The Redis keys of one pool, and what each holds.
//!
//! Every key of pool `P` starts with `mp:pool:{P}:`. The braces make `P` the key's hash
//! tag: in a Redis Cluster every key of one pool lands in one slot (the scripts that
//! touch several of them need that), and different pools spread over the slots.
//!
//! | key | type | holds | gone when |
//! |---|---|---|---|
//! | `tasks:<build>` | stream, group `workers` | tasks for workers of that build | expiry, refreshed by callers and workers; deleted by the last caller to leave |
//! | `results:<caller>` | stream | one caller's results | the caller leaves (or its expiry) |
//! | `done:<caller>` | hash | ids of that caller's tasks with a posted result | the caller leaves (or its expiry) |
//! | `caller:<caller>` | string | that the caller lives | the caller leaves, or its heartbeats stop |
//! | `callers` | set | the callers | expiry, refreshed by callers |
//! | `worker:<worker>` | string | the worker's build; that it lives | its heartbeats stop |
//! | `workers` | set | the workers | expiry, refreshed by workers |

use crate::Error;

/// The longest pool name: keys stay short.
const MAX_NAME_LEN: usize = 128;

/// The keys of one pool.
#[derive(Clone, Debug)]
pub(crate) struct Keys {
    prefix: String,
}

impl Keys {
    /// The keys of pool `name`: 1 to 128 ASCII letters, digits, `.`, `_` or `-`.
    pub(crate) fn of(name: &str) -> Result<Keys, Error> {
        let valid = !name.is_empty()
            && name.len() <= MAX_NAME_LEN
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        if !valid {
            return Err(Error::InvalidName {
                name: name.to_owned(),
            });
        }
        Ok(Keys {
            prefix: format!("mp:pool:{{{name}}}:"),
        })
    }

    pub(crate) fn tasks(&self, build: &str) -> String {
        format!("{}tasks:{build}", self.prefix)
    }

    pub(crate) fn results(&self, caller: &str) -> String {
        format!("{}results:{caller}", self.prefix)
    }

    pub(crate) fn done(&self, caller: &str) -> String {
        format!("{}done:{caller}", self.prefix)
    }

    pub(crate) fn caller(&self, caller: &str) -> String {
        format!("{}caller:{caller}", self.prefix)
    }

    pub(crate) fn callers(&self) -> String {
        format!("{}callers", self.prefix)
    }

    pub(crate) fn worker(&self, worker: &str) -> String {
        format!("{}worker:{worker}", self.prefix)
    }

    pub(crate) fn workers(&self) -> String {
        format!("{}workers", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::Keys;

    #[test]
    fn every_key_of_a_pool_shares_its_hash_tag() {
        let keys = Keys::of("images-v2").expect("a valid name");
        for key in [
            keys.tasks("ab12"),
            keys.results("c"),
            keys.done("c"),
            keys.caller("c"),
            keys.callers(),
            keys.worker("w"),
            keys.workers(),
        ] {
            assert!(key.starts_with("mp:pool:{images-v2}:"), "{key}");
        }
    }

    #[test]
    fn names_that_would_break_the_hash_tag_are_refused() {
        for name in ["", "a}b", "a{b", "with space", &"x".repeat(129)] {
            assert!(Keys::of(name).is_err(), "{name:?}");
        }
    }
}
