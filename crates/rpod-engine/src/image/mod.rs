//! Local images: records in the state database, configs and layers under `<root>/images`.
//! Images come from registries (`registry`), `import` and `load`, and go out with `push`
//! and `save`.

mod archive;
mod commit;
pub mod compression;
mod import;
pub mod layer;
pub mod manifest_list;
pub mod platform;
pub mod policy;
pub mod reference;
pub mod registries_conf;
pub mod registries_d;
pub mod registry;
pub mod sigstore;
pub mod simple_signing;
pub mod squash;
pub mod targuard;
pub mod tree;
pub mod trust;

use std::fs;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use oci_spec::image::ImageConfiguration;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use archive::{
    load, load_directory, pack_directory, save, save_directory, unpack_directory, ArchiveFormat,
    Pick,
};
pub use commit::{commit, commit_config, NewImage};
pub use import::{add_volume, apply_change, expose, import, onbuild_trigger, ImportOptions};
use layer::LayerDirs;

use crate::paths::Roots;
use crate::store::Store;
use crate::{EngineError, Result};

/// An image as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImageRecord {
    /// sha256 hex of the image's config (Docker's image id).
    pub id: String,
    /// Diff ids (sha256 hex of the uncompressed layer tars), bottom layer first.
    pub layers: Vec<String>,
    /// Uncompressed size of all layers.
    pub size: u64,
    pub created: Option<DateTime<Utc>>,
    /// When this store got the image.
    pub added: DateTime<Utc>,
    /// Digests (`sha256:...`) of the manifests the image was pulled by: the image's own and,
    /// through a manifest list, the list's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub digests: Vec<String>,
    /// A Docker-format image (pulled by a Docker manifest, loaded from a docker-archive,
    /// built or committed with `--format docker`): pushed with a Docker manifest unless
    /// told otherwise, as podman pushes an image in its own format.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub docker_format: bool,
    /// The image this one was committed on (`commit`, a build's steps): an unnamed image
    /// that is another's parent is an intermediate one (`images` shows it with `-a` only),
    /// not a dangling one, and `rmi` of its child takes it too once nothing else needs it,
    /// as podman does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// The annotations of the manifest the image came with (pulled, loaded from an OCI
    /// archive), or given it (`build --annotation`, a checkpoint image): written into its
    /// OCI manifests again (pushes, `save --format oci-archive`).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub annotations: std::collections::BTreeMap<String, String>,
}

impl ImageRecord {
    /// A record of no layers and nothing else, for the store's tests.
    #[cfg(test)]
    pub(crate) fn bare(id: String) -> Self {
        ImageRecord {
            id,
            layers: Vec::new(),
            size: 0,
            created: None,
            added: chrono::Utc::now(),
            digests: Vec::new(),
            docker_format: false,
            parent: None,
            annotations: Default::default(),
        }
    }

    /// The image's digest: the manifest it was pulled by, else its config's.
    pub fn digest(&self) -> String {
        self.digests
            .last()
            .cloned()
            .unwrap_or_else(|| format!("sha256:{}", self.id))
    }

    pub fn format(&self) -> ImageFormat {
        if self.docker_format {
            ImageFormat::Docker
        } else {
            ImageFormat::Oci
        }
    }
}

/// An image with everything listings and inspect show.
#[derive(Debug, Clone)]
pub struct ImageInfo {
    pub record: ImageRecord,
    pub names: Vec<String>,
    pub config: ImageConfiguration,
    pub docker: DockerFields,
    /// Whether another image was committed on this one (known in listings:
    /// `Engine::image_infos`).
    pub has_children: bool,
}

/// What a Docker image config holds beyond the OCI one (`Healthcheck`, `OnBuild`, `Shell`
/// in its `config`): `oci-spec`'s types drop them, so they are read from the stored bytes.
/// Docker-format images carry them (a registry's, `load`'s, `build --format docker`'s).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DockerFields {
    /// `Healthcheck` as the config holds it: Docker's `HealthConfig` (nanoseconds).
    pub healthcheck: Option<serde_json::Value>,
    pub on_build: Vec<String>,
    pub shell: Vec<String>,
}

/// The format an image is made in (`build --format`, `commit --format`): a Docker-format
/// image's config keeps the fields only Docker's has ([`DockerFields`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ImageFormat {
    #[default]
    Oci,
    Docker,
}

impl ImageFormat {
    /// The media type of the format's image manifests.
    pub fn manifest_type(self) -> &'static str {
        match self {
            ImageFormat::Oci => registry::manifest::OCI_MANIFEST,
            ImageFormat::Docker => registry::manifest::DOCKER_MANIFEST,
        }
    }
}

impl std::str::FromStr for ImageFormat {
    type Err = EngineError;
    fn from_str(text: &str) -> Result<Self> {
        match text {
            "oci" => Ok(ImageFormat::Oci),
            "docker" => Ok(ImageFormat::Docker),
            other => Err(EngineError::InvalidArg(format!(
                "unknown image format {other:?}: use oci or docker"
            ))),
        }
    }
}

impl DockerFields {
    /// Put the fields into a config document's `config` (those that are set).
    fn write_into(&self, document: &mut serde_json::Value) {
        let Some(config) = document.get_mut("config").and_then(|c| c.as_object_mut()) else {
            return;
        };
        if let Some(check) = &self.healthcheck {
            config.insert("Healthcheck".into(), check.clone());
        }
        if !self.on_build.is_empty() {
            config.insert("OnBuild".into(), serde_json::json!(self.on_build));
        }
        if !self.shell.is_empty() {
            config.insert("Shell".into(), serde_json::json!(self.shell));
        }
    }

    /// The fields of a config's bytes. Each is taken only in its right shape: what a
    /// hostile or odd config puts there otherwise is ignored, as the OCI config's own
    /// parser ignores fields it does not know.
    pub fn of_config(bytes: &[u8]) -> DockerFields {
        // Most configs have none of them: not parsed a second time (every `create` asks).
        let mentions = |name: &[u8]| bytes.windows(name.len()).any(|w| w == name);
        if ![&b"\"Healthcheck\""[..], b"\"OnBuild\"", b"\"Shell\""]
            .iter()
            .any(|name| mentions(name))
        {
            return DockerFields::default();
        }
        let Ok(document) = serde_json::from_slice::<serde_json::Value>(bytes) else {
            return DockerFields::default();
        };
        let config = document.get("config");
        let field = |name: &str| config.and_then(|c| c.get(name)).cloned();
        let words = |name: &str| {
            field(name)
                .and_then(|v| serde_json::from_value::<Vec<String>>(v).ok())
                .unwrap_or_default()
        };
        DockerFields {
            healthcheck: field("Healthcheck").filter(serde_json::Value::is_object),
            on_build: words("OnBuild"),
            shell: words("Shell"),
        }
    }

    /// The health check containers of this image get unless told otherwise: none when the
    /// image has none or disables it (`["NONE"]`).
    pub fn health_check(&self, image: &str) -> Result<Option<crate::health::HealthCheck>> {
        let Some(config) = &self.healthcheck else {
            return Ok(None);
        };
        crate::health::HealthCheck::from_api(config).map_err(|e| {
            EngineError::InvalidArg(format!(
                "image {image} has a malformed health check ({e}): give --health-cmd or \
                 --no-healthcheck"
            ))
        })
    }
}

impl ImageInfo {
    /// An unnamed image no other image was committed on (podman's "dangling"): what
    /// `image prune` takes.
    pub fn is_dangling(&self) -> bool {
        self.names.is_empty() && !self.has_children
    }

    /// An unnamed image that another was committed on (a build's step): `images` lists it
    /// with `-a` only.
    pub fn is_intermediate(&self) -> bool {
        self.names.is_empty() && self.has_children
    }

    /// `REPOSITORY@DIGEST` for each repository the image is named in and each manifest
    /// digest it was pulled by (podman's and Docker's `RepoDigests`).
    pub fn repo_digests(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for name in &self.names {
            let (repository, _) = reference::repository_and_tag(name);
            for digest in &self.record.digests {
                let entry = format!("{repository}@{digest}");
                if !out.contains(&entry) {
                    out.push(entry);
                }
            }
        }
        out
    }

    /// The image's digest: the manifest it was pulled by, else its config's.
    pub fn digest(&self) -> String {
        self.record.digest()
    }

    /// The labels of the image's config.
    pub fn labels(&self) -> std::collections::BTreeMap<String, String> {
        self.config
            .config()
            .as_ref()
            .and_then(|c| c.labels().clone())
            .map(|l| l.into_iter().collect())
            .unwrap_or_default()
    }
}

/// A time as an image config holds it: RFC 3339 in UTC with as many digits of the second
/// as it needs, as Go's encoder writes it (`...:05.12345Z`, no trailing zeros). Tools
/// written in Go (podman, Docker) rewrite a config in that form when they copy an image,
/// so a config written otherwise would change its bytes, and the image its ID, on the way.
pub fn config_time(time: chrono::DateTime<chrono::Utc>) -> String {
    let full = time.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
    match full.split_once('.') {
        Some((seconds, fraction)) => {
            let digits = fraction.trim_end_matches('Z').trim_end_matches('0');
            if digits.is_empty() {
                format!("{seconds}Z")
            } else {
                format!("{seconds}.{digits}Z")
            }
        }
        None => full,
    }
}

pub fn layer_dirs(roots: &Roots) -> LayerDirs {
    LayerDirs::new(&roots.images(), &roots.tmp(), roots.space_guard())
}

fn config_path(roots: &Roots, id: &str) -> PathBuf {
    roots.images().join("configs").join(format!("{id}.json"))
}

/// The raw bytes of an image's config.
pub fn config_bytes(roots: &Roots, id: &str) -> Result<Vec<u8>> {
    let path = config_path(roots, id);
    fs::read(&path).map_err(|e| EngineError::io("reading image config", &path, e))
}

pub fn config(roots: &Roots, id: &str) -> Result<ImageConfiguration> {
    parse_config(id, &config_bytes(roots, id)?)
}

/// An image's config and the Docker fields the OCI one lacks, from one read.
pub fn config_and_docker_fields(
    roots: &Roots,
    id: &str,
) -> Result<(ImageConfiguration, DockerFields)> {
    let bytes = config_bytes(roots, id)?;
    Ok((parse_config(id, &bytes)?, DockerFields::of_config(&bytes)))
}

/// A stored config's bytes as the OCI config they are.
pub fn parse_config(id: &str, bytes: &[u8]) -> Result<ImageConfiguration> {
    serde_json::from_slice(bytes)
        .map_err(|e| EngineError::InvalidArg(format!("image {id} has an unreadable config: {e}")))
}

/// `--annotation KEY=VALUE` values as a map (a later key wins).
pub fn parse_annotations(values: &[String]) -> Result<std::collections::BTreeMap<String, String>> {
    let mut annotations = std::collections::BTreeMap::new();
    for value in values {
        match value.split_once('=') {
            Some((key, text)) if !key.is_empty() => {
                annotations.insert(key.to_string(), text.to_string());
            }
            _ => {
                return Err(EngineError::InvalidArg(format!(
                    "invalid annotation {value:?}: KEY=VALUE"
                )))
            }
        }
    }
    Ok(annotations)
}

/// Register an image whose layers are already stored. `config_bytes` is stored as it is,
/// so that the image id (its digest) stays the same through save and load.
pub fn add_image(
    store: &Store,
    roots: &Roots,
    config_bytes: &[u8],
    layers: &[layer::StoredLayer],
    names: &[String],
    format: ImageFormat,
) -> Result<ImageRecord> {
    add_image_on(store, roots, config_bytes, layers, names, format, None)
}

/// `add_image` of an image committed on `parent`.
pub fn add_image_on(
    store: &Store,
    roots: &Roots,
    config_bytes: &[u8],
    layers: &[layer::StoredLayer],
    names: &[String],
    format: ImageFormat,
    parent: Option<&str>,
) -> Result<ImageRecord> {
    let config: ImageConfiguration = serde_json::from_slice(config_bytes)
        .map_err(|e| EngineError::InvalidArg(format!("image config is not valid: {e}")))?;
    let id = hex::encode(Sha256::digest(config_bytes));
    let diff_ids: Vec<String> = config
        .rootfs()
        .diff_ids()
        .iter()
        .map(|d| d.trim_start_matches("sha256:").to_string())
        .collect();
    let stored: Vec<String> = layers.iter().map(|l| l.diff_id.clone()).collect();
    if diff_ids != stored {
        return Err(EngineError::InvalidArg(format!(
            "image layers do not match its config: config lists {diff_ids:?}, archive has {stored:?}"
        )));
    }
    // An image already here keeps its record and its config file whatever happens below.
    let existed = store.image(&id)?.is_some();
    let path = config_path(roots, &id);
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(|e| EngineError::io("creating directory", dir, e))?;
    }
    fs::write(&path, config_bytes).map_err(|e| EngineError::io("writing", &path, e))?;
    let created = config
        .created()
        .as_deref()
        .and_then(|c| DateTime::parse_from_rfc3339(c).ok())
        .map(|c| c.with_timezone(&Utc));
    let record = ImageRecord {
        id,
        layers: stored,
        size: layers.iter().map(|l| l.size).sum(),
        created,
        added: Utc::now(),
        digests: Vec::new(),
        docker_format: format == ImageFormat::Docker,
        parent: parent.map(str::to_string),
        annotations: Default::default(),
    };
    if let Err(e) = store.insert_image(&record, names) {
        if !existed {
            let _ = fs::remove_file(&path);
        }
        return Err(e);
    }
    Ok(record)
}

/// Find an image by full ID, name, or unique ID prefix (`sha256:` optional on IDs).
pub fn resolve(store: &Store, text: &str) -> Result<ImageRecord> {
    let not_known = || EngineError::NoSuchImage(text.to_string());
    let (hex_part, id_only) = match text.strip_prefix("sha256:") {
        Some(hex) => (hex, true),
        None => (text, false),
    };
    let hex_part = hex_part.to_ascii_lowercase();
    let is_hex = !hex_part.is_empty() && hex_part.chars().all(|c| c.is_ascii_hexdigit());
    // As Docker looks: a full ID, then a name, and only then an ID prefix (a name such as
    // `cafe` or `cf` is a prefix of some IDs, and must not lose to them; podman 4.3 lets a
    // prefix win over a short name, and a build's `-t cf` then loses to its own steps).
    if is_hex && hex_part.len() == 64 {
        if let Some(record) = store.image(&hex_part)? {
            return Ok(record);
        }
    }
    // `sha256:...` is an ID alone; anything else that is no reference is only an ID prefix.
    let candidates = if id_only {
        Vec::new()
    } else {
        reference::lookup_candidates(text).unwrap_or_default()
    };
    for candidate in &candidates {
        if let Some(id) = store.image_id_by_name(candidate)? {
            return store.image(&id)?.ok_or_else(not_known);
        }
    }
    if is_hex {
        let ids = store.image_ids_with_prefix(&hex_part)?;
        match ids.len() {
            1 => return store.image(&ids[0])?.ok_or_else(not_known),
            0 => {}
            _ => {
                return Err(EngineError::InvalidArg(format!(
                    "{text}: more than one image matches this ID prefix"
                )))
            }
        }
    }
    // `REPOSITORY@DIGEST` of an image pulled by a tag: its manifest digest and a name in
    // that repository.
    for candidate in &candidates {
        let Some((repository, digest)) = candidate.split_once('@') else {
            continue;
        };
        for record in store.images()? {
            if !record.digests.iter().any(|d| d == digest) {
                continue;
            }
            let named_there = store
                .image_names(&record.id)?
                .iter()
                .any(|n| reference::repository_and_tag(n).0 == repository);
            if named_there {
                return Ok(record);
            }
        }
    }
    Err(not_known())
}

pub fn info(store: &Store, roots: &Roots, record: ImageRecord) -> Result<ImageInfo> {
    let names = store.image_names(&record.id)?;
    let bytes = config_bytes(roots, &record.id)?;
    let config = parse_config(&record.id, &bytes)?;
    Ok(ImageInfo {
        record,
        names,
        config,
        docker: DockerFields::of_config(&bytes),
        has_children: false,
    })
}

/// Delete an image and every layer that no other image uses.
pub fn remove_image(store: &Store, roots: &Roots, record: &ImageRecord) -> Result<()> {
    store.remove_image(&record.id)?;
    let _ = fs::remove_file(config_path(roots, &record.id));
    let still_used = store.referenced_layers()?;
    let dirs = layer_dirs(roots);
    for layer in &record.layers {
        if !still_used.contains(layer) {
            remove_layer(&dirs, layer);
        }
    }
    Ok(())
}

fn remove_layer(dirs: &LayerDirs, diff_id: &str) {
    let _ = fs::remove_file(dirs.blob(diff_id));
    let _ = fs::remove_dir_all(dirs.dir(diff_id));
}

/// Take back layers created by an operation that failed, unless an image uses them.
fn discard_new_layers(store: &Store, roots: &Roots, layers: &[layer::StoredLayer]) {
    let used = store.referenced_layers().unwrap_or_default();
    let dirs = layer_dirs(roots);
    for layer in layers
        .iter()
        .filter(|l| l.created && !used.contains(&l.diff_id))
    {
        remove_layer(&dirs, &layer.diff_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As Docker finds images: a full ID, then a name, then a unique ID prefix;
    /// a name that is also a prefix of other images' IDs (a build named `cf` beside a
    /// step's image `cfbdb0...`) is the named image.
    #[test]
    fn names_come_before_id_prefixes() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("rpod.db")).unwrap();
        let image = ImageRecord::bare;
        let step = format!("cfbd{}", "0".repeat(60));
        let other = format!("cfc2{}", "1".repeat(60));
        let named = format!("ab{}", "2".repeat(62));
        let odd = "cf".repeat(32);
        store.insert_image(&image(step.clone()), &[]).unwrap();
        store.insert_image(&image(other.clone()), &[]).unwrap();
        store
            .insert_image(&image(named.clone()), &["localhost/cf:latest".into()])
            .unwrap();
        // A name that is a full ID loses to the image of that ID.
        store
            .insert_image(&image(odd.clone()), &[format!("localhost/{step}:latest")])
            .unwrap();
        let found = |text: &str| resolve(&store, text).map(|r| r.id);

        assert_eq!(found("cf").unwrap(), named);
        assert_eq!(found("localhost/cf").unwrap(), named);
        assert_eq!(found("cfbd").unwrap(), step);
        assert_eq!(found("CFC2").unwrap(), other);
        assert_eq!(found(&format!("sha256:{}", &other[..8])).unwrap(), other);
        assert_eq!(found(&step).unwrap(), step);
        assert_eq!(found(&format!("localhost/{step}")).unwrap(), odd);
        // `sha256:` asks for an ID alone, never a name.
        assert!(matches!(
            found("sha256:cf"),
            Err(EngineError::InvalidArg(_))
        ));
        assert!(matches!(
            found("sha256:ab3"),
            Err(EngineError::NoSuchImage(_))
        ));
        let ambiguous = found("c").unwrap_err();
        assert!(
            ambiguous.to_string().contains("more than one image"),
            "{ambiguous}"
        );
        assert!(matches!(found("ffff"), Err(EngineError::NoSuchImage(_))));
    }

    #[test]
    fn docker_fields_are_read_from_the_config_bytes_in_their_right_shapes() {
        let config = br#"{"config":{"Healthcheck":{"Test":["CMD-SHELL","true"],"Interval":5000000000,"Retries":2},
            "OnBuild":["RUN x"],"Shell":["/bin/bash","-c"]}}"#;
        let fields = DockerFields::of_config(config);
        assert_eq!(fields.on_build, ["RUN x"]);
        assert_eq!(fields.shell, ["/bin/bash", "-c"]);
        let check = fields.health_check("img").unwrap().unwrap();
        assert_eq!(check.test, ["CMD-SHELL", "true"]);
        assert_eq!(
            (check.interval_secs, check.timeout_secs, check.retries),
            (5, 30, 2)
        );

        // Disabled, absent, or not in their shapes: nothing.
        let none = DockerFields::of_config(br#"{"config":{"Healthcheck":{"Test":["NONE"]}}}"#);
        assert_eq!(none.health_check("img").unwrap(), None);
        assert_eq!(DockerFields::of_config(b"{}"), DockerFields::default());
        assert_eq!(
            DockerFields::of_config(b"not json"),
            DockerFields::default()
        );
        let odd =
            DockerFields::of_config(br#"{"config":{"Healthcheck":"x","Shell":[1],"OnBuild":{}}}"#);
        assert_eq!(odd, DockerFields::default());

        // A check that cannot run says so, and how to go on.
        let bad = DockerFields::of_config(br#"{"config":{"Healthcheck":{"Test":["RUN","x"]}}}"#);
        let error = bad.health_check("img").unwrap_err().to_string();
        assert!(
            error.contains("image img") && error.contains("--no-healthcheck"),
            "{error}"
        );
    }

    #[test]
    fn config_times_are_written_as_go_writes_them() {
        let at = |text: &str| text.parse::<chrono::DateTime<chrono::Utc>>().unwrap();
        for (time, written) in [
            (
                "2026-11-30T06:24:20.309183370Z",
                "2026-11-30T06:24:20.30918337Z",
            ),
            ("2026-11-30T06:24:20.000000000Z", "2026-11-30T06:24:20Z"),
            ("2026-11-30T06:24:20.100000000Z", "2026-11-30T06:24:20.1Z"),
            (
                "2026-11-30T06:24:20.123456789Z",
                "2026-11-30T06:24:20.123456789Z",
            ),
        ] {
            assert_eq!(config_time(at(time)), written);
        }
    }
}
