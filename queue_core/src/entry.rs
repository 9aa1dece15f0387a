//! Entry tokens: the portal's word that a person was authenticated, for rooms with
//! `identity = "entry"`.
//!
//! An entry token is a JWT (RFC 7519) in JWS compact form, signed by the portal with one
//! pinned algorithm: `EdDSA` (Ed25519, RFC 8037) by default, so that pyqueue holds only the
//! portal's public keys and nobody with access to pyqueue can mint identities; `HS256` only
//! where the operator chose it. The header must name the key (`kid`); the claims must be
//!
//! | claim | meaning                                                                   |
//! |-------|---------------------------------------------------------------------------|
//! | `aud` | the room id (a string, or an array that contains it)                      |
//! | `sub` | the person, as an opaque id (1 to 256 printable characters)               |
//! | `iat` | issued at, unix seconds                                                   |
//! | `exp` | expiry, unix seconds; at most [`MAX_LIFETIME_SECONDS`] after `iat`        |
//! | `jti` | a unique id (1 to 128 characters): each token is accepted once            |
//!
//! `nbf`, `iss` and other claims are allowed; `nbf` is honoured. A header with `crit` is
//! refused, as RFC 7515 asks of extensions one does not know.
//!
//! Checks, in this order, each with its own [`CoreError`]: the form (`EntryMalformed`), the
//! algorithm (`EntryWrongAlgorithm`, also for `none`), the key id (`EntryUnknownKey`), the
//! signature (`EntryBadSignature`), the audience (`EntryWrongAudience`), the lifetime
//! (`EntryLifetimeTooLong`), the expiry (`EntryExpired`) and, in [`EntryVerifier::accept`],
//! the `jti` (`EntryReplayed`). Nothing panics on any input.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use hmac::{Hmac, KeyInit, Mac};
use parking_lot::Mutex;
use serde_json::{Map, Value};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::errors::{CoreError, CoreResult};
use crate::limits;

/// The longest an entry token may live, from `iat` to `exp`: it is a ticket to the door, not
/// a session, and a short life bounds what a stolen one is worth.
pub const MAX_LIFETIME_SECONDS: i64 = 3600;
/// Clock difference allowed between the portal and pyqueue for `iat` and `nbf` in the future.
pub const CLOCK_SKEW_SECONDS: i64 = 60;
/// Longer text is refused before it is decoded.
pub const MAX_ENTRY_TOKEN_LEN: usize = 4096;
/// The longest `jti`, in characters.
pub const MAX_JTI_LEN: usize = 128;
/// How many accepted `jti`s the in-process replay store keeps at most (each until its token
/// expires). Beyond it new tokens are refused (`EntryStoreFull`) rather than replays let in.
pub const REPLAY_STORE_CAPACITY: usize = 1 << 20;
/// The shortest HS256 secret, in bytes (RFC 7518 asks for at least the hash size).
pub const MIN_HS256_SECRET_LEN: usize = 32;

/// DER of an Ed25519 SubjectPublicKeyInfo before the 32 key bytes (RFC 8410).
const SPKI_ED25519_PREFIX: [u8; 12] = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];
/// DER of an Ed25519 PKCS #8 private key before the 32 seed bytes (RFC 8410).
const PKCS8_ED25519_PREFIX: [u8; 16] =
    [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];

/// The one algorithm a server accepts entry tokens in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryAlgorithm {
    EdDsa,
    Hs256,
}

impl EntryAlgorithm {
    pub fn parse(name: &str) -> CoreResult<Self> {
        match name {
            "EdDSA" => Ok(Self::EdDsa),
            "HS256" => Ok(Self::Hs256),
            _ => Err(CoreError::InvalidConfig(format!("entry_algorithm must be \"EdDSA\" or \"HS256\", got {name:?}"))),
        }
    }

    /// The `alg` header value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EdDsa => "EdDSA",
            Self::Hs256 => "HS256",
        }
    }
}

/// What a valid entry token vouches for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryClaims {
    pub sub: String,
    pub jti: String,
    pub kid: String,
    pub issued_at: i64,
    pub expires_at: i64,
}

enum VerifyKey {
    Ed25519(VerifyingKey),
    Hs256(Hmac<Sha256>),
}

/// The portal's keys by id, the pinned algorithm, and the `jti`s this process accepted.
pub struct EntryVerifier {
    algorithm: EntryAlgorithm,
    keys: Vec<(String, VerifyKey)>,
    replays: Mutex<ReplayStore>,
}

impl std::fmt::Debug for EntryVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EntryVerifier")
            .field("algorithm", &self.algorithm)
            .field("key_ids", &self.key_ids())
            .finish_non_exhaustive()
    }
}

impl EntryVerifier {
    /// Keys by id: for `EdDSA` public keys (base64url of the 32 raw bytes, which is a JWK's
    /// `x`, or a PEM "PUBLIC KEY"), for `HS256` secrets of at least 32 bytes. All keys verify,
    /// so a rotation keeps the old key beside the new one until its tokens expired.
    pub fn new(algorithm: EntryAlgorithm, keys: Vec<(String, Vec<u8>)>) -> CoreResult<Self> {
        if keys.is_empty() {
            return Err(CoreError::InvalidConfig("entry_keys: at least one key is needed".into()));
        }
        let mut parsed: Vec<(String, VerifyKey)> = Vec::with_capacity(keys.len());
        for (kid, material) in keys {
            if kid.is_empty() || kid.len() > 64 || !kid.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(CoreError::InvalidConfig(format!(
                    "entry_keys: key id {kid:?} must be 1 to 64 printable ASCII characters"
                )));
            }
            if parsed.iter().any(|(k, _)| *k == kid) {
                return Err(CoreError::InvalidConfig(format!("entry_keys: key id {kid:?} is given twice")));
            }
            let key = match algorithm {
                EntryAlgorithm::EdDsa => VerifyKey::Ed25519(
                    public_key(&material).map_err(|m| CoreError::InvalidConfig(format!("entry_keys.{kid}: {m}")))?,
                ),
                EntryAlgorithm::Hs256 => {
                    if material.len() < MIN_HS256_SECRET_LEN {
                        return Err(CoreError::InvalidConfig(format!(
                            "entry_keys.{kid}: an HS256 secret needs at least {MIN_HS256_SECRET_LEN} bytes, got {}",
                            material.len()
                        )));
                    }
                    VerifyKey::Hs256(hmac_key(&material))
                }
            };
            parsed.push((kid, key));
        }
        Ok(Self { algorithm, keys: parsed, replays: Mutex::new(ReplayStore::new(REPLAY_STORE_CAPACITY)) })
    }

    pub fn algorithm(&self) -> EntryAlgorithm {
        self.algorithm
    }

    pub fn key_ids(&self) -> Vec<&str> {
        self.keys.iter().map(|(kid, _)| kid.as_str()).collect()
    }

    /// The claims of a valid entry token for `room` at `now` (unix seconds), without using up
    /// its `jti` (for backends that remember `jti`s elsewhere, like Redis).
    pub fn verify(&self, token: &str, room: &str, now: i64) -> CoreResult<EntryClaims> {
        let parts = split(token)?;
        let header = json_object(parts.header, "header")?;
        let alg = header.get("alg").and_then(Value::as_str).ok_or_else(|| malformed("the header has no alg"))?;
        if alg != self.algorithm.as_str() {
            return Err(CoreError::EntryWrongAlgorithm(truncated(alg)));
        }
        if header.contains_key("crit") {
            return Err(malformed("the header has crit, which this server does not understand"));
        }
        let kid = header.get("kid").and_then(Value::as_str).ok_or_else(|| malformed("the header has no kid"))?;
        let key = self
            .keys
            .iter()
            .find(|(k, _)| k == kid)
            .map(|(_, key)| key)
            .ok_or_else(|| CoreError::EntryUnknownKey(truncated(kid)))?;
        let signature =
            URL_SAFE_NO_PAD.decode(parts.signature).map_err(|_| malformed("the signature is not base64url"))?;
        if !signature_matches(key, parts.signed.as_bytes(), &signature) {
            return Err(CoreError::EntryBadSignature);
        }
        let claims = json_object(parts.payload, "payload")?;
        check_audience(claims.get("aud"), room)?;
        let issued_at = int_claim(&claims, "iat")?;
        let expires_at = int_claim(&claims, "exp")?;
        if expires_at <= issued_at {
            return Err(malformed("exp is not after iat"));
        }
        if expires_at - issued_at > MAX_LIFETIME_SECONDS {
            return Err(CoreError::EntryLifetimeTooLong { max_seconds: MAX_LIFETIME_SECONDS });
        }
        if issued_at > now + CLOCK_SKEW_SECONDS {
            return Err(malformed("iat is in the future"));
        }
        if claims.contains_key("nbf") && int_claim(&claims, "nbf")? > now + CLOCK_SKEW_SECONDS {
            return Err(malformed("nbf is in the future"));
        }
        if now >= expires_at {
            return Err(CoreError::EntryExpired);
        }
        let sub = string_claim(&claims, "sub")?;
        limits::IDENTITY.check_unshown(sub).map_err(|m| malformed(&format!("sub: {m}")))?;
        let jti = string_claim(&claims, "jti")?;
        if jti.chars().count() > MAX_JTI_LEN {
            return Err(malformed(&format!("jti is longer than {MAX_JTI_LEN} characters")));
        }
        Ok(EntryClaims { sub: sub.to_owned(), jti: jti.to_owned(), kid: kid.to_owned(), issued_at, expires_at })
    }

    /// [`EntryVerifier::verify`], then uses up the token's `jti` in this process's store: a
    /// second `accept` of the same token is `EntryReplayed` until the token has expired.
    pub fn accept(&self, token: &str, room: &str, now: i64) -> CoreResult<EntryClaims> {
        let claims = self.verify(token, room, now)?;
        self.replays.lock().use_once(&claims.jti, claims.expires_at, now)?;
        Ok(claims)
    }

    /// How many `jti`s the store remembers now (expired ones are dropped as new ones come).
    pub fn remembered(&self) -> usize {
        self.replays.lock().len()
    }
}

/// Signs an entry token, for portals written in Python and for tests. `key` is an Ed25519
/// private key (32 raw seed bytes, their base64url, or a PEM "PRIVATE KEY") for `EdDSA`, the
/// shared secret for `HS256`.
#[allow(clippy::too_many_arguments)]
pub fn sign(
    algorithm: EntryAlgorithm,
    key: &[u8],
    kid: &str,
    room: &str,
    sub: &str,
    jti: &str,
    issued_at: i64,
    expires_at: i64,
) -> CoreResult<String> {
    let header = serde_json::json!({ "alg": algorithm.as_str(), "typ": "JWT", "kid": kid });
    let claims = serde_json::json!({ "aud": room, "sub": sub, "jti": jti, "iat": issued_at, "exp": expires_at });
    let mut token = URL_SAFE_NO_PAD.encode(header.to_string());
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(claims.to_string(), &mut token);
    let signature: Vec<u8> = match algorithm {
        EntryAlgorithm::EdDsa => {
            let seed = private_key(key).map_err(CoreError::InvalidArgument)?;
            SigningKey::from_bytes(&seed).sign(token.as_bytes()).to_bytes().to_vec()
        }
        EntryAlgorithm::Hs256 => {
            let mut mac = hmac_key(key);
            mac.update(token.as_bytes());
            mac.finalize().into_bytes().to_vec()
        }
    };
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(signature, &mut token);
    Ok(token)
}

/// The public key (base64url, 32 raw bytes) of an Ed25519 private key as [`sign`] takes it.
pub fn public_key_of(private: &[u8]) -> CoreResult<String> {
    let seed = private_key(private).map_err(CoreError::InvalidArgument)?;
    Ok(URL_SAFE_NO_PAD.encode(SigningKey::from_bytes(&seed).verifying_key().to_bytes()))
}

struct Parts<'t> {
    header: &'t str,
    payload: &'t str,
    signature: &'t str,
    /// `header.payload`, what the signature covers.
    signed: &'t str,
}

fn split(token: &str) -> CoreResult<Parts<'_>> {
    if token.len() > MAX_ENTRY_TOKEN_LEN {
        return Err(malformed(&format!("longer than {MAX_ENTRY_TOKEN_LEN} characters")));
    }
    let mut pieces = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (pieces.next(), pieces.next(), pieces.next(), pieces.next())
    else {
        return Err(malformed("not three dot-separated parts (JWS compact form)"));
    };
    let signed = &token[..header.len() + 1 + payload.len()];
    Ok(Parts { header, payload, signature, signed })
}

fn json_object(part: &str, name: &str) -> CoreResult<Map<String, Value>> {
    let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|_| malformed(&format!("the {name} is not base64url")))?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(malformed(&format!("the {name} is not a JSON object"))),
    }
}

fn signature_matches(key: &VerifyKey, signed: &[u8], signature: &[u8]) -> bool {
    match key {
        VerifyKey::Ed25519(public) => {
            let Ok(bytes) = <[u8; 64]>::try_from(signature) else { return false };
            public.verify_strict(signed, &Signature::from_bytes(&bytes)).is_ok()
        }
        VerifyKey::Hs256(keyed) => {
            let mut mac = keyed.clone();
            mac.update(signed);
            let expected = mac.finalize().into_bytes();
            signature.len() == expected.len() && bool::from(expected.as_slice().ct_eq(signature))
        }
    }
}

fn check_audience(aud: Option<&Value>, room: &str) -> CoreResult<()> {
    let names = match aud {
        Some(Value::String(one)) => one == room,
        Some(Value::Array(many)) => many.iter().any(|v| v.as_str() == Some(room)),
        Some(_) => return Err(malformed("aud is neither a string nor an array of strings")),
        None => return Err(malformed("the claim aud is missing")),
    };
    if names {
        Ok(())
    } else {
        Err(CoreError::EntryWrongAudience)
    }
}

fn int_claim(claims: &Map<String, Value>, name: &str) -> CoreResult<i64> {
    match claims.get(name) {
        // NumericDate may have a fraction; whole seconds are what counts here.
        Some(Value::Number(n)) => n
            .as_i64()
            // Below 1e15 in magnitude, the whole part fits an i64 exactly.
            .or_else(|| {
                #[allow(clippy::cast_possible_truncation)]
                n.as_f64().filter(|f| f.is_finite() && f.abs() < 1e15).map(|f| f.floor() as i64)
            })
            .ok_or_else(|| malformed(&format!("{name} is out of range"))),
        Some(_) => Err(malformed(&format!("{name} is not a number"))),
        None => Err(malformed(&format!("the claim {name} is missing"))),
    }
}

fn string_claim<'c>(claims: &'c Map<String, Value>, name: &str) -> CoreResult<&'c str> {
    match claims.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(_) => Err(malformed(&format!("{name} is not a non-empty string"))),
        None => Err(malformed(&format!("the claim {name} is missing"))),
    }
}

fn malformed(message: &str) -> CoreError {
    CoreError::EntryMalformed(message.to_owned())
}

/// Text from a token, cut short for an error message.
fn truncated(text: &str) -> String {
    text.chars().take(64).collect()
}

fn hmac_key(secret: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length.
    <Hmac<Sha256> as KeyInit>::new_from_slice(secret).unwrap_or_else(|_| unreachable!("HMAC takes any key length"))
}

/// An Ed25519 public key: base64url (or base64) of the 32 raw bytes, or a PEM "PUBLIC KEY".
fn public_key(material: &[u8]) -> Result<VerifyingKey, String> {
    let raw = key_bytes(material, "PUBLIC KEY", &SPKI_ED25519_PREFIX)?;
    VerifyingKey::from_bytes(&raw).map_err(|_| "not a valid Ed25519 public key".to_owned())
}

/// An Ed25519 private key's seed: the 32 raw bytes, their base64url, or a PEM "PRIVATE KEY".
fn private_key(material: &[u8]) -> Result<[u8; 32], String> {
    if let Ok(raw) = <[u8; 32]>::try_from(material) {
        return Ok(raw);
    }
    key_bytes(material, "PRIVATE KEY", &PKCS8_ED25519_PREFIX)
}

fn key_bytes(material: &[u8], pem_label: &str, der_prefix: &[u8]) -> Result<[u8; 32], String> {
    let text = std::str::from_utf8(material).map_err(|_| "the key is not text".to_owned())?.trim();
    let begin = format!("-----BEGIN {pem_label}-----");
    let raw = if let Some(rest) = text.strip_prefix(&begin) {
        let end = format!("-----END {pem_label}-----");
        let body: String = rest
            .strip_suffix(&end)
            .ok_or_else(|| format!("the PEM has no {end:?} line"))?
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        let der = STANDARD.decode(body).map_err(|_| "the PEM body is not base64".to_owned())?;
        der.strip_prefix(der_prefix).ok_or_else(|| format!("the PEM {pem_label} is not an Ed25519 key"))?.to_vec()
    } else {
        let trimmed = text.trim_end_matches('=');
        URL_SAFE_NO_PAD
            .decode(trimmed)
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(trimmed))
            .map_err(|_| format!("not base64url of 32 bytes nor a PEM {pem_label}"))?
    };
    <[u8; 32]>::try_from(raw.as_slice()).map_err(|_| format!("an Ed25519 key has 32 bytes, got {}", raw.len()))
}

/// The `jti`s accepted and not yet expired, pruned by expiry as new ones come.
struct ReplayStore {
    until: HashMap<Box<str>, i64>,
    by_expiry: BinaryHeap<Reverse<(i64, Box<str>)>>,
    capacity: usize,
}

impl ReplayStore {
    fn new(capacity: usize) -> Self {
        Self { until: HashMap::new(), by_expiry: BinaryHeap::new(), capacity }
    }

    fn len(&self) -> usize {
        self.until.len()
    }

    fn use_once(&mut self, jti: &str, expires_at: i64, now: i64) -> CoreResult<()> {
        self.prune(now);
        if self.until.contains_key(jti) {
            return Err(CoreError::EntryReplayed);
        }
        if self.until.len() >= self.capacity {
            return Err(CoreError::EntryStoreFull);
        }
        self.until.insert(jti.into(), expires_at);
        self.by_expiry.push(Reverse((expires_at, jti.into())));
        Ok(())
    }

    /// Forgets the `jti`s of expired tokens: those are refused as expired anyway.
    fn prune(&mut self, now: i64) {
        while let Some(Reverse((expires_at, _))) = self.by_expiry.peek() {
            if *expires_at > now {
                break;
            }
            if let Some(Reverse((_, jti))) = self.by_expiry.pop() {
                self.until.remove(&jti);
            }
        }
    }
}

#[cfg(test)]
mod tests;
