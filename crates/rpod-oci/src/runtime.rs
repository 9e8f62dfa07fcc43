//! The `OciRuntime` trait: podman's libpod OCIRuntime interface in Rust.

use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxResources;

use crate::exitfile::ExitHandover;
use crate::types::*;
use crate::Result;

/// An OCI runtime driven through a per-container monitor.
///
/// Implementations are thin: they run the runtime and the monitor and report what happened.
/// They never decide whether an operation is legal for the container's current state and
/// never change the engine's records; `kill_container` and `stop_container` in particular run
/// without the container lock held.
pub trait OciRuntime: Send + Sync {
    /// The runtime's name (`runc`, `crun`, or the basename of a path).
    fn name(&self) -> &str;
    /// The runtime executable.
    fn path(&self) -> &Path;

    /// Called with the spec of container `id` before the engine writes it into the bundle
    /// for a create (not a restore): the runtime may add to it what makes its create
    /// faster (crun: a compiled seccomp filter kept from an earlier create), so that
    /// `config.json` is written once.
    fn prepare_spec(&self, _id: &str, _spec: &mut oci_spec::runtime::Spec) {}
    /// Create the container in the runtime (not started). Returns the init PID and the
    /// monitor's PID.
    fn create_container(
        &self,
        ctr: &OciContainer,
        restore: Option<&CheckpointOptions>,
    ) -> Result<CreateOutcome>;
    /// Whether `create_started_container` works here (rpod's own monitor; conmon always
    /// creates and starts apart).
    fn supports_start_at_create(&self) -> bool {
        false
    }
    /// Create the container and start its process in one run of the runtime (its
    /// `run --detach`), for a start that needs nothing done between the two. With
    /// `attach_follows`, the monitor holds the container's output (and so its exit) until
    /// the first attach client connects, for a while at most, so that a caller that
    /// attaches right after this returns misses nothing. Returns the PIDs as
    /// `create_container` does; the container runs.
    fn create_started_container(
        &self,
        _ctr: &OciContainer,
        _attach_follows: bool,
    ) -> Result<CreateOutcome> {
        Err(crate::OciError::NotSupported {
            operation: "create-and-start",
            runtime: self.name().to_string(),
        })
    }
    /// Start a created container.
    fn start_container(&self, ctr: &OciContainer) -> Result<()>;
    /// Send `signal` to init, or to every process of the container with `all`.
    fn kill_container(&self, ctr: &OciContainer, signal: i32, all: bool) -> Result<()>;
    /// Send the stop signal, then SIGKILL after `timeout` seconds (at once when 0). Returns
    /// only when the container's init process is gone.
    fn stop_container(&self, ctr: &OciContainer, timeout: u32, all: bool) -> Result<()>;
    /// Remove the container from the runtime.
    fn delete_container(&self, ctr: &OciContainer) -> Result<()>;
    /// Start removing the container from the runtime, for a removal of the container with
    /// other work to do meanwhile; `PendingCall::finish` waits for it and says how it went.
    /// By default the removal is done before this returns. A runtime whose monitor deletes
    /// the container itself at its exit may leave that delete running when `finish`
    /// returns, and look after it at a later removal (the monitor's files go with this
    /// one), so this is only for a container that is being removed.
    fn begin_delete_container(&self, ctr: &OciContainer) -> PendingCall {
        PendingCall::done(self.delete_container(ctr))
    }
    fn pause_container(&self, ctr: &OciContainer) -> Result<()>;
    fn unpause_container(&self, ctr: &OciContainer) -> Result<()>;

    /// Attach the given streams to the container through the monitor's attach socket.
    fn attach(&self, ctr: &OciContainer, options: AttachOptions) -> Result<()>;
    /// Attach over a hijacked HTTP connection (multiplexed framing without a terminal).
    fn http_attach(&self, ctr: &OciContainer, options: HttpAttachOptions) -> Result<()>;
    /// Resize the container's terminal.
    fn attach_resize(&self, ctr: &OciContainer, size: TerminalSize) -> Result<()>;

    /// Run a command in the container, attached. Returns once the session runs: its PID and a
    /// channel that delivers the attach result.
    fn exec_container(
        &self,
        ctr: &OciContainer,
        session_id: &str,
        options: ExecOptions,
        initial_size: Option<TerminalSize>,
    ) -> Result<(i32, ExecAttachResult)>;
    /// Run a command in the container attached to a hijacked HTTP connection.
    fn exec_container_http(
        &self,
        ctr: &OciContainer,
        session_id: &str,
        options: ExecOptions,
        connection: HttpAttachOptions,
        initial_size: Option<TerminalSize>,
    ) -> Result<(i32, ExecAttachResult)>;
    /// Run a command in the container without attaching. Returns its PID.
    fn exec_container_detached(
        &self,
        ctr: &OciContainer,
        session_id: &str,
        options: ExecOptions,
        stdin: bool,
    ) -> Result<i32>;
    fn exec_attach_resize(
        &self,
        ctr: &OciContainer,
        session_id: &str,
        size: TerminalSize,
    ) -> Result<()>;
    /// SIGTERM to the session, SIGKILL after `timeout` seconds (at once when 0).
    fn exec_stop_container(&self, ctr: &OciContainer, session_id: &str, timeout: u32)
        -> Result<()>;
    /// Whether the session is still running.
    fn exec_update_status(&self, ctr: &OciContainer, session_id: &str) -> Result<bool>;

    /// Checkpoint the container (only when `supports_checkpoint`).
    fn checkpoint_container(&self, ctr: &OciContainer, options: &CheckpointOptions) -> Result<i64>;

    /// Whether the container's monitor still runs.
    fn check_conmon_running(&self, ctr: &OciContainer) -> Result<bool>;

    fn supports_checkpoint(&self) -> bool;
    fn supports_json_errors(&self) -> bool;
    fn supports_no_cgroups(&self) -> bool;
    fn supports_kvm(&self) -> bool;

    /// Connect to the container's streams, to copy them once it runs (see `AttachSession`).
    fn attach_connect(&self, ctr: &OciContainer) -> Result<Box<dyn AttachSession>>;
    /// The exit code of an ended exec session, waiting up to `timeout` for the monitor to
    /// record it; `None` if it never did.
    fn exec_exit_code(
        &self,
        ctr: &OciContainer,
        session_id: &str,
        timeout: std::time::Duration,
    ) -> Result<Option<i32>>;
    /// Remove what an exec session left with the monitor (its files); gone is fine.
    fn exec_remove(&self, ctr: &OciContainer, session_id: &str) -> Result<()>;

    fn attach_socket_path(&self, ctr: &OciContainer) -> Result<PathBuf>;
    fn exec_attach_socket_path(&self, ctr: &OciContainer, session_id: &str) -> Result<PathBuf>;
    /// Where the monitor writes the container's exit code.
    fn exit_file_path(&self, ctr: &OciContainer) -> Result<PathBuf>;
    /// Exists when the container was OOM-killed.
    fn oom_file_path(&self, ctr: &OciContainer) -> Result<PathBuf>;
    /// Join the monitor's exit-command handover as a waiter that handles the container's
    /// exit itself (`exitfile::ExitHandover`); `None` when the monitor has no handover
    /// (conmon) or it cannot be joined now.
    fn exit_handover(&self, _ctr: &OciContainer) -> Option<ExitHandover> {
        None
    }
    /// The same for an exec session, joined by its attached client before the session
    /// starts (its exit command only removes the session, which the client does).
    fn exec_handover(&self, _ctr: &OciContainer, _session_id: &str) -> Option<ExitHandover> {
        None
    }

    fn runtime_info(&self) -> Result<(ConmonInfo, OciRuntimeInfo)>;

    /// Change the container's cgroup limits.
    fn update_container(&self, ctr: &OciContainer, resources: &LinuxResources) -> Result<()>;
}

/// A runtime call that was started and may still run (`begin_delete_container`). Dropping
/// it without `finish` still waits for it, so that no runtime process is left behind.
pub struct PendingCall {
    finish: Option<Box<dyn FnOnce() -> Result<()> + Send>>,
}

impl PendingCall {
    /// A call that has already ended this way.
    pub fn done(result: Result<()>) -> Self {
        Self::deferred(move || result)
    }

    /// A call that `finish` waits for.
    pub fn deferred(finish: impl FnOnce() -> Result<()> + Send + 'static) -> Self {
        Self {
            finish: Some(Box::new(finish)),
        }
    }

    /// Wait for the call to end.
    pub fn finish(mut self) -> Result<()> {
        self.finish.take().map_or(Ok(()), |finish| finish())
    }
}

impl Drop for PendingCall {
    fn drop(&mut self) {
        if let Some(finish) = self.finish.take() {
            let _ = finish();
        }
    }
}

impl std::fmt::Debug for PendingCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingCall")
            .field("finished", &self.finish.is_none())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    fn counting(runs: &Arc<AtomicUsize>) -> PendingCall {
        let runs = runs.clone();
        PendingCall::deferred(move || {
            runs.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
    }

    #[test]
    fn a_pending_call_is_waited_for_once_when_finished_or_dropped() {
        let runs = Arc::new(AtomicUsize::new(0));
        let call = counting(&runs);
        assert_eq!(
            runs.load(Ordering::SeqCst),
            0,
            "not before it is waited for"
        );
        call.finish().unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        drop(counting(&runs));
        assert_eq!(
            runs.load(Ordering::SeqCst),
            2,
            "dropped, it is still waited for"
        );
        let failed = PendingCall::done(Err(crate::OciError::InvalidArg("no".into())));
        assert!(failed.finish().is_err());
    }
}
