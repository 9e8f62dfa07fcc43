//! podman's commands and flags rpod gained for scripts written for podman: restart, rename,
//! container prune, ps's --noheading, --last and --sort, and run/create's --cidfile,
//! --replace, --pull, --label-file and --env-host, container runlabel.

mod common;

use common::*;

/// The names of every container of the store, one per line, sorted.
fn all_names(rpod: &Rpod) -> String {
    rpod.ok(&["ps", "-a", "--format", "{{.Names}}", "--sort", "names"])
}

#[test]
fn restart_rename_and_prune() {
    let rpod = Rpod::with_image("runc");
    let id = rpod.detached(&[
        "--name",
        "web",
        "demo",
        "sh",
        "-c",
        "echo started; sleep 300",
    ]);
    let pid = rpod.inspect("web", "{{.State.Pid}}");
    assert_eq!(rpod.ok(&["restart", "-t", "0", "web"]), "web\n");
    assert_ne!(rpod.inspect("web", "{{.State.Pid}}"), pid);
    assert_eq!(rpod.inspect("web", "{{.State.Status}}"), "running");
    assert_eq!(rpod.ok(&["logs", "web"]), "started\nstarted\n");
    // A stopped container is started; --all --running only takes running ones.
    rpod.ok(&["create", "--name", "idle", "demo", "sleep", "300"]);
    rpod.ok(&["restart", "--all", "--running", "-t", "0"]);
    assert_eq!(rpod.inspect("idle", "{{.State.Status}}"), "created");
    rpod.ok(&["container", "restart", "-t", "0", "idle"]);
    assert_eq!(rpod.inspect("idle", "{{.State.Status}}"), "running");
    rpod.fails(&["restart", "nosuch"], 125);
    rpod.fails(&["restart", "--running", "web"], 125);

    // rename: the old name is free, the new one must be.
    rpod.ok(&["rename", "web", "site"]);
    assert_eq!(rpod.inspect("site", "{{.Id}}"), id);
    rpod.fails(&["inspect", "web"], 125);
    let err = rpod.fails(&["rename", "site", "idle"], 125);
    assert!(err.contains("already in use"), "{err}");
    rpod.fails(&["rename", "site", "bad/name"], 125);
    rpod.fails(&["container", "rename", "nosuch", "x"], 125);
    rpod.ok(&["container", "rename", "site", "web"]);

    // prune: every container that does not run, with filters.
    rpod.ok(&[
        "run", "--name", "done1", "--label", "keep=yes", "demo", "true",
    ]);
    rpod.ok(&["run", "--name", "done2", "demo", "true"]);
    rpod.ok(&["create", "--name", "fresh", "demo", "true"]);
    assert_eq!(
        rpod.ok(&[
            "container",
            "prune",
            "-f",
            "--filter",
            "label!=keep=yes",
            "--filter",
            "until=1h"
        ]),
        ""
    );
    let pruned = rpod.ok(&["container", "prune", "-f", "--filter", "label!=keep=yes"]);
    assert_eq!(pruned.lines().count(), 2, "{pruned}");
    let left = all_names(&rpod);
    assert_eq!(left, "done1\nidle\nweb\n");
    rpod.fails(&["container", "prune", "--filter", "color=red"], 125);
    rpod.ok(&["container", "prune", "-f"]);
    assert_eq!(all_names(&rpod), "idle\nweb\n");
}

#[test]
fn ps_noheading_last_and_sort() {
    let rpod = Rpod::with_image("runc");
    for name in ["b", "a", "c"] {
        rpod.ok(&["create", "--name", name, "demo", "true"]);
    }
    // Oldest first by default, as podman 4.3.1's; --sort names; --last N takes the N
    // newest, in every state, oldest first; --latest the newest, whatever the sort.
    assert_eq!(
        rpod.ok(&["ps", "-a", "--format", "{{.Names}}"]),
        "b\na\nc\n"
    );
    assert_eq!(
        rpod.ok(&["ps", "-a", "--sort", "names", "--format", "{{.Names}}"]),
        "a\nb\nc\n"
    );
    assert_eq!(
        rpod.ok(&["ps", "-n", "2", "--format", "{{.Names}}"]),
        "a\nc\n"
    );
    assert_eq!(
        rpod.ok(&["ps", "--last", "1", "--format", "{{.Names}}"]),
        "c\n"
    );
    assert_eq!(
        rpod.ok(&[
            "ps",
            "-a",
            "--sort",
            "names",
            "-l",
            "--format",
            "{{.Names}}"
        ]),
        "c\n"
    );
    // --sort runningfor: never started ones first, then by start, the earliest first.
    rpod.ok(&["start", "c"]);
    rpod.ok(&["wait", "c"]);
    rpod.ok(&["start", "b"]);
    rpod.ok(&["wait", "b"]);
    assert_eq!(
        rpod.ok(&["ps", "-a", "--sort", "runningfor", "--format", "{{.Names}}"]),
        "a\nc\nb\n"
    );
    let table = rpod.ok(&["ps", "-a", "--noheading"]);
    assert_eq!(table.lines().count(), 3, "{table}");
    assert!(!table.contains("CONTAINER ID"), "{table}");
    let with = rpod.ok(&["ps", "-a"]);
    assert!(with.starts_with("CONTAINER ID"), "{with}");
    rpod.fails(&["ps", "--sort", "colour"], 125);
}

/// On/off flags written as docker and podman scripts write them: `--rm=false` keeps the
/// container, `--privileged=true` is privileged, `-it=false` keeps stdin open without a
/// terminal; a value that is not true or false is refused and nothing is made.
#[test]
fn on_off_flags_take_a_value_after_an_equals_sign() {
    let rpod = Rpod::with_image("runc");
    rpod.ok(&["run", "--rm=false", "--name", "kept", "demo", "true"]);
    assert_eq!(rpod.inspect("kept", "{{.State.Status}}"), "exited");
    rpod.ok(&["run", "--rm=true", "--name", "gone", "demo", "true"]);
    rpod.fails(&["inspect", "gone"], 125);
    rpod.ok(&[
        "create",
        "--privileged=true",
        "-it=false",
        "--name",
        "p",
        "demo",
        "sh",
    ]);
    assert_eq!(
        rpod.inspect(
            "p",
            "{{.HostConfig.Privileged}} {{.Config.OpenStdin}} {{.Config.Tty}}"
        ),
        "true true false"
    );
    let err = rpod.fails(&["run", "--rm=yes", "--name", "bad", "demo", "true"], 125);
    assert!(
        err.contains("invalid argument \"yes\" for \"--rm\" flag: not true or false"),
        "{err}"
    );
    rpod.fails(&["inspect", "bad"], 125);
}

#[test]
fn run_flags_for_scripts() {
    let rpod = Rpod::with_image("runc");
    let dir = tempfile::tempdir().unwrap();
    // --cidfile: the ID is written; an existing file is refused and nothing is made.
    let cidfile = dir.path().join("cid");
    let cid = cidfile.display().to_string();
    let id = rpod.ok(&["create", "--cidfile", &cid, "--name", "one", "demo", "true"]);
    assert_eq!(std::fs::read_to_string(&cidfile).unwrap(), id.trim());
    assert_eq!(rpod.inspect("one", "{{.HostConfig.ContainerIDFile}}"), cid);
    // podman's other fields a template may name, Docker's that podman shows empty.
    assert_eq!(
        rpod.inspect(
            "one",
            "{{.Config.Passwd}} {{.HostConfig.CpuCount}} {{json .HostConfig.Links}} \
             {{.NetworkSettings.HairpinMode}} {{json .Config.Volumes}} \
             {{json .HostConfig.LogConfig.Config}} {{.HostConfig.Isolation}}."
        ),
        "true 0 null false null null ."
    );
    let err = rpod.fails(
        &["run", "--cidfile", &cid, "--name", "two", "demo", "true"],
        125,
    );
    assert!(err.contains("exists"), "{err}");
    rpod.fails(&["inspect", "two"], 125);
    // --replace: a container of that name goes first.
    let second = rpod.ok(&["create", "--replace", "--name", "one", "demo", "true"]);
    assert_ne!(second.trim(), id.trim());
    assert_eq!(rpod.ok(&["ps", "-aq", "--no-trunc"]), second);
    rpod.fails(&["create", "--name", "one", "demo", "true"], 125);
    // An empty --hostname is the default (a script's `-h "$NAME"` with nothing in NAME),
    // as podman's and Docker's; one that would break /etc/hosts is refused.
    let short_id = rpod.ok(&["run", "--name", "h", "--hostname", "", "demo", "hostname"]);
    assert_eq!(short_id.trim(), &rpod.inspect("h", "{{.Id}}")[..12]);
    let err = rpod.fails(&["run", "--rm", "-h", "bad name!", "demo", "true"], 125);
    assert!(err.contains("invalid hostname"), "{err}");
    // --pull: local images with never and missing; always pulls, here from a search
    // registry nothing answers on (tests/registry.rs pulls from a real one).
    rpod.ok(&["run", "--rm", "--pull", "never", "demo", "true"]);
    let mut config = std::fs::read_to_string(rpod.config_path()).unwrap();
    config.push_str("[registries]\nsearch = [\"127.0.0.1:9\"]\n");
    std::fs::write(rpod.config_path(), config).unwrap();
    let err = rpod.fails(&["run", "--rm", "--pull", "always", "demo", "true"], 125);
    assert!(err.contains("registry 127.0.0.1:9: no answer"), "{err}");
    rpod.fails(&["run", "--rm", "--pull", "sometimes", "demo", "true"], 125);
    // --label-file and --env-host (-e wins).
    let labels = dir.path().join("labels");
    std::fs::write(&labels, "# team\nteam=db\ntier=back\n").unwrap();
    let label_file = labels.display().to_string();
    rpod.ok(&[
        "create",
        "--name",
        "labelled",
        "--label-file",
        &label_file,
        "--label",
        "tier=front",
        "demo",
        "true",
    ]);
    assert_eq!(
        rpod.inspect(
            "labelled",
            "{{.Config.Labels.team}} {{.Config.Labels.tier}}"
        ),
        "db front"
    );
    // A label the container lacks is Go's `<no value>` (a map's answer), not an error;
    // `index` of it is empty; the same in ps.
    assert_eq!(
        rpod.inspect(
            "labelled",
            "{{.Config.Labels.nokey}}|{{index .Config.Labels \"nokey\"}}|"
        ),
        "<no value>||"
    );
    assert_eq!(
        rpod.ok(&[
            "ps",
            "-a",
            "--filter",
            "name=labelled",
            "--format",
            "{{.Labels.nokey}} {{.Labels.tier}}"
        ]),
        "<no value> front\n"
    );
    let out = rpod
        .command(&[
            "run",
            "--rm",
            "--env-host",
            "-e",
            "OVERRIDE=mine",
            "demo",
            "sh",
            "-c",
            "echo $FROM_HOST $OVERRIDE",
        ])
        .env("FROM_HOST", "host-value")
        .env("OVERRIDE", "host")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "host-value mine\n");
    // `-e 'PREFIX*'` takes each of rpod's variables with that prefix (podman's); a variable
    // that is not UTF-8 in rpod's environment is passed over (rpod panicked on it).
    use std::os::unix::ffi::OsStrExt;
    let not_text = std::ffi::OsStr::from_bytes(b"\xff");
    let out = rpod
        .command(&[
            "run",
            "--rm",
            "-e",
            "GLOB_*",
            "-e",
            "NOT_TEXT",
            "demo",
            "sh",
            "-c",
            "env | grep -e ^GLOB_ -e ^NOT_TEXT | sort",
        ])
        .env("GLOB_A", "1")
        .env("GLOB_B", "2")
        .env("OTHER_GLOB_C", "3")
        .env("NOT_TEXT", not_text)
        .env(not_text, "x")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "GLOB_A=1\nGLOB_B=2\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = rpod
        .command(&[
            "run",
            "--rm",
            "--env-host",
            "demo",
            "sh",
            "-c",
            "echo $GLOB_A",
        ])
        .env("GLOB_A", "1")
        .env("NOT_TEXT", not_text)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "1\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A path flag that is not UTF-8 is taken, and kept lossily in `CreateCommand` (as
    // podman's); rpod panicked reading its own command line.
    let mut cidfile = dir.path().as_os_str().as_bytes().to_vec();
    cidfile.extend_from_slice(b"/cid\xff");
    let cidfile = std::path::PathBuf::from(std::ffi::OsStr::from_bytes(&cidfile));
    let mut idfile = cidfile.clone();
    idfile.set_extension("pod");
    for (before, file, after) in [
        (
            &["create", "--name", "odd", "--cidfile"][..],
            &cidfile,
            &["demo", "true"][..],
        ),
        (
            &["pod", "create", "--name", "oddpod", "--pod-id-file"],
            &idfile,
            &[],
        ),
    ] {
        let out = rpod.command(before).arg(file).args(after).output().unwrap();
        assert!(out.status.success(), "{out:?}");
        assert!(file.exists(), "{file:?}");
    }
    let command = rpod.inspect("odd", "{{.Config.CreateCommand}}");
    assert!(command.contains("/cid\u{fffd} demo true]"), "{command}");
    let command = rpod.ok(&["pod", "inspect", "oddpod", "--format", "{{.CreateCommand}}"]);
    assert!(command.contains("/cid\u{fffd}.pod]"), "{command}");
}

#[test]
fn lifecycle_commands_pick_containers_as_podman() {
    let rpod = Rpod::with_image("runc");
    let dir = tempfile::tempdir().unwrap();
    let cidfile = dir.path().join("cid");
    let cid = cidfile.display().to_string();
    let a = rpod.ok(&[
        "create",
        "--cidfile",
        &cid,
        "--name",
        "a",
        "--label",
        "tier=db",
        "demo",
        "sleep",
        "300",
    ]);
    let a = a.trim().to_string();
    rpod.ok(&["create", "--name", "b", "demo", "sleep", "300"]);
    let c = rpod.ok(&[
        "create", "--name", "c", "--label", "tier=db", "demo", "sleep", "300",
    ]);
    let c = c.trim().to_string();

    // start --filter and --latest print full IDs; start --all takes the rest.
    assert_eq!(
        rpod.ok(&["start", "--filter", "label=tier=db"]),
        format!("{a}\n{c}\n")
    );
    assert_eq!(rpod.inspect("b", "{{.State.Status}}"), "created");
    rpod.ok(&["start", "--all"]);
    assert_eq!(rpod.inspect("b", "{{.State.Status}}"), "running");

    // wait --condition: a state prints -1; an exit prints the exit code.
    assert_eq!(
        rpod.ok(&["wait", "--condition", "running", "a", "b"]),
        "-1\n-1\n"
    );
    rpod.fails(&["wait", "--condition", "bogus", "a"], 125);
    // podman's "created" is a container only created (not in the runtime yet), and
    // "initialized" one that `init` put there.
    rpod.ok(&["create", "--name", "fresh", "demo", "true"]);
    assert_eq!(
        rpod.ok(&["wait", "--condition", "created", "fresh"]),
        "-1\n"
    );
    rpod.ok(&["init", "fresh"]);
    assert_eq!(
        rpod.ok(&["wait", "--condition", "initialized", "fresh"]),
        "-1\n"
    );
    rpod.ok(&["rm", "-f", "fresh"]);
    rpod.fails(&["wait", "--interval", "soon", "a"], 125);
    // 0 is taken, as podman's.
    assert_eq!(
        rpod.ok(&["wait", "--interval", "0", "--condition", "running", "a"]),
        "-1\n"
    );
    // A wrong name fails before any wait (nothing printed for the others), as podman's.
    rpod.ok(&["run", "--name", "ended", "demo", "true"]);
    let out = rpod.run(&["wait", "ended", "nosuch"]);
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("\"nosuch\""),
        "{out:?}"
    );
    rpod.ok(&["rm", "ended"]);

    // pause/unpause by filter and --latest; kill and stop by cidfile.
    assert_eq!(
        rpod.ok(&["pause", "-f", "name=b"]),
        format!("{}\n", rpod.inspect("b", "{{.Id}}"))
    );
    assert_eq!(rpod.inspect("b", "{{.State.Status}}"), "paused");
    assert_eq!(
        rpod.ok(&[
            "wait",
            "--condition",
            "paused",
            "--condition",
            "exited",
            "b"
        ]),
        "-1\n"
    );
    rpod.ok(&["unpause", "--all"]);
    assert_eq!(rpod.inspect("b", "{{.State.Status}}"), "running");
    assert_eq!(rpod.ok(&["pause", "--latest"]), format!("{c}\n"));
    rpod.ok(&["unpause", "-l"]);
    assert_eq!(
        rpod.ok(&["kill", "-s", "KILL", "--cidfile", &cid]),
        format!("{a}\n")
    );
    assert_eq!(rpod.ok(&["wait", "--condition", "exited", "a"]), "137\n");
    assert_eq!(
        rpod.ok(&["stop", "-t", "0", "--filter", "name=b"])
            .lines()
            .count(),
        1
    );
    assert_eq!(
        rpod.ok(&["wait", "-i", "10ms", "--condition", "stopped", "b"]),
        "137\n"
    );
    assert_eq!(rpod.ok(&["stop", "-t", "0", "-l"]), format!("{c}\n"));
    // restart by filter.
    rpod.ok(&["restart", "--filter", "name=b"]);
    assert_eq!(rpod.inspect("b", "{{.State.Status}}"), "running");

    // Mixing the ways of picking is refused, as podman does, and so is picking nothing.
    for args in [
        &["stop", "-a", "b"][..],
        &["stop"],
        &["stop", "-l", "b"],
        &["stop", "--filter", "name=b", "b"],
        &["stop", "--filter", "colour=red"],
        &["rm", "--cidfile", "/nonexistent/cid"],
        &["kill", "--cidfile", &cid, "b"],
    ] {
        rpod.fails(args, 125);
    }
    // Unknown containers: 125 for stop, kill, pause, unpause, wait; rm says 1, and -f or
    // --ignore make it silent.
    for command in [
        "stop", "kill", "pause", "unpause", "wait", "restart", "start",
    ] {
        let err = rpod.fails(&[command, "ghost"], 125);
        assert!(err.contains("no such container"), "{command}: {err}");
    }
    rpod.fails(&["rm", "ghost"], 1);
    let out = rpod.run(&["rm", "-f", "ghost"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty() && out.stderr.is_empty(), "{out:?}");
    assert_eq!(rpod.ok(&["rm", "-i", "ghost"]), "");
    assert_eq!(rpod.ok(&["rmi", "-f", "ghost"]), "");
    // stop --ignore skips a missing one and stops the rest.
    assert_eq!(rpod.ok(&["stop", "-i", "-t", "0", "ghost", "b"]), "b\n");

    // rm by cidfile, by filter, and --latest.
    assert_eq!(rpod.ok(&["rm", "--cidfile", &cid]), format!("{a}\n"));
    assert_eq!(
        rpod.ok(&["rm", "-f", "--filter", "name=b"]).lines().count(),
        1
    );
    assert_eq!(rpod.ok(&["rm", "-l"]), format!("{c}\n"));
    assert_eq!(rpod.ok(&["ps", "-aq"]), "");
}

#[test]
fn events_are_printed_filtered_and_followed() {
    let rpod = Rpod::with_image("runc");
    rpod.ok(&["run", "--name", "ev", "demo", "true"]);
    rpod.ok(&["tag", "demo", "other:1"]);
    let statuses = rpod.ok(&[
        "events",
        "--stream=false",
        "--filter",
        "container=ev",
        "--format",
        "{{.Status}} {{.Name}} {{.Type}}",
    ]);
    assert_eq!(
        statuses,
        // podman's sequence for an attached run: `cleanup` once its mounts are released.
        "create ev container\ninit ev container\nstart ev container\nattach ev container\n\
         died ev container\ncleanup ev container\n"
    );
    // Default lines are podman's; filters of one key are alternatives, of two keys both.
    let lines = rpod.ok(&[
        "events",
        "--since",
        "10m",
        "--stream=false",
        "--filter",
        "event=start",
        "--filter",
        "event=tag",
    ]);
    let lines: Vec<&str> = lines.lines().collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].contains(" UTC container start "), "{}", lines[0]);
    assert!(
        lines[0].ends_with("(image=localhost/demo:latest, name=ev)"),
        "{}",
        lines[0]
    );
    assert!(lines[1].ends_with(" localhost/other:1"), "{}", lines[1]);
    let json = rpod.ok(&[
        "events",
        "--stream=false",
        "--format",
        "json",
        "--filter",
        "type=image",
        "--filter",
        "event=tag",
    ]);
    let value: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
    assert_eq!(value["Status"], "tag");
    assert!(value["Time"].as_str().unwrap().ends_with('Z'), "{value}");
    // A `died` event's code is podman's `ContainerExitCode` field, not an attribute.
    rpod.fails(
        &[
            "run", "--name", "ev3", "--label", "k=v", "demo", "sh", "-c", "exit 3",
        ],
        3,
    );
    let died = |format: &str| {
        rpod.ok(&[
            "events",
            "--stream=false",
            "--filter",
            "container=ev3",
            "--filter",
            "event=died",
            "--format",
            format,
        ])
    };
    let value: serde_json::Value = serde_json::from_str(died("json").trim()).unwrap();
    assert_eq!(value["ContainerExitCode"], 3, "{value}");
    assert_eq!(
        value["Attributes"],
        serde_json::json!({"k": "v"}),
        "{value}"
    );
    assert_eq!(
        died("{{.ContainerExitCode}} {{.Attributes}}"),
        "3 map[k:v]\n"
    );
    // An exec's start and end (`exec_died`, with its code), attached or detached (its end
    // then recorded by its exit command).
    rpod.detached(&["--name", "ex", "demo", "sleep", "300"]);
    rpod.fails(&["exec", "ex", "sh", "-c", "exit 4"], 4);
    rpod.ok(&["exec", "-d", "ex", "sh", "-c", "exit 5"]);
    let exec_events = || {
        rpod.ok(&[
            "events",
            "--stream=false",
            "--filter",
            "container=ex",
            "--filter",
            "event=exec",
            "--filter",
            "event=exec_died",
            "--format",
            "{{.Status}} {{.ContainerExitCode}}",
        ])
    };
    wait_until("the detached exec's end is recorded", || {
        exec_events().lines().count() == 4
    });
    assert_eq!(exec_events(), "exec 0\nexec_died 4\nexec 0\nexec_died 5\n");
    rpod.ok(&["rm", "-f", "-t", "0", "ex"]);
    // Container labels are in the events' attributes, and filter them.
    rpod.ok(&[
        "run", "--rm", "--name", "labelled", "--label", "tier=web", "demo", "true",
    ]);
    assert_eq!(
        rpod.ok(&[
            "events",
            "--stream=false",
            "--filter",
            "label=tier=web",
            "--filter",
            "event=start",
            "--format",
            "{{.Name}}"
        ]),
        "labelled\n"
    );
    assert_eq!(
        rpod.ok(&[
            "events",
            "--stream=false",
            "--filter",
            "label=tier",
            "--filter",
            "event=start",
            "--format",
            "{{.Name}}"
        ]),
        "labelled\n"
    );
    assert_eq!(
        rpod.ok(&["events", "--stream=false", "--filter", "label=tier=db"]),
        ""
    );
    // The future has no events yet; bad filters and times are refused.
    assert_eq!(
        rpod.ok(&["events", "--since", "2999-01-01", "--stream=false"]),
        ""
    );
    rpod.fails(&["events", "--filter", "colour=red"], 125);
    rpod.fails(&["events", "--since", "yesterday"], 125);

    // A follower sees events as they happen, until --until.
    let until = (chrono::Utc::now() + chrono::Duration::seconds(4)).to_rfc3339();
    let follower = rpod
        .command(&[
            "events",
            "--since",
            "1s",
            "--until",
            &until,
            "--filter",
            "event=remove",
            "--filter",
            "container=ev",
            "--format",
            "{{.Name}}",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    rpod.ok(&["rm", "ev"]);
    let out = follower.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ev\n");

    // Volumes and networks have theirs, podman's (a volume by its name, never shortened).
    rpod.ok(&["volume", "create", "a-volume-with-a-long-name"]);
    rpod.ok(&["run", "--rm", "-v", "anon:/data", "demo", "true"]);
    rpod.ok(&["volume", "rm", "a-volume-with-a-long-name", "anon"]);
    let volumes = rpod.ok(&[
        "events",
        "--stream=false",
        "--filter",
        "type=volume",
        "--format",
        "{{.Status}} {{.ID}}",
    ]);
    assert_eq!(
        volumes,
        "create a-volume-with-a-long-name\ncreate anon\nremove a-volume-with-a-long-name\nremove anon\n"
    );
    let one = rpod.ok(&[
        "events",
        "--stream=false",
        "--filter",
        "volume=anon",
        "--format",
        "{{.Status}}",
    ]);
    assert_eq!(one, "create\nremove\n");
    rpod.ok(&["network", "create", "evnet"]);
    rpod.ok(&[
        "create",
        "--name",
        "joiner",
        "--network",
        "none",
        "demo",
        "true",
    ]);
    rpod.ok(&[
        "create",
        "--name",
        "bridged",
        "--network",
        "evnet",
        "demo",
        "true",
    ]);
    rpod.ok(&["network", "disconnect", "evnet", "bridged"]);
    rpod.ok(&["network", "connect", "evnet", "bridged"]);
    rpod.ok(&["rm", "bridged", "joiner"]);
    rpod.ok(&["network", "rm", "evnet"]);
    let networks = rpod.ok(&[
        "events",
        "--stream=false",
        "--filter",
        "network=evnet",
        "--format",
        "{{.Status}} {{.Name}}",
    ]);
    assert_eq!(
        networks,
        "create evnet\ndisconnect evnet\nconnect evnet\nremove evnet\n"
    );
    let line = rpod.ok(&["events", "--stream=false", "--filter", "event=connect"]);
    assert!(line.contains(" network connect "), "{line}");
    assert!(
        line.contains("name=evnet") && line.contains("container="),
        "{line}"
    );
}

#[test]
fn diff_commit_and_export() {
    let rpod = Rpod::with_image("runc");
    rpod.ok(&[
        "run",
        "--name",
        "changed",
        "demo",
        "sh",
        "-c",
        "echo hi > /hello; rm /bin/ls; mkdir /data; ln -s /etc/shadow /data/secret",
    ]);
    assert_eq!(
        rpod.ok(&["diff", "changed"]),
        // /etc holds rpod's mount points (/etc/hosts, ...) and the /etc/mtab link it makes:
        // changed, as podman shows it, without them.
        "C /bin\nD /bin/ls\nA /data\nA /data/secret\nC /etc\nA /hello\n"
    );
    // The imported image's config has no Env, Cmd or ports: a template reads them as a Go
    // template reads podman's struct, empty.
    assert_eq!(
        rpod.inspect(
            "demo",
            "{{.Config.Env}} {{.Config.Cmd}} {{.Config.ExposedPorts}} {{.Config.ArgsEscaped}}"
        ),
        "[] [] map[] false"
    );
    // The image has no /etc/mtab: every start links it to /proc/mounts, as podman's.
    assert_eq!(
        rpod.ok(&["run", "--rm", "demo", "readlink", "/etc/mtab"]),
        "/proc/mounts\n"
    );
    let text = rpod.ok(&["container", "diff", "--format", "json", "changed"]);
    // podman's report: its keys in its order, five spaces of indentation.
    assert!(
        text.starts_with("{\n     \"changed\": [\n          \"/bin\","),
        "{text}"
    );
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["deleted"], serde_json::json!(["/bin/ls"]));
    assert_eq!(json["changed"], serde_json::json!(["/bin", "/etc"]));

    // commit: the changes are a layer on top of the image; the config is the container's
    // with --change applied.
    let dir = tempfile::tempdir().unwrap();
    let iidfile = dir.path().join("iid");
    let id = rpod.ok(&[
        "commit",
        "-m",
        "saved",
        "-a",
        "Ann <ann@example.com>",
        "-c",
        "CMD [\"cat\", \"/hello\"]",
        "--change",
        "ENV STAGE=two",
        "--iidfile",
        &iidfile.display().to_string(),
        "changed",
        "snap:1",
    ]);
    let id = id.trim();
    assert_eq!(id.len(), 64, "{id}");
    assert_eq!(
        std::fs::read_to_string(&iidfile).unwrap(),
        format!("sha256:{id}")
    );
    assert_eq!(rpod.ok(&["run", "--rm", "snap:1"]), "hi\n");
    rpod.fails(&["run", "--rm", "snap:1", "ls", "/"], 127);
    assert_eq!(
        rpod.ok(&[
            "run",
            "--rm",
            "snap:1",
            "sh",
            "-c",
            "echo $STAGE; readlink /data/secret"
        ]),
        "two\n/etc/shadow\n"
    );
    // The link stays a link: the host's file is never read into the image (the image has
    // no /etc/shadow).
    let err = rpod.fails(&["run", "--rm", "snap:1", "cat", "/data/secret"], 1);
    assert!(err.contains("No such file"), "{err}");
    assert_eq!(
        rpod.ok(&[
            "image",
            "inspect",
            "--format",
            "{{.Author}}|{{.Comment}}|{{len .RootFS.Layers}}",
            "snap:1"
        ]),
        "Ann <ann@example.com>|saved|2\n"
    );
    // The image keeps the container's environment, defaults included, as podman's
    // commit; not what describes that one container.
    let env = rpod.ok(&[
        "image",
        "inspect",
        "--format",
        "{{json .Config.Env}}",
        "snap:1",
    ]);
    let env: Vec<String> = serde_json::from_str(&env).unwrap();
    for entry in ["TERM=xterm", "container=podman", "STAGE=two"] {
        assert!(env.iter().any(|e| e == entry), "{entry} in {env:?}");
    }
    assert!(env.iter().any(|e| e.starts_with("PATH=")), "{env:?}");
    assert!(
        !env.iter()
            .any(|e| e.starts_with("HOSTNAME=") || e.starts_with("HOME=")),
        "{env:?}"
    );

    // A running container, paused while its changes are read; it runs on afterwards.
    rpod.detached(&[
        "--name",
        "busy",
        "demo",
        "sh",
        "-c",
        "echo live > /state; exec sleep 300",
    ]);
    wait_until("the file is written", || {
        rpod.run(&["exec", "busy", "test", "-f", "/state"])
            .status
            .success()
    });
    rpod.ok(&["commit", "--pause", "busy", "live"]);
    assert_eq!(rpod.inspect("busy", "{{.State.Status}}"), "running");
    assert_eq!(
        rpod.ok(&["run", "--rm", "--entrypoint", "cat", "live", "/state"]),
        "live\n"
    );

    // export: the whole root, of a stopped container (mounted for the time of it) and of
    // a running one.
    let out = rpod.command(&["export", "changed"]).output().unwrap();
    assert!(out.status.success());
    let mut archive = tar::Archive::new(out.stdout.as_slice());
    let mut names = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().display().to_string();
        if path == "hello" {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut entry, &mut text).unwrap();
            assert_eq!(text, "hi\n");
        }
        names.push(path);
    }
    assert!(names.contains(&"bin/sh".to_string()), "{names:?}");
    assert!(!names.contains(&"bin/ls".to_string()));
    assert_eq!(rpod.inspect("changed", "{{.State.Status}}"), "exited");
    let file = dir.path().join("busy.tar");
    rpod.ok(&[
        "container",
        "export",
        "-o",
        &file.display().to_string(),
        "busy",
    ]);
    let data = std::fs::read(&file).unwrap();
    let names: Vec<String> = tar::Archive::new(data.as_slice())
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    assert!(names.contains(&"state".to_string()), "{names:?}");

    // Errors: unknown containers, and nothing is written for them.
    rpod.fails(&["diff", "ghost"], 125);
    rpod.fails(&["commit", "ghost", "x"], 125);
    let missing = dir.path().join("ghost.tar");
    rpod.fails(
        &["export", "-o", &missing.display().to_string(), "ghost"],
        125,
    );
    assert!(!missing.exists());
    rpod.fails(&["commit", "changed", "Bad Name"], 125);
}

#[test]
fn cp_between_the_host_and_containers() {
    let rpod = Rpod::with_image("runc");
    let dir = tempfile::tempdir().unwrap();
    let host = |name: &str| dir.path().join(name).display().to_string();
    // Outside the container's root: a container's symlink pointing here must never lead
    // rpod here.
    let outside = dir.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    let escape = format!("/../../../../../..{}", outside.display());
    rpod.detached(&[
        "--name",
        "box",
        "-u",
        "1234:1234",
        "demo",
        "sh",
        "-c",
        &format!(
            "mkdir -p /tmp/d/sub && echo data > /tmp/d/f && echo deep > /tmp/d/sub/g && ln -s /etc /tmp/d/etc && ln -s {escape} /tmp/evil && ln -s /etc/passwd /tmp/d/pw; touch /tmp/ready; exec sleep 300"
        ),
    ]);
    wait_until("the files are made", || {
        rpod.run(&["exec", "box", "test", "-f", "/tmp/ready"])
            .status
            .success()
    });

    // Container to host: a directory into an existing directory, a file to a new name.
    rpod.ok(&["cp", "box:/tmp/d", &host("")]);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("d/f")).unwrap(),
        "data\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("d/sub/g")).unwrap(),
        "deep\n"
    );
    // Links are copied as links, never followed to the host's files.
    assert_eq!(
        std::fs::read_link(dir.path().join("d/pw")).unwrap(),
        std::path::Path::new("/etc/passwd")
    );
    rpod.ok(&["cp", "box:/tmp/d/f", &host("copy")]);
    // The host's own links are followed: they are the user's paths.
    std::fs::create_dir(dir.path().join("real")).unwrap();
    std::os::unix::fs::symlink(dir.path().join("real"), dir.path().join("linked")).unwrap();
    rpod.ok(&["cp", "box:/tmp/d/f", &host("linked")]);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("real/f")).unwrap(),
        "data\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("copy")).unwrap(),
        "data\n"
    );
    // A link in the container's path is followed inside its root: /tmp/evil leads to the
    // container's own (missing) directory, not the host's.
    std::fs::write(outside.join("host-secret"), "secret").unwrap();
    let err = rpod.fails(&["cp", "box:/tmp/evil/host-secret", &host("stolen")], 125);
    assert!(err.contains("could not be found"), "{err}");
    assert!(!dir.path().join("stolen").exists());

    // Host to container: a file, a directory's contents (DIR/.), into a linked directory.
    std::fs::create_dir_all(dir.path().join("src/inner")).unwrap();
    std::fs::write(dir.path().join("src/one"), "1\n").unwrap();
    std::fs::write(dir.path().join("src/inner/two"), "2\n").unwrap();
    rpod.ok(&["cp", &host("src/one"), "box:/tmp/one"]);
    rpod.ok(&["cp", &format!("{}/.", host("src")), "box:/tmp/new"]);
    assert_eq!(
        rpod.ok(&[
            "exec",
            "box",
            "sh",
            "-c",
            "cat /tmp/one /tmp/new/one /tmp/new/inner/two"
        ]),
        "1\n1\n2\n"
    );
    // --archive (the default) gives the files to the container's user.
    assert_eq!(
        rpod.ok(&[
            "exec",
            "box",
            "stat",
            "-c",
            "%u:%g",
            "/tmp/one",
            "/tmp/new/inner/two"
        ]),
        "1234:1234\n1234:1234\n"
    );
    rpod.ok(&["cp", "--archive=false", &host("src/one"), "box:/tmp/kept"]);
    assert_eq!(
        rpod.ok(&["exec", "box", "stat", "-c", "%u", "/tmp/kept"]),
        "0\n"
    );
    // Writing through the container's escaping link lands inside the container.
    rpod.ok(&["exec", "box", "mkdir", "-p", &outside.display().to_string()]);
    rpod.ok(&["cp", &host("src/one"), "box:/tmp/evil/planted"]);
    assert!(!outside.join("planted").exists());
    assert_eq!(
        rpod.ok(&[
            "exec",
            "box",
            "cat",
            &format!("{}/planted", outside.display())
        ]),
        "1\n"
    );
    // A link at the destination name is replaced, not written through.
    rpod.ok(&["cp", &host("src/one"), "box:/tmp/d/pw"]);
    assert_eq!(rpod.ok(&["exec", "box", "cat", "/tmp/d/pw"]), "1\n");
    assert!(std::fs::read_to_string("/etc/passwd")
        .unwrap()
        .contains("root:"));

    // Tar streams both ways.
    let out = rpod
        .command(&["cp", "box:/tmp/d/sub", "-"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let names: Vec<String> = tar::Archive::new(out.stdout.as_slice())
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    assert_eq!(names, ["sub/", "sub/g"]);
    let mut tarball = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(6);
    header.set_mode(0o644);
    header.set_cksum();
    tarball
        .append_data(&mut header, "streamed", "piped\n".as_bytes())
        .unwrap();
    let tarball = tarball.into_inner().unwrap();
    let piped = pipe_through(&mut rpod.command(&["cp", "-", "box:/tmp"]), &tarball);
    assert!(piped.status.success(), "{piped:?}");
    assert_eq!(rpod.ok(&["exec", "box", "cat", "/tmp/streamed"]), "piped\n");
    // An empty input is no archive: refused, as podman refuses it (it passed unsaid).
    let piped = pipe_through(
        rpod.command(&["cp", "-", "box:/tmp"])
            .stderr(std::process::Stdio::piped()),
        b"",
    );
    assert_eq!(piped.status.code(), Some(125), "{piped:?}");
    let err = String::from_utf8_lossy(&piped.stderr);
    assert!(
        err.contains("tar archive") && err.contains("empty"),
        "{err}"
    );
    // A fifo in the tar is one in the container, with its mode (it was an empty file); an
    // entry climbing out of the destination is refused by name (it was skipped unsaid).
    let mut special = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Fifo);
    header.set_size(0);
    header.set_mode(0o662);
    special
        .append_data(&mut header, "pipe", std::io::empty())
        .unwrap();
    let special = special.into_inner().unwrap();
    let piped = pipe_through(&mut rpod.command(&["cp", "-", "box:/tmp"]), &special);
    assert!(piped.status.success(), "{piped:?}");
    assert_eq!(
        rpod.ok(&["exec", "box", "stat", "-c", "%F %a", "/tmp/pipe"]),
        "fifo 662\n"
    );
    let mut climbing = tar::Header::new_old();
    climbing.set_size(2);
    climbing.set_mode(0o644);
    climbing.as_old_mut().name[..11].copy_from_slice(b"../../climb");
    climbing.set_cksum();
    let mut tarball = tar::Builder::new(Vec::new());
    tarball.append(&climbing, &b"x\n"[..]).unwrap();
    let piped = pipe_through(
        rpod.command(&["cp", "-", "box:/tmp"])
            .stderr(std::process::Stdio::piped()),
        &tarball.into_inner().unwrap(),
    );
    assert_eq!(piped.status.code(), Some(125), "{piped:?}");
    let err = String::from_utf8_lossy(&piped.stderr);
    assert!(
        err.contains(r#""../../climb" is outside of the destination"#),
        "{err}"
    );
    rpod.fails(&["exec", "box", "ls", "/climb", "/tmp/climb"], 1);
    // A tar without entries for the directories it implies leaves the existing ones (and
    // what they hold) as they are: /tmp stays 1777, a directory keeps its owner; new ones
    // are 0755 and, as all that is copied, the container user's (podman's --archive).
    rpod.ok(&[
        "exec",
        "--user",
        "0",
        "box",
        "sh",
        "-c",
        "mkdir -p /srv/owned /usr/lib2 && chown 1234:5678 /srv/owned && chmod 750 /srv/owned \
         && touch /tmp/roots && ln -s usr/lib2 /lib2 && ln -s /srv/owned /srv/linked",
    ]);
    let mut implied = tar::Builder::new(Vec::new());
    for name in [
        "tmp/implied",
        "srv/owned/file",
        "fresh/dir/file",
        // Through links to directories (a merged-usr `/lib`): written where they lead.
        "lib2/sub/file",
        "srv/linked/through",
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(2);
        header.set_mode(0o644);
        implied
            .append_data(&mut header, name, "x\n".as_bytes())
            .unwrap();
    }
    let implied = implied.into_inner().unwrap();
    let piped = pipe_through(&mut rpod.command(&["cp", "-", "box:/"]), &implied);
    assert!(piped.status.success(), "{piped:?}");
    assert_eq!(
        rpod.ok(&[
            "exec",
            "--user",
            "0",
            "box",
            "stat",
            "-c",
            "%a %u:%g %n",
            "/tmp",
            "/tmp/roots",
            "/tmp/implied",
            "/srv/owned",
            "/fresh",
            "/fresh/dir",
        ]),
        "1777 0:0 /tmp\n644 0:0 /tmp/roots\n644 1234:1234 /tmp/implied\n750 1234:5678 /srv/owned\n\
         755 1234:1234 /fresh\n755 1234:1234 /fresh/dir\n"
    );
    assert_eq!(
        rpod.ok(&[
            "exec",
            "--user",
            "0",
            "box",
            "stat",
            "-c",
            "%F %a %n",
            "/lib2",
            "/usr/lib2/sub",
            "/usr/lib2/sub/file",
            "/srv/linked",
            "/srv/owned/through",
        ]),
        "symbolic link 777 /lib2\ndirectory 755 /usr/lib2/sub\nregular file 644 /usr/lib2/sub/file\n\
         symbolic link 777 /srv/linked\nregular file 644 /srv/owned/through\n"
    );

    // A stopped container: its root is mounted for the time of the copy.
    rpod.ok(&["stop", "-t", "0", "box"]);
    rpod.ok(&["cp", &host("src/one"), "box:/tmp/after"]);
    rpod.ok(&["cp", "box:/tmp/after", &host("after")]);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("after")).unwrap(),
        "1\n"
    );

    // Mounts that are not on the host are refused, as are bad arguments.
    let err = rpod.fails(&["cp", "box:/dev/null", &host("null")], 125);
    assert!(err.contains("not supported"), "{err}");
    rpod.fails(&["cp", &host("src/one"), &host("two")], 125);
    assert_eq!(
        rpod.fails(&["cp", "ghost:/tmp", &host("x")], 125),
        "Error: container \"ghost\" does not exist\n"
    );
    rpod.fails(&["cp", &host("nonexistent"), "box:/tmp"], 125);
    rpod.fails(&["cp", &host("src/one"), "box:/no/such/dir/x"], 125);
}

/// Docker's rules for `cp`'s destination, which podman keeps: nothing is replaced by
/// another kind (a file by a directory, a directory by a file, at any depth), a name ending
/// in `/` is a directory that must exist, and a tar from stdin (plain or compressed) goes
/// into a directory. What was there is left whole.
#[test]
fn cp_never_replaces_a_file_with_a_directory_or_the_reverse() {
    let rpod = Rpod::with_image("runc");
    let dir = tempfile::tempdir().unwrap();
    let host = |name: &str| dir.path().join(name).display().to_string();
    rpod.detached(&[
        "--name",
        "box",
        "demo",
        "sh",
        "-c",
        "mkdir -p /tmp/d/sub && echo kept > /tmp/file && echo deep > /tmp/d/sub/g \
         && echo x > /tmp/d/x; touch /tmp/ready; exec sleep 300",
    ]);
    wait_until("the files are made", || {
        rpod.run(&["exec", "box", "test", "-f", "/tmp/ready"])
            .status
            .success()
    });
    std::fs::create_dir_all(dir.path().join("src/sub")).unwrap();
    std::fs::write(dir.path().join("src/sub/h"), "h\n").unwrap();
    std::fs::create_dir_all(dir.path().join("flat")).unwrap();
    std::fs::write(dir.path().join("flat/sub"), "a file\n").unwrap();
    std::fs::write(dir.path().join("one"), "1\n").unwrap();
    let untouched = |rpod: &Rpod| {
        assert_eq!(
            rpod.ok(&[
                "exec",
                "box",
                "sh",
                "-c",
                "cat /tmp/file /tmp/d/sub/g; ls /tmp"
            ]),
            "kept\ndeep\nd\nfile\nready\n"
        );
    };

    let refused = |args: &[&str], words: &str| {
        let err = rpod.fails(args, 125);
        assert!(err.contains(words), "{args:?}: {err}");
    };
    let contents = |name: &str| format!("{}/.", host(name));
    let slashed = |name: &str| format!("{}/", host(name));

    // Into the container.
    refused(
        &["cp", &host("src"), "box:/tmp/file"],
        "cannot copy a directory onto \"/tmp/file\"",
    );
    refused(
        &["cp", &contents("src"), "box:/tmp/file"],
        "cannot copy a directory onto",
    );
    refused(
        &["cp", &host("one"), "box:/tmp/file/"],
        "\"/tmp/file/\" on container box is not a directory",
    );
    refused(
        &["cp", &host("one"), "box:/tmp/new/"],
        "\"/tmp/new/\" could not be found on container box",
    );
    // A source missing on the host, or under a file, in podman's words.
    refused(
        &["cp", &host("none"), "box:/tmp/"],
        &format!(
            "\"{}\" could not be found on the host: no such file or directory",
            host("none")
        ),
    );
    refused(
        &["cp", &format!("{}/x", host("none")), "box:/tmp/"],
        "/none/x\" could not be found on the host: no such file or directory",
    );
    refused(
        &["cp", &format!("{}/x", host("one")), "box:/tmp/"],
        "/one/x: not a directory",
    );
    // At depth: flat/sub (a file) onto /tmp/d/sub (a directory), and src/sub (a
    // directory) onto /tmp/d/x (a file).
    refused(
        &["cp", &contents("flat"), "box:/tmp/d"],
        "cannot replace a directory with a non-directory",
    );
    std::fs::rename(dir.path().join("src/sub"), dir.path().join("src/x")).unwrap();
    refused(
        &["cp", &contents("src"), "box:/tmp/d"],
        "cannot replace a non-directory with a directory",
    );
    // A tar goes into a directory only; a compressed one is taken too; what is not a
    // tar is named as such.
    let mut tarball = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(6);
    header.set_mode(0o644);
    tarball
        .append_data(&mut header, "streamed", "piped\n".as_bytes())
        .unwrap();
    let tarball = tarball.into_inner().unwrap();
    for target in ["box:/tmp/file", "box:/tmp/new"] {
        let out = pipe_through(
            rpod.command(&["cp", "-", target])
                .stderr(std::process::Stdio::piped()),
            &tarball,
        );
        assert_eq!(out.status.code(), Some(125), "{out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("an archive is copied into a directory"),
            "{err}"
        );
    }
    let out = pipe_through(
        rpod.command(&["cp", "-", "box:/tmp"])
            .stderr(std::process::Stdio::piped()),
        b"not a tar\n",
    );
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("a tar, plain or compressed"), "{err}");
    untouched(&rpod);
    let mut gzipped = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gzipped, &tarball).unwrap();
    let gzipped = gzipped.finish().unwrap();
    let out = pipe_through(&mut rpod.command(&["cp", "-", "box:/tmp/d"]), &gzipped);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        rpod.ok(&["exec", "box", "cat", "/tmp/d/streamed"]),
        "piped\n"
    );

    // Onto the host.
    refused(
        &["cp", "box:/tmp/d", &host("one")],
        "cannot copy a directory onto",
    );
    refused(
        &["cp", "box:/tmp/file", &slashed("one")],
        "on the host is not a directory",
    );
    refused(
        &["cp", "box:/tmp/file", &slashed("none")],
        "could not be found on the host",
    );
    assert!(!dir.path().join("none").exists());
    // At depth: the container's d/sub (a directory) onto the host's flat/sub (a file).
    std::fs::create_dir(dir.path().join("flat/d")).unwrap();
    std::fs::write(dir.path().join("flat/d/sub"), "a file\n").unwrap();
    refused(
        &["cp", "box:/tmp/d", &host("flat")],
        "cannot replace a non-directory with a directory",
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("one")).unwrap(),
        "1\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("flat/d/sub")).unwrap(),
        "a file\n"
    );
    // `..` in the container's path is taken lexically, never above its `/` (as Docker's
    // and podman's copies take it; it was refused).
    let out = rpod
        .command(&["cp", "box:../../tmp/d/../file", "-"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let names: Vec<String> = tar::Archive::new(out.stdout.as_slice())
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    assert_eq!(names, ["file"]);
    rpod.ok(&["cp", &host("one"), "box:/tmp/../../tmp/d/sub/.."]);
    assert_eq!(rpod.ok(&["exec", "box", "cat", "/tmp/d/one"]), "1\n");
    // A file onto a file is a copy, as always.
    rpod.ok(&["cp", "box:/tmp/file", &host("one")]);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("one")).unwrap(),
        "kept\n"
    );
    // `--overwrite` lets one kind replace another, both ways, at the top and below.
    rpod.ok(&["cp", "--overwrite", &host("src"), "box:/tmp/file"]);
    rpod.ok(&["cp", "--overwrite", &contents("flat"), "box:/tmp/d"]);
    assert_eq!(
        rpod.ok(&[
            "exec",
            "box",
            "sh",
            "-c",
            "cat /tmp/file/x/h /tmp/d/sub; test -f /tmp/d/sub && echo file"
        ]),
        "h\na file\nfile\n"
    );
    rpod.ok(&["cp", "--overwrite", "box:/tmp/file", &host("one")]);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("one/x/h")).unwrap(),
        "h\n"
    );
    // `DIR/.` onto a file: with `--overwrite`, a directory of that name with what DIR
    // holds, both ways (without it, refused above).
    rpod.ok(&["cp", "--overwrite", &contents("src"), "box:/tmp/d/sub"]);
    assert_eq!(rpod.ok(&["exec", "box", "cat", "/tmp/d/sub/x/h"]), "h\n");
    rpod.ok(&["cp", "--overwrite", "box:/tmp/d/sub/.", &host("flat/d/sub")]);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("flat/d/sub/x/h")).unwrap(),
        "h\n"
    );
}

#[test]
fn cp_reaches_volumes_bind_mounts_and_rpods_own_files() {
    let rpod = Rpod::with_image("runc");
    let dir = tempfile::tempdir().unwrap();
    let host = |name: &str| dir.path().join(name).display().to_string();
    let bound = dir.path().join("bound");
    let read_only = dir.path().join("read-only");
    let outside = dir.path().join("outside");
    for d in [&bound, &read_only, &outside] {
        std::fs::create_dir(d).unwrap();
    }
    std::fs::write(bound.join("b"), "bound\n").unwrap();
    std::fs::write(outside.join("host-secret"), "secret").unwrap();
    // A link in the volume that would lead to the host's `outside` if rpod followed it
    // there: inside the container it is the container's own (missing) directory.
    let escape = format!("/../../../../../..{}", outside.display());
    rpod.detached(&[
        "--name",
        "box",
        "-v",
        "cpvol:/data",
        "-v",
        &format!("{}:/bm", bound.display()),
        "-v",
        &format!("{}:/ro:ro", read_only.display()),
        "-v",
        "/dev/null:/devnull",
        "demo",
        "sh",
        "-c",
        &format!(
            "echo vol > /data/vf && ln -s /data /tmp/to-data && ln -s {escape} /data/esc && touch /tmp/ready; exec sleep 300"
        ),
    ]);
    wait_until("the files are made", || {
        rpod.run(&["exec", "box", "test", "-f", "/tmp/ready"])
            .status
            .success()
    });
    let volume = std::path::PathBuf::from(
        rpod.ok(&["volume", "inspect", "-f", "{{.Mountpoint}}", "cpvol"])
            .trim(),
    );

    // Out of the container: a file on a volume, through a link to it, the volume itself
    // (under the container's name for it), a bind mount's file, rpod's own /etc/hosts.
    rpod.ok(&["cp", "box:/data/vf", &host("vf")]);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("vf")).unwrap(),
        "vol\n"
    );
    rpod.ok(&["cp", "box:/tmp/to-data/vf", &host("via-link")]);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("via-link")).unwrap(),
        "vol\n"
    );
    std::fs::create_dir(dir.path().join("out")).unwrap();
    rpod.ok(&["cp", "box:/data", &host("out")]);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("out/data/vf")).unwrap(),
        "vol\n"
    );
    rpod.ok(&["cp", "box:/bm/b", &host("b")]);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("b")).unwrap(),
        "bound\n"
    );
    rpod.ok(&["cp", "box:/etc/hosts", &host("hosts")]);
    assert!(std::fs::read_to_string(dir.path().join("hosts"))
        .unwrap()
        .contains("box"));
    // A directory with mounts below it: what the mounts show, not the mount points.
    rpod.ok(&["cp", "box:/etc", &host("etc")]);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("etc/hosts")).unwrap(),
        std::fs::read_to_string(dir.path().join("hosts")).unwrap()
    );
    let out = rpod.command(&["cp", "box:/", "-"]).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let entries: Vec<(String, tar::EntryType)> = tar::Archive::new(out.stdout.as_slice())
        .entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let name = e.path().unwrap().display().to_string();
            (name, e.header().entry_type())
        })
        .collect();
    let names: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
    assert!(names.contains(&"data/vf"), "{names:?}");
    assert!(names.contains(&"bm/b"), "{names:?}");
    // The device bound in is in the archive as what the container sees: a device node.
    assert!(
        entries.contains(&("devnull".to_string(), tar::EntryType::Char)),
        "{names:?}"
    );
    // Onto the host, a device node is never made (a host user could reach the device):
    // refused named alone, left out of a directory.
    let err = rpod.fails(&["cp", "box:/devnull", &host("devnull")], 125);
    assert!(err.contains("device node /devnull"), "{err}");
    assert!(!dir.path().join("devnull").exists());
    rpod.ok(&["cp", "box:/", &host("whole")]);
    assert!(dir.path().join("whole/data/vf").exists());
    assert!(std::fs::symlink_metadata(dir.path().join("whole/devnull")).is_err());

    // Into the container: onto the volume (seen by the container and in the volume's
    // directory), onto the bind mount, and over rpod's /etc/hosts in place (a running
    // container keeps seeing the mounted file).
    std::fs::write(dir.path().join("new"), "new\n").unwrap();
    rpod.ok(&["cp", &host("new"), "box:/data/"]);
    assert_eq!(rpod.ok(&["exec", "box", "cat", "/data/new"]), "new\n");
    assert_eq!(
        std::fs::read_to_string(volume.join("new")).unwrap(),
        "new\n"
    );
    rpod.ok(&["cp", &host("new"), "box:/bm/new"]);
    assert_eq!(std::fs::read_to_string(bound.join("new")).unwrap(), "new\n");
    std::fs::write(dir.path().join("my-hosts"), "10.1.2.3 elsewhere\n").unwrap();
    rpod.ok(&["cp", &host("my-hosts"), "box:/etc/hosts"]);
    assert_eq!(
        rpod.ok(&["exec", "box", "cat", "/etc/hosts"]),
        "10.1.2.3 elsewhere\n"
    );
    // The volume's link is followed inside the container, never to the host.
    rpod.ok(&["exec", "box", "mkdir", "-p", &outside.display().to_string()]);
    rpod.ok(&["cp", &host("new"), "box:/data/esc/planted"]);
    assert!(!outside.join("planted").exists());
    assert_eq!(
        rpod.ok(&[
            "exec",
            "box",
            "cat",
            &format!("{}/planted", outside.display())
        ]),
        "new\n"
    );
    let err = rpod.fails(&["cp", "box:/data/esc/host-secret", &host("stolen")], 125);
    assert!(err.contains("could not be found"), "{err}");

    // Refused: a read-only mount, a mount that is not on the host, a directory whose part
    // a mount would hide, a directory over a mounted file.
    let err = rpod.fails(&["cp", &host("new"), "box:/ro/x"], 125);
    assert!(err.contains("read-only"), "{err}");
    assert_eq!(std::fs::read_dir(&read_only).unwrap().count(), 0);
    let err = rpod.fails(&["cp", &host("new"), "box:/dev/shm/x"], 125);
    assert!(err.contains("not supported"), "{err}");
    std::fs::create_dir_all(dir.path().join("tree/etc")).unwrap();
    std::fs::write(dir.path().join("tree/etc/hosts"), "hidden\n").unwrap();
    let err = rpod.fails(&["cp", &host("tree/etc"), "box:/"], 125);
    assert!(err.contains("/etc/hosts"), "{err}");
    assert_eq!(
        rpod.ok(&["exec", "box", "cat", "/etc/hosts"]),
        "10.1.2.3 elsewhere\n"
    );
    rpod.fails(&["cp", &host("tree"), "box:/etc/hosts"], 125);
    // A mount's top is never replaced by another kind of file: the volume's directory
    // on the host stays, and a device bound in is not written at all.
    std::fs::create_dir(dir.path().join("flat")).unwrap();
    std::fs::write(dir.path().join("flat/data"), "not a directory\n").unwrap();
    let err = rpod.fails(&["cp", &host("flat/data"), "box:/"], 125);
    assert!(err.contains("top of a mount"), "{err}");
    assert!(volume.join("vf").is_file());
    rpod.fails(&["cp", &host("new"), "box:/devnull"], 125);
    assert!(std::fs::metadata("/dev/null")
        .map(|m| std::os::unix::fs::FileTypeExt::is_char_device(&m.file_type()))
        .unwrap());

    // Between containers (and within one): as out to the host and back in, owners
    // given to the receiving container's user.
    rpod.ok(&[
        "create",
        "--name",
        "other",
        "-u",
        "4321:4321",
        "demo",
        "true",
    ]);
    rpod.ok(&["cp", "box:/data", "other:/tmp"]);
    rpod.ok(&["cp", "box:/etc/hosts", "other:/tmp/hosts-of-box"]);
    rpod.ok(&["cp", "box:/data/.", "box:/tmp/data-copy"]);
    assert_eq!(
        rpod.ok(&["exec", "box", "cat", "/tmp/data-copy/vf"]),
        "vol\n"
    );
    rpod.ok(&["cp", "other:/tmp/data/vf", &host("via-other")]);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("via-other")).unwrap(),
        "vol\n"
    );
    rpod.ok(&["cp", "other:/tmp/hosts-of-box", &host("hosts-of-box")]);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("hosts-of-box")).unwrap(),
        "10.1.2.3 elsewhere\n"
    );
    let out = rpod
        .command(&["cp", "other:/tmp/data", "-"])
        .output()
        .unwrap();
    let owners: Vec<(String, u64)> = tar::Archive::new(out.stdout.as_slice())
        .entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.path().unwrap().display().to_string(),
                e.header().uid().unwrap(),
            )
        })
        .collect();
    assert!(
        owners.iter().any(|(name, _)| name == "data/vf"),
        "{owners:?}"
    );
    assert!(owners.iter().all(|(_, uid)| *uid == 4321), "{owners:?}");
    let err = rpod.fails(&["cp", "box:/nowhere", "other:/tmp"], 125);
    assert!(err.contains("could not be found"), "{err}");
    rpod.fails(&["cp", "box:/data/vf", "ghost:/tmp"], 125);

    // A stopped container: its mounts are read from their sources all the same.
    rpod.ok(&["stop", "-t", "0", "box"]);
    rpod.ok(&["cp", "box:/data/new", &host("after-stop")]);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("after-stop")).unwrap(),
        "new\n"
    );
    rpod.ok(&["cp", &host("vf"), "box:/data/from-host"]);
    assert_eq!(
        std::fs::read_to_string(volume.join("from-host")).unwrap(),
        "vol\n"
    );
}

#[test]
fn inspect_sizes_and_the_latest_container() {
    let rpod = Rpod::with_image("runc");
    rpod.ok(&[
        "run",
        "--name",
        "writer",
        "demo",
        "sh",
        "-c",
        "printf 12345 > /written",
    ]);
    rpod.ok(&["create", "--name", "newest", "demo", "true"]);
    let sizes = rpod.ok(&[
        "inspect",
        "--size",
        "-f",
        "{{.SizeRw}} {{.SizeRootFs}}",
        "writer",
    ]);
    let sizes: Vec<u64> = sizes
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    assert!(sizes[0] >= 5 && sizes[1] > sizes[0], "{sizes:?}");
    // ps measures them with --size, or when its template shows them (as docker's ps).
    let listed = format!("{} (virtual ", rpod_engine::human::size_compact(sizes[0]));
    for args in [
        &["ps", "-a", "--size", "--format", "{{.Names}} {{.Size}}"][..],
        &["ps", "-a", "--format", "{{.Names}} {{.Size}}"][..],
    ] {
        let out = rpod.ok(args);
        assert!(out.contains(&format!("writer {listed}")), "{args:?}: {out}");
    }
    assert_eq!(
        rpod.ok(&[
            "ps",
            "-a",
            "--filter",
            "name=writer",
            "--format",
            "{{.SizeRw}}"
        ]),
        format!("{}\n", sizes[0])
    );
    // Without --size there are none, as in podman.
    assert!(!rpod.ok(&["inspect", "writer"]).contains("SizeRw"));
    assert_eq!(rpod.ok(&["inspect", "-l", "-f", "{{.Name}}"]), "newest\n");
    assert_eq!(
        rpod.ok(&[
            "container",
            "inspect",
            "--latest",
            "-s",
            "-f",
            "{{.SizeRw}}"
        ]),
        "0\n"
    );
    rpod.fails(&["inspect", "-l", "writer"], 125);
    rpod.fails(&["inspect"], 125);
}

#[test]
fn global_flags_and_repeated_flags_as_podman() {
    let rpod = Rpod::with_image("runc");
    // A flag given twice takes the last value, global flags too.
    assert_eq!(
        rpod.ok(&[
            "--log-level",
            "debug",
            "--log-level",
            "error",
            "run",
            "--rm",
            "--log-driver=none",
            "--log-driver=k8s-file",
            "--name",
            "first",
            "--name",
            "second",
            "demo",
            "hostname",
        ])
        .len(),
        13
    );
    rpod.ok(&["create", "--name", "a", "--name", "b", "demo", "true"]);
    assert_eq!(rpod.ok(&["ps", "-a", "--format", "{{.Names}}"]), "b\n");
    // --noout: nothing on standard output, the command still runs.
    assert_eq!(
        rpod.ok(&["--noout", "run", "--name", "quiet", "demo", "echo", "hi"]),
        ""
    );
    assert_eq!(rpod.ok(&["logs", "quiet"]), "hi\n");
    // --events-backend none: no events, for the command and the cleanup after the exit.
    rpod.ok(&[
        "--events-backend",
        "none",
        "run",
        "--name",
        "unseen",
        "demo",
        "true",
    ]);
    assert_eq!(
        rpod.ok(&["events", "--stream=false", "--filter", "container=unseen"]),
        ""
    );
    rpod.fails(&["--events-backend", "journald", "ps"], 125);
    // --runtime-flag reaches the runtime: an unknown one fails there, leaving nothing.
    let err = rpod.fails(
        &[
            "--runtime-flag",
            "no-such-flag",
            "run",
            "--rm",
            "demo",
            "true",
        ],
        125,
    );
    assert!(err.contains("no-such-flag"), "{err}");
    rpod.ok(&["--runtime-flag", "debug", "run", "--rm", "demo", "true"]);
    // Accepted where rpod does the same, refused where it cannot.
    rpod.ok(&["--cgroup-manager", "cgroupfs", "--storage-opt", "", "ps"]);
    let err = rpod.fails(&["--cgroup-manager", "systemd", "ps"], 125);
    assert!(err.contains("not supported"), "{err}");
    rpod.fails(&["--storage-opt", "overlay.mountopt=nodev", "ps"], 125);
    rpod.ok(&["--storage-driver", "overlay", "--ssh", "native", "ps"]);
    let err = rpod.fails(&["create", "--kernel-memory", "10m", "demo", "true"], 125);
    assert!(
        err.contains("--kernel-memory") && err.contains("not supported"),
        "{err}"
    );
    let err = rpod.fails(&["run", "--rm", "--gpus", "all", "demo", "true"], 125);
    assert!(
        err.contains("--gpus") && err.contains("not supported"),
        "{err}"
    );
    for flag in [["--storage-driver", "vfs"], ["--ssh", "golang"]] {
        let err = rpod.fails(&[flag[0], flag[1], "ps"], 125);
        assert!(
            err.contains("not supported") && err.contains(flag[1]),
            "{err}"
        );
    }
    // --syslog: without a system log the command goes on and says so, as podman's.
    let out = rpod.run(&["--syslog", "ps", "-q"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    if !std::path::Path::new("/dev/log").exists() {
        let err = stderr_of(&out);
        assert!(
            err.contains("--syslog: the system log at /dev/log cannot be reached"),
            "{err}"
        );
    }
    // ... and the container's exit command (which has no terminal to write to) gets it too:
    // the monitor's own command line carries the exit command's words.
    rpod.ok(&[
        "--syslog", "run", "-d", "--name", "logged", "demo", "sleep", "300",
    ]);
    let monitor = rpod.inspect("logged", "{{.State.ConmonPid}}");
    let words = std::fs::read(format!("/proc/{monitor}/cmdline")).unwrap();
    let words: Vec<&[u8]> = words.split(|b| *b == 0).collect();
    assert!(
        words
            .windows(2)
            .any(|pair| pair == [&b"--exit-command-arg"[..], &b"--syslog"[..]]),
        "{:?}",
        String::from_utf8_lossy(&words.join(&b' '))
    );
    rpod.ok(&["rm", "-f", "-t", "0", "logged"]);
    for flag in ["--namespace=x", "--network-cmd-path=/usr/bin/slirp4netns"] {
        let err = rpod.fails(&[flag, "ps"], 125);
        assert!(err.contains("not supported"), "{err}");
    }
    let tmp = tempfile::tempdir().unwrap();
    rpod.ok(&["--tmpdir", &tmp.path().display().to_string(), "ps"]);
    rpod.fails(&["--tmpdir", "/nonexistent/dir", "ps"], 125);
    // --help on every command, and unknown flags as podman words them.
    for command in [
        &["ps"][..],
        &["run"],
        &["exec"],
        &["cp"],
        &["container", "prune"],
        &["events"],
    ] {
        let mut args = command.to_vec();
        args.push("--help");
        assert!(rpod.ok(&args).contains("Usage:"), "{args:?}");
    }
    let err = rpod.fails(&["cp", "--nosuchflag", "a", "b"], 125);
    assert_eq!(
        err,
        "Error: unknown flag: --nosuchflag\nSee 'rpod cp --help'\n"
    );
    // As podman's: the help line names the command parsing stopped in (past the global
    // flags and their values), a bad letter is shown in its word.
    for (words, said) in [
        (
            &["--root", "/x", "image", "rm", "-fbad", "i"][..],
            "unknown shorthand flag: 'b' in -fbad\nSee 'rpod image rm --help'",
        ),
        (
            &["-x", "ps"],
            "unknown shorthand flag: 'x' in -x\nSee 'rpod --help'",
        ),
        (
            &["run", "-it", "-p", "80", "-v=/a:/a", "--bogus", "demo"],
            "unknown flag: --bogus\nSee 'rpod run --help'",
        ),
        (
            &["volume", "--bogus", "ls"],
            "unknown flag: --bogus\nSee 'rpod volume --help'",
        ),
    ] {
        let err = rpod.fails(words, 125);
        assert_eq!(err, format!("Error: {said}\n"), "{words:?}");
    }
    // A flag without its value, a value that does not parse, a word where none is taken.
    let err = rpod.fails(&["ps", "--sort"], 125);
    assert!(
        err.starts_with("Error: flag needs an argument: --sort\n"),
        "{err}"
    );
    let err = rpod.fails(&["logs", "--tail", "x", "c"], 125);
    assert!(
        err.starts_with("Error: invalid argument \"x\" for \"--tail\" flag: invalid digit"),
        "{err}"
    );
    let err = rpod.fails(&["--log-level", "loud", "ps"], 125);
    assert!(
        err.starts_with(
            "Error: invalid argument \"loud\" for \"--log-level\" flag: use one of trace, debug"
        ),
        "{err}"
    );
    let err = rpod.fails(&["events", "extra"], 125);
    assert_eq!(err, "Error: `rpod events` takes no arguments\n");
    let err = rpod.fails(&["images", "a", "b"], 125);
    assert_eq!(err, "Error: accepts at most 1 arg(s), received 2\n");
    // Too few words and unknown commands, in cobra's words as podman's.
    let err = rpod.fails(&["cp", "a"], 125);
    assert_eq!(err, "Error: accepts 2 arg(s), received 1\n");
    let err = rpod.fails(&["--root", "/x", "volume", "zzz"], 125);
    assert_eq!(
        err,
        "Error: unrecognized command `rpod volume zzz`\nTry 'rpod volume --help' for more information\n"
    );
}

#[test]
fn restart_policies_restart_after_exits_not_after_a_stop() {
    let rpod = Rpod::with_image("runc");
    let settled = |name: &str, count: &str| {
        wait_until(
            &format!("{name} restarted {count} times and exited"),
            || {
                rpod.inspect(name, "{{.RestartCount}} {{.State.Status}}")
                    == format!("{count} exited")
            },
        );
    };
    // on-failure:2: two restarts after failures, then it stays exited.
    rpod.ok(&[
        "run",
        "-d",
        "--name",
        "flaky",
        "--restart",
        "on-failure:2",
        "demo",
        "sh",
        "-c",
        "echo run; exit 3",
    ]);
    settled("flaky", "2");
    assert_eq!(
        rpod.inspect(
            "flaky",
            "{{.HostConfig.RestartPolicy.Name}} {{.HostConfig.RestartPolicy.MaximumRetryCount}} {{.State.ExitCode}}"
        ),
        "on-failure 2 3"
    );
    assert_eq!(rpod.ok(&["logs", "flaky"]), "run\nrun\nrun\n");
    // A start by the user gives it two more.
    rpod.ok(&["start", "flaky"]);
    settled("flaky", "4");
    // on-failure does not restart a success.
    rpod.ok(&[
        "run",
        "-d",
        "--name",
        "fine",
        "--restart",
        "on-failure",
        "demo",
        "true",
    ]);
    rpod.ok(&["wait", "fine"]);
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(rpod.inspect("fine", "{{.RestartCount}}"), "0");

    // always: after an exit and after a kill, but never after a stop.
    rpod.ok(&[
        "run",
        "-d",
        "--name",
        "keeper",
        "--restart",
        "always",
        "demo",
        "sh",
        "-c",
        "echo up; sleep 0.3",
    ]);
    wait_until("keeper restarted twice", || {
        rpod.inspect("keeper", "{{.RestartCount}}")
            .parse::<u32>()
            .unwrap()
            >= 2
    });
    rpod.ok(&["stop", "-t", "0", "keeper"]);
    let count = rpod.inspect("keeper", "{{.RestartCount}}");
    std::thread::sleep(std::time::Duration::from_secs(1));
    assert_eq!(
        rpod.inspect("keeper", "{{.RestartCount}} {{.State.Status}}"),
        format!("{count} exited")
    );

    // The boot-time way: start every container whose policy is always.
    assert_eq!(
        rpod.ok(&[
            "ps",
            "-a",
            "--filter",
            "restart-policy=always",
            "--format",
            "{{.Names}}"
        ]),
        "keeper\n"
    );
    assert_eq!(
        rpod.ok(&[
            "ps",
            "-a",
            "--filter",
            "restart-policy=no",
            "--format",
            "{{.Names}}"
        ]),
        ""
    );
    rpod.ok(&["start", "--all", "--filter", "restart-policy=always"]);
    assert_eq!(rpod.inspect("keeper", "{{.State.Status}}"), "running");
    rpod.ok(&["rm", "-f", "-t", "0", "keeper"]);

    // Refused: --rm with a policy, an unknown policy, a count for another policy.
    let err = rpod.fails(&["run", "--rm", "--restart", "always", "demo", "true"], 125);
    assert!(err.contains("conflicts"), "{err}");
    rpod.fails(&["create", "--restart", "sometimes", "demo", "true"], 125);
    rpod.fails(&["create", "--restart", "always:3", "demo", "true"], 125);
    assert_eq!(all_names(&rpod), "fine\nflaky\n");
}

#[test]
fn podman_output_shapes_and_exit_codes() {
    let rpod = Rpod::with_image("runc");
    // -q (a pull's quiet) changes nothing of what run prints.
    assert_eq!(
        rpod.ok(&["run", "--rm", "-q", "demo", "echo", "said"]),
        "said\n"
    );
    rpod.ok(&["tag", "demo", "other:2"]);
    // images IMAGE lists that image only; an unknown one lists nothing.
    let listed = rpod.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}", "other:2"]);
    assert_eq!(listed, "localhost/other:2\n");
    // A repository without a tag lists its every tag, as a reference= pattern.
    let repository = rpod.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}", "other"]);
    assert_eq!(repository, "localhost/other:2\n");
    let id = rpod.inspect("demo", "{{.Id}}");
    let by_id = rpod.ok(&["images", "--format", "{{.Tag}}", &id[..12]]);
    assert_eq!(by_id, "latest\n2\n");
    assert_eq!(rpod.ok(&["images", "--noheading", "nosuch"]), "");
    assert_eq!(
        rpod.ok(&[
            "images",
            "--filter",
            "reference=other",
            "--format",
            "{{.Tag}}"
        ]),
        "2\n"
    );
    rpod.fails(&["images", "--filter", "colour=red"], 125);
    // --format json: one object per image, sizes as numbers, RFC 3339 times in UTC, how
    // many containers it has.
    rpod.ok(&["create", "--name", "counted", "demo", "true"]);
    let json: serde_json::Value =
        serde_json::from_str(&rpod.ok(&["images", "--format", "json"])).unwrap();
    let image = &json[0];
    assert!(image["Size"].is_u64(), "{image}");
    assert_eq!(image["Containers"], 1, "{image}");
    // Templates take podman's values: `.Created` the age, `.CreatedAt` as Go prints a
    // time (to the second), the containers, and the fields podman's store has.
    let shown = rpod.ok(&[
        "images",
        "--format",
        "{{.Created}}|{{.CreatedAt}}|{{.Containers}}|{{.Dangling}}|{{.SharedSize}}|{{.ReadOnly}}",
        "other:2",
    ]);
    let fields: Vec<&str> = shown.trim().split('|').collect();
    assert!(fields[0].ends_with(" ago"), "{shown}");
    assert!(
        fields[1].ends_with(" +0000 UTC") && !fields[1].contains('.'),
        "{shown}"
    );
    assert_eq!(&fields[2..], ["1", "false", "0", "false"], "{shown}");
    rpod.ok(&["rm", "counted"]);
    assert!(
        image["CreatedAt"].as_str().unwrap().ends_with('Z'),
        "{image}"
    );
    assert_eq!(image["Names"].as_array().unwrap().len(), 2, "{image}");
    assert!(image.get("Labels").is_some());
    // image inspect has both .ID and .Id.
    let ids = rpod.ok(&["image", "inspect", "--format", "{{.ID}} {{.Id}}", "demo"]);
    let (short, long) = ids.trim().split_once(' ').unwrap();
    assert_eq!(short, long);
    // save by ID writes no names (by name: that name), as podman's.
    let id = rpod.inspect("demo", "{{.Id}}");
    for (what, names) in [(&id[..12], "[]"), ("other:2", "[\"localhost/other:2\"]")] {
        let out = rpod.command(&["save", what]).output().unwrap();
        let mut archive = tar::Archive::new(out.stdout.as_slice());
        let manifest = archive
            .entries()
            .unwrap()
            .map(|e| e.unwrap())
            .find(|e| e.path().unwrap().to_str() == Some("manifest.json"))
            .map(|mut e| {
                let mut text = String::new();
                std::io::Read::read_to_string(&mut e, &mut text).unwrap();
                text
            })
            .unwrap();
        let manifest: serde_json::Value = serde_json::from_str(&manifest).unwrap();
        let tags = manifest[0]["RepoTags"].clone();
        let tags = if tags.is_null() {
            serde_json::json!([])
        } else {
            tags
        };
        assert_eq!(tags.to_string(), names, "save {what}");
    }
    // A running container's status says how long ago it started, as podman 4's.
    rpod.detached(&["--name", "upnow", "demo", "sleep", "300"]);
    let status = rpod.ok(&["ps", "--format", "{{.Status}}", "--filter", "name=upnow"]);
    assert!(
        status.starts_with("Up ") && status.ends_with(" ago\n"),
        "{status}"
    );
    // Inspect templates show times as podman's (Go's time.Time); its JSON keeps RFC 3339.
    let started = rpod.inspect("upnow", "{{.State.StartedAt}}");
    assert!(
        started.ends_with(" +0000 UTC") && started.len() > 25,
        "{started}"
    );
    let json = rpod.ok(&["inspect", "upnow"]);
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(value[0]["State"]["StartedAt"]
        .as_str()
        .unwrap()
        .ends_with('Z'));
    // `ps` templates as podman's: times as Go prints them, the start in Unix seconds, the
    // image's ID short.
    let shown = rpod.ok(&[
        "ps",
        "--format",
        "{{.Created}}|{{.CreatedAt}}|{{.StartedAt}}|{{.ImageID}}",
        "--filter",
        "name=upnow",
    ]);
    let fields: Vec<&str> = shown.trim().split('|').collect();
    assert!(
        fields[0].ends_with(" +0000 UTC") && fields[0] == fields[1],
        "{shown}"
    );
    let started_unix: i64 = fields[2].parse().unwrap();
    let started_at =
        chrono::DateTime::parse_from_rfc3339(value[0]["State"]["StartedAt"].as_str().unwrap())
            .unwrap();
    assert_eq!(started_unix, started_at.timestamp());
    assert_eq!(fields[3].len(), 12, "{shown}");
    rpod.ok(&["pause", "upnow"]);
    let status = rpod.ok(&["ps", "--format", "{{.Status}}", "--filter", "name=upnow"]);
    assert!(status.ends_with(" ago (paused)\n"), "{status}");
    rpod.ok(&["rm", "-f", "-t", "0", "upnow"]);
    // --memory=0 means no limit.
    rpod.ok(&[
        "create",
        "--name",
        "unlimited",
        "--memory=0",
        "demo",
        "true",
    ]);
    assert_eq!(rpod.inspect("unlimited", "{{.HostConfig.Memory}}"), "0");
    // run -it without a terminal warns as podman does, and goes on.
    let out = rpod
        .command(&["run", "--rm", "-it", "demo", "echo", "hi"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("The input device is not a TTY"),
        "{out:?}"
    );
    // start of a container whose command does not exist: 125 (run says 127).
    rpod.ok(&["create", "--name", "broken", "demo", "/no/such/command"]);
    let err = rpod.fails(&["start", "broken"], 125);
    assert!(err.contains("/no/such/command"), "{err}");
    rpod.fails(&["run", "--rm", "demo", "/no/such/command"], 127);
}

#[test]
fn ps_filters_size_and_namespaces() {
    let rpod = Rpod::with_image("runc");
    rpod.ok(&["volume", "create", "data"]);
    rpod.ok(&["create", "--name", "first", "demo", "true"]);
    rpod.ok(&[
        "create",
        "--name",
        "second",
        "-v",
        "data:/data",
        "demo",
        "true",
    ]);
    rpod.ok(&[
        "run",
        "--name",
        "third",
        "--network",
        "none",
        "demo",
        "sh",
        "-c",
        "head -c 1000 /dev/zero > /blob; ln /blob /blob2; ln -s /aaaa/bbbb /link",
    ]);
    let names = |filter: &str| rpod.ok(&["ps", "-a", "--filter", filter, "--format", "{{.Names}}"]);
    // podman's rule: one value of a key passes, all values of `label`, every key.
    let filtered = |filters: &[&str]| {
        let mut args = vec!["ps", "-a", "--format", "{{.Names}}"];
        for filter in filters {
            args.extend(["--filter", filter]);
        }
        rpod.ok(&args)
    };
    assert_eq!(filtered(&["name=first", "name=second"]), "first\nsecond\n");
    assert_eq!(
        filtered(&["name=first", "name=second", "volume=data"]),
        "second\n"
    );
    assert_eq!(names("before=second"), "first\n");
    assert_eq!(names("since=first"), "second\nthird\n");
    assert_eq!(names("volume=data"), "second\n");
    assert_eq!(names("volume=/data"), "second\n");
    assert_eq!(names("network=none"), "");
    assert_eq!(names("before=nosuch"), "");
    // No container here has a health check: none of them is healthy.
    assert_eq!(names("health=healthy"), "");
    assert_eq!(names("health=none").lines().count(), 3);
    // --size: what the container wrote, and its image besides.
    let size = rpod.ok(&[
        "ps",
        "-a",
        "--size",
        "--filter",
        "name=third",
        "--format",
        "{{.SizeRw}} {{.Size}}",
    ]);
    // As podman counts: the file once for its two names, the link at its target's length,
    // and /etc/mtab, the link to /proc/mounts every container gets.
    assert!(size.starts_with("1022 1.02kB (virtual "), "{size}");
    // --ns: the namespaces of running containers, as inode numbers.
    let id = rpod.detached(&["--name", "live", "demo", "sleep", "300"]);
    let pid = rpod.inspect(&id, "{{.State.Pid}}");
    let net = std::fs::read_link(format!("/proc/{pid}/ns/net")).unwrap();
    let ns = rpod.ok(&["ps", "--ns", "--format", "{{.Names}} {{.Namespaces.NET}}"]);
    assert_eq!(
        ns,
        format!(
            "live {}\n",
            net.to_string_lossy()
                .trim_start_matches("net:[")
                .trim_end_matches(']')
        )
    );
    // Without --ns they are not read, and the fields are empty (podman's; not an error).
    let unread = rpod.ok(&["ps", "--format", "{{.Names}} {{.Namespaces.NET}}."]);
    assert_eq!(unread, "live .\n");
    let table = rpod.ok(&["ps", "--ns"]);
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "CONTAINER",
            "ID",
            "NAMES",
            "PID",
            "CGROUPNS",
            "IPC",
            "MNT",
            "NET",
            "PIDNS",
            "USERNS",
            "UTS"
        ]
    );
    // --external: rpod's store holds no other tool's containers.
    assert_eq!(rpod.ok(&["ps", "--external", "-q"]).lines().count(), 1);
}

#[test]
fn logs_of_several_containers_with_names() {
    let rpod = Rpod::with_image("runc");
    rpod.ok(&["run", "--name", "one", "demo", "echo", "first"]);
    rpod.ok(&["run", "--name", "two", "demo", "echo", "second"]);
    assert_eq!(
        rpod.ok(&["logs", "--names", "one", "two"]),
        "one first\ntwo second\n"
    );
    // One container's lines say nothing of whose they are, as podman's.
    assert_eq!(rpod.ok(&["logs", "-n", "two"]), "second\n");
    assert_eq!(rpod.ok(&["logs", "--names", "--color", "two"]), "second\n");
    assert_eq!(rpod.ok(&["logs", "--latest"]), "second\n");
    let coloured = rpod.ok(&["logs", "--names", "--color", "one", "two"]);
    assert_eq!(
        coloured,
        "\x1b[32mone\x1b[0m first\n\x1b[33mtwo\x1b[0m second\n"
    );
    let id = rpod.inspect("one", "{{.Id}}");
    let both = rpod.ok(&["logs", "one", "two"]);
    assert!(
        both.starts_with(&format!("{} first\n", &id[..12])),
        "{both}"
    );
    rpod.fails(&["logs"], 125);
    rpod.fails(&["logs", "-l", "one"], 125);
}

#[test]
fn image_history_untag_prune_tree_and_disk_usage() {
    let rpod = Rpod::with_image("runc");
    rpod.ok(&[
        "run",
        "--name",
        "maker",
        "demo",
        "sh",
        "-c",
        "head -c 5000 /dev/zero > /blob",
    ]);
    rpod.ok(&["commit", "-m", "with a blob", "maker", "blobbed"]);
    // before= and since= compare when the images were made.
    let listed =
        |filter: &str| rpod.ok(&["images", "--format", "{{.Repository}}", "--filter", filter]);
    assert_eq!(listed("before=blobbed"), "localhost/demo\n");
    assert_eq!(listed("since=demo"), "localhost/blobbed\n");
    assert_eq!(listed("since=blobbed"), "");
    rpod.fails(&["images", "--filter", "before=nosuchimage"], 125);
    // history: newest first, the image's ID on top, layer sizes, comments.
    let history = rpod.ok(&[
        "history",
        "--format",
        "{{.ID}}|{{.Size}}|{{.Comment}}",
        "-H=false",
        "blobbed",
    ]);
    let lines: Vec<&str> = history.lines().collect();
    assert_eq!(lines.len(), 2, "{history}");
    let id = rpod.inspect("blobbed", "{{.Id}}");
    let top: Vec<&str> = lines[0].split('|').collect();
    assert_eq!(top[0], &id[..12]);
    assert!(top[1].parse::<u64>().unwrap() > 5000, "{history}");
    assert_eq!(top[2], "with a blob");
    // --format json: podman's objects, the time in full and to the second.
    let json: serde_json::Value =
        serde_json::from_str(&rpod.ok(&["history", "--format", "json", "blobbed"])).unwrap();
    assert_eq!(json[0]["id"], id, "{json}");
    let (full, seconds) = (
        json[0]["created"].as_str().unwrap(),
        json[0]["Created"].as_str().unwrap(),
    );
    assert!(
        seconds.ends_with('Z') && full.starts_with(seconds.trim_end_matches('Z')),
        "{json}"
    );
    // The step below is where the image demo ends: its ID, as podman shows it.
    let demo = rpod.inspect("demo", "{{.Id}}");
    assert!(
        lines[1].starts_with(&format!("{}|", &demo[..12])),
        "{history}"
    );
    // The import's step names its layer by digest, as podman's, not the tarball's path.
    let layer = rpod.inspect("demo", "{{index .RootFS.Layers 0}}");
    assert_eq!(
        rpod.ok(&[
            "history",
            "--no-trunc",
            "--format",
            "{{.CreatedBy}}",
            "demo"
        ]),
        format!(
            "/bin/sh -c #(nop) ADD file:{} in /\n",
            layer.trim_start_matches("sha256:")
        )
    );
    assert_eq!(
        rpod.ok(&["image", "history", "-q", "--no-trunc", "blobbed"])
            .lines()
            .next(),
        Some(id.as_str())
    );
    let tree = rpod.ok(&["image", "tree", "blobbed"]);
    assert!(
        tree.contains("Image Layers") && tree.matches("── ID: ").count() == 2,
        "{tree}"
    );
    // podman's words: each layer that tops an image says which, and a blank line ends it.
    assert!(
        tree.ends_with("Top Layer of: [localhost/blobbed:latest]\n\n"),
        "{tree}"
    );
    assert!(
        tree.contains("Top Layer of: [localhost/demo:latest]\n"),
        "{tree}"
    );
    // What is built on demo: its own top layer, then blobbed's.
    let above = rpod.ok(&["image", "tree", "--whatrequires", "demo"]);
    let layers: Vec<&str> = above.lines().filter(|l| l.contains("── ID: ")).collect();
    assert_eq!(layers.len(), 2, "{above}");
    assert!(
        layers[0].starts_with("├── ") && layers[0].ends_with("[localhost/demo:latest]"),
        "{above}"
    );
    assert!(
        layers[1].starts_with("└── ") && layers[1].ends_with("[localhost/blobbed:latest]"),
        "{above}"
    );

    // system df counts what is there.
    let df = rpod.ok(&[
        "system",
        "df",
        "--format",
        "{{.Type}} {{.Total}} {{.Active}} {{.RawSize}}",
    ]);
    let lines: Vec<&str> = df.lines().collect();
    assert!(lines[0].starts_with("Images 2 1 "), "{df}");
    // The blob and /etc/mtab, the link to /proc/mounts (12 bytes), as podman counts.
    assert_eq!(lines[1], "Containers 1 0 5012", "{df}");
    assert_eq!(lines[2], "Local Volumes 0 0 0", "{df}");
    // Sizes as podman's (go-units, four digits, no space).
    let df = rpod.ok(&["system", "df", "--format", "{{.Size}}|{{.Reclaimable}}"]);
    assert_eq!(df.lines().nth(1), Some("5.012kB|5.012kB (100%)"), "{df}");
    // Verbose: podman's tables; an image's layers that the other has too are its shared
    // size (all of demo's, blobbed's lower one), the rest its unique size.
    let verbose = rpod.ok(&["system", "df", "-v"]);
    let row = |start: &str| -> Vec<&str> {
        let line = verbose.lines().find(|l| l.starts_with(start));
        line.unwrap_or_else(|| panic!("no {start} in {verbose}"))
            .split_whitespace()
            .rev()
            .take(4)
            .collect()
    };
    assert!(
        verbose.contains("REPOSITORY ")
            && verbose.contains("  SHARED SIZE  UNIQUE SIZE  CONTAINERS"),
        "{verbose}"
    );
    assert!(
        verbose.contains("CONTAINER ID  IMAGE ") && verbose.contains("  LOCAL VOLUMES  SIZE "),
        "{verbose}"
    );
    // Each row read from its end: containers, unique, shared, size.
    let demo = row("localhost/demo ");
    assert_eq!((demo[1], demo[2]), ("0B", demo[3]), "{verbose}");
    let blobbed = row("localhost/blobbed ");
    assert_eq!(blobbed[2], demo[3], "{verbose}");
    assert_ne!(blobbed[1], "0B", "{verbose}");
    // An initialized container is not an active one, as podman counts (running only).
    rpod.ok(&["create", "--name", "ready", "demo", "true"]);
    rpod.ok(&["init", "ready"]);
    let df = rpod.ok(&[
        "system",
        "df",
        "--format",
        "{{.Type}} {{.Total}} {{.Active}}",
    ]);
    assert_eq!(df.lines().nth(1), Some("Containers 2 0"), "{df}");
    rpod.ok(&["rm", "-f", "ready"]);

    // untag: one name, then all; the image stays, unnamed.
    rpod.ok(&["tag", "blobbed", "second:1"]);
    rpod.ok(&["untag", "blobbed", "second:1"]);
    assert_eq!(
        rpod.ok(&["images", "--format", "{{.Repository}}", &id[..12]]),
        "localhost/blobbed\n"
    );
    assert_eq!(
        rpod.fails(&["untag", "blobbed", "never:1"], 125),
        "Error: localhost/never:1: tag not known\n"
    );
    rpod.ok(&["image", "untag", "blobbed"]);
    assert_eq!(
        rpod.ok(&["images", "-q", "--filter", "dangling=true", "--no-trunc"]),
        format!("sha256:{id}\n")
    );

    // image prune: unnamed and unused images go; -a takes every unused one.
    assert_eq!(rpod.ok(&["image", "prune", "-f"]), format!("{id}\n"));
    rpod.ok(&["tag", "demo", "spare:1"]);
    rpod.ok(&["rm", "maker"]);
    rpod.ok(&["run", "--name", "user", "demo", "true"]);
    // demo (with spare:1) is used by a container: kept.
    assert_eq!(rpod.ok(&["image", "prune", "-a", "-f"]), "");
    rpod.fails(&["image", "prune", "--filter", "colour=red"], 125);

    // system prune: stopped containers, unused networks, unused images, and volumes when
    // asked.
    rpod.ok(&["volume", "create", "leftover"]);
    let pod = rpod.ok(&["pod", "create", "--name", "idle-pod"]);
    // A stopped pod (one still `Created` stays, as podman's).
    rpod.ok(&["pod", "start", "idle-pod"]);
    rpod.ok(&["pod", "stop", "-t", "0", "idle-pod"]);
    rpod.ok(&["rm", "user"]);
    rpod.ok(&[
        "run",
        "--name",
        "writer",
        "demo",
        "sh",
        "-c",
        "head -c 7000 /dev/zero > /blob",
    ]);
    let writer = rpod.inspect("writer", "{{.Id}}");
    // demo and the pod's pause image, with their sizes.
    let mut images: Vec<String> = rpod
        .ok(&["images", "-q", "--no-trunc"])
        .lines()
        .map(|id| id.trim_start_matches("sha256:").to_string())
        .collect();
    images.sort();
    let image_bytes: u64 = images
        .iter()
        .map(|id| rpod.inspect(id, "{{.Size}}").parse::<u64>().unwrap())
        .sum();
    let out = rpod.ok(&["system", "prune", "-f", "-a", "--volumes"]);
    // podman's order: containers, pods, volumes, images, networks, each heading only over
    // what went; then what the container wrote and the images took, in Go's HumanSize.
    let (before_images, rest) = out.split_once("Deleted Images\n").expect(&out);
    assert_eq!(
        before_images,
        format!("Deleted Containers\n{writer}\nDeleted Pods\n{pod}Deleted Volumes\nleftover\n")
    );
    let mut lines: Vec<&str> = rest.lines().collect();
    let total = lines.pop().unwrap();
    lines.sort();
    assert_eq!(lines, images, "{out}");
    // The blob, /etc/mtab's 12 bytes and the images.
    let reclaimed = rpod_engine::human::size_precise(7012 + image_bytes);
    assert_eq!(total, format!("Total reclaimed space: {reclaimed}"));
    assert_eq!(
        rpod.ok(&["system", "prune", "-f"]),
        "Total reclaimed space: 0B\n"
    );
    assert_eq!(rpod.ok(&["pod", "ps", "-q"]), "");
    assert_eq!(rpod.ok(&["ps", "-aq"]), "");
    assert_eq!(rpod.ok(&["images", "-q"]), "");
    assert_eq!(rpod.ok(&["volume", "ls", "-q"]), "");
}

#[test]
fn a_script_written_for_podman_runs_unchanged() {
    let rpod = Rpod::with_image("runc");
    // `podman` is rpod: a link of that name first in $PATH, the store given by rpod's
    // environment variables for its global flags.
    let bin = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_rpod"), bin.path().join("podman")).unwrap();
    let work = tempfile::tempdir().unwrap();
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/podman-script.sh");
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = std::process::Command::new("sh")
        .arg(&script)
        .current_dir(work.path())
        .env("PATH", path)
        .env("RPOD_ROOT", rpod.root())
        .env("RPOD_RUNROOT", rpod.runroot())
        .env("RPOD_RUNTIME", &rpod.runtime)
        .env("RPOD_CONFIG", rpod.config_path())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success() && out.stdout.ends_with(b"OK\n"),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn run_flags_for_the_monitor_the_spec_and_pid_files() {
    let rpod = Rpod::with_image("runc");
    let dir = tempfile::tempdir().unwrap();
    // --tz: the zone's file as /etc/localtime, and no TZ, as podman's (a zone name in TZ
    // sent busybox's date to a zoneinfo directory the image lacks: it showed "Europe").
    if std::path::Path::new("/usr/share/zoneinfo/Europe/Paris").is_file() {
        let out = rpod.ok(&[
            "run",
            "--rm",
            "--tz",
            "Europe/Paris",
            "demo",
            "sh",
            "-c",
            "echo TZ=$TZ; date +%Z; head -c 4 /etc/localtime",
        ]);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "TZ=", "{out}");
        assert!(matches!(lines[1], "CET" | "CEST"), "{out}");
        assert_eq!(lines[2], "TZif", "{out}");
        // inspect shows the zone as podman's Config.Timezone (not among the Mounts), and
        // the container read-only writes nothing into the host's zone file.
        let id = rpod.ok(&["create", "--tz", "Europe/Paris", "demo", "true"]);
        let shown: serde_json::Value =
            serde_json::from_str(&rpod.ok(&["inspect", id.trim()])).unwrap();
        assert_eq!(shown[0]["Config"]["Timezone"], "Europe/Paris");
        assert_eq!(shown[0]["Mounts"], serde_json::json!([]));
        rpod.ok(&["rm", id.trim()]);
        let out = rpod.run(&[
            "run",
            "--rm",
            "--tz",
            "Europe/Paris",
            "demo",
            "sh",
            "-c",
            "echo x >> /etc/localtime",
        ]);
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("Read-only file system"),
            "{out:?}"
        );
    }
    rpod.fails(
        &["run", "--rm", "--tz", "Nowhere/Atlantis", "demo", "true"],
        125,
    );
    rpod.fails(
        &["run", "--rm", "--tz", "../../etc/passwd", "demo", "true"],
        125,
    );
    // --annotation and --oom-score-adj reach the spec.
    rpod.ok(&[
        "run",
        "--name",
        "annotated",
        "--annotation",
        "org.example/team=db",
        "--oom-score-adj",
        "500",
        "demo",
        "cat",
        "/proc/self/oom_score_adj",
    ]);
    assert_eq!(rpod.ok(&["logs", "annotated"]), "500\n");
    assert_eq!(
        rpod.inspect(
            "annotated",
            "{{index .Config.Annotations \"org.example/team\"}} {{.HostConfig.OomScoreAdj}}"
        ),
        "db 500"
    );
    rpod.fails(&["create", "--oom-score-adj", "2000", "demo", "true"], 125);
    // --pidfile and --conmon-pidfile are written at each start.
    let (pidfile, conmonfile) = (dir.path().join("pid"), dir.path().join("conmon.pid"));
    rpod.ok(&[
        "run",
        "-d",
        "--name",
        "pids",
        "--pidfile",
        &pidfile.display().to_string(),
        "--conmon-pidfile",
        &conmonfile.display().to_string(),
        "demo",
        "sleep",
        "300",
    ]);
    assert_eq!(
        std::fs::read_to_string(&pidfile).unwrap(),
        rpod.inspect("pids", "{{.State.Pid}}")
    );
    assert_eq!(
        std::fs::read_to_string(&conmonfile).unwrap(),
        rpod.inspect("pids", "{{.State.ConmonPid}}")
    );
    rpod.ok(&["restart", "-t", "0", "pids"]);
    assert_eq!(
        std::fs::read_to_string(&pidfile).unwrap(),
        rpod.inspect("pids", "{{.State.Pid}}")
    );
    // --timeout: the monitor kills the container, and run exits 255 as podman's.
    rpod.fails(
        &["run", "--rm", "--timeout", "1", "demo", "sleep", "30"],
        255,
    );
    // --log-opt max-size: the monitor keeps the log at that size (the newest lines).
    rpod.ok(&[
        "run",
        "--name",
        "chatty",
        "--log-opt",
        "max-size=1k",
        "--log-opt",
        "tag=web",
        "demo",
        "seq",
        "1",
        "2000",
    ]);
    let log = rpod.ok(&["logs", "chatty"]);
    assert!(
        log.ends_with("2000\n") && !log.starts_with("1\n"),
        "{}",
        &log[..40.min(log.len())]
    );
    assert_eq!(
        rpod.inspect(
            "chatty",
            "{{.HostConfig.LogConfig.Tag}} {{.HostConfig.LogConfig.Size}}"
        ),
        "web 1kB"
    );
    // --log-opt path: the log where the user says; logs and inspect follow it.
    let custom = dir.path().join("custom.log");
    rpod.ok(&[
        "run",
        "--name",
        "elsewhere",
        "--log-opt",
        &format!("path={}", custom.display()),
        "demo",
        "echo",
        "written there",
    ]);
    assert!(std::fs::read_to_string(&custom)
        .unwrap()
        .ends_with("written there\n"));
    assert_eq!(rpod.ok(&["logs", "elsewhere"]), "written there\n");
    assert_eq!(
        rpod.inspect("elsewhere", "{{.HostConfig.LogConfig.Path}}"),
        custom.display().to_string()
    );
    rpod.fails(
        &["create", "--log-opt", "path=relative.log", "demo", "true"],
        125,
    );
    rpod.fails(
        &[
            "create",
            "--log-opt",
            "path=/nonexistent/dir/x.log",
            "demo",
            "true",
        ],
        125,
    );
    rpod.fails(&["create", "--log-opt", "colour=red", "demo", "true"], 125);
    // -a: only the streams named.
    let out = rpod
        .command(&[
            "run",
            "--rm",
            "-a",
            "stderr",
            "demo",
            "sh",
            "-c",
            "echo out; echo err >&2",
        ])
        .output()
        .unwrap();
    assert_eq!(
        (out.stdout.as_slice(), out.stderr.as_slice()),
        (&b""[..], &b"err\n"[..])
    );
    rpod.fails(&["run", "--rm", "-a", "stdweird", "demo", "true"], 125);
    // --systemd: an init command turns systemd mode on unless false; always, whatever the
    // command (run_settings.rs boots systemd in it).
    for (flags, command, on) in [
        (&[][..], "/sbin/init", "true SIGRTMIN+3"),
        (&["--systemd=false"], "/sbin/init", "false SIGTERM"),
        (&["--systemd", "always"], "true", "true SIGRTMIN+3"),
        (
            &["--systemd", "always", "--stop-signal", "USR1"],
            "true",
            "true SIGUSR1",
        ),
        (&[], "/bin/init", "false SIGTERM"),
    ] {
        let mut args = vec!["create"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["demo", command]);
        let id = rpod.ok(&args);
        let mode = rpod.inspect(id.trim(), "{{.Config.SystemdMode}} {{.Config.StopSignal}}");
        assert_eq!(mode, on, "{flags:?} {command}");
    }
    rpod.fails(&["create", "--systemd", "sometimes", "demo", "true"], 125);
}

#[test]
fn mount_and_unmount_keep_a_root_mounted_until_undone() {
    let rpod = Rpod::with_image("runc");
    let id = rpod.ok(&["create", "--name", "box", "demo", "cat", "/from-host"]);
    let id = id.trim();
    let is_mounted = |path: &str| {
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .any(|l| l.split(' ').nth(4) == Some(path))
    };
    let root = rpod.ok(&["mount", "box"]);
    let root = root.trim().to_string();
    assert!(is_mounted(&root), "{root}");
    assert!(std::path::Path::new(&root).join("bin/sh").exists());
    // Files written through the mount are the container's.
    std::fs::write(
        std::path::Path::new(&root).join("from-host"),
        "written outside\n",
    )
    .unwrap();
    assert_eq!(rpod.ok(&["mount"]), format!("{} {root}\n", &id[..12]));
    assert_eq!(
        rpod.ok(&["mount", "--notruncate"]),
        format!("{id} {root}\n")
    );
    // The root stays mounted across the container's run and exit.
    assert_eq!(rpod.ok(&["start", "-a", "box"]), "written outside\n");
    assert_eq!(rpod.inspect("box", "{{.State.Status}}"), "exited");
    assert!(is_mounted(&root));
    // Two mounts need two unmounts; then it is gone.
    rpod.ok(&["container", "mount", "box"]);
    assert_eq!(rpod.ok(&["unmount", "box"]), "box\n");
    assert!(is_mounted(&root));
    rpod.ok(&["umount", "box"]);
    assert!(!is_mounted(&root));
    assert_eq!(rpod.ok(&["mount"]), "");
    // One more unmount has nothing to undo, and is no error (podman's).
    assert_eq!(rpod.ok(&["unmount", "box"]), "box\n");
    assert!(!is_mounted(&root));
    // A running container's root stays while it runs; -f undoes every mount at once.
    rpod.detached(&["--name", "live", "demo", "sleep", "300"]);
    let live_root = rpod.ok(&["mount", "live"]).trim().to_string();
    rpod.ok(&["mount", "live"]);
    rpod.ok(&["unmount", "-f", "live"]);
    assert!(is_mounted(&live_root));
    assert_eq!(rpod.ok(&["mount"]), "");
    rpod.ok(&["stop", "-t", "0", "live"]);
    assert!(!is_mounted(&live_root));
    rpod.fails(&["mount", "ghost"], 125);
    // Removing a mounted container unmounts it.
    rpod.ok(&["mount", "box"]);
    rpod.ok(&["rm", "box"]);
    assert!(!is_mounted(&root));
}

#[test]
fn health_checks_run_on_demand_and_are_recorded() {
    let rpod = Rpod::with_image("runc");
    rpod.detached(&[
        "--name",
        "svc",
        "--health-cmd",
        "test -f /ready && echo fine",
        "--health-retries",
        "2",
        "--health-timeout",
        "2s",
        // Only the checks run here: none of the monitor's on the interval.
        "--health-interval",
        "disable",
        "demo",
        "sleep",
        "300",
    ]);
    assert_eq!(rpod.inspect("svc", "{{.State.Health.Status}}"), "starting");
    // A failure counts toward the retries; the second makes it unhealthy.
    let out = rpod.run(&["healthcheck", "run", "svc"]);
    assert_eq!(
        (out.status.code(), out.stdout.as_slice()),
        (Some(1), &b"unhealthy\n"[..])
    );
    assert_eq!(
        rpod.inspect(
            "svc",
            "{{.State.Health.Status}} {{.State.Health.FailingStreak}}"
        ),
        "starting 1"
    );
    rpod.fails(&["healthcheck", "run", "svc"], 1);
    assert_eq!(rpod.inspect("svc", "{{.State.Health.Status}}"), "unhealthy");
    assert!(rpod
        .ok(&["ps", "--format", "{{.Status}}"])
        .contains("(unhealthy)"));
    assert_eq!(
        rpod.ok(&[
            "ps",
            "--filter",
            "health=unhealthy",
            "--format",
            "{{.Names}}"
        ]),
        "svc\n"
    );
    // Passing: healthy, the streak reset, the output kept.
    rpod.ok(&["exec", "svc", "touch", "/ready"]);
    assert_eq!(rpod.ok(&["healthcheck", "run", "svc"]), "");
    assert_eq!(
        rpod.inspect(
            "svc",
            "{{.State.Health.Status}} {{.State.Health.FailingStreak}}"
        ),
        "healthy 0"
    );
    // `.State.Healthcheck`, podman's other name for it, in templates; not in the JSON.
    assert_eq!(
        rpod.inspect("svc", "{{.State.Healthcheck.Status}}"),
        "healthy"
    );
    let json: serde_json::Value = serde_json::from_str(&rpod.ok(&["inspect", "svc"])).unwrap();
    assert!(json[0]["State"].get("Healthcheck").is_none(), "{json}");
    let log = rpod.inspect(
        "svc",
        "{{range .State.Health.Log}}{{.ExitCode}}:{{.Output}}|{{end}}",
    );
    assert_eq!(log, "1:|1:|0:fine\n|");
    assert_eq!(rpod.ok(&["wait", "--condition", "healthy", "svc"]), "-1\n");
    assert_eq!(
        rpod.ok(&["ps", "--filter", "health=healthy", "-q"])
            .lines()
            .count(),
        1
    );
    assert_eq!(
        rpod.inspect(
            "svc",
            "{{index .Config.Healthcheck.Test 0}} {{.Config.Healthcheck.Retries}}"
        ),
        "CMD-SHELL 2"
    );
    // A check that takes too long fails at its timeout.
    rpod.detached(&[
        "--name",
        "slow",
        "--health-cmd",
        "[\"CMD\", \"sleep\", \"30\"]",
        "--health-timeout",
        "1s",
        "--health-retries",
        "1",
        "demo",
        "sleep",
        "300",
    ]);
    let started = std::time::Instant::now();
    rpod.fails(&["healthcheck", "run", "slow"], 1);
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    assert!(rpod
        .inspect("slow", "{{range .State.Health.Log}}{{.Output}}{{end}}")
        .contains("timed out"));
    // Errors: no check, not running, unknown container, bad flags.
    rpod.detached(&["--name", "plain", "demo", "sleep", "300"]);
    let err = rpod.fails(&["healthcheck", "run", "plain"], 125);
    assert!(err.contains("no defined healthcheck"), "{err}");
    assert_eq!(
        rpod.ok(&["ps", "--filter", "health=none", "--format", "{{.Names}}"]),
        "plain\n"
    );
    rpod.ok(&["stop", "-t", "0", "svc"]);
    rpod.fails(&["healthcheck", "run", "svc"], 125);
    // Lookups in podman's words.
    assert_eq!(
        rpod.fails(&["healthcheck", "run", "ghost"], 125),
        "Error: unable to look up ghost to perform a health check: no container with name or ID \"ghost\" found: no such container\n"
    );
    assert_eq!(
        rpod.fails(&["top", "ghost"], 125),
        "Error: unable to look up requested container: no container with name or ID \"ghost\" found: no such container\n"
    );
    rpod.fails(&["create", "--health-cmd", "CMD", "demo", "true"], 125);
    let err = rpod.fails(
        &[
            "create",
            "--health-cmd",
            "true",
            "--health-startup-cmd",
            "none",
            "demo",
            "true",
        ],
        125,
    );
    assert!(err.contains("--health-startup-cmd none"), "{err}");
    // A startup check needs a check to hand over to: none, or an empty one, is refused.
    for main in ["none", ""] {
        let err = rpod.fails(
            &[
                "create",
                "--health-cmd",
                main,
                "--health-startup-cmd",
                "true",
                "demo",
                "true",
            ],
            125,
        );
        assert!(err.contains("needs a --health-cmd"), "{err}");
    }
    rpod.fails(
        &[
            "create",
            "--health-cmd",
            "true",
            "--health-interval",
            "often",
            "demo",
            "true",
        ],
        125,
    );
    rpod.fails(
        &[
            "create",
            "--health-cmd",
            "true",
            "--no-healthcheck",
            "demo",
            "true",
        ],
        125,
    );
    rpod.fails(&["ps", "--filter", "health=fine"], 125);
}

#[test]
fn secrets_are_stored_privately_and_given_to_containers() {
    let rpod = Rpod::with_image("runc");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pass");
    std::fs::write(&file, "hunter2").unwrap();
    let id = rpod.ok(&[
        "secret",
        "create",
        "--label",
        "app=db",
        "dbpass",
        &file.display().to_string(),
    ]);
    let id = id.trim().to_string();
    let piped = pipe_through(
        &mut rpod.command(&["secret", "create", "token", "-"]),
        b"t0k3n",
    );
    assert!(piped.status.success(), "{piped:?}");
    assert_eq!(
        rpod.ok(&["secret", "ls", "--format", "{{.Name}}"]),
        "dbpass\ntoken\n"
    );
    assert_eq!(
        rpod.ok(&["secret", "ls", "-q", "--filter", "name=db"]),
        format!("{id}\n")
    );
    // inspect never shows the data; the store keeps it for root only.
    let shown = rpod.ok(&["secret", "inspect", "dbpass"]);
    assert!(
        shown.contains("\"app\": \"db\"") && !shown.contains("hunter2"),
        "{shown}"
    );
    let pretty = rpod.ok(&["secret", "inspect", "--pretty", "dbpass"]);
    let lines: Vec<&str> = pretty.lines().collect();
    assert!(
        lines[0].starts_with("ID:") && lines[1].ends_with(" dbpass"),
        "{pretty}"
    );
    assert_eq!(&lines[2..4], ["Labels:", " - app=db"], "{pretty}");
    assert!(
        lines[4].starts_with("Driver:") && lines[4].ends_with(" file"),
        "{pretty}"
    );
    assert!(!pretty.contains("hunter2"));
    rpod.fails(
        &[
            "secret", "inspect", "--pretty", "--format", "{{.ID}}", "dbpass",
        ],
        125,
    );
    assert_eq!(
        rpod.ok(&[
            "secret",
            "inspect",
            "--format",
            "{{.Spec.Driver.Name}}",
            "dbpass"
        ]),
        "file\n"
    );
    let stored = rpod.root().join("secrets");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&stored).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o700);
    // In a container: a file (default /run/secrets/NAME), with owner and mode, or a variable.
    let out = rpod.ok(&[
        "run", "--rm", "--secret", "dbpass", "--secret", "token,type=env,target=TOKEN",
        "--secret", "dbpass,target=/etc/pw,uid=100,mode=0400", "demo", "sh", "-c",
        "cat /run/secrets/dbpass; echo; echo $TOKEN; stat -c '%u %a' /run/secrets/dbpass /etc/pw; echo x >> /run/secrets/dbpass || echo read-only",
    ]);
    assert_eq!(out, "hunter2\nt0k3n\n0 444\n100 400\nread-only\n");
    // A variable secret is not shown by inspect; a used secret cannot be removed.
    rpod.ok(&[
        "create",
        "--name",
        "user",
        "--secret",
        "token,type=env",
        "demo",
        "true",
    ]);
    assert!(!rpod
        .inspect("user", "{{json .Config.Env}}")
        .contains("t0k3n"));
    // Nor once started, when the spec the process ran with has it.
    rpod.ok(&["start", "user"]);
    rpod.ok(&["wait", "user"]);
    let env = rpod.inspect("user", "{{json .Config.Env}}");
    assert!(env.contains("HOME=") && !env.contains("t0k3n"), "{env}");
    let err = rpod.fails(&["secret", "rm", "token"], 125);
    assert!(err.contains("in use"), "{err}");
    rpod.ok(&["rm", "user"]);
    assert_eq!(rpod.ok(&["secret", "rm", "token"]).lines().count(), 1);
    assert_eq!(
        rpod.run(&["secret", "exists", "token"]).status.code(),
        Some(1)
    );
    assert_eq!(
        rpod.run(&["secret", "exists", "dbpass"]).status.code(),
        Some(0)
    );
    // Errors: unknown secrets, bad syntax, names in use, other drivers.
    rpod.fails(&["run", "--rm", "--secret", "nosuch", "demo", "true"], 125);
    rpod.fails(
        &[
            "run",
            "--rm",
            "--secret",
            "dbpass,type=file",
            "demo",
            "true",
        ],
        125,
    );
    rpod.fails(
        &["secret", "create", "dbpass", &file.display().to_string()],
        125,
    );
    rpod.ok(&[
        "secret",
        "create",
        "--replace",
        "dbpass",
        &file.display().to_string(),
    ]);
    // An endless source is read only up to the limit, then refused.
    let err = rpod.fails(&["secret", "create", "endless", "/dev/zero"], 125);
    assert!(err.contains("between 1 and"), "{err}");
    // The pass driver: encrypted by GnuPG into a password store of the test's own, with a
    // key of its own; decrypted for the container. Without a key: refused.
    let store = rpod.dir.path().join("password-store");
    let root_opt = format!("root={}", store.display());
    let err = rpod.fails(
        &[
            "secret",
            "create",
            "--driver",
            "pass",
            "--driver-opts",
            &root_opt,
            "other",
            &file.display().to_string(),
        ],
        125,
    );
    assert!(err.contains("needs a key"), "{err}");
    let gpg = Gpg::new(&["rpod@example.org"]);
    let opts = format!(
        "{root_opt},key=rpod@example.org,gpghomedir={}",
        gpg.home.path().display()
    );
    let made = rpod.run(&[
        "secret",
        "create",
        "--driver",
        "pass",
        "--driver-opts",
        &opts,
        "sealed",
        &file.display().to_string(),
    ]);
    let read = rpod.run(&[
        "run",
        "--rm",
        "--secret",
        "sealed",
        "demo",
        "cat",
        "/run/secrets/sealed",
    ]);
    let files: Vec<_> = std::fs::read_dir(&store)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    rpod.ok(&["secret", "rm", "sealed"]);
    let left = std::fs::read_dir(&store).map(|d| d.count()).unwrap_or(0);
    drop(gpg);
    assert!(made.status.success(), "{}", stderr_of(&made));
    assert_eq!(
        String::from_utf8_lossy(&read.stdout),
        "hunter2",
        "{}",
        stderr_of(&read)
    );
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(files[0].to_string_lossy().ends_with(".gpg"), "{files:?}");
    assert_eq!(left, 0);
    assert_eq!(
        rpod.fails(&["secret", "inspect", "nosuch"], 125),
        "Error: inspecting secret: no secret with name or id \"nosuch\": no such secret\n"
    );
    assert_eq!(rpod.ok(&["secret", "rm", "--ignore", "nosuch"]), "");
    rpod.ok(&["secret", "rm", "--all"]);
    assert_eq!(rpod.ok(&["secret", "ls", "-q"]), "");
    // A filter rpod does not know is refused, secrets or none.
    let err = rpod.fails(&["secret", "ls", "--filter", "color=red"], 125);
    assert!(err.contains("invalid filter \"color\""), "{err}");
}

#[test]
fn rm_depend_removes_the_containers_sharing_namespaces_first() {
    let rpod = Rpod::with_image("runc");
    let base = rpod.detached(&["--name", "base", "demo", "sleep", "300"]);
    let pid_user = rpod.detached(&[
        "--name",
        "pidjoin",
        "--pid",
        "container:base",
        "demo",
        "sleep",
        "300",
    ]);
    let ipc_user = rpod.ok(&[
        "create",
        "--name",
        "ipcjoin",
        "--ipc",
        "container:pidjoin",
        "demo",
        "true",
    ]);
    rpod.ok(&["create", "--name", "alone", "demo", "true"]);
    let err = rpod.fails(&["rm", "-f", "base"], 125);
    assert!(err.contains("dependent containers"), "{err}");
    // Without -f a running dependent stops it: exit 2, nothing of base removed.
    rpod.fails(&["rm", "--depend", "base"], 2);
    assert_eq!(rpod.inspect("base", "{{.State.Status}}"), "running");
    let removed = rpod.ok(&["rm", "--depend", "-f", "-t", "0", "base"]);
    assert_eq!(
        removed,
        format!("{}\n{pid_user}\n{base}\n", ipc_user.trim())
    );
    assert_eq!(rpod.ok(&["ps", "-a", "--format", "{{.Names}}"]), "alone\n");
}

/// `rm` of several containers, or `--all`, removes those that share another's namespaces
/// (or require it) before it, whatever their order: before, the one depended on failed
/// ("has dependent containers") and stayed, with exit code 125.
#[test]
fn rm_all_removes_dependents_before_what_they_depend_on() {
    let rpod = Rpod::with_image("crun");
    rpod.detached(&["--name", "base", "demo", "sleep", "300"]);
    rpod.detached(&[
        "--name",
        "netjoin",
        "--network",
        "container:base",
        "demo",
        "sleep",
        "300",
    ]);
    rpod.ok(&[
        "create",
        "--name",
        "pidjoin",
        "--pid",
        "container:netjoin",
        "demo",
        "true",
    ]);
    let removed = rpod.ok(&["rm", "-a", "-f", "-t", "0"]);
    assert_eq!(removed.lines().count(), 3, "{removed}");
    assert_eq!(rpod.ok(&["ps", "-aq"]), "");
    // Named in the wrong order: a dependent goes before what it requires.
    rpod.ok(&["create", "--name", "first", "demo", "true"]);
    rpod.ok(&[
        "create",
        "--name",
        "second",
        "--requires",
        "first",
        "demo",
        "true",
    ]);
    // A wrong name among them removes nothing, as podman's.
    let out = rpod.run(&["rm", "first", "nosuch", "second"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "");
    assert!(String::from_utf8_lossy(&out.stderr).contains("nosuch"));
    assert_eq!(rpod.ok(&["ps", "-aq"]).lines().count(), 2);
    let out = rpod.run(&["rm", "first", "second"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "second\nfirst\n");
    assert_eq!(rpod.ok(&["ps", "-aq"]), "");
}

#[test]
fn device_rules_oom_kill_disable_and_io_throttles() {
    let rpod = Rpod::with_image("runc");
    let id = rpod.detached(&[
        "--device-cgroup-rule",
        "c 10:200 rwm",
        "--device-cgroup-rule",
        "b 7:* r",
        "--oom-kill-disable",
        "-m",
        "64m",
        "demo",
        "sleep",
        "300",
    ]);
    let spec: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(rpod.inspect(&id, "{{.OCIConfigPath}}")).unwrap(),
    )
    .unwrap();
    let rules = spec["linux"]["resources"]["devices"].as_array().unwrap();
    assert!(
        rules.iter().any(|r| r["type"] == "c"
            && r["major"] == 10
            && r["minor"] == 200
            && r["access"] == "rwm"
            && r["allow"] == true),
        "{rules:?}"
    );
    assert!(
        rules.iter().any(|r| r["type"] == "b"
            && r["major"] == 7
            && r["minor"].is_null()
            && r["access"] == "r"),
        "{rules:?}"
    );
    assert_eq!(
        spec["linux"]["resources"]["memory"]["disableOOMKiller"],
        true
    );
    assert_eq!(spec["linux"]["resources"]["memory"]["limit"], 64 << 20);
    let v1 = std::path::Path::new("/sys/fs/cgroup/memory").is_dir();
    if v1 {
        let control = rpod.ok(&[
            "exec",
            &id,
            "cat",
            "/sys/fs/cgroup/memory/memory.oom_control",
        ]);
        assert!(control.starts_with("oom_kill_disable 1"), "{control}");
    }
    // inspect: the cgroup while it runs, as podman's; no throttles (null).
    assert_eq!(
        rpod.inspect(&id, "{{.State.CgroupPath}}"),
        format!("/rpod/{id}")
    );
    assert_eq!(
        rpod.inspect(&id, "{{json .HostConfig.BlkioDeviceReadBps}}"),
        "null"
    );
    // A block device's read rate, in the blkio cgroup.
    let block = ["/dev/vda", "/dev/sda", "/dev/nvme0n1"]
        .into_iter()
        .find(|d| {
            std::fs::metadata(d)
                .is_ok_and(|m| std::os::unix::fs::FileTypeExt::is_block_device(&m.file_type()))
        });
    if let Some(device) = block {
        // inspect shows the throttles as podman's: each list once any is set.
        rpod.ok(&[
            "create",
            "--name",
            "throttled",
            "--device-read-bps",
            &format!("{device}:1mb"),
            "--device-write-iops",
            &format!("{device}:100"),
            "demo",
            "true",
        ]);
        assert_eq!(
            rpod.inspect(
                "throttled",
                "{{json .HostConfig.BlkioDeviceReadBps}} {{json .HostConfig.BlkioDeviceWriteIOps}} {{json .HostConfig.BlkioDeviceWriteBps}} [{{.State.CgroupPath}}]"
            ),
            format!(r#"[{{"Path":"{device}","Rate":1048576}}] [{{"Path":"{device}","Rate":100}}] [] []"#)
        );
        rpod.ok(&["rm", "throttled"]);
    }
    if let (Some(device), true) = (block, std::path::Path::new("/sys/fs/cgroup/blkio").is_dir()) {
        let out = rpod.ok(&[
            "run", "--rm", "--device-read-bps", &format!("{device}:1mb"),
            "--device-write-bps", &format!("{device}:2mb"), "demo", "sh", "-c",
            "cat /sys/fs/cgroup/blkio/blkio.throttle.read_bps_device /sys/fs/cgroup/blkio/blkio.throttle.write_bps_device",
        ]);
        let rates: Vec<&str> = out
            .lines()
            .map(|l| l.split(' ').nth(1).unwrap_or(""))
            .collect();
        assert_eq!(rates, ["1048576", "2097152"], "{out}");
        let out = rpod.ok(&[
            "run", "--rm", "--device-read-iops", &format!("{device}:1000"),
            "--device-write-iops", &format!("{device}:500"), "demo", "sh", "-c",
            "cat /sys/fs/cgroup/blkio/blkio.throttle.read_iops_device /sys/fs/cgroup/blkio/blkio.throttle.write_iops_device",
        ]);
        let counts: Vec<&str> = out
            .lines()
            .map(|l| l.split(' ').nth(1).unwrap_or(""))
            .collect();
        assert_eq!(counts, ["1000", "500"], "{out}");
    }
    // Bad rules and devices are refused, and nothing is made.
    for args in [
        &["create", "--device-cgroup-rule", "x 1:3 r", "demo", "true"][..],
        &[
            "create",
            "--device-cgroup-rule",
            "c 1:3 rwx",
            "demo",
            "true",
        ],
        &[
            "create",
            "--device-cgroup-rule",
            "c one:3 r",
            "demo",
            "true",
        ],
        &[
            "create",
            "--device-read-bps",
            "/dev/null:1mb",
            "demo",
            "true",
        ],
        &[
            "create",
            "--device-write-bps",
            "/nonexistent:1mb",
            "demo",
            "true",
        ],
        &[
            "create",
            "--device-read-iops",
            "/dev/null:10",
            "demo",
            "true",
        ],
        &[
            "create",
            "--device-write-iops",
            "/dev/vda:1mb",
            "demo",
            "true",
        ],
    ] {
        rpod.fails(args, 125);
    }
    assert_eq!(rpod.ok(&["ps", "-aq"]).lines().count(), 1);
}

#[test]
fn run_preserve_fds_hands_descriptors_to_the_container() {
    for runtime in ["runc", "crun"] {
        let rpod = Rpod::with_image(runtime);
        let secret = rpod.dir.path().join("passed");
        std::fs::write(&secret, "through fd 3\n").unwrap();
        let script = format!(
            "exec 3<{} && exec \"$0\" --root {} --runroot {} --runtime {} run --rm --preserve-fds 1 demo sh -c 'cat <&3; ls /proc/self/fd | wc -l'",
            secret.display(),
            rpod.root().display(),
            rpod.runroot().display(),
            runtime,
        );
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(&script)
            .arg(env!("CARGO_BIN_EXE_rpod"))
            .env("RPOD_CONFIG", rpod.config_path())
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.starts_with("through fd 3\n"),
            "{runtime}: {stdout} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Without it, descriptor 3 does not reach the container.
        let plain = rpod.ok(&["run", "--rm", "demo", "sh", "-c", "cat <&3 || echo closed"]);
        assert!(plain.ends_with("closed\n"), "{plain}");
        rpod.fails(&["run", "--rm", "--preserve-fds", "5", "demo", "true"], 125);
        rpod.fails(&["create", "--preserve-fds", "1", "demo", "true"], 125);
    }
}

#[test]
fn the_passthrough_log_driver_gives_the_container_rpods_stdio() {
    for runtime in ["runc", "crun"] {
        let rpod = Rpod::with_image(runtime);
        // Output straight to rpod's stdout and stderr, input from its stdin, the exit code.
        let out = pipe_through(
            rpod.command(&[
                "run",
                "--rm",
                "-i",
                "--log-driver",
                "passthrough",
                "demo",
                "sh",
                "-c",
                "cat; echo to-err >&2; exit 3",
            ])
            .stderr(std::process::Stdio::piped()),
            b"from stdin\n",
        );
        assert_eq!(out.status.code(), Some(3), "{runtime}: {out:?}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "from stdin\n");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("to-err"),
            "{out:?}"
        );
        // No log and no attach; a terminal is refused.
        // Detached, it keeps rpod's stdio for as long as it runs: here, nothing.
        let cidfile = rpod.dir.path().join("cid");
        let status = rpod
            .command(&[
                "run",
                "-d",
                "--cidfile",
                &cidfile.display().to_string(),
                "--log-driver",
                "passthrough",
                "demo",
                "sleep",
                "300",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
        let id = std::fs::read_to_string(&cidfile).unwrap();
        assert_eq!(
            rpod.inspect(&id, "{{.HostConfig.LogConfig.Type}}"),
            "passthrough"
        );
        let err = rpod.fails(&["logs", &id], 125);
        assert!(err.contains("passthrough"), "{err}");
        let err = rpod.fails(&["attach", &id], 125);
        assert!(err.contains("passthrough"), "{err}");
        rpod.fails(
            &[
                "run",
                "--rm",
                "-t",
                "--log-driver",
                "passthrough",
                "demo",
                "true",
            ],
            125,
        );
        rpod.fails(
            &["run", "--rm", "--log-driver", "journald", "demo", "true"],
            125,
        );
    }
}

#[test]
fn archives_are_not_written_to_a_terminal_or_a_missing_directory() {
    let rpod = Rpod::with_image("runc");
    rpod.ok(&["create", "--name", "boxed", "demo", "true"]);
    for args in [&["save", "demo"][..], &["export", "boxed"][..]] {
        let mut run = PtyRun::spawn(&rpod, args, 24, 80);
        assert_eq!(run.wait(), 125, "{args:?}: {}", run.text());
        assert!(
            run.text()
                .contains("refusing to write an archive to a terminal"),
            "{args:?}: {}",
            run.text()
        );
    }
    // A directory that is not there: the error names the file asked for.
    let missing = "/nonexistent-rpod-dir/out.tar";
    for args in [
        &["save", "-o", missing, "demo"][..],
        &["export", "-o", missing, "boxed"],
    ] {
        let err = rpod.fails(args, 125);
        assert!(
            err.contains(&format!("creating {missing}: ")),
            "{args:?}: {err}"
        );
    }
}

/// An initialized container's command never ran: its stop and removal kill the runtime's
/// process waiting there at once, not with a stop signal first, which crun's leaves
/// unanswered for the whole stop timeout (with a warning that it resorted to SIGKILL);
/// its restart is a start, as podman's.
#[test]
fn an_initialized_container_stops_at_once_and_restarts_as_a_start() {
    for runtime in ["runc", "crun"] {
        let rpod = Rpod::with_image(runtime);
        let shows_no_sigkill_warning = |args: &[&str]| {
            let done = rpod.run(args);
            let stderr = String::from_utf8_lossy(&done.stderr);
            assert!(done.status.success(), "{runtime} {args:?}: {stderr}");
            assert!(
                !stderr.contains("resorting to SIGKILL"),
                "{runtime} {args:?}: {stderr}"
            );
        };
        for name in ["forced", "plain", "stopped"] {
            rpod.ok(&[
                "create",
                "--name",
                name,
                "--stop-timeout",
                "3",
                "demo",
                "true",
            ]);
            rpod.ok(&["init", name]);
        }
        shows_no_sigkill_warning(&["rm", "-f", "forced"]);
        shows_no_sigkill_warning(&["rm", "plain"]);
        shows_no_sigkill_warning(&["stop", "stopped"]);
        assert_eq!(rpod.inspect("stopped", "{{.State.Status}}"), "exited");
        rpod.ok(&["rm", "stopped"]);
        assert_eq!(rpod.ok(&["ps", "-aq"]), "", "{runtime}");

        // A restart starts it: the runtime's process that was waiting runs the command.
        rpod.ok(&[
            "create",
            "--name",
            "again",
            "--stop-timeout",
            "3",
            "demo",
            "sh",
            "-c",
            "echo ran; sleep 300",
        ]);
        rpod.ok(&["init", "again"]);
        let pid = rpod.inspect("again", "{{.State.Pid}}");
        shows_no_sigkill_warning(&["restart", "again"]);
        assert_eq!(rpod.inspect("again", "{{.State.Status}}"), "running");
        assert_eq!(rpod.inspect("again", "{{.State.Pid}}"), pid, "{runtime}");
        rpod.ok(&["rm", "-f", "-t", "0", "again"]);
    }
}

#[test]
fn init_and_latest_as_podman() {
    let rpod = Rpod::with_image("runc");
    // init: created in the runtime, not started; a start is then only the runtime's start.
    rpod.ok(&["create", "--name", "first", "demo", "echo", "hello"]);
    assert_eq!(rpod.ok(&["init", "first"]), "first\n");
    assert_eq!(rpod.inspect("first", "{{.State.Status}}"), "initialized");
    let err = rpod.fails(&["init", "first"], 125);
    assert!(err.contains("already been created in runtime"), "{err}");
    assert_eq!(rpod.ok(&["start", "-a", "first"]), "hello\n");
    // An exited container is initialized again; --all passes over the others.
    rpod.ok(&["init", "first"]);
    rpod.ok(&["create", "--name", "second", "demo", "true"]);
    let id = rpod.inspect("second", "{{.Id}}");
    assert_eq!(rpod.ok(&["init", "--all"]), format!("{id}\n"));
    assert_eq!(rpod.inspect("second", "{{.State.Status}}"), "initialized");
    rpod.fails(&["init", "nosuch"], 125);
    rpod.ok(&["rm", "-f", "first", "second"]);

    // --latest: the most recently created container, for the single-container commands.
    rpod.detached(&["--name", "old", "demo", "sleep", "300"]);
    let id = rpod.detached(&["--name", "new", "demo", "sleep", "300"]);
    let env = rpod.dir.path().join("env");
    std::fs::write(&env, "A=1\n# a comment\nB=2\n").unwrap();
    let env = env.display().to_string();
    assert_eq!(
        rpod.ok(&[
            "exec",
            "-l",
            "--env-file",
            &env,
            "-e",
            "B=3",
            "sh",
            "-c",
            "echo $A $B"
        ]),
        "1 3\n"
    );
    assert_eq!(
        rpod.ok(&["exec", "old", "hostname"]).trim(),
        rpod.inspect("old", "{{.Config.Hostname}}")
    );
    let top = rpod.ok(&["top", "-l", "pid", "args"]);
    assert!(top.contains("sleep 300"), "{top}");
    // No ports published (these tests run without networks): nothing, and no error, even
    // for a port asked for (podman looks only at containers that publish ports).
    assert_eq!(rpod.ok(&["port", "-l"]), "");
    assert_eq!(rpod.ok(&["port", "-l", "80"]), "");
    assert_eq!(
        rpod.ok(&[
            "stats",
            "-l",
            "--no-stream",
            "--no-trunc",
            "--format",
            "{{.ID}}"
        ]),
        format!("{id}\n")
    );
    rpod.ok(&["exec", "new", "touch", "/made"]);
    assert!(rpod.ok(&["diff", "-l"]).contains("A /made"));
    assert!(rpod
        .fails(&["diff", "-l", "old", "new"], 125)
        .contains("--latest"));
    rpod.fails(&["top"], 125);
    rpod.fails(&["exec", "-l"], 125);
    rpod.fails(&["stats", "-l", "old"], 125);
}

#[test]
fn listing_and_archive_flags_as_podman() {
    let rpod = Rpod::with_image("runc");
    let tarball = busybox_tarball().display().to_string();
    // import --arch/--os/--variant: what the image says it is for.
    rpod.ok(&[
        "import",
        "--arch",
        "arm",
        "--variant",
        "v7",
        "--os",
        "linux",
        &tarball,
        "armish",
    ]);
    assert_eq!(
        rpod.inspect("armish", "{{.Os}}/{{.Architecture}}/{{.Variant}}"),
        "linux/arm/v7"
    );
    rpod.ok(&["tag", "demo", "alias:v2"]);
    // images --sort, --digests, --history.
    let names = |flags: &[&str]| {
        let mut args = vec![
            "images",
            "--noheading",
            "--format",
            "{{.Repository}}:{{.Tag}}",
        ];
        args.extend_from_slice(flags);
        rpod.ok(&args).lines().map(String::from).collect::<Vec<_>>()
    };
    assert_eq!(
        names(&["--sort", "repository"]),
        [
            "localhost/alias:v2",
            "localhost/armish:latest",
            "localhost/demo:latest"
        ]
    );
    assert_eq!(
        names(&["--sort", "tag"]),
        [
            "localhost/armish:latest",
            "localhost/demo:latest",
            "localhost/alias:v2"
        ]
    );
    assert_eq!(names(&["--sort", "created"])[0], "localhost/armish:latest");
    rpod.fails(&["images", "--sort", "colour"], 125);
    let table = rpod.ok(&["images", "--digests", "--history"]);
    let header: Vec<&str> = table
        .lines()
        .next()
        .unwrap()
        .split("  ")
        .filter(|w| !w.is_empty())
        .map(str::trim)
        .collect();
    assert_eq!(
        header,
        [
            "REPOSITORY",
            "TAG",
            "DIGEST",
            "IMAGE ID",
            "CREATED",
            "SIZE",
            "HISTORY"
        ]
    );
    let demo_id = rpod.inspect("demo", "{{.Id}}");
    let demo_row = table
        .lines()
        .find(|l| l.starts_with("localhost/demo"))
        .unwrap();
    assert!(
        demo_row.contains(&format!("sha256:{demo_id}")),
        "{demo_row}"
    );
    assert!(
        demo_row.ends_with("localhost/alias:v2, localhost/demo:latest")
            || demo_row.ends_with("localhost/demo:latest, localhost/alias:v2"),
        "{demo_row}"
    );
    // save: -m and --uncompressed say what rpod's archives are; --compress is for a
    // directory format.
    let archive = rpod.dir.path().join("two.tar");
    rpod.ok(&[
        "save",
        "-m",
        "--uncompressed",
        "-o",
        &archive.display().to_string(),
        "demo",
        "armish",
    ]);
    let listing = std::process::Command::new("tar")
        .arg("-tf")
        .arg(&archive)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&listing.stdout).contains("manifest.json"));
    let err = rpod.fails(&["save", "--compress", "-o", "/dev/null", "demo"], 125);
    assert!(err.contains("docker-dir"), "{err}");
    // rmi --no-prune, image prune --external: accepted (rpod's images have no parents,
    // its store no other tool's containers).
    rpod.ok(&["rmi", "--no-prune", "armish"]);
    rpod.ok(&["image", "prune", "--external", "-f"]);
    // ps --sync syncs each container under its lock first (the listing looks the same:
    // rpod's plain listing already reads the exits monitors wrote); --watch shows the
    // listing again and again.
    rpod.ok(&["run", "--name", "short", "demo", "true"]);
    assert_eq!(
        rpod.ok(&["ps", "-a", "--sync", "--format", "{{.Names}} {{.State}}"]),
        "short exited\n"
    );
    let mut watch = rpod
        .command(&["ps", "-a", "--watch", "1", "--format", "{{.Names}}"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = watch.stdout.take().unwrap();
    let mut seen = String::new();
    let mut buffer = [0u8; 256];
    while seen.matches("short").count() < 2 {
        let n = std::io::Read::read(&mut out, &mut buffer).unwrap();
        assert!(n > 0, "ps --watch ended: {seen:?}");
        seen.push_str(&String::from_utf8_lossy(&buffer[..n]));
    }
    assert!(seen.contains("\x1b[2J"), "{seen:?}");
    let _ = watch.kill();
    let _ = watch.wait();
    rpod.fails(&["ps", "--watch", "1", "--format", "json"], 125);
}

#[test]
fn health_check_failures_kill_stop_or_restart_as_asked() {
    let rpod = Rpod::with_image("runc");
    // The check fails while /tmp/bad exists; one failure makes the container unhealthy.
    let run = |name: &str, action: &str| {
        rpod.detached(&[
            "--name",
            name,
            "--health-cmd",
            "test ! -e /tmp/bad",
            "--health-retries",
            "1",
            "--health-interval",
            "disable",
            "--health-on-failure",
            action,
            "demo",
            "sh",
            "-c",
            "trap 'exit 0' TERM; while :; do sleep 0.1; done",
        ])
    };
    for (name, action) in [
        ("k", "kill"),
        ("s", "stop"),
        ("r", "restart"),
        ("n", "none"),
    ] {
        run(name, action);
        assert_eq!(
            rpod.inspect(name, "{{.Config.HealthcheckOnFailureAction}}"),
            action
        );
        assert_eq!(rpod.ok(&["healthcheck", "run", name]), "");
        rpod.ok(&["exec", name, "touch", "/tmp/bad"]);
    }
    let started = rpod.inspect("r", "{{.State.StartedAt}}");
    for name in ["k", "s", "r", "n"] {
        let out = rpod.run(&["healthcheck", "run", name]);
        assert_eq!(out.status.code(), Some(1), "{name}: {out:?}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "unhealthy\n");
    }
    // kill: SIGKILL (137); stop: the stop signal, which the shell's trap answers with 0.
    assert_eq!(
        rpod.inspect("k", "{{.State.Status}} {{.State.ExitCode}}"),
        "exited 137"
    );
    assert_eq!(
        rpod.inspect("s", "{{.State.Status}} {{.State.ExitCode}}"),
        "exited 0"
    );
    // restart: running again, from a fresh start (the container's /tmp stays, so its
    // next check fails again).
    assert_eq!(rpod.inspect("r", "{{.State.Status}}"), "running");
    assert_ne!(rpod.inspect("r", "{{.State.StartedAt}}"), started);
    assert_eq!(rpod.inspect("n", "{{.State.Status}}"), "running");
    // Refused: an unknown action, and one without a check.
    rpod.fails(
        &[
            "create",
            "--health-cmd",
            "true",
            "--health-on-failure",
            "explode",
            "demo",
            "true",
        ],
        125,
    );
    let err = rpod.fails(
        &["create", "--health-on-failure", "kill", "demo", "true"],
        125,
    );
    assert!(err.contains("--health-cmd"), "{err}");
}

#[test]
fn system_reset_removes_everything_after_a_yes() {
    let rpod = Rpod::with_image("runc");
    rpod.detached(&[
        "--name",
        "running",
        "-v",
        "data:/data",
        "demo",
        "sleep",
        "300",
    ]);
    rpod.ok(&["create", "--name", "made", "-v", "/anon", "demo", "true"]);
    // A pod, whose infra container goes only with it (and brings rpod's pause image).
    rpod.ok(&["pod", "create", "--name", "grp"]);
    rpod.detached(&["--name", "member", "--pod", "grp", "demo", "sleep", "300"]);
    rpod.ok(&["volume", "create", "spare"]);
    rpod.lab_network("lab86", 86);
    let secret = rpod.dir.path().join("secret");
    std::fs::write(&secret, "s3cret").unwrap();
    rpod.ok(&["secret", "create", "pw", &secret.display().to_string()]);
    let counts = || {
        [
            rpod.ok(&["ps", "-aq"]),
            rpod.ok(&["images", "-q"]),
            rpod.ok(&["volume", "ls", "-q"]),
            rpod.ok(&["network", "ls", "-q"]),
            rpod.ok(&["secret", "ls", "-q"]),
            rpod.ok(&["pod", "ps", "-q"]),
        ]
        .map(|out| out.lines().count())
    };
    // The default network is listed too.
    assert_eq!(counts(), [4, 2, 3, 2, 1, 1]);
    // Anything but yes keeps everything.
    let mut ask = rpod.command(&["system", "reset"]);
    ask.stderr(std::process::Stdio::piped());
    let out = pipe_through(&mut ask, b"n\n");
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("Are you sure"));
    assert_eq!(counts(), [4, 2, 3, 2, 1, 1]);
    let out = pipe_through(&mut rpod.command(&["system", "reset"]), b"y\n");
    assert!(out.status.success(), "{out:?}");
    // Only the default network, which is always there, as podman's.
    assert_eq!(counts(), [0, 0, 0, 1, 0, 0]);
    assert!(!rpod.ok(&["network", "ls"]).contains("lab86"));
    // The store works on: an image loaded again runs.
    rpod.ok(&["import", &busybox_tarball().display().to_string(), "demo"]);
    assert_eq!(
        rpod.ok(&["run", "--rm", "demo", "echo", "again"]),
        "again\n"
    );
    rpod.ok(&["system", "reset", "--force"]);
    assert_eq!(counts(), [0, 0, 0, 1, 0, 0]);
}

/// A systemd command line (`ExecStart=...`) as systemd reads it: words split at blanks,
/// double quotes grouping (with backslash escapes), `%%` and `$$` for `%` and `$`, and the
/// specifiers `%t` and `%n` replaced.
fn systemd_words(line: &str, runtime_dir: &str, unit: &str) -> Vec<String> {
    // A template's instance: what comes between `@` and `.service`.
    let instance = unit
        .split_once('@')
        .map(|(_, rest)| rest.trim_end_matches(".service"))
        .unwrap_or("");
    let line = line
        .replace("%%", "\u{1}")
        .replace("%t", runtime_dir)
        .replace("%n", unit)
        .replace("%i", instance)
        .replace("%I", instance)
        .replace('\u{1}', "%")
        .replace("$$", "$");
    let mut words = Vec::new();
    let mut current = String::new();
    let mut in_word = false;
    let mut quoted = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                quoted = !quoted;
                in_word = true;
            }
            '\\' if quoted => {
                if let Some(next) = chars.next() {
                    current.push(next);
                }
            }
            ' ' if !quoted => {
                if in_word {
                    words.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            other => {
                current.push(other);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(current);
    }
    words
}

/// A directory standing for systemd's run-time directory (`%t`) in a test's units.
fn systemd_runtime_dir(rpod: &Rpod) -> String {
    let dir = rpod.dir.path().join("systemd");
    std::fs::create_dir(&dir).unwrap();
    dir.display().to_string()
}

/// Run a unit's command line as systemd would for the unit `name`, with `runtime_dir` as
/// `%t`; it must succeed.
fn run_unit_line(rpod: &Rpod, line: &str, runtime_dir: &str, name: &str) {
    let words = systemd_words(line, runtime_dir, name);
    let out = std::process::Command::new(&words[0])
        .args(&words[1..])
        .env("RPOD_CONFIG", rpod.config_path())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{words:?}: {out:?}");
}

/// Run each of a unit's `KEY` command lines (`ExecStart=`, ...), as `run_unit_line`.
fn run_unit_lines(rpod: &Rpod, unit: &str, runtime_dir: &str, name: &str, key: &str) {
    for line in unit.lines().filter_map(|l| l.strip_prefix(key)) {
        run_unit_line(rpod, line, runtime_dir, name);
    }
}

#[test]
fn generated_systemd_units_run_and_stop_the_container() {
    let rpod = Rpod::with_image("runc");
    rpod.ok(&[
        "create",
        "--name",
        "web",
        "-d",
        "-e",
        "MSG=50% $HOME done",
        "demo",
        "sh",
        "-c",
        "echo \"$MSG\" > /tmp/msg; exec sleep 300",
    ]);
    let created = rpod.inspect("web", "{{json .Config.CreateCommand}}");
    assert!(
        created.contains("\"create\",\"--name\",\"web\""),
        "{created}"
    );
    let unit = rpod.ok(&[
        "generate",
        "systemd",
        "--new",
        "--name",
        "--restart-sec",
        "3",
        "-t",
        "1",
        "web",
    ]);
    assert!(unit.starts_with("# container-web.service\n"), "{unit}");
    for line in [
        "Restart=on-failure",
        "RestartSec=3",
        "TimeoutStopSec=61",
        "Type=forking",
        "PIDFile=%t/%n.pid",
        "WantedBy=default.target",
    ] {
        assert!(unit.lines().any(|l| l == line), "{line} in {unit}");
    }
    let field = |name: &str| {
        unit.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("{name} in {unit}"))
            .to_string()
    };
    // Run the unit's commands as systemd would, with its run-time directory and name.
    let runtime_dir = systemd_runtime_dir(&rpod);
    let run_line = |line: &str| run_unit_line(&rpod, line, &runtime_dir, "container-web.service");
    rpod.ok(&["rm", "web"]);
    run_line(&field("ExecStartPre"));
    run_line(&field("ExecStart"));
    let id =
        std::fs::read_to_string(format!("{runtime_dir}/container-web.service.ctr-id")).unwrap();
    assert_eq!(
        rpod.inspect("web", "{{.Id}} {{.State.Status}}"),
        format!("{} running", id.trim())
    );
    let monitor: i32 = std::fs::read_to_string(format!("{runtime_dir}/container-web.service.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(pid_alive(monitor));
    // The environment reached the container as given: no specifier, no unit variable.
    assert_eq!(
        rpod.ok(&["exec", "web", "cat", "/tmp/msg"]),
        "50% $HOME done\n"
    );
    // A second start replaces the first container.
    run_line(&field("ExecStartPre"));
    run_line(&field("ExecStart"));
    assert_eq!(rpod.ok(&["ps", "-aq"]).lines().count(), 1);
    run_line(&field("ExecStop"));
    run_line(&field("ExecStopPost"));
    assert_eq!(rpod.ok(&["ps", "-aq"]), "");

    // Without --new: start and stop of the container itself, its monitor's PID file.
    let id = rpod
        .ok(&[
            "create",
            "--name",
            "kept",
            "--stop-timeout",
            "1",
            "demo",
            "sleep",
            "300",
        ])
        .trim()
        .to_string();
    let unit = rpod.ok(&["generate", "systemd", "kept"]);
    assert!(
        unit.starts_with(&format!("# container-{id}.service\n")),
        "{unit}"
    );
    let field = |name: &str| {
        unit.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("{name} in {unit}"))
            .to_string()
    };
    run_line(&field("ExecStart"));
    let monitor: i32 = std::fs::read_to_string(field("PIDFile"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(
        rpod.inspect("kept", "{{.State.ConmonPid}}"),
        monitor.to_string()
    );
    run_line(&field("ExecStop"));
    assert_eq!(rpod.inspect("kept", "{{.State.Status}}"), "exited");
    // --files writes the unit; bad input is refused.
    let out = rpod
        .command(&[
            "generate",
            "systemd",
            "--files",
            "--name",
            "--container-prefix",
            "app",
            "--separator",
            "_",
            "kept",
        ])
        .current_dir(rpod.dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let written = rpod.dir.path().join("app_kept.service");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        written.display().to_string()
    );
    assert!(std::fs::read_to_string(&written)
        .unwrap()
        .contains("start kept"));
    rpod.fails(
        &[
            "generate",
            "systemd",
            "--restart-policy",
            "sometimes",
            "kept",
        ],
        125,
    );
    rpod.fails(&["generate", "systemd", "nosuch"], 125);
    // --env, --start-timeout, --format json.
    let json = rpod.ok(&[
        "generate",
        "systemd",
        "--name",
        "-e",
        "GREETING=hello there",
        "--start-timeout",
        "30",
        "--format",
        "json",
        "kept",
    ]);
    let units: serde_json::Value = serde_json::from_str(&json).unwrap();
    let text = units["container-kept"].as_str().unwrap();
    assert!(
        text.contains("\nEnvironment=\"GREETING=hello there\"\n"),
        "{text}"
    );
    assert!(text.contains("\nTimeoutStartSec=30\n"), "{text}");
    rpod.fails(&["generate", "systemd", "-e", "NOEQUALS", "kept"], 125);
    // The unit's own flags replace the create command's: -d out of a cluster, the ID and
    // PID files (with their values) dropped.
    let cid = rpod.dir.path().join("made.cid").display().to_string();
    let pid = rpod.dir.path().join("made.pid").display().to_string();
    rpod.ok(&[
        "create",
        "-dit",
        "--cidfile",
        &cid,
        "--pidfile",
        &pid,
        "--name",
        "made",
        "demo",
        "top",
    ]);
    let unit = rpod.ok(&["generate", "systemd", "--new", "made"]);
    let start = unit.lines().find(|l| l.starts_with("ExecStart=")).unwrap();
    assert!(
        start.ends_with("--replace -it --name made demo top"),
        "{start}"
    );
    assert!(!start.contains(&cid) && !start.contains(&pid), "{start}");
}

/// `generate systemd --template`: a template unit, `container-NAME@.service`, whose
/// instances each run a container of their own, named after the instance.
#[test]
fn a_template_unit_runs_a_container_per_instance() {
    let rpod = Rpod::with_image("runc");
    rpod.ok(&[
        "create",
        "--name",
        "web",
        "--stop-timeout",
        "1",
        "demo",
        "sleep",
        "300",
    ]);
    let units_dir = tempfile::tempdir().unwrap();
    let mut generate = rpod.command(&[
        "generate",
        "systemd",
        "--template",
        "--name",
        "--files",
        "web",
    ]);
    generate.current_dir(units_dir.path());
    let out = generate.output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let path = units_dir.path().join("container-web@.service");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        path.display().to_string()
    );
    let unit = std::fs::read_to_string(&path).unwrap();
    assert!(unit.starts_with("# container-web@.service\n"), "{unit}");
    assert!(
        unit.contains("\nDescription=rpod container-web.service for %I\n"),
        "{unit}"
    );
    let start = unit.lines().find(|l| l.starts_with("ExecStart=")).unwrap();
    assert!(
        start.ends_with("--name web-%i --stop-timeout 1 demo sleep 300"),
        "{start}"
    );
    let runtime_dir = systemd_runtime_dir(&rpod);
    let run_lines = |instance: &str, key: &str| {
        let name = format!("container-web@{instance}.service");
        run_unit_lines(&rpod, &unit, &runtime_dir, &name, key);
    };
    rpod.ok(&["rm", "web"]);
    for instance in ["one", "two"] {
        run_lines(instance, "ExecStartPre=");
        run_lines(instance, "ExecStart=");
    }
    let names = || rpod.ok(&["ps", "--format", "{{.Names}}", "--sort", "names"]);
    assert_eq!(names(), "web-one\nweb-two\n");
    let id =
        std::fs::read_to_string(format!("{runtime_dir}/container-web@one.service.ctr-id")).unwrap();
    assert_eq!(rpod.inspect("web-one", "{{.Id}}"), id.trim());
    run_lines("one", "ExecStop=");
    run_lines("one", "ExecStopPost=");
    assert_eq!(names(), "web-two\n");
    run_lines("two", "ExecStop=");
    run_lines("two", "ExecStopPost=");
    assert_eq!(rpod.ok(&["ps", "-aq"]), "");
    // A template makes new containers, and is for containers only.
    rpod.ok(&["create", "--name", "again", "demo", "true"]);
    let json = rpod.ok(&[
        "generate",
        "systemd",
        "--template",
        "--format",
        "json",
        "again",
    ]);
    let units: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(
        units
            .get(format!("container-{}@", rpod.inspect("again", "{{.Id}}")))
            .is_some(),
        "{json}"
    );
    let err = rpod.fails(
        &["generate", "systemd", "--template", "--new=false", "again"],
        125,
    );
    assert!(
        err.contains("--template cannot be set with --new=false"),
        "{err}"
    );
    rpod.ok(&["pod", "create", "--name", "grp"]);
    let err = rpod.fails(&["generate", "systemd", "--template", "grp"], 125);
    assert!(err.contains("not supported for pods"), "{err}");
}

#[test]
fn required_containers_start_first_and_outlive_their_dependents() {
    let rpod = Rpod::with_image("runc");
    rpod.ok(&["create", "--name", "db", "demo", "sleep", "300"]);
    rpod.ok(&[
        "create",
        "--name",
        "cache",
        "--requires",
        "db",
        "demo",
        "sleep",
        "300",
    ]);
    rpod.ok(&[
        "create",
        "--name",
        "app",
        "--requires",
        "cache,db",
        "demo",
        "sleep",
        "300",
    ]);
    let db = rpod.inspect("db", "{{.Id}}");
    let cache = rpod.inspect("cache", "{{.Id}}");
    assert_eq!(
        rpod.inspect("app", "{{json .Dependencies}}"),
        format!("[\"{cache}\",\"{db}\"]")
    );
    // Starting app starts what it requires, and theirs.
    rpod.ok(&["start", "app"]);
    for name in ["db", "cache", "app"] {
        assert_eq!(rpod.inspect(name, "{{.State.Status}}"), "running", "{name}");
    }
    // run too; a requirement that runs already is left as it is.
    rpod.ok(&["stop", "-t", "0", "cache"]);
    let started = rpod.inspect("db", "{{.State.StartedAt}}");
    assert_eq!(
        rpod.ok(&["run", "--rm", "--requires", "cache", "demo", "echo", "ran"]),
        "ran\n"
    );
    assert_eq!(rpod.inspect("cache", "{{.State.Status}}"), "running");
    assert_eq!(rpod.inspect("db", "{{.State.StartedAt}}"), started);
    // A required container is not removed while its dependents exist, unless with them.
    let err = rpod.fails(&["rm", "-f", "-t", "0", "db"], 125);
    assert!(err.contains("dependent containers"), "{err}");
    rpod.fails(&["create", "--requires", "nosuch", "demo", "true"], 125);
    let removed = rpod.ok(&["rm", "-f", "-t", "0", "--depend", "db"]);
    assert_eq!(removed.lines().count(), 3, "{removed}");
    assert_eq!(rpod.ok(&["ps", "-aq"]), "");
}

#[test]
fn clones_are_made_as_their_originals_were() {
    let rpod = Rpod::with_image("runc");
    let secret = rpod.dir.path().join("secret");
    std::fs::write(&secret, "s3cret").unwrap();
    rpod.ok(&["secret", "create", "pw", &secret.display().to_string()]);
    let script = "echo $A; cat /run/secrets/pw; echo; hostname; touch /anon/mine; ls /anon | wc -l; cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max";
    rpod.ok(&[
        "create",
        "--name",
        "orig",
        "-m",
        "64m",
        "-e",
        "A=1",
        "-v",
        "/anon",
        "-v",
        "shared:/s",
        "--secret",
        "pw",
        "-h",
        "myhost",
        "demo",
        "sh",
        "-c",
        script,
    ]);
    let out = rpod.ok(&["start", "-a", "orig"]);
    assert_eq!(out, format!("1\ns3cret\nmyhost\n1\n{}\n", 64u64 << 20));
    // The clone: the same command and settings, its own anonymous volume (empty), the
    // shared named one, its own copy of the secret, the limits asked for.
    let id = rpod
        .ok(&["container", "clone", "-m", "96m", "orig"])
        .trim()
        .to_string();
    assert_eq!(rpod.inspect("orig-clone", "{{.Id}}"), id);
    assert_eq!(
        rpod.ok(&["start", "-a", "orig-clone"]),
        format!("1\ns3cret\nmyhost\n1\n{}\n", 96u64 << 20)
    );
    let volume = |name: &str| {
        rpod.inspect(
            name,
            "{{range .Mounts}}{{if eq .Destination \"/anon\"}}{{.Name}}{{end}}{{end}}",
        )
    };
    assert_ne!(volume("orig"), volume("orig-clone"));
    // Named as asked, started with --run, the original removed with --destroy.
    rpod.detached(&[
        "--name",
        "server",
        "--stop-timeout",
        "1",
        "demo",
        "sleep",
        "300",
    ]);
    let err = rpod.fails(&["container", "clone", "--destroy", "server"], 125);
    assert!(err.contains("without force"), "{err}");
    rpod.fails(&["inspect", "server-clone"], 125);
    rpod.ok(&[
        "container",
        "clone",
        "--destroy",
        "--force",
        "--run",
        "server",
        "server2",
    ]);
    assert_eq!(rpod.inspect("server2", "{{.State.Status}}"), "running");
    rpod.fails(&["inspect", "server"], 125);
    // Another image; an unknown original or image is refused.
    rpod.ok(&["tag", "demo", "other"]);
    rpod.ok(&["container", "clone", "--name", "moved", "orig", "", "other"]);
    assert_eq!(
        rpod.inspect("moved", "{{.ImageName}}"),
        "localhost/other:latest"
    );
    rpod.fails(&["container", "clone", "nosuch"], 125);
    rpod.fails(&["container", "clone", "orig", "x", "nosuchimage"], 125);
}

#[test]
fn images_mount_read_only_and_unmount() {
    let rpod = Rpod::with_image("runc");
    rpod.ok(&[
        "run",
        "--name",
        "maker",
        "demo",
        "sh",
        "-c",
        "echo top > /added",
    ]);
    rpod.ok(&["commit", "maker", "layered"]);
    rpod.ok(&["rm", "maker"]);
    let mounted = |path: &str| {
        std::fs::read_to_string("/proc/mounts")
            .unwrap()
            .contains(&format!(" {path} "))
    };
    // One layer (a read-only bind) and two (a read-only overlay).
    let single = rpod.ok(&["image", "mount", "demo"]).trim().to_string();
    let layered = rpod.ok(&["image", "mount", "layered"]).trim().to_string();
    assert!(mounted(&single) && mounted(&layered));
    assert!(std::path::Path::new(&single).join("bin/busybox").exists());
    assert_eq!(
        std::fs::read_to_string(format!("{layered}/added")).unwrap(),
        "top\n"
    );
    assert!(std::path::Path::new(&layered).join("bin/busybox").exists());
    for path in [&single, &layered] {
        let err = std::fs::write(format!("{path}/new"), "x").unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EROFS), "{path}");
    }
    // Mounting again gives the same place; the listing shows both.
    assert_eq!(rpod.ok(&["image", "mount", "demo"]).trim(), single);
    let listing = rpod.ok(&["image", "mount"]);
    assert!(
        listing.contains(&format!("localhost/demo:latest {single}")),
        "{listing}"
    );
    assert!(
        listing.contains(&format!("localhost/layered:latest {layered}")),
        "{listing}"
    );
    // A mounted image is in use for prune; rmi undoes the mount with it.
    rpod.ok(&["untag", "layered"]);
    assert_eq!(rpod.ok(&["image", "prune", "-f"]), "");
    let id = std::path::Path::new(&layered)
        .file_name()
        .unwrap()
        .to_string_lossy()
        .to_string();
    rpod.ok(&["rmi", &id]);
    assert!(!mounted(&layered));
    // Unmounting says the image's ID; again, there is nothing to undo and nothing said.
    let demo_id = rpod.ok(&["image", "inspect", "--format", "{{.Id}}", "demo"]);
    assert_eq!(rpod.ok(&["image", "unmount", "demo"]), demo_id);
    assert!(!mounted(&single));
    assert_eq!(rpod.ok(&["image", "unmount", "demo"]), "");
    assert_eq!(rpod.ok(&["image", "mount"]), "");
    rpod.fails(&["image", "mount", "nosuch"], 125);
    rpod.fails(&["image", "unmount"], 125);
    // --all both ways.
    rpod.ok(&["image", "mount", "--all"]);
    assert!(mounted(&single));
    rpod.ok(&["image", "unmount", "--all"]);
    assert!(!mounted(&single));
}

#[test]
fn image_diffs_show_the_top_layers_changes() {
    let rpod = Rpod::with_image("runc");
    rpod.ok(&[
        "run",
        "--name",
        "maker",
        "demo",
        "sh",
        "-c",
        "echo x > /new; echo y >> /etc/passwd; rm /etc/group",
    ]);
    rpod.ok(&["commit", "maker", "changed"]);
    let lines = |out: String| out.lines().map(String::from).collect::<Vec<_>>();
    let diff = lines(rpod.ok(&["image", "diff", "changed"]));
    for expected in ["A /new", "C /etc/passwd", "D /etc/group", "C /etc"] {
        assert!(diff.iter().any(|l| l == expected), "{expected} in {diff:?}");
    }
    // The mount points rpod made in the container (the image has no /etc/hosts, no /run)
    // are not committed.
    for placeholder in [
        "/etc/hosts",
        "/etc/hostname",
        "/etc/resolv.conf",
        "/run",
        "/run/.containerenv",
        "/dev/shm",
    ] {
        assert!(
            !diff.iter().any(|l| l.ends_with(&format!(" {placeholder}"))),
            "{placeholder} in {diff:?}"
        );
    }
    // The /etc/mtab link rpod made is committed, as podman's commit keeps it, and not
    // shown, as podman's diff never shows it (nor /dev, /proc, /sys, /run, ...).
    assert!(!diff.iter().any(|l| l.ends_with(" /etc/mtab")), "{diff:?}");
    let root = rpod.ok(&["image", "mount", "changed"]);
    let link = std::fs::read_link(std::path::Path::new(root.trim()).join("etc/mtab")).unwrap();
    assert_eq!(link, std::path::Path::new("/proc/mounts"));
    rpod.ok(&["image", "unmount", "changed"]);
    // `diff` takes an image when no container has the name; json as for containers.
    assert_eq!(lines(rpod.ok(&["diff", "changed"])), diff);
    let json: serde_json::Value =
        serde_json::from_str(&rpod.ok(&["image", "diff", "--format", "json", "changed"])).unwrap();
    assert_eq!(json["deleted"], serde_json::json!(["/etc/group"]));
    // A one-layer image adds all it has.
    let base = lines(rpod.ok(&["image", "diff", "demo"]));
    assert!(
        base.iter().all(|l| l.starts_with("A /")) && base.iter().any(|l| l == "A /bin/busybox")
    );
    for never in ["A /dev", "A /proc", "A /sys"] {
        assert!(!base.iter().any(|l| l == never), "{never} in {base:?}");
    }
    // A container of the name wins; an unknown name is no container.
    rpod.ok(&["create", "--name", "changed", "demo", "true"]);
    assert_eq!(rpod.ok(&["diff", "changed"]), "");
    let err = rpod.fails(&["diff", "nothing"], 125);
    assert!(err.contains("no container"), "{err}");
    rpod.fails(&["image", "diff", "nothing"], 125);
}

/// `diff A B`, `image diff A B`: what makes B's file system A's, for images and
/// containers alike.
#[test]
fn diffs_compare_two_images_or_containers() {
    let rpod = Rpod::with_image("runc");
    rpod.ok(&[
        "run",
        "--name",
        "one",
        "demo",
        "sh",
        "-c",
        "mkdir -p /data/sub && echo 1 > /data/sub/f && echo y >> /etc/passwd && rm /etc/group",
    ]);
    rpod.ok(&["commit", "one", "first"]);
    rpod.ok(&[
        "run",
        "--name",
        "two",
        "first",
        "sh",
        "-c",
        "rm -r /data && echo z > /etc/motd",
    ]);
    rpod.ok(&["commit", "two", "second"]);
    let lines = |out: String| out.lines().map(String::from).collect::<Vec<_>>();
    // A deleted directory is listed once; a directory with changes below it is changed.
    assert_eq!(
        lines(rpod.ok(&["image", "diff", "second", "first"])),
        ["D /data", "C /etc", "A /etc/motd"]
    );
    let from_demo = lines(rpod.ok(&["image", "diff", "first", "demo"]));
    for expected in [
        "A /data",
        "A /data/sub",
        "A /data/sub/f",
        "C /etc",
        "D /etc/group",
        "C /etc/passwd",
    ] {
        assert!(
            from_demo.iter().any(|l| l == expected),
            "{expected} in {from_demo:?}"
        );
    }
    // The other way round, and `diff` with --format json.
    let json: serde_json::Value =
        serde_json::from_str(&rpod.ok(&["diff", "--format", "json", "demo", "first"])).unwrap();
    // (The commit kept the /etc/mtab link the container got, as podman's commit keeps it;
    // podman's diff never shows it.)
    assert_eq!(json["deleted"], serde_json::json!(["/data"]));
    assert_eq!(json["added"], serde_json::json!(["/etc/group"]));
    // An image against itself has no changes.
    assert_eq!(rpod.ok(&["image", "diff", "first", "first"]), "");
    // Containers: their image's files with their own changes, rpod's mount points left out.
    let containers = lines(rpod.ok(&["diff", "two", "one"]));
    for expected in ["D /data", "A /etc/motd"] {
        assert!(
            containers.iter().any(|l| l == expected),
            "{expected} in {containers:?}"
        );
    }
    assert!(
        !containers.iter().any(|l| l.ends_with("/etc/hosts")
            || l.ends_with("/.containerenv")
            || l.ends_with(" /run")),
        "{containers:?}"
    );
    let against_image = lines(rpod.ok(&["container", "diff", "two", "one"]));
    assert_eq!(against_image, containers);
    let latest = lines(rpod.ok(&["diff", "-l", "demo"]));
    assert!(latest.iter().any(|l| l == "A /etc/motd"), "{latest:?}");
    assert_eq!(
        lines(rpod.ok(&["diff", "two", "demo"])),
        lines(rpod.ok(&["diff", "-l", "demo"]))
    );
    // Names that are not what the command compares, and too many names.
    let err = rpod.fails(&["image", "diff", "first", "nothing"], 125);
    assert!(err.contains("nothing"), "{err}");
    let err = rpod.fails(&["container", "diff", "two", "demo"], 125);
    assert!(err.contains("no container"), "{err}");
    rpod.fails(&["diff", "one", "two", "first"], 125);
}

#[test]
fn commits_squash_and_include_volumes() {
    let rpod = Rpod::with_image("runc");
    rpod.ok(&[
        "run",
        "--name",
        "maker",
        "-v",
        "/data",
        "-v",
        "named:/named",
        "demo",
        "sh",
        "-c",
        "echo x > /new; rm /etc/group",
    ]);
    rpod.ok(&["commit", "maker", "plain"]);
    rpod.ok(&[
        "commit",
        "--squash",
        "--include-volumes",
        "maker",
        "squashed",
    ]);
    let layers = |image: &str| rpod.inspect(image, "{{len .RootFS.Layers}}");
    assert_eq!(layers("demo"), "1");
    assert_eq!(layers("plain"), "2");
    assert_eq!(layers("squashed"), "1");
    assert_eq!(rpod.inspect("squashed", "{{len .History}}"), "1");
    // The squashed image has the whole tree with the changes made.
    assert_eq!(
        rpod.ok(&[
            "run",
            "--rm",
            "squashed",
            "sh",
            "-c",
            "cat /new; ls /etc/group 2>&1 || true; ls /bin/busybox"
        ]),
        "x\nls: /etc/group: No such file or directory\n/bin/busybox\n"
    );
    // --include-volumes: the container's volume paths are the image's.
    assert_eq!(
        rpod.inspect("squashed", "{{json .Config.Volumes}}"),
        r#"{"/data":{},"/named":{}}"#
    );
    // Without it, none: the image's config has no Volumes (a template reads it as empty).
    let plain: serde_json::Value =
        serde_json::from_str(&rpod.ok(&["image", "inspect", "plain"])).unwrap();
    assert!(plain[0]["Config"].get("Volumes").is_none(), "{plain}");
    assert_eq!(rpod.inspect("plain", "{{len .Config.Volumes}}"), "0");
    // The image saves and loads again as one layer.
    let archive = rpod.dir.path().join("squashed.tar").display().to_string();
    rpod.ok(&["save", "-o", &archive, "squashed"]);
    rpod.ok(&["rmi", "squashed"]);
    rpod.ok(&["load", "-i", &archive]);
    assert_eq!(layers("squashed"), "1");
    let err = rpod.fails(&["commit", "--format", "v2s1", "maker", "dockerish"], 125);
    assert!(err.contains("oci or docker"), "{err}");
}

/// `inspect` prints a struct's fields in podman's order (`Id` first), and maps (labels)
/// sorted by key, as Go's encoder writes them.
#[test]
fn inspect_prints_fields_in_podmans_order_and_maps_sorted() {
    let rpod = Rpod::with_image("runc");
    let tarball = busybox_tarball().display().to_string();
    let mut import = vec!["import"];
    for label in [
        "LABEL zeta=1",
        "LABEL alpha=2",
        "LABEL mid=3",
        "LABEL beta=4",
    ] {
        import.extend(["--change", label]);
    }
    import.extend([tarball.as_str(), "labelled"]);
    rpod.ok(&import);
    let in_order = |text: &str, words: &[&str]| {
        let at: Vec<usize> = words
            .iter()
            .map(|w| text.find(w).unwrap_or_else(|| panic!("{w} in {text}")))
            .collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "{words:?} in {text}");
    };
    let image = rpod.ok(&["image", "inspect", "labelled"]);
    in_order(
        &image,
        &[
            "\"Id\"",
            "\"Digest\"",
            "\"RepoTags\"",
            "\"Created\"",
            "\"Config\"",
        ],
    );
    in_order(&image, &["\"alpha\"", "\"beta\"", "\"mid\"", "\"zeta\""]);
    rpod.ok(&[
        "create", "--name", "ordered", "--label", "b=1", "--label", "a=2", "labelled", "true",
    ]);
    let container = rpod.ok(&["inspect", "ordered"]);
    in_order(
        &container,
        &[
            "\"Id\"",
            "\"Created\"",
            "\"Path\"",
            "\"State\"",
            "\"Image\"",
        ],
    );
    in_order(
        &container,
        &["\"a\": \"2\"", "\"alpha\"", "\"b\": \"1\"", "\"beta\""],
    );
}

#[test]
fn image_filters_combine_as_podmans() {
    let rpod = Rpod::with_image("runc");
    let tarball = busybox_tarball().display().to_string();
    rpod.ok(&["import", "--change", "LABEL tier=web", &tarball, "web"]);
    rpod.ok(&[
        "import",
        "--change",
        "LABEL tier=db",
        "--change",
        "LABEL keep=yes",
        &tarball,
        "db",
    ]);
    let names = |filters: &[&str]| {
        let mut args = vec![
            "images",
            "--format",
            "{{.Repository}}",
            "--sort",
            "repository",
        ];
        for f in filters {
            args.extend_from_slice(&["--filter", f]);
        }
        rpod.ok(&args)
            .lines()
            .map(String::from)
            .collect::<Vec<_>>()
            .join(",")
    };
    // Values of one key are alternatives; labels must all hold; label! none.
    assert_eq!(
        names(&["reference=web", "reference=db"]),
        "localhost/db,localhost/web"
    );
    assert_eq!(names(&["label=tier", "label=keep"]), "localhost/db");
    assert_eq!(names(&["label!=tier"]), "localhost/demo");
    assert_eq!(names(&["reference=localhost/web:latest"]), "localhost/web");
    assert_eq!(names(&["since=demo", "label!=keep"]), "localhost/web");
    // podman's until= (made before it) and after= (since's other name).
    assert_eq!(names(&["until=1h"]), "");
    assert_eq!(names(&["after=demo", "label!=keep"]), "localhost/web");
    for bad in ["until=soon", "colour=red", "dangling=maybe", "reference"] {
        rpod.fails(&["images", "--filter", bad], 125);
    }
    // prune's: label!, until.
    rpod.ok(&["untag", "web"]);
    rpod.ok(&["untag", "db"]);
    assert_eq!(
        rpod.ok(&["image", "prune", "-f", "--filter", "label!=keep"])
            .lines()
            .count(),
        1
    );
    assert_eq!(rpod.ok(&["images", "-q"]).lines().count(), 2);
    rpod.fails(&["image", "prune", "-f", "--filter", "reference=demo"], 125);
}

#[test]
fn cleanup_for_users_removes_as_asked() {
    // Names that no ID can start with (a one-letter hex name could be another's prefix).
    let rpod = Rpod::with_image("runc");
    let tarball = busybox_tarball().display().to_string();
    rpod.ok(&["import", "--change", "LABEL own=1", &tarball, "own"]);
    rpod.ok(&["run", "--name", "first", "demo", "true"]);
    rpod.ok(&["run", "--name", "second", "own", "true"]);
    rpod.detached(&["--name", "up", "demo", "sleep", "300"]);
    // --all: every exited container, cleaned; running ones are left alone.
    rpod.ok(&["container", "cleanup", "--all"]);
    assert_eq!(rpod.inspect("up", "{{.State.Status}}"), "running");
    // --rm removes the container; --rmi its image too.
    rpod.ok(&["container", "cleanup", "--rm", "first"]);
    rpod.fails(&["inspect", "--type", "container", "first"], 125);
    rpod.ok(&["container", "cleanup", "--rmi", "second"]);
    rpod.fails(&["inspect", "--type", "container", "second"], 125);
    assert_eq!(
        rpod.ok(&["images", "--format", "{{.Repository}}"]),
        "localhost/demo\n"
    );
    // --latest; --exec needs its one container; an unknown one is nothing to clean.
    rpod.ok(&["run", "--name", "third", "demo", "true"]);
    rpod.ok(&["container", "cleanup", "--latest", "--rm"]);
    rpod.fails(&["inspect", "--type", "container", "third"], 125);
    rpod.fails(&["container", "cleanup", "--exec", "abc"], 125);
    rpod.ok(&["container", "cleanup", "nosuch"]);
}

#[test]
fn a_pods_new_units_make_the_pod_and_its_container_again() {
    let rpod = Rpod::with_image("crun");
    rpod.ok(&["pod", "create", "--name", "site", "--label", "tier=web"]);
    rpod.ok(&[
        "create",
        "--pod",
        "site",
        "--name",
        "app",
        "--stop-timeout",
        "1",
        "demo",
        "sleep",
        "300",
    ]);
    let units_dir = tempfile::tempdir().unwrap();
    let mut generate = rpod.command(&[
        "generate", "systemd", "--new", "--name", "--files", "-t", "1", "site",
    ]);
    generate.current_dir(units_dir.path());
    let out = generate.output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let read = |name: &str| std::fs::read_to_string(units_dir.path().join(name)).unwrap();
    let pod_unit = read("pod-site.service");
    let app_unit = read("container-app.service");
    assert!(
        pod_unit.contains("\nWants=container-app.service\nBefore=container-app.service\n"),
        "{pod_unit}"
    );
    assert!(pod_unit.contains("--exit-policy=stop"), "{pod_unit}");
    assert!(
        app_unit.contains("--pod-id-file %t/pod-site.pod-id"),
        "{app_unit}"
    );
    assert!(!app_unit.contains("--pod site"), "{app_unit}");
    let runtime_dir = systemd_runtime_dir(&rpod);
    let run_unit_lines = |unit: &str, name: &str, key: &str| {
        run_unit_lines(&rpod, unit, &runtime_dir, name, key);
    };
    // What the units replace goes first, as a stopped service would have left nothing.
    rpod.ok(&["pod", "rm", "-f", "site"]);
    for round in 0..2 {
        run_unit_lines(&pod_unit, "pod-site.service", "ExecStartPre=");
        run_unit_lines(&pod_unit, "pod-site.service", "ExecStart=");
        run_unit_lines(&app_unit, "container-app.service", "ExecStartPre=");
        run_unit_lines(&app_unit, "container-app.service", "ExecStart=");
        let pod_id = std::fs::read_to_string(format!("{runtime_dir}/pod-site.pod-id")).unwrap();
        assert_eq!(
            rpod.inspect("app", "{{.Pod}}"),
            pod_id.trim(),
            "round {round}"
        );
        assert_eq!(rpod.inspect("app", "{{.State.Status}}"), "running");
        let monitor: i32 = std::fs::read_to_string(format!("{runtime_dir}/pod-site.pid"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(pid_alive(monitor));
        let labels = rpod.ok(&[
            "pod",
            "inspect",
            "--format",
            "{{.Labels}} {{.ExitPolicy}}",
            "site",
        ]);
        assert_eq!(labels.trim(), "map[tier:web] stop");
        // systemd stops the bound container's unit first, then the pod's.
        run_unit_lines(&app_unit, "container-app.service", "ExecStop=");
        run_unit_lines(&app_unit, "container-app.service", "ExecStopPost=");
        run_unit_lines(&pod_unit, "pod-site.service", "ExecStop=");
        run_unit_lines(&pod_unit, "pod-site.service", "ExecStopPost=");
        assert_eq!(rpod.ok(&["pod", "ps", "-q"]), "");
        assert_eq!(rpod.ok(&["ps", "-aq"]), "");
    }
}

#[test]
fn runlabel_runs_an_image_s_label_on_this_store() {
    let rpod = Rpod::new("runc");
    rpod.ok(&[
        "import",
        "--change",
        "LABEL RUN=\"podman run --rm --name NAME -e WHO=${NAME} IMAGE echo NAME from $IMAGE\"",
        "--change",
        "LABEL INSTALL=/bin/false",
        "--change",
        "LABEL DETACH=\"podman run -d --name NAME IMAGE sleep 1000\"",
        busybox_tarball().to_str().unwrap(),
        "labelled",
    ]);
    // `podman` in the label is this rpod on this store; NAME and IMAGE are put in.
    assert_eq!(
        rpod.ok(&["container", "runlabel", "run", "labelled"]),
        "labelled from labelled\n"
    );
    assert_eq!(
        rpod.ok(&["container", "runlabel", "--name", "web", "RUN", "labelled"]),
        "web from labelled\n"
    );
    let shown = rpod.ok(&[
        "container",
        "runlabel",
        "--display",
        "RUN",
        "labelled",
        "extra",
    ]);
    assert!(
        shown.starts_with("command: ")
            && shown.contains(&format!("--root {}", rpod.root().display()))
            && shown
                .trim_end()
                .ends_with("run --rm --name labelled -e WHO=labelled labelled echo labelled from labelled extra"),
        "{shown}"
    );
    // The command's exit code is runlabel's.
    assert_eq!(
        rpod.run(&["container", "runlabel", "INSTALL", "labelled"])
            .status
            .code(),
        Some(1)
    );
    // --replace removes a container of the name first.
    rpod.ok(&["container", "runlabel", "DETACH", "labelled"]);
    let again = rpod.run(&["container", "runlabel", "DETACH", "labelled"]);
    assert_eq!(again.status.code(), Some(125), "the name was free");
    rpod.ok(&["container", "runlabel", "--replace", "DETACH", "labelled"]);
    assert_eq!(all_names(&rpod), "labelled\n");
    rpod.ok(&["rm", "-f", "-t", "0", "labelled"]);
    let err = rpod.fails(&["container", "runlabel", "UNINSTALL", "labelled"], 125);
    assert!(
        err.contains("cannot find the value of label: UNINSTALL in image: labelled"),
        "{err}"
    );
    let err = rpod.fails(&["container", "runlabel", "RUN", "nothing-here"], 125);
    assert!(err.contains("nothing-here"), "{err}");
}

/// `system migrate`: every running container is stopped (podman's `stopped ID` lines), a
/// pod's by its pod; with `--new-runtime`, every container runs on that runtime from then
/// on. An unknown runtime is refused before anything is stopped. `system renumber` has
/// nothing to do.
#[test]
fn system_migrate_stops_containers_and_moves_them_to_another_runtime() {
    let rpod = Rpod::with_image("runc");
    let busy = rpod.ok(&[
        "run",
        "-d",
        "--name",
        "busy",
        "--stop-signal",
        "KILL",
        "demo",
        "sleep",
        "1000",
    ]);
    let busy = busy.trim().to_string();
    rpod.ok(&["create", "--name", "idle", "demo", "true"]);
    rpod.ok(&["pod", "create", "--name", "team"]);
    let member = rpod.ok(&[
        "run",
        "-d",
        "--pod",
        "team",
        "--name",
        "member",
        "--stop-signal",
        "KILL",
        "demo",
        "sleep",
        "1000",
    ]);
    let member = member.trim().to_string();

    let err = rpod.fails(
        &["system", "migrate", "--new-runtime", "nosuchruntime"],
        125,
    );
    assert!(err.contains("nosuchruntime"), "{err}");
    assert_eq!(rpod.inspect("busy", "{{.State.Status}}"), "running");

    let out = rpod.ok(&["system", "migrate", "--new-runtime", "crun"]);
    for id in [&busy, &member] {
        assert!(out.lines().any(|l| l == format!("stopped {id}")), "{out}");
    }
    for name in ["busy", "idle", "member"] {
        let status = rpod.inspect(name, "{{.State.Status}}");
        assert!(
            status == "exited" || status == "created",
            "{name}: {status}"
        );
        assert_eq!(rpod.inspect(name, "{{.OCIRuntime}}"), "crun", "{name}");
    }
    // Started again, it runs on crun.
    rpod.ok(&["start", "busy"]);
    let states = rpod.runroot().join("runtimes");
    assert!(states.join("crun").join(&busy).exists());
    assert!(!states.join("runc").join(&busy).exists());
    rpod.ok(&["rm", "-f", "-t", "0", "busy"]);
    rpod.ok(&["pod", "rm", "-f", "-t", "0", "team"]);

    let out = rpod.command(&["system", "renumber"]).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing to renumber"));
}

/// `inspect` has podman's fields for what a container was made with: its binds (a volume
/// by name), tmpfs mounts, limits, devices, `/dev/shm` size, added groups, namespaces,
/// capabilities, its overlay's directories, and the files made for its `/etc` once it
/// ran; a pod's infra container says so.
#[test]
fn inspect_shows_podmans_fields_for_what_a_container_was_made_with() {
    let rpod = Rpod::with_image("crun");
    let host_dir = rpod.dir.path().join("host");
    std::fs::create_dir_all(&host_dir).unwrap();
    let bind = format!("{}:/ht", host_dir.display());
    rpod.ok(&["volume", "create", "data"]);
    rpod.ok(&[
        "create",
        "--name",
        "made",
        "-v",
        &bind,
        "-v",
        "data:/data:ro",
        "--tmpfs",
        "/scratch",
        "--ulimit",
        "nofile=100:200",
        "--device",
        "/dev/null:/dev/xnull",
        "--shm-size",
        "32m",
        "--group-add",
        "10",
        "--cap-add",
        "NET_ADMIN",
        "--cap-drop",
        "CHOWN",
        "demo",
        "true",
    ]);
    let view: serde_json::Value = serde_json::from_str(&rpod.ok(&["inspect", "made"])).unwrap();
    let view = &view[0];
    let host = &view["HostConfig"];
    let binds: Vec<&str> = host["Binds"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|b| b.as_str())
        .collect();
    assert!(
        binds.iter().any(|b| b.starts_with(&format!("{bind}:")))
            && binds
                .iter()
                .any(|b| b.starts_with("data:/data:") && b.contains("ro")),
        "{binds:?}"
    );
    assert!(host["Tmpfs"]["/scratch"].as_str().is_some(), "{host}");
    assert_eq!(
        host["Ulimits"],
        serde_json::json!([{"Name": "RLIMIT_NOFILE", "Soft": 100, "Hard": 200}])
    );
    assert_eq!(host["Devices"][0]["PathInContainer"], "/dev/xnull");
    assert_eq!(host["ShmSize"], 32 << 20);
    assert_eq!(host["GroupAdd"], serde_json::json!(["10"]));
    assert_eq!(
        (&host["PidMode"], &host["UTSMode"]),
        (&serde_json::json!("private"), &serde_json::json!("private"))
    );
    let caps = view["EffectiveCaps"].as_array().unwrap();
    assert!(
        caps.contains(&serde_json::json!("CAP_NET_ADMIN")),
        "{caps:?}"
    );
    assert!(!caps.contains(&serde_json::json!("CAP_CHOWN")), "{caps:?}");
    assert_eq!(view["BoundingCaps"], view["EffectiveCaps"]);
    assert_eq!(view["IsInfra"], false);
    // Without a health check, podman's empty health: a template finds its fields.
    assert_eq!(rpod.inspect("made", "[{{.State.Health.Status}}]"), "[]");
    // Made at the first start: the files rpod writes for /etc, the overlay's directories.
    assert_eq!(view["HostnamePath"], "");
    // The image's layers are there from the start (topmost first, as overlayfs takes them).
    let data = view["GraphDriver"]["Data"].as_object().unwrap();
    assert_eq!(data.keys().collect::<Vec<_>>(), ["LowerDir"], "{data:?}");
    let lower = data["LowerDir"].as_str().unwrap();
    assert!(
        lower
            .split(':')
            .all(|dir| std::path::Path::new(dir).join("bin").is_dir()),
        "{lower}"
    );
    let digest = rpod.ok(&["image", "inspect", "--format", "{{.Digest}}", "demo"]);
    assert_eq!(view["ImageDigest"], digest.trim());
    assert_eq!(
        (&view["IsService"], &view["Namespace"]),
        (&serde_json::json!(false), &serde_json::json!(""))
    );
    rpod.ok(&["start", "made"]);
    let hostname = rpod.inspect("made", "{{.HostnamePath}}");
    assert!(std::path::Path::new(&hostname).is_file(), "{hostname}");
    let upper = rpod.inspect("made", "{{.GraphDriver.Data.UpperDir}}");
    assert!(std::path::Path::new(&upper).is_dir(), "{upper}");
    rpod.ok(&["pod", "create", "--name", "holder"]);
    let infra = rpod.ok(&[
        "pod",
        "inspect",
        "--format",
        "{{.InfraContainerID}}",
        "holder",
    ]);
    assert_eq!(rpod.inspect(infra.trim(), "{{.IsInfra}}"), "true");
}

/// podman's shell secret driver: the data kept by the commands given (here files in a
/// directory of the test's, named by `SECRET_ID`), read by `lookup` when a container is
/// made, deleted by `delete` at `secret rm`; inspect shows the driver and its commands.
#[test]
fn the_shell_secret_driver_keeps_the_data_with_its_commands() {
    let rpod = Rpod::with_image("runc");
    let kept = tempfile::tempdir().unwrap();
    let at = kept.path().display().to_string();
    let file = rpod.dir.path().join("value");
    std::fs::write(&file, "kept elsewhere").unwrap();
    let store = format!("store=cat > {at}/$SECRET_ID");
    let lookup = format!("lookup=cat {at}/$SECRET_ID");
    let delete = format!("delete=rm {at}/$SECRET_ID");
    let list = format!("list=ls {at}");
    let mut args = vec!["secret", "create", "--driver", "shell"];
    for option in [&store, &lookup, &delete, &list] {
        args.extend(["--driver-opts", option.as_str()]);
    }
    let file_arg = file.display().to_string();
    args.extend(["tok", file_arg.as_str()]);
    let id = rpod.ok(&args);
    let id = id.trim();
    assert_eq!(
        std::fs::read_to_string(kept.path().join(id)).unwrap(),
        "kept elsewhere"
    );
    assert!(!rpod.root().join(format!("secrets/{id}.data")).exists());
    assert_eq!(
        rpod.ok(&[
            "secret",
            "inspect",
            "--format",
            "{{.Spec.Driver.Name}} {{.Spec.Driver.Options.list}}",
            "tok"
        ]),
        format!("shell ls {at}\n")
    );
    assert_eq!(
        rpod.ok(&[
            "run",
            "--rm",
            "--secret",
            "tok",
            "demo",
            "cat",
            "/run/secrets/tok"
        ]),
        "kept elsewhere"
    );
    rpod.ok(&["secret", "rm", "tok"]);
    assert!(!kept.path().join(id).exists());
    // Without one of its commands, or with an unknown option, it is refused.
    let err = rpod.fails(
        &[
            "secret",
            "create",
            "--driver",
            "shell",
            "--driver-opts",
            &store,
            "x",
            &file_arg,
        ],
        125,
    );
    assert!(err.contains("needs its"), "{err}");
    let err = rpod.fails(
        &["secret", "create", "--driver", "vault", "x", &file_arg],
        125,
    );
    assert!(err.contains("the secret driver \"vault\""), "{err}");
    // The file driver's path: the data in that directory.
    let dir = kept.path().join("files");
    let path_opt = format!("path={}", dir.display());
    let id = rpod
        .ok(&[
            "secret",
            "create",
            "--driver",
            "file",
            "--driver-opts",
            &path_opt,
            "filed",
            &file_arg,
        ])
        .trim()
        .to_string();
    assert!(dir.join(format!("{id}.data")).exists());
    rpod.ok(&["secret", "rm", "filed"]);
    assert!(!dir.join(format!("{id}.data")).exists());
    assert_eq!(rpod.ok(&["secret", "ls", "-q"]), "");
    // rpod.conf's [secrets]: the driver and options a create without --driver gets.
    rpod.set_config(&format!(
        "[secrets]\ndriver = \"file\"\n[secrets.opts]\npath = \"{}\"\n",
        dir.display()
    ));
    let id = rpod.ok(&["secret", "create", "configured", &file_arg]);
    assert!(dir.join(format!("{}.data", id.trim())).exists());
    assert_eq!(
        rpod.ok(&[
            "secret",
            "inspect",
            "--format",
            "{{.Spec.Driver.Options.path}}",
            "configured"
        ]),
        format!("{}\n", dir.display())
    );
    rpod.ok(&["secret", "rm", "configured"]);
}

/// What bash offers for `words` (the last being completed) after `rpod` and this store's
/// flags, with the script of `rpod completion bash` sourced. The store is named on the line
/// and in the variables, so that the user's is never read.
fn bash_offers(rpod: &Rpod, words: &[&str]) -> String {
    let script = rpod.dir.path().join("rpod.bash");
    if !script.exists() {
        rpod.ok(&["completion", "bash", "-f", &script.display().to_string()]);
    }
    let root = rpod.root().display().to_string();
    let runroot = rpod.runroot().display().to_string();
    let mut line = vec!["rpod", "--root", &root, "--runroot", &runroot];
    line.extend_from_slice(words);
    let (config, root, runroot) = (rpod.config_path(), rpod.root(), rpod.runroot());
    bash_completion(
        &script,
        &line,
        &[
            ("RPOD_CONFIG", config.as_os_str()),
            ("RPOD_ROOT", root.as_os_str()),
            ("RPOD_RUNROOT", runroot.as_os_str()),
        ],
    )
}

#[test]
fn shell_completion_offers_the_stores_names() {
    let rpod = Rpod::with_image("runc");
    rpod.ok(&["create", "--name", "web", "demo", "true"]);
    rpod.ok(&["create", "--name", "worker", "demo", "true"]);
    rpod.ok(&["volume", "create", "wvol"]);
    rpod.ok(&["pod", "create", "--infra=false", "--name", "wpod"]);
    rpod.ok(&["secret", "create", "wsecret", "/etc/hostname"]);
    assert_eq!(bash_offers(&rpod, &["rm", "w"]), "web worker");
    assert_eq!(bash_offers(&rpod, &["rm", "web", "w"]), "web worker");
    assert_eq!(bash_offers(&rpod, &["container", "inspect", "we"]), "web");
    // The container of exec, then the command: no names for that (nor for a flag's value).
    assert_eq!(bash_offers(&rpod, &["exec", "-it", "w"]), "web worker");
    assert_eq!(
        bash_offers(&rpod, &["exec", "-u", "root", "w"]),
        "web worker"
    );
    assert_eq!(bash_offers(&rpod, &["exec", "web", "w"]), "");
    assert_eq!(bash_offers(&rpod, &["exec", "-u", "w"]), "");
    assert_eq!(bash_offers(&rpod, &["run", "--rm", "de"]), "demo:latest");
    assert_eq!(bash_offers(&rpod, &["run", "--rm", "demo", "de"]), "");
    assert_eq!(bash_offers(&rpod, &["rmi", "lo"]), "localhost/demo:latest");
    assert_eq!(bash_offers(&rpod, &["volume", "rm", "w"]), "wvol");
    // Flags whose values are names.
    assert_eq!(
        bash_offers(&rpod, &["run", "--volumes-from", "w"]),
        "web worker"
    );
    assert_eq!(bash_offers(&rpod, &["run", "-v", "w"]), "wvol");
    assert_eq!(bash_offers(&rpod, &["create", "--pod", "w"]), "wpod");
    assert_eq!(bash_offers(&rpod, &["run", "--network", "no"]), "none");
    assert_eq!(bash_offers(&rpod, &["run", "--secret", "w"]), "wsecret");
    assert_eq!(bash_offers(&rpod, &["volume", "create", "w"]), "");
    assert_eq!(bash_offers(&rpod, &["pod", "rm", "w"]), "wpod");
    assert_eq!(bash_offers(&rpod, &["secret", "inspect", "w"]), "wsecret");
    assert_eq!(
        bash_offers(&rpod, &["inspect", "w"]),
        "web worker wpod wvol"
    );
    // A short ID, once what is typed is one's start.
    let id = rpod.ok(&["create", "demo", "true"]);
    assert_eq!(bash_offers(&rpod, &["rm", &id[..4]]), id[..12]);
    // A store that does not exist is not made by a completion.
    let missing = rpod.dir.path().join("no-store");
    let missing = missing.display().to_string();
    assert_eq!(bash_offers(&rpod, &["--root", &missing, "rm", "w"]), "");
    assert!(!rpod.dir.path().join("no-store").exists());
}
