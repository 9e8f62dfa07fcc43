//! containers/image's `registries.conf` (version 2, `containers-registries.conf(5)`), the
//! file podman's users configure registries in: the registries short names are searched
//! in, short-name aliases, and per registry (or namespace, repository, `*.domain`) whether
//! it is insecure or blocked, where it really is (`location`) and its mirrors. The file is
//! `$CONTAINERS_REGISTRIES_CONF`, else rpod.conf's `[registries] conf`, else
//! `$HOME/.config/containers/registries.conf` when it exists, else
//! `/etc/containers/registries.conf`; the `*.conf` files of the directory beside it named
//! `FILE.d` are read after it, in name order, each overriding what it sets.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::{EngineError, Result};

pub const SYSTEM_FILE: &str = "/etc/containers/registries.conf";

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct File {
    unqualified_search_registries: Option<Vec<String>>,
    #[serde(default)]
    registry: Vec<RegistryTable>,
    #[serde(default)]
    aliases: BTreeMap<String, String>,
    short_name_mode: Option<String>,
    credential_helpers: Option<Vec<String>>,
    /// Version 1's tables: refused with a clear message.
    registries: Option<toml::Value>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RegistryTable {
    prefix: Option<String>,
    location: Option<String>,
    insecure: Option<bool>,
    blocked: Option<bool>,
    #[serde(default)]
    mirror: Vec<MirrorTable>,
    mirror_by_digest_only: Option<bool>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct MirrorTable {
    location: String,
    insecure: Option<bool>,
    pull_from_mirror: Option<String>,
}

/// One `[[registry]]`: the names it is for (`prefix`) and what holds for them.
#[derive(Debug, Clone, PartialEq)]
pub struct Registry {
    pub prefix: String,
    pub location: String,
    pub insecure: bool,
    pub blocked: bool,
    pub mirrors: Vec<Mirror>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Mirror {
    pub location: String,
    pub insecure: bool,
    /// Used for pulls by digest only (`pull-from-mirror = "digest-only"`, or the
    /// registry's `mirror-by-digest-only`), by tag only, or for all.
    pub for_digests: bool,
    pub for_tags: bool,
}

/// The merged configuration.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct RegistriesConf {
    search: Option<Vec<String>>,
    registries: Vec<Registry>,
    aliases: BTreeMap<String, String>,
}

/// Where a pull may fetch an image from: a name (`host/path`) and whether its host is
/// insecure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub name: String,
    pub insecure: bool,
}

/// The file: `explicit`, else the user's when it exists, else the system's.
pub fn path(explicit: Option<&Path>) -> PathBuf {
    let from_env = std::env::var_os("CONTAINERS_REGISTRIES_CONF")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    match from_env {
        Some(path) => path,
        None => crate::config::containers_path(
            explicit,
            ".config/containers/registries.conf",
            SYSTEM_FILE,
        ),
    }
}

impl RegistriesConf {
    /// The file `path` finds with its drop-ins; none of them is an empty configuration.
    pub fn load(explicit: Option<&Path>) -> Result<RegistriesConf> {
        let file = path(explicit);
        let mut conf = RegistriesConf::default();
        conf.merge_file(&file)?;
        let drop_ins = PathBuf::from(format!("{}.d", file.display()));
        if let Ok(entries) = std::fs::read_dir(&drop_ins) {
            let mut names: Vec<PathBuf> = entries
                .filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "conf"))
                .collect();
            names.sort();
            for name in names {
                conf.merge_file(&name)?;
            }
        }
        Ok(conf)
    }

    fn merge_file(&mut self, file: &Path) -> Result<()> {
        let text = match std::fs::read_to_string(file) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(EngineError::io("reading", file, e)),
        };
        self.merge(&text).map_err(|e| {
            EngineError::InvalidArg(format!("registries configuration {}: {e}", file.display()))
        })
    }

    /// Add a file's settings over those read before it.
    pub fn merge(&mut self, text: &str) -> std::result::Result<(), String> {
        let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
        if file.registries.is_some() {
            return Err("the version 1 format ([registries.search] and the like) is not supported: write version 2's unqualified-search-registries and [[registry]] tables".into());
        }
        if let Some(mode) = file.short_name_mode.as_deref() {
            if !matches!(mode, "enforcing" | "permissive" | "disabled") {
                return Err(format!(
                    "short-name-mode {mode:?} is not enforcing, permissive or disabled"
                ));
            }
        }
        let _ = file.credential_helpers;
        if let Some(search) = file.unqualified_search_registries {
            self.search = Some(search);
        }
        for (short, target) in file.aliases {
            if crate::image::reference::Reference::parse(&target)
                .map_or(true, |r| r.domain.is_none())
            {
                return Err(format!(
                    "alias {short:?}: {target:?} is not a fully qualified name"
                ));
            }
            self.aliases.insert(short, target);
        }
        for table in file.registry {
            let location = table.location.clone().unwrap_or_default();
            let prefix = table.prefix.clone().unwrap_or_else(|| location.clone());
            if prefix.is_empty() {
                return Err("a [[registry]] needs a location or a prefix".into());
            }
            let wildcard_ok = match prefix.strip_prefix("*.") {
                Some(domain) => !domain.is_empty() && !domain.contains(['*', '/']),
                None => !prefix.contains('*'),
            };
            if !wildcard_ok {
                return Err(format!(
                    "prefix {prefix:?}: a wildcard is only `*.` before a domain"
                ));
            }
            if prefix.starts_with("*.") && !location.is_empty() {
                return Err(format!(
                    "prefix {prefix:?}: a wildcard prefix takes no location"
                ));
            }
            let by_digest_only = table.mirror_by_digest_only.unwrap_or(false);
            let mut mirrors = Vec::new();
            for mirror in &table.mirror {
                let (for_digests, for_tags) = match mirror.pull_from_mirror.as_deref() {
                    None | Some("") | Some("all") => (true, !by_digest_only),
                    Some("digest-only") => (true, false),
                    Some("tag-only") => (false, true),
                    Some(other) => {
                        return Err(format!(
                            "pull-from-mirror {other:?} is not all, digest-only or tag-only"
                        ))
                    }
                };
                mirrors.push(Mirror {
                    location: mirror.location.clone(),
                    insecure: mirror.insecure.unwrap_or(false),
                    for_digests,
                    for_tags,
                });
            }
            let entry = Registry {
                location: if location.is_empty() {
                    prefix.clone()
                } else {
                    location
                },
                prefix,
                insecure: table.insecure.unwrap_or(false),
                blocked: table.blocked.unwrap_or(false),
                mirrors,
            };
            // A later file's table for the same prefix replaces the earlier one.
            self.registries.retain(|r| r.prefix != entry.prefix);
            self.registries.push(entry);
        }
        Ok(())
    }

    /// The tables as podman's `info` shows them (`registries`, by prefix).
    pub fn info(&self) -> serde_json::Map<String, serde_json::Value> {
        self.registries
            .iter()
            .map(|r| {
                let mirrors: Vec<serde_json::Value> = r
                    .mirrors
                    .iter()
                    .map(|m| {
                        serde_json::json!({
                            "Location": m.location,
                            "Insecure": m.insecure,
                            "PullFromMirror": match (m.for_digests, m.for_tags) {
                                (true, false) => "digest-only",
                                (false, true) => "tag-only",
                                _ => "all",
                            },
                        })
                    })
                    .collect();
                (
                    r.prefix.clone(),
                    serde_json::json!({
                        "Prefix": r.prefix,
                        "Location": r.location,
                        "Insecure": r.insecure,
                        "Mirrors": mirrors,
                        "Blocked": r.blocked,
                    }),
                )
            })
            .collect()
    }

    /// The registries short names are searched in, when the files say.
    pub fn search(&self) -> Option<&[String]> {
        self.search.as_deref()
    }

    /// The fully qualified name a short name is an alias of (`busybox` without a tag).
    pub fn alias(&self, short: &str) -> Option<&str> {
        self.aliases.get(short).map(String::as_str)
    }

    /// The `[[registry]]` for `name` (`host[:port]/path`): the longest prefix it is under,
    /// a name prefix before any wildcard.
    pub fn registry_for(&self, name: &str) -> Option<&Registry> {
        let host = name.split('/').next().unwrap_or(name);
        let host_without_port = host.split(':').next().unwrap_or(host);
        let under = |prefix: &str| {
            name == prefix
                || name
                    .strip_prefix(prefix)
                    .is_some_and(|rest| rest.starts_with(['/', ':', '@']))
        };
        let named = self
            .registries
            .iter()
            .filter(|r| !r.prefix.starts_with("*.") && under(&r.prefix))
            .max_by_key(|r| r.prefix.len());
        named.or_else(|| {
            self.registries
                .iter()
                .filter(|r| {
                    r.prefix
                        .strip_prefix('*')
                        .is_some_and(|domain| host_without_port.ends_with(domain))
                })
                .max_by_key(|r| r.prefix.len())
        })
    }

    /// Refuse a name under a blocked registry.
    pub fn check_not_blocked(&self, name: &str) -> Result<()> {
        match self.registry_for(name) {
            Some(registry) if registry.blocked => Err(EngineError::InvalidArg(format!(
                "registry {} is blocked in registries.conf (its [[registry]] {:?})",
                name.split('/').next().unwrap_or(name),
                registry.prefix
            ))),
            _ => Ok(()),
        }
    }

    /// Whether the registry `host` is insecure (its own table, or a wildcard's).
    pub fn is_insecure(&self, host: &str) -> bool {
        self.registry_for(host).is_some_and(|r| r.insecure)
    }

    /// Where a pull of `name` (`host/path`) fetches from, in order: the mirrors that serve
    /// such a pull (`by_digest`), then the registry's location; the prefix rewritten to
    /// each. Without a table, the name itself.
    pub fn pull_sources(&self, name: &str, by_digest: bool) -> Vec<Source> {
        let Some(registry) = self.registry_for(name) else {
            return vec![Source {
                name: name.to_string(),
                insecure: false,
            }];
        };
        let rest = if registry.prefix.starts_with("*.") {
            None
        } else {
            name.strip_prefix(registry.prefix.as_str())
        };
        let at = |location: &str| match rest {
            Some(rest) => format!("{location}{rest}"),
            None => name.to_string(),
        };
        let mut sources: Vec<Source> = registry
            .mirrors
            .iter()
            .filter(|m| if by_digest { m.for_digests } else { m.for_tags })
            .map(|m| Source {
                name: at(&m.location),
                insecure: m.insecure,
            })
            .collect();
        sources.push(Source {
            name: at(&registry.location),
            insecure: registry.insecure,
        });
        sources
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conf(text: &str) -> RegistriesConf {
        let mut conf = RegistriesConf::default();
        conf.merge(text).unwrap();
        conf
    }

    #[test]
    fn registries_are_found_by_their_longest_prefix() {
        let conf = conf(
            r#"
unqualified-search-registries = ["r.io", "docker.io"]
[[registry]]
location = "r.io"
insecure = true
[[registry]]
prefix = "r.io/team"
location = "internal.lan:5000/r-team"
[[registry.mirror]]
location = "mirror.lan/team"
pull-from-mirror = "digest-only"
[[registry]]
prefix = "*.bad.example"
blocked = true
[aliases]
"tool" = "quay.io/team/tool"
"#,
        );
        assert_eq!(conf.search().unwrap(), ["r.io", "docker.io"]);
        assert_eq!(conf.alias("tool"), Some("quay.io/team/tool"));
        assert!(conf.is_insecure("r.io"));
        assert!(!conf.is_insecure("q.io"));
        assert_eq!(
            conf.registry_for("r.io/team/app").unwrap().prefix,
            "r.io/team"
        );
        assert_eq!(conf.registry_for("r.io/teamx/app").unwrap().prefix, "r.io");
        assert!(conf.check_not_blocked("x.bad.example/a").is_err());
        assert!(conf.check_not_blocked("bad.example.org/a").is_ok());
        let by_tag = conf.pull_sources("r.io/team/app", false);
        assert_eq!(
            by_tag,
            [Source {
                name: "internal.lan:5000/r-team/app".into(),
                insecure: false
            }]
        );
        let by_digest = conf.pull_sources("r.io/team/app", true);
        assert_eq!(by_digest[0].name, "mirror.lan/team/app");
        assert_eq!(by_digest[1].name, "internal.lan:5000/r-team/app");
        assert_eq!(conf.pull_sources("q.io/a", false)[0].name, "q.io/a");
    }

    #[test]
    fn drop_ins_override_and_bad_files_are_refused() {
        let mut merged = conf("unqualified-search-registries = [\"a.io\"]\n[[registry]]\nlocation = \"a.io\"\nblocked = true\n");
        merged
            .merge(
                "unqualified-search-registries = [\"b.io\"]\n[[registry]]\nlocation = \"a.io\"\n",
            )
            .unwrap();
        assert_eq!(merged.search().unwrap(), ["b.io"]);
        assert!(merged.check_not_blocked("a.io/x").is_ok());
        for bad in [
            "[registries.search]\nregistries = [\"a.io\"]\n",
            "short-name-mode = \"sometimes\"\n",
            "[aliases]\n\"x\" = \"x\"\n",
            "[[registry]]\ninsecure = true\n",
            "[[registry]]\nprefix = \"a*.io\"\n",
            "[[registry]]\nlocation = \"a.io\"\n[[registry.mirror]]\nlocation = \"m.io\"\npull-from-mirror = \"never\"\n",
            "unqualified-search-registries = \"a.io\"\n",
        ] {
            assert!(RegistriesConf::default().merge(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_file_and_its_drop_ins_are_read_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("registries.conf");
        std::fs::write(&file, "unqualified-search-registries = [\"a.io\"]\n").unwrap();
        let drop_ins = dir.path().join("registries.conf.d");
        std::fs::create_dir(&drop_ins).unwrap();
        std::fs::write(
            drop_ins.join("10-b.conf"),
            "unqualified-search-registries = [\"b.io\"]\n",
        )
        .unwrap();
        std::fs::write(
            drop_ins.join("20-c.conf"),
            "unqualified-search-registries = [\"c.io\"]\n",
        )
        .unwrap();
        std::fs::write(drop_ins.join("30-d.txt"), "not toml [").unwrap();
        let conf = RegistriesConf::load(Some(&file)).unwrap();
        assert_eq!(conf.search().unwrap(), ["c.io"]);
        let missing = RegistriesConf::load(Some(&dir.path().join("none.conf"))).unwrap();
        assert_eq!(missing, RegistriesConf::default());
    }
}
