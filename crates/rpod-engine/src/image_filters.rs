//! The filters of image listings and prunes: `images --filter`, `image prune --filter` and
//! the REST services' `filters`, with podman's keys. Values of one key are alternatives
//! (any may match), except labels and times, which must all hold; different keys must all
//! hold. (`dangling` of a prune says which images it takes; the prune itself reads it.)

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use std::collections::HashSet;

use crate::filter_values::{check_boolean, check_key, is_true, until};
use crate::image::ImageInfo;
pub use crate::volume_filters::FilterUse;
use crate::Result;

const LIST_KEYS: &[&str] = &[
    "reference",
    "dangling",
    "label",
    "label!",
    "before",
    "since",
    "after",
    "until",
    "id",
    "containers",
    "intermediate",
    "readonly",
];
/// Keys whose values are true or false.
const BOOLEAN_KEYS: &[&str] = &["dangling", "containers", "intermediate", "readonly"];
const PRUNE_KEYS: &[&str] = &["label", "label!", "until"];

/// When an image was made (when this store got it, for an image that does not say).
pub fn made_at(record: &crate::image::ImageRecord) -> DateTime<Utc> {
    record.created.unwrap_or(record.added)
}

/// Whether an image name (`localhost/demo:latest`, `docker.io/library/busybox:1`) is what
/// `pattern` names: the whole name, or its last parts (`demo`, `demo:latest`,
/// `library/busybox`), with the tag only when the pattern has one; `*` and `?` match
/// within a part, as podman's (`localhost/*`, `demo:*`, `*:latest`).
pub fn reference_matches(name: &str, pattern: &str) -> bool {
    let repository = |n: &str| -> String {
        match n.rsplit_once(':') {
            // A colon after the last slash is a tag's; one before it, a registry port's.
            Some((repo, tag)) if !tag.contains('/') => repo.to_string(),
            _ => n.to_string(),
        }
    };
    let subject = if repository(pattern) != pattern {
        name.to_string()
    } else {
        repository(name)
    };
    // As many of the name's last parts as the pattern has.
    let parts: Vec<&str> = subject.split('/').collect();
    let wanted = pattern.split('/').count();
    if wanted > parts.len() {
        return false;
    }
    crate::security::path_matches(pattern, &parts[parts.len() - wanted..].join("/"))
}

/// Checked filters, by key; `before=`/`since=` already turned into times.
#[derive(Debug, Default, Clone)]
pub struct ImageFilters {
    by_key: BTreeMap<String, Vec<String>>,
    before: Vec<DateTime<Utc>>,
    since: Vec<DateTime<Utc>>,
    until: Vec<DateTime<Utc>>,
    /// The images containers are made of, for `containers=` (set by the engine).
    in_use: HashSet<String>,
}

impl ImageFilters {
    /// From keys and values; `made` gives the time of an image `before=`/`since=` name.
    pub fn from_pairs(
        pairs: impl IntoIterator<Item = (String, String)>,
        used: FilterUse,
        made: &dyn Fn(&str) -> Result<DateTime<Utc>>,
    ) -> Result<Self> {
        let allowed = match used {
            FilterUse::List => LIST_KEYS,
            FilterUse::Prune => PRUNE_KEYS,
        };
        let mut filters = ImageFilters::default();
        for (key, value) in pairs {
            check_key("image", &key, allowed)?;
            if BOOLEAN_KEYS.contains(&key.as_str()) {
                check_boolean(&key, &value)?;
            }
            match key.as_str() {
                "before" => filters.before.push(made(&value)?),
                // podman's other word for since.
                "since" | "after" => filters.since.push(made(&value)?),
                "until" => filters.until.push(until(&value)?),
                _ => {}
            }
            filters.by_key.entry(key).or_default().push(value);
        }
        Ok(filters)
    }

    /// The `reference=` patterns (a listing shows only the rows of those names).
    pub fn references(&self) -> &[String] {
        self.by_key.get("reference").map_or(&[], Vec::as_slice)
    }

    /// Whether `containers=` needs the images containers are made of.
    pub fn asks_for_containers(&self) -> bool {
        self.by_key.contains_key("containers")
    }

    /// The images containers are made of (their IDs), for `containers=`.
    pub fn set_images_in_use(&mut self, ids: HashSet<String>) {
        self.in_use = ids;
    }

    pub fn matches(&self, info: &ImageInfo) -> bool {
        let made = made_at(&info.record);
        let labels = info.labels();
        self.by_key.iter().all(|(key, values)| match key.as_str() {
            "reference" => values
                .iter()
                .any(|p| info.names.iter().any(|n| reference_matches(n, p))),
            "dangling" => values.iter().any(|v| is_true(v) == info.is_dangling()),
            "intermediate" => values.iter().any(|v| is_true(v) == info.is_intermediate()),
            // No image of rpod's is in a read-only store.
            "readonly" => values.iter().any(|v| !is_true(v)),
            "containers" => {
                let used = self.in_use.contains(&info.record.id);
                values.iter().any(|v| is_true(v) == used)
            }
            "id" => values.iter().any(|v| {
                let prefix = v.trim_start_matches("sha256:");
                !prefix.is_empty() && info.record.id.starts_with(prefix)
            }),
            "label" => values.iter().all(|l| crate::labels::matches(&labels, l)),
            "label!" => values.iter().all(|l| !crate::labels::matches(&labels, l)),
            "before" => self.before.iter().all(|t| made < *t),
            "since" | "after" => self.since.iter().all(|t| made > *t),
            "until" => self.until.iter().all(|t| made < *t),
            _ => false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_match_whole_names_or_their_last_parts() {
        let name = "localhost/demo:latest";
        for pattern in [
            "demo",
            "demo:latest",
            "localhost/demo",
            "localhost/demo:latest",
        ] {
            assert!(reference_matches(name, pattern), "{pattern}");
        }
        for pattern in ["demo:1", "emo", "other", "host/demo"] {
            assert!(!reference_matches(name, pattern), "{pattern}");
        }
        // Wildcards within a part, as podman's.
        for pattern in [
            "dem*",
            "*demo*",
            "localhost/*",
            "*/demo",
            "demo:*",
            "*:latest",
            "d?mo",
            "*",
        ] {
            assert!(reference_matches(name, pattern), "{pattern}");
        }
        for pattern in ["*:1", "other/*", "*/*/demo", "demo*:1", "de*/demo"] {
            assert!(!reference_matches(name, pattern), "{pattern}");
        }
        let hub = "docker.io/library/busybox:1.36";
        assert!(reference_matches(hub, "busybox"));
        assert!(reference_matches(hub, "library/busybox:1.36"));
        // A registry's port is no tag.
        assert!(reference_matches(
            "registry:5000/app:v1",
            "registry:5000/app"
        ));
        assert!(reference_matches("registry:5000/app:v1", "app"));
    }

    fn info(id: &str, names: &[&str], has_children: bool) -> ImageInfo {
        ImageInfo {
            record: crate::image::ImageRecord::bare(id.to_string()),
            names: names.iter().map(|n| n.to_string()).collect(),
            config: Default::default(),
            docker: Default::default(),
            has_children,
        }
    }

    #[test]
    fn podmans_other_list_keys_choose_images() {
        let made = |_: &str| Ok(Utc::now() - chrono::Duration::hours(1));
        let filters = |key: &str, value: &str| {
            ImageFilters::from_pairs(
                [(key.to_string(), value.to_string())],
                FilterUse::List,
                &made,
            )
            .unwrap()
        };
        let named = info("abc123", &["localhost/demo:latest"], false);
        let step = info("def456", &[], true);
        assert!(filters("id", "abc").matches(&named));
        assert!(filters("id", "sha256:abc123").matches(&named));
        assert!(!filters("id", "def").matches(&named));
        assert!(filters("intermediate", "true").matches(&step));
        assert!(!filters("intermediate", "true").matches(&named));
        assert!(filters("intermediate", "false").matches(&named));
        assert!(filters("readonly", "false").matches(&named));
        assert!(!filters("readonly", "true").matches(&named));
        // `after` is `since`; `until` lists what was made before it.
        assert!(filters("after", "demo").matches(&named));
        assert!(!filters("until", "2h").matches(&named));
        assert!(filters("until", "0s").matches(&named));
        // `containers=` by the images the engine says are in use.
        let mut used = filters("containers", "true");
        assert!(used.asks_for_containers());
        assert!(!used.matches(&named));
        used.set_images_in_use(["abc123".to_string()].into());
        assert!(used.matches(&named));
        assert!(!used.matches(&step));
        for (key, bad) in [
            ("containers", "yes"),
            ("intermediate", "x"),
            ("readonly", ""),
        ] {
            let err = ImageFilters::from_pairs(
                [(key.to_string(), bad.to_string())],
                FilterUse::List,
                &made,
            )
            .unwrap_err();
            assert!(err.to_string().contains(&format!("{key}={bad}")), "{err}");
        }
    }

    #[test]
    fn keys_are_checked_for_their_use() {
        let made = |_: &str| Ok(Utc::now());
        let pairs = |list: &[(&str, &str)]| {
            list.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Vec<_>>()
        };
        assert!(
            ImageFilters::from_pairs(pairs(&[("colour", "red")]), FilterUse::List, &made).is_err()
        );
        assert!(
            ImageFilters::from_pairs(pairs(&[("reference", "x")]), FilterUse::Prune, &made)
                .is_err()
        );
        assert!(
            ImageFilters::from_pairs(pairs(&[("dangling", "maybe")]), FilterUse::List, &made)
                .is_err()
        );
        assert!(
            ImageFilters::from_pairs(pairs(&[("until", "soon")]), FilterUse::Prune, &made).is_err()
        );
        let ok = ImageFilters::from_pairs(
            pairs(&[("reference", "a"), ("reference", "b"), ("label!", "x")]),
            FilterUse::List,
            &made,
        )
        .unwrap();
        assert_eq!(ok.references(), ["a", "b"]);
    }
}
