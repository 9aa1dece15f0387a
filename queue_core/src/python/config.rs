//! `RoomConfig`: validated when built, so a bad config is refused before any room exists.

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyFloat, PyInt};

use super::time::{micros_to_datetime, opt_datetime, opt_to_micros, to_micros};
use crate::errors::CoreError;
use crate::limits::{self, IntRange, RateRange};
use crate::room_config::{IdentityMode, PrequeueMode, ReturnedSlots, RoomConfig};
use crate::schedule::ReleaseSchedule;

/// A number as the caller gave it. Taking it never fails, so that a value of the wrong type or
/// beyond every machine integer is refused by the setting's rule, with the setting's name,
/// rather than by a bare `TypeError` or `OverflowError` of the conversion.
pub enum Given {
    Int(i128),
    Float(f64),
    /// An int beyond `i128`, as its decimal text.
    Huge(String),
    /// Anything else (a bool, a string, …), as its repr.
    Other(String),
}

impl<'a, 'py> FromPyObject<'a, 'py> for Given {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        if obj.is_instance_of::<PyInt>() && !obj.is_instance_of::<PyBool>() {
            return Ok(match obj.extract::<i128>() {
                Ok(value) => Self::Int(value),
                Err(_) => Self::Huge(obj.str()?.to_string()),
            });
        }
        if let Ok(float) = obj.cast::<PyFloat>() {
            return Ok(Self::Float(float.value()));
        }
        Ok(Self::Other(obj.repr()?.to_string()))
    }
}

impl Given {
    /// A whole-number setting within `range`.
    fn whole<T: TryFrom<i128>>(self, range: &IntRange) -> Result<T, CoreError> {
        let refused = |m: String| CoreError::InvalidConfig(m);
        match self {
            Self::Int(value) => {
                range.check(value).map_err(refused)?;
                T::try_from(value).map_err(|_| refused(range.refusal(&value.to_string())))
            }
            Self::Huge(text) => Err(refused(range.refusal(&text))),
            Self::Float(value) => Err(refused(format!("{} must be a whole number, got {value:?}", range.name))),
            Self::Other(repr) => Err(refused(format!("{} must be a whole number, got {repr}", range.name))),
        }
    }

    /// A rate within `range`.
    fn rate(self, range: &RateRange) -> Result<f64, CoreError> {
        let value = match self {
            Self::Int(value) => value as f64,
            Self::Float(value) => value,
            Self::Huge(text) => text.parse::<f64>().unwrap_or(f64::INFINITY),
            Self::Other(repr) => {
                return Err(CoreError::InvalidConfig(format!("{} must be a number, got {repr}", range.name)))
            }
        };
        range.check(value).map_err(CoreError::InvalidConfig)?;
        Ok(value)
    }
}

#[pyclass(frozen, module = "pyqueue._core", name = "RoomConfig")]
pub struct PyRoomConfig {
    pub inner: RoomConfig,
    pub handoff_url: Option<String>,
}

#[pymethods]
impl PyRoomConfig {
    #[new]
    #[pyo3(signature = (
        id, opens_at, *, admit_per_minute=Given::Float(600.0), max_active=Given::Int(500),
        session_seconds=Given::Int(900), heartbeat_timeout_seconds=Given::Int(120), closes_at=None,
        prequeue_opens_at=None, prequeue="shuffle", identity="optional", returned_slots="windows",
        release_windows=Vec::new(), timezone="UTC", max_bookings_per_identity=Given::Int(1),
        hold_seconds=Given::Int(300), offer_seconds=Given::Int(600), handoff_url=None, seed=None, challenge_max_number=Given::Int(0),
    ))]
    // The defaults as Python shows them (PyO3 shows `...` for a default that is not a literal).
    #[pyo3(text_signature = "(id, opens_at, *, admit_per_minute=600.0, max_active=500, \
        session_seconds=900, heartbeat_timeout_seconds=120, closes_at=None, prequeue_opens_at=None, \
        prequeue='shuffle', identity='optional', returned_slots='windows', release_windows=..., \
        timezone='UTC', max_bookings_per_identity=1, hold_seconds=300, offer_seconds=600, \
        handoff_url=None, seed=None, challenge_max_number=0)")]
    #[allow(clippy::too_many_arguments)]
    fn new(
        id: String,
        opens_at: &Bound<'_, PyAny>,
        admit_per_minute: Given,
        max_active: Given,
        session_seconds: Given,
        heartbeat_timeout_seconds: Given,
        closes_at: Option<&Bound<'_, PyAny>>,
        prequeue_opens_at: Option<&Bound<'_, PyAny>>,
        prequeue: &str,
        identity: &str,
        returned_slots: &str,
        release_windows: Vec<String>,
        timezone: &str,
        max_bookings_per_identity: Given,
        hold_seconds: Given,
        offer_seconds: Given,
        handoff_url: Option<String>,
        seed: Option<Given>,
        challenge_max_number: Given,
    ) -> PyResult<Self> {
        let seed = match seed {
            Some(seed) => seed.whole(&limits::SEED)?,
            None => getrandom::u64()
                .map_err(|e| CoreError::InvalidConfig(format!("no randomness for the draw seed: {e}")))?,
        };
        let inner = RoomConfig {
            id,
            opens_at: to_micros(opens_at, "opens_at")?,
            closes_at: opt_to_micros(closes_at, "closes_at")?,
            prequeue_opens_at: opt_to_micros(prequeue_opens_at, "prequeue_opens_at")?,
            admit_per_minute: admit_per_minute.rate(&limits::ADMIT_PER_MINUTE)?,
            max_active: max_active.whole(&limits::MAX_ACTIVE)?,
            session_seconds: session_seconds.whole(&limits::SESSION_SECONDS)?,
            heartbeat_timeout_seconds: heartbeat_timeout_seconds.whole(&limits::HEARTBEAT_TIMEOUT_SECONDS)?,
            prequeue: PrequeueMode::parse(prequeue)?,
            identity: IdentityMode::parse(identity)?,
            returned_slots: ReturnedSlots::parse(returned_slots)?,
            release_windows,
            timezone: timezone.to_owned(),
            max_bookings_per_identity: max_bookings_per_identity.whole(&limits::MAX_BOOKINGS_PER_IDENTITY)?,
            hold_seconds: hold_seconds.whole(&limits::HOLD_SECONDS)?,
            offer_seconds: offer_seconds.whole(&limits::OFFER_SECONDS)?,
            seed,
            challenge_max_number: match challenge_max_number {
                // Its range has a hole (0, or from the floor), which its own check names.
                Given::Int(value) => {
                    limits::check_challenge_max_number(value).map_err(CoreError::InvalidConfig)?;
                    value as u32
                }
                other => other.whole(&limits::CHALLENGE_MAX_NUMBER)?,
            },
        };
        inner.validate()?;
        ReleaseSchedule::parse(&inner.release_windows, &inner.timezone)?;
        if let Some(url) = &handoff_url {
            limits::check_handoff_url(url).map_err(CoreError::InvalidConfig)?;
        }
        Ok(Self { inner, handoff_url })
    }

    #[getter]
    fn id(&self) -> &str {
        &self.inner.id
    }
    #[getter]
    fn opens_at<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        micros_to_datetime(py, self.inner.opens_at)
    }
    #[getter]
    fn closes_at<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        opt_datetime(py, self.inner.closes_at)
    }
    #[getter]
    fn prequeue_opens_at<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        opt_datetime(py, self.inner.prequeue_opens_at)
    }
    #[getter]
    fn admit_per_minute(&self) -> f64 {
        self.inner.admit_per_minute
    }
    #[getter]
    fn max_active(&self) -> u32 {
        self.inner.max_active
    }
    #[getter]
    fn session_seconds(&self) -> u32 {
        self.inner.session_seconds
    }
    #[getter]
    fn heartbeat_timeout_seconds(&self) -> u32 {
        self.inner.heartbeat_timeout_seconds
    }
    #[getter]
    fn prequeue(&self) -> &'static str {
        self.inner.prequeue.as_str()
    }
    #[getter]
    fn identity(&self) -> &'static str {
        self.inner.identity.as_str()
    }
    #[getter]
    fn returned_slots(&self) -> &'static str {
        self.inner.returned_slots.as_str()
    }
    #[getter]
    fn release_windows(&self) -> Vec<String> {
        self.inner.release_windows.clone()
    }
    #[getter]
    fn timezone(&self) -> &str {
        &self.inner.timezone
    }
    #[getter]
    fn max_bookings_per_identity(&self) -> u32 {
        self.inner.max_bookings_per_identity
    }
    #[getter]
    fn hold_seconds(&self) -> u32 {
        self.inner.hold_seconds
    }
    #[getter]
    fn offer_seconds(&self) -> u32 {
        self.inner.offer_seconds
    }
    #[getter]
    fn handoff_url(&self) -> Option<&str> {
        self.handoff_url.as_deref()
    }
    #[getter]
    fn seed(&self) -> u64 {
        self.inner.seed
    }
    #[getter]
    fn challenge_max_number(&self) -> u32 {
        self.inner.challenge_max_number
    }

    fn __repr__(&self) -> String {
        format!(
            "RoomConfig(id={:?}, admit_per_minute={}, max_active={})",
            self.inner.id, self.inner.admit_per_minute, self.inner.max_active
        )
    }
}
