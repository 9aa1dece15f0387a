//! Signed tokens: the ticket a visitor holds while waiting, and the pass an admitted visitor
//! shows to booking. The server keeps no session store, so everything it needs to trust a
//! request travels in the token and is protected by an HMAC.
//!
//! # Format
//!
//! ```text
//! <kid>.<base64url-nopad(payload)>.<base64url-nopad(mac)>
//! ```
//!
//! * `kid` names the key that signed the token: 1 to 32 characters of `A-Z a-z 0-9 _ -`.
//! * `payload` is a compact binary record:
//!
//!   | field       | encoding                                                          |
//!   |-------------|-------------------------------------------------------------------|
//!   | version     | one byte, currently `1`                                           |
//!   | kind        | one byte: `1` ticket, `2` pass                                    |
//!   | ticket      | unsigned LEB128 varint (a `u32`)                                  |
//!   | issued_at   | zigzag LEB128 varint of unix seconds                              |
//!   | expiry      | zigzag LEB128 varint of `expires_at - issued_at` (wrapping)       |
//!   | room        | one length byte (at most 64), then that many bytes of UTF-8       |
//!   | subject     | version `2` only: a varint length (1 to 256), then that many bytes |
//!
//!   Version `2` is written when the token carries the vouched subject (`sub`) of an entry
//!   room's visitor (see `crate::entry`), version `1` otherwise, so tokens without one are as
//!   short as before. Varints must be minimal (no redundant trailing zero groups), and nothing
//!   may follow the last field, so every set of claims has exactly one encoding.
//! * `mac` is the first 16 bytes of `HMAC-SHA256(key, kid || 0x00 || payload)`, truncated as
//!   in RFC 4868. The kid is inside the MAC so that a token cannot be relabelled to be checked
//!   against another key.
//!
//! Base64 is the URL-safe alphabet without padding and with zero trailing bits, so a token is
//! safe in URLs, cookies and headers unchanged, and a typical pass is about 70 characters.
//!
//! # Keys
//!
//! A [`Signer`] holds one or more keys. The first one signs; all of them verify. Rotating a key
//! means putting the new key first and keeping the old one second until every token it signed
//! has expired, so nobody is logged out by a rotation.
//!
//! # Checks
//!
//! Verification checks, in this order, the format, the key id, the MAC (in constant time), then
//! the kind, the room and the expiry, and each failure has its own [`CoreError`]. Input that
//! does not parse is [`CoreError::TokenMalformed`], whatever it is; nothing panics.
//!
//! Times in tokens are whole unix seconds (the token is meant to be small); callers holding
//! clock microseconds divide by [`crate::clock::MICROS_PER_SECOND`].

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::errors::{CoreError, CoreResult};

/// The longest room id a token can carry, in bytes (the room id rule of `limits`).
#[allow(clippy::cast_possible_truncation)] // 64
pub const MAX_ROOM_LEN: usize = crate::limits::ROOM_ID.max as usize;
/// The longest key id, in characters (the key id rule of `limits`).
#[allow(clippy::cast_possible_truncation)] // 32
pub const MAX_KID_LEN: usize = crate::limits::KEY_ID.max as usize;
/// The shortest secret a key may have, in bytes.
pub const MIN_SECRET_LEN: usize = 16;
/// Any longer text is rejected before it is looked at, so hostile input costs nothing.
pub const MAX_TOKEN_LEN: usize = 640;

const FORMAT_VERSION: u8 = 1;
/// The format of a token that carries a subject.
const FORMAT_VERSION_SUBJECT: u8 = 2;
/// The longest subject a token can carry, in bytes (the identity rule of `limits`).
#[allow(clippy::cast_possible_truncation)] // 256 fits any usize
pub const MAX_SUBJECT_LEN: usize = crate::limits::IDENTITY.max as usize;
const MAX_SUBJECT_VARINT_LEN: usize = 2;
const MAC_LEN: usize = 16;
const MAC_B64_LEN: usize = 22;
const MAX_U32_VARINT_LEN: usize = 5;
const MAX_U64_VARINT_LEN: usize = 10;
/// version, kind, ticket, issued_at, expiry delta, room length, room, subject length, subject.
const MAX_PAYLOAD_LEN: usize = 1
    + 1
    + MAX_U32_VARINT_LEN
    + MAX_U64_VARINT_LEN
    + MAX_U64_VARINT_LEN
    + 1
    + MAX_ROOM_LEN
    + MAX_SUBJECT_VARINT_LEN
    + MAX_SUBJECT_LEN;
const MAX_PAYLOAD_B64_LEN: usize = (MAX_PAYLOAD_LEN * 4).div_ceil(3);
/// The base64 decoder wants room for whole 3-byte groups of its estimate, which can be a little
/// more than the payload itself.
const PAYLOAD_DECODE_BUF_LEN: usize = MAX_PAYLOAD_B64_LEN.div_ceil(4) * 3;
const MAC_DECODE_BUF_LEN: usize = MAC_B64_LEN.div_ceil(4) * 3;
/// Written in place of the room length when `sign` is handed a room id that is too long (a bug
/// in the caller): verification rejects it as malformed, so such a token never grants anything.
const POISONED_ROOM_LEN: u8 = u8::MAX;

/// What a token stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum TokenKind {
    /// A place in the queue.
    Ticket = 1,
    /// Admission to booking, valid for the room's session length.
    Pass = 2,
}

impl TokenKind {
    /// The name used in the API: `"ticket"` or `"pass"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ticket => "ticket",
            Self::Pass => "pass",
        }
    }

    /// The kind named `name` (as returned by [`TokenKind::as_str`]), if there is one.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "ticket" => Some(Self::Ticket),
            "pass" => Some(Self::Pass),
            _ => None,
        }
    }

    fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            1 => Some(Self::Ticket),
            2 => Some(Self::Pass),
            _ => None,
        }
    }
}

/// What a token says about its holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    pub kind: TokenKind,
    /// The room the token is valid for; at most [`MAX_ROOM_LEN`] bytes.
    pub room: String,
    /// The ticket number within the room.
    pub ticket: u32,
    /// Unix seconds.
    pub issued_at: i64,
    /// Unix seconds; the token is valid while `now < expires_at`.
    pub expires_at: i64,
    /// The vouched identity (`sub` of the entry token) of the ticket's holder, in entry rooms;
    /// at most [`MAX_SUBJECT_LEN`] bytes.
    pub subject: Option<String>,
}

/// Signs tokens with the first of its keys and verifies them with any of them.
#[derive(Clone)]
pub struct Signer {
    keys: Vec<SigningKey>,
}

#[derive(Clone)]
struct SigningKey {
    kid: String,
    /// Keyed once; cloning it per token skips re-hashing the padded key for every MAC.
    mac: Hmac<Sha256>,
    /// The key of proof-of-work challenges, derived from the same secret (see `challenge`).
    challenge: Hmac<Sha256>,
}

impl fmt::Debug for Signer {
    /// Shows the key ids only, never the secrets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer").field("key_ids", &self.key_ids()).finish_non_exhaustive()
    }
}

impl Signer {
    /// Builds a signer from `(kid, secret)` pairs; the first pair signs.
    ///
    /// kid: 1..=32 chars of `[A-Za-z0-9_-]`; secret: at least 16 bytes; at least one key; no
    /// duplicate kid. Otherwise [`CoreError::InvalidConfig`] says which rule is broken.
    pub fn new(keys: Vec<(String, Vec<u8>)>) -> CoreResult<Self> {
        if keys.is_empty() {
            return Err(CoreError::InvalidConfig("at least one token key is needed".into()));
        }
        let mut signing_keys: Vec<SigningKey> = Vec::with_capacity(keys.len());
        for (kid, secret) in keys {
            if !is_valid_kid(&kid) {
                return Err(CoreError::InvalidConfig(format!(
                    "token key id {kid:?} must be 1 to {MAX_KID_LEN} characters of A-Z, a-z, 0-9, '_' or '-'"
                )));
            }
            if secret.len() < MIN_SECRET_LEN {
                return Err(CoreError::InvalidConfig(format!(
                    "the secret of token key {kid:?} has {} bytes; at least {MIN_SECRET_LEN} are needed",
                    secret.len()
                )));
            }
            if signing_keys.iter().any(|k| k.kid == kid) {
                return Err(CoreError::InvalidConfig(format!("token key id {kid:?} is given more than once")));
            }
            let mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&secret)
                .map_err(|_| CoreError::InvalidConfig(format!("the secret of token key {kid:?} is unusable")))?;
            let challenge = crate::challenge::derived_key(&mac);
            signing_keys.push(SigningKey { kid, mac, challenge });
        }
        Ok(Self { keys: signing_keys })
    }

    /// The key ids in order, the signing key first.
    pub fn key_ids(&self) -> Vec<&str> {
        self.keys.iter().map(|k| k.kid.as_str()).collect()
    }

    /// The challenge key of the signing key, with its id: new challenges are signed with it.
    pub fn current_challenge_key(&self) -> (&str, &Hmac<Sha256>) {
        (&self.keys[0].kid, &self.keys[0].challenge)
    }

    /// The challenge key derived from key `kid`, if this signer has that key.
    pub fn challenge_key(&self, kid: &str) -> Option<&Hmac<Sha256>> {
        self.keys.iter().find(|k| k.kid == kid).map(|k| &k.challenge)
    }

    /// The token for `claims`, signed with the first key.
    ///
    /// The room id must be at most [`MAX_ROOM_LEN`] bytes (room configuration enforces this).
    /// A longer one is a bug: debug builds panic, release builds return a token that never
    /// verifies rather than one bound to a truncated, different room.
    pub fn sign(&self, claims: &Claims) -> String {
        let key = &self.keys[0];
        let payload = PayloadBuf::encode(claims);
        let tag = mac_tag(&key.mac, &key.kid, payload.as_bytes());

        let payload_b64_len = (payload.len * 4).div_ceil(3);
        let mut token = String::with_capacity(key.kid.len() + payload_b64_len + MAC_B64_LEN + 2);
        token.push_str(&key.kid);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(payload.as_bytes(), &mut token);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(tag, &mut token);
        token
    }

    /// The claims of `token` if it is well-formed, signed by one of our keys, of kind `kind`,
    /// bound to `room` and not expired at `now` (unix seconds). `None` accepts any room or kind.
    ///
    /// Checks format, key, signature (constant time), then kind, room, expiry, in that order.
    pub fn verify(&self, token: &str, now: i64, room: Option<&str>, kind: Option<TokenKind>) -> CoreResult<Claims> {
        let mut payload = PayloadBuf::empty();
        let decoded = DecodedToken::parse(token, &mut payload)?;
        let fields = self.check(&decoded, &payload, now, room, kind)?;
        Ok(Claims {
            kind: fields.kind,
            room: fields.room(&payload).to_owned(),
            ticket: fields.ticket,
            issued_at: fields.issued_at,
            expires_at: fields.expires_at,
            subject: fields.subject(&payload).map(str::to_owned),
        })
    }

    /// The same checks as [`Signer::verify`] for the hot path: the room is required, nothing is
    /// allocated on success, and the answer is `(kind, ticket, issued_at, expires_at)`.
    pub fn verify_fast(
        &self,
        token: &str,
        now: i64,
        room: &str,
        kind: Option<TokenKind>,
    ) -> CoreResult<(TokenKind, u32, i64, i64)> {
        let mut payload = PayloadBuf::empty();
        let decoded = DecodedToken::parse(token, &mut payload)?;
        let fields = self.check(&decoded, &payload, now, Some(room), kind)?;
        Ok((fields.kind, fields.ticket, fields.issued_at, fields.expires_at))
    }

    /// [`Signer::verify_fast`] for the status poll, which also needs the token's subject (only
    /// an entry room's tokens carry one; the others allocate nothing): the one check of the
    /// token gives the pass it may sign the vouched identity, so the signature is not checked
    /// a second time. The answer is `(kind, ticket, issued_at, subject)`.
    pub fn verify_fast_with_subject(
        &self,
        token: &str,
        now: i64,
        room: &str,
        kind: Option<TokenKind>,
    ) -> CoreResult<(TokenKind, u32, i64, Option<String>)> {
        let mut payload = PayloadBuf::empty();
        let decoded = DecodedToken::parse(token, &mut payload)?;
        let fields = self.check(&decoded, &payload, now, Some(room), kind)?;
        Ok((fields.kind, fields.ticket, fields.issued_at, fields.subject(&payload).map(str::to_owned)))
    }

    /// Everything after parsing, shared by both verify calls so they cannot drift apart.
    fn check(
        &self,
        decoded: &DecodedToken<'_>,
        payload: &PayloadBuf,
        now: i64,
        room: Option<&str>,
        kind: Option<TokenKind>,
    ) -> CoreResult<PayloadFields> {
        let key = self
            .keys
            .iter()
            .find(|k| k.kid == decoded.kid)
            .ok_or_else(|| CoreError::TokenUnknownKey(decoded.kid.to_owned()))?;
        let expected = mac_tag(&key.mac, decoded.kid, payload.as_bytes());
        if !bool::from(expected.ct_eq(&decoded.tag)) {
            return Err(CoreError::TokenBadSignature);
        }
        let fields = decoded.fields;
        if kind.is_some_and(|k| k != fields.kind) {
            return Err(CoreError::TokenWrongKind);
        }
        if room.is_some_and(|r| r.as_bytes() != fields.room_bytes(payload)) {
            return Err(CoreError::TokenWrongRoom);
        }
        if now >= fields.expires_at {
            return Err(CoreError::TokenExpired);
        }
        Ok(fields)
    }
}

fn is_valid_kid(kid: &str) -> bool {
    crate::limits::KEY_ID.accepts(kid)
}

/// The truncated MAC over `kid || 0x00 || payload`.
fn mac_tag(keyed: &Hmac<Sha256>, kid: &str, payload: &[u8]) -> [u8; MAC_LEN] {
    let mut mac = keyed.clone();
    mac.update(kid.as_bytes());
    // The separator keeps (kid, payload) pairs unambiguous; a kid never contains a zero byte.
    mac.update(&[0]);
    mac.update(payload);
    let full = mac.finalize().into_bytes();
    let mut tag = [0u8; MAC_LEN];
    tag.copy_from_slice(&full[..MAC_LEN]);
    tag
}

/// The fields of a parsed payload. The room stays in the payload buffer; this holds its place.
#[derive(Clone, Copy)]
struct PayloadFields {
    kind: TokenKind,
    ticket: u32,
    issued_at: i64,
    expires_at: i64,
    room_start: usize,
    room_end: usize,
    /// Empty (start == end) when the token carries no subject; a subject is never empty.
    subject_start: usize,
    subject_end: usize,
}

impl PayloadFields {
    fn room_bytes<'p>(&self, payload: &'p PayloadBuf) -> &'p [u8] {
        &payload.bytes[self.room_start..self.room_end]
    }

    fn room<'p>(&self, payload: &'p PayloadBuf) -> &'p str {
        // parse_payload has checked that the room is UTF-8, so the fallback is never taken.
        std::str::from_utf8(self.room_bytes(payload)).unwrap_or_default()
    }

    fn subject<'p>(&self, payload: &'p PayloadBuf) -> Option<&'p str> {
        // parse_payload has checked that the subject is UTF-8.
        (self.subject_end > self.subject_start)
            .then(|| std::str::from_utf8(&payload.bytes[self.subject_start..self.subject_end]).unwrap_or_default())
    }
}

/// A payload on the stack: tokens are small and bounded, and the hot path must not allocate.
struct PayloadBuf {
    bytes: [u8; PAYLOAD_DECODE_BUF_LEN],
    len: usize,
}

impl PayloadBuf {
    fn empty() -> Self {
        Self { bytes: [0; PAYLOAD_DECODE_BUF_LEN], len: 0 }
    }

    fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    fn push(&mut self, byte: u8) {
        self.bytes[self.len] = byte;
        self.len += 1;
    }

    fn push_varint(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.push(value.to_le_bytes()[0] | 0x80);
            value >>= 7;
        }
        self.push(value.to_le_bytes()[0]);
    }

    fn encode(claims: &Claims) -> Self {
        let mut buf = Self::empty();
        let subject = claims.subject.as_deref().map(str::as_bytes).filter(|s| !s.is_empty());
        buf.push(if subject.is_some() { FORMAT_VERSION_SUBJECT } else { FORMAT_VERSION });
        buf.push(claims.kind as u8);
        buf.push_varint(u64::from(claims.ticket));
        buf.push_varint(zigzag(claims.issued_at));
        buf.push_varint(zigzag(claims.expires_at.wrapping_sub(claims.issued_at)));
        let room = claims.room.as_bytes();
        debug_assert!(room.len() <= MAX_ROOM_LEN, "room id of {} bytes is longer than {MAX_ROOM_LEN}", room.len());
        if let Some(len) = u8::try_from(room.len()).ok().filter(|_| room.len() <= MAX_ROOM_LEN) {
            buf.push(len);
            buf.bytes[buf.len..buf.len + room.len()].copy_from_slice(room);
            buf.len += room.len();
        } else {
            buf.push(POISONED_ROOM_LEN);
        }
        if let Some(subject) = subject {
            debug_assert!(subject.len() <= MAX_SUBJECT_LEN, "subject of {} bytes", subject.len());
            // A longer subject (a bug in the caller) is cut to a length the parser refuses.
            let len = subject.len().min(MAX_SUBJECT_LEN + 1);
            buf.push_varint(len as u64);
            buf.bytes[buf.len..buf.len + len].copy_from_slice(&subject[..len]);
            buf.len += len;
        }
        buf
    }
}

fn zigzag(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)).cast_unsigned()
}

fn unzigzag(value: u64) -> i64 {
    (value >> 1).cast_signed() ^ -(value & 1).cast_signed()
}

/// A token split, base64-decoded and parsed, but not yet authenticated. The payload itself is
/// decoded into a buffer of the caller's, so that nothing large is moved around.
struct DecodedToken<'t> {
    kid: &'t str,
    tag: [u8; MAC_LEN],
    fields: PayloadFields,
}

impl<'t> DecodedToken<'t> {
    fn parse(token: &'t str, payload: &mut PayloadBuf) -> CoreResult<Self> {
        Self::try_parse(token, payload).ok_or(CoreError::TokenMalformed)
    }

    fn try_parse(token: &'t str, payload: &mut PayloadBuf) -> Option<Self> {
        if token.len() > MAX_TOKEN_LEN {
            return None;
        }
        let (kid, payload_b64, tag_b64) = split_token(token)?;
        if !is_valid_kid(kid) || payload_b64.len() > MAX_PAYLOAD_B64_LEN {
            return None;
        }

        payload.len = URL_SAFE_NO_PAD.decode_slice(payload_b64, &mut payload.bytes).ok()?;
        let mut tag_buf = [0u8; MAC_DECODE_BUF_LEN];
        if URL_SAFE_NO_PAD.decode_slice(tag_b64, &mut tag_buf).ok()? != MAC_LEN {
            return None;
        }
        let mut tag = [0u8; MAC_LEN];
        tag.copy_from_slice(&tag_buf[..MAC_LEN]);

        let fields = parse_payload(payload.as_bytes())?;
        Some(Self { kid, tag, fields })
    }
}

/// Splits a token into kid, payload and tag text. The tag has a fixed length and the kid is
/// short, so both dots are found without scanning the whole token. A dot anywhere else lands in
/// a base64 part, whose decoding rejects it.
fn split_token(token: &str) -> Option<(&str, &str, &str)> {
    let bytes = token.as_bytes();
    let tag_dot = bytes.len().checked_sub(MAC_B64_LEN + 1)?;
    if bytes[tag_dot] != b'.' {
        return None;
    }
    let kid_end = bytes[..tag_dot.min(MAX_KID_LEN + 1)].iter().position(|&b| b == b'.')?;
    // Both cuts are at an ASCII dot, hence at character boundaries.
    Some((&token[..kid_end], &token[kid_end + 1..tag_dot], &token[tag_dot + 1..]))
}

/// Parses a payload. `None` for anything that is not exactly one well-formed version-1 record.
fn parse_payload(bytes: &[u8]) -> Option<PayloadFields> {
    let mut reader = Reader { bytes, pos: 0 };
    let version = reader.byte()?;
    if version != FORMAT_VERSION && version != FORMAT_VERSION_SUBJECT {
        return None;
    }
    let kind = TokenKind::from_byte(reader.byte()?)?;
    let ticket = u32::try_from(reader.varint()?).ok()?;
    let issued_at = unzigzag(reader.varint()?);
    let expires_at = issued_at.wrapping_add(unzigzag(reader.varint()?));
    let room_len = usize::from(reader.byte()?);
    if room_len > MAX_ROOM_LEN {
        return None;
    }
    let room_start = reader.pos;
    let room = reader.take(room_len)?;
    // Room ids are nearly always ASCII, which is checked far faster than UTF-8 in general.
    if !room.is_ascii() {
        std::str::from_utf8(room).ok()?;
    }
    let room_end = reader.pos;
    let (mut subject_start, mut subject_end) = (room_end, room_end);
    if version == FORMAT_VERSION_SUBJECT {
        let len = usize::try_from(reader.varint()?).ok()?;
        if len == 0 || len > MAX_SUBJECT_LEN {
            return None;
        }
        subject_start = reader.pos;
        std::str::from_utf8(reader.take(len)?).ok()?;
        subject_end = reader.pos;
    }
    if reader.pos != bytes.len() {
        return None;
    }
    Some(PayloadFields { kind, ticket, issued_at, expires_at, room_start, room_end, subject_start, subject_end })
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Option<u8> {
        let byte = *self.bytes.get(self.pos)?;
        self.pos += 1;
        Some(byte)
    }

    fn take(&mut self, len: usize) -> Option<&'a [u8]> {
        let slice = self.bytes.get(self.pos..self.pos.checked_add(len)?)?;
        self.pos += len;
        Some(slice)
    }

    /// A minimal LEB128 varint of at most 64 bits.
    fn varint(&mut self) -> Option<u64> {
        let mut value = 0u64;
        for index in 0..MAX_U64_VARINT_LEN {
            let byte = self.byte()?;
            // The tenth group holds only the top bit of a u64.
            if index == MAX_U64_VARINT_LEN - 1 && byte > 1 {
                return None;
            }
            value |= u64::from(byte & 0x7f) << (7 * index);
            if byte & 0x80 == 0 {
                // A zero last group after the first would be a second encoding of a shorter value.
                return (byte != 0 || index == 0).then_some(value);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests;
