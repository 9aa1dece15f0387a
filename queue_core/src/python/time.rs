//! Datetimes at the Python boundary. Only timezone-aware datetimes are accepted: a naive one is
//! ambiguous (whose 07:00?), and an opening time must never be ambiguous.

use chrono::{DateTime, NaiveDate, Utc};
use pyo3::prelude::*;
use pyo3::types::{PyDateAccess, PyDateTime, PyDelta, PyDeltaAccess, PyString, PyTimeAccess};

use crate::errors::CoreError;

/// Accepts an aware `datetime` or an RFC 3339 string with an offset.
pub fn to_micros(value: &Bound<'_, PyAny>, what: &str) -> PyResult<i64> {
    Ok(read_micros(value, what)?.map_err(CoreError::InvalidArgument)?)
}

/// Like `to_micros`, for a caller that collects mistakes: a value that is not an aware time is
/// `Ok(Err(message))`; `Err` is left to failures of Python itself.
pub fn read_micros(value: &Bound<'_, PyAny>, what: &str) -> PyResult<Result<i64, String>> {
    if let Ok(text) = value.cast::<PyString>() {
        let text = text.to_str()?;
        let parsed = DateTime::parse_from_rfc3339(text)
            .map_err(|e| format!("{what}: {text:?} is not an RFC 3339 time with offset ({e})"));
        return Ok(parsed.map(|t| t.timestamp_micros()));
    }
    let Ok(dt) = value.cast::<PyDateTime>() else {
        return Ok(Err(format!("{what} must be a datetime or an RFC 3339 string")));
    };
    let offset = dt.call_method0("utcoffset")?;
    if offset.is_none() {
        return Ok(Err(format!("{what} must be timezone-aware: a naive datetime is ambiguous")));
    }
    let offset = offset.cast::<PyDelta>()?;
    let offset_micros = (i64::from(offset.get_days()) * 86_400 + i64::from(offset.get_seconds())) * 1_000_000
        + i64::from(offset.get_microseconds());
    let Some(local) = NaiveDate::from_ymd_opt(dt.get_year(), u32::from(dt.get_month()), u32::from(dt.get_day()))
        .and_then(|d| {
            d.and_hms_micro_opt(
                u32::from(dt.get_hour()),
                u32::from(dt.get_minute()),
                u32::from(dt.get_second()),
                dt.get_microsecond(),
            )
        })
    else {
        return Ok(Err(format!("{what} is out of range")));
    };
    Ok(Ok(local.and_utc().timestamp_micros() - offset_micros))
}

pub fn opt_to_micros(value: Option<&Bound<'_, PyAny>>, what: &str) -> PyResult<Option<i64>> {
    value.filter(|v| !v.is_none()).map(|v| to_micros(v, what)).transpose()
}

/// A UTC-aware datetime.
pub fn micros_to_datetime(py: Python<'_>, micros: i64) -> PyResult<Bound<'_, PyAny>> {
    let dt = DateTime::<Utc>::from_timestamp_micros(micros)
        .ok_or_else(|| CoreError::InvalidArgument("time out of range".into()))?;
    Ok(dt.into_pyobject(py)?.into_any())
}

pub fn opt_datetime(py: Python<'_>, micros: Option<i64>) -> PyResult<Option<Bound<'_, PyAny>>> {
    micros.map(|m| micros_to_datetime(py, m)).transpose()
}
