//! Walking a group for claimable slots, in the order visitors see them.

use super::table::{Group, Slot, Table};
use super::word::{Deadlines, Word};

/// Calls `visit` with each claimable slot of `group` (free, or held with a deadline passed by
/// `now`) in (starts_at, id) order until it returns false.
///
/// The walk starts at the group's scan hint and moves the hint past a leading run of offered,
/// booked and returned slots, so that once a group is mostly booked a losing claim does not
/// read every slot of it to find alternatives.
pub(super) fn claimable(
    table: &Table,
    group: &Group,
    deadlines: Deadlines,
    now: i64,
    mut visit: impl FnMut(&Slot) -> bool,
) {
    let (snapshot, start) = group.scan_from();
    let mut parked_run = true;
    for position in start..group.order.len() {
        let slot = table.slot(group.order[position]);
        let word = slot.load().1;
        if word.is_parked() {
            continue;
        }
        if parked_run {
            group.advance_scan(snapshot, position);
            parked_run = false;
        }
        let claimable = match word {
            Word::Free => true,
            Word::Held { until, .. } => !deadlines.is_live(until, now),
            _ => false,
        };
        if claimable && !visit(slot) {
            return;
        }
    }
    if parked_run {
        group.advance_scan(snapshot, group.order.len());
    }
}
