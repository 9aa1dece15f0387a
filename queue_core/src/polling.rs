//! When a visitor should ask again, and the JSON of a poll without pass or offer: one policy and
//! one renderer for every backend (the memory room's own status, the Redis backend's cached
//! counters).
//!
//! A surge is mostly polling, so the interval is what shapes the load. It grows with the distance
//! to the front (those far back learn nothing new from frequent polls), follows the time left
//! before opening, and carries ±20 % jitter so that a million pollers who joined at the same
//! second spread out into a flat load instead of returning in waves. It always stays well under
//! the room's heartbeat timeout, so a visitor who polls as told is never taken for gone.

use std::fmt::Write;

use crate::eta::Estimate;
use crate::queue::{StatusView, TicketState};

pub const FRONT_MS: u32 = 2_000;
pub const BACK_MS: u32 = 30_000;
/// `ahead` from which the longest interval applies.
pub const FAR_AHEAD: u64 = 2_000;
pub const ADMITTED_MS: u32 = 5_000;
pub const PAUSED_MS: u32 = 10_000;
/// Intervals never exceed this share of the heartbeat timeout (before jitter).
pub const HEARTBEAT_SHARE: f64 = 1.0 / 3.0;
pub const JITTER: f64 = 0.2;
pub const MIN_MS: u32 = 500;

/// The cap of a room's intervals: a share of its heartbeat timeout, never under `MIN_MS`.
pub fn heartbeat_cap_ms(heartbeat_timeout_seconds: u64) -> u32 {
    // Non-negative; the float-to-int `as` saturates for absurd timeouts.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
    let cap = (heartbeat_timeout_seconds as f64 * 1000.0 * HEARTBEAT_SHARE) as u32;
    cap.max(MIN_MS)
}

/// The interval to the next poll in milliseconds; `random` in [0, 1) draws the jitter.
pub fn poll_after_ms(
    state: TicketState,
    ahead: Option<u64>,
    eta: f64,
    opens_in: f64,
    paused: bool,
    cap_ms: u32,
    random: f64,
) -> u32 {
    let (front, back) = (f64::from(FRONT_MS), f64::from(BACK_MS));
    let mut base = match state {
        TicketState::Waiting if !paused => {
            #[allow(clippy::cast_precision_loss)] // at most FAR_AHEAD
            let far = ahead.map_or(FAR_AHEAD, |a| a.min(FAR_AHEAD)) as f64;
            #[allow(clippy::cast_precision_loss)]
            let base = front + (back - front) * far / FAR_AHEAD as f64;
            // Never sleep through one's own turn by much: at most a third of the estimate.
            let soon = eta * 333.3;
            if soon < base {
                soon.max(front)
            } else {
                base
            }
        }
        TicketState::Prequeue => (opens_in * 250.0).clamp(front, back),
        TicketState::Waiting => f64::from(PAUSED_MS),
        TicketState::Admitted => f64::from(ADMITTED_MS),
        _ => back,
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

/// The admission speed an estimate assumes, in whole people a minute (as `admit_per_minute` is
/// configured): the figure the status says and the page words.
pub fn per_minute(eta: &Estimate) -> i64 {
    py_round(eta.admit_per_second * 60.0)
}

/// The poll's JSON body and interval for a visitor without pass or offer, byte for byte what the
/// server's general path writes for the same status.
pub fn render_poll(room: &str, v: &StatusView, cap_ms: u32, random: f64) -> (String, u32) {
    let poll_ms = poll_after_ms(v.state, v.ahead, v.eta.seconds, v.opens_in_seconds, v.paused, cap_ms, random);
    let mut out = String::with_capacity(360);
    // Room ids are [A-Za-z0-9_-] and states are plain words: nothing here needs escaping.
    let _ = write!(out, r#"{{"room":"{}","ticket_id":{},"state":"{}","ahead":"#, room, v.ticket, v.state.as_str());
    opt(&mut out, v.ahead);
    out.push_str(r#","ahead_at_start":"#);
    opt(&mut out, v.ahead_at_start);
    let _ = write!(
        out,
        r#","eta":{{"low":{},"seconds":{},"high":{},"known":{},"reason":"{}","admit_per_minute":{}}},"opens_in_seconds":{},"pass":null,"pass_expires_in_seconds":null,"offer":null,"paused":{},"poll_after_ms":{},"handoff_url":null}}"#,
        py_round(v.eta.low),
        py_round(v.eta.seconds),
        py_round(v.eta.high),
        v.eta.known,
        v.eta.reason.as_str(),
        per_minute(&v.eta),
        py_round(v.opens_in_seconds),
        v.paused,
        poll_ms,
    );
    (out, poll_ms)
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
    fn the_cap_is_a_third_of_the_heartbeat_timeout() {
        assert_eq!((heartbeat_cap_ms(90), heartbeat_cap_ms(1), heartbeat_cap_ms(u64::MAX)), (30_000, 500, u32::MAX));
    }

    #[test]
    fn rounding_is_pythons() {
        assert_eq!((py_round(2.5), py_round(3.5), py_round(-0.5)), (2, 4, 0));
    }
}
