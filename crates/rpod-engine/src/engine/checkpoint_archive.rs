//! Exported checkpoints: a tar (zstd, gzip or plain) in podman's layout (`checkpoint/`
//! with CRIU's images, `config.dump`, `spec.dump`, `rootfs-diff.tar` with the container's
//! changes, deletions as whiteouts, `volumes/NAME.tar` with its volumes' content), and its
//! import into a new container on this store. The archive is hostile input: only the
//! expected regular files are taken, each under a plain name.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use super::checkpoint::{ArchiveCompression, RestoreRequest};
use super::*;
use crate::free_space::SpaceGuard;
use crate::scratch::ScratchDir;

const CONFIG_DUMP: &str = "config.dump";
const SPEC_DUMP: &str = "spec.dump";
const ROOTFS_DIFF: &str = "rootfs-diff.tar";
const CHECKPOINT_DIR: &str = "checkpoint";
const LOG: &str = "container.log";
const VOLUMES_DIR: &str = "volumes";

/// podman's annotations of a checkpoint image: the original container's name (`name`,
/// which marks an image as a checkpoint's), its image, the runtime.
const CHECKPOINT_ANNOTATION_PREFIX: &str = "io.podman.annotations.checkpoint.";
const CHECKPOINT_NAME_ANNOTATION: &str = "io.podman.annotations.checkpoint.name";

/// What an export takes while the container stands still (stopped, or frozen when left
/// running), beside CRIU's images.
pub(super) struct Taken {
    /// The container's changes to its image (`None` when left out).
    pub rootfs_diff: Option<File>,
    /// Each volume's name and content as a tar.
    pub volumes: Vec<(String, File)>,
    /// How long the log was at the dump.
    pub log_len: u64,
}

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

    /// Each volume's content as a tar in an unnamed scratch file, for an export (none
    /// with `ignore`). Copied by descriptor first, as `volume export` does: another
    /// container may be writing in a volume.
    pub(super) fn volume_archives(
        &self,
        record: &ContainerRecord,
        ignore: bool,
    ) -> Result<Vec<(String, File)>> {
        let mut taken: Vec<(String, File)> = Vec::new();
        if ignore {
            return Ok(taken);
        }
        for name in record
            .config
            .mounts
            .iter()
            .filter_map(|m| m.volume.as_ref())
        {
            if taken.iter().any(|(done, _)| done == name) {
                continue;
            }
            let scratch = crate::scratch::unnamed_file(&self.roots.tmp())?;
            let mut writer = self.roots.space_guard().writer(scratch);
            self.volume_export(name, &mut writer)?;
            let mut file = writer.into_inner();
            io::Seek::rewind(&mut file).map_err(|e| {
                EngineError::io("reading the archive of volume", Path::new(name), e)
            })?;
            taken.push((name.clone(), file));
        }
        Ok(taken)
    }

    /// Write a checkpoint (taken just now) to `file` as a tar compressed as asked, with
    /// what was taken beside CRIU's images.
    pub(super) fn export_checkpoint(
        &self,
        record: &ContainerRecord,
        file: &Path,
        taken: &Taken,
        compression: ArchiveCompression,
    ) -> Result<()> {
        let tmp = file.with_extension("partial");
        let write = || -> io::Result<()> {
            let mut out = File::create(&tmp)?;
            self.write_checkpoint(record, &mut out, taken, compression)?;
            out.sync_all()?;
            fs::rename(&tmp, file)
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&tmp);
            EngineError::io("exporting the checkpoint to", file, e)
        })
    }

    /// A checkpoint image (`--create-image NAME`, podman's): one layer that holds what an
    /// export holds, the container's name and image as annotations.
    pub(super) fn create_checkpoint_image(
        &self,
        record: &ContainerRecord,
        name: &str,
        taken: &Taken,
    ) -> Result<ImageRecord> {
        let mut layer = crate::scratch::unnamed_file(&self.roots.tmp())?;
        let written = self
            .write_checkpoint(record, &mut layer, taken, ArchiveCompression::None)
            .and_then(|_| io::Seek::rewind(&mut layer));
        written.map_err(|e| {
            EngineError::io(
                "writing the checkpoint image's layer in",
                self.roots.tmp(),
                e,
            )
            .or_no_space()
        })?;
        let config = &record.config;
        let options = crate::image::ImportOptions {
            name: Some(name.to_string()),
            message: Some(format!("checkpoint of container {}", config.name)),
            ..Default::default()
        };
        let image =
            self.import_made_image(layer, &format!("checkpoint-{}", config.name), &options)?;
        let runtime = Path::new(&config.runtime)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let annotations: BTreeMap<String, String> = [
            ("name", config.name.clone()),
            ("rawImageName", config.image_name.clone()),
            ("rootfsImageID", config.image_id.clone()),
            ("rootfsImageName", config.image_name.clone()),
            ("runtime.name", runtime),
        ]
        .into_iter()
        .map(|(key, value)| (format!("{CHECKPOINT_ANNOTATION_PREFIX}{key}"), value))
        .collect();
        self.store.add_image_annotations(&image.id, &annotations)?;
        Ok(image)
    }

    /// The archive of a checkpoint into `out`, compressed as asked.
    fn write_checkpoint(
        &self,
        record: &ContainerRecord,
        out: &mut File,
        taken: &Taken,
        compression: ArchiveCompression,
    ) -> io::Result<()> {
        let images = self.roots.bundle_dir(record.id()).join(CHECKPOINT_DIR);
        let Taken {
            rootfs_diff,
            volumes,
            log_len,
        } = taken;
        let log_len = *log_len;
        let build = |out: &mut dyn Write| -> io::Result<()> {
            let mut builder = tar::Builder::new(out);
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
            // Each taken file is read from its start (an export and an image may both
            // read it).
            if let Some(diff) = rootfs_diff {
                let mut diff: &File = diff;
                io::Seek::rewind(&mut diff)?;
                let mut header = file_header(diff.metadata()?.len());
                builder.append_data(&mut header, ROOTFS_DIFF, diff)?;
            }
            for (name, content) in volumes {
                let mut content: &File = content;
                io::Seek::rewind(&mut content)?;
                let mut header = file_header(content.metadata()?.len());
                let path = format!("{VOLUMES_DIR}/{name}.tar");
                builder.append_data(&mut header, path, content)?;
            }
            builder.into_inner().map(drop)
        };
        match compression {
            ArchiveCompression::None => build(out),
            ArchiveCompression::Gzip => {
                let mut gz = flate2::write::GzEncoder::new(out, flate2::Compression::fast());
                build(&mut gz)?;
                gz.finish().map(drop)
            }
            ArchiveCompression::Zstd => {
                // ruzstd's encoder reads its input: the archive is built into a pipe that
                // a second thread compresses into the file.
                let (mut archive, writer) = io::pipe()?;
                std::thread::scope(|scope| {
                    let compressor = scope
                        .spawn(move || crate::image::compression::zstd_compress(&mut archive, out));
                    // The writer's end closes when the archive is built (or fails), which
                    // ends the compressor's input.
                    let built = {
                        let mut writer = writer;
                        build(&mut writer)
                    };
                    let compressed = compressor
                        .join()
                        .unwrap_or_else(|_| Err(io::Error::other("the compressor failed")));
                    built.and(compressed)
                })
            }
        }
    }

    /// Unpack an exported checkpoint into a new container; its ID. The container is
    /// checkpointed, ready for `restore_locked`; anything that fails removes it again.
    pub(super) fn import_checkpoint(
        &self,
        file: &Path,
        origin: &str,
        request: &RestoreRequest,
    ) -> Result<String> {
        let scratch = ScratchDir::new(&self.roots.tmp(), "import")?;
        unpack_archive(file, origin, scratch.path(), &self.roots.space_guard())?;
        let config_bytes =
            fs::read(scratch.path().join(CONFIG_DUMP)).map_err(|_| EngineError::BadArchive {
                path: origin.to_string(),
                message: "no config.dump: not an exported checkpoint".into(),
            })?;
        let mut config: ContainerConfig =
            serde_json::from_slice(&config_bytes).map_err(|e| EngineError::BadArchive {
                path: origin.to_string(),
                message: format!("config.dump is damaged: {e}"),
            })?;
        if !scratch
            .path()
            .join(CHECKPOINT_DIR)
            .join("inventory.img")
            .exists()
        {
            return Err(EngineError::BadArchive {
                path: origin.to_string(),
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
        self.imported_network(&mut config, request)?;
        for join in &config.net.networks {
            self.network(&join.name)?;
        }
        // The volumes' content the archive holds goes into new volumes: a named volume
        // that is here already is refused (its content and the archive's would mix), as
        // podman's; `--ignore-volumes` uses the volumes here as they are.
        let archived = |name: &str| -> Option<PathBuf> {
            let tar = scratch.path().join(VOLUMES_DIR).join(format!("{name}.tar"));
            (!request.ignore_volumes && tar.is_file()).then_some(tar)
        };
        let mut new_named = Vec::new();
        for mount in &config.mounts {
            let Some(name) = mount.volume.as_ref().filter(|_| !mount.anonymous) else {
                continue;
            };
            if self.store.volume(name)?.is_some() {
                if archived(name).is_some() {
                    return Err(EngineError::InvalidArg(format!(
                        "volume with name {name} already exists. Use --ignore-volumes to not restore content of volumes"
                    )));
                }
            } else if !new_named.contains(name) {
                new_named.push(name.clone());
            }
        }
        // Each mount's volume in the archive (an anonymous volume gets a new name here).
        let old_volumes: Vec<Option<String>> =
            config.mounts.iter().map(|m| m.volume.clone()).collect();
        for mount in &mut config.mounts {
            if mount.anonymous {
                mount.volume = Some(String::new());
            }
        }
        let forget_new_volumes = || {
            for name in &new_named {
                let _ = self.volume_remove(name, false);
            }
        };
        if let Err(e) = self.attach_volumes(&mut config.mounts, &[], super::ImageVolumes::Ignore) {
            forget_new_volumes();
            return Err(e);
        }
        let mut state = ContainerState::new();
        state.status = Status::Exited;
        state.checkpointed = true;
        state.checkpointed_at = Some(Utc::now());
        let mut record = ContainerRecord { config, state };
        if let Err(e) = self.store.insert_container(&record) {
            for mount in record.config.mounts.iter().filter(|m| m.anonymous) {
                if let Some(name) = &mount.volume {
                    let _ = self.volume_remove(name, false);
                }
            }
            forget_new_volumes();
            return Err(e);
        }
        let id = record.id().to_string();
        let result = (|| {
            let mut filled = Vec::new();
            for (mount, old) in record.config.mounts.iter().zip(&old_volumes) {
                let (Some(name), Some(old)) = (&mount.volume, old) else {
                    continue;
                };
                let Some(tar) = archived(old).filter(|_| !filled.contains(name)) else {
                    continue;
                };
                let mut content =
                    File::open(&tar).map_err(|e| EngineError::io("opening", &tar, e))?;
                let origin = format!("{origin} ({VOLUMES_DIR}/{old}.tar)");
                self.volume_import(name, &mut content, &origin)?;
                filled.push(name.clone());
            }
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
            forget_new_volumes();
            return Err(e);
        }
        Ok(id)
    }

    /// The layer (an uncompressed tar) of the checkpoint image `name`: an image with
    /// podman's checkpoint annotation and one layer. `None` for anything else.
    pub(super) fn checkpoint_image_layer(&self, name: &str) -> Result<Option<PathBuf>> {
        let Ok(image) = crate::image::resolve(&self.store, name) else {
            return Ok(None);
        };
        if !image.annotations.contains_key(CHECKPOINT_NAME_ANNOTATION) {
            return Ok(None);
        }
        match image.layers.as_slice() {
            [layer] => Ok(Some(crate::image::layer_dirs(&self.roots).blob(layer))),
            _ => Err(EngineError::InvalidArg(format!(
                "image {name} is not a checkpoint image of rpod's: it has {} layers, not one",
                image.layers.len()
            ))),
        }
    }

    /// An imported container's network as the restore was asked: without the addresses
    /// it was given (`--ignore-static-ip`, `--ignore-static-mac`), with other published
    /// ports (`--publish`, host ports chosen as `run -p` chooses them).
    fn imported_network(
        &self,
        config: &mut ContainerConfig,
        request: &RestoreRequest,
    ) -> Result<()> {
        for join in &mut config.net.networks {
            if request.ignore_static_ip {
                join.ip = None;
                join.ip6 = None;
            }
            if request.ignore_static_mac {
                join.mac = None;
            }
        }
        if request.publish.is_empty() {
            return Ok(());
        }
        if config.network != crate::container::NetworkMode::Bridge {
            return Err(EngineError::InvalidArg(format!(
                "--publish needs a bridged network: the container's is {}",
                config.network.as_string()
            )));
        }
        let mut ports = Vec::new();
        for spec in &request.publish {
            ports.extend(crate::network::ports::parse_publish(spec)?);
        }
        let others: Vec<_> = self
            .store
            .containers()?
            .into_iter()
            .flat_map(|c| c.config.net.ports)
            .collect();
        crate::network::ports::assign_host_ports(&mut ports, &others)?;
        config.net.ports = ports;
        config.net.publish_all = false;
        Ok(())
    }
}

/// The names an exported checkpoint may hold.
fn expected(path: &Path) -> Option<PathBuf> {
    let rel = crate::confined::plain_relative(path)?;
    let parts: Vec<&std::ffi::OsStr> = rel.iter().collect();
    match parts.as_slice() {
        [name]
            if [
                CONFIG_DUMP,
                SPEC_DUMP,
                ROOTFS_DIFF,
                CHECKPOINT_DIR,
                LOG,
                VOLUMES_DIR,
            ]
            .iter()
            .any(|n| *name == *n) =>
        {
            Some(rel)
        }
        [dir, _file] if *dir == CHECKPOINT_DIR => Some(rel),
        [dir, file] if *dir == VOLUMES_DIR => {
            let name = file.to_str()?.strip_suffix(".tar")?;
            crate::names::valid_name(name).then_some(rel)
        }
        _ => None,
    }
}

/// Unpack the archive's expected regular files (and the `checkpoint` directory) into
/// `dest`; anything else refuses the whole archive.
fn unpack_archive(file: &Path, origin: &str, dest: &Path, space: &SpaceGuard) -> Result<()> {
    let bad = |message: String| EngineError::BadArchive {
        path: origin.to_string(),
        message,
    };
    // A read stopped by the free-space reserve says so, not that the archive is bad.
    let unreadable =
        |what: String, e: io::Error| EngineError::from_io_or(e, |e| bad(format!("{what}: {e}")));
    let input = File::open(file).map_err(|e| EngineError::io("opening", file, e))?;
    let reader = crate::image::compression::decompressed(io::BufReader::new(input))
        .map_err(|e| bad(format!("reading: {e}")))?;
    let mut archive = tar::Archive::new(space.reader(reader));
    for dir in [CHECKPOINT_DIR, VOLUMES_DIR] {
        fs::create_dir_all(dest.join(dir)).map_err(|e| EngineError::io("creating", dest, e))?;
    }
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
            tar::EntryType::Directory
                if rel == Path::new(CHECKPOINT_DIR) || rel == Path::new(VOLUMES_DIR) =>
            {
                continue
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Only podman's members are taken from an archive: volumes as `volumes/NAME.tar` of a
    /// valid volume name, nothing deeper, nothing that leaves the directory.
    #[test]
    fn an_archive_holds_only_podmans_members() {
        for taken in [
            "config.dump",
            "checkpoint/pages-1.img",
            "volumes",
            "volumes/data.tar",
            "volumes/my-vol_1.tar",
            "./volumes/data.tar",
        ] {
            assert!(expected(Path::new(taken)).is_some(), "{taken}");
        }
        for refused in [
            "volumes/data",
            "volumes/.tar",
            "volumes/-x.tar",
            "volumes/a/b.tar",
            "volumes/../config.dump",
            "../volumes/data.tar",
            "checkpoint/a/b",
            "other",
        ] {
            assert!(expected(Path::new(refused)).is_none(), "{refused}");
        }
    }
}
