//! Pods (`pods.rs` has the record): made with their infra container, started, stopped,
//! killed, paused and removed together. A container joins a pod at its create
//! (`join_pod`): it shares the namespaces the pod shares with the infra container, and
//! requires it (so its start starts the infra container first).

use std::io::Cursor;

use super::*;
use crate::isolation::NamespaceMode;
use crate::pods::{PodRecord, PodStatus, SharedNamespace};

/// The image of infra containers, made on first use from the host's catatonit (as
/// podman's `podman-pause` image is): one file and an entrypoint that waits.
pub const PAUSE_IMAGE: &str = concat!("localhost/rpod-pause:", env!("CARGO_PKG_VERSION"));

/// What `pod create` takes.
#[derive(Debug, Clone, Default)]
pub struct PodOptions {
    pub name: Option<String>,
    pub labels: BTreeMap<String, String>,
    /// `--infra`; by default a pod has an infra container unless it shares nothing.
    pub infra: Option<bool>,
    /// `--share`; podman's defaults when `None`.
    pub shared: Option<Vec<SharedNamespace>>,
    pub hostname: Option<String>,
    /// `--infra-name` (`<ID prefix>-infra` by default), `--infra-command`, `--infra-image`.
    pub infra_name: Option<String>,
    pub infra_command: Option<Vec<String>>,
    pub infra_image: Option<String>,
    /// The infra container's settings: its network (`--network`, `-p`, `--dns`,
    /// `--add-host`, `--ip`, ...), the pod's for every container that shares it; its
    /// mounts (`-v`, `--volumes-from`) and devices (`--device`), which every container of
    /// the pod gets too, as podman's do; its sysctls, `/dev/shm` size, security options
    /// and PID and UTS namespaces, which the containers that share its namespaces see.
    pub infra_options: CreateOptions,
    pub create_command: Vec<String>,
    /// `--exit-policy`.
    pub exit_policy: crate::pods::ExitPolicy,
    /// `--infra-conmon-pidfile`: where the infra container's monitor's PID is written.
    pub infra_conmon_pidfile: Option<std::path::PathBuf>,
    /// `--replace`: a pod of the same name is removed (forced) once the options are checked.
    pub replace: bool,
    /// `--share-parent` (default true): the pod has a cgroup of its own, its containers'
    /// parent.
    pub share_parent: Option<bool>,
    /// `--cgroup-parent`: where the pod's cgroup is made.
    pub cgroup_parent: Option<String>,
    /// `--cpus`, `--memory`, ...: the limits of the pod's cgroup.
    pub limits: crate::pod_cgroups::PodLimits,
}

/// A pod and its containers (synced), infra container included.
#[derive(Debug, Clone)]
pub struct PodView {
    pub pod: PodRecord,
    pub containers: Vec<ContainerRecord>,
    pub status: PodStatus,
}

/// The `status=` of a pod filter.
fn filter_status(value: &str) -> Result<PodStatus> {
    PodStatus::from_filter(value).ok_or_else(|| {
        EngineError::InvalidArg(format!(
            "invalid filter status={value}: use created, running, degraded, paused, exited, \
             stopped or error"
        ))
    })
}

/// The keys of `pod ps --filter`, podman's.
const POD_FILTER_KEYS: &[&str] = &[
    "id",
    "name",
    "label",
    "label!",
    "status",
    "ctr-names",
    "ctr-ids",
    "ctr-status",
    "ctr-number",
    "until",
    "network",
];

/// The `ctr-status=` of a pod filter: the members' states it names, as podman's
/// (`stopped` and `exited` alike; `unknown`, a state rpod's containers are never in).
fn filter_member_status(value: &str) -> Result<&'static [Status]> {
    match value {
        "created" => Ok(&[Status::Configured]),
        "running" => Ok(&[Status::Running]),
        "paused" => Ok(&[Status::Paused]),
        "stopped" | "exited" => Ok(&[Status::Stopped, Status::Exited]),
        "unknown" => Ok(&[]),
        _ => Err(EngineError::InvalidArg(format!(
            "invalid filter ctr-status={value}: use created, running, paused, stopped, exited \
             or unknown"
        ))),
    }
}

/// The `ctr-number=` of a pod filter: how many containers the pod has.
fn filter_member_count(value: &str) -> Result<usize> {
    value.parse().map_err(|_| {
        EngineError::InvalidArg(format!(
            "invalid filter ctr-number={value}: a number of containers"
        ))
    })
}

impl PodView {
    /// Refuse `pod ps` filters that name an unknown key or status, before any pod is
    /// looked at (with no pods, a typo would otherwise list nothing and succeed).
    pub fn check_filters(filters: &std::collections::HashMap<String, Vec<String>>) -> Result<()> {
        for (key, values) in filters {
            crate::filter_values::check_key("pod", key, POD_FILTER_KEYS)?;
            for value in values {
                match key.as_str() {
                    "status" => drop(filter_status(value)?),
                    "name" | "ctr-names" | "ctr-ids" => {
                        crate::filter_values::check_name_pattern(key, value)
                            .map_err(EngineError::InvalidArg)?
                    }
                    "ctr-status" => drop(filter_member_status(value)?),
                    "ctr-number" => drop(filter_member_count(value)?),
                    "until" => drop(crate::filter_values::until(value)?),
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// Whether the pod passes `pod ps` filters (`POD_FILTER_KEYS`) that `check_filters`
    /// let through (once per listing, not per pod): every key must match one of its
    /// values, or all of them for `label` and `label!`.
    pub fn passes(&self, filters: &std::collections::HashMap<String, Vec<String>>) -> Result<bool> {
        use crate::filter_values::name_matches;
        for (key, values) in filters {
            let mut results = Vec::with_capacity(values.len());
            for value in values {
                results.push(match key.as_str() {
                    "id" => self.pod.id.starts_with(value.as_str()),
                    "name" => name_matches(&self.pod.name, value),
                    "label" => crate::labels::matches(&self.pod.labels, value),
                    "label!" => !crate::labels::matches(&self.pod.labels, value),
                    "status" => self.status == filter_status(value)?,
                    // The members' (the infra container among them): podman's patterns.
                    "ctr-names" => self
                        .containers
                        .iter()
                        .any(|c| name_matches(&c.config.name, value)),
                    "ctr-ids" => self
                        .containers
                        .iter()
                        .any(|c| name_matches(&c.config.id, value)),
                    "ctr-status" => {
                        let wanted = filter_member_status(value)?;
                        self.containers
                            .iter()
                            .any(|c| wanted.contains(&c.state.status))
                    }
                    "ctr-number" => self.containers.len() == filter_member_count(value)?,
                    "until" => self.pod.created < crate::filter_values::until(value)?,
                    // A network of the infra container's.
                    "network" => self.containers.iter().any(|c| {
                        Some(&c.config.id) == self.pod.infra_id.as_ref()
                            && c.config.net.networks.iter().any(|n| n.name == *value)
                    }),
                    // Refused by `check_filters`.
                    _ => false,
                });
            }
            if !crate::filter_values::key_passes(key, results.into_iter()) {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

impl Engine {
    pub fn pods(&self) -> Result<Vec<PodRecord>> {
        self.store.pods()
    }

    pub fn lookup_pod(&self, name_or_id: &str) -> Result<PodRecord> {
        self.store.lookup_pod(name_or_id)
    }

    /// The containers of pod `pod_id` among `all` (the store's, read once by the caller),
    /// with their current states; one removed meanwhile is left out.
    pub(super) fn pod_members(
        &self,
        pod_id: &str,
        all: &[ContainerRecord],
    ) -> Result<Vec<ContainerRecord>> {
        let mut members = Vec::new();
        for record in all {
            if record.config.pod.as_deref() != Some(pod_id) {
                continue;
            }
            match self.inspect(record.id()) {
                Ok(current) => members.push(current),
                Err(EngineError::NoSuchContainer(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(members)
    }

    /// A pod with its containers' current states and the status they give it.
    pub fn pod_view(&self, pod: PodRecord) -> Result<PodView> {
        let containers = self.pod_members(&pod.id, &self.store.containers()?)?;
        // Init containers end before the pod runs: they do not make it degraded.
        let statuses: Vec<Status> = containers
            .iter()
            .filter(|c| c.config.init_container.is_none())
            .map(|c| c.state.status)
            .collect();
        Ok(PodView {
            status: PodStatus::of(&statuses),
            pod,
            containers,
        })
    }

    /// Make a pod, and its infra container unless it has none.
    pub fn create_pod(&self, mut options: PodOptions) -> Result<PodRecord> {
        let shared = match options.shared.clone() {
            Some(shared) => shared,
            None => SharedNamespace::defaults(),
        };
        // podman: a pod that shares nothing has no infra container unless asked for one.
        let infra = options.infra.unwrap_or(!shared.is_empty());
        if !infra && options.shared.as_ref().is_some_and(|s| !s.is_empty()) {
            return Err(EngineError::InvalidArg(
                "a pod without an infra container cannot share namespaces (--share)".into(),
            ));
        }
        let network_given = options.infra_options.network.is_some()
            || !options.infra_options.net.ports.is_empty()
            || options.infra_options.ip.is_some()
            || options.infra_options.ip6.is_some()
            || options.infra_options.mac_address.is_some();
        let infra_own = &options.infra_options;
        let settings_given = !infra_own.mounts.is_empty()
            || !infra_own.volumes_from.is_empty()
            || infra_own.isolation != crate::isolation::Isolation::default()
            || infra_own.security != crate::security::SecurityOptions::default();
        if !infra
            && (network_given
                || settings_given
                || options.hostname.is_some()
                || options.infra_name.is_some()
                || options.infra_command.is_some()
                || options.infra_image.is_some()
                || options.infra_conmon_pidfile.is_some())
        {
            return Err(EngineError::InvalidArg(
                "--infra=false: the network, ports, host name, volumes, devices, sysctls, \
                 /dev/shm size, security options, PID and UTS namespaces and infra options \
                 belong to the infra container"
                    .into(),
            ));
        }
        if options.hostname.is_some() && infra_own.isolation.uts != NamespaceMode::Private {
            return Err(EngineError::InvalidArg(
                "--hostname needs a UTS namespace of the pod's own, not --uts host".into(),
            ));
        }
        let mapped = options.infra_options.id_mappings.is_some()
            || options.infra_options.userns_auto.is_some();
        if !infra && mapped {
            return Err(EngineError::InvalidArg(
                "--infra=false: a pod's user namespace is its infra container's".into(),
            ));
        }
        if infra && network_given && !shared.contains(&SharedNamespace::Net) {
            return Err(EngineError::InvalidArg(
                "the pod's network and ports are its infra container's: they need --share net"
                    .into(),
            ));
        }
        let infra_net = &options.infra_options;
        let publishes = !infra_net.net.ports.is_empty() || infra_net.net.publish_all;
        if publishes
            && infra_net
                .network
                .as_ref()
                .is_some_and(|m| *m != NetworkMode::Bridge)
        {
            // podman refuses this for a pod (a container's ports are dropped with a warning).
            return Err(EngineError::InvalidArg(
                "PortMappings can only be used with Bridge or slirp4netns networking".into(),
            ));
        }
        crate::resources::zero_is_unset(&mut options.limits.cpus);
        crate::resources::zero_is_unset(&mut options.limits.cpu_shares);
        options.limits.check()?;
        if let Some(parent) = &options.cgroup_parent {
            crate::spec::check_cgroup_parent(parent)?;
        }
        let share_parent = options.share_parent.unwrap_or(true);
        if share_parent && shared.contains(&SharedNamespace::Cgroup) {
            return Err(EngineError::InvalidArg(
                "cannot define the pod as the cgroup parent at the same time as joining the \
                 infra container's cgroupNS (--share-parent=false with --share cgroup)"
                    .into(),
            ));
        }
        if !share_parent && (!options.limits.is_empty() || options.cgroup_parent.is_some()) {
            return Err(EngineError::InvalidArg(
                "--share-parent=false: the pod has no cgroup of its own for --cgroup-parent or \
                 resource limits"
                    .into(),
            ));
        }
        let id = random_id();
        let name = match &options.name {
            Some(name) if !valid_name(name) => {
                return Err(EngineError::InvalidArg(format!(
                    "pod name {name:?} must match [a-zA-Z0-9][a-zA-Z0-9_.-]*: invalid argument"
                )))
            }
            Some(name) => name.clone(),
            None => random_name(),
        };
        let cgroup =
            share_parent.then(|| crate::pod_cgroups::path(options.cgroup_parent.as_deref(), &id));
        let mut pod = PodRecord {
            hostname: options.hostname.clone().unwrap_or_else(|| name.clone()),
            id,
            name,
            created: Utc::now(),
            labels: options.labels.clone(),
            infra_id: None,
            infra,
            shared: if infra { shared } else { Vec::new() },
            create_command: options.create_command.clone(),
            exit_policy: options.exit_policy,
            cgroup,
            cgroup_parent: options.cgroup_parent.clone(),
            limits: options.limits.clone(),
        };
        if options.exit_policy == crate::pods::ExitPolicy::Stop && !infra {
            return Err(EngineError::InvalidArg(
                "--exit-policy stop stops the pod's infra container: the pod needs one".into(),
            ));
        }
        if options.replace {
            match self.pod_remove(&pod.name, true, None) {
                Ok(_) | Err(EngineError::NoSuchPod(_)) => {}
                Err(e) => return Err(e),
            }
        }
        self.store.insert_pod(&pod)?;
        if let Err(e) = self.ensure_pod_cgroup(&pod) {
            let _ = self.store.remove_pod(&pod.id);
            self.remove_pod_cgroup(&pod);
            return Err(e);
        }
        if infra {
            match self.create_infra(&pod, options) {
                Ok(infra_id) => {
                    pod.infra_id = Some(infra_id);
                    if let Err(e) = self.store.save_pod(&pod) {
                        self.undo_pod(&pod);
                        return Err(e);
                    }
                }
                Err(e) => {
                    let _ = self.store.remove_pod(&pod.id);
                    self.remove_pod_cgroup(&pod);
                    return Err(e);
                }
            }
        }
        self.pod_event(&pod, "create");
        Ok(pod)
    }

    /// Make the pod's cgroup and write its limits (again), when it has one.
    pub(super) fn ensure_pod_cgroup(&self, pod: &PodRecord) -> Result<()> {
        match &pod.cgroup {
            Some(cgroup) => {
                crate::pod_cgroups::ensure(&self.options.cgroup_root, cgroup, &pod.limits)
            }
            None => Ok(()),
        }
    }

    /// Before a container of a pod with a cgroup starts: the cgroup is there, with its
    /// limits (a reboot removed it; the runtime would make a bare one).
    pub(super) fn ensure_pod_cgroup_of(&self, record: &ContainerRecord) -> Result<()> {
        let Some(pod_id) = &record.config.pod else {
            return Ok(());
        };
        match self.store.lookup_pod(pod_id) {
            Ok(pod) => self.ensure_pod_cgroup(&pod),
            Err(EngineError::NoSuchPod(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn remove_pod_cgroup(&self, pod: &PodRecord) {
        if let Some(cgroup) = &pod.cgroup {
            crate::pod_cgroups::remove(&self.options.cgroup_root, cgroup);
        }
    }

    /// Take a pod that could not be recorded whole apart again.
    fn undo_pod(&self, pod: &PodRecord) {
        let _ = self.store.remove_pod(&pod.id);
        if let Some(infra) = &pod.infra_id {
            let options = RemoveOptions {
                force: true,
                volumes: true,
                timeout: Some(0),
            };
            let _ = self.remove(infra, options);
        }
        // After its infra container, whose cgroup is inside.
        self.remove_pod_cgroup(pod);
    }

    fn create_infra(&self, pod: &PodRecord, options: PodOptions) -> Result<String> {
        let mut create = options.infra_options;
        create.image = Some(match options.infra_image {
            Some(image) => image,
            None => self.pause_image()?,
        });
        create.name = Some(
            options
                .infra_name
                .unwrap_or_else(|| format!("{}-infra", &pod.id[..12])),
        );
        if let Some(command) = options.infra_command {
            create.entrypoint = Some(command);
            create.command = Vec::new();
        }
        // The host's UTS namespace (`--uts host`) keeps the host's name.
        if pod.shared.contains(&SharedNamespace::Uts) && create.isolation.uts != NamespaceMode::Host
        {
            create.hostname = Some(pod.hostname.clone());
        }
        if pod.shared.contains(&SharedNamespace::Ipc) {
            // The containers joining its IPC namespace share its /dev/shm too.
            create.isolation.ipc = NamespaceMode::Shareable;
        }
        create.conmon_pidfile = options.infra_conmon_pidfile;
        create.cgroup_parent = pod.cgroup.clone();
        // Made outside the pod (it has no infra container to join yet), then recorded as
        // the pod's.
        create.pod = None;
        let mut record = self.create(create)?;
        record.config.pod = Some(pod.id.clone());
        if let Err(e) = self.store.save_config(&record.config) {
            let _ = self.remove(
                record.id(),
                RemoveOptions {
                    force: true,
                    volumes: true,
                    timeout: Some(0),
                },
            );
            return Err(e);
        }
        Ok(record.id().to_string())
    }

    /// The image infra containers run, made now when the store has none.
    fn pause_image(&self) -> Result<String> {
        if image::resolve(&self.store, PAUSE_IMAGE).is_ok() {
            return Ok(PAUSE_IMAGE.to_string());
        }
        let catatonit = crate::isolation::find_init(None).map_err(|_| {
            EngineError::InvalidArg(
                "a pod's infra container runs catatonit, which is not installed \
                 (apt-get install catatonit), or give --infra-image or --infra=false"
                    .into(),
            )
        })?;
        let binary = fs::read(&catatonit).map_err(|e| EngineError::io("reading", &catatonit, e))?;
        let mut archive = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(binary.len() as u64);
        header.set_mode(0o755);
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        header.set_entry_type(tar::EntryType::Regular);
        archive
            .append_data(&mut header, "catatonit", binary.as_slice())
            .and_then(|()| archive.finish())
            .map_err(|e| EngineError::io("archiving", &catatonit, e))?;
        let tarball = archive
            .into_inner()
            .map_err(|e| EngineError::io("archiving", &catatonit, e))?;
        let options = image::ImportOptions {
            name: Some(PAUSE_IMAGE.to_string()),
            changes: vec![r#"ENTRYPOINT ["/catatonit", "-P"]"#.to_string()],
            message: Some("rpod's infra containers".to_string()),
            ..Default::default()
        };
        self.import_made_image(
            Cursor::new(tarball),
            &catatonit.display().to_string(),
            &options,
        )?;
        Ok(PAUSE_IMAGE.to_string())
    }

    /// A pod's lock, held while a container joins it and while it is removed, so that no
    /// container joins a pod being removed. Pods have no directory: the lock's file goes
    /// whenever it is let go (`ContainerLock` handles a file removed under a waiter).
    pub(super) fn pod_lock(&self, id: &str) -> Result<crate::lock::ContainerLock> {
        let nowhere = self.roots.lock_dir().join("pods").join(id);
        crate::lock::ContainerLock::acquire(&self.roots.lock_dir(), &format!("pod-{id}"), &nowhere)
    }

    /// A new container joins `pod`: it shares the namespaces the pod shares (those it was
    /// not given otherwise), requires the infra container, and is recorded as the pod's.
    pub(super) fn join_pod(&self, pod: &PodRecord, options: &mut CreateOptions) -> Result<()> {
        options.pod = Some(pod.id.clone());
        if let Some(cgroup) = &pod.cgroup {
            match &options.cgroup_parent {
                Some(parent) if parent.trim_matches('/') != cgroup.trim_matches('/') => {
                    return Err(EngineError::InvalidArg(format!(
                        "pod {} runs its containers in its own cgroup ({cgroup}): --cgroup-parent \
                         is the pod's (pod create --cgroup-parent, or --share-parent=false)",
                        pod.name
                    )))
                }
                _ => options.cgroup_parent = Some(cgroup.clone()),
            }
        }
        let Some(infra) = &pod.infra_id else {
            return Ok(());
        };
        let infra_record = self.lookup(infra)?;
        inherit_from_infra(pod, &infra_record, options)?;
        // A pod with a user namespace (its infra container's) has its containers join it:
        // the namespaces they share with it are that user namespace's.
        if infra_record.config.id_mappings.is_some() {
            if options.id_mappings.is_some()
                || options.userns_auto.is_some()
                || options.userns_container.is_some()
            {
                return Err(EngineError::InvalidArg(format!(
                    "pod {} has a user namespace, which its containers share: it takes no --uidmap, --gidmap or --userns of their own",
                    pod.name
                )));
            }
            options.userns_container = Some(infra.clone());
        }
        if pod.shares(SharedNamespace::Net) {
            let network_given = options.network.is_some()
                || !options.net.ports.is_empty()
                || options.net.publish_all
                || options.ip.is_some()
                || options.ip6.is_some()
                || options.mac_address.is_some();
            if network_given {
                return Err(EngineError::InvalidArg(format!(
                    "pod {} shares its network: the network and published ports are set when \
                     the pod is created",
                    pod.name
                )));
            }
            options.network = Some(NetworkMode::Container(infra.clone()));
        }
        if pod.shares(SharedNamespace::Uts) && options.hostname.is_some() {
            return Err(EngineError::InvalidArg(format!(
                "pod {} shares its UTS namespace: the host name is the pod's",
                pod.name
            )));
        }
        let iso = &mut options.isolation;
        for (kind, mode) in [
            (SharedNamespace::Ipc, &mut iso.ipc),
            (SharedNamespace::Uts, &mut iso.uts),
            (SharedNamespace::Pid, &mut iso.pid),
            (SharedNamespace::Cgroup, &mut iso.cgroup),
        ] {
            if pod.shares(kind) && *mode == NamespaceMode::Private {
                *mode = NamespaceMode::Container(infra.clone());
            }
        }
        if !options.requires.contains(infra) {
            options.requires.push(infra.clone());
        }
        Ok(())
    }

    /// Whether `record` is the infra container of a pod that still exists.
    pub fn is_infra(&self, record: &ContainerRecord) -> Result<bool> {
        let Some(pod) = &record.config.pod else {
            return Ok(false);
        };
        match self.store.lookup_pod(pod) {
            Ok(pod) => Ok(pod.infra_id.as_deref() == Some(record.id())),
            Err(EngineError::NoSuchPod(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Start the pod's containers that do not run: the infra container first. Every
    /// container is tried; the failures are reported together. A pod none of whose other
    /// containers runs is being started: its init containers (`--init-ctr`) run before
    /// them, each to its end, in the order they were made; one that fails stops the start.
    pub fn pod_start(&self, name_or_id: &str) -> Result<PodRecord> {
        let pod = self.lookup_pod(name_or_id)?;
        let _lock = self.pod_lock(&pod.id)?;
        self.pod_start_with(&pod.id, &|id| self.start(id, None, None).map(drop))
    }

    /// `pod_start` with `start` for each container that does not run (an error
    /// `NotModified` from it, started meanwhile, is no failure). Called with the pod's
    /// lock held: a pod's start, stop and restart go one after another, as podman's, so
    /// that a start beside a stop never leaves some of its containers running and others
    /// not, or fails for a member whose infra container the stop took away.
    fn pod_start_with(
        &self,
        name_or_id: &str,
        start: &dyn Fn(&str) -> Result<()>,
    ) -> Result<PodRecord> {
        let view = self.pod_view(self.lookup_pod(name_or_id)?)?;
        let is_infra = |c: &ContainerRecord| Some(c.id()) == view.pod.infra_id.as_deref();
        let active = |c: &ContainerRecord| c.state.status.is_running_or_paused();
        let inits: Vec<&ContainerRecord> = view
            .containers
            .iter()
            .filter(|c| c.config.init_container.is_some())
            .collect();
        let started = view
            .containers
            .iter()
            .any(|c| c.config.init_container.is_none() && !is_infra(c) && active(c));
        if !inits.is_empty() && !started {
            if let Some(infra) = view.containers.iter().find(|c| is_infra(c)) {
                if !active(infra) {
                    match start(infra.id()) {
                        Ok(()) | Err(EngineError::NotModified(_)) => {}
                        Err(e) => return Err(e),
                    }
                }
            }
            for init in inits {
                self.run_init_container(init)?;
            }
        }
        let mut failures = Vec::new();
        for record in infra_first(&view) {
            if active(record) || record.config.init_container.is_some() {
                continue;
            }
            match start(record.id()) {
                Ok(()) | Err(EngineError::NotModified(_)) => {}
                Err(e) => failures.push(format!("{}: {e}", record.config.name)),
            }
        }
        self.pod_outcome(view.pod, "start", failures)
    }

    /// Run one of a pod's init containers to its end (`pod start`); an exit other than 0
    /// is an error with the end of its output. A `once` container that ran well goes.
    fn run_init_container(&self, record: &ContainerRecord) -> Result<()> {
        let id = record.id();
        match self.start(id, None, None) {
            Ok(_) | Err(EngineError::NotModified(_)) => {}
            Err(e) => return Err(e),
        }
        match self.wait(id)? {
            0 => {}
            code => {
                return Err(EngineError::state(
                    id,
                    format!(
                        "init container {} exited with status {code}{}",
                        record.config.name,
                        self.last_output(record)
                    ),
                ))
            }
        }
        if record.config.init_container == Some(crate::container::InitContainerType::Once) {
            match self.remove(
                id,
                RemoveOptions {
                    force: true,
                    ..Default::default()
                },
            ) {
                Ok(_) | Err(EngineError::NoSuchContainer(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// The last lines of a container's log for an error (`; its last output:` and the
    /// lines, each cut to 1000 characters: a container's line has no bound), or nothing.
    fn last_output(&self, record: &ContainerRecord) -> String {
        const MAX_SHOWN_LINE: usize = 1000;
        let mut tail = Vec::new();
        let last = crate::logs::LogFilter {
            tail: Some(10),
            ..Default::default()
        };
        let _ = crate::logs::each_line(&self.log_path(record), &last, |line| {
            tail.push(line.text.chars().take(MAX_SHOWN_LINE).collect::<String>());
            Ok(())
        });
        if tail.is_empty() {
            String::new()
        } else {
            format!("; its last output:\n{}", tail.join("\n"))
        }
    }

    /// Stop the pod's containers, the infra container last (the others use its
    /// namespaces until they end).
    pub fn pod_stop(&self, name_or_id: &str, timeout: Option<u32>) -> Result<PodRecord> {
        let pod = self.lookup_pod(name_or_id)?;
        let _lock = self.pod_lock(&pod.id)?;
        self.pod_stop_locked(&pod.id, timeout)
    }

    /// `pod_stop` with the pod's lock held (see `pod_start_with`).
    fn pod_stop_locked(&self, id: &str, timeout: Option<u32>) -> Result<PodRecord> {
        let view = self.pod_view(self.lookup_pod(id)?)?;
        let stop = |record: &ContainerRecord| match self.stop(record.id(), timeout) {
            Ok(_) | Err(EngineError::NotModified(_)) | Err(EngineError::NoSuchContainer(_)) => None,
            Err(e) => Some(format!("{}: {e}", record.config.name)),
        };
        let infra = view.pod.infra_id.as_deref();
        let (infra, members): (Vec<&ContainerRecord>, Vec<&ContainerRecord>) = view
            .containers
            .iter()
            .filter(|record| record.state.status.can_stop())
            .partition(|record| Some(record.id()) == infra);
        // The members at once, as podman's (those that ignore the stop signal take one
        // timeout, not one each), then the infra container, whose namespaces they used.
        let mut failures: Vec<String> = crate::at_once::at_once(&members, |record| stop(record))
            .into_iter()
            .flatten()
            .collect();
        failures.extend(infra.into_iter().filter_map(stop));
        self.pod_outcome(view.pod, "stop", failures)
    }

    /// `pod restart`: stop every container, then start them all, the pod's lock held
    /// throughout. A container that a command of its own stops meanwhile is restarted as
    /// `restart` restarts it: its stop awaited, then started.
    pub fn pod_restart(&self, name_or_id: &str, timeout: Option<u32>) -> Result<PodRecord> {
        let pod = self.lookup_pod(name_or_id)?;
        let _lock = self.pod_lock(&pod.id)?;
        let pod = self.pod_stop_locked(&pod.id, timeout)?;
        self.pod_start_with(&pod.id, &|id| match self.start(id, None, None) {
            Err(EngineError::StateInvalid { .. }) => self.restart(id, timeout).map(drop),
            other => other.map(drop),
        })
    }

    /// Send `signal` to every running container of the pod (none running: nothing to do,
    /// as podman's).
    pub fn pod_kill(&self, name_or_id: &str, signal: i32) -> Result<PodRecord> {
        self.pod_each_running(name_or_id, "kill", |id| self.kill(id, signal).map(drop))
    }

    pub fn pod_pause(&self, name_or_id: &str) -> Result<PodRecord> {
        self.pod_each_running(name_or_id, "pause", |id| self.pause(id).map(drop))
    }

    pub fn pod_unpause(&self, name_or_id: &str) -> Result<PodRecord> {
        self.pod_unpause_view(self.pod_view(self.lookup_pod(name_or_id)?)?)
    }

    /// Unpause the paused members of a pod already looked at (`pod unpause` decides from
    /// the view whether there is anything to do).
    pub fn pod_unpause_view(&self, view: PodView) -> Result<PodRecord> {
        let mut failures = Vec::new();
        for record in &view.containers {
            if record.state.status != Status::Paused {
                continue;
            }
            if let Err(e) = self.unpause(record.id()) {
                failures.push(format!("{}: {e}", record.config.name));
            }
        }
        self.pod_outcome(view.pod, "unpause", failures)
    }

    fn pod_each_running(
        &self,
        name_or_id: &str,
        action: &str,
        act: impl Fn(&str) -> Result<()>,
    ) -> Result<PodRecord> {
        let view = self.pod_view(self.lookup_pod(name_or_id)?)?;
        let mut failures = Vec::new();
        for record in infra_last(&view) {
            if record.state.status != Status::Running {
                continue;
            }
            if let Err(e) = act(record.id()) {
                failures.push(format!("{}: {e}", record.config.name));
            }
        }
        self.pod_outcome(view.pod, action, failures)
    }

    /// The pod, or the failures of some of its containers, one line each.
    fn pod_outcome(
        &self,
        pod: PodRecord,
        action: &str,
        failures: Vec<String>,
    ) -> Result<PodRecord> {
        if failures.is_empty() {
            self.pod_event(&pod, action);
            return Ok(pod);
        }
        Err(EngineError::PodMembersFailed {
            id: pod.id,
            message: format!(
                "{action} of pod {} failed for {} container(s):\n{}",
                pod.name,
                failures.len(),
                failures.join("\n")
            ),
        })
    }

    /// Remove a pod and its containers (infra last). Without `force` a pod with a
    /// running or paused container is refused before anything is removed. Returns the
    /// IDs of the containers removed.
    pub fn pod_remove(
        &self,
        name_or_id: &str,
        force: bool,
        timeout: Option<u32>,
    ) -> Result<Vec<String>> {
        let pod = self.lookup_pod(name_or_id)?;
        let _lock = self.pod_lock(&pod.id)?;
        // Removed meanwhile by another.
        let pod = self.lookup_pod(&pod.id)?;
        let view = self.pod_view(pod)?;
        if !force {
            if let Some(active) = view
                .containers
                .iter()
                .find(|c| c.state.status.is_active() && c.state.status != Status::Created)
            {
                return Err(EngineError::state(
                    &view.pod.id,
                    format!(
                        "pod {} has containers that are not ready to be removed: container {} \
                         is {} (stop the pod or use --force)",
                        view.pod.name,
                        active.config.name,
                        active.state.status.as_str()
                    ),
                ));
            }
        }
        let options = RemoveOptions {
            force,
            volumes: false,
            timeout,
        };
        let mut removed = Vec::new();
        let infra = view.pod.infra_id.clone();
        // Newest first: a container that requires another (`--requires`, a namespace of
        // its) was made after it, and the older one's removal would be refused before.
        let mut members: Vec<&ContainerRecord> = view
            .containers
            .iter()
            .filter(|c| Some(c.id()) != infra.as_deref())
            .collect();
        members.sort_by_key(|c| std::cmp::Reverse(c.config.created));
        for record in members {
            match self.remove(record.id(), options) {
                Ok(id) => removed.push(id),
                Err(EngineError::NoSuchContainer(_)) => {}
                Err(e) => return Err(e),
            }
        }
        // The record goes before its infra container, whose removal it would refuse.
        self.store.remove_pod(&view.pod.id)?;
        if let Some(infra) = infra {
            let options = RemoveOptions {
                force: true,
                ..options
            };
            match self.remove(&infra, options) {
                Ok(id) => removed.push(id),
                Err(EngineError::NoSuchContainer(_)) => {}
                Err(e) => return Err(e),
            }
        }
        self.remove_pod_cgroup(&view.pod);
        self.pod_event(&view.pod, "remove");
        Ok(removed)
    }

    /// Remove every stopped pod (whose containers ran and none runs: `Exited`, `Stopped`);
    /// their IDs. As podman's, a pod still `Created` (none of its containers started yet,
    /// or none at all) is being set up, and stays.
    pub fn pod_prune(&self) -> Result<Vec<String>> {
        let mut removed = Vec::new();
        for pod in self.pods()? {
            let view = self.pod_view(pod)?;
            if !matches!(view.status, PodStatus::Exited | PodStatus::Stopped) {
                continue;
            }
            match self.pod_remove(&view.pod.id, false, None) {
                Ok(_) => removed.push(view.pod.id),
                // Started meanwhile, joined by another container, or gone.
                Err(EngineError::StateInvalid { .. })
                | Err(EngineError::HasDependents { .. })
                | Err(EngineError::NoSuchPod(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(removed)
    }

    /// `pod top`: the processes of every running container of the pod, one table. Only
    /// descriptors (`top`'s words): ps(1)'s options would run ps in each container, and
    /// containers sharing a PID namespace would each list them all.
    pub fn pod_top(
        &self,
        name_or_id: &str,
        words: &[String],
    ) -> Result<(Vec<String>, Vec<Vec<String>>)> {
        if !words.is_empty() {
            let descriptors = crate::top::descriptor_words(words);
            if descriptors.is_empty() {
                // Only `-o`: no descriptor at all.
                crate::top::headers(words)?;
            }
            crate::top::headers(&descriptors)?;
        }
        let view = self.pod_view(self.lookup_pod(name_or_id)?)?;
        let mut table: Option<(Vec<String>, Vec<Vec<String>>)> = None;
        for record in infra_first(&view) {
            if record.state.status != Status::Running {
                continue;
            }
            let (headers, rows) = match self.top(record.id(), words) {
                Ok(found) => found,
                // Ended meanwhile.
                Err(EngineError::StateInvalid { .. }) => continue,
                Err(e) => return Err(e),
            };
            table
                .get_or_insert_with(|| (headers, Vec::new()))
                .1
                .extend(rows);
        }
        table.ok_or_else(|| {
            EngineError::state(
                &view.pod.id,
                format!("pod {} has no running containers", view.pod.name),
            )
        })
    }

    /// `generate systemd`: the unit of a container, or the units of a pod (its own and
    /// one per container but the infra container), by name, sorted.
    pub fn systemd_units(
        &self,
        name_or_id: &str,
        executable: &std::path::Path,
        options: &crate::systemd_unit::UnitOptions,
    ) -> Result<Vec<(String, String)>> {
        let pod = match self.inspect(name_or_id) {
            Ok(record) => {
                let unit = crate::systemd_unit::unit(&record, &self.roots, executable, options)?;
                return Ok(vec![unit]);
            }
            Err(EngineError::NoSuchContainer(name)) => match self.lookup_pod(&name) {
                Ok(pod) => pod,
                Err(EngineError::NoSuchPod(_)) => return Err(EngineError::NoSuchContainer(name)),
                Err(e) => return Err(e),
            },
            Err(e) => return Err(e),
        };
        let view = self.pod_view(pod)?;
        let infra_id = view.pod.infra_id.clone().ok_or_else(|| {
            EngineError::InvalidArg(format!(
                "pod {} has no infra container, whose unit would be the pod's",
                view.pod.name
            ))
        })?;
        let (infra, members): (Vec<ContainerRecord>, Vec<ContainerRecord>) = view
            .containers
            .iter()
            .cloned()
            .partition(|c| c.id() == infra_id);
        let infra = infra.into_iter().next().ok_or_else(|| {
            EngineError::NoSuchContainer(format!(
                "{infra_id} (the infra container of pod {})",
                view.pod.name
            ))
        })?;
        crate::systemd_unit::pod_units(
            &view.pod,
            &infra,
            &members,
            &self.roots,
            executable,
            options,
        )
    }

    /// After a container of a pod (not an init container) exited: with `--exit-policy
    /// stop`, when no container of the pod but its infra container is active any more,
    /// the infra container is stopped (podman's policy). Failures are logged: the
    /// container's own exit is recorded.
    pub(super) fn apply_pod_exit_policy(&self, record: &ContainerRecord) {
        let Some(pod) = &record.config.pod else {
            return;
        };
        let Ok(pod) = self.lookup_pod(pod) else {
            return;
        };
        let Some(infra) = pod.infra_id.clone() else {
            return;
        };
        // An init container's end is the pod's start going on, not its end.
        if pod.exit_policy != crate::pods::ExitPolicy::Stop
            || record.id() == infra
            || record.config.init_container.is_some()
        {
            return;
        }
        let others_active = self.store.containers().map(|all| {
            all.iter().any(|c| {
                c.config.pod.as_deref() == Some(pod.id.as_str())
                    && c.id() != infra
                    && c.id() != record.id()
                    && c.state.status.is_active()
            })
        });
        match others_active {
            Ok(false) => match self.stop(&infra, None) {
                Ok(_) | Err(EngineError::NotModified(_)) | Err(EngineError::NoSuchContainer(_)) => {
                    tracing::info!(pod = pod.name, "its last container exited: the pod stops");
                }
                Err(e) => tracing::warn!(pod = pod.name, %e, "stopping the pod by its exit policy"),
            },
            Ok(true) => {}
            Err(e) => tracing::warn!(pod = pod.name, %e, "reading the pod's containers"),
        }
    }

    fn pod_event(&self, pod: &PodRecord, action: &str) {
        self.object_event(
            crate::events::EventType::Pod,
            &pod.id,
            &pod.name,
            action,
            &[],
        );
    }
}

/// The pod's containers, its infra container first.
fn infra_first(view: &PodView) -> Vec<&ContainerRecord> {
    let mut order: Vec<&ContainerRecord> = view.containers.iter().collect();
    order.sort_by_key(|c| Some(c.id()) != view.pod.infra_id.as_deref());
    order
}

/// The pod's containers, its infra container last.
fn infra_last(view: &PodView) -> Vec<&ContainerRecord> {
    let mut order = infra_first(view);
    let infra_leads = view
        .pod
        .infra_id
        .as_deref()
        .is_some_and(|infra| order.first().is_some_and(|c| c.id() == infra));
    order.rotate_left(usize::from(infra_leads));
    order
}

/// What every container of a pod gets from its infra container, as podman's do: its
/// volumes and bind mounts (`pod create -v`, `--volumes-from`), not owned by the container
/// (never removed with it), and its devices. A mount of the container's own at one of those
/// places is refused unless it is the same (a clone's, which has them already); a device
/// of its own at one of those paths wins.
fn inherit_from_infra(
    pod: &PodRecord,
    infra: &ContainerRecord,
    options: &mut CreateOptions,
) -> Result<()> {
    use crate::mounts::MountKind;
    for mount in infra
        .config
        .mounts
        .iter()
        .filter(|m| m.kind == MountKind::Bind)
    {
        match options
            .mounts
            .iter()
            .find(|m| m.destination == mount.destination)
        {
            Some(own)
                if own.kind == mount.kind
                    && match &mount.volume {
                        Some(volume) => own.volume.as_ref() == Some(volume),
                        None => own.source == mount.source,
                    } =>
            {
                continue
            }
            Some(_) => {
                return Err(EngineError::InvalidArg(format!(
                    "pod {} mounts {} in each of its containers (pod create -v): a container of \
                     it cannot mount something else there",
                    pod.name, mount.destination
                )))
            }
            None => {}
        }
        options.mounts.push(mount.shared());
    }
    let devices = &mut options.isolation.devices;
    for device in &infra.config.isolation.devices {
        if !devices.iter().any(|d| d.container == device.container) {
            devices.push(device.clone());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_filters_are_checked_before_any_pod_is_looked_at() {
        let filters = |key: &str, value: &str| {
            std::collections::HashMap::from([(key.to_string(), vec![value.to_string()])])
        };
        for (key, value, taken) in [
            ("name", "^web-[0-9]+$", true),
            ("status", "running", true),
            ("ctr-names", "^db", true),
            ("ctr-ids", "^[0-9a-f]+$", true),
            ("ctr-status", "stopped", true),
            ("ctr-status", "unknown", true),
            ("label!", "tier=web", true),
            ("ctr-number", "3", true),
            ("until", "10m", true),
            ("network", "podman", true),
            ("name", "(", false),
            ("status", "sleeping", false),
            ("colour", "red", false),
            ("ctr-names", "[", false),
            ("ctr-ids", "(", false),
            ("ctr-status", "initialized", false),
            ("ctr-number", "-1", false),
            ("until", "someday", false),
        ] {
            let checked = PodView::check_filters(&filters(key, value));
            assert_eq!(checked.is_ok(), taken, "{key}={value}: {checked:?}");
        }
        let err = PodView::check_filters(&filters("ctr-names", "[")).unwrap_err();
        assert!(err.to_string().contains("ctr-names=\"[\""), "{err}");
    }
}
