//! The documented range of every room setting and the character set of every id, in one place.
//!
//! The Python API, the config file, the admin API (JSON and CSV) and both backends refuse the
//! same values with the same message, because they all end here; the OpenAPI document and the
//! README show these numbers through [`RULES`] instead of copies. A range is what a real event
//! needs and no more: a value outside it is a typo or an attack (an `admit_per_minute` of 1e308,
//! an `offer_seconds` of 2^31, an opening in year 1, a NUL in a slot id), never a plan.

use chrono::DateTime;

/// A whole-number setting and its inclusive range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntRange {
    pub name: &'static str,
    pub min: u64,
    pub max: u64,
}

impl IntRange {
    /// Takes an `i128` so that any integer a caller may give (negative, or beyond `u32` when the
    /// setting is stored in one) is judged here rather than failing a conversion first.
    pub fn check(&self, value: i128) -> Result<(), String> {
        if (i128::from(self.min)..=i128::from(self.max)).contains(&value) {
            Ok(())
        } else {
            Err(self.refusal(&value.to_string()))
        }
    }

    /// The message for a value outside the range, given as text (it may be beyond any integer).
    pub fn refusal(&self, given: &str) -> String {
        format!("{} must be between {} and {}, got {given}", self.name, self.min, self.max)
    }
}

/// A rate: above 0 and at most `max`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateRange {
    pub name: &'static str,
    pub max: f64,
}

impl RateRange {
    pub fn check(&self, value: f64) -> Result<(), String> {
        if value.is_finite() && value > 0.0 && value <= self.max {
            Ok(())
        } else {
            // Debug, not Display: 1e308 stays "1e308" instead of 309 digits.
            Err(format!("{} must be above 0 and at most {}, got {value:?}", self.name, self.max))
        }
    }
}

/// Which characters a text may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charset {
    /// `A-Z a-z 0-9 _ -`: safe as is in URLs, cookie names, Redis keys, file names and nginx
    /// configs.
    Word,
    /// Printable text: no control characters (U+0000–U+001F, U+007F–U+009F), no line or
    /// paragraph separators, no bidirectional controls (which make a text read differently
    /// from what it is), and no leading or trailing white space.
    Printable,
}

/// Characters that `Printable` refuses besides the control characters (`char::is_control`).
const INVISIBLE: [char; 15] = [
    '\u{200E}', '\u{200F}', '\u{2028}', '\u{2029}', '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}',
    '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}', '\u{061C}', '\u{FEFF}',
];

impl Charset {
    pub fn accepts(self, text: &str) -> bool {
        match self {
            Self::Word => text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'),
            Self::Printable => {
                text.chars().all(|c| !c.is_control() && !INVISIBLE.contains(&c))
                    && !text.starts_with(char::is_whitespace)
                    && !text.ends_with(char::is_whitespace)
            }
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Self::Word => "characters of A-Z a-z 0-9 _ -",
            Self::Printable => {
                "bytes of printable UTF-8 text (no control characters such as NUL or newline, no line \
                 separators or bidirectional controls, no white space at either end)"
            }
        }
    }

    /// The same rule as a regular expression in the common subset of ECMA-262 (JSON Schema's
    /// dialect) and Python's `re`.
    pub fn pattern(self, max: u64) -> String {
        match self {
            Self::Word => format!("^[A-Za-z0-9_-]{{1,{max}}}$"),
            Self::Printable => {
                // No look-around: every dialect has character classes.
                let refused = r"\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ufeff";
                format!(r"^[^\s{refused}]([^{refused}]*[^\s{refused}])?$")
            }
        }
    }
}

/// A text (an id, a group, an identity) and its rule: 1 to `max` units (bytes; characters for
/// `Word`, where they are the same) of `charset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextRule {
    pub name: &'static str,
    pub max: u64,
    pub charset: Charset,
}

impl TextRule {
    pub fn accepts(&self, text: &str) -> bool {
        !text.is_empty() && text.len() as u64 <= self.max && self.charset.accepts(text)
    }

    pub fn check(&self, text: &str) -> Result<(), String> {
        if self.accepts(text) {
            return Ok(());
        }
        Err(format!("{} {} must be {}", self.name, shown(text), self.describe()))
    }

    /// Like `check`, for a text that may be personal (an identity): the message leaves it out.
    pub fn check_unshown(&self, text: &str) -> Result<(), String> {
        if self.accepts(text) {
            return Ok(());
        }
        Err(format!("{} must be {}", self.name, self.describe()))
    }

    pub fn describe(&self) -> String {
        format!("1 to {} {}", self.max, self.charset.describe())
    }
}

/// A text for a message: escaped (a NUL shows as `\0`) and cut after 40 characters.
pub fn shown(text: &str) -> String {
    if text.chars().count() <= 40 {
        format!("{text:?}")
    } else {
        format!("{:?}…", text.chars().take(40).collect::<String>())
    }
}

/// Every time an operator gives (openings, closings, slot starts) lies in this window: wide
/// enough for any real event, narrow enough that arithmetic on it never overflows and a typo
/// of a year is caught.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeWindow {
    /// Microseconds since the Unix epoch, inclusive.
    pub earliest: i64,
    pub latest: i64,
}

/// 2000-01-01T00:00:00Z to 2200-01-01T00:00:00Z.
pub const TIMES: TimeWindow = TimeWindow { earliest: 946_684_800_000_000, latest: 7_258_118_400_000_000 };

impl TimeWindow {
    pub fn check(&self, name: &str, micros: i64) -> Result<(), String> {
        if (self.earliest..=self.latest).contains(&micros) {
            return Ok(());
        }
        Err(format!(
            "{name} must be between {} and {}, got {}",
            rfc3339(self.earliest),
            rfc3339(self.latest),
            rfc3339(micros)
        ))
    }
}

/// An instant as RFC 3339 in UTC, to the second unless it has a fraction.
pub fn rfc3339(micros: i64) -> String {
    match DateTime::from_timestamp_micros(micros) {
        Some(t) if micros % 1_000_000 == 0 => t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        Some(t) => t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
        None => format!("{micros} µs after 1970"),
    }
}

const DAY_SECONDS: u64 = 86_400;
/// A session or a wait without heartbeats may last as long as a ticket token, and no longer:
/// past that the visitor's token has expired anyway.
const TICKET_SECONDS: u64 = crate::room_config::TICKET_TOKEN_SECONDS as u64;

pub const ADMIT_PER_MINUTE: RateRange = RateRange { name: "admit_per_minute", max: 1_000_000.0 };
pub const MAX_ACTIVE: IntRange = IntRange { name: "max_active", min: 1, max: 1_000_000 };
pub const SESSION_SECONDS: IntRange = IntRange { name: "session_seconds", min: 1, max: TICKET_SECONDS };
pub const HEARTBEAT_TIMEOUT_SECONDS: IntRange =
    IntRange { name: "heartbeat_timeout_seconds", min: 1, max: TICKET_SECONDS };
pub const HOLD_SECONDS: IntRange = IntRange { name: "hold_seconds", min: 1, max: DAY_SECONDS };
pub const OFFER_SECONDS: IntRange = IntRange { name: "offer_seconds", min: 1, max: DAY_SECONDS };
pub const MAX_BOOKINGS_PER_IDENTITY: IntRange = IntRange { name: "max_bookings_per_identity", min: 1, max: 100 };
pub const SEED: IntRange = IntRange { name: "seed", min: 0, max: u64::MAX };
/// How many entries `release_windows` may list (a window a day for three months is 90).
pub const RELEASE_WINDOWS: IntRange = IntRange { name: "release_windows", min: 0, max: 100 };

/// The proof-of-work difficulty of a join: the largest number a challenge may hide, so a client
/// tries half of it on average. 0 turns the challenge off; otherwise at least
/// [`CHALLENGE_FLOOR`], below which a phone solves it faster than it draws the page, and at most
/// ten million, which costs a phone tens of seconds (see the README's measurements).
pub const CHALLENGE_MAX_NUMBER: IntRange = IntRange { name: "challenge_max_number", min: 0, max: 10_000_000 };
/// How long a room's personal data is kept after the room is over (see
/// `RoomConfig::personal_data_due_at`): from at once (0) to a year, the longest a waiting
/// room's records can be argued to serve a booking.
pub const RETAIN_PERSONAL_DATA_HOURS: IntRange = IntRange { name: "retain_personal_data_hours", min: 0, max: 8_760 };
/// The smallest difficulty a room may ask for when it asks for one.
pub const CHALLENGE_FLOOR: u64 = 10_000;

/// `challenge_max_number`: 0 (off), or between [`CHALLENGE_FLOOR`] and its maximum.
pub fn check_challenge_max_number(value: i128) -> Result<(), String> {
    let range = CHALLENGE_MAX_NUMBER;
    if value == 0 || (i128::from(CHALLENGE_FLOOR)..=i128::from(range.max)).contains(&value) {
        return Ok(());
    }
    Err(format!("{} must be 0 (off) or between {CHALLENGE_FLOOR} and {}, got {value}", range.name, range.max))
}

/// Every whole-number setting of a room, by name.
pub const INT_SETTINGS: [IntRange; 6] =
    [MAX_ACTIVE, SESSION_SECONDS, HEARTBEAT_TIMEOUT_SECONDS, HOLD_SECONDS, OFFER_SECONDS, MAX_BOOKINGS_PER_IDENTITY];

/// Room ids appear in URLs, cookie names, Redis keys, file names and nginx configs; a token
/// carries its room in at most 64 bytes.
pub const ROOM_ID: TextRule = TextRule { name: "room id", max: 64, charset: Charset::Word };
/// Key ids are the first part of every token, before a dot.
pub const KEY_ID: TextRule = TextRule { name: "token key id", max: 32, charset: Charset::Word };
pub const SLOT_ID: TextRule = TextRule { name: "slot id", max: 128, charset: Charset::Printable };
pub const GROUP: TextRule = TextRule { name: "group", max: 128, charset: Charset::Printable };
pub const IDENTITY: TextRule = TextRule { name: "identity", max: 256, charset: Charset::Printable };
/// The handoff URL ends up in a Location header and in pages.
pub const HANDOFF_URL: TextRule = TextRule { name: "handoff_url", max: 2048, charset: Charset::Printable };
/// An IANA timezone name; the longest real one has 32 bytes.
pub const TIMEZONE: TextRule = TextRule { name: "timezone", max: 64, charset: Charset::Printable };
/// Who made a change, as the audit log names it.
pub const ACTOR: TextRule = TextRule { name: "actor", max: 64, charset: Charset::Printable };
/// Why an operator made a change out of the ordinary (an early release, a repair of saved
/// state). One line: audit entries are shown and logged a line each, and a newline in a reason
/// would let it pass for further entries.
pub const REASON: TextRule = TextRule { name: "reason", max: 2000, charset: Charset::Printable };

/// A handoff URL: an http(s) URL or a path on this site, printable, at most 2048 bytes. A path
/// is one `/` not followed by another `/` or a `\`: browsers read `//host/x` and `/\host/x` as
/// another host, which would make the handoff an open redirect.
pub fn check_handoff_url(url: &str) -> Result<(), String> {
    HANDOFF_URL.check(url)?;
    let is_path = url.starts_with('/') && !url[1..].starts_with(['/', '\\']);
    if url.starts_with("https://") || url.starts_with("http://") || is_path {
        Ok(())
    } else {
        Err(format!(
            "handoff_url {} must be an http(s) URL or a path on this site (\"/\" not followed by \"/\" or \"\\\")",
            shown(url)
        ))
    }
}

/// The actor and the reason of an audit entry, against their rules (`InvalidArgument`).
pub fn check_audit(actor: &str, reason: Option<&str>) -> Result<(), String> {
    ACTOR.check(actor)?;
    if let Some(reason) = reason {
        REASON.check(reason)?;
    }
    Ok(())
}

/// What a rule bounds, for the Python layer (OpenAPI schemas, README) to show.
#[derive(Debug, Clone, PartialEq)]
pub enum Bound {
    Int(IntRange),
    Rate(RateRange),
    Time(TimeWindow),
    Text(TextRule),
    /// A list of at most `max` entries.
    Count(IntRange),
    /// 0 (off), or from the floor to the range's maximum.
    OffOrFrom(IntRange, u64),
}

/// Every rule by the name of the setting or id it governs.
pub fn rules() -> Vec<(&'static str, Bound)> {
    let mut rules = vec![("admit_per_minute", Bound::Rate(ADMIT_PER_MINUTE))];
    rules.extend(INT_SETTINGS.iter().map(|r| (r.name, Bound::Int(*r))));
    rules.push(("seed", Bound::Int(SEED)));
    rules.push(("challenge_max_number", Bound::OffOrFrom(CHALLENGE_MAX_NUMBER, CHALLENGE_FLOOR)));
    rules.push(("retain_personal_data_hours", Bound::Int(RETAIN_PERSONAL_DATA_HOURS)));
    for name in ["opens_at", "closes_at", "prequeue_opens_at", "starts_at"] {
        rules.push((name, Bound::Time(TIMES)));
    }
    rules.push(("release_windows", Bound::Count(RELEASE_WINDOWS)));
    rules.push(("timezone", Bound::Text(TIMEZONE)));
    rules.push(("handoff_url", Bound::Text(HANDOFF_URL)));
    for (name, rule) in [("room_id", ROOM_ID), ("key_id", KEY_ID), ("slot_id", SLOT_ID), ("group", GROUP)] {
        rules.push((name, Bound::Text(rule)));
    }
    rules.push(("identity", Bound::Text(IDENTITY)));
    rules.push(("actor", Bound::Text(ACTOR)));
    rules.push(("reason", Bound::Text(REASON)));
    rules
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int_ranges_name_the_setting_and_hold_their_ends() {
        for range in INT_SETTINGS {
            let (min, max) = (i128::from(range.min), i128::from(range.max));
            assert!(range.check(min).is_ok() && range.check(max).is_ok());
            let message = range.check(max + 1).unwrap_err();
            assert!(message.starts_with(range.name), "{message}");
            assert!(message.contains(&format!("between {} and {}", range.min, range.max)), "{message}");
            assert!(range.check(min - 1).is_err());
        }
        assert!(SEED.check(i128::from(u64::MAX)).is_ok() && SEED.check(-1).is_err());
        assert_eq!(
            OFFER_SECONDS.check(1 << 31).unwrap_err(),
            "offer_seconds must be between 1 and 86400, got 2147483648"
        );
    }

    #[test]
    fn the_challenge_is_off_or_above_its_floor() {
        for ok in [0, 10_000, 100_000, 10_000_000] {
            assert!(check_challenge_max_number(ok).is_ok(), "{ok}");
        }
        for bad in [-1, 1, 9_999, 10_000_001] {
            assert!(check_challenge_max_number(bad).is_err(), "{bad}");
        }
        assert_eq!(
            check_challenge_max_number(5).unwrap_err(),
            "challenge_max_number must be 0 (off) or between 10000 and 10000000, got 5"
        );
    }

    #[test]
    fn the_rate_is_above_zero_finite_and_bounded() {
        assert_eq!(
            ADMIT_PER_MINUTE.check(1e308).unwrap_err(),
            "admit_per_minute must be above 0 and at most 1000000, got 1e308"
        );
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 1_000_000.5] {
            assert!(ADMIT_PER_MINUTE.check(bad).is_err(), "{bad}");
        }
        assert!(ADMIT_PER_MINUTE.check(1_000_000.0).is_ok() && ADMIT_PER_MINUTE.check(0.001).is_ok());
    }

    #[test]
    fn times_lie_between_2000_and_2200() {
        assert!(TIMES.check("opens_at", TIMES.earliest).is_ok() && TIMES.check("opens_at", TIMES.latest).is_ok());
        assert_eq!(rfc3339(TIMES.earliest), "2000-01-01T00:00:00Z");
        assert_eq!(rfc3339(TIMES.latest), "2200-01-01T00:00:00Z");
        let year_one = -62_135_596_800_000_000;
        assert_eq!(
            TIMES.check("opens_at", year_one).unwrap_err(),
            "opens_at must be between 2000-01-01T00:00:00Z and 2200-01-01T00:00:00Z, got 0001-01-01T00:00:00Z"
        );
        assert!(TIMES.check("starts_at", TIMES.latest + 1).unwrap_err().starts_with("starts_at"));
        assert!(TIMES.check("closes_at", TIMES.earliest - 1).is_err());
    }

    #[test]
    fn printable_text_refuses_controls_separators_and_bidi() {
        for good in ["s1", "Kiel 2021-05-12", "Zentrum Süd · 08:00", "a/b", "x".repeat(128).as_str()] {
            assert!(SLOT_ID.accepts(good), "{good:?}");
        }
        for bad in
            ["", "a\0b", "a\nb", "a\tb", "\u{7f}", "a\u{85}", "a\u{2028}b", "a\u{202E}b", " a", "a ", "\u{FEFF}a"]
        {
            assert!(!SLOT_ID.accepts(bad), "{bad:?}");
        }
        assert!(!SLOT_ID.accepts(&"x".repeat(129)));
        // 43 three-byte characters are 129 bytes: the limit counts bytes.
        assert!(!SLOT_ID.accepts(&"€".repeat(43)) && SLOT_ID.accepts(&"€".repeat(42)));
        assert_eq!(
            GROUP.check("Kiel\0").unwrap_err(),
            format!("group \"Kiel\\0\" must be 1 to 128 {}", Charset::Printable.describe())
        );
    }

    #[test]
    fn word_ids_keep_their_character_set() {
        assert!(ROOM_ID.accepts("kiel_2021-A") && ROOM_ID.accepts(&"k".repeat(64)));
        for bad in ["", "a b", "a/b", "a.b", "ä", "a\0", "a\n"] {
            assert!(!ROOM_ID.accepts(bad), "{bad:?}");
        }
        assert!(!ROOM_ID.accepts(&"k".repeat(65)) && !KEY_ID.accepts(&"k".repeat(33)));
    }

    #[test]
    fn long_texts_are_cut_in_messages() {
        let message = SLOT_ID.check(&format!("{}\n", "x".repeat(300))).unwrap_err();
        assert!(message.len() < 400 && message.contains('…'), "{message}");
        let message = IDENTITY.check_unshown("secret\0").unwrap_err();
        assert!(message.starts_with("identity must be 1 to 256 bytes") && !message.contains("secret"), "{message}");
    }

    #[test]
    fn handoff_urls_are_http_or_a_path_printable_and_bounded() {
        assert!(check_handoff_url("https://book.example/start").is_ok() && check_handoff_url("/book").is_ok());
        assert!(check_handoff_url("javascript:alert(1)").unwrap_err().contains("http(s) URL or a path"));
        assert!(check_handoff_url("https://book.example/\n").unwrap_err().starts_with("handoff_url"));
        assert!(check_handoff_url(&format!("https://{}", "x".repeat(2041))).is_err());
        assert!(check_handoff_url(&format!("https://{}", "x".repeat(2040))).is_ok());
    }

    #[test]
    fn a_handoff_path_cannot_name_another_host() {
        for other_host in ["//evil.example/x", "/\\evil.example/x", "//", "/\\"] {
            let message = check_handoff_url(other_host).unwrap_err();
            assert!(message.contains("a path on this site"), "{other_host}: {message}");
        }
        for path in ["/", "/book", "/book//start", "/a\\b"] {
            assert!(check_handoff_url(path).is_ok(), "{path}");
        }
    }

    #[test]
    fn audit_actors_and_reasons_are_one_printable_line_of_bounded_length() {
        assert!(check_audit("ops team", Some("storm over Kiel, 3 centres closed")).is_ok());
        assert!(check_audit("ops", None).is_ok());
        for (actor, reason) in [("", None), ("a\0", None), ("a\nb", None), (" ops", None)] {
            assert!(check_audit(actor, reason).unwrap_err().starts_with("actor"), "{actor:?}");
        }
        assert!(check_audit(&"a".repeat(64), None).is_ok() && check_audit(&"a".repeat(65), None).is_err());
        for reason in ["", "storm\nrelease_override by admin", "storm\0", "storm\u{202E}"] {
            assert!(check_audit("ops", Some(reason)).unwrap_err().starts_with("reason"), "{reason:?}");
        }
        assert!(check_audit("ops", Some(&"r".repeat(2000))).is_ok());
        let message = check_audit("ops", Some(&"r".repeat(2001))).unwrap_err();
        assert!(message.len() < 300 && message.contains('…'), "{message}");
    }

    #[test]
    fn every_rule_is_listed_once() {
        let names: Vec<_> = rules().into_iter().map(|(n, _)| n).collect();
        let mut unique = names.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), names.len());
        assert!(names.contains(&"offer_seconds") && names.contains(&"slot_id") && names.contains(&"starts_at"));
    }
}
