//! `RoomConfig`: validated when built, so a bad config is refused before any room exists.

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt};

use super::time::{micros_to_datetime, opt_datetime, opt_to_micros, to_micros};
use crate::errors::CoreError;
use crate::limits::{self, IntRange, RateRange};
use crate::room_config::{IdentityMode, PrequeueMode, ReturnedSlots, RoomConfig, DEFAULT_RETAIN_PERSONAL_DATA_HOURS};
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

/// Which rules a config is built under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// Input (the constructor): every setting within today's documented range.
    Input,
    /// Settings saved earlier (`RoomConfig.saved`): only what the core relies on, so that a
    /// room saved before a range was narrowed keeps running; `outside_ranges` lists the rest.
    Saved,
}

/// The settings as the caller gave them, before any rule.
struct Settings<'py> {
    id: String,
    opens_at: Bound<'py, PyAny>,
    closes_at: Option<Bound<'py, PyAny>>,
    prequeue_opens_at: Option<Bound<'py, PyAny>>,
    admit_per_minute: Given,
    max_active: Given,
    session_seconds: Given,
    heartbeat_timeout_seconds: Given,
    prequeue: String,
    identity: String,
    returned_slots: String,
    release_windows: Vec<String>,
    timezone: String,
    max_bookings_per_identity: Given,
    hold_seconds: Given,
    offer_seconds: Given,
    handoff_url: Option<String>,
    seed: Option<Given>,
    challenge_max_number: Given,
    retain_personal_data_hours: Given,
}

/// Every setting of a room by name, as `RoomConfig.saved` takes them.
const SETTING_NAMES: [&str; 20] = [
    "id",
    "opens_at",
    "closes_at",
    "prequeue_opens_at",
    "admit_per_minute",
    "max_active",
    "session_seconds",
    "heartbeat_timeout_seconds",
    "prequeue",
    "identity",
    "returned_slots",
    "release_windows",
    "timezone",
    "max_bookings_per_identity",
    "hold_seconds",
    "offer_seconds",
    "handoff_url",
    "seed",
    "challenge_max_number",
    "retain_personal_data_hours",
];

impl<'py> Settings<'py> {
    /// Reads saved settings: every setting present, none unknown.
    fn from_saved(saved: &Bound<'py, PyDict>) -> PyResult<Self> {
        for key in saved.keys() {
            let key = key.str()?.to_string();
            if !SETTING_NAMES.contains(&key.as_str()) {
                return Err(
                    CoreError::InvalidConfig(format!("the saved settings have an unknown setting {key:?}")).into()
                );
            }
        }
        fn take<'py, T>(saved: &Bound<'py, PyDict>, name: &str) -> PyResult<T>
        where
            T: for<'a> FromPyObject<'a, 'py>,
            for<'a> <T as FromPyObject<'a, 'py>>::Error: Into<PyErr>,
        {
            let Some(value) = saved.get_item(name)? else {
                return Err(CoreError::InvalidConfig(format!("the saved settings lack {name}")).into());
            };
            value.extract::<T>().map_err(|e| {
                let e: PyErr = e.into();
                CoreError::InvalidConfig(format!("the saved setting {name}: {e}")).into()
            })
        }
        let optional_time = |name: &str| -> PyResult<Option<Bound<'py, PyAny>>> {
            let value: Bound<'py, PyAny> = take(saved, name)?;
            Ok((!value.is_none()).then_some(value))
        };
        Ok(Self {
            id: take(saved, "id")?,
            opens_at: take(saved, "opens_at")?,
            closes_at: optional_time("closes_at")?,
            prequeue_opens_at: optional_time("prequeue_opens_at")?,
            admit_per_minute: take(saved, "admit_per_minute")?,
            max_active: take(saved, "max_active")?,
            session_seconds: take(saved, "session_seconds")?,
            heartbeat_timeout_seconds: take(saved, "heartbeat_timeout_seconds")?,
            prequeue: take(saved, "prequeue")?,
            identity: take(saved, "identity")?,
            returned_slots: take(saved, "returned_slots")?,
            release_windows: take(saved, "release_windows")?,
            timezone: take(saved, "timezone")?,
            max_bookings_per_identity: take(saved, "max_bookings_per_identity")?,
            hold_seconds: take(saved, "hold_seconds")?,
            offer_seconds: take(saved, "offer_seconds")?,
            handoff_url: take(saved, "handoff_url")?,
            seed: Some(take(saved, "seed")?),
            // Saved before rooms could ask for a proof of work: none.
            challenge_max_number: match saved.get_item("challenge_max_number")? {
                Some(_) => take(saved, "challenge_max_number")?,
                None => Given::Int(0),
            },
            // Saved before rooms had a retention: the default.
            retain_personal_data_hours: match saved.get_item("retain_personal_data_hours")? {
                Some(_) => take(saved, "retain_personal_data_hours")?,
                None => Given::Int(i128::from(DEFAULT_RETAIN_PERSONAL_DATA_HOURS)),
            },
        })
    }

    fn build(self, origin: Origin) -> PyResult<PyRoomConfig> {
        // A saved value needs only to fit its field; `check_sound` judges it after.
        let whole = |given: Given, range: &IntRange| -> Result<u32, CoreError> {
            match origin {
                Origin::Input => given.whole(range),
                Origin::Saved => given.whole(&IntRange { min: 0, max: u64::from(u32::MAX), ..*range }),
            }
        };
        let rate = match origin {
            Origin::Input => limits::ADMIT_PER_MINUTE,
            Origin::Saved => RateRange { max: f64::MAX, ..limits::ADMIT_PER_MINUTE },
        };
        let seed = match self.seed {
            Some(seed) => seed.whole(&limits::SEED)?,
            None => getrandom::u64()
                .map_err(|e| CoreError::InvalidConfig(format!("no randomness for the draw seed: {e}")))?,
        };
        let inner = RoomConfig {
            id: self.id,
            opens_at: to_micros(&self.opens_at, "opens_at")?,
            closes_at: opt_to_micros(self.closes_at.as_ref(), "closes_at")?,
            prequeue_opens_at: opt_to_micros(self.prequeue_opens_at.as_ref(), "prequeue_opens_at")?,
            admit_per_minute: self.admit_per_minute.rate(&rate)?,
            max_active: whole(self.max_active, &limits::MAX_ACTIVE)?,
            session_seconds: whole(self.session_seconds, &limits::SESSION_SECONDS)?,
            heartbeat_timeout_seconds: whole(self.heartbeat_timeout_seconds, &limits::HEARTBEAT_TIMEOUT_SECONDS)?,
            prequeue: PrequeueMode::parse(&self.prequeue)?,
            identity: IdentityMode::parse(&self.identity)?,
            returned_slots: ReturnedSlots::parse(&self.returned_slots)?,
            release_windows: self.release_windows,
            timezone: self.timezone,
            max_bookings_per_identity: whole(self.max_bookings_per_identity, &limits::MAX_BOOKINGS_PER_IDENTITY)?,
            hold_seconds: whole(self.hold_seconds, &limits::HOLD_SECONDS)?,
            offer_seconds: whole(self.offer_seconds, &limits::OFFER_SECONDS)?,
            seed,
            challenge_max_number: match (origin, self.challenge_max_number) {
                // Its range has a hole (0, or from the floor), which its own check names.
                (Origin::Input, Given::Int(value)) => {
                    limits::check_challenge_max_number(value).map_err(CoreError::InvalidConfig)?;
                    u32::try_from(value).expect("check_challenge_max_number caps it far below u32::MAX")
                }
                (_, given) => whole(given, &limits::CHALLENGE_MAX_NUMBER)?,
            },
            retain_personal_data_hours: whole(self.retain_personal_data_hours, &limits::RETAIN_PERSONAL_DATA_HOURS)?,
        };
        match origin {
            Origin::Input => inner.validate()?,
            Origin::Saved => inner.check_sound()?,
        }
        ReleaseSchedule::parse(&inner.release_windows, &inner.timezone)?;
        if let (Origin::Input, Some(url)) = (origin, &self.handoff_url) {
            limits::check_handoff_url(url).map_err(CoreError::InvalidConfig)?;
        }
        Ok(PyRoomConfig { inner, handoff_url: self.handoff_url })
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
        retain_personal_data_hours=Given::Int(i128::from(DEFAULT_RETAIN_PERSONAL_DATA_HOURS)),
    ))]
    // The defaults as Python shows them (PyO3 shows `...` for a default that is not a literal).
    #[pyo3(text_signature = "(id, opens_at, *, admit_per_minute=600.0, max_active=500, \
        session_seconds=900, heartbeat_timeout_seconds=120, closes_at=None, prequeue_opens_at=None, \
        prequeue='shuffle', identity='optional', returned_slots='windows', release_windows=..., \
        timezone='UTC', max_bookings_per_identity=1, hold_seconds=300, offer_seconds=600, \
        handoff_url=None, seed=None, challenge_max_number=0, retain_personal_data_hours=168)")]
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
        retain_personal_data_hours: Given,
    ) -> PyResult<Self> {
        Settings {
            id,
            opens_at: opens_at.clone(),
            closes_at: closes_at.cloned(),
            prequeue_opens_at: prequeue_opens_at.cloned(),
            admit_per_minute,
            max_active,
            session_seconds,
            heartbeat_timeout_seconds,
            prequeue: prequeue.to_owned(),
            identity: identity.to_owned(),
            returned_slots: returned_slots.to_owned(),
            release_windows,
            timezone: timezone.to_owned(),
            max_bookings_per_identity,
            hold_seconds,
            offer_seconds,
            handoff_url,
            seed,
            challenge_max_number,
            retain_personal_data_hours,
        }
        .build(Origin::Input)
    }

    /// A config from settings saved earlier (a dict of every setting, times as RFC 3339
    /// strings), held to what the core relies on rather than today's ranges: a room saved
    /// before a range was narrowed keeps its settings. `outside_ranges` says which are out.
    #[staticmethod]
    fn saved(settings: &Bound<'_, PyDict>) -> PyResult<Self> {
        Settings::from_saved(settings)?.build(Origin::Saved)
    }

    /// Every setting by name, times as RFC 3339 strings: what `saved` reads back. The one list
    /// of the settings a store keeps, so that no store lists them again.
    fn saved_settings<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyDict>> {
        let settings = PyDict::new(slf.py());
        for name in SETTING_NAMES {
            let value = slf.getattr(name)?;
            let value =
                if name.ends_with("_at") && !value.is_none() { value.call_method0("isoformat")? } else { value };
            settings.set_item(name, value)?;
        }
        Ok(settings)
    }

    /// Refuses (`InvalidConfig`) a change a running room may not take, for a backend that
    /// keeps the room elsewhere (Redis): the core's one rule (`RoomConfig::check_change`).
    #[pyo3(signature = (new, *, opened, closed, now))]
    fn check_change(&self, new: &Self, opened: bool, closed: bool, now: &Bound<'_, PyAny>) -> PyResult<()> {
        let now = to_micros(now, "now")?;
        Ok(self.inner.check_change(&new.inner, opened, closed, now)?)
    }

    /// A message for each setting outside today's documented range (empty for any config the
    /// constructor accepts): what a room saved by an earlier version may hold.
    fn outside_ranges(&self) -> Vec<String> {
        let mut refused = self.inner.outside_ranges();
        if let Some(url) = &self.handoff_url {
            refused.extend(limits::check_handoff_url(url).err());
        }
        refused
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
    #[getter]
    fn retain_personal_data_hours(&self) -> u32 {
        self.inner.retain_personal_data_hours
    }

    /// When the room's personal data is to be deleted (see the core's rule), given the start of
    /// its last slot; `None` for a room without `closes_at`, which never closes by itself.
    #[pyo3(signature = (last_slot_start=None))]
    fn personal_data_due_at<'py>(
        &self,
        py: Python<'py>,
        last_slot_start: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let last = opt_to_micros(last_slot_start, "last_slot_start")?;
        opt_datetime(py, self.inner.personal_data_due_at(last))
    }

    fn __repr__(&self) -> String {
        format!(
            "RoomConfig(id={:?}, admit_per_minute={}, max_active={})",
            self.inner.id, self.inner.admit_per_minute, self.inner.max_active
        )
    }
}
