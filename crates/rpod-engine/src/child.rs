//! Helper programs that must not outlive the rpod thread that started them.

use std::process::Command;

/// `command`'s process is killed when the thread that spawns it ends (rpod killed
/// included): for a helper whose work means nothing without rpod, or that would go on
/// beside the next rpod command's cleanup.
pub(crate) fn die_with_parent(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    let parent = std::process::id();
    #[allow(unsafe_code)]
    // SAFETY: the hook runs in the child between fork and exec and makes only the
    // async-signal-safe prctl and getppid calls; it allocates nothing.
    unsafe {
        command.pre_exec(move || {
            nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)?;
            // The parent died before the line above: nothing would kill us later.
            if std::os::unix::process::parent_id() != parent {
                return Err(std::io::Error::from(nix::errno::Errno::ESRCH));
            }
            Ok(())
        });
    }
}
