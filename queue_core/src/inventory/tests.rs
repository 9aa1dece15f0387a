//! Unit tests: every error of the inventory, idempotency, and each transition's bookkeeping.

use super::*;
use crate::limits;

const EPOCH: i64 = 1_620_000_000 * SEC;
const SEC: i64 = 1_000_000;
const T0: i64 = EPOCH + 3_600 * SEC;

fn spec(id: &str, group: &str, starts_at: i64) -> SlotSpec {
    SlotSpec { id: id.into(), group: group.into(), starts_at }
}

/// Slots a0..a{n-1} in "A" starting one hour apart, then b0, b1 in "B".
fn inventory(n: usize) -> Inventory {
    let inventory = Inventory::new(EPOCH);
    let mut specs: Vec<SlotSpec> = (0..n).map(|i| spec(&format!("a{i}"), "A", T0 + i as i64 * 3_600 * SEC)).collect();
    specs.push(spec("b0", "B", T0));
    specs.push(spec("b1", "B", T0 + SEC));
    inventory.add_slots(specs).unwrap();
    inventory
}

fn availability_of(inventory: &Inventory, group: &str) -> GroupAvailability {
    inventory.availability().into_iter().find(|g| g.group == group).unwrap()
}

fn book(inventory: &Inventory, slot: &str, holder: u32) -> Booking {
    inventory.hold(slot, holder, T0, T0 + 60 * SEC, 10).unwrap();
    inventory.confirm(slot, holder, T0).unwrap()
}

#[test]
fn adding_slots_is_all_or_nothing() {
    let inv = inventory(3);
    assert_eq!(inv.len(), 5);
    let dup_in_batch = inv.add_slots(vec![spec("x", "A", T0), spec("y", "A", T0), spec("x", "A", T0)]);
    assert_eq!(dup_in_batch, Err(CoreError::DuplicateSlot("x".into())));
    let dup_existing = inv.add_slots(vec![spec("x", "A", T0), spec("a1", "C", T0)]);
    assert_eq!(dup_existing, Err(CoreError::DuplicateSlot("a1".into())));
    assert_eq!(inv.len(), 5);
    assert!(matches!(inv.slot("x"), Err(CoreError::UnknownSlot(_))));
    assert_eq!(inv.availability().len(), 2, "no group was created by a refused batch");
    assert_eq!(inv.add_slots(vec![spec("x", "A", T0), spec("y", "C", T0)]), Ok(2));
    assert_eq!(inv.len(), 7);
    assert_eq!(availability_of(&inv, "A").free, 4);
}

#[test]
fn slot_ids_and_groups_are_validated() {
    let inv = Inventory::new(EPOCH);
    assert!(inv.is_empty());
    let max = limits::SLOT_ID.max as usize;
    let long = "x".repeat(max + 1);
    let year_one = -62_135_596_800 * SEC;
    let cases = [
        (spec("", "A", T0), "slot id \"\" must be 1 to 128 bytes of printable"),
        (spec(&long, "A", T0), "slot id \"xxxx"),
        (spec("a\0b", "A", T0), "slot id \"a\\0b\" must be 1 to 128 bytes of printable"),
        (spec("a\nb", "A", T0), "slot id \"a\\nb\" must be"),
        (spec("ok", "", T0), "slot \"ok\": group \"\" must be 1 to 128 bytes of printable"),
        (spec("ok", "Kiel\0", T0), "slot \"ok\": group \"Kiel\\0\" must be"),
        (spec("ok", &"g".repeat(129), T0), "slot \"ok\": group \"gggg"),
        (spec("ok", "A", year_one), "slot \"ok\": starts_at must be between 2000-01-01T00:00:00Z and 2200-01-01T00:00:00Z, got 0001-01-01T00:00:00Z"),
    ];
    for (bad, message) in cases {
        match inv.add_slots(vec![spec("fine", "A", T0), bad]) {
            Err(CoreError::InvalidArgument(m)) => assert!(m.starts_with(message), "{m}"),
            other => panic!("expected InvalidArgument({message}), got {other:?}"),
        }
    }
    assert!(inv.is_empty());
    assert_eq!(inv.add_slots(vec![spec(&"x".repeat(max), &"g".repeat(128), T0)]), Ok(1));
}

#[test]
fn unknown_slots_are_reported_by_every_call() {
    let inv = inventory(1);
    let unknown = |r: CoreError| assert_eq!(r, CoreError::UnknownSlot("nope".into()));
    unknown(inv.hold("nope", 1, T0, T0 + SEC, 1).unwrap_err());
    unknown(inv.confirm("nope", 1, T0).unwrap_err());
    unknown(inv.release_hold("nope", 1).unwrap_err());
    unknown(inv.offer("nope", 1, T0).unwrap_err());
    unknown(inv.slot("nope").unwrap_err());
}

#[test]
fn deadlines_must_be_ahead_and_in_range() {
    let inv = inventory(1);
    let invalid = |r: CoreResult<Hold>| assert!(matches!(r, Err(CoreError::InvalidArgument(_))), "{r:?}");
    invalid(inv.hold("a0", 1, T0, T0, 1));
    invalid(inv.hold("a0", 1, EPOCH - 10 * SEC, EPOCH - SEC, 1));
    invalid(inv.hold("a0", 1, T0, EPOCH + (1 << 29) * SEC, 1));
    assert!(inv.hold("a0", 1, T0, EPOCH + ((1 << 29) - 1) * SEC, 1).is_ok());
    assert!(matches!(inv.offer("b0", 1, EPOCH - 1), Err(CoreError::InvalidArgument(_))));
    assert_eq!(inv.holds_and_bookings_of(1), 1);
}

#[test]
fn a_hold_is_granted_rounded_up_to_the_second_and_booked() {
    let inv = inventory(2);
    let hold = inv.hold("a1", 7, T0, T0 + 90 * SEC + 1, 1).unwrap();
    let expected =
        Hold { slot: "a1".into(), group: "A".into(), starts_at: T0 + 3_600 * SEC, holder: 7, until: T0 + 91 * SEC };
    assert_eq!(hold, expected);
    let info = inv.slot("a1").unwrap();
    assert_eq!((info.state, info.holder, info.until), (SlotState::Held, Some(7), Some(T0 + 91 * SEC)));
    assert_eq!(availability_of(&inv, "A").held, 1);

    let booking = inv.confirm("a1", 7, T0 + 90 * SEC).unwrap();
    assert_eq!((booking.slot.as_str(), booking.group.as_str(), booking.holder), ("a1", "A", 7));
    assert_eq!(booking.starts_at, T0 + 3_600 * SEC);
    let code = booking.code.as_bytes();
    assert_eq!(code.len(), 11);
    assert_eq!(code[5], b'-');
    assert!(code.iter().enumerate().all(|(i, c)| i == 5 || b"0123456789ABCDEFGHJKMNPQRSTVWXYZ".contains(c)));
    assert_eq!(inv.booking(&booking.code), Ok(booking.clone()));
    assert_eq!(inv.booking(&booking.code.to_lowercase().replace('-', "")), Ok(booking.clone()));
    let info = inv.slot("a1").unwrap();
    assert_eq!((info.state, info.holder, info.until), (SlotState::Booked, Some(7), None));
    let a = availability_of(&inv, "A");
    assert_eq!((a.free, a.held, a.booked), (1, 0, 1));
    assert_eq!(inv.holds_and_bookings_of(7), 1);
    assert_eq!(inv.booking_count(), 1);
}

#[test]
fn holding_again_returns_the_same_hold() {
    let inv = inventory(2);
    let first = inv.hold("a0", 1, T0, T0 + 60 * SEC, 1).unwrap();
    let again = inv.hold("a0", 1, T0 + 30 * SEC, T0 + 600 * SEC, 1).unwrap();
    assert_eq!(first, again, "the existing hold is returned unchanged");
    assert_eq!(inv.holds_and_bookings_of(1), 1);
    assert_eq!(availability_of(&inv, "A").held, 1);
}

#[test]
fn confirming_again_returns_the_same_booking() {
    let inv = inventory(2);
    let booking = book(&inv, "a0", 1);
    assert_eq!(inv.confirm("a0", 1, T0 + 3_600 * SEC), Ok(booking));
    assert_eq!(inv.holds_and_bookings_of(1), 1);
    assert_eq!(inv.booking_count(), 1);
}

#[test]
fn a_taken_slot_suggests_free_ones_of_its_group_earliest_first() {
    let inv = inventory(9);
    inv.hold("a0", 1, T0, T0 + 60 * SEC, 1).unwrap();
    book(&inv, "a2", 2);
    inv.hold("a3", 3, T0, T0 + 10 * SEC, 1).unwrap(); // lapses at T0 + 10 s
    let now = T0 + 20 * SEC;
    let taken = inv.hold("a0", 4, now, now + 60 * SEC, 1).unwrap_err();
    let alternatives = ["a1", "a3", "a4", "a5", "a6"].map(String::from).to_vec();
    assert_eq!(taken, CoreError::SlotTaken { slot: "a0".into(), alternatives });
    assert_eq!(taken.code(), "slot_taken");
    let booked = inv.hold("a2", 4, now, now + 60 * SEC, 1).unwrap_err();
    assert!(matches!(booked, CoreError::SlotTaken { ref alternatives, .. } if alternatives[0] == "a1"));
    assert_eq!(inv.holds_and_bookings_of(4), 0, "a lost claim leaves no count behind");
}

#[test]
fn the_limit_holds_for_holds_and_bookings_together() {
    let inv = inventory(4);
    inv.hold("a0", 1, T0, T0 + 60 * SEC, 2).unwrap();
    inv.confirm("a0", 1, T0).unwrap();
    inv.hold("a1", 1, T0, T0 + 60 * SEC, 2).unwrap();
    assert_eq!(inv.hold("a2", 1, T0, T0 + 60 * SEC, 2), Err(CoreError::LimitReached { limit: 2 }));
    assert_eq!(inv.slot("a2").unwrap().state, SlotState::Free);
    assert_eq!(inv.holds_and_bookings_of(1), 2);
    assert_eq!(inv.release_hold("a1", 1), Ok(SlotState::Free));
    assert!(inv.hold("a2", 1, T0, T0 + 60 * SEC, 2).is_ok());
    assert_eq!(inv.hold("b0", 9, T0, T0 + SEC, 0), Err(CoreError::LimitReached { limit: 0 }));
}

#[test]
fn a_lapsed_hold_of_ones_own_does_not_block_a_new_claim() {
    let inv = inventory(3);
    inv.hold("a0", 1, T0, T0 + 10 * SEC, 1).unwrap();
    let later = T0 + 11 * SEC;
    assert!(inv.hold("a1", 1, later, later + 10 * SEC, 1).is_ok());
    assert_eq!(inv.slot("a0").unwrap().state, SlotState::Free);
    assert_eq!(inv.holds_and_bookings_of(1), 1);
    let a = availability_of(&inv, "A");
    assert_eq!((a.free, a.held), (2, 1));
}

#[test]
fn a_lapsed_hold_is_taken_over_by_the_next_claim() {
    let inv = inventory(2);
    inv.hold("a0", 1, T0, T0 + 10 * SEC, 1).unwrap();
    assert!(matches!(inv.hold("a0", 2, T0 + 9 * SEC, T0 + 60 * SEC, 1), Err(CoreError::SlotTaken { .. })));
    let later = T0 + 10 * SEC;
    let hold = inv.hold("a0", 2, later, later + 60 * SEC, 1).unwrap();
    assert_eq!(hold.holder, 2);
    assert_eq!((inv.holds_and_bookings_of(1), inv.holds_and_bookings_of(2)), (0, 1));
    assert_eq!(inv.confirm("a0", 1, later), Err(CoreError::NotHolder));
    assert_eq!(availability_of(&inv, "A").held, 1);
    assert!(inv.hold("a1", 1, later, later + 60 * SEC, 1).is_ok(), "the old holder's count went down");
}

#[test]
fn ones_own_lapsed_hold_is_renewed() {
    let inv = inventory(2);
    inv.hold("a0", 1, T0, T0 + 10 * SEC, 1).unwrap();
    let later = T0 + 20 * SEC;
    let renewed = inv.hold("a0", 1, later, later + 10 * SEC, 1).unwrap();
    assert_eq!(renewed.until, later + 10 * SEC);
    assert_eq!(inv.holds_and_bookings_of(1), 1);
    assert!(inv.confirm("a0", 1, later).is_ok());
}

#[test]
fn confirm_reports_each_wrong_situation() {
    let inv = inventory(4);
    assert_eq!(inv.confirm("a0", 1, T0), Err(CoreError::NoHold));
    inv.hold("a0", 1, T0, T0 + 10 * SEC, 1).unwrap();
    assert_eq!(inv.confirm("a0", 2, T0), Err(CoreError::NotHolder));
    assert_eq!(inv.confirm("a0", 1, T0 + 10 * SEC), Err(CoreError::HoldExpired));
    let booking = book(&inv, "a1", 3);
    assert_eq!(inv.confirm("a1", 4, T0), Err(CoreError::NotHolder));
    inv.cancel(&booking.code, T0).unwrap();
    assert_eq!(inv.confirm("a1", 3, T0), Err(CoreError::NoHold));
    assert_eq!(CoreError::HoldExpired.code(), "hold_expired");
}

#[test]
fn releasing_a_hold_or_an_offer() {
    let inv = inventory(3);
    inv.hold("a0", 1, T0, T0 + 60 * SEC, 1).unwrap();
    assert_eq!(inv.release_hold("a0", 2), Err(CoreError::NotHolder));
    assert_eq!(inv.release_hold("a0", 1), Ok(SlotState::Free));
    assert_eq!(inv.release_hold("a0", 1), Err(CoreError::NoHold));
    assert_eq!(inv.holds_and_bookings_of(1), 0);
    let booking = book(&inv, "a1", 1);
    assert_eq!(inv.release_hold("a1", 1), Err(CoreError::NoHold), "a booking is cancelled, not released");
    assert_eq!(inv.release_hold("a1", 2), Err(CoreError::NotHolder));
    inv.cancel(&booking.code, T0).unwrap();
    inv.offer("a1", 5, T0 + 60 * SEC).unwrap();
    assert_eq!(inv.release_hold("a1", 6), Err(CoreError::NotHolder));
    assert_eq!(inv.release_hold("a1", 5), Ok(SlotState::Returned), "a declined offer passes on");
    assert_eq!(inv.returned_slots(), vec!["a1".to_string()]);
}

#[test]
fn cancelling_spends_the_code_and_returns_the_slot() {
    let inv = inventory(2);
    let booking = book(&inv, "a0", 1);
    let (cancelled, cancelled_now) = inv.cancel(&booking.code.to_lowercase(), T0 + 7).unwrap();
    assert!(cancelled_now);
    assert_eq!(cancelled, Booking { cancelled_at: Some(T0 + 7), ..booking.clone() });
    assert_eq!(inv.slot("a0").unwrap().state, SlotState::Returned);
    // The code answers with the cancelled booking from now on; cancelling again changes nothing.
    assert_eq!(inv.cancel(&booking.code, T0 + 9), Ok((cancelled.clone(), false)));
    // At the very instant of the cancellation too: the answer, not the clock, says it was before.
    assert_eq!(inv.cancel(&booking.code, T0 + 7), Ok((cancelled.clone(), false)));
    assert_eq!(inv.booking(&booking.code), Ok(cancelled));
    assert_eq!(inv.cancel("not a code", T0), Err(CoreError::UnknownBooking));
    assert_eq!(inv.booking("00000-00000"), Err(CoreError::UnknownBooking));
    assert_eq!(inv.holds_and_bookings_of(1), 0);
    assert_eq!(inv.booking_count(), 0);
    let a = availability_of(&inv, "A");
    assert_eq!((a.free, a.booked, a.returned), (1, 0, 1));
    assert!(matches!(inv.hold("a0", 2, T0, T0 + SEC, 1), Err(CoreError::SlotTaken { .. })), "returned is not free");
}

#[test]
fn returned_slots_wait_for_the_release_window() {
    let inv = inventory(4);
    let codes: Vec<String> = ["a3", "b1", "a1"].iter().map(|s| book(&inv, s, 1).code).collect();
    for code in &codes {
        inv.cancel(code, T0).unwrap();
    }
    assert_eq!(inv.returned_slots(), ["b1", "a1", "a3"].map(String::from).to_vec());
    assert_eq!(inv.release_returned(), 3);
    assert_eq!(inv.release_returned(), 0);
    assert!(inv.returned_slots().is_empty());
    assert_eq!(inv.free_slots(None, T0, 0, 100).len(), 6);
    assert!(inv.hold("a3", 2, T0, T0 + SEC, 1).is_ok());
}

#[test]
fn an_offer_is_held_for_one_person_until_passed_on() {
    let inv = inventory(2);
    let booking = book(&inv, "a0", 1);
    assert_eq!(inv.offer("a0", 2, T0 + 60 * SEC), Err(CoreError::NoHold));
    assert_eq!(inv.offer("a1", 2, T0 + 60 * SEC), Err(CoreError::NoHold));
    inv.cancel(&booking.code, T0).unwrap();
    inv.offer("a0", 2, T0 + 60 * SEC).unwrap();
    assert_eq!(availability_of(&inv, "A").offered, 1);
    assert_eq!(inv.holds_and_bookings_of(2), 0, "an offer does not count until booked");
    assert!(matches!(inv.hold("a0", 3, T0, T0 + SEC, 1), Err(CoreError::SlotTaken { .. })));
    let late = T0 + 61 * SEC;
    assert!(matches!(inv.hold("a0", 3, late, late + SEC, 1), Err(CoreError::SlotTaken { .. })), "not even expired");
    assert_eq!(inv.confirm("a0", 2, late), Err(CoreError::HoldExpired));
    assert_eq!(inv.sweep(late), vec![("a0".to_string(), 2, SlotState::Returned)]);
    inv.offer("a0", 3, late + 60 * SEC).unwrap();
    // The offered visitor may already be at the limit: the waiting list chose them anyway.
    inv.hold("a1", 3, late, late + SEC, 1).unwrap();
    inv.confirm("a1", 3, late).unwrap();
    let view = inv.hold("a0", 3, late, late + 600 * SEC, 1).unwrap();
    assert_eq!(view.until, late + 60 * SEC, "a live offer is shown as the visitor's hold");
    let booked = inv.confirm("a0", 3, late).unwrap();
    assert_eq!(booked.holder, 3);
    assert_eq!(inv.holds_and_bookings_of(3), 2);
    assert_eq!(availability_of(&inv, "A").offered, 0);
}

#[test]
fn sweeping_ends_lapsed_holds() {
    let inv = inventory(3);
    inv.hold("a0", 1, T0, T0 + 10 * SEC, 1).unwrap();
    inv.hold("a1", 2, T0, T0 + 20 * SEC, 1).unwrap();
    let now = T0 + 10 * SEC;
    assert_eq!(availability_of(&inv, "A").held, 2, "a lapsed hold counts as held until swept");
    assert_eq!(inv.free_slots(Some("A"), now, 0, 10).iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), ["a0", "a2"]);
    assert_eq!(inv.sweep(now), vec![("a0".to_string(), 1, SlotState::Free)]);
    assert_eq!(inv.sweep(now), vec![]);
    assert_eq!(inv.holds_and_bookings_of(1), 0);
    let a = availability_of(&inv, "A");
    assert_eq!((a.free, a.held), (2, 1));
}

#[test]
fn free_slots_are_listed_in_order_and_paged() {
    let inv = Inventory::new(EPOCH);
    inv.add_slots(vec![
        spec("z", "Kiel", T0),
        spec("y", "Kiel", T0),
        spec("x", "Kiel", T0 - SEC),
        spec("c", "Eutin", T0),
    ])
    .unwrap();
    let ids = |list: Vec<SlotInfo>| list.into_iter().map(|s| s.id).collect::<Vec<_>>();
    assert_eq!(ids(inv.free_slots(None, T0, 0, 10)), ["c", "x", "y", "z"]);
    assert_eq!(ids(inv.free_slots(None, T0, 1, 2)), ["x", "y"]);
    assert_eq!(ids(inv.free_slots(Some("Kiel"), T0, 2, 10)), ["z"]);
    assert!(inv.free_slots(Some("Nowhere"), T0, 0, 10).is_empty());
    assert!(inv.free_slots(None, T0, 0, 0).is_empty());
    let first = &inv.free_slots(None, T0, 0, 1)[0];
    let expected = SlotInfo {
        id: "c".into(),
        group: "Eutin".into(),
        starts_at: T0,
        state: SlotState::Free,
        holder: None,
        until: None,
    };
    assert_eq!(first, &expected);
    assert_eq!(inv.availability().iter().map(|g| g.group.as_str()).collect::<Vec<_>>(), ["Eutin", "Kiel"]);
}

#[test]
fn listings_find_slots_freed_before_the_scan_hint() {
    let inv = inventory(6);
    let codes: Vec<String> = (0..5).map(|i| book(&inv, &format!("a{i}"), i)).map(|b| b.code).collect();
    // The hint now sits at a5.
    assert_eq!(inv.free_slots(Some("A"), T0, 0, 10).len(), 1);
    inv.cancel(&codes[1], T0).unwrap();
    assert_eq!(inv.release_returned(), 1);
    let ids: Vec<String> = inv.free_slots(Some("A"), T0, 0, 10).into_iter().map(|s| s.id).collect();
    assert_eq!(ids, ["a1", "a5"]);
    inv.hold("a5", 9, T0, T0 + SEC, 1).unwrap();
    assert_eq!(inv.hold("a1", 9, T0, T0 + SEC, 2).map(|h| h.slot), Ok("a1".into()));
    let taken = inv.hold("a0", 8, T0, T0 + SEC, 1).unwrap_err();
    assert_eq!(taken, CoreError::SlotTaken { slot: "a0".into(), alternatives: vec![] });
    inv.release_hold("a1", 9).unwrap();
    let taken = inv.hold("a0", 8, T0, T0 + SEC, 1).unwrap_err();
    assert_eq!(taken, CoreError::SlotTaken { slot: "a0".into(), alternatives: vec!["a1".into()] });
}

#[test]
fn sold_out_means_nothing_left_to_claim() {
    let inv = Inventory::new(EPOCH);
    assert!(!inv.sold_out(), "an empty inventory is not sold out, only not loaded");
    inv.add_slots(vec![spec("s1", "G", T0), spec("s2", "G", T0)]).unwrap();
    let first = book(&inv, "s1", 1);
    assert!(!inv.sold_out());
    inv.hold("s2", 2, T0, T0 + SEC, 1).unwrap();
    assert!(!inv.sold_out(), "a hold may still lapse");
    inv.confirm("s2", 2, T0).unwrap();
    assert!(inv.sold_out());
    inv.cancel(&first.code, T0).unwrap();
    assert!(inv.sold_out(), "a returned slot waits for its window");
    inv.offer("s1", 3, T0 + SEC).unwrap();
    assert!(!inv.sold_out());
}

#[test]
fn booking_codes_are_distinct() {
    let inv = Inventory::new(EPOCH);
    let specs = (0..2_000).map(|i| spec(&format!("s{i}"), "G", T0 + i)).collect();
    inv.add_slots(specs).unwrap();
    let mut codes = std::collections::HashSet::new();
    for i in 0..2_000u32 {
        codes.insert(book(&inv, &format!("s{i}"), i).code);
    }
    assert_eq!(codes.len(), 2_000);
    assert!(inv.sold_out());
}

#[test]
fn the_inventory_can_be_shared_between_threads() {
    fn shared<T: Send + Sync>() {}
    shared::<Inventory>();
}
