//! rpod's configuration file: `$RPOD_CONFIG`, else `/etc/rpod/rpod.conf` when present.
//! TOML, with the section and key names of podman's `containers.conf` for the settings
//! rpod shares with it, so a podman user knows them:
//!
//! ```toml
//! [containers]
//! netns = "bridge"                 # network mode of new containers: bridge, none, host
//! log_driver = "k8s-file"          # log of containers made without --log-driver: or none
//!
//! [network]
//! default_network = "rpod"         # the network `bridge` means
//! default_subnet = "10.88.0.0/16"  # its subnet, when rpod creates it
//! network_config_dir = "/var/lib/rpod/networks"  # where networks are defined (default:
//!                                  # ROOT/networks; podman's files there are read as well)
//!
//! [engine]
//! criu_path = "/usr/sbin/criu"     # CRIU for checkpoint/restore
//! conmon_path = "/usr/bin/conmon"  # the monitor (default: rpod-monitor)
//! helper_binaries_dir = ["/usr/local/libexec/podman"]  # searched first for netavark, aardvark-dns
//! ssh_config = "/root/.ssh/config" # OpenSSH's configuration for `image scp` (ssh -F)
//! hooks_dir = ["/usr/share/containers/oci/hooks.d"]  # OCI hook definitions (oci-hooks(5))
//! volume_path = "/srv/volumes"     # where volumes live (default: ROOT/volumes); the store
//!                                  # records it the first time and refuses another later
//!
//! [engine.volume_plugins]
//! nfs = "/run/docker/plugins/nfs.sock"   # `volume create --driver nfs`: a volume plugin
//!
//! [storage]
//! keep_free = "5%"                 # free space left when writing images, archives, copies
//!                                  # (default: 5% of the file system, at most 2 GiB)
//! root_auto_userns_user = "containers"  # whose subordinate IDs `--userns auto` maps
//! subuid_file = "/etc/subuid"      # where they are listed (and subgid_file)
//!
//! [registries]
//! search = ["docker.io"]           # where a short name (`busybox`) is pulled from, in order
//! insecure = ["localhost:5000"]    # registries reached without TLS verification (and HTTP)
//! conf = "/etc/containers/registries.conf"  # podman's registries file, read too (search
//!                                  # registries when `search` is not set, aliases,
//!                                  # insecure and blocked registries, mirrors)
//!
//! [image]
//! signature_policy = "/etc/containers/policy.json"  # which images pull, load and import
//!                                  # take (default: containers/image's own choice)
//! registries_d = "/etc/containers/registries.d"  # where registries' GPG signatures are
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{EngineError, Result};
use crate::free_space::KeepFree;

/// The file read when `RPOD_CONFIG` is not set.
pub const SYSTEM_CONFIG: &str = "/etc/rpod/rpod.conf";

/// The default network's name.
pub const DEFAULT_NETWORK: &str = "rpod";

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EngineConfig {
    #[serde(default)]
    pub containers: ContainersSection,
    #[serde(default)]
    pub network: NetworkSection,
    #[serde(default)]
    pub engine: EngineSection,
    #[serde(default)]
    pub registries: RegistriesSection,
    #[serde(default)]
    pub storage: StorageSection,
    #[serde(default)]
    pub image: ImageSection,
    #[serde(default)]
    pub secrets: SecretsSection,
}

/// New secrets' driver when `secret create` names none (containers.conf's `[secrets]`).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SecretsSection {
    /// `file` (the default), `shell` or `pass`.
    pub driver: Option<String>,
    /// The driver's options (`[secrets.opts]`), when `--driver-opts` gives none.
    #[serde(default)]
    pub opts: std::collections::BTreeMap<String, String>,
}

/// Images coming in.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ImageSection {
    /// The signature policy (`containers-policy.json(5)`); by default
    /// `$HOME/.config/containers/policy.json` when it exists, else
    /// `/etc/containers/policy.json`, else none (everything accepted).
    pub signature_policy: Option<PathBuf>,
    /// The registries.d directory naming where registries' GPG signatures are (default:
    /// `$HOME/.config/containers/registries.d` when it exists, else
    /// `/etc/containers/registries.d`).
    pub registries_d: Option<PathBuf>,
}

/// The store's file system (podman keeps such settings in `storage.conf`).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StorageSection {
    /// What rpod leaves free on the root's file system while it writes layers, downloads,
    /// archives and copies into it (`free_space.rs`): `5%` (the default), a size such as
    /// `2g`, or `0` for no reserve.
    pub keep_free: Option<String>,
    /// The user whose subordinate IDs `--userns auto` gives containers (podman's
    /// `root-auto-userns-user`; default `containers`).
    pub root_auto_userns_user: Option<String>,
    /// Where subordinate IDs are listed (default `/etc/subuid` and `/etc/subgid`).
    pub subuid_file: Option<PathBuf>,
    pub subgid_file: Option<PathBuf>,
}

/// Registries (podman keeps these in `registries.conf`; rpod in its one file).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RegistriesSection {
    /// The registries a short name is pulled from, tried in order (default: docker.io).
    pub search: Option<Vec<String>>,
    /// Registries (`host[:port]`) whose certificates are not verified and that may answer
    /// over plain HTTP, as with `--tls-verify=false`.
    #[serde(default)]
    pub insecure: Vec<String>,
    /// containers/image's registries.conf to read (default: the user's when it exists,
    /// else `/etc/containers/registries.conf`; `$CONTAINERS_REGISTRIES_CONF` over both).
    pub conf: Option<PathBuf>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EngineSection {
    /// CRIU for checkpoint/restore; else rpod's private one (scripts/install-criu.sh),
    /// else `criu` in `$PATH`.
    pub criu_path: Option<std::path::PathBuf>,
    /// The per-container monitor: conmon, or rpod-monitor (the default, found beside rpod).
    /// `--conmon` and `RPOD_CONMON` win over it.
    pub conmon_path: Option<std::path::PathBuf>,
    /// Directories searched first for netavark and aardvark-dns.
    #[serde(default)]
    pub helper_binaries_dir: Vec<std::path::PathBuf>,
    /// Volume plugins by name: the Unix socket each listens on (`volume create --driver
    /// NAME`; Docker's volume plugin protocol, `volume_plugin.rs`).
    #[serde(default)]
    pub volume_plugins: std::collections::BTreeMap<String, std::path::PathBuf>,
    /// OpenSSH's client configuration for `image scp` (`ssh -F`), as containers.conf's.
    pub ssh_config: Option<std::path::PathBuf>,
    /// The OCI hook directories (`hooks.rs`), later ones masking earlier ones' files of the
    /// same name; `--hooks-dir` wins over it (default: podman's).
    pub hooks_dir: Option<Vec<std::path::PathBuf>>,
    /// Where the local driver's volumes live; `--volumepath` wins over it. The store
    /// records the first one it is opened with (`Store::settle_volume_path`).
    pub volume_path: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ContainersSection {
    /// The network mode of containers created without one: `bridge` (the default), `none`
    /// or `host`.
    pub netns: Option<String>,
    /// The log of containers created without `--log-driver`: `k8s-file` (the default;
    /// `json-file` is taken for it, as podman takes it) or `none` (the output only goes to
    /// whoever is attached: what users of interactive `run` ask for).
    pub log_driver: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NetworkSection {
    pub default_network: Option<String>,
    /// The default network's subnet when rpod creates it (`10.88.0.0/16`, or the first free
    /// one after it when a host route already covers it).
    pub default_subnet: Option<ipnet::Ipv4Net>,
    /// Where the network definitions live (default: ROOT/networks); `--network-config-dir`
    /// wins over it.
    pub network_config_dir: Option<PathBuf>,
}

impl EngineConfig {
    /// Read the configuration: the file `RPOD_CONFIG` names (which must exist), else the
    /// system file when it exists, else the defaults.
    pub fn load() -> Result<Self> {
        match std::env::var_os("RPOD_CONFIG") {
            Some(path) if !path.is_empty() => Self::read(Path::new(&path)),
            _ if Path::new(SYSTEM_CONFIG).exists() => Self::read(Path::new(SYSTEM_CONFIG)),
            _ => Ok(Self::default()),
        }
    }

    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| EngineError::io("reading the configuration", path, e))?;
        Self::parse(&text).map_err(|e| {
            EngineError::InvalidArg(format!("configuration file {}: {e}", path.display()))
        })
    }

    pub fn parse(text: &str) -> std::result::Result<Self, String> {
        let config: EngineConfig = toml::from_str(text).map_err(|e| e.to_string())?;
        if let Some(mode) = &config.containers.netns {
            if !matches!(mode.as_str(), "bridge" | "none" | "host") {
                return Err(format!(
                    "containers.netns: {mode:?} is not bridge, none or host"
                ));
            }
        }
        if let Some(driver) = &config.secrets.driver {
            crate::secrets::SecretDriver::check(driver, &config.secrets.opts)
                .map_err(|e| format!("secrets: {e}"))?;
        }
        if let Some(driver) = &config.containers.log_driver {
            if !matches!(driver.as_str(), "k8s-file" | "json-file" | "none") {
                return Err(format!(
                    "containers.log_driver: {driver:?} is not k8s-file or none"
                ));
            }
        }
        if let Some(keep) = &config.storage.keep_free {
            KeepFree::parse(keep).map_err(|e| format!("storage.keep_free: {e}"))?;
        }
        if let Some(name) = &config.network.default_network {
            if !crate::network::valid_name(name) {
                return Err(format!("network.default_network: invalid name {name:?}"));
            }
        }
        Ok(config)
    }

    /// The network mode new containers get when none is asked for.
    pub fn default_network_mode(&self) -> &str {
        self.containers.netns.as_deref().unwrap_or("bridge")
    }

    /// Whether containers made without a log driver keep a log file (`log_driver`).
    pub fn default_log_to_file(&self) -> bool {
        self.containers.log_driver.as_deref() != Some("none")
    }

    /// The registries a short image name is pulled from, in order.
    pub fn search_registries(&self) -> Vec<String> {
        self.registries
            .search
            .clone()
            .unwrap_or_else(|| vec![crate::image::reference::DEFAULT_DOMAIN.to_string()])
    }

    /// Whether rpod.conf lists `registry` as insecure.
    pub fn is_insecure_registry(&self, registry: &str) -> bool {
        self.registries.insecure.iter().any(|r| r == registry)
    }

    /// The free space rpod leaves on the store's file system (checked by `parse`).
    pub fn keep_free(&self) -> KeepFree {
        self.storage
            .keep_free
            .as_deref()
            .and_then(|text| KeepFree::parse(text).ok())
            .unwrap_or_default()
    }

    /// `--userns auto`'s user and the files listing subordinate IDs.
    pub fn auto_userns_sources(&self) -> (&str, &Path, &Path) {
        (
            self.storage
                .root_auto_userns_user
                .as_deref()
                .unwrap_or("containers"),
            self.storage
                .subuid_file
                .as_deref()
                .unwrap_or(Path::new("/etc/subuid")),
            self.storage
                .subgid_file
                .as_deref()
                .unwrap_or(Path::new("/etc/subgid")),
        )
    }

    pub fn default_network(&self) -> &str {
        self.network
            .default_network
            .as_deref()
            .unwrap_or(DEFAULT_NETWORK)
    }
}

/// A containers/image configuration file or directory: `explicit`, else `$HOME/`
/// `under_home` when it exists (containers/image reads the user's first, for root too),
/// else `system` (which may not exist).
pub fn containers_path(explicit: Option<&Path>, under_home: &str, system: &str) -> PathBuf {
    if let Some(path) = explicit {
        return path.to_path_buf();
    }
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|home| Path::new(&home).join(under_home))
        .filter(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from(system))
}

/// Where the configuration came from, for `rpod info`.
pub fn config_path() -> Option<PathBuf> {
    match std::env::var_os("RPOD_CONFIG") {
        Some(path) if !path.is_empty() => Some(PathBuf::from(path)),
        _ => Some(PathBuf::from(SYSTEM_CONFIG)).filter(|p| p.exists()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_log_driver() {
        assert!(EngineConfig::parse("").unwrap().default_log_to_file());
        let none = EngineConfig::parse("[containers]\nlog_driver = \"none\"\n").unwrap();
        assert!(!none.default_log_to_file());
        let file = EngineConfig::parse("[containers]\nlog_driver = \"json-file\"\n").unwrap();
        assert!(file.default_log_to_file());
        let err = EngineConfig::parse("[containers]\nlog_driver = \"journald\"\n").unwrap_err();
        assert!(err.contains("containers.log_driver"), "{err}");
    }

    #[test]
    fn the_secrets_driver_is_checked_when_read() {
        let config = EngineConfig::parse(
            "[secrets]\ndriver = \"file\"\n[secrets.opts]\npath = \"/srv/s\"\n",
        )
        .unwrap();
        assert_eq!(config.secrets.driver.as_deref(), Some("file"));
        assert_eq!(config.secrets.opts["path"], "/srv/s");
        // The pass driver's store and key are looked for when a secret is made, not here.
        let config = EngineConfig::parse(
            "[secrets]\ndriver = \"pass\"\n[secrets.opts]\nroot = \"/nonexistent/store\"\n",
        )
        .unwrap();
        assert_eq!(config.secrets.driver.as_deref(), Some("pass"));
        for bad in [
            "[secrets]\ndriver = \"vault\"\n",
            "[secrets]\ndriver = \"shell\"\n",
            "[secrets]\ndriver = \"file\"\n[secrets.opts]\nroot = \"/x\"\n",
            "[secrets]\ndriver = \"pass\"\n[secrets.opts]\nroot = \"relative\"\n",
            "[secrets]\ndriver = \"pass\"\n[secrets.opts]\npath = \"/x\"\n",
        ] {
            let err = EngineConfig::parse(bad).unwrap_err();
            assert!(err.starts_with("secrets: "), "{err}");
        }
    }

    #[test]
    fn defaults_without_a_file() {
        let config = EngineConfig::parse("").unwrap();
        assert_eq!(config.default_network_mode(), "bridge");
        assert_eq!(config.default_network(), "rpod");
        assert_eq!(config.network.default_subnet, None);
    }

    #[test]
    fn reads_podman_style_keys() {
        let config = EngineConfig::parse(
            "[containers]\nnetns = \"none\"\n[network]\ndefault_network = \"lab\"\ndefault_subnet = \"10.77.0.0/24\"\n",
        )
        .unwrap();
        assert_eq!(config.default_network_mode(), "none");
        assert_eq!(config.default_network(), "lab");
        assert_eq!(
            config.network.default_subnet,
            Some("10.77.0.0/24".parse().unwrap())
        );
    }

    #[test]
    fn keeps_five_percent_up_to_two_gib_free_unless_told_otherwise() {
        assert_eq!(
            EngineConfig::parse("").unwrap().keep_free(),
            KeepFree::PercentUpTo(5, 2 << 30)
        );
        let config = EngineConfig::parse("[storage]\nkeep_free = \"2g\"\n").unwrap();
        assert_eq!(config.keep_free(), KeepFree::Bytes(2 << 30));
    }

    #[test]
    fn names_the_monitor() {
        let config = EngineConfig::parse("[engine]\nconmon_path = \"/usr/bin/conmon\"\n").unwrap();
        assert_eq!(
            config.engine.conmon_path.as_deref(),
            Some(Path::new("/usr/bin/conmon"))
        );
    }

    #[test]
    fn names_the_helpers_directories() {
        let config = EngineConfig::parse(
            "[engine]\nhelper_binaries_dir = [\"/opt/net\", \"/usr/local/libexec/podman\"]\n",
        )
        .unwrap();
        assert_eq!(
            config.engine.helper_binaries_dir,
            [
                PathBuf::from("/opt/net"),
                PathBuf::from("/usr/local/libexec/podman")
            ]
        );
        assert!(EngineConfig::parse("[engine]\nhelper_binaries_dir = \"/opt/net\"\n").is_err());
    }

    #[test]
    fn names_volume_plugins_as_containers_conf() {
        let config = EngineConfig::parse(
            "[engine]\nconmon_path = \"/usr/bin/conmon\"\n\n[engine.volume_plugins]\n\
             nfs = \"/run/docker/plugins/nfs.sock\"\n",
        )
        .unwrap();
        assert_eq!(
            config
                .engine
                .volume_plugins
                .get("nfs")
                .map(PathBuf::as_path),
            Some(std::path::Path::new("/run/docker/plugins/nfs.sock"))
        );
        assert!(EngineConfig::parse("[engine.volume_plugins]\nnfs = 3\n").is_err());
    }

    #[test]
    fn refuses_what_it_does_not_know() {
        for bad in [
            "[containers]\nnetns = \"slirp4netns\"\n",
            "[network]\ndefault_subnet = \"10.77.0.0\"\n",
            "[network]\ndefault_network = \"a/b\"\n",
            "[storage]\nkeep_free = \"lots\"\n",
            "[storage]\nkeep_free = 5\n",
            "[containers]\nnoise = 1\n",
            "[nosuchsection]\n",
            "not toml",
        ] {
            assert!(EngineConfig::parse(bad).is_err(), "{bad}");
        }
    }
}
