//! Starting: the root file system, the spec, creation in the runtime, the start itself.

use super::netsetup::PendingSetup;
use super::*;

/// Where a `--sdnotify container` container finds its notify socket's directory.
const CONTAINER_NOTIFY_DIR: &str = "/run/notify";

/// The service manager's socket a `--sdnotify container` container's messages go to: this
/// process's `NOTIFY_SOCKET` (a container started outside a service has none to pass on).
fn sdnotify_host_socket(record: &ContainerRecord) -> Option<String> {
    if !record.config.sdnotify_container {
        return None;
    }
    let socket = std::env::var_os("NOTIFY_SOCKET")?;
    match socket.into_string() {
        Ok(socket) if !socket.is_empty() => Some(socket),
        Ok(_) => None,
        Err(socket) => {
            tracing::warn!(
                id = record.id(),
                ?socket,
                "NOTIFY_SOCKET is not UTF-8: not passed on"
            );
            None
        }
    }
}

impl Engine {
    /// The root file system's path, mounting the overlay when the container uses an image.
    /// Where the container's root file system is (mounted or not).
    pub(super) fn root_path(&self, record: &ContainerRecord) -> PathBuf {
        match &record.config.rootfs {
            Some(dir) => dir.clone(),
            None => self.overlay_dirs(record).merged,
        }
    }

    /// A container's overlay directories. One with a user namespace has its root mounted
    /// where its root user, an unprivileged user of the host, can reach it (the store is
    /// root's alone): `Roots::userns_dir`.
    pub(super) fn overlay_dirs(&self, record: &ContainerRecord) -> OverlayDirs {
        let mut dirs = OverlayDirs::new(&self.roots.overlay_dir(record.id()));
        if record.config.id_mappings.is_some() {
            dirs.merged = self.roots.userns_dir(record.id()).join("root");
        }
        dirs
    }

    pub(super) fn mount_rootfs(&self, record: &ContainerRecord) -> Result<PathBuf> {
        if record.config.rootfs.is_some() {
            return Ok(self.root_path(record));
        }
        let image = self
            .store
            .image(&record.config.image_id)?
            .ok_or_else(|| EngineError::NoSuchImage(record.config.image_id.clone()))?;
        let dirs = image::layer_dirs(&self.roots);
        let lower: Vec<PathBuf> = image.layers.iter().map(|l| dirs.dir(l)).collect();
        let overlay = self.overlay_dirs(record);
        let staging;
        let mapped = match &record.config.id_mappings {
            Some(mappings) => {
                self.roots.make_userns_dir(record.id(), mappings.root())?;
                staging = self.roots.userns_staging_dir(record.id()).join("layers");
                Some(rootfs::MappedLayers {
                    mappings,
                    staging: &staging,
                })
            }
            None => None,
        };
        rootfs::mount_overlay(&lower, &overlay, record.config.auto_remove, mapped)?;
        Ok(overlay.merged)
    }

    /// Remove the (unmounted) directories a container with a user namespace had its root
    /// and its mapped layers mounted in: their empty mount points one by one, never
    /// recursively, so that nothing still mounted there is reached into.
    pub(super) fn remove_userns_dir(&self, id: &str) -> Result<()> {
        let dir = self.roots.userns_dir(id);
        let staging = self.roots.userns_staging_dir(id);
        for path in [dir.join("root"), dir, staging.join("layers"), staging] {
            if let Err(e) = fs::remove_dir(&path) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    return Err(EngineError::io("removing", &path, e));
                }
            }
        }
        Ok(())
    }

    /// The OCI hook directories: `--hooks-dir`, else rpod.conf's, else podman's default.
    fn hooks_dirs(&self) -> Vec<PathBuf> {
        if !self.options.hooks_dirs.is_empty() {
            return self.options.hooks_dirs.clone();
        }
        match &self.options.config.engine.hooks_dir {
            Some(dirs) => dirs.clone(),
            None => crate::hooks::DEFAULT_DIRS
                .iter()
                .map(PathBuf::from)
                .collect(),
        }
    }

    /// Add the OCI hooks meant for the container to its spec and let its `precreate` hooks
    /// change it (`hooks.rs`); a hook file that cannot be read stops the start.
    pub(super) fn add_hooks(
        &self,
        spec: &mut oci_spec::runtime::Spec,
        record: &ContainerRecord,
    ) -> Result<()> {
        let definitions = crate::hooks::load(&self.hooks_dirs())?;
        if definitions.is_empty() {
            return Ok(());
        }
        let annotations: Vec<(String, String)> = spec
            .annotations()
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let command = spec
            .process()
            .as_ref()
            .and_then(|p| p.args().as_ref())
            .and_then(|args| args.first())
            .cloned();
        let subject = crate::hooks::Subject {
            annotations: annotations
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect(),
            command: command.as_deref(),
            // The user's bind mounts and volumes, as podman counts them.
            has_bind_mounts: record
                .config
                .mounts
                .iter()
                .any(|m| m.kind == crate::mounts::MountKind::Bind),
        };
        let filters = crate::hooks::inject(spec, &definitions, &subject);
        if !filters.is_empty() {
            *spec = crate::hooks::filter_spec(std::mem::take(spec), &filters)?;
        }
        Ok(())
    }

    pub(super) fn unmount_rootfs(&self, record: &ContainerRecord) -> Result<()> {
        self.unmap_idmap_mounts(record)?;
        self.unbind_subpath_mounts(record)?;
        self.unmount_image_mounts(record)?;
        self.unmount_overlay_mounts(record)?;
        if record.config.rootfs.is_some() {
            return Ok(());
        }
        rootfs::unmount(&self.root_path(record))
    }

    /// The configuration the spec is made from: each `idmap` mount's source mapped by the
    /// container's user namespace (an ID-mapped mount at `idmap_mount_dir`, made once per
    /// run) and given to the runtime in its place, which binds it on as it is.
    pub(super) fn map_idmap_mounts<'a>(
        &self,
        record: &'a ContainerRecord,
    ) -> Result<std::borrow::Cow<'a, crate::container::ContainerConfig>> {
        let Some(mappings) = &record.config.id_mappings else {
            return Ok(std::borrow::Cow::Borrowed(&record.config));
        };
        if !record.config.mounts.iter().any(|m| m.idmap) {
            return Ok(std::borrow::Cow::Borrowed(&record.config));
        }
        let namespace = crate::idmapped::MappedNamespace::new(mappings)?;
        let mut config = record.config.clone();
        for (index, mount) in config.mounts.iter_mut().enumerate() {
            if !mount.idmap {
                continue;
            }
            let mapped = self.roots.idmap_mount_dir(record.id(), index);
            if !rootfs::is_mounted(&mapped) {
                make_mount_point(&mapped, mount.source.is_dir())?;
                namespace.bind(&mount.source, &mapped)?;
            }
            mount.source = mapped;
        }
        Ok(std::borrow::Cow::Owned(config))
    }

    /// The configuration the spec is made from, its mounts as the runtime takes them: `idmap`
    /// sources mapped, image mounts mounted, `subpath`s bound (each once per run, undone by
    /// `unmount_rootfs`), volumes' own restrictions kept. For a start, a restore, and a
    /// copy into a container that is not running.
    pub(super) fn mounts_for_runtime<'a>(
        &self,
        record: &'a ContainerRecord,
    ) -> Result<std::borrow::Cow<'a, crate::container::ContainerConfig>> {
        let config = self.map_idmap_mounts(record)?;
        let config = self.mount_image_mounts(config, record.id())?;
        let config = self.mount_overlay_mounts(config, record.id())?;
        let config = self.bind_subpath_mounts(config, record.id())?;
        Ok(Self::keep_volume_restrictions(config))
    }

    /// `--sdnotify container`: the directory of the monitor's notify socket
    /// (`BUNDLE/notify`) mounted at `/run/notify` and named in the container's
    /// `NOTIFY_SOCKET`, as podman gives it.
    fn give_notify_socket<'a>(
        &self,
        config: std::borrow::Cow<'a, crate::container::ContainerConfig>,
        id: &str,
    ) -> Result<std::borrow::Cow<'a, crate::container::ContainerConfig>> {
        let dir = self.roots.bundle_dir(id).join("notify");
        fs::create_dir_all(&dir).map_err(|e| EngineError::io("creating directory", &dir, e))?;
        fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .map_err(|e| EngineError::io("setting the mode of", &dir, e))?;
        let mut config = config.into_owned();
        config.mounts.push(crate::mounts::bind(
            &dir.to_string_lossy(),
            CONTAINER_NOTIFY_DIR,
            &["rw"],
            None,
        )?);
        config.env.retain(|e| !e.starts_with("NOTIFY_SOCKET="));
        config
            .env
            .push(format!("NOTIFY_SOCKET={CONTAINER_NOTIFY_DIR}/notify.sock"));
        Ok(std::borrow::Cow::Owned(config))
    }

    /// A volume's own mount (a device or host directory mounted `ro`, `noexec`, ...) keeps
    /// its restrictions in the container. The runtime remounts a bind to give it the
    /// container mount's flags (a volume's `nosuid,nodev`), and a remount sets every flag
    /// anew: a read-only volume came out writable. Its `nosuid`, `nodev` and `noexec` give
    /// way to the opposite word given for the container's mount; read-only never does.
    pub(super) fn keep_volume_restrictions<'a>(
        config: std::borrow::Cow<'a, crate::container::ContainerConfig>,
    ) -> std::borrow::Cow<'a, crate::container::ContainerConfig> {
        use rustix::fs::StatVfsMountFlags as Flag;
        let missing = |mount: &crate::mounts::MountSpec| -> Vec<&'static str> {
            let Ok(stat) = rustix::fs::statvfs(&mount.source) else {
                return Vec::new();
            };
            let has = |word: &str| mount.options.iter().any(|o| o == word);
            [
                (Flag::RDONLY, "ro", None),
                (Flag::NOSUID, "nosuid", Some("suid")),
                (Flag::NODEV, "nodev", Some("dev")),
                (Flag::NOEXEC, "noexec", Some("exec")),
            ]
            .into_iter()
            .filter(|(flag, word, opposite)| {
                stat.f_flag.contains(*flag) && !has(word) && !opposite.is_some_and(has)
            })
            .map(|(_, word, _)| word)
            .collect()
        };
        let added: Vec<Vec<&'static str>> = config
            .mounts
            .iter()
            .map(|m| {
                if m.volume.is_some() {
                    missing(m)
                } else {
                    Vec::new()
                }
            })
            .collect();
        if added.iter().all(Vec::is_empty) {
            return config;
        }
        let mut config = config.into_owned();
        for (mount, words) in config.mounts.iter_mut().zip(added) {
            mount.options.extend(words.into_iter().map(String::from));
        }
        std::borrow::Cow::Owned(config)
    }

    /// Each `subpath` mount's path resolved inside its source (`RESOLVE_IN_ROOT`: a link in
    /// a volume, which containers write, never leads out of it; missing directories are
    /// made, never through a link), bound at `subpath_mount_dir` from the descriptor that
    /// resolved it (once per run), and given to the runtime in its place. What a container
    /// puts in the volume later cannot change what was bound.
    pub(super) fn bind_subpath_mounts<'a>(
        &self,
        config: std::borrow::Cow<'a, crate::container::ContainerConfig>,
        id: &str,
    ) -> Result<std::borrow::Cow<'a, crate::container::ContainerConfig>> {
        if !config.mounts.iter().any(|m| m.subpath.is_some()) {
            return Ok(config);
        }
        let mut config = config.into_owned();
        for (index, mount) in config.mounts.iter_mut().enumerate() {
            let Some(subpath) = mount.subpath.clone() else {
                continue;
            };
            let staged = self.roots.subpath_mount_dir(id, index);
            if !rootfs::is_mounted(&staged) {
                let resolved = resolve_subpath(&mount.source, &subpath)?;
                let is_dir = rustix::fs::fstat(&resolved)
                    .map(|st| rustix::fs::FileType::from_raw_mode(st.st_mode).is_dir())
                    .map_err(|e| {
                        EngineError::io("reading", mount.source.join(&subpath), e.into())
                    })?;
                make_mount_point(&staged, is_dir)?;
                // The descriptor's magic link binds exactly what was resolved.
                let fd_path = format!(
                    "/proc/self/fd/{}",
                    std::os::fd::AsRawFd::as_raw_fd(&resolved)
                );
                nix::mount::mount(
                    Some(fd_path.as_str()),
                    &staged,
                    None::<&str>,
                    nix::mount::MsFlags::MS_BIND | nix::mount::MsFlags::MS_REC,
                    None::<&str>,
                )
                .map_err(|e| {
                    EngineError::io("binding the subpath", mount.source.join(&subpath), e.into())
                })?;
            }
            mount.source = staged;
        }
        Ok(std::borrow::Cow::Owned(config))
    }

    /// Each image mount (`--mount type=image`) mounted at `image_mount_dir` (once per run):
    /// an overlay of the image's layers with an upper layer of its own, which starts empty
    /// at each run and goes when the container stops, and, for a container with a user
    /// namespace, the layers seen mapped as its root is. Given to the runtime as a bind of
    /// it, read-only unless the mount was asked writable; a `subpath` in it is then
    /// resolved inside it (`bind_subpath_mounts`), as a volume's is.
    pub(super) fn mount_image_mounts<'a>(
        &self,
        config: std::borrow::Cow<'a, crate::container::ContainerConfig>,
        id: &str,
    ) -> Result<std::borrow::Cow<'a, crate::container::ContainerConfig>> {
        use crate::mounts::MountKind;
        if !config.mounts.iter().any(|m| m.kind == MountKind::Image) {
            return Ok(config);
        }
        let mut config = config.into_owned();
        let mappings = config.id_mappings.clone();
        let layer_dirs = image::layer_dirs(&self.roots);
        for (index, mount) in config.mounts.iter_mut().enumerate() {
            if mount.kind != MountKind::Image {
                continue;
            }
            let image_id = mount.image_id.clone().unwrap_or_default();
            let dirs = self.image_mount_dirs(id, index);
            if !rootfs::is_mounted(&dirs.merged) {
                let image = self
                    .store
                    .image(&image_id)?
                    .ok_or_else(|| EngineError::NoSuchImage(mount.source.display().to_string()))?;
                let lower: Vec<PathBuf> = image.layers.iter().map(|l| layer_dirs.dir(l)).collect();
                // What the container wrote there on its last run (which a reboot ended
                // before its cleanup) is not seen again.
                remove_tree(&self.roots.image_mount_layers_dir(id, index))?;
                if let Some(parent) = dirs.merged.parent() {
                    crate::paths::create_private(parent)
                        .map_err(|e| EngineError::io("creating directory", parent, e))?;
                }
                let staging = self
                    .roots
                    .userns_staging_dir(id)
                    .join(format!("image-{index}"));
                let mapped = mappings.as_ref().map(|mappings| rootfs::MappedLayers {
                    mappings,
                    staging: &staging,
                });
                rootfs::mount_overlay(&lower, &dirs, true, mapped)?;
            }
            let words: &[&str] = if mount.read_only() { &["ro"] } else { &[] };
            let subpath = mount.subpath.take();
            *mount = crate::mounts::MountSpec {
                subpath,
                ..crate::mounts::bind(
                    &dirs.merged.to_string_lossy(),
                    &mount.destination,
                    words,
                    None,
                )?
            };
        }
        Ok(std::borrow::Cow::Owned(config))
    }

    /// Each overlay mount (`-v SRC:DST:O`) mounted at `overlay_mount_dir` (once per run):
    /// its source the lower layer, the upper layer the user's (`upperdir=`, `workdir=`,
    /// kept) or rpod's own, which starts empty at each run and goes when the container
    /// stops. Given to the runtime as a bind of it, with the mount's flags.
    fn mount_overlay_mounts<'a>(
        &self,
        config: std::borrow::Cow<'a, crate::container::ContainerConfig>,
        id: &str,
    ) -> Result<std::borrow::Cow<'a, crate::container::ContainerConfig>> {
        if !config.mounts.iter().any(|m| m.overlay.is_some()) {
            return Ok(config);
        }
        let mut config = config.into_owned();
        for (index, mount) in config.mounts.iter_mut().enumerate() {
            let Some(layers) = mount.overlay.take() else {
                continue;
            };
            let merged = self.roots.overlay_mount_dir(id, index);
            let own = self.roots.overlay_mount_layers_dir(id, index);
            let dirs = match (layers.upper, layers.work) {
                (Some(upper), Some(work)) => OverlayDirs {
                    upper,
                    work,
                    merged,
                },
                _ => OverlayDirs {
                    merged,
                    ..OverlayDirs::new(&own)
                },
            };
            if !rootfs::is_mounted(&dirs.merged) {
                // A bind's source was checked at create; a volume's is under the volume path.
                if !crate::mounts::overlay_can_take(&mount.source) {
                    return Err(EngineError::InvalidArg(format!(
                        "the overlay mount (O) of {}: overlayfs cannot take a path with , or :",
                        mount.source.display()
                    )));
                }
                // What the container wrote there on its last run (which a reboot ended
                // before its cleanup) is not seen again.
                remove_tree(&own)?;
                if let Some(parent) = dirs.merged.parent() {
                    crate::paths::create_private(parent)
                        .map_err(|e| EngineError::io("creating directory", parent, e))?;
                }
                // rpod's own upper layer is thrown away: nothing of it need be synced.
                let volatile = dirs.upper.starts_with(&own);
                rootfs::mount_overlay(std::slice::from_ref(&mount.source), &dirs, volatile, None)
                    .map_err(|e| {
                    EngineError::InvalidArg(format!(
                        "the overlay mount (O) of {} on {}: {e}",
                        mount.source.display(),
                        mount.destination
                    ))
                })?;
            }
            mount.source = dirs.merged;
        }
        Ok(std::borrow::Cow::Owned(config))
    }

    /// Unmount the overlay mounts and remove rpod's upper layers of them, what the
    /// container wrote there with them (a user's `upperdir=` stays).
    fn unmount_overlay_mounts(&self, record: &ContainerRecord) -> Result<()> {
        for (index, mount) in record.config.mounts.iter().enumerate() {
            if mount.overlay.is_none() {
                continue;
            }
            detach_mount_point(&self.roots.overlay_mount_dir(record.id(), index))?;
            remove_tree(&self.roots.overlay_mount_layers_dir(record.id(), index))?;
        }
        Ok(())
    }

    /// An image mount's overlay directories (`mount_image_mounts`).
    fn image_mount_dirs(&self, id: &str, index: usize) -> OverlayDirs {
        let mut dirs = OverlayDirs::new(&self.roots.image_mount_layers_dir(id, index));
        dirs.merged = self.roots.image_mount_dir(id, index);
        dirs
    }

    /// Unmount the image mounts' overlays and remove their directories, what the container
    /// wrote on them with them.
    fn unmount_image_mounts(&self, record: &ContainerRecord) -> Result<()> {
        for (index, mount) in record.config.mounts.iter().enumerate() {
            if mount.kind != crate::mounts::MountKind::Image {
                continue;
            }
            detach_mount_point(&self.roots.image_mount_dir(record.id(), index))?;
            remove_tree(&self.roots.image_mount_layers_dir(record.id(), index))?;
        }
        Ok(())
    }

    /// Detach the `subpath` mounts' bound sources and remove their mount points.
    fn unbind_subpath_mounts(&self, record: &ContainerRecord) -> Result<()> {
        for (index, mount) in record.config.mounts.iter().enumerate() {
            if mount.subpath.is_none() {
                continue;
            }
            detach_mount_point(&self.roots.subpath_mount_dir(record.id(), index))?;
        }
        Ok(())
    }

    /// Detach the `idmap` mounts' mapped sources (the container's mounts of them are the
    /// container's) and remove their mount points.
    fn unmap_idmap_mounts(&self, record: &ContainerRecord) -> Result<()> {
        for (index, mount) in record.config.mounts.iter().enumerate() {
            if !mount.idmap {
                continue;
            }
            detach_mount_point(&self.roots.idmap_mount_dir(record.id(), index))?;
        }
        Ok(())
    }

    /// Create the container in the runtime (state Created). Called under the lock.
    pub(super) fn init(
        &self,
        record: &mut ContainerRecord,
        console_size: Option<TerminalSize>,
    ) -> Result<()> {
        self.create_in_runtime(record, console_size, None).map(drop)
    }

    /// `rpod init`: create a container in the runtime without starting its process (podman's
    /// "initialized" state), so that a later start is only the runtime's start.
    pub fn init_container(&self, name_or_id: &str) -> Result<ContainerRecord> {
        let found = self.lookup(name_or_id)?;
        // Its namespaces may be those of containers it requires (a pod's infra container).
        if !found.state.status.is_active() {
            self.start_requirements(&found)?;
        }
        let _lock = self.lock(found.id())?;
        let mut record = self.reload(found.id(), name_or_id)?;
        self.sync(&mut record)?;
        match record.state.status {
            Status::Stopped => self.cleanup_runtime(&mut record)?,
            Status::Configured | Status::Exited => {}
            _ => {
                return Err(EngineError::state(
                    record.id(),
                    format!(
                        "container {} has already been created in runtime",
                        record.id()
                    ),
                ))
            }
        }
        self.init(&mut record, None)?;
        Ok(record)
    }

    /// Create the container in the runtime (state Created). With `start` (whether an attach
    /// follows), the runtime also starts the process in the same call when it can and
    /// nothing has to happen in between (no network still being connected): then this
    /// returns true, the record is not saved yet and the caller records the start.
    fn create_in_runtime(
        &self,
        record: &mut ContainerRecord,
        console_size: Option<TerminalSize>,
        start: Option<bool>,
    ) -> Result<bool> {
        if !record.config.no_cgroups {
            // The runtime moves the process into its cgroups: the kernel's wait for that
            // runs beside what follows.
            rpod_oci::cgroup_prime::prime_cgroup_moves();
        }
        self.remove_leftovers(record)?;
        self.ensure_pod_cgroup_of(record)?;
        let root_path = self.mount_rootfs(record)?;
        record.state.mounted = true;
        // netavark connects the namespace while the runtime creates the container; it is
        // waited for before anything else happens to the container.
        let mut pending = None;
        let result = (|| {
            let user = spec::resolve_user(&root_path, &record.config.user)?;
            // What rpod makes for the user is the host's IDs the container sees as its.
            let mappings = record.config.id_mappings.clone();
            let owner = match &mappings {
                Some(m) => m.to_host(user.uid, user.gid)?,
                None => (user.uid, user.gid),
            };
            let root_owner = mappings.as_ref().map_or((0, 0), |m| m.root());
            spec::prepare_workdir(&root_path, record, owner, root_owner)?;
            if !record.config.build_step {
                super::etc_files::link_mtab(&root_path, root_owner)?;
            }
            self.mount_volume_devices(record)?;
            self.prepare_volumes(record, &root_path, owner)?;
            self.chown_mounts(record, owner.0, owner.1)?;
            let size = console_size.or(record.config.console_size);
            let (mut prepared, setup) = self.network_up(record)?;
            pending = setup;
            self.join_namespaces(record, &root_path, &mut prepared)?;
            let accounts = self.account_files(record, &root_path)?;
            prepared.files.extend(accounts);
            if let Some(m) = &mappings {
                // Its own files only: another container's (`--network container:`) stay
                // that one's.
                let own = [
                    self.roots.run_dir(record.id()),
                    self.roots.container_dir(record.id()),
                ];
                let files: Vec<&PathBuf> = prepared
                    .files
                    .iter()
                    .map(|(file, _)| file)
                    .filter(|file| own.iter().any(|dir| file.starts_with(dir)))
                    .collect();
                give_files_to(&files, m.root())?;
            }
            let config = self.mounts_for_runtime(record)?;
            let config = self.with_link_env(config, record);
            let notify_socket = sdnotify_host_socket(record);
            let config = match &notify_socket {
                Some(_) => self.give_notify_socket(config, record.id())?,
                None => config,
            };
            let mut spec = spec::generate(&config, &root_path, &user, size, &prepared)?;
            self.add_hooks(&mut spec, record)?;
            let bundle = self.roots.bundle_dir(record.id());
            fs::create_dir_all(&bundle)
                .map_err(|e| EngineError::io("creating directory", &bundle, e))?;
            let runtime = self.runtime(&record.config.runtime)?;
            runtime.prepare_spec(record.id(), &mut spec);
            let spec_path = bundle.join("config.json");
            let json = serde_json::to_vec_pretty(&spec)
                .map_err(|e| EngineError::InvalidArg(format!("serializing the spec: {e}")))?;
            fs::write(&spec_path, json).map_err(|e| EngineError::io("writing", &spec_path, e))?;
            let mut oci = self.monitored_container(record);
            oci.monitor.sdnotify_socket = notify_socket;
            oci.pass_fds =
                std::mem::take(&mut *self.create_fds.lock().unwrap_or_else(|p| p.into_inner()));
            if !record.config.no_cgroups {
                // Again, in case the preparations outlasted the lock's fast mode (a long
                // volume copy): one still waiting is not doubled.
                rpod_oci::cgroup_prime::prime_cgroup_moves();
            }
            let start_now =
                start.filter(|_| pending.is_none() && runtime.supports_start_at_create());
            let outcome = match start_now {
                Some(attach_follows) => runtime.create_started_container(&oci, attach_follows),
                None => runtime.create_container(&oci, None),
            };
            let networked = match (&outcome, pending.take()) {
                (Ok(created), Some(setup)) => self
                    .resume_setup(record, setup, created.pid)
                    .and_then(PendingSetup::wait)
                    .map(Some),
                (_, setup) => setup.map(PendingSetup::wait).transpose(),
            };
            match (outcome, networked) {
                (Ok(outcome), Ok(attachments)) => {
                    if let Some(attachments) = attachments {
                        record.state.networks = attachments;
                    }
                    Ok((outcome, start_now.is_some()))
                }
                (Ok(_), Err(e)) => {
                    let _ = runtime.delete_container(&self.oci_container(record));
                    Err(e)
                }
                (Err(e), _) => Err(blame_few_open_files(e, &record.config).into()),
            }
        })();
        if let Some(setup) = pending.take() {
            // A failure before the runtime's create: let netavark finish before undoing it.
            let _ = setup.wait();
        }
        match result {
            Ok((outcome, started)) => {
                transition(record, Status::Created)?;
                record.state.pid = outcome.pid;
                record.state.conmon_pid = outcome.conmon_pid;
                record.state.exit_code = None;
                record.state.oom_killed = false;
                record.state.finished_at = None;
                record.state.error.clear();
                record.state.stopped_by_user = false;
                if !started {
                    self.save(record)?;
                }
                self.container_event(record, "init", &[]);
                Ok(started)
            }
            Err(e) => {
                self.network_down(record);
                let _ = self.unmount_shm(record.id());
                let _ = self.unmount_rootfs(record);
                record.state.mounted = false;
                let _ = self.save(record);
                Err(e)
            }
        }
    }

    /// Start a container, creating it in the runtime first when needed. `before_start` runs
    /// once the monitor is up and before the process starts (e.g. to connect to the attach
    /// socket, so that no output is lost); when the runtime started the process at create
    /// (`OciRuntime::create_started_container`), it runs right after, and the monitor reads
    /// none of the output until a client connected. A container that started runs even when
    /// the hook then fails.
    /// `console_size` is the terminal's size for `-t` containers, set before the process
    /// starts.
    pub fn start(
        &self,
        name_or_id: &str,
        console_size: Option<TerminalSize>,
        before_start: Option<&mut BeforeStart<'_>>,
    ) -> Result<ContainerRecord> {
        let found = self.lookup(name_or_id)?;
        self.start_requirements(&found)?;
        let _lock = self.lock(found.id())?;
        let mut record = self.reload(found.id(), name_or_id)?;
        self.sync(&mut record)?;
        // A start by the user begins a new count for `on-failure:N`.
        record.state.restart_retries = 0;
        self.start_locked(record, console_size, before_start)
    }

    /// `--requires`: start the containers `record` requires that do not run (their own
    /// requirements first: `start` starts those), as podman's start does, each under its
    /// own lock, before `record`'s is taken. Requirements name containers that existed
    /// before, so they cannot loop.
    pub(super) fn start_requirements(&self, record: &ContainerRecord) -> Result<()> {
        for id in &record.config.requires {
            let required = self.inspect(id).map_err(|e| match e {
                EngineError::NoSuchContainer(_) => EngineError::state(
                    record.id(),
                    format!(
                        "container {} requires container {id}, which no longer exists",
                        record.config.name
                    ),
                ),
                other => other,
            })?;
            if !required.state.status.is_running_or_paused() {
                match self.start(required.id(), None, None) {
                    Ok(_) | Err(EngineError::NotModified(_)) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }

    /// Start a container whose lock is held and whose state is synced.
    pub(super) fn start_locked(
        &self,
        mut record: ContainerRecord,
        console_size: Option<TerminalSize>,
        before_start: Option<&mut BeforeStart<'_>>,
    ) -> Result<ContainerRecord> {
        match record.state.status {
            Status::Running => {
                return Err(EngineError::NotModified(format!(
                    "container {} is already running",
                    record.id()
                )))
            }
            Status::Stopped => self.cleanup_runtime(&mut record)?,
            Status::Configured | Status::Exited | Status::Created => {}
            other => {
                return Err(EngineError::state(
                    record.id(),
                    format!(
                        "container {} is {}, it cannot be started",
                        record.id(),
                        other.as_str()
                    ),
                ))
            }
        }
        let was_created = record.state.status == Status::Created;
        if !was_created {
            // Nothing happens between the create and the start but the hook, which the
            // monitor waits for (it holds the output until the attach): one runtime call.
            let attach_follows = before_start.is_some();
            if self.create_in_runtime(&mut record, console_size, Some(attach_follows))? {
                self.record_start(&mut record)?;
                if let Some(hook) = before_start {
                    hook(&record)?;
                }
                return Ok(record);
            }
        } else if let (true, Some(size)) = (record.config.terminal, console_size) {
            // Created earlier with another size: resize before the process starts.
            let runtime = self.runtime(&record.config.runtime)?;
            runtime.attach_resize(&self.oci_container(&record), size)?;
        }
        if let Some(hook) = before_start {
            hook(&record)?;
        }
        let runtime = self.runtime(&record.config.runtime)?;
        if let Err(e) = runtime.start_container(&self.oci_container(&record)) {
            // A start that was killed after the runtime started the process, before it
            // could record that: the container runs, and this start has nothing to do.
            if was_created
                && pid_alive(record.state.pid)
                && rpod_oci::process::in_container_cgroup(record.state.pid, record.id())
            {
                tracing::info!(
                    id = record.id(),
                    "the container was started by an interrupted command"
                );
                transition(&mut record, Status::Running)?;
                record.state.started_at = Some(Utc::now());
                self.save(&record)?;
                return Ok(record);
            }
            // Leave nothing half-started behind: the next start creates it afresh.
            let _ = runtime.delete_container(&self.oci_container(&record));
            self.network_down(&mut record);
            let _ = self.unmount_rootfs(&record);
            transition(&mut record, Status::Configured)?;
            record.state.mounted = false;
            record.state.pid = 0;
            record.state.conmon_pid = 0;
            self.save(&record)?;
            return Err(e.into());
        }
        self.record_start(&mut record)?;
        Ok(record)
    }

    /// The runtime started the container's process: record it.
    fn record_start(&self, record: &mut ContainerRecord) -> Result<()> {
        transition(record, Status::Running)?;
        record.state.started_at = Some(Utc::now());
        // Each start begins a new verdict.
        record.state.health = record
            .config
            .healthcheck
            .as_ref()
            .map(|_| crate::health::HealthState::starting());
        self.save(record)?;
        self.container_event(record, "start", &[]);
        self.refresh_linking_hosts(record);
        // The container runs whatever systemd makes of it: a failure is only said. With
        // `container`, the container says when it is ready, through its monitor.
        let told = if record.config.sdnotify_conmon {
            crate::sd_notify::notify_ready(record.state.conmon_pid)
        } else if record.config.sdnotify_container {
            crate::sd_notify::notify_main_pid(record.state.conmon_pid)
        } else {
            Ok(())
        };
        if let Err(e) = told {
            tracing::warn!(id = record.id(), %e, "telling systemd about the container");
        }
        self.write_pid_files(record)
    }

    /// `--pidfile` and `--conmon-pidfile`: the PIDs of this start, as podman writes them.
    fn write_pid_files(&self, record: &ContainerRecord) -> Result<()> {
        let c = &record.config;
        for (path, pid) in [
            (&c.pidfile, record.state.pid),
            (&c.conmon_pidfile, record.state.conmon_pid),
        ] {
            if let Some(path) = path {
                fs::write(path, pid.to_string())
                    .map_err(|e| EngineError::io("writing the PID file", path, e))?;
            }
        }
        Ok(())
    }
}

/// A runtime given too few open files for the container's process fails while setting it
/// up, with a message about a file it could not open or a cgroup it could not join: the
/// note names the limit that is likely to blame.
fn blame_few_open_files(
    error: rpod_oci::OciError,
    config: &crate::container::ContainerConfig,
) -> rpod_oci::OciError {
    let nofile = crate::isolation::open_file_limit(&config.isolation.ulimits)
        .filter(|u| u.soft < crate::isolation::FEW_OPEN_FILES);
    match nofile {
        Some(limit) => error.with_note(&format!(
            "--ulimit nofile={}:{} may be too few open files for the runtime to set the container up",
            limit.soft, limit.hard
        )),
        None => error,
    }
}

/// The files rpod generated for a container with a user namespace (hosts, resolv.conf,
/// ...) belong to its root, as the image's own would: the host's IDs it maps to.
fn give_files_to(files: &[&PathBuf], owner: (u32, u32)) -> Result<()> {
    for file in files {
        std::os::unix::fs::lchown(file, Some(owner.0), Some(owner.1))
            .map_err(|e| EngineError::io("setting the owner of", file, e))?;
    }
    Ok(())
}

/// `subpath` inside `source`, opened as a path (`O_PATH`) with every link resolved inside
/// `source`; missing directories are made first (never through a link).
fn resolve_subpath(source: &Path, subpath: &Path) -> Result<std::os::fd::OwnedFd> {
    use rustix::fs::{Mode, OFlags, ResolveFlags};
    let confined = |e: crate::confined::ConfinedError| {
        EngineError::InvalidArg(format!("subpath {}: {e}", subpath.display()))
    };
    let top = crate::confined::ConfinedDir::open(source).map_err(confined)?;
    let open = || {
        crate::confined::openat2(
            top.top(),
            subpath,
            OFlags::PATH | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
        )
    };
    match open() {
        Ok(fd) => Ok(fd),
        Err(rustix::io::Errno::NOENT) => {
            // As Kubernetes does: a subPath that is not there is made, as a directory.
            top.dir(subpath, true).map_err(confined)?;
            open().map_err(|e| EngineError::io("opening", source.join(subpath), e.into()))
        }
        Err(e) => Err(EngineError::io("opening", source.join(subpath), e.into())),
    }
}

/// A mount point rpod binds a source on for the runtime (in a private directory of its
/// own): a file's is a file, a directory's a directory.
fn make_mount_point(path: &Path, is_dir: bool) -> Result<()> {
    crate::paths::create_private(path.parent().unwrap_or(path))
        .map_err(|e| EngineError::io("creating directory", path, e))?;
    let made = if is_dir {
        fs::create_dir(path)
    } else {
        fs::File::create(path).map(drop)
    };
    match made {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(EngineError::io("creating", path, e)),
    }
}

/// Remove a directory and everything in it; a missing one is fine.
fn remove_tree(dir: &Path) -> Result<()> {
    match fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(EngineError::io("removing", dir, e))
        }
        _ => Ok(()),
    }
}

/// Detach what `make_mount_point` had bound, and remove it (and its directory, when that
/// is empty now).
fn detach_mount_point(path: &Path) -> Result<()> {
    if rootfs::is_mounted(path) {
        nix::mount::umount2(path, nix::mount::MntFlags::MNT_DETACH)
            .map_err(|e| EngineError::io("unmounting", path, e.into()))?;
    }
    let _ = fs::remove_dir(path).or_else(|_| fs::remove_file(path));
    if let Some(parent) = path.parent() {
        let _ = fs::remove_dir(parent);
    }
    Ok(())
}
