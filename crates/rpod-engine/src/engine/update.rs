//! `rpod update`: change a container's cgroup limits, running or not (the seed's
//! UpdateContainer for a live one), and keep them in its configuration for its next starts.

use super::*;
use crate::resources::LimitChanges;

impl Engine {
    /// Apply `changes` to a container. Invalid values change nothing; a value the runtime
    /// refuses leaves the old limits in the cgroup and in the stored configuration.
    pub fn update(&self, name_or_id: &str, changes: &LimitChanges) -> Result<ContainerRecord> {
        if changes.is_empty() {
            return Err(EngineError::InvalidArg(
                "nothing to update: give at least one limit".into(),
            ));
        }
        let found = self.lookup(name_or_id)?;
        let _lock = self.lock(found.id())?;
        let mut record = self.reload(found.id(), name_or_id)?;
        self.sync(&mut record)?;
        let mut config = record.config.clone();
        changes.apply(&mut config)?;
        let limits_changed = LimitChanges {
            restart: None,
            ..changes.clone()
        } != LimitChanges::default();
        if limits_changed {
            needs_cgroup(&record, "update the limits of")?;
            crate::resources::check_host(&config.resources, &self.options.cgroup_root)?;
        }
        let live = limits_changed
            && matches!(
                record.state.status,
                Status::Created | Status::Running | Status::Paused | Status::Stopping
            );
        if live {
            refuse_what_runc_ignores(&config.runtime, changes)?;
            let resources = crate::resources::limits(&config)?
                .build()
                .map_err(|e| EngineError::InvalidArg(format!("building the limits: {e}")))?;
            let runtime = self.runtime(&config.runtime)?;
            runtime.update_container(&self.oci_container(&record), &resources)?;
        }
        record.config = config;
        self.store.save_config(&record.config)?;
        self.container_event(&record, "update", &[]);
        Ok(record)
    }
}

/// runc's `update` leaves a live container's memory swappiness and per-device block I/O
/// weights and rates as they are, and says nothing: refuse rather than report a change that
/// did not happen (crun makes them).
fn refuse_what_runc_ignores(runtime: &str, changes: &LimitChanges) -> Result<()> {
    let is_runc = Path::new(runtime)
        .file_name()
        .is_some_and(|name| name == "runc");
    let ignored: Vec<&str> = [
        (changes.memory_swappiness.is_some(), "--memory-swappiness"),
        (
            !changes.blkio_weight_device.is_empty(),
            "--blkio-weight-device",
        ),
        (!changes.device_read_bps.is_empty(), "--device-read-bps"),
        (!changes.device_write_bps.is_empty(), "--device-write-bps"),
        (!changes.device_read_iops.is_empty(), "--device-read-iops"),
        (!changes.device_write_iops.is_empty(), "--device-write-iops"),
    ]
    .into_iter()
    .filter_map(|(asked, flag)| asked.then_some(flag))
    .collect();
    if is_runc && !ignored.is_empty() {
        return Err(EngineError::NotSupported(format!(
            "changing {} of a created or running runc container (runc's update ignores it: stop the container first, or use crun)",
            ignored.join(" and ")
        )));
    }
    Ok(())
}
