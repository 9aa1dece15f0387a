//! `EntryVerifier` (the portal's keys, checking entry tokens) and `sign_entry` for portals.

use std::fmt::Write as _;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString};

use crate::clock::{Clock, WallClock, MICROS_PER_SECOND};
use crate::entry::{self, EntryAlgorithm, EntryClaims, EntryVerifier};
use crate::errors::CoreError;

/// What a valid entry token vouches for.
#[pyclass(frozen, module = "pyqueue._core", name = "EntryClaims", get_all)]
pub struct PyEntryClaims {
    pub sub: String,
    pub jti: String,
    pub kid: String,
    pub issued_at: i64,
    pub expires_at: i64,
}

#[pymethods]
impl PyEntryClaims {
    fn __repr__(&self) -> String {
        format!(
            "EntryClaims(sub={:?}, jti={:?}, kid={:?}, expires_at={})",
            self.sub, self.jti, self.kid, self.expires_at
        )
    }
}

impl From<EntryClaims> for PyEntryClaims {
    fn from(c: EntryClaims) -> Self {
        Self { sub: c.sub, jti: c.jti, kid: c.kid, issued_at: c.issued_at, expires_at: c.expires_at }
    }
}

#[pyclass(frozen, module = "pyqueue._core", name = "EntryVerifier")]
pub struct PyEntryVerifier {
    inner: EntryVerifier,
}

fn key_material(kid: &str, value: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    if let Ok(bytes) = value.cast::<PyBytes>() {
        Ok(bytes.as_bytes().to_vec())
    } else if let Ok(text) = value.cast::<PyString>() {
        Ok(text.to_str()?.as_bytes().to_vec())
    } else {
        Err(CoreError::InvalidConfig(format!("entry_keys.{kid} must be str or bytes")).into())
    }
}

fn now_or(now: Option<i64>) -> i64 {
    now.unwrap_or_else(|| WallClock.now_micros().div_euclid(MICROS_PER_SECOND))
}

#[pymethods]
impl PyEntryVerifier {
    /// `keys` maps key id to key: Ed25519 public keys (base64url of the 32 raw bytes, or PEM)
    /// for "EdDSA", shared secrets of at least 32 bytes for "HS256". Every key verifies.
    #[new]
    #[pyo3(signature = (keys, algorithm="EdDSA"))]
    fn new(keys: &Bound<'_, PyDict>, algorithm: &str) -> PyResult<Self> {
        let algorithm = EntryAlgorithm::parse(algorithm)?;
        let mut pairs = Vec::with_capacity(keys.len());
        for (kid, value) in keys.iter() {
            let kid: String =
                kid.extract().map_err(|_| CoreError::InvalidConfig("entry key ids must be strings".into()))?;
            let material = key_material(&kid, &value)?;
            pairs.push((kid, material));
        }
        Ok(Self { inner: EntryVerifier::new(algorithm, pairs)? })
    }

    #[getter]
    fn algorithm(&self) -> &'static str {
        self.inner.algorithm().as_str()
    }

    #[getter]
    fn key_ids(&self) -> Vec<String> {
        self.inner.key_ids().into_iter().map(str::to_owned).collect()
    }

    /// Checks an entry token for `room` at `now` (unix seconds; the wall clock by default)
    /// without using up its jti.
    #[pyo3(signature = (token, room, now=None))]
    fn verify(&self, token: &str, room: &str, now: Option<i64>) -> PyResult<PyEntryClaims> {
        Ok(self.inner.verify(token, room, now_or(now))?.into())
    }

    /// Checks an entry token and uses up its jti in this process: a second `accept` of the
    /// same token raises `EntryReplayed` until it has expired.
    #[pyo3(signature = (token, room, now=None))]
    fn accept(&self, token: &str, room: &str, now: Option<i64>) -> PyResult<PyEntryClaims> {
        Ok(self.inner.accept(token, room, now_or(now))?.into())
    }

    /// How many jtis the replay store holds now.
    #[getter]
    fn remembered(&self) -> usize {
        self.inner.remembered()
    }

    fn __repr__(&self) -> String {
        format!("EntryVerifier(algorithm={:?}, key_ids={:?})", self.inner.algorithm().as_str(), self.inner.key_ids())
    }
}

/// Signs an entry token (a JWT) for `room` and the person `sub`, valid for `lifetime_seconds`
/// from `now` (unix seconds; the wall clock by default). `key` is the Ed25519 private key
/// (32 raw bytes, their base64url, or PEM "PRIVATE KEY") for "EdDSA", the secret for "HS256".
/// `jti` defaults to 128 random bits.
#[pyfunction]
#[pyo3(signature = (key, kid, room, sub, *, algorithm="EdDSA", lifetime_seconds=300, jti=None, now=None))]
#[allow(clippy::too_many_arguments)]
pub fn sign_entry(
    key: &Bound<'_, PyAny>,
    kid: &str,
    room: &str,
    sub: &str,
    algorithm: &str,
    lifetime_seconds: i64,
    jti: Option<String>,
    now: Option<i64>,
) -> PyResult<String> {
    let algorithm = EntryAlgorithm::parse(algorithm)?;
    if !(1..=entry::MAX_LIFETIME_SECONDS).contains(&lifetime_seconds) {
        return Err(CoreError::InvalidArgument(format!(
            "lifetime_seconds must be between 1 and {}, got {lifetime_seconds}",
            entry::MAX_LIFETIME_SECONDS
        ))
        .into());
    }
    crate::limits::IDENTITY.check_unshown(sub).map_err(CoreError::InvalidArgument)?;
    let jti = match jti {
        Some(jti) => jti,
        None => {
            let mut bytes = [0u8; 16];
            getrandom::fill(&mut bytes).map_err(|e| CoreError::EntropyUnavailable(e.to_string()))?;
            bytes.iter().fold(String::with_capacity(32), |mut hex, b| {
                let _ = write!(hex, "{b:02x}");
                hex
            })
        }
    };
    let material = key_material(kid, key)?;
    let issued_at = now_or(now);
    Ok(entry::sign(algorithm, &material, kid, room, sub, &jti, issued_at, issued_at + lifetime_seconds)?)
}

/// The public key (base64url of the 32 raw bytes) of an Ed25519 private key as `sign_entry`
/// takes it: the value for the server's `entry_keys`.
#[pyfunction]
pub fn entry_public_key(private_key: &Bound<'_, PyAny>) -> PyResult<String> {
    Ok(entry::public_key_of(&key_material("private_key", private_key)?)?)
}
