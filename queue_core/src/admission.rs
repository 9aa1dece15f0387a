//! The admission tick: lets the next visitors in at the configured rate, within capacity,
//! skipping those who stopped waiting. Driven by the server every ~100 ms or by a virtual clock;
//! however it is driven, nothing is admitted before `opens_at` and capacity is never exceeded.

use std::cmp::Reverse;

use crate::events::Event;
use crate::queue::{QueueState, TicketState};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TickOutcome {
    pub admitted: u32,
    pub abandoned: u32,
    pub expired: u32,
}

impl QueueState {
    pub fn tick(&mut self, now: i64) -> TickOutcome {
        self.advance_phase(now);
        let mut outcome = TickOutcome::default();
        if now < self.config.opens_at || self.closed {
            return outcome;
        }
        outcome.expired = self.expire_sessions(now);
        let elapsed = now - self.last_tick.max(self.config.opens_at);
        self.last_tick = self.last_tick.max(now);
        self.accrue(now);
        if self.paused {
            return outcome;
        }
        let backed_up = self.waiting.waiting() > 0;
        let capacity = self.config.max_active.saturating_sub(self.active);
        // A float-to-int `as` saturates (and maps NaN to 0), which is the clamp wanted here.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let mut budget = capacity.min(self.allowance.max(0.0) as u32);
        let timeout = self.config.heartbeat_timeout_micros();
        let start = self.cursor;
        let admitted_before = self.counters.admitted;
        while self.cursor < self.order.len() {
            let position = self.cursor;
            if !self.waits_at(position) {
                self.cursor += 1;
                continue;
            }
            let t = self.order[position];
            if now - self.tickets[t as usize].last_seen > timeout {
                // Gone quietly: skipped, and no capacity used.
                self.mark_abandoned(t);
                outcome.abandoned += 1;
                self.cursor += 1;
                continue;
            }
            if budget == 0 {
                break;
            }
            self.admit(t, now);
            budget -= 1;
            outcome.admitted += 1;
            self.cursor += 1;
        }
        // Only intervals in which people kept waiting tell how fast the queue moves.
        let measured = backed_up && self.waiting.waiting() > 0 && elapsed > 0;
        if measured {
            let full = self.active >= self.config.max_active;
            self.meter.record((self.cursor - start) as u64, self.counters.admitted - admitted_before, elapsed, full);
        }
        // A tick that changed nothing durable is not journaled: ten records a second of "nothing
        // happened" would only make restarts slower.
        if measured || self.cursor != start {
            self.emit(&Event::Ticked {
                at: now,
                cursor: self.cursor as u64,
                allowance: self.allowance,
                meter: self.meter,
            });
        }
        outcome
    }

    /// The admission cursor found a waiting ticket that stopped polling.
    pub(crate) fn mark_abandoned(&mut self, t: u32) {
        let position = self.tickets[t as usize].position as usize;
        self.tickets[t as usize].state = TicketState::Abandoned;
        self.waiting.remove(position);
        self.counters.abandoned += 1;
        self.emit(&Event::Abandoned { ticket: t });
    }

    pub fn pause(&mut self) {
        self.paused = true;
        self.emit(&Event::Paused);
    }

    /// Resumes admissions; nothing accrues for the time paused.
    pub fn resume(&mut self, now: i64) {
        self.accrue(now);
        self.paused = false;
        self.emit(&Event::Resumed { at: now, allowance: self.allowance });
    }

    pub fn set_queue_all(&mut self, on: bool) {
        self.queue_all = on;
        self.emit(&Event::QueueAll { on });
    }

    /// Ends the admitted sessions whose passes ran out; their capacity is free again.
    fn expire_sessions(&mut self, now: i64) -> u32 {
        let mut expired = 0;
        while let Some(Reverse((expires, t))) = self.sessions.peek().copied() {
            if expires > now {
                break;
            }
            self.sessions.pop();
            let ticket = &self.tickets[t as usize];
            if ticket.state == TicketState::Admitted && ticket.pass_expires_at == expires {
                self.mark_expired(t);
                expired += 1;
            }
        }
        expired
    }
}

#[cfg(test)]
mod tests {
    use crate::clock::MICROS_PER_SECOND as S;
    use crate::errors::CoreError;
    use crate::queue::{QueueState, TicketState};
    use crate::room_config::{test_config, IdentityMode, PrequeueMode};

    const OPEN: i64 = 1_700_000_000 * S;

    fn room() -> QueueState {
        QueueState::new(test_config(OPEN)).unwrap()
    }

    #[test]
    fn nothing_is_admitted_before_opening_whatever_the_caller_does() {
        let mut q = room();
        for i in 0..50 {
            q.join(OPEN - 100 * S + i, None, None).unwrap();
        }
        for i in 0..100 {
            assert_eq!(q.tick(OPEN - 1 - i).admitted, 0);
        }
        assert_eq!(q.counters.admitted, 0);
        assert!(q.tickets.iter().all(|t| t.state == TicketState::Prequeue));
        assert_eq!(q.tick(OPEN + S).admitted, 10);
    }

    #[test]
    fn the_draw_is_a_permutation_reproducible_from_the_seed() {
        let mut q = room();
        for i in 0..1000 {
            q.join(OPEN - S + i, None, None).unwrap();
        }
        q.tick(OPEN);
        let draw = q.draw.clone().unwrap();
        let order = QueueState::draw_order_of(&draw);
        assert_eq!(order, q.order);
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..1000).collect::<Vec<u32>>());
        assert_ne!(order, sorted, "a shuffle of 1000 left everything in place");
    }

    #[test]
    fn fifo_prequeue_keeps_join_order_and_after_opening_joins_are_fifo() {
        let mut config = test_config(OPEN);
        config.prequeue = PrequeueMode::Fifo;
        config.max_active = 1;
        let mut q = QueueState::new(config).unwrap();
        for i in 0..5 {
            q.join(OPEN - 10 + i, None, None).unwrap();
        }
        q.tick(OPEN);
        for i in 5..10 {
            q.join(OPEN + i, None, None).unwrap();
        }
        assert_eq!(q.order, (0..10).collect::<Vec<u32>>());
    }

    #[test]
    fn rate_and_capacity_limit_admission() {
        let mut config = test_config(OPEN);
        config.admit_per_minute = 60.0; // one a second
        config.max_active = 3;
        let mut q = QueueState::new(config).unwrap();
        for i in 0..10 {
            q.join(OPEN - 10 + i, None, None).unwrap();
        }
        let mut admitted = 0;
        for s in 1..=10 {
            for t in 0..10 {
                q.status(t, OPEN + s * S).unwrap();
            }
            admitted += q.tick(OPEN + s * S).admitted;
            assert!(q.active <= 3);
        }
        assert_eq!(admitted, 3);
        // A completed session gives its capacity back.
        let first = q.tickets.iter().position(|t| t.state == TicketState::Admitted).unwrap() as u32;
        q.complete(first, OPEN + 11 * S).unwrap();
        assert_eq!(q.tick(OPEN + 12 * S).admitted, 1);
    }

    #[test]
    fn a_join_without_crowd_passes_at_once_and_queue_all_stops_that() {
        let mut q = room();
        q.tick(OPEN + S);
        let (t, _) = q.join(OPEN + 2 * S, None, None).unwrap();
        assert_eq!(q.tickets[t as usize].state, TicketState::Admitted);
        q.queue_all = true;
        let (u, _) = q.join(OPEN + 3 * S, None, None).unwrap();
        assert_eq!(q.tickets[u as usize].state, TicketState::Waiting);
    }

    #[test]
    fn identities_get_one_ticket_and_required_identity_is_enforced() {
        let mut q = room();
        let (a, new_a) = q.join(OPEN - 5, Some("phone:1"), None).unwrap();
        let (b, new_b) = q.join(OPEN - 4, Some("phone:1"), None).unwrap();
        assert_eq!((a, new_a, new_b), (b, true, false));
        let mut config = test_config(OPEN);
        config.identity = IdentityMode::Required;
        let mut r = QueueState::new(config).unwrap();
        assert_eq!(r.join(OPEN, None, None), Err(CoreError::IdentityRequired));
        assert!(matches!(r.join(OPEN, Some(""), None), Err(CoreError::InvalidArgument(_))));
        // A required identity may be a label; the label follows the identity's rule.
        let (x, _) = r.join_labelled(OPEN, None, Some("code:1"), None).unwrap();
        let (y, _) = r.join_labelled(OPEN, None, Some("code:1"), None).unwrap();
        assert_ne!(x, y);
        assert!(matches!(r.join_labelled(OPEN, None, Some("a\0"), None), Err(CoreError::InvalidArgument(_))));
    }

    #[test]
    fn leaving_and_rejoining_the_prequeue_stays_in_the_prequeue() {
        let mut q = room();
        let (a, _) = q.join(OPEN - 10, Some("phone:1"), None).unwrap();
        q.join(OPEN - 9, None, None).unwrap();
        q.leave(a, OPEN - 8).unwrap();
        assert_eq!(q.waiting_count(), 1);
        let (again, new) = q.join(OPEN - 7, Some("phone:1"), None).unwrap();
        assert_eq!((again, new), (a, false));
        assert_eq!(q.tickets[a as usize].state, TicketState::Prequeue);
        assert_eq!(q.waiting_count(), 2);
        q.tick(OPEN);
        assert_eq!(q.order.len(), 2, "one place each, no duplicate entry");
        assert_eq!(q.tickets[a as usize].state, TicketState::Waiting);
    }

    #[test]
    fn silent_tickets_are_skipped_and_use_no_capacity() {
        let mut config = test_config(OPEN);
        config.max_active = 1000;
        config.heartbeat_timeout_seconds = 30;
        let mut q = QueueState::new(config).unwrap();
        q.queue_all = true;
        for i in 0..4 {
            q.join(OPEN + i, None, None).unwrap();
        }
        // Only ticket 3 keeps polling.
        q.status(3, OPEN + 40 * S).unwrap();
        let outcome = q.tick(OPEN + 41 * S);
        assert_eq!((outcome.admitted, outcome.abandoned), (1, 3));
        assert_eq!(q.tickets[3].state, TicketState::Admitted);
        // An abandoned visitor who comes back joins again at the end.
        let (t, new) = q.join(OPEN + 42 * S, None, Some(0)).unwrap();
        assert_eq!((t, new), (0, false));
        assert_eq!(q.tickets[0].state, TicketState::Waiting);
        assert_eq!(q.tickets[0].position, 4);
    }

    #[test]
    fn sessions_expire_and_free_capacity() {
        let mut config = test_config(OPEN);
        config.max_active = 1;
        config.session_seconds = 60;
        let mut q = QueueState::new(config).unwrap();
        q.tick(OPEN + S);
        let (a, _) = q.join(OPEN + S, None, None).unwrap();
        let (b, _) = q.join(OPEN + S, None, None).unwrap();
        assert_eq!(q.tickets[a as usize].state, TicketState::Admitted);
        q.status(b, OPEN + 60 * S).unwrap();
        let outcome = q.tick(OPEN + 61 * S);
        assert_eq!((outcome.expired, outcome.admitted), (1, 1));
        assert_eq!(q.tickets[a as usize].state, TicketState::Expired);
        assert_eq!(q.complete(a, OPEN + 62 * S), Err(CoreError::TokenExpired));
    }

    #[test]
    fn pause_admits_nobody_and_does_not_bank_allowance() {
        let mut q = room();
        q.queue_all = true;
        for i in 0..100 {
            q.join(OPEN + i, None, None).unwrap();
        }
        q.paused = true;
        assert_eq!(q.tick(OPEN + 5 * S).admitted, 0);
        q.paused = false;
        // Nothing was banked while paused: one second later one second's worth (10) comes
        // in, not the 60 of the whole time since opening.
        assert_eq!(q.tick(OPEN + 5 * S + 1).admitted, 0);
        assert_eq!(q.tick(OPEN + 6 * S + 1).admitted, 10);
    }

    #[test]
    fn closing_refuses_joins_and_closes_waiting_tickets() {
        let mut config = test_config(OPEN);
        config.closes_at = Some(OPEN + 100 * S);
        let mut q = QueueState::new(config).unwrap();
        q.queue_all = true;
        let (t, _) = q.join(OPEN + S, None, None).unwrap();
        assert_eq!(q.join(OPEN + 100 * S, None, None), Err(CoreError::RoomClosed));
        assert_eq!(q.status(t, OPEN + 100 * S).unwrap().state, TicketState::Closed);
        assert_eq!(q.tick(OPEN + 101 * S).admitted, 0);
    }

    #[test]
    fn ahead_never_increases_and_eta_falls() {
        let mut config = test_config(OPEN);
        config.admit_per_minute = 120.0;
        let mut q = QueueState::new(config).unwrap();
        for i in 0..200 {
            q.join(OPEN - 1000 + i, None, None).unwrap();
        }
        let mut last_ahead = vec![u64::MAX; 200];
        for step in 1..=60 {
            let now = OPEN + step * S;
            q.tick(now);
            for t in 0..200u32 {
                if t % 7 == 0 && step == 10 {
                    q.leave(t, now).unwrap();
                }
                let view = q.status(t, now).unwrap();
                if let Some(ahead) = view.ahead {
                    assert!(ahead <= last_ahead[t as usize]);
                    last_ahead[t as usize] = ahead;
                }
            }
        }
        // All 100 places taken and no session ended yet: how fast they free up is not known,
        // and the range reaches a whole session.
        assert_eq!(q.active, 100);
        let next = q.line().estimate(1);
        assert!(!next.known && next.reason == crate::eta::Reason::Measuring, "{next:?}");
        assert!(next.high >= 900.0);
    }
}
