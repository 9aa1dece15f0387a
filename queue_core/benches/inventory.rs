//! Throughput of the slot inventory, measured with plain loops:
//! `cargo bench --bench inventory`.
//!
//! - loading a million slots;
//! - uncontended hold + confirm pairs on one thread, for 65,000 and for a million slots;
//! - contended claims from two threads on the same few slots, where holds lapse and are taken
//!   over and most claims lose (with alternatives computed for each loser).

// Loop counters of a benchmark are small literals.
#![allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)]

use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use queue_core::errors::CoreError;
use queue_core::inventory::{Inventory, SlotSpec};

const SEC: i64 = 1_000_000;
const EPOCH: i64 = 1_620_000_000 * SEC;
const T0: i64 = EPOCH + 3_600 * SEC;
const SLOTS: usize = 1_000_000;
const ROUNDS: usize = 3;

fn specs(count: usize, groups: usize) -> Vec<SlotSpec> {
    (0..count)
        .map(|i| SlotSpec {
            id: format!("centre-{}-slot-{i:07}", i % groups),
            group: format!("centre-{} 2021-05-{:02}", i % groups, 10 + i % 7),
            starts_at: T0 + (i / groups) as i64 * 60 * SEC,
        })
        .collect()
}

fn per_second(count: u64, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64()
}

fn load() {
    let mut best = Duration::MAX;
    for _ in 0..ROUNDS {
        let batch = specs(SLOTS, 40);
        let inventory = Inventory::new(EPOCH);
        let started = Instant::now();
        inventory.add_slots(batch).expect("distinct ids");
        best = best.min(started.elapsed());
        // Dropping a million slots is not part of loading them.
        drop(black_box(inventory));
    }
    println!("add_slots: {SLOTS} slots in {:.1} ms (best of {ROUNDS})", best.as_secs_f64() * 1e3);
}

/// Holds and books every slot of a fresh inventory of `slots` slots, each for another ticket.
fn uncontended(slots: usize) {
    let mut best = 0.0f64;
    for _ in 0..ROUNDS {
        let batch = specs(slots, 40);
        let ids: Vec<String> = batch.iter().map(|s| s.id.clone()).collect();
        let inventory = Inventory::new(EPOCH);
        inventory.add_slots(batch).expect("distinct ids");
        let started = Instant::now();
        for (holder, id) in ids.iter().enumerate() {
            let holder = holder as u32;
            black_box(inventory.hold(id, holder, T0, T0 + 600 * SEC, 1).expect("free slot"));
            black_box(inventory.confirm(id, holder, T0).expect("own hold"));
        }
        best = best.max(per_second(slots as u64, started.elapsed()));
    }
    println!("uncontended hold+confirm, 1 thread, {slots} slots: {best:.0} pairs/s (best of {ROUNDS})");
}

struct Tally {
    attempts: u64,
    wins: u64,
    elapsed: Duration,
}

fn contended(threads: u32, slots: usize) {
    let inventory = Arc::new(Inventory::new(EPOCH));
    let batch = specs(slots, 4);
    let ids: Arc<Vec<String>> = Arc::new(batch.iter().map(|s| s.id.clone()).collect());
    inventory.add_slots(batch).expect("distinct ids");
    let start = Arc::new(Barrier::new(threads as usize));
    let run = Duration::from_secs(1);
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let (inventory, ids, start) = (Arc::clone(&inventory), Arc::clone(&ids), Arc::clone(&start));
            thread::spawn(move || {
                let mut tally = Tally { attempts: 0, wins: 0, elapsed: Duration::ZERO };
                start.wait();
                let started = Instant::now();
                let stop = started + run;
                let mut k = 0u32;
                while !k.is_multiple_of(256) || Instant::now() < stop {
                    // A new ticket each time; each thread's clock runs a quarter second per
                    // claim so that one-second holds lapse and are taken over by the other.
                    let holder = t * 1_000_000_000 + k;
                    let now = T0 + i64::from(k) * SEC / 4;
                    match inventory.hold(&ids[k as usize % ids.len()], holder, now, now + SEC, 1) {
                        Ok(hold) => {
                            black_box(hold);
                            tally.wins += 1;
                        }
                        Err(CoreError::SlotTaken { alternatives, .. }) => {
                            black_box(alternatives);
                        }
                        Err(other) => panic!("unexpected {other}"),
                    }
                    tally.attempts += 1;
                    k += 1;
                }
                tally.elapsed = started.elapsed();
                tally
            })
        })
        .collect();
    let tallies: Vec<Tally> = workers.into_iter().map(|w| w.join().expect("worker")).collect();
    let attempts: u64 = tallies.iter().map(|t| t.attempts).sum();
    let wins: u64 = tallies.iter().map(|t| t.wins).sum();
    let elapsed = tallies.iter().map(|t| t.elapsed).max().unwrap_or(run);
    println!(
        "contended claims, {threads} threads on the same {slots} slots: {:.0} claims/s ({:.1} % won)",
        per_second(attempts, elapsed),
        100.0 * wins as f64 / attempts as f64
    );
}

/// `cargo bench --bench inventory [load|uncontended|contended]...` runs the named parts only.
fn main() {
    let parts: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let wanted = |part: &str| parts.is_empty() || parts.iter().any(|p| p == part);
    if wanted("load") {
        load();
    }
    if wanted("uncontended") {
        // 65,000: the largest single release in the field reports; a million: beyond any cache.
        uncontended(65_000);
        uncontended(SLOTS);
    }
    if wanted("contended") {
        contended(1, 16);
        contended(2, 16);
        contended(2, 1_000);
    }
}
