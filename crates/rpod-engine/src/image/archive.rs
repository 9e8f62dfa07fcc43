//! `load` and `save`: docker-archive (as `docker save` and `podman save` write it) and
//! oci-archive (an OCI image layout in a tar), plain or gzip-compressed; and the same
//! layout as a directory (oci-dir), and containers/image's `dir:` (docker-dir: a manifest,
//! a `version` file and the blobs by digest).

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
    /// An OCI image layout in a directory.
    OciDir,
    /// containers/image's `dir:` transport: `manifest.json`, `version`, blobs by digest.
    DockerDir,
}

impl ArchiveFormat {
    /// Whether the format is a directory rather than a tar stream.
    pub fn is_directory(self) -> bool {
        matches!(self, ArchiveFormat::OciDir | ArchiveFormat::DockerDir)
    }

    /// The containers/image transport that names it (`dir:` for a docker-dir).
    pub fn transport(self) -> &'static str {
        match self {
            ArchiveFormat::DockerArchive => "docker-archive:",
            ArchiveFormat::OciArchive => "oci-archive:",
            ArchiveFormat::OciDir => "oci:",
            ArchiveFormat::DockerDir => "dir:",
        }
    }

    /// Whether it holds one image only (several go into a docker-archive).
    pub fn holds_one_image(self) -> bool {
        self != ArchiveFormat::DockerArchive
    }

    /// Whether `images` images, `compress`ed or not, can be saved in this format:
    /// several only in a docker-archive, compressed layers only in a docker-dir (podman's
    /// rules).
    pub fn check_save(self, images: usize, compress: bool) -> Result<()> {
        if compress && self != ArchiveFormat::DockerDir {
            return Err(EngineError::InvalidArg(
                "--compress can only be set when --format is 'docker-dir'".into(),
            ));
        }
        if self.holds_one_image() && images > 1 {
            return Err(EngineError::InvalidArg(format!(
                "{self} holds one image: save several images as docker-archive"
            )));
        }
        Ok(())
    }
}

impl std::fmt::Display for ArchiveFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ArchiveFormat::DockerArchive => "docker-archive",
            ArchiveFormat::OciArchive => "oci-archive",
            ArchiveFormat::OciDir => "oci-dir",
            ArchiveFormat::DockerDir => "docker-dir",
        })
    }
}

impl std::str::FromStr for ArchiveFormat {
    type Err = EngineError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "docker-archive" => Ok(ArchiveFormat::DockerArchive),
            "oci-archive" => Ok(ArchiveFormat::OciArchive),
            "oci-dir" => Ok(ArchiveFormat::OciDir),
            "docker-dir" => Ok(ArchiveFormat::DockerDir),
            other => Err(EngineError::InvalidArg(format!(
                "unsupported format {other:?}: supported formats are docker-archive, oci-archive, oci-dir and docker-dir"
            ))),
        }
    }
}

/// The `version` file of containers/image's `dir:` transport.
const DIR_TRANSPORT_VERSION: &[u8] = b"Directory Transport Version: 1.1\n";

#[derive(Debug, Serialize, Deserialize)]
struct DockerManifestEntry {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers")]
    layers: Vec<String>,
}

/// An archive (or image directory) at `origin` that cannot be read as one.
fn bad_archive(origin: &str, message: impl std::fmt::Display) -> EngineError {
    EngineError::BadArchive {
        path: origin.to_string(),
        message: message.to_string(),
    }
}

/// Which image of an archive a pull takes (`oci-archive:PATH:REF`): exactly one, the one
/// recorded under `reference` when it is given. A load takes them all.
#[derive(Debug, Clone, Default)]
pub struct Pick {
    pub reference: Option<String>,
}

impl Pick {
    /// The one entry `name_of` finds named by the reference, or the only one; refused
    /// before any layer is stored.
    fn choose<T>(
        &self,
        entries: Vec<T>,
        names_of: impl Fn(&T) -> Vec<String>,
        origin: &str,
    ) -> Result<Vec<T>> {
        let Some(wanted) = &self.reference else {
            return match entries.len() {
                1 => Ok(entries),
                n => Err(bad_archive(
                    origin,
                    format!("it holds {n} images: name the one to pull after the path (TRANSPORT:PATH:NAME)"),
                )),
            };
        };
        // As written, or any full name it may stand for (`other:v1`: localhost's first).
        let mut candidates = vec![wanted.clone()];
        candidates.extend(reference::lookup_candidates(wanted).unwrap_or_default());
        let found = entries.into_iter().find(|entry| {
            names_of(entry).iter().any(|name| {
                candidates.contains(name)
                    || reference::normalize(name).is_ok_and(|n| candidates.contains(&n))
            })
        });
        found
            .map(|entry| vec![entry])
            .ok_or_else(|| bad_archive(origin, format!("no image in it is named {wanted:?}")))
    }
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
    pick: Option<&Pick>,
) -> Result<Vec<(ImageRecord, Vec<String>)>> {
    let bad = |message: String| bad_archive(origin, message);
    let reader = decompressed(source).map_err(|e| bad(format!("reading archive: {e}")))?;
    let members = Members::read(roots.space_guard().reader(reader), &roots.tmp(), origin)?;
    load_members(store, roots, &members, origin, admit, pick)
}

/// Load the image of an image directory: an oci-dir (an OCI layout) or a docker-dir
/// (containers/image's `dir:`). Its files are opened through no symbolic link.
pub fn load_directory(
    store: &Store,
    roots: &Roots,
    dir: &Path,
    admit: &dyn Fn(ArchiveFormat) -> Result<()>,
    pick: Option<&Pick>,
) -> Result<Vec<(ImageRecord, Vec<String>)>> {
    let origin = dir.display().to_string();
    let top = crate::confined::ConfinedDir::open(dir).map_err(|e| bad_archive(&origin, e))?;
    let members = Members {
        members: Default::default(),
        spool: None,
        directory: Some(top),
    };
    load_members(store, roots, &members, &origin, admit, pick)
}

fn load_members(
    store: &Store,
    roots: &Roots,
    members: &Members,
    origin: &str,
    admit: &dyn Fn(ArchiveFormat) -> Result<()>,
    pick: Option<&Pick>,
) -> Result<Vec<(ImageRecord, Vec<String>)>> {
    let bad = |message: String| bad_archive(origin, message);
    let in_directory = members.directory.is_some();
    let kind = if in_directory {
        if members.has("version", origin)? && members.has("manifest.json", origin)? {
            Some(ArchiveFormat::DockerDir)
        } else if members.has("index.json", origin)? {
            Some(ArchiveFormat::OciDir)
        } else {
            None
        }
    } else if members.has("version", origin)? && members.has("manifest.json", origin)? {
        // A docker-dir sent as a tar (podman-remote's `load -i DIR`).
        Some(ArchiveFormat::DockerDir)
    } else if members.has("manifest.json", origin)? {
        Some(ArchiveFormat::DockerArchive)
    } else if members.has("index.json", origin)? {
        Some(ArchiveFormat::OciArchive)
    } else {
        None
    };
    let Some(kind) = kind else {
        return Err(bad(if in_directory {
            "the directory holds no image: neither an OCI layout (index.json) nor a docker-dir (manifest.json and version)".into()
        } else {
            "payload does not match any of the supported image formats (oci-archive, docker-archive)".into()
        }));
    };
    admit(kind)?;
    // A docker-archive (or docker-dir) holds Docker-format images (as podman takes them).
    let format = match kind {
        ArchiveFormat::DockerArchive | ArchiveFormat::DockerDir => super::ImageFormat::Docker,
        ArchiveFormat::OciArchive | ArchiveFormat::OciDir => super::ImageFormat::Oci,
    };
    let mut pending: Vec<Pending> = Vec::new();
    let result = match kind {
        ArchiveFormat::DockerArchive => {
            read_docker_archive(roots, members, origin, pick, &mut pending)
        }
        ArchiveFormat::OciArchive | ArchiveFormat::OciDir => {
            read_oci_archive(roots, members, origin, pick, &mut pending)
        }
        ArchiveFormat::DockerDir => match pick.and_then(|p| p.reference.as_deref()) {
            // One image, and no name in it.
            Some(name) => Err(bad(format!(
                "a docker-dir holds one unnamed image: {name:?} names none"
            ))),
            None => read_dir_transport(roots, members, origin, &mut pending),
        },
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
    /// An image directory's top, whose files are the members (opened when asked for).
    directory: Option<crate::confined::ConfinedDir>,
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
        let bad = |message: String| bad_archive(origin, message);
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
        Ok(Members {
            members,
            spool,
            directory: None,
        })
    }

    fn has(&self, name: &str, origin: &str) -> Result<bool> {
        match &self.directory {
            Some(_) => Ok(self.open_in_directory(name, origin)?.is_some()),
            None => Ok(self.find(name).is_some()),
        }
    }

    /// A file of an image directory, through no symbolic link; `None` when missing.
    fn open_in_directory(&self, name: &str, origin: &str) -> Result<Option<File>> {
        let Some(top) = &self.directory else {
            return Ok(None);
        };
        top.open_regular_strict(Path::new(name))
            .map_err(|e| bad_archive(origin, e))
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
        bad_archive(origin, format!("{name}: no such file in the archive"))
    }

    /// A JSON document's bytes (bounded in size).
    fn json_bytes(&self, name: &str, origin: &str) -> Result<Vec<u8>> {
        let mut reader = self.open(name, origin)?;
        let mut bytes = Vec::new();
        (&mut reader)
            .take(JSON_LIMIT + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| bad_archive(origin, format!("{name}: {e}")))?;
        if bytes.len() as u64 > JSON_LIMIT {
            return Err(bad_archive(
                origin,
                format!("{name} is larger than {JSON_LIMIT} bytes"),
            ));
        }
        Ok(bytes)
    }

    /// A reader over a member's content from its start.
    fn open(&self, name: &str, origin: &str) -> Result<Box<dyn Read + '_>> {
        if self.directory.is_some() {
            return match self.open_in_directory(name, origin)? {
                Some(file) => Ok(Box::new(file)),
                None => Err(Self::missing(name, origin)),
            };
        }
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
    pick: Option<&Pick>,
    pending: &mut Vec<Pending>,
) -> Result<()> {
    let manifest_bytes = members.json_bytes("manifest.json", origin)?;
    let mut entries: Vec<DockerManifestEntry> = serde_json::from_slice(&manifest_bytes)
        .map_err(|e| bad_archive(origin, format!("manifest.json: {e}")))?;
    if let Some(pick) = pick {
        entries = pick.choose(
            entries,
            |entry| entry.repo_tags.clone().unwrap_or_default(),
            origin,
        )?;
    }
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

/// containers/image's `dir:`: one image, its manifest (Docker's or OCI's) in
/// `manifest.json`, each blob in a file named by its digest's hex.
fn read_dir_transport(
    roots: &Roots,
    members: &Members,
    origin: &str,
    pending: &mut Vec<Pending>,
) -> Result<()> {
    let bad = |message: &str| bad_archive(origin, message);
    let manifest: serde_json::Value =
        serde_json::from_slice(&members.json_bytes("manifest.json", origin)?)
            .map_err(|e| bad(&format!("manifest.json: {e}")))?;
    let digest_of = |descriptor: &serde_json::Value| -> Result<String> {
        let digest = descriptor["digest"]
            .as_str()
            .ok_or_else(|| bad("manifest.json: a descriptor without a digest"))?;
        // `blobs/ALGORITHM/HEX` checked, the file named by the hex alone.
        let checked = blob_name(digest, origin)?;
        Ok(checked.rsplit('/').next().unwrap_or_default().to_string())
    };
    let config = members.json_bytes(&digest_of(&manifest["config"])?, origin)?;
    let layers = manifest["layers"]
        .as_array()
        .ok_or_else(|| bad("manifest.json: no layers"))?;
    let mut image = Pending {
        config,
        layers: Vec::new(),
        names: Vec::new(),
        annotations: Default::default(),
    };
    let names = layers.iter().map(digest_of);
    let result = store_layers(roots, members, names, origin, &mut image.layers);
    pending.push(image);
    result
}

/// The member holding a blob, from its digest (`sha256:HEX`).
fn blob_name(digest: &str, origin: &str) -> Result<String> {
    let bad = || bad_archive(origin, format!("bad digest {digest:?}"));
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
    pick: Option<&Pick>,
    pending: &mut Vec<Pending>,
) -> Result<()> {
    let bad = |message: String| bad_archive(origin, message);
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
        // What a pull may name it by: either annotation as written (an OCI layout's
        // `ref.name` is often a bare tag, `oci:DIR:v1`).
        let known: Vec<String> = [CONTAINERD_NAME_ANNOTATION, REF_NAME_ANNOTATION]
            .iter()
            .filter_map(|key| annotations.get(*key).cloned())
            .collect();
        manifests.push((manifest, name, known));
    }
    manifests.reverse();
    if let Some(pick) = pick {
        manifests = pick.choose(manifests, |(_, _, known)| known.clone(), origin)?;
    }
    for (manifest, name, _) in manifests {
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

/// Where `save` puts an image's files: the members of a tar stream, or the files of a
/// directory.
trait Sink {
    fn put(&mut self, name: &str, size: u64, data: &mut dyn Read) -> Result<()>;

    fn put_bytes(&mut self, name: &str, data: &[u8]) -> Result<()> {
        self.put(name, data.len() as u64, &mut &data[..])
    }
}

struct TarSink<W: Write>(tar::Builder<W>);

impl<W: Write> TarSink<W> {
    /// The tar's end written and the output flushed.
    fn finish(self) -> Result<()> {
        self.0
            .into_inner()
            .and_then(|mut w| w.flush())
            .map_err(|e| EngineError::io("finishing archive", "(output)", e))
    }
}

impl<W: Write> Sink for TarSink<W> {
    fn put(&mut self, name: &str, size: u64, data: &mut dyn Read) -> Result<()> {
        let mut header = member_header(size);
        self.0
            .append_data(&mut header, name, data)
            .map_err(|e| EngineError::io("writing archive entry", name, e))
    }
}

/// A directory `save` fills: files made new, through no symbolic link.
struct DirSink<'a> {
    top: &'a crate::confined::ConfinedDir,
    path: &'a Path,
}

impl Sink for DirSink<'_> {
    fn put(&mut self, name: &str, size: u64, data: &mut dyn Read) -> Result<()> {
        let shown = self.path.join(name);
        let mut file = self
            .top
            .create_regular(Path::new(name))
            .map_err(|e| EngineError::InvalidArg(format!("writing {}: {e}", shown.display())))?;
        let copied = std::io::copy(&mut data.take(size), &mut file)
            .map_err(|e| EngineError::io("writing", &shown, e))?;
        if copied != size {
            return Err(EngineError::io(
                "writing",
                &shown,
                std::io::Error::from(std::io::ErrorKind::UnexpectedEof),
            ));
        }
        Ok(())
    }
}

/// A stored layer's uncompressed blob and its size.
fn layer_blob(roots: &Roots, diff_id: &str) -> Result<(File, u64)> {
    let dirs = layer_dirs(roots);
    let file = layer::open_blob(&dirs, diff_id)?;
    let size = file
        .metadata()
        .map_err(|e| EngineError::io("reading", dirs.blob(diff_id), e))?
        .len();
    Ok((file, size))
}

fn put_layer(sink: &mut dyn Sink, roots: &Roots, name: &str, diff_id: &str) -> Result<()> {
    let (mut file, size) = layer_blob(roots, diff_id)?;
    sink.put(name, size, &mut file)
}

fn build_err(e: impl std::fmt::Display) -> EngineError {
    EngineError::InvalidArg(format!("building image metadata: {e}"))
}

/// Write images (each with the names to record for it) as an archive: a docker-archive
/// or oci-archive, or an oci-dir or docker-dir laid out in the tar (what podman's service
/// sends for those; `compress`: a docker-dir's layers gzip-compressed).
pub fn save(
    roots: &Roots,
    images: &[(ImageRecord, Vec<String>)],
    format: ArchiveFormat,
    compress: bool,
    out: impl Write,
) -> Result<()> {
    let mut sink = TarSink(tar::Builder::new(out));
    write_images(&mut sink, roots, images, format, compress)?;
    sink.finish()
}

/// Write one image as an oci-dir or docker-dir at `path`, which must not exist or be an
/// empty directory. It is made beside `path` and renamed into place once whole, so a
/// failure leaves nothing. `compress`: a docker-dir's layers gzip-compressed.
pub fn save_directory(
    roots: &Roots,
    images: &[(ImageRecord, Vec<String>)],
    format: ArchiveFormat,
    path: &Path,
    compress: bool,
) -> Result<()> {
    into_new_directory(path, |sink| {
        write_images(sink, roots, images, format, compress)
    })
}

/// An image directory sent as a tar (the service's answer to a remote `save --format
/// oci-dir`), unpacked at `path`, a new or empty directory: its regular files only, by
/// plain names.
pub fn unpack_directory(source: impl Read, path: &Path) -> Result<()> {
    let origin = path.display().to_string();
    let bad = |message: String| bad_archive(&origin, message);
    into_new_directory(path, |sink| {
        let mut archive = tar::Archive::new(source);
        let entries = archive
            .entries()
            .map_err(|e| bad(format!("reading archive: {e}")))?;
        for (count, entry) in entries.enumerate() {
            let mut entry = entry.map_err(|e| bad(format!("reading archive: {e}")))?;
            if count >= MAX_MEMBERS {
                return Err(bad(format!(
                    "the archive has more than {MAX_MEMBERS} members"
                )));
            }
            let kind = entry.header().entry_type();
            if kind.is_dir() {
                continue;
            }
            let raw = entry
                .path()
                .map_err(|e| bad(format!("reading archive: {e}")))?
                .into_owned();
            let name = member_name(&raw)
                .filter(|_| kind.is_file())
                .ok_or_else(|| bad(format!("member {} is not a plain file", raw.display())))?;
            let size = entry.size();
            sink.put(&name, size, &mut entry)?;
        }
        Ok(())
    })
}

/// An image directory (an oci-dir or docker-dir) as a tar, for a service to load: its
/// regular files by their plain names, each opened through no symbolic link.
pub fn pack_directory(dir: &Path, out: impl Write) -> Result<()> {
    let top = crate::confined::ConfinedDir::open(dir)
        .map_err(|e| EngineError::InvalidArg(e.to_string()))?;
    let mut sink = TarSink(tar::Builder::new(out));
    let mut pending = vec![std::path::PathBuf::new()];
    let mut count = 0usize;
    while let Some(rel) = pending.pop() {
        let listed = dir.join(&rel);
        let mut names: Vec<_> = fs::read_dir(&listed)
            .map_err(|e| EngineError::io("reading", &listed, e))?
            .collect::<std::io::Result<Vec<_>>>()
            .map_err(|e| EngineError::io("reading", &listed, e))?;
        names.sort_by_key(|e| e.file_name());
        for entry in names {
            count += 1;
            if count > MAX_MEMBERS {
                return Err(EngineError::InvalidArg(format!(
                    "{} has more than {MAX_MEMBERS} files",
                    dir.display()
                )));
            }
            let name = rel.join(entry.file_name());
            let kind = entry
                .file_type()
                .map_err(|e| EngineError::io("inspecting", dir.join(&name), e))?;
            if kind.is_dir() {
                pending.push(name);
                continue;
            }
            let refused = |e: crate::confined::ConfinedError| {
                EngineError::InvalidArg(format!("{}: {e}", dir.display()))
            };
            let mut file = top
                .open_regular_strict(&name)
                .map_err(refused)?
                .ok_or_else(|| EngineError::InvalidArg(format!("{} went away", name.display())))?;
            let size = file
                .metadata()
                .map_err(|e| EngineError::io("inspecting", dir.join(&name), e))?
                .len();
            sink.put(&name.to_string_lossy(), size, &mut file)?;
        }
    }
    sink.finish()
}

/// Make the directory `path` (which must not exist, or be empty) with what `fill` puts
/// in it: filled beside `path` and renamed into place once whole, so a failure leaves
/// nothing.
fn into_new_directory(path: &Path, fill: impl FnOnce(&mut dyn Sink) -> Result<()>) -> Result<()> {
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(EngineError::io("inspecting", path, e)),
        Ok(meta) if !meta.is_dir() => {
            return Err(EngineError::InvalidArg(format!(
                "{} exists and is not a directory",
                path.display()
            )))
        }
        Ok(_) => {
            let mut entries =
                fs::read_dir(path).map_err(|e| EngineError::io("reading", path, e))?;
            if entries.next().is_some() {
                return Err(EngineError::InvalidArg(format!(
                    "{} is not empty: save an image directory to a new or empty directory",
                    path.display()
                )));
            }
        }
    }
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let made = tempfile::Builder::new()
        .prefix(".rpod-save-")
        .tempdir_in(parent)
        .map_err(|e| EngineError::io("creating a directory in", parent, e))?;
    let top = crate::confined::ConfinedDir::open(made.path())
        .map_err(|e| EngineError::InvalidArg(e.to_string()))?;
    let mut sink = DirSink {
        top: &top,
        path: made.path(),
    };
    fill(&mut sink)?;
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(made.path(), fs::Permissions::from_mode(0o755))
        .map_err(|e| EngineError::io("setting the mode of", made.path(), e))?;
    // Over an empty directory, or where there was none.
    fs::rename(made.path(), path).map_err(|e| EngineError::io("renaming into", path, e))?;
    // Renamed away: nothing left for the guard to remove.
    let _ = made.keep();
    Ok(())
}

/// A writer that hashes what passes through it.
struct Hashing<W> {
    inner: W,
    hasher: Sha256,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buffer: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buffer)?;
        self.hasher.update(&buffer[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// A stored layer gzip-compressed into an unnamed file: the file (at its start), its
/// size and its digest's hex.
fn compressed_layer(roots: &Roots, diff_id: &str) -> Result<(File, u64, String)> {
    use std::io::Seek;
    let (mut blob, _) = layer_blob(roots, diff_id)?;
    let tmp = roots.tmp();
    let failed = |e: std::io::Error| EngineError::io("compressing a layer in", &tmp, e);
    let file = crate::scratch::unnamed_file(&tmp)?;
    let mut encoder = flate2::write::GzEncoder::new(
        Hashing {
            inner: file,
            hasher: Sha256::new(),
        },
        flate2::Compression::default(),
    );
    std::io::copy(&mut blob, &mut encoder).map_err(failed)?;
    let hashing = encoder.finish().map_err(failed)?;
    let mut file = hashing.inner;
    let size = file.stream_position().map_err(failed)?;
    file.rewind().map_err(failed)?;
    Ok((file, size, hex::encode(hashing.hasher.finalize())))
}

fn write_images(
    sink: &mut dyn Sink,
    roots: &Roots,
    images: &[(ImageRecord, Vec<String>)],
    format: ArchiveFormat,
    compress: bool,
) -> Result<()> {
    match format {
        ArchiveFormat::DockerArchive => {
            let mut entries = Vec::new();
            let mut written = HashSet::new();
            for (image, names) in images {
                let config_name = format!("{}.json", image.id);
                if written.insert(config_name.clone()) {
                    sink.put_bytes(&config_name, &config_bytes(roots, &image.id)?)?;
                }
                let mut layer_names = Vec::new();
                for diff_id in &image.layers {
                    let name = format!("{diff_id}/layer.tar");
                    if written.insert(name.clone()) {
                        put_layer(sink, roots, &name, diff_id)?;
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
            sink.put_bytes("manifest.json", &manifest)?;
        }
        ArchiveFormat::DockerDir => {
            let [(image, _)] = images else {
                return Err(EngineError::InvalidArg(
                    "docker-dir holds one image: save several images as docker-archive".into(),
                ));
            };
            let config = config_bytes(roots, &image.id)?;
            sink.put_bytes(&image.id, &config)?;
            let mut layers = Vec::new();
            let mut written = HashSet::new();
            for diff_id in &image.layers {
                let (mut file, size, hex, media_type) = if compress {
                    let (file, size, hex) = compressed_layer(roots, diff_id)?;
                    (
                        file,
                        size,
                        hex,
                        "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    )
                } else {
                    let (file, size) = layer_blob(roots, diff_id)?;
                    (
                        file,
                        size,
                        diff_id.clone(),
                        "application/vnd.docker.image.rootfs.diff.tar",
                    )
                };
                if written.insert(hex.clone()) {
                    sink.put(&hex, size, &mut file)?;
                }
                layers.push(serde_json::json!({
                    "mediaType": media_type,
                    "size": size,
                    "digest": format!("sha256:{hex}"),
                }));
            }
            let manifest = serde_json::json!({
                "schemaVersion": 2,
                "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "config": {
                    "mediaType": "application/vnd.docker.container.image.v1+json",
                    "size": config.len(),
                    "digest": format!("sha256:{}", image.id),
                },
                "layers": layers,
            });
            sink.put_bytes(
                "manifest.json",
                &serde_json::to_vec(&manifest).map_err(build_err)?,
            )?;
            sink.put_bytes("version", DIR_TRANSPORT_VERSION)?;
        }
        ArchiveFormat::OciArchive | ArchiveFormat::OciDir => {
            sink.put_bytes("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
            let mut written = HashSet::new();
            let mut index_entries = Vec::new();
            for (image, names) in images {
                let config = config_bytes(roots, &image.id)?;
                if written.insert(image.id.clone()) {
                    sink.put_bytes(&format!("blobs/sha256/{}", image.id), &config)?;
                }
                let config_descriptor = DescriptorBuilder::default()
                    .media_type(MediaType::ImageConfig)
                    .digest(sha256_digest(&image.id)?)
                    .size(config.len() as u64)
                    .build()
                    .map_err(build_err)?;
                let mut layer_descriptors = Vec::new();
                for diff_id in &image.layers {
                    let (mut file, size) = layer_blob(roots, diff_id)?;
                    if written.insert(diff_id.clone()) {
                        sink.put(&format!("blobs/sha256/{diff_id}"), size, &mut file)?;
                    }
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
                let manifest_bytes = crate::go_json::to_vec_sorted(&manifest).map_err(build_err)?;
                let manifest_hex = hex::encode(Sha256::digest(&manifest_bytes));
                if written.insert(manifest_hex.clone()) {
                    sink.put_bytes(&format!("blobs/sha256/{manifest_hex}"), &manifest_bytes)?;
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
            sink.put_bytes(
                "index.json",
                &crate::go_json::to_vec_sorted(&index).map_err(build_err)?,
            )?;
        }
    }
    Ok(())
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
        let mut sink = TarSink(tar::Builder::new(Vec::new()));
        sink.put_bytes("manifest.json", b"[]").unwrap();
        let bytes = sink.0.into_inner().unwrap();
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

    /// A directory sent as a tar is unpacked only as plain files by plain names; a refused
    /// member leaves nothing at the target. A target that is a file or not empty is refused.
    #[test]
    fn image_directories_unpack_only_plain_files_into_a_new_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("saved");
        let good = tar_of(&[
            ("index.json", b"{}".to_vec()),
            ("blobs/sha256/ab", b"x".to_vec()),
        ]);
        unpack_directory(&good[..], &target).unwrap();
        assert_eq!(fs::read(target.join("blobs/sha256/ab")).unwrap(), b"x");
        let err = unpack_directory(&good[..], &target).unwrap_err();
        assert!(err.to_string().contains("not empty"), "{err}");
        fs::write(tmp.path().join("file"), "").unwrap();
        let err = unpack_directory(&good[..], &tmp.path().join("file")).unwrap_err();
        assert!(err.to_string().contains("not a directory"), "{err}");

        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Symlink);
        header.set_size(0);
        builder
            .append_link(&mut header, "index.json", "/etc/passwd")
            .unwrap();
        let linked = builder.into_inner().unwrap();
        let refused = tmp.path().join("refused");
        let err = unpack_directory(&linked[..], &refused).unwrap_err();
        assert!(err.to_string().contains("not a plain file"), "{err}");
        assert!(!refused.exists());
        // Nothing is left beside it either.
        let left: Vec<_> = fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".rpod-save-"))
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }

    /// A directory packed for a service goes file by file, through no symbolic link.
    #[test]
    fn image_directories_pack_through_no_symlink() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("layout");
        fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
        fs::write(dir.join("index.json"), "{}").unwrap();
        fs::write(dir.join("blobs/sha256/ab"), "x").unwrap();
        let mut packed = Vec::new();
        pack_directory(&dir, &mut packed).unwrap();
        let mut names: Vec<String> = tar::Archive::new(&packed[..])
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        names.sort();
        assert_eq!(names, ["blobs/sha256/ab", "index.json"]);
        std::os::unix::fs::symlink("/etc/passwd", dir.join("blobs/sha256/cd")).unwrap();
        let err = pack_directory(&dir, &mut Vec::new()).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
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
