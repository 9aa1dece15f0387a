//! A room's slots: loading, listing, holds, bookings, cancellations, the operator's release of
//! returned slots at (or, with a reason, before) a release window, and waiting-list offers.

use crate::clock::MICROS_PER_SECOND;
use crate::errors::{CoreError, CoreResult};
use crate::inventory::{Booking, GroupAvailability, Hold, Inventory, SlotInfo, SlotSpec, SlotState};
use crate::queue::TicketState;
use crate::room_config::ReturnedSlots;
use crate::token::TokenKind;

use super::Room;

impl Room {
    pub fn add_slots(&self, slots: Vec<SlotSpec>, actor: &str) -> CoreResult<usize> {
        super::check_audit(actor, None)?;
        let added = self.inventory.add_slots(slots)?;
        self.audit("load_slots", actor, added as u64, None);
        Ok(added)
    }

    pub fn inventory(&self) -> &Inventory {
        &self.inventory
    }

    pub fn availability(&self) -> Vec<GroupAvailability> {
        self.inventory.availability()
    }

    pub fn free_slots(&self, group: Option<&str>, offset: usize, limit: usize) -> Vec<SlotInfo> {
        self.inventory.free_slots(group, self.now(), offset, limit)
    }

    /// Holds a slot for the pass's visitor, for `hold_seconds` but never beyond the pass.
    pub fn hold(&self, slot: &str, pass_token: &str) -> CoreResult<Hold> {
        let now = self.now();
        let (kind, ticket, issued_at) = self.verify_signature(pass_token, Some(TokenKind::Pass), now)?;
        let (until, limit) = {
            // One lock for the token's ticket check and the session's: claims contend here.
            let queue = self.queue.lock();
            super::issued_to(&queue, kind, ticket, issued_at)?;
            let record = queue.ticket(ticket)?;
            if record.state != TicketState::Admitted || now >= record.pass_expires_at {
                return Err(if record.state == TicketState::Expired || now >= record.pass_expires_at {
                    CoreError::TokenExpired
                } else {
                    CoreError::NotAdmitted
                });
            }
            let until = (now + i64::from(queue.config.hold_seconds) * MICROS_PER_SECOND).min(record.pass_expires_at);
            (until, queue.config.max_bookings_per_identity)
        };
        self.inventory.hold(slot, ticket, now, until, limit)
    }

    /// Confirms the visitor's hold (with a pass) or waiting-list offer (with a ticket or pass).
    pub fn confirm(&self, slot: &str, token: &str) -> CoreResult<Booking> {
        let now = self.now();
        let (kind, ticket, issued_at) = self.verify_signature(token, None, now)?;
        let limit = {
            // One lock for the token's ticket check and the booking limit: claims contend here.
            let queue = self.queue.lock();
            super::issued_to(&queue, kind, ticket, issued_at)?;
            queue.config.max_bookings_per_identity
        };
        self.confirm_within(slot, ticket, now, limit)
    }

    /// Confirms for a ticket id that the caller already established (an in-process `Hold`).
    pub fn confirm_for(&self, slot: &str, ticket: u32, now: i64) -> CoreResult<Booking> {
        let limit = self.queue.lock().config.max_bookings_per_identity;
        self.confirm_within(slot, ticket, now, limit)
    }

    /// The confirmation itself, with the room's booking limit read by the caller.
    fn confirm_within(&self, slot: &str, ticket: u32, now: i64, limit: u32) -> CoreResult<Booking> {
        let booking = self.inventory.confirm_within(slot, ticket, now, limit)?;
        let had_offer = {
            let mut state = self.booking.lock();
            state.clear_trail(slot);
            // Only this slot's offer is accepted; an offer of another slot stays open.
            let accepted = state.offers.get(&ticket).is_some_and(|offer| offer.slot == slot);
            if accepted {
                state.close_offer(ticket);
            }
            accepted
        };
        let mut queue = self.queue.lock();
        let done = self.inventory.holds_and_bookings_of(ticket) >= limit;
        if done && queue.ticket(ticket)?.state == TicketState::Admitted {
            // Booked all they may: the session's capacity goes to the next in line.
            queue.complete(ticket, now)?;
        } else if had_offer && queue.ticket(ticket)?.state == TicketState::Waiting && done {
            queue.leave(ticket, now)?;
        }
        Ok(booking)
    }

    /// Gives up one's own hold or offer before it runs out.
    pub fn release_hold(&self, slot: &str, token: &str) -> CoreResult<()> {
        let now = self.now();
        let (_, ticket) = self.verify(token, None, now)?;
        let state = self.inventory.release_hold(slot, ticket)?;
        if state == SlotState::Returned {
            self.booking.lock().close_offer(ticket);
            self.make_offers(now);
        }
        Ok(())
    }

    /// Declines the open waiting-list offer of this ticket; it passes on to the next in line.
    pub fn decline_offer(&self, token: &str) -> CoreResult<()> {
        let now = self.now();
        let (_, ticket) = self.verify(token, None, now)?;
        if !self.drop_offer_of(ticket, now) {
            return Err(CoreError::NoOffer);
        }
        Ok(())
    }

    pub(super) fn drop_offer_of(&self, ticket: u32, now: i64) -> bool {
        let offer = self.booking.lock().close_offer(ticket);
        match offer {
            Some(offer) => {
                // The offer may have lapsed in between; either way the slot is passed on.
                let _ = self.inventory.release_hold(&offer.slot, ticket);
                self.make_offers(now);
                true
            }
            None => false,
        }
    }

    pub fn booking(&self, code: &str) -> CoreResult<Booking> {
        self.inventory.booking(code)
    }

    /// Cancels a booking by its code. The slot goes back by the room's rule: at the next release
    /// window, or as an offer to the next visitor waiting. The flag says whether this call
    /// cancelled it (false: it was cancelled before, and nothing changed).
    pub fn cancel(&self, code: &str) -> CoreResult<(Booking, bool)> {
        let now = self.now();
        let (booking, cancelled_now) = self.inventory.cancel(code, now)?;
        if cancelled_now {
            self.make_offers(now);
        }
        Ok((booking, cancelled_now))
    }

    pub(super) fn config_returned_slots(&self) -> ReturnedSlots {
        self.queue.lock().config.returned_slots
    }

    /// The operator's release of returned slots. Allowed when a release window has come that was
    /// not released yet; before the window only with `override_window` and a reason. Every
    /// release goes into the audit log, and so does a release refused for coming before the
    /// window (`release_refused`, with the reason the operator gave, if any).
    pub fn release(&self, override_window: bool, reason: Option<&str>, actor: &str) -> CoreResult<u64> {
        let reason = reason.map(str::trim).filter(|r| !r.is_empty());
        super::check_audit(actor, reason)?;
        let now = self.now();
        if let Some(released) = self.release_due_window(now, actor) {
            return Ok(released);
        }
        if !override_window {
            let next = self.booking.lock().schedule.next_at_or_after(now);
            let when = match next {
                Some(_) => "the next release window has not come yet",
                None => "this room has no release windows",
            };
            self.audit("release_refused", actor, 0, reason.map(str::to_owned));
            return Err(CoreError::ReleaseRefused {
                next_window_micros: next,
                reason: format!("{when}; an early release needs an override with a reason"),
            });
        }
        let Some(reason) = reason else {
            return Err(CoreError::InvalidArgument("an override release needs a reason".into()));
        };
        let released = self.inventory.release_returned() as u64;
        self.audit("release_override", actor, released, Some(reason.to_string()));
        Ok(released)
    }

    /// Releases the returned slots if a window has come since the last release. `None` when no
    /// window is due.
    pub(super) fn release_due_window(&self, now: i64, actor: &str) -> Option<u64> {
        let mut booking = self.booking.lock();
        let window = booking.schedule.last_at_or_before(now)?;
        if window <= booking.windows_done_until {
            return None;
        }
        booking.set_windows_done(window);
        drop(booking);
        if self.config_returned_slots() == ReturnedSlots::Waitlist {
            return Some(0);
        }
        let released = self.inventory.release_returned() as u64;
        self.audit("release", actor, released, None);
        Some(released)
    }

    /// Offers every returned slot to the next waiting visitor after the one it was last offered
    /// to, in queue order, one offer per visitor at a time. A slot with nobody left to offer it
    /// to becomes free for everybody.
    pub(super) fn make_offers(&self, now: i64) -> u64 {
        // The mode first: outside waiting-list rooms returned slots wait for a window, and
        // listing them (a scan and a sort) on every tick would be wasted.
        if self.queue.lock().config.returned_slots != ReturnedSlots::Waitlist {
            return 0;
        }
        let returned = self.inventory.returned_slots();
        if returned.is_empty() {
            return 0;
        }
        let queue = self.queue.lock();
        let until = now + i64::from(queue.config.offer_seconds) * MICROS_PER_SECOND;
        let timeout = queue.config.heartbeat_timeout_micros();
        let mut booking = self.booking.lock();
        let mut made = 0;
        let mut unwanted = Vec::new();
        for slot in returned {
            let start = booking.offered_down_to.get(&slot).map_or(queue.cursor, |p| (p + 1).max(queue.cursor));
            let next = (start..queue.order.len()).find(|&position| {
                let t = queue.order[position];
                let seen = now - queue.tickets[t as usize].last_seen <= timeout;
                queue.waits_at(position) && seen && !booking.offers.contains_key(&t)
            });
            match next {
                Some(position) => {
                    let t = queue.order[position];
                    // The deadline as stored (whole seconds, rounded up), as the slot shows it.
                    if let Ok(until) = self.inventory.offer(&slot, t, until) {
                        booking.open_offer(t, slot, until, position);
                        made += 1;
                    }
                }
                None => unwanted.push(slot),
            }
        }
        drop(booking);
        drop(queue);
        if !unwanted.is_empty() {
            let mut freed = 0;
            for slot in &unwanted {
                freed += u64::from(self.inventory.release_returned_slot(slot).unwrap_or(false));
                self.booking.lock().clear_trail(slot);
            }
            self.audit("release_no_waitlist", "schedule", freed, None);
        }
        made
    }
}
