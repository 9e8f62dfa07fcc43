//! `auto-update`: containers labelled with a policy, in systemd units (a fake `systemctl`
//! written by the test restarts them as a `generate systemd --new` unit would, making the
//! container again from its image's name), brought to the newest image of a real registry
//! (Debian's docker-registry) or of the store.

mod common;
#[path = "common/registry_server.rs"]
mod registry_server;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::{busybox_tarball, Rpod};
use registry_server::Registry;

/// A `systemctl` that logs its arguments and restarts `app.service` and `local.service`
/// by making their containers again (`run --replace`, as the units' ExecStart). A file
/// `fail-once` makes the next restart fail (and goes).
fn fake_systemctl(rpod: &Rpod, dir: &Path, registry_image: &str) -> PathBuf {
    let bin = dir.join("bin");
    fs::create_dir_all(&bin).unwrap();
    let run = |name: &str, policy: &str, image: &str| {
        format!(
            "PODMAN_SYSTEMD_UNIT=$2 exec {} --root {} --runroot {} --runtime runc run -d --replace --name {name} --label io.containers.autoupdate={policy} {image} sleep 1000 >/dev/null",
            env!("CARGO_BIN_EXE_rpod"),
            rpod.root().display(),
            rpod.runroot().display(),
        )
    };
    let script = format!(
        "#!/bin/sh\necho \"$@\" >> {log}\n[ \"$1\" = restart ] || exit 1\nif [ -e {fail} ]; then rm {fail}; echo \"unit $2 failed\" >&2; exit 1; fi\ncase \"$2\" in\napp.service) {app} ;;\nlocal.service) {local} ;;\nesac\nexit 1\n",
        log = dir.join("log").display(),
        fail = dir.join("fail-once").display(),
        app = run("app", "registry", registry_image),
        local = run("localapp", "local", "localhost/localapp:latest"),
    );
    let path = bin.join("systemctl");
    fs::write(&path, script).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

fn auto_update(rpod: &Rpod, bin: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "auto-update",
        "--tls-verify=false",
        "--format",
        "{{.Unit}} {{.Policy}} {{.Updated}}",
    ];
    args.extend_from_slice(extra);
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    rpod.command(&args).env("PATH", path).output().unwrap()
}

fn updated(rpod: &Rpod, bin: &Path, extra: &[&str]) -> String {
    let out = auto_update(rpod, bin, extra);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `run -d` of a container with an auto-update `policy`, as a unit's ExecStart makes it.
fn run_in_unit(rpod: &Rpod, name: &str, policy: &str, image: &str, unit: &str) {
    let label = format!("io.containers.autoupdate={policy}");
    let args = [
        "run", "-d", "--name", name, "--label", &label, image, "sleep", "1000",
    ];
    let out = rpod
        .command(&args)
        .env("PODMAN_SYSTEMD_UNIT", unit)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn image_of(rpod: &Rpod, container: &str) -> String {
    rpod.inspect(container, "{{.Image}}")
}

/// Push a new version of the image (another CMD, so another config and manifest).
fn push_version(source: &Rpod, image: &str, version: &str) -> String {
    let name = format!("v{version}");
    source.ok(&[
        "import",
        "--change",
        &format!("LABEL version={version}"),
        busybox_tarball().to_str().unwrap(),
        &name,
    ]);
    source.ok(&["push", "--tls-verify=false", &name, image]);
    source.inspect(&name, "{{.Id}}")
}

#[test]
fn containers_follow_their_images_newest_version_and_roll_back() {
    let registry = Registry::plain();
    let image = format!("{}/team/app:1", registry.host);
    let source = Rpod::new("runc");
    let first = push_version(&source, &image, "1");
    let rpod = Rpod::with_image("runc");
    let dir = tempfile::tempdir().unwrap();
    let bin = fake_systemctl(&rpod, dir.path(), &image);
    rpod.ok(&["pull", "--tls-verify=false", &image]);
    run_in_unit(&rpod, "app", "registry", &image, "app.service");
    // rpod labels a container made in a unit with the unit, as podman does.
    assert_eq!(
        rpod.inspect("app", "{{index .Config.Labels \"PODMAN_SYSTEMD_UNIT\"}}"),
        "app.service"
    );
    assert_eq!(updated(&rpod, &bin, &[]), "app.service registry false\n");

    let second = push_version(&source, &image, "2");
    assert_eq!(
        updated(&rpod, &bin, &["--dry-run"]),
        "app.service registry pending\n"
    );
    assert!(
        !dir.path().join("log").exists(),
        "a dry run restarted something"
    );
    assert_eq!(image_of(&rpod, "app"), first);
    assert_eq!(updated(&rpod, &bin, &[]), "app.service registry true\n");
    assert_eq!(
        fs::read_to_string(dir.path().join("log")).unwrap(),
        "restart app.service\n"
    );
    assert_eq!(image_of(&rpod, "app"), second);
    assert_eq!(updated(&rpod, &bin, &[]), "app.service registry false\n");

    // The unit fails to restart on the third version: the second is put back.
    push_version(&source, &image, "3");
    fs::write(dir.path().join("fail-once"), "").unwrap();
    assert_eq!(
        updated(&rpod, &bin, &[]),
        "app.service registry rolled back\n"
    );
    assert_eq!(image_of(&rpod, "app"), second);
    assert_eq!(rpod.inspect(&image, "{{.Id}}"), second);
    // Without rollback, the failure is reported and auto-update exits 125.
    fs::write(dir.path().join("fail-once"), "").unwrap();
    let out = auto_update(&rpod, &bin, &["--rollback=false"]);
    assert_eq!(out.status.code(), Some(125));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "app.service registry failed\n"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("unit app.service failed"));
}

#[test]
fn the_local_policy_follows_the_name_and_bad_labels_are_reported() {
    let rpod = Rpod::with_image("runc");
    let dir = tempfile::tempdir().unwrap();
    let bin = fake_systemctl(&rpod, dir.path(), "unused");
    rpod.ok(&["tag", "demo", "localapp"]);
    run_in_unit(&rpod, "localapp", "local", "localapp", "local.service");
    // Labelled, but in no unit; and a policy that does not exist.
    rpod.detached(&[
        "--name",
        "loose",
        "--label",
        "io.containers.autoupdate=local",
        "demo",
        "sleep",
        "1000",
    ]);
    rpod.detached(&[
        "--name",
        "odd",
        "--label",
        "io.containers.autoupdate=weekly",
        "demo",
        "sleep",
        "1000",
    ]);
    let out = auto_update(&rpod, &bin, &[]);
    assert_eq!(out.status.code(), Some(125));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "local.service local false\n"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no PODMAN_SYSTEMD_UNIT label found"), "{err}");
    assert!(
        err.contains("invalid auto-update policy \"weekly\""),
        "{err}"
    );
    rpod.ok(&["rm", "-f", "-t", "0", "loose", "odd"]);

    // The name now means another image: the unit makes the container again from it.
    rpod.ok(&[
        "import",
        "--change",
        "LABEL version=2",
        busybox_tarball().to_str().unwrap(),
        "localapp",
    ]);
    let newer = rpod.inspect("localapp:latest", "{{.Id}}");
    assert_eq!(updated(&rpod, &bin, &[]), "local.service local true\n");
    assert_eq!(image_of(&rpod, "localapp"), newer);
}
