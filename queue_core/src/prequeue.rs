//! The pre-queue draw. Everybody who joins before opening gets a place drawn at random at the
//! moment of opening, so arriving hours early gains nothing. The draw is a Fisher–Yates shuffle
//! driven by SplitMix64 from a recorded seed: anybody holding the seed and the join order can
//! reproduce the exact order (`pyqueue.draw_order` does, and so does the plain-Python reference),
//! which makes the lottery auditable.

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast, and trivial to re-implement for an audit.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// Shuffles `items` in place, O(n). For i from n-1 down to 1, swap i with `next_u64() % (i+1)`.
/// The modulo bias is below 2^-32 for any queue that fits in memory, far below any effect.
pub fn shuffle<T>(items: &mut [T], seed: u64) {
    let mut rng = SplitMix64::new(seed);
    for i in (1..items.len()).rev() {
        let j = usize::try_from(rng.next_u64() % (i as u64 + 1)).expect("the remainder is at most i, a usize");
        items.swap(i, j);
    }
}

/// The order drawn for `n` pre-queue entries: element k is the index (in join order) of the
/// entry that gets place k.
pub fn draw_order(n: usize, seed: u64) -> Vec<u32> {
    let n = u32::try_from(n).expect("ticket ids fit u32");
    let mut order: Vec<u32> = (0..n).collect();
    shuffle(&mut order, seed);
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_matches_the_published_sequence() {
        // Reference values of SplitMix64 seeded with 1234567.
        let mut rng = SplitMix64::new(1_234_567);
        assert_eq!(rng.next_u64(), 6_457_827_717_110_365_317);
        assert_eq!(rng.next_u64(), 3_203_168_211_198_807_973);
    }

    #[test]
    fn draw_is_a_reproducible_permutation() {
        let a = draw_order(1000, 42);
        let b = draw_order(1000, 42);
        assert_eq!(a, b);
        let mut sorted = a.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..1000).collect::<Vec<u32>>());
        assert_ne!(a, draw_order(1000, 43));
        assert_ne!(a, (0..1000).collect::<Vec<u32>>());
    }

    #[test]
    fn small_draws_are_uniform_enough() {
        // Each of the 6 orders of 3 items should come up about 1/6 of the time.
        let mut counts = std::collections::HashMap::new();
        for seed in 0..60_000u64 {
            *counts.entry(draw_order(3, seed)).or_insert(0u32) += 1;
        }
        assert_eq!(counts.len(), 6);
        for c in counts.values() {
            assert!((9_000..11_000).contains(c), "{counts:?}");
        }
    }
}
