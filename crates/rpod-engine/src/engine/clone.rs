//! `container clone`: a new container made as the original was, through the same create
//! (so it gets its own secrets' copies, its own anonymous volumes and network addresses),
//! with other limits, another name or another image if asked. `pod clone`: a new pod made
//! as the original was (its infra container's settings, its limits), with a clone of each
//! of its containers in it.

use super::*;
use crate::isolation::NamespaceMode;
use crate::pod_cgroups::PodLimits;
use crate::pods::{PodRecord, SharedNamespace};
use crate::resources::LimitChanges;

/// What a clone changes.
#[derive(Debug, Clone, Default)]
pub struct CloneOptions {
    /// The new name (the original's with `-clone` when `None`, as podman names it).
    pub name: Option<String>,
    /// Another image, the command and settings kept.
    pub image: Option<String>,
    pub limits: LimitChanges,
    /// Remove the original once the clone is made (`force`: even a running one).
    pub destroy: bool,
    pub force: bool,
    /// The pod the clone joins (`--pod`); a pod's container's clone joins its pod unless
    /// another is named.
    pub pod: Option<String>,
}

/// What a pod's clone changes.
#[derive(Debug, Clone, Default)]
pub struct PodCloneOptions {
    /// The new pod's name (the original's with `-clone`, `-clone1`, ... when `None`).
    pub name: Option<String>,
    /// Labels added to the original's (a key given replaces its value).
    pub labels: BTreeMap<String, String>,
    pub hostname: Option<String>,
    pub infra_name: Option<String>,
    /// The limits given replace the original's; the others are kept.
    pub limits: PodLimits,
    /// Settings given that replace the original's.
    pub settings: PodSettings,
    /// Remove the original (forced) once the clone is made.
    pub destroy: bool,
}

/// A pod's settings a clone replaces, each when given (podman's `pod clone` flags).
#[derive(Debug, Clone, Default)]
pub struct PodSettings {
    pub cgroup_parent: Option<String>,
    pub infra_command: Option<Vec<String>>,
    pub infra_conmon_pidfile: Option<PathBuf>,
    /// What every container of the pod gets.
    pub mounts: Option<Vec<crate::mounts::MountSpec>>,
    pub volumes_from: Option<Vec<String>>,
    pub devices: Option<Vec<crate::isolation::DeviceMapping>>,
    /// Its shared namespaces' kernel parameters and `/dev/shm`.
    pub sysctls: Option<BTreeMap<String, String>>,
    pub shm_size: Option<u64>,
    /// The infra container's namespaces and security options.
    pub pid: Option<NamespaceMode>,
    pub uts: Option<NamespaceMode>,
    pub security: Option<crate::security::SecurityOptions>,
    /// The pod's user namespace (its infra container's): mappings, or an automatic range.
    pub userns: Option<(
        Option<crate::userns::IdMappings>,
        Option<crate::userns::AutoUserns>,
    )>,
    /// Its network's settings (its infra container's).
    pub net: PodNetworkSettings,
}

/// The network settings of a pod a clone replaces, each when given.
#[derive(Debug, Clone, Default)]
pub struct PodNetworkSettings {
    /// `--network`: the mode, and the networks joined.
    pub network: Option<(Option<NetworkMode>, Vec<crate::container::NetworkJoin>)>,
    /// `-p` and `-P`: the published ports, and whether all exposed ones are.
    pub ports: Option<(Vec<crate::network::ports::PortMapping>, bool)>,
    pub exposed: Option<Vec<String>>,
    pub dns_servers: Option<Vec<String>>,
    pub dns_search: Option<Vec<String>>,
    pub dns_options: Option<Vec<String>>,
    pub add_hosts: Option<Vec<crate::network::etc_files::HostEntry>>,
    pub no_hosts: Option<bool>,
    pub ip: Option<std::net::Ipv4Addr>,
    pub ip6: Option<std::net::Ipv6Addr>,
    pub mac_address: Option<String>,
    pub network_aliases: Option<Vec<String>>,
}

impl PodNetworkSettings {
    /// Put the settings given in place of `options`'.
    fn replace_in(&self, options: &mut CreateOptions) {
        let net = &mut options.net;
        if let Some((mode, joins)) = &self.network {
            options.network = mode.clone();
            net.networks = joins.clone();
        }
        if let Some((ports, all)) = &self.ports {
            net.ports = ports.clone();
            net.publish_all = *all;
        }
        let replace = |given: &Option<Vec<String>>, kept: &mut Vec<String>| {
            if let Some(given) = given {
                *kept = given.clone();
            }
        };
        replace(&self.exposed, &mut net.exposed);
        replace(&self.dns_servers, &mut net.dns_servers);
        replace(&self.dns_search, &mut net.dns_search);
        replace(&self.dns_options, &mut net.dns_options);
        if let Some(hosts) = &self.add_hosts {
            net.add_hosts = hosts.clone();
        }
        if let Some(no_hosts) = self.no_hosts {
            net.no_hosts = no_hosts;
        }
        if self.ip.is_some() {
            options.ip = self.ip;
        }
        if self.ip6.is_some() {
            options.ip6 = self.ip6;
        }
        if self.mac_address.is_some() {
            options.mac_address = self.mac_address.clone();
        }
        if let Some(aliases) = &self.network_aliases {
            options.network_aliases = aliases.clone();
        }
    }
}

/// `base-clone`, or `base-clone1`, `base-clone2`, ...: the first that `taken` does not
/// know (podman's names for clones).
fn clone_name(base: &str, taken: impl Fn(&str) -> Result<bool>) -> Result<String> {
    let first = format!("{base}-clone");
    if !taken(&first)? {
        return Ok(first);
    }
    for n in 1..=u32::MAX {
        let name = format!("{first}{n}");
        if !taken(&name)? {
            return Ok(name);
        }
    }
    Err(EngineError::InvalidArg(format!(
        "no free name for a clone of {base}"
    )))
}

/// Undo in a clone's create options what the create of a container of pod `from` took from
/// that pod (its infra container's namespaces and requirement, the pod's cgroup), so that
/// joining a pod sets them afresh.
fn leave_pod(create: &mut CreateOptions, from: &PodRecord) {
    if let Some(old_infra) = &from.infra_id {
        let old = NamespaceMode::Container(old_infra.clone());
        if create.network == Some(NetworkMode::Container(old_infra.clone())) {
            create.network = None;
        }
        let iso = &mut create.isolation;
        for mode in [&mut iso.ipc, &mut iso.uts, &mut iso.pid, &mut iso.cgroup] {
            if *mode == old {
                *mode = NamespaceMode::Private;
            }
        }
        create.requires.retain(|r| r != old_infra);
    }
    if create.cgroup_parent.is_some() && create.cgroup_parent == from.cgroup {
        create.cgroup_parent = None;
    }
}

impl Engine {
    /// Make a pod like `name_or_id`, with a clone of each of its containers (its infra
    /// container is made new, from the original's settings); the new pod. If a container
    /// cannot be cloned, the new pod goes again.
    pub fn clone_pod(&self, name_or_id: &str, options: &PodCloneOptions) -> Result<PodRecord> {
        let view = self.pod_view(self.lookup_pod(name_or_id)?)?;
        let original = &view.pod;
        let pod = self.create_pod(self.pod_clone_options(&view, options)?)?;
        let mut members: Vec<&ContainerRecord> = view
            .containers
            .iter()
            .filter(|c| Some(c.id()) != original.infra_id.as_deref())
            .collect();
        members.sort_by_key(|c| c.config.created);
        // Old IDs to their clones', for the members that require others (made before them).
        let mut clones: HashMap<String, String> = HashMap::new();
        let cloned = members.into_iter().try_for_each(|member| {
            let clone = self.clone_member(member, original, &pod, &clones)?;
            clones.insert(member.id().to_string(), clone);
            Ok(())
        });
        if let Err(e) = cloned {
            let _ = self.pod_remove(&pod.id, true, Some(0));
            return Err(e);
        }
        if options.destroy {
            self.pod_remove(&original.id, true, None)?;
        }
        Ok(pod)
    }

    /// The options that make a pod like `name_or_id` (its infra container's settings, its
    /// limits), named `name` (`generate spec`).
    pub fn pod_spec_options(&self, name_or_id: &str, name: String) -> Result<PodOptions> {
        let view = self.pod_view(self.lookup_pod(name_or_id)?)?;
        let options = PodCloneOptions {
            name: Some(name),
            ..Default::default()
        };
        self.pod_clone_options(&view, &options)
    }

    /// What makes a pod like `view`'s, with what a clone changes.
    fn pod_clone_options(&self, view: &PodView, options: &PodCloneOptions) -> Result<PodOptions> {
        let original = &view.pod;
        let infra = original
            .infra_id
            .as_deref()
            .and_then(|id| view.containers.iter().find(|c| c.id() == id));
        let name = match &options.name {
            Some(name) => name.clone(),
            None => clone_name(&original.name, |n| match self.lookup_pod(n) {
                Ok(_) => Ok(true),
                Err(EngineError::NoSuchPod(_)) => Ok(false),
                Err(e) => Err(e),
            })?,
        };
        let mut labels = original.labels.clone();
        labels.extend(options.labels.clone());
        let given = &options.limits;
        let kept = &original.limits;
        let limits = PodLimits {
            cpus: given.cpus.or(kept.cpus),
            cpu_shares: given.cpu_shares.or(kept.cpu_shares),
            cpuset_cpus: given.cpuset_cpus.clone().or(kept.cpuset_cpus.clone()),
            cpuset_mems: given.cpuset_mems.clone().or(kept.cpuset_mems.clone()),
            memory: given.memory.or(kept.memory),
            memory_swap: given.memory_swap.or(kept.memory_swap),
            blkio_weight: given.blkio_weight.or(kept.blkio_weight),
            device_read_bps: given_or_kept(&given.device_read_bps, &kept.device_read_bps),
            device_write_bps: given_or_kept(&given.device_write_bps, &kept.device_write_bps),
            blkio_weight_device: given_or_kept(
                &given.blkio_weight_device,
                &kept.blkio_weight_device,
            ),
        };
        // The infra container's network is the pod's when the pod shares it.
        let mut infra_options = match infra {
            Some(infra) if original.shares(SharedNamespace::Net) => CreateOptions {
                network: Some(infra.config.network.clone()),
                net: infra.config.net.clone(),
                ..Default::default()
            },
            _ => CreateOptions::default(),
        };
        if let Some(infra) = infra {
            // Its user namespace is the pod's too: the same mappings, or a range of its own.
            (infra_options.id_mappings, infra_options.userns_auto) =
                user_namespace_of(&infra.config);
            // What the pod gives its containers (the same volumes, not copies of them) and
            // its namespaces' settings.
            infra_options.mounts = infra
                .config
                .mounts
                .iter()
                .filter(|m| m.kind == crate::mounts::MountKind::Bind)
                .map(|m| crate::mounts::MountSpec {
                    anonymous: false,
                    ..m.clone()
                })
                .collect();
            let kept = &infra.config.isolation;
            let isolation = &mut infra_options.isolation;
            isolation.devices = kept.devices.clone();
            isolation.sysctls = kept.sysctls.clone();
            isolation.shm_size = kept.shm_size;
            isolation.pid = kept.pid.clone();
            isolation.uts = kept.uts.clone();
            infra_options.security = infra.config.security.clone();
        }
        let given = &options.settings;
        if let Some(mounts) = &given.mounts {
            infra_options.mounts = mounts.clone();
        }
        if let Some(from) = &given.volumes_from {
            infra_options.volumes_from = from.clone();
        }
        let isolation = &mut infra_options.isolation;
        if let Some(devices) = &given.devices {
            isolation.devices = devices.clone();
        }
        if let Some(sysctls) = &given.sysctls {
            isolation.sysctls = sysctls.clone();
        }
        if given.shm_size.is_some() {
            isolation.shm_size = given.shm_size;
        }
        if let Some(pid) = &given.pid {
            isolation.pid = pid.clone();
        }
        if let Some(uts) = &given.uts {
            isolation.uts = uts.clone();
        }
        if let Some(security) = &given.security {
            infra_options.security = security.clone();
        }
        if let Some((mappings, auto)) = &given.userns {
            infra_options.id_mappings = mappings.clone();
            infra_options.userns_auto = *auto;
        }
        given.net.replace_in(&mut infra_options);
        Ok(PodOptions {
            name: Some(name),
            labels,
            infra: Some(original.infra),
            shared: Some(original.shared.clone()),
            // A host name of the user's; by default the pod's name, the new one.
            hostname: options.hostname.clone().or_else(|| {
                (original.hostname != original.name).then(|| original.hostname.clone())
            }),
            infra_name: options.infra_name.clone(),
            infra_command: given
                .infra_command
                .clone()
                .or_else(|| infra.and_then(|i| i.config.entrypoint.clone())),
            infra_image: infra
                .map(|i| i.config.image_name.clone())
                .filter(|image| image != PAUSE_IMAGE),
            infra_options,
            create_command: original.create_command.clone(),
            exit_policy: original.exit_policy,
            infra_conmon_pidfile: given.infra_conmon_pidfile.clone(),
            replace: false,
            share_parent: Some(original.cgroup.is_some()),
            cgroup_parent: given
                .cgroup_parent
                .clone()
                .or_else(|| original.cgroup_parent.clone()),
            limits,
        })
    }

    /// A clone of `member` of pod `from` in pod `to`, its ID: what it had from its old pod
    /// (its infra container's namespaces, the pod's cgroup) is the new pod's, and the other
    /// members it requires are their clones (`clones`, by the originals' IDs).
    fn clone_member(
        &self,
        member: &ContainerRecord,
        from: &PodRecord,
        to: &PodRecord,
        clones: &HashMap<String, String>,
    ) -> Result<String> {
        let name = clone_name(&member.config.name, |n| match self.lookup(n) {
            Ok(_) => Ok(true),
            Err(EngineError::NoSuchContainer(_)) => Ok(false),
            Err(e) => Err(e),
        })?;
        let clone = CloneOptions {
            name: Some(name),
            ..Default::default()
        };
        let mut create = self.create_options_of(&member.config, &clone)?;
        leave_pod(&mut create, from);
        for required in &mut create.requires {
            if let Some(clone) = clones.get(required) {
                *required = clone.clone();
            }
        }
        create.pod = Some(to.id.clone());
        Ok(self.create(create)?.id().to_string())
    }

    /// Make a container like `name_or_id`; its record.
    pub fn clone_container(
        &self,
        name_or_id: &str,
        options: &CloneOptions,
    ) -> Result<ContainerRecord> {
        let original = self.inspect(name_or_id)?;
        if self.is_infra(&original)? {
            return Err(EngineError::InvalidArg(format!(
                "container {} is its pod's infra container: clone the pod (pod clone)",
                original.config.name
            )));
        }
        if options.destroy && !options.force && original.state.status.is_active() {
            return Err(EngineError::RemoveRunning {
                id: original.id().to_string(),
                state: original.state.status.as_str().to_string(),
            });
        }
        let record = self.create(self.clone_create_options(&original, options)?)?;
        if options.destroy {
            self.remove(
                original.id(),
                RemoveOptions {
                    force: options.force,
                    timeout: None,
                    volumes: false,
                },
            )?;
        }
        Ok(record)
    }

    /// The create options that make a container like `original` (as `inspect` gave it),
    /// named `name` (`generate spec`); a pod's infra container is its pod's to say.
    pub fn container_spec_options(
        &self,
        original: &ContainerRecord,
        name: String,
    ) -> Result<CreateOptions> {
        if self.is_infra(original)? {
            return Err(EngineError::InvalidArg(format!(
                "container {} is its pod's infra container: generate spec the pod",
                original.config.name
            )));
        }
        let options = CloneOptions {
            name: Some(name),
            ..Default::default()
        };
        self.clone_create_options(original, &options)
    }

    /// What a clone of `original` is created with: its settings, with what `options`
    /// changes; in a pod, the pod's namespaces again (or another pod's).
    fn clone_create_options(
        &self,
        original: &ContainerRecord,
        options: &CloneOptions,
    ) -> Result<CreateOptions> {
        let mut config = original.config.clone();
        options.limits.apply(&mut config)?;
        let mut create = self.create_options_of(&config, options)?;
        // What it had from its old pod is the new pod's (the same pod's, again, by default).
        if let Some(from) = &original.config.pod {
            let from = self.lookup_pod(from)?;
            leave_pod(&mut create, &from);
            create.pod = Some(from.id);
        }
        if let Some(pod) = &options.pod {
            let pod = self.lookup_pod(pod)?;
            if original.config.pod.is_none() && pod.shares(SharedNamespace::Net) {
                // The networks it was given are its own; in the pod, the pod's are.
                // (Published ports stay asked for, and the pod refuses them, saying why.)
                create.network = None;
                create.net.networks.clear();
            }
            create.pod = Some(pod.id);
        }
        Ok(create)
    }

    /// The create options that make a container like `config`.
    fn create_options_of(
        &self,
        config: &ContainerConfig,
        clone: &CloneOptions,
    ) -> Result<CreateOptions> {
        let own_dir = self.roots.container_dir(&config.id);
        let mounts = config
            .mounts
            .iter()
            // Its secrets are copied again for the clone (below).
            .filter(|m| !m.source.starts_with(&own_dir))
            .cloned()
            .map(|mut m| {
                if m.anonymous {
                    // A volume of its own, made at create.
                    m.volume = Some(String::new());
                }
                // An image mount's image is found again, by the name it was given.
                m.image_id = None;
                m
            })
            .collect();
        let image = match (&clone.image, config.image_name.is_empty()) {
            (Some(image), _) => Some(image.clone()),
            (None, false) => Some(config.image_name.clone()),
            (None, true) if config.rootfs.is_none() => Some(config.image_id.clone()),
            (None, true) => None,
        };
        let mut isolation = config.isolation.clone();
        let init_path = isolation.init.take();
        Ok(CreateOptions {
            image,
            rootfs: config.rootfs.clone(),
            name: Some(
                clone
                    .name
                    .clone()
                    .unwrap_or_else(|| format!("{}-clone", config.name)),
            ),
            command: config.cmd.clone(),
            entrypoint: config.entrypoint.clone(),
            env: config.env.clone(),
            workdir: Some(config.workdir.clone()),
            workdir_must_exist: config.workdir_must_exist,
            user: Some(config.user.clone()).filter(|u| !u.is_empty()),
            // A name of the user's (not the ID's start the create gave it).
            hostname: (config.isolation.uts == crate::isolation::NamespaceMode::Private
                && !config.id.starts_with(&config.hostname))
            .then(|| config.hostname.clone()),
            labels: config.labels.clone(),
            stop_signal: Some(config.stop_signal),
            stop_timeout: Some(config.stop_timeout),
            memory: config.memory,
            cpus: config.cpus,
            pids_limit: config.pids_limit,
            read_only: config.read_only,
            network: Some(config.network.clone()),
            net: config.net.clone(),
            ip: None,
            ip6: None,
            mac_address: None,
            network_aliases: Vec::new(),
            runtime: Some(config.runtime.clone()),
            auto_remove: config.auto_remove,
            restart: config.restart,
            log_size_max: config.log_size_max,
            log_max_files: config.log_max_files,
            log_tag: config.log_tag.clone(),
            log_path: None,
            log_attributes: config.log_attributes.clone(),
            passthrough: config.passthrough,
            sdnotify_conmon: config.sdnotify_conmon,
            sdnotify_container: config.sdnotify_container,
            // The original's decision, whatever the clone's command.
            systemd: if config.systemd {
                crate::systemd_mode::SystemdMode::Always
            } else {
                crate::systemd_mode::SystemdMode::False
            },
            no_cgroups: config.no_cgroups,
            timeout: config.timeout,
            annotations: config.annotations.clone(),
            oom_score_adj: config.oom_score_adj,
            pidfile: None,
            healthcheck: config.healthcheck.clone(),
            // The original's check is the image's too, if it took it: none stays none.
            no_healthcheck: config.healthcheck.is_none(),
            healthcheck_over_image: None,
            image_health_on_failure: crate::health::OnFailure::None,
            secrets: config.secrets.clone(),
            conmon_pidfile: None,
            build_step: false,
            log_to_file: config.log_to_file,
            log_driver_from_config: false,
            terminal: config.terminal,
            stdin: config.stdin,
            security: config.security.clone(),
            console_size: config.console_size,
            mounts,
            volumes_from: Vec::new(),
            image_volumes: ImageVolumes::Ignore,
            init: init_path.is_some(),
            init_path,
            isolation,
            resources: config.resources.clone(),
            env_merge: Vec::new(),
            unset_env: config.unset_env.clone(),
            unset_env_all: config.unset_env_all,
            http_proxy: false,
            umask: config.umask,
            cgroup_parent: config.cgroup_parent.clone(),
            domainname: config.domainname.clone(),
            read_only_tmpfs: false,
            pod: None,
            init_container: config.init_container,
            // A pod's container takes the user namespace of the pod it joins (`join_pod`);
            // one that joined another container's takes that one's mappings at the create.
            userns_container: config
                .userns_container
                .clone()
                .filter(|_| config.pod.is_none()),
            id_mappings: user_namespace_of(config).0,
            userns_auto: user_namespace_of(config).1,
            platform: None,
            no_passwd_entries: config.no_passwd_entries,
            passwd_entry: config.passwd_entry.clone(),
            host_users: config.host_users.clone(),
            chroot_dirs: config.chroot_dirs.clone(),
            time_zone: config.time_zone.clone(),
            create_command: config.create_command.clone(),
            // The original's ID file is the original's.
            cid_file: None,
            requires: config.requires.clone(),
            personality: config.personality.clone(),
            // The original's choice, already made, is in `security`.
            seccomp_from_image: false,
        })
    }
}

/// A clone's user namespace options from the original's: the same mappings, or for an
/// automatic range (the original's alone) a new one of its size. One joined from another
/// container (`userns_container`) is joined again instead.
fn user_namespace_of(
    config: &ContainerConfig,
) -> (
    Option<crate::userns::IdMappings>,
    Option<crate::userns::AutoUserns>,
) {
    match &config.id_mappings {
        Some(_) if config.userns_container.is_some() => (None, None),
        Some(m) if config.userns_auto => (
            None,
            Some(crate::userns::AutoUserns {
                size: m.uids.iter().map(|r| r.size).sum(),
            }),
        ),
        mappings => (mappings.clone(), None),
    }
}

/// A list of limits given to `pod clone`, else the original pod's.
fn given_or_kept<T: Clone>(given: &[T], kept: &[T]) -> Vec<T> {
    match given.is_empty() {
        true => kept.to_vec(),
        false => given.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::etc_files::parse_add_host;

    #[test]
    fn a_clones_network_settings_replace_only_those_given() {
        let mut options = CreateOptions {
            network: Some(NetworkMode::None),
            ip: Some("10.0.0.5".parse().unwrap()),
            network_aliases: vec!["old".into()],
            ..Default::default()
        };
        options.net.dns_servers = vec!["10.0.0.1".into()];
        options.net.dns_search = vec!["example.org".into()];
        options.net.add_hosts = vec![parse_add_host("h:10.1.1.1").unwrap()];
        options.net.exposed = vec!["80/tcp".into()];
        let given = PodNetworkSettings {
            dns_servers: Some(vec!["10.0.0.2".into()]),
            add_hosts: Some(vec![]),
            no_hosts: Some(true),
            network_aliases: Some(vec!["new".into()]),
            ..Default::default()
        };
        given.replace_in(&mut options);
        assert_eq!(options.net.dns_servers, ["10.0.0.2"]);
        assert!(options.net.add_hosts.is_empty());
        assert!(options.net.no_hosts);
        assert_eq!(options.network_aliases, ["new"]);
        // Those not given stay the original's.
        assert_eq!(options.network, Some(NetworkMode::None));
        assert_eq!(options.net.dns_search, ["example.org"]);
        assert_eq!(options.net.exposed, ["80/tcp"]);
        assert_eq!(options.ip, Some("10.0.0.5".parse().unwrap()));
        // Nothing given changes nothing.
        let before = format!("{options:?}");
        PodNetworkSettings::default().replace_in(&mut options);
        assert_eq!(format!("{options:?}"), before);
    }
}
