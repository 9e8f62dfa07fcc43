//! Hostile images: crafted layers and archives that try to reach the host through symlinks,
//! whiteouts, opaque markers, device nodes, hard links and archive members. Each must fail
//! cleanly, leave nothing in the store, and leave a sentinel directory outside it untouched.

mod common;

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use common::{busybox_tarball, Rpod, SmallDisk, NO_NETWORK_CONFIG};
use sha2::{Digest, Sha256};

/// One entry of a crafted tar, with names written as they are (no checks by the tar crate).
enum Entry {
    File(String, Vec<u8>),
    Dir(String),
    Symlink(String, String),
    HardLink(String, String),
    CharDev(String, u32, u32),
    /// A pax extended header that claims this many bytes (followed by far fewer).
    HugePax(u64),
}

fn file(path: &str, data: &[u8]) -> Entry {
    Entry::File(path.into(), data.to_vec())
}
fn symlink(path: &str, target: &str) -> Entry {
    Entry::Symlink(path.into(), target.into())
}

fn raw_header(name: &str, kind: tar::EntryType, size: u64, link: Option<&str>) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(kind);
    header.set_size(size);
    header.set_mode(if kind == tar::EntryType::Directory {
        0o755
    } else {
        0o644
    });
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(1_600_000_000);
    let old = header.as_old_mut();
    old.name = [0; 100];
    old.name[..name.len()].copy_from_slice(name.as_bytes());
    if let Some(link) = link {
        old.linkname = [0; 100];
        old.linkname[..link.len()].copy_from_slice(link.as_bytes());
    }
    header.set_cksum();
    header
}

fn tar_of(entries: &[Entry]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for entry in entries {
        match entry {
            Entry::File(name, data) => {
                let header = raw_header(name, tar::EntryType::Regular, data.len() as u64, None);
                builder.append(&header, &data[..]).unwrap();
            }
            Entry::Dir(name) => {
                let header = raw_header(name, tar::EntryType::Directory, 0, None);
                builder.append(&header, &[][..]).unwrap();
            }
            Entry::Symlink(name, target) => {
                let header = raw_header(name, tar::EntryType::Symlink, 0, Some(target));
                builder.append(&header, &[][..]).unwrap();
            }
            Entry::HardLink(name, target) => {
                let header = raw_header(name, tar::EntryType::Link, 0, Some(target));
                builder.append(&header, &[][..]).unwrap();
            }
            Entry::HugePax(claimed) => {
                let mut header = raw_header("pax", tar::EntryType::XHeader, 0, None);
                header.set_size(*claimed);
                header.set_cksum();
                let mut bytes = builder.get_ref().clone();
                bytes.extend_from_slice(header.as_bytes());
                bytes.extend(vec![b'a'; 64 * 1024]);
                *builder.get_mut() = bytes;
            }
            Entry::CharDev(name, major, minor) => {
                let mut header = raw_header(name, tar::EntryType::Char, 0, None);
                header.set_device_major(*major).unwrap();
                header.set_device_minor(*minor).unwrap();
                header.set_cksum();
                builder.append(&header, &[][..]).unwrap();
            }
        }
    }
    builder.into_inner().unwrap()
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// A docker-archive of the given (uncompressed) layers, tagged `tag`.
fn docker_archive(layers: &[Vec<u8>], tag: &str) -> Vec<u8> {
    let diff_ids: Vec<String> = layers.iter().map(|l| sha256_hex(l)).collect();
    docker_archive_with(layers, &diff_ids, tag)
}

/// A docker-archive of layers (compressed or not) whose tars have these diff ids.
fn docker_archive_with(layers: &[Vec<u8>], diff_ids: &[String], tag: &str) -> Vec<u8> {
    let diff_ids: Vec<String> = diff_ids.iter().map(|d| format!("sha256:{d}")).collect();
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }))
    .unwrap();
    let layer_names: Vec<String> = (0..layers.len())
        .map(|i| format!("l{i}/layer.tar"))
        .collect();
    let manifest = serde_json::to_vec(&serde_json::json!([{
        "Config": "config.json",
        "RepoTags": [tag],
        "Layers": layer_names,
    }]))
    .unwrap();
    let mut entries = vec![file("config.json", &config)];
    for (name, layer) in layer_names.iter().zip(layers) {
        entries.push(file(name, layer));
    }
    entries.push(file("manifest.json", &manifest));
    tar_of(&entries)
}

/// Everything under `dir`: paths, kinds, contents and the opaque attribute of directories.
fn snapshot(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(path) = stack.pop() {
        let meta = fs::symlink_metadata(&path).unwrap();
        let rel = path.strip_prefix(dir).unwrap().display().to_string();
        if meta.is_dir() {
            out.push(format!("d {rel} opaque={}", has_opaque_xattr(&path)));
            for child in fs::read_dir(&path).unwrap() {
                stack.push(child.unwrap().path());
            }
        } else if meta.is_file() {
            out.push(format!("f {rel} {:?}", fs::read(&path).unwrap()));
        } else {
            out.push(format!("o {rel} {:?}", meta.file_type()));
        }
    }
    out.sort();
    out
}

fn has_opaque_xattr(path: &Path) -> bool {
    let c_path = std::ffi::CString::new(path.display().to_string()).unwrap();
    let mut value = [0u8; 8];
    #[allow(unsafe_code)]
    // SAFETY: NUL-terminated strings and a buffer of the given length.
    let n = unsafe {
        libc::lgetxattr(
            c_path.as_ptr(),
            c"trusted.overlay.opaque".as_ptr(),
            value.as_mut_ptr().cast(),
            value.len(),
        )
    };
    n >= 0
}

struct Sentinel {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl Sentinel {
    fn new() -> Sentinel {
        let dir = tempfile::Builder::new()
            .prefix("rpod-sentinel-")
            .tempdir()
            .unwrap();
        let path = dir.path().to_path_buf();
        fs::write(path.join("victim"), b"precious\n").unwrap();
        fs::create_dir(path.join("sub")).unwrap();
        Sentinel { _dir: dir, path }
    }

    fn up(&self, levels: usize) -> String {
        format!(
            "{}{}",
            "../".repeat(levels),
            self.path.display().to_string().trim_start_matches('/')
        )
    }
}

fn assert_store_empty(rpod: &Rpod, case: &str) {
    assert_eq!(rpod.ok(&["images", "-q"]), "", "{case}: an image was left");
    let layers = fs::read_dir(rpod.root().join("images/layers"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(layers, 0, "{case}: layers were left");
    let tmp = fs::read_dir(rpod.root().join("tmp"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(tmp, 0, "{case}: temporary files were left");
}

/// Each crafted layer, imported as a tarball and loaded inside a docker-archive.
#[test]
fn hostile_layers_never_touch_the_host() {
    let sentinel = Sentinel::new();
    let abs = sentinel.path.display().to_string();
    let rel = sentinel.up(12);
    let cases: Vec<(&str, Vec<Entry>)> = vec![
        (
            "whiteout through an absolute symlink",
            vec![symlink("esc", &abs), file("esc/.wh.victim", b"")],
        ),
        (
            "whiteout through a relative symlink",
            vec![symlink("esc", &rel), file("esc/.wh.victim", b"")],
        ),
        (
            "opaque marker through a symlink",
            vec![symlink("esc", &abs), file("esc/sub/.wh..wh..opq", b"")],
        ),
        (
            "opaque marker in a new host directory",
            vec![symlink("esc", &abs), file("esc/made/.wh..wh..opq", b"")],
        ),
        (
            "device node through a symlink",
            vec![
                symlink("esc", &abs),
                Entry::CharDev("esc/null".into(), 1, 3),
            ],
        ),
        (
            "regular file through a symlink",
            vec![symlink("esc", &abs), file("esc/planted", b"x")],
        ),
        (
            "overwrite through a symlink",
            vec![symlink("esc", &abs), file("esc/victim", b"owned")],
        ),
        (
            "directory through a symlink",
            vec![symlink("esc", &abs), Entry::Dir("esc/newdir".into())],
        ),
        (
            "symlink chain",
            vec![
                symlink("a", "b"),
                symlink("b", &abs),
                file("a/planted", b"x"),
            ],
        ),
        (
            "symlink to a directory inside",
            vec![
                Entry::Dir("real".into()),
                symlink("in", "real"),
                Entry::Dir("in/sub".into()),
                symlink("in/sub/out", &abs),
                file("in/sub/out/planted", b"x"),
            ],
        ),
        (
            "hard link to a host file",
            vec![
                symlink("esc", &abs),
                Entry::HardLink("stolen".into(), "esc/victim".into()),
            ],
        ),
        (
            "hard link leaving the layer",
            vec![Entry::HardLink(
                "stolen".into(),
                "../../../../etc/passwd".into(),
            )],
        ),
        (
            "parent directory in a name",
            vec![file("../../../../escaped", b"x")],
        ),
        (
            "whiteout of the parent",
            vec![Entry::Dir("d".into()), file("d/.wh...", b"")],
        ),
        (
            "a pax header of 8 GiB",
            vec![file("ok", b"x"), Entry::HugePax(8 << 30)],
        ),
    ];
    let rpod = Rpod::new("runc");
    let dir = tempfile::tempdir().unwrap();
    let before = snapshot(&sentinel.path);
    for (case, entries) in &cases {
        let mut layer = tar_of(entries);
        // Enough content that the tarball is a plausible root file system.
        layer.resize(layer.len().max(10240), 0);
        let tarball = dir.path().join("layer.tar");
        fs::write(&tarball, &layer).unwrap();
        let err = rpod.fails(&["import", &tarball.display().to_string(), "evil"], 125);
        assert!(!err.contains("panicked"), "{case}: {err}");
        assert_eq!(
            snapshot(&sentinel.path),
            before,
            "{case}: import touched the host"
        );
        assert_store_empty(&rpod, case);

        let archive = dir.path().join("archive.tar");
        fs::write(&archive, docker_archive(&[layer], "evil:latest")).unwrap();
        let err = rpod.fails(&["load", "-i", &archive.display().to_string()], 125);
        assert!(!err.contains("panicked"), "{case}: {err}");
        assert_eq!(
            snapshot(&sentinel.path),
            before,
            "{case}: load touched the host"
        );
        assert_store_empty(&rpod, case);
    }
    // A metadata entry larger than rpod reads into memory is refused for what it is, not
    // read until the stream runs out.
    let tarball = dir.path().join("pax.tar");
    let mut layer = tar_of(&[file("ok", b"x"), Entry::HugePax(8 << 30)]);
    layer.resize(layer.len().max(10240), 0);
    fs::write(&tarball, &layer).unwrap();
    let err = rpod.fails(&["import", &tarball.display().to_string(), "evil"], 125);
    assert!(err.contains("metadata entry"), "{err}");
    // The refusal says why.
    let tarball = dir.path().join("layer.tar");
    let mut layer = tar_of(&cases[0].1);
    layer.resize(10240, 0);
    fs::write(&tarball, &layer).unwrap();
    let err = rpod.fails(&["import", &tarball.display().to_string(), "evil"], 125);
    assert!(
        err.contains("esc") && err.contains("symbolic link"),
        "{err}"
    );
}

/// Members of the outer archive that are links: followed among the members only.
#[test]
fn archive_members_are_never_followed_onto_the_host() {
    let sentinel = Sentinel::new();
    let abs_victim = sentinel.path.join("victim").display().to_string();
    let layer = {
        let mut l = tar_of(&[file("hello", b"hi\n")]);
        l.resize(10240, 0);
        l
    };
    let diff_id = format!("sha256:{}", sha256_hex(&layer));
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux", "config": {},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    }))
    .unwrap();
    let manifest = |layer_name: &str| {
        serde_json::to_vec(&serde_json::json!([{
            "Config": "config.json", "RepoTags": ["x:1"], "Layers": [layer_name],
        }]))
        .unwrap()
    };
    // Host files that would make each load succeed if a link or a name were followed onto
    // the host: a layer that matches the config, and a manifest that names it.
    let host_layer = sentinel.path.join("layer.tar");
    fs::write(&host_layer, &layer).unwrap();
    let host_layer = host_layer.display().to_string();
    let host_manifest = sentinel.path.join("manifest.json");
    fs::write(&host_manifest, manifest("l/layer.tar")).unwrap();
    let host_manifest = host_manifest.display().to_string();
    let cases: Vec<(&str, Vec<Entry>)> = vec![
        ("layer member is an absolute symlink to a host file", vec![
            file("config.json", &config), symlink("l/layer.tar", &host_layer), file("manifest.json", &manifest("l/layer.tar"))]),
        ("layer member is an absolute symlink to a host file that is no layer", vec![
            file("config.json", &config), symlink("l/layer.tar", &abs_victim), file("manifest.json", &manifest("l/layer.tar"))]),
        ("layer member is a symlink to /dev/zero", vec![
            file("config.json", &config), symlink("l/layer.tar", "/dev/zero"), file("manifest.json", &manifest("l/layer.tar"))]),
        ("layer member climbs out with a relative symlink", vec![
            file("config.json", &config), symlink("l/layer.tar", "../../../../../../../../dev/zero"), file("manifest.json", &manifest("l/layer.tar"))]),
        ("manifest is a symlink to a host file", vec![
            file("config.json", &config), file("l/layer.tar", &layer), symlink("manifest.json", &host_manifest)]),
        ("manifest names a host path", vec![
            file("config.json", &config), file("manifest.json", &manifest(&host_layer))]),
        ("manifest climbs out", vec![
            file("config.json", &config), file("manifest.json", &manifest("../../../../dev/zero"))]),
        ("links that loop", vec![
            file("config.json", &config), symlink("a", "b"), symlink("b", "a"), file("manifest.json", &manifest("a"))]),
        ("hostile tag", vec![
            file("config.json", &config), file("l/layer.tar", &layer),
            file("manifest.json", &serde_json::to_vec(&serde_json::json!([{
                "Config": "config.json", "RepoTags": ["../../etc/x:1"], "Layers": ["l/layer.tar"]}])).unwrap())]),
    ];
    let rpod = Rpod::new("runc");
    let dir = tempfile::tempdir().unwrap();
    let before = snapshot(&sentinel.path);
    for (case, entries) in &cases {
        let archive = dir.path().join("archive.tar");
        fs::write(&archive, tar_of(entries)).unwrap();
        let err = rpod.fails(&["load", "-i", &archive.display().to_string()], 125);
        assert!(!err.contains("panicked"), "{case}: {err}");
        assert_eq!(snapshot(&sentinel.path), before, "{case}");
        assert_store_empty(&rpod, case);
    }

    // An OCI index that lists itself ends instead of looping.
    let self_index = br#"{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","size":1}]}"#;
    let archive = dir.path().join("loop.tar");
    fs::write(
        &archive,
        tar_of(&[
            file("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#),
            file(&format!("blobs/sha256/{}", "a".repeat(64)), self_index),
            file("index.json", self_index),
        ]),
    )
    .unwrap();
    let err = rpod.fails(&["load", "-i", &archive.display().to_string()], 125);
    assert!(err.contains("refers to itself"), "{err}");

    // A link between members inside the archive is fine: `docker save` writes those for
    // layers that two images share.
    let archive = dir.path().join("shared.tar");
    fs::write(
        &archive,
        tar_of(&[
            file("config.json", &config),
            file("real/layer.tar", &layer),
            symlink("l/layer.tar", "../real/layer.tar"),
            file("manifest.json", &manifest("l/layer.tar")),
        ]),
    )
    .unwrap();
    rpod.ok(&["load", "-i", &archive.display().to_string()]);
    assert_eq!(
        rpod.ok(&["images", "--format", "{{.Repository}}"]),
        "docker.io/library/x\n"
    );
}

/// An image's /etc/passwd and /etc/group are read inside its root, bounded, never the host's.
#[test]
fn account_files_are_read_inside_the_container_root() {
    let host_dir = tempfile::tempdir().unwrap();
    let host_passwd = host_dir.path().join("passwd");
    fs::write(&host_passwd, "hostonly:x:4242:4242::/:/bin/sh\n").unwrap();
    let base = fs::read(busybox_tarball()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let rpod = Rpod::new("runc");

    let to_host = tar_of(&[
        Entry::Dir("etc".into()),
        symlink("etc/passwd", &host_passwd.display().to_string()),
        symlink("etc/group", &host_passwd.display().to_string()),
    ]);
    let archive = dir.path().join("host.tar");
    fs::write(
        &archive,
        docker_archive(&[base.clone(), to_host], "tohost:1"),
    )
    .unwrap();
    rpod.ok(&["load", "-i", &archive.display().to_string()]);
    let err = rpod.fails(&["run", "--rm", "-u", "hostonly", "tohost:1", "true"], 126);
    assert!(err.contains("unable to find user hostonly"), "{err}");
    assert_eq!(rpod.ok(&["run", "--rm", "tohost:1", "id", "-u"]), "0\n");

    let to_zero = tar_of(&[
        Entry::Dir("etc".into()),
        Entry::Dir("dev".into()),
        Entry::CharDev("dev/zero".into(), 1, 5),
        symlink("etc/passwd", "/dev/zero"),
    ]);
    let archive = dir.path().join("zero.tar");
    fs::write(&archive, docker_archive(&[base, to_zero], "zero:1")).unwrap();
    rpod.ok(&["load", "-i", &archive.display().to_string()]);
    let err = rpod.fails(&["run", "--rm", "-u", "nobody", "zero:1", "true"], 126);
    assert!(err.contains("not a regular file"), "{err}");
    let mut stdout = std::io::stdout();
    let _ = stdout.flush();
}

/// `volume import` of crafted archives: members that climb out, links to the host and
/// writes through them, a device node; and a volume a container filled with links to the
/// host, exported.
#[test]
fn volume_archives_stay_in_the_volume() {
    let sentinel = Sentinel::new();
    let abs = sentinel.path.display().to_string();
    let rpod = Rpod::with_image("runc");
    rpod.ok(&["volume", "create", "target"]);
    let cases: Vec<(&str, Vec<Entry>)> = vec![
        (
            "a member climbing out",
            vec![file(&format!("{}/victim", sentinel.up(8)), b"owned\n")],
        ),
        (
            "an absolute member",
            vec![file(&format!("{abs}/victim"), b"owned\n")],
        ),
        (
            "a file written through a link to the host",
            vec![symlink("out", &abs), file("out/victim", b"owned\n")],
        ),
        (
            "a link to the host, then a file over it",
            vec![
                symlink("victim", &format!("{abs}/victim")),
                file("victim", b"owned\n"),
            ],
        ),
        ("a device", vec![Entry::CharDev("zero".into(), 1, 5)]),
    ];
    let data = rpod.root().join("volumes/target/_data");
    for (case, entries) in cases {
        let archive = rpod.dir.path().join("in.tar");
        fs::write(&archive, tar_of(&entries)).unwrap();
        let _ = rpod.run(&["volume", "import", "target", &archive.display().to_string()]);
        assert_eq!(
            fs::read(sentinel.path.join("victim")).unwrap(),
            b"precious\n",
            "{case}"
        );
        assert_eq!(
            fs::read_dir(sentinel.path.join("sub")).unwrap().count(),
            0,
            "{case}"
        );
        // Nothing in the volume leads out of it: a link stays a link; a device node is made
        // as podman makes it, but the volume is mounted nodev: no container opens it.
        for entry in fs::read_dir(&data).unwrap().flatten() {
            use std::os::unix::fs::FileTypeExt;
            let kind = entry.file_type().unwrap();
            if kind.is_char_device() || kind.is_block_device() {
                assert_eq!(case, "a device");
                let read = rpod.run(&[
                    "run",
                    "--rm",
                    "-v",
                    "target:/v",
                    "demo",
                    "head",
                    "-c",
                    "1",
                    "/v/zero",
                ]);
                assert_eq!(read.status.code(), Some(1), "{case}: {read:?}");
                assert!(read.stdout.is_empty(), "{case}: {read:?}");
            }
        }
        if case == "a device" {
            use std::os::unix::fs::FileTypeExt;
            let zero = fs::symlink_metadata(data.join("zero")).unwrap();
            assert!(zero.file_type().is_char_device(), "{case}: {zero:?}");
        }
        let tmp = fs::read_dir(rpod.root().join("tmp"))
            .map(|d| d.count())
            .unwrap_or(0);
        assert_eq!(tmp, 0, "{case}: scratch files were left");
    }
    // Export: a container's links to the host are archived as links, never followed.
    rpod.ok(&[
        "run",
        "--rm",
        "-v",
        "target:/v",
        "demo",
        "sh",
        "-c",
        &format!("rm -rf /v/*; ln -s {abs} /v/dir; ln -s {abs}/victim /v/file"),
    ]);
    let out = rpod.run(&["volume", "export", "target"]);
    assert!(out.status.success(), "{out:?}");
    let mut archive = tar::Archive::new(&out.stdout[..]);
    for entry in archive.entries().unwrap() {
        let entry = entry.unwrap();
        assert_eq!(entry.header().entry_type(), tar::EntryType::Symlink);
    }
    assert!(!String::from_utf8_lossy(&out.stdout).contains("precious"));
}

/// A layer tar of one file of `size` zero bytes, made as it is read (never whole in memory).
fn zeros_tar(size: u64) -> impl Read {
    let header = raw_header("big", tar::EntryType::Regular, size, None);
    let padded = size.div_ceil(512) * 512;
    std::io::Cursor::new(header.as_bytes().to_vec()).chain(std::io::repeat(0).take(padded + 1024))
}

fn sha256_of_stream(mut reader: impl Read) -> String {
    let mut hasher = Sha256::new();
    std::io::copy(&mut reader, &mut hasher).unwrap();
    hex::encode(hasher.finalize())
}

fn gzip_of(mut reader: impl Read) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::copy(&mut reader, &mut gz).unwrap();
    gz.finish().unwrap()
}

/// Run rpod with `input` streamed to its stdin (a writer that rpod stops reading is left).
fn run_with_stdin(
    rpod: &Rpod,
    args: &[&str],
    input: impl Read + Send + 'static,
) -> std::process::Output {
    let mut child = rpod
        .command(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut input = input;
    let feeder = std::thread::spawn(move || {
        let _ = std::io::copy(&mut input, &mut stdin);
    });
    let out = child.wait_with_output().unwrap();
    let _ = feeder.join();
    out
}

/// A small layer or archive that unpacks to more than the disk holds, and the other ways
/// outside data reaches the store (a container's copy, a volume's import, a commit), on a
/// store of 96 MiB that keeps 32 MiB free: each stops at the reserve, says so, and leaves
/// nothing behind (without the reserve, each fills the disk to its last byte).
#[test]
fn outside_data_stops_at_the_free_space_reserve() {
    const BIG: u64 = 160 << 20;
    let rpod = Rpod::with_config(
        "crun",
        &format!("{NO_NETWORK_CONFIG}[storage]\nkeep_free = \"32m\"\n"),
    );
    let _disk = SmallDisk::mount(rpod.root(), "96m");
    let refused = |out: &std::process::Output, case: &str| {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(125), "{case}: {stderr}");
        assert!(
            stderr.contains("no space left for") && stderr.contains("keep_free"),
            "{case}: {stderr}"
        );
        let tmp = fs::read_dir(rpod.root().join("tmp"))
            .map(|d| d.count())
            .unwrap_or(0);
        assert_eq!(tmp, 0, "{case}: scratch files were left");
        assert!(
            common::available_bytes(&rpod.root()) > 80 << 20,
            "{case}: the space was not given back"
        );
    };
    let diff_id = sha256_of_stream(zeros_tar(BIG));

    // A gzip layer of a few hundred kilobytes that unpacks to 160 MiB.
    let bomb = rpod.dir.path().join("bomb.tar");
    fs::write(
        &bomb,
        docker_archive_with(
            &[gzip_of(zeros_tar(BIG))],
            std::slice::from_ref(&diff_id),
            "bomb:1",
        ),
    )
    .unwrap();
    let out = rpod.run(&["load", "-i", &bomb.display().to_string()]);
    refused(&out, "a gzip layer");
    assert_store_empty(&rpod, "a gzip layer");

    // A gzip archive whose plain layer member is 160 MiB.
    let mut archive = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{diff_id}")]},
    }))
    .unwrap();
    let manifest = serde_json::to_vec(&serde_json::json!([{
        "Config": "config.json", "RepoTags": ["bomb:2"], "Layers": ["l/layer.tar"],
    }]))
    .unwrap();
    let tar_size = BIG.div_ceil(512) * 512 + 1536;
    for (name, size, data) in [
        (
            "config.json",
            config.len() as u64,
            Box::new(std::io::Cursor::new(config)) as Box<dyn Read>,
        ),
        ("l/layer.tar", tar_size, Box::new(zeros_tar(BIG))),
        (
            "manifest.json",
            manifest.len() as u64,
            Box::new(std::io::Cursor::new(manifest)),
        ),
    ] {
        archive
            .append(&raw_header(name, tar::EntryType::Regular, size, None), data)
            .unwrap();
    }
    let archive = archive.into_inner().unwrap().finish().unwrap();
    let out = run_with_stdin(&rpod, &["load"], std::io::Cursor::new(archive));
    refused(&out, "an archive's member");
    assert_store_empty(&rpod, "an archive's member");

    // The same tar into a volume and into a container.
    rpod.ok(&["import", &busybox_tarball().display().to_string(), "demo"]);
    rpod.ok(&["volume", "create", "vol"]);
    let out = run_with_stdin(&rpod, &["volume", "import", "vol", "-"], zeros_tar(BIG));
    refused(&out, "a volume's import");
    rpod.ok(&["create", "--name", "c", "demo", "true"]);
    let out = run_with_stdin(&rpod, &["cp", "-", "c:/"], zeros_tar(BIG));
    refused(&out, "a copy into a container");

    // A container that wrote 56 MiB: its commit's copy of them would leave 4 MiB.
    rpod.ok(&[
        "run",
        "--name",
        "writer",
        "demo",
        "dd",
        "if=/dev/zero",
        "of=/big",
        "bs=1M",
        "count=56",
    ]);
    let out = rpod.run(&["commit", "writer", "committed"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(125), "a commit: {stderr}");
    assert!(stderr.contains("keep_free"), "a commit: {stderr}");
    assert_eq!(rpod.ok(&["images", "-q", "committed"]), "");
    rpod.ok(&["rm", "-a", "-f"]);
    rpod.ok(&["volume", "rm", "-a"]);
}
