//! The booking side of a room that is not per slot: the release schedule, how far returned
//! slots were released, open waiting-list offers, how far down the line each returned slot was
//! offered, and the audit log. Every change goes through a method here that journals it, and
//! replay calls the same methods, so the two cannot drift apart.

use std::collections::HashMap;
use std::sync::Arc;

use crate::codec::{Put, Reader};
use crate::errors::{CoreError, CoreResult};
use crate::events::Event;
use crate::journal::JournalSink;
use crate::schedule::ReleaseSchedule;

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

#[derive(Debug)]
pub(super) struct BookingState {
    pub(super) schedule: ReleaseSchedule,
    /// The latest release window whose returned slots were released.
    pub(super) windows_done_until: i64,
    /// Open waiting-list offers, ticket → slot.
    pub(super) offers: HashMap<u32, Offer>,
    /// Queue position of the last visitor each returned slot was offered to: a declined or
    /// lapsed offer moves on down the line and never comes back to the same visitor.
    pub(super) offered_down_to: HashMap<String, usize>,
    pub(super) audit: Vec<AuditEntry>,
    pub(super) journal: Option<Arc<JournalSink>>,
}

impl BookingState {
    pub(super) fn new(schedule: ReleaseSchedule, now: i64) -> Self {
        Self {
            schedule,
            windows_done_until: now,
            offers: HashMap::new(),
            offered_down_to: HashMap::new(),
            audit: Vec::new(),
            journal: None,
        }
    }

    fn emit(&self, event: &Event<'_>) {
        if let Some(journal) = &self.journal {
            journal.append(event);
        }
    }

    /// Offers `slot` to the waiting `ticket` at queue `position` until `until`.
    pub(super) fn open_offer(&mut self, ticket: u32, slot: String, until: i64, position: usize) {
        self.emit(&Event::OfferOpened { ticket, slot: &slot, until, position: position as u64 });
        self.offered_down_to.insert(slot.clone(), position);
        self.offers.insert(ticket, Offer { slot, until });
    }

    /// Forgets the ticket's offer (taken, declined, lapsed); returns it if there was one.
    pub(super) fn close_offer(&mut self, ticket: u32) -> Option<Offer> {
        let offer = self.offers.remove(&ticket);
        if offer.is_some() {
            self.emit(&Event::OfferClosed { ticket });
        }
        offer
    }

    /// The slot's next offer starts from the head of the queue again.
    pub(super) fn clear_trail(&mut self, slot: &str) {
        if self.offered_down_to.remove(slot).is_some() {
            self.emit(&Event::TrailCleared { slot });
        }
    }

    pub(super) fn set_windows_done(&mut self, until: i64) {
        self.windows_done_until = until;
        self.emit(&Event::WindowsDone { until });
    }

    pub(super) fn push_audit(&mut self, entry: AuditEntry) {
        self.emit(&Event::Audited {
            at: entry.at,
            action: &entry.action,
            actor: &entry.actor,
            count: entry.count,
            reason: entry.reason.as_deref(),
        });
        self.audit.push(entry);
    }

    /// Applies one journaled event if it concerns this state; returns whether it did.
    pub(super) fn apply(&mut self, event: &Event<'_>) -> bool {
        debug_assert!(self.journal.is_none(), "replay must not journal again");
        match *event {
            Event::OfferOpened { ticket, slot, until, position } => {
                self.open_offer(ticket, slot.to_owned(), until, usize::try_from(position).unwrap_or(usize::MAX));
            }
            Event::OfferClosed { ticket } => {
                self.close_offer(ticket);
            }
            Event::TrailCleared { slot } => self.clear_trail(slot),
            Event::WindowsDone { until } => self.set_windows_done(until),
            Event::Audited { at, action, actor, count, reason } => self.push_audit(AuditEntry {
                at,
                action: action.to_owned(),
                actor: actor.to_owned(),
                count,
                reason: reason.map(str::to_owned),
            }),
            _ => return false,
        }
        true
    }

    /// Writes everything but the schedule, which follows from the config.
    pub(super) fn encode(&self, out: &mut Vec<u8>) {
        out.put_i64(self.windows_done_until);
        let mut offers: Vec<_> = self.offers.iter().collect();
        offers.sort_unstable_by_key(|(ticket, _)| **ticket);
        out.put_varint(offers.len() as u64);
        for (ticket, offer) in offers {
            out.put_u32(*ticket);
            out.put_str(&offer.slot);
            out.put_i64(offer.until);
        }
        let mut trails: Vec<_> = self.offered_down_to.iter().collect();
        trails.sort_unstable();
        out.put_varint(trails.len() as u64);
        for (slot, position) in trails {
            out.put_str(slot);
            out.put_varint(*position as u64);
        }
        out.put_varint(self.audit.len() as u64);
        for entry in &self.audit {
            out.put_i64(entry.at);
            out.put_str(&entry.action);
            out.put_str(&entry.actor);
            out.put_varint(entry.count);
            out.put_opt_str(entry.reason.as_deref());
        }
    }

    pub(super) fn decode(reader: &mut Reader<'_>, schedule: ReleaseSchedule) -> CoreResult<Self> {
        let mut state = Self::new(schedule, reader.i64()?);
        for _ in 0..reader.count(10)? {
            let ticket = reader.u32()?;
            let slot = reader.str()?.to_owned();
            state.offers.insert(ticket, Offer { slot, until: reader.i64()? });
        }
        for _ in 0..reader.count(2)? {
            let slot = reader.str()?.to_owned();
            let position = usize::try_from(reader.varint()?)
                .map_err(|_| CoreError::JournalCorrupt("an offer position out of range".into()))?;
            state.offered_down_to.insert(slot, position);
        }
        for _ in 0..reader.count(12)? {
            state.audit.push(AuditEntry {
                at: reader.i64()?,
                action: reader.str()?.to_owned(),
                actor: reader.str()?.to_owned(),
                count: reader.varint()?,
                reason: reader.opt_str()?.map(str::to_owned),
            });
        }
        Ok(state)
    }
}
