//! The journal's face in Python: what a restore did (`RestoreReport`, `JournalCut`) and what it
//! left out (`UnappliedRecords`), the header of a new journal file, and the format version.
//! Files are opened, written and synced by `pyqueue.backends.journal_file`; the core only
//! encodes, replays and tells a torn tail from damage.

use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::journal::{journal_header as header_bytes, FORMAT_VERSION};
use crate::room::{JournalCut, RestoreReport, Unapplied};

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
    /// True for what a crash leaves (an unfinished last record, nothing whole after it: safe
    /// to cut); false for damage (a whole record that fails its checksum, a damaged header,
    /// whole records after it), which a cut would drop.
    pub torn_tail: bool,
    /// The records from the damaged one on, which were not applied.
    pub unapplied: Py<PyUnappliedRecords>,
}

#[pymethods]
impl PyJournalCut {
    fn __repr__(&self) -> String {
        format!(
            "JournalCut(segment={}, offset={}, reason={:?}, torn_tail={})",
            self.segment, self.offset, self.reason, self.torn_tail
        )
    }
}

impl PyJournalCut {
    fn new(py: Python<'_>, cut: JournalCut) -> PyResult<Self> {
        Ok(Self {
            torn_tail: cut.torn_tail(),
            segment: cut.segment,
            offset: cut.offset,
            reason: cut.reason,
            dropped_bytes: cut.dropped_bytes,
            segments_skipped: cut.segments_skipped,
            unapplied: Py::new(py, PyUnappliedRecords::from(cut.unapplied))?,
        })
    }
}

/// Records that a restore could not apply, read as far as they go.
#[pyclass(frozen, module = "pyqueue._core", name = "UnappliedRecords", get_all)]
pub struct PyUnappliedRecords {
    /// Every record left out, the unreadable ones included.
    pub records: u64,
    /// Records written whole once that fail their checksum now.
    pub unreadable: u64,
    /// (code, slot id or None) of each booking made.
    pub bookings: Vec<(String, Option<String>)>,
    /// (code, slot id or None) of what an unreadable record seems to book (it may be garbled).
    pub possible_bookings: Vec<(String, Option<String>)>,
    /// Slots whose booking was cancelled.
    pub cancelled: Vec<String>,
    /// Tickets that joined.
    pub joined: Vec<u32>,
    /// Tickets that were admitted.
    pub admitted: Vec<u32>,
}

#[pymethods]
impl PyUnappliedRecords {
    fn __repr__(&self) -> String {
        format!(
            "UnappliedRecords(records={}, unreadable={}, bookings={}, joined={}, admitted={})",
            self.records,
            self.unreadable,
            self.bookings.len(),
            self.joined.len(),
            self.admitted.len()
        )
    }
}

impl From<Unapplied> for PyUnappliedRecords {
    fn from(found: Unapplied) -> Self {
        Self {
            records: found.records,
            unreadable: found.unreadable,
            bookings: found.bookings.into_iter().map(|booking| (booking.code, booking.slot)).collect(),
            possible_bookings: found
                .possible_bookings
                .into_iter()
                .map(|booking| (booking.code, booking.slot))
                .collect(),
            cancelled: found.cancelled,
            joined: found.joined,
            admitted: found.admitted,
        }
    }
}

/// The records of whole journal files (oldest first) read as far as they go: what setting
/// them aside would drop.
#[pyfunction]
// PyO3 extracts a Python list into an owned Vec; it cannot hand over a borrowed slice.
#[allow(clippy::needless_pass_by_value)]
pub fn unapplied_records(py: Python<'_>, journals: Vec<Bound<'_, PyBytes>>) -> PyUnappliedRecords {
    let segments: Vec<&[u8]> = journals.iter().map(|b| b.as_bytes()).collect();
    py.detach(|| Unapplied::of_journals(&segments)).into()
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
    fn cut(&self, py: Python<'_>) -> PyResult<Option<PyJournalCut>> {
        self.inner.cut.clone().map(|cut| PyJournalCut::new(py, cut)).transpose()
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
    m.add_class::<PyUnappliedRecords>()?;
    m.add_function(wrap_pyfunction!(journal_header, m)?)?;
    m.add_function(wrap_pyfunction!(unapplied_records, m)?)?;
    Ok(())
}
