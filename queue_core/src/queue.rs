//! The fair queue of one room: tickets, the pre-queue, queue order, and what a ticket's status
//! says. Pure state transitions driven by an explicit `now` (micros); the admission tick lives in
//! `admission`, the locking and the tokens in `room`.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use crate::clock::MICROS_PER_SECOND;
use crate::errors::{CoreError, CoreResult};
use crate::eta::{CursorSpeed, Estimate};
use crate::position::WaitingIndex;
use crate::prequeue;
use crate::room_config::{IdentityMode, PrequeueMode, RoomConfig};

pub const NO_POSITION: u32 = u32::MAX;
pub const MAX_IDENTITY_LEN: usize = 256;

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
    pub identities: HashMap<Box<str>, u32>,
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
    pub speed: CursorSpeed,
    pub counters: Counters,
}

impl QueueState {
    pub fn new(config: RoomConfig) -> CoreResult<Self> {
        config.validate()?;
        let speed = CursorSpeed::new(config.admit_per_second());
        Ok(Self {
            accrued_until: config.opens_at,
            last_tick: config.opens_at,
            config,
            tickets: Vec::new(),
            identities: HashMap::new(),
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
            speed,
            counters: Counters::default(),
        })
    }

    pub fn is_open(&self, now: i64) -> bool {
        now >= self.config.opens_at && !self.closed
    }

    /// Joins the queue, or returns the ticket this identity (or resumed ticket) already has.
    /// Returns the ticket id and whether it is new.
    pub fn join(&mut self, now: i64, identity: Option<&str>, resume: Option<u32>) -> CoreResult<(u32, bool)> {
        self.advance_phase(now);
        if self.closed {
            return Err(CoreError::RoomClosed);
        }
        if let Some(pre) = self.config.prequeue_opens_at {
            if now < pre {
                return Err(CoreError::NotOpenYet { opens_in_seconds: seconds_between(now, pre) });
            }
        }
        if let Some(identity) = identity {
            if identity.is_empty() || identity.len() > MAX_IDENTITY_LEN {
                return Err(CoreError::InvalidArgument(format!("identity must be 1 to {MAX_IDENTITY_LEN} bytes")));
            }
        } else if self.config.identity == IdentityMode::Required {
            return Err(CoreError::IdentityRequired);
        }
        let existing = match identity {
            Some(identity) => self.identities.get(identity).copied(),
            None => None,
        };
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
                if self.draw.is_none() {
                    // Back into the pre-queue under its old entry: the draw makes the entry's
                    // place in the list meaningless, so this gains nothing.
                    ticket.state = TicketState::Prequeue;
                    self.prequeue_left -= 1;
                } else {
                    self.enqueue(t, now);
                }
            }
            return Ok((t, false));
        }
        let t = u32::try_from(self.tickets.len())
            .ok()
            .filter(|t| *t < NO_POSITION)
            .ok_or_else(|| CoreError::InvalidArgument("the room holds the most tickets it can".into()))?;
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
            self.enqueue(t, now);
        } else {
            self.prequeue.push(t);
        }
        Ok((t, true))
    }

    /// Puts a ticket at the tail of the queue, and lets it straight through when nobody waits and
    /// rate and capacity allow: the queue shows only when it is needed.
    fn enqueue(&mut self, t: u32, now: i64) {
        let position = self.order.len();
        self.order.push(t);
        self.waiting.push(true);
        let ahead = self.waiting.ahead_of(position);
        let ticket = &mut self.tickets[t as usize];
        ticket.state = TicketState::Waiting;
        ticket.position = position as u32;
        ticket.ahead_at_start = ahead as u32;
        if ahead == 0 && self.may_admit_at_once(now) {
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
        let position = self.tickets[t as usize].position as usize;
        self.waiting.remove(position);
        let expires = now + self.config.session_micros();
        let ticket = &mut self.tickets[t as usize];
        ticket.state = TicketState::Admitted;
        ticket.admitted_at = now;
        ticket.pass_expires_at = expires;
        self.sessions.push(Reverse((expires, t)));
        self.active += 1;
        self.allowance -= 1.0;
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
            self.close();
        }
    }

    fn open(&mut self, now: i64) {
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
            ticket.position = position as u32;
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

    fn close(&mut self) {
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
                view.eta = self.speed.estimate(distance);
            }
            TicketState::Admitted => view.pass_expires_at = Some(ticket.pass_expires_at),
            _ => {}
        }
        Ok(view)
    }

    /// Before the draw nobody knows their place: the honest answer is the opening time plus
    /// anything from no wait to the whole pre-queue's.
    fn prequeue_estimate(&self, opens_in_seconds: f64) -> Estimate {
        let whole = (self.prequeue.len() as u64 - self.prequeue_left) as f64 / self.config.admit_per_second();
        Estimate {
            low: opens_in_seconds,
            seconds: opens_in_seconds + whole / 2.0,
            high: opens_in_seconds + whole,
            known: false,
        }
    }

    /// Ends an admitted session whose pass has run out, so capacity is right even between ticks.
    fn expire_session(&mut self, t: u32, now: i64) -> CoreResult<()> {
        let ticket = self.ticket_mut(t)?;
        if ticket.state == TicketState::Admitted && now >= ticket.pass_expires_at {
            ticket.state = TicketState::Expired;
            self.active -= 1;
            self.counters.expired += 1;
        }
        Ok(())
    }

    /// The visitor gives up the place (or the session). Idempotent.
    pub fn leave(&mut self, t: u32, now: i64) -> CoreResult<TicketState> {
        self.advance_phase(now);
        let ticket = self.ticket_mut(t)?;
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
            _ => return Ok(before),
        }
        self.counters.left += 1;
        Ok(before)
    }

    /// The admitted visitor is done with booking: the session's capacity is free again.
    pub fn complete(&mut self, t: u32, now: i64) -> CoreResult<()> {
        self.expire_session(t, now)?;
        let ticket = self.ticket_mut(t)?;
        match ticket.state {
            TicketState::Admitted => {
                ticket.state = TicketState::Completed;
                self.active -= 1;
                self.counters.completed += 1;
                Ok(())
            }
            TicketState::Completed => Ok(()),
            TicketState::Expired => Err(CoreError::TokenExpired),
            _ => Err(CoreError::NotAdmitted),
        }
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

/// Seconds from `now` until `then`, never negative.
pub fn seconds_between(now: i64, then: i64) -> f64 {
    (then - now).max(0) as f64 / MICROS_PER_SECOND as f64
}
