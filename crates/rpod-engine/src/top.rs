//! `rpod top`: a container's processes (its cgroup's), described with podman's descriptors
//! from `/proc`, with PIDs as the container sees them and users and groups named by the
//! container's own `/etc/passwd` and `/etc/group`.

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
    ("command", "COMMAND"),
    ("comm", "COMMAND"),
    ("etime", "ELAPSED"),
    ("group", "GROUP"),
    ("hgroup", "HGROUP"),
    ("hpid", "HPID"),
    ("huser", "HUSER"),
    ("nice", "NI"),
    ("pcpu", "%CPU"),
    ("pgid", "PGID"),
    ("pid", "PID"),
    ("ppid", "PPID"),
    ("state", "STATE"),
    ("time", "TIME"),
    ("tty", "TTY"),
    ("user", "USER"),
    ("vsz", "VSZ"),
];

/// What `/proc` says of one process.
#[derive(Debug, Clone, Default)]
pub struct Process {
    pub host_pid: i32,
    /// The PID in the container's namespace (the last of `NSpid`).
    pub pid: i32,
    pub host_ppid: i32,
    pub pgid: i32,
    pub uid: u32,
    pub gid: u32,
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
    for line in status.lines() {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("Uid:") => process.uid = words.next()?.parse().ok()?,
            Some("Gid:") => process.gid = words.next()?.parse().ok()?,
            Some("NSpid:") => process.pid = words.last()?.parse().ok()?,
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

/// The processes of a container's cgroup, read from `/proc`.
pub fn processes(cgroup_root: &Path, relative: &str) -> Vec<Process> {
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
            parse_process(pid, &stat, &status, &cmdline)
        })
        .collect();
    found.sort_by_key(|p| p.pid);
    found
}

/// Check descriptors; the headers to show for them.
pub fn headers(descriptors: &[String]) -> Result<Vec<&'static str>> {
    descriptors
        .iter()
        .map(|d| {
            let key = d.trim_start_matches('%');
            let key = if key == "cpu" { "pcpu" } else { key };
            DESCRIPTORS
                .iter()
                .find(|(name, _)| *name == key)
                .map(|(_, header)| *header)
                .ok_or_else(|| {
                    EngineError::InvalidArg(format!(
                        "unknown descriptor: {d} (known: {})",
                        DESCRIPTORS
                            .iter()
                            .map(|(n, _)| *n)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                })
        })
        .collect()
}

/// Whether `args` are ps(1)'s options rather than descriptors: one starts with `-`, or
/// each is made of BSD-style option letters only (`aux`, `ef`).
pub fn looks_like_ps_options(args: &[String]) -> bool {
    const BSD_LETTERS: &str = "aAcCefgjlLmnrsSTuvwxX";
    args.iter().any(|a| a.starts_with('-'))
        || args
            .iter()
            .all(|a| !a.is_empty() && a.chars().all(|c| BSD_LETTERS.contains(c)))
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
    /// Seconds since boot, and clock ticks per second.
    pub uptime: f64,
    pub ticks: f64,
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
    let (uid, gid) = match cx.mappings {
        Some(m) => m.to_container(process.uid, process.gid),
        None => (process.uid, process.gid),
    };
    descriptors
        .iter()
        .map(|d| match d.trim_start_matches('%') {
            "args" | "command" => process.args.clone(),
            "comm" => process.comm.clone(),
            "etime" => go_duration(elapsed),
            "group" => name(cx.groups, gid),
            "hgroup" => name(cx.host_groups, process.gid),
            "hpid" => process.host_pid.to_string(),
            "huser" => name(cx.host_users, process.uid),
            "nice" => process.nice.to_string(),
            "pcpu" | "cpu" => format!(
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
            "state" => process.state.to_string(),
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
    fn ps_options_are_told_from_descriptors() {
        let args = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(looks_like_ps_options(&args(&["-ef"])));
        assert!(looks_like_ps_options(&args(&["aux"])));
        assert!(looks_like_ps_options(&args(&["-o", "pid,comm"])));
        assert!(!looks_like_ps_options(&args(&["nosuchdescriptor"])));
        assert!(!looks_like_ps_options(&args(&["pid", "comm"])));
    }

    #[test]
    fn parses_proc_files() {
        let stat = "4242 (my (odd) cmd) S 4200 4242 4242 34816 4242 4194304 100 0 0 0 30 20 0 0 20 0 1 0 5000 10485760 300 18446744073709551615";
        let status = "Name:\tsleep\nUid:\t1000\t1000\t1000\t1000\nGid:\t100\t100\t100\t100\nNSpid:\t4242\t7\n";
        let p = parse_process(4242, stat, status, b"sleep\x00300\x00").unwrap();
        assert_eq!(p.comm, "my (odd) cmd");
        assert_eq!((p.pid, p.host_ppid, p.uid, p.gid), (7, 4200, 1000, 100));
        assert_eq!(p.cpu_ticks, 50);
        assert_eq!(p.start_ticks, 5000);
        assert_eq!(p.state, 'S');
        assert_eq!(p.args, "sleep 300");
        assert_eq!(tty_name(p.tty_nr), "pts/0");
        let users = HashMap::from([(1000, "web".to_string())]);
        let none = HashMap::new();
        let cx = Context {
            users: &users,
            groups: &none,
            host_users: &none,
            host_groups: &none,
            mappings: None,
            uptime: 150.0,
            ticks: 100.0,
        };
        let d: Vec<String> = [
            "user", "pid", "ppid", "pcpu", "etime", "time", "group", "tty",
        ]
        .map(String::from)
        .to_vec();
        let r = row(&d, &p, std::slice::from_ref(&p), &cx);
        assert_eq!(r, ["web", "7", "0", "0.500", "1m40s", "0s", "100", "pts/0"]);
        // In a user namespace: the container's view, the host's in huser and hgroup.
        let mappings = crate::userns::IdMappings::from_flags(&["0:900:2000".into()], &[])
            .unwrap()
            .unwrap();
        let mapped = Process {
            uid: 1900,
            gid: 1000,
            ..p.clone()
        };
        let cx = Context {
            mappings: Some(&mappings),
            ..cx
        };
        let d: Vec<String> = ["user", "group", "huser", "hgroup"]
            .map(String::from)
            .to_vec();
        let r = row(&d, &mapped, std::slice::from_ref(&mapped), &cx);
        assert_eq!(r, ["web", "100", "1900", "1000"]);
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
