//! The pseudonyms of identities for the Redis backend, which keeps a room's identity index in
//! Redis: the key as hex (it lives in the room's meta hash), and the one way to hash.

use pyo3::prelude::*;

use crate::errors::CoreError;
use crate::pseudonym::{self, IdentityKey, KEY_BYTES};

/// A new random identity key, as 64 hex digits.
#[pyfunction]
pub fn new_identity_key() -> PyResult<String> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let key = pseudonym::new_key()?;
    let mut hex = String::with_capacity(2 * KEY_BYTES);
    for byte in key {
        hex.push(char::from(HEX[usize::from(byte >> 4)]));
        hex.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    Ok(hex)
}

/// The pseudonym of `identity` under `key`: what a room's identity index keeps.
#[pyfunction]
pub fn identity_pseudonym(key: &str, identity: &str) -> PyResult<String> {
    Ok(pseudonym::digest(&parse_key(key)?, identity))
}

fn parse_key(hex: &str) -> Result<IdentityKey, CoreError> {
    let bad = || CoreError::InvalidArgument("an identity key is 64 hex digits".into());
    if hex.len() != 2 * KEY_BYTES || !hex.is_ascii() {
        return Err(bad());
    }
    let mut key = [0u8; KEY_BYTES];
    for (byte, pair) in key.iter_mut().zip(hex.as_bytes().chunks_exact(2)) {
        let pair = std::str::from_utf8(pair).map_err(|_| bad())?;
        *byte = u8::from_str_radix(pair, 16).map_err(|_| bad())?;
    }
    Ok(key)
}
