//! The settings of a build's RUN steps' containers (`build --add-host`, `--ulimit`,
//! `--memory`, ...; the REST services' `extrahosts`, `ulimits`, `memory`, ...), checked
//! and turned into the template every step's container is created from. None of it goes
//! into the image or the build cache's keys.

use super::super::CreateOptions;
use crate::isolation::{parse_device, parse_ulimits, Isolation, NamespaceMode};
use crate::mounts::MountSpec;
use crate::network::etc_files::parse_add_host;
use crate::resources::Resources;
use crate::security::SecurityOptions;
use crate::{EngineError, Result};

/// The steps' settings as given, before they are checked.
#[derive(Debug, Clone, Default)]
pub struct StepSettings {
    /// `-v`: bind mounts and volumes, parsed by the caller (paths are the caller's).
    pub mounts: Vec<MountSpec>,
    /// `HOST:IP` (`HOST1;HOST2:IP` for several names).
    pub add_hosts: Vec<String>,
    pub dns_servers: Vec<String>,
    pub dns_search: Vec<String>,
    pub dns_options: Vec<String>,
    pub no_hosts: bool,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub security_opt: Vec<String>,
    /// `NAME=SOFT[:HARD]`.
    pub ulimits: Vec<String>,
    /// `HOST[:CONTAINER[:PERMISSIONS]]`.
    pub devices: Vec<String>,
    /// Bytes; none is the default (64 MiB).
    pub shm_size: Option<u64>,
    /// Bytes; none is no limit.
    pub memory: Option<i64>,
    /// Bytes, -1 for no limit of swap.
    pub memory_swap: Option<i64>,
    pub cpu_shares: Option<u64>,
    pub cpu_period: Option<u64>,
    pub cpu_quota: Option<i64>,
    pub cpuset_cpus: Option<String>,
    pub cpuset_mems: Option<String>,
    pub cgroup_parent: Option<String>,
    /// This process's proxy variables passed to the steps (podman's default).
    pub http_proxy: bool,
    /// `--pid`, `--ipc`, `--uts`, `--cgroupns`: the steps' namespaces, as `run` takes them.
    pub pid: Option<String>,
    pub ipc: Option<String>,
    pub uts: Option<String>,
    pub cgroupns: Option<String>,
}

impl StepSettings {
    /// The template of every step's container, each setting checked (a bad one is an
    /// error that names it).
    pub fn template(&self) -> Result<CreateOptions> {
        crate::mounts::validate(&self.mounts)?;
        crate::mounts::check_bind_sources(&self.mounts)?;
        let add_hosts = self
            .add_hosts
            .iter()
            .map(|h| parse_add_host(h))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(EngineError::InvalidArg)?;
        let mode = |flag: &str, value: &Option<String>| {
            NamespaceMode::parse(flag, value.as_deref().unwrap_or(""))
        };
        let (ulimits, ulimits_host) = parse_ulimits(&self.ulimits)?;
        if self.shm_size == Some(0) {
            return Err(EngineError::InvalidArg(
                "invalid --shm-size 0: a size above 0".into(),
            ));
        }
        Ok(CreateOptions {
            mounts: self.mounts.clone(),
            net: crate::container::NetworkConfig {
                dns_servers: self.dns_servers.clone(),
                dns_search: self.dns_search.clone(),
                dns_options: self.dns_options.clone(),
                add_hosts,
                no_hosts: self.no_hosts,
                ..Default::default()
            },
            security: SecurityOptions::from_flags(
                false,
                &self.cap_add,
                &self.cap_drop,
                &self.security_opt,
            )?,
            isolation: Isolation {
                ulimits,
                ulimits_host,
                pid: mode("pid", &self.pid)?,
                ipc: mode("ipc", &self.ipc)?,
                uts: mode("uts", &self.uts)?,
                cgroup: mode("cgroupns", &self.cgroupns)?,
                shm_size: self.shm_size,
                devices: self
                    .devices
                    .iter()
                    .map(|d| parse_device(d))
                    .collect::<Result<_>>()?,
                ..Default::default()
            },
            memory: self.memory.filter(|m| *m != 0),
            resources: Resources {
                memory_swap: self.memory_swap,
                cpu_shares: self.cpu_shares,
                cpu_quota: self.cpu_quota,
                cpu_period: self.cpu_period,
                cpuset_cpus: self.cpuset_cpus.clone(),
                cpuset_mems: self.cpuset_mems.clone(),
                ..Default::default()
            },
            cgroup_parent: self.cgroup_parent.clone(),
            http_proxy: self.http_proxy,
            ..Default::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each setting reaches the template; a bad one is refused saying which.
    #[test]
    fn settings_make_the_steps_template_and_bad_ones_are_refused() {
        let settings = StepSettings {
            add_hosts: vec!["db:10.0.0.5".into()],
            dns_servers: vec!["1.1.1.1".into()],
            cap_add: vec!["NET_ADMIN".into()],
            ulimits: vec!["nofile=100:200".into()],
            shm_size: Some(128 << 20),
            memory: Some(64 << 20),
            memory_swap: Some(-1),
            cpu_shares: Some(100),
            cgroup_parent: Some("builds".into()),
            ..Default::default()
        };
        let template = settings.template().unwrap();
        assert_eq!(template.net.add_hosts.len(), 1);
        assert_eq!(template.net.dns_servers, ["1.1.1.1"]);
        assert_eq!(template.isolation.ulimits.len(), 1);
        assert_eq!(template.isolation.shm_size, Some(128 << 20));
        assert_eq!(template.memory, Some(64 << 20));
        assert_eq!(template.resources.memory_swap, Some(-1));
        assert_eq!(template.resources.cpu_shares, Some(100));
        assert_eq!(template.cgroup_parent.as_deref(), Some("builds"));

        for (bad, named) in [
            (
                StepSettings {
                    add_hosts: vec!["no-address".into()],
                    ..Default::default()
                },
                "--add-host",
            ),
            (
                StepSettings {
                    ulimits: vec!["nofile".into()],
                    ..Default::default()
                },
                "--ulimit",
            ),
            (
                StepSettings {
                    shm_size: Some(0),
                    ..Default::default()
                },
                "--shm-size",
            ),
            (
                StepSettings {
                    cap_add: vec!["NOT_A_CAPABILITY".into()],
                    ..Default::default()
                },
                "NOT_A_CAPABILITY",
            ),
        ] {
            let err = bad.template().unwrap_err().to_string();
            assert!(err.contains(named), "{err}");
        }
    }
}
