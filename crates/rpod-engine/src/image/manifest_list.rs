//! Manifest lists of rpod's own (`rpod manifest`): an image index kept in the store under a
//! name, whose entries are the manifests local images are pushed as, each with its
//! platform. The list remembers which local image each entry came from, so that a push
//! sends those images (by digest) before the list itself.

use std::collections::{BTreeMap, HashMap};

use oci_spec::image::{
    Arch, Descriptor, DescriptorBuilder, ImageIndex, ImageIndexBuilder, MediaType, Os,
    PlatformBuilder,
};
use serde::{Deserialize, Serialize};

use super::registry::manifest::{DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX};
use crate::{EngineError, Result};

/// A manifest list as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ManifestList {
    /// A random ID of its own (podman prints a list's ID as an image's).
    pub id: String,
    /// Its full name (`localhost/NAME:latest` for a short one).
    pub name: String,
    pub index: ImageIndex,
    /// The entries made from local images: digest → the image's ID.
    #[serde(default)]
    pub local: BTreeMap<String, String>,
    /// The entries of registries' images: digest → `REGISTRY/REPOSITORY` it is in.
    #[serde(default)]
    pub remote: BTreeMap<String, String>,
    /// When it was made (lists made before rpod kept it have none).
    #[serde(default)]
    pub created: Option<chrono::DateTime<chrono::Utc>>,
}

/// What `manifest add` and `manifest annotate` say of an entry beyond its image's own
/// config.
#[derive(Debug, Clone, Default)]
pub struct EntryOptions {
    pub arch: Option<String>,
    pub os: Option<String>,
    pub variant: Option<String>,
    pub os_version: Option<String>,
    pub os_features: Vec<String>,
    /// `KEY=VALUE` annotations of the entry.
    pub annotations: Vec<String>,
}

/// A local image's manifest as a list names it.
pub struct ImageEntry<'a> {
    pub image_id: &'a str,
    /// The manifest's bytes and media type, as a push writes them.
    pub manifest: &'a [u8],
    pub media_type: &'a str,
    /// The image config's platform (architecture, OS, variant).
    pub arch: String,
    pub os: String,
    pub variant: Option<String>,
}

fn build_err(e: impl std::fmt::Display) -> EngineError {
    EngineError::InvalidArg(format!("making the manifest list: {e}"))
}

impl ManifestList {
    pub fn new(id: String, name: String) -> Result<ManifestList> {
        let index = ImageIndexBuilder::default()
            .schema_version(2u32)
            .media_type(MediaType::ImageIndex)
            .manifests(Vec::<Descriptor>::new())
            .build()
            .map_err(build_err)?;
        Ok(ManifestList {
            id,
            name,
            index,
            local: BTreeMap::new(),
            remote: BTreeMap::new(),
            created: Some(chrono::Utc::now()),
        })
    }

    /// The list as `images` shows it, as podman shows a list among its images: its name,
    /// its ID, no layers, the size and digest of its document.
    pub fn as_image(&self) -> Result<super::ImageInfo> {
        let document = self.document()?;
        let made = self.created.unwrap_or(chrono::DateTime::UNIX_EPOCH);
        Ok(super::ImageInfo {
            record: super::ImageRecord {
                id: self.id.clone(),
                layers: Vec::new(),
                size: document.len() as u64,
                created: Some(made),
                added: made,
                digests: vec![super::registry::manifest::sha256_of(&document)],
                docker_format: self.media_type() == DOCKER_LIST,
                parent: None,
                annotations: Default::default(),
            },
            names: vec![self.name.clone()],
            config: Default::default(),
            docker: Default::default(),
            has_children: false,
        })
    }

    /// Add (or replace: the same digest is one entry) a local image's manifest; returns
    /// the entry's digest.
    pub fn add_image(&mut self, entry: &ImageEntry, options: &EntryOptions) -> Result<String> {
        let digest = super::registry::manifest::sha256_of(entry.manifest);
        self.add_descriptor(
            entry.media_type,
            &digest,
            entry.manifest.len() as u64,
            (&entry.arch, &entry.os, entry.variant.as_deref()),
            options,
        )?;
        self.remote.remove(&digest);
        self.local
            .insert(digest.clone(), entry.image_id.to_string());
        Ok(digest)
    }

    /// Add (or replace) a registry's image manifest, in `source` (`REGISTRY/REPOSITORY`).
    pub fn add_remote(
        &mut self,
        manifest: &super::registry::RemoteManifest,
        options: &EntryOptions,
    ) -> Result<String> {
        let platform = (
            manifest.arch.as_str(),
            manifest.os.as_str(),
            manifest.variant.as_deref(),
        );
        self.add_descriptor(
            &manifest.media_type,
            &manifest.digest,
            manifest.size,
            platform,
            options,
        )?;
        self.local.remove(&manifest.digest);
        self.remote
            .insert(manifest.digest.clone(), manifest.source.clone());
        Ok(manifest.digest.clone())
    }

    /// An entry for a manifest with its platform (arch, OS, variant), unless `options`
    /// says another; one of the same digest is replaced in its place.
    fn add_descriptor(
        &mut self,
        media_type: &str,
        digest: &str,
        size: u64,
        (arch, os, variant): (&str, &str, Option<&str>),
        options: &EntryOptions,
    ) -> Result<()> {
        let mut descriptor = DescriptorBuilder::default()
            .media_type(MediaType::from(media_type))
            .digest(
                digest
                    .parse::<oci_spec::image::Digest>()
                    .map_err(build_err)?,
            )
            .size(size)
            .build()
            .map_err(build_err)?;
        let known = |text: &str| Some(text.to_string()).filter(|t| !t.is_empty());
        set_platform(
            &mut descriptor,
            &EntryOptions {
                arch: options.arch.clone().or_else(|| known(arch)),
                os: options.os.clone().or_else(|| known(os)),
                variant: options
                    .variant
                    .clone()
                    .or_else(|| variant.map(String::from)),
                ..options.clone()
            },
        )?;
        set_annotations(&mut descriptor, &options.annotations)?;
        let mut manifests = self.index.manifests().clone();
        match manifests
            .iter_mut()
            .find(|d| d.digest().to_string() == digest)
        {
            Some(same) => *same = descriptor,
            None => manifests.push(descriptor),
        }
        self.index.set_manifests(manifests);
        Ok(())
    }

    /// Change an entry's platform and annotations (`manifest annotate`).
    pub fn annotate(&mut self, digest: &str, options: &EntryOptions) -> Result<()> {
        let wanted = self.entry_digest(digest)?;
        let mut manifests = self.index.manifests().clone();
        for descriptor in manifests.iter_mut() {
            if descriptor.digest().to_string() == wanted {
                set_platform(descriptor, options)?;
                set_annotations(descriptor, &options.annotations)?;
            }
        }
        self.index.set_manifests(manifests);
        Ok(())
    }

    /// Remove an entry (`manifest remove`).
    pub fn remove(&mut self, digest: &str) -> Result<()> {
        let wanted = self.entry_digest(digest)?;
        let mut manifests = self.index.manifests().clone();
        manifests.retain(|d| d.digest().to_string() != wanted);
        self.index.set_manifests(manifests);
        self.local.remove(&wanted);
        self.remote.remove(&wanted);
        Ok(())
    }

    /// The full digest of the entry `digest` names (`sha256:` optional).
    fn entry_digest(&self, digest: &str) -> Result<String> {
        let full = if digest.starts_with("sha256:") {
            digest.to_string()
        } else {
            format!("sha256:{digest}")
        };
        self.index
            .manifests()
            .iter()
            .map(|d| d.digest().to_string())
            .find(|d| *d == full)
            .ok_or_else(|| {
                EngineError::InvalidArg(format!(
                    "manifest list {} has no entry {digest}",
                    self.name
                ))
            })
    }

    /// The list's media type: a Docker manifest list when every entry is a Docker
    /// manifest (as podman makes one of Docker-format images), else an OCI index.
    pub fn media_type(&self) -> &'static str {
        let manifests = self.index.manifests();
        let all_docker = !manifests.is_empty()
            && manifests
                .iter()
                .all(|d| d.media_type().to_string() == DOCKER_MANIFEST);
        if all_docker {
            DOCKER_LIST
        } else {
            OCI_INDEX
        }
    }

    /// The list as it is pushed and inspected, of [`ManifestList::media_type`].
    pub fn document(&self) -> Result<Vec<u8>> {
        let mut index = self.index.clone();
        index.set_media_type(Some(MediaType::from(self.media_type())));
        let mut document = crate::go_json::to_value_sorted(&index).map_err(build_err)?;
        spec_platform_names(&mut document);
        serde_json::to_vec_pretty(&document).map_err(build_err)
    }
}

/// The image spec names a platform's OS version and features `os.version` and
/// `os.features`; `oci-spec` (0.10) writes its field names (`os_version`, `os_features`),
/// which other tools do not read.
fn spec_platform_names(document: &mut serde_json::Value) {
    let Some(manifests) = document.get_mut("manifests").and_then(|m| m.as_array_mut()) else {
        return;
    };
    for platform in manifests
        .iter_mut()
        .filter_map(|m| m.get_mut("platform"))
        .filter_map(|p| p.as_object_mut())
    {
        for (ours, spec) in [("os_version", "os.version"), ("os_features", "os.features")] {
            if let Some(value) = platform.remove(ours) {
                platform.insert(spec.to_string(), value);
            }
        }
    }
}

fn set_platform(descriptor: &mut Descriptor, options: &EntryOptions) -> Result<()> {
    let old = descriptor.platform().clone();
    let arch = options
        .arch
        .clone()
        .or_else(|| old.as_ref().map(|p| p.architecture().to_string()))
        .unwrap_or_else(|| "amd64".into());
    let os = options
        .os
        .clone()
        .or_else(|| old.as_ref().map(|p| p.os().to_string()))
        .unwrap_or_else(|| "linux".into());
    let mut platform = PlatformBuilder::default()
        .architecture(Arch::from(arch.as_str()))
        .os(Os::from(os.as_str()));
    if let Some(variant) = options
        .variant
        .clone()
        .or_else(|| old.as_ref().and_then(|p| p.variant().clone()))
        .filter(|v| !v.is_empty())
    {
        platform = platform.variant(variant);
    }
    if let Some(version) = options
        .os_version
        .clone()
        .or_else(|| old.as_ref().and_then(|p| p.os_version().clone()))
    {
        platform = platform.os_version(version);
    }
    let features = if options.os_features.is_empty() {
        old.as_ref().and_then(|p| p.os_features().clone())
    } else {
        Some(options.os_features.clone())
    };
    if let Some(features) = features {
        platform = platform.os_features(features);
    }
    descriptor.set_platform(Some(platform.build().map_err(build_err)?));
    Ok(())
}

fn set_annotations(descriptor: &mut Descriptor, annotations: &[String]) -> Result<()> {
    if annotations.is_empty() {
        return Ok(());
    }
    let mut all: HashMap<String, String> = descriptor.annotations().clone().unwrap_or_default();
    for annotation in annotations {
        let (key, value) = annotation
            .split_once('=')
            .filter(|(key, _)| !key.is_empty())
            .ok_or_else(|| {
                EngineError::InvalidArg(format!("invalid annotation {annotation:?}: KEY=VALUE"))
            })?;
        all.insert(key.to_string(), value.to_string());
    }
    descriptor.set_annotations(Some(all));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry<'a>(id: &'a str, manifest: &'a [u8], media_type: &'a str) -> ImageEntry<'a> {
        ImageEntry {
            image_id: id,
            manifest,
            media_type,
            arch: "amd64".into(),
            os: "linux".into(),
            variant: None,
        }
    }

    #[test]
    fn entries_carry_their_platform_and_annotations_and_are_kept_once() {
        let mut list = ManifestList::new("id".into(), "localhost/l:latest".into()).unwrap();
        let oci = super::super::registry::manifest::OCI_MANIFEST;
        let first = list
            .add_image(&entry("img1", b"one", oci), &EntryOptions::default())
            .unwrap();
        let second = list
            .add_image(
                &entry("img2", b"two", oci),
                &EntryOptions {
                    arch: Some("arm64".into()),
                    variant: Some("v8".into()),
                    annotations: vec!["team=web".into()],
                    ..Default::default()
                },
            )
            .unwrap();
        // The same manifest again is the same entry.
        list.add_image(&entry("img1", b"one", oci), &EntryOptions::default())
            .unwrap();
        let document: serde_json::Value =
            serde_json::from_slice(&list.document().unwrap()).unwrap();
        assert_eq!(document["mediaType"], OCI_INDEX);
        let manifests = document["manifests"].as_array().unwrap();
        assert_eq!(manifests.len(), 2);
        let by_digest = |digest: &str| {
            manifests
                .iter()
                .find(|m| m["digest"] == digest)
                .unwrap()
                .clone()
        };
        assert_eq!(by_digest(&first)["platform"]["architecture"], "amd64");
        assert_eq!(by_digest(&first)["size"], 3);
        let arm = by_digest(&second);
        assert_eq!(arm["platform"]["architecture"], "arm64");
        assert_eq!(arm["platform"]["variant"], "v8");
        assert_eq!(arm["annotations"]["team"], "web");
        assert_eq!(list.local.get(&second).map(String::as_str), Some("img2"));

        // Annotate changes what it names and keeps the rest; a short digest will do.
        let hex = second.trim_start_matches("sha256:");
        list.annotate(
            hex,
            &EntryOptions {
                os: Some("freebsd".into()),
                os_version: Some("13.2".into()),
                os_features: vec!["f1".into()],
                ..Default::default()
            },
        )
        .unwrap();
        let document: serde_json::Value =
            serde_json::from_slice(&list.document().unwrap()).unwrap();
        assert_eq!(
            document["manifests"][0]["digest"], first,
            "kept in its place"
        );
        let arm = document["manifests"][1].clone();
        assert_eq!(arm["platform"]["os"], "freebsd");
        // Named as the image spec names them.
        assert_eq!(arm["platform"]["os.version"], "13.2");
        assert_eq!(arm["platform"]["os.features"], serde_json::json!(["f1"]));
        assert!(arm["platform"].get("os_version").is_none());
        assert_eq!(arm["platform"]["architecture"], "arm64");

        list.remove(&first).unwrap();
        assert_eq!(list.index.manifests().len(), 1);
        assert!(!list.local.contains_key(&first));
        assert!(list.remove(&first).is_err());
        assert!(list
            .annotate(
                &second,
                &EntryOptions {
                    annotations: vec!["=x".into()],
                    ..Default::default()
                }
            )
            .is_err());
    }

    #[test]
    fn a_list_of_docker_manifests_is_a_docker_list() {
        let mut list = ManifestList::new("id".into(), "localhost/l:latest".into()).unwrap();
        list.add_image(
            &entry("img", b"d", DOCKER_MANIFEST),
            &EntryOptions::default(),
        )
        .unwrap();
        let document: serde_json::Value =
            serde_json::from_slice(&list.document().unwrap()).unwrap();
        assert_eq!(document["mediaType"], DOCKER_LIST);
        assert_eq!(list.media_type(), DOCKER_LIST);
        assert_eq!(document["manifests"][0]["mediaType"], DOCKER_MANIFEST);
    }
}
