//! queue_core: the fair admission queue and the slot inventory of pyqueue. No I/O; time comes
//! from an injected clock. The Python module `pyqueue._core` is defined in `python`.

pub mod admission;
pub mod challenge;
pub mod clock;
pub mod codec;
pub mod entry;
pub mod errors;
pub mod eta;
pub mod events;
pub mod inventory;
pub mod journal;
pub mod limits;
pub mod position;
pub mod prequeue;
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
