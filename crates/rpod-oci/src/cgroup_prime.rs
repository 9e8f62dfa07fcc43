//! Starting the kernel's wait for cgroup moves before the runtime needs it.
//!
//! Every create, run and exec of runc or crun moves a process into the container's cgroups.
//! The kernel serialises such moves with one host-wide lock, and taking it for writing waits
//! for an RCU grace period (6-22 ms on the machines measured, `docs/benchmarks.md`) unless
//! a move happened in the last grace period or so; hosts whose cgroup2 is mounted with
//! `favordynmods` never wait. The runtime is started only after rpod's own bookkeeping (the
//! store, the root file system, the spec, the monitor), so by itself it pays that wait after
//! all of it, in full.
//!
//! [`prime_cgroup_moves`] takes the lock once from a thread of rpod's own, by "moving" rpod
//! into the cgroup it already is in: the kernel takes the lock and then finds nothing to
//! move (no controller hears of it, the process's settings stay as they are). The wait runs
//! beside rpod's bookkeeping, and the runtime's moves, which come within the grace period
//! that follows, find the lock ready or wait only for what is left of that wait.
//!
//! No crate does this: it is one write to one of the process's own cgroup files, found from
//! `/proc/self/cgroup`.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

/// Where cgroup hierarchies are mounted on the hosts rpod supports (systemd's layout).
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// One priming at a time per process: a second would wait for the same grace period.
static PRIMING: AtomicBool = AtomicBool::new(false);

/// Start taking the kernel's cgroup-move lock from a background thread, so that the
/// runtime's moves that follow soon do not wait for it. Best effort: a host where the write
/// is refused (a read-only cgroup file system, no cgroups) loses nothing but the head start.
/// Call it when a runtime's create, run or exec is about to come. Returns the priming
/// thread (callers let it run detached; `None` when one is already waiting, or no thread
/// could be started), which ends with the file it wrote.
pub fn prime_cgroup_moves() -> Option<JoinHandle<std::io::Result<PathBuf>>> {
    if PRIMING.swap(true, Ordering::AcqRel) {
        return None;
    }
    let spawned = std::thread::Builder::new()
        .name("cgroup-prime".into())
        .spawn(|| {
            let written = move_into_own_cgroup();
            if let Err(e) = &written {
                tracing::debug!(%e, "priming the cgroup-move lock");
            }
            PRIMING.store(false, Ordering::Release);
            written
        });
    if spawned.is_err() {
        PRIMING.store(false, Ordering::Release);
    }
    spawned.ok()
}

/// Write this process's PID into the `cgroup.procs` of the cgroup it is in (the first of its
/// hierarchies that is mounted where systemd mounts them), which leaves it where it is.
/// Returns the file written.
pub fn move_into_own_cgroup() -> std::io::Result<PathBuf> {
    let groups = std::fs::read_to_string("/proc/self/cgroup")?;
    let files = own_cgroup_files(&groups, Path::new(CGROUP_ROOT));
    if files.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("none of this process's cgroups is mounted under {CGROUP_ROOT}"),
        ));
    }
    write_where_listed(&files, &std::process::id().to_string())
}

/// Write `pid` into the first of `files` that lists it; returns that file.
fn write_where_listed(files: &[PathBuf], pid: &str) -> std::io::Result<PathBuf> {
    let mut last_error = None;
    for file in files {
        // Only a file that lists this process is its own cgroup's: a hierarchy mounted from
        // outside the process's cgroup namespace reads otherwise, and writing there would
        // really move it.
        let listed = match std::fs::read_to_string(file) {
            Ok(procs) => procs.lines().any(|line| line == pid),
            Err(e) => {
                last_error = Some(e);
                continue;
            }
        };
        if !listed {
            last_error = Some(std::io::Error::other(format!(
                "{} does not list this process",
                file.display()
            )));
            continue;
        }
        let written = OpenOptions::new()
            .write(true)
            .open(file)
            .and_then(|mut f| f.write_all(pid.as_bytes()));
        match written {
            Ok(()) => return Ok(file.clone()),
            Err(e) => last_error = Some(e),
        }
    }
    Err(last_error
        .unwrap_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no cgroup file")))
}

/// The `cgroup.procs` files of the process's own cgroups, from `/proc/self/cgroup`'s lines
/// (`ID:CONTROLLERS:PATH`), the unified hierarchy's first, and only those that exist under
/// `root`: cgroup2 at `root` itself or at `root/unified` (hybrid hosts), a v1 hierarchy at
/// `root/CONTROLLERS` (`name=systemd` at `root/systemd`).
pub fn own_cgroup_files(proc_self_cgroup: &str, root: &Path) -> Vec<PathBuf> {
    let mut unified = Vec::new();
    let mut legacy = Vec::new();
    for line in proc_self_cgroup.lines() {
        let mut fields = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) =
            (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        // `..` leads out of the reader's cgroup namespace: no file of this mount is that
        // cgroup's.
        let components = Path::new(path).components();
        if components
            .clone()
            .any(|c| c == std::path::Component::ParentDir)
        {
            continue;
        }
        let relative: PathBuf = components
            .filter(|c| matches!(c, std::path::Component::Normal(_)))
            .collect();
        if controllers.is_empty() {
            for base in [root.to_path_buf(), root.join("unified")] {
                if base.join("cgroup.controllers").exists() {
                    unified.push(base.join(&relative).join("cgroup.procs"));
                }
            }
        } else {
            let dir = controllers.strip_prefix("name=").unwrap_or(controllers);
            legacy.push(root.join(dir).join(&relative).join("cgroup.procs"));
        }
    }
    unified
        .into_iter()
        .chain(legacy)
        .filter(|file| file.is_file())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn touch(path: &Path) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, "").unwrap();
    }

    #[test]
    fn a_hybrid_hosts_files_come_unified_first_and_only_where_they_exist() {
        let root = tempfile::tempdir().unwrap();
        let root = root.path();
        touch(&root.join("unified/cgroup.controllers"));
        touch(&root.join("unified/user.slice/cgroup.procs"));
        touch(&root.join("memory/user.slice/cgroup.procs"));
        touch(&root.join("systemd/user.slice/cgroup.procs"));
        touch(&root.join("cpu,cpuacct/user.slice/cgroup.procs"));
        let groups = "12:memory:/user.slice\n\
                      11:pids:/user.slice\n\
                      4:cpu,cpuacct:/user.slice\n\
                      1:name=systemd:/user.slice\n\
                      0::/user.slice\n";
        assert_eq!(
            own_cgroup_files(groups, root),
            vec![
                root.join("unified/user.slice/cgroup.procs"),
                root.join("memory/user.slice/cgroup.procs"),
                root.join("cpu,cpuacct/user.slice/cgroup.procs"),
                root.join("systemd/user.slice/cgroup.procs"),
            ]
        );
    }

    /// Only a file that lists the process is written (any other would really move it),
    /// and left as it was.
    #[test]
    fn only_a_file_listing_the_process_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = dir.path().join("elsewhere.procs");
        let own = dir.path().join("own.procs");
        fs::write(&elsewhere, "1\n77\n").unwrap();
        fs::write(&own, "1\n4242\n").unwrap();
        let files = [elsewhere.clone(), own.clone()];
        assert_eq!(write_where_listed(&files, "4242").unwrap(), own);
        assert_eq!(fs::read_to_string(&elsewhere).unwrap(), "1\n77\n");
        // (A cgroup file takes the number; a plain file shows it was written.)
        assert!(fs::read_to_string(&own).unwrap().starts_with("4242"));
        let err = write_where_listed(&files[..1], "4242").unwrap_err();
        assert!(err.to_string().contains("does not list"), "{err}");
        assert_eq!(fs::read_to_string(&elsewhere).unwrap(), "1\n77\n");
        // A file that cannot be read is passed over for the next.
        fs::write(&own, "4242\n").unwrap();
        let missing = dir.path().join("missing.procs");
        assert_eq!(
            write_where_listed(&[missing, own.clone()], "4242").unwrap(),
            own
        );
    }

    #[test]
    fn a_unified_hosts_file_is_under_the_root_itself() {
        let root = tempfile::tempdir().unwrap();
        let root = root.path();
        touch(&root.join("cgroup.controllers"));
        touch(&root.join("cgroup.procs"));
        touch(&root.join("system.slice/rpod.service/cgroup.procs"));
        assert_eq!(
            own_cgroup_files("0::/system.slice/rpod.service\n", root),
            vec![root.join("system.slice/rpod.service/cgroup.procs")]
        );
        assert_eq!(
            own_cgroup_files("0::/\n", root),
            vec![root.join("cgroup.procs")]
        );
    }

    #[test]
    fn paths_never_leave_the_hierarchy_and_odd_lines_are_skipped() {
        let root = tempfile::tempdir().unwrap();
        let root = root.path();
        touch(&root.join("cgroup.controllers"));
        touch(&root.join("cgroup.procs"));
        // `..` in a path (a cgroup outside the reader's cgroup namespace) names no file.
        touch(&root.join("a/cgroup.procs"));
        assert!(own_cgroup_files("garbage\n0::/../../a\n", root).is_empty());
        assert_eq!(
            own_cgroup_files("garbage\n0::/a\n", root),
            vec![root.join("a/cgroup.procs")]
        );
        // Nothing mounted: nothing to write.
        let empty = tempfile::tempdir().unwrap();
        assert!(own_cgroup_files("0::/\n5:pids:/\n", empty.path()).is_empty());
    }
}
