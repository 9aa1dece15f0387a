//! The `pyqueue._core` module: classes, functions and exceptions, registered in one place.

mod challenge;
mod clock;
mod config;
mod entry;
pub mod errors;
mod journal;
mod limits;
mod pseudonym;
mod room;
mod signer;
mod status_poll;
mod time;
mod views;

use pyo3::prelude::*;

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<clock::PyVirtualClock>()?;
    m.add_class::<config::PyRoomConfig>()?;
    m.add_class::<room::PyRoom>()?;
    m.add_class::<signer::PySigner>()?;
    m.add_class::<signer::PyTokenInfo>()?;
    m.add_class::<signer::PyPassInfo>()?;
    m.add_class::<entry::PyEntryVerifier>()?;
    m.add_class::<entry::PyEntryClaims>()?;
    m.add_class::<views::PyTicket>()?;
    m.add_class::<views::PyStatus>()?;
    m.add_class::<views::PyEta>()?;
    m.add_class::<status_poll::PyLine>()?;
    m.add_class::<views::PyOffer>()?;
    m.add_class::<views::PyHold>()?;
    m.add_class::<views::PyBooking>()?;
    m.add_class::<views::PySlotInfo>()?;
    m.add_class::<views::PyGroupAvailability>()?;
    m.add_class::<views::PyAuditEntry>()?;
    m.add_class::<views::PyRoomInfo>()?;
    m.add_class::<views::PyTickReport>()?;
    m.add_class::<views::PyDraw>()?;
    m.add_class::<limits::PyInputRule>()?;
    m.add_function(wrap_pyfunction!(signer::verify_pass, m)?)?;
    m.add_function(wrap_pyfunction!(challenge::new_challenge, m)?)?;
    m.add_function(wrap_pyfunction!(challenge::verify_challenge, m)?)?;
    m.add_function(wrap_pyfunction!(signer::draw_order, m)?)?;
    m.add_function(wrap_pyfunction!(entry::sign_entry, m)?)?;
    m.add_function(wrap_pyfunction!(entry::entry_public_key, m)?)?;
    m.add_function(wrap_pyfunction!(status_poll::status_poll, m)?)?;
    m.add_function(wrap_pyfunction!(status_poll::cached_status_poll, m)?)?;
    m.add_function(wrap_pyfunction!(status_poll::poll_after_ms, m)?)?;
    m.add_function(wrap_pyfunction!(status_poll::heartbeat_cap_ms, m)?)?;
    m.add_function(wrap_pyfunction!(status_poll::next_release_window, m)?)?;
    m.add_function(wrap_pyfunction!(status_poll::last_release_window, m)?)?;
    status_poll::register_constants(m)?;
    m.add_function(wrap_pyfunction!(limits::input_rules, m)?)?;
    m.add_function(wrap_pyfunction!(limits::check_slots, m)?)?;
    m.add_function(wrap_pyfunction!(limits::check_identity, m)?)?;
    m.add_function(wrap_pyfunction!(limits::check_audit, m)?)?;
    m.add_function(wrap_pyfunction!(errors::error_codes, m)?)?;
    m.add_function(wrap_pyfunction!(errors::not_open_yet, m)?)?;
    m.add_function(wrap_pyfunction!(views::room_state, m)?)?;
    m.add_function(wrap_pyfunction!(pseudonym::new_identity_key, m)?)?;
    m.add_function(wrap_pyfunction!(pseudonym::identity_pseudonym, m)?)?;
    // The retention's audit actor, for the Redis backend's deletion.
    m.add("RETENTION_ACTOR", crate::room::RETENTION_ACTOR)?;
    journal::register(m)?;
    errors::register(m)
}
