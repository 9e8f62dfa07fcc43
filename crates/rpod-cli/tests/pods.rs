//! Pods end to end on runc and crun: made with their infra container, whose namespaces
//! their containers share, and started, stopped, killed and removed together.

mod common;

use common::*;

/// A running container's namespace of `kind` (`net:[4026532181]`).
fn namespace(rpod: &Rpod, name: &str, kind: &str) -> String {
    rpod.ok(&["exec", name, "readlink", &format!("/proc/self/ns/{kind}")])
        .trim()
        .to_string()
}

/// The names of a pod's containers but its infra container, sorted.
fn members(rpod: &Rpod, pod: &str) -> Vec<String> {
    let filter = format!("pod={pod}");
    rpod.ok(&[
        "ps",
        "-a",
        "--filter",
        &filter,
        "--format",
        "{{.Names}}",
        "--sort",
        "names",
    ])
    .lines()
    .filter(|n| !n.ends_with("-infra"))
    .map(String::from)
    .collect()
}

fn pod_field(rpod: &Rpod, pod: &str, template: &str) -> String {
    rpod.ok(&["pod", "inspect", "--format", template, pod])
        .trim()
        .to_string()
}

fn check_pod_lifecycle(runtime: &str) {
    let rpod = Rpod::with_image(runtime);
    // No pod: an empty report, and no latest pod to show (podman's).
    let json = ["pod", "stats", "--no-stream", "--format", "json"];
    assert_eq!(rpod.ok(&json), "[]\n");
    let err = rpod.fails(&["pod", "stats", "--no-stream", "-l"], 125);
    assert!(err.contains("no pod to show"), "{err}");
    let id = rpod.ok(&["pod", "create", "--name", "web", "--label", "team=a"]);
    let id = id.trim();
    assert_eq!(id.len(), 64, "{id}");
    assert!(id.chars().all(|c| c.is_ascii_hexdigit()), "{id}");
    assert_eq!(pod_field(&rpod, "web", "{{.State}}"), "Created");
    // Nothing runs yet: the infra container's row has no readings (`--`), as podman's.
    let unread = rpod.ok(&[
        "pod",
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}} {{.CPU}} {{.MemUsage}} {{.Mem}} {{.NetIO}} {{.PIDS}}",
        "web",
    ]);
    assert_eq!(
        unread,
        format!("{}-infra -- -- / -- -- -- / -- --\n", &id[..12])
    );
    let infra = pod_field(&rpod, "web", "{{.InfraContainerID}}");
    assert_eq!(
        rpod.inspect(&infra, "{{.Name}}"),
        format!("{}-infra", &id[..12])
    );
    rpod.detached(&["--name", "pod-a", "--pod", "web", "demo", "sleep", "1000"]);
    rpod.detached(&["--name", "pod-b", "--pod", id, "demo", "sleep", "1000"]);
    // A pod's containers' events name the pod, as podman's `PodID`.
    let created = rpod.ok(&[
        "events",
        "--stream=false",
        "--filter",
        "event=create",
        "--filter",
        "container=pod-a",
        "--format",
        "{{.Name}} {{.PodID}}",
    ]);
    assert_eq!(created, format!("pod-a {id}\n"));
    let shares = |rpod: &Rpod| {
        for kind in ["net", "ipc", "uts"] {
            assert_eq!(
                namespace(rpod, "pod-a", kind),
                namespace(rpod, "pod-b", kind),
                "{kind}"
            );
        }
        // Not shared by default.
        assert_ne!(
            namespace(rpod, "pod-a", "pid"),
            namespace(rpod, "pod-b", "pid")
        );
    };
    shares(&rpod);
    // The pod's host name and /dev/shm (with the IPC namespace).
    assert_eq!(rpod.ok(&["exec", "pod-a", "hostname"]).trim(), "web");
    rpod.ok(&["exec", "pod-a", "sh", "-c", "echo shared > /dev/shm/note"]);
    assert_eq!(
        rpod.ok(&["exec", "pod-b", "cat", "/dev/shm/note"]).trim(),
        "shared"
    );
    let listing = |rpod: &Rpod| {
        rpod.ok(&[
            "pod",
            "ps",
            "--format",
            "{{.Name}} {{.Status}} {{.NumberOfContainers}}",
        ])
        .trim()
        .to_string()
    };
    assert_eq!(listing(&rpod), "web Running 3");
    // podman's filters on a pod's members (the infra container one of them).
    for (filter, shown) in [
        ("ctr-names=^pod-a$", true),
        ("ctr-names=^pod-c$", false),
        (&*format!("ctr-ids=^{}", &infra[..12]), true),
        ("ctr-ids=^ffffffff", false),
        ("ctr-status=running", true),
        ("ctr-status=exited", false),
        ("ctr-status=stopped", false),
        ("ctr-number=3", true),
        ("ctr-number=2", false),
        ("until=2000-01-01", false),
        ("label!=team=a", false),
        ("label!=team=b", true),
        ("network=nosuch", false),
    ] {
        let listed = rpod.ok(&["pod", "ps", "--filter", filter, "--format", "{{.Name}}"]);
        assert_eq!(listed, if shown { "web\n" } else { "" }, "{filter}");
    }
    for filter in ["ctr-status=sleeping", "ctr-number=many", "until=someday"] {
        let err = rpod.fails(&["pod", "ps", "--filter", filter], 125);
        assert!(err.contains("invalid"), "{filter}: {err}");
    }
    let members = rpod.ok(&["ps", "-a", "--filter", "pod=web", "--format", "{{.Names}}"]);
    let mut members: Vec<&str> = members.lines().collect();
    members.sort();
    assert_eq!(members, [&format!("{}-infra", &id[..12]), "pod-a", "pod-b"]);
    // The processes of every container, the infra container's first; their readings.
    let top = rpod.ok(&["pod", "top", "web", "pid,args"]);
    let lines: Vec<&str> = top.lines().map(str::trim_end).collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["PID", "COMMAND"]
    );
    assert!(lines[1].ends_with("/catatonit -P"), "{top}");
    assert_eq!(
        lines.iter().filter(|l| l.ends_with("sleep 1000")).count(),
        2,
        "{top}"
    );
    let err = rpod.fails(&["pod", "top", "web", "-ef"], 125);
    assert!(err.contains("unknown descriptor"), "{err}");
    let stats = rpod.ok(&[
        "pod",
        "stats",
        "--no-stream",
        "--format",
        "{{.Pod}} {{.Name}}",
        "web",
    ]);
    let mut stats: Vec<&str> = stats.lines().collect();
    stats.sort();
    let short = &id[..12];
    assert_eq!(
        stats,
        [
            format!("{short} {short}-infra"),
            format!("{short} pod-a"),
            format!("{short} pod-b")
        ]
    );
    // podman's table and JSON report (its field names, its "MEM USAGE/ LIMIT").
    let table = rpod.ok(&["pod", "stats", "--no-stream", "web"]);
    assert_eq!(
        table
            .lines()
            .next()
            .unwrap()
            .split("  ")
            .filter(|c| !c.is_empty())
            .map(str::trim)
            .collect::<Vec<_>>(),
        [
            "POD",
            "CID",
            "NAME",
            "CPU %",
            "MEM USAGE/ LIMIT",
            "MEM %",
            "NET IO",
            "BLOCK IO",
            "PIDS"
        ],
        "{table}"
    );
    let json = rpod.ok(&["pod", "stats", "--no-stream", "--format", "json", "web"]);
    assert!(json.starts_with("[\n     {\n          \"CPU\": "), "{json}");
    let reports: serde_json::Value = serde_json::from_str(&json).unwrap();
    let pod_a = reports
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["Name"] == "pod-a")
        .unwrap();
    assert_eq!(
        (&pod_a["Pod"], &pod_a["PIDS"]),
        (&serde_json::json!(short), &serde_json::json!("1"))
    );
    assert!(pod_a["CPU"].as_str().unwrap().ends_with('%'), "{json}");
    assert!(
        pod_a["MemUsageBytes"].as_str().unwrap().contains("iB / "),
        "{json}"
    );
    let with_pods = rpod.ok(&["ps", "--pod", "--filter", "name=pod-a"]);
    assert!(
        with_pods.contains("PODNAME") && with_pods.contains(" web"),
        "{with_pods}"
    );
    // Lifecycle commands' `--filter pod=` takes the pod's name, as ps's (and podman's).
    let paused = rpod.ok(&["pause", "--filter", "pod=web"]);
    assert_eq!(paused.lines().count(), 3, "{paused}");
    let states = rpod.ok(&["ps", "-a", "--filter", "pod=web", "--format", "{{.State}}"]);
    assert_eq!(states, "paused\npaused\npaused\n");
    rpod.ok(&["unpause", "--filter", "pod=web"]);

    // The infra container goes only with its pod; a running pod only with --force.
    let err = rpod.fails(&["rm", "-f", &infra], 125);
    assert!(err.contains("infra container of pod"), "{err}");
    let err = rpod.fails(&["pod", "rm", "web"], 125);
    assert!(err.contains("not ready to be removed"), "{err}");
    assert_eq!(listing(&rpod), "web Running 3");
    // A member goes alone, and comes back.
    rpod.ok(&["rm", "-f", "-t", "0", "pod-b"]);
    rpod.detached(&["--name", "pod-b", "--pod", "web", "demo", "sleep", "1000"]);

    // A wrong name among the pods named changes nothing, as podman's.
    let err = rpod.fails(&["pod", "stop", "-t", "0", "web", "nosuch"], 125);
    assert!(err.contains("no pod with name or ID nosuch"), "{err}");
    rpod.fails(&["pod", "rm", "web", "nosuch"], 1);
    assert_eq!(listing(&rpod), "web Running 3");
    assert_eq!(rpod.ok(&["pod", "rm", "--ignore", "nosuch"]), "");
    // --force passes over a pod that is not there, as podman's.
    assert_eq!(rpod.ok(&["pod", "rm", "-f", "nosuch"]), "");

    // Stopped together, the infra container last; started again, the infra container first,
    // and the others join its new namespaces.
    assert_eq!(rpod.ok(&["pod", "stop", "-t", "0", "web"]).trim(), id);
    assert_eq!(listing(&rpod), "web Exited 3");
    assert_eq!(rpod.ok(&["pod", "start", "web"]).trim(), id);
    assert_eq!(listing(&rpod), "web Running 3");
    shares(&rpod);
    // Stopping one container makes the pod degraded.
    rpod.ok(&["stop", "-t", "0", "pod-a"]);
    assert_eq!(listing(&rpod), "web Degraded 3");
    // pod stats has a row for the stopped member too, without readings.
    let stats = rpod.ok(&[
        "pod",
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}} {{.CPU}} {{.PIDS}}",
        "web",
    ]);
    let mut stats: Vec<&str> = stats.lines().collect();
    stats.sort();
    assert_eq!(stats.len(), 3, "{stats:?}");
    assert_eq!(stats[1], "pod-a -- --", "{stats:?}");
    assert!(
        stats[2].starts_with("pod-b ") && stats[2].ends_with("% 1"),
        "{stats:?}"
    );
    // A stopped member is `stopped` and `exited` to ctr-status, as podman has it.
    for state in ["stopped", "exited"] {
        let filter = format!("ctr-status={state}");
        let listed = rpod.ok(&["pod", "ps", "--filter", &filter, "--format", "{{.Name}}"]);
        assert_eq!(listed, "web\n", "{filter}");
    }
    // Starting a member of a stopped pod starts its infra container first.
    rpod.ok(&["pod", "stop", "-t", "0", "web"]);
    rpod.ok(&["start", "pod-a"]);
    assert_eq!(rpod.inspect(&infra, "{{.State.Status}}"), "running");
    assert_eq!(rpod.ok(&["exec", "pod-a", "hostname"]).trim(), "web");
    rpod.ok(&["pod", "start", "web"]);
    rpod.ok(&["pod", "pause", "web"]);
    assert_eq!(listing(&rpod), "web Paused 3");
    rpod.ok(&["pod", "unpause", "web"]);
    assert_eq!(listing(&rpod), "web Running 3");
    // Nothing paused: nothing to do and nothing said, as podman's.
    assert_eq!(rpod.ok(&["pod", "unpause", "web"]), "");
    assert_eq!(listing(&rpod), "web Running 3");
    // A restart runs every container anew: new processes, the namespaces still shared.
    let before = rpod.inspect("pod-a", "{{.State.Pid}}");
    assert_eq!(rpod.ok(&["pod", "restart", "-t", "0", "web"]).trim(), id);
    assert_eq!(listing(&rpod), "web Running 3");
    assert_ne!(rpod.inspect("pod-a", "{{.State.Pid}}"), before);
    shares(&rpod);
    rpod.ok(&["pod", "kill", "web"]);
    assert_eq!(listing(&rpod), "web Exited 3");
    // Nothing running: nothing to kill or pause, as podman's.
    assert_eq!(rpod.ok(&["pod", "kill", "web"]).trim(), id);
    assert_eq!(rpod.ok(&["pod", "pause", "web"]).trim(), id);
    assert_eq!(listing(&rpod), "web Exited 3");
    let err = rpod.fails(&["pod", "top", "web"], 125);
    assert!(err.contains("no running containers"), "{err}");

    let view: serde_json::Value =
        serde_json::from_str(&rpod.ok(&["pod", "inspect", "web"])).unwrap();
    assert_eq!(view["Name"], "web");
    assert_eq!(
        rpod.ok(&["pod", "inspect", "-l", "--format", "{{.Name}}"]),
        "web\n"
    );
    rpod.fails(&["pod", "inspect", "-l", "web"], 125);
    assert_eq!(view["Id"], id);
    // None was given (its containers' is the pod's name), as podman shows it.
    assert_eq!(view["Hostname"], "");
    assert_eq!(view["Labels"]["team"], "a");
    assert_eq!(view["NumContainers"], 3);
    assert_eq!(
        view["SharedNamespaces"],
        serde_json::json!(["ipc", "net", "uts"])
    );
    // podman's `InfraConfig`: what the infra container was made with.
    assert_eq!(view["CreateCgroup"], true, "{view}");
    let infra_config = &view["InfraConfig"];
    assert_eq!(
        (
            &infra_config["uts_ns"],
            &infra_config["userns"],
            &infra_config["HostNetwork"]
        ),
        (
            &serde_json::json!("private"),
            &serde_json::json!("host"),
            &serde_json::json!(false)
        ),
        "{view}"
    );
    assert_eq!(infra_config["DNSServer"], serde_json::Value::Null, "{view}");
    // `pod ps --format json`: podman's `ListPodsReport`, full IDs, its containers listed.
    let listed: serde_json::Value =
        serde_json::from_str(&rpod.ok(&["pod", "ps", "--format", "json"])).unwrap();
    let web = &listed[0];
    assert_eq!(
        (&web["Id"], &web["Name"], &web["Status"]),
        (
            &serde_json::json!(id),
            &serde_json::json!("web"),
            &serde_json::json!("Exited")
        ),
        "{web}"
    );
    assert_eq!(web["InfraId"], infra, "{web}");
    assert_eq!(web["Containers"].as_array().map(Vec::len), Some(3), "{web}");
    assert!(
        web["Containers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["Names"] == "pod-a" && c["Status"] == "exited"),
        "{web}"
    );
    assert_eq!(web["Labels"]["team"], "a");
    // The container listing tells the infra container from the others.
    let containers: serde_json::Value =
        serde_json::from_str(&rpod.ok(&["ps", "-a", "--format", "json"])).unwrap();
    for item in containers.as_array().unwrap() {
        assert_eq!(item["IsInfra"], item["Id"] == infra.as_str(), "{item}");
        assert_eq!(item["PodName"], "web", "{item}");
    }
    assert!(
        chrono::DateTime::parse_from_rfc3339(web["Created"].as_str().unwrap()).is_ok(),
        "{web}"
    );

    assert_eq!(rpod.ok(&["pod", "rm", "web"]).trim(), id);
    let events = rpod.ok(&[
        "events",
        "--stream=false",
        "--filter",
        "type=pod",
        "--filter",
        "pod=web",
        "--format",
        "{{.Status}}",
    ]);
    let events: Vec<&str> = events.lines().collect();
    assert_eq!(events.first(), Some(&"create"), "{events:?}");
    assert_eq!(events.last(), Some(&"remove"), "{events:?}");
    for action in ["start", "stop", "kill", "pause", "unpause"] {
        assert!(events.contains(&action), "{action}: {events:?}");
    }
    assert_eq!(rpod.ok(&["ps", "-aq"]), "");
    assert_eq!(rpod.ok(&["pod", "ps", "-q"]), "");
    rpod.fails(&["pod", "exists", "web"], 1);
    let err = rpod.fails(&["pod", "rm", "web"], 1);
    assert!(err.contains("no such pod"), "{err}");
}

#[test]
fn a_pods_containers_share_its_namespaces_and_live_together_on_runc() {
    check_pod_lifecycle("runc");
}

#[test]
fn a_pods_containers_share_its_namespaces_and_live_together_on_crun() {
    check_pod_lifecycle("crun");
}

#[test]
fn pod_options_and_bad_requests() {
    let rpod = Rpod::with_image("crun");
    // Sharing the PID namespace: the infra container's catatonit is PID 1 for everyone.
    rpod.ok(&["pod", "create", "--name", "pids", "--share", "+pid"]);
    let pid1 = rpod.ok(&[
        "run",
        "--rm",
        "--pod",
        "pids",
        "demo",
        "cat",
        "/proc/1/cmdline",
    ]);
    assert_eq!(pid1, "/catatonit\0-P\0");
    // Sharing nothing: no infra container, and the container's namespaces are its own.
    rpod.ok(&["pod", "create", "--name", "loose", "--share", "none"]);
    assert_eq!(pod_field(&rpod, "loose", "{{.InfraContainerID}}"), "");
    assert_eq!(pod_field(&rpod, "loose", "{{.CreateInfra}}"), "false");
    let hostname = rpod.ok(&[
        "run", "--name", "alone", "--pod", "loose", "demo", "hostname",
    ]);
    assert_eq!(hostname.trim(), &rpod.inspect("alone", "{{.Id}}")[..12]);
    assert_eq!(
        rpod.ok(&[
            "pod",
            "ps",
            "--filter",
            "name=loose",
            "--format",
            "{{.Status}}"
        ])
        .trim(),
        "Exited"
    );
    // The logs of a pod's containers, by name, or of one of them.
    rpod.ok(&[
        "run", "--name", "second", "--pod", "loose", "demo", "echo", "hello",
    ]);
    assert_eq!(
        rpod.ok(&["pod", "logs", "--names", "loose"]),
        format!("alone {}second hello\n", hostname)
    );
    assert_eq!(
        rpod.ok(&["pod", "logs", "-c", "second", "loose"]),
        "hello\n"
    );
    rpod.fails(&["pod", "logs", "-c", "nosuch", "loose"], 125);
    rpod.fails(&["pod", "logs", "loose", "pids"], 125);
    rpod.fails(&["pod", "logs", "nosuch"], 125);
    // A pod made with the container, and one named by a file.
    rpod.ok(&["run", "--rm", "--pod", "new:fresh", "demo", "true"]);
    rpod.ok(&["pod", "exists", "fresh"]);
    let id_file = rpod.dir.path().join("pod-id");
    rpod.ok(&[
        "pod",
        "create",
        "--name",
        "filed",
        "--pod-id-file",
        &id_file.display().to_string(),
    ]);
    let filed = std::fs::read_to_string(&id_file).unwrap();
    rpod.ok(&[
        "create",
        "--name",
        "by-file",
        "--pod-id-file",
        &id_file.display().to_string(),
        "demo",
        "true",
    ]);
    assert_eq!(rpod.inspect("by-file", "{{.Pod}}"), filed);
    // A file there already may be another pod's: refused before a pod is made, as podman.
    let err = rpod.fails(
        &[
            "pod",
            "create",
            "--name",
            "refiled",
            "--pod-id-file",
            &id_file.display().to_string(),
        ],
        125,
    );
    assert!(
        err.contains("pod id file") && err.contains("exists"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&id_file).unwrap(), filed);
    rpod.fails(&["pod", "exists", "refiled"], 1);

    // Another infra container, and a pod replaced by one of the same name.
    rpod.ok(&[
        "pod",
        "create",
        "--name",
        "custom",
        "--infra-name",
        "holder",
        "--infra-command",
        r#"["sleep","1000"]"#,
        "--infra-image",
        "demo",
    ]);
    rpod.ok(&["pod", "start", "custom"]);
    assert_eq!(
        rpod.ok(&[
            "ps",
            "--filter",
            "pod=custom",
            "--format",
            "{{.Names}} {{.Command}}"
        ]),
        "holder sleep 1000\n"
    );
    let old = pod_field(&rpod, "custom", "{{.Id}}");
    rpod.ok(&["pod", "stop", "-t", "0", "custom"]);
    // A replacement that cannot be made leaves the pod it would replace.
    rpod.fails(
        &[
            "pod",
            "create",
            "--name",
            "custom",
            "--replace",
            "--share",
            "bogus",
        ],
        125,
    );
    rpod.fails(
        &[
            "pod",
            "create",
            "--name",
            "custom",
            "--replace",
            "--infra=false",
            "-p",
            "80",
        ],
        125,
    );
    assert_eq!(pod_field(&rpod, "custom", "{{.Id}}"), old);
    // The name as a word, as podman's `pod create NAME`; --replace goes by it too.
    let new = rpod.ok(&["pod", "create", "--replace", "custom"]);
    assert_ne!(new.trim(), old);
    assert_eq!(pod_field(&rpod, "custom", "{{.Id}}"), new.trim());
    rpod.fails(&["inspect", "holder"], 125);
    let err = rpod.fails(&["pod", "create", "--name", "one", "two"], 125);
    assert!(err.contains("cannot specify --name and NAME"), "{err}");
    rpod.fails(&["pod", "create", "one", "two"], 125);
    rpod.fails(&["pod", "inspect", "one"], 125);
    rpod.ok(&["pod", "rm", "custom"]);

    // --exit-policy stop: the pod stops once its last container exited, however the exit
    // is seen (an attached run, a detached container's monitor); continue (the default)
    // leaves the infra container running.
    let pidfile = rpod.dir.path().join("infra.pid");
    rpod.ok(&[
        "pod",
        "create",
        "--name",
        "ending",
        "--exit-policy",
        "stop",
        "--infra-conmon-pidfile",
        &pidfile.display().to_string(),
    ]);
    assert_eq!(pod_field(&rpod, "ending", "{{.ExitPolicy}}"), "stop");
    rpod.ok(&[
        "run",
        "-d",
        "--name",
        "ending-slow",
        "--pod",
        "ending",
        "demo",
        "sleep",
        "1",
    ]);
    let infra = pod_field(&rpod, "ending", "{{.InfraContainerID}}");
    let monitor: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(
        rpod.inspect(&infra, "{{.State.ConmonPid}}"),
        monitor.to_string()
    );
    rpod.ok(&["run", "--rm", "--pod", "ending", "demo", "true"]);
    // One container still runs: the pod with it.
    assert_eq!(rpod.inspect(&infra, "{{.State.Status}}"), "running");
    rpod.ok(&["wait", "ending-slow"]);
    wait_until("the pod stops by its exit policy", || {
        rpod.inspect(&infra, "{{.State.Status}}") == "exited"
    });
    rpod.ok(&["run", "--rm", "--pod", "fresh", "demo", "true"]);
    let fresh_infra = pod_field(&rpod, "fresh", "{{.InfraContainerID}}");
    assert_eq!(rpod.inspect(&fresh_infra, "{{.State.Status}}"), "running");
    rpod.ok(&["pod", "rm", "ending"]);
    let err = rpod.fails(&["pod", "create", "--exit-policy", "halt"], 125);
    assert!(err.contains("halt"), "{err}");

    // A pod's systemd units: the pod's (its infra container) and its containers', bound
    // to it; their command lines do what systemd would have them do.
    rpod.ok(&["pod", "create", "--name", "svc"]);
    rpod.ok(&[
        "create", "--name", "svc-app", "--pod", "svc", "demo", "sleep", "1000",
    ]);
    let units_dir = tempfile::tempdir().unwrap();
    let mut generate = rpod.command(&["generate", "systemd", "--name", "--files", "svc"]);
    generate.current_dir(units_dir.path());
    let out = generate.output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let written = String::from_utf8(out.stdout).unwrap();
    assert_eq!(written.lines().count(), 2, "{written}");
    let read = |name: &str| std::fs::read_to_string(units_dir.path().join(name)).unwrap();
    let pod_unit = read("pod-svc.service");
    let app_unit = read("container-svc-app.service");
    assert!(
        pod_unit.contains("\nWants=container-svc-app.service\nBefore=container-svc-app.service\n"),
        "{pod_unit}"
    );
    assert!(
        app_unit.contains("\nBindsTo=pod-svc.service\nAfter=pod-svc.service\n"),
        "{app_unit}"
    );
    let line = |unit: &str, key: &str| -> Vec<String> {
        let found = unit.lines().find_map(|l| l.strip_prefix(key)).unwrap();
        found.split_whitespace().map(String::from).collect()
    };
    let run = |words: Vec<String>| {
        let out = std::process::Command::new(&words[0])
            .args(&words[1..])
            .env("RPOD_CONFIG", rpod.config_path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{words:?}: {out:?}");
    };
    run(line(&pod_unit, "ExecStart="));
    let pid_file = line(&pod_unit, "PIDFile=").remove(0);
    let monitor: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(pid_alive(monitor));
    run(line(&app_unit, "ExecStart="));
    assert_eq!(rpod.inspect("svc-app", "{{.State.Status}}"), "running");
    // (The stop as the unit says it, without the 10 s `sleep` ignores SIGTERM for.)
    let stop: Vec<String> = line(&app_unit, "ExecStop=")
        .into_iter()
        .map(|w| if w == "10" { "0".into() } else { w })
        .collect();
    run(stop);
    run(line(&pod_unit, "ExecStop="));
    assert_eq!(
        rpod.ok(&[
            "pod",
            "ps",
            "--filter",
            "name=svc",
            "--format",
            "{{.Status}}"
        ])
        .trim(),
        "Exited"
    );
    // A pod made by `run --pod new:` has no `pod create` to make it again with.
    let err = rpod.fails(&["generate", "systemd", "--new", "fresh"], 125);
    assert!(err.contains("was not made by `pod create`"), "{err}");
    let err = rpod.fails(&["generate", "systemd", "loose"], 125);
    assert!(err.contains("no infra container"), "{err}");
    rpod.ok(&["pod", "rm", "svc"]);

    // Refused, leaving nothing behind.
    let pods_before = rpod.ok(&["pod", "ps", "-q"]);
    for (args, needle) in [
        (vec!["pod", "create", "--share", "net,user"], "\"user\""),
        (
            vec!["pod", "create", "--infra=false", "--share", "net"],
            "cannot share",
        ),
        (
            vec!["pod", "create", "--infra=false", "-p", "8080:80"],
            "infra container",
        ),
        (vec!["pod", "create", "--name", "web/x"], "must match"),
        (vec!["pod", "create", "--name", "fresh"], "in use"),
        (
            vec!["create", "--pod", "nosuch", "demo", "true"],
            "no such pod",
        ),
        (
            vec![
                "create",
                "--pod",
                "fresh",
                "--network",
                "host",
                "demo",
                "true",
            ],
            "shares its network",
        ),
        (
            vec!["create", "--pod", "fresh", "-p", "8080:80", "demo", "true"],
            "shares its network",
        ),
        (
            vec![
                "create",
                "--pod",
                "fresh",
                "--hostname",
                "x",
                "demo",
                "true",
            ],
            "host name",
        ),
        (vec!["pod", "ps", "--filter", "status=dead"], "status=dead"),
        (vec!["pod", "ps", "--filter", "color=red"], "\"color\""),
    ] {
        let err = rpod.fails(&args, 125);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    assert_eq!(rpod.ok(&["pod", "ps", "-q"]), pods_before);
    // A container of `new:` that cannot be made takes its new pod with it.
    rpod.fails(
        &[
            "create",
            "--pod",
            "new:gone",
            "--hostname",
            "x",
            "demo",
            "true",
        ],
        125,
    );
    rpod.fails(&["pod", "exists", "gone"], 1);

    // Prune removes the stopped pods, those whose containers ran and none runs ("fresh"
    // keeps its infra container, started for the container that ran in it); as podman's,
    // not one still being set up ("filed": its container was only created).
    rpod.detached(&["--name", "keeper", "--pod", "pids", "demo", "sleep", "1000"]);
    assert_eq!(
        rpod.ok(&[
            "pod",
            "ps",
            "--filter",
            "name=filed",
            "--format",
            "{{.Status}}"
        ]),
        "Created\n"
    );
    let pruned = rpod.ok(&["pod", "prune", "-f"]);
    assert_eq!(pruned.lines().count(), 1, "{pruned}");
    let mut left: Vec<String> = rpod
        .ok(&["pod", "ps", "--format", "{{.Name}}"])
        .lines()
        .map(String::from)
        .collect();
    left.sort();
    assert_eq!(left, ["filed", "fresh", "pids"]);
    rpod.fails(&["pod", "exists", "loose"], 1);
    rpod.ok(&["container", "exists", "by-file"]);
    // `rm -a` takes pods whole.
    rpod.ok(&["rm", "-a", "-f", "-t", "0"]);
    assert_eq!(rpod.ok(&["ps", "-aq"]), "");
    assert_eq!(rpod.ok(&["pod", "ps", "-q"]), "");
}

/// The host's view of `file` in the pod's cgroup of the v1 `controller` (these machines'
/// hierarchy).
/// `pod create`'s settings for every container of the pod, as podman's: its volumes, bind
/// mounts and devices (every container gets them), its sysctls, `/dev/shm` size and PID
/// and UTS namespaces (seen through the shared namespaces), its label file.
#[test]
fn a_pods_volumes_devices_and_namespace_settings_reach_its_containers() {
    let rpod = Rpod::with_image("crun");
    // A pod without a name gets a random one with an underscore, its host name.
    let unnamed = rpod.ok(&["pod", "create"]);
    let name = pod_field(&rpod, unnamed.trim(), "{{.Name}}");
    assert!(name.contains('_'), "{name}");
    assert_eq!(
        rpod.ok(&["run", "--rm", "--pod", unnamed.trim(), "demo", "hostname"])
            .trim(),
        name
    );
    let host = tempfile::tempdir().unwrap();
    std::fs::write(host.path().join("f"), "host file\n").unwrap();
    let labels = host.path().join("labels");
    std::fs::write(&labels, "# the team\nteam=db\n").unwrap();
    let bind = format!("{}:/hd:ro", host.path().display());
    let label_file = labels.display().to_string();
    rpod.ok(&[
        "pod",
        "create",
        "--name",
        "full",
        "-v",
        "pv:/data",
        "-v",
        &bind,
        "--device",
        "/dev/null:/dev/xnull",
        "--sysctl",
        "kernel.msgmax=4096",
        "--shm-size",
        "10m",
        "--security-opt",
        "no-new-privileges",
        "--label-file",
        &label_file,
    ]);
    let script = "ls -d /data; cat /hd/f; stat -c %t,%T /dev/xnull; \
                  cat /proc/sys/kernel/msgmax; df -k /dev/shm | tail -1 | awk '{print $2}'; \
                  touch /data/mine; touch /hd/no 2>/dev/null || echo read-only";
    assert_eq!(
        rpod.ok(&["run", "--rm", "--pod", "full", "demo", "sh", "-c", script]),
        "/data\nhost file\n1,3\n4096\n10240\nread-only\n"
    );
    // The same volume: the container's own is the pod's.
    assert_eq!(
        rpod.ok(&["run", "--rm", "--pod", "full", "-v", "pv:/data", "demo", "ls", "/data"]),
        "mine\n"
    );
    // Something else at one of the pod's places is refused; a device of its own wins.
    let other = format!("{}:/data", host.path().display());
    let err = rpod.fails(
        &["run", "--rm", "--pod", "full", "-v", &other, "demo", "true"],
        125,
    );
    assert!(err.contains("pod full mounts /data"), "{err}");
    assert_eq!(
        rpod.ok(&[
            "run",
            "--rm",
            "--pod",
            "full",
            "--device",
            "/dev/zero:/dev/xnull",
            "demo",
            "stat",
            "-c",
            "%t,%T",
            "/dev/xnull",
        ]),
        "1,5\n"
    );
    assert_eq!(pod_field(&rpod, "full", "{{.Labels.team}}"), "db");
    let inspect: serde_json::Value =
        serde_json::from_str(&rpod.ok(&["pod", "inspect", "full"])).unwrap();
    assert_eq!(inspect["mounts"][0]["Name"], "pv", "{inspect}");
    assert_eq!(inspect["devices"][0]["PathInContainer"], "/dev/xnull");
    assert_eq!(
        inspect["security_opt"],
        serde_json::json!(["no-new-privileges"])
    );
    // A clone has them too; removing the pods leaves the named volume.
    rpod.ok(&["pod", "clone", "--name", "copy", "full"]);
    assert_eq!(
        rpod.ok(&["run", "--rm", "--pod", "copy", "demo", "ls", "/data"]),
        "mine\n"
    );
    rpod.ok(&["pod", "rm", "-f", "full", "copy"]);
    assert_eq!(rpod.ok(&["volume", "ls", "-q"]), "pv\n");
    // --volumes-from: another container's volumes for every container of the pod.
    rpod.ok(&[
        "create", "--name", "holder", "-v", "pv:/held", "demo", "true",
    ]);
    rpod.ok(&[
        "pod",
        "create",
        "--name",
        "borrowing",
        "--volumes-from",
        "holder:ro",
    ]);
    let out = rpod.run(&[
        "run",
        "--rm",
        "--pod",
        "borrowing",
        "demo",
        "sh",
        "-c",
        "cat /held/mine >/dev/null && ls /held && touch /held/no",
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "mine\n", "{out:?}");
    assert!(!out.status.success(), "the read-only volume was written");
    rpod.ok(&["pod", "rm", "-f", "borrowing"]);
    rpod.ok(&["rm", "holder"]);
    // The host's PID and UTS namespaces, shared: the host's processes and name.
    rpod.ok(&[
        "pod",
        "create",
        "--name",
        "hostly",
        "--share",
        "pid,uts,ipc,net",
        "--pid",
        "host",
        "--uts",
        "host",
    ]);
    let own = format!("test -d /proc/{} && hostname", std::process::id());
    let seen = rpod.ok(&["run", "--rm", "--pod", "hostly", "demo", "sh", "-c", &own]);
    let host_name = nix::unistd::gethostname().unwrap();
    assert_eq!(seen.trim(), host_name.to_string_lossy());
    let err = rpod.fails(
        &["pod", "create", "--uts", "host", "--hostname", "named"],
        125,
    );
    assert!(err.contains("--hostname needs a UTS namespace"), "{err}");
    // They belong to the infra container: a pod without one takes none of them.
    for flag in [
        ["-v", "x:/x"],
        ["--device", "/dev/null"],
        ["--sysctl", "kernel.msgmax=1"],
    ] {
        let mut args = vec!["pod", "create", "--infra=false"];
        args.extend(flag);
        let err = rpod.fails(&args, 125);
        assert!(err.contains("belong to the infra container"), "{err}");
    }
}

/// A bad filter is refused also when there is no pod to apply it to (it listed nothing
/// and succeeded).
#[test]
fn pod_ps_refuses_bad_filters_with_no_pods() {
    let rpod = Rpod::new("crun");
    for (filter, needle) in [
        ("color=red", "invalid pod filter \"color\""),
        ("status=dead", "invalid filter status=dead"),
    ] {
        let err = rpod.fails(&["pod", "ps", "--filter", filter], 125);
        assert!(err.contains(needle), "{filter}: {err}");
    }
    assert_eq!(
        rpod.ok(&["pod", "ps", "-q", "--filter", "status=running"]),
        ""
    );
}

/// `pod ps` in podman's orders (`--sort`, newest first by default), `-l` and `--ns`; the
/// picking commands' `-l`.
#[test]
fn pods_are_listed_sorted_and_picked_as_the_latest() {
    let rpod = Rpod::with_image("crun");
    rpod.ok(&[
        "pod",
        "create",
        "--name",
        "zz",
        "--infra=false",
        "--label",
        "x=1",
    ]);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    rpod.ok(&[
        "pod",
        "create",
        "--name",
        "aa",
        "--infra=false",
        "--label",
        "x=1",
        "--label",
        "y=2",
    ]);
    let names = |args: &[&str]| {
        let mut all = vec!["pod", "ps", "--format", "{{.Name}}"];
        all.extend(args);
        rpod.ok(&all)
    };
    assert_eq!(names(&[]), "aa\nzz\n");
    assert_eq!(names(&["--sort", "name"]), "aa\nzz\n");
    assert_eq!(names(&["--sort", "created"]), "aa\nzz\n");
    assert_eq!(names(&["-l"]), "aa\n");
    // Every label given must match; one name of several is enough.
    assert_eq!(
        names(&["--filter", "label=x=1", "--filter", "label=y=2"]),
        "aa\n"
    );
    assert_eq!(
        names(&["--filter", "name=aa", "--filter", "name=zz"]),
        "aa\nzz\n"
    );
    let table = rpod.ok(&["pod", "ps", "--ns"]);
    assert!(table.lines().next().unwrap().contains("CGROUP"), "{table}");
    let err = rpod.fails(&["pod", "ps", "--sort", "bogus"], 125);
    assert!(err.contains("--sort"), "{err}");
    rpod.fails(&["pod", "rm", "-a", "-l"], 125);
    rpod.fails(&["pod", "rm", "-l", "zz"], 125);
    rpod.ok(&["pod", "rm", "-l"]);
    assert_eq!(names(&[]), "zz\n");
    rpod.ok(&["pod", "rm", "-l"]);
    let err = rpod.fails(&["pod", "rm", "-l"], 125);
    assert!(err.contains("no pod"), "{err}");
}

fn pod_cgroup_file(pod_cgroup: &str, controller: &str, file: &str) -> std::path::PathBuf {
    std::path::Path::new("/sys/fs/cgroup")
        .join(controller)
        .join(pod_cgroup.trim_start_matches('/'))
        .join(file)
}

fn read_trimmed(path: &std::path::Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .trim()
        .to_string()
}

/// A pod's cgroup holds its containers and bounds them together: its limits are written at
/// the create, again after a reboot took the cgroup (before the next start), and it goes
/// with the pod.
#[test]
fn a_pods_limits_bound_its_containers_together() {
    let rpod = Rpod::with_image("crun");
    let parent = format!("/rpodtest-pods-{}", std::process::id());
    let id = rpod.ok(&[
        "pod",
        "create",
        "--name",
        "limited",
        "--cgroup-parent",
        &parent,
        "--cpus",
        "0.5",
        "--cpu-shares",
        "512",
        "--cpuset-cpus",
        "0",
        "--memory",
        "32m",
    ]);
    let id = id.trim();
    let cgroup = pod_field(&rpod, "limited", "{{.CgroupPath}}");
    assert_eq!(cgroup, format!("{parent}/{id}"));
    assert_eq!(pod_field(&rpod, "limited", "{{.CgroupParent}}"), parent);
    let limits = |rpod: &Rpod| {
        assert_eq!(
            read_trimmed(&pod_cgroup_file(&cgroup, "cpu", "cpu.cfs_quota_us")),
            "50000"
        );
        assert_eq!(
            read_trimmed(&pod_cgroup_file(&cgroup, "cpu", "cpu.shares")),
            "512"
        );
        assert_eq!(
            read_trimmed(&pod_cgroup_file(&cgroup, "cpuset", "cpuset.cpus")),
            "0"
        );
        assert_eq!(
            read_trimmed(&pod_cgroup_file(&cgroup, "memory", "memory.limit_in_bytes")),
            (32u64 << 20).to_string()
        );
        let inspected = rpod.ok(&["pod", "inspect", "limited"]);
        for field in [r#""cpu_quota": 50000"#, r#""memory_limit": 33554432"#] {
            assert!(inspected.contains(field), "{field} in {inspected}");
        }
    };
    limits(&rpod);
    // Containers, the infra container too, run in the pod's cgroup.
    rpod.detached(&[
        "--name", "member", "--pod", "limited", "demo", "sleep", "1000",
    ]);
    for name in [
        "member",
        &pod_field(&rpod, "limited", "{{.InfraContainerID}}"),
    ] {
        let pid = rpod.inspect(name, "{{.State.Pid}}");
        let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
        let id = rpod.inspect(name, "{{.Id}}");
        assert!(
            cgroups.contains(&format!(":{cgroup}/{id}\n")),
            "{name}: {cgroups}"
        );
    }
    // The pod's memory is the bound of its containers': 60 MB in one is too much.
    let holding = |bytes: u64| {
        rpod.run(&[
            "run",
            "--rm",
            "--pod",
            "limited",
            "demo",
            "sh",
            "-c",
            &format!("x=$(head -c {bytes} /dev/zero | tr '\\0' a); echo survived"),
        ])
    };
    let out = holding(60_000_000);
    assert_eq!(out.status.code(), Some(137), "{out:?}");
    let out = holding(4_000_000);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "survived\n",
        "{out:?}"
    );
    // A reboot takes the cgroups: the next start makes the pod's again, with its limits.
    rpod.ok(&["pod", "stop", "-t", "0", "limited"]);
    for controller in ["cpu", "cpuset", "memory", "blkio"] {
        let dir = pod_cgroup_file(&cgroup, controller, "");
        if dir.exists() {
            std::fs::remove_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        }
    }
    rpod.ok(&["pod", "start", "limited"]);
    limits(&rpod);
    // A container of the pod cannot leave its cgroup; one asking for the same parent may.
    let err = rpod.fails(
        &[
            "create",
            "--pod",
            "limited",
            "--cgroup-parent",
            "/elsewhere",
            "demo",
            "true",
        ],
        125,
    );
    assert!(err.contains("its own cgroup"), "{err}");
    rpod.ok(&["pod", "rm", "-f", "-t", "0", "limited"]);
    for controller in ["cpu", "cpuset", "memory", "blkio"] {
        let dir = pod_cgroup_file(&cgroup, controller, "");
        assert!(!dir.exists(), "{} was left", dir.display());
    }
    remove_cgroup_parent(&parent);

    // Without a cgroup of its own, the pod's containers keep theirs under /rpod, and
    // there is nothing to put limits on.
    rpod.ok(&["pod", "create", "--name", "loose", "--share-parent=false"]);
    assert_eq!(pod_field(&rpod, "loose", "{{.CgroupPath}}"), "");
    let member = rpod.detached(&["--pod", "loose", "demo", "sleep", "1000"]);
    let pid = rpod.inspect(&member, "{{.State.Pid}}");
    let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert!(cgroups.contains(&format!(":/rpod/{member}\n")), "{cgroups}");
    rpod.ok(&["pod", "rm", "-f", "-t", "0", "loose"]);
    // Block device limits for the whole pod, written by the device's numbers.
    let block = some_block_device();
    if let Some((device, numbers)) = block {
        let (read, write) = (format!("{device}:1mb"), format!("{device}:2mb"));
        rpod.ok(&[
            "pod",
            "create",
            "--name",
            "throttled",
            "--device-read-bps",
            &read,
            "--device-write-bps",
            &write,
        ]);
        let cgroup = pod_field(&rpod, "throttled", "{{.CgroupPath}}");
        for (file, rate) in [
            ("blkio.throttle.read_bps_device", "1048576"),
            ("blkio.throttle.write_bps_device", "2097152"),
        ] {
            let path = pod_cgroup_file(&cgroup, "blkio", file);
            assert_eq!(read_trimmed(&path), format!("{numbers} {rate}"));
        }
        rpod.ok(&["pod", "rm", "-f", "-t", "0", "throttled"]);
    }
    for (args, says) in [
        (
            vec!["--device-read-bps", "/dev/null:1mb"],
            "not a block device",
        ),
        (
            vec!["--share-parent=false", "--memory", "64m"],
            "no cgroup of its own",
        ),
        (vec!["--share", "+cgroup"], "cgroupNS"),
        (vec!["--memory-swap", "64m"], "needs --memory"),
        (vec!["--cpus=-1"], "--cpus"),
        // podman refuses a pod's ports without a bridge (a container's are dropped).
        (
            vec!["-p", "8080:80", "--network", "none"],
            "PortMappings can only be used with Bridge or slirp4netns networking",
        ),
        (vec!["--cgroup-parent", "../x"], "cgroup-parent"),
    ] {
        let mut all = vec!["pod", "create"];
        all.extend(args.iter());
        let err = rpod.fails(&all, 125);
        assert!(err.contains(says), "{args:?}: {err}");
    }
    assert_eq!(rpod.ok(&["pod", "ps", "-q"]), "");
}

/// `kube play` makes and starts the pods of a Kubernetes file (a Pod and a Deployment);
/// their containers share the pod's network, get their environment, volumes and limits;
/// `kube down` removes them. A field rpod cannot honour is refused and nothing is made.
#[test]
fn kube_play_runs_a_pod_from_yaml_and_kube_down_removes_it() {
    let rpod = Rpod::with_image("crun");
    let host_dir = rpod.dir.path().join("site");
    std::fs::create_dir(&host_dir).unwrap();
    std::fs::write(host_dir.join("index.html"), "from the host\n").unwrap();
    let yaml = format!(
        r#"apiVersion: v1
kind: Pod
metadata:
  name: shop
  labels: {{app: shop}}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 0
  containers:
  - name: web
    image: demo
    command: ["httpd", "-f", "-p", "8080", "-h", "/www"]
    volumeMounts:
    - {{name: site, mountPath: /www, readOnly: true}}
    resources:
      limits: {{memory: 64Mi, cpu: 500m}}
  - name: client
    image: demo
    command: ["sh", "-c"]
    args: ["until wget -qO- http://127.0.0.1:8080/ > /data/page; do sleep 0.1; done; echo $MODE >> /data/page; pwd >> /data/page; cat /data/page; sleep 1000"]
    workingDir: /tmp
    env:
    - {{name: MODE, value: kube}}
    volumeMounts:
    - {{name: data, mountPath: /data}}
    - {{name: scratch, mountPath: /scratch}}
    - {{name: made, mountPath: /made}}
  volumes:
  - name: site
    hostPath: {{path: {site}, type: Directory}}
  - name: made
    hostPath: {{path: {made}, type: DirectoryOrCreate}}
  - name: data
    persistentVolumeClaim: {{claimName: shop-data}}
  - name: scratch
    emptyDir: {{}}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: worker
spec:
  replicas: 1
  template:
    metadata:
      labels: {{app: worker}}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
      - name: job
        image: demo
        command: ["sleep", "1000"]
        env:
        - {{name: POD_UID, valueFrom: {{fieldRef: {{fieldPath: metadata.uid}}}}}}
"#,
        site = host_dir.display(),
        made = rpod.dir.path().join("made/here").display(),
    );
    let file = rpod.dir.path().join("shop.yaml");
    std::fs::write(&file, &yaml).unwrap();
    let file = file.display().to_string();
    let out = rpod.ok(&["kube", "play", &file]);
    // A DirectoryOrCreate hostPath is made on the host for the container, 0755 at each
    // level as Kubernetes makes it (rpod's own umask is 077).
    assert!(rpod.dir.path().join("made/here").is_dir());
    for level in ["made", "made/here"] {
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(rpod.dir.path().join(level))
                .unwrap()
                .permissions(),
        );
        assert_eq!(mode & 0o7777, 0o755, "{level}");
    }
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "Pod:", "{out}");
    assert_eq!(lines[2], "Containers:", "{out}");
    assert_eq!(lines[5], "", "{out}");
    assert_eq!(lines[6], "Pod:", "{out}");
    assert_eq!(lines[8], "Container:", "{out}");
    assert_eq!(pod_field(&rpod, "shop", "{{.State}}"), "Running");
    assert_eq!(pod_field(&rpod, "worker-pod", "{{.State}}"), "Running");
    wait_until("the client read the page", || {
        rpod.ok(&["logs", "shop-client"]).contains("/tmp")
    });
    assert_eq!(
        rpod.ok(&["logs", "shop-client"]),
        "from the host\nkube\n/tmp\n"
    );
    assert_eq!(
        rpod.inspect("shop-web", "{{.HostConfig.Memory}}"),
        (64u64 << 20).to_string()
    );
    assert_eq!(rpod.inspect("shop-web", "{{.Config.Labels.app}}"), "shop");
    assert_eq!(
        rpod.inspect("worker-pod-job", "{{.Config.Labels.app}}"),
        "worker"
    );
    // `metadata.uid` is the pod's ID, as podman gives it.
    let pod_id = pod_field(&rpod, "worker-pod", "{{.Id}}");
    let env = rpod.inspect("worker-pod-job", "{{range .Config.Env}}{{.}} {{end}}");
    assert!(env.contains(&format!("POD_UID={pod_id} ")), "{env}");
    assert!(rpod
        .ok(&["volume", "ls", "-q"])
        .lines()
        .any(|v| v == "shop-data"));
    // Played again: the names are taken; with --replace the pods are made anew.
    let err = rpod.fails(&["kube", "play", &file], 125);
    assert!(err.contains("shop"), "{err}");
    rpod.ok(&["play", "kube", "--replace", "--start=false", &file]);
    assert_eq!(pod_field(&rpod, "shop", "{{.State}}"), "Created");
    // podman's older spelling of `kube down`.
    let out = rpod.ok(&["play", "kube", "--down", &file]);
    assert!(
        out.starts_with("Pods stopped:\n") && out.contains("Pods removed:\n"),
        "{out}"
    );
    assert_eq!(rpod.ok(&["pod", "ps", "-q"]), "");
    assert_eq!(rpod.ok(&["ps", "-aq"]), "");
    // The claim's volume is the user's data: it stays.
    assert!(rpod
        .ok(&["volume", "ls", "-q"])
        .lines()
        .any(|v| v == "shop-data"));
    let err = rpod.fails(&["kube", "down", &file], 125);
    assert!(err.contains("shop"), "{err}");

    // What rpod cannot honour is refused before anything is made.
    let probe = yaml.replace(
        "    workingDir: /tmp\n",
        "    workingDir: /tmp\n    lifecycle: {postStart: {exec: {command: [\"true\"]}}}\n",
    );
    let file = rpod.dir.path().join("probe.yaml");
    std::fs::write(&file, probe).unwrap();
    let err = rpod.fails(&["kube", "play", &file.display().to_string()], 125);
    assert!(err.contains("spec.containers[1].lifecycle"), "{err}");
    assert_eq!(rpod.ok(&["pod", "ps", "-q"]), "");
    assert_eq!(rpod.ok(&["ps", "-aq"]), "");
    rpod.ok(&["volume", "rm", "shop-data"]);
}

/// `generate kube` (and `kube generate`): a container's Kubernetes YAML, which `kube play`
/// makes into a pod whose container runs as the original did; the pod's YAML again; what
/// cannot be generated is refused.
#[test]
fn generate_kube_writes_what_kube_play_makes_again() {
    let rpod = Rpod::with_image("crun");
    let site = rpod.dir.path().join("site");
    std::fs::create_dir(&site).unwrap();
    std::fs::write(site.join("index"), "from the host").unwrap();
    let site_bind = format!("{}:/site:ro", site.display());
    let script = "echo $MODE $(pwd) $(id -u) $(cat /site/index); \
                  cat /data/log; mount | grep -c ' /scratch type tmpfs'";
    rpod.ok(&[
        "run",
        "--rm",
        "-v",
        "webdata:/data",
        "demo",
        "sh",
        "-c",
        "echo kept > /data/log",
    ]);
    rpod.ok(&[
        "create",
        "--name",
        "web",
        "-e",
        "MODE=generated",
        "-w",
        "/tmp",
        "--user",
        "1000:1000",
        "-v",
        &site_bind,
        "-v",
        "webdata:/data",
        "--tmpfs",
        "/scratch",
        "--memory",
        "64m",
        "--label",
        "tier=front",
        "demo",
        "sh",
        "-c",
        script,
    ]);
    let yaml = rpod.ok(&["generate", "kube", "web"]);
    assert!(
        yaml.contains("kind: Pod") && yaml.contains("name: web-pod"),
        "{yaml}"
    );
    let file = rpod.dir.path().join("web.yaml");
    rpod.ok(&["generate", "kube", "-f", &file.display().to_string(), "web"]);
    assert_eq!(
        std::fs::read_to_string(&file).unwrap().lines().count(),
        yaml.lines().count()
    );
    // An existing file is not overwritten.
    rpod.fails(
        &["generate", "kube", "-f", &file.display().to_string(), "web"],
        125,
    );
    rpod.ok(&["rm", "web"]);
    rpod.ok(&["kube", "play", &file.display().to_string()]);
    wait_until("the played container ran", || {
        rpod.inspect("web-pod-web", "{{.State.Status}}") == "exited"
    });
    assert_eq!(
        rpod.ok(&["logs", "web-pod-web"]),
        "generated /tmp 1000 from the host\nkept\n1\n"
    );
    assert_eq!(
        rpod.inspect("web-pod-web", "{{.HostConfig.Memory}}"),
        (64u64 << 20).to_string()
    );
    assert_eq!(
        rpod.inspect("web-pod-web", "{{.Config.Labels.tier}}"),
        "front"
    );
    // The pod's YAML names the container as the original was named, and plays the same.
    let again = rpod.ok(&["kube", "generate", "web-pod"]);
    let body = |yaml: &str| -> String {
        yaml.lines()
            .filter(|l| !l.starts_with('#') && !l.contains("creationTimestamp"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(body(&again), body(&yaml));
    // A pod's container alone and an unknown name are refused; a pod that publishes no
    // port gets no Service, and says so.
    let err = rpod.fails(&["generate", "kube", "web-pod-web"], 125);
    assert!(err.contains("generate kube the pod"), "{err}");
    rpod.fails(&["generate", "kube", "nosuch"], 125);
    let out = rpod
        .command(&["generate", "kube", "--service", "web-pod"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("kind: Service"));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no port"),
        "{out:?}"
    );
    rpod.ok(&["pod", "rm", "-f", "web-pod"]);
    rpod.ok(&["volume", "rm", "webdata"]);
}

/// `pod clone`: a new pod made as the original was (labels, host name, limits, infra
/// settings), with a clone of each container joined to the new pod's namespaces, named as
/// podman names clones; `--start`, `--destroy`, a name as the second word, other limits.
#[test]
fn a_pod_clones_with_its_containers() {
    let rpod = Rpod::with_image("crun");
    let original = rpod.ok(&[
        "pod",
        "create",
        "--name",
        "web",
        "--label",
        "tier=front",
        "--hostname",
        "webhost",
        "--memory",
        "64m",
    ]);
    // side requires app: the pod's removal must take side first.
    for (name, requires) in [("app", None), ("side", Some("app"))] {
        let mut args = vec![
            "create",
            "--pod",
            "web",
            "--name",
            name,
            "--stop-timeout",
            "1",
        ];
        if let Some(required) = requires {
            args.extend(["--requires", required]);
        }
        args.extend(["demo", "sleep", "300"]);
        rpod.ok(&args);
    }
    let id = rpod.ok(&["pod", "clone", "--start", "-l", "extra=1", "web"]);
    let id = id.trim();
    assert_eq!(pod_field(&rpod, id, "{{.Name}}"), "web-clone");
    assert_eq!(
        pod_field(&rpod, "web-clone", "{{.Labels}}"),
        "map[extra:1 tier:front]"
    );
    assert!(
        rpod.ok(&["pod", "inspect", "web-clone"])
            .contains(r#""memory_limit": 67108864"#),
        "the limit went"
    );
    assert_eq!(pod_field(&rpod, "web-clone", "{{.State}}"), "Running");
    assert_eq!(members(&rpod, id), ["app-clone", "side-clone"]);
    // The clones share the new pod's infra container's namespaces, not the old one's.
    let infra = pod_field(&rpod, "web-clone", "{{.InfraContainerID}}");
    rpod.ok(&["pod", "start", "web"]);
    // Read on the host: the infra container has no readlink.
    let host_namespace = |name: &str, kind: &str| {
        let pid = rpod.inspect(name, "{{.State.Pid}}");
        std::fs::read_link(format!("/proc/{pid}/ns/{kind}")).unwrap()
    };
    for kind in ["net", "uts", "ipc"] {
        let clone_ns = host_namespace("app-clone", kind);
        assert_eq!(clone_ns, host_namespace("side-clone", kind), "{kind}");
        assert_eq!(clone_ns, host_namespace(&infra, kind), "{kind}");
        assert_ne!(clone_ns, host_namespace("app", kind), "{kind}");
    }
    assert_eq!(rpod.ok(&["exec", "app-clone", "hostname"]), "webhost\n");
    assert_eq!(pod_field(&rpod, "web-clone", "{{.Hostname}}"), "webhost");
    // What a member required in the old pod is its clone in the new one.
    let dependencies = rpod.inspect("side-clone", "{{json .Dependencies}}");
    assert!(
        dependencies.contains(&rpod.inspect("app-clone", "{{.Id}}"))
            && !dependencies.contains(&rpod.inspect("app", "{{.Id}}")),
        "{dependencies}"
    );
    // A second clone takes the next free names; the original goes with --destroy.
    let copy = rpod.ok(&[
        "pod",
        "clone",
        "--destroy",
        "--memory",
        "32m",
        "web",
        "copy",
    ]);
    let copy = copy.trim();
    assert_eq!(pod_field(&rpod, copy, "{{.Name}}"), "copy");
    assert!(
        rpod.ok(&["pod", "inspect", "copy"])
            .contains(r#""memory_limit": 33554432"#),
        "--memory was not taken"
    );
    rpod.fails(&["pod", "inspect", original.trim()], 125);
    assert_eq!(members(&rpod, "copy"), ["app-clone1", "side-clone1"]);
    assert_eq!(pod_field(&rpod, "copy", "{{.State}}"), "Created");
    // Network and user namespace flags replace the original's, each when given.
    rpod.ok(&[
        "pod",
        "create",
        "--name",
        "named",
        "--dns",
        "10.0.0.1",
        "--add-host",
        "h:10.1.1.1",
    ]);
    rpod.ok(&[
        "pod",
        "clone",
        "--dns",
        "10.0.0.2",
        "--uidmap",
        "0:100000:65536",
        "--gidmap",
        "0:100000:65536",
        "named",
    ]);
    let infra = pod_field(&rpod, "named-clone", "{{.InfraContainerID}}");
    assert_eq!(
        rpod.inspect(
            &infra,
            "{{.HostConfig.Dns}} {{.HostConfig.ExtraHosts}} {{.HostConfig.IDMappings.UidMap}}"
        ),
        "[10.0.0.2] [h:10.1.1.1] [0:100000:65536]"
    );
    let err = rpod.fails(&["pod", "clone", "--userns", "keep-id", "named"], 125);
    assert!(err.contains("not supported"), "{err}");
    rpod.ok(&["pod", "rm", "named", "named-clone"]);
    // Refused: an unknown pod, a taken name, the name given twice.
    rpod.fails(&["pod", "clone", "nosuch"], 125);
    let err = rpod.fails(&["pod", "clone", "copy", "web-clone"], 125);
    assert!(err.contains("web-clone"), "{err}");
    let err = rpod.fails(&["pod", "clone", "--name", "a", "copy", "b"], 125);
    assert!(err.contains("once"), "{err}");
    assert_eq!(rpod.ok(&["pod", "ps", "-q"]).lines().count(), 2);
}

/// `container clone` of a pod's container: the clone joins the same pod (its infra
/// container's namespaces, not the original's settings), or with `--pod` another one, as
/// does a clone of a container of no pod; an infra container is not cloned alone.
#[test]
fn a_pods_container_clones_into_its_pod_or_another() {
    let rpod = Rpod::with_image("runc");
    rpod.ok(&["pod", "create", "--name", "web"]);
    rpod.ok(&["pod", "create", "--name", "other"]);
    let pod_id = |name: &str| pod_field(&rpod, name, "{{.Id}}");
    rpod.ok(&[
        "create",
        "--pod",
        "web",
        "--name",
        "app",
        "--stop-timeout",
        "1",
        "demo",
        "sleep",
        "300",
    ]);
    rpod.ok(&[
        "create",
        "--name",
        "solo",
        "--stop-timeout",
        "1",
        "demo",
        "sleep",
        "300",
    ]);
    rpod.ok(&["container", "clone", "--run", "app"]);
    rpod.ok(&[
        "container",
        "clone",
        "--run",
        "--pod",
        "other",
        "app",
        "moved",
    ]);
    rpod.ok(&["container", "clone", "--run", "--pod", "other", "solo"]);
    assert_eq!(rpod.inspect("app-clone", "{{.Pod}}"), pod_id("web"));
    assert_eq!(rpod.inspect("moved", "{{.Pod}}"), pod_id("other"));
    assert_eq!(rpod.inspect("solo-clone", "{{.Pod}}"), pod_id("other"));
    let host_namespace = |name: &str| {
        let pid = rpod.inspect(name, "{{.State.Pid}}");
        std::fs::read_link(format!("/proc/{pid}/ns/net")).unwrap()
    };
    for (name, pod) in [
        ("app-clone", "web"),
        ("moved", "other"),
        ("solo-clone", "other"),
    ] {
        let infra = pod_field(&rpod, pod, "{{.InfraContainerID}}");
        assert_eq!(host_namespace(name), host_namespace(&infra), "{name}");
    }
    let infra = pod_field(&rpod, "web", "{{.InfraContainerID}}");
    let err = rpod.fails(&["container", "clone", &infra], 125);
    assert!(err.contains("infra container"), "{err}");
    rpod.fails(&["container", "clone", "--pod", "nosuch", "app"], 125);
}

/// `kube play` with ConfigMaps (the file's own and `--configmap`'s) and Secrets:
/// variables from `envFrom`, `configMapKeyRef` and `secretKeyRef`, and `configMap` and
/// `secret` volumes' files with their modes,
/// written again by a new play and never through a link a container left in the volume.
#[test]
fn kube_play_takes_config_maps_for_variables_and_files() {
    let rpod = Rpod::with_image("crun");
    let pod = r#"kind: Pod
metadata: {name: conf}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 0
  containers:
  - name: app
    image: demo
    command: ["sleep", "1000"]
    envFrom:
    - configMapRef: {name: settings}
      prefix: S_
    env:
    - name: LEVEL
      valueFrom: {configMapKeyRef: {name: extra, key: level}}
    - name: TOKEN
      valueFrom: {secretKeyRef: {name: creds, key: token}}
    volumeMounts:
    - {name: conf, mountPath: /etc/app}
    - {name: creds, mountPath: /run/creds}
  volumes:
  - name: creds
    secret: {secretName: creds, defaultMode: 0400}
  - name: conf
    configMap:
      name: settings
      defaultMode: 0440
      items:
      - {key: app.conf, path: conf.d/app.conf}
---
kind: ConfigMap
metadata: {name: settings}
data:
  app.conf: "port = 8080\n"
  mode: production
---
kind: Secret
metadata: {name: creds}
stringData: {token: t0k3n}
"#;
    let file = rpod.dir.path().join("conf.yaml");
    std::fs::write(&file, pod).unwrap();
    let extra = rpod.dir.path().join("extra.yaml");
    std::fs::write(
        &extra,
        "kind: ConfigMap\nmetadata: {name: extra}\ndata: {level: debug}\n",
    )
    .unwrap();
    let file = file.display().to_string();
    let extra = extra.display().to_string();
    // Without the ConfigMap it needs, nothing is made.
    let err = rpod.fails(&["kube", "play", &file], 125);
    assert!(
        err.contains("no key \"level\" in a ConfigMap named \"extra\""),
        "{err}"
    );
    assert_eq!(rpod.ok(&["pod", "ps", "-q"]), "");
    rpod.ok(&["kube", "play", "--configmap", &extra, &file]);
    let look = |what: &str| rpod.ok(&["exec", "conf-app", "sh", "-c", what]);
    // (The secret's value has no newline of its own: `t0k3n400`.)
    assert_eq!(
        look("echo $S_mode $S_app.conf $LEVEL $TOKEN; cat /etc/app/conf.d/app.conf; stat -c %a /etc/app/conf.d/app.conf; ls /etc/app; cat /run/creds/token; stat -c %a /run/creds/token"),
        "production .conf debug t0k3n\nport = 8080\n440\nconf.d\nt0k3n400\n"
    );
    // Read-only for the container.
    assert!(
        rpod.run(&["exec", "conf-app", "sh", "-c", "echo x > /etc/app/new"])
            .status
            .code()
            != Some(0)
    );
    // A link left in the volume (here by the host, as a container with it writable could)
    // is replaced, never written through; a new play writes the new data.
    rpod.ok(&["kube", "down", &file]);
    let victim = rpod.dir.path().join("victim");
    std::fs::write(&victim, "untouched\n").unwrap();
    let volume_dir = rpod.ok(&[
        "volume",
        "inspect",
        "--format",
        "{{.Mountpoint}}",
        "settings",
    ]);
    let volume_dir = std::path::Path::new(volume_dir.trim());
    std::fs::remove_dir_all(volume_dir.join("conf.d")).unwrap();
    std::fs::create_dir(volume_dir.join("conf.d")).unwrap();
    std::os::unix::fs::symlink(&victim, volume_dir.join("conf.d/app.conf")).unwrap();
    std::fs::write(
        rpod.dir.path().join("conf.yaml"),
        pod.replace("8080", "9090"),
    )
    .unwrap();
    rpod.ok(&["kube", "play", "--configmap", &extra, &file]);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched\n");
    assert_eq!(look("cat /etc/app/conf.d/app.conf"), "port = 9090\n");
    rpod.ok(&["kube", "down", &file]);
    // A volume of the ConfigMap's name that kube play did not make is the user's data:
    // refused, not emptied.
    rpod.ok(&["volume", "rm", "settings"]);
    rpod.ok(&["volume", "create", "settings"]);
    rpod.ok(&[
        "run",
        "--rm",
        "-v",
        "settings:/v",
        "demo",
        "sh",
        "-c",
        "echo mine > /v/data",
    ]);
    let err = rpod.fails(&["kube", "play", "--configmap", &extra, &file], 125);
    assert!(err.contains("the volume settings exists"), "{err}");
    assert_eq!(
        rpod.ok(&["run", "--rm", "-v", "settings:/v", "demo", "cat", "/v/data"]),
        "mine\n"
    );
}

/// A `livenessProbe` is the container's health check, and a failing one restarts it, as
/// in Kubernetes; a passing HTTP probe (wget in this image) keeps it healthy, its
/// `httpHeaders` sent (the page fails without them).
#[test]
fn kube_play_liveness_probes_check_and_restart_containers() {
    let rpod = Rpod::with_image("crun");
    let yaml = r#"kind: Pod
metadata: {name: probed}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: flaky
    image: demo
    command: ["sh", "-c", "test -e /tmp/was-here && sleep 1000; touch /tmp/was-here /tmp/healthy; sleep 1000"]
    livenessProbe:
      exec: {command: [cat, /tmp/healthy]}
      periodSeconds: 1
      failureThreshold: 1
  - name: web
    image: demo
    command:
    - sh
    - -c
    - |
      mkdir -p /www/cgi-bin
      cat > /www/cgi-bin/health <<'EOF'
      #!/bin/sh
      test "$HTTP_X_PROBE" = "it's me" || printf 'Status: 500 No header\r\n'
      printf 'Content-Type: text/plain\r\n\r\nok\n'
      EOF
      chmod +x /www/cgi-bin/health
      exec httpd -f -p 8080 -h /www
    ports: [{containerPort: 8080, name: http}]
    livenessProbe:
      httpGet:
        port: http
        path: /cgi-bin/health
        httpHeaders: [{name: X-Probe, value: "it's me"}]
      periodSeconds: 1
"#;
    let file = rpod.dir.path().join("probed.yaml");
    std::fs::write(&file, yaml).unwrap();
    let file = file.display().to_string();
    rpod.ok(&["kube", "play", &file]);
    let field = |name: &str, template: &str| rpod.inspect(name, template);
    // rpod-monitor runs the checks on schedule; with conmon they run when asked.
    let scheduled = !common::on_conmon();
    if scheduled {
        common::wait_until("the web container healthy", || {
            field("probed-web", "{{.State.Health.Status}}") == "healthy"
        });
    } else {
        rpod.ok(&["healthcheck", "run", "probed-web"]);
        assert_eq!(field("probed-web", "{{.State.Health.Status}}"), "healthy");
    }
    let first_start = field("probed-flaky", "{{.State.StartedAt}}");
    // Its check fails once the file goes: the container is restarted at once (its stop
    // timeout is the pod's grace period, 0), and its second life, which finds its first
    // one's file, does not make it again.
    rpod.ok(&["exec", "probed-flaky", "rm", "/tmp/healthy"]);
    let failed_at = std::time::Instant::now();
    if !scheduled {
        let said = rpod.run(&["healthcheck", "run", "probed-flaky"]);
        assert_eq!(said.status.code(), Some(1));
        assert_eq!(String::from_utf8_lossy(&said.stdout), "unhealthy\n");
    }
    common::wait_until("the flaky container restarted", || {
        field("probed-flaky", "{{.State.StartedAt}}") != first_start
            && field("probed-flaky", "{{.State.Status}}") == "running"
    });
    // (A check its monitor ran waited 30 s before restarting: the monitor waited for the
    // check, which waited for the monitor to end.)
    assert!(failed_at.elapsed() < std::time::Duration::from_secs(15));
    rpod.ok(&["kube", "down", &file]);
}

/// `--init-ctr`: `pod start` runs the pod's init containers first, in the order they were
/// made, each to its end: a `once` one goes once it ran well, an `always` one runs at every
/// start of the pod (not when the pod runs already, nor when one container is started).
/// One that fails stops the start with its status and last output, the others not started.
/// An exited init container leaves the pod running; one needs a pod, and a type.
#[test]
fn init_containers_run_when_their_pod_starts() {
    let rpod = Rpod::with_image("crun");
    let out = rpod.dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let volume = format!("{}:/out", out.display());
    let order = || std::fs::read_to_string(out.join("order")).unwrap_or_default();
    rpod.ok(&["pod", "create", "--name", "ip"]);
    let create = |name: &str, init: Option<&str>, script: &str| {
        let mut args = vec!["create", "--pod", "ip", "--name", name, "-v", &volume];
        if let Some(kind) = init {
            args.extend(["--init-ctr", kind]);
        }
        args.extend(["demo", "sh", "-c", script]);
        rpod.ok(&args);
    };
    create("first", Some("once"), "echo once >> /out/order");
    create("main", None, "echo main >> /out/order; sleep 1000");
    create(
        "second",
        Some("always"),
        "sleep 1; echo always >> /out/order",
    );
    rpod.ok(&["pod", "start", "ip"]);
    common::wait_until("main wrote its line", || order().contains("main"));
    assert_eq!(order(), "once\nalways\nmain\n");
    let states = || rpod.ok(&["ps", "-a", "--format", "{{.Names}} {{.State}}"]);
    let listed = states();
    assert!(!listed.contains("first"), "{listed}");
    assert!(listed.contains("second exited"), "{listed}");
    assert!(listed.contains("main running"), "{listed}");
    assert_eq!(
        rpod.ok(&["pod", "ps", "--format", "{{.Status}}"]).trim(),
        "Running"
    );

    // Started again while it runs: nothing runs again.
    rpod.ok(&["pod", "start", "ip"]);
    assert_eq!(order(), "once\nalways\nmain\n");
    rpod.ok(&["pod", "stop", "-t", "0", "ip"]);
    rpod.ok(&["pod", "start", "ip"]);
    common::wait_until("main wrote its line", || {
        order().matches("main").count() == 2
    });
    assert_eq!(order(), "once\nalways\nmain\nalways\nmain\n");

    // A failing init container stops the start; its status and output say why.
    create("third", Some("always"), "echo 'init says why' >&2; exit 3");
    rpod.ok(&["pod", "stop", "-t", "0", "ip"]);
    let err = rpod.fails(&["pod", "start", "ip"], 125);
    assert!(
        err.contains("init container third exited with status 3") && err.contains("init says why"),
        "{err}"
    );
    assert!(states().contains("main exited"), "{}", states());
    // A container started alone runs no init container.
    rpod.ok(&["start", "main"]);
    common::wait_until("main wrote its line", || {
        order().matches("main").count() == 3
    });
    assert!(
        order().ends_with("always\nmain\nalways\nmain\n"),
        "{}",
        order()
    );
    rpod.ok(&["pod", "rm", "-f", "-t", "0", "ip"]);

    let err = rpod.fails(&["create", "--init-ctr", "once", "demo", "true"], 125);
    assert!(err.contains("--pod"), "{err}");
    rpod.ok(&["pod", "create", "--name", "other"]);
    let err = rpod.fails(
        &[
            "create",
            "--pod",
            "other",
            "--init-ctr",
            "sometimes",
            "demo",
            "true",
        ],
        125,
    );
    assert!(err.contains("always or once"), "{err}");
    let err = rpod.fails(
        &[
            "create",
            "--pod",
            "other",
            "--init-ctr",
            "always",
            "--restart",
            "always",
            "demo",
            "true",
        ],
        125,
    );
    assert!(err.contains("--restart"), "{err}");
}

/// `initContainers`: run one after the other, each to its end, before the containers start
/// (what they leave in a shared volume is there for them), then removed; one that fails
/// fails the play with its status and last output, and nothing of the pod is left. With
/// `--start=false` they run when the pod is started.
#[test]
fn kube_play_runs_init_containers_first_and_once() {
    let rpod = Rpod::with_image("crun");
    let yaml = r#"kind: Pod
metadata: {name: initialized}
spec:
  terminationGracePeriodSeconds: 0
  initContainers:
  - name: first
    image: demo
    command: ["sh", "-c", "echo first >> /shared/order"]
    volumeMounts: [{name: shared, mountPath: /shared}]
  - name: second
    image: demo
    command: ["sh", "-c", "test -s /shared/order && echo second >> /shared/order"]
    volumeMounts: [{name: shared, mountPath: /shared}]
  containers:
  - name: app
    image: demo
    command: ["sh", "-c", "echo app >> /shared/order; sleep 1000"]
    volumeMounts: [{name: shared, mountPath: /shared}]
  volumes:
  - {name: shared, persistentVolumeClaim: {claimName: init-shared}}
"#;
    let file = rpod.dir.path().join("init.yaml");
    std::fs::write(&file, yaml).unwrap();
    let file = file.display().to_string();
    rpod.ok(&["kube", "play", &file]);
    common::wait_until("the app wrote its line", || {
        rpod.ok(&["exec", "initialized-app", "cat", "/shared/order"]) == "first\nsecond\napp\n"
    });
    // Only the infra container and the app are left.
    let names = rpod.ok(&["ps", "-a", "--pod", "--format", "{{.Names}}"]);
    let mut names: Vec<&str> = names.lines().collect();
    names.sort();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names.contains(&"initialized-app"), "{names:?}");
    rpod.ok(&["kube", "down", &file]);
    rpod.ok(&["volume", "rm", "init-shared"]);

    let failing = yaml.replace(
        "test -s /shared/order && echo second >> /shared/order",
        "printf '%05000d' 0 >&2; echo >&2; echo 'init says why' >&2; exit 3",
    );
    std::fs::write(&file, failing).unwrap();
    let err = rpod.fails(&["kube", "play", &file], 125);
    assert!(
        err.contains("initialized-second exited with status 3") && err.contains("init says why"),
        "{err}"
    );
    // Its long line is cut short.
    assert!(
        err.contains(&"0".repeat(1000)) && !err.contains(&"0".repeat(1001)),
        "{err}"
    );
    assert_eq!(rpod.ok(&["ps", "-aq"]), "");
    assert_eq!(rpod.ok(&["pod", "ps", "-q"]), "");

    // With --start=false they are made, and run when the pod is started.
    std::fs::write(&file, yaml).unwrap();
    rpod.ok(&["volume", "rm", "init-shared"]);
    rpod.ok(&["kube", "play", "--start=false", &file]);
    let names = rpod.ok(&["ps", "-a", "--format", "{{.Names}}"]);
    assert!(names.contains("initialized-first"), "{names}");
    rpod.ok(&["pod", "start", "initialized"]);
    common::wait_until("the app wrote its line", || {
        rpod.ok(&["exec", "initialized-app", "cat", "/shared/order"]) == "first\nsecond\napp\n"
    });
    rpod.ok(&["kube", "down", &file]);
    rpod.ok(&["volume", "rm", "init-shared"]);
}

/// An `emptyDir` is the pod's, as Kubernetes': what an init container leaves in it is
/// there for the containers; it is empty again for a pod played anew, and goes with
/// `kube down`. A volume of its name that is the user's is refused, never emptied.
#[test]
fn kube_play_shares_an_empty_dir_among_a_pods_containers() {
    let rpod = Rpod::with_image("crun");
    let yaml = r#"kind: Pod
metadata: {name: emptied}
spec:
  terminationGracePeriodSeconds: 0
  initContainers:
  - name: fill
    image: demo
    command: ["sh", "-c", "echo filled >> /work/seen"]
    volumeMounts: [{name: work, mountPath: /work}]
  containers:
  - name: app
    image: demo
    command: ["sh", "-c", "cat /work/seen; sleep 1000"]
    volumeMounts: [{name: work, mountPath: /work}]
  - name: reader
    image: demo
    command: ["sleep", "1000"]
    volumeMounts: [{name: work, mountPath: /w, readOnly: true}]
  volumes:
  - {name: work, emptyDir: {}}
"#;
    let file = rpod.dir.path().join("empty.yaml");
    std::fs::write(&file, yaml).unwrap();
    let file = file.display().to_string();
    rpod.ok(&["kube", "play", &file]);
    common::wait_until("the app printed what the init container left", || {
        rpod.ok(&["logs", "emptied-app"]) == "filled\n"
    });
    assert_eq!(
        rpod.ok(&["exec", "emptied-reader", "cat", "/w/seen"]),
        "filled\n"
    );
    assert_eq!(rpod.ok(&["volume", "ls", "-q"]), "emptied-work-emptydir\n");
    // Written back as the emptyDir it is (one, for the containers that share it).
    let generated = rpod.ok(&["generate", "kube", "emptied"]);
    assert_eq!(generated.matches("emptyDir: {}").count(), 1, "{generated}");
    assert!(generated.contains("name: work"), "{generated}");
    assert!(!generated.contains("persistentVolumeClaim"), "{generated}");
    // Played anew: the volume is empty again (one line, not two).
    rpod.ok(&["kube", "play", "--replace", &file]);
    common::wait_until("the app printed again", || {
        rpod.ok(&["logs", "emptied-app"]) == "filled\n"
    });
    assert_eq!(
        rpod.ok(&["exec", "emptied-reader", "cat", "/w/seen"]),
        "filled\n"
    );
    rpod.ok(&["kube", "down", &file]);
    assert_eq!(rpod.ok(&["volume", "ls", "-q"]), "");
    // The user's volume of that name stays the user's.
    rpod.ok(&["volume", "create", "emptied-work-emptydir"]);
    let err = rpod.fails(&["kube", "play", &file], 125);
    assert!(err.contains("emptied-work-emptydir"), "{err}");
    assert_eq!(rpod.ok(&["pod", "ps", "-q"]), "");
    assert_eq!(rpod.ok(&["volume", "ls", "-q"]), "emptied-work-emptydir\n");
}

/// `kind: PersistentVolumeClaim`: its volume is made (labels, podman's annotations as the
/// local driver's options: here a 1 MiB tmpfs) before the pods that claim it, reported as
/// podman reports it, found as it is by a second play, and kept by `kube down`; `generate
/// kube VOLUME` writes the claim back.
#[test]
fn kube_play_makes_the_volumes_of_claims() {
    let rpod = Rpod::with_image("crun");
    let yaml = r#"apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: claimed-data
  labels: {team: web}
  annotations:
    volume.podman.io/type: tmpfs
    volume.podman.io/device: tmpfs
    volume.podman.io/mount-options: size=1m
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
kind: Pod
metadata: {name: claimer}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: app
    image: demo
    command: ["sh", "-c", "df -k /data | tail -1 | awk '{print $2}' > /data/size; sleep 1000"]
    volumeMounts: [{name: data, mountPath: /data}]
  volumes:
  - {name: data, persistentVolumeClaim: {claimName: claimed-data}}
"#;
    let file = rpod.dir.path().join("claims.yaml");
    std::fs::write(&file, yaml).unwrap();
    let file = file.display().to_string();
    let out = rpod.ok(&["kube", "play", &file]);
    assert!(out.starts_with("Volumes:\nclaimed-data\nPod:\n"), "{out}");
    assert_eq!(
        rpod.ok(&[
            "volume",
            "inspect",
            "-f",
            "{{.Labels.team}} {{.Options.type}}",
            "claimed-data"
        ]),
        "web tmpfs\n"
    );
    common::wait_until("the app measured its volume", || {
        rpod.run(&["exec", "claimer-app", "cat", "/data/size"])
            .stdout
            == b"1024\n"
    });
    rpod.ok(&["kube", "down", &file]);
    assert!(rpod
        .run(&["volume", "exists", "claimed-data"])
        .status
        .success());
    // generate kube of the volume writes the claim that makes it again.
    let claim = rpod.ok(&["generate", "kube", "claimed-data"]);
    assert!(
        claim.contains("kind: PersistentVolumeClaim")
            && claim.contains("volume.podman.io/mount-options: size=1m")
            && claim.contains("team: web"),
        "{claim}"
    );
    let copy = rpod.dir.path().join("claim-again.yaml");
    std::fs::write(&copy, claim.replace("claimed-data", "claimed-copy")).unwrap();
    let out = rpod.ok(&["kube", "play", &copy.display().to_string()]);
    assert_eq!(out, "Volumes:\nclaimed-copy\n");
    assert_eq!(
        rpod.ok(&[
            "volume",
            "inspect",
            "-f",
            "{{.Options.o}} {{.Labels.team}}",
            "claimed-copy"
        ]),
        "size=1m web\n"
    );
    rpod.ok(&["volume", "rm", "claimed-copy"]);
    // Played again: the volume is there already and is used as it is.
    let out = rpod.ok(&["kube", "play", "--start=false", &file]);
    assert!(out.starts_with("Volumes:\nclaimed-data\n"), "{out}");
    rpod.ok(&["kube", "down", &file]);
    rpod.ok(&["volume", "rm", "claimed-data"]);
}

/// A `startupProbe`: the liveness probe waits for it (the container stays `starting` while
/// it fails, and is not restarted by the liveness probe meanwhile); once it passes, the
/// liveness probe takes over. By hand with conmon, which schedules nothing.
#[test]
fn kube_play_startup_probes_hold_the_liveness_probe_back() {
    let rpod = Rpod::with_image("crun");
    let yaml = r#"kind: Pod
metadata: {name: slow}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: app
    image: demo
    command: ["sleep", "1000"]
    startupProbe:
      exec: {command: [test, -e, /tmp/up]}
      periodSeconds: 1
      failureThreshold: 100
    livenessProbe:
      exec: {command: [test, -e, /tmp/up]}
      periodSeconds: 1
      failureThreshold: 1
"#;
    let file = rpod.dir.path().join("slow.yaml");
    std::fs::write(&file, yaml).unwrap();
    let file = file.display().to_string();
    rpod.ok(&["kube", "play", &file]);
    let field = |template: &str| rpod.inspect("slow-app", template);
    let started = field("{{.State.StartedAt}}");
    let scheduled = !common::on_conmon();
    if scheduled {
        wait_until("startup checks ran", || {
            field("{{len .State.Health.Log}}") == "3"
        });
    } else {
        for _ in 0..3 {
            assert_eq!(
                rpod.run(&["healthcheck", "run", "slow-app"]).status.code(),
                Some(1)
            );
        }
    }
    // Three failed startup checks: had the liveness probe (one failure) run, it would
    // have restarted the container.
    assert_eq!(field("{{.State.Health.Status}}"), "starting");
    assert_eq!(field("{{.State.StartedAt}}"), started);
    rpod.ok(&["exec", "slow-app", "touch", "/tmp/up"]);
    if scheduled {
        wait_until("the liveness probe passed", || {
            field("{{.State.Health.Status}}") == "healthy"
        });
    } else {
        rpod.ok(&["healthcheck", "run", "slow-app"]);
        rpod.ok(&["healthcheck", "run", "slow-app"]);
        assert_eq!(field("{{.State.Health.Status}}"), "healthy");
    }
    assert_eq!(field("{{.State.StartedAt}}"), started);
    rpod.ok(&["kube", "down", &file]);
}

/// An `image` volume (Kubernetes 1.31's): the image's files, read-only, a sub path of
/// them too; its image looked up as `pullPolicy` says before anything is made (`Never`
/// and missing: refused, nothing left); `generate kube` writes the volume back, and the
/// file it writes plays again.
#[test]
fn kube_play_mounts_image_volumes() {
    let rpod = Rpod::with_image("crun");
    rpod.ok(&["tag", "demo", "localhost/tools:1"]);
    let yaml = r#"kind: Pod
metadata: {name: imaged}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: app
    image: demo
    command: ["sh", "-c", "touch /t/x || echo read-only; cat /e/group; sleep 1000"]
    volumeMounts:
    - {name: tools, mountPath: /t}
    - {name: tools, mountPath: /e, subPath: etc}
  volumes:
  - name: tools
    image: {reference: "localhost/tools:1", pullPolicy: Never}
"#;
    let file = rpod.dir.path().join("imaged.yaml");
    std::fs::write(&file, yaml).unwrap();
    let file = file.display().to_string();
    rpod.ok(&["kube", "play", &file]);
    wait_until("the app tried its mounts", || {
        rpod.ok(&["logs", "imaged-app"]).contains("nogroup")
    });
    let logs = rpod.ok(&["logs", "imaged-app"]);
    assert!(logs.starts_with("read-only\nroot:x:0:\n"), "{logs}");
    assert_eq!(
        rpod.ok(&["exec", "imaged-app", "test", "-x", "/t/bin/busybox"]),
        ""
    );
    // generate kube writes the image volume; played again, it mounts the same.
    let generated = rpod.ok(&["generate", "kube", "imaged"]);
    assert!(
        generated.contains("reference: localhost/tools:1") && generated.contains("subPath: etc"),
        "{generated}"
    );
    rpod.ok(&["kube", "down", &file]);
    let again = rpod.dir.path().join("again.yaml");
    std::fs::write(&again, &generated).unwrap();
    let again = again.display().to_string();
    rpod.ok(&["kube", "play", &again]);
    assert_eq!(
        rpod.ok(&["exec", "imaged-app", "cat", "/e/group"]),
        "root:x:0:\nnogroup:x:65534:\n"
    );
    rpod.ok(&["kube", "down", &again]);

    // Not there, and never to be pulled: refused before anything is made.
    let missing = yaml.replace("localhost/tools:1", "localhost/absent:1");
    std::fs::write(&file, missing).unwrap();
    let err = rpod.fails(&["kube", "play", &file], 125);
    assert!(err.contains("localhost/absent:1"), "{err}");
    assert_eq!(rpod.ok(&["pod", "ps", "-q"]), "");
    assert_eq!(rpod.ok(&["ps", "-aq"]), "");
}

/// `volumeMounts[].subPath`: one file of a ConfigMap's volume on a file's path, and one
/// directory of a claimed volume (made when missing), beside what the image has there.
#[test]
fn kube_play_mounts_sub_paths_of_volumes() {
    let rpod = Rpod::with_image("crun");
    let yaml = r#"kind: ConfigMap
metadata: {name: app-conf}
data:
  app.conf: "setting=1\n"
  other.conf: "unused\n"
---
kind: Pod
metadata: {name: subbed}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: app
    image: demo
    command: ["sh", "-c", "echo written > /var/data/file; sleep 1000"]
    volumeMounts:
    - {name: conf, mountPath: /etc/app.conf, subPath: app.conf}
    - {name: data, mountPath: /var/data, subPath: app/data}
  volumes:
  - {name: conf, configMap: {name: app-conf}}
  - {name: data, persistentVolumeClaim: {claimName: sub-data}}
"#;
    let file = rpod.dir.path().join("subbed.yaml");
    std::fs::write(&file, yaml).unwrap();
    let file = file.display().to_string();
    rpod.ok(&["kube", "play", &file]);
    assert_eq!(
        rpod.ok(&["exec", "subbed-app", "cat", "/etc/app.conf"]),
        "setting=1\n"
    );
    // The image's /etc is still there around the one file.
    assert_eq!(
        rpod.ok(&["exec", "subbed-app", "test", "-e", "/etc/passwd"]),
        ""
    );
    wait_until("the app wrote into its sub path", || {
        rpod.run(&["exec", "subbed-app", "cat", "/var/data/file"])
            .stdout
            == b"written\n"
    });
    // generate kube writes the sub paths back.
    let generated = rpod.ok(&["generate", "kube", "subbed"]);
    assert!(
        generated.contains("subPath: app.conf") && generated.contains("subPath: app/data"),
        "{generated}"
    );
    rpod.ok(&["kube", "down", &file]);
    assert_eq!(
        rpod.ok(&[
            "run",
            "--rm",
            "-v",
            "sub-data:/v",
            "demo",
            "cat",
            "/v/app/data/file"
        ]),
        "written\n"
    );
    let bad = yaml.replace("subPath: app/data", "subPath: ../data");
    std::fs::write(&file, bad).unwrap();
    let err = rpod.fails(&["kube", "play", &file], 125);
    assert!(err.contains("volumeMounts[1].subPath"), "{err}");
}

/// `kind: DaemonSet`: its pod, here, named `NAME-pod`; `kube down` removes it.
#[test]
fn kube_play_runs_a_daemon_sets_pod() {
    let rpod = Rpod::with_image("crun");
    let yaml = r#"apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, labels: {app: agent}}
spec:
  selector: {matchLabels: {app: agent}}
  updateStrategy: {type: RollingUpdate}
  template:
    metadata: {labels: {app: agent}}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
      - {name: worker, image: demo, command: [sleep, "1000"]}
"#;
    let file = rpod.dir.path().join("agent.yaml");
    std::fs::write(&file, yaml).unwrap();
    let file = file.display().to_string();
    rpod.ok(&["kube", "play", &file]);
    assert_eq!(
        rpod.inspect("agent-pod-worker", "{{.State.Status}}"),
        "running"
    );
    assert_eq!(
        rpod.ok(&["pod", "inspect", "--format", "{{.Labels.app}}", "agent-pod"]),
        "agent\n"
    );
    rpod.ok(&["kube", "down", &file]);
    assert_eq!(rpod.ok(&["pod", "ps", "-q"]), "");
}

/// An image named after a directory of the current one that holds a Containerfile is
/// built by `kube play` when it is missing (podman's), again with `--build`, never with
/// `--build=false`.
#[test]
fn kube_play_builds_images_from_directories_named_after_them() {
    let rpod = Rpod::with_image("crun");
    let cwd = rpod.dir.path().join("project");
    std::fs::create_dir_all(cwd.join("webapp")).unwrap();
    std::fs::write(
        cwd.join("webapp/Containerfile"),
        "FROM demo\nRUN echo built-by-kube > /built\n",
    )
    .unwrap();
    let yaml = r#"kind: Pod
metadata: {name: built}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - {name: app, image: localhost/webapp:latest, command: [sleep, "1000"]}
"#;
    let file = cwd.join("pod.yaml");
    std::fs::write(&file, yaml).unwrap();
    let file = file.display().to_string();
    let play = |extra: &[&str]| {
        let mut args = vec!["kube", "play"];
        args.extend_from_slice(extra);
        args.push(&file);
        rpod.command(&args).current_dir(&cwd).output().unwrap()
    };
    let out = play(&[]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("STEP 2/2"),
        "{out:?}"
    );
    assert_eq!(
        rpod.ok(&["exec", "built-app", "cat", "/built"]),
        "built-by-kube\n"
    );
    rpod.ok(&["kube", "down", &file]);
    // Here now: not built again, unless --build.
    let out = play(&[]);
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("STEP"),
        "{out:?}"
    );
    rpod.ok(&["kube", "down", &file]);
    let out = play(&["--build"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("STEP 2/2"),
        "{out:?}"
    );
    rpod.ok(&["kube", "down", &file]);
    // --build=false: a missing image is pulled, never built (and there is no registry).
    rpod.ok(&["rmi", "-f", "localhost/webapp:latest"]);
    let out = play(&["--build=false"]);
    assert!(!out.status.success(), "{out:?}");
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("STEP"),
        "{out:?}"
    );
    assert_eq!(rpod.ok(&["pod", "ps", "-q"]), "");
}

/// A Secret the file does not have comes from rpod's secret store when the stored secret
/// holds a Kubernetes Secret's YAML (`secret create NAME secret.yaml`, as with podman):
/// as variables and as a volume's files.
#[test]
fn kube_play_takes_secrets_from_the_secret_store() {
    let rpod = Rpod::with_image("crun");
    let secret = rpod.dir.path().join("secret.yaml");
    std::fs::write(
        &secret,
        "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\ndata: {password: aHVudGVyMg==}\n",
    )
    .unwrap();
    rpod.ok(&[
        "secret",
        "create",
        "stored-db",
        &secret.display().to_string(),
    ]);
    let yaml = r#"kind: Pod
metadata: {name: usesecret}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: app
    image: demo
    command: [sleep, "1000"]
    env:
    - {name: PW, valueFrom: {secretKeyRef: {name: stored-db, key: password}}}
    volumeMounts: [{name: creds, mountPath: /creds}]
  volumes:
  - {name: creds, secret: {secretName: stored-db}}
"#;
    let file = rpod.dir.path().join("usesecret.yaml");
    std::fs::write(&file, yaml).unwrap();
    let file = file.display().to_string();
    rpod.ok(&["kube", "play", &file]);
    assert_eq!(
        rpod.ok(&[
            "exec",
            "usesecret-app",
            "sh",
            "-c",
            "echo $PW; cat /creds/password"
        ]),
        "hunter2\nhunter2"
    );
    rpod.ok(&["kube", "down", &file]);
}

/// `kube play --log-driver`: every container of the file logs so (`none`: no log file, and
/// `logs` has nothing to show); a driver a played pod cannot have is refused, making
/// nothing.
#[test]
fn kube_play_takes_a_log_driver_for_every_container() {
    let rpod = Rpod::with_image("crun");
    let yaml = "kind: Pod\nmetadata: {name: quiet}\nspec:\n  restartPolicy: Never\n  \
        terminationGracePeriodSeconds: 0\n  containers:\n  - {name: main, image: demo, command: [sh, -c, 'echo said; sleep 1000']}\n";
    let file = rpod.dir.path().join("quiet.yaml");
    std::fs::write(&file, yaml).unwrap();
    let file = file.display().to_string();
    let err = rpod.fails(&["kube", "play", "--log-driver", "passthrough", &file], 125);
    assert!(err.contains("k8s-file or none"), "{err}");
    assert_eq!(rpod.ok(&["pod", "ps", "-q"]), "");
    rpod.ok(&["kube", "play", "--log-driver", "none", &file]);
    assert_eq!(
        rpod.inspect("quiet-main", "{{.HostConfig.LogConfig.Type}}"),
        "none"
    );
    rpod.ok(&["kube", "down", &file]);
    rpod.ok(&["kube", "play", "--log-driver", "k8s-file", &file]);
    assert_eq!(
        rpod.inspect("quiet-main", "{{.HostConfig.LogConfig.Type}}"),
        "k8s-file"
    );
    common::wait_until("the container said", || {
        rpod.ok(&["logs", "quiet-main"]) == "said\n"
    });
    rpod.ok(&["kube", "down", &file]);
}

/// `pod clone` takes `pod create`'s settings, each replacing the original's: kernel
/// parameters and `/dev/shm` of the shared namespaces, volumes, labels from a file, the
/// infra container's monitor's PID file; what is not given is kept.
#[test]
fn a_pod_clone_replaces_the_settings_given() {
    let rpod = Rpod::with_image("crun");
    rpod.ok(&[
        "pod",
        "create",
        "--name",
        "orig",
        "--sysctl",
        "kernel.msgmax=4096",
        "--shm-size",
        "1m",
        "-v",
        "keptvol:/kept",
    ]);
    let labels = rpod.dir.path().join("labels");
    std::fs::write(&labels, "from=file\n").unwrap();
    let pidfile = rpod.dir.path().join("infra.pid");
    rpod.ok(&[
        "pod",
        "clone",
        "--sysctl",
        "kernel.msgmax=8192",
        "--label-file",
        &labels.display().to_string(),
        "--infra-conmon-pidfile",
        &pidfile.display().to_string(),
        "--start",
        "orig",
        "copy",
    ]);
    assert_eq!(pod_field(&rpod, "copy", "{{.Labels}}"), "map[from:file]");
    let script = "cat /proc/sys/kernel/msgmax; df -k /dev/shm | tail -1; ls -d /kept";
    let out = rpod.ok(&["run", "--rm", "--pod", "copy", "demo", "sh", "-c", script]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "8192", "{out}");
    assert_eq!(lines[1].split_whitespace().nth(1), Some("1024"), "{out}");
    assert_eq!(lines[2], "/kept", "{out}");
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    // Not a pod create flag a clone has not: refused by the parser.
    rpod.fails(&["pod", "clone", "--share", "none", "orig"], 125);
}

/// Seccomp profiles asked for by a pod's YAML, as podman reads them (the pod's and a
/// container's annotations) and as Kubernetes writes them now (`securityContext.
/// seccompProfile`, which wins): `localhost/FILE` is a profile under
/// `--seccomp-profile-root`, `unconfined` none, `runtime/default` rpod's. A profile that is
/// not there, or a path out of the root, stops the file before anything is made.
#[test]
fn kube_play_takes_seccomp_profiles_from_the_yaml() {
    let rpod = Rpod::with_image("crun");
    let profiles = rpod.dir.path().join("profiles");
    std::fs::create_dir_all(profiles.join("team")).unwrap();
    // Everything allowed but mkdir and mkdirat, which fail with EPERM.
    std::fs::write(
        profiles.join("team/no-mkdir.json"),
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}"#,
    )
    .unwrap();
    let root = profiles.display().to_string();
    let script =
        "mkdir /made 2>/dev/null && echo made || echo refused; grep ^Seccomp: /proc/self/status";
    let yaml = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: sc\n  annotations:\n    \
         seccomp.security.alpha.kubernetes.io/pod: localhost/team/no-mkdir.json\n    \
         container.seccomp.security.alpha.kubernetes.io/free: unconfined\n\
         spec:\n  restartPolicy: Never\n  containers:\n\
         \x20 - {{name: pod, image: demo, command: [sh, -c, '{script}']}}\n\
         \x20 - {{name: free, image: demo, command: [sh, -c, '{script}']}}\n\
         \x20 - name: own\n    image: demo\n    command: [sh, -c, '{script}']\n    \
         securityContext: {{seccompProfile: {{type: RuntimeDefault}}}}\n"
    );
    let file = rpod.dir.path().join("sc.yaml");
    std::fs::write(&file, &yaml).unwrap();
    let file = file.display().to_string();
    rpod.ok(&["kube", "play", "--seccomp-profile-root", &root, &file]);
    for (container, says) in [
        ("sc-pod", "refused\nSeccomp:\t2\n"),
        ("sc-free", "made\nSeccomp:\t0\n"),
        ("sc-own", "made\nSeccomp:\t2\n"),
    ] {
        wait_until("the played container ran", || {
            rpod.inspect(container, "{{.State.Status}}") == "exited"
        });
        assert_eq!(rpod.ok(&["logs", container]), says, "{container}");
    }
    rpod.ok(&["kube", "down", &file]);
    // A profile that is not under the root, and a path out of it: nothing is made.
    for (value, says) in [
        ("localhost/absent.json", "absent.json"),
        (
            "localhost/../no-mkdir.json",
            "not a path under the seccomp profile root",
        ),
        (
            "something",
            "is not runtime/default, unconfined or localhost/PATH",
        ),
    ] {
        let bad = yaml.replace("localhost/team/no-mkdir.json", value);
        let path = rpod.dir.path().join("bad.yaml");
        std::fs::write(&path, bad).unwrap();
        let err = rpod.fails(
            &[
                "kube",
                "play",
                "--seccomp-profile-root",
                &root,
                &path.display().to_string(),
            ],
            125,
        );
        assert!(err.contains(says), "{value}: {err}");
        assert_eq!(rpod.ok(&["pod", "ps", "-q"]), "");
        assert_eq!(rpod.ok(&["ps", "-aq"]), "");
    }
    // The default root is the kubelet's, where this profile is not.
    let err = rpod.fails(&["kube", "play", &file], 125);
    assert!(
        err.contains("/var/lib/kubelet/seccomp/team/no-mkdir.json"),
        "{err}"
    );
}

/// `generate kube` writes what `kube play` reads back of a container's seccomp profile: none
/// (`Unconfined`), or one under the kubelet's profile root (`Localhost`); another file is
/// named in a warning and left out.
#[test]
fn generate_kube_writes_seccomp_profiles_play_reads_back() {
    let rpod = Rpod::with_image("crun");
    rpod.ok(&[
        "create",
        "--name",
        "free",
        "--security-opt",
        "seccomp=unconfined",
        "demo",
        "grep",
        "^Seccomp:",
        "/proc/self/status",
    ]);
    let file = rpod.dir.path().join("free.yaml");
    let generated = rpod.run(&[
        "generate",
        "kube",
        "-f",
        &file.display().to_string(),
        "free",
    ]);
    assert!(generated.status.success(), "{generated:?}");
    let yaml = std::fs::read_to_string(&file).unwrap();
    assert!(
        yaml.contains("seccompProfile:") && yaml.contains("type: Unconfined"),
        "{yaml}"
    );
    assert!(
        !stderr_of(&generated).contains("seccomp"),
        "{}",
        stderr_of(&generated)
    );
    rpod.ok(&["rm", "free"]);
    rpod.ok(&["kube", "play", &file.display().to_string()]);
    wait_until("the played container ran", || {
        rpod.inspect("free-pod-free", "{{.State.Status}}") == "exited"
    });
    assert_eq!(rpod.ok(&["logs", "free-pod-free"]), "Seccomp:\t0\n");
    // A profile elsewhere cannot be named: a warning, and the container's own field left out.
    let profile = rpod.dir.path().join("allow.json");
    std::fs::write(&profile, r#"{"defaultAction": "SCMP_ACT_ALLOW"}"#).unwrap();
    rpod.ok(&[
        "create",
        "--name",
        "own",
        "--security-opt",
        &format!("seccomp={}", profile.display()),
        "demo",
        "true",
    ]);
    let generated = rpod.run(&["generate", "kube", "own"]);
    assert!(generated.status.success(), "{generated:?}");
    assert!(
        stderr_of(&generated).contains("a seccomp profile of its own"),
        "{}",
        stderr_of(&generated)
    );
    assert!(!String::from_utf8_lossy(&generated.stdout).contains("seccompProfile"));
}

/// `pod stop` stops the pod's containers at once, then its infra container: two that
/// ignore SIGTERM both get it before either is killed (one after the other, the second
/// would get it a whole timeout later).
#[test]
fn pod_stop_stops_its_containers_at_once() {
    let rpod = Rpod::with_image("crun");
    let shared = rpod.dir.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    let volume = format!("{}:/shared", shared.display());
    rpod.ok(&["pod", "create", "--name", "slow"]);
    let names = ["slow-a", "slow-b"];
    for name in names {
        let script = sigterm_noting_script(name);
        rpod.detached(&[
            "--pod", "slow", "--name", name, "-v", &volume, "demo", "sh", "-c", &script,
        ]);
    }
    wait_for_sigterm_traps(&shared, &names);
    rpod.ok(&["pod", "stop", "-t", "3", "slow"]);
    let spread = sigterm_spread(&shared, &names);
    assert!(spread < 2.5, "SIGTERMs {spread} s apart");
    assert_eq!(pod_field(&rpod, "slow", "{{.State}}"), "Exited");
}

/// A Deployment's replicas (but one) are pods of their own, `NAME-pod-N`, as podman 4.3
/// plays them; `kube down` takes them all away; none is no pod, and no error.
#[test]
fn a_deployments_replicas_are_pods_of_their_own() {
    let rpod = Rpod::with_image("crun");
    let yaml = |replicas: u32| {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: worker\nspec:\n  replicas: {replicas}\n  template:\n    spec:\n      terminationGracePeriodSeconds: 0\n      containers:\n      - name: job\n        image: demo\n        command: [\"sleep\", \"1000\"]\n"
        )
    };
    let file = rpod.dir.path().join("worker.yaml");
    std::fs::write(&file, yaml(3)).unwrap();
    let file = file.display().to_string();
    rpod.ok(&["kube", "play", &file]);
    for i in 0..3 {
        assert_eq!(
            pod_field(&rpod, &format!("worker-pod-{i}"), "{{.State}}"),
            "Running"
        );
        assert_eq!(
            rpod.inspect(&format!("worker-pod-{i}-job"), "{{.State.Status}}"),
            "running"
        );
    }
    let out = rpod.ok(&["kube", "down", &file]);
    assert_eq!(out.matches('\n').count(), 8, "{out}");
    assert_eq!(rpod.ok(&["pod", "ps", "-q"]), "");
    std::fs::write(&file, yaml(0)).unwrap();
    rpod.ok(&["kube", "play", &file]);
    assert_eq!(rpod.ok(&["pod", "ps", "-q"]), "");
    rpod.ok(&["kube", "down", &file]);
}
