//! `rpod top`: a container's processes (its cgroup's), described with podman's descriptors
//! (psgo's, and ps(1)'s AIX codes such as `%p`) from `/proc`, with PIDs as the container
//! sees them and users and groups named by the container's own `/etc/passwd` and
//! `/etc/group`. Words that are not all descriptors are ps(1)'s arguments, run in the
//! container (the engine's `top`).

use std::collections::HashMap;
use std::fs;
use std::path::Path;

use crate::error::{EngineError, Result};

/// The descriptors podman shows by default.
pub const DEFAULT_DESCRIPTORS: &[&str] = &[
    "user", "pid", "ppid", "pcpu", "etime", "tty", "time", "args",
];

/// (descriptor, header) pairs rpod knows; aliases share a header.
const DESCRIPTORS: &[(&str, &str)] = &[
    ("args", "COMMAND"),
    ("capamb", "AMBIENT CAPS"),
    ("capbnd", "BOUNDING CAPS"),
    ("capeff", "EFFECTIVE CAPS"),
    ("capinh", "INHERITED CAPS"),
    ("capprm", "PERMITTED CAPS"),
    ("command", "COMMAND"),
    ("comm", "COMMAND"),
    ("etime", "ELAPSED"),
    ("group", "GROUP"),
    ("hgroup", "HGROUP"),
    ("hgroups", "HGROUPS"),
    ("hpid", "HPID"),
    ("huser", "HUSER"),
    ("label", "LABEL"),
    ("nice", "NI"),
    ("pcpu", "%CPU"),
    ("pgid", "PGID"),
    ("pid", "PID"),
    ("ppid", "PPID"),
    ("rgroup", "RGROUP"),
    ("ruser", "RUSER"),
    ("seccomp", "SECCOMP"),
    ("state", "STATE"),
    ("stime", "STIME"),
    ("time", "TIME"),
    ("tty", "TTY"),
    ("user", "USER"),
    ("vsz", "VSZ"),
];

/// ps(1)'s AIX format codes and the descriptors they stand for.
const AIX_CODES: &[(&str, &str)] = &[
    ("%C", "pcpu"),
    ("%G", "group"),
    ("%P", "ppid"),
    ("%U", "user"),
    ("%a", "args"),
    ("%c", "comm"),
    ("%g", "rgroup"),
    ("%n", "nice"),
    ("%p", "pid"),
    ("%r", "pgid"),
    ("%t", "etime"),
    ("%u", "ruser"),
    ("%x", "time"),
    ("%y", "tty"),
    ("%z", "vsz"),
];

/// The descriptor a word names: itself, what an AIX code stands for, or `pcpu` for
/// `%cpu` (ps's own spelling); `None` for a word that is not a descriptor.
fn descriptor_of(word: &str) -> Option<&'static str> {
    if let Some((_, descriptor)) = AIX_CODES.iter().find(|(code, _)| *code == word) {
        return Some(descriptor);
    }
    let key = word.trim_start_matches('%');
    let key = if key == "cpu" { "pcpu" } else { key };
    DESCRIPTORS
        .iter()
        .find(|(name, _)| *name == key)
        .map(|(name, _)| *name)
}

/// The descriptors in `top`'s words: each word split at commas, as podman takes them, and
/// ps(1)'s `-o`/`-eo` dropped, so that `-eo pid,comm` is read from `/proc` like `pid comm`.
pub fn descriptor_words(words: &[String]) -> Vec<String> {
    words
        .iter()
        .flat_map(|d| d.split(','))
        .filter(|d| !d.is_empty() && *d != "-eo" && *d != "-o")
        .map(String::from)
        .collect()
}

/// What `/proc` says of one process.
#[derive(Debug, Clone, Default)]
pub struct Process {
    pub host_pid: i32,
    /// The PID in the container's namespace (the last of `NSpid`).
    pub pid: i32,
    pub host_ppid: i32,
    pub pgid: i32,
    /// Effective user and group (`user`, `group`), and the real ones (`ruser`, `rgroup`),
    /// as the host sees them.
    pub uid: u32,
    pub gid: u32,
    pub real_uid: u32,
    pub real_gid: u32,
    /// Supplementary groups, as the host sees them.
    pub groups: Vec<u32>,
    /// Capability masks (bit N: capability N).
    pub caps: Capabilities,
    /// `Seccomp:` of the status: 0 disabled, 1 strict, 2 filter.
    pub seccomp: u8,
    /// The security label (`/proc/PID/attr/current`), when the host has a module that
    /// gives one.
    pub label: Option<String>,
    pub state: char,
    pub nice: i64,
    pub tty_nr: u32,
    /// CPU time, in clock ticks.
    pub cpu_ticks: u64,
    /// Start time after boot, in clock ticks.
    pub start_ticks: u64,
    pub vsize: u64,
    pub comm: String,
    pub args: String,
}

/// A process's capability sets, as the masks of its status.
#[derive(Debug, Clone, Copy, Default)]
pub struct Capabilities {
    pub ambient: u64,
    pub bounding: u64,
    pub effective: u64,
    pub inheritable: u64,
    pub permitted: u64,
}

/// Parse `/proc/PID/stat` and `/proc/PID/status` (text given, for tests).
pub fn parse_process(host_pid: i32, stat: &str, status: &str, cmdline: &[u8]) -> Option<Process> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat[open + 1..close].to_string();
    let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
    // Fields after the command: state is 3rd of the whole line, here index 0.
    let num = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<i64>().ok())
            .unwrap_or(0)
    };
    let mut process = Process {
        host_pid,
        pid: host_pid,
        state: fields.first()?.chars().next().unwrap_or('?'),
        host_ppid: num(1) as i32,
        pgid: num(2) as i32,
        tty_nr: num(4) as u32,
        cpu_ticks: (num(11) + num(12)) as u64,
        nice: num(16),
        start_ticks: num(19) as u64,
        vsize: num(20) as u64,
        comm,
        ..Default::default()
    };
    let mask = |word: Option<&str>| word.and_then(|w| u64::from_str_radix(w, 16).ok());
    for line in status.lines() {
        let mut words = line.split_whitespace();
        match words.next() {
            // Real, effective, saved, file system.
            Some("Uid:") => {
                process.real_uid = words.next()?.parse().ok()?;
                process.uid = words.next()?.parse().ok()?;
            }
            Some("Gid:") => {
                process.real_gid = words.next()?.parse().ok()?;
                process.gid = words.next()?.parse().ok()?;
            }
            Some("Groups:") => process.groups = words.filter_map(|w| w.parse().ok()).collect(),
            Some("NSpid:") => process.pid = words.last()?.parse().ok()?,
            Some("CapAmb:") => process.caps.ambient = mask(words.next())?,
            Some("CapBnd:") => process.caps.bounding = mask(words.next())?,
            Some("CapEff:") => process.caps.effective = mask(words.next())?,
            Some("CapInh:") => process.caps.inheritable = mask(words.next())?,
            Some("CapPrm:") => process.caps.permitted = mask(words.next())?,
            Some("Seccomp:") => process.seccomp = words.next()?.parse().ok()?,
            _ => {}
        }
    }
    let args: Vec<String> = cmdline
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    process.args = if args.is_empty() {
        format!("[{}]", process.comm)
    } else {
        args.join(" ")
    };
    Some(process)
}

/// The processes of a container's cgroup, read from `/proc` (with `with_labels`, their
/// security labels too).
pub fn processes(cgroup_root: &Path, relative: &str, with_labels: bool) -> Vec<Process> {
    let relative = relative.trim_start_matches('/');
    let procs = ["pids", "memory", "cpu", "systemd"]
        .iter()
        .map(|c| cgroup_root.join(c).join(relative).join("cgroup.procs"))
        .chain(std::iter::once(
            cgroup_root.join(relative).join("cgroup.procs"),
        ))
        .find_map(|p| fs::read_to_string(p).ok())
        .unwrap_or_default();
    let mut found: Vec<Process> = procs
        .lines()
        .filter_map(|l| l.trim().parse::<i32>().ok())
        .filter_map(|pid| {
            let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
            let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let mut process = parse_process(pid, &stat, &status, &cmdline)?;
            if with_labels {
                process.label = fs::read_to_string(format!("/proc/{pid}/attr/current"))
                    .ok()
                    .map(|l| l.trim_end_matches(['\0', '\n']).to_string())
                    .filter(|l| !l.is_empty());
            }
            Some(process)
        })
        .collect();
    found.sort_by_key(|p| p.pid);
    found
}

/// Whether `descriptors` ask for the processes' security labels (read only then).
pub fn wants_labels(descriptors: &[String]) -> bool {
    descriptors
        .iter()
        .any(|d| descriptor_of(d) == Some("label"))
}

/// The descriptors rpod knows, by name (AIX codes aside).
pub fn known_descriptors() -> Vec<&'static str> {
    DESCRIPTORS.iter().map(|(name, _)| *name).collect()
}

/// Check descriptors; the headers to show for them.
pub fn headers(descriptors: &[String]) -> Result<Vec<&'static str>> {
    descriptors
        .iter()
        .map(|d| {
            descriptor_of(d)
                .and_then(|key| DESCRIPTORS.iter().find(|(name, _)| *name == key))
                .map(|(_, header)| *header)
                .ok_or_else(|| {
                    EngineError::InvalidArg(format!(
                        "unknown descriptor: {d} (known: {})",
                        known_descriptors().join(", ")
                    ))
                })
        })
        .collect()
}

/// ps(1)'s output as headers and rows: columns split at white space, the last one taking
/// the rest of its line (a command with its arguments). The row of the `ps` that printed
/// it (`own_command`, say `ps -ef`) is left out: it is not one of the container's
/// processes, and podman's `top` leaves it out too.
pub fn split_ps_output(text: &str, own_command: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let headers: Vec<String> = lines
        .next()
        .map(|l| l.split_whitespace().map(String::from).collect())
        .unwrap_or_default();
    let columns = headers.len().max(1);
    let rows = lines
        .map(|line| {
            let mut fields = Vec::new();
            let mut rest = line.trim_start();
            while fields.len() + 1 < columns {
                let Some(end) = rest.find(char::is_whitespace) else {
                    break;
                };
                fields.push(rest[..end].to_string());
                rest = rest[end..].trim_start();
            }
            if !rest.is_empty() {
                fields.push(rest.trim_end().to_string());
            }
            fields
        })
        .filter(|fields| fields.last().map(String::as_str) != Some(own_command))
        .collect();
    (headers, rows)
}

/// A duration the way Go prints one (podman's ELAPSED and TIME columns), to the
/// millisecond.
pub fn go_duration(seconds: f64) -> String {
    let millis = (seconds.max(0.0) * 1000.0).round() as u64;
    crate::human::go_duration_nanos(millis.saturating_mul(1_000_000))
}

/// What is needed to describe processes besides `/proc`.
pub struct Context<'a> {
    pub users: &'a HashMap<u32, String>,
    pub groups: &'a HashMap<u32, String>,
    pub host_users: &'a HashMap<u32, String>,
    pub host_groups: &'a HashMap<u32, String>,
    /// A container with a user namespace: its processes' IDs as it sees them (`user`,
    /// `group`), the host's being `huser`, `hgroup`.
    pub mappings: Option<&'a crate::userns::IdMappings>,
    /// Seconds since boot, the boot's time (Unix seconds), and clock ticks per second.
    pub uptime: f64,
    pub boot_time: i64,
    pub ticks: f64,
    /// The mask of every capability the kernel has (`full` in a capability column).
    pub all_caps: u64,
}

/// The Unix time of the boot (`btime` of `/proc/stat`).
pub fn boot_time() -> i64 {
    fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|stat| {
            stat.lines()
                .find_map(|l| l.strip_prefix("btime "))
                .and_then(|t| t.trim().parse().ok())
        })
        .unwrap_or(0)
}

/// The mask of every capability the running kernel has (`cap_last_cap`).
pub fn all_capabilities() -> u64 {
    let last: u32 = fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(rpod_oci::capabilities::CAPABILITIES_BY_NUMBER.len() as u32 - 1)
        .min(63);
    u64::MAX >> (63 - last)
}

/// A capability set as podman's `top` shows it: `full`, `none`, or the names without
/// `CAP_`, sorted, comma-separated.
fn capability_names(mask: u64, all: u64) -> String {
    if mask == all {
        return "full".into();
    }
    let mut names: Vec<String> = (0..64u32)
        .filter(|bit| mask & (1u64 << bit) != 0)
        .map(|bit| {
            rpod_oci::capabilities::CAPABILITIES_BY_NUMBER
                .get(bit as usize)
                .map(|name| name.trim_start_matches("CAP_").to_string())
                .unwrap_or_else(|| bit.to_string())
        })
        .collect();
    if names.is_empty() {
        return "none".into();
    }
    names.sort();
    names.join(",")
}

fn tty_name(tty_nr: u32) -> String {
    if tty_nr == 0 {
        return "?".into();
    }
    let major = (tty_nr >> 8) & 0xfff;
    let minor = (tty_nr & 0xff) | ((tty_nr >> 12) & 0xfff00);
    match major {
        136..=143 => format!("pts/{}", (major - 136) * 256 + minor),
        4 => format!("tty{minor}"),
        _ => "?".into(),
    }
}

/// One row: each descriptor's value for `process`, among `all` (for PPIDs).
pub fn row(
    descriptors: &[String],
    process: &Process,
    all: &[Process],
    cx: &Context<'_>,
) -> Vec<String> {
    let elapsed = (cx.uptime - process.start_ticks as f64 / cx.ticks).max(0.0);
    let cpu = process.cpu_ticks as f64 / cx.ticks;
    let name = |map: &HashMap<u32, String>, id: u32| {
        map.get(&id).cloned().unwrap_or_else(|| id.to_string())
    };
    let in_container = |uid, gid| match cx.mappings {
        Some(m) => m.to_container(uid, gid),
        None => (uid, gid),
    };
    let (uid, gid) = in_container(process.uid, process.gid);
    let (real_uid, real_gid) = in_container(process.real_uid, process.real_gid);
    let caps = |mask| capability_names(mask, cx.all_caps);
    descriptors
        .iter()
        .map(|d| match descriptor_of(d).unwrap_or_default() {
            "args" | "command" => process.args.clone(),
            "capamb" => caps(process.caps.ambient),
            "capbnd" => caps(process.caps.bounding),
            "capeff" => caps(process.caps.effective),
            "capinh" => caps(process.caps.inheritable),
            "capprm" => caps(process.caps.permitted),
            "comm" => process.comm.clone(),
            "etime" => go_duration(elapsed),
            "group" => name(cx.groups, gid),
            "hgroup" => name(cx.host_groups, process.gid),
            "hgroups" => process
                .groups
                .iter()
                .map(|g| name(cx.host_groups, *g))
                .collect::<Vec<_>>()
                .join(","),
            "hpid" => process.host_pid.to_string(),
            "huser" => name(cx.host_users, process.uid),
            "label" => process.label.clone().unwrap_or_else(|| "?".into()),
            "nice" => process.nice.to_string(),
            "pcpu" => format!(
                "{:.3}",
                if elapsed > 0.0 {
                    cpu / elapsed * 100.0
                } else {
                    0.0
                }
            ),
            "pgid" => all
                .iter()
                .find(|p| p.host_pid == process.pgid)
                .map(|p| p.pid)
                .unwrap_or(0)
                .to_string(),
            "pid" => process.pid.to_string(),
            "ppid" => all
                .iter()
                .find(|p| p.host_pid == process.host_ppid)
                .map(|p| p.pid)
                .unwrap_or(0)
                .to_string(),
            "rgroup" => name(cx.groups, real_gid),
            "ruser" => name(cx.users, real_uid),
            "seccomp" => match process.seccomp {
                0 => "disabled",
                1 => "strict",
                2 => "filter",
                _ => "?",
            }
            .into(),
            "state" => process.state.to_string(),
            // Go's time printed, to the second (psgo's), in UTC as rpod prints times.
            "stime" => chrono::DateTime::from_timestamp(
                cx.boot_time + (process.start_ticks as f64 / cx.ticks) as i64,
                0,
            )
            .map(|t| t.format("%Y-%m-%d %H:%M:%S +0000 UTC").to_string())
            .unwrap_or_default(),
            "time" => go_duration(cpu.floor()),
            "tty" => tty_name(process.tty_nr),
            "user" => name(cx.users, uid),
            "vsz" => (process.vsize / 1024).to_string(),
            _ => String::new(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ps_output_splits_into_columns_with_the_command_whole() {
        let output = "PID   USER     TIME  COMMAND\n    1 root      0:00 sleep 100000\n    7 root      0:00 ps -ef --forest\n   12 root      0:00 ps -ef\n";
        let (headers, rows) = split_ps_output(output, "ps -ef");
        assert_eq!(headers, ["PID", "USER", "TIME", "COMMAND"]);
        // The ps that printed the listing is not in it; another ps is.
        assert_eq!(
            rows,
            [
                ["1", "root", "0:00", "sleep 100000"],
                ["7", "root", "0:00", "ps -ef --forest"]
            ]
        );
        assert_eq!(split_ps_output("", "ps"), (Vec::new(), Vec::new()));
    }

    #[test]
    fn words_become_descriptors() {
        let args = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            descriptor_words(&args(&["-eo", "pid,comm", "user,", "-o", "args"])),
            ["pid", "comm", "user", "args"]
        );
        // AIX codes and ps's %cpu name descriptors; ps's options do not.
        assert_eq!(
            headers(&args(&["%p", "%C", "%u", "%cpu", "seccomp", "capeff"])).unwrap(),
            ["PID", "%CPU", "RUSER", "%CPU", "SECCOMP", "EFFECTIVE CAPS"]
        );
        assert!(headers(&args(&["-ef"])).is_err());
        assert!(headers(&args(&["aux"])).is_err());
        assert!(headers(&args(&["%Q"])).is_err());
        assert!(wants_labels(&args(&["pid", "label"])) && !wants_labels(&args(&["pid"])));
    }

    #[test]
    fn capability_sets_read_as_podman_shows_them() {
        let all = u64::MAX >> (63 - 40);
        assert_eq!(capability_names(all, all), "full");
        assert_eq!(capability_names(0, all), "none");
        // CHOWN (0), KILL (5), NET_RAW (13), AUDIT_WRITE (29): sorted by name.
        let mask = 1 | 1 << 5 | 1 << 13 | 1 << 29;
        assert_eq!(
            capability_names(mask, all),
            "AUDIT_WRITE,CHOWN,KILL,NET_RAW"
        );
        assert_eq!(all_capabilities() & 1, 1);
    }

    #[test]
    fn parses_proc_files() {
        let stat = "4242 (my (odd) cmd) S 4200 4242 4242 34816 4242 4194304 100 0 0 0 30 20 0 0 20 0 1 0 5000 10485760 300 18446744073709551615";
        let status = "Name:\tsleep\nUid:\t0\t1000\t1000\t1000\nGid:\t0\t100\t100\t100\nGroups:\t10 100\nNSpid:\t4242\t7\nCapInh:\t0000000000000000\nCapPrm:\t0000000000000021\nCapEff:\t0000000000000020\nCapBnd:\t000001ffffffffff\nCapAmb:\t0000000000000000\nSeccomp:\t2\n";
        let p = parse_process(4242, stat, status, b"sleep\x00300\x00").unwrap();
        assert_eq!(p.comm, "my (odd) cmd");
        assert_eq!((p.pid, p.host_ppid, p.uid, p.gid), (7, 4200, 1000, 100));
        assert_eq!(
            (p.real_uid, p.real_gid, p.groups.clone()),
            (0, 0, vec![10, 100])
        );
        assert_eq!(
            (p.caps.permitted, p.caps.effective, p.seccomp),
            (0x21, 0x20, 2)
        );
        assert_eq!(p.cpu_ticks, 50);
        assert_eq!(p.start_ticks, 5000);
        assert_eq!(p.state, 'S');
        assert_eq!(p.args, "sleep 300");
        assert_eq!(tty_name(p.tty_nr), "pts/0");
        let users = HashMap::from([(1000, "web".to_string()), (0, "root".to_string())]);
        let none = HashMap::new();
        let host_groups = HashMap::from([(10, "wheel".to_string())]);
        let cx = Context {
            users: &users,
            groups: &none,
            host_users: &none,
            host_groups: &host_groups,
            mappings: None,
            uptime: 150.0,
            boot_time: 1_700_000_000,
            ticks: 100.0,
            all_caps: 0x1ff_ffff_ffff,
        };
        let d: Vec<String> = [
            "user", "pid", "ppid", "pcpu", "etime", "time", "group", "tty",
        ]
        .map(String::from)
        .to_vec();
        let r = row(&d, &p, std::slice::from_ref(&p), &cx);
        assert_eq!(r, ["web", "7", "0", "0.500", "1m40s", "0s", "100", "pts/0"]);
        // Started 50 s after the boot at 2023-11-14 22:13:20 UTC.
        let d: Vec<String> = [
            "ruser", "%g", "hgroups", "capprm", "capbnd", "capinh", "seccomp", "label", "stime",
        ]
        .map(String::from)
        .to_vec();
        let r = row(&d, &p, std::slice::from_ref(&p), &cx);
        assert_eq!(
            r,
            [
                "root",
                "0",
                "wheel,100",
                "CHOWN,KILL",
                "full",
                "none",
                "filter",
                "?",
                "2023-11-14 22:14:10 +0000 UTC"
            ]
        );
        // In a user namespace: the container's view, the host's in huser and hgroup.
        let mappings = crate::userns::IdMappings::from_flags(&["0:900:2000".into()], &[])
            .unwrap()
            .unwrap();
        let mapped = Process {
            uid: 1900,
            gid: 1000,
            real_uid: 900,
            ..p.clone()
        };
        let cx = Context {
            mappings: Some(&mappings),
            ..cx
        };
        let d: Vec<String> = ["user", "group", "huser", "hgroup", "ruser"]
            .map(String::from)
            .to_vec();
        let r = row(&d, &mapped, std::slice::from_ref(&mapped), &cx);
        assert_eq!(r, ["web", "100", "1900", "1000", "root"]);
    }

    #[test]
    fn descriptors_and_durations() {
        assert_eq!(
            headers(&["user".into(), "%cpu".into(), "args".into()]).unwrap(),
            ["USER", "%CPU", "COMMAND"]
        );
        assert!(headers(&["bogus".into()]).is_err());
        assert_eq!(go_duration(5.0148), "5.015s");
        assert_eq!(go_duration(0.0), "0s");
        assert_eq!(go_duration(3725.5), "1h2m5.5s");
    }
}
