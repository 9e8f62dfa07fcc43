//! A container's root file system: an overlay mount over the image's unpacked layers, with
//! the container's own upper and work directories.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};

use crate::userns::IdMappings;
use crate::{EngineError, Result};

/// The overlay's directories for one container.
pub struct OverlayDirs {
    pub upper: PathBuf,
    pub work: PathBuf,
    pub merged: PathBuf,
}

impl OverlayDirs {
    pub fn new(overlay_dir: &Path) -> Self {
        OverlayDirs {
            upper: overlay_dir.join("diff"),
            work: overlay_dir.join("work"),
            merged: overlay_dir.join("merged"),
        }
    }
}

/// Give an upper directory the mode and owner of the image's top layer, which the
/// container's `/` must have (its owner on the host, for a container with a user
/// namespace).
pub fn match_root(upper: &Path, top_layer: &Path, mappings: Option<&IdMappings>) -> Result<()> {
    let meta = fs::metadata(top_layer).map_err(|e| EngineError::io("inspecting", top_layer, e))?;
    let (uid, gid) = match mappings {
        Some(m) => m
            .to_host(meta.uid(), meta.gid())
            .unwrap_or_else(|_| m.root()),
        None => (meta.uid(), meta.gid()),
    };
    std::os::unix::fs::chown(upper, Some(uid), Some(gid))
        .map_err(|e| EngineError::io("setting the owner of", upper, e))?;
    fs::set_permissions(upper, fs::Permissions::from_mode(meta.mode() & 0o7777))
        .map_err(|e| EngineError::io("setting the mode of", upper, e))
}

/// How the layers of a container with a user namespace are seen: through one ID-mapped
/// mount of the directory that holds them all, made at `staging` for the overlay's mount
/// and detached again (overlayfs keeps its own references to its layers).
pub struct MappedLayers<'a> {
    pub mappings: &'a IdMappings,
    pub staging: &'a Path,
}

/// Mount `lower` (bottom layer first) with the container's upper layer at `dirs.merged`.
/// Mounting an already mounted root is a no-op. overlayfs shows the upper directory's own
/// mode and owner as the container's `/`: a new upper directory gets the image's.
///
/// `volatile` is for a container removed at its exit (`--rm`, as podman does): overlayfs
/// then ignores syncs on the container's files and, above all, does not sync the upper
/// layer's whole file system when it is unmounted, which otherwise waits for every dirty
/// page on that file system (the container's log too). An upper layer that is thrown away
/// needs none of it. A kernel without the option (before 5.10) mounts without it.
///
/// With `mapped`, the container's upper layer holds the host's IDs of what it writes and its
/// lower layers are seen mapped (their files owned by container ID N show as the host ID
/// N maps to), so the container sees both as its own.
pub fn mount_overlay(
    lower: &[PathBuf],
    dirs: &OverlayDirs,
    volatile: bool,
    mapped: Option<MappedLayers>,
) -> Result<()> {
    if lower.is_empty() {
        return Err(EngineError::InvalidArg(
            "an image without layers has no root file system".into(),
        ));
    }
    let lower = &distinct_layers(lower)[..];
    let new_upper = !dirs.upper.exists();
    for dir in [&dirs.upper, &dirs.work, &dirs.merged] {
        fs::create_dir_all(dir).map_err(|e| EngineError::io("creating directory", dir, e))?;
    }
    if new_upper {
        let top = lower.last().unwrap_or(&dirs.upper);
        match_root(&dirs.upper, top, mapped.as_ref().map(|m| m.mappings))?;
    }
    if is_mounted(&dirs.merged) {
        return Ok(());
    }
    match mapped {
        None => mount_overlay_of(lower, dirs, volatile),
        Some(mapped) => {
            let parent = common_parent(lower)?;
            let namespace = crate::idmapped::MappedNamespace::new(mapped.mappings)?;
            // Private, with its parents (rpod's umask): only root passes.
            crate::paths::create_private(mapped.staging)
                .map_err(|e| EngineError::io("creating directory", mapped.staging, e))?;
            namespace.bind(parent, mapped.staging)?;
            let seen: Vec<PathBuf> = lower
                .iter()
                .filter_map(|l| l.file_name().map(|name| mapped.staging.join(name)))
                .collect();
            let mounted = mount_overlay_of(&seen, dirs, volatile).map_err(|e| match e {
                EngineError::Io { source, .. }
                    if source.raw_os_error() == Some(libc::EINVAL) =>
                {
                    EngineError::NotSupported(format!(
                        "an overlay over ID-mapped layers at {} ({source}): overlayfs takes them from Linux 5.19",
                        dirs.merged.display()
                    ))
                }
                other => other,
            });
            let detached = umount2(mapped.staging, MntFlags::MNT_DETACH)
                .map_err(|e| EngineError::io("unmounting", mapped.staging, e.into()));
            let _ = fs::remove_dir(mapped.staging);
            if let Some(parent) = mapped.staging.parent() {
                let _ = fs::remove_dir(parent);
            }
            mounted.and(detached)
        }
    }
}

/// The one directory all of `lower` are in (an image's layers are in the store's layer
/// directory).
fn common_parent(lower: &[PathBuf]) -> Result<&Path> {
    let parent = lower.first().and_then(|l| l.parent());
    match parent {
        Some(parent) if lower.iter().all(|l| l.parent() == Some(parent)) => Ok(parent),
        _ => Err(EngineError::InvalidArg(
            "an image's layers are not in one directory: they cannot be mapped for a user namespace".into(),
        )),
    }
}

fn mount_overlay_of(lower: &[PathBuf], dirs: &OverlayDirs, volatile: bool) -> Result<()> {
    let lowerdir = lowerdir(lower);
    let options = format!(
        "lowerdir={lowerdir},upperdir={},workdir={}",
        dirs.upper.display(),
        dirs.work.display()
    );
    let mount_with = |options: &str| {
        mount(
            Some("overlay"),
            &dirs.merged,
            Some("overlay"),
            MsFlags::empty(),
            Some(options),
        )
    };
    let mounted = if volatile {
        // A volatile mount leaves a marker that makes the next mount of the same upper
        // layer fail, in case a crash lost its unsynced writes. This upper layer is
        // disposable either way, so the marker of an earlier run goes.
        let marker = dirs.work.join(VOLATILE_MARKER);
        if let Err(e) = fs::remove_dir_all(&marker) {
            if e.kind() != std::io::ErrorKind::NotFound {
                return Err(EngineError::io("removing overlay marker", &marker, e));
            }
        }
        mount_volatile(&options, mount_with)
    } else {
        mount_with(&options)
    };
    mounted.map_err(|e| {
        EngineError::io(
            "mounting overlay root file system at",
            &dirs.merged,
            std::io::Error::from(e),
        )
    })
}

/// Mount with `volatile` added to `options`, or without it where the kernel does not know
/// the option (before 5.10: EINVAL); any other error is the mount's.
fn mount_volatile(
    options: &str,
    mut mount_with: impl FnMut(&str) -> nix::Result<()>,
) -> nix::Result<()> {
    match mount_with(&format!("{options},volatile")) {
        Err(nix::errno::Errno::EINVAL) => mount_with(options),
        other => other,
    }
}

/// Where overlayfs marks an upper layer mounted with `volatile`, under the work directory.
const VOLATILE_MARKER: &str = "work/incompat/volatile";

/// An image's layers (bottom first) with each layer once, at its topmost place. An image
/// may hold one layer twice (two build steps that changed the same nothing, empty layers
/// of older images), and overlayfs refuses a lower directory given twice ("too many levels
/// of symbolic links"); rpod keeps a layer's files once, by its digest. Dropping the lower
/// places changes nothing the container sees: for any path, the topmost layer that has it
/// decides, and a layer's lower copy could only decide for paths its upper copy decides.
fn distinct_layers(lower: &[PathBuf]) -> Vec<PathBuf> {
    let mut seen = std::collections::HashSet::new();
    let mut distinct: Vec<PathBuf> = lower
        .iter()
        .rev()
        .filter(|layer| seen.insert(*layer))
        .cloned()
        .collect();
    distinct.reverse();
    distinct
}

/// overlayfs's `lowerdir` value: the layers topmost first.
fn lowerdir(lower: &[PathBuf]) -> String {
    lower
        .iter()
        .rev()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(":")
}

/// An image's layers, read-only at `merged` (`image mount`): an overlay of them, or a
/// read-only bind of a single one (overlayfs wants two lower layers without an upper one).
pub fn mount_read_only(lower: &[PathBuf], merged: &Path) -> Result<()> {
    let lower = &distinct_layers(lower)[..];
    let Some(top) = lower.last() else {
        return Err(EngineError::InvalidArg(
            "an image without layers has no root file system".into(),
        ));
    };
    fs::create_dir_all(merged).map_err(|e| EngineError::io("creating directory", merged, e))?;
    if is_mounted(merged) {
        return Ok(());
    }
    let failed =
        |e: nix::errno::Errno| EngineError::io("mounting", merged, std::io::Error::from(e));
    if lower.len() == 1 {
        mount(
            Some(top),
            merged,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(failed)?;
        let read_only = MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY;
        if let Err(e) = mount(None::<&str>, merged, None::<&str>, read_only, None::<&str>) {
            let _ = umount2(merged, MntFlags::MNT_DETACH);
            return Err(failed(e));
        }
        return Ok(());
    }
    mount(
        Some("overlay"),
        merged,
        Some("overlay"),
        MsFlags::MS_RDONLY,
        Some(format!("lowerdir={}", lowerdir(lower)).as_str()),
    )
    .map_err(failed)
}

/// Unmount a container's root; not mounted is fine.
pub fn unmount(merged: &Path) -> Result<()> {
    if !is_mounted(merged) {
        return Ok(());
    }
    match umount2(merged, MntFlags::empty()) {
        Ok(()) => Ok(()),
        // Something still holds it (e.g. a process that is exiting): detach it lazily.
        Err(nix::errno::Errno::EBUSY) => umount2(merged, MntFlags::MNT_DETACH)
            .map_err(|e| EngineError::io("unmounting", merged, std::io::Error::from(e))),
        Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOENT) => Ok(()),
        Err(e) => Err(EngineError::io(
            "unmounting",
            merged,
            std::io::Error::from(e),
        )),
    }
}

/// Whether something is mounted exactly at `path`.
pub fn is_mounted(path: &Path) -> bool {
    let Ok(target) = fs::canonicalize(path) else {
        return false;
    };
    crate::mountinfo::mount_points().is_some_and(|points| points.contains(&target))
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::errno::Errno;

    /// The options each mount was tried with, answered by `answer`.
    fn tries(answer: impl Fn(&str) -> nix::Result<()>) -> (nix::Result<()>, Vec<String>) {
        let mut tried = Vec::new();
        let result = mount_volatile("lowerdir=/l", |options| {
            tried.push(options.to_string());
            answer(options)
        });
        (result, tried)
    }

    #[test]
    fn a_layer_given_twice_is_mounted_once_at_its_topmost_place() {
        let layers: Vec<PathBuf> = ["/l/base", "/l/run", "/l/copy", "/l/run", "/l/top"]
            .iter()
            .map(PathBuf::from)
            .collect();
        let distinct = distinct_layers(&layers);
        assert_eq!(lowerdir(&distinct), "/l/top:/l/run:/l/copy:/l/base");
        assert_eq!(distinct_layers(&layers[..2]), &layers[..2]);
    }

    #[test]
    fn a_kernel_without_volatile_gets_the_mount_without_it() {
        let (result, tried) = tries(|_| Ok(()));
        assert_eq!(
            (result, tried),
            (Ok(()), vec!["lowerdir=/l,volatile".to_string()])
        );
        let (result, tried) = tries(|o| {
            if o.ends_with(",volatile") {
                Err(Errno::EINVAL)
            } else {
                Ok(())
            }
        });
        assert_eq!(result, Ok(()));
        assert_eq!(tried, ["lowerdir=/l,volatile", "lowerdir=/l"]);
        // Any other failure is the mount's own: no second try.
        let (result, tried) = tries(|_| Err(Errno::EPERM));
        assert_eq!((result, tried.len()), (Err(Errno::EPERM), 1));
    }
}
