//! The queue's state in a snapshot. Written: tickets, identities, pre-queue, draw, queue order,
//! cursor, allowance, flags, line measurement and counters. Rebuilt on reading: the waiting index,
//! the heap of sessions and the count of active ones, which follow from the tickets.

use std::cmp::Reverse;

use crate::codec::{Put, Reader};
use crate::errors::{CoreError, CoreResult};
use crate::events::{put_meter, read_meter_of};
use crate::position::WaitingIndex;
use crate::pseudonym::KEY_BYTES;
use crate::queue::{ticket_id, Counters, Draw, QueueState, Ticket, TicketState, NO_POSITION};
use crate::room_config::{PrequeueMode, RoomConfig};

/// Flag beside the state: the ticket was admitted once, so its pass times follow.
const HAS_PASS: u8 = 0x10;

fn corrupt(what: &str) -> CoreError {
    CoreError::JournalCorrupt(format!("the snapshot's queue: {what}"))
}

impl QueueState {
    /// Writes everything but the config (which the room writes beside its handoff URL).
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.put_varint(self.tickets.len() as u64);
        for ticket in &self.tickets {
            let state = TicketState::ALL
                .iter()
                .position(|&s| s == ticket.state)
                .and_then(|i| u8::try_from(i).ok())
                .unwrap_or(0);
            let has_pass = ticket.pass_expires_at != 0 || ticket.admitted_at != 0;
            out.put_u8(state | if has_pass { HAS_PASS } else { 0 });
            out.put_u32(ticket.position);
            out.put_i64(ticket.joined_at);
            out.put_i64(ticket.last_seen);
            out.put_u32(ticket.ahead_at_start);
            if has_pass {
                out.put_i64(ticket.admitted_at);
                out.put_i64(ticket.pass_expires_at);
            }
        }
        let mut identities: Vec<(u32, &str)> = self.identities.iter().map(|(k, &t)| (t, &**k)).collect();
        identities.sort_unstable();
        out.put_varint(identities.len() as u64);
        for (ticket, identity) in identities {
            out.put_u32(ticket);
            out.put_str(identity);
        }
        out.put_u32s(&self.prequeue);
        out.put_varint(self.prequeue_left);
        out.put_bool(self.draw.is_some());
        if let Some(draw) = &self.draw {
            out.put_varint(draw.seed);
            out.put_i64(draw.at);
            out.put_bool(draw.mode == PrequeueMode::Fifo);
            out.put_u32s(&draw.joined);
        }
        out.put_u32s(&self.order);
        out.put_varint(self.cursor as u64);
        out.put_f64(self.allowance);
        out.put_i64(self.accrued_until);
        out.put_i64(self.last_tick);
        out.put_bool(self.paused);
        out.put_bool(self.queue_all);
        out.put_bool(self.closed);
        put_meter(out, &self.meter);
        let c = &self.counters;
        for count in [c.joined, c.admitted, c.abandoned, c.left, c.completed, c.expired] {
            out.put_varint(count);
        }
    }

    /// A queue as `encode` of format `version` wrote it, for `config`, without a journal.
    pub(crate) fn decode(reader: &mut Reader<'_>, config: RoomConfig, version: u16) -> CoreResult<QueueState> {
        let mut queue = QueueState::new(config)?;
        let count = reader.count(19)?;
        queue.tickets.reserve_exact(count);
        for _ in 0..count {
            let flags = reader.u8()?;
            let state =
                *TicketState::ALL.get(usize::from(flags & 0x0f)).ok_or_else(|| corrupt("unknown ticket state"))?;
            let mut ticket = Ticket {
                state,
                position: reader.u32()?,
                joined_at: reader.i64()?,
                last_seen: reader.i64()?,
                ahead_at_start: reader.u32()?,
                admitted_at: 0,
                pass_expires_at: 0,
            };
            if flags & HAS_PASS != 0 {
                ticket.admitted_at = reader.i64()?;
                ticket.pass_expires_at = reader.i64()?;
            }
            queue.tickets.push(ticket);
        }
        for _ in 0..reader.count(2)? {
            let ticket = reader.u32()?;
            // A pseudonym (see `pseudonym`), or in a snapshot written before identities were
            // hashed the portal's value, hashed once the room has its key (`set_identity_key`).
            queue.identities.insert(reader.str()?.into(), ticket);
        }
        queue.prequeue = reader.u32s()?;
        queue.prequeue_left = reader.varint()?;
        if reader.bool()? {
            let seed = reader.varint()?;
            let at = reader.i64()?;
            let mode = if reader.bool()? { PrequeueMode::Fifo } else { PrequeueMode::Shuffle };
            queue.draw = Some(Draw { seed, at, mode, joined: reader.u32s()? });
        }
        queue.order = reader.u32s()?;
        queue.cursor = usize::try_from(reader.varint()?).map_err(|_| corrupt("cursor out of range"))?;
        queue.allowance = reader.f64()?;
        queue.accrued_until = reader.i64()?;
        queue.last_tick = reader.i64()?;
        queue.paused = reader.bool()?;
        queue.queue_all = reader.bool()?;
        queue.closed = reader.bool()?;
        queue.meter = read_meter_of(reader, version)?;
        let mut c = [0u64; 6];
        for count in &mut c {
            *count = reader.varint()?;
        }
        let [joined, admitted, abandoned, left, completed, expired] = c;
        queue.counters = Counters { joined, admitted, abandoned, left, completed, expired };
        queue.check_references()?;
        queue.rebuild_derived();
        Ok(queue)
    }

    /// The labels, a section after the inventory in the room's snapshot: nothing when there are
    /// none, unless `always` (a later section follows, so the count must be there).
    pub(crate) fn encode_labels(&self, out: &mut Vec<u8>, always: bool) {
        if self.labels.is_empty() && !always {
            return;
        }
        let mut labels: Vec<(u32, &str)> = self.labels.iter().map(|(&t, k)| (t, &**k)).collect();
        labels.sort_unstable();
        out.put_varint(labels.len() as u64);
        for (ticket, label) in labels {
            out.put_u32(ticket);
            out.put_str(label);
        }
    }

    /// Reads what `encode_labels` wrote.
    pub(crate) fn decode_labels(&mut self, reader: &mut Reader<'_>) -> CoreResult<()> {
        for _ in 0..reader.count(5)? {
            let ticket = reader.u32()?;
            if ticket as usize >= self.tickets.len() {
                return Err(corrupt("a label of no ticket"));
            }
            self.labels.insert(ticket, reader.str()?.into());
        }
        Ok(())
    }

    /// The identity key, the last section of the room's snapshot (the sections before it are
    /// then written, if need be empty); left out by rooms saved before identities were hashed.
    pub(crate) fn encode_identity_key(&self, out: &mut Vec<u8>) {
        if let Some(key) = &self.identity_key {
            out.extend_from_slice(key);
        }
    }

    /// Reads what `encode_identity_key` wrote.
    pub(crate) fn decode_identity_key(&mut self, reader: &mut Reader<'_>) -> CoreResult<()> {
        let mut key = [0u8; KEY_BYTES];
        for byte in &mut key {
            *byte = reader.u8()?;
        }
        // The identities read before it are pseudonyms under it already.
        self.identity_key = Some(key);
        Ok(())
    }

    /// Every id and position points where it may, so that nothing later indexes out of bounds.
    fn check_references(&self) -> CoreResult<()> {
        let tickets = self.tickets.len();
        let valid = |t: &u32| (*t as usize) < tickets;
        let draw_ok = self.draw.as_ref().is_none_or(|d| d.joined.iter().all(valid));
        if !(self.order.iter().all(valid) && self.prequeue.iter().all(valid) && draw_ok) {
            return Err(corrupt("a ticket id out of range"));
        }
        if self.identities.values().any(|t| !valid(t)) {
            return Err(corrupt("an identity of no ticket"));
        }
        if self.cursor > self.order.len() {
            return Err(corrupt("the cursor is past the end of the queue"));
        }
        let placed = |t: &Ticket| t.position == NO_POSITION || (t.position as usize) < self.order.len();
        if !self.tickets.iter().all(placed) {
            return Err(corrupt("a ticket's place is past the end of the queue"));
        }
        Ok(())
    }

    /// Recomputes the waiting index, the sessions and the active count from the tickets.
    fn rebuild_derived(&mut self) {
        let mut waiting = WaitingIndex::with_capacity(self.order.len());
        for position in 0..self.order.len() {
            waiting.push(self.waits_at(position));
        }
        self.waiting = waiting;
        self.sessions.clear();
        self.active = 0;
        for (t, ticket) in self.tickets.iter().enumerate() {
            if ticket.state == TicketState::Admitted {
                self.sessions.push(Reverse((ticket.pass_expires_at, ticket_id(t))));
                self.active += 1;
            }
        }
    }
}
