//! `load` and `save`: docker-archive (as `docker save` and `podman save` write it) and
//! oci-archive (an OCI image layout in a tar), plain or gzip-compressed.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::Path;

use oci_spec::image::{
    DescriptorBuilder, ImageIndex, ImageIndexBuilder, ImageManifest, ImageManifestBuilder,
    MediaType,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::compression::decompressed;
use super::layer::{self, StoredLayer};
use super::{add_image, config_bytes, discard_new_layers, layer_dirs, reference, ImageRecord};
use crate::confined::plain_relative;
use crate::paths::Roots;
use crate::scratch;
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
    /// An OCI manifest's annotations.
    annotations: std::collections::BTreeMap<String, String>,
}

/// Load every image of an archive. Returns the loaded images with their names. On failure
/// nothing of the archive stays behind: no image record and no new layer.
/// `admit` says whether an archive of its kind may be loaded at all (the signature
/// policy), once the kind is known and before anything is stored.
pub fn load(
    store: &Store,
    roots: &Roots,
    source: impl Read,
    origin: &str,
    admit: &dyn Fn(ArchiveFormat) -> Result<()>,
) -> Result<Vec<(ImageRecord, Vec<String>)>> {
    let bad = |message: String| EngineError::BadArchive {
        path: origin.to_string(),
        message,
    };
    let reader = decompressed(source).map_err(|e| bad(format!("reading archive: {e}")))?;
    let members = Members::read(roots.space_guard().reader(reader), &roots.tmp(), origin)?;
    let mut pending: Vec<Pending> = Vec::new();
    // A docker-archive holds Docker-format images (as podman takes them).
    let format = if members.has("manifest.json") {
        super::ImageFormat::Docker
    } else {
        super::ImageFormat::Oci
    };
    if members.has("manifest.json") {
        admit(ArchiveFormat::DockerArchive)?;
    } else if members.has("index.json") {
        admit(ArchiveFormat::OciArchive)?;
    }
    let result = if members.has("manifest.json") {
        read_docker_archive(roots, &members, origin, &mut pending)
    } else if members.has("index.json") {
        read_oci_archive(roots, &members, origin, &mut pending)
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
    // Images this load added (not those the store had already): a failure takes them back.
    let mut added = Vec::new();
    for image in &pending {
        let id = hex::encode(Sha256::digest(&image.config));
        let existed = store.image(&id)?.is_some();
        let recorded = add_image(
            store,
            roots,
            &image.config,
            &image.layers,
            &image.names,
            format,
        )
        .and_then(|mut record| {
            if !existed {
                added.push(record.clone());
            }
            store.add_image_annotations(&record.id, &image.annotations)?;
            record.annotations.extend(image.annotations.clone());
            Ok(record)
        });
        match recorded {
            Ok(record) => loaded.push((record, image.names.clone())),
            Err(e) => {
                for record in &added {
                    let _ = store.remove_image(&record.id);
                    let _ = fs::remove_file(super::config_path(roots, &record.id));
                }
                discard_new_layers(store, roots, &all_layers(&pending));
                return Err(bad(e.to_string()));
            }
        }
    }
    Ok(loaded)
}

/// A member of an archive, held without ever being written under its own name.
enum Member {
    /// Small members (manifests, configs) stay in memory.
    Bytes(Vec<u8>),
    /// Larger ones (layers) go to one unnamed spool file that vanishes with the process:
    /// this member is `len` bytes at `offset` in it.
    Spooled { offset: u64, len: u64 },
    /// A symbolic or hard link to another member, by its normalised name.
    Link(String),
}

/// Members larger than this are kept in a file, not in memory.
const IN_MEMORY_LIMIT: u64 = 1 << 20;
/// All members kept in memory together stay below this; the rest go to the file.
const IN_MEMORY_TOTAL: u64 = 64 << 20;
/// The most members an archive may have.
const MAX_MEMBERS: usize = 100_000;
/// JSON documents (manifest, index, configs) larger than this are refused.
const JSON_LIMIT: u64 = 16 << 20;
/// How many links are followed from one member to another before giving up.
const LINK_HOPS: usize = 16;

/// The members of an archive, read in one pass. Nothing is unpacked to disk under a name
/// from the archive, and links are resolved among the members only, never on the host.
struct Members {
    members: std::collections::HashMap<String, Member>,
    /// The unnamed file that holds the large members, one after another.
    spool: Option<File>,
}

/// A member's bytes in the spool file, read by position (no shared file offset).
struct SpoolReader<'a> {
    file: &'a File,
    position: u64,
    end: u64,
}

impl Read for SpoolReader<'_> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        use std::os::unix::fs::FileExt;
        let left = self.end.saturating_sub(self.position);
        if left == 0 {
            return Ok(0);
        }
        let want = buffer
            .len()
            .min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = self.file.read_at(&mut buffer[..want], self.position)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        self.position += n as u64;
        Ok(n)
    }
}

/// An archive member name made plain (`./a//b` is `a/b`), or `None` if it leaves the archive.
fn member_name(name: &Path) -> Option<String> {
    let plain = plain_relative(name)?;
    if name.is_absolute() {
        return None;
    }
    Some(plain.to_string_lossy().into_owned())
}

impl Members {
    fn read(reader: impl Read, tmp: &Path, origin: &str) -> Result<Self> {
        let bad = |message: String| EngineError::BadArchive {
            path: origin.to_string(),
            message,
        };
        // A read stopped by the free-space reserve says so, not that the archive is bad.
        let unreadable = |what: String, e: std::io::Error| {
            EngineError::from_io_or(e, |e| bad(format!("{what}: {e}")))
        };
        let mut archive = tar::Archive::new(super::targuard::MetadataGuard::new(reader));
        let mut members = std::collections::HashMap::new();
        let mut spool: Option<File> = None;
        let mut spooled = 0u64;
        let mut in_memory = 0u64;
        let entries = archive
            .entries()
            .map_err(|e| bad(format!("reading archive: {e}")))?;
        for entry in entries {
            let mut entry = entry.map_err(|e| unreadable("reading archive".into(), e))?;
            let raw = entry
                .path()
                .map_err(|e| bad(format!("reading archive: {e}")))?
                .into_owned();
            let name = member_name(&raw)
                .ok_or_else(|| bad(format!("member {} leaves the archive", raw.display())))?;
            if members.len() >= MAX_MEMBERS {
                return Err(bad(format!(
                    "the archive has more than {MAX_MEMBERS} members"
                )));
            }
            let kind = entry.header().entry_type();
            let member = if kind.is_symlink() || kind.is_hard_link() {
                let target = entry
                    .link_name()
                    .map_err(|e| bad(format!("reading archive: {e}")))?
                    .ok_or_else(|| bad(format!("link {name} has no target")))?;
                // A symlink's target is relative to its own directory; a hard link's to
                // the archive's top.
                let joined = if kind.is_symlink() {
                    if target.is_absolute() {
                        return Err(bad(format!(
                            "member {name} is a link to {} outside the archive",
                            target.display()
                        )));
                    }
                    normalize_lexically(
                        &Path::new(&name)
                            .parent()
                            .unwrap_or(Path::new(""))
                            .join(&target),
                    )
                } else {
                    member_name(&target)
                };
                Member::Link(joined.ok_or_else(|| {
                    bad(format!(
                        "member {name} is a link to {} outside the archive",
                        target.display()
                    ))
                })?)
            } else if kind.is_file() || kind == tar::EntryType::Continuous {
                let size = entry.size();
                if size <= IN_MEMORY_LIMIT && in_memory + size <= IN_MEMORY_TOTAL {
                    let mut bytes = Vec::with_capacity(size as usize);
                    (&mut entry)
                        .take(IN_MEMORY_LIMIT)
                        .read_to_end(&mut bytes)
                        .map_err(|e| unreadable(format!("reading {name}"), e))?;
                    in_memory += bytes.len() as u64;
                    Member::Bytes(bytes)
                } else {
                    let file = match &mut spool {
                        Some(file) => file,
                        None => spool.insert(scratch::unnamed_file(tmp)?),
                    };
                    let len = std::io::copy(&mut entry, file)
                        .map_err(|e| unreadable(format!("reading {name}"), e))?;
                    let member = Member::Spooled {
                        offset: spooled,
                        len,
                    };
                    spooled += len;
                    member
                }
            } else {
                // Directories, devices and the like carry nothing an image needs.
                continue;
            };
            members.insert(name, member);
        }
        Ok(Members { members, spool })
    }

    fn has(&self, name: &str) -> bool {
        self.find(name).is_some()
    }

    /// The member a name refers to, through links among the members.
    fn find(&self, name: &str) -> Option<&Member> {
        let mut name = member_name(Path::new(name))?;
        for _ in 0..LINK_HOPS {
            match self.members.get(&name)? {
                Member::Link(target) => name = target.clone(),
                other => return Some(other),
            }
        }
        None
    }

    fn missing(name: &str, origin: &str) -> EngineError {
        EngineError::BadArchive {
            path: origin.to_string(),
            message: format!("{name}: no such file in the archive"),
        }
    }

    /// A JSON document's bytes (bounded in size).
    fn json_bytes(&self, name: &str, origin: &str) -> Result<Vec<u8>> {
        let mut reader = self.open(name, origin)?;
        let mut bytes = Vec::new();
        (&mut reader)
            .take(JSON_LIMIT + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| EngineError::BadArchive {
                path: origin.to_string(),
                message: format!("{name}: {e}"),
            })?;
        if bytes.len() as u64 > JSON_LIMIT {
            return Err(EngineError::BadArchive {
                path: origin.to_string(),
                message: format!("{name} is larger than {JSON_LIMIT} bytes"),
            });
        }
        Ok(bytes)
    }

    /// A reader over a member's content from its start.
    fn open(&self, name: &str, origin: &str) -> Result<Box<dyn Read + '_>> {
        match self.find(name).ok_or_else(|| Self::missing(name, origin))? {
            Member::Bytes(bytes) => Ok(Box::new(&bytes[..])),
            Member::Spooled { offset, len } => {
                let file = self
                    .spool
                    .as_ref()
                    .ok_or_else(|| Self::missing(name, origin))?;
                Ok(Box::new(SpoolReader {
                    file,
                    position: *offset,
                    end: offset + len,
                }))
            }
            Member::Link(_) => Err(Self::missing(name, origin)),
        }
    }
}

/// `a/./b/../c` is `a/c`; `None` if `..` climbs above the top.
fn normalize_lexically(path: &Path) -> Option<String> {
    let mut parts: Vec<&std::ffi::OsStr> = Vec::new();
    for component in path.components() {
        match component {
            std::path::Component::Normal(part) => parts.push(part),
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                parts.pop()?;
            }
            std::path::Component::RootDir | std::path::Component::Prefix(_) => return None,
        }
    }
    Some(
        parts
            .iter()
            .map(|p| p.to_string_lossy())
            .collect::<Vec<_>>()
            .join("/"),
    )
}

/// Store layers in order, keeping those stored so far in `stored` even when one fails, so
/// that a failed load can take them back.
fn store_layers(
    roots: &Roots,
    members: &Members,
    names: impl Iterator<Item = Result<String>>,
    origin: &str,
    stored: &mut Vec<StoredLayer>,
) -> Result<()> {
    for name in names {
        let name = name?;
        let reader = members.open(&name, origin)?;
        stored.push(layer::store_layer(&layer_dirs(roots), reader, origin)?);
    }
    Ok(())
}

fn read_docker_archive(
    roots: &Roots,
    members: &Members,
    origin: &str,
    pending: &mut Vec<Pending>,
) -> Result<()> {
    let manifest_bytes = members.json_bytes("manifest.json", origin)?;
    let entries: Vec<DockerManifestEntry> =
        serde_json::from_slice(&manifest_bytes).map_err(|e| EngineError::BadArchive {
            path: origin.to_string(),
            message: format!("manifest.json: {e}"),
        })?;
    for entry in entries {
        let config = members.json_bytes(&entry.config, origin)?;
        let mut image = Pending {
            config,
            layers: Vec::new(),
            names: Vec::new(),
            annotations: Default::default(),
        };
        for tag in entry.repo_tags.unwrap_or_default() {
            image.names.push(reference::normalize(&tag)?);
        }
        let names = entry.layers.iter().map(|name| Ok(name.clone()));
        let result = store_layers(roots, members, names, origin, &mut image.layers);
        pending.push(image);
        result?;
    }
    Ok(())
}

/// The member holding a blob, from its digest (`sha256:HEX`).
fn blob_name(digest: &str, origin: &str) -> Result<String> {
    let bad = || EngineError::BadArchive {
        path: origin.to_string(),
        message: format!("bad digest {digest:?}"),
    };
    let (algorithm, hex) = digest.split_once(':').ok_or_else(bad)?;
    let plain = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric());
    if !plain(algorithm) || !plain(hex) {
        return Err(bad());
    }
    Ok(format!("blobs/{algorithm}/{hex}"))
}

/// The most manifests and nested indexes one archive may list (a loop of indexes that
/// refer to each other ends here).
const MAX_DESCRIPTORS: usize = 1024;

fn read_oci_archive(
    roots: &Roots,
    members: &Members,
    origin: &str,
    pending: &mut Vec<Pending>,
) -> Result<()> {
    let bad = |message: String| EngineError::BadArchive {
        path: origin.to_string(),
        message,
    };
    let index: ImageIndex = serde_json::from_slice(&members.json_bytes("index.json", origin)?)
        .map_err(|e| bad(format!("index.json: {e}")))?;
    let mut descriptors: Vec<_> = index.manifests().clone();
    let mut manifests = Vec::new();
    let mut seen = 0usize;
    while let Some(descriptor) = descriptors.pop() {
        seen += 1;
        if seen > MAX_DESCRIPTORS {
            return Err(bad(format!(
                "index lists more than {MAX_DESCRIPTORS} manifests (or refers to itself)"
            )));
        }
        let bytes =
            members.json_bytes(&blob_name(descriptor.digest().as_ref(), origin)?, origin)?;
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
        let config = members.json_bytes(
            &blob_name(manifest.config().digest().as_ref(), origin)?,
            origin,
        )?;
        let mut image = Pending {
            config,
            layers: Vec::new(),
            names: match name {
                Some(n) => vec![reference::normalize(&n)?],
                None => Vec::new(),
            },
            annotations: manifest
                .annotations()
                .clone()
                .unwrap_or_default()
                .into_iter()
                .collect(),
        };
        let names = manifest
            .layers()
            .iter()
            .map(|d| blob_name(d.digest().as_ref(), origin));
        let result = store_layers(roots, members, names, origin, &mut image.layers);
        pending.push(image);
        result?;
    }
    Ok(())
}

/// The header of an archive member `save` writes: a plain file of `size` bytes, root's,
/// dated 1970 (archives of the same images are the same bytes). Every numeric field is set:
/// an unset one is all NULs, which strict readers (the tar crate's, so rpod's own
/// `import`) refuse.
fn member_header(size: u64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_size(size);
    header.set_mode(0o644);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    header.set_entry_type(tar::EntryType::Regular);
    header
}

fn append_bytes<W: Write>(builder: &mut tar::Builder<W>, name: &str, data: &[u8]) -> Result<()> {
    let mut header = member_header(data.len() as u64);
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
    let mut header = member_header(size);
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
                let mut manifest = ImageManifestBuilder::default()
                    .schema_version(2u32)
                    .media_type(MediaType::ImageManifest)
                    .config(config_descriptor)
                    .layers(layer_descriptors)
                    .build()
                    .map_err(build_err)?;
                if !image.annotations.is_empty() {
                    manifest.set_annotations(Some(image.annotations.clone().into_iter().collect()));
                }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every numeric field of a saved member reads back (they were NULs, which the tar
    /// crate refuses: `import` of a saved archive failed).
    #[test]
    fn saved_members_have_every_numeric_field() {
        let mut builder = tar::Builder::new(Vec::new());
        append_bytes(&mut builder, "manifest.json", b"[]").unwrap();
        let bytes = builder.into_inner().unwrap();
        let mut archive = tar::Archive::new(&bytes[..]);
        let entry = archive.entries().unwrap().next().unwrap().unwrap();
        let header = entry.header();
        assert_eq!(header.uid().unwrap(), 0);
        assert_eq!(header.gid().unwrap(), 0);
        assert_eq!(header.mtime().unwrap(), 0);
        assert_eq!(header.mode().unwrap(), 0o644);
        assert_eq!(header.size().unwrap(), 2);
    }

    fn tar_of(members: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (name, data) in members {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            header.set_entry_type(tar::EntryType::Regular);
            builder.append_data(&mut header, name, &data[..]).unwrap();
        }
        builder.into_inner().unwrap()
    }

    #[test]
    fn large_members_share_one_spool_and_read_back_whole() {
        let tmp = tempfile::tempdir().unwrap();
        let big_a: Vec<u8> = (0..3 << 20).map(|i| (i % 7) as u8).collect();
        let big_b: Vec<u8> = (0..2 << 20).map(|i| (i % 11) as u8).collect();
        let archive = tar_of(&[
            ("a", big_a.clone()),
            ("small", b"{}".to_vec()),
            ("b", big_b.clone()),
        ]);
        let members = Members::read(&archive[..], tmp.path(), "test").unwrap();
        let read = |name: &str| {
            let mut bytes = Vec::new();
            members
                .open(name, "test")
                .unwrap()
                .read_to_end(&mut bytes)
                .unwrap();
            bytes
        };
        assert!(read("a") == big_a);
        assert!(read("b") == big_b);
        assert_eq!(read("small"), b"{}");
        // Nothing named was written.
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
    }

    #[test]
    fn archives_with_too_many_members_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let mut builder = tar::Builder::new(Vec::new());
        for i in 0..=MAX_MEMBERS {
            let mut header = tar::Header::new_gnu();
            header.set_size(0);
            header.set_entry_type(tar::EntryType::Regular);
            builder
                .append_data(&mut header, format!("m{i}"), &[][..])
                .unwrap();
        }
        let archive = builder.into_inner().unwrap();
        let err = Members::read(&archive[..], tmp.path(), "test")
            .err()
            .expect("refused");
        assert!(err.to_string().contains("members"), "{err}");
    }
}
