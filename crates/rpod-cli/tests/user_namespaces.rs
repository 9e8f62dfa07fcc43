//! Containers in user namespaces of their own (`--uidmap`, `--gidmap`): root inside, an
//! unprivileged user of the host outside, with the image's files as their own and
//! everything rpod reads or writes in them (cp, commit, export, volumes, generated files)
//! translated.

mod common;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::Rpod;

/// The host's IDs of the containers' root in these tests.
const HOST_ROOT: u32 = 231072;
const UIDMAP: &str = "0:231072:65536";

/// A store whose directory lets the containers' root users through to their root file
/// systems (and lists nothing).
fn passable_store(runtime: &str) -> Rpod {
    let rpod = Rpod::with_image(runtime);
    fs::set_permissions(rpod.dir.path(), fs::Permissions::from_mode(0o711)).unwrap();
    rpod
}

/// A passable store whose rpod.conf lists subordinate IDs in files of its own, `subuid` and
/// `subgid` in its directory (one file for both with `shared`): their paths (the files are
/// the test's to write).
fn store_with_subordinate_files(shared: bool) -> (Rpod, PathBuf, PathBuf) {
    let rpod = passable_store("crun");
    let subuid = rpod.dir.path().join("subuid");
    let subgid = if shared {
        subuid.clone()
    } else {
        rpod.dir.path().join("subgid")
    };
    rpod.set_config(&format!(
        "{}[storage]\nsubuid_file = {subuid:?}\nsubgid_file = {subgid:?}\n",
        common::NO_NETWORK_CONFIG
    ));
    (rpod, subuid, subgid)
}

/// `run --rm` with the tests' mappings; its output.
fn run_mapped(rpod: &Rpod, args: &[&str]) -> String {
    let mut full = vec!["run", "--rm", "--uidmap", UIDMAP];
    full.extend_from_slice(args);
    rpod.ok(&full)
}

fn mode(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
}

/// The owners (uid, gid) of `path`'s entries in a tar.
fn tar_owner(tar: &[u8], path: &str) -> (u64, u64) {
    let mut archive = tar::Archive::new(tar);
    for entry in archive.entries().unwrap() {
        let entry = entry.unwrap();
        let name = entry.path().unwrap().display().to_string();
        if name.trim_start_matches("./").trim_end_matches('/') == path {
            let h = entry.header();
            return (h.uid().unwrap(), h.gid().unwrap());
        }
    }
    panic!("{path} not in the archive");
}

macro_rules! user_namespace_tests {
    ($module:ident, $runtime:literal) => {
        mod $module {
            use super::*;
            const RT: &str = $runtime;

            #[test]
            fn root_inside_is_an_unprivileged_user_outside() {
                let rpod = passable_store(RT);
                let id = rpod.detached(&["--uidmap", UIDMAP, "demo", "sleep", "100"]);
                let uid_map = rpod.ok(&["exec", &id, "cat", "/proc/self/uid_map"]);
                let fields: Vec<&str> = uid_map.split_whitespace().collect();
                assert_eq!(fields, ["0", "231072", "65536"]);
                assert_eq!(rpod.ok(&["exec", &id, "id", "-u"]), "0\n");
                // The image's files are root's in the container.
                assert_eq!(
                    rpod.ok(&["exec", &id, "stat", "-c", "%u:%g", "/bin/busybox"]),
                    "0:0\n"
                );
                // On the host, its processes are the mapped user's.
                let pid = rpod.inspect(&id, "{{.State.Pid}}");
                let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
                let uids = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
                assert!(
                    uids.split_whitespace().skip(1).all(|u| u == "231072"),
                    "{uids}"
                );
                // `top` shows both views.
                let top = rpod.ok(&["top", &id, "user", "huser"]);
                assert_eq!(
                    top.lines()
                        .nth(1)
                        .unwrap()
                        .split_whitespace()
                        .collect::<Vec<_>>(),
                    ["root", "231072"]
                );
                // It writes to its root (the upper layer holds the host's IDs), and to the
                // files rpod made for it.
                rpod.ok(&[
                    "exec",
                    &id,
                    "sh",
                    "-c",
                    "echo x > /new && echo 10.1.1.1 h >> /etc/hosts",
                ]);
                let upper = rpod
                    .root()
                    .join("containers")
                    .join(&id)
                    .join("overlay/diff/new");
                assert_eq!(fs::metadata(&upper).unwrap().uid(), HOST_ROOT);
                assert_eq!(
                    rpod.inspect(
                        &id,
                        "{{.HostConfig.UsernsMode}} {{.HostConfig.IDMappings.UidMap}}"
                    ),
                    "private [0:231072:65536]"
                );
                // One that shares a container's network shares its name files, which stay
                // that container's. runc's exec could not join that network namespace:
                // refused there.
                let plain = rpod.detached(&["demo", "sleep", "100"]);
                let network = format!("container:{plain}");
                let args = [
                    "--uidmap",
                    UIDMAP,
                    "--network",
                    &network,
                    "demo",
                    "sleep",
                    "100",
                ];
                if RT == "runc" {
                    let mut full = vec!["run", "-d"];
                    full.extend(args);
                    let err = rpod.fails(&full, 125);
                    assert!(err.contains("on runc"), "{err}");
                    return;
                }
                let mapped = rpod.detached(&args);
                rpod.ok(&["exec", &mapped, "cat", "/etc/hosts"]);
                assert_eq!(
                    rpod.ok(&["exec", &plain, "stat", "-c", "%u", "/etc/hosts"]),
                    "0\n"
                );
            }

            #[test]
            fn a_container_joins_anothers_user_namespace() {
                let rpod = passable_store(RT);
                let owner = rpod.detached(&["--uidmap", UIDMAP, "demo", "sleep", "100"]);
                let other = format!("container:{owner}");
                // Its network too: one its user namespace owns, which runc's exec can join.
                let joined = rpod.detached(&[
                    "--userns",
                    &other,
                    "--network",
                    &other,
                    "demo",
                    "sleep",
                    "100",
                ]);
                let ns = |id: &str| rpod.ok(&["exec", id, "readlink", "/proc/self/ns/user"]);
                assert_eq!(ns(&owner), ns(&joined));
                assert_eq!(
                    rpod.ok(&["exec", &joined, "stat", "-c", "%u:%g", "/bin/busybox"]),
                    "0:0\n"
                );
                assert_eq!(
                    rpod.inspect(
                        &joined,
                        "{{.HostConfig.UsernsMode}} {{.HostConfig.IDMappings.UidMap}}"
                    ),
                    format!("{other} [0:231072:65536]")
                );
                let err = rpod.fails(&["rm", "-f", "-t", "0", &owner], 125);
                assert!(err.contains("dependent containers"), "{err}");
                rpod.ok(&["rm", "-a", "-f", "-t", "0"]);
                // One without a user namespace of its own has none to join.
                let plain = rpod.detached(&["demo", "sleep", "100"]);
                let err = rpod.fails(
                    &[
                        "run",
                        "--rm",
                        "--userns",
                        &format!("container:{plain}"),
                        "demo",
                        "true",
                    ],
                    125,
                );
                assert!(err.contains("no user namespace of its own"), "{err}");
            }

            #[test]
            fn a_pods_containers_share_its_user_namespace() {
                let rpod = passable_store(RT);
                rpod.ok(&["pod", "create", "--name", "mapped", "--uidmap", UIDMAP]);
                let first = rpod.detached(&["--pod", "mapped", "demo", "sleep", "100"]);
                let second = rpod.detached(&["--pod", "mapped", "demo", "sleep", "100"]);
                let ns = |id: &str, name: &str| {
                    rpod.ok(&[
                        "exec",
                        id,
                        "stat",
                        "-L",
                        "-c",
                        "%i",
                        &format!("/proc/self/ns/{name}"),
                    ])
                };
                for name in ["user", "net", "ipc", "uts"] {
                    assert_eq!(ns(&first, name), ns(&second, name), "{name}");
                }
                let uid_map = rpod.ok(&["exec", &second, "cat", "/proc/self/uid_map"]);
                assert_eq!(
                    uid_map.split_whitespace().collect::<Vec<_>>(),
                    ["0", "231072", "65536"]
                );
                assert_eq!(rpod.ok(&["exec", &second, "id", "-u"]), "0\n");
                // Its containers take the pod's, never one of their own.
                let err = rpod.fails(
                    &[
                        "run", "--rm", "--pod", "mapped", "--uidmap", UIDMAP, "demo", "true",
                    ],
                    125,
                );
                assert!(err.contains("share"), "{err}");
                // A clone of the pod has the same mappings, its containers its own infra
                // container's user namespace.
                rpod.ok(&["pod", "clone", "--name", "again", "mapped"]);
                let infra = rpod.ok(&[
                    "pod",
                    "inspect",
                    "--format",
                    "{{.InfraContainerID}}",
                    "again",
                ]);
                let infra = infra.trim();
                assert_eq!(
                    rpod.inspect(infra, "{{.HostConfig.IDMappings.UidMap}}"),
                    "[0:231072:65536]"
                );
                let members = rpod.ok(&["ps", "-aq", "--no-trunc", "--filter", "pod=again"]);
                let members: Vec<&str> = members.lines().filter(|m| *m != infra).collect();
                assert_eq!(members.len(), 2, "{members:?}");
                for member in members {
                    assert_eq!(
                        rpod.inspect(member, "{{.HostConfig.UsernsMode}}"),
                        format!("container:{infra}")
                    );
                }
                rpod.ok(&["pod", "rm", "-f", "-t", "0", "again"]);
                rpod.ok(&["pod", "rm", "-f", "-t", "0", "mapped"]);
                assert_eq!(
                    fs::read_dir(rpod.runroot().join("userns")).unwrap().count(),
                    0
                );
                // A pod without one takes no container that has one; one without an infra
                // container has none to share.
                rpod.ok(&["pod", "create", "--name", "plain"]);
                let err = rpod.fails(
                    &[
                        "run", "--rm", "--pod", "plain", "--uidmap", UIDMAP, "demo", "true",
                    ],
                    125,
                );
                assert!(err.contains("a pod without one"), "{err}");
                let err = rpod.fails(&["pod", "create", "--infra=false", "--uidmap", UIDMAP], 125);
                assert!(err.contains("infra container"), "{err}");
            }

            #[test]
            fn files_in_and_out_keep_the_owners_the_container_sees() {
                let rpod = passable_store(RT);
                let id = rpod.detached(&[
                    "--uidmap",
                    UIDMAP,
                    "-v",
                    "data:/data",
                    "demo",
                    "sleep",
                    "100",
                ]);
                rpod.ok(&[
                    "exec",
                    &id,
                    "sh",
                    "-c",
                    "touch /data/v /made && mkdir /owned && chown 1000:1001 /owned",
                ]);
                // A new volume is the container's root's.
                assert_eq!(
                    rpod.ok(&["exec", &id, "stat", "-c", "%u:%g", "/data", "/data/v"]),
                    "0:0\n0:0\n"
                );
                // So is one mounted `nocopy` over a directory of the image.
                assert_eq!(
                    run_mapped(
                        &rpod,
                        &[
                            "-v",
                            "bare:/etc:nocopy",
                            "demo",
                            "sh",
                            "-c",
                            "touch /etc/made && stat -c %u:%g /etc"
                        ],
                    ),
                    "0:0\n"
                );
                // A secret is its user's, as asked (root's by default).
                let secret = rpod.dir.path().join("secret");
                fs::write(&secret, "s3cret").unwrap();
                rpod.ok(&["secret", "create", "token", &secret.display().to_string()]);
                assert_eq!(
                    run_mapped(
                        &rpod,
                        &[
                            "--secret",
                            "token",
                            "--secret",
                            "token,target=/run/other,uid=1000,mode=0400",
                            "demo",
                            "sh",
                            "-c",
                            "stat -c %u:%g /run/secrets/token /run/other && cat /run/secrets/token"
                        ],
                    ),
                    "0:0\n1000:0\ns3cret"
                );
                // cp in: the container's user owns what it gets.
                let host = rpod.dir.path().join("host-file");
                fs::write(&host, "from the host").unwrap();
                rpod.ok(&["cp", &host.display().to_string(), &format!("{id}:/copied")]);
                assert_eq!(
                    rpod.ok(&["exec", &id, "stat", "-c", "%u:%g", "/copied"]),
                    "0:0\n"
                );
                // cp out (a tar): the owners the container sees.
                let out = rpod
                    .command(&["cp", &format!("{id}:/owned"), "-"])
                    .output()
                    .unwrap();
                assert!(out.status.success());
                assert_eq!(tar_owner(&out.stdout, "owned"), (1000, 1001));
                // export and commit: the same.
                let export = rpod.command(&["export", &id]).output().unwrap();
                assert!(export.status.success());
                assert_eq!(tar_owner(&export.stdout, "made"), (0, 0));
                assert_eq!(tar_owner(&export.stdout, "owned"), (1000, 1001));
                assert_eq!(tar_owner(&export.stdout, "bin/busybox"), (0, 0));
                // A working directory rpod makes (the image's) is the user's, what it
                // makes above it the container's root's (not the host's root's, which it
                // cannot use).
                rpod.ok(&[
                    "import",
                    "--change",
                    "WORKDIR /made/here",
                    &common::busybox_tarball().display().to_string(),
                    "made-here",
                ]);
                assert_eq!(
                    run_mapped(
                        &rpod,
                        &[
                            "-u",
                            "1000:1000",
                            "made-here",
                            "stat",
                            "-c",
                            "%u:%g",
                            "/made",
                            "/made/here"
                        ],
                    ),
                    "0:0\n1000:1000\n"
                );
                rpod.ok(&["commit", &id, "committed"]);
                assert_eq!(
                    rpod.ok(&[
                        "run",
                        "--rm",
                        "committed",
                        "stat",
                        "-c",
                        "%u:%g",
                        "/made",
                        "/owned"
                    ]),
                    "0:0\n1000:1001\n"
                );
            }

            #[test]
            fn the_root_is_mounted_where_only_the_containers_root_can_go() {
                let rpod = passable_store(RT);
                let id = rpod.detached(&["--uidmap", UIDMAP, "demo", "sleep", "100"]);
                let runroot = rpod.runroot();
                let dir = runroot.join("userns").join(&id);
                // The run root lets users through but lists nothing, and no directory in
                // it is open.
                assert_eq!(mode(&runroot), 0o711);
                for entry in fs::read_dir(&runroot).unwrap() {
                    let entry = entry.unwrap();
                    assert!(entry.file_type().unwrap().is_dir(), "{:?}", entry.path());
                    let expected = if entry.file_name() == "userns" {
                        0o711
                    } else {
                        0o700
                    };
                    assert_eq!(mode(&entry.path()), expected, "{:?}", entry.file_name());
                }
                // Root's, its group the container's root's: the container's root passes,
                // puts nothing there.
                assert_eq!(mode(&dir), 0o710);
                let meta = fs::metadata(&dir).unwrap();
                assert_eq!((meta.uid(), meta.gid()), (0, HOST_ROOT));
                // The store's layers were mapped for the overlay's mount only: nothing but
                // the container's root is mounted there now.
                let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap();
                let userns = runroot.join("userns").display().to_string();
                let mounted: Vec<&str> = mounts
                    .lines()
                    .filter_map(|l| l.split(' ').nth(4))
                    .filter(|p| p.starts_with(&userns))
                    .collect();
                assert_eq!(mounted, [dir.join("root").display().to_string()]);
                let nobody = Command::new("setpriv")
                    .args(["--reuid=65534", "--regid=65534", "--clear-groups", "ls"])
                    .arg(dir.join("root"))
                    .output()
                    .unwrap();
                assert!(
                    !nobody.status.success(),
                    "nobody can list the container's root"
                );
                // Its directory goes with it.
                rpod.ok(&["rm", "-f", "-t", "0", &id]);
                assert!(!dir.exists());
                run_mapped(&rpod, &["demo", "true"]);
                assert_eq!(fs::read_dir(runroot.join("userns")).unwrap().count(), 0);
            }

            #[test]
            fn idmap_shows_a_volume_as_the_containers_own() {
                let rpod = passable_store(RT);
                let dir = rpod.dir.path().join("shared");
                fs::create_dir(&dir).unwrap();
                fs::write(dir.join("host-file"), "from the host\n").unwrap();
                let file = rpod.dir.path().join("single");
                fs::write(&file, "one file\n").unwrap();
                let volume = format!("{}:/data:idmap", dir.display());
                let single = format!("{}:/single:idmap,ro", file.display());
                // Without idmap the host's root files are nobody's in the container; with
                // it, the container's root's, and what it writes is the host's root's.
                let plain = run_mapped(
                    &rpod,
                    &[
                        "-v",
                        &format!("{}:/data", dir.display()),
                        "demo",
                        "stat",
                        "-c",
                        "%u",
                        "/data/host-file",
                    ],
                );
                assert_eq!(plain, "65534\n");
                let id = rpod.detached(&[
                    "--uidmap", UIDMAP, "-v", &volume, "-v", &single, "demo", "sleep", "100",
                ]);
                assert_eq!(
                    rpod.ok(&[
                        "exec",
                        &id,
                        "stat",
                        "-c",
                        "%u:%g",
                        "/data/host-file",
                        "/single"
                    ]),
                    "0:0\n0:0\n"
                );
                rpod.ok(&["exec", &id, "sh", "-c", "echo new > /data/made-inside"]);
                let made = fs::metadata(dir.join("made-inside")).unwrap();
                assert_eq!((made.uid(), made.gid()), (0, 0));
                assert_eq!(rpod.ok(&["exec", &id, "cat", "/single"]), "one file\n");
                // The mapped source exists while the container runs, and goes with it.
                let runroot = rpod.runroot();
                let mounts = || {
                    fs::read_to_string("/proc/self/mountinfo")
                        .unwrap()
                        .lines()
                        .filter(|l| l.contains(&format!(".mounts-{id}")))
                        .count()
                };
                assert_eq!(mounts(), 2);
                rpod.ok(&["stop", "-t", "0", &id]);
                assert_eq!(mounts(), 0);
                assert!(!runroot
                    .join("userns")
                    .join(format!(".mounts-{id}"))
                    .exists());
                // cp out of the stopped container reads the mount as the container sees
                // it; cp into it is refused, saying so.
                let out = rpod
                    .command(&["cp", &format!("{id}:/data/made-inside"), "-"])
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                assert_eq!(tar_owner(&out.stdout, "made-inside"), (0, 0));
                let local = rpod.dir.path().join("copied");
                fs::write(&local, "copied in\n").unwrap();
                let err = rpod.fails(
                    &["cp", local.to_str().unwrap(), &format!("{id}:/data/copied")],
                    125,
                );
                assert!(err.contains("cp into an idmap mount"), "{err}");
                assert!(!dir.join("copied").exists());
                assert_eq!(mounts(), 0);
                // Started again, mapped again.
                rpod.ok(&["start", &id]);
                assert_eq!(
                    rpod.ok(&["exec", &id, "stat", "-c", "%u", "/data/made-inside"]),
                    "0\n"
                );
                rpod.ok(&["rm", "-f", "-t", "0", &id]);
                assert_eq!(mounts(), 0);
            }
        }
    };
}

user_namespace_tests!(runc, "runc");
user_namespace_tests!(crun, "crun");

/// The container's root may be a real user of the host (here `nobody`): it passes through
/// the directory its root file system is mounted in, and can put nothing there (a link
/// where rpod mounts the next time would have it mount over any host path).
#[test]
fn a_host_user_mapped_as_the_containers_root_cannot_write_where_rpod_mounts() {
    let rpod = passable_store("crun");
    let id = rpod.detached(&[
        "--uidmap",
        "0:65534:1",
        "--uidmap",
        "1:300000:65535",
        "demo",
        "sleep",
        "100",
    ]);
    assert_eq!(rpod.ok(&["exec", &id, "id", "-u"]), "0\n");
    let dir = rpod.runroot().join("userns").join(&id);
    let as_nobody = |args: &[&str]| {
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .args(args)
            .output()
            .unwrap()
            .status
            .success()
    };
    let link = dir.join("planted").display().to_string();
    assert!(!as_nobody(&["ln", "-s", "/etc", &link]));
    assert!(!dir.join("planted").exists());
    // Stopped (its root unmounted) and started again: the same.
    rpod.ok(&["stop", "-t", "0", &id]);
    assert!(!as_nobody(&[
        "ln",
        "-s",
        "/etc",
        &dir.join("root").display().to_string()
    ]));
    rpod.ok(&["start", &id]);
    assert_eq!(rpod.ok(&["exec", &id, "id", "-u"]), "0\n");
}

#[test]
fn a_store_the_containers_root_cannot_reach_says_which_directory() {
    let rpod = Rpod::with_image("crun");
    fs::set_permissions(rpod.dir.path(), fs::Permissions::from_mode(0o700)).unwrap();
    let err = rpod.fails(&["run", "--rm", "--uidmap", UIDMAP, "demo", "true"], 125);
    assert!(
        err.contains(&rpod.dir.path().display().to_string()),
        "{err}"
    );
    assert!(err.contains("host UID 231072"), "{err}");
    assert_eq!(rpod.ok(&["ps", "-aq"]), "");
}

#[test]
fn idmap_needs_a_user_namespace_and_goes_without_u() {
    let rpod = passable_store("crun");
    let dir = rpod.dir.path();
    let volume = format!("{}:/data:idmap", dir.display());
    let err = rpod.fails(&["create", "-v", &volume, "demo", "true"], 125);
    assert!(err.contains("needs a user namespace"), "{err}");
    let both = format!("{}:/data:idmap,U", dir.display());
    let err = rpod.fails(
        &["create", "--uidmap", UIDMAP, "-v", &both, "demo", "true"],
        125,
    );
    assert!(err.contains("idmap and U"), "{err}");
    let custom = format!("{}:/data:idmap=uids=0-1-10", dir.display());
    let err = rpod.fails(
        &["create", "--uidmap", UIDMAP, "-v", &custom, "demo", "true"],
        125,
    );
    assert!(err.contains("not supported"), "{err}");
    let mounted = format!("type=bind,src={},dst=/data,idmap", dir.display());
    rpod.ok(&[
        "create", "--uidmap", UIDMAP, "--mount", &mounted, "demo", "true",
    ]);
}

/// An image mount in a container with a user namespace shows the image's files as the
/// container's own (its root's), read-only, and a writable one takes its root's writes,
/// written on the host as the mapped IDs.
#[test]
fn an_image_mount_is_seen_mapped() {
    let rpod = passable_store("crun");
    let out = run_mapped(
        &rpod,
        &[
            "--mount",
            "type=image,source=demo,destination=/img",
            "demo",
            "sh",
            "-c",
            "stat -c '%u %g' /img/bin/sh; touch /img/x 2>/dev/null || echo read-only",
        ],
    );
    assert_eq!(
        out,
        "0 0
read-only
"
    );
    let out = run_mapped(
        &rpod,
        &[
            "--mount",
            "type=image,source=demo,destination=/img,rw",
            "demo",
            "sh",
            "-c",
            "touch /img/x && stat -c '%u' /img/x /img/etc",
        ],
    );
    assert_eq!(
        out,
        "0
0
"
    );
}

#[test]
fn what_cannot_be_mapped_is_refused() {
    let rpod = passable_store("crun");
    for (args, code, says) in [
        (vec!["--uidmap", "0:231072"], 125, "three numbers"),
        (vec!["--uidmap", "1:231072:10"], 125, "ID 0"),
        (
            vec!["--uidmap", "0:1:10", "--uidmap", "5:100:10"],
            125,
            "overlap",
        ),
        (
            vec!["--uidmap", UIDMAP, "--userns", "host"],
            125,
            "--userns host",
        ),
        (vec!["--uidmap", UIDMAP, "--pid", "host"], 125, "--pid host"),
        (
            vec!["--userns", "keep-id"],
            125,
            "keep-id is only supported in rootless mode",
        ),
        (
            vec!["--userns", "auto", "--uidmap", UIDMAP],
            125,
            "--userns auto",
        ),
        (vec!["--userns", "auto:uidmapping=0:1:1"], 125, "uidmapping"),
        (vec!["--userns", "container:nosuch"], 125, "nosuch"),
        // A user the mappings lack could not run: said at the start (and the `--rm`
        // container goes).
        (
            vec!["--uidmap", "0:231072:1000", "--user", "5000"],
            125,
            "user ID 5000 has no mapping",
        ),
        (
            vec!["--userns", "container:x", "--uidmap", UIDMAP],
            125,
            "container:",
        ),
        (
            vec!["--subuidname", "rpod-test-nobody"],
            125,
            "no ranges of \"rpod-test-nobody\" in /etc/subuid",
        ),
        (
            vec!["--subuidname", "rpod-test-nobody", "--userns", "host"],
            125,
            "--userns host",
        ),
    ] {
        let mut full = vec!["run", "--rm"];
        full.extend(args.iter().copied());
        full.extend(["demo", "true"]);
        let err = rpod.fails(&full, code);
        assert!(err.contains(says), "{args:?}: {err}");
    }
    assert_eq!(rpod.ok(&["ps", "-aq"]), "");
    for (args, says) in [
        (vec!["--userns", "keep-id"], "--userns keep-id"),
        (
            vec!["--userns", "auto", "--uidmap", UIDMAP],
            "--userns auto chooses the mappings itself",
        ),
        (
            vec!["--userns", "host", "--uidmap", UIDMAP],
            "--userns host shares the host's user namespace",
        ),
        (vec!["--infra=false", "--uidmap", UIDMAP], "infra container"),
    ] {
        let mut full = vec!["pod", "create"];
        full.extend(args.iter().copied());
        let err = rpod.fails(&full, 125);
        assert!(err.contains(says), "{args:?}: {err}");
    }
    assert_eq!(rpod.ok(&["pod", "ps", "-q"]), "");
}

#[test]
fn auto_gives_each_container_subordinate_ids_of_its_own() {
    let (rpod, subuid, subgid) = store_with_subordinate_files(false);
    // No subordinate IDs for the user yet: said where to give them.
    let err = rpod.fails(&["run", "--rm", "--userns", "auto", "demo", "true"], 125);
    assert!(
        err.contains("subordinate IDs of user \"containers\""),
        "{err}"
    );
    fs::write(&subuid, "other:1:5\ncontainers:300000:70000\n").unwrap();
    fs::write(&subgid, "containers:400000:70000\n").unwrap();
    let first = rpod.detached(&["--userns", "auto", "demo", "sleep", "100"]);
    let second = rpod.detached(&["--userns", "auto:size=2000", "demo", "sleep", "100"]);
    let map = |id: &str, file: &str| {
        rpod.ok(&["exec", id, "cat", file])
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(map(&first, "/proc/self/uid_map"), "0 300000 65536");
    assert_eq!(map(&first, "/proc/self/gid_map"), "0 400000 65536");
    assert_eq!(map(&second, "/proc/self/uid_map"), "0 365536 2000");
    assert_eq!(rpod.ok(&["exec", &second, "id", "-u"]), "0\n");
    assert_eq!(
        rpod.inspect(
            &second,
            "{{.HostConfig.UsernsMode}} {{.HostConfig.IDMappings.GidMap}}"
        ),
        "auto [0:465536:2000]"
    );
    // The rest does not hold another 65536.
    let err = rpod.fails(&["run", "--rm", "--userns", "auto", "demo", "true"], 125);
    assert!(err.contains("are free"), "{err}");
    // The first's IDs are free again once it is gone.
    rpod.ok(&["rm", "-f", "-t", "0", &first]);
    rpod.ok(&["run", "--rm", "--userns", "auto", "demo", "true"]);
}

/// `--subuidname`/`--subgidname`: every range of the name in the subordinate ID files (those
/// rpod.conf names here), one after another from the container's ID 0, either name alone
/// for both; `--uidmap`'s ranges after them, as podman's.
#[test]
fn subordinate_names_map_their_ranges() {
    let (rpod, subuid, subgid) = store_with_subordinate_files(false);
    fs::write(
        &subuid,
        "alice:300000:1000\nbob:700000:2000\nalice:500000:500\n",
    )
    .unwrap();
    fs::write(&subgid, "alice:400000:1500\nbob:800000:2000\n").unwrap();
    let maps = |args: &[&str]| {
        let mut full = vec!["run", "--rm"];
        full.extend_from_slice(args);
        full.extend(["demo", "cat", "/proc/self/uid_map", "/proc/self/gid_map"]);
        rpod.ok(&full)
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        maps(&["--subuidname", "alice"]),
        ["0 300000 1000", "1000 500000 500", "0 400000 1500"]
    );
    assert_eq!(
        maps(&["--subgidname", "bob"]),
        ["0 700000 2000", "0 800000 2000"]
    );
    assert_eq!(
        maps(&["--subuidname", "bob", "--subgidname", "alice"]),
        ["0 700000 2000", "0 400000 1500"]
    );
    assert_eq!(
        maps(&["--subuidname", "bob", "--uidmap", "2000:900000:10"]),
        [
            "0 700000 2000",
            "2000 900000 10",
            "0 800000 2000",
            "2000 900000 10"
        ]
    );
    let err = rpod.fails(
        &[
            "run",
            "--rm",
            "--subuidname",
            "bob",
            "--uidmap",
            "0:1:1",
            "demo",
            "true",
        ],
        125,
    );
    assert!(err.contains("overlap"), "{err}");
    assert_eq!(rpod.ok(&["ps", "-aq"]), "");
    // A pod's user namespace, its containers'.
    rpod.ok(&["pod", "create", "--name", "named", "--subuidname", "alice"]);
    assert_eq!(
        maps(&["--pod", "named"]),
        ["0 300000 1000", "1000 500000 500", "0 400000 1500"]
    );
    rpod.ok(&["pod", "rm", "-f", "named"]);
}

/// A build's RUN steps in a user namespace of their own (`--userns-uid-map`,
/// `--userns-uid-map-user`, as podman's): the steps see the mappings and run as the
/// namespace's root, and what they make is in the image with the container's IDs (not the
/// host's); the host's namespace stays the default; modes rpod has not are refused.
#[test]
fn build_steps_run_in_a_user_namespace_when_asked() {
    let (rpod, subuid, _) = store_with_subordinate_files(true);
    fs::write(&subuid, "builder:400000:65536\n").unwrap();
    let dir = rpod.dir.path().join("ctx");
    fs::create_dir_all(&dir).unwrap();
    fs::write(
        dir.join("Containerfile"),
        "FROM demo\nRUN cat /proc/self/uid_map > /map && id -u > /who && mkdir /owned && chown 1000:1000 /owned\n",
    )
    .unwrap();
    let ctx = dir.display().to_string();
    let shown = |image: &str| {
        rpod.ok(&[
            "run",
            "--rm",
            image,
            "sh",
            "-c",
            "cat /map /who; stat -c %u:%g /owned /etc",
        ])
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
    };
    rpod.ok(&[
        "build",
        "-q",
        "--userns-uid-map",
        UIDMAP,
        "-t",
        "mapped",
        &ctx,
    ]);
    assert_eq!(shown("mapped"), "0 231072 65536 0 1000:1000 0:0");
    rpod.ok(&[
        "build",
        "-q",
        "--no-cache",
        "--userns",
        "container",
        "--userns-uid-map-user",
        "builder",
        "-t",
        "named",
        &ctx,
    ]);
    assert_eq!(shown("named"), "0 400000 65536 0 1000:1000 0:0");
    rpod.ok(&["build", "-q", "--no-cache", "-t", "plain", &ctx]);
    assert!(
        shown("plain").starts_with("0 0 4294967295 0"),
        "{}",
        shown("plain")
    );
    for (flags, says) in [
        (
            vec!["--userns", "host", "--userns-uid-map", UIDMAP],
            "--userns host",
        ),
        (vec!["--userns", "container"], "give its ranges"),
        (
            vec!["--userns", "/proc/1/ns/user"],
            "--userns /proc/1/ns/user",
        ),
        (
            vec!["--userns-uid-map-user", "nobody-here"],
            "--userns-uid-map-user nobody-here: no ranges of",
        ),
        (vec!["--userns-uid-map", "0:1"], "--userns-uid-map"),
    ] {
        let mut args = vec!["build", "--no-cache"];
        args.extend(flags.iter().copied());
        args.push(&ctx);
        let err = rpod.fails(&args, 125);
        assert!(err.contains(says), "{flags:?}: {err}");
    }
    assert_eq!(rpod.ok(&["ps", "-aq"]), "");
}

/// The device of the file system mounted at `/sys` in a mount table.
fn sys_device(mountinfo: &str) -> String {
    mountinfo
        .lines()
        .map(|l| l.split(' ').collect::<Vec<_>>())
        .find(|f| f.get(4) == Some(&"/sys"))
        .map(|f| f[2].to_string())
        .unwrap()
}

/// A bridged container with a user namespace gets a network namespace its user namespace
/// owns: the runtime makes it and rpod connects it after the create. So runc's exec can
/// join it (a namespace of the host's user namespace, made by rpod as for other bridged
/// containers, it could not), and the container mounts a sysfs of its own.
#[test]
fn bridged_containers_get_a_network_namespace_of_their_user_namespace() {
    let host_sys = sys_device(&fs::read_to_string("/proc/self/mountinfo").unwrap());
    for (runtime, n) in [("runc", 130u8), ("crun", 131)] {
        let rpod = Rpod::with_config(
            runtime,
            &format!(
                "[network]\ndefault_network = \"def{n}\"\ndefault_subnet = \"10.93.{n}.0/24\"\n"
            ),
        );
        fs::set_permissions(rpod.dir.path(), fs::Permissions::from_mode(0o711)).unwrap();
        rpod.ok(&[
            "import",
            &common::busybox_tarball().display().to_string(),
            "demo",
        ]);
        let bridge = format!("rpodt{n}");
        rpod.lab_network(&format!("def{n}"), n);
        let id = rpod.detached(&["--uidmap", UIDMAP, "demo", "sleep", "100"]);
        let address = rpod.ok(&["exec", &id, "ip", "-4", "-o", "addr", "show", "eth0"]);
        assert!(
            address.contains(&format!("10.93.{n}.2/24")),
            "{runtime}: {address}"
        );
        let mounts = rpod.ok(&["exec", &id, "cat", "/proc/self/mountinfo"]);
        assert_ne!(sys_device(&mounts), host_sys, "{runtime}: the host's /sys");
        // Restarted, it gets a new one, connected again.
        rpod.ok(&["restart", "-t", "0", &id]);
        let address = rpod.ok(&["exec", &id, "ip", "-4", "-o", "addr", "show", "eth0"]);
        assert!(
            address.contains(&format!("10.93.{n}.")),
            "{runtime}: {address}"
        );
        rpod.ok(&["rm", "-f", "-t", "0", &id]);
        let left = common::network_leftovers(&rpod, &bridge, &format!("10.93.{n}."));
        assert!(left.is_empty(), "{runtime}: {left:?}");
    }
}

/// Kubernetes' `hostUsers: false` and `kube play --userns auto`: each pod a user namespace
/// of its own, as `--userns auto` makes one.
#[test]
fn kube_play_gives_pods_user_namespaces() {
    let (rpod, subuid, _) = store_with_subordinate_files(true);
    let yaml = rpod.dir.path().join("pod.yaml");
    fs::write(&subuid, "containers:500000:200000\n").unwrap();
    let pod = |host_users: &str| {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: kube\nspec:\n  terminationGracePeriodSeconds: 0\n{host_users}  containers:\n  - name: c\n    image: localhost/demo\n    imagePullPolicy: Never\n    command: [sleep, \"100\"]\n"
        )
    };
    let uid_map = || {
        rpod.ok(&["exec", "kube-c", "cat", "/proc/self/uid_map"])
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    fs::write(&yaml, pod("  hostUsers: false\n")).unwrap();
    let file = yaml.display().to_string();
    rpod.ok(&["kube", "play", &file]);
    assert_eq!(uid_map(), "0 500000 65536");
    rpod.ok(&["kube", "down", &file]);
    fs::write(&yaml, pod("")).unwrap();
    rpod.ok(&["kube", "play", "--userns", "auto:size=2000", &file]);
    assert_eq!(uid_map(), "0 500000 2000");
    rpod.ok(&["kube", "down", &file]);
    rpod.ok(&["kube", "play", &file]);
    assert_eq!(uid_map(), "0 0 4294967295");
    let err = rpod.fails(
        &["kube", "play", "--replace", "--userns", "keep-id", &file],
        125,
    );
    assert!(err.contains("keep-id"), "{err}");
    rpod.ok(&["kube", "down", &file]);
}
