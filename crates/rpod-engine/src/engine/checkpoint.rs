//! Checkpoint and restore (the seed's CheckpointContainer and CreateContainer's restore):
//! CRIU dumps a running container's processes into its bundle (`checkpoint/`), and a
//! restore brings them back through conmon, as a start would, with the same addresses.

use super::*;
use crate::container::NetworkMode;
use serde::Serialize;

/// What `checkpoint` is asked.
#[derive(Debug, Clone, Default)]
pub struct CheckpointRequest {
    pub leave_running: bool,
    pub keep: bool,
    pub tcp_established: bool,
    pub file_locks: bool,
    pub export: Option<PathBuf>,
    pub ignore_rootfs: bool,
    /// Leave the volumes' content out of the export.
    pub ignore_volumes: bool,
    /// How the export is compressed.
    pub compression: ArchiveCompression,
    /// Also make a checkpoint image of this name (one layer holding what an export holds).
    pub create_image: Option<String>,
}

/// How an exported checkpoint is compressed (`--compress`): podman's choices, zstd by
/// default as podman's. An import reads any of them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ArchiveCompression {
    #[default]
    Zstd,
    Gzip,
    None,
}

impl std::str::FromStr for ArchiveCompression {
    type Err = EngineError;

    fn from_str(value: &str) -> Result<Self> {
        match value {
            "zstd" => Ok(Self::Zstd),
            "gzip" => Ok(Self::Gzip),
            "none" => Ok(Self::None),
            other => Err(EngineError::InvalidArg(format!(
                "invalid compression {other:?}: zstd, gzip or none"
            ))),
        }
    }
}

/// What `restore` is asked.
#[derive(Debug, Clone, Default)]
pub struct RestoreRequest {
    pub keep: bool,
    pub tcp_established: bool,
    pub file_locks: bool,
    pub ignore_rootfs: bool,
    /// Restore from an exported archive into a new container (a checkpoint image named
    /// instead of a container is restored so too).
    pub import: Option<PathBuf>,
    /// The new container's name (with `import`).
    pub name: Option<String>,
    /// Leave the archive's volume content out: the volumes are used as they are here.
    pub ignore_volumes: bool,
    /// Neither the addresses nor the MAC addresses the container had or was given are
    /// taken again (with `import`: for a second copy beside the first).
    pub ignore_static_ip: bool,
    pub ignore_static_mac: bool,
    /// Other published ports in place of the checkpoint's (`-p` values, with `import`).
    pub publish: Vec<String>,
}

impl RestoreRequest {
    /// The options that only an import can use, each refused without one, as podman's.
    fn check_import_only(&self) -> Result<()> {
        if self.import.is_some() {
            return Ok(());
        }
        let given = [
            (self.name.is_some(), "--name"),
            (self.ignore_rootfs, "--ignore-rootfs"),
            (self.ignore_volumes, "--ignore-volumes"),
            (self.ignore_static_ip, "--ignore-static-ip"),
            (self.ignore_static_mac, "--ignore-static-mac"),
            (!self.publish.is_empty(), "--publish"),
        ];
        match given.iter().find(|(set, _)| *set) {
            Some((_, flag)) => Err(EngineError::InvalidArg(format!(
                "{flag} can only be used with --import (an exported checkpoint)"
            ))),
            None => Ok(()),
        }
    }
}

/// How long a checkpoint or restore took.
#[derive(Debug, Clone, Serialize)]
pub struct CheckpointReport {
    pub id: String,
    /// The runtime's own time, in microseconds.
    pub runtime_micros: i64,
    /// rpod's whole operation, in microseconds.
    pub total_micros: i64,
}

/// The addresses a container had, kept with its checkpoint so a restore gets them again.
const NETWORK_STATUS: &str = "network.status";

impl Engine {
    fn checkpoint_images(&self, id: &str) -> PathBuf {
        self.roots.bundle_dir(id).join("checkpoint")
    }

    /// Whether the container's runtime can checkpoint here.
    pub fn supports_checkpoint(&self, record: &ContainerRecord) -> Result<bool> {
        Ok(self.runtime(&record.config.runtime)?.supports_checkpoint())
    }

    pub fn checkpoint(
        &self,
        name_or_id: &str,
        request: &CheckpointRequest,
    ) -> Result<CheckpointReport> {
        let started = std::time::Instant::now();
        // What an export holds, for a file or an image.
        let taking = request.export.is_some() || request.create_image.is_some();
        if !taking {
            for (set, flag) in [
                (request.ignore_rootfs, "--ignore-rootfs"),
                (request.ignore_volumes, "--ignore-volumes"),
            ] {
                if set {
                    return Err(EngineError::InvalidArg(format!(
                        "{flag} can only be used with --export or --create-image"
                    )));
                }
            }
        }
        if let Some(name) = &request.create_image {
            crate::image::reference::normalize_local(name)?;
        }
        let found = self.lookup(name_or_id)?;
        let _lock = self.lock(found.id())?;
        let mut record = self.reload(found.id(), name_or_id)?;
        self.sync(&mut record)?;
        if record.state.status != Status::Running {
            return Err(EngineError::state(
                record.id(),
                format!(
                    "container {} is {}: only a running container can be checkpointed",
                    record.config.name,
                    record.state.status.as_str()
                ),
            ));
        }
        if record.config.id_mappings.is_some() {
            return Err(EngineError::NotSupported(
                "checkpointing a container with a user namespace (--uidmap)".into(),
            ));
        }
        if let NetworkMode::Container(_) | NetworkMode::Host = record.config.network {
            return Err(EngineError::NotSupported(
                "checkpointing a container that shares another's or the host's network".into(),
            ));
        }
        let runtime = self.runtime(&record.config.runtime)?;
        let oci = self.oci_container(&record);
        let options = rpod_oci::CheckpointOptions {
            keep: request.keep,
            keep_running: request.leave_running,
            tcp_established: request.tcp_established,
            file_locks: request.file_locks,
            ..Default::default()
        };
        // An export of a container left running is one moment's: the container is frozen
        // from before the dump until its files and log are taken, so a restore finds them as
        // the dumped processes left them (CRIU refuses a file held open whose size changed).
        let freeze = request.leave_running && taking;
        if freeze {
            runtime.pause_container(&oci)?;
        }
        let dumped = (|| -> Result<_> {
            // The log as of the dump: what a running container writes afterwards is not the
            // checkpoint's.
            let log_len = fs::metadata(self.log_path(&record))
                .map(|m| m.len())
                .unwrap_or(0);
            let runtime_micros = runtime.checkpoint_container(&oci, &options)?;
            // The files as the dumped processes left them, volumes included (CRIU checks the
            // size of every file held open).
            let (rootfs_diff, volumes) = if taking {
                (
                    self.rootfs_diff(&record, request.ignore_rootfs)?,
                    self.volume_archives(&record, request.ignore_volumes)?,
                )
            } else {
                (None, Vec::new())
            };
            Ok((log_len, runtime_micros, rootfs_diff, volumes))
        })();
        let thawed = if freeze {
            runtime.unpause_container(&oci)
        } else {
            Ok(())
        };
        if let Err(e) = thawed {
            // Still frozen: recorded as paused, so that `unpause` can take it from here.
            transition(&mut record, Status::Paused)?;
            self.save(&record)?;
            let dump = match &dumped {
                Ok(_) => String::new(),
                Err(dump) => format!(" (the checkpoint itself failed: {dump})"),
            };
            return Err(EngineError::state(
                record.id(),
                format!(
                    "container {} stays paused after its checkpoint: {e}{dump}",
                    record.config.name
                ),
            ));
        }
        let (log_len, runtime_micros, rootfs_diff, volumes) = dumped?;
        let images = self.checkpoint_images(record.id());
        let status = serde_json::to_vec(&record.state.networks)
            .map_err(|e| EngineError::InvalidArg(format!("serializing networks: {e}")))?;
        let status_file = images.join(NETWORK_STATUS);
        fs::write(&status_file, status).map_err(|e| EngineError::io("writing", &status_file, e))?;
        if !request.leave_running {
            // The dump ended the processes: what remains is a stopped container whose
            // checkpoint waits for a restore. The monitor's exit command finds it so.
            transition(&mut record, Status::Stopped)?;
            record.state.exit_code = Some(0);
            record.state.finished_at = Some(Utc::now());
            record.state.checkpointed = true;
            record.state.checkpointed_at = Some(Utc::now());
            record.state.restored = false;
            self.save(&record)?;
            self.cleanup_runtime(&mut record)?;
        } else {
            record.state.checkpointed_at = Some(Utc::now());
            self.save(&record)?;
        }
        let taken = super::checkpoint_archive::Taken {
            rootfs_diff,
            volumes,
            log_len,
        };
        if let Some(file) = &request.export {
            self.export_checkpoint(&record, file, &taken, request.compression)?;
        }
        if let Some(name) = &request.create_image {
            self.create_checkpoint_image(&record, name, &taken)?;
        }
        self.container_event(&record, "checkpoint", &[]);
        Ok(CheckpointReport {
            id: record.id().to_string(),
            runtime_micros,
            total_micros: started.elapsed().as_micros() as i64,
        })
    }

    pub fn restore(&self, name_or_id: &str, request: &RestoreRequest) -> Result<CheckpointReport> {
        let started = std::time::Instant::now();
        let id = match &request.import {
            Some(file) => self.import_checkpoint(file, &file.display().to_string(), request)?,
            // A container of that name first, then a checkpoint image, as podman's.
            None => match self.lookup(name_or_id) {
                Err(EngineError::NoSuchContainer(missing)) => {
                    match self.checkpoint_image_layer(name_or_id)? {
                        Some(layer) => self.import_checkpoint(&layer, name_or_id, request)?,
                        None => return Err(EngineError::NoSuchContainer(missing)),
                    }
                }
                found => {
                    request.check_import_only()?;
                    found?.id().to_string()
                }
            },
        };
        let _lock = self.lock(&id)?;
        let mut record = self.reload(&id, name_or_id)?;
        self.sync(&mut record)?;
        if !record.state.checkpointed || record.state.status.known_to_runtime() {
            return Err(EngineError::state(
                record.id(),
                format!(
                    "container {} is not checkpointed: there is nothing to restore",
                    record.config.name
                ),
            ));
        }
        let images = self.checkpoint_images(record.id());
        if !images.join("inventory.img").exists() {
            return Err(EngineError::InvalidArg(format!(
                "the checkpoint of container {} is missing ({}): was it restored already?",
                record.config.name,
                images.display()
            )));
        }
        let runtime_micros = match self.restore_locked(&mut record, request, &images) {
            Ok(micros) => micros,
            Err(e) => {
                // An imported container that cannot be restored is not kept.
                if request.import.is_some() {
                    let _ = self.remove_locked(&mut record, true);
                }
                return Err(e);
            }
        };
        if !request.keep {
            let _ = fs::remove_dir_all(&images);
        }
        self.container_event(&record, "restore", &[]);
        Ok(CheckpointReport {
            id: record.id().to_string(),
            runtime_micros,
            total_micros: started.elapsed().as_micros() as i64,
        })
    }

    /// Like `init` and `start` in one: the runtime restores the processes instead of
    /// creating new ones. Called under the lock; on failure the container stays
    /// checkpointed and nothing else is left.
    fn restore_locked(
        &self,
        record: &mut ContainerRecord,
        request: &RestoreRequest,
        images: &Path,
    ) -> Result<i64> {
        self.remove_leftovers(record)?;
        // The same addresses and MAC addresses as before, while they are free (unless the
        // import was told to leave them).
        let before: BTreeMap<String, crate::network::Attachment> =
            fs::read(images.join(NETWORK_STATUS))
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or_default();
        let config = record.config.clone();
        // The other running containers, read only when a MAC address may be taken again.
        let running: Vec<ContainerRecord> =
            if request.ignore_static_mac || record.config.net.networks.is_empty() {
                Vec::new()
            } else {
                self.store
                    .containers()?
                    .into_iter()
                    .filter(|c| c.id() != config.id && c.state.status.is_active())
                    .collect()
            };
        for join in &mut record.config.net.networks {
            let had = before.get(&join.name);
            if join.mac.is_none() && !request.ignore_static_mac {
                join.mac = had
                    .map(|a| a.mac_address.clone())
                    .filter(|mac| !mac.is_empty())
                    .filter(|mac| {
                        !running.iter().any(|c| {
                            c.state
                                .networks
                                .get(&join.name)
                                .is_some_and(|a| a.mac_address == *mac)
                        })
                    });
            }
            if !request.ignore_static_ip {
                // The addresses it had, where no other container holds them now.
                let free = |ip: &std::net::IpAddr| {
                    self.network(&join.name)
                        .map(|n| {
                            !self
                                .store
                                .address_taken(&n.name, *ip, &config.id)
                                .unwrap_or(true)
                        })
                        .unwrap_or(false)
                };
                let held = |address: Option<ipnet::IpNet>| address.map(|a| a.addr()).filter(free);
                if join.ip.is_none() {
                    join.ip = match held(had.and_then(|a| a.ipv4())) {
                        Some(std::net::IpAddr::V4(v4)) => Some(v4),
                        _ => None,
                    };
                }
                if join.ip6.is_none() {
                    join.ip6 = match held(had.and_then(|a| a.ipv6())) {
                        Some(std::net::IpAddr::V6(v6)) => Some(v6),
                        _ => None,
                    };
                }
            }
        }
        let root_path = self.mount_rootfs(record)?;
        record.state.mounted = true;
        let mut pending = None;
        let runtime = self.runtime(&record.config.runtime)?;
        let result = (|| {
            let user = spec::resolve_user(&root_path, &record.config.user)?;
            self.mount_volume_devices(record)?;
            let (mut prepared, setup) = self.network_up(record)?;
            pending = setup;
            self.join_namespaces(record, &root_path, &mut prepared)?;
            // Its mounts as a start gives them (the same sources, bound again).
            let config = self.mounts_for_runtime(record)?;
            let mut spec = spec::generate(&config, &root_path, &user, None, &prepared)?;
            self.add_hooks(&mut spec, record)?;
            let bundle = self.roots.bundle_dir(record.id());
            let spec_path = bundle.join("config.json");
            let json = serde_json::to_vec_pretty(&spec)
                .map_err(|e| EngineError::InvalidArg(format!("serializing the spec: {e}")))?;
            fs::write(&spec_path, json).map_err(|e| EngineError::io("writing", &spec_path, e))?;
            // The namespace must be connected before CRIU puts the processes back in it.
            if let Some(setup) = pending.take() {
                record.state.networks = setup.wait()?;
            }
            let options = rpod_oci::CheckpointOptions {
                keep: request.keep,
                tcp_established: request.tcp_established,
                file_locks: request.file_locks,
                ..Default::default()
            };
            let outcome =
                runtime.create_container(&self.monitored_container(record), Some(&options))?;
            Ok(outcome)
        })();
        if let Some(setup) = pending.take() {
            let _ = setup.wait();
        }
        // The configuration on record stays as asked (no addresses pinned).
        let networks = record.state.networks.clone();
        record.config = config;
        match result {
            Ok(outcome) => {
                transition(record, Status::Created)?;
                transition(record, Status::Running)?;
                record.state.pid = outcome.pid;
                record.state.conmon_pid = outcome.conmon_pid;
                record.state.networks = networks;
                record.state.exit_code = None;
                record.state.finished_at = None;
                record.state.started_at = Some(Utc::now());
                record.state.checkpointed = false;
                record.state.restored = true;
                record.state.restored_at = Some(Utc::now());
                record.state.error.clear();
                self.save(record)?;
                Ok(outcome.restore_micros)
            }
            Err(e) => {
                let _ = runtime.delete_container(&self.oci_container(record));
                self.network_down(record);
                let _ = self.unmount_shm(record.id());
                let _ = self.unmount_rootfs(record);
                record.state.mounted = false;
                let _ = self.save(record);
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compressions_are_podmans() {
        assert_eq!(
            "zstd".parse::<ArchiveCompression>().unwrap(),
            ArchiveCompression::Zstd
        );
        assert_eq!(
            "gzip".parse::<ArchiveCompression>().unwrap(),
            ArchiveCompression::Gzip
        );
        assert_eq!(
            "none".parse::<ArchiveCompression>().unwrap(),
            ArchiveCompression::None
        );
        assert_eq!(ArchiveCompression::default(), ArchiveCompression::Zstd);
        let err = "xz".parse::<ArchiveCompression>().unwrap_err().to_string();
        assert!(err.contains("zstd, gzip or none"), "{err}");
    }

    /// What only an import can use is refused without one, each flag named.
    #[test]
    fn import_options_need_an_import() {
        type Set = fn(&mut RestoreRequest);
        let cases: [(&str, Set); 6] = [
            ("--name", |r| r.name = Some("x".into())),
            ("--ignore-rootfs", |r| r.ignore_rootfs = true),
            ("--ignore-volumes", |r| r.ignore_volumes = true),
            ("--ignore-static-ip", |r| r.ignore_static_ip = true),
            ("--ignore-static-mac", |r| r.ignore_static_mac = true),
            ("--publish", |r| r.publish = vec!["80".into()]),
        ];
        for (flag, set) in cases {
            let mut request = RestoreRequest::default();
            set(&mut request);
            let err = request.check_import_only().unwrap_err().to_string();
            assert!(
                err.contains(&format!("{flag} can only be used with --import")),
                "{err}"
            );
            request.import = Some(PathBuf::from("/x.tar"));
            assert!(request.check_import_only().is_ok(), "{flag}");
        }
        assert!(RestoreRequest::default().check_import_only().is_ok());
    }
}
