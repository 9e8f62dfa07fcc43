//! The filters of volume listings and prunes: `volume ls --filter`, `volume prune
//! --filter` and the REST services' `filters`, with podman's keys. Values of one key are
//! alternatives (any may match), except labels, which must all hold; different keys must
//! all hold.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::filter_values::{check_dangling, check_key, until};
use crate::volumes::VolumeRecord;
use crate::{EngineError, Result};

/// The keys a listing takes; a prune takes `label`, `label!` and `until` only, as podman's.
const LIST_KEYS: &[&str] = &[
    "name", "driver", "label", "label!", "dangling", "until", "opt", "scope",
];
const PRUNE_KEYS: &[&str] = &["label", "label!", "until"];

/// Checked filters, by key.
#[derive(Debug, Default, Clone)]
pub struct VolumeFilters {
    by_key: BTreeMap<String, Vec<String>>,
    /// `until=`, parsed.
    until: Vec<DateTime<Utc>>,
}

/// Whether a listing or a prune asks (the keys each takes differ).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterUse {
    List,
    Prune,
}

impl VolumeFilters {
    /// From `KEY=VALUE` words (the command line's `--filter`).
    pub fn from_words(words: &[String], used: FilterUse) -> Result<Self> {
        let mut pairs = Vec::new();
        for word in words {
            let (key, value) = word.split_once('=').ok_or_else(|| {
                EngineError::InvalidArg(format!("invalid filter {word:?}: use KEY=VALUE"))
            })?;
            pairs.push((key.to_string(), value.to_string()));
        }
        Self::from_pairs(pairs, used)
    }

    /// From keys and values (a service's `filters`).
    pub fn from_pairs(
        pairs: impl IntoIterator<Item = (String, String)>,
        used: FilterUse,
    ) -> Result<Self> {
        let allowed = match used {
            FilterUse::List => LIST_KEYS,
            FilterUse::Prune => PRUNE_KEYS,
        };
        let mut filters = VolumeFilters::default();
        for (key, value) in pairs {
            check_key("volume", &key, allowed)?;
            match key.as_str() {
                "name" => crate::filter_values::check_name_pattern("name", &value)
                    .map_err(EngineError::InvalidArg)?,
                "dangling" => check_dangling(&value)?,
                "until" => filters.until.push(until(&value)?),
                _ => {}
            }
            filters.by_key.entry(key).or_default().push(value);
        }
        Ok(filters)
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// Whether `volume` passes; `in_use` says whether a container uses it (asked only
    /// for `dangling`).
    pub fn matches(&self, volume: &VolumeRecord, in_use: &dyn Fn() -> bool) -> bool {
        self.by_key.iter().all(|(key, values)| {
            let any = |test: &dyn Fn(&str) -> bool| values.iter().any(|v| test(v));
            match key.as_str() {
                "name" => any(&|v| crate::filter_values::name_matches(&volume.name, v)),
                "driver" => any(&|v| volume.driver == v),
                "scope" => any(&|v| v == "local"),
                "label" => values
                    .iter()
                    .all(|v| crate::labels::matches(&volume.labels, v)),
                "label!" => values
                    .iter()
                    .all(|v| !crate::labels::matches(&volume.labels, v)),
                "opt" => any(&|v| crate::labels::matches(&volume.options, v)),
                "dangling" => {
                    let unused = !in_use();
                    any(&|v| matches!(v, "true" | "1") == unused)
                }
                "until" => self.until.iter().any(|t| volume.created < *t),
                _ => false,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn volume(name: &str, labels: &[(&str, &str)], created: &str) -> VolumeRecord {
        VolumeRecord {
            name: name.into(),
            driver: "local".into(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            options: [("o".to_string(), "size=1m".to_string())].into(),
            created: created.parse().unwrap(),
            anonymous: false,
            needs_copy_up: false,
            needs_chown: false,
            uid: 0,
            gid: 0,
        }
    }

    fn filters(words: &[&str], used: FilterUse) -> Result<VolumeFilters> {
        let words: Vec<String> = words.iter().map(|w| w.to_string()).collect();
        VolumeFilters::from_words(&words, used)
    }

    #[test]
    fn keys_combine_as_podman_combines_them() {
        let old = volume(
            "data-old",
            &[("team", "a"), ("tier", "db")],
            "2026-01-01T00:00:00Z",
        );
        let new = volume("data-new", &[("team", "b")], "2026-06-01T00:00:00Z");
        let pass = |words: &[&str], v: &VolumeRecord, used: bool| {
            filters(words, FilterUse::List)
                .unwrap()
                .matches(v, &|| used)
        };
        assert!(pass(&["name=old", "name=new"], &old, false));
        // name= is a regular expression, as podman's.
        assert!(pass(&["name=^data-o"], &old, false) && !pass(&["name=^old"], &old, false));
        assert!(pass(
            &["name=data", "label=team=a", "label=tier"],
            &old,
            false
        ));
        assert!(!pass(&["label=team=a", "label=tier"], &new, false));
        assert!(pass(&["label!=tier"], &new, false) && !pass(&["label!=tier"], &old, false));
        assert!(
            pass(&["until=2026-03-01"], &old, false) && !pass(&["until=2026-03-01"], &new, false)
        );
        assert!(pass(&["dangling=true"], &old, false) && !pass(&["dangling=true"], &old, true));
        assert!(pass(&["dangling=false"], &old, true));
        assert!(pass(
            &["opt=o=size=1m", "scope=local", "driver=local"],
            &old,
            false
        ));
        assert!(!pass(&["driver=other"], &old, false));
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        for (words, used) in [
            (vec!["colour=red"], FilterUse::List),
            (vec!["name"], FilterUse::List),
            (vec!["dangling=maybe"], FilterUse::List),
            (vec!["until=soon"], FilterUse::List),
            (vec!["name=("], FilterUse::List),
            (vec!["name=x"], FilterUse::Prune),
        ] {
            assert!(filters(&words, used).is_err(), "{words:?}");
        }
        assert!(filters(&["label=a", "until=10m"], FilterUse::Prune).is_ok());
    }
}
