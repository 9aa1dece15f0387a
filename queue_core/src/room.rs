//! One waiting room, safe to share between threads: the queue (behind a mutex), the slot
//! inventory (lock-free claims), the release schedule, waiting-list offers and the audit log.
//! Every entry point reads the injected clock once and passes `now` down.
//!
//! Lock order: `queue` before `booking`; the inventory's own locks are innermost. Slot claims do
//! not hold the queue lock while they compare-and-swap, so contended claims run in parallel.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::admission::TickOutcome;
use crate::clock::{SharedClock, MICROS_PER_SECOND};
use crate::errors::{CoreError, CoreResult};
use crate::inventory::{Booking, GroupAvailability, Hold, Inventory, SlotInfo, SlotSpec, SlotState};
use crate::queue::{Counters, Draw, QueueState, StatusView, TicketState};
use crate::room_config::{ReturnedSlots, RoomConfig, TICKET_TOKEN_SECONDS};
use crate::schedule::ReleaseSchedule;
use crate::token::{Claims, Signer, TokenKind};

/// Holds stay valid for at most this long beyond the inventory's epoch (29-bit seconds).
const INVENTORY_EPOCH_MARGIN: i64 = 24 * 3600 * MICROS_PER_SECOND;

#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub at: i64,
    pub action: String,
    pub actor: String,
    pub count: u64,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    pub slot: String,
    pub until: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct JoinOutcome {
    pub ticket: u32,
    pub token: String,
    pub new: bool,
    pub state: TicketState,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FullStatus {
    pub view: StatusView,
    pub pass_token: Option<String>,
    pub offer: Option<Offer>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TickReport {
    pub queue: TickOutcome,
    pub released: u64,
    pub holds_expired: u64,
    pub offers_made: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RoomInfo {
    /// "prequeue", "open", "paused", "closed" or "sold_out".
    pub state: &'static str,
    pub opens_in_seconds: f64,
    pub waiting: u64,
    pub active: u32,
    pub counters: Counters,
    pub admit_per_minute: f64,
    pub measured_per_minute: f64,
    pub queue_all: bool,
    pub availability: Vec<GroupAvailability>,
    pub next_release_window: Option<i64>,
}

/// Booking-side state that is not per slot.
#[derive(Debug)]
struct BookingState {
    schedule: ReleaseSchedule,
    /// The latest release window whose returned slots were released.
    windows_done_until: i64,
    /// Open waiting-list offers, ticket → slot.
    offers: HashMap<u32, Offer>,
    /// Queue position of the last visitor each returned slot was offered to: a declined or
    /// lapsed offer moves on down the line and never comes back to the same visitor.
    offered_down_to: HashMap<String, usize>,
    audit: Vec<AuditEntry>,
}

pub struct Room {
    id: String,
    signer: Arc<Signer>,
    clock: SharedClock,
    queue: Mutex<QueueState>,
    inventory: Inventory,
    booking: Mutex<BookingState>,
}

impl Room {
    pub fn new(config: RoomConfig, signer: Arc<Signer>, clock: SharedClock) -> CoreResult<Self> {
        let schedule = ReleaseSchedule::parse(&config.release_windows, &config.timezone)?;
        let now = clock.now_micros();
        let epoch = config.opens_at.min(now) - INVENTORY_EPOCH_MARGIN;
        let id = config.id.clone();
        let queue = QueueState::new(config)?;
        Ok(Self {
            id,
            signer,
            clock,
            queue: Mutex::new(queue),
            inventory: Inventory::new(epoch),
            booking: Mutex::new(BookingState {
                schedule,
                windows_done_until: now,
                offers: HashMap::new(),
                offered_down_to: HashMap::new(),
                audit: Vec::new(),
            }),
        })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn now(&self) -> i64 {
        self.clock.now_micros()
    }

    pub fn config(&self) -> RoomConfig {
        self.queue.lock().config.clone()
    }

    pub fn signer(&self) -> &Signer {
        &self.signer
    }

    // ----- visitors -------------------------------------------------------------------------

    /// Joins, or resumes the ticket of this identity or of `resume_token` (a ticket or pass of
    /// this room). A resumed ticket that lost its turn goes to the end of the line.
    pub fn join(&self, identity: Option<&str>, resume_token: Option<&str>) -> CoreResult<JoinOutcome> {
        let now = self.now();
        let resume = match resume_token {
            Some(token) => Some(self.verify(token, None, now)?.1),
            None => None,
        };
        let (ticket, new, record) = {
            let mut queue = self.queue.lock();
            let (ticket, new) = queue.join(now, identity, resume)?;
            (ticket, new, queue.tickets[ticket as usize].clone())
        };
        Ok(JoinOutcome { ticket, token: self.ticket_token(ticket, record.joined_at), new, state: record.state })
    }

    fn ticket_token(&self, ticket: u32, joined_at: i64) -> String {
        // Signed from the join time, so the same ticket always carries the same token.
        let issued_at = joined_at.div_euclid(MICROS_PER_SECOND);
        self.signer.sign(&Claims {
            kind: TokenKind::Ticket,
            room: self.id.clone(),
            ticket,
            issued_at,
            expires_at: issued_at + TICKET_TOKEN_SECONDS,
        })
    }

    fn pass_token(&self, ticket: u32, admitted_at: i64, expires_at: i64) -> String {
        self.signer.sign(&Claims {
            kind: TokenKind::Pass,
            room: self.id.clone(),
            ticket,
            issued_at: admitted_at.div_euclid(MICROS_PER_SECOND),
            expires_at: expires_at.div_euclid(MICROS_PER_SECOND),
        })
    }

    /// Verifies a token of this room and returns its kind and ticket id.
    fn verify(&self, token: &str, kind: Option<TokenKind>, now: i64) -> CoreResult<(TokenKind, u32)> {
        let (kind, ticket, _, _) = self.signer.verify_fast(token, now.div_euclid(MICROS_PER_SECOND), &self.id, kind)?;
        Ok((kind, ticket))
    }

    /// Claims of a pass of this room (for booking sites: `verify_pass`).
    pub fn verify_pass(&self, token: &str) -> CoreResult<Claims> {
        let now = self.now().div_euclid(MICROS_PER_SECOND);
        self.signer.verify(token, now, Some(&self.id), Some(TokenKind::Pass))
    }

    pub fn status(&self, token: &str) -> CoreResult<FullStatus> {
        self.status_at(token, self.now())
    }

    /// Status at `now`, for callers that read the clock already.
    pub fn status_at(&self, token: &str, now: i64) -> CoreResult<FullStatus> {
        let (_, ticket) = self.verify(token, None, now)?;
        self.status_of(ticket, now)
    }

    /// Status by ticket id, for callers that verified the token themselves.
    pub fn status_of(&self, ticket: u32, now: i64) -> CoreResult<FullStatus> {
        let (view, admitted_at, waitlist) = {
            let mut queue = self.queue.lock();
            let view = queue.status(ticket, now)?;
            (view, queue.tickets[ticket as usize].admitted_at, queue.config.returned_slots == ReturnedSlots::Waitlist)
        };
        let pass_token = view.pass_expires_at.map(|expires| self.pass_token(ticket, admitted_at, expires));
        // Offers exist only in waiting-list rooms: the others skip the lock on every poll.
        let offer = if waitlist { self.booking.lock().offers.get(&ticket).cloned() } else { None };
        Ok(FullStatus { view, pass_token, offer })
    }

    pub fn leave(&self, token: &str) -> CoreResult<TicketState> {
        let now = self.now();
        let (_, ticket) = self.verify(token, None, now)?;
        let before = self.queue.lock().leave(ticket, now)?;
        self.drop_offer_of(ticket, now);
        Ok(before)
    }

    /// The admitted visitor is done: capacity goes back to the queue.
    pub fn complete(&self, pass_token: &str) -> CoreResult<()> {
        let now = self.now();
        let (_, ticket) = self.verify(pass_token, Some(TokenKind::Pass), now)?;
        self.queue.lock().complete(ticket, now)
    }

    // ----- the clock's work ---------------------------------------------------------------------

    /// Admissions, expired sessions and holds, scheduled releases and waiting-list offers.
    pub fn tick(&self) -> TickReport {
        let now = self.now();
        let queue_outcome = self.queue.lock().tick(now);
        let mut report = TickReport { queue: queue_outcome, ..TickReport::default() };
        let mut offers_lapsed = false;
        for (_, holder, state) in self.inventory.sweep(now) {
            report.holds_expired += 1;
            if state == SlotState::Returned {
                self.booking.lock().offers.remove(&holder);
                offers_lapsed = true;
            }
        }
        report.released = self.release_due_window(now, "schedule").unwrap_or(0);
        if offers_lapsed || !self.inventory.returned_slots().is_empty() {
            report.offers_made = self.make_offers(now);
        }
        report
    }

    // ----- operator -----------------------------------------------------------------------------

    pub fn pause(&self, actor: &str) {
        self.queue.lock().paused = true;
        self.audit("pause", actor, 0, None);
    }

    pub fn resume(&self, actor: &str) {
        let now = self.now();
        let mut queue = self.queue.lock();
        queue.accrue(now);
        queue.paused = false;
        drop(queue);
        self.audit("resume", actor, 0, None);
    }

    pub fn set_queue_all(&self, on: bool, actor: &str) {
        self.queue.lock().queue_all = on;
        self.audit(if on { "queue_all_on" } else { "queue_all_off" }, actor, 0, None);
    }

    /// Changes what may change while a room runs: rates, capacity, durations, closing time and
    /// booking rules. `opens_at`, the pre-queue mode and the seed are fixed once the room opened.
    pub fn update_config(&self, config: RoomConfig, actor: &str) -> CoreResult<()> {
        config.validate()?;
        let schedule = ReleaseSchedule::parse(&config.release_windows, &config.timezone)?;
        let now = self.now();
        let mut queue = self.queue.lock();
        if config.id != queue.config.id {
            return Err(CoreError::InvalidConfig("a room's id cannot change".into()));
        }
        if queue.draw.is_some() {
            let old = &queue.config;
            if config.opens_at != old.opens_at || config.prequeue != old.prequeue || config.seed != old.seed {
                return Err(CoreError::InvalidConfig(
                    "opens_at, prequeue and seed cannot change after the room opened".into(),
                ));
            }
        }
        if queue.closed && config.closes_at.is_none_or(|c| c > now) {
            return Err(CoreError::InvalidConfig("a closed room cannot be reopened".into()));
        }
        if queue.draw.is_none() {
            // Not open yet: admissions are earned from the (possibly moved) opening on.
            queue.accrued_until = config.opens_at;
            queue.last_tick = config.opens_at;
        } else {
            queue.accrue(now);
        }
        queue.speed.reconfigure(config.admit_per_second());
        queue.config = config;
        drop(queue);
        self.booking.lock().schedule = schedule;
        self.audit("config", actor, 0, None);
        Ok(())
    }

    pub fn draw(&self) -> Option<Draw> {
        self.queue.lock().draw.clone()
    }

    pub fn info(&self) -> RoomInfo {
        let now = self.now();
        let mut queue = self.queue.lock();
        queue.advance_phase(now);
        let availability = self.inventory.availability();
        let state = if queue.closed {
            "closed"
        } else if now < queue.config.opens_at {
            "prequeue"
        } else if !self.inventory.is_empty() && self.inventory.sold_out() {
            "sold_out"
        } else if queue.paused {
            "paused"
        } else {
            "open"
        };
        let next_release_window = self.booking.lock().schedule.next_at_or_after(now);
        RoomInfo {
            state,
            opens_in_seconds: crate::queue::seconds_between(now, queue.config.opens_at),
            waiting: queue.waiting_count(),
            active: queue.active,
            counters: queue.counters,
            admit_per_minute: queue.config.admit_per_minute,
            measured_per_minute: queue.speed.per_second() * 60.0,
            queue_all: queue.queue_all,
            availability,
            next_release_window,
        }
    }

    pub fn audit_log(&self) -> Vec<AuditEntry> {
        self.booking.lock().audit.clone()
    }

    fn audit(&self, action: &str, actor: &str, count: u64, reason: Option<String>) {
        let entry = AuditEntry { at: self.now(), action: action.into(), actor: actor.into(), count, reason };
        self.booking.lock().audit.push(entry);
    }

    // ----- slots --------------------------------------------------------------------------------

    pub fn add_slots(&self, slots: Vec<SlotSpec>, actor: &str) -> CoreResult<usize> {
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
        let (_, ticket) = self.verify(pass_token, Some(TokenKind::Pass), now)?;
        let (until, limit) = {
            let queue = self.queue.lock();
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
        let (_, ticket) = self.verify(token, None, now)?;
        self.confirm_for(slot, ticket, now)
    }

    /// Confirms for a ticket id that the caller already established (an in-process `Hold`).
    pub fn confirm_for(&self, slot: &str, ticket: u32, now: i64) -> CoreResult<Booking> {
        let limit = self.queue.lock().config.max_bookings_per_identity;
        let booking = self.inventory.confirm_within(slot, ticket, now, limit)?;
        let had_offer = {
            let mut state = self.booking.lock();
            state.offered_down_to.remove(slot);
            // Only this slot's offer is accepted; an offer of another slot stays open.
            let accepted = state.offers.get(&ticket).is_some_and(|offer| offer.slot == slot);
            if accepted {
                state.offers.remove(&ticket);
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
            self.booking.lock().offers.remove(&ticket);
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

    fn drop_offer_of(&self, ticket: u32, now: i64) -> bool {
        let offer = self.booking.lock().offers.remove(&ticket);
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
    /// window, or as an offer to the next visitor waiting.
    pub fn cancel(&self, code: &str) -> CoreResult<Booking> {
        let now = self.now();
        let booking = self.inventory.cancel(code)?;
        if self.config_returned_slots() == ReturnedSlots::Waitlist {
            self.make_offers(now);
        }
        Ok(booking)
    }

    fn config_returned_slots(&self) -> ReturnedSlots {
        self.queue.lock().config.returned_slots
    }

    /// The operator's release of returned slots. Allowed when a release window has come that was
    /// not released yet; before the window only with `override_window` and a reason. Every
    /// release goes into the audit log.
    pub fn release(&self, override_window: bool, reason: Option<&str>, actor: &str) -> CoreResult<u64> {
        let now = self.now();
        if let Some(released) = self.release_due_window(now, actor) {
            return Ok(released);
        }
        let reason = reason.map(str::trim).filter(|r| !r.is_empty());
        if !override_window {
            let next = self.booking.lock().schedule.next_at_or_after(now);
            let when = match next {
                Some(_) => "the next release window has not come yet",
                None => "this room has no release windows",
            };
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
    fn release_due_window(&self, now: i64, actor: &str) -> Option<u64> {
        let mut booking = self.booking.lock();
        let window = booking.schedule.last_at_or_before(now)?;
        if window <= booking.windows_done_until {
            return None;
        }
        booking.windows_done_until = window;
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
    fn make_offers(&self, now: i64) -> u64 {
        let returned = self.inventory.returned_slots();
        if returned.is_empty() {
            return 0;
        }
        let queue = self.queue.lock();
        if queue.config.returned_slots != ReturnedSlots::Waitlist {
            return 0;
        }
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
                        booking.offered_down_to.insert(slot.clone(), position);
                        booking.offers.insert(t, Offer { slot, until });
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
                self.booking.lock().offered_down_to.remove(slot);
            }
            self.audit("release_no_waitlist", "schedule", freed, None);
        }
        made
    }
}
