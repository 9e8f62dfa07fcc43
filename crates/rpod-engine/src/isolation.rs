//! What a container shares with the host or other containers, and its process limits, as
//! podman's flags give them: `--pid`, `--ipc`, `--uts` (`private`, `host`,
//! `container:NAME`), `--init`, `--shm-size`, `--sysctl`, `--ulimit`, `--device`,
//! `--group-add`. Parsed and checked here; `spec.rs` puts them in the OCI spec.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use nix::sys::resource::Resource;
use serde::{Deserialize, Serialize};

use crate::error::{EngineError, Result};

/// Where a namespace comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum NamespaceMode {
    /// A namespace of the container's own.
    #[default]
    Private,
    /// IPC only: a namespace of its own that other containers may join, with a `/dev/shm`
    /// they can share (see `engine/shm.rs`).
    Shareable,
    /// IPC only: a namespace of its own and no `/dev/shm` at all (`--ipc none`).
    None,
    /// The host's.
    Host,
    /// Another container's (its ID once created; a name or ID as given before).
    Container(String),
}

impl NamespaceMode {
    pub fn parse(flag: &str, text: &str) -> Result<Self> {
        match text {
            "" | "private" => Ok(NamespaceMode::Private),
            "shareable" if flag == "ipc" => Ok(NamespaceMode::Shareable),
            "none" if flag == "ipc" => Ok(NamespaceMode::None),
            "host" => Ok(NamespaceMode::Host),
            other => match other.strip_prefix("container:") {
                Some(name) if !name.is_empty() => Ok(NamespaceMode::Container(name.into())),
                _ => {
                    let ipc_only = if flag == "ipc" {
                        ", shareable, none"
                    } else {
                        ""
                    };
                    Err(EngineError::InvalidArg(format!(
                        "invalid --{flag} {other:?}: use private{ipc_only}, host or container:NAME"
                    )))
                }
            },
        }
    }

    pub fn as_string(&self) -> String {
        match self {
            NamespaceMode::Private => "private".into(),
            NamespaceMode::Shareable => "shareable".into(),
            NamespaceMode::None => "none".into(),
            NamespaceMode::Host => "host".into(),
            NamespaceMode::Container(id) => format!("container:{id}"),
        }
    }
}

/// One `--ulimit NAME=SOFT[:HARD]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ulimit {
    /// The OCI name (`RLIMIT_NOFILE`).
    pub name: String,
    pub soft: u64,
    pub hard: u64,
}

/// The limits `--ulimit` knows, by podman's short names, with their OCI names and the
/// resource as this process reads its own (`--ulimit host`).
const ULIMITS: &[(&str, &str, Resource)] = &[
    ("as", "RLIMIT_AS", Resource::RLIMIT_AS),
    ("core", "RLIMIT_CORE", Resource::RLIMIT_CORE),
    ("cpu", "RLIMIT_CPU", Resource::RLIMIT_CPU),
    ("data", "RLIMIT_DATA", Resource::RLIMIT_DATA),
    ("fsize", "RLIMIT_FSIZE", Resource::RLIMIT_FSIZE),
    ("locks", "RLIMIT_LOCKS", Resource::RLIMIT_LOCKS),
    ("memlock", "RLIMIT_MEMLOCK", Resource::RLIMIT_MEMLOCK),
    ("msgqueue", "RLIMIT_MSGQUEUE", Resource::RLIMIT_MSGQUEUE),
    ("nice", "RLIMIT_NICE", Resource::RLIMIT_NICE),
    ("nofile", "RLIMIT_NOFILE", Resource::RLIMIT_NOFILE),
    ("nproc", "RLIMIT_NPROC", Resource::RLIMIT_NPROC),
    ("rss", "RLIMIT_RSS", Resource::RLIMIT_RSS),
    ("rtprio", "RLIMIT_RTPRIO", Resource::RLIMIT_RTPRIO),
    ("rttime", "RLIMIT_RTTIME", Resource::RLIMIT_RTTIME),
    (
        "sigpending",
        "RLIMIT_SIGPENDING",
        Resource::RLIMIT_SIGPENDING,
    ),
    ("stack", "RLIMIT_STACK", Resource::RLIMIT_STACK),
];

/// `--ulimit` words: `NAME=SOFT[:HARD]` each, or `host` alone (podman's: the host's
/// limits, none of rpod's own).
pub fn parse_ulimits(texts: &[String]) -> Result<(Vec<Ulimit>, bool)> {
    if texts.iter().any(|t| t == "host") {
        if texts.len() > 1 {
            return Err(EngineError::InvalidArg(
                "--ulimit host gives every limit the host's: no other --ulimit with it".into(),
            ));
        }
        return Ok((Vec::new(), true));
    }
    let ulimits = texts
        .iter()
        .map(|t| parse_ulimit(t))
        .collect::<Result<_>>()?;
    Ok((ulimits, false))
}

/// Every limit `--ulimit` knows, as this process has it now (`--ulimit host`).
pub fn host_ulimits() -> Vec<Ulimit> {
    ULIMITS
        .iter()
        .filter_map(|(_, oci, resource)| {
            let (soft, hard) = nix::sys::resource::getrlimit(*resource).ok()?;
            Some(Ulimit {
                name: oci.to_string(),
                soft,
                hard,
            })
        })
        .collect()
}

/// Below this many open files, the runtimes fail to set a container up (crun needs about
/// 30 here, runc about 11) with errors about what they could not open.
pub const FEW_OPEN_FILES: u64 = 64;

/// Refuse an open file limit above the kernel's ceiling (`nr_open`, the sysctl
/// `fs.nr_open`): no process can have it, and the runtime's refusal would only say
/// "operation not permitted".
pub fn check_open_file_limit(nofile: &Ulimit, nr_open: u64) -> Result<()> {
    let shown = |value: u64| match value {
        u64::MAX => "unlimited".to_string(),
        n => n.to_string(),
    };
    if nofile.hard > nr_open {
        return Err(EngineError::InvalidArg(format!(
            "invalid --ulimit nofile={}:{}: the kernel allows at most {nr_open} open files per process (fs.nr_open)",
            shown(nofile.soft),
            shown(nofile.hard)
        )));
    }
    Ok(())
}

/// The open file limit `--ulimit` gives: the last `nofile` given, as the spec takes it.
pub fn open_file_limit(ulimits: &[Ulimit]) -> Option<&Ulimit> {
    ulimits.iter().rfind(|u| u.name == "RLIMIT_NOFILE")
}

/// The kernel's ceiling for open files per process; `None` when it cannot be read.
pub fn kernel_nr_open() -> Option<u64> {
    std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()?
        .trim()
        .parse()
        .ok()
}

fn limit_value(text: &str, whole: &str) -> Result<u64> {
    match text {
        "unlimited" | "-1" => Ok(u64::MAX),
        _ => text.parse().map_err(|_| {
            EngineError::InvalidArg(format!(
                "invalid --ulimit {whole:?}: {text:?} is not a number or unlimited"
            ))
        }),
    }
}

pub fn parse_ulimit(text: &str) -> Result<Ulimit> {
    let (name, values) = text.split_once('=').ok_or_else(|| {
        EngineError::InvalidArg(format!("invalid --ulimit {text:?}: use NAME=SOFT[:HARD]"))
    })?;
    let oci = ULIMITS
        .iter()
        .find(|(short, _, _)| *short == name)
        .map(|(_, oci, _)| oci.to_string())
        .ok_or_else(|| {
            EngineError::InvalidArg(format!("invalid --ulimit {text:?}: unknown limit {name:?}"))
        })?;
    let (soft, hard) = match values.split_once(':') {
        Some((soft, hard)) => (limit_value(soft, text)?, limit_value(hard, text)?),
        None => {
            let value = limit_value(values, text)?;
            (value, value)
        }
    };
    if soft > hard {
        return Err(EngineError::InvalidArg(format!(
            "invalid --ulimit {text:?}: the soft limit is above the hard one"
        )));
    }
    Ok(Ulimit {
        name: oci,
        soft,
        hard,
    })
}

/// One `--device HOST[:CONTAINER][:PERMISSIONS]`, checked against the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceMapping {
    pub host: PathBuf,
    pub container: PathBuf,
    /// Some of `r`, `w`, `m`.
    pub permissions: String,
}

fn valid_permissions(text: &str) -> bool {
    !text.is_empty() && text.len() <= 3 && text.chars().all(|c| matches!(c, 'r' | 'w' | 'm'))
}

pub fn parse_device(text: &str) -> Result<DeviceMapping> {
    let parts: Vec<&str> = text.split(':').collect();
    let (host, container, permissions) = match parts.as_slice() {
        [host] => (*host, *host, "rwm"),
        [host, second] if valid_permissions(second) => (*host, *host, *second),
        [host, container] => (*host, *container, "rwm"),
        [host, container, permissions] => (*host, *container, *permissions),
        _ => {
            return Err(EngineError::InvalidArg(format!(
                "invalid --device {text:?}: use HOST[:CONTAINER][:PERMISSIONS]"
            )))
        }
    };
    if !valid_permissions(permissions) {
        return Err(EngineError::InvalidArg(format!(
            "invalid --device {text:?}: permissions are some of r, w, m"
        )));
    }
    if !host.starts_with('/') || !container.starts_with('/') {
        return Err(EngineError::InvalidArg(format!(
            "invalid --device {text:?}: paths must be absolute"
        )));
    }
    let kind = device_kind(Path::new(host))?;
    if kind.is_none() {
        return Err(EngineError::InvalidArg(format!(
            "--device {host}: not a character or block device"
        )));
    }
    Ok(DeviceMapping {
        host: host.into(),
        container: container.into(),
        permissions: permissions.into(),
    })
}

/// A device file's type (`c` or `b`), major and minor; `None` for anything else.
pub fn device_kind(path: &Path) -> Result<Option<(char, i64, i64)>> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let meta = std::fs::metadata(path).map_err(|e| EngineError::io("inspecting", path, e))?;
    let kind = if meta.file_type().is_char_device() {
        'c'
    } else if meta.file_type().is_block_device() {
        'b'
    } else {
        return Ok(None);
    };
    let rdev = meta.rdev();
    Ok(Some((
        kind,
        nix::sys::stat::major(rdev) as i64,
        nix::sys::stat::minor(rdev) as i64,
    )))
}

/// A device node of the host, as a privileged container gets it.
#[derive(Debug, Clone, PartialEq)]
pub struct HostDevice {
    pub path: PathBuf,
    /// `c` or `b`.
    pub kind: char,
    pub major: i64,
    pub minor: i64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// Directories of `/dev` that hold no device a container should get (they are the
/// container's own: its terminals, shared memory, descriptors, message queues) or that
/// other container managers keep there.
const SKIPPED_DEV_DIRS: [&str; 6] = ["pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts"];

/// Every device node under `dir` (the host's `/dev`), as podman hands them to a privileged
/// container: character and block devices in `dir` and its subdirectories, except the
/// directories above, the console and symbolic links. Sorted by path. Entries that vanish
/// or cannot be read while the walk runs are left out.
pub fn host_devices(dir: &Path) -> Vec<HostDevice> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let mut found = Vec::new();
    let mut pending = vec![(dir.to_path_buf(), 0usize)];
    while let Some((dir, depth)) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            let file_type = meta.file_type();
            let name = entry.file_name();
            if file_type.is_dir() {
                // /dev is a few levels deep at most; a deeper tree is not a device tree.
                if depth < 8 && !SKIPPED_DEV_DIRS.iter().any(|s| name == *s) {
                    pending.push((path, depth + 1));
                }
                continue;
            }
            let kind = if file_type.is_char_device() {
                'c'
            } else if file_type.is_block_device() {
                'b'
            } else {
                continue;
            };
            if name == "console" {
                continue;
            }
            let rdev = meta.rdev();
            found.push(HostDevice {
                path,
                kind,
                major: nix::sys::stat::major(rdev) as i64,
                minor: nix::sys::stat::minor(rdev) as i64,
                mode: meta.mode() & 0o7777,
                uid: meta.uid(),
                gid: meta.gid(),
            });
        }
    }
    found.sort_by(|a, b| a.path.cmp(&b.path));
    found
}

/// Check `--sysctl` keys as podman does: only namespaced ones, and not those of a namespace
/// shared with the host.
pub fn check_sysctls(
    sysctls: &BTreeMap<String, String>,
    host_network: bool,
    ipc: &NamespaceMode,
    uts: &NamespaceMode,
) -> Result<()> {
    const IPC: &[&str] = &[
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    for key in sysctls.keys() {
        let refuse = |why: &str| {
            Err(EngineError::InvalidArg(format!(
                "sysctl {key:?} is not allowed: {why}"
            )))
        };
        if IPC.contains(&key.as_str()) || key.starts_with("fs.mqueue.") {
            if *ipc == NamespaceMode::Host {
                return refuse("the container shares the host's IPC namespace");
            }
        } else if key.starts_with("net.") {
            if host_network {
                return refuse("the container shares the host's network namespace");
            }
        } else if key == "kernel.domainname" || key == "kernel.hostname" {
            if *uts == NamespaceMode::Host {
                return refuse("the container shares the host's UTS namespace");
            }
        } else {
            return refuse("it is not namespaced, so it would change the host");
        }
    }
    Ok(())
}

/// Where rpod looks for the init of `--init` (catatonit, as podman).
const INIT_PATHS: &[&str] = &[
    "/usr/libexec/podman/catatonit",
    "/usr/libexec/catatonit/catatonit",
    "/usr/bin/catatonit",
];

/// The init binary: the one asked for, else catatonit where Debian and Fedora install it.
pub fn find_init(asked: Option<&Path>) -> Result<PathBuf> {
    if let Some(path) = asked {
        if path.is_file() {
            return Ok(path.to_path_buf());
        }
        return Err(EngineError::InvalidArg(format!(
            "--init-path {}: no such file",
            path.display()
        )));
    }
    INIT_PATHS
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .ok_or_else(|| {
            EngineError::InvalidArg(
                "--init needs catatonit (apt-get install catatonit), or give --init-path".into(),
            )
        })
}

/// Where the init is bound in the container, as podman binds it.
pub const INIT_IN_CONTAINER: &str = "/run/podman-init";

/// podman's default `/dev/shm` size: containers.conf's `shm_size = "65536k"`, which podman
/// reads in decimal units (65,536,000 bytes, `size=64000k` in `/proc/mounts`), where
/// `--shm-size 64m` is binary.
pub const DEFAULT_SHM_SIZE: u64 = 65_536_000;

/// All of it, as the container's configuration keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Isolation {
    #[serde(default)]
    pub pid: NamespaceMode,
    #[serde(default)]
    pub ipc: NamespaceMode,
    #[serde(default)]
    pub uts: NamespaceMode,
    /// `--cgroupns`: a cgroup namespace of its own shows the container its cgroup as `/`.
    #[serde(default)]
    pub cgroup: NamespaceMode,
    /// `--init`: the init binary on the host.
    #[serde(default)]
    pub init: Option<PathBuf>,
    /// `--shm-size` in bytes (podman's 64 MiB otherwise).
    #[serde(default)]
    pub shm_size: Option<u64>,
    #[serde(default)]
    pub sysctls: BTreeMap<String, String>,
    #[serde(default)]
    pub ulimits: Vec<Ulimit>,
    /// `--ulimit host`: every limit the host's, as rpod has it at each start.
    #[serde(default)]
    pub ulimits_host: bool,
    #[serde(default)]
    pub devices: Vec<DeviceMapping>,
    /// `--group-add`: names (resolved in the container's /etc/group) or numbers.
    #[serde(default)]
    pub group_add: Vec<String>,
    /// `--device-cgroup-rule`s: more devices the container may use.
    #[serde(default)]
    pub device_cgroup_rules: Vec<DeviceRule>,
}

/// A device cgroup rule, `TYPE MAJOR:MINOR ACCESS` (`c 1:3 rwm`, `b 8:* r`, `a *:* m`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRule {
    /// `a`, `b` or `c`.
    pub kind: char,
    /// `None` for `*`.
    pub major: Option<i64>,
    pub minor: Option<i64>,
    pub access: String,
}

impl DeviceRule {
    pub fn parse(text: &str) -> Result<Self> {
        let invalid = || {
            EngineError::InvalidArg(format!(
                "invalid --device-cgroup-rule {text:?}: use TYPE MAJOR:MINOR ACCESS, like \"c 1:3 rwm\""
            ))
        };
        let words: Vec<&str> = text.split_whitespace().collect();
        let [kind, numbers, access] = words.as_slice() else {
            return Err(invalid());
        };
        let (major, minor) = numbers.split_once(':').ok_or_else(invalid)?;
        let number = |n: &str| -> Result<Option<i64>> {
            match n {
                "*" => Ok(None),
                n => n.parse::<i64>().map(Some).map_err(|_| invalid()),
            }
        };
        Self::new(kind, number(major)?, number(minor)?, access).map_err(|_| invalid())
    }

    /// A rule of its parts (`None` for `*`), checked: the type `a`, `b` or `c`, the
    /// access letters of `rwm`.
    pub fn new(kind: &str, major: Option<i64>, minor: Option<i64>, access: &str) -> Result<Self> {
        let kind = match kind {
            "a" | "b" | "c" => kind.chars().next().unwrap_or('a'),
            _ => {
                return Err(EngineError::InvalidArg(format!(
                    "invalid device cgroup rule type {kind:?}: a, b or c"
                )))
            }
        };
        if access.is_empty() || !access.chars().all(|c| "rwm".contains(c)) {
            return Err(EngineError::InvalidArg(format!(
                "invalid device cgroup rule access {access:?}: letters of rwm"
            )));
        }
        Ok(DeviceRule {
            kind,
            major,
            minor,
            access: access.to_string(),
        })
    }
}

/// The rule as `--device-cgroup-rule` takes it (Docker's inspect shows it so).
impl std::fmt::Display for DeviceRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let number = |n: Option<i64>| n.map_or_else(|| "*".to_string(), |n| n.to_string());
        write!(
            f,
            "{} {}:{} {}",
            self.kind,
            number(self.major),
            number(self.minor),
            self.access
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_open_file_limit_above_the_kernels_is_refused() {
        let limits = |text: &str| parse_ulimit(text).unwrap();
        for fine in ["nofile=1048576", "nofile=100:200"] {
            check_open_file_limit(&limits(fine), 1_048_576).unwrap();
        }
        // The last `nofile` is the one the container gets.
        let given = [
            limits("nofile=100"),
            limits("nproc=5"),
            limits("nofile=unlimited"),
        ];
        assert_eq!(open_file_limit(&given), Some(&given[2]));
        assert_eq!(open_file_limit(&given[1..2]), None);
        for (above, shown) in [
            ("nofile=unlimited", "nofile=unlimited:unlimited"),
            ("nofile=1024:2000000", "nofile=1024:2000000"),
        ] {
            let err = check_open_file_limit(&limits(above), 1_048_576)
                .unwrap_err()
                .to_string();
            assert!(
                err.contains(shown) && err.contains("at most 1048576"),
                "{err}"
            );
        }
    }

    #[test]
    fn host_devices_are_the_nodes_podman_hands_on() {
        // The host's own /dev: readable without root.
        let devices = host_devices(Path::new("/dev"));
        let null = devices
            .iter()
            .find(|d| d.path == Path::new("/dev/null"))
            .expect("/dev/null");
        assert_eq!((null.kind, null.major, null.minor), ('c', 1, 3));
        assert!(devices.iter().all(|d| !d.path.starts_with("/dev/pts")
            && d.path != Path::new("/dev/console")
            && d.path != Path::new("/dev/stdin")));
        if !nix::unistd::geteuid().is_root() {
            return; // making device nodes needs root
        }
        let dir = tempfile::tempdir().unwrap();
        let node = |rel: &str| {
            let path = dir.path().join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            nix::sys::stat::mknod(
                &path,
                nix::sys::stat::SFlag::S_IFCHR,
                nix::sys::stat::Mode::from_bits_truncate(0o620),
                nix::sys::stat::makedev(1, 5),
            )
            .unwrap();
            // Whatever the umask.
            std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o620))
                .unwrap();
        };
        for rel in [
            "zero",
            "sub/deep/zero",
            "pts/0",
            "shm/x",
            "console",
            "mqueue/q",
        ] {
            node(rel);
        }
        std::fs::write(dir.path().join("plain"), "").unwrap();
        std::os::unix::fs::symlink("zero", dir.path().join("link")).unwrap();
        let found = host_devices(dir.path());
        let paths: Vec<&Path> = found.iter().map(|d| d.path.as_path()).collect();
        assert_eq!(
            paths,
            [dir.path().join("sub/deep/zero"), dir.path().join("zero")]
        );
        assert_eq!(
            (found[0].kind, found[0].major, found[0].minor, found[0].mode),
            ('c', 1, 5, 0o620)
        );
    }

    #[test]
    fn namespace_modes() {
        assert_eq!(
            NamespaceMode::parse("pid", "host").unwrap(),
            NamespaceMode::Host
        );
        assert_eq!(
            NamespaceMode::parse("ipc", "container:db").unwrap(),
            NamespaceMode::Container("db".into())
        );
        assert_eq!(
            NamespaceMode::parse("ipc", "shareable").unwrap(),
            NamespaceMode::Shareable
        );
        for bad in ["container:", "ns:/x", "shareable"] {
            assert!(NamespaceMode::parse("uts", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ulimits() {
        let u = parse_ulimit("nofile=1024:2048").unwrap();
        assert_eq!(
            (u.name.as_str(), u.soft, u.hard),
            ("RLIMIT_NOFILE", 1024, 2048)
        );
        let u = parse_ulimit("core=unlimited").unwrap();
        assert_eq!((u.soft, u.hard), (u64::MAX, u64::MAX));
        for bad in ["nofile", "nosuch=1", "nofile=a", "nofile=10:5"] {
            assert!(parse_ulimit(bad).is_err(), "{bad}");
        }
        let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            parse_ulimits(&words(&["host"])).unwrap(),
            (Vec::new(), true)
        );
        let (given, host) = parse_ulimits(&words(&["nproc=5"])).unwrap();
        assert_eq!((given.len(), host), (1, false));
        assert!(parse_ulimits(&words(&["host", "nproc=5"])).is_err());
        // Every limit the flag knows, read from this process.
        let limits = host_ulimits();
        assert_eq!(limits.len(), ULIMITS.len());
        assert!(limits.iter().all(|l| l.soft <= l.hard));
    }

    #[test]
    fn devices() {
        let d = parse_device("/dev/null:/dev/mynull:r").unwrap();
        assert_eq!(d.container, Path::new("/dev/mynull"));
        assert_eq!(d.permissions, "r");
        let d = parse_device("/dev/zero:rw").unwrap();
        assert_eq!(
            (d.container.as_path(), d.permissions.as_str()),
            (Path::new("/dev/zero"), "rw")
        );
        assert_eq!(
            device_kind(Path::new("/dev/null")).unwrap(),
            Some(('c', 1, 3))
        );
        for bad in [
            "/etc/passwd",
            "/dev/null:/x:q",
            "null",
            "/dev/null:a:b:c",
            "/no/such",
        ] {
            assert!(parse_device(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sysctls_must_be_namespaced() {
        let one = |k: &str| BTreeMap::from([(k.to_string(), "1".to_string())]);
        let private = NamespaceMode::Private;
        assert!(check_sysctls(&one("net.ipv4.ip_forward"), false, &private, &private).is_ok());
        assert!(check_sysctls(&one("net.ipv4.ip_forward"), true, &private, &private).is_err());
        assert!(check_sysctls(&one("kernel.shmmax"), false, &private, &private).is_ok());
        assert!(
            check_sysctls(&one("kernel.shmmax"), false, &NamespaceMode::Host, &private).is_err()
        );
        assert!(check_sysctls(&one("vm.swappiness"), false, &private, &private).is_err());
        assert!(check_sysctls(
            &one("kernel.hostname"),
            false,
            &private,
            &NamespaceMode::Host
        )
        .is_err());
    }

    #[test]
    fn device_cgroup_rules_read_back_as_given() {
        for text in ["c 1:3 rwm", "b 8:* r", "a *:* m"] {
            assert_eq!(DeviceRule::parse(text).unwrap().to_string(), text);
        }
        for bad in ["c 1:3", "x 1:3 rwm", "c 1 rwm", "c 1:3 rwx", "c one:3 r"] {
            let err = DeviceRule::parse(bad).unwrap_err().to_string();
            assert!(err.contains("TYPE MAJOR:MINOR ACCESS"), "{bad}: {err}");
        }
    }
}
