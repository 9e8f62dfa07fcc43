//! Removing a container and everything it has.

use super::*;

/// A container marked as being removed by this process while the removal runs.
struct Departing<'a> {
    engine: &'a Engine,
    id: String,
}

impl<'a> Departing<'a> {
    fn mark(engine: &'a Engine, id: &str) -> Self {
        let mut departing = engine.departing.lock().unwrap_or_else(|e| e.into_inner());
        departing.insert(id.to_string());
        Departing {
            engine,
            id: id.to_string(),
        }
    }
}

impl Drop for Departing<'_> {
    fn drop(&mut self) {
        let mut departing = self
            .engine
            .departing
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        departing.remove(&self.id);
    }
}

impl Engine {
    /// The containers that join this one's namespaces (`--network`, `--pid`, `--ipc`,
    /// `--uts`, `--cgroupns container:`) or require it (`--requires`).
    fn dependents(&self, id: &str) -> Result<Vec<ContainerRecord>> {
        Ok(self
            .store
            .containers()?
            .into_iter()
            .filter(|c| depends_on(c, id))
            .collect())
    }

    /// Remove a container as Docker's clients expect: they remove a project's containers
    /// all at once, in any order (docker-compose's `down`, a container whose network
    /// namespace another joins, `network_mode: service:...`, among them), and Docker
    /// refuses no removal for such dependents. A removal refused for dependents is tried
    /// once more when those being removed meanwhile are gone (`await_departing_dependents`),
    /// also when they went between the refusal and the wait.
    pub fn remove_among_departing(
        &self,
        name_or_id: &str,
        options: RemoveOptions,
    ) -> Result<String> {
        match self.remove(name_or_id, options) {
            Err(EngineError::HasDependents { .. }) => {
                self.await_departing_dependents(name_or_id)?;
                self.remove(name_or_id, options)
            }
            other => other,
        }
    }

    /// Wait while the containers that depend on `name_or_id` are being removed by others
    /// at the same moment (up to `ARRIVAL` for their removals to begin: from their first
    /// step in this process, as far as `Removing` in another; `DEPARTURE` in all).
    /// Dependents that stay are left for a removal to name.
    pub fn await_departing_dependents(&self, name_or_id: &str) -> Result<()> {
        // Generous: on a loaded machine a dependent's removal request, sent at the same
        // moment, may come late; CI saw docker-compose's `down` fail with 1 s (and once
        // with 5 s when only `Removing` counted as leaving).
        const ARRIVAL: std::time::Duration = std::time::Duration::from_secs(5);
        const DEPARTURE: std::time::Duration = std::time::Duration::from_secs(30);
        let id = self.lookup(name_or_id)?.id().to_string();
        let began = std::time::Instant::now();
        loop {
            let dependents = self.dependents(&id)?;
            if dependents.is_empty() {
                return Ok(());
            }
            let departing = self.departing.lock().unwrap_or_else(|e| e.into_inner());
            let all_leaving = dependents
                .iter()
                .all(|c| c.state.status == Status::Removing || departing.contains(c.id()));
            drop(departing);
            let waited = began.elapsed();
            if waited >= DEPARTURE || (!all_leaving && waited >= ARRIVAL) {
                return Ok(());
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// `names` ordered so that each container comes after those among them that depend
    /// on it (`rm` of several, `rm --all`), so that no removal fails for a dependent that
    /// goes later. Names that are no container stay, for the removal to report.
    pub fn removal_order(&self, names: &[String]) -> Result<Vec<String>> {
        if names.len() < 2 {
            return Ok(names.to_vec());
        }
        let all = self.store.containers()?;
        let ids: Vec<Option<String>> = names
            .iter()
            .map(|name| self.lookup(name).ok().map(|r| r.id().to_string()))
            .collect();
        let chosen: Vec<&ContainerRecord> = all
            .iter()
            .filter(|c| ids.iter().flatten().any(|id| id == c.id()))
            .collect();
        // Depth first: a container's dependents among the chosen, then it.
        fn visit<'a>(
            id: &'a str,
            chosen: &[&'a ContainerRecord],
            seen: &mut std::collections::HashSet<&'a str>,
            order: &mut Vec<&'a str>,
        ) {
            if !seen.insert(id) {
                return;
            }
            for dependent in chosen.iter().filter(|c| depends_on(c, id)) {
                visit(dependent.id(), chosen, seen, order);
            }
            order.push(id);
        }
        let (mut seen, mut done) = (std::collections::HashSet::new(), Vec::new());
        for record in ids
            .iter()
            .flatten()
            .filter_map(|id| chosen.iter().find(|c| c.id() == id))
        {
            visit(record.id(), &chosen, &mut seen, &mut done);
        }
        let mut ordered = done.into_iter().map(|id| {
            let at = ids.iter().position(|i| i.as_deref() == Some(id));
            at.map_or_else(|| id.to_string(), |at| names[at].clone())
        });
        // The unknown names where they were; the known in their order.
        Ok(ids
            .iter()
            .zip(names)
            .map(|(id, name)| match id {
                Some(_) => ordered.next().unwrap_or_else(|| name.clone()),
                None => name.clone(),
            })
            .collect())
    }

    /// `rm --depend`: remove the containers that depend on this one (theirs first), then
    /// it. Without `force` a running one among them stops it before anything is removed.
    /// Returns the IDs removed, dependents first.
    pub fn remove_with_dependents(
        &self,
        name_or_id: &str,
        options: RemoveOptions,
    ) -> Result<Vec<String>> {
        let found = self.lookup(name_or_id)?;
        let mut order = Vec::new();
        self.collect_dependents(found, &mut order)?;
        if !options.force {
            for record in &order {
                let current = self.inspect(record.id())?;
                if current.state.status.is_active() && current.state.status != Status::Created {
                    return Err(EngineError::RemoveRunning {
                        id: current.id().to_string(),
                        state: current.state.status.as_str().to_string(),
                    });
                }
            }
        }
        order
            .iter()
            .map(|record| self.remove(record.id(), options))
            .collect()
    }

    /// `record` after everything that depends on it, depth first.
    fn collect_dependents(
        &self,
        record: ContainerRecord,
        order: &mut Vec<ContainerRecord>,
    ) -> Result<()> {
        if order.iter().any(|r| r.id() == record.id()) {
            return Ok(());
        }
        for dependent in self.dependents(record.id())? {
            self.collect_dependents(dependent, order)?;
        }
        order.push(record);
        Ok(())
    }

    /// Remove a container; running or paused ones only with `force` (they are stopped first).
    pub fn remove(&self, name_or_id: &str, options: RemoveOptions) -> Result<String> {
        let found = self.lookup(name_or_id)?;
        let id = found.id().to_string();
        let _departing = Departing::mark(self, &id);
        if self.is_infra(&found)? {
            return Err(EngineError::state(
                &id,
                format!(
                    "container {} is the infra container of pod {} and cannot be removed \
                     without removing the pod",
                    found.config.name,
                    found.config.pod.as_deref().unwrap_or_default()
                ),
            ));
        }
        let dependents: Vec<String> = self
            .dependents(&id)?
            .into_iter()
            .map(|c| c.config.name)
            .collect();
        if !dependents.is_empty() {
            return Err(EngineError::HasDependents {
                id,
                name: found.config.name,
                dependents: dependents.join(", "),
            });
        }
        let needs_stop = {
            let _lock = self.lock(&id)?;
            let mut record = self.reload(&id, name_or_id)?;
            self.sync(&mut record)?;
            let status = record.state.status;
            if matches!(status, Status::Running | Status::Paused | Status::Stopping) {
                if !options.force {
                    return Err(EngineError::RemoveRunning {
                        id,
                        state: status.as_str().to_string(),
                    });
                }
                true
            } else {
                status == Status::Created
            }
        };
        if needs_stop {
            match self.stop(&id, options.timeout) {
                Ok(_) | Err(EngineError::NotModified(_)) => {}
                Err(e) => return Err(e),
            }
        }
        let _lock = self.lock(&id)?;
        let Some(mut record) = self.store.container(&id)? else {
            // Removed meanwhile (an --rm container's cleanup).
            return Ok(id);
        };
        self.sync(&mut record)?;
        if record.state.status.is_active() {
            if !options.force {
                return Err(EngineError::RemoveRunning {
                    id,
                    state: record.state.status.as_str().to_string(),
                });
            }
            // Started again between the stop and this lock, by another command (`restart`,
            // `start`, a request to the service): killed now with the lock held, so that
            // nothing starts it again before it is gone.
            self.kill_holding_lock(&mut record)?;
        }
        self.remove_locked(&mut record, options.volumes)?;
        Ok(id)
    }

    /// Remove a container that is not running. Called under the lock.
    /// With `volumes`, its anonymous volumes go too.
    pub(super) fn remove_locked(&self, record: &mut ContainerRecord, volumes: bool) -> Result<()> {
        self.remove_leftovers(record)?;
        let known_to_runtime = record.state.status.known_to_runtime();
        transition(record, Status::Removing)?;
        self.save(record)?;
        let runtime = self.runtime(&record.config.runtime)?;
        let oci = self.oci_container(record);
        // The runtime's delete (two executions of runc or crun) runs while the rest is
        // taken apart: nothing below depends on it, as rpod gives the runtime no hooks
        // that could read the bundle. The record goes only once the runtime has let go.
        let runtime_delete = known_to_runtime.then(|| runtime.begin_delete_container(&oci));
        if record.state.mounted || record.config.rootfs.is_none() {
            self.unmount_rootfs(record)?;
        }
        self.network_down_for_removal(record);
        self.unmount_shm(record.id())?;
        if let Ok(exit_file) = runtime.exit_file_path(&oci) {
            let _ = fs::remove_file(exit_file);
        }
        for dir in [
            self.roots.container_dir(record.id()),
            self.roots.run_dir(record.id()),
        ] {
            if let Err(e) = fs::remove_dir_all(&dir) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    return Err(EngineError::io("removing", &dir, e));
                }
            }
        }
        self.remove_userns_dir(record.id())?;
        if let Some(Err(e)) = runtime_delete.map(|call| call.finish()) {
            // Already gone from the runtime is what we want.
            tracing::debug!(id = record.id(), %e, "runtime delete");
        }
        // The monitor's files go last: while they are there, a monitor whose waiter was
        // killed during the removal still runs its exit command, which finishes it.
        if let Ok(oom_file) = runtime.oom_file_path(&oci) {
            if let Some(persist) = oom_file.parent() {
                let _ = fs::remove_dir_all(persist);
            }
        }
        self.store.remove_exec_sessions(None, record.id())?;
        self.store.remove_container(record)?;
        if volumes {
            self.remove_anonymous_volumes(record);
        }
        self.container_event(record, "remove", &[]);
        Ok(())
    }
}

/// Whether `c` joins a namespace of container `id` (`--network`, `--pid`, `--ipc`, `--uts`,
/// `--cgroupns container:`) or requires it (`--requires`).
fn depends_on(c: &ContainerRecord, id: &str) -> bool {
    let shares = crate::isolation::NamespaceMode::Container(id.to_string());
    let iso = &c.config.isolation;
    c.config.network == NetworkMode::Container(id.to_string())
        || iso.pid == shares
        || iso.ipc == shares
        || iso.uts == shares
        || iso.cgroup == shares
        || c.config.requires.iter().any(|r| r == id)
        || c.config.userns_container.as_deref() == Some(id)
}
