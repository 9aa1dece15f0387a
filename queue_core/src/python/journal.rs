//! The journal's face in Python: what a restore did (`RestoreReport`, `JournalCut`), the header
//! of a new journal file, and the format version. Files are opened, written and synced by
//! `pyqueue.backends.journal_file`; the core only encodes and replays.

use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::journal::{journal_header as header_bytes, FORMAT_VERSION};
use crate::room::{JournalCut, RestoreReport};

#[pyclass(frozen, module = "pyqueue._core", name = "JournalCut", get_all)]
pub struct PyJournalCut {
    /// Index of the journal segment (in the order given) that holds the bad record.
    pub segment: usize,
    /// Length of the segment's good part; the file may be truncated to it.
    pub offset: usize,
    pub reason: String,
    pub dropped_bytes: usize,
    /// Segments after the bad one, which were not applied either.
    pub segments_skipped: usize,
}

#[pymethods]
impl PyJournalCut {
    fn __repr__(&self) -> String {
        format!("JournalCut(segment={}, offset={}, reason={:?})", self.segment, self.offset, self.reason)
    }
}

impl From<JournalCut> for PyJournalCut {
    fn from(cut: JournalCut) -> Self {
        Self {
            segment: cut.segment,
            offset: cut.offset,
            reason: cut.reason,
            dropped_bytes: cut.dropped_bytes,
            segments_skipped: cut.segments_skipped,
        }
    }
}

#[pyclass(frozen, module = "pyqueue._core", name = "RestoreReport")]
pub struct PyRestoreReport {
    pub inner: RestoreReport,
}

#[pymethods]
impl PyRestoreReport {
    #[getter]
    fn snapshot_generation(&self) -> Option<u64> {
        self.inner.snapshot_generation
    }
    #[getter]
    fn segments(&self) -> usize {
        self.inner.segments
    }
    #[getter]
    fn records(&self) -> u64 {
        self.inner.records
    }
    #[getter]
    fn cut(&self) -> Option<PyJournalCut> {
        self.inner.cut.clone().map(Into::into)
    }
    fn __repr__(&self) -> String {
        format!(
            "RestoreReport(snapshot_generation={:?}, segments={}, records={}, cut={})",
            self.inner.snapshot_generation,
            self.inner.segments,
            self.inner.records,
            self.inner.cut.is_some()
        )
    }
}

/// The header that starts a new journal file of `room` for `generation`.
#[pyfunction]
pub fn journal_header<'py>(py: Python<'py>, room: &str, generation: u64) -> Bound<'py, PyBytes> {
    PyBytes::new(py, &header_bytes(room, generation))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("JOURNAL_FORMAT_VERSION", FORMAT_VERSION)?;
    m.add_class::<PyJournalCut>()?;
    m.add_class::<PyRestoreReport>()?;
    m.add_function(wrap_pyfunction!(journal_header, m)?)?;
    Ok(())
}
