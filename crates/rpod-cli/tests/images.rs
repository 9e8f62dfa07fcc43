//! End-to-end image handling: import, load, save, images, tag, rmi, exists, inspect.

mod common;

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::Command;

use common::{busybox_tarball, Rpod};

fn image_id(rpod: &Rpod, name: &str) -> String {
    rpod.ok(&["image", "inspect", "--format", "{{.Id}}", name])
        .trim()
        .to_string()
}

fn layer_dirs(rpod: &Rpod) -> usize {
    fs::read_dir(rpod.root().join("images/layers"))
        .map(|d| d.count())
        .unwrap_or(0)
}

fn tmp_entries(rpod: &Rpod) -> usize {
    fs::read_dir(rpod.root().join("tmp"))
        .map(|d| d.count())
        .unwrap_or(0)
}

#[test]
fn import_applies_changes() {
    let rpod = Rpod::new("runc");
    let tarball = busybox_tarball().display().to_string();
    let id = rpod.ok(&[
        "import",
        "--change",
        "CMD [\"sh\", \"-c\", \"echo $GREETING from $(pwd)\"]",
        "--change",
        "ENV GREETING=hello",
        "--change",
        "WORKDIR /srv",
        "--change",
        "LABEL owner=me",
        "--change",
        "STOPSIGNAL SIGINT",
        &tarball,
        "greeter",
    ]);
    assert_eq!(id.trim().len(), 64);
    let config = rpod.ok(&[
        "image",
        "inspect",
        "--format",
        "{{json .Config}}",
        "greeter",
    ]);
    let config: serde_json::Value = serde_json::from_str(&config).unwrap();
    assert_eq!(
        config["Cmd"],
        serde_json::json!(["sh", "-c", "echo $GREETING from $(pwd)"])
    );
    assert_eq!(config["Env"], serde_json::json!(["GREETING=hello"]));
    assert_eq!(config["WorkingDir"], "/srv");
    assert_eq!(config["Labels"]["owner"], "me");
    let out = rpod.run(&["run", "--rm", "greeter"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "hello from /srv\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ctr = rpod.ok(&["create", "greeter"]).trim().to_string();
    // The image's CMD is the container's command; it has no entrypoint.
    let cmd = rpod.inspect(&ctr, "{{json .Config.Cmd}} {{json .Config.Entrypoint}}");
    assert_eq!(cmd, r#"["sh","-c","echo $GREETING from $(pwd)"] """#);
    let with_entrypoint = rpod.ok(&["create", "--entrypoint", "echo", "greeter", "a", "b"]);
    let cmd = rpod.inspect(
        with_entrypoint.trim(),
        "{{json .Config.Cmd}} {{json .Config.Entrypoint}}",
    );
    assert_eq!(cmd, r#"["a","b"] "echo""#);
    assert_eq!(
        rpod.inspect(&ctr, "{{.Config.StopSignal}} {{.Config.Labels.owner}}"),
        "SIGINT me"
    );
    // A bad change adds nothing. (The name is not hexadecimal: "bad" would also be taken
    // as the prefix of an image ID, and one in 4096 IDs begins so.)
    let err = rpod.fails(
        &["import", "--change", "FROM scratch", &tarball, "refused"],
        125,
    );
    assert!(err.contains("FROM"), "{err}");
    assert_eq!(
        rpod.run(&["image", "exists", "refused"]).status.code(),
        Some(1)
    );
    // Standard input works as a source.
    let mut child = rpod
        .command(&["import", "-", "fromstdin"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&fs::read(busybox_tarball()).unwrap())
        .unwrap();
    assert!(child.wait_with_output().unwrap().status.success());
    assert_eq!(
        rpod.run(&["image", "exists", "fromstdin"]).status.code(),
        Some(0)
    );
}

/// A root file system archived without an entry for its top (`tar c bin etc ...`, the top
/// layers of most images) gives the container a `/` of 0755 that its users can list (it
/// was rpod's umask, 0700).
#[test]
fn an_archive_without_its_top_gives_a_usable_root() {
    let rpod = Rpod::new("crun");
    let mut archive = tar::Builder::new(Vec::new());
    let mut source = tar::Archive::new(std::fs::File::open(busybox_tarball()).unwrap());
    for entry in source.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().display().to_string();
        if path == "./" || path == "." {
            continue;
        }
        let header = entry.header().clone();
        archive.append(&header, &mut entry).unwrap();
    }
    let tarball = rpod.dir.path().join("noroot.tar");
    std::fs::write(&tarball, archive.into_inner().unwrap()).unwrap();
    rpod.ok(&["import", &tarball.display().to_string(), "noroot"]);
    let out = rpod.ok(&[
        "run",
        "--rm",
        "--user",
        "1000",
        "noroot",
        "sh",
        "-c",
        "stat -c %a /; ls / | grep -cx bin",
    ]);
    assert_eq!(out, "755\n1\n");
}

#[test]
fn names_are_normalised_like_podman() {
    let rpod = Rpod::with_image("runc");
    let id = image_id(&rpod, "demo");
    assert_eq!(image_id(&rpod, "localhost/demo"), id);
    assert_eq!(image_id(&rpod, "localhost/demo:latest"), id);
    assert_eq!(image_id(&rpod, &id[..12]), id);
    assert_eq!(image_id(&rpod, &format!("sha256:{id}")), id);
    rpod.ok(&[
        "tag",
        "demo",
        "other:v2",
        "quay.io/team/app:1",
        "docker.io/library/busybox",
    ]);
    let names = rpod.ok(&["image", "inspect", "--format", "{{json .RepoTags}}", "demo"]);
    let names: Vec<String> = serde_json::from_str(&names).unwrap();
    for expected in [
        "localhost/demo:latest",
        "localhost/other:v2",
        "quay.io/team/app:1",
        "docker.io/library/busybox:latest",
    ] {
        assert!(names.contains(&expected.to_string()), "{names:?}");
    }
    assert_eq!(
        image_id(&rpod, "busybox"),
        id,
        "busybox is docker.io/library/busybox:latest"
    );
    assert_eq!(image_id(&rpod, "other:v2"), id);
    assert_eq!(
        rpod.run(&["image", "exists", "other:v2"]).status.code(),
        Some(0)
    );
    assert_eq!(
        rpod.run(&["image", "exists", "other:v3"]).status.code(),
        Some(1)
    );
    let err = rpod.fails(&["tag", "demo", "Bad:Name"], 125);
    assert!(err.contains("lowercase"), "{err}");
    let listing = rpod.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert!(listing.contains("localhost/other:v2\n"), "{listing}");
    let table = rpod.ok(&["images"]);
    assert!(table.starts_with("REPOSITORY"), "{table}");
    for column in ["TAG", "IMAGE ID", "CREATED", "SIZE"] {
        assert!(table.lines().next().unwrap().contains(column), "{table}");
    }
    assert_eq!(rpod.ok(&["images", "-q"]), format!("{}\n", &id[..12]));
}

fn round_trip(format: &str, gzip: bool) {
    let source = Rpod::with_image("runc");
    let id = image_id(&source, "demo");
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("demo.tar");
    source.ok(&[
        "save",
        "--format",
        format,
        "-o",
        &archive.display().to_string(),
        "demo",
    ]);
    let archive = if gzip {
        let gz = dir.path().join("demo.tar.gz");
        let mut encoder = flate2::write::GzEncoder::new(
            fs::File::create(&gz).unwrap(),
            flate2::Compression::fast(),
        );
        encoder.write_all(&fs::read(&archive).unwrap()).unwrap();
        encoder.finish().unwrap();
        gz
    } else {
        archive
    };
    let target = Rpod::new("crun");
    let out = target.ok(&["load", "-i", &archive.display().to_string()]);
    assert_eq!(out, "Loaded image: localhost/demo:latest\n");
    assert_eq!(
        image_id(&target, "demo"),
        id,
        "the image id changed through {format}"
    );
    assert_eq!(
        target.ok(&["run", "--rm", "demo", "echo", "loaded"]),
        "loaded\n"
    );
}

#[test]
fn docker_archive_round_trip() {
    round_trip("docker-archive", false);
}

#[test]
fn oci_archive_round_trip() {
    round_trip("oci-archive", false);
}

#[test]
fn gzip_archives_load() {
    round_trip("docker-archive", true);
    round_trip("oci-archive", true);
}

/// An image saved as a directory loads back the same, and runs.
fn directory_round_trip(format: &str, compress: bool) {
    let source = Rpod::with_image("runc");
    let id = image_id(&source, "demo");
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("saved");
    let mut args = vec!["save", "--format", format];
    if compress {
        args.push("--compress");
    }
    let shown = saved.display().to_string();
    args.extend(["-o", &shown, "demo"]);
    source.ok(&args);
    let marker = if format == "oci-dir" {
        "index.json"
    } else {
        "version"
    };
    assert!(saved.join(marker).is_file(), "{format}");
    if compress {
        // The layer's file is gzip, named by the compressed bytes' digest.
        let manifest: serde_json::Value =
            serde_json::from_slice(&fs::read(saved.join("manifest.json")).unwrap()).unwrap();
        let digest = manifest["layers"][0]["digest"]
            .as_str()
            .unwrap()
            .to_string();
        let layer = fs::read(saved.join(digest.trim_start_matches("sha256:"))).unwrap();
        assert_eq!(&layer[..2], [0x1f, 0x8b]);
        use sha2::Digest;
        assert_eq!(
            digest,
            format!("sha256:{}", hex::encode(sha2::Sha256::digest(&layer)))
        );
    }
    let target = Rpod::new("crun");
    let out = target.ok(&["load", "-i", &shown]);
    let expected = if format == "oci-dir" {
        "Loaded image: localhost/demo:latest\n".to_string()
    } else {
        format!("Loaded image: sha256:{id}\n")
    };
    assert_eq!(out, expected);
    assert_eq!(
        image_id(&target, &id[..12]),
        id,
        "the image id changed through {format}"
    );
    assert_eq!(
        target.ok(&["run", "--rm", &id[..12], "echo", "loaded"]),
        "loaded\n"
    );
    // Only into a new or empty directory; one image.
    let err = source.fails(&args, 125);
    assert!(err.contains("is not empty"), "{err}");
    let err = source.fails(
        &[
            "save",
            "--format",
            format,
            "-o",
            &format!("{shown}2"),
            "demo",
            "demo",
        ],
        125,
    );
    assert!(err.contains("holds one image"), "{err}");
    let err = source.fails(&["save", "--format", format, "demo"], 125);
    assert!(err.contains("-o DIRECTORY"), "{err}");
}

#[test]
fn oci_dir_round_trip() {
    directory_round_trip("oci-dir", false);
}

#[test]
fn docker_dir_round_trip_plain_and_compressed() {
    directory_round_trip("docker-dir", false);
    directory_round_trip("docker-dir", true);
}

/// A directory to load is hostile input: no file of it is read through a symbolic link
/// (a blob linked to a host file, a linked `blobs` directory), and a FIFO does not hang
/// the load; nothing is loaded from a refused one.
#[test]
fn image_directories_are_read_through_no_symlink() {
    let source = Rpod::with_image("runc");
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("saved");
    source.ok(&[
        "save",
        "--format",
        "docker-dir",
        "-o",
        &saved.display().to_string(),
        "demo",
    ]);
    let id = image_id(&source, "demo");
    let copy = |name: &str| {
        let to = dir.path().join(name);
        fs::create_dir(&to).unwrap();
        for entry in fs::read_dir(&saved).unwrap() {
            let entry = entry.unwrap();
            fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
        to
    };
    let linked = copy("linked");
    fs::remove_file(linked.join(&id)).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", linked.join(&id)).unwrap();
    let target = Rpod::new("runc");
    let err = target.fails(&["load", "-i", &linked.display().to_string()], 125);
    assert!(err.contains("symbolic link"), "{err}");
    let fifo = copy("fifo");
    fs::remove_file(fifo.join("version")).unwrap();
    assert!(Command::new("mkfifo")
        .arg(fifo.join("version"))
        .status()
        .unwrap()
        .success());
    let err = target.fails(&["load", "-i", &fifo.display().to_string()], 125);
    assert!(err.contains("not a regular file"), "{err}");
    let oci = dir.path().join("oci");
    source.ok(&[
        "save",
        "--format",
        "oci-dir",
        "-o",
        &oci.display().to_string(),
        "demo",
    ]);
    let layout = dir.path().join("layout");
    fs::create_dir(&layout).unwrap();
    for name in ["index.json", "oci-layout"] {
        fs::copy(oci.join(name), layout.join(name)).unwrap();
    }
    std::os::unix::fs::symlink(oci.join("blobs"), layout.join("blobs")).unwrap();
    let err = target.fails(&["load", "-i", &layout.display().to_string()], 125);
    assert!(err.contains("symbolic link"), "{err}");
    let empty = dir.path().join("empty");
    fs::create_dir(&empty).unwrap();
    let err = target.fails(&["load", "-i", &empty.display().to_string()], 125);
    assert!(err.contains("holds no image"), "{err}");
    assert_eq!(target.ok(&["images", "-q"]), "");
}

/// `pull` from containers/image's local transports: an archive's or a layout's image, by
/// its name there when it holds several; of the kind the transport names.
#[test]
fn pull_takes_local_transports() {
    let source = Rpod::with_image("runc");
    let id = image_id(&source, "demo");
    source.ok(&["tag", "demo", "other:v1"]);
    let dir = tempfile::tempdir().unwrap();
    let at = |name: &str| dir.path().join(name).display().to_string();
    source.ok(&["save", "-o", &at("two.tar"), "demo", "other:v1"]);
    source.ok(&[
        "save",
        "--format",
        "oci-archive",
        "-o",
        &at("one.tar"),
        "demo",
    ]);
    source.ok(&["save", "--format", "oci-dir", "-o", &at("layout"), "demo"]);
    source.ok(&["save", "--format", "docker-dir", "-o", &at("dir"), "demo"]);
    let target = Rpod::new("runc");
    let pulled = |transport: &str| {
        let out = target.ok(&["pull", transport]);
        assert_eq!(out.trim(), id, "{transport}");
        target.ok(&["rmi", "-f", &id]);
    };
    pulled(&format!("oci-archive:{}", at("one.tar")));
    pulled(&format!("oci:{}", at("layout")));
    pulled(&format!("oci:{}:localhost/demo:latest", at("layout")));
    pulled(&format!("dir:{}", at("dir")));
    pulled(&format!("docker-archive:{}:other:v1", at("two.tar")));
    // Named by the archive.
    target.ok(&["pull", &format!("oci-archive:{}", at("one.tar"))]);
    assert_eq!(image_id(&target, "demo"), id);
    target.ok(&["rmi", "-f", &id]);
    // Several images and no name; a name it does not have; another kind.
    let err = target.fails(&["pull", &format!("docker-archive:{}", at("two.tar"))], 125);
    assert!(err.contains("holds 2 images"), "{err}");
    let err = target.fails(&["pull", &format!("oci:{}:nope", at("layout"))], 125);
    assert!(err.contains("no image in it is named"), "{err}");
    let err = target.fails(&["pull", &format!("docker-archive:{}", at("one.tar"))], 125);
    assert!(err.contains("not docker-archive"), "{err}");
    let err = target.fails(&["pull", &format!("oci-archive:{}", at("layout"))], 125);
    assert!(
        err.contains("is a directory, not a oci-archive file"),
        "{err}"
    );
    assert_eq!(target.ok(&["images", "-q"]), "");
    // run and create read the image from the transport, and make the container of it.
    let out = target.ok(&[
        "run",
        "--rm",
        &format!("oci-archive:{}", at("one.tar")),
        "echo",
        "ran",
    ]);
    assert_eq!(out, "ran\n");
    target.ok(&[
        "create",
        "--name",
        "made",
        &format!("dir:{}", at("dir")),
        "true",
    ]);
    // The same image as the run's, which named it.
    assert_eq!(
        target.inspect("made", "{{.ImageName}}"),
        "localhost/demo:latest"
    );
    assert_eq!(target.inspect("made", "{{.Image}}"), id);
}

#[test]
fn push_writes_local_transports() {
    let source = Rpod::with_image("runc");
    let id = image_id(&source, "demo");
    let dir = tempfile::tempdir().unwrap();
    let at = |name: &str| dir.path().join(name).display().to_string();
    for destination in [
        format!("dir:{}", at("dir")),
        format!("oci:{}:v1", at("layout")),
        format!("docker-archive:{}:saved/demo:v2", at("docker.tar")),
        format!("oci-archive:{}", at("oci.tar")),
    ] {
        source.ok(&["push", "demo", &destination]);
    }
    source.ok(&["push", "--compress", "demo", &format!("dir:{}", at("gz"))]);
    // The compressed layer is a gzip stream, the plain one a tar.
    let first_bytes = |dir: &str| -> Vec<[u8; 2]> {
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(format!("{}/manifest.json", at(dir))).unwrap())
                .unwrap();
        manifest["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|layer| {
                let digest = layer["digest"].as_str().unwrap();
                let blob = std::fs::read(format!("{}/{}", at(dir), &digest[7..])).unwrap();
                [blob[0], blob[1]]
            })
            .collect()
    };
    assert!(first_bytes("gz").iter().all(|b| *b == [0x1f, 0x8b]));
    assert!(first_bytes("dir").iter().all(|b| *b != [0x1f, 0x8b]));
    // Each reads back as the same image, under the name it was given.
    let target = Rpod::new("runc");
    for (transport, name) in [
        (format!("dir:{}", at("dir")), None),
        (format!("dir:{}", at("gz")), None),
        (format!("oci:{}:v1", at("layout")), None),
        (
            format!("docker-archive:{}", at("docker.tar")),
            Some("saved/demo:v2"),
        ),
        (format!("oci-archive:{}", at("oci.tar")), None),
    ] {
        assert_eq!(target.ok(&["pull", &transport]).trim(), id, "{transport}");
        if let Some(name) = name {
            assert_eq!(image_id(&target, name), id);
        }
        target.ok(&["rmi", "-f", &id]);
    }
    // What such a destination cannot be given is refused, and nothing is written.
    for (args, said) in [
        (vec!["--digestfile", "digest"], "--digestfile"),
        (vec!["--format", "oci"], "not the format asked for"),
        (vec!["--compression-format", "zstd"], "zstd"),
    ] {
        let destination = format!("dir:{}", at("refused"));
        let mut line = vec!["push"];
        line.extend(args);
        line.extend(["demo", &destination]);
        let err = source.fails(&line, 125);
        assert!(err.contains(said), "{line:?}: {err}");
        assert!(!dir.path().join("refused").exists(), "{line:?}");
    }
    let err = source.fails(
        &["push", "--compress", "demo", &format!("oci:{}", at("oci2"))],
        125,
    );
    assert!(err.contains("--compress is for a dir:"), "{err}");
    // A docker-archive's name is an image reference.
    let bad = format!("docker-archive:{}:Not A Name", at("bad.tar"));
    source.fails(&["push", "demo", &bad], 125);
    assert!(!dir.path().join("bad.tar").exists());
}

#[test]
fn save_to_standard_output() {
    let rpod = Rpod::with_image("runc");
    let out = rpod.command(&["save", "demo"]).output().unwrap();
    assert!(out.status.success());
    let target = Rpod::new("runc");
    let mut child = target
        .command(&["load"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&out.stdout).unwrap();
    let loaded = child.wait_with_output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&loaded.stdout),
        "Loaded image: localhost/demo:latest\n"
    );
}

/// Rewrite a saved docker-archive's manifest (as `docker save` would have written it).
fn edit_docker_archive(
    archive: &Path,
    edit: impl FnOnce(&mut serde_json::Value, &Path),
) -> std::path::PathBuf {
    let dir = archive.parent().unwrap().join("unpacked");
    fs::create_dir_all(&dir).unwrap();
    assert!(Command::new("tar")
        .arg("-xf")
        .arg(archive)
        .arg("-C")
        .arg(&dir)
        .status()
        .unwrap()
        .success());
    let manifest_path = dir.join("manifest.json");
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(&manifest_path).unwrap()).unwrap();
    edit(&mut manifest, &dir);
    fs::write(&manifest_path, serde_json::to_vec(&manifest).unwrap()).unwrap();
    let out = archive.with_extension("edited.tar");
    assert!(Command::new("tar")
        .arg("-cf")
        .arg(&out)
        .arg("-C")
        .arg(&dir)
        .arg(".")
        .status()
        .unwrap()
        .success());
    out
}

#[test]
fn docker_hub_names_in_archives_are_normalised() {
    let source = Rpod::with_image("runc");
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("a.tar");
    source.ok(&["save", "-o", &archive.display().to_string(), "demo"]);
    let edited = edit_docker_archive(&archive, |manifest, _| {
        manifest[0]["RepoTags"] = serde_json::json!(["busybox:latest", "someone/tool:1.0"]);
    });
    let target = Rpod::new("runc");
    let out = target.ok(&["load", "-i", &edited.display().to_string()]);
    assert_eq!(out, "Loaded image: docker.io/library/busybox:latest\nLoaded image: docker.io/someone/tool:1.0\n");
    assert_eq!(
        target.ok(&["run", "--rm", "busybox", "echo", "hub"]),
        "hub\n"
    );
    assert_eq!(
        target.ok(&["run", "--rm", "someone/tool:1.0", "echo", "tool"]),
        "tool\n"
    );
}

#[test]
fn broken_archives_leave_nothing_behind() {
    let source = Rpod::with_image("runc");
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("a.tar");
    source.ok(&["save", "-o", &archive.display().to_string(), "demo"]);
    let bytes = fs::read(&archive).unwrap();

    let target = Rpod::new("runc");
    let truncated = dir.path().join("truncated.tar");
    fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let err = target.fails(&["load", "-i", &truncated.display().to_string()], 125);
    assert!(err.contains("truncated.tar"), "{err}");

    let garbage = dir.path().join("garbage.tar");
    fs::write(&garbage, b"this is not an image archive at all".repeat(100)).unwrap();
    let err = target.fails(&["load", "-i", &garbage.display().to_string()], 125);
    assert!(err.contains("garbage.tar"), "{err}");

    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&bytes).unwrap();
    let compressed = gz.finish().unwrap();
    let cut_gz = dir.path().join("cut.tar.gz");
    fs::write(&cut_gz, &compressed[..compressed.len() * 2 / 3]).unwrap();
    target.fails(&["load", "-i", &cut_gz.display().to_string()], 125);

    // A layer that does not match the config's diff ids.
    let tampered = edit_docker_archive(&archive, |manifest, dir| {
        let layer = dir.join(manifest[0]["Layers"][0].as_str().unwrap());
        let mut data = fs::read(&layer).unwrap();
        data.extend_from_slice(&[0u8; 1024]);
        fs::write(&layer, data).unwrap();
    });
    let err = target.fails(&["load", "-i", &tampered.display().to_string()], 125);
    assert!(err.contains("do not match"), "{err}");

    let missing = dir.path().join("no-such-file.tar");
    target.fails(&["load", "-i", &missing.display().to_string()], 125);

    assert_eq!(
        target.ok(&["images", "-q"]),
        "",
        "a half-loaded image was left behind"
    );
    assert_eq!(
        layer_dirs(&target),
        0,
        "layers of a failed load were left behind"
    );
    assert_eq!(tmp_entries(&target), 0, "temporary files were left behind");

    let not_tar = dir.path().join("not.tar");
    fs::write(&not_tar, b"short").unwrap();
    target.fails(&["import", &not_tar.display().to_string(), "x"], 125);
    assert_eq!(target.ok(&["images", "-q"]), "");
    assert_eq!(layer_dirs(&target), 0);
}

#[test]
fn rmi_untags_refuses_in_use_and_removes_layers() {
    let rpod = Rpod::with_image("runc");
    rpod.ok(&["tag", "demo", "second"]);
    assert_eq!(
        rpod.ok(&["rmi", "second"]),
        "Untagged: localhost/second:latest\n"
    );
    assert_eq!(
        rpod.run(&["image", "exists", "demo"]).status.code(),
        Some(0)
    );
    let ctr = rpod.ok(&["create", "demo", "true"]).trim().to_string();
    let err = rpod.fails(&["rmi", "demo"], 2);
    assert!(err.contains("image is in use by a container"), "{err}");
    assert!(layer_dirs(&rpod) > 0);
    let out = rpod.ok(&["rmi", "-f", "demo"]);
    assert!(out.contains("Deleted: "), "{out}");
    assert_eq!(
        rpod.run(&["container", "exists", &ctr]).status.code(),
        Some(1)
    );
    assert_eq!(rpod.ok(&["images", "-q"]), "");
    assert_eq!(layer_dirs(&rpod), 0, "rmi left the layers behind");
    rpod.fails(&["rmi", "demo"], 1);
    rpod.ok(&["rmi", "--ignore", "demo"]);
}

fn sha256_hex(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// A two-layer image whose upper layer deletes a file and makes a directory opaque, as
/// `docker save` writes them: the container sees the upper layer's view.
#[test]
fn whiteouts_hide_lower_layer_files() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path();
    // Layer 1: busybox plus files that layer 2 removes.
    let lower = work.join("lower");
    fs::create_dir_all(&lower).unwrap();
    assert!(Command::new("tar")
        .arg("-xf")
        .arg(busybox_tarball())
        .arg("-C")
        .arg(&lower)
        .status()
        .unwrap()
        .success());
    fs::write(lower.join("etc/removed"), "old").unwrap();
    fs::create_dir_all(lower.join("data")).unwrap();
    fs::write(lower.join("data/old"), "old").unwrap();
    // Layer 2: whiteouts in the OCI/Docker tar form.
    let upper = work.join("upper");
    fs::create_dir_all(upper.join("etc")).unwrap();
    fs::create_dir_all(upper.join("data")).unwrap();
    fs::write(upper.join("etc/.wh.removed"), "").unwrap();
    fs::write(upper.join("data/.wh..wh..opq"), "").unwrap();
    fs::write(upper.join("data/new"), "new").unwrap();
    let archive_dir = work.join("archive");
    fs::create_dir_all(archive_dir.join("l1")).unwrap();
    fs::create_dir_all(archive_dir.join("l2")).unwrap();
    for (src, name) in [(&lower, "l1"), (&upper, "l2")] {
        let out = archive_dir.join(name).join("layer.tar");
        assert!(Command::new("tar")
            .arg("--numeric-owner")
            .arg("-cf")
            .arg(&out)
            .arg("-C")
            .arg(src)
            .arg(".")
            .status()
            .unwrap()
            .success());
    }
    let diff_ids: Vec<String> = ["l1", "l2"]
        .iter()
        .map(|l| {
            format!(
                "sha256:{}",
                sha256_hex(&archive_dir.join(l).join("layer.tar"))
            )
        })
        .collect();
    let config = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    });
    fs::write(
        archive_dir.join("config.json"),
        serde_json::to_vec(&config).unwrap(),
    )
    .unwrap();
    let manifest = serde_json::json!([{
        "Config": "config.json",
        "RepoTags": ["layered:1"],
        "Layers": ["l1/layer.tar", "l2/layer.tar"],
    }]);
    fs::write(
        archive_dir.join("manifest.json"),
        serde_json::to_vec(&manifest).unwrap(),
    )
    .unwrap();
    let archive = work.join("layered.tar");
    assert!(Command::new("tar")
        .arg("-cf")
        .arg(&archive)
        .arg("-C")
        .arg(&archive_dir)
        .arg(".")
        .status()
        .unwrap()
        .success());

    let rpod = Rpod::new("runc");
    rpod.ok(&["load", "-i", &archive.display().to_string()]);
    let out = rpod.ok(&[
        "run",
        "--rm",
        "layered:1",
        "sh",
        "-c",
        "ls /data; test -e /etc/removed && echo still-there; echo done",
    ]);
    assert_eq!(out, "new\ndone\n");
    assert_eq!(rpod.inspect("layered:1", "{{len .RootFS.Layers}}"), "2");
}
