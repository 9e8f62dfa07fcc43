//! Namespaces a container shares with another (`--network`, `--pid`, `--ipc`, `--uts`,
//! `--cgroupns container:NAME`), found by the other container's PID at init, and its `--group-add`
//! groups, resolved in its root.

use std::path::{Path, PathBuf};

use super::Engine;
use crate::container::ContainerRecord;
use crate::spec::Prepared;
use crate::{EngineError, Result};

impl Engine {
    /// The namespace of a running container whose network another one joins.
    pub(super) fn shared_namespace(&self, id: &str) -> Result<PathBuf> {
        Ok(PathBuf::from(format!(
            "/proc/{}/ns/net",
            self.running_pid(id, "network")?
        )))
    }

    /// The PID of a running container another one shares a namespace (`what`) with.
    pub(super) fn running_pid(&self, id: &str, what: &str) -> Result<i32> {
        let mut other = self
            .store
            .container(id)?
            .ok_or_else(|| EngineError::NoSuchContainer(id.to_string()))?;
        self.sync(&mut other)?;
        if !other.state.status.is_running_or_paused() || other.state.pid <= 0 {
            return Err(EngineError::state(
                id,
                format!(
                    "container {} must be running to share its {what} namespace",
                    other.config.name
                ),
            ));
        }
        Ok(other.state.pid)
    }

    /// The other namespaces a container joins (`--pid`, `--ipc`, `--uts`, `--cgroupns
    /// container:`), the
    /// `/dev/shm` it shares (the host's with its IPC namespace; a shareable one, its own or
    /// the container's whose IPC namespace it joins), and the `--group-add` groups.
    pub(super) fn join_namespaces(
        &self,
        record: &ContainerRecord,
        root: &Path,
        prepared: &mut Prepared,
    ) -> Result<()> {
        use crate::isolation::NamespaceMode;
        use oci_spec::runtime::LinuxNamespaceType;
        let iso = &record.config.isolation;
        for (mode, typ, name, what) in [
            (&iso.pid, LinuxNamespaceType::Pid, "pid", "PID"),
            (&iso.ipc, LinuxNamespaceType::Ipc, "ipc", "IPC"),
            (&iso.uts, LinuxNamespaceType::Uts, "uts", "UTS"),
            (&iso.cgroup, LinuxNamespaceType::Cgroup, "cgroup", "cgroup"),
        ] {
            if let NamespaceMode::Container(other) = mode {
                let pid = self.running_pid(other, what)?;
                prepared
                    .shared
                    .push((typ, PathBuf::from(format!("/proc/{pid}/ns/{name}"))));
            }
        }
        if let Some(other) = &record.config.userns_container {
            let pid = self.running_pid(other, "user")?;
            prepared.shared.push((
                LinuxNamespaceType::User,
                PathBuf::from(format!("/proc/{pid}/ns/user")),
            ));
        }
        if iso.ipc == NamespaceMode::Host {
            prepared.shm_source = Some(PathBuf::from("/dev/shm"));
        } else {
            prepared.shm_source = self.shared_shm(record)?;
        }
        prepared.extra_gids = crate::spec::resolve_groups(root, &iso.group_add)?;
        if record.config.systemd {
            prepared.systemd_cgroup = Some(crate::systemd_mode::SystemdCgroup::for_host(
                &self.options.cgroup_root,
                &crate::spec::cgroup_path(&record.config),
            ));
        }
        Ok(())
    }
}
