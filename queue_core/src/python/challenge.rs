//! Proof-of-work challenges for Python: a new challenge as ALTCHA's JSON object, and the check
//! of a decoded solution (see `crate::challenge`).

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};

use super::signer::PySigner;
use crate::challenge::{self, Solution, ALGORITHM};
use crate::clock::{Clock, WallClock, MICROS_PER_SECOND};
use crate::errors::CoreError;

fn now_seconds() -> i64 {
    WallClock.now_micros().div_euclid(MICROS_PER_SECOND)
}

/// A new challenge for `room` as ALTCHA's JSON object: `algorithm`, `challenge`, `maxnumber`,
/// `salt` (with its expiry, room and key id) and `signature`. `now` is Unix seconds.
#[pyfunction]
#[pyo3(signature = (signer, room, max_number, now=None))]
pub fn new_challenge<'py>(
    py: Python<'py>,
    signer: &PySigner,
    room: &str,
    max_number: u32,
    now: Option<i64>,
) -> PyResult<Bound<'py, PyDict>> {
    if !crate::room_config::valid_room_id(room) {
        return Err(CoreError::InvalidArgument(format!("invalid room id {room:?}")).into());
    }
    crate::limits::check_challenge_max_number(i128::from(max_number)).map_err(CoreError::InvalidArgument)?;
    if max_number == 0 {
        return Err(CoreError::InvalidArgument("challenge_max_number 0 asks for no challenge".into()).into());
    }
    let made = challenge::create(&signer.inner, room, max_number, now.unwrap_or_else(now_seconds))?;
    let out = PyDict::new(py);
    out.set_item("algorithm", ALGORITHM)?;
    out.set_item("challenge", made.challenge)?;
    out.set_item("maxnumber", made.max_number)?;
    out.set_item("salt", made.salt)?;
    out.set_item("signature", made.signature)?;
    Ok(out)
}

/// Checks a decoded ALTCHA solution (the JSON object of its payload) for `room` at `now` (Unix
/// seconds). Returns the challenge's expiry, until which the caller must remember the solution
/// as used; raises a `ChallengeError` subclass for each kind of failure.
#[pyfunction]
#[pyo3(signature = (signer, solution, room, now=None))]
pub fn verify_challenge(signer: &PySigner, solution: &Bound<'_, PyAny>, room: &str, now: Option<i64>) -> PyResult<i64> {
    let malformed = |m: &str| PyErr::from(CoreError::ChallengeMalformed(m.to_owned()));
    let fields = solution.cast::<PyDict>().map_err(|_| malformed("the solution must be a JSON object"))?;
    let text = |name: &str| -> PyResult<String> {
        let value = fields.get_item(name)?.ok_or_else(|| malformed(&format!("{name} is missing")))?;
        let value = value.cast::<PyString>().map_err(|_| malformed(&format!("{name} must be a string")))?;
        Ok(value.to_str()?.to_owned())
    };
    let (algorithm, challenge, salt, signature) =
        (text("algorithm")?, text("challenge")?, text("salt")?, text("signature")?);
    let number = fields.get_item("number")?.ok_or_else(|| malformed("number is missing"))?;
    if number.is_instance_of::<pyo3::types::PyBool>() {
        return Err(malformed("number must be a whole number"));
    }
    let number: u64 = number.extract().map_err(|_| malformed("number must be a whole number from 0"))?;
    let solution =
        Solution { algorithm: &algorithm, challenge: &challenge, number, salt: &salt, signature: &signature };
    Ok(challenge::verify(&signer.inner, &solution, room, now.unwrap_or_else(now_seconds))?)
}
