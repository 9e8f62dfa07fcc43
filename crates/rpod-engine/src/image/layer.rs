//! Layers: each layer's tar is kept (for `save`) and unpacked once into its own directory,
//! with whiteouts turned into overlayfs's form, so that container roots are overlay mounts
//! over the unpacked layers.

use std::fs::{self, File};
use std::io::{self, BufReader, Read, Seek, Write};
use std::path::{Component, Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::{EngineError, Result};

const WHITEOUT_PREFIX: &str = ".wh.";
const OPAQUE_WHITEOUT: &str = ".wh..wh..opq";

/// Where layers live below the images directory.
pub struct LayerDirs {
    pub blobs: PathBuf,
    pub unpacked: PathBuf,
    pub tmp: PathBuf,
}

impl LayerDirs {
    pub fn new(images: &Path, tmp: &Path) -> Self {
        LayerDirs {
            blobs: images.join("blobs"),
            unpacked: images.join("layers"),
            tmp: tmp.to_path_buf(),
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

/// Open a possibly gzip-compressed stream, detected by its magic bytes.
pub fn maybe_gunzip<'a, R: Read + 'a>(reader: R) -> io::Result<Box<dyn Read + 'a>> {
    let mut reader = BufReader::new(reader);
    let head = {
        use std::io::BufRead;
        reader.fill_buf()?.get(..2).map(|b| [b[0], b[1]])
    };
    if head == Some([0x1f, 0x8b]) {
        Ok(Box::new(flate2::read::GzDecoder::new(reader)))
    } else {
        Ok(Box::new(reader))
    }
}

/// Copy a layer stream (plain or gzip) into the store, compute its diff id, unpack it.
/// Nothing appears under its final name until it is complete.
pub fn store_layer(dirs: &LayerDirs, source: impl Read, origin: &str) -> Result<StoredLayer> {
    dirs.ensure()?;
    let bad = |message: String| EngineError::BadArchive {
        path: origin.to_string(),
        message,
    };
    let mut reader = maybe_gunzip(source).map_err(|e| bad(format!("reading layer: {e}")))?;
    let mut blob = tempfile::NamedTempFile::new_in(&dirs.tmp)
        .map_err(|e| EngineError::io("creating temporary file in", &dirs.tmp, e))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        let n = match reader.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(bad(format!("reading layer: {e}"))),
        };
        hasher.update(&buffer[..n]);
        blob.write_all(&buffer[..n])
            .map_err(|e| EngineError::io("writing", blob.path(), e))?;
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
    let staging = tempfile::Builder::new()
        .prefix("layer-")
        .tempdir_in(&dirs.tmp)
        .map_err(|e| EngineError::io("creating temporary directory in", &dirs.tmp, e))?;
    let file = blob.as_file_mut();
    file.rewind()
        .map_err(|e| EngineError::io("rewinding", dirs.tmp.clone(), e))?;
    unpack(&mut *file, staging.path()).map_err(|e| match e {
        EngineError::Io { source, .. } if source.kind() == io::ErrorKind::UnexpectedEof => {
            bad("layer tar is truncated".into())
        }
        other => other,
    })?;
    let staged = staging.keep();
    if let Err(e) = fs::rename(&staged, &final_dir) {
        let _ = fs::remove_dir_all(&staged);
        if !final_dir.exists() {
            return Err(EngineError::io("moving layer into place", &final_dir, e));
        }
    }
    blob.persist(dirs.blob(&diff_id)).map_err(|e| {
        EngineError::io("moving layer blob into place", dirs.blob(&diff_id), e.error)
    })?;
    Ok(StoredLayer {
        diff_id,
        size,
        created: true,
    })
}

/// Unpack a layer tar into `dest`, turning whiteouts into overlayfs whiteouts (0/0
/// character devices) and opaque markers into the `trusted.overlay.opaque` attribute.
pub fn unpack(reader: impl Read, dest: &Path) -> Result<()> {
    let mut archive = tar::Archive::new(reader);
    archive.set_preserve_permissions(true);
    archive.set_preserve_ownerships(true);
    archive.set_preserve_mtime(true);
    archive.set_unpack_xattrs(true);
    archive.set_overwrite(true);
    let tar_err = |e: io::Error| EngineError::io("unpacking layer into", dest, e);
    for entry in archive.entries().map_err(tar_err)? {
        let mut entry = entry.map_err(tar_err)?;
        let path = entry.path().map_err(tar_err)?.into_owned();
        let Some(relative) = safe_relative(&path) else {
            return Err(EngineError::BadArchive {
                path: dest.display().to_string(),
                message: format!("layer entry {} escapes the layer", path.display()),
            });
        };
        let file_name = relative
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let parent = dest.join(relative.parent().unwrap_or(Path::new("")));
        if file_name == OPAQUE_WHITEOUT {
            fs::create_dir_all(&parent)
                .map_err(|e| EngineError::io("creating directory", &parent, e))?;
            xattr_set(&parent, "trusted.overlay.opaque", b"y")?;
            continue;
        }
        if let Some(hidden) = file_name.strip_prefix(WHITEOUT_PREFIX) {
            fs::create_dir_all(&parent)
                .map_err(|e| EngineError::io("creating directory", &parent, e))?;
            let target = parent.join(hidden);
            let _ = fs::remove_file(&target);
            make_node(&target, nix::sys::stat::SFlag::S_IFCHR, 0, 0)?;
            continue;
        }
        let kind = entry.header().entry_type();
        if kind.is_character_special() || kind.is_block_special() {
            let target = dest.join(&relative);
            let major = entry.header().device_major().ok().flatten().unwrap_or(0);
            let minor = entry.header().device_minor().ok().flatten().unwrap_or(0);
            let flag = if kind.is_character_special() {
                nix::sys::stat::SFlag::S_IFCHR
            } else {
                nix::sys::stat::SFlag::S_IFBLK
            };
            let _ = fs::remove_file(&target);
            make_node(&target, flag, major, minor)?;
            continue;
        }
        entry.unpack_in(dest).map_err(tar_err)?;
    }
    Ok(())
}

fn safe_relative(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::CurDir | Component::RootDir => {}
            Component::ParentDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

fn make_node(path: &Path, kind: nix::sys::stat::SFlag, major: u32, minor: u32) -> Result<()> {
    let mode = nix::sys::stat::Mode::from_bits_truncate(0o600);
    let dev = nix::sys::stat::makedev(u64::from(major), u64::from(minor));
    nix::sys::stat::mknod(path, kind, mode, dev)
        .map_err(|e| EngineError::io("creating device node", path, io::Error::from(e)))
}

fn xattr_set(path: &Path, name: &str, value: &[u8]) -> Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let c_path = CString::new(path.as_os_str().as_bytes())
        .map_err(|e| EngineError::io("naming", path, io::Error::other(e)))?;
    let c_name =
        CString::new(name).map_err(|e| EngineError::io("naming", path, io::Error::other(e)))?;
    set_xattr(&c_path, &c_name, value)
        .map_err(|e| EngineError::io("setting overlay attribute on", path, e))
}

#[allow(unsafe_code)]
fn set_xattr(path: &std::ffi::CStr, name: &std::ffi::CStr, value: &[u8]) -> io::Result<()> {
    // Written by hand: nix has no xattr wrapper, and this one call does not justify a crate.
    // SAFETY: both strings are NUL-terminated and live across the call; value's pointer and
    // length describe a valid slice.
    let rc = unsafe {
        libc::lsetxattr(
            path.as_ptr(),
            name.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
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

    #[test]
    fn relative_paths_never_escape() {
        assert_eq!(
            safe_relative(Path::new("/a/./b")),
            Some(PathBuf::from("a/b"))
        );
        assert_eq!(safe_relative(Path::new("a/../../b")), None);
    }

    #[test]
    fn stores_plain_and_gzip_layers_under_their_diff_id() {
        let root = tempfile::tempdir().unwrap();
        let dirs = LayerDirs::new(&root.path().join("images"), &root.path().join("tmp"));
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
        let dirs = LayerDirs::new(&root.path().join("images"), &root.path().join("tmp"));
        let data = tar_with(&[("big", &[7u8; 10_000])]);
        let err = store_layer(&dirs, &data[..3000], "cut.tar");
        assert!(err.is_err(), "a truncated layer must fail");
        assert_eq!(fs::read_dir(&dirs.unpacked).unwrap().count(), 0);
        assert_eq!(fs::read_dir(&dirs.blobs).unwrap().count(), 0);
    }
}
