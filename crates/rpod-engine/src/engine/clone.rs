//! `container clone`: a new container made as the original was, through the same create
//! (so it gets its own secrets' copies, its own anonymous volumes and network addresses),
//! with other limits, another name or another image if asked.

use super::*;
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
}

impl Engine {
    /// Make a container like `name_or_id`; its record.
    pub fn clone_container(
        &self,
        name_or_id: &str,
        options: &CloneOptions,
    ) -> Result<ContainerRecord> {
        let original = self.inspect(name_or_id)?;
        if let Some(pod) = &original.config.pod {
            // podman's clone can move a container to another pod; rpod's cannot say where.
            return Err(EngineError::NotSupported(format!(
                "cloning container {}, which belongs to pod {pod}",
                original.config.name
            )));
        }
        if options.destroy && !options.force && original.state.status.is_active() {
            return Err(EngineError::RemoveRunning {
                id: original.id().to_string(),
                state: original.state.status.as_str().to_string(),
            });
        }
        let mut config = original.config.clone();
        options.limits.apply(&mut config)?;
        let create = self.create_options_of(&config, options)?;
        let record = self.create(create)?;
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
            mac_address: None,
            network_aliases: Vec::new(),
            runtime: Some(config.runtime.clone()),
            auto_remove: config.auto_remove,
            restart: config.restart,
            log_size_max: config.log_size_max,
            log_max_files: config.log_max_files,
            log_tag: config.log_tag.clone(),
            log_path: None,
            passthrough: config.passthrough,
            timeout: config.timeout,
            annotations: config.annotations.clone(),
            oom_score_adj: config.oom_score_adj,
            pidfile: None,
            healthcheck: config.healthcheck.clone(),
            secrets: config.secrets.clone(),
            conmon_pidfile: None,
            log_to_file: config.log_to_file,
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
            platform: None,
            no_passwd_entries: config.no_passwd_entries,
            passwd_entry: config.passwd_entry.clone(),
            host_users: config.host_users.clone(),
            create_command: config.create_command.clone(),
            requires: config.requires.clone(),
            personality: config.personality.clone(),
            // The original's choice, already made, is in `security`.
            seccomp_from_image: false,
        })
    }
}
