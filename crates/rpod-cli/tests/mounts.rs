//! Bind mounts and tmpfs mounts (`-v`, `--mount`, `--tmpfs`) end to end on runc and crun,
//! and their errors.

mod common;

use common::*;

fn check_runtime(runtime: &str) {
    let rpod = Rpod::with_image(runtime);
    let host = tempfile::tempdir().unwrap();
    std::fs::write(host.path().join("in"), "from the host\n").unwrap();
    let dir = host.path().display().to_string();
    // Read and write through a bind mount.
    let out = rpod.ok(&[
        "run",
        "--rm",
        "-v",
        &format!("{dir}:/data"),
        "demo",
        "sh",
        "-c",
        "cat /data/in; echo from-the-container > /data/out",
    ]);
    assert_eq!(out, "from the host\n");
    assert_eq!(
        std::fs::read_to_string(host.path().join("out")).unwrap(),
        "from-the-container\n"
    );
    // Read-only, by -v and by --mount.
    for flags in [
        vec!["-v".to_string(), format!("{dir}:/data:ro")],
        vec![
            "--mount".to_string(),
            format!("type=bind,source={dir},target=/data,readonly"),
        ],
    ] {
        let mut args = vec!["run", "--rm"];
        args.extend(flags.iter().map(String::as_str));
        args.extend(["demo", "sh", "-c", "cat /data/in && touch /data/nope"]);
        let out = rpod.run(&args);
        assert_eq!(out.status.code(), Some(1), "{flags:?}: {out:?}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "from the host\n");
        assert!(String::from_utf8_lossy(&out.stderr).contains("Read-only file system"));
        assert!(!host.path().join("nope").exists());
    }
    // A host path relative to the current directory.
    std::fs::create_dir(host.path().join("rel")).unwrap();
    std::fs::write(host.path().join("rel/file"), "relative\n").unwrap();
    let out = rpod
        .command(&["run", "--rm", "-v", "./rel:/r", "demo", "cat", "/r/file"])
        .current_dir(host.path())
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "relative\n",
        "{out:?}"
    );
    // tmpfs: its size, its default flags (podman's: exec, not noexec), and one replacing the
    // default /dev/shm.
    let out = rpod.ok(&[
        "run", "--rm", "--tmpfs", "/scratch:size=1m", "--tmpfs", "/dev/shm:size=2m",
        "--mount", "type=tmpfs,target=/fast,tmpfs-size=3m,tmpfs-mode=700",
        "demo", "sh", "-c",
        "grep -E ' /(scratch|dev/shm|fast) ' /proc/mounts | sort -k2; dd if=/dev/zero of=/scratch/big bs=1024 count=2048 2>/dev/null || echo full",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert!(
        lines[0].starts_with("tmpfs /dev/shm tmpfs") && lines[0].contains("size=2048k"),
        "{out}"
    );
    assert!(
        lines[1].contains(" /fast ")
            && lines[1].contains("size=3072k")
            && lines[1].contains("mode=700"),
        "{out}"
    );
    assert!(
        lines[2].contains(" /scratch ")
            && lines[2].contains("nosuid,nodev,")
            && !lines[2].contains("noexec"),
        "{out}"
    );
    assert_eq!(lines[3], "full");
    // inspect shows them.
    let id = rpod.ok(&[
        "create",
        "-v",
        &format!("{dir}:/data:ro"),
        "--tmpfs",
        "/t",
        "demo",
        "true",
    ]);
    let mounts = rpod.inspect(
        id.trim(),
        "{{range .Mounts}}{{.Type}} {{.Destination}} {{.RW}};{{end}}",
    );
    assert_eq!(mounts, "bind /data false;tmpfs /t true;");
    rpod.ok(&["rm", id.trim()]);
    // A named volume keeps its data across containers and their removal.
    rpod.ok(&[
        "run",
        "--name",
        "writer",
        "-v",
        "keep:/k",
        "demo",
        "sh",
        "-c",
        "echo kept > /k/f",
    ]);
    rpod.ok(&["rm", "writer"]);
    assert_eq!(
        rpod.ok(&["run", "--rm", "-v", "keep:/k", "demo", "cat", "/k/f"]),
        "kept\n"
    );
    // Volumes, named and anonymous, are mounted nosuid and nodev (podman's defaults: a
    // set-user-ID program or a device node another container or an archive put there does
    // nothing), unless `suid` or `dev` says otherwise.
    let out = rpod.ok(&[
        "run",
        "--rm",
        "-v",
        "keep:/k",
        "-v",
        "/anon",
        "-v",
        "open:/o:suid,dev",
        "demo",
        "sh",
        "-c",
        "grep -E ' /(k|anon|o) ' /proc/mounts | sort -k2",
    ]);
    let flags: Vec<(&str, bool, bool)> = out
        .lines()
        .map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            let options: Vec<&str> = fields[3].split(',').collect();
            (
                fields[1],
                options.contains(&"nosuid"),
                options.contains(&"nodev"),
            )
        })
        .collect();
    assert_eq!(
        flags,
        [
            ("/anon", true, true),
            ("/k", true, true),
            ("/o", false, false)
        ],
        "{out}"
    );
}

#[test]
fn bind_and_tmpfs_mounts_on_runc() {
    check_runtime("runc");
}

#[test]
fn bind_and_tmpfs_mounts_on_crun() {
    check_runtime("crun");
}

#[test]
fn mount_errors_are_clear_and_leave_nothing() {
    let rpod = Rpod::with_image("runc");
    let host = tempfile::tempdir().unwrap();
    let dir = host.path().display().to_string();
    for (flags, says) in [
        (vec!["-v", "/no/such/dir:/data"], "statfs /no/such/dir"),
        (vec!["-v", "bad/name:/data"], "invalid volume name"),
        (vec!["-v", "relative"], "absolute"),
        (vec!["-v", "data:/d:nocopy,bogus"], "invalid option"),
        (vec!["-v", "/tmp:/d:nocopy"], "nocopy"),
        (
            vec!["--image-volume", "nope"],
            "invalid argument \"nope\" for \"--image-volume\" flag",
        ),
        (vec!["--tmpfs", "relative"], "absolute"),
        (vec!["--tmpfs", "/"], "root"),
        (vec!["--tmpfs", "/t:bogus"], "invalid tmpfs option"),
        (vec!["--mount", "type=bind,target=/x"], "source is required"),
    ] {
        let mut args = vec!["create"];
        args.extend(flags.iter().copied());
        args.extend(["demo", "true"]);
        let err = rpod.fails(&args, 125);
        assert!(err.contains(says), "{flags:?}: {err}");
    }
    let bind = format!("{dir}:/same");
    let err = rpod.fails(
        &["create", "-v", &bind, "--tmpfs", "/same", "demo", "true"],
        125,
    );
    assert!(err.contains("duplicate mount destination"), "{err}");
    assert_eq!(rpod.ok(&["ps", "-aq"]), "");
}

#[test]
fn named_volumes_outlive_containers_and_are_guarded() {
    let rpod = Rpod::with_image("runc");
    assert_eq!(
        rpod.ok(&["volume", "create", "--label", "team=db", "data"]),
        "data\n"
    );
    let err = rpod.fails(&["volume", "create", "data"], 125);
    assert!(err.contains("already exists"), "{err}");
    // What the local driver here cannot do is refused, and nothing is made.
    let err = rpod.fails(&["volume", "create", "--opt", "o=bind", "opted"], 125);
    assert!(err.contains("need type and device"), "{err}");
    let err = rpod.fails(&["volume", "create", "--opt", "colour=blue", "opted"], 125);
    assert!(err.contains("invalid mount option colour"), "{err}");
    let err = rpod.fails(&["volume", "create", "--driver", "nfs", "remote"], 125);
    assert!(err.contains("no volume plugin named \"nfs\""), "{err}");
    let err = rpod.fails(&["volume", "create", "bad/name"], 125);
    assert!(err.contains("invalid volume name"), "{err}");
    // Written by one container, read by the next; the volume outlives both.
    rpod.ok(&[
        "run",
        "--rm",
        "-v",
        "data:/data",
        "demo",
        "sh",
        "-c",
        "echo kept > /data/f",
    ]);
    assert_eq!(
        rpod.ok(&[
            "run",
            "--rm",
            "--mount",
            "type=volume,src=data,dst=/d,readonly",
            "demo",
            "cat",
            "/d/f"
        ]),
        "kept\n"
    );
    let out = rpod.run(&["run", "--rm", "-v", "data:/d:ro", "demo", "touch", "/d/x"]);
    assert!(!out.status.success());
    // A volume named by a container is made on first use.
    rpod.ok(&["create", "--name", "user", "-v", "fresh:/f", "demo", "true"]);
    assert_eq!(rpod.ok(&["volume", "ls", "-q"]), "data\nfresh\n");
    assert_eq!(
        rpod.ok(&[
            "volume",
            "ls",
            "--filter",
            "label=team=db",
            "--format",
            "{{.Name}}"
        ]),
        "data\n"
    );
    let mountpoint = rpod.ok(&["volume", "inspect", "--format", "{{.Mountpoint}}", "data"]);
    assert!(
        std::path::Path::new(mountpoint.trim()).join("f").is_file(),
        "{mountpoint}"
    );
    assert_eq!(
        rpod.inspect(
            "user",
            "{{range .Mounts}}{{.Type}} {{.Name}} {{.Destination}}{{end}}"
        ),
        "volume fresh /f"
    );
    // In use: refused, and kept, until forced (which removes the container too).
    let out = rpod.run(&["volume", "rm", "fresh"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("being used"));
    assert_eq!(rpod.ok(&["volume", "exists", "fresh"]), "");
    // prune leaves the volume in use.
    assert_eq!(rpod.ok(&["volume", "prune", "-f"]), "data\n");
    assert_eq!(rpod.ok(&["volume", "rm", "-f", "fresh"]), "fresh\n");
    assert_eq!(rpod.ok(&["ps", "-aq"]), "");
    assert_eq!(
        rpod.run(&["volume", "exists", "fresh"]).status.code(),
        Some(1)
    );
    assert_eq!(rpod.run(&["volume", "rm", "nosuch"]).status.code(), Some(1));
    // --force passes over a volume that is not there, as podman's.
    assert_eq!(rpod.ok(&["volume", "rm", "-f", "nosuch"]), "");
    // The volumes are as private as the rest of the store.
    let top = rpod.root().join("volumes");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&top).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o700);
}

/// A tarball of busybox plus `extra` entries (directories end in `/`; `->` makes a symlink).
/// `--volumepath`: volumes live where it says; the store records it the first time, so
/// later commands (and the exit command of a `--rm` container with an anonymous volume)
/// find them without the flag, and another path is refused, leaving everything as it was.
#[test]
fn volumes_live_in_the_volume_path_the_store_records() {
    use std::os::unix::fs::PermissionsExt;
    let rpod = Rpod::with_image("crun");
    let elsewhere = tempfile::tempdir().unwrap();
    let vols = elsewhere.path().join("vols");
    let vols_flag = format!("--volumepath={}", vols.display());
    rpod.ok(&[&vols_flag, "volume", "create", "kept"]);
    let data = vols.join("kept/_data");
    assert_eq!(
        rpod.ok(&["volume", "inspect", "--format", "{{.Mountpoint}}", "kept"]),
        format!("{}\n", data.display())
    );
    let mode =
        |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&vols), 0o700);
    assert_eq!(mode(&vols.join("kept")), 0o700);
    assert!(!rpod.root().join("volumes").exists());
    assert_eq!(
        rpod.ok(&["info", "--format", "{{.Store.VolumePath}}"]),
        format!("{}\n", vols.display())
    );
    // Without the flag: written through a container, an anonymous volume made and removed
    // there by `--rm`.
    rpod.ok(&[
        "run",
        "--rm",
        "-v",
        "kept:/data",
        "-v",
        "/scratch",
        "demo",
        "sh",
        "-c",
        "echo saved > /data/file && touch /scratch/x",
    ]);
    assert_eq!(
        std::fs::read_to_string(data.join("file")).unwrap(),
        "saved\n"
    );
    assert_eq!(rpod.ok(&["volume", "ls", "-q"]), "kept\n");
    let left: Vec<_> = std::fs::read_dir(&vols)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["kept"]);
    // Another path, by flag or by rpod.conf, is refused and changes nothing.
    let other = format!("--volumepath={}", elsewhere.path().join("other").display());
    let err = rpod.fails(&[&other, "volume", "ls"], 125);
    assert!(
        err.contains(&format!("has volumes in {}", vols.display())),
        "{err}"
    );
    rpod.set_config(&format!(
        "{NO_NETWORK_CONFIG}[engine]\nvolume_path = \"{}\"\n",
        rpod.root().join("volumes").display()
    ));
    rpod.fails(&["volume", "ls"], 125);
    rpod.set_config(&format!(
        "{NO_NETWORK_CONFIG}[engine]\nvolume_path = \"{}\"\n",
        vols.display()
    ));
    assert_eq!(rpod.ok(&["volume", "ls", "-q"]), "kept\n");
    assert!(!elsewhere.path().join("other").exists());
    // A volume path is a flag of the local store.
    let remote = std::process::Command::new(env!("CARGO_BIN_EXE_rpod"))
        .args(["--url", "unix:///nonexistent.sock", &vols_flag, "ps"])
        .output()
        .unwrap();
    assert_eq!(remote.status.code(), Some(125));
    let err = stderr_of(&remote);
    assert!(
        err.contains("--volumepath is a flag of the local store"),
        "{err}"
    );
    // A path that cannot be recorded as text is refused before anything is made.
    use std::os::unix::ffi::OsStrExt;
    let not_utf8 = std::ffi::OsStr::from_bytes(b"--volumepath=/tmp/\xff");
    let out = rpod
        .command(&[])
        .arg(not_utf8)
        .args(["volume", "ls"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    assert!(stderr_of(&out).contains("only UTF-8 paths can be recorded"));
    rpod.ok(&["volume", "rm", "kept"]);
    assert!(!vols.join("kept").exists());
}

#[test]
fn volumes_from_shares_another_containers_mounts() {
    let rpod = Rpod::with_image("runc");
    let host = tempfile::tempdir().unwrap();
    std::fs::write(host.path().join("b"), "bound\n").unwrap();
    rpod.ok(&[
        "run",
        "--name",
        "source",
        "-v",
        "named:/shared",
        "-v",
        &format!("{}:/bm", host.path().display()),
        "-v",
        "/anon",
        "--tmpfs",
        "/scratch",
        "demo",
        "sh",
        "-c",
        "echo from-source > /shared/f; echo anon > /anon/a",
    ]);
    // Volumes (named and anonymous) and bind mounts, at the same places; not the tmpfs.
    assert_eq!(
        rpod.ok(&[
            "run",
            "--rm",
            "--volumes-from",
            "source",
            "demo",
            "sh",
            "-c",
            "cat /shared/f /anon/a /bm/b; test -d /scratch || echo no-scratch"
        ]),
        "from-source\nanon\nbound\nno-scratch\n"
    );
    // :ro makes them read-only; a mount given here at the same place wins.
    let out = rpod.run(&[
        "run",
        "--rm",
        "--volumes-from",
        "source:ro",
        "demo",
        "touch",
        "/shared/x",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        rpod.ok(&[
            "run",
            "--rm",
            "--volumes-from",
            "source",
            "-v",
            "other:/shared",
            "demo",
            "sh",
            "-c",
            "test -e /shared/f || echo own"
        ]),
        "own\n"
    );
    // The anonymous volume stays the source's: a user of it keeps it from `rm -v`.
    rpod.ok(&[
        "create",
        "--name",
        "user",
        "--volumes-from",
        "source",
        "demo",
        "cat",
        "/anon/a",
    ]);
    // Inspect shows what was asked, as podman's (null without); its spec reads back whole
    // (the bind it shares took a volume's `nocopy`, which no spec can say of a bind).
    let shown = |name: &str| rpod.inspect(name, "{{json .HostConfig.VolumesFrom}}");
    assert_eq!(shown("user"), "[\"source\"]");
    assert_eq!(shown("source"), "null");
    let spec = rpod.run(&["generate", "spec", "user"]);
    assert!(spec.status.success(), "{spec:?}");
    assert_eq!(String::from_utf8_lossy(&spec.stderr), "");
    rpod.ok(&["rm", "-v", "source"]);
    assert_eq!(rpod.ok(&["start", "-a", "user"]), "anon\n");
    rpod.fails(
        &["run", "--rm", "--volumes-from", "nosuch", "demo", "true"],
        125,
    );
    rpod.fails(
        &["run", "--rm", "--volumes-from", "user:bad", "demo", "true"],
        125,
    );
}

fn busybox_with(extra: &[(&str, &str)]) -> tempfile::NamedTempFile {
    let mut builder = tar::Builder::new(Vec::new());
    let mut archive = tar::Archive::new(std::fs::File::open(busybox_tarball()).unwrap());
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let header = entry.header().clone();
        builder.append(&header, &mut entry).unwrap();
    }
    for (path, content) in extra {
        let mut header = tar::Header::new_gnu();
        header.set_uid(0);
        header.set_gid(0);
        if let Some(dir) = path.strip_suffix('/') {
            header.set_entry_type(tar::EntryType::Directory);
            header.set_mode(0o750);
            header.set_uid(1234);
            header.set_size(0);
            builder
                .append_data(&mut header, dir, std::io::empty())
                .unwrap();
        } else if let Some(target) = content.strip_prefix("-> ") {
            header.set_entry_type(tar::EntryType::Symlink);
            header.set_mode(0o777);
            header.set_size(0);
            builder.append_link(&mut header, path, target).unwrap();
        } else {
            header.set_entry_type(tar::EntryType::Regular);
            header.set_mode(0o644);
            header.set_size(content.len() as u64);
            builder
                .append_data(&mut header, path, content.as_bytes())
                .unwrap();
        }
    }
    let mut file = tempfile::NamedTempFile::new().unwrap();
    std::io::Write::write_all(&mut file, &builder.into_inner().unwrap()).unwrap();
    file
}

/// A read-only bind is read-only all the way down, as Docker makes it since 25.0 (podman
/// 4.3 and the runtimes' plain `ro` left the mounts below writable), on both runtimes;
/// `bind-recursive=writable` asks for the top mount only.
#[test]
fn a_read_only_bind_is_read_only_below_too() {
    let host = tempfile::tempdir().unwrap();
    let below = host.path().join("below");
    std::fs::create_dir(&below).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "tmpfs"])
        .arg(&below)
        .status()
        .unwrap();
    assert!(mounted.success());
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(below.clone());
    let try_write = "touch /h/below/x 2>/dev/null && echo writable || echo read-only";
    for runtime in ["crun", "runc"] {
        let rpod = Rpod::with_image(runtime);
        let ro = format!("{}:/h:ro", host.path().display());
        assert_eq!(
            rpod.ok(&["run", "--rm", "-v", &ro, "demo", "sh", "-c", try_write]),
            "read-only\n",
            "{runtime}"
        );
        let top_only = format!(
            "type=bind,src={},dst=/h,readonly,bind-recursive=writable",
            host.path().display()
        );
        assert_eq!(
            rpod.ok(&["run", "--rm", "--mount", &top_only, "demo", "sh", "-c", try_write]),
            "writable\n",
            "{runtime}"
        );
        assert!(below.join("x").exists());
        std::fs::remove_file(below.join("x")).unwrap();
    }
}

/// Whether anything is mounted under `dir` on the host.
fn mounted_under(dir: &std::path::Path) -> bool {
    let table = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let dir = dir.display().to_string();
    table.lines().any(|l| l.contains(&dir))
}

/// `-v SRC:DST:O` (podman's overlay mounts): the container sees the source and writes on
/// an upper layer of its own, which starts empty at each start; the source (a host
/// directory, a volume) never changes. With `upperdir=` and `workdir=` the changes are
/// kept there. Nothing stays mounted on the host once the container is gone.
#[test]
fn overlay_mounts_leave_their_source_as_it_was() {
    let rpod = Rpod::with_image("crun");
    let host = tempfile::tempdir().unwrap();
    let src = host.path().join("src");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(src.join("f"), "orig\n").unwrap();
    let bind = format!("{}:/data:O", src.display());
    let out = rpod.ok(&[
        "run", "--rm", "--read-only", "-v", &bind, "demo", "sh", "-c",
        "cat /data/f; echo new > /data/f; echo x > /data/g; cat /data/f; ls /data; grep ' /data ' /proc/mounts | cut -d' ' -f3",
    ]);
    assert_eq!(out, "orig\nnew\nf\ng\noverlay\n");
    assert_eq!(std::fs::read_to_string(src.join("f")).unwrap(), "orig\n");
    assert!(!src.join("g").exists());
    // Each start begins with the source alone; a copy into the running container lands
    // on its overlay.
    rpod.ok(&[
        "run", "-d", "--name", "kept", "-v", &bind, "demo", "sleep", "300",
    ]);
    assert_eq!(
        rpod.inspect("kept", "{{range .Mounts}}{{.Source}} {{.Options}}{{end}}"),
        format!("{} [rbind rprivate O]", src.display())
    );
    rpod.ok(&["exec", "kept", "sh", "-c", "echo 1 > /data/one"]);
    let copied = host.path().join("copied");
    std::fs::write(&copied, "c\n").unwrap();
    rpod.ok(&["cp", &copied.display().to_string(), "kept:/data/copied"]);
    assert_eq!(rpod.ok(&["exec", "kept", "cat", "/data/copied"]), "c\n");
    assert!(!src.join("copied").exists() && !src.join("one").exists());
    let id = rpod.inspect("kept", "{{.Id}}");
    let own_layers = rpod
        .root()
        .join("containers")
        .join(&id)
        .join("overlay-mounts");
    assert!(own_layers.join("0/diff/one").exists());
    rpod.ok(&["stop", "-t", "0", "kept"]);
    assert!(!own_layers.join("0").exists());
    rpod.ok(&["start", "kept"]);
    assert_eq!(rpod.ok(&["exec", "kept", "ls", "/data"]), "f\n");
    rpod.ok(&["rm", "-f", "-t", "0", "kept"]);
    assert!(
        !mounted_under(&rpod.runroot()),
        "a mount of the store is left"
    );
    // A volume as the lower layer.
    rpod.ok(&[
        "run",
        "--rm",
        "-v",
        "vol:/v",
        "demo",
        "sh",
        "-c",
        "echo in-volume > /v/f",
    ]);
    assert_eq!(
        rpod.ok(&[
            "run",
            "--rm",
            "-v",
            "vol:/v:O",
            "demo",
            "sh",
            "-c",
            "echo changed > /v/f; cat /v/f"
        ]),
        "changed\n"
    );
    assert_eq!(
        rpod.ok(&["run", "--rm", "-v", "vol:/v", "demo", "cat", "/v/f"]),
        "in-volume\n"
    );
    // The user's upper layer keeps the changes from run to run.
    let (upper, work) = (host.path().join("upper"), host.path().join("work"));
    let kept = format!(
        "{}:/data:O,upperdir={},workdir={}",
        src.display(),
        upper.display(),
        work.display()
    );
    rpod.ok(&[
        "run",
        "--rm",
        "-v",
        &kept,
        "demo",
        "sh",
        "-c",
        "echo p > /data/p",
    ]);
    assert_eq!(std::fs::read_to_string(upper.join("p")).unwrap(), "p\n");
    assert_eq!(
        rpod.ok(&["run", "--rm", "-v", &kept, "demo", "cat", "/data/p", "/data/f"]),
        "p\norig\n"
    );
    assert!(!src.join("p").exists());
    // What cannot be is refused at create, leaving nothing.
    let file = format!("{}:/f:O", src.join("f").display());
    let err = rpod.fails(&["create", "-v", &file, "demo", "true"], 125);
    assert!(err.contains("must be a directory"), "{err}");
    let with_ro = format!("{}:/data:O,ro", src.display());
    let err = rpod.fails(&["create", "-v", &with_ro, "demo", "true"], 125);
    assert!(err.contains("can't use 'O' with other options"), "{err}");
    let err = rpod.fails(
        &[
            "create",
            "--uidmap",
            "0:100000:65536",
            "-v",
            &bind,
            "demo",
            "true",
        ],
        125,
    );
    assert!(err.contains("an overlay mount (O)"), "{err}");
    assert_eq!(rpod.ok(&["ps", "-a", "-q"]), "");
    assert!(
        !mounted_under(&rpod.runroot()),
        "a mount of the store is left"
    );
}

#[test]
fn anonymous_volumes_and_copy_up() {
    let rpod = Rpod::with_image("runc");
    let sentinel = tempfile::tempdir().unwrap();
    let secret = sentinel.path().join("secret");
    std::fs::write(&secret, "host secret").unwrap();
    let link = format!("-> {}", secret.display());
    let tarball = busybox_with(&[
        ("srv/", ""),
        ("srv/data/", ""),
        ("srv/data/seed.txt", "from the image\n"),
        ("srv/data/escape", &link),
    ]);
    rpod.ok(&[
        "import",
        "--change",
        "VOLUME /srv/data",
        &tarball.path().display().to_string(),
        "seeded",
    ]);
    let volumes = |rpod: &Rpod| rpod.ok(&["volume", "ls", "-q"]);

    // An image VOLUME gets an anonymous volume, filled from the image (copy-up), with the
    // image directory's owner and mode; symlinks are copied as links, never followed.
    rpod.ok(&[
        "create",
        "--name",
        "keeper",
        "seeded",
        "cat",
        "/srv/data/seed.txt",
    ]);
    let name = volumes(&rpod).trim().to_string();
    assert_eq!(name.len(), 64, "one anonymous volume: {name:?}");
    assert_eq!(rpod.ok(&["start", "-a", "keeper"]), "from the image\n");
    let data = rpod.root().join("volumes").join(&name).join("_data");
    let meta = std::fs::metadata(&data).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!((meta.uid(), meta.mode() & 0o777), (1234, 0o750));
    assert!(std::fs::symlink_metadata(data.join("escape"))
        .unwrap()
        .file_type()
        .is_symlink());
    let mounts = rpod.inspect(
        "keeper",
        "{{range .Mounts}}{{.Type}} {{.Name}} {{.Destination}}{{end}}",
    );
    assert_eq!(mounts, format!("volume {name} /srv/data"));
    // rm without -v keeps it; rm -v removes a container's anonymous volumes (not named ones).
    rpod.ok(&["rm", "keeper"]);
    assert_eq!(volumes(&rpod).trim(), name);
    rpod.ok(&["volume", "rm", &name]);
    rpod.ok(&[
        "create",
        "--name",
        "both",
        "-v",
        "/anon",
        "-v",
        "named:/named",
        "demo",
        "true",
    ]);
    assert_eq!(volumes(&rpod).lines().count(), 2);
    rpod.ok(&["rm", "-v", "both"]);
    assert_eq!(volumes(&rpod), "named\n");
    // run --rm takes its anonymous volumes along.
    rpod.ok(&[
        "run",
        "--rm",
        "--mount",
        "type=volume,target=/scratch",
        "seeded",
        "true",
    ]);
    assert_eq!(volumes(&rpod), "named\n");
    // --image-volume: tmpfs (the image's files in it, as podman's) or ignore (the image's
    // files, no volume).
    assert_eq!(
        rpod.ok(&[
            "run",
            "--rm",
            "--image-volume",
            "tmpfs",
            "seeded",
            "sh",
            "-c",
            "cat /srv/data/seed.txt; grep -c ' /srv/data tmpfs ' /proc/mounts"
        ]),
        "from the image\n1\n"
    );
    assert_eq!(
        rpod.ok(&[
            "run",
            "--rm",
            "--image-volume",
            "ignore",
            "seeded",
            "cat",
            "/srv/data/seed.txt"
        ]),
        "from the image\n"
    );
    assert_eq!(volumes(&rpod), "named\n");

    // A named volume is filled once, while empty; nocopy leaves it empty.
    rpod.ok(&[
        "run",
        "--rm",
        "-v",
        "seed:/srv/data",
        "seeded",
        "rm",
        "/srv/data/seed.txt",
    ]);
    assert_eq!(
        rpod.ok(&[
            "run",
            "--rm",
            "-v",
            "seed:/srv/data",
            "seeded",
            "ls",
            "/srv/data"
        ]),
        "escape\n"
    );
    assert_eq!(
        rpod.ok(&[
            "run",
            "--rm",
            "-v",
            "empty:/srv/data:nocopy",
            "seeded",
            "ls",
            "/srv/data"
        ]),
        ""
    );
    // A volume on a path the image does not have starts empty.
    assert_eq!(
        rpod.ok(&[
            "run",
            "--rm",
            "-v",
            "other:/nothing/here",
            "seeded",
            "ls",
            "/nothing/here"
        ]),
        ""
    );
}

#[test]
fn the_u_option_gives_the_source_to_the_container_user() {
    let rpod = Rpod::with_image("runc");
    let host = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::create_dir(host.path().join("sub")).unwrap();
    std::fs::write(host.path().join("sub/f"), "x").unwrap();
    std::os::unix::fs::symlink(outside.path(), host.path().join("out")).unwrap();
    let bind = format!("{}:/data:U", host.path().display());
    let out = rpod.ok(&[
        "run",
        "--rm",
        "-u",
        "1000:2000",
        "-v",
        &bind,
        "demo",
        "sh",
        "-c",
        "touch /data/mine && stat -c '%u:%g' /data /data/sub/f /data/mine",
    ]);
    assert_eq!(out, "1000:2000\n1000:2000\n1000:2000\n");
    use std::os::unix::fs::MetadataExt;
    // The link itself was re-owned; what it points to was not.
    assert_eq!(std::fs::metadata(outside.path()).unwrap().uid(), 0);
    // A volume with U belongs to the user too.
    let out = rpod.ok(&[
        "run",
        "--rm",
        "-u",
        "1000:2000",
        "-v",
        "owned:/v:U",
        "demo",
        "stat",
        "-c",
        "%u:%g",
        "/v",
    ]);
    assert_eq!(out, "1000:2000\n");
}

#[test]
fn volume_options_of_the_local_driver() {
    let rpod = Rpod::with_image("runc");
    // A tmpfs volume: sized as asked, kept across containers until the volume goes.
    rpod.ok(&[
        "volume",
        "create",
        "--opt",
        "type=tmpfs",
        "--opt",
        "device=tmpfs",
        "--opt",
        "o=size=2m,mode=1777",
        "fast",
    ]);
    let out = rpod.ok(&[
        "run",
        "--rm",
        "-v",
        "fast:/t",
        "demo",
        "sh",
        "-c",
        "df -k /t | tail -1; stat -c %a /t; echo kept > /t/f",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("tmpfs") && lines[0].split_whitespace().nth(1) == Some("2048"),
        "{out}"
    );
    assert_eq!(lines[1], "1777");
    assert_eq!(
        rpod.ok(&["run", "--rm", "-v", "fast:/t", "demo", "cat", "/t/f"]),
        "kept\n"
    );
    // Mount counts in one listing: a device volume kept mounted counts 1, or its running
    // users; a plain volume 0, a device volume never mounted 0.
    rpod.ok(&["volume", "create", "plain"]);
    rpod.ok(&[
        "volume",
        "create",
        "--opt",
        "type=tmpfs",
        "--opt",
        "device=tmpfs",
        "unused",
    ]);
    let counts = || rpod.ok(&["volume", "ls", "--format", "{{.Name}}={{.MountCount}}"]);
    assert_eq!(counts(), "fast=1\nplain=0\nunused=0\n");
    rpod.detached(&["--name", "u1", "-v", "fast:/t", "demo", "sleep", "100"]);
    rpod.detached(&["--name", "u2", "-v", "fast:/t", "demo", "sleep", "100"]);
    assert_eq!(counts(), "fast=2\nplain=0\nunused=0\n");
    rpod.ok(&["rm", "-f", "-t", "0", "u1", "u2"]);
    rpod.ok(&["volume", "rm", "plain", "unused"]);
    // Options the kernel refuses fail the first mount, which says which.
    for (name, opts, hint) in [
        (
            "badopt",
            ["type=tmpfs", "device=tmpfs", "o=bogus"],
            r#"(the options given with o=: "bogus")"#,
        ),
        (
            "badtype",
            ["type=bogusfs", "device=x", "o=ro"],
            r#"(the kernel knows no file system type "bogusfs")"#,
        ),
    ] {
        let mut create = vec!["volume", "create"];
        for opt in &opts {
            create.extend(["--opt", opt]);
        }
        create.push(name);
        rpod.ok(&create);
        let volume = format!("{name}:/t");
        let err = rpod.fails(&["run", "--rm", "-v", &volume, "demo", "true"], 125);
        assert!(err.contains(hint), "{err}");
        rpod.ok(&["volume", "rm", name]);
    }
    let data = rpod.root().join("volumes/fast/_data");
    rpod.ok(&["volume", "rm", "fast"]);
    assert!(!data.exists());
    // A host directory bound read-only: its content survives the volume's removal.
    let host = tempfile::tempdir().unwrap();
    std::fs::write(host.path().join("k"), "host file\n").unwrap();
    let device = format!("device={}", host.path().display());
    rpod.ok(&[
        "volume",
        "create",
        "--opt",
        "type=none",
        "--opt",
        &device,
        "--opt",
        "o=bind,ro",
        "hostvol",
    ]);
    let out = rpod.run(&[
        "run",
        "--rm",
        "-v",
        "hostvol:/b",
        "demo",
        "sh",
        "-c",
        "cat /b/k; touch /b/new",
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "host file\n");
    assert!(!out.status.success(), "the read-only device was written");
    // The volume's own noexec stays, as its read-only did (the runtime's remount for the
    // volume's nosuid,nodev sets every flag anew); `exec` asked for gives it up.
    rpod.ok(&[
        "volume",
        "create",
        "--opt",
        "type=tmpfs",
        "--opt",
        "device=tmpfs",
        "--opt",
        "o=noexec",
        "noexec",
    ]);
    let flags_of = |spec: &str| {
        let out = rpod.ok(&[
            "run",
            "--rm",
            "-v",
            spec,
            "demo",
            "grep",
            " /n ",
            "/proc/mounts",
        ]);
        let options: Vec<String> = out
            .split(' ')
            .nth(3)
            .unwrap_or_default()
            .split(',')
            .map(String::from)
            .collect();
        options
    };
    let kept = flags_of("noexec:/n");
    assert!(kept.iter().any(|o| o == "noexec"), "{kept:?}");
    let given_up = flags_of("noexec:/n:exec");
    assert!(!given_up.iter().any(|o| o == "noexec"), "{given_up:?}");
    rpod.ok(&["volume", "rm", "hostvol"]);
    assert_eq!(
        std::fs::read_to_string(host.path().join("k")).unwrap(),
        "host file\n"
    );
    // An owner only.
    rpod.ok(&["volume", "create", "--opt", "o=uid=1000,gid=2000", "owned"]);
    assert_eq!(
        rpod.ok(&["run", "--rm", "-v", "owned:/o", "demo", "stat", "-c", "%u:%g", "/o"]),
        "1000:2000\n"
    );
    let inspect = rpod.ok(&["volume", "inspect", "--format", "{{.Options}}", "owned"]);
    assert!(inspect.contains("uid=1000"), "{inspect}");
}

#[test]
fn a_volume_mount_makes_its_volume_with_the_options_given() {
    let rpod = Rpod::with_image("crun");
    let tmpfs_of = |size: &str| {
        format!(
            r#"type=volume,src=fresh,dst=/t,volume-opt=type=tmpfs,volume-opt=device=tmpfs,"volume-opt=o=size={size},mode=0700",volume-label=team=db"#
        )
    };
    let df = ["sh", "-c", "df -k /t | tail -1; stat -c %a /t"];
    let sized = |out: &str| {
        let first = out.lines().next().unwrap_or_default().to_string();
        assert!(first.starts_with("tmpfs"), "{out}");
        first
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_string()
    };
    let mut line = vec!["run", "--rm", "--mount"];
    let first = tmpfs_of("1m");
    line.push(&first);
    line.push("demo");
    line.extend(df);
    let out = rpod.ok(&line);
    assert_eq!(sized(&out), "1024");
    assert!(out.ends_with("700\n"), "{out}");
    assert_eq!(
        rpod.ok(&[
            "volume",
            "inspect",
            "--format",
            "{{.Options.o}} {{.Labels.team}}",
            "fresh"
        ])
        .trim(),
        "size=1m,mode=0700 db"
    );
    // A volume that exists keeps its own options.
    let second = tmpfs_of("2m");
    line[3] = &second;
    assert_eq!(sized(&rpod.ok(&line)), "1024");
    // An anonymous volume takes them too.
    let anonymous =
        "type=volume,dst=/t,volume-opt=type=tmpfs,volume-opt=device=tmpfs,volume-opt=o=size=3m";
    line[3] = anonymous;
    assert_eq!(sized(&rpod.ok(&line)), "3072");
    // Options the local driver does not know: nothing is made.
    let volumes = rpod.ok(&["volume", "ls", "-q"]);
    let err = rpod.fails(
        &[
            "run",
            "--rm",
            "--mount",
            "type=volume,src=bad,dst=/t,volume-opt=bogus=1",
            "demo",
            "true",
        ],
        125,
    );
    assert!(err.contains("bogus"), "{err}");
    assert_eq!(rpod.ok(&["volume", "ls", "-q"]), volumes);
    assert_eq!(rpod.ok(&["ps", "-aq"]), "");
}

#[test]
fn a_new_volume_is_given_to_its_first_containers_user() {
    let rpod = Rpod::with_image("crun");
    let fields = |name: &str| {
        rpod.ok(&[
            "volume",
            "inspect",
            "--format",
            "{{.NeedsChown}} {{.NeedsCopyUp}} {{.UID}}:{{.GID}} {{.MountCount}}",
            name,
        ])
    };
    rpod.ok(&["volume", "create", "fresh"]);
    assert_eq!(fields("fresh"), "true true 0:0 0\n");
    // podman's JSON, in its order, leaves out what is false or zero.
    let json = rpod.ok(&["volume", "inspect", "fresh"]);
    let order = [
        "Name",
        "Driver",
        "Mountpoint",
        "CreatedAt",
        "Labels",
        "Scope",
        "Options",
        "MountCount",
        "NeedsCopyUp",
        "NeedsChown",
    ];
    let places: Vec<usize> = order
        .iter()
        .map(|key| json.find(&format!("\"{key}\":")).expect(key))
        .collect();
    assert!(places.windows(2).all(|w| w[0] < w[1]), "{json}");
    assert!(
        !json.contains("\"UID\"") && !json.contains("Anonymous"),
        "{json}"
    );

    // The first container's user can write to a place the image does not have.
    let run_as = |user: &str, volume: &str, script: &str| {
        rpod.ok(&[
            "run", "--rm", "-u", user, "-v", volume, "demo", "sh", "-c", script,
        ])
    };
    assert_eq!(
        run_as(
            "1000:1001",
            "fresh:/data",
            "touch /data/x && stat -c %u:%g /data"
        ),
        "1000:1001\n"
    );
    // Once: the next container's user gets nothing, and nothing was copied up.
    assert_eq!(fields("fresh"), "false true 1000:1001 0\n");
    assert_eq!(
        run_as("2000", "fresh:/data", "stat -c %u:%g /data"),
        "1000:1001\n"
    );
    // At a place the image has, the volume takes that directory's owner and mode.
    rpod.ok(&["volume", "create", "scratch"]);
    assert_eq!(
        run_as(
            "1000",
            "scratch:/tmp",
            "touch /tmp/x && stat -c '%u:%g %a' /tmp"
        ),
        "0:0 1777\n"
    );
    // A volume the image had nothing for is filled by a later container that has.
    rpod.ok(&["volume", "create", "late"]);
    run_as("0", "late:/nothing/here", "true");
    assert_eq!(fields("late"), "false true 0:0 0\n");
    assert_eq!(run_as("0", "late:/etc", "ls /etc/passwd"), "/etc/passwd\n");
    assert_eq!(fields("late"), "false false 0:0 0\n");
    // A volume made with an owner keeps it.
    rpod.ok(&["volume", "create", "--opt", "o=uid=1234,gid=55", "owned"]);
    assert_eq!(fields("owned"), "false true 1234:55 0\n");
    assert_eq!(
        run_as("1000", "owned:/data", "stat -c %u:%g /data"),
        "1234:55\n"
    );
    // A host directory bound as a volume keeps its owner (podman would give it away).
    let host = tempfile::tempdir().unwrap();
    std::os::unix::fs::chown(host.path(), Some(4321), Some(4321)).unwrap();
    let device = format!("device={}", host.path().display());
    rpod.ok(&[
        "volume",
        "create",
        "--opt",
        "type=none",
        "--opt",
        &device,
        "--opt",
        "o=bind",
        "hostdir",
    ]);
    assert_eq!(fields("hostdir"), "false true 0:0 0\n");
    assert_eq!(
        run_as("1000", "hostdir:/data", "stat -c %u /data"),
        "4321\n"
    );
    // A device's mounts are counted: the running containers using it, 1 while it stays
    // mounted with none.
    rpod.ok(&[
        "volume",
        "create",
        "--opt",
        "type=tmpfs",
        "--opt",
        "device=tmpfs",
        "fast",
    ]);
    assert_eq!(fields("fast"), "true true 0:0 0\n");
    for name in ["one", "two"] {
        rpod.ok(&[
            "run",
            "-d",
            "--name",
            name,
            "-v",
            "fast:/data",
            "demo",
            "sleep",
            "100",
        ]);
    }
    assert_eq!(fields("fast"), "false true 0:0 2\n");
    rpod.ok(&["rm", "-f", "-t", "0", "one", "two"]);
    assert_eq!(fields("fast"), "false true 0:0 1\n");
    rpod.ok(&["volume", "unmount", "fast"]);
    assert_eq!(fields("fast"), "false true 0:0 0\n");
    // Templates see every field (`{{.Anonymous}}`), times as Go prints them; the table's
    // headers are podman's.
    let table = rpod.ok(&[
        "volume",
        "ls",
        "--filter",
        "name=fresh",
        "--format",
        "table {{.Name}}\t{{.Anonymous}}\t{{.NeedsCopyUp}}\t{{.CreatedAt}}",
    ]);
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].starts_with("VOLUME NAME") && lines[0].contains("NEEDS COPY UP"),
        "{table}"
    );
    assert!(
        lines[1].starts_with("fresh") && lines[1].ends_with(" +0000 UTC"),
        "{table}"
    );
    assert!(lines[1].contains("false"), "{table}");
}

#[test]
fn volume_filters_all_and_timeouts_as_podman() {
    let rpod = Rpod::with_image("runc");
    rpod.ok(&[
        "volume", "create", "--label", "team=a", "--label", "tier=db", "alpha",
    ]);
    rpod.ok(&[
        "volume",
        "create",
        "--label",
        "team=b",
        "-o",
        "o=size=1m",
        "-o",
        "type=tmpfs",
        "-o",
        "device=tmpfs",
        "beta",
    ]);
    rpod.ok(&["volume", "create", "gamma"]);
    rpod.ok(&["create", "--name", "user", "-v", "gamma:/g", "demo", "true"]);
    let names = |filters: &[&str]| {
        let mut args = vec!["volume", "ls", "--noheading", "--format", "{{.Name}}"];
        for f in filters {
            args.extend_from_slice(&["--filter", f]);
        }
        rpod.ok(&args)
            .lines()
            .map(String::from)
            .collect::<Vec<_>>()
            .join(",")
    };
    assert_eq!(names(&[]), "alpha,beta,gamma");
    assert_eq!(names(&["dangling=true"]), "alpha,beta");
    assert_eq!(names(&["dangling=false"]), "gamma");
    assert_eq!(names(&["label=team=a", "label=tier"]), "alpha");
    assert_eq!(names(&["label!=team"]), "gamma");
    assert_eq!(names(&["name=alpha", "name=gamma"]), "alpha,gamma");
    assert_eq!(names(&["opt=type=tmpfs"]), "beta");
    assert_eq!(names(&["until=2000-01-01"]), "");
    assert_eq!(names(&["until=1h", "scope=local"]), "");
    assert!(rpod.ok(&["volume", "ls"]).starts_with("DRIVER"));
    // None listed: no header either, as podman's; json is still a list.
    let none = ["volume", "ls", "--filter", "name=nosuch"];
    assert_eq!(rpod.ok(&none), "");
    assert_eq!(
        rpod.ok(&[&none[..], &["--format", "json"]].concat()).trim(),
        "[]"
    );
    for bad in ["colour=red", "dangling=maybe", "until=soon", "nokey"] {
        rpod.fails(&["volume", "ls", "--filter", bad], 125);
    }
    // inspect --all.
    let all = rpod.ok(&["volume", "inspect", "--all", "--format", "{{.Name}}"]);
    assert_eq!(all, "alpha\nbeta\ngamma\n");
    rpod.fails(&["volume", "inspect", "--all", "alpha"], 125);
    // prune --filter: label and label! only pick among the unused.
    rpod.fails(&["volume", "prune", "-f", "--filter", "name=alpha"], 125);
    assert_eq!(
        rpod.ok(&["volume", "prune", "-f", "--filter", "label=team=b"]),
        "beta\n"
    );
    assert_eq!(
        rpod.ok(&["volume", "prune", "-f", "--filter", "label!=tier"]),
        ""
    );
    assert_eq!(names(&[]), "alpha,gamma");
    // rm -f -t: a running user is stopped (within the time given), then removed with
    // the volume.
    rpod.ok(&["rm", "user"]);
    rpod.detached(&["--name", "runner", "-v", "gamma:/g", "demo", "sleep", "300"]);
    assert_eq!(
        rpod.ok(&["volume", "rm", "-f", "-t", "0", "gamma"]),
        "gamma\n"
    );
    assert_eq!(rpod.ok(&["ps", "-aq"]), "");
    assert_eq!(names(&[]), "alpha");
    // rm --all: not with names; of no volume at all, nothing to do (exit 0), as podman's.
    rpod.fails(&["volume", "rm", "--all", "alpha"], 125);
    assert_eq!(rpod.ok(&["volume", "rm", "--all"]), "alpha\n");
    assert_eq!(rpod.ok(&["volume", "rm", "-fa"]), "");
    rpod.fails(&["volume", "rm"], 125);
}

#[test]
fn volume_export_import_mount_and_unmount() {
    let rpod = Rpod::with_image("runc");
    rpod.ok(&["volume", "create", "source"]);
    // A fifo and a device node too: unpacked as what they are (the tar crate alone writes
    // empty files for them), with their modes.
    rpod.ok(&[
        "run", "--rm", "--cap-add", "MKNOD", "-v", "source:/v", "demo", "sh", "-c",
        "mkdir /v/d && echo hi > /v/d/f && chown 33:44 /v/d/f && chmod 640 /v/d/f && ln -s d/f /v/l \
         && mkfifo -m 662 /v/d/p && mknod -m 666 /v/d/n c 1 3",
    ]);
    let archive = rpod.dir.path().join("source.tar");
    let archive = archive.display().to_string();
    rpod.ok(&["volume", "export", "-o", &archive, "source"]);
    // Into a volume with content of its own: added, same names replaced.
    rpod.ok(&["volume", "create", "copy"]);
    rpod.ok(&[
        "run",
        "--rm",
        "-v",
        "copy:/v",
        "demo",
        "sh",
        "-c",
        "echo old > /v/l; echo keep > /v/k",
    ]);
    rpod.ok(&["volume", "import", "copy", &archive]);
    assert_eq!(
        rpod.ok(&[
            "run",
            "--rm",
            "-v",
            "copy:/v",
            "demo",
            "sh",
            "-c",
            "cat /v/l /v/k; stat -c '%u:%g %a' /v/d/f; readlink /v/l; \
             stat -c '%F %a %t:%T' /v/d/p /v/d/n"
        ]),
        "hi\nkeep\n33:44 640\nd/f\nfifo 662 0:0\ncharacter special file 666 1:3\n"
    );
    // From standard input; bad archives and unknown volumes are refused.
    rpod.ok(&["volume", "create", "piped"]);
    let out = pipe_through(
        &mut rpod.command(&["volume", "import", "piped", "-"]),
        &std::fs::read(&archive).unwrap(),
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        rpod.ok(&["run", "--rm", "-v", "piped:/v", "demo", "cat", "/v/d/f"]),
        "hi\n"
    );
    let junk = rpod.dir.path().join("junk.tar");
    std::fs::write(
        &junk,
        b"not a tar archive at all, but longer than a block? no",
    )
    .unwrap();
    let err = rpod.fails(
        &["volume", "import", "piped", &junk.display().to_string()],
        125,
    );
    assert!(!err.is_empty());
    // An entry climbing out of the volume is refused by name, as podman refuses it (the
    // tar crate alone skipped it without a word).
    let climbing = rpod.dir.path().join("climbing.tar");
    std::fs::write(&climbing, climbing_tar("../../outside")).unwrap();
    let err = rpod.fails(
        &["volume", "import", "piped", &climbing.display().to_string()],
        125,
    );
    assert!(
        err.contains(r#""../../outside" is outside of the destination"#),
        "{err}"
    );
    rpod.fails(&["volume", "export", "nosuch"], 125);
    // mount: a tmpfs volume's device mounted, its path printed; unmount undoes it.
    rpod.ok(&[
        "volume",
        "create",
        "--opt",
        "type=tmpfs",
        "--opt",
        "device=tmpfs",
        "--opt",
        "o=size=1m",
        "fast",
    ]);
    let path = rpod.ok(&["volume", "mount", "fast"]);
    let path = path.trim();
    let mounted = || {
        std::fs::read_to_string("/proc/mounts")
            .unwrap()
            .contains(&format!(" {path} tmpfs "))
    };
    assert!(mounted(), "{path}");
    assert_eq!(rpod.ok(&["volume", "unmount", "fast"]), "fast\n");
    assert!(!mounted());
    // Refused while a running container uses it.
    rpod.detached(&["--name", "user", "-v", "fast:/f", "demo", "sleep", "300"]);
    rpod.fails(&["volume", "unmount", "fast"], 125);
    rpod.ok(&["rm", "-f", "-t", "0", "user"]);
    assert_eq!(
        rpod.ok(&["volume", "mount", "source"]).trim(),
        rpod.root()
            .join("volumes/source/_data")
            .display()
            .to_string()
    );
}

/// A tar of one file whose path is `path` as written (the tar crate refuses `..` in a path
/// it is given).
fn climbing_tar(path: &str) -> Vec<u8> {
    let mut header = tar::Header::new_old();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_mode(0o644);
    header.set_size(5);
    header.as_old_mut().name[..path.len()].copy_from_slice(path.as_bytes());
    header.set_cksum();
    let mut archive = tar::Builder::new(Vec::new());
    archive.append(&header, &b"pwned"[..]).unwrap();
    archive.into_inner().unwrap()
}

/// `--mount ...,subpath=`: only that path of a volume (or a bind's source) is mounted, made
/// when missing; a link the volume holds is resolved inside the volume, never out of it
/// (a container wrote it: it must not reach the host's root), or refused; `cp` into a
/// container that is not running reaches the same directory; nothing stays bound after
/// the container; `..`, and a tmpfs, are refused.
#[test]
fn subpath_mounts_stay_inside_their_source() {
    let rpod = Rpod::with_image("crun");
    rpod.ok(&["volume", "create", "sv"]);
    rpod.ok(&[
        "run",
        "--rm",
        "-v",
        "sv:/data",
        "demo",
        "sh",
        "-c",
        "mkdir -p /data/a/b && echo inner > /data/a/b/f && ln -s / /data/escape \
         && ln -s /etc/hostname /data/escfile && echo top > /data/top",
    ]);
    let with = |subpath: &str, command: &[&str]| {
        let mount = format!("type=volume,src=sv,dst=/x,subpath={subpath}");
        let mut args = vec!["run", "--rm", "--mount", mount.as_str(), "demo"];
        args.extend_from_slice(command);
        rpod.run(&args)
    };
    assert_eq!(with("a/b", &["ls", "/x"]).stdout, b"f\n");
    // The link to / leads to the volume's own top.
    let escaped = String::from_utf8_lossy(&with("escape", &["ls", "/x"]).stdout).into_owned();
    assert!(
        escaped.contains("top") && !escaped.contains("proc"),
        "{escaped}"
    );
    let out = with("escfile", &["cat", "/x"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("symbolic link"),
        "{out:?}"
    );
    assert!(with("made/here", &["test", "-d", "/x"]).status.success());
    assert_eq!(
        rpod.ok(&["run", "--rm", "-v", "sv:/data", "demo", "ls", "/data/made"]),
        "here\n"
    );
    // cp into a stopped container lands in the subpath.
    let host = tempfile::tempdir().unwrap();
    std::fs::write(host.path().join("copied"), "through cp\n").unwrap();
    rpod.ok(&[
        "create",
        "--name",
        "sub",
        "--mount",
        "type=volume,src=sv,dst=/x,subpath=a",
        "demo",
        "true",
    ]);
    rpod.ok(&[
        "cp",
        &host.path().join("copied").display().to_string(),
        "sub:/x/copied",
    ]);
    assert_eq!(
        rpod.ok(&[
            "run",
            "--rm",
            "-v",
            "sv:/data",
            "demo",
            "cat",
            "/data/a/copied"
        ]),
        "through cp\n"
    );
    rpod.ok(&["rm", "sub"]);
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap();
    assert!(
        !mounts.contains(&rpod.runroot().join("subpaths").display().to_string()),
        "{mounts}"
    );
    for (mount, says) in [
        ("type=volume,src=sv,dst=/x,subpath=../up", "without .."),
        ("type=tmpfs,dst=/x,subpath=a", "not a tmpfs"),
        ("type=volume,src=sv,dst=/x,subpath=a,U", "U, idmap or O"),
    ] {
        let err = rpod.fails(&["run", "--rm", "--mount", mount, "demo", "true"], 125);
        assert!(err.contains(says), "{mount}: {err}");
    }
}

/// A volume plugin speaking Docker's protocol on a Unix socket: its volumes are
/// directories under `base`; it refuses to create a volume given `fail=...` and to remove
/// one whose name begins with `keep`. Every request is logged (`Method Name`).
struct FakeVolumePlugin {
    socket: std::path::PathBuf,
    base: std::path::PathBuf,
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl FakeVolumePlugin {
    fn start(dir: &std::path::Path) -> FakeVolumePlugin {
        use std::io::{Read, Write};
        let socket = dir.join("fake-plugin.sock");
        let base = dir.join("fake-plugin-volumes");
        std::fs::create_dir_all(&base).unwrap();
        let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (served_log, served_base) = (log.clone(), base.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut request = Vec::new();
                let mut buf = [0u8; 8192];
                let (head, body) = loop {
                    let Ok(n) = stream.read(&mut buf) else {
                        break (String::new(), String::new());
                    };
                    if n == 0 {
                        break (String::new(), String::new());
                    }
                    request.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&request).to_string();
                    let Some(end) = text.find("\r\n\r\n") else {
                        continue;
                    };
                    let length: usize = text[..end]
                        .lines()
                        .find_map(|l| l.strip_prefix("Content-Length: "))
                        .map_or(0, |v| v.trim().parse().unwrap());
                    if request.len() >= end + 4 + length {
                        break (text[..end].to_string(), text[end + 4..].to_string());
                    }
                };
                let path = head.split(' ').nth(1).unwrap_or("").to_string();
                let body: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
                let name = body["Name"].as_str().unwrap_or("").to_string();
                let method = path.trim_start_matches('/').to_string();
                served_log
                    .lock()
                    .unwrap()
                    .push(format!("{method} {name}").trim().to_string());
                let dir = served_base.join(&name);
                let answer = match method.as_str() {
                    "Plugin.Activate" => serde_json::json!({"Implements": ["VolumeDriver"]}),
                    "VolumeDriver.Create" if body["Opts"].get("fail").is_some() => {
                        serde_json::json!({"Err": format!("cannot make {name}: asked to fail")})
                    }
                    "VolumeDriver.Create" => {
                        std::fs::create_dir_all(&dir).unwrap();
                        serde_json::json!({"Err": ""})
                    }
                    "VolumeDriver.Remove" if name.starts_with("keep") => {
                        serde_json::json!({"Err": format!("{name} is kept")})
                    }
                    "VolumeDriver.Remove" => match std::fs::remove_dir_all(&dir) {
                        Ok(()) => serde_json::json!({"Err": ""}),
                        Err(e) => serde_json::json!({"Err": e.to_string()}),
                    },
                    "VolumeDriver.Mount" => {
                        serde_json::json!({"Mountpoint": dir.display().to_string(), "Err": ""})
                    }
                    "VolumeDriver.Unmount" => serde_json::json!({"Err": ""}),
                    "VolumeDriver.List" => {
                        let names: Vec<serde_json::Value> = std::fs::read_dir(&served_base)
                            .unwrap()
                            .map(|e| {
                                let e = e.unwrap();
                                serde_json::json!({
                                    "Name": e.file_name().to_string_lossy(),
                                    "Mountpoint": e.path().display().to_string(),
                                })
                            })
                            .collect();
                        serde_json::json!({"Volumes": names, "Err": ""})
                    }
                    _ => serde_json::json!({"Err": format!("unknown method {method}")}),
                };
                let answer = answer.to_string();
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.plugins.v1+json\r\n\
                     Content-Length: {}\r\n\r\n{answer}",
                    answer.len()
                );
            }
        });
        FakeVolumePlugin { socket, base, log }
    }

    /// The requests since the last look.
    fn requests(&self) -> Vec<String> {
        std::mem::take(&mut *self.log.lock().unwrap())
    }
}

/// Volumes of a volume plugin (rpod.conf's `[engine.volume_plugins]`): made, mounted for
/// containers (their data in the plugin's storage), unmounted, removed and reloaded through
/// Docker's volume plugin protocol, with the plugin's refusals passed on.
#[test]
fn volume_plugins_make_mount_and_remove_volumes() {
    let plugin_dir = tempfile::tempdir().unwrap();
    let plugin = FakeVolumePlugin::start(plugin_dir.path());
    let config = format!(
        "{NO_NETWORK_CONFIG}\n[engine.volume_plugins]\nfake = \"{}\"\nabsent = \"{}\"\n",
        plugin.socket.display(),
        plugin_dir.path().join("absent.sock").display()
    );
    let rpod = Rpod::with_config("crun", &config);
    rpod.ok(&["import", &busybox_tarball().display().to_string(), "demo"]);

    assert_eq!(
        rpod.ok(&["volume", "create", "--driver", "fake", "-o", "size=1g", "pv"]),
        "pv\n"
    );
    assert_eq!(
        plugin.requests(),
        ["Plugin.Activate", "VolumeDriver.Create pv"]
    );
    assert!(plugin.base.join("pv").is_dir());
    assert_eq!(
        rpod.ok(&[
            "volume",
            "inspect",
            "--format",
            "{{.Driver}} {{.Options}}",
            "pv"
        ]),
        "fake map[size:1g]\n"
    );
    // A container's writes land in the plugin's storage; the volume stays mounted for the
    // next one (one Mount), until `volume unmount`.
    rpod.ok(&[
        "run",
        "--rm",
        "-v",
        "pv:/data",
        "demo",
        "sh",
        "-c",
        "echo hi > /data/f",
    ]);
    assert_eq!(
        std::fs::read_to_string(plugin.base.join("pv/f")).unwrap(),
        "hi\n"
    );
    assert_eq!(
        rpod.ok(&["run", "--rm", "-v", "pv:/data", "demo", "cat", "/data/f"]),
        "hi\n"
    );
    assert_eq!(plugin.requests(), ["VolumeDriver.Mount pv"]);
    assert_eq!(
        rpod.ok(&["volume", "inspect", "--format", "{{.MountCount}}", "pv"]),
        "1\n"
    );
    rpod.ok(&["volume", "unmount", "pv"]);
    assert_eq!(plugin.requests(), ["VolumeDriver.Unmount pv"]);
    assert_eq!(
        rpod.ok(&["volume", "inspect", "--format", "{{.MountCount}}", "pv"]),
        "0\n"
    );
    // A mount point the plugin names that cannot be bound (gone here): the mount fails
    // saying where, the plugin is told to unmount it again, and no container starts.
    rpod.ok(&["volume", "create", "--driver", "fake", "lost"]);
    std::fs::remove_dir_all(plugin.base.join("lost")).unwrap();
    plugin.requests();
    let err = rpod.fails(&["volume", "mount", "lost"], 125);
    assert!(
        err.contains(&plugin.base.join("lost").display().to_string()),
        "{err}"
    );
    assert_eq!(
        plugin.requests(),
        ["VolumeDriver.Mount lost", "VolumeDriver.Unmount lost"]
    );
    rpod.fails(&["run", "--rm", "-v", "lost:/d", "demo", "true"], 125);
    assert_eq!(
        plugin.requests(),
        ["VolumeDriver.Mount lost", "VolumeDriver.Unmount lost"]
    );
    assert_eq!(rpod.ok(&["ps", "-aq"]), "");
    assert_eq!(
        rpod.ok(&["volume", "inspect", "--format", "{{.MountCount}}", "lost"]),
        "0\n"
    );
    std::fs::create_dir(plugin.base.join("lost")).unwrap();
    rpod.ok(&["volume", "rm", "lost"]);
    plugin.requests();

    // The plugin's refusal is said, and nothing is recorded; so for a plugin rpod.conf
    // does not name, or one that is not there.
    let err = rpod.fails(
        &["volume", "create", "-d", "fake", "-o", "fail=1", "bad"],
        125,
    );
    assert!(
        err.contains("volume plugin fake: cannot make bad: asked to fail"),
        "{err}"
    );
    rpod.fails(&["volume", "exists", "bad"], 1);
    assert!(!rpod.root().join("volumes/bad").exists());
    let err = rpod.fails(&["volume", "create", "-d", "nope", "x"], 125);
    assert!(err.contains("no volume plugin named \"nope\""), "{err}");
    let err = rpod.fails(&["volume", "create", "-d", "absent", "x"], 125);
    assert!(
        err.contains("volume plugin absent: /Plugin.Activate on"),
        "{err}"
    );
    plugin.requests();

    // reload: a volume the plugin made alone is recorded, one it no longer has forgotten
    // (the unreachable plugin is said, its volumes untouched).
    rpod.ok(&["volume", "create", "-d", "fake", "gone"]);
    std::fs::remove_dir_all(plugin.base.join("gone")).unwrap();
    std::fs::create_dir(plugin.base.join("outside")).unwrap();
    let out = rpod.run(&["volume", "reload"]);
    assert_eq!(out.status.code(), Some(125));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Added:\noutside\nRemoved:\ngone\n"
    );
    assert!(
        stderr_of(&out).contains("volume plugin absent"),
        "{}",
        stderr_of(&out)
    );
    assert_eq!(rpod.ok(&["volume", "ls", "-q"]), "outside\npv\n");
    assert_eq!(
        rpod.ok(&["volume", "inspect", "--format", "{{.Driver}}", "outside"]),
        "fake\n"
    );
    // One it no longer has while a container uses it is kept, and said; a name the
    // store cannot hold is said, not recorded.
    rpod.ok(&["volume", "create", "-d", "fake", "used"]);
    rpod.ok(&["create", "--name", "user", "-v", "used:/d", "demo", "true"]);
    std::fs::remove_dir_all(plugin.base.join("used")).unwrap();
    std::fs::create_dir(plugin.base.join("bad name")).unwrap();
    let out = rpod.run(&["volume", "reload"]);
    assert_eq!(out.status.code(), Some(125));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "");
    let err = stderr_of(&out);
    assert!(
        err.contains("volume used is gone from plugin fake but containers use it"),
        "{err}"
    );
    assert!(
        err.contains("a volume named \"bad name\" cannot be recorded"),
        "{err}"
    );
    rpod.ok(&["volume", "exists", "used"]);
    rpod.ok(&["rm", "user"]);
    std::fs::remove_dir(plugin.base.join("bad name")).unwrap();
    let out = rpod.run(&["volume", "reload"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "Removed:\nused\n");

    // Removal: the plugin removes the volume (unmounted first); its refusal keeps it.
    rpod.ok(&["run", "--rm", "-v", "pv:/data", "demo", "true"]);
    plugin.requests();
    rpod.ok(&["volume", "rm", "pv"]);
    assert_eq!(
        plugin.requests(),
        ["VolumeDriver.Unmount pv", "VolumeDriver.Remove pv"]
    );
    assert!(!plugin.base.join("pv").exists());
    rpod.ok(&["volume", "create", "-d", "fake", "keepme"]);
    let err = rpod.fails(&["volume", "rm", "keepme"], 125);
    assert!(err.contains("volume plugin fake: keepme is kept"), "{err}");
    rpod.ok(&["volume", "exists", "keepme"]);
    rpod.ok(&["volume", "rm", "outside"]);
    assert_eq!(rpod.ok(&["volume", "ls", "-q"]), "keepme\n");
    // A reset forgets it all the same; the plugin keeps its data.
    rpod.ok(&["system", "reset", "-f"]);
    assert_eq!(rpod.ok(&["volume", "ls", "-q"]), "");
    assert!(plugin.base.join("keepme").is_dir());
}

/// `--mount type=image`: another image's files, read-only unless `rw`, what a writable
/// one gets gone at the next start; `subpath=` resolved inside the image (its link to `/`
/// leads to the image's own top); `cp` out of it; the image cannot be removed while a
/// container mounts it (`rmi -f` removes the container); nothing stays mounted after the
/// containers; an image not known, or no source, is refused at create. In a user
/// namespace, the image's files are the container's own. `--mount type=devpts`: a devpts
/// instance with podman's options.
#[test]
fn image_and_devpts_mounts() {
    let rpod = Rpod::with_image("crun");
    let tarball = busybox_with(&[
        ("opt/", ""),
        ("opt/tool", "tool v1\n"),
        ("opt/escape", "-> /"),
    ]);
    rpod.ok(&["import", &tarball.path().display().to_string(), "tools"]);
    let mounted = |spec: &str, script: &str| {
        rpod.run(&["run", "--rm", "--mount", spec, "demo", "sh", "-c", script])
    };
    let out = mounted(
        "type=image,source=tools,destination=/t",
        "cat /t/opt/tool; touch /t/x",
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "tool v1\n");
    assert!(String::from_utf8_lossy(&out.stderr).contains("Read-only file system"));
    let out = mounted(
        "type=image,src=tools,dst=/t,subpath=opt/escape",
        "ls /t; test -e /t/proc/1 || echo not-the-host",
    );
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(
        listed.contains("opt") && listed.contains("not-the-host"),
        "{out:?}"
    );
    assert_eq!(
        mounted("type=image,src=tools,dst=/t,image-subpath=opt", "ls /t").stdout,
        b"escape\ntool\n"
    );

    // Writable: what one run writes, the next does not see.
    rpod.ok(&[
        "create",
        "--name",
        "writer",
        "--mount",
        "type=image,source=tools,destination=/t,rw=true",
        "demo",
        "sh",
        "-c",
        "cat /t/opt/new 2>/dev/null; echo written > /t/opt/new; cat /t/opt/new",
    ]);
    for _ in 0..2 {
        assert_eq!(rpod.ok(&["start", "-a", "writer"]), "written\n");
    }
    let copied = tempfile::tempdir().unwrap();
    rpod.ok(&[
        "cp",
        "writer:/t/opt/tool",
        &copied.path().display().to_string(),
    ]);
    assert_eq!(
        std::fs::read_to_string(copied.path().join("tool")).unwrap(),
        "tool v1\n"
    );
    let inspected = rpod.ok(&["inspect", "--format", "{{json .Mounts}}", "writer"]);
    assert!(
        inspected.contains(r#""Type":"image""#) && inspected.contains(r#""Source":"tools""#),
        "{inspected}"
    );
    // generate spec says it whole (podman-remote's image_volumes), nothing left out.
    let spec = rpod.run(&["generate", "spec", "writer"]);
    let written = String::from_utf8_lossy(&spec.stdout);
    assert!(
        written.contains("image_volumes") && spec.stderr.is_empty(),
        "{spec:?}"
    );
    let said = rpod.fails(&["rmi", "tools"], 2);
    assert!(said.contains("in use"), "{said}");
    let image_volumes = rpod.runroot().join("image-volumes").display().to_string();
    let running = rpod.ok(&[
        "run",
        "-d",
        "--mount",
        "type=image,source=tools,destination=/t",
        "demo",
        "sleep",
        "100",
    ]);
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap();
    assert!(mounts.contains(&image_volumes), "{mounts}");
    rpod.ok(&["rm", "-f", "-t", "0", running.trim()]);
    rpod.ok(&["rmi", "-f", "tools"]);
    assert_eq!(rpod.ok(&["ps", "-a", "-q"]), "");
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap();
    assert!(!mounts.contains(&image_volumes), "{mounts}");

    for (spec, says) in [
        ("type=image,source=tools,destination=/t", "image not known"),
        ("type=image,destination=/t", "needs a source"),
        (
            "type=image,source=demo,destination=/t,ro",
            "invalid mount option",
        ),
        (
            "type=devpts,destination=/p,uid=nobody",
            "invalid devpts option",
        ),
        (
            "type=glob,source=/etc/host*,destination=/g",
            "not supported",
        ),
    ] {
        let said = rpod.fails(&["run", "--rm", "--mount", spec, "demo", "true"], 125);
        assert!(said.contains(says), "{spec}: {said}");
    }
    assert_eq!(rpod.ok(&["ps", "-a", "-q"]), "");

    let out = rpod.ok(&[
        "run",
        "--rm",
        "--mount",
        "type=devpts,destination=/dev/pts2,uid=5,gid=5,mode=600,max=10",
        "demo",
        "grep",
        "/dev/pts2",
        "/proc/mounts",
    ]);
    assert!(out.starts_with("devpts /dev/pts2 devpts "), "{out}");
    for option in ["uid=5", "gid=5", "mode=600", "max=10"] {
        assert!(out.contains(option), "{option}: {out}");
    }
}
