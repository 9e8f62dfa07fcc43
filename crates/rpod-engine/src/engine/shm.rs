//! A `/dev/shm` other containers can share: a container created with `--ipc shareable` gets
//! its shared memory file system mounted on the host, in its run directory, and bound into
//! it; a container joining its IPC namespace (`--ipc container:NAME`) binds the same one. A
//! tmpfs made inside a container's own mount namespace could not be bound into another's.
//! Mounted at init, unmounted at cleanup, removal and leftover removal.

use std::fs;
use std::path::PathBuf;

use nix::mount::{mount, MsFlags};

use super::Engine;
use crate::container::ContainerRecord;
use crate::isolation::NamespaceMode;
use crate::volume_options::{is_mountpoint, unmount_all};
use crate::{EngineError, Result};

use crate::isolation::DEFAULT_SHM_SIZE;

impl Engine {
    fn shm_dir(&self, id: &str) -> PathBuf {
        self.roots.run_dir(id).join("shm")
    }

    /// The `/dev/shm` to bind into the container, when it is shared: its own (mounted now)
    /// with `--ipc shareable`, another's with `--ipc container:` when that one has one.
    pub(super) fn shared_shm(&self, record: &ContainerRecord) -> Result<Option<PathBuf>> {
        match &record.config.isolation.ipc {
            NamespaceMode::Shareable => {
                let dir = self.shm_dir(record.id());
                if !is_mountpoint(&dir) {
                    fs::create_dir_all(&dir).map_err(|e| EngineError::io("creating", &dir, e))?;
                    let size = record.config.isolation.shm_size.unwrap_or(DEFAULT_SHM_SIZE);
                    let options = format!("mode=1777,size={size}");
                    mount(
                        Some("shm"),
                        &dir,
                        Some("tmpfs"),
                        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
                        Some(options.as_str()),
                    )
                    .map_err(|errno| {
                        EngineError::io("mounting /dev/shm at", &dir, std::io::Error::from(errno))
                    })?;
                }
                Ok(Some(dir))
            }
            NamespaceMode::Container(other) => {
                let dir = self.shm_dir(other);
                Ok(is_mountpoint(&dir).then_some(dir))
            }
            NamespaceMode::Private | NamespaceMode::None | NamespaceMode::Host => Ok(None),
        }
    }

    /// Unmount a container's shareable `/dev/shm`, if it has one mounted.
    pub(super) fn unmount_shm(&self, id: &str) -> Result<()> {
        let dir = self.shm_dir(id);
        if dir.exists() {
            unmount_all(&dir)?;
        }
        Ok(())
    }
}
