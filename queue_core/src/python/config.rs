//! `RoomConfig`: validated when built, so a bad config is refused before any room exists.

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt};

use super::time::{micros_to_datetime, opt_datetime, opt_to_micros, read_micros, to_micros};
use crate::errors::CoreError;
use crate::limits::{self, IntRange, RateRange};
use crate::room_config::{
    refuse_any, IdentityMode, PrequeueMode, ReturnedSlots, RoomConfig, DEFAULT_RETAIN_PERSONAL_DATA_HOURS,
};
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

/// The settings as the caller gave them, before any rule. `None` of a setting with a default:
/// not given, so not checked (`RoomConfig.mistakes` of some settings; the constructor gives
/// every one). `None` of `closes_at`, `prequeue_opens_at`, `handoff_url` and `seed` means
/// none (a seed drawn).
struct Settings<'py> {
    id: String,
    opens_at: Option<Bound<'py, PyAny>>,
    closes_at: Option<Bound<'py, PyAny>>,
    prequeue_opens_at: Option<Bound<'py, PyAny>>,
    admit_per_minute: Option<Given>,
    max_active: Option<Given>,
    session_seconds: Option<Given>,
    heartbeat_timeout_seconds: Option<Given>,
    prequeue: Option<String>,
    identity: Option<String>,
    returned_slots: Option<String>,
    release_windows: Option<Vec<String>>,
    timezone: Option<String>,
    max_bookings_per_identity: Option<Given>,
    hold_seconds: Option<Given>,
    offer_seconds: Option<Given>,
    handoff_url: Option<String>,
    seed: Option<Given>,
    challenge_max_number: Option<Given>,
    retain_personal_data_hours: Option<Given>,
    /// Mistakes of reading the settings themselves (an unknown name, a mode that is no text).
    misread: Vec<String>,
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

/// A time as given, read: `None` for none, `Some(Err)` for a value that is not an aware time.
fn given_time(value: Option<&Bound<'_, PyAny>>, what: &str) -> PyResult<Option<Result<i64, String>>> {
    value.filter(|v| !v.is_none()).map(|v| read_micros(v, what)).transpose()
}

/// What reading the settings found: every mistake, and the settings that could not be read.
#[derive(Default)]
struct Reading {
    /// Each mistake, and whether it is of an argument (a time that is not a time, which has
    /// always been `InvalidArgument`) rather than of a setting's rule.
    mistakes: Vec<(String, bool)>,
    /// Settings not given or not readable: the rules that read them are left out
    /// (`RoomConfig::mistakes_except`), their own mistake being noted already.
    unread: Vec<&'static str>,
}

impl Reading {
    /// `given` as `read` makes it; on a mistake, the mistake is noted and `placeholder` stands
    /// in for the setting, which is then unread.
    fn read<G, T>(
        &mut self,
        name: &'static str,
        given: Option<G>,
        placeholder: T,
        read: impl FnOnce(G) -> Result<T, CoreError>,
    ) -> T {
        let Some(given) = given else {
            self.unread.push(name);
            return placeholder;
        };
        read(given).unwrap_or_else(|error| {
            self.unread.push(name);
            self.note_error(error);
            placeholder
        })
    }

    fn note_error(&mut self, error: CoreError) {
        self.mistakes.push(match error {
            CoreError::InvalidArgument(m) => (m, true),
            CoreError::InvalidConfig(m) => (m, false),
            other => (other.to_string(), false),
        });
    }

    fn note(&mut self, mistakes: impl IntoIterator<Item = String>) {
        self.mistakes.extend(mistakes.into_iter().map(|m| (m, false)));
    }

    fn messages(self) -> Vec<String> {
        self.mistakes.into_iter().map(|(m, _)| m).collect()
    }

    /// Every mistake in one exception: `InvalidArgument` when each is of an argument, as for a
    /// lone time that is not one, else `InvalidConfig` (see `refuse_any`).
    fn refusal(self) -> Result<(), CoreError> {
        if !self.mistakes.is_empty() && self.mistakes.iter().all(|(_, of_argument)| *of_argument) {
            return Err(CoreError::InvalidArgument(self.messages().join("; ")));
        }
        refuse_any(self.messages())
    }
}

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
            opens_at: Some(take(saved, "opens_at")?),
            closes_at: optional_time("closes_at")?,
            prequeue_opens_at: optional_time("prequeue_opens_at")?,
            admit_per_minute: Some(take(saved, "admit_per_minute")?),
            max_active: Some(take(saved, "max_active")?),
            session_seconds: Some(take(saved, "session_seconds")?),
            heartbeat_timeout_seconds: Some(take(saved, "heartbeat_timeout_seconds")?),
            prequeue: Some(take(saved, "prequeue")?),
            identity: Some(take(saved, "identity")?),
            returned_slots: Some(take(saved, "returned_slots")?),
            release_windows: Some(take(saved, "release_windows")?),
            timezone: Some(take(saved, "timezone")?),
            max_bookings_per_identity: Some(take(saved, "max_bookings_per_identity")?),
            hold_seconds: Some(take(saved, "hold_seconds")?),
            offer_seconds: Some(take(saved, "offer_seconds")?),
            handoff_url: take(saved, "handoff_url")?,
            seed: Some(take(saved, "seed")?),
            // Saved before rooms could ask for a proof of work: none.
            challenge_max_number: Some(match saved.get_item("challenge_max_number")? {
                Some(_) => take(saved, "challenge_max_number")?,
                None => Given::Int(0),
            }),
            // Saved before rooms had a retention: the default.
            retain_personal_data_hours: Some(match saved.get_item("retain_personal_data_hours")? {
                Some(_) => take(saved, "retain_personal_data_hours")?,
                None => Given::Int(i128::from(DEFAULT_RETAIN_PERSONAL_DATA_HOURS)),
            }),
            misread: Vec::new(),
        })
    }

    /// Reads some settings of a room by name, for `RoomConfig.mistakes`: a setting not given
    /// (or given as `None`) is not checked; an unknown name or a value of the wrong kind is a
    /// mistake, not an exception.
    fn given(id: String, given: &Bound<'py, PyDict>) -> PyResult<Self> {
        let mut misread = Vec::new();
        for key in given.keys() {
            let key = key.str()?.to_string();
            if key == "id" || !SETTING_NAMES.contains(&key.as_str()) {
                misread.push(format!("unknown setting {}", limits::shown(&key)));
            }
        }
        fn take<'py, T>(
            given: &Bound<'py, PyDict>,
            name: &str,
            kind: &str,
            misread: &mut Vec<String>,
        ) -> PyResult<Option<T>>
        where
            T: for<'a> FromPyObject<'a, 'py>,
        {
            let Some(value) = given.get_item(name)?.filter(|v| !v.is_none()) else {
                return Ok(None);
            };
            let read = value.extract::<T>().ok();
            if read.is_none() {
                misread.push(format!("{name} must be {kind}"));
            }
            Ok(read)
        }
        let m = &mut misread;
        let mut settings = Self {
            id,
            opens_at: take(given, "opens_at", "a time", m)?,
            closes_at: take(given, "closes_at", "a time", m)?,
            prequeue_opens_at: take(given, "prequeue_opens_at", "a time", m)?,
            admit_per_minute: take(given, "admit_per_minute", "a number", m)?,
            max_active: take(given, "max_active", "a whole number", m)?,
            session_seconds: take(given, "session_seconds", "a whole number", m)?,
            heartbeat_timeout_seconds: take(given, "heartbeat_timeout_seconds", "a whole number", m)?,
            prequeue: take(given, "prequeue", "a string", m)?,
            identity: take(given, "identity", "a string", m)?,
            returned_slots: take(given, "returned_slots", "a string", m)?,
            release_windows: take(given, "release_windows", "a list of strings", m)?,
            timezone: take(given, "timezone", "a string", m)?,
            max_bookings_per_identity: take(given, "max_bookings_per_identity", "a whole number", m)?,
            hold_seconds: take(given, "hold_seconds", "a whole number", m)?,
            offer_seconds: take(given, "offer_seconds", "a whole number", m)?,
            handoff_url: take(given, "handoff_url", "a string", m)?,
            seed: take(given, "seed", "a whole number", m)?,
            challenge_max_number: take(given, "challenge_max_number", "a whole number", m)?,
            retain_personal_data_hours: take(given, "retain_personal_data_hours", "a whole number", m)?,
            misread: Vec::new(),
        };
        settings.misread = misread;
        Ok(settings)
    }

    fn build(self, origin: Origin) -> PyResult<PyRoomConfig> {
        let (config, reading) = self.read(origin)?;
        reading.refusal()?;
        Ok(config)
    }

    /// Reads every setting under `origin`'s rules, noting each mistake rather than stopping at
    /// the first; the config holds placeholders where there are mistakes.
    fn read(self, origin: Origin) -> PyResult<(PyRoomConfig, Reading)> {
        let mut reading = Reading::default();
        reading.note(self.misread);
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
        let time = |given: Result<i64, String>| given.map_err(CoreError::InvalidArgument);
        let optional_time = |given: Option<Result<i64, String>>| given.transpose().map_err(CoreError::InvalidArgument);
        let r = &mut reading;
        let seed = match self.seed {
            Some(seed) => r.read("seed", Some(seed), 0, |g| g.whole(&limits::SEED)),
            None => getrandom::u64()
                .map_err(|e| CoreError::InvalidConfig(format!("no randomness for the draw seed: {e}")))?,
        };
        let inner = RoomConfig {
            id: self.id,
            opens_at: r.read("opens_at", given_time(self.opens_at.as_ref(), "opens_at")?, 0, time),
            closes_at: r.read(
                "closes_at",
                Some(given_time(self.closes_at.as_ref(), "closes_at")?),
                None,
                optional_time,
            ),
            prequeue_opens_at: r.read(
                "prequeue_opens_at",
                Some(given_time(self.prequeue_opens_at.as_ref(), "prequeue_opens_at")?),
                None,
                optional_time,
            ),
            admit_per_minute: r.read("admit_per_minute", self.admit_per_minute, 0.0, |g| g.rate(&rate)),
            max_active: r.read("max_active", self.max_active, 0, |g| whole(g, &limits::MAX_ACTIVE)),
            session_seconds: r.read("session_seconds", self.session_seconds, 0, |g| whole(g, &limits::SESSION_SECONDS)),
            heartbeat_timeout_seconds: r.read("heartbeat_timeout_seconds", self.heartbeat_timeout_seconds, 0, |g| {
                whole(g, &limits::HEARTBEAT_TIMEOUT_SECONDS)
            }),
            prequeue: r.read("prequeue", self.prequeue, PrequeueMode::Shuffle, |s| PrequeueMode::parse(&s)),
            identity: r.read("identity", self.identity, IdentityMode::Optional, |s| IdentityMode::parse(&s)),
            returned_slots: r
                .read("returned_slots", self.returned_slots, ReturnedSlots::Windows, |s| ReturnedSlots::parse(&s)),
            release_windows: r.read("release_windows", self.release_windows, Vec::new(), Ok),
            timezone: r.read("timezone", self.timezone, String::new(), Ok),
            max_bookings_per_identity: r.read("max_bookings_per_identity", self.max_bookings_per_identity, 0, |g| {
                whole(g, &limits::MAX_BOOKINGS_PER_IDENTITY)
            }),
            hold_seconds: r.read("hold_seconds", self.hold_seconds, 0, |g| whole(g, &limits::HOLD_SECONDS)),
            offer_seconds: r.read("offer_seconds", self.offer_seconds, 0, |g| whole(g, &limits::OFFER_SECONDS)),
            seed,
            challenge_max_number: r.read("challenge_max_number", self.challenge_max_number, 0, |given| {
                match (origin, given) {
                    // Its range has a hole (0, or from the floor), which its own check names.
                    (Origin::Input, Given::Int(value)) => {
                        limits::check_challenge_max_number(value).map_err(CoreError::InvalidConfig)?;
                        Ok(u32::try_from(value).expect("check_challenge_max_number caps it far below u32::MAX"))
                    }
                    (_, given) => whole(given, &limits::CHALLENGE_MAX_NUMBER),
                }
            }),
            retain_personal_data_hours: r.read("retain_personal_data_hours", self.retain_personal_data_hours, 0, |g| {
                whole(g, &limits::RETAIN_PERSONAL_DATA_HOURS)
            }),
        };
        match origin {
            Origin::Input => {
                reading.note(inner.mistakes_except(&reading.unread));
                if let Some(url) = &self.handoff_url {
                    reading.note(limits::check_handoff_url(url).err());
                }
            }
            // A saved config is read whole or refused; only then are its rules worth judging.
            Origin::Saved if reading.mistakes.is_empty() => {
                let sound = inner.check_sound();
                if let Err(error) = sound.and_then(|()| ReleaseSchedule::parse(&inner.release_windows, &inner.timezone))
                {
                    reading.note_error(error);
                }
            }
            Origin::Saved => {}
        }
        Ok((PyRoomConfig { inner, handoff_url: self.handoff_url }, reading))
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
            opens_at: Some(opens_at.clone()),
            closes_at: closes_at.cloned(),
            prequeue_opens_at: prequeue_opens_at.cloned(),
            admit_per_minute: Some(admit_per_minute),
            max_active: Some(max_active),
            session_seconds: Some(session_seconds),
            heartbeat_timeout_seconds: Some(heartbeat_timeout_seconds),
            prequeue: Some(prequeue.to_owned()),
            identity: Some(identity.to_owned()),
            returned_slots: Some(returned_slots.to_owned()),
            release_windows: Some(release_windows),
            timezone: Some(timezone.to_owned()),
            max_bookings_per_identity: Some(max_bookings_per_identity),
            hold_seconds: Some(hold_seconds),
            offer_seconds: Some(offer_seconds),
            handoff_url,
            seed,
            challenge_max_number: Some(challenge_max_number),
            retain_personal_data_hours: Some(retain_personal_data_hours),
            misread: Vec::new(),
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

    /// Every mistake of some settings of room `id` (a dict by name, values as the constructor
    /// takes them), a message each naming its setting, none raised: the core's rules for a
    /// caller that reports its own mistakes together with them (a config file, the admin API).
    /// A setting not given, or given as `None`, is not checked. Empty exactly when the
    /// constructor accepts these settings (given `opens_at`).
    #[staticmethod]
    fn mistakes(id: String, settings: &Bound<'_, PyDict>) -> PyResult<Vec<String>> {
        let (_, reading) = Settings::given(id, settings)?.read(Origin::Input)?;
        Ok(reading.messages())
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
