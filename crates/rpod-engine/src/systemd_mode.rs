//! systemd mode (`--systemd`): a container whose command is systemd gets what systemd needs
//! to run as its init without privileges, as podman gives it: tmpfs file systems on /run,
//! /run/lock, /tmp and /var/log/journal (systemd mounts them itself when it may, and stops
//! when it may not), a writable cgroup of its own, `SIGRTMIN+3` (systemd's "halt") as the
//! stop signal, and `container_uuid` in its environment.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{EngineError, Result};

/// `--systemd`: when a container is in systemd mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum SystemdMode {
    /// Never (the engine's default: the Docker API has no systemd mode).
    #[default]
    False,
    /// When the command is an init (podman's default).
    True,
    /// Whatever the command.
    Always,
}

impl SystemdMode {
    pub fn parse(text: &str) -> Result<Self> {
        match text {
            "true" => Ok(SystemdMode::True),
            "false" => Ok(SystemdMode::False),
            "always" => Ok(SystemdMode::Always),
            other => Err(EngineError::InvalidArg(format!(
                "invalid --systemd {other:?}: use true, false or always"
            ))),
        }
    }

    /// Whether a container running `args` (entrypoint and command) is in systemd mode.
    pub fn applies_to(self, args: &[String]) -> bool {
        match self {
            SystemdMode::False => false,
            SystemdMode::Always => true,
            SystemdMode::True => runs_systemd(args),
        }
    }
}

/// The inits podman recognises by path; anything else counts when its name is `systemd`.
const INIT_PATHS: &[&str] = &["/sbin/init", "/usr/sbin/init", "/usr/local/sbin/init"];

/// Whether `args` starts systemd: an init path, or a program named `systemd`, also behind
/// `/bin/sh -c` (as a build's shell-form entrypoint is).
fn runs_systemd(args: &[String]) -> bool {
    let program = match args {
        [sh, c, program, ..] if sh == "/bin/sh" && c == "-c" => program,
        [program, ..] => program,
        [] => return false,
    };
    INIT_PATHS.contains(&program.as_str())
        || Path::new(program).file_name().and_then(|n| n.to_str()) == Some("systemd")
}

/// systemd's "halt" request, the stop signal of a container in systemd mode unless its
/// image or its creator chose another.
pub fn stop_signal() -> i32 {
    libc::SIGRTMIN() + 3
}

/// Where systemd in the container finds a file system of its own to write (podman's set).
pub const TMPFS_PATHS: &[&str] = &["/run", "/run/lock", "/tmp", "/var/log/journal"];

/// The options of those file systems: the image's content at each place is copied in.
pub const TMPFS_OPTIONS: &[&str] = &["rw", "rprivate", "nosuid", "nodev", "tmpcopyup"];

/// How the container's cgroup is made writable for systemd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SystemdCgroup {
    /// cgroup v2: the container's cgroup namespace shows its own cgroup at /sys/fs/cgroup,
    /// mounted writable.
    Unified,
    /// cgroup v1: the container's own cgroup of the `name=systemd` hierarchy (this host
    /// directory) bound writable at /sys/fs/cgroup/systemd, the other hierarchies left
    /// read-only. podman binds the whole hierarchy there, which lets a container move any
    /// host process's systemd cgroup; the container's own namespace shows it its cgroup
    /// as `/`, so its own directory is all it needs.
    NamedHierarchy(PathBuf),
}

impl SystemdCgroup {
    /// For a container whose cgroup is `relative` (its spec's `cgroupsPath`) on a host
    /// whose cgroup file systems are mounted under `cgroup_root`.
    pub fn for_host(cgroup_root: &Path, relative: &str) -> Self {
        if crate::pod_cgroups::unified(cgroup_root) {
            SystemdCgroup::Unified
        } else {
            SystemdCgroup::NamedHierarchy(
                cgroup_root
                    .join("systemd")
                    .join(relative.trim_start_matches('/')),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn inits_and_systemd_turn_the_mode_on_unless_false() {
        for on in [
            &["/sbin/init"][..],
            &["/usr/sbin/init", "--log-level=debug"],
            &["/usr/local/sbin/init"],
            &["/lib/systemd/systemd"],
            &["systemd"],
            &["/bin/sh", "-c", "/usr/sbin/init"],
        ] {
            assert!(SystemdMode::True.applies_to(&args(on)), "{on:?}");
            assert!(!SystemdMode::False.applies_to(&args(on)), "{on:?}");
        }
        for off in [
            &["/bin/init"][..],
            &["sh", "-c", "/sbin/init"],
            &["/usr/bin/systemd-run"],
            &["/bin/sh", "-c"],
            &[],
        ] {
            assert!(!SystemdMode::True.applies_to(&args(off)), "{off:?}");
        }
        assert!(SystemdMode::Always.applies_to(&args(&["sleep", "1"])));
    }

    #[test]
    fn modes_parse_and_bad_ones_are_named() {
        assert_eq!(SystemdMode::parse("always").unwrap(), SystemdMode::Always);
        assert_eq!(SystemdMode::parse("true").unwrap(), SystemdMode::True);
        assert_eq!(SystemdMode::parse("false").unwrap(), SystemdMode::False);
        let err = SystemdMode::parse("yes").unwrap_err().to_string();
        assert!(err.contains("\"yes\""), "{err}");
    }

    #[test]
    fn the_cgroup_made_writable_depends_on_the_hierarchy() {
        let v1 = tempfile::tempdir().unwrap();
        assert_eq!(
            SystemdCgroup::for_host(v1.path(), "/rpod/abc"),
            SystemdCgroup::NamedHierarchy(v1.path().join("systemd/rpod/abc"))
        );
        let v2 = tempfile::tempdir().unwrap();
        std::fs::write(v2.path().join("cgroup.controllers"), "cpu memory\n").unwrap();
        assert_eq!(
            SystemdCgroup::for_host(v2.path(), "/rpod/abc"),
            SystemdCgroup::Unified
        );
        assert_eq!(stop_signal(), 37);
    }
}
