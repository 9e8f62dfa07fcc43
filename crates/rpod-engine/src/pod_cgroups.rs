//! A pod's own cgroup, which its containers' cgroups are made in (podman's pod cgroup,
//! `--share-parent`): the pod's limits (`pod create --cpus`, `--memory`, ...) bound all its
//! containers together. The runtimes make the containers' cgroups (and any missing parent)
//! but know nothing of the pod, so rpod makes the pod's and writes its limits: at the
//! pod's create, and again before each of its containers starts (cgroups are gone after a
//! reboot). The cgroup root is a parameter, so the writes are tested on plain files.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::resources::{block_device_numbers, Throttle, WeightDevice, CPU_PERIOD};
use crate::{EngineError, Result};

/// The v1 controllers a pod's limits are written to.
const V1_CONTROLLERS: [&str; 4] = ["cpu", "cpuset", "memory", "blkio"];

/// `pod create`'s resource limits; `None` leaves the parent's.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PodLimits {
    /// CPUs' worth of time (`--cpus 1.5`).
    pub cpus: Option<f64>,
    /// Relative CPU weight (`--cpu-shares`, 2 to 262144).
    pub cpu_shares: Option<u64>,
    pub cpuset_cpus: Option<String>,
    pub cpuset_mems: Option<String>,
    /// Bytes (`--memory`).
    pub memory: Option<i64>,
    /// Memory and swap together in bytes, -1 for no limit (`--memory-swap`).
    pub memory_swap: Option<i64>,
    /// Block I/O weight, 10 to 1000 (`--blkio-weight`).
    pub blkio_weight: Option<u16>,
    /// Bytes per second from or to a block device (`--device-read-bps`,
    /// `--device-write-bps`), for the whole pod.
    pub device_read_bps: Vec<Throttle>,
    pub device_write_bps: Vec<Throttle>,
    /// Block I/O weight on one device (`--blkio-weight-device`).
    pub blkio_weight_device: Vec<WeightDevice>,
}

impl PodLimits {
    pub fn is_empty(&self) -> bool {
        *self == PodLimits::default()
    }

    /// Values a kernel would refuse, or that contradict each other, said before anything
    /// is made: the checks of a container's same limits.
    pub fn check(&self) -> Result<()> {
        let resources = crate::resources::Resources {
            cpu_shares: self.cpu_shares,
            cpuset_cpus: self.cpuset_cpus.clone(),
            cpuset_mems: self.cpuset_mems.clone(),
            memory_swap: self.memory_swap,
            blkio_weight: self.blkio_weight,
            ..Default::default()
        };
        crate::resources::check_limits(self.memory, self.cpus, &resources)
    }

    /// The CFS quota for `--cpus`, in `CPU_PERIOD` units.
    pub fn cpu_quota(&self) -> Option<(i64, u64)> {
        self.cpus
            .map(|cpus| ((cpus * CPU_PERIOD as f64).round() as i64, CPU_PERIOD))
    }
}

/// The cgroup (relative to each hierarchy's root) of a pod: named after its ID, in its
/// `--cgroup-parent` or rpod's own.
pub fn path(parent: Option<&str>, pod_id: &str) -> String {
    let parent = parent.unwrap_or(crate::spec::DEFAULT_CGROUP_PARENT);
    format!("/{}/{}", parent.trim_matches('/'), pod_id)
}

/// Whether `root` holds the unified (v2) hierarchy.
pub(crate) fn unified(root: &Path) -> bool {
    root.join("cgroup.controllers").is_file()
}

fn write(path: &Path, value: &str) -> Result<()> {
    fs::write(path, value).map_err(|e| EngineError::io("writing the pod's limit to", path, e))
}

/// Make the pod's cgroup at `relative` under `root` and write `limits` to it (again: the
/// limits are rewritten each time).
pub fn ensure(root: &Path, relative: &str, limits: &PodLimits) -> Result<()> {
    let relative = relative.trim_start_matches('/');
    if unified(root) {
        ensure_v2(root, relative, limits)
    } else {
        ensure_v1(root, relative, limits)
    }
}

fn make_dir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).map_err(|e| EngineError::io("making the pod's cgroup", dir, e))
}

fn ensure_v1(root: &Path, relative: &str, limits: &PodLimits) -> Result<()> {
    for controller in V1_CONTROLLERS {
        let hierarchy = root.join(controller);
        if !hierarchy.is_dir() {
            continue;
        }
        let dir = hierarchy.join(relative);
        make_dir(&dir)?;
        match controller {
            "cpu" => {
                if let Some((quota, period)) = limits.cpu_quota() {
                    write(&dir.join("cpu.cfs_period_us"), &period.to_string())?;
                    write(&dir.join("cpu.cfs_quota_us"), &quota.to_string())?;
                }
                if let Some(shares) = limits.cpu_shares {
                    write(&dir.join("cpu.shares"), &shares.to_string())?;
                }
            }
            "cpuset" => {
                // A v1 cpuset cgroup takes no process (and no child's list) until both its
                // lists are set: each new directory on the way down gets its parent's, the
                // pod's its own when it has them.
                let mut parent = hierarchy.clone();
                for name in Path::new(relative).iter() {
                    let current = parent.join(name);
                    for (file, own) in [
                        ("cpuset.cpus", &limits.cpuset_cpus),
                        ("cpuset.mems", &limits.cpuset_mems),
                    ] {
                        let value = match own {
                            Some(value) if current == dir => value.clone(),
                            _ if !read_value(&current.join(file)).is_empty() => continue,
                            _ => read_value(&parent.join(file)),
                        };
                        write(&current.join(file), &value)?;
                    }
                    parent = current;
                }
            }
            "memory" => {
                if let Some(memory) = limits.memory {
                    write(&dir.join("memory.limit_in_bytes"), &memory.to_string())?;
                }
                if let Some(swap) = limits.memory_swap {
                    // What podman does too (podman-remote always sends a swap limit).
                    if hierarchy.join("memory.memsw.limit_in_bytes").exists() {
                        write(&dir.join("memory.memsw.limit_in_bytes"), &swap.to_string())?;
                    } else {
                        tracing::warn!(
                            "the kernel does not account swap (swapaccount=1): the pod's memory is limited without swap"
                        );
                    }
                }
            }
            _ => {
                let devices = DeviceLimits::of(limits)?;
                for (file, rates) in [
                    ("blkio.throttle.read_bps_device", &devices.read_bps),
                    ("blkio.throttle.write_bps_device", &devices.write_bps),
                ] {
                    // One device a write, as the kernel takes them.
                    for (device, rate) in rates {
                        write(&dir.join(file), &format!("{device} {rate}"))?;
                    }
                }
                if !devices.weights.is_empty() {
                    let file = ["blkio.weight_device", "blkio.bfq.weight_device"]
                        .into_iter()
                        .find(|f| hierarchy.join(f).exists())
                        .ok_or_else(|| {
                            EngineError::InvalidArg(
                                "--blkio-weight-device: no I/O scheduler here takes weights (blkio.weight_device, blkio.bfq.weight_device)"
                                    .into(),
                            )
                        })?;
                    for (device, weight) in &devices.weights {
                        write(&dir.join(file), &format!("{device} {weight}"))?;
                    }
                }
                if let Some(weight) = limits.blkio_weight {
                    let file = ["blkio.weight", "blkio.bfq.weight"]
                        .into_iter()
                        .find(|f| hierarchy.join(f).exists())
                        .ok_or_else(|| {
                            EngineError::InvalidArg(
                                "--blkio-weight: no I/O scheduler here takes weights (blkio.weight, blkio.bfq.weight)"
                                    .into(),
                            )
                        })?;
                    write(&dir.join(file), &weight.to_string())?;
                }
            }
        }
    }
    Ok(())
}

/// A cgroup file's value, empty when it has none.
fn read_value(path: &Path) -> String {
    fs::read_to_string(path)
        .map(|v| v.trim().to_string())
        .unwrap_or_default()
}

fn ensure_v2(root: &Path, relative: &str, limits: &PodLimits) -> Result<()> {
    let dir = root.join(relative);
    make_dir(&dir)?;
    // A limit file appears only once the parent hands its controller down: every
    // ancestor down to the pod's parent enables what the root has (the runtimes do the
    // same for their containers' cgroups).
    let available = fs::read_to_string(root.join("cgroup.controllers")).unwrap_or_default();
    let wanted: Vec<String> = ["cpu", "cpuset", "memory", "io"]
        .into_iter()
        .filter(|c| available.split_whitespace().any(|a| a == *c))
        .map(|c| format!("+{c}"))
        .collect();
    let mut ancestor = root.to_path_buf();
    for name in Path::new(relative).iter() {
        write(&ancestor.join("cgroup.subtree_control"), &wanted.join(" "))?;
        ancestor = ancestor.join(name);
    }
    if let Some((quota, period)) = limits.cpu_quota() {
        write(&dir.join("cpu.max"), &format!("{quota} {period}"))?;
    }
    if let Some(shares) = limits.cpu_shares {
        // The conversion runc and crun make from shares to weights.
        let weight = 1 + ((shares.saturating_sub(2)) * 9999) / 262_142;
        write(&dir.join("cpu.weight"), &weight.to_string())?;
    }
    if let Some(cpus) = &limits.cpuset_cpus {
        write(&dir.join("cpuset.cpus"), cpus)?;
    }
    if let Some(mems) = &limits.cpuset_mems {
        write(&dir.join("cpuset.mems"), mems)?;
    }
    if let Some(memory) = limits.memory {
        write(&dir.join("memory.max"), &memory.to_string())?;
    }
    if let Some(swap) = limits.memory_swap {
        let value = match (swap, limits.memory) {
            (-1, _) => "max".to_string(),
            (swap, Some(memory)) => (swap - memory).to_string(),
            (swap, None) => swap.to_string(),
        };
        write(&dir.join("memory.swap.max"), &value)?;
    }
    if let Some(weight) = limits.blkio_weight {
        write(
            &dir.join("io.weight"),
            &format!("default {}", io_weight(weight)),
        )?;
    }
    let devices = DeviceLimits::of(limits)?;
    for (key, rates) in [("rbps", &devices.read_bps), ("wbps", &devices.write_bps)] {
        for (device, rate) in rates {
            write(&dir.join("io.max"), &format!("{device} {key}={rate}"))?;
        }
    }
    for (device, weight) in &devices.weights {
        write(
            &dir.join("io.weight"),
            &format!("{device} {}", io_weight(*weight)),
        )?;
    }
    Ok(())
}

/// A blkio weight (10-1000) on io.weight's scale (1-10000), as the runtimes convert it.
fn io_weight(weight: u16) -> u64 {
    1 + (u64::from(weight).saturating_sub(10)) * 9999 / 990
}

/// The per-device limits with each device as its numbers (`MAJ:MIN`, looked up now: a
/// device's numbers can change across reboots, its path not).
struct DeviceLimits {
    read_bps: Vec<(String, u64)>,
    write_bps: Vec<(String, u64)>,
    weights: Vec<(String, u16)>,
}

impl DeviceLimits {
    fn of(limits: &PodLimits) -> Result<Self> {
        let numbers = |device: &Path| -> Result<String> {
            let (major, minor) = block_device_numbers(device)?;
            Ok(format!("{major}:{minor}"))
        };
        let rates = |throttles: &[Throttle]| -> Result<Vec<(String, u64)>> {
            throttles
                .iter()
                .map(|t| Ok((numbers(&t.device)?, t.rate)))
                .collect()
        };
        Ok(DeviceLimits {
            read_bps: rates(&limits.device_read_bps)?,
            write_bps: rates(&limits.device_write_bps)?,
            weights: limits
                .blkio_weight_device
                .iter()
                .map(|w| Ok((numbers(&w.device)?, w.weight)))
                .collect::<Result<_>>()?,
        })
    }
}

/// Remove the pod's cgroup from every hierarchy under `root` (its containers' are gone).
/// Whatever cannot go (a process still in it) is logged and left.
pub fn remove(root: &Path, relative: &str) {
    let relative = relative.trim_start_matches('/');
    let dirs: Vec<PathBuf> = if unified(root) {
        vec![root.join(relative)]
    } else {
        fs::read_dir(root)
            .map(|entries| entries.flatten().map(|e| e.path().join(relative)).collect())
            .unwrap_or_default()
    };
    for dir in dirs {
        match fs::remove_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!("removing the pod's cgroup {}: {e}", dir.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(path: PathBuf) -> String {
        fs::read_to_string(path).unwrap()
    }

    #[test]
    fn limits_are_checked_before_anything_is_made() {
        let ok = PodLimits {
            cpus: Some(0.5),
            cpu_shares: Some(512),
            cpuset_cpus: Some("0-1,3".into()),
            memory: Some(64 << 20),
            memory_swap: Some(128 << 20),
            blkio_weight: Some(300),
            ..Default::default()
        };
        assert!(ok.check().is_ok());
        assert_eq!(ok.cpu_quota(), Some((50_000, 100_000)));
        for bad in [
            PodLimits {
                cpus: Some(0.0),
                ..Default::default()
            },
            PodLimits {
                cpu_shares: Some(1),
                ..Default::default()
            },
            PodLimits {
                cpuset_cpus: Some("0-".into()),
                ..Default::default()
            },
            PodLimits {
                cpuset_mems: Some("3-1".into()),
                ..Default::default()
            },
            PodLimits {
                memory: Some(1024),
                ..Default::default()
            },
            PodLimits {
                memory_swap: Some(1 << 30),
                ..Default::default()
            },
            PodLimits {
                memory: Some(64 << 20),
                memory_swap: Some(32 << 20),
                ..Default::default()
            },
            PodLimits {
                blkio_weight: Some(5),
                ..Default::default()
            },
        ] {
            assert!(bad.check().is_err(), "{bad:?} was taken");
        }
        let unlimited_swap = PodLimits {
            memory: Some(64 << 20),
            memory_swap: Some(-1),
            ..Default::default()
        };
        assert!(unlimited_swap.check().is_ok());
    }

    #[test]
    fn v1_limits_go_to_each_controller_and_cpusets_inherit() {
        let root = tempfile::tempdir().unwrap();
        for controller in ["cpu", "cpuset", "memory", "blkio", "pids"] {
            fs::create_dir(root.path().join(controller)).unwrap();
        }
        fs::write(root.path().join("cpuset/cpuset.cpus"), "0-1\n").unwrap();
        fs::write(root.path().join("cpuset/cpuset.mems"), "0\n").unwrap();
        fs::write(root.path().join("memory/memory.memsw.limit_in_bytes"), "").unwrap();
        fs::write(root.path().join("blkio/blkio.bfq.weight"), "").unwrap();
        let limits = PodLimits {
            cpus: Some(1.5),
            memory: Some(64 << 20),
            memory_swap: Some(-1),
            blkio_weight: Some(200),
            ..Default::default()
        };
        ensure(root.path(), "/rpod/p1", &limits).unwrap();
        let at = |file: &str| read(root.path().join(file));
        assert_eq!(at("cpu/rpod/p1/cpu.cfs_quota_us"), "150000");
        assert_eq!(at("cpu/rpod/p1/cpu.cfs_period_us"), "100000");
        assert_eq!(at("cpuset/rpod/p1/cpuset.cpus"), "0-1");
        assert_eq!(at("cpuset/rpod/p1/cpuset.mems"), "0");
        assert_eq!(
            at("memory/rpod/p1/memory.limit_in_bytes"),
            (64u64 << 20).to_string()
        );
        assert_eq!(at("memory/rpod/p1/memory.memsw.limit_in_bytes"), "-1");
        assert_eq!(at("blkio/rpod/p1/blkio.bfq.weight"), "200");
        assert!(!root.path().join("pids/rpod/p1").exists());
        // Without swap accounting, the memory is limited without swap (as podman does).
        fs::remove_file(root.path().join("memory/memory.memsw.limit_in_bytes")).unwrap();
        ensure(root.path(), "/rpod/p2", &limits).unwrap();
        assert!(!root
            .path()
            .join("memory/rpod/p2/memory.memsw.limit_in_bytes")
            .exists());
        assert_eq!(
            at("memory/rpod/p2/memory.limit_in_bytes"),
            (64u64 << 20).to_string()
        );
        // Removal takes the pod's directory from every hierarchy.
        for dir in ["cpu", "cpuset", "memory", "blkio"] {
            for file in fs::read_dir(root.path().join(dir).join("rpod/p1")).unwrap() {
                fs::remove_file(file.unwrap().path()).unwrap();
            }
        }
        remove(root.path(), "/rpod/p1");
        assert!(!root.path().join("cpu/rpod/p1").exists());
        assert!(!root.path().join("memory/rpod/p1").exists());
    }

    /// A block device of this machine and its numbers (`MAJ:MIN`).
    fn some_block_device() -> Option<(PathBuf, String)> {
        fs::read_dir("/sys/block")
            .ok()?
            .flatten()
            .find_map(|entry| {
                let numbers = fs::read_to_string(entry.path().join("dev")).ok()?;
                let device = Path::new("/dev").join(entry.file_name());
                device
                    .exists()
                    .then(|| (device, numbers.trim().to_string()))
            })
    }

    #[test]
    fn device_limits_are_written_by_the_devices_numbers() {
        let Some((device, numbers)) = some_block_device() else {
            eprintln!("no block device here: skipped");
            return;
        };
        let limits = PodLimits {
            device_read_bps: vec![Throttle {
                device: device.clone(),
                rate: 1 << 20,
            }],
            device_write_bps: vec![Throttle {
                device: device.clone(),
                rate: 2 << 20,
            }],
            blkio_weight_device: vec![WeightDevice {
                device: device.clone(),
                weight: 505,
            }],
            ..Default::default()
        };
        let v1 = tempfile::tempdir().unwrap();
        fs::create_dir(v1.path().join("blkio")).unwrap();
        // Without a file for device weights, the weights are refused by name.
        let err = ensure(v1.path(), "/rpod/p", &limits)
            .unwrap_err()
            .to_string();
        assert!(err.contains("--blkio-weight-device"), "{err}");
        fs::write(v1.path().join("blkio/blkio.bfq.weight_device"), "").unwrap();
        ensure(v1.path(), "/rpod/p", &limits).unwrap();
        let at = |root: &Path, file: &str| read(root.join(file));
        let v1_dir = v1.path().join("blkio/rpod/p");
        assert_eq!(
            at(&v1_dir, "blkio.throttle.read_bps_device"),
            format!("{numbers} 1048576")
        );
        assert_eq!(
            at(&v1_dir, "blkio.throttle.write_bps_device"),
            format!("{numbers} 2097152")
        );
        assert_eq!(
            at(&v1_dir, "blkio.bfq.weight_device"),
            format!("{numbers} 505")
        );
        let v2 = tempfile::tempdir().unwrap();
        fs::write(v2.path().join("cgroup.controllers"), "io\n").unwrap();
        let only_writes = PodLimits {
            device_read_bps: Vec::new(),
            blkio_weight_device: Vec::new(),
            ..limits.clone()
        };
        ensure(v2.path(), "/rpod/p", &only_writes).unwrap();
        assert_eq!(
            at(v2.path(), "rpod/p/io.max"),
            format!("{numbers} wbps=2097152")
        );
        ensure(v2.path(), "/rpod/p", &limits).unwrap();
        // The last line written (a cgroup file takes one a write; a plain file keeps the
        // last): the weight on io.weight's scale.
        assert_eq!(at(v2.path(), "rpod/p/io.weight"), format!("{numbers} 5000"));
        // A path that is no longer a device is said.
        let gone = PodLimits {
            device_read_bps: vec![Throttle {
                device: v2.path().join("nothing"),
                rate: 1,
            }],
            ..Default::default()
        };
        assert!(ensure(v2.path(), "/rpod/q", &gone).is_err());
    }

    #[test]
    fn v2_limits_enable_their_controllers_on_the_way_down() {
        let root = tempfile::tempdir().unwrap();
        fs::write(
            root.path().join("cgroup.controllers"),
            "cpuset cpu io memory pids\n",
        )
        .unwrap();
        let limits = PodLimits {
            cpus: Some(0.25),
            cpu_shares: Some(1024),
            cpuset_cpus: Some("1".into()),
            memory: Some(100 << 20),
            memory_swap: Some(150 << 20),
            blkio_weight: Some(10),
            ..Default::default()
        };
        ensure(root.path(), "/a/b/pod", &limits).unwrap();
        let at = |file: &str| read(root.path().join(file));
        assert_eq!(at("cgroup.subtree_control"), "+cpu +cpuset +memory +io");
        assert_eq!(at("a/cgroup.subtree_control"), "+cpu +cpuset +memory +io");
        assert_eq!(at("a/b/cgroup.subtree_control"), "+cpu +cpuset +memory +io");
        assert!(!root.path().join("a/b/pod/cgroup.subtree_control").exists());
        assert_eq!(at("a/b/pod/cpu.max"), "25000 100000");
        assert_eq!(at("a/b/pod/cpu.weight"), "39");
        assert_eq!(at("a/b/pod/cpuset.cpus"), "1");
        assert_eq!(at("a/b/pod/memory.max"), (100u64 << 20).to_string());
        assert_eq!(at("a/b/pod/memory.swap.max"), (50u64 << 20).to_string());
        assert_eq!(at("a/b/pod/io.weight"), "default 1");
    }
}
