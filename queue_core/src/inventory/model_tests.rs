//! Model-based test: random sequences of inventory calls run against the inventory and against a
//! plain map that restates the rules as simply as possible. After every step both must agree on
//! every slot, every count and every listing, and no invariant may break.

use std::collections::{BTreeMap, HashMap, HashSet};

use proptest::prelude::*;

use super::*;

const SEC: i64 = 1_000_000;
const EPOCH: i64 = 1_700_000_000 * SEC;
const GROUPS: [&str; 3] = ["Eutin", "Kiel", "Lübeck"];
const HOLDERS: u32 = 5;

#[derive(Debug, Clone)]
enum Op {
    Add {
        count: u8,
        group: u8,
        start: u8,
        repeat_existing: bool,
    },
    Hold {
        slot: u8,
        holder: u32,
        secs: u8,
    },
    Confirm {
        slot: u8,
        holder: u32,
    },
    /// A hold and its confirmation in a row: bookings are rare if left to chance.
    Book {
        slot: u8,
        holder: u32,
    },
    ReleaseHold {
        slot: u8,
        holder: u32,
    },
    Cancel {
        booking: u8,
        spelling: u8,
    },
    ReleaseReturned,
    Offer {
        slot: u8,
        holder: u32,
        secs: u8,
    },
    Sweep,
    Advance {
        micros: u32,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => (1..4u8, 0..3u8, 0..6u8, proptest::bool::weighted(0.15))
            .prop_map(|(count, group, start, repeat_existing)| Op::Add { count, group, start, repeat_existing }),
        6 => (any::<u8>(), 0..HOLDERS, 1..4u8).prop_map(|(slot, holder, secs)| Op::Hold { slot, holder, secs }),
        4 => (any::<u8>(), 0..HOLDERS).prop_map(|(slot, holder)| Op::Confirm { slot, holder }),
        3 => (any::<u8>(), 0..HOLDERS).prop_map(|(slot, holder)| Op::Book { slot, holder }),
        2 => (any::<u8>(), 0..HOLDERS).prop_map(|(slot, holder)| Op::ReleaseHold { slot, holder }),
        2 => (any::<u8>(), 0..3u8).prop_map(|(booking, spelling)| Op::Cancel { booking, spelling }),
        1 => Just(Op::ReleaseReturned),
        2 => (any::<u8>(), 0..HOLDERS, 1..4u8).prop_map(|(slot, holder, secs)| Op::Offer { slot, holder, secs }),
        1 => Just(Op::Sweep),
        3 => (0..3_000_000u32).prop_map(|micros| Op::Advance { micros }),
    ]
}

#[derive(Debug, Clone, PartialEq)]
enum State {
    Free,
    Held { holder: u32, until: i64 },
    Offered { holder: u32, until: i64 },
    Booked { holder: u32, code: String },
    Returned,
}

#[derive(Debug, Clone)]
struct ModelSlot {
    group: String,
    starts_at: i64,
    state: State,
}

/// The rules of the inventory, restated over a plain map with no concern for speed.
struct Model {
    now: i64,
    limit: u32,
    slots: BTreeMap<String, ModelSlot>,
    next_id: usize,
    /// Every code ever issued, cancelled ones included, so that cancels can be replayed.
    issued: Vec<String>,
    /// The cancelled codes and when each was cancelled.
    cancelled: HashMap<String, i64>,
    offered_to: HashSet<u32>,
}

impl Model {
    fn round_up(until: i64) -> i64 {
        EPOCH + (until - EPOCH + SEC - 1) / SEC * SEC
    }

    fn live(&self, until: i64) -> bool {
        self.now < until
    }

    fn count(&self, holder: u32) -> u32 {
        let mine = |s: &&ModelSlot| matches!(s.state, State::Held { holder: h, .. } | State::Booked { holder: h, .. } if h == holder);
        self.slots.values().filter(mine).count() as u32
    }

    fn claimable(&self, slot: &ModelSlot) -> bool {
        match slot.state {
            State::Free => true,
            State::Held { until, .. } => !self.live(until),
            _ => false,
        }
    }

    /// Claimable slot ids in listing order: (group, starts_at, id).
    fn listing(&self, group: Option<&str>) -> Vec<String> {
        let mut ids: Vec<(&str, i64, &str)> = self
            .slots
            .iter()
            .filter(|(_, s)| self.claimable(s) && group.is_none_or(|g| g == s.group))
            .map(|(id, s)| (s.group.as_str(), s.starts_at, id.as_str()))
            .collect();
        ids.sort_unstable();
        ids.into_iter().map(|(_, _, id)| id.to_string()).collect()
    }

    fn slot_id(&self, pick: u8) -> String {
        // One pick in (next_id + 1) names a slot that does not exist.
        format!("s{}", pick as usize % (self.next_id + 1))
    }

    fn hold(&mut self, id: &str, holder: u32, until: i64) -> CoreResult<i64> {
        let Some(slot) = self.slots.get(id) else {
            return Err(CoreError::UnknownSlot(id.into()));
        };
        let until = Self::round_up(until);
        match slot.state {
            State::Held { holder: h, until: u } | State::Offered { holder: h, until: u }
                if h == holder && self.live(u) =>
            {
                return Ok(u)
            }
            State::Held { holder: h, .. } if h == holder => {}
            State::Free => self.reserve(holder)?,
            State::Held { until: u, .. } if !self.live(u) => self.reserve(holder)?,
            _ => {
                let mut alternatives = self.listing(Some(&slot.group));
                alternatives.retain(|other| other != id);
                alternatives.truncate(MAX_ALTERNATIVES);
                return Err(CoreError::SlotTaken { slot: id.into(), alternatives });
            }
        }
        self.slots.get_mut(id).unwrap().state = State::Held { holder, until };
        Ok(until)
    }

    /// At the limit, one's own lapsed holds are ended before the limit is judged.
    fn reserve(&mut self, holder: u32) -> CoreResult<()> {
        if self.count(holder) >= self.limit {
            let now = self.now;
            for slot in self.slots.values_mut() {
                if matches!(slot.state, State::Held { holder: h, until } if h == holder && now >= until) {
                    slot.state = State::Free;
                }
            }
        }
        if self.count(holder) >= self.limit {
            return Err(CoreError::LimitReached { limit: self.limit });
        }
        Ok(())
    }

    /// `Ok(None)` means a new booking whose code the model learns from the inventory.
    fn confirm(&self, id: &str, holder: u32) -> CoreResult<Option<String>> {
        let Some(slot) = self.slots.get(id) else {
            return Err(CoreError::UnknownSlot(id.into()));
        };
        match &slot.state {
            State::Free | State::Returned => Err(CoreError::NoHold),
            State::Booked { holder: h, code } if *h == holder => Ok(Some(code.clone())),
            State::Booked { .. } => Err(CoreError::NotHolder),
            State::Held { holder: h, until } | State::Offered { holder: h, until } => {
                if *h != holder {
                    Err(CoreError::NotHolder)
                } else if !self.live(*until) {
                    Err(CoreError::HoldExpired)
                } else {
                    Ok(None)
                }
            }
        }
    }

    fn release_hold(&mut self, id: &str, holder: u32) -> CoreResult<SlotState> {
        let Some(slot) = self.slots.get_mut(id) else {
            return Err(CoreError::UnknownSlot(id.into()));
        };
        let (next, result) = match slot.state {
            State::Held { holder: h, .. } if h == holder => (State::Free, SlotState::Free),
            State::Offered { holder: h, .. } if h == holder => (State::Returned, SlotState::Returned),
            State::Held { .. } | State::Offered { .. } => return Err(CoreError::NotHolder),
            State::Booked { holder: h, .. } if h != holder => return Err(CoreError::NotHolder),
            _ => return Err(CoreError::NoHold),
        };
        slot.state = next;
        Ok(result)
    }

    fn sweep(&mut self) -> Vec<(String, u32, SlotState)> {
        let now = self.now;
        let mut ended = Vec::new();
        for (id, slot) in &mut self.slots {
            match slot.state {
                State::Held { holder, until } if now >= until => {
                    slot.state = State::Free;
                    ended.push((id.clone(), holder, SlotState::Free));
                }
                State::Offered { holder, until } if now >= until => {
                    slot.state = State::Returned;
                    ended.push((id.clone(), holder, SlotState::Returned));
                }
                _ => {}
            }
        }
        ended.sort_by(|a, b| a.0.cmp(&b.0));
        ended
    }
}

fn state_of(state: &State) -> SlotState {
    match state {
        State::Free => SlotState::Free,
        State::Held { .. } => SlotState::Held,
        State::Offered { .. } => SlotState::Offered,
        State::Booked { .. } => SlotState::Booked,
        State::Returned => SlotState::Returned,
    }
}

fn step(inv: &Inventory, model: &mut Model, op: &Op) {
    let now = model.now;
    match *op {
        Op::Add { count, group, start, repeat_existing } => {
            let mut specs: Vec<SlotSpec> = (0..count as usize)
                .map(|i| SlotSpec {
                    id: format!("s{}", model.next_id + i),
                    group: GROUPS[group as usize].into(),
                    starts_at: EPOCH + i64::from(start) * 600 * SEC,
                })
                .collect();
            if repeat_existing && model.next_id > 0 {
                specs.push(SlotSpec { id: "s0".into(), group: "Kiel".into(), starts_at: EPOCH });
                assert_eq!(inv.add_slots(specs), Err(CoreError::DuplicateSlot("s0".into())));
                return;
            }
            assert_eq!(inv.add_slots(specs.clone()), Ok(specs.len()));
            model.next_id += specs.len();
            for spec in specs {
                model
                    .slots
                    .insert(spec.id, ModelSlot { group: spec.group, starts_at: spec.starts_at, state: State::Free });
            }
        }
        Op::Hold { slot, holder, secs } => {
            let id = model.slot_id(slot);
            // An odd number of microseconds, so that rounding up to the second is exercised.
            let until = now + i64::from(secs) * SEC - 7;
            let expected = model.hold(&id, holder, until);
            let got = inv.hold(&id, holder, now, until, model.limit).map(|h| {
                assert_eq!((h.slot.as_str(), h.holder), (id.as_str(), holder));
                h.until
            });
            assert_eq!(got, expected, "hold {id} by {holder}");
        }
        Op::Confirm { slot, holder } => {
            let id = model.slot_id(slot);
            let expected = model.confirm(&id, holder);
            let got = inv.confirm(&id, holder, now);
            match (expected, got) {
                (Ok(Some(code)), Ok(booking)) => {
                    assert_eq!(booking.code, code, "confirm again: same code");
                }
                (Ok(None), Ok(booking)) => {
                    assert!(!model.issued.contains(&booking.code), "a code is never issued twice");
                    assert_eq!((booking.slot.as_str(), booking.holder), (id.as_str(), holder));
                    let state = &mut model.slots.get_mut(&id).unwrap().state;
                    if matches!(state, State::Offered { .. }) {
                        model.offered_to.insert(holder);
                    }
                    *state = State::Booked { holder, code: booking.code.clone() };
                    model.issued.push(booking.code);
                }
                (expected, got) => assert_eq!(got.map(|b| b.code), expected.map(|_| String::new()), "confirm {id}"),
            }
        }
        Op::Book { slot, holder } => {
            step(inv, model, &Op::Hold { slot, holder, secs: 2 });
            step(inv, model, &Op::Confirm { slot, holder });
        }
        Op::ReleaseHold { slot, holder } => {
            let id = model.slot_id(slot);
            assert_eq!(inv.release_hold(&id, holder), model.release_hold(&id, holder), "release {id}");
        }
        Op::Cancel { booking, spelling } => {
            // One pick in (issued + 1) is a code that was never issued.
            let pick = booking as usize % (model.issued.len() + 1);
            let code = model.issued.get(pick).cloned().unwrap_or_else(|| "ZZZZZ-ZZZZ".into());
            let typed = match spelling {
                0 => code.clone(),
                1 => code.to_lowercase(),
                _ => code.replace('-', ""),
            };
            let live =
                model.slots.iter_mut().find(|(_, s)| matches!(&s.state, State::Booked { code: c, .. } if *c == code));
            match live {
                Some((id, slot)) => {
                    let (booking, cancelled_now) = inv.cancel(&typed, now).unwrap();
                    assert_eq!((&booking.slot, &booking.code, booking.cancelled_at), (id, &code, Some(now)));
                    assert!(cancelled_now);
                    slot.state = State::Returned;
                    model.cancelled.insert(code, now);
                }
                None => match model.cancelled.get(&code) {
                    // A cancelled code answers with its cancellation, unchanged.
                    Some(&at) => {
                        let (booking, cancelled_now) = inv.cancel(&typed, now).unwrap();
                        assert_eq!((booking.cancelled_at, cancelled_now), (Some(at), false));
                    }
                    None => assert_eq!(inv.cancel(&typed, now), Err(CoreError::UnknownBooking)),
                },
            }
        }
        Op::ReleaseReturned => {
            let mut released = 0;
            for slot in model.slots.values_mut().filter(|s| s.state == State::Returned) {
                slot.state = State::Free;
                released += 1;
            }
            assert_eq!(inv.release_returned(), released);
        }
        Op::Offer { slot, holder, secs } => {
            let id = model.slot_id(slot);
            let until = now + i64::from(secs) * SEC;
            let got = inv.offer(&id, holder, until);
            match model.slots.get_mut(&id) {
                None => assert_eq!(got, Err(CoreError::UnknownSlot(id))),
                Some(slot) if slot.state == State::Returned => {
                    assert_eq!(got, Ok(Model::round_up(until)));
                    slot.state = State::Offered { holder, until: Model::round_up(until) };
                }
                Some(_) => assert_eq!(got, Err(CoreError::NoHold)),
            }
        }
        Op::Sweep => {
            let mut got = inv.sweep(now);
            got.sort_by(|a, b| a.0.cmp(&b.0));
            assert_eq!(got, model.sweep());
        }
        Op::Advance { micros } => model.now += i64::from(micros),
    }
}

fn check(inv: &Inventory, model: &Model) {
    assert_eq!(inv.len(), model.slots.len());
    let mut recount: BTreeMap<&str, [u64; 5]> = BTreeMap::new();
    let mut booked_codes = HashSet::new();
    for (id, slot) in &model.slots {
        let info = inv.slot(id).unwrap();
        let (holder, until) = match &slot.state {
            State::Held { holder, until } | State::Offered { holder, until } => (Some(*holder), Some(*until)),
            State::Booked { holder, code } => {
                assert!(booked_codes.insert(code.clone()), "one code, one booking");
                let booking = inv.booking(code).unwrap();
                assert_eq!((&booking.slot, booking.holder), (id, *holder));
                (Some(*holder), None)
            }
            State::Free | State::Returned => (None, None),
        };
        let expected = SlotInfo {
            id: id.clone(),
            group: slot.group.clone(),
            starts_at: slot.starts_at,
            state: state_of(&slot.state),
            holder,
            until,
        };
        assert_eq!(info, expected);
        recount.entry(&slot.group).or_default()[state_of(&slot.state) as usize] += 1;
    }
    assert_eq!(inv.booking_count(), booked_codes.len());
    let expected: Vec<GroupAvailability> = recount
        .into_iter()
        .map(|(group, [free, held, offered, booked, returned])| GroupAvailability {
            group: group.into(),
            free,
            held,
            offered,
            booked,
            returned,
        })
        .collect();
    assert_eq!(inv.availability(), expected);

    for holder in 0..HOLDERS {
        let count = inv.holds_and_bookings_of(holder);
        assert_eq!(count, model.count(holder), "count of holder {holder}");
        if !model.offered_to.contains(&holder) {
            assert!(count <= model.limit, "holder {holder} is over the limit");
        }
    }

    let ids = |list: Vec<SlotInfo>| list.into_iter().map(|s| s.id).collect::<Vec<_>>();
    assert_eq!(ids(inv.free_slots(None, model.now, 0, usize::MAX)), model.listing(None));
    let kiel = model.listing(Some("Kiel"));
    let page: Vec<String> = kiel.iter().skip(1).take(2).cloned().collect();
    assert_eq!(ids(inv.free_slots(Some("Kiel"), model.now, 1, 2)), page);

    let mut returned: Vec<(i64, &String)> =
        model.slots.iter().filter(|(_, s)| s.state == State::Returned).map(|(id, s)| (s.starts_at, id)).collect();
    returned.sort();
    let returned: Vec<String> = returned.into_iter().map(|(_, id)| id.clone()).collect();
    assert_eq!(inv.returned_slots(), returned);

    let open =
        model.slots.values().any(|s| matches!(s.state, State::Free | State::Held { .. } | State::Offered { .. }));
    assert_eq!(inv.sold_out(), !model.slots.is_empty() && !open);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn the_inventory_behaves_like_its_model(
        limit in 1..4u32,
        start in 0..5_000_000i64,
        ops in proptest::collection::vec(op(), 1..80),
    ) {
        let inv = Inventory::new(EPOCH);
        let mut model = Model {
            now: EPOCH + start,
            limit,
            slots: BTreeMap::new(),
            next_id: 0,
            issued: Vec::new(),
            cancelled: HashMap::new(),
            offered_to: HashSet::new(),
        };
        for op in &ops {
            step(&inv, &mut model, op);
            check(&inv, &model);
        }
        let mut seen: HashMap<&String, usize> = HashMap::new();
        for code in &model.issued {
            *seen.entry(code).or_default() += 1;
        }
        prop_assert!(seen.values().all(|&n| n == 1));
    }
}
