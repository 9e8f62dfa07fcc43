//! Scratch space under `<root>/tmp` that a killed rpod cannot leak.
//!
//! Files are unnamed (`O_TMPFILE`): the kernel frees them when the last descriptor closes,
//! whoever dies. Directories cannot be unnamed, so each one holds an `flock` for as long as
//! it is in use; a directory whose lock nobody holds belongs to a dead process and is removed
//! by the next `clean_stale` (run when the engine opens).

use std::fs::{self, File};
use std::io;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use nix::fcntl::{Flock, FlockArg};

use crate::confined::ConfinedDir;
use crate::free_space::SpaceGuard;
use crate::{EngineError, Result};

/// Younger than this, an unlocked entry may be one whose creator has not locked it yet.
const GRACE: Duration = Duration::from_secs(2);

/// An unnamed file in `dir`, gone when dropped or when the process dies.
pub fn unnamed_file(dir: &Path) -> Result<File> {
    tempfile::tempfile_in(dir).map_err(|e| EngineError::io("creating temporary file in", dir, e))
}

/// Give an unnamed file (from `unnamed_file`) the name `target`. An existing `target` is
/// left as it is (the same content-addressed blob stored by someone else).
pub fn link_unnamed(file: &File, target: &Path) -> Result<()> {
    match link_fd(file, target) {
        Ok(()) | Err(rustix::io::Errno::EXIST) => Ok(()),
        Err(e) => Err(EngineError::io("storing", target, e.into())),
    }
}

/// Link the open file `file` at `target`; fails with `EEXIST` when `target` exists.
fn link_fd(file: &File, target: &Path) -> rustix::io::Result<()> {
    let source = format!(
        "/proc/self/fd/{}",
        std::os::fd::AsRawFd::as_raw_fd(&file.as_fd())
    );
    rustix::fs::linkat(
        rustix::fs::CWD,
        source.as_str(),
        rustix::fs::CWD,
        target,
        rustix::fs::AtFlags::SYMLINK_FOLLOW,
    )
}

/// Give an unnamed file the name `target`, replacing what is there, so `target` is never a
/// partial file. A new `target` is linked directly: a process killed at any moment leaves
/// the whole file or nothing. Only an existing one needs a hidden name beside it, renamed
/// over it (a link cannot replace), which a kill between the two steps leaves behind.
pub fn replace_with_unnamed(file: &File, target: &Path) -> Result<()> {
    match link_fd(file, target) {
        Ok(()) => return Ok(()),
        Err(rustix::io::Errno::EXIST) => {}
        Err(e) => return Err(EngineError::io("storing", target, e.into())),
    }
    // Short and fixed in length, so that it fits wherever `target`'s own name does.
    let random = crate::names::random_id();
    let hidden = target.with_file_name(format!(".rpod-{}.tmp", &random[..16]));
    link_unnamed(file, &hidden)?;
    fs::rename(&hidden, target).map_err(|e| {
        let _ = fs::remove_file(&hidden);
        EngineError::io("renaming into place", target, e)
    })
}

/// A scratch directory, locked while this value lives and removed when it is dropped.
pub struct ScratchDir {
    path: PathBuf,
    lock: Option<Flock<File>>,
}

impl ScratchDir {
    pub fn new(tmp: &Path, prefix: &str) -> Result<Self> {
        fs::create_dir_all(tmp).map_err(|e| EngineError::io("creating directory", tmp, e))?;
        let dir = tempfile::Builder::new()
            .prefix(prefix)
            .tempdir_in(tmp)
            .map_err(|e| EngineError::io("creating temporary directory in", tmp, e))?;
        let path = dir.keep();
        let handle = File::open(&path).map_err(|e| EngineError::io("opening", &path, e))?;
        let lock = Flock::lock(handle, FlockArg::LockExclusiveNonblock)
            .map_err(|(_, errno)| EngineError::io("locking", &path, errno.into()))?;
        Ok(ScratchDir {
            path,
            lock: Some(lock),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Take the directory out of scratch space: it is renamed to `target` and no longer
    /// removed on drop.
    pub fn persist(mut self, target: &Path) -> io::Result<()> {
        fs::rename(&self.path, target)?;
        self.lock = None;
        self.path = PathBuf::new();
        Ok(())
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        if !self.path.as_os_str().is_empty() {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

/// Remove what dead processes left in `tmp`: directories nobody holds a lock on, and any
/// named file (rpod's own files there are unnamed, so a named one is a leftover of an older
/// rpod). Entries younger than a grace period are left alone.
pub fn clean_stale(tmp: &Path) {
    let Ok(entries) = fs::read_dir(tmp) else {
        return;
    };
    let now = SystemTime::now();
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(meta) = fs::symlink_metadata(&path) else {
            continue;
        };
        let young = meta
            .modified()
            .ok()
            .and_then(|m| now.duration_since(m).ok())
            .is_none_or(|age| age < GRACE);
        if young {
            continue;
        }
        if meta.is_dir() {
            let Ok(handle) = File::open(&path) else {
                continue;
            };
            // Held: a live process is using it.
            let Ok(_lock) = Flock::lock(handle, FlockArg::LockExclusiveNonblock) else {
                continue;
            };
            tracing::info!(
                "removing {} left by an interrupted operation",
                path.display()
            );
            let _ = fs::remove_dir_all(&path);
        } else {
            tracing::info!(
                "removing {} left by an interrupted operation",
                path.display()
            );
            let _ = fs::remove_file(&path);
        }
    }
}

/// Unpack a tar stream (hostile input) into a scratch directory of rpod's: every member is
/// kept inside it, and an entry whose path climbs out (`../x`) is refused, as podman's
/// unpacking refuses it; modes kept, and owners too with `owners`. `origin` names the
/// archive in errors. Stopped when `space`'s reserve is reached; returns the archive's
/// size (what copying its content on will need, at most).
pub fn unpack_tar(
    input: impl std::io::Read,
    dir: &Path,
    origin: &str,
    owners: bool,
    space: &SpaceGuard,
) -> Result<u64> {
    unpack_tar_listing(input, dir, origin, owners, space).map(|(size, _)| size)
}

/// `unpack_tar` into a directory of the host's that is not rpod's (`build --output
/// type=local`): device nodes are left out, as a copy onto the host leaves them out (an
/// image's `/dev/sda`, mode 0666, would give the host's users the device).
pub fn unpack_tar_on_host(
    input: impl std::io::Read,
    dir: &Path,
    origin: &str,
    owners: bool,
    space: &SpaceGuard,
) -> Result<u64> {
    unpack_entries(input, dir, origin, owners, false, space).map(|(size, _)| size)
}

/// A tar reader as rpod unpacks hostile archives: modes kept, owners only when asked,
/// what is there replaced.
fn unpacker<R: std::io::Read>(input: R, owners: bool) -> tar::Archive<R> {
    let mut archive = tar::Archive::new(input);
    archive.set_preserve_permissions(true);
    archive.set_preserve_ownerships(owners);
    archive.set_overwrite(true);
    archive
}

/// An archive's read error: the disk's own (no space, ...) as it is, else the archive's.
fn bad_archive(origin: &str, e: std::io::Error) -> EngineError {
    EngineError::from_io_or(e, |e| EngineError::BadArchive {
        path: origin.into(),
        message: e.to_string(),
    })
}

/// An archive's entry that would be written outside of the destination.
fn outside(origin: &str, path: &Path, how: &str) -> EngineError {
    EngineError::BadArchive {
        path: origin.into(),
        message: format!("{:?} is outside of the destination{how}", path.display()),
    }
}

/// `unpack_tar`, one entry at a time, noting the directories the archive lists itself
/// (relative paths): the others it only implies (`usr/local/bin/tool` alone implies `usr`),
/// which a copy must not take for the archive's word on an existing directory's mode.
pub fn unpack_tar_listing(
    input: impl std::io::Read,
    dir: &Path,
    origin: &str,
    owners: bool,
    space: &SpaceGuard,
) -> Result<(u64, std::collections::HashSet<PathBuf>)> {
    unpack_entries(input, dir, origin, owners, true, space)
}

/// `unpack_tar_listing`, device nodes made only with `devices`.
fn unpack_entries(
    input: impl std::io::Read,
    dir: &Path,
    origin: &str,
    owners: bool,
    devices: bool,
    space: &SpaceGuard,
) -> Result<(u64, std::collections::HashSet<PathBuf>)> {
    let bad = |e: std::io::Error| bad_archive(origin, e);
    let mut reader = space.reader(input);
    let mut listed = std::collections::HashSet::new();
    let mut dir_times = Vec::new();
    let tree = ConfinedDir::open(dir).map_err(|e| EngineError::InvalidArg(e.to_string()))?;
    {
        let mut archive = unpacker(&mut reader, owners);
        for entry in archive.entries().map_err(bad)? {
            let mut entry = entry.map_err(bad)?;
            let path = entry.path().map_err(bad)?.into_owned();
            // The tar crate would skip such an entry without a word.
            if path
                .components()
                .any(|c| c == std::path::Component::ParentDir)
            {
                return Err(outside(origin, &path, ""));
            }
            let kind = entry.header().entry_type();
            if let Some(node) = node_kind(kind) {
                if devices || node == rustix::fs::FileType::Fifo {
                    unpack_node(&entry, &tree, &path, node, owners).map_err(bad)?;
                }
                continue;
            }
            // Kept inside `dir` by the tar crate, which refuses an entry below a link of the
            // archive's that leads out, in words that name `dir` (a staging directory the
            // user never named): the entry is named instead.
            let unpacked = entry.unpack_in(dir).map_err(|e| {
                if e.to_string().contains("outside of destination") {
                    outside(origin, &path, " (through a link)")
                } else {
                    bad(e)
                }
            })?;
            if unpacked && kind.is_file() && entry.header().mtime().ok() == Some(0) {
                // The tar crate dates a file of mtime 0 at 1 (for tools that take 0 for
                // "unknown"); Docker and podman keep the archive's 0 (an epoch-dated
                // reproducible build's files).
                keep_epoch_mtime(&tree, &path).map_err(bad)?;
            }
            if !unpacked || !kind.is_dir() {
                continue;
            }
            let path: PathBuf = path
                .components()
                .filter(|c| matches!(c, std::path::Component::Normal(_)))
                .collect();
            if let Ok(mtime) = entry.header().mtime() {
                dir_times.push((path.clone(), mtime));
            }
            listed.insert(path);
        }
    }
    // Directories' times last: what was unpacked into them changed them. Each is opened
    // beneath `dir` without following any link: the archive's own links lead anywhere.
    for (path, mtime) in dir_times {
        if let Ok(directory) = tree.dir(&path, false) {
            let _ = rustix::fs::futimens(&directory, &crate::image::layer::timestamps(mtime));
        }
    }
    Ok((reader.bytes(), listed))
}

/// Date the unpacked file `path` (never followed if a link) at 1970-01-01 00:00:00.
fn keep_epoch_mtime(tree: &ConfinedDir, path: &Path) -> io::Result<()> {
    let (parent, name) = tree.parent_of(path, true).map_err(io::Error::other)?;
    rustix::fs::utimensat(
        &parent,
        &name,
        &crate::image::layer::timestamps(0),
        rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
    )?;
    Ok(())
}

/// The kind of node a tar entry makes that the tar crate would unpack as an empty regular
/// file: device nodes and fifos.
pub(crate) fn node_kind(kind: tar::EntryType) -> Option<rustix::fs::FileType> {
    if kind.is_character_special() {
        Some(rustix::fs::FileType::CharacterDevice)
    } else if kind.is_block_special() {
        Some(rustix::fs::FileType::BlockDevice)
    } else if kind.is_fifo() {
        Some(rustix::fs::FileType::Fifo)
    } else {
        None
    }
}

/// The device a node's tar header names (0 for a fifo, whose header may leave the numbers
/// blank).
pub(crate) fn node_device(header: &tar::Header) -> rustix::fs::Dev {
    rustix::fs::makedev(
        header.device_major().ok().flatten().unwrap_or(0),
        header.device_minor().ok().flatten().unwrap_or(0),
    )
}

/// Write `device`'s numbers into a node's tar header.
pub(crate) fn set_node_device(header: &mut tar::Header, device: rustix::fs::Dev) -> io::Result<()> {
    header.set_device_major(rustix::fs::major(device))?;
    header.set_device_minor(rustix::fs::minor(device))
}

/// A device node or fifo of an archive, made as it says (podman's unpacking makes them
/// too), beneath `tree` without following any link, replacing what is there unless that
/// is a directory.
fn unpack_node<R: io::Read>(
    entry: &tar::Entry<R>,
    tree: &ConfinedDir,
    path: &Path,
    kind: rustix::fs::FileType,
    owners: bool,
) -> io::Result<()> {
    let header = entry.header();
    let (parent, name) = tree.parent_of(path, true).map_err(io::Error::other)?;
    match rustix::fs::unlinkat(&parent, &name, rustix::fs::AtFlags::empty()) {
        Ok(()) | Err(rustix::io::Errno::NOENT) => {}
        Err(e) => {
            return Err(io::Error::new(
                io::Error::from(e).kind(),
                format!("replacing {}: {e}", path.display()),
            ))
        }
    }
    let device = node_device(header);
    let owner = if owners {
        Some((header.uid()? as u32, header.gid()? as u32))
    } else {
        None
    };
    let mode = rustix::fs::Mode::from_raw_mode(header.mode()? & 0o7777);
    crate::confined::make_node(&parent, &name, kind, mode, device, owner)
        .map_err(|e| io::Error::new(e.kind(), format!("creating {}: {e}", path.display())))?;
    rustix::fs::utimensat(
        &parent,
        &name,
        &crate::image::layer::timestamps(header.mtime()?),
        rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
    )?;
    Ok(())
}

/// Archive what a scratch directory of rpod's holds into `out`, each top entry under its
/// own name (no `./` entry, whose mode would be the scratch directory's), links as links.
/// Only for directories no container can write to: the walk goes by path.
pub fn tar_entries(dir: &Path, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let mut builder = tar::Builder::new(out);
    builder.follow_symlinks(false);
    let mut names: Vec<_> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<std::io::Result<_>>()?;
    names.sort();
    for name in names {
        let entry = dir.join(&name);
        let meta = entry.symlink_metadata()?;
        let kind = meta.file_type();
        if kind.is_dir() {
            builder.append_dir_all(&name, &entry)?;
        } else if kind.is_fifo() || kind.is_char_device() || kind.is_block_device() {
            // The tar crate would name such an entry by its path on the host here (an
            // absolute one, which it then refuses), not by `name`.
            let mut header = tar::Header::new_gnu();
            header.set_metadata_in_mode(&meta, tar::HeaderMode::Complete);
            header.set_size(0);
            set_node_device(&mut header, meta.rdev())?;
            builder.append_data(&mut header, &name, std::io::empty())?;
        } else {
            builder.append_path_with_name(&entry, &name)?;
        }
    }
    builder.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Names created in (or moved into) a watched directory while `act` runs.
    fn names_appearing(dir: &Path, act: impl FnOnce()) -> Vec<String> {
        use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
        let watch = Inotify::init(InitFlags::IN_NONBLOCK).unwrap();
        watch
            .add_watch(dir, AddWatchFlags::IN_CREATE | AddWatchFlags::IN_MOVED_TO)
            .unwrap();
        act();
        let mut names = Vec::new();
        while let Ok(events) = watch.read_events() {
            if events.is_empty() {
                break;
            }
            names.extend(
                events
                    .into_iter()
                    .filter_map(|e| e.name)
                    .map(|n| n.to_string_lossy().into_owned()),
            );
        }
        names
    }

    /// A new target is linked directly, never under a hidden name first: a process killed
    /// in between (a `save -o` killed by its user) would leave that name behind.
    #[test]
    fn a_new_target_appears_whole_under_its_own_name_only() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.tar");
        let names = names_appearing(dir.path(), || {
            let mut file = unnamed_file(dir.path()).unwrap();
            io::Write::write_all(&mut file, b"archive").unwrap();
            replace_with_unnamed(&file, &target).unwrap();
        });
        assert_eq!(names, ["out.tar"]);
        assert_eq!(fs::read(&target).unwrap(), b"archive");
        // An existing one is replaced, and nothing else is left.
        let mut file = unnamed_file(dir.path()).unwrap();
        io::Write::write_all(&mut file, b"second").unwrap();
        replace_with_unnamed(&file, &target).unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"second");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    /// The hidden name used to replace a file fits wherever the file's own name does.
    #[test]
    fn a_file_with_the_longest_name_can_be_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("a".repeat(255));
        for content in [&b"first"[..], b"second"] {
            let mut file = unnamed_file(dir.path()).unwrap();
            io::Write::write_all(&mut file, content).unwrap();
            replace_with_unnamed(&file, &target).unwrap();
            assert_eq!(fs::read(&target).unwrap(), content);
        }
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    /// A directory entry's header, 0755, dated `mtime`.
    fn directory_header(mtime: u64) -> tar::Header {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Directory);
        header.set_mode(0o755);
        header.set_mtime(mtime);
        header.set_size(0);
        header
    }

    /// A hostile archive: a link out of the directory, then a directory entry whose path
    /// (`a/../target`, which the tar crate would skip) leads through it: refused, and
    /// nothing outside is touched, not even a time.
    #[test]
    fn an_archives_entry_through_a_parent_is_refused() {
        use std::os::unix::fs::MetadataExt;
        let outside = tempfile::tempdir().unwrap();
        let target = outside.path().join("target");
        std::fs::create_dir(&target).unwrap();
        let before = std::fs::metadata(&target).unwrap().mtime();
        let mut archive = tar::Builder::new(Vec::new());
        let mut link = tar::Header::new_gnu();
        link.set_entry_type(tar::EntryType::Symlink);
        link.set_size(0);
        archive.append_link(&mut link, "a", outside.path()).unwrap();
        let mut escape = tar::Header::new_old();
        escape.set_entry_type(tar::EntryType::Directory);
        escape.set_mode(0o755);
        escape.set_mtime(1_234_567_890);
        escape.set_size(0);
        // Written by hand: the tar crate refuses `..` in a path it is given.
        escape.as_old_mut().name[..11].copy_from_slice(b"a/../target");
        escape.set_cksum();
        archive.append(&escape, std::io::empty()).unwrap();
        archive
            .append_data(
                &mut directory_header(1_000_000_000),
                "own",
                std::io::empty(),
            )
            .unwrap();
        let bytes = archive.into_inner().unwrap();

        let dir = tempfile::tempdir().unwrap();
        let space = SpaceGuard::new(dir.path(), crate::free_space::KeepFree::Bytes(0));
        let refused = unpack_tar_listing(bytes.as_slice(), dir.path(), "test", false, &space)
            .unwrap_err()
            .to_string();
        assert!(
            refused.contains(r#""a/../target" is outside of the destination"#),
            "{refused}"
        );
        assert_eq!(std::fs::metadata(&target).unwrap().mtime(), before);
        assert!(!dir.path().join("own").exists());
    }

    /// An archive's directories get their times after what was unpacked into them, and
    /// are listed.
    #[test]
    fn an_archives_directories_keep_their_times() {
        use std::os::unix::fs::MetadataExt;
        let mut archive = tar::Builder::new(Vec::new());
        archive
            .append_data(
                &mut directory_header(1_000_000_000),
                "own",
                std::io::empty(),
            )
            .unwrap();
        let mut file = tar::Header::new_gnu();
        file.set_mode(0o644);
        file.set_size(2);
        archive
            .append_data(&mut file, "own/file", &b"hi"[..])
            .unwrap();
        let bytes = archive.into_inner().unwrap();

        let dir = tempfile::tempdir().unwrap();
        let space = SpaceGuard::new(dir.path(), crate::free_space::KeepFree::Bytes(0));
        let (_, listed) =
            unpack_tar_listing(bytes.as_slice(), dir.path(), "test", false, &space).unwrap();
        assert_eq!(
            std::fs::metadata(dir.path().join("own")).unwrap().mtime(),
            1_000_000_000
        );
        assert_eq!(listed, [PathBuf::from("own")].into_iter().collect());
    }

    /// An entry climbing out of the directory is refused with its name (the tar crate
    /// alone skips it without a word); nothing is written outside.
    #[test]
    fn an_entry_climbing_out_is_refused() {
        let top = tempfile::tempdir().unwrap();
        let dir = top.path().join("into");
        std::fs::create_dir(&dir).unwrap();
        let mut header = tar::Header::new_old();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_mode(0o644);
        header.set_size(5);
        // Written by hand: the tar crate refuses `..` in a path it is given.
        header.as_old_mut().name[..9].copy_from_slice(b"../escape");
        header.set_cksum();
        let mut archive = tar::Builder::new(Vec::new());
        archive.append(&header, &b"pwned"[..]).unwrap();
        let bytes = archive.into_inner().unwrap();
        let space = SpaceGuard::new(&dir, crate::free_space::KeepFree::Bytes(0));
        let refused = unpack_tar(bytes.as_slice(), &dir, "evil.tar", false, &space)
            .unwrap_err()
            .to_string();
        assert!(refused.contains("evil.tar"), "{refused}");
        assert!(
            refused.contains(r#""../escape" is outside of the destination"#),
            "{refused}"
        );
        assert!(!top.path().join("escape").exists());
    }

    /// An entry below a link of the archive's that leads out is refused by its own name;
    /// nothing is written where the link leads.
    #[test]
    fn an_entry_through_a_link_out_is_refused() {
        let top = tempfile::tempdir().unwrap();
        let dir = top.path().join("into");
        let elsewhere = top.path().join("elsewhere");
        std::fs::create_dir(&dir).unwrap();
        std::fs::create_dir(&elsewhere).unwrap();
        let mut archive = tar::Builder::new(Vec::new());
        let mut link = tar::Header::new_gnu();
        link.set_entry_type(tar::EntryType::Symlink);
        link.set_size(0);
        archive.append_link(&mut link, "link", &elsewhere).unwrap();
        let mut file = tar::Header::new_gnu();
        file.set_entry_type(tar::EntryType::Regular);
        file.set_mode(0o644);
        file.set_size(5);
        archive
            .append_data(&mut file, "link/file", &b"pwned"[..])
            .unwrap();
        let bytes = archive.into_inner().unwrap();
        let space = SpaceGuard::new(&dir, crate::free_space::KeepFree::Bytes(0));
        let refused = unpack_tar(bytes.as_slice(), &dir, "evil.tar", false, &space)
            .unwrap_err()
            .to_string();
        assert!(
            refused.contains(
                r#"evil.tar: "link/file" is outside of the destination (through a link)"#
            ),
            "{refused}"
        );
        assert!(!refused.contains(&dir.display().to_string()), "{refused}");
        assert!(!elsewhere.join("file").exists());
    }

    /// Onto a directory of the host's, a device node of the archive is left out; a fifo is
    /// still made.
    #[test]
    fn no_device_node_is_made_on_the_host() {
        let mut archive = tar::Builder::new(Vec::new());
        for (name, kind) in [
            ("sda", tar::EntryType::Block),
            ("pipe", tar::EntryType::Fifo),
        ] {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(kind);
            header.set_size(0);
            header.set_mode(0o666);
            header.set_device_major(8).unwrap();
            header.set_device_minor(0).unwrap();
            archive
                .append_data(&mut header, name, std::io::empty())
                .unwrap();
        }
        let bytes = archive.into_inner().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let space = SpaceGuard::new(dir.path(), crate::free_space::KeepFree::Bytes(0));
        unpack_tar_on_host(bytes.as_slice(), dir.path(), "test", false, &space).unwrap();
        assert!(fs::symlink_metadata(dir.path().join("sda")).is_err());
        assert!(dir.path().join("pipe").exists());
    }

    /// A fifo at the top of a scratch directory is archived under its name, as what it is.
    #[test]
    fn a_fifo_at_the_top_is_archived_by_name() {
        let dir = tempfile::tempdir().unwrap();
        nix::unistd::mkfifo(&dir.path().join("pipe"), nix::sys::stat::Mode::S_IRWXU).unwrap();
        let mut out = Vec::new();
        tar_entries(dir.path(), &mut out).unwrap();
        let mut archive = tar::Archive::new(out.as_slice());
        let entries: Vec<(String, tar::EntryType)> = archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let path = e.path().unwrap().display().to_string();
                (path, e.header().entry_type())
            })
            .collect();
        assert_eq!(entries, [("pipe".to_string(), tar::EntryType::Fifo)]);
    }

    /// A fifo in an archive is unpacked as a fifo with the archive's mode and time, whatever
    /// the process's umask (the tar crate alone writes an empty regular file). Device nodes
    /// take the same path; making one needs root (the CLI's tests).
    #[test]
    fn a_fifo_is_unpacked_as_a_fifo_with_its_mode() {
        use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Fifo);
        header.set_mode(0o662);
        header.set_mtime(1_000_000_000);
        header.set_size(0);
        let mut archive = tar::Builder::new(Vec::new());
        archive
            .append_data(&mut header, "sub/pipe", std::io::empty())
            .unwrap();
        let bytes = archive.into_inner().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let space = SpaceGuard::new(dir.path(), crate::free_space::KeepFree::Bytes(0));
        unpack_tar(bytes.as_slice(), dir.path(), "test", false, &space).unwrap();
        let pipe = std::fs::symlink_metadata(dir.path().join("sub/pipe")).unwrap();
        assert!(pipe.file_type().is_fifo());
        assert_eq!(pipe.permissions().mode() & 0o7777, 0o662);
        assert_eq!(pipe.mtime(), 1_000_000_000);
    }

    /// A file dated 0 by its archive stays so (the tar crate alone dates it 1); others keep
    /// their dates.
    #[test]
    fn files_keep_an_epoch_mtime() {
        use std::os::unix::fs::MetadataExt;
        let mut archive = tar::Builder::new(Vec::new());
        for (name, mtime) in [("zero", 0), ("dated", 1_000_000_000)] {
            let mut header = tar::Header::new_gnu();
            header.set_mode(0o644);
            header.set_mtime(mtime);
            header.set_size(1);
            archive.append_data(&mut header, name, &b"x"[..]).unwrap();
        }
        let bytes = archive.into_inner().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let space = SpaceGuard::new(dir.path(), crate::free_space::KeepFree::Bytes(0));
        unpack_tar(bytes.as_slice(), dir.path(), "test", false, &space).unwrap();
        let mtime = |name: &str| std::fs::metadata(dir.path().join(name)).unwrap().mtime();
        assert_eq!((mtime("zero"), mtime("dated")), (0, 1_000_000_000));
    }

    fn age(path: &Path) {
        let old = SystemTime::now() - Duration::from_secs(3600);
        let file = File::open(path).unwrap();
        file.set_modified(old).unwrap();
    }

    #[test]
    fn stale_entries_go_and_live_ones_stay() {
        let tmp = tempfile::tempdir().unwrap();
        let live = ScratchDir::new(tmp.path(), "live-").unwrap();
        age(live.path());
        let stale_file = tmp.path().join("tmpXYZ");
        fs::write(&stale_file, "x").unwrap();
        age(&stale_file);
        let young_file = tmp.path().join("young");
        fs::write(&young_file, "x").unwrap();
        clean_stale(tmp.path());
        assert!(live.path().exists(), "a locked directory is in use");
        assert!(!stale_file.exists());
        assert!(young_file.exists(), "young entries are left alone");
        drop(live);
        assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 1);
    }

    #[test]
    fn unlocked_old_directories_are_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("load-abandoned");
        fs::create_dir(&dir).unwrap();
        fs::write(dir.join("blob"), "x").unwrap();
        age(&dir);
        clean_stale(tmp.path());
        assert!(!dir.exists());
    }

    #[test]
    fn unnamed_files_get_a_name_only_when_linked() {
        let tmp = tempfile::tempdir().unwrap();
        fs::create_dir(tmp.path().join("t")).unwrap();
        let mut file = unnamed_file(&tmp.path().join("t")).unwrap();
        std::io::Write::write_all(&mut file, b"data").unwrap();
        assert_eq!(fs::read_dir(tmp.path().join("t")).unwrap().count(), 0);
        let target = tmp.path().join("blob");
        link_unnamed(&file, &target).unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"data");
        link_unnamed(&file, &target).unwrap();
    }
}
