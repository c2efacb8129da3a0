//! Signing what a pool writes to Redis, so that write access to Redis alone cannot make a
//! worker run anything, nor a caller believe a result.
//!
//! With a key, every task and every result carries an HMAC-SHA256 of its bytes (as
//! `multiprocessing.connection` proves a peer knows its `authkey`, with the same
//! primitive). A worker with a key runs only tasks signed with it; a caller with a key
//! believes only results signed with it. Without a key nothing is signed, and anyone who
//! can write to the pool's streams can make its workers call any function of the
//! program with any arguments: give pools that cross a network a key.

use std::sync::Arc;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The key of a pool, or none.
#[derive(Clone, Default)]
pub(crate) struct Signer {
    key: Option<Arc<[u8]>>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key itself.
        f.debug_struct("Signer")
            .field("keyed", &self.key.is_some())
            .finish()
    }
}

impl Signer {
    pub(crate) fn new(key: Option<&[u8]>) -> Signer {
        Signer {
            key: key.map(Arc::from),
        }
    }

    /// The signature of `body`: empty without a key.
    pub(crate) fn sign(&self, body: &[u8]) -> Vec<u8> {
        match self.mac() {
            Some(mut mac) => {
                mac.update(body);
                mac.finalize().into_bytes().to_vec()
            }
            None => Vec::new(),
        }
    }

    /// Whether `signature` is `body`'s under this key (in constant time); without a key,
    /// everything passes.
    pub(crate) fn verify(&self, body: &[u8], signature: &[u8]) -> bool {
        match self.mac() {
            Some(mut mac) => {
                mac.update(body);
                mac.verify_slice(signature).is_ok()
            }
            None => true,
        }
    }

    fn mac(&self) -> Option<Hmac<Sha256>> {
        // HMAC takes a key of any length, so this cannot fail; a failure would mean
        // "unsigned", which every keyed check then refuses.
        self.key
            .as_deref()
            .and_then(|key| <Hmac<Sha256> as KeyInit>::new_from_slice(key).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::Signer;

    #[test]
    fn a_keyed_signer_accepts_its_own_signatures_only() {
        let signer = Signer::new(Some(b"key"));
        let signature = signer.sign(b"body");
        assert_eq!(signature.len(), 32);
        assert!(signer.verify(b"body", &signature));
        assert!(!signer.verify(b"bodY", &signature));
        assert!(!signer.verify(b"body", &[]));
        assert!(!Signer::new(Some(b"other")).verify(b"body", &signature));
    }

    #[test]
    fn without_a_key_nothing_is_signed_and_everything_passes() {
        let signer = Signer::new(None);
        assert!(signer.sign(b"body").is_empty());
        assert!(signer.verify(b"body", b"anything"));
        assert!(!format!("{:?}", Signer::new(Some(b"secret"))).contains("secret"));
    }
}
