//! Image operations of the engine. They share one lock (`<runroot>/locks/images.lock`), so
//! that a removal never deletes a layer that a concurrent `load` or `import` is about to
//! use, and a container is never created from an image being removed.

use std::io::{Read, Write};
use std::path::Path;

use super::{Engine, Pruned, RemoveOptions};
use crate::image::policy::{Incoming, Unsigned};
use crate::image::{self, reference, ArchiveFormat, ImageInfo, ImageRecord, ImportOptions};
use crate::lock::ContainerLock;
use crate::{EngineError, Result};

/// What removing an image name did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageRemoval {
    /// The image has other names: only this one went.
    Untagged(String),
    /// The image and all its names went.
    Deleted {
        id: String,
        names: Vec<String>,
        /// The image it was committed on (`prune_parents` may take it too).
        parent: Option<String>,
    },
}

impl Engine {
    /// The lock of the image store. Its file lives as long as the images directory.
    pub(super) fn image_lock(&self) -> Result<ContainerLock> {
        ContainerLock::acquire(&self.roots.lock_dir(), "images", &self.roots.images())
    }

    /// `import` of a root file system from outside, which the signature policy must let
    /// in (containers/image's `tarball:` transport; nothing is read before it says).
    pub fn import_image(
        &self,
        source: impl Read,
        origin: &str,
        options: &ImportOptions,
    ) -> Result<ImageRecord> {
        self.signature_policy()?
            .check(&Incoming::Tarball { origin }, &mut Unsigned)?;
        self.import_made_image(source, origin, options)
    }

    /// Import a root file system rpod made itself (an empty `FROM scratch`, the infra
    /// image): no policy applies, as to podman's own.
    pub fn import_made_image(
        &self,
        source: impl Read,
        origin: &str,
        options: &ImportOptions,
    ) -> Result<ImageRecord> {
        let _lock = self.image_lock()?;
        let record = image::import(&self.store, &self.roots, source, origin, options)?;
        let name = self.store.image_names(&record.id)?.join(",");
        self.image_event(&record.id, "import", &name);
        Ok(record)
    }

    /// Load every image of a docker-archive or oci-archive, if the signature policy lets
    /// it in (judged once the archive's kind is known, before anything is stored). `path`:
    /// the archive's file, when it came from one (an oci-archive's policy scope).
    pub fn load_images(
        &self,
        source: impl Read,
        origin: &str,
        path: Option<&Path>,
    ) -> Result<Vec<(ImageRecord, Vec<String>)>> {
        let loaded = self.load_archive(source, origin, path, None, None)?;
        self.loaded_events(&loaded, "load");
        Ok(loaded)
    }

    /// `load_images`, with `pick` one image of it (a pull); `expected`: the kind of archive
    /// the transport named, any other refused.
    fn load_archive(
        &self,
        source: impl Read,
        origin: &str,
        path: Option<&Path>,
        pick: Option<&image::Pick>,
        expected: Option<ArchiveFormat>,
    ) -> Result<Vec<(ImageRecord, Vec<String>)>> {
        let policy = self.signature_policy()?;
        let admit = |format: ArchiveFormat| {
            check_kind(origin, format, expected)?;
            let incoming = match format {
                ArchiveFormat::DockerArchive => Incoming::DockerArchive { origin },
                ArchiveFormat::OciArchive => Incoming::OciArchive { origin, path },
                // A docker-dir sent as a tar (an oci-dir in a tar is an oci-archive).
                ArchiveFormat::DockerDir => Incoming::Dir { origin, path: None },
                ArchiveFormat::OciDir => {
                    return Err(EngineError::InvalidArg(format!(
                        "{origin}: a {format} is a directory, not an archive"
                    )))
                }
            };
            policy.check(&incoming, &mut Unsigned)
        };
        let _lock = self.image_lock()?;
        image::load(&self.store, &self.roots, source, origin, &admit, pick)
    }

    /// Load the image of an oci-dir or docker-dir, if the signature policy lets it in
    /// (containers/image's `oci:` and `dir:` transports, scoped by the directory's path).
    pub fn load_image_directory(&self, dir: &Path) -> Result<Vec<(ImageRecord, Vec<String>)>> {
        let loaded = self.load_directory(dir, None, None)?;
        self.loaded_events(&loaded, "load");
        Ok(loaded)
    }

    fn load_directory(
        &self,
        dir: &Path,
        pick: Option<&image::Pick>,
        expected: Option<ArchiveFormat>,
    ) -> Result<Vec<(ImageRecord, Vec<String>)>> {
        let policy = self.signature_policy()?;
        let origin = dir.display().to_string();
        let admit = |format: ArchiveFormat| {
            check_kind(&origin, format, expected)?;
            let incoming = match format {
                ArchiveFormat::OciDir => Incoming::OciLayout {
                    origin: &origin,
                    path: dir,
                },
                ArchiveFormat::DockerDir => Incoming::Dir {
                    origin: &origin,
                    path: Some(dir),
                },
                ArchiveFormat::DockerArchive | ArchiveFormat::OciArchive => {
                    return Err(EngineError::InvalidArg(format!(
                        "{origin}: a directory is not a {format}"
                    )))
                }
            };
            policy.check(&incoming, &mut Unsigned)
        };
        let _lock = self.image_lock()?;
        image::load_directory(&self.store, &self.roots, dir, &admit, pick)
    }

    /// `pull` of an image from a local transport of containers/image: `docker-archive:`
    /// or `oci-archive:` a file, `oci:` or `dir:` a directory, with `:NAME` after the path
    /// for the image of an archive or layout that holds several. Exactly one image is
    /// taken; it keeps the names the archive records for it.
    pub fn pull_local(&self, source: &LocalSource) -> Result<ImageRecord> {
        let pick = image::Pick {
            reference: source.reference.clone(),
        };
        let loaded = if source.format.is_directory() {
            self.load_directory(&source.path, Some(&pick), Some(source.format))?
        } else if source.path.is_dir() {
            return Err(EngineError::InvalidArg(format!(
                "{} is a directory, not a {} file: use oci:PATH or dir:PATH",
                source.path.display(),
                source.format
            )));
        } else {
            let file = std::fs::File::open(&source.path)
                .map_err(|e| EngineError::io("opening", &source.path, e))?;
            let origin = source.path.display().to_string();
            self.load_archive(
                file,
                &origin,
                Some(&source.path),
                Some(&pick),
                Some(source.format),
            )?
        };
        self.loaded_events(&loaded, "pull");
        let [(record, _)] = <[_; 1]>::try_from(loaded).map_err(|loaded| {
            EngineError::InvalidArg(format!(
                "{}: {} images where one was picked",
                source.path.display(),
                loaded.len()
            ))
        })?;
        Ok(record)
    }

    fn loaded_events(&self, loaded: &[(ImageRecord, Vec<String>)], event: &str) {
        for (record, names) in loaded {
            self.image_event(&record.id, event, &names.join(","));
        }
    }

    /// Write images, each with the names to record for it, as an archive (a directory
    /// format laid out in a tar, as the service sends one; `compress`: a docker-dir's
    /// layers gzip-compressed).
    pub fn save_images(
        &self,
        images: &[(ImageRecord, Vec<String>)],
        format: ArchiveFormat,
        compress: bool,
        out: impl Write,
    ) -> Result<()> {
        image::save(&self.roots, images, format, compress, out)
    }

    /// Write one image as an oci-dir or docker-dir (`compress`: a docker-dir's layers
    /// gzip-compressed) at `path`, a new or empty directory.
    pub fn save_image_directory(
        &self,
        images: &[(ImageRecord, Vec<String>)],
        format: ArchiveFormat,
        path: &Path,
        compress: bool,
    ) -> Result<()> {
        if !format.is_directory() {
            return Err(EngineError::InvalidArg(format!(
                "{format} is an archive, not a directory"
            )));
        }
        format.check_save(images.len(), compress)?;
        image::save_directory(&self.roots, images, format, path, compress)
    }

    /// An image to save under `name`, with the names to record for it: the name asked
    /// for when it is one of the image's; none when it was asked for by ID, as podman.
    pub fn image_for_save(&self, name: &str) -> Result<(ImageRecord, Vec<String>)> {
        let record = self.resolve_image(name)?;
        let names = self.image_names(&record.id)?;
        let asked = image::reference::lookup_candidates(name)
            .ok()
            .and_then(|c| c.into_iter().find(|n| names.contains(n)));
        let by_id = record.id.starts_with(name.trim_start_matches("sha256:"));
        let recorded = match asked {
            Some(n) => vec![n],
            None if by_id => Vec::new(),
            None => names,
        };
        Ok((record, recorded))
    }

    /// An image by id, id prefix or name.
    pub fn resolve_image(&self, name: &str) -> Result<ImageRecord> {
        image::resolve(&self.store, name)
    }

    /// An image by name or ID; a name only a manifest list has gives the list's local image
    /// for `platform` (this machine's when `None`), as podman's `run`, `image exists` and
    /// `image inspect` take a list (`rmi` and `tag` of such a name do not: they mean the
    /// list, or nothing).
    pub fn resolve_image_or_list(
        &self,
        name: &str,
        platform: Option<&image::platform::Platform>,
    ) -> Result<ImageRecord> {
        let asked = match image::resolve(&self.store, name) {
            Err(EngineError::NoSuchImage(asked)) => asked,
            found => return found,
        };
        let Ok(list) = self.manifest_list(name) else {
            return Err(EngineError::NoSuchImage(asked));
        };
        let entry = image::registry::manifest::choose(&list.index, platform, &list.name)?;
        let digest = entry.digest().to_string();
        let local = list.local.get(&digest).map(|id| self.store.image(id));
        match local {
            Some(found) => found?.ok_or_else(|| {
                EngineError::NoSuchImage(format!(
                    "{}: the image of its entry {digest} for the platform was removed",
                    list.name
                ))
            }),
            None => Err(EngineError::NoSuchImage(format!(
                "{}: its entry {digest} for the platform is an image of {} (pull it by that digest)",
                list.name,
                list.remote.get(&digest).map_or("a registry", String::as_str)
            ))),
        }
    }

    pub fn image_names(&self, id: &str) -> Result<Vec<String>> {
        self.store.image_names(id)
    }

    pub fn images(&self) -> Result<Vec<ImageRecord>> {
        self.store.images()
    }

    /// The manifest lists, each as `images` lists it beside the images (as podman's does).
    pub fn manifest_list_images(&self) -> Result<Vec<ImageInfo>> {
        self.store
            .manifest_lists()?
            .iter()
            .map(|list| list.as_image())
            .collect()
    }

    pub fn image_info(&self, record: ImageRecord) -> Result<ImageInfo> {
        image::info(&self.store, &self.roots, record)
    }

    /// Add local names (`localhost/` for names without a registry) to an image.
    pub fn tag_image(&self, name: &str, new_names: &[String]) -> Result<()> {
        let _lock = self.image_lock()?;
        let record = image::resolve(&self.store, name)?;
        let full: Vec<String> = new_names
            .iter()
            .map(|n| reference::normalize_local(n))
            .collect::<Result<_>>()?;
        self.store.add_image_names(&record.id, &full)?;
        for name in full {
            self.image_event(&record.id, "tag", &name);
        }
        Ok(())
    }

    /// Remove an image by name or id. A name of an image that has several only untags it.
    /// An image used by containers is refused unless `force`, which removes them first.
    /// Image filters from keys and values, the images `before=`/`since=` name looked up.
    pub fn image_filters(
        &self,
        pairs: impl IntoIterator<Item = (String, String)>,
        used: crate::image_filters::FilterUse,
    ) -> Result<crate::image_filters::ImageFilters> {
        let mut filters = crate::image_filters::ImageFilters::from_pairs(pairs, used, &|name| {
            Ok(crate::image_filters::made_at(&self.resolve_image(name)?))
        })?;
        if filters.asks_for_containers() {
            filters.set_images_in_use(self.containers_per_image()?.into_keys().collect());
        }
        Ok(filters)
    }

    /// Where `image mount` mounts an image (the run root: mounts end with a reboot).
    fn image_mount_point(&self, id: &str) -> std::path::PathBuf {
        self.roots.runroot.join("image-mounts").join(id)
    }

    /// `image mount`: the image's files, read-only, at a directory of rpod's (mounted once;
    /// mounting again gives the same directory).
    pub fn image_mount(&self, name: &str) -> Result<std::path::PathBuf> {
        let _lock = self.image_lock()?;
        let record = image::resolve(&self.store, name)?;
        let dirs = image::layer_dirs(&self.roots);
        let lower: Vec<std::path::PathBuf> = record.layers.iter().map(|l| dirs.dir(l)).collect();
        // Nothing but root may look in (the run root may let others pass: `paths.rs`).
        let mounts = self.roots.runroot.join("image-mounts");
        crate::paths::create_private(&mounts)
            .map_err(|e| EngineError::io("creating directory", &mounts, e))?;
        let point = self.image_mount_point(&record.id);
        crate::rootfs::mount_read_only(&lower, &point)?;
        Ok(point)
    }

    /// `image unmount`: undo an image's mount; the image's ID if it was mounted.
    pub fn image_unmount(&self, name: &str) -> Result<Option<String>> {
        let _lock = self.image_lock()?;
        let record = image::resolve(&self.store, name)?;
        Ok(self.unmount_image_locked(&record.id)?.then_some(record.id))
    }

    fn unmount_image_locked(&self, id: &str) -> Result<bool> {
        let point = self.image_mount_point(id);
        let mounted = crate::rootfs::is_mounted(&point);
        crate::rootfs::unmount(&point)?;
        match std::fs::remove_dir(&point) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(EngineError::io("removing", &point, e)),
        }
        Ok(mounted)
    }

    /// The images mounted by `image mount`, with where.
    pub fn image_mounts(&self) -> Result<Vec<(ImageRecord, std::path::PathBuf)>> {
        let mounted = self.mounted_image_ids();
        Ok(self
            .store
            .images()?
            .into_iter()
            .filter(|record| mounted.contains(&record.id))
            .map(|record| {
                let point = self.image_mount_point(&record.id);
                (record, point)
            })
            .collect())
    }

    /// The IDs of the images `image mount` mounted, from one read of the mount table.
    fn mounted_image_ids(&self) -> std::collections::HashSet<String> {
        let Ok(dir) = std::fs::canonicalize(self.roots.runroot.join("image-mounts")) else {
            return Default::default();
        };
        crate::mountinfo::mount_points()
            .unwrap_or_default()
            .into_iter()
            .filter(|point| point.parent() == Some(dir.as_path()))
            .filter_map(|point| Some(point.file_name()?.to_string_lossy().into_owned()))
            .collect()
    }

    pub fn remove_image(&self, name: &str, force: bool) -> Result<ImageRemoval> {
        let _lock = self.image_lock()?;
        let record = image::resolve(&self.store, name)?;
        let names = self.store.image_names(&record.id)?;
        let named = reference::lookup_candidates(name)
            .ok()
            .and_then(|c| c.into_iter().find(|n| names.contains(n)));
        if let Some(untag) = named.filter(|_| names.len() > 1) {
            self.store.remove_image_name(&untag)?;
            self.image_event(&record.id, "untag", &untag);
            return Ok(ImageRemoval::Untagged(untag));
        }
        let users = self.containers_using_image(&record)?;
        if !users.is_empty() {
            if !force {
                let ids: Vec<String> = users.iter().map(|c| c.id().to_string()).collect();
                return Err(EngineError::ImageInUse {
                    image: record.id.clone(),
                    containers: ids.join(", "),
                });
            }
            for user in users {
                self.remove(
                    user.id(),
                    RemoveOptions {
                        force: true,
                        timeout: Some(0),
                        volumes: false,
                    },
                )?;
            }
        }
        // A mount of `image mount` is only a view of its layers: undone with it.
        self.unmount_image_locked(&record.id)?;
        image::remove_image(&self.store, &self.roots, &record)?;
        self.image_event(&record.id, "remove", &names.join(","));
        Ok(ImageRemoval::Deleted {
            id: record.id,
            names,
            parent: record.parent,
        })
    }

    /// Remove `parent` and the images it was committed on, in turn, while each is one that
    /// nothing needs any more: unnamed, no other image committed on it, no container, not
    /// mounted (podman's `rmi` does so unless `--no-prune`: a build's intermediate images
    /// go with the image they made). Their IDs.
    pub fn prune_parents(&self, parent: Option<String>) -> Result<Vec<String>> {
        let mut removed = Vec::new();
        let mut next = parent;
        while let Some(id) = next {
            let _lock = self.image_lock()?;
            let Some(record) = self.store.image(&id)? else {
                break;
            };
            let needed = !self.store.image_names(&id)?.is_empty()
                || self.store.image_has_children(&id)?
                || !self.containers_using_image(&record)?.is_empty()
                || self.mounted_image_ids().contains(&id);
            if needed {
                break;
            }
            image::remove_image(&self.store, &self.roots, &record)?;
            self.image_event(&id, "remove", "");
            removed.push(id);
            next = record.parent;
        }
        Ok(removed)
    }

    /// Every image as listings show it, with whether another image was committed on it
    /// (which makes an unnamed one intermediate rather than dangling).
    pub fn image_infos(&self) -> Result<Vec<ImageInfo>> {
        let records = self.images()?;
        let parents: std::collections::HashSet<String> =
            records.iter().filter_map(|r| r.parent.clone()).collect();
        records
            .into_iter()
            .map(|record| {
                let has_children = parents.contains(&record.id);
                let mut info = self.image_info(record)?;
                info.has_children = has_children;
                Ok(info)
            })
            .collect()
    }

    /// Remove names from an image (all of them when `names` is empty); the image stays,
    /// untagged. A name the image does not have is an error.
    pub fn untag_image(&self, image: &str, names: &[String]) -> Result<Vec<String>> {
        let _lock = self.image_lock()?;
        let record = image::resolve(&self.store, image)?;
        let current = self.store.image_names(&record.id)?;
        let wanted: Vec<String> = if names.is_empty() {
            current.clone()
        } else {
            names
                .iter()
                .map(|n| {
                    let candidates = reference::lookup_candidates(n).unwrap_or_default();
                    // podman's words, with the name as it reads a short one (`localhost/`).
                    let shown = candidates.first().cloned().unwrap_or_else(|| n.clone());
                    candidates
                        .into_iter()
                        .find(|c| current.contains(c))
                        .ok_or_else(|| EngineError::InvalidArg(format!("{shown}: tag not known")))
                })
                .collect::<Result<_>>()?
        };
        for name in &wanted {
            self.store.remove_image_name(name)?;
            self.image_event(&record.id, "untag", name);
        }
        Ok(wanted)
    }

    /// Remove images no container uses: unnamed ones, or with `all` every one. `keep`
    /// spares images (filters). Returns the IDs removed with the images' sizes.
    pub fn prune_images(
        &self,
        all: bool,
        keep: &dyn Fn(&image::ImageInfo) -> bool,
    ) -> Result<Vec<Pruned>> {
        let mut removed: Vec<Pruned> = Vec::new();
        let mounted = self.mounted_image_ids();
        let infos = self.image_infos()?;
        let size_of = |id: &str| {
            infos
                .iter()
                .find(|i| i.record.id == id)
                .map_or(0, |i| i.record.size)
        };
        for info in &infos {
            if (!all && !info.is_dangling())
                || removed.iter().any(|p| p.id == info.record.id)
                || !keep(info)
                || !self.containers_using_image(&info.record)?.is_empty()
                // Mounted by `image mount`: in use.
                || mounted.contains(&info.record.id)
            {
                continue;
            }
            {
                let _lock = self.image_lock()?;
                if self.store.image(&info.record.id)?.is_none() {
                    continue;
                }
                image::remove_image(&self.store, &self.roots, &info.record)?;
            }
            self.image_event(&info.record.id, "remove", &info.names.join(","));
            removed.push(Pruned {
                id: info.record.id.clone(),
                size: info.record.size,
            });
            // The intermediate images it was made on, now dangling.
            for id in self.prune_parents(info.record.parent.clone())? {
                let size = size_of(&id);
                removed.push(Pruned { id, size });
            }
        }
        Ok(removed)
    }

    /// `image tree`: the image and its layers as podman draws them, or with
    /// `what_requires` the layers of the images built on it (`image::tree`); also what
    /// podman's service answers its remote clients with.
    pub fn image_tree(&self, info: &image::ImageInfo, what_requires: bool) -> Result<String> {
        let tree_image = |record: &ImageRecord, names: Vec<String>| image::tree::TreeImage {
            id: record.id.clone(),
            layers: record.layers.clone(),
            layer_sizes: self.layer_sizes(record),
            names,
            size: record.size,
        };
        let mut records = self.images()?;
        records.sort_by_key(|r| r.added);
        let mut all = Vec::with_capacity(records.len());
        for record in &records {
            all.push(tree_image(record, self.store.image_names(&record.id)?));
        }
        let this = tree_image(&info.record, info.names.clone());
        Ok(image::tree::render(&this, &all, what_requires))
    }

    /// How an image was made, newest step first: each step of its config's history, with
    /// the size of the layer it made (0 for a step that made none).
    pub fn image_history(&self, info: &image::ImageInfo) -> Vec<HistoryStep> {
        let layer_sizes = self.layer_sizes(&info.record);
        let mut layers = layer_sizes.iter();
        let history = info.config.history().clone().unwrap_or_default();
        let others = self.images().unwrap_or_default();
        let mut layers_so_far = 0;
        let mut steps: Vec<HistoryStep> = history
            .iter()
            .enumerate()
            .map(|(index, step)| {
                let made_layer = !step.empty_layer().unwrap_or(false);
                if made_layer {
                    layers_so_far += 1;
                }
                let image = if index + 1 == history.len() {
                    Some(info.record.id.clone())
                } else {
                    self.image_ending_history(&others, &info.record, layers_so_far, index + 1)
                };
                HistoryStep {
                    size: if made_layer {
                        layers.next().copied().unwrap_or(0)
                    } else {
                        0
                    },
                    created: step
                        .created()
                        .as_deref()
                        .and_then(|c| chrono::DateTime::parse_from_rfc3339(c).ok())
                        .map(|c| c.with_timezone(&chrono::Utc)),
                    created_by: step.created_by().clone().unwrap_or_default(),
                    comment: step.comment().clone().unwrap_or_default(),
                    author: step.author().clone().unwrap_or_default(),
                    image,
                }
            })
            .collect();
        steps.reverse();
        steps
    }

    /// The local image (among `images`) whose history is the first `steps` steps of
    /// `image`'s: the same first `layers` layers and that many steps (a base image, a
    /// build's step), as podman's `history` names them.
    fn image_ending_history(
        &self,
        images: &[ImageRecord],
        image: &ImageRecord,
        layers: usize,
        steps: usize,
    ) -> Option<String> {
        let prefix = image.layers.get(..layers)?;
        images
            .iter()
            .filter(|other| other.id != image.id && other.layers == prefix)
            .find(|other| {
                image::config(&self.roots, &other.id)
                    .is_ok_and(|c| c.history().as_ref().map_or(0, Vec::len) == steps)
            })
            .map(|other| other.id.clone())
    }

    pub fn layer_sizes(&self, image: &ImageRecord) -> Vec<u64> {
        let dirs = image::layer_dirs(&self.roots);
        image
            .layers
            .iter()
            .map(|l| {
                std::fs::metadata(dirs.blob(l))
                    .map(|m| m.len())
                    .unwrap_or(0)
            })
            .collect()
    }
}

/// One step of an image's history (`history`).
#[derive(Debug, Clone)]
pub struct HistoryStep {
    pub created: Option<chrono::DateTime<chrono::Utc>>,
    pub created_by: String,
    /// The layer's size; 0 for a step that made no layer.
    pub size: u64,
    pub comment: String,
    pub author: String,
    /// The local image this step ends (the image itself for its last step; a base image
    /// or a build step's image for earlier ones), if there is one.
    pub image: Option<String>,
}

/// An image named by a local transport of containers/image (`oci-archive:app.tar:v1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalSource {
    pub format: ArchiveFormat,
    pub path: std::path::PathBuf,
    /// The image's name in it (`:NAME` after the path).
    pub reference: Option<String>,
}

impl LocalSource {
    /// `docker-archive:PATH[:NAME]`, `oci-archive:PATH[:NAME]`, `oci:DIR[:NAME]`,
    /// `dir:DIR`; `None` for anything else (a registry's name).
    pub fn parse(text: &str) -> Option<LocalSource> {
        let (transport, rest) = text.split_once(':')?;
        let format = match transport {
            "docker-archive" => ArchiveFormat::DockerArchive,
            "oci-archive" => ArchiveFormat::OciArchive,
            "oci" => ArchiveFormat::OciDir,
            "dir" => ArchiveFormat::DockerDir,
            _ => return None,
        };
        let (path, reference) = match rest.split_once(':') {
            Some((path, name)) if format != ArchiveFormat::DockerDir && !name.is_empty() => {
                (path, Some(name.to_string()))
            }
            _ => (rest, None),
        };
        Some(LocalSource {
            format,
            path: std::path::PathBuf::from(path),
            reference,
        })
    }
}

/// An archive or directory of another kind than its transport said is refused.
fn check_kind(origin: &str, found: ArchiveFormat, expected: Option<ArchiveFormat>) -> Result<()> {
    match expected {
        Some(expected) if expected != found => Err(EngineError::InvalidArg(format!(
            "{origin} is in the {found} format, not {expected} as its transport says"
        ))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod local_source_tests {
    use super::*;

    #[test]
    fn local_transports_name_a_path_and_maybe_an_image() {
        let parsed = LocalSource::parse("oci-archive:/x/app.tar:web:v1").unwrap();
        assert_eq!(parsed.format, ArchiveFormat::OciArchive);
        assert_eq!(parsed.path, Path::new("/x/app.tar"));
        assert_eq!(parsed.reference.as_deref(), Some("web:v1"));
        let parsed = LocalSource::parse("oci:layout").unwrap();
        assert_eq!(
            (parsed.format, parsed.reference),
            (ArchiveFormat::OciDir, None)
        );
        let parsed = LocalSource::parse("dir:/d:x").unwrap();
        assert_eq!(parsed.path, Path::new("/d:x"));
        assert_eq!(
            LocalSource::parse("docker-archive:a.tar").unwrap().format,
            ArchiveFormat::DockerArchive
        );
        assert_eq!(LocalSource::parse("docker.io/library/busybox:1"), None);
        assert_eq!(LocalSource::parse("busybox"), None);
    }
}
