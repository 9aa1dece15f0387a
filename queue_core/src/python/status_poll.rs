//! The status poll of the HTTP server in one call. A surge is mostly waiting visitors polling;
//! for them the whole answer — status, poll interval and JSON body — is built here, without a
//! dozen attribute reads and a format in Python. Everything else (passes, offers) returns the
//! `Status` for the server's general path. The memory backend polls its `Room`; the Redis
//! backend passes the counters it cached. Both end in `polling::render_poll`, and the server's
//! general path asks `poll_after_ms` here too: one policy, one renderer.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::config::PyRoomConfig;
use super::room::PyRoom;
use super::time::{micros_to_datetime, to_micros};
use super::views::{PyEta, PyStatus};
use crate::eta::{self, Estimate, Line, LineMeter, Stretch};
use crate::polling;
use crate::queue::{StatusView, TicketState};
use crate::schedule::ReleaseSchedule;
use crate::token::TokenKind;

fn state_named(name: &str) -> PyResult<TicketState> {
    TicketState::parse(name).ok_or_else(|| PyValueError::new_err(format!("no ticket state {name:?}")))
}

/// What a wait estimate rests on, from counters kept elsewhere (the Redis backend's `meta`
/// hash): the settings, the room's state and the line's measurement (`eta::LineMeter`). The
/// memory room's estimates come from the same `eta::Line`.
#[pyclass(frozen, module = "pyqueue._core", name = "Line")]
pub struct PyLine {
    inner: Line,
}

#[pymethods]
impl PyLine {
    #[new]
    #[pyo3(signature = (
        *, admit_per_second, max_active, session_seconds, active, paused, completed, expired,
        passed, admitted, measured_micros, filled,
        recent_passed = 0, recent_admitted = 0, recent_micros = 0,
        earlier_passed = 0, earlier_admitted = 0, earlier_micros = 0
    ))]
    // The counters an estimate rests on, each a plain value named as the scripts keep it.
    #[allow(clippy::too_many_arguments, clippy::similar_names)]
    fn py_new(
        admit_per_second: f64,
        max_active: u32,
        session_seconds: f64,
        active: u32,
        paused: bool,
        completed: u64,
        expired: u64,
        passed: u64,
        admitted: u64,
        measured_micros: i64,
        filled: bool,
        recent_passed: u64,
        recent_admitted: u64,
        recent_micros: i64,
        earlier_passed: u64,
        earlier_admitted: u64,
        earlier_micros: i64,
    ) -> PyResult<Self> {
        for (name, value) in [("admit_per_second", admit_per_second), ("session_seconds", session_seconds)] {
            if !(value.is_finite() && value > 0.0) {
                return Err(PyValueError::new_err(format!("Line.{name} must be a finite number > 0, got {value}")));
            }
        }
        let meter = LineMeter {
            passed,
            admitted,
            micros: measured_micros.max(0),
            filled,
            recent: Stretch { passed: recent_passed, admitted: recent_admitted, micros: recent_micros.max(0) },
            earlier: Stretch { passed: earlier_passed, admitted: earlier_admitted, micros: earlier_micros.max(0) },
        };
        Ok(Self {
            inner: Line {
                admit_per_second,
                max_active,
                session_seconds,
                active,
                paused,
                ended_early: completed,
                expired,
                meter,
            },
        })
    }

    /// Positions passed a second while the line was backed up, once anything was measured.
    #[getter]
    fn measured_per_second(&self) -> Option<f64> {
        self.inner.measured_per_second()
    }

    /// The wait of a ticket `distance` places from the cursor (1 = next in line).
    fn estimate(&self, distance: u64) -> PyEta {
        self.inner.estimate(distance).into()
    }

    /// The wait of a pre-queue entry before the draw, with `waiting` entries in the pre-queue.
    fn prequeue_estimate(&self, opens_in_seconds: f64, waiting: u64) -> PyEta {
        eta::prequeue_estimate(opens_in_seconds, waiting, &self.inner).into()
    }
}

/// `(body, poll_after_ms, None)` for a visitor without pass or offer, else `(None, 0, status)`.
#[pyfunction]
#[pyo3(signature = (room, token, cap_ms, random))]
pub fn status_poll<'py>(
    py: Python<'py>,
    room: &PyRoom,
    token: &str,
    cap_ms: u32,
    random: f64,
) -> PyResult<(Option<Bound<'py, PyBytes>>, u32, Option<PyStatus>)> {
    let inner = room.inner();
    let now = inner.now();
    // The HTTP API keeps the ticket for the queue: a pass is refused here, in the one check.
    let status = inner.status_at(token, Some(TokenKind::Ticket), now)?;
    if status.pass_token.is_some() || status.offer.is_some() {
        return Ok((None, 0, Some(PyStatus { inner: status, now })));
    }
    let (body, poll_ms) = polling::render_poll(inner.id(), &status.view, cap_ms, random);
    Ok((Some(PyBytes::new(py, body.as_bytes())), poll_ms, None))
}

/// The poll of a ticket without pass or offer from counters cached elsewhere (the Redis
/// backend's): its status as the core computes it from them, rendered as `status_poll` does.
#[pyfunction]
#[pyo3(signature = (room, ticket, state, ahead, ahead_at_start, distance, line, opens_in_seconds, prequeue_waiting, cap_ms, random))]
#[allow(clippy::too_many_arguments)] // the counters a status is made of, each a plain value
pub fn cached_status_poll<'py>(
    py: Python<'py>,
    room: &str,
    ticket: u32,
    state: &str,
    ahead: Option<u64>,
    ahead_at_start: Option<u64>,
    distance: u64,
    line: &PyLine,
    opens_in_seconds: f64,
    prequeue_waiting: u64,
    cap_ms: u32,
    random: f64,
) -> PyResult<(Bound<'py, PyBytes>, u32)> {
    let state = state_named(state)?;
    let mut view = StatusView {
        ticket,
        state,
        ahead: None,
        ahead_at_start: None,
        eta: Estimate::zero(),
        opens_in_seconds,
        pass_expires_at: None,
        paused: line.inner.paused,
    };
    match state {
        TicketState::Prequeue => {
            view.eta = eta::prequeue_estimate(opens_in_seconds, prequeue_waiting, &line.inner);
        }
        TicketState::Waiting => {
            view.ahead = ahead;
            view.ahead_at_start = ahead_at_start;
            view.eta = line.inner.estimate(distance);
        }
        TicketState::Admitted => return Err(PyValueError::new_err("an admitted ticket's poll carries its pass")),
        _ => {}
    }
    let (body, poll_ms) = polling::render_poll(room, &view, cap_ms, random);
    Ok((PyBytes::new(py, body.as_bytes()), poll_ms))
}

/// The interval to the next poll (see `polling`); `random` in [0, 1) draws the jitter.
#[pyfunction]
#[pyo3(signature = (state, ahead, eta_seconds, opens_in_seconds, paused, cap_ms, random))]
pub fn poll_after_ms(
    state: &str,
    ahead: Option<u64>,
    eta_seconds: f64,
    opens_in_seconds: f64,
    paused: bool,
    cap_ms: u32,
    random: f64,
) -> PyResult<u32> {
    Ok(polling::poll_after_ms(state_named(state)?, ahead, eta_seconds, opens_in_seconds, paused, cap_ms, random))
}

/// The longest interval of a room's polls, from its heartbeat timeout.
#[pyfunction]
pub fn heartbeat_cap_ms(heartbeat_timeout_seconds: u64) -> u32 {
    polling::heartbeat_cap_ms(heartbeat_timeout_seconds)
}

/// The first release window of `config` at or after `at_or_after`, or None.
#[pyfunction]
pub fn next_release_window<'py>(
    py: Python<'py>,
    config: &PyRoomConfig,
    at_or_after: &Bound<'py, PyAny>,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    let at = to_micros(at_or_after, "at_or_after")?;
    let schedule = ReleaseSchedule::parse(&config.inner.release_windows, &config.inner.timezone)?;
    schedule.next_at_or_after(at).map(|w| micros_to_datetime(py, w)).transpose()
}

/// The latest release window of `config` at or before `at_or_before`, or None: the window a
/// tick releases for, once, however many were missed since the last release (see `room/slots.rs`).
#[pyfunction]
pub fn last_release_window<'py>(
    py: Python<'py>,
    config: &PyRoomConfig,
    at_or_before: &Bound<'py, PyAny>,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    let at = to_micros(at_or_before, "at_or_before")?;
    let schedule = ReleaseSchedule::parse(&config.inner.release_windows, &config.inner.timezone)?;
    schedule.last_at_or_before(at).map(|w| micros_to_datetime(py, w)).transpose()
}

/// The policy's constants and the estimate's reasons, for the documentation and the tests of the Python side.
pub fn register_constants(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("POLL_FRONT_MS", polling::FRONT_MS)?;
    m.add("POLL_BACK_MS", polling::BACK_MS)?;
    m.add("POLL_MIN_MS", polling::MIN_MS)?;
    m.add("POLL_JITTER", polling::JITTER)?;
    m.add("RECENT_STRETCH_MICROS", eta::RECENT_STRETCH_MICROS)?;
    m.add("ETA_REASONS", eta::REASONS.map(eta::Reason::as_str).to_vec())?;
    Ok(())
}
