//! The read-only result objects handed to Python. They keep Rust values and convert on access,
//! so a status poll builds one small object and pays only for the fields it reads.
//!
//! Each has a keyword-only constructor that checks its values, so that a backend which keeps
//! its state elsewhere (Redis) returns these same classes: one declaration of each shape. They
//! compare by value, whichever backend built them.

use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::time::{micros_to_datetime, opt_datetime, opt_to_micros, to_micros};
use crate::errors::CoreError;
use crate::eta::{Estimate, Reason, REASONS};
use crate::inventory::{Booking, GroupAvailability, Hold, SlotInfo, SlotState};
use crate::queue::{Counters, Draw, StatusView, TicketState};
use crate::room::{AuditEntry, FullStatus, Offer, RoomInfo, TickReport};
use crate::room_config::PrequeueMode;

const SLOT_STATES: [SlotState; 5] =
    [SlotState::Free, SlotState::Held, SlotState::Offered, SlotState::Booked, SlotState::Returned];
/// The states `Room::info` reports.
const ROOM_STATES: [&str; 5] = ["prequeue", "open", "paused", "closed", "sold_out"];

/// The variant of `options` named `value`, or a refusal naming the field and the choices.
fn named<T: Copy>(options: &[T], name: impl Fn(T) -> &'static str, value: &str, what: &str) -> PyResult<T> {
    options.iter().copied().find(|&o| name(o) == value).ok_or_else(|| {
        let names: Vec<&str> = options.iter().map(|&o| name(o)).collect();
        CoreError::InvalidArgument(format!("{what} must be one of {names:?}, got {value:?}")).into()
    })
}

fn slot_state_str(state: SlotState) -> &'static str {
    match state {
        SlotState::Free => "free",
        SlotState::Held => "held",
        SlotState::Offered => "offered",
        SlotState::Booked => "booked",
        SlotState::Returned => "returned",
    }
}

#[pyclass(frozen, eq, module = "pyqueue._core", name = "Ticket", get_all)]
#[derive(PartialEq)]
pub struct PyTicket {
    pub id: u32,
    pub token: String,
    pub state: &'static str,
    /// False when the identity or resumed token already had this ticket.
    pub new: bool,
}

#[pymethods]
impl PyTicket {
    #[new]
    #[pyo3(signature = (*, id, token, state, new))]
    fn py_new(id: u32, token: String, state: &str, new: bool) -> PyResult<Self> {
        let state = named(&TicketState::ALL, TicketState::as_str, state, "Ticket.state")?.as_str();
        Ok(Self { id, token, state, new })
    }
    fn __repr__(&self) -> String {
        format!("Ticket(id={}, state={:?}, new={})", self.id, self.state, self.new)
    }
}

/// A wait estimate and what it rests on (`eta::Reason`); `admit_per_second` is the admission
/// speed it assumes.
#[pyclass(frozen, eq, module = "pyqueue._core", name = "Eta")]
#[derive(Clone, PartialEq)]
pub struct PyEta {
    pub inner: Estimate,
}

impl From<Estimate> for PyEta {
    fn from(inner: Estimate) -> Self {
        Self { inner }
    }
}

#[pymethods]
impl PyEta {
    #[new]
    #[pyo3(signature = (*, low, seconds, high, known, reason, admit_per_second))]
    fn py_new(low: f64, seconds: f64, high: f64, known: bool, reason: &str, admit_per_second: f64) -> PyResult<Self> {
        for (name, value) in
            [("low", low), ("seconds", seconds), ("high", high), ("admit_per_second", admit_per_second)]
        {
            if !(value.is_finite() && value >= 0.0) {
                return Err(CoreError::InvalidArgument(format!(
                    "Eta.{name} must be a finite number >= 0, got {value}"
                ))
                .into());
            }
        }
        let reason = named(&REASONS, Reason::as_str, reason, "Eta.reason")?;
        Ok(Self { inner: Estimate { low, seconds, high, known, reason, admit_per_second } })
    }
    #[getter]
    fn low(&self) -> f64 {
        self.inner.low
    }
    #[getter]
    fn seconds(&self) -> f64 {
        self.inner.seconds
    }
    #[getter]
    fn high(&self) -> f64 {
        self.inner.high
    }
    #[getter]
    fn known(&self) -> bool {
        self.inner.known
    }
    /// What the estimate rests on: `rate`, `capacity`, `expiry`, `paused` or `measuring`.
    #[getter]
    fn reason(&self) -> &'static str {
        self.inner.reason.as_str()
    }
    #[getter]
    fn admit_per_second(&self) -> f64 {
        self.inner.admit_per_second
    }
    fn __repr__(&self) -> String {
        let e = &self.inner;
        format!(
            "Eta(low={:.1}, seconds={:.1}, high={:.1}, known={}, reason={:?})",
            e.low,
            e.seconds,
            e.high,
            e.known,
            e.reason.as_str()
        )
    }
}

#[pyclass(frozen, eq, module = "pyqueue._core", name = "Offer")]
#[derive(PartialEq)]
pub struct PyOffer {
    pub slot: String,
    pub until: i64,
}

#[pymethods]
impl PyOffer {
    #[new]
    #[pyo3(signature = (*, slot, until))]
    fn py_new(slot: String, until: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(Self { slot, until: to_micros(until, "Offer.until")? })
    }
    #[getter]
    fn slot(&self) -> &str {
        &self.slot
    }
    #[getter]
    fn until<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        micros_to_datetime(py, self.until)
    }
    /// Seconds left to accept, from the status's point in time.
    #[getter]
    fn until_timestamp(&self) -> f64 {
        self.until as f64 / 1e6
    }
    fn __repr__(&self) -> String {
        format!("Offer(slot={:?})", self.slot)
    }
}

impl From<Offer> for PyOffer {
    fn from(o: Offer) -> Self {
        Self { slot: o.slot, until: o.until }
    }
}

/// A status at one moment, `now`: the pass's seconds left are counted from it, so two statuses
/// differ when their moments do.
#[pyclass(frozen, eq, module = "pyqueue._core", name = "Status")]
#[derive(PartialEq)]
pub struct PyStatus {
    pub inner: FullStatus,
    pub now: i64,
}

#[pymethods]
impl PyStatus {
    #[new]
    #[pyo3(signature = (
        *, ticket, state, at, eta, ahead=None, ahead_at_start=None, opens_in_seconds=0.0,
        pass_token=None, pass_expires_at=None, offer=None, paused=false
    ))]
    #[allow(clippy::too_many_arguments)]
    fn py_new(
        ticket: u32,
        state: &str,
        at: &Bound<'_, PyAny>,
        eta: &PyEta,
        ahead: Option<u64>,
        ahead_at_start: Option<u64>,
        opens_in_seconds: f64,
        pass_token: Option<String>,
        pass_expires_at: Option<&Bound<'_, PyAny>>,
        offer: Option<&PyOffer>,
        paused: bool,
    ) -> PyResult<Self> {
        if !(opens_in_seconds.is_finite() && opens_in_seconds >= 0.0) {
            return Err(CoreError::InvalidArgument(format!(
                "Status.opens_in_seconds must be a finite number of seconds >= 0, got {opens_in_seconds}"
            ))
            .into());
        }
        let view = StatusView {
            ticket,
            state: named(&TicketState::ALL, TicketState::as_str, state, "Status.state")?,
            ahead,
            ahead_at_start,
            eta: eta.inner,
            opens_in_seconds,
            pass_expires_at: opt_to_micros(pass_expires_at, "Status.pass_expires_at")?,
            paused,
        };
        let offer = offer.map(|o| Offer { slot: o.slot.clone(), until: o.until });
        Ok(Self { inner: FullStatus { view, pass_token, offer }, now: to_micros(at, "Status.at")? })
    }
    /// The moment this status describes.
    #[getter]
    fn at<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        micros_to_datetime(py, self.now)
    }
    #[getter]
    fn ticket(&self) -> u32 {
        self.inner.view.ticket
    }
    #[getter]
    fn state(&self) -> &'static str {
        self.inner.view.state.as_str()
    }
    /// Waiting tickets in front; None in the pre-queue (places are drawn at opening) and once
    /// no longer waiting.
    #[getter]
    fn ahead(&self) -> Option<u64> {
        self.inner.view.ahead
    }
    #[getter]
    fn ahead_at_start(&self) -> Option<u64> {
        self.inner.view.ahead_at_start
    }
    #[getter]
    fn eta(&self) -> PyEta {
        self.inner.view.eta.into()
    }
    #[getter]
    fn opens_in_seconds(&self) -> f64 {
        self.inner.view.opens_in_seconds
    }
    #[getter]
    fn pass_token(&self) -> Option<&str> {
        self.inner.pass_token.as_deref()
    }
    #[getter]
    fn pass_expires_at<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        opt_datetime(py, self.inner.view.pass_expires_at)
    }
    /// Seconds the pass is still valid (0 when there is none).
    #[getter]
    fn pass_expires_in_seconds(&self) -> f64 {
        self.inner.view.pass_expires_at.map_or(0.0, |e| ((e - self.now).max(0)) as f64 / 1e6)
    }
    #[getter]
    fn offer(&self) -> Option<PyOffer> {
        self.inner.offer.clone().map(Into::into)
    }
    #[getter]
    fn paused(&self) -> bool {
        self.inner.view.paused
    }
    fn __repr__(&self) -> String {
        format!("Status(ticket={}, state={:?}, ahead={:?})", self.ticket(), self.state(), self.ahead())
    }
}

/// Hold and Booking share their slot fields; PyO3 allows one `#[pymethods]` block per class,
/// so the shared getters and each class's own methods are generated together.
macro_rules! slot_view {
    ($ty:ident, { $($own:tt)* }) => {
        #[pymethods]
        impl $ty {
            #[getter]
            fn slot(&self) -> &str {
                &self.inner.slot
            }
            #[getter]
            fn group(&self) -> &str {
                &self.inner.group
            }
            #[getter]
            fn starts_at<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
                micros_to_datetime(py, self.inner.starts_at)
            }
            #[getter]
            fn ticket(&self) -> u32 {
                self.inner.holder
            }
            $($own)*
        }
    };
}

#[pyclass(frozen, eq, module = "pyqueue._core", name = "Hold")]
#[derive(PartialEq)]
pub struct PyHold {
    pub inner: Hold,
}

slot_view!(PyHold, {
    #[new]
    #[pyo3(signature = (*, slot, group, starts_at, ticket, until))]
    fn py_new(
        slot: String,
        group: String,
        starts_at: &Bound<'_, PyAny>,
        ticket: u32,
        until: &Bound<'_, PyAny>,
    ) -> PyResult<Self> {
        let starts_at = to_micros(starts_at, "Hold.starts_at")?;
        let until = to_micros(until, "Hold.until")?;
        Ok(Self { inner: Hold { slot, group, starts_at, holder: ticket, until } })
    }
    #[getter]
    fn until<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        micros_to_datetime(py, self.inner.until)
    }
    #[getter]
    fn until_timestamp(&self) -> f64 {
        self.inner.until as f64 / 1e6
    }
    fn __repr__(&self) -> String {
        format!("Hold(slot={:?}, ticket={})", self.inner.slot, self.inner.holder)
    }
});

#[pyclass(frozen, eq, module = "pyqueue._core", name = "Booking")]
#[derive(PartialEq)]
pub struct PyBooking {
    pub inner: Booking,
}

slot_view!(PyBooking, {
    #[new]
    #[pyo3(signature = (*, code, slot, group, starts_at, ticket, cancelled_at = None))]
    fn py_new(
        code: String,
        slot: String,
        group: String,
        starts_at: &Bound<'_, PyAny>,
        ticket: u32,
        cancelled_at: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let starts_at = to_micros(starts_at, "Booking.starts_at")?;
        let cancelled_at = cancelled_at.map(|at| to_micros(at, "Booking.cancelled_at")).transpose()?;
        Ok(Self { inner: Booking { code, slot, group, starts_at, holder: ticket, cancelled_at } })
    }
    #[getter]
    fn code(&self) -> &str {
        &self.inner.code
    }
    /// "booked", or "cancelled" once cancelled (at `cancelled_at`).
    #[getter]
    fn state(&self) -> &'static str {
        if self.inner.cancelled_at.is_some() {
            "cancelled"
        } else {
            "booked"
        }
    }
    #[getter]
    fn cancelled_at<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.inner.cancelled_at.map(|at| micros_to_datetime(py, at)).transpose()
    }
    fn __repr__(&self) -> String {
        format!("Booking(code={:?}, slot={:?}, state={:?})", self.inner.code, self.inner.slot, self.state())
    }
});

#[pyclass(frozen, eq, module = "pyqueue._core", name = "SlotInfo")]
pub struct PySlotInfo {
    pub inner: SlotInfo,
}

/// By what Python sees: the holder is not shown, so it does not tell two slots apart.
impl PartialEq for PySlotInfo {
    fn eq(&self, other: &Self) -> bool {
        let (a, b) = (&self.inner, &other.inner);
        (&a.id, &a.group, a.starts_at, a.state, a.until) == (&b.id, &b.group, b.starts_at, b.state, b.until)
    }
}

#[pymethods]
impl PySlotInfo {
    #[new]
    #[pyo3(signature = (*, id, group, starts_at, state, until=None))]
    fn py_new(
        id: String,
        group: String,
        starts_at: &Bound<'_, PyAny>,
        state: &str,
        until: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let inner = SlotInfo {
            id,
            group,
            starts_at: to_micros(starts_at, "SlotInfo.starts_at")?,
            state: named(&SLOT_STATES, slot_state_str, state, "SlotInfo.state")?,
            holder: None,
            until: opt_to_micros(until, "SlotInfo.until")?,
        };
        Ok(Self { inner })
    }
    #[getter]
    fn id(&self) -> &str {
        &self.inner.id
    }
    #[getter]
    fn group(&self) -> &str {
        &self.inner.group
    }
    #[getter]
    fn starts_at<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        micros_to_datetime(py, self.inner.starts_at)
    }
    #[getter]
    fn state(&self) -> &'static str {
        slot_state_str(self.inner.state)
    }
    #[getter]
    fn until<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        opt_datetime(py, self.inner.until)
    }
    fn __repr__(&self) -> String {
        format!("SlotInfo(id={:?}, group={:?}, state={:?})", self.inner.id, self.inner.group, self.state())
    }
}

#[pyclass(frozen, eq, module = "pyqueue._core", name = "GroupAvailability", get_all)]
#[derive(PartialEq)]
pub struct PyGroupAvailability {
    pub group: String,
    pub free: u64,
    pub held: u64,
    pub offered: u64,
    pub booked: u64,
    pub returned: u64,
}

impl From<GroupAvailability> for PyGroupAvailability {
    fn from(g: GroupAvailability) -> Self {
        Self { group: g.group, free: g.free, held: g.held, offered: g.offered, booked: g.booked, returned: g.returned }
    }
}

impl From<&PyGroupAvailability> for GroupAvailability {
    fn from(g: &PyGroupAvailability) -> Self {
        Self {
            group: g.group.clone(),
            free: g.free,
            held: g.held,
            offered: g.offered,
            booked: g.booked,
            returned: g.returned,
        }
    }
}

#[pymethods]
impl PyGroupAvailability {
    #[new]
    #[pyo3(signature = (*, group, free=0, held=0, offered=0, booked=0, returned=0))]
    fn py_new(group: String, free: u64, held: u64, offered: u64, booked: u64, returned: u64) -> Self {
        Self { group, free, held, offered, booked, returned }
    }
    fn __repr__(&self) -> String {
        format!(
            "GroupAvailability(group={:?}, free={}, held={}, booked={})",
            self.group, self.free, self.held, self.booked
        )
    }
}

#[pyclass(frozen, eq, module = "pyqueue._core", name = "AuditEntry")]
#[derive(PartialEq)]
pub struct PyAuditEntry {
    pub inner: AuditEntry,
}

#[pymethods]
impl PyAuditEntry {
    #[new]
    #[pyo3(signature = (*, at, action, actor, count, reason=None))]
    fn py_new(
        at: &Bound<'_, PyAny>,
        action: String,
        actor: String,
        count: u64,
        reason: Option<String>,
    ) -> PyResult<Self> {
        Ok(Self { inner: AuditEntry { at: to_micros(at, "AuditEntry.at")?, action, actor, count, reason } })
    }
    #[getter]
    fn at<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        micros_to_datetime(py, self.inner.at)
    }
    #[getter]
    fn action(&self) -> &str {
        &self.inner.action
    }
    #[getter]
    fn actor(&self) -> &str {
        &self.inner.actor
    }
    #[getter]
    fn count(&self) -> u64 {
        self.inner.count
    }
    #[getter]
    fn reason(&self) -> Option<&str> {
        self.inner.reason.as_deref()
    }
    fn __repr__(&self) -> String {
        format!("AuditEntry(action={:?}, actor={:?}, count={})", self.inner.action, self.inner.actor, self.inner.count)
    }
}

fn counters_dict<'py>(py: Python<'py>, c: &Counters) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("joined", c.joined)?;
    d.set_item("admitted", c.admitted)?;
    d.set_item("abandoned", c.abandoned)?;
    d.set_item("left", c.left)?;
    d.set_item("completed", c.completed)?;
    d.set_item("expired", c.expired)?;
    Ok(d)
}

#[pyclass(frozen, eq, module = "pyqueue._core", name = "RoomInfo")]
#[derive(PartialEq)]
pub struct PyRoomInfo {
    pub inner: RoomInfo,
}

/// The counters from their dict form: every name once, none other.
fn counters_from(counters: &Bound<'_, PyDict>) -> PyResult<Counters> {
    let mut c = Counters::default();
    for (key, value) in counters.iter() {
        let name: String = key.extract()?;
        let value: u64 = value.extract()?;
        let field = match name.as_str() {
            "joined" => &mut c.joined,
            "admitted" => &mut c.admitted,
            "abandoned" => &mut c.abandoned,
            "left" => &mut c.left,
            "completed" => &mut c.completed,
            "expired" => &mut c.expired,
            _ => return Err(CoreError::InvalidArgument(format!("RoomInfo.counters: unknown counter {name:?}")).into()),
        };
        *field = value;
    }
    if counters.len() != 6 {
        return Err(CoreError::InvalidArgument(
            "RoomInfo.counters must name joined, admitted, abandoned, left, completed and expired".into(),
        )
        .into());
    }
    Ok(c)
}

#[pymethods]
impl PyRoomInfo {
    #[new]
    #[pyo3(signature = (
        *, state, opens_in_seconds, waiting, active, admit_per_minute, measured_per_minute, queue_all,
        counters, availability=Vec::new(), next_release_window=None
    ))]
    #[allow(clippy::too_many_arguments)] // one keyword argument per field
    fn py_new(
        state: &str,
        opens_in_seconds: f64,
        waiting: u64,
        active: u32,
        admit_per_minute: f64,
        measured_per_minute: f64,
        queue_all: bool,
        counters: &Bound<'_, PyDict>,
        availability: Vec<PyRef<'_, PyGroupAvailability>>,
        next_release_window: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let inner = RoomInfo {
            state: named(&ROOM_STATES, |s| s, state, "RoomInfo.state")?,
            opens_in_seconds,
            waiting,
            active,
            counters: counters_from(counters)?,
            admit_per_minute,
            measured_per_minute,
            queue_all,
            availability: availability.into_iter().map(|g| GroupAvailability::from(&*g)).collect(),
            next_release_window: opt_to_micros(next_release_window, "RoomInfo.next_release_window")?,
        };
        Ok(Self { inner })
    }
    /// "prequeue", "open", "paused", "closed" or "sold_out".
    #[getter]
    fn state(&self) -> &'static str {
        self.inner.state
    }
    #[getter]
    fn opens_in_seconds(&self) -> f64 {
        self.inner.opens_in_seconds
    }
    #[getter]
    fn waiting(&self) -> u64 {
        self.inner.waiting
    }
    #[getter]
    fn active(&self) -> u32 {
        self.inner.active
    }
    #[getter]
    fn admit_per_minute(&self) -> f64 {
        self.inner.admit_per_minute
    }
    #[getter]
    fn measured_per_minute(&self) -> f64 {
        self.inner.measured_per_minute
    }
    #[getter]
    fn queue_all(&self) -> bool {
        self.inner.queue_all
    }
    #[getter]
    fn counters<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        counters_dict(py, &self.inner.counters)
    }
    #[getter]
    fn availability(&self) -> Vec<PyGroupAvailability> {
        self.inner.availability.iter().cloned().map(Into::into).collect()
    }
    #[getter]
    fn next_release_window<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        opt_datetime(py, self.inner.next_release_window)
    }
    fn __repr__(&self) -> String {
        format!("RoomInfo(state={:?}, waiting={}, active={})", self.inner.state, self.inner.waiting, self.inner.active)
    }
}

/// The state a room's info reports (`room::room_state`), for a backend that keeps the room's
/// counts elsewhere (Redis): both backends name a room's state by the one rule.
#[pyfunction]
#[pyo3(signature = (*, closed, opened, paused, availability))]
#[allow(clippy::needless_pass_by_value)] // PyO3 hands the list over by value
pub fn room_state(
    closed: bool,
    opened: bool,
    paused: bool,
    availability: Vec<PyRef<'_, PyGroupAvailability>>,
) -> &'static str {
    let groups: Vec<GroupAvailability> = availability.iter().map(|g| GroupAvailability::from(&**g)).collect();
    crate::room::room_state(closed, opened, paused, &groups)
}

#[pyclass(frozen, eq, module = "pyqueue._core", name = "TickReport", get_all)]
#[derive(PartialEq)]
pub struct PyTickReport {
    pub admitted: u32,
    pub abandoned: u32,
    pub expired: u32,
    pub released: u64,
    pub holds_expired: u64,
    pub offers_made: u64,
}

impl From<TickReport> for PyTickReport {
    fn from(r: TickReport) -> Self {
        Self {
            admitted: r.queue.admitted,
            abandoned: r.queue.abandoned,
            expired: r.queue.expired,
            released: r.released,
            holds_expired: r.holds_expired,
            offers_made: r.offers_made,
        }
    }
}

#[pymethods]
impl PyTickReport {
    #[new]
    #[pyo3(signature = (*, admitted=0, abandoned=0, expired=0, released=0, holds_expired=0, offers_made=0))]
    fn py_new(
        admitted: u32,
        abandoned: u32,
        expired: u32,
        released: u64,
        holds_expired: u64,
        offers_made: u64,
    ) -> Self {
        Self { admitted, abandoned, expired, released, holds_expired, offers_made }
    }
    fn __repr__(&self) -> String {
        format!("TickReport(admitted={}, abandoned={}, expired={})", self.admitted, self.abandoned, self.expired)
    }
}

/// The recorded pre-queue draw: reproduce it with `draw_order(len(joined), seed)`.
#[pyclass(frozen, eq, module = "pyqueue._core", name = "Draw")]
#[derive(PartialEq)]
pub struct PyDraw {
    pub inner: Draw,
    pub order: Vec<u32>,
}

#[pymethods]
impl PyDraw {
    #[new]
    #[pyo3(signature = (*, seed, at, mode, joined, order))]
    fn py_new(seed: u64, at: &Bound<'_, PyAny>, mode: &str, joined: Vec<u32>, order: Vec<u32>) -> PyResult<Self> {
        let mode = named(&[PrequeueMode::Shuffle, PrequeueMode::Fifo], PrequeueMode::as_str, mode, "Draw.mode")?;
        Ok(Self { inner: Draw { seed, at: to_micros(at, "Draw.at")?, joined, mode }, order })
    }
    #[getter]
    fn seed(&self) -> u64 {
        self.inner.seed
    }
    #[getter]
    fn at<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        micros_to_datetime(py, self.inner.at)
    }
    #[getter]
    fn mode(&self) -> &'static str {
        self.inner.mode.as_str()
    }
    /// Ticket ids of the pre-queue in join order.
    #[getter]
    fn joined(&self) -> Vec<u32> {
        self.inner.joined.clone()
    }
    /// Ticket ids in the drawn queue order.
    #[getter]
    fn order(&self) -> Vec<u32> {
        self.order.clone()
    }
    fn __repr__(&self) -> String {
        format!("Draw(seed={}, size={}, mode={:?})", self.inner.seed, self.inner.joined.len(), self.mode())
    }
}
