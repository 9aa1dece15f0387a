//! queue_core: the fair admission queue and the slot inventory of pyqueue. No I/O; time comes
//! from an injected clock. The Python module `pyqueue._core` is defined in `python`.

// Tests build their fixtures from small literal counts and compare exact float results on
// purpose; the numeric lints stay on for the library itself.
#![cfg_attr(
    test,
    allow(
        clippy::cast_possible_truncation,
        clippy::cast_possible_wrap,
        clippy::cast_sign_loss,
        clippy::float_cmp,
        clippy::many_single_char_names
    )
)]

pub mod admission;
pub mod challenge;
pub mod clock;
pub mod codec;
pub mod entry;
pub mod errors;
pub mod eta;
pub mod events;
pub mod format_v1;
pub mod inventory;
pub mod journal;
pub mod limits;
pub mod polling;
pub mod position;
pub mod prequeue;
pub mod pseudonym;
pub mod queue;
pub mod room;
pub mod room_config;
pub mod schedule;
pub mod token;

mod python;

use pyo3::prelude::*;

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    python::register(m)
}
