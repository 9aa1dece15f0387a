//! The one error type of the core. Every failure a caller can cause has its own variant, so the
//! Python layer can map each to a named exception and the HTTP layer to a status code.

use std::fmt;

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

    /// The room does not take this action yet; `opens_in_seconds` says how long to wait.
    NotOpenYet {
        opens_in_seconds: f64,
    },
    RoomClosed,
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
            Self::NotOpenYet { opens_in_seconds } => {
                write!(f, "the room is not open yet; it opens in {opens_in_seconds:.0} s")
            }
            Self::RoomClosed => f.write_str("the room is closed"),
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
                "the saved state is in format version {found} and this pyqueue reads version {supported}: \
                 keep running the pyqueue version that wrote it until the event is over, or move the room's \
                 data directory away to start the room empty (its queue and bookings stay in the moved files)"
            ),
            Self::JournalCorrupt(m) => write!(f, "the saved state is damaged: {m}"),
        }
    }
}

impl std::error::Error for CoreError {}

pub type CoreResult<T> = Result<T, CoreError>;
