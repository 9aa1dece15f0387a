//! What a ticket's status says: its state, its place, the wait estimate and its pass; and the
//! counts and orders read from the queue as a whole.

use super::{seconds_between, Draw, QueueState, StatusView, TicketState};
use crate::errors::CoreResult;
use crate::eta::{self, Estimate};
use crate::prequeue;
use crate::room_config::PrequeueMode;

impl QueueState {
    /// The status of a ticket; also its heartbeat (a waiting ticket that stops asking is
    /// eventually skipped as abandoned).
    pub fn status(&mut self, t: u32, now: i64) -> CoreResult<StatusView> {
        self.advance_phase(now);
        self.expire_session(t, now)?;
        let ticket = self.ticket_mut(t)?;
        ticket.last_seen = now;
        let ticket = ticket.clone();
        let opens_in_seconds = seconds_between(now, self.config.opens_at);
        let mut view = StatusView {
            ticket: t,
            state: ticket.state,
            ahead: None,
            ahead_at_start: None,
            eta: Estimate::zero(),
            opens_in_seconds,
            pass_expires_at: None,
            paused: self.paused,
        };
        match ticket.state {
            TicketState::Prequeue => view.eta = self.prequeue_estimate(opens_in_seconds),
            TicketState::Waiting => {
                let position = ticket.position as usize;
                view.ahead = Some(self.waiting.ahead_of(position));
                view.ahead_at_start = Some(u64::from(ticket.ahead_at_start));
                let distance = (position + 1).saturating_sub(self.cursor) as u64;
                view.eta = self.line().estimate(distance);
            }
            TicketState::Admitted => view.pass_expires_at = Some(ticket.pass_expires_at),
            _ => {}
        }
        Ok(view)
    }

    fn prequeue_estimate(&self, opens_in_seconds: f64) -> Estimate {
        let waiting = self.prequeue.len() as u64 - self.prequeue_left;
        eta::prequeue_estimate(opens_in_seconds, waiting, &self.line())
    }

    /// Number of tickets that still wait (after opening) or sit in the pre-queue.
    pub fn waiting_count(&self) -> u64 {
        self.waiting.waiting() + self.prequeue.len() as u64 - self.prequeue_left
    }

    pub fn draw_order_of(draw: &Draw) -> Vec<u32> {
        match draw.mode {
            PrequeueMode::Shuffle => prequeue::draw_order(draw.joined.len(), draw.seed)
                .into_iter()
                .map(|i| draw.joined[i as usize])
                .collect(),
            PrequeueMode::Fifo => draw.joined.clone(),
        }
    }
}
