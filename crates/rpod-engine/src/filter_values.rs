//! What the listing and prune filters of several kinds check alike (`image_filters.rs`,
//! `volume_filters.rs`, `container_filters.rs`, pods, networks): known keys, how a key's
//! values combine, `dangling`'s and `until`'s values.

use std::cell::RefCell;
use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::{EngineError, Result};

/// A `name=` pattern compiled, or why it is not a regular expression (the regex crate's
/// reason alone: the filter's key goes in front where it is refused).
type NamePattern = std::result::Result<regex::Regex, String>;

thread_local! {
    /// `name=` patterns compiled once per listing (its check and every object it looks
    /// at), not once per object.
    static NAME_PATTERNS: RefCell<HashMap<String, NamePattern>> = RefCell::new(HashMap::new());
}

/// `use_it` on `pattern` compiled, from this thread's few kept patterns.
fn with_name_pattern<T>(pattern: &str, use_it: impl FnOnce(&NamePattern) -> T) -> T {
    NAME_PATTERNS.with(|patterns| {
        let mut patterns = patterns.borrow_mut();
        // A service's threads see every client's patterns: a few are kept, not all.
        if patterns.len() >= 32 && !patterns.contains_key(pattern) {
            patterns.clear();
        }
        let compiled = patterns.entry(pattern.to_string()).or_insert_with(|| {
            regex::Regex::new(pattern).map_err(|e| {
                // The regex crate's message draws the pattern over several lines: its
                // last line says what is wrong.
                let text = e.to_string();
                let why = text.lines().last().unwrap_or_default();
                why.trim_start_matches("error: ").to_string()
            })
        });
        use_it(compiled)
    })
}

/// Whether a name (a container's, pod's, volume's or network's) matches a `name=` filter:
/// a regular expression found anywhere in the name, as podman's (`name=web` matches
/// `my-web-1`, `name=^web$` only `web`). `check_name_pattern` refuses one that is not.
pub fn name_matches(name: &str, pattern: &str) -> bool {
    with_name_pattern(pattern, |compiled| {
        compiled.as_ref().is_ok_and(|regex| regex.is_match(name))
    })
}

/// The value of a `name=` filter (or of another `key` that takes a name pattern, such as
/// a pod's `ctr-names=`) must be a regular expression.
pub fn check_name_pattern(key: &str, pattern: &str) -> std::result::Result<(), String> {
    with_name_pattern(pattern, |compiled| {
        compiled.as_ref().map(drop).map_err(|why| {
            format!("invalid filter {key}={pattern:?}: not a regular expression: {why}")
        })
    })
}

/// How the values of one filter key combine, as podman and Docker combine them: a label
/// key (`label`, `label!`) passes when every one of its values does, any other key when one
/// does (`name=a --filter name=b` shows both; `label=a --filter label=b` needs both).
pub fn key_passes(key: &str, mut results: impl Iterator<Item = bool>) -> bool {
    if matches!(key, "label" | "label!") {
        results.all(|passed| passed)
    } else {
        results.any(|passed| passed)
    }
}

/// `KEY=VALUE` filters grouped by key, keys in the order first given (a filter without
/// `=` is a key with an empty value).
pub fn group_by_key(filters: &[String]) -> Vec<(&str, Vec<&str>)> {
    let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
    for filter in filters {
        let (key, value) = filter.split_once('=').unwrap_or((filter, ""));
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, values)) => values.push(value),
            None => groups.push((key, vec![value])),
        }
    }
    groups
}

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
    check_boolean("dangling", value)
}

/// A yes-or-no filter's value (`dangling=`, `intermediate=`): true or false (1 or 0).
pub(crate) fn check_boolean(key: &str, value: &str) -> Result<()> {
    if matches!(value, "true" | "false" | "1" | "0") {
        return Ok(());
    }
    Err(EngineError::InvalidArg(format!(
        "invalid {key}={value}: use true or false"
    )))
}

/// A value `check_boolean` let through, read.
pub(crate) fn is_true(value: &str) -> bool {
    matches!(value, "true" | "1")
}

/// `until=`: a time, a date, Unix seconds or a duration back from now.
pub(crate) fn until(value: &str) -> Result<DateTime<Utc>> {
    crate::human::parse_time(value)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| EngineError::InvalidArg(format!("invalid until={value}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_as_regular_expressions() {
        for (pattern, matched) in [
            ("web", true),
            ("^web", false),
            ("web-1$", true),
            ("^my-web-1$", true),
            ("w.b", true),
            ("db|web", true),
            ("^db", false),
        ] {
            assert_eq!(name_matches("my-web-1", pattern), matched, "{pattern}");
        }
        assert!(check_name_pattern("name", "^web-[0-9]+$").is_ok());
        assert_eq!(
            check_name_pattern("name", "(a"),
            Err("invalid filter name=\"(a\": not a regular expression: unclosed group".into())
        );
    }

    #[test]
    fn label_values_must_all_pass_other_keys_one() {
        assert!(key_passes("name", [false, true].into_iter()));
        assert!(!key_passes("name", [false, false].into_iter()));
        assert!(!key_passes("label", [true, false].into_iter()));
        assert!(key_passes("label", [true, true].into_iter()));
        assert!(!key_passes("label!", [true, false].into_iter()));
    }

    #[test]
    fn filters_are_grouped_by_key_in_order() {
        let filters: Vec<String> = ["name=a", "label=x=1", "name=b", "dangling"]
            .iter()
            .map(|f| f.to_string())
            .collect();
        assert_eq!(
            group_by_key(&filters),
            vec![
                ("name", vec!["a", "b"]),
                ("label", vec!["x=1"]),
                ("dangling", vec![""])
            ]
        );
    }
}
