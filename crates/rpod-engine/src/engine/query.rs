//! Attaching, inspecting and listing.

use super::*;

impl Engine {
    /// Connect to a running container's attach socket. Copying happens without the lock.
    pub fn attach(&self, name_or_id: &str) -> Result<(ContainerRecord, Box<dyn AttachSession>)> {
        let found = self.lookup(name_or_id)?;
        let _lock = self.lock(found.id())?;
        let mut record = self.reload(found.id(), name_or_id)?;
        self.sync(&mut record)?;
        refuse_passthrough(&record)?;
        if record.state.status != Status::Running {
            return Err(EngineError::state(
                record.id(),
                format!(
                    "you can only attach to running containers: {} is {}",
                    record.id(),
                    record.state.status.as_str()
                ),
            ));
        }
        let runtime = self.runtime(&record.config.runtime)?;
        let connection = runtime.attach_connect(&self.oci_container(&record))?;
        self.container_event(&record, "attach", &[]);
        Ok((record, connection))
    }

    /// Record that the caller attached to a container it started (`run`, `start -a`): the
    /// `attach` event podman records after `start`.
    pub fn note_attached(&self, record: &ContainerRecord) {
        self.container_event(record, "attach", &[]);
    }

    /// Attach a hijacked HTTP connection (the REST service's attach). A container that is
    /// not running yet is created in the runtime first, so that its monitor is up and the
    /// client sees all output of the start that follows (Docker's attach, wait, start).
    /// With `stream` off only the preamble is written (past logs), in any state. The copy
    /// runs without the lock, until the container's output ends or the client detaches.
    pub fn attach_http(&self, name_or_id: &str, options: HttpAttachOptions) -> Result<()> {
        let found = self.lookup(name_or_id)?;
        // Created below in the runtime, it joins the namespaces of what it requires (a pod's
        // infra container), which must run by then.
        if options.stream && !found.state.status.is_active() {
            self.start_requirements(&found)?;
        }
        let record = {
            let _lock = self.lock(found.id())?;
            let mut record = self.reload(found.id(), name_or_id)?;
            self.sync(&mut record)?;
            refuse_passthrough(&record)?;
            if options.stream {
                match record.state.status {
                    Status::Running | Status::Paused | Status::Created => {}
                    Status::Configured | Status::Exited => self.init(&mut record, None)?,
                    Status::Stopped => {
                        self.cleanup_runtime(&mut record)?;
                        self.init(&mut record, None)?;
                    }
                    other => {
                        return Err(EngineError::state(
                            record.id(),
                            format!(
                                "cannot attach to container {}: it is {}",
                                record.id(),
                                other.as_str()
                            ),
                        ))
                    }
                }
            }
            record
        };
        let runtime = self.runtime(&record.config.runtime)?;
        if options.stream {
            self.container_event(&record, "attach", &[]);
        }
        match runtime.http_attach(&self.oci_container(&record), options) {
            Ok(()) | Err(rpod_oci::OciError::Detached) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Resize a container's terminal. Refused for a container that is not running (the
    /// monitor that would take the size is gone); nothing to do for one without a terminal,
    /// which Docker and podman take without a word (a client resizes what it attached to).
    pub fn resize(&self, name_or_id: &str, size: TerminalSize) -> Result<()> {
        let record = self.inspect(name_or_id)?;
        if !record.state.status.is_active() {
            return Err(EngineError::state(
                record.id(),
                format!(
                    "container {} is not running: no terminal to resize",
                    record.config.name
                ),
            ));
        }
        if !record.config.terminal {
            return Ok(());
        }
        let runtime = self.runtime(&record.config.runtime)?;
        Ok(runtime.attach_resize(&self.oci_container(&record), size)?)
    }

    /// Resize an exec session's terminal.
    pub fn exec_resize(
        &self,
        name_or_id: &str,
        session_id: &str,
        size: TerminalSize,
    ) -> Result<()> {
        let record = self.lookup(name_or_id)?;
        let runtime = self.runtime(&record.config.runtime)?;
        Ok(runtime.exec_attach_resize(&self.oci_container(&record), session_id, size)?)
    }

    /// A container's record, synced with the monitor's files.
    pub fn inspect(&self, name_or_id: &str) -> Result<ContainerRecord> {
        let found = self.lookup(name_or_id)?;
        let _lock = self.lock(found.id())?;
        let mut record = self.reload(found.id(), name_or_id)?;
        self.sync(&mut record)?;
        Ok(record)
    }

    /// What `inspect` shows of `record` (podman's `InspectContainerData`), with what only
    /// the store knows besides the record: whether it is its pod's infra container.
    pub fn inspect_view(
        &self,
        record: &ContainerRecord,
        exec_ids: Vec<String>,
    ) -> Result<crate::views::ContainerInspect> {
        let mut view = crate::views::ContainerInspect::new(&self.roots, record, exec_ids);
        view.is_infra = self.is_infra(record)?;
        if record.config.rootfs.is_none() {
            if let Some(image) = self.store.image(&record.config.image_id)? {
                view.image_digest = image.digest();
                // The image's layers beneath its overlay, topmost first (overlayfs's
                // `lowerdir`), as podman shows them.
                let dirs = crate::image::layer_dirs(&self.roots);
                let lower: Vec<String> = image
                    .layers
                    .iter()
                    .rev()
                    .map(|layer| dirs.dir(layer).display().to_string())
                    .collect();
                view.graph_driver.data.insert("LowerDir", lower.join(":"));
            }
        }
        Ok(view)
    }

    /// Every container, each synced with its monitor and runtime under its lock (`ps
    /// --sync`): exits are recorded, not only shown. A container removed meanwhile is left
    /// out.
    pub fn list_synced(&self) -> Result<Vec<ContainerRecord>> {
        let mut records = Vec::new();
        for record in self.store.containers()? {
            match self.inspect(record.id()) {
                Ok(synced) => records.push(synced),
                Err(EngineError::NoSuchContainer(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(records)
    }

    /// Every container, with exits the monitor has recorded but nobody synced yet shown as
    /// exited. Takes no lock and writes nothing, so listing stays fast.
    pub fn list(&self) -> Result<Vec<ContainerRecord>> {
        let mut records = self.store.containers()?;
        let exits = self.roots.monitor_tmp().join("exits");
        for record in &mut records {
            if !record.state.status.is_active() {
                continue;
            }
            if let Ok(Some(exit)) = read_exit_file(&exits.join(record.id())) {
                record.state.status = Status::Stopped;
                record.state.exit_code = Some(exit.code);
                record.state.finished_at = Some(exit.finished.into());
                record.state.pid = 0;
            } else if record.state.conmon_pid > 0
                && !pid_alive(record.state.conmon_pid)
                && !pid_alive(record.state.pid)
            {
                // Monitor and process both gone without an exit file: a listing must not
                // show it as up. The exit command the monitor did not run records it
                // under the lock (and restarts or removes the container as it says).
                self.start_exit_command(record);
                record.state.status = Status::Stopped;
                record.state.exit_code = Some(-1);
                record.state.pid = 0;
            } else if super::sync::stop_interrupted(&record.state) {
                // Its stop was interrupted: it runs (the next command under its lock
                // records that).
                record.state.status = Status::Running;
            }
        }
        Ok(records)
    }

    /// The k8s-file log of a container.
    /// `logs -f`: hand `sink` the container's log lines, then what it writes, until its
    /// monitor is gone (asked of the runtime; with an unknown monitor, until the container
    /// is no longer active).
    /// A set `cancel` ends the following (a client that went away).
    pub fn follow_logs(
        &self,
        record: &ContainerRecord,
        filter: &crate::logs::LogFilter,
        cancel: Option<&std::sync::atomic::AtomicBool>,
        sink: impl FnMut(&crate::logs::LogLine) -> std::io::Result<()>,
    ) -> Result<()> {
        let runtime = self.runtime(&record.config.runtime)?;
        let oci = self.oci_container(record);
        let id = record.id().to_string();
        let still_writing = || {
            if cancel.is_some_and(|c| c.load(std::sync::atomic::Ordering::SeqCst)) {
                return false;
            }
            if oci.conmon_pid > 0 {
                return runtime.check_conmon_running(&oci).unwrap_or(false);
            }
            self.store
                .container(&id)
                .ok()
                .flatten()
                .is_some_and(|r| r.state.status.is_active() && pid_alive(r.state.pid))
        };
        crate::logs::follow(&self.log_path(record), filter, still_writing, sink)
    }

    /// What `info` shows.
    pub fn info(&self) -> Result<crate::views::SystemInfo> {
        use crate::views::*;
        let runtime = self.default_runtime()?;
        let (conmon, oci_runtime) = runtime.runtime_info()?;
        let containers = self.list()?;
        let arch = crate::seccomp::host_arch();
        let registries_conf = self.registries_conf()?;
        let mut registries = registries_conf.info();
        registries.insert(
            "search".into(),
            serde_json::json!(self.search_registries_of(&registries_conf)),
        );
        let memory = nix::sys::sysinfo::sysinfo().ok();
        let cgroup_version = cgroup_version();
        let remote_socket = self.roots.service_socket();
        let mut capabilities: Vec<&str> = crate::security::DEFAULT_CAPABILITIES.to_vec();
        capabilities.sort_unstable();
        let volume_plugins = self.options.config.engine.volume_plugins.keys().cloned();
        let (allocated, used) = nix::sys::statvfs::statvfs(&self.roots.root)
            .map(|s| {
                let block = s.fragment_size();
                (s.blocks() * block, (s.blocks() - s.blocks_free()) * block)
            })
            .unwrap_or((0, 0));
        Ok(SystemInfo {
            plugins: PluginsInfo {
                volume: std::iter::once(crate::volumes::LOCAL_DRIVER.to_string())
                    .chain(volume_plugins)
                    .collect(),
                network: vec!["bridge", "macvlan"],
                log: vec!["k8s-file", "none", "passthrough"],
                authorization: None,
            },
            registries,
            host: HostInfo {
                arch,
                os: "linux",
                kernel: nix::sys::utsname::uname()
                    .map(|u| u.release().to_string_lossy().into_owned())
                    .unwrap_or_default(),
                hostname: nix::unistd::gethostname()
                    .map(|h| h.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                cgroup_manager: "cgroupfs",
                cgroup_version,
                cgroup_controllers: crate::host_system::cgroup_controllers(cgroup_version == "v2"),
                cpu_utilization: crate::host_system::CpuUsage::of_host(),
                event_logger: if self.options.events { "file" } else { "none" },
                id_mappings: IdMappingsInfo {
                    gidmap: None,
                    uidmap: None,
                },
                linkmode: "dynamic",
                network_backend: "netavark",
                remote_socket: RemoteSocketInfo {
                    exists: remote_socket.exists(),
                    path: remote_socket.display().to_string(),
                },
                security: SecurityInfo {
                    apparmor_enabled: false,
                    capabilities: capabilities.join(","),
                    rootless: !nix::unistd::geteuid().is_root(),
                    seccomp_enabled: std::fs::read_to_string("/proc/self/status")
                        .is_ok_and(|s| s.lines().any(|l| l.starts_with("Seccomp:"))),
                    seccomp_profile_path: crate::seccomp::default_profile_path(
                        crate::seccomp::DEFAULT_PROFILE_PATHS,
                    )
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
                    selinux_enabled: false,
                },
                service_is_remote: false,
                conmon,
                oci_runtime,
                log_driver: "k8s-file",
                supports_checkpoint: runtime.supports_checkpoint(),
                criu_version: rpod_oci::conmon::find_criu(
                    self.options.config.engine.criu_path.as_deref(),
                )
                .and_then(|c| rpod_oci::conmon::criu_version(&c))
                .unwrap_or_default(),
                supports_json_errors: runtime.supports_json_errors(),
                supports_no_cgroups: runtime.supports_no_cgroups(),
                supports_kvm: runtime.supports_kvm(),
                distribution: crate::host_system::Distribution::of_host(),
                mem_total: memory.as_ref().map(|m| m.ram_total()).unwrap_or(0),
                mem_free: memory.as_ref().map(|m| m.ram_unused()).unwrap_or(0),
                swap_total: memory.as_ref().map(|m| m.swap_total()).unwrap_or(0),
                swap_free: memory.as_ref().map(|m| m.swap_free()).unwrap_or(0),
                cpus: std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(1),
                uptime: crate::host_system::uptime_text(
                    memory
                        .as_ref()
                        .map(|m| m.uptime().as_secs_f64())
                        .unwrap_or(0.0),
                ),
            },
            store: StoreInfo {
                config_file: crate::config::config_path()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
                graph_root: self.roots.root.display().to_string(),
                graph_root_allocated: allocated,
                graph_root_used: used,
                run_root: self.roots.runroot.display().to_string(),
                graph_driver_name: "overlay",
                graph_options: Default::default(),
                graph_status: BTreeMap::from([
                    (
                        "Backing Filesystem",
                        crate::host_system::backing_filesystem(&self.roots.root).to_string(),
                    ),
                    ("Native Overlay Diff", "true".to_string()),
                    ("Supports d_type", "true".to_string()),
                    ("Using metacopy", "false".to_string()),
                ]),
                image_copy_tmp_dir: self.roots.tmp().display().to_string(),
                volume_path: self.roots.volumes().display().to_string(),
                container_store: ContainerCounts::of(&containers),
                image_store: ImageCounts {
                    number: self.images()?.len(),
                },
            },
            version: VersionInfo::of_this_build(),
        })
    }

    pub fn log_path(&self, record: &ContainerRecord) -> PathBuf {
        record
            .config
            .log_path
            .clone()
            .unwrap_or_else(|| self.roots.log_path(record.id()))
    }

    /// How many containers each image (by ID) has: the listings' `Containers`.
    pub fn containers_per_image(&self) -> Result<std::collections::HashMap<String, usize>> {
        let mut counts = std::collections::HashMap::new();
        for record in self.store.containers()? {
            *counts.entry(record.config.image_id).or_insert(0) += 1;
        }
        Ok(counts)
    }

    /// Images used by containers (for `rmi`).
    pub fn containers_using_image(&self, image: &ImageRecord) -> Result<Vec<ContainerRecord>> {
        Ok(self
            .store
            .containers()?
            .into_iter()
            .filter(|c| {
                c.config.image_id == image.id
                    || c.config
                        .mounts
                        .iter()
                        .any(|m| m.image_id.as_deref() == Some(image.id.as_str()))
            })
            .collect())
    }
}

/// A passthrough container's stdio is the stdio of the rpod that started it: there is no
/// attach socket and no log.
pub(super) fn refuse_passthrough(record: &ContainerRecord) -> Result<()> {
    if record.config.passthrough {
        return Err(EngineError::InvalidArg(format!(
            "container {} uses the passthrough log driver: it cannot be attached to and has no logs",
            record.config.name
        )));
    }
    Ok(())
}
