//! A new image from an existing one and one more layer: `commit`'s image side. The new
//! layer goes through the same unpacking as any archive's (the container that made it is
//! not trusted).

use std::io::Read;

use chrono::Utc;
use oci_spec::image::{Config, HistoryBuilder, ImageConfiguration};

use super::layer::{store_layer, StoredLayer};
use super::{add_image_on, config, discard_new_layers, layer_dirs, reference, ImageRecord};
use crate::paths::Roots;
use crate::store::Store;
use crate::{EngineError, Result};

/// What the new image records besides its layers.
#[derive(Debug, Clone, Default)]
pub struct NewImage {
    /// Its name (`localhost/` is added to names without a registry); none leaves it
    /// untagged.
    pub name: Option<String>,
    /// The process settings (`Config`), the base image's updated by the caller.
    pub config: Config,
    /// The history entry's `created_by` (the command that made the layer).
    pub created_by: String,
    pub comment: Option<String>,
    pub author: Option<String>,
    /// The image's creation time (and its history entry's); none is now.
    pub created: Option<chrono::DateTime<Utc>>,
    /// `build --omit-history`: the image keeps no history, not even its base's.
    pub omit_history: bool,
    /// A Docker-format image's own fields; none makes an OCI image.
    pub docker: Option<super::DockerFields>,
    /// The `created_by` of steps before this one that changed only the config (a build's
    /// `ENV`, `USER`, ...): each a history entry of its own, marked `empty_layer`, before
    /// this one's, as buildah writes them.
    pub config_steps: Vec<String>,
    /// The OS version the image requires (`build --os-version`): in place of its base's.
    pub os_version: Option<String>,
    /// OS features the image requires (`build --os-feature`), beside its base's.
    pub os_features: Vec<String>,
}

fn build_err(e: impl std::fmt::Display) -> EngineError {
    EngineError::InvalidArg(format!("building image config: {e}"))
}

/// Store `layer` (an uncompressed or gzip tar) on top of `base`'s layers as a new image;
/// `squashed`: `layer` is the whole root file system, the image's only layer (with one
/// history entry).
pub fn commit(
    store: &Store,
    roots: &Roots,
    base: &ImageRecord,
    layer: impl Read,
    new: NewImage,
    squashed: bool,
) -> Result<ImageRecord> {
    commit_layer(store, roots, base, Some(layer), new, squashed)
}

/// A new image of `base`'s layers with another config (what a build's instructions that
/// change only the config make): no layer of its own, its history entry marked
/// `empty_layer`, as Docker and buildah write such a step.
pub fn commit_config(
    store: &Store,
    roots: &Roots,
    base: &ImageRecord,
    new: NewImage,
) -> Result<ImageRecord> {
    commit_layer(store, roots, base, None::<std::io::Empty>, new, false)
}

fn commit_layer(
    store: &Store,
    roots: &Roots,
    base: &ImageRecord,
    layer: Option<impl Read>,
    new: NewImage,
    squashed: bool,
) -> Result<ImageRecord> {
    let name = new
        .name
        .as_deref()
        .map(reference::normalize_local)
        .transpose()?;
    let mut image: ImageConfiguration = config(roots, &base.id)?;
    let dirs = layer_dirs(roots);
    let stored = layer
        .map(|layer| store_layer(&dirs, layer, "the container's changes"))
        .transpose()?;
    let kept: &[String] = if squashed { &[] } else { &base.layers };
    let mut layers: Vec<StoredLayer> = kept
        .iter()
        .map(|diff_id| StoredLayer {
            diff_id: diff_id.clone(),
            size: std::fs::metadata(dirs.blob(diff_id))
                .map(|m| m.len())
                .unwrap_or(0),
            created: false,
        })
        .collect();
    let new_diff_id = stored.as_ref().map(|s| format!("sha256:{}", s.diff_id));
    let made_layer = stored.is_some();
    layers.extend(stored);
    let now = super::config_time(new.created.unwrap_or_else(Utc::now));
    let mut history = if squashed {
        Vec::new()
    } else {
        image.history().clone().unwrap_or_default()
    };
    for step in &new.config_steps {
        let entry = HistoryBuilder::default()
            .created(now.clone())
            .created_by(step.clone())
            .empty_layer(true);
        history.push(entry.build().map_err(build_err)?);
    }
    let mut entry = HistoryBuilder::default()
        .created(now.clone())
        .created_by(new.created_by);
    if let Some(comment) = new.comment {
        entry = entry.comment(comment);
    }
    if let Some(author) = &new.author {
        entry = entry.author(author.clone());
    }
    if !made_layer {
        entry = entry.empty_layer(true);
    }
    // A config alone that its steps' entries already tell needs no entry of its own.
    if made_layer || new.config_steps.is_empty() {
        history.push(entry.build().map_err(build_err)?);
    }
    image.set_history((!new.omit_history).then_some(history));
    if let Some(version) = new.os_version {
        image.set_os_version(Some(version));
    }
    if !new.os_features.is_empty() {
        let mut features = image.os_features().clone().unwrap_or_default();
        for feature in new.os_features {
            if !features.contains(&feature) {
                features.push(feature);
            }
        }
        image.set_os_features(Some(features));
    }
    image.set_created(Some(now));
    image.set_author(new.author);
    image.set_config(Some(new.config));
    let mut rootfs = image.rootfs().clone();
    let mut diff_ids = if squashed {
        Vec::new()
    } else {
        rootfs.diff_ids().clone()
    };
    diff_ids.extend(new_diff_id);
    rootfs.set_diff_ids(diff_ids);
    image.set_rootfs(rootfs);
    let discard = |layers: &[StoredLayer]| {
        if made_layer {
            discard_new_layers(store, roots, &layers[layers.len() - 1..]);
        }
    };
    // Labels sorted, as Go writes them: the config's bytes (its digest, the image's ID)
    // do not depend on a HashMap's order.
    let written = crate::go_json::to_value_sorted(&image).and_then(|mut document| {
        if let Some(docker) = &new.docker {
            docker.write_into(&mut document);
        }
        serde_json::to_vec(&document)
    });
    let bytes = match written {
        Ok(bytes) => bytes,
        Err(e) => {
            discard(&layers);
            return Err(build_err(e));
        }
    };
    let names: Vec<String> = name.into_iter().collect();
    let format = match new.docker {
        Some(_) => super::ImageFormat::Docker,
        None => super::ImageFormat::Oci,
    };
    // A squashed image shares no layer with its base: it has no parent.
    let parent = (!squashed).then_some(base.id.as_str());
    add_image_on(store, roots, &bytes, &layers, &names, format, parent)
        .inspect_err(|_| discard(&layers))
}
