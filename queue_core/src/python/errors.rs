//! The one mapping from `CoreError` to named Python exceptions. Every exception carries `code`
//! (the stable string the HTTP layer puts in error bodies) and, where useful, details.

use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::errors::{CoreError, ERROR_CODES};

/// Declares every exception once: the class, its base and docstring, and its registration.
macro_rules! exceptions {
    ($($name:ident: $base:ident => $doc:literal,)*) => {
        $(pyo3::create_exception!(pyqueue._core, $name, $base, $doc);)*

        pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
            let py = m.py();
            $(m.add(stringify!($name), py.get_type::<$name>())?;)*
            Ok(())
        }
    };
}

exceptions! {
    PyqueueError: PyException => "Base of every pyqueue error.",
    InvalidConfig: PyqueueError => "A room, signer or setting was configured with values that cannot work.",
    InvalidArgument: PyqueueError => "An argument is out of range, empty or of the wrong form.",
    TokenError: PyqueueError => "A ticket or pass token was refused.",
    TokenMalformed: TokenError => "The token is not a pyqueue token.",
    TokenBadSignature: TokenError => "The token's signature does not match: forged or altered.",
    TokenUnknownKey: TokenError => "The token names a key id this signer does not have.",
    TokenExpired: TokenError => "The token (or the session it stands for) has expired.",
    TokenWrongRoom: TokenError => "The token belongs to another room.",
    TokenWrongKind: TokenError => "A ticket was given where a pass is needed, or the reverse.",
    SessionEnded: TokenError => "The pass is genuine, but its session ended: the visitor left, completed or ran out of time.",
    EntryError: PyqueueError => "An entry token (the portal's signed JWT) was refused.",
    EntryMalformed: EntryError => "The entry token is not a JWS compact JWT with the claims aud, sub, iat, exp and jti.",
    EntryWrongAlgorithm: EntryError => "The entry token is signed with another algorithm than the pinned one (`none` included).",
    EntryUnknownKey: EntryError => "The entry token's kid names no configured entry key.",
    EntryBadSignature: EntryError => "The entry token's signature does not match: forged or altered.",
    EntryExpired: EntryError => "The entry token has expired; the portal issues a new one.",
    EntryLifetimeTooLong: EntryError => "The entry token's exp is further from its iat than entry tokens may live.",
    EntryWrongAudience: EntryError => "The entry token's aud does not name this room.",
    EntryReplayed: EntryError => "The entry token's jti was accepted once already.",
    EntryRequired: EntryError => "The room admits joins only with an entry token.",
    EntryStoreFull: EntryError => "More entry tokens are live at once than the replay store keeps; retry shortly.",
    ChallengeError: PyqueueError => "A proof-of-work solution was refused.",
    ChallengeMalformed: ChallengeError => "The solution is not an ALTCHA solution of this server's shape.",
    ChallengeBadSignature: ChallengeError => "The challenge was not signed by this server: forged or altered.",
    ChallengeUnsolved: ChallengeError => "The number does not solve the challenge.",
    ChallengeWrongRoom: ChallengeError => "The challenge belongs to another room.",
    ChallengeExpired: ChallengeError => "The challenge has expired.",
    NotOpenYet: PyqueueError => "The room does not take this yet; see `opens_in_seconds`.",
    RoomClosed: PyqueueError => "The room is closed.",
    RoomNotClosed: PyqueueError => "The room has not closed, so its personal data is still needed.",
    IdentityRequired: PyqueueError => "The room requires an identity to join.",
    UnknownTicket: PyqueueError => "No such ticket in this room.",
    NotAdmitted: PyqueueError => "The ticket has no active pass.",
    UnknownSlot: PyqueueError => "No slot with this id.",
    DuplicateSlot: PyqueueError => "A slot id is given twice or exists already.",
    SlotTaken: PyqueueError => "Someone else holds or booked the slot; see `alternatives`.",
    LimitReached: PyqueueError => "The visitor holds or booked as many slots as allowed.",
    HoldExpired: PyqueueError => "The hold ran out before it was confirmed.",
    NotHolder: PyqueueError => "The slot is held by someone else.",
    NoHold: PyqueueError => "The slot is not held, so there is nothing to confirm or release.",
    UnknownBooking: PyqueueError => "No booking with this code.",
    NoOffer: PyqueueError => "The ticket has no open waiting-list offer.",
    ReleaseRefused: PyqueueError => "A release before the release window, without an override.",
    EntropyUnavailable: PyqueueError => "The operating system's random source failed: a fault of the server, not of the request.",
    JournalIncompatible: PyqueueError => "Saved state was written in a format this version cannot read; the message says what to do.",
    JournalCorrupt: PyqueueError => "Saved state is damaged beyond a torn tail and cannot be replayed.",
}

impl From<CoreError> for PyErr {
    fn from(error: CoreError) -> PyErr {
        let message = error.to_string();
        let err = match &error {
            CoreError::InvalidConfig(_) => InvalidConfig::new_err(message),
            CoreError::InvalidArgument(_) => InvalidArgument::new_err(message),
            CoreError::TokenMalformed => TokenMalformed::new_err(message),
            CoreError::TokenBadSignature => TokenBadSignature::new_err(message),
            CoreError::TokenUnknownKey(_) => TokenUnknownKey::new_err(message),
            CoreError::TokenExpired => TokenExpired::new_err(message),
            CoreError::TokenWrongRoom => TokenWrongRoom::new_err(message),
            CoreError::TokenWrongKind => TokenWrongKind::new_err(message),
            CoreError::SessionEnded => SessionEnded::new_err(message),
            CoreError::EntryMalformed(_) => EntryMalformed::new_err(message),
            CoreError::EntryWrongAlgorithm(_) => EntryWrongAlgorithm::new_err(message),
            CoreError::EntryUnknownKey(_) => EntryUnknownKey::new_err(message),
            CoreError::EntryBadSignature => EntryBadSignature::new_err(message),
            CoreError::EntryExpired => EntryExpired::new_err(message),
            CoreError::EntryLifetimeTooLong { .. } => EntryLifetimeTooLong::new_err(message),
            CoreError::EntryWrongAudience => EntryWrongAudience::new_err(message),
            CoreError::EntryReplayed => EntryReplayed::new_err(message),
            CoreError::EntryRequired => EntryRequired::new_err(message),
            CoreError::EntryStoreFull => EntryStoreFull::new_err(message),
            CoreError::ChallengeMalformed(_) => ChallengeMalformed::new_err(message),
            CoreError::ChallengeBadSignature => ChallengeBadSignature::new_err(message),
            CoreError::ChallengeUnsolved => ChallengeUnsolved::new_err(message),
            CoreError::ChallengeWrongRoom => ChallengeWrongRoom::new_err(message),
            CoreError::ChallengeExpired => ChallengeExpired::new_err(message),
            CoreError::NotOpenYet { .. } => NotOpenYet::new_err(message),
            CoreError::RoomClosed => RoomClosed::new_err(message),
            CoreError::RoomNotClosed => RoomNotClosed::new_err(message),
            CoreError::IdentityRequired => IdentityRequired::new_err(message),
            CoreError::UnknownTicket => UnknownTicket::new_err(message),
            CoreError::NotAdmitted => NotAdmitted::new_err(message),
            CoreError::UnknownSlot(_) => UnknownSlot::new_err(message),
            CoreError::DuplicateSlot(_) => DuplicateSlot::new_err(message),
            CoreError::SlotTaken { .. } => SlotTaken::new_err(message),
            CoreError::LimitReached { .. } => LimitReached::new_err(message),
            CoreError::HoldExpired => HoldExpired::new_err(message),
            CoreError::NotHolder => NotHolder::new_err(message),
            CoreError::NoHold => NoHold::new_err(message),
            CoreError::UnknownBooking => UnknownBooking::new_err(message),
            CoreError::NoOffer => NoOffer::new_err(message),
            CoreError::ReleaseRefused { .. } => ReleaseRefused::new_err(message),
            CoreError::EntropyUnavailable(_) => EntropyUnavailable::new_err(message),
            CoreError::JournalIncompatible { .. } => JournalIncompatible::new_err(message),
            CoreError::JournalCorrupt(_) => JournalCorrupt::new_err(message),
        };
        Python::attach(|py| {
            // Attributes are best effort: the exception itself is what matters.
            let _ = add_details(py, &err, &error);
        });
        err
    }
}

/// Every error code the core can raise, with its one HTTP status: `{code: status}`. Each code's
/// exception is the class whose name is the code in CamelCase (`unknown_ticket`: `UnknownTicket`).
#[pyfunction]
pub fn error_codes(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let codes = PyDict::new(py);
    for (code, status) in ERROR_CODES {
        codes.set_item(code, status)?;
    }
    Ok(codes)
}

/// The `NotOpenYet` a join at `now_micros` meets when joining opens at `opens_at_micros`, as the
/// core raises it (message and details): for a backend that finds the refusal itself (Redis).
#[pyfunction]
pub fn not_open_yet(py: Python<'_>, opens_at_micros: i64, now_micros: i64) -> Py<PyAny> {
    let opens_in_seconds = crate::queue::seconds_between(now_micros, opens_at_micros);
    PyErr::from(CoreError::NotOpenYet { opens_in_seconds, opens_at: opens_at_micros }).into_value(py).into_any()
}

fn add_details(py: Python<'_>, err: &PyErr, error: &CoreError) -> PyResult<()> {
    let value = err.value(py);
    value.setattr("code", error.code())?;
    match error {
        CoreError::NotOpenYet { opens_in_seconds, opens_at } => {
            value.setattr("opens_in_seconds", *opens_in_seconds)?;
            value.setattr("opens_at", super::time::micros_to_datetime(py, *opens_at)?)?;
        }
        CoreError::SlotTaken { slot, alternatives } => {
            value.setattr("slot", slot)?;
            value.setattr("alternatives", PyList::new(py, alternatives)?)?;
        }
        CoreError::LimitReached { limit } => value.setattr("limit", *limit)?,
        CoreError::UnknownSlot(slot) | CoreError::DuplicateSlot(slot) => value.setattr("slot", slot)?,
        CoreError::TokenUnknownKey(kid) | CoreError::EntryUnknownKey(kid) => value.setattr("key_id", kid)?,
        CoreError::JournalIncompatible { found, supported } => {
            value.setattr("found", *found)?;
            value.setattr("supported", *supported)?;
        }
        CoreError::ReleaseRefused { next_window_micros, .. } => {
            let next = match next_window_micros {
                Some(micros) => Some(super::time::micros_to_datetime(py, *micros)?),
                None => None,
            };
            value.setattr("next_window", next)?;
        }
        _ => {}
    }
    Ok(())
}
