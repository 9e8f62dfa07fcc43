//! Exported checkpoints: a tar.gz in podman's layout (`checkpoint/` with CRIU's images,
//! `config.dump`, `spec.dump`, `rootfs-diff.tar` with the container's changes, deletions as
//! whiteouts), and its import into a new container on this store. The archive is hostile
//! input: only the expected regular files are taken, each under a plain name.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use super::checkpoint::RestoreRequest;
use super::*;
use crate::free_space::SpaceGuard;
use crate::scratch::ScratchDir;

const CONFIG_DUMP: &str = "config.dump";
const SPEC_DUMP: &str = "spec.dump";
const ROOTFS_DIFF: &str = "rootfs-diff.tar";
const CHECKPOINT_DIR: &str = "checkpoint";
const LOG: &str = "container.log";

/// The largest archive member read into memory (`config.dump`, `spec.dump`).
const DUMP_LIMIT: u64 = 16 << 20;

/// A header for a file rpod writes into an archive: root's, mode 0600.
fn file_header(size: u64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_size(size);
    header.set_mode(0o600);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    );
    header
}

impl Engine {
    /// The container's changes to its image as a tar (deletions as whiteouts), for an
    /// export: an unnamed scratch file (the container decides how large it is, so not in
    /// memory), read from its start. `None` without an image's root or when left out
    /// (`--ignore-rootfs`).
    pub(super) fn rootfs_diff(
        &self,
        record: &ContainerRecord,
        ignore_rootfs: bool,
    ) -> Result<Option<File>> {
        if ignore_rootfs || record.config.rootfs.is_some() {
            return Ok(None);
        }
        let upper = self.overlay_dirs(record).upper;
        let scratch = crate::scratch::unnamed_file(&self.roots.tmp())?;
        let take = || -> io::Result<File> {
            // The container decides how large: the copy keeps rpod's free-space reserve.
            let mut diff = tar::Builder::new(self.roots.space_guard().writer(scratch));
            diff.follow_symlinks(false);
            // A restore needs the upper directory as it was, mount points included.
            crate::upper_diff::append_layer(&mut diff, &upper, &|_| false, None)?;
            let mut file = diff.into_inner()?.into_inner();
            io::Seek::rewind(&mut file)?;
            Ok(file)
        };
        take().map(Some).map_err(|e| {
            EngineError::io("reading the container's changes in", &upper, e).or_no_space()
        })
    }

    /// Write a checkpoint (taken just now) to `file` as a tar.gz, with the log up to
    /// `log_len` and the root's changes as `rootfs_diff` took them.
    pub(super) fn export_checkpoint(
        &self,
        record: &ContainerRecord,
        file: &Path,
        rootfs_diff: Option<File>,
        log_len: u64,
    ) -> Result<()> {
        let images = self.roots.bundle_dir(record.id()).join(CHECKPOINT_DIR);
        let tmp = file.with_extension("partial");
        let write = || -> io::Result<()> {
            let out = File::create(&tmp)?;
            let gz = flate2::write::GzEncoder::new(out, flate2::Compression::fast());
            let mut builder = tar::Builder::new(gz);
            builder.follow_symlinks(false);
            let config = serde_json::to_vec_pretty(&record.config).map_err(io::Error::other)?;
            let mut header = file_header(config.len() as u64);
            builder.append_data(&mut header, CONFIG_DUMP, config.as_slice())?;
            builder.append_path_with_name(
                self.roots.bundle_dir(record.id()).join("config.json"),
                SPEC_DUMP,
            )?;
            builder.append_dir_all(CHECKPOINT_DIR, &images)?;
            let log = self.log_path(record);
            if record.config.log_to_file && log.is_file() {
                // Up to the last whole line written before the dump.
                let mut text = Vec::new();
                File::open(&log)?.take(log_len).read_to_end(&mut text)?;
                let whole = text.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
                text.truncate(whole);
                let mut header = file_header(text.len() as u64);
                builder.append_data(&mut header, LOG, text.as_slice())?;
            }
            if let Some(diff) = rootfs_diff {
                let mut header = file_header(diff.metadata()?.len());
                builder.append_data(&mut header, ROOTFS_DIFF, diff)?;
            }
            let gz = builder.into_inner()?;
            let out = gz.finish()?;
            out.sync_all()?;
            fs::rename(&tmp, file)
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&tmp);
            EngineError::io("exporting the checkpoint to", file, e)
        })
    }

    /// Unpack an exported checkpoint into a new container; its ID. The container is
    /// checkpointed, ready for `restore_locked`; anything that fails removes it again.
    pub(super) fn import_checkpoint(
        &self,
        file: &Path,
        request: &RestoreRequest,
    ) -> Result<String> {
        let scratch = ScratchDir::new(&self.roots.tmp(), "import")?;
        unpack_archive(file, scratch.path(), &self.roots.space_guard())?;
        let config_bytes =
            fs::read(scratch.path().join(CONFIG_DUMP)).map_err(|_| EngineError::BadArchive {
                path: file.display().to_string(),
                message: "no config.dump: not an exported checkpoint".into(),
            })?;
        let mut config: ContainerConfig =
            serde_json::from_slice(&config_bytes).map_err(|e| EngineError::BadArchive {
                path: file.display().to_string(),
                message: format!("config.dump is damaged: {e}"),
            })?;
        if !scratch
            .path()
            .join(CHECKPOINT_DIR)
            .join("inventory.img")
            .exists()
        {
            return Err(EngineError::BadArchive {
                path: file.display().to_string(),
                message: "no checkpoint images (checkpoint/inventory.img)".into(),
            });
        }
        // A new container from the old one's configuration, on the same image: by ID, or
        // by name (an image imported again has another ID).
        if !config.image_id.is_empty() && self.store.image(&config.image_id)?.is_none() {
            match crate::image::resolve(&self.store, &config.image_name) {
                Ok(image) => config.image_id = image.id,
                Err(_) => {
                    return Err(EngineError::NoSuchImage(format!(
                        "{} (image {} of the checkpoint; load it first)",
                        config.image_name, config.image_id
                    )))
                }
            }
        }
        config.id = random_id();
        // The log lives in the new container's directory (a path of another host means
        // nothing here).
        config.log_path = None;
        if let Some(name) = &request.name {
            if !valid_name(name) {
                return Err(EngineError::InvalidArg(format!(
                    "invalid container name {name:?}"
                )));
            }
            config.name = name.clone();
        }
        config.created = Utc::now();
        config.hostname = if config.hostname.len() == 12 && !config.hostname.contains('.') {
            config.id[..12].to_string()
        } else {
            config.hostname.clone()
        };
        for mount in &mut config.mounts {
            if mount.anonymous {
                mount.volume = Some(String::new());
            }
        }
        self.attach_volumes(&mut config.mounts, &[], super::ImageVolumes::Ignore)?;
        for join in &config.net.networks {
            self.network(&join.name)?;
        }
        let mut state = ContainerState::new();
        state.status = Status::Exited;
        state.checkpointed = true;
        state.checkpointed_at = Some(Utc::now());
        let mut record = ContainerRecord { config, state };
        self.store.insert_container(&record)?;
        let id = record.id().to_string();
        let result = (|| {
            let bundle = self.roots.bundle_dir(&id);
            fs::create_dir_all(&bundle).map_err(|e| EngineError::io("creating", &bundle, e))?;
            let images = bundle.join(CHECKPOINT_DIR);
            fs::rename(scratch.path().join(CHECKPOINT_DIR), &images)
                .map_err(|e| EngineError::io("moving the checkpoint to", &images, e))?;
            // The log so far, so that `logs` shows the whole run.
            let log = scratch.path().join(LOG);
            if log.is_file() && record.config.log_to_file {
                let target = self.roots.log_path(&id);
                fs::rename(&log, &target)
                    .map_err(|e| EngineError::io("moving the log to", &target, e))?;
            }
            let diff = scratch.path().join(ROOTFS_DIFF);
            if diff.exists() && !request.ignore_rootfs && record.config.rootfs.is_none() {
                let upper = crate::rootfs::OverlayDirs::new(&self.roots.overlay_dir(&id)).upper;
                if let Some(parent) = upper.parent() {
                    fs::create_dir_all(parent)
                        .map_err(|e| EngineError::io("creating", parent, e))?;
                }
                let reader = File::open(&diff).map_err(|e| EngineError::io("opening", &diff, e))?;
                fs::create_dir_all(&upper).map_err(|e| EngineError::io("creating", &upper, e))?;
                crate::image::layer::unpack(self.roots.space_guard().reader(reader), &upper)?;
                let image = self
                    .store
                    .image(&record.config.image_id)?
                    .ok_or_else(|| EngineError::NoSuchImage(record.config.image_id.clone()))?;
                if let Some(top) = image.layers.last() {
                    let top = crate::image::layer_dirs(&self.roots).dir(top);
                    crate::rootfs::match_root(&upper, &top, None)?;
                }
            }
            Ok(())
        })();
        if let Err(e) = result {
            let _lock = self.lock(&id);
            let _ = self.remove_locked(&mut record, true);
            return Err(e);
        }
        Ok(id)
    }
}

/// The names an exported checkpoint may hold.
fn expected(path: &Path) -> Option<PathBuf> {
    let rel = crate::confined::plain_relative(path)?;
    let parts: Vec<&std::ffi::OsStr> = rel.iter().collect();
    match parts.as_slice() {
        [name]
            if [CONFIG_DUMP, SPEC_DUMP, ROOTFS_DIFF, CHECKPOINT_DIR, LOG]
                .iter()
                .any(|n| *name == *n) =>
        {
            Some(rel)
        }
        [dir, _file] if *dir == CHECKPOINT_DIR => Some(rel),
        _ => None,
    }
}

/// Unpack the archive's expected regular files (and the `checkpoint` directory) into
/// `dest`; anything else refuses the whole archive.
fn unpack_archive(file: &Path, dest: &Path, space: &SpaceGuard) -> Result<()> {
    let bad = |message: String| EngineError::BadArchive {
        path: file.display().to_string(),
        message,
    };
    // A read stopped by the free-space reserve says so, not that the archive is bad.
    let unreadable =
        |what: String, e: io::Error| EngineError::from_io_or(e, |e| bad(format!("{what}: {e}")));
    let input = File::open(file).map_err(|e| EngineError::io("opening", file, e))?;
    let reader = crate::image::compression::decompressed(io::BufReader::new(input))
        .map_err(|e| bad(format!("reading: {e}")))?;
    let mut archive = tar::Archive::new(space.reader(reader));
    fs::create_dir_all(dest.join(CHECKPOINT_DIR))
        .map_err(|e| EngineError::io("creating", dest, e))?;
    for entry in archive
        .entries()
        .map_err(|e| bad(format!("reading: {e}")))?
    {
        let mut entry = entry.map_err(|e| unreadable("reading".into(), e))?;
        let path = entry
            .path()
            .map_err(|e| bad(format!("a bad name: {e}")))?
            .into_owned();
        let Some(rel) = expected(&path) else {
            return Err(bad(format!("unexpected member {}", path.display())));
        };
        match entry.header().entry_type() {
            tar::EntryType::Directory if rel == Path::new(CHECKPOINT_DIR) => continue,
            tar::EntryType::Regular => {}
            other => {
                return Err(bad(format!(
                    "member {} is a {other:?}, not a regular file",
                    path.display()
                )))
            }
        }
        let size = entry.header().size().unwrap_or(0);
        if (rel == Path::new(CONFIG_DUMP) || rel == Path::new(SPEC_DUMP)) && size > DUMP_LIMIT {
            return Err(bad(format!("{} is too large", rel.display())));
        }
        let target = dest.join(&rel);
        let mut out = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&target)
            .map_err(|e| bad(format!("{}: {e}", rel.display())))?;
        io::copy(&mut (&mut entry).take(size), &mut out)
            .map_err(|e| unreadable(rel.display().to_string(), e))?;
    }
    Ok(())
}
