//! `system reset`: the store back to empty.

use super::*;

/// What a reset removed, by kind.
#[derive(Debug, Default, Clone)]
pub struct ResetReport {
    pub pods: Vec<String>,
    pub containers: Vec<String>,
    pub images: Vec<String>,
    pub volumes: Vec<String>,
    pub networks: Vec<String>,
    pub secrets: Vec<String>,
}

impl Engine {
    /// Remove every pod and container (stopped at once, with its anonymous volumes), volume,
    /// image, network and secret, as podman's `system reset` does. The store's directories
    /// and its event log stay (the log records the removals). Stops at the first thing
    /// that cannot be removed, saying what it is; what was removed before stays removed.
    pub fn reset(&self) -> Result<ResetReport> {
        let mut report = ResetReport::default();
        // Pods first: their infra containers are removed with them only.
        for pod in self.pods()? {
            match self.pod_remove(&pod.id, true, Some(0)) {
                Ok(containers) => {
                    report.containers.extend(containers);
                    report.pods.push(pod.id);
                }
                Err(EngineError::NoSuchPod(_)) => {}
                Err(e) => return Err(e),
            }
        }
        for record in self.list()? {
            let removal = RemoveOptions {
                force: true,
                timeout: Some(0),
                volumes: true,
            };
            match self.remove(record.id(), removal) {
                Ok(_) => report.containers.push(record.id().to_string()),
                Err(EngineError::NoSuchContainer(_)) => {}
                Err(e) => return Err(e),
            }
        }
        for volume in self.volumes()? {
            match self.volume_remove(&volume.name, true) {
                Ok(()) => report.volumes.push(volume.name),
                Err(EngineError::NoSuchVolume(_)) => {}
                // A plugin that refuses (or is gone) keeps its data; the store forgets the
                // volume all the same, as a reset must.
                Err(e) if volume.uses_plugin() => {
                    tracing::warn!(volume = %volume.name, %e, "forgetting a volume its plugin did not remove");
                    self.forget_plugin_volume(&volume)?;
                    report.volumes.push(volume.name);
                }
                Err(e) => return Err(e),
            }
        }
        for image in self.images()? {
            match self.remove_image(&image.id, true) {
                Ok(_) => report.images.push(image.id),
                Err(EngineError::NoSuchImage(_)) => {}
                Err(e) => return Err(e),
            }
        }
        for network in self.networks()? {
            match self.remove_network(network, true, Some(0)) {
                Ok(name) => report.networks.push(name),
                Err(EngineError::NoSuchNetwork(_)) => {}
                Err(e) => return Err(e),
            }
        }
        // No container is left to use a secret.
        for secret in self.secrets()? {
            self.secret_remove(&secret.id)?;
            report.secrets.push(secret.name);
        }
        // The directories of builds' cache mounts, as podman's reset takes buildah's.
        let cache_mounts = self.roots.build_cache_mounts();
        match fs::remove_dir_all(&cache_mounts) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(EngineError::io("removing", &cache_mounts, e))
            }
            _ => {}
        }
        Ok(report)
    }

    /// Remove the directories of builds' cache mounts (`RUN --mount=type=cache`; the
    /// Docker API's `build/prune`): their names and the bytes they held. A directory a
    /// running step uses stays (`cache_dirs`).
    pub fn prune_build_cache_mounts(&self) -> Result<(Vec<String>, u64)> {
        super::build::cache_dirs::prune(&self.roots.build_cache_mounts())
    }
}
