//! Linux capabilities by name and number, and the set this process may hand on.

use std::collections::HashSet;
use std::fs;

use oci_spec::runtime::Capability;

/// Capability names by number, in the kernel's order (bit N of a capability mask).
pub const CAPABILITIES_BY_NUMBER: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// The capabilities in our own bounding set: all a `--privileged` session can get.
pub fn host_bounding_set() -> HashSet<Capability> {
    let mask = fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("CapBnd:"))
                .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        })
        .unwrap_or(0);
    CAPABILITIES_BY_NUMBER
        .iter()
        .enumerate()
        .filter(|(bit, _)| mask & (1u64 << bit) != 0)
        .filter_map(|(_, name)| parse(name))
        .collect()
}

/// The OCI name of a capability as a user may write it (`net_admin`, `CAP_NET_ADMIN`), if
/// the kernel has such a capability.
pub fn canonical_name(text: &str) -> Option<&'static str> {
    let upper = text.trim().to_ascii_uppercase();
    let full = if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    };
    CAPABILITIES_BY_NUMBER.iter().copied().find(|c| *c == full)
}

/// The OCI type of a capability name from `CAPABILITIES_BY_NUMBER`.
pub fn parse(name: &str) -> Option<Capability> {
    serde_json::from_value(serde_json::Value::String(name.to_string())).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_canonical() {
        assert_eq!(canonical_name("net_admin"), Some("CAP_NET_ADMIN"));
        assert_eq!(canonical_name("CAP_SYS_ADMIN"), Some("CAP_SYS_ADMIN"));
        assert_eq!(canonical_name("cap_chown"), Some("CAP_CHOWN"));
        assert_eq!(canonical_name("nope"), None);
        assert!(CAPABILITIES_BY_NUMBER.iter().all(|c| parse(c).is_some()));
    }
}
