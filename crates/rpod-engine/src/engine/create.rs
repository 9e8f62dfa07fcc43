//! Creating a container: its record, name, command, environment and bundle directory.

use super::*;

impl Engine {
    /// The mounts `--volumes-from` takes from other containers: their volumes and bind
    /// mounts (not their tmpfs), at places `taken` does not already have; `:ro` makes them
    /// read-only, `:rw` writable, neither keeps each as it was. The volumes stay the other
    /// containers' own (never removed with this one).
    fn volumes_from(
        &self,
        sources: &[String],
        taken: &[crate::mounts::MountSpec],
    ) -> Result<Vec<crate::mounts::MountSpec>> {
        let mut shared: Vec<crate::mounts::MountSpec> = Vec::new();
        for source in sources {
            let (name, mode) = match source.rsplit_once(':') {
                Some((name, mode)) => (name, Some(mode)),
                None => (source.as_str(), None),
            };
            if !matches!(mode, None | Some("ro") | Some("rw")) {
                return Err(EngineError::InvalidArg(format!(
                    "invalid --volumes-from {source:?}: use CONTAINER[:ro|rw]"
                )));
            }
            let other = self.lookup(name)?;
            for mount in &other.config.mounts {
                if mount.kind != crate::mounts::MountKind::Bind
                    || taken
                        .iter()
                        .chain(&shared)
                        .any(|m| m.destination == mount.destination)
                {
                    continue;
                }
                let mut copy = mount.shared();
                match mode {
                    Some("ro") if !copy.read_only() => {
                        copy.options.retain(|o| o != "rw");
                        copy.options.push("ro".into());
                    }
                    Some("rw") => {
                        copy.options.retain(|o| o != "ro");
                    }
                    _ => {}
                }
                shared.push(copy);
            }
        }
        Ok(shared)
    }

    pub fn create(&self, mut options: CreateOptions) -> Result<ContainerRecord> {
        // `--pod new:NAME`: a pod made for the container, taken away again when the
        // container cannot be made.
        let new_pod = match options.pod.as_deref().map(|p| p.strip_prefix("new:")) {
            Some(Some(name)) => {
                let pod = self.create_pod(crate::engine::PodOptions {
                    name: Some(name.to_string()),
                    ..Default::default()
                })?;
                options.pod = Some(pod.id.clone());
                Some(pod)
            }
            _ => None,
        };
        let created = self.create_container(options);
        if let (Err(_), Some(pod)) = (&created, new_pod) {
            let _ = self.pod_remove(&pod.id, true, Some(0));
        }
        created
    }

    fn create_container(&self, mut options: CreateOptions) -> Result<ContainerRecord> {
        validate(&mut options)?;
        let mut pod_lock = None;
        if let Some(name) = options.pod.clone() {
            let found = self.store.lookup_pod(&name)?;
            // Held until the container is recorded: the pod cannot go meanwhile.
            pod_lock = Some(self.pod_lock(&found.id)?);
            let pod = self.store.lookup_pod(&found.id)?;
            if pod.infra && pod.infra_id.is_none() {
                // Its infra container is being made (or a crash stopped that): there are
                // no namespaces to join yet.
                return Err(EngineError::state(
                    &pod.id,
                    format!(
                        "pod {} has no infra container yet: it is being made, or its making \
                         was interrupted (then remove it with pod rm)",
                        pod.name
                    ),
                ));
            }
            self.join_pod(&pod, &mut options)?;
        }
        let runtime_name = options
            .runtime
            .clone()
            .unwrap_or_else(|| self.options.runtime.clone());
        // Fail now, not at start, when the runtime or conmon is missing, or the seccomp
        // profile cannot be had.
        let runtime = self.runtime(&runtime_name)?;
        options.security.seccomp()?;
        if options.personality.is_some() {
            refuse_personality_on_old_runc(runtime.as_ref())?;
        }
        // Held until the container is recorded: no other `--userns auto` takes its IDs.
        let _userns_lock = match options.userns_auto {
            Some(auto) => {
                let lock = ContainerLock::acquire(
                    &self.roots.lock_dir(),
                    "userns-auto",
                    &self.roots.root,
                )?;
                options.id_mappings = Some(self.auto_id_mappings(auto)?);
                Some(lock)
            }
            None => None,
        };
        if let Some(name) = options.userns_container.take() {
            let other = self.lookup(&name)?;
            let mappings = other.config.id_mappings.clone().ok_or_else(|| {
                EngineError::InvalidArg(format!(
                    "--userns container:{name}: container {} has no user namespace of its own (it shares the host's)",
                    other.config.name
                ))
            })?;
            options.id_mappings = Some(mappings);
            options.userns_container = Some(other.id().to_string());
        }

        // Held until the container is recorded: its image, and those it mounts, cannot be
        // removed meanwhile.
        let mounts_images = options
            .mounts
            .iter()
            .any(|m| m.kind == crate::mounts::MountKind::Image);
        let image_lock = match options.image.is_some() || mounts_images {
            true => Some(self.image_lock()?),
            false => None,
        };
        let (image, image_config) = match (&options.image, &options.rootfs) {
            (_, Some(dir)) => {
                if !dir.is_dir() {
                    return Err(EngineError::InvalidArg(format!(
                        "--rootfs {}: not a directory",
                        dir.display()
                    )));
                }
                (None, None)
            }
            (Some(name), None) => {
                let record = self.resolve_image_or_list(name, options.platform.as_ref())?;
                let (config, docker) = image::config_and_docker_fields(&self.roots, &record.id)?;
                if let Some(platform) = &options.platform {
                    platform.check(name, &config)?;
                }
                // The image's health check, as podman and Docker take it, unless the
                // caller gave one or none (`--health-cmd`, `--no-healthcheck`).
                if options.healthcheck.is_none() && !options.no_healthcheck {
                    let image_check = docker.health_check(name)?;
                    options.healthcheck = match &options.healthcheck_over_image {
                        Some(given) => crate::health::HealthCheck::from_api(
                            &crate::health::HealthCheck::merge_api(given, image_check.as_ref()),
                        )?,
                        None => image_check,
                    }
                    .map(|check| crate::health::HealthCheck {
                        on_failure: options.image_health_on_failure,
                        ..check
                    });
                }
                (Some((record, name.clone())), config.config().clone())
            }
            (None, None) => {
                return Err(EngineError::InvalidArg(
                    "an image or --rootfs is required".into(),
                ))
            }
        };
        let image_cfg = image_config.unwrap_or_default();
        if options.healthcheck.is_none()
            && options.image_health_on_failure != crate::health::OnFailure::None
        {
            return Err(EngineError::InvalidArg(
                "--health-on-failure needs a health check: --health-cmd, or an image that has one"
                    .into(),
            ));
        }
        if options.seccomp_from_image
            && options.security.seccomp == crate::security::SeccompChoice::Default
        {
            let label = image_cfg
                .labels()
                .as_ref()
                .and_then(|l| l.get(crate::security::IMAGE_SECCOMP_LABEL));
            if let Some(profile) = label {
                options.security.seccomp = crate::security::SeccompChoice::Image(profile.clone());
                options.security.seccomp()?;
            }
        }
        let exposed = image_cfg.exposed_ports().clone().unwrap_or_default();
        // Held until the container is recorded: its networks cannot go meanwhile.
        let bridged = match &options.network {
            None => self.configured_network_mode() == NetworkMode::Bridge,
            Some(mode) => *mode == NetworkMode::Bridge,
        };
        let networks_lock = bridged.then(|| self.networks_shared_lock()).transpose()?;
        // The same for the volumes it names or makes (a removal or a prune beside it).
        let with_volumes = options.mounts.iter().any(|m| m.volume.is_some())
            || !options.volumes_from.is_empty()
            || (options.image_volumes == super::ImageVolumes::Anonymous
                && image_cfg.volumes().as_ref().is_some_and(|v| !v.is_empty()));
        let volumes_lock = with_volumes.then(|| self.volumes_lock(true)).transpose()?;
        let (network, net) = self.network_for_create(&options, &exposed)?;
        let isolation = self.isolation_for_create(&options, &network)?;

        let entrypoint = match &options.entrypoint {
            Some(e) => e.clone(),
            None => image_cfg.entrypoint().clone().unwrap_or_default(),
        };
        let cmd = if !options.command.is_empty() {
            options.command.clone()
        } else if options.entrypoint.is_some() {
            Vec::new()
        } else {
            image_cfg.cmd().clone().unwrap_or_default()
        };
        let entrypoint_len = entrypoint.len();
        let args: Vec<String> = entrypoint.into_iter().chain(cmd).collect();
        if args.is_empty() {
            return Err(EngineError::InvalidArg(
                "no command or entrypoint provided, and no CMD or ENTRYPOINT from image".into(),
            ));
        }

        let env = crate::environment::build(&crate::environment::EnvRequest {
            image: image_cfg.env().as_deref().unwrap_or_default(),
            user: &options.env,
            merge: &options.env_merge,
            unset: &options.unset_env,
            unset_all: options.unset_env_all,
            proxy: if options.http_proxy {
                crate::environment::proxy_from(crate::environment::host_vars().into_iter())
            } else {
                Vec::new()
            },
        })?;
        let mut labels: BTreeMap<String, String> = image_cfg
            .labels()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect();
        labels.extend(options.labels.clone());
        let systemd = options.systemd.applies_to(&args);
        if systemd {
            check_systemd_mode(&options, &self.options.cgroup_root)?;
        }
        let stop_signal = match options.stop_signal {
            Some(signal) => signal,
            None => match image_cfg.stop_signal() {
                Some(text) => rpod_oci::signal::parse_signal(text).unwrap_or(libc::SIGTERM),
                None if systemd => crate::systemd_mode::stop_signal(),
                None => libc::SIGTERM,
            },
        };

        let id = random_id();
        // An empty name is none, as podman takes `--name ''`.
        let name = match options.name.as_ref().filter(|n| !n.is_empty()) {
            Some(name) => {
                if !valid_name(name) {
                    return Err(EngineError::InvalidArg(format!(
                        "container name {name:?} must match [a-zA-Z0-9][a-zA-Z0-9_.-]*: invalid argument"
                    )));
                }
                name.clone()
            }
            None => random_name(),
        };
        let (image_id, image_name) = match &image {
            Some((record, asked)) => {
                let names = self.store.image_names(&record.id)?;
                let resolved = image::reference::lookup_candidates(asked)
                    .ok()
                    .and_then(|c| c.into_iter().find(|n| names.contains(n)))
                    .or_else(|| names.first().cloned())
                    .unwrap_or_else(|| record.id.clone());
                (record.id.clone(), resolved)
            }
            None => (String::new(), String::new()),
        };
        let default_hostname = if isolation.uts == crate::isolation::NamespaceMode::Host {
            nix::unistd::gethostname()
                .map(|h| h.to_string_lossy().into_owned())
                .unwrap_or_default()
        } else {
            id[..12].to_string()
        };
        let (secret_mounts, secret_env) =
            self.secrets_for_create(&id, &mut options.secrets, options.id_mappings.as_ref())?;
        let config = ContainerConfig {
            secrets: options.secrets.clone(),
            secret_env,
            hostname: options.hostname.clone().unwrap_or(default_hostname),
            id,
            name,
            image_id,
            image_name,
            rootfs: options.rootfs.clone(),
            entrypoint: options.entrypoint.clone(),
            cmd: options.command.clone(),
            args,
            entrypoint_len,
            env,
            workdir: options
                .workdir
                .clone()
                .or_else(|| image_cfg.working_dir().clone())
                .filter(|w| !w.is_empty())
                .unwrap_or_else(|| "/".into()),
            workdir_must_exist: options.workdir_must_exist
                && options.workdir.as_deref().is_some_and(|w| !w.is_empty()),
            user: options
                .user
                .clone()
                .or_else(|| image_cfg.user().clone())
                .unwrap_or_default(),
            labels,
            stop_signal,
            stop_timeout: options.stop_timeout.unwrap_or(DEFAULT_STOP_TIMEOUT),
            memory: options.memory,
            cpus: options.cpus,
            pids_limit: options.pids_limit,
            read_only: options.read_only,
            network,
            net,
            isolation,
            resources: options.resources.clone(),
            runtime: runtime_name,
            auto_remove: options.auto_remove,
            restart: options.restart,
            log_size_max: options.log_size_max,
            log_max_files: options.log_max_files,
            log_tag: options.log_tag.clone(),
            log_path: options.log_path.clone(),
            log_attributes: options.log_attributes.clone(),
            passthrough: options.passthrough,
            sdnotify_conmon: options.sdnotify_conmon,
            sdnotify_container: options.sdnotify_container,
            systemd,
            no_cgroups: options.no_cgroups,
            timeout: options.timeout,
            annotations: options.annotations.clone(),
            oom_score_adj: options.oom_score_adj,
            pidfile: options.pidfile.clone(),
            healthcheck: options.healthcheck.clone(),
            conmon_pidfile: options.conmon_pidfile.clone(),
            build_step: options.build_step,
            log_to_file: if options.log_driver_from_config {
                self.options.config.default_log_to_file()
            } else {
                options.log_to_file
            },
            terminal: options.terminal,
            stdin: options.stdin,
            created: Utc::now(),
            security: options.security.clone(),
            console_size: options.console_size,
            umask: options.umask,
            cgroup_parent: options.cgroup_parent.clone(),
            unset_env: options.unset_env.clone(),
            unset_env_all: options.unset_env_all,
            domainname: options.domainname.clone(),
            no_passwd_entries: options.no_passwd_entries,
            passwd_entry: options.passwd_entry.clone(),
            host_users: options.host_users.clone(),
            time_zone: options.time_zone.clone(),
            chroot_dirs: options
                .chroot_dirs
                .iter()
                .map(|dir| crate::mounts::container_path(dir))
                .collect::<Result<_>>()?,
            create_command: options.create_command.clone(),
            cid_file: options
                .cid_file
                .as_ref()
                .map(|p| p.to_string_lossy().into_owned()),
            volumes_from: options.volumes_from.clone(),
            personality: options.personality.clone(),
            pod: options.pod.clone(),
            init_container: options.init_container,
            id_mappings: options.id_mappings.clone(),
            userns_auto: options.userns_auto.is_some(),
            userns_container: options.userns_container.clone(),
            requires: {
                let mut ids = Vec::new();
                for name in &options.requires {
                    let id = self.lookup(name)?.id().to_string();
                    if !ids.contains(&id) {
                        ids.push(id);
                    }
                }
                ids
            },
            mounts: {
                let mut mounts = options.mounts.clone();
                if options.read_only && options.read_only_tmpfs {
                    read_only_tmpfs(&mut mounts)?;
                }
                let shared = self.volumes_from(&options.volumes_from, &mounts)?;
                mounts.extend(shared);
                mounts.extend(secret_mounts);
                let image_volumes = image_cfg.volumes().clone().unwrap_or_default();
                self.attach_volumes(&mut mounts, &image_volumes, options.image_volumes)?;
                crate::mounts::validate(&mounts)?;
                for mount in mounts
                    .iter_mut()
                    .filter(|m| m.kind == crate::mounts::MountKind::Image)
                {
                    let name = mount.source.to_string_lossy().into_owned();
                    mount.image_id = Some(image::resolve(&self.store, &name)?.id);
                }
                mounts
            },
        };
        crate::resources::check(&config)?;
        crate::resources::check_host(&config.resources, &self.options.cgroup_root)?;
        if config.no_cgroups {
            check_without_cgroups(&config, runtime.as_ref())?;
        }
        if config.id_mappings.is_some() {
            check_user_namespace(&config, runtime.as_ref())?;
        } else if let Some(mount) = config.mounts.iter().find(|m| m.idmap) {
            return Err(EngineError::InvalidArg(format!(
                "the idmap option of the mount on {} needs a user namespace of the container's own (--uidmap, --gidmap, --userns auto)",
                mount.destination
            )));
        }
        let mut record = ContainerRecord {
            config,
            state: ContainerState::new(),
        };
        let needs_random_name = options.name.is_none();
        loop {
            match self.store.insert_container(&record) {
                Ok(()) => break,
                Err(EngineError::NameInUse { .. }) if needs_random_name => {
                    record.config.name = random_name();
                }
                Err(e) => return Err(e),
            }
        }
        let bundle = self.roots.bundle_dir(record.id());
        if let Err(e) = fs::create_dir_all(&bundle) {
            let _ = self.store.remove_container(&record);
            return Err(EngineError::io("creating directory", &bundle, e));
        }
        self.container_event(&record, "create", &[]);
        drop(image_lock);
        drop(networks_lock);
        drop(volumes_lock);
        drop(pod_lock);
        Ok(record)
    }
}

/// A file of subordinate IDs (`/etc/subuid`): empty when there is none.
fn read_subordinate_ids(path: &Path) -> Result<String> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(EngineError::io("reading", path, e)),
    }
}

impl Engine {
    /// `--subuidname`/`--subgidname`: the mappings of those names' ranges in the files
    /// rpod.conf names (`/etc/subuid`, `/etc/subgid` by default). `None` for neither.
    fn subordinate_id_mappings(
        &self,
        user: Option<&str>,
        group: Option<&str>,
        names: crate::userns::FlagNames,
    ) -> Result<Option<crate::userns::IdMappings>> {
        if user.is_none() && group.is_none() {
            return Ok(None);
        }
        let (_, subuid, subgid) = self.options.config.auto_userns_sources();
        crate::userns::IdMappings::from_subordinate(
            user,
            group,
            (
                &read_subordinate_ids(subuid)?,
                &subuid.display().to_string(),
            ),
            (
                &read_subordinate_ids(subgid)?,
                &subgid.display().to_string(),
            ),
            names,
        )
    }

    /// The mappings `--uidmap`, `--gidmap`, `--subuidname` and `--subgidname` ask for
    /// (by those names in `names`, which errors say): the names' ranges first, the flags'
    /// after them (podman's order). `None` for none.
    pub fn id_mappings_for(
        &self,
        uidmap: &[String],
        gidmap: &[String],
        user: Option<&str>,
        group: Option<&str>,
        names: crate::userns::FlagNames,
    ) -> Result<Option<crate::userns::IdMappings>> {
        use crate::userns::IdMappings;
        match self.subordinate_id_mappings(user, group, names)? {
            Some(named) => Ok(Some(
                match IdMappings::more_from_flags(uidmap, gidmap, names)? {
                    Some(more) => named.joined(more, names)?,
                    None => named,
                },
            )),
            None => IdMappings::from_flags_named(uidmap, gidmap, names),
        }
    }

    /// `--userns auto`: subordinate IDs no container has, neither one made so nor one
    /// with mappings of its own.
    fn auto_id_mappings(
        &self,
        auto: crate::userns::AutoUserns,
    ) -> Result<crate::userns::IdMappings> {
        let (user, subuid, subgid) = self.options.config.auto_userns_sources();
        let taken: Vec<crate::userns::IdMappings> = self
            .store
            .containers()?
            .into_iter()
            .filter_map(|c| c.config.id_mappings)
            .collect();
        auto.allocate(
            user,
            (
                &read_subordinate_ids(subuid)?,
                &subuid.display().to_string(),
            ),
            (
                &read_subordinate_ids(subgid)?,
                &subgid.display().to_string(),
            ),
            &taken,
        )
    }

    /// Settle `--pid`/`--ipc`/`--uts` (other containers by ID), `--init`, and check
    /// `--sysctl` against the namespaces shared.
    fn isolation_for_create(
        &self,
        options: &CreateOptions,
        network: &NetworkMode,
    ) -> Result<crate::isolation::Isolation> {
        use crate::isolation::NamespaceMode;
        let mut isolation = options.isolation.clone();
        for mode in [
            &mut isolation.pid,
            &mut isolation.ipc,
            &mut isolation.uts,
            &mut isolation.cgroup,
        ] {
            if let NamespaceMode::Container(name) = mode {
                *mode = NamespaceMode::Container(self.lookup(name)?.id().to_string());
            }
        }
        if isolation.uts != NamespaceMode::Private && options.hostname.is_some() {
            return Err(EngineError::InvalidArg(
                "--hostname needs a UTS namespace of the container's own, not --uts host or container:".into(),
            ));
        }
        if isolation.uts != NamespaceMode::Private && options.domainname.is_some() {
            return Err(EngineError::InvalidArg(
                "--domainname needs a UTS namespace of the container's own, not --uts host or container:".into(),
            ));
        }
        crate::isolation::check_sysctls(
            &isolation.sysctls,
            *network == NetworkMode::Host,
            &isolation.ipc,
            &isolation.uts,
        )?;
        if options.init {
            if isolation.pid != NamespaceMode::Private {
                return Err(EngineError::InvalidArg(
                    "--init needs a PID namespace of the container's own".into(),
                ));
            }
            isolation.init = Some(crate::isolation::find_init(options.init_path.as_deref())?);
        } else if options.init_path.is_some() {
            return Err(EngineError::InvalidArg("--init-path needs --init".into()));
        }
        Ok(isolation)
    }
}

/// Check what every front end may send, before anything is made: limits in range, names
/// of environment variables and labels that are names. `pids_limit` of -1 or 0 means no
/// limit.
fn validate(options: &mut CreateOptions) -> Result<()> {
    let invalid = |message: String| Err(EngineError::InvalidArg(message));
    if options.passthrough && options.terminal {
        return invalid("the passthrough log driver cannot be used with a terminal (-t)".into());
    }
    if options.auto_remove && options.restart.is_set() {
        return invalid(
            "the --rm option conflicts with --restart, when the restartPolicy is not \"\" and \"no\"".into(),
        );
    }
    if let Some(kind) = options.init_container {
        if options.pod.is_none() {
            return invalid(format!(
                "--init-ctr {}: an init container belongs to a pod: give --pod",
                kind.as_str()
            ));
        }
        if options.restart.is_set() {
            return invalid(format!(
                "--init-ctr {}: an init container runs to its end at the pod's start; it takes no --restart policy",
                kind.as_str()
            ));
        }
    }
    if let Some(adj) = options.oom_score_adj {
        if !(-1000..=1000).contains(&adj) {
            return invalid(format!(
                "invalid --oom-score-adj {adj}: must be between -1000 and 1000"
            ));
        }
    }
    crate::resources::zero_is_unset(&mut options.cpus);
    crate::resources::zero_is_unset(&mut options.resources.cpu_shares);
    if let Some(cpus) = options.cpus {
        if !cpus.is_finite() || cpus < 0.0 {
            return invalid(format!("invalid --cpus {cpus}: must be positive"));
        }
    }
    match options.pids_limit {
        Some(limit) if limit < -1 => {
            return invalid(format!(
                "invalid --pids-limit {limit}: use -1 for unlimited or a positive number"
            ))
        }
        Some(limit) if limit <= 0 => options.pids_limit = None,
        _ => {}
    }
    if let Some(memory) = options.memory {
        if memory <= 0 {
            return invalid(format!("invalid memory limit {memory}: must be positive"));
        }
    }
    for entry in &options.env {
        let name = entry.split('=').next().unwrap_or_default();
        if name.is_empty() || name.chars().any(char::is_whitespace) || !entry.contains('=') {
            return invalid(format!(
                "invalid environment variable {entry:?}: use NAME=VALUE with a name without white space"
            ));
        }
    }
    crate::mounts::validate(&options.mounts)?;
    crate::mounts::check_bind_sources(&options.mounts)?;
    if let Some(parent) = &options.cgroup_parent {
        crate::spec::check_cgroup_parent(parent)?;
    }
    if let Some(personality) = &options.personality {
        if !matches!(personality.as_str(), "LINUX" | "LINUX32") {
            return invalid(format!(
                "invalid --personality {personality:?}: use LINUX or LINUX32"
            ));
        }
    }
    if let Some(template) = &options.passwd_entry {
        crate::accounts::check_template(template)?;
    }
    if let Some(tz) = &options.time_zone {
        crate::mounts::time_zone_file(tz)?;
    }
    if !options.host_users.is_empty() {
        let host = fs::read_to_string("/etc/passwd")
            .map_err(|e| EngineError::io("reading", Path::new("/etc/passwd"), e))?;
        for user in &options.host_users {
            crate::accounts::host_user(&host, user)?;
        }
    }
    // The kernel's ceiling is read only when a limit is given (create is a hot path).
    if let Some(nofile) = crate::isolation::open_file_limit(&options.isolation.ulimits) {
        if let Some(nr_open) = crate::isolation::kernel_nr_open() {
            crate::isolation::check_open_file_limit(nofile, nr_open)?;
        }
    }
    if let Some(umask) = options.umask {
        if umask > 0o777 {
            return invalid(format!(
                "invalid --umask {umask:o}: an octal number from 0 to 0777"
            ));
        }
    }
    if options.read_only_tmpfs && !options.read_only {
        // podman ignores it then; so does rpod (the flag is on by default).
        options.read_only_tmpfs = false;
    }
    if options.labels.keys().any(|k| k.is_empty()) {
        return invalid("a label needs a name".into());
    }
    let groups = &options.isolation.group_add;
    if groups.iter().any(|g| g == crate::spec::KEEP_GROUPS) {
        if groups.len() > 1 {
            return invalid(
                "the '--group-add keep-groups' option is not allowed with any other --group-add options".into(),
            );
        }
        // As podman: crun then leaves the process the groups it was started with.
        options
            .annotations
            .insert("run.oci.keep_original_groups".into(), "1".into());
    }
    if let Some(hostname) = &options.hostname {
        // podman takes `_` too (every random pod name has one, and is the pod's host name);
        // nothing that would break the line of /etc/hosts it goes into.
        let ok = !hostname.is_empty()
            && hostname.len() <= 64
            && hostname
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
        if !ok {
            return invalid(format!("invalid hostname {hostname:?}"));
        }
    }
    Ok(())
}

/// A user namespace (`--uidmap`, `--userns`): with what rpod maps for it (an image's
/// layers) and namespaces it owns, its own or those of the container whose user namespace
/// it joins (a pod's infra container). The host's or another container's PID, IPC or UTS
/// namespace would be owned by another user namespace, where the runtime cannot mount
/// their file systems.
fn check_user_namespace(
    config: &ContainerConfig,
    runtime: &dyn rpod_oci::OciRuntime,
) -> Result<()> {
    use crate::isolation::NamespaceMode;
    let iso = &config.isolation;
    // Namespaces of its own, or of the container whose user namespace it joins (a pod's
    // infra container), which that user namespace owns.
    let owned = |mode: &NamespaceMode| match mode {
        NamespaceMode::Private | NamespaceMode::Shareable | NamespaceMode::None => true,
        NamespaceMode::Container(other) => config.userns_container.as_ref() == Some(other),
        _ => false,
    };
    let refused = [
        (
            config.rootfs.is_some(),
            "--rootfs (only an image's layers are mapped)",
        ),
        (
            config.pod.is_some() && config.userns_container.is_none(),
            "a pod without one",
        ),
        (!owned(&iso.pid), "--pid host or container:"),
        (!owned(&iso.ipc), "--ipc host or container:"),
        (!owned(&iso.uts), "--uts host or container:"),
        (config.systemd, "systemd mode"),
        (config.no_cgroups, "--cgroups disabled"),
        (
            config.mounts.iter().any(|m| m.overlay.is_some()),
            "an overlay mount (O)",
        ),
    ];
    if let Some((_, what)) = refused.iter().find(|(set, _)| *set) {
        return Err(EngineError::NotSupported(format!(
            "a user namespace (--uidmap, --gidmap) with {what}"
        )));
    }
    // runc's exec enters the container's user namespace before its other namespaces: one
    // owned by the host's user namespace (another container's, a path's) is then out of
    // its reach (a bridge's is made by the runtime for such a container: `netsetup.rs`).
    // The container whose user namespace it joins has a network namespace that one owns.
    let joins_owner = match (&config.network, &config.userns_container) {
        (NetworkMode::Container(net), Some(user)) => net == user,
        _ => false,
    };
    if matches!(
        config.network,
        NetworkMode::Container(_) | NetworkMode::Path(_)
    ) && !joins_owner
        && runtime.runtime_info()?.1.name == "runc"
    {
        return Err(EngineError::NotSupported(
            "a user namespace (--uidmap, --gidmap) with --network container: or ns: on runc (its exec could not join that network namespace; crun can)".into(),
        ));
    }
    Ok(())
}

/// `--cgroups disabled`: crun's alone (runc always makes one), privileged only, and nothing
/// that lives in a cgroup.
fn check_without_cgroups(
    config: &ContainerConfig,
    runtime: &dyn rpod_oci::OciRuntime,
) -> Result<()> {
    // The device cgroup is what keeps a container from the device nodes its image or
    // volumes may carry (an image can hold a node of the host's disk): without one, only
    // a container that may use every device anyway loses nothing. podman allows it for any
    // container.
    if !config.security.privileged {
        return Err(EngineError::InvalidArg(
            "--cgroups disabled needs --privileged: without a device cgroup the container could open any device node its image or volumes hold".into(),
        ));
    }
    if !runtime.supports_no_cgroups() {
        return Err(EngineError::NotSupported(format!(
            "--cgroups disabled with the OCI runtime {}: it always makes a cgroup (crun does not)",
            config.runtime
        )));
    }
    let r = &config.resources;
    let needs_cgroup = [
        (config.memory.is_some(), "--memory"),
        (config.cpus.is_some(), "--cpus"),
        (config.pids_limit.is_some(), "--pids-limit"),
        (r.oom_kill_disable, "--oom-kill-disable"),
        (
            *r != crate::resources::Resources::default(),
            "resource limits",
        ),
        (
            !config.isolation.device_cgroup_rules.is_empty(),
            "--device-cgroup-rule",
        ),
        (config.cgroup_parent.is_some(), "--cgroup-parent"),
        (
            config.pod.is_some(),
            "a pod (its containers share its cgroup)",
        ),
        (config.systemd, "systemd mode"),
    ];
    if let Some((_, what)) = needs_cgroup.iter().find(|(set, _)| *set) {
        return Err(EngineError::InvalidArg(format!(
            "{what} needs the container's cgroup, which --cgroups disabled leaves out"
        )));
    }
    Ok(())
}

/// systemd mode on cgroup v1 binds the container's own `name=systemd` cgroup where systemd
/// looks for it, which is where it is only in a cgroup namespace of the container's own.
fn check_systemd_mode(options: &CreateOptions, cgroup_root: &Path) -> Result<()> {
    let own_namespace = options.isolation.cgroup == crate::isolation::NamespaceMode::Private;
    if !crate::pod_cgroups::unified(cgroup_root) && !own_namespace {
        return Err(EngineError::InvalidArg(
            "systemd mode on cgroup v1 needs a cgroup namespace of the container's own: drop --cgroupns, or use --systemd=false".into(),
        ));
    }
    Ok(())
}

/// runc before 1.2 ignores the spec's personality without a word: refused there rather
/// than a container that silently runs in the usual domain (crun and newer runc set it).
fn refuse_personality_on_old_runc(runtime: &dyn rpod_oci::OciRuntime) -> Result<()> {
    let (_, info) = runtime.runtime_info()?;
    let version: Vec<u32> = info
        .version
        .split_whitespace()
        .find(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .unwrap_or("0")
        .split(|c: char| !c.is_ascii_digit())
        .take(2)
        .map(|n| n.parse().unwrap_or(0))
        .collect();
    let old = version.as_slice() < [1, 2].as_slice();
    if info.name == "runc" && old {
        return Err(EngineError::NotSupported(format!(
            "--personality with runc {} (it sets personalities from 1.2 on; crun does)",
            version
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(".")
        )));
    }
    Ok(())
}

impl CreateOptions {
    /// `--read-only-tmpfs` said by the tmpfs mounts it stands for, the flag cleared: the
    /// same container, in the form podman 4's SpecGenerator can carry (it has no field for
    /// the flag; podman's own clients send the mounts).
    pub fn read_only_tmpfs_as_mounts(&mut self) -> Result<()> {
        if self.read_only && self.read_only_tmpfs {
            read_only_tmpfs(&mut self.mounts)?;
        }
        self.read_only_tmpfs = false;
        Ok(())
    }
}

/// podman's `--read-only-tmpfs`: a read-only container still gets a writable /tmp, /var/tmp
/// and /run (each a tmpfs, filled with the image's content there), unless a mount of the
/// user's is already there.
fn read_only_tmpfs(mounts: &mut Vec<crate::mounts::MountSpec>) -> Result<()> {
    for path in ["/tmp", "/var/tmp", "/run"] {
        if mounts
            .iter()
            .any(|m| Path::new(&m.destination) == Path::new(path))
        {
            continue;
        }
        mounts.push(crate::mounts::tmpfs(path, &["exec".to_string()])?);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_options_are_refused_before_anything_is_made() {
        let bad = [
            CreateOptions {
                cpus: Some(-1.0),
                ..Default::default()
            },
            CreateOptions {
                cpus: Some(f64::NAN),
                ..Default::default()
            },
            CreateOptions {
                pids_limit: Some(-2),
                ..Default::default()
            },
            CreateOptions {
                memory: Some(0),
                ..Default::default()
            },
            CreateOptions {
                env: vec!["=x".into()],
                ..Default::default()
            },
            CreateOptions {
                env: vec!["NOVALUE".into()],
                ..Default::default()
            },
            CreateOptions {
                hostname: Some("a/b".into()),
                ..Default::default()
            },
        ];
        for mut options in bad {
            let shown = format!("{options:?}");
            assert!(validate(&mut options).is_err(), "{shown}");
        }
        let mut fine = CreateOptions {
            pids_limit: Some(-1),
            cpus: Some(0.5),
            env: vec!["A=1".into(), "B=".into()],
            hostname: Some("web-1.local".into()),
            ..Default::default()
        };
        validate(&mut fine).unwrap();
        assert_eq!(fine.pids_limit, None, "-1 is no limit");
        let mut zeros = CreateOptions {
            cpus: Some(0.0),
            ..Default::default()
        };
        zeros.resources.cpu_shares = Some(0);
        validate(&mut zeros).unwrap();
        assert_eq!((zeros.cpus, zeros.resources.cpu_shares), (None, None));
    }
}
