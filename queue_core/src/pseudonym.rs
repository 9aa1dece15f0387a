//! Identities are stored as pseudonyms: a keyed hash (HMAC-SHA256) of the portal's value under
//! a key of the room. One person, one place needs equality only, so the portal's value itself is
//! never kept in a room's identity index, its journal, its snapshots or Redis.
//!
//! The key is drawn at random when the room is created and saved with the room (journal and
//! snapshot; the room's meta hash on Redis): it has to outlive restarts and every rotation of
//! the token secrets, or a returning person would no longer find their place. Whoever holds the
//! saved state holds the key too, so the hash does not stop someone with the files and a list of
//! guesses from testing them; what it stops is reading identities off a copy, a listing or a
//! backup. Rooms saved before identities were hashed get a key when they are restored, and
//! their identities are hashed then (memory); on Redis they keep them as they were until the
//! room's personal data is deleted.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::errors::{CoreError, CoreResult};

/// A room's identity key.
pub type IdentityKey = [u8; KEY_BYTES];

pub const KEY_BYTES: usize = 32;

/// The bytes of the hash kept: 128 bits, beyond any chance of two people colliding.
const DIGEST_BYTES: usize = 16;

/// A new random key.
pub fn new_key() -> CoreResult<IdentityKey> {
    let mut key = [0u8; KEY_BYTES];
    getrandom::fill(&mut key).map_err(|e| CoreError::EntropyUnavailable(e.to_string()))?;
    Ok(key)
}

/// The stored form of `identity` under `key`: 22 characters of URL-safe base64.
pub fn digest(key: &IdentityKey, identity: &str) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(identity.as_bytes());
    URL_SAFE_NO_PAD.encode(&mac.finalize().into_bytes()[..DIGEST_BYTES])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_stable_per_key_and_hide_the_value() {
        let (a, b) = (new_key().unwrap(), new_key().unwrap());
        assert_ne!(a, b);
        assert_eq!(digest(&a, "person-1"), digest(&a, "person-1"));
        assert_ne!(digest(&a, "person-1"), digest(&a, "person-2"));
        assert_ne!(digest(&a, "person-1"), digest(&b, "person-1"));
        assert_eq!(digest(&a, "person-1").len(), 22);
        assert!(!digest(&a, "person-1").contains("person"));
    }
}
