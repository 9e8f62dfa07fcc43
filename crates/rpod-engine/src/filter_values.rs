//! What the listing and prune filters of several kinds check alike (`image_filters.rs`,
//! `volume_filters.rs`): known keys, `dangling`'s and `until`'s values.

use chrono::{DateTime, Utc};

use crate::{EngineError, Result};

/// `key` must be one of `allowed` (filters of `kind`: image, volume).
pub(crate) fn check_key(kind: &str, key: &str, allowed: &[&str]) -> Result<()> {
    if allowed.contains(&key) {
        return Ok(());
    }
    Err(EngineError::InvalidArg(format!(
        "invalid {kind} filter {key:?}: use {}",
        allowed.join(", ")
    )))
}

/// `dangling=`: true or false (1 or 0).
pub(crate) fn check_dangling(value: &str) -> Result<()> {
    if matches!(value, "true" | "false" | "1" | "0") {
        return Ok(());
    }
    Err(EngineError::InvalidArg(format!(
        "invalid dangling={value}: use true or false"
    )))
}

/// `until=`: a time, a date, Unix seconds or a duration back from now.
pub(crate) fn until(value: &str) -> Result<DateTime<Utc>> {
    crate::human::parse_time(value)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| EngineError::InvalidArg(format!("invalid until={value}: {e}")))
}
