//! Replay of the queue's journaled changes: each event calls the same state change that
//! recorded it (`add_ticket`, `grant_pass`, `mark_*`, `open`, `close`), never the rule that
//! decided it, and sets what the rule computed (pass expiry, allowance, cursor) from the record.
//! Every event is checked against the state first, so records that do not belong to this state
//! are reported instead of corrupting it.

use crate::errors::{CoreError, CoreResult};
use crate::events::Event;
use crate::queue::{QueueState, TicketState};

fn out_of_step(what: &str) -> CoreError {
    CoreError::JournalCorrupt(format!("the journal does not fit the saved state: {what}"))
}

impl QueueState {
    /// Applies one journaled event if it concerns the queue; returns whether it did.
    pub(crate) fn apply(&mut self, event: &Event<'_>) -> CoreResult<bool> {
        debug_assert!(self.journal.is_none(), "replay must not journal again");
        match *event {
            Event::Joined { ticket, at, identity } => {
                if ticket as usize != self.tickets.len() {
                    return Err(out_of_step(&format!("ticket {ticket} joined, but {} exist", self.tickets.len())));
                }
                self.add_ticket(at, identity);
            }
            Event::IdentityKey { key } => self.set_identity_key(key),
            Event::Forgotten { at } => {
                self.forget_personal_data(at);
            }
            Event::Labelled { ticket, label } => {
                self.state_of(ticket)?;
                self.labels.insert(ticket, label.into());
            }
            Event::Requeued { ticket, at } => {
                let state = self.state_of(ticket)?;
                if !state.may_requeue() {
                    return Err(out_of_step(&format!("ticket {ticket} joined again while {}", state.as_str())));
                }
                self.requeue(ticket, at);
            }
            Event::Admitted { ticket, at, expires, allowance } => {
                let position = self.waiting_position(ticket, "admitted")?;
                self.note_accrued(at);
                self.grant_pass(ticket, at, expires);
                self.allowance = allowance;
                self.cursor = self.cursor.max(position + 1);
            }
            Event::Abandoned { ticket } => {
                let position = self.waiting_position(ticket, "abandoned")?;
                self.mark_abandoned(ticket);
                self.cursor = self.cursor.max(position + 1);
            }
            Event::Left { ticket } => {
                let state = self.state_of(ticket)?;
                if !matches!(state, TicketState::Prequeue | TicketState::Waiting | TicketState::Admitted) {
                    return Err(out_of_step(&format!("ticket {ticket} left while {}", state.as_str())));
                }
                self.mark_left(ticket);
            }
            Event::Completed { ticket } => {
                self.expect_admitted(ticket, "completed")?;
                self.mark_completed(ticket);
            }
            Event::Expired { ticket } => {
                self.expect_admitted(ticket, "expired")?;
                self.mark_expired(ticket);
            }
            Event::Opened { at } => {
                if self.draw.is_some() {
                    return Err(out_of_step("the room opened twice"));
                }
                self.open(at);
            }
            Event::Closed { at } => {
                if self.closed {
                    return Err(out_of_step("the room closed twice"));
                }
                self.close(at);
            }
            Event::Ticked { at, cursor, allowance, meter } => {
                let cursor = usize::try_from(cursor).ok().filter(|&c| c <= self.order.len());
                let cursor = cursor.ok_or_else(|| out_of_step("the cursor passed the end of the queue"))?;
                self.last_tick = self.last_tick.max(at);
                self.note_accrued(at);
                self.allowance = allowance;
                self.cursor = cursor;
                self.meter = meter;
            }
            Event::Paused => self.paused = true,
            Event::Resumed { at, allowance } => {
                self.note_accrued(at);
                self.allowance = allowance;
                self.paused = false;
            }
            Event::QueueAll { on } => self.queue_all = on,
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// What `accrue(at)` does to `accrued_until`, without recomputing the allowance (the
    /// journal has the allowance that resulted, to the last bit).
    pub(crate) fn note_accrued(&mut self, at: i64) {
        if at > self.accrued_until.max(self.config.opens_at) {
            self.accrued_until = at;
        }
    }

    fn state_of(&self, ticket: u32) -> CoreResult<TicketState> {
        self.tickets
            .get(ticket as usize)
            .map(|t| t.state)
            .ok_or_else(|| out_of_step(&format!("ticket {ticket} was never issued")))
    }

    fn waiting_position(&self, ticket: u32, what: &str) -> CoreResult<usize> {
        let state = self.state_of(ticket)?;
        let position = self.tickets[ticket as usize].position as usize;
        if state != TicketState::Waiting || position >= self.order.len() || !self.waits_at(position) {
            return Err(out_of_step(&format!("ticket {ticket} {what} while {}", state.as_str())));
        }
        Ok(position)
    }

    fn expect_admitted(&self, ticket: u32, what: &str) -> CoreResult<()> {
        match self.state_of(ticket)? {
            TicketState::Admitted => Ok(()),
            state => Err(out_of_step(&format!("ticket {ticket} {what} while {}", state.as_str()))),
        }
    }
}
