//! `system migrate`, as podman's does it for a root store: every running container is
//! stopped (pods' containers by their pods, the infra container last) and, with
//! `--new-runtime`, every container is moved to that OCI runtime. (The store's schema is
//! brought up to date whenever it is opened: there is nothing else to migrate.)

use super::*;

/// What `system migrate` did.
#[derive(Debug, Default)]
pub struct MigrateReport {
    /// The containers it stopped.
    pub stopped: Vec<String>,
    /// The containers it moved to the new runtime.
    pub moved: Vec<String>,
}

impl Engine {
    /// Stop every running container and, with `new_runtime`, give every container that
    /// runtime. An unknown runtime is refused before anything is stopped.
    pub fn system_migrate(&self, new_runtime: Option<&str>) -> Result<MigrateReport> {
        if let Some(name) = new_runtime {
            self.runtime(name)?;
        }
        let mut report = MigrateReport::default();
        let active = |id: &str| -> Result<bool> { Ok(self.inspect(id)?.state.status.can_stop()) };
        for pod in self.store.pods()? {
            let view = self.pod_view(pod)?;
            let running: Vec<String> = view
                .containers
                .iter()
                .filter(|c| c.state.status.can_stop())
                .map(|c| c.id().to_string())
                .collect();
            if !running.is_empty() {
                self.pod_stop(&view.pod.id, None)?;
                report.stopped.extend(running);
            }
        }
        for record in self.store.containers()? {
            let id = record.id();
            if active(id)? {
                self.stop(id, None)?;
                report.stopped.push(id.to_string());
            }
        }
        let Some(name) = new_runtime else {
            return Ok(report);
        };
        for record in self.store.containers()? {
            if record.config.runtime == name {
                continue;
            }
            let id = record.id();
            // The runtime's own record of a stopped container goes first: the new runtime
            // would not know it.
            if self.inspect(id)?.state.status == Status::Stopped {
                self.cleanup(id)?;
            }
            let _lock = self.lock(id)?;
            let Some(mut current) = self.store.container(id)? else {
                continue;
            };
            if !matches!(current.state.status, Status::Configured | Status::Exited) {
                return Err(EngineError::state(
                    id,
                    format!(
                        "container {} is {} (started again while migrating?): its runtime stays {}",
                        current.config.name,
                        current.state.status.as_str(),
                        current.config.runtime
                    ),
                ));
            }
            current.config.runtime = name.to_string();
            self.store.save_config(&current.config)?;
            report.moved.push(id.to_string());
        }
        Ok(report)
    }
}
