//! Release windows: the fixed local times at which a room may put returned slots back on offer.
//!
//! In Kiel in 2021 cancelled vaccination slots were re-released only on weekdays at 07:00 and
//! 17:00 local time. Once they were released early by mistake, and the people who came on time
//! got nothing. So the core knows every window to the microsecond, in the room's own timezone and
//! across daylight-saving changes, and can refuse any release before the window.
//!
//! The daylight-saving rules are on `ReleaseSchedule`.

use std::iter;
use std::str::FromStr;

use chrono::{DateTime, Datelike, MappedLocalTime, NaiveDateTime, NaiveTime, Offset, TimeZone, Weekday, WeekdaySet};
use chrono_tz::Tz;

use crate::clock::MICROS_PER_SECOND;
use crate::errors::{CoreError, CoreResult};
use crate::limits;

/// `windows_between` lists at most this many instants.
pub const MAX_LISTED_WINDOWS: usize = 1000;

/// Wider than any change of UTC offset in the tz database (the largest, Alaska's change of
/// calendar in 1867, moved its clocks by a whole day), so a search this wide always spans the
/// change it looks for.
const OFFSET_CHANGE_REACH_SECONDS: i64 = 26 * 3600;

const WEEK: [Weekday; 7] =
    [Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri, Weekday::Sat, Weekday::Sun];
const DAY_NAMES: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// When a room may release returned slots: a set of weekly local times in one IANA timezone.
///
/// Specs look like `"Mon-Fri 07:00"`, `"Sat 09:30"`, `"Mon,Wed,Fri 17:00"`, `"Sun-Tue 08:15"`
/// (a range runs forward through the week and may wrap past Sunday), `"daily 07:00"` or a plain
/// `"07:00"` (every day). List entries may themselves be ranges (`"Mon,Wed-Fri 07:00"`). Day
/// names are English, three letters, any case; times are `HH:MM`, 24-hour.
///
/// All instants are microseconds since the Unix epoch, UTC. Instants outside the range chrono
/// can represent (about 262,000 years either side of year 0) have no windows.
///
/// # Daylight saving
///
/// Window instants come from the tz database (chrono-tz), never from a fixed offset:
///
/// * A window whose local time does not exist that day (the spring-forward gap, e.g. 02:30 in
///   Europe/Berlin on the last Sunday of March) happens at the first instant after the gap, the
///   moment the clock jumps past it: 03:00 CEST, the same instant as 02:00 CET + 1 h.
/// * A window whose local time happens twice (the autumn fall-back, e.g. 02:30 in Europe/Berlin
///   on the last Sunday of October) happens once, at the earlier instant (02:30 CEST). When the
///   clock shows 02:30 again an hour later, that is not a window.
///
/// Both are one rule: a window at local time L happens at the first instant at which the wall
/// clock has shown L or later. Window instants therefore rise with their local times, which is
/// what lets the searches walk local days instead of instants. Two windows inside one gap
/// happen at the same instant and are listed once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseSchedule {
    specs: Vec<WindowSpec>,
    /// The window times of day for each weekday (index: days since Monday), ascending, each once.
    times_by_weekday: [Vec<NaiveTime>; 7],
    timezone: Tz,
}

/// A time zone within `limits::TIMEZONE` that is a known IANA name.
fn read_timezone(name: &str) -> Result<Tz, String> {
    Tz::from_str(name).map_err(|_| {
        format!("unknown timezone {} (expected an IANA name such as \"Europe/Berlin\" or \"UTC\")", limits::shown(name))
    })
}

fn read_window(spec: &str) -> Result<WindowSpec, String> {
    WindowSpec::parse(spec).map_err(|reason| format!("release window {spec:?}: {reason}"))
}

/// Whether a time zone that passes `limits::TIMEZONE` is one `parse` knows, with its message.
pub fn check_timezone(name: &str) -> Result<(), String> {
    read_timezone(name).map(|_| ())
}

/// Whether one release window is well formed, with the message `parse` gives for it.
pub fn check_window(spec: &str) -> Result<(), String> {
    read_window(spec).map(|_| ())
}

impl ReleaseSchedule {
    /// Parses window specs (see the type's documentation) in an IANA timezone such as
    /// `"Europe/Berlin"` or `"UTC"`.
    ///
    /// An empty list is valid: the room has no windows, and every release needs an override.
    /// A malformed spec or an unknown timezone is `CoreError::InvalidConfig`, whose message
    /// quotes it.
    pub fn parse(specs: &[String], timezone: &str) -> CoreResult<Self> {
        // Every IANA name is within the rule, so a saved room's timezone always passes it.
        limits::TIMEZONE.check(timezone).map_err(CoreError::InvalidConfig)?;
        let timezone = read_timezone(timezone).map_err(CoreError::InvalidConfig)?;
        let specs = specs.iter().map(|spec| read_window(spec)).collect::<Result<Vec<_>, _>>();
        let specs = specs.map_err(CoreError::InvalidConfig)?;

        let mut times_by_weekday: [Vec<NaiveTime>; 7] = Default::default();
        for spec in &specs {
            for day in spec.days.iter(Weekday::Mon) {
                times_by_weekday[day.num_days_from_monday() as usize].push(spec.time);
            }
        }
        for times in &mut times_by_weekday {
            times.sort_unstable();
            times.dedup();
        }
        Ok(Self { specs, times_by_weekday, timezone })
    }

    /// True when the schedule has no windows at all.
    pub fn is_empty(&self) -> bool {
        self.specs.is_empty()
    }

    /// The IANA name of the schedule's timezone, e.g. `"Europe/Berlin"`.
    pub fn timezone_name(&self) -> &str {
        self.timezone.name()
    }

    /// The schedule's timezone, for showing instants in the room's local time.
    pub fn timezone(&self) -> Tz {
        self.timezone
    }

    /// The first window instant at or after `t_micros`; `None` when there are no windows.
    ///
    /// Walks at most eight local days: the day of the latest wall time shown before `t` and the
    /// seven after it, by which time every weekday of the week has come round.
    pub fn next_at_or_after(&self, t_micros: i64) -> Option<i64> {
        let shown = self.latest_wall_time_shown(t_micros.checked_sub(1)?)?;
        let window = self.local_windows_after(shown).next()?;
        self.instant_of(window)
    }

    /// The latest window instant at or before `t_micros`; `None` when there are no windows.
    ///
    /// Walks at most eight local days, like `next_at_or_after`, backwards.
    pub fn last_at_or_before(&self, t_micros: i64) -> Option<i64> {
        let shown = self.latest_wall_time_shown(t_micros)?;
        let window = self.local_windows_at_or_before(shown).next()?;
        self.instant_of(window)
    }

    /// All window instants in `[from_micros, to_micros)`, ascending, each once, at most
    /// `MAX_LISTED_WINDOWS` of them (the earliest).
    pub fn windows_between(&self, from_micros: i64, to_micros: i64) -> Vec<i64> {
        let mut instants = Vec::new();
        if from_micros >= to_micros {
            return instants;
        }
        let Some(shown) = from_micros.checked_sub(1).and_then(|t| self.latest_wall_time_shown(t)) else {
            return instants;
        };
        for window in self.local_windows_after(shown) {
            let Some(instant) = self.instant_of(window) else {
                break;
            };
            if instant >= to_micros {
                break;
            }
            // Two window times inside one spring-forward gap happen at the same instant.
            if instants.last() != Some(&instant) {
                instants.push(instant);
                if instants.len() == MAX_LISTED_WINDOWS {
                    break;
                }
            }
        }
        instants
    }

    /// The specs in canonical form, in the order given, for display and the audit log:
    /// `"Mon-Fri 07:00"`, `"Mon,Wed,Fri 17:00"`, `"daily 07:00"`, ...
    pub fn specs(&self) -> Vec<String> {
        self.specs.iter().map(WindowSpec::canonical).collect()
    }

    fn times_on(&self, weekday: Weekday) -> &[NaiveTime] {
        &self.times_by_weekday[weekday.num_days_from_monday() as usize]
    }

    /// Window local times strictly after `after`, ascending. Ends at once for an empty schedule;
    /// otherwise every seven local days hold at least one window.
    fn local_windows_after(&self, after: NaiveDateTime) -> impl Iterator<Item = NaiveDateTime> + '_ {
        iter::successors(Some(after.date()), |date| date.succ_opt())
            .take_while(|_| !self.is_empty())
            .flat_map(move |date| self.times_on(date.weekday()).iter().map(move |time| date.and_time(*time)))
            .filter(move |window| *window > after)
    }

    /// Window local times at or before `until`, descending.
    fn local_windows_at_or_before(&self, until: NaiveDateTime) -> impl Iterator<Item = NaiveDateTime> + '_ {
        iter::successors(Some(until.date()), |date| date.pred_opt())
            .take_while(|_| !self.is_empty())
            .flat_map(move |date| self.times_on(date.weekday()).iter().rev().map(move |time| date.and_time(*time)))
            .filter(move |window| *window <= until)
    }

    /// The UTC offset, in seconds, in force at the start of second `t_seconds`.
    fn offset_seconds_at(&self, t_seconds: i64) -> Option<i32> {
        let utc = DateTime::from_timestamp(t_seconds, 0)?.naive_utc();
        Some(self.timezone.offset_from_utc_datetime(&utc).fix().local_minus_utc())
    }

    /// The wall-clock time at instant `t_micros`.
    fn wall_time_at(&self, t_micros: i64) -> Option<NaiveDateTime> {
        let utc = DateTime::from_timestamp_micros(t_micros)?.naive_utc();
        utc.checked_add_offset(self.timezone.offset_from_utc_datetime(&utc).fix())
    }

    /// The latest wall-clock time shown at any instant up to and including `t_micros`.
    ///
    /// That is the wall time at `t`, except shortly after a fall-back, while the clock shows
    /// times it has shown once already: then it is the time shown just before the clock was set
    /// back. A window is due by `t` exactly when its local time is at most this.
    fn latest_wall_time_shown(&self, t_micros: i64) -> Option<NaiveDateTime> {
        let now = self.wall_time_at(t_micros)?;
        let second_now = t_micros.div_euclid(MICROS_PER_SECOND);
        let offset_now = self.offset_seconds_at(second_now)?;
        let second_then = second_now - OFFSET_CHANGE_REACH_SECONDS;
        match self.offset_seconds_at(second_then) {
            Some(offset_then) if offset_then > offset_now => {}
            // No clock was set back within reach, so the wall time has only moved forward.
            // (A set-back undone by a larger jump forward within a day would hide here; the tz
            // database has none.)
            _ => return Some(now),
        }
        // Offsets change on whole seconds: find the last second before the clock was set back.
        let (mut before, mut after) = (second_then, second_now);
        while after - before > 1 {
            let middle = before + (after - before) / 2;
            if self.offset_seconds_at(middle)? == offset_now {
                after = middle;
            } else {
                before = middle;
            }
        }
        let last_micro_before_setback = after.checked_mul(MICROS_PER_SECOND)? - 1;
        Some(now.max(self.wall_time_at(last_micro_before_setback)?))
    }

    /// The instant of a window at local time `local`: the first instant at which the wall clock
    /// has shown `local` or later.
    fn instant_of(&self, local: NaiveDateTime) -> Option<i64> {
        match self.timezone.offset_from_local_datetime(&local) {
            MappedLocalTime::Single(offset) => {
                Some(local.checked_sub_offset(offset.fix())?.and_utc().timestamp_micros())
            }
            MappedLocalTime::Ambiguous(first, second) => {
                let first = local.checked_sub_offset(first.fix())?;
                let second = local.checked_sub_offset(second.fix())?;
                Some(first.min(second).and_utc().timestamp_micros())
            }
            MappedLocalTime::None => self.end_of_gap(local),
        }
    }

    /// The instant the spring-forward gap containing `local` ends, i.e. the first second whose
    /// wall time is `local` or later.
    fn end_of_gap(&self, local: NaiveDateTime) -> Option<i64> {
        let target = local.and_utc().timestamp();
        let wall_seconds = |t: i64| -> Option<i64> { Some(t + i64::from(self.offset_seconds_at(t)?)) };
        // Every offset is under a day, so the wall clock is behind `local` a day and two hours
        // earlier and ahead of it a day and two hours later; the gap's end lies between.
        let (mut before, mut after) = (target - OFFSET_CHANGE_REACH_SECONDS, target + OFFSET_CHANGE_REACH_SECONDS);
        while after - before > 1 {
            let middle = before + (after - before) / 2;
            if wall_seconds(middle)? >= target {
                after = middle;
            } else {
                before = middle;
            }
        }
        after.checked_mul(MICROS_PER_SECOND)
    }
}

/// One parsed spec: the weekdays and the local time of day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct WindowSpec {
    days: WeekdaySet,
    time: NaiveTime,
}

impl WindowSpec {
    /// Parses one spec; the error is the reason, which the caller prefixes with the spec.
    fn parse(spec: &str) -> Result<Self, String> {
        let spec = spec.trim();
        if spec.is_empty() {
            return Err("the spec is empty (expected e.g. \"Mon-Fri 07:00\")".to_owned());
        }
        let (days_text, time_text) = match spec.rsplit_once(char::is_whitespace) {
            Some((days, time)) => (days.trim(), time),
            None => ("", spec),
        };
        let time = parse_time(time_text)?;
        let days = if days_text.is_empty() { WeekdaySet::ALL } else { parse_days(days_text)? };
        Ok(Self { days, time })
    }

    fn canonical(&self) -> String {
        format!("{} {}", days_text(self.days), self.time.format("%H:%M"))
    }
}

fn parse_time(text: &str) -> Result<NaiveTime, String> {
    let bytes = text.as_bytes();
    let well_formed = bytes.len() == 5 && bytes[2] == b':' && [0, 1, 3, 4].iter().all(|&i| bytes[i].is_ascii_digit());
    if !well_formed {
        return Err(format!("the time {text:?} is not HH:MM (24-hour, e.g. 07:00)"));
    }
    // Safe to slice: the five bytes are ASCII.
    let hour: u32 = text[..2].parse().map_err(|_| format!("bad hour in {text:?}"))?;
    let minute: u32 = text[3..].parse().map_err(|_| format!("bad minute in {text:?}"))?;
    if hour > 23 {
        return Err(format!("the hour in {text:?} is not between 00 and 23"));
    }
    if minute > 59 {
        return Err(format!("the minute in {text:?} is not between 00 and 59"));
    }
    NaiveTime::from_hms_opt(hour, minute, 0).ok_or_else(|| format!("bad time {text:?}"))
}

fn parse_days(text: &str) -> Result<WeekdaySet, String> {
    if text.eq_ignore_ascii_case("daily") {
        return Ok(WeekdaySet::ALL);
    }
    let mut days = WeekdaySet::EMPTY;
    for entry in text.split(',') {
        let entry = entry.trim();
        if entry.is_empty() {
            return Err(format!("the day list {text:?} has an empty entry"));
        }
        match entry.split_once('-') {
            Some((first, last)) => {
                let (first, last) = (first.trim(), last.trim());
                if first.is_empty() || last.is_empty() {
                    return Err(format!("the day range {entry:?} needs a day on each side"));
                }
                let (first, last) = (parse_day(first)?, parse_day(last)?);
                // A range runs forward through the week and may wrap: Fri-Mon is Fri to Mon.
                let mut day = first;
                days.insert(day);
                while day != last {
                    day = day.succ();
                    days.insert(day);
                }
            }
            None => {
                days.insert(parse_day(entry)?);
            }
        }
    }
    Ok(days)
}

fn parse_day(text: &str) -> Result<Weekday, String> {
    DAY_NAMES.iter().position(|name| name.eq_ignore_ascii_case(text)).map(|i| WEEK[i]).ok_or_else(|| {
        if text.eq_ignore_ascii_case("daily") {
            "\"daily\" stands alone and cannot be combined with days".to_owned()
        } else {
            format!("unknown day {text:?} (days are Mon, Tue, Wed, Thu, Fri, Sat, Sun)")
        }
    })
}

/// The canonical text of a set of days: `daily`, or its runs of consecutive days (wrapping past
/// Sunday) from Monday on, a run of one day as the day, longer ones as `first-last`.
fn days_text(days: WeekdaySet) -> String {
    if days == WeekdaySet::ALL {
        return "daily".to_owned();
    }
    let name = |day: Weekday| DAY_NAMES[day.num_days_from_monday() as usize];
    WEEK.iter()
        .filter(|day| days.contains(**day) && !days.contains(day.pred()))
        .map(|&first| {
            let mut last = first;
            // Ends because the set is not the whole week.
            while days.contains(last.succ()) {
                last = last.succ();
            }
            if last == first {
                name(first).to_owned()
            } else {
                format!("{}-{}", name(first), name(last))
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn schedule(specs: &[&str], timezone: &str) -> ReleaseSchedule {
        let specs: Vec<String> = specs.iter().map(|s| s.to_string()).collect();
        ReleaseSchedule::parse(&specs, timezone).unwrap()
    }

    fn kiel() -> ReleaseSchedule {
        schedule(&["Mon-Fri 07:00", "Mon-Fri 17:00"], "Europe/Berlin")
    }

    /// An RFC 3339 instant in micros.
    fn at(text: &str) -> i64 {
        DateTime::parse_from_rfc3339(text).unwrap().timestamp_micros()
    }

    fn parse_error(specs: &[&str], timezone: &str) -> String {
        let specs: Vec<String> = specs.iter().map(|s| s.to_string()).collect();
        match ReleaseSchedule::parse(&specs, timezone) {
            Err(CoreError::InvalidConfig(message)) => message,
            other => panic!("{specs:?} in {timezone:?} gave {other:?}"),
        }
    }

    #[test]
    fn each_window_and_the_timezone_are_checked_with_the_message_of_parse() {
        assert_eq!(check_window("Mon 25:00").unwrap_err(), parse_error(&["Mon 25:00"], "UTC"));
        assert_eq!(check_timezone("Mars/Olympus").unwrap_err(), parse_error(&[], "Mars/Olympus"));
        assert!(check_window("Mon-Fri 07:00").is_ok() && check_timezone("Europe/Berlin").is_ok());
    }

    #[test]
    fn kiel_monday_morning() {
        let kiel = kiel();
        // 2021-05-10 is a Monday, in CEST.
        let seven = at("2021-05-10T07:00:00+02:00");
        assert_eq!(kiel.next_at_or_after(at("2021-05-10T06:59:59+02:00")), Some(seven));
        assert_eq!(kiel.next_at_or_after(seven - 1), Some(seven));
        assert_eq!(kiel.next_at_or_after(seven), Some(seven));
        assert_eq!(kiel.last_at_or_before(seven), Some(seven));
        assert_eq!(kiel.last_at_or_before(seven - 1), Some(at("2021-05-07T17:00:00+02:00")));
        assert_eq!(kiel.next_at_or_after(seven + 1), Some(at("2021-05-10T17:00:00+02:00")));
    }

    #[test]
    fn kiel_friday_evening_waits_for_monday() {
        let kiel = kiel();
        let friday_after = at("2021-05-14T17:00:01+02:00");
        assert_eq!(kiel.next_at_or_after(friday_after), Some(at("2021-05-17T07:00:00+02:00")));
        assert_eq!(kiel.last_at_or_before(friday_after), Some(at("2021-05-14T17:00:00+02:00")));
    }

    #[test]
    fn weekends_are_skipped() {
        let kiel = kiel();
        assert_eq!(
            kiel.windows_between(at("2021-05-14T00:00:00+02:00"), at("2021-05-18T00:00:00+02:00")),
            vec![
                at("2021-05-14T07:00:00+02:00"),
                at("2021-05-14T17:00:00+02:00"),
                at("2021-05-17T07:00:00+02:00"),
                at("2021-05-17T17:00:00+02:00"),
            ]
        );
        let saturday_noon = at("2021-05-15T12:00:00+02:00");
        assert_eq!(kiel.next_at_or_after(saturday_noon), Some(at("2021-05-17T07:00:00+02:00")));
        assert_eq!(kiel.last_at_or_before(saturday_noon), Some(at("2021-05-14T17:00:00+02:00")));
    }

    #[test]
    fn spring_forward_day_in_berlin() {
        // 2021-03-28: at 01:00 UTC the clocks jump from 02:00 CET to 03:00 CEST.
        let sunday = schedule(&["Sun 02:30", "Sun 07:00"], "Europe/Berlin");
        let gap_window = at("2021-03-28T01:00:00Z");
        let morning_window = at("2021-03-28T05:00:00Z");
        assert_eq!(
            sunday.windows_between(at("2021-03-27T00:00:00Z"), at("2021-03-29T00:00:00Z")),
            vec![gap_window, morning_window]
        );
        assert_eq!(sunday.next_at_or_after(at("2021-03-28T00:59:59Z")), Some(gap_window));
        assert_eq!(sunday.next_at_or_after(gap_window), Some(gap_window));
        assert_eq!(sunday.next_at_or_after(gap_window + 1), Some(morning_window));
        assert_eq!(sunday.last_at_or_before(gap_window), Some(gap_window));
        // The week before, 02:30 CET existed.
        assert_eq!(sunday.last_at_or_before(gap_window - 1), Some(at("2021-03-21T06:00:00Z")));
        assert_eq!(
            schedule(&["Sun 02:30"], "Europe/Berlin").last_at_or_before(gap_window - 1),
            Some(at("2021-03-21T01:30:00Z"))
        );
    }

    #[test]
    fn two_windows_in_one_gap_are_one_instant() {
        let sunday = schedule(&["Sun 02:15", "Sun 02:45"], "Europe/Berlin");
        assert_eq!(
            sunday.windows_between(at("2021-03-27T00:00:00Z"), at("2021-03-29T00:00:00Z")),
            vec![at("2021-03-28T01:00:00Z")]
        );
    }

    #[test]
    fn fall_back_day_in_berlin() {
        // 2021-10-31: at 01:00 UTC the clocks go back from 03:00 CEST to 02:00 CET.
        let sunday = schedule(&["Sun 02:30", "Sun 07:00"], "Europe/Berlin");
        let first_half_past_two = at("2021-10-31T00:30:00Z");
        let second_half_past_two = at("2021-10-31T01:30:00Z");
        let morning_window = at("2021-10-31T06:00:00Z");
        assert_eq!(
            sunday.windows_between(at("2021-10-30T00:00:00Z"), at("2021-11-01T00:00:00Z")),
            vec![first_half_past_two, morning_window]
        );
        // 02:15 CET, the second time round: 02:30 has been, 07:00 is next.
        let second_quarter_past_two = at("2021-10-31T01:15:00Z");
        assert_eq!(sunday.last_at_or_before(second_quarter_past_two), Some(first_half_past_two));
        assert_eq!(sunday.next_at_or_after(second_quarter_past_two), Some(morning_window));

        let half_past_two = schedule(&["Sun 02:30"], "Europe/Berlin");
        assert_eq!(half_past_two.next_at_or_after(at("2021-10-31T00:29:59Z")), Some(first_half_past_two));
        assert_eq!(half_past_two.last_at_or_before(second_half_past_two), Some(first_half_past_two));
        assert_eq!(half_past_two.next_at_or_after(second_half_past_two), Some(at("2021-11-07T01:30:00Z")));
    }

    #[test]
    fn ranges_wrap_around_the_week() {
        let long_weekend = schedule(&["Fri-Mon 12:00"], "UTC");
        assert_eq!(
            long_weekend.windows_between(at("2021-05-10T00:00:00Z"), at("2021-05-18T00:00:00Z")),
            vec![
                at("2021-05-10T12:00:00Z"),
                at("2021-05-14T12:00:00Z"),
                at("2021-05-15T12:00:00Z"),
                at("2021-05-16T12:00:00Z"),
                at("2021-05-17T12:00:00Z"),
            ]
        );
        let sun_to_tue = schedule(&["sun-TUE 08:15"], "UTC");
        assert_eq!(
            sun_to_tue.windows_between(at("2021-05-10T00:00:00Z"), at("2021-05-17T00:00:00Z")),
            vec![at("2021-05-10T08:15:00Z"), at("2021-05-11T08:15:00Z"), at("2021-05-16T08:15:00Z")]
        );
    }

    #[test]
    fn specs_come_back_canonical() {
        let given = [
            "mon-fri 07:00",
            "MON,wed,Fri 17:00",
            "07:00",
            "Sun-Tue 08:15",
            " Sat 09:30 ",
            "Mon-Sun 06:00",
            "DAILY 05:00",
            "Sat,Sun 10:00",
            "Fri-Mon 12:00",
            "Mon, Wed - Fri 11:00",
            "Tue-Tue 13:00",
        ];
        let canonical = [
            "Mon-Fri 07:00",
            "Mon,Wed,Fri 17:00",
            "daily 07:00",
            "Sun-Tue 08:15",
            "Sat 09:30",
            "daily 06:00",
            "daily 05:00",
            "Sat-Sun 10:00",
            "Fri-Mon 12:00",
            "Mon,Wed-Fri 11:00",
            "Tue 13:00",
        ];
        let parsed = schedule(&given, "Europe/Berlin");
        assert_eq!(parsed.specs(), canonical);
        let canonical: Vec<String> = canonical.iter().map(|s| s.to_string()).collect();
        assert_eq!(ReleaseSchedule::parse(&canonical, "Europe/Berlin").unwrap(), parsed);
        assert_eq!(parsed.timezone_name(), "Europe/Berlin");
    }

    #[test]
    fn malformed_specs_are_invalid_config_and_quoted() {
        for bad in [
            "Mon-Fri 7",
            "Xyz 07:00",
            "Mon-Fri 25:00",
            "Mon-Fri 24:00",
            "Mon-Fri 07:60",
            "",
            "   ",
            "Mon- 07:00",
            "-Fri 07:00",
            "Mon-Tue-Wed 07:00",
            "Mon,,Tue 07:00",
            "daily,Mon 07:00",
            "Monday 07:00",
            "Mon Fri 07:00",
            "Mon-Fri",
            "Mon-Fri 7:00",
            "Mon-Fri 07:00:00",
            "Mon-Fri ０7:00",
        ] {
            let message = parse_error(&["Mon-Fri 07:00", bad], "Europe/Berlin");
            assert!(message.contains(&format!("{bad:?}")), "{message:?} does not quote {bad:?}");
        }
    }

    #[test]
    fn a_long_timezone_is_refused_by_its_length_and_not_repeated_whole() {
        let message = parse_error(&[], &"Europe/".repeat(10_000));
        assert!(message.starts_with("timezone \"Europe/Europe/") && message.contains("1 to 64 bytes"), "{message}");
        assert!(message.len() < 300, "{} bytes", message.len());
        let message = parse_error(&[], &format!("{}x", "Europe/Berlin".repeat(4)));
        assert!(message.starts_with("unknown timezone") && message.contains('…') && message.len() < 200, "{message}");
    }

    #[test]
    fn unknown_timezones_are_invalid_config_and_quoted() {
        for bad in ["Europe/Kiel", "", "europe/berlin", "CEST+2", " UTC"] {
            let message = parse_error(&["Mon-Fri 07:00"], bad);
            assert!(message.contains(&format!("{bad:?}")), "{message:?} does not quote {bad:?}");
        }
    }

    #[test]
    fn a_room_without_windows() {
        let none = schedule(&[], "UTC");
        assert!(none.is_empty());
        assert!(!kiel().is_empty());
        assert_eq!(none.timezone_name(), "UTC");
        assert_eq!(none.next_at_or_after(at("2021-05-10T07:00:00Z")), None);
        assert_eq!(none.last_at_or_before(at("2021-05-10T07:00:00Z")), None);
        assert_eq!(none.windows_between(0, i64::MAX), Vec::<i64>::new());
        assert!(none.specs().is_empty());
    }

    #[test]
    fn listing_is_capped_and_needs_a_forward_range() {
        let every_day = schedule(&["daily 00:00"], "UTC");
        let listed = every_day.windows_between(0, at("2030-01-01T00:00:00Z"));
        assert_eq!(listed.len(), MAX_LISTED_WINDOWS);
        assert_eq!(listed[0], 0);
        assert!(listed.windows(2).all(|pair| pair[1] - pair[0] == 86_400 * MICROS_PER_SECOND));
        assert!(every_day.windows_between(10, 10).is_empty());
        assert!(every_day.windows_between(10, 5).is_empty());
    }

    /// A reference built another way: step through UTC minute by minute and report a window at
    /// the first minute at which the wall clock has shown its local time or later. Exact for
    /// zones whose offsets change on whole minutes.
    fn reference_windows(
        timezone: Tz,
        is_window: impl Fn(NaiveDateTime) -> bool,
        from_seconds: i64,
        to_seconds: i64,
    ) -> Vec<i64> {
        let wall = |t: i64| DateTime::from_timestamp(t, 0).unwrap().with_timezone(&timezone).naive_local();
        // Start two days early so that the latest wall time shown is right by `from`.
        let mut t = from_seconds - 2 * 86_400;
        let mut shown = wall(t);
        let mut found = Vec::new();
        while t < to_seconds {
            t += 60;
            let now = wall(t);
            let mut local = shown + chrono::TimeDelta::minutes(1);
            while local <= now {
                if t >= from_seconds
                    && t < to_seconds
                    && is_window(local)
                    && found.last() != Some(&(t * MICROS_PER_SECOND))
                {
                    found.push(t * MICROS_PER_SECOND);
                }
                local += chrono::TimeDelta::minutes(1);
            }
            shown = shown.max(now);
        }
        found
    }

    #[test]
    fn matches_a_minute_by_minute_reference_around_offset_changes() {
        use chrono::Timelike;
        let mut specs: Vec<String> = (0..24).flat_map(|h| [format!("{h:02}:00"), format!("{h:02}:30")]).collect();
        specs.push("Sat 23:45".to_owned());
        specs.push("Sun 00:15".to_owned());
        let is_window = |local: NaiveDateTime| {
            let (h, m) = (local.hour(), local.minute());
            m == 0
                || m == 30
                || (local.weekday() == Weekday::Sat && h == 23 && m == 45)
                || (local.weekday() == Weekday::Sun && h == 0 && m == 15)
        };
        let zones = [
            ("Europe/Berlin", 2021),
            ("America/Santiago", 2021),
            ("Australia/Lord_Howe", 2021),
            ("Asia/Beirut", 2021),
            ("America/St_Johns", 2021),
            ("Pacific/Apia", 2011),
        ];
        for (name, year) in zones {
            let schedule = ReleaseSchedule::parse(&specs, name).unwrap();
            let tz = schedule.timezone();
            let start = at(&format!("{year}-01-01T00:00:00Z")) / MICROS_PER_SECOND;
            let mut changes = 0;
            for day in 0..366 {
                let (from, to) = (start + day * 86_400, start + (day + 1) * 86_400);
                if schedule.offset_seconds_at(from) == schedule.offset_seconds_at(to) {
                    continue;
                }
                changes += 1;
                let (from, to) = (from - 86_400, to + 86_400);
                let reference = reference_windows(tz, is_window, from, to);
                assert_eq!(
                    schedule.windows_between(from * MICROS_PER_SECOND, to * MICROS_PER_SECOND),
                    reference,
                    "{name} around {from}"
                );
                // Every seven minutes from an hour in to an hour before the end, where the
                // reference has windows on both sides.
                for t in (from + 3600..to - 3600).step_by(7 * 60) {
                    let t = t * MICROS_PER_SECOND;
                    let next = reference.iter().copied().find(|w| *w >= t);
                    let last = reference.iter().copied().rev().find(|w| *w <= t);
                    assert_eq!(schedule.next_at_or_after(t), next, "{name} next at {t}");
                    assert_eq!(schedule.last_at_or_before(t), last, "{name} last at {t}");
                }
            }
            assert!(changes >= 1, "{name} has no offset change in {year}");
        }
    }

    const ZONES: [&str; 7] = [
        "Europe/Berlin",
        "America/Santiago",
        "Australia/Lord_Howe",
        "Pacific/Apia",
        "Asia/Beirut",
        "America/St_Johns",
        "UTC",
    ];

    const SCHEDULES: [&[&str]; 6] = [
        &["Mon-Fri 07:00", "Mon-Fri 17:00"],
        &["daily 02:30"],
        &["Sun 02:15", "Sun 02:45", "Sat 23:59"],
        &["00:00", "00:30"],
        &["Fri-Mon 12:00"],
        &["Sat 09:30"],
    ];

    /// Instants from 1990 to 2040, half of them within three hours of an offset change.
    fn instants() -> impl Strategy<Value = i64> {
        let changes = [
            at("2021-03-28T01:00:00Z"),
            at("2021-10-31T01:00:00Z"),
            at("2021-04-04T03:00:00Z"),
            at("2021-09-05T04:00:00Z"),
            at("2021-04-03T15:00:00Z"),
            at("2011-12-30T10:00:00Z"),
            at("2021-10-30T21:00:00Z"),
        ];
        let reach = 3 * 3600 * MICROS_PER_SECOND;
        prop_oneof![
            at("1990-01-01T00:00:00Z")..at("2040-01-01T00:00:00Z"),
            (0..changes.len(), -reach..reach).prop_map(move |(i, delta)| changes[i] + delta),
        ]
    }

    proptest! {
        #[test]
        fn next_and_last_bracket_t_with_no_window_between(
            zone in 0..ZONES.len(),
            specs in 0..SCHEDULES.len(),
            t in instants(),
        ) {
            let schedule = schedule(SCHEDULES[specs], ZONES[zone]);
            let next = schedule.next_at_or_after(t).unwrap();
            let last = schedule.last_at_or_before(t).unwrap();
            prop_assert!(next >= t);
            prop_assert!(last <= t);
            prop_assert!(schedule.windows_between(last + 1, t).is_empty());
            prop_assert!(schedule.windows_between(t, next).is_empty());
            prop_assert_eq!(schedule.windows_between(last, t + 1), vec![last]);
            prop_assert_eq!(schedule.windows_between(t, next + 1), vec![next]);
            prop_assert_eq!(schedule.next_at_or_after(last), Some(last));
            prop_assert_eq!(schedule.last_at_or_before(next), Some(next));
        }

        #[test]
        fn never_panics_at_any_instant(t in any::<i64>(), span in 0..i64::MAX) {
            let schedule = schedule(&["Mon-Fri 07:00", "Sun 02:30"], "Europe/Berlin");
            let _ = schedule.next_at_or_after(t);
            let _ = schedule.last_at_or_before(t);
            let listed = schedule.windows_between(t, t.saturating_add(span));
            prop_assert!(listed.len() <= MAX_LISTED_WINDOWS);
            prop_assert!(listed.windows(2).all(|pair| pair[0] < pair[1]));
        }
    }

    #[test]
    fn extreme_instants_give_none_not_panics() {
        let kiel = kiel();
        for t in [i64::MIN, i64::MIN + 1, -1, 0, i64::MAX - 1, i64::MAX] {
            let _ = kiel.next_at_or_after(t);
            let _ = kiel.last_at_or_before(t);
            let _ = kiel.windows_between(t, i64::MAX);
        }
        assert_eq!(kiel.next_at_or_after(i64::MIN), None);
        assert_eq!(kiel.last_at_or_before(i64::MAX), None);
    }
}
