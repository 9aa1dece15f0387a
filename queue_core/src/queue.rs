//! The fair queue of one room: tickets, the pre-queue, queue order, and what a ticket's status
//! says. Pure state transitions driven by an explicit `now` (micros); the admission tick lives in
//! `admission`, the locking and the tokens in `room`.
//!
//! Rules (may this ticket pass now?) are kept apart from the state changes they decide on
//! (`add_ticket`, `place_at_tail`, `grant_pass`, `mark_*`). Each change records its outcome in
//! the room's journal, and replay (`replay`) calls the same changes without the rules.

mod replay;
pub(crate) mod snapshot;
mod status;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;

use crate::clock::MICROS_PER_SECOND;
use crate::errors::{CoreError, CoreResult};
use crate::eta::{Estimate, Line, LineMeter};
use crate::events::Event;
use crate::journal::JournalSink;
use crate::limits;
use crate::position::WaitingIndex;
use crate::prequeue;
use crate::pseudonym::{self, IdentityKey};
use crate::room_config::{IdentityMode, PrequeueMode, RoomConfig};

pub const NO_POSITION: u32 = u32::MAX;

/// A ticket id, or a place in the queue, from an index. `join` refuses a ticket once the ids
/// reach `NO_POSITION`, so this never fails; were it to, failing beats wrapping into the id of
/// another visitor.
pub(crate) fn ticket_id(index: usize) -> u32 {
    u32::try_from(index).expect("join keeps ticket ids below NO_POSITION")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketState {
    Prequeue,
    Waiting,
    Admitted,
    Completed,
    Expired,
    Abandoned,
    Left,
    Closed,
}

impl TicketState {
    /// Every state. Snapshots save a state as its index here: new states go at the end.
    pub const ALL: [TicketState; 8] = [
        Self::Prequeue,
        Self::Waiting,
        Self::Admitted,
        Self::Completed,
        Self::Expired,
        Self::Abandoned,
        Self::Left,
        Self::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Prequeue => "prequeue",
            Self::Waiting => "waiting",
            Self::Admitted => "admitted",
            Self::Completed => "completed",
            Self::Expired => "expired",
            Self::Abandoned => "abandoned",
            Self::Left => "left",
            Self::Closed => "closed",
        }
    }

    /// The state of a name `as_str` gives.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "prequeue" => Self::Prequeue,
            "waiting" => Self::Waiting,
            "admitted" => Self::Admitted,
            "completed" => Self::Completed,
            "expired" => Self::Expired,
            "abandoned" => Self::Abandoned,
            "left" => Self::Left,
            "closed" => Self::Closed,
            _ => return None,
        })
    }

    /// States from which joining again puts the ticket back at the end of the line: the visitor
    /// lost the turn without booking. A completed ticket had its turn and gets no second one.
    fn may_requeue(self) -> bool {
        matches!(self, Self::Abandoned | Self::Left | Self::Expired)
    }
}

#[derive(Debug, Clone)]
pub struct Ticket {
    pub state: TicketState,
    /// Place in `QueueState::order`, or `NO_POSITION` while in the pre-queue.
    pub position: u32,
    pub joined_at: i64,
    pub last_seen: i64,
    pub admitted_at: i64,
    pub pass_expires_at: i64,
    /// Waiting tickets ahead when this ticket got its place (for a progress bar).
    pub ahead_at_start: u32,
}

/// What the draw at opening did, kept so that it can be audited and reproduced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draw {
    pub seed: u64,
    pub at: i64,
    /// Ticket ids of the pre-queue in join order; `prequeue::draw_order(len, seed)` applied to
    /// this list gives the queue order.
    pub joined: Vec<u32>,
    pub mode: PrequeueMode,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    pub joined: u64,
    pub admitted: u64,
    pub abandoned: u64,
    pub left: u64,
    pub completed: u64,
    pub expired: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StatusView {
    pub ticket: u32,
    pub state: TicketState,
    pub ahead: Option<u64>,
    pub ahead_at_start: Option<u64>,
    pub eta: Estimate,
    pub opens_in_seconds: f64,
    pub pass_expires_at: Option<i64>,
    pub paused: bool,
}

#[derive(Debug)]
pub struct QueueState {
    pub config: RoomConfig,
    pub tickets: Vec<Ticket>,
    /// The identity index: a vouched identity finds its ticket (one person, one place). Keyed
    /// by pseudonym (`pseudonym::digest` under `identity_key`), never by the portal's value.
    /// An entry room's tickets and passes carry the value itself (`sub`), for the booking
    /// site; the room takes it from the visitor's token, so it keeps none.
    pub identities: HashMap<Box<str>, u32>,
    /// The key of the pseudonyms; `None` only while a room saved before identities were hashed
    /// is being restored.
    pub identity_key: Option<IdentityKey>,
    /// Labels by ticket: what a visitor's client said about itself, kept for the portal's own
    /// correlation. A label proves nothing, so it never finds a ticket.
    pub labels: HashMap<u32, Box<str>>,
    /// Ticket ids in join order until the room opens (those who left stay, marked `Left`).
    pub prequeue: Vec<u32>,
    pub prequeue_left: u64,
    pub draw: Option<Draw>,
    /// Ticket id per queue position. A requeued ticket leaves a stale entry behind, recognised
    /// by `tickets[id].position != index`.
    pub order: Vec<u32>,
    pub waiting: WaitingIndex,
    /// The next position the admission tick looks at; every position before it is settled.
    pub cursor: usize,
    pub active: u32,
    /// (pass expiry, ticket) of admitted sessions; stale entries are skipped when popped.
    pub sessions: BinaryHeap<Reverse<(i64, u32)>>,
    pub allowance: f64,
    pub accrued_until: i64,
    pub last_tick: i64,
    pub paused: bool,
    pub queue_all: bool,
    pub closed: bool,
    /// What the admission tick measured of how fast the line moves (see `eta`).
    pub meter: LineMeter,
    pub counters: Counters,
    /// Where every change is recorded, when the room is journaled.
    pub journal: Option<Arc<JournalSink>>,
}

impl QueueState {
    /// A queue for `config`, new or restored; `config` must be sound (`check_sound`). Today's
    /// ranges are the business of whoever takes the config as input (`Room::create`).
    pub fn new(config: RoomConfig) -> CoreResult<Self> {
        config.check_sound()?;
        Ok(Self {
            accrued_until: config.opens_at,
            last_tick: config.opens_at,
            config,
            tickets: Vec::new(),
            identities: HashMap::new(),
            identity_key: None,
            labels: HashMap::new(),
            prequeue: Vec::new(),
            prequeue_left: 0,
            draw: None,
            order: Vec::new(),
            waiting: WaitingIndex::new(),
            cursor: 0,
            active: 0,
            sessions: BinaryHeap::new(),
            allowance: 0.0,
            paused: false,
            queue_all: false,
            closed: false,
            meter: LineMeter::default(),
            counters: Counters::default(),
            journal: None,
        })
    }

    /// Everything a wait estimate rests on, now.
    pub fn line(&self) -> Line {
        Line {
            admit_per_second: self.config.admit_per_second(),
            max_active: self.config.max_active,
            session_seconds: f64::from(self.config.session_seconds),
            active: self.active,
            paused: self.paused,
            ended_early: self.counters.completed,
            expired: self.counters.expired,
            meter: self.meter,
        }
    }

    /// The settings change to `config`: an operator's new rate restarts the measurement.
    pub(crate) fn reconfigure_meter(&mut self, config: &RoomConfig) {
        if config.admit_per_minute.to_bits() != self.config.admit_per_minute.to_bits() {
            self.meter.restart();
        }
    }

    pub(crate) fn emit(&self, event: &Event<'_>) {
        if let Some(journal) = &self.journal {
            journal.append(event);
        }
    }

    pub fn is_open(&self, now: i64) -> bool {
        now >= self.config.opens_at && !self.closed
    }

    /// Joins the queue, or returns the ticket this identity (or resumed ticket) already has.
    /// Returns the ticket id and whether it is new.
    pub fn join(&mut self, now: i64, identity: Option<&str>, resume: Option<u32>) -> CoreResult<(u32, bool)> {
        self.join_labelled(now, identity, None, resume)
    }

    /// `join`, where a new ticket also gets `label`. The label neither finds nor blocks a ticket:
    /// whoever knows it may send it. A room with `identity = "required"` takes a label for the
    /// identity it requires.
    pub fn join_labelled(
        &mut self,
        now: i64,
        identity: Option<&str>,
        label: Option<&str>,
        resume: Option<u32>,
    ) -> CoreResult<(u32, bool)> {
        self.advance_phase(now);
        if self.closed {
            return Err(CoreError::RoomClosed);
        }
        if let Some(pre) = self.config.prequeue_opens_at {
            if now < pre {
                return Err(CoreError::NotOpenYet { opens_in_seconds: seconds_between(now, pre), opens_at: pre });
            }
        }
        for text in identity.iter().chain(label.iter()) {
            limits::IDENTITY.check_unshown(text).map_err(CoreError::InvalidArgument)?;
        }
        if identity.is_none() && label.is_none() && self.config.identity == IdentityMode::Required {
            return Err(CoreError::IdentityRequired);
        } else if self.config.identity == IdentityMode::Entry && identity.is_none() && resume.is_none() {
            // The caller turns a verified entry token into the identity; without one, only a
            // ticket this visitor holds already lets them back in.
            return Err(CoreError::EntryRequired);
        }
        let stored = identity.map(|identity| self.stored_identity(identity));
        let existing = stored.as_deref().and_then(|stored| self.identities.get(stored).copied());
        let existing = match (existing, resume) {
            (Some(t), _) => Some(t),
            (None, Some(t)) if (t as usize) < self.tickets.len() => Some(t),
            (None, Some(_)) => return Err(CoreError::UnknownTicket),
            (None, None) => None,
        };
        if let Some(t) = existing {
            let ticket = &mut self.tickets[t as usize];
            ticket.last_seen = now;
            if ticket.state.may_requeue() {
                self.emit(&Event::Requeued { ticket: t, at: now });
                self.requeue(t, now);
                if self.draw.is_some() {
                    self.admit_at_once_if_free(t, now);
                }
            }
            return Ok((t, false));
        }
        let t = u32::try_from(self.tickets.len())
            .ok()
            .filter(|t| *t < NO_POSITION)
            .ok_or_else(|| CoreError::InvalidArgument("the room holds the most tickets it can".into()))?;
        self.emit(&Event::Joined { ticket: t, at: now, identity: stored.as_deref() });
        self.add_ticket(now, stored.as_deref());
        if let Some(label) = label {
            self.emit(&Event::Labelled { ticket: t, label });
            self.labels.insert(t, label.into());
        }
        if self.draw.is_some() {
            self.admit_at_once_if_free(t, now);
        }
        Ok((t, true))
    }

    /// What the identity index keeps of `identity`: its pseudonym.
    fn stored_identity(&self, identity: &str) -> String {
        match &self.identity_key {
            Some(key) => pseudonym::digest(key, identity),
            None => identity.to_owned(), // restoring a room saved before identities were hashed
        }
    }

    /// Sets the room's identity key. The first time, identities already in the index came from
    /// a room saved before identities were hashed: they are hashed now.
    pub fn set_identity_key(&mut self, key: IdentityKey) {
        if self.identity_key.is_none() {
            self.identities =
                self.identities.drain().map(|(identity, t)| (pseudonym::digest(&key, &identity).into(), t)).collect();
        }
        self.identity_key = Some(key);
    }

    /// A new ticket: into the pre-queue before the draw, else to the tail of the queue.
    /// `identity` is as the index keeps it (`stored_identity`).
    pub(crate) fn add_ticket(&mut self, now: i64, identity: Option<&str>) -> u32 {
        let t = ticket_id(self.tickets.len());
        self.tickets.push(Ticket {
            state: TicketState::Prequeue,
            position: NO_POSITION,
            joined_at: now,
            last_seen: now,
            admitted_at: 0,
            pass_expires_at: 0,
            ahead_at_start: 0,
        });
        if let Some(identity) = identity {
            self.identities.insert(identity.into(), t);
        }
        self.counters.joined += 1;
        if self.draw.is_some() {
            self.place_at_tail(t);
        } else {
            self.prequeue.push(t);
        }
        t
    }

    /// A ticket that lost its turn joins again: at the tail of the queue, or, before the draw,
    /// back in the pre-queue where it still has its entry.
    pub(crate) fn requeue(&mut self, t: u32, now: i64) {
        self.tickets[t as usize].last_seen = now;
        if self.draw.is_some() {
            self.place_at_tail(t);
        } else {
            // Back into the pre-queue under its old entry: the draw makes the entry's place in
            // the list meaningless, so this gains nothing.
            self.tickets[t as usize].state = TicketState::Prequeue;
            self.prequeue_left -= 1;
        }
    }

    /// Puts a ticket at the tail of the queue, waiting.
    pub(crate) fn place_at_tail(&mut self, t: u32) {
        let position = self.order.len();
        self.order.push(t);
        self.waiting.push(true);
        let ahead = self.waiting.ahead_of(position);
        let ticket = &mut self.tickets[t as usize];
        ticket.state = TicketState::Waiting;
        ticket.position = ticket_id(position);
        ticket.ahead_at_start = u32::try_from(ahead).expect("fewer tickets wait than exist");
    }

    /// Lets a ticket just placed at the tail straight through when nobody waits ahead and rate
    /// and capacity allow: the queue shows only when it is needed.
    fn admit_at_once_if_free(&mut self, t: u32, now: i64) {
        let ticket = &self.tickets[t as usize];
        let position = ticket.position as usize;
        if ticket.ahead_at_start == 0 && self.may_admit_at_once(now) {
            self.settle_cursor();
            debug_assert_eq!(self.cursor, position);
            self.admit(t, now);
            self.cursor += 1;
        }
    }

    fn may_admit_at_once(&mut self, now: i64) -> bool {
        if self.paused || self.queue_all || !self.is_open(now) || self.active >= self.config.max_active {
            return false;
        }
        self.accrue(now);
        self.allowance >= 1.0
    }

    /// Moves the cursor over positions that no longer wait.
    fn settle_cursor(&mut self) {
        while self.cursor < self.order.len() && !self.waits_at(self.cursor) {
            self.cursor += 1;
        }
    }

    pub(crate) fn waits_at(&self, position: usize) -> bool {
        let ticket = &self.tickets[self.order[position] as usize];
        ticket.state == TicketState::Waiting && ticket.position as usize == position
    }

    pub(crate) fn admit(&mut self, t: u32, now: i64) {
        let expires = now + self.config.session_micros();
        self.grant_pass(t, now, expires);
        self.allowance -= 1.0;
        self.emit(&Event::Admitted { ticket: t, at: now, expires, allowance: self.allowance });
    }

    /// A waiting ticket gets a pass until `expires`.
    pub(crate) fn grant_pass(&mut self, t: u32, now: i64, expires: i64) {
        let position = self.tickets[t as usize].position as usize;
        self.waiting.remove(position);
        let ticket = &mut self.tickets[t as usize];
        ticket.state = TicketState::Admitted;
        ticket.admitted_at = now;
        ticket.pass_expires_at = expires;
        self.sessions.push(Reverse((expires, t)));
        self.active += 1;
        self.counters.admitted += 1;
    }

    /// Adds rate × elapsed to the admission allowance, never for time before opening or while
    /// paused, and caps it at one second's worth so a quiet spell cannot build a flood.
    pub(crate) fn accrue(&mut self, now: i64) {
        let from = self.accrued_until.max(self.config.opens_at);
        if now <= from {
            return;
        }
        self.accrued_until = now;
        if self.paused {
            return;
        }
        let rate = self.config.admit_per_second();
        let earned = rate * (now - from) as f64 / MICROS_PER_SECOND as f64;
        self.allowance = (self.allowance + earned).min(rate.max(1.0));
    }

    /// Opens the room (the pre-queue draw) and closes it when their times have come. Every entry
    /// point calls this first, so no caller can skip or advance either.
    pub fn advance_phase(&mut self, now: i64) {
        if self.draw.is_none() && now >= self.config.opens_at {
            self.open(now);
        }
        if !self.closed && self.config.closes_at.is_some_and(|c| now >= c) {
            self.close(now);
        }
    }

    pub(crate) fn open(&mut self, now: i64) {
        self.emit(&Event::Opened { at: now });
        let joined = std::mem::take(&mut self.prequeue);
        self.prequeue_left = 0;
        let mut order = joined.clone();
        if self.config.prequeue == PrequeueMode::Shuffle {
            prequeue::shuffle(&mut order, self.config.seed);
        }
        self.order.reserve(order.len());
        let all_waiting = order.iter().all(|t| self.tickets[*t as usize].state == TicketState::Prequeue);
        if all_waiting {
            self.waiting.extend_waiting(order.len());
        }
        let mut ahead = 0u32;
        for (position, t) in order.iter().enumerate() {
            let ticket = &mut self.tickets[*t as usize];
            let waits = ticket.state == TicketState::Prequeue;
            if !all_waiting {
                self.waiting.push(waits);
            }
            ticket.position = ticket_id(position);
            if waits {
                // Pre-queue pages poll slowly; everyone gets a full heartbeat period from
                // opening before counting as gone.
                ticket.last_seen = ticket.last_seen.max(now);
                ticket.state = TicketState::Waiting;
                ticket.ahead_at_start = ahead;
                ahead += 1;
            }
        }
        self.order = order;
        self.draw = Some(Draw { seed: self.config.seed, at: now, joined, mode: self.config.prequeue });
    }

    pub(crate) fn close(&mut self, now: i64) {
        self.emit(&Event::Closed { at: now });
        self.closed = true;
        for position in self.cursor..self.order.len() {
            if self.waits_at(position) {
                self.waiting.remove(position);
                self.tickets[self.order[position] as usize].state = TicketState::Closed;
            }
        }
        for t in std::mem::take(&mut self.prequeue) {
            let ticket = &mut self.tickets[t as usize];
            if ticket.state == TicketState::Prequeue {
                ticket.state = TicketState::Closed;
            }
        }
        self.prequeue_left = 0;
        self.cursor = self.order.len();
    }

    fn ticket_mut(&mut self, t: u32) -> CoreResult<&mut Ticket> {
        self.tickets.get_mut(t as usize).ok_or(CoreError::UnknownTicket)
    }

    pub fn ticket(&self, t: u32) -> CoreResult<&Ticket> {
        self.tickets.get(t as usize).ok_or(CoreError::UnknownTicket)
    }

    /// Deletes what in the queue names or describes a person: the identity index (pseudonyms,
    /// but each still tells a returning person's value from others) and the labels. Tickets keep their numbers, states and times
    /// (the room's counts), which say nothing about who held them once these are gone. Returns
    /// how many identities and labels there were.
    pub fn forget_personal_data(&mut self, now: i64) -> (u64, u64) {
        self.emit(&Event::Forgotten { at: now });
        let identities = self.identities.len() as u64;
        let labels = self.labels.len() as u64;
        // Replaced rather than cleared, so that the memory they held goes back too.
        self.identities = HashMap::new();
        self.labels = HashMap::new();
        (identities, labels)
    }

    /// Whether anything `forget_personal_data` deletes is there.
    pub fn holds_personal_data(&self) -> bool {
        !(self.identities.is_empty() && self.labels.is_empty())
    }

    /// Ends an admitted session whose pass has run out, so capacity is right even between ticks.
    fn expire_session(&mut self, t: u32, now: i64) -> CoreResult<()> {
        let ticket = self.ticket_mut(t)?;
        if ticket.state == TicketState::Admitted && now >= ticket.pass_expires_at {
            self.mark_expired(t);
        }
        Ok(())
    }

    /// An admitted session ran out.
    pub(crate) fn mark_expired(&mut self, t: u32) {
        self.tickets[t as usize].state = TicketState::Expired;
        self.active -= 1;
        self.counters.expired += 1;
        self.emit(&Event::Expired { ticket: t });
    }

    /// The visitor gives up the place (or the session). Idempotent.
    pub fn leave(&mut self, t: u32, now: i64) -> CoreResult<TicketState> {
        self.advance_phase(now);
        self.ticket(t)?;
        Ok(self.mark_left(t))
    }

    /// The ticket gives up whatever it had; returns the state it was in.
    pub(crate) fn mark_left(&mut self, t: u32) -> TicketState {
        let ticket = &mut self.tickets[t as usize];
        let before = ticket.state;
        match before {
            TicketState::Prequeue => {
                ticket.state = TicketState::Left;
                self.prequeue_left += 1;
            }
            TicketState::Waiting => {
                ticket.state = TicketState::Left;
                let position = ticket.position as usize;
                self.waiting.remove(position);
            }
            TicketState::Admitted => {
                ticket.state = TicketState::Left;
                self.active -= 1;
            }
            _ => return before,
        }
        self.counters.left += 1;
        self.emit(&Event::Left { ticket: t });
        before
    }

    /// The admitted visitor is done with booking: the session's capacity is free again.
    pub fn complete(&mut self, t: u32, now: i64) -> CoreResult<()> {
        self.expire_session(t, now)?;
        let ticket = self.ticket_mut(t)?;
        match ticket.state {
            TicketState::Admitted => {
                self.mark_completed(t);
                Ok(())
            }
            TicketState::Completed => Ok(()),
            TicketState::Expired => Err(CoreError::TokenExpired),
            _ => Err(CoreError::NotAdmitted),
        }
    }

    pub(crate) fn mark_completed(&mut self, t: u32) {
        self.tickets[t as usize].state = TicketState::Completed;
        self.active -= 1;
        self.counters.completed += 1;
        self.emit(&Event::Completed { ticket: t });
    }
}

/// Seconds from `now` until `then`, never negative.
pub fn seconds_between(now: i64, then: i64) -> f64 {
    (then - now).max(0) as f64 / MICROS_PER_SECOND as f64
}
