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
    /// Where the local driver's volumes live (`--volumepath`; `default_volumes` by default).
    pub volumes: PathBuf,
}

/// Where a store under `root` keeps its volumes unless told otherwise.
pub fn default_volumes(root: &Path) -> PathBuf {
    root.join("volumes")
}

/// The run root of a store that holds containers with user namespaces: their root users
/// (unprivileged users of the host) must pass through it to their root file systems
/// (`userns_dir`). It lists nothing; everything in it stays private.
const PASSABLE_DIR: u32 = 0o711;

/// A user-namespaced container's own directory in the run root (`userns_dir`): its root's
/// group may pass, nobody may list or write but root.
const GROUP_PASSABLE_DIR: u32 = 0o710;

/// Create `dir` (and missing parents, those with the same private mode) and make sure its
/// mode is private, tightening an existing one.
fn private_dir(dir: &Path) -> Result<()> {
    create_private(dir).map_err(|e| EngineError::io("creating directory", dir, e))?;
    tighten(dir, PRIVATE_DIR)
}

/// Create `dir` and its missing parents with the private mode (an existing one keeps its
/// mode): for what is made under the roots after they were made private.
pub fn create_private(dir: &Path) -> std::io::Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(PRIVATE_DIR)
        .create(dir)
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

/// Whether a user with `owner` (not root) may pass through `dir`.
fn check_passable(dir: &Path, owner: (u32, u32)) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let meta = fs::metadata(dir).map_err(|e| EngineError::io("inspecting", dir, e))?;
    let mode = meta.mode();
    let passes = if meta.uid() == owner.0 {
        mode & 0o100 != 0
    } else if meta.gid() == owner.1 {
        mode & 0o010 != 0
    } else {
        mode & 0o001 != 0
    };
    if passes {
        return Ok(());
    }
    Err(EngineError::InvalidArg(format!(
        "a container with a user namespace needs every directory above its root file system to let its root user (host UID {}) through: {} has mode {:o} (give others search permission, e.g. chmod o+x)",
        owner.0,
        dir.display(),
        mode & 0o7777
    )))
}

/// Where `system service` listens on `runroot` when given no address.
pub fn service_socket(runroot: &Path) -> PathBuf {
    runroot.join("rpod.sock")
}

impl Roots {
    /// Create both roots and their top directories with private modes; tighten the modes of
    /// a store made by an older rpod (0755 directories).
    pub fn make_private(&self) -> Result<()> {
        if self.runroot_is_passable() {
            self.make_runroot_passable()?;
        } else {
            private_dir(&self.runroot)?;
        }
        for dir in [
            &self.root,
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

    fn runroot_is_passable(&self) -> bool {
        fs::symlink_metadata(&self.runroot)
            .is_ok_and(|m| m.permissions().mode() & 0o7777 == PASSABLE_DIR)
    }

    /// Let the root users of containers with user namespaces through the run root
    /// (`PASSABLE_DIR`): every directory in it but `userns` made private first, whatever
    /// made it (older stores). Files there keep their modes (the service's socket is meant
    /// for its group; rpod's own files are private by its umask).
    fn make_runroot_passable(&self) -> Result<()> {
        create_private(&self.runroot)
            .map_err(|e| EngineError::io("creating directory", &self.runroot, e))?;
        let entries = fs::read_dir(&self.runroot)
            .map_err(|e| EngineError::io("reading", &self.runroot, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| EngineError::io("reading", &self.runroot, e))?;
            let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
            if is_dir && entry.file_name() != "userns" {
                tighten(&entry.path(), PRIVATE_DIR)?;
            }
        }
        let userns = self.runroot.join("userns");
        create_private(&userns).map_err(|e| EngineError::io("creating directory", &userns, e))?;
        tighten(&userns, PASSABLE_DIR)?;
        tighten(&self.runroot, PASSABLE_DIR)
    }

    /// Where a container with a user namespace has its root file system mounted (`root`).
    pub fn userns_dir(&self, id: &str) -> PathBuf {
        self.runroot.join("userns").join(id)
    }

    /// Where the store's layers are mapped for the overlay's mount of such a container's
    /// root (`layers` in it), for the moment of the mount: root's alone, as the mapped
    /// layers show as the container's root's (and hold every image's).
    pub fn userns_staging_dir(&self, id: &str) -> PathBuf {
        self.runroot.join("userns").join(format!(".layers-{id}"))
    }

    /// Where an `idmap` mount's source is mapped for the runtime to bind (`index`, the
    /// mount's place among the container's mounts), while the container is up: root's
    /// alone (the runtime opens mount sources as the host's root).
    pub fn idmap_mount_dir(&self, id: &str, index: usize) -> PathBuf {
        self.runroot
            .join("userns")
            .join(format!(".mounts-{id}"))
            .join(index.to_string())
    }

    /// Where a `subpath` mount's source is bound for the runtime to bind (`index`, the
    /// mount's place among the container's mounts), while the container is up: root's
    /// alone, like `idmap_mount_dir`.
    pub fn subpath_mount_dir(&self, id: &str, index: usize) -> PathBuf {
        self.runroot
            .join("subpaths")
            .join(id)
            .join(index.to_string())
    }

    /// Where an image mount (`--mount type=image`, `index` its place among the
    /// container's mounts) is mounted for the runtime to bind, while the container is up:
    /// root's alone, like `idmap_mount_dir`.
    pub fn image_mount_dir(&self, id: &str, index: usize) -> PathBuf {
        self.runroot
            .join("image-volumes")
            .join(id)
            .join(index.to_string())
    }

    /// Where an overlay mount (`-v SRC:DST:O`, `index` its place among the container's
    /// mounts) is mounted for the runtime to bind, while the container is up: root's
    /// alone, like `idmap_mount_dir`.
    pub fn overlay_mount_dir(&self, id: &str, index: usize) -> PathBuf {
        self.runroot
            .join("overlay-mounts")
            .join(id)
            .join(index.to_string())
    }

    /// The upper and work directories of that mount's overlay when the user gave none
    /// (what the container writes on it, until it stops), on the store's file system.
    pub fn overlay_mount_layers_dir(&self, id: &str, index: usize) -> PathBuf {
        self.container_dir(id)
            .join("overlay-mounts")
            .join(index.to_string())
    }

    /// The upper and work directories of that mount's overlay (what the container writes
    /// on it, until it stops), on the store's file system.
    pub fn image_mount_layers_dir(&self, id: &str, index: usize) -> PathBuf {
        self.container_dir(id)
            .join("image-volumes")
            .join(index.to_string())
    }

    /// Make `userns_dir`: passable by the container's root (`owner`, the host's IDs),
    /// through its group, and by no other user but root; root's, so that the container's
    /// root (which may be a real user of the host: `--uidmap 0:1000:1`) cannot put anything
    /// in it, such as a link where rpod mounts the root file system. Every directory above
    /// it must let that user through; one that does not is named.
    pub fn make_userns_dir(&self, id: &str, owner: (u32, u32)) -> Result<PathBuf> {
        self.make_runroot_passable()?;
        let dir = self.userns_dir(id);
        private_dir(&dir)?;
        std::os::unix::fs::lchown(&dir, Some(0), Some(owner.1))
            .map_err(|e| EngineError::io("setting the owner of", &dir, e))?;
        fs::set_permissions(&dir, fs::Permissions::from_mode(GROUP_PASSABLE_DIR))
            .map_err(|e| EngineError::io("setting the mode of", &dir, e))?;
        let mut above = dir.clone();
        loop {
            check_passable(&above, owner)?;
            if !above.pop() || above.as_os_str().is_empty() {
                break;
            }
        }
        Ok(dir)
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
    /// The local driver's volumes, each in `NAME/_data`.
    pub fn volumes(&self) -> PathBuf {
        self.volumes.clone()
    }
    /// Where `system service` listens when given no address (`info`'s `remoteSocket`).
    pub fn service_socket(&self) -> PathBuf {
        service_socket(&self.runroot)
    }
    /// The directories of `build`'s `RUN --mount=type=cache`, kept between builds.
    pub fn build_cache_mounts(&self) -> PathBuf {
        self.root.join("build-cache")
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

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    fn roots(dir: &Path) -> Roots {
        Roots {
            root: dir.join("root"),
            runroot: dir.join("run"),
            keep_free: crate::free_space::TEST_KEEP_FREE,
            volumes: dir.join("root/volumes"),
        }
    }

    #[test]
    fn a_passable_run_root_keeps_everything_in_it_private() {
        let dir = tempfile::tempdir().unwrap();
        let roots = roots(dir.path());
        roots.make_private().unwrap();
        assert_eq!(mode(&roots.runroot), PRIVATE_DIR);
        // Made by something else (netavark, an older rpod) with the usual mode.
        let events = roots.runroot.join("events");
        fs::create_dir(&events).unwrap();
        fs::set_permissions(&events, fs::Permissions::from_mode(0o755)).unwrap();
        roots.make_runroot_passable().unwrap();
        assert_eq!(mode(&roots.runroot), PASSABLE_DIR);
        assert_eq!(mode(&roots.runroot.join("userns")), PASSABLE_DIR);
        assert_eq!(mode(&events), PRIVATE_DIR);
        for name in ["containers", "locks", "monitor", "runtimes"] {
            assert_eq!(mode(&roots.runroot.join(name)), PRIVATE_DIR, "{name}");
        }
        // A file keeps its mode (the service's socket is its group's).
        let socket = roots.runroot.join("rpod.sock");
        fs::write(&socket, "").unwrap();
        fs::set_permissions(&socket, fs::Permissions::from_mode(0o660)).unwrap();
        roots.make_runroot_passable().unwrap();
        assert_eq!(mode(&socket), 0o660);
        // Opening the store again keeps it passable, and what appeared in it private.
        fs::set_permissions(&events, fs::Permissions::from_mode(0o755)).unwrap();
        roots.make_private().unwrap();
        assert_eq!(mode(&roots.runroot), PASSABLE_DIR);
        assert_eq!(mode(&events), PRIVATE_DIR);
        // Any other mode is tightened as before.
        fs::set_permissions(&roots.runroot, fs::Permissions::from_mode(0o755)).unwrap();
        roots.make_private().unwrap();
        assert_eq!(mode(&roots.runroot), PRIVATE_DIR);
    }

    #[test]
    fn a_directory_the_containers_root_cannot_pass_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let (uid, gid) = (
            rustix::process::getuid().as_raw(),
            rustix::process::getgid().as_raw(),
        );
        // Someone else: only the bits for others count.
        let other = (uid.wrapping_add(1), gid.wrapping_add(1));
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o750)).unwrap();
        let e = check_passable(dir.path(), other).unwrap_err().to_string();
        assert!(e.contains(&dir.path().display().to_string()), "{e}");
        assert!(e.contains("mode 750"), "{e}");
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o711)).unwrap();
        check_passable(dir.path(), other).unwrap();
        // Its owner, by the owner's bits; its group, by the group's.
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).unwrap();
        check_passable(dir.path(), (uid, gid.wrapping_add(1))).unwrap();
        assert!(check_passable(dir.path(), (uid.wrapping_add(1), gid)).is_err());
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o710)).unwrap();
        check_passable(dir.path(), (uid.wrapping_add(1), gid)).unwrap();
    }
}
