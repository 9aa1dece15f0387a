//! The one mapping from `CoreError` to named Python exceptions. Every exception carries `code`
//! (the stable string the HTTP layer puts in error bodies) and, where useful, details.

use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::PyList;

use crate::errors::CoreError;

pyo3::create_exception!(pyqueue._core, PyqueueError, PyException, "Base of every pyqueue error.");
pyo3::create_exception!(
    pyqueue._core,
    InvalidConfig,
    PyqueueError,
    "A room, signer or setting was configured with values that cannot work."
);
pyo3::create_exception!(
    pyqueue._core,
    InvalidArgument,
    PyqueueError,
    "An argument is out of range, empty or of the wrong form."
);
pyo3::create_exception!(pyqueue._core, TokenError, PyqueueError, "A ticket or pass token was refused.");
pyo3::create_exception!(pyqueue._core, TokenMalformed, TokenError, "The token is not a pyqueue token.");
pyo3::create_exception!(
    pyqueue._core,
    TokenBadSignature,
    TokenError,
    "The token's signature does not match: forged or altered."
);
pyo3::create_exception!(
    pyqueue._core,
    TokenUnknownKey,
    TokenError,
    "The token names a key id this signer does not have."
);
pyo3::create_exception!(
    pyqueue._core,
    TokenExpired,
    TokenError,
    "The token (or the session it stands for) has expired."
);
pyo3::create_exception!(pyqueue._core, TokenWrongRoom, TokenError, "The token belongs to another room.");
pyo3::create_exception!(
    pyqueue._core,
    TokenWrongKind,
    TokenError,
    "A ticket was given where a pass is needed, or the reverse."
);
pyo3::create_exception!(
    pyqueue._core,
    NotOpenYet,
    PyqueueError,
    "The room does not take this yet; see `opens_in_seconds`."
);
pyo3::create_exception!(pyqueue._core, RoomClosed, PyqueueError, "The room is closed.");
pyo3::create_exception!(pyqueue._core, IdentityRequired, PyqueueError, "The room requires an identity to join.");
pyo3::create_exception!(pyqueue._core, UnknownTicket, PyqueueError, "No such ticket in this room.");
pyo3::create_exception!(pyqueue._core, NotAdmitted, PyqueueError, "The ticket has no active pass.");
pyo3::create_exception!(pyqueue._core, UnknownSlot, PyqueueError, "No slot with this id.");
pyo3::create_exception!(pyqueue._core, DuplicateSlot, PyqueueError, "A slot id is given twice or exists already.");
pyo3::create_exception!(
    pyqueue._core,
    SlotTaken,
    PyqueueError,
    "Someone else holds or booked the slot; see `alternatives`."
);
pyo3::create_exception!(
    pyqueue._core,
    LimitReached,
    PyqueueError,
    "The visitor holds or booked as many slots as allowed."
);
pyo3::create_exception!(pyqueue._core, HoldExpired, PyqueueError, "The hold ran out before it was confirmed.");
pyo3::create_exception!(pyqueue._core, NotHolder, PyqueueError, "The slot is held by someone else.");
pyo3::create_exception!(
    pyqueue._core,
    NoHold,
    PyqueueError,
    "The slot is not held, so there is nothing to confirm or release."
);
pyo3::create_exception!(pyqueue._core, UnknownBooking, PyqueueError, "No booking with this code.");
pyo3::create_exception!(pyqueue._core, NoOffer, PyqueueError, "The ticket has no open waiting-list offer.");
pyo3::create_exception!(
    pyqueue._core,
    ReleaseRefused,
    PyqueueError,
    "A release before the release window, without an override."
);

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
            CoreError::NotOpenYet { .. } => NotOpenYet::new_err(message),
            CoreError::RoomClosed => RoomClosed::new_err(message),
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
            CoreError::EntropyUnavailable(_) => PyqueueError::new_err(message),
        };
        Python::attach(|py| {
            // Attributes are best effort: the exception itself is what matters.
            let _ = add_details(py, &err, &error);
        });
        err
    }
}

fn add_details(py: Python<'_>, err: &PyErr, error: &CoreError) -> PyResult<()> {
    let value = err.value(py);
    value.setattr("code", error.code())?;
    match error {
        CoreError::NotOpenYet { opens_in_seconds } => value.setattr("opens_in_seconds", *opens_in_seconds)?,
        CoreError::SlotTaken { slot, alternatives } => {
            value.setattr("slot", slot)?;
            value.setattr("alternatives", PyList::new(py, alternatives)?)?;
        }
        CoreError::LimitReached { limit } => value.setattr("limit", *limit)?,
        CoreError::UnknownSlot(slot) | CoreError::DuplicateSlot(slot) => value.setattr("slot", slot)?,
        CoreError::TokenUnknownKey(kid) => value.setattr("key_id", kid)?,
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

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("PyqueueError", py.get_type::<PyqueueError>())?;
    m.add("InvalidConfig", py.get_type::<InvalidConfig>())?;
    m.add("InvalidArgument", py.get_type::<InvalidArgument>())?;
    m.add("TokenError", py.get_type::<TokenError>())?;
    m.add("TokenMalformed", py.get_type::<TokenMalformed>())?;
    m.add("TokenBadSignature", py.get_type::<TokenBadSignature>())?;
    m.add("TokenUnknownKey", py.get_type::<TokenUnknownKey>())?;
    m.add("TokenExpired", py.get_type::<TokenExpired>())?;
    m.add("TokenWrongRoom", py.get_type::<TokenWrongRoom>())?;
    m.add("TokenWrongKind", py.get_type::<TokenWrongKind>())?;
    m.add("NotOpenYet", py.get_type::<NotOpenYet>())?;
    m.add("RoomClosed", py.get_type::<RoomClosed>())?;
    m.add("IdentityRequired", py.get_type::<IdentityRequired>())?;
    m.add("UnknownTicket", py.get_type::<UnknownTicket>())?;
    m.add("NotAdmitted", py.get_type::<NotAdmitted>())?;
    m.add("UnknownSlot", py.get_type::<UnknownSlot>())?;
    m.add("DuplicateSlot", py.get_type::<DuplicateSlot>())?;
    m.add("SlotTaken", py.get_type::<SlotTaken>())?;
    m.add("LimitReached", py.get_type::<LimitReached>())?;
    m.add("HoldExpired", py.get_type::<HoldExpired>())?;
    m.add("NotHolder", py.get_type::<NotHolder>())?;
    m.add("NoHold", py.get_type::<NoHold>())?;
    m.add("UnknownBooking", py.get_type::<UnknownBooking>())?;
    m.add("NoOffer", py.get_type::<NoOffer>())?;
    m.add("ReleaseRefused", py.get_type::<ReleaseRefused>())?;
    Ok(())
}
