//! Checkpoint and restore with CRIU, on runc (Debian's crun is built without CRIU: there
//! a checkpoint is refused at once, and the container keeps running).

mod common;

use std::time::Duration;

use common::*;

/// A counter that writes its PID first, then a number every 100 ms, to its log and to a
/// file, never restarting from 1.
const COUNTER: &str =
    "echo pid=$$; i=0; while :; do i=$((i+1)); echo $i; echo $i > /tmp/count; sleep 0.1; done";

/// The counter's last number (read again while the shell is rewriting its file).
fn count(rpod: &Rpod, name: &str) -> u64 {
    for _ in 0..50 {
        let text = rpod.ok(&["exec", name, "cat", "/tmp/count"]);
        if let Ok(n) = text.trim().parse() {
            return n;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("{name}'s counter file stays unreadable");
}

/// The numbers a counter printed, in order.
fn numbers(log: &str) -> Vec<u64> {
    log.lines().filter_map(|l| l.trim().parse().ok()).collect()
}

fn assert_counted_on(log: &str) {
    let numbers = numbers(log);
    assert!(numbers.len() > 3, "{log}");
    for pair in numbers.windows(2) {
        assert_eq!(
            pair[1],
            pair[0] + 1,
            "the counter restarted or skipped: {log}"
        );
    }
    assert_eq!(
        log.matches("pid=").count(),
        1,
        "the counter started twice: {log}"
    );
}

#[test]
fn a_checkpointed_counter_goes_on_after_restore() {
    let rpod = Rpod::with_image("runc");
    assert_eq!(
        rpod.ok(&["info", "--format", "{{.Host.SupportsCheckpoint}}"])
            .trim(),
        "true"
    );
    // A --rm container: the checkpoint is not an exit that removes it.
    let id = rpod.detached(&["--rm", "--name", "counter", "demo", "sh", "-c", COUNTER]);
    wait_until("the counter counts", || count(&rpod, "counter") >= 3);
    let pid_inside = rpod.ok(&["exec", "counter", "sh", "-c", "pgrep -f 'i=0' | head -1"]);
    assert_eq!(
        rpod.ok(&["container", "checkpoint", "counter"]),
        format!("{id}\n")
    );
    assert_eq!(
        rpod.inspect("counter", "{{.State.Status}} {{.State.Checkpointed}}"),
        "exited true"
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(rpod.inspect("counter", "{{.State.Status}}"), "exited");
    let before = numbers(&rpod.ok(&["logs", "counter"]))
        .last()
        .copied()
        .unwrap();
    assert_eq!(
        rpod.ok(&["container", "restore", "counter"]),
        format!("{id}\n")
    );
    assert_eq!(
        rpod.inspect(
            "counter",
            "{{.State.Status}} {{.State.Restored}} {{.State.Checkpointed}}"
        ),
        "running true false"
    );
    wait_until("the counter goes on", || {
        count(&rpod, "counter") > before + 2
    });
    // The same process, with its memory: same PID inside, the numbers go on.
    assert_eq!(
        rpod.ok(&["exec", "counter", "sh", "-c", "pgrep -f 'i=0' | head -1"]),
        pid_inside
    );
    assert_counted_on(&rpod.ok(&["logs", "counter"]));
    // Restoring twice, or something not checkpointed, is refused.
    let err = rpod.fails(&["container", "restore", "counter"], 125);
    assert!(err.contains("not checkpointed"), "{err}");
    rpod.fails(&["container", "checkpoint", "nosuch"], 125);
    // --leave-running: dumped, and still counting.
    rpod.ok(&["container", "checkpoint", "--leave-running", "counter"]);
    let now = count(&rpod, "counter");
    wait_until("it keeps counting", || count(&rpod, "counter") > now);
    // After a restore the monitor is conmon as after a start: stop records the exit, and
    // the --rm container goes.
    rpod.ok(&["stop", "-t", "0", "counter"]);
    wait_until("the --rm container is removed", || {
        rpod.run(&["container", "exists", "counter"]).status.code() == Some(1)
    });
}

#[test]
fn an_exported_checkpoint_restores_elsewhere_and_beside_the_original() {
    let rpod = Rpod::with_image("runc");
    rpod.detached(&[
        "--name",
        "orig",
        "demo",
        "sh",
        "-c",
        &format!("echo changed > /etc/marker; rm /etc/group; {COUNTER}"),
    ]);
    wait_until("the counter counts", || count(&rpod, "orig") >= 3);
    let archive = rpod.dir.path().join("orig.tar.gz");
    let archive_text = archive.display().to_string();
    rpod.ok(&[
        "container",
        "checkpoint",
        "--leave-running",
        "--export",
        &archive_text,
        "orig",
    ]);
    assert!(archive.is_file());
    // A second copy beside the original, under a new name.
    let copy = rpod.ok(&[
        "container",
        "restore",
        "--import",
        &archive_text,
        "--name",
        "copy",
    ]);
    assert_ne!(copy.trim(), rpod.inspect("orig", "{{.Id}}"));
    let at_checkpoint = count(&rpod, "copy");
    wait_until("the copy counts on", || {
        count(&rpod, "copy") > at_checkpoint
    });
    assert_eq!(
        rpod.ok(&["exec", "copy", "cat", "/etc/marker"]),
        "changed\n"
    );
    // The copy's log holds its whole run: the original's lines up to the dump, then its own.
    let log = rpod.ok(&["logs", "copy"]);
    let numbers = numbers(&log);
    assert!(log.starts_with("pid=") && numbers.len() > 3, "{log}");
    assert!(numbers.windows(2).all(|p| p[1] > p[0]), "{log}");
    assert!(
        rpod.run(&["exec", "copy", "cat", "/etc/group"])
            .status
            .code()
            != Some(0)
    );
    assert_eq!(rpod.inspect("orig", "{{.State.Status}}"), "running");
    // A fresh store with the same image: restored there too.
    let other = Rpod::with_image("runc");
    other.ok(&["container", "restore", "--import", &archive_text]);
    assert_eq!(other.ok(&["ps", "--format", "{{.Names}}"]), "orig\n");
    let there = count(&other, "orig");
    wait_until("it counts on the other store", || {
        count(&other, "orig") > there
    });
    // A damaged archive, or one without the image, leaves nothing behind.
    // Other ports need a bridged network: refused, and nothing made.
    let err = rpod.fails(
        &[
            "container",
            "restore",
            "-i",
            &archive_text,
            "--name",
            "p",
            "-p",
            "8080:80",
        ],
        125,
    );
    assert!(err.contains("--publish needs a bridged network"), "{err}");
    let damaged = rpod.dir.path().join("damaged.tar.gz");
    std::fs::write(&damaged, b"not an archive").unwrap();
    let err = rpod.fails(
        &[
            "container",
            "restore",
            "--import",
            &damaged.display().to_string(),
            "--name",
            "x",
        ],
        125,
    );
    assert!(err.contains("damaged.tar.gz"), "{err}");
    let empty = Rpod::new("runc");
    let err = empty.fails(&["container", "restore", "--import", &archive_text], 125);
    assert!(err.contains("image not known"), "{err}");
    assert_eq!(empty.ok(&["ps", "-aq"]), "");
    assert_eq!(
        rpod.ok(&["ps", "-a", "--format", "{{.Names}}"])
            .lines()
            .count(),
        2
    );
}

/// A checkpoint left running and exported is one moment's: the archive holds the files as
/// the dumped processes saw them, though the container wrote on after the dump. CRIU checks
/// the size of a file a process holds open (not for appending), so an archive whose files
/// were taken later cannot be restored.
#[test]
fn an_exported_checkpoint_left_running_holds_the_files_as_at_the_dump() {
    let rpod = Rpod::with_image("runc");
    rpod.detached(&[
        "--name",
        "writer",
        "demo",
        "sh",
        "-c",
        "exec 3>/tmp/grows; while :; do echo x >&3; sleep 0.005; done",
    ]);
    let size = |rpod: &Rpod, name: &str| -> usize {
        rpod.ok(&["exec", name, "sh", "-c", "wc -c < /tmp/grows"])
            .trim()
            .parse()
            .unwrap_or(0)
    };
    wait_until("the file grows", || size(&rpod, "writer") > 0);
    let archive = rpod.dir.path().join("writer.tar.gz").display().to_string();
    rpod.ok(&[
        "container",
        "checkpoint",
        "--leave-running",
        "--export",
        &archive,
        "writer",
    ]);
    assert_eq!(rpod.inspect("writer", "{{.State.Status}}"), "running");
    let at_dump = size(&rpod, "writer");
    wait_until("the original writes on", || size(&rpod, "writer") > at_dump);
    rpod.ok(&[
        "container",
        "restore",
        "--import",
        &archive,
        "--name",
        "copy",
    ]);
    let restored = size(&rpod, "copy");
    wait_until("the copy writes on", || size(&rpod, "copy") > restored);
}

#[test]
fn established_tcp_connections_survive_with_tcp_established() {
    let rpod = Rpod::with_image("runc");
    // A server and a client inside one container, talking over loopback.
    rpod.detached(&[
        "--name", "talk", "demo", "sh", "-c",
        // The server's input never ends: busybox nc hangs up when its input does.
        "sleep 100000 | nc -l -p 5000 > /tmp/got & sleep 0.5; (while :; do echo tick; sleep 0.1; done) | nc 127.0.0.1 5000",
    ]);
    let received = |rpod: &Rpod| -> usize {
        rpod.ok(&["exec", "talk", "sh", "-c", "wc -l < /tmp/got"])
            .trim()
            .parse()
            .unwrap_or(0)
    };
    wait_until("data flows", || received(&rpod) >= 3);
    let err = rpod.fails(&["container", "checkpoint", "talk"], 125);
    assert!(err.contains("established") || err.contains("CRIU"), "{err}");
    assert_eq!(rpod.inspect("talk", "{{.State.Status}}"), "running");
    let dump = rpod.run(&["container", "checkpoint", "--tcp-established", "talk"]);
    let stderr = String::from_utf8_lossy(&dump.stderr);
    if !dump.status.success() && stderr.contains("Can't get 1:34 opt") {
        // This kernel cannot report SO_PASSSEC, which CRIU reads from every socket: no
        // socket can be dumped here. The failure is clean: the container runs on, and
        // says why.
        eprintln!("this kernel cannot checkpoint sockets: {stderr}");
        assert_eq!(
            rpod.inspect("talk", "{{.State.Status}} {{.State.Checkpointed}}"),
            "running false"
        );
        let now = received(&rpod);
        wait_until("data still flows", || received(&rpod) > now);
        return;
    }
    assert!(dump.status.success(), "{stderr}");
    rpod.ok(&["container", "restore", "--tcp-established", "talk"]);
    let after = received(&rpod);
    wait_until("data flows on the restored connection", || {
        received(&rpod) > after + 2
    });
}

#[test]
fn crun_without_criu_refuses_and_keeps_the_container_running() {
    let rpod = Rpod::with_image("crun");
    let version = std::process::Command::new("crun")
        .arg("--version")
        .output()
        .unwrap();
    if String::from_utf8_lossy(&version.stdout).contains("+CRIU") {
        // A crun built with CRIU checkpoints like runc; the tests above cover that path.
        return;
    }
    assert_eq!(
        rpod.ok(&["info", "--format", "{{.Host.SupportsCheckpoint}}"])
            .trim(),
        "false"
    );
    rpod.detached(&["--name", "c", "demo", "sleep", "300"]);
    let err = rpod.fails(&["container", "checkpoint", "c"], 125);
    assert!(err.contains("built without CRIU"), "{err}");
    assert_eq!(
        rpod.inspect("c", "{{.State.Status}} {{.State.Checkpointed}}"),
        "running false"
    );
    // A container that cannot be dumped this way is left running, with the reason.
    let rpod = Rpod::with_image("runc");
    rpod.detached(&["--name", "h", "--network", "host", "demo", "sleep", "300"]);
    let err = rpod.fails(&["container", "checkpoint", "h"], 125);
    assert!(err.contains("network"), "{err}");
    assert_eq!(rpod.inspect("h", "{{.State.Status}}"), "running");
    // What rpod's checkpoints do not do is refused before anything is done.
    for args in [
        &["container", "checkpoint", "-P", "h"][..],
        &["container", "checkpoint", "--with-previous", "h"],
        &[
            "container",
            "restore",
            "--import-previous",
            "/x.tar",
            "-i",
            "/y.tar",
        ],
        &["container", "restore", "--pod", "p", "-i", "/y.tar"],
    ] {
        let err = rpod.fails(args, 125);
        assert!(
            err.contains("is not supported yet by rpod"),
            "{args:?}: {err}"
        );
    }
    assert_eq!(rpod.inspect("h", "{{.State.Status}}"), "running");
}

/// A restore in place gives the container its address and MAC address again. An import
/// beside the original is refused while the checkpoint's named volume is here (its content
/// would mix) and while its host port is the original's; told to leave the addresses and
/// given another port, it runs beside it. Once the volume is gone, an import makes it again
/// with the archive's content, and takes the addresses again, free by then.
#[test]
fn an_import_takes_addresses_ports_and_volumes_as_asked() {
    let rpod = Rpod::with_image("runc");
    rpod.lab_network("cplab", 110);
    let (port, other) = (free_port(), free_port());
    rpod.detached(&[
        "--name",
        "orig",
        "--network",
        "cplab",
        "-p",
        &format!("127.0.0.1:{port}:80"),
        "-v",
        "cpdata:/data",
        "demo",
        "sh",
        "-c",
        "echo kept > /data/f; while :; do sleep 0.1; done",
    ]);
    wait_until("the volume is written", || {
        rpod.run(&["exec", "orig", "cat", "/data/f"]).stdout == b"kept\n"
    });
    let addresses = |name: &str| {
        rpod.inspect(
            name,
            "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{.MacAddress}}{{end}}",
        )
    };
    let before = addresses("orig");
    rpod.ok(&["container", "checkpoint", "orig"]);
    rpod.ok(&["container", "restore", "--latest"]);
    assert_eq!(addresses("orig"), before);

    let archive = rpod.dir.path().join("orig.tar").display().to_string();
    rpod.ok(&["container", "checkpoint", "-l", "-R", "-e", &archive]);
    // zstd unless told otherwise, as podman's.
    let head = std::fs::read(&archive).unwrap();
    assert!(
        head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]),
        "{:?}",
        &head[..8]
    );
    let import = |extra: &[&str]| {
        let mut args = vec!["container", "restore", "-i", &archive, "--name", "copy"];
        args.extend(extra);
        rpod.run(&args)
    };
    let err = stderr_of(&import(&[]));
    assert!(
        err.contains("volume with name cpdata already exists. Use --ignore-volumes"),
        "{err}"
    );
    let err = stderr_of(&import(&["--ignore-volumes"]));
    assert!(err.contains("already published by container orig"), "{err}");
    assert_eq!(rpod.ok(&["ps", "-aq"]).lines().count(), 1);
    let other_port = format!("127.0.0.1:{other}:80");
    let copy = import(&[
        "--ignore-volumes",
        "--ignore-static-ip",
        "--ignore-static-mac",
        "-p",
        &other_port,
    ]);
    assert!(copy.status.success(), "{}", stderr_of(&copy));
    let (orig_ip, orig_mac) = before.split_once(' ').unwrap();
    let copy_addresses = addresses("copy");
    let (copy_ip, copy_mac) = copy_addresses.split_once(' ').unwrap();
    assert!(
        copy_ip.starts_with("10.93.110.") && copy_ip != orig_ip,
        "{copy_addresses}"
    );
    assert!(
        !copy_mac.is_empty() && copy_mac != orig_mac,
        "{copy_addresses}"
    );
    assert_eq!(
        rpod.ok(&["port", "copy"]),
        format!("80/tcp -> 127.0.0.1:{other}\n")
    );
    // The volume is shared as it is.
    assert_eq!(rpod.ok(&["exec", "copy", "cat", "/data/f"]), "kept\n");

    rpod.ok(&["rm", "-f", "-t", "0", "orig", "copy"]);
    rpod.ok(&["volume", "rm", "cpdata"]);
    rpod.ok(&["container", "restore", "-i", &archive, "--name", "again"]);
    assert_eq!(rpod.ok(&["volume", "ls", "-q"]), "cpdata\n");
    assert_eq!(rpod.ok(&["exec", "again", "cat", "/data/f"]), "kept\n");
    assert_eq!(addresses("again"), before);
    assert_eq!(
        rpod.ok(&["port", "again"]),
        format!("80/tcp -> 127.0.0.1:{port}\n")
    );
}

/// `--create-image` makes a checkpoint image (one layer, podman's annotations) that
/// `restore IMAGE` restores from, here or on another store it travelled to as an OCI
/// archive; a container of that name is restored first, an image that is not a
/// checkpoint's is not one.
#[test]
fn a_checkpoint_image_restores_here_and_elsewhere() {
    let rpod = Rpod::with_image("runc");
    rpod.detached(&[
        "--name",
        "imaged",
        "-v",
        "imgvol:/data",
        "demo",
        "sh",
        "-c",
        &format!("echo in-volume > /data/f; {COUNTER}"),
    ]);
    wait_until("the counter counts", || count(&rpod, "imaged") >= 3);
    let err = rpod.fails(
        &["container", "checkpoint", "--ignore-volumes", "imaged"],
        125,
    );
    assert!(
        err.contains("--ignore-volumes can only be used with --export or --create-image"),
        "{err}"
    );
    rpod.ok(&[
        "container",
        "checkpoint",
        "--create-image",
        "imaged-cp",
        "imaged",
    ]);
    assert_eq!(
        rpod.inspect("localhost/imaged-cp", "{{len .RootFS.Layers}} {{index .Annotations \"io.podman.annotations.checkpoint.name\"}}"),
        "1 imaged"
    );
    assert_eq!(
        rpod.inspect(
            "imaged-cp",
            "{{index .Annotations \"io.podman.annotations.checkpoint.runtime.name\"}}"
        ),
        "runc"
    );
    // The container is there (checkpointed): `restore NAME` is the container's.
    rpod.ok(&["container", "restore", "imaged"]);
    assert_eq!(rpod.inspect("imaged", "{{.State.Restored}}"), "true");
    let archive = rpod.dir.path().join("cp.tar").display().to_string();
    rpod.ok(&[
        "save",
        "--format",
        "oci-archive",
        "-o",
        &archive,
        "imaged-cp",
    ]);
    rpod.ok(&["rm", "-f", "-t", "0", "imaged"]);
    rpod.ok(&["volume", "rm", "imgvol"]);
    // Gone: the image restores it, its volume made again.
    let restored = rpod.ok(&["container", "restore", "imaged-cp"]);
    assert_eq!(restored.trim(), rpod.inspect("imaged", "{{.Id}}"));
    let at_restore = count(&rpod, "imaged");
    wait_until("it counts on", || count(&rpod, "imaged") > at_restore);
    assert_eq!(
        rpod.ok(&["exec", "imaged", "cat", "/data/f"]),
        "in-volume\n"
    );
    // Another store with the base image: the image travels, and restores there.
    let other = Rpod::with_image("runc");
    other.ok(&["load", "-i", &archive]);
    other.ok(&["container", "restore", "--name", "moved", "imaged-cp"]);
    let there = count(&other, "moved");
    wait_until("it counts on there", || count(&other, "moved") > there);
    let err = other.fails(&["container", "restore", "demo"], 125);
    assert!(
        err.contains("no container with name or ID \"demo\""),
        "{err}"
    );
}

/// A restored container gets its mounts as a start gives them: a volume's `subpath` (not
/// the whole volume), an image mount; nothing of them stays mounted after it.
#[test]
fn a_restore_mounts_subpaths_and_images_as_a_start_does() {
    let rpod = Rpod::with_image("runc");
    rpod.ok(&["volume", "create", "sv"]);
    rpod.ok(&[
        "run",
        "--rm",
        "-v",
        "sv:/d",
        "demo",
        "sh",
        "-c",
        "mkdir /d/a && echo inner > /d/a/f && echo outer > /d/top",
    ]);
    rpod.detached(&[
        "--name",
        "mounted",
        "--mount",
        "type=volume,src=sv,dst=/x,subpath=a",
        "--mount",
        "type=image,source=demo,destination=/img",
        "demo",
        "sleep",
        "1000",
    ]);
    rpod.ok(&["container", "checkpoint", "mounted"]);
    rpod.ok(&["container", "restore", "mounted"]);
    assert_eq!(
        rpod.ok(&[
            "exec",
            "mounted",
            "sh",
            "-c",
            "ls /x; test -x /img/bin/sh && echo image"
        ]),
        "f\nimage\n"
    );
    rpod.ok(&["rm", "-f", "-t", "0", "mounted"]);
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap();
    let runroot = rpod.runroot().display().to_string();
    assert!(!mounts.contains(&runroot), "{mounts}");
}
