//! Named volumes: create, list, inspect, remove, prune, and giving a container's volume
//! mounts their directories.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use chrono::Utc;

use super::{Engine, RemoveOptions};
use crate::container::ContainerRecord;
use crate::names::{random_id, valid_name};
use crate::volumes::VolumeRecord;
use crate::{EngineError, Result};

impl Engine {
    /// Where a volume's data lives.
    pub fn volume_path(&self, name: &str) -> PathBuf {
        self.roots().root.join("volumes").join(name).join("_data")
    }

    /// Create a volume (a random name when `name` is `None`). Driver options are not
    /// supported yet: the local driver's `o`, `type` and `device` mount something else.
    pub fn volume_create(
        &self,
        name: Option<String>,
        labels: BTreeMap<String, String>,
        options: BTreeMap<String, String>,
    ) -> Result<VolumeRecord> {
        if let Some(key) = options.keys().next() {
            return Err(EngineError::NotSupported(format!(
                "the volume option {key:?} (local volumes are plain directories here)"
            )));
        }
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
        {
            let _ = self.store.remove_volume(&name);
            return Err(EngineError::io("creating", &data, e));
        }
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

    /// Remove a volume and its data; refused while containers use it unless `force`,
    /// which removes them first.
    pub fn volume_remove(&self, name: &str, force: bool) -> Result<()> {
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
                    timeout: Some(0),
                };
                match self.remove(user.id(), removal) {
                    Ok(_) | Err(EngineError::NoSuchContainer(_)) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        self.store.remove_volume(name)?;
        let dir = self.roots().root.join("volumes").join(name);
        match fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(EngineError::io("removing", &dir, e)),
        }
    }

    /// Remove every volume no container uses; their names.
    pub fn volume_prune(&self) -> Result<Vec<String>> {
        let mut removed = Vec::new();
        for volume in self.volumes()? {
            if self.volume_users(&volume.name)?.is_empty() {
                self.volume_remove(&volume.name, false)?;
                removed.push(volume.name);
            }
        }
        Ok(removed)
    }

    /// Give a container's named volumes their directories, creating missing volumes.
    pub(crate) fn attach_volumes(&self, mounts: &mut [crate::mounts::MountSpec]) -> Result<()> {
        for mount in mounts.iter_mut() {
            let Some(name) = mount.volume.clone() else {
                continue;
            };
            match self.volume_create(Some(name.clone()), BTreeMap::new(), BTreeMap::new()) {
                Ok(_) | Err(EngineError::VolumeExists(_)) => {}
                Err(e) => return Err(e),
            }
            mount.source = self.volume_path(&name);
        }
        Ok(())
    }
}
