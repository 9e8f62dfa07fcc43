//! A program copied into a sealed memfd, to be executed from there.
//!
//! crun and runc guard the host's binary against a container that would write to it through
//! `/proc/self/exe` (CVE-2019-5736): crun at every start, runc in the process that enters
//! the container, make a read-only copy of themselves (a read-only bind mount, or a memfd)
//! and execute that again, unless `/proc/self/exe` already is a memfd sealed against
//! writes, growth and shrinking. The second start of the whole program (its loader, its
//! libraries, glibc's CPU probes) and the mounts around it cost crun more than its own work
//! for a `kill` or a `delete`. So rpod-monitor and rpod's own runtime calls make that copy
//! themselves and execute the runtime from it: the runtime finds itself sealed and goes on
//! at once, with the same protection (nothing can write a sealed memfd). The copy is a
//! kernel-side copy of the binary (`copy_file_range`), gone with the runtime's process.
//!
//! Only small executables the kernel runs itself (ELF): a script's interpreter would be
//! handed `/dev/fd/N`, closed at the exec, and a large program costs more to copy than its
//! second start (runc: `LARGEST_COPIED`). Otherwise, and when anything fails here, the
//! caller runs the runtime by its path.

use std::fs::File;
use std::io::{Read, Seek};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

/// The seals crun and runc look for, all of them and nothing else.
pub const SEALS: libc::c_int =
    libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;

/// Larger programs are run by their path. The copy costs in proportion to the program, and
/// a program run from it faults in fresh small pages instead of the page cache's: runc's
/// Go binary (8.7 MB) made a `run --rm` 17 ms slower copied than with its own read-only
/// bind mount, where crun (0.5 MB) gains 4 ms (docs/benchmarks.md, eighth round).
pub const LARGEST_COPIED: u64 = 2 << 20;

/// A sealed, executable copy of the program at `path`; `None` when it is not an ELF
/// executable, is larger than `LARGEST_COPIED`, or the copy cannot be made.
pub fn copy(path: &Path) -> Option<OwnedFd> {
    let mut binary = File::open(path).ok()?;
    let size = binary.metadata().ok()?.len();
    if size > LARGEST_COPIED {
        return None;
    }
    let mut magic = [0u8; 4];
    binary.read_exact(&mut magic).ok()?;
    if &magic != b"\x7fELF" {
        return None;
    }
    binary.rewind().ok()?;
    let memfd = memfd()?;
    let mut copy = File::from(memfd);
    if std::io::copy(&mut binary, &mut copy).ok()? != size {
        return None;
    }
    // SAFETY: fcntl on a descriptor this function owns.
    if unsafe { libc::fcntl(copy.as_raw_fd(), libc::F_ADD_SEALS, SEALS) } != 0 {
        return None;
    }
    Some(copy.into())
}

/// An empty memfd that may be sealed and executed, closed at exec.
fn memfd() -> Option<OwnedFd> {
    let name = c"rpod:runtime";
    let flags = libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING;
    // Executable on purpose: kernels since 6.3 warn about (and may be set to refuse) a
    // memfd created without saying; older ones do not know the flag.
    for flags in [flags | libc::MFD_EXEC, flags] {
        // SAFETY: memfd_create with a NUL-terminated name; the result is checked.
        let fd = unsafe { libc::memfd_create(name.as_ptr(), flags) };
        if fd >= 0 {
            // SAFETY: a descriptor the kernel just returned, owned by nobody else.
            return Some(unsafe { OwnedFd::from_raw_fd(fd) });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn seals(fd: &OwnedFd) -> libc::c_int {
        // SAFETY: fcntl on a descriptor the test owns.
        unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GET_SEALS) }
    }

    #[test]
    fn an_executable_is_copied_sealed_and_runs_from_the_copy() {
        let original = Path::new("/bin/true");
        let copy = copy(original).expect("a sealed copy of /bin/true");
        assert_eq!(seals(&copy), SEALS);
        let path = format!("/proc/self/fd/{}", copy.as_raw_fd());
        assert!(
            std::fs::read(&path).unwrap() == std::fs::read(original).unwrap(),
            "the copy differs"
        );
        // Nothing can write it any more, even through a descriptor opened for writing.
        let mut writer = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        assert!(std::io::Write::write_all(&mut writer, b"x").is_err());
        drop(writer);

        // The kernel resolves the path at the exec, before it closes the descriptor.
        let status = std::process::Command::new(&path).status().unwrap();
        assert!(status.success());
    }

    #[test]
    fn scripts_large_programs_and_missing_files_are_not_copied() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("runtime");
        std::fs::write(&script, "#!/bin/sh\nexit 0\n").unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(copy(&script).is_none());
        assert!(copy(&dir.path().join("missing")).is_none());
        let large = dir.path().join("large");
        let mut elf = std::fs::read("/bin/true").unwrap();
        elf.resize(LARGEST_COPIED as usize + 1, 0);
        std::fs::write(&large, elf).unwrap();
        assert!(copy(&large).is_none());
    }
}
