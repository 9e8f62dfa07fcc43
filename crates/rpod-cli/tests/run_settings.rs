//! Settings of `run`/`create` that shape the container's process and its view of the host:
//! the environment's defaults (`--unsetenv`, `--env-merge`, `--http-proxy`), `--umask`,
//! `--domainname`, the cgroup namespace and parent, the tmpfs mounts of a read-only
//! container, `--rmi`, `--platform` and systemd mode.

mod common;

use std::path::Path;

use common::*;

/// The container's environment as sorted lines.
fn environment(rpod: &Rpod, flags: &[&str]) -> Vec<String> {
    let mut args = vec!["run", "--rm"];
    args.extend_from_slice(flags);
    args.extend_from_slice(&["envdemo", "/bin/env"]);
    let mut lines: Vec<String> = rpod.ok(&args).lines().map(String::from).collect();
    lines.sort();
    lines
}

fn has(lines: &[String], entry: &str) -> bool {
    lines.iter().any(|l| l == entry)
}

fn named(lines: &[String], name: &str) -> bool {
    lines.iter().any(|l| l.starts_with(&format!("{name}=")))
}

#[test]
fn environment_defaults_are_merged_unset_and_proxied_as_podman_does() {
    let rpod = Rpod::new("runc");
    let tarball = busybox_tarball().display().to_string();
    rpod.ok(&[
        "import",
        "--change",
        "ENV GREETING=hello",
        "--change",
        "ENV LEVEL=3",
        &tarball,
        "envdemo",
    ]);
    let plain = environment(&rpod, &[]);
    // TERM=xterm with or without a terminal: podman's containers.conf default.
    for entry in [
        "GREETING=hello",
        "LEVEL=3",
        "container=podman",
        "TERM=xterm",
    ] {
        assert!(has(&plain, entry), "{entry} in {plain:?}");
    }
    assert!(named(&plain, "PATH") && named(&plain, "HOSTNAME") && named(&plain, "HOME"));

    // inspect shows the environment the process gets, defaults included (podman's shows
    // its spec's): before a start without HOME, which the image's passwd gives at start.
    rpod.ok(&[
        "create", "--name", "envshown", "-e", "MINE=1", "envdemo", "true",
    ]);
    let shown = |name: &str| {
        let out = rpod.ok(&["inspect", "--format", "{{json .Config.Env}}", name]);
        serde_json::from_str::<Vec<String>>(out.trim()).unwrap()
    };
    let created = shown("envshown");
    for entry in ["MINE=1", "GREETING=hello", "TERM=xterm", "container=podman"] {
        assert!(has(&created, entry), "{entry} in {created:?}");
    }
    assert!(
        named(&created, "PATH") && !named(&created, "HOME"),
        "{created:?}"
    );
    rpod.ok(&["start", "envshown"]);
    rpod.ok(&["wait", "envshown"]);
    let started = shown("envshown");
    assert!(
        has(&started, "HOME=/root") && has(&started, "MINE=1"),
        "{started:?}"
    );
    rpod.ok(&["rm", "envshown"]);

    // --env-merge builds on the defaults (the image's and rpod's PATH).
    let merged = environment(
        &rpod,
        &[
            "--env-merge",
            "GREETING=${GREETING} world",
            "--env-merge",
            "PATH=/opt/bin:$PATH",
            "--env-merge",
            "FALLBACK=${NOTSET:-none}",
        ],
    );
    assert!(has(&merged, "GREETING=hello world"), "{merged:?}");
    assert!(has(&merged, "FALLBACK=none"), "{merged:?}");
    assert!(
        merged
            .iter()
            .any(|l| l.starts_with("PATH=/opt/bin:/usr/local/sbin:")),
        "{merged:?}"
    );

    // --unsetenv takes a default away (the image's or rpod's), never the user's own.
    let unset = environment(
        &rpod,
        &[
            "--unsetenv",
            "GREETING",
            "--unsetenv",
            "container",
            "--unsetenv",
            "LEVEL",
            "-e",
            "LEVEL=user",
        ],
    );
    assert!(
        !named(&unset, "GREETING") && !named(&unset, "container"),
        "{unset:?}"
    );
    let no_term = environment(&rpod, &["--unsetenv", "TERM"]);
    assert!(!named(&no_term, "TERM"), "{no_term:?}");
    assert!(
        has(&unset, "LEVEL=user") && named(&unset, "PATH"),
        "{unset:?}"
    );
    // (Without the host's proxy variables, which a CI machine may have.)
    let none = environment(
        &rpod,
        &["--unsetenv-all", "--http-proxy=false", "-e", "ONLY=1"],
    );
    let names: Vec<&str> = none
        .iter()
        .map(|l| l.split('=').next().unwrap_or_default())
        .collect();
    assert_eq!(names, ["HOME", "HOSTNAME", "ONLY"], "{none:?}");

    // The host's proxy variables pass on unless --http-proxy=false; -e wins over them.
    let proxied = |flags: &[&str]| {
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["envdemo", "/bin/env"]);
        let out = rpod
            .command(&args)
            .env("https_proxy", "http://proxy.example:3128")
            .env("NO_PROXY", "localhost")
            .env("UNRELATED_SECRET", "x")
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let env = proxied(&[]);
    assert!(
        env.contains("https_proxy=http://proxy.example:3128\n"),
        "{env}"
    );
    assert!(env.contains("NO_PROXY=localhost\n") && !env.contains("UNRELATED_SECRET"));
    let env = proxied(&["--http-proxy=false"]);
    assert!(!env.contains("proxy"), "{env}");
    let env = proxied(&["-e", "https_proxy=mine"]);
    assert!(
        env.contains("https_proxy=mine\n") && !env.contains("3128"),
        "{env}"
    );

    // Bad names change nothing.
    for flags in [
        ["--unsetenv", "A=B"],
        ["--env-merge", "NOVALUE"],
        ["--env-merge", "=x"],
    ] {
        let mut args = vec!["create", "--name", "bad"];
        args.extend_from_slice(&flags);
        args.extend_from_slice(&["envdemo", "true"]);
        let err = rpod.fails(&args, 125);
        assert!(err.contains("invalid --"), "{err}");
    }
    assert_eq!(rpod.ok(&["ps", "-aq"]), "");
}

fn check_process_and_namespace_settings(runtime: &str) {
    let rpod = Rpod::with_image(runtime);
    // --umask, shown by inspect.
    assert_eq!(
        rpod.ok(&["run", "--rm", "demo", "sh", "-c", "umask"]),
        "0022\n"
    );
    rpod.ok(&[
        "create", "--name", "masked", "--umask", "027", "demo", "sh", "-c", "umask",
    ]);
    assert_eq!(rpod.ok(&["start", "-a", "masked"]), "0027\n");
    assert_eq!(rpod.inspect("masked", "{{.Config.Umask}}"), "0027");
    // An exec's process has the container's umask too, not rpod's own 077 (runc does not
    // apply the process spec's to an exec: it inherited the monitor's).
    let plain = rpod.detached(&["demo", "sleep", "100"]);
    let masked = rpod.detached(&["--umask", "0027", "demo", "sleep", "100"]);
    assert_eq!(rpod.ok(&["exec", &plain, "sh", "-c", "umask"]), "0022\n");
    assert_eq!(rpod.ok(&["exec", &masked, "sh", "-c", "umask"]), "0027\n");
    rpod.ok(&["rm", "-f", "-t", "0", &plain, &masked]);
    for bad in ["8", "1777", "-1", ""] {
        rpod.fails(&["create", &format!("--umask={bad}"), "demo", "true"], 125);
    }

    // --domainname, in the container's own UTS namespace only.
    assert_eq!(
        rpod.ok(&[
            "run",
            "--rm",
            "--domainname",
            "example.org",
            "demo",
            "cat",
            "/proc/sys/kernel/domainname"
        ]),
        "example.org\n"
    );
    let err = rpod.fails(
        &[
            "create",
            "--uts",
            "host",
            "--domainname",
            "x.org",
            "demo",
            "true",
        ],
        125,
    );
    assert!(err.contains("UTS namespace"), "{err}");

    // The cgroup namespace: the container's own shows its cgroup as /, the host's shows
    // where it is; another container's is shared.
    let own = rpod.ok(&["run", "--rm", "demo", "cat", "/proc/self/cgroup"]);
    assert!(own.lines().all(|l| l.ends_with(":/")), "{own}");
    rpod.ok(&[
        "create",
        "--name",
        "hostns",
        "--cgroupns",
        "host",
        "demo",
        "cat",
        "/proc/self/cgroup",
    ]);
    let id = rpod.inspect("hostns", "{{.Id}}");
    let host = rpod.ok(&["start", "-a", "hostns"]);
    assert!(host.contains(&format!(":/rpod/{id}")), "{host}");
    assert_eq!(rpod.inspect("hostns", "{{.HostConfig.CgroupMode}}"), "host");
    rpod.detached(&["--name", "first", "demo", "sleep", "300"]);
    let namespace = |flags: &[&str]| {
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["demo", "readlink", "/proc/self/ns/cgroup"]);
        rpod.ok(&args)
    };
    let first = rpod.ok(&["exec", "first", "readlink", "/proc/self/ns/cgroup"]);
    assert_eq!(namespace(&["--cgroupns", "container:first"]), first);
    assert_ne!(namespace(&[]), first);
    rpod.fails(&["create", "--cgroupns", "nowhere", "demo", "true"], 125);
    rpod.fails(
        &["create", "--cgroupns", "container:nosuch", "demo", "true"],
        125,
    );

    // --cgroup-parent: the container's cgroup is made there, found there by stats and top,
    // and removed from there with it.
    let parent = format!("rpod-test-parent-{}-{runtime}", std::process::id());
    let id = rpod.detached(&[
        "--cgroup-parent",
        &format!("/{parent}/inner"),
        "--cgroupns",
        "host",
        "demo",
        "sleep",
        "300",
    ]);
    let cgroup = format!("/sys/fs/cgroup/pids/{parent}/inner/{id}");
    let unified = format!("/sys/fs/cgroup/{parent}/inner/{id}");
    let dir = [&cgroup, &unified]
        .into_iter()
        .find(|d| std::path::Path::new(d).is_dir())
        .unwrap_or_else(|| panic!("no cgroup at {cgroup} or {unified}"))
        .clone();
    let seen = rpod.ok(&["exec", &id, "cat", "/proc/self/cgroup"]);
    assert!(seen.contains(&format!("/{parent}/inner/{id}")), "{seen}");
    assert_eq!(
        rpod.inspect(&id, "{{.HostConfig.CgroupParent}}"),
        format!("/{parent}/inner")
    );
    let top = rpod.ok(&["top", &id, "pid", "args"]);
    assert!(top.contains("sleep 300"), "{top}");
    let stats = rpod.ok(&["stats", "--no-stream", "--format", "{{.PIDs}}", &id]);
    assert_eq!(stats.trim(), "1");
    rpod.ok(&["rm", "-f", "-t", "0", &id]);
    assert!(!std::path::Path::new(&dir).exists(), "{dir} stayed");
    remove_cgroup_parent(&format!("{parent}/inner"));
    for bad in ["../escape", "/a/../b", "/", "", "/a//b", "machine.slice"] {
        let err = rpod.fails(
            &["create", &format!("--cgroup-parent={bad}"), "demo", "true"],
            125,
        );
        assert!(err.contains("--cgroup-parent"), "{bad}: {err}");
    }
}

#[test]
fn process_and_namespace_settings_on_runc() {
    check_process_and_namespace_settings("runc");
}

#[test]
fn process_and_namespace_settings_on_crun() {
    check_process_and_namespace_settings("crun");
}

#[test]
fn read_only_containers_keep_writable_temporary_directories() {
    let rpod = Rpod::with_image("runc");
    let script = "for d in /tmp /var/tmp /run; do touch $d/x && echo $d; done; touch /etc/x 2>/dev/null || echo read-only";
    assert_eq!(
        rpod.ok(&["run", "--rm", "--read-only", "demo", "sh", "-c", script]),
        "/tmp\n/var/tmp\n/run\nread-only\n"
    );
    assert_eq!(
        rpod.ok(&[
            "run",
            "--rm",
            "--read-only",
            "--read-only-tmpfs=false",
            "demo",
            "sh",
            "-c",
            script
        ]),
        "read-only\n"
    );
    // A mount of the user's at one of the places wins.
    rpod.ok(&["volume", "create", "scratch"]);
    rpod.ok(&[
        "run",
        "--rm",
        "--read-only",
        "-v",
        "scratch:/tmp",
        "demo",
        "touch",
        "/tmp/kept",
    ]);
    rpod.ok(&[
        "run",
        "--rm",
        "-v",
        "scratch:/data",
        "demo",
        "ls",
        "/data/kept",
    ]);
    // Without --read-only nothing is added.
    let mounts = rpod.ok(&["run", "--rm", "demo", "cat", "/proc/self/mounts"]);
    assert!(!mounts.contains(" /tmp "), "{mounts}");
}

#[test]
fn a_tmpfs_starts_with_the_images_files_unless_told_not_to() {
    for runtime in ["runc", "crun"] {
        let rpod = Rpod::with_image(runtime);
        let listing = rpod.ok(&[
            "run",
            "--rm",
            "--tmpfs",
            "/etc",
            "demo",
            "sh",
            "-c",
            "grep -c root /etc/passwd; mount | grep ' /etc '",
        ]);
        assert!(
            listing.starts_with("1\ntmpfs on /etc type tmpfs"),
            "{runtime}: {listing}"
        );
        let empty = rpod.ok(&[
            "run",
            "--rm",
            "--tmpfs",
            "/etc:notmpcopyup",
            "demo",
            "sh",
            "-c",
            "ls /etc/passwd 2>&1 || true",
        ]);
        assert!(empty.contains("No such file"), "{runtime}: {empty}");
        // `--mount type=tmpfs` copies too, as podman's.
        let mounted = rpod.ok(&[
            "run",
            "--rm",
            "--mount",
            "type=tmpfs,target=/etc",
            "demo",
            "ls",
            "/etc/group",
        ]);
        assert_eq!(mounted, "/etc/group\n", "{runtime}");
    }
}

#[test]
fn run_rmi_removes_the_image_after_the_container() {
    let rpod = Rpod::with_image("runc");
    let tarball = busybox_tarball().display().to_string();
    let names = || rpod.ok(&["images", "--format", "{{.Repository}}"]);
    // A name of an image with others: only the name goes.
    rpod.ok(&["tag", "demo", "extra"]);
    assert_eq!(rpod.ok(&["run", "--rmi", "extra", "echo", "hi"]), "hi\n");
    assert_eq!(names(), "localhost/demo\n");
    assert_eq!(rpod.ok(&["ps", "-aq"]), "", "--rmi implies --rm");
    // An image of its own goes whole, the exit code stays the container's.
    rpod.ok(&["import", "--change", "LABEL one=1", &tarball, "solo"]);
    rpod.fails(&["run", "--rmi", "solo", "sh", "-c", "exit 3"], 3);
    assert_eq!(names(), "localhost/demo\n");
    // An image another container uses stays, with a warning.
    rpod.ok(&["import", "--change", "LABEL two=2", &tarball, "shared"]);
    rpod.ok(&["create", "--name", "user", "shared", "true"]);
    let out = rpod.run(&["run", "--rmi", "shared", "true"]);
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("Failed removing image"));
    assert!(names().contains("localhost/shared"));
    let err = rpod.fails(&["run", "-d", "--rmi", "demo", "true"], 125);
    assert!(err.contains("--rmi"), "{err}");
}

#[test]
fn a_local_image_for_another_platform_is_refused() {
    let rpod = Rpod::with_image("runc");
    let arch = rpod.inspect("demo", "{{.Architecture}}");
    let other = if arch == "arm64" { "amd64" } else { "arm64" };
    let this = format!("linux/{arch}");
    assert_eq!(
        rpod.ok(&["run", "--rm", "--platform", &this, "demo", "echo", "same"]),
        "same\n"
    );
    rpod.ok(&[
        "run", "--rm", "--arch", &arch, "--os", "linux", "demo", "true",
    ]);
    let err = rpod.fails(
        &[
            "create",
            "--platform",
            &format!("linux/{other}"),
            "demo",
            "true",
        ],
        125,
    );
    assert!(
        err.contains(&format!("is for linux/{arch}, not linux/{other}")),
        "{err}"
    );
    rpod.fails(&["create", "--arch", other, "demo", "true"], 125);
    rpod.fails(&["create", "--os", "windows", "demo", "true"], 125);
    rpod.fails(&["create", "--platform", "linux", "demo", "true"], 125);
    assert_eq!(rpod.ok(&["ps", "-aq"]), "");
    // Accepted for Docker's scripts.
    rpod.ok(&["run", "--rm", "--disable-content-trust", "demo", "true"]);
}

#[test]
fn numeric_users_get_passwd_and_group_entries_as_podman_gives() {
    let rpod = Rpod::with_image("runc");
    let sh = |flags: &[&str], script: &str| {
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["demo", "sh", "-c", script]);
        rpod.ok(&args)
    };
    // A numeric user the image lacks: whoami works, its group too; in place (the
    // container's own files), so a second start adds nothing twice.
    assert_eq!(
        sh(&["-u", "1234", "-w", "/tmp"], "whoami; grep 1234 /etc/passwd /etc/group"),
        "1234\n/etc/passwd:1234:*:1234:0:container user:/tmp:/bin/sh\n/etc/group:1234:x:1234:1234\n"
    );
    rpod.ok(&[
        "create",
        "--name",
        "twice",
        "-u",
        "1234:5",
        "demo",
        "grep",
        "-c",
        "1234",
        "/etc/passwd",
    ]);
    assert_eq!(rpod.ok(&["start", "-a", "twice"]), "1\n");
    assert_eq!(rpod.ok(&["start", "-a", "twice"]), "1\n");
    // Read-only: copies bound over the image's.
    assert_eq!(
        sh(
            &["-u", "4321", "--read-only"],
            "whoami; grep -c 4321 /etc/passwd; touch /etc/x 2>/dev/null || echo ro"
        ),
        "4321\n1\nro\n"
    );
    // The template; --passwd=false; a known or named user gets nothing.
    assert_eq!(
        sh(
            &[
                "-u",
                "77:77",
                "--passwd-entry",
                "$USERNAME:x:$UID:$GID:$NAME:$HOME:/bin/false"
            ],
            "tail -1 /etc/passwd"
        ),
        "77:x:77:77:container user:/:/bin/false\n"
    );
    assert_eq!(
        sh(
            &["-u", "1234", "--passwd=false"],
            "grep -c 1234 /etc/passwd || true"
        ),
        "0\n"
    );
    let before = sh(&[], "cat /etc/passwd /etc/group");
    assert_eq!(sh(&["-u", "65534"], "cat /etc/passwd /etc/group"), before);
    // A user's own /etc/passwd mount is left alone.
    let mine = rpod.dir.path().join("passwd");
    std::fs::write(&mine, "root:x:0:0:root:/root:/bin/sh\n").unwrap();
    let bind = format!("{}:/etc/passwd:ro", mine.display());
    assert_eq!(
        sh(&["-u", "999", "-v", &bind], "cat /etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\n"
    );
    // --hostuser: a host account the image lacks (home: the working directory, unless
    // mounted).
    let host = std::fs::read_to_string("/etc/passwd").unwrap();
    let account = host
        .lines()
        .filter_map(|l| l.split(':').next())
        .find(|name| !before.contains(&format!("{name}:")))
        .expect("a host account the image lacks")
        .to_string();
    let added = sh(
        &["--hostuser", &account],
        &format!("grep ^{account}: /etc/passwd"),
    );
    assert!(
        added.starts_with(&format!("{account}:*:")) && added.trim_end().ends_with(":/:/bin/sh"),
        "{added}"
    );
    // An image without /etc has nothing to add to: it runs as the user asked.
    let mut builder = tar::Builder::new(Vec::new());
    builder
        .append_path_with_name(rpod_test_support::busybox(), "bin/busybox")
        .unwrap();
    let bare = rpod.dir.path().join("bare.tar");
    std::fs::write(&bare, builder.into_inner().unwrap()).unwrap();
    rpod.ok(&["import", &bare.display().to_string(), "bare"]);
    assert_eq!(
        rpod.ok(&[
            "run",
            "--rm",
            "-u",
            "1234",
            "bare",
            "/bin/busybox",
            "id",
            "-u"
        ]),
        "1234\n"
    );
    let err = rpod.fails(
        &["create", "--hostuser", "no-such-user-here", "demo", "true"],
        125,
    );
    assert!(err.contains("no such user on the host"), "{err}");
    rpod.fails(
        &["create", "--passwd-entry", "no colon", "demo", "true"],
        125,
    );
}

#[test]
fn personalities_on_crun_and_refused_where_runc_would_ignore_them() {
    let rpod = Rpod::with_image("crun");
    let machine = rpod.ok(&["run", "--rm", "demo", "uname", "-m"]);
    let narrow = rpod.ok(&[
        "run",
        "--rm",
        "--personality",
        "LINUX32",
        "demo",
        "uname",
        "-m",
    ]);
    let expected = match machine.trim() {
        "x86_64" => "i686",
        "aarch64" => "armv8l",
        other => other,
    };
    assert_eq!(narrow.trim(), expected, "{machine}");
    assert_eq!(
        rpod.ok(&[
            "run",
            "--rm",
            "--personality",
            "LINUX",
            "demo",
            "uname",
            "-m"
        ]),
        machine
    );
    rpod.fails(&["create", "--personality", "BSD", "demo", "true"], 125);
    // runc before 1.2 ignores the field: refused, naming the version.
    let version = std::process::Command::new("runc")
        .arg("--version")
        .output()
        .unwrap();
    let version = String::from_utf8_lossy(&version.stdout).to_string();
    if version.contains("version 1.0") || version.contains("version 1.1") {
        let err = rpod.fails(
            &[
                "create",
                "--runtime",
                "runc",
                "--personality",
                "LINUX32",
                "demo",
                "true",
            ],
            125,
        );
        assert!(err.contains("--personality with runc 1."), "{err}");
    }
}

/// --chrootdirs: rpod's /etc/hosts and /etc/resolv.conf under each directory's etc too
/// (comma-separated or repeated), shown by inspect; a relative path refused.
#[test]
fn chroot_dirs_get_the_name_resolution_files() {
    let rpod = Rpod::with_image("crun");
    let out = rpod.ok(&[
        "run",
        "--rm",
        "--add-host",
        "db:10.1.2.3",
        "--chrootdirs",
        "/jail,/other/",
        "--chrootdirs",
        "/third",
        "demo",
        "sh",
        "-c",
        "for d in /jail /other /third; do grep -F 10.1.2.3 $d/etc/hosts; test -f $d/etc/resolv.conf && echo resolv; done; ls /jail/etc",
    ]);
    assert_eq!(
        out,
        "10.1.2.3\tdb\nresolv\n".repeat(3) + "hosts\nresolv.conf\n"
    );
    let id = rpod.ok(&["create", "--chrootdirs", "/jail", "demo", "true"]);
    let shown: serde_json::Value = serde_json::from_str(&rpod.ok(&["inspect", id.trim()])).unwrap();
    assert_eq!(
        shown[0]["Config"]["ChrootDirs"],
        serde_json::json!(["/jail"])
    );
    rpod.ok(&["rm", id.trim()]);
    let err = rpod.fails(&["create", "--chrootdirs", "jail", "demo", "true"], 125);
    assert!(err.contains("must be an absolute path"), "{err}");
}

#[test]
fn flags_for_pulls_are_accepted_and_modes_rpod_lacks_are_refused() {
    let rpod = Rpod::with_image("runc");
    // For pulls, which a local image does not need (as with podman).
    assert_eq!(
        rpod.ok(&[
            "run",
            "--rm",
            "--tls-verify=false",
            "--authfile",
            "/nonexistent",
            "--userns",
            "host",
            "--cgroups",
            "no-conmon",
            "--sdnotify",
            "ignore",
            "demo",
            "echo",
            "ok",
        ]),
        "ok\n"
    );
    for (flags, message) in [
        (vec!["--userns", "ns:/proc/1/ns/user"], "--userns ns:"),
        (vec!["--cgroups", "split"], "--cgroups split"),
        (vec!["--cgroup-conf", "memory.high=1"], "--cgroup-conf"),
    ] {
        let mut args = vec!["create"];
        args.extend_from_slice(&flags);
        args.extend_from_slice(&["demo", "true"]);
        let err = rpod.fails(&args, 125);
        assert!(
            err.contains(message) && err.contains("not supported"),
            "{err}"
        );
    }
    // podman's answers as root.
    for (mode, message) in [
        ("keep-id", "keep-id is only supported in rootless mode"),
        ("nomap", "nomap is only supported in rootless mode"),
        ("bogus", "unrecognized namespace mode bogus passed"),
    ] {
        let err = rpod.fails(&["create", "--userns", mode, "demo", "true"], 125);
        assert!(err.contains(message), "{err}");
    }
    let err = rpod.fails(&["create", "--sdnotify", "systemd", "demo", "true"], 125);
    assert!(err.contains("container, conmon or ignore"), "{err}");
    // inspect shows the mode in podman's field (its JSON only: the name is lowercase).
    for mode in ["conmon", "container", "ignore"] {
        let id = rpod.ok(&["create", "--sdnotify", mode, "demo", "true"]);
        let shown: serde_json::Value =
            serde_json::from_str(&rpod.ok(&["inspect", id.trim()])).unwrap();
        assert_eq!(shown[0]["Config"]["sdNotifyMode"], mode);
        rpod.ok(&["rm", id.trim()]);
    }
    // container: nothing to pass on without systemd's socket.
    let mut without = rpod.command(&[
        "run",
        "--rm",
        "--sdnotify",
        "container",
        "demo",
        "sh",
        "-c",
        "echo ${NOTIFY_SOCKET:-none}",
    ]);
    without.env_remove("NOTIFY_SOCKET");
    let out = without.output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "none\n");
}

/// `--sdnotify container` under a service manager: the container gets a socket of its
/// monitor's (`NOTIFY_SOCKET=/run/notify/notify.sock`), rpod tells the manager the monitor
/// is the main process, and what the container says of its state reaches the manager
/// through the monitor, for as long as it runs: here systemd itself, booted in the
/// container, says it is ready. On both monitors (conmon serves the same option).
#[test]
fn sdnotify_container_passes_the_containers_readiness_on() {
    for runtime in ["runc", "crun"] {
        let rpod = Rpod::new(runtime);
        let tarball = systemd_tarball().display().to_string();
        rpod.ok(&["import", "--change", "CMD [\"/sbin/init\"]", &tarball, "sd"]);
        let socket = rpod.dir.path().join("notify.sock");
        let systemd = std::os::unix::net::UnixDatagram::bind(&socket).unwrap();
        systemd
            .set_read_timeout(Some(std::time::Duration::from_secs(60)))
            .unwrap();
        let out = rpod
            .command(&[
                "run",
                "-d",
                "--name",
                "svc",
                "--sdnotify",
                "container",
                "sd",
            ])
            .env("NOTIFY_SOCKET", &socket)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let mut messages = Vec::new();
        let mut buffer = [0u8; 4096];
        while !messages
            .iter()
            .any(|m: &String| m.lines().any(|l| l == "READY=1"))
        {
            let n = systemd
                .recv(&mut buffer)
                .unwrap_or_else(|e| panic!("{runtime}: no READY=1 came ({e}); came: {messages:?}"));
            messages.push(String::from_utf8_lossy(&buffer[..n]).into_owned());
        }
        let monitor = rpod.inspect("svc", "{{.State.ConmonPid}}");
        assert_eq!(messages[0], format!("MAINPID={monitor}\n"), "{messages:?}");
        // Only the service's state came from the container: not its own main process.
        assert!(
            messages[1..].iter().all(|m| !m.contains("MAINPID")),
            "{messages:?}"
        );
        let env = rpod.ok(&["exec", "svc", "cat", "/proc/1/environ"]);
        assert!(
            env.contains("NOTIFY_SOCKET=/run/notify/notify.sock"),
            "{env}"
        );
        rpod.ok(&["rm", "-f", "-t", "0", "svc"]);
    }
}

/// `--sdnotify conmon`: at each start rpod tells the service manager that named
/// `NOTIFY_SOCKET` the service is ready, its main process the container's monitor (as
/// podman does); the container does not get the socket. `ignore` sends nothing.
#[test]
fn sdnotify_conmon_tells_systemd_the_monitor_is_ready() {
    let rpod = Rpod::with_image("crun");
    let socket = rpod.dir.path().join("notify.sock");
    let systemd = std::os::unix::net::UnixDatagram::bind(&socket).unwrap();
    systemd
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let with_socket = |args: &[&str]| {
        let out = rpod
            .command(args)
            .env("NOTIFY_SOCKET", &socket)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {out:?}");
    };
    let message = || {
        let mut buffer = [0u8; 256];
        let n = systemd.recv(&mut buffer).unwrap();
        String::from_utf8_lossy(&buffer[..n]).into_owned()
    };
    with_socket(&[
        "run",
        "-d",
        "--name",
        "svc",
        "--sdnotify",
        "conmon",
        "demo",
        "sleep",
        "300",
    ]);
    let ready = |name: &str| {
        format!(
            "MAINPID={}\nREADY=1\n",
            rpod.inspect(name, "{{.State.ConmonPid}}")
        )
    };
    assert_eq!(message(), ready("svc"));
    let env = rpod.ok(&["exec", "svc", "env"]);
    assert!(!env.contains("NOTIFY_SOCKET"), "{env}");
    // Again at the next start.
    rpod.ok(&["stop", "-t", "0", "svc"]);
    with_socket(&["start", "svc"]);
    assert_eq!(message(), ready("svc"));
    // ignore: nothing.
    with_socket(&["run", "-d", "--name", "quiet", "demo", "sleep", "300"]);
    systemd
        .set_read_timeout(Some(std::time::Duration::from_millis(300)))
        .unwrap();
    let mut buffer = [0u8; 64];
    assert!(systemd.recv(&mut buffer).is_err(), "ignore sent a message");
    rpod.ok(&["rm", "-f", "-t", "0", "svc", "quiet"]);
}

/// systemd mode: the host's systemd boots as the container's init (`/sbin/init`, so the
/// default `--systemd true` turns the mode on), runs the image's unit, and halts on `stop`
/// (SIGRTMIN+3) with exit code 0 rather than being killed; the cgroup it writes is its
/// own. Without the mode it cannot mount what it needs and ends at once.
#[test]
fn systemd_boots_runs_units_and_halts_on_stop() {
    for runtime in ["runc", "crun"] {
        let rpod = Rpod::new(runtime);
        let tarball = systemd_tarball().display().to_string();
        rpod.ok(&["import", "--change", "CMD [\"/sbin/init\"]", &tarball, "sd"]);
        rpod.ok(&["run", "-d", "--name", "boot", "sd"]);
        wait_until("systemd ran the image's unit", || {
            rpod.run(&["exec", "boot", "test", "-e", "/run/booted"])
                .status
                .success()
        });
        assert_eq!(
            rpod.inspect("boot", "{{.Config.SystemdMode}} {{.Config.StopSignal}}"),
            "true SIGRTMIN+3"
        );
        let cgroup = rpod.ok(&["exec", "boot", "cat", "/proc/1/cgroup"]);
        let v1 = !Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
        if v1 {
            // Its own name=systemd cgroup, seen as the root of the hierarchy: the host's
            // other cgroups are not there to be written.
            assert!(cgroup.contains(":name=systemd:/init.scope"), "{cgroup}");
            let listing = rpod.ok(&["exec", "boot", "ls", "/sys/fs/cgroup/systemd"]);
            assert!(
                listing.contains("init.scope") && !listing.contains("rpod"),
                "{listing}"
            );
            let id = rpod.inspect("boot", "{{.Id}}");
            let host_side = format!("/sys/fs/cgroup/systemd/rpod/{id}/init.scope");
            assert!(Path::new(&host_side).is_dir(), "{host_side}");
        }
        let probe = if v1 {
            "/sys/fs/cgroup/systemd/probe"
        } else {
            "/sys/fs/cgroup/probe"
        };
        rpod.ok(&["exec", "boot", "mkdir", probe]);
        rpod.ok(&["exec", "boot", "rmdir", probe]);
        rpod.ok(&["stop", "-t", "60", "boot"]);
        assert_eq!(
            rpod.inspect("boot", "{{.State.Status}} {{.State.ExitCode}}"),
            "exited 0",
            "{runtime}: systemd did not halt on its stop signal"
        );

        // As a plain process systemd may not mount /run: it stops at once (not refused).
        let out = rpod.run(&["run", "--rm", "--systemd=false", "sd"]);
        let code = out.status.code();
        assert!(code != Some(0) && code != Some(125), "{runtime}: {out:?}");
        if v1 {
            let err = rpod.fails(&["create", "--cgroupns", "host", "sd"], 125);
            assert!(err.contains("cgroup namespace"), "{err}");
        }
    }
}

/// `--cgroups disabled` (crun, privileged only): the container stays in its monitor's
/// cgroup; what needs a cgroup of its own is refused, the rest works. `no-conmon` is
/// rpod's usual (its monitor is never moved), `split` is refused.
#[test]
fn a_container_without_cgroups_stays_in_its_monitors_and_refuses_what_needs_one() {
    let rpod = Rpod::with_image("crun");
    let disabled = ["--cgroups", "disabled"];
    let create = |flags: &[&str]| {
        let mut args = vec!["create"];
        args.extend_from_slice(&disabled);
        args.extend_from_slice(flags);
        args.extend_from_slice(&["demo", "true"]);
        rpod.fails(&args, 125)
    };
    let err = create(&[]);
    assert!(
        err.contains("--privileged") && err.contains("device"),
        "{err}"
    );
    for (flag, value) in [
        ("--memory", "64m"),
        ("--pids-limit", "10"),
        ("--cgroup-parent", "/x"),
    ] {
        let err = create(&["--privileged", flag, value]);
        assert!(
            err.contains(flag) && err.contains("--cgroups disabled"),
            "{err}"
        );
    }
    let runc = Rpod::with_image("runc");
    let err = runc.fails(
        &[
            "create",
            "--cgroups",
            "disabled",
            "--privileged",
            "demo",
            "true",
        ],
        125,
    );
    assert!(err.contains("crun"), "{err}");
    runc.fails(&["create", "--cgroups", "sometimes", "demo", "true"], 125);

    rpod.ok(&[
        "run",
        "-d",
        "--name",
        "free",
        "--cgroups",
        "disabled",
        "--privileged",
        "demo",
        "sleep",
        "1000",
    ]);
    assert_eq!(rpod.inspect("free", "{{.HostConfig.Cgroups}}"), "disabled");
    let pid = rpod.inspect("free", "{{.State.Pid}}");
    let monitor = rpod.inspect("free", "{{.State.ConmonPid}}");
    let cgroup = |pid: &str| std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let id = rpod.inspect("free", "{{.Id}}");
    assert_eq!(cgroup(&pid), cgroup(&monitor));
    assert!(!cgroup(&pid).contains(&id), "{}", cgroup(&pid));
    assert_eq!(rpod.ok(&["exec", "free", "echo", "hi"]), "hi\n");
    for args in [
        &["pause", "free"][..],
        &["stats", "--no-stream", "free"],
        &["update", "--memory", "64m", "free"],
        &["top", "free"],
    ] {
        let err = rpod.fails(args, 125);
        assert!(err.contains("--cgroups disabled"), "{args:?}: {err}");
    }
    // Listing every container's counters leaves it out.
    assert!(!rpod
        .ok(&["stats", "--no-stream", "--no-trunc"])
        .contains(&id));
    rpod.ok(&["stop", "-t", "1", "free"]);
    assert_eq!(rpod.inspect("free", "{{.State.Status}}"), "exited");
    rpod.ok(&["start", "free"]);
    rpod.ok(&["rm", "-f", "-t", "0", "free"]);

    // The usual modes: a cgroup named after the container.
    for mode in ["enabled", "no-conmon"] {
        let name = format!("with-{mode}");
        rpod.ok(&[
            "run",
            "-d",
            "--name",
            &name,
            "--cgroups",
            mode,
            "demo",
            "sleep",
            "1000",
        ]);
        let id = rpod.inspect(&name, "{{.Id}}");
        assert!(cgroup(&rpod.inspect(&name, "{{.State.Pid}}")).contains(&id));
        assert_eq!(rpod.inspect(&name, "{{.HostConfig.Cgroups}}"), "default");
        rpod.ok(&["rm", "-f", "-t", "0", &name]);
    }
}

/// A hooks directory of the test's own: each hook appends its name and the container's
/// state (the JSON the runtime gives it on standard input) to `log`, one line each.
struct HookDir {
    dir: tempfile::TempDir,
    log: std::path::PathBuf,
}

impl HookDir {
    fn new() -> HookDir {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let script = dir.path().join("hook.sh");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\nprintf '%s %s\\n' \"$1\" \"$(tr -d '\\n')\" >> {}\n",
                log.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        HookDir { dir, log }
    }

    fn path(&self) -> String {
        self.dir.path().join("hooks.d").display().to_string()
    }

    /// A 1.0.0 hook named `name` (its file `NAME.json`), run as `hook.sh NAME`.
    fn add(&self, name: &str, when: &str, stages: &str) {
        let hooks = self.dir.path().join("hooks.d");
        std::fs::create_dir_all(&hooks).unwrap();
        let script = self.dir.path().join("hook.sh");
        std::fs::write(
            hooks.join(format!("{name}.json")),
            format!(
                r#"{{"version": "1.0.0", "hook": {{"path": "{}", "args": ["hook.sh", "{name}"]}},
                    "when": {when}, "stages": {stages}}}"#,
                script.display()
            ),
        )
        .unwrap();
    }

    /// The hooks run for container `id`, in the order they ran.
    fn ran_for(&self, id: &str) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|line| line.contains(&format!("\"{id}\"")))
            .map(|line| line.split(' ').next().unwrap_or_default().to_string())
            .collect()
    }
}

/// OCI hooks (oci-hooks(5)) from `--hooks-dir` or rpod.conf's `hooks_dir`: each runs at
/// its stages for the containers its conditions pick (always, annotations, the command,
/// bind mounts; a 0.1.0 file's any one of them), `poststop` at the runtime's delete after
/// the exit; podman's `precreate` changes the spec; a restart by the restart policy and a
/// build's step run them too; a failing hook fails the run; a broken hook file stops the
/// start, saying which.
fn check_oci_hooks(runtime: &str, by_config: bool) {
    let hooks = HookDir::new();
    let rpod = if by_config {
        Rpod::with_config(
            runtime,
            &format!(
                "{NO_NETWORK_CONFIG}[engine]\nhooks_dir = [\"/nonexistent\", \"{}\"]\n",
                hooks.path()
            ),
        )
    } else {
        Rpod::new(runtime)
    };
    rpod.ok(&["import", &busybox_tarball().display().to_string(), "demo"]);
    let dir_flag = format!("--hooks-dir={}", hooks.path());
    let with_hooks = |args: &[&str]| -> Vec<String> {
        let mut full: Vec<&str> = Vec::new();
        if !by_config {
            full.push(&dir_flag);
        }
        full.extend(args);
        full.iter().map(|s| s.to_string()).collect()
    };
    let ok = |args: &[&str]| {
        let args = with_hooks(args);
        rpod.ok(&args.iter().map(String::as_str).collect::<Vec<_>>())
    };
    for stage in ["prestart", "createRuntime", "poststart", "poststop"] {
        hooks.add(stage, r#"{"always": true}"#, &format!("[\"{stage}\"]"));
    }
    hooks.add(
        "zgpu",
        r#"{"annotations": {"^com\\.example\\.gpu$": "^yes$"}}"#,
        r#"["prestart"]"#,
    );
    hooks.add("zbinds", r#"{"hasBindMounts": true}"#, r#"["prestart"]"#);
    hooks.add(
        "zshell",
        r#"{"commands": ["^sh$"], "always": true}"#,
        r#"["prestart"]"#,
    );
    // podman's older schema: any one condition.
    std::fs::write(
        std::path::Path::new(&hooks.path()).join("zz-old.json"),
        format!(
            r#"{{"hook": "{}", "arguments": ["old"], "stage": ["prestart"], "cmds": ["^true$"], "annotations": ["^never$"]}}"#,
            hooks.dir.path().join("hook.sh").display()
        ),
    )
    .unwrap();

    let plain = ok(&["run", "-d", "demo", "true"]).trim().to_string();
    ok(&["wait", &plain]);
    ok(&["rm", &plain]);
    // The stages in the runtimes' order (both run prestart hooks first); poststop at the
    // runtime's delete.
    assert_eq!(
        hooks.ran_for(&plain),
        ["prestart", "old", "createRuntime", "poststart", "poststop"],
        "{runtime}"
    );
    let mount = hooks.dir.path().display().to_string();
    let picked = ok(&[
        "run",
        "-d",
        "--annotation",
        "com.example.gpu=yes",
        "-v",
        &format!("{mount}:/mnt:ro"),
        "demo",
        "sh",
        "-c",
        "true",
    ])
    .trim()
    .to_string();
    ok(&["wait", &picked]);
    let ran = hooks.ran_for(&picked);
    for name in ["zgpu", "zbinds", "zshell"] {
        assert!(
            ran.contains(&name.to_string()),
            "{runtime}: {name}: {ran:?}"
        );
    }
    assert!(!ran.contains(&"old".to_string()), "{runtime}: {ran:?}");
    ok(&["rm", &picked]);

    // podman's precreate stage: the hook gets the spec and writes the one used.
    std::fs::write(
        std::path::Path::new(&hooks.path()).join("zfilter.json"),
        r#"{"version": "1.0.0", "hook": {"path": "/bin/sh", "args": ["sh", "-c",
            "sed 's/\"env\":\\[/\"env\":[\"FILTERED=yes\",/'"], "timeout": 10},
            "when": {"annotations": {"^filter$": "^on$"}}, "stages": ["precreate"]}"#,
    )
    .unwrap();
    let filtered = ok(&[
        "run",
        "--rm",
        "--annotation",
        "filter=on",
        "demo",
        "sh",
        "-c",
        "echo ${FILTERED:-unset}",
    ]);
    assert_eq!(filtered, "yes\n", "{runtime}");
    assert_eq!(
        ok(&["run", "--rm", "demo", "sh", "-c", "echo ${FILTERED:-unset}"]),
        "unset\n"
    );

    // A restart by the policy (the exit command's work) runs them again.
    let flaky = ok(&[
        "run",
        "-d",
        "--restart",
        "on-failure:1",
        "demo",
        "sh",
        "-c",
        "exit 3",
    ])
    .trim()
    .to_string();
    wait_until("the restart is over", || {
        rpod.inspect(&flaky, "{{.RestartCount}} {{.State.Status}}") == "1 exited"
    });
    let starts = hooks
        .ran_for(&flaky)
        .iter()
        .filter(|h| *h == "prestart")
        .count();
    assert_eq!(starts, 2, "{runtime}: {:?}", hooks.ran_for(&flaky));

    // A build's RUN step is a container with the hooks too (`build --hooks-dir`).
    let context = hooks.dir.path().join("context");
    std::fs::create_dir_all(&context).unwrap();
    std::fs::write(context.join("Containerfile"), "FROM demo\nRUN true\n").unwrap();
    let before = std::fs::read_to_string(&hooks.log).unwrap().lines().count();
    let context = context.display().to_string();
    ok(&["build", "-q", "-t", "stepped", &context]);
    let log = std::fs::read_to_string(&hooks.log).unwrap();
    let step: Vec<&str> = log.lines().skip(before).collect();
    assert!(
        step.iter().any(|l| l.starts_with("prestart "))
            && step.iter().any(|l| l.starts_with("poststop ")),
        "{runtime}: {step:?}"
    );

    // A hook that fails stops the container's creation, with the runtime's word for it.
    hooks.add("failing", r#"{"always": true}"#, r#"["createRuntime"]"#);
    let failing = std::path::Path::new(&hooks.path()).join("failing.json");
    let text = std::fs::read_to_string(&failing).unwrap();
    let script = hooks.dir.path().join("hook.sh").display().to_string();
    std::fs::write(&failing, text.replace(&script, "/bin/false")).unwrap();
    let args = with_hooks(&["run", "--rm", "demo", "true"]);
    let out = rpod.run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(!out.status.success(), "{runtime}");
    assert!(stderr_of(&out).contains("hook"), "{}", stderr_of(&out));

    // A broken file stops the start and is named.
    std::fs::write(&failing, "{\"version\": \"1.0.0\"").unwrap();
    let args = with_hooks(&["run", "--name", "broken", "demo", "true"]);
    let err = rpod.fails(&args.iter().map(String::as_str).collect::<Vec<_>>(), 126);
    assert!(
        err.contains("OCI hooks") && err.contains("failing.json"),
        "{err}"
    );
    assert_eq!(rpod.ok(&["ps", "-q"]), "");
}

#[test]
fn oci_hooks_run_at_their_stages_on_runc() {
    check_oci_hooks("runc", false);
}

#[test]
fn oci_hooks_run_at_their_stages_on_crun() {
    check_oci_hooks("crun", true);
}
