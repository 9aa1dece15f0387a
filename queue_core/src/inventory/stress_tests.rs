//! Concurrency tests: many threads racing for the same slots, codes and limits.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use super::*;

const SEC: i64 = 1_000_000;
const EPOCH: i64 = 1_620_000_000 * SEC;
const T0: i64 = EPOCH + 3_600 * SEC;
const THREADS: u32 = 8;
const SLOTS: usize = 16;

fn contested_inventory() -> (Arc<Inventory>, Vec<String>) {
    let inventory = Inventory::new(EPOCH);
    let ids: Vec<String> = (0..SLOTS).map(|i| format!("slot-{i}")).collect();
    let specs = ids
        .iter()
        .enumerate()
        .map(|(i, id)| SlotSpec { id: id.clone(), group: format!("centre-{}", i % 2), starts_at: T0 + i as i64 })
        .collect();
    inventory.add_slots(specs).unwrap();
    (Arc::new(inventory), ids)
}

/// Counters must equal a recount of the slots' states.
fn assert_counters_match_states(inventory: &Inventory, ids: &[String]) {
    let mut recount: HashMap<String, [u64; 5]> = HashMap::new();
    for id in ids {
        let info = inventory.slot(id).unwrap();
        recount.entry(info.group).or_default()[info.state as usize] += 1;
    }
    for group in inventory.availability() {
        let counted = [group.free, group.held, group.offered, group.booked, group.returned];
        assert_eq!(counted, recount[&group.group], "counters of {}", group.group);
    }
}

struct Claims {
    attempts: u64,
    losses: u64,
    /// (slot, holder, the thread's time when it won)
    wins: Vec<(String, u32, i64)>,
}

#[test]
fn of_concurrent_claims_on_a_slot_exactly_one_wins() {
    let (inventory, ids) = contested_inventory();
    let ids = Arc::new(ids);
    let start = Arc::new(Barrier::new(THREADS as usize));
    let claimers: Vec<_> = (0..THREADS)
        .map(|t| {
            let (inventory, ids, start) = (Arc::clone(&inventory), Arc::clone(&ids), Arc::clone(&start));
            thread::spawn(move || {
                let mut claims = Claims { attempts: 0, losses: 0, wins: Vec::new() };
                start.wait();
                let stop = Instant::now() + Duration::from_secs(1);
                let mut k = 0u32;
                while !k.is_multiple_of(64) || Instant::now() < stop {
                    // Every attempt is by a new ticket; each thread's clock runs a quarter second
                    // per attempt, so one-second holds lapse and get taken over across threads.
                    let holder = t * 50_000_000 + k;
                    let slot = &ids[(k as usize * 7 + t as usize) % SLOTS];
                    let now = T0 + i64::from(k) * SEC / 4;
                    claims.attempts += 1;
                    match inventory.hold(slot, holder, now, now + SEC, 1) {
                        Ok(hold) => {
                            assert_eq!((hold.slot.as_str(), hold.holder), (slot.as_str(), holder));
                            if k.is_multiple_of(5) {
                                // Some give up at once: the slot must come back for others.
                                // Meanwhile it may have been taken over, and freed again.
                                let released = inventory.release_hold(slot, holder);
                                let expected = matches!(
                                    released,
                                    Ok(SlotState::Free) | Err(CoreError::NotHolder | CoreError::NoHold)
                                );
                                assert!(expected, "release gave {released:?}");
                            }
                            claims.wins.push((slot.clone(), holder, now));
                        }
                        Err(CoreError::SlotTaken { .. }) => claims.losses += 1,
                        Err(other) => panic!("unexpected {other:?}"),
                    }
                    k += 1;
                }
                claims
            })
        })
        .collect();
    let claims: Vec<Claims> = claimers.into_iter().map(|c| c.join().unwrap()).collect();
    let attempts: u64 = claims.iter().map(|c| c.attempts).sum();
    let wins: u64 = claims.iter().map(|c| c.wins.len() as u64).sum();
    let losses: u64 = claims.iter().map(|c| c.losses).sum();
    assert_eq!(wins + losses, attempts);
    assert!(wins >= SLOTS as u64 && losses > 0, "the slots were contested: {wins} wins, {losses} losses");
    assert_counters_match_states(&inventory, &ids);
    let held_at_end: HashSet<String> =
        ids.iter().filter(|id| inventory.slot(id).unwrap().state == SlotState::Held).cloned().collect();

    // Now everyone confirms what they won, concurrently.
    let confirmers: Vec<_> = claims
        .into_iter()
        .map(|claims| {
            let inventory = Arc::clone(&inventory);
            thread::spawn(move || {
                let mut bookings = Vec::new();
                for (slot, holder, won_at) in claims.wins.into_iter().rev() {
                    match inventory.confirm(&slot, holder, won_at) {
                        Ok(booking) => bookings.push(booking),
                        Err(CoreError::NotHolder | CoreError::NoHold) => {}
                        Err(other) => panic!("unexpected {other:?}"),
                    }
                }
                bookings
            })
        })
        .collect();
    let bookings: Vec<Booking> = confirmers.into_iter().flat_map(|c| c.join().unwrap()).collect();

    let booked_slots: HashSet<&String> = bookings.iter().map(|b| &b.slot).collect();
    assert_eq!(booked_slots.len(), bookings.len(), "every slot is booked at most once");
    let codes: HashSet<&String> = bookings.iter().map(|b| &b.code).collect();
    assert_eq!(codes.len(), bookings.len(), "every booking code is unique");
    assert_eq!(booked_slots, held_at_end.iter().collect(), "each last holder booked");
    for booking in &bookings {
        assert_eq!(inventory.booking(&booking.code).as_ref(), Ok(booking));
        assert_eq!(inventory.holds_and_bookings_of(booking.holder), 1);
    }
    assert_eq!(inventory.booking_count(), bookings.len());
    assert_counters_match_states(&inventory, &ids);
}

#[test]
fn the_limit_holds_when_one_visitor_claims_from_many_devices() {
    const LIMIT: u32 = 3;
    for round in 0..50 {
        let (inventory, ids) = contested_inventory();
        let start = Arc::new(Barrier::new(THREADS as usize));
        let devices: Vec<_> = (0..THREADS as usize)
            .map(|t| {
                let (inventory, start) = (Arc::clone(&inventory), Arc::clone(&start));
                let mine = [ids[2 * t].clone(), ids[2 * t + 1].clone()];
                thread::spawn(move || {
                    start.wait();
                    let mut granted = 0;
                    for slot in &mine {
                        match inventory.hold(slot, 42, T0, T0 + SEC, LIMIT) {
                            Ok(_) => granted += 1,
                            Err(CoreError::LimitReached { limit: LIMIT }) => {}
                            Err(other) => panic!("unexpected {other:?}"),
                        }
                        // Half the devices book right away, which must not free a place.
                        if t % 2 == 0 {
                            let _ = inventory.confirm(slot, 42, T0);
                        }
                    }
                    granted
                })
            })
            .collect();
        let granted: u32 = devices.into_iter().map(|d| d.join().unwrap()).sum();
        assert_eq!(granted, LIMIT, "round {round}");
        assert_eq!(inventory.holds_and_bookings_of(42), LIMIT);
        assert_counters_match_states(&inventory, &ids);
    }
}

#[test]
fn a_booking_is_cancelled_once_however_many_try() {
    let (inventory, ids) = contested_inventory();
    let codes: Vec<String> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            inventory.hold(id, i as u32, T0, T0 + SEC, 1).unwrap();
            inventory.confirm(id, i as u32, T0).unwrap().code
        })
        .collect();
    let codes = Arc::new(codes);
    let start = Arc::new(Barrier::new(THREADS as usize));
    let cancellers: Vec<_> = (0..THREADS)
        .map(|t| {
            let (inventory, codes, start) = (Arc::clone(&inventory), Arc::clone(&codes), Arc::clone(&start));
            thread::spawn(move || {
                start.wait();
                let mut cancelled = Vec::new();
                for code in codes.iter() {
                    // The owner confirming again races the cancellations.
                    let booking = inventory.booking(code);
                    if let Ok(booking) = &booking {
                        let again = inventory.confirm(&booking.slot, booking.holder, T0);
                        assert!(matches!(&again, Ok(b) if b == booking) || again == Err(CoreError::NoHold));
                    }
                    let typed = if t % 2 == 0 { code.to_lowercase() } else { code.replace('-', "") };
                    // Each thread cancels at a time of its own: the time the booking answers
                    // with names the one cancel that took effect.
                    let at = T0 + i64::from(t);
                    match inventory.cancel(&typed, at) {
                        Ok((booking, true)) => {
                            assert_eq!(booking.cancelled_at, Some(at));
                            cancelled.push(booking.code);
                        }
                        Ok((booking, false)) => assert!(booking.cancelled_at.is_some(), "{booking:?}"),
                        Err(other) => panic!("unexpected {other:?}"),
                    }
                }
                cancelled
            })
        })
        .collect();
    let mut cancelled: Vec<String> = cancellers.into_iter().flat_map(|c| c.join().unwrap()).collect();
    cancelled.sort();
    let mut expected = codes.to_vec();
    expected.sort();
    assert_eq!(cancelled, expected, "each code was cancelled exactly once");
    assert_eq!(inventory.returned_slots().len(), SLOTS);
    assert!((0..SLOTS as u32).all(|holder| inventory.holds_and_bookings_of(holder) == 0));
    assert_counters_match_states(&inventory, &ids);
}

#[test]
fn listings_stay_exact_while_slots_are_freed_and_taken_concurrently() {
    let inventory = Arc::new(Inventory::new(EPOCH));
    let ids: Vec<String> = (0..64).map(|i| format!("s{i:02}")).collect();
    let specs =
        ids.iter().enumerate().map(|(i, id)| SlotSpec { id: id.clone(), group: "G".into(), starts_at: T0 + i as i64 });
    inventory.add_slots(specs.collect()).unwrap();
    let ids = Arc::new(ids);
    let start = Arc::new(Barrier::new(4));
    let workers: Vec<_> = (0..4u32)
        .map(|t| {
            let (inventory, ids, start) = (Arc::clone(&inventory), Arc::clone(&ids), Arc::clone(&start));
            thread::spawn(move || {
                start.wait();
                let stop = Instant::now() + Duration::from_millis(300);
                let mut codes = Vec::new();
                let mut k = 0u32;
                while Instant::now() < stop {
                    let holder = t * 50_000_000 + k;
                    match k % 4 {
                        // Book the earliest free slot, as a visitor would from the listing.
                        0 | 1 => {
                            if let Some(free) = inventory.free_slots(Some("G"), T0, 0, 1).pop() {
                                if inventory.hold(&free.id, holder, T0, T0 + SEC, 1).is_ok() {
                                    codes.push(inventory.confirm(&free.id, holder, T0).unwrap().code);
                                }
                            }
                        }
                        2 => {
                            if let Some(code) = codes.pop() {
                                inventory.cancel(&code, T0).unwrap();
                            }
                        }
                        _ => {
                            inventory.release_returned();
                            let slot = &ids[(k as usize * 13) % ids.len()];
                            if inventory.hold(slot, holder, T0, T0 + SEC, 1).is_ok() {
                                inventory.release_hold(slot, holder).unwrap();
                            }
                        }
                    }
                    k += 1;
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    let free: Vec<String> =
        ids.iter().filter(|id| inventory.slot(id).unwrap().state == SlotState::Free).cloned().collect();
    let listed: Vec<String> = inventory.free_slots(None, T0, 0, usize::MAX).into_iter().map(|s| s.id).collect();
    assert_eq!(listed, free, "no free slot is hidden behind the scan hint");
    assert_counters_match_states(&inventory, &ids);
}
