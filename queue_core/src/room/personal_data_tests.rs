//! Forgetting a room's personal data: when it is due, what goes, what stays, and that neither a
//! snapshot nor the replay of the journal brings it back.

use super::tests::{slots, Fixture, OPEN};
use super::{FORGET_ACTION, RETENTION_ACTOR};
use crate::clock::MICROS_PER_SECOND as S;
use crate::errors::CoreError;
use crate::inventory::{SlotSpec, SlotState};
use crate::room_config::{test_config, IdentityMode};

const HOUR: i64 = 3_600 * S;
const CLOSES: i64 = OPEN + 2 * HOUR;

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// A closing entry room with a vouched identity, a labelled ticket and a booking; returns the
/// fixture and the booking's code.
fn booked_room(retain_hours: u32) -> (Fixture, String) {
    let mut config = test_config(OPEN);
    config.closes_at = Some(CLOSES);
    config.identity = IdentityMode::Entry;
    config.retain_personal_data_hours = retain_hours;
    let mut f = Fixture::new(config, OPEN);
    // Slots start before the room closes, so the closing is what counts.
    f.room.add_slots(slots(0, 3), "op").unwrap();
    f.clock.set_micros(OPEN + 10 * S); // admissions earned since opening
    let joined = f.room.join_labelled(Some("person-4711"), Some("label-0815"), None).unwrap();
    let pass = f.room.status(&joined.token).unwrap().pass_token.expect("admitted at once");
    f.room.hold("s0", &pass).unwrap();
    let code = f.room.confirm("s0", &pass).unwrap().code;
    f.drain();
    (f, code)
}

#[test]
fn the_operator_may_forget_only_a_closed_room() {
    let (f, code) = booked_room(24);
    assert_eq!(f.room.forget_personal_data("anna"), Err(CoreError::RoomNotClosed));
    assert!(f.room.booking(&code).is_ok());
    f.clock.set_micros(CLOSES);
    let forgotten = f.room.forget_personal_data("anna").unwrap();
    assert_eq!((forgotten.identities, forgotten.labels, forgotten.booking_codes), (1, 1, 1));
    let entry = f.room.audit_log().pop().unwrap();
    assert_eq!((entry.action.as_str(), entry.actor.as_str(), entry.count), (FORGET_ACTION, "anna", 3));
    assert_eq!(entry.reason.as_deref(), Some("personal data deleted: 1 identities, 1 labels, 1 booking codes"));
}

#[test]
fn the_retention_runs_from_the_closing_and_forgets_once() {
    let (mut f, code) = booked_room(24);
    assert_eq!(f.room.personal_data_due_at(), Some(CLOSES + 24 * HOUR));
    f.clock.set_micros(CLOSES + 24 * HOUR - S);
    assert_eq!(f.room.forget_personal_data_if_due(), None);
    assert!(f.room.label(0).is_some());
    f.clock.set_micros(CLOSES + 24 * HOUR);
    let forgotten = f.room.forget_personal_data_if_due().expect("due");
    assert_eq!(forgotten.total(), 3);
    assert_eq!(f.room.forget_personal_data_if_due(), None, "nothing left: no second audit entry");
    assert_eq!(f.room.audit_log().last().unwrap().actor, RETENTION_ACTOR);
    // The slot stays booked; its code no longer finds it; the label is gone.
    assert_eq!(f.room.booking(&code), Err(CoreError::UnknownBooking));
    assert_eq!(f.room.availability().iter().map(|g| g.booked).sum::<u64>(), 1);
    assert_eq!(f.room.label(0), None);
    assert_eq!(f.room.inventory.slot("s0").unwrap().state, SlotState::Booked);
    f.drain();
    // A snapshot holds none of it, and it restores with none of it.
    let (snapshot, pending) = f.room.snapshot(1);
    assert!(pending.is_empty());
    for personal in ["person-4711", "label-0815", code.as_str(), &code.replace('-', "")] {
        assert!(!contains(&snapshot, personal), "{personal} in the snapshot");
    }
    let restored = f.restore(Some(&snapshot), &[]);
    assert_eq!(restored.booking(&code), Err(CoreError::UnknownBooking));
    assert_eq!(restored.label(0), None);
    // The journal replayed from the start forgets again at the same place.
    let replayed = f.restore(None, &[&f.journal]);
    assert_eq!(replayed.label(0), None);
    assert_eq!(replayed.booking(&code), Err(CoreError::UnknownBooking));
    assert_eq!(replayed.audit_log(), f.room.audit_log());
    assert_eq!(replayed.inventory.words(), f.room.inventory.words());
}

#[test]
fn a_cancelled_booking_is_forgotten_with_the_rest_and_stays_forgotten() {
    let (mut f, code) = booked_room(24);
    assert_eq!(f.room.cancel(&code).unwrap().0.cancelled_at, Some(OPEN + 10 * S));
    f.clock.set_micros(CLOSES + 24 * HOUR);
    let forgotten = f.room.forget_personal_data_if_due().expect("due: the cancelled code is personal");
    assert_eq!(forgotten.booking_codes, 1);
    assert_eq!(f.room.booking(&code), Err(CoreError::UnknownBooking));
    assert_eq!(f.room.forget_personal_data_if_due(), None);
    f.drain();
    let (snapshot, _) = f.room.snapshot(1);
    assert!(!contains(&snapshot, &code.replace('-', "")), "the cancelled code in the snapshot");
    assert_eq!(f.restore(Some(&snapshot), &[]).booking(&code), Err(CoreError::UnknownBooking));
    // Replayed from the start, the cancellation comes back and the deletion takes it again.
    assert_eq!(f.restore(None, &[&f.journal]).booking(&code), Err(CoreError::UnknownBooking));
}

#[test]
fn a_booking_keeps_its_code_until_its_slot_has_begun() {
    let (f, _) = booked_room(0);
    assert_eq!(f.room.personal_data_due_at(), Some(CLOSES));
    let late = SlotSpec { id: "late".into(), group: "g".into(), starts_at: CLOSES + 5 * HOUR };
    f.room.add_slots(vec![late], "op").unwrap();
    assert_eq!(f.room.personal_data_due_at(), Some(CLOSES + 5 * HOUR));
}

#[test]
fn a_room_without_closes_at_is_never_due() {
    let mut f = Fixture::new(test_config(OPEN), OPEN);
    f.room.join_labelled(None, Some("label-1"), None).unwrap();
    f.clock.set_micros(OPEN + 10_000 * HOUR);
    assert_eq!(f.room.personal_data_due_at(), None);
    assert_eq!(f.room.forget_personal_data_if_due(), None);
    f.drain();
}

#[test]
fn identities_are_saved_as_pseudonyms_and_still_find_their_ticket() {
    let mut f = Fixture::new(test_config(OPEN), OPEN);
    let first = f.room.join(Some("person-4711"), None).unwrap();
    f.drain();
    let (snapshot, _) = f.room.snapshot(1);
    assert!(!contains(&f.journal, "person-4711"), "the journal keeps the portal's value");
    assert!(!contains(&snapshot, "person-4711"), "the snapshot keeps the portal's value");
    for restored in [f.restore(Some(&snapshot), &[]), f.restore(None, &[&f.journal])] {
        let again = restored.join(Some("person-4711"), None).unwrap();
        assert_eq!((again.ticket, again.new), (first.ticket, false));
        assert!(restored.join(Some("person-0815"), None).unwrap().new);
    }
}

#[test]
fn a_room_saved_before_identities_were_hashed_is_read_and_hashed() {
    use crate::events::Event;
    use crate::journal::{journal_header, write_frame};
    use std::borrow::Cow;
    // The records an earlier version wrote: the creation, then a join with the portal's value.
    let config = test_config(OPEN);
    let mut journal = journal_header("kiel", 0);
    let created =
        Event::Created { at: OPEN, epoch: OPEN - 24 * HOUR, config: Cow::Borrowed(&config), handoff_url: None };
    write_frame(&mut journal, |out| created.encode(out));
    let joined = Event::Joined { ticket: 0, at: OPEN, identity: Some("person-4711") };
    write_frame(&mut journal, |out| joined.encode(out));
    let f = Fixture::new(test_config(OPEN), OPEN);
    let restored = f.restore(None, &[&journal]);
    let again = restored.join(Some("person-4711"), None).unwrap();
    assert_eq!((again.ticket, again.new), (0, false));
    assert!(!restored.queue.lock().identities.contains_key("person-4711"));
    // The key is recorded after the old records, so the next start reads the same pseudonyms.
    journal.extend_from_slice(&restored.drain_journal());
    let (snapshot, _) = restored.snapshot(1);
    assert!(!contains(&snapshot, "person-4711"));
    for later in [f.restore(Some(&snapshot), &[]), f.restore(None, &[&journal])] {
        assert_eq!(later.join(Some("person-4711"), None).unwrap().ticket, 0);
    }
}
