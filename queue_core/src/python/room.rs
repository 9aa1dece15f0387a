//! `Room`: the Python face of `crate::room::Room`. Contended and bulk calls release the GIL.

use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyTuple};

use super::clock::PyVirtualClock;
use super::config::PyRoomConfig;
use super::journal::PyRestoreReport;
use super::signer::{parse_kind, pass_info, PyPassInfo, PySigner};
use super::time::{opt_datetime, to_micros};
use super::views::{
    PyAuditEntry, PyBooking, PyDraw, PyGroupAvailability, PyHold, PyRoomInfo, PySlotInfo, PyStatus, PyTickReport,
    PyTicket,
};
use crate::clock::{SharedClock, WallClock};
use crate::errors::CoreError;
use crate::inventory::SlotSpec;
use crate::queue::QueueState;
use crate::room::{Forgotten, Room};

#[pyclass(frozen, module = "pyqueue._core", name = "Room")]
pub struct PyRoom {
    inner: Arc<Room>,
}

fn shared_clock(clock: Option<&PyVirtualClock>) -> SharedClock {
    match clock {
        Some(c) => c.inner.clone(),
        None => Arc::new(WallClock),
    }
}

/// Reads one slot given as a dict {"id", "group", "starts_at"} or a tuple (id, group, starts_at).
pub(super) fn slot_spec(item: &Bound<'_, PyAny>) -> PyResult<SlotSpec> {
    let (id, group, starts_at) = if let Ok(d) = item.cast::<PyDict>() {
        let field = |name: &str| -> PyResult<Bound<'_, PyAny>> {
            d.get_item(name)?.ok_or_else(|| CoreError::InvalidArgument(format!("a slot needs {name:?}")).into())
        };
        (field("id")?, field("group")?, field("starts_at")?)
    } else if let Ok(t) = item.cast::<PyTuple>() {
        if t.len() != 3 {
            return Err(CoreError::InvalidArgument("a slot tuple is (id, group, starts_at)".into()).into());
        }
        (t.get_item(0)?, t.get_item(1)?, t.get_item(2)?)
    } else {
        return Err(CoreError::InvalidArgument("a slot is a dict or an (id, group, starts_at) tuple".into()).into());
    };
    let text = |v: Bound<'_, PyAny>, name: &str| -> PyResult<String> {
        v.extract::<String>().map_err(|_| CoreError::InvalidArgument(format!("slot {name} must be a string")).into())
    };
    Ok(SlotSpec { id: text(id, "id")?, group: text(group, "group")?, starts_at: to_micros(&starts_at, "starts_at")? })
}

impl PyRoom {
    pub(crate) fn inner(&self) -> &Room {
        &self.inner
    }
}

#[pymethods]
impl PyRoom {
    /// With `journal`, every change is recorded for `drain_journal`, from the room's creation.
    #[new]
    #[pyo3(signature = (config, signer, clock=None, journal=false))]
    fn new(config: &PyRoomConfig, signer: &PySigner, clock: Option<&PyVirtualClock>, journal: bool) -> PyResult<Self> {
        let (rust_config, handoff_url) = (config.inner.clone(), config.handoff_url.clone());
        let inner = Room::create(rust_config, handoff_url, signer.inner.clone(), shared_clock(clock), journal)?;
        Ok(Self { inner: Arc::new(inner) })
    }

    /// Rebuilds a journaled room from its latest snapshot and the journal files after it
    /// (oldest first). Returns None for the room when there is nothing to restore.
    #[staticmethod]
    #[pyo3(signature = (signer, snapshot, journals, clock=None))]
    // PyO3 extracts a Python list into an owned Vec; it cannot hand over a borrowed slice.
    #[allow(clippy::needless_pass_by_value)]
    fn restore(
        py: Python<'_>,
        signer: &PySigner,
        snapshot: Option<&[u8]>,
        journals: Vec<Bound<'_, PyBytes>>,
        clock: Option<&PyVirtualClock>,
    ) -> PyResult<(Option<PyRoom>, PyRestoreReport)> {
        let segments: Vec<&[u8]> = journals.iter().map(|b| b.as_bytes()).collect();
        let (signer, clock) = (signer.inner.clone(), shared_clock(clock));
        let (room, report) = py.detach(|| Room::restore(signer, clock, snapshot, &segments))?;
        Ok((room.map(|room| PyRoom { inner: Arc::new(room) }), PyRestoreReport { inner: report }))
    }

    #[getter]
    fn id(&self) -> &str {
        self.inner.id()
    }

    /// The room's current settings (a new object on every read: updates replace them).
    #[getter]
    fn config(&self) -> PyRoomConfig {
        PyRoomConfig { inner: self.inner.config(), handoff_url: self.inner.handoff_url() }
    }

    #[getter]
    fn journaled(&self) -> bool {
        self.inner.is_journaled()
    }

    /// The journal records of every change since the last drain, to append to the journal file.
    fn drain_journal<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.drain_journal())
    }

    /// Journal bytes recorded and not drained yet.
    #[getter]
    fn pending_journal_bytes(&self) -> usize {
        self.inner.pending_journal_bytes()
    }

    /// The whole state as a snapshot file for journal `generation`, and the records not yet
    /// drained, which the snapshot includes (they end the previous generation's journal).
    fn snapshot<'py>(&self, py: Python<'py>, generation: u64) -> (Bound<'py, PyBytes>, Bound<'py, PyBytes>) {
        let inner = &self.inner;
        let (file, pending) = py.detach(|| inner.snapshot(generation));
        (PyBytes::new(py, &file), PyBytes::new(py, &pending))
    }

    /// Joins the queue, or resumes: the same identity, or a valid `ticket` token of this room,
    /// always gets the same ticket. A new ticket gets `label`, which finds no ticket.
    #[pyo3(signature = (identity=None, ticket=None, label=None))]
    fn join(&self, identity: Option<&str>, ticket: Option<&str>, label: Option<&str>) -> PyResult<PyTicket> {
        let outcome = self.inner.join_labelled(identity, label, ticket)?;
        Ok(PyTicket { id: outcome.ticket, token: outcome.token, state: outcome.state.as_str(), new: outcome.new })
    }

    /// The label ticket `ticket` was given when it joined, if any.
    fn label(&self, ticket: u32) -> Option<String> {
        self.inner.label(ticket)
    }

    /// The ticket's place, wait estimate and pass; also its heartbeat. `kind` ("ticket" or
    /// "pass") refuses the other kind with `TokenWrongKind`.
    #[pyo3(signature = (token, kind=None))]
    fn status(&self, token: &str, kind: Option<&str>) -> PyResult<PyStatus> {
        let now = self.inner.now();
        let status = self.inner.status_at(token, parse_kind(kind)?, now)?;
        Ok(PyStatus { inner: status, now })
    }

    /// Gives up the place (or the session); returns the state the ticket was in.
    fn leave(&self, token: &str) -> PyResult<&'static str> {
        Ok(self.inner.leave(token)?.as_str())
    }

    /// Ends the admitted session of this pass, freeing its capacity.
    fn complete(&self, pass_token: &str) -> PyResult<()> {
        Ok(self.inner.complete(pass_token)?)
    }

    /// Runs the admission tick now; returns how many were admitted.
    fn tick(&self, py: Python<'_>) -> u32 {
        let inner = &self.inner;
        py.detach(|| inner.tick()).queue.admitted
    }

    /// Like `tick`, with everything the tick did.
    fn tick_report(&self, py: Python<'_>) -> PyTickReport {
        let inner = &self.inner;
        py.detach(|| inner.tick()).into()
    }

    #[pyo3(signature = (actor="operator"))]
    fn pause(&self, actor: &str) -> PyResult<()> {
        Ok(self.inner.pause(actor)?)
    }

    #[pyo3(signature = (actor="operator"))]
    fn resume(&self, actor: &str) -> PyResult<()> {
        Ok(self.inner.resume(actor)?)
    }

    /// With `on`, every join waits in the queue even when there is no crowd.
    #[pyo3(signature = (on=true, actor="operator"))]
    fn queue_all(&self, on: bool, actor: &str) -> PyResult<()> {
        Ok(self.inner.set_queue_all(on, actor)?)
    }

    /// Applies a changed config (same id; opening and draw fixed once open).
    #[pyo3(signature = (config, actor="operator"))]
    fn update(&self, config: &PyRoomConfig, actor: &str) -> PyResult<()> {
        Ok(self.inner.update_config(config.inner.clone(), config.handoff_url.clone(), actor)?)
    }

    fn info(&self) -> PyRoomInfo {
        PyRoomInfo { inner: self.inner.info() }
    }

    /// The pre-queue draw, once the room has opened.
    fn draw(&self) -> Option<PyDraw> {
        self.inner.draw().map(|d| {
            let order = QueueState::draw_order_of(&d);
            PyDraw { inner: d, order }
        })
    }

    #[getter]
    fn handoff_url(&self) -> Option<String> {
        self.inner.handoff_url()
    }

    /// Loads slots, all or nothing: dicts {"id", "group", "starts_at"} or (id, group, starts_at).
    #[pyo3(signature = (slots, actor="operator"))]
    fn add_slots(&self, py: Python<'_>, slots: &Bound<'_, PyAny>, actor: &str) -> PyResult<usize> {
        let mut specs = Vec::with_capacity(slots.len().unwrap_or(0));
        for item in slots.try_iter()? {
            specs.push(slot_spec(&item?)?);
        }
        let inner = &self.inner;
        Ok(py.detach(|| inner.add_slots(specs, actor))?)
    }

    fn availability(&self) -> Vec<PyGroupAvailability> {
        self.inner.availability().into_iter().map(Into::into).collect()
    }

    #[pyo3(signature = (group=None, offset=0, limit=100))]
    fn free_slots(&self, group: Option<&str>, offset: usize, limit: usize) -> Vec<PySlotInfo> {
        self.inner.free_slots(group, offset, limit).into_iter().map(|s| PySlotInfo { inner: s }).collect()
    }

    fn slot(&self, slot_id: &str) -> PyResult<PySlotInfo> {
        Ok(PySlotInfo { inner: self.inner.inventory().slot(slot_id)? })
    }

    /// Holds a slot for the visitor of this pass: one atomic claim; losers get `SlotTaken`
    /// with free alternatives of the same group.
    fn hold(&self, py: Python<'_>, slot_id: &str, pass_token: &str) -> PyResult<PyHold> {
        let inner = &self.inner;
        Ok(PyHold { inner: py.detach(|| inner.hold(slot_id, pass_token))? })
    }

    /// Confirms a `Hold` (in process), or a slot id with the visitor's pass (or, for a
    /// waiting-list offer, ticket) token. Returns the booking with its code.
    #[pyo3(signature = (hold, token=None))]
    fn confirm(&self, py: Python<'_>, hold: &Bound<'_, PyAny>, token: Option<&str>) -> PyResult<PyBooking> {
        let inner = &self.inner;
        let booking = if let Ok(h) = hold.cast::<PyHold>() {
            let h = h.get();
            let (slot, holder) = (h.inner.slot.as_str(), h.inner.holder);
            py.detach(|| inner.confirm_for(slot, holder, inner.now()))?
        } else {
            let slot: String =
                hold.extract().map_err(|_| CoreError::InvalidArgument("confirm takes a Hold or a slot id".into()))?;
            let Some(token) = token else {
                return Err(CoreError::InvalidArgument("confirming a slot id needs the visitor's token".into()).into());
            };
            py.detach(|| inner.confirm(&slot, token))?
        };
        Ok(PyBooking { inner: booking })
    }

    /// Gives up the visitor's own hold or offer.
    fn release_hold(&self, slot_id: &str, token: &str) -> PyResult<()> {
        Ok(self.inner.release_hold(slot_id, token)?)
    }

    /// Declines the visitor's waiting-list offer; it passes to the next in line.
    fn decline_offer(&self, token: &str) -> PyResult<()> {
        Ok(self.inner.decline_offer(token)?)
    }

    /// Cancels a booking by code; the slot returns at the next window or to the waiting list.
    /// Returns the cancelled booking and whether this call cancelled it (false: it was
    /// cancelled before, and nothing changed).
    fn cancel(&self, code: &str) -> PyResult<(PyBooking, bool)> {
        let (booking, cancelled_now) = self.inner.cancel(code)?;
        Ok((PyBooking { inner: booking }, cancelled_now))
    }

    fn booking(&self, code: &str) -> PyResult<PyBooking> {
        Ok(PyBooking { inner: self.inner.booking(code)? })
    }

    /// Releases returned slots. Refused before the next release window unless `override` is set
    /// with a `reason`; every release is in the audit log. Returns how many slots were released.
    #[pyo3(signature = (r#override=false, reason=None, actor="operator"))]
    fn release(&self, r#override: bool, reason: Option<&str>, actor: &str) -> PyResult<u64> {
        Ok(self.inner.release(r#override, reason, actor)?)
    }

    /// Notes in the audit log (action "journal_repair") that an operator repaired the room's
    /// saved state, leaving out `dropped` records, for `reason`.
    #[pyo3(signature = (dropped, reason, actor="operator"))]
    fn record_repair(&self, dropped: u64, reason: &str, actor: &str) -> PyResult<()> {
        Ok(self.inner.record_repair(actor, dropped, reason)?)
    }

    /// Deletes the room's personal data now (identities, labels, booking codes); refused with
    /// `RoomNotClosed` while the room has not closed. Audited as "forget_personal_data" with the
    /// counts; returns them by kind.
    #[pyo3(signature = (actor="operator"))]
    fn forget_personal_data<'py>(&self, py: Python<'py>, actor: &str) -> PyResult<Bound<'py, PyDict>> {
        forgotten_counts(py, self.inner.forget_personal_data(actor)?)
    }

    /// Deletes the room's personal data if its retention has run out and there is any
    /// (audited with the actor "retention"); the counts, or None when nothing was due.
    fn forget_personal_data_if_due<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        self.inner.forget_personal_data_if_due().map(|forgotten| forgotten_counts(py, forgotten)).transpose()
    }

    /// When the room's personal data is due for deletion; None for a room without closes_at.
    fn personal_data_due_at<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        opt_datetime(py, self.inner.personal_data_due_at())
    }

    fn audit_log(&self) -> Vec<PyAuditEntry> {
        self.inner.audit_log().into_iter().map(|e| PyAuditEntry { inner: e }).collect()
    }

    /// Checks a pass of this room against the room's clock, and that its session is still on
    /// (`SessionEnded` once the visitor left or completed).
    fn verify_pass(&self, py: Python<'_>, token: &str) -> PyResult<PyPassInfo> {
        pass_info(py, self.inner.verify_pass(token)?)
    }

    /// The proxy check of a pass: `verify_pass` without the claims; returns the ticket id.
    /// `now` (unix seconds) defaults to the room's clock.
    #[pyo3(signature = (token, now=None))]
    fn check_pass(&self, token: &str, now: Option<i64>) -> PyResult<u32> {
        Ok(self.inner.check_pass(token, now)?)
    }

    fn now<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        super::time::micros_to_datetime(py, self.inner.now())
    }

    fn __repr__(&self) -> String {
        format!("Room(id={:?})", self.inner.id())
    }
}

/// A deletion's counts by kind, as the admin API answers them.
fn forgotten_counts(py: Python<'_>, forgotten: Forgotten) -> PyResult<Bound<'_, PyDict>> {
    let counts = PyDict::new(py);
    counts.set_item("identities", forgotten.identities)?;
    counts.set_item("labels", forgotten.labels)?;
    counts.set_item("booking_codes", forgotten.booking_codes)?;
    Ok(counts)
}
