//! Where things live under the persistent root and the run root.

use std::path::PathBuf;

/// The two roots: persistent (database, images, container dirs, logs) and run (exit files,
/// pid files, locks, runtime state).
#[derive(Debug, Clone)]
pub struct Roots {
    pub root: PathBuf,
    pub runroot: PathBuf,
}

impl Roots {
    pub fn database(&self) -> PathBuf {
        self.root.join("rpod.db")
    }
    pub fn images(&self) -> PathBuf {
        self.root.join("images")
    }
    /// Scratch space on the same file system as the images, so that renames are atomic.
    pub fn tmp(&self) -> PathBuf {
        self.root.join("tmp")
    }
    pub fn container_dir(&self, id: &str) -> PathBuf {
        self.root.join("containers").join(id)
    }
    /// The OCI bundle: config.json, conmon's attach socket and ctl fifo, the log.
    pub fn bundle_dir(&self, id: &str) -> PathBuf {
        self.container_dir(id).join("userdata")
    }
    pub fn overlay_dir(&self, id: &str) -> PathBuf {
        self.container_dir(id).join("overlay")
    }
    pub fn log_path(&self, id: &str) -> PathBuf {
        self.bundle_dir(id).join("ctr.log")
    }
    pub fn run_dir(&self, id: &str) -> PathBuf {
        self.runroot.join("containers").join(id)
    }
    pub fn lock_dir(&self) -> PathBuf {
        self.runroot.join("locks")
    }
    /// conmon's exits/ and persist/ directories.
    pub fn monitor_tmp(&self) -> PathBuf {
        self.runroot.join("monitor")
    }
    /// The runtime's own state directory (its `--root`).
    pub fn runtime_state(&self, runtime_name: &str) -> PathBuf {
        self.runroot.join("runtimes").join(runtime_name)
    }
}
