//! Exact "how many are still waiting in front of me" in O(log n): a Fenwick tree over queue
//! positions holding 1 for every position whose ticket still waits. It grows by appending, because
//! the queue only ever grows at its tail.

#[derive(Debug, Default, Clone)]
pub struct WaitingIndex {
    /// 1-based Fenwick array; `tree[0]` is unused.
    tree: Vec<u32>,
    total: u64,
}

impl WaitingIndex {
    pub fn new() -> Self {
        Self { tree: vec![0], total: 0 }
    }

    pub fn with_capacity(capacity: usize) -> Self {
        let mut tree = Vec::with_capacity(capacity + 1);
        tree.push(0);
        Self { tree, total: 0 }
    }

    /// Number of positions tracked.
    pub fn len(&self) -> usize {
        self.tree.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of waiting positions in total.
    pub fn waiting(&self) -> u64 {
        self.total
    }

    /// Appends a position at the tail, waiting or not. O(log n).
    pub fn push(&mut self, waiting: bool) {
        let i = self.tree.len();
        let low = i & i.wrapping_neg();
        // A new node covers (i - low, i]: its own value plus the already stored (i - low, i - 1].
        let covered = self.prefix_1based(i - 1) - self.prefix_1based(i - low);
        self.tree.push(u32::try_from(covered).expect("a node counts at most u32::MAX tickets") + u32::from(waiting));
        self.total += u64::from(waiting);
    }

    /// Builds the index for `n` waiting positions in O(n).
    pub fn extend_waiting(&mut self, n: usize) {
        if self.is_empty() {
            self.tree.reserve(n);
            for i in 1..=n {
                // With every value 1, a node covers exactly its lowest set bit.
                self.tree.push(u32::try_from(i & i.wrapping_neg()).expect("positions fit u32 like ticket ids"));
            }
            self.total = n as u64;
        } else {
            for _ in 0..n {
                self.push(true);
            }
        }
    }

    /// Marks the 0-based position as no longer waiting. The caller guarantees it was waiting.
    pub fn remove(&mut self, position: usize) {
        let mut i = position + 1;
        while i < self.tree.len() {
            self.tree[i] -= 1;
            i += i & i.wrapping_neg();
        }
        self.total -= 1;
    }

    /// Waiting positions strictly before the 0-based `position`.
    pub fn ahead_of(&self, position: usize) -> u64 {
        self.prefix_1based(position)
    }

    fn prefix_1based(&self, mut i: usize) -> u64 {
        let mut sum = 0u64;
        while i > 0 {
            sum += u64::from(self.tree[i]);
            i &= i - 1;
        }
        sum
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn matches_a_plain_vector(ops in proptest::collection::vec((any::<bool>(), any::<u16>()), 1..300),
                                  bulk in 0usize..50) {
            let mut index = WaitingIndex::new();
            let mut model: Vec<bool> = Vec::new();
            index.extend_waiting(bulk);
            model.extend(std::iter::repeat_n(true, bulk));
            for (push, pick) in ops {
                if push || model.is_empty() {
                    let waiting = pick % 3 != 0;
                    index.push(waiting);
                    model.push(waiting);
                } else {
                    let p = usize::from(pick) % model.len();
                    if model[p] {
                        index.remove(p);
                        model[p] = false;
                    }
                }
                for p in 0..=model.len() {
                    let expected = model[..p].iter().filter(|w| **w).count() as u64;
                    prop_assert_eq!(index.ahead_of(p), expected);
                }
                prop_assert_eq!(index.waiting(), model.iter().filter(|w| **w).count() as u64);
            }
        }
    }
}
