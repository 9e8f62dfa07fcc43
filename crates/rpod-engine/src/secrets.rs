//! Secrets with podman's `file` driver: each one's data in its own file under
//! `<root>/secrets/` (0700 directory, 0600 files), its description beside it; or with its
//! `shell` driver: the data kept by the administrator's own commands (`store`, `lookup`,
//! `delete`, `list`, run by `/bin/sh -c` with `SECRET_ID` set), the description here. A
//! container gets a copy made when it is created (mounted read-only at
//! `/run/secrets/NAME`, or put in its environment), so removing or replacing a secret later
//! does not change it.

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
    /// The driver's options (the shell driver's commands).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub driver_options: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    pub created: DateTime<Utc>,
}

/// Where a secret's data is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretDriver {
    /// In files (podman's `file` driver): in rpod's store, or in the directory its `path`
    /// option names.
    File(Option<PathBuf>),
    /// By the administrator's commands (podman's `shell` driver): its options, each of
    /// `list`, `lookup`, `store` and `delete` given.
    Shell(BTreeMap<String, String>),
}

/// The shell driver's commands, all of which it needs.
const SHELL_COMMANDS: [&str; 4] = ["list", "lookup", "store", "delete"];

impl SecretDriver {
    /// A driver by podman's name and options (`--driver`, `--driver-opts`).
    pub fn new(name: &str, options: &BTreeMap<String, String>) -> Result<Self> {
        match name {
            "file" => {
                if let Some(key) = options.keys().find(|k| *k != "path") {
                    return Err(EngineError::InvalidArg(format!(
                        "invalid option {key:?} of the file secret driver: path is its one option"
                    )));
                }
                match options.get("path").map(PathBuf::from) {
                    Some(path) if !path.is_absolute() => Err(EngineError::InvalidArg(format!(
                        "the file secret driver's path {} is not absolute",
                        path.display()
                    ))),
                    path => Ok(Self::File(path)),
                }
            }
            "shell" => {
                if let Some(key) = options
                    .keys()
                    .find(|k| !SHELL_COMMANDS.contains(&k.as_str()))
                {
                    return Err(EngineError::InvalidArg(format!(
                        "invalid option {key:?} of the shell secret driver: list, lookup, store and delete are its commands"
                    )));
                }
                if let Some(missing) = SHELL_COMMANDS
                    .iter()
                    .find(|k| options.get(**k).is_none_or(|c| c.trim().is_empty()))
                {
                    return Err(EngineError::InvalidArg(format!(
                        "the shell secret driver needs its {missing} command (--driver-opts {missing}=COMMAND)"
                    )));
                }
                Ok(Self::Shell(options.clone()))
            }
            other => Err(EngineError::NotSupported(format!(
                "the secret driver {other:?} (file and shell are)"
            ))),
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Self::File(_) => "file",
            Self::Shell(_) => "shell",
        }
    }

    fn options(&self) -> BTreeMap<String, String> {
        match self {
            Self::File(None) => BTreeMap::new(),
            Self::File(Some(path)) => {
                BTreeMap::from([("path".to_string(), path.display().to_string())])
            }
            Self::Shell(options) => options.clone(),
        }
    }

    fn of(record: &SecretRecord) -> Result<Self> {
        Self::new(&record.driver, &record.driver_options)
    }
}

/// Run one of the shell driver's commands for the secret `id`, `input` on its standard
/// input; its standard output (at most one byte more than a secret may have).
fn run_shell_command(
    options: &BTreeMap<String, String>,
    command: &str,
    id: &str,
    input: Option<&[u8]>,
) -> Result<Vec<u8>> {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let script = options.get(command).map(String::as_str).unwrap_or_default();
    let failed = |why: String| {
        EngineError::InvalidArg(format!(
            "the shell secret driver's {command} command: {why}"
        ))
    };
    let mut child = Command::new("/bin/sh")
        .arg("-c")
        .arg(script)
        .env("SECRET_ID", id)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| failed(e.to_string()))?;
    // Written from a thread of its own: a command that writes before it reads all of its
    // input cannot block on a full pipe.
    let feeder = match (input, child.stdin.take()) {
        (Some(data), Some(mut stdin)) => {
            let data = data.to_vec();
            Some(std::thread::spawn(move || stdin.write_all(&data)))
        }
        _ => None,
    };
    // Its standard error read beside (the start kept, the rest drained), so that neither
    // pipe can fill while the other is read.
    let said = child.stderr.take().map(|mut err| {
        std::thread::spawn(move || {
            let mut start = Vec::new();
            let _ = (&mut err).take(4096).read_to_end(&mut start);
            let _ = std::io::copy(&mut err, &mut std::io::sink());
            start
        })
    });
    let mut stdout = Vec::new();
    if let Some(out) = child.stdout.take() {
        out.take(MAX_SECRET_SIZE as u64 + 1)
            .read_to_end(&mut stdout)
            .map_err(|e| failed(e.to_string()))?;
    }
    if stdout.len() > MAX_SECRET_SIZE {
        // More than any secret: it would block on its output, unread.
        let _ = child.kill();
    }
    let status = child.wait().map_err(|e| failed(e.to_string()))?;
    if let Some(feeder) = feeder {
        // A command that did not read its input fails below on its own status.
        let _ = feeder.join();
    }
    let stderr = said.and_then(|s| s.join().ok()).unwrap_or_default();
    if stdout.len() > MAX_SECRET_SIZE {
        return Err(failed(format!(
            "it printed more than a secret may hold ({MAX_SECRET_SIZE} bytes)"
        )));
    }
    if !status.success() {
        return Err(failed(format!(
            "{status}: {}",
            String::from_utf8_lossy(&stderr).trim()
        )));
    }
    Ok(stdout)
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

    /// Where the file driver keeps a secret's data: in the store, or in `dir` (its `path`).
    fn file_data_path(&self, dir: Option<&Path>, id: &str) -> PathBuf {
        match dir {
            Some(dir) => dir.join(format!("{id}.data")),
            None => self.data_path(id),
        }
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

    /// A secret of the file driver.
    pub fn create(
        &self,
        name: &str,
        data: &[u8],
        labels: BTreeMap<String, String>,
        replace: bool,
    ) -> Result<SecretRecord> {
        self.create_with(name, data, labels, replace, &SecretDriver::File(None))
    }

    pub fn create_with(
        &self,
        name: &str,
        data: &[u8],
        labels: BTreeMap<String, String>,
        replace: bool,
        driver: &SecretDriver,
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
            driver: driver.name().into(),
            driver_options: driver.options(),
            labels,
            created: Utc::now(),
        };
        match driver {
            SecretDriver::File(dir) => {
                if let Some(dir) = dir {
                    // The driver's own directory, root's only, made when missing.
                    fs::DirBuilder::new()
                        .recursive(true)
                        .mode(0o700)
                        .create(dir)
                        .map_err(|e| EngineError::io("creating", dir, e))?;
                }
                write_private(&self.file_data_path(dir.as_deref(), &record.id), data)?
            }
            SecretDriver::Shell(options) => {
                run_shell_command(options, "store", &record.id, Some(data))?;
            }
        }
        let meta = serde_json::to_vec(&record)
            .map_err(|e| EngineError::InvalidArg(format!("encoding the secret: {e}")))?;
        if let Err(e) = write_private(&self.meta_path(&record.id), &meta) {
            let _ = self.forget_data(&record);
            return Err(e);
        }
        Ok(record)
    }

    pub fn data(&self, record: &SecretRecord) -> Result<Vec<u8>> {
        match SecretDriver::of(record)? {
            SecretDriver::File(dir) => {
                let path = self.file_data_path(dir.as_deref(), &record.id);
                fs::read(&path).map_err(|e| EngineError::io("reading", &path, e))
            }
            SecretDriver::Shell(options) => {
                let data = run_shell_command(&options, "lookup", &record.id, None)?;
                if data.is_empty() || data.len() > MAX_SECRET_SIZE {
                    return Err(EngineError::InvalidArg(format!(
                        "the shell secret driver's lookup of secret {} gave {} bytes: a secret has between 1 and {MAX_SECRET_SIZE}",
                        record.name,
                        data.len()
                    )));
                }
                Ok(data)
            }
        }
    }

    /// The secret's data where its driver keeps it.
    fn forget_data(&self, record: &SecretRecord) -> Result<()> {
        match SecretDriver::of(record)? {
            // The store's own data file goes with the description, below.
            SecretDriver::File(None) => Ok(()),
            SecretDriver::File(Some(dir)) => {
                let path = self.file_data_path(Some(&dir), &record.id);
                match fs::remove_file(&path) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        Err(EngineError::io("removing", &path, e))
                    }
                    _ => Ok(()),
                }
            }
            SecretDriver::Shell(options) => {
                run_shell_command(&options, "delete", &record.id, None).map(drop)
            }
        }
    }

    pub fn remove(&self, record: &SecretRecord) -> Result<()> {
        // The driver's data first: a delete that fails leaves the secret as it was.
        self.forget_data(record)?;
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

    /// The file driver's `path`: the data there, the description in the store.
    #[test]
    fn the_file_driver_keeps_data_where_its_path_says() {
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = dir.path().join("else/where");
        let options = BTreeMap::from([("path".to_string(), elsewhere.display().to_string())]);
        let driver = SecretDriver::new("file", &options).unwrap();
        let secrets = Secrets::new(dir.path());
        let made = secrets
            .create_with("token", b"s3cret", BTreeMap::new(), false, &driver)
            .unwrap();
        assert_eq!(made.driver_options, options);
        let kept = elsewhere.join(format!("{}.data", made.id));
        assert_eq!(fs::read(&kept).unwrap(), b"s3cret");
        assert!(!secrets.data_path(&made.id).exists());
        assert_eq!(
            secrets.data(&secrets.find("token").unwrap()).unwrap(),
            b"s3cret"
        );
        let mode = fs::metadata(&elsewhere).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        secrets.remove(&made).unwrap();
        assert!(!kept.exists());
        for bad in [("path", "relative/dir"), ("root", "/x")] {
            let options = BTreeMap::from([(bad.0.to_string(), bad.1.to_string())]);
            assert!(SecretDriver::new("file", &options).is_err(), "{bad:?}");
        }
    }

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

    /// The shell driver keeps the data with the commands given (each run with
    /// `SECRET_ID`); the store keeps the description only. A command that fails says so and
    /// leaves nothing; a driver missing a command, or with an option it does not know, is
    /// refused, as podman's.
    #[test]
    fn the_shell_driver_runs_the_commands_given() {
        let dir = tempfile::tempdir().unwrap();
        let kept = dir.path().join("kept");
        fs::create_dir(&kept).unwrap();
        let commands = |store: &str| -> BTreeMap<String, String> {
            let at = kept.display();
            [
                ("list", format!("ls {at}")),
                ("lookup", format!("cat {at}/$SECRET_ID")),
                ("store", store.replace("AT", &at.to_string())),
                ("delete", format!("rm {at}/$SECRET_ID")),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect()
        };
        let shell = SecretDriver::new("shell", &commands("cat > AT/$SECRET_ID")).unwrap();
        let secrets = Secrets::new(dir.path());
        let made = secrets
            .create_with("token", b"s3cret", BTreeMap::new(), false, &shell)
            .unwrap();
        assert_eq!(fs::read(kept.join(&made.id)).unwrap(), b"s3cret");
        assert!(!secrets.data_path(&made.id).exists());
        let found = secrets.find("token").unwrap();
        assert_eq!(found.driver, "shell");
        assert_eq!(secrets.data(&found).unwrap(), b"s3cret");
        // Replaced: the old one deleted where it was kept.
        let replaced = secrets
            .create_with("token", b"new", BTreeMap::new(), true, &shell)
            .unwrap();
        assert!(!kept.join(&made.id).exists());
        secrets.remove(&replaced).unwrap();
        assert!(fs::read_dir(&kept).unwrap().next().is_none());
        assert!(secrets.list().unwrap().is_empty());
        // A store that fails: said, and no secret.
        let failing = SecretDriver::new("shell", &commands("echo full >&2; exit 3")).unwrap();
        let err = secrets
            .create_with("broken", b"x", BTreeMap::new(), false, &failing)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("store command") && err.contains("full"),
            "{err}"
        );
        assert!(secrets.list().unwrap().is_empty());
        // A lookup that prints more than a secret may hold is stopped and refused.
        let mut endless = commands("cat > AT/$SECRET_ID");
        endless.insert("lookup".into(), "yes; echo never >&2".into());
        let endless = SecretDriver::new("shell", &endless).unwrap();
        let made = secrets
            .create_with("endless", b"x", BTreeMap::new(), false, &endless)
            .unwrap();
        let err = secrets.data(&made).unwrap_err().to_string();
        assert!(err.contains("more than a secret may hold"), "{err}");
        secrets.remove(&made).unwrap();
        // A lookup that finds nothing is an error, not an empty secret.
        let made = secrets
            .create_with("gone", b"x", BTreeMap::new(), false, &shell)
            .unwrap();
        fs::remove_file(kept.join(&made.id)).unwrap();
        assert!(secrets.data(&made).is_err());
        let mut partial = commands("true");
        partial.remove("delete");
        let err = SecretDriver::new("shell", &partial)
            .unwrap_err()
            .to_string();
        assert!(err.contains("needs its delete command"), "{err}");
        partial.insert("delete".into(), "true".into());
        partial.insert("colour".into(), "red".into());
        let err = SecretDriver::new("shell", &partial)
            .unwrap_err()
            .to_string();
        assert!(err.contains("invalid option \"colour\""), "{err}");
        assert!(matches!(
            SecretDriver::new("pass", &BTreeMap::new()),
            Err(EngineError::NotSupported(_))
        ));
        // The shell driver's commands are no file driver's options.
        assert!(matches!(
            SecretDriver::new("file", &commands("true")),
            Err(EngineError::InvalidArg(_))
        ));
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
