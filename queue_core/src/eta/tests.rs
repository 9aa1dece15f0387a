use super::*;

/// The room: 600 admitted a minute, 20 places, sessions of up to ten minutes.
fn line(meter: LineMeter) -> Line {
    Line {
        admit_per_second: 10.0,
        max_active: 20,
        session_seconds: 600.0,
        active: 20,
        paused: false,
        ended_early: 0,
        expired: 0,
        meter,
    }
}

#[test]
fn a_room_whose_places_cannot_fill_rests_on_the_rate() {
    let mut l = line(LineMeter::default());
    l.max_active = 10_000;
    let e = l.estimate(100);
    assert_eq!((e.reason, e.known), (Reason::Rate, false));
    assert!((e.seconds - 10.0).abs() < 1e-9);
    assert!(e.low < e.seconds && e.seconds < e.high);
    // Fewer positions would leave the skipped share too uncertain for `known`.
    l.meter = LineMeter { passed: 200, admitted: 150, micros: 20_000_000, filled: false, ..LineMeter::default() };
    assert!(!l.estimate(100).known);
    // A quarter skipped: 10 admissions a second pass 13.3 positions. The measured pace is drawn
    // towards the rate as if a minute at the rate had been measured too.
    l.meter = LineMeter { passed: 400, admitted: 300, micros: 30_000_000, filled: false, ..LineMeter::default() };
    let e = l.estimate(100);
    assert_eq!((e.reason, e.known), (Reason::Rate, true));
    let pace = (400.0 + 10.0 * 60.0) / (30.0 + 60.0);
    assert!((e.seconds - 100.0 / pace).abs() < 1e-9, "{e:?}");
    // The longer measured, the closer to the measured pace (100 positions in 7.5 s).
    l.meter =
        LineMeter { passed: 40_000, admitted: 30_000, micros: 3_000_000_000, filled: false, ..LineMeter::default() };
    assert!((l.estimate(100).seconds - 7.5).abs() < 0.2);
    assert!(e.high / e.low <= 2.0);
}

#[test]
fn the_skipped_share_is_the_recent_one_once_a_stretch_was_measured() {
    let mut m = LineMeter::default();
    // Ten minutes at 10 positions a second: first nobody skips, then half of those passed do
    // (those who waited longer gave up). Since the start, a sixth was skipped.
    for second in 0..600 {
        let admitted = if second < 300 { 10 } else { 5 };
        m.record(10, admitted, 1_000_000, false);
    }
    assert_eq!((m.passed, m.admitted), (6000, 4500));
    assert!((m.keep() - 0.75).abs() < 1e-9);
    assert!((m.recent_keep() - 0.5).abs() < 1e-9, "{m:?}");
    assert!(m.earlier.micros >= RECENT_STRETCH_MICROS && m.recent.micros < RECENT_STRETCH_MICROS);
    // Admissions go at 7.5 a second on average, and now each takes two positions: the line moves
    // at 15 positions a second, not the 10 measured since the start.
    let mut l = line(m);
    l.max_active = 10_000;
    l.active = 0;
    let e = l.estimate(1500);
    assert!(e.known, "{e:?}");
    assert!((e.seconds - 100.0).abs() < 2.0, "{e:?}");
    // Without the stretches (nothing recent measured yet), the share since the start.
    l.meter = LineMeter { recent: Stretch::default(), earlier: Stretch::default(), ..m };
    assert!((l.estimate(1500).seconds - 150.0).abs() < 3.0);
    // Measuring restarts with the recent stretches.
    m.restart();
    assert_eq!(m, LineMeter::default());
}

#[test]
fn before_anything_is_measured_the_range_spans_rate_to_full_length_sessions() {
    let e = line(LineMeter::default()).estimate(600);
    assert_eq!((e.reason, e.known), (Reason::Measuring, false));
    // At best the rate, and skips not yet measured may halve that.
    assert!((e.low - 30.0).abs() < 1e-9);
    // 20 places for 600 s each: one admission every 30 s.
    assert!((e.high - 600.0 * 30.0).abs() < 1e-6);
    assert!(e.low <= e.seconds && e.seconds <= e.high);
}

#[test]
fn tickets_that_fit_in_free_places_wait_for_the_rate_only() {
    let mut l = line(LineMeter::default());
    l.active = 5;
    assert_eq!(l.estimate(15).reason, Reason::Rate);
    assert_eq!(l.estimate(16).reason, Reason::Measuring);
}

#[test]
fn a_full_booking_site_is_measured_from_when_it_filled() {
    let mut m = LineMeter::default();
    // Two seconds filling the places at the rate, then five a second as sessions end.
    m.record(10, 10, 1_000_000, false);
    m.record(10, 10, 1_000_000, true);
    assert_eq!(m, LineMeter { filled: true, ..LineMeter::default() });
    // Nothing frees for the first sessions' length: not measured.
    m.record(0, 0, 4_000_000, true);
    assert_eq!(m, LineMeter { filled: true, ..LineMeter::default() });
    for _ in 0..47 {
        m.record(5, 5, 1_000_000, true);
    }
    let mut l = line(m);
    l.ended_early = 235;
    // Fewer than twelve turnovers of the 20 places: still measuring.
    assert_eq!(l.estimate(100).reason, Reason::Measuring);
    l.meter.record(5, 5, 1_000_000, true);
    let e = l.estimate(100);
    assert_eq!((e.reason, e.known), (Reason::Capacity, true));
    assert!((e.seconds - 20.0).abs() < 1e-9, "{e:?}");
    assert_eq!(l.meter.admitted, 240);
    assert!((e.admit_per_second - 5.0).abs() < 1e-9);
    assert!(e.low <= 20.0 && 20.0 <= e.high && e.high / e.low <= 2.0);
}

#[test]
fn without_completions_the_estimate_says_places_free_up_only_by_expiry() {
    let mut l =
        line(LineMeter { passed: 300, admitted: 300, micros: 60_000_000, filled: true, ..LineMeter::default() });
    l.expired = 300;
    assert_eq!(l.estimate(10).reason, Reason::Expiry);
    l.ended_early = 1;
    assert_eq!(l.estimate(10).reason, Reason::Capacity);
}

#[test]
fn sessions_not_yet_seen_ending_keep_it_measuring() {
    // Long enough measured, but the places have not turned over once: lengths are unknown.
    let mut l = line(LineMeter { passed: 3, admitted: 3, micros: 30_000_000, filled: true, ..LineMeter::default() });
    l.ended_early = 3;
    let e = l.estimate(50);
    assert_eq!((e.reason, e.known), (Reason::Measuring, false));
    assert!(e.low <= e.seconds && e.seconds <= e.high);
}

#[test]
fn a_pause_says_so_at_once_and_is_never_known() {
    let mut l =
        line(LineMeter { passed: 300, admitted: 300, micros: 60_000_000, filled: true, ..LineMeter::default() });
    l.ended_early = 300;
    assert!(l.estimate(10).known);
    l.paused = true;
    let e = l.estimate(10);
    assert_eq!((e.reason, e.known), (Reason::Paused, false));
    assert_eq!(prequeue_estimate(5.0, 10, &l).reason, Reason::Paused);
}

#[test]
fn a_rate_change_restarts_the_measurement_but_remembers_a_full_site() {
    let mut m = LineMeter { passed: 100, admitted: 90, micros: 20_000_000, filled: true, ..LineMeter::default() };
    m.restart();
    assert_eq!(m, LineMeter { filled: true, ..LineMeter::default() });
}

#[test]
fn the_prequeue_range_reaches_the_slowest_the_settings_allow() {
    let e = prequeue_estimate(10.0, 600, &line(LineMeter::default()));
    assert!((e.low - 10.0).abs() < 1e-9);
    assert!((e.high - (10.0 + 600.0 * 30.0)).abs() < 1e-6);
    assert!(!e.known);
}

#[test]
fn zero_distance_is_now() {
    assert_eq!(line(LineMeter::default()).estimate(0), Estimate::zero());
}

#[test]
fn the_point_of_a_measuring_range_lies_inside_it() {
    // A site that was full once, has no place in use now and passed one position in 15 s: the
    // measured pace is slower than free places filling at the rate.
    let l = Line {
        admit_per_second: 0.5,
        max_active: 2,
        session_seconds: 60.0,
        active: 0,
        paused: false,
        ended_early: 0,
        expired: 0,
        meter: LineMeter { passed: 1, admitted: 1, micros: 15_000_000, filled: true, ..LineMeter::default() },
    };
    let e = l.estimate(2);
    assert_eq!(e.reason, Reason::Measuring);
    assert!(e.low <= e.seconds && e.seconds <= e.high, "{e:?}");
}

#[test]
fn counters_that_no_tick_records_give_an_estimate_all_the_same() {
    // More admitted than passed (Redis counters are another process's): no panic, a sane range.
    // Places that turn over nearly at the rate: the slowest pace is close to the fastest.
    let mut l =
        line(LineMeter { passed: 100, admitted: 160, micros: 10_000_000, filled: true, ..LineMeter::default() });
    l.session_seconds = 2.5;
    let e = l.estimate(50);
    assert!(
        e.low.is_finite() && e.high.is_finite() && 0.0 <= e.low && e.low <= e.seconds && e.seconds <= e.high,
        "{e:?}"
    );
}
