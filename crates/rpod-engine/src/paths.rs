//! Where things live under the persistent root and the run root.

use std::fs;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::free_space::{KeepFree, SpaceGuard};
use crate::{EngineError, Result};

/// The store's directories: only root may enter them. Everything below inherits that
/// protection whatever its own mode (layers hold setuid binaries, bundles hold secrets).
const PRIVATE_DIR: u32 = 0o700;
/// The database and its WAL and shared-memory files.
const PRIVATE_FILE: u32 = 0o600;

/// The two roots: persistent (database, images, container dirs, logs) and run (exit files,
/// pid files, locks, runtime state).
#[derive(Debug, Clone)]
pub struct Roots {
    pub root: PathBuf,
    pub runroot: PathBuf,
    /// The free space left on the root's file system when outside data is written there.
    pub keep_free: KeepFree,
}

/// Create `dir` (and missing parents, those with the same private mode) and make sure its
/// mode is private, tightening an existing one.
fn private_dir(dir: &Path) -> Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(PRIVATE_DIR)
        .create(dir)
        .map_err(|e| EngineError::io("creating directory", dir, e))?;
    tighten(dir, PRIVATE_DIR)
}

fn tighten(path: &Path, mode: u32) -> Result<()> {
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(EngineError::io("inspecting", path, e)),
    };
    if meta.permissions().mode() & 0o7777 != mode && !meta.file_type().is_symlink() {
        fs::set_permissions(path, fs::Permissions::from_mode(mode))
            .map_err(|e| EngineError::io("restricting the mode of", path, e))?;
    }
    Ok(())
}

impl Roots {
    /// Create both roots and their top directories with private modes; tighten the modes of
    /// a store made by an older rpod (0755 directories).
    pub fn make_private(&self) -> Result<()> {
        for dir in [
            &self.root,
            &self.runroot,
            &self.tmp(),
            &self.images(),
            &self.root.join("containers"),
            &self.runroot.join("containers"),
            &self.lock_dir(),
            &self.monitor_tmp(),
            &self.runroot.join("runtimes"),
        ] {
            private_dir(dir)?;
        }
        Ok(())
    }

    /// The database and its WAL and shared-memory files are for root only. SQLite gives
    /// the latter two the database's mode, so this runs once the database is open.
    pub fn make_database_private(&self) -> Result<()> {
        let database = self.database();
        for suffix in ["", "-wal", "-shm"] {
            let mut name = database.clone().into_os_string();
            name.push(suffix);
            tighten(Path::new(&name), PRIVATE_FILE)?;
        }
        Ok(())
    }

    /// The reserve on the file system of the persistent root, which holds the images,
    /// volumes, containers and scratch space.
    pub fn space_guard(&self) -> SpaceGuard {
        SpaceGuard::new(&self.root, self.keep_free)
    }

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
