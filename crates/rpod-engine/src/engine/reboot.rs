//! The first rpod process after a reboot clears what the previous boot left: the runtime's
//! state and our mounts' records (a run root that is not on tmpfs keeps them), the
//! containers removed at their exit (`--rm`) that the reboot ended, and the directories of
//! containers whose record a host crash took. The rows of a `--rm` container are written
//! without syncs (`store::Durability`), so a crash can lose its record while its
//! directories stay, or lose its removal and bring the record back.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

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
                let mut record = record.clone();
                self.remove_locked(&mut record, true)
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
        ];
        // Listed before the records are read: a record is written before its container's
        // directories, so a directory listed here whose record is missing after has none.
        let listed: Vec<(std::path::PathBuf, String)> = parents
            .iter()
            .filter_map(|parent| fs::read_dir(parent).ok())
            .flat_map(|entries| entries.flatten())
            .filter_map(|entry| {
                let name = entry.file_name().into_string().ok()?;
                is_container_id(&name).then(|| (entry.path(), name))
            })
            .collect();
        if listed.is_empty() {
            return;
        }
        let Ok(known) = self.store.container_ids() else {
            return;
        };
        for (dir, id) in listed {
            if known.contains(&id) {
                continue;
            }
            if has_mount_below(&dir) {
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

/// rpod's container IDs: 64 lowercase hexadecimal digits.
fn is_container_id(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Whether the overlay's mount point in `dir` is mounted (it never is after a reboot; a
/// removal through a mounted overlay would reach into what it shows).
fn has_mount_below(dir: &Path) -> bool {
    let merged = dir.join("overlay").join("merged");
    match (fs::metadata(dir.join("overlay")), fs::metadata(&merged)) {
        (Ok(overlay), Ok(merged)) => overlay.dev() != merged.dev(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_container_ids_are_taken_for_containers() {
        assert!(is_container_id(&"0123456789abcdef".repeat(4)));
        for name in [
            "",
            "abc",
            &"A".repeat(64),
            &"0".repeat(63),
            &"0".repeat(65),
            &format!("{}g", "0".repeat(63)),
        ] {
            assert!(!is_container_id(name), "{name}");
        }
    }
}
