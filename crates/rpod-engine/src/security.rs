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
    /// `--security-opt mask=PATH:...`: more paths hidden from the container.
    #[serde(default)]
    pub mask: Vec<String>,
    /// `--security-opt unmask=PATH:...|ALL`: default masked or read-only paths left as
    /// they are (`*` and `?` as in Go's `filepath.Match`, as podman reads them).
    #[serde(default)]
    pub unmask: Vec<String>,
    /// `--security-opt proc-opts=OPTION,...`: the container's `/proc` mount's options
    /// beside rpod's (`hidepid=`, `gid=`, `subset=pid`).
    #[serde(default)]
    pub proc_opts: Vec<String>,
}

/// The options of `/proc` a container may ask for: the kernel's procfs options, with
/// their values checked (anything else would reach the runtime's mount unread).
fn proc_option(option: &str) -> bool {
    match option.split_once('=') {
        Some(("hidepid", value)) => {
            matches!(
                value,
                "0" | "1" | "2" | "4" | "off" | "noaccess" | "invisible" | "ptraceable"
            )
        }
        Some(("gid", value)) => value.parse::<u32>().is_ok(),
        Some(("subset", value)) => value == "pid",
        _ => false,
    }
}

/// Whether `path` matches `pattern` as Go's `filepath.Match` reads it (podman's `unmask=`
/// patterns, its image `reference=` filters): segment by segment, `*` any run of
/// characters and `?` one. Written by hand: two wildcards need no dependency; `[` classes
/// are refused where an option is read, and match only themselves here.
pub(crate) fn path_matches(pattern: &str, path: &str) -> bool {
    let patterns: Vec<&str> = pattern.split('/').collect();
    let segments: Vec<&str> = path.split('/').collect();
    patterns.len() == segments.len()
        && patterns
            .iter()
            .zip(&segments)
            .all(|(p, s)| segment_matches(p.as_bytes(), s.as_bytes()))
}

/// One segment against a pattern of literal bytes, `*` and `?`: the usual two-pointer walk
/// that lets the last `*` take one more byte on a mismatch (linear in practice, never
/// exponential, whatever a request sends).
pub(crate) fn segment_matches(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == b'?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((star_p, star_t)) => {
                    p = star_p + 1;
                    t = star_t + 1;
                    star = Some((star_p, star_t + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|c| *c == b'*')
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
        let invalid = || {
            EngineError::InvalidArg(format!(
                "invalid --security-opt {opt:?}: use no-new-privileges[=true|false], \
                 seccomp=unconfined|PROFILE, mask=PATHS, unmask=PATHS|ALL, proc-opts=OPTIONS, \
                 systempaths=unconfined, label=disable or apparmor=unconfined"
            ))
        };
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
            ("mask", Some(paths)) if !paths.is_empty() => {
                for path in paths.split(':') {
                    if !path.starts_with('/') {
                        return Err(EngineError::InvalidArg(format!(
                            "invalid --security-opt {opt:?}: {path:?} is not an absolute path"
                        )));
                    }
                    self.mask.push(path.to_string());
                }
            }
            ("unmask", Some(paths)) if !paths.is_empty() => {
                for path in paths.split(':') {
                    if path.contains(['[', '\\']) {
                        return Err(EngineError::NotSupported(format!(
                            "character classes and escapes in --security-opt unmask ({path:?}): use * and ?"
                        )));
                    }
                    if !path.eq_ignore_ascii_case("all") && !path.starts_with('/') {
                        return Err(EngineError::InvalidArg(format!(
                            "invalid --security-opt {opt:?}: {path:?} is not ALL or an absolute path"
                        )));
                    }
                    self.unmask.push(path.to_string());
                }
            }
            // podman's and Docker's name for unmasking everything.
            ("systempaths", Some("unconfined")) => self.unmask.push("ALL".into()),
            ("proc-opts", Some(options)) if !options.is_empty() => {
                for option in options.split(',') {
                    if !proc_option(option) {
                        return Err(EngineError::InvalidArg(format!(
                            "invalid --security-opt {opt:?}: {option:?} is not a /proc option (hidepid=, gid=, subset=pid)"
                        )));
                    }
                    self.proc_opts.push(option.to_string());
                }
            }
            ("label" | "apparmor", Some(_)) => {
                return Err(EngineError::NotSupported(format!("--security-opt {opt}")))
            }
            _ => return Err(invalid()),
        }
        Ok(())
    }

    /// Whether a default masked or read-only path stays so (`unmask` does not name it).
    fn keeps(&self, path: &str) -> bool {
        !self
            .unmask
            .iter()
            .any(|u| u.eq_ignore_ascii_case("all") || path_matches(u, path))
    }

    /// The paths hidden from the container: podman's defaults but the unmasked, and `mask`'s.
    pub fn masked_paths(&self) -> Vec<String> {
        MASKED_PATHS
            .iter()
            .filter(|p| self.keeps(p))
            .map(|p| p.to_string())
            .chain(self.mask.iter().cloned())
            .collect()
    }

    /// The paths mounted read-only: podman's defaults but the unmasked.
    pub fn readonly_paths(&self) -> Vec<String> {
        READONLY_PATHS
            .iter()
            .filter(|p| self.keeps(p))
            .map(|p| p.to_string())
            .collect()
    }

    /// The container's capabilities (bounding, effective and permitted alike), as podman
    /// computes them: the default set, or none after `--cap-drop ALL`, less the dropped, plus
    /// the added; everything this process holds when privileged, and after `--cap-add ALL`
    /// less the dropped (`--cap-add ALL --cap-drop NET_RAW`, as podman's and Docker's).
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
            caps.extend(host().into_iter().filter(|c| !self.cap_drop.contains(c)));
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

    #[test]
    fn unmask_patterns_match_as_gos_filepath_match() {
        assert!(path_matches("/proc/keys", "/proc/keys"));
        assert!(path_matches("/proc/k*", "/proc/keys"));
        assert!(path_matches("/proc/k*", "/proc/kcore"));
        assert!(path_matches("/proc/*", "/proc/sys"));
        assert!(!path_matches("/proc/*", "/proc/sys/kernel"));
        assert!(!path_matches("/sys/*", "/proc/sys"));
        assert!(path_matches("/proc/?cpi", "/proc/acpi"));
        assert!(path_matches("/sys/*/block", "/sys/dev/block"));
        assert!(!path_matches("/proc/keys", "/proc/key"));
        // A pattern made to blow up a backtracking matcher answers at once.
        let hostile = format!("/{}b", "*a".repeat(40));
        assert!(!path_matches(&hostile, &format!("/{}", "a".repeat(60))));
    }

    #[test]
    fn mask_and_unmask_change_the_default_paths() {
        let options = |opts: &[&str]| {
            let opts: Vec<String> = opts.iter().map(|o| o.to_string()).collect();
            SecurityOptions::from_flags(false, &[], &[], &opts)
        };
        let plain = options(&[]).unwrap();
        assert_eq!(plain.masked_paths().len(), MASKED_PATHS.len());
        assert_eq!(plain.readonly_paths().len(), READONLY_PATHS.len());
        let some = options(&["unmask=/proc/k*:/proc/sys", "mask=/proc/cpuinfo:/opt"]).unwrap();
        let masked = some.masked_paths();
        assert!(!masked
            .iter()
            .any(|p| p == "/proc/kcore" || p == "/proc/keys"));
        assert!(masked.iter().any(|p| p == "/proc/acpi"));
        assert!(masked.ends_with(&["/proc/cpuinfo".to_string(), "/opt".to_string()]));
        assert!(!some.readonly_paths().iter().any(|p| p == "/proc/sys"));
        let all = options(&["unmask=ALL"]).unwrap();
        assert!(all.masked_paths().is_empty() && all.readonly_paths().is_empty());
        assert_eq!(options(&["systempaths=unconfined"]).unwrap(), all);
        assert!(options(&["systempaths=strict"]).is_err());
        for bad in ["mask=relative", "unmask=proc", "mask=", "unmask="] {
            assert!(options(&[bad]).is_err(), "{bad} was taken");
        }
        assert!(matches!(
            options(&["unmask=/proc/[ks]*"]),
            Err(EngineError::NotSupported(_))
        ));
    }

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

        // Everything held, less what is dropped.
        let all = opts(&["ALL"], &[], &[]).unwrap().capabilities();
        let o = opts(&["ALL"], &["net_raw", "CAP_SYS_ADMIN"], &[]).unwrap();
        let caps = o.capabilities();
        assert!(!caps.contains("CAP_NET_RAW") && !caps.contains("CAP_SYS_ADMIN"));
        assert_eq!(caps.len() + 2, all.len(), "{caps:?}");

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
        let err = opts(&[], &[], &["bogus"]).unwrap_err().to_string();
        assert!(
            err.contains(r#"invalid --security-opt "bogus": use no-new-privileges"#),
            "{err}"
        );
        assert!(opts(&[], &[], &["seccomp=/nonexistent/profile.json"]).is_err());
        let proc = opts(
            &[],
            &[],
            &["proc-opts=hidepid=2,gid=5", "proc-opts=subset=pid"],
        )
        .unwrap();
        assert_eq!(proc.proc_opts, ["hidepid=2", "gid=5", "subset=pid"]);
        for bad in [
            "proc-opts=rw",
            "proc-opts=hidepid=9",
            "proc-opts=gid=x",
            "proc-opts=",
        ] {
            assert!(
                matches!(opts(&[], &[], &[bad]), Err(EngineError::InvalidArg(_))),
                "{bad}"
            );
        }
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
