//! Named volumes with the local driver: a directory in rpod's store
//! (`<root>/volumes/<name>/_data`) bind-mounted into the containers that name it; a volume
//! plugin's volume is mounted by its plugin and bound on that directory. A volume
//! outlives its containers and is never removed while one uses it (unless forced, which
//! removes those containers first). The operations are in `engine/volumes.rs`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// rpod's own volume driver: a directory in the store (with a device mounted on it when
/// its options name one).
pub const LOCAL_DRIVER: &str = "local";

/// Whether `driver` names rpod's own driver (no name does too).
pub fn is_local_driver(driver: &str) -> bool {
    driver.is_empty() || driver == LOCAL_DRIVER
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeRecord {
    pub name: String,
    pub driver: String,
    pub labels: BTreeMap<String, String>,
    pub options: BTreeMap<String, String>,
    pub created: DateTime<Utc>,
    /// Made for one container (`-v /path`, an image's `VOLUME`): removed with it by
    /// `rm -v` and `run --rm`.
    #[serde(default)]
    pub anonymous: bool,
    /// Not used yet: the first container that mounts it copies the image's content at the
    /// mount point into it (when the volume is still empty).
    #[serde(default)]
    pub needs_copy_up: bool,
    /// Not mounted by a container yet: the first one gives it to its user (then to the
    /// owner and mode of the image's directory at that place, if there is one), as podman
    /// does. False for a volume made with an owner (`o=uid=`, `o=gid=`).
    #[serde(default)]
    pub needs_chown: bool,
    /// The owner it was given: by `o=uid=`/`o=gid=`, or the user of the first container
    /// (podman's `UID` and `GID`).
    #[serde(default)]
    pub uid: u32,
    #[serde(default)]
    pub gid: u32,
}

/// What `volume reload` did: the volumes recorded and forgotten, and what went wrong.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VolumeReload {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub errors: Vec<String>,
}

impl VolumeRecord {
    /// Whether a volume plugin keeps the volume (its driver is not rpod's own).
    pub fn uses_plugin(&self) -> bool {
        !is_local_driver(&self.driver)
    }
}
