//! A removed container's network, torn down by a process of its own. Deleting the
//! container's veth makes the kernel wait for RCU callbacks (`rcu_barrier`: 10-20 ms here,
//! most of a bridged `run --rm`'s teardown, docs/benchmarks.md), and nothing of the removal
//! depends on it. So the removal takes the namespace's orphan lock, hands it to `rpod
//! container teardown-network ID` as its standard input (a `flock` lock belongs to the open
//! file: the child holds it once the removal closes its own descriptor) and goes on. The
//! container's addresses stay leased until that process is done; while it runs, sweeps of
//! stray namespaces find the lock held and leave the namespace alone; when it dies, its
//! lock goes with it and the next sweep tears the rest down. Like every netavark call, the
//! teardown holds rpod's host-wide netavark lock (network/netavark.rs): the next setup, and
//! `network rm`'s retiring of a bridge, wait for it as they did when the removal ran it.
//! Containers with published ports are torn down in the removal itself: a new container
//! may publish the same ports the moment the removal returns.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use super::netsetup::OrphanLock;
use super::Engine;
use crate::container::{ContainerRecord, Status};
use crate::network::netns;
use crate::{EngineError, Result};

/// The hidden subcommand (after `rpod_command`'s global options) that takes a teardown over.
const TEARDOWN_COMMAND: [&str; 2] = ["container", "teardown-network"];

impl Engine {
    /// Take a container's network down for its removal: handed over to a process of its
    /// own where it can be, else here.
    pub(super) fn network_down_for_removal(&self, record: &mut ContainerRecord) {
        if !self.hand_network_teardown_over(record.id()) {
            self.teardown_network(record.id());
        }
        record.state.networks.clear();
    }

    /// Start the process that tears container `id`'s network down, holding its lock;
    /// whether it started (else nothing was handed over).
    fn hand_network_teardown_over(&self, id: &str) -> bool {
        let Some(options) = self.load_network_options(id) else {
            return false;
        };
        if options
            .port_mappings
            .as_ref()
            .is_some_and(|p| !p.is_empty())
        {
            return false;
        }
        if !netns::is_bound(&self.netns_path(id)) {
            return false;
        }
        let Ok(Some(lock)) = self.try_orphan_lock(id) else {
            return false;
        };
        let handed = match lock.file.try_clone() {
            Ok(copy) => copy,
            Err(_) => return false,
        };
        let argv = self.rpod_command();
        let mut command = Command::new(&argv[0]);
        command
            .args(&argv[1..])
            .args(TEARDOWN_COMMAND)
            .arg(id)
            .stdin(Stdio::from(handed))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Out of the terminal's process group: a ^C after `run --rm` returned must
            // not stop the teardown halfway.
            .process_group(0);
        match command.spawn() {
            Ok(mut child) => {
                lock.leave_to_child();
                // Reaped by a thread: in a long-running process (the REST service) it
                // would stay a zombie; in the CLI the thread ends with the process.
                let _ = std::thread::Builder::new()
                    .name("network-teardown".into())
                    .spawn(move || child.wait());
                true
            }
            Err(e) => {
                tracing::debug!(id, %e, "starting the network's teardown; tearing down here");
                false
            }
        }
    }

    /// `rpod container teardown-network ID`: tear down the network of container `id`,
    /// which is being removed or is gone. `lock` is the namespace's orphan lock handed
    /// over by the removal (the process's standard input); without it (or when it is not
    /// that lock) the lock is taken here, and when another process holds it, that one
    /// tears down and this does nothing.
    pub fn teardown_handed_over_network(&self, id: &str, lock: Option<fs::File>) -> Result<()> {
        if !crate::names::is_id(id) {
            return Err(EngineError::InvalidArg(format!(
                "{id:?} is not a container ID"
            )));
        }
        if let Some(record) = self.store.container(id)? {
            if record.state.status != Status::Removing {
                return Err(EngineError::state(
                    id,
                    format!("container {id} is not being removed: its network is its own"),
                ));
            }
        }
        let lock = match lock.and_then(|file| self.adopt_orphan_lock(id, file)) {
            Some(lock) => lock,
            None => match self.try_orphan_lock(id)? {
                Some(lock) => lock,
                None => return Ok(()),
            },
        };
        self.teardown_network(id);
        drop(lock);
        Ok(())
    }

    /// `file` as the orphan lock of `id`'s namespace, when it is that lock's file and this
    /// process's open file holds it (taking it again through the same open file succeeds
    /// at once; through another, it would not).
    fn adopt_orphan_lock(&self, id: &str, file: fs::File) -> Option<OrphanLock> {
        let path = self.orphan_lock_path(id);
        let (given, named) = (file.metadata().ok()?, fs::metadata(&path).ok()?);
        if (given.dev(), given.ino()) != (named.dev(), named.ino()) {
            return None;
        }
        rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive).ok()?;
        Some(OrphanLock {
            file,
            path,
            remove_file: true,
        })
    }
}
