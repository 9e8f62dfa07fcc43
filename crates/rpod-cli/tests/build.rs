//! `build`: Containerfiles made into images with real containers (RUN), copies (COPY, ADD,
//! COPY --from), stages and the config instructions; what it refuses, and that a failed
//! build leaves no container and no image of its steps.

mod common;

use std::fs;
use std::os::unix::fs::{chown, symlink};
use std::path::Path;

use common::{free_port, Rpod};

/// A build context: a file owned by someone else, a directory with a link, a gzip tar.
fn context(dir: &Path) {
    fs::create_dir_all(dir.join("sub")).unwrap();
    fs::write(dir.join("hello.txt"), "hello\n").unwrap();
    chown(dir.join("hello.txt"), Some(1234), Some(1234)).unwrap();
    let touched = std::process::Command::new("touch")
        .args(["-d", "@1000000000"])
        .arg(dir.join("hello.txt"))
        .status()
        .unwrap();
    assert!(touched.success());
    fs::write(dir.join("sub/inner.txt"), "inner\n").unwrap();
    symlink("inner.txt", dir.join("sub/link")).unwrap();
    let archive = fs::File::create(dir.join("bundle.tar.gz")).unwrap();
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        archive,
        flate2::Compression::fast(),
    ));
    let mut header = tar::Header::new_gnu();
    header.set_size(7);
    header.set_mode(0o644);
    tar.append_data(&mut header, "unpacked/file", &b"in tar\n"[..])
        .unwrap();
    tar.into_inner().unwrap().finish().unwrap();
}

const CONTAINERFILE: &str = r#"# a multi-stage build
ARG BASE=demo
FROM $BASE AS builder
ARG GREETING=hi
ENV A=1 B="two words"
WORKDIR /app
COPY hello.txt .
COPY sub /app/subdir/
ADD bundle.tar.gz /app/
RUN echo "$GREETING $A $B" > /app/made \
    && test ! -e /app/bundle.tar.gz
FROM scratch AS files
COPY sub/inner.txt /only
FROM demo
COPY --from=builder /app /opt/app
COPY --from=files /only /opt/from-scratch
LABEL built=yes
COPY hello.txt /tmp/
USER 1000:1000
EXPOSE 8080
ENTRYPOINT ["sh", "-c"]
CMD ["cat /opt/app/made"]
"#;

#[test]
fn build_runs_copies_and_stages_into_one_image() {
    let rpod = Rpod::with_image("crun");
    let dir = rpod.dir.path().join("ctx");
    context(&dir);
    fs::write(dir.join("Containerfile"), CONTAINERFILE).unwrap();
    let images_before = rpod.ok(&["images", "-q"]).lines().count();
    let ctx = dir.display().to_string();
    // Without layers: the steps' images go at the end.
    let out = rpod.ok(&[
        "build",
        "--layers=false",
        "-t",
        "built",
        "--build-arg",
        "GREETING=hello",
        &ctx,
    ]);
    // Steps are numbered within their stage, whose place comes first (the global ARG is
    // no stage's step), and the commit of the build's image is announced, as buildah's.
    assert!(
        out.contains("[1/3] STEP 1/8: FROM $BASE AS builder\n"),
        "{out}"
    );
    assert!(
        out.contains("[3/3] STEP 2/9: COPY --from=builder /app /opt/app\n"),
        "{out}"
    );
    assert!(!out.contains("ARG BASE"), "{out}");
    assert!(out.contains("\n[3/3] COMMIT built\n--> "), "{out}");
    // Without layers the steps' images go: only the build's own is said.
    assert_eq!(
        out.lines().filter(|l| l.starts_with("--> ")).count(),
        1,
        "{out}"
    );
    assert_eq!(out.matches("COMMIT").count(), 1, "{out}");
    assert!(
        out.contains("Successfully tagged localhost/built:latest\n"),
        "{out}"
    );
    // The CMD runs through the ENTRYPOINT; the RUN step saw the ARG and the ENV. (As
    // root: the test image's busybox is not for other users.)
    assert_eq!(
        rpod.ok(&["run", "--rm", "--user", "0", "built"]),
        "hello 1 two words\n"
    );
    let listing = rpod.ok(&[
        "run",
        "--rm",
        "--user",
        "0",
        "built",
        "ls -ln /opt/app /opt/app/subdir; cat /opt/app/unpacked/file /opt/from-scratch; readlink /opt/app/subdir/link; stat -c %a /tmp; stat -c %Y /opt/app/hello.txt",
    ]);
    // COPY makes root's files, whoever owned them in the context; links stay links.
    let owner_of = |name: &str| {
        listing
            .lines()
            .find(|l| l.ends_with(name))
            .map(|l| l.split_whitespace().nth(2).unwrap_or("").to_string())
    };
    assert_eq!(owner_of("hello.txt").as_deref(), Some("0"), "{listing}");
    // A directory the ADDed archive only implies is a plain 0755 one.
    assert!(
        listing
            .lines()
            .any(|l| l.starts_with("drwxr-xr-x") && l.ends_with(" unpacked")),
        "{listing}"
    );
    // A directory copied into keeps its mode (/tmp stays sticky and open to all); a copy
    // keeps its source's time.
    assert!(
        listing.ends_with("in tar\ninner\ninner.txt\n1777\n1000000000\n"),
        "{listing}"
    );
    let config = |format: &str| rpod.ok(&["image", "inspect", "--format", format, "built"]);
    assert_eq!(config("{{.Config.User}}").trim(), "1000:1000");
    assert_eq!(config("{{.Config.Labels.built}}").trim(), "yes");
    // The builder stage's ARG and ENV stay there.
    let whole = config("{{json .Config}}");
    assert!(
        !whole.contains("GREETING") && !whole.contains("A=1"),
        "{whole}"
    );
    assert!(whole.contains("8080/tcp"), "{whole}");
    // One new image: the stages' and the steps' images are gone; no container is left.
    assert_eq!(
        rpod.ok(&["images", "-q"]).lines().count(),
        images_before + 1
    );
    assert_eq!(rpod.ok(&["ps", "-aq"]), "");
    // --target stops at a stage; -q prints the ID alone.
    let id = rpod.ok(&["build", "-q", "--target", "builder", "-t", "stage", &ctx]);
    assert_eq!(id.trim().len(), 64, "{id}");
    assert_eq!(id.lines().count(), 1, "{id}");
    // A RUN step's layer has no /etc/mtab link (buildah's steps make none).
    let changes = rpod.ok(&["image", "diff", "stage"]);
    assert!(changes.contains("A /app/made"), "{changes}");
    let root = rpod.ok(&["image", "mount", "stage"]);
    let mtab = Path::new(root.trim()).join("etc/mtab");
    assert!(fs::symlink_metadata(&mtab).is_err(), "{}", mtab.display());
    rpod.ok(&["image", "unmount", "stage"]);
    // (Without --build-arg: the ARG's default.)
    assert_eq!(
        rpod.ok(&["run", "--rm", "stage", "cat", "made"]),
        "hi 1 two words\n"
    );
    assert_eq!(
        rpod.ok(&[
            "image",
            "inspect",
            "--format",
            "{{.Config.WorkingDir}}",
            "stage"
        ])
        .trim(),
        "/app"
    );
}

/// `--from` replaces the first FROM's image; `--logfile` takes everything the build would
/// print, and the terminal still hears of a failure, whose RUN status is the exit code.
#[test]
fn build_from_another_image_into_a_log_file() {
    let rpod = Rpod::with_image("crun");
    let dir = rpod.dir.path().join("ctx");
    context(&dir);
    let ctx = dir.display().to_string();
    fs::write(
        dir.join("Containerfile"),
        "FROM scratch AS base\nCOPY hello.txt /\nUSER 1000\n",
    )
    .unwrap();
    let log = rpod.dir.path().join("build.log");
    let log_arg = log.display().to_string();
    let out = rpod.run(&[
        "build",
        "--from",
        "demo",
        "--logfile",
        &log_arg,
        "-t",
        "fromdemo",
        &ctx,
    ]);
    assert!(out.status.success(), "{out:?}");
    assert!(out.stdout.is_empty() && out.stderr.is_empty(), "{out:?}");
    let written = fs::read_to_string(&log).unwrap();
    assert!(written.contains("STEP 1/3: FROM demo AS base"), "{written}");
    let id = rpod.ok(&["image", "inspect", "--format", "{{.Id}}", "fromdemo"]);
    assert!(written.ends_with(&id), "{written}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        fs::metadata(&log).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        rpod.ok(&["run", "--rm", "-u", "0", "fromdemo", "cat", "/hello.txt"]),
        "hello\n"
    );
    // podman's image inspect fields: the user, the layers' directories (the top one the
    // COPY's, beneath it demo's).
    let fields = "{{.User}} {{.GraphDriver.Data.UpperDir}} {{.GraphDriver.Data.LowerDir}}";
    let shown = rpod.ok(&["image", "inspect", "--format", fields, "fromdemo"]);
    let shown: Vec<&str> = shown.split_whitespace().collect();
    assert_eq!(shown[0], "1000");
    assert!(Path::new(shown[1]).join("hello.txt").is_file(), "{shown:?}");
    assert!(Path::new(shown[2]).join("bin").is_dir(), "{shown:?}");
    // Instructions that change only the config make no layer; each has a history entry of
    // its own (`empty_layer`), before the step that commits them, as buildah writes them.
    fs::write(
        dir.join("Containerfile"),
        "FROM demo\nENV A=1\nRUN touch /made\nUSER 1000\nCMD [\"true\"]\n",
    )
    .unwrap();
    rpod.ok(&["build", "-q", "-t", "history", &ctx]);
    // Again, from the cache: the same entries, none twice.
    fs::write(
        dir.join("Containerfile"),
        "FROM demo\nENV A=1\nRUN touch /made\nUSER 1000\nCMD [\"true\"]\nLABEL two=2\n",
    )
    .unwrap();
    rpod.ok(&["build", "-q", "-t", "again", &ctx]);
    let again = rpod.ok(&[
        "history",
        "--no-trunc",
        "--format",
        "{{.CreatedBy}}",
        "again",
    ]);
    assert_eq!(again.matches("ENV A=1").count(), 1, "{again}");
    assert_eq!(again.matches("USER 1000").count(), 1, "{again}");
    let layers = |image: &str| {
        rpod.ok(&[
            "image",
            "inspect",
            "--format",
            "{{len .RootFS.Layers}}",
            image,
        ])
    };
    assert_eq!(layers("history"), "2\n");
    // demo has no PATH: the image made on it gets the default one beside its own, as
    // buildah's; a build that makes nothing new is demo itself, without it.
    assert_eq!(
        rpod.inspect("history", "{{.Config.Env}}"),
        "[PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin A=1]"
    );
    fs::write(dir.join("Containerfile"), "FROM demo\n").unwrap();
    rpod.ok(&["build", "-q", "-t", "same", &ctx]);
    assert_eq!(
        rpod.inspect("same", "{{.Id}}"),
        rpod.inspect("demo", "{{.Id}}")
    );
    assert_eq!(rpod.inspect("same", "{{.Config.Env}}"), "[]");
    let steps = rpod.ok(&[
        "history",
        "--no-trunc",
        "--format",
        "{{.CreatedBy}}",
        "history",
    ]);
    let steps: Vec<&str> = steps.lines().take(4).collect();
    assert_eq!(
        steps,
        [
            "/bin/sh -c #(nop) CMD [\"true\"]",
            "/bin/sh -c #(nop) USER 1000",
            "/bin/sh -c touch /made",
            "/bin/sh -c #(nop) ENV A=1",
        ],
        "{steps:?}"
    );
    fs::write(
        dir.join("Containerfile"),
        "FROM demo\nRUN echo said; exit 4\n",
    )
    .unwrap();
    let err = rpod.fails(&["build", "--logfile", &log_arg, &ctx], 4);
    assert!(err.contains("exited with status 4"), "{err}");
    let written = fs::read_to_string(&log).unwrap();
    assert!(
        written.starts_with("STEP 1/2: FROM demo\n"),
        "the log was emptied: {written}"
    );
    assert!(written.contains("said\n"), "{written}");
    let err = rpod.fails(&["build", "--logfile", &log_arg, "-o", "-", &ctx], 125);
    assert!(
        err.contains("--logfile cannot be given with --output -"),
        "{err}"
    );
    for bad in ["two words", "$X"] {
        let err = rpod.fails(&["build", "--from", bad, &ctx], 125);
        assert!(err.contains("invalid --from"), "{err}");
    }
    // A log file that cannot be made: said, and no build.
    let unwritable = rpod.dir.path().join("no-such-dir/build.log");
    let err = rpod.fails(
        &[
            "build",
            "--logfile",
            &unwritable.display().to_string(),
            &ctx,
        ],
        125,
    );
    assert!(
        err.contains("--logfile") && err.contains("no-such-dir"),
        "{err}"
    );
    // --from needs a FROM to replace.
    fs::write(
        dir.join("Containerfile"),
        "ARG X=1
",
    )
    .unwrap();
    let err = rpod.fails(&["build", "--from", "demo", &ctx], 125);
    assert!(err.contains("no FROM"), "{err}");
}

#[test]
fn a_failed_or_refused_build_says_why_and_leaves_nothing() {
    let rpod = Rpod::with_image("crun");
    let dir = rpod.dir.path().join("ctx");
    context(&dir);
    fs::create_dir(rpod.dir.path().join("outside")).unwrap();
    fs::write(rpod.dir.path().join("outside/secret"), "secret").unwrap();
    symlink(rpod.dir.path().join("outside"), dir.join("escape")).unwrap();
    let images_before = rpod.ok(&["images", "-aq"]);
    let ctx = dir.display().to_string();
    let file_with = |containerfile: &str| {
        let file = dir.join("Containerfile.pull");
        fs::write(&file, containerfile).unwrap();
        file.display().to_string()
    };
    // (Without layers: the steps that succeeded leave no image; `build_cache_...` has
    // what they leave with them.)
    let build = |containerfile: &str| {
        let file = dir.join("Containerfile.test");
        fs::write(&file, containerfile).unwrap();
        let path = file.display().to_string();
        rpod.fails(&["build", "--layers=false", "-f", &path, &ctx], 125)
    };
    // A failed RUN step's status is the build's exit code, as podman's.
    let file = dir.join("Containerfile.test");
    fs::write(&file, "FROM demo\nRUN touch /x\nRUN echo failing; exit 3\n").unwrap();
    let path = file.display().to_string();
    let err = rpod.fails(&["build", "--layers=false", "-f", &path, &ctx], 3);
    assert!(err.contains("exited with status 3"), "{err}");
    for (containerfile, says) in [
        (
            "FROM demo\nCOPY ../../outside/secret /\n",
            "outside the build context",
        ),
        (
            "FROM demo\nCOPY escape/secret /\n",
            "not a directory of the build context",
        ),
        ("FROM demo\nCOPY https://example.com/x /\n", "ADD downloads"),
        ("FROM demo\nFROBNICATE\n", "unknown instruction"),
        ("RUN true\n", "before the first FROM"),
        ("FROM demo\nCOPY nothing-here /\n", "nothing-here"),
    ] {
        let err = build(containerfile);
        assert!(err.contains(says), "{containerfile}: {err}");
    }
    fs::write(dir.join("Containerfile"), "FROM demo AS one\nRUN true\n").unwrap();
    let err = rpod.fails(&["build", "--target", "nosuch", &ctx], 125);
    assert!(err.contains("--target nosuch"), "{err}");
    // --pull: never refuses what is missing; always pulls what is there (here from a
    // registry that does not answer), missing (the default) takes the local image.
    let err = rpod.fails(
        &[
            "build",
            "--pull=never",
            "-f",
            &file_with("FROM nosuch\n"),
            &ctx,
        ],
        125,
    );
    assert!(err.contains("--pull=never"), "{err}");
    rpod.ok(&["tag", "demo", "localhost:1/local-only"]);
    let local_only = file_with("FROM localhost:1/local-only\nRUN true\n");
    let err = rpod.fails(&["build", "--pull", "-f", &local_only, &ctx], 125);
    assert!(err.contains("localhost:1"), "{err}");
    let built = rpod.ok(&["build", "-q", "-f", &local_only, &ctx]);
    rpod.ok(&["rmi", built.trim()]);
    // newer: the pull fails, the local image is used, saying so; with none, it fails.
    let out = rpod.run(&["build", "--pull=newer", "-f", &local_only, &ctx]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("using the local image"),
        "{out:?}"
    );
    let missing = file_with("FROM localhost:1/never-made\n");
    let err = rpod.fails(&["build", "--pull=newer", "-f", &missing, &ctx], 125);
    assert!(err.contains("localhost:1"), "{err}");
    rpod.ok(&["image", "prune", "-f"]);
    rpod.ok(&["rmi", "localhost:1/local-only"]);
    let err = rpod.fails(&["build", "--label", "=x", &ctx], 125);
    assert!(err.contains("invalid --label"), "{err}");
    let err = rpod.fails(&["build", "--format", "v3", &ctx], 125);
    assert!(err.contains("oci or docker"), "{err}");
    for (containerfile, says) in [
        ("FROM demo\nHEALTHCHECK NONE true\n", "NONE takes nothing"),
        ("FROM demo\nHEALTHCHECK curl x\n", "CMD COMMAND"),
        (
            "FROM demo\nHEALTHCHECK --interval=often CMD true\n",
            "not a duration",
        ),
        (
            "FROM demo\nHEALTHCHECK --retries=-1 CMD true\n",
            "not a number",
        ),
        (
            "FROM demo\nHEALTHCHECK --frequency=1s CMD true\n",
            "--frequency",
        ),
        ("FROM demo\nONBUILD FROM demo\n", "ONBUILD trigger"),
        ("FROM demo\nONBUILD ONBUILD RUN true\n", "ONBUILD trigger"),
    ] {
        let file = dir.join("Containerfile.test");
        fs::write(&file, containerfile).unwrap();
        let path = file.display().to_string();
        let err = rpod.fails(&["build", "--format", "docker", "-f", &path, &ctx], 125);
        assert!(err.contains(says), "{containerfile}: {err}");
    }
    rpod.fails(&["build", "--pull=sometimes", &ctx], 125);
    assert_eq!(rpod.ok(&["ps", "-aq"]), "");
    assert_eq!(rpod.ok(&["images", "-aq"]), images_before);
    let err = rpod.fails(
        &[
            "build",
            rpod.dir.path().join("empty").display().to_string().as_str(),
        ],
        125,
    );
    assert!(!err.is_empty());
}

#[test]
fn the_contexts_ignore_file_leaves_paths_out_of_copies() {
    let rpod = Rpod::with_image("crun");
    let dir = rpod.dir.path().join("ctx");
    context(&dir);
    fs::create_dir(dir.join("sub/deeper")).unwrap();
    fs::write(dir.join("sub/deeper/kept.txt"), "kept\n").unwrap();
    fs::write(dir.join("sub/deeper/notes.log"), "log\n").unwrap();
    fs::write(
        dir.join(".dockerignore"),
        "# build output\n*.gz\nsub\n!sub/deeper\n**/*.log\n",
    )
    .unwrap();
    fs::write(
        dir.join("Containerfile"),
        "FROM demo\nCOPY . /ctx/\nCOPY *.txt /txt/\n",
    )
    .unwrap();
    let ctx = dir.display().to_string();
    rpod.ok(&["build", "-q", "-t", "ignored", &ctx]);
    let found = rpod.ok(&[
        "run", "--rm", "ignored", "find", "/ctx", "/txt", "-type", "f",
    ]);
    let mut found: Vec<&str> = found.lines().collect();
    found.sort();
    assert_eq!(
        found,
        [
            "/ctx/.dockerignore",
            "/ctx/Containerfile",
            "/ctx/hello.txt",
            "/ctx/sub/deeper/kept.txt",
            "/txt/hello.txt",
        ]
    );
    // A source the file leaves out is an error, as in Docker.
    fs::write(
        dir.join("Containerfile"),
        "FROM demo\nCOPY bundle.tar.gz /\n",
    )
    .unwrap();
    let err = rpod.fails(&["build", &ctx], 125);
    assert!(err.contains("ignore file"), "{err}");
    // .containerignore comes first.
    fs::write(dir.join(".containerignore"), "nothing\n").unwrap();
    rpod.ok(&["build", "-q", &ctx]);
}

/// A build interrupted while a RUN step runs removes that step's container (which runs
/// apart from rpod) and the images of the steps before, and exits as the signal says.
#[test]
fn an_interrupted_build_removes_its_running_step() {
    let rpod = Rpod::with_image("crun");
    let dir = rpod.dir.path().join("ctx");
    fs::create_dir_all(&dir).unwrap();
    fs::write(
        dir.join("Containerfile"),
        "FROM demo\nRUN touch /first\nENV STEP=2\nRUN sleep 1000\n",
    )
    .unwrap();
    let images_before = rpod.ok(&["images", "-aq"]);
    let mut build = rpod
        .command(&["build", "--layers=false", "-q", &dir.display().to_string()])
        .spawn()
        .unwrap();
    let running = || {
        rpod.ok(&[
            "ps",
            "--filter",
            "label=io.rpod.build-step",
            "--format",
            "{{.Command}}",
        ])
    };
    // The last step: the images of the steps before are made.
    common::wait_until("the RUN sleep step runs", || running().contains("sleep"));
    assert_ne!(rpod.ok(&["images", "-aq"]), images_before);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(build.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let status = build.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert_eq!(rpod.ok(&["ps", "-aq"]), "");
    assert_eq!(rpod.ok(&["images", "-aq"]), images_before);
}

/// `--format docker`: HEALTHCHECK, ONBUILD and SHELL kept in the image, as in Docker's;
/// the image's check is its containers' unless they say otherwise, a build FROM it runs
/// its triggers and keeps its check and shell; an OCI build warns and keeps none of them;
/// `commit --format docker` keeps the container's check.
#[test]
fn a_docker_format_image_keeps_its_health_check_triggers_and_shell() {
    let rpod = Rpod::with_image("crun");
    let dir = rpod.dir.path().join("ctx");
    fs::create_dir_all(&dir).unwrap();
    let ctx = dir.display().to_string();
    let containerfile = |name: &str, text: &str| {
        fs::write(dir.join(name), text).unwrap();
        dir.join(name).display().to_string()
    };
    let base = containerfile(
        "Base",
        "FROM demo\nSHELL [\"/bin/sh\", \"-ec\"]\n\
         HEALTHCHECK --interval=5s --timeout=2s --retries=2 CMD test -e /tmp/ok\n\
         ONBUILD RUN echo triggered > /trigger\nCMD [\"sleep\", \"100\"]\n",
    );
    rpod.ok(&[
        "build", "-q", "--format", "docker", "-t", "checked", "-f", &base, &ctx,
    ]);
    let check = rpod.ok(&[
        "image",
        "inspect",
        "checked",
        "--format",
        "{{json .HealthCheck}}",
    ]);
    let check: serde_json::Value = serde_json::from_str(&check).unwrap();
    assert_eq!(
        check["Test"],
        serde_json::json!(["CMD-SHELL", "test -e /tmp/ok"])
    );
    assert_eq!(check["Interval"], 5_000_000_000u64);
    assert_eq!(check["Timeout"], 2_000_000_000u64);
    assert_eq!(check["Retries"], 2);

    // Its containers are checked with it.
    rpod.ok(&["run", "-d", "--name", "c", "checked"]);
    let test = rpod.ok(&[
        "inspect",
        "c",
        "--format",
        "{{json .Config.Healthcheck.Test}}",
    ]);
    assert_eq!(test.trim(), r#"["CMD-SHELL","test -e /tmp/ok"]"#);
    assert_eq!(rpod.fails(&["healthcheck", "run", "c"], 1), "");
    rpod.ok(&["exec", "c", "touch", "/tmp/ok"]);
    rpod.ok(&["healthcheck", "run", "c"]);
    // Unless told otherwise: none, or another.
    rpod.ok(&[
        "create",
        "--name",
        "unchecked",
        "--no-healthcheck",
        "checked",
    ]);
    let err = rpod.fails(&["healthcheck", "run", "unchecked"], 125);
    assert!(err.contains("no defined healthcheck"), "{err}");
    // `--health-cmd none` drops it too; an empty one is no flag (the image's holds), as
    // podman and Docker read them.
    rpod.ok(&[
        "create",
        "--name",
        "none",
        "--health-cmd",
        "none",
        "checked",
    ]);
    let err = rpod.fails(&["healthcheck", "run", "none"], 125);
    assert!(err.contains("no defined healthcheck"), "{err}");
    rpod.ok(&["create", "--name", "empty", "--health-cmd", "", "checked"]);
    let test = rpod.ok(&[
        "inspect",
        "empty",
        "--format",
        "{{json .Config.Healthcheck.Test}}",
    ]);
    assert_eq!(test.trim(), r#"["CMD-SHELL","test -e /tmp/ok"]"#);
    // `CMD PROGRAM ARG...` on a line runs without a shell, as podman's.
    rpod.ok(&[
        "create",
        "--name",
        "direct",
        "--health-cmd",
        "CMD test -e /",
        "checked",
    ]);
    let test = rpod.ok(&[
        "inspect",
        "direct",
        "--format",
        "{{json .Config.Healthcheck.Test}}",
    ]);
    assert_eq!(test.trim(), r#"["CMD","test","-e","/"]"#);
    rpod.ok(&[
        "create",
        "--name",
        "other",
        "--health-cmd",
        "true",
        "checked",
    ]);
    let test = rpod.ok(&[
        "inspect",
        "other",
        "--format",
        "{{json .Config.Healthcheck.Test}}",
    ]);
    assert_eq!(test.trim(), r#"["CMD-SHELL","true"]"#);
    rpod.ok(&[
        "create",
        "--name",
        "restarts",
        "--health-on-failure",
        "restart",
        "checked",
    ]);
    let action = rpod.ok(&[
        "inspect",
        "restarts",
        "--format",
        "{{.Config.HealthcheckOnFailureAction}}",
    ]);
    assert_eq!(action.trim(), "restart");
    let err = rpod.fails(
        &["create", "--health-on-failure", "kill", "demo", "true"],
        125,
    );
    assert!(err.contains("needs a health check"), "{err}");

    // A build FROM it runs its trigger, with its shell (`-e`), and keeps its check.
    let child = containerfile(
        "Child",
        "FROM checked\nRUN cat /trigger; set -o | grep errexit\n",
    );
    let out = rpod.ok(&[
        "build", "--format", "docker", "-t", "child", "-f", &child, &ctx,
    ]);
    assert!(out.contains("ONBUILD RUN echo triggered"), "{out}");
    assert!(
        out.contains("triggered\n") && out.contains("errexit"),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("errexit") && l.ends_with("on")),
        "{out}"
    );
    let kept = rpod.ok(&[
        "image",
        "inspect",
        "child",
        "--format",
        "{{json .HealthCheck.Test}}",
    ]);
    assert_eq!(kept.trim(), r#"["CMD-SHELL","test -e /tmp/ok"]"#);
    // The trigger ran once, in the child's build: the child has none of its own.
    let grandchild = containerfile("Grandchild", "FROM child\nRUN true\n");
    let out = rpod.ok(&["build", "--format", "docker", "-f", &grandchild, &ctx]);
    assert!(!out.contains("ONBUILD"), "{out}");

    // An OCI build says it drops them, and does.
    let out = rpod.run(&["build", "-t", "plain", "-f", &base, &ctx]);
    let shown =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{shown}");
    assert!(
        shown.contains("HEALTHCHECK is not kept in an OCI image"),
        "{shown}"
    );
    assert!(
        shown.contains("ONBUILD is not kept in an OCI image"),
        "{shown}"
    );
    // `-q` prints the image's ID alone on standard output, the warning still on
    // standard error.
    let out = rpod.run(&["build", "-q", "-t", "plain", "-f", &base, &ctx]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim().len(),
        64,
        "{stderr}"
    );
    assert!(
        stderr.contains("HEALTHCHECK is not kept in an OCI image"),
        "{stderr}"
    );
    rpod.fails(
        &[
            "image",
            "inspect",
            "plain",
            "--format",
            "{{json .HealthCheck}}",
        ],
        125,
    );

    // commit --format docker keeps the container's own check (or none, as it was told).
    rpod.ok(&["commit", "--format", "docker", "other", "from-other"]);
    let test = rpod.ok(&[
        "image",
        "inspect",
        "from-other",
        "--format",
        "{{json .HealthCheck.Test}}",
    ]);
    assert_eq!(test.trim(), r#"["CMD-SHELL","true"]"#);
    rpod.ok(&[
        "commit",
        "--format",
        "docker",
        "unchecked",
        "from-unchecked",
    ]);
    let test = rpod.ok(&[
        "image",
        "inspect",
        "from-unchecked",
        "--format",
        "{{json .HealthCheck.Test}}",
    ]);
    assert_eq!(test.trim(), r#"["NONE"]"#);
    rpod.ok(&["create", "--name", "none-again", "from-unchecked"]);
    rpod.fails(&["healthcheck", "run", "none-again"], 125);
    // An OCI commit keeps none.
    rpod.ok(&["commit", "other", "oci-commit"]);
    rpod.fails(
        &[
            "image",
            "inspect",
            "oci-commit",
            "--format",
            "{{json .HealthCheck}}",
        ],
        125,
    );
    // commit's ONBUILD change: a trigger of a Docker-format image, after the image's own;
    // an OCI commit drops it with a warning, as podman's.
    rpod.ok(&[
        "commit",
        "--format",
        "docker",
        "-c",
        "ONBUILD RUN echo committed > /committed",
        "other",
        "with-trigger",
    ]);
    let from_commit = containerfile(
        "FromCommit",
        "FROM with-trigger\nRUN cat /trigger /committed\n",
    );
    let out = rpod.ok(&["build", "--format", "docker", "-f", &from_commit, &ctx]);
    assert!(out.contains("triggered\ncommitted\n"), "{out}");
    let out = rpod.run(&["commit", "-c", "ONBUILD RUN true", "other", "oci-trigger"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("ONBUILD is not kept in an OCI image"),
        "{stderr}"
    );
    let err = rpod.fails(
        &[
            "commit",
            "--format",
            "docker",
            "-c",
            "ONBUILD FROM demo",
            "other",
            "x",
        ],
        125,
    );
    assert!(err.contains("not allowed as an ONBUILD trigger"), "{err}");
    rpod.ok(&["rm", "-f", "-t", "0", "c"]);

    // --manifest: the image added to a list, made when missing.
    rpod.ok(&[
        "build",
        "-q",
        "--format",
        "docker",
        "--manifest",
        "multi",
        "-f",
        &base,
        &ctx,
    ]);
    let list: serde_json::Value =
        serde_json::from_str(&rpod.ok(&["manifest", "inspect", "multi"])).unwrap();
    let entries = list["manifests"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{list}");
    assert_eq!(
        entries[0]["mediaType"],
        "application/vnd.docker.distribution.manifest.v2+json"
    );
}

#[test]
fn copy_chown_and_chmod_give_owners_and_modes_as_podman_does() {
    let rpod = Rpod::with_image("crun");
    let dir = rpod.dir.path().join("ctx");
    fs::create_dir_all(dir.join("d/sub")).unwrap();
    fs::write(dir.join("f"), "file\n").unwrap();
    fs::write(dir.join("d/sub/y"), "y\n").unwrap();
    // The owners named here exist only in the image (made by the first RUN step).
    fs::write(
        dir.join("Containerfile"),
        r#"FROM demo
RUN echo "bin:x:1:1:bin:/bin:/bin/sh" >> /etc/passwd && echo "bin:x:1:" >> /etc/group \
    && echo "daemon:x:2:" >> /etc/group && echo "web:x:77:88::/:/bin/sh" >> /etc/passwd
ARG WHO=web
COPY --chown=bin f /a/b/bin/
COPY --chown=55 f /num55
COPY --chown=$WHO f /named-by-arg
COPY --chown=bin:daemon d /named/
COPY --chmod=0640 f d /modes/
COPY --chown=1:2 --chmod=700 d /both
FROM demo
COPY --from=0 --chown=9:8 --chmod=604 /named /from-stage
ADD --chown=3:4 --chmod=751 f /added
"#,
    )
    .unwrap();
    let ctx = dir.display().to_string();
    rpod.ok(&["build", "-t", "owned", &ctx]);
    let listing = rpod.ok(&[
        "run",
        "--rm",
        "--user",
        "0",
        "owned",
        "sh",
        "-c",
        "find /from-stage /added | sort | xargs stat -c '%n %u:%g %a'",
    ]);
    assert_eq!(
        listing,
        "/added 3:4 751\n/from-stage 9:8 755\n/from-stage/sub 9:8 604\n/from-stage/sub/y 9:8 604\n",
    );
    // The first stage: a file that ends there, built alone.
    fs::write(
        dir.join("Containerfile.first"),
        fs::read_to_string(dir.join("Containerfile"))
            .unwrap()
            .split("FROM demo\nCOPY --from")
            .next()
            .unwrap(),
    )
    .unwrap();
    let first = rpod.ok(&[
        "build",
        "-q",
        "-f",
        &dir.join("Containerfile.first").display().to_string(),
        &ctx,
    ]);
    let listing = rpod.ok(&[
        "run",
        "--rm",
        "--user",
        "0",
        first.trim(),
        "sh",
        "-c",
        "find /a /num55 /named-by-arg /named /modes /both | sort | xargs stat -c '%n %u:%g %a'",
    ]);
    // Directories a copy makes are the new owner's, 0755; --chmod is for what is copied.
    assert_eq!(
        listing,
        "/a 1:1 755\n/a/b 1:1 755\n/a/b/bin 1:1 755\n/a/b/bin/f 1:1 644\n\
         /both 1:2 755\n/both/sub 1:2 700\n/both/sub/y 1:2 700\n\
         /modes 0:0 755\n/modes/f 0:0 640\n/modes/sub 0:0 640\n/modes/sub/y 0:0 640\n\
         /named 1:2 755\n/named-by-arg 77:88 644\n/named/sub 1:2 755\n/named/sub/y 1:2 644\n\
         /num55 55:55 644\n",
    );
    for (containerfile, says) in [
        (
            "FROM demo\nCOPY --chown=nosuchuser f /\n",
            "unable to find user nosuchuser",
        ),
        (
            "FROM demo\nCOPY --chown=0:nosuchgroup f /\n",
            "unable to find group nosuchgroup",
        ),
        ("FROM demo\nCOPY --chmod=u+x f /\n", "octal digits"),
        ("FROM demo\nCOPY --chmod=17777 f /\n", "octal digits"),
        ("FROM demo\nCOPY --link f /\n", "--link"),
    ] {
        let file = dir.join("Containerfile.bad");
        fs::write(&file, containerfile).unwrap();
        let err = rpod.fails(&["build", "-f", &file.display().to_string(), &ctx], 125);
        assert!(err.contains(says), "{containerfile}: {err}");
    }
    // Docker's and podman's flags that change nothing here are taken; --logsplit names the
    // log after the platform, as podman's; what rpod cannot do is refused.
    fs::write(dir.join("Containerfile.ok"), "FROM demo\nRUN echo ran\n").unwrap();
    let log = rpod.dir.path().join("build.log");
    rpod.ok(&[
        "build",
        "--compress",
        "--disable-content-trust",
        "--force-rm",
        "--isolation",
        "oci",
        "--logfile",
        &log.display().to_string(),
        "--logsplit",
        "--platform",
        "linux/amd64",
        "-f",
        &dir.join("Containerfile.ok").display().to_string(),
        &ctx,
    ]);
    let split = rpod.dir.path().join("build.log_linux_amd64");
    assert!(fs::read_to_string(&split).unwrap().contains("ran\n"));
    assert!(!log.exists());
    for (flags, says) in [
        (vec!["--isolation", "chroot"], "--isolation chroot"),
        (vec!["--force-rm=false"], "--force-rm=false"),
        (vec!["--logsplit"], "--logsplit needs --logfile"),
    ] {
        let mut args = vec!["build"];
        args.extend(flags.iter().copied());
        args.push(&ctx);
        let err = rpod.fails(&args, 125);
        assert!(err.contains(says), "{flags:?}: {err}");
    }
    // A flag given without a value is shown as it was written.
    let shown = rpod.run(&[
        "build",
        "-f",
        &dir.join("Containerfile.bad").display().to_string(),
        &ctx,
    ]);
    let stdout = String::from_utf8_lossy(&shown.stdout);
    assert!(stdout.contains("STEP 2/2: COPY --link f /\n"), "{stdout}");
}

/// `build -`: a Containerfile alone on standard input (an empty context), or a tar of the
/// context, plain or compressed (gzip, bzip2, xz, zstd), as podman and Docker take them;
/// `-f -` beside it is refused.
#[test]
fn a_context_or_containerfile_comes_on_standard_input() {
    let rpod = Rpod::with_image("crun");
    let out = common::pipe_through(
        &mut rpod.command(&["build", "-q", "-t", "piped", "-"]),
        b"FROM demo\nRUN echo made > /made\n",
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(rpod.ok(&["run", "--rm", "piped", "cat", "/made"]), "made\n");

    let mut context = tar::Builder::new(Vec::new());
    for (name, data) in [
        ("Build.file", &b"FROM demo\nCOPY data /data\n"[..]),
        ("data", &b"from the tar\n"[..]),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        context.append_data(&mut header, name, data).unwrap();
    }
    let context = context.into_inner().unwrap();
    let mut gzipped = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gzipped, &context).unwrap();
    let gzipped = gzipped.finish().unwrap();
    // bzip2, xz and zstd too, as podman's and Docker's builds unpack them.
    let packed = tempfile::tempdir().unwrap();
    std::fs::write(packed.path().join("c.tar"), &context).unwrap();
    let made = std::process::Command::new("sh")
        .args([
            "-c",
            "bzip2 -k c.tar && xz -k c.tar && zstd -q c.tar -o c.tar.zst",
        ])
        .current_dir(packed.path())
        .status()
        .unwrap();
    assert!(made.success());
    let read = |name: &str| std::fs::read(packed.path().join(name)).unwrap();
    let (bzip2, xz, zstd) = (read("c.tar.bz2"), read("c.tar.xz"), read("c.tar.zst"));
    for (tag, bytes) in [
        ("plain", &context),
        ("gzipped", &gzipped),
        ("bzip2", &bzip2),
        ("xz", &xz),
        ("zstd", &zstd),
    ] {
        let out = common::pipe_through(
            &mut rpod.command(&["build", "-q", "-f", "Build.file", "-t", tag, "-"]),
            bytes,
        );
        assert!(out.status.success(), "{tag}: {out:?}");
        assert_eq!(
            rpod.ok(&["run", "--rm", tag, "cat", "/data"]),
            "from the tar\n"
        );
    }
    let err = rpod.fails(&["build", "-f", "-", "-t", "both", "-"], 125);
    assert!(
        err.contains("cannot both come from standard input"),
        "{err}"
    );
}

/// An image whose steps left one layer twice runs (overlayfs refuses a lower directory given
/// twice: "too many levels of symbolic links"), and mounts; `/` stays 0755 after a COPY (the
/// step's layer, which has no entry for its top, gave `/` rpod's umask, 0700); COPY takes
/// fifos and device nodes from the context, as buildah's does (it refused them).
#[test]
fn a_layer_given_twice_runs_and_copies_keep_root_and_nodes() {
    let rpod = Rpod::with_image("crun");
    let dir = rpod.dir.path().join("ctx");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("f"), "file\n").unwrap();
    let made = |args: &[&str]| {
        let status = std::process::Command::new(args[0])
            .args(&args[1..])
            .status()
            .unwrap();
        assert!(status.success(), "{args:?}");
    };
    let at = |name: &str| dir.join(name).display().to_string();
    made(&["mkfifo", "-m", "640", &at("pipe")]);
    made(&["mknod", "-m", "666", &at("null"), "c", "1", "3"]);
    // The same time for every file of a step: two RUN steps that change nothing leave the
    // same layer.
    fs::write(
        dir.join("Containerfile"),
        "FROM demo\nRUN true\nCOPY f pipe null /x/\nRUN true\n",
    )
    .unwrap();
    let ctx = dir.display().to_string();
    rpod.ok(&["build", "-q", "--timestamp", "1000", "-t", "twice", &ctx]);
    let layers = rpod.ok(&[
        "image",
        "inspect",
        "--format",
        r#"{{range .RootFS.Layers}}{{.}}{{"\n"}}{{end}}"#,
        "twice",
    ]);
    let layers: Vec<&str> = layers.lines().collect();
    assert_eq!(layers.len(), 4, "{layers:?}");
    assert_eq!(layers[1], layers[3], "{layers:?}");
    assert_eq!(
        rpod.ok(&[
            "run",
            "--rm",
            "twice",
            "stat",
            "-c",
            "%n %a %F %t:%T",
            "/",
            "/x/f",
            "/x/pipe",
            "/x/null",
        ]),
        "/ 755 directory 0:0\n/x/f 644 regular file 0:0\n/x/pipe 640 fifo 0:0\n\
         /x/null 666 character special file 1:3\n"
    );
    let mounted = rpod.ok(&["image", "mount", "twice"]);
    assert!(Path::new(mounted.trim()).join("x/f").exists(), "{mounted}");
    rpod.ok(&["image", "unmount", "twice"]);
}

/// RUN steps as buildah runs them: a numeric USER the image does not know without the
/// passwd and group entries `run` adds (they would be committed into the image); a
/// WORKDIR made with every missing directory the user's; the stage's VOLUMEs there, filled
/// with the image's content, and what a step writes in them not committed.
#[test]
fn run_steps_leave_accounts_alone_and_volumes_out_and_make_the_workdir() {
    let rpod = Rpod::with_image("crun");
    let dir = rpod.dir.path().join("ctx");
    fs::create_dir_all(&dir).unwrap();
    fs::write(
        dir.join("Containerfile"),
        "FROM demo\n\
         RUN mkdir /v && echo kept > /v/a\n\
         VOLUME /v /nv\n\
         USER 4321:4322\n\
         WORKDIR /w1/w2\n\
         RUN id -u > /tmp/uid\n\
         USER 0\n\
         RUN ls /v /nv > /tmp/volumes && echo lost > /v/b && echo lost > /nv/c \
             && stat -c '%n %u:%g' /w1 /w1/w2 > /tmp/owners\n",
    )
    .unwrap();
    let ctx = dir.display().to_string();
    rpod.ok(&["build", "-q", "-t", "steps", &ctx]);
    let cat = |path: &str| {
        rpod.ok(&[
            "run",
            "--rm",
            "--image-volume",
            "ignore",
            "steps",
            "sh",
            "-c",
            &format!("cat {path}"),
        ])
    };
    assert_eq!(cat("/tmp/uid"), "4321\n");
    assert_eq!(cat("/tmp/volumes"), "/nv:\n\n/v:\na\n");
    assert_eq!(cat("/tmp/owners"), "/w1 4321:4322\n/w1/w2 4321:4322\n");
    // The volumes' files are the image's: the steps' writes are gone; the one the image
    // did not have is there, empty, as buildah commits it.
    assert_eq!(cat("/v/*; ls /nv"), "kept\n");
    let changes = rpod.ok(&["diff", "steps", "demo"]);
    assert!(!changes.contains("/etc"), "{changes}");
    let accounts = cat("/etc/passwd /etc/group");
    assert!(!accounts.contains("432"), "{accounts}");
}

/// `--layers` (the default): each step's image is kept and a build takes from the cache
/// the steps it ran before with the same image, config, command or files; `--no-cache`
/// and `--layers=false` run them all. The steps' images are intermediate (`images -a`),
/// and `rmi` of the image takes them with it, as podman's.
#[test]
fn build_cache_takes_steps_that_are_the_same_and_rmi_takes_their_images() {
    let rpod = Rpod::with_image("crun");
    let dir = rpod.dir.path().join("ctx");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("a.txt"), "first\n").unwrap();
    fs::write(
        dir.join("Containerfile"),
        "FROM demo\nRUN cat /proc/sys/kernel/random/uuid > /stamp\nCOPY a.txt /\nARG V=1\nRUN echo $V > /v\nENV X=1\n",
    )
    .unwrap();
    let ctx = dir.display().to_string();
    let images_before = rpod.ok(&["images", "-q"]);
    let build = |extra: &[&str]| {
        let mut args = vec!["build"];
        args.extend_from_slice(extra);
        args.push(&ctx);
        let out = rpod.ok(&args);
        let id = out.lines().last().unwrap_or("").to_string();
        (out, id)
    };
    let (out, first) = build(&["-t", "one"]);
    assert!(!out.contains("Using cache"), "{out}");
    assert!(out.contains("STEP 2/6: RUN cat"), "{out}");
    assert!(out.contains("STEP 6/6: ENV X=1\nCOMMIT one\n--> "), "{out}");
    assert!(
        out.lines().any(|l| l.starts_with("--> ") && l.len() == 15),
        "{out}"
    );
    let stamp = |image: &str| rpod.ok(&["run", "--rm", image, "cat", "/stamp", "/a.txt", "/v"]);
    // The same again: every step from the cache, the same image.
    let (out, again) = build(&["-t", "two"]);
    assert_eq!(out.matches("--> Using cache").count(), 4, "{out}");
    // The build's image, from the cache too, is announced after its `Using cache`, as
    // buildah does.
    assert!(
        out.contains("STEP 6/6: ENV X=1\n--> Using cache ") && out.contains("\nCOMMIT two\n--> "),
        "{out}"
    );
    assert_eq!(out.matches("COMMIT").count(), 1, "{out}");
    assert_eq!(again, first);
    // The steps' images are intermediate: listed with -a only, and the image's parent
    // is the last of them.
    assert_eq!(
        rpod.ok(&["images", "-q"]).lines().count(),
        images_before.lines().count() + 1
    );
    assert!(rpod.ok(&["images", "-aq"]).lines().count() >= images_before.lines().count() + 4);
    let parent = rpod.inspect(&first, "{{.Parent}}");
    assert_eq!(parent.len(), 64, "{parent}");
    // `images` says the same parent, in a template and in its JSON.
    let listed = rpod.ok(&[
        "images",
        "--filter",
        "reference=two",
        "--format",
        "{{.ParentId}}",
    ]);
    assert_eq!(listed.trim(), parent);
    let listed: serde_json::Value = serde_json::from_str(&rpod.ok(&[
        "images",
        "--filter",
        "reference=two",
        "--format",
        "json",
    ]))
    .unwrap();
    assert_eq!(listed[0]["ParentId"], parent.as_str(), "{listed}");
    // New times on the same files take the cache; new content does not, from that step.
    let touched = std::process::Command::new("touch")
        .arg(dir.join("a.txt"))
        .status()
        .unwrap();
    assert!(touched.success());
    let (out, same) = build(&[]);
    assert_eq!(same, first, "{out}");
    fs::write(dir.join("a.txt"), "second\n").unwrap();
    let (out, changed) = build(&["-t", "changed"]);
    assert_eq!(out.matches("--> Using cache").count(), 1, "{out}");
    let first_stamp = stamp(&first);
    let changed_stamp = stamp(&changed);
    assert_eq!(
        first_stamp.lines().next(),
        changed_stamp.lines().next(),
        "the RUN before the COPY came from the cache"
    );
    assert!(changed_stamp.contains("second\n1\n"), "{changed_stamp}");
    // A build argument the RUN sees makes it new.
    let (out, with_arg) = build(&["--build-arg", "V=2"]);
    assert_eq!(out.matches("--> Using cache").count(), 2, "{out}");
    assert!(stamp(&with_arg).ends_with("second\n2\n"));
    // --no-cache and --layers=false run everything.
    for flag in ["--no-cache", "--layers=false"] {
        let (out, fresh) = build(&[flag]);
        assert!(!out.contains("Using cache"), "{flag}: {out}");
        assert_ne!(fresh, changed, "{flag}");
        assert_ne!(stamp(&fresh).lines().next(), changed_stamp.lines().next());
    }
    // A failing build keeps the steps that succeeded, for the next one.
    fs::write(
        dir.join("Containerfile.fails"),
        "FROM demo\nRUN touch /made\nRUN exit 3\n",
    )
    .unwrap();
    let failing = dir.join("Containerfile.fails").display().to_string();
    rpod.fails(&["build", "-f", &failing, &ctx], 3);
    let out = rpod.run(&["build", "-f", &failing, &ctx]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.matches("--> Using cache").count(), 1, "{text}");
    // rmi of a name of several untags; of the last name, the image and its steps' images
    // go, those another image still builds on stay.
    assert_eq!(rpod.ok(&["rmi", "two"]), "Untagged: localhost/two:latest\n");
    let removed = rpod.ok(&["rmi", "one"]);
    assert!(removed.contains(&format!("Deleted: {first}")), "{removed}");
    // It and the two steps' images before it; the RUN before the COPY has another child
    // (changed's COPY).
    assert_eq!(removed.matches("Deleted: ").count(), 3, "{removed}");
    let removed = rpod.ok(&["rmi", "--no-prune", "changed"]);
    assert_eq!(removed.matches("Deleted: ").count(), 1, "{removed}");
    // What is left unnamed without children is dangling: image prune takes it and the
    // images it was made on.
    let dangling = rpod.ok(&["images", "-q", "--filter", "dangling=true"]);
    assert!(!dangling.is_empty());
    let pruned = rpod.ok(&["image", "prune", "-f"]);
    assert!(
        pruned.lines().count() > dangling.lines().count(),
        "{pruned}"
    );
    assert_eq!(rpod.ok(&["images", "-q", "--filter", "dangling=true"]), "");
    assert_eq!(rpod.ok(&["ps", "-aq"]), "");
    // rmi --all: every image, those an earlier removal took with it no error.
    build(&["-t", "again"]);
    rpod.ok(&["rmi", "--all"]);
    assert_eq!(rpod.ok(&["images", "-aq"]), "");
}

/// A source that is a link is followed inside where it is (the context, an image's root)
/// and never on the host: COPY and COPY --from copy what it leads to under its own name, as
/// Docker's and buildah's; a bind mount of one (the host's kernel would follow it) binds
/// what it leads to inside, so a link to a host file shows nothing of the host's.
#[test]
fn links_among_sources_are_followed_inside_the_context_and_the_image_only() {
    let rpod = Rpod::with_image("crun");
    // A host file no build may read.
    let secret = rpod.dir.path().join("host-secret");
    fs::write(&secret, "host-only-secret\n").unwrap();
    let secret = secret.display().to_string();
    let dir = rpod.dir.path().join("ctx");
    fs::create_dir_all(dir.join("data/sub")).unwrap();
    fs::write(dir.join("data/f"), "context data\n").unwrap();
    fs::write(dir.join("data/sub/inner"), "inner\n").unwrap();
    symlink("data/f", dir.join("rel")).unwrap();
    symlink("/data/f", dir.join("abs")).unwrap();
    symlink("data/sub", dir.join("dirlink")).unwrap();
    symlink(&secret, dir.join("outside")).unwrap();
    let ctx = dir.display().to_string();
    let build = |file: &str, text: &str| {
        fs::write(dir.join(file), text).unwrap();
        let path = dir.join(file).display().to_string();
        rpod.run(&["build", "--no-cache", "-f", &path, "-t", "links", &ctx])
    };
    let ok = |out: std::process::Output| {
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "{out:?}");
        assert!(!text.to_lowercase().contains("host-only-secret"), "{text}");
        text
    };
    let out = ok(build(
        "Containerfile.copy",
        "FROM demo\nCOPY rel /one\nCOPY abs dirlink /two/\nCOPY dirlink /three\n\
         RUN stat -c '%n %F' /one /two/abs /two/inner /three/inner && cat /one /two/abs\n",
    ));
    assert!(
        out.contains(
            "/one regular file\n/two/abs regular file\n/two/inner regular file\n\
             /three/inner regular file\ncontext data\ncontext data\n"
        ),
        "{out}"
    );
    // The link to the host's file leads to nothing in the context.
    for text in [
        "FROM demo\nCOPY outside /x\n",
        "FROM demo\nRUN --mount=type=bind,source=outside,target=/x cat /x\n",
    ] {
        let out = build("Containerfile.out", text);
        let all = format!("{out:?}");
        assert!(!out.status.success(), "{text}: {all}");
        assert!(
            !all.to_lowercase().contains("host-only-secret"),
            "{text}: {all}"
        );
        assert!(
            all.contains("not followed inside the build context"),
            "{all}"
        );
    }
    ok(build(
        "Containerfile.bind",
        "FROM demo\nRUN --mount=type=bind,source=abs,target=/x grep -qx 'context data' /x\n",
    ));
    // An image's links: followed in its root, for COPY --from and a bind from a stage.
    let stage = format!(
        "FROM demo AS links\nRUN ln -s /bin/busybox /bb && ln -s {secret} /leak\nFROM demo\n"
    );
    let out = ok(build(
        "Containerfile.from",
        &format!(
            "{stage}COPY --from=links /bb /x\nCOPY --from=links /bb /into/\n\
             RUN --mount=type=bind,from=links,source=/bb,target=/b stat -c '%n %F' /x /into/bb /b\n"
        ),
    ));
    assert!(
        out.contains("/x regular file\n/into/bb regular file\n/b regular file\n"),
        "{out}"
    );
    for step in [
        "COPY --from=links /leak /x",
        "RUN --mount=type=bind,from=links,source=/leak,target=/x cat /x",
    ] {
        let out = build("Containerfile.leak", &format!("{stage}{step}\n"));
        let all = format!("{out:?}");
        assert!(!out.status.success(), "{step}: {all}");
        assert!(
            !all.to_lowercase().contains("host-only-secret"),
            "{step}: {all}"
        );
        assert!(all.contains("the image does not have"), "{step}: {all}");
    }
    // The default Containerfile: a link to the host's file leads to nothing in the context
    // (its text would show in the error), one inside it is followed.
    let other = rpod.dir.path().join("ctx2");
    fs::create_dir_all(other.join("docker")).unwrap();
    symlink(&secret, other.join("Containerfile")).unwrap();
    let other_ctx = other.display().to_string();
    let out = rpod.run(&["build", &other_ctx]);
    let all = format!("{out:?}");
    assert_eq!(out.status.code(), Some(125), "{all}");
    assert!(!all.to_lowercase().contains("host-only-secret"), "{all}");
    assert!(all.contains("no Containerfile or Dockerfile"), "{all}");
    fs::write(
        other.join("docker/prod"),
        "FROM demo\nRUN echo from-the-linked-file\n",
    )
    .unwrap();
    fs::remove_file(other.join("Containerfile")).unwrap();
    symlink("docker/prod", other.join("Containerfile")).unwrap();
    let out = ok(rpod.run(&["build", &other_ctx]));
    assert!(out.contains("from-the-linked-file"), "{out}");
}

/// `RUN --mount`: the context's files (read-only, or a writable copy), another stage's,
/// a cache directory kept between builds, a tmpfs, secrets; none of it, nor its mount
/// point, is in the image; `RUN --network`.
#[test]
fn run_mounts_show_context_stage_cache_tmpfs_and_secrets_and_leave_nothing() {
    let rpod = Rpod::with_image("crun");
    let dir = rpod.dir.path().join("ctx");
    fs::create_dir_all(dir.join("sub")).unwrap();
    fs::write(dir.join("input.txt"), "from the context\n").unwrap();
    fs::write(dir.join("sub/inner"), "inner\n").unwrap();
    fs::write(dir.join(".containerignore"), "sub/ignored\n").unwrap();
    fs::write(dir.join("sub/ignored"), "left out\n").unwrap();
    let token = rpod.dir.path().join("token");
    fs::write(&token, "s3cr3t\n").unwrap();
    fs::write(
        dir.join("Containerfile"),
        r#"FROM demo AS builder
RUN mkdir /out && echo built > /out/artifact
FROM demo
ARG CACHE_ID=c1
RUN --mount=type=bind,target=/ctx cat /ctx/input.txt > /from-context && ! touch /ctx/x 2>/dev/null
RUN --mount=type=bind,source=sub,target=/sub,rw touch /sub/written && ls /sub > /sub-listing
RUN --mount=type=bind,from=builder,source=/out,target=/in cp /in/artifact /artifact
RUN --mount=type=cache,target=/cache,id=$CACHE_ID,sharing=locked sh -c 'echo run >> /cache/runs; wc -l < /cache/runs > /cache-count'
RUN --mount=type=tmpfs,target=/scratch,size=1m sh -c 'df /scratch | grep -q tmpfs && echo x > /scratch/f'
RUN --mount=type=secret,id=token sh -c 'cat /run/secrets/token > /dev/null && stat -c "%a %u" /run/secrets/token > /secret-mode'
RUN --mount=type=secret,id=token,target=/t,mode=0440,uid=5 stat -c '%a %u' /t > /secret-mode2
RUN --mount=type=secret,id=absent true
RUN --network=none sh -c 'ip -o link | wc -l > /links'
RUN --network=host sh -c 'ip -o link | wc -l > /host-links'
"#,
    )
    .unwrap();
    let ctx = dir.display().to_string();
    let secret = format!("id=token,src={}", token.display());
    rpod.ok(&["build", "--secret", &secret, "-t", "mounted", &ctx]);
    let shown = rpod.ok(&[
        "run",
        "--rm",
        "mounted",
        "sh",
        "-c",
        "cat /from-context /sub-listing /artifact /cache-count /secret-mode /secret-mode2 /links; \
         ls -d /ctx /sub /in /cache /scratch /t /run/secrets/token 2>&1 | grep -c 'No such file'; \
         grep -rl s3cr3t / --exclude-dir=proc --exclude-dir=sys 2>/dev/null | wc -l",
    ]);
    assert_eq!(
        shown, "from the context\ninner\nwritten\nbuilt\n1\n400 0\n440 5\n1\n7\n0\n",
        "{shown}"
    );
    // The host's network has more than a loopback.
    let host_links = rpod.ok(&["run", "--rm", "mounted", "cat", "/host-links"]);
    assert!(
        host_links.trim().parse::<u32>().unwrap() > 1,
        "{host_links}"
    );
    // The writable bind was a copy: the context is as it was.
    assert!(!dir.join("sub/written").exists());
    // The cache directory lasts: a build that runs the step again finds what it left.
    rpod.ok(&[
        "build",
        "--no-cache",
        "--secret",
        &secret,
        "-t",
        "mounted",
        &ctx,
    ]);
    assert_eq!(
        rpod.ok(&["run", "--rm", "mounted", "cat", "/cache-count"]),
        "2\n"
    );
    // Another cache id is another directory; `system reset` removes them.
    rpod.ok(&[
        "build",
        "--build-arg",
        "CACHE_ID=c2",
        "--secret",
        &secret,
        "-t",
        "other",
        &ctx,
    ]);
    assert_eq!(
        rpod.ok(&["run", "--rm", "other", "cat", "/cache-count"]),
        "1\n"
    );
    let cache_dirs = rpod.root().join("build-cache");
    assert_eq!(fs::read_dir(&cache_dirs).unwrap().count(), 2);
    // A secret a mount requires must be given; what mounts refuse, they say.
    for (containerfile, says) in [
        (
            "FROM demo\nRUN --mount=type=secret,id=token,required true\n",
            "required",
        ),
        (
            "FROM demo\nRUN --mount=type=bind,source=../x,target=/x true\n",
            "outside the build context",
        ),
        (
            "FROM demo\nRUN --mount=type=ssh,required true\n",
            "--ssh default=SOCKET",
        ),
        (
            "FROM demo\nRUN --mount=type=cache,target=/c,source=/x true\n",
            "from=",
        ),
        (
            "FROM demo\nRUN --network=bridge9 true\n",
            "default, none and host",
        ),
        ("FROM demo\nRUN --security=insecure true\n", "--security"),
    ] {
        let file = dir.join("Containerfile.bad");
        fs::write(&file, containerfile).unwrap();
        let err = rpod.fails(&["build", "-f", &file.display().to_string(), &ctx], 125);
        assert!(err.contains(says), "{containerfile}: {err}");
    }
    let err = rpod.fails(&["build", "--secret", "id=x", &ctx], 125);
    assert!(err.contains("src=PATH or env=NAME"), "{err}");
    rpod.ok(&["system", "reset", "--force"]);
    assert!(!cache_dirs.exists());
    assert_eq!(rpod.ok(&["ps", "-aq"]), "");
}

/// A cache mount filled from a stage or an image (`from=`, `source=`), as podman's: the
/// stage's files at `source`, writable, and what a step writes there is seen by the
/// build's later steps (other sources of the same stage included), not by the next build
/// nor in the stage's image; `ro` is kept; a link in the image stays inside it; nothing is
/// left behind.
#[test]
fn cache_mounts_filled_from_a_stage_are_shared_for_the_build() {
    let rpod = Rpod::with_image("crun");
    let dir = rpod.dir.path().join("ctx-cache-from");
    fs::create_dir_all(&dir).unwrap();
    fs::write(
        dir.join("Containerfile"),
        r#"FROM demo AS s1
RUN mkdir -p /cachedir && echo from-s1 > /cachedir/a && ln -s /../../cachedir /escape
FROM demo
RUN --mount=type=cache,from=s1,source=/cachedir,target=/c sh -c 'cat /c/a > /first && touch /c/new'
RUN --mount=type=cache,from=s1,source=/cachedir,target=/c sh -c 'ls /c > /second'
RUN --mount=type=cache,from=s1,target=/c sh -c 'ls /c/cachedir > /whole'
RUN --mount=type=cache,from=s1,source=/escape,target=/c sh -c 'ls /c > /linked'
RUN --mount=type=cache,from=demo,source=/bin,target=/c,ro sh -c 'test -e /c/sh; echo "sh $?" > /image; touch /c/x 2>/dev/null; echo "touch $?" >> /image'
"#,
    )
    .unwrap();
    let ctx = dir.display().to_string();
    let built = rpod.ok(&["build", "-t", "cf", &ctx]);
    let shown = rpod.ok(&[
        "run",
        "--rm",
        "cf",
        "sh",
        "-c",
        "cat /first /second /whole /linked /image; ls -d /c 2>&1 | grep -c 'No such file'",
    ]);
    assert_eq!(
        shown, "from-s1\na\nnew\na\nnew\na\nnew\nsh 0\ntouch 1\n1\n",
        "{shown}\nthe build said:\n{built}"
    );
    // The next build starts from the stage's files again (every step run anew).
    fs::write(
        dir.join("Containerfile.again"),
        "FROM demo AS s1\nRUN mkdir -p /cachedir && echo from-s1 > /cachedir/a\nFROM demo\n\
         RUN --mount=type=cache,from=s1,source=/cachedir,target=/c sh -c 'ls /c > /again'\n",
    )
    .unwrap();
    let again = dir.join("Containerfile.again").display().to_string();
    rpod.ok(&["build", "--no-cache", "-f", &again, "-t", "cf2", &ctx]);
    assert_eq!(rpod.ok(&["run", "--rm", "cf2", "cat", "/again"]), "a\n");
    // No container of the build's is left, nor a mount of its roots.
    assert_eq!(rpod.ok(&["ps", "-aq"]), "");
    let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounts.contains(&rpod.root().display().to_string()),
        "{mounts}"
    );
    // A source the stage lacks, and a build context as from=, are refused saying why.
    for (containerfile, says) in [
        (
            "FROM demo\nRUN --mount=type=cache,from=demo,source=/nothing,target=/c true\n",
            "source=/nothing",
        ),
        (
            "FROM demo\nRUN --mount=type=cache,from=ctx,target=/c true\n",
            "not the build context",
        ),
    ] {
        let file = dir.join("Containerfile.bad");
        fs::write(&file, containerfile).unwrap();
        let file = file.display().to_string();
        let err = rpod.fails(
            &[
                "build",
                "--build-context",
                &format!("ctx={ctx}"),
                "-f",
                &file,
                &ctx,
            ],
            125,
        );
        assert!(err.contains(says), "{containerfile}: {err}");
    }
    assert_eq!(rpod.ok(&["ps", "-aq"]), "");
}

/// BuildKit's heredocs: in RUN, one alone is the step's script; beside a command, the
/// shell reads them (quoted delimiters keep `$`, `<<-` takes tabs off); in COPY and ADD,
/// files.
#[test]
fn heredocs_are_taken_as_docker_takes_them() {
    let rpod = Rpod::with_image("crun");
    let dir = rpod.dir.path().join("ctx");
    fs::create_dir_all(&dir).unwrap();
    fs::write(
        dir.join("Containerfile"),
        "FROM demo\nENV WHO=world\nRUN <<EOF\necho one > /s\necho \"hello $WHO\" >> /s\nEOF\n\
         RUN cat <<-'END' > /q && cat <<MORE >> /q\n\tliteral $WHO\n\tEND\nexpanded $WHO\nMORE\n\
         CMD cat /s /q\n",
    )
    .unwrap();
    let ctx = dir.display().to_string();
    rpod.ok(&["build", "-q", "-t", "heredocs", &ctx]);
    assert_eq!(
        rpod.ok(&["run", "--rm", "heredocs"]),
        "one\nhello world\nliteral $WHO\nexpanded world\n"
    );
    // COPY and ADD make files of them: named by the destination, or by their delimiter
    // in a directory; 0644 unless --chmod; variables put in unless the delimiter is
    // quoted; cached by their content.
    let copies = "FROM demo\nARG NAME=web\nCOPY <<EOF /etc/motd\nWelcome to $NAME\nEOF\n\
         COPY --chmod=755 <<'SCRIPT' <<-CONF /app/\n#!/bin/sh\necho $NAME\nSCRIPT\n\tname=$NAME\n\tCONF\n\
         ADD <<EOF /added\nadded\nEOF\n";
    fs::write(dir.join("Containerfile"), copies).unwrap();
    rpod.ok(&["build", "-q", "-t", "copied", &ctx]);
    let shown = rpod.ok(&[
        "run",
        "--rm",
        "copied",
        "sh",
        "-c",
        "stat -c '%a %n' /etc/motd /app/SCRIPT /app/CONF /added; cat /etc/motd /app/SCRIPT /app/CONF /added",
    ]);
    assert_eq!(
        shown,
        "644 /etc/motd\n755 /app/SCRIPT\n755 /app/CONF\n644 /added\n\
         Welcome to web\n#!/bin/sh\necho $NAME\nname=web\nadded\n"
    );
    let again = rpod.ok(&["build", "-t", "copied", &ctx]);
    assert_eq!(again.matches("--> Using cache").count(), 3, "{again}");
    let edited = copies.replace("\nadded\n", "\nmore\n");
    fs::write(dir.join("Containerfile"), edited).unwrap();
    let changed = rpod.ok(&["build", "-t", "copied", &ctx]);
    assert_eq!(changed.matches("--> Using cache").count(), 2, "{changed}");
}

/// An ARG declared again without a default keeps the value it has there (buildah's), in a
/// stage and before the first FROM; a build argument still wins.
#[test]
fn an_arg_declared_again_keeps_its_value() {
    let rpod = Rpod::with_image("crun");
    let dir = rpod.dir.path().join("ctx");
    fs::create_dir_all(&dir).unwrap();
    fs::write(
        dir.join("Containerfile"),
        "ARG G=g1\nARG G\nFROM demo\nARG A=1\nARG A\nARG G\nWORKDIR /w/$A\nLABEL g=$G\nEXPOSE ${A}00\n",
    )
    .unwrap();
    let ctx = dir.display().to_string();
    let id = rpod.ok(&["build", "-q", &ctx]);
    assert_eq!(
        rpod.inspect(
            id.trim(),
            "{{.Config.WorkingDir}} {{.Config.Labels.g}} {{.Config.ExposedPorts}}"
        ),
        "/w/1 g1 map[100/tcp:{}]"
    );
    let id = rpod.ok(&["build", "-q", "--build-arg", "A=2", &ctx]);
    assert_eq!(rpod.inspect(id.trim(), "{{.Config.WorkingDir}}"), "/w/2");
}

/// The platform ARGs every build has (BuildKit's and buildah's), `FROM --platform`, and
/// `build --platform`: a base image for another platform than the one asked for is not
/// taken (pulled again for it, or refused with --pull=never).
#[test]
fn platform_args_and_from_platform_are_taken_as_buildkit_does() {
    let rpod = Rpod::with_image("crun");
    let dir = rpod.dir.path().join("ctx");
    fs::create_dir_all(&dir).unwrap();
    fs::write(
        dir.join("Containerfile"),
        "FROM --platform=$BUILDPLATFORM demo AS build\nARG TARGETARCH\nARG TARGETPLATFORM\nARG BUILDOS\n\
         RUN echo \"$TARGETPLATFORM $TARGETARCH $BUILDOS\" > /platform\n\
         FROM demo\nCOPY --from=build /platform /\nRUN echo \"[$TARGETARCH]\" > /undeclared\n",
    )
    .unwrap();
    let ctx = dir.display().to_string();
    rpod.ok(&["build", "-t", "plat", &ctx]);
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    assert_eq!(
        rpod.ok(&["run", "--rm", "plat", "cat", "/platform", "/undeclared"]),
        format!("linux/{arch} {arch} linux\n[]\n")
    );
    // Another platform: its ARGs say it, and the local image (this machine's) is not
    // taken for it.
    let other = if arch == "arm64" { "amd64" } else { "arm64" };
    let platform = format!("linux/{other}");
    fs::write(
        dir.join("Containerfile.other"),
        "FROM --platform=$BUILDPLATFORM demo AS first\nARG TARGETARCH\nRUN echo $TARGETARCH > /target\n\
         FROM demo\n",
    )
    .unwrap();
    let other_file = dir.join("Containerfile.other").display().to_string();
    let err = rpod.fails(
        &[
            "build",
            "--pull=never",
            "--platform",
            &platform,
            "-f",
            &other_file,
            &ctx,
        ],
        125,
    );
    assert!(err.contains(&format!("not {platform}")), "{err}");
    fs::write(
        dir.join("Containerfile.from"),
        format!("FROM --platform={platform} demo\n"),
    )
    .unwrap();
    let from_file = dir.join("Containerfile.from").display().to_string();
    let err = rpod.fails(&["build", "--pull=never", "-f", &from_file, &ctx], 125);
    assert!(err.contains(&format!("not {platform}")), "{err}");
    // The first stage is for this machine and runs: its ARG says the target.
    let first = rpod.ok(&[
        "build",
        "-q",
        "--platform",
        &platform,
        "--target",
        "first",
        "-f",
        &other_file,
        &ctx,
    ]);
    assert_eq!(
        rpod.ok(&["run", "--rm", first.trim(), "cat", "/target"]),
        format!("{other}\n")
    );
    let out = rpod.ok(&[
        "build",
        "--skip-unused-stages=false",
        "--pull=never",
        "--platform",
        &format!("linux/{arch}"),
        "-f",
        &other_file,
        &ctx,
    ]);
    assert!(out.contains("[1/2] STEP 3/3: RUN"), "{out}");
    let err = rpod.fails(
        &[
            "build",
            "--pull=never",
            "--arch",
            other,
            "-f",
            &from_file.replace(".from", ".other"),
            &ctx,
        ],
        125,
    );
    assert!(err.contains(&format!("not {platform}")), "{err}");
    let err = rpod.fails(&["build", "--platform", "linux", &ctx], 125);
    assert!(err.contains("OS/ARCH"), "{err}");
}

/// A web server for ADD's downloads: `/file.txt` (and `/`) with a Last-Modified time, 404
/// else.
fn serve_files() -> u16 {
    common::serve_bytes_with(
        vec![
            ("/file.txt", b"downloaded\n".to_vec()),
            ("/", b"downloaded\n".to_vec()),
        ],
        "Last-Modified: Wed, 21 Oct 2015 07:28:00 GMT\r\n",
    )
}

/// `ADD URL`: downloaded (not unpacked), 0600 unless --chmod, the server's time, named
/// after the URL in a directory; --checksum checked; the cache keys it by what came.
/// ADD unpacks bzip2, xz and zstd tar archives besides gzip (podman's ADD does); `image
/// load` reads bzip2- and xz-compressed archives.
#[test]
fn add_unpacks_bzip2_xz_and_zstd_archives_load_reads_them() {
    let rpod = Rpod::with_image("crun");
    let dir = rpod.dir.path().join("ctx");
    fs::create_dir_all(&dir).unwrap();
    let mut tar = tar::Builder::new(fs::File::create(dir.join("t.tar")).unwrap());
    let mut header = tar::Header::new_gnu();
    header.set_size(7);
    header.set_mode(0o644);
    tar.append_data(&mut header, "x/inside", &b"inside\n"[..])
        .unwrap();
    tar.into_inner().unwrap();
    let shell = |script: &str| {
        let out = std::process::Command::new("sh")
            .args(["-c", script])
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(out.status.success(), "{script}: {out:?}");
    };
    shell("bzip2 -k t.tar && zstd -q t.tar -o t.tar.zst && xz -k t.tar");
    fs::write(
        dir.join("Containerfile"),
        "FROM demo\nADD t.tar.bz2 /b/\nADD t.tar.zst /z/\nADD t.tar.xz /x/\n\
         RUN test ! -e /b/t.tar.bz2 && test ! -e /z/t.tar.zst && test ! -e /x/t.tar.xz\n",
    )
    .unwrap();
    let ctx = dir.display().to_string();
    rpod.ok(&["build", "-q", "-t", "unpacked", &ctx]);
    let out = rpod.ok(&[
        "run",
        "--rm",
        "unpacked",
        "cat",
        "/b/x/inside",
        "/z/x/inside",
        "/x/x/inside",
    ]);
    assert_eq!(out, "inside\ninside\ninside\n");
    // Image archives compressed with bzip2 and xz load.
    let archive = dir.join("image.tar");
    rpod.ok(&["save", "-o", &archive.display().to_string(), "unpacked"]);
    rpod.ok(&["rmi", "unpacked"]);
    shell("bzip2 -k image.tar && xz image.tar");
    for compressed in ["image.tar.bz2", "image.tar.xz"] {
        let path = dir.join(compressed).display().to_string();
        let loaded = rpod.ok(&["load", "-i", &path]);
        assert!(loaded.contains("unpacked"), "{compressed}: {loaded}");
        assert_eq!(
            rpod.ok(&["run", "--rm", "unpacked", "cat", "/x/x/inside"]),
            "inside\n"
        );
        rpod.ok(&["rmi", "unpacked"]);
    }
    // A root file system tarball compressed with xz imports.
    let rootfs = dir.join("rootfs.tar.xz");
    shell(&format!(
        "xz -c {} > {}",
        common::busybox_tarball().display(),
        rootfs.display()
    ));
    rpod.ok(&["import", &rootfs.display().to_string(), "fromxz"]);
    assert_eq!(
        rpod.ok(&["run", "--rm", "fromxz", "echo", "imported"]),
        "imported\n"
    );
}

#[test]
fn add_downloads_urls_as_docker_does() {
    let rpod = Rpod::with_image("crun");
    let dir = rpod.dir.path().join("ctx");
    fs::create_dir_all(&dir).unwrap();
    let port = serve_files();
    let url = format!("http://127.0.0.1:{port}/file.txt");
    let computed = {
        use sha2::Digest;
        format!(
            "sha256:{}",
            hex::encode(sha2::Sha256::digest(b"downloaded\n"))
        )
    };
    fs::write(
        dir.join("Containerfile"),
        format!(
            "FROM demo\nADD {url} /downloads/\nADD --chmod=644 {url} /renamed.txt\n\
             ADD --checksum={computed} {url} /checked\n"
        ),
    )
    .unwrap();
    let ctx = dir.display().to_string();
    rpod.ok(&["build", "-t", "added", &ctx]);
    assert_eq!(
        rpod.ok(&[
            "run",
            "--rm",
            "added",
            "sh",
            "-c",
            "stat -c '%n %a %u %Y' /downloads/file.txt /renamed.txt /checked; cat /checked",
        ]),
        "/downloads/file.txt 600 0 1445412480\n/renamed.txt 644 0 1445412480\n/checked 600 0 1445412480\ndownloaded\n"
    );
    // Downloaded again, the same: from the cache.
    let out = rpod.ok(&["build", "-t", "added", &ctx]);
    assert_eq!(out.matches("--> Using cache").count(), 3, "{out}");
    for (containerfile, says) in [
        (
            format!("FROM demo\nADD http://127.0.0.1:{port}/missing /x\n"),
            "404",
        ),
        (
            format!(
                "FROM demo\nADD --checksum=sha256:{} {url} /x\n",
                "0".repeat(64)
            ),
            "not sha256:000",
        ),
        (format!("FROM demo\nCOPY {url} /x\n"), "ADD downloads"),
        (
            "FROM demo\nADD git@github.com:a/b.git /x\n".to_string(),
            "http://",
        ),
        (
            "FROM demo\nADD ftp://example.com/x /x\n".to_string(),
            "http://",
        ),
        (
            "FROM demo\nADD http://../x /x\n".to_string(),
            "is not a host name",
        ),
        (
            format!("FROM demo\nADD http://127.0.0.1:{port}/ /x/\n"),
            "no file name",
        ),
    ] {
        let file = dir.join("Containerfile.bad");
        fs::write(&file, &containerfile).unwrap();
        let err = rpod.fails(&["build", "-f", &file.display().to_string(), &ctx], 125);
        assert!(err.contains(says), "{containerfile}: {err}");
    }
}

/// Only the stages the target takes from are built (buildah's `--skip-unused-stages`,
/// podman's default); `--skip-unused-stages=false` builds every one.
#[test]
fn unused_stages_are_skipped_unless_asked_for() {
    let rpod = Rpod::with_image("crun");
    let dir = rpod.dir.path().join("ctx");
    fs::create_dir_all(&dir).unwrap();
    fs::write(
        dir.join("Containerfile"),
        "FROM demo AS broken\nRUN echo building-broken; exit 9\n\
         FROM demo AS used\nRUN echo made > /made\n\
         FROM demo\nCOPY --from=used /made /\n",
    )
    .unwrap();
    let ctx = dir.display().to_string();
    let out = rpod.ok(&["build", "-t", "skipped", &ctx]);
    assert!(
        !out.contains("building-broken") && !out.contains("[1/3] STEP"),
        "{out}"
    );
    assert!(out.contains("[2/3] STEP 2/2: RUN echo made"), "{out}");
    assert!(out.contains("[3/3] COMMIT skipped\n"), "{out}");
    assert_eq!(
        rpod.ok(&["run", "--rm", "skipped", "cat", "/made"]),
        "made\n"
    );
    let err = rpod.fails(&["build", "--skip-unused-stages=false", &ctx], 9);
    assert!(err.contains("exited with status 9"), "{err}");
    // podman's stage concurrency limit: stages one after another satisfy any.
    let out = rpod.ok(&["build", "--jobs", "4", "-t", "jobs4", &ctx]);
    assert!(out.contains("[2/3] STEP 2/2"), "{out}");
    rpod.ok(&["build", "--jobs=0", "-q", &ctx]);
    rpod.fails(&["build", "--jobs", "-1", &ctx], 125);
    // No identity label, as podman's with --identity-label=false; asking for one is refused.
    let out = rpod.ok(&["build", "--identity-label=false", "-q", "-t", "plain", &ctx]);
    assert!(!out.is_empty());
    assert_eq!(rpod.inspect("plain", "{{json .Labels}}"), "{}");
    let err = rpod.fails(&["build", "--identity-label", &ctx], 125);
    assert!(err.contains("not supported"), "{err}");
    // Layers stay uncompressed in the store, as podman's default: -D either way.
    rpod.ok(&["build", "-D", "-q", &ctx]);
    rpod.ok(&["build", "--disable-compression=false", "-q", &ctx]);
    // What rpod's builds do not do: refused by name, before any step.
    for flags in [
        vec!["--stdin"],
        vec!["--sign-by", "key"],
        vec!["--all-platforms"],
        vec!["--decryption-key", "key.pem"],
    ] {
        let mut args = vec!["build"];
        args.extend(&flags);
        args.push(&ctx);
        let err = rpod.fails(&args, 125);
        assert!(
            err.contains(flags[0]) && err.contains("not supported") && !err.contains("STEP"),
            "{err}"
        );
    }
    // A target: the stages after it are not built either.
    // (Its stages are the build's: up to the target.)
    let out = rpod.ok(&["build", "--target", "used", &ctx]);
    assert!(!out.contains("[1/2] STEP") && !out.contains("/3]"), "{out}");
    assert!(out.contains("[2/2] STEP 1/2: FROM demo AS used\n"), "{out}");
}

/// `build`'s settings for the RUN steps' containers (hosts, volumes, limits,
/// capabilities, proxies), which stay out of the image; `--env`, `--unsetenv` and
/// `--iidfile`.
#[test]
fn step_settings_reach_the_run_steps_and_not_the_image() {
    let rpod = Rpod::with_image("crun");
    let dir = rpod.dir.path().join("ctx");
    fs::create_dir_all(&dir).unwrap();
    let shared = rpod.dir.path().join("shared");
    fs::create_dir_all(&shared).unwrap();
    fs::write(shared.join("note"), "from the host\n").unwrap();
    fs::write(
        dir.join("Containerfile"),
        "FROM demo\nENV DROPPED=1\n\
         RUN grep -q 'buildhost' /etc/hosts && cat /shared/note > /seen && ulimit -n >> /seen \
         && grep -c NET_ADMIN /proc/self/status > /dev/null; grep CapEff /proc/self/status >> /seen; \
         echo \"$ADDED ${DROPPED:-unset} $http_proxy\" >> /seen; (cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max) >> /seen\n",
    )
    .unwrap();
    let ctx = dir.display().to_string();
    let volume = format!("{}:/shared:ro", shared.display());
    let iidfile = rpod.dir.path().join("iid");
    let iid = iidfile.display().to_string();
    let out = rpod
        .command(&[
            "build",
            "-q",
            "--add-host",
            "buildhost:10.1.2.3",
            "-v",
            &volume,
            "--ulimit",
            "nofile=512:512",
            "--cap-add",
            "NET_ADMIN",
            "--memory",
            "64m",
            "--env",
            "ADDED=yes",
            "--unsetenv",
            "DROPPED",
            "--iidfile",
            &iid,
            "-t",
            "stepped",
            &ctx,
        ])
        .env("http_proxy", "http://proxy.example:3128")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert_eq!(
        fs::read_to_string(&iidfile).unwrap(),
        format!("sha256:{id}")
    );
    let seen = rpod.ok(&["run", "--rm", "stepped", "cat", "/seen"]);
    let lines: Vec<&str> = seen.lines().collect();
    assert_eq!(lines[0], "from the host", "{seen}");
    assert_eq!(lines[1], "512", "{seen}");
    // CAP_NET_ADMIN is bit 12 of the effective set.
    let caps = u64::from_str_radix(lines[2].split_whitespace().last().unwrap(), 16).unwrap();
    assert_ne!(caps & (1 << 12), 0, "{seen}");
    // (--unsetenv is for the image: the steps still see the variable.)
    assert_eq!(lines[3], "yes 1 http://proxy.example:3128", "{seen}");
    assert_eq!(lines.get(4).copied(), Some("67108864"), "{seen}");
    // The image has the --env and not what --unsetenv took, nor the steps' settings.
    let env = rpod.ok(&[
        "image",
        "inspect",
        "--format",
        "{{json .Config.Env}}",
        "stepped",
    ]);
    assert!(
        env.contains("ADDED=yes") && !env.contains("DROPPED"),
        "{env}"
    );
    assert!(!env.contains("proxy"), "{env}");
    let image_files = rpod.ok(&[
        "run",
        "--rm",
        "stepped",
        "sh",
        "-c",
        "ls /shared 2>&1; grep -c buildhost /etc/hosts; true",
    ]);
    assert!(
        image_files.contains("No such file") && image_files.ends_with("\n0\n"),
        "{image_files}"
    );
    let err = rpod.fails(&["build", "--add-host", "nocolon", &ctx], 125);
    assert!(!err.is_empty());
    // The steps' namespaces: the host's PID and UTS namespaces (this test's process, the
    // host's name), as `run` takes them; a bad mode is refused.
    fs::write(
        dir.join("Containerfile"),
        format!(
            "FROM demo\nRUN test -d /proc/{} && hostname > /host\n",
            std::process::id()
        ),
    )
    .unwrap();
    rpod.ok(&[
        "build", "-q", "--pid", "host", "--uts", "host", "-t", "hostly", &ctx,
    ]);
    let host = nix::unistd::gethostname().unwrap();
    assert_eq!(
        rpod.ok(&["run", "--rm", "hostly", "cat", "/host"]).trim(),
        host.to_string_lossy()
    );
    rpod.fails(&["build", "--no-cache", &ctx], 1);
    let err = rpod.fails(&["build", "--ipc", "sideways", &ctx], 125);
    assert!(err.contains("ipc"), "{err}");
}

/// `--output`: the image's files written to a directory or a tar (a file, or standard
/// output with the progress on standard error), the image made too; `--ignorefile`.
#[test]
fn output_writes_the_images_files_and_ignorefile_replaces_the_contexts() {
    let rpod = Rpod::with_image("crun");
    let dir = rpod.dir.path().join("ctx");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("kept.txt"), "kept\n").unwrap();
    fs::write(dir.join("secret.txt"), "secret\n").unwrap();
    fs::write(dir.join(".dockerignore"), "kept.txt\n").unwrap();
    let other_ignore = rpod.dir.path().join("other.ignore");
    fs::write(&other_ignore, "secret.txt\n").unwrap();
    fs::write(
        dir.join("Containerfile"),
        "FROM demo\nCOPY *.txt /out/\nRUN mkdir -p /artifacts && echo made > /artifacts/result && chown 7:8 /artifacts/result\n",
    )
    .unwrap();
    let ctx = dir.display().to_string();
    let out_dir = rpod.dir.path().join("exported");
    let ignore = other_ignore.display().to_string();
    let exported = out_dir.display().to_string();
    rpod.ok(&[
        "build",
        "--ignorefile",
        &ignore,
        "-o",
        &exported,
        "-t",
        "outputs",
        &ctx,
    ]);
    // The image's files, owners kept; --ignorefile left out what it names, not what the
    // context's .dockerignore names.
    assert_eq!(
        fs::read_to_string(out_dir.join("artifacts/result")).unwrap(),
        "made\n"
    );
    use std::os::unix::fs::MetadataExt;
    let meta = fs::metadata(out_dir.join("artifacts/result")).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (7, 8));
    assert!(out_dir.join("out/kept.txt").exists());
    assert!(!out_dir.join("out/secret.txt").exists());
    assert!(out_dir.join("bin/busybox").exists());
    assert_eq!(
        rpod.ok(&["run", "--rm", "outputs", "cat", "/artifacts/result"]),
        "made\n"
    );
    // A tar file, and standard output.
    let tar_file = rpod.dir.path().join("out.tar");
    let tar_spec = format!("type=tar,dest={}", tar_file.display());
    rpod.ok(&["build", "-o", &tar_spec, &ctx]);
    let listing = |bytes: &[u8]| -> Vec<String> {
        tar::Archive::new(bytes)
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect()
    };
    let names = listing(&fs::read(&tar_file).unwrap());
    assert!(
        names
            .iter()
            .any(|n| n.trim_start_matches("./") == "artifacts/result"),
        "{names:?}"
    );
    let piped = rpod.command(&["build", "-o", "-", &ctx]).output().unwrap();
    assert!(piped.status.success());
    assert!(String::from_utf8_lossy(&piped.stderr).contains("STEP 1/3"));
    let names = listing(&piped.stdout);
    assert!(
        names
            .iter()
            .any(|n| n.trim_start_matches("./") == "artifacts/result"),
        "{names:?}"
    );
    // `-f -`: the Containerfile on standard input.
    let piped = common::pipe_through(
        &mut rpod.command(&["build", "-q", "-f", "-", &ctx]),
        b"FROM demo\nRUN echo piped > /piped\n",
    );
    assert!(
        piped.status.success(),
        "{}",
        String::from_utf8_lossy(&piped.stderr)
    );
    let id = String::from_utf8_lossy(&piped.stdout).trim().to_string();
    assert_eq!(rpod.ok(&["run", "--rm", &id, "cat", "/piped"]), "piped\n");
    let err = rpod.fails(&["build", "-o", "type=registry,dest=x", &ctx], 125);
    assert!(err.contains("local and tar"), "{err}");
    let err = rpod.fails(&["build", "-o", "type=local", &ctx], 125);
    assert!(err.contains("dest=PATH"), "{err}");
}

/// `--build-context NAME=DIR|docker-image://IMAGE`: what FROM NAME, `COPY --from=NAME`
/// and `RUN --mount=...,from=NAME` take.
#[test]
fn named_build_contexts_serve_from_copy_and_mounts() {
    let rpod = Rpod::with_image("crun");
    let dir = rpod.dir.path().join("ctx");
    fs::create_dir_all(&dir).unwrap();
    let extra = rpod.dir.path().join("extra");
    fs::create_dir_all(extra.join("conf")).unwrap();
    fs::write(extra.join("conf/app.conf"), "extra context\n").unwrap();
    symlink("/etc/shadow", extra.join("escape")).unwrap();
    rpod.ok(&["tag", "demo", "localhost/base-for-context"]);
    fs::write(
        dir.join("Containerfile"),
        "FROM base\nCOPY --from=extra conf/app.conf /app.conf\n\
         RUN --mount=type=bind,from=extra,source=conf,target=/mnt cat /mnt/app.conf > /mounted\n",
    )
    .unwrap();
    let ctx = dir.display().to_string();
    let extra_arg = format!("extra={}", extra.display());
    rpod.ok(&[
        "build",
        "--build-context",
        &extra_arg,
        "--build-context",
        "base=docker-image://localhost/base-for-context",
        "-t",
        "contexts",
        &ctx,
    ]);
    assert_eq!(
        rpod.ok(&["run", "--rm", "contexts", "cat", "/app.conf", "/mounted"]),
        "extra context\nextra context\n"
    );
    // A link out of a named context is refused as in the build context.
    fs::write(
        dir.join("Containerfile.escape"),
        "FROM demo\nCOPY --from=extra escape/x /\n",
    )
    .unwrap();
    let escape = dir.join("Containerfile.escape").display().to_string();
    let err = rpod.fails(
        &["build", "--build-context", &extra_arg, "-f", &escape, &ctx],
        125,
    );
    assert!(
        err.contains("not a directory of the build context"),
        "{err}"
    );
    // FROM takes an image, not a directory.
    fs::write(dir.join("Containerfile.from"), "FROM extra\n").unwrap();
    let from = dir.join("Containerfile.from").display().to_string();
    let err = rpod.fails(
        &["build", "--build-context", &extra_arg, "-f", &from, &ctx],
        125,
    );
    assert!(err.contains("FROM takes an image"), "{err}");
    for (bad, says) in [
        ("x=ftp://example.com/c.tar", "of URLs"),
        ("novalue", "NAME=VALUE"),
        ("x=/no/such/dir", "/no/such/dir"),
    ] {
        let err = rpod.fails(&["build", "--build-context", bad, &ctx], 125);
        assert!(err.contains(says), "{bad}: {err}");
    }
}

/// `--squash`: the build's layers become one on the base image's; `--squash-all`: the
/// image has one layer; the files are what the steps made, deletions included.
#[test]
fn squash_merges_the_builds_layers_and_squash_all_every_layer() {
    let rpod = Rpod::with_image("crun");
    let dir = rpod.dir.path().join("ctx");
    fs::create_dir_all(&dir).unwrap();
    fs::write(
        dir.join("Containerfile"),
        "FROM demo\nRUN mkdir /data && echo one > /data/a && echo gone > /data/b\n\
         RUN rm /data/b /bin/ls; rm -rf /home; echo two > /data/a\n\
         RUN mkdir /home && echo new > /home/only\nENV SQUASHED=1\n",
    )
    .unwrap();
    let ctx = dir.display().to_string();
    let layers = |image: &str| -> usize {
        rpod.ok(&[
            "image",
            "inspect",
            "--format",
            "{{len .RootFS.Layers}}",
            image,
        ])
        .trim()
        .parse()
        .unwrap()
    };
    let base_layers = layers("demo");
    let plain = rpod.ok(&["build", "-q", "--layers=false", &ctx]);
    assert!(layers(plain.trim()) > base_layers + 1);
    let images_before = rpod.ok(&["images", "-aq"]).lines().count();
    let out = rpod.ok(&["build", "--squash", "-t", "squashed", &ctx]);
    // Announced once: before the squashed image's commit, not the last step's.
    assert_eq!(out.matches("COMMIT").count(), 1, "{out}");
    assert!(out.contains("\nCOMMIT squashed\n--> "), "{out}");
    let squashed = out.lines().last().unwrap_or_default().to_string();
    assert_eq!(layers(squashed.trim()), base_layers + 1);
    let all = rpod.ok(&["build", "-q", "--squash-all", "-t", "squashed-all", &ctx]);
    assert_eq!(layers(all.trim()), 1);
    // Only the two images are new: no step's image is kept.
    assert_eq!(
        rpod.ok(&["images", "-aq"]).lines().count(),
        images_before + 2
    );
    // (The base image's /bin/ls was removed by a step.)
    let look = "cat /data/a; echo /data/* /home/* $SQUASHED; test -e /bin/ls || echo no-ls; \
                test -e /bin/busybox && echo busybox";
    let expected = "two\n/data/a /home/only 1\nno-ls\nbusybox\n";
    for image in ["squashed", "squashed-all", plain.trim()] {
        assert_eq!(
            rpod.ok(&["run", "--rm", image, "sh", "-c", look]),
            expected,
            "{image}"
        );
    }
    let err = rpod.fails(&["build", "--squash", "--squash-all", &ctx], 125);
    assert!(err.contains("cannot be used with"), "{err}");
}

/// A build of a FROM alone makes no image: the build's image is its base, announced as
/// buildah announces the commit of a build's image.
#[test]
fn build_of_a_base_alone_is_the_base() {
    let rpod = Rpod::with_image("crun");
    let dir = rpod.dir.path().join("ctx");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("Containerfile"), "FROM demo\n").unwrap();
    let out = rpod.ok(&["build", "-t", "same", &dir.display().to_string()]);
    let id = rpod.inspect("demo", "{{.Id}}");
    assert_eq!(
        out,
        format!(
            "STEP 1/1: FROM demo\nCOMMIT same\n--> {}\nSuccessfully tagged localhost/same:latest\n{id}\n",
            &id[..11]
        )
    );
}

/// With `--label` the last step's image is not the build's (the labels are committed after
/// it): they are shown as `LABEL` steps, as buildah's, and the commit is announced before
/// theirs, once.
#[test]
fn build_announces_the_commit_of_a_label_after_the_last_step() {
    let rpod = Rpod::with_image("crun");
    let dir = rpod.dir.path().join("ctx");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("Containerfile"), "FROM demo\nRUN true\n").unwrap();
    let out = rpod.ok(&[
        "build",
        "--label",
        "k=v",
        "--label",
        "say=two words",
        "-t",
        "labelled",
        &dir.display().to_string(),
    ]);
    // Each label is a step of the last stage, as buildah numbers them, committed at once.
    let lines: Vec<&str> = out.lines().collect();
    let run = lines
        .iter()
        .position(|l| *l == "STEP 2/4: RUN true")
        .unwrap();
    assert!(lines[run + 1].starts_with("--> "), "{out}");
    assert_eq!(
        lines[run + 2..run + 5],
        [
            "STEP 3/4: LABEL \"k\"=\"v\"",
            "STEP 4/4: LABEL \"say\"=\"two words\"",
            "COMMIT labelled"
        ],
        "{out}"
    );
    assert!(lines[run + 5].starts_with("--> "), "{out}");
    assert_eq!(out.matches("COMMIT").count(), 1, "{out}");
    assert_eq!(rpod.inspect("labelled", "{{.Labels.k}}"), "v");
    // A --target before the file's last stage shows none (its image has them too).
    fs::write(
        dir.join("Containerfile"),
        "FROM demo AS first\nRUN true\nFROM demo\n",
    )
    .unwrap();
    let out = rpod.ok(&[
        "build",
        "--target",
        "first",
        "--label",
        "k=w",
        "-t",
        "first",
        &dir.display().to_string(),
    ]);
    assert!(out.contains("STEP 2/2: RUN true"), "{out}");
    assert!(!out.contains("LABEL"), "{out}");
    assert_eq!(rpod.inspect("first", "{{.Labels.k}}"), "w");
}

/// `--timestamp` (and `--omit-history`): the same build makes the same image ID again (without it, each build's
/// ID differs by its time), the images are dated then, and every file of the layers the
/// build made carries that time; a build without it does not take such steps from the
/// cache, nor the other way round.
#[test]
fn timestamp_makes_the_same_build_the_same_image() {
    let rpod = Rpod::with_image("crun");
    let dir = rpod.dir.path().join("ctx");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("file"), "from the context\n").unwrap();
    fs::write(
        dir.join("Containerfile"),
        "FROM demo\nCOPY file /copied\nRUN mkdir -p /made/dir && echo run > /made/file\n\
         ENV STAMPED=1\n",
    )
    .unwrap();
    let ctx = dir.display().to_string();
    let build = |extra: &[&str]| {
        let mut args = vec!["build", "-q"];
        args.extend_from_slice(extra);
        args.push(&ctx);
        rpod.ok(&args).trim().to_string()
    };
    let first = build(&["--no-cache", "--timestamp", "1000000000"]);
    // A second later: the files RUN makes have other times, the image is made at another.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let second = build(&["--no-cache", "--timestamp", "1000000000"]);
    assert_eq!(first, second);
    let unstamped = build(&[]);
    assert_ne!(
        unstamped, first,
        "a build without --timestamp took a stamped step"
    );
    let restamped = build(&["--timestamp", "1000000000"]);
    assert_eq!(restamped, first);
    assert_ne!(build(&["--no-cache"]), unstamped);

    assert_eq!(
        rpod.ok(&["image", "inspect", "-f", "{{.Created}}", &first])
            .trim(),
        "2001-09-09 01:46:40 +0000 UTC"
    );
    // Every step the build made is dated so (podman's `.CreatedAt`); the base image's
    // step is not. A build without step images (--layers=false) names only the image and
    // its base: the steps between are <missing>.
    let history = |image: &str| rpod.ok(&["history", "--format", "{{.ID}}|{{.CreatedAt}}", image]);
    let steps = history(&first);
    let lines: Vec<&str> = steps.lines().collect();
    assert_eq!(lines.len(), 4, "{steps}");
    assert!(
        lines[..3]
            .iter()
            .all(|l| l.ends_with("|2001-09-09 01:46:40 +0000 UTC")),
        "{steps}"
    );
    assert!(!lines[3].contains("2001-09-09"), "{steps}");
    let unlayered = build(&["--layers=false", "--timestamp", "1000000000"]);
    assert_eq!(unlayered, first, "the same build, the same image");
    let fresh = build(&["--layers=false", "--no-cache", "--timestamp", "2000000000"]);
    let demo = rpod.inspect("demo", "{{.Id}}");
    let steps = history(&fresh);
    let ids: Vec<&str> = steps
        .lines()
        .map(|l| l.split('|').next().unwrap())
        .collect();
    assert_eq!(
        ids,
        [&fresh[..12], "<missing>", "<missing>", &demo[..12]],
        "{steps}"
    );
    let times = rpod.ok(&[
        "run",
        "--rm",
        &first,
        "stat",
        "-c",
        "%Y %n",
        "/copied",
        "/made",
        "/made/dir",
        "/made/file",
    ]);
    assert_eq!(
        times,
        "1000000000 /copied\n1000000000 /made\n1000000000 /made/dir\n1000000000 /made/file\n"
    );

    let err = rpod.fails(&["build", "--timestamp=-5", &ctx], 125);
    assert!(err.contains("--timestamp"), "{err}");

    // --omit-history: no history at all (not the base's either), the same files; a
    // build cache of its own.
    let bare = build(&["--omit-history", "--timestamp", "1000000000"]);
    assert_ne!(bare, first);
    assert_eq!(rpod.inspect(&bare, "{{len .History}}"), "0");
    assert_eq!(
        rpod.ok(&["run", "--rm", &bare, "cat", "/copied"]),
        "from the context\n"
    );
    assert_eq!(build(&["--timestamp", "1000000000"]), first);
}

/// `RUN --mount=type=ssh` with `--ssh`: the agent's socket (here a plain socket the test
/// listens on: its inode tells it is the same one) is in the step at BuildKit's default
/// target or the one asked for, `SSH_AUTH_SOCK` names the first; neither is in the image.
/// A required agent the build was not given fails the step.
#[test]
fn ssh_mounts_forward_an_agents_socket() {
    use std::os::unix::fs::MetadataExt;
    let rpod = Rpod::with_image("crun");
    let dir = rpod.dir.path().join("ctx");
    fs::create_dir_all(&dir).unwrap();
    let agent = rpod.dir.path().join("agent.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&agent).unwrap();
    let inode = fs::metadata(&agent).unwrap().ino();
    fs::write(
        dir.join("Containerfile"),
        "FROM demo\n\
         RUN --mount=type=ssh echo \"$SSH_AUTH_SOCK\" > /seen; stat -c %i \"$SSH_AUTH_SOCK\" >> /seen; \
         test -S \"$SSH_AUTH_SOCK\" && echo socket >> /seen\n\
         RUN --mount=type=ssh,id=git,target=/agent stat -c %i /agent >> /seen\n\
         RUN test -e /run/buildkit/ssh_agent.0 || echo gone >> /seen; echo \"${SSH_AUTH_SOCK:-unset}\" >> /seen\n",
    )
    .unwrap();
    let ctx = dir.display().to_string();
    let git = format!("git={}", agent.display());
    let out = rpod
        .command(&[
            "build", "-q", "--ssh", "default", "--ssh", &git, "-t", "sshed", &ctx,
        ])
        .env("SSH_AUTH_SOCK", &agent)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        rpod.ok(&["run", "--rm", "sshed", "cat", "/seen"]),
        format!("/run/buildkit/ssh_agent.0\n{inode}\nsocket\n{inode}\ngone\nunset\n")
    );
    let env = rpod.ok(&["image", "inspect", "-f", "{{json .Config}}", "sshed"]);
    assert!(!env.contains("SSH_AUTH_SOCK"), "{env}");

    fs::write(
        dir.join("Containerfile"),
        "FROM demo\nRUN --mount=type=ssh,id=other,required true\n",
    )
    .unwrap();
    let err = rpod.fails(&["build", "--ssh", &git, &ctx], 125);
    assert!(err.contains("required"), "{err}");
    assert_eq!(rpod.ok(&["ps", "-aq"]), "");
}

/// `--ssh ID=KEY[,KEY]`: the keys are held by an agent of the build's own, which the step
/// reaches as any forwarded agent (the host's `ssh-add -l`, run in the step through the
/// host's loader, lists both keys), gone with the build; a file that is no key, a missing
/// one and a socket among keys are refused, naming them.
#[test]
fn ssh_mounts_serve_key_files_from_an_agent_of_the_builds_own() {
    let rpod = Rpod::with_image("crun");
    let dir = rpod.dir.path().join("ctx");
    fs::create_dir_all(&dir).unwrap();
    let keys = rpod.dir.path().join("keys");
    fs::create_dir_all(&keys).unwrap();
    let keygen = |name: &str| {
        let path = keys.join(name);
        let out = std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        path.display().to_string()
    };
    let (first, second) = (keygen("first-key"), keygen("second-key"));
    // The host's ssh-add and its libraries, run by the host's loader inside the step.
    let ldd = std::process::Command::new("ldd")
        .arg("/usr/bin/ssh-add")
        .output()
        .unwrap();
    let ldd = String::from_utf8_lossy(&ldd.stdout).to_string();
    let libc = ldd
        .split_whitespace()
        .find(|word| word.starts_with('/') && word.contains("/libc.so"))
        .unwrap_or_else(|| panic!("{ldd}"));
    let lib_dir = Path::new(libc).parent().unwrap().display().to_string();
    let loader = ldd
        .split_whitespace()
        .find(|word| word.starts_with('/') && word.contains("/ld-linux"))
        .and_then(|path| Path::new(path).file_name())
        .unwrap_or_else(|| panic!("{ldd}"))
        .to_string_lossy()
        .to_string();
    fs::write(
        dir.join("Containerfile"),
        format!(
            "FROM demo\n\
             RUN --mount=type=ssh /hostlib/{loader} --library-path /hostlib /ssh-add -l > /seen\n"
        ),
    )
    .unwrap();
    let ctx = dir.display().to_string();
    let both = format!("default={first},{second}");
    let libs = format!("{lib_dir}:/hostlib:ro");
    rpod.ok(&[
        "build",
        "-q",
        "-v",
        &libs,
        "-v",
        "/usr/bin/ssh-add:/ssh-add:ro",
        "--ssh",
        &both,
        "-t",
        "keyed",
        &ctx,
    ]);
    let seen = rpod.ok(&["run", "--rm", "keyed", "cat", "/seen"]);
    assert!(
        seen.contains("first-key (ED25519)") && seen.contains("second-key (ED25519)"),
        "{seen}"
    );
    // The agent went with the build: no scratch directory, no process of it.
    let left: Vec<_> = fs::read_dir(rpod.root().join("tmp"))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(
        !left
            .iter()
            .any(|n| n.to_string_lossy().starts_with("ssh-agent-")),
        "{left:?}"
    );
    let store = rpod.root().display().to_string();
    let agents: Vec<_> = fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.starts_with("ssh-agent") && c.contains(&store))
        .collect();
    assert!(agents.is_empty(), "{agents:?}");

    let not_a_key = keys.join("not-a-key");
    fs::write(&not_a_key, "a key").unwrap();
    let err = rpod.fails(
        &[
            "build",
            "--ssh",
            &format!("default={}", not_a_key.display()),
            &ctx,
        ],
        125,
    );
    assert!(err.contains("ssh-add could not load the keys"), "{err}");
    let missing = keys.join("missing");
    let err = rpod.fails(
        &[
            "build",
            "--ssh",
            &format!("default={}", missing.display()),
            &ctx,
        ],
        125,
    );
    assert!(err.contains("missing"), "{err}");
    let agent = rpod.dir.path().join("agent.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&agent).unwrap();
    let err = rpod.fails(
        &[
            "build",
            "--ssh",
            &format!("default={first},{}", agent.display()),
            &ctx,
        ],
        125,
    );
    assert!(err.contains("neither a key file"), "{err}");
    assert_eq!(rpod.ok(&["ps", "-aq"]), "");
}

/// `--cache-ttl`: a step's image older than it is not taken from the cache.
#[test]
fn cache_ttl_leaves_older_steps_out() {
    let rpod = Rpod::with_image("crun");
    let dir = rpod.dir.path().join("ctx");
    fs::create_dir_all(&dir).unwrap();
    fs::write(
        dir.join("Containerfile"),
        "FROM demo\nRUN echo one > /one\nRUN echo two > /two\n",
    )
    .unwrap();
    let ctx = dir.display().to_string();
    let build = |extra: &[&str]| {
        let mut args = vec!["build"];
        args.extend_from_slice(extra);
        args.push(&ctx);
        rpod.ok(&args).matches("--> Using cache").count()
    };
    assert_eq!(build(&[]), 0);
    assert_eq!(build(&["--cache-ttl", "1h"]), 2);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert_eq!(build(&["--cache-ttl", "1s"]), 0);
    let err = rpod.fails(&["build", "--cache-ttl", "soon", &ctx], 125);
    assert!(err.contains("--cache-ttl"), "{err}");
}

/// `git daemon` on a port of its own, serving `app.git`: on its default branch a
/// Containerfile that copies the whole context, `hello` ("top"), `sub/Containerfile` and
/// `sub/hello` ("main"), and `linked`, a link to /etc/passwd; the tag `v1` has
/// `sub/hello` say "v1". Killed when dropped.
struct GitServer {
    daemon: std::process::Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl GitServer {
    fn start() -> GitServer {
        let dir = tempfile::tempdir().unwrap();
        let work = dir.path().join("work");
        fs::create_dir_all(work.join("sub")).unwrap();
        let git = |args: &[&str]| {
            let out = std::process::Command::new("git")
                .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
                .args(args)
                .current_dir(&work)
                .output()
                .unwrap();
            assert!(out.status.success(), "git {args:?}: {out:?}");
        };
        fs::write(work.join("Containerfile"), "FROM demo\nCOPY . /ctx\n").unwrap();
        fs::write(work.join("hello"), "top\n").unwrap();
        fs::write(
            work.join("sub/Containerfile"),
            "FROM demo\nCOPY hello /hello\n",
        )
        .unwrap();
        fs::write(work.join("sub/hello"), "v1\n").unwrap();
        symlink("/etc/passwd", work.join("linked")).unwrap();
        git(&["init", "-q", "-b", "main"]);
        git(&["add", "-A"]);
        git(&["commit", "-q", "-m", "first"]);
        git(&["tag", "v1"]);
        fs::write(work.join("sub/hello"), "main\n").unwrap();
        git(&["commit", "-q", "-am", "second"]);
        let bare = dir.path().join("app.git");
        git(&["clone", "-q", "--bare", ".", bare.to_str().unwrap()]);
        let port = free_port();
        // git-daemon itself: `git daemon` would run it as a child of its own, which a kill
        // of `git` leaves behind.
        let exec_path = std::process::Command::new("git")
            .arg("--exec-path")
            .output()
            .unwrap();
        let exec_path = String::from_utf8(exec_path.stdout).unwrap();
        let daemon = std::process::Command::new(Path::new(exec_path.trim()).join("git-daemon"))
            .args([
                "--reuseaddr",
                "--listen=127.0.0.1",
                &format!("--port={port}"),
                "--export-all",
                &format!("--base-path={}", dir.path().display()),
                &dir.path().display().to_string(),
            ])
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        common::wait_until("git daemon listens", || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        GitServer {
            daemon,
            port,
            _dir: dir,
        }
    }
}

impl Drop for GitServer {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}

/// A context named by URL: a Git repository (its default branch, a tag, a directory in it,
/// `-f` inside it, without its `.git`), also as a `--build-context`; an archive or a
/// Containerfile alone from a web server. A link named as the Containerfile that leads
/// out of the repository, a missing ref, an archive rpod does not unpack, a missing file
/// and another scheme are refused.
/// A Containerfile named `*.in` goes through cpp first, as podman's build: `#include`
/// from the context, `#ifdef` with `--cpp-flag -DNAME`; cpp's errors are said; a remote
/// context's `.in` file is refused (cpp would read this host's files for it).
#[test]
fn containerfile_in_is_preprocessed_by_cpp() {
    let rpod = Rpod::with_image("crun");
    let dir = rpod.dir.path().join("ctx-cpp");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("part.inc"), "RUN echo part > /part\n").unwrap();
    fs::write(
        dir.join("Containerfile.in"),
        "FROM demo\n#include \"part.inc\"\n#ifdef EXTRA\nRUN echo extra > /extra\n#endif\n",
    )
    .unwrap();
    let ctx = dir.display().to_string();
    let file = dir.join("Containerfile.in").display().to_string();
    rpod.ok(&["build", "-q", "-f", &file, "-t", "plain", &ctx]);
    let shown = |image: &str| {
        rpod.ok(&[
            "run",
            "--rm",
            image,
            "sh",
            "-c",
            "cat /part /extra 2>/dev/null; true",
        ])
    };
    assert_eq!(shown("plain"), "part\n");
    rpod.ok(&[
        "build",
        "-q",
        "--cpp-flag",
        "-DEXTRA",
        "-f",
        &file,
        "-t",
        "extra",
        &ctx,
    ]);
    assert_eq!(shown("extra"), "part\nextra\n");
    fs::write(
        dir.join("Broken.in"),
        "FROM demo\n#include \"missing.inc\"\n",
    )
    .unwrap();
    let broken = dir.join("Broken.in").display().to_string();
    let err = rpod.fails(&["build", "-f", &broken, &ctx], 125);
    assert!(
        err.contains("Broken.in") && err.contains("missing.inc"),
        "{err}"
    );
    // From a remote context: refused.
    let port = common::serve_bytes(vec![(
        "/ctx.tar.gz",
        common::tar_gz(&[("Containerfile.in", "FROM demo\n#include \"/etc/shadow\"\n")]),
    )]);
    let err = rpod.fails(
        &[
            "build",
            "-f",
            "Containerfile.in",
            &format!("http://127.0.0.1:{port}/ctx.tar.gz"),
        ],
        125,
    );
    assert!(err.contains("cpp") && !err.contains("root:"), "{err}");
}

#[test]
fn build_takes_contexts_from_git_and_web_servers() {
    let rpod = Rpod::with_image("crun");
    let server = GitServer::start();
    let url = format!("git://127.0.0.1:{}/app.git", server.port);
    let cat = |image: &str, path: &str| rpod.ok(&["run", "--rm", image, "cat", path]);

    rpod.ok(&["build", "-q", "-t", "from-main", &format!("{url}#:sub")]);
    assert_eq!(cat("from-main", "/hello"), "main\n");
    rpod.ok(&["build", "-q", "-t", "from-tag", &format!("{url}#v1:sub")]);
    assert_eq!(cat("from-tag", "/hello"), "v1\n");
    rpod.ok(&["build", "-q", "-t", "whole", &url]);
    let listed = rpod.ok(&["run", "--rm", "whole", "ls", "-a", "/ctx"]);
    assert!(listed.lines().any(|l| l == "sub"), "{listed}");
    assert!(!listed.lines().any(|l| l == ".git"), "{listed}");
    rpod.ok(&[
        "build",
        "-q",
        "-t",
        "named",
        "-f",
        "sub/Containerfile",
        &url,
    ]);
    assert_eq!(cat("named", "/hello"), "top\n");
    // A link to a host file is followed inside the repository only: nothing there.
    let err = rpod.fails(&["build", "-f", "linked", &url], 125);
    assert!(
        err.contains("not in the build context") && !err.contains("root:"),
        "{err}"
    );
    let err = rpod.fails(&["build", &format!("{url}#nosuchref")], 125);
    assert!(
        err.contains("git fetch") && err.contains("nosuchref"),
        "{err}"
    );
    let err = rpod.fails(&["build", &format!("{url}#v1:nosuchdir")], 125);
    assert!(err.contains("no directory of the repository"), "{err}");

    let dir = rpod.dir.path().join("local");
    fs::create_dir_all(&dir).unwrap();
    fs::write(
        dir.join("Containerfile"),
        "FROM demo\nCOPY --from=repo sub/hello /from-repo\n",
    )
    .unwrap();
    rpod.ok(&[
        "build",
        "-q",
        "-t",
        "with-named",
        "--build-context",
        &format!("repo={url}#v1"),
        dir.to_str().unwrap(),
    ]);
    assert_eq!(cat("with-named", "/from-repo"), "v1\n");

    // The same context compressed with xz, as Docker's and podman's builds take it.
    let packed = rpod.dir.path().join("packed");
    fs::create_dir_all(&packed).unwrap();
    fs::write(
        packed.join("ctx.tar.gz"),
        common::tar_gz(&[
            ("Containerfile", "FROM demo\nCOPY note /note\n"),
            ("note", "from the xz archive\n"),
        ]),
    )
    .unwrap();
    let made = std::process::Command::new("sh")
        .args(["-c", "gzip -dc ctx.tar.gz | xz > ctx.tar.xz"])
        .current_dir(&packed)
        .status()
        .unwrap();
    assert!(made.success());
    let port = common::serve_bytes(vec![
        ("/ctx.tar.xz", fs::read(packed.join("ctx.tar.xz")).unwrap()),
        (
            "/ctx.tar.gz",
            common::tar_gz(&[
                ("Containerfile", "FROM demo\nCOPY note /note\n"),
                ("note", "from the archive\n"),
            ]),
        ),
        (
            "/Containerfile",
            b"FROM demo\nRUN echo alone > /alone\n".to_vec(),
        ),
        ("/ctx.tar.bz2", b"BZh91AY&SY".to_vec()),
    ]);
    let web = format!("http://127.0.0.1:{port}");
    rpod.ok(&[
        "build",
        "-q",
        "-t",
        "archived",
        &format!("{web}/ctx.tar.gz"),
    ]);
    assert_eq!(cat("archived", "/note"), "from the archive\n");
    rpod.ok(&[
        "build",
        "-q",
        "-t",
        "alone",
        &format!("{web}/Containerfile"),
    ]);
    assert_eq!(cat("alone", "/alone"), "alone\n");
    rpod.ok(&["build", "-q", "-t", "xz", &format!("{web}/ctx.tar.xz")]);
    assert_eq!(cat("xz", "/note"), "from the xz archive\n");
    // A bzip2 stream cut after its header: refused, naming the context.
    let err = rpod.fails(&["build", &format!("{web}/ctx.tar.bz2")], 125);
    assert!(err.contains("the build context"), "{err}");
    let err = rpod.fails(&["build", &format!("{web}/missing.tar")], 125);
    assert!(err.contains("404"), "{err}");
    let err = rpod.fails(&["build", "ftp://127.0.0.1/ctx.tar"], 125);
    assert!(err.contains("not supported"), "{err}");
    // git writes the repository itself, watched against the free-space reserve: with more
    // kept free than the disk has, the fetch is stopped (it ran to its end before).
    fs::write(
        rpod.config_path(),
        format!(
            "{}[storage]\nkeep_free = \"99%\"\n",
            common::NO_NETWORK_CONFIG
        ),
    )
    .unwrap();
    let err = rpod.fails(&["build", &url], 125);
    assert!(
        err.contains("keep_free") && err.contains("/repository:"),
        "{err}"
    );
    // Nothing fetched is left in the store's scratch space.
    let tmp = rpod.dir.path().join("root/tmp");
    let left: Vec<_> = fs::read_dir(&tmp)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(
        !left
            .iter()
            .any(|n| n.to_string_lossy().starts_with("build-remote-")),
        "{left:?}"
    );
}

/// `--annotation` marks an OCI image's manifest: inspect shows it, an OCI archive keeps it
/// and a Docker archive (which has no place for it) loses it; a Docker-format build has
/// none, as podman's. A value without `=` is refused.
#[test]
fn annotations_mark_an_oci_images_manifest() {
    let rpod = Rpod::with_image("crun");
    let dir = rpod.dir.path().join("ctx");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("Containerfile"), "FROM demo\nRUN echo x > /x\n").unwrap();
    let ctx = dir.display().to_string();
    let build = |extra: &[&str]| {
        let mut args = vec!["build", "-q", "--annotation", "org.example.a=1"];
        args.extend(extra);
        args.push(&ctx);
        rpod.ok(&args)
    };
    build(&["-t", "noted", "--annotation", "b=two=2"]);
    assert_eq!(
        rpod.inspect("noted", "{{.Annotations}}"),
        "map[b:two=2 org.example.a:1]"
    );
    let archives = tempfile::tempdir().unwrap();
    for (format, kept) in [("oci-archive", true), ("docker-archive", false)] {
        let archive = archives.path().join(format).display().to_string();
        rpod.ok(&["save", "--format", format, "-o", &archive, "noted"]);
        let other = Rpod::new("crun");
        other.ok(&["load", "-i", &archive]);
        let shown = other.ok(&["image", "inspect", "--format", "{{.Annotations}}", "noted"]);
        let expected = if kept {
            "map[b:two=2 org.example.a:1]"
        } else {
            "map[]"
        };
        assert_eq!(shown.trim(), expected, "{format}");
    }
    build(&["-t", "docker-noted", "--format", "docker", "--no-cache"]);
    assert_eq!(rpod.inspect("docker-noted", "{{.Annotations}}"), "map[]");
    let err = rpod.fails(&["build", "--annotation", "noequals", &ctx], 125);
    assert!(err.contains("invalid annotation \"noequals\""), "{err}");
}

/// `--os-version` and `--os-feature` go into the image's config (`os.version` in place of
/// the base's, `os.features` beside them), also when every step is cached (a cached image
/// without them is not taken); `--retry-delay` must be a duration.
#[test]
fn os_version_and_features_go_into_the_config() {
    let rpod = Rpod::with_image("crun");
    let dir = rpod.dir.path().join("ctx");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("Containerfile"), "FROM demo\nRUN echo x > /x\n").unwrap();
    let ctx = dir.display().to_string();
    let config = |id: &str| -> serde_json::Value {
        let path = rpod
            .root()
            .join(format!("images/configs/{}.json", id.trim()));
        serde_json::from_slice(&fs::read(&path).unwrap()).unwrap()
    };
    let plain = rpod.ok(&["build", "-q", &ctx]);
    assert!(config(&plain).get("os.version").is_none());
    let marked = rpod.ok(&[
        "build",
        "-q",
        "--os-version",
        "10.0.1",
        "--os-feature",
        "one",
        "--os-feature",
        "two",
        "--retry",
        "1",
        "--retry-delay",
        "500ms",
        &ctx,
    ]);
    assert_ne!(plain, marked);
    let written = config(&marked);
    assert_eq!(written["os.version"], "10.0.1");
    assert_eq!(written["os.features"], serde_json::json!(["one", "two"]));
    let err = rpod.fails(&["build", "--retry-delay", "soon", &ctx], 125);
    assert!(err.contains("invalid --retry-delay \"soon\""), "{err}");
}
