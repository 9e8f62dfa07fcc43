//! `cp`: files between the host and a container's root file system, running or not. Paths
//! inside the container are resolved as the container sees them (`RESOLVE_IN_ROOT`: its
//! symlinks lead somewhere inside its root, never onto the host), and every entry is copied
//! by descriptor, never through a symlink (`tree_copy`).

use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::os::fd::OwnedFd;

use rustix::fs::{self as rfs, AtFlags, FileType};

use super::*;
use crate::confined::{lexically_within, ConfinedDir};
use crate::copy_destination::{check_destination, check_host_destination, CopiedKind};
use crate::mounted_tree::{Entry, MountedTree, TreeError, TreeMount};
use crate::tree_copy;

/// A path in a container as `stat` sees it (`docker cp`'s `X-Docker-Container-Path-Stat`).
#[derive(Debug, Clone)]
pub struct PathStat {
    pub name: String,
    pub size: i64,
    /// `st_mode`: the kind and the permission bits.
    pub mode: u32,
    pub mtime: chrono::DateTime<chrono::Utc>,
    /// The path as the container resolves it (for a link, its target's), absolute: what
    /// podman's and Docker's clients call the link target.
    pub link_target: String,
}

/// Whose the entries copied into a container become.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum CopyOwner {
    /// The source's owners (`cp`'s default).
    #[default]
    Source,
    /// The container's user's IDs (`cp --archive`, podman's default).
    ContainerUser,
    /// `USER[:GROUP]` as the container's `/etc/passwd` and `/etc/group` resolve it, by
    /// Docker's rules for `COPY --chown` (`spec::resolve_owner`).
    User(String),
}

/// How a copy into a container writes what it copies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopyInto {
    pub owner: CopyOwner,
    /// Every file's and directory's permissions instead of the source's (`COPY --chmod`).
    pub mode: Option<u32>,
    /// `cp`'s rule: a directory there is not replaced by a non-directory, nor the reverse
    /// (`tree_copy::CopyAs::keep_kinds`); a build's COPY replaces them.
    pub keep_kinds: bool,
}

impl CopyInto {
    /// `cp`'s: the container's user's (`chown`) or the source's owners, the source's
    /// permissions, and no directory replaced by a non-directory or the reverse.
    pub fn chown(chown: bool) -> CopyInto {
        CopyInto {
            owner: if chown {
                CopyOwner::ContainerUser
            } else {
                CopyOwner::Source
            },
            mode: None,
            keep_kinds: true,
        }
    }
}

/// Where a copy into a container comes from on the host.
pub enum HostSource<'a> {
    /// A file or directory (`DIR/.` for what the directory holds).
    Path(&'a Path),
    /// A tar stream (`-`).
    Tar(&'a mut dyn Read),
}

fn copy_err(
    what: &'static str,
    path: impl AsRef<Path>,
    e: impl Into<std::io::Error>,
) -> EngineError {
    EngineError::io(what, path.as_ref(), e.into())
}

/// A container path as a directory part and a last name; `contents` when it ends in `/.`
/// (copy what the directory holds, not the directory).
struct ContainerPath {
    /// The whole path, relative to the container's `/`.
    rel: PathBuf,
    parent: PathBuf,
    name: Option<OsString>,
    contents: bool,
    /// It ends in `/`: it names a directory, which must exist.
    wants_dir: bool,
}

impl ContainerPath {
    fn parse(path: &str) -> Result<Self> {
        if path.is_empty() {
            return Err(EngineError::InvalidArg(
                "an empty path in the container".into(),
            ));
        }
        let contents = path.ends_with("/.") || path == ".";
        let rel = lexically_within(Path::new(path));
        // openat2 wants "." for the top itself.
        let parent = rel
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        Ok(ContainerPath {
            parent: parent.to_path_buf(),
            rel: rel.clone(),
            name: rel.file_name().map(OsStr::to_os_string),
            contents,
            wants_dir: path.ends_with('/'),
        })
    }
}

fn name_of(path: &Path) -> Result<OsString> {
    path.file_name()
        .map(OsStr::to_os_string)
        .ok_or_else(|| EngineError::InvalidArg(format!("{}: names no file", path.display())))
}

fn kind_at(dir: &OwnedFd, name: &OsStr) -> Option<FileType> {
    rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)
        .ok()
        .map(|s| FileType::from_raw_mode(s.st_mode))
}

/// Copy `name` (or everything in it, with `contents`) from `src` into `dst_dir`, as
/// `to_name` when given (with `contents`: into a directory of that name, made when
/// missing). Returns the names made or replaced in `dst_dir`.
fn copy_into(
    src: &OwnedFd,
    name: &OsStr,
    contents: bool,
    dst_dir: &OwnedFd,
    to_name: Option<&OsStr>,
    how: &tree_copy::CopyAs,
) -> std::io::Result<Vec<OsString>> {
    if !contents {
        let to = to_name.unwrap_or(name);
        tree_copy::copy_entry_as(src, name, dst_dir, to, how)?;
        return Ok(vec![to.to_os_string()]);
    }
    let inner = tree_copy::open_dir_at(src, name)?;
    let target = match to_name {
        Some(to) => {
            // `--overwrite`: another kind there gives way to the directory.
            if !how.keep_kinds && kind_at(dst_dir, to).is_some_and(|k| k != FileType::Directory) {
                crate::confined::remove_entry(dst_dir, to)?;
            }
            match rfs::mkdirat(dst_dir, to, rfs::Mode::from_raw_mode(0o755)) {
                Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                Err(e) => return Err(e.into()),
            }
            // Never through a symlink: an existing link there fails here.
            Some(tree_copy::open_dir_at(dst_dir, to)?)
        }
        None => None,
    };
    let into = target.as_ref().unwrap_or(dst_dir);
    let mut made = Vec::new();
    for child in tree_copy::entries(&inner)? {
        tree_copy::copy_entry_as(&inner, &child, into, &child, how)?;
        made.push(child);
    }
    Ok(match to_name {
        Some(to) => vec![to.to_os_string()],
        None => made,
    })
}

impl Engine {
    /// Run `op` on the container's root (mounted for the time of it when the container is
    /// not running), under the container's lock.
    pub(super) fn with_root<T>(
        &self,
        name_or_id: &str,
        op: impl FnOnce(&ContainerRecord, &ConfinedDir, &Path) -> Result<T>,
    ) -> Result<T> {
        let found = self.lookup(name_or_id)?;
        let _lock = self.lock(found.id())?;
        let mut record = self.reload(found.id(), name_or_id)?;
        self.sync(&mut record)?;
        let mounted_here = !record.state.mounted;
        let root = self.mount_rootfs(&record)?;
        // `idmap` mounts are seen mapped, `subpath` mounts bound and image mounts mounted,
        // as the container sees them.
        let mapped = match mounted_here {
            true => self.mounts_for_runtime(&record).map(drop),
            false => Ok(()),
        };
        let result = mapped
            .and_then(|()| {
                ConfinedDir::open(&root).map_err(|e| EngineError::InvalidArg(e.to_string()))
            })
            .and_then(|tree| op(&record, &tree, &root));
        if mounted_here {
            self.unmount_rootfs(&record)?;
        }
        result
    }

    /// The mounts laid over the container's root, as its last start's spec has them (rpod's
    /// own files, volumes, bind mounts, the kernel's file systems); before its first start,
    /// the volumes and mounts it was created with. A bind mount whose source is gone (rpod's
    /// files of a container that was cleaned up) is left out: its mount point is then the
    /// root file system's.
    fn tree_mounts(&self, record: &ContainerRecord) -> Result<Vec<TreeMount>> {
        let spec_path = self.roots.bundle_dir(record.id()).join("config.json");
        let mounts: Vec<TreeMount> = match oci_spec::runtime::Spec::load(&spec_path) {
            Ok(spec) => spec
                .mounts()
                .iter()
                .flatten()
                .map(|m| {
                    let options = m.options().as_deref().unwrap_or_default();
                    let bind = m.typ().as_deref() == Some("bind")
                        || options.iter().any(|o| o == "bind" || o == "rbind");
                    TreeMount {
                        destination: m.destination().clone(),
                        source: m.source().clone().filter(|_| bind),
                        read_only: options.iter().any(|o| o == "ro"),
                    }
                })
                .collect(),
            Err(_) if !spec_path.exists() => record
                .config
                .mounts
                .iter()
                .enumerate()
                .map(|(index, m)| TreeMount {
                    destination: PathBuf::from(&m.destination),
                    // An `idmap` mount's source as mapped, a `subpath` mount's as bound,
                    // an image or overlay mount's as mounted (`with_root` does them all).
                    source: match m.kind {
                        _ if m.subpath.is_some() => {
                            Some(self.roots.subpath_mount_dir(record.id(), index))
                        }
                        crate::mounts::MountKind::Image => {
                            Some(self.roots.image_mount_dir(record.id(), index))
                        }
                        crate::mounts::MountKind::Bind if m.idmap => {
                            Some(self.roots.idmap_mount_dir(record.id(), index))
                        }
                        crate::mounts::MountKind::Bind if m.overlay.is_some() => {
                            Some(self.roots.overlay_mount_dir(record.id(), index))
                        }
                        crate::mounts::MountKind::Bind => Some(m.source.clone()),
                        crate::mounts::MountKind::Tmpfs | crate::mounts::MountKind::Devpts => None,
                    },
                    read_only: m.read_only(),
                })
                .collect(),
            Err(e) => {
                return Err(EngineError::InvalidArg(format!(
                    "reading the spec of container {} ({}): {e}",
                    record.id(),
                    spec_path.display()
                )))
            }
        };
        Ok(mounts
            .into_iter()
            .filter(|m| {
                m.source
                    .as_ref()
                    .is_none_or(|s| s.symlink_metadata().is_ok())
            })
            .collect())
    }

    /// Run `op` on the container's files as it sees them: its root (mounted for the time of
    /// it when the container is not running) with its mounts over it, under its lock.
    fn with_tree<T>(
        &self,
        name_or_id: &str,
        op: impl FnOnce(&ContainerRecord, &MountedTree, &Path) -> Result<T>,
    ) -> Result<T> {
        self.with_root(name_or_id, |record, root, root_path| {
            let top = rfs::openat(
                root.top(),
                ".",
                rfs::OFlags::RDONLY | rfs::OFlags::DIRECTORY | rfs::OFlags::CLOEXEC,
                rfs::Mode::empty(),
            )
            .map_err(|e| copy_err("opening", root_path, e))?;
            let tree = MountedTree::new(top, self.tree_mounts(record)?);
            op(record, &tree, root_path)
        })
    }

    /// What a path in the container is (links not followed at the end), as `docker cp`
    /// asks before a copy.
    pub fn stat_container_path(&self, name_or_id: &str, path: &str) -> Result<PathStat> {
        let source = ContainerPath::parse(path)?;
        self.with_tree(name_or_id, |record, tree, _| {
            let entry = existing_entry(tree, &source, path, record)?;
            let stat = rfs::statat(&entry.dir, &entry.name, AtFlags::SYMLINK_NOFOLLOW)
                .map_err(|e| copy_err("inspecting", &entry.path, e))?;
            // podman's clients copy to and from this path: the path resolved in the
            // container, through a link at the end too; `DIR/.` kept as given.
            let resolved = if entry.kind == Some(FileType::Symlink) {
                tree.locate(&source.rel, true)
                    .map_err(tree_err)?
                    .map_or_else(|| entry.path.clone(), |target| target.path)
            } else {
                entry.path.clone()
            };
            let mut link_target = resolved.display().to_string();
            if source.contents && !link_target.ends_with("/.") {
                link_target = Path::new(&link_target).join(".").display().to_string();
            }
            Ok(PathStat {
                name: entry
                    .path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "/".into()),
                size: stat.st_size,
                mode: stat.st_mode,
                mtime: chrono::DateTime::from_timestamp(stat.st_mtime, stat.st_mtime_nsec as u32)
                    .unwrap_or_default(),
                link_target,
            })
        })
    }

    /// Copy `path` in the container to the host: into `dest` when it is a directory (under
    /// its own name), otherwise as `dest`. What the container's mounts show is copied from
    /// their sources, also for mounts inside a copied directory. Nothing on the host is
    /// replaced by another kind (`copy_from_container_as` can allow it).
    pub fn copy_from_container(&self, name_or_id: &str, path: &str, dest: &Path) -> Result<()> {
        self.copy_from_container_as(name_or_id, path, dest, true)
    }

    /// `copy_from_container`; without `keep_kinds` (cp's `--overwrite`) a directory on the
    /// host may be replaced by a non-directory and the reverse. Device nodes are left out:
    /// one an image or a container made (`/dev/sda`, mode 0666) would give the host's
    /// users the device where they can reach it.
    pub fn copy_from_container_as(
        &self,
        name_or_id: &str,
        path: &str,
        dest: &Path,
        keep_kinds: bool,
    ) -> Result<()> {
        self.copy_out(name_or_id, path, dest, keep_kinds, false)
    }

    /// A copy out of a container into rpod's own scratch directory (a tar's content, a
    /// copy into another container): device nodes kept, as what they are.
    fn copy_to_scratch(&self, name_or_id: &str, path: &str, dest: &Path) -> Result<()> {
        self.copy_out(name_or_id, path, dest, true, true)
    }

    fn copy_out(
        &self,
        name_or_id: &str,
        path: &str,
        dest: &Path,
        keep_kinds: bool,
        devices: bool,
    ) -> Result<()> {
        let source = ContainerPath::parse(path)?;
        self.with_tree(name_or_id, |record, tree, _| {
            let entry = existing_entry(tree, &source, path, record)?;
            if !devices
                && matches!(
                    entry.kind,
                    Some(FileType::CharacterDevice | FileType::BlockDevice)
                )
            {
                return Err(EngineError::NotSupported(format!(
                    "copying the device node {path} out of container {name_or_id} onto the host (a tar of it, `cp CONTAINER:PATH -`, holds it)"
                )));
            }
            // The root itself, or `DIR/.`: what the directory holds.
            let contents = source.contents || entry.path == Path::new("/");
            let copied = CopiedKind::of(contents || entry.is_dir());
            check_host_destination(copied, dest, keep_kinds)?;
            let (dir, to_name) = host_target(dest)?;
            // A mount's top is named after its source on the host: copied under the
            // container's name.
            let shown = entry
                .path
                .file_name()
                .map(OsStr::to_os_string)
                .unwrap_or_else(|| OsString::from("."));
            let to_name =
                to_name.or_else(|| (!contents && entry.name != shown).then_some(shown.clone()));
            // Where the copy's top lands, known before the copy makes `dest`.
            let landing = dest_dir_path(dest);
            let copied_top = match (&to_name, contents) {
                (Some(name), _) => landing.join(name),
                (None, true) => landing,
                (None, false) => landing.join(&shown),
            };
            // The copy gets the owners the container sees.
            let how = tree_copy::CopyAs {
                owners: record
                    .config
                    .id_mappings
                    .as_ref()
                    .map(tree_copy::Owners::ToContainer),
                // The host's files are the user's own: none gives way to another kind
                // unless asked.
                keep_kinds,
                skip_devices: !devices,
                ..Default::default()
            };
            copy_into(
                &entry.dir,
                &entry.name,
                contents,
                &dir,
                to_name.as_deref(),
                &how,
            )
            .map_err(|e| copy_err("copying to", dest, e))?;
            if entry.is_dir() {
                self.copy_mounts_below(tree, &entry.path, &copied_top, &how)?;
            }
            Ok(())
        })
    }

    /// After a directory was copied out of the root file system to `copied_top` on the
    /// host, put what the mounts below it show in place of their mount points. The copy is
    /// the container's content: its links are never followed on the way to a mount point
    /// (such a mount point is left as the root file system has it).
    fn copy_mounts_below(
        &self,
        tree: &MountedTree,
        top: &Path,
        copied_top: &Path,
        how: &tree_copy::CopyAs,
    ) -> Result<()> {
        let below = tree.mounts_below(top);
        if below.is_empty() {
            return Ok(());
        }
        let copy =
            ConfinedDir::open(copied_top).map_err(|e| EngineError::InvalidArg(e.to_string()))?;
        for mount in below {
            if mount.source.is_none() {
                continue;
            }
            let Ok(rel) = mount.destination.strip_prefix(top) else {
                continue;
            };
            let Ok((parent, name)) = copy.parent_of(rel, false) else {
                continue;
            };
            let source = tree.mount_entry(mount).map_err(tree_err)?;
            if source.kind.is_none() {
                continue;
            }
            let shown = copied_top.join(rel);
            crate::confined::remove_entry(&parent, &name)
                .and_then(|()| {
                    tree_copy::copy_entry_as(&source.dir, &source.name, &parent, &name, how)
                })
                .map_err(|e| copy_err("copying to", &shown, e))?;
        }
        Ok(())
    }

    /// Copy `path` in the container into a tar written to `out` (`cp CTR:PATH -`).
    pub fn copy_from_container_tar(
        &self,
        name_or_id: &str,
        path: &str,
        out: &mut dyn Write,
    ) -> Result<()> {
        let staging = crate::scratch::ScratchDir::new(&self.roots.tmp(), "cp-")?;
        self.copy_to_scratch(name_or_id, path, staging.path())?;
        crate::scratch::tar_entries(staging.path(), out)
            .map_err(|e| copy_err("writing the archive of", path, e))
    }

    /// Copy `from_path` in container `from` to `to_path` in container `to` (the same one or
    /// another), as a copy out to the host and back in would: through a scratch directory
    /// of rpod's own.
    pub fn copy_between_containers(
        &self,
        from: &str,
        from_path: &str,
        to: &str,
        to_path: &str,
        chown: bool,
    ) -> Result<()> {
        self.copy_between_containers_as(from, from_path, to, to_path, &CopyInto::chown(chown))
    }

    /// `copy_between_containers`, the copy written as `how` says.
    pub fn copy_between_containers_as(
        &self,
        from: &str,
        from_path: &str,
        to: &str,
        to_path: &str,
        how: &CopyInto,
    ) -> Result<()> {
        let source = ContainerPath::parse(from_path)?;
        let staging = crate::scratch::ScratchDir::new(&self.roots.tmp(), "cp-")?;
        self.copy_to_scratch(from, from_path, staging.path())?;
        let staged = if source.contents || source.rel.as_os_str().is_empty() {
            // What a directory holds: `STAGING/.`.
            staging.path().join(".")
        } else {
            // The one entry copied out, under its name in the container.
            let mut names = fs::read_dir(staging.path())
                .and_then(|entries| {
                    entries
                        .map(|e| e.map(|e| e.path()))
                        .collect::<std::io::Result<Vec<_>>>()
                })
                .map_err(|e| copy_err("reading", staging.path(), e))?;
            match (names.pop(), names.is_empty()) {
                (Some(entry), true) => entry,
                _ => {
                    return Err(EngineError::InvalidArg(format!(
                        "copying {from_path} of container {from}: expected one entry in {}",
                        staging.path().display()
                    )))
                }
            }
        };
        self.copy_into_container_as(to, HostSource::Path(&staged), to_path, how)
    }

    /// Copy host files (a path, or a tar stream) to `path` in the container. With
    /// `chown`, what is copied gets the container user's uid and gid (podman's --archive).
    /// A path on a volume or a bind mount is written in its source; a mount's own top (a
    /// file such as `/etc/hosts`) is rewritten in place, so that a running container keeps
    /// seeing it; read-only mounts are refused.
    pub fn copy_into_container(
        &self,
        name_or_id: &str,
        from: HostSource<'_>,
        path: &str,
        chown: bool,
    ) -> Result<()> {
        self.copy_into_container_as(name_or_id, from, path, &CopyInto::chown(chown))
    }

    /// `copy_into_container`, the copy written as `how` says.
    pub fn copy_into_container_as(
        &self,
        name_or_id: &str,
        from: HostSource<'_>,
        path: &str,
        how: &CopyInto,
    ) -> Result<()> {
        // A tar is unpacked on the host first (into rpod's own scratch directory), then
        // copied like a directory's contents.
        let staging;
        // For a tar: the directories it only implies.
        let mut implied = None;
        let mut copied = CopiedKind::File;
        let (src_dir, src_name, contents) = match from {
            HostSource::Path(source) => {
                // `DIR/.` (which Path's parsing drops): the directory's contents.
                let contents = source.to_string_lossy().ends_with("/.");
                let parent = if contents {
                    source
                } else {
                    source
                        .parent()
                        .filter(|p| !p.as_os_str().is_empty())
                        .unwrap_or(Path::new("."))
                };
                let dir = host_source_dir(source, parent)?;
                let name = if contents {
                    OsString::from(".")
                } else {
                    name_of(source)?
                };
                match kind_at(&dir, &name) {
                    _ if name == "." => copied = CopiedKind::Directory,
                    None => return Err(not_on_host(source, "no such file or directory")),
                    Some(FileType::Directory) => copied = CopiedKind::Directory,
                    Some(_) => {}
                }
                (dir, name, contents)
            }
            HostSource::Tar(reader) => {
                copied = CopiedKind::Archive;
                staging = crate::scratch::ScratchDir::new(&self.roots.tmp(), "cp-")?;
                let space = self.roots.space_guard();
                // Plain or compressed, as Docker's and podman's copies take it.
                const ORIGIN: &str = "the archive to copy (a tar, plain or compressed)";
                let reader = crate::image::compression::decompressed(reader)
                    .map_err(|e| copy_err("reading", ORIGIN, e))?;
                let (size, listed) = crate::scratch::unpack_tar_listing(
                    reader,
                    staging.path(),
                    ORIGIN,
                    false,
                    &space,
                )?;
                // The container gets a second copy.
                space.check(size).map_err(EngineError::NoSpace)?;
                implied = Some(implied_dirs(staging.path(), &listed)?);
                let dir = tree_copy::open_dir(staging.path())
                    .map_err(|e| copy_err("opening", staging.path(), e))?;
                (dir, OsString::from("."), true)
            }
        };
        let contents = contents || src_name == ".";
        let dest = ContainerPath::parse(path)?;
        self.with_tree(name_or_id, |record, tree, root| {
            let no_dir = |shown: &Path| {
                EngineError::InvalidArg(format!(
                    "{}: no such directory in the container",
                    shown.display()
                ))
            };
            // An existing directory (links followed) takes the source under its own name;
            // otherwise the source becomes the last name of `path`, in a directory that
            // must exist (a link there is replaced, not written through).
            let into_dir = tree
                .locate(&dest.rel, true)
                .map_err(tree_err)?
                .filter(|e| e.is_dir());
            // (source name, where it goes in the container)
            let mut writes: Vec<(OsString, Entry)> = Vec::new();
            match into_dir {
                Some(dir) => {
                    let names = if contents {
                        tree_copy::entries(
                            &tree_copy::open_dir_at(&src_dir, &src_name)
                                .map_err(|e| copy_err("reading", Path::new(&src_name), e))?,
                        )
                        .map_err(|e| copy_err("reading", Path::new(&src_name), e))?
                    } else {
                        vec![src_name.clone()]
                    };
                    for name in names {
                        let entry = tree
                            .locate(&dir.path.join(&name), false)
                            .map_err(tree_err)?
                            .ok_or_else(|| no_dir(&dir.path))?;
                        writes.push((name, entry));
                    }
                }
                None if dest.contents || dest.name.is_none() => {
                    return Err(no_dir(&Path::new("/").join(&dest.rel)))
                }
                None => {
                    let entry = tree
                        .locate(&dest.rel, false)
                        .map_err(tree_err)?
                        .ok_or_else(|| no_dir(&Path::new("/").join(&dest.parent)))?;
                    let place = format!("container {}", record.config.name);
                    check_destination(
                        copied,
                        entry.kind,
                        dest.wants_dir,
                        how.keep_kinds,
                        path,
                        &place,
                    )?;
                    // With `DIR/.` (a source name of `.`): a directory of that name with
                    // what DIR holds.
                    writes.push((src_name.clone(), entry));
                }
            }
            let src_parent: &OwnedFd = &src_dir;
            for (name, entry) in &writes {
                self.check_writable(record, tree, entry, src_parent, name)?;
            }
            // The owner asked for, read once from the container's /etc/passwd and
            // /etc/group (inside its root).
            let owner = match &how.owner {
                CopyOwner::Source => None,
                CopyOwner::ContainerUser => {
                    let user = spec::resolve_user(root, &record.config.user)?;
                    Some((user.uid, user.gid))
                }
                CopyOwner::User(user) => Some(spec::resolve_owner(root, user)?),
            };
            for (name, entry) in writes {
                // Owned as asked as they are written (never what was there already, into
                // which a directory is merged); a mount's top stays the host's.
                let copy_as = tree_copy::CopyAs {
                    owner: owner.filter(|_| !entry.mount_top),
                    mode: how.mode.filter(|_| !entry.mount_top),
                    implied: implied.as_ref(),
                    // What is written holds the host's IDs of the owners the container
                    // sees (a mount's top keeps its owner).
                    owners: record
                        .config
                        .id_mappings
                        .as_ref()
                        .filter(|_| !entry.mount_top)
                        .map(tree_copy::Owners::ToHost),
                    keep_kinds: how.keep_kinds,
                    skip_devices: false,
                };
                self.write_through_implied(
                    record,
                    tree,
                    src_parent,
                    &name,
                    entry,
                    Path::new(&name),
                    &copy_as,
                )?;
            }
            Ok(())
        })
    }

    /// Write `name` of `src` at `entry`. A directory a tar only implies (`how.implied`),
    /// where the container has a directory or a link to one, is not written itself: its
    /// entries go into that directory, reached as the container reaches it (links
    /// followed inside its root), as Docker's copies treat the directories a tar leaves
    /// out. So `lib/x` into a merged-usr image lands in `/usr/lib`, and `/lib` stays a link.
    #[allow(clippy::too_many_arguments)]
    fn write_through_implied(
        &self,
        record: &ContainerRecord,
        tree: &MountedTree,
        src: &OwnedFd,
        name: &OsStr,
        entry: Entry,
        rel: &Path,
        how: &tree_copy::CopyAs,
    ) -> Result<()> {
        let implied = how.implied.is_some_and(|set| set.contains(rel));
        let reached = match entry.kind {
            Some(FileType::Directory) | Some(FileType::Symlink) if implied => tree
                .locate(&entry.path, true)
                .map_err(tree_err)?
                .filter(|e| e.is_dir() && !e.mount_top),
            _ => None,
        };
        let Some(dir) = reached else {
            return write_entry(src, name, &entry, how, rel)
                .map(drop)
                .map_err(|e| copy_err("copying into the container at", &entry.path, e));
        };
        let inner = tree_copy::open_dir_at(src, name).map_err(|e| copy_err("reading", rel, e))?;
        for child in tree_copy::entries(&inner).map_err(|e| copy_err("reading", rel, e))? {
            let child_entry = tree
                .locate(&dir.path.join(&child), false)
                .map_err(tree_err)?
                .ok_or_else(|| {
                    EngineError::InvalidArg(format!(
                        "{}: no such directory in the container",
                        dir.path.display()
                    ))
                })?;
            self.check_writable(record, tree, &child_entry, &inner, &child)?;
            self.write_through_implied(
                record,
                tree,
                &inner,
                &child,
                child_entry,
                &rel.join(&child),
                how,
            )?;
        }
        Ok(())
    }

    /// Refuse a write to a read-only mount, and one that would put the source's files
    /// where a mount below the destination hides them from the container.
    fn check_writable(
        &self,
        record: &ContainerRecord,
        tree: &MountedTree,
        entry: &Entry,
        src_dir: &OwnedFd,
        src_name: &OsStr,
    ) -> Result<()> {
        if entry.read_only {
            return Err(EngineError::InvalidArg(format!(
                "{} in container {} is on a read-only mount",
                entry.path.display(),
                record.config.name
            )));
        }
        // Through an ID-mapped mount rpod's own IDs (the host's root) have no owner to
        // write as; its source would need the mount's own translation.
        let in_container = Path::new("/").join(&entry.path);
        if let Some(mount) = record
            .config
            .mounts
            .iter()
            .find(|m| m.idmap && in_container.starts_with(&m.destination))
        {
            return Err(EngineError::NotSupported(format!(
                "cp into an idmap mount ({} of container {}; copy into its source {} on the host, or from inside the container)",
                mount.destination,
                record.config.name,
                mount.source.display()
            )));
        }
        let source_kind = kind_at(src_dir, src_name);
        // A mount's top is the host's file or directory itself: it is written into (a
        // directory) or over in place (a regular file), never replaced, and nothing else
        // (a device node bound in, say) is written at all.
        if entry.mount_top {
            let fits = match entry.kind {
                Some(FileType::Directory) => source_kind == Some(FileType::Directory),
                Some(FileType::RegularFile) => source_kind == Some(FileType::RegularFile),
                _ => false,
            };
            if !fits {
                return Err(EngineError::InvalidArg(format!(
                    "{} in container {} is the top of a mount ({}): only {} can be copied over it",
                    entry.path.display(),
                    record.config.name,
                    match entry.kind {
                        Some(FileType::Directory) => "a directory",
                        Some(FileType::RegularFile) => "a file",
                        _ => "neither a file nor a directory",
                    },
                    match entry.kind {
                        Some(FileType::Directory) => "a directory",
                        Some(FileType::RegularFile) => "a regular file",
                        _ => "nothing",
                    }
                )));
            }
        }
        if source_kind != Some(FileType::Directory) {
            return Ok(());
        }
        let src = tree_copy::open_dir_at(src_dir, src_name)
            .map_err(|e| copy_err("reading", Path::new(src_name), e))?;
        for mount in tree.mounts_below(&entry.path) {
            // The source's entry on the way to the mount point (any kind: a link there
            // would replace the mount point's directory).
            let first = mount
                .destination
                .strip_prefix(&entry.path)
                .ok()
                .and_then(|rel| rel.iter().next());
            if first.is_some_and(|first| kind_at(&src, first).is_some()) {
                return Err(EngineError::NotSupported(format!(
                    "copying {} into container {}: the mount at {} would hide part of it (copy that part to the mount on its own)",
                    src_name.to_string_lossy(),
                    record.config.name,
                    mount.destination.display()
                )));
            }
        }
        Ok(())
    }
}

/// Write the host entry `name` of `src` at `entry`: a mount's top file in place (its inode
/// is what the container has mounted), anything else replaced or merged (`tree_copy`).
fn write_entry(
    src: &OwnedFd,
    name: &OsStr,
    entry: &Entry,
    how: &tree_copy::CopyAs,
    rel: &Path,
) -> std::io::Result<u64> {
    if entry.mount_top && entry.kind == Some(FileType::RegularFile) {
        let from = rfs::openat(
            src,
            name,
            rfs::OFlags::RDONLY
                | rfs::OFlags::NOFOLLOW
                | rfs::OFlags::CLOEXEC
                | rfs::OFlags::NOCTTY,
            rfs::Mode::empty(),
        )?;
        let to = rfs::openat(
            &entry.dir,
            &entry.name,
            rfs::OFlags::WRONLY | rfs::OFlags::TRUNC | rfs::OFlags::NOFOLLOW | rfs::OFlags::CLOEXEC,
            rfs::Mode::empty(),
        )?;
        std::io::copy(&mut fs::File::from(from), &mut fs::File::from(to))?;
        return Ok(1);
    }
    if name == "." {
        // A directory's contents into a new directory of the entry's name (with
        // `--overwrite`, in place of another kind there).
        if !how.keep_kinds && entry.kind.is_some_and(|k| k != FileType::Directory) {
            crate::confined::remove_entry(&entry.dir, &entry.name)?;
        }
        let inner = tree_copy::open_dir_at(src, name)?;
        let made = match rfs::mkdirat(&entry.dir, &entry.name, rfs::Mode::from_raw_mode(0o700)) {
            Ok(()) => true,
            Err(rustix::io::Errno::EXIST) => false,
            Err(e) => return Err(e.into()),
        };
        let into = entry.open_dir()?;
        let mut copied = 0;
        for child in tree_copy::entries(&inner)? {
            copied += tree_copy::copy_entry_as(&inner, &child, &into, &child, how)?;
        }
        if made {
            // The new directory is the source directory's copy (a tar's staging, rpod's
            // own, stands for a plain 0755 directory), owned as asked.
            let stat = rfs::fstat(&inner)?;
            let (uid, gid) = how.owner_of(&stat);
            rfs::fchown(
                &into,
                Some(rfs::Uid::from_raw(uid)),
                Some(rfs::Gid::from_raw(gid)),
            )?;
            let mode = if how.implied.is_some() {
                0o755
            } else {
                stat.st_mode & 0o7777
            };
            rfs::fchmod(&into, rfs::Mode::from_raw_mode(mode))?;
        }
        return Ok(copied);
    }
    tree_copy::copy_entry_at(src, name, &entry.dir, &entry.name, how, rel)
}

/// The directories in a tar's staging that the tar only implied (`listed` are those it
/// has entries for), as paths from the staging's top.
fn implied_dirs(
    staging: &Path,
    listed: &std::collections::HashSet<PathBuf>,
) -> Result<std::collections::HashSet<PathBuf>> {
    let mut implied = std::collections::HashSet::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(relative) = pending.pop() {
        let here = staging.join(&relative);
        for entry in fs::read_dir(&here).map_err(|e| copy_err("reading", &here, e))? {
            let entry = entry.map_err(|e| copy_err("reading", &here, e))?;
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                let path = relative.join(entry.file_name());
                if !listed.contains(&path) {
                    implied.insert(path.clone());
                }
                pending.push(path);
            }
        }
    }
    Ok(implied)
}

/// The entry a source path names (a link at the end not followed); a missing one is
/// podman's "could not be found" error.
fn existing_entry(
    tree: &MountedTree,
    source: &ContainerPath,
    path: &str,
    record: &ContainerRecord,
) -> Result<Entry> {
    tree.locate(&source.rel, false)
        .map_err(tree_err)?
        .filter(|e| e.kind.is_some())
        .ok_or_else(|| {
            EngineError::NoSuchPath(format!(
                "\"{path}\" could not be found on container {}: no such file or directory",
                record.config.name
            ))
        })
}

fn tree_err(e: TreeError) -> EngineError {
    match e {
        TreeError::NotOnHost { path, destination } => EngineError::NotSupported(format!(
            "copying {} (on {}, a mount that is not on the host: a tmpfs or a kernel file system)",
            path.display(),
            destination.display()
        )),
        other => EngineError::InvalidArg(other.to_string()),
    }
}

/// The directory a copy to `dest` lands in: `dest` itself when it is a directory, otherwise
/// its parent.
fn dest_dir_path(dest: &Path) -> PathBuf {
    if dest.is_dir() {
        dest.to_path_buf()
    } else {
        dest.parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf()
    }
}

/// A directory the user named on the host, symbolic links followed (the host's paths are
/// the user's own; only the container's are confined).
fn host_dir(path: &Path) -> Result<OwnedFd> {
    open_host_dir(path).map_err(|e| copy_err("opening", path, e))
}

fn open_host_dir(path: &Path) -> rustix::io::Result<OwnedFd> {
    rfs::open(
        path,
        rfs::OFlags::RDONLY | rfs::OFlags::DIRECTORY | rfs::OFlags::CLOEXEC,
        rfs::Mode::empty(),
    )
}

/// The directory that holds a copy's host source. A step that is missing or is no
/// directory means the source is not there, said as podman says it.
fn host_source_dir(source: &Path, parent: &Path) -> Result<OwnedFd> {
    match open_host_dir(parent) {
        Ok(dir) => Ok(dir),
        Err(rustix::io::Errno::NOENT) => Err(not_on_host(source, "no such file or directory")),
        Err(rustix::io::Errno::NOTDIR) => Err(not_on_host(
            source,
            &format!("stat {}: not a directory", source.display()),
        )),
        Err(e) => Err(copy_err("opening", parent, e)),
    }
}

fn not_on_host(source: &Path, why: &str) -> EngineError {
    EngineError::InvalidArg(format!(
        "\"{}\" could not be found on the host: {why}",
        source.display()
    ))
}

/// Where a copy to `dest` on the host goes: into `dest` when it is a directory, otherwise
/// `dest`'s last name in its parent.
fn host_target(dest: &Path) -> Result<(OwnedFd, Option<OsString>)> {
    if dest.is_dir() {
        let dir = host_dir(dest)?;
        return Ok((dir, None));
    }
    let parent = dest
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let dir = host_dir(parent)?;
    Ok((dir, Some(name_of(dest)?)))
}
