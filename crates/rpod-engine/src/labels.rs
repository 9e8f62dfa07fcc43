//! Labels as podman's flags and filters spell them: `KEY=VALUE` words, and `label=` filters
//! that ask for a key (`KEY`) or a key with a value (`KEY=VALUE`).

use std::collections::BTreeMap;

/// `KEY=VALUE` words as a map; a bare `KEY` has an empty value.
pub fn parse_pairs(words: &[String]) -> BTreeMap<String, String> {
    words
        .iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (w.clone(), String::new()),
        })
        .collect()
}

/// Whether `labels` satisfy a `label=` filter's value.
pub fn matches(labels: &BTreeMap<String, String>, filter: &str) -> bool {
    match filter.split_once('=') {
        Some((key, value)) => labels.get(key).is_some_and(|v| v == value),
        None => labels.contains_key(filter),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_and_filters() {
        let labels = parse_pairs(&["team=db".to_string(), "flag".to_string()]);
        assert_eq!(labels["team"], "db");
        assert_eq!(labels["flag"], "");
        assert!(matches(&labels, "team"));
        assert!(matches(&labels, "team=db"));
        assert!(!matches(&labels, "team=web"));
        assert!(matches(&labels, "flag="));
        assert!(!matches(&labels, "other"));
    }
}
