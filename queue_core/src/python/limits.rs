//! The input rules of `crate::limits` for Python: listed (`input_rules`, for the OpenAPI
//! document and the README) and applied where Python keeps state itself (`check_slots`,
//! `check_identity`, `check_audit`, used by the Redis backend and the admin API), so no layer
//! carries a copy of a rule.

use std::collections::HashSet;

use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::room::slot_spec;
use crate::errors::CoreError;
use crate::limits::{self, Bound as Rule, Charset};

/// One setting's or id's documented range or character set.
#[pyclass(frozen, module = "pyqueue._core", name = "InputRule", get_all)]
pub struct PyInputRule {
    /// "integer", "number", "time", "text" or "list".
    pub kind: &'static str,
    /// The smallest value (a number; an RFC 3339 time for times), or None.
    pub minimum: Option<Py<PyAny>>,
    /// The largest value (a number; an RFC 3339 time; the most entries of a list), or None.
    pub maximum: Option<Py<PyAny>>,
    /// True when `minimum` itself is refused (a rate must be above 0).
    pub exclusive_minimum: bool,
    /// The longest text, in bytes of UTF-8.
    pub max_bytes: Option<u64>,
    /// The character set as a regular expression (ECMA-262 and Python `re`), for texts.
    pub pattern: Option<String>,
    /// The rule in words, as the README and the messages say it.
    pub text: String,
}

#[pymethods]
impl PyInputRule {
    fn __repr__(&self) -> String {
        format!("InputRule(kind={:?}, text={:?})", self.kind, self.text)
    }
}

fn rule(py: Python<'_>, bound: &Rule) -> PyResult<PyInputRule> {
    let num = |v: u64| -> PyResult<Option<Py<PyAny>>> { Ok(Some(v.into_pyobject(py)?.into_any().unbind())) };
    let text = |s: String| -> PyResult<Option<Py<PyAny>>> { Ok(Some(s.into_pyobject(py)?.into_any().unbind())) };
    let mut out = PyInputRule {
        kind: "integer",
        minimum: None,
        maximum: None,
        exclusive_minimum: false,
        max_bytes: None,
        pattern: None,
        text: String::new(),
    };
    match bound {
        Rule::Int(r) => {
            (out.minimum, out.maximum) = (num(r.min)?, num(r.max)?);
            out.text = format!("{} to {}", r.min, r.max);
        }
        Rule::Rate(r) => {
            out.kind = "number";
            out.minimum = Some(0.0f64.into_pyobject(py)?.into_any().unbind());
            out.maximum = Some(r.max.into_pyobject(py)?.into_any().unbind());
            out.exclusive_minimum = true;
            out.text = format!("above 0, at most {}", r.max);
        }
        Rule::Time(w) => {
            out.kind = "time";
            let (earliest, latest) = (limits::rfc3339(w.earliest), limits::rfc3339(w.latest));
            out.text = format!("{earliest} to {latest}");
            (out.minimum, out.maximum) = (text(earliest)?, text(latest)?);
        }
        Rule::Text(r) => {
            out.kind = "text";
            out.max_bytes = Some(r.max);
            out.pattern = Some(r.charset.pattern(r.max));
            out.text = match r.charset {
                Charset::Word => r.describe(),
                Charset::Printable => format!("1 to {} bytes of printable text", r.max),
            };
        }
        Rule::OffOrFrom(r, floor) => {
            (out.minimum, out.maximum) = (num(r.min)?, num(r.max)?);
            out.text = format!("0 (off), or {floor} to {}", r.max);
        }
        Rule::Count(r) => {
            out.kind = "list";
            (out.minimum, out.maximum) = (num(r.min)?, num(r.max)?);
            out.text = format!("at most {} entries", r.max);
        }
    }
    Ok(out)
}

/// Every rule by the setting or id it governs (`room_id`, `slot_id`, `group`, `identity`,
/// `key_id`, the room settings, and `starts_at` of a slot).
#[pyfunction]
pub fn input_rules(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let rules = PyDict::new(py);
    for (name, bound) in limits::rules() {
        rules.set_item(name, Py::new(py, rule(py, &bound)?)?)?;
    }
    Ok(rules)
}

/// Checks slots as `Room.add_slots` takes them, without a room: each against the slot rules,
/// and no id twice. Returns `(id, group, starts_at)` with `starts_at` in microseconds since the
/// Unix epoch. Raises `InvalidArgument` or `DuplicateSlot`.
#[pyfunction]
pub fn check_slots(slots: &Bound<'_, PyAny>) -> PyResult<Vec<(String, String, i64)>> {
    let mut checked = Vec::with_capacity(slots.len().unwrap_or(0));
    let mut seen = HashSet::new();
    for item in slots.try_iter()? {
        let spec = slot_spec(&item?)?;
        spec.validate()?;
        if !seen.insert(spec.id.clone()) {
            return Err(CoreError::DuplicateSlot(spec.id).into());
        }
        checked.push((spec.id, spec.group, spec.starts_at));
    }
    Ok(checked)
}

/// Checks an identity as `Room.join` does; raises `InvalidArgument` (without echoing it).
#[pyfunction]
pub fn check_identity(identity: &str) -> PyResult<()> {
    Ok(limits::IDENTITY.check_unshown(identity).map_err(CoreError::InvalidArgument)?)
}

/// Checks the actor and the reason of an operator's change as the room's audited changes do;
/// raises `InvalidArgument` naming which one is wrong.
#[pyfunction]
#[pyo3(signature = (actor, reason=None))]
pub fn check_audit(actor: &str, reason: Option<&str>) -> PyResult<()> {
    Ok(limits::check_audit(actor, reason).map_err(CoreError::InvalidArgument)?)
}
