//! The read-only result objects handed to Python. They keep Rust values and convert on access,
//! so a status poll builds one small object and pays only for the fields it reads.

use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::time::{micros_to_datetime, opt_datetime};
use crate::eta::Estimate;
use crate::inventory::{Booking, GroupAvailability, Hold, SlotInfo, SlotState};
use crate::queue::{Counters, Draw};
use crate::room::{AuditEntry, FullStatus, Offer, RoomInfo, TickReport};

fn slot_state_str(state: SlotState) -> &'static str {
    match state {
        SlotState::Free => "free",
        SlotState::Held => "held",
        SlotState::Offered => "offered",
        SlotState::Booked => "booked",
        SlotState::Returned => "returned",
    }
}

#[pyclass(frozen, module = "pyqueue._core", name = "Ticket", get_all)]
pub struct PyTicket {
    pub id: u32,
    pub token: String,
    pub state: &'static str,
    /// False when the identity or resumed token already had this ticket.
    pub new: bool,
}

#[pymethods]
impl PyTicket {
    fn __repr__(&self) -> String {
        format!("Ticket(id={}, state={:?}, new={})", self.id, self.state, self.new)
    }
}

#[pyclass(frozen, module = "pyqueue._core", name = "Eta", get_all)]
#[derive(Clone)]
pub struct PyEta {
    pub low: f64,
    pub seconds: f64,
    pub high: f64,
    pub known: bool,
}

impl From<Estimate> for PyEta {
    fn from(e: Estimate) -> Self {
        Self { low: e.low, seconds: e.seconds, high: e.high, known: e.known }
    }
}

#[pymethods]
impl PyEta {
    fn __repr__(&self) -> String {
        format!("Eta(low={:.1}, seconds={:.1}, high={:.1}, known={})", self.low, self.seconds, self.high, self.known)
    }
}

#[pyclass(frozen, module = "pyqueue._core", name = "Offer")]
pub struct PyOffer {
    pub slot: String,
    pub until: i64,
}

#[pymethods]
impl PyOffer {
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

#[pyclass(frozen, module = "pyqueue._core", name = "Status")]
pub struct PyStatus {
    pub inner: FullStatus,
    pub now: i64,
}

#[pymethods]
impl PyStatus {
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

#[pyclass(frozen, module = "pyqueue._core", name = "Hold")]
pub struct PyHold {
    pub inner: Hold,
}

slot_view!(PyHold, {
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

#[pyclass(frozen, module = "pyqueue._core", name = "Booking")]
pub struct PyBooking {
    pub inner: Booking,
}

slot_view!(PyBooking, {
    #[getter]
    fn code(&self) -> &str {
        &self.inner.code
    }
    fn __repr__(&self) -> String {
        format!("Booking(code={:?}, slot={:?})", self.inner.code, self.inner.slot)
    }
});

#[pyclass(frozen, module = "pyqueue._core", name = "SlotInfo")]
pub struct PySlotInfo {
    pub inner: SlotInfo,
}

#[pymethods]
impl PySlotInfo {
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

#[pyclass(frozen, module = "pyqueue._core", name = "GroupAvailability", get_all)]
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

#[pymethods]
impl PyGroupAvailability {
    fn __repr__(&self) -> String {
        format!(
            "GroupAvailability(group={:?}, free={}, held={}, booked={})",
            self.group, self.free, self.held, self.booked
        )
    }
}

#[pyclass(frozen, module = "pyqueue._core", name = "AuditEntry")]
pub struct PyAuditEntry {
    pub inner: AuditEntry,
}

#[pymethods]
impl PyAuditEntry {
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

#[pyclass(frozen, module = "pyqueue._core", name = "RoomInfo")]
pub struct PyRoomInfo {
    pub inner: RoomInfo,
}

#[pymethods]
impl PyRoomInfo {
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

#[pyclass(frozen, module = "pyqueue._core", name = "TickReport", get_all)]
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
    fn __repr__(&self) -> String {
        format!("TickReport(admitted={}, abandoned={}, expired={})", self.admitted, self.abandoned, self.expired)
    }
}

/// The recorded pre-queue draw: reproduce it with `draw_order(len(joined), seed)`.
#[pyclass(frozen, module = "pyqueue._core", name = "Draw")]
pub struct PyDraw {
    pub inner: Draw,
    pub order: Vec<u32>,
}

#[pymethods]
impl PyDraw {
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
