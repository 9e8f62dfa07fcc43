//! Layers: each layer's tar is kept (for `save`) and unpacked once into its own directory,
//! with whiteouts turned into overlayfs's form, so that container roots are overlay mounts
//! over the unpacked layers.

use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{self, Read, Seek, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use rustix::fs::{self as rfs, AtFlags, Mode, OFlags};

use sha2::{Digest, Sha256};

use super::targuard::MetadataGuard;
use crate::confined::{plain_relative, remove_entry, ConfinedDir, ConfinedError};
use crate::free_space::SpaceGuard;
use crate::scratch::{self, ScratchDir};
use crate::upper_diff::{OPAQUE_MARKER as OPAQUE_WHITEOUT, WHITEOUT_PREFIX};
use crate::{EngineError, Result};

/// Where layers live below the images directory.
pub struct LayerDirs {
    pub blobs: PathBuf,
    pub unpacked: PathBuf,
    pub tmp: PathBuf,
    /// The free space every layer written here leaves.
    pub space: SpaceGuard,
}

impl LayerDirs {
    pub fn new(images: &Path, tmp: &Path, space: SpaceGuard) -> Self {
        LayerDirs {
            blobs: images.join("blobs"),
            unpacked: images.join("layers"),
            tmp: tmp.to_path_buf(),
            space,
        }
    }

    pub fn blob(&self, diff_id: &str) -> PathBuf {
        self.blobs.join(format!("{diff_id}.tar"))
    }

    pub fn dir(&self, diff_id: &str) -> PathBuf {
        self.unpacked.join(diff_id)
    }

    fn ensure(&self) -> Result<()> {
        for dir in [&self.blobs, &self.unpacked, &self.tmp] {
            fs::create_dir_all(dir).map_err(|e| EngineError::io("creating directory", dir, e))?;
        }
        Ok(())
    }
}

/// A layer that was stored.
pub struct StoredLayer {
    /// sha256 hex of the uncompressed tar (the layer's diff id).
    pub diff_id: String,
    pub size: u64,
    /// Whether this call created it (so that a failed load can take it back).
    pub created: bool,
}

/// Copy a layer stream (plain, gzip or zstd) into the store, compute its diff id, unpack it.
/// Nothing appears under its final name until it is complete.
pub fn store_layer(dirs: &LayerDirs, source: impl Read, origin: &str) -> Result<StoredLayer> {
    dirs.ensure()?;
    let bad = |message: String| EngineError::BadArchive {
        path: origin.to_string(),
        message,
    };
    // Counted after decompression: a small layer may unpack to any size.
    let mut reader = dirs.space.reader(
        super::compression::decompressed(source).map_err(|e| bad(format!("reading layer: {e}")))?,
    );
    let mut blob = scratch::unnamed_file(&dirs.tmp)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        let n = match reader.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(EngineError::from_io_or(e, |e| {
                    bad(format!("reading layer: {e}"))
                }))
            }
        };
        hasher.update(&buffer[..n]);
        blob.write_all(&buffer[..n])
            .map_err(|e| EngineError::io("writing layer blob in", &dirs.tmp, e))?;
        size += n as u64;
    }
    let diff_id = hex::encode(hasher.finalize());
    let final_dir = dirs.dir(&diff_id);
    if final_dir.exists() && dirs.blob(&diff_id).exists() {
        return Ok(StoredLayer {
            diff_id,
            size,
            created: false,
        });
    }
    let staging = ScratchDir::new(&dirs.tmp, "layer-")?;
    blob.rewind()
        .map_err(|e| EngineError::io("rewinding", dirs.tmp.clone(), e))?;
    unpack(dirs.space.reader(&mut blob), staging.path()).map_err(|e| match e {
        EngineError::Io { source, .. } if source.kind() == io::ErrorKind::UnexpectedEof => {
            bad("layer tar is truncated".into())
        }
        // The tar could not be read (not the staging written): the origin's fault, named
        // as such, not after rpod's scratch directory.
        EngineError::Io {
            action: TAR_READ,
            source,
            ..
        } => bad(format!("not a valid layer tar: {source}")),
        EngineError::BadArchive { message, .. } => bad(message),
        other => other,
    })?;
    if let Err(e) = staging.persist(&final_dir) {
        if !final_dir.exists() {
            return Err(EngineError::io("moving layer into place", &final_dir, e));
        }
    }
    scratch::link_unnamed(&blob, &dirs.blob(&diff_id))?;
    Ok(StoredLayer {
        diff_id,
        size,
        created: true,
    })
}

/// Attributes of a directory, applied after everything below it is unpacked (so that a
/// read-only mode does not stop its children, and its mtime stays the archive's).
struct DirAttrs {
    path: PathBuf,
    mode: u32,
    uid: u64,
    gid: u64,
    mtime: u64,
}

/// The action of an error reading a layer's tar (rather than writing what it holds).
const TAR_READ: &str = "reading the layer tar to unpack into";

/// Unpack a layer tar into `dest` (an empty directory), turning whiteouts into overlayfs
/// whiteouts (0/0 character devices) and opaque markers into the `trusted.overlay.opaque`
/// attribute. Every entry is created through `ConfinedDir`, never through a symlink, so a
/// hostile layer cannot reach anything outside `dest`; such an entry fails the whole unpack.
/// A reader stopped by the free-space reserve (`free_space.rs`) fails it with that refusal.
pub fn unpack(reader: impl Read, dest: &Path) -> Result<()> {
    unpack_entries(reader, dest).map_err(EngineError::or_no_space)
}

fn unpack_entries(reader: impl Read, dest: &Path) -> Result<()> {
    let tree = ConfinedDir::open(dest).map_err(|e| confined_err(dest, e))?;
    // A layer that has no entry for its own top (most layers built on another, COPY's and
    // RUN's) gets a top of 0755, as Docker makes one: the container's `/` takes the top
    // layer's (`rootfs::match_root`), and the directory made for the layer has rpod's
    // umask (0700), which made `/` of a container of such an image unreadable to its users.
    rfs::fchmod(tree.top(), Mode::from_raw_mode(0o755))
        .map_err(|e| EngineError::io("setting the mode of", dest, e.into()))?;
    let mut archive = tar::Archive::new(MetadataGuard::new(reader));
    let tar_err = |e: io::Error| EngineError::io(TAR_READ, dest, e);
    let mut dirs = Vec::new();
    for entry in archive.entries().map_err(tar_err)? {
        let mut entry = entry.map_err(tar_err)?;
        let raw_path = entry.path().map_err(tar_err)?.into_owned();
        let Some(relative) = plain_relative(&raw_path) else {
            return Err(bad_entry(dest, &raw_path, "escapes the layer"));
        };
        unpack_entry(&tree, &mut entry, &relative, &mut dirs).map_err(|e| match e {
            EngineError::BadArchive { message, .. } => bad_entry(dest, &raw_path, &message),
            other => other,
        })?;
    }
    // Deepest first, so that setting a parent's mtime comes after its children changed it.
    for attrs in dirs.iter().rev() {
        let dir = match tree.dir(&attrs.path, false) {
            Ok(dir) => dir,
            // A later entry replaced it with something else.
            Err(_) => continue,
        };
        let shown = dest.join(&attrs.path);
        set_owner_mode_time(&dir, attrs.uid, attrs.gid, attrs.mode, attrs.mtime)
            .map_err(|e| EngineError::io("setting attributes of", &shown, e))?;
    }
    Ok(())
}

fn bad_entry(dest: &Path, entry: &Path, message: &str) -> EngineError {
    EngineError::BadArchive {
        path: dest.display().to_string(),
        message: format!("layer entry {}: {message}", entry.display()),
    }
}

fn confined_err(dest: &Path, e: ConfinedError) -> EngineError {
    match e {
        ConfinedError::Escapes { path, reason } => EngineError::BadArchive {
            path: dest.display().to_string(),
            message: format!("{path} {reason}"),
        },
        ConfinedError::Io { source, .. } => EngineError::io("unpacking layer into", dest, source),
    }
}

/// A name that may be created in a directory.
fn plain_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains('/')
}

fn unpack_entry<R: Read>(
    tree: &ConfinedDir,
    entry: &mut tar::Entry<'_, R>,
    relative: &Path,
    dirs: &mut Vec<DirAttrs>,
) -> Result<()> {
    let dest = Path::new("");
    let escape = |message: String| EngineError::BadArchive {
        path: String::new(),
        message,
    };
    let header = entry.header();
    let kind = header.entry_type();
    let mode = header
        .mode()
        .map_err(|e| escape(format!("bad mode: {e}")))?
        & 0o7777;
    let uid = header.uid().map_err(|e| escape(format!("bad uid: {e}")))?;
    let gid = header.gid().map_err(|e| escape(format!("bad gid: {e}")))?;
    let mtime = header.mtime().unwrap_or(0);
    if relative.as_os_str().is_empty() {
        // The layer's own top (`./`): its mode is the container's `/`.
        if kind.is_dir() {
            dirs.push(DirAttrs {
                path: PathBuf::new(),
                mode,
                uid,
                gid,
                mtime,
            });
        }
        return Ok(());
    }
    let (parent, name) = tree
        .parent_of(relative, true)
        .map_err(|e| confined_err(dest, e))?;
    let name_text = name.to_string_lossy().into_owned();
    let shown = relative.to_path_buf();

    if name_text == OPAQUE_WHITEOUT {
        rfs::fsetxattr(
            &parent,
            "trusted.overlay.opaque",
            b"y",
            rfs::XattrFlags::empty(),
        )
        .map_err(io_at("setting overlay attribute on the parent of", &shown))?;
        return Ok(());
    }
    if let Some(hidden) = name_text.strip_prefix(WHITEOUT_PREFIX) {
        if !plain_name(hidden) {
            return Err(escape(format!(
                "whiteout of {hidden:?} is not a plain name"
            )));
        }
        remove_entry(&parent, OsStr::new(hidden)).map_err(io_at("removing", &shown))?;
        rfs::mknodat(
            &parent,
            hidden,
            rfs::FileType::CharacterDevice,
            Mode::empty(),
            0,
        )
        .map_err(io_at("creating whiteout", &shown))?;
        return Ok(());
    }

    if kind.is_dir() {
        match rfs::statat(&parent, &name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) if rfs::FileType::from_raw_mode(stat.st_mode) == rfs::FileType::Directory => {}
            _ => {
                remove_entry(&parent, &name).map_err(io_at("replacing", &shown))?;
                rfs::mkdirat(&parent, &name, Mode::from_raw_mode(0o700))
                    .map_err(io_at("creating directory", &shown))?;
            }
        }
        dirs.push(DirAttrs {
            path: relative.to_path_buf(),
            mode,
            uid,
            gid,
            mtime,
        });
        return Ok(());
    }

    remove_entry(&parent, &name).map_err(io_at("replacing", &shown))?;
    let times = timestamps(mtime);
    if kind.is_file() || kind == tar::EntryType::Continuous {
        let fd = rfs::openat(
            &parent,
            &name,
            OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )
        .map_err(io_at("creating", &shown))?;
        let mut file = File::from(fd);
        io::copy(entry, &mut file).map_err(io_at("writing", &shown))?;
        set_xattrs(&file, entry)?;
        set_owner_mode_time(&file, uid, gid, mode, mtime)
            .map_err(io_at("setting attributes of", &shown))?;
        return Ok(());
    }
    if kind.is_symlink() {
        let target = entry
            .link_name()
            .map_err(io_at("reading link of", &shown))?
            .ok_or_else(|| escape("symbolic link without a target".into()))?;
        rfs::symlinkat(target.as_ref(), &parent, &name)
            .map_err(io_at("creating symbolic link", &shown))?;
        chown_entry(&parent, &name, uid, gid).map_err(io_at("setting owner of", &shown))?;
        rfs::utimensat(&parent, &name, &times, AtFlags::SYMLINK_NOFOLLOW)
            .map_err(io_at("setting times of", &shown))?;
        return Ok(());
    }
    if kind.is_hard_link() {
        let target = entry
            .link_name()
            .map_err(io_at("reading link of", &shown))?
            .ok_or_else(|| escape("hard link without a target".into()))?;
        let target = plain_relative(&target).ok_or_else(|| {
            escape(format!(
                "hard link to {} escapes the layer",
                target.display()
            ))
        })?;
        let (target_parent, target_name) = tree
            .parent_of(&target, false)
            .map_err(|e| confined_err(dest, e))?;
        // Flags 0: a symlink as the target is linked itself, never followed.
        rfs::linkat(
            &target_parent,
            &target_name,
            &parent,
            &name,
            AtFlags::empty(),
        )
        .map_err(io_at("creating hard link", &shown))?;
        return Ok(());
    }
    if let Some(node) = scratch::node_kind(kind) {
        // The mode exactly as the layer has it: mknod's would lose what the umask takes.
        crate::confined::make_node(
            &parent,
            &name,
            node,
            Mode::from_raw_mode(mode),
            scratch::node_device(entry.header()),
            Some((uid as u32, gid as u32)),
        )
        .map_err(io_at("creating device node", &shown))?;
        rfs::utimensat(&parent, &name, &times, AtFlags::SYMLINK_NOFOLLOW)
            .map_err(io_at("setting times of", &shown))?;
        return Ok(());
    }
    // Global pax headers and other metadata-only entries carry nothing to create.
    Ok(())
}

fn io_at<'a, E: Into<io::Error>>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(E) -> EngineError + 'a {
    move |e| EngineError::io(action, path, e.into())
}

/// Set the owner of `name` in `parent` itself (a link is not followed).
fn chown_entry(parent: &impl AsFd, name: &OsStr, uid: u64, gid: u64) -> rustix::io::Result<()> {
    rfs::chownat(
        parent,
        name,
        Some(uid_of(uid)),
        Some(gid_of(gid)),
        AtFlags::SYMLINK_NOFOLLOW,
    )
}

fn uid_of(uid: u64) -> rfs::Uid {
    rfs::Uid::from_raw(uid as u32)
}

fn gid_of(gid: u64) -> rfs::Gid {
    rfs::Gid::from_raw(gid as u32)
}

/// Access and modification times of `mtime` seconds since 1970, as a tar entry gives them.
pub(crate) fn timestamps(mtime: u64) -> rfs::Timestamps {
    let time = rfs::Timespec {
        tv_sec: mtime as i64,
        tv_nsec: 0,
    };
    rfs::Timestamps {
        last_access: time,
        last_modification: time,
    }
}

/// Owner first: changing the owner clears set-id bits, which the mode then sets again.
fn set_owner_mode_time(
    fd: &impl AsFd,
    uid: u64,
    gid: u64,
    mode: u32,
    mtime: u64,
) -> io::Result<()> {
    rfs::fchown(fd, Some(uid_of(uid)), Some(gid_of(gid)))?;
    rfs::fchmod(fd, Mode::from_raw_mode(mode))?;
    rfs::futimens(fd, &timestamps(mtime))?;
    Ok(())
}

/// Extended attributes a layer may set. Overlay's own (`trusted.overlay.*`, which could
/// redirect lookups into other layers) and other trusted or security attributes are not
/// the layer's to set; file capabilities are, as Docker and podman allow them.
fn xattr_allowed(name: &str) -> bool {
    name.starts_with("user.") || name == "security.capability"
}

fn set_xattrs<R: Read>(file: &File, entry: &mut tar::Entry<'_, R>) -> Result<()> {
    let Some(extensions) = entry
        .pax_extensions()
        .map_err(|e| EngineError::io("reading pax headers of", "(layer entry)", e))?
    else {
        return Ok(());
    };
    for extension in extensions {
        let extension =
            extension.map_err(|e| EngineError::io("reading pax headers of", "(layer entry)", e))?;
        let Ok(key) = extension.key() else { continue };
        let Some(name) = key.strip_prefix("SCHILY.xattr.") else {
            continue;
        };
        if !xattr_allowed(name) {
            continue;
        }
        rfs::fsetxattr(
            file,
            name,
            extension.value_bytes(),
            rfs::XattrFlags::empty(),
        )
        .map_err(|e| EngineError::io("setting extended attribute", name.to_string(), e.into()))?;
    }
    Ok(())
}

/// Open a stored layer blob.
pub fn open_blob(dirs: &LayerDirs, diff_id: &str) -> Result<File> {
    let path = dirs.blob(diff_id);
    File::open(&path).map_err(|e| EngineError::io("opening layer", &path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_with(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, data) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            header.set_uid(0);
            header.set_gid(0);
            header.set_mtime(0);
            header.set_entry_type(tar::EntryType::Regular);
            builder.append_data(&mut header, path, *data).unwrap();
        }
        builder.into_inner().unwrap()
    }

    #[test]
    fn whiteouts_become_overlay_whiteouts() {
        use std::os::unix::fs::FileTypeExt;
        let root = tempfile::tempdir().unwrap();
        let data = tar_with(&[
            ("etc/.wh.removed", b""),
            ("data/.wh..wh..opq", b""),
            ("data/new", b"n"),
        ]);
        let dest = root.path().join("layer");
        fs::create_dir_all(&dest).unwrap();
        unpack(&data[..], &dest).unwrap();
        let whiteout = fs::metadata(dest.join("etc/removed")).unwrap();
        assert!(whiteout.file_type().is_char_device());
        assert_eq!(std::os::unix::fs::MetadataExt::rdev(&whiteout), 0);
        assert!(!dest.join("etc/.wh.removed").exists());
        assert!(!dest.join("data/.wh..wh..opq").exists());
        let mut value = [0u8; 4];
        let path = std::ffi::CString::new(dest.join("data").display().to_string()).unwrap();
        let name = std::ffi::CString::new("trusted.overlay.opaque").unwrap();
        #[allow(unsafe_code)]
        // SAFETY: valid NUL-terminated strings and a buffer of the given length.
        let n = unsafe {
            libc::lgetxattr(
                path.as_ptr(),
                name.as_ptr(),
                value.as_mut_ptr().cast(),
                value.len(),
            )
        };
        assert_eq!(n, 1, "opaque attribute missing");
        assert_eq!(value[0], b'y');
    }

    /// A layer without an entry for its top gets 0755 there, not the umask's 0700 (the
    /// container's `/` takes the top layer's mode); one with an entry gets that entry's.
    #[test]
    fn a_layer_top_is_0755_unless_the_layer_says() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        let data = tar_with(&[("x/file", b"x")]);
        let dest = root.path().join("layer");
        fs::create_dir_all(&dest).unwrap();
        fs::set_permissions(&dest, fs::Permissions::from_mode(0o700)).unwrap();
        unpack(&data[..], &dest).unwrap();
        assert_eq!(
            fs::metadata(&dest).unwrap().permissions().mode() & 0o7777,
            0o755
        );

        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Directory);
        header.set_mode(0o750);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        header.set_size(0);
        builder
            .append_data(&mut header, "./", std::io::empty())
            .unwrap();
        let data = builder.into_inner().unwrap();
        let dest = root.path().join("listed");
        fs::create_dir_all(&dest).unwrap();
        unpack(&data[..], &dest).unwrap();
        assert_eq!(
            fs::metadata(&dest).unwrap().permissions().mode() & 0o7777,
            0o750
        );
    }

    /// Fifos and device nodes keep the layer's mode whatever the process's umask (rpod's
    /// is 077, the tests' usually 022: either took bits from mknod's mode), and their time.
    #[test]
    fn nodes_keep_their_mode() {
        use std::os::unix::fs::{FileTypeExt, MetadataExt};
        let mut builder = tar::Builder::new(Vec::new());
        for (path, kind) in [
            ("data/pipe", tar::EntryType::Fifo),
            ("data/null", tar::EntryType::Char),
        ] {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(kind);
            header.set_size(0);
            header.set_mode(0o666);
            header.set_mtime(1_000_000_000);
            header.set_uid(0);
            header.set_gid(0);
            header.set_device_major(1).unwrap();
            header.set_device_minor(3).unwrap();
            builder
                .append_data(&mut header, path, std::io::empty())
                .unwrap();
        }
        let data = builder.into_inner().unwrap();
        let root = tempfile::tempdir().unwrap();
        let dest = root.path().join("layer");
        fs::create_dir_all(&dest).unwrap();
        unpack(&data[..], &dest).unwrap();
        let pipe = fs::symlink_metadata(dest.join("data/pipe")).unwrap();
        assert!(pipe.file_type().is_fifo());
        assert_eq!(pipe.mode() & 0o7777, 0o666);
        assert_eq!(pipe.mtime(), 1_000_000_000);
        let null = fs::symlink_metadata(dest.join("data/null")).unwrap();
        assert!(null.file_type().is_char_device());
        assert_eq!(null.rdev(), libc::makedev(1, 3));
        assert_eq!(null.mode() & 0o7777, 0o666);
    }

    /// Layer directories under `root`, as a store has them.
    fn test_dirs(root: &Path) -> LayerDirs {
        LayerDirs::new(
            &root.join("images"),
            &root.join("tmp"),
            SpaceGuard::new(root, crate::free_space::TEST_KEEP_FREE),
        )
    }

    #[test]
    fn stores_plain_and_gzip_layers_under_their_diff_id() {
        let root = tempfile::tempdir().unwrap();
        let dirs = test_dirs(root.path());
        let data = tar_with(&[("etc/hello", b"hi\n")]);
        let expected = hex::encode(Sha256::digest(&data));
        let stored = store_layer(&dirs, &data[..], "test").unwrap();
        assert_eq!(stored.diff_id, expected);
        assert!(stored.created);
        assert_eq!(
            fs::read(dirs.dir(&expected).join("etc/hello")).unwrap(),
            b"hi\n"
        );
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&data).unwrap();
        let again = store_layer(&dirs, &gz.finish().unwrap()[..], "test").unwrap();
        assert_eq!(again.diff_id, expected);
        assert!(!again.created);
    }

    #[test]
    fn truncated_layers_are_rejected_and_leave_nothing() {
        let root = tempfile::tempdir().unwrap();
        let dirs = test_dirs(root.path());
        let data = tar_with(&[("big", &[7u8; 10_000])]);
        let err = store_layer(&dirs, &data[..3000], "cut.tar");
        assert!(err.is_err(), "a truncated layer must fail");
        assert_eq!(fs::read_dir(&dirs.unpacked).unwrap().count(), 0);
        assert_eq!(fs::read_dir(&dirs.blobs).unwrap().count(), 0);
    }

    #[test]
    fn what_is_not_a_tar_is_named_by_its_origin() {
        let root = tempfile::tempdir().unwrap();
        let dirs = test_dirs(root.path());
        let garbage = [b'x'; 700];
        let err = store_layer(&dirs, &garbage[..], "garbage.tar")
            .err()
            .expect("garbage is not a layer")
            .to_string();
        // Not rpod's scratch directory, which the user has nothing to do with.
        assert!(
            err.starts_with("garbage.tar: not a valid layer tar"),
            "{err}"
        );
        assert!(!err.contains("layer-"), "{err}");
    }
}
