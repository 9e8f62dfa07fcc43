//! The monitor's life: wait for the go-ahead, fork away from the caller, run the runtime,
//! report the container's PID, relay its streams until it exits, record its exit, run the
//! exit command.
//!
//! One thread and one poll(2) loop: the monitor lives as long as the container, once per
//! container, so it stays small. It never starts a thread, which is what makes its forks
//! without an exec right after them (the daemonizing one, the runtime's and the exit
//! command's children) safe.
#![allow(unsafe_code)]

use std::collections::HashMap;
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, FdFlag, OFlag};
use nix::sys::signal::{kill, SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};

use crate::attach::{AttachServer, INPUT_RECORD, STDERR_ID, STDOUT_ID};
use crate::console::ConsoleSocket;
use crate::handover;
use crate::kube_log::{KubeLog, Stream};
use crate::oom::{write_markers, OomWatch};
use crate::options::Config;
use crate::protocol::{self, Control};
use crate::resident;

/// One read of the container's output (larger than conmon's 8 KiB: fewer reads, fewer log
/// records; attach clients get records of 8192 bytes, or `--attach-record-size`). The
/// output pipes are made this large too. The buffer's pages are only touched by a
/// container that writes much at once.
const READ_BUFFER: usize = 256 * 1024;
/// At most this many reads per stream after the container's exit (64 MiB): more than any
/// pipe or terminal holds, so only a writer that outlives the container is cut short.
const DRAIN_READS_MAX: usize = 256;

/// A failure that ends the monitor: printed, told on the sync pipe once the caller was let
/// go, exit status 1.
pub struct Fatal(pub String);

fn fatal(what: &str, e: impl std::fmt::Display) -> Fatal {
    Fatal(format!("{what}: {e}"))
}

/// A descriptor number from the environment (`_OCI_SYNCPIPE`, ...), taken over.
fn env_fd(name: &str) -> Option<OwnedFd> {
    let fd: RawFd = std::env::var(name).ok()?.parse().ok()?;
    // SAFETY: fcntl on an arbitrary number only reports whether it is open.
    if fd < 3 || unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        return None;
    }
    // SAFETY: the caller handed this open descriptor to us; nothing else in this process
    // owns it.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let _ = fcntl(&fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC));
    Some(fd)
}

fn set_nonblocking(fd: &impl AsFd) {
    if let Ok(flags) = fcntl(fd, FcntlArg::F_GETFL) {
        let flags = OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK;
        let _ = fcntl(fd, FcntlArg::F_SETFL(flags));
    }
}

/// Read one byte from the start pipe: a byte or EOF means go.
fn await_start(start: &OwnedFd) -> Result<(), Errno> {
    let mut byte = [0u8; 1];
    loop {
        match nix::unistd::read(start, &mut byte) {
            Ok(_) => return Ok(()),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
}

fn write_all(fd: &impl AsFd, mut data: &[u8]) -> Result<(), Errno> {
    while !data.is_empty() {
        match nix::unistd::write(fd, data) {
            Ok(n) => data = &data[n..],
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Write `contents` to `path` through a temporary file and a rename: readers see all of it
/// or nothing.
fn write_atomically(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(&name);
    tmp_name.push(".tmp");
    let tmp = path.with_file_name(tmp_name);
    std::fs::write(&tmp, contents)?;
    std::fs::rename(&tmp, path)
}

fn read_oom_score() -> Option<String> {
    std::fs::read_to_string("/proc/self/oom_score_adj")
        .ok()
        .map(|s| s.trim().to_string())
}

fn set_oom_score(value: &str) {
    let _ = std::fs::write("/proc/self/oom_score_adj", value);
}

fn devnull(write: bool) -> Result<OwnedFd, Fatal> {
    let flags = if write {
        OFlag::O_RDWR
    } else {
        OFlag::O_RDONLY
    };
    nix::fcntl::open(
        "/dev/null",
        flags | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| fatal("opening /dev/null", e))
}

/// The pipes (or terminal) between the container and the monitor.
#[derive(Default)]
struct Streams {
    /// The container's input (its stdin pipe or the terminal), when it takes input.
    input: Option<OwnedFd>,
    stdout: Option<OwnedFd>,
    stderr: Option<OwnedFd>,
    /// The terminal's master side, once the runtime passed it.
    terminal: Option<OwnedFd>,
}

/// What the runtime process gets as its standard streams.
struct ChildStdio {
    stdin: Option<OwnedFd>,
    stdout: Option<OwnedFd>,
    stderr: Option<OwnedFd>,
}

fn pipe() -> Result<(OwnedFd, OwnedFd), Fatal> {
    nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| fatal("creating a pipe", e))
}

/// Let the container's user reopen its streams (`/dev/stdout`), as conmon does.
fn open_to_all(fd: &OwnedFd) {
    let _ = nix::sys::stat::fchmod(fd, nix::sys::stat::Mode::from_bits_truncate(0o777));
}

pub struct Monitor {
    config: Config,
    sync: Option<OwnedFd>,
    old_oom_score: Option<String>,
    old_mask: SigSet,
    signals: Option<SignalFd>,
    /// Exit codes of reaped children, by PID.
    reaped: HashMap<i32, i32>,
}

/// Run the monitor; returns the process's exit status.
pub fn run(config: Config) -> i32 {
    let mut monitor = Monitor {
        config,
        sync: None,
        old_oom_score: None,
        old_mask: SigSet::empty(),
        signals: None,
        reaped: HashMap::new(),
    };
    match monitor.run() {
        Ok(status) => status,
        Err(Fatal(message)) => {
            // Once the caller was let go, the sync pipe is where it learns of the failure.
            let message = format!("rpod-monitor: {message}");
            monitor.send_sync(-1, Some(&message));
            eprintln!("{message}");
            1
        }
    }
}

impl Monitor {
    fn run(&mut self) -> Result<i32, Fatal> {
        self.old_oom_score = read_oom_score();
        set_oom_score("-1000");
        // SAFETY: setting a signal's disposition to ignore installs no handler code.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        }
        // The process that started the monitor is the one that attaches after a create that
        // started the container; while it lives it may still come (see `Relay::hold_left`).
        let caller = (self.config.options.hold_output_for_attach > 0)
            .then(caller_pidfd)
            .flatten();
        let start = env_fd("_OCI_STARTPIPE");
        if let Some(start) = &start {
            await_start(start).map_err(|e| fatal("reading the start pipe", e))?;
        }
        if !self.config.options.sync {
            self.daemonize()?;
        } else if let Some(path) = &self.config.options.conmon_pidfile {
            write_atomically(path, std::process::id().to_string().as_bytes())
                .map_err(|e| fatal("writing the monitor's pid file", e))?;
        }
        self.sync = env_fd("_OCI_SYNCPIPE");
        let attach_pipe = if self.config.exec.as_ref().is_some_and(|e| e.attach) {
            env_fd("_OCI_ATTACHPIPE")
        } else {
            None
        };
        let passthrough = self.config.passthrough();
        if !passthrough {
            redirect_stdio_to_null()?;
        }
        let _ = nix::unistd::setsid();
        // SAFETY: prctl with these arguments only changes this process's attributes.
        unsafe {
            libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
        }
        let mut mask = SigSet::empty();
        for signal in [
            Signal::SIGCHLD,
            Signal::SIGTERM,
            Signal::SIGINT,
            Signal::SIGQUIT,
        ] {
            mask.add(signal);
        }
        let mut old = SigSet::empty();
        nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&mask), Some(&mut old))
            .map_err(|e| fatal("blocking signals", e))?;
        self.old_mask = old;
        self.signals = Some(
            SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
                .map_err(|e| fatal("creating a signalfd", e))?,
        );

        let terminal = self.config.options.terminal;
        let console = if terminal {
            Some(ConsoleSocket::create().map_err(Fatal)?)
        } else {
            None
        };
        let (mut streams, child_stdio, runtime_errors) = self.make_streams(passthrough)?;
        let mut attach = None;
        let mut ctl = None;
        if !passthrough {
            let limit = self.config.options.client_timeout;
            let send_timeout = (limit > 0).then(|| Duration::from_secs(limit));
            attach = Some(
                AttachServer::bind(
                    &self.config.bundle,
                    send_timeout,
                    self.config.options.attach_record_size,
                )
                .map_err(Fatal)?,
            );
            ctl = Some(make_ctl(&self.config.bundle)?);
        }
        // Opened before the runtime runs, as conmon does: a log that cannot be had fails the
        // start (through the sync pipe) instead of leaving a container nobody logs.
        let log = match self.config.kube_log() {
            Some(path) => Some(
                KubeLog::open(
                    path,
                    u64::try_from(self.config.options.log_size_max).ok(),
                    !self.config.options.no_sync_log,
                )
                .map_err(|e| fatal(&format!("opening log file {}", path.display()), e))?
                .keeping_files(self.config.options.log_max_files),
            ),
            None => None,
        };
        // Bound before the runtime runs: the container may tell systemd it is ready at once.
        let notify = match &self.config.options.sdnotify_socket {
            Some(host) => Some(
                crate::notify::NotifyProxy::bind(&self.config.bundle, host.as_os_str())
                    .map_err(|e| fatal("binding the sd-notify socket", e))?,
            ),
            None => None,
        };
        if let Some(pipe) = &attach_pipe {
            write_all(pipe, &protocol::sync_message(0, None))
                .map_err(|e| fatal("writing the attach pipe", e))?;
        }
        let argv = protocol::runtime_argv(&self.config, console.as_ref().map(|c| c.path.as_path()));
        let runtime_pid = self.spawn_runtime(&argv, child_stdio, start.as_ref())?;
        drop(start);
        if passthrough {
            redirect_stdio_to_null()?;
        }
        // The runtime has the passed descriptors now; the monitor has no use for them.
        close_passed(self.preserved_fds());

        let Some(runtime_status) =
            self.wait_runtime(runtime_pid, console.as_ref(), &mut streams)?
        else {
            let message = format!(
                "{} did not finish within {} s and was killed",
                self.config.runtime.display(),
                self.config.options.runtime_timeout
            );
            self.send_sync(-1, Some(&message));
            return Ok(1);
        };
        if let Some(console) = &console {
            console.remove();
        }
        let pid = match self.started_pid(runtime_status, &runtime_errors, &streams) {
            Ok(pid) => pid,
            Err(message) => {
                self.send_sync(-1, Some(&message));
                return Ok(1);
            }
        };
        self.send_sync(i64::from(pid), None);
        if self.config.exec.is_none() {
            // A container's monitor reports nothing more there.
            self.sync = None;
        }
        drop(runtime_errors);
        if let Some(master) = &streams.terminal {
            set_onlcr(master);
        }
        let mut relay = Relay::new(&self.config, streams, log, attach, ctl, pid, caller)?;
        relay.notify = notify;
        let outcome = self.relay_until_exit(&mut relay, pid)?;
        self.finish(relay, outcome)
    }

    /// Fork: the parent records the monitor's PID and exits, so the caller's wait returns;
    /// the child goes on as the monitor.
    fn daemonize(&self) -> Result<(), Fatal> {
        // SAFETY: the process is single-threaded here.
        match unsafe { fork() }.map_err(|e| fatal("fork", e))? {
            ForkResult::Parent { child } => {
                let mut status = 0;
                if let Some(path) = &self.config.options.conmon_pidfile {
                    if let Err(e) = write_atomically(path, child.to_string().as_bytes()) {
                        eprintln!("rpod-monitor: writing {}: {e}", path.display());
                        status = 1;
                    }
                }
                // SAFETY: _exit ends this process at once, skipping destructors that belong
                // to the child now.
                unsafe { libc::_exit(status) }
            }
            ForkResult::Child => Ok(()),
        }
    }

    fn preserved_fds(&self) -> i32 {
        let opts = &self.config.options.runtime_opt;
        opts.iter()
            .position(|o| o == "--preserve-fds")
            .and_then(|i| opts.get(i + 1))
            .and_then(|n| n.parse().ok())
            .or_else(|| {
                opts.iter()
                    .find_map(|o| o.strip_prefix("--preserve-fds=")?.parse().ok())
            })
            .unwrap_or(0)
    }

    /// The container's streams and the runtime's stderr pipe (its error messages).
    fn make_streams(
        &self,
        passthrough: bool,
    ) -> Result<(Streams, ChildStdio, Option<OwnedFd>), Fatal> {
        let mut streams = Streams::default();
        if passthrough {
            let stdio = ChildStdio {
                stdin: None,
                stdout: None,
                stderr: None,
            };
            return Ok((streams, stdio, None));
        }
        if self.config.options.terminal {
            // The runtime's own messages come through a pipe of their own; the container's
            // output comes through the terminal.
            let (errors_read, errors_write) = pipe()?;
            set_nonblocking(&errors_read);
            let stdio = ChildStdio {
                stdin: Some(devnull(false)?),
                stdout: Some(devnull(true)?),
                stderr: Some(errors_write),
            };
            return Ok((streams, stdio, Some(errors_read)));
        }
        let stdin = if self.config.options.stdin {
            let (read, write) = pipe()?;
            set_nonblocking(&write);
            open_to_all(&read);
            streams.input = Some(write);
            Some(read)
        } else {
            Some(devnull(false)?)
        };
        let (out_read, out_write) = pipe()?;
        let (err_read, err_write) = pipe()?;
        for (read, write) in [(&out_read, &out_write), (&err_read, &err_write)] {
            set_nonblocking(read);
            open_to_all(write);
            // Best effort: the kernel may cap it (fs.pipe-max-size), and then pipes keep
            // their default size.
            let _ = fcntl(read, FcntlArg::F_SETPIPE_SZ(READ_BUFFER as libc::c_int));
        }
        // The runtime's failure messages arrive on the container's stderr pipe too.
        let errors = err_read
            .try_clone()
            .map_err(|e| fatal("duplicating a pipe", e))?;
        streams.stdout = Some(out_read);
        streams.stderr = Some(err_read);
        let stdio = ChildStdio {
            stdin,
            stdout: Some(out_write),
            stderr: Some(err_write),
        };
        Ok((streams, stdio, Some(errors)))
    }

    fn spawn_runtime(
        &self,
        argv: &[String],
        stdio: ChildStdio,
        start: Option<&OwnedFd>,
    ) -> Result<i32, Fatal> {
        let runtime = CString::new(self.config.runtime.as_os_str().as_bytes())
            .map_err(|e| fatal("runtime path", e))?;
        let mut args = vec![runtime.clone()];
        for arg in argv {
            args.push(CString::new(arg.as_bytes()).map_err(|e| fatal("runtime argument", e))?);
        }
        let second_start = self.config.exec.as_ref().is_some_and(|e| e.attach);
        let replace_listen_pid = self.config.options.replace_listen_pid
            || std::env::var("LISTEN_PID").ok() == Some(std::process::id().to_string());
        let parent = std::process::id() as i32;
        // Made before the fork and closed in this process when this function returns; the
        // runtime's process keeps it as its program (see sealed.rs).
        let sealed = crate::sealed::copy(&self.config.runtime);
        // SAFETY: the process is single-threaded here, so the child may allocate.
        match unsafe { fork() }.map_err(|e| fatal("fork", e))? {
            ForkResult::Child => {
                // SAFETY: prctl only changes this process's attributes.
                unsafe {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
                }
                if nix::unistd::getppid().as_raw() != parent {
                    // SAFETY: ending the child at once.
                    unsafe { libc::_exit(1) }
                }
                let _ = nix::sys::signal::sigprocmask(
                    SigmaskHow::SIG_SETMASK,
                    Some(&self.old_mask),
                    None,
                );
                restore_sigpipe();
                if let Some(score) = &self.old_oom_score {
                    set_oom_score(score);
                }
                for (fd, target) in [(&stdio.stdin, 0), (&stdio.stdout, 1), (&stdio.stderr, 2)] {
                    if let Some(fd) = fd {
                        // SAFETY: dup2 onto a standard stream number of this process.
                        if unsafe { libc::dup2(fd.as_raw_fd(), target) } < 0 {
                            unsafe { libc::_exit(1) }
                        }
                    }
                }
                if second_start {
                    let mut byte = [0u8; 1];
                    // The caller attached (or gave up: EOF); only a byte means go.
                    let go = loop {
                        match start.map(|s| nix::unistd::read(s, &mut byte)) {
                            Some(Ok(1)) => break true,
                            Some(Err(Errno::EINTR)) => continue,
                            _ => break false,
                        }
                    };
                    if !go {
                        unsafe { libc::_exit(1) }
                    }
                }
                if replace_listen_pid {
                    std::env::set_var("LISTEN_PID", std::process::id().to_string());
                }
                if let Some(copy) = &sealed {
                    crate::sealed::exec(copy, &args);
                }
                let error = nix::unistd::execv(&runtime, &args).unwrap_err();
                eprintln!("executing {}: {error}", self.config.runtime.display());
                // SAFETY: ending the child after a failed exec.
                unsafe { libc::_exit(127) }
            }
            ForkResult::Parent { child } => Ok(child.as_raw()),
        }
    }

    fn signal_fd(&self) -> RawFd {
        self.signals
            .as_ref()
            .map(|s| s.as_fd().as_raw_fd())
            .unwrap_or(-1)
    }

    /// Drain the signalfd: reap children on SIGCHLD, and return the other signals.
    fn take_signals(&mut self) -> Vec<i32> {
        let mut others = Vec::new();
        let mut reap = false;
        if let Some(signals) = &self.signals {
            while let Ok(Some(info)) = signals.read_signal() {
                if info.ssi_signo as i32 == libc::SIGCHLD {
                    reap = true;
                } else {
                    others.push(info.ssi_signo as i32);
                }
            }
        }
        if reap {
            self.reap();
        }
        others
    }

    fn reap(&mut self) {
        loop {
            match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(_) => return,
                Ok(status) => {
                    if let Some(pid) = status.pid() {
                        self.reaped
                            .insert(pid.as_raw(), protocol::exit_code(status));
                    }
                }
            }
        }
    }

    /// Wait for the runtime's create/restore/exec to end, taking the terminal it passes.
    fn wait_runtime(
        &mut self,
        runtime_pid: i32,
        console: Option<&ConsoleSocket>,
        streams: &mut Streams,
    ) -> Result<Option<i32>, Fatal> {
        let limit = self.config.options.runtime_timeout;
        let deadline = (limit > 0).then(|| Instant::now() + Duration::from_secs(limit));
        loop {
            if let Some(status) = self.reaped.remove(&runtime_pid) {
                if let (Some(console), None) = (console, &streams.terminal) {
                    streams.terminal = console.receive_terminal().ok().flatten();
                }
                return Ok(Some(status));
            }
            let Some(timeout_ms) = poll_timeout(deadline) else {
                // A hung runtime: kill it and wait for it, so nothing is left behind.
                kill_and_reap(runtime_pid);
                return Ok(None);
            };
            let mut fds = vec![pollfd(self.signal_fd(), libc::POLLIN)];
            let listening = console.filter(|_| streams.terminal.is_none());
            if let Some(console) = listening {
                fds.push(pollfd(console.listener.as_raw_fd(), libc::POLLIN));
            }
            poll(&mut fds, timeout_ms);
            if fds.len() > 1 && fds[1].revents != 0 {
                if let Some(console) = listening {
                    if let Ok(Some(master)) = console.receive_terminal() {
                        streams.terminal = Some(master);
                    }
                }
            }
            for signal in self.take_signals() {
                forward(runtime_pid, signal);
            }
        }
    }

    /// The PID the runtime wrote, or the message that says why there is none.
    fn started_pid(
        &self,
        runtime_status: i32,
        runtime_errors: &Option<OwnedFd>,
        streams: &Streams,
    ) -> Result<i32, String> {
        let errors = || {
            let mut text = Vec::new();
            if let Some(fd) = runtime_errors {
                let mut buffer = [0u8; protocol::MESSAGE_MAX];
                while text.len() < protocol::MESSAGE_MAX {
                    match nix::unistd::read(fd, &mut buffer[..protocol::MESSAGE_MAX - text.len()]) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => text.extend_from_slice(&buffer[..n]),
                    }
                }
            }
            String::from_utf8_lossy(&text).trim_end().to_string()
        };
        if runtime_status != 0 && self.config.exec.is_none() {
            let message = errors();
            return Err(if message.is_empty() {
                format!("runtime exited with status {runtime_status}")
            } else {
                message
            });
        }
        if self.config.options.terminal && streams.terminal.is_none() {
            let message = errors();
            return Err(if message.is_empty() {
                "Runtime did not set up terminal".into()
            } else {
                message
            });
        }
        let path = &self.config.container_pidfile;
        match std::fs::read_to_string(path) {
            Ok(text) => text
                .trim()
                .parse::<i32>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| format!("{} holds {text:?}, not a PID", path.display())),
            Err(e) => {
                let message = errors();
                Err(if message.is_empty() {
                    format!("Failed to get pid from {}: {e}", path.display())
                } else {
                    message
                })
            }
        }
    }

    fn send_sync(&mut self, data: i64, message: Option<&str>) {
        if let Some(sync) = &self.sync {
            if write_all(sync, &protocol::sync_message(data, message)).is_err() {
                self.sync = None;
            }
        }
    }

    /// Relay the container's streams until `pid` has exited; returns its exit code and
    /// whether the timeout killed it.
    ///
    /// With `--hold-output-for-attach`, an exit is only returned once the output is no
    /// longer held, so that the drain after it reaches the client.
    fn relay_until_exit(&mut self, relay: &mut Relay, pid: i32) -> Result<(i32, bool), Fatal> {
        let deadline = (self.config.options.timeout > 0)
            .then(|| Instant::now() + Duration::from_secs(self.config.options.timeout));
        let mut timed_out = false;
        let mut exited = None;
        let mut settle_at = Some(Instant::now() + SETTLE_AFTER);
        let mut health = HealthSchedule::new(
            self.config.options.health_interval,
            self.config.options.health_startup_interval,
        );
        // Filled anew each turn, allocated once.
        let mut set = PollSet::default();
        loop {
            if exited.is_none() {
                exited = self.reaped.remove(&pid);
            }
            if let Some(schedule) = &mut health {
                if let Some(code) = schedule.running.and_then(|p| self.reaped.remove(&p)) {
                    schedule.running = None;
                    schedule.finished(code, Instant::now());
                }
                if exited.is_none() && schedule.due(Instant::now()) {
                    schedule.running = self.spawn_health_check();
                    schedule.started(Instant::now());
                }
                if schedule.is_over() {
                    health = None;
                }
            }
            // Whatever else was reaped is an orphan the monitor adopted as a subreaper (a
            // health check's, a process of a container that shares the host's PID
            // namespace): nothing waits for it.
            self.reaped.clear();
            let hold_left = relay.hold_left();
            if let (Some(code), None) = (exited, hold_left) {
                return Ok((code, timed_out));
            }
            if settle_at.is_some_and(|at| at <= Instant::now()) {
                settle_at = None;
                settle();
            }
            let mut kill_left = None;
            if let Some(deadline) = deadline.filter(|_| !timed_out && exited.is_none()) {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    timed_out = true;
                    kill_group(pid);
                    continue;
                }
                kill_left = Some(left);
            }
            let now = Instant::now();
            let settle_left = settle_at.map(|at| at.saturating_duration_since(now));
            let recheck_left = relay.terminal_recheck_left();
            let health_left = health
                .as_ref()
                .filter(|h| h.running.is_none() && exited.is_none())
                .and_then(|h| h.next)
                .map(|next| next.saturating_duration_since(now));
            let timeout = [settle_left, kill_left, hold_left, recheck_left, health_left]
                .into_iter()
                .flatten()
                .min();
            let timeout_ms = timeout.map_or(-1, poll_millis);
            set.clear();
            set.add(self.signal_fd(), libc::POLLIN, Slot::Signals);
            relay.fill(&mut set);
            poll(&mut set.fds, timeout_ms);
            if settle_at.is_none() && set.fds.iter().any(|fd| fd.revents != 0) {
                // What handling this brings back in goes again a while later.
                settle_at = Some(Instant::now() + SETTLE_AGAIN_AFTER);
            }
            relay.handle(&set);
            for signal in self.take_signals() {
                // Once reaped, the PID may belong to another process.
                if exited.is_none() {
                    forward(pid, signal);
                }
            }
        }
    }

    fn finish(&mut self, mut relay: Relay, (code, timed_out): (i32, bool)) -> Result<i32, Fatal> {
        if let Some(oom) = &mut relay.oom {
            oom.check();
        }
        relay.mark_oom();
        if !timed_out {
            relay.drain();
        }
        if let Some(log) = &mut relay.log {
            log.finish();
        }
        let delete = self.begin_delete();
        let status = if timed_out { -1 } else { code };
        // The socket goes before the exit is recorded (whoever starts the container again
        // then binds a new one), and the clients see the end of the output after it: one that
        // saw the end looks for the exit file at once, and would otherwise poll for it.
        relay.unlink_attach();
        let text = status.to_string();
        if let Some(dir) = &self.config.persist_dir {
            write_atomically(&dir.join("exit"), text.as_bytes())
                .map_err(|e| fatal("writing the exit file in the persist directory", e))?;
        }
        if let Some(dir) = &self.config.exit_dir {
            write_atomically(&dir.join(&self.config.cid), text.as_bytes())
                .map_err(|e| fatal("writing the exit file", e))?;
        }
        if self.config.exec.is_some() {
            if timed_out {
                self.send_sync(-1, Some("command timed out"));
            } else {
                self.send_sync(i64::from(status), None);
            }
        }
        relay.close();
        self.sync = None;
        if let Some(delete) = delete {
            self.finish_delete(delete);
        }
        Ok(self.run_exit_command())
    }

    /// With `--delete-at-exit`: announce the runtime's delete and start it (see delete.rs).
    /// Returns the announcement's lock and the delete's PID.
    fn begin_delete(&mut self) -> Option<(std::fs::File, i32)> {
        if !self.config.options.delete_at_exit {
            return None;
        }
        let persist = self.config.persist_dir.clone()?;
        let lock = crate::delete::announce(&persist)?;
        let stdio = ChildStdio {
            stdin: devnull(false).ok(),
            stdout: devnull(true).ok(),
            stderr: devnull(true).ok(),
        };
        match self.spawn_runtime(&protocol::delete_argv(&self.config), stdio, None) {
            Ok(pid) => Some((lock, pid)),
            Err(_) => {
                crate::delete::record(lock, -1);
                None
            }
        }
    }

    /// Wait for the delete (killed past `--runtime-timeout`) and record its status.
    fn finish_delete(&mut self, (lock, pid): (std::fs::File, i32)) {
        let status = self.wait_child(pid).unwrap_or(-1);
        crate::delete::record(lock, status);
    }

    /// Wait for the child `pid` to end, at most `--runtime-timeout` seconds: its exit status,
    /// or `None` once it was killed for taking longer.
    fn wait_child(&mut self, pid: i32) -> Option<i32> {
        let limit = self.config.options.runtime_timeout;
        let deadline = (limit > 0).then(|| Instant::now() + Duration::from_secs(limit));
        loop {
            if let Some(status) = self.reaped.remove(&pid) {
                return Some(status);
            }
            let Some(timeout_ms) = poll_timeout(deadline) else {
                kill_and_reap(pid);
                return None;
            };
            poll(&mut [pollfd(self.signal_fd(), libc::POLLIN)], timeout_ms);
            // The container is gone: there is nobody to forward a signal to.
            let _ = self.take_signals();
        }
    }

    /// In a child of the monitor: become `argv` (after `delay` seconds), with the signal
    /// mask, SIGPIPE and OOM score the monitor was started with, and no descriptor of the
    /// monitor's but the standard streams (`stdio`, when given, in their place).
    fn exec_in_child(&self, argv: &[CString], delay: u64, stdio: Option<&OwnedFd>) -> ! {
        let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&self.old_mask), None);
        restore_sigpipe();
        if delay > 0 {
            std::thread::sleep(Duration::from_secs(delay));
        }
        if let Some(score) = &self.old_oom_score {
            set_oom_score(score);
        }
        if let Some(fd) = stdio {
            for target in 0..3 {
                // SAFETY: dup2 onto the standard descriptors of this child only.
                unsafe {
                    libc::dup2(fd.as_raw_fd(), target);
                }
            }
        }
        // SAFETY: closes every descriptor above the standard streams in this child.
        unsafe {
            libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
        }
        let _ = nix::unistd::execv(&argv[0], argv);
        // SAFETY: ending the child after a failed exec.
        unsafe { libc::_exit(127) }
    }

    /// Start the health check (`--health-command`) without waiting for it: its PID.
    fn spawn_health_check(&self) -> Option<i32> {
        let command = self.config.options.health_command.as_deref()?;
        let argv = c_argv(command, &self.config.options.health_command_arg)?;
        // Opened before the fork: the child only duplicates it.
        let null = devnull(true).ok()?;
        // SAFETY: the monitor is single-threaded.
        match unsafe { fork() } {
            Ok(ForkResult::Child) => self.exec_in_child(&argv, 0, Some(&null)),
            Ok(ForkResult::Parent { child }) => Some(child.as_raw()),
            Err(_) => None,
        }
    }

    /// Run the exit command and wait for it (and every other child), so that a live monitor
    /// means the cleanup has not finished yet.
    fn run_exit_command(&mut self) -> i32 {
        let Some(command) = self.config.options.exit_command.clone() else {
            return 0;
        };
        if let Some(path) = &self.config.options.exit_command_handover {
            if handover::handled_by_waiter(path, handover::PATIENCE) {
                return 0;
            }
        }
        // SAFETY: prctl only changes this process's attributes.
        unsafe {
            libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0);
        }
        let Some(argv) = c_argv(&command, &self.config.options.exit_command_arg) else {
            return 1;
        };
        let delay = self.config.options.exit_delay;
        let mut status = 0;
        // SAFETY: the monitor is single-threaded.
        match unsafe { fork() } {
            Ok(ForkResult::Child) => self.exec_in_child(&argv, delay, None),
            // Only the exit command is waited for: a health check still running (one that
            // restarts the container waits for this monitor to end) goes on without it.
            Ok(ForkResult::Parent { child }) => loop {
                match waitpid(None, None) {
                    Ok(s) if s.pid() == Some(child) => {
                        let code = protocol::exit_code(s);
                        if code != 0 {
                            status = code;
                        }
                        break;
                    }
                    Ok(_) => {}
                    Err(Errno::EINTR) => {}
                    Err(_) => break,
                }
            },
            Err(_) => status = 1,
        }
        status
    }
}

/// When `--health-command` runs: `interval` after the start, then that long after each
/// check began; a check still running when the next is due delays it (never two at once).
/// With a startup interval, that one first, until a run exits 0 (the startup check passed);
/// then `interval`, or none when it is 0.
struct HealthSchedule {
    interval: Option<Duration>,
    startup: Option<Duration>,
    /// When the next run is due; none: no more runs.
    next: Option<Instant>,
    running: Option<i32>,
}

impl HealthSchedule {
    fn new(interval_secs: u64, startup_secs: u64) -> Option<HealthSchedule> {
        let nonzero = |secs: u64| (secs > 0).then(|| Duration::from_secs(secs));
        let (interval, startup) = (nonzero(interval_secs), nonzero(startup_secs));
        let first = startup.or(interval)?;
        Some(HealthSchedule {
            interval,
            startup,
            next: Some(Instant::now() + first),
            running: None,
        })
    }

    fn due(&self, now: Instant) -> bool {
        self.running.is_none() && self.next.is_some_and(|next| now >= next)
    }

    /// A run began at `now`: the next is due an interval later.
    fn started(&mut self, now: Instant) {
        self.next = self.startup.or(self.interval).map(|every| now + every);
    }

    /// A run ended with `code`: a startup run that passed starts the check's own schedule.
    fn finished(&mut self, code: i32, now: Instant) {
        if self.startup.is_some() && code == 0 {
            self.startup = None;
            self.next = self.interval.map(|every| now + every);
        }
    }

    /// Nothing more to run.
    fn is_over(&self) -> bool {
        self.running.is_none() && self.next.is_none()
    }
}

/// `program` and `args` as exec takes them (`None` when one holds a NUL).
fn c_argv(program: &Path, args: &[String]) -> Option<Vec<CString>> {
    std::iter::once(program.as_os_str().as_bytes())
        .chain(args.iter().map(|a| a.as_bytes()))
        .map(|word| CString::new(word).ok())
        .collect()
}

/// The monitor ignores SIGPIPE (a client gone mid-write is no reason to die); what it runs
/// gets the default back, as an ignored signal would otherwise stay ignored across exec.
fn restore_sigpipe() {
    // SAFETY: setting a signal's disposition to the default installs no handler code.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Milliseconds to poll for before `deadline` (-1: there is none); `None` once it passed.
fn poll_timeout(deadline: Option<Instant>) -> Option<i32> {
    let Some(deadline) = deadline else {
        return Some(-1);
    };
    let left = deadline.saturating_duration_since(Instant::now());
    (!left.is_zero()).then(|| poll_millis(left))
}

/// A poll(2) timeout for `left`: whole milliseconds, at least one.
fn poll_millis(left: Duration) -> i32 {
    i32::try_from(left.as_millis()).unwrap_or(i32::MAX).max(1)
}

fn kill_and_reap(pid: i32) {
    let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
    let _ = waitpid(Pid::from_raw(pid), None);
}

fn pollfd(fd: RawFd, events: libc::c_short) -> libc::pollfd {
    libc::pollfd {
        fd,
        events,
        revents: 0,
    }
}

/// The monitor of a container that runs this long has settled: it gives back what its
/// start-up used and its relay loop does not (the code it ran, argument parsing, the
/// runtime's argv), so that it does not stay resident. Short-lived containers and exec
/// sessions, whose monitors end soon anyway, do not pay for it.
const SETTLE_AFTER: Duration = Duration::from_secs(1);
/// How often a terminal that its container closed is looked at for being opened again.
const TERMINAL_RECHECK: Duration = Duration::from_millis(100);
/// After a settle, the first event (output, a client, a resize) schedules the next one this
/// much later, so that code an occasional event brought back in does not stay resident
/// either. A monitor busy all the time settles once per period: a read of smaps and a few
/// `madvise` calls, then its loop's code is faulted back in from the page cache.
const SETTLE_AGAIN_AFTER: Duration = Duration::from_secs(5);

fn settle() {
    // The heap last: reading which mappings to drop allocates.
    resident::drop_file_pages();
    // glibc keeps freed heap memory until asked; musl's allocator (the installed build's,
    // see docs/monitor.md) returns it to the kernel itself and has no malloc_trim.
    // SAFETY: malloc_trim only releases free heap memory; nothing refers to it.
    #[cfg(target_env = "gnu")]
    unsafe {
        libc::malloc_trim(0);
    }
}

/// poll(2) over plain descriptor numbers; EINTR counts as nothing ready.
fn poll(fds: &mut [libc::pollfd], timeout_ms: i32) {
    // SAFETY: `fds` is a valid, exclusively borrowed array of pollfd of the given length.
    let _ = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
}

fn forward(pid: i32, signal: i32) {
    if let Ok(signal) = Signal::try_from(signal) {
        let _ = kill(Pid::from_raw(pid), signal);
    }
}

/// SIGKILL to the container's process group, or to its process when it has none of its own.
fn kill_group(pid: i32) {
    let target = match nix::unistd::getpgid(Some(Pid::from_raw(pid))) {
        Ok(group) if group.as_raw() > 1 => Pid::from_raw(-group.as_raw()),
        _ => Pid::from_raw(pid),
    };
    let _ = kill(target, Signal::SIGKILL);
}

fn redirect_stdio_to_null() -> Result<(), Fatal> {
    let null = devnull(true)?;
    for target in 0..3 {
        // SAFETY: dup2 onto a standard stream number of this process.
        if unsafe { libc::dup2(null.as_raw_fd(), target) } < 0 {
            return Err(fatal("redirecting standard streams", Errno::last()));
        }
    }
    Ok(())
}

/// Close the descriptors passed for the container (3 .. 3+count).
fn close_passed(count: i32) {
    if count > 0 {
        // SAFETY: closes a range of descriptor numbers this process received for the runtime
        // and owns no Rust object for.
        unsafe {
            libc::syscall(libc::SYS_close_range, 3u32, (2 + count) as u32, 0u32);
        }
    }
}

/// Tell the writer of a ctl line that carried `token` that it was acted on: an empty file
/// beside the FIFO, which the writer removes. Nothing is followed: the name is the writer's,
/// checked to stay in this directory, and an existing file (or link) is left as it is.
fn acknowledge(dir: &Path, token: &str) {
    use std::os::unix::fs::OpenOptionsExt;
    let path = dir.join(format!("{}{token}", rpod_monitor_protocol::CTL_ACK_PREFIX));
    let _ = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path);
}

/// The ctl FIFO, opened for reading and writing so that it never reports a hangup.
fn make_ctl(bundle: &Path) -> Result<OwnedFd, Fatal> {
    let path = bundle.join("ctl");
    let _ = std::fs::remove_file(&path);
    nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o660))
        .map_err(|e| fatal(&format!("creating {}", path.display()), e))?;
    nix::fcntl::open(
        &path,
        OFlag::O_RDWR | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| fatal(&format!("opening {}", path.display()), e))
}

fn set_onlcr(master: &OwnedFd) {
    use nix::sys::termios::{tcgetattr, tcsetattr, OutputFlags, SetArg};
    if let Ok(mut attrs) = tcgetattr(master) {
        attrs.output_flags |= OutputFlags::ONLCR;
        let _ = tcsetattr(master, SetArg::TCSANOW, &attrs);
    }
}

/// A pidfd for the monitor's parent, the process that started it (readable once it exits);
/// `None` where pidfds are missing (before Linux 5.3).
fn caller_pidfd() -> Option<OwnedFd> {
    let parent = nix::unistd::getppid().as_raw();
    // PID 1 adopted us: the caller was already gone.
    if parent == 1 {
        return None;
    }
    // SAFETY: pidfd_open takes a PID and flags and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, parent, 0) };
    let fd = RawFd::try_from(fd).ok().filter(|fd| *fd >= 0)?;
    // SAFETY: the descriptor was just returned by the kernel and is owned by no one else.
    Some(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The descriptors of one poll(2) and what each one is.
#[derive(Default)]
struct PollSet {
    fds: Vec<libc::pollfd>,
    slots: Vec<Slot>,
}

impl PollSet {
    fn clear(&mut self) {
        self.fds.clear();
        self.slots.clear();
    }

    fn add(&mut self, fd: RawFd, events: libc::c_short, slot: Slot) {
        self.fds.push(pollfd(fd, events));
        self.slots.push(slot);
    }

    /// The slots whose descriptor is ready, in the order they were added.
    fn ready(&self) -> impl DoubleEndedIterator<Item = Slot> + '_ {
        self.fds
            .iter()
            .zip(&self.slots)
            .filter(|(fd, _)| fd.revents != 0)
            .map(|(_, slot)| *slot)
    }
}

/// What each polled descriptor is.
#[derive(Clone, Copy)]
enum Slot {
    Signals,
    Caller,
    Output(Stream),
    Terminal,
    Listener,
    Client(usize),
    Input,
    Ctl,
    Oom,
    Notify,
}

/// The container's streams while it runs: logs, attach clients, input, control.
struct Relay {
    streams: Streams,
    attach: Option<AttachServer>,
    ctl: Option<OwnedFd>,
    ctl_pending: Vec<u8>,
    /// Where the ctl FIFO lives, and so the acknowledgements of its lines.
    ctl_dir: PathBuf,
    log: Option<KubeLog>,
    oom: Option<OomWatch>,
    oom_dirs: Vec<PathBuf>,
    oom_marked: bool,
    /// Input waiting for the container to take it.
    input_pending: Vec<u8>,
    /// Close the container's input once the pending input is written.
    close_input: bool,
    stdin_closes_on_eof: bool,
    buffer: Vec<u8>,
    record: Vec<u8>,
    /// `--hold-output-for-attach`: the output is not read until a client connects, this
    /// moment passes, or the caller (`hold_caller`, a pidfd) exits without attaching.
    held_until: Option<Instant>,
    hold_caller: Option<OwnedFd>,
    /// The terminal's last holder in the container closed it (its master reads EIO, and
    /// polls as ready until someone opens it again): it is looked at again at this time.
    terminal_closed_until: Option<Instant>,
    /// `--sdnotify-socket`: what the container tells systemd, passed on.
    notify: Option<crate::notify::NotifyProxy>,
}

impl Relay {
    fn new(
        config: &Config,
        mut streams: Streams,
        log: Option<KubeLog>,
        attach: Option<AttachServer>,
        ctl: Option<OwnedFd>,
        pid: i32,
        caller: Option<OwnedFd>,
    ) -> Result<Relay, Fatal> {
        if let Some(master) = &streams.terminal {
            set_nonblocking(master);
            // A terminal always takes what clients type (libpod passes `-t` without `-i`).
            streams.input = Some(
                master
                    .try_clone()
                    .map_err(|e| fatal("duplicating the terminal", e))?,
            );
        }
        let mut oom_dirs = vec![config.bundle.clone()];
        oom_dirs.extend(config.persist_dir.clone());
        let hold = config.options.hold_output_for_attach;
        let held_until =
            (hold > 0 && attach.is_some()).then(|| Instant::now() + Duration::from_secs(hold));
        Ok(Relay {
            streams,
            attach,
            ctl,
            ctl_pending: Vec::new(),
            ctl_dir: config.bundle.clone(),
            log,
            oom: OomWatch::start(pid),
            oom_dirs,
            oom_marked: false,
            input_pending: Vec::new(),
            close_input: false,
            stdin_closes_on_eof: config.options.stdin
                && !config.options.leave_stdin_open
                && !config.options.terminal,
            buffer: vec![0u8; READ_BUFFER],
            record: Vec::with_capacity(config.options.attach_record_size + 1),
            hold_caller: caller.filter(|_| held_until.is_some()),
            held_until,
            terminal_closed_until: None,
            notify: None,
        })
    }

    /// How long the output is still held, if it is; a hold that has run out ends here.
    fn hold_left(&mut self) -> Option<Duration> {
        let left = self.held_until?.saturating_duration_since(Instant::now());
        if left.is_zero() {
            self.end_hold();
            return None;
        }
        Some(left)
    }

    /// How long until a terminal its container closed is looked at again.
    fn terminal_recheck_left(&mut self) -> Option<Duration> {
        let left = self
            .terminal_closed_until?
            .saturating_duration_since(Instant::now());
        if left.is_zero() {
            self.terminal_closed_until = None;
            return None;
        }
        Some(left)
    }

    fn end_hold(&mut self) {
        self.held_until = None;
        self.hold_caller = None;
    }

    /// Add what the relay waits for to `set`.
    fn fill(&self, set: &mut PollSet) {
        let outputs = [
            (&self.streams.stdout, Slot::Output(Stream::Stdout)),
            (&self.streams.stderr, Slot::Output(Stream::Stderr)),
            (&self.streams.terminal, Slot::Terminal),
        ];
        for (fd, slot) in outputs {
            if matches!(slot, Slot::Terminal) && self.terminal_closed_until.is_some() {
                continue;
            }
            if let (Some(fd), None) = (fd, self.held_until) {
                set.add(fd.as_raw_fd(), libc::POLLIN, slot);
            }
        }
        if let Some(caller) = &self.hold_caller {
            set.add(caller.as_raw_fd(), libc::POLLIN, Slot::Caller);
        }
        if let Some(attach) = &self.attach {
            set.add(attach.listener.as_raw_fd(), libc::POLLIN, Slot::Listener);
            // While input waits for the container, clients are not read: back-pressure.
            if self.input_pending.is_empty() {
                for (i, client) in attach.clients.iter().enumerate() {
                    if client.reading {
                        set.add(client.fd.as_raw_fd(), libc::POLLIN, Slot::Client(i));
                    }
                }
            }
        }
        if let (Some(fd), false) = (&self.streams.input, self.input_pending.is_empty()) {
            set.add(fd.as_raw_fd(), libc::POLLOUT, Slot::Input);
        }
        if let Some(fd) = &self.ctl {
            set.add(fd.as_raw_fd(), libc::POLLIN, Slot::Ctl);
        }
        if let Some(oom) = &self.oom {
            set.add(oom.fd().as_raw_fd(), libc::POLLIN, Slot::Oom);
        }
        if let Some(notify) = &self.notify {
            set.add(notify.fd(), libc::POLLIN, Slot::Notify);
        }
    }

    fn handle(&mut self, set: &PollSet) {
        // New clients first: output read in this round must reach a client that connected
        // before it was written (an exec's client connects before the command runs).
        let connecting = set.ready().any(|slot| matches!(slot, Slot::Listener));
        if let (true, Some(attach)) = (connecting, &mut self.attach) {
            attach.accept();
            if !attach.clients.is_empty() {
                self.end_hold();
            }
        }
        for slot in set.ready() {
            match slot {
                Slot::Signals | Slot::Listener | Slot::Client(_) => {}
                // The caller exited without attaching: nobody is coming.
                Slot::Caller => self.end_hold(),
                Slot::Output(stream) => {
                    self.read_output(Some(stream));
                }
                Slot::Terminal => {
                    self.read_output(None);
                }
                Slot::Input => self.write_input(),
                Slot::Ctl => self.read_ctl(),
                Slot::Notify => {
                    if let Some(notify) = &self.notify {
                        notify.relay();
                    }
                }
                Slot::Oom => {
                    if self.oom.as_mut().is_some_and(|o| o.on_event()) {
                        self.mark_oom();
                    }
                }
            }
        }
        // Clients last, from the highest index down (they were added in rising order):
        // dropping one must not shift the index of another still to be handled.
        for slot in set.ready().rev() {
            if let Slot::Client(i) = slot {
                self.read_client(i);
            }
        }
    }

    /// One read of output: `None` is the terminal. Returns false at its end.
    fn read_output(&mut self, stream: Option<Stream>) -> bool {
        let fd = match stream {
            Some(Stream::Stdout) => &mut self.streams.stdout,
            Some(Stream::Stderr) => &mut self.streams.stderr,
            None => &mut self.streams.terminal,
        };
        let Some(source) = fd.as_ref() else {
            return false;
        };
        let n = loop {
            match nix::unistd::read(source, &mut self.buffer) {
                Ok(n) => break n,
                Err(Errno::EINTR) => continue,
                Err(Errno::EAGAIN) => return false,
                // EIO: the terminal's last holder in the container closed it. It stays, as
                // conmon keeps it: an init such as systemd closes its console and opens it
                // again, which fails for good once the master is gone. Until then it
                // reports itself ready, so it is looked at again a while later.
                Err(Errno::EIO) if stream.is_none() => {
                    self.terminal_closed_until = Some(Instant::now() + TERMINAL_RECHECK);
                    return false;
                }
                Err(_) => break 0,
            }
        };
        if n == 0 {
            if stream.is_none() {
                // The terminal is also the input: both end together.
                self.streams.input = None;
            }
            *fd = None;
            return false;
        }
        let stream = stream.unwrap_or(Stream::Stdout);
        let data = &self.buffer[..n];
        // The log first, as conmon: a client that reads it after detaching sees everything.
        if let Some(log) = &mut self.log {
            log.write(stream, data);
        }
        if let Some(attach) = &mut self.attach {
            let id = match stream {
                Stream::Stdout => STDOUT_ID,
                Stream::Stderr => STDERR_ID,
            };
            attach.broadcast(id, data, &mut self.record);
        }
        true
    }

    fn read_client(&mut self, index: usize) {
        let Some(attach) = &mut self.attach else {
            return;
        };
        let mut input = [0u8; INPUT_RECORD];
        match attach.read_input(index, &mut input) {
            Some(0) => {}
            Some(n) => {
                if self.streams.input.is_some() {
                    self.input_pending.extend_from_slice(&input[..n]);
                    self.write_input();
                }
            }
            None => {
                attach.clients[index].reading = false;
                if self.stdin_closes_on_eof {
                    self.close_input = true;
                    if self.input_pending.is_empty() {
                        self.streams.input = None;
                    }
                }
            }
        }
    }

    fn write_input(&mut self) {
        let Some(fd) = &self.streams.input else {
            self.input_pending.clear();
            return;
        };
        while !self.input_pending.is_empty() {
            match nix::unistd::write(fd, &self.input_pending) {
                Ok(n) => {
                    self.input_pending.drain(..n);
                }
                Err(Errno::EINTR) => continue,
                Err(Errno::EAGAIN) => return,
                Err(_) => {
                    // The container closed its input: what is pending can never be taken.
                    self.input_pending.clear();
                    self.streams.input = None;
                    return;
                }
            }
        }
        if self.close_input {
            self.streams.input = None;
        }
    }

    fn read_ctl(&mut self) {
        let Some(fd) = &self.ctl else {
            return;
        };
        let mut chunk = [0u8; 200];
        loop {
            match nix::unistd::read(fd, &mut chunk) {
                Ok(0) | Err(Errno::EAGAIN) => break,
                Ok(n) => self.ctl_pending.extend_from_slice(&chunk[..n]),
                Err(Errno::EINTR) => continue,
                Err(_) => break,
            }
        }
        for line in protocol::take_controls(&mut self.ctl_pending) {
            match line.control {
                Control::Resize { height, width } => {
                    if let Some(master) = &self.streams.terminal {
                        let size = libc::winsize {
                            ws_row: height,
                            ws_col: width,
                            ws_xpixel: 0,
                            ws_ypixel: 0,
                        };
                        // SAFETY: TIOCSWINSZ reads a winsize from the pointer, which lives
                        // across the call.
                        unsafe {
                            libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &size);
                        }
                    }
                }
                Control::ReopenLog => {
                    if let Some(log) = &mut self.log {
                        let _ = log.reopen();
                    }
                }
            }
            if let Some(token) = line.ack {
                acknowledge(&self.ctl_dir, &token);
            }
        }
    }

    fn mark_oom(&mut self) {
        if self.oom.as_ref().is_some_and(|o| o.fired) && !self.oom_marked {
            let dirs: Vec<&Path> = self.oom_dirs.iter().map(PathBuf::as_path).collect();
            write_markers(&dirs);
            self.oom_marked = true;
        }
    }

    /// Take what the container wrote before it exited, without waiting for writers that
    /// outlive it (its own children may hold the pipes), and without following one of them
    /// that keeps writing: the exit must be recorded.
    fn drain(&mut self) {
        if let Some(attach) = &mut self.attach {
            attach.accept();
        }
        for stream in [Some(Stream::Stdout), Some(Stream::Stderr), None] {
            for _ in 0..DRAIN_READS_MAX {
                if !self.read_output(stream) {
                    break;
                }
            }
        }
    }

    fn unlink_attach(&mut self) {
        if let Some(attach) = &mut self.attach {
            attach.unlink();
        }
    }

    fn close(self) {
        if let Some(attach) = self.attach {
            attach.close();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The startup interval first, until a run exits 0; then the check's own, or no more
    /// runs when it has none; nothing at all without either.
    #[test]
    fn a_startup_schedule_gives_way_to_the_checks_own() {
        assert!(HealthSchedule::new(0, 0).is_none());
        let start = Instant::now();
        let mut schedule = HealthSchedule::new(30, 2).unwrap();
        let first = schedule.next.unwrap();
        assert!(first >= start + Duration::from_secs(2) && first < start + Duration::from_secs(30));
        assert!(schedule.due(first));
        schedule.started(first);
        schedule.running = Some(1);
        assert!(!schedule.due(first + Duration::from_secs(5)));
        schedule.running = None;
        schedule.finished(1, first);
        assert_eq!(schedule.next, Some(first + Duration::from_secs(2)));
        schedule.finished(0, first);
        assert_eq!(schedule.next, Some(first + Duration::from_secs(30)));
        schedule.started(first + Duration::from_secs(30));
        assert_eq!(schedule.next, Some(first + Duration::from_secs(60)));
        // A later pass changes nothing.
        schedule.finished(0, first);
        assert_eq!(schedule.next, Some(first + Duration::from_secs(60)));

        let mut startup_only = HealthSchedule::new(0, 1).unwrap();
        assert!(!startup_only.is_over());
        startup_only.finished(0, Instant::now());
        assert!(startup_only.is_over());
    }
}
