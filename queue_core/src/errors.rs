//! The one error type of the core. Every failure a caller can cause has its own variant, so the
//! Python layer can map each to a named exception and the HTTP layer to a status code.
//!
//! [`ERROR_CODES`] is the one list of the codes and their HTTP statuses: the server, the Redis
//! backend's translation of script errors and the README's errors table are checked against it.

use std::fmt;

/// Every code [`CoreError::code`] can return, with the one HTTP status it is answered with.
/// Client mistakes are 4xx; faults of the server or its storage (no randomness, saved state it
/// cannot read, a full replay store) are 5xx, since no change to the request would help.
/// A new variant adds its code here (a test fails otherwise).
pub const ERROR_CODES: &[(&str, u16)] = &[
    ("invalid_config", 400),
    ("invalid_argument", 400),
    ("identity_required", 400),
    ("challenge_malformed", 400),
    ("token_malformed", 401),
    ("token_bad_signature", 401),
    ("token_unknown_key", 401),
    ("entry_required", 401),
    ("entry_malformed", 401),
    ("entry_wrong_algorithm", 401),
    ("entry_unknown_key", 401),
    ("entry_bad_signature", 401),
    ("entry_expired", 401),
    ("entry_lifetime_too_long", 401),
    ("token_wrong_room", 403),
    ("token_wrong_kind", 403),
    ("not_admitted", 403),
    ("entry_wrong_audience", 403),
    ("challenge_bad_signature", 403),
    ("challenge_unsolved", 403),
    ("challenge_wrong_room", 403),
    ("unknown_ticket", 404),
    ("unknown_slot", 404),
    ("unknown_booking", 404),
    ("slot_taken", 409),
    ("limit_reached", 409),
    ("hold_expired", 409),
    ("not_holder", 409),
    ("no_hold", 409),
    ("no_offer", 409),
    ("duplicate_slot", 409),
    ("release_refused", 409),
    ("room_not_closed", 409),
    ("entry_replayed", 409),
    ("token_expired", 410),
    ("session_ended", 410),
    ("room_closed", 410),
    ("challenge_expired", 410),
    ("not_open_yet", 425),
    ("entropy_unavailable", 500),
    ("journal_incompatible", 500),
    ("journal_corrupt", 500),
    ("entry_store_full", 503),
];

#[derive(Debug, Clone, PartialEq)]
pub enum CoreError {
    /// A room or signer was configured with values that cannot work.
    InvalidConfig(String),
    /// An argument of a call is out of range or empty.
    InvalidArgument(String),

    TokenMalformed,
    TokenBadSignature,
    TokenUnknownKey(String),
    TokenExpired,
    TokenWrongRoom,
    TokenWrongKind,
    /// The pass is genuine, but its session ended (left, completed or run out).
    SessionEnded,

    /// The entry token is not a JWS compact JWT with the claims an entry token needs.
    EntryMalformed(String),
    /// The entry token names another algorithm than the one the server pins (`none` too).
    EntryWrongAlgorithm(String),
    EntryUnknownKey(String),
    EntryBadSignature,
    EntryExpired,
    /// `exp - iat` is longer than entry tokens may live.
    EntryLifetimeTooLong {
        max_seconds: i64,
    },
    /// The token's `aud` does not name this room.
    EntryWrongAudience,
    /// The token's `jti` was accepted once already.
    EntryReplayed,
    /// The room admits joins only with an entry token.
    EntryRequired,
    /// More entry tokens are live at once than the replay store can remember.
    EntryStoreFull,

    /// A proof-of-work solution that is not one: bad shape, wrong algorithm, a salt we did not
    /// write (the message says which).
    ChallengeMalformed(String),
    /// The challenge was not signed by one of our keys: forged or altered.
    ChallengeBadSignature,
    /// The number does not hash to the challenge: the work was not done.
    ChallengeUnsolved,
    ChallengeWrongRoom,
    ChallengeExpired,

    /// The room does not take this action yet: it does at `opens_at` (micros), in
    /// `opens_in_seconds`.
    NotOpenYet {
        opens_in_seconds: f64,
        opens_at: i64,
    },
    RoomClosed,
    /// The room's personal data is deleted only once the room has closed: an open room needs
    /// its identities to keep one person to one place.
    RoomNotClosed,
    IdentityRequired,
    UnknownTicket,
    /// The ticket is in a state where this action makes no sense (e.g. hold while waiting).
    NotAdmitted,

    UnknownSlot(String),
    DuplicateSlot(String),
    /// Someone else holds or booked the slot; `alternatives` are free slots of its group.
    SlotTaken {
        slot: String,
        alternatives: Vec<String>,
    },
    LimitReached {
        limit: u32,
    },
    HoldExpired,
    /// The hold belongs to another ticket.
    NotHolder,
    NoHold,
    UnknownBooking,
    NoOffer,
    /// A release was asked for before the next release window and without an override.
    ReleaseRefused {
        next_window_micros: Option<i64>,
        reason: String,
    },
    /// The operating system's random source failed, so no unguessable value (a booking code)
    /// could be drawn.
    EntropyUnavailable(String),
    /// Saved state (journal or snapshot) was written in a format this version cannot read.
    JournalIncompatible {
        found: u16,
        supported: u16,
    },
    /// Saved state is damaged beyond a torn tail (a bad header or snapshot, or records of another
    /// room), so it cannot be replayed.
    JournalCorrupt(String),
}

impl CoreError {
    /// A stable machine-readable code, used in HTTP error bodies and on Python exceptions.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidConfig(_) => "invalid_config",
            Self::InvalidArgument(_) => "invalid_argument",
            Self::TokenMalformed => "token_malformed",
            Self::TokenBadSignature => "token_bad_signature",
            Self::TokenUnknownKey(_) => "token_unknown_key",
            Self::TokenExpired => "token_expired",
            Self::TokenWrongRoom => "token_wrong_room",
            Self::TokenWrongKind => "token_wrong_kind",
            Self::SessionEnded => "session_ended",
            Self::EntryMalformed(_) => "entry_malformed",
            Self::EntryWrongAlgorithm(_) => "entry_wrong_algorithm",
            Self::EntryUnknownKey(_) => "entry_unknown_key",
            Self::EntryBadSignature => "entry_bad_signature",
            Self::EntryExpired => "entry_expired",
            Self::EntryLifetimeTooLong { .. } => "entry_lifetime_too_long",
            Self::EntryWrongAudience => "entry_wrong_audience",
            Self::EntryReplayed => "entry_replayed",
            Self::EntryRequired => "entry_required",
            Self::EntryStoreFull => "entry_store_full",
            Self::ChallengeMalformed(_) => "challenge_malformed",
            Self::ChallengeBadSignature => "challenge_bad_signature",
            Self::ChallengeUnsolved => "challenge_unsolved",
            Self::ChallengeWrongRoom => "challenge_wrong_room",
            Self::ChallengeExpired => "challenge_expired",
            Self::NotOpenYet { .. } => "not_open_yet",
            Self::RoomClosed => "room_closed",
            Self::RoomNotClosed => "room_not_closed",
            Self::IdentityRequired => "identity_required",
            Self::UnknownTicket => "unknown_ticket",
            Self::NotAdmitted => "not_admitted",
            Self::UnknownSlot(_) => "unknown_slot",
            Self::DuplicateSlot(_) => "duplicate_slot",
            Self::SlotTaken { .. } => "slot_taken",
            Self::LimitReached { .. } => "limit_reached",
            Self::HoldExpired => "hold_expired",
            Self::NotHolder => "not_holder",
            Self::NoHold => "no_hold",
            Self::UnknownBooking => "unknown_booking",
            Self::NoOffer => "no_offer",
            Self::ReleaseRefused { .. } => "release_refused",
            Self::EntropyUnavailable(_) => "entropy_unavailable",
            Self::JournalIncompatible { .. } => "journal_incompatible",
            Self::JournalCorrupt(_) => "journal_corrupt",
        }
    }

    /// The HTTP status of this error, from [`ERROR_CODES`].
    pub fn http_status(&self) -> u16 {
        status_of(self.code()).unwrap_or(500)
    }
}

/// The HTTP status of a core error code, if it is one.
pub fn status_of(code: &str) -> Option<u16> {
    ERROR_CODES.iter().find(|(known, _)| *known == code).map(|(_, status)| *status)
}

/// A wait as people say it: "26 days 12 hours", "3 hours 5 minutes", "4 minutes 10 seconds",
/// "9 seconds" (whole seconds, rounded up; the two largest units).
#[must_use]
pub fn duration_in_words(seconds: f64) -> String {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // clamped to 0..=2^53
    let total = seconds.clamp(0.0, 9_007_199_254_740_992.0).ceil() as u64;
    let units =
        [(total / 86_400, "day"), (total / 3600 % 24, "hour"), (total / 60 % 60, "minute"), (total % 60, "second")];
    let first = units.iter().position(|(n, _)| *n > 0).unwrap_or(units.len() - 1);
    units[first..]
        .iter()
        .take(2)
        .enumerate()
        .filter(|(i, (n, _))| *i == 0 || *n > 0)
        .map(|(_, (n, unit))| format!("{n} {unit}{}", if *n == 1 { "" } else { "s" }))
        .collect::<Vec<_>>()
        .join(" ")
}

impl fmt::Display for CoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidConfig(m) => write!(f, "invalid room configuration: {m}"),
            Self::InvalidArgument(m) => write!(f, "invalid argument: {m}"),
            Self::TokenMalformed => f.write_str("the token is malformed"),
            Self::TokenBadSignature => f.write_str("the token's signature does not match"),
            Self::TokenUnknownKey(kid) => write!(f, "the token was signed with unknown key id {kid:?}"),
            Self::TokenExpired => f.write_str("the token has expired"),
            Self::TokenWrongRoom => f.write_str("the token belongs to another room"),
            Self::TokenWrongKind => f.write_str("the token is of the wrong kind for this action"),
            Self::SessionEnded => f.write_str("the pass's session has ended (left, completed or expired)"),
            Self::EntryMalformed(m) => write!(f, "the entry token is malformed: {m}"),
            Self::EntryWrongAlgorithm(alg) => {
                write!(f, "the entry token is signed with algorithm {alg:?}, which this server does not accept")
            }
            Self::EntryUnknownKey(kid) => write!(f, "the entry token names unknown key id {kid:?}"),
            Self::EntryBadSignature => f.write_str("the entry token's signature does not match"),
            Self::EntryExpired => f.write_str("the entry token has expired; the portal issues a new one"),
            Self::EntryLifetimeTooLong { max_seconds } => {
                write!(f, "the entry token lives longer than {max_seconds} s from iat to exp")
            }
            Self::EntryWrongAudience => f.write_str("the entry token's aud does not name this room"),
            Self::EntryReplayed => f.write_str("the entry token (its jti) was used already"),
            Self::EntryRequired => f.write_str("this room admits joins only with an entry token from the portal"),
            Self::EntryStoreFull => f.write_str("too many entry tokens are live at once; try again shortly"),
            Self::ChallengeMalformed(m) => write!(f, "the challenge solution is malformed: {m}"),
            Self::ChallengeBadSignature => f.write_str("the challenge was not signed by this server"),
            Self::ChallengeUnsolved => f.write_str("the number does not solve the challenge"),
            Self::ChallengeWrongRoom => f.write_str("the challenge belongs to another room"),
            Self::ChallengeExpired => f.write_str("the challenge has expired; solve a new one"),
            Self::NotOpenYet { opens_in_seconds, opens_at } => write!(
                f,
                "the waiting room is not open yet: joining opens at {} (in {})",
                crate::limits::rfc3339(*opens_at),
                duration_in_words(*opens_in_seconds)
            ),
            Self::RoomClosed => f.write_str("the room is closed"),
            Self::RoomNotClosed => f.write_str(
                "the room has not closed, and an open room needs its personal data; set closes_at to close it first",
            ),
            Self::IdentityRequired => f.write_str("this room requires an identity to join"),
            Self::UnknownTicket => f.write_str("no such ticket in this room"),
            Self::NotAdmitted => f.write_str("the ticket has no active pass"),
            Self::UnknownSlot(id) => write!(f, "no slot with id {id:?}"),
            Self::DuplicateSlot(id) => write!(f, "slot id {id:?} is given twice or exists already"),
            Self::SlotTaken { slot, .. } => write!(f, "slot {slot:?} is already taken"),
            Self::LimitReached { limit } => {
                write!(f, "the limit of {limit} holds and bookings per visitor is reached")
            }
            Self::HoldExpired => f.write_str("the hold has expired"),
            Self::NotHolder => f.write_str("the slot is held by someone else"),
            Self::NoHold => f.write_str("the slot is not held"),
            Self::UnknownBooking => f.write_str("no booking with this code"),
            Self::NoOffer => f.write_str("the ticket has no open offer"),
            Self::ReleaseRefused { reason, .. } => write!(f, "release refused: {reason}"),
            Self::EntropyUnavailable(m) => write!(f, "the system's random source failed: {m}"),
            Self::JournalIncompatible { found, supported } => write!(
                f,
                "the saved state is in format version {found} and this pyqueue reads versions {} to {supported}: \
                 keep running the pyqueue version that wrote it until the event is over, or move the room's \
                 data directory away to start the room empty (its queue and bookings stay in the moved files)",
                crate::journal::OLDEST_READABLE_VERSION
            ),
            Self::JournalCorrupt(m) => write!(f, "the saved state is damaged: {m}"),
        }
    }
}

impl std::error::Error for CoreError {}

pub type CoreResult<T> = Result<T, CoreError>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// One error of every variant. The match below has no wildcard, so a new variant does not
    /// compile without a visit here, where it is added to the list too.
    fn one_of_each() -> Vec<CoreError> {
        let all = vec![
            CoreError::InvalidConfig(String::new()),
            CoreError::InvalidArgument(String::new()),
            CoreError::TokenMalformed,
            CoreError::TokenBadSignature,
            CoreError::TokenUnknownKey(String::new()),
            CoreError::TokenExpired,
            CoreError::TokenWrongRoom,
            CoreError::TokenWrongKind,
            CoreError::SessionEnded,
            CoreError::EntryMalformed(String::new()),
            CoreError::EntryWrongAlgorithm(String::new()),
            CoreError::EntryUnknownKey(String::new()),
            CoreError::EntryBadSignature,
            CoreError::EntryExpired,
            CoreError::EntryLifetimeTooLong { max_seconds: 1 },
            CoreError::EntryWrongAudience,
            CoreError::EntryReplayed,
            CoreError::EntryRequired,
            CoreError::EntryStoreFull,
            CoreError::ChallengeMalformed(String::new()),
            CoreError::ChallengeBadSignature,
            CoreError::ChallengeUnsolved,
            CoreError::ChallengeWrongRoom,
            CoreError::ChallengeExpired,
            CoreError::NotOpenYet { opens_in_seconds: 1.0, opens_at: 0 },
            CoreError::RoomClosed,
            CoreError::IdentityRequired,
            CoreError::UnknownTicket,
            CoreError::NotAdmitted,
            CoreError::UnknownSlot(String::new()),
            CoreError::DuplicateSlot(String::new()),
            CoreError::SlotTaken { slot: String::new(), alternatives: vec![] },
            CoreError::LimitReached { limit: 1 },
            CoreError::HoldExpired,
            CoreError::NotHolder,
            CoreError::NoHold,
            CoreError::UnknownBooking,
            CoreError::NoOffer,
            CoreError::RoomNotClosed,
            CoreError::ReleaseRefused { next_window_micros: None, reason: String::new() },
            CoreError::EntropyUnavailable(String::new()),
            CoreError::JournalIncompatible { found: 1, supported: 2 },
            CoreError::JournalCorrupt(String::new()),
        ];
        for error in &all {
            match error {
                CoreError::InvalidConfig(_)
                | CoreError::InvalidArgument(_)
                | CoreError::TokenMalformed
                | CoreError::TokenBadSignature
                | CoreError::TokenUnknownKey(_)
                | CoreError::TokenExpired
                | CoreError::TokenWrongRoom
                | CoreError::TokenWrongKind
                | CoreError::SessionEnded
                | CoreError::EntryMalformed(_)
                | CoreError::EntryWrongAlgorithm(_)
                | CoreError::EntryUnknownKey(_)
                | CoreError::EntryBadSignature
                | CoreError::EntryExpired
                | CoreError::EntryLifetimeTooLong { .. }
                | CoreError::EntryWrongAudience
                | CoreError::EntryReplayed
                | CoreError::EntryRequired
                | CoreError::EntryStoreFull
                | CoreError::ChallengeMalformed(_)
                | CoreError::ChallengeBadSignature
                | CoreError::ChallengeUnsolved
                | CoreError::ChallengeWrongRoom
                | CoreError::ChallengeExpired
                | CoreError::NotOpenYet { .. }
                | CoreError::RoomClosed
                | CoreError::RoomNotClosed
                | CoreError::IdentityRequired
                | CoreError::UnknownTicket
                | CoreError::NotAdmitted
                | CoreError::UnknownSlot(_)
                | CoreError::DuplicateSlot(_)
                | CoreError::SlotTaken { .. }
                | CoreError::LimitReached { .. }
                | CoreError::HoldExpired
                | CoreError::NotHolder
                | CoreError::NoHold
                | CoreError::UnknownBooking
                | CoreError::NoOffer
                | CoreError::ReleaseRefused { .. }
                | CoreError::EntropyUnavailable(_)
                | CoreError::JournalIncompatible { .. }
                | CoreError::JournalCorrupt(_) => {}
            }
        }
        all
    }

    #[test]
    fn not_open_yet_says_when_in_words() {
        let error = CoreError::NotOpenYet { opens_in_seconds: 2_290_758.0, opens_at: 1_622_912_958_000_000 };
        assert_eq!(
            error.to_string(),
            "the waiting room is not open yet: joining opens at 2021-06-05T17:09:18Z (in 26 days 12 hours)"
        );
        assert_eq!(duration_in_words(3600.0 * 3.0 + 300.0), "3 hours 5 minutes");
        assert_eq!(duration_in_words(86_400.0 + 59.0), "1 day");
        assert_eq!(duration_in_words(61.2), "1 minute 2 seconds");
        assert_eq!(duration_in_words(0.0), "0 seconds");
        assert_eq!(duration_in_words(f64::NAN), "0 seconds");
    }

    #[test]
    fn every_code_has_exactly_one_status_in_the_list() {
        let codes: BTreeSet<&str> = one_of_each().iter().map(CoreError::code).collect();
        let listed: Vec<&str> = ERROR_CODES.iter().map(|(code, _)| *code).collect();
        let unique: BTreeSet<&str> = listed.iter().copied().collect();
        assert_eq!(unique.len(), listed.len(), "a code is listed twice");
        assert_eq!(codes, unique, "ERROR_CODES and the variants' codes differ");
    }

    #[test]
    fn client_mistakes_are_4xx_and_server_faults_5xx() {
        for error in one_of_each() {
            let status = error.http_status();
            let server_fault = matches!(
                error,
                CoreError::EntropyUnavailable(_)
                    | CoreError::JournalIncompatible { .. }
                    | CoreError::JournalCorrupt(_)
                    | CoreError::EntryStoreFull
            );
            let expected = if server_fault { 500..600 } else { 400..500 };
            assert!(expected.contains(&status), "{} is {status}", error.code());
        }
    }

    #[test]
    fn an_unknown_code_has_no_status() {
        assert_eq!(status_of("no_such_code"), None);
        assert_eq!(status_of("journal_corrupt"), Some(500));
    }
}
