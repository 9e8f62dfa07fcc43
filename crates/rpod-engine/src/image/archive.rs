//! `load` and `save`: docker-archive (as `docker save` and `podman save` write it) and
//! oci-archive (an OCI image layout in a tar), plain or gzip-compressed.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use oci_spec::image::{
    DescriptorBuilder, ImageIndex, ImageIndexBuilder, ImageManifest, ImageManifestBuilder,
    MediaType,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::layer::{self, maybe_gunzip, StoredLayer};
use super::{add_image, config_bytes, discard_new_layers, layer_dirs, reference, ImageRecord};
use crate::paths::Roots;
use crate::store::Store;
use crate::{EngineError, Result};

const REF_NAME_ANNOTATION: &str = "org.opencontainers.image.ref.name";
const CONTAINERD_NAME_ANNOTATION: &str = "io.containerd.image.name";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveFormat {
    DockerArchive,
    OciArchive,
}

impl std::str::FromStr for ArchiveFormat {
    type Err = EngineError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "docker-archive" => Ok(ArchiveFormat::DockerArchive),
            "oci-archive" => Ok(ArchiveFormat::OciArchive),
            other => Err(EngineError::InvalidArg(format!(
                "unsupported format {other:?}: supported formats are docker-archive and oci-archive"
            ))),
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct DockerManifestEntry {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers")]
    layers: Vec<String>,
}

/// An image found in an archive, with its layers already stored.
struct Pending {
    config: Vec<u8>,
    layers: Vec<StoredLayer>,
    names: Vec<String>,
}

/// Load every image of an archive. Returns the loaded images with their names. On failure
/// nothing of the archive stays behind: no image record and no new layer.
pub fn load(
    store: &mut Store,
    roots: &Roots,
    source: impl Read,
    origin: &str,
) -> Result<Vec<(ImageRecord, Vec<String>)>> {
    let bad = |message: String| EngineError::BadArchive {
        path: origin.to_string(),
        message,
    };
    let tmp = roots.tmp();
    fs::create_dir_all(&tmp).map_err(|e| EngineError::io("creating directory", &tmp, e))?;
    let staging = tempfile::Builder::new()
        .prefix("load-")
        .tempdir_in(&tmp)
        .map_err(|e| EngineError::io("creating temporary directory in", &tmp, e))?;
    let reader = maybe_gunzip(source).map_err(|e| bad(format!("reading archive: {e}")))?;
    let mut outer = tar::Archive::new(reader);
    outer
        .unpack(staging.path())
        .map_err(|e| bad(format!("reading archive: {e}")))?;
    let dir = staging.path();
    let mut pending: Vec<Pending> = Vec::new();
    let result = if dir.join("manifest.json").is_file() {
        read_docker_archive(roots, dir, origin, &mut pending)
    } else if dir.join("index.json").is_file() {
        read_oci_archive(roots, dir, origin, &mut pending)
    } else {
        Err(bad(
            "payload does not match any of the supported image formats (oci-archive, docker-archive)"
                .into(),
        ))
    };
    let all_layers = |pending: &[Pending]| -> Vec<StoredLayer> {
        pending
            .iter()
            .flat_map(|p| p.layers.iter())
            .map(|l| StoredLayer {
                diff_id: l.diff_id.clone(),
                size: l.size,
                created: l.created,
            })
            .collect()
    };
    if let Err(e) = result {
        discard_new_layers(store, roots, &all_layers(&pending));
        return Err(e);
    }
    if pending.is_empty() {
        return Err(bad("the archive holds no image".into()));
    }
    let mut loaded = Vec::new();
    for image in &pending {
        match add_image(store, roots, &image.config, &image.layers, &image.names) {
            Ok(record) => loaded.push((record, image.names.clone())),
            Err(e) => {
                for (record, _) in &loaded {
                    let _ = store.remove_image(&record.id);
                }
                discard_new_layers(store, roots, &all_layers(&pending));
                return Err(bad(e.to_string()));
            }
        }
    }
    Ok(loaded)
}

/// A path named inside an archive, refusing anything that leaves the archive.
fn inside(dir: &Path, name: &str, origin: &str) -> Result<PathBuf> {
    let relative = Path::new(name);
    if relative.is_absolute()
        || relative
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return Err(EngineError::BadArchive {
            path: origin.to_string(),
            message: format!("archive refers to {name:?} outside itself"),
        });
    }
    Ok(dir.join(relative))
}

fn read_file(path: &Path, origin: &str) -> Result<Vec<u8>> {
    fs::read(path).map_err(|e| EngineError::BadArchive {
        path: origin.to_string(),
        message: format!("{}: {e}", path.display()),
    })
}

fn store_layer_file(roots: &Roots, path: &Path, origin: &str) -> Result<StoredLayer> {
    let file = File::open(path).map_err(|e| EngineError::BadArchive {
        path: origin.to_string(),
        message: format!("layer {}: {e}", path.display()),
    })?;
    layer::store_layer(&layer_dirs(roots), file, origin)
}

/// Store layers in order, keeping those stored so far in `stored` even when one fails, so
/// that a failed load can take them back.
fn store_layers(
    roots: &Roots,
    paths: impl Iterator<Item = Result<PathBuf>>,
    origin: &str,
    stored: &mut Vec<StoredLayer>,
) -> Result<()> {
    for path in paths {
        stored.push(store_layer_file(roots, &path?, origin)?);
    }
    Ok(())
}

fn read_docker_archive(
    roots: &Roots,
    dir: &Path,
    origin: &str,
    pending: &mut Vec<Pending>,
) -> Result<()> {
    let manifest_bytes = read_file(&dir.join("manifest.json"), origin)?;
    let entries: Vec<DockerManifestEntry> =
        serde_json::from_slice(&manifest_bytes).map_err(|e| EngineError::BadArchive {
            path: origin.to_string(),
            message: format!("manifest.json: {e}"),
        })?;
    for entry in entries {
        let config = read_file(&inside(dir, &entry.config, origin)?, origin)?;
        let mut image = Pending {
            config,
            layers: Vec::new(),
            names: Vec::new(),
        };
        for tag in entry.repo_tags.unwrap_or_default() {
            image.names.push(reference::normalize(&tag)?);
        }
        let paths = entry.layers.iter().map(|name| inside(dir, name, origin));
        let result = store_layers(roots, paths, origin, &mut image.layers);
        pending.push(image);
        result?;
    }
    Ok(())
}

fn blob_path(dir: &Path, digest: &str, origin: &str) -> Result<PathBuf> {
    let (algorithm, hex) = digest
        .split_once(':')
        .ok_or_else(|| EngineError::BadArchive {
            path: origin.to_string(),
            message: format!("bad digest {digest:?}"),
        })?;
    inside(dir, &format!("blobs/{algorithm}/{hex}"), origin)
}

fn read_oci_archive(
    roots: &Roots,
    dir: &Path,
    origin: &str,
    pending: &mut Vec<Pending>,
) -> Result<()> {
    let bad = |message: String| EngineError::BadArchive {
        path: origin.to_string(),
        message,
    };
    let index: ImageIndex = serde_json::from_slice(&read_file(&dir.join("index.json"), origin)?)
        .map_err(|e| bad(format!("index.json: {e}")))?;
    let mut descriptors: Vec<_> = index.manifests().clone();
    let mut manifests = Vec::new();
    while let Some(descriptor) = descriptors.pop() {
        let path = blob_path(dir, descriptor.digest().as_ref(), origin)?;
        let bytes = read_file(&path, origin)?;
        if *descriptor.media_type() == MediaType::ImageIndex {
            let nested: ImageIndex =
                serde_json::from_slice(&bytes).map_err(|e| bad(format!("nested index: {e}")))?;
            descriptors.extend(nested.manifests().iter().cloned());
            continue;
        }
        let manifest: ImageManifest =
            serde_json::from_slice(&bytes).map_err(|e| bad(format!("manifest: {e}")))?;
        let annotations = descriptor.annotations().clone().unwrap_or_default();
        let name = annotations
            .get(CONTAINERD_NAME_ANNOTATION)
            .or(annotations.get(REF_NAME_ANNOTATION))
            .filter(|n| n.contains('/') || n.contains(':') || n.contains('.'))
            .cloned();
        manifests.push((manifest, name));
    }
    manifests.reverse();
    for (manifest, name) in manifests {
        let config = read_file(
            &blob_path(dir, manifest.config().digest().as_ref(), origin)?,
            origin,
        )?;
        let mut image = Pending {
            config,
            layers: Vec::new(),
            names: match name {
                Some(n) => vec![reference::normalize(&n)?],
                None => Vec::new(),
            },
        };
        let paths = manifest
            .layers()
            .iter()
            .map(|d| blob_path(dir, d.digest().as_ref(), origin));
        let result = store_layers(roots, paths, origin, &mut image.layers);
        pending.push(image);
        result?;
    }
    Ok(())
}

fn append_bytes<W: Write>(builder: &mut tar::Builder<W>, name: &str, data: &[u8]) -> Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(data.len() as u64);
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_entry_type(tar::EntryType::Regular);
    builder
        .append_data(&mut header, name, data)
        .map_err(|e| EngineError::io("writing archive entry", name, e))
}

fn append_layer<W: Write>(
    builder: &mut tar::Builder<W>,
    roots: &Roots,
    name: &str,
    diff_id: &str,
) -> Result<()> {
    let dirs = layer_dirs(roots);
    let mut file = layer::open_blob(&dirs, diff_id)?;
    let size = file
        .metadata()
        .map_err(|e| EngineError::io("reading", dirs.blob(diff_id), e))?
        .len();
    let mut header = tar::Header::new_gnu();
    header.set_size(size);
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_entry_type(tar::EntryType::Regular);
    builder
        .append_data(&mut header, name, &mut file)
        .map_err(|e| EngineError::io("writing archive entry", name, e))
}

fn build_err(e: impl std::fmt::Display) -> EngineError {
    EngineError::InvalidArg(format!("building image metadata: {e}"))
}

/// Write images (each with the names to record for it) as an archive.
pub fn save(
    roots: &Roots,
    images: &[(ImageRecord, Vec<String>)],
    format: ArchiveFormat,
    out: impl Write,
) -> Result<()> {
    let mut builder = tar::Builder::new(out);
    match format {
        ArchiveFormat::DockerArchive => {
            let mut entries = Vec::new();
            let mut written = HashSet::new();
            for (image, names) in images {
                let config_name = format!("{}.json", image.id);
                if written.insert(config_name.clone()) {
                    append_bytes(&mut builder, &config_name, &config_bytes(roots, &image.id)?)?;
                }
                let mut layer_names = Vec::new();
                for diff_id in &image.layers {
                    let name = format!("{diff_id}/layer.tar");
                    if written.insert(name.clone()) {
                        append_layer(&mut builder, roots, &name, diff_id)?;
                    }
                    layer_names.push(name);
                }
                entries.push(DockerManifestEntry {
                    config: config_name,
                    repo_tags: Some(names.clone()),
                    layers: layer_names,
                });
            }
            let manifest = serde_json::to_vec(&entries).map_err(build_err)?;
            append_bytes(&mut builder, "manifest.json", &manifest)?;
        }
        ArchiveFormat::OciArchive => {
            append_bytes(
                &mut builder,
                "oci-layout",
                br#"{"imageLayoutVersion":"1.0.0"}"#,
            )?;
            let mut written = HashSet::new();
            let mut index_entries = Vec::new();
            for (image, names) in images {
                let config = config_bytes(roots, &image.id)?;
                if written.insert(image.id.clone()) {
                    append_bytes(&mut builder, &format!("blobs/sha256/{}", image.id), &config)?;
                }
                let config_descriptor = DescriptorBuilder::default()
                    .media_type(MediaType::ImageConfig)
                    .digest(sha256_digest(&image.id)?)
                    .size(config.len() as u64)
                    .build()
                    .map_err(build_err)?;
                let mut layer_descriptors = Vec::new();
                for diff_id in &image.layers {
                    if written.insert(diff_id.clone()) {
                        append_layer(
                            &mut builder,
                            roots,
                            &format!("blobs/sha256/{diff_id}"),
                            diff_id,
                        )?;
                    }
                    let size = fs::metadata(layer_dirs(roots).blob(diff_id))
                        .map_err(|e| {
                            EngineError::io("reading", layer_dirs(roots).blob(diff_id), e)
                        })?
                        .len();
                    layer_descriptors.push(
                        DescriptorBuilder::default()
                            .media_type(MediaType::ImageLayer)
                            .digest(sha256_digest(diff_id)?)
                            .size(size)
                            .build()
                            .map_err(build_err)?,
                    );
                }
                let manifest = ImageManifestBuilder::default()
                    .schema_version(2u32)
                    .media_type(MediaType::ImageManifest)
                    .config(config_descriptor)
                    .layers(layer_descriptors)
                    .build()
                    .map_err(build_err)?;
                let manifest_bytes = serde_json::to_vec(&manifest).map_err(build_err)?;
                let manifest_hex = hex::encode(Sha256::digest(&manifest_bytes));
                if written.insert(manifest_hex.clone()) {
                    append_bytes(
                        &mut builder,
                        &format!("blobs/sha256/{manifest_hex}"),
                        &manifest_bytes,
                    )?;
                }
                let name_annotations: Vec<Option<String>> = if names.is_empty() {
                    vec![None]
                } else {
                    names.iter().cloned().map(Some).collect()
                };
                for name in name_annotations {
                    let mut descriptor = DescriptorBuilder::default()
                        .media_type(MediaType::ImageManifest)
                        .digest(sha256_digest(&manifest_hex)?)
                        .size(manifest_bytes.len() as u64);
                    if let Some(name) = name {
                        descriptor = descriptor.annotations(
                            [(REF_NAME_ANNOTATION.to_string(), name)]
                                .into_iter()
                                .collect::<std::collections::HashMap<_, _>>(),
                        );
                    }
                    index_entries.push(descriptor.build().map_err(build_err)?);
                }
            }
            let index = ImageIndexBuilder::default()
                .schema_version(2u32)
                .media_type(MediaType::ImageIndex)
                .manifests(index_entries)
                .build()
                .map_err(build_err)?;
            append_bytes(
                &mut builder,
                "index.json",
                &serde_json::to_vec(&index).map_err(build_err)?,
            )?;
        }
    }
    builder
        .into_inner()
        .and_then(|mut w| w.flush())
        .map_err(|e| EngineError::io("finishing archive", "(output)", e))
}

fn sha256_digest(hex: &str) -> Result<oci_spec::image::Digest> {
    format!("sha256:{hex}")
        .parse()
        .map_err(|e| EngineError::InvalidArg(format!("bad digest sha256:{hex}: {e}")))
}
