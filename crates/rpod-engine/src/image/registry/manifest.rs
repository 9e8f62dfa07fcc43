//! Manifests as registries serve them: OCI and Docker (schema 2) image manifests, OCI
//! indexes and Docker manifest lists, which share one JSON shape. Every document is a
//! stranger's: its size, digests and media types are checked before anything is fetched.

use oci_spec::image::{Descriptor, ImageIndex, ImageManifest};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::image::platform::Platform;
use crate::{EngineError, Result};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+json";
pub const DOCKER_SCHEMA1_SIGNED: &str = "application/vnd.docker.distribution.manifest.v1+prettyjws";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
/// Also zstd:chunked layers, which are zstd streams of many frames.
pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
pub const DOCKER_FOREIGN_LAYER_GZIP: &str =
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";

/// What a pull accepts, best first.
pub const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

/// Manifests and indexes larger than this are refused (containers/image's limit too).
pub const MANIFEST_LIMIT: u64 = 4 << 20;
/// Image configs larger than this are refused.
pub const CONFIG_LIMIT: u64 = 16 << 20;
/// The most layers one image may have.
pub const MAX_LAYERS: usize = 1000;

/// A `sha256:HEX` digest, checked; anything else is refused.
pub fn checked_digest(text: &str) -> Result<String> {
    match text.strip_prefix("sha256:") {
        Some(hex) if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Ok(format!("sha256:{}", hex.to_ascii_lowercase()))
        }
        _ if text.contains(':') => Err(EngineError::NotSupported(format!(
            "digest {text:?} (only sha256 digests are)"
        ))),
        _ => Err(EngineError::Registry(format!(
            "the registry sent a malformed digest {text:?}"
        ))),
    }
}

pub fn sha256_of(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// A fetched manifest document.
pub enum Document {
    Index(Box<ImageIndex>),
    Image(Box<ImageManifest>),
}

#[derive(Deserialize)]
struct Shape {
    #[serde(rename = "schemaVersion")]
    schema_version: Option<u32>,
    #[serde(rename = "mediaType")]
    media_type: Option<String>,
    manifests: Option<serde_json::Value>,
}

/// Read a manifest or index, by its Content-Type or, when that is vague, its shape.
pub fn parse(content_type: &str, bytes: &[u8], name: &str) -> Result<Document> {
    let bad = |why: String| EngineError::Registry(format!("{name}: unreadable manifest: {why}"));
    let shape: Shape = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
    let content_type = content_type.split(';').next().unwrap_or("").trim();
    let media_type = shape.media_type.as_deref().unwrap_or(content_type);
    if shape.schema_version == Some(1)
        || [DOCKER_SCHEMA1, DOCKER_SCHEMA1_SIGNED].contains(&media_type)
    {
        return Err(EngineError::NotSupported(format!(
            "{name}: Docker schema 1 manifests (long deprecated)"
        )));
    }
    let is_index = [OCI_INDEX, DOCKER_LIST].contains(&media_type)
        || (shape.manifests.is_some() && ![OCI_MANIFEST, DOCKER_MANIFEST].contains(&media_type));
    if is_index {
        let index: ImageIndex = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
        return Ok(Document::Index(Box::new(index)));
    }
    let manifest: ImageManifest = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
    if manifest.layers().len() > MAX_LAYERS {
        return Err(bad(format!("more than {MAX_LAYERS} layers")));
    }
    Ok(Document::Image(Box::new(manifest)))
}

/// The entry of an index for the platform asked for (this machine's when none is).
pub fn choose<'a>(
    index: &'a ImageIndex,
    wanted: Option<&Platform>,
    name: &str,
) -> Result<&'a Descriptor> {
    let os = wanted
        .and_then(|w| w.os.clone())
        .unwrap_or_else(|| "linux".into());
    let arch = wanted
        .and_then(|w| w.arch.clone())
        .map(|a| crate::image::platform::go_arch(&a))
        .unwrap_or_else(|| crate::seccomp::host_arch().to_string());
    let variant = wanted.and_then(|w| w.variant.clone());
    let matches = |d: &&Descriptor| {
        let Some(p) = d.platform() else {
            return false;
        };
        p.os().to_string().eq_ignore_ascii_case(&os)
            && crate::image::platform::go_arch(&p.architecture().to_string()) == arch
            && variant.as_ref().is_none_or(|v| {
                p.variant()
                    .as_ref()
                    .is_none_or(|pv| pv.eq_ignore_ascii_case(v))
            })
    };
    let candidates: Vec<&Descriptor> = index.manifests().iter().filter(matches).collect();
    // With no variant asked for, an entry without one (or the first) is the usual one.
    candidates
        .iter()
        .find(|d| variant.is_some() || d.platform().as_ref().is_none_or(|p| p.variant().is_none()))
        .or(candidates.first())
        .copied()
        .ok_or_else(|| {
            let offered: Vec<String> = index
                .manifests()
                .iter()
                .filter_map(|d| d.platform().as_ref())
                .map(|p| {
                    let mut text = format!("{}/{}", p.os(), p.architecture());
                    if let Some(v) = p.variant() {
                        text.push('/');
                        text.push_str(v);
                    }
                    text
                })
                .collect();
            let mut asked = format!("{os}/{arch}");
            if let Some(v) = &variant {
                asked.push('/');
                asked.push_str(v);
            }
            EngineError::RegistryNotFound(format!(
                "{name}: no image for {asked} in the manifest list (it has: {})",
                if offered.is_empty() {
                    "none with a platform".to_string()
                } else {
                    offered.join(", ")
                }
            ))
        })
}

/// A layer's media type, checked against what rpod can unpack.
pub fn check_layer_type(media_type: &str, name: &str) -> Result<()> {
    match media_type {
        OCI_LAYER_GZIP
        | OCI_LAYER
        | OCI_LAYER_ZSTD
        | DOCKER_LAYER_GZIP
        | DOCKER_FOREIGN_LAYER_GZIP => Ok(()),
        other => Err(EngineError::NotSupported(format!(
            "{name}: layers of media type {other:?}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index_with(platforms: &[(&str, &str, Option<&str>)]) -> ImageIndex {
        let manifests: Vec<serde_json::Value> = platforms
            .iter()
            .enumerate()
            .map(|(i, (os, arch, variant))| {
                let mut platform = serde_json::json!({"os": os, "architecture": arch});
                if let Some(v) = variant {
                    platform["variant"] = serde_json::json!(v);
                }
                serde_json::json!({
                    "mediaType": OCI_MANIFEST,
                    "digest": format!("sha256:{}", format!("{i}").repeat(64)),
                    "size": 10,
                    "platform": platform,
                })
            })
            .collect();
        let text =
            serde_json::json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests});
        match parse(OCI_INDEX, text.to_string().as_bytes(), "x").unwrap() {
            Document::Index(index) => *index,
            Document::Image(_) => panic!("an index was read as a manifest"),
        }
    }

    #[test]
    fn the_hosts_platform_or_the_one_asked_for_is_chosen() {
        let index = index_with(&[
            ("linux", "arm", Some("v6")),
            ("linux", "arm", Some("v7")),
            ("linux", crate::seccomp::host_arch(), None),
            ("windows", "amd64", None),
        ]);
        let digest = |d: &Descriptor| d.digest().to_string();
        assert_eq!(
            digest(choose(&index, None, "x").unwrap()),
            format!("sha256:{}", "2".repeat(64))
        );
        let arm7 = Platform {
            os: None,
            arch: Some("arm".into()),
            variant: Some("v7".into()),
        };
        assert_eq!(
            digest(choose(&index, Some(&arm7), "x").unwrap()),
            format!("sha256:{}", "1".repeat(64))
        );
        let s390 = Platform {
            os: Some("linux".into()),
            arch: Some("s390x".into()),
            variant: None,
        };
        let err = choose(&index, Some(&s390), "x").err().unwrap().to_string();
        assert!(
            err.contains("linux/s390x") && err.contains("linux/arm/v7"),
            "{err}"
        );
    }

    #[test]
    fn schema1_unknown_layers_and_bad_digests_are_refused() {
        let schema1 = br#"{"schemaVersion":1,"name":"x","fsLayers":[]}"#;
        assert!(matches!(
            parse("", schema1, "x"),
            Err(EngineError::NotSupported(_))
        ));
        assert!(parse("", b"not json", "x").is_err());
        assert!(check_layer_type(OCI_LAYER_GZIP, "x").is_ok());
        assert!(check_layer_type(OCI_LAYER_ZSTD, "x").is_ok());
        assert!(check_layer_type("application/vnd.oci.image.layer.v1.tar+lz4", "x").is_err());
        assert!(check_layer_type("text/html", "x").is_err());
        assert!(checked_digest(&format!("sha256:{}", "A".repeat(64))).is_ok());
        assert!(checked_digest("sha256:../../etc").is_err());
        assert!(checked_digest("sha512:00").is_err());
        assert!(checked_digest("nothing").is_err());
    }

    #[test]
    fn a_docker_manifest_reads_as_an_image_manifest() {
        let text = format!(
            r#"{{"schemaVersion":2,"mediaType":"{DOCKER_MANIFEST}","config":{{"mediaType":"{DOCKER_CONFIG}","size":2,"digest":"sha256:{z}"}},"layers":[{{"mediaType":"{DOCKER_LAYER_GZIP}","size":3,"digest":"sha256:{z}"}}]}}"#,
            z = "0".repeat(64)
        );
        match parse("application/json", text.as_bytes(), "x").unwrap() {
            Document::Image(m) => assert_eq!(m.layers().len(), 1),
            Document::Index(_) => panic!("a manifest was read as an index"),
        }
    }
}
