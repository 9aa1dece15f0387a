//! `VirtualClock` for tests and surge replays: rooms built with it see only the time it is set to.

use std::sync::Arc;

use pyo3::prelude::*;

use super::time::{micros_to_datetime, to_micros};
use crate::clock::{Clock, VirtualClock, MICROS_PER_SECOND};
use crate::errors::CoreError;

#[pyclass(frozen, module = "pyqueue._core", name = "VirtualClock")]
pub struct PyVirtualClock {
    pub inner: Arc<VirtualClock>,
}

#[pymethods]
impl PyVirtualClock {
    #[new]
    fn new(start: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(Self { inner: Arc::new(VirtualClock::new(to_micros(start, "start")?)) })
    }

    /// Moves the clock forward by `seconds` (must not be negative).
    fn advance(&self, seconds: f64) -> PyResult<()> {
        if !(seconds.is_finite() && seconds >= 0.0) {
            return Err(CoreError::InvalidArgument(format!("cannot advance by {seconds} s")).into());
        }
        // Saturates for absurd spans, which is as far as a test clock can go.
        #[allow(clippy::cast_possible_truncation)]
        let micros = (seconds * MICROS_PER_SECOND as f64).round() as i64;
        self.inner.advance_micros(micros);
        Ok(())
    }

    /// Sets the clock to `when`; time never runs backwards.
    fn set(&self, when: &Bound<'_, PyAny>) -> PyResult<()> {
        if !self.inner.set_micros(to_micros(when, "when")?) {
            return Err(CoreError::InvalidArgument("a virtual clock cannot go backwards".into()).into());
        }
        Ok(())
    }

    fn now<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        micros_to_datetime(py, self.inner.now_micros())
    }

    /// Seconds since the Unix epoch.
    fn timestamp(&self) -> f64 {
        self.inner.now_micros() as f64 / MICROS_PER_SECOND as f64
    }
}
