//! A container's cgroup limits: memory (with swap, reservation and swappiness), CPU
//! (`--cpus` or quota and period, shares, cpusets, real-time time), PIDs and block I/O
//! (weights and rates). The same limits go into the
//! spec at create and to the runtime's `update` later (`rpod update`), so both are built
//! here, after one set of checks.

use std::path::Path;

use oci_spec::runtime::{
    LinuxBlockIoBuilder, LinuxCpuBuilder, LinuxMemoryBuilder, LinuxPidsBuilder,
    LinuxResourcesBuilder,
};
use serde::{Deserialize, Serialize};

use crate::container::ContainerConfig;
use crate::error::{EngineError, Result};

/// The CFS period `--cpus` is expressed in (podman's).
pub const CPU_PERIOD: u64 = 100_000;

/// The CFS quota (if any) and period a container's spec gets: `--cpus` as a quota over
/// podman's period, else `--cpu-quota` and `--cpu-period` (podman's period by default).
pub fn cfs_limits(config: &ContainerConfig) -> Option<(Option<i64>, u64)> {
    if let Some(cpus) = config.cpus {
        return Some((Some((cpus * CPU_PERIOD as f64) as i64), CPU_PERIOD));
    }
    let r = &config.resources;
    (r.cpu_quota.is_some() || r.cpu_period.is_some())
        .then(|| (r.cpu_quota, r.cpu_period.unwrap_or(CPU_PERIOD)))
}

/// The smallest memory limit podman accepts.
const MIN_MEMORY: i64 = 6 << 20;

/// Limits beyond memory, `--cpus` and PIDs (which the configuration has on their own).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Resources {
    /// Memory plus swap, in bytes; -1 for unlimited swap.
    #[serde(default)]
    pub memory_swap: Option<i64>,
    #[serde(default)]
    pub memory_reservation: Option<i64>,
    #[serde(default)]
    pub cpu_shares: Option<u64>,
    /// With `cpu_period`, instead of `--cpus`.
    #[serde(default)]
    pub cpu_quota: Option<i64>,
    #[serde(default)]
    pub cpu_period: Option<u64>,
    #[serde(default)]
    pub cpuset_cpus: Option<String>,
    #[serde(default)]
    pub cpuset_mems: Option<String>,
    #[serde(default)]
    pub blkio_weight: Option<u16>,
    /// `--oom-kill-disable` (cgroup v1's memory controller).
    #[serde(default)]
    pub oom_kill_disable: bool,
    /// `--device-read-bps`, `--device-write-bps`: bytes per second from or to a block
    /// device.
    #[serde(default)]
    pub device_read_bps: Vec<Throttle>,
    #[serde(default)]
    pub device_write_bps: Vec<Throttle>,
    /// `--device-read-iops`, `--device-write-iops`: I/O operations per second from or to a
    /// block device.
    #[serde(default)]
    pub device_read_iops: Vec<Throttle>,
    #[serde(default)]
    pub device_write_iops: Vec<Throttle>,
    /// `--memory-swappiness` (0-100; cgroup v1's memory controller).
    #[serde(default)]
    pub memory_swappiness: Option<u64>,
    /// `--cpu-rt-period`, `--cpu-rt-runtime`: microseconds of real-time scheduling per
    /// period (cgroup v1's cpu controller).
    #[serde(default)]
    pub cpu_rt_period: Option<u64>,
    #[serde(default)]
    pub cpu_rt_runtime: Option<i64>,
    /// `--blkio-weight-device`: the block I/O weight on one device.
    #[serde(default)]
    pub blkio_weight_device: Vec<WeightDevice>,
}

/// A block I/O weight on one device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeightDevice {
    pub device: std::path::PathBuf,
    pub weight: u16,
}

impl WeightDevice {
    /// `PATH:WEIGHT` (`/dev/sda:200`), the path a block device.
    pub fn parse(text: &str) -> Result<Self> {
        let invalid = |why: &str| {
            EngineError::InvalidArg(format!("invalid --blkio-weight-device {text:?}: {why}"))
        };
        let (path, weight) = text
            .rsplit_once(':')
            .ok_or_else(|| invalid("use PATH:WEIGHT"))?;
        let weight = weight
            .parse()
            .map_err(|_| invalid("the weight is a number from 10 to 1000"))?;
        Self::checked(path, weight).map_err(|e| invalid(&e.to_string()))
    }

    /// A weight on the block device at `path`, checked to be one and in range.
    pub fn checked(path: &str, weight: u16) -> Result<Self> {
        if !(10..=1000).contains(&weight) {
            return Err(invalid(format!(
                "invalid --blkio-weight-device weight {weight}: from 10 to 1000"
            )));
        }
        let device = Throttle::checked(path, 0, "--blkio-weight-device")?.device;
        Ok(WeightDevice { device, weight })
    }
}

/// A rate limit on one block device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Throttle {
    pub device: std::path::PathBuf,
    pub rate: u64,
}

impl Throttle {
    /// `PATH:RATE` (`/dev/sda:1mb`), the path a block device.
    pub fn parse(text: &str, flag: &str) -> Result<Self> {
        Self::parse_with(text, flag, crate::mounts::size_bytes)
    }

    /// `PATH:COUNT` (`/dev/sda:1000`), a number of operations per second.
    pub fn parse_iops(text: &str, flag: &str) -> Result<Self> {
        Self::parse_with(text, flag, |count| count.parse().ok())
    }

    /// A limit on the block device at `path`, checked to be one; `flag` names the
    /// setting in the error.
    pub fn checked(path: &str, rate: u64, flag: &str) -> Result<Self> {
        let device = std::path::PathBuf::from(path);
        match crate::isolation::device_kind(&device)? {
            Some(('b', _, _)) => Ok(Throttle { device, rate }),
            _ => Err(EngineError::InvalidArg(format!(
                "invalid {flag} {path:?}: not a block device"
            ))),
        }
    }

    fn parse_with(
        text: &str,
        flag: &str,
        parse_rate: impl Fn(&str) -> Option<u64>,
    ) -> Result<Self> {
        let invalid =
            |why: &str| EngineError::InvalidArg(format!("invalid {flag} {text:?}: {why}"));
        let (path, rate) = text
            .rsplit_once(':')
            .ok_or_else(|| invalid("use PATH:RATE"))?;
        let rate = parse_rate(rate).ok_or_else(|| invalid("bad rate"))?;
        Self::checked(path, rate, flag).map_err(|_| invalid("not a block device"))
    }
}

/// What `rpod update` (or a create) asks to change; `None` leaves a limit as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LimitChanges {
    pub memory: Option<i64>,
    pub memory_swap: Option<i64>,
    pub memory_reservation: Option<i64>,
    pub cpus: Option<f64>,
    pub cpu_shares: Option<u64>,
    pub cpu_quota: Option<i64>,
    pub cpu_period: Option<u64>,
    pub cpuset_cpus: Option<String>,
    pub cpuset_mems: Option<String>,
    /// -1 or 0 for unlimited.
    pub pids_limit: Option<i64>,
    pub blkio_weight: Option<u16>,
    /// Replaces the weight of each device named (the others keep theirs).
    pub blkio_weight_device: Vec<WeightDevice>,
    pub memory_swappiness: Option<u64>,
    pub cpu_rt_period: Option<u64>,
    pub cpu_rt_runtime: Option<i64>,
    /// Each replaces the rate of the device it names (the others keep theirs).
    pub device_read_bps: Vec<Throttle>,
    pub device_write_bps: Vec<Throttle>,
    pub device_read_iops: Vec<Throttle>,
    pub device_write_iops: Vec<Throttle>,
    /// Not a limit, but changed the same way (`docker update --restart`).
    pub restart: Option<crate::restart::RestartPolicy>,
}

impl LimitChanges {
    pub fn is_empty(&self) -> bool {
        *self == LimitChanges::default()
    }

    /// Apply to a configuration, then check the whole: nothing is changed when an error
    /// is returned.
    pub fn apply(&self, config: &mut ContainerConfig) -> Result<()> {
        let mut new = config.clone();
        if let Some(memory) = self.memory {
            new.memory = Some(memory);
        }
        if let Some(cpus) = self.cpus {
            new.cpus = Some(cpus);
            new.resources.cpu_quota = None;
            new.resources.cpu_period = None;
        }
        if self.cpu_quota.is_some() || self.cpu_period.is_some() {
            if self.cpus.is_some() {
                return Err(invalid(
                    "--cpus and --cpu-quota/--cpu-period cannot be given together",
                ));
            }
            new.cpus = None;
            if let Some(quota) = self.cpu_quota {
                new.resources.cpu_quota = Some(quota);
            }
            if let Some(period) = self.cpu_period {
                new.resources.cpu_period = Some(period);
            }
        }
        if let Some(pids) = self.pids_limit {
            new.pids_limit = (pids > 0).then_some(pids);
        }
        let r = &mut new.resources;
        set(&mut r.memory_swap, self.memory_swap);
        set(&mut r.memory_reservation, self.memory_reservation);
        set(&mut r.cpu_shares, self.cpu_shares);
        set(&mut r.cpuset_cpus, self.cpuset_cpus.clone());
        set(&mut r.cpuset_mems, self.cpuset_mems.clone());
        set(&mut r.blkio_weight, self.blkio_weight);
        set(&mut r.memory_swappiness, self.memory_swappiness);
        set(&mut r.cpu_rt_period, self.cpu_rt_period);
        set(&mut r.cpu_rt_runtime, self.cpu_rt_runtime);
        for weight in &self.blkio_weight_device {
            r.blkio_weight_device.retain(|w| w.device != weight.device);
            r.blkio_weight_device.push(weight.clone());
        }
        for (current, changed) in [
            (&mut r.device_read_bps, &self.device_read_bps),
            (&mut r.device_write_bps, &self.device_write_bps),
            (&mut r.device_read_iops, &self.device_read_iops),
            (&mut r.device_write_iops, &self.device_write_iops),
        ] {
            for throttle in changed {
                current.retain(|t| t.device != throttle.device);
                current.push(throttle.clone());
            }
        }
        if let Some(restart) = self.restart {
            new.restart = restart;
        }
        check(&new)?;
        *config = new;
        Ok(())
    }
}

fn set<T>(slot: &mut Option<T>, value: Option<T>) {
    if value.is_some() {
        *slot = value;
    }
}

fn invalid(message: impl Into<String>) -> EngineError {
    EngineError::InvalidArg(message.into())
}

/// A cpuset list: `0-3,5,7-8`.
fn valid_cpuset(text: &str) -> bool {
    !text.is_empty()
        && text.split(',').all(|part| {
            let mut ends = part.splitn(2, '-').map(|n| n.parse::<u32>());
            match (ends.next(), ends.next()) {
                (Some(Ok(_)), None) => true,
                (Some(Ok(a)), Some(Ok(b))) => a <= b,
                _ => false,
            }
        })
}

/// `--cpus 0` and `--cpu-shares 0` are no limit, as podman and Docker take them.
pub fn zero_is_unset<T: PartialEq + Default>(limit: &mut Option<T>) {
    if limit.as_ref() == Some(&T::default()) {
        *limit = None;
    }
}

/// Check a configuration's limits as podman does.
pub fn check(config: &ContainerConfig) -> Result<()> {
    check_limits(config.memory, config.cpus, &config.resources)
}

/// Refuse block I/O weights this host's controller cannot take: on cgroup v1 they need the
/// files the runtimes write (`blkio.weight` and `blkio.weight_device`, or BFQ's
/// `blkio.bfq.*`), which a kernel without a proportional I/O scheduler lacks. The runtime
/// failed at start instead, and its message said a command was not found. (On v2 the
/// runtimes fall back to `io.weight`; there, and without a blkio hierarchy, the runtime
/// speaks for itself.)
pub fn check_host(r: &Resources, cgroup_root: &Path) -> Result<()> {
    // Nothing to look at on the host for most containers.
    if r.blkio_weight.is_none() && r.blkio_weight_device.is_empty() {
        return Ok(());
    }
    let blkio = cgroup_root.join("blkio");
    if crate::pod_cgroups::unified(cgroup_root) || !blkio.is_dir() {
        return Ok(());
    }
    let wanted = [
        (r.blkio_weight.is_some(), "--blkio-weight", "weight"),
        (
            !r.blkio_weight_device.is_empty(),
            "--blkio-weight-device",
            "weight_device",
        ),
    ];
    for (asked, flag, file) in wanted {
        let present = ["blkio.", "blkio.bfq."]
            .iter()
            .any(|prefix| blkio.join(format!("{prefix}{file}")).exists());
        if asked && !present {
            return Err(invalid(format!(
                "{flag}: this host's block I/O controller takes no weights (neither \
                 blkio.{file} nor blkio.bfq.{file} is in {}; a proportional I/O scheduler \
                 such as BFQ provides them)",
                blkio.display()
            )));
        }
    }
    Ok(())
}

/// Check limits as podman does: `memory` and `cpus` (a container's own fields, a pod's
/// limits too) and the rest.
pub fn check_limits(memory: Option<i64>, cpus: Option<f64>, r: &Resources) -> Result<()> {
    if let Some(memory) = memory {
        if memory < MIN_MEMORY {
            return Err(invalid(format!(
                "invalid memory limit {memory}: the minimum is 6MB"
            )));
        }
    }
    if let Some(cpus) = cpus {
        if !cpus.is_finite() || cpus <= 0.0 {
            return Err(invalid(format!("invalid --cpus {cpus}: must be positive")));
        }
    }
    if let Some(swap) = r.memory_swap {
        match memory {
            _ if swap == -1 => {}
            None => {
                return Err(invalid(
                    "--memory-swap needs --memory: it is memory and swap together",
                ))
            }
            Some(memory) if swap < memory => {
                return Err(invalid(format!(
                "--memory-swap {swap} is below --memory {memory}: it is memory and swap together"
            )))
            }
            Some(_) => {}
        }
    }
    if let Some(reservation) = r.memory_reservation {
        if reservation <= 0 || memory.is_some_and(|m| reservation > m) {
            return Err(invalid(format!(
                "invalid --memory-reservation {reservation}: positive and at most --memory"
            )));
        }
    }
    if let Some(shares) = r.cpu_shares {
        if !(2..=262_144).contains(&shares) {
            return Err(invalid(format!(
                "invalid --cpu-shares {shares}: from 2 to 262144"
            )));
        }
    }
    if let Some(period) = r.cpu_period {
        if !(1000..=1_000_000).contains(&period) {
            return Err(invalid(format!(
                "invalid --cpu-period {period}: from 1000 to 1000000 microseconds"
            )));
        }
    }
    if let Some(quota) = r.cpu_quota {
        if quota != -1 && quota < 1000 {
            return Err(invalid(format!(
                "invalid --cpu-quota {quota}: at least 1000 microseconds, or -1"
            )));
        }
    }
    for (flag, set) in [
        ("--cpuset-cpus", &r.cpuset_cpus),
        ("--cpuset-mems", &r.cpuset_mems),
    ] {
        if let Some(set) = set {
            if !valid_cpuset(set) {
                return Err(invalid(format!(
                    "invalid {flag} {set:?}: a list like 0-2,4"
                )));
            }
        }
    }
    if let Some(weight) = r.blkio_weight {
        if !(10..=1000).contains(&weight) {
            return Err(invalid(format!(
                "invalid --blkio-weight {weight}: from 10 to 1000"
            )));
        }
    }
    if let Some(swappiness) = r.memory_swappiness {
        if swappiness > 100 {
            return Err(invalid(format!(
                "invalid --memory-swappiness {swappiness}: from 0 to 100"
            )));
        }
    }
    if let Some(period) = r.cpu_rt_period {
        if !(1..=1_000_000).contains(&period) {
            return Err(invalid(format!(
                "invalid --cpu-rt-period {period}: from 1 to 1000000 microseconds"
            )));
        }
    }
    if let Some(runtime) = r.cpu_rt_runtime {
        let period = r.cpu_rt_period.unwrap_or(RT_PERIOD) as i64;
        if runtime != -1 && !(0..=period).contains(&runtime) {
            return Err(invalid(format!(
                "invalid --cpu-rt-runtime {runtime}: from 0 to the period ({period} microseconds), or -1"
            )));
        }
    }
    Ok(())
}

/// The kernel's real-time period when none is given (`cpu.rt_period_us`).
const RT_PERIOD: u64 = 1_000_000;

fn build_err(e: impl std::fmt::Display) -> EngineError {
    EngineError::InvalidArg(format!("generating the cgroup limits: {e}"))
}

/// The limits of a configuration, for the spec (which adds the device rules) or an update.
pub fn limits(config: &ContainerConfig) -> Result<LinuxResourcesBuilder> {
    let r = &config.resources;
    let mut resources = LinuxResourcesBuilder::default();
    if config.memory.is_some()
        || r.memory_swap.is_some()
        || r.memory_reservation.is_some()
        || r.memory_swappiness.is_some()
        || r.oom_kill_disable
    {
        let mut memory = LinuxMemoryBuilder::default();
        if r.oom_kill_disable {
            memory = memory.disable_oom_killer(true);
        }
        if let Some(limit) = config.memory {
            memory = memory.limit(limit);
        }
        if let Some(swap) = r.memory_swap {
            memory = memory.swap(swap);
        }
        if let Some(reservation) = r.memory_reservation {
            memory = memory.reservation(reservation);
        }
        if let Some(swappiness) = r.memory_swappiness {
            memory = memory.swappiness(swappiness);
        }
        resources = resources.memory(memory.build().map_err(build_err)?);
    }
    let mut cpu = LinuxCpuBuilder::default();
    let mut any_cpu = false;
    if let Some((quota, period)) = cfs_limits(config) {
        if let Some(quota) = quota {
            cpu = cpu.quota(quota);
        }
        cpu = cpu.period(period);
        any_cpu = true;
    }
    if let Some(shares) = r.cpu_shares {
        cpu = cpu.shares(shares);
        any_cpu = true;
    }
    if let Some(cpus) = &r.cpuset_cpus {
        cpu = cpu.cpus(cpus.clone());
        any_cpu = true;
    }
    if let Some(mems) = &r.cpuset_mems {
        cpu = cpu.mems(mems.clone());
        any_cpu = true;
    }
    if let Some(period) = r.cpu_rt_period {
        cpu = cpu.realtime_period(period);
        any_cpu = true;
    }
    if let Some(runtime) = r.cpu_rt_runtime {
        cpu = cpu.realtime_runtime(runtime);
        any_cpu = true;
    }
    if any_cpu {
        resources = resources.cpu(cpu.build().map_err(build_err)?);
    }
    if let Some(limit) = config.pids_limit {
        resources = resources.pids(
            LinuxPidsBuilder::default()
                .limit(limit)
                .build()
                .map_err(build_err)?,
        );
    }
    if r.blkio_weight.is_some()
        || !r.blkio_weight_device.is_empty()
        || !r.device_read_bps.is_empty()
        || !r.device_write_bps.is_empty()
        || !r.device_read_iops.is_empty()
        || !r.device_write_iops.is_empty()
    {
        let mut block = LinuxBlockIoBuilder::default();
        if let Some(weight) = r.blkio_weight {
            block = block.weight(weight);
        }
        let throttles = |list: &[Throttle]| -> Result<Vec<oci_spec::runtime::LinuxThrottleDevice>> {
            list.iter()
                .map(|t| {
                    let (major, minor) = block_device_numbers(&t.device)?;
                    oci_spec::runtime::LinuxThrottleDeviceBuilder::default()
                        .major(major)
                        .minor(minor)
                        .rate(t.rate)
                        .build()
                        .map_err(build_err)
                })
                .collect()
        };
        if !r.blkio_weight_device.is_empty() {
            let weights = r
                .blkio_weight_device
                .iter()
                .map(|w| {
                    let (major, minor) = block_device_numbers(&w.device)?;
                    oci_spec::runtime::LinuxWeightDeviceBuilder::default()
                        .major(major)
                        .minor(minor)
                        .weight(w.weight)
                        .build()
                        .map_err(build_err)
                })
                .collect::<Result<Vec<_>>>()?;
            block = block.weight_device(weights);
        }
        if !r.device_read_bps.is_empty() {
            block = block.throttle_read_bps_device(throttles(&r.device_read_bps)?);
        }
        if !r.device_write_bps.is_empty() {
            block = block.throttle_write_bps_device(throttles(&r.device_write_bps)?);
        }
        if !r.device_read_iops.is_empty() {
            block = block.throttle_read_iops_device(throttles(&r.device_read_iops)?);
        }
        if !r.device_write_iops.is_empty() {
            block = block.throttle_write_iops_device(throttles(&r.device_write_iops)?);
        }
        resources = resources.block_io(block.build().map_err(build_err)?);
    }
    Ok(resources)
}

/// The numbers of a device named in a limit, looked up again at each use (it may have
/// gone since the limit was set).
pub(crate) fn block_device_numbers(device: &std::path::Path) -> Result<(i64, i64)> {
    let (_, major, minor) = crate::isolation::device_kind(device)?.ok_or_else(|| {
        EngineError::InvalidArg(format!("{}: no longer a device", device.display()))
    })?;
    Ok((major, minor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_io_weights_need_a_controller_that_takes_them() {
        let root = tempfile::tempdir().unwrap();
        let blkio = root.path().join("blkio");
        std::fs::create_dir(&blkio).unwrap();
        let weight = Resources {
            blkio_weight: Some(300),
            ..Default::default()
        };
        let per_device = Resources {
            blkio_weight_device: vec![WeightDevice {
                device: "/dev/null".into(),
                weight: 200,
            }],
            ..Default::default()
        };
        // Without the files (no proportional scheduler): refused, saying why.
        for (asked, flag) in [
            (&weight, "--blkio-weight:"),
            (&per_device, "--blkio-weight-device:"),
        ] {
            let err = check_host(asked, root.path()).unwrap_err();
            assert!(matches!(err, EngineError::InvalidArg(_)), "{err}");
            assert!(err.to_string().contains(flag), "{err}");
        }
        // Nothing asked, nothing checked.
        check_host(&Resources::default(), root.path()).unwrap();
        // BFQ's files, or the classic ones.
        std::fs::write(blkio.join("blkio.bfq.weight"), "").unwrap();
        check_host(&weight, root.path()).unwrap();
        std::fs::write(blkio.join("blkio.weight_device"), "").unwrap();
        check_host(&per_device, root.path()).unwrap();
        // cgroup v2 (and no blkio hierarchy): the runtime speaks for itself.
        let unified = tempfile::tempdir().unwrap();
        std::fs::write(unified.path().join("cgroup.controllers"), "io").unwrap();
        check_host(&weight, unified.path()).unwrap();
    }

    fn base() -> ContainerConfig {
        crate::container::test_config()
    }

    #[test]
    fn changes_apply_and_check_as_a_whole() {
        let mut config = base();
        LimitChanges {
            memory: Some(64 << 20),
            memory_swap: Some(128 << 20),
            cpu_shares: Some(512),
            cpuset_cpus: Some("0".into()),
            pids_limit: Some(50),
            ..Default::default()
        }
        .apply(&mut config)
        .unwrap();
        assert_eq!(config.memory, Some(64 << 20));
        assert_eq!(config.resources.memory_swap, Some(128 << 20));
        let built = limits(&config).unwrap().build().unwrap();
        let json = serde_json::to_value(&built).unwrap();
        assert_eq!(json["memory"]["limit"], 64 << 20);
        assert_eq!(json["memory"]["swap"], 128 << 20);
        assert_eq!(json["cpu"]["shares"], 512);
        assert_eq!(json["cpu"]["cpus"], "0");
        assert_eq!(json["pids"]["limit"], 50);
        // A bad change leaves everything as it was.
        let before = serde_json::to_value(&config).unwrap();
        for bad in [
            LimitChanges {
                memory: Some(1 << 20),
                ..Default::default()
            },
            LimitChanges {
                memory_swap: Some(32 << 20),
                ..Default::default()
            },
            LimitChanges {
                cpu_shares: Some(1),
                ..Default::default()
            },
            LimitChanges {
                cpuset_cpus: Some("0-".into()),
                ..Default::default()
            },
            LimitChanges {
                blkio_weight: Some(5),
                ..Default::default()
            },
            LimitChanges {
                cpus: Some(1.0),
                cpu_quota: Some(50_000),
                ..Default::default()
            },
            LimitChanges {
                cpu_period: Some(10),
                ..Default::default()
            },
        ] {
            assert!(bad.apply(&mut config).is_err(), "{bad:?}");
            assert_eq!(serde_json::to_value(&config).unwrap(), before);
        }
        // --cpus replaces a quota and the other way round.
        LimitChanges {
            cpu_quota: Some(50_000),
            ..Default::default()
        }
        .apply(&mut config)
        .unwrap();
        assert_eq!(config.cpus, None);
        let json = serde_json::to_value(limits(&config).unwrap().build().unwrap()).unwrap();
        assert_eq!(
            (json["cpu"]["quota"].clone(), json["cpu"]["period"].clone()),
            (50_000.into(), 100_000.into())
        );
        LimitChanges {
            cpus: Some(0.5),
            ..Default::default()
        }
        .apply(&mut config)
        .unwrap();
        assert_eq!(config.resources.cpu_quota, None);
    }
}
