//! What `info` says of the host beyond the kernel: its distribution (`/etc/os-release`), its
//! uptime, CPU use since boot, cgroup controllers and the store's file system, as podman
//! writes them.

use serde::Serialize;

/// The host's distribution, podman's `host.distribution` (`pretty_name` is Docker's
/// `OperatingSystem`, which podman does not show).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Distribution {
    pub distribution: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub variant: String,
    pub version: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub codename: String,
    #[serde(skip)]
    pub pretty_name: String,
}

/// Where the distribution is described; the second is the fallback the file's format
/// names.
const OS_RELEASE: [&str; 2] = ["/etc/os-release", "/usr/lib/os-release"];

impl Distribution {
    pub fn of_host() -> Distribution {
        OS_RELEASE
            .iter()
            .find_map(|path| std::fs::read_to_string(path).ok())
            .map(|text| Distribution::parse(&text))
            .unwrap_or_default()
    }

    /// os-release's `KEY=VALUE` lines, values quoted or not. Read by hand: the format is a
    /// few shell-like assignments, and only four keys are wanted.
    pub fn parse(text: &str) -> Distribution {
        let mut found = Distribution::default();
        for line in text.lines() {
            let Some((key, value)) = line.trim().split_once('=') else {
                continue;
            };
            let value = value.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(value)
                .replace("\\\"", "\"");
            match key {
                "ID" => found.distribution = value,
                "VARIANT_ID" => found.variant = value,
                "VERSION_ID" => found.version = value,
                "VERSION_CODENAME" => found.codename = value,
                "PRETTY_NAME" => found.pretty_name = value,
                _ => {}
            }
        }
        if found.pretty_name.is_empty() {
            found.pretty_name = "Linux".into();
        }
        found
    }
}

/// How long the host has run, as podman writes it: `15h 15m 50.00s (Approximately 0.62
/// days)`.
pub fn uptime_text(seconds: f64) -> String {
    let whole = seconds as u64;
    let (hours, minutes) = (whole / 3600, whole % 3600 / 60);
    let rest = seconds - (hours * 3600 + minutes * 60) as f64;
    format!(
        "{hours}h {minutes}m {rest:.2}s (Approximately {:.2} days)",
        seconds / 86400.0
    )
}

/// podman's `host.cpuUtilization`: the shares of user, system and idle time since boot in
/// `/proc/stat`'s first line, of those three together, in percent to two places.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CpuUsage {
    pub user_percent: f64,
    pub system_percent: f64,
    pub idle_percent: f64,
}

impl CpuUsage {
    pub fn of_host() -> CpuUsage {
        std::fs::read_to_string("/proc/stat")
            .map(|text| CpuUsage::parse(&text))
            .unwrap_or_default()
    }

    fn parse(proc_stat: &str) -> CpuUsage {
        // cpu  USER NICE SYSTEM IDLE ...
        let fields: Vec<f64> = proc_stat
            .lines()
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .skip(1)
            .map(|f| f.parse().unwrap_or(0.0))
            .collect();
        let (user, system, idle) = match fields.as_slice() {
            [user, _nice, system, idle, ..] => (*user, *system, *idle),
            _ => return CpuUsage::default(),
        };
        let total = user + system + idle;
        if total <= 0.0 {
            return CpuUsage::default();
        }
        let percent = |part: f64| (part / total * 100.0 * 100.0).round() / 100.0;
        CpuUsage {
            user_percent: percent(user),
            system_percent: percent(system),
            idle_percent: percent(idle),
        }
    }
}

/// podman's `host.cgroupControllers`: on cgroup v2 those `/sys/fs/cgroup/cgroup.controllers`
/// lists, on v1 those `/proc/cgroups` has mounted and enabled, in its order.
pub fn cgroup_controllers(v2: bool) -> Vec<String> {
    if v2 {
        return std::fs::read_to_string("/sys/fs/cgroup/cgroup.controllers")
            .map(|text| text.split_whitespace().map(String::from).collect())
            .unwrap_or_default();
    }
    std::fs::read_to_string("/proc/cgroups")
        .map(|text| mounted_v1_controllers(&text))
        .unwrap_or_default()
}

fn mounted_v1_controllers(proc_cgroups: &str) -> Vec<String> {
    proc_cgroups
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            // NAME HIERARCHY NUM_CGROUPS ENABLED; hierarchy 0 is not mounted (or on v2).
            let fields: Vec<&str> = line.split_whitespace().collect();
            match fields.as_slice() {
                [name, hierarchy, _, "1"] if *hierarchy != "0" => Some(name.to_string()),
                _ => None,
            }
        })
        .collect()
}

/// The file system under `path` as containers/storage names it in podman's
/// `store.graphStatus` (`Backing Filesystem`).
pub fn backing_filesystem(path: &std::path::Path) -> &'static str {
    let Ok(fs) = nix::sys::statfs::statfs(path) else {
        return "<unknown>";
    };
    match fs.filesystem_type().0 as u64 {
        0xEF53 => "extfs",
        0x5846_5342 => "xfs",
        0x0102_1994 => "tmpfs",
        0x9123_683E => "btrfs",
        0x794C_7630 => "overlayfs",
        0x2FC1_2FC1 => "zfs",
        0x6969 => "nfs",
        _ => "<unknown>",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_use_and_controllers_read_as_podman_reads_them() {
        let usage = CpuUsage::parse(
            "cpu  2191648 5 1621410 10332961 48277 0 11783 6417 0 0
cpu0 1 2 3 4
",
        );
        assert_eq!(
            usage,
            CpuUsage {
                user_percent: 15.49,
                system_percent: 11.46,
                idle_percent: 73.05
            }
        );
        assert_eq!(CpuUsage::parse(""), CpuUsage::default());
        let listed = "#subsys_name\thierarchy\tnum_cgroups\tenabled\ncpuset\t3\t6\t1\n\
                      net_cls\t0\t7\t1\nmemory\t4\t101\t1\nrdma\t9\t1\t0\n";
        assert_eq!(mounted_v1_controllers(listed), ["cpuset", "memory"]);
    }

    #[test]
    fn os_release_is_read_with_and_without_quotes() {
        let found = Distribution::parse(
            "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nVERSION_ID=\"12\"\n\
             VERSION_CODENAME=bookworm\nID=debian\n# a comment\nHOME_URL='x'\n",
        );
        assert_eq!(
            found,
            Distribution {
                distribution: "debian".into(),
                variant: String::new(),
                version: "12".into(),
                codename: "bookworm".into(),
                pretty_name: "Debian GNU/Linux 12 (bookworm)".into(),
            }
        );
        assert_eq!(Distribution::parse("").pretty_name, "Linux");
    }

    #[test]
    fn uptime_as_podman_writes_it() {
        assert_eq!(
            uptime_text(54950.0),
            "15h 15m 50.00s (Approximately 0.64 days)"
        );
    }
}
