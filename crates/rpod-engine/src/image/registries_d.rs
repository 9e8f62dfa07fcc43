//! containers/image's `registries.d` (`containers-registries.d(5)`): where a registry's GPG
//! signatures are kept beside it (its "lookaside" store: a web server or a directory,
//! `BASE/REPOSITORY@sha256=HEX/signature-N`). Every `*.yaml` file of the directory is
//! merged; a scope (`docker:` key) is looked up from the image to its registry, as the
//! signature policy's scopes are, then `default-docker`, then containers/image's own
//! default directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::policy::Named;
use crate::{EngineError, Result};

/// The system's directory (containers-common's).
pub const SYSTEM_DIR: &str = "/etc/containers/registries.d";
/// Where signatures are looked for when no file names a store (root's default).
pub const DEFAULT_LOOKASIDE: &str = "file:///var/lib/containers/sigstore";

#[derive(Debug, Default, Deserialize)]
struct File {
    #[serde(rename = "default-docker")]
    default_docker: Option<Namespace>,
    #[serde(default)]
    docker: BTreeMap<String, Namespace>,
}

#[derive(Debug, Default, Clone, Deserialize)]
struct Namespace {
    lookaside: Option<String>,
    /// Where signatures are written, when not to `lookaside` itself.
    #[serde(rename = "lookaside-staging")]
    lookaside_staging: Option<String>,
    /// The older name of `lookaside`.
    sigstore: Option<String>,
    /// The older name of `lookaside-staging`.
    #[serde(rename = "sigstore-staging")]
    sigstore_staging: Option<String>,
}

impl Namespace {
    fn read_store(&self) -> Option<&str> {
        self.lookaside
            .as_deref()
            .or(self.sigstore.as_deref())
            .filter(|s| !s.is_empty())
    }

    fn write_store(&self) -> Option<&str> {
        self.lookaside_staging
            .as_deref()
            .or(self.sigstore_staging.as_deref())
            .filter(|s| !s.is_empty())
            .or_else(|| self.read_store())
    }
}

/// The merged configuration of a registries.d directory.
#[derive(Debug, Default)]
pub struct Lookaside {
    default_docker: Option<Namespace>,
    docker: BTreeMap<String, Namespace>,
}

/// The directory: `explicit`, else `$HOME/.config/containers/registries.d` when it exists,
/// else the system's.
pub fn dir(explicit: Option<&Path>) -> PathBuf {
    crate::config::containers_path(explicit, ".config/containers/registries.d", SYSTEM_DIR)
}

impl Lookaside {
    /// Read every `*.yaml` file of `dir` (none when it does not exist). A scope (or
    /// `default-docker`) given by two files is an error, as in containers/image.
    pub fn load(dir: &Path) -> Result<Lookaside> {
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Lookaside::default()),
            Err(e) => return Err(EngineError::io("reading", dir, e)),
        };
        let mut names: Vec<PathBuf> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
            .collect();
        names.sort();
        let mut merged = Lookaside::default();
        for path in names {
            let text =
                std::fs::read_to_string(&path).map_err(|e| EngineError::io("reading", &path, e))?;
            merged.add(&text).map_err(|e| {
                EngineError::InvalidArg(format!(
                    "signature storage configuration {}: {e}",
                    path.display()
                ))
            })?;
        }
        Ok(merged)
    }

    fn add(&mut self, text: &str) -> std::result::Result<(), String> {
        let file: File = if text.trim().is_empty() {
            File::default()
        } else {
            serde_norway::from_str(text).map_err(|e| e.to_string())?
        };
        if let Some(default) = file.default_docker {
            if self.default_docker.is_some() {
                return Err("\"default-docker\" is defined in another file too".into());
            }
            self.default_docker = Some(default);
        }
        for (scope, namespace) in file.docker {
            if self.docker.contains_key(&scope) {
                return Err(format!(
                    "the \"docker\" scope {scope:?} is defined in another file too"
                ));
            }
            self.docker.insert(scope, namespace);
        }
        Ok(())
    }

    /// The store a scope names itself (`default` for `default-docker`), for listings.
    pub fn store_of_scope(&self, scope: &str) -> Option<&str> {
        match scope {
            "default" => self.default_docker.as_ref()?.read_store(),
            _ => self.docker.get(scope)?.read_store(),
        }
    }

    /// The store of `image`'s signatures: its most specific scope that names one, else
    /// `default-docker`'s, else the default directory; with the repository's path added.
    pub fn base_for(&self, image: &Named) -> String {
        self.base(image, Namespace::read_store)
    }

    /// Where a signature of `image` is written (a push's `--sign-by`): the staging store
    /// of the scope that names a store, else its store, as `base_for` finds them.
    pub fn write_base_for(&self, image: &Named) -> String {
        self.base(image, Namespace::write_store)
    }

    fn base(&self, image: &Named, store: fn(&Namespace) -> Option<&str>) -> String {
        let mut scopes = vec![image.scope()];
        scopes.extend(image.namespaces());
        let top = scopes
            .iter()
            .filter_map(|scope| self.docker.get(scope))
            .find_map(store)
            .or_else(|| self.default_docker.as_ref().and_then(store))
            .unwrap_or(DEFAULT_LOOKASIDE);
        let path = image.name.split_once('/').map_or("", |(_, path)| path);
        format!("{}/{path}", top.trim_end_matches('/'))
    }
}

/// Where signature `index` (from 1) of the manifest `digest` is, below `base`.
pub fn signature_url(base: &str, digest: &str, index: usize) -> String {
    format!("{base}@{}/signature-{index}", digest.replacen(':', "=", 1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::reference::Reference;

    fn named(text: &str) -> Named {
        Named::pulled(&Reference::parse(text).unwrap(), "docker.io")
    }

    #[test]
    fn the_most_specific_scope_names_the_store() {
        let mut config = Lookaside::default();
        config
            .add("docker:\n  r.io:\n    lookaside: https://sigs.r.io/store/\n  r.io/team/app:\n    sigstore: file:///srv/app\n")
            .unwrap();
        config
            .add("default-docker:\n  lookaside: https://default.io\n")
            .unwrap();
        assert_eq!(
            config.base_for(&named("r.io/team/app:1")),
            "file:///srv/app/team/app"
        );
        assert_eq!(
            config.base_for(&named("r.io/other:1")),
            "https://sigs.r.io/store/other"
        );
        assert_eq!(
            config.base_for(&named("busybox")),
            "https://default.io/library/busybox"
        );
        config
            .add("docker:\n  w.io:\n    lookaside: https://w.io/s\n    lookaside-staging: file:///stage\n")
            .unwrap();
        assert_eq!(config.write_base_for(&named("w.io/a")), "file:///stage/a");
        assert_eq!(config.base_for(&named("w.io/a")), "https://w.io/s/a");
        assert_eq!(
            config.write_base_for(&named("r.io/b")),
            "https://sigs.r.io/store/b"
        );
        assert_eq!(
            Lookaside::default().base_for(&named("q.io/a/b")),
            "file:///var/lib/containers/sigstore/a/b"
        );
        let digest = "sha256:abc";
        assert_eq!(
            signature_url("file:///srv/app/team/app", digest, 2),
            "file:///srv/app/team/app@sha256=abc/signature-2"
        );
        let err = config
            .add("docker:\n  r.io:\n    lookaside: x\n")
            .unwrap_err();
        assert!(err.contains("another file"), "{err}");
        assert!(config.add("default-docker:\n  lookaside: y\n").is_err());
        assert!(config.add("docker: [").is_err());
    }

    #[test]
    fn a_directory_merges_its_yaml_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("a.yaml"),
            "docker:\n  a.io:\n    lookaside: file:///a\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("b.yaml"),
            "docker:\n  b.io:\n    lookaside: file:///b\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("c.txt"), "not: [yaml").unwrap();
        let config = Lookaside::load(dir.path()).unwrap();
        assert_eq!(config.base_for(&named("b.io/x")), "file:///b/x");
        assert!(Lookaside::load(&dir.path().join("missing")).is_ok());
    }
}
