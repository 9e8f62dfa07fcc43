//! Confinement and privacy: seccomp, capabilities, podman's mount flags and masked paths,
//! security flags, a store no other user can read, and podman's clear input errors.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use common::{busybox_tarball, Rpod};

macro_rules! confinement_tests {
    ($module:ident, $runtime:literal) => {
        mod $module {
            use super::*;
            const RT: &str = $runtime;

            #[test]
            fn mask_and_unmask_change_the_hidden_and_read_only_paths() {
                let rpod = Rpod::with_image(RT);
                // The paths mounted over in the container, from its mount table.
                let mounted = |opts: &[&str]| -> Vec<String> {
                    let mut args = vec!["run", "--rm"];
                    for opt in opts {
                        args.extend(["--security-opt", opt]);
                    }
                    args.extend(["demo", "cat", "/proc/self/mountinfo"]);
                    rpod.ok(&args)
                        .lines()
                        .filter_map(|l| l.split(' ').nth(4).map(String::from))
                        .collect()
                };
                let plain = mounted(&[]);
                // (Not /proc/kcore: a kernel without it has nothing there to mask.)
                for path in ["/proc/keys", "/proc/acpi", "/proc/sys"] {
                    assert!(plain.iter().any(|p| p == path), "{path} not in {plain:?}");
                }
                let some = mounted(&["unmask=/proc/k*:/proc/sys", "mask=/proc/cpuinfo"]);
                for path in ["/proc/keys", "/proc/sys"] {
                    assert!(!some.iter().any(|p| p == path), "{path} in {some:?}");
                }
                for path in ["/proc/acpi", "/proc/cpuinfo"] {
                    assert!(some.iter().any(|p| p == path), "{path} not in {some:?}");
                }
                assert_eq!(
                    rpod.ok(&[
                        "run",
                        "--rm",
                        "--security-opt",
                        "mask=/proc/cpuinfo",
                        "demo",
                        "cat",
                        "/proc/cpuinfo",
                    ]),
                    ""
                );
                let all = mounted(&["unmask=ALL"]);
                for path in ["/proc/keys", "/proc/acpi", "/proc/sys", "/sys/firmware"] {
                    assert!(!all.iter().any(|p| p == path), "{path} in {all:?}");
                }
                let err = rpod.fails(
                    &["create", "--security-opt", "mask=proc", "demo", "true"],
                    125,
                );
                assert!(err.contains("absolute path"), "{err}");
            }

            /// `--security-opt proc-opts=`: the container's `/proc` mounted with them (a
            /// user sees only its own processes with `hidepid=2`); inspect shows them.
            #[test]
            fn proc_opts_are_the_proc_mounts_options() {
                let rpod = Rpod::with_image(RT);
                let id = rpod.detached(&[
                    "--security-opt",
                    "proc-opts=hidepid=2",
                    "demo",
                    "sleep",
                    "100",
                ]);
                let mounts = rpod.ok(&["exec", &id, "grep", " /proc proc ", "/proc/mounts"]);
                assert!(mounts.contains("hidepid=invisible"), "{mounts}");
                // PID 1 is root's: hidden from another user.
                let seen = rpod.ok(&["exec", "-u", "65534", &id, "ls", "/proc"]);
                assert!(!seen.lines().any(|l| l == "1"), "{seen}");
                assert!(rpod
                    .ok(&["exec", &id, "ls", "/proc"])
                    .lines()
                    .any(|l| l == "1"));
                assert_eq!(
                    rpod.inspect(&id, "{{.HostConfig.SecurityOpt}}"),
                    "[proc-opts=hidepid=2]"
                );
                rpod.ok(&["rm", "-f", "-t", "0", &id]);
                let err = rpod.fails(
                    &["create", "--security-opt", "proc-opts=rw", "demo", "true"],
                    125,
                );
                assert!(err.contains("not a /proc option"), "{err}");
            }

            #[test]
            fn seccomp_confines_by_default() {
                let rpod = Rpod::with_image(RT);
                assert_eq!(seccomp_mode(&rpod, &["run", "--rm", "demo"]), "2");
                // personality(ADDR_NO_RANDOMIZE) is refused by the default profile (ENOSYS).
                let out = rpod.run(&["run", "--rm", "demo", "linux64", "-R", "true"]);
                assert_eq!(out.status.code(), Some(1));
                assert!(String::from_utf8_lossy(&out.stderr).contains("Function not implemented"));
                // The same without the filter works.
                rpod.ok(&[
                    "run",
                    "--rm",
                    "--security-opt",
                    "seccomp=unconfined",
                    "demo",
                    "linux64",
                    "-R",
                    "true",
                ]);
                assert_eq!(
                    seccomp_mode(&rpod, &["run", "--rm", "--privileged", "demo"]),
                    "0"
                );
                // An exec runs under the container's filter too.
                let id = rpod.detached(&["demo", "sleep", "100"]);
                assert_eq!(seccomp_mode(&rpod, &["exec", &id]), "2");
            }

            #[test]
            fn a_profile_file_is_applied() {
                let rpod = Rpod::with_image(RT);
                let opt = no_mkdir_profile(&rpod);
                mkdir_is_refused_only_under(&rpod, &opt);
                let bad = rpod.dir.path().join("bad.json");
                fs::write(&bad, "{not json").unwrap();
                let err = rpod.fails(
                    &[
                        "create",
                        "--security-opt",
                        &format!("seccomp={}", bad.display()),
                        "demo",
                    ],
                    125,
                );
                assert!(err.contains("bad.json"), "{err}");
                assert_eq!(
                    rpod.ok(&["ps", "-a", "-q"]),
                    "",
                    "a refused create left a container"
                );
            }

            #[test]
            fn capabilities_and_security_flags() {
                let rpod = Rpod::with_image(RT);
                let caps = |args: &[&str]| -> u64 {
                    let mut full = vec!["run", "--rm"];
                    full.extend_from_slice(args);
                    full.extend_from_slice(&["demo", "grep", "^CapEff:", "/proc/self/status"]);
                    let out = rpod.ok(&full);
                    u64::from_str_radix(out.split_whitespace().nth(1).unwrap(), 16).unwrap()
                };
                const CHOWN: u64 = 1 << 0;
                const NET_ADMIN: u64 = 1 << 12;
                const SYS_CHROOT: u64 = 1 << 18;
                let default = caps(&[]);
                assert!(
                    default & CHOWN != 0 && default & SYS_CHROOT != 0 && default & NET_ADMIN == 0
                );
                assert_eq!(caps(&["--cap-drop", "ALL"]), 0);
                assert_eq!(
                    caps(&["--cap-drop", "all", "--cap-add", "net_admin"]),
                    NET_ADMIN
                );
                let dropped = caps(&["--cap-drop", "CAP_CHOWN", "--cap-add", "NET_ADMIN"]);
                assert!(dropped & CHOWN == 0 && dropped & NET_ADMIN != 0);
                let nnp = rpod.ok(&[
                    "run",
                    "--rm",
                    "--security-opt",
                    "no-new-privileges",
                    "demo",
                    "grep",
                    "^NoNewPrivs:",
                    "/proc/self/status",
                ]);
                assert!(nnp.contains('1'), "{nnp}");
                let out = rpod.run(&["run", "--rm", "--read-only", "demo", "touch", "/x"]);
                assert_ne!(out.status.code(), Some(0));
                assert!(String::from_utf8_lossy(&out.stderr).contains("Read-only file system"));
                let err = rpod.fails(
                    &["run", "--rm", "--cap-add", "CAP_NOPE", "demo", "true"],
                    125,
                );
                assert!(err.contains("CAP_NOPE"), "{err}");
                let err = rpod.fails(
                    &["run", "--rm", "--security-opt", "bogus", "demo", "true"],
                    125,
                );
                assert!(err.contains("bogus"), "{err}");
            }

            #[test]
            fn a_privileged_container_gets_the_hosts_devices() {
                let rpod = Rpod::with_image(RT);
                // Host device nodes the runtime does not make by itself (its defaults are
                // null, zero, full, random, urandom, tty, ptmx and the console).
                let defaults = [
                    "null", "zero", "full", "random", "urandom", "tty", "ptmx", "console",
                ];
                let host: Vec<String> = fs::read_dir("/dev")
                    .unwrap()
                    .flatten()
                    .filter(|e| {
                        use std::os::unix::fs::FileTypeExt;
                        let kind = e.file_type().unwrap();
                        (kind.is_char_device() || kind.is_block_device())
                            && !defaults.iter().any(|d| e.file_name() == *d)
                    })
                    .map(|e| e.path().display().to_string())
                    .collect();
                assert!(!host.is_empty(), "no device node on this host's /dev");
                let check = format!(
                    "for d in {}; do [ -c $d ] || [ -b $d ] || echo missing $d; done",
                    host.join(" ")
                );
                assert_eq!(
                    rpod.ok(&["run", "--rm", "--privileged", "demo", "sh", "-c", &check]),
                    ""
                );
                // Without --privileged, none of them.
                let missing = rpod.ok(&["run", "--rm", "demo", "sh", "-c", &check]);
                assert_eq!(missing.lines().count(), host.len(), "{missing}");
            }

            #[test]
            fn mounts_and_masked_paths_follow_podman() {
                let rpod = Rpod::with_image(RT);
                let mounts = rpod.ok(&["run", "--rm", "demo", "cat", "/proc/self/mounts"]);
                let options = |target: &str| -> Vec<String> {
                    let line = mounts
                        .lines()
                        .find(|l| l.split(' ').nth(1) == Some(target))
                        .unwrap_or_else(|| panic!("no {target} mount in {mounts}"));
                    line.split(' ')
                        .nth(3)
                        .unwrap()
                        .split(',')
                        .map(String::from)
                        .collect()
                };
                for flag in ["nosuid", "nodev", "noexec"] {
                    assert!(
                        options("/proc").iter().any(|o| o == flag),
                        "/proc lacks {flag}"
                    );
                }
                assert!(
                    options("/dev").iter().any(|o| o == "noexec"),
                    "/dev lacks noexec"
                );
                assert!(options("/sys").iter().any(|o| o == "ro"));
                let block = rpod.ok(&["run", "--rm", "demo", "ls", "/sys/dev/block"]);
                assert_eq!(block, "", "/sys/dev/block is not masked");
                let keys = rpod.ok(&["run", "--rm", "demo", "cat", "/proc/keys"]);
                assert_eq!(keys, "");
            }
        }
    };
}

/// The seccomp mode (`Seccomp:` of /proc/self/status) of a process run by `command`
/// (`run ... IMAGE` or `exec CONTAINER`).
fn seccomp_mode(rpod: &Rpod, command: &[&str]) -> String {
    let mut args = command.to_vec();
    args.extend(["grep", "^Seccomp:", "/proc/self/status"]);
    let line = rpod.ok(&args);
    match line.split_whitespace().collect::<Vec<_>>()[..] {
        ["Seccomp:", mode] => mode.to_string(),
        _ => panic!("not a Seccomp line: {line:?}"),
    }
}

/// A seccomp profile that refuses mkdir (EPERM) and allows the rest, in the store's
/// directory; returns its `--security-opt` value.
fn no_mkdir_profile(rpod: &Rpod) -> String {
    let profile = rpod.dir.path().join("no-mkdir.json");
    fs::write(
        &profile,
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":1}]}"#,
    )
    .unwrap();
    format!("seccomp={}", profile.display())
}

/// mkdir fails with EPERM under the `--security-opt` value `opt` and works without it.
fn mkdir_is_refused_only_under(rpod: &Rpod, opt: &str) {
    let out = rpod.run(&[
        "run",
        "--rm",
        "--security-opt",
        opt,
        "demo",
        "mkdir",
        "/tmp/x",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Operation not permitted"));
    rpod.ok(&["run", "--rm", "demo", "mkdir", "/tmp/x"]);
}

confinement_tests!(runc, "runc");
confinement_tests!(crun, "crun");

/// crun's compiled filter is kept after a create and handed back to crun (its
/// `run.oci.seccomp_bpf_data` annotation) by later creates with the same profile, and only
/// with the same profile: the filter it loads is still the profile's.
#[test]
fn crun_reuses_compiled_seccomp_filters_per_profile() {
    let rpod = Rpod::with_image("crun");
    let cache = rpod.runroot().join("monitor/seccomp-cache");
    let kept = || fs::read_dir(&cache).map(|d| d.count()).unwrap_or(0);
    let annotated = |id: &str| {
        let spec = rpod
            .root()
            .join("containers")
            .join(id)
            .join("userdata/config.json");
        let spec: serde_json::Value = serde_json::from_slice(&fs::read(spec).unwrap()).unwrap();
        spec["annotations"]["run.oci.seccomp_bpf_data"].is_string()
    };
    let first = rpod.detached(&["demo", "sleep", "100"]);
    assert!(
        !annotated(&first),
        "nothing was kept before the first create"
    );
    assert_eq!(kept(), 1);
    let second = rpod.detached(&["demo", "sleep", "100"]);
    assert!(
        annotated(&second),
        "the second create did not get the kept filter"
    );
    assert_eq!(kept(), 1);
    assert_eq!(seccomp_mode(&rpod, &["exec", &second]), "2");
    // The kept filter refuses what the profile refuses (ENOSYS for personality flags).
    let out = rpod.run(&["run", "--rm", "demo", "linux64", "-R", "true"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("Function not implemented"));

    // Another profile gets its own filter: mkdir refused there, allowed by the default.
    let opt = no_mkdir_profile(&rpod);
    for _ in 0..2 {
        mkdir_is_refused_only_under(&rpod, &opt);
        let out = rpod.run(&[
            "run",
            "--rm",
            "--security-opt",
            &opt,
            "demo",
            "linux64",
            "-R",
            "true",
        ]);
        assert_eq!(out.status.code(), Some(0), "{out:?}");
    }
    assert_eq!(kept(), 2);
    // A damaged kept filter is not used: crun compiles the profile again.
    for entry in fs::read_dir(&cache).unwrap() {
        fs::write(entry.unwrap().path(), b"damaged").unwrap();
    }
    let out = rpod.run(&["run", "--rm", "demo", "linux64", "-R", "true"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("Function not implemented"));
}

/// Run a command as `nobody` (through a shell that is itself nobody's, so that the
/// command's own path is looked up with nobody's rights): (success, stderr).
fn as_nobody(args: &[&str]) -> (bool, String) {
    let out = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--",
            "sh",
            "-c",
            "exec \"$@\"",
            "sh",
        ])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn mode(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
}

#[test]
fn the_store_is_private() {
    let rpod = Rpod::with_image("runc");
    // Only rpod's own modes may protect the store: open up the test's directory.
    fs::set_permissions(rpod.dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let id = rpod.detached(&["-e", "SECRET=hunter2", "demo", "sleep", "100"]);
    let root = rpod.root();
    let runroot = rpod.runroot();
    let layers = root.join("images/layers");
    let layer = fs::read_dir(&layers)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let busybox = layer.join("bin/busybox");
    let bundle_config = root
        .join("containers")
        .join(&id)
        .join("userdata/config.json");
    assert!(bundle_config.exists());
    for path in [&root, &runroot] {
        let (ok, _) = as_nobody(&["ls", &path.display().to_string()]);
        assert!(!ok, "nobody can list {}", path.display());
    }
    for path in [root.join("rpod.db"), bundle_config.clone()] {
        let (ok, _) = as_nobody(&["cat", &path.display().to_string()]);
        assert!(!ok, "nobody can read {}", path.display());
    }
    let (ok, _) = as_nobody(&[&busybox.display().to_string(), "true"]);
    assert!(!ok, "nobody can run a binary of a layer");
    assert_eq!(mode(&root), 0o700);
    assert_eq!(mode(&runroot), 0o700);
    for suffix in ["rpod.db", "rpod.db-wal", "rpod.db-shm"] {
        let path = root.join(suffix);
        if path.exists() {
            assert_eq!(mode(&path), 0o600, "{suffix}");
        }
    }
    assert_eq!(
        mode(&bundle_config) & 0o077,
        0,
        "the bundle's config is readable by others"
    );
    let log = root.join("containers").join(&id).join("userdata/ctr.log");
    assert_eq!(mode(&log) & 0o077, 0, "the log is readable by others");

    // A store left open by an older rpod is tightened when rpod opens it.
    fs::set_permissions(&root, fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(root.join("images"), fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(root.join("rpod.db"), fs::Permissions::from_mode(0o644)).unwrap();
    rpod.ok(&["ps"]);
    assert_eq!(mode(&root), 0o700);
    assert_eq!(mode(&root.join("images")), 0o700);
    assert_eq!(mode(&root.join("rpod.db")), 0o600);
    // The container still works for its own users.
    assert_eq!(
        rpod.ok(&["exec", "-u", "nobody", &id, "ls", "/bin/sh"]),
        "/bin/sh\n"
    );
    // The image's working directory, when its layers lack it, is made for the container's
    // user, not with rpod's private umask.
    rpod.ok(&[
        "import",
        "--change",
        "WORKDIR /made/here",
        &busybox_tarball().display().to_string(),
        "made-here",
    ]);
    assert_eq!(
        rpod.ok(&[
            "run",
            "--rm",
            "-u",
            "nobody",
            "made-here",
            "sh",
            "-c",
            "touch x && stat -c '%a %U' /made /made/here"
        ]),
        "755 root\n755 nobody\n"
    );
    // One given with --workdir must exist, as podman's must (a typo is not a new
    // directory), unless it lies on a mount, where the runtime finds or makes it.
    let err = rpod.fails(&["run", "--rm", "-w", "/made/here", "demo", "true"], 126);
    assert!(
        err.contains("workdir \"/made/here\" does not exist on container"),
        "{err}"
    );
    assert_eq!(
        rpod.ok(&[
            "run",
            "--rm",
            "--tmpfs",
            "/scratch",
            "-w",
            "/scratch/new",
            "demo",
            "pwd"
        ]),
        "/scratch/new\n"
    );
    // Each container's root is its own: the image's directory made for the last one is not
    // in this one's, and given with --workdir it must exist too (as with podman).
    rpod.fails(
        &["run", "--rm", "-w", "/made/here", "made-here", "pwd"],
        126,
    );
    // So are the directories the runtime makes for mount points (runc made them 0700 with
    // rpod's umask: a file mounted there, docker-compose's secrets for one, could not be
    // read by the container's other users), in the image's root and in a tmpfs.
    let host = tempfile::tempdir().unwrap();
    let secret = host.path().join("secret");
    fs::write(&secret, "s3cret\n").unwrap();
    fs::set_permissions(host.path(), fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o644)).unwrap();
    for (flags, at) in [
        (&[][..], "/made/for"),
        (&["--read-only"][..], "/run/secrets"),
    ] {
        let mount = format!("{}:{at}/it:ro", secret.display());
        let mut args = vec!["run", "--rm", "-u", "nobody", "-v", &mount];
        args.extend(flags);
        let script = format!("stat -c %a {at} && cat {at}/it");
        args.extend(["demo", "sh", "-c", &script]);
        assert_eq!(rpod.ok(&args), "755\ns3cret\n", "{flags:?}");
    }
}

#[test]
fn input_errors_are_clear_and_podmans() {
    let rpod = Rpod::with_image("runc");
    let err = rpod.fails(&["run", "--rm", "--nosuchflag", "demo", "true"], 125);
    assert_eq!(
        err.lines().next(),
        Some("Error: unknown flag: --nosuchflag")
    );
    let err = rpod.fails(&["create", "--cap-drop"], 125);
    assert!(!err.contains("image not known"), "{err}");
    // A flag after the image belongs to the command.
    assert_eq!(
        rpod.ok(&["run", "--rm", "demo", "echo", "--nosuchflag", "-x"]),
        "--nosuchflag -x\n"
    );

    // -e NAME of an unset variable is left out; empty names are refused before anything.
    let env = rpod.ok(&[
        "run",
        "--rm",
        "-e",
        "RPOD_TEST_UNSET_VARIABLE",
        "-e",
        "A=1",
        "demo",
        "env",
    ]);
    assert!(!env.contains("RPOD_TEST_UNSET_VARIABLE"), "{env}");
    assert!(env.contains("A=1"));
    for bad in ["", "=x"] {
        rpod.fails(&["run", "--rm", "-e", bad, "demo", "true"], 125);
    }
    rpod.fails(&["run", "--rm", "--pids-limit", "-2", "demo", "true"], 125);
    assert_eq!(
        rpod.ok(&["ps", "-a", "-q"]),
        "",
        "a refused run created a container"
    );
    rpod.ok(&["run", "--rm", "--pids-limit", "-1", "demo", "true"]);

    let env_file = rpod.dir.path().join("env");
    fs::write(&env_file, "# comment\nFROM_FILE=yes\n\nOVERRIDE=file\n").unwrap();
    let env = rpod.ok(&[
        "run",
        "--rm",
        "--env-file",
        &env_file.display().to_string(),
        "-e",
        "OVERRIDE=flag",
        "demo",
        "env",
    ]);
    assert!(env.contains("FROM_FILE=yes"), "{env}");
    let overrides: Vec<&str> = env.lines().filter(|l| l.starts_with("OVERRIDE=")).collect();
    assert_eq!(overrides, ["OVERRIDE=flag"], "{env}");

    // Exit codes: an unknown user and a workdir that is a file cannot be invoked (126).
    let err = rpod.fails(&["run", "--rm", "-u", "nosuchuser", "demo", "true"], 126);
    assert!(err.contains("unable to find user nosuchuser"), "{err}");
    let err = rpod.fails(&["run", "--rm", "-w", "/etc/passwd", "demo", "true"], 126);
    assert!(err.contains("not a directory"), "{err}");

    // Template errors are one short line.
    rpod.ok(&["create", "--name", "c", "demo", "true"]);
    let err = rpod.fails(&["inspect", "--format", "{{.Nope.Deeper}}", "c"], 125);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.len() < 300, "{err}");

    // Messages do not repeat themselves.
    let broken = Rpod::new("runc");
    fs::create_dir_all(broken.root().join("rpod.db")).unwrap();
    let err = broken.fails(&["ps"], 125);
    let first = err.lines().next().unwrap_or_default();
    for part in first.split(": ") {
        if part.len() > 10 {
            assert_eq!(first.matches(part).count(), 1, "{first}");
        }
    }
}

#[test]
fn seccomp_policy_image_takes_the_images_profile_label() {
    let rpod = Rpod::new("runc");
    let profile = r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO"}]}"#;
    rpod.ok(&[
        "import",
        "--change",
        &format!("LABEL io.containers.seccomp.profile={profile}"),
        &busybox_tarball().display().to_string(),
        "labelled",
    ]);
    let mkdir = |flags: &[&str]| {
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["labelled", "mkdir", "/made"]);
        rpod.run(&args).status.code()
    };
    // Only with the policy; the image's profile replaces the default, not the user's.
    assert_eq!(mkdir(&["--seccomp-policy", "image"]), Some(1));
    assert_eq!(mkdir(&[]), Some(0));
    assert_eq!(
        mkdir(&[
            "--seccomp-policy",
            "image",
            "--security-opt",
            "seccomp=unconfined"
        ]),
        Some(0)
    );
    rpod.ok(&[
        "create",
        "--name",
        "c",
        "--seccomp-policy",
        "image",
        "labelled",
        "true",
    ]);
    assert!(rpod
        .inspect("c", "{{.HostConfig.SecurityOpt}}")
        .contains("seccomp=io.containers.seccomp.profile"));
    // A broken profile in the label is refused at create; an unknown policy too.
    rpod.ok(&[
        "import",
        "--change",
        "LABEL io.containers.seccomp.profile={broken",
        &busybox_tarball().display().to_string(),
        "broken",
    ]);
    let err = rpod.fails(
        &["create", "--seccomp-policy", "image", "broken", "true"],
        125,
    );
    assert!(
        err.contains("seccomp profile of the image's label"),
        "{err}"
    );
    rpod.fails(
        &["create", "--seccomp-policy", "whatever", "labelled", "true"],
        125,
    );
}
