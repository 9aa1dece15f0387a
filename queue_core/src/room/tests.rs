//! A journaled room, driven by seeded random operations, is restored from its journal (and
//! from snapshots taken along the way) and must equal the original in everything a visitor,
//! a booking site or an operator can see.

use std::sync::Arc;

use super::Room;
use crate::clock::{SharedClock, VirtualClock, MICROS_PER_SECOND as S};
use crate::errors::CoreError;
use crate::inventory::{SlotSpec, SlotState};
use crate::journal::journal_header;
use crate::prequeue::SplitMix64;
use crate::queue::TicketState;
use crate::room_config::{test_config, ReturnedSlots, RoomConfig};
use crate::token::Signer;

pub(super) const OPEN: i64 = 1_700_000_000 * S;

pub(super) fn signer() -> Arc<Signer> {
    Arc::new(Signer::new(vec![("k1".into(), b"journal-test-secret-0123456789".to_vec())]).unwrap())
}

/// Slots "s{first}" onwards, in three groups.
pub(super) fn slots(first: usize, count: usize) -> Vec<SlotSpec> {
    (first..first + count)
        .map(|i| SlotSpec {
            id: format!("s{i}"),
            group: format!("centre-{}", i % 3),
            starts_at: OPEN + (i as i64 % 7) * 3600 * S,
        })
        .collect()
}

/// A journaled room on a virtual clock, and the bytes of its first journal file.
pub(super) struct Fixture {
    pub(super) clock: Arc<VirtualClock>,
    pub(super) room: Room,
    pub(super) journal: Vec<u8>,
}

impl Fixture {
    pub(super) fn new(config: RoomConfig, start: i64) -> Self {
        let clock = Arc::new(VirtualClock::new(start));
        let shared: SharedClock = clock.clone();
        let room = Room::create(config, Some("/book".into()), signer(), shared, true).unwrap();
        let journal = journal_header(room.id(), 0);
        Self { clock, room, journal }
    }

    pub(super) fn drain(&mut self) {
        self.journal.extend_from_slice(&self.room.drain_journal());
    }

    pub(super) fn restore(&self, snapshot: Option<&[u8]>, segments: &[&[u8]]) -> Room {
        let shared: SharedClock = self.clock.clone();
        let (room, report) = Room::restore(signer(), shared, snapshot, segments).unwrap();
        assert_eq!(report.cut, None);
        room.expect("a room to restore")
    }
}

/// Asserts that two rooms look the same to everybody, now. Statuses count as heartbeats, so
/// both rooms are asked the same questions at the same time.
pub(super) fn assert_same(original: &Room, restored: &Room) {
    let now = original.now();
    // First, because a status can end a session that ran out: the original may have been asked
    // already, in a comparison with another restored room.
    let tickets = original.queue.lock().tickets.len() as u32;
    for t in 0..tickets {
        assert_eq!(original.status_of(t, now), restored.status_of(t, now), "ticket {t}");
    }
    assert_eq!(format!("{:?}", original.config()), format!("{:?}", restored.config()));
    assert_eq!(original.handoff_url(), restored.handoff_url());
    assert_eq!(original.draw(), restored.draw());
    assert_eq!(original.audit_log(), restored.audit_log());
    assert_eq!(original.inventory.words(), restored.inventory.words());
    assert_eq!(original.availability(), restored.availability());
    assert_eq!(original.free_slots(None, 0, 1000), restored.free_slots(None, 0, 1000));
    {
        let (a, b) = (original.queue.lock(), restored.queue.lock());
        assert_eq!(a.tickets.len(), b.tickets.len());
        for (x, y) in a.tickets.iter().zip(&b.tickets) {
            let strip = |t: &crate::queue::Ticket| (t.state, t.position, t.joined_at, t.admitted_at, t.pass_expires_at);
            assert_eq!(strip(x), strip(y));
        }
        assert_eq!(a.identities, b.identities);
        assert_eq!(a.labels, b.labels);
        assert_eq!((&a.order, &a.prequeue, a.prequeue_left), (&b.order, &b.prequeue, b.prequeue_left));
        assert_eq!((a.cursor, a.active, a.counters), (b.cursor, b.active, b.counters));
        assert_eq!((a.paused, a.queue_all, a.closed), (b.paused, b.queue_all, b.closed));
        // The allowance is not compared: ticks that change nothing else are not journaled, so
        // the restored room has the allowance of the last journaled change (both are capped at
        // one second's worth of admissions).
        assert_eq!(a.meter, b.meter);
        assert_eq!(a.waiting.waiting(), b.waiting.waiting());
        for position in 0..=a.order.len() {
            assert_eq!(a.waiting.ahead_of(position), b.waiting.ahead_of(position));
        }
    }
    {
        let (a, b) = (original.booking.lock(), restored.booking.lock());
        assert_eq!(
            (&a.offers, &a.offered_down_to, a.windows_done_until),
            (&b.offers, &b.offered_down_to, b.windows_done_until)
        );
    }
    let (mut a, mut b) = (original.info(), restored.info());
    // The measured rate is the same; the info only rounds it differently through * 60.
    (a.measured_per_minute, b.measured_per_minute) = (0.0, 0.0);
    assert_eq!(a, b);
}

/// Drives a room with seeded random visitors, bookings and operator actions.
pub(super) struct Driver {
    rng: SplitMix64,
    tokens: Vec<String>,
    codes: Vec<String>,
    slot_batches: usize,
    /// Successful holds, bookings, cancellations, offers made.
    pub(super) done: [u32; 4],
}

impl Driver {
    pub(super) fn new(seed: u64) -> Self {
        Self { rng: SplitMix64::new(seed), tokens: Vec::new(), codes: Vec::new(), slot_batches: 0, done: [0; 4] }
    }

    fn below(&mut self, n: u64) -> u64 {
        self.rng.next_u64() % n.max(1)
    }

    fn any_token(&mut self) -> Option<String> {
        let n = self.tokens.len() as u64;
        let pick = self.below(n) as usize;
        (n > 0).then(|| self.tokens[pick].clone())
    }

    /// The pass of some admitted ticket, if any.
    fn any_pass(&mut self, room: &Room) -> Option<(String, u32)> {
        let admitted: Vec<u32> = {
            let queue = room.queue.lock();
            (0..queue.tickets.len() as u32)
                .filter(|&t| queue.tickets[t as usize].state == TicketState::Admitted)
                .collect()
        };
        let t = *admitted.get(self.below(admitted.len() as u64) as usize)?;
        room.status_of(t, room.now()).ok()?.pass_token.map(|pass| (pass, t))
    }

    fn confirm(&mut self, room: &Room, slot: &str, token: &str) {
        if let Ok(booking) = room.confirm(slot, token) {
            self.done[1] += 1;
            self.codes.push(booking.code);
        }
    }

    /// One random operation; errors are part of the game (slot taken, limit reached, …).
    pub(super) fn step(&mut self, fixture: &Fixture) {
        let room = &fixture.room;
        match self.below(100) {
            0..=24 => {
                let identity = (self.below(3) == 0).then(|| format!("id-{}", self.below(40)));
                let resume = if self.below(8) == 0 { self.any_token() } else { None };
                // Every other join without an identity has a label (no draw of its own, so the
                // operations stay as they were).
                let label =
                    (identity.is_none() && self.tokens.len() % 2 == 1).then(|| format!("label-{}", self.tokens.len()));
                if let Ok(outcome) = room.join_labelled(identity.as_deref(), label.as_deref(), resume.as_deref()) {
                    if outcome.new {
                        self.tokens.push(outcome.token);
                    }
                }
            }
            25..=39 => {
                if let Some(token) = self.any_token() {
                    let _ = room.status(&token);
                }
            }
            40..=49 => self.done[3] += room.tick().offers_made as u32,
            50..=57 => fixture.clock.advance_micros(self.below(8 * S as u64) as i64),
            58..=67 => {
                if let Some((pass, _)) = self.any_pass(room) {
                    let slot = format!("s{}", self.below(30 + 10 * self.slot_batches as u64));
                    if room.hold(&slot, &pass).is_ok() {
                        self.done[0] += 1;
                        if self.below(2) == 0 {
                            self.confirm(room, &slot, &pass);
                        }
                    }
                }
            }
            68..=75 => {
                if let Some((pass, t)) = self.any_pass(room) {
                    if let Some(slot) = held_by(room, t) {
                        self.confirm(room, &slot, &pass);
                    }
                }
                // Waiting-list offers are confirmed with the ticket.
                if let Some(token) = self.any_token() {
                    if let Some(offer) = room.status(&token).ok().and_then(|s| s.offer) {
                        self.confirm(room, &offer.slot, &token);
                    }
                }
            }
            76..=78 => {
                if !self.codes.is_empty() {
                    let pick = self.below(self.codes.len() as u64) as usize;
                    let code = self.codes.swap_remove(pick);
                    self.done[2] += u32::from(room.cancel(&code).is_ok());
                }
            }
            79..=82 => {
                if let Some(token) = self.any_token() {
                    let _ = room.leave(&token);
                }
            }
            83..=84 => {
                if let Some(token) = self.any_token() {
                    let _ = room.decline_offer(&token);
                }
            }
            85 => room.pause("ops").unwrap(),
            86..=87 => room.resume("ops").unwrap(),
            88 => room.set_queue_all(self.below(2) == 0, "ops").unwrap(),
            89 => {
                let mut config = room.config();
                config.admit_per_minute = 30.0 + self.below(600) as f64;
                config.max_active = 1 + self.below(12) as u32;
                let _ = room.update_config(config, Some(format!("/book/{}", self.below(9))), "ops");
            }
            90 => {
                let _ = room.release(true, Some("test"), "ops");
            }
            91 => {
                if let Some((pass, _)) = self.any_pass(room) {
                    let _ = room.complete(&pass);
                }
            }
            92 => {
                if self.slot_batches < 3 {
                    self.slot_batches += 1;
                    room.add_slots(slots(20 + 10 * self.slot_batches, 10), "ops").unwrap();
                }
            }
            93..=95 => {
                if let Some((pass, t)) = self.any_pass(room) {
                    let held = held_by(room, t);
                    if let Some(slot) = held {
                        let _ = room.release_hold(&slot, &pass);
                    }
                }
            }
            _ => fixture.clock.advance_micros(self.below(90 * S as u64) as i64),
        }
    }
}

/// A slot the ticket holds or has been offered.
fn held_by(room: &Room, ticket: u32) -> Option<String> {
    room.inventory
        .words()
        .into_iter()
        .find(|(_, state, raw, _)| matches!(state, SlotState::Held | SlotState::Offered) && *raw as u32 == ticket)
        .map(|(slot, ..)| slot)
}

pub(super) fn config(returned: ReturnedSlots, seed: u64) -> RoomConfig {
    let mut config = test_config(OPEN);
    config.admit_per_minute = 120.0;
    config.max_active = 6;
    config.session_seconds = 200;
    config.heartbeat_timeout_seconds = 60;
    config.hold_seconds = 40;
    config.offer_seconds = 50;
    config.returned_slots = returned;
    config.seed = seed;
    config.closes_at = Some(OPEN + 20 * 3600 * S);
    config.release_windows = vec!["Mon-Sun 08:00".into()];
    config
}

/// A room of `seed`'s settings driven 3,000 seeded random steps, with a snapshot taken by
/// `snapshot` after step 2,000; returns the fixture (journal drained), what the driver did, the
/// snapshot and the journal's length when it was taken.
pub(super) fn driven_room(seed: u64, snapshot: impl Fn(&Room) -> Vec<u8>) -> (Fixture, [u32; 4], Vec<u8>, usize) {
    let returned = if seed.is_multiple_of(2) { ReturnedSlots::Waitlist } else { ReturnedSlots::Windows };
    let mut fixture = Fixture::new(config(returned, seed), OPEN - 120 * S);
    fixture.room.add_slots(slots(0, 30), "config").unwrap();
    let mut driver = Driver::new(seed);
    let mut taken = None;
    for step in 0..3000 {
        driver.step(&fixture);
        if step == 2000 {
            fixture.drain();
            taken = Some((snapshot(&fixture.room), fixture.journal.len()));
        }
    }
    fixture.drain();
    // The run did reach every corner worth replaying.
    let [holds, bookings, cancels, offers] = driver.done;
    assert!(holds > 50 && bookings > 30 && cancels > 20, "{:?}", driver.done);
    assert!(returned == ReturnedSlots::Windows || offers > 10, "{:?}", driver.done);
    let (file, at) = taken.expect("3,000 steps pass step 2,000");
    (fixture, driver.done, file, at)
}

#[test]
fn replay_rebuilds_every_observable_state() {
    for seed in 0..12u64 {
        let (fixture, _, file, at) = driven_room(seed, |room| {
            let (file, pending) = room.snapshot(1);
            assert!(pending.is_empty());
            file
        });
        let whole = fixture.restore(None, &[&fixture.journal]);
        assert_same(&fixture.room, &whole);
        let mut after = journal_header(fixture.room.id(), 1);
        after.extend_from_slice(&fixture.journal[at..]);
        let from_snapshot = fixture.restore(Some(&file), &[&after]);
        assert_same(&fixture.room, &from_snapshot);
        let (file, _) = fixture.room.snapshot(2);
        assert_same(&fixture.room, &fixture.restore(Some(&file), &[]));
    }
}

#[test]
fn a_snapshot_takes_the_records_not_yet_drained() {
    let mut fixture = Fixture::new(config(ReturnedSlots::Windows, 1), OPEN - 10 * S);
    fixture.drain();
    fixture.room.join(Some("phone:1"), None).unwrap();
    let (file, pending) = fixture.room.snapshot(1);
    assert!(!pending.is_empty(), "the join's record was not handed over");
    assert_eq!(fixture.room.drain_journal(), Vec::<u8>::new());
    fixture.journal.extend_from_slice(&pending);
    // Either way gives the same room: the old journal with the pending records, or the snapshot.
    assert_same(&fixture.room, &fixture.restore(None, &[&fixture.journal]));
    assert_same(&fixture.room, &fixture.restore(Some(&file), &[]));
}

#[test]
fn a_label_finds_no_ticket_and_survives_a_restore() {
    let mut fixture = Fixture::new(config(ReturnedSlots::Windows, 1), OPEN - 10 * S);
    let first = fixture.room.join_labelled(None, Some("REG-4711"), None).unwrap();
    let second = fixture.room.join_labelled(None, Some("REG-4711"), None).unwrap();
    assert!(first.new && second.new && first.ticket != second.ticket);
    assert!(fixture.room.queue.lock().identities.is_empty(), "a label entered the identity index");
    // The identity the caller vouches for still finds its ticket; its label stays the first one.
    let vouched = fixture.room.join_labelled(Some("sub-1"), Some("a"), None).unwrap();
    let again = fixture.room.join_labelled(Some("sub-1"), Some("b"), None).unwrap();
    assert_eq!((again.ticket, again.new), (vouched.ticket, false));
    assert_eq!(fixture.room.label(vouched.ticket).as_deref(), Some("a"));
    fixture.drain();
    let from_journal = fixture.restore(None, &[&fixture.journal]);
    let (file, _) = fixture.room.snapshot(1);
    let from_snapshot = fixture.restore(Some(&file), &[]);
    for restored in [&from_journal, &from_snapshot] {
        assert_same(&fixture.room, restored);
        assert_eq!(restored.label(first.ticket).as_deref(), Some("REG-4711"));
        assert_eq!(restored.label(second.ticket).as_deref(), Some("REG-4711"));
    }
}

#[test]
fn tokens_and_places_survive_a_restore() {
    let mut fixture = Fixture::new(config(ReturnedSlots::Windows, 3), OPEN - 100 * S);
    let tokens: Vec<String> = (0..50).map(|_| fixture.room.join(None, None).unwrap().token).collect();
    fixture.clock.advance_micros(101 * S);
    fixture.room.tick();
    let before: Vec<_> = tokens.iter().map(|t| fixture.room.status(t).unwrap().view).collect();
    // The server is down for 50 s: nobody can poll.
    fixture.clock.advance_micros(50 * S);
    fixture.drain();
    let restored = fixture.restore(None, &[&fixture.journal]);
    fixture.clock.advance_micros(59 * S);
    // Without a fresh heartbeat period, the silence while the server was down would count
    // against the visitors, as it does in the room that was never restarted.
    assert!(fixture.room.tick().queue.abandoned > 0);
    assert_eq!(restored.tick().queue.abandoned, 0);
    for (token, before) in tokens.iter().zip(before) {
        let after = restored.status(token).unwrap().view;
        assert_eq!(after.ticket, before.ticket);
        if before.state == TicketState::Waiting && after.state == TicketState::Waiting {
            assert!(after.ahead <= before.ahead);
        }
    }
    let order: Vec<u32> = restored.queue.lock().order.clone();
    assert_eq!(order, fixture.room.queue.lock().order);
}

#[test]
fn nothing_to_restore_gives_no_room() {
    let clock: SharedClock = Arc::new(VirtualClock::new(OPEN));
    let (room, report) = Room::restore(signer(), clock.clone(), None, &[]).unwrap();
    assert!(room.is_none() && report.cut.is_none());
    let header = journal_header("kiel", 0);
    let (room, report) = Room::restore(signer(), clock, None, &[&header[..5]]).unwrap();
    assert!(room.is_none());
    assert_eq!(report.cut.unwrap().offset, 0);
}

#[test]
fn records_that_do_not_fit_are_refused_not_guessed() {
    let mut fixture = Fixture::new(config(ReturnedSlots::Windows, 4), OPEN + S);
    fixture.room.join(None, None).unwrap();
    fixture.drain();
    let clock: SharedClock = fixture.clock.clone();
    // Another room's header.
    let mut other = journal_header("other", 0);
    other.extend_from_slice(&fixture.journal[journal_header("kiel", 0).len()..]);
    let refused = Room::restore(signer(), clock.clone(), None, &[&other]).err().unwrap();
    assert!(matches!(refused, CoreError::JournalCorrupt(_)), "{refused}");
    // The same journal twice: the second creation does not fit.
    let twice = Room::restore(signer(), clock.clone(), None, &[&fixture.journal, &fixture.journal]).err().unwrap();
    assert!(matches!(twice, CoreError::JournalCorrupt(_)), "{twice}");
    // A journal of a generation that does not follow the snapshot.
    let (file, _) = fixture.room.snapshot(5);
    let wrong = Room::restore(signer(), clock, Some(&file), &[&journal_header("kiel", 7)]).err().unwrap();
    assert!(wrong.to_string().contains("generation"), "{wrong}");
}

#[test]
fn an_entry_rooms_passes_carry_the_subject_and_end_with_the_session_also_after_a_restore() {
    let mut config = test_config(OPEN);
    config.identity = crate::room_config::IdentityMode::Entry;
    let mut fixture = Fixture::new(config, OPEN + S);
    let room = &fixture.room;
    assert_eq!(room.join(None, None), Err(CoreError::EntryRequired));
    let ticket = room.join(Some("person-42"), None).unwrap();
    let pass = room.status(&ticket.token).unwrap().pass_token.expect("admitted at once");
    assert_eq!(room.verify_pass(&pass).unwrap().subject.as_deref(), Some("person-42"));
    assert_eq!(room.check_pass(&pass, None), Ok(ticket.ticket));
    // Resuming by the ticket alone (a reload) is no join of a new person.
    assert_eq!(room.join(None, Some(&ticket.token)).unwrap().ticket, ticket.ticket);
    fixture.drain();
    let restored = fixture.restore(None, &[&fixture.journal]);
    assert_eq!(restored.verify_pass(&pass).unwrap().subject.as_deref(), Some("person-42"));
    fixture.room.complete(&pass).unwrap();
    assert_eq!(fixture.room.verify_pass(&pass), Err(CoreError::SessionEnded));
    assert_eq!(fixture.room.check_pass(&pass, None), Err(CoreError::SessionEnded));
}

/// The records an earlier version wrote for a room it took with settings and slots that
/// today's input rules refuse: the same format, so today's encoder writes them alike.
fn journal_of_an_earlier_version(config: &RoomConfig, changed: &RoomConfig) -> Vec<u8> {
    use crate::events::Event;
    use crate::journal::write_frame;
    use std::borrow::Cow;
    let mut journal = journal_header(&config.id, 0);
    let created = Event::Created { at: OPEN, epoch: OPEN - 3600 * S, config: Cow::Borrowed(config), handoff_url: None };
    write_frame(&mut journal, |out| created.encode(out));
    let slots = vec![SlotSpec { id: "s1 ".into(), group: "Kiel\tNord".into(), starts_at: S }];
    write_frame(&mut journal, |out| Event::SlotsAdded { slots: Cow::Borrowed(&slots) }.encode(out));
    let change =
        Event::Config { at: OPEN + S, allowance: 0.0, config: Cow::Borrowed(changed), handoff_url: Some("//old") };
    write_frame(&mut journal, |out| change.encode(out));
    journal
}

#[test]
fn a_room_saved_before_the_ranges_restores_with_its_settings_and_slots() {
    let mut earlier = config(ReturnedSlots::Windows, 5);
    earlier.session_seconds = 1_209_600;
    let mut changed = earlier.clone();
    changed.max_bookings_per_identity = 500;
    changed.admit_per_minute = 1e9;
    assert!(earlier.validate().is_err() && changed.validate().is_err(), "today's input rules refuse both");
    let journal = journal_of_an_earlier_version(&earlier, &changed);
    let clock: SharedClock = Arc::new(VirtualClock::new(OPEN + 2 * S));
    let (room, report) = Room::restore(signer(), clock.clone(), None, &[&journal]).unwrap();
    let room = room.expect("the room comes back");
    assert_eq!((report.records, report.cut), (3, None));
    let restored = room.config();
    assert_eq!((restored.session_seconds, restored.max_bookings_per_identity), (1_209_600, 500));
    assert_eq!(restored.outside_ranges().len(), 3, "{:?}", restored.outside_ranges());
    assert_eq!(room.handoff_url().as_deref(), Some("//old"));
    assert_eq!(room.inventory().slot("s1 ").unwrap().group, "Kiel\tNord");
    // And from a snapshot of it.
    let (file, _) = room.snapshot(1);
    let (again, _) = Room::restore(signer(), clock, Some(&file), &[&journal_header(&restored.id, 1)]).unwrap();
    let again = again.expect("the room comes back from its snapshot");
    assert_eq!(format!("{:?}", again.config()), format!("{restored:?}"));
    assert_eq!(again.availability(), room.availability());
    // What the core relies on still holds for saved settings.
    let mut unsound = earlier.clone();
    unsound.hold_seconds = 0;
    let refused = Room::restore(
        signer(),
        Arc::new(VirtualClock::new(OPEN)),
        None,
        &[&journal_of_an_earlier_version(&unsound, &changed)],
    );
    assert!(matches!(refused, Err(CoreError::JournalCorrupt(m)) if m.contains("hold_seconds must be at least 1")));
}
