//! `RoomConfig`: validated when built, so a bad config is refused before any room exists.

use pyo3::prelude::*;

use super::time::{micros_to_datetime, opt_datetime, opt_to_micros, to_micros};
use crate::errors::CoreError;
use crate::room_config::{IdentityMode, PrequeueMode, ReturnedSlots, RoomConfig};
use crate::schedule::ReleaseSchedule;

#[pyclass(frozen, module = "pyqueue._core", name = "RoomConfig")]
pub struct PyRoomConfig {
    pub inner: RoomConfig,
    pub handoff_url: Option<String>,
}

#[pymethods]
impl PyRoomConfig {
    #[new]
    #[pyo3(signature = (
        id, opens_at, *, admit_per_minute=600.0, max_active=500, session_seconds=900,
        heartbeat_timeout_seconds=120, closes_at=None, prequeue_opens_at=None,
        prequeue="shuffle", identity="optional", returned_slots="windows",
        release_windows=Vec::new(), timezone="UTC", max_bookings_per_identity=1,
        hold_seconds=300, offer_seconds=600, handoff_url=None, seed=None,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        id: String,
        opens_at: &Bound<'_, PyAny>,
        admit_per_minute: f64,
        max_active: u32,
        session_seconds: u32,
        heartbeat_timeout_seconds: u32,
        closes_at: Option<&Bound<'_, PyAny>>,
        prequeue_opens_at: Option<&Bound<'_, PyAny>>,
        prequeue: &str,
        identity: &str,
        returned_slots: &str,
        release_windows: Vec<String>,
        timezone: &str,
        max_bookings_per_identity: u32,
        hold_seconds: u32,
        offer_seconds: u32,
        handoff_url: Option<String>,
        seed: Option<u64>,
    ) -> PyResult<Self> {
        let seed = match seed {
            Some(seed) => seed,
            None => getrandom::u64()
                .map_err(|e| CoreError::InvalidConfig(format!("no randomness for the draw seed: {e}")))?,
        };
        let inner = RoomConfig {
            id,
            opens_at: to_micros(opens_at, "opens_at")?,
            closes_at: opt_to_micros(closes_at, "closes_at")?,
            prequeue_opens_at: opt_to_micros(prequeue_opens_at, "prequeue_opens_at")?,
            admit_per_minute,
            max_active,
            session_seconds,
            heartbeat_timeout_seconds,
            prequeue: PrequeueMode::parse(prequeue)?,
            identity: IdentityMode::parse(identity)?,
            returned_slots: ReturnedSlots::parse(returned_slots)?,
            release_windows,
            timezone: timezone.to_owned(),
            max_bookings_per_identity,
            hold_seconds,
            offer_seconds,
            seed,
        };
        inner.validate()?;
        ReleaseSchedule::parse(&inner.release_windows, &inner.timezone)?;
        if let Some(url) = &handoff_url {
            if !(url.starts_with("https://") || url.starts_with("http://") || url.starts_with('/')) {
                return Err(
                    CoreError::InvalidConfig(format!("handoff_url {url:?} must be an http(s) URL or a path")).into()
                );
            }
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

    fn __repr__(&self) -> String {
        format!(
            "RoomConfig(id={:?}, admit_per_minute={}, max_active={})",
            self.inner.id, self.inner.admit_per_minute, self.inner.max_active
        )
    }
}
