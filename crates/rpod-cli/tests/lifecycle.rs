//! End-to-end container lifecycle through the `rpod` binary, on runc and on crun.

mod common;

use common::{busybox_tarball, pid_alive, wait_until, Rpod, NO_NETWORK_CONFIG};

macro_rules! lifecycle_tests {
    ($module:ident, $runtime:literal) => {
        mod $module {
            use super::*;
            const RT: &str = $runtime;

            #[test]
            fn run_prints_output_and_returns_the_exit_code() {
                let rpod = Rpod::with_image(RT);
                let out = rpod.run(&["run", "--rm", "demo", "sh", "-c", "echo out; echo err >&2; printf last; exit 3"]);
                assert_eq!(out.status.code(), Some(3));
                assert_eq!(String::from_utf8_lossy(&out.stdout), "out\nlast");
                assert_eq!(String::from_utf8_lossy(&out.stderr), "err\n");
                assert_eq!(rpod.ok(&["ps", "-a", "-q"]), "", "--rm left the container behind");
            }

            #[test]
            fn exit_codes_follow_podman() {
                let rpod = Rpod::with_image(RT);
                for code in [0, 1, 2, 125, 126, 127, 255] {
                    let script = format!("exit {code}");
                    let out = rpod.run(&["run", "--rm", "demo", "sh", "-c", &script]);
                    assert_eq!(out.status.code(), Some(code), "container exit {code}");
                }
                let out = rpod.run(&["run", "--rm", "demo", "sh", "-c", "sleep 100 & kill -9 $!; wait $!"]);
                assert_eq!(out.status.code(), Some(137));
                let err = rpod.fails(&["run", "--rm", "demo", "/no/such/cmd"], 127);
                assert!(err.contains("/no/such/cmd"), "{err}");
                rpod.fails(&["run", "--rm", "demo", "/etc/passwd"], 126);
                let err = rpod.fails(&["run", "--rm", "no-such-image"], 125);
                assert!(err.contains("no-such-image: image not known"), "{err}");
                assert_eq!(rpod.ok(&["ps", "-a", "-q"]), "");
            }

            #[test]
            fn detached_run_inspect_and_stop() {
                let rpod = Rpod::with_image(RT);
                let id = rpod.detached(&["--name", "web", "--label", "tier=front", "demo", "sleep", "1000"]);
                assert_eq!(id.len(), 64);
                let json: serde_json::Value = serde_json::from_str(&rpod.ok(&["inspect", "web"])).unwrap();
                let c = &json[0];
                assert_eq!(c["Id"], id.as_str());
                assert_eq!(c["Name"], "web");
                assert_eq!(c["State"]["Status"], "running");
                assert_eq!(c["State"]["Running"], true);
                assert_eq!(c["State"]["Paused"], false);
                assert_eq!(c["OCIRuntime"], RT);
                assert_eq!(c["ImageName"], "localhost/demo:latest");
                assert_eq!(c["Config"]["Cmd"], serde_json::json!(["sleep", "1000"]));
                assert_eq!(c["Config"]["Labels"]["tier"], "front");
                assert_eq!(c["HostConfig"]["NetworkMode"], "none");
                let pid = c["State"]["Pid"].as_i64().unwrap() as i32;
                let conmon = c["State"]["ConmonPid"].as_i64().unwrap() as i32;
                assert!(pid_alive(pid) && pid_alive(conmon));
                assert_eq!(rpod.ok(&["ps", "--format", "{{.Names}} {{.State}}"]), "web running\n");
                assert_eq!(rpod.ok(&["stop", "-t", "0", "web"]), "web\n");
                assert!(!pid_alive(pid), "stop returned while the container ran");
                assert!(!pid_alive(conmon), "stop returned before the monitor finished");
                assert_eq!(rpod.inspect("web", "{{.State.Status}} {{.State.ExitCode}} {{.State.Pid}}"), "exited 137 0");
                // Stopping a stopped container succeeds.
                assert_eq!(rpod.ok(&["stop", "web"]), "web\n");
                assert_eq!(rpod.ok(&["ps", "-q"]), "");
            }

            #[test]
            fn stop_sends_the_stop_signal_then_sigkill() {
                let rpod = Rpod::with_image(RT);
                rpod.detached(&["--name", "polite", "demo", "sh", "-c", "trap 'exit 0' TERM; echo trapped; while true; do sleep 0.05; done"]);
                rpod.detached(&["--name", "custom", "--stop-signal", "USR1", "demo", "sh", "-c", "trap 'exit 9' USR1; echo trapped; while true; do sleep 0.05; done"]);
                rpod.detached(&["--name", "stubborn", "demo", "sleep", "1000"]);
                // A stop signal before the trap is set would be ignored by the shell (PID 1).
                for name in ["polite", "custom"] {
                    wait_until("the trap is set", || rpod.ok(&["logs", name]).contains("trapped"));
                }
                rpod.ok(&["stop", "polite"]);
                assert_eq!(rpod.inspect("polite", "{{.State.ExitCode}}"), "0");
                rpod.ok(&["stop", "custom"]);
                assert_eq!(rpod.inspect("custom", "{{.State.ExitCode}}"), "9");
                assert_eq!(rpod.inspect("custom", "{{.Config.StopSignal}}"), "SIGUSR1");
                let out = rpod.run(&["stop", "-t", "1", "stubborn"]);
                assert!(out.status.success());
                let err = String::from_utf8_lossy(&out.stderr);
                assert!(err.contains("StopSignal SIGTERM failed to stop container stubborn in 1 seconds, resorting to SIGKILL"), "{err}");
                assert_eq!(rpod.inspect("stubborn", "{{.State.ExitCode}}"), "137");
            }

            #[test]
            fn kill_by_name_and_number() {
                let rpod = Rpod::with_image(RT);
                let id = rpod.detached(&["demo", "sh", "-c", "trap 'echo got-usr1' USR1; echo trapped; while true; do sleep 0.05; done"]);
                // A signal before the trap is set would end the shell (a loaded CI run sent one).
                wait_until("the trap is set", || rpod.ok(&["logs", &id]).contains("trapped"));
                rpod.ok(&["kill", "-s", "USR1", &id]);
                wait_until("the trap ran", || rpod.ok(&["logs", &id]).contains("got-usr1"));
                rpod.ok(&["kill", "-s", "SIGUSR1", &id]);
                rpod.ok(&["kill", "-s", "10", &id]);
                assert_eq!(rpod.inspect(&id, "{{.State.Status}}"), "running");
                let err = rpod.fails(&["kill", "-s", "NOPE", &id], 125);
                assert!(err.contains("invalid signal: NOPE"), "{err}");
                rpod.ok(&["kill", &id]);
                assert_eq!(rpod.inspect(&id, "{{.State.Status}} {{.State.ExitCode}}"), "exited 137");
                let err = rpod.fails(&["kill", &id], 125);
                assert!(err.contains("can only kill running containers"), "{err}");
                let err = rpod.fails(&["kill", "ghost"], 125);
                assert!(err.contains("no container with name or ID \"ghost\" found: no such container"), "{err}");
            }

            #[test]
            fn kill_and_stop_all() {
                let rpod = Rpod::with_image(RT);
                for _ in 0..3 {
                    rpod.detached(&["demo", "sleep", "1000"]);
                }
                rpod.ok(&["kill", "--all", "-s", "KILL"]);
                assert_eq!(rpod.ok(&["ps", "-q"]), "");
                for _ in 0..2 {
                    rpod.detached(&["demo", "sleep", "1000"]);
                }
                // Every container is said, the stopped ones too, as podman's.
                let stopped = rpod.ok(&["stop", "--all", "-t", "0"]);
                assert_eq!(stopped.lines().count(), 5, "{stopped}");
                assert_eq!(rpod.ok(&["ps", "-q"]), "");
                assert_eq!(rpod.ok(&["ps", "-a", "-q"]).lines().count(), 5);
            }

            #[test]
            fn rm_needs_force_for_running_containers() {
                let rpod = Rpod::with_image(RT);
                let id = rpod.detached(&["--name", "busy", "demo", "sleep", "1000"]);
                let err = rpod.fails(&["rm", "busy"], 2);
                assert!(err.contains("cannot remove container"), "{err}");
                assert!(err.contains("as it is running"), "{err}");
                let pid: i32 = rpod.inspect("busy", "{{.State.Pid}}").parse().unwrap();
                assert_eq!(rpod.ok(&["rm", "-f", "-t", "0", "busy"]), "busy\n");
                assert!(!pid_alive(pid));
                assert_eq!(rpod.ok(&["ps", "-a", "-q"]), "");
                assert!(!rpod.root().join("containers").join(&id).exists(), "container directory left behind");
                rpod.fails(&["rm", "busy"], 1);
                rpod.ok(&["rm", "--ignore", "busy"]);
                rpod.detached(&["demo", "true"]);
                rpod.ok(&["create", "demo", "true"]);
                rpod.ok(&["rm", "-a", "-f"]);
                assert_eq!(rpod.ok(&["ps", "-a", "-q"]), "");
            }

            #[test]
            fn pause_and_unpause() {
                let rpod = Rpod::with_image(RT);
                let id = rpod.detached(&["demo", "sleep", "1000"]);
                rpod.ok(&["pause", &id]);
                assert_eq!(rpod.inspect(&id, "{{.State.Status}} {{.State.Paused}} {{.State.Running}}"), "paused true false");
                // podman's words for each refusal.
                let err = rpod.fails(&["pause", &id], 125);
                assert!(err.contains(&format!("\"{id}\" is already paused")), "{err}");
                rpod.ok(&["unpause", &id]);
                let err = rpod.fails(&["unpause", &id], 125);
                assert!(err.contains("is not paused, can't unpause"), "{err}");
                assert_eq!(rpod.inspect(&id, "{{.State.Status}} {{.State.Paused}}"), "running false");
                // A paused container can still be stopped.
                rpod.ok(&["pause", &id]);
                rpod.ok(&["stop", "-t", "1", &id]);
                assert_eq!(rpod.inspect(&id, "{{.State.Status}}"), "exited");
                rpod.fails(&["unpause", &id], 125);
                let err = rpod.fails(&["pause", &id], 125);
                assert!(err.contains("is not running, can't pause"), "{err}");
                rpod.fails(&["pause", "ghost"], 125);
            }

            #[test]
            fn wait_returns_the_exit_code() {
                let rpod = Rpod::with_image(RT);
                let id = rpod.detached(&["demo", "sh", "-c", "sleep 0.3; exit 5"]);
                assert_eq!(rpod.ok(&["wait", &id]), "5\n");
                let created = rpod.ok(&["create", "demo", "true"]).trim().to_string();
                assert_eq!(rpod.ok(&["wait", &created]), "0\n");
                let gone = rpod.detached(&["--rm", "demo", "sh", "-c", "exit 4"]);
                assert_eq!(rpod.ok(&["wait", &gone]), "4\n");
            }

            #[test]
            fn create_then_start() {
                let rpod = Rpod::with_image(RT);
                let id = rpod.ok(&["create", "--name", "later", "demo", "sh", "-c", "echo started; exit 6"]).trim().to_string();
                assert_eq!(id.len(), 64);
                assert_eq!(rpod.inspect("later", "{{.State.Status}}"), "created");
                assert_eq!(rpod.ok(&["ps", "-a", "--format", "{{.Status}}"]), "Created\n");
                let out = rpod.run(&["start", "-a", "later"]);
                assert_eq!(out.status.code(), Some(6));
                assert_eq!(String::from_utf8_lossy(&out.stdout), "started\n");
                // Started again, it runs again.
                rpod.ok(&["start", "later"]);
                assert_eq!(rpod.ok(&["wait", "later"]), "6\n");
                assert_eq!(rpod.ok(&["logs", "later"]), "started\nstarted\n");
                let err = rpod.fails(&["create", "--name", "later", "demo", "true"], 125);
                assert!(err.contains("the container name \"later\" is already in use by"), "{err}");
                rpod.fails(&["start", "ghost"], 125);
            }

            #[test]
            fn options_reach_the_container() {
                let rpod = Rpod::with_image(RT);
                let script = "echo $FOO; pwd; id -u; hostname; ls /sys/class/net | wc -l";
                let out = rpod.ok(&["run", "--rm", "-e", "FOO=bar", "-w", "/tmp", "-u", "nobody", "--hostname", "box", "demo", "sh", "-c", script]);
                assert_eq!(out, "bar\n/tmp\n65534\nbox\n1\n");
                let host_links = std::fs::read_dir("/sys/class/net").unwrap().count();
                let out = rpod.ok(&["run", "--rm", "--network", "host", "demo", "sh", "-c", "ls /sys/class/net | wc -l"]);
                assert_eq!(out.trim(), host_links.to_string());
                let out = rpod.run(&["run", "--rm", "--read-only", "demo", "touch", "/x"]);
                assert_ne!(out.status.code(), Some(0), "wrote to a read-only root");
                let out = rpod.ok(&["run", "--rm", "--entrypoint", "echo", "demo", "via", "entrypoint"]);
                assert_eq!(out, "via entrypoint\n");
                let out = rpod.ok(&["run", "--rm", "--entrypoint", "[\"sh\", \"-c\"]", "demo", "echo json form"]);
                assert_eq!(out, "json form\n");
                let err = rpod.fails(&["run", "--network", "slirp4netns", "demo", "true"], 125);
                assert!(err.contains("not supported"), "{err}");
                // -t without a terminal on our side still gives the container one.
                let out = rpod.ok(&["run", "--rm", "-t", "demo", "sh", "-c", "test -t 1 && echo on-a-tty"]);
                assert_eq!(out, "on-a-tty\r\n");
            }

            #[test]
            fn resource_limits_and_oom() {
                let rpod = Rpod::with_image(RT);
                let id = rpod.detached(&["--memory", "16m", "--pids-limit", "50", "--cpus", "0.5", "demo", "sh", "-c", "x=$(head -c 200000000 /dev/zero | tr '\\0' a)"]);
                rpod.ok(&["wait", &id]);
                assert_eq!(rpod.inspect(&id, "{{.State.OOMKilled}}"), "true");
                assert_eq!(rpod.inspect(&id, "{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}} {{.HostConfig.NanoCpus}}"), "16777216 50 500000000");
                // An `oom` event before the exit's, as Docker's.
                let events = |id: &str| rpod.ok(&["events", "--stream=false", "--since", "0", "--filter", &format!("container={id}"), "--format", "{{.Status}}"]);
                assert!(events(&id).contains("oom\ndied\n"), "{}", events(&id));
                let id = rpod.detached(&["demo", "true"]);
                rpod.ok(&["wait", &id]);
                assert_eq!(rpod.inspect(&id, "{{.State.OOMKilled}}"), "false");
                assert!(!events(&id).contains("oom"), "{}", events(&id));
                // A child killed by the OOM killer while init lives on counts too (as podman).
                // The child makes itself the OOM killer's first choice. On a loaded machine the kernel may still kill init after the child
                // (the memory is not given back at once): a few tries find a run where only
                // the child was killed, which is the case under test.
                let mut survived = None;
                for _ in 0..5 {
                    let id = rpod.detached(&["-m", "32m", "--memory-swap", "32m", "demo", "sh", "-c", "head -c 200m /dev/zero | (echo 1000 > /proc/self/oom_score_adj; exec tail) > /dev/null; echo survived"]);
                    if rpod.ok(&["wait", &id]) == "0\n" {
                        survived = Some(id);
                        break;
                    }
                    // Killed too, it was OOM-killed all the same.
                    assert_eq!(rpod.inspect(&id, "{{.State.OOMKilled}}"), "true");
                }
                let id = survived.expect("init survived the child's OOM kill in one of five runs");
                assert!(rpod.ok(&["logs", &id]).contains("survived"));
                assert_eq!(rpod.inspect(&id, "{{.State.OOMKilled}}"), "true");
            }

            #[test]
            fn monitor_death_still_lets_stop_and_rm_work() {
                let rpod = Rpod::with_image(RT);
                for command in ["stop", "rm"] {
                    let id = rpod.detached(&["demo", "sleep", "1000"]);
                    let pid: i32 = rpod.inspect(&id, "{{.State.Pid}}").parse().unwrap();
                    let conmon: i32 = rpod.inspect(&id, "{{.State.ConmonPid}}").parse().unwrap();
                    nix::sys::signal::kill(nix::unistd::Pid::from_raw(conmon), nix::sys::signal::Signal::SIGKILL).unwrap();
                    wait_until("conmon dies", || !pid_alive(conmon));
                    if command == "stop" {
                        rpod.ok(&["stop", &id]);
                        assert!(!pid_alive(pid), "stop left the container running");
                        assert_eq!(rpod.inspect(&id, "{{.State.Status}} {{.State.ExitCode}}"), "exited -1");
                        assert!(rpod.inspect(&id, "{{.State.Error}}").contains("conmon"));
                    } else {
                        rpod.ok(&["rm", "-f", &id]);
                        assert!(!pid_alive(pid), "rm -f left the container running");
                        assert!(!rpod.ok(&["ps", "-a", "-q", "--no-trunc"]).contains(&id));
                    }
                }
            }

            #[test]
            fn logs_with_tail_timestamps_and_times() {
                let rpod = Rpod::with_image(RT);
                // The pause keeps the two streams' records in a known order.
                let id = rpod.detached(&["demo", "sh", "-c", "echo one; echo two >&2; sleep 0.2; echo three; printf four"]);
                rpod.ok(&["wait", &id]);
                let out = rpod.run(&["logs", &id]);
                assert_eq!(String::from_utf8_lossy(&out.stdout), "one\nthree\nfour");
                assert_eq!(String::from_utf8_lossy(&out.stderr), "two\n");
                let tail = rpod.run(&["logs", "--tail", "2", &id]);
                assert_eq!(String::from_utf8_lossy(&tail.stdout), "three\nfour");
                assert_eq!(String::from_utf8_lossy(&tail.stderr), "");
                let stamped = rpod.ok(&["logs", "-t", &id]);
                let first = stamped.lines().next().unwrap();
                let (stamp, text) = first.split_once(' ').unwrap();
                assert!(chrono::DateTime::parse_from_rfc3339(stamp).is_ok(), "{stamp}");
                // podman's form: UTC, nanoseconds, a Z.
                assert!(stamp.ends_with('Z') && stamp.len() == 30, "{stamp}");
                assert_eq!(text, "one");
                assert_eq!(rpod.ok(&["logs", "--since", "2999-01-01", &id]), "");
                assert_eq!(rpod.ok(&["logs", "--until", "2000-01-01", &id]), "");
                assert_eq!(rpod.ok(&["logs", "--since", "1h", &id]), "one\nthree\nfour");
                let log = std::fs::read_to_string(rpod.root().join("containers").join(&id).join("userdata/ctr.log")).unwrap();
                for line in log.lines() {
                    let parts: Vec<&str> = line.splitn(4, ' ').collect();
                    assert!(chrono::DateTime::parse_from_rfc3339(parts[0]).is_ok(), "{line}");
                    assert!(["stdout", "stderr"].contains(&parts[1]), "{line}");
                    assert!(["P", "F"].contains(&parts[2]), "{line}");
                }
            }
        }
    };
}

lifecycle_tests!(runc, "runc");
lifecycle_tests!(crun, "crun");

#[test]
fn ps_filters_formats_and_quiet() {
    let rpod = Rpod::with_image("runc");
    let running = rpod.detached(&[
        "--name", "alpha", "--label", "app=x", "demo", "sleep", "1000",
    ]);
    let exited = rpod.detached(&["--name", "beta", "demo", "sh", "-c", "exit 3"]);
    rpod.ok(&["wait", "beta"]);
    rpod.ok(&["create", "--name", "gamma", "demo", "true"]);
    assert_eq!(rpod.ok(&["ps", "-q"]), format!("{}\n", &running[..12]));
    assert_eq!(rpod.ok(&["ps", "-q", "--no-trunc"]), format!("{running}\n"));
    assert_eq!(rpod.ok(&["ps", "-a", "-q"]).lines().count(), 3);
    let names_with =
        |filter: &str| rpod.ok(&["ps", "-a", "--filter", filter, "--format", "{{.Names}}"]);
    assert_eq!(names_with("status=exited"), "beta\n");
    assert_eq!(names_with("status=created"), "gamma\n");
    assert_eq!(names_with("name=alp"), "alpha\n");
    assert_eq!(names_with(&format!("id={}", &exited[..8])), "beta\n");
    assert_eq!(names_with("label=app=x"), "alpha\n");
    assert_eq!(names_with("exited=3"), "beta\n");
    let table = rpod.ok(&["ps", "-a"]);
    let header = table.lines().next().unwrap();
    for column in [
        "CONTAINER ID",
        "IMAGE",
        "COMMAND",
        "CREATED",
        "STATUS",
        "PORTS",
        "NAMES",
    ] {
        assert!(header.contains(column), "{header}");
    }
    assert!(table.contains("Exited (3)"), "{table}");
    let custom = rpod.ok(&["ps", "--format", "table {{.ID}}\t{{.Names}}"]);
    assert_eq!(
        custom,
        format!("CONTAINER ID  NAMES\n{}  alpha\n", &running[..12])
    );
    let json: serde_json::Value =
        serde_json::from_str(&rpod.ok(&["ps", "-a", "--format", "json"])).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 3);
    // podman's `ListContainer` as its `ps` prints it: lists for names and the command,
    // Unix seconds for times (Go's zero time for an exit that did not happen), the
    // status text, what scripts read with jq.
    let item = |json: &serde_json::Value, name: &str| {
        json.as_array()
            .unwrap()
            .iter()
            .find(|i| i["Names"][0] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} in {json}"))
    };
    let alpha = item(&json, "alpha");
    assert_eq!(
        alpha["Command"],
        serde_json::json!(["sleep", "1000"]),
        "{alpha}"
    );
    assert!(
        alpha["Created"].is_i64() && alpha["StartedAt"].as_i64() > Some(0),
        "{alpha}"
    );
    assert_eq!(alpha["ExitedAt"], -62135596800i64, "{alpha}");
    assert_eq!(alpha["Labels"]["app"], "x");
    assert_eq!(
        (&alpha["State"], alpha["Exited"].as_bool()),
        (&serde_json::json!("running"), Some(false))
    );
    assert!(
        alpha["Status"].as_str().unwrap().starts_with("Up "),
        "{alpha}"
    );
    assert!(
        alpha["CreatedAt"].as_str().unwrap().ends_with(" ago"),
        "{alpha}"
    );
    assert_eq!(
        (&alpha["Ports"], &alpha["Size"]),
        (&serde_json::Value::Null, &serde_json::Value::Null)
    );
    let beta = item(&json, "beta");
    assert_eq!(
        (beta["ExitCode"].as_i64(), beta["Exited"].as_bool()),
        (Some(3), Some(true))
    );
    assert!(beta["ExitedAt"].as_i64() > Some(0), "{beta}");
    let listed: serde_json::Value =
        serde_json::from_str(&rpod.ok(&["ps", "--ns", "--size", "--format", "json"])).unwrap();
    let alpha = item(&listed, "alpha");
    assert!(
        alpha["Namespaces"]["Pidns"]
            .as_str()
            .is_some_and(|i| i.parse::<u64>().is_ok()),
        "{alpha}"
    );
    assert!(alpha["Size"]["rootFsSize"].as_u64() > Some(0), "{alpha}");
    let fields = rpod.ok(&[
        "ps",
        "-a",
        "--filter",
        "name=gamma",
        "--format",
        "{{.ExitedAt}} {{.Mounts}} {{.IsInfra}} {{.RunningFor}}",
    ]);
    assert!(
        fields.starts_with("-62135596800 [] false ") && fields.ends_with(" ago\n"),
        "{fields}"
    );
    let ranged = rpod.ok(&[
        "inspect",
        "--format",
        "{{range $k, $v := .Config.Labels}}{{$k}}={{$v}}{{end}}",
        "alpha",
    ]);
    assert_eq!(ranged.trim(), "app=x");
    assert_eq!(
        rpod.ok(&["inspect", "--format", "{{json .State.Status}}", "alpha"])
            .trim(),
        "\"running\""
    );
    let err = rpod.fails(&["ps", "--filter", "status=nope"], 125);
    assert!(err.contains("invalid status"), "{err}");
    let err = rpod.fails(&["inspect", "ghost"], 125);
    assert!(err.contains("no such object"), "{err}");
    assert_eq!(
        rpod.fails(&["container", "inspect", "ghost"], 125),
        "Error: inspecting object: no such container ghost\n"
    );
    assert_eq!(
        rpod.run(&["container", "exists", "alpha"]).status.code(),
        Some(0)
    );
    assert_eq!(
        rpod.run(&["container", "exists", "ghost"]).status.code(),
        Some(1)
    );
    // --external (other tools' containers too): the same answers, rpod's store has no others.
    for (name, code) in [("alpha", 0), ("ghost", 1)] {
        let out = rpod.run(&["container", "exists", "--external", name]);
        assert_eq!(out.status.code(), Some(code), "{name}");
    }
}

#[test]
fn fifty_parallel_runs_all_succeed() {
    let rpod = Rpod::with_image("runc");
    let children: Vec<_> = (0..50)
        .map(|_| {
            rpod.command(&["run", "-d", "demo", "sleep", "1000"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut failures = Vec::new();
    for child in children {
        let out = child.wait_with_output().unwrap();
        if !out.status.success() {
            failures.push(String::from_utf8_lossy(&out.stderr).into_owned());
        }
    }
    assert!(
        failures.is_empty(),
        "{} runs failed: {:?}",
        failures.len(),
        failures
    );
    assert_eq!(rpod.ok(&["ps", "-q"]).lines().count(), 50);
    rpod.ok(&["stop", "-a", "-t", "0"]);
    assert_eq!(rpod.ok(&["ps", "-q"]), "");
}

#[test]
fn reboot_turns_running_containers_into_exited_ones() {
    let rpod = Rpod::with_image("runc");
    let id = rpod.detached(&["demo", "sleep", "1000"]);
    let pid: i32 = rpod.inspect(&id, "{{.State.Pid}}").parse().unwrap();
    let conmon: i32 = rpod.inspect(&id, "{{.State.ConmonPid}}").parse().unwrap();
    // A reboot ends every process; simulate it, then change the recorded boot id.
    for p in [conmon, pid] {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(p),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    wait_until("the processes are gone", || {
        !pid_alive(pid) && !pid_alive(conmon)
    });
    assert_eq!(
        rpod.ok(&["ps", "--format", "{{.State}}"]),
        "",
        "a container whose monitor and process are dead is not listed as running"
    );
    // That listing started the exit command the monitor did not run: it belongs to this
    // boot, so it is let finish before the reboot (its record would come after the
    // reboot's otherwise, which no real reboot allows).
    wait_until("the exit command is done", || {
        !common::processes_mentioning(&id)
    });
    let db = rusqlite::Connection::open(rpod.root().join("rpod.db")).unwrap();
    db.execute(
        "UPDATE meta SET value = 'a-previous-boot' WHERE key = 'boot_id'",
        [],
    )
    .unwrap();
    drop(db);
    assert_eq!(rpod.ok(&["ps", "-a", "--format", "{{.State}}"]), "exited\n");
    assert_eq!(rpod.inspect(&id, "{{.State.ExitCode}}"), "-1");
    // And it can run again.
    rpod.ok(&["start", &id]);
    assert_eq!(rpod.inspect(&id, "{{.State.Status}}"), "running");
}

/// A host crash can keep a `--rm` container's record (its rows are not synced: the removal
/// may be lost) or take it and leave its directories. After a reboot, `--rm` containers
/// that ran are removed and container directories without a record go; other containers,
/// a `--rm` container never started, and what is not a container's directory stay.
#[test]
fn a_reboot_clears_what_rm_containers_left() {
    let rpod = Rpod::with_image("runc");
    rpod.ok(&["create", "--name", "kept", "demo", "true"]);
    rpod.ok(&["create", "--rm", "--name", "waiting", "demo", "true"]);
    rpod.ok(&["create", "--rm", "--name", "ghost", "demo", "true"]);
    let ghost = rpod.inspect("ghost", "{{.Id}}");
    let db = rusqlite::Connection::open(rpod.root().join("rpod.db")).unwrap();
    // The ghost ran and exited; its removal was lost.
    db.execute(
        "UPDATE containers SET state = json_set(state, '$.status', 'exited') WHERE name = 'ghost'",
        [],
    )
    .unwrap();
    let orphan = "ab".repeat(32);
    let orphan_dirs = [
        rpod.root().join("containers").join(&orphan),
        rpod.runroot().join("containers").join(&orphan),
    ];
    for dir in &orphan_dirs {
        std::fs::create_dir_all(dir.join("userdata")).unwrap();
        std::fs::write(dir.join("userdata").join("config.json"), "{}").unwrap();
    }
    let not_an_id = rpod.root().join("containers").join("not-a-container");
    std::fs::create_dir_all(&not_an_id).unwrap();
    // Nothing of this is cleared in the same boot.
    assert_eq!(rpod.ok(&["ps", "-a", "-q"]).lines().count(), 3);
    assert!(orphan_dirs.iter().all(|dir| dir.exists()));

    db.execute(
        "UPDATE meta SET value = 'a-previous-boot' WHERE key = 'boot_id'",
        [],
    )
    .unwrap();
    drop(db);
    let mut names: Vec<String> = rpod
        .ok(&["ps", "-a", "--format", "{{.Names}}"])
        .lines()
        .map(str::to_string)
        .collect();
    names.sort();
    assert_eq!(names, ["kept", "waiting"]);
    assert!(!rpod.root().join("containers").join(&ghost).exists());
    for dir in &orphan_dirs {
        assert!(!dir.exists(), "{} is left", dir.display());
    }
    assert!(not_an_id.exists());
}

#[test]
fn rootfs_directories_run_too() {
    let rpod = Rpod::new("runc");
    let dir = tempfile::tempdir().unwrap();
    let status = std::process::Command::new("tar")
        .arg("-xf")
        .arg(common::busybox_tarball())
        .arg("-C")
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(status.success());
    let root = dir.path().display().to_string();
    assert_eq!(
        rpod.ok(&[
            "run",
            "--rm",
            "--rootfs",
            &root,
            "/bin/echo",
            "from a directory"
        ]),
        "from a directory\n"
    );
}

#[test]
fn info_and_version() {
    let rpod = Rpod::with_image("crun");
    assert_eq!(
        rpod.ok(&["info", "--format", "{{.Host.OCIRuntime.Name}}"])
            .trim(),
        "crun"
    );
    let info = rpod.ok(&["info", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_str(&info).unwrap();
    assert!(json["host"]["conmon"]["version"]
        .as_str()
        .unwrap()
        .starts_with("conmon version"));
    assert_eq!(json["store"]["imageStore"]["number"], 1);
    // The host's distribution as /etc/os-release names it, and its resources.
    assert_eq!(
        json["host"]["distribution"]["distribution"],
        common::os_release("ID")
    );
    assert!(json["host"]["memTotal"].as_u64() > Some(0), "{json}");
    assert!(json["host"]["cpus"].as_u64() > Some(0), "{json}");
    assert!(
        json["host"]["uptime"]
            .as_str()
            .is_some_and(|u| u.contains("(Approximately ")),
        "{json}"
    );
    // podman's fields, and the Go names its templates take.
    let cgroups_v2 = std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    assert_eq!(
        rpod.ok(&[
            "info",
            "--format",
            "{{.Host.CgroupsVersion}} {{.Host.Security.Rootless}} {{.Host.Security.SECCOMPEnabled}} {{.Host.NetworkBackend}} {{.Host.EventLogger}}"
        ]),
        format!(
            "{} false true netavark file\n",
            if cgroups_v2 { "v2" } else { "v1" }
        )
    );
    let controllers = json["host"]["cgroupControllers"].as_array().unwrap();
    assert!(
        controllers.iter().any(|c| c == "memory") && controllers.iter().any(|c| c == "pids"),
        "{json}"
    );
    let cpu = &json["host"]["cpuUtilization"];
    let shares: f64 = ["userPercent", "systemPercent", "idlePercent"]
        .iter()
        .map(|k| cpu[k].as_f64().unwrap())
        .sum();
    assert!((99.9..=100.1).contains(&shares), "{json}");
    assert!(
        json["host"]["security"]["capabilities"]
            .as_str()
            .is_some_and(|c| c.starts_with("CAP_CHOWN,")),
        "{json}"
    );
    let store = &json["store"];
    assert_eq!(
        store["volumePath"],
        rpod.root().join("volumes").display().to_string()
    );
    assert!(store["graphRootAllocated"].as_u64() >= store["graphRootUsed"].as_u64());
    assert!(
        store["graphStatus"]["Backing Filesystem"].is_string(),
        "{json}"
    );
    assert_eq!(json["plugins"]["volume"], serde_json::json!(["local"]));
    assert_eq!(json["version"]["Os"], "linux");
    // `version`'s client fields are `info`'s version's.
    let client = rpod.ok(&["version", "--format", "json"]);
    let client: serde_json::Value = serde_json::from_str(&client).unwrap();
    assert_eq!(client["Client"], json["version"]);
    assert!(rpod.ok(&["info"]).contains("ociRuntime:"));
    assert!(rpod.ok(&["version"]).contains("Version:"));
    assert_eq!(
        rpod.ok(&[
            "version",
            "--format",
            "{{.Client.Version}} {{.Server.Version}}"
        ])
        .trim(),
        format!("{0} {0}", env!("CARGO_PKG_VERSION"))
    );
    let mut rpod = rpod;
    // A runtime given by path works like one given by name.
    let crun_path = rpod
        .ok(&["info", "--format", "{{.Host.OCIRuntime.Path}}"])
        .trim()
        .to_string();
    rpod.runtime = crun_path;
    assert_eq!(
        rpod.ok(&["run", "--rm", "demo", "echo", "by path"]),
        "by path\n"
    );
    rpod.runtime = "no-such-runtime".into();
    let out = rpod.run(&["run", "demo", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-runtime"));
}

#[test]
fn bad_input_gets_clear_errors() {
    let rpod = Rpod::with_image("runc");
    let cases: &[(&[&str], i32, &str)] = &[
        (
            &["save", "--format", "zip", "-o", "/tmp/never.tar", "demo"],
            125,
            "unsupported format",
        ),
        (
            &["import", "/no/such/file.tar", "x"],
            125,
            "/no/such/file.tar",
        ),
        (&["ps", "--filter", "colour=red"], 125, "invalid filter"),
        (
            &["run", "--memory", "lots", "demo", "true"],
            125,
            "invalid size",
        ),
        (&["run", "--cpus", "-1", "demo", "true"], 125, "--cpus"),
        (
            &["run", "--name", "bad/name", "demo", "true"],
            125,
            "must match",
        ),
        (
            &["run", "--log-driver", "journald", "demo", "true"],
            125,
            "not supported",
        ),
        (
            &["run", "--stop-signal", "SIGNOPE", "demo", "true"],
            125,
            "invalid signal",
        ),
        (
            &["run", "--stop-signal", "65", "demo", "true"],
            125,
            "valid signals are 1 through 64",
        ),
        (
            &["run", "--label-file", "/no/such/labels", "demo", "true"],
            125,
            "unable to process labels: open /no/such/labels: no such file or directory",
        ),
        (
            &["run", "--env-file", "/no/such/env", "demo", "true"],
            125,
            "parsing env file \"/no/such/env\": open /no/such/env: no such file or directory",
        ),
        (
            &["logs", "--since", "yesterday", "ghost"],
            125,
            "invalid time",
        ),
        (&["inspect", "--type", "bogus", "demo"], 125, "invalid type"),
        (
            &["inspect", "--type", "volume", "demo"],
            125,
            "inspecting object: no such volume demo",
        ),
        (&["start", "ghost"], 125, "no such container"),
        (&["wait", "ghost"], 125, "no such container"),
        (&["rmi", "ghost"], 1, "image not known"),
        (&["tag", "ghost", "x"], 125, "image not known"),
        (&["save", "ghost"], 125, "image not known"),
        (
            &["bogus-command"],
            125,
            "unrecognized command `rpod bogus-command`",
        ),
    ];
    for (args, code, message) in cases {
        let err = rpod.fails(args, *code);
        assert!(err.contains(message), "rpod {args:?}: {err}");
    }
    // A paused container needs -f to be removed; logs of a none-driver container say why.
    let id = rpod.detached(&["--log-driver", "none", "demo", "sleep", "1000"]);
    rpod.ok(&["pause", &id]);
    rpod.fails(&["rm", &id], 2);
    let err = rpod.fails(&["start", &id], 125);
    assert!(err.contains("paused"), "{err}");
    let err = rpod.fails(&["logs", &id], 125);
    assert!(err.contains("none log driver"), "{err}");
    rpod.ok(&["rm", "-f", "-t", "0", &id]);
    // An empty name is none (a name is made up), as podman takes it.
    assert_eq!(
        rpod.ok(&["run", "--rm", "--name", "", "demo", "echo", "x"]),
        "x\n"
    );
    // Nothing of the failed commands stayed behind.
    assert_eq!(rpod.ok(&["ps", "-a", "-q"]), "");
    assert_eq!(
        rpod.ok(&["images", "--format", "{{.Repository}}"]),
        "localhost/demo\n"
    );
}

#[test]
fn run_rm_returns_only_once_the_container_is_gone() {
    let rpod = std::sync::Arc::new(Rpod::with_image("runc"));
    let workers: Vec<_> = (0..3)
        .map(|worker| {
            let rpod = rpod.clone();
            std::thread::spawn(move || {
                for round in 0..10 {
                    let name = format!("rm{worker}-{round}");
                    rpod.ok(&["run", "--rm", "--name", &name, "demo", "true"]);
                    let out = rpod.run(&["container", "exists", &name]);
                    assert_eq!(
                        out.status.code(),
                        Some(1),
                        "{name} still existed after run --rm"
                    );
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    // Removed containers take their lock files with them.
    let locks: Vec<_> = std::fs::read_dir(rpod.runroot().join("locks"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .filter(|n| n != "images.lock")
        .collect();
    assert!(locks.is_empty(), "lock files left: {locks:?}");
}

#[test]
fn an_interrupted_stop_does_not_leave_the_container_stopping() {
    let rpod = Rpod::with_image("runc");
    // sleep as PID 1 ignores SIGTERM, so the stop waits for its timeout.
    let id = rpod.detached(&["demo", "sleep", "1000"]);
    let mut stop = rpod
        .command(&["stop", "-t", "100", &id])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_until("the stop to begin", || {
        rpod.inspect(&id, "{{.State.Status}}") == "stopping"
    });
    stop.kill().unwrap();
    stop.wait().unwrap();
    // A listing, which takes no lock and records nothing, shows it running too.
    let listed = rpod.ok(&[
        "ps",
        "--filter",
        "status=running",
        "--format",
        "{{.Status}}",
    ]);
    assert!(listed.starts_with("Up "), "{listed}");
    assert_eq!(rpod.ok(&["exec", &id, "echo", "alive"]), "alive\n");
    assert_eq!(rpod.inspect(&id, "{{.State.Status}}"), "running");
    rpod.ok(&["pause", &id]);
    rpod.ok(&["unpause", &id]);
    rpod.ok(&["stop", "-t", "0", &id]);
}

#[test]
fn wait_ends_when_an_unknown_monitor_and_the_process_are_gone() {
    let rpod = Rpod::with_image("runc");
    let id = rpod.detached(&["demo", "sleep", "1000"]);
    let pid: i32 = rpod.inspect(&id, "{{.State.Pid}}").parse().unwrap();
    let conmon: i32 = rpod.inspect(&id, "{{.State.ConmonPid}}").parse().unwrap();
    // As if conmon had not written its pid file.
    let db = rusqlite::Connection::open(rpod.root().join("rpod.db")).unwrap();
    db.execute(
        "UPDATE containers SET state = json_set(state, '$.conmon_pid', 0) WHERE id = ?1",
        [&id],
    )
    .unwrap();
    drop(db);
    for p in [conmon, pid] {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(p),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    wait_until("both to die", || !pid_alive(pid) && !pid_alive(conmon));
    let mut wait = rpod
        .command(&["wait", &id])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    loop {
        if let Some(status) = wait.try_wait().unwrap() {
            assert!(status.success());
            break;
        }
        if started.elapsed() > std::time::Duration::from_secs(30) {
            let _ = wait.kill();
            panic!("wait never returned");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let mut out = String::new();
    std::io::Read::read_to_string(&mut wait.stdout.take().unwrap(), &mut out).unwrap();
    assert_eq!(out.trim(), "-1");
}

#[test]
fn output_to_a_closed_pipe_ends_quietly() {
    let rpod = Rpod::with_image("runc");
    for args in [&["info"][..], &["images"], &["ps", "-a"]] {
        let mut child = rpod
            .command(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "rpod {args:?}: {stderr}");
        assert_ne!(out.status.code(), Some(101), "rpod {args:?} panicked");
    }
}

#[test]
fn ps_filters_look_at_running_containers_unless_status_is_asked() {
    let rpod = Rpod::with_image("runc");
    rpod.ok(&["run", "--name", "done", "--label", "k=v", "demo", "true"]);
    rpod.detached(&["--name", "up", "--label", "k=v", "demo", "sleep", "1000"]);
    let names = |args: &[&str]| {
        let mut full = vec!["ps", "--format", "{{.Names}}"];
        full.extend_from_slice(args);
        rpod.ok(&full)
    };
    assert_eq!(names(&["--filter", "label=k=v"]), "up\n");
    assert_eq!(names(&["--filter", "name=done"]), "");
    assert_eq!(names(&["-a", "--filter", "name=done"]), "done\n");
    assert_eq!(names(&["--filter", "status=exited"]), "done\n");
    // name= is a regular expression, as podman's.
    assert_eq!(names(&["-a", "--filter", "name=^d.n"]), "done\n");
    assert_eq!(
        names(&["-a", "--filter", "name=^(up|done)$"])
            .lines()
            .count(),
        2
    );
    assert_eq!(names(&["-a", "--filter", "name=^one"]), "");
    let err = rpod.fails(&["ps", "--filter", "name=("], 125);
    assert!(err.contains("not a regular expression"), "{err}");
}

#[test]
fn the_root_directory_keeps_the_images_mode() {
    let rpod = Rpod::new("runc");
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir(&root).unwrap();
    let run = |cmd: &mut std::process::Command| assert!(cmd.status().unwrap().success());
    run(std::process::Command::new("tar")
        .arg("-C")
        .arg(&root)
        .arg("-xf")
        .arg(common::busybox_tarball()));
    run(std::process::Command::new("chmod").arg("555").arg(&root));
    let tarball = dir.path().join("ro.tar");
    run(std::process::Command::new("tar")
        .arg("--numeric-owner")
        .arg("-C")
        .arg(&root)
        .arg("-cf")
        .arg(&tarball)
        .arg("."));
    rpod.ok(&["import", &tarball.display().to_string(), "ro"]);
    assert_eq!(
        rpod.ok(&["run", "--rm", "ro", "stat", "-c", "%a", "/"]),
        "555\n"
    );
}

/// The root's line in the container's own mountinfo: its super options say whether the
/// overlay is volatile (`volatile`, or `fsync=volatile` on newer kernels).
const ROOT_MOUNT: &str = "awk '$5 == \"/\"' /proc/self/mountinfo";

#[test]
fn only_a_container_removed_at_its_exit_gets_a_volatile_root() {
    let rpod = Rpod::with_image("crun");
    let rm = rpod.ok(&["run", "--rm", "demo", "sh", "-c", ROOT_MOUNT]);
    assert!(rm.contains(" overlay ") && rm.contains("volatile"), "{rm}");
    let kept = rpod.ok(&["run", "--name", "kept", "demo", "sh", "-c", ROOT_MOUNT]);
    assert!(
        kept.contains(" overlay ") && !kept.contains("volatile"),
        "{kept}"
    );
    // A volatile mount marks its upper layer so that the next mount of it fails; rpod
    // mounts a `--rm` container's root again all the same (here after `mount`/`unmount`).
    rpod.ok(&[
        "create", "--rm", "--name", "again", "demo", "echo", "started",
    ]);
    rpod.ok(&["mount", "again"]);
    rpod.ok(&["unmount", "again"]);
    assert_eq!(rpod.ok(&["start", "-a", "again"]), "started\n");
    // Removed when `start -a` returns (with conmon, whose exit command removes it too, a
    // loaded CI run once saw it still listed).
    assert_eq!(rpod.ok(&["ps", "-a", "--format", "{{.Names}}"]), "kept\n");
}

/// rpod.conf's `[containers] log_driver = "none"`: containers made without `--log-driver`
/// keep no log (their output still reaches an attached `run`), `--log-driver k8s-file`
/// still gives one; a driver rpod does not have is refused when the file is read.
#[test]
fn the_configured_log_driver_is_the_default() {
    let rpod = Rpod::with_config(
        "runc",
        &format!("{NO_NETWORK_CONFIG}log_driver = \"none\"\n"),
    );
    rpod.ok(&["import", &busybox_tarball().display().to_string(), "demo"]);
    assert_eq!(
        rpod.ok(&["run", "--name", "quiet", "demo", "echo", "hi"]),
        "hi\n"
    );
    assert_eq!(
        rpod.inspect("quiet", "{{.HostConfig.LogConfig.Type}}"),
        "none"
    );
    let err = rpod.fails(&["logs", "quiet"], 125);
    assert!(err.contains("none log driver"), "{err}");
    rpod.ok(&[
        "run",
        "--name",
        "kept",
        "--log-driver",
        "k8s-file",
        "demo",
        "echo",
        "kept",
    ]);
    assert_eq!(rpod.ok(&["logs", "kept"]), "kept\n");
    std::fs::write(
        rpod.config_path(),
        format!("{NO_NETWORK_CONFIG}log_driver = \"journald\"\n"),
    )
    .unwrap();
    let err = rpod.fails(&["ps"], 125);
    assert!(err.contains("containers.log_driver"), "{err}");
}

/// `stop` of several containers stops them at once, as podman's: three that ignore SIGTERM
/// all get it before the first is killed, so they take one timeout, not three; so does
/// `rm -f`. Stopped one after another, each would get it a whole timeout (3 s) after the
/// one before.
#[test]
fn stop_and_rm_f_stop_several_containers_at_once() {
    let rpod = Rpod::with_image("crun");
    let shared = rpod.dir.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    let volume = format!("{}:/shared", shared.display());
    let names = ["stubborn1", "stubborn2", "stubborn3"];
    for name in names {
        let script = common::sigterm_noting_script(name);
        rpod.detached(&["--name", name, "-v", &volume, "demo", "sh", "-c", &script]);
    }
    common::wait_for_sigterm_traps(&shared, &names);
    let mut args = vec!["stop", "-t", "3"];
    args.extend(names);
    // Said in the order given, whichever stopped first.
    assert_eq!(rpod.ok(&args), "stubborn1\nstubborn2\nstubborn3\n");
    let spread = common::sigterm_spread(&shared, &names);
    assert!(spread < 2.5, "SIGTERMs {spread} s apart");
    for name in names {
        assert_eq!(rpod.inspect(name, "{{.State.ExitCode}}"), "137");
    }
    // Again with rm -f (each container clears its file as it starts).
    let mut args = vec!["start"];
    args.extend(names);
    rpod.ok(&args);
    common::wait_for_sigterm_traps(&shared, &names);
    let mut args = vec!["rm", "-f", "-t", "3"];
    args.extend(names);
    assert_eq!(rpod.ok(&args), "stubborn1\nstubborn2\nstubborn3\n");
    let spread = common::sigterm_spread(&shared, &names);
    assert!(spread < 2.5, "SIGTERMs {spread} s apart");
    assert_eq!(rpod.ok(&["ps", "-aq"]), "");
}
