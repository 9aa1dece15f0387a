//! Rebuilding a room after a restart: the latest snapshot, then the journal segments written
//! after it, record by record.
//!
//! A record that is unfinished (the crash came mid-write) or damaged ends the replay: the
//! report says where and why, and everything after it is left out, never half applied. The
//! report also says what was left out (`Unapplied`), and whether it is a torn tail (see
//! `unapplied`): only then may the embedding program cut it without an operator. A journal
//! header that is damaged (not one of another format or version) ends the replay the same way,
//! before the file's first record. A record that passes its checksum but cannot be decoded or
//! does not fit the state is another matter (files of another room or generation, a bug): that
//! stops the restore with an error, because guessing could book a slot twice.

use std::sync::Arc;

use crate::clock::SharedClock;
use crate::errors::{CoreError, CoreResult};
use crate::events::Event;
use crate::inventory::Inventory;
use crate::journal::{next_frame, read_journal_header, read_snapshot_file, BadFrame, JournalSink};
use crate::queue::{QueueState, TicketState};
use crate::schedule::ReleaseSchedule;
use crate::token::Signer;

use super::booking_state::BookingState;
use super::snapshot::Parts;
use super::unapplied::Unapplied;
use super::Room;

/// Where replay stopped early.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalCut {
    /// Index of the journal segment (in the order given) that holds the bad record.
    pub segment: usize,
    /// Length of the segment's good part: the file may be truncated to it.
    pub offset: usize,
    /// What was wrong, for the log.
    pub reason: String,
    /// Bytes after `offset` that were not applied.
    pub dropped_bytes: usize,
    /// Segments after the bad one, not applied either.
    pub segments_skipped: usize,
    /// The records from the damaged one on (in this segment and the later ones).
    pub unapplied: Unapplied,
    /// What a crash leaves: an unfinished last record, nothing whole after it.
    torn: bool,
}

impl JournalCut {
    /// Whether this is what a crash leaves: an unfinished record and nothing whole after it,
    /// so cutting it loses nothing that was written whole. Otherwise it is damage, and cutting
    /// it drops `unapplied`.
    pub fn torn_tail(&self) -> bool {
        self.torn
    }

    /// A cut at the record at `at` of `segments[index]`, which `bad` says is not good.
    fn at_record(segments: &[&[u8]], index: usize, at: usize, bad: BadFrame, known: Option<&Inventory>) -> Self {
        let unapplied = Unapplied::after_damage(segments, index, at, known);
        JournalCut {
            segment: index,
            offset: at,
            reason: bad.reason,
            dropped_bytes: segments[index].len() - at,
            segments_skipped: segments.len() - index - 1,
            torn: bad.unfinished && unapplied.records == 0,
            unapplied,
        }
    }

    /// A cut before the first record of `segments[index]`, whose header is `unfinished` (the
    /// file ends inside it) or damaged.
    fn at_header(
        segments: &[&[u8]],
        index: usize,
        unfinished: bool,
        reason: String,
        known: Option<&Inventory>,
    ) -> Self {
        let unapplied = Unapplied::after_header(segments, index, known);
        let segment = segments[index];
        let reason = if !unfinished {
            reason
        } else if segment.is_empty() {
            "the file is empty".into()
        } else if unapplied.records == 0 {
            format!("the file's header is incomplete ({} bytes)", segment.len())
        } else {
            format!("the file's header reads as incomplete ({} bytes) although whole records follow it", segment.len())
        };
        JournalCut {
            segment: index,
            offset: 0,
            reason,
            dropped_bytes: segment.len(),
            segments_skipped: segments.len() - index - 1,
            torn: unfinished && unapplied.records == 0,
            unapplied,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RestoreReport {
    /// Generation of the snapshot restored from, if one was given.
    pub snapshot_generation: Option<u64>,
    /// Journal segments read (the one with a cut included).
    pub segments: usize,
    /// Records applied.
    pub records: u64,
    pub cut: Option<JournalCut>,
}

fn corrupt(segment: usize, offset: usize, error: CoreError) -> CoreError {
    let detail = match error {
        CoreError::JournalCorrupt(message) => message,
        other => other.to_string(),
    };
    CoreError::JournalCorrupt(format!(
        "journal segment {segment}, record at byte {offset}: {detail}. Move that journal file out of the \
         room's data directory to start from the snapshot before it, losing the changes it holds"
    ))
}

impl Room {
    /// Rebuilds a journaled room from its `snapshot` (if any) and the journal `segments` that
    /// follow it, oldest first. `Ok((None, report))` when there is nothing to restore: no
    /// snapshot, and no record of the room's creation.
    ///
    /// Heartbeats are not journaled, and visitors could not poll while the server was down:
    /// every waiting ticket counts as seen now, so it gets a full heartbeat period to come back.
    pub fn restore(
        signer: Arc<Signer>,
        clock: SharedClock,
        snapshot: Option<&[u8]>,
        segments: &[&[u8]],
    ) -> CoreResult<(Option<Room>, RestoreReport)> {
        let mut report = RestoreReport::default();
        let mut parts = None;
        let mut room_id = None;
        let mut next_generation = None;
        if let Some(snapshot) = snapshot {
            let (header, body) = read_snapshot_file(snapshot)?;
            let restored = Parts::decode(body, header.version)?;
            if restored.queue.config.id != header.room {
                return Err(CoreError::JournalCorrupt("the snapshot's header names another room".into()));
            }
            report.snapshot_generation = Some(header.generation);
            next_generation = Some(header.generation);
            room_id = Some(header.room);
            parts = Some(restored);
        }
        for (index, segment) in segments.iter().enumerate() {
            report.segments += 1;
            let (header, start) = match read_journal_header(segment) {
                Ok(Some(found)) => found,
                Ok(None) => {
                    report.cut =
                        Some(JournalCut::at_header(segments, index, true, String::new(), inventory_of(parts.as_ref())));
                    break;
                }
                Err(CoreError::JournalCorrupt(reason)) => {
                    report.cut =
                        Some(JournalCut::at_header(segments, index, false, reason, inventory_of(parts.as_ref())));
                    break;
                }
                Err(other) => return Err(other),
            };
            if room_id.get_or_insert_with(|| header.room.clone()) != &header.room {
                return Err(CoreError::JournalCorrupt(format!("journal segment {index} belongs to another room")));
            }
            if next_generation.is_some_and(|g| g != header.generation) {
                return Err(CoreError::JournalCorrupt(format!(
                    "journal segment {index} is of generation {}, but generation {} was expected",
                    header.generation,
                    next_generation.unwrap_or_default()
                )));
            }
            next_generation = Some(header.generation + 1);
            let mut at = start;
            loop {
                match next_frame(segment, at) {
                    Ok(None) => break,
                    Ok(Some((payload, next))) => {
                        let event = Event::decode_as(payload, header.version).map_err(|e| corrupt(index, at, e))?;
                        apply(&mut parts, event, &header.room).map_err(|e| corrupt(index, at, e))?;
                        report.records += 1;
                        at = next;
                    }
                    Err(bad) => {
                        report.cut =
                            Some(JournalCut::at_record(segments, index, at, bad, inventory_of(parts.as_ref())));
                        break;
                    }
                }
            }
            if report.cut.is_some() {
                break;
            }
        }
        let Some(mut parts) = parts else { return Ok((None, report)) };
        parts.inventory.rebuild()?;
        let now = clock.now_micros();
        let queue = &mut parts.queue;
        for ticket in &mut queue.tickets {
            if matches!(ticket.state, TicketState::Waiting | TicketState::Prequeue) {
                ticket.last_seen = ticket.last_seen.max(now);
            }
        }
        // The time the server was down says nothing about how fast the queue moves.
        queue.last_tick = queue.last_tick.max(now);
        let mut room = Room::assemble(signer, clock, parts.queue, parts.inventory, parts.booking);
        *room.handoff_url.get_mut() = parts.handoff_url;
        room.attach_journal(Arc::new(JournalSink::new()));
        let queue = room.queue.get_mut();
        if queue.identity_key.is_none() {
            // Saved before identities were hashed: the room gets its key, and the identities
            // are hashed now; the key is recorded, so the next start finds it.
            let key = crate::pseudonym::new_key()?;
            queue.set_identity_key(key);
            queue.emit(&Event::IdentityKey { key });
        }
        Ok((Some(room), report))
    }
}

fn inventory_of(parts: Option<&Parts>) -> Option<&Inventory> {
    parts.map(|parts| &parts.inventory)
}

/// Applies one event to the state being restored.
fn apply(parts: &mut Option<Parts>, event: Event<'_>, room: &str) -> CoreResult<()> {
    let Some(parts) = parts else {
        let Event::Created { at, epoch, config, handoff_url } = event else {
            return Err(CoreError::JournalCorrupt(
                "there is no snapshot, and the journal does not start with the room's creation".into(),
            ));
        };
        let config = config.into_owned();
        if config.id != room {
            return Err(CoreError::JournalCorrupt("the room's creation names another room".into()));
        }
        let schedule = ReleaseSchedule::parse(&config.release_windows, &config.timezone)?;
        *parts = Some(Parts {
            queue: QueueState::new(config)?,
            inventory: Inventory::new(epoch),
            booking: BookingState::new(schedule, at),
            handoff_url: handoff_url.map(str::to_owned),
        });
        return Ok(());
    };
    if let Event::Forgotten { .. } = event {
        parts.inventory.replay_forgotten();
    }
    if parts.queue.apply(&event)? || parts.booking.apply(&event) {
        return Ok(());
    }
    match event {
        Event::Config { at, allowance, config, handoff_url } => {
            let config = config.into_owned();
            // What the core relies on, not today's ranges: the change was input when it was
            // made, and a range narrowed since must not make the room unrestorable.
            config.check_sound()?;
            if config.id != parts.queue.config.id {
                return Err(CoreError::JournalCorrupt("a config change names another room".into()));
            }
            let schedule = ReleaseSchedule::parse(&config.release_windows, &config.timezone)?;
            let queue = &mut parts.queue;
            if queue.draw.is_none() {
                // As `Room::update_config` does: before opening, admissions are earned from the
                // (possibly moved) opening on.
                queue.accrued_until = config.opens_at;
                queue.last_tick = config.opens_at;
            } else {
                queue.note_accrued(at);
            }
            queue.allowance = allowance;
            queue.reconfigure_meter(&config);
            queue.config = config;
            parts.booking.schedule = schedule;
            parts.handoff_url = handoff_url.map(str::to_owned);
        }
        Event::SlotsAdded { slots } => {
            parts.inventory.replay_slots_added(slots.into_owned())?;
        }
        Event::SlotSet { index, word, code } => parts.inventory.set_word(index, word, code)?,
        Event::BookingCancelled { code, slot, holder, at } => {
            parts.inventory.replay_cancelled(code, slot, holder, at)?;
        }
        Event::Created { .. } => return Err(CoreError::JournalCorrupt("the room was created twice".into())),
        other => return Err(CoreError::JournalCorrupt(format!("a record nothing applies: {other:?}"))),
    }
    Ok(())
}
