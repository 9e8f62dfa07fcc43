//! Secrets with podman's `file` driver: each one's data in its own file under
//! `<root>/secrets/` (0700 directory, 0600 files), its description beside it; or with its
//! `shell` driver: the data kept by the administrator's own commands (`store`, `lookup`,
//! `delete`, `list`, run by `/bin/sh -c` with `SECRET_ID` set), the description here; or
//! with its `pass` driver: encrypted by GnuPG into a password store. A
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
    /// Encrypted with GnuPG into a password store (podman's `pass` driver, the layout of
    /// `pass`): `<root>/<id>.gpg`, for the key `key`.
    Pass(PassStore),
}

/// Where the pass driver keeps secrets and for whom it encrypts them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassStore {
    /// The password store (default: `$HOME/.password-store`).
    pub root: PathBuf,
    /// The GnuPG keys the secrets are encrypted for, each able to decrypt them (default:
    /// the IDs of the nearest `.gpg-id`, as pass encrypts).
    pub keys: Vec<String>,
    /// GnuPG's home directory (default: GnuPG's own choice).
    pub gpg_home: Option<PathBuf>,
}

impl PassStore {
    /// The options as given: podman's `root`, `key` and `gpghomedir`, paths absolute.
    /// Nothing of the host is looked at (rpod.conf's `[secrets]` is checked so when read).
    fn check(options: &BTreeMap<String, String>) -> Result<()> {
        if let Some(key) = options
            .keys()
            .find(|k| !["root", "key", "gpghomedir"].contains(&k.as_str()))
        {
            return Err(EngineError::InvalidArg(format!(
                "invalid option {key:?} of the pass secret driver: root, key and gpghomedir are its options"
            )));
        }
        for what in ["root", "gpghomedir"] {
            if let Some(path) = options.get(what).filter(|p| !Path::new(p).is_absolute()) {
                return Err(EngineError::InvalidArg(format!(
                    "the pass secret driver's {what} {path} is not absolute"
                )));
            }
        }
        if let Some(keys) = options.get("key") {
            split_keys(keys)?;
        }
        Ok(())
    }

    /// podman's options (`check`), the defaults filled in here, so that a secret keeps the
    /// store it was put in.
    fn new(options: &BTreeMap<String, String>) -> Result<Self> {
        Self::check(options)?;
        let root = match options.get("root") {
            Some(root) => PathBuf::from(root),
            None => {
                let home = std::env::var_os("HOME").filter(|h| !h.is_empty()).ok_or_else(|| {
                    EngineError::InvalidArg(
                        "the pass secret driver needs its root (--driver-opts root=DIR): HOME is not set"
                            .into(),
                    )
                })?;
                PathBuf::from(home).join(".password-store")
            }
        };
        if !root.is_absolute() {
            return Err(EngineError::InvalidArg(format!(
                "the pass secret driver's root {} is not absolute (HOME is relative)",
                root.display()
            )));
        }
        let keys = match options.get("key") {
            Some(keys) => split_keys(keys)?,
            None => nearest_gpg_ids(&root)?.ok_or_else(|| {
                EngineError::InvalidArg(format!(
                    "the pass secret driver needs a key: --driver-opts key=ID, or a .gpg-id in {} or a directory above it",
                    root.display()
                ))
            })?,
        };
        let gpg_home = options.get("gpghomedir").map(PathBuf::from);
        Ok(PassStore {
            root,
            keys,
            gpg_home,
        })
    }

    fn options(&self) -> BTreeMap<String, String> {
        let mut options = BTreeMap::from([
            ("root".to_string(), self.root.display().to_string()),
            ("key".to_string(), self.keys.join("\n")),
        ]);
        if let Some(home) = &self.gpg_home {
            options.insert("gpghomedir".into(), home.display().to_string());
        }
        options
    }

    /// Where a secret's encrypted data lies (IDs are hexadecimal: never a path of their own).
    fn path(&self, id: &str) -> PathBuf {
        self.root.join(format!("{id}.gpg"))
    }

    /// Run gpg (non-interactive) with `args`, `input` on its standard input; its output.
    fn gpg(&self, args: &[&std::ffi::OsStr], input: Option<&[u8]>) -> Result<Vec<u8>> {
        let mut command = std::process::Command::new("gpg");
        if let Some(home) = &self.gpg_home {
            command.arg("--homedir").arg(home);
        }
        command.args(["--batch", "--yes", "--quiet"]).args(args);
        run_driver_program(command, input, "the pass secret driver's gpg")
    }

    fn store(&self, id: &str, data: &[u8]) -> Result<()> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.root)
            .map_err(|e| EngineError::io("creating", &self.root, e))?;
        let path = self.path(id);
        let mut args: Vec<&std::ffi::OsStr> = vec!["--encrypt".as_ref()];
        for key in &self.keys {
            args.push("--recipient".as_ref());
            args.push(key.as_ref());
        }
        args.push("--output".as_ref());
        args.push(path.as_os_str());
        self.gpg(&args, Some(data)).map(drop)
    }

    fn lookup(&self, id: &str) -> Result<Vec<u8>> {
        let path = self.path(id);
        self.gpg(&["--decrypt".as_ref(), path.as_os_str()], None)
    }
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
            "pass" => Ok(Self::Pass(PassStore::new(options)?)),
            other => Err(EngineError::NotSupported(format!(
                "the secret driver {other:?} (file, pass and shell are)"
            ))),
        }
    }

    /// Whether `new` could take the name and options, without looking at the host
    /// (rpod.conf's `[secrets]`, checked when the file is read: the pass driver's store may
    /// come later).
    pub fn check(name: &str, options: &BTreeMap<String, String>) -> Result<()> {
        match name {
            "pass" => PassStore::check(options),
            _ => Self::new(name, options).map(drop),
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Self::File(_) => "file",
            Self::Shell(_) => "shell",
            Self::Pass(_) => "pass",
        }
    }

    fn options(&self) -> BTreeMap<String, String> {
        match self {
            Self::File(None) => BTreeMap::new(),
            Self::File(Some(path)) => {
                BTreeMap::from([("path".to_string(), path.display().to_string())])
            }
            Self::Shell(options) => options.clone(),
            Self::Pass(store) => store.options(),
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
    let script = options.get(command).map(String::as_str).unwrap_or_default();
    let mut shell = std::process::Command::new("/bin/sh");
    shell.arg("-c").arg(script).env("SECRET_ID", id);
    run_driver_program(
        shell,
        input,
        &format!("the shell secret driver's {command} command"),
    )
}

/// Run a driver's program (`what` names it in errors), `input` on its standard input; its
/// standard output (at most one byte more than a secret may have).
fn run_driver_program(
    mut program: std::process::Command,
    input: Option<&[u8]>,
    what: &str,
) -> Result<Vec<u8>> {
    use std::io::Read;
    use std::process::Stdio;
    let failed = |why: String| EngineError::InvalidArg(format!("{what}: {why}"));
    let mut child = program
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
        // The secret's name: the first word bare, or `source=NAME` (podman's two ways).
        let mut parts = text.split(',').peekable();
        let mut name = match parts.peek() {
            Some(first) if !first.contains('=') => parts.next().unwrap_or_default().to_string(),
            _ => String::new(),
        };
        let mut rest = Vec::new();
        for part in parts {
            match part.strip_prefix("source=") {
                Some(_) if !name.is_empty() => {
                    return Err(invalid("the secret is named twice".into()))
                }
                Some(source) => name = source.to_string(),
                None => rest.push(part),
            }
        }
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
        for part in rest {
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
            SecretDriver::Pass(store) => store.store(&record.id, data)?,
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
                check_looked_up(data, "shell", record)
            }
            SecretDriver::Pass(store) => {
                let data = store.lookup(&record.id)?;
                check_looked_up(data, "pass", record)
            }
        }
    }

    /// The secret's data where its driver keeps it.
    fn forget_data(&self, record: &SecretRecord) -> Result<()> {
        match SecretDriver::of(record)? {
            // The store's own data file goes with the description, below.
            SecretDriver::File(None) => Ok(()),
            SecretDriver::File(Some(dir)) => {
                remove_if_there(&self.file_data_path(Some(&dir), &record.id))
            }
            SecretDriver::Shell(options) => {
                run_shell_command(&options, "delete", &record.id, None).map(drop)
            }
            SecretDriver::Pass(store) => remove_if_there(&store.path(&record.id)),
        }
    }

    pub fn remove(&self, record: &SecretRecord) -> Result<()> {
        // The driver's data first: a delete that fails leaves the secret as it was.
        self.forget_data(record)?;
        remove_if_there(&self.meta_path(&record.id))?;
        remove_if_there(&self.data_path(&record.id))
    }
}

/// Remove a file; one already gone is no error.
fn remove_if_there(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(EngineError::io("removing", path, e))
        }
        _ => Ok(()),
    }
}

/// A GnuPG recipient the pass driver may hand to gpg (never read as one of its flags).
/// The pass driver's `key` option: one GnuPG key, or several a line each (as a `.gpg-id`
/// lists them, and as the option is kept for several). None may look like an option of
/// gpg's.
fn split_keys(keys: &str) -> Result<Vec<String>> {
    let split: Vec<String> = keys
        .lines()
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(String::from)
        .collect();
    match split.iter().find(|k| k.starts_with('-')) {
        _ if split.is_empty() => Err(EngineError::InvalidArg(format!(
            "invalid key {keys:?} of the pass secret driver"
        ))),
        Some(bad) => Err(EngineError::InvalidArg(format!(
            "invalid key {bad:?} of the pass secret driver"
        ))),
        None => Ok(split),
    }
}

/// The keys of the `.gpg-id` nearest to `root`: its own, else its parent's and so up (pass
/// keeps one per folder, a folder without one using its parent's; podman looks up the same
/// way). `None` when there is none; one that cannot be read or names no valid key is an
/// error, not a reason to look further up.
fn nearest_gpg_ids(root: &Path) -> Result<Option<Vec<String>>> {
    for dir in root.ancestors() {
        let path = dir.join(".gpg-id");
        match fs::read_to_string(&path) {
            Ok(ids) => {
                return split_keys(&ids)
                    .map(Some)
                    .map_err(|e| EngineError::InvalidArg(format!("{}: {e}", path.display())))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(EngineError::io("reading", &path, e)),
        }
    }
    Ok(None)
}

/// What a driver's lookup gave, when it can be a secret's data.
fn check_looked_up(data: Vec<u8>, driver: &str, record: &SecretRecord) -> Result<Vec<u8>> {
    if data.is_empty() || data.len() > MAX_SECRET_SIZE {
        return Err(EngineError::InvalidArg(format!(
            "the {driver} secret driver's lookup of secret {} gave {} bytes: a secret has between 1 and {MAX_SECRET_SIZE}",
            record.name,
            data.len()
        )));
    }
    Ok(data)
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

    /// A GnuPG home of the test's own with keys without a passphrase; its agent is stopped
    /// when dropped.
    struct TestGpg {
        home: tempfile::TempDir,
    }

    impl TestGpg {
        fn with_key(user: &str) -> TestGpg {
            let gpg = TestGpg {
                home: tempfile::tempdir().unwrap(),
            };
            gpg.add_key(user);
            gpg
        }

        fn add_key(&self, user: &str) {
            let made = std::process::Command::new("gpg")
                .arg("--homedir")
                .arg(self.home.path())
                .args(["--batch", "--passphrase", "", "--quick-gen-key", user])
                .args(["default", "default", "never"])
                .output()
                .expect("gpg (gnupg) is missing: run scripts/install-deps.sh");
            assert!(
                made.status.success(),
                "{}",
                String::from_utf8_lossy(&made.stderr)
            );
        }

        /// The key IDs a file was encrypted for, as gpg lists its packets.
        fn recipients(&self, encrypted: &Path) -> Vec<String> {
            let listed = std::process::Command::new("gpg")
                .arg("--homedir")
                .arg(self.home.path())
                .args(["--batch", "--list-packets"])
                .arg(encrypted)
                .output()
                .unwrap();
            String::from_utf8_lossy(&listed.stdout)
                .lines()
                .filter_map(|l| l.split("keyid ").nth(1))
                .map(|id| id.split_whitespace().next().unwrap_or("").to_string())
                .collect()
        }
    }

    impl Drop for TestGpg {
        fn drop(&mut self) {
            let _ = std::process::Command::new("gpgconf")
                .arg("--homedir")
                .arg(self.home.path())
                .args(["--kill", "gpg-agent"])
                .status();
        }
    }

    #[test]
    fn the_pass_driver_keeps_secrets_encrypted_in_a_password_store() {
        let gpg = TestGpg::with_key("rpod-test@example.org");
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("password-store");
        let home = gpg.home.path().display().to_string();
        let options = BTreeMap::from([
            ("root".to_string(), store.display().to_string()),
            ("gpghomedir".to_string(), home.clone()),
        ]);
        // No key given and no .gpg-id in the store: refused.
        let err = SecretDriver::new("pass", &options).unwrap_err().to_string();
        assert!(err.contains("needs a key"), "{err}");
        // pass's own layout: the key named in the store's .gpg-id.
        fs::create_dir(&store).unwrap();
        fs::write(store.join(".gpg-id"), "rpod-test@example.org\n").unwrap();
        let pass = SecretDriver::new("pass", &options).unwrap();
        let secrets = Secrets::new(dir.path());
        let made = secrets
            .create_with("token", b"s3cret", BTreeMap::new(), false, &pass)
            .unwrap();
        let encrypted = fs::read(store.join(format!("{}.gpg", made.id))).unwrap();
        assert!(!encrypted.windows(6).any(|w| w == b"s3cret"));
        let found = secrets.find("token").unwrap();
        assert_eq!(found.driver, "pass");
        assert_eq!(found.driver_options["key"], "rpod-test@example.org");
        assert_eq!(
            gpg.recipients(&store.join(format!("{}.gpg", made.id)))
                .len(),
            1
        );
        assert_eq!(found.driver_options["gpghomedir"], home);
        assert_eq!(secrets.data(&found).unwrap(), b"s3cret");
        secrets.remove(&found).unwrap();
        assert!(!store.join(format!("{}.gpg", made.id)).exists());
        assert!(secrets.list().unwrap().is_empty());
        // A key GnuPG does not have: gpg's refusal, and no secret.
        let mut unknown = options.clone();
        unknown.insert("key".into(), "nobody@example.org".into());
        let unknown = SecretDriver::new("pass", &unknown).unwrap();
        let err = secrets
            .create_with("lost", b"x", BTreeMap::new(), false, &unknown)
            .unwrap_err()
            .to_string();
        assert!(err.contains("the pass secret driver's gpg"), "{err}");
        assert!(secrets.list().unwrap().is_empty());
        for (key, value) in [
            ("root", "relative/dir"),
            ("gpghomedir", "relative"),
            ("colour", "blue"),
            ("key", "--armor"),
        ] {
            let mut bad = options.clone();
            bad.insert(key.to_string(), value.to_string());
            assert!(SecretDriver::new("pass", &bad).is_err(), "{bad:?}");
        }
    }

    /// As pass: a `.gpg-id` lists several keys a line each, and every one of them can
    /// decrypt; a folder without one uses its parent's.
    #[test]
    fn the_pass_driver_encrypts_for_every_key_of_the_nearest_gpg_id() {
        let gpg = TestGpg::with_key("first@example.org");
        gpg.add_key("second@example.org");
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("password-store");
        let folder = store.join("rpod");
        fs::create_dir_all(&folder).unwrap();
        fs::write(
            store.join(".gpg-id"),
            "first@example.org\n\nsecond@example.org\n",
        )
        .unwrap();
        let options = BTreeMap::from([
            ("root".to_string(), folder.display().to_string()),
            (
                "gpghomedir".to_string(),
                gpg.home.path().display().to_string(),
            ),
        ]);
        let pass = SecretDriver::new("pass", &options).unwrap();
        let secrets = Secrets::new(dir.path());
        let made = secrets
            .create_with("token", b"s3cret", BTreeMap::new(), false, &pass)
            .unwrap();
        let encrypted = folder.join(format!("{}.gpg", made.id));
        assert_eq!(gpg.recipients(&encrypted).len(), 2);
        // The keys are kept with the secret, which reads back with the same driver.
        let found = secrets.find("token").unwrap();
        assert_eq!(
            found.driver_options["key"],
            "first@example.org\nsecond@example.org"
        );
        assert_eq!(secrets.data(&found).unwrap(), b"s3cret");
        // The folder's own .gpg-id wins over its parent's; one naming nothing valid fails.
        fs::write(folder.join(".gpg-id"), "second@example.org\n").unwrap();
        match SecretDriver::new("pass", &options).unwrap() {
            SecretDriver::Pass(store) => assert_eq!(store.keys, ["second@example.org"]),
            other => panic!("{other:?}"),
        }
        fs::write(folder.join(".gpg-id"), "\n--armor\n").unwrap();
        let err = SecretDriver::new("pass", &options).unwrap_err().to_string();
        assert!(err.contains(".gpg-id") && err.contains("--armor"), "{err}");
        fs::write(folder.join(".gpg-id"), "\n").unwrap();
        assert!(SecretDriver::new("pass", &options).is_err());
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
            SecretDriver::new("vault", &BTreeMap::new()),
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
        // The name also as `source=`, anywhere.
        let sourced = SecretUse::parse("target=/etc/x,source=db,mode=0400").unwrap();
        assert_eq!(
            (sourced.name.as_str(), sourced.target.as_str(), sourced.mode),
            ("db", "/etc/x", 0o400)
        );
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
            "db,source=other",
            "source=",
            "type=env",
        ] {
            assert!(SecretUse::parse(bad).is_err(), "{bad}");
        }
    }
}
