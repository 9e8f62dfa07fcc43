//! `rpod manifest`: manifest lists of local images, made, changed, inspected and pushed
//! (with their images) as podman's are; a registry's list or image manifest inspected.

use super::Engine;
use crate::image::manifest_list::{EntryOptions, ImageEntry, ManifestList};
use crate::image::reference;
use crate::image::registry::{
    self, LayerCompression, ManifestFormat, PushOptions, RegistryOptions,
};
use crate::{EngineError, Result};

impl Engine {
    /// The manifest list `text` names: its name (short names as local ones), or its ID or
    /// a unique prefix of it.
    pub fn manifest_list(&self, text: &str) -> Result<ManifestList> {
        if let Ok(candidates) = reference::lookup_candidates(text) {
            for name in candidates {
                if let Some(list) = self.store.manifest_list(&name)? {
                    return Ok(list);
                }
            }
        }
        let matching: Vec<ManifestList> = self
            .store
            .manifest_lists()?
            .into_iter()
            .filter(|l| text.len() >= 3 && l.id.starts_with(text))
            .collect();
        match <[ManifestList; 1]>::try_from(matching) {
            Ok([list]) => Ok(list),
            Err(found) if found.is_empty() => Err(EngineError::NoSuchImage(format!(
                "{text}: no such manifest list"
            ))),
            Err(_) => Err(EngineError::InvalidArg(format!(
                "{text} names more than one manifest list: give more of its ID"
            ))),
        }
    }

    pub fn manifest_exists(&self, text: &str) -> Result<bool> {
        match self.manifest_list(text) {
            Ok(_) => Ok(true),
            Err(EngineError::NoSuchImage(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// `manifest create NAME [IMAGE...]`: a new list of the local images given; with
    /// `amend`, a list of that name already there is taken (and the images added to it).
    pub fn manifest_create(
        &self,
        name: &str,
        images: &[String],
        amend: bool,
        all: bool,
        registry: &RegistryOptions,
    ) -> Result<ManifestList> {
        let full = reference::normalize_local(name)?;
        let list = {
            let _lock = self.image_lock()?;
            match self.store.manifest_list(&full)? {
                Some(list) if amend => list,
                Some(_) => {
                    return Err(EngineError::InvalidArg(format!(
                        "a manifest list named {full} exists already (--amend adds to it)"
                    )))
                }
                None => {
                    if self.store.image_id_by_name(&full)?.is_some() {
                        return Err(EngineError::InvalidArg(format!(
                            "{full} names an image: a manifest list needs a name of its own"
                        )));
                    }
                    let list = ManifestList::new(crate::names::random_id(), full)?;
                    self.store.save_manifest_list(&list)?;
                    list
                }
            }
        };
        let mut list = list;
        for image in images {
            list = self.manifest_add(&list.name, image, &EntryOptions::default(), all, registry)?;
        }
        Ok(list)
    }

    /// `manifest add LIST IMAGE`: a local image's manifest (as a push in its own format
    /// writes it) as an entry, with its platform unless `options` says another; else (and
    /// for `docker://IMAGE`) the manifest a registry has under that name (of a list, the
    /// entry for the platform `options` names or this machine's, or with `all` each).
    pub fn manifest_add(
        &self,
        list: &str,
        image_text: &str,
        options: &EntryOptions,
        all: bool,
        registry: &RegistryOptions,
    ) -> Result<ManifestList> {
        let local = match image_text.strip_prefix("docker://") {
            Some(remote) => return self.manifest_add_remote(list, remote, options, all, registry),
            None => image_text
                .strip_prefix("containers-storage:")
                .unwrap_or(image_text),
        };
        let opened = {
            let _lock = self.image_lock()?;
            match self.resolve_image(local) {
                Ok(record) => {
                    let source = registry::PushSource::open(&self.roots, &record)?;
                    Some((record, source))
                }
                Err(EngineError::NoSuchImage(_)) if local == image_text => None,
                Err(e) => return Err(e),
            }
        };
        let Some((record, source)) = opened else {
            return self.manifest_add_remote(list, image_text, options, all, registry);
        };
        if all {
            return Err(EngineError::InvalidArg(format!(
                "--all takes a registry's manifest list: {image_text} is a local image"
            )));
        }
        let config = crate::image::parse_config(&record.id, source.config())?;
        let format = ManifestFormat::from(record.format());
        // Compressing the layers is the long part: done without the lock.
        let (manifest, media_type) =
            registry::image_manifest(&self.roots, &record, source, format, LayerCompression::Gzip)?;
        let _lock = self.image_lock()?;
        let mut list = self.manifest_list(list)?;
        list.add_image(
            &ImageEntry {
                image_id: &record.id,
                manifest: &manifest,
                media_type,
                arch: config.architecture().to_string(),
                os: config.os().to_string(),
                variant: config.variant().clone(),
            },
            options,
        )?;
        self.store.save_manifest_list(&list)?;
        Ok(list)
    }

    /// `manifest add` of a registry's image (or list).
    fn manifest_add_remote(
        &self,
        list: &str,
        text: &str,
        options: &EntryOptions,
        all: bool,
        registry_options: &RegistryOptions,
    ) -> Result<ManifestList> {
        // The list must be there before anything is fetched.
        self.manifest_list(list)?;
        let platform = crate::image::platform::Platform {
            os: options.os.clone(),
            arch: options.arch.clone(),
            variant: options.variant.clone(),
        };
        let manifests = self
            .on_first_registry(
                &self.registries_conf()?,
                text,
                registry_options,
                |reference, registry, reach| {
                    registry::remote_manifests(reference, registry, reach, Some(&platform), all)
                },
            )
            .map_err(|e| {
                EngineError::NoSuchImage(format!(
                    "{text}: not a local image, and no registry has it ({e})"
                ))
            })?;
        // Entries of a registry's list keep the list's platforms; `options` named the one
        // chosen of it.
        let entry_options = match all {
            true => EntryOptions {
                arch: None,
                os: None,
                variant: None,
                ..options.clone()
            },
            false => options.clone(),
        };
        let _lock = self.image_lock()?;
        let mut list = self.manifest_list(list)?;
        for manifest in &manifests {
            list.add_remote(manifest, &entry_options)?;
        }
        self.store.save_manifest_list(&list)?;
        Ok(list)
    }

    /// `manifest annotate LIST DIGEST`: an entry's platform and annotations changed.
    pub fn manifest_annotate(
        &self,
        list: &str,
        digest: &str,
        options: &EntryOptions,
    ) -> Result<ManifestList> {
        let _lock = self.image_lock()?;
        let mut list = self.manifest_list(list)?;
        list.annotate(digest, options)?;
        self.store.save_manifest_list(&list)?;
        Ok(list)
    }

    /// `manifest remove LIST DIGEST`: an entry taken out.
    pub fn manifest_remove(&self, list: &str, digest: &str) -> Result<ManifestList> {
        let _lock = self.image_lock()?;
        let mut list = self.manifest_list(list)?;
        list.remove(digest)?;
        self.store.save_manifest_list(&list)?;
        Ok(list)
    }

    /// `manifest rm LIST`: the list deleted (its images stay).
    pub fn manifest_delete(&self, list: &str) -> Result<ManifestList> {
        let _lock = self.image_lock()?;
        let list = self.manifest_list(list)?;
        self.store.remove_manifest_list(&list.name)?;
        Ok(list)
    }

    /// `manifest inspect NAME`: a local list's document, else the manifest a registry
    /// serves under that name (a short name tried on each search registry).
    pub fn manifest_inspect(&self, text: &str, options: &RegistryOptions) -> Result<Vec<u8>> {
        match self.manifest_list(text) {
            Ok(list) => return list.document(),
            Err(EngineError::NoSuchImage(_)) => {}
            Err(e) => return Err(e),
        }
        let (bytes, _) = self.on_first_registry(
            &self.registries_conf()?,
            text,
            options,
            registry::fetch_manifest_of,
        )?;
        // Shown indented, as podman shows it; bytes that are not JSON as they are.
        Ok(serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| serde_json::to_vec_pretty(&v).ok())
            .unwrap_or(bytes))
    }

    /// `manifest push LIST DESTINATION`: with `all`, the list's images first (each by its
    /// digest), then the list under the destination's tag. Returns the list's digest.
    pub fn manifest_push(
        &self,
        list: &str,
        destination: &str,
        options: &PushOptions,
        all: bool,
        progress: &mut dyn FnMut(&str),
    ) -> Result<String> {
        let destination = super::registry::registry_reference(destination)?;
        let host = destination
            .domain
            .clone()
            .unwrap_or_else(|| reference::DEFAULT_DOMAIN.to_string());
        if host == reference::LOCAL_DOMAIN {
            return Err(EngineError::InvalidArg(format!(
                "localhost/ names local images, not a registry: give a destination like localhost:5000/{}",
                destination.path
            )));
        }
        if options.compression != LayerCompression::Gzip {
            return Err(EngineError::InvalidArg(
                "a manifest list's images are pushed as their entries were made: with gzip layers"
                    .into(),
            ));
        }
        let ((document, index_type), images, remote) = {
            let _lock = self.image_lock()?;
            let list = self.manifest_list(list)?;
            if list.index.manifests().is_empty() {
                return Err(EngineError::InvalidArg(format!(
                    "manifest list {} has no entries",
                    list.name
                )));
            }
            // Each source registry reached as a pull would reach it (rpod.conf's insecure
            // registries applied). Credentials and certificates given for the destination
            // go to no other host; another registry's come from the credentials files.
            let remote: Vec<(String, String, RegistryOptions)> = list
                .index
                .manifests()
                .iter()
                .filter(|_| all)
                .filter_map(|d| {
                    let digest = d.digest().to_string();
                    list.remote.get(&digest).map(|source| {
                        let source_host = source.split('/').next().unwrap_or_default();
                        let mut given = options.registry.clone();
                        if source_host != host {
                            given.credentials = None;
                            given.cert_dir = None;
                        }
                        let reach = self.options_for(source_host, &given)?;
                        Ok((digest, source.clone(), reach))
                    })
                })
                .collect::<Result<_>>()?;
            let mut images = Vec::new();
            for descriptor in list.index.manifests().iter().filter(|_| all) {
                let digest = descriptor.digest().to_string();
                let Some(id) = list.local.get(&digest) else {
                    continue;
                };
                let record = self.store.image(id)?.ok_or_else(|| {
                    EngineError::NoSuchImage(format!(
                        "image {} of manifest list {} (entry {digest}) is no longer here",
                        &id[..id.len().min(12)],
                        list.name
                    ))
                })?;
                let format =
                    if descriptor.media_type().to_string() == registry::manifest::DOCKER_MANIFEST {
                        ManifestFormat::DockerV2s2
                    } else {
                        ManifestFormat::Oci
                    };
                let source = registry::PushSource::open(&self.roots, &record)?;
                images.push((record, source, format, digest));
            }
            ((list.document()?, list.media_type()), images, remote)
        };
        let options = self.push_options_for(&destination, options)?;
        registry::push_list(
            &self.roots,
            &document,
            index_type,
            images,
            remote,
            &destination,
            &options,
            progress,
        )
    }
}
