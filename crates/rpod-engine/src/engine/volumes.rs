//! Named volumes: create, list, inspect, remove, prune, and giving a container's volume
//! mounts their directories.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use chrono::Utc;

use super::{Engine, Pruned, RemoveOptions};
use crate::container::ContainerRecord;
use crate::events::EventType;
use crate::lock::ContainerLock;
use crate::names::{random_id, valid_name};
use crate::tree_copy;
use crate::volume_options::LocalOptions;
use crate::volume_plugin::VolumePlugin;
use crate::volumes::{VolumeRecord, VolumeReload, LOCAL_DRIVER};
use crate::{EngineError, Result};

/// Who asks a plugin to mount a volume: rpod mounts each once for all its containers
/// (Docker names each container; a plugin counts mounts by these IDs).
const PLUGIN_MOUNT_ID: &str = "rpod";

impl Engine {
    /// Where a volume's data lives.
    pub fn volume_path(&self, name: &str) -> PathBuf {
        self.roots().volumes().join(name).join("_data")
    }

    /// Bytes in a volume's files (walked by descriptor: containers write there).
    pub fn volume_size(&self, name: &str) -> Result<u64> {
        let path = self.volume_path(name);
        crate::upper_diff::disk_usage(&path).map_err(|e| EngineError::io("measuring", &path, e))
    }

    /// Create a volume (a random name when `name` is `None`), with the local driver's
    /// options (`type`, `device`, `o`; see `volume_options`).
    pub fn volume_create(
        &self,
        name: Option<String>,
        labels: BTreeMap<String, String>,
        options: BTreeMap<String, String>,
    ) -> Result<VolumeRecord> {
        self.make_volume(name, None, labels, options, false)
    }

    /// `volume_create` with a driver: `local`, or a volume plugin rpod.conf names, which
    /// makes the volume (`VolumeDriver.Create`, with `options` as they are) before it is
    /// recorded for good.
    pub fn volume_create_with_driver(
        &self,
        name: Option<String>,
        driver: &str,
        labels: BTreeMap<String, String>,
        options: BTreeMap<String, String>,
    ) -> Result<VolumeRecord> {
        let plugin = self.volume_plugin(driver)?;
        if let Some(plugin) = &plugin {
            plugin.activate()?;
        }
        self.make_volume(name, plugin.as_ref(), labels, options, false)
    }

    /// The plugin of a volume driver (none for `local`, rpod's own).
    fn volume_plugin(&self, driver: &str) -> Result<Option<VolumePlugin>> {
        if crate::volumes::is_local_driver(driver) {
            return Ok(None);
        }
        match self.options.config.engine.volume_plugins.get(driver) {
            Some(socket) => Ok(Some(VolumePlugin::new(driver, socket))),
            None => Err(EngineError::InvalidArg(format!(
                "no volume plugin named {driver:?}: rpod.conf's [engine.volume_plugins] \
                 names the plugins rpod may use"
            ))),
        }
    }

    fn make_volume(
        &self,
        name: Option<String>,
        plugin: Option<&VolumePlugin>,
        labels: BTreeMap<String, String>,
        options: BTreeMap<String, String>,
        anonymous: bool,
    ) -> Result<VolumeRecord> {
        // A plugin's options are its own.
        let local = match plugin {
            None => LocalOptions::parse(&options)?,
            Some(_) => LocalOptions::default(),
        };
        let name = name.unwrap_or_else(random_id);
        if !valid_name(&name) {
            return Err(EngineError::InvalidArg(format!(
                "invalid volume name {name:?}: must match [a-zA-Z0-9][a-zA-Z0-9_.-]*"
            )));
        }
        let record = VolumeRecord {
            name: name.clone(),
            driver: plugin.map_or_else(|| LOCAL_DRIVER.into(), |p| p.name.clone()),
            labels,
            options,
            created: Utc::now(),
            anonymous,
            needs_copy_up: true,
            // A host directory bound as a volume keeps its owner: podman gives it to the
            // first container's user, a surprise on a directory the host uses. A plugin's
            // storage is the plugin's to own.
            needs_chown: plugin.is_none() && !local.sets_owner() && !local.binds(),
            uid: local.uid.unwrap_or(0),
            gid: local.gid.unwrap_or(0),
        };
        self.store_new_volume(&record, local.owner())?;
        if let Some(plugin) = plugin {
            if let Err(e) = plugin.create(&name, &record.options) {
                let _ = self.store.remove_volume(&name);
                let _ = fs::remove_dir_all(self.roots().volumes().join(&name));
                return Err(e);
            }
        }
        let driver = [("driver", record.driver.clone())];
        self.object_event(EventType::Volume, &name, &name, "create", &driver);
        Ok(record)
    }

    /// Record a new volume and make its directory (given `owner`); nothing is left when
    /// either fails.
    fn store_new_volume(
        &self,
        record: &VolumeRecord,
        owner: Option<(Option<u32>, Option<u32>)>,
    ) -> Result<()> {
        let data = self.volume_path(&record.name);
        let top = self.roots().volumes();
        crate::paths::create_private(&top).map_err(|e| EngineError::io("creating", &top, e))?;
        if top == crate::paths::default_volumes(&self.roots().root) {
            // An older rpod made it open; a directory given with --volumepath keeps the
            // mode its owner chose (each volume's own directory is private below).
            fs::set_permissions(&top, fs::Permissions::from_mode(0o700))
                .map_err(|e| EngineError::io("setting the mode of", &top, e))?;
        }
        if !self.store.insert_volume(record)? {
            return Err(EngineError::VolumeExists(record.name.clone()));
        }
        let volume_dir = top.join(&record.name);
        if let Err(e) = crate::paths::create_private(&volume_dir)
            .and_then(|()| fs::create_dir_all(&data))
            .and_then(|()| fs::set_permissions(&data, fs::Permissions::from_mode(0o755)))
            .and_then(|()| match owner {
                Some((uid, gid)) => std::os::unix::fs::chown(&data, uid, gid),
                None => Ok(()),
            })
        {
            let _ = self.store.remove_volume(&record.name);
            return Err(EngineError::io("creating", &data, e));
        }
        Ok(())
    }

    pub fn volume(&self, name: &str) -> Result<VolumeRecord> {
        self.store
            .volume(name)?
            .ok_or_else(|| EngineError::NoSuchVolume(name.to_string()))
    }

    pub fn volumes(&self) -> Result<Vec<VolumeRecord>> {
        self.store.volumes()
    }

    /// The containers that name a volume.
    pub fn volume_users(&self, name: &str) -> Result<Vec<ContainerRecord>> {
        Ok(self
            .store
            .containers()?
            .into_iter()
            .filter(|c| {
                c.config
                    .mounts
                    .iter()
                    .any(|m| m.volume.as_deref() == Some(name))
            })
            .collect())
    }

    /// A volume as `volume inspect` and the listings show it.
    pub fn volume_view(&self, volume: &VolumeRecord) -> Result<crate::views::VolumeView> {
        let mut views = self.volume_views(std::slice::from_ref(volume))?;
        views
            .pop()
            .ok_or_else(|| EngineError::NoSuchVolume(volume.name.clone()))
    }

    /// Volumes as `volume inspect` and the listings show them. The mount table and the
    /// containers (for the mount count of a device volume) are read once for them all,
    /// and only when a volume has a device.
    pub fn volume_views(&self, volumes: &[VolumeRecord]) -> Result<Vec<crate::views::VolumeView>> {
        let mut mount_points: Option<std::collections::HashSet<PathBuf>> = None;
        let mut containers: Option<Vec<ContainerRecord>> = None;
        let mut views = Vec::with_capacity(volumes.len());
        for volume in volumes {
            let mountpoint = self.volume_path(&volume.name);
            let mounts = volume.uses_plugin()
                || LocalOptions::parse(&volume.options).is_ok_and(|local| local.mounts());
            let mounted = mounts && {
                let points = mount_points.get_or_insert_with(|| {
                    crate::mountinfo::mount_points()
                        .unwrap_or_default()
                        .into_iter()
                        .collect()
                });
                let canonical = std::fs::canonicalize(&mountpoint).unwrap_or(mountpoint.clone());
                points.contains(&canonical)
            };
            let mount_count = if mounted {
                if containers.is_none() {
                    containers = Some(self.store.containers()?);
                }
                let running = containers
                    .iter()
                    .flatten()
                    .filter(|c| c.state.status.is_active())
                    .filter(|c| {
                        c.config
                            .mounts
                            .iter()
                            .any(|m| m.volume.as_deref() == Some(volume.name.as_str()))
                    })
                    .count();
                u32::try_from(running).unwrap_or(u32::MAX).max(1)
            } else {
                0
            };
            views.push(self.volume_view_with(volume, mountpoint, mount_count));
        }
        Ok(views)
    }

    fn volume_view_with(
        &self,
        volume: &VolumeRecord,
        mountpoint: PathBuf,
        mount_count: u32,
    ) -> crate::views::VolumeView {
        crate::views::VolumeView {
            name: volume.name.clone(),
            driver: volume.driver.clone(),
            mountpoint: mountpoint.display().to_string(),
            created_at: volume.created,
            labels: volume.labels.clone(),
            scope: "local",
            options: volume.options.clone(),
            uid: volume.uid,
            gid: volume.gid,
            anonymous: volume.anonymous,
            mount_count,
            needs_copy_up: volume.needs_copy_up,
            needs_chown: volume.needs_chown,
        }
    }

    /// Whether a container uses the volume (an unreadable store counts as used: nothing is
    /// taken for unused on a guess).
    pub fn volume_in_use(&self, name: &str) -> bool {
        self.volume_users(name)
            .map_or(true, |users| !users.is_empty())
    }

    /// Remove a volume and its data; refused while containers use it unless `force`,
    /// which removes them first.
    pub fn volume_remove(&self, name: &str, force: bool) -> Result<()> {
        self.volume_remove_with_timeout(name, force, Some(0))
    }

    /// `volume_remove`, the containers using it stopped with `timeout` (their own stop
    /// timeout when `None`) before they are removed.
    pub fn volume_remove_with_timeout(
        &self,
        name: &str,
        force: bool,
        timeout: Option<u32>,
    ) -> Result<()> {
        self.volume(name)?;
        let users = self.volume_users(name)?;
        if !users.is_empty() {
            if !force {
                return Err(in_use(name, &users));
            }
            for user in &users {
                let removal = RemoveOptions {
                    force: true,
                    timeout,
                    volumes: false,
                };
                match self.remove(user.id(), removal) {
                    Ok(_) | Err(EngineError::NoSuchContainer(_)) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        let _lock = self.volumes_lock(false)?;
        // A container made meanwhile uses it now.
        let users = self.volume_users(name)?;
        if !users.is_empty() {
            return Err(in_use(name, &users));
        }
        self.volume(name)?;
        self.delete_volume(name)
    }

    /// Remove every volume no container uses; their names and sizes.
    pub fn volume_prune(&self) -> Result<Vec<Pruned>> {
        self.volume_prune_where(&|_| true)
    }

    /// Remove the volumes no container uses that `pick` picks; their names and sizes.
    pub fn volume_prune_where(&self, pick: &dyn Fn(&VolumeRecord) -> bool) -> Result<Vec<Pruned>> {
        let mut removed = Vec::new();
        for volume in self.volumes()? {
            if pick(&volume) && self.volume_users(&volume.name)?.is_empty() {
                // A volume whose contents cannot be read is still pruned; it counts for
                // nothing.
                let size = self.volume_size(&volume.name).unwrap_or(0);
                match self.volume_remove(&volume.name, false) {
                    Ok(()) => removed.push(Pruned {
                        id: volume.name,
                        size,
                    }),
                    // Taken by a container made meanwhile, or removed by another.
                    Err(EngineError::VolumeInUse { .. }) | Err(EngineError::NoSuchVolume(_)) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(removed)
    }

    /// Give a container's volumes their directories: missing named volumes are created,
    /// anonymous ones made (with a random name, as podman names them). The image's `VOLUME`
    /// paths that no mount covers get an anonymous volume or a tmpfs, or nothing, as asked.
    pub(crate) fn attach_volumes(
        &self,
        mounts: &mut Vec<crate::mounts::MountSpec>,
        image_volumes: &[String],
        mode: super::ImageVolumes,
    ) -> Result<()> {
        use crate::mounts::{anonymous_volume, tmpfs};
        for path in image_volumes {
            let covered = mounts
                .iter()
                .any(|m| std::path::Path::new(&m.destination) == std::path::Path::new(path));
            let mount = match mode {
                super::ImageVolumes::Ignore => continue,
                // With the image's files in it, as podman's (its tmpfs default).
                super::ImageVolumes::Tmpfs => tmpfs(path, &[])?,
                super::ImageVolumes::Anonymous => anonymous_volume(path, &[])?,
            };
            if !covered {
                mounts.push(mount);
            }
        }
        let mut made = Vec::new();
        for mount in mounts.iter_mut() {
            let Some(name) = mount.volume.clone() else {
                continue;
            };
            // A volume made here gets the mount's options and labels; one that exists keeps
            // its own (as podman's and Docker's).
            let labels = std::mem::take(&mut mount.volume_labels);
            let options = std::mem::take(&mut mount.volume_options);
            let result = if mount.anonymous {
                self.make_volume(None, None, labels, options, true)
                    .map(|v| Some(v.name))
            } else {
                match self.volume_create(Some(name.clone()), labels, options) {
                    Ok(_) | Err(EngineError::VolumeExists(_)) => Ok(Some(name)),
                    Err(e) => Err(e),
                }
            };
            match result {
                Ok(Some(name)) => {
                    if mount.anonymous {
                        made.push(name.clone());
                    }
                    mount.source = self.volume_path(&name);
                    mount.volume = Some(name);
                }
                Ok(None) => {}
                Err(e) => {
                    for name in &made {
                        let _ = self.delete_volume(name);
                    }
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Remove a volume's record and data, whoever uses it. A device mounted on it is
    /// unmounted first: what the device holds is never deleted.
    fn delete_volume(&self, name: &str) -> Result<()> {
        match self.store.volume(name)? {
            Some(volume) if volume.uses_plugin() => {
                let plugin = self.plugin_of(&volume)?;
                self.unmount_volume(&volume)?;
                plugin.remove(name)?;
            }
            _ => crate::volume_options::unmount_all(&self.volume_path(name))?,
        }
        self.forget_volume(name)
    }

    /// The record and directory of a volume with nothing mounted on it go.
    fn forget_volume(&self, name: &str) -> Result<()> {
        self.store.remove_volume(name)?;
        self.object_event(EventType::Volume, name, name, "remove", &[]);
        let dir = self.roots().volumes().join(name);
        match fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(EngineError::io("removing", &dir, e)),
        }
    }

    /// Remove a removed container's anonymous volumes, except any another container uses.
    pub(super) fn remove_anonymous_volumes(&self, record: &ContainerRecord) {
        for mount in record.config.mounts.iter().filter(|m| m.anonymous) {
            let Some(name) = &mount.volume else { continue };
            let others = self
                .volume_users(name)
                .map(|users| users.iter().filter(|u| u.id() != record.id()).count())
                .unwrap_or(1);
            if others > 0 {
                tracing::warn!(volume = %name, "keeping an anonymous volume another container uses");
                continue;
            }
            if let Err(e) = self.delete_volume(name) {
                tracing::warn!(volume = %name, %e, "removing an anonymous volume");
            }
        }
    }

    /// Mount the devices of the container's volumes that have one (`--opt device=...`).
    pub(super) fn mount_volume_devices(&self, record: &ContainerRecord) -> Result<()> {
        for mount in &record.config.mounts {
            let Some(name) = &mount.volume else { continue };
            let Some(volume) = self.store.volume(name)? else {
                continue;
            };
            self.mount_volume(&volume)?;
        }
        Ok(())
    }

    /// The volumes' lock: shared by the makers of containers that name volumes, from the
    /// moment their volumes are found or made until the container is recorded, and held
    /// alone by a volume's removal while it counts the volume's containers and deletes it,
    /// so that no container is recorded with a volume removed under it.
    pub(super) fn volumes_lock(&self, shared: bool) -> Result<ContainerLock> {
        let dir = self.roots().lock_dir();
        if shared {
            ContainerLock::acquire_shared(&dir, "volumes", &dir)
        } else {
            ContainerLock::acquire(&dir, "volumes", &dir)
        }
    }

    /// The lock that orders the mounts and unmounts of a volume's device.
    fn volume_lock(&self, name: &str) -> Result<ContainerLock> {
        ContainerLock::acquire(
            &self.roots().lock_dir(),
            &format!("volume-{name}"),
            &self.volume_path(name),
        )
    }

    /// The plugin of a plugin's volume, which rpod.conf must still name.
    fn plugin_of(&self, volume: &VolumeRecord) -> Result<VolumePlugin> {
        self.volume_plugin(&volume.driver)?
            .ok_or_else(|| EngineError::InvalidArg(format!("volume {} has no plugin", volume.name)))
    }

    /// Mount what a volume's options name on its directory (nothing for a plain one); a
    /// plugin's volume: where its plugin mounts it (`VolumeDriver.Mount`), bound there.
    /// It stays so (as a device does) until `volume unmount` or its removal.
    fn mount_volume(&self, volume: &VolumeRecord) -> Result<()> {
        if volume.uses_plugin() {
            let plugin = self.plugin_of(volume)?;
            let _lock = self.volume_lock(&volume.name)?;
            let target = self.volume_path(&volume.name);
            if crate::volume_options::is_mountpoint(&target) {
                return Ok(());
            }
            let source = plugin.mount(&volume.name, PLUGIN_MOUNT_ID)?;
            if let Err(e) = crate::volume_options::bind_directory(&source, &target) {
                let _ = plugin.unmount(&volume.name, PLUGIN_MOUNT_ID);
                return Err(e);
            }
            return Ok(());
        }
        let local = LocalOptions::parse(&volume.options)?;
        if local.mounts() {
            let _lock = self.volume_lock(&volume.name)?;
            local.mount_on(&self.volume_path(&volume.name))?;
        }
        Ok(())
    }

    /// `volume mount`: where the host sees the volume's content, its device (a tmpfs, a
    /// host directory, a block device) mounted first.
    pub fn volume_mount(&self, name: &str) -> Result<PathBuf> {
        let volume = self.volume(name)?;
        self.mount_volume(&volume)?;
        Ok(self.volume_path(&volume.name))
    }

    /// `volume unmount`: undo a volume's device mount, refused while a running container
    /// uses it. A plain volume has nothing mounted.
    pub fn volume_unmount(&self, name: &str) -> Result<()> {
        let volume = self.volume(name)?;
        let running: Vec<String> = self
            .volume_users(&volume.name)?
            .into_iter()
            .filter(|c| c.state.status.is_active())
            .map(|c| c.config.name)
            .collect();
        if !running.is_empty() {
            return Err(EngineError::VolumeInUse {
                name: volume.name,
                containers: running.join(", "),
            });
        }
        self.unmount_volume(&volume)
    }

    /// Undo a volume's mount: its device's, or its plugin's (`VolumeDriver.Unmount`, only
    /// when it was mounted).
    fn unmount_volume(&self, volume: &VolumeRecord) -> Result<()> {
        let _lock = self.volume_lock(&volume.name)?;
        let target = self.volume_path(&volume.name);
        if !volume.uses_plugin() {
            return crate::volume_options::unmount_all(&target);
        }
        let plugin = self.plugin_of(volume)?;
        if crate::volume_options::is_mountpoint(&target) {
            crate::volume_options::unmount_all(&target)?;
            plugin.unmount(&volume.name, PLUGIN_MOUNT_ID)?;
        }
        Ok(())
    }

    /// `volume reload`: the store's volumes brought in line with what each plugin lists.
    /// A volume a plugin has and the store not is recorded; a plugin's volume it no longer
    /// lists is forgotten (nothing is asked of the plugin), unless a container uses it. A
    /// plugin that cannot be reached changes nothing of its volumes.
    pub fn volume_reload(&self) -> Result<VolumeReload> {
        let mut reload = VolumeReload::default();
        let known = self.volumes()?;
        let known_names: std::collections::BTreeSet<&str> =
            known.iter().map(|v| v.name.as_str()).collect();
        for (driver, socket) in &self.options.config.engine.volume_plugins {
            let plugin = VolumePlugin::new(driver, socket);
            let listed = match plugin.activate().and_then(|()| plugin.list()) {
                Ok(listed) => listed,
                Err(e) => {
                    reload.errors.push(e.to_string());
                    continue;
                }
            };
            // Each name once, in order, whatever the plugin's list repeats.
            let listed_names: std::collections::BTreeSet<&str> =
                listed.iter().map(|v| v.name.as_str()).collect();
            for &name in listed_names.difference(&known_names) {
                if !valid_name(name) {
                    reload.errors.push(format!(
                        "volume plugin {driver}: a volume named {name:?} cannot be recorded"
                    ));
                    continue;
                }
                match self.record_plugin_volume(&plugin, name) {
                    Ok(()) => reload.added.push(name.to_string()),
                    Err(e) => reload.errors.push(e.to_string()),
                }
            }
            for volume in known.iter().filter(|v| &v.driver == driver) {
                if listed_names.contains(volume.name.as_str()) {
                    continue;
                }
                if self.volume_in_use(&volume.name) {
                    reload.errors.push(format!(
                        "volume {} is gone from plugin {driver} but containers use it",
                        volume.name
                    ));
                    continue;
                }
                match self.forget_plugin_volume(volume) {
                    Ok(()) => reload.removed.push(volume.name.clone()),
                    Err(e) => reload.errors.push(e.to_string()),
                }
            }
        }
        Ok(reload)
    }

    /// Record a volume its plugin made without rpod (`volume reload`): its content is the
    /// plugin's, so no copy-up.
    fn record_plugin_volume(&self, plugin: &VolumePlugin, name: &str) -> Result<()> {
        let record = VolumeRecord {
            name: name.to_string(),
            driver: plugin.name.clone(),
            labels: BTreeMap::new(),
            options: BTreeMap::new(),
            created: Utc::now(),
            anonymous: false,
            needs_copy_up: false,
            needs_chown: false,
            uid: 0,
            gid: 0,
        };
        self.store_new_volume(&record, None)?;
        let driver = [("driver", record.driver.clone())];
        self.object_event(EventType::Volume, name, name, "create", &driver);
        Ok(())
    }

    /// Forget a volume its plugin no longer has (`volume reload`, and `system reset` when
    /// the plugin refuses the removal): its directory (after any mount on it) and record go.
    pub(super) fn forget_plugin_volume(&self, volume: &VolumeRecord) -> Result<()> {
        let _lock = self.volume_lock(&volume.name)?;
        crate::volume_options::unmount_all(&self.volume_path(&volume.name))?;
        self.forget_volume(&volume.name)
    }

    /// `volume export`: the volume's content as a tar stream. Containers write in volumes,
    /// so the content is first copied by descriptor (links copied as links, never
    /// followed) into rpod's own scratch space, and archived from there.
    pub fn volume_export(&self, name: &str, out: &mut dyn std::io::Write) -> Result<()> {
        let volume = self.volume(name)?;
        self.mount_volume(&volume)?;
        let data = self.volume_path(&volume.name);
        // Copied first (containers may be writing to it), so it must fit beside the reserve.
        self.roots()
            .space_guard()
            .check(self.volume_size(name)?)
            .map_err(EngineError::NoSpace)?;
        let staging = crate::scratch::ScratchDir::new(&self.roots().tmp(), "volume-")?;
        let copied = (|| {
            let from = tree_copy::open_dir(&data)?;
            let to = tree_copy::open_dir(staging.path())?;
            tree_copy::copy_tree(&from, &to)
        })();
        copied.map_err(|e| EngineError::io("copying the content of", &data, e))?;
        crate::scratch::tar_entries(staging.path(), out)
            .map_err(|e| EngineError::io("writing the archive of volume", &data, e))
    }

    /// `volume import`: a tar stream's content added to the volume's (what is there under
    /// the same names is replaced). The archive is unpacked into rpod's own scratch space
    /// first (the tar crate keeps its entries inside it), then copied in by descriptor,
    /// never through a link in the volume.
    pub fn volume_import(
        &self,
        name: &str,
        input: &mut dyn std::io::Read,
        origin: &str,
    ) -> Result<()> {
        let volume = self.volume(name)?;
        self.mount_volume(&volume)?;
        let data = self.volume_path(&volume.name);
        let staging = crate::scratch::ScratchDir::new(&self.roots().tmp(), "volume-")?;
        // Owners as the archive has them, as podman's import keeps them.
        let space = self.roots().space_guard();
        let size = crate::scratch::unpack_tar(input, staging.path(), origin, true, &space)?;
        // The volume gets a second copy.
        space.check(size).map_err(EngineError::NoSpace)?;
        let copied = (|| {
            let from = tree_copy::open_dir(staging.path())?;
            let to = tree_copy::open_dir(&data)?;
            for entry in tree_copy::entries(&from)? {
                tree_copy::copy_entry(&from, &entry, &to, &entry)?;
            }
            Ok::<_, std::io::Error>(())
        })();
        copied.map_err(|e| EngineError::io("copying into", &data, e))
    }

    /// Before a container starts: prepare the volumes it is the first to use, as podman
    /// does. The image's content at the mount point is copied into a volume still due for
    /// it (copy-up), while the volume is empty; a volume the image had nothing for stays
    /// due. A volume not mounted before is given to the container's user (`owner`, the
    /// host's IDs), then to the owner and mode of the image's directory at that place if
    /// there is one, so `--user 1000 -v new:/data` can write to `/data`. The image side
    /// is read inside the container's root, never through its symlinks.
    pub(super) fn prepare_volumes(
        &self,
        record: &ContainerRecord,
        root: &std::path::Path,
        owner: (u32, u32),
    ) -> Result<()> {
        for mount in &record.config.mounts {
            let Some(name) = &mount.volume else {
                continue;
            };
            // An `idmap` mount shows the volume's host IDs as the container's own: the
            // host IDs of its user would be nobody there, so such a mount gives no owner.
            let chown = |v: &VolumeRecord| v.needs_chown && !mount.idmap;
            let due = |v: &VolumeRecord| (v.needs_copy_up && !mount.no_copy) || chown(v);
            match self.store.volume(name)? {
                Some(v) if due(&v) => {}
                _ => continue,
            }
            let data = self.volume_path(name);
            let _lock =
                ContainerLock::acquire(&self.roots().lock_dir(), &format!("volume-{name}"), &data)?;
            let mut volume = match self.store.volume(name)? {
                Some(v) if due(&v) => v,
                _ => continue,
            };
            let before = volume.clone();
            let tree = crate::confined::ConfinedDir::open(root)
                .map_err(|e| EngineError::InvalidArg(e.to_string()))?;
            let image_dir = tree
                .dir_in_root(std::path::Path::new(&mount.destination))
                .map_err(|e| EngineError::InvalidArg(e.to_string()))?;
            let target =
                tree_copy::open_dir(&data).map_err(|e| EngineError::io("opening", &data, e))?;
            if volume.needs_copy_up && !mount.no_copy {
                if let Some(source) = image_dir.as_ref().filter(|dir| has_entries(dir)) {
                    if !has_entries(&target) {
                        tree_copy::copy_tree(source, &target).map_err(|e| {
                            EngineError::io("copying the image's content into volume", &data, e)
                        })?;
                    }
                    volume.needs_copy_up = false;
                }
            }
            if chown(&volume) {
                volume.needs_chown = false;
                (volume.uid, volume.gid) = owner;
                let (uid, gid, mode) = match &image_dir {
                    Some(dir) => {
                        let stat = rustix::fs::fstat(dir).map_err(|e| {
                            EngineError::io("inspecting", &mount.destination, e.into())
                        })?;
                        (stat.st_uid, stat.st_gid, Some(stat.st_mode & 0o7777))
                    }
                    None => (owner.0, owner.1, None),
                };
                let given = rustix::fs::fchown(
                    &target,
                    Some(rustix::process::Uid::from_raw(uid)),
                    Some(rustix::process::Gid::from_raw(gid)),
                )
                .and_then(|()| match mode {
                    Some(mode) => {
                        rustix::fs::fchmod(&target, rustix::fs::Mode::from_raw_mode(mode))
                    }
                    None => Ok(()),
                });
                given.map_err(|e| EngineError::io("setting the owner of", &data, e.into()))?;
            }
            // A volume still due for its copy-up (the image had nothing there) is looked at
            // again by each start, but written only when something changed.
            if volume != before {
                self.store.save_volume(&volume)?;
            }
        }
        Ok(())
    }

    /// `U`: give each such mount's source to the container's user before it starts.
    pub(super) fn chown_mounts(&self, record: &ContainerRecord, uid: u32, gid: u32) -> Result<()> {
        for mount in record.config.mounts.iter().filter(|m| m.chown) {
            let dir = tree_copy::open_dir(&mount.source);
            match dir {
                Ok(dir) => tree_copy::chown_tree(&dir, uid, gid),
                // A file: only itself.
                Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => {
                    std::os::unix::fs::lchown(&mount.source, Some(uid), Some(gid))
                }
                Err(e) => Err(e),
            }
            .map_err(|e| EngineError::io("changing the owner of", &mount.source, e))?;
        }
        Ok(())
    }
}

/// Whether a directory has any entry (copy-up fills only an empty volume, from a
/// directory with something in it). An unreadable one counts as having entries: nothing is
/// copied over what cannot be seen.
fn has_entries(dir: &std::os::fd::OwnedFd) -> bool {
    tree_copy::entries(dir).map_or(true, |entries| !entries.is_empty())
}

/// The refusal of volume `name`'s removal while `users` have it.
fn in_use(name: &str, users: &[ContainerRecord]) -> EngineError {
    let ids: Vec<&str> = users.iter().map(|c| c.id()).collect();
    EngineError::VolumeInUse {
        name: name.to_string(),
        containers: ids.join(", "),
    }
}
