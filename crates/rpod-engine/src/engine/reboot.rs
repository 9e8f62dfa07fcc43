//! The first rpod process after a reboot clears what the previous boot left: the runtime's
//! state and our mounts' records (a run root that is not on tmpfs keeps them), the
//! containers removed at their exit (`--rm`) that the reboot ended, and the directories of
//! containers whose record a host crash took. The rows of a `--rm` container are written
//! without syncs (`store::Durability`), so a crash can lose its record while its
//! directories stay, or lose its removal and bring the record back.

use std::fs;
use std::path::{Path, PathBuf};

use super::Engine;
use crate::container::{ContainerRecord, Status};

impl Engine {
    /// Clear what the previous boot left; `reset` are the containers that were running.
    /// Failures are logged: the store is usable whatever is left.
    pub(super) fn clear_previous_boot(&self, reset: &[ContainerRecord]) {
        if !reset.is_empty() {
            tracing::info!(
                containers = reset.len(),
                "the system rebooted: containers that were running are now exited"
            );
        }
        self.forget_previous_boot(reset);
        self.remove_ended_rm_containers();
        self.remove_orphaned_container_dirs();
    }

    /// A run root that is not on tmpfs keeps the runtime's state and our mounts' records
    /// across a reboot: clear what the previous boot left so the containers can start again.
    fn forget_previous_boot(&self, reset: &[ContainerRecord]) {
        for record in reset {
            if let Ok(runtime) = self.runtime(&record.config.runtime) {
                let _ = runtime.delete_container(&self.oci_container(record));
            }
            let _ = self.unmount_rootfs(record);
            self.network_down(&mut record.clone());
        }
    }

    /// `--rm` containers that ran in the previous boot are removed, as their exit would have
    /// removed them. One created and never started waits for its start; a checkpointed one
    /// for its restore.
    fn remove_ended_rm_containers(&self) {
        let Ok(records) = self.store.containers() else {
            return;
        };
        for record in records {
            let ended = matches!(
                record.state.status,
                Status::Exited | Status::Stopped | Status::Removing
            );
            if !record.config.auto_remove || record.state.checkpointed || !ended {
                continue;
            }
            let removed = self.lock(record.id()).and_then(|_lock| {
                // Read again under the lock: another process may have removed it.
                match self.store.container(record.id())? {
                    Some(mut current) => self.remove_locked(&mut current, true),
                    None => Ok(()),
                }
            });
            match removed {
                Ok(()) => tracing::info!(
                    id = record.id(),
                    "removed a --rm container the reboot ended"
                ),
                Err(e) => {
                    tracing::warn!(id = record.id(), %e, "removing a --rm container the reboot ended")
                }
            }
        }
    }

    /// Container directories without a record (a host crash took a `--rm` container's
    /// record, not its directories) are removed.
    fn remove_orphaned_container_dirs(&self) {
        let parents = [
            self.roots.root.join("containers"),
            self.roots.runroot.join("containers"),
            self.roots.runroot.join("userns"),
        ];
        // Listed before the records are read: a record is written before its container's
        // directories, so a directory listed here whose record is missing after has none.
        let listed: Vec<(PathBuf, String)> = parents
            .iter()
            .filter_map(|parent| fs::read_dir(parent).ok())
            .flat_map(|entries| entries.flatten())
            .filter_map(|entry| {
                let name = entry.file_name().into_string().ok()?;
                crate::names::is_id(&name).then(|| (entry.path(), name))
            })
            .collect();
        if listed.is_empty() {
            return;
        }
        let Ok(known) = self.store.container_ids() else {
            return;
        };
        let mount_points = crate::mountinfo::mount_points();
        for (dir, id) in listed {
            if known.contains(&id) {
                continue;
            }
            if has_mount_below(&mount_points, &dir) {
                tracing::warn!(dir = %dir.display(), "a container directory without a record has a mount in it; left alone");
                continue;
            }
            match fs::remove_dir_all(&dir) {
                Ok(()) => {
                    tracing::info!(dir = %dir.display(), "removed a container directory without a record")
                }
                Err(e) => {
                    tracing::warn!(dir = %dir.display(), %e, "removing a container directory without a record")
                }
            }
        }
    }
}

/// Whether anything is mounted in `dir` (nothing is after a reboot; a removal through a
/// mount would reach into what it shows). Unknown mounts count as a mount.
fn has_mount_below(mount_points: &Option<Vec<PathBuf>>, dir: &Path) -> bool {
    mount_points
        .as_ref()
        .is_none_or(|points| points.iter().any(|point| point.starts_with(dir)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mounts_are_found_below_a_directory() {
        let points = crate::mountinfo::mount_points();
        assert!(has_mount_below(&points, Path::new("/proc")));
        let dir = tempfile::tempdir().unwrap();
        assert!(!has_mount_below(&points, dir.path()));
        assert!(has_mount_below(&None, dir.path()), "unknown mounts count");
    }
}
