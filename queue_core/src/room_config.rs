//! A room's configuration, validated once so that the rest of the core can trust it.

use crate::clock::MICROS_PER_SECOND;
use crate::errors::{CoreError, CoreResult};
use crate::limits;
use crate::schedule;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrequeueMode {
    /// The pre-queue is put in a random order drawn at opening (the default: fair).
    Shuffle,
    /// The pre-queue keeps join order (for rooms where early arrival is meant to count).
    Fifo,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityMode {
    Optional,
    Required,
    /// Joins need an entry token signed by the portal (see `crate::entry`); its `sub` is the
    /// identity, and passes carry it.
    Entry,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReturnedSlots {
    /// Cancelled slots become free at the next release window.
    Windows,
    /// Cancelled slots are offered to the next waiting visitor.
    Waitlist,
}

#[derive(Debug, Clone)]
pub struct RoomConfig {
    pub id: String,
    pub opens_at: i64,
    pub closes_at: Option<i64>,
    pub prequeue_opens_at: Option<i64>,
    pub admit_per_minute: f64,
    pub max_active: u32,
    pub session_seconds: u32,
    pub heartbeat_timeout_seconds: u32,
    pub prequeue: PrequeueMode,
    pub identity: IdentityMode,
    pub returned_slots: ReturnedSlots,
    pub release_windows: Vec<String>,
    pub timezone: String,
    pub max_bookings_per_identity: u32,
    pub hold_seconds: u32,
    pub offer_seconds: u32,
    /// Seed of the pre-queue draw; recorded so the draw can be reproduced.
    pub seed: u64,
    /// The proof-of-work difficulty a join must pay (see `challenge`); 0: no challenge.
    pub challenge_max_number: u32,
    /// Hours the room's personal data is kept once the room is over (`personal_data_due_at`).
    pub retain_personal_data_hours: u32,
}

/// The retention of a room that does not set one, and of rooms saved before the setting
/// existed: a week after the room is over, time to answer a visitor's question about their
/// place or booking.
pub const DEFAULT_RETAIN_PERSONAL_DATA_HOURS: u32 = 168;

/// How long a ticket token stays valid: long enough for any queue, short enough to expire.
pub const TICKET_TOKEN_SECONDS: i64 = 7 * 24 * 3600;

impl RoomConfig {
    /// Whether a room running with these settings may take `new` at `now`: its id never
    /// changes; once it `opened`, neither do `opens_at`, the pre-queue mode and the seed; once
    /// `closed`, it is not reopened. The one rule of both backends.
    pub fn check_change(&self, new: &RoomConfig, opened: bool, closed: bool, now: i64) -> CoreResult<()> {
        if new.id != self.id {
            return Err(CoreError::InvalidConfig("a room's id cannot change".into()));
        }
        if opened && (new.opens_at != self.opens_at || new.prequeue != self.prequeue || new.seed != self.seed) {
            return Err(CoreError::InvalidConfig(
                "opens_at, prequeue and seed cannot change after the room opened".into(),
            ));
        }
        if closed && new.closes_at.is_none_or(|c| c > now) {
            return Err(CoreError::InvalidConfig("a closed room cannot be reopened".into()));
        }
        Ok(())
    }

    /// Checks a config given as input (the Python API, a config file, the admin API): what the
    /// core relies on, and every setting against today's documented range (see `limits`). The
    /// message names the setting, the range and the value given; with several mistakes it
    /// lists each (see `mistakes`).
    pub fn validate(&self) -> CoreResult<()> {
        refuse_any(self.mistakes())
    }

    /// Every mistake of these settings, a message each naming its setting, in the order of the
    /// settings: each outside today's documented range, times out of order, an unknown time
    /// zone and each malformed release window. Empty exactly when `validate` accepts.
    pub fn mistakes(&self) -> Vec<String> {
        self.mistakes_except(&[])
    }

    /// Like `mistakes`, without the rules that read a setting named in `unread`: settings a
    /// caller did not give, or could not read (a wrong type, an unknown mode) and reports
    /// itself, whose placeholder here is nobody's value.
    pub fn mistakes_except(&self, unread: &[&str]) -> Vec<String> {
        let read = |name: &str| !unread.contains(&name);
        let mut refused = self.outside_ranges_except(unread);
        if read("opens_at") && read("closes_at") && self.closes_at.is_some_and(|closes| closes <= self.opens_at) {
            refused.push("closes_at must be after opens_at".into());
        }
        if read("opens_at")
            && read("prequeue_opens_at")
            && self.prequeue_opens_at.is_some_and(|pre| pre > self.opens_at)
        {
            refused.push("prequeue_opens_at must not be after opens_at".into());
        }
        // A name outside the timezone rule has its mistake already; looking it up says nothing more.
        if read("timezone") && limits::TIMEZONE.accepts(&self.timezone) {
            refused.extend(schedule::check_timezone(&self.timezone).err());
        }
        // Past their count, the windows' own count is the mistake: a message each would not be.
        if read("release_windows") && limits::RELEASE_WINDOWS.check(self.release_windows.len() as i128).is_ok() {
            refused.extend(self.release_windows.iter().filter_map(|spec| schedule::check_window(spec).err()));
        }
        refused
    }

    /// Checks what the core relies on whatever the ranges of the day: a room id, a rate above
    /// zero, no duration or capacity of zero, and times in order. This, not `validate`, is what
    /// a saved config must pass when a room is restored or its settings are read back: a room
    /// saved before a range was narrowed keeps running (see `outside_ranges`).
    pub fn check_sound(&self) -> CoreResult<()> {
        self.sound().map_err(CoreError::InvalidConfig)
    }

    fn sound(&self) -> Result<(), String> {
        limits::ROOM_ID.check(&self.id)?;
        if !(self.admit_per_minute.is_finite() && self.admit_per_minute > 0.0) {
            return Err(format!("admit_per_minute must be above 0, got {:?}", self.admit_per_minute));
        }
        for (range, value) in limits::INT_SETTINGS.iter().zip(self.whole_settings()) {
            if value == 0 {
                return Err(format!("{} must be at least 1", range.name));
            }
        }
        if self.closes_at.is_some_and(|closes| closes <= self.opens_at) {
            return Err("closes_at must be after opens_at".into());
        }
        if self.prequeue_opens_at.is_some_and(|pre| pre > self.opens_at) {
            return Err("prequeue_opens_at must not be after opens_at".into());
        }
        Ok(())
    }

    /// Every setting outside today's documented range, a message each, in the order of the
    /// settings. Empty for any config that `validate` accepts.
    pub fn outside_ranges(&self) -> Vec<String> {
        self.outside_ranges_except(&[])
    }

    fn outside_ranges_except(&self, unread: &[&str]) -> Vec<String> {
        let mut refused = Vec::new();
        let mut note = |name: &str, checked: Result<(), String>| {
            if !unread.contains(&name) {
                refused.extend(checked.err());
            }
        };
        note("id", limits::ROOM_ID.check(&self.id));
        note("admit_per_minute", limits::ADMIT_PER_MINUTE.check(self.admit_per_minute));
        for (range, value) in limits::INT_SETTINGS.iter().zip(self.whole_settings()) {
            note(range.name, range.check(i128::from(value)));
        }
        note("challenge_max_number", limits::check_challenge_max_number(i128::from(self.challenge_max_number)));
        note(
            "retain_personal_data_hours",
            limits::RETAIN_PERSONAL_DATA_HOURS.check(i128::from(self.retain_personal_data_hours)),
        );
        note("opens_at", limits::TIMES.check("opens_at", self.opens_at));
        if let Some(closes) = self.closes_at {
            note("closes_at", limits::TIMES.check("closes_at", closes));
        }
        if let Some(pre) = self.prequeue_opens_at {
            note("prequeue_opens_at", limits::TIMES.check("prequeue_opens_at", pre));
        }
        note(
            "release_windows",
            limits::RELEASE_WINDOWS.check(self.release_windows.len() as i128).map_err(|_| {
                format!(
                    "release_windows may list at most {} windows, got {}",
                    limits::RELEASE_WINDOWS.max,
                    self.release_windows.len()
                )
            }),
        );
        note("timezone", limits::TIMEZONE.check(&self.timezone));
        refused
    }

    /// The whole-number settings in the order of `limits::INT_SETTINGS`.
    fn whole_settings(&self) -> [u32; 6] {
        [
            self.max_active,
            self.session_seconds,
            self.heartbeat_timeout_seconds,
            self.hold_seconds,
            self.offer_seconds,
            self.max_bookings_per_identity,
        ]
    }

    pub fn admit_per_second(&self) -> f64 {
        self.admit_per_minute / 60.0
    }

    pub fn session_micros(&self) -> i64 {
        i64::from(self.session_seconds) * MICROS_PER_SECOND
    }

    pub fn heartbeat_timeout_micros(&self) -> i64 {
        i64::from(self.heartbeat_timeout_seconds) * MICROS_PER_SECOND
    }

    /// When the room's personal data (identities, labels, booking codes) is to be deleted:
    /// `retain_personal_data_hours` after the room is over. A room is over when its queue has
    /// closed (`closes_at`) and its last slot (`last_slot_start`, if it has slots) has begun,
    /// since a visitor needs the booking code until the appointment. A room without `closes_at`
    /// never closes, so only the operator's explicit call deletes its data (`None`).
    pub fn personal_data_due_at(&self, last_slot_start: Option<i64>) -> Option<i64> {
        let closes_at = self.closes_at?;
        let over = last_slot_start.map_or(closes_at, |start| start.max(closes_at));
        Some(over + i64::from(self.retain_personal_data_hours) * 3_600 * MICROS_PER_SECOND)
    }
}

/// `Ok` without mistakes; else `InvalidConfig` with the one, or with their count and each,
/// separated by "; " (one exception, every mistake in its message).
pub fn refuse_any(mistakes: Vec<String>) -> CoreResult<()> {
    match mistakes.len() {
        0 => Ok(()),
        1 => Err(CoreError::InvalidConfig(mistakes.into_iter().next().unwrap_or_default())),
        n => Err(CoreError::InvalidConfig(format!("{n} mistakes: {}", mistakes.join("; ")))),
    }
}

pub fn valid_room_id(id: &str) -> bool {
    limits::ROOM_ID.accepts(id)
}

impl PrequeueMode {
    pub fn parse(s: &str) -> CoreResult<Self> {
        match s {
            "shuffle" => Ok(Self::Shuffle),
            "fifo" => Ok(Self::Fifo),
            _ => Err(CoreError::InvalidConfig(format!("prequeue must be \"shuffle\" or \"fifo\", got {s:?}"))),
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Shuffle => "shuffle",
            Self::Fifo => "fifo",
        }
    }
}

impl IdentityMode {
    pub fn parse(s: &str) -> CoreResult<Self> {
        match s {
            "optional" => Ok(Self::Optional),
            "required" => Ok(Self::Required),
            "entry" => Ok(Self::Entry),
            _ => Err(CoreError::InvalidConfig(format!(
                "identity must be \"optional\", \"required\" or \"entry\", got {s:?}"
            ))),
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Optional => "optional",
            Self::Required => "required",
            Self::Entry => "entry",
        }
    }
}

impl ReturnedSlots {
    pub fn parse(s: &str) -> CoreResult<Self> {
        match s {
            "windows" => Ok(Self::Windows),
            "waitlist" => Ok(Self::Waitlist),
            _ => {
                Err(CoreError::InvalidConfig(format!("returned_slots must be \"windows\" or \"waitlist\", got {s:?}")))
            }
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Windows => "windows",
            Self::Waitlist => "waitlist",
        }
    }
}

#[cfg(test)]
pub(crate) fn test_config(opens_at: i64) -> RoomConfig {
    RoomConfig {
        id: "kiel".into(),
        opens_at,
        closes_at: None,
        prequeue_opens_at: None,
        admit_per_minute: 600.0,
        max_active: 100,
        session_seconds: 900,
        heartbeat_timeout_seconds: 60,
        prequeue: PrequeueMode::Shuffle,
        identity: IdentityMode::Optional,
        returned_slots: ReturnedSlots::Windows,
        release_windows: vec![],
        timezone: "UTC".into(),
        max_bookings_per_identity: 1,
        hold_seconds: 300,
        offer_seconds: 600,
        seed: 7,
        challenge_max_number: 0,
        retain_personal_data_hours: DEFAULT_RETAIN_PERSONAL_DATA_HOURS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2021-05-10T05:00:00Z.
    const OPEN: i64 = 1_620_622_800 * MICROS_PER_SECOND;

    fn refusal(change: impl Fn(&mut RoomConfig)) -> String {
        let mut c = test_config(OPEN);
        change(&mut c);
        match c.validate() {
            Err(CoreError::InvalidConfig(m)) => m,
            other => panic!("expected InvalidConfig, got {other:?}"),
        }
    }

    #[test]
    fn refuses_bad_values_with_a_message() {
        assert!(test_config(OPEN).validate().is_ok());
        type Change = Box<dyn Fn(&mut RoomConfig)>;
        let cases: Vec<(Change, &str)> = vec![
            (Box::new(|c| c.id = String::new()), "room id"),
            (Box::new(|c| c.id = "a b".into()), "room id"),
            (Box::new(|c| c.id = "kiel\0".into()), "room id"),
            (Box::new(|c| c.admit_per_minute = -1.0), "admit_per_minute"),
            (Box::new(|c| c.admit_per_minute = f64::NAN), "admit_per_minute"),
            (Box::new(|c| c.max_active = 0), "max_active"),
            (Box::new(|c| c.challenge_max_number = 9_999), "challenge_max_number"),
            (Box::new(|c| c.closes_at = Some(OPEN - 5)), "closes_at"),
            (Box::new(|c| c.prequeue_opens_at = Some(OPEN + 5)), "prequeue_opens_at"),
        ];
        for (change, needle) in cases {
            let m = refusal(change);
            assert!(m.contains(needle), "{m}");
        }
    }

    #[test]
    fn the_examples_of_the_issue_are_refused_by_name() {
        assert_eq!(
            refusal(|c| c.admit_per_minute = 1e308),
            "admit_per_minute must be above 0 and at most 1000000, got 1e308"
        );
        assert_eq!(refusal(|c| c.offer_seconds = 1 << 31), "offer_seconds must be between 1 and 86400, got 2147483648");
        assert_eq!(
            refusal(|c| c.opens_at = -62_135_596_800 * MICROS_PER_SECOND),
            "opens_at must be between 2000-01-01T00:00:00Z and 2200-01-01T00:00:00Z, got 0001-01-01T00:00:00Z"
        );
    }

    #[test]
    fn every_whole_number_setting_has_its_range() {
        type Field = fn(&mut RoomConfig) -> &mut u32;
        let fields: [(Field, &str); 6] = [
            (|c| &mut c.max_active, "max_active must be between 1 and 1000000"),
            (|c| &mut c.session_seconds, "session_seconds must be between 1 and 604800"),
            (|c| &mut c.heartbeat_timeout_seconds, "heartbeat_timeout_seconds must be between 1 and 604800"),
            (|c| &mut c.hold_seconds, "hold_seconds must be between 1 and 86400"),
            (|c| &mut c.offer_seconds, "offer_seconds must be between 1 and 86400"),
            (|c| &mut c.max_bookings_per_identity, "max_bookings_per_identity must be between 1 and 100"),
        ];
        for ((field, message), range) in fields.into_iter().zip(limits::INT_SETTINGS) {
            for ok in [range.min, range.max] {
                let mut c = test_config(OPEN);
                *field(&mut c) = ok as u32;
                assert!(c.validate().is_ok(), "{message}: {ok}");
            }
            for bad in [range.min - 1, range.max + 1, u64::from(u32::MAX)] {
                let m = refusal(|c| *field(c) = bad as u32);
                assert!(m.starts_with(message), "{m}");
            }
        }
    }

    #[test]
    fn every_time_lies_in_the_window() {
        let (early, late) = (limits::TIMES.earliest, limits::TIMES.latest);
        assert!(refusal(|c| c.opens_at = late + 1).starts_with("opens_at must be between"));
        assert!(refusal(|c| c.closes_at = Some(late + 1)).starts_with("closes_at must be between"));
        assert!(refusal(|c| c.prequeue_opens_at = Some(early - 1)).starts_with("prequeue_opens_at must be between"));
        let mut c = test_config(early);
        c.closes_at = Some(late);
        c.prequeue_opens_at = Some(early);
        assert!(c.validate().is_ok());
    }

    #[test]
    fn a_config_saved_before_the_ranges_is_sound_and_says_what_is_out_of_range() {
        let mut c = test_config(OPEN);
        c.session_seconds = 1_209_600;
        c.max_bookings_per_identity = 500;
        assert!(c.check_sound().is_ok());
        assert_eq!(
            c.outside_ranges(),
            [
                "session_seconds must be between 1 and 604800, got 1209600",
                "max_bookings_per_identity must be between 1 and 100, got 500"
            ]
        );
        assert!(refusal(|c| c.session_seconds = 1_209_600).starts_with("session_seconds"));
        assert!(test_config(OPEN).outside_ranges().is_empty());
    }

    #[test]
    fn what_the_core_relies_on_holds_for_saved_configs_too() {
        type Change = Box<dyn Fn(&mut RoomConfig)>;
        let cases: Vec<(Change, &str)> = vec![
            (Box::new(|c| c.id = "a b".into()), "room id"),
            (Box::new(|c| c.admit_per_minute = 0.0), "admit_per_minute must be above 0"),
            (Box::new(|c| c.admit_per_minute = f64::INFINITY), "admit_per_minute must be above 0"),
            (Box::new(|c| c.hold_seconds = 0), "hold_seconds must be at least 1"),
            (Box::new(|c| c.closes_at = Some(OPEN)), "closes_at must be after opens_at"),
            (Box::new(|c| c.prequeue_opens_at = Some(OPEN + 1)), "prequeue_opens_at must not be after"),
        ];
        for (change, needle) in cases {
            let mut c = test_config(OPEN);
            change(&mut c);
            match c.check_sound() {
                Err(CoreError::InvalidConfig(m)) => assert!(m.starts_with(needle), "{m}"),
                other => panic!("{needle}: {other:?}"),
            }
        }
    }

    #[test]
    fn every_mistake_is_listed_each_naming_its_setting() {
        let mut c = test_config(OPEN);
        c.max_active = 0;
        c.offer_seconds = 1 << 20;
        c.closes_at = Some(OPEN - 1);
        c.timezone = "Mars/Olympus".into();
        c.release_windows = vec!["Mon 07:00".into(), "Mon 25:00".into(), "Funday 07:00".into()];
        let mistakes = c.mistakes();
        let starts = [
            "max_active must be between 1 and 1000000, got 0",
            "offer_seconds must be between 1 and 86400, got 1048576",
            "closes_at must be after opens_at",
            "unknown timezone \"Mars/Olympus\"",
            "release window \"Mon 25:00\"",
            "release window \"Funday 07:00\"",
        ];
        assert_eq!(mistakes.len(), starts.len(), "{mistakes:?}");
        for (mistake, start) in mistakes.iter().zip(starts) {
            assert!(mistake.starts_with(start), "{mistake}");
        }
        // One exception for all of them, its message naming each.
        let refused = refusal(|config| *config = c.clone());
        assert!(refused.starts_with("6 mistakes: max_active must be"), "{refused}");
        assert_eq!(refused.matches("; ").count(), 5, "{refused}");
        assert!(test_config(OPEN).mistakes().is_empty());
    }

    #[test]
    fn the_rules_of_an_unread_setting_are_left_out() {
        let mut c = test_config(OPEN);
        c.max_active = 0;
        c.closes_at = Some(OPEN - 1);
        c.hold_seconds = 0;
        // The caller could not read opens_at nor max_active: their placeholders say nothing.
        assert_eq!(c.mistakes_except(&["opens_at", "max_active"]), ["hold_seconds must be between 1 and 86400, got 0"]);
        assert_eq!(c.mistakes_except(&["opens_at", "max_active", "hold_seconds"]), Vec::<String>::new());
    }

    #[test]
    fn a_setting_has_one_mistake_not_one_per_rule() {
        // Outside the timezone rule: that rule's message, not also "unknown timezone".
        let m = refusal(|c| c.timezone = "Mars\0".into());
        assert!(m.starts_with("timezone \"Mars\\0\" must be 1 to 64 bytes"), "{m}");
        // Too many windows: their count, not a message for each malformed one.
        assert_eq!(
            refusal(|c| c.release_windows = vec!["bogus".into(); 101]),
            "release_windows may list at most 100 windows, got 101"
        );
    }

    #[test]
    fn release_windows_are_counted() {
        let m = refusal(|c| c.release_windows = vec!["07:00".into(); 101]);
        assert_eq!(m, "release_windows may list at most 100 windows, got 101");
    }

    #[test]
    fn modes_parse_and_print() {
        assert_eq!(PrequeueMode::parse("fifo").unwrap().as_str(), "fifo");
        assert_eq!(IdentityMode::parse("required").unwrap().as_str(), "required");
        assert_eq!(IdentityMode::parse("entry").unwrap().as_str(), "entry");
        assert_eq!(ReturnedSlots::parse("waitlist").unwrap().as_str(), "waitlist");
        assert!(PrequeueMode::parse("random").is_err());
    }
}
