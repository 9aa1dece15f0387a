//! Proof-of-work challenges on join, in ALTCHA's open format (version 1), so that any ALTCHA
//! client or library can solve them and a join costs the client some work.
//!
//! # Format
//!
//! A challenge is `{algorithm: "SHA-256", challenge, maxnumber, salt, signature}`:
//!
//! * `salt` is `<24 hex digits of random nonce>?expires=<unix seconds>&room=<room>&kid=<key id>&`;
//!   the trailing `&` is ALTCHA's delimiter against splicing digits onto the parameters.
//! * `challenge` is the lowercase hex SHA-256 of `salt` followed by the decimal `number`, a
//!   secret drawn uniformly from `0..=maxnumber`; a client finds it by trying numbers from 0, so
//!   it hashes `maxnumber / 2` times on average.
//! * `signature` is the lowercase hex HMAC-SHA256 of the `challenge` text under the challenge
//!   key of key `kid`.
//!
//! The solution is the same object with `number` in place of `maxnumber` (base64 of its JSON;
//! the server decodes that). Since the salt is hashed into the signed challenge, its parameters
//! (expiry, room, key) cannot be changed without the key.
//!
//! # Keys
//!
//! The challenge key of each token key is derived from its secret: the lowercase hex of
//! `HMAC-SHA256(secret, "pyqueue challenge key v1")`, used as the HMAC key as text (ALTCHA's
//! libraries take the key as a string). So there is no new secret to manage, the key rotates
//! with the token keys, and a leaked challenge key reveals nothing about the token key.
//!
//! # Checks
//!
//! In order: the shape, the key id, the signature (constant time), the number, the room, the
//! expiry, each with its own [`CoreError`]. That a solution is used only once is checked by the
//! caller's store (memory or Redis), keyed by the challenge.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::errors::{CoreError, CoreResult};
use crate::token::Signer;

/// The only algorithm asked for and accepted.
pub const ALGORITHM: &str = "SHA-256";
/// How long a challenge may be solved and used: enough for a slow phone at the highest
/// difficulty, short enough that solutions cannot be stockpiled for an opening.
pub const CHALLENGE_SECONDS: i64 = 300;
/// Random bytes of the salt's nonce (ALTCHA's default length).
const NONCE_BYTES: usize = 12;
/// A salt this server writes is well below this; anything longer is not ours.
const MAX_SALT_LEN: usize = 256;
/// Hex digits of a SHA-256 or HMAC-SHA256.
const HEX_LEN: usize = 64;
const KEY_LABEL: &[u8] = b"pyqueue challenge key v1";

/// The challenge key derived from a token key (given keyed with the token secret).
pub fn derived_key(keyed_with_secret: &Hmac<Sha256>) -> Hmac<Sha256> {
    let mut mac = keyed_with_secret.clone();
    mac.update(KEY_LABEL);
    let text = hex(&mac.finalize().into_bytes());
    <Hmac<Sha256> as KeyInit>::new_from_slice(text.as_bytes()).expect("HMAC takes a key of any length")
}

/// A challenge for a client to solve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub challenge: String,
    pub max_number: u32,
    pub salt: String,
    pub signature: String,
    /// Unix seconds; the challenge is accepted while `now < expires_at`.
    pub expires_at: i64,
}

/// A client's answer, as decoded from its payload.
#[derive(Debug, Clone, Copy)]
pub struct Solution<'a> {
    pub algorithm: &'a str,
    pub challenge: &'a str,
    pub number: u64,
    pub salt: &'a str,
    pub signature: &'a str,
}

/// A new challenge for `room`, signed with the signer's current key, hiding a random number.
pub fn create(signer: &Signer, room: &str, max_number: u32, now: i64) -> CoreResult<Challenge> {
    let mut nonce = [0u8; NONCE_BYTES];
    getrandom::fill(&mut nonce).map_err(|e| CoreError::EntropyUnavailable(e.to_string()))?;
    let draw = getrandom::u64().map_err(|e| CoreError::EntropyUnavailable(e.to_string()))?;
    // The modulo's bias is below 2^-40 for any allowed difficulty.
    let number = draw % (u64::from(max_number) + 1);
    Ok(create_with(signer, room, max_number, now, &nonce, number))
}

/// [`create`] with the nonce and the number given (tests, and the format's examples).
pub fn create_with(signer: &Signer, room: &str, max_number: u32, now: i64, nonce: &[u8], number: u64) -> Challenge {
    let (kid, key) = signer.current_challenge_key();
    let expires_at = now.saturating_add(CHALLENGE_SECONDS);
    let salt = format!("{}?expires={expires_at}&room={room}&kid={kid}&", hex(nonce));
    let challenge = hash_hex(&salt, number);
    let signature = sign(key, &challenge);
    Challenge { challenge, max_number, salt, signature, expires_at }
}

/// Checks a solution for `room` at `now` (unix seconds); its expiry on success, which is how
/// long the caller must remember it as used.
pub fn verify(signer: &Signer, solution: &Solution<'_>, room: &str, now: i64) -> CoreResult<i64> {
    if solution.algorithm != ALGORITHM {
        return Err(malformed(format!("the algorithm must be {ALGORITHM:?}")));
    }
    if solution.challenge.len() != HEX_LEN || solution.signature.len() != HEX_LEN {
        return Err(malformed("the challenge and the signature must be 64 hex digits".into()));
    }
    let params = SaltParams::parse(solution.salt)?;
    let key = signer.challenge_key(params.kid).ok_or(CoreError::ChallengeBadSignature)?;
    let expected = sign(key, solution.challenge);
    if !bool::from(expected.as_bytes().ct_eq(solution.signature.as_bytes())) {
        return Err(CoreError::ChallengeBadSignature);
    }
    let hashed = hash_hex(&delimited(solution.salt), solution.number);
    if !bool::from(hashed.as_bytes().ct_eq(solution.challenge.as_bytes())) {
        return Err(CoreError::ChallengeUnsolved);
    }
    if params.room != room {
        return Err(CoreError::ChallengeWrongRoom);
    }
    if now >= params.expires {
        return Err(CoreError::ChallengeExpired);
    }
    Ok(params.expires)
}

/// ALTCHA hashes the salt with its delimiter, adding it when a client dropped it.
fn delimited(salt: &str) -> String {
    if salt.ends_with('&') {
        salt.to_owned()
    } else {
        format!("{salt}&")
    }
}

/// The parameters this server puts in a salt.
struct SaltParams<'a> {
    expires: i64,
    room: &'a str,
    kid: &'a str,
}

impl<'a> SaltParams<'a> {
    fn parse(salt: &'a str) -> CoreResult<Self> {
        if salt.len() > MAX_SALT_LEN {
            return Err(malformed(format!("the salt is longer than {MAX_SALT_LEN} bytes")));
        }
        let (nonce, query) = salt.split_once('?').ok_or_else(|| malformed("the salt has no parameters".into()))?;
        if nonce.is_empty() || !nonce.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(malformed("the salt must start with hex digits".into()));
        }
        let (mut expires, mut room, mut kid) = (None, None, None);
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let slot = match name {
                "expires" => &mut expires,
                "room" => &mut room,
                "kid" => &mut kid,
                _ => continue,
            };
            // A parameter given twice could be read one way here and another way elsewhere.
            if slot.replace(value).is_some() {
                return Err(malformed(format!("the salt gives {name} twice")));
            }
        }
        let missing = |name: &str| malformed(format!("the salt has no {name}"));
        let expires = expires.ok_or_else(|| missing("expires"))?;
        let expires = expires
            .parse::<i64>()
            .ok()
            .filter(|_| expires.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| malformed("the salt's expires must be unix seconds".into()))?;
        Ok(Self { expires, room: room.ok_or_else(|| missing("room"))?, kid: kid.ok_or_else(|| missing("kid"))? })
    }
}

fn malformed(message: String) -> CoreError {
    CoreError::ChallengeMalformed(message)
}

fn hash_hex(salt: &str, number: u64) -> String {
    let mut hasher = Sha256::new();
    hasher.update(salt.as_bytes());
    hasher.update(number.to_string().as_bytes());
    hex(&hasher.finalize())
}

fn sign(key: &Hmac<Sha256>, challenge: &str) -> String {
    let mut mac = key.clone();
    mac.update(challenge.as_bytes());
    hex(&mac.finalize().into_bytes())
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0x0f)] as char);
    }
    out
}

#[cfg(test)]
mod tests;
