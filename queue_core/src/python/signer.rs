//! `Signer` (token keys by id; the first signs, all verify) and `verify_pass` for booking sites.

use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString};

use super::time::{micros_to_datetime, to_micros};
use crate::clock::{Clock, WallClock, MICROS_PER_SECOND};
use crate::errors::CoreError;
use crate::prequeue;
use crate::token::{Claims, Signer, TokenKind};

#[pyclass(frozen, module = "pyqueue._core", name = "Signer")]
pub struct PySigner {
    pub inner: Arc<Signer>,
}

/// What a verified token says.
#[pyclass(frozen, module = "pyqueue._core", name = "TokenInfo", get_all)]
pub struct PyTokenInfo {
    pub kind: &'static str,
    pub room: String,
    pub ticket: u32,
    pub issued_at: i64,
    pub expires_at: i64,
    /// The vouched identity of the holder, in entry rooms.
    pub sub: Option<String>,
}

#[pymethods]
impl PyTokenInfo {
    fn __repr__(&self) -> String {
        format!(
            "TokenInfo(kind={:?}, room={:?}, ticket={}, issued_at={}, expires_at={})",
            self.kind, self.room, self.ticket, self.issued_at, self.expires_at
        )
    }
}

impl From<Claims> for PyTokenInfo {
    fn from(c: Claims) -> Self {
        Self {
            kind: c.kind.as_str(),
            room: c.room,
            ticket: c.ticket,
            issued_at: c.issued_at,
            expires_at: c.expires_at,
            sub: c.subject,
        }
    }
}

pub fn parse_kind(kind: Option<&str>) -> PyResult<Option<TokenKind>> {
    match kind {
        None => Ok(None),
        Some("ticket") => Ok(Some(TokenKind::Ticket)),
        Some("pass") => Ok(Some(TokenKind::Pass)),
        Some(other) => {
            Err(CoreError::InvalidArgument(format!("kind must be \"ticket\" or \"pass\", got {other:?}")).into())
        }
    }
}

fn now_seconds() -> i64 {
    WallClock.now_micros().div_euclid(MICROS_PER_SECOND)
}

#[pymethods]
impl PySigner {
    /// `keys` maps key id to secret (str or bytes, at least 16 bytes); the first key signs.
    #[new]
    fn new(keys: &Bound<'_, PyDict>) -> PyResult<Self> {
        let mut pairs = Vec::with_capacity(keys.len());
        for (kid, secret) in keys.iter() {
            let kid: String = kid.extract().map_err(|_| CoreError::InvalidConfig("key ids must be strings".into()))?;
            let secret = if let Ok(bytes) = secret.cast::<PyBytes>() {
                bytes.as_bytes().to_vec()
            } else if let Ok(text) = secret.cast::<PyString>() {
                text.to_str()?.as_bytes().to_vec()
            } else {
                return Err(CoreError::InvalidConfig(format!("the secret of key {kid:?} must be str or bytes")).into());
            };
            pairs.push((kid, secret));
        }
        Ok(Self { inner: Arc::new(Signer::new(pairs)?) })
    }

    #[getter]
    fn key_ids(&self) -> Vec<String> {
        self.inner.key_ids().into_iter().map(str::to_owned).collect()
    }

    /// Signs a token. Rooms sign their own tickets and passes; this is for backends that keep
    /// the queue elsewhere (Redis) and for tools.
    #[pyo3(signature = (kind, room, ticket, issued_at, expires_at, sub=None))]
    fn sign(
        &self,
        kind: &str,
        room: &str,
        ticket: u32,
        issued_at: i64,
        expires_at: i64,
        sub: Option<String>,
    ) -> PyResult<String> {
        let kind = parse_kind(Some(kind))?.unwrap_or(TokenKind::Ticket);
        if !crate::room_config::valid_room_id(room) {
            return Err(CoreError::InvalidArgument(format!("invalid room id {room:?}")).into());
        }
        if expires_at <= issued_at {
            return Err(CoreError::InvalidArgument("expires_at must be after issued_at".into()).into());
        }
        if let Some(sub) = &sub {
            crate::limits::IDENTITY.check_unshown(sub).map_err(CoreError::InvalidArgument)?;
        }
        Ok(self.inner.sign(&Claims { kind, room: room.to_owned(), ticket, issued_at, expires_at, subject: sub }))
    }

    /// Verifies a token against the wall clock (or `now`, Unix seconds). Raises a `TokenError`
    /// subclass for each kind of failure.
    #[pyo3(signature = (token, room=None, kind=None, now=None))]
    fn verify(&self, token: &str, room: Option<&str>, kind: Option<&str>, now: Option<i64>) -> PyResult<PyTokenInfo> {
        let kind = parse_kind(kind)?;
        let claims = self.inner.verify(token, now.unwrap_or_else(now_seconds), room, kind)?;
        Ok(claims.into())
    }

    fn __repr__(&self) -> String {
        format!("Signer(key_ids={:?})", self.inner.key_ids())
    }
}

/// What a booking site learns from a valid pass.
#[pyclass(frozen, module = "pyqueue._core", name = "PassInfo", get_all)]
pub struct PyPassInfo {
    pub room: String,
    pub ticket: u32,
    pub issued_at: Py<PyAny>,
    pub expires_at: Py<PyAny>,
    /// The person the pass was issued to (the entry token's `sub`), in entry rooms.
    pub sub: Option<String>,
}

#[pymethods]
impl PyPassInfo {
    /// For a backend that verifies elsewhere; the times are kept as UTC datetimes.
    #[new]
    #[pyo3(signature = (*, room, ticket, issued_at, expires_at, sub=None))]
    fn py_new(
        py: Python<'_>,
        room: String,
        ticket: u32,
        issued_at: &Bound<'_, PyAny>,
        expires_at: &Bound<'_, PyAny>,
        sub: Option<String>,
    ) -> PyResult<Self> {
        let utc = |value: &Bound<'_, PyAny>, what: &str| -> PyResult<Py<PyAny>> {
            Ok(micros_to_datetime(py, to_micros(value, what)?)?.unbind())
        };
        let issued_at = utc(issued_at, "PassInfo.issued_at")?;
        let expires_at = utc(expires_at, "PassInfo.expires_at")?;
        Ok(Self { room, ticket, issued_at, expires_at, sub })
    }
    fn __repr__(&self) -> String {
        format!("PassInfo(room={:?}, ticket={}, sub={:?})", self.room, self.ticket, self.sub)
    }
}

pub fn pass_info(py: Python<'_>, claims: Claims) -> PyResult<PyPassInfo> {
    Ok(PyPassInfo {
        room: claims.room,
        ticket: claims.ticket,
        issued_at: micros_to_datetime(py, claims.issued_at * MICROS_PER_SECOND)?.unbind(),
        expires_at: micros_to_datetime(py, claims.expires_at * MICROS_PER_SECOND)?.unbind(),
        sub: claims.subject,
    })
}

/// Checks a pass for a booking site, in process: signature, key, kind, room and expiry. It
/// reads no state, so it cannot know that a session ended early (left or completed).
#[pyfunction]
#[pyo3(signature = (token, signer, room))]
pub fn verify_pass(py: Python<'_>, token: &str, signer: &PySigner, room: &str) -> PyResult<PyPassInfo> {
    let claims = signer.inner.verify(token, now_seconds(), Some(room), Some(TokenKind::Pass))?;
    pass_info(py, claims)
}

/// The pre-queue draw for an audit: element k is the join index of the entry placed k-th.
#[pyfunction]
pub fn draw_order(py: Python<'_>, n: usize, seed: u64) -> Vec<u32> {
    py.detach(|| prequeue::draw_order(n, seed))
}
