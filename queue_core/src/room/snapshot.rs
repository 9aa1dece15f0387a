//! A room's whole state as one snapshot, taken consistently: every lock that guards a
//! journaled change is held while the state is read, and the journal is drained at the same
//! moment, so the snapshot and the records after it meet exactly.
//!
//! Body: config and handoff URL, queue, booking state, inventory (see each part's `encode`),
//! then the tickets' labels, the cancelled bookings and the room's identity key, each section
//! written when it holds something or a later one follows (an empty one then as a zero count).
//! Snapshots written before a section existed read as having none of it.

use crate::codec::{put_config, read_config, Put, Reader};
use crate::errors::CoreResult;
use crate::inventory::Inventory;
use crate::journal::snapshot_file;
use crate::queue::QueueState;
use crate::schedule::ReleaseSchedule;

use super::booking_state::BookingState;
use super::Room;

/// What a snapshot restores, before it becomes a `Room`.
pub(super) struct Parts {
    pub(super) queue: QueueState,
    pub(super) inventory: Inventory,
    pub(super) booking: BookingState,
    pub(super) handoff_url: Option<String>,
}

impl Room {
    /// The snapshot file of this room for journal `generation`, and the journal records that
    /// were not drained before it. Those records are already part of the snapshot; they belong
    /// at the end of the previous generation's journal, which stays readable that way should
    /// this snapshot never reach the disk.
    pub fn snapshot(&self, generation: u64) -> (Vec<u8>, Vec<u8>) {
        let mut body = Vec::new();
        // Lock order as everywhere: queue, booking, then the inventory's locks and the journal.
        let queue = self.queue.lock();
        let booking = self.booking.lock();
        put_config(&mut body, &queue.config, self.handoff_url.lock().as_deref());
        queue.encode(&mut body);
        booking.encode(&mut body);
        // The sections after the inventory are each left out when empty and nothing follows,
        // so that snapshots written before a section existed read as having none of it.
        let mut cancelled = Vec::new();
        let pending = self.inventory.encode_and_drain(&mut body, &mut cancelled);
        let key_follows = queue.identity_key.is_some();
        if cancelled.is_empty() && key_follows {
            cancelled.put_varint(0);
        }
        queue.encode_labels(&mut body, !cancelled.is_empty());
        body.extend_from_slice(&cancelled);
        queue.encode_identity_key(&mut body);
        drop(booking);
        drop(queue);
        (snapshot_file(&self.id, generation, &body), pending)
    }
}

impl Parts {
    /// A room's parts from a snapshot body of format `version` (see `journal::Header`).
    pub(super) fn decode(body: &[u8], version: u16) -> CoreResult<Parts> {
        let mut reader = Reader::new(body);
        let (config, handoff_url) = read_config(&mut reader)?;
        let handoff_url = handoff_url.map(str::to_owned);
        let schedule = ReleaseSchedule::parse(&config.release_windows, &config.timezone)?;
        let mut queue = QueueState::decode(&mut reader, config, version)?;
        let booking = BookingState::decode(&mut reader, schedule)?;
        let mut inventory = Inventory::decode(&mut reader)?;
        if !reader.is_empty() {
            queue.decode_labels(&mut reader)?;
        }
        if !reader.is_empty() {
            inventory.decode_cancelled(&mut reader)?;
        }
        if !reader.is_empty() {
            queue.decode_identity_key(&mut reader)?;
        }
        reader.finish()?;
        Ok(Parts { queue, inventory, booking, handoff_url })
    }
}
