//! The cgroup-move priming on the real host (root): the write goes to the process's own
//! cgroup and leaves it where it was.

use rpod_oci::cgroup_prime::{move_into_own_cgroup, prime_cgroup_moves};

#[test]
fn priming_writes_the_own_cgroup_and_moves_nothing() {
    assert!(nix::unistd::geteuid().is_root(), "this test needs root");
    let before = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    let written = move_into_own_cgroup().expect("a writable cgroup of this process");
    assert_eq!(
        written.file_name().and_then(|n| n.to_str()),
        Some("cgroup.procs")
    );
    let pid = std::process::id().to_string();
    let listed = std::fs::read_to_string(&written).unwrap();
    assert!(
        listed.lines().any(|line| line == pid),
        "{} does not list {pid}",
        written.display()
    );
    assert_eq!(
        std::fs::read_to_string("/proc/self/cgroup").unwrap(),
        before
    );
}

/// The priming thread the engine starts writes the same file.
#[test]
fn the_priming_thread_writes_the_own_cgroup() {
    assert!(nix::unistd::geteuid().is_root(), "this test needs root");
    // Another test's priming may be waiting still: then this one starts after it.
    let thread = loop {
        if let Some(thread) = prime_cgroup_moves() {
            break thread;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    let written = thread.join().unwrap().expect("the priming wrote a file");
    assert_eq!(written, move_into_own_cgroup().unwrap());
}
