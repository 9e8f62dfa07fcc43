//! The remote destinations `system connection` keeps (podman's service destinations), and
//! the SSH target one names for `image scp`.
//!
//! They are kept as JSON in `rpod-connections.json` beside rpod's configuration file (the
//! file `RPOD_CONFIG` names, else `/etc/rpod/rpod.conf`), written whole and private.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};

/// The file's name, beside the configuration file.
const FILE_NAME: &str = "rpod-connections.json";
/// The configuration file's directory when `RPOD_CONFIG` is not set.
const DEFAULT_DIR: &str = "/etc/rpod";
/// Where a root user's podman (or rpod) service listens, when a destination names no path
/// (podman asks the remote host; rpod does not connect when a destination is added).
pub const ROOT_SOCKET: &str = "/run/podman/podman.sock";

/// One destination: a name for a URI (`ssh://user@host:port/socket`, `unix://path`,
/// `tcp://host:port`), the key SSH logs in with, and the files of TLS to a TCP one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Destination {
    pub name: String,
    pub uri: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<PathBuf>,
    #[serde(default, flatten)]
    pub tls: TlsPaths,
}

/// TLS to a `tcp://` service (`--tls-ca`, `--tls-cert`, `--tls-key`: the flags of a
/// remote command and of `connection add`, and what a connection keeps): any of them
/// asks for TLS.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, clap::Args)]
pub struct TlsPaths {
    /// TLS to a tcp:// service: the CA certificates (PEM) its certificate must chain to
    /// (the system's bundle by default).
    #[arg(long = "tls-ca")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_ca: Option<PathBuf>,
    /// TLS to a tcp:// service: the client's certificate (PEM), for a service that asks
    /// for one (with --tls-key).
    #[arg(long = "tls-cert", requires = "tls_key")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<PathBuf>,
    /// TLS to a tcp:// service: the private key (PEM) of --tls-cert.
    #[arg(long = "tls-key", requires = "tls_cert")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<PathBuf>,
}

impl TlsPaths {
    pub fn wanted(&self) -> bool {
        self.tls_ca.is_some() || self.tls_cert.is_some() || self.tls_key.is_some()
    }
}

/// Every destination, and which is the default (the first one added, until another is
/// made so).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Connections {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    #[serde(default)]
    pub destinations: Vec<Destination>,
}

impl Connections {
    /// Where the destinations are kept.
    pub fn path() -> PathBuf {
        match std::env::var_os("RPOD_CONFIG") {
            Some(config) => Path::new(&config)
                .parent()
                .unwrap_or(Path::new("."))
                .join(FILE_NAME),
            None => Path::new(DEFAULT_DIR).join(FILE_NAME),
        }
    }

    /// The destinations in `path`; none when it does not exist.
    pub fn load(path: &Path) -> Result<Connections> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .with_context(|| format!("reading the connections in {}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Connections::default()),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// Write them to `path` whole (a new file renamed over the old), readable by root only:
    /// they name keys.
    pub fn save(&self, path: &Path) -> Result<()> {
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(dir)
            .with_context(|| format!("creating {}", dir.display()))?;
        let scratch = dir.join(format!(".{FILE_NAME}.{}", std::process::id()));
        let written = (|| -> std::io::Result<()> {
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&scratch)?;
            file.write_all(&serde_json::to_vec_pretty(self)?)?;
            file.sync_all()?;
            std::fs::rename(&scratch, path)
        })();
        if written.is_err() {
            let _ = std::fs::remove_file(&scratch);
        }
        written.with_context(|| format!("writing {}", path.display()))
    }

    pub fn get(&self, name: &str) -> Option<&Destination> {
        self.destinations.iter().find(|d| d.name == name)
    }

    /// Add `destination`, or replace the one of that name (as podman); the first one, or
    /// one added with `make_default`, becomes the default.
    pub fn add(&mut self, destination: Destination, make_default: bool) {
        if make_default || self.default.is_none() {
            self.default = Some(destination.name.clone());
        }
        match self
            .destinations
            .iter_mut()
            .find(|d| d.name == destination.name)
        {
            Some(known) => *known = destination,
            None => self.destinations.push(destination),
        }
    }

    /// Forget `name` (nothing when it is not known, as podman); the default goes with it.
    pub fn remove(&mut self, name: &str) {
        self.destinations.retain(|d| d.name != name);
        if self.default.as_deref() == Some(name) {
            self.default = None;
        }
    }

    pub fn set_default(&mut self, name: &str) -> Result<()> {
        self.known(name)?;
        self.default = Some(name.to_string());
        Ok(())
    }

    /// Give `old` the name `new` (a default stays the default).
    pub fn rename(&mut self, old: &str, new: &str) -> Result<()> {
        check_name(new)?;
        self.known(old)?;
        if old != new && self.get(new).is_some() {
            bail!("a connection named {new:?} already exists");
        }
        for destination in self.destinations.iter_mut().filter(|d| d.name == old) {
            destination.name = new.to_string();
        }
        if self.default.as_deref() == Some(old) {
            self.default = Some(new.to_string());
        }
        Ok(())
    }

    fn known(&self, name: &str) -> Result<&Destination> {
        self.get(name).ok_or_else(|| {
            anyhow!(
                "{name:?} destination is not defined. See \"rpod system connection add ...\" to create a connection"
            )
        })
    }
}

/// A connection's name: something a person types, without the `::` that `image scp` splits
/// at.
pub fn check_name(name: &str) -> Result<()> {
    if name.is_empty()
        || name.contains("::")
        || name.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        bail!("invalid connection name {name:?}: a word without spaces or \"::\"");
    }
    Ok(())
}

/// OpenSSH's `ssh` with a destination's key and port, and rpod.conf's `[engine] ssh_config`
/// when it names one; the caller adds the login and what to run.
pub fn ssh_command(
    target: &SshTarget,
    identity: Option<&Path>,
    config: Option<&Path>,
) -> std::process::Command {
    let mut command = std::process::Command::new("ssh");
    if let Some(config) = config {
        command.arg("-F").arg(config);
    }
    if let Some(identity) = identity {
        command
            .arg("-i")
            .arg(identity)
            .args(["-o", "IdentitiesOnly=yes"]);
    }
    if let Some(port) = target.port {
        command.arg("-p").arg(port.to_string());
    }
    command
}

/// An SSH destination's parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshTarget {
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
    pub path: Option<String>,
}

impl SshTarget {
    /// `ssh://[user@]host[:port][/path]`, or the same without the scheme. A host in
    /// brackets is an IPv6 address.
    ///
    /// Hand-written: the url crate would add its IDNA tables to rpod for four fields.
    pub fn parse(text: &str) -> Result<SshTarget> {
        let bad = |why: &str| anyhow!("invalid SSH destination {text:?}: {why}");
        let rest = text.strip_prefix("ssh://").unwrap_or(text);
        if rest.contains("://") {
            return Err(bad("an ssh:// destination or user@host"));
        }
        let (authority, path) = match rest.find('/') {
            Some(at) => (&rest[..at], Some(&rest[at..])),
            None => (rest, None),
        };
        let (user, host_port) = match authority.rsplit_once('@') {
            Some((user, host_port)) => (Some(user), host_port),
            None => (None, authority),
        };
        let (host, port) = if let Some(bracketed) = host_port.strip_prefix('[') {
            let (host, after) = bracketed
                .split_once(']')
                .ok_or_else(|| bad("a [ without its ]"))?;
            match after {
                "" => (host, None),
                _ => (
                    host,
                    Some(
                        after
                            .strip_prefix(':')
                            .ok_or_else(|| bad("a port after ]:"))?,
                    ),
                ),
            }
        } else {
            match host_port.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (host_port, None),
            }
        };
        let port = match port {
            Some(port) => Some(
                port.parse::<u16>()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| bad("the port is a number from 1 to 65535"))?,
            ),
            None => None,
        };
        let plain = |s: &str| {
            !s.is_empty()
                && !s.starts_with('-')
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-:%".contains(c))
        };
        if !plain(host) {
            return Err(bad("no host, or a host ssh would not take"));
        }
        if let Some(user) = user.filter(|u| !plain(u) || u.contains(':')) {
            return Err(bad(&format!("the user {user:?}")));
        }
        if path.is_some_and(|p| p.chars().any(|c| c.is_whitespace() || c.is_control())) {
            return Err(bad("a path with spaces"));
        }
        Ok(SshTarget {
            user: user.map(String::from),
            host: host.to_string(),
            port,
            path: path.filter(|p| *p != "/").map(String::from),
        })
    }

    /// The URI kept for it: the current user, port 22 and root's service socket filled in
    /// where it names none.
    pub fn uri(&self) -> String {
        let user = self.user.clone().unwrap_or_else(current_user);
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!(
            "ssh://{user}@{host}:{}{}",
            self.port.unwrap_or(22),
            self.path.as_deref().unwrap_or(ROOT_SOCKET)
        )
    }

    /// ssh's `[user@]host` argument.
    pub fn login(&self) -> String {
        match &self.user {
            Some(user) => format!("{user}@{}", self.host),
            None => self.host.clone(),
        }
    }
}

/// The user this process runs as, by name (SSH's default login).
fn current_user() -> String {
    nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| "root".to_string())
}

/// `system connection add`'s destination: an `ssh://` URI or `user@host` (with `--port` and
/// `--socket-path` for what it leaves out), a `unix://` path or a `tcp://host:port`.
pub fn destination_uri(
    destination: &str,
    port: Option<u16>,
    socket_path: Option<&str>,
) -> Result<String> {
    if let Some(path) = destination.strip_prefix("unix://") {
        if !path.starts_with('/') {
            bail!("invalid destination {destination:?}: unix:// takes an absolute path");
        }
        return Ok(destination.to_string());
    }
    if let Some(address) = destination.strip_prefix("tcp://") {
        let (host, port) = address
            .rsplit_once(':')
            .ok_or_else(|| anyhow!("invalid destination {destination:?}: tcp://host:port"))?;
        if host.is_empty() || port.parse::<u16>().map_or(true, |p| p == 0) {
            bail!("invalid destination {destination:?}: tcp://host:port");
        }
        return Ok(destination.to_string());
    }
    let mut target = SshTarget::parse(destination)?;
    if let Some(port) = port {
        target.port = Some(port);
    }
    if let Some(path) = socket_path {
        if !path.starts_with('/') {
            bail!("invalid --socket-path {path:?}: an absolute path");
        }
        target.path = Some(path.to_string());
    }
    Ok(target.uri())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_destinations_are_parsed_and_completed() {
        let full = SshTarget::parse("ssh://core@10.0.0.5:2222/run/user/1000/podman.sock").unwrap();
        assert_eq!(full.login(), "core@10.0.0.5");
        assert_eq!(full.port, Some(2222));
        assert_eq!(
            full.uri(),
            "ssh://core@10.0.0.5:2222/run/user/1000/podman.sock"
        );
        let short = SshTarget::parse("admin@host.example").unwrap();
        assert_eq!(
            short.uri(),
            "ssh://admin@host.example:22/run/podman/podman.sock"
        );
        let v6 = SshTarget::parse("ssh://root@[fd00::1]:22").unwrap();
        assert_eq!((v6.host.as_str(), v6.port), ("fd00::1", Some(22)));
        assert_eq!(v6.uri(), "ssh://root@[fd00::1]:22/run/podman/podman.sock");
        assert_eq!(
            destination_uri("root@h", Some(2200), Some("/x.sock")).unwrap(),
            "ssh://root@h:2200/x.sock"
        );
        assert_eq!(
            destination_uri("unix:///run/rpod.sock", None, None).unwrap(),
            "unix:///run/rpod.sock"
        );
        for bad in [
            "",
            "ssh://",
            "root@",
            "root@-oProxyCommand=x",
            "-oProxyCommand=x",
            "a b@host",
            "root@host:0",
            "root@host:99999",
            "root@host:port",
            "root@[::1",
            "http://host",
            "root@host/with space",
        ] {
            assert!(destination_uri(bad, None, None).is_err(), "{bad}");
        }
        assert!(destination_uri("unix://relative", None, None).is_err());
        assert!(destination_uri("tcp://host", None, None).is_err());
    }

    #[test]
    fn connections_keep_a_default_and_are_written_privately() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join(FILE_NAME);
        let mut connections = Connections::load(&path).unwrap();
        let destination = |name: &str| Destination {
            name: name.to_string(),
            uri: format!("ssh://root@{name}:22/run/podman/podman.sock"),
            ..Destination::default()
        };
        connections.add(destination("a"), false);
        connections.add(destination("b"), false);
        assert_eq!(connections.default.as_deref(), Some("a"));
        connections.add(destination("c"), true);
        assert_eq!(connections.default.as_deref(), Some("c"));
        connections.rename("c", "d").unwrap();
        assert_eq!(connections.default.as_deref(), Some("d"));
        assert!(connections.rename("d", "a").is_err());
        assert!(connections.rename("nope", "x").is_err());
        assert!(connections.set_default("nope").is_err());
        connections.set_default("b").unwrap();
        connections.save(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let mut again = Connections::load(&path).unwrap();
        assert_eq!(again.destinations.len(), 3);
        assert_eq!(again.default.as_deref(), Some("b"));
        again.remove("b");
        again.remove("unknown");
        assert_eq!(again.default, None);
        assert_eq!(again.destinations.len(), 2);
        for bad in ["", "a::b", "two words"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        std::fs::write(&path, "not json").unwrap();
        assert!(Connections::load(&path).is_err());
    }
}
