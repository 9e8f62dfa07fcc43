//! `kube play` and `kube down`: the pods of a Kubernetes YAML file (`kube.rs` reads it)
//! made, started and removed with the engine's own pod and container operations.

use super::*;
use crate::image::registry::PullOptions;
use crate::kube::{PlannedContainer, PullPolicy};

/// How `kube play` plays a file.
#[derive(Debug, Clone)]
pub struct PlayOptions {
    /// Start the pods (the default); otherwise they are only made.
    pub start: bool,
    /// Remove pods of the same names first.
    pub replace: bool,
}

/// A pod `kube play` made, with its containers (the infra container aside).
#[derive(Debug, Clone)]
pub struct PlayedPod {
    pub id: String,
    pub containers: Vec<String>,
}

impl Engine {
    /// Make (and start) the pods of a Kubernetes YAML file. The whole file is read and
    /// checked first; a pod whose containers cannot all be made is removed again.
    pub fn kube_play(
        &self,
        yaml: &str,
        options: &PlayOptions,
        progress: &mut dyn FnMut(&str),
    ) -> Result<Vec<PlayedPod>> {
        let plans = crate::kube::plan(yaml)?;
        let mut played = Vec::new();
        for plan in plans {
            if options.replace {
                match self.pod_remove(&plan.name, true, Some(0)) {
                    Ok(_) | Err(EngineError::NoSuchPod(_)) => {}
                    Err(e) => return Err(e),
                }
            }
            for container in &plan.containers {
                self.kube_image(container, progress)?;
                for dir in &container.make_dirs {
                    fs::create_dir_all(dir)
                        .map_err(|e| EngineError::io("making the hostPath", dir, e))?;
                }
            }
            let pod = self.create_pod(plan.pod)?;
            let made = (|| -> Result<Vec<String>> {
                let mut ids = Vec::new();
                for container in plan.containers {
                    let mut create = container.options;
                    create.pod = Some(pod.id.clone());
                    ids.push(self.create(create)?.id().to_string());
                }
                if options.start {
                    self.pod_start(&pod.id)?;
                }
                Ok(ids)
            })();
            match made {
                Ok(containers) => played.push(PlayedPod {
                    id: pod.id,
                    containers,
                }),
                Err(e) => {
                    let _ = self.pod_remove(&pod.id, true, Some(0));
                    return Err(e);
                }
            }
        }
        Ok(played)
    }

    /// The image of a container to play, pulled as its `imagePullPolicy` says.
    fn kube_image(
        &self,
        container: &PlannedContainer,
        progress: &mut dyn FnMut(&str),
    ) -> Result<()> {
        let Some(image) = container.options.image.as_deref() else {
            return Ok(());
        };
        let local = match self.resolve_image(image) {
            Ok(_) => true,
            Err(EngineError::NoSuchImage(_)) => false,
            Err(e) => return Err(e),
        };
        let pull = match container.pull {
            PullPolicy::Always => true,
            PullPolicy::Missing => !local,
            PullPolicy::Never if local => false,
            PullPolicy::Never => return Err(EngineError::NoSuchImage(image.to_string())),
        };
        if pull {
            self.pull_image(image, &PullOptions::default(), progress)?;
        }
        Ok(())
    }

    /// Remove the pods a Kubernetes YAML file makes (stopped first); their IDs. A pod of
    /// the file that is not there is an error, after the others are removed.
    pub fn kube_down(&self, yaml: &str) -> Result<Vec<String>> {
        let mut removed = Vec::new();
        let mut missing = Vec::new();
        for name in crate::kube::pod_names(yaml)? {
            match self.lookup_pod(&name) {
                Ok(pod) => {
                    self.pod_remove(&pod.id, true, None)?;
                    removed.push(pod.id);
                }
                Err(EngineError::NoSuchPod(_)) => missing.push(name),
                Err(e) => return Err(e),
            }
        }
        if !missing.is_empty() {
            return Err(EngineError::NoSuchPod(missing.join(", ")));
        }
        Ok(removed)
    }
}
