//! The status poll of the HTTP server in one call. A surge is mostly waiting visitors polling;
//! for them the whole answer — status, poll interval and JSON body — is built here, without a
//! dozen attribute reads and a format in Python. Everything else (passes, offers) returns the
//! `Status` for the server's general path. `pyqueue/server/polling.py` holds the same interval
//! policy for that path; a test holds the two answers equal.

use std::fmt::Write;

use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::room::PyRoom;
use super::views::PyStatus;
use crate::queue::TicketState;
use crate::token::TokenKind;

const FRONT_MS: f64 = 2_000.0;
const BACK_MS: f64 = 30_000.0;
const FAR_AHEAD: f64 = 2_000.0;
const ADMITTED_MS: f64 = 5_000.0;
const PAUSED_MS: f64 = 10_000.0;
const JITTER: f64 = 0.2;
const MIN_MS: u32 = 500;

/// The interval to the next poll, as `pyqueue.server.polling.poll_after_ms` computes it;
/// `random` in [0, 1) draws the jitter.
fn poll_after_ms(
    state: TicketState,
    ahead: Option<u64>,
    eta: f64,
    opens_in: f64,
    paused: bool,
    cap_ms: u32,
    random: f64,
) -> u32 {
    let mut base = match state {
        TicketState::Waiting if !paused => {
            let far = ahead.map_or(FAR_AHEAD, |a| (a as f64).min(FAR_AHEAD));
            let base = FRONT_MS + (BACK_MS - FRONT_MS) * far / FAR_AHEAD;
            // Never sleep through one's own turn by much: at most a third of the estimate.
            let soon = eta * 333.3;
            if soon < base {
                soon.max(FRONT_MS)
            } else {
                base
            }
        }
        TicketState::Prequeue => (opens_in * 250.0).clamp(FRONT_MS, BACK_MS),
        TicketState::Waiting => PAUSED_MS,
        TicketState::Admitted => ADMITTED_MS,
        _ => BACK_MS,
    };
    base = base.min(f64::from(cap_ms));
    // Non-negative and capped at `cap_ms` above; the float-to-int `as` saturates anyway.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let ms = (base * (1.0 - JITTER + 2.0 * JITTER * random)) as u32;
    ms.max(MIN_MS)
}

/// Python's `round()` of a float to an int: ties to even.
#[allow(clippy::cast_possible_truncation)] // saturates, as Python cannot for ints
fn py_round(x: f64) -> i64 {
    x.round_ties_even() as i64
}

fn opt(out: &mut String, value: Option<u64>) {
    match value {
        Some(v) => write!(out, "{v}").unwrap_or(()),
        None => out.push_str("null"),
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
    let v = &status.view;
    let poll_ms = poll_after_ms(v.state, v.ahead, v.eta.seconds, v.opens_in_seconds, v.paused, cap_ms, random);
    let mut out = String::with_capacity(360);
    // Room ids are [A-Za-z0-9_-] and states are plain words: nothing here needs escaping.
    let _ =
        write!(out, r#"{{"room":"{}","ticket_id":{},"state":"{}","ahead":"#, inner.id(), v.ticket, v.state.as_str());
    opt(&mut out, v.ahead);
    out.push_str(r#","ahead_at_start":"#);
    opt(&mut out, v.ahead_at_start);
    let _ = write!(
        out,
        r#","eta":{{"low":{},"seconds":{},"high":{},"known":{}}},"opens_in_seconds":{},"pass":null,"pass_expires_in_seconds":null,"offer":null,"paused":{},"poll_after_ms":{},"handoff_url":null}}"#,
        py_round(v.eta.low),
        py_round(v.eta.seconds),
        py_round(v.eta.high),
        v.eta.known,
        py_round(v.opens_in_seconds),
        v.paused,
        poll_ms,
    );
    Ok((Some(PyBytes::new(py, out.as_bytes())), poll_ms, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_follow_the_policy() {
        let w = TicketState::Waiting;
        assert_eq!(poll_after_ms(w, Some(0), 1e9, 0.0, false, u32::MAX, 0.5), 2_000);
        assert_eq!(poll_after_ms(w, Some(5_000), 1e9, 0.0, false, u32::MAX, 0.5), 30_000);
        assert_eq!(poll_after_ms(w, Some(5_000), 1e9, 0.0, false, 12_000, 0.5), 12_000);
        assert_eq!(poll_after_ms(w, Some(5_000), 30.0, 0.0, false, u32::MAX, 0.5), 9_999);
        assert_eq!(poll_after_ms(w, None, 1e9, 0.0, true, u32::MAX, 0.5), 10_000);
        assert_eq!(poll_after_ms(TicketState::Prequeue, None, 0.0, 3600.0, false, u32::MAX, 0.0), 24_000);
        assert_eq!(poll_after_ms(TicketState::Admitted, None, 0.0, 0.0, false, 100, 0.0), 500);
    }

    #[test]
    fn rounding_is_pythons() {
        assert_eq!((py_round(2.5), py_round(3.5), py_round(-0.5)), (2, 4, 0));
    }
}
