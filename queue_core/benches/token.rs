//! Nanoseconds per operation for signing and verifying tokens: a plain timing loop, run with
//! `cargo bench --bench token` (release build). It prints numbers and asserts nothing about
//! speed. Each figure is the best of several rounds, because a shared machine is noisy and the
//! fastest round is the one least disturbed by others.

// Loop counters of a benchmark are small literals.
#![allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use queue_core::token::{Claims, Signer, TokenKind};

const ROUNDS: usize = 9;
const OPS_PER_ROUND: u32 = 200_000;
const NOW: i64 = 1_767_225_600;
const ROOM: &str = "impfzentrum-berlin";

/// Counts allocations, to show that the hot path makes none.
struct CountingAllocator;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract is passed on unchanged.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

fn allocations_per_op(mut op: impl FnMut()) -> f64 {
    const OPS: usize = 1_000;
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for _ in 0..OPS {
        op();
    }
    (ALLOCATIONS.load(Ordering::Relaxed) - before) as f64 / OPS as f64
}

fn report(label: &str, mut op: impl FnMut()) {
    for _ in 0..OPS_PER_ROUND / 10 {
        op();
    }
    let mut best = f64::INFINITY;
    for _ in 0..ROUNDS {
        let start = Instant::now();
        for _ in 0..OPS_PER_ROUND {
            op();
        }
        best = best.min(start.elapsed().as_nanos() as f64 / f64::from(OPS_PER_ROUND));
    }
    println!("{label:<28} {best:>7.1} ns/op");
}

fn main() {
    let signer = Signer::new(vec![
        ("k2026".to_owned(), b"0123456789abcdef0123456789abcdef".to_vec()),
        ("k2025".to_owned(), b"fedcba9876543210fedcba9876543210".to_vec()),
    ])
    .expect("valid keys");
    let claims = Claims {
        kind: TokenKind::Pass,
        room: ROOM.to_owned(),
        ticket: 123_456,
        issued_at: NOW,
        expires_at: NOW + 900,
        subject: None,
    };
    let token = signer.sign(&claims);
    let forged = format!("{}AAAAAAAAAAAAAAAAAAAAAA", &token[..token.len() - 22]);
    println!("token of {} characters: {token}", token.len());

    let fast_allocations = allocations_per_op(|| {
        black_box(signer.verify_fast(black_box(&token), NOW, ROOM, Some(TokenKind::Pass))).ok();
    });
    println!("allocations per verify_fast: {fast_allocations}");

    report("sign", || {
        black_box(signer.sign(black_box(&claims)));
    });
    report("verify", || {
        black_box(signer.verify(black_box(&token), NOW, Some(ROOM), None)).ok();
    });
    report("verify_fast", || {
        black_box(signer.verify_fast(black_box(&token), NOW, ROOM, Some(TokenKind::Pass))).ok();
    });
    report("verify_fast, bad signature", || {
        black_box(signer.verify_fast(black_box(&forged), NOW, ROOM, None)).ok();
    });
    report("verify_fast, malformed", || {
        black_box(signer.verify_fast(black_box("not.a.token"), NOW, ROOM, None)).ok();
    });
}
