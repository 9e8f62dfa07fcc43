//! Named volumes: create, list, inspect, remove, prune, and giving a container's volume
//! mounts their directories.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use chrono::Utc;

use super::{Engine, RemoveOptions};
use crate::container::ContainerRecord;
use crate::events::EventType;
use crate::lock::ContainerLock;
use crate::names::{random_id, valid_name};
use crate::tree_copy;
use crate::volume_options::LocalOptions;
use crate::volumes::VolumeRecord;
use crate::{EngineError, Result};

impl Engine {
    /// Where a volume's data lives.
    pub fn volume_path(&self, name: &str) -> PathBuf {
        self.roots().root.join("volumes").join(name).join("_data")
    }

    /// Bytes in a volume's files (walked by descriptor: containers write there).
    pub fn volume_size(&self, name: &str) -> Result<u64> {
        let path = self.volume_path(name);
        let mut total = 0u64;
        crate::upper_diff::walk(&path, &mut |entry| {
            if let crate::upper_diff::Entry::Present {
                stat,
                file: Some(_),
                ..
            } = entry
            {
                total += u64::try_from(stat.st_size).unwrap_or(0);
            }
            Ok(())
        })
        .map_err(|e| EngineError::io("measuring", &path, e))?;
        Ok(total)
    }

    /// Create a volume (a random name when `name` is `None`), with the local driver's
    /// options (`type`, `device`, `o`; see `volume_options`).
    pub fn volume_create(
        &self,
        name: Option<String>,
        labels: BTreeMap<String, String>,
        options: BTreeMap<String, String>,
    ) -> Result<VolumeRecord> {
        self.make_volume(name, labels, options, false)
    }

    fn make_volume(
        &self,
        name: Option<String>,
        labels: BTreeMap<String, String>,
        options: BTreeMap<String, String>,
        anonymous: bool,
    ) -> Result<VolumeRecord> {
        let local = LocalOptions::parse(&options)?;
        let name = name.unwrap_or_else(random_id);
        if !valid_name(&name) {
            return Err(EngineError::InvalidArg(format!(
                "invalid volume name {name:?}: must match [a-zA-Z0-9][a-zA-Z0-9_.-]*"
            )));
        }
        let record = VolumeRecord {
            name: name.clone(),
            driver: "local".into(),
            labels,
            options,
            created: Utc::now(),
            anonymous,
            needs_copy_up: true,
        };
        let data = self.volume_path(&name);
        let top = self.roots().root.join("volumes");
        fs::create_dir_all(&top).map_err(|e| EngineError::io("creating", &top, e))?;
        fs::set_permissions(&top, fs::Permissions::from_mode(0o700))
            .map_err(|e| EngineError::io("setting the mode of", &top, e))?;
        if !self.store.insert_volume(&record)? {
            return Err(EngineError::VolumeExists(name));
        }
        if let Err(e) = fs::create_dir_all(&data)
            .and_then(|()| fs::set_permissions(&data, fs::Permissions::from_mode(0o755)))
            .and_then(|()| match local.owner() {
                Some((uid, gid)) => std::os::unix::fs::chown(&data, uid, gid),
                None => Ok(()),
            })
        {
            let _ = self.store.remove_volume(&name);
            return Err(EngineError::io("creating", &data, e));
        }
        let driver = [("driver", record.driver.clone())];
        self.object_event(EventType::Volume, &name, &name, "create", &driver);
        Ok(record)
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
                let ids: Vec<&str> = users.iter().map(|c| c.id()).collect();
                return Err(EngineError::VolumeInUse {
                    name: name.to_string(),
                    containers: ids.join(", "),
                });
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
        self.delete_volume(name)
    }

    /// Remove every volume no container uses; their names.
    pub fn volume_prune(&self) -> Result<Vec<String>> {
        self.volume_prune_where(&|_| true)
    }

    /// Remove the volumes no container uses that `pick` picks; their names.
    pub fn volume_prune_where(&self, pick: &dyn Fn(&VolumeRecord) -> bool) -> Result<Vec<String>> {
        let mut removed = Vec::new();
        for volume in self.volumes()? {
            if pick(&volume) && self.volume_users(&volume.name)?.is_empty() {
                self.volume_remove(&volume.name, false)?;
                removed.push(volume.name);
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
                super::ImageVolumes::Tmpfs => tmpfs(path, &["notmpcopyup".into()])?,
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
            let result = if mount.anonymous {
                self.make_volume(None, BTreeMap::new(), BTreeMap::new(), true)
                    .map(|v| Some(v.name))
            } else {
                match self.volume_create(Some(name.clone()), BTreeMap::new(), BTreeMap::new()) {
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
        crate::volume_options::unmount_all(&self.volume_path(name))?;
        self.store.remove_volume(name)?;
        self.object_event(EventType::Volume, name, name, "remove", &[]);
        let dir = self.roots().root.join("volumes").join(name);
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

    /// The lock that orders the mounts and unmounts of a volume's device.
    fn volume_lock(&self, name: &str) -> Result<ContainerLock> {
        ContainerLock::acquire(
            &self.roots().lock_dir(),
            &format!("volume-{name}"),
            &self.volume_path(name),
        )
    }

    /// Mount what a volume's options name on its directory (nothing for a plain one).
    fn mount_volume(&self, volume: &VolumeRecord) -> Result<()> {
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
        let _lock = self.volume_lock(&volume.name)?;
        crate::volume_options::unmount_all(&self.volume_path(&volume.name))
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

    /// Before the container's first start on a new volume: fill it with what the image has
    /// at the mount point (podman's copy-up), once, and only while it is empty. The image
    /// side is read inside the container's root, never through its symlinks. A container
    /// with a user namespace gives a new volume the image has nothing for (or that is
    /// mounted `nocopy`) to its user (`mapped_owner`, the host's IDs), as podman does: the
    /// host's root, which owns it, is nobody there.
    pub(super) fn copy_up_volumes(
        &self,
        record: &ContainerRecord,
        root: &std::path::Path,
        mapped_owner: Option<(u32, u32)>,
    ) -> Result<()> {
        for mount in &record.config.mounts {
            let Some(name) = &mount.volume else {
                continue;
            };
            // `nocopy` leaves the image's content out, not the owner a user namespace needs.
            if mount.no_copy && mapped_owner.is_none() {
                continue;
            }
            let Some(volume) = self.store.volume(name)? else {
                continue;
            };
            if !volume.needs_copy_up {
                continue;
            }
            let data = self.volume_path(name);
            let _lock =
                ContainerLock::acquire(&self.roots().lock_dir(), &format!("volume-{name}"), &data)?;
            match self.store.volume(name)? {
                Some(v) if v.needs_copy_up => {}
                _ => continue,
            }
            let empty = fs::read_dir(&data)
                .map_err(|e| EngineError::io("reading", &data, e))?
                .next()
                .is_none();
            if empty {
                let tree = crate::confined::ConfinedDir::open(root)
                    .map_err(|e| EngineError::InvalidArg(e.to_string()))?;
                let source = match mount.no_copy {
                    true => None,
                    false => tree
                        .dir_in_root(std::path::Path::new(&mount.destination))
                        .map_err(|e| EngineError::InvalidArg(e.to_string()))?,
                };
                if let Some(source) = source {
                    let target = tree_copy::open_dir(&data)
                        .map_err(|e| EngineError::io("opening", &data, e))?;
                    tree_copy::copy_tree(&source, &target).map_err(|e| {
                        EngineError::io("copying the image's content into volume", &data, e)
                    })?;
                } else if let Some((uid, gid)) = mapped_owner {
                    std::os::unix::fs::chown(&data, Some(uid), Some(gid))
                        .map_err(|e| EngineError::io("setting the owner of", &data, e))?;
                }
            }
            if !mount.no_copy {
                let mut done = volume;
                done.needs_copy_up = false;
                self.store.save_volume(&done)?;
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
