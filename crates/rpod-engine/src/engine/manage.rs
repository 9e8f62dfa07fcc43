//! Small lifecycle operations over whole containers: rename, restart, prune.

use super::*;

impl Engine {
    /// Give a container a new name (any state).
    pub fn rename(&self, name_or_id: &str, new_name: &str) -> Result<ContainerRecord> {
        if !valid_name(new_name) {
            return Err(EngineError::InvalidArg(format!(
                "container name {new_name:?} must match [a-zA-Z0-9][a-zA-Z0-9_.-]*: invalid argument"
            )));
        }
        let found = self.lookup(name_or_id)?;
        let _lock = self.lock(found.id())?;
        let mut record = self.reload(found.id(), name_or_id)?;
        let old = std::mem::replace(&mut record.config.name, new_name.to_string());
        self.store.rename_container(&record.config)?;
        self.container_event(&record, "rename", &[("oldName", old)]);
        Ok(record)
    }

    /// Stop a container (if it runs) and start it again.
    ///
    /// The stop lets go of the container while it waits, so other commands may stop or
    /// start it before this start (restarts at the same moment): one started meanwhile runs
    /// anew, as asked; one being stopped by another is stopped again (that stop awaited)
    /// and started (up to `ATTEMPTS` times). Restarts at the same moment thus all succeed
    /// (podman 4.3 refuses those that find the container being stopped).
    pub fn restart(&self, name_or_id: &str, timeout: Option<u32>) -> Result<ContainerRecord> {
        self.restart_with_signal(name_or_id, timeout, None)
    }

    /// `restart` with another first signal than the container's (the API's `signal=`).
    pub fn restart_with_signal(
        &self,
        name_or_id: &str,
        timeout: Option<u32>,
        signal: Option<i32>,
    ) -> Result<ContainerRecord> {
        const ATTEMPTS: usize = 10;
        let mut attempt = 1;
        loop {
            // One created in the runtime (`init`) is only started, as podman's restart
            // does: its command never ran, so there is nothing to stop.
            let initialized = self.inspect(name_or_id)?.state.status == Status::Created;
            if !initialized {
                match self.stop_with_signal(name_or_id, timeout, signal) {
                    Ok(_) | Err(EngineError::NotModified(_)) => {}
                    Err(e) => return Err(e),
                }
            }
            match self.start(name_or_id, None, None) {
                Ok(record) => {
                    self.container_event(&record, "restart", &[]);
                    return Ok(record);
                }
                Err(EngineError::NotModified(_)) => return self.inspect(name_or_id),
                // In a state no start takes (another's stop under way): stopped again.
                Err(EngineError::StateInvalid { .. }) if attempt < ATTEMPTS => {}
                Err(e) => return Err(e),
            }
            attempt += 1;
        }
    }

    /// Remove every container that does not run (created, exited) and passes `keep`;
    /// their IDs and what each wrote.
    pub fn prune(&self, keep: &dyn Fn(&ContainerRecord) -> bool) -> Result<Vec<Pruned>> {
        let mut removed = Vec::new();
        for record in self.list()? {
            if record.state.status.is_active() && record.state.status != Status::Created {
                continue;
            }
            // An infra container goes with its pod (`pod prune`).
            if !keep(&record) || self.is_infra(&record)? {
                continue;
            }
            let options = RemoveOptions {
                force: false,
                timeout: None,
                volumes: false,
            };
            // Measured first: the changes go with the container. A container whose
            // changes cannot be read is still pruned; it counts for nothing.
            let size = self
                .container_size(&record)
                .map_or(0, |(written, _)| written);
            match self.remove(record.id(), options) {
                Ok(id) => removed.push(Pruned { id, size }),
                // Started meanwhile, or gone: not ours to prune.
                Err(EngineError::RemoveRunning { .. }) | Err(EngineError::NoSuchContainer(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(removed)
    }
}
