//! One waiting room, safe to share between threads: the queue (behind a mutex), the slot
//! inventory (lock-free claims), the release schedule, waiting-list offers and the audit log.
//! Every entry point reads the injected clock once and passes `now` down.
//!
//! Lock order: `queue` before `booking`; the inventory's own locks come next, and the journal's
//! buffer is innermost. Slot claims do not hold the queue lock while they compare-and-swap, so
//! contended claims run in parallel.
//!
//! A journaled room (`Room::create` with `journaled`) records every change of its durable state
//! as an event (see `events`) in a buffer that the embedding program drains and writes to disk;
//! `snapshot` writes the whole state, and `restore` rebuilds a room from a snapshot and journal.

mod booking_state;
#[cfg(test)]
mod damage_tests;
#[cfg(test)]
mod format_v1_tests;
mod personal_data;
#[cfg(test)]
mod personal_data_tests;
mod restore;
mod slots;
mod snapshot;
#[cfg(test)]
mod tests;
mod unapplied;

use std::borrow::Cow;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::admission::TickOutcome;
use crate::clock::{SharedClock, MICROS_PER_SECOND};
use crate::errors::{CoreError, CoreResult};
use crate::events::Event;
use crate::inventory::{GroupAvailability, Inventory, SlotState};
use crate::journal::JournalSink;
use crate::limits;
use crate::pseudonym;
use crate::queue::{Counters, Draw, QueueState, StatusView, TicketState};
use crate::room_config::{IdentityMode, ReturnedSlots, RoomConfig, TICKET_TOKEN_SECONDS};
use crate::schedule::ReleaseSchedule;
use crate::token::{Claims, Signer, TokenKind};
use booking_state::BookingState;

pub use booking_state::{AuditEntry, Offer};
pub use personal_data::{Forgotten, FORGET_ACTION, RETENTION_ACTOR};
pub use restore::{JournalCut, RestoreReport};
pub use unapplied::{Unapplied, UnappliedBooking};

/// Holds stay valid for at most this long beyond the inventory's epoch (29-bit seconds).
const INVENTORY_EPOCH_MARGIN: i64 = 24 * 3600 * MICROS_PER_SECOND;

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

/// The state a room's info reports, from what either backend keeps: closed, then before the
/// opening, then sold out (`inventory::sold_out`), then paused. The Redis backend asks this too
/// (`pyqueue._core.room_state`), so both name a room's state alike.
pub fn room_state(closed: bool, opened: bool, paused: bool, availability: &[GroupAvailability]) -> &'static str {
    if closed {
        "closed"
    } else if !opened {
        "prequeue"
    } else if crate::inventory::sold_out(availability) {
        "sold_out"
    } else if paused {
        "paused"
    } else {
        "open"
    }
}

pub struct Room {
    id: String,
    signer: Arc<Signer>,
    clock: SharedClock,
    queue: Mutex<QueueState>,
    inventory: Inventory,
    booking: Mutex<BookingState>,
    /// Where the portal sends admitted visitors; kept here so that it is saved with the room.
    handoff_url: Mutex<Option<String>>,
    journal: Option<Arc<JournalSink>>,
}

impl Room {
    pub fn new(config: RoomConfig, signer: Arc<Signer>, clock: SharedClock) -> CoreResult<Self> {
        Self::create(config, None, signer, clock, false)
    }

    /// A new room; with `journaled`, every change is recorded for `drain_journal`, starting
    /// with the room's creation.
    pub fn create(
        config: RoomConfig,
        handoff_url: Option<String>,
        signer: Arc<Signer>,
        clock: SharedClock,
        journaled: bool,
    ) -> CoreResult<Self> {
        config.validate()?;
        let schedule = ReleaseSchedule::parse(&config.release_windows, &config.timezone)?;
        let now = clock.now_micros();
        let epoch = config.opens_at.min(now) - INVENTORY_EPOCH_MARGIN;
        let identity_key = pseudonym::new_key()?;
        let journal = journaled.then(|| {
            let journal = Arc::new(JournalSink::new());
            let config = Cow::Borrowed(&config);
            journal.append(&Event::Created { at: now, epoch, config, handoff_url: handoff_url.as_deref() });
            journal.append(&Event::IdentityKey { key: identity_key });
            journal
        });
        let mut queue = QueueState::new(config)?;
        queue.set_identity_key(identity_key);
        let mut room = Self::assemble(signer, clock, queue, Inventory::new(epoch), BookingState::new(schedule, now));
        *room.handoff_url.get_mut() = handoff_url;
        if let Some(journal) = journal {
            room.attach_journal(journal);
        }
        Ok(room)
    }

    fn assemble(
        signer: Arc<Signer>,
        clock: SharedClock,
        queue: QueueState,
        inventory: Inventory,
        booking: BookingState,
    ) -> Self {
        Self {
            id: queue.config.id.clone(),
            signer,
            clock,
            queue: Mutex::new(queue),
            inventory,
            booking: Mutex::new(booking),
            handoff_url: Mutex::new(None),
            journal: None,
        }
    }

    fn attach_journal(&mut self, journal: Arc<JournalSink>) {
        self.queue.get_mut().journal = Some(Arc::clone(&journal));
        self.booking.get_mut().journal = Some(Arc::clone(&journal));
        self.inventory.attach_journal(Arc::clone(&journal));
        self.journal = Some(journal);
    }

    pub fn is_journaled(&self) -> bool {
        self.journal.is_some()
    }

    /// The records of every change since the last drain (empty if the room is not journaled).
    /// The caller appends them to the room's journal file, in the order drained.
    pub fn drain_journal(&self) -> Vec<u8> {
        self.journal.as_ref().map(|journal| journal.drain()).unwrap_or_default()
    }

    /// Bytes recorded and not drained yet.
    pub fn pending_journal_bytes(&self) -> usize {
        self.journal.as_ref().map_or(0, |journal| journal.pending_bytes())
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn handoff_url(&self) -> Option<String> {
        self.handoff_url.lock().clone()
    }

    pub fn now(&self) -> i64 {
        self.clock.now_micros()
    }

    pub fn config(&self) -> RoomConfig {
        self.queue.lock().config.clone()
    }

    // ----- visitors -------------------------------------------------------------------------

    /// Joins, or resumes the ticket of this identity or of `resume_token` (a ticket or pass of
    /// this room). A resumed ticket that lost its turn goes to the end of the line.
    pub fn join(&self, identity: Option<&str>, resume_token: Option<&str>) -> CoreResult<JoinOutcome> {
        self.join_labelled(identity, None, resume_token)
    }

    /// `join`, where a new ticket also gets `label` (see `QueueState::join_labelled`).
    pub fn join_labelled(
        &self,
        identity: Option<&str>,
        label: Option<&str>,
        resume_token: Option<&str>,
    ) -> CoreResult<JoinOutcome> {
        let now = self.now();
        let resumed = match resume_token {
            Some(token) => Some(self.verify_claims(token, now)?),
            None => None,
        };
        let resume = resumed.as_ref().map(|claims| claims.ticket);
        let (ticket, new, record, entry_room) = {
            let mut queue = self.queue.lock();
            let (ticket, new) = queue.join_labelled(now, identity, label, resume)?;
            let entry_room = queue.config.identity == IdentityMode::Entry;
            (ticket, new, queue.tickets[ticket as usize].clone(), entry_room)
        };
        // An entry room's ticket carries its vouched identity: the one just given (which found
        // or made this ticket), else the one the resumed token carries.
        let subject = match (entry_room, identity) {
            (false, _) => None,
            (true, Some(identity)) => Some(identity.to_owned()),
            (true, None) => resumed.and_then(|claims| claims.subject),
        };
        let token = self.ticket_token(ticket, record.joined_at, subject);
        Ok(JoinOutcome { ticket, token, new, state: record.state })
    }

    /// The label the ticket was given when it joined, if any.
    pub fn label(&self, ticket: u32) -> Option<String> {
        self.queue.lock().labels.get(&ticket).map(|label| label.to_string())
    }

    fn ticket_token(&self, ticket: u32, joined_at: i64, subject: Option<String>) -> String {
        // Signed from the join time, so the same ticket always carries the same token.
        let issued_at = joined_at.div_euclid(MICROS_PER_SECOND);
        self.signer.sign(&Claims {
            kind: TokenKind::Ticket,
            room: self.id.clone(),
            ticket,
            issued_at,
            expires_at: issued_at + TICKET_TOKEN_SECONDS,
            subject,
        })
    }

    fn pass_token(&self, ticket: u32, admitted_at: i64, expires_at: i64, subject: Option<String>) -> String {
        self.signer.sign(&Claims {
            kind: TokenKind::Pass,
            room: self.id.clone(),
            ticket,
            issued_at: admitted_at.div_euclid(MICROS_PER_SECOND),
            expires_at: expires_at.div_euclid(MICROS_PER_SECOND),
            subject,
        })
    }

    /// Verifies a token of this room and returns its kind and ticket id. The token must also be
    /// one this room issued to the ticket as it is (see `issued_to`).
    fn verify(&self, token: &str, kind: Option<TokenKind>, now: i64) -> CoreResult<(TokenKind, u32)> {
        let (kind, ticket, issued_at) = self.verify_signature(token, kind, now)?;
        issued_to(&self.queue.lock(), kind, ticket, issued_at)?;
        Ok((kind, ticket))
    }

    /// `verify`, with the token's claims (an entry room's token carries the vouched identity).
    fn verify_claims(&self, token: &str, now: i64) -> CoreResult<Claims> {
        let claims = self.signer.verify(token, now.div_euclid(MICROS_PER_SECOND), Some(&self.id), None)?;
        issued_to(&self.queue.lock(), claims.kind, claims.ticket, claims.issued_at)?;
        Ok(claims)
    }

    /// The signature, room, kind and expiry of a token; its kind, ticket id and issue time.
    fn verify_signature(&self, token: &str, kind: Option<TokenKind>, now: i64) -> CoreResult<(TokenKind, u32, i64)> {
        let (kind, ticket, issued_at, _) =
            self.signer.verify_fast(token, now.div_euclid(MICROS_PER_SECOND), &self.id, kind)?;
        Ok((kind, ticket, issued_at))
    }

    /// Claims of a pass of this room (for booking sites: `verify_pass`), checked like every
    /// other token: also against the admission it was issued for (see `issued_to`), and
    /// refused with `SessionEnded` once its session is over.
    pub fn verify_pass(&self, token: &str) -> CoreResult<Claims> {
        let now = self.now().div_euclid(MICROS_PER_SECOND);
        let claims = self.signer.verify(token, now, Some(&self.id), Some(TokenKind::Pass))?;
        session_live(&self.queue.lock(), claims.ticket, claims.issued_at)?;
        Ok(claims)
    }

    /// The proxy's check of a pass (`/v1/check`): the same as `verify_pass` without building
    /// the claims; returns the ticket id. One signature check and one look-up by ticket id.
    pub fn check_pass(&self, token: &str, now_seconds: Option<i64>) -> CoreResult<u32> {
        let now = now_seconds.unwrap_or_else(|| self.now().div_euclid(MICROS_PER_SECOND));
        let (_, ticket, issued_at, _) = self.signer.verify_fast(token, now, &self.id, Some(TokenKind::Pass))?;
        session_live(&self.queue.lock(), ticket, issued_at)?;
        Ok(ticket)
    }

    pub fn status(&self, token: &str) -> CoreResult<FullStatus> {
        self.status_at(token, None, self.now())
    }

    /// Status at `now`, for callers that read the clock already; `kind` refuses the other kind
    /// of token (`TokenWrongKind`) in the same check that verifies it.
    pub fn status_at(&self, token: &str, kind: Option<TokenKind>, now: i64) -> CoreResult<FullStatus> {
        // One signature check gives the ticket and the vouched identity an entry room's pass carries.
        let (kind, ticket, issued_at, subject) =
            self.signer.verify_fast_with_subject(token, now.div_euclid(MICROS_PER_SECOND), &self.id, kind)?;
        // The check of `issued_to` under the lock the status takes anyway: polls are the hot path.
        self.status_checked(ticket, now, Some((kind, issued_at, subject)))
    }

    /// Status by ticket id, for callers that verified the token themselves. Its pass carries no
    /// vouched identity: that comes from the visitor's token (see `status_at`).
    pub fn status_of(&self, ticket: u32, now: i64) -> CoreResult<FullStatus> {
        self.status_checked(ticket, now, None)
    }

    fn status_checked(
        &self,
        ticket: u32,
        now: i64,
        token: Option<(TokenKind, i64, Option<String>)>,
    ) -> CoreResult<FullStatus> {
        let (view, admitted_at, waitlist, entry_room) = {
            let mut queue = self.queue.lock();
            if let Some((kind, issued_at, _)) = &token {
                issued_to(&queue, *kind, ticket, *issued_at)?;
            }
            let view = queue.status(ticket, now)?;
            let waitlist = queue.config.returned_slots == ReturnedSlots::Waitlist;
            let entry_room = queue.config.identity == IdentityMode::Entry;
            (view, queue.tickets[ticket as usize].admitted_at, waitlist, entry_room)
        };
        let pass_token = view.pass_expires_at.map(|expires| {
            // Only an entry room's pass carries the identity, the one its ticket token vouched for.
            let subject = token.filter(|_| entry_room).and_then(|(_, _, subject)| subject);
            self.pass_token(ticket, admitted_at, expires, subject)
        });
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
        for (_, holder, state) in self.inventory.sweep(now) {
            report.holds_expired += 1;
            if state == SlotState::Returned {
                self.booking.lock().close_offer(holder);
            }
        }
        report.released = self.release_due_window(now, "schedule").unwrap_or(0);
        report.offers_made = self.make_offers(now);
        report
    }

    // ----- operator -----------------------------------------------------------------------------

    pub fn pause(&self, actor: &str) -> CoreResult<()> {
        check_audit(actor, None)?;
        self.queue.lock().pause();
        self.audit("pause", actor, 0, None);
        Ok(())
    }

    pub fn resume(&self, actor: &str) -> CoreResult<()> {
        check_audit(actor, None)?;
        let now = self.now();
        self.queue.lock().resume(now);
        self.audit("resume", actor, 0, None);
        Ok(())
    }

    pub fn set_queue_all(&self, on: bool, actor: &str) -> CoreResult<()> {
        check_audit(actor, None)?;
        self.queue.lock().set_queue_all(on);
        self.audit(if on { "queue_all_on" } else { "queue_all_off" }, actor, 0, None);
        Ok(())
    }

    /// Changes what may change while a room runs: rates, capacity, durations, closing time and
    /// booking rules, and the handoff URL. `opens_at`, the pre-queue mode and the seed are fixed
    /// once the room opened.
    pub fn update_config(&self, config: RoomConfig, handoff_url: Option<String>, actor: &str) -> CoreResult<()> {
        check_audit(actor, None)?;
        config.validate()?;
        let schedule = ReleaseSchedule::parse(&config.release_windows, &config.timezone)?;
        let now = self.now();
        let mut queue = self.queue.lock();
        queue.config.check_change(&config, queue.draw.is_some(), queue.closed, now)?;
        if queue.draw.is_none() {
            // Not open yet: admissions are earned from the (possibly moved) opening on.
            queue.accrued_until = config.opens_at;
            queue.last_tick = config.opens_at;
        } else {
            queue.accrue(now);
        }
        queue.reconfigure_meter(&config);
        if queue.journal.is_some() {
            let allowance = queue.allowance;
            let handoff_url = handoff_url.as_deref();
            queue.emit(&Event::Config { at: now, allowance, config: Cow::Borrowed(&config), handoff_url });
        }
        queue.config = config;
        *self.handoff_url.lock() = handoff_url;
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
        let state = room_state(queue.closed, now >= queue.config.opens_at, queue.paused, &availability);
        let next_release_window = self.booking.lock().schedule.next_at_or_after(now);
        RoomInfo {
            state,
            opens_in_seconds: crate::queue::seconds_between(now, queue.config.opens_at),
            waiting: queue.waiting_count(),
            active: queue.active,
            counters: queue.counters,
            admit_per_minute: queue.config.admit_per_minute,
            measured_per_minute: queue.line().measured_per_second().unwrap_or(queue.config.admit_per_second()) * 60.0,
            queue_all: queue.queue_all,
            availability,
            next_release_window,
        }
    }

    pub fn audit_log(&self) -> Vec<AuditEntry> {
        self.booking.lock().audit.clone()
    }

    /// Records in the audit log that an operator repaired the room's saved state: `dropped`
    /// records were left out, for `reason`. Journaled like every audit entry.
    pub fn record_repair(&self, actor: &str, dropped: u64, reason: &str) -> CoreResult<()> {
        check_audit(actor, Some(reason))?;
        self.audit("journal_repair", actor, dropped, Some(reason.to_owned()));
        Ok(())
    }

    /// Adds an audit entry; its actor and reason were checked (`check_audit`) where they came in.
    fn audit(&self, action: &str, actor: &str, count: u64, reason: Option<String>) {
        let entry = AuditEntry { at: self.now(), action: action.into(), actor: actor.into(), count, reason };
        self.booking.lock().push_audit(entry);
    }
}

/// Whether the session a pass stands for is still on: issued for the ticket's current
/// admission (else the pass of an earlier one counts as expired), and the ticket still
/// admitted (not left or completed; a session that ran out is refused by the pass's expiry
/// already, and by `SessionEnded` if the tick booked it first).
fn session_live(queue: &QueueState, ticket: u32, issued_at: i64) -> CoreResult<()> {
    issued_to(queue, TokenKind::Pass, ticket, issued_at)?;
    if queue.tickets[ticket as usize].state == TicketState::Admitted {
        Ok(())
    } else {
        Err(CoreError::SessionEnded)
    }
}

/// The actor and reason of an operator's change against their rules, before anything changes.
pub(crate) fn check_audit(actor: &str, reason: Option<&str>) -> CoreResult<()> {
    limits::check_audit(actor, reason).map_err(CoreError::InvalidArgument)
}

/// Whether a token with a valid signature was issued to the ticket as it is now: a ticket token
/// carries the join time, a pass the admission time. After a restart that lost changes (a
/// journal cut at a damaged record, or the "interval" fsync policy and a machine that went
/// down), a ticket id can be given out again, and the token of the lost ticket must not open
/// the new one's place. A pass of an earlier admission counts as expired.
fn issued_to(queue: &QueueState, kind: TokenKind, ticket: u32, issued_at: i64) -> CoreResult<()> {
    let record = queue.ticket(ticket)?;
    let (issued, stale) = match kind {
        TokenKind::Ticket => (record.joined_at, CoreError::UnknownTicket),
        TokenKind::Pass => (record.admitted_at, CoreError::TokenExpired),
    };
    if issued.div_euclid(MICROS_PER_SECOND) == issued_at {
        Ok(())
    } else {
        Err(stale)
    }
}
