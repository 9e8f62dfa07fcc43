//! A container's resource use, read from its cgroups (the v1 controllers, or the unified
//! v2 hierarchy) and, for the network, from its init's view of `/proc/net/dev`. The cgroup
//! root is a parameter, so the parsing is tested on plain files.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Where the cgroup hierarchies are mounted.
pub const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// One reading of a container's counters.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Sample {
    /// CPU time used so far, in nanoseconds.
    pub cpu_nanos: u64,
    /// Memory in use (without the inactive page cache, as podman and Docker show it).
    pub memory_usage: u64,
    /// The memory limit; the host's memory when there is none.
    pub memory_limit: u64,
    pub pids: u64,
    pub block_read: u64,
    pub block_write: u64,
    pub net_received: u64,
    pub net_sent: u64,
}

/// What `stats` shows of a reading, worded as podman words it (`12.34%`, `1.204MB /
/// 25.28GB`: go-units' four significant digits).
#[derive(Debug, Clone, PartialEq)]
pub struct Shown {
    /// CPU % since the previous reading (since the start for the first).
    pub cpu_percent: f64,
    /// CPU % since the start.
    pub average_cpu_percent: f64,
    pub cpu: String,
    pub average_cpu: String,
    pub memory_usage: String,
    /// The same in binary units (`1.148MiB / 23.54GiB`), podman's `MemUsageBytes`.
    pub memory_usage_binary: String,
    pub memory_percent: String,
    pub net_io: String,
    pub block_io: String,
    /// The CPU time as Go prints a duration (`8.946109ms`), podman's `UpTime`.
    pub cpu_time: String,
}

impl Sample {
    /// This reading of a container that started at `started`, against `previous` (its CPU
    /// time and how long ago it was read).
    pub fn shown(
        &self,
        started: Option<chrono::DateTime<chrono::Utc>>,
        previous: Option<(u64, std::time::Duration)>,
    ) -> Shown {
        let up = started
            .map(|t| (chrono::Utc::now() - t).num_milliseconds().max(1) as f64 / 1000.0)
            .unwrap_or(1.0);
        let average = self.cpu_nanos as f64 / 1e9 / up * 100.0;
        let cpu = match previous {
            Some((cpu_before, ago)) => {
                let wall = ago.as_secs_f64().max(1e-3);
                self.cpu_nanos.saturating_sub(cpu_before) as f64 / 1e9 / wall * 100.0
            }
            None => average,
        };
        self.shown_with(cpu, average)
    }

    /// This reading worded with CPU percentages worked out elsewhere (by a service, for a
    /// remote `stats`).
    pub fn shown_with(&self, cpu: f64, average: f64) -> Shown {
        let memory_percent = if self.memory_limit > 0 {
            self.memory_usage as f64 / self.memory_limit as f64 * 100.0
        } else {
            0.0
        };
        let percent = |value: f64| format!("{value:.2}%");
        let pair = |size: fn(u64) -> String, one: u64, other: u64| {
            format!("{} / {}", size(one), size(other))
        };
        let si = crate::human::size_precise;
        Shown {
            cpu_percent: cpu,
            average_cpu_percent: average,
            cpu: percent(cpu),
            average_cpu: percent(average),
            memory_usage: pair(si, self.memory_usage, self.memory_limit),
            memory_usage_binary: pair(
                crate::human::size_binary,
                self.memory_usage,
                self.memory_limit,
            ),
            memory_percent: percent(memory_percent),
            net_io: pair(si, self.net_received, self.net_sent),
            block_io: pair(si, self.block_read, self.block_write),
            cpu_time: crate::human::go_duration_nanos(self.cpu_nanos),
        }
    }
}

/// One row of `pod stats`, podman's `PodStatsReport` (its fields, in its order): a
/// container's reading worded, or `--` throughout for a container that is not running.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PodStatsReport {
    #[serde(rename = "CPU")]
    pub cpu: String,
    pub mem_usage: String,
    pub mem_usage_bytes: String,
    pub mem: String,
    #[serde(rename = "NetIO")]
    pub net_io: String,
    #[serde(rename = "BlockIO")]
    pub block_io: String,
    #[serde(rename = "PIDS")]
    pub pids: String,
    /// The pod's short ID.
    pub pod: String,
    /// The container's short ID.
    #[serde(rename = "CID")]
    pub cid: String,
    pub name: String,
}

impl PodStatsReport {
    /// The row of container `id` (named `name`) of pod `pod`, with its reading if it has
    /// one: `--` in every measured field without.
    pub fn new(pod: &str, id: &str, name: &str, reading: Option<(&Sample, &Shown)>) -> Self {
        let short = |id: &str| id.chars().take(12).collect::<String>();
        let [single, pair] = ["--", "-- / --"].map(String::from);
        let mut report = PodStatsReport {
            cpu: single.clone(),
            mem_usage: pair.clone(),
            mem_usage_bytes: pair.clone(),
            mem: single.clone(),
            net_io: pair.clone(),
            block_io: pair,
            pids: single,
            pod: short(pod),
            cid: short(id),
            name: name.to_string(),
        };
        if let Some((sample, shown)) = reading {
            report.cpu = shown.cpu.clone();
            report.mem_usage = shown.memory_usage.clone();
            report.mem_usage_bytes = shown.memory_usage_binary.clone();
            report.mem = shown.memory_percent.clone();
            report.net_io = shown.net_io.clone();
            report.block_io = shown.block_io.clone();
            report.pids = sample.pids.to_string();
        }
        report
    }
}

fn read_u64(path: &Path) -> Option<u64> {
    let text = fs::read_to_string(path).ok()?;
    let text = text.trim();
    if text == "max" {
        return Some(u64::MAX);
    }
    text.parse().ok()
}

/// `key value` lines (memory.stat, cpu.stat).
fn keyed(path: &Path, key: &str) -> Option<u64> {
    fs::read_to_string(path).ok()?.lines().find_map(|line| {
        let (k, v) = line.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

/// The host's memory, for containers without a limit.
fn host_memory() -> u64 {
    fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines().find_map(|l| {
                let rest = l.strip_prefix("MemTotal:")?;
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// v1's `blkio.throttle.io_service_bytes`: `MAJ:MIN Read N` lines.
fn v1_block_io(path: &Path) -> (u64, u64) {
    let mut totals = (0, 0);
    for line in fs::read_to_string(path).unwrap_or_default().lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if let [_, op, value] = fields.as_slice() {
            let value: u64 = value.parse().unwrap_or(0);
            match *op {
                "Read" => totals.0 += value,
                "Write" => totals.1 += value,
                _ => {}
            }
        }
    }
    totals
}

/// v2's `io.stat`: `MAJ:MIN rbytes=N wbytes=N ...` lines.
fn v2_block_io(path: &Path) -> (u64, u64) {
    let mut totals = (0, 0);
    for line in fs::read_to_string(path).unwrap_or_default().lines() {
        for field in line.split_whitespace().skip(1) {
            match field.split_once('=') {
                Some(("rbytes", v)) => totals.0 += v.parse::<u64>().unwrap_or(0),
                Some(("wbytes", v)) => totals.1 += v.parse::<u64>().unwrap_or(0),
                _ => {}
            }
        }
    }
    totals
}

/// Bytes received and sent on every interface but loopback, from a `/proc/net/dev`.
pub fn net_io(text: &str) -> (u64, u64) {
    let mut totals = (0, 0);
    for line in text.lines().skip(2) {
        let Some((name, rest)) = line.split_once(':') else {
            continue;
        };
        if name.trim() == "lo" {
            continue;
        }
        let fields: Vec<u64> = rest
            .split_whitespace()
            .filter_map(|f| f.parse().ok())
            .collect();
        if fields.len() >= 9 {
            totals.0 += fields[0];
            totals.1 += fields[8];
        }
    }
    totals
}

/// Read a container's counters under `root` (its cgroup is `relative` in each hierarchy);
/// `pid` is its init, whose network namespace is read. `None` when it has no cgroup.
pub fn sample(root: &Path, relative: &str, pid: i32) -> Option<Sample> {
    let relative = relative.trim_start_matches('/');
    let v1 = |controller: &str| -> PathBuf { root.join(controller).join(relative) };
    let unified = root.join(relative);
    let mut sample = if v1("memory").is_dir() {
        let memory = v1("memory");
        let usage = read_u64(&memory.join("memory.usage_in_bytes")).unwrap_or(0);
        let inactive = keyed(&memory.join("memory.stat"), "total_inactive_file").unwrap_or(0);
        let (block_read, block_write) =
            v1_block_io(&v1("blkio").join("blkio.throttle.io_service_bytes"));
        let cpuacct = [v1("cpuacct"), v1("cpu,cpuacct")]
            .into_iter()
            .find(|d| d.is_dir())
            .unwrap_or_else(|| v1("cpuacct"));
        Sample {
            cpu_nanos: read_u64(&cpuacct.join("cpuacct.usage")).unwrap_or(0),
            memory_usage: usage.saturating_sub(inactive),
            memory_limit: read_u64(&memory.join("memory.limit_in_bytes")).unwrap_or(u64::MAX),
            pids: read_u64(&v1("pids").join("pids.current")).unwrap_or(0),
            block_read,
            block_write,
            ..Default::default()
        }
    } else if unified.join("cgroup.procs").exists() {
        let usage = read_u64(&unified.join("memory.current")).unwrap_or(0);
        let inactive = keyed(&unified.join("memory.stat"), "inactive_file").unwrap_or(0);
        let (block_read, block_write) = v2_block_io(&unified.join("io.stat"));
        Sample {
            cpu_nanos: keyed(&unified.join("cpu.stat"), "usage_usec").unwrap_or(0) * 1000,
            memory_usage: usage.saturating_sub(inactive),
            memory_limit: read_u64(&unified.join("memory.max")).unwrap_or(u64::MAX),
            pids: read_u64(&unified.join("pids.current")).unwrap_or(0),
            block_read,
            block_write,
            ..Default::default()
        }
    } else {
        return None;
    };
    // "No limit" reads as a huge number: the host's memory is the real bound.
    let host = host_memory();
    if host > 0 && sample.memory_limit > host {
        sample.memory_limit = host;
    }
    if pid > 0 {
        let (received, sent) =
            net_io(&fs::read_to_string(format!("/proc/{pid}/net/dev")).unwrap_or_default());
        sample.net_received = received;
        sample.net_sent = sent;
    }
    Some(sample)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, text: &str) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    #[test]
    fn reads_v1_controllers() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        write(&r.join("memory/rpod/c/memory.usage_in_bytes"), "1000\n");
        write(
            &r.join("memory/rpod/c/memory.stat"),
            "cache 5\ntotal_inactive_file 200\n",
        );
        write(&r.join("memory/rpod/c/memory.limit_in_bytes"), "4096\n");
        write(&r.join("cpuacct/rpod/c/cpuacct.usage"), "123456789\n");
        write(&r.join("pids/rpod/c/pids.current"), "3\n");
        write(
            &r.join("blkio/rpod/c/blkio.throttle.io_service_bytes"),
            "8:0 Read 10\n8:0 Write 20\n8:16 Read 1\nTotal 31\n",
        );
        let s = sample(r, "/rpod/c", 0).unwrap();
        assert_eq!(s.cpu_nanos, 123_456_789);
        assert_eq!((s.memory_usage, s.memory_limit), (800, 4096));
        assert_eq!((s.pids, s.block_read, s.block_write), (3, 11, 20));
        assert!(sample(r, "/rpod/other", 0).is_none());
    }

    #[test]
    fn reads_the_unified_hierarchy() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        write(&r.join("rpod/c/cgroup.procs"), "1\n");
        write(&r.join("rpod/c/memory.current"), "5000\n");
        write(
            &r.join("rpod/c/memory.stat"),
            "anon 1\ninactive_file 1000\n",
        );
        write(&r.join("rpod/c/memory.max"), "max\n");
        write(&r.join("rpod/c/cpu.stat"), "usage_usec 42\nuser_usec 40\n");
        write(&r.join("rpod/c/pids.current"), "2\n");
        write(
            &r.join("rpod/c/io.stat"),
            "8:0 rbytes=7 wbytes=9 rios=1 wios=1\n",
        );
        let s = sample(r, "/rpod/c", 0).unwrap();
        assert_eq!(s.cpu_nanos, 42_000);
        assert_eq!(s.memory_usage, 4000);
        assert!(s.memory_limit > 0 && s.memory_limit < u64::MAX);
        assert_eq!((s.pids, s.block_read, s.block_write), (2, 7, 9));
    }

    #[test]
    fn network_counters_leave_out_loopback() {
        let text = "Inter-|   Receive |  Transmit\n face |bytes packets errs drop fifo frame compressed multicast|bytes packets\n    lo:  100 1 0 0 0 0 0 0  100 1 0 0 0 0 0 0\n  eth0: 2000 3 0 0 0 0 0 0  500 2 0 0 0 0 0 0\n";
        assert_eq!(net_io(text), (2000, 500));
    }
}
