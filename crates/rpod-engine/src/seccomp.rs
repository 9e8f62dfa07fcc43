//! Seccomp profiles in the container tools' JSON format (the one podman reads from
//! `/usr/share/containers/seccomp.json`), turned into the OCI spec's `linux.seccomp`.
//!
//! That format is a superset of the OCI one: an `archMap` to pick architectures from, and
//! per-rule `includes`/`excludes` conditions on architecture, capabilities and kernel
//! version, decided here for the container being created. No crate reads it; the rules are
//! few and documented with containers/common, so they are applied here.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxSeccomp;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::{EngineError, Result};

/// Where podman (and so rpod) looks for the default profile, first match wins.
pub const DEFAULT_PROFILE_PATHS: &[&str] = &[
    "/etc/containers/seccomp.json",
    "/usr/share/containers/seccomp.json",
];

/// The largest profile read.
const PROFILE_LIMIT: u64 = 8 << 20;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Profile {
    default_action: String,
    #[serde(default)]
    default_errno_ret: Option<u32>,
    #[serde(default)]
    architectures: Vec<String>,
    #[serde(default)]
    arch_map: Vec<ArchMap>,
    #[serde(default)]
    flags: Vec<String>,
    #[serde(default)]
    syscalls: Vec<Rule>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ArchMap {
    architecture: String,
    #[serde(default)]
    sub_architectures: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    names: Vec<String>,
    action: String,
    #[serde(default)]
    errno_ret: Option<u32>,
    #[serde(default)]
    args: Option<Vec<Arg>>,
    #[serde(default)]
    includes: Filter,
    #[serde(default)]
    excludes: Filter,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Arg {
    index: u32,
    value: u64,
    #[serde(default)]
    value_two: u64,
    op: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Filter {
    #[serde(default)]
    arches: Vec<String>,
    #[serde(default)]
    caps: Vec<String>,
    #[serde(default)]
    min_kernel: Option<String>,
}

/// What a profile is decided against.
pub struct Target<'a> {
    /// The Go name of the architecture (`amd64`, `arm64`), as profiles name it.
    pub arch: &'a str,
    /// The container's bounding capabilities (`CAP_...`).
    pub capabilities: &'a HashSet<String>,
    /// The running kernel's (major, minor).
    pub kernel: (u32, u32),
}

/// The Go architecture name of this machine.
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

/// The seccomp architecture of a Go architecture name.
fn scmp_arch(go_arch: &str) -> Option<&'static str> {
    Some(match go_arch {
        "amd64" => "SCMP_ARCH_X86_64",
        "386" => "SCMP_ARCH_X86",
        "arm64" => "SCMP_ARCH_AARCH64",
        "arm" => "SCMP_ARCH_ARM",
        "ppc64le" => "SCMP_ARCH_PPC64LE",
        "s390x" => "SCMP_ARCH_S390X",
        "riscv64" => "SCMP_ARCH_RISCV64",
        _ => return None,
    })
}

/// The running kernel's version as (major, minor).
pub fn kernel_version() -> (u32, u32) {
    let release = nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    parse_version(&release).unwrap_or((0, 0))
}

fn parse_version(text: &str) -> Option<(u32, u32)> {
    let mut parts = text.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next().and_then(|m| m.parse().ok()).unwrap_or(0);
    Some((major, minor))
}

/// The default profile's path, or an error that says how to get one or go without.
pub fn default_profile_path(candidates: &[&str]) -> Result<PathBuf> {
    candidates
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .ok_or_else(|| {
            EngineError::InvalidArg(format!(
                "no seccomp profile found (looked for {}): install one (Debian: apt-get install golang-github-containers-common), or run without seccomp confinement with --security-opt seccomp=unconfined",
                candidates.join(", ")
            ))
        })
}

/// Read a profile file and decide it for `target`.
pub fn load(path: &Path, target: &Target<'_>) -> Result<LinuxSeccomp> {
    let bad = |message: String| {
        EngineError::InvalidArg(format!("seccomp profile {}: {message}", path.display()))
    };
    let meta = std::fs::metadata(path).map_err(|e| bad(e.to_string()))?;
    if !meta.is_file() || meta.len() > PROFILE_LIMIT {
        return Err(bad(format!(
            "not a regular file of at most {PROFILE_LIMIT} bytes"
        )));
    }
    let bytes = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    load_bytes(bytes, &path.display().to_string(), target)
}

/// A profile given as text (`--seccomp-policy image`: an image's label); `source` names it
/// in errors.
pub fn load_text(text: &str, source: &str, target: &Target<'_>) -> Result<LinuxSeccomp> {
    if text.len() as u64 > PROFILE_LIMIT {
        return Err(EngineError::InvalidArg(format!(
            "seccomp profile {source}: more than {PROFILE_LIMIT} bytes"
        )));
    }
    load_bytes(text.as_bytes().to_vec(), source, target)
}

fn load_bytes(bytes: Vec<u8>, source: &str, target: &Target<'_>) -> Result<LinuxSeccomp> {
    let bad =
        |message: String| EngineError::InvalidArg(format!("seccomp profile {source}: {message}"));
    let mut last = LAST_CONVERTED.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(hit) = last.as_ref().filter(|c| c.matches(&bytes, target)) {
        return Ok(hit.seccomp.clone());
    }
    let seccomp = convert(&bytes, target).map_err(bad)?;
    *last = Some(Converted {
        bytes,
        arch: target.arch.to_string(),
        capabilities: target.capabilities.clone(),
        kernel: target.kernel,
        seccomp: seccomp.clone(),
    });
    Ok(seccomp)
}

/// The profile this process converted last, and what it was converted from. `run`
/// converts its profile twice (the create's check, then the spec) and the service once for
/// every container; parsing and deciding some 440 rules is what costs, not reading the file.
struct Converted {
    bytes: Vec<u8>,
    arch: String,
    capabilities: HashSet<String>,
    kernel: (u32, u32),
    seccomp: LinuxSeccomp,
}

impl Converted {
    fn matches(&self, bytes: &[u8], target: &Target<'_>) -> bool {
        self.bytes == bytes
            && self.arch == target.arch
            && self.kernel == target.kernel
            && &self.capabilities == target.capabilities
    }
}

static LAST_CONVERTED: std::sync::Mutex<Option<Converted>> = std::sync::Mutex::new(None);

/// Turn a profile (containers' format, or plain OCI, which is a subset) into the spec's.
pub fn convert(bytes: &[u8], target: &Target<'_>) -> std::result::Result<LinuxSeccomp, String> {
    let profile: Profile = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    let mut architectures = profile.architectures.clone();
    let native = scmp_arch(target.arch);
    for entry in &profile.arch_map {
        if Some(entry.architecture.as_str()) == native {
            architectures.push(entry.architecture.clone());
            architectures.extend(entry.sub_architectures.iter().cloned());
        }
    }
    let mut syscalls = Vec::new();
    for rule in &profile.syscalls {
        if !applies(rule, target) {
            continue;
        }
        let mut names = rule.names.clone();
        names.extend(rule.name.iter().cloned());
        if names.is_empty() {
            continue;
        }
        let mut syscall = json!({ "names": names, "action": rule.action });
        if let Some(errno) = rule.errno_ret {
            syscall["errnoRet"] = json!(errno);
        }
        if let Some(args) = &rule.args {
            syscall["args"] = Value::Array(
                args.iter()
                    .map(|a| {
                        json!({"index": a.index, "value": a.value, "valueTwo": a.value_two, "op": a.op})
                    })
                    .collect(),
            );
        }
        syscalls.push(syscall);
    }
    let mut seccomp = json!({
        "defaultAction": profile.default_action,
        "architectures": architectures,
        "syscalls": syscalls,
    });
    if let Some(errno) = profile.default_errno_ret {
        seccomp["defaultErrnoRet"] = json!(errno);
    }
    if !profile.flags.is_empty() {
        seccomp["flags"] = json!(profile.flags);
    }
    serde_json::from_value(seccomp).map_err(|e| e.to_string())
}

fn applies(rule: &Rule, target: &Target<'_>) -> bool {
    let includes = &rule.includes;
    let excludes = &rule.excludes;
    if !includes.arches.is_empty() && !includes.arches.iter().any(|a| a == target.arch) {
        return false;
    }
    if excludes.arches.iter().any(|a| a == target.arch) {
        return false;
    }
    if !includes
        .caps
        .iter()
        .all(|c| target.capabilities.contains(c))
    {
        return false;
    }
    if excludes
        .caps
        .iter()
        .any(|c| target.capabilities.contains(c))
    {
        return false;
    }
    if let Some(min) = includes.min_kernel.as_deref().and_then(parse_version) {
        if target.kernel < min {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROFILE: &str = r#"{
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 38,
        "archMap": [
            {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
            {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}
        ],
        "syscalls": [
            {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW", "args": [], "includes": {}, "excludes": {}},
            {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 8, "valueTwo": 0, "op": "SCMP_CMP_EQ"}]},
            {"names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["amd64"]}},
            {"names": ["breakpoint"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["arm64"]}},
            {"names": ["chroot"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_CHROOT"]}},
            {"names": ["chroot"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1, "excludes": {"caps": ["CAP_SYS_CHROOT"]}},
            {"names": ["new_thing"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "9.1"}}
        ]
    }"#;

    fn names(seccomp: &LinuxSeccomp) -> Vec<String> {
        seccomp
            .syscalls()
            .clone()
            .unwrap_or_default()
            .iter()
            .flat_map(|s| s.names().clone())
            .collect()
    }

    #[test]
    fn rules_are_decided_for_the_container() {
        let caps: HashSet<String> = ["CAP_SYS_CHROOT".to_string()].into();
        let target = Target {
            arch: "amd64",
            capabilities: &caps,
            kernel: (6, 1),
        };
        let seccomp = convert(PROFILE.as_bytes(), &target).unwrap();
        let json = serde_json::to_value(&seccomp).unwrap();
        assert_eq!(json["defaultAction"], "SCMP_ACT_ERRNO");
        assert_eq!(json["defaultErrnoRet"], 38);
        assert_eq!(
            json["architectures"],
            json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"])
        );
        assert_eq!(
            names(&seccomp),
            ["read", "write", "personality", "arch_prctl", "chroot"]
        );
        let chroot = &json["syscalls"][3];
        assert_eq!(chroot["action"], "SCMP_ACT_ALLOW");
        assert_eq!(json["syscalls"][1]["args"][0]["op"], "SCMP_CMP_EQ");

        let none = HashSet::new();
        let target = Target {
            arch: "arm64",
            capabilities: &none,
            kernel: (10, 0),
        };
        let seccomp = convert(PROFILE.as_bytes(), &target).unwrap();
        assert_eq!(
            names(&seccomp),
            [
                "read",
                "write",
                "personality",
                "breakpoint",
                "chroot",
                "new_thing"
            ]
        );
        let json = serde_json::to_value(&seccomp).unwrap();
        assert_eq!(json["syscalls"][3]["action"], "SCMP_ACT_ERRNO");
        assert_eq!(json["syscalls"][3]["errnoRet"], 1);
    }

    /// `load` keeps the last conversion, and gives it only for the same profile and target.
    #[test]
    fn a_loaded_profile_is_converted_anew_when_it_or_the_target_changed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("profile.json");
        std::fs::write(&path, PROFILE).unwrap();
        let chroot: HashSet<String> = ["CAP_SYS_CHROOT".to_string()].into();
        let none = HashSet::new();
        let target = |capabilities| Target {
            arch: "amd64",
            capabilities,
            kernel: (6, 1),
        };
        let action_of_chroot = |seccomp: &LinuxSeccomp| {
            serde_json::to_value(seccomp).unwrap()["syscalls"][3]["action"].clone()
        };
        let first = load(&path, &target(&chroot)).unwrap();
        assert_eq!(load(&path, &target(&chroot)).unwrap(), first);
        assert_eq!(action_of_chroot(&first), "SCMP_ACT_ALLOW");
        assert_eq!(
            action_of_chroot(&load(&path, &target(&none)).unwrap()),
            "SCMP_ACT_ERRNO"
        );
        std::fs::write(&path, PROFILE.replace("\"read\", ", "")).unwrap();
        let changed = load(&path, &target(&none)).unwrap();
        assert_eq!(names(&changed)[0], "write");
        std::fs::write(&path, "{").unwrap();
        assert!(load(&path, &target(&none)).is_err());
    }

    #[test]
    fn bad_profiles_are_refused() {
        let caps = HashSet::new();
        let target = Target {
            arch: "amd64",
            capabilities: &caps,
            kernel: (6, 1),
        };
        assert!(convert(b"{", &target).is_err());
        assert!(convert(br#"{"defaultAction": "SCMP_ACT_NOPE"}"#, &target).is_err());
        assert!(convert(
            br#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["x"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_WHAT"}]}]}"#,
            &target
        )
        .is_err());
    }

    #[test]
    fn a_missing_default_profile_says_what_to_do() {
        let err = default_profile_path(&["/nonexistent/seccomp.json"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("seccomp=unconfined"), "{err}");
        assert!(err.contains("/nonexistent/seccomp.json"), "{err}");
    }

    #[test]
    fn kernel_versions_parse() {
        assert_eq!(parse_version("6.18.0-1-amd64"), Some((6, 18)));
        assert_eq!(parse_version("5.4"), Some((5, 4)));
        assert_eq!(parse_version("x"), None);
    }

    #[test]
    fn the_distribution_profile_converts_when_present() {
        let Ok(path) = default_profile_path(DEFAULT_PROFILE_PATHS) else {
            return; // not installed on this machine: covered by the integration tests
        };
        let caps: HashSet<String> = ["CAP_CHOWN".to_string()].into();
        let target = Target {
            arch: host_arch(),
            capabilities: &caps,
            kernel: kernel_version(),
        };
        let seccomp = load(&path, &target).unwrap();
        assert!(names(&seccomp).iter().any(|n| n == "read"));
        // Without CAP_SYS_ADMIN, bpf is listed only by the rule that refuses it.
        for syscall in seccomp.syscalls().clone().unwrap_or_default() {
            if syscall.names().iter().any(|n| n == "bpf") {
                let action = serde_json::to_value(syscall.action()).unwrap();
                assert_eq!(action, "SCMP_ACT_ERRNO");
            }
        }
    }
}
