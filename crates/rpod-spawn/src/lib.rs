//! Starting a program from a child that shares this process's memory until it executes
//! (`clone` with `CLONE_VM | CLONE_VFORK`, as glibc's `posix_spawn` and Go's `os/exec` do).
//!
//! Written by hand because neither std nor posix_spawn does what rpod's starts of the
//! monitor and of netavark need without a fork: std's `Command` forks whenever a `pre_exec`
//! hook is given (and one is needed to put descriptors on exact numbers, or to die with
//! the parent), and posix_spawn can set neither the child's umask nor its parent-death
//! signal. A fork copies the page tables of the whole process (the service's are large, and
//! its other threads wait on its memory map meanwhile) and makes every later write of the
//! parent fault once per page; a shared-memory child costs neither.
//!
//! The child runs on a stack of its own while the parent waits. It may only make system
//! calls: it must not allocate, take a lock or unwind, as the parent's memory is its memory.
#![allow(unsafe_code)]

use std::ffi::{CString, OsStr};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Output};
use std::sync::atomic::{AtomicI32, Ordering};

use libc::{c_char, c_int, c_void};

/// close_range(2)'s flag: mark close-on-exec instead of closing.
const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;

/// The child's stack. It runs a few system calls' wrappers; the pages it never touches
/// cost nothing.
const CHILD_STACK: usize = 256 * 1024;

/// The kernel's signal numbers are 1 to 64.
const LAST_SIGNAL: c_int = 64;

/// How the child's descriptors and attributes are set before it executes the program.
pub struct Placement<'a> {
    /// The descriptors that become the child's 0, 1 and 2; `None` leaves ours.
    pub stdio: [Option<RawFd>; 3],
    /// The descriptors that become the child's 3, 4, ... in this order. Everything else
    /// above 2 is closed at the exec.
    pub numbered: &'a [RawFd],
    pub umask: Option<u32>,
    /// The child leads a process group of its own (a terminal's Ctrl-C does not reach it).
    pub new_process_group: bool,
    /// The child is killed when the thread that started it ends (the caller killed
    /// included): for a helper whose work means nothing without the caller.
    pub die_with_parent: bool,
}

impl Placement<'_> {
    /// Our standard streams, nothing else, no change of attributes.
    pub const PLAIN: Placement<'static> = Placement {
        stdio: [None, None, None],
        numbered: &[],
        umask: None,
        new_process_group: false,
        die_with_parent: false,
    };
}

/// The program's environment.
pub enum Environment<'a> {
    /// Ours.
    Inherit,
    /// Exactly these variables; for a name given twice, the last value.
    Exactly(&'a [(String, String)]),
}

/// A started program, to be waited for (it is not reaped when dropped, like std's `Child`).
pub struct Spawned {
    pid: libc::pid_t,
    status: Option<ExitStatus>,
}

impl Spawned {
    /// Wait for the program to end; later calls give the same status.
    pub fn wait(&mut self) -> io::Result<ExitStatus> {
        if let Some(status) = self.status {
            return Ok(status);
        }
        loop {
            let mut raw = 0;
            // SAFETY: waitpid writes the status into a local.
            if unsafe { libc::waitpid(self.pid, &mut raw, 0) } >= 0 {
                let status = ExitStatus::from_raw(raw);
                self.status = Some(status);
                return Ok(status);
            }
            let error = io::Error::last_os_error();
            if error.kind() != io::ErrorKind::Interrupted {
                return Err(error);
            }
        }
    }

    /// SIGKILL, unless it was already waited for (its PID may be another process's now).
    pub fn kill(&mut self) -> io::Result<()> {
        if self.status.is_some() {
            return Ok(());
        }
        // SAFETY: kill only sends a signal.
        if unsafe { libc::kill(self.pid, libc::SIGKILL) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

/// What the child needs, all of it made before the clone.
struct ChildPlan<'a> {
    path: *const c_char,
    argv: *const *const c_char,
    envp: *const *const c_char,
    stdio: [c_int; 3],
    numbered: &'a [c_int],
    /// Where the numbered descriptors are copied first: above all of the sources, so that
    /// placing one never overwrites another's source.
    parking: c_int,
    umask: Option<libc::mode_t>,
    new_process_group: bool,
    /// The parent's PID, when the child is to die with it.
    parent: Option<libc::pid_t>,
    /// The parent's signal mask, which the program gets.
    mask: libc::sigset_t,
    /// The errno of the step that failed; 0 when the program was executed.
    error: AtomicI32,
}

/// Start `program` with `args` (argv[0] is the program's path) in the environment `env`,
/// its descriptors placed as `placement` says. A program named without a slash is looked
/// for in `PATH`, as std's `Command` does.
pub fn spawn(
    program: &Path,
    args: &[impl AsRef<OsStr>],
    env: Environment<'_>,
    placement: &Placement<'_>,
) -> io::Result<Spawned> {
    let resolved = resolve(program)?;
    let path = c_string(resolved.as_os_str())?;
    let mut argv = vec![c_string(program.as_os_str())?];
    for arg in args {
        argv.push(c_string(arg.as_ref())?);
    }
    let envp = match env {
        Environment::Inherit => std::env::vars_os()
            .map(|(name, value)| {
                let mut entry = name;
                entry.push("=");
                entry.push(value);
                c_string(&entry)
            })
            .collect::<io::Result<Vec<_>>>()?,
        Environment::Exactly(variables) => {
            let mut last = std::collections::BTreeMap::new();
            for (name, value) in variables {
                last.insert(name.as_str(), value.as_str());
            }
            last.into_iter()
                .map(|(name, value)| c_string(OsStr::new(&format!("{name}={value}"))))
                .collect::<io::Result<Vec<_>>>()?
        }
    };
    let argv_ptrs = null_terminated(&argv);
    let envp_ptrs = null_terminated(&envp);

    let stdio = placement.stdio.map(|fd| fd.unwrap_or(-1));
    let first = 3 + placement.numbered.len() as c_int;
    let highest_source = placement
        .numbered
        .iter()
        .chain(stdio.iter())
        .copied()
        .max()
        .unwrap_or(0);
    let mut plan = ChildPlan {
        path: path.as_ptr(),
        argv: argv_ptrs.as_ptr(),
        envp: envp_ptrs.as_ptr(),
        stdio,
        numbered: placement.numbered,
        parking: first.max(highest_source + 1),
        umask: placement.umask.map(|mask| mask as libc::mode_t),
        new_process_group: placement.new_process_group,
        parent: placement
            .die_with_parent
            .then(|| std::process::id() as libc::pid_t),
        // SAFETY: a sigset_t is plain data; sigprocmask fills it below.
        mask: unsafe { std::mem::zeroed() },
        error: AtomicI32::new(0),
    };

    // No signal handler of ours may run in the child, which shares our memory: signals
    // stay blocked from before the clone until the child has reset every handler.
    // SAFETY: plain signal-mask calls on locals.
    let mut all: libc::sigset_t = unsafe { std::mem::zeroed() };
    unsafe {
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut plan.mask);
    }
    let started = clone_child(&mut plan);
    // SAFETY: restores the mask saved above.
    unsafe {
        libc::pthread_sigmask(libc::SIG_SETMASK, &plan.mask, std::ptr::null_mut());
    }
    let pid = started?;
    let mut spawned = Spawned { pid, status: None };
    match plan.error.load(Ordering::Acquire) {
        0 => Ok(spawned),
        errno => {
            // The child has exited without executing anything: reap it.
            let _ = spawned.wait();
            Err(io::Error::from_raw_os_error(errno))
        }
    }
}

/// Clone the child on a stack of its own; returns once it has executed the program or
/// given up.
fn clone_child(plan: &mut ChildPlan<'_>) -> io::Result<libc::pid_t> {
    // SAFETY: an anonymous private mapping, unmapped below; the child is done with it when
    // clone returns (CLONE_VFORK: it has executed another program or exited).
    unsafe {
        let stack = libc::mmap(
            std::ptr::null_mut(),
            CHILD_STACK,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
            -1,
            0,
        );
        if stack == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        // Stacks grow down; the mapping's end is page-aligned, so aligned enough.
        let top = (stack as *mut u8).add(CHILD_STACK) as *mut c_void;
        let pid = libc::clone(
            child_main,
            top,
            libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
            plan as *mut ChildPlan<'_> as *mut c_void,
        );
        let clone_error = io::Error::last_os_error();
        libc::munmap(stack, CHILD_STACK);
        if pid < 0 {
            return Err(clone_error);
        }
        Ok(pid)
    }
}

/// The child: system calls only (see the module's comment), then the program.
extern "C" fn child_main(arg: *mut c_void) -> c_int {
    // SAFETY: `arg` is the parent's plan, alive until this child executes or exits.
    let plan = unsafe { &*(arg as *const ChildPlan<'_>) };
    // SAFETY: each call below is a system call's wrapper on the child's own attributes
    // and descriptors, with arguments made before the clone.
    unsafe {
        let fail = |plan: &ChildPlan<'_>| -> ! {
            let errno = *libc::__errno_location();
            plan.error.store(
                if errno == 0 { libc::EINVAL } else { errno },
                Ordering::Release,
            );
            libc::_exit(127)
        };
        // Handlers are this process's code: a signal arriving before the exec must not run
        // one here. Ignored signals stay ignored, as across any exec.
        for signal in 1..=LAST_SIGNAL {
            let mut current: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(signal, std::ptr::null(), &mut current) == 0
                && current.sa_sigaction != libc::SIG_DFL
                && current.sa_sigaction != libc::SIG_IGN
            {
                let mut default: libc::sigaction = std::mem::zeroed();
                default.sa_sigaction = libc::SIG_DFL;
                libc::sigaction(signal, &default, std::ptr::null_mut());
            }
        }
        if plan.new_process_group && libc::setpgid(0, 0) < 0 {
            fail(plan);
        }
        if let Some(parent) = plan.parent {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) < 0 {
                fail(plan);
            }
            // The parent died before the line above: nothing would kill us later.
            if libc::getppid() != parent {
                *libc::__errno_location() = libc::ESRCH;
                fail(plan);
            }
        }
        for (offset, fd) in plan.numbered.iter().enumerate() {
            if libc::dup2(*fd, plan.parking + offset as c_int) < 0 {
                fail(plan);
            }
        }
        for (target, source) in plan.stdio.iter().enumerate() {
            let target = target as c_int;
            if *source < 0 {
                continue;
            }
            // dup2 onto itself would leave close-on-exec set.
            let placed = if *source == target {
                libc::fcntl(target, libc::F_SETFD, 0)
            } else {
                libc::dup2(*source, target)
            };
            if placed < 0 {
                fail(plan);
            }
        }
        // dup2 clears close-on-exec on the new descriptor: these survive the exec.
        for offset in 0..plan.numbered.len() as c_int {
            if libc::dup2(plan.parking + offset, 3 + offset) < 0 {
                fail(plan);
            }
        }
        // Everything above the numbered ones (the parked copies, whatever this process had
        // open without close-on-exec) must not reach the program. Kernels without
        // close_range's flag (before 5.11) refuse, and then nothing changes.
        libc::syscall(
            libc::SYS_close_range,
            (3 + plan.numbered.len()) as libc::c_uint,
            libc::c_uint::MAX,
            CLOSE_RANGE_CLOEXEC,
        );
        if let Some(mask) = plan.umask {
            libc::umask(mask);
        }
        libc::sigprocmask(libc::SIG_SETMASK, &plan.mask, std::ptr::null_mut());
        libc::execve(plan.path, plan.argv, plan.envp);
        fail(plan)
    }
}

/// Run `program` with `args` in our environment, `input` on its stdin, and collect what it
/// writes to stdout and stderr (stderr on a thread of its own, so that neither pipe fills
/// while the other is read).
pub fn output(
    program: &Path,
    args: &[impl AsRef<OsStr>],
    input: &[u8],
    die_with_parent: bool,
) -> io::Result<Output> {
    let (stdin_read, mut stdin_write) = pipe()?;
    let (mut stdout_read, stdout_write) = pipe()?;
    let (mut stderr_read, stderr_write) = pipe()?;
    let mut child = {
        let placement = Placement {
            stdio: [
                Some(stdin_read.as_raw_fd()),
                Some(stdout_write.as_raw_fd()),
                Some(stderr_write.as_raw_fd()),
            ],
            die_with_parent,
            ..Placement::PLAIN
        };
        let spawned = spawn(program, args, Environment::Inherit, &placement)?;
        // Only the child holds these ends now, so its exit ends our reads.
        drop((stdin_read, stdout_write, stderr_write));
        spawned
    };
    // A program that exits without reading all of it says why in its status and stderr.
    match stdin_write.write_all(input) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(e);
        }
        _ => drop(stdin_write),
    }
    let errors = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        stderr_read.read_to_end(&mut bytes).map(|_| bytes)
    });
    let mut stdout = Vec::new();
    let read = stdout_read.read_to_end(&mut stdout);
    let stderr = errors
        .join()
        .unwrap_or_else(|_| Err(io::Error::other("reading stderr panicked")));
    let status = child.wait()?;
    read?;
    Ok(Output {
        status,
        stdout,
        stderr: stderr?,
    })
}

/// A pipe whose ends are closed at any exec.
fn pipe() -> io::Result<(File, File)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills the array with two new descriptors, owned by the Files below.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just made and belong to nothing else.
    Ok(unsafe { (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) })
}

/// `program` itself when it names a path; else the first executable of that name in
/// `PATH`.
fn resolve(program: &Path) -> io::Result<PathBuf> {
    if program.as_os_str().as_bytes().contains(&b'/') {
        return Ok(program.to_path_buf());
    }
    let search = std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into());
    std::env::split_paths(&search)
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
        .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn c_string(text: &OsStr) -> io::Result<CString> {
    CString::new(text.as_bytes()).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{text:?} contains a NUL byte"),
        )
    })
}

fn null_terminated(strings: &[CString]) -> Vec<*const c_char> {
    strings
        .iter()
        .map(|s| s.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::File;
    use std::os::fd::AsRawFd;

    fn shell(script: &str, placement: &Placement<'_>) -> io::Result<Spawned> {
        spawn(
            Path::new("/bin/sh"),
            &["-c".to_string(), script.to_string()],
            Environment::Exactly(&[("PATH".into(), "/usr/bin:/bin".into())]),
            placement,
        )
    }

    #[test]
    fn the_program_gets_its_environment_umask_group_and_descriptors() {
        let dir = tempfile::tempdir().unwrap();
        let out = File::create(dir.path().join("out")).unwrap();
        let numbered = File::open("/dev/null").unwrap();
        let placement = Placement {
            stdio: [None, Some(out.as_raw_fd()), None],
            numbered: &[numbered.as_raw_fd()],
            umask: Some(0o027),
            new_process_group: true,
            die_with_parent: true,
        };
        // Field 5 of stat is the process group.
        let script = "echo \"$A $B\"; umask; \
                      test \"$(cut -d' ' -f5 /proc/$$/stat)\" -eq $$ && echo leader; \
                      readlink /proc/$$/fd/3";
        let mut child = spawn(
            Path::new("sh"),
            &["-c".to_string(), script.to_string()],
            Environment::Exactly(&[
                ("PATH".into(), "/usr/bin:/bin".into()),
                ("A".into(), "first".into()),
                ("B".into(), "b".into()),
                ("A".into(), "a".into()),
            ]),
            &placement,
        )
        .unwrap();
        assert!(child.wait().unwrap().success());
        assert_eq!(child.wait().unwrap().code(), Some(0), "a second wait");
        let printed = std::fs::read_to_string(dir.path().join("out")).unwrap();
        assert_eq!(printed, "a b\n0027\nleader\n/dev/null\n");
    }

    #[test]
    fn sources_on_the_target_numbers_are_placed_without_overwriting_each_other() {
        let dir = tempfile::tempdir().unwrap();
        // Open enough files that some land on 3 and 4, then pass them crossed over.
        let files: Vec<File> = (0..6)
            .map(|i| File::create(dir.path().join(format!("f{i}"))).unwrap())
            .collect();
        let mut fds: Vec<RawFd> = files.iter().map(|f| f.as_raw_fd()).collect();
        fds.reverse();
        let out = File::create(dir.path().join("out")).unwrap();
        let placement = Placement {
            stdio: [None, Some(out.as_raw_fd()), None],
            numbered: &fds,
            umask: None,
            new_process_group: false,
            die_with_parent: false,
        };
        let script = "for fd in 3 4 5 6 7 8; do readlink /proc/$$/fd/$fd; done; \
                      exec ls /proc/$$/fd";
        let mut child = shell(script, &placement).unwrap();
        assert!(child.wait().unwrap().success());
        let printed = std::fs::read_to_string(dir.path().join("out")).unwrap();
        let expected: Vec<String> = (0..6)
            .rev()
            .map(|i| dir.path().join(format!("f{i}")).display().to_string())
            .collect();
        let lines: Vec<&str> = printed.lines().collect();
        assert_eq!(
            lines[..6],
            expected.iter().map(String::as_str).collect::<Vec<_>>()[..]
        );
        // 0-2 and the six; `ls` adds the directory it reads.
        assert_eq!(lines.len() - 6, 10, "{printed}");
    }

    #[test]
    fn output_feeds_stdin_and_collects_both_streams() {
        let script = "cat; echo to-stderr >&2; exit 3";
        let ran = output(Path::new("sh"), &["-c", script], b"to-stdout\n", true).unwrap();
        assert_eq!(ran.status.code(), Some(3));
        assert_eq!(ran.stdout, b"to-stdout\n");
        assert_eq!(ran.stderr, b"to-stderr\n");
        // More input than a pipe holds, for a program that reads none of it.
        let big = vec![b'x'; 1 << 20];
        let ran = output(Path::new("true"), &[] as &[&str], &big, false).unwrap();
        assert!(ran.status.success());
    }

    #[test]
    fn a_child_that_dies_with_its_parent_ends_with_the_thread_that_started_it() {
        use std::os::unix::process::ExitStatusExt;
        let placement = Placement {
            die_with_parent: true,
            ..Placement::PLAIN
        };
        let mut child = std::thread::spawn(move || {
            spawn(Path::new("sleep"), &["5"], Environment::Inherit, &placement).unwrap()
        })
        .join()
        .unwrap();
        assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGKILL));
    }

    #[test]
    fn threads_may_start_programs_at_the_same_time() {
        // The service starts monitors from several threads at once: each child shares the
        // memory of a process whose other threads keep running.
        let threads: Vec<_> = (0..8)
            .map(|thread| {
                std::thread::spawn(move || {
                    for round in 0..25 {
                        let word = format!("{thread}-{round}");
                        let ran = output(Path::new("cat"), &[] as &[&str], word.as_bytes(), false)
                            .unwrap();
                        assert!(ran.status.success());
                        assert_eq!(ran.stdout, word.as_bytes());
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
    }

    #[test]
    fn a_program_that_cannot_be_executed_or_placed_is_an_error() {
        let placement = Placement::PLAIN;
        let none: &[&str] = &[];
        // By its path, and by its name in PATH.
        for program in ["/nonexistent/program", "no-such-program-anywhere"] {
            let error = spawn(Path::new(program), none, Environment::Inherit, &placement)
                .err()
                .unwrap();
            assert_eq!(error.kind(), io::ErrorKind::NotFound, "{program}: {error}");
        }
        // A bad descriptor to place fails in the child, before anything is executed.
        let bad = Placement {
            numbered: &[9999],
            ..placement
        };
        let error = shell("exit 0", &bad).err().unwrap();
        assert_eq!(error.raw_os_error(), Some(libc::EBADF), "{error}");
    }

    #[test]
    fn the_program_gets_our_signal_mask_not_the_one_held_during_the_clone() {
        let dir = tempfile::tempdir().unwrap();
        let out = File::create(dir.path().join("out")).unwrap();
        let placement = Placement {
            stdio: [None, Some(out.as_raw_fd()), None],
            numbered: &[],
            umask: None,
            new_process_group: false,
            die_with_parent: false,
        };
        // SIGUSR2 blocked in this thread only (the mask is per thread); every signal is
        // blocked while the child is made, and the child must put ours back.
        // SAFETY: signal-mask calls on locals, undone below.
        let mut usr2: libc::sigset_t = unsafe { std::mem::zeroed() };
        let mut before: libc::sigset_t = unsafe { std::mem::zeroed() };
        unsafe {
            libc::sigemptyset(&mut usr2);
            libc::sigaddset(&mut usr2, libc::SIGUSR2);
            libc::pthread_sigmask(libc::SIG_BLOCK, &usr2, &mut before);
        }
        // Not through a shell: dash clears its mask when it starts.
        let spawned = spawn(
            Path::new("grep"),
            &["^SigBlk:", "/proc/self/status"],
            Environment::Exactly(&[("PATH".into(), "/usr/bin:/bin".into())]),
            &placement,
        );
        // SAFETY: as above.
        unsafe {
            libc::pthread_sigmask(libc::SIG_SETMASK, &before, std::ptr::null_mut());
        }
        assert!(spawned.unwrap().wait().unwrap().success());
        let printed = std::fs::read_to_string(dir.path().join("out")).unwrap();
        let blocked = printed
            .split_whitespace()
            .nth(1)
            .and_then(|mask| u64::from_str_radix(mask, 16).ok())
            .unwrap();
        let bit = |signal: c_int| 1u64 << (signal - 1);
        assert_ne!(blocked & bit(libc::SIGUSR2), 0, "{printed}");
        assert_eq!(blocked & bit(libc::SIGTERM), 0, "{printed}");
        assert_eq!(blocked & bit(libc::SIGINT), 0, "{printed}");
    }
}
