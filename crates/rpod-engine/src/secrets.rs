//! Secrets with podman's `file` driver: each one's data in its own file under
//! `<root>/secrets/` (0700 directory, 0600 files), its description beside it. A container
//! gets a copy made when it is created (mounted read-only at `/run/secrets/NAME`, or put in
//! its environment), so removing or replacing a secret later does not change it.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::names::{random_id, valid_name};
use crate::{EngineError, Result};

/// The largest secret, as podman's limit.
pub const MAX_SECRET_SIZE: usize = 512 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretRecord {
    pub id: String,
    pub name: String,
    pub driver: String,
    pub labels: BTreeMap<String, String>,
    pub created: DateTime<Utc>,
}

/// How a container uses a secret (`--secret NAME[,type=mount|env][,target=][,uid=]...`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretUse {
    pub name: String,
    /// Filled in at create.
    #[serde(default)]
    pub id: String,
    /// An environment variable of this name instead of a file.
    pub env: bool,
    /// The file's path in the container, or the variable's name.
    pub target: String,
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
}

impl SecretUse {
    /// podman's `--secret` syntax.
    pub fn parse(text: &str) -> Result<Self> {
        let invalid =
            |why: String| EngineError::InvalidArg(format!("invalid --secret {text:?}: {why}"));
        let mut parts = text.split(',');
        let name = parts.next().unwrap_or_default().to_string();
        if name.is_empty() {
            return Err(invalid("a secret name is required".into()));
        }
        let mut usage = SecretUse {
            name: name.clone(),
            id: String::new(),
            env: false,
            target: String::new(),
            uid: 0,
            gid: 0,
            mode: 0o444,
        };
        for part in parts {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| invalid(format!("{part:?} is not KEY=VALUE")))?;
            let number = |v: &str| {
                v.parse::<u32>()
                    .map_err(|_| invalid(format!("{key}={v} is not a number")))
            };
            match key {
                "type" => match value {
                    "mount" => usage.env = false,
                    "env" => usage.env = true,
                    other => return Err(invalid(format!("type {other:?}: use mount or env"))),
                },
                "target" => usage.target = value.to_string(),
                "uid" => usage.uid = number(value)?,
                "gid" => usage.gid = number(value)?,
                "mode" => {
                    usage.mode = u32::from_str_radix(value.trim_start_matches("0o"), 8)
                        .map_err(|_| invalid(format!("mode {value:?} is not octal")))?
                }
                other => return Err(invalid(format!("unknown option {other:?}"))),
            }
        }
        if usage.target.is_empty() {
            usage.target = if usage.env {
                name
            } else {
                format!("/run/secrets/{name}")
            };
        } else if !usage.env && !usage.target.starts_with('/') {
            usage.target = format!("/run/secrets/{}", usage.target);
        }
        if !usage.env && usage.target.split('/').any(|c| c == "..") {
            return Err(invalid("the target must not contain ..".into()));
        }
        Ok(usage)
    }
}

/// A `secret ls` filter: `name=` (part of the name) or `id=` (a prefix of the ID).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretFilter {
    Name(String),
    Id(String),
}

impl SecretFilter {
    /// A filter's key and value; another key is refused.
    pub fn new(key: &str, value: &str) -> Result<Self> {
        match key {
            "name" => Ok(Self::Name(value.to_string())),
            "id" => Ok(Self::Id(value.to_string())),
            other => Err(EngineError::InvalidArg(format!(
                "invalid filter {other:?}: use name= or id="
            ))),
        }
    }

    pub fn matches(&self, secret: &SecretRecord) -> bool {
        match self {
            Self::Name(part) => secret.name.contains(part.as_str()),
            Self::Id(prefix) => secret.id.starts_with(prefix.as_str()),
        }
    }
}

/// The secrets of one store.
pub struct Secrets {
    dir: PathBuf,
}

impl Secrets {
    pub fn new(root: &Path) -> Self {
        Secrets {
            dir: root.join("secrets"),
        }
    }

    fn ensure(&self) -> Result<()> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .map_err(|e| EngineError::io("creating", &self.dir, e))
    }

    fn meta_path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    fn data_path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.data"))
    }

    pub fn list(&self) -> Result<Vec<SecretRecord>> {
        let mut out = Vec::new();
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(EngineError::io("reading", &self.dir, e)),
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "json") {
                let text = fs::read(&path).map_err(|e| EngineError::io("reading", &path, e))?;
                let record: SecretRecord = serde_json::from_slice(&text).map_err(|e| {
                    EngineError::InvalidArg(format!("{} is damaged: {e}", path.display()))
                })?;
                out.push(record);
            }
        }
        out.sort_by_key(|a| a.created);
        Ok(out)
    }

    /// By name, ID or unique ID prefix.
    pub fn find(&self, name_or_id: &str) -> Result<SecretRecord> {
        let all = self.list()?;
        if let Some(found) = all
            .iter()
            .find(|s| s.name == name_or_id || s.id == name_or_id)
        {
            return Ok(found.clone());
        }
        let mut prefixed = all.into_iter().filter(|s| s.id.starts_with(name_or_id));
        match (prefixed.next(), prefixed.next()) {
            (Some(one), None) if !name_or_id.is_empty() => Ok(one),
            _ => Err(EngineError::NoSuchSecret(name_or_id.to_string())),
        }
    }

    pub fn create(
        &self,
        name: &str,
        data: &[u8],
        labels: BTreeMap<String, String>,
        replace: bool,
    ) -> Result<SecretRecord> {
        if !valid_name(name) || name.len() > 253 {
            return Err(EngineError::InvalidArg(format!(
                "invalid secret name {name:?}: must match [a-zA-Z0-9][a-zA-Z0-9_.-]*"
            )));
        }
        if data.is_empty() || data.len() > MAX_SECRET_SIZE {
            return Err(EngineError::InvalidArg(format!(
                "secret data must be between 1 and {MAX_SECRET_SIZE} bytes"
            )));
        }
        self.ensure()?;
        if let Ok(existing) = self.find(name) {
            if existing.name == name {
                if !replace {
                    return Err(EngineError::InvalidArg(format!(
                        "secret name {name:?} is already in use"
                    )));
                }
                self.remove(&existing)?;
            }
        }
        let record = SecretRecord {
            id: random_id()[..25].to_string(),
            name: name.to_string(),
            driver: "file".into(),
            labels,
            created: Utc::now(),
        };
        write_private(&self.data_path(&record.id), data)?;
        let meta = serde_json::to_vec(&record)
            .map_err(|e| EngineError::InvalidArg(format!("encoding the secret: {e}")))?;
        write_private(&self.meta_path(&record.id), &meta)?;
        Ok(record)
    }

    pub fn data(&self, record: &SecretRecord) -> Result<Vec<u8>> {
        let path = self.data_path(&record.id);
        fs::read(&path).map_err(|e| EngineError::io("reading", &path, e))
    }

    pub fn remove(&self, record: &SecretRecord) -> Result<()> {
        for path in [self.meta_path(&record.id), self.data_path(&record.id)] {
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(EngineError::io("removing", &path, e)),
            }
        }
        Ok(())
    }
}

/// A new file only root can read, written whole.
pub fn write_private(path: &Path, data: &[u8]) -> Result<()> {
    let _ = fs::remove_file(path);
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| EngineError::io("creating", path, e))?;
    file.write_all(data)
        .and_then(|()| file.sync_all())
        .map_err(|e| EngineError::io("writing", path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn secrets_are_stored_privately_found_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let secrets = Secrets::new(dir.path());
        let made = secrets
            .create("db-pass", b"hunter2", BTreeMap::new(), false)
            .unwrap();
        assert_eq!(secrets.find("db-pass").unwrap(), made);
        assert_eq!(secrets.find(&made.id[..6]).unwrap().name, "db-pass");
        assert_eq!(secrets.data(&made).unwrap(), b"hunter2");
        let mode = fs::metadata(dir.path().join("secrets"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
        let mode = fs::metadata(secrets.data_path(&made.id))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(secrets
            .create("db-pass", b"x", BTreeMap::new(), false)
            .is_err());
        let replaced = secrets
            .create("db-pass", b"new", BTreeMap::new(), true)
            .unwrap();
        assert_ne!(replaced.id, made.id);
        assert_eq!(secrets.list().unwrap().len(), 1);
        for bad in ["", "a/b", "../x"] {
            assert!(
                secrets.create(bad, b"x", BTreeMap::new(), false).is_err(),
                "{bad}"
            );
        }
        assert!(secrets
            .create("empty", b"", BTreeMap::new(), false)
            .is_err());
        secrets.remove(&replaced).unwrap();
        assert!(secrets.find("db-pass").is_err());
    }

    #[test]
    fn uses_parse_as_podmans() {
        let mount = SecretUse::parse("db").unwrap();
        assert_eq!(
            (mount.env, mount.target.as_str(), mount.mode),
            (false, "/run/secrets/db", 0o444)
        );
        let env = SecretUse::parse("db,type=env,target=DB_PASS").unwrap();
        assert_eq!((env.env, env.target.as_str()), (true, "DB_PASS"));
        let owned = SecretUse::parse("db,uid=1000,gid=1000,mode=0400,target=pw").unwrap();
        assert_eq!(
            (owned.uid, owned.mode, owned.target.as_str()),
            (1000, 0o400, "/run/secrets/pw")
        );
        for bad in [
            "",
            "db,type=file",
            "db,uid=x",
            "db,color=red",
            "db,target=/../etc/x",
        ] {
            assert!(SecretUse::parse(bad).is_err(), "{bad}");
        }
    }
}
