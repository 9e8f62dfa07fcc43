//! What a container shares and its limits, end to end on runc and crun: `--init`,
//! `--pid`/`--ipc`/`--uts` with `host` and `container:`, `--shm-size`, `--sysctl`,
//! `--ulimit`, `--device`, `--group-add`, and the `container` variable.

mod common;

use std::time::{Duration, Instant};

use common::*;

/// Zombies in a running container: the `Z` lines of its `ps`.
fn zombies(rpod: &Rpod, name: &str) -> usize {
    rpod.ok(&["exec", name, "ps", "-o", "stat,comm"])
        .lines()
        .filter(|l| l.trim_start().starts_with('Z'))
        .count()
}

fn check_init(runtime: &str) {
    let rpod = Rpod::with_image(runtime);
    // The subshell exits at once, so its `sleep 0.1` is orphaned and handed to PID 1.
    let script = "(sleep 0.1 &) ; exec sleep 300";
    rpod.detached(&["--name", "bare", "demo", "sh", "-c", script]);
    rpod.detached(&["--name", "inited", "--init", "demo", "sh", "-c", script]);
    std::thread::sleep(Duration::from_millis(800));
    // PID 1 `sleep` never waits: the orphan stays a zombie. The init reaps it.
    assert_eq!(zombies(&rpod, "bare"), 1);
    assert_eq!(zombies(&rpod, "inited"), 0);
    let pid1 = rpod.ok(&["exec", "inited", "cat", "/proc/1/cmdline"]);
    assert!(pid1.starts_with("/run/podman-init\0--\0sh\0"), "{pid1:?}");
    // The init forwards the stop signal: no wait for the kill timeout.
    let started = Instant::now();
    rpod.ok(&["stop", "-t", "20", "inited"]);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(rpod.inspect("inited", "{{.State.ExitCode}}"), "143");
    // Bad combinations and paths are refused.
    rpod.fails(&["create", "--init", "--pid", "host", "demo", "true"], 125);
    rpod.fails(
        &[
            "create",
            "--init",
            "--init-path",
            "/no/init",
            "demo",
            "true",
        ],
        125,
    );
    rpod.fails(
        &[
            "create",
            "--init-path",
            "/usr/bin/catatonit",
            "demo",
            "true",
        ],
        125,
    );
}

#[test]
fn init_reaps_orphans_and_forwards_signals_on_runc() {
    check_init("runc");
}

#[test]
fn init_reaps_orphans_and_forwards_signals_on_crun() {
    check_init("crun");
}

fn ns(path: &str) -> String {
    std::fs::read_link(path).unwrap().display().to_string()
}

fn check_namespaces(runtime: &str) {
    let rpod = Rpod::with_image(runtime);
    let inside = |flags: &[&str], what: &str| {
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(flags);
        args.extend(["demo", "readlink", what]);
        rpod.ok(&args).trim().to_string()
    };
    // host: the host's own namespaces.
    assert_eq!(
        inside(&["--pid", "host"], "/proc/self/ns/pid"),
        ns("/proc/self/ns/pid")
    );
    assert_eq!(
        inside(&["--ipc", "host"], "/proc/self/ns/ipc"),
        ns("/proc/self/ns/ipc")
    );
    assert_eq!(
        inside(&["--uts", "host"], "/proc/self/ns/uts"),
        ns("/proc/self/ns/uts")
    );
    assert_ne!(inside(&[], "/proc/self/ns/pid"), ns("/proc/self/ns/pid"));
    let host_name = nix::unistd::gethostname()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert_eq!(
        rpod.ok(&["run", "--rm", "--uts", "host", "demo", "hostname"])
            .trim(),
        host_name
    );
    rpod.fails(
        &["create", "--uts", "host", "--hostname", "x", "demo", "true"],
        125,
    );
    // none: an IPC namespace of its own without /dev/shm, as podman's (it was refused).
    assert_ne!(
        inside(&["--ipc", "none"], "/proc/self/ns/ipc"),
        ns("/proc/self/ns/ipc")
    );
    let out = rpod.run(&["run", "--rm", "--ipc", "none", "demo", "ls", "/dev/shm"]);
    assert!(!out.status.success(), "{out:?}");
    rpod.ok(&[
        "create", "--name", "no-shm", "--ipc", "none", "demo", "true",
    ]);
    assert_eq!(rpod.inspect("no-shm", "{{.HostConfig.IpcMode}}"), "none");
    rpod.ok(&["rm", "no-shm"]);
    let err = rpod.fails(&["create", "--pid", "none", "demo", "true"], 125);
    assert!(err.contains("invalid --pid \"none\""), "{err}");
    // container: another container's.
    rpod.detached(&[
        "--name",
        "base",
        "--ipc",
        "shareable",
        "--shm-size",
        "2m",
        "demo",
        "sleep",
        "300",
    ]);
    for kind in ["pid", "ipc", "uts"] {
        let theirs = rpod.ok(&["exec", "base", "readlink", &format!("/proc/self/ns/{kind}")]);
        let flag = format!("--{kind}");
        let mine = inside(&[&flag, "container:base"], &format!("/proc/self/ns/{kind}"));
        assert_eq!(mine, theirs.trim(), "{kind}");
    }
    let ps = rpod.ok(&[
        "run",
        "--rm",
        "--pid",
        "container:base",
        "demo",
        "ps",
        "-o",
        "comm",
    ]);
    assert!(ps.contains("sleep"), "{ps}");
    // A shareable IPC namespace comes with its /dev/shm: what one writes, the other reads.
    rpod.ok(&[
        "run",
        "--rm",
        "--ipc",
        "container:base",
        "demo",
        "sh",
        "-c",
        "echo shared > /dev/shm/note",
    ]);
    assert_eq!(
        rpod.ok(&["exec", "base", "cat", "/dev/shm/note"]),
        "shared\n"
    );
    let size = rpod.ok(&["exec", "base", "df", "-k", "/dev/shm"]);
    assert!(
        size.lines()
            .nth(1)
            .is_some_and(|l| l.split_whitespace().nth(1) == Some("2048")),
        "{size}"
    );
    rpod.ok(&[
        "create",
        "--name",
        "follower",
        "--ipc",
        "container:base",
        "demo",
        "true",
    ]);
    let err = rpod.fails(&["rm", "-f", "base"], 125);
    assert!(err.contains("dependent containers"), "{err}");
    rpod.ok(&["rm", "follower"]);
    rpod.ok(&["stop", "-t", "0", "base"]);
    let err = rpod.fails(
        &["run", "--rm", "--pid", "container:base", "demo", "true"],
        125,
    );
    assert!(err.contains("must be running"), "{err}");
    rpod.fails(
        &["create", "--pid", "container:nosuch", "demo", "true"],
        125,
    );
    rpod.fails(&["create", "--ipc", "ns:/x", "demo", "true"], 125);
}

#[test]
fn namespaces_are_shared_as_asked_on_runc() {
    check_namespaces("runc");
}

#[test]
fn namespaces_are_shared_as_asked_on_crun() {
    check_namespaces("crun");
}

/// `--ulimit host`: every limit as rpod has it (here a soft open-file limit of 500 the
/// command was started with), none of rpod's own (the host's hard limit for open files);
/// not beside another `--ulimit`.
#[test]
fn ulimit_host_gives_the_limits_rpod_has() {
    use std::os::unix::process::CommandExt;
    let rpod = Rpod::with_image("crun");
    let limited = |args: &[&str]| {
        let mut command = rpod.command(args);
        let (_, hard) =
            nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).unwrap();
        // SAFETY: setrlimit is async-signal-safe; nothing else runs in the child.
        unsafe {
            command.pre_exec(move || {
                nix::sys::resource::setrlimit(
                    nix::sys::resource::Resource::RLIMIT_NOFILE,
                    500,
                    hard,
                )
                .map_err(std::io::Error::from)
            });
        }
        let out = command.output().unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let script = ["demo", "sh", "-c", "ulimit -n; ulimit -Hn"];
    let (_, hard) =
        nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).unwrap();
    let mut host = vec!["run", "--rm", "--ulimit", "host"];
    host.extend(script);
    assert_eq!(limited(&host), format!("500\n{hard}\n"));
    let mut plain = vec!["run", "--rm"];
    plain.extend(script);
    // rpod's own: the hard limit (at most podman's 1048576) for both.
    let own = hard.min(1_048_576);
    assert_eq!(limited(&plain), format!("{own}\n{own}\n"));
    let err = rpod.fails(
        &[
            "create", "--ulimit", "host", "--ulimit", "nproc=5", "demo", "true",
        ],
        125,
    );
    assert!(err.contains("no other --ulimit"), "{err}");
}

fn check_limits(runtime: &str) {
    let rpod = Rpod::with_image(runtime);
    let out = rpod.ok(&[
        "run", "--rm", "--shm-size", "1m", "--sysctl", "net.ipv4.ip_forward=1", "--sysctl",
        "kernel.shmmax=1048576", "--ulimit", "nofile=100:200", "--ulimit", "nproc=50",
        "--group-add", "123", "--group-add", "nogroup", "demo", "sh", "-c",
        "df -k /dev/shm | tail -1; cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmax; ulimit -n; ulimit -Hn; ulimit -u; id -G; echo $container",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].split_whitespace().nth(1) == Some("1024"), "{out}");
    assert_eq!(
        &lines[1..],
        ["1", "1048576", "100", "200", "50", "0 123 65534", "podman"],
        "{out}"
    );
    // Too few open files for the runtime: its failure names the limit; more than the
    // kernel allows: refused before the runtime is asked.
    let err = rpod.fails(
        &["run", "--rm", "--ulimit", "nofile=5", "demo", "true"],
        125,
    );
    assert!(
        err.contains("--ulimit nofile=5:5 may be too few open files"),
        "{err}"
    );
    let err = rpod.fails(
        &[
            "run",
            "--rm",
            "--ulimit",
            "nofile=unlimited",
            "demo",
            "true",
        ],
        125,
    );
    assert!(err.contains("(fs.nr_open)"), "{err}");
    // Without --shm-size, podman's 65,536,000 bytes (containers.conf's "65536k", decimal).
    let shm = rpod.ok(&["run", "--rm", "demo", "grep", " /dev/shm ", "/proc/mounts"]);
    assert!(shm.contains(",size=64000k "), "{shm}");
    // 0: no limit, as podman's (more than the default fits).
    let unlimited = rpod.ok(&[
        "run", "--rm", "--shm-size", "0", "demo", "sh", "-c",
        "grep ' /dev/shm ' /proc/mounts; dd if=/dev/zero of=/dev/shm/x bs=1M count=80 2>/dev/null && echo written",
    ]);
    assert!(
        unlimited.contains(",size=0k ") && unlimited.ends_with("written\n"),
        "{unlimited}"
    );
    // A device, with the permissions asked for.
    let out = rpod.ok(&[
        "run",
        "--rm",
        "--device",
        "/dev/null:/dev/mynull:rw",
        "demo",
        "sh",
        "-c",
        "stat -c '%t:%T' /dev/mynull && echo x > /dev/mynull && echo written",
    ]);
    assert_eq!(out, "1:3\nwritten\n");
    // The cgroup lets through what was asked for, on a device the runtimes do not allow
    // by default (they allow /dev/null to everyone).
    let device = ["/dev/kvm", "/dev/loop-control", "/dev/fuse"]
        .into_iter()
        .find(|d| {
            use std::os::unix::fs::FileTypeExt;
            std::fs::metadata(d).is_ok_and(|m| m.file_type().is_char_device())
        })
        .expect("a character device to try");
    let read_only = format!("{device}:/dev/dev:r");
    let open = "exec 3</dev/dev && echo read; exec 4<>/dev/dev && echo written";
    let out = rpod.run(&[
        "run", "--rm", "--device", &read_only, "demo", "sh", "-c", open,
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "read\n");
    assert!(!out.status.success());
    let read_write = format!("{device}:/dev/dev:rw");
    assert_eq!(
        rpod.ok(&[
            "run",
            "--rm",
            "--device",
            &read_write,
            "demo",
            "sh",
            "-c",
            open
        ]),
        "read\nwritten\n"
    );
    // Refused before anything is made.
    for bad in [
        vec!["--sysctl", "vm.swappiness=1"],
        vec!["--sysctl", "net.ipv4.ip_forward=1", "--network", "host"],
        vec!["--sysctl", "noequals"],
        vec!["--ulimit", "nofile=10:5"],
        vec!["--ulimit", "bogus=1"],
        vec!["--device", "/etc/passwd"],
        vec!["--device", "/dev/null:/x:q"],
        vec!["--shm-size", "lots"],
    ] {
        let mut args = vec!["create"];
        args.extend(bad.iter().copied());
        args.extend(["demo", "true"]);
        rpod.fails(&args, 125);
    }
    let err = rpod.fails(
        &["run", "--rm", "--group-add", "nosuchgroup", "demo", "true"],
        126,
    );
    assert!(err.contains("nosuchgroup"), "{err}");
    // Supplementary groups as podman gives them: with no user named, root's listed ones
    // only (none in the test image); a user named has its primary group too.
    assert_eq!(
        rpod.ok(&["run", "--rm", "demo", "id"]),
        "uid=0(root) gid=0(root)\n"
    );
    assert_eq!(
        rpod.ok(&["run", "--rm", "-u", "0:0", "demo", "id"]),
        "uid=0(root) gid=0(root) groups=0(root)\n"
    );
    // `keep-groups`: no groups of the image's; crun is told to keep the process's own.
    rpod.ok(&["run", "--rm", "--group-add", "keep-groups", "demo", "true"]);
    let id = rpod.ok(&["create", "--group-add", "keep-groups", "demo", "true"]);
    assert_eq!(
        rpod.inspect(
            id.trim(),
            r#"{{index .Config.Annotations "run.oci.keep_original_groups"}}"#
        ),
        "1"
    );
    rpod.ok(&["rm", id.trim()]);
    let err = rpod.fails(
        &[
            "create",
            "--group-add",
            "keep-groups",
            "--group-add",
            "10",
            "demo",
            "true",
        ],
        125,
    );
    assert!(
        err.contains("'--group-add keep-groups' option is not allowed with any other"),
        "{err}"
    );
    assert_eq!(rpod.ok(&["ps", "-aq"]), "");
}

#[test]
fn limits_devices_and_groups_on_runc() {
    check_limits("runc");
}

#[test]
fn limits_devices_and_groups_on_crun() {
    check_limits("crun");
}
