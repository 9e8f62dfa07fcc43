//! How a container is confined: capabilities, seccomp, no-new-privileges, privileged mode,
//! with podman's defaults and podman's spelling of the options.

use std::collections::{BTreeSet, HashSet};
use std::path::PathBuf;

use oci_spec::runtime::{Capability, LinuxSeccomp};
use rpod_oci::capabilities::{canonical_name, host_bounding_set, parse, CAPABILITIES_BY_NUMBER};
use serde::{Deserialize, Serialize};

use crate::seccomp;
use crate::{EngineError, Result};

/// podman's default capability set for containers.
pub const DEFAULT_CAPABILITIES: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_NET_BIND_SERVICE",
    "CAP_SETFCAP",
    "CAP_SETGID",
    "CAP_SETPCAP",
    "CAP_SETUID",
    "CAP_SYS_CHROOT",
];

/// podman's masked paths: hidden from the container (an empty file or directory over them).
pub const MASKED_PATHS: &[&str] = &[
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/sys/dev/block",
    "/sys/devices/virtual/powercap",
    "/sys/firmware",
    "/sys/fs/selinux",
];

/// podman's read-only paths.
pub const READONLY_PATHS: &[&str] = &[
    "/proc/asound",
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// Which seccomp profile confines the container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SeccompChoice {
    /// The distribution's profile (see `seccomp::DEFAULT_PROFILE_PATHS`).
    #[default]
    Default,
    Unconfined,
    /// A profile file given with `--security-opt seccomp=PATH`.
    Profile(PathBuf),
    /// `--seccomp-policy image`: the profile an image's `io.containers.seccomp.profile`
    /// label holds, as text.
    Image(String),
}

/// The image label `--seccomp-policy image` takes a profile from (podman's).
pub const IMAGE_SECCOMP_LABEL: &str = "io.containers.seccomp.profile";

/// The confinement options of a container, fixed at create.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityOptions {
    #[serde(default)]
    pub privileged: bool,
    /// Canonical names (`CAP_NET_ADMIN`) or `ALL`.
    #[serde(default)]
    pub cap_add: Vec<String>,
    #[serde(default)]
    pub cap_drop: Vec<String>,
    #[serde(default)]
    pub no_new_privileges: bool,
    #[serde(default)]
    pub seccomp: SeccompChoice,
}

fn capability_list(names: &[String], flag: &str) -> Result<Vec<String>> {
    names
        .iter()
        .flat_map(|n| n.split(','))
        .filter(|n| !n.trim().is_empty())
        .map(|n| {
            if n.trim().eq_ignore_ascii_case("all") {
                return Ok("ALL".to_string());
            }
            canonical_name(n).map(str::to_string).ok_or_else(|| {
                EngineError::InvalidArg(format!(
                    "{flag}: unknown capability {:?}: invalid argument",
                    n.trim()
                ))
            })
        })
        .collect()
}

impl SecurityOptions {
    /// Build from the CLI's (or API's) words: `--cap-add`, `--cap-drop`, `--security-opt`,
    /// `--privileged`. Every value is checked here, before anything is created.
    pub fn from_flags(
        privileged: bool,
        cap_add: &[String],
        cap_drop: &[String],
        security_opts: &[String],
    ) -> Result<Self> {
        let mut options = SecurityOptions {
            privileged,
            cap_add: capability_list(cap_add, "--cap-add")?,
            cap_drop: capability_list(cap_drop, "--cap-drop")?,
            ..Default::default()
        };
        for opt in security_opts {
            options.apply_security_opt(opt)?;
        }
        Ok(options)
    }

    fn apply_security_opt(&mut self, opt: &str) -> Result<()> {
        let invalid =
            || EngineError::InvalidArg(format!("invalid --security-opt {opt:?}: invalid argument"));
        // podman accepts both `key=value` and the older `key:value`.
        let (key, value) = match opt.split_once(['=', ':']) {
            Some((k, v)) => (k, Some(v)),
            None => (opt, None),
        };
        match (key, value) {
            ("no-new-privileges", None | Some("true")) => self.no_new_privileges = true,
            ("no-new-privileges", Some("false")) => self.no_new_privileges = false,
            ("seccomp", Some("unconfined")) => self.seccomp = SeccompChoice::Unconfined,
            ("seccomp", Some(path)) if !path.is_empty() => {
                let path = PathBuf::from(path);
                let path = std::fs::canonicalize(&path).map_err(|e| {
                    EngineError::InvalidArg(format!("seccomp profile {}: {e}", path.display()))
                })?;
                self.seccomp = SeccompChoice::Profile(path);
            }
            // rpod applies no SELinux label and no AppArmor profile: asking for none is
            // exactly what happens.
            ("label", Some("disable")) | ("apparmor", Some("unconfined")) => {}
            ("label" | "apparmor" | "mask" | "unmask" | "proc-opts" | "systempaths", Some(_)) => {
                return Err(EngineError::NotSupported(format!("--security-opt {opt}")))
            }
            _ => return Err(invalid()),
        }
        Ok(())
    }

    /// The container's capabilities (bounding, effective and permitted alike), as podman
    /// computes them: the default set, or none after `--cap-drop ALL`, less the dropped, plus
    /// the added; everything this process holds when privileged or after `--cap-add ALL`.
    pub fn capabilities(&self) -> BTreeSet<String> {
        let host = || -> BTreeSet<String> {
            let held = host_bounding_set();
            CAPABILITIES_BY_NUMBER
                .iter()
                .filter(|c| parse(c).is_some_and(|c| held.contains(&c)))
                .map(|c| c.to_string())
                .collect()
        };
        if self.privileged {
            return host();
        }
        let mut caps: BTreeSet<String> = if self.cap_drop.iter().any(|c| c == "ALL") {
            BTreeSet::new()
        } else {
            DEFAULT_CAPABILITIES
                .iter()
                .map(|c| c.to_string())
                .filter(|c| !self.cap_drop.contains(c))
                .collect()
        };
        if self.cap_add.iter().any(|c| c == "ALL") {
            caps.extend(host());
        } else {
            caps.extend(self.cap_add.iter().cloned());
        }
        caps
    }

    /// The OCI types of `capabilities()`.
    pub fn oci_capabilities(&self) -> HashSet<Capability> {
        self.capabilities()
            .iter()
            .filter_map(|c| parse(c))
            .collect()
    }

    /// The seccomp filter of the spec: `None` when unconfined or privileged. Fails when the
    /// default profile is missing, so a container never runs unconfined by accident.
    pub fn seccomp(&self) -> Result<Option<LinuxSeccomp>> {
        if self.privileged {
            return Ok(None);
        }
        let capabilities: HashSet<String> = self.capabilities().into_iter().collect();
        let target = seccomp::Target {
            arch: seccomp::host_arch(),
            capabilities: &capabilities,
            kernel: seccomp::kernel_version(),
        };
        let path = match &self.seccomp {
            SeccompChoice::Unconfined => return Ok(None),
            SeccompChoice::Profile(path) => path.clone(),
            SeccompChoice::Image(text) => {
                return seccomp::load_text(text, "of the image's label", &target).map(Some)
            }
            SeccompChoice::Default => {
                seccomp::default_profile_path(seccomp::DEFAULT_PROFILE_PATHS)?
            }
        };
        seccomp::load(&path, &target).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(add: &[&str], drop: &[&str], sec: &[&str]) -> Result<SecurityOptions> {
        let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        SecurityOptions::from_flags(false, &strings(add), &strings(drop), &strings(sec))
    }

    #[test]
    fn capabilities_follow_podman() {
        let o = opts(&["net_admin", "CAP_SYS_TIME"], &["chown", "CAP_KILL"], &[]).unwrap();
        let caps = o.capabilities();
        assert!(caps.contains("CAP_NET_ADMIN") && caps.contains("CAP_SYS_TIME"));
        assert!(!caps.contains("CAP_CHOWN") && !caps.contains("CAP_KILL"));
        assert!(caps.contains("CAP_SETUID"));

        let o = opts(&["NET_RAW"], &["all"], &[]).unwrap();
        assert_eq!(
            o.capabilities().into_iter().collect::<Vec<_>>(),
            ["CAP_NET_RAW"]
        );

        let o = opts(&["chown,kill"], &["ALL"], &[]).unwrap();
        assert_eq!(o.capabilities().len(), 2);

        let err = opts(&["CAP_NOPE"], &[], &[]).unwrap_err().to_string();
        assert!(err.contains("CAP_NOPE"), "{err}");
    }

    #[test]
    fn security_opts_parse() {
        let o = opts(&[], &[], &["no-new-privileges", "seccomp=unconfined"]).unwrap();
        assert!(o.no_new_privileges);
        assert_eq!(o.seccomp, SeccompChoice::Unconfined);
        assert_eq!(o.seccomp().unwrap(), None);
        assert!(
            opts(&[], &[], &["no-new-privileges:true"])
                .unwrap()
                .no_new_privileges
        );
        assert!(opts(&[], &[], &["label=disable"]).is_ok());
        assert!(matches!(
            opts(&[], &[], &["label=type:foo"]),
            Err(EngineError::NotSupported(_))
        ));
        assert!(opts(&[], &[], &["bogus"]).is_err());
        assert!(opts(&[], &[], &["seccomp=/nonexistent/profile.json"]).is_err());
    }

    #[test]
    fn a_profile_file_is_used() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.json");
        std::fs::write(
            &path,
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO","errnoRet":1}]}"#,
        )
        .unwrap();
        let o = opts(&[], &[], &[&format!("seccomp={}", path.display())]).unwrap();
        let seccomp = o.seccomp().unwrap().unwrap();
        assert_eq!(seccomp.syscalls().clone().unwrap()[0].names(), &["mkdir"]);
        let privileged = SecurityOptions {
            privileged: true,
            ..o
        };
        assert_eq!(privileged.seccomp().unwrap(), None);
    }
}
