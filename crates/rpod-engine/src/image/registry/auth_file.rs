//! Saved registry credentials, in the `auth.json` format podman and docker share:
//! `{"auths": {"HOST": {"auth": base64("USER:PASSWORD")}}}`. Other keys in the file are kept
//! as they are when rpod writes it.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde_json::{Map, Value};

use crate::{EngineError, Result};

/// A user name and password for a registry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never a password in a log line.
        write!(f, "Credentials({}, ***)", self.username)
    }
}

impl Credentials {
    /// From `USER:PASSWORD` (`--creds`); a missing password is an error, not a prompt.
    pub fn parse(text: &str) -> Result<Credentials> {
        match text.split_once(':') {
            Some((user, password)) if !user.is_empty() => Ok(Credentials {
                username: user.to_string(),
                password: password.to_string(),
            }),
            _ => Err(EngineError::InvalidArg(
                "credentials must be given as USERNAME:PASSWORD".into(),
            )),
        }
    }

    /// The value of an `Authorization: Basic` header.
    pub fn basic_header(&self) -> String {
        format!("Basic {}", self.encoded())
    }

    fn encoded(&self) -> String {
        base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", self.username, self.password))
    }

    fn decode(text: &str) -> Option<Credentials> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .ok()?;
        let text = String::from_utf8(bytes).ok()?;
        Credentials::parse(&text).ok()
    }
}

/// Where credentials are saved when no `--authfile` is given: `REGISTRY_AUTH_FILE`, else
/// `$XDG_RUNTIME_DIR/containers/auth.json`, else `/run/containers/UID/auth.json` (podman's
/// places).
pub fn default_path() -> PathBuf {
    if let Some(path) = std::env::var_os("REGISTRY_AUTH_FILE").filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR").filter(|p| !p.is_empty()) {
        return Path::new(&dir).join("containers/auth.json");
    }
    PathBuf::from(format!(
        "/run/containers/{}/auth.json",
        rustix::process::getuid().as_raw()
    ))
}

/// Every file credentials are looked up in, in order (podman's): `primary` (the
/// `--authfile`, or `default_path()`), then `$XDG_CONFIG_HOME/containers/auth.json` (or
/// `~/.config/containers/auth.json`), then docker's `$DOCKER_CONFIG/config.json` (or
/// `~/.docker/config.json`). Logins are saved in `primary` only.
pub fn search_paths(primary: &Path) -> Vec<PathBuf> {
    search_paths_with(primary, &|name| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    })
}

/// `search_paths` with the environment read through `var`.
fn search_paths_with(primary: &Path, var: &dyn Fn(&str) -> Option<PathBuf>) -> Vec<PathBuf> {
    let home = var("HOME");
    let config_home = var("XDG_CONFIG_HOME").or_else(|| home.as_ref().map(|h| h.join(".config")));
    let docker = var("DOCKER_CONFIG").or_else(|| home.as_ref().map(|h| h.join(".docker")));
    let mut paths = vec![primary.to_path_buf()];
    for path in [
        config_home.map(|d| d.join("containers/auth.json")),
        docker.map(|d| d.join("config.json")),
    ]
    .into_iter()
    .flatten()
    {
        if !paths.contains(&path) {
            paths.push(path);
        }
    }
    paths
}

/// The credentials for `repository` on `registry` from the files of `search_paths(primary)`:
/// in each file in turn, the credential helper its `credHelpers` names for the registry, else
/// a saved entry, else the helper its `credsStore` names (docker's store for every registry).
pub fn find_credentials(
    primary: &Path,
    registry: &str,
    repository: &str,
) -> Result<Option<Credentials>> {
    find_in(&search_paths(primary), registry, repository)
}

fn find_in(paths: &[PathBuf], registry: &str, repository: &str) -> Result<Option<Credentials>> {
    for path in paths {
        let file = AuthFile::open(path)?;
        let found = if let Some(helper) = file.cred_helper(registry) {
            super::cred_helper::get(helper, registry)?
        } else if let Some(saved) = file.lookup(registry, repository) {
            Some(saved)
        } else if let Some(store) = file.creds_store() {
            super::cred_helper::get(store, &docker_server_key(registry))?
        } else {
            None
        };
        if found.is_some() {
            return Ok(found);
        }
    }
    Ok(None)
}

/// The server name docker's own credential store keeps a registry under.
fn docker_server_key(registry: &str) -> String {
    if registry == super::super::reference::DEFAULT_DOMAIN {
        "https://index.docker.io/v1/".into()
    } else {
        registry.to_string()
    }
}

/// The keys an entry for `registry` may be saved under: the host itself, as a URL, or (for
/// Docker Hub) docker's own key.
fn keys_for(registry: &str) -> Vec<String> {
    let mut keys = vec![
        registry.to_string(),
        format!("https://{registry}"),
        format!("http://{registry}"),
    ];
    if registry == super::super::reference::DEFAULT_DOMAIN {
        keys.push("https://index.docker.io/v1/".into());
        keys.push("index.docker.io".into());
        keys.push("registry-1.docker.io".into());
    }
    keys
}

/// An `auth.json` read into memory.
pub struct AuthFile {
    path: PathBuf,
    document: Map<String, Value>,
}

impl AuthFile {
    /// Read the file; a missing file is an empty one.
    pub fn open(path: &Path) -> Result<AuthFile> {
        let document = match fs::read(path) {
            Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Map::new(),
            Ok(bytes) => match serde_json::from_slice::<Value>(&bytes) {
                Ok(Value::Object(map)) => map,
                Ok(_) | Err(_) => {
                    return Err(EngineError::InvalidArg(format!(
                        "{}: not a credentials file (a JSON object with \"auths\")",
                        path.display()
                    )))
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Map::new(),
            Err(e) => return Err(EngineError::io("reading", path, e)),
        };
        Ok(AuthFile {
            path: path.to_path_buf(),
            document,
        })
    }

    fn auths(&self) -> Option<&Map<String, Value>> {
        self.document.get("auths").and_then(Value::as_object)
    }

    /// The credentials saved for `registry` (a host, `host:port`), also under a key that
    /// names a repository below it (`host/namespace`), as podman allows; the longest
    /// matching key for `repository` wins.
    pub fn lookup(&self, registry: &str, repository: &str) -> Option<Credentials> {
        let auths = self.auths()?;
        let full = format!("{registry}/{repository}");
        let mut scoped: Vec<(&String, &Value)> = auths
            .iter()
            .filter(|(key, _)| {
                key.starts_with(&format!("{registry}/"))
                    && (full == **key || full.starts_with(&format!("{key}/")))
            })
            .collect();
        scoped.sort_by_key(|(key, _)| std::cmp::Reverse(key.len()));
        let plain = keys_for(registry)
            .into_iter()
            .filter_map(|key| auths.get_key_value(&key));
        scoped
            .into_iter()
            .chain(plain)
            .find_map(|(_, entry)| entry.get("auth").and_then(Value::as_str))
            .and_then(Credentials::decode)
    }

    /// The credential helper `credHelpers` names for `registry`, if any.
    pub fn cred_helper(&self, registry: &str) -> Option<&str> {
        let helpers = self.document.get("credHelpers")?.as_object()?;
        keys_for(registry)
            .iter()
            .find_map(|key| helpers.get(key))
            .and_then(Value::as_str)
    }

    /// The credential store `credsStore` names for every registry, if any.
    pub fn creds_store(&self) -> Option<&str> {
        self.document
            .get("credsStore")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    }

    /// Save `credentials` for `key` (a registry, or a registry and repository path).
    pub fn set(&mut self, key: &str, credentials: &Credentials) {
        let auths = self
            .document
            .entry("auths")
            .or_insert_with(|| Value::Object(Map::new()));
        if !auths.is_object() {
            *auths = Value::Object(Map::new());
        }
        if let Value::Object(map) = auths {
            map.insert(
                key.to_string(),
                serde_json::json!({ "auth": credentials.encoded() }),
            );
        }
    }

    /// Forget what is saved for `key` (and the URL forms of it). Whether anything was.
    pub fn remove(&mut self, key: &str) -> bool {
        let Some(Value::Object(map)) = self.document.get_mut("auths") else {
            return false;
        };
        let mut removed = false;
        for candidate in keys_for(key) {
            removed |= map.remove(&candidate).is_some();
        }
        removed
    }

    /// Forget every saved credential.
    pub fn clear(&mut self) {
        self.document.remove("auths");
    }

    /// Write the file (mode 0600, its directory 0700 when rpod makes it), replacing it in
    /// one rename so that a reader never sees half of it.
    pub fn save(&self) -> Result<()> {
        let dir = self
            .path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| EngineError::io("creating directory", dir, e))?;
        let text = serde_json::to_vec_pretty(&Value::Object(self.document.clone()))
            .map_err(|e| EngineError::InvalidArg(format!("encoding credentials: {e}")))?;
        let staging = dir.join(format!(
            ".{}.{}",
            self.path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("auth.json"),
            std::process::id()
        ));
        let write = || -> std::io::Result<()> {
            let mut file = fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW)
                .open(&staging)?;
            file.write_all(&text)?;
            file.write_all(b"\n")?;
            file.sync_all()?;
            fs::rename(&staging, &self.path)
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&staging);
            EngineError::io("writing credentials to", &self.path, e)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(user: &str, password: &str) -> Credentials {
        Credentials {
            username: user.into(),
            password: password.into(),
        }
    }

    #[test]
    fn saved_credentials_read_back_and_other_keys_stay() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/auth.json");
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(
            &path,
            r#"{"credHelpers":{"x":"y"},"auths":{"other:1":{"auth":"YTpi"}}}"#,
        )
        .unwrap();
        let mut file = AuthFile::open(&path).unwrap();
        file.set("reg.example:5000", &creds("alice", "pa:ss"));
        file.save().unwrap();
        let mode = fs::metadata(&path).unwrap().permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o600
        );
        let again = AuthFile::open(&path).unwrap();
        assert_eq!(
            again.lookup("reg.example:5000", "demo"),
            Some(creds("alice", "pa:ss"))
        );
        assert_eq!(again.lookup("other:1", "x"), Some(creds("a", "b")));
        assert_eq!(again.lookup("reg.example", "demo"), None);
        assert_eq!(again.document["credHelpers"]["x"], "y");
    }

    #[test]
    fn a_repository_key_wins_over_its_registry_and_removal_forgets() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("auth.json");
        let mut file = AuthFile::open(&path).unwrap();
        file.set("r.io", &creds("plain", "1"));
        file.set("r.io/team", &creds("team", "2"));
        file.set("https://index.docker.io/v1/", &creds("hub", "3"));
        assert_eq!(file.lookup("r.io", "team/app").unwrap().username, "team");
        assert_eq!(file.lookup("r.io", "teamx/app").unwrap().username, "plain");
        assert_eq!(
            file.lookup("docker.io", "library/x").unwrap().username,
            "hub"
        );
        assert!(file.remove("r.io"));
        assert!(!file.remove("r.io"));
        assert_eq!(file.lookup("r.io", "other").map(|c| c.username), None);
        file.clear();
        assert_eq!(file.lookup("r.io", "team/app"), None);
    }

    #[test]
    fn credentials_are_looked_up_in_auth_json_then_in_dockers_config() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        let var = |name: &str| match name {
            "HOME" => Some(home.clone()),
            _ => None,
        };
        let primary = dir.path().join("run/auth.json");
        let paths = search_paths_with(&primary, &var);
        assert_eq!(
            paths,
            [
                primary.clone(),
                home.join(".config/containers/auth.json"),
                home.join(".docker/config.json"),
            ]
        );
        let set = |name: &str| match name {
            "XDG_CONFIG_HOME" => Some(dir.path().join("xdg")),
            "DOCKER_CONFIG" => Some(dir.path().join("dc")),
            _ => None,
        };
        assert_eq!(
            search_paths_with(&primary, &set)[1..],
            [
                dir.path().join("xdg/containers/auth.json"),
                dir.path().join("dc/config.json"),
            ]
        );
        // The first file that has an entry wins; missing files are empty.
        fs::create_dir_all(home.join(".docker")).unwrap();
        fs::write(
            &paths[2],
            r#"{"auths":{"r.io":{"auth":"ZG9jazpwdw=="},"q.io":{"auth":"ZG9jazpwdw=="}}}"#,
        )
        .unwrap();
        let mut first = AuthFile::open(&primary).unwrap();
        first.set("r.io", &creds("mine", "pw"));
        first.save().unwrap();
        let user = |registry: &str| find_in(&paths, registry, "x").unwrap().map(|c| c.username);
        assert_eq!(user("r.io").as_deref(), Some("mine"));
        assert_eq!(user("q.io").as_deref(), Some("dock"));
        assert_eq!(user("elsewhere.io"), None);
        // A helper named for a registry is asked; one that cannot run is an error.
        fs::write(
            &primary,
            r#"{"credHelpers":{"r.io":"rpod-no-such-helper"}}"#,
        )
        .unwrap();
        let err = find_in(&paths, "r.io", "x").err().unwrap().to_string();
        assert!(
            err.contains("docker-credential-rpod-no-such-helper"),
            "{err}"
        );
        assert_eq!(user("q.io").as_deref(), Some("dock"));
    }

    #[test]
    fn broken_files_and_credentials_are_refused_clearly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("auth.json");
        fs::write(&path, "[1]").unwrap();
        let err = AuthFile::open(&path).err().unwrap().to_string();
        assert!(err.contains("not a credentials file"), "{err}");
        fs::write(&path, r#"{"auths":{"r.io":{"auth":"%%%"}}}"#).unwrap();
        assert_eq!(AuthFile::open(&path).unwrap().lookup("r.io", "x"), None);
        assert!(Credentials::parse("nopassword").is_err());
        assert!(Credentials::parse(":x").is_err());
        assert_eq!(Credentials::parse("u:").unwrap().password, "");
        assert!(!format!("{:?}", creds("u", "secret")).contains("secret"));
    }
}
