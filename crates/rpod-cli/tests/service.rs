//! End-to-end tests of `rpod system service`: a real service on a temporary socket, driven
//! by the real docker CLI (`/usr/local/bin/docker`, or `docker` in `$PATH`) and by raw HTTP.
//! They need root, runc, conmon and busybox-static like the other end-to-end tests.

mod common;
#[path = "common/registry_server.rs"]
mod registry_server;

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;
use registry_server::{Registry, RegistrySetup};

/// A running service over a store of its own.
struct Service {
    rpod: Rpod,
    child: Option<Child>,
    socket: PathBuf,
    docker_config: tempfile::TempDir,
}

impl Service {
    fn start() -> Service {
        Self::start_with(Rpod::with_image("runc"), &["--time", "0"])
    }

    fn start_with(rpod: Rpod, extra: &[&str]) -> Service {
        // podman-remote insists that the credentials file it is given exists.
        std::fs::write(rpod.dir.path().join("auth.json"), "{}").unwrap();
        let socket = rpod.dir.path().join("api.sock");
        let uri = format!("unix://{}", socket.display());
        let mut args = vec!["system", "service"];
        args.extend_from_slice(extra);
        args.push(&uri);
        let child = rpod
            .command(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let service = Service {
            rpod,
            child: Some(child),
            socket,
            docker_config: tempfile::tempdir().unwrap(),
        };
        wait_until("the service listens", || {
            UnixStream::connect(&service.socket).is_ok()
        });
        service
    }

    fn pid(&self) -> i32 {
        self.child.as_ref().map(|c| c.id() as i32).unwrap_or(0)
    }

    /// The docker CLI pointed at this service, with a configuration of its own.
    fn docker(&self, args: &[&str]) -> Command {
        let mut command = Command::new(docker_binary());
        command
            .env("DOCKER_HOST", format!("unix://{}", self.socket.display()))
            .env("DOCKER_CONFIG", self.docker_config.path())
            .env_remove("DOCKER_API_VERSION")
            .args(args)
            .stdin(Stdio::null());
        command
    }

    fn docker_out(&self, args: &[&str]) -> Output {
        self.docker(args).output().unwrap()
    }

    /// Run the docker CLI and require success; returns stdout.
    fn docker_ok(&self, args: &[&str]) -> String {
        succeeded("docker", args, self.docker_out(args))
    }

    fn http(&self, method: &str, path: &str, body: &[u8]) -> Reply {
        http(&self.socket, method, path, &[], body)
    }

    /// `docker events` of everything recorded so far (from 0 to a second from now), with
    /// `filters` (`KEY=VALUE`), as `format` prints them.
    fn docker_past_events(&self, filters: &[&str], format: &str) -> String {
        let until = (chrono::Utc::now().timestamp() + 1).to_string();
        let mut args = vec!["events", "--since", "0", "--until", &until];
        for filter in filters {
            args.extend(["--filter", filter]);
        }
        args.extend(["--format", format]);
        self.docker_ok(&args)
    }

    /// Open descriptors of the service process, but for the database's: SQLite keeps the
    /// descriptors of closed connections while another holds a lock (closing one would
    /// drop the process's locks) and reuses them for the next, so their number follows
    /// the peak of concurrent requests, not leaks.
    fn open_fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .map(|dir| {
                dir.filter_map(|e| e.ok())
                    .filter_map(|e| std::fs::read_link(e.path()).ok())
                    .filter(|target| !target.to_string_lossy().contains("rpod.db"))
                    .count()
            })
            .unwrap_or(0)
    }

    fn threads(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/task", self.pid()))
            .map(|d| d.count())
            .unwrap_or(0)
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Run `client` on a terminal of `size` (rows, columns); the session's `stty size` must
/// print that size, and the client exit with `exit_code`.
fn size_seen_on_a_terminal(client: Command, size: (u16, u16), exit_code: i32) {
    let mut run = PtyRun::spawn_command(client, size.0, size.1);
    assert_eq!(run.wait(), exit_code, "{}", run.text());
    let shown = format!("{} {}", size.0, size.1);
    assert!(run.text().contains(&shown), "{:?}", run.text());
}

/// Attach `client` on a terminal to a container running `sh`, run a command through it,
/// type the detach keys ctrl-x,y, and check how the client reports the detach.
fn attach_type_and_detach(client: Command, exit_code: i32, says: &str) {
    let mut attach = PtyRun::spawn_command(client, 24, 80);
    std::thread::sleep(Duration::from_millis(300));
    attach.write(b"echo attached-$((6*7))\n");
    attach.expect("attached-42");
    attach.type_keys(&[0x18, b'y']);
    assert_eq!(attach.wait(), exit_code, "{}", attach.text());
    assert!(attach.text().contains(says), "{}", attach.text());
}

/// A client's stdout, after requiring that it succeeded.
fn succeeded(client: &str, args: &[&str], out: Output) -> String {
    assert!(
        out.status.success(),
        "{client} {args:?} failed with {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn docker_binary() -> &'static str {
    if Path::new("/usr/local/bin/docker").exists() {
        "/usr/local/bin/docker"
    } else {
        "docker"
    }
}

/// An HTTP answer read off a raw connection.
struct Reply {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "status {} body is not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    fn message(&self) -> String {
        self.json()["message"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

/// Decode a chunked body.
fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n").unwrap();
        let size = usize::from_str_radix(
            std::str::from_utf8(&data[..line_end])
                .unwrap()
                .split(';')
                .next()
                .unwrap(),
            16,
        )
        .unwrap();
        data = &data[line_end + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

/// One request on a new connection (`Connection: close`), its whole answer.
fn http(socket: &Path, method: &str, path: &str, headers: &[&str], body: &[u8]) -> Reply {
    try_http(socket, method, path, headers, body).unwrap()
}

/// `http`, a failure to connect, send or read returned.
fn try_http(
    socket: &Path,
    method: &str,
    path: &str,
    headers: &[&str],
    body: &[u8],
) -> std::io::Result<Reply> {
    let mut conn = UnixStream::connect(socket)?;
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: rpod\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for header in headers {
        request.push_str(header);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    conn.write_all(request.as_bytes())?;
    // A service that refuses the body answers before it has read it all.
    let _ = conn.write_all(body);
    let mut answer = Vec::new();
    conn.read_to_end(&mut answer)?;
    Ok(parse_reply(&answer))
}

fn parse_reply(answer: &[u8]) -> Reply {
    let end = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no head in {:?}", String::from_utf8_lossy(answer)));
    let head = String::from_utf8_lossy(&answer[..end]).into_owned();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let raw = &answer[end + 4..];
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(raw)
    } else {
        raw.to_vec()
    };
    Reply { status, head, body }
}

fn sha256(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}

#[test]
fn docker_run_shows_output_and_returns_exit_codes() {
    let service = Service::start();
    assert_eq!(
        service.docker_ok(&["run", "--rm", "demo", "echo", "hello"]),
        "hello\n"
    );
    let out = service.docker_out(&[
        "run",
        "--rm",
        "demo",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 3",
    ]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "err\n");
    // A command that does not exist: 127, and the --rm container is gone.
    let out = service.docker_out(&["run", "--rm", "demo", "nosuchcmd"]);
    assert_eq!(out.status.code(), Some(127), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("nosuchcmd"));
    let out = service.docker_out(&["run", "--rm", "demo", "/etc/passwd"]);
    assert_eq!(out.status.code(), Some(126), "{out:?}");
    // An image that is not there, and rpod has no registry to pull it from.
    let out = service.docker_out(&["run", "--rm", "nosuchimage", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not present locally"));
    assert_eq!(service.docker_ok(&["ps", "-aq"]), "");
    // The `die` events carry Docker's `exitCode`.
    let died = service.docker_past_events(&["event=die"], "{{.Actor.Attributes.exitCode}}");
    assert_eq!(died, "0\n3\n", "{died}");
    // dockerd makes a missing working directory (podman's `--workdir` must exist).
    assert_eq!(
        service.docker_ok(&["run", "--rm", "-w", "/made/here", "demo", "pwd"]),
        "/made/here\n"
    );
    // `docker info` names the host's distribution (it said `linux`).
    assert_eq!(
        service
            .docker_ok(&["info", "--format", "{{.OperatingSystem}}"])
            .trim(),
        os_release("PRETTY_NAME")
    );
}

/// crun words a command that cannot be run its own way; the docker CLI still exits 127 and
/// 126 for it, as with Docker (it reads the daemon's words).
#[test]
fn docker_run_of_a_command_that_cannot_run_exits_as_with_docker_on_crun() {
    let service = Service::start_with(Rpod::with_image("crun"), &["--time", "0"]);
    let out = service.docker_out(&["run", "--rm", "demo", "nosuchcmd"]);
    assert_eq!(out.status.code(), Some(127), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("nosuchcmd"));
    let out = service.docker_out(&["run", "--rm", "demo", "/etc/passwd"]);
    assert_eq!(out.status.code(), Some(126), "{out:?}");
    assert_eq!(service.docker_ok(&["ps", "-aq"]), "");
}

#[test]
fn docker_run_it_and_exec_it_get_the_terminal_size_and_exit_codes() {
    let service = Service::start();
    size_seen_on_a_terminal(
        service.docker(&[
            "run",
            "-it",
            "--rm",
            "demo",
            "sh",
            "-c",
            "stty size; exit 5",
        ]),
        (33, 101),
        5,
    );
    // A resize of the user's terminal reaches the container's.
    let mut run = PtyRun::spawn_command(
        service.docker(&[
            "run",
            "-it",
            "--rm",
            "demo",
            "sh",
            "-c",
            // Polls, since the resize travels CLI -> service -> monitor at its own pace.
            "stty size; until [ \"$(stty size)\" = '40 120' ]; do sleep 0.1; done; echo now 40 120",
        ]),
        33,
        101,
    );
    run.expect("33 101");
    // The docker CLI watches SIGWINCH only from some moment after the start, so a resize
    // made earlier is never sent; the user's terminal is resized again until one arrives.
    for _ in 0..100 {
        run.resize(40, 120);
        std::thread::sleep(std::time::Duration::from_millis(200));
        run.pump();
        if run.text().contains("now 40 120") {
            break;
        }
    }
    run.expect("now 40 120");
    assert_eq!(run.wait(), 0, "{}", run.text());

    service.docker_ok(&["run", "-d", "--name", "box", "demo", "sleep", "1000"]);
    size_seen_on_a_terminal(
        service.docker(&["exec", "-it", "box", "sh", "-c", "stty size; exit 6"]),
        (20, 70),
        6,
    );
    // Keys typed at the terminal reach the session, and its echo comes back.
    let mut shell = PtyRun::spawn_command(service.docker(&["exec", "-it", "box", "sh"]), 24, 80);
    shell.write(b"echo typed-$((6*7))\n");
    shell.expect("typed-42");
    shell.write(b"exit 9\n");
    assert_eq!(shell.wait(), 9);
}

#[test]
fn docker_cli_drives_the_lifecycle() {
    let service = Service::start();
    let id = service
        .docker_ok(&[
            "run",
            "-d",
            "--name",
            "web",
            "demo",
            "sh",
            "-c",
            "trap 'echo got-usr1' USR1; echo ready; while true; do sleep 0.1; done",
        ])
        .trim()
        .to_string();
    assert_eq!(id.len(), 64);
    wait_until("the log shows ready", || {
        service.docker_ok(&["logs", "web"]).contains("ready")
    });
    let ps = service.docker_ok(&["ps", "--format", "{{.ID}} {{.Names}} {{.State}}"]);
    assert_eq!(ps.trim(), format!("{} web running", &id[..12]));
    let inspect = service.docker_ok(&[
        "inspect",
        "-f",
        "{{.State.Status}} {{.Name}} {{.Config.Tty}} {{.State.Running}}",
        "web",
    ]);
    assert_eq!(inspect.trim(), "running /web false true");
    // `--cidfile`: the docker CLI writes the file itself and sends its path as
    // HostConfig.ContainerIDFile, which dockerd keeps for inspect (it was refused).
    let cid_file = service.rpod.dir.path().join("cid");
    let cid_path = cid_file.display().to_string();
    service.docker_ok(&[
        "run",
        "--name",
        "cid",
        "--cidfile",
        &cid_path,
        "demo",
        "true",
    ]);
    let shown = service.docker_ok(&[
        "inspect",
        "-f",
        "{{.HostConfig.ContainerIDFile}} {{.Id}}",
        "cid",
    ]);
    let cid = std::fs::read_to_string(&cid_file).unwrap();
    assert_eq!(shown.trim(), format!("{cid_path} {cid}"));
    service.docker_ok(&["rm", "cid"]);
    // The overlay's directories, the image's layers beneath included.
    let lower = service.docker_ok(&["inspect", "-f", "{{.GraphDriver.Data.LowerDir}}", "web"]);
    assert!(lower.trim().starts_with('/'), "{lower}");
    // --size asks for what the container wrote (the log line is outside its root).
    service.docker_ok(&["exec", "web", "sh", "-c", "printf 12345 > /written"]);
    let sizes = service.docker_ok(&[
        "inspect",
        "--size",
        "-f",
        "{{.SizeRw}} {{.SizeRootFs}}",
        "web",
    ]);
    let sizes: Vec<u64> = sizes
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    assert!(sizes[0] >= 5 && sizes[1] > sizes[0], "{sizes:?}");
    // exec: output, stdin, exit code.
    let out = service.docker_out(&["exec", "web", "sh", "-c", "echo in-exec; exit 4"]);
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "in-exec\n");
    // One that cannot be run (no such user): Docker's 126, never success.
    let out = service.docker_out(&["exec", "-u", "nosuch", "web", "true"]);
    assert_eq!(out.status.code(), Some(126), "{out:?}");
    let out = pipe_through(
        &mut service.docker(&["exec", "-i", "web", "cat"]),
        b"through stdin\n",
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "through stdin\n");
    // Docker's exec events: the start names the command (`event=exec_start` finds it),
    // the end carries the exit code.
    let starts = service.docker_past_events(&["event=exec_start", "container=web"], "{{.Action}}");
    assert_eq!(
        starts,
        "exec_start: sh -c printf 12345 > /written\nexec_start: sh -c echo in-exec; exit 4\n\
         exec_start: cat\n"
    );
    let ends = service.docker_past_events(
        &["event=exec_die", "container=web"],
        "{{.Action}} {{.Actor.Attributes.exitCode}}",
    );
    assert_eq!(ends, "exec_die 0\nexec_die 4\nexec_die 0\n");
    // A detached one's exit code is known to exec inspect once it ended (docker-py's
    // `exec_start(detach=True)`, then `exec_inspect`), as Docker's.
    let reply = service.http(
        "POST",
        "/containers/web/exec",
        br#"{"Cmd":["sh","-c","exit 5"]}"#,
    );
    assert_eq!(reply.status, 201);
    let exec_id = reply.json()["Id"].as_str().unwrap().to_string();
    let started = service.http(
        "POST",
        &format!("/exec/{exec_id}/start"),
        br#"{"Detach":true}"#,
    );
    assert_eq!(started.status, 200);
    wait_until("the detached exec ended", || {
        service
            .http("GET", &format!("/exec/{exec_id}/json"), b"")
            .json()["Running"]
            == false
    });
    let ended = service
        .http("GET", &format!("/exec/{exec_id}/json"), b"")
        .json();
    assert_eq!(ended["ExitCode"], 5, "{ended}");
    let sessions = service.docker_past_events(
        &["event=exec_die", "container=web"],
        "{{.Actor.Attributes.execID}}",
    );
    assert!(sessions.lines().all(|id| id.len() == 64), "{sessions}");
    // pause, unpause, kill with a signal the container handles.
    service.docker_ok(&["pause", "web"]);
    assert_eq!(
        service
            .docker_ok(&["inspect", "-f", "{{.State.Status}}", "web"])
            .trim(),
        "paused"
    );
    service.docker_ok(&["unpause", "web"]);
    service.docker_ok(&["kill", "-s", "USR1", "web"]);
    wait_until("the trap ran", || {
        service.docker_ok(&["logs", "web"]).contains("got-usr1")
    });
    let out = service.docker_out(&["kill", "-s", "NOSUCHSIG", "web"]);
    assert!(!out.status.success());
    // stop with a signal of the client's choice.
    service.docker_ok(&[
        "run",
        "-d",
        "--name",
        "polite",
        "demo",
        "sh",
        "-c",
        "trap 'exit 0' INT; echo trapped; while true; do sleep 0.1; done",
    ]);
    // A signal before the trap is set would be ignored by the shell (PID 1).
    wait_until("the trap is set", || {
        service.docker_ok(&["logs", "polite"]).contains("trapped")
    });
    // restart, with the client's signal too: the trap ends the first run, a second one
    // starts, and the restart is an event, as Docker's.
    service.docker_ok(&["restart", "-s", "INT", "-t", "30", "polite"]);
    wait_until("the trap is set again", || {
        service
            .docker_ok(&["logs", "polite"])
            .matches("trapped")
            .count()
            == 2
    });
    assert_eq!(
        service.docker_past_events(&["event=restart", "container=polite"], "{{.Action}}"),
        "restart\n"
    );
    service.docker_ok(&["stop", "-s", "INT", "-t", "30", "polite"]);
    assert_eq!(service.docker_ok(&["wait", "polite"]).trim(), "0");
    service.docker_ok(&["rm", "polite"]);
    // stop: the shell ignores SIGTERM as PID 1, so SIGKILL after the timeout.
    service.docker_ok(&["stop", "-t", "1", "web"]);
    assert_eq!(service.docker_ok(&["wait", "web"]).trim(), "137");
    let ps = service.docker_ok(&["ps", "-a", "--format", "{{.Names}} {{.State}}"]);
    assert_eq!(ps.trim(), "web exited");
    // -l and -n N show the newest in every state, as dockerd's `limit` does.
    assert_eq!(service.docker_ok(&["ps", "-q"]), "");
    for last in [&["-l"][..], &["-n", "1"]] {
        let shown = service.docker_ok(&[&["ps", "--format", "{{.Names}}"][..], last].concat());
        assert_eq!(shown, "web\n", "{last:?}");
    }
    // Removing: refused while running without force.
    service.docker_ok(&["start", "web"]);
    let out = service.docker_out(&["rm", "web"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("Error response from daemon"));
    service.docker_ok(&["rm", "-f", "web"]);
    assert_eq!(service.docker_ok(&["ps", "-aq"]), "");
    let out = service.docker_out(&["inspect", "web"]);
    assert!(!out.status.success());
}

#[test]
fn docker_logs_follow_and_attach_see_everything() {
    let service = Service::start();
    service.docker_ok(&[
        "run",
        "-d",
        "--name",
        "counter",
        "demo",
        "sh",
        "-c",
        "for i in 1 2 3 4 5; do echo line $i; sleep 0.2; done; echo bye >&2",
    ]);
    // Follows until the container exits; stdout and stderr each to their own.
    let out = service.docker_out(&["logs", "-f", "counter"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "line 1\nline 2\nline 3\nline 4\nline 5\n"
    );
    assert_eq!(String::from_utf8_lossy(&out.stderr), "bye\n");
    // The tail counts the lines of both streams.
    let out = service.docker_out(&["logs", "--tail", "2", "counter"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "line 5\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "bye\n");
    // A window after the last line, or before the first, holds nothing.
    let later = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 60;
    let out = service.docker_out(&["logs", "--since", &later.to_string(), "counter"]);
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "{out:?}"
    );
    let out = service.docker_out(&["logs", "--until", "1", "counter"]);
    assert!(out.status.success() && out.stdout.is_empty(), "{out:?}");
    let out = service.docker_out(&["logs", "--since", "1", "counter"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 5);
    let stamped = service.docker_ok(&["logs", "-t", "--tail", "2", "counter"]);
    assert!(
        stamped.starts_with("20") && stamped.ends_with(" line 5\n"),
        "{stamped}"
    );
    // --details: each line after the log attributes Docker's --log-opt labels= and env=
    // pick (none: a space alone), after the date with -t.
    assert_eq!(
        service.docker_ok(&["logs", "--details", "--tail", "2", "counter"]),
        " line 5\n"
    );
    service.docker_ok(&[
        "run",
        "--name",
        "attributed",
        "--log-opt",
        "labels=team,absent",
        "--log-opt",
        "env=MODE",
        "--label",
        "team=db",
        "--label",
        "other=x",
        "-e",
        "MODE=a b",
        "demo",
        "echo",
        "hi",
    ]);
    assert_eq!(
        service.docker_ok(&["logs", "--details", "attributed"]),
        "MODE=a+b,team=db hi\n"
    );
    let stamped = service.docker_ok(&["logs", "--details", "-t", "attributed"]);
    assert!(stamped.ends_with("Z MODE=a+b,team=db hi\n"), "{stamped}");
    assert_eq!(
        service.docker_ok(&[
            "inspect",
            "--format",
            "{{json .HostConfig.LogConfig.Config}}",
            "attributed"
        ]),
        "{\"env\":\"MODE\",\"labels\":\"team,absent\"}\n"
    );
    assert_eq!(service.docker_ok(&["logs", "attributed"]), "hi\n");
    service.docker_ok(&["rm", "attributed"]);
    // attach to a running container: its output from then on, and its exit code.
    service.docker_ok(&[
        "run",
        "-d",
        "--name",
        "late",
        "demo",
        "sh",
        "-c",
        "sleep 1; echo attached-output; exit 7",
    ]);
    let out = service.docker_out(&["attach", "late"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "attached-output\n");
    assert_eq!(out.status.code(), Some(7));
    // attach to a terminal, type, detach with the keys: the container goes on.
    service.docker_ok(&["run", "-dit", "--name", "shell", "demo", "sh"]);
    // The docker CLI matches the keys itself and reports the detach as an error (exit 1).
    let client = service.docker(&["attach", "--detach-keys", "ctrl-x,y", "shell"]);
    attach_type_and_detach(client, 1, "read escape sequence");
    assert_eq!(
        service
            .docker_ok(&["inspect", "-f", "{{.State.Status}}", "shell"])
            .trim(),
        "running"
    );
}

#[test]
fn docker_env_names_without_values_are_taken_away() {
    let service = Service::start();
    // `-e NAME` for a NAME the docker CLI's own environment lacks goes out bare: Docker
    // takes the variable away, from the image's (run) and the container's (exec).
    let out = service
        .docker(&[
            "create",
            "--network",
            "none",
            "--name",
            "nopath",
            "-e",
            "PATH",
            "-e",
            "SET=1",
            "demo",
            "true",
        ])
        .env_remove("PATH")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let env = service.docker_ok(&["inspect", "-f", "{{json .Config.Env}}", "nopath"]);
    assert!(
        env.contains(r#""SET=1""#) && !env.contains("PATH="),
        "{env}"
    );
    service.docker_ok(&[
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        "envs",
        "-e",
        "ONLY_HERE=1",
        "-e",
        "KEPT=2",
        "demo",
        "sleep",
        "300",
    ]);
    let out = service
        .docker(&[
            "exec",
            "-e",
            "ONLY_HERE",
            "envs",
            "/bin/sh",
            "-c",
            "echo ${ONLY_HERE-unset} $KEPT",
        ])
        .env_remove("ONLY_HERE")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "unset 2\n", "{out:?}");
    service.docker_ok(&["rm", "-f", "envs"]);
}

#[test]
fn large_streams_through_attach_and_exec_are_byte_exact() {
    let service = Service::start();
    service.docker_ok(&["run", "-d", "--name", "sink", "demo", "sleep", "1000"]);
    for size in [1usize << 20, 64 << 20] {
        let data: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
        let out = pipe_through(
            &mut service.docker(&["run", "--rm", "-i", "demo", "cat"]),
            &data,
        );
        assert!(out.status.success(), "{out:?}");
        assert_eq!(out.stdout.len(), size);
        assert_eq!(sha256(&out.stdout), sha256(&data), "run -i, {size} bytes");
        let out = pipe_through(&mut service.docker(&["exec", "-i", "sink", "cat"]), &data);
        assert!(out.status.success());
        assert_eq!(out.stdout.len(), size);
        assert_eq!(sha256(&out.stdout), sha256(&data), "exec -i, {size} bytes");
    }
}

#[test]
fn the_cli_and_the_service_share_one_store() {
    let service = Service::start();
    let id = service
        .rpod
        .detached(&["--name", "from-cli", "demo", "sleep", "1000"]);
    let ps = service.docker_ok(&["ps", "--format", "{{.ID}} {{.Names}}"]);
    assert_eq!(ps.trim(), format!("{} from-cli", &id[..12]));
    service.docker_ok(&["stop", "-t", "0", "from-cli"]);
    assert_eq!(
        service.rpod.inspect("from-cli", "{{.State.Status}}"),
        "exited"
    );
    service.docker_ok(&[
        "run",
        "-d",
        "--name",
        "from-api",
        "demo",
        "sh",
        "-c",
        "echo made-by-docker; sleep 1000",
    ]);
    wait_until("the log has the line", || {
        service
            .rpod
            .ok(&["logs", "from-api"])
            .contains("made-by-docker")
    });
    service.rpod.ok(&["rm", "-f", "from-api"]);
    let out = service.docker_out(&["inspect", "from-api"]);
    assert!(!out.status.success());
}

#[test]
fn images_over_the_api_save_load_tag_and_remove() {
    let service = Service::start();
    let images = service.docker_ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert_eq!(images.trim(), "localhost/demo:latest");
    let id = service.docker_ok(&["image", "inspect", "-f", "{{.Id}}", "demo"]);
    assert!(id.starts_with("sha256:"), "{id}");
    service.docker_ok(&["tag", "demo", "example.com/team/tool:1.0"]);
    // A reference filter lists the names it matches, not the image's others.
    assert_eq!(
        service.docker_ok(&[
            "images",
            "--filter",
            "reference=example.com/*/*",
            "--format",
            "{{.Repository}}:{{.Tag}}"
        ]),
        "example.com/team/tool:1.0\n"
    );
    let archive = service.rpod.dir.path().join("saved.tar");
    service.docker_ok(&[
        "save",
        "-o",
        archive.to_str().unwrap(),
        "example.com/team/tool:1.0",
    ]);
    // A second store loads the archive through its own service.
    let other = Service::start_with(Rpod::new("runc"), &["--time", "0"]);
    let loaded = other.docker_ok(&["load", "-i", archive.to_str().unwrap()]);
    assert!(
        loaded.contains("Loaded image: example.com/team/tool:1.0"),
        "{loaded}"
    );
    assert_eq!(
        other.docker_ok(&[
            "run",
            "--rm",
            "example.com/team/tool:1.0",
            "echo",
            "from-loaded"
        ]),
        "from-loaded\n"
    );
    // A pull from a registry that does not answer keeps a local image, saying so, and
    // fails for another (tests/registry.rs and the test below pull from a real one).
    service.docker_ok(&["tag", "demo", "127.0.0.1:9/team/tool:1.0"]);
    let out = service.docker_ok(&["pull", "127.0.0.1:9/team/tool:1.0"]);
    assert!(out.contains("using the local image"), "{out}");
    service.docker_ok(&["rmi", "127.0.0.1:9/team/tool:1.0"]);
    let out = service.docker_out(&["pull", "127.0.0.1:9/nosuch/image:1"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not present locally, and pulling it failed"),
        "{out:?}"
    );
    // rmi of one name untags; of the last name deletes.
    let out = service.docker_ok(&["rmi", "example.com/team/tool:1.0"]);
    assert!(out.contains("Untagged: example.com/team/tool:1.0"), "{out}");
    service.docker_ok(&["run", "-d", "--name", "user", "demo", "sleep", "1000"]);
    let out = service.docker_out(&["rmi", "demo"]);
    assert!(!out.status.success(), "an image in use was removed");
    service.docker_ok(&["rm", "-f", "user"]);
    let out = service.docker_ok(&["rmi", "demo"]);
    assert!(out.contains("Deleted: sha256:"), "{out}");
    assert_eq!(service.docker_ok(&["images", "-q"]), "");
}

#[test]
fn bad_requests_get_the_right_status_and_the_service_keeps_serving() {
    let service = Service::start();
    let create = |body: &str| service.http("POST", "/v1.41/containers/create", body.as_bytes());
    let reply = create("{not json");
    assert_eq!(reply.status, 400);
    assert!(reply.message().contains("decoding"), "{}", reply.message());
    assert_eq!(create(r#"{"Image": 5}"#).status, 400);
    assert_eq!(
        create(r#"{"Image":"demo","HostConfig":{"Binds":["/anonymous"]}}"#).status,
        400
    );
    let reply = create(r#"{"Image":"nosuch"}"#);
    assert_eq!(reply.status, 404);
    assert!(
        reply.message().contains("No such image"),
        "{}",
        reply.message()
    );
    let reply = service.http("GET", "/v1.41/containers/nosuch/json", b"");
    assert_eq!(reply.status, 404);
    assert_eq!(reply.message(), "No such container: nosuch");
    // Only a missing image is a create's 404: the docker CLI pulls the image on any 404
    // (and then said the image could not be pulled); a missing network or container the
    // request names is a bad request, in its own words.
    let out = service.docker_out(&["run", "--rm", "--network", "nosuchnet", "demo", "true"]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("network nosuchnet not found"), "{said}");
    assert!(!said.contains("Unable to find image"), "{said}");
    assert_eq!(out.status.code(), Some(125));
    let reply =
        create(r#"{"Image":"demo","Cmd":["true"],"HostConfig":{"VolumesFrom":["nosuch"]}}"#);
    assert_eq!(reply.status, 400);
    assert_eq!(reply.message(), "No such container: nosuch");
    let id = service
        .rpod
        .detached(&["--name", "up", "demo", "sleep", "1000"]);
    let reply = service.http(
        "POST",
        &format!("/containers/{id}/kill?signal=SIGNOPE"),
        b"",
    );
    assert_eq!(reply.status, 400);
    let reply = service.http("POST", "/containers/up/wait?condition=sideways", b"");
    assert_eq!(reply.status, 400);
    // A state reached is no exit: -1, not an exit code, as podman's service answers.
    let reply = service.http(
        "POST",
        "/v4.3.1/libpod/containers/up/wait?condition=running",
        b"",
    );
    assert_eq!((reply.status, reply.json()), (200, serde_json::json!(-1)));
    let reply = service.http("DELETE", "/containers/up", b"");
    assert_eq!(reply.status, 409);
    let reply = service.http(
        "POST",
        "/containers/create?name=up",
        br#"{"Image":"demo","Cmd":["true"]}"#,
    );
    assert_eq!(reply.status, 409, "{}", reply.message());
    let reply = service.http("GET", "/v1.41/nosuch/endpoint", b"");
    assert_eq!(reply.status, 404);
    // Swarm mode: a daemon outside a swarm's answer (the docker CLI prints it); joining or
    // making one refused; libpod's unknown secret routes are no swarm's.
    for path in [
        "/v1.41/secrets",
        "/v1.41/services",
        "/v1.41/nodes",
        "/v1.41/swarm",
    ] {
        let reply = service.http("GET", path, b"");
        assert_eq!(reply.status, 503, "{path}");
        assert!(reply.message().contains("not a swarm manager"), "{path}");
    }
    let reply = service.http("POST", "/v1.41/swarm/init", b"{}");
    assert_eq!(reply.status, 501);
    let reply = service.http("GET", "/v4.3.1/libpod/secrets/x/exists", b"");
    assert_eq!(reply.status, 404);
    let out = service.docker_out(&["secret", "ls"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("This node is not a swarm manager"),
        "{out:?}"
    );
    let reply = service.http("POST", "/exec/0123/start", b"{}");
    assert_eq!(reply.status, 404);
    // No managed plugins to list; installing one is refused.
    assert_eq!(
        service.docker_ok(&["plugin", "ls", "--format", "{{.Name}}"]),
        ""
    );
    let out = service.docker_out(&[
        "plugin",
        "install",
        "--grant-all-permissions",
        "vieux/sshfs",
    ]);
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("managed plugins (docker plugin install) are not supported"),
        "{out:?}"
    );
    // A body far too large is refused without being read whole.
    let big = vec![b' '; 6 << 20];
    let reply = service.http("POST", "/containers/create", &big);
    assert_eq!(reply.status, 413);
    // A request that is not HTTP.
    let mut conn = UnixStream::connect(&service.socket).unwrap();
    conn.write_all(b"\x16\x03\x01garbage\r\n\r\n").unwrap();
    let mut answer = Vec::new();
    conn.read_to_end(&mut answer).unwrap();
    assert_eq!(parse_reply(&answer).status, 400);
    // Still serving.
    let reply = service.http("GET", "/_ping", b"");
    assert_eq!((reply.status, reply.body.as_slice()), (200, &b"OK"[..]));
    assert!(reply.head.contains("Api-Version: 1.4"));
    assert!(reply.head.contains("Libpod-Api-Version: "));
}

#[test]
fn clients_that_go_away_leave_nothing_behind() {
    let service = Service::start();
    service
        .rpod
        .detached(&["--name", "up", "demo", "sleep", "1000"]);
    // Warm up (lazily made runtimes, pools), then count.
    assert_eq!(service.http("GET", "/containers/up/json", b"").status, 200);
    std::thread::sleep(Duration::from_millis(200));
    let (fds, threads) = (service.open_fds(), service.threads());
    for path in [
        "/containers/up/wait",
        "/containers/up/logs?stdout=1&follow=1",
        "/containers/up/attach?stream=1&stdout=1&stderr=1&stdin=1",
    ] {
        for _ in 0..5 {
            let mut conn = UnixStream::connect(&service.socket).unwrap();
            let method = if path.contains("logs") { "GET" } else { "POST" };
            write!(
                conn,
                "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
            )
            .unwrap();
            let mut first = [0u8; 12];
            conn.read_exact(&mut first).unwrap();
            assert!(first.starts_with(b"HTTP/1.1 "), "{path}");
            drop(conn);
        }
    }
    // An exec session whose client goes away ends its copy; its command goes on, and the
    // session is removed when the command ends.
    let reply = service.http(
        "POST",
        "/containers/up/exec",
        br#"{"Cmd":["sleep","9"],"AttachStdout":true}"#,
    );
    assert_eq!(reply.status, 201);
    let exec_id = reply.json()["Id"].as_str().unwrap().to_string();
    let mut conn = UnixStream::connect(&service.socket).unwrap();
    write!(
        conn,
        "POST /exec/{exec_id}/start HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{{}}"
    )
    .unwrap();
    let mut first = [0u8; 12];
    conn.read_exact(&mut first).unwrap();
    drop(conn);
    // Well past the time an attached client's exit code is waited for (5 s), the command
    // still runs and its session is still known.
    std::thread::sleep(Duration::from_millis(6500));
    let reply = service.http("GET", &format!("/exec/{exec_id}/json"), b"");
    assert_eq!(
        reply.json()["Running"],
        true,
        "the command ended with its client"
    );
    assert_eq!(service.rpod.inspect("up", "{{len .ExecIDs}}"), "1");
    wait_until("the exec instance ended", || {
        let reply = service.http("GET", &format!("/exec/{exec_id}/json"), b"");
        reply.json()["Running"] == false
    });
    // Its session was removed by its exit command: nothing of it is left.
    wait_until("the session is gone", || {
        service.rpod.inspect("up", "{{len .ExecIDs}}") == "0"
    });
    wait_until("everything the clients left is gone", || {
        service.open_fds() <= fds && service.threads() <= threads
    });
    // The container lived through all of it.
    assert_eq!(service.rpod.inspect("up", "{{.State.Status}}"), "running");
}

#[test]
fn a_hundred_clients_at_once_are_all_answered() {
    let service = Service::start();
    service
        .rpod
        .detached(&["--name", "long", "demo", "sleep", "1000"]);
    // Fill the store's connection pool first: its idle connections stay open by design.
    let warm: Vec<_> = (0..32)
        .map(|_| {
            let socket = service.socket.clone();
            std::thread::spawn(move || {
                http(&socket, "GET", "/containers/long/json", &[], b"").status
            })
        })
        .collect();
    for client in warm {
        assert_eq!(client.join().unwrap(), 200);
    }
    std::thread::sleep(Duration::from_millis(200));
    let fds = service.open_fds();
    let socket = service.socket.clone();
    let started = Instant::now();
    let clients: Vec<_> = (0..100)
        .map(|i| {
            let socket = socket.clone();
            std::thread::spawn(move || -> Result<(), String> {
                let check = |reply: Reply, want: u16, what: &str| {
                    if reply.status == want {
                        Ok(reply)
                    } else {
                        Err(format!("{what}: {} {}", reply.status, String::from_utf8_lossy(&reply.body)))
                    }
                };
                match i % 5 {
                    // create, start, wait, remove
                    0 => {
                        let body = br#"{"Image":"demo","Cmd":["sh","-c","echo hi; exit 2"]}"#;
                        let reply = check(http(&socket, "POST", "/containers/create", &[], body), 201, "create")?;
                        let id = reply.json()["Id"].as_str().unwrap_or_default().to_string();
                        check(http(&socket, "POST", &format!("/containers/{id}/start"), &[], b""), 204, "start")?;
                        let reply = check(http(&socket, "POST", &format!("/containers/{id}/wait"), &[], b""), 200, "wait")?;
                        if reply.json()["StatusCode"] != 2 {
                            return Err(format!("wait said {}", reply.json()));
                        }
                        check(http(&socket, "DELETE", &format!("/containers/{id}"), &[], b""), 204, "delete")?;
                    }
                    // a wait on the long container that is held open (released at the end)
                    1 => {
                        let mut conn = UnixStream::connect(&socket).map_err(|e| e.to_string())?;
                        conn.write_all(b"POST /containers/long/wait HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
                            .map_err(|e| e.to_string())?;
                        let mut answer = Vec::new();
                        conn.read_to_end(&mut answer).map_err(|e| e.to_string())?;
                        let text = String::from_utf8_lossy(&answer);
                        if !text.contains("\"StatusCode\":137") {
                            return Err(format!("held wait: {text}"));
                        }
                    }
                    // an attach held on the long container until it stops
                    2 => {
                        let mut conn = UnixStream::connect(&socket).map_err(|e| e.to_string())?;
                        conn.write_all(b"POST /containers/long/attach?stream=1&stdout=1 HTTP/1.1\r\nHost: x\r\nUpgrade: tcp\r\nConnection: Upgrade\r\nContent-Length: 0\r\n\r\n")
                            .map_err(|e| e.to_string())?;
                        let mut answer = Vec::new();
                        conn.read_to_end(&mut answer).map_err(|e| e.to_string())?;
                        if !answer.starts_with(b"HTTP/1.1 101") {
                            return Err(format!("attach: {}", String::from_utf8_lossy(&answer)));
                        }
                    }
                    3 => {
                        let reply = check(http(&socket, "GET", "/containers/json?all=1", &[], b""), 200, "list")?;
                        if !reply.json().is_array() {
                            return Err("list is not an array".into());
                        }
                    }
                    _ => {
                        check(http(&socket, "GET", "/containers/long/json", &[], b""), 200, "inspect")?;
                        check(http(&socket, "GET", "/_ping", &[], b""), 200, "ping")?;
                    }
                }
                Ok(())
            })
        })
        .collect();
    // Once the short ones are through, the held ones end with the container.
    std::thread::sleep(Duration::from_secs(3));
    let reply = service.http("POST", "/containers/long/kill", b"");
    assert_eq!(reply.status, 204);
    let errors: Vec<String> = clients
        .into_iter()
        .filter_map(|c| c.join().unwrap().err())
        .collect();
    assert!(
        errors.is_empty(),
        "{} of 100 failed: {errors:?}",
        errors.len()
    );
    assert!(started.elapsed() < Duration::from_secs(120));
    for _ in 0..500 {
        if service.open_fds() <= fds {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let listing = Command::new("ls")
        .arg("-l")
        .arg(format!("/proc/{}/fd", service.pid()))
        .output()
        .unwrap();
    panic!(
        "{} descriptors open, {fds} before:\n{}",
        service.open_fds(),
        String::from_utf8_lossy(&listing.stdout)
    );
}

#[test]
fn the_socket_is_private_unique_and_removed_on_stop() {
    let mut service = Service::start();
    let mode = std::fs::metadata(&service.socket)
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o660);
    // A second service on the same socket fails, and the first keeps it.
    let uri = format!("unix://{}", service.socket.display());
    let second = service
        .rpod
        .run(&["system", "service", "--time", "0", &uri]);
    assert_eq!(second.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&second.stderr).contains("in use"));
    assert_eq!(service.http("GET", "/_ping", b"").status, 200);
    // SIGTERM while a request is open: the socket goes at once, the request may finish
    // within the grace period, then the service exits cleanly.
    service
        .rpod
        .detached(&["--name", "waited", "demo", "sleep", "1000"]);
    let socket = service.socket.clone();
    let waiter =
        std::thread::spawn(move || http(&socket, "POST", "/containers/waited/wait", &[], b""));
    std::thread::sleep(Duration::from_millis(300));
    let pid = nix::unistd::Pid::from_raw(service.pid());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    wait_until("the socket is gone", || !service.socket.exists());
    service.rpod.ok(&["kill", "waited"]);
    let reply = waiter.join().unwrap();
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["StatusCode"], 137);
    assert!(service.child.take().unwrap().wait().unwrap().success());
    // A socket left by a killed service is replaced.
    let rpod = std::mem::replace(&mut service.rpod, Rpod::new("runc"));
    let mut killed = Service::start_with(rpod, &["--time", "0"]);
    let mut child = killed.child.take().unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(killed.socket.exists());
    let rpod = std::mem::replace(&mut killed.rpod, Rpod::new("runc"));
    let again = Service::start_with(rpod, &["--time", "0"]);
    assert_eq!(again.http("GET", "/_ping", b"").status, 200);
}

#[test]
fn an_idle_service_exits_after_its_time() {
    let mut service = Service::start_with(Rpod::new("runc"), &["--time", "1"]);
    let child = service.child.as_mut().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the idle service did not exit");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success());
    assert!(!service.socket.exists());
}

#[test]
fn socket_activation_serves_on_the_inherited_socket() {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    let rpod = Rpod::new("runc");
    let socket = rpod.dir.path().join("activated.sock");
    let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let fd = listener.as_raw_fd();
    // LISTEN_PID must be the service's own PID: a shell sets it and execs rpod.
    let exe = env!("CARGO_BIN_EXE_rpod");
    let script = format!(
        "LISTEN_PID=$$ LISTEN_FDS=1 exec {exe} --root {} --runroot {} system service --time 0",
        rpod.root().display(),
        rpod.runroot().display()
    );
    // What the service says, for a failure's message.
    let said = rpod.dir.path().join("service.log");
    let mut command = Command::new("sh");
    command
        .args(["-c", &script])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&said).unwrap());
    #[allow(unsafe_code)]
    // SAFETY: only dup2 between fork and exec, which is async-signal-safe.
    unsafe {
        command.pre_exec(move || {
            if fd != 3 && libc::dup2(fd, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            // Inherited across exec, whichever way it became descriptor 3.
            if libc::fcntl(3, libc::F_SETFD, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = command.spawn().unwrap();
    drop(listener);
    let reply = try_http(&socket, "GET", "/_ping", &[], b"").unwrap_or_else(|e| {
        panic!(
            "{e}; the service: {:?}, said: {}",
            child.try_wait(),
            std::fs::read_to_string(&said).unwrap_or_default()
        )
    });
    assert_eq!(reply.status, 200);
    let reply = http(&socket, "GET", "/v1.41/containers/json", &[], b"");
    assert_eq!(reply.status, 200);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    assert!(child.wait().unwrap().success());
    // Not the service's to remove: systemd owns it.
    assert!(socket.exists());
}

impl Service {
    /// podman-remote (Debian's podman 4.3.1, `--remote`) pointed at this service.
    fn podman(&self, args: &[&str]) -> Command {
        let mut command = Command::new("podman");
        command
            .arg("--remote")
            .arg("--url")
            .arg(format!("unix://{}", self.socket.display()))
            .args(args)
            // Never the user's own credentials.
            .env("REGISTRY_AUTH_FILE", self.rpod.dir.path().join("auth.json"))
            .stdin(Stdio::null());
        command
    }

    fn podman_out(&self, args: &[&str]) -> Output {
        self.podman(args).output().unwrap()
    }

    fn podman_ok(&self, args: &[&str]) -> String {
        succeeded("podman --remote", args, self.podman_out(args))
    }
}

#[test]
fn podman_remote_runs_execs_and_manages_containers() {
    let service = Service::start();
    assert!(service.podman_ok(&["version"]).contains("API Version"));
    // run: output, exit code; --rm leaves nothing and no error about the removal.
    let out = service.podman_out(&[
        "run",
        "--rm",
        "demo",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 3",
    ]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "err\n");
    let out = service.podman_out(&["run", "--rm", "demo", "nosuchcmd"]);
    assert_eq!(out.status.code(), Some(127), "{out:?}");
    // podman's `--workdir` must exist, through the service too.
    let out = service.podman_out(&["run", "--rm", "-w", "/made/here", "demo", "pwd"]);
    assert_eq!(out.status.code(), Some(126), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("does not exist on container"),
        "{out:?}"
    );
    let out = service.podman_out(&["run", "--rm", "nosuchimage", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert_eq!(service.podman_ok(&["ps", "-aq"]), "");
    // The libpod listing is podman's `ListContainer`: podman-remote's `ps` reads its
    // mounts, names and command from it.
    let volume_dir = service.rpod.dir.path().display().to_string();
    service.podman_ok(&[
        "create",
        "--name",
        "listed",
        "-v",
        &format!("{volume_dir}:/hosttmp"),
        "demo",
        "true",
    ]);
    assert_eq!(
        service
            .podman_ok(&[
                "ps",
                "-a",
                "--format",
                "{{.Names}} {{.Mounts}} {{.Command}}"
            ])
            .trim(),
        "listed [/hosttmp] true"
    );
    // The image listing counts it.
    let images: serde_json::Value =
        serde_json::from_str(&service.podman_ok(&["images", "--format", "json"])).unwrap();
    assert_eq!(images[0]["Containers"], 1, "{images}");
    service.podman_ok(&["rm", "listed"]);
    // run -d, ps, logs, exec.
    let id = service.podman_ok(&[
        "run",
        "-d",
        "--name",
        "bg",
        "demo",
        "sh",
        "-c",
        "trap 'echo got-usr1' USR1; echo started; while true; do sleep 0.1; done",
    ]);
    assert_eq!(id.trim().len(), 64);
    assert_eq!(
        service.podman_ok(&["ps", "--format", "{{.Names}}"]).trim(),
        "bg"
    );
    assert_eq!(
        service
            .podman_ok(&["inspect", "-f", "{{.State.Status}}", "bg"])
            .trim(),
        "running"
    );
    let sizes = service.podman_ok(&["inspect", "--size", "-f", "{{.SizeRootFs}}", "bg"]);
    assert!(sizes.trim().parse::<u64>().unwrap() > 0, "{sizes}");
    let image = service.podman_ok(&["inspect", "-f", "{{.ImageDigest}}", "bg"]);
    assert!(image.starts_with("sha256:"), "{image}");
    wait_until("the log shows started", || {
        service.podman_ok(&["logs", "bg"]).contains("started")
    });
    let out = service.podman_out(&["exec", "bg", "sh", "-c", "echo in-exec; exit 4"]);
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "in-exec\n");
    let out = pipe_through(
        &mut service.podman(&["exec", "-i", "bg", "cat"]),
        b"piped\n",
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "piped\n");
    let out = service.podman_out(&["exec", "bg", "nosuchcmd"]);
    assert_eq!(out.status.code(), Some(127));
    // A command that cannot be run as a user that does not exist: 126, never success,
    // and why, every time (the error waits until podman-remote has read the head, with
    // whose read it was lost about one time in three).
    for _ in 0..10 {
        let out = service.podman_out(&["exec", "-u", "nosuch", "bg", "true"]);
        assert_eq!(out.status.code(), Some(126), "{out:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("unable to find user nosuch"),
            "{out:?}"
        );
    }
    // pause, unpause, kill, stop, wait, rm.
    service.podman_ok(&["pause", "bg"]);
    assert_eq!(
        service
            .podman_ok(&["inspect", "-f", "{{.State.Status}}", "bg"])
            .trim(),
        "paused"
    );
    service.podman_ok(&["unpause", "bg"]);
    service.podman_ok(&["kill", "-s", "USR1", "bg"]);
    wait_until("the trap ran", || {
        service.podman_ok(&["logs", "bg"]).contains("got-usr1")
    });
    service.podman_ok(&["stop", "-t", "1", "bg"]);
    assert_eq!(service.podman_ok(&["wait", "bg"]).trim(), "137");
    assert_eq!(service.podman_ok(&["rm", "bg"]).trim(), "bg");
    let out = service.podman_out(&["rm", "bg"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such container"));
    assert!(service.podman_ok(&["images"]).contains("localhost/demo"));
    // The listing's filters hold (the libpod listing ignored them: everything was shown).
    for filter in [
        "reference=nosuch",
        "dangling=true",
        "id=0000",
        "containers=true",
    ] {
        assert_eq!(
            service.podman_ok(&["images", "-q", "--filter", filter]),
            "",
            "{filter}"
        );
    }
    assert_eq!(service.podman_ok(&["images", "-q", "nosuch"]), "");
    assert!(service
        .podman_ok(&["images", "--filter", "reference=demo"])
        .contains("localhost/demo"));
    // ps: the local filters (a name is a regular expression), --last N the newest N.
    service.podman_ok(&["create", "--name", "older", "demo", "true"]);
    service.podman_ok(&["create", "--name", "newer-one", "demo", "true"]);
    let names = |args: &[&str]| {
        service.podman_ok(&[&["ps", "-a", "--format", "{{.Names}}"][..], args].concat())
    };
    assert_eq!(names(&["--last", "1"]), "newer-one\n");
    assert_eq!(names(&["--filter", "name=^older$"]), "older\n");
    assert_eq!(names(&["--filter", "ancestor=nosuch"]), "");
    assert_eq!(
        names(&["--filter", "ancestor=demo", "--last", "1"]),
        "newer-one\n"
    );
    let out = service.podman_out(&["ps", "-a", "--filter", "colour=red"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("invalid filter"),
        "{out:?}"
    );
    service.podman_ok(&["rm", "older", "newer-one"]);
    // rm -v takes the anonymous volumes (podman's clients say `volumes`, not Docker's `v`),
    // --depend the containers that need it first, --ignore an unknown container.
    service.podman_ok(&["create", "--name", "anon", "-v", "/data", "demo", "true"]);
    assert_eq!(service.rpod.ok(&["volume", "ls", "-q"]).lines().count(), 1);
    assert_eq!(service.podman_ok(&["rm", "-v", "anon"]), "anon\n");
    assert_eq!(service.rpod.ok(&["volume", "ls", "-q"]), "");
    // So does run --rm's removal, as podman's.
    service.podman_ok(&["run", "--rm", "-v", "/data", "demo", "true"]);
    assert_eq!(service.rpod.ok(&["volume", "ls", "-q"]), "");
    let base = service.podman_ok(&["create", "--name", "base", "demo", "true"]);
    let needy = service.podman_ok(&["create", "--requires", "base", "demo", "true"]);
    assert_eq!(
        service.podman_ok(&["rm", "--depend", "base"]),
        format!("{}{}", needy, base)
    );
    assert_eq!(service.podman_ok(&["rm", "--ignore", "base"]), "");
}

/// A resize of a running container without a terminal is taken without a word, as Docker's
/// and podman's services take it (docker-py's `resize` raised on rpod's refusal); one of a
/// container that is not running is a conflict, not a failure to open the monitor's files.
#[test]
fn resizes_without_a_terminal_pass_and_of_stopped_containers_conflict() {
    let service = Service::start();
    let id = service.docker_ok(&["run", "-d", "demo", "sleep", "100"]);
    let stopped = service.docker_ok(&["create", "-t", "demo", "true"]);
    for prefix in ["", "/v4.3.1/libpod"] {
        let resize = |id: &str| {
            service.http(
                "POST",
                &format!("{prefix}/containers/{}/resize?h=20&w=80", id.trim()),
                b"",
            )
        };
        let reply = resize(&id);
        assert!(
            matches!(reply.status, 200 | 201),
            "{prefix}: {}",
            reply.head
        );
        let reply = resize(&stopped);
        assert_eq!(reply.status, 409, "{prefix}: {}", reply.head);
        let body = String::from_utf8_lossy(&reply.body);
        assert!(body.contains("is not running"), "{body}");
    }
    service.docker_ok(&["rm", "-f", id.trim(), stopped.trim()]);
}

/// podman-remote's `--uidmap` and `--userns auto` (ignored by the service before: the
/// container ran as the host's root).
#[test]
fn podman_remote_runs_containers_in_user_namespaces() {
    let rpod = Rpod::with_image("crun");
    // The containers' root users must get through the store's directory.
    std::fs::set_permissions(rpod.dir.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
    let subuid = rpod.dir.path().join("subuid");
    std::fs::write(&subuid, "containers:400000:100000\n").unwrap();
    let config = format!(
        "{}[storage]\nsubuid_file = {subuid:?}\nsubgid_file = {subuid:?}\n",
        common::NO_NETWORK_CONFIG
    );
    rpod.set_config(&config);
    let service = Service::start_with(rpod, &["--time", "0"]);
    let maps = |args: &[&str]| {
        let mut full = vec!["run", "--rm"];
        full.extend_from_slice(args);
        full.extend(["demo", "cat", "/proc/self/uid_map", "/proc/self/gid_map"]);
        service
            .podman_ok(&full)
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        maps(&["--uidmap", "0:231072:65536", "--gidmap", "0:331072:65536"]),
        ["0 231072 65536", "0 331072 65536"]
    );
    assert_eq!(
        maps(&["--userns", "auto:size=2000"]),
        ["0 400000 2000", "0 400000 2000"]
    );
    // A pod's, which its containers join (the range the removed container had is free).
    service.podman_ok(&[
        "pod",
        "create",
        "--name",
        "mapped",
        "--userns",
        "auto:size=3000",
    ]);
    assert_eq!(
        maps(&["--pod", "mapped"]),
        ["0 400000 3000", "0 400000 3000"]
    );
    service.podman_ok(&["pod", "rm", "-f", "mapped"]);
    // kube play's.
    let yaml = service.rpod.dir.path().join("pod.yaml");
    std::fs::write(&yaml, "apiVersion: v1\nkind: Pod\nmetadata:\n  name: kube\nspec:\n  terminationGracePeriodSeconds: 0\n  containers:\n  - name: c\n    image: localhost/demo\n    imagePullPolicy: Never\n    command: [sleep, \"100\"]\n").unwrap();
    let file = yaml.display().to_string();
    service.podman_ok(&["kube", "play", "--userns", "auto:size=1000", &file]);
    let uid_map = service.podman_ok(&["exec", "kube-c", "cat", "/proc/self/uid_map"]);
    assert_eq!(
        uid_map.split_whitespace().collect::<Vec<_>>(),
        ["0", "400000", "1000"]
    );
    service.podman_ok(&["kube", "down", &file]);
    // A build's RUN steps in the mappings podman-remote sends (`idmappingoptions`); the
    // image keeps the container's IDs.
    let ctx = service.rpod.dir.path().join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("Containerfile"),
        "FROM demo\nRUN cat /proc/self/uid_map > /map && mkdir /owned && chown 7:7 /owned\n",
    )
    .unwrap();
    service.podman_ok(&[
        "build",
        "-q",
        "--userns-uid-map",
        "0:231072:65536",
        "--userns-gid-map",
        "0:231072:65536",
        "-t",
        "remote-mapped",
        &ctx.display().to_string(),
    ]);
    let shown = service.rpod.ok(&[
        "run",
        "--rm",
        "remote-mapped",
        "sh",
        "-c",
        "cat /map; stat -c %u:%g /owned",
    ]);
    assert_eq!(
        shown.split_whitespace().collect::<Vec<_>>(),
        ["0", "231072", "65536", "7:7"]
    );
    let out = service.podman_out(&["run", "--rm", "--userns", "keep-id", "demo", "true"]);
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not supported"),
        "{out:?}"
    );
}

#[test]
fn podman_remote_manages_pods() {
    let service = Service::start();
    let id = service.podman_ok(&["pod", "create", "--name", "team", "--label", "a=b"]);
    let id = id.trim();
    assert_eq!(id.len(), 64, "{id}");
    let listed = service.podman_ok(&["pod", "ps", "--format", "{{.Name}} {{.Status}} {{.Labels}}"]);
    assert_eq!(listed.trim(), "team Created map[a:b]");
    // The first container starts the infra container, and its output is all there.
    let out = service.podman_ok(&["run", "--rm", "--pod", "team", "demo", "hostname"]);
    assert_eq!(out, "team\n");
    // `--pod new:NAME` makes the pod first, its user namespace mode `default` (refused
    // before); `--conmon-pidfile` is written on the service's host (refused before).
    let monitor_pid = service.rpod.dir.path().join("monitor.pid");
    let out = service.podman_ok(&[
        "run",
        "--rm",
        "--pod",
        "new:fresh",
        "--conmon-pidfile",
        &monitor_pid.display().to_string(),
        "demo",
        "hostname",
    ]);
    assert_eq!(out, "fresh\n");
    let pid = std::fs::read_to_string(&monitor_pid).unwrap();
    assert!(pid.trim().parse::<u32>().is_ok_and(|p| p > 1), "{pid:?}");
    service.podman_ok(&["pod", "rm", "-f", "fresh"]);
    // It would end with 3 on the stop signal: -t 0 kills it at once instead.
    let member = "trap 'exit 3' TERM; while :; do sleep 0.1; done";
    service.podman_ok(&[
        "run", "-d", "--name", "member", "--pod", "team", "demo", "sh", "-c", member,
    ]);
    let members = service.podman_ok(&["ps", "--pod", "--format", "{{.Names}} {{.PodName}}"]);
    let mut members: Vec<&str> = members.lines().collect();
    members.sort();
    assert_eq!(
        members,
        [&format!("{}-infra team", &id[..12]), "member team"]
    );
    assert_eq!(
        service
            .podman_ok(&[
                "pod",
                "inspect",
                "--format",
                "{{.State}} {{.NumContainers}}",
                "team"
            ])
            .trim(),
        "Running 2"
    );
    // An init container (`--init-ctr once`) runs at the pod's next start, then goes.
    service.podman_ok(&[
        "create",
        "--pod",
        "team",
        "--init-ctr",
        "once",
        "--name",
        "setup",
        "demo",
        "true",
    ]);
    assert_eq!(
        service
            .podman_ok(&["pod", "stop", "-t", "0", "team"])
            .trim(),
        id
    );
    assert_eq!(service.rpod.inspect("member", "{{.State.ExitCode}}"), "137");
    assert_eq!(
        service
            .podman_ok(&["pod", "ps", "--format", "{{.Status}}"])
            .trim(),
        "Exited"
    );
    assert_eq!(service.podman_ok(&["pod", "start", "team"]).trim(), id);
    assert_eq!(
        service
            .podman_out(&["container", "exists", "setup"])
            .status
            .code(),
        Some(1)
    );
    // Its processes and readings, as the command line shows them.
    let top = service.podman_ok(&["pod", "top", "team", "pid,args"]);
    assert!(top.contains("/catatonit -P"), "{top}");
    assert!(top.contains("while :; do sleep 0.1; done"), "{top}");
    let stats = service.podman_ok(&[
        "pod",
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}}",
        "team",
    ]);
    assert!(stats.lines().any(|l| l == "member"), "{stats}");
    // The pod's units, the member's bound to the pod's.
    let units = service.podman_ok(&["generate", "systemd", "--name", "team"]);
    assert!(units.contains("# pod-team.service\n"), "{units}");
    assert!(units.contains("BindsTo=pod-team.service\n"), "{units}");
    assert_eq!(service.podman_ok(&["pod", "kill", "team"]).trim(), id);
    // Nothing runs: a row per container all the same, without readings (podman 4.3 prints
    // a header line even for this template).
    let stats = service.podman_ok(&[
        "pod",
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}} {{.CPU}} {{.MemUsage}}",
        "team",
    ]);
    assert!(stats.lines().any(|l| l == "member -- -- / --"), "{stats}");
    assert!(
        stats
            .lines()
            .filter(|l| !l.starts_with("NAME "))
            .all(|l| l.ends_with(" -- -- / --")),
        "{stats}"
    );
    assert!(service
        .podman_out(&["pod", "exists", "team"])
        .status
        .success());
    assert_eq!(service.podman_ok(&["pod", "rm", "team"]).trim(), id);
    assert_eq!(
        service.podman_out(&["pod", "exists", "team"]).status.code(),
        Some(1)
    );
    let out = service.podman_out(&["pod", "rm", "team"]);
    assert!(!out.status.success());
    // What a pod gives its containers: volumes, devices, sysctls, its /dev/shm size; its
    // security options are its infra container's.
    service.podman_ok(&[
        "pod",
        "create",
        "--name",
        "kitted",
        "-v",
        "kit:/kit",
        "--device",
        "/dev/null:/dev/xnull",
        "--sysctl",
        "kernel.msgmax=4096",
        "--shm-size",
        "10m",
        "--security-opt",
        "no-new-privileges",
    ]);
    let script = "ls -d /kit; stat -c %t,%T /dev/xnull; cat /proc/sys/kernel/msgmax; \
                  df -k /dev/shm | tail -1 | awk '{print $2}'";
    assert_eq!(
        service.podman_ok(&["run", "--rm", "--pod", "kitted", "demo", "sh", "-c", script]),
        "/kit\n1,3\n4096\n10240\n"
    );
    assert_eq!(
        service.podman_ok(&["pod", "inspect", "--format", "{{.SecurityOpts}}", "kitted"]),
        "[no-new-privileges]\n"
    );
    service.podman_ok(&["pod", "rm", "-f", "kitted"]);
    // A device limit for the whole pod, in its cgroup by the device's numbers.
    let block = some_block_device();
    if let Some((device, numbers)) = block {
        let read = format!("{device}:1mb");
        service.podman_ok(&[
            "pod",
            "create",
            "--name",
            "slow",
            "--device-read-bps",
            &read,
        ]);
        let cgroup = service.podman_ok(&["pod", "inspect", "--format", "{{.CgroupPath}}", "slow"]);
        let file = std::path::Path::new("/sys/fs/cgroup/blkio")
            .join(cgroup.trim().trim_start_matches('/'))
            .join("blkio.throttle.read_bps_device");
        if let Ok(text) = std::fs::read_to_string(&file) {
            assert_eq!(text.trim(), format!("{numbers} 1048576"));
        }
        service.podman_ok(&["pod", "rm", "-f", "slow"]);
    }
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such pod"));
    assert_eq!(service.podman_ok(&["ps", "-aq"]), "");
    // A pod's limits go to its cgroup, which its containers run in.
    let id = service.podman_ok(&[
        "pod",
        "create",
        "--name",
        "bounded",
        "--cpus",
        "0.5",
        "--memory",
        "32m",
        "--cpu-shares",
        "300",
    ]);
    let cgroup = format!("/rpod/{}", id.trim());
    let file = |controller: &str, name: &str| {
        std::fs::read_to_string(format!("/sys/fs/cgroup/{controller}{cgroup}/{name}"))
            .unwrap_or_else(|e| panic!("{controller} {name}: {e}"))
            .trim()
            .to_string()
    };
    assert_eq!(file("cpu", "cpu.cfs_quota_us"), "50000");
    assert_eq!(file("cpu", "cpu.shares"), "300");
    assert_eq!(
        file("memory", "memory.limit_in_bytes"),
        (32u64 << 20).to_string()
    );
    let inspected =
        service.podman_ok(&["pod", "inspect", "--format", "{{.CgroupPath}}", "bounded"]);
    assert_eq!(inspected.trim(), cgroup);
    let out = service.podman_out(&[
        "run",
        "--rm",
        "--pod",
        "bounded",
        "demo",
        "sh",
        "-c",
        "x=$(head -c 60000000 /dev/zero | tr '\\0' a); echo survived",
    ]);
    assert_eq!(out.status.code(), Some(137), "{out:?}");
    service.podman_ok(&["pod", "rm", "-f", "bounded"]);
    assert!(!std::path::Path::new(&format!("/sys/fs/cgroup/memory{cgroup}")).exists());
    // A device limit needs a block device.
    let out = service.podman_out(&["pod", "create", "--device-read-bps", "/dev/zero:1mb"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not a block device"),
        "{out:?}"
    );
    assert_eq!(service.podman_ok(&["pod", "ps", "-q"]), "");
    // A member that fails to start is named in podman-remote's error (a pod's conflict is
    // read as podman's report: a bare error printed as an empty `Error: `); nothing
    // running is nothing to kill or pause.
    let pod = service.podman_ok(&["pod", "create", "--name", "failing"]);
    service.podman_ok(&[
        "create",
        "--pod",
        "failing",
        "--name",
        "missing",
        "demo",
        "/nonexistent",
    ]);
    let out = service.podman_out(&["pod", "start", "failing"]);
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("missing: ") && err.contains("/nonexistent"),
        "{err}"
    );
    assert_eq!(service.podman_ok(&["pod", "kill", "failing"]), pod);
    assert_eq!(service.podman_ok(&["pod", "pause", "failing"]), pod);
    service.podman_ok(&["pod", "rm", "-f", "failing"]);
}

#[test]
fn podman_remote_terminals_get_their_size_and_detach_keys_work() {
    let service = Service::start();
    // podman-remote's `run -it` sends the terminal's first size as a resize before the
    // start (its SpecGenerator has no console size). rpod-monitor acknowledges it before
    // the start; conmon (the suite's second pass) applies it when it reads its control
    // FIFO, and a loaded machine can start the process before that (a CI run did;
    // busybox's `stty size` fails on 0x0). So the process waits for the size, which must
    // come (rpod-oci's tests show rpod-monitor's size is there at once).
    size_seen_on_a_terminal(
        service.podman(&[
            "run",
            "-it",
            "--rm",
            "demo",
            "sh",
            "-c",
            "until stty size >/dev/null 2>&1; do sleep 0.05; done; stty size; exit 5",
        ]),
        (22, 77),
        5,
    );
    service.podman_ok(&["run", "-dit", "--name", "box", "demo", "sh"]);
    for _ in 0..3 {
        size_seen_on_a_terminal(
            service.podman(&["exec", "-it", "box", "sh", "-c", "stty size; exit 6"]),
            (21, 71),
            6,
        );
    }
    // Attach, type a command, detach with the keys: the container goes on.
    // podman-remote 4.3.1 reports a detach as an error, against podman's own service too.
    let client = service.podman(&["attach", "--detach-keys", "ctrl-x,y", "box"]);
    attach_type_and_detach(client, 125, "detached from container");
    assert_eq!(
        service
            .podman_ok(&["inspect", "-f", "{{.State.Status}}", "box"])
            .trim(),
        "running"
    );
}

#[test]
fn events_from_the_cli_and_the_api_are_streamed_and_kept() {
    let service = Service::start();
    let mut follower = service
        .docker(&[
            "events",
            "--filter",
            "type=container",
            "--format",
            "{{.Action}} {{.Actor.Attributes.name}}",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    service.rpod.fails(
        &["run", "--name", "from-cli", "demo", "sh", "-c", "exit 3"],
        3,
    );
    service.docker_ok(&["run", "-d", "--name", "from-api", "demo", "sleep", "1000"]);
    service.docker_ok(&["pause", "from-api"]);
    service.docker_ok(&["unpause", "from-api"]);
    service.docker_ok(&["kill", "from-api"]);
    service.docker_ok(&["rm", "from-api"]);
    let mut seen = String::new();
    let mut stdout = follower.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    std::thread::sleep(Duration::from_millis(800));
    follower.kill().unwrap();
    follower.wait().unwrap();
    seen.push_str(&reader.join().unwrap());
    for expected in [
        "create from-cli",
        "start from-cli",
        "die from-cli",
        "create from-api",
        "start from-api",
        "pause from-api",
        "unpause from-api",
        "kill from-api",
        "die from-api",
        "destroy from-api",
    ] {
        assert!(
            seen.lines().any(|l| l == expected),
            "no {expected:?} in:\n{seen}"
        );
    }
    // The past, with its exit codes, to a client that asks for it.
    let past = service.docker_past_events(
        &["event=die"],
        "{{.Actor.Attributes.name}} {{.Actor.Attributes.containerExitCode}}",
    );
    assert!(past.lines().any(|l| l == "from-cli 3"), "{past}");
    // podman-remote passes `--since 30m --until 0s` on as written; podman's service reads
    // them as durations back from now. They were refused, and podman-remote crashed on the
    // refusal.
    let paused = service.podman_ok(&[
        "events",
        "--since",
        "30m",
        "--until",
        "0s",
        "--filter",
        "event=pause",
        "--format",
        "{{.Name}} {{.Status}}",
    ]);
    assert_eq!(paused, "from-api pause\n");
    // Every event podman-remote is given carries a containerExitCode, without which it
    // crashed on it; an `update` event, which it cannot decode, is not given to it.
    service.docker_ok(&["run", "-d", "--name", "tuned", "demo", "sleep", "1000"]);
    service.docker_ok(&["update", "--cpus", "0.5", "tuned"]);
    let all = service.podman_ok(&[
        "events",
        "--since",
        "30m",
        "--until",
        "0s",
        "--format",
        "{{.Type}} {{.Status}} {{.Name}}",
    ]);
    assert!(all.contains("container start tuned"), "{all}");
    assert!(!all.lines().any(|l| l.contains(" update ")), "{all}");
    let updates = service.remote_ok(&[
        "events",
        "--stream=false",
        "--filter",
        "event=update",
        "--format",
        "{{.Name}}",
    ]);
    assert_eq!(updates, "tuned\n");
    service.docker_ok(&["rm", "-f", "tuned"]);
    let reply = service.http(
        "GET",
        "/events?filters=%7B%22nosuch%22%3A%5B%22x%22%5D%7D",
        b"",
    );
    assert_eq!(reply.status, 400);
}

/// The Python of the virtualenv with docker-py that scripts/install-deps.sh makes.
fn docker_py_python() -> PathBuf {
    if let Ok(path) = std::env::var("RPOD_DOCKER_PY") {
        return PathBuf::from(path);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/docker-py/bin/python")
}

#[test]
fn docker_py_drives_the_service() {
    let python = docker_py_python();
    assert!(
        python.exists(),
        "{} not found: run scripts/install-deps.sh (it installs docker-py in a virtualenv)",
        python.display()
    );
    let service = Service::start();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/docker_py_check.py");
    let out = Command::new(&python)
        .arg(script)
        .arg(format!("unix://{}", service.socket.display()))
        .arg("demo")
        .output()
        .unwrap();
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "ok",
        "docker-py check failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A docker-compose project (docker-compose 1.29, Debian's, a docker-py client) over the
/// service: a network and a volume of the project's own, a health check that the other
/// service waits for, names between containers (the network's DNS and a Docker link),
/// a published port, exec, a one-off `run`, stop and down.
#[test]
fn docker_compose_runs_a_project() {
    let compose = Path::new("/usr/bin/docker-compose");
    assert!(
        compose.exists(),
        "docker-compose not found: run scripts/install-deps.sh (it installs Debian's)"
    );
    let service = Service::start();
    let port = free_port();
    let dir = service.rpod.dir.path().join("project");
    std::fs::create_dir(&dir).unwrap();
    let file = dir.join("docker-compose.yml");
    std::fs::write(
        &file,
        format!(
            r#"version: "3.8"
services:
  db:
    image: localhost/demo:latest
    command: ["sh", "-c", "mkdir -p /www && echo hello-from-db > /www/index.html && exec httpd -f -p 8080 -h /www"]
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "-", "http://localhost:8080/"]
      interval: 1s
      retries: 30
    volumes:
      - data:/data
  web:
    image: localhost/demo:latest
    command: ["sh", "-c", "wget -q -O - http://db:8080/ && wget -q -O - http://database:8080/ | sed s/^/via-link-/ && exec sleep 1000"]
    depends_on:
      db:
        condition: service_healthy
    links:
      - db:database
    ports:
      - "{port}:8080"
    volumes:
      - type: tmpfs
        target: /cache
  init:
    image: localhost/demo:latest
    command: ["sh", "-c", "echo init done"]
  side:
    image: localhost/demo:latest
    network_mode: "service:db"
    command: ["sh", "-c", "wget -q -O - http://localhost:8080/ | sed s/^/side-/ && exec sleep 1000"]
    depends_on:
      init:
        condition: service_completed_successfully
      db:
        condition: service_healthy
volumes:
  data: {{}}
networks:
  default:
    driver_opts:
      com.docker.network.bridge.name: rpodt120
    ipam:
      config:
        - subnet: 10.93.120.0/24
"#
        ),
    )
    .unwrap();
    // A hung compose (one waiting for a health verdict that never comes) fails the test
    // instead of hanging it.
    let run = |args: &[&str]| -> Output {
        Command::new("timeout")
            .arg("300")
            .arg(compose)
            .args(["-p", "rpodcmp", "-f"])
            .arg(&file)
            .args(args)
            .env(
                "DOCKER_HOST",
                format!("unix://{}", service.socket.display()),
            )
            .env("DOCKER_CONFIG", service.docker_config.path())
            .env_remove("DOCKER_API_VERSION")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let ok = |args: &[&str]| succeeded("docker-compose", args, run(args));
    // rpod-monitor runs health checks on schedule; with conmon they run when asked, so
    // here a helper asks for db's while the test runs.
    let on_conmon = common::on_conmon();
    let finished = std::sync::atomic::AtomicBool::new(false);
    struct SetOnDrop<'a>(&'a std::sync::atomic::AtomicBool);
    impl Drop for SetOnDrop<'_> {
        fn drop(&mut self) {
            self.0.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }
    std::thread::scope(|scope| {
        let _stop_checks = SetOnDrop(&finished);
        if on_conmon {
            scope.spawn(|| {
                while !finished.load(std::sync::atomic::Ordering::SeqCst) {
                    let _ = service
                        .rpod
                        .command(&["healthcheck", "run", "rpodcmp_db_1"])
                        .stdout(Stdio::null())
                        .stderr(Stdio::null())
                        .status();
                    std::thread::sleep(Duration::from_millis(300));
                }
            });
        }
        ok(&["up", "-d"]);
        // One container per service, numbered 1: compose numbers a service's containers from
        // a listing filtered by several labels, which must all match.
        let ps = ok(&["ps"]);
        let rows: Vec<&str> = ps.lines().filter(|l| l.starts_with("rpodcmp_")).collect();
        assert_eq!(rows.len(), 4, "{ps}");
        let row = |name: &str| rows.iter().find(|r| r.starts_with(name)).copied();
        assert!(
            row("rpodcmp_db_1 ").is_some_and(|r| r.contains("Up (healthy)")),
            "{ps}"
        );
        assert!(
            row("rpodcmp_init_1 ").is_some_and(|r| r.contains("Exit 0")),
            "{ps}"
        );
        assert!(
            row("rpodcmp_web_1 ").is_some_and(|r| r.contains(&format!("0.0.0.0:{port}->8080/tcp"))),
            "{ps}"
        );
        wait_until("web fetched from db by name and by link", || {
            let logs = ok(&["logs", "--no-color", "web"]);
            logs.contains("| hello-from-db") && logs.contains("| via-link-hello-from-db")
        });
        // side shares db's network namespace (and started after init ended well).
        wait_until("side fetched from db on localhost", || {
            ok(&["logs", "--no-color", "side"]).contains("| side-hello-from-db")
        });
        assert!(ok(&["exec", "-T", "web", "mount"]).contains("tmpfs on /cache type tmpfs"));
        let hosts = ok(&["exec", "-T", "web", "cat", "/etc/hosts"]);
        assert!(
            hosts
                .lines()
                .any(|l| l.starts_with("10.93.120.") && l.contains("\tdatabase rpodcmp_db_1")),
            "{hosts}"
        );
        // Again: nothing changed (the network's options are the file's, the images' and
        // containers' configs as compose left them).
        let again = run(&["up", "-d"]);
        let said = String::from_utf8_lossy(&again.stderr);
        assert!(
            again.status.success() && said.contains("rpodcmp_web_1 is up-to-date"),
            "{said}"
        );
        // A changed service is made again (compose renames the old container, reads its
        // image's `ContainerConfig`, and removes the old one).
        let text = std::fs::read_to_string(&file).unwrap();
        std::fs::write(
            &file,
            text.replace("sed s/^/via-link-/", "sed s/^/via-link2-/"),
        )
        .unwrap();
        let again = run(&["up", "-d"]);
        let said = String::from_utf8_lossy(&again.stderr);
        assert!(
            again.status.success() && said.contains("Recreating rpodcmp_web_1"),
            "{said}"
        );
        wait_until("the new web fetched by link", || {
            ok(&["logs", "--no-color", "web"]).contains("| via-link2-hello-from-db")
        });
        assert_eq!(
            service
                .rpod
                .ok(&["ps", "-a", "--format", "{{.Names}}", "--sort", "names"]),
            "rpodcmp_db_1\nrpodcmp_init_1\nrpodcmp_side_1\nrpodcmp_web_1\n"
        );
        // A one-off container gets links to the service's running containers.
        assert_eq!(
            ok(&[
                "run",
                "--rm",
                "-T",
                "web",
                "wget",
                "-q",
                "-O",
                "-",
                "http://database:8080/"
            ]),
            "hello-from-db\n"
        );
        // The docker CLI's --link (sent in HostConfig.Links and in the network's endpoint).
        assert_eq!(
            service.docker_ok(&[
                "run",
                "--rm",
                "--network",
                "rpodcmp_default",
                "--link",
                "rpodcmp_db_1:dbx",
                "demo",
                "wget",
                "-q",
                "-O",
                "-",
                "http://dbx:8080/",
            ]),
            "hello-from-db\n"
        );
        service.docker_ok(&[
            "create",
            "--name",
            "linked",
            "--network",
            "rpodcmp_default",
            "--link",
            "rpodcmp_db_1:dbx",
            "demo",
            "true",
        ]);
        assert_eq!(
            service
                .docker_ok(&[
                    "inspect",
                    "--format",
                    "{{json .HostConfig.Links}}",
                    "linked"
                ])
                .trim(),
            r#"["/rpodcmp_db_1:/linked/dbx"]"#
        );
        let refused = service.docker_out(&[
            "run",
            "--rm",
            "--network",
            "none",
            "--link",
            "rpodcmp_db_1:dbx",
            "demo",
            "true",
        ]);
        assert!(
            String::from_utf8_lossy(&refused.stderr).contains("links need a bridged network"),
            "{refused:?}"
        );
        service.docker_ok(&[
            "run",
            "-d",
            "--name",
            "linker",
            "--network",
            "rpodcmp_default",
            "--link",
            "rpodcmp_db_1:dbx",
            "demo",
            "sleep",
            "100",
        ]);
        ok(&["stop", "-t", "0"]);
        // A network connected while its linked container is stopped: the hosts file is
        // still rewritten, that link left out.
        service.docker_ok(&[
            "network",
            "create",
            "--subnet",
            "10.93.121.0/24",
            "-o",
            "com.docker.network.bridge.name=rpodt121",
            "second",
        ]);
        service.docker_ok(&["network", "connect", "second", "linker"]);
        let hosts = service.docker_ok(&["exec", "linker", "cat", "/etc/hosts"]);
        assert!(
            hosts.contains("10.93.121.") && !hosts.contains("dbx"),
            "{hosts}"
        );
        service.docker_ok(&["rm", "-f", "linker"]);
        service.docker_ok(&["network", "rm", "second"]);
        // A linked container must run, as Docker's.
        let refused = service.docker_out(&["start", "linked"]);
        assert!(
            String::from_utf8_lossy(&refused.stderr).contains("it is not running"),
            "{refused:?}"
        );
        service.docker_ok(&["rm", "linked"]);
        let ps = ok(&["ps"]);
        assert!(
            ps.lines().filter(|l| l.contains(" Exit ")).count() == 4 && !ps.contains("->8080"),
            "stopped containers publish nothing:\n{ps}"
        );
        // down removes the containers at once, db while side (in db's network namespace)
        // goes: db's removal waits for side's.
        ok(&["down", "-v"]);
        assert_eq!(service.rpod.ok(&["ps", "-a", "-q"]), "");
        assert!(!service
            .rpod
            .ok(&["volume", "ls", "-q"])
            .contains("rpodcmp_data"));
        assert!(!service
            .rpod
            .ok(&["network", "ls", "-q"])
            .contains("rpodcmp_default"));
    });
}

/// Docker's link variables, which it sets only on its default bridge: the linked
/// container's name, ports and environment, for a container on rpod's default network
/// (the one Docker's `bridge` names); none on a user network, where /etc/hosts alone
/// serves the link.
#[test]
fn docker_links_on_the_default_network_set_dockers_variables() {
    let rpod = Rpod::with_config(
        "crun",
        "[network]\ndefault_network = \"def130\"\ndefault_subnet = \"10.93.130.0/24\"\n",
    );
    rpod.ok(&["import", &busybox_tarball().display().to_string(), "demo"]);
    for (name, n) in [("def130", 130), ("lab131", 131)] {
        rpod.lab_network(name, n);
    }
    let service = Service::start_with(rpod, &["--time", "0"]);
    // podman-remote's `--network bridge --ip`: the address on the default network, which
    // it names `default` (it was refused: "unable to find network with name or ID default").
    let address = service.podman_ok(&[
        "run",
        "--rm",
        "--network",
        "bridge",
        "--ip",
        "10.93.130.77",
        "demo",
        "ip",
        "-4",
        "addr",
        "show",
        "eth0",
    ]);
    assert!(address.contains("inet 10.93.130.77/24"), "{address}");
    service.docker_ok(&[
        "run",
        "-d",
        "--name",
        "db",
        "--network",
        "bridge",
        "-e",
        "POSTGRES_DB=app",
        "--expose",
        "5432",
        "--expose",
        "53/udp",
        "demo",
        "sleep",
        "100",
    ]);
    service.docker_ok(&["network", "connect", "lab131", "db"]);
    let address_of_db = || {
        service
            .docker_ok(&[
                "inspect",
                "-f",
                "{{.NetworkSettings.Networks.bridge.IPAddress}}",
                "db",
            ])
            .trim()
            .to_string()
    };
    let address = address_of_db();
    assert!(address.starts_with("10.93.130."), "{address}");
    let env = service.docker_ok(&[
        "run",
        "--rm",
        "--name",
        "web",
        "--link",
        "db:main-db",
        "-e",
        "MAIN_DB_ENV_POSTGRES_DB=mine",
        "demo",
        "env",
    ]);
    let mut links: Vec<&str> = env.lines().filter(|l| l.starts_with("MAIN_DB_")).collect();
    links.sort();
    let mut expected = [
        "MAIN_DB_ENV_POSTGRES_DB=mine".to_string(),
        "MAIN_DB_NAME=/web/main-db".to_string(),
        // The first port in Docker's order: tcp ones before the others.
        format!("MAIN_DB_PORT=tcp://{address}:5432"),
        format!("MAIN_DB_PORT_5432_TCP=tcp://{address}:5432"),
        format!("MAIN_DB_PORT_5432_TCP_ADDR={address}"),
        "MAIN_DB_PORT_5432_TCP_PORT=5432".to_string(),
        "MAIN_DB_PORT_5432_TCP_PROTO=tcp".to_string(),
        format!("MAIN_DB_PORT_53_UDP=udp://{address}:53"),
        format!("MAIN_DB_PORT_53_UDP_ADDR={address}"),
        "MAIN_DB_PORT_53_UDP_PORT=53".to_string(),
        "MAIN_DB_PORT_53_UDP_PROTO=udp".to_string(),
    ];
    expected.sort();
    assert_eq!(links, expected, "{env}");
    // A container exposing thousands of ports: variables for the first 1024 only (four
    // each for all would be an environment too large to start a process with).
    service.docker_ok(&[
        "run",
        "-d",
        "--name",
        "many",
        "--expose",
        "1000-3999",
        "demo",
        "sleep",
        "100",
    ]);
    let counted = service.docker_ok(&[
        "run",
        "--rm",
        "--link",
        "many:m",
        "demo",
        "sh",
        "-c",
        "env | grep -c '^M_PORT_.*_ADDR='",
    ]);
    assert_eq!(counted, "1024\n");
    // An exec's environment has them too (it starts from the container's).
    service.docker_ok(&[
        "run",
        "-d",
        "--name",
        "web2",
        "--link",
        "db:main-db",
        "demo",
        "sleep",
        "100",
    ]);
    let env = service.docker_ok(&["exec", "web2", "env"]);
    assert!(
        env.lines().any(|l| l == "MAIN_DB_NAME=/web2/main-db"),
        "{env}"
    );
    // db restarts with another address (its old one taken meanwhile): web2's hosts file
    // follows, as Docker's does.
    service.docker_ok(&["stop", "-t", "0", "db"]);
    service.docker_ok(&["run", "-d", "--name", "filler", "demo", "sleep", "100"]);
    service.docker_ok(&["start", "db"]);
    let moved = address_of_db();
    assert_ne!(moved, address);
    let hosts = service.docker_ok(&["exec", "web2", "cat", "/etc/hosts"]);
    assert!(
        hosts
            .lines()
            .any(|l| l.starts_with(&format!("{moved}\t")) && l.contains("main-db")),
        "{hosts}"
    );
    // On a user network: the name in /etc/hosts, no variables.
    let out = service.docker_ok(&[
        "run",
        "--rm",
        "--network",
        "lab131",
        "--link",
        "db:main-db",
        "demo",
        "sh",
        "-c",
        "env | grep -c ^MAIN_DB_; grep -c main-db /etc/hosts",
    ]);
    assert_eq!(out, "0\n1\n");
    // Docker's clients name the default network `bridge`: inspect (its gateway), and
    // disconnect and connect by that name reach rpod's default network, and containers
    // are on it by that name.
    assert_eq!(
        service
            .docker_ok(&[
                "network",
                "inspect",
                "-f",
                "{{.Name}} {{(index .IPAM.Config 0).Gateway}}",
                "bridge"
            ])
            .trim(),
        "bridge 10.93.130.1"
    );
    let networks = || {
        service
            .docker_ok(&[
                "inspect",
                "-f",
                "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}",
                "db",
            ])
            .trim()
            .to_string()
    };
    assert_eq!(
        service.docker_ok(&["inspect", "-f", "{{.HostConfig.NetworkMode}}", "db"]),
        "bridge\n"
    );
    service.docker_ok(&["network", "disconnect", "bridge", "db"]);
    assert_eq!(networks(), "lab131");
    service.docker_ok(&["network", "connect", "bridge", "db"]);
    assert_eq!(networks(), "bridge lab131");
    // In listings, and by its own name too. The docker CLI joins the
    // listing's networks in its map's (random) order: compare them sorted.
    let listed = service.docker_ok(&[
        "ps",
        "--filter",
        "network=bridge",
        "--filter",
        "name=^db$",
        "--format",
        "{{.Names}} {{.Networks}}",
    ]);
    let (name, listed_networks) = listed.trim().split_once(' ').unwrap_or_default();
    let mut listed_networks: Vec<&str> = listed_networks.split(',').collect();
    listed_networks.sort_unstable();
    assert_eq!((name, listed_networks), ("db", vec!["bridge", "lab131"]));
    // By the network's ID, as Docker's.
    let lab_id = service.docker_ok(&["network", "inspect", "-f", "{{.Id}}", "lab131"]);
    let filter = format!("network={}", &lab_id.trim()[..12]);
    let listed = service.docker_ok(&["ps", "--filter", &filter, "--format", "{{.Names}}"]);
    assert_eq!(listed, "db\n");
    assert_eq!(
        service.docker_ok(&["network", "inspect", "-f", "{{.Name}}", "def130"]),
        "bridge\n"
    );
    // Predefined, as Docker's: not removed by any of its names.
    for name in ["bridge", "def130"] {
        let out = service.docker_out(&["network", "rm", name]);
        assert!(
            String::from_utf8_lossy(&out.stderr)
                .contains("is a pre-defined network and cannot be removed"),
            "{out:?}"
        );
    }
    // libpod's API refuses it in podman's words, forced too.
    let out = service.podman_out(&["network", "rm", "-f", "def130"]);
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("default network def130 cannot be removed"),
        "{out:?}"
    );
    assert_eq!(networks(), "bridge lab131");
}

#[test]
fn bind_and_tmpfs_mounts_through_both_apis() {
    let service = Service::start();
    let host = tempfile::tempdir().unwrap();
    std::fs::write(host.path().join("in"), "from the host\n").unwrap();
    let dir = host.path().display().to_string();
    let bind = format!("{dir}:/data");
    assert_eq!(
        service.docker_ok(&[
            "run",
            "--rm",
            "-v",
            &bind,
            "demo",
            "sh",
            "-c",
            "cat /data/in; echo api > /data/out"
        ]),
        "from the host\n"
    );
    assert_eq!(
        std::fs::read_to_string(host.path().join("out")).unwrap(),
        "api\n"
    );
    let read_only = format!("type=bind,src={dir},dst=/m,readonly");
    let out = service.docker_out(&[
        "run", "--rm", "--mount", &read_only, "demo", "touch", "/m/x",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Read-only file system"));
    // A `-v` (Binds) host directory that does not exist is made, 0755 at each level, as
    // Docker makes it; a `--mount` bind's must exist, as Docker's must.
    let missing = format!("{dir}/made/deeper:/data");
    service.docker_ok(&["run", "--rm", "-v", &missing, "demo", "touch", "/data/f"]);
    for level in ["made", "made/deeper"] {
        let meta = std::fs::metadata(host.path().join(level)).unwrap();
        assert_eq!(meta.permissions().mode() & 0o7777, 0o755, "{level}");
    }
    assert!(host.path().join("made/deeper/f").exists());
    // One that cannot be made (under a file) says where.
    let under_file = format!("{dir}/in/sub:/data");
    let out = service.docker_out(&["run", "--rm", "-v", &under_file, "demo", "true"]);
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("making the host directory"),
        "{out:?}"
    );
    let missing = format!("type=bind,src={dir}/absent,dst=/m");
    let out = service.docker_out(&["run", "--rm", "--mount", &missing, "demo", "true"]);
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    assert!(!host.path().join("absent").exists());
    let mounts = service.docker_ok(&[
        "run",
        "--rm",
        "--tmpfs",
        "/t:size=1m",
        "demo",
        "grep",
        " /t ",
        "/proc/mounts",
    ]);
    assert!(mounts.contains("size=1024k"), "{mounts}");
    // Named volumes, made on first use, kept after their containers.
    service.docker_ok(&[
        "run",
        "--rm",
        "-v",
        "apivol:/v",
        "demo",
        "sh",
        "-c",
        "echo kept > /v/f",
    ]);
    assert_eq!(
        service.podman_ok(&["run", "--rm", "-v", "apivol:/w:ro", "demo", "cat", "/w/f"]),
        "kept\n"
    );
    assert_eq!(service.rpod.ok(&["volume", "ls", "-q"]), "apivol\n");
    // An anonymous volume lives as long as its --rm container.
    service.docker_ok(&[
        "run",
        "--rm",
        "-v",
        "/anonymous",
        "demo",
        "touch",
        "/anonymous/x",
    ]);
    assert_eq!(service.rpod.ok(&["volume", "ls", "-q"]), "apivol\n");
    // podman-remote, and inspect through both APIs.
    let ro = format!("{dir}:/data:ro");
    assert_eq!(
        service.podman_ok(&["run", "--rm", "-v", &ro, "demo", "cat", "/data/in"]),
        "from the host\n"
    );
    service.podman_ok(&[
        "create", "--name", "m", "-v", &ro, "--tmpfs", "/t", "demo", "true",
    ]);
    let shown = service.podman_ok(&[
        "inspect",
        "-f",
        "{{range .Mounts}}{{.Destination}} {{.RW}};{{end}}",
        "m",
    ]);
    // podman-remote sends its mounts in no fixed order.
    let sorted = |text: &str| {
        let mut entries: Vec<String> = text.trim().split(';').map(String::from).collect();
        entries.sort();
        entries.join(";")
    };
    assert_eq!(sorted(&shown), ";/data false;/t true");
    let shown = service.docker_ok(&[
        "inspect",
        "-f",
        "{{range .Mounts}}{{.Type}} {{.Destination}} {{.RW}};{{end}}",
        "m",
    ]);
    assert_eq!(sorted(&shown), ";bind /data false;tmpfs /t true");
    // Docker's VolumeOptions: a subpath of a volume (`volume-subpath`), `volume-nocopy`;
    // labels for a volume made on first use are refused.
    service.docker_ok(&[
        "run",
        "--rm",
        "-v",
        "dvol:/v",
        "demo",
        "sh",
        "-c",
        "mkdir -p /v/sub && echo in-sub > /v/sub/f",
    ]);
    assert_eq!(
        service.docker_ok(&[
            "run",
            "--rm",
            "--mount",
            "type=volume,src=dvol,dst=/x,volume-subpath=sub",
            "demo",
            "cat",
            "/x/f",
        ]),
        "in-sub\n"
    );
    assert_eq!(
        service.docker_ok(&[
            "run",
            "--rm",
            "--mount",
            "type=volume,src=fresh,dst=/etc,volume-nocopy",
            "demo",
            "sh",
            "-c",
            "test -e /etc/passwd && echo copied || echo empty",
        ]),
        "empty\n"
    );
    // A volume made on first use takes the mount's labels and driver options.
    let out = service.docker_ok(&[
        "run",
        "--rm",
        "--mount",
        r#"type=volume,src=labeled,dst=/x,volume-label=a=b,volume-opt=type=tmpfs,volume-opt=device=tmpfs,"volume-opt=o=size=1m,mode=0700""#,
        "demo",
        "sh",
        "-c",
        "df -k /x | tail -1",
    ]);
    assert!(
        out.starts_with("tmpfs") && out.split_whitespace().nth(1) == Some("1024"),
        "{out}"
    );
    assert_eq!(
        service
            .docker_ok(&[
                "volume",
                "inspect",
                "-f",
                "{{.Labels.a}} {{.Options.o}}",
                "labeled"
            ])
            .trim(),
        "b size=1m,mode=0700"
    );
    let out = service.docker_out(&[
        "run",
        "--rm",
        "--mount",
        "type=volume,src=other,dst=/x,volume-driver=nfs",
        "demo",
        "true",
    ]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("DriverConfig.Name"),
        "{out:?}"
    );
    // podman-remote's and rpod's (`--url`) carry them among the volume's options.
    for (client, volume) in [("podman", "pvol"), ("rpod", "rvol")] {
        let mount = format!(
            "type=volume,src={volume},dst=/x,volume-opt=type=tmpfs,volume-opt=device=tmpfs,volume-opt=o=size=2m"
        );
        let args = [
            "run",
            "--rm",
            "--mount",
            &mount,
            "demo",
            "sh",
            "-c",
            "df -k /x | tail -1",
        ];
        let out = if client == "podman" {
            service.podman_ok(&args)
        } else {
            service.remote_ok(&args)
        };
        assert!(
            out.starts_with("tmpfs") && out.split_whitespace().nth(1) == Some("2048"),
            "{client}: {out}"
        );
    }
}

/// Whether process `pid` holds a TCP socket listening on `port` (`/proc/net/tcp`'s
/// listening entries, state 0A, whose inode is one of the process's descriptors).
fn listens_on(pid: u32, port: u16) -> bool {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    let inodes: Vec<String> = table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let local_port = fields.get(1)?.rsplit(':').next()?;
            let listening = fields.get(3) == Some(&"0A");
            (listening && u16::from_str_radix(local_port, 16).ok() == Some(port))
                .then(|| format!("socket:[{}]", fields.get(9).unwrap_or(&"")))
        })
        .collect();
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|fds| {
            fds.flatten().any(|fd| {
                std::fs::read_link(fd.path())
                    .is_ok_and(|target| inodes.iter().any(|i| target.to_string_lossy() == *i))
            })
        })
        .unwrap_or(false)
}

#[test]
fn a_tcp_service_answers_and_bad_addresses_are_refused() {
    let rpod = Rpod::new("runc");
    // A free port: bound and released. Another test's listener can take it in between
    // (CI once saw the ping reset by one): then the service cannot bind it and exits, and
    // the whole is tried again on another port. The ping is sent only once the service
    // itself listens there, and any failure of it fails the test.
    let mut answered = None;
    for _ in 0..5 {
        let port = free_port();
        let uri = format!("tcp://127.0.0.1:{port}");
        let mut child = rpod
            .command(&["system", "service", "--time", "0", &uri])
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let listening = loop {
            if listens_on(child.id(), port) {
                break true;
            }
            if child.try_wait().unwrap().is_some() || Instant::now() > deadline {
                break false;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        if listening {
            let mut conn = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
            conn.write_all(b"GET /v1.43/_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .unwrap();
            let mut answer = Vec::new();
            conn.read_to_end(&mut answer).unwrap();
            answered = Some(answer);
        }
        let _ = child.kill();
        let _ = child.wait();
        if answered.is_some() {
            break;
        }
    }
    let answer = answered.expect("the service listened on none of five free ports");
    let reply = parse_reply(&answer);
    assert_eq!((reply.status, reply.body.as_slice()), (200, &b"OK"[..]));
    for bad in [
        "tcp://localhost",
        "http://127.0.0.1:1",
        "unix://relative.sock",
    ] {
        let err = rpod.fails(&["system", "service", "--time", "0", bad], 125);
        assert!(err.contains(bad), "{bad}: {err}");
    }
}

/// IPv6 networks through both APIs: Docker's `EnableIPv6` and `IPAM.Config` list, a
/// container's `IPv6Address` at create and connect, and what inspect shows of them;
/// libpod's subnets and `static_ips` of either family (podman-remote's `--ip6`).
#[test]
fn ipv6_networks_through_both_apis() {
    let service = Service::start();
    service.docker_ok(&[
        "network",
        "create",
        "--ipv6",
        "--subnet",
        "10.93.143.0/24",
        "--subnet",
        "fd93:143::/64",
        "--ip-range",
        "10.93.143.64/26",
        "-o",
        "com.docker.network.bridge.name=rpodt143",
        "d6",
    ]);
    let ipam = service.docker_ok(&[
        "network",
        "inspect",
        "--format",
        "{{.EnableIPv6}} {{json .IPAM.Config}}",
        "d6",
    ]);
    assert_eq!(
        ipam.trim(),
        r#"true [{"Subnet":"10.93.143.0/24","IPRange":"10.93.143.64/26","Gateway":"10.93.143.1"},{"Subnet":"fd93:143::/64","Gateway":"fd93:143::1"}]"#
    );
    service.docker_ok(&[
        "run",
        "-d",
        "--name",
        "d6c",
        "--network",
        "d6",
        "--ip6",
        "fd93:143::5",
        "demo",
        "sleep",
        "300",
    ]);
    let shown = service.docker_ok(&[
        "inspect",
        "--format",
        "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{.GlobalIPv6Address}}/{{.GlobalIPv6PrefixLen}} {{.IPv6Gateway}}{{end}}",
        "d6c",
    ]);
    assert_eq!(shown.trim(), "10.93.143.64 fd93:143::5/64 fd93:143::1");
    let members = service.docker_ok(&[
        "network",
        "inspect",
        "--format",
        "{{range .Containers}}{{.IPv4Address}} {{.IPv6Address}}{{end}}",
        "d6",
    ]);
    assert_eq!(members.trim(), "10.93.143.64/24 fd93:143::5/64");
    // Docker keeps the IPv4 subnets first whatever the request's order (the docker CLI's
    // is random: it makes the list from a Go map).
    let body = br#"{"Name":"v6first","EnableIPv6":true,"IPAM":{"Config":[{"Subnet":"fd93:146::/64"},{"Subnet":"10.93.146.0/24"}]},"Options":{"com.docker.network.bridge.name":"rpodt146"}}"#;
    let reply = service.http("POST", "/v1.43/networks/create", body);
    assert_eq!(
        reply.status,
        201,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let order = service.docker_ok(&[
        "network",
        "inspect",
        "--format",
        "{{range .IPAM.Config}}{{.Subnet}} {{end}}",
        "v6first",
    ]);
    assert_eq!(order.trim(), "10.93.146.0/24 fd93:146::/64");
    service.docker_ok(&["network", "rm", "v6first"]);
    // A second network for a container to connect with an IPv6 address of its choice.
    service.docker_ok(&[
        "network",
        "create",
        "--subnet",
        "fd93:144::/64",
        "-o",
        "com.docker.network.bridge.name=rpodt144",
        "only6",
    ]);
    service.docker_ok(&["network", "connect", "--ip6", "fd93:144::7", "only6", "d6c"]);
    let eth1 = service.docker_ok(&["exec", "d6c", "ip", "-o", "addr", "show", "eth1"]);
    assert!(
        eth1.contains("inet6 fd93:144::7/64") && !eth1.contains("inet "),
        "{eth1}"
    );
    // podman-remote: libpod's definition and static_ips.
    let subnets = service.podman_ok(&[
        "network",
        "inspect",
        "--format",
        "{{.IPv6Enabled}} {{range .Subnets}}{{.Subnet}} {{end}}",
        "only6",
    ]);
    assert_eq!(subnets.trim(), "true fd93:144::/64");
    let out = service.podman_ok(&[
        "run",
        "--rm",
        "--network",
        "only6",
        "--ip6",
        "fd93:144::9",
        "demo",
        "ip",
        "-o",
        "addr",
        "show",
        "eth0",
    ]);
    assert!(out.contains("inet6 fd93:144::9/64"), "{out}");
    service.podman_ok(&[
        "network",
        "create",
        "--ipv6",
        "--subnet",
        "10.93.145.0/24",
        "p6",
    ]);
    let subnets = service.rpod.ok(&[
        "network",
        "inspect",
        "--format",
        "{{range .Subnets}}{{.Subnet}} {{end}}",
        "p6",
    ]);
    assert!(subnets.starts_with("10.93.145.0/24 fd"), "{subnets}");
    // Docker's own list filters: type (custom or builtin) and scope (all are local).
    let listed = |filter: &str| {
        service.docker_ok(&["network", "ls", "--format", "{{.Name}}", "--filter", filter])
    };
    // (The default network, rpod, was made for a container of the service's.)
    assert_eq!(listed("type=custom"), "d6\nonly6\np6\n");
    // Docker's clients see it as `bridge`, and filter by that name.
    assert_eq!(listed("type=builtin"), "bridge\n");
    assert_eq!(listed("name=bridge"), "bridge\n");
    assert_eq!(listed("scope=local"), "bridge\nd6\nonly6\np6\n");
    assert_eq!(listed("scope=swarm"), "");
    // podman's dangling (Docker's too): the networks no container joins.
    assert_eq!(listed("dangling=false"), "d6\nonly6\n");
    assert_eq!(listed("dangling=true"), "bridge\np6\n");
    assert!(!service
        .docker_out(&["network", "ls", "--filter", "type=other"])
        .status
        .success());
    // Docker's null IPAM driver: no addresses; others are refused.
    service.docker_ok(&["network", "create", "--ipam-driver", "null", "bare"]);
    assert_eq!(
        service.docker_ok(&["network", "inspect", "--format", "{{.IPAM.Driver}}", "bare"]),
        "null\n"
    );
    let out = service.docker_out(&["network", "create", "--ipam-driver", "dhcp", "x"]);
    assert!(!out.status.success(), "{out:?}");
    service.rpod.ok(&["rm", "-f", "-t", "0", "d6c"]);
    wait_for_network_teardowns(&service.rpod);
    service
        .rpod
        .ok(&["network", "rm", "d6", "only6", "p6", "bare"]);
}

#[test]
fn networks_volumes_and_ports_through_both_apis() {
    let service = Service::start();
    // docker: a network and a volume, a web server publishing a port on 127.0.0.1, a
    // second container reaching it by name, anonymous volumes removed with -v.
    service.docker_ok(&[
        "network",
        "create",
        "--subnet",
        "10.93.70.0/24",
        "-o",
        "com.docker.network.bridge.name=rpodt70",
        "dnet",
    ]);
    let listed = service.docker_ok(&["network", "ls", "--format", "{{.Name}} {{.Driver}}"]);
    assert!(listed.contains("dnet bridge"), "{listed}");
    assert_eq!(
        service.rpod.ok(&[
            "network",
            "inspect",
            "--format",
            "{{.NetworkInterface}}",
            "dnet"
        ]),
        "rpodt70\n"
    );
    // Docker's MTU option is netavark's mtu; other driver options would be lost: refused.
    service.docker_ok(&[
        "network",
        "create",
        "-o",
        "com.docker.network.driver.mtu=1400",
        "dmtu",
    ]);
    assert_eq!(
        service
            .rpod
            .ok(&["network", "inspect", "--format", "{{.Options}}", "dmtu"]),
        "map[mtu:1400]\n"
    );
    // Docker's names again for Docker's clients (docker-compose compares them).
    let options = service.docker_ok(&[
        "network",
        "inspect",
        "--format",
        "{{json .Options}}",
        "dmtu",
    ]);
    let options: serde_json::Value = serde_json::from_str(&options).unwrap();
    assert_eq!(
        options["com.docker.network.driver.mtu"], "1400",
        "{options}"
    );
    // A bridge name rpod chose was no option; one given is.
    assert!(
        options.get("com.docker.network.bridge.name").is_none(),
        "{options}"
    );
    assert_eq!(
        service.docker_ok(&[
            "network",
            "inspect",
            "--format",
            "{{index .Options \"com.docker.network.bridge.name\"}}",
            "dnet",
        ]),
        "rpodt70\n"
    );
    service.rpod.ok(&["network", "rm", "dmtu"]);
    let out = service.docker_out(&[
        "network",
        "create",
        "-o",
        "com.docker.network.bridge.enable_icc=false",
        "dicc",
    ]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("com.docker.network.bridge.enable_icc"),
        "{out:?}"
    );
    service.docker_ok(&["volume", "create", "dvol"]);
    let port = free_port();
    let publish = format!("127.0.0.1:{port}:80");
    service.docker_ok(&[
        "run",
        "-d",
        "--name",
        "dweb",
        "--network",
        "dnet",
        "-p",
        &publish,
        "--expose",
        "9000",
        "-v",
        "dvol:/www",
        "-v",
        "/anon",
        "demo",
        "sh",
        "-c",
        "echo served > /www/index.html && exec httpd -f -p 80 -h /www",
    ]);
    let mut body = String::new();
    wait_until("the published port answers", || {
        let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
            return false;
        };
        let _ = stream.write_all(b"GET /index.html HTTP/1.0\r\n\r\n");
        body.clear();
        let _ = std::io::Read::read_to_string(&mut stream, &mut body);
        body.ends_with("served\n")
    });
    assert_eq!(
        service.docker_ok(&["port", "dweb"]).trim(),
        format!("80/tcp -> 127.0.0.1:{port}")
    );
    // An exposed port: in the config (the docker CLI exposes what it publishes too), and
    // listed without a host side.
    let shown = service.docker_ok(&[
        "inspect",
        "--format",
        "{{json .Config.ExposedPorts}} {{json .NetworkSettings.Ports}}",
        "dweb",
    ]);
    assert_eq!(
        shown.trim(),
        format!(
            r#"{{"80/tcp":{{}},"9000/tcp":{{}}}} {{"80/tcp":[{{"HostIp":"127.0.0.1","HostPort":"{port}"}}],"9000/tcp":null}}"#
        )
    );
    // Docker's fields rpod has no value for are there, empty, as Docker's schema has them.
    let empty = service.docker_ok(&[
        "inspect",
        "--format",
        "{{json .NetworkSettings.EndpointID}} {{json .NetworkSettings.SecondaryIPAddresses}} {{json .NetworkSettings.LinkLocalIPv6PrefixLen}}",
        "dweb",
    ]);
    assert_eq!(empty.trim(), r#""" null 0"#);
    let listed = service.docker_ok(&["ps", "--filter", "name=dweb", "--format", "{{.Ports}}"]);
    assert!(
        listed.contains("9000/tcp") && listed.contains(&format!("127.0.0.1:{port}->80/tcp")),
        "{listed}"
    );
    // Docker's port filters: `publish` by the host port, `expose` by the container's.
    let names =
        |filter: &str| service.docker_ok(&["ps", "--filter", filter, "--format", "{{.Names}}"]);
    for found in [
        format!("publish={port}"),
        format!("publish={port}/tcp"),
        "expose=80".to_string(),
        "expose=8999-9001".to_string(),
        "is-task=false".to_string(),
    ] {
        assert_eq!(names(&found), "dweb\n", "{found}");
    }
    for none in [
        "publish=80",
        "publish=9000",
        "expose=80/udp",
        "is-task=true",
    ] {
        assert_eq!(names(none), "", "{none}");
    }
    let attached = service.docker_ok(&[
        "network",
        "inspect",
        "dnet",
        "--format",
        "{{range .Containers}}{{.Name}} {{.IPv4Address}}{{end}}",
    ]);
    assert_eq!(attached.trim(), "dweb 10.93.70.2/24");
    assert_eq!(
        service
            .docker_ok(&[
                "inspect",
                "dweb",
                "--format",
                "{{.NetworkSettings.Networks.dnet.IPAddress}}"
            ])
            .trim(),
        "10.93.70.2"
    );
    assert_eq!(
        service.docker_ok(&[
            "run",
            "--rm",
            "--network",
            "dnet",
            "demo",
            "wget",
            "-qO-",
            "http://dweb/index.html"
        ]),
        "served\n"
    );
    let volumes = service.docker_ok(&["volume", "ls", "-q"]);
    assert_eq!(volumes.lines().count(), 2, "{volumes}");
    let out = service.docker_out(&["network", "rm", "dnet"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("network is being used")
            || String::from_utf8_lossy(&out.stderr).contains("associated containers")
    );
    service.docker_ok(&["rm", "-f", "-v", "dweb"]);
    assert_eq!(service.docker_ok(&["volume", "ls", "-q"]), "dvol\n");
    service.docker_ok(&["network", "rm", "dnet"]);
    service.docker_ok(&["volume", "rm", "dvol"]);
    let out = service.docker_out(&["network", "inspect", "dnet"]);
    assert!(!out.status.success());

    // podman-remote: its own network and volume calls, ports and DNS flags in a
    // SpecGenerator.
    service.podman_ok(&["network", "create", "--subnet", "10.93.71.0/24", "pnet"]);
    let inspect: serde_json::Value =
        serde_json::from_str(&service.podman_ok(&["network", "inspect", "pnet"])).unwrap();
    assert_eq!(inspect[0]["subnets"][0]["gateway"], "10.93.71.1");
    assert_eq!(
        service
            .podman_out(&["network", "exists", "nonet"])
            .status
            .code(),
        Some(1)
    );
    service.podman_ok(&["volume", "create", "--label", "a=b", "pvol"]);
    let out = service.podman_ok(&[
        "run",
        "--rm",
        "--network",
        "pnet",
        "--add-host",
        "db:10.1.1.1",
        "--dns-search",
        "example.com",
        "-v",
        "pvol:/v",
        "demo",
        "sh",
        "-c",
        "ip -4 -o addr show eth0; grep db /etc/hosts; grep search /etc/resolv.conf; touch /v/ok",
    ]);
    assert!(out.contains("10.93.71.2/24"), "{out}");
    assert!(out.contains("10.1.1.1\tdb"), "{out}");
    assert!(out.contains("search dns.podman example.com"), "{out}");
    let listed = service.podman_ok(&["volume", "ls", "--format", "{{.Name}}"]);
    assert_eq!(listed, "pvol\n");
    // podman's volume fields: used once, by root, at a place the image does not have.
    let fields = "{{.NeedsChown}} {{.NeedsCopyUp}} {{.MountCount}} {{.UID}} {{.Anonymous}}";
    assert_eq!(
        service.podman_ok(&["volume", "inspect", "--format", fields, "pvol"]),
        "false true 0 0 false\n"
    );
    service.podman_ok(&["network", "rm", "pnet"]);
    service.podman_ok(&["volume", "rm", "pvol"]);
    assert_eq!(service.podman_ok(&["volume", "ls", "-q"]), "");
    // Address ranges: Docker's IPAM IPRange, podman's lease_range; other address managers
    // are refused.
    service.docker_ok(&[
        "network",
        "create",
        "--subnet",
        "10.93.72.0/24",
        "--ip-range",
        "10.93.72.32/29",
        "drange",
    ]);
    let range = service.docker_ok(&[
        "network",
        "inspect",
        "drange",
        "--format",
        "{{range .IPAM.Config}}{{.IPRange}}{{end}}",
    ]);
    assert_eq!(range.trim(), "10.93.72.32/29");
    let out = service.docker_ok(&[
        "run",
        "--rm",
        "--network",
        "drange",
        "demo",
        "ip",
        "-4",
        "-o",
        "addr",
        "show",
        "eth0",
    ]);
    assert!(out.contains("10.93.72.32/24"), "{out}");
    service.podman_ok(&[
        "network",
        "create",
        "--subnet",
        "10.93.73.0/24",
        "--ip-range",
        "10.93.73.16/29",
        "prange",
    ]);
    let shown = service.rpod.ok(&["network", "inspect", "prange"]);
    assert!(
        shown.contains("\"start_ip\": \"10.93.73.17\"")
            && shown.contains("\"end_ip\": \"10.93.73.23\""),
        "{shown}"
    );
    assert!(!service
        .podman_out(&["network", "create", "--ipam-driver", "dhcp", "pdhcp"])
        .status
        .success());
    service.docker_ok(&["network", "rm", "drange"]);
    service.podman_ok(&["network", "rm", "prange"]);
}

#[test]
fn block_device_limits_through_both_apis() {
    let block = ["/dev/vda", "/dev/sda", "/dev/nvme0n1"]
        .into_iter()
        .find(|d| {
            std::fs::metadata(d)
                .is_ok_and(|m| std::os::unix::fs::FileTypeExt::is_block_device(&m.file_type()))
        });
    let (Some(device), true) = (block, Path::new("/sys/fs/cgroup/blkio").is_dir()) else {
        return; // no block device, or no blkio controller (cgroup v2) to read back
    };
    let service = Service::start();
    let read_back = "cat /sys/fs/cgroup/blkio/blkio.throttle.read_bps_device /sys/fs/cgroup/blkio/blkio.throttle.write_iops_device";
    let rates = |out: String| -> Vec<String> {
        out.lines()
            .map(|l| l.split(' ').nth(1).unwrap_or("").to_string())
            .collect()
    };
    let out = service.docker_ok(&[
        "run",
        "--rm",
        "--device-read-bps",
        &format!("{device}:1mb"),
        "--device-write-iops",
        &format!("{device}:300"),
        "demo",
        "sh",
        "-c",
        read_back,
    ]);
    assert_eq!(rates(out), ["1048576", "300"]);
    let out = service.podman_ok(&[
        "run",
        "--rm",
        "--device-read-bps",
        &format!("{device}:2mb"),
        "--device-write-iops",
        &format!("{device}:400"),
        "demo",
        "sh",
        "-c",
        read_back,
    ]);
    assert_eq!(rates(out), ["2097152", "400"]);
    // Docker's update body changes them (the docker CLI has no flags for it); a live runc
    // container's are refused (runc's update would ignore them), a created one's hold from
    // its start.
    let update = |id: &str| {
        let body = format!(
            r#"{{"BlkioDeviceReadBps":[{{"Path":"{device}","Rate":3145728}}],"BlkioDeviceWriteIOps":[{{"Path":"{device}","Rate":500}}]}}"#
        );
        service.http(
            "POST",
            &format!("/v1.43/containers/{id}/update"),
            body.as_bytes(),
        )
    };
    let id = service
        .docker_ok(&[
            "run",
            "-d",
            "--device-read-bps",
            &format!("{device}:1mb"),
            "demo",
            "sleep",
            "300",
        ])
        .trim()
        .to_string();
    let refused = update(&id);
    assert!(
        refused.status >= 400,
        "{}",
        String::from_utf8_lossy(&refused.body)
    );
    assert!(String::from_utf8_lossy(&refused.body).contains("runc's update ignores it"));
    service.docker_ok(&["rm", "-f", &id]);
    let id = service
        .docker_ok(&["create", "demo", "sh", "-c", read_back])
        .trim()
        .to_string();
    assert_eq!(update(&id).status, 200);
    assert_eq!(
        rates(service.docker_ok(&["start", "-a", &id])),
        ["3145728", "500"]
    );
    // A path that is no block device is refused, through both.
    assert!(!service
        .docker_out(&["create", "--device-read-bps", "/dev/null:1mb", "demo"])
        .status
        .success());
    assert!(!service
        .podman_out(&["create", "--device-write-iops", "/dev/null:5", "demo"])
        .status
        .success());
}

#[test]
fn files_processes_and_names_through_both_apis() {
    let service = Service::start();
    let dir = tempfile::tempdir().unwrap();
    let host = |name: &str| dir.path().join(name).display().to_string();
    service.docker_ok(&[
        "run",
        "-d",
        "--name",
        "box",
        "demo",
        "sh",
        "-c",
        "echo data > /tmp/f && ln -s /tmp/f /tmp/link && touch /tmp/ready; exec sleep 300",
    ]);
    wait_until("the files are made", || {
        service
            .docker_out(&["exec", "box", "test", "-f", "/tmp/ready"])
            .status
            .success()
    });

    // Processes and usage.
    let top = service.docker_ok(&["top", "box"]);
    assert!(top.contains("sleep 300") && top.contains("PID"), "{top}");
    let top = service.docker_ok(&["top", "box", "pid,args"]);
    assert!(top.starts_with("PID") && top.contains("sleep 300"), "{top}");
    // ps(1)'s options run the container's ps.
    let top = service.docker_ok(&["top", "box", "aux"]);
    assert!(
        top.contains("sleep 300") && !top.contains("ps aux"),
        "{top}"
    );
    let stats = service.docker_ok(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}} {{.PIDs}}",
        "box",
    ]);
    assert_eq!(stats.trim(), "box 1");
    let top = service.podman_ok(&["top", "box"]);
    assert!(top.contains("sleep 300"), "{top}");
    // podman-remote joins ps(1)'s words with commas.
    let top = service.podman_ok(&["top", "box", "-o", "pid,rss"]);
    assert!(top.starts_with("PID") && top.contains("RSS"), "{top}");
    let top = service.docker_ok(&["top", "box", "-o", "pid,rss"]);
    assert!(top.starts_with("PID") && top.contains("RSS"), "{top}");
    let stats = service.podman_ok(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}} {{.PIDs}}",
        "box",
    ]);
    assert_eq!(stats.trim(), "box 1");

    // What the container changed, and its whole file system.
    let diff = service.docker_ok(&["diff", "box"]);
    assert!(diff.lines().any(|l| l == "A /tmp/f"), "{diff}");
    let diff = service.podman_ok(&["diff", "box"]);
    assert!(diff.lines().any(|l| l == "A /tmp/f"), "{diff}");
    // podman-remote's mask and unmask (the SpecGenerator's lists).
    let mounts_over = |opt: &str, path: &str| {
        service.podman_ok(&[
            "run",
            "--rm",
            "--security-opt",
            opt,
            "demo",
            "sh",
            "-c",
            &format!("grep -c ' {path} ' /proc/self/mountinfo; true"),
        ])
    };
    assert_eq!(mounts_over("unmask=/proc/keys", "/proc/keys").trim(), "0");
    assert_eq!(mounts_over("mask=/proc/uptime", "/proc/uptime").trim(), "1");
    // docker's systempaths=unconfined (sent as empty MaskedPaths and ReadonlyPaths).
    let open = service.docker_ok(&[
        "run",
        "--rm",
        "--security-opt",
        "systempaths=unconfined",
        "demo",
        "sh",
        "-c",
        "grep -c -e ' /proc/keys ' -e ' /proc/sys ' /proc/self/mountinfo; true",
    ]);
    assert_eq!(open.trim(), "0");
    // podman-remote compares two: the container with its image, two images.
    let diff = service.podman_ok(&["diff", "box", "demo"]);
    assert!(diff.lines().any(|l| l == "A /tmp/f"), "{diff}");
    assert!(!diff.contains("/etc/hosts"), "{diff}");
    service.podman_ok(&["commit", "box", "boxed"]);
    let diff = service.podman_ok(&["image", "diff", "boxed", "demo"]);
    assert!(diff.lines().any(|l| l == "A /tmp/f"), "{diff}");
    let diff = service.podman_ok(&["image", "diff", "demo", "boxed"]);
    assert!(diff.lines().any(|l| l == "D /tmp/f"), "{diff}");
    let out = service.podman_out(&["image", "diff", "boxed", "box"]);
    assert!(
        !out.status.success(),
        "a container taken for an image: {out:?}"
    );
    for client in ["docker", "podman"] {
        let out = if client == "docker" {
            service.docker_out(&["export", "box"])
        } else {
            service.podman_out(&["export", "box"])
        };
        assert!(out.status.success(), "{client} export");
        let names: Vec<String> = tar::Archive::new(out.stdout.as_slice())
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        assert!(names.iter().any(|n| n == "tmp/f"), "{client}: {names:?}");
    }

    // cp both ways, with both clients: a file, a directory, a link followed or not.
    std::fs::write(dir.path().join("in"), "from the host\n").unwrap();
    std::fs::create_dir(dir.path().join("tree")).unwrap();
    std::fs::write(dir.path().join("tree/leaf"), "leaf\n").unwrap();
    service.docker_ok(&["cp", &host("in"), "box:/tmp/by-docker"]);
    service.podman_ok(&["cp", &host("in"), "box:/tmp/by-podman"]);
    service.docker_ok(&["cp", &host("tree"), "box:/tmp/"]);
    service.podman_ok(&["cp", &host("tree"), "box:/tmp/tree-by-podman"]);
    assert_eq!(
        service.docker_ok(&[
            "exec",
            "box",
            "cat",
            "/tmp/by-docker",
            "/tmp/by-podman",
            "/tmp/tree/leaf",
            "/tmp/tree-by-podman/leaf"
        ]),
        "from the host\nfrom the host\nleaf\nleaf\n"
    );
    service.docker_ok(&["cp", "box:/tmp/f", &host("f-by-docker")]);
    service.podman_ok(&["cp", "box:/tmp/f", &host("f-by-podman")]);
    service.docker_ok(&["cp", "box:/tmp/tree", &host("tree-back")]);
    service.docker_ok(&["cp", "-L", "box:/tmp/link", &host("followed")]);
    service.docker_ok(&["cp", "box:/tmp/link", &host("as-link")]);
    for name in ["f-by-docker", "f-by-podman", "followed"] {
        assert_eq!(
            std::fs::read_to_string(dir.path().join(name)).unwrap(),
            "data\n",
            "{name}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(dir.path().join("tree-back/leaf")).unwrap(),
        "leaf\n"
    );
    assert_eq!(
        std::fs::read_link(dir.path().join("as-link")).unwrap(),
        Path::new("/tmp/f")
    );
    let out = service.docker_out(&["cp", "box:/nowhere", &host("x")]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("could not be found"),
        "{out:?}"
    );

    // rename, then prune what does not run.
    service.docker_ok(&["rename", "box", "renamed"]);
    service.podman_ok(&["rename", "renamed", "box"]);
    assert_eq!(
        service.docker_ok(&["ps", "--format", "{{.Names}}"]).trim(),
        "box"
    );
    assert!(!service
        .docker_out(&["rename", "ghost", "x"])
        .status
        .success());
    service.docker_ok(&["create", "--name", "idle1", "demo", "true"]);
    let pruned = service.docker_ok(&["container", "prune", "-f"]);
    assert!(pruned.contains("Deleted Containers"), "{pruned}");
    service.docker_ok(&["create", "--name", "idle2", "demo", "true"]);
    service.podman_ok(&["container", "prune", "-f"]);
    assert_eq!(
        service
            .docker_ok(&["ps", "-a", "--format", "{{.Names}}"])
            .trim(),
        "box"
    );
}

#[test]
fn update_changes_limits_and_the_restart_policy_through_both_apis() {
    let service = Service::start();
    service.docker_ok(&["run", "-d", "--name", "lim", "demo", "sleep", "300"]);
    service.docker_ok(&[
        "update",
        "--memory",
        "96m",
        "--cpus",
        "1.5",
        "--pids-limit",
        "200",
        "lim",
    ]);
    assert_eq!(
        service
            .docker_ok(&[
                "inspect",
                "-f",
                "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}}",
                "lim"
            ])
            .trim(),
        "100663296 1500000000 200"
    );
    // The running container's cgroup has them.
    if Path::new("/sys/fs/cgroup/pids").is_dir() {
        assert_eq!(
            service
                .docker_ok(&["exec", "lim", "cat", "/sys/fs/cgroup/pids/pids.max"])
                .trim(),
            "200"
        );
    }
    service.podman_ok(&["update", "--memory", "128m", "lim"]);
    assert_eq!(
        service
            .docker_ok(&["inspect", "-f", "{{.HostConfig.Memory}}", "lim"])
            .trim(),
        "134217728"
    );
    // What rpod cannot change is refused, and nothing changes.
    let out = service.docker_out(&["update", "--kernel-memory", "10m", "lim"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("KernelMemory"));
    assert!(!service
        .docker_out(&["update", "--memory", "1k", "lim"])
        .status
        .success());
    // A negative limit is refused, not dropped as if it were zero; a quota of -1 lifts it.
    let out = service.docker_out(&["update", "--cpu-shares", "-5", "lim"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid CpuShares -5"));
    let reply = service.http("POST", "/v1.41/containers/lim/update", br#"{"Memory":-1}"#);
    assert_eq!(reply.status, 400, "{}", reply.message());
    service.docker_ok(&["update", "--cpu-quota", "50000", "lim"]);
    let quota = || {
        service
            .docker_ok(&["inspect", "-f", "{{.HostConfig.CpuQuota}}", "lim"])
            .trim()
            .to_string()
    };
    assert_eq!(quota(), "50000");
    service.docker_ok(&["update", "--cpu-quota", "-1", "lim"]);
    assert_eq!(quota(), "-1");
    // The restart policy: a container that exits is started again once it is `always`.
    service.docker_ok(&[
        "run",
        "-d",
        "--name",
        "flaky",
        "demo",
        "sh",
        "-c",
        "sleep 1; exit 3",
    ]);
    service.docker_ok(&["update", "--restart", "always", "flaky"]);
    assert_eq!(
        service
            .docker_ok(&[
                "inspect",
                "-f",
                "{{.HostConfig.RestartPolicy.Name}}",
                "flaky"
            ])
            .trim(),
        "always"
    );
    wait_until("flaky is restarted", || {
        service
            .docker_ok(&["inspect", "-f", "{{.RestartCount}}", "flaky"])
            .trim()
            != "0"
    });
    service.docker_ok(&["update", "--restart", "no", "flaky"]);
    assert_eq!(
        service
            .docker_ok(&[
                "inspect",
                "-f",
                "{{.HostConfig.RestartPolicy.Name}}",
                "flaky"
            ])
            .trim(),
        "no"
    );
    service.docker_ok(&["rm", "-f", "lim", "flaky"]);
}

#[test]
fn commit_history_and_image_prune_through_both_apis() {
    let service = Service::start();
    service.docker_ok(&[
        "run",
        "-d",
        "--name",
        "maker",
        "demo",
        "sh",
        "-c",
        "echo made > /made; exec sleep 300",
    ]);
    wait_until("the file is made", || {
        service
            .docker_out(&["exec", "maker", "test", "-f", "/made"])
            .status
            .success()
    });
    let id = service.docker_ok(&[
        "commit",
        "-m",
        "a note",
        "-c",
        "ENV FOO=bar",
        "-c",
        r#"CMD ["sh", "-c", "echo $FOO; cat /made"]"#,
        "maker",
        "snap:1",
    ]);
    assert!(id.trim().starts_with("sha256:"), "{id}");
    assert_eq!(service.docker_ok(&["run", "--rm", "snap:1"]), "bar\nmade\n");
    let history = service.docker_ok(&[
        "history",
        "--format",
        "{{.ID}}|{{.Comment}}",
        "--no-trunc",
        "snap:1",
    ]);
    let lines: Vec<&str> = history.lines().collect();
    assert_eq!(lines.len(), 2, "{history}");
    assert_eq!(lines[0], format!("{}|a note", id.trim()));
    // The step below is the image demo, as Docker names it.
    let demo = service.docker_ok(&["image", "inspect", "-f", "{{.Id}}", "demo"]);
    assert!(
        lines[1].starts_with(&format!("{}|", demo.trim())),
        "{history}"
    );
    let history = service.podman_ok(&["history", "--format", "{{.Comment}}", "snap:1"]);
    assert!(history.starts_with("a note\n"), "{history}");
    let id = service.podman_ok(&["commit", "-q", "maker", "psnap"]);
    // The bare ID, as podman's service answers podman-remote.
    assert_eq!(
        id.trim(),
        service
            .podman_ok(&["image", "inspect", "-f", "{{.Id}}", "psnap"])
            .trim()
    );
    assert!(service
        .docker_ok(&["images", "--format", "{{.Repository}}"])
        .contains("psnap"));
    // A commit of a container that does not exist is refused.
    assert!(!service
        .docker_out(&["commit", "ghost", "x:1"])
        .status
        .success());
    // Docker's body (docker-py's `commit(conf=...)`): a config the container's settings
    // complete, the changes applied after it.
    let body = r#"{"Env":["FOO=given","ADDED=1"],"Cmd":["sh","-c","echo $FOO $ADDED"],
        "Labels":{"given":"yes"},"ExposedPorts":{"8080/tcp":{}},"Hostname":"","User":null,
        "Healthcheck":{"Test":["CMD","true"],"Interval":5000000000}}"#;
    let reply = service.http(
        "POST",
        "/v1.43/commit?container=maker&repo=conf&tag=1&changes=LABEL%20changed%3D1",
        body.as_bytes(),
    );
    assert_eq!(
        reply.status,
        201,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(service.docker_ok(&["run", "--rm", "conf:1"]), "given 1\n");
    let config = |format: &str| {
        service
            .docker_ok(&["image", "inspect", "-f", format, "conf:1"])
            .trim()
            .to_string()
    };
    assert_eq!(
        config("{{json .Config.Labels}}"),
        r#"{"changed":"1","given":"yes"}"#
    );
    assert_eq!(
        config("{{json .Config.ExposedPorts}}"),
        r#"{"8080/tcp":{}}"#
    );
    assert_eq!(
        config("{{json .Config.Healthcheck}}"),
        r#"{"Test":["CMD","true"],"Interval":5000000000}"#
    );
    // The container's variables the body does not set are kept.
    assert!(config("{{json .Config.Env}}").contains("PATH="));
    // What is no part of an image's config, and bad values, are refused.
    for (body, said) in [
        (r#"{"Hostname":"box"}"#, "Hostname"),
        (r#"{"StopSignal":"SIGNOPE"}"#, "SIGNOPE"),
        (r#"{"Volumes":{"relative":{}}}"#, "relative"),
        (r#"{"Env":"A=1"}"#, "the commit's config"),
    ] {
        let reply = service.http("POST", "/commit?container=maker&repo=bad", body.as_bytes());
        assert_eq!(reply.status, 400, "{body}");
        assert!(
            String::from_utf8_lossy(&reply.body).contains(said),
            "{body}"
        );
    }
    // Prune: unnamed unused images go; with -a every unused one.
    service.docker_ok(&["rmi", "snap:1"]);
    let unnamed = service.docker_ok(&["commit", "maker"]);
    let size: u64 = service
        .docker_ok(&["image", "inspect", "-f", "{{.Size}}", unnamed.trim()])
        .trim()
        .parse()
        .unwrap();
    let pruned = service.docker_ok(&["image", "prune", "-f"]);
    assert!(pruned.contains("deleted: sha256:"), "{pruned}");
    // The image's size, from the prune's SpaceReclaimed.
    let reclaimed = rpod_engine::human::size_precise(size);
    assert!(
        pruned.ends_with(&format!("Total reclaimed space: {reclaimed}\n")),
        "{pruned}"
    );
    service.podman_ok(&["image", "prune", "-a", "-f"]);
    // demo is used by maker: kept.
    assert_eq!(
        service
            .docker_ok(&["images", "--format", "{{.Repository}}"])
            .trim(),
        "localhost/demo"
    );
}

#[test]
fn system_df_and_prune_through_both_apis() {
    let service = Service::start();
    service.docker_ok(&["volume", "create", "spare"]);
    service.docker_ok(&[
        "run",
        "--name",
        "writer",
        "-v",
        "used:/data",
        "demo",
        "sh",
        "-c",
        "head -c 3000 /dev/zero > /data/f; head -c 5000 /dev/zero > /blob",
    ]);
    let df = service.docker_ok(&[
        "system",
        "df",
        "--format",
        "{{.Type}} {{.TotalCount}} {{.Active}} {{.Size}}",
    ]);
    let lines: Vec<&str> = df.lines().collect();
    assert!(lines[0].starts_with("Images 1 1 "), "{df}");
    // The blob and /etc/mtab (12 bytes, the link to /proc/mounts), as podman counts.
    assert_eq!(lines[1], "Containers 1 0 5.012kB", "{df}");
    assert_eq!(lines[2], "Local Volumes 2 1 3kB", "{df}");
    let df = service.podman_ok(&[
        "system",
        "df",
        "--format",
        "{{.Type}} {{.Total}} {{.Active}}",
    ]);
    assert!(df.contains("Containers 1 0"), "{df}");
    assert!(df.contains("Local Volumes 2 1"), "{df}");
    // docker system prune: the stopped container; volumes stay unless asked for.
    let out = service.docker_ok(&["system", "prune", "-f"]);
    assert!(out.contains("Deleted Containers"), "{out}");
    // The 5000 bytes the container wrote and /etc/mtab's 12, from the prunes'
    // SpaceReclaimed.
    assert!(out.ends_with("Total reclaimed space: 5.012kB\n"), "{out}");
    assert_eq!(service.docker_ok(&["ps", "-aq"]), "");
    assert_eq!(
        service.docker_ok(&["volume", "ls", "-q"]).lines().count(),
        2
    );
    service.docker_ok(&["create", "--name", "idle", "demo", "true"]);
    let pod = service.podman_ok(&["pod", "create", "--name", "idle-pod"]);
    service.podman_ok(&["pod", "start", "idle-pod"]);
    service.podman_ok(&["pod", "stop", "-t", "0", "idle-pod"]);
    let out = service.podman_ok(&["system", "prune", "-f", "--volumes"]);
    assert!(out.contains(pod.trim()), "{out}");
    // The 3000 bytes in the volume `used`, from the report's ReclaimedSpace.
    assert!(out.ends_with("Total reclaimed space: 3kB\n"), "{out}");
    assert_eq!(service.podman_ok(&["pod", "ps", "-q"]), "");
    assert_eq!(service.docker_ok(&["ps", "-aq"]), "");
    assert_eq!(service.docker_ok(&["volume", "ls", "-q"]), "");
    // The volumes' events, in Docker's words.
    let events = service.docker_past_events(
        &["type=volume", "volume=spare"],
        "{{.Action}} {{.Actor.ID}}",
    );
    assert_eq!(events, "create spare\ndestroy spare\n");
}

#[test]
fn import_and_container_sizes_through_both_apis() {
    let service = Service::start();
    let tarball = common::busybox_tarball().display().to_string();
    let id = service.docker_ok(&[
        "import",
        "-c",
        r#"CMD ["echo", "from docker import"]"#,
        "-m",
        "imported here",
        &tarball,
        "imported:1",
    ]);
    assert!(id.trim().starts_with("sha256:"), "{id}");
    assert_eq!(
        service.docker_ok(&["run", "--rm", "imported:1"]),
        "from docker import\n"
    );
    service.podman_ok(&[
        "import",
        "--change",
        r#"CMD ["echo", "from podman import"]"#,
        &tarball,
        "pimported",
    ]);
    assert_eq!(
        service.podman_ok(&["run", "--rm", "pimported"]),
        "from podman import\n"
    );
    // A Docker client's short name is Docker Hub's, as Docker (and podman's compat API)
    // names it; a podman client's is local.
    service
        .rpod
        .ok(&["image", "exists", "docker.io/library/imported:1"]);
    service.rpod.ok(&["image", "exists", "localhost/pimported"]);
    assert_eq!(
        service.docker_ok(&["images", "--format", "{{.Repository}}:{{.Tag}}", "imported"]),
        "imported:1\n"
    );
    // A URL is not fetched.
    let out = service.docker_out(&["import", "http://127.0.0.1:9/x.tar", "x"]);
    assert!(!out.status.success());
    // A search of a registry that does not answer says which.
    let out = service.docker_out(&["search", "127.0.0.1:9/busybox"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("registry 127.0.0.1:9"),
        "{out:?}"
    );
    // ps --size: what each container wrote.
    service.docker_ok(&[
        "run",
        "--name",
        "writer",
        "demo",
        "sh",
        "-c",
        "head -c 4000 /dev/zero > /blob",
    ]);
    // The blob and /etc/mtab's 12 bytes.
    let sizes = service.docker_ok(&["ps", "-a", "-s", "--format", "{{.Names}} {{.Size}}"]);
    assert!(sizes.starts_with("writer 4.01kB (virtual "), "{sizes}");
}

#[test]
fn podman_remote_images_sizes_and_health_checks() {
    let service = Service::start();
    // rmi of several names, untag, and podman's exit codes for what fails.
    service.podman_ok(&["tag", "demo", "extra:1", "extra:2", "other:1"]);
    service.podman_ok(&["untag", "demo", "other:1"]);
    let out = service.podman_ok(&["rmi", "extra:1", "extra:2"]);
    assert!(
        out.contains("Untagged: localhost/extra:1") && out.contains("Untagged: localhost/extra:2"),
        "{out}"
    );
    assert_eq!(
        service
            .podman_ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"])
            .trim(),
        "localhost/demo:latest"
    );
    let out = service.podman_out(&["rmi", "nosuchimage"]);
    assert_eq!(out.status.code(), Some(1));
    // image tree draws what the command line draws.
    let tree = service.podman_ok(&["image", "tree", "demo"]);
    assert!(
        tree.starts_with("Image ID: ") && tree.contains("Image Layers\n└── ID: "),
        "{tree}"
    );
    let above = service.podman_ok(&["image", "tree", "--whatrequires", "demo"]);
    assert!(
        above.contains("Top Layer of: [localhost/demo:latest]"),
        "{above}"
    );
    service.podman_ok(&["rmi", "--ignore", "nosuchimage"]);
    // save, as either archive; what is loaded back runs.
    let dir = tempfile::tempdir().unwrap();
    for format in ["docker-archive", "oci-archive"] {
        let path = dir.path().join(format);
        service.podman_ok(&[
            "save",
            "--format",
            format,
            "-o",
            &path.display().to_string(),
            "demo",
        ]);
        let names: Vec<String> = tar::Archive::new(std::fs::File::open(&path).unwrap())
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        let marker = if format == "oci-archive" {
            "index.json"
        } else {
            "manifest.json"
        };
        assert!(names.iter().any(|n| n == marker), "{format}: {names:?}");
    }
    // A directory format comes as a tar of the directory, which podman-remote unpacks.
    for (format, marker) in [("oci-dir", "index.json"), ("docker-dir", "version")] {
        let path = dir.path().join(format!("{format}-d"));
        service.podman_ok(&[
            "save",
            "--format",
            format,
            "-o",
            &path.display().to_string(),
            "demo",
        ]);
        assert!(path.join(marker).is_file(), "{format}");
    }
    // ps --size.
    service.podman_ok(&[
        "run",
        "--name",
        "writer",
        "demo",
        "sh",
        "-c",
        "head -c 4000 /dev/zero > /blob",
    ]);
    // The blob and /etc/mtab's 12 bytes.
    let sizes = service.podman_ok(&["ps", "-a", "--size", "--format", "{{.Names}} {{.Size}}"]);
    assert!(sizes.starts_with("writer 4.01kB (virtual "), "{sizes}");
    // Health checks given through podman-remote, run on demand.
    service.podman_ok(&[
        "run",
        "-d",
        "--name",
        "good",
        "--health-cmd",
        "true",
        "demo",
        "sleep",
        "60",
    ]);
    service.podman_ok(&[
        "run",
        "-d",
        "--name",
        "bad",
        "--health-cmd",
        "false",
        "demo",
        "sleep",
        "60",
    ]);
    service.podman_ok(&["healthcheck", "run", "good"]);
    assert_eq!(
        service
            .podman_ok(&["inspect", "-f", "{{.State.Health.Status}}", "good"])
            .trim(),
        "healthy"
    );
    let out = service.podman_out(&["healthcheck", "run", "bad"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "unhealthy");
    assert!(!service
        .podman_out(&["healthcheck", "run", "writer"])
        .status
        .success());
    // Docker's events name the verdict in the action; `event=health_status` finds them.
    assert_eq!(
        service.docker_past_events(&["event=health_status", "container=good"], "{{.Action}}"),
        "health_status: healthy\n"
    );
    service.podman_ok(&["rm", "-f", "-t", "0", "good", "bad"]);
    // --health-on-failure reaches the service (podman's numbered action).
    service.podman_ok(&[
        "run",
        "-d",
        "--name",
        "failing",
        "--health-cmd",
        "false",
        "--health-retries",
        "1",
        "--health-on-failure",
        "kill",
        "demo",
        "sleep",
        "300",
    ]);
    assert_eq!(
        service
            .rpod
            .inspect("failing", "{{.Config.HealthcheckOnFailureAction}}"),
        "kill"
    );
    assert!(!service
        .podman_out(&["healthcheck", "run", "failing"])
        .status
        .success());
    assert_eq!(
        service
            .rpod
            .inspect("failing", "{{.State.Status}} {{.State.ExitCode}}"),
        "exited 137"
    );
}

#[test]
fn podman_remote_checkpoints_and_restores() {
    let service = Service::start();
    service.podman_ok(&[
        "run",
        "-d",
        "--name",
        "counter",
        "-v",
        "rvol:/data",
        "demo",
        "sh",
        "-c",
        "echo kept > /data/f; i=0; while true; do i=$((i+1)); echo $i > /tmp/count.new; mv /tmp/count.new /tmp/count; sleep 0.1; done",
    ]);
    // 0 until the counter wrote its file (it replaces it whole: never read half-written).
    let count = |name: &str| -> u64 {
        let out = service.podman_out(&["exec", name, "cat", "/tmp/count"]);
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .unwrap_or(0)
    };
    wait_until("the counter counts", || count("counter") > 3);
    // In place: the process is gone after the checkpoint and goes on after the restore.
    service.podman_ok(&["container", "checkpoint", "counter"]);
    assert_eq!(
        service
            .podman_ok(&["inspect", "-f", "{{.State.Running}}", "counter"])
            .trim(),
        "false"
    );
    let restored = service.podman_ok(&["container", "restore", "counter"]);
    assert_eq!(restored.trim(), "counter");
    let before = count("counter");
    wait_until("the restored counter goes on", || count("counter") > before);
    // --leave-running (podman-remote's `leaverunning`, in lower case): it still runs.
    service.podman_ok(&["container", "checkpoint", "--leave-running", "counter"]);
    assert_eq!(
        service
            .podman_ok(&["inspect", "-f", "{{.State.Running}}", "counter"])
            .trim(),
        "true"
    );
    // Exported, then imported as a new container: it goes on from where it was.
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("counter.tar.gz");
    service.podman_ok(&[
        "container",
        "checkpoint",
        "-e",
        &archive.display().to_string(),
        "counter",
    ]);
    assert!(std::fs::metadata(&archive).unwrap().len() > 0);
    let at_dump = service
        .podman_ok(&["inspect", "-f", "{{.State.Running}}", "counter"])
        .trim()
        .to_string();
    assert_eq!(at_dump, "false");
    service.podman_ok(&["rm", "-f", "counter"]);
    // The archive holds the volume's content, which would mix with the volume still here.
    let archive_text = archive.display().to_string();
    let mut import = vec![
        "container",
        "restore",
        "-i",
        &archive_text,
        "--name",
        "copy",
    ];
    let refused = service.podman_out(&import);
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("volume with name rvol already exists"),
        "{refused:?}"
    );
    import.extend([
        "--ignore-volumes",
        "--ignore-static-ip",
        "--ignore-static-mac",
    ]);
    let id = service.podman_ok(&import);
    assert_eq!(id.trim().len(), 64, "{id}");
    let resumed = count("copy");
    assert!(resumed >= before, "{resumed} < {before}");
    wait_until("the imported counter goes on", || count("copy") > resumed);
    assert_eq!(
        service.podman_ok(&["exec", "copy", "cat", "/data/f"]),
        "kept\n"
    );
    // A checkpoint image (`createImage`), restored once the container and its volume are
    // gone.
    service.podman_ok(&[
        "container",
        "checkpoint",
        "--create-image",
        "copy-cp",
        "copy",
    ]);
    service.podman_ok(&["rm", "-f", "-t", "0", "copy"]);
    service.podman_ok(&["volume", "rm", "rvol"]);
    service.podman_ok(&["container", "restore", "copy-cp"]);
    let from_image = count("copy");
    wait_until("the counter from the image goes on", || {
        count("copy") > from_image
    });
    assert_eq!(
        service.podman_ok(&["exec", "copy", "cat", "/data/f"]),
        "kept\n"
    );
    // What rpod's checkpoints do not do is refused.
    assert!(!service
        .podman_out(&["container", "checkpoint", "--with-previous", "copy"])
        .status
        .success());
    service.podman_ok(&["rm", "-f", "-t", "0", "copy"]);
}

/// rpod's own client: `container checkpoint` and `restore` in place, `--export` to a file
/// here and `--import` from it, `--all`, `--print-stats`, and the refusals.
#[test]
fn rpod_remote_checkpoints_and_restores() {
    let service = Service::start();
    service.remote_ok(&[
        "run",
        "-d",
        "--name",
        "counter",
        "demo",
        "sh",
        "-c",
        "i=0; while true; do i=$((i+1)); echo $i > /tmp/count.new; mv /tmp/count.new /tmp/count; sleep 0.1; done",
    ]);
    let count = |name: &str| -> u64 {
        let out = service.remote_out(&["exec", name, "cat", "/tmp/count"]);
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .unwrap_or(0)
    };
    let running = |name: &str| service.rpod.inspect(name, "{{.State.Running}}");
    let id = service.rpod.inspect("counter", "{{.Id}}");
    wait_until("the counter counts", || count("counter") > 3);
    // In place: each prints the container's ID, as locally.
    assert_eq!(
        service
            .remote_ok(&["container", "checkpoint", "counter"])
            .trim(),
        id
    );
    assert_eq!(running("counter"), "false");
    assert_eq!(
        service
            .remote_ok(&["container", "restore", "counter"])
            .trim(),
        id
    );
    let before = count("counter");
    wait_until("the restored counter goes on", || count("counter") > before);
    // --leave-running with --print-stats: podman's JSON.
    let stats = service.remote_ok(&[
        "container",
        "checkpoint",
        "--leave-running",
        "--print-stats",
        "counter",
    ]);
    let stats: serde_json::Value = serde_json::from_str(&stats).unwrap();
    assert_eq!(
        stats["container_statistics"][0]["Id"],
        id.as_str(),
        "{stats}"
    );
    assert!(
        stats["podman_checkpoint_duration"].as_i64().unwrap() > 0,
        "{stats}"
    );
    assert_eq!(running("counter"), "true");
    // Exported to a file here, then imported as a new container that goes on.
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("counter.tar.gz");
    let archive_arg = archive.display().to_string();
    assert_eq!(
        service
            .remote_ok(&["container", "checkpoint", "-e", &archive_arg, "counter"])
            .trim(),
        id
    );
    assert!(std::fs::metadata(&archive).unwrap().len() > 0);
    assert_eq!(running("counter"), "false");
    service.remote_ok(&["rm", "-f", "counter"]);
    let copy = service.remote_ok(&[
        "container",
        "restore",
        "-i",
        &archive_arg,
        "--name",
        "copy",
        "--ignore-static-ip",
        "--ignore-static-mac",
    ]);
    assert_eq!(copy.trim(), service.rpod.inspect("copy", "{{.Id}}"));
    let resumed = count("copy");
    assert!(resumed >= before, "{resumed} < {before}");
    wait_until("the imported counter goes on", || count("copy") > resumed);
    // --all: the running ones are checkpointed, then the checkpointed ones restored.
    assert_eq!(
        service
            .remote_ok(&["container", "checkpoint", "--all"])
            .trim(),
        copy.trim()
    );
    assert_eq!(
        service.remote_ok(&["container", "restore", "--all"]).trim(),
        copy.trim()
    );
    assert_eq!(running("copy"), "true");
    // Refused: what rpod's checkpoints do not do, what needs this side, a missing file.
    for (args, says) in [
        (
            &["container", "checkpoint", "--with-previous", "copy"][..],
            "pre-dumps",
        ),
        (
            &[
                "container",
                "checkpoint",
                "-e",
                &archive_arg,
                "-c",
                "zstd",
                "copy",
            ],
            "--compress",
        ),
        (&["container", "checkpoint", "--latest"], "--latest"),
        (
            &["container", "restore", "-i", "/nonexistent.tar.gz"],
            "/nonexistent.tar.gz",
        ),
        (&["container", "restore", "nosuch"], "nosuch"),
    ] {
        let out = service.remote_out(args);
        assert_eq!(out.status.code(), Some(125), "{args:?}: {out:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(says),
            "{args:?}: {out:?}"
        );
    }
    // An export the service refuses (the container does not run) leaves no file here.
    service
        .rpod
        .ok(&["create", "--name", "idle", "demo", "true"]);
    let refused = dir.path().join("idle.tar.gz");
    let out = service.remote_out(&[
        "container",
        "checkpoint",
        "-e",
        &refused.display().to_string(),
        "idle",
    ]);
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    assert!(!refused.exists(), "{out:?}");
    service.remote_ok(&["rm", "-f", "-t", "0", "copy", "idle"]);
}

#[test]
fn docker_ps_filters_as_the_command_line() {
    let service = Service::start();
    let out = service.docker_out(&["run", "--name", "first", "demo", "sh", "-c", "exit 3"]);
    assert_eq!(out.status.code(), Some(3));
    service.docker_ok(&[
        "run",
        "-d",
        "--name",
        "second",
        "-v",
        "vol:/data",
        "demo",
        "sleep",
        "300",
    ]);
    let names = |filter: &str| {
        service
            .docker_ok(&["ps", "-a", "--filter", filter, "--format", "{{.Names}}"])
            .trim()
            .to_string()
    };
    assert_eq!(names("exited=3"), "first");
    assert_eq!(names("status=exited"), "first");
    assert_eq!(names("before=second"), "first");
    assert_eq!(names("since=first"), "second");
    assert_eq!(names("volume=vol"), "second");
    assert_eq!(names("ancestor=localhost/demo").lines().count(), 2);
    // Labels: every one given must match (docker-compose numbers its containers so).
    for (name, labels) in [("l1", ["x=1", "y=2"]), ("l2", ["x=1", "y=3"])] {
        service.docker_ok(&[
            "create", "--name", name, "-l", labels[0], "-l", labels[1], "demo", "true",
        ]);
    }
    let both = |client: &str| {
        let args = [
            "ps",
            "-a",
            "--filter",
            "label=x=1",
            "--filter",
            "label=y=2",
            "--format",
            "{{.Names}}",
        ];
        let out = if client == "docker" {
            service.docker_ok(&args)
        } else {
            service.podman_ok(&args)
        };
        out.trim().to_string()
    };
    assert_eq!(both("docker"), "l1");
    assert_eq!(both("podman-remote"), "l1");
    assert_eq!(names("name=l1").lines().count(), 1);
    // Docker's name filter is a regular expression, tried with and without the slash.
    assert_eq!(names("name=^l[12]$").lines().count(), 2);
    assert_eq!(names("name=^/l1$"), "l1");
    assert_eq!(names("name=^l$"), "");
    service.docker_ok(&["rm", "l1", "l2"]);
    assert!(!service
        .docker_out(&["ps", "--filter", "colour=red"])
        .status
        .success());
    service.docker_ok(&["rm", "-f", "first", "second"]);
}

#[test]
fn docker_rm_force_kills_without_asking_first() {
    let service = Service::start();
    let out = tempfile::tempdir().unwrap();
    service.docker_ok(&[
        "run",
        "-d",
        "--name",
        "stubborn",
        "-v",
        &format!("{}:/out", out.path().display()),
        "demo",
        "sh",
        "-c",
        "trap 'echo asked > /out/term' TERM; touch /out/ready; while true; do sleep 0.1; done",
    ]);
    wait_until("the trap is set", || out.path().join("ready").exists());
    service.docker_ok(&["rm", "-f", "stubborn"]);
    // Docker's forced removal is a SIGKILL: the container was never sent SIGTERM.
    assert!(!out.path().join("term").exists());
    assert_eq!(service.docker_ok(&["ps", "-aq"]), "");
}

#[test]
fn volume_prune_and_list_filters_as_each_client_expects() {
    let service = Service::start();
    service.docker_ok(&["volume", "create", "named"]);
    service.docker_ok(&["volume", "create", "--label", "keep=yes", "labelled"]);
    service.docker_ok(&["run", "--name", "anon-user", "-v", "/data", "demo", "true"]);
    service.docker_ok(&[
        "run",
        "-d",
        "--name",
        "holder",
        "-v",
        "held:/data",
        "demo",
        "sleep",
        "300",
    ]);
    service.docker_ok(&["rm", "anon-user"]);
    let volumes = |args: &[&str]| {
        let mut all = vec!["volume", "ls", "-q"];
        all.extend_from_slice(args);
        let mut names: Vec<String> = service.docker_ok(&all).lines().map(String::from).collect();
        names.sort();
        names
    };
    assert_eq!(volumes(&[]).len(), 4);
    assert!(!volumes(&["-f", "dangling=true"]).contains(&"held".to_string()));
    assert_eq!(volumes(&["-f", "dangling=false"]), ["held"]);
    // --volumes-from through both APIs.
    service.docker_ok(&["exec", "holder", "sh", "-c", "echo held > /data/f"]);
    assert_eq!(
        service.docker_ok(&[
            "run",
            "--rm",
            "--volumes-from",
            "holder:ro",
            "demo",
            "cat",
            "/data/f"
        ]),
        "held\n"
    );
    assert_eq!(
        service.podman_ok(&[
            "run",
            "--rm",
            "--volumes-from",
            "holder",
            "demo",
            "cat",
            "/data/f"
        ]),
        "held\n"
    );
    // Docker's prune (API 1.42 and later): anonymous volumes only; -a the named ones too,
    // a label filter narrowing it; volumes in use stay.
    service.docker_ok(&["volume", "prune", "-f"]);
    assert_eq!(volumes(&[]), ["held", "labelled", "named"]);
    service.docker_ok(&[
        "run",
        "--rm",
        "-v",
        "named:/data",
        "demo",
        "sh",
        "-c",
        "head -c 4000 /dev/zero > /data/f",
    ]);
    let pruned = service.docker_ok(&["volume", "prune", "-a", "-f", "--filter", "label!=keep=yes"]);
    assert_eq!(volumes(&[]), ["held", "labelled"]);
    // What the volume held, from the prune's SpaceReclaimed.
    assert!(pruned.ends_with("Total reclaimed space: 4kB\n"), "{pruned}");
    // podman's prune takes every unused one.
    // podman-remote's filters reach the shared volume filters: label!, until, opt.
    let podman_volumes =
        |filter: &str| service.podman_ok(&["volume", "ls", "-q", "--filter", filter]);
    assert_eq!(podman_volumes("label!=keep"), "held\n");
    assert_eq!(podman_volumes("until=2000-01-01"), "");
    assert!(!service
        .podman_out(&["volume", "ls", "--filter", "colour=red"])
        .status
        .success());
    assert_eq!(
        service.podman_ok(&["volume", "prune", "-f", "--filter", "until=2000-01-01"]),
        ""
    );
    service.podman_ok(&["volume", "prune", "-f"]);
    assert_eq!(volumes(&[]), ["held"]);
    // Image lists by label, and made before or after another image.
    service.docker_ok(&[
        "commit",
        "-c",
        "LABEL tier=web",
        "holder",
        "labelled-image:1",
    ]);
    assert_eq!(
        service
            .docker_ok(&[
                "images",
                "-f",
                "label=tier=web",
                "--format",
                "{{.Repository}}"
            ])
            .trim(),
        "labelled-image"
    );
    assert_eq!(
        service
            .docker_ok(&["images", "-f", "since=demo", "--format", "{{.Repository}}"])
            .trim(),
        "labelled-image"
    );
    assert!(service
        .docker_ok(&["images", "-f", "label=tier=db", "-q"])
        .is_empty());
    service.docker_ok(&["rm", "-f", "holder"]);
}

#[test]
fn run_settings_through_both_apis() {
    let service = Service::start();
    let script = "umask; cat /proc/sys/kernel/domainname; head -1 /proc/self/cgroup; touch /tmp/x && echo writable; env | sort";
    // Docker: the cgroup namespace and parent, the domain name, swappiness, and a
    // read-only root with writable temporary directories (as podman's service gives).
    let parent = format!("rpod-test-api-{}", std::process::id());
    let out = service.docker_ok(&[
        "run",
        "--rm",
        "--cgroupns",
        "host",
        "--cgroup-parent",
        &format!("/{parent}"),
        "--domainname",
        "docker.example",
        "--read-only",
        "--memory-swappiness",
        "10",
        "demo",
        "sh",
        "-c",
        script,
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[..2], ["0022", "docker.example"], "{out}");
    assert!(lines[2].contains(&format!(":/{parent}/")), "{out}");
    assert_eq!(lines[3], "writable", "{out}");
    remove_cgroup_parent(&parent);
    // Docker's inspect shows what was asked (it showed fixed values for these before).
    let id = service
        .docker_ok(&[
            "create",
            "--memory-swappiness",
            "10",
            "--cgroupns",
            "host",
            "--pid",
            "host",
            "--shm-size",
            "32m",
            "--oom-score-adj",
            "100",
            "--ulimit",
            "nofile=100:200",
            "--device",
            "/dev/null:/dev/mynull:r",
            "--domainname",
            "d.example",
            "--cgroup-parent",
            "/elsewhere",
            "--sysctl",
            "kernel.msgmax=4096",
            "demo",
            "true",
        ])
        .trim()
        .to_string();
    let shown = service.docker_ok(&[
        "inspect", "--format",
        "{{.HostConfig.MemorySwappiness}} {{.HostConfig.CgroupnsMode}} {{.HostConfig.PidMode}} {{.HostConfig.UTSMode}}| {{.HostConfig.ShmSize}} {{.HostConfig.OomScoreAdj}} {{range .HostConfig.Ulimits}}{{.Name}}={{.Soft}}:{{.Hard}}{{end}} {{range .HostConfig.Devices}}{{.PathOnHost}}:{{.PathInContainer}}:{{.CgroupPermissions}}{{end}} {{.Config.Domainname}} {{.HostConfig.CgroupParent}} {{.HostConfig.Init}} {{.HostConfig.Sysctls}}",
        &id,
    ]);
    assert_eq!(
        shown.trim(),
        format!(
            "10 host host | {} 100 nofile=100:200 /dev/null:/dev/mynull:r d.example /elsewhere <nil> map[kernel.msgmax:4096]",
            32u64 << 20
        )
    );
    let id = service.docker_ok(&["create", "--init", "demo", "true"]);
    assert_eq!(
        service
            .docker_ok(&[
                "inspect",
                "--format",
                "{{.HostConfig.Init}} {{.HostConfig.Sysctls}}",
                id.trim()
            ])
            .trim(),
        "true map[]"
    );
    service.docker_ok(&["rm", id.trim()]);
    // The OOM killer off, device cgroup rules, annotations, another runtime by name and
    // the local volume driver: taken (they were refused), and shown in the raw inspect as
    // Docker shows them, with the binds and tmpfs mounts (they were null or missing).
    let dir = tempfile::tempdir().unwrap();
    let bind = format!("{}:/x", dir.path().display());
    let id = service.docker_ok(&[
        "create",
        "--oom-kill-disable",
        "--device-cgroup-rule",
        "c 10:200 rwm",
        "--annotation",
        "team=blue",
        "--runtime",
        "crun",
        "--volume-driver",
        "local",
        "-v",
        &bind,
        "--tmpfs",
        "/t:size=1m",
        "demo",
        "true",
    ]);
    let id = id.trim();
    let reply = service.http("GET", &format!("/v1.43/containers/{id}/json"), b"");
    let inspect: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
    let host = &inspect["HostConfig"];
    assert_eq!(host["OomKillDisable"], true, "{host}");
    assert_eq!(
        host["DeviceCgroupRules"],
        serde_json::json!(["c 10:200 rwm"])
    );
    assert_eq!(host["Annotations"]["team"], "blue", "{host}");
    assert_eq!(host["Runtime"], "crun", "{host}");
    let binds = host["Binds"].as_array().cloned().unwrap_or_default();
    assert!(
        binds.iter().any(|b| b
            .as_str()
            .is_some_and(|b| b.starts_with(&format!("{bind}:")))),
        "{host}"
    );
    assert!(
        host["Tmpfs"]["/t"]
            .as_str()
            .is_some_and(|o| o.contains("size=1m")),
        "{host}"
    );
    for key in ["CpuCount", "IOMaximumBandwidth", "KernelMemory"] {
        assert_eq!(host[key], 0, "{key}: {host}");
    }
    for key in ["MaskedPaths", "DeviceRequests", "BlkioDeviceReadBps"] {
        assert!(host.get(key).is_some_and(|v| v.is_null()), "{key}: {host}");
    }
    // Left out when unset, as Docker's.
    assert!(
        host.get("Init").is_none() && host.get("Sysctls").is_none(),
        "{host}"
    );
    // Docker's stop timeout -1: however long it takes (it was refused).
    let patient = service.docker_ok(&["create", "--stop-timeout", "-1", "demo", "true"]);
    assert_eq!(
        service
            .docker_ok(&["inspect", "-f", "{{.Config.StopTimeout}}", patient.trim()])
            .trim(),
        "-1"
    );
    service.docker_ok(&["rm", patient.trim()]);
    // Whether a spec's resources allow a device rule.
    let allows = |resources: &serde_json::Value,
                  kind: &str,
                  major: i64,
                  minor: Option<i64>,
                  access: &str| {
        resources["devices"].as_array().is_some_and(|rules| {
            rules.iter().any(|r| {
                r["type"] == kind
                    && r["major"] == major
                    && r["minor"] == serde_json::json!(minor)
                    && r["access"] == access
                    && r["allow"] == true
            })
        })
    };
    let spec = |id: &str| -> serde_json::Value {
        let path = service.rpod.inspect(id, "{{.OCIConfigPath}}");
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    };
    // The spec is written at the start.
    service.docker_ok(&["start", "-a", id]);
    let docker_spec = spec(id);
    assert_eq!(docker_spec["annotations"]["team"], "blue");
    let resources = &docker_spec["linux"]["resources"];
    assert_eq!(resources["memory"]["disableOOMKiller"], true, "{resources}");
    assert!(allows(resources, "c", 10, Some(200), "rwm"), "{resources}");
    assert_eq!(service.rpod.inspect(id, "{{.OCIRuntime}}"), "crun");
    service.docker_ok(&["rm", id]);
    let out = service.docker_out(&["run", "--rm", "--volume-driver", "flocker", "demo", "true"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("volume driver \"flocker\""),
        "{out:?}"
    );
    // podman-remote's --oom-kill-disable and --device-cgroup-rule (they were refused).
    let id = service.podman_ok(&[
        "create",
        "--oom-kill-disable",
        "--device-cgroup-rule",
        "b 7:* r",
        "demo",
        "true",
    ]);
    let id = id.trim();
    service.podman_ok(&["start", "-a", id]);
    let resources = &spec(id)["linux"]["resources"];
    assert_eq!(resources["memory"]["disableOOMKiller"], true, "{resources}");
    assert!(allows(resources, "b", 7, None, "r"), "{resources}");
    service.podman_ok(&["rm", id]);
    // podman-remote's --tz (the service host's zone file), --security-opt label=disable
    // and apparmor=unconfined (what rpod does anyway); they were refused.
    if std::path::Path::new("/usr/share/zoneinfo/Europe/Paris").is_file() {
        let out = service.podman_ok(&[
            "run",
            "--rm",
            "--tz",
            "Europe/Paris",
            "--security-opt",
            "label=disable",
            "--security-opt",
            "apparmor=unconfined",
            "demo",
            "date",
            "+%Z",
        ]);
        assert!(matches!(out.trim(), "CET" | "CEST"), "{out}");
        // rpod --url sends the zone's name, which the service finds on its host (it sent
        // a bind of the client's file).
        let id = service.remote_ok(&["create", "--tz", "Europe/Paris", "demo", "date", "+%Z"]);
        let shown = service.podman_ok(&["inspect", "--format", "{{.Config.Timezone}}", id.trim()]);
        assert_eq!(shown.trim(), "Europe/Paris");
        let out = service.remote_ok(&["start", "-a", id.trim()]);
        assert!(matches!(out.trim(), "CET" | "CEST"), "{out}");
        service.remote_ok(&["rm", id.trim()]);
    }
    let out = service.podman_out(&["run", "--rm", "--tz", "Nowhere/Atlantis", "demo", "true"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no such time zone"),
        "{out:?}"
    );
    let out = service.podman_out(&[
        "run",
        "--rm",
        "--security-opt",
        "label=type:spc_t",
        "demo",
        "true",
    ]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("label=type:spc_t"),
        "{out:?}"
    );
    // podman-remote: the umask, the environment's defaults, the cgroup namespace.
    let out = service.podman_ok(&[
        "run",
        "--rm",
        "--umask",
        "027",
        "--unsetenv",
        "container",
        "--env-merge",
        "PATH=/opt/bin:$PATH",
        "--cgroupns",
        "private",
        "--read-only",
        "demo",
        "sh",
        "-c",
        script,
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "0027", "{out}");
    assert!(lines[2].ends_with(":/"), "{out}");
    assert_eq!(lines[3], "writable", "{out}");
    assert!(
        out.contains("PATH=/opt/bin:/usr/local/sbin:") && !out.contains("container="),
        "{out}"
    );
    let bare = service.podman_ok(&["run", "--rm", "--unsetenv-all", "demo", "/bin/env"]);
    assert!(!bare.contains("PATH="), "{bare}");
    // A numeric user gets its passwd entry (podman-remote's manage_password, passwd_entry).
    assert_eq!(
        service.podman_ok(&["run", "--rm", "-u", "1234", "demo", "whoami"]),
        "1234\n"
    );
    let entry = service.podman_ok(&[
        "run",
        "--rm",
        "-u",
        "1234",
        "--passwd-entry",
        "$UID:x:$UID:$GID::$HOME:/bin/false",
        "demo",
        "tail",
        "-1",
        "/etc/passwd",
    ]);
    assert_eq!(entry, "1234:x:1234:0::/:/bin/false\n");
    let none = service.podman_out(&[
        "run",
        "--rm",
        "-u",
        "1234",
        "--passwd=false",
        "demo",
        "whoami",
    ]);
    assert!(!none.status.success(), "{none:?}");
    assert_eq!(
        service.docker_ok(&["run", "--rm", "-u", "1234", "demo", "whoami"]),
        "1234\n"
    );
    // An image for another platform is refused through both, with nothing created.
    let arch = service.rpod.inspect("demo", "{{.Architecture}}");
    let other = format!("linux/{}", if arch == "arm64" { "amd64" } else { "arm64" });
    let refused = service.docker_out(&["run", "--rm", "--platform", &other, "demo", "true"]);
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains(&format!("not {other}")),
        "{refused:?}"
    );
    let refused = service.podman_out(&["run", "--rm", "--platform", &other, "demo", "true"]);
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains(&format!("not {other}")),
        "{refused:?}"
    );
    assert_eq!(service.rpod.ok(&["ps", "-aq"]).lines().count(), 1);
    // --requires through podman-remote (dependencyContainers).
    service.podman_ok(&["create", "--name", "base", "demo", "sleep", "300"]);
    service.podman_ok(&[
        "create",
        "--name",
        "upper",
        "--requires",
        "base",
        "demo",
        "sleep",
        "300",
    ]);
    service.podman_ok(&["start", "upper"]);
    assert_eq!(service.rpod.inspect("base", "{{.State.Status}}"), "running");
    service.podman_ok(&["rm", "-f", "-t", "0", "upper", "base"]);
    // podman-remote's init: 204, then 304 (which its client reports as podman does).
    service.podman_ok(&["create", "--name", "early", "demo", "echo", "started"]);
    assert_eq!(
        service.podman_ok(&["init", "early"]),
        "early
"
    );
    assert_eq!(
        service.rpod.inspect("early", "{{.State.Status}}"),
        "initialized"
    );
    let again = service.podman_out(&["init", "early"]);
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already been created"),
        "{again:?}"
    );
    assert_eq!(service.podman_ok(&["start", "-a", "early"]), "started\n");
}

/// Read from a streaming request until `needle` was seen `count` times; then hang up.
fn stream_until(socket: &Path, path: &str, needle: &str, count: usize) -> String {
    let mut conn = UnixStream::connect(socket).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(conn, "GET {path} HTTP/1.1\r\nHost: rpod\r\n\r\n").unwrap();
    let mut seen = Vec::new();
    let mut buffer = [0u8; 4096];
    while String::from_utf8_lossy(&seen).matches(needle).count() < count {
        let n = conn.read(&mut buffer).unwrap();
        assert!(
            n > 0,
            "the stream ended: {}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&buffer[..n]);
    }
    String::from_utf8_lossy(&seen).into_owned()
}

#[test]
fn stats_stream_until_the_client_hangs_up() {
    let service = Service::start();
    service.docker_ok(&[
        "run",
        "-d",
        "--name",
        "busy",
        "demo",
        "sh",
        "-c",
        "while :; do :; done",
    ]);
    let threads = service.threads();
    // Docker's: one object a second, each with the previous reading's CPU.
    let text = stream_until(
        &service.socket,
        "/v1.43/containers/busy/stats",
        "\"precpu_stats\"",
        3,
    );
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    let objects: Vec<serde_json::Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str(l.trim()).ok())
        .filter(|v: &serde_json::Value| v.get("cpu_stats").is_some())
        .collect();
    assert!(objects.len() >= 2, "{text}");
    let total = |v: &serde_json::Value| {
        v["cpu_stats"]["cpu_usage"]["total_usage"]
            .as_u64()
            .unwrap_or(0)
    };
    assert!(total(&objects[1]) > total(&objects[0]), "{text}");
    // podman's: a report each interval.
    let text = stream_until(
        &service.socket,
        "/v4.0.0/libpod/containers/stats?containers=busy&stream=true&interval=1",
        "\"CPUNano\"",
        2,
    );
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    // The service goes on after the clients hung up, with no stream left behind.
    assert_eq!(service.http("GET", "/_ping", b"").status, 200);
    wait_until("the streams end", || service.threads() <= threads);
    service.docker_ok(&["rm", "-f", "busy"]);
}

#[test]
fn podman_remote_removes_every_image_at_once() {
    let service = Service::start();
    let tarball = busybox_tarball().display().to_string();
    service
        .rpod
        .ok(&["import", "--change", "LABEL n=2", &tarball, "second"]);
    service.rpod.ok(&["tag", "demo", "demo-alias"]);
    service.podman_ok(&["create", "--name", "user", "second", "true"]);
    // -a: every image; the one a container uses stays (exit 2), the others go.
    let out = service.podman_out(&["rmi", "-a"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert_eq!(
        service.rpod.ok(&["images", "--format", "{{.Repository}}"]),
        "localhost/second\n"
    );
    // -a -f: the container goes with it.
    service.podman_ok(&["rmi", "-a", "-f"]);
    assert_eq!(service.rpod.ok(&["images", "-q"]), "");
    assert_eq!(service.rpod.ok(&["ps", "-aq"]), "");
}

#[test]
fn podman_remote_generates_systemd_units() {
    let service = Service::start();
    service.podman_ok(&["create", "--name", "web", "demo", "sleep", "300"]);
    let unit = service.podman_ok(&[
        "generate",
        "systemd",
        "--name",
        "--restart-policy",
        "always",
        "-e",
        "A=1",
        "--start-timeout",
        "9",
        "--no-header",
        "web",
    ]);
    let lines: Vec<&str> = unit.lines().collect();
    assert_eq!(lines[0], "[Unit]", "{unit}");
    for line in [
        "Environment=A=1",
        "Restart=always",
        "TimeoutStartSec=9",
        "Type=forking",
    ] {
        assert!(lines.contains(&line), "{line} in {unit}");
    }
    let start = lines.iter().find(|l| l.starts_with("ExecStart=")).unwrap();
    assert!(start.ends_with(" start web"), "{start}");
    // --new: podman-remote sends its create command, whose flags rpod's run takes; a
    // container made through Docker's API has none.
    let unit = service.podman_ok(&["generate", "systemd", "--new", "web"]);
    let start = unit.lines().find(|l| l.starts_with("ExecStart=")).unwrap();
    assert!(
        start.ends_with(" --replace --name web demo sleep 300"),
        "{start}"
    );
    // --template: a unit whose instances name their containers after themselves.
    let unit = service.podman_ok(&["generate", "systemd", "--template", "--name", "web"]);
    assert!(unit.starts_with("# container-web@.service\n"), "{unit}");
    let start = unit.lines().find(|l| l.starts_with("ExecStart=")).unwrap();
    assert!(start.contains(" --name web-%i "), "{start}");
    service.docker_ok(&["create", "--name", "dockers", "demo", "true"]);
    let out = service.podman_out(&["generate", "systemd", "--new", "dockers"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no create command"),
        "{out:?}"
    );
    let out = service.podman_out(&[
        "generate",
        "systemd",
        "--restart-policy",
        "sometimes",
        "web",
    ]);
    assert!(!out.status.success());
}

/// rpod's own client: `generate systemd` and `generate kube` (`kube generate`) print, or
/// write here, what the local commands do for the same containers.
#[test]
fn rpod_remote_generates_units_and_kube_yaml() {
    let service = Service::start();
    service.rpod.ok(&[
        "create", "--name", "web", "-p", "18089:80", "demo", "sleep", "300",
    ]);
    for args in [
        &["generate", "systemd", "--name", "--no-header", "web"][..],
        &[
            "generate",
            "systemd",
            "--new",
            "--restart-policy",
            "always",
            "--restart-sec",
            "3",
            "-t",
            "7",
            "--start-timeout",
            "9",
            "-e",
            "A=1",
            "--wants",
            "network-online.target",
            "--after",
            "a.service",
            "--requires",
            "b.service",
            "--container-prefix",
            "box",
            "--separator",
            "_",
            "--no-header",
            "web",
        ],
        &[
            "generate",
            "systemd",
            "--template",
            "--name",
            "--no-header",
            "--format",
            "json",
            "web",
        ],
    ] {
        let remote = service.remote_ok(args);
        assert!(remote.contains("ExecStart="), "{remote}");
        assert_eq!(remote, service.rpod.ok(args), "{args:?}");
    }
    // --files: written here.
    let dir = tempfile::tempdir().unwrap();
    let out = service
        .remote(&[
            "generate",
            "systemd",
            "--files",
            "--name",
            "--no-header",
            "web",
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let file = dir.path().join("container-web.service");
    assert!(
        std::fs::read_to_string(&file)
            .unwrap()
            .contains("ExecStart="),
        "{out:?}"
    );
    // The YAML, but for the time it was made at.
    let undated = |yaml: String| -> String {
        yaml.lines()
            .filter(|l| !l.contains("creationTimestamp") && !l.starts_with('#'))
            .map(|l| format!("{l}\n"))
            .collect()
    };
    for args in [
        &["generate", "kube", "web"][..],
        &["kube", "generate", "--service", "web"],
    ] {
        let remote = service.remote_ok(args);
        assert!(remote.contains("kind: Pod"), "{remote}");
        assert_eq!(undated(remote), undated(service.rpod.ok(args)), "{args:?}");
    }
    let yaml = dir.path().join("web.yaml");
    let yaml_arg = yaml.display().to_string();
    service.remote_ok(&["generate", "kube", "-f", &yaml_arg, "web"]);
    assert!(std::fs::read_to_string(&yaml)
        .unwrap()
        .contains("kind: Pod"));
    // An existing file is not replaced; unknown names and bad flags are refused.
    for args in [
        &["generate", "kube", "-f", &yaml_arg, "web"][..],
        &["generate", "kube", "nosuch"],
        &["generate", "systemd", "nosuch"],
        &["generate", "systemd", "--format", "yaml", "web"],
        &["generate", "systemd", "--template", "--new=false", "web"],
    ] {
        let out = service.remote_out(args);
        assert_eq!(out.status.code(), Some(125), "{args:?}: {out:?}");
    }
}

#[test]
fn docker_and_podman_remote_pull_push_and_log_in_through_the_service() {
    let registry = Registry::start(RegistrySetup {
        user: Some(("alice", "s3cret")),
        tls: false,
    });
    let host = registry.host.clone();
    let service = Service::start();
    let target = format!("{host}/svc/demo:1");
    service.docker_ok(&["tag", "demo", &target]);
    // docker: a loopback registry is reached over HTTP, as the Docker daemon does.
    let out = service.docker_out(&["push", &target]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("authentication required"),
        "{out:?}"
    );
    let out = service.docker_out(&["login", "-u", "alice", "-p", "wrong", &host]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("invalid username/password"),
        "{out:?}"
    );
    assert!(service
        .docker_ok(&["login", "-u", "alice", "-p", "s3cret", &host])
        .contains("Login Succeeded"));
    let pushed = service.docker_ok(&["push", &target]);
    assert!(pushed.contains("1: digest: sha256:"), "{pushed}");
    service.docker_ok(&["rmi", &target]);
    let pulled = service.docker_ok(&["pull", &target]);
    assert!(pulled.contains("Downloaded newer image"), "{pulled}");
    assert_eq!(
        service.docker_ok(&["run", "--rm", &target, "echo", "via docker"]),
        "via docker\n"
    );
    let missing = format!("{host}/svc/none:1");
    let out = service.docker_out(&["run", "--rm", &missing, "true"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("manifest unknown"),
        "{out:?}"
    );

    let out = service.docker_out(&["push", &format!("{host}/svc/none:1")]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("No such image"),
        "{out:?}"
    );

    // podman-remote: with --creds, then with its credentials file (sent as a map).
    let out = service.podman_out(&[
        "push",
        "--tls-verify=false",
        "demo",
        &format!("{host}/svc/denied:1"),
    ]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("authentication required"),
        "{out:?}"
    );
    let again = format!("{host}/svc/again:2");
    service.podman_ok(&[
        "push",
        "--tls-verify=false",
        "--creds",
        "alice:s3cret",
        "demo",
        &again,
    ]);
    let id = service.podman_ok(&[
        "pull",
        "-q",
        "--tls-verify=false",
        "--creds",
        "alice:s3cret",
        &again,
    ]);
    assert_eq!(id.trim(), service.rpod.inspect("demo", "{{.Id}}"));
    let out = service.podman_out(&["pull", "--tls-verify=false", &again]);
    assert!(!out.status.success(), "pulled without credentials: {out:?}");
    // A destination on the service's host: podman-remote's and rpod's pushes write it
    // there; it has no digest for --digestfile.
    let local = tempfile::tempdir().unwrap();
    let dir = local.path().join("dir");
    service.podman_ok(&["push", "demo", &format!("dir:{}", dir.display())]);
    assert!(dir.join("manifest.json").is_file());
    let archive = format!("oci-archive:{}", local.path().join("oci.tar").display());
    service.remote_ok(&["push", "demo", &archive]);
    assert_eq!(
        service.rpod.ok(&["pull", "-q", &archive]).trim(),
        service.rpod.inspect("demo", "{{.Id}}")
    );
    let out = service.remote_out(&[
        "push",
        "--digestfile",
        &local.path().join("digest").display().to_string(),
        "demo",
        &format!("dir:{}", local.path().join("other").display()),
    ]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--digestfile"),
        "{out:?}"
    );
    // An error after the progress began ends the stream, and podman-remote says it.
    let out = service.podman_out(&[
        "pull",
        "--tls-verify=false",
        "--creds",
        "alice:s3cret",
        &missing,
    ]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("manifest unknown"),
        "{out:?}"
    );
    let auth = service.rpod.dir.path().join("auth.json");
    std::fs::write(
        &auth,
        format!(r#"{{"auths":{{"{host}":{{"auth":"YWxpY2U6czNjcmV0"}}}}}}"#),
    )
    .unwrap();
    let id = service.podman_ok(&["pull", "-q", "--tls-verify=false", &again]);
    assert_eq!(id.trim(), service.rpod.inspect("demo", "{{.Id}}"));

    // Searches: docker's (logged in above) and podman-remote's tags of a repository.
    let found = service.docker_ok(&["search", &format!("{host}/svc")]);
    assert!(found.contains(&format!("{host}/svc/demo")), "{found}");
    assert!(found.contains(&format!("{host}/svc/again")), "{found}");
    let repository = format!("{host}/svc/demo");
    let tags = service.podman_ok(&["search", "--list-tags", "--tls-verify=false", &repository]);
    let rows: Vec<Vec<&str>> = tags
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows, [vec!["NAME", "TAG"], vec![repository.as_str(), "1"]]);
    // rpod's own client: the service searches with the credentials sent, and the results
    // are printed as the local command prints them.
    let svc = format!("{host}/svc");
    for args in [
        &[
            "search",
            "--tls-verify=false",
            "--creds",
            "alice:s3cret",
            &svc,
        ][..],
        &[
            "search",
            "--tls-verify=false",
            "--creds",
            "alice:s3cret",
            "--list-tags",
            &repository,
        ],
        &[
            "search",
            "--tls-verify=false",
            "--creds",
            "alice:s3cret",
            "--format",
            "json",
            "--limit",
            "1",
            &svc,
        ],
    ] {
        let remote = service.remote_ok(args);
        assert!(
            remote.contains(&repository) || args.contains(&"--limit"),
            "{remote}"
        );
        assert_eq!(remote, service.rpod.ok(args), "{args:?}");
    }
    let out = service.remote_out(&["search", "--list-tags", "--filter", "stars=1", &svc]);
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    let out = service.remote_out(&["search", "--authfile", "/tmp/auth.json", &svc]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--authfile of \"rpod search\""),
        "{out:?}"
    );
}

/// A checkpoint archive uploaded for a restore (`podman container restore -i` remote) stops
/// at the store's free-space reserve: the service says so and keeps nothing of it.
#[test]
fn an_uploaded_checkpoint_stops_at_the_free_space_reserve() {
    let rpod = Rpod::with_config(
        "runc",
        &format!("{NO_NETWORK_CONFIG}[storage]\nkeep_free = \"32m\"\n"),
    );
    let disk = SmallDisk::mount(rpod.root(), "96m");
    let service = Service::start_with(rpod, &["--time", "0"]);
    let size: u64 = 160 << 20;
    let mut conn = UnixStream::connect(&service.socket).unwrap();
    write!(
        conn,
        "POST /v4.3.1/libpod/containers/x/restore?import=true&name=big HTTP/1.1\r\n\
         Host: rpod\r\nConnection: close\r\nContent-Length: {size}\r\n\r\n"
    )
    .unwrap();
    let mut upload = conn.try_clone().unwrap();
    // The service stops reading once it refuses: the rest of the upload fails.
    let feeder = std::thread::spawn(move || {
        let _ = std::io::copy(&mut std::io::repeat(0).take(size), &mut upload);
    });
    let mut answer = Vec::new();
    let _ = conn.read_to_end(&mut answer);
    drop(conn);
    let _ = feeder.join();
    let reply = parse_reply(&answer);
    assert_eq!(
        reply.status,
        500,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert!(reply.message().contains("keep_free"), "{}", reply.message());
    let root = service.rpod.root();
    wait_until("the upload's scratch space is gone", || {
        std::fs::read_dir(root.join("tmp"))
            .map(|d| d.count())
            .unwrap_or(0)
            == 0
    });
    assert!(available_bytes(&root) > 80 << 20);
    assert_eq!(service.rpod.ok(&["ps", "-aq"]), "");
    // The tmpfs goes before the store's directory is removed.
    drop(disk);
}

/// TLS on TCP: the docker CLI with a client certificate runs, attaches (both ways, byte
/// exact) and execs, and so does rpod's own client (`--tls-ca`, `--tls-cert`, `--tls-key`,
/// or a connection that keeps them); a client without a certificate, or speaking plain
/// HTTP, gets nothing; TLS flags that cannot work are refused.
#[test]
fn a_tls_service_takes_only_clients_with_a_certificate() {
    let rpod = Rpod::with_image("runc");
    let pki = tempfile::tempdir().unwrap();
    registry_server::make_certificate(pki.path());
    let file = |name: &str| pki.path().join(name).display().to_string();
    let port = free_port();
    let host = format!("tcp://127.0.0.1:{port}");
    let (cert, key, ca) = (file("server.crt"), file("server.key"), file("certs/ca.crt"));
    let tls_flags = [
        "--tls-cert",
        &cert,
        "--tls-key",
        &key,
        "--tls-client-ca",
        &ca,
    ];
    let mut args = vec!["system", "service", "--time", "0"];
    args.extend_from_slice(&tls_flags);
    args.push(&host);
    // Killed on a failed assertion too, so no service outlives the test.
    let service = KillOnDrop(rpod.command(&args).stderr(Stdio::null()).spawn().unwrap());
    wait_until("the TLS service listens", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    let docker_config = tempfile::tempdir().unwrap();
    let (client_cert, client_key) = (file("client.crt"), file("client.key"));
    let docker = |tls: &[&str], args: &[&str]| {
        let mut command = Command::new(docker_binary());
        command
            .env("DOCKER_CONFIG", docker_config.path())
            .env_remove("DOCKER_HOST")
            .env_remove("DOCKER_API_VERSION")
            .env_remove("DOCKER_TLS_VERIFY")
            .env_remove("DOCKER_CERT_PATH")
            .args(["-H", &host])
            .args(tls)
            .args(args);
        command
    };
    let verified = [
        "--tlsverify",
        "--tlscacert",
        &ca,
        "--tlscert",
        &client_cert,
        "--tlskey",
        &client_key,
    ];
    let out = docker(&verified, &["run", "--rm", "demo", "echo", "hello"])
        .output()
        .unwrap();
    assert_eq!(succeeded("docker", &["run"], out), "hello\n");
    // Stdin through the relay, half-closed at its end, and a large output back.
    let stdin = vec![b'x'; 1 << 20];
    let out = pipe_through(
        docker(&verified, &["run", "-i", "--rm", "demo", "wc", "-c"]).stdin(Stdio::piped()),
        &stdin,
    );
    assert_eq!(succeeded("docker", &["run", "-i"], out).trim(), "1048576");
    let out = docker(
        &verified,
        &[
            "run",
            "--rm",
            "demo",
            "sh",
            "-c",
            "head -c 5000000 /dev/zero | tr '\\0' y",
        ],
    )
    .output()
    .unwrap();
    assert_eq!(out.stdout.len(), 5_000_000, "{out:?}");
    assert!(out.stdout.iter().all(|b| *b == b'y'));
    succeeded(
        "docker",
        &["run", "-d"],
        docker(
            &verified,
            &["run", "-d", "--name", "idle", "demo", "sleep", "100"],
        )
        .output()
        .unwrap(),
    );
    let out = docker(&verified, &["exec", "idle", "echo", "inside"])
        .output()
        .unwrap();
    assert_eq!(succeeded("docker", &["exec"], out), "inside\n");

    // rpod as the client: the same runs, attaches and execs through its own relay.
    let unused = rpod.dir.path().join("client-store");
    // The connections file lives beside this configuration.
    let client_config = rpod.config_path();
    let rpod_client = |tls: &[&str], args: &[&str]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_rpod"));
        command
            .args(tls)
            .args(args)
            .env("RPOD_ROOT", &unused)
            .env("RPOD_RUNROOT", &unused)
            .env("RPOD_CONFIG", &client_config)
            .env_remove("CONTAINER_HOST")
            .env_remove("CONTAINER_CONNECTION")
            .stdin(Stdio::null());
        command
    };
    let rpod_verified = [
        "--url",
        &host,
        "--tls-ca",
        &ca,
        "--tls-cert",
        &client_cert,
        "--tls-key",
        &client_key,
    ];
    let out = rpod_client(&rpod_verified, &["run", "--rm", "demo", "echo", "hello"])
        .output()
        .unwrap();
    assert_eq!(succeeded("rpod", &["run"], out), "hello\n");
    // Stdin's end crosses as a half-close, and the output after it still comes.
    let out = pipe_through(
        rpod_client(
            &rpod_verified,
            &[
                "run",
                "-i",
                "--rm",
                "demo",
                "sh",
                "-c",
                "wc -c; sleep 3; echo later",
            ],
        )
        .stdin(Stdio::piped()),
        &stdin,
    );
    assert_eq!(succeeded("rpod", &["run", "-i"], out), "1048576\nlater\n");
    let out = rpod_client(&rpod_verified, &["exec", "idle", "echo", "inside"])
        .output()
        .unwrap();
    assert_eq!(succeeded("rpod", &["exec"], out), "inside\n");
    // A connection keeps the files.
    let out = rpod_client(
        &[],
        &[
            "system",
            "connection",
            "add",
            "--tls-ca",
            &ca,
            "--tls-cert",
            &client_cert,
            "--tls-key",
            &client_key,
            "safe",
            &host,
        ],
    )
    .output()
    .unwrap();
    succeeded("rpod", &["system", "connection", "add"], out);
    let out = rpod_client(&["-c", "safe"], &["ps", "--format", "{{.Names}}"])
        .output()
        .unwrap();
    assert_eq!(succeeded("rpod", &["ps"], out), "idle\n");
    // Without its certificate the service refuses rpod, and rpod says why; with no TLS
    // at all, or trusting another CA, it gets nowhere either.
    let refused_client = |tls: &[&str], says: &str| {
        let out = rpod_client(tls, &["ps"]).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(125), "{tls:?}: {err}");
        assert!(err.contains(says), "{tls:?}: {err}");
    };
    refused_client(&["--url", &host, "--tls-ca", &ca], "CertificateRequired");
    refused_client(&["--url", &host], "tcp://127.0.0.1");
    refused_client(&["--url", &host, "--tls-ca", &cert], "certificate");
    refused_client(&["--tls-ca", &ca], "remote service");

    // Without a client certificate, and without TLS at all: refused.
    let out = docker(&["--tls", "--tlscacert", &ca], &["version"])
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "a client without a certificate got in"
    );
    let out = docker(&[], &["version"]).output().unwrap();
    assert!(!out.status.success(), "a plain HTTP client got in");
    let mut plain = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    plain
        .write_all(b"GET /v1.43/_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = Vec::new();
    let _ = plain.read_to_end(&mut answer);
    assert!(!answer.starts_with(b"HTTP/"), "{answer:?}");
    // And the service still serves its clients.
    let out = docker(&verified, &["rm", "-f", "idle"]).output().unwrap();
    succeeded("docker", &["rm"], out);
    drop(service);

    // TLS needs TCP, and files that hold what they should.
    let socket = format!("unix://{}", rpod.dir.path().join("api.sock").display());
    let refused = |tls: &[&str], address: &str, says: &str| {
        let mut args = vec!["system", "service", "--time", "0"];
        args.extend_from_slice(tls);
        args.push(address);
        let err = rpod.fails(&args, 125);
        assert!(err.contains(says), "{tls:?} {address}: {err}");
    };
    refused(
        &["--tls-cert", &cert, "--tls-key", &key],
        &socket,
        "TCP address",
    );
    refused(
        &["--tls-cert", &key, "--tls-key", &key],
        &host,
        "no PEM certificate",
    );
    refused(
        &["--tls-cert", &cert, "--tls-key", &client_key],
        &host,
        &client_key,
    );
    refused(&["--tls-cert", &cert], &host, "--tls-key");
}

/// `docker run --log-opt`: the options reach the container (they were dropped before), and
/// one rpod does not know is refused, not ignored.
#[test]
fn docker_log_options_are_taken_or_refused() {
    let service = Service::start();
    service.docker_ok(&[
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
    assert_eq!(
        service.rpod.inspect(
            "chatty",
            "{{.HostConfig.LogConfig.Tag}} {{.HostConfig.LogConfig.Size}}"
        ),
        "web 1kB"
    );
    // Docker's inspect shows them, with the size in bytes.
    assert_eq!(
        service
            .docker_ok(&[
                "inspect",
                "--format",
                "{{json .HostConfig.LogConfig.Config}}",
                "chatty"
            ])
            .trim(),
        r#"{"max-size":"1000","tag":"web"}"#
    );
    let log = service.docker_ok(&["logs", "chatty"]);
    assert!(
        log.ends_with("2000\n") && !log.starts_with("1\n"),
        "{}",
        log.len()
    );
    let out = service.docker_out(&["run", "--rm", "--log-opt", "compress=true", "demo", "true"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("compress"),
        "{out:?}"
    );
}

/// rpod's own client: `kube play` (from a file and from standard input, with its flags)
/// and `kube down`, reported as the local commands report.
#[test]
fn rpod_remote_plays_kubernetes_yaml() {
    let service = Service::start();
    let yaml = "apiVersion: v1\nkind: Pod\nmetadata: {name: remote}\nspec:\n  restartPolicy: Never\n  \
                terminationGracePeriodSeconds: 0\n  containers:\n  - name: main\n    image: demo\n    \
                command: [sh, -c, 'echo played $GREETING; sleep 1000']\n    env: [{name: GREETING, value: hi}]\n";
    let file = service.rpod.dir.path().join("pod.yaml");
    std::fs::write(&file, yaml).unwrap();
    let file = file.display().to_string();
    let out = service.remote_ok(&[
        "kube",
        "play",
        "--annotation",
        "team=db",
        "--log-opt",
        "tag=remote",
        &file,
    ]);
    let pod = service
        .rpod
        .ok(&["pod", "inspect", "-f", "{{.Id}}", "remote"]);
    let container = service.rpod.inspect("remote-main", "{{.Id}}");
    assert_eq!(
        out,
        format!("Pod:\n{}Container:\n{container}\n\n", pod),
        "{out}"
    );
    wait_until("the container wrote", || {
        service.rpod.ok(&["logs", "remote-main"]) == "played hi\n"
    });
    assert_eq!(
        service.rpod.inspect(
            "remote-main",
            "{{index .Config.Annotations \"team\"}} {{.HostConfig.LogConfig.Tag}}"
        ),
        "db remote"
    );
    let out = service.remote_ok(&["kube", "down", &file]);
    assert_eq!(
        out,
        format!("Pods stopped:\n{pod}Pods removed:\n{pod}"),
        "{out}"
    );
    assert_eq!(service.rpod.ok(&["pod", "ps", "-q"]), "");
    // From standard input, not started (`play kube`, its other name); down from stdin.
    let out = pipe_through(
        &mut service.remote(&["play", "kube", "--start=false", "-"]),
        yaml.as_bytes(),
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        service.rpod.inspect("remote-main", "{{.State.Status}}"),
        "created"
    );
    let out = pipe_through(
        &mut service.remote(&["play", "kube", "--down", "-"]),
        yaml.as_bytes(),
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(service.rpod.ok(&["pod", "ps", "-q"]), "");
    // What would need this side's files is refused by name; the service's refusals too.
    for (args, says) in [
        (
            &["kube", "play", "--configmap", "/tmp/cm.yaml", &file][..],
            "--configmap",
        ),
        (&["kube", "play", "--build", &file], "--build"),
        (&["kube", "play", "--userns", "keep-id", &file], "keep-id"),
        (&["kube", "play", "/nonexistent.yaml"], "/nonexistent.yaml"),
    ] {
        let out = service.remote_out(args);
        assert_eq!(out.status.code(), Some(125), "{args:?}: {out:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(says),
            "{args:?}: {out:?}"
        );
    }
    assert_eq!(service.rpod.ok(&["pod", "ps", "-q"]), "");
}

/// podman-remote's `kube play` and `kube down` through the service.
#[test]
fn podman_remote_plays_kubernetes_yaml() {
    let service = Service::start();
    let file = service.rpod.dir.path().join("pod.yaml");
    std::fs::write(
        &file,
        "apiVersion: v1\nkind: Pod\nmetadata: {name: remote}\nspec:\n  restartPolicy: Never\n  \
         terminationGracePeriodSeconds: 0\n  containers:\n  - name: main\n    image: demo\n    \
         command: [sh, -c, 'echo played $GREETING; sleep 1000']\n    env: [{name: GREETING, value: hi}]\n",
    )
    .unwrap();
    let file = file.display().to_string();
    let out = service.podman_ok(&["kube", "play", &file]);
    assert!(
        out.starts_with("Pod:\n") && out.contains("\nContainer:\n"),
        "{out}"
    );
    wait_until("the container wrote", || {
        service.rpod.ok(&["logs", "remote-main"]) == "played hi\n"
    });
    // Its YAML back, as podman-remote's `generate kube` asks for it.
    let yaml = service.podman_ok(&["generate", "kube", "remote"]);
    assert!(
        yaml.contains("kind: Pod") && yaml.contains("name: remote") && yaml.contains("GREETING"),
        "{yaml}"
    );
    // With --service (`service=true`): taken; a pod that publishes nothing gets no Service.
    let yaml = service.podman_ok(&["generate", "kube", "--service", "remote"]);
    assert!(
        yaml.contains("kind: Pod") && !yaml.contains("kind: Service"),
        "{yaml}"
    );
    let out = service.podman_ok(&["kube", "down", &file]);
    assert!(out.contains("Pods removed:"), "{out}");
    assert_eq!(service.rpod.ok(&["pod", "ps", "-q"]), "");
    // --network: the pods join that network instead (here the host's); an unknown one is
    // refused and leaves no pod.
    service.podman_ok(&["kube", "play", "--network", "host", &file]);
    let host_ns = std::fs::read_link("/proc/self/ns/net").unwrap();
    let inside = service
        .rpod
        .ok(&["exec", "remote-main", "readlink", "/proc/self/ns/net"]);
    assert_eq!(inside.trim(), host_ns.display().to_string());
    service.podman_ok(&["kube", "down", &file]);
    // The pods' addresses reach the pods, as podman-remote names them (in lower case:
    // `staticips`): here no bridged network is there to take one, which is said.
    let out = service.podman_out(&["kube", "play", "--ip", "10.0.0.5", &file]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("need a bridged network"),
        "{out:?}"
    );
    assert_eq!(service.rpod.ok(&["pod", "ps", "-q"]), "");
    // Annotations and log options for every container.
    service.podman_ok(&[
        "kube",
        "play",
        "--annotation",
        "team=db",
        "--log-opt",
        "tag=remote",
        &file,
    ]);
    assert_eq!(
        service.rpod.inspect(
            "remote-main",
            "{{index .Config.Annotations \"team\"}} {{.HostConfig.LogConfig.Tag}}"
        ),
        "db remote"
    );
    service.podman_ok(&["kube", "down", &file]);
    // --log-driver (`logDriver`): every container logs so.
    service.podman_ok(&["kube", "play", "--log-driver", "none", &file]);
    assert_eq!(
        service
            .rpod
            .inspect("remote-main", "{{.HostConfig.LogConfig.Type}}"),
        "none"
    );
    service.podman_ok(&["kube", "down", &file]);
    let out = service.podman_out(&["kube", "play", "--network", "nosuchnet", &file]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("nosuchnet"),
        "{out:?}"
    );
    assert_eq!(service.rpod.ok(&["pod", "ps", "-q"]), "");
    // A claim's volume, reported in the libpod API's `Volumes`.
    std::fs::write(
        &file,
        "kind: PersistentVolumeClaim\nmetadata: {name: remote-claim, labels: {via: remote}}\n",
    )
    .unwrap();
    let out = service.podman_ok(&["kube", "play", &file]);
    assert!(out.contains("remote-claim"), "{out}");
    assert_eq!(
        service
            .rpod
            .ok(&["volume", "inspect", "-f", "{{.Labels.via}}", "remote-claim"]),
        "remote\n"
    );
}

/// The RUN steps' settings through the service: the docker CLI's (`--add-host` repeated,
/// `--ulimit` as Docker's objects, `--memory` and `--shm-size` in bytes) and podman-remote's
/// (JSON lists: `--cap-add`, `--dns`, `--ulimit`) reach the steps and not the image; a
/// pull policy rpod has not is refused before the context is sent.
#[test]
fn build_step_settings_come_through_the_service() {
    let service = Service::start();
    let dir = service.rpod.dir.path().join("ctx");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("Dockerfile"),
        "FROM demo\nRUN grep -c buildhost /etc/hosts > /seen; ulimit -n >> /seen; \
         (cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max) >> /seen; \
         df -k /dev/shm | tail -1 | awk '{print $2}' >> /seen; grep CapEff /proc/self/status >> /seen; \
         grep -c 9.9.9.9 /etc/resolv.conf >> /seen; true\n",
    )
    .unwrap();
    let ctx = dir.display().to_string();
    let out = service
        .docker(&[
            "build",
            "-q",
            "--add-host",
            "buildhost:10.1.2.3",
            "--add-host",
            "other:10.1.2.4",
            "--ulimit",
            "nofile=512:512",
            "--memory",
            "64m",
            "--shm-size",
            "32m",
            "-t",
            "dsteps",
            &ctx,
        ])
        .env("DOCKER_BUILDKIT", "0")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let seen = service.docker_ok(&["run", "--rm", "dsteps", "cat", "/seen"]);
    let lines: Vec<&str> = seen.lines().collect();
    assert_eq!(lines[..4], ["1", "512", "67108864", "32768"], "{seen}");
    // Not in the image: its containers have their own /etc/hosts.
    assert_eq!(
        service
            .docker_out(&[
                "run",
                "--rm",
                "dsteps",
                "grep",
                "-c",
                "buildhost",
                "/etc/hosts"
            ])
            .stdout,
        b"0\n"
    );

    service.podman_ok(&[
        "build",
        "-q",
        "--no-cache",
        "--cap-add",
        "NET_ADMIN",
        "--dns",
        "9.9.9.9",
        "--ulimit",
        "nofile=256:256",
        "-t",
        "psteps",
        &ctx,
    ]);
    // A Docker client's tag is Docker Hub's name, a podman client's a local one.
    service
        .rpod
        .ok(&["image", "exists", "docker.io/library/dsteps"]);
    service.rpod.ok(&["image", "exists", "localhost/psteps"]);
    let seen = service.rpod.ok(&["run", "--rm", "psteps", "cat", "/seen"]);
    let lines: Vec<&str> = seen.lines().collect();
    assert_eq!(lines[0], "0", "{seen}");
    assert_eq!(lines[1], "256", "{seen}");
    // CAP_NET_ADMIN is bit 12 of the effective set.
    let caps = u64::from_str_radix(lines[4].split_whitespace().last().unwrap(), 16).unwrap();
    assert_ne!(caps & (1 << 12), 0, "{seen}");
    assert_eq!(lines[5], "1", "{seen}");

    // A timestamp before 1970 is refused before any context is read.
    let reply = service.http("POST", "/v4.3.1/libpod/build?timestamp=-1", b"");
    assert_eq!(reply.status, 400, "{}", reply.message());
    assert!(
        reply.message().contains("--timestamp -1"),
        "{}",
        reply.message()
    );
    // A pull policy buildah lacks is refused (podman-remote 4.3 sends `--pull=newer` as
    // `missing`; `rpod --url` sends it as buildah's `ifnewer`).
    let reply = service.http("POST", "/v4.3.1/libpod/build?pullpolicy=sometimes", b"");
    assert!(reply.status >= 400, "{}", reply.message());
    assert!(
        reply.message().contains("pull policy"),
        "{}",
        reply.message()
    );
    let newer = tempfile::tempdir().unwrap();
    std::fs::write(
        newer.path().join("Containerfile"),
        "FROM localhost:1/local-only\nRUN true\n",
    )
    .unwrap();
    service.rpod.ok(&["tag", "demo", "localhost:1/local-only"]);
    let newer_ctx = newer.path().display().to_string();
    // The registry does not answer: newer builds on the local image, always fails.
    let built = service.remote_ok(&["build", "-q", "--pull=newer", &newer_ctx]);
    let out = service.remote_out(&["build", "--pull=always", &newer_ctx]);
    assert!(!out.status.success(), "{out:?}");
    service
        .rpod
        .ok(&["rmi", built.trim(), "localhost:1/local-only"]);
    let out = service
        .docker(&["build", "--ulimit", "nofile=bad", &ctx])
        .env("DOCKER_BUILDKIT", "0")
        .output()
        .unwrap();
    assert!(!out.status.success(), "{out:?}");
    // podman-remote's isolation (buildah's number, always sent): chroot is refused.
    let out = service
        .podman(&["build", "--isolation", "chroot", &ctx])
        .output()
        .unwrap();
    assert!(!out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("build isolation 2"),
        "{out:?}"
    );
    assert_eq!(service.rpod.ok(&["ps", "-aq"]), "");
}

/// `docker build` (the CLI's classic builder) through the service: the context goes as a
/// tar, the steps and a RUN step's output come back, build arguments and labels are taken,
/// the image runs; a failing step fails the build with its reason; `-q` prints the ID.
#[test]
fn docker_builds_images_through_the_service() {
    let service = Service::start();
    let dir = service.rpod.dir.path().join("ctx");
    std::fs::create_dir_all(dir.join("conf")).unwrap();
    std::fs::write(dir.join("conf/greeting"), "hello from the context\n").unwrap();
    std::fs::write(
        dir.join("Dockerfile"),
        "FROM demo\nARG WHO=nobody\nCOPY conf /etc/app/\nRUN echo \"building for $WHO\" && cp /etc/app/greeting /made\nCMD [\"cat\", \"/made\"]\nHEALTHCHECK --interval=3s CMD test -e /made\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("Failing"),
        "FROM demo\nRUN echo step-output; exit 7\n",
    )
    .unwrap();
    let ctx = dir.display().to_string();
    let build = |args: &[&str]| {
        let mut all = vec!["build"];
        all.extend_from_slice(args);
        all.push(&ctx);
        service
            .docker(&all)
            // The classic builder, whatever plugins this machine's docker has.
            .env("DOCKER_BUILDKIT", "0")
            .output()
            .unwrap()
    };
    let out = build(&[
        "-t",
        "dbuilt",
        "--build-arg",
        "WHO=docker",
        "--label",
        "via=docker",
    ]);
    let shown = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{shown}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(shown.contains("building for docker"), "{shown}");
    // As Docker says it: the familiar name, with its tag.
    assert!(
        shown.contains("Successfully tagged dbuilt:latest\n"),
        "{shown}"
    );
    // The steps on the host's network (`--network host`): more than a loopback.
    std::fs::write(
        dir.join("Hostnet"),
        "FROM demo\nRUN ip -o link | wc -l > /links\n",
    )
    .unwrap();
    let hostnet = dir.join("Hostnet").display().to_string();
    let out = build(&["--network", "host", "-f", &hostnet, "-t", "hostnet"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let links = service.docker_ok(&["run", "--rm", "hostnet", "cat", "/links"]);
    assert!(links.trim().parse::<u32>().unwrap() > 1, "{links}");
    // A cache mount's directory lasts until `docker builder prune` takes it.
    std::fs::write(
        dir.join("Cached"),
        "FROM demo\nRUN --mount=type=cache,target=/cache echo kept > /cache/file\n",
    )
    .unwrap();
    let cached = dir.join("Cached").display().to_string();
    let out = build(&["-f", &cached]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cache_dirs = service.rpod.root().join("build-cache");
    assert_eq!(std::fs::read_dir(&cache_dirs).unwrap().count(), 1);
    let pruned = service.docker_ok(&["builder", "prune", "-f"]);
    assert!(
        pruned.contains("Total:") || pruned.contains("reclaimed"),
        "{pruned}"
    );
    assert_eq!(std::fs::read_dir(&cache_dirs).unwrap().count(), 0);
    // Built again: the steps come from the build cache, unless --no-cache.
    for (flag, cached) in [("--rm", 3), ("--no-cache", 0)] {
        let out = build(&[
            flag,
            "-t",
            "dbuilt",
            "--build-arg",
            "WHO=docker",
            "--label",
            "via=docker",
        ]);
        let again = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "{again}");
        assert_eq!(
            again.matches("Using cache").count(),
            cached,
            "{flag}: {again}"
        );
    }
    assert_eq!(
        service.docker_ok(&["run", "--rm", "dbuilt"]),
        "hello from the context\n"
    );
    assert_eq!(
        service
            .docker_ok(&["image", "inspect", "-f", "{{.Config.Labels.via}}", "dbuilt"])
            .trim(),
        "docker"
    );
    // Docker's builds are Docker-format images: the HEALTHCHECK is kept, and is the
    // containers' check unless `--no-healthcheck`.
    let test = r#"["CMD-SHELL","test -e /made"]"#;
    let shown = |args: &[&str]| service.docker_ok(args).trim().to_string();
    assert_eq!(
        shown(&[
            "image",
            "inspect",
            "-f",
            "{{json .Config.Healthcheck.Test}}",
            "dbuilt"
        ]),
        test
    );
    service.docker_ok(&["create", "--name", "checked", "dbuilt", "sleep", "100"]);
    assert_eq!(
        shown(&[
            "inspect",
            "-f",
            "{{json .Config.Healthcheck.Test}}",
            "checked"
        ]),
        test
    );
    service.docker_ok(&["start", "checked"]);
    assert_eq!(
        shown(&["inspect", "-f", "{{.State.Health.Status}}", "checked"]),
        "starting"
    );
    service.rpod.ok(&["healthcheck", "run", "checked"]);
    assert_eq!(
        shown(&["inspect", "-f", "{{.State.Health.Status}}", "checked"]),
        "healthy"
    );
    service.docker_ok(&["rm", "-f", "checked"]);
    service.docker_ok(&[
        "create",
        "--name",
        "unchecked",
        "--no-healthcheck",
        "dbuilt",
    ]);
    assert_eq!(
        shown(&["inspect", "-f", "{{json .Config.Healthcheck}}", "unchecked"]),
        "null"
    );
    service.docker_ok(&["rm", "unchecked"]);
    // A time of the container's own goes with the image's test (Docker merges them).
    service.docker_ok(&[
        "create",
        "--name",
        "faster",
        "--health-interval",
        "7s",
        "dbuilt",
    ]);
    assert_eq!(
        shown(&[
            "inspect",
            "-f",
            "{{json .Config.Healthcheck.Test}} {{.Config.Healthcheck.Interval}}",
            "faster"
        ]),
        format!("{test} 7s")
    );
    service.docker_ok(&["rm", "faster"]);
    let failing = dir.join("Failing").display().to_string();
    let out = build(&["-f", &failing]);
    // The step's status is the docker CLI's exit code, as with Docker's own builder.
    assert_eq!(out.status.code(), Some(7), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("exited with status 7"), "{err}");
    let out = build(&["-q"]);
    let id = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && id.trim().starts_with("sha256:"),
        "{id}"
    );
    // A RUN step's output comes as it is written, before the step ends.
    let mut context = tar::Builder::new(Vec::new());
    let dockerfile = b"FROM demo\nRUN echo early-output; sleep 3\n";
    let mut header = tar::Header::new_gnu();
    header.set_size(dockerfile.len() as u64);
    header.set_mode(0o644);
    context
        .append_data(&mut header, "Dockerfile", &dockerfile[..])
        .unwrap();
    let context = context.into_inner().unwrap();
    let mut stream = std::os::unix::net::UnixStream::connect(&service.socket).unwrap();
    write!(
        stream,
        "POST /v1.43/build HTTP/1.1\r\nHost: d\r\nContent-Type: application/x-tar\r\nContent-Length: {}\r\n\r\n",
        context.len()
    )
    .unwrap();
    stream.write_all(&context).unwrap();
    let mut seen = Vec::new();
    let mut piece = [0u8; 4096];
    // The output's own line (the step's line names it too).
    while !String::from_utf8_lossy(&seen).contains(r#""stream":"early-output\n""#) {
        let n = std::io::Read::read(&mut stream, &mut piece).unwrap();
        assert!(n > 0, "{}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&piece[..n]);
    }
    // The step still runs (it sleeps for seconds after its output).
    assert_eq!(
        service.rpod.ok(&["ps", "-q"]).lines().count(),
        1,
        "the output came only once the step ended"
    );
    // Then the rest, to the image's ID.
    while !String::from_utf8_lossy(&seen).contains("aux") {
        let n = std::io::Read::read(&mut stream, &mut piece).unwrap();
        assert!(n > 0, "{}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&piece[..n]);
    }
    drop(stream);
    // A context compressed with bzip2, xz or zstd is taken as a gzip'd one is (Docker's
    // service takes them all); a body that is no tar at all is refused.
    let packed = tempfile::tempdir().unwrap();
    let context = common::tar_gz(&[("Dockerfile", "FROM demo\nRUN echo packed > /packed\n")]);
    std::fs::write(packed.path().join("c.tar.gz"), context).unwrap();
    for (tool, file) in [
        ("gzip -dc c.tar.gz > c.tar && bzip2 -k c.tar", "c.tar.bz2"),
        ("xz -k c.tar", "c.tar.xz"),
        ("zstd -q c.tar -o c.tar.zst", "c.tar.zst"),
    ] {
        let made = std::process::Command::new("sh")
            .args(["-c", tool])
            .current_dir(packed.path())
            .status()
            .unwrap();
        assert!(made.success(), "{tool}");
        let context = std::fs::read(packed.path().join(file)).unwrap();
        let reply = service.http("POST", "/v1.43/build?t=packed", &context);
        let said = String::from_utf8_lossy(&reply.body);
        assert!(
            reply.status == 200 && said.contains("Successfully tagged packed"),
            "{file}: {said}"
        );
        service.rpod.ok(&["rmi", "packed"]);
    }
    let reply = service.http("POST", "/v1.43/build?t=packed", b"no tar at all\n");
    let said = String::from_utf8_lossy(&reply.body);
    assert!(
        reply.status == 400 && said.contains("the build context"),
        "{said}"
    );
    // A context whose Dockerfile is a link to a host file finds nothing: the link is
    // followed inside the context only, never to the service's host's files.
    let mut context = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Symlink);
    header.set_size(0);
    context
        .append_link(&mut header, "Dockerfile", "/etc/shadow")
        .unwrap();
    let context = context.into_inner().unwrap();
    let reply = service.http("POST", "/v1.43/build?dockerfile=Dockerfile", &context);
    let said = String::from_utf8_lossy(&reply.body);
    assert_eq!(reply.status, 400, "{said}");
    assert!(
        said.contains("not in the build context") && !said.contains("root:"),
        "{said}"
    );
    // A Containerfile.in is not run through cpp by the service (cpp would read the
    // service's host's files for the client): refused, saying so.
    let context = common::tar_gz(&[("Dockerfile.in", "FROM demo\n#include \"/etc/shadow\"\n")]);
    let reply = service.http("POST", "/v1.43/build?dockerfile=Dockerfile.in", &context);
    let said = String::from_utf8_lossy(&reply.body);
    assert!(
        said.contains("cpp") && said.contains("not supported") && !said.contains("root:"),
        "{said}"
    );
    // `remote` (docker-py's `build(path=URL)`): the context is downloaded by the service,
    // the body is empty; a Dockerfile named in it is found there.
    let port = common::serve_bytes(vec![(
        "/ctx.tar.gz",
        common::tar_gz(&[
            ("build/Dockerfile", "FROM demo\nCOPY note /note\n"),
            ("note", "fetched by the service\n"),
        ]),
    )]);
    let remote = format!("http://127.0.0.1:{port}/ctx.tar.gz");
    let reply = service.http(
        "POST",
        &format!("/v1.43/build?t=remote-built&dockerfile=build%2FDockerfile&remote={remote}"),
        b"",
    );
    let said = String::from_utf8_lossy(&reply.body);
    assert_eq!(reply.status, 200, "{said}");
    assert!(said.contains("aux"), "{said}");
    assert_eq!(
        service
            .rpod
            .ok(&["run", "--rm", "remote-built", "cat", "/note"]),
        "fetched by the service\n"
    );
    let reply = service.http(
        "POST",
        &format!("/v1.43/build?remote=http://127.0.0.1:{port}/missing.tar"),
        b"",
    );
    assert_eq!(
        reply.status,
        400,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    // The steps' containers went with them.
    assert_eq!(service.rpod.ok(&["ps", "-aq"]), "");
}

/// `podman --remote build` through the service: the context goes as a gzip'd tar with the
/// Containerfile named in a JSON array, the steps come back and the ID last, which
/// podman-remote takes; `--timestamp` makes the same image again; a failing step is its
/// error; `--format docker` keeps a HEALTHCHECK, the default OCI format drops it.
#[test]
fn podman_remote_builds_images_through_the_service() {
    let service = Service::start();
    let dir = service.rpod.dir.path().join("ctx");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("greeting"), "built by podman-remote\n").unwrap();
    std::fs::write(
        dir.join("Containerfile"),
        "FROM demo\nCOPY greeting /greeting\nRUN echo step-ran\nCMD [\"cat\", \"/greeting\"]\n",
    )
    .unwrap();
    let ctx = dir.display().to_string();
    let out = service.podman_ok(&["build", "-t", "pbuilt", &ctx]);
    assert!(out.contains("step-ran"), "{out}");
    // The commit announced once, the name as podman's service sends it.
    assert_eq!(out.matches("COMMIT pbuilt\n").count(), 1, "{out}");
    assert!(
        out.contains("\nSuccessfully tagged localhost/pbuilt:latest\n"),
        "{out}"
    );
    assert_eq!(
        service.podman_ok(&["run", "--rm", "pbuilt"]),
        "built by podman-remote\n"
    );
    let id = service.podman_ok(&["build", "-q", &ctx]);
    assert_eq!(id.trim().len(), 64, "{id}");
    // Quiet with a tag: the ID alone. podman-remote's labels and annotations (each a JSON
    // list of KEY=VALUE) reach the image.
    let id = service.podman_ok(&[
        "build",
        "-q",
        "-t",
        "marked",
        "--label",
        "team=web",
        "--annotation",
        "org.example.note=kept",
        &ctx,
    ]);
    assert_eq!(id.lines().count(), 1, "{id}");
    assert_eq!(
        service
            .rpod
            .inspect("marked", "{{.Labels.team}} {{.Annotations}}"),
        "web map[org.example.note:kept]"
    );
    // `--timestamp`: the same build, the same image, as the CLI's.
    let stamped = |extra: &str| {
        service
            .podman_ok(&["build", "-q", extra, "--timestamp", "1000000000", &ctx])
            .trim()
            .to_string()
    };
    let first = stamped("--no-cache");
    assert_eq!(stamped("--no-cache"), first);
    assert_ne!(first, id.trim());
    assert_eq!(
        service
            .rpod
            .ok(&["image", "inspect", "-f", "{{.Created}}", &first])
            .trim(),
        "2001-09-09 01:46:40 +0000 UTC"
    );
    std::fs::write(dir.join("Containerfile"), "FROM demo\nRUN exit 5\n").unwrap();
    let out = service.podman_out(&["build", &ctx]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("exited with status 5"),
        "{out:?}"
    );
    std::fs::write(
        dir.join("Containerfile"),
        "FROM demo\nHEALTHCHECK CMD [\"true\"]\n",
    )
    .unwrap();
    service.podman_ok(&["build", "--format", "docker", "-t", "pdocker", &ctx]);
    let test = |image: &str| {
        service.rpod.run(&[
            "image",
            "inspect",
            image,
            "--format",
            "{{json .HealthCheck.Test}}",
        ])
    };
    let kept = test("pdocker");
    assert_eq!(
        String::from_utf8_lossy(&kept.stdout).trim(),
        r#"["CMD","true"]"#
    );
    service.podman_ok(&["build", "-t", "poci", &ctx]);
    assert!(!test("poci").status.success());
    // `--from`: the first FROM's image replaced.
    std::fs::write(
        dir.join("Containerfile"),
        "FROM scratch AS first\nCMD [\"x\"]\n",
    )
    .unwrap();
    service.podman_ok(&["build", "--from", "demo", "-t", "pfrom", &ctx]);
    assert_eq!(
        service
            .rpod
            .ok(&["run", "--rm", "pfrom", "echo", "on demo"]),
        "on demo\n"
    );
    // `--secret`: the file comes inside the context (twice, from podman 4.3) and is taken
    // out of it before the build: the step reads it, `COPY .` finds no copy of it.
    let secret = service.rpod.dir.path().join("token");
    std::fs::write(&secret, "s3cret\n").unwrap();
    std::fs::write(
        dir.join("Containerfile"),
        "FROM demo\nRUN --mount=type=secret,id=tok,required cat /run/secrets/tok > /seen\nCOPY . /ctx\n",
    )
    .unwrap();
    let given = format!("id=tok,src={}", secret.display());
    service.podman_ok(&["build", "-t", "psecret", "--secret", &given, &ctx]);
    assert_eq!(
        service.podman_ok(&["run", "--rm", "psecret", "cat", "/seen"]),
        "s3cret\n"
    );
    let copied = service.podman_ok(&["run", "--rm", "psecret", "find", "/ctx"]);
    assert!(!copied.contains("secret"), "{copied}");
    assert!(copied.contains("/ctx/greeting"), "{copied}");
    let err = service.podman_out(&["build", "--secret", "id=tok,env=HOME", &ctx]);
    assert!(
        String::from_utf8_lossy(&err.stderr).contains("environment"),
        "{err:?}"
    );
    assert_eq!(service.rpod.ok(&["ps", "-aq"]), "");
}

/// `podman --remote manifest`: a list made, added to, inspected, checked, pushed with its
/// image to a registry (which then serves it) and removed, through the libpod API.
#[test]
fn podman_remote_manages_and_pushes_manifest_lists() {
    let registry = Registry::start(RegistrySetup {
        user: None,
        tls: false,
    });
    let service = Service::start();
    let id = service.podman_ok(&["manifest", "create", "plist"]);
    assert_eq!(id.trim().len(), 64, "{id}");
    let added = service.podman_ok(&["manifest", "add", "--arch", "arm64", "plist", "demo"]);
    assert_eq!(added, id);
    let list: serde_json::Value =
        serde_json::from_str(&service.podman_ok(&["manifest", "inspect", "plist"])).unwrap();
    assert_eq!(list["manifests"][0]["platform"]["architecture"], "arm64");
    assert!(service
        .podman_out(&["manifest", "exists", "plist"])
        .status
        .success());
    assert_eq!(
        service
            .podman_out(&["manifest", "exists", "nope"])
            .status
            .code(),
        Some(1)
    );
    // podman-remote's `image exists` and `images` take the list as an image.
    assert!(service
        .podman_out(&["image", "exists", "plist"])
        .status
        .success());
    let rows = service.podman_ok(&["images", "--format", "{{.Repository}} {{.ID}}"]);
    assert!(
        rows.contains(&format!("localhost/plist {}", &id.trim()[..12])),
        "{rows}"
    );
    let target = format!("{}/svc/plist:1", registry.host);
    service.podman_ok(&["manifest", "push", "--tls-verify=false", "plist", &target]);
    // The registry has it, as rpod's own inspect of the registry shows.
    let remote: serde_json::Value = serde_json::from_str(&service.rpod.ok(&[
        "manifest",
        "inspect",
        "--tls-verify=false",
        &target,
    ]))
    .unwrap();
    assert_eq!(remote["manifests"], list["manifests"]);
    // An operation podman does not have is refused.
    let reply = service.http(
        "PUT",
        "/v4.3.1/libpod/manifests/plist",
        br#"{"operation":"frobnicate","images":["demo"]}"#,
    );
    assert_eq!(reply.status, 400);
    assert!(
        String::from_utf8_lossy(&reply.body).contains("unknown manifest operation"),
        "{:?}",
        String::from_utf8_lossy(&reply.body)
    );
    let removed = service.podman_ok(&["manifest", "rm", "plist"]);
    assert!(removed.contains(id.trim()), "{removed}");
    assert_eq!(
        service
            .rpod
            .run(&["manifest", "exists", "plist"])
            .status
            .code(),
        Some(1)
    );
    let out = service.podman_out(&["manifest", "add", "nolist", "demo"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no such manifest list"),
        "{out:?}"
    );
}

/// rpod's own client: `image tree` (and `--whatrequires`) as the local command prints it.
#[test]
fn rpod_remote_shows_image_trees() {
    let service = Service::start();
    service
        .rpod
        .ok(&["run", "--name", "base", "demo", "touch", "/added"]);
    service.rpod.ok(&["commit", "-q", "base", "child"]);
    for args in [
        &["image", "tree", "demo"][..],
        &["image", "tree", "child"],
        &["image", "tree", "--whatrequires", "demo"],
    ] {
        let remote = service.remote_ok(args);
        assert!(remote.contains("Image ID:"), "{remote}");
        assert_eq!(remote, service.rpod.ok(args), "{args:?}");
    }
    let out = service.remote_out(&["image", "tree", "nosuch"]);
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    // A template reads what the service's JSON leaves out of an image as empty, as
    // locally: demo has no environment, command or annotations.
    let args = [
        "image",
        "inspect",
        "--format",
        "{{.Config.Env}} {{.Config.Cmd}} {{.Annotations}}",
        "demo",
    ];
    assert_eq!(service.remote_ok(&args), "[] [] map[]\n");
    assert_eq!(service.rpod.ok(&args), "[] [] map[]\n");
}

/// rpod's own client: `manifest create`, `add`, `annotate`, `remove`, `inspect`, `exists`,
/// `push` (to a registry, with `--digestfile` written here and `--rm`) and `rm`, printed as
/// the local commands print.
#[test]
fn rpod_remote_manages_and_pushes_manifest_lists() {
    let registry = Registry::start(RegistrySetup {
        user: None,
        tls: false,
    });
    let service = Service::start();
    let id = service.remote_ok(&["manifest", "create", "rlist"]);
    assert_eq!(id.trim().len(), 64, "{id}");
    assert_eq!(
        service.remote_ok(&[
            "manifest",
            "add",
            "--arch",
            "arm64",
            "--annotation",
            "k=v",
            "rlist",
            "demo"
        ]),
        id
    );
    let inspect = |name: &str| -> serde_json::Value {
        serde_json::from_str(&service.remote_ok(&["manifest", "inspect", name])).unwrap()
    };
    let list = inspect("rlist");
    assert_eq!(
        service.remote_ok(&["manifest", "inspect", "rlist"]),
        service.rpod.ok(&["manifest", "inspect", "rlist"])
    );
    assert_eq!(list["manifests"][0]["platform"]["architecture"], "arm64");
    assert_eq!(list["manifests"][0]["annotations"]["k"], "v");
    let digest = list["manifests"][0]["digest"].as_str().unwrap().to_string();
    assert_eq!(
        service.remote_ok(&[
            "manifest",
            "annotate",
            "--os-version",
            "10.1",
            "rlist",
            &digest
        ]),
        id
    );
    assert_eq!(
        inspect("rlist")["manifests"][0]["platform"]["os.version"],
        "10.1"
    );
    assert_eq!(
        service
            .remote_out(&["manifest", "exists", "rlist"])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        service
            .remote_out(&["manifest", "exists", "nope"])
            .status
            .code(),
        Some(1)
    );
    // Pushed: the registry serves it; the digest is written here; --rm deletes the list.
    let target = format!("{}/svc/rlist:1", registry.host);
    let dir = tempfile::tempdir().unwrap();
    let digestfile = dir.path().join("digest");
    service.remote_ok(&[
        "manifest",
        "push",
        "--tls-verify=false",
        "--digestfile",
        &digestfile.display().to_string(),
        "--rm",
        "rlist",
        &format!("docker://{target}"),
    ]);
    assert!(std::fs::read_to_string(&digestfile)
        .unwrap()
        .starts_with("sha256:"));
    assert_eq!(
        service
            .remote_out(&["manifest", "exists", "rlist"])
            .status
            .code(),
        Some(1)
    );
    let pushed: serde_json::Value = serde_json::from_str(&service.remote_ok(&[
        "manifest",
        "inspect",
        "--tls-verify=false",
        &target,
    ]))
    .unwrap();
    assert_eq!(pushed["manifests"][0]["digest"], digest.as_str());
    // remove and rm, as locally; errors and refusals.
    let second_id = service.remote_ok(&["manifest", "create", "second", "demo"]);
    let entry = inspect("second")["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    service.remote_ok(&["manifest", "remove", "second", &entry]);
    assert_eq!(inspect("second")["manifests"], serde_json::json!([]));
    assert_eq!(
        service.remote_ok(&["manifest", "rm", "second"]),
        format!("Untagged: localhost/second:latest\nDeleted: {second_id}")
    );
    assert_eq!(
        service.remote_ok(&["manifest", "rm", "--ignore", "second"]),
        ""
    );
    let out = service.remote_out(&["manifest", "rm", "second"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("second"),
        "{out:?}"
    );
    for (args, says) in [
        (
            &["manifest", "add", "nolist", "demo"][..],
            "no such manifest list",
        ),
        (
            &["manifest", "push", "--compression-format", "zstd", "x", "y"],
            "--compression-format",
        ),
        (
            &["manifest", "push", "--sign-by", "key", "x", "y"],
            "--sign-by",
        ),
        (
            &["manifest", "create", "--authfile", "/tmp/a.json", "x"],
            "--authfile",
        ),
    ] {
        let out = service.remote_out(args);
        assert_ne!(out.status.code(), Some(0), "{args:?}: {out:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(says),
            "{args:?}: {out:?}"
        );
    }
}

#[test]
fn the_service_judges_pulls_and_loads_by_the_signature_policy() {
    let registry = Registry::plain();
    let host = registry.host.clone();
    let policy_dir = tempfile::tempdir().unwrap();
    let policy = policy_dir.path().join("policy.json");
    std::fs::write(
        &policy,
        serde_json::json!({
            "default": [{"type": "insecureAcceptAnything"}],
            "transports": {
                "docker": {format!("{host}/svc/blocked"): [{"type": "reject"}]},
                "docker-archive": {"": [{"type": "reject"}]},
            },
        })
        .to_string(),
    )
    .unwrap();
    let rpod = Rpod::with_config(
        "runc",
        &format!(
            "{NO_NETWORK_CONFIG}[image]\nsignature_policy = \"{}\"\n",
            policy.display()
        ),
    );
    rpod.ok(&["import", busybox_tarball().to_str().unwrap(), "demo"]);
    let service = Service::start_with(rpod, &["--time", "0"]);
    let blocked = format!("{host}/svc/blocked:1");
    service.docker_ok(&["tag", "demo", &blocked]);
    service.docker_ok(&["push", &blocked]);
    service.docker_ok(&["rmi", &blocked]);
    let out = service.docker_out(&["pull", &blocked]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&format!(
            "Running image docker://{blocked} is rejected by policy"
        )),
        "{out:?}"
    );
    let archive = service.rpod.dir.path().join("demo.tar");
    service.docker_ok(&["save", "-o", archive.to_str().unwrap(), "demo"]);
    let out = service.docker_out(&["load", "-i", archive.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("rejected by policy"),
        "{out:?}"
    );
}

/// podman-remote's `--cache-to`, `--cache-from`, `--cache-ttl` and `--tls-verify=false`
/// through the service: the steps' images go to the registry and come back from it once
/// the local ones are gone; Docker's `cachefrom` (local images) is refused.
#[test]
fn podman_remote_builds_take_a_registry_cache() {
    let registry = Registry::start(RegistrySetup {
        user: None,
        tls: false,
    });
    let service = Service::start();
    let dir = service.rpod.dir.path().join("ctx");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("Containerfile"),
        "FROM demo\nRUN cat /proc/sys/kernel/random/uuid > /once\n",
    )
    .unwrap();
    let ctx = dir.display().to_string();
    let cache = format!("{}/team/cache", registry.host);
    let id = service.podman_ok(&[
        "build",
        "-q",
        "--tls-verify=false",
        "--cache-to",
        &cache,
        &ctx,
    ]);
    let id = id.trim().to_string();
    let once = service.rpod.ok(&["run", "--rm", &id, "cat", "/once"]);
    service.rpod.ok(&["rmi", &id]);
    let out = service.podman_ok(&[
        "build",
        "--tls-verify=false",
        "--cache-from",
        &cache,
        "--cache-ttl",
        "1h",
        &ctx,
    ]);
    assert!(out.contains("Using cache"), "{out}");
    let again = out.lines().last().unwrap_or("").trim().to_string();
    assert_eq!(again, id);
    assert_eq!(
        service.rpod.ok(&["run", "--rm", &again, "cat", "/once"]),
        once
    );
    let containerfile = dir.join("Containerfile").display().to_string();
    let out = service
        .docker(&["build", "-f", &containerfile, "--cache-from", "demo", &ctx])
        .env("DOCKER_BUILDKIT", "0")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cachefrom"),
        "{out:?}"
    );
}

/// `generate spec`: a container's SpecGenerator (named NAME-clone; its own name with
/// `--name=false`; `-c` on one line; `-f` into a file, whose path is printed), which the
/// libpod API's create makes into a container like it; a pod's PodSpecGenerator, which
/// makes a pod like it. What a spec cannot say is named; an unknown name is refused.
#[test]
fn generate_spec_makes_containers_and_pods_again_through_the_api() {
    let service = Service::start();
    let rpod = &service.rpod;
    rpod.ok(&[
        "create",
        "--name",
        "web",
        "-e",
        "MODE=spec",
        "-w",
        "/tmp",
        "-l",
        "team=a",
        "--memory",
        "32m",
        "--tmpfs",
        "/scratch",
        "--annotation",
        "org.example/x=1",
        "demo",
        "sh",
        "-c",
        "echo $MODE; pwd; grep -c ' /scratch ' /proc/mounts",
    ]);
    let spec = rpod.ok(&["generate", "spec", "-c", "web"]);
    assert_eq!(spec.lines().count(), 1, "{spec}");
    let reply = service.http("POST", "/v4.3.1/libpod/containers/create", spec.as_bytes());
    assert_eq!(
        reply.status,
        201,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(rpod.ok(&["start", "-a", "web-clone"]), "spec\n/tmp\n1\n");
    for (template, value) in [
        ("{{.Config.Labels.team}}", "a"),
        ("{{.HostConfig.Memory}}", "33554432"),
        ("{{index .Config.Annotations \"org.example/x\"}}", "1"),
    ] {
        assert_eq!(rpod.inspect("web-clone", template), value, "{template}");
    }
    let file = rpod.dir.path().join("web.json");
    let printed = rpod.ok(&[
        "generate",
        "spec",
        "--name=false",
        "-f",
        file.to_str().unwrap(),
        "web",
    ]);
    assert_eq!(printed.trim(), file.display().to_string());
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(written["name"], "web");

    rpod.ok(&[
        "pod",
        "create",
        "--name",
        "team",
        "--label",
        "x=y",
        "--cpus",
        "0.5",
        "-v",
        "teamvol:/shared",
        "--device",
        "/dev/null:/dev/xnull",
        "--sysctl",
        "kernel.msgmax=4096",
        "--security-opt",
        "no-new-privileges",
    ]);
    // Everything a pod gives its containers is said: nothing is named lost.
    let out = rpod
        .command(&["generate", "spec", "team"])
        .output()
        .unwrap();
    assert!(out.status.success() && out.stderr.is_empty(), "{out:?}");
    let spec = String::from_utf8(out.stdout).unwrap();
    let reply = service.http("POST", "/v4.3.1/libpod/pods/create", spec.as_bytes());
    assert_eq!(
        reply.status,
        201,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(
        rpod.ok(&[
            "pod",
            "inspect",
            "--format",
            "{{.Labels}} {{.cpu_quota}}",
            "team-clone"
        ])
        .trim(),
        "map[x:y] 50000"
    );
    let script = "ls -d /shared; stat -c %t,%T /dev/xnull; cat /proc/sys/kernel/msgmax";
    assert_eq!(
        rpod.ok(&[
            "run",
            "--rm",
            "--pod",
            "team-clone",
            "demo",
            "sh",
            "-c",
            script
        ]),
        "/shared\n1,3\n4096\n"
    );

    rpod.ok(&[
        "create",
        "--name",
        "passing",
        "--log-driver",
        "passthrough",
        "demo",
        "true",
    ]);
    let out = rpod
        .command(&["generate", "spec", "passing"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("passthrough"),
        "{out:?}"
    );
    let err = rpod.fails(&["generate", "spec", "nosuch"], 125);
    assert!(err.contains("no container or pod"), "{err}");
    // A pod's infra container is its pod's to say.
    let infra = rpod.ok(&[
        "pod",
        "inspect",
        "--format",
        "{{.InfraContainerID}}",
        "team",
    ]);
    let err = rpod.fails(&["generate", "spec", infra.trim()], 125);
    assert!(err.contains("generate spec the pod"), "{err}");
}

/// Malformed libpod pod and kube requests are refused (400, saying what was wrong) before
/// anything is made.
#[test]
fn malformed_pod_and_kube_requests_are_bad_requests() {
    let service = Service::start();
    for (spec, said) in [
        (
            r#"{"name":"p1","pod_devices":"/dev/null"}"#,
            "invalid pod_devices",
        ),
        (
            r#"{"name":"p2","security_opt":[1]}"#,
            "invalid security_opt",
        ),
        (
            r#"{"name":"p3","security_opt":["no-such-option"]}"#,
            "no-such-option",
        ),
    ] {
        let reply = service.http("POST", "/v4.3.1/libpod/pods/create", spec.as_bytes());
        let body = String::from_utf8_lossy(&reply.body);
        assert_eq!(reply.status, 400, "{spec}: {body}");
        assert!(body.contains(said), "{spec}: {body}");
    }
    let yaml = b"apiVersion: v1\nkind: Pod\nmetadata:\n  name: kp\nspec:\n  containers:\n  - name: c\n    image: demo\n    command: [\"true\"]\n";
    for (query, said) in [
        (
            "staticIPs=10.0.0.999",
            "staticIPs: \\\"10.0.0.999\\\" is no IP address",
        ),
        (
            "annotations=not-json",
            "annotations: not a JSON object of strings",
        ),
        ("logOptions=path=/tmp/x", "cannot share one log file"),
    ] {
        let path = format!("/v4.3.1/libpod/play/kube?{query}");
        let reply = service.http("POST", &path, yaml);
        let body = String::from_utf8_lossy(&reply.body);
        assert_eq!(reply.status, 400, "{query}: {body}");
        assert!(body.contains(said), "{query}: {body}");
    }
    assert_eq!(service.rpod.ok(&["pod", "ps", "-q"]), "");
    assert_eq!(service.rpod.ok(&["ps", "-aq"]), "");
}

/// podman-remote's `secret` commands (`/libpod/secrets`) and `--secret` on a container it
/// creates (files with their owner and mode, variables): the file driver's, as the CLI's.
#[test]
fn podman_remote_secrets() {
    let service = Service::start();
    let file = service.rpod.dir.path().join("secret.txt");
    std::fs::write(&file, "s3cret").unwrap();
    let id = service.podman_ok(&[
        "secret",
        "create",
        "--label",
        "team=web",
        "tok",
        &file.display().to_string(),
    ]);
    assert_eq!(id.trim().len(), 25, "{id}");
    service.podman_ok(&["secret", "create", "other", &file.display().to_string()]);
    assert_eq!(
        service.podman_ok(&["secret", "ls", "--format", "{{.Name}}"]),
        "tok\nother\n"
    );
    assert_eq!(
        service.podman_ok(&["secret", "inspect", "--format", "{{.Spec.Labels}}", "tok"]),
        "map[team:web]\n"
    );
    // The CLI sees the same store.
    assert_eq!(
        service
            .rpod
            .ok(&["secret", "ls", "-q", "--filter", "name=tok"]),
        id
    );
    let out = service.podman_ok(&[
        "run",
        "--rm",
        "--secret",
        "tok",
        "--secret",
        "tok,target=/etc/tok,mode=0400,uid=5",
        "--secret",
        "other,type=env,target=OTHER",
        "demo",
        "sh",
        "-c",
        "cat /run/secrets/tok; echo; echo $OTHER; stat -c '%a %u' /etc/tok",
    ]);
    assert_eq!(out, "s3cret\ns3cret\n400 5\n");
    for (query, said) in [
        ("", "a secret needs a name"),
        (
            "?name=x&driveropts=notjson",
            "driveropts: not a JSON object",
        ),
        (
            "?name=x&driver=shell&driveropts=%7B%22store%22%3A%22true%22%7D",
            "needs its",
        ),
    ] {
        let path = format!("/v4.3.1/libpod/secrets/create{query}");
        let reply = service.http("POST", &path, b"data");
        assert_eq!(reply.status, 400, "{query}");
        assert!(
            String::from_utf8_lossy(&reply.body).contains(said),
            "{query}"
        );
    }
    let missing = service.http("GET", "/v4.3.1/libpod/secrets/nosuch/json", b"");
    assert_eq!(missing.status, 404);
    assert!(String::from_utf8_lossy(&missing.body).contains("no such secret"));
    let refused = service.podman_out(&["secret", "create", "--driver", "vault", "p", "-"]);
    assert!(!refused.status.success());
    // The shell driver's commands come as `driveropts`.
    let kept = service.rpod.dir.path().join("kept");
    std::fs::create_dir(&kept).unwrap();
    let at = kept.display();
    let options = format!(
        "list=ls {at},lookup=cat {at}/$SECRET_ID,store=cat > {at}/$SECRET_ID,delete=rm {at}/$SECRET_ID"
    );
    let shell_id = service.podman_ok(&[
        "secret",
        "create",
        "--driver",
        "shell",
        "--driver-opts",
        &options,
        "shelled",
        &file.display().to_string(),
    ]);
    assert_eq!(
        std::fs::read_to_string(kept.join(shell_id.trim())).unwrap(),
        "s3cret"
    );
    assert_eq!(
        service.podman_ok(&[
            "run",
            "--rm",
            "--secret",
            "shelled",
            "demo",
            "cat",
            "/run/secrets/shelled"
        ]),
        "s3cret"
    );
    service.podman_ok(&["secret", "rm", "tok"]);
    assert_eq!(
        service.podman_ok(&["secret", "ls", "--format", "{{.Name}}"]),
        "other\nshelled\n"
    );
    service.podman_ok(&["secret", "rm", "--all"]);
    assert_eq!(service.rpod.ok(&["secret", "ls", "-q"]), "");
    assert!(std::fs::read_dir(&kept).unwrap().next().is_none());
}

/// `--cors ORIGIN`, as podman's: every answer carries the CORS headers and a browser's
/// preflight (`OPTIONS`) is answered; without it neither (a preflight finds no route). An
/// origin with a line break is refused before anything is served.
#[test]
fn cors_headers_are_given_when_asked() {
    let plain = Service::start();
    let reply = plain.http("GET", "/_ping", b"");
    assert!(
        !reply.head.contains("Access-Control-Allow-Origin"),
        "{}",
        reply.head
    );
    assert_eq!(
        plain
            .http("OPTIONS", "/v4.3.1/libpod/containers/json", b"")
            .status,
        404
    );
    drop(plain);

    let rpod = Rpod::new("crun");
    let service = Service::start_with(rpod, &["--time", "0", "--cors", "https://ui.example"]);
    let reply = service.http("GET", "/v4.3.1/libpod/containers/json", b"");
    assert_eq!(reply.status, 200);
    assert!(
        reply
            .head
            .contains("Access-Control-Allow-Origin: https://ui.example\r\n"),
        "{}",
        reply.head
    );
    let preflight = service.http("OPTIONS", "/v4.3.1/libpod/containers/json", b"");
    assert_eq!(preflight.status, 200);
    assert!(
        preflight
            .head
            .contains("Access-Control-Allow-Methods: HEAD, GET, POST, DELETE, PUT, OPTIONS\r\n"),
        "{}",
        preflight.head
    );
    drop(service);

    let bad = Rpod::new("crun");
    let socket = bad.dir.path().join("bad.sock");
    let err = bad.fails(
        &[
            "system",
            "service",
            "--time",
            "1",
            "--cors",
            "a\nInjected: 1",
            &format!("unix://{}", socket.display()),
        ],
        125,
    );
    assert!(err.contains("invalid --cors"), "{err}");
    assert!(!socket.exists());
}

impl Service {
    /// rpod as a client of this service (`--url`), with no store of its own: its store
    /// variables point at a directory that must stay empty.
    fn remote(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_rpod"));
        let unused = self.rpod.dir.path().join("client-store");
        command
            .arg("--url")
            .arg(format!("unix://{}", self.socket.display()))
            .args(args)
            .env("RPOD_ROOT", &unused)
            .env("RPOD_RUNROOT", &unused)
            .env("RPOD_CONFIG", self.rpod.config_path())
            .stdin(Stdio::null());
        command
    }

    fn remote_out(&self, args: &[&str]) -> Output {
        self.remote(args).output().unwrap()
    }

    fn remote_ok(&self, args: &[&str]) -> String {
        succeeded("rpod --url", args, self.remote_out(args))
    }
}

/// `rpod --url`: rpod's own command line as a client of the service, shown beside the
/// same store's local commands.
#[test]
fn rpod_remote_runs_execs_and_manages_containers() {
    let service = Service::start();
    let version = service.remote_ok(&["version"]);
    assert!(
        version.contains("Client:") && version.contains("Server:"),
        "{version}"
    );
    // run: output on its streams, exit codes, --rm leaves nothing.
    let out = service.remote_out(&[
        "run",
        "--rm",
        "demo",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 3",
    ]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "err\n");
    let out = service.remote_out(&["run", "--rm", "demo", "nosuchcmd"]);
    assert_eq!(out.status.code(), Some(127), "{out:?}");
    let out = service.remote_out(&["run", "--rm", "nosuchimage", "true"]);
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    assert_eq!(service.remote_ok(&["ps", "-aq"]), "");
    // What inspect does not find, in podman's words, as locally.
    for (args, said) in [
        (
            &["volume", "inspect", "novol"][..],
            "Error: inspecting object: no such volume novol\n",
        ),
        (
            &["inspect", "ghost", "spook"][..],
            "error inspecting object: no such object: \"spook\"\nError: inspecting object: no such object: \"ghost\"\n",
        ),
    ] {
        let out = service.remote_out(args);
        assert_eq!(out.status.code(), Some(125), "{out:?}");
        assert_eq!(String::from_utf8_lossy(&out.stderr), said);
    }
    // Detached, with and without --rm: the local command's exit code, and, as locally, a
    // container that could not start is not left behind.
    for rm in [&["--rm"][..], &[]] {
        let args = [&["run", "-d"][..], rm, &["demo", "nosuchcmd"]].concat();
        let (remote, local) = (service.remote_out(&args), service.rpod.run(&args));
        assert_eq!(
            (remote.status.code(), local.status.code()),
            (Some(127), Some(127)),
            "{remote:?}"
        );
        assert_eq!(service.remote_ok(&["ps", "-aq"]), "", "{args:?}");
    }
    // stdin through the hijacked stream, ended by EOF.
    let out = pipe_through(
        &mut service.remote(&["run", "--rm", "-i", "demo", "cat"]),
        b"piped\n",
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "piped\n");
    assert_eq!(out.status.code(), Some(0));
    // Input the container stopped reading: the service closes the stream, and the client
    // still reports the exit (a write to the closed socket must not kill it with SIGPIPE).
    let mut yes = Command::new("yes").stdout(Stdio::piped()).spawn().unwrap();
    let out = service
        .remote(&["run", "--rm", "-i", "demo", "head", "-c", "4"])
        .stdin(yes.stdout.take().unwrap())
        .output()
        .unwrap();
    let _ = yes.kill();
    let _ = yes.wait();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "y\ny\n");
    // A container that closes its output and runs on is waited for, not taken as a detach.
    let out = service.remote_out(&[
        "run",
        "--rm",
        "-i",
        "demo",
        "sh",
        "-c",
        "exec >&- 2>&-; sleep 3; exit 5",
    ]);
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    // --sig-proxy: a signal to the client goes to the container (whose trap exits 7).
    let mut client = service
        .remote(&[
            "run",
            "--rm",
            "--name",
            "proxied",
            "demo",
            "sh",
            "-c",
            "trap 'exit 7' INT; echo ready; while true; do sleep 0.1; done",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until("the trap is set", || {
        service
            .rpod
            .run(&["logs", "proxied"])
            .stdout
            .starts_with(b"ready")
    });
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(client.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    assert_eq!(client.wait().unwrap().code(), Some(7));
    // The settings a spec carries.
    let out = service.remote_ok(&[
        "run",
        "--rm",
        "-e",
        "A=1",
        "-w",
        "/tmp",
        "-u",
        "1:2",
        "-h",
        "box",
        "--entrypoint",
        "/bin/sh",
        "demo",
        "-c",
        "echo $A $(pwd) $(id -u):$(id -g) $(hostname)",
    ]);
    assert_eq!(out.trim(), "1 /tmp 1:2 box");
    // run -d, then the same container seen by the local store and the remote client.
    let id = service.remote_ok(&[
        "run",
        "-d",
        "--name",
        "bg",
        "-l",
        "team=a",
        "demo",
        "sh",
        "-c",
        "trap 'echo got-usr1' USR1; echo started; while true; do sleep 0.1; done",
    ]);
    assert_eq!(id.trim().len(), 64);
    assert_eq!(
        service
            .remote_ok(&["ps", "--format", "{{.Names}} {{.Status}}"])
            .lines()
            .count(),
        1
    );
    assert_eq!(
        service.remote_ok(&[
            "ps",
            "--format",
            "{{.ID}} {{.Names}} {{.Image}} {{.Command}}"
        ]),
        service.rpod.ok(&[
            "ps",
            "--format",
            "{{.ID}} {{.Names}} {{.Image}} {{.Command}}"
        ])
    );
    assert_eq!(
        service
            .remote_ok(&["ps", "-q", "--filter", "label=team=a"])
            .trim(),
        &id.trim()[..12]
    );
    assert_eq!(
        service.remote_ok(&["ps", "-q", "--filter", "label=team=b"]),
        ""
    );
    let listed: serde_json::Value =
        serde_json::from_str(&service.remote_ok(&["ps", "--format", "json"])).unwrap();
    assert_eq!(listed[0]["Names"], serde_json::json!(["bg"]), "{listed}");
    assert!(
        listed[0]["Status"].as_str().unwrap().starts_with("Up "),
        "{listed}"
    );
    assert_eq!(
        service
            .remote_ok(&[
                "inspect",
                "-f",
                "{{.State.Status}} {{.Config.Labels.team}}",
                "bg"
            ])
            .trim(),
        "running a"
    );
    assert_eq!(service.remote_ok(&["container", "exists", "bg"]), "");
    assert_eq!(
        service
            .remote_out(&["container", "exists", "nope"])
            .status
            .code(),
        Some(1)
    );
    wait_until("the log shows started", || {
        service.remote_ok(&["logs", "bg"]).contains("started")
    });
    // exec: variables (files read here), output, exit codes, stdin.
    let exec_env = service.rpod.dir.path().join("exec-variables");
    std::fs::write(&exec_env, "X=from-file\nY=1\n").unwrap();
    assert_eq!(
        service.remote_ok(&[
            "exec",
            "--env-file",
            &exec_env.display().to_string(),
            "-e",
            "Y=2",
            "bg",
            "sh",
            "-c",
            "echo $X $Y"
        ]),
        "from-file 2\n"
    );
    let out = service.remote_out(&["exec", "bg", "sh", "-c", "echo in-exec; echo e >&2; exit 4"]);
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "in-exec\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "e\n");
    let out = pipe_through(
        &mut service.remote(&["exec", "-i", "bg", "cat"]),
        b"piped\n",
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "piped\n");
    assert_eq!(
        service
            .remote_out(&["exec", "bg", "nosuchcmd"])
            .status
            .code(),
        Some(127)
    );
    // A terminal's size is there for the first command, in run and exec.
    size_seen_on_a_terminal(
        service.remote(&["exec", "-it", "bg", "stty", "size"]),
        (33, 101),
        0,
    );
    size_seen_on_a_terminal(
        service.remote(&["run", "--rm", "-it", "demo", "stty", "size"]),
        (34, 102),
        0,
    );
    // The detach keys (the service's default, ctrl-p ctrl-q) leave the container running.
    let mut attach = PtyRun::spawn_command(
        service.remote(&["run", "-it", "--name", "dt", "demo", "sh"]),
        24,
        80,
    );
    std::thread::sleep(Duration::from_millis(300));
    attach.write(b"echo attached-$((6*7))\n");
    attach.expect("attached-42");
    attach.type_keys(&[0x10, 0x11]);
    assert_eq!(attach.wait(), 0, "{}", attach.text());
    assert_eq!(
        service
            .rpod
            .ok(&["inspect", "-f", "{{.State.Status}}", "dt"])
            .trim(),
        "running"
    );
    service.remote_ok(&["rm", "-f", "-t", "0", "dt"]);
    // The same keys end an exec session's client, the session left running.
    let mut exec = PtyRun::spawn_command(service.remote(&["exec", "-it", "bg", "sh"]), 24, 80);
    std::thread::sleep(Duration::from_millis(300));
    exec.write(b"echo in-exec-$((6*7))\n");
    exec.expect("in-exec-42");
    exec.type_keys(&[0x10, 0x11]);
    assert_eq!(exec.wait(), 0, "{}", exec.text());
    // The lifecycle moves print what they were given.
    assert_eq!(service.remote_ok(&["pause", "bg"]).trim(), "bg");
    assert_eq!(
        service
            .rpod
            .ok(&["inspect", "-f", "{{.State.Status}}", "bg"])
            .trim(),
        "paused"
    );
    service.remote_ok(&["unpause", "bg"]);
    service.remote_ok(&["kill", "-s", "USR1", "bg"]);
    wait_until("the trap ran", || {
        service.remote_ok(&["logs", "bg"]).contains("got-usr1")
    });
    let out = service.remote_out(&["kill", "-s", "NOSUCHSIGNAL", "bg"]);
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    assert_eq!(service.remote_ok(&["stop", "-t", "1", "bg"]).trim(), "bg");
    assert_eq!(service.remote_ok(&["wait", "bg"]).trim(), "137");
    assert_eq!(
        service.remote_ok(&["logs", "--tail", "1", "bg"]),
        "got-usr1\n"
    );
    assert_eq!(service.remote_ok(&["start", "bg"]).trim(), "bg");
    assert_eq!(
        service.remote_ok(&["restart", "-t", "0", "bg"]).trim(),
        "bg"
    );
    assert_eq!(
        service.remote_ok(&["rm", "-f", "-t", "0", "bg"]).trim(),
        "bg"
    );
    let out = service.remote_out(&["rm", "bg"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no such container"),
        "{out:?}"
    );
    assert_eq!(service.remote_ok(&["rm", "--ignore", "bg"]), "");
    // create, then start: the container is the service's.
    let id = service.remote_ok(&["create", "--name", "made", "demo", "true"]);
    assert_eq!(
        service.rpod.ok(&["ps", "-aq", "--no-trunc"]).trim(),
        id.trim()
    );
    service.remote_ok(&["start", "made"]);
    assert_eq!(service.remote_ok(&["wait", "made"]).trim(), "0");
    service.remote_ok(&["rm", "made"]);
    // Images: the listing is the local one; tag-less removal reports what it did.
    let table = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.Size}}";
    assert_eq!(
        service.remote_ok(&["images", "--format", table]),
        service.rpod.ok(&["images", "--format", table])
    );
    assert!(service
        .remote_ok(&["images"])
        .starts_with("REPOSITORY      TAG         IMAGE ID      CREATED"));
    assert_eq!(
        service.remote_ok(&["images", "-q"]),
        service.rpod.ok(&["images", "-q"])
    );
    service.rpod.ok(&["tag", "demo", "other:1"]);
    // A name, a name pattern, an ID prefix and filters list what the local listing does.
    let id = service.rpod.ok(&["images", "-q", "demo"]);
    for args in [
        &["other"][..],
        &["demo:latest"],
        &["oth*"],
        &["nosuch"],
        &[id.trim()],
        &["--filter", "reference=other"],
        &["--filter", "dangling=true"],
        &["--filter", "containers=false"],
    ] {
        let listing = |run: &dyn Fn(&[&str]) -> String| {
            run(&[
                &["images", "--format", "{{.Repository}}:{{.Tag}}"][..],
                args,
            ]
            .concat())
        };
        assert_eq!(
            listing(&|a| service.remote_ok(a)),
            listing(&|a| service.rpod.ok(a)),
            "{args:?}"
        );
    }
    assert_eq!(
        service.remote_ok(&["images", "--format", "{{.Tag}}", "other"]),
        "1\n"
    );
    let out = service.remote_ok(&["rmi", "other:1"]);
    assert_eq!(out.trim(), "Untagged: localhost/other:1");
    let out = service.remote_out(&["rmi", "nosuchimage"]);
    assert_ne!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        service
            .remote_out(&["image", "exists", "demo"])
            .status
            .code(),
        Some(0)
    );
    let info = service.remote_ok(&[
        "info",
        "--format",
        "{{.Store.GraphRoot}} {{.Host.ServiceIsRemote}}",
    ]);
    assert_eq!(
        info.trim(),
        format!("{} true", service.rpod.root().display())
    );
    assert_eq!(
        service
            .rpod
            .ok(&["info", "--format", "{{.Host.ServiceIsRemote}}"]),
        "false\n"
    );
    // Every other flag of run reaches the service in the spec, read as the local command
    // reads it: limits, capabilities, a read-only root with its writable tmpfs, variables
    // (the last of a name winning, files read here), an init, the stop signal.
    let env_file = service.rpod.dir.path().join("variables");
    std::fs::write(&env_file, "X=from-file\n").unwrap();
    service.remote_ok(&[
        "run",
        "-d",
        "--name",
        "spec",
        "--memory",
        "64m",
        "--cpus",
        "0.5",
        "--pids-limit",
        "50",
        "--cap-drop",
        "all",
        "--read-only",
        "--tmpfs",
        "/scratch",
        "-e",
        "B=2",
        "-e",
        "A=1",
        "-e",
        "B=3",
        "--env-file",
        &env_file.display().to_string(),
        "--init",
        "--stop-signal",
        "USR1",
        "demo",
        "sleep",
        "60",
    ]);
    assert_eq!(
        service
            .rpod
            .ok(&[
                "inspect",
                "-f",
                "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}} {{.HostConfig.CapDrop}} {{.HostConfig.ReadonlyRootfs}} {{.Config.StopSignal}}",
                "spec"
            ])
            .trim(),
        "67108864 500000000 50 [ALL] true SIGUSR1"
    );
    assert_eq!(
        service.remote_ok(&[
            "exec",
            "spec",
            "sh",
            "-c",
            "echo $A $B $X; touch /x 2>/dev/null || echo ro; touch /tmp/t /scratch/t && echo rw; grep CapEff /proc/self/status; ps -o args | sed -n 2p",
        ]),
        "1 3 from-file\nro\nrw\nCapEff:\t0000000000000000\n/run/podman-init -- sleep 60\n"
    );
    service.remote_ok(&["rm", "-f", "-t", "0", "spec"]);
    // --cidfile (written here), --replace, -a, --rmi.
    let cidfile = service.rpod.dir.path().join("cid");
    let cidfile_arg = cidfile.display().to_string();
    let id = service.remote_ok(&[
        "create",
        "--name",
        "one",
        "--cidfile",
        &cidfile_arg,
        "demo",
        "true",
    ]);
    assert_eq!(std::fs::read_to_string(&cidfile).unwrap(), id.trim());
    let out = service.remote_out(&["create", "--cidfile", &cidfile_arg, "demo", "true"]);
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    // An ID file that cannot be written: the container made for it goes again.
    let unwritable = service.rpod.dir.path().join("no-such-dir/cid");
    let out = service.remote_out(&[
        "run",
        "-d",
        "--cidfile",
        &unwritable.display().to_string(),
        "demo",
        "sleep",
        "60",
    ]);
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("writing the container id file"),
        "{out:?}"
    );
    assert_eq!(
        service.rpod.ok(&["ps", "-aq", "--no-trunc"]).trim(),
        id.trim()
    );
    let again = service.remote_ok(&["create", "--replace", "--name", "one", "demo", "true"]);
    assert_eq!(
        service.rpod.ok(&["ps", "-aq", "--no-trunc"]).trim(),
        again.trim()
    );
    service.remote_ok(&["rm", "one"]);
    let out = service.remote_out(&[
        "run",
        "--rm",
        "-a",
        "stderr",
        "demo",
        "sh",
        "-c",
        "echo out; echo err >&2",
    ]);
    assert_eq!(
        (out.stdout.as_slice(), out.stderr.as_slice()),
        (&b""[..], &b"err\n"[..])
    );
    service.rpod.ok(&["tag", "demo", "passing:1"]);
    service.remote_ok(&["run", "--rmi", "passing:1", "true"]);
    assert_eq!(service.rpod.ok(&["images", "-q", "passing:1"]), "");
    assert_eq!(service.rpod.ok(&["ps", "-aq"]), "");
    // What the remote client does not do is refused by name, and nothing is sent: a flag
    // that needs this side's store, and a setting the spec has no field for.
    let out = service.remote_out(&["run", "--uidmap", "0:100000:1000", "demo", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("--uidmap of \"rpod run\" is not supported with a remote service"),
        "{out:?}"
    );
    let out = service.remote_out(&["run", "--domainname", "example.org", "demo", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(
            "not supported with a remote service (its API has no field for them): domainname"
        ),
        "{out:?}"
    );
    assert_eq!(service.rpod.ok(&["ps", "-aq"]), "");
    let out = service.remote_out(&["volume", "mount", "data"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("\"rpod volume mount\" is not supported"),
        "{out:?}"
    );
    let out = service.remote_out(&["--root", "/tmp/x", "ps"]);
    assert_eq!(out.status.code(), Some(125));
    assert_eq!(service.rpod.ok(&["ps", "-aq"]), "");
    // The client made no store of its own.
    assert!(!service.rpod.dir.path().join("client-store").exists());
    // No service there: the error says where it looked.
    let out = Command::new(env!("CARGO_BIN_EXE_rpod"))
        .args(["--url", "unix:///nonexistent/api.sock", "ps"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unix:///nonexistent/api.sock"),
        "{out:?}"
    );
}

/// Remote `update`: limits and the restart policy change as the local command changes
/// them (one container updated remotely, its twin locally, compared); what the API cannot
/// carry is refused by name, and a bad value by the service.
#[test]
fn rpod_remote_updates_limits_and_restart_policy() {
    let service = Service::start();
    for name in ["remote", "local"] {
        service.rpod.ok(&[
            "run", "-d", "--name", name, "-m", "64m", "demo", "sleep", "300",
        ]);
    }
    let shown = "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}} \
                 {{.HostConfig.MemoryReservation}} {{.HostConfig.CpuShares}} \
                 {{.HostConfig.CpuQuota}} {{.HostConfig.CpuPeriod}} \
                 {{.HostConfig.RestartPolicy.Name}} {{.HostConfig.RestartPolicy.MaximumRetryCount}}";
    let steps: [&[&str]; 5] = [
        &["--memory", "96m", "--cpus", "0.5", "--pids-limit", "77"],
        &["--memory-reservation", "16m", "--cpu-shares", "512"],
        &["--restart", "on-failure:3"],
        &["--pids-limit", "-1", "--restart", "always"],
        &["--cpu-quota", "25000", "--cpu-period", "50000"],
    ];
    for step in steps {
        let mut remote = vec!["update"];
        remote.extend_from_slice(step);
        let mut local = remote.clone();
        remote.push("remote");
        local.push("local");
        let id = service.rpod.ok(&["inspect", "-f", "{{.Id}}", "remote"]);
        assert_eq!(service.remote_ok(&remote), id, "{step:?}");
        service.rpod.ok(&local);
        assert_eq!(
            service.rpod.ok(&["inspect", "-f", shown, "remote"]),
            service.rpod.ok(&["inspect", "-f", shown, "local"]),
            "{step:?}"
        );
    }
    assert_eq!(
        service.rpod.ok(&["inspect", "-f", shown, "remote"]).trim(),
        format!(
            "{} 0 0 {} 512 25000 50000 always 0",
            96u64 << 20,
            16u64 << 20
        )
    );
    // Refused: a per-device limit (by name: it names a device of this host), a bad value,
    // no change, no such container.
    let block = std::fs::read_dir("/dev")
        .unwrap()
        .flatten()
        .map(|entry| entry.path())
        .find(|path| {
            std::fs::metadata(path)
                .is_ok_and(|m| std::os::unix::fs::FileTypeExt::is_block_device(&m.file_type()))
        });
    if let Some(device) = block {
        let limit = format!("{}:1mb", device.display());
        let out = service.remote_out(&["update", "--device-read-bps", &limit, "remote"]);
        assert_eq!(out.status.code(), Some(125), "{out:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr)
                .contains("not supported with a remote service (its API has no field for them): --device-read-bps"),
            "{out:?}"
        );
    }
    for bad in [
        &["update", "--memory", "1k", "remote"][..],
        &["update", "--restart", "sometimes", "remote"],
        &["update", "remote"],
        &["update", "--memory", "80m", "nosuch"],
    ] {
        let out = service.remote_out(bad);
        assert_eq!(out.status.code(), Some(125), "{bad:?}: {out:?}");
    }
    assert_eq!(
        service
            .rpod
            .ok(&["inspect", "-f", "{{.HostConfig.Memory}}", "remote"])
            .trim(),
        (96u64 << 20).to_string()
    );
    // podman 5's restart parameters as its client sends them; a policy that does not
    // exist is the service's 400, and changes nothing.
    let update = "/v5.0.0/libpod/containers/remote/update";
    let reply = service.http(
        "POST",
        &format!("{update}?restartPolicy=on-failure&restartRetries=2"),
        b"{}",
    );
    assert_eq!(reply.status, 201, "{}", reply.message());
    let policy =
        "{{.HostConfig.RestartPolicy.Name}} {{.HostConfig.RestartPolicy.MaximumRetryCount}}";
    assert_eq!(service.rpod.inspect("remote", policy), "on-failure 2");
    let reply = service.http("POST", &format!("{update}?restartPolicy=sometimes"), b"{}");
    assert_eq!(reply.status, 400, "{}", reply.message());
    assert!(reply.message().contains("sometimes"), "{}", reply.message());
    assert_eq!(service.rpod.inspect("remote", policy), "on-failure 2");
}

/// Remote `secret create|ls|inspect|rm|exists`: the data from a file, standard input or a
/// variable reaches the service's store (a container reads it), the listings are the
/// local command's, and the errors and exit codes too.
#[test]
fn rpod_remote_manages_secrets() {
    let service = Service::start();
    let file = service.rpod.dir.path().join("secret.txt");
    std::fs::write(&file, "s3cret").unwrap();
    let file = file.display().to_string();
    let id = service.remote_ok(&["secret", "create", "-l", "team=web", "tok", &file]);
    assert_eq!(id.trim().len(), 25, "{id}");
    let out = pipe_through(
        &mut service.remote(&["secret", "create", "piped", "-"]),
        b"from-stdin",
    );
    assert!(out.status.success(), "{out:?}");
    let out = service
        .remote(&["secret", "create", "--env", "fromenv", "RPOD_TEST_SECRET"])
        .env("RPOD_TEST_SECRET", "from-env")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    // The service's store holds them, data included.
    assert_eq!(
        service.rpod.ok(&[
            "run",
            "--rm",
            "--secret",
            "tok",
            "--secret",
            "piped",
            "--secret",
            "fromenv",
            "demo",
            "sh",
            "-c",
            "cat /run/secrets/tok /run/secrets/piped /run/secrets/fromenv"
        ]),
        "s3cretfrom-stdinfrom-env"
    );
    // Listings and inspection as the local command prints them.
    for args in [
        &["secret", "ls", "--format", "{{.Name}} {{.Driver}}"][..],
        &["secret", "ls", "-q", "--filter", "name=tok"],
        &[
            "secret",
            "ls",
            "--noheading",
            "--format",
            "{{.ID}} {{.CreatedAt}}",
        ],
        &["secret", "inspect", "--format", "{{.Spec.Labels}}", "tok"],
        &["secret", "inspect", "--pretty", "tok", "piped"],
        &["secret", "inspect", "tok"],
    ] {
        // `CreatedAt` is worded from now ("1 second ago"): the two readings may fall on
        // either side of a second; a few tries find them on the same one.
        let mut tries = 0;
        let (remote, local) = loop {
            let (remote, local) = (service.remote_ok(args), service.rpod.ok(args));
            tries += 1;
            if remote == local || tries == 3 {
                break (remote, local);
            }
        };
        assert_eq!(remote, local, "{args:?}");
    }
    assert_eq!(
        service.remote_ok(&["secret", "ls", "-q", "--filter", "name=tok"]),
        id
    );
    let err = service.remote_out(&["secret", "ls", "--filter", "size=1"]);
    assert_eq!(err.status.code(), Some(125), "{err:?}");
    // An existing name without --replace, then with it.
    let out = service.remote_out(&["secret", "create", "tok", &file]);
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    service.remote_ok(&["secret", "create", "--replace", "tok", &file]);
    // exists, inspect and rm of an unknown secret; rm prints IDs.
    assert_eq!(
        service
            .remote_out(&["secret", "exists", "tok"])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        service
            .remote_out(&["secret", "exists", "nope"])
            .status
            .code(),
        Some(1)
    );
    let out = service.remote_out(&["secret", "inspect", "tok", "nope"]);
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("nope"),
        "{out:?}"
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("\"tok\""),
        "{out:?}"
    );
    let out = service.remote_out(&["secret", "rm", "nope"]);
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    assert_eq!(service.remote_ok(&["secret", "rm", "--ignore", "nope"]), "");
    let piped_id = service
        .rpod
        .ok(&["secret", "ls", "-q", "--filter", "name=piped"]);
    assert_eq!(service.remote_ok(&["secret", "rm", "piped"]), piped_id);
    assert_eq!(
        service
            .remote_ok(&["secret", "rm", "--all"])
            .lines()
            .count(),
        2
    );
    assert_eq!(service.rpod.ok(&["secret", "ls", "-q"]), "");
}

/// Remote `attach` and `start -a`/`-ai`: output, stdin, the exit code, a `--rm`
/// container's removal, the detach keys, and the refusals of the local commands.
#[test]
fn rpod_remote_attaches_and_starts_attached() {
    let service = Service::start();
    // Attached while it runs: what it writes from then on, and its exit code.
    service.remote_ok(&[
        "run",
        "-d",
        "--name",
        "ticking",
        "demo",
        "sh",
        "-c",
        "while [ ! -e /tmp/go ]; do echo tick; sleep 0.1; done; echo out; echo err >&2; exit 3",
    ]);
    let mut attached = service
        .remote(&["attach", "ticking"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut output = std::io::BufReader::new(attached.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut output, &mut line).unwrap();
    assert_eq!(line, "tick\n");
    // Copied in rather than made by an exec: the container ends as soon as it sees the
    // file, and the kernel kills what is left in its pid namespace, so an exec `touch`
    // that had not exited yet would end with 137.
    let go = service.rpod.dir.path().join("go");
    std::fs::write(&go, "").unwrap();
    service
        .rpod
        .ok(&["cp", go.to_str().unwrap(), "ticking:/tmp/go"]);
    let mut rest = String::new();
    output.read_to_string(&mut rest).unwrap();
    let mut errors = String::new();
    attached
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut errors)
        .unwrap();
    assert_eq!(attached.wait().unwrap().code(), Some(3), "{errors}");
    assert!(rest.ends_with("tick\nout\n") || rest == "out\n", "{rest:?}");
    assert_eq!(errors, "err\n");
    // Stopped now: refused, as locally.
    let out = service.remote_out(&["attach", "ticking"]);
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("only attach to running containers"),
        "{out:?}"
    );
    // Stdin reaches a container created with it open; a `--rm` one is gone on return.
    service.remote_ok(&[
        "run",
        "-d",
        "-i",
        "--rm",
        "--name",
        "reader",
        "demo",
        "sh",
        "-c",
        "read line; echo got $line; exit 4",
    ]);
    let out = pipe_through(&mut service.remote(&["attach", "reader"]), b"hello\n");
    assert_eq!(out.status.code(), Some(4), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "got hello\n");
    assert_eq!(
        service
            .remote_out(&["container", "exists", "reader"])
            .status
            .code(),
        Some(1)
    );
    // The detach keys end the client and leave the container running. (Its stdin is
    // closed by the detach, as with podman and conmon: this one does not read it.)
    service.remote_ok(&[
        "run",
        "-d",
        "-i",
        "--name",
        "held",
        "demo",
        "sh",
        "-c",
        "while :; do echo tick; sleep 0.2; done",
    ]);
    let mut held = service
        .remote(&["attach", "held"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut keys = held.stdin.take().unwrap();
    // A tick seen means the client is attached and reading its input: keys written
    // before that would wait in the pipe and come in one read, which is input, not a
    // detach (and the client would wait on the container).
    let mut ticks = std::io::BufReader::new(held.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut ticks, &mut line).unwrap();
    assert_eq!(line, "tick\n");
    // One key per write, as typed, well apart.
    keys.write_all(&[0x10]).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    keys.write_all(&[0x11]).unwrap();
    let mut rest = Vec::new();
    ticks.read_to_end(&mut rest).unwrap();
    let status = held.wait().unwrap();
    drop(keys);
    assert_eq!(status.code(), Some(0), "{rest:?}");
    assert_eq!(
        service
            .rpod
            .ok(&["inspect", "-f", "{{.State.Running}}", "held"]),
        "true\n"
    );
    service.remote_ok(&["rm", "-f", "-t", "0", "held"]);

    // start -a: started here, its output and exit code; -i sends stdin.
    service.remote_ok(&[
        "create",
        "--name",
        "later",
        "demo",
        "sh",
        "-c",
        "echo started; exit 5",
    ]);
    let out = service.remote_out(&["start", "-a", "later"]);
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "started\n");
    service.remote_ok(&["create", "-i", "--name", "counter", "demo", "wc", "-c"]);
    let out = pipe_through(&mut service.remote(&["start", "-ai", "counter"]), b"abcd");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "4");
    let out = service.remote_out(&["start", "-a", "later", "counter"]);
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("multiple containers"),
        "{out:?}"
    );
    // What needs this side's store is refused by name.
    let out = service.remote_out(&["attach", "--latest"]);
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--latest"),
        "{out:?}"
    );
}

/// `--connection` and `--remote` (the default connection) of `system connection`, over a
/// unix socket and over TCP.
#[test]
fn rpod_remote_uses_saved_connections() {
    let service = Service::start();
    let socket = format!("unix://{}", service.socket.display());
    let config = service.rpod.config_path();
    let local = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_rpod"))
            .args(args)
            .env("RPOD_CONFIG", &config)
            .env("RPOD_ROOT", "/nonexistent/root")
            .env("RPOD_RUNROOT", "/nonexistent/run")
            .env_remove("CONTAINER_HOST")
            .env_remove("CONTAINER_CONNECTION")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        out
    };
    let ok = |args: &[&str]| succeeded("rpod", args, local(args));
    // No connection: --remote goes to RUNROOT/rpod.sock, which is not there.
    let out = local(&["--remote", "ps"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unix:///nonexistent/run/rpod.sock"),
        "{out:?}"
    );
    ok(&["system", "connection", "add", "here", &socket]);
    service.remote_ok(&["run", "-d", "--name", "seen", "demo", "sleep", "60"]);
    assert_eq!(
        ok(&["--remote", "ps", "--format", "{{.Names}}"]).trim(),
        "seen"
    );
    assert_eq!(
        ok(&["-c", "here", "ps", "--format", "{{.Names}}"]).trim(),
        "seen"
    );
    let out = local(&["-c", "nowhere", "ps"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no connection named \"nowhere\""),
        "{out:?}"
    );
    let out = local(&["-c", "here", "--url", &socket, "ps"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot be used together"),
        "{out:?}"
    );
    // CONTAINER_HOST alone makes a command remote, as podman's.
    let out = Command::new(env!("CARGO_BIN_EXE_rpod"))
        .args(["ps", "--format", "{{.Names}}"])
        .env("CONTAINER_HOST", &socket)
        .env("RPOD_CONFIG", &config)
        .env("RPOD_ROOT", "/nonexistent/root")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "seen",
        "{out:?}"
    );
    // A TCP service.
    let port = free_port();
    let address = format!("tcp://127.0.0.1:{port}");
    let tcp = KillOnDrop(
        service
            .rpod
            .command(&["system", "service", "--time", "0", &address])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_until("the TCP service listens", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    let listed = ok(&["--url", &address, "ps", "--format", "{{.Names}}"]);
    drop(tcp);
    assert_eq!(listed.trim(), "seen");
    service.remote_ok(&["rm", "-f", "-t", "0", "seen"]);
}

/// `rpod --url` with volumes and networks: made, listed as the local commands list them,
/// inspected, removed, with the local commands' exit codes.
#[test]
fn rpod_remote_manages_volumes_and_networks() {
    let service = Service::start();
    assert_eq!(
        service
            .remote_ok(&["volume", "create", "-l", "team=a", "data"])
            .trim(),
        "data"
    );
    assert_eq!(
        service.remote_ok(&["volume", "ls"]),
        service.rpod.ok(&["volume", "ls"])
    );
    assert_eq!(
        service.remote_ok(&["volume", "ls", "-q", "--filter", "label=team=a"]),
        "data\n"
    );
    assert_eq!(
        service.remote_ok(&["volume", "ls", "-q", "--filter", "label=team=b"]),
        ""
    );
    // No header over no volume, as the local listing.
    assert_eq!(
        service.remote_ok(&["volume", "ls", "--filter", "label=team=b"]),
        ""
    );
    assert_eq!(
        service
            .remote_ok(&[
                "volume",
                "inspect",
                "-f",
                "{{.Name}} {{.Labels.team}}",
                "data"
            ])
            .trim(),
        "data a"
    );
    assert_eq!(
        service
            .remote_out(&["volume", "exists", "data"])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        service
            .remote_out(&["volume", "exists", "nope"])
            .status
            .code(),
        Some(1)
    );
    // export and import (podman 5's endpoints): content, owners, modes and links cross
    // both ways, from a file and from standard input.
    service.remote_ok(&[
        "run", "--rm", "-v", "data:/v", "demo", "sh", "-c",
        "mkdir /v/d && echo hi > /v/d/f && chown 33:44 /v/d/f && chmod 640 /v/d/f && ln -s d/f /v/l",
    ]);
    let archive = service.rpod.dir.path().join("data.tar");
    let archive_arg = archive.display().to_string();
    service.remote_ok(&["volume", "export", "-o", &archive_arg, "data"]);
    let streamed = service.remote_out(&["volume", "export", "data"]);
    assert!(streamed.status.success(), "{streamed:?}");
    let names = |tar: &[u8]| {
        let mut names: Vec<String> = tar::Archive::new(tar)
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        names.sort();
        names
    };
    let exported = std::fs::read(&archive).unwrap();
    assert_eq!(names(&exported), names(&streamed.stdout));
    assert!(
        names(&exported).iter().any(|n| n.ends_with("d/f")),
        "{:?}",
        names(&exported)
    );
    service.remote_ok(&["volume", "create", "copy"]);
    service.remote_ok(&["volume", "create", "piped"]);
    service.remote_ok(&["volume", "import", "copy", &archive_arg]);
    let out = pipe_through(
        &mut service.remote(&["volume", "import", "piped", "-"]),
        &exported,
    );
    assert!(out.status.success(), "{out:?}");
    for volume in ["copy", "piped"] {
        let mount = format!("{volume}:/v");
        assert_eq!(
            service.rpod.ok(&[
                "run",
                "--rm",
                "-v",
                &mount,
                "demo",
                "sh",
                "-c",
                "cat /v/d/f; stat -c '%u:%g %a' /v/d/f; readlink /v/l"
            ]),
            "hi\n33:44 640\nd/f\n"
        );
    }
    // An unknown volume, a broken archive: refused, as locally.
    let out = service.remote_out(&["volume", "export", "nosuch"]);
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("nosuch"),
        "{out:?}"
    );
    let out = service.remote_out(&["volume", "import", "nosuch", &archive_arg]);
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    let junk = service.rpod.dir.path().join("junk.tar");
    std::fs::write(&junk, b"not a tar archive at all").unwrap();
    let out = service.remote_out(&["volume", "import", "copy", &junk.display().to_string()]);
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("the archive sent for volume copy"),
        "{out:?}"
    );
    service.remote_ok(&["volume", "rm", "copy", "piped"]);

    // In use: exit 2, as the local command; then removed.
    service.remote_ok(&[
        "run",
        "-d",
        "--name",
        "user",
        "-v",
        "data:/data",
        "demo",
        "sleep",
        "60",
    ]);
    assert_eq!(
        service.remote_out(&["volume", "rm", "data"]).status.code(),
        Some(2)
    );
    service.remote_ok(&["rm", "-f", "-t", "0", "user"]);
    assert_eq!(service.remote_ok(&["volume", "rm", "data"]).trim(), "data");
    assert_eq!(
        service.remote_out(&["volume", "rm", "data"]).status.code(),
        Some(1)
    );

    let created = service.remote_ok(&[
        "network",
        "create",
        "--subnet",
        "10.93.190.0/24",
        "--gateway",
        "10.93.190.1",
        "--interface-name",
        "rpodt190",
        "--label",
        "team=a",
        "--internal",
        "net190",
    ]);
    assert_eq!(created.trim(), "net190");
    assert_eq!(
        service.remote_ok(&["network", "ls"]),
        service.rpod.ok(&["network", "ls"])
    );
    assert_eq!(
        service.remote_ok(&["network", "ls", "-q", "--filter", "label=team=a"]),
        "net190\n"
    );
    assert_eq!(
        service
            .remote_ok(&[
                "network",
                "inspect",
                "-f",
                "{{.NetworkInterface}} {{.Internal}} {{range .Subnets}}{{.Gateway}}{{end}}",
                "net190"
            ])
            .trim(),
        "rpodt190 true 10.93.190.1"
    );
    assert_eq!(
        service
            .rpod
            .ok(&["network", "inspect", "-f", "{{.Labels.team}}", "net190"])
            .trim(),
        "a"
    );
    // Made again: refused, or taken as it is with --ignore.
    let again = ["network", "create", "--subnet", "10.93.190.0/24", "net190"];
    assert_eq!(service.remote_out(&again).status.code(), Some(125));
    let mut ignored = again.to_vec();
    ignored.insert(2, "--ignore");
    assert_eq!(service.remote_ok(&ignored).trim(), "net190");
    assert_eq!(
        service
            .remote_out(&["network", "exists", "net190"])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        service.remote_ok(&["network", "rm", "net190"]).trim(),
        "net190"
    );
    assert_eq!(
        service
            .remote_out(&["network", "rm", "net190"])
            .status
            .code(),
        Some(1)
    );
    assert_eq!(
        service
            .remote_out(&["network", "exists", "net190"])
            .status
            .code(),
        Some(1)
    );
    // A container's network settings: the address, alias, DNS, hosts and a published
    // port (--ip and --network-alias are given to the network --network names).
    service.remote_ok(&[
        "network",
        "create",
        "--subnet",
        "10.93.191.0/24",
        "--interface-name",
        "rpodt191",
        "net191",
    ]);
    let port = free_port();
    service.remote_ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "--network",
        "net191",
        "--ip",
        "10.93.191.9",
        "--network-alias",
        "www",
        "--dns",
        "10.93.191.53",
        "--add-host",
        "db.example:10.1.2.3",
        "-p",
        &format!("127.0.0.1:{port}:80"),
        "demo",
        "sh",
        "-c",
        "echo served > /tmp/index.html; httpd -f -p 80 -h /tmp",
    ]);
    let address_and_alias = || {
        service
            .rpod
            .ok(&[
                "inspect",
                "-f",
                "{{.NetworkSettings.Networks.net191.IPAddress}} {{index .NetworkSettings.Networks.net191.Aliases 0}}",
                "web",
            ])
            .trim()
            .to_string()
    };
    assert_eq!(address_and_alias(), "10.93.191.9 www");
    // port: as the local command prints it.
    for args in [
        &["port", "web"][..],
        &["port", "web", "80"],
        &["port", "--all"],
    ] {
        assert_eq!(service.remote_ok(args), service.rpod.ok(args), "{args:?}");
    }
    assert_eq!(
        service.remote_ok(&["port", "web"]),
        format!("80/tcp -> 127.0.0.1:{port}\n")
    );
    for (port, said) in [
        ("81", "failed to find published port"),
        ("x", "invalid port"),
    ] {
        let out = service.remote_out(&["port", "web", port]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(125), "{err}");
        assert!(err.contains(&format!("{said} \"{port}\"")), "{err}");
    }
    let files = service.remote_ok(&["exec", "web", "cat", "/etc/resolv.conf", "/etc/hosts"]);
    assert!(
        files.contains("nameserver 10.93.191.53") && files.contains("10.1.2.3\tdb.example"),
        "{files}"
    );
    wait_until("the published port answers", || {
        let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
            return false;
        };
        let _ = stream.write_all(b"GET /index.html HTTP/1.0\r\n\r\n");
        let mut body = String::new();
        let _ = std::io::Read::read_to_string(&mut stream, &mut body);
        body.ends_with("served\n")
    });
    // network disconnect and connect (with an address and an alias of its own).
    service.remote_ok(&["network", "disconnect", "net191", "web"]);
    assert_eq!(
        service
            .rpod
            .ok(&["inspect", "-f", "{{len .NetworkSettings.Networks}}", "web"])
            .trim(),
        "0"
    );
    service.remote_ok(&[
        "network",
        "connect",
        "--alias",
        "again",
        "--ip",
        "10.93.191.20",
        "net191",
        "web",
    ]);
    assert_eq!(address_and_alias(), "10.93.191.20 again");
    let out = service.remote_out(&["network", "connect", "nosuchnet", "web"]);
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    service.remote_ok(&["rm", "-f", "-t", "0", "web"]);
    // The prunes: what goes is printed, as locally.
    assert_eq!(service.remote_ok(&["network", "prune", "-f"]), "net191\n");
    service.remote_ok(&["volume", "create", "-l", "keep=no", "spare"]);
    service.remote_ok(&["volume", "create", "kept"]);
    assert_eq!(
        service.remote_ok(&["volume", "prune", "-f", "--filter", "label=keep=no"]),
        "spare\n"
    );
    assert_eq!(service.remote_ok(&["volume", "prune", "-f"]), "kept\n");
    let gone = service.remote_ok(&["create", "demo", "true"]);
    assert_eq!(service.remote_ok(&["container", "prune", "-f"]), gone);
    let image = service.rpod.ok(&["images", "-q", "--no-trunc", "demo"]);
    let image = image.trim().trim_start_matches("sha256:");
    let pruned = service.remote_ok(&["image", "prune", "-a", "-f"]);
    assert!(pruned.contains(image), "{pruned}");
    assert_eq!(service.rpod.ok(&["images", "-q"]), "");
    let out = service.remote_out(&["run", "--rm", "--ip", "10.93.191.9", "demo", "true"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("need --network NAME"),
        "{out:?}"
    );
    // What is not carried is refused by name.
    let out = service.remote_out(&["network", "create", "--ip-range", "10.93.190.0/25", "x"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--ip-range of \"rpod network create\""),
        "{out:?}"
    );
}

/// The lifecycle commands' `--all`, `--filter` and `--cidfile` through a remote service:
/// the containers picked as the local command picks them, from the service's listing.
#[test]
fn rpod_remote_picks_containers_with_all_and_filters() {
    let service = Service::start();
    let ids: Vec<String> = ["one", "two"]
        .iter()
        .map(|name| {
            service
                .remote_ok(&[
                    "run",
                    "-d",
                    "--name",
                    name,
                    "-l",
                    &format!("n={name}"),
                    "demo",
                    "sleep",
                    "60",
                ])
                .trim()
                .to_string()
        })
        .collect();
    let created = service.remote_ok(&["create", "--name", "idle", "demo", "true"]);
    // top: the service's ps, printed as the local command prints it.
    let top = service.remote_ok(&["top", "one", "pid,args"]);
    assert_eq!(top, service.rpod.ok(&["top", "one", "pid", "args"]));
    assert!(top.contains("sleep 60"), "{top}");
    // ps(1)'s arguments reach the service word by word.
    let ps = service.remote_ok(&["top", "one", "-o", "pid,rss"]);
    assert!(ps.starts_with("PID") && ps.contains("RSS"), "{ps}");
    // pause and unpause --all: the running ones, oldest first, by ID.
    assert_eq!(
        service.remote_ok(&["pause", "--all"]),
        format!("{}\n{}\n", ids[0], ids[1])
    );
    assert_eq!(
        service.rpod.ok(&[
            "ps",
            "-a",
            "--format",
            "{{.Names}} {{.State}}",
            "--sort",
            "names"
        ]),
        "idle created\none paused\ntwo paused\n"
    );
    assert_eq!(
        service.remote_ok(&["unpause", "-a"]),
        format!("{}\n{}\n", ids[0], ids[1])
    );
    // A filter picks by the service's own filtering.
    assert_eq!(
        service.remote_ok(&["stop", "-t", "0", "--filter", "label=n=two"]),
        format!("{}\n", ids[1])
    );
    // A --cidfile's container.
    let cidfile = service.rpod.dir.path().join("one.cid");
    std::fs::write(&cidfile, &ids[0]).unwrap();
    assert_eq!(
        service.remote_ok(&["kill", "--cidfile", &cidfile.display().to_string()]),
        format!("{}\n", ids[0])
    );
    // --all: every container, those not running too, as locally.
    let stopped = service.remote_ok(&["stop", "--all", "-t", "0"]);
    assert_eq!(stopped.lines().count(), 3, "{stopped}");
    assert_eq!(
        service.remote_out(&["stop", "--all", "one"]).status.code(),
        Some(125)
    );
    let out = service.remote_out(&["stop", "--latest"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--latest of \"rpod stop\" is not supported"),
        "{out:?}"
    );
    // rm --all: a pod whole (its containers printed), then the others, newest first.
    service.rpod.ok(&["pod", "create", "--name", "team"]);
    let member = service
        .rpod
        .ok(&["create", "--pod", "team", "demo", "true"]);
    let out = service.remote_ok(&["rm", "-a", "-f", "-t", "0"]);
    let removed: Vec<&str> = out.lines().collect();
    assert!(removed.contains(&member.trim()), "{out}");
    assert_eq!(
        removed[removed.len() - 3..],
        [created.trim(), ids[1].as_str(), ids[0].as_str()],
        "{out}"
    );
    assert_eq!(service.rpod.ok(&["ps", "-aq"]), "");
    assert_eq!(service.rpod.ok(&["pod", "ps", "-q"]), "");
    // Nothing to pick: nothing done.
    assert_eq!(service.remote_ok(&["stop", "-a"]), "");
    // podman's --force ignores a missing container.
    assert_eq!(service.remote_ok(&["rm", "-f", "nosuch"]), "");
}

/// `rpod --url rename|init|healthcheck run|tag|untag|history|diff`: as the local commands, on
/// the service's store.
#[test]
fn rpod_remote_renames_inits_checks_health_and_names_images() {
    let service = Service::start();
    let rpod = &service.rpod;
    let fails = |args: &[&str], code: i32, says: &str| {
        let out = service.remote_out(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    };
    service.remote_ok(&["create", "--name", "first", "demo", "sleep", "100"]);
    assert_eq!(service.remote_ok(&["rename", "first", "second"]), "");
    assert_eq!(rpod.ok(&["ps", "-a", "--format", "{{.Names}}"]), "second\n");
    fails(
        &["container", "rename", "nosuch", "x"],
        125,
        "no such container",
    );
    // init: the runtime's container made, not started; once only.
    assert_eq!(service.remote_ok(&["init", "second"]), "second\n");
    assert_eq!(rpod.inspect("second", "{{.State.Status}}"), "initialized");
    fails(
        &["container", "init", "second"],
        125,
        "container second has already been created in runtime",
    );
    service.remote_ok(&["create", "--name", "third", "demo", "true"]);
    assert_eq!(
        service.remote_ok(&["init", "--all"]),
        format!("{}\n", rpod.inspect("third", "{{.Id}}"))
    );
    // healthcheck run: the verdict and the exit code of the local command.
    service.remote_ok(&[
        "run",
        "-d",
        "--name",
        "checked",
        "--health-cmd",
        "test -f /ready",
        "--health-interval",
        "disable",
        "demo",
        "sleep",
        "300",
    ]);
    let out = service.remote_out(&["healthcheck", "run", "checked"]);
    assert_eq!(
        (out.status.code(), out.stdout.as_slice()),
        (Some(1), &b"unhealthy\n"[..]),
        "{out:?}"
    );
    rpod.ok(&["exec", "checked", "touch", "/ready"]);
    let out = service.remote_out(&["healthcheck", "run", "checked"]);
    assert_eq!(
        (out.status.code(), out.stdout.as_slice()),
        (Some(0), &b""[..]),
        "{out:?}"
    );
    assert_eq!(
        rpod.inspect("checked", "{{.State.Health.Status}}"),
        "healthy"
    );
    // podman's other name for it, in the client's templates as in the local command's.
    assert_eq!(
        service.remote_ok(&["inspect", "-f", "{{.State.Healthcheck.Status}}", "checked"]),
        "healthy\n"
    );
    fails(&["healthcheck", "run", "nosuch"], 125, "no such container");
    // tag and untag: names checked before any is sent.
    service.remote_ok(&["tag", "demo", "other:v2", "localhost:5000/team/app"]);
    for name in ["localhost/other:v2", "localhost:5000/team/app:latest"] {
        rpod.ok(&["image", "exists", name]);
    }
    fails(&["tag", "demo", "fine:1", "Bad Name"], 125, "Bad Name");
    rpod.fails(&["image", "exists", "localhost/fine:1"], 1);
    let digest = format!("demo@sha256:{}", "a".repeat(64));
    fails(&["image", "tag", "demo", &digest], 125, "digest");
    // history: the local command's output (but the author, which the API has not).
    rpod.ok(&["run", "--name", "c1", "demo", "touch", "/x"]);
    rpod.ok(&["commit", "-q", "c1", "stepped"]);
    for args in [
        &[
            "history",
            "--no-trunc",
            "--format",
            "{{.ID}}|{{.CreatedAt}}|{{.CreatedBy}}|{{.Size}}|{{.Comment}}|{{.Tags}}",
            "stepped",
        ][..],
        &["image", "history", "-q", "stepped"],
        &[
            "history",
            "--human=false",
            "--format",
            "{{.Created}} {{.Size}}",
            "stepped",
        ],
    ] {
        let local = rpod.ok(args);
        assert_eq!(local.lines().count(), 2, "{local}");
        assert_eq!(service.remote_ok(args), local, "{args:?}");
    }
    fails(&["history", "nosuch"], 125, "nosuch");
    // diff: the local command's output.
    for args in [
        &["diff", "c1"][..],
        &["container", "diff", "--format", "json", "c1"],
        &["image", "diff", "stepped"],
        &["image", "diff", "stepped", "demo"],
        &["diff", "stepped"],
    ] {
        let local = rpod.ok(args);
        assert!(local.contains("/x"), "{args:?}: {local}");
        assert_eq!(service.remote_ok(args), local, "{args:?}");
    }
    fails(&["diff", "--format", "yaml", "c1"], 125, "invalid --format");
    fails(&["container", "diff", "stepped"], 125, "stepped");
    service.remote_ok(&["untag", "demo", "other:v2"]);
    rpod.fails(&["image", "exists", "localhost/other:v2"], 1);
    rpod.ok(&["image", "exists", "localhost:5000/team/app:latest"]);
    fails(&["tag", "nosuch", "x"], 125, "nosuch");
    // events: the local command's lines, past ones (the bounds and filters the service's)
    // and new ones as they come.
    let until = (chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339();
    for args in [
        &["events", "--stream=false", "--filter", "type=image"][..],
        &[
            "events",
            "--stream=false",
            "--filter",
            "container=second",
            "--format",
            "json",
        ],
        &[
            "events",
            "--since",
            "0",
            "--until",
            &until,
            "--filter",
            "event=rename",
            "--format",
            "{{.Status}} {{.Name}} {{.Type}} {{.Image}}",
        ],
    ] {
        let local = rpod.ok(args);
        assert!(!local.is_empty(), "{args:?}");
        assert_eq!(service.remote_ok(args), local, "{args:?}");
    }
    fails(&["events", "--filter", "colour=red"], 125, "invalid filter");
    let since = chrono::Utc::now().to_rfc3339();
    let mut follow = service
        .remote(&[
            "events",
            "--since",
            &since,
            "--filter",
            "event=create",
            "--format",
            "{{.Name}}",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(follow.stdout.take().unwrap()));
    let (sender, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(lines.next());
    });
    rpod.ok(&["create", "--name", "late", "demo", "true"]);
    let seen = received.recv_timeout(Duration::from_secs(30));
    let _ = follow.kill();
    let _ = follow.wait();
    assert_eq!(seen.unwrap().unwrap().unwrap(), "late");
    // logs of several containers: each line after the container's prefix, as locally.
    rpod.ok(&[
        "run",
        "--name",
        "l1",
        "demo",
        "sh",
        "-c",
        "echo one; echo two >&2",
    ]);
    rpod.ok(&[
        "run",
        "--name",
        "l2",
        "demo",
        "sh",
        "-c",
        "printf 'three\\nfour'",
    ]);
    for args in [
        &["logs", "l1", "l2"][..],
        &["logs", "-n", "l1", "l2"],
        &["logs", "--color", "-t", "l2", "l1"],
        &["logs", "l2"],
        &["logs", "-n", "--color", "l2"],
    ] {
        let (local, remote) = (rpod.run(args), service.remote_out(args));
        assert_eq!(remote.status.code(), Some(0), "{args:?}: {remote:?}");
        assert_eq!(
            (remote.stdout, remote.stderr),
            (local.stdout, local.stderr),
            "{args:?}"
        );
    }
    let short = rpod.inspect("l1", "{{.Id}}")[..12].to_string();
    assert!(service
        .remote_ok(&["logs", "l1", "l2"])
        .starts_with(&format!("{short} one\n")));
    // An unknown container among them is said and nothing printed, as locally and as
    // podman's.
    for args in [
        &["logs", "l1", "nosuch", "l2"][..],
        &["logs", "-n", "nosuch", "l2"],
    ] {
        let (local, remote) = (rpod.run(args), service.remote_out(args));
        assert_eq!(remote.status.code(), Some(125), "{args:?}: {remote:?}");
        assert_eq!(local.status.code(), Some(125), "{args:?}: {local:?}");
        assert_eq!(remote.stdout, local.stdout, "{args:?}");
        assert!(remote.stdout.is_empty(), "{args:?}");
        let said = String::from_utf8_lossy(&remote.stderr);
        assert!(said.contains("no such container"), "{args:?}: {said}");
    }
    fails(&["logs", "nosuch"], 125, "no such container");
    // Followed at once: both containers' lines as they come, until both have ended.
    for name in ["f1", "f2"] {
        rpod.ok(&[
            "run",
            "-d",
            "--name",
            name,
            "demo",
            "sh",
            "-c",
            "echo a; sleep 2; echo b",
        ]);
    }
    let followed = service.remote_ok(&["logs", "-f", "-n", "f1", "f2"]);
    let mut lines: Vec<&str> = followed.lines().collect();
    lines.sort();
    assert_eq!(lines, ["f1 a", "f1 b", "f2 a", "f2 b"], "{followed}");
    // untag without names: all of them.
    let id = rpod.ok(&["images", "-q", "--no-trunc", "localhost/demo:latest"]);
    service.remote_ok(&["image", "untag", "demo"]);
    assert_eq!(
        rpod.ok(&["image", "inspect", "--format", "{{.RepoTags}}", id.trim()]),
        "[]\n"
    );
}

/// `rpod --url stats`: the service's readings worded and printed as the local command's.
#[test]
fn rpod_remote_shows_stats() {
    let service = Service::start();
    let rpod = &service.rpod;
    rpod.ok(&["run", "-d", "--name", "busy", "demo", "sleep", "300"]);
    let id = rpod.inspect("busy", "{{.Id}}");
    let fields = "{{.ID}} {{.Name}} {{.PIDs}} {{.Pod}}";
    for args in [
        &["stats", "--no-stream", "--format", fields][..],
        &[
            "container",
            "stats",
            "--no-stream",
            "--no-trunc",
            "--format",
            fields,
            "busy",
        ],
    ] {
        assert_eq!(service.remote_ok(args), rpod.ok(args), "{args:?}");
    }
    let (table, local) = (
        service.remote_ok(&["stats", "--no-stream"]),
        rpod.ok(&["stats", "--no-stream"]),
    );
    assert_eq!(table.lines().next(), local.lines().next(), "{table}");
    let row = table.lines().nth(1).unwrap_or_default();
    assert!(row.starts_with(&format!("{}  busy", &id[..12])), "{table}");
    let memory = service.remote_ok(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.MemUsage}}|{{.MemPerc}}|{{.CPUPerc}}",
        "busy",
    ]);
    let parts: Vec<&str> = memory.trim_end().split('|').collect();
    assert!(
        parts[0].contains(" / ") && parts[1].ends_with('%') && parts[2].ends_with('%'),
        "{memory}"
    );
    // Streamed: a reading each interval until interrupted.
    let mut follow = service
        .remote(&["stats", "-i", "1", "--format", "{{.Name}}", "busy"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(follow.stdout.take().unwrap()));
    let (sender, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let first = lines.next();
        let second = lines.next();
        let _ = sender.send((first, second));
    });
    let seen = received.recv_timeout(Duration::from_secs(30));
    let _ = follow.kill();
    let _ = follow.wait();
    let (first, second) = seen.unwrap();
    assert_eq!(
        (first.unwrap().unwrap(), second.unwrap().unwrap()),
        ("busy".into(), "busy".into())
    );
    // --all: stopped containers too, with zero readings, in the local order.
    rpod.ok(&["create", "--name", "idle", "demo", "true"]);
    let all = &["stats", "--all", "--no-stream", "--format", fields][..];
    let listed = service.remote_ok(all);
    assert_eq!(listed, rpod.ok(all));
    assert_eq!(listed.lines().count(), 2, "{listed}");
    assert!(listed.contains(" idle 0 "), "{listed}");
    for (args, says) in [
        (&["stats", "--no-stream", "nosuch"][..], "no such container"),
        (&["stats", "-i", "0", "busy"], "at least 1 second"),
        (
            &["stats", "--all", "busy"],
            "--all takes no container names",
        ),
        (&["stats", "--latest"], "--latest"),
    ] {
        let out = service.remote_out(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(125), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

/// `rpod --url push`: the service pushes to a registry; the digest comes back here.
#[test]
fn rpod_remote_pushes() {
    let registry = Registry::plain();
    // The service's store takes the registry as insecure (plain HTTP), for its own pulls.
    let rpod = Rpod::with_config(
        "runc",
        &format!(
            "{NO_NETWORK_CONFIG}[registries]\ninsecure = [\"{}\"]\n",
            registry.host
        ),
    );
    rpod.ok(&["import", &busybox_tarball().display().to_string(), "demo"]);
    let service = Service::start_with(rpod, &["--time", "0"]);
    let rpod = &service.rpod;
    let target = format!("{}/remote/demo:1", registry.host);
    let digest_file = rpod.dir.path().join("digest");
    let out = service.remote_out(&[
        "push",
        "--tls-verify=false",
        "--digestfile",
        &digest_file.display().to_string(),
        "demo",
        &target,
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        !String::from_utf8_lossy(&out.stderr).is_empty(),
        "progress: {out:?}"
    );
    let digest = std::fs::read_to_string(&digest_file).unwrap();
    assert!(
        digest.starts_with("sha256:") && digest.len() == 71,
        "{digest}"
    );
    // What went is the image: pulled back by digest.
    rpod.ok(&["rmi", "-f", "demo"]);
    let by_digest = format!("{}/remote/demo@{digest}", registry.host);
    rpod.ok(&["pull", "-q", "--tls-verify=false", &by_digest]);
    assert_eq!(
        rpod.ok(&["run", "--rm", &by_digest, "echo", "back"]),
        "back\n"
    );
    rpod.ok(&["tag", &by_digest, "demo"]);
    // run --pull always and newer: the service pulls, then runs.
    for policy in ["always", "newer"] {
        let out = service.remote_out(&["run", "--rm", "--pull", policy, &target, "echo", policy]);
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{policy}\n"));
    }
    rpod.ok(&["image", "exists", &target]);
    let out = service.remote_out(&["image", "push", "-q", "--tls-verify=false", "demo", &target]);
    assert_eq!(
        (out.status.code(), out.stderr.as_slice()),
        (Some(0), &b""[..]),
        "{out:?}"
    );
    for (args, says) in [
        (
            &["push", "--tls-verify=false", "nosuch", &target][..],
            "nosuch",
        ),
        (&["push", "--format", "qcow", "demo", &target], "qcow"),
        (&["push", "--authfile", "/x", "demo", &target], "--authfile"),
    ] {
        let out = service.remote_out(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(125), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

/// `rpod --url system df|prune`: the service's report printed as the local command's.
#[test]
fn rpod_remote_reports_disk_use_and_prunes() {
    let service = Service::start();
    let rpod = &service.rpod;
    rpod.ok(&[
        "run",
        "--name",
        "gone1",
        "demo",
        "sh",
        "-c",
        "head -c 100000 /dev/zero > /f",
    ]);
    rpod.ok(&["run", "-d", "--name", "stays", "demo", "sleep", "300"]);
    rpod.ok(&["volume", "create", "unused"]);
    for args in [
        &["system", "df"][..],
        &[
            "system",
            "df",
            "--format",
            "{{.Type}} {{.Total}} {{.Active}} {{.RawSize}} {{.RawReclaimable}}",
        ],
    ] {
        assert_eq!(service.remote_ok(args), rpod.ok(args), "{args:?}");
    }
    // Verbose: the same tables (their ages may have moved on between the two).
    let (remote, local) = (
        service.remote_ok(&["system", "df", "-v"]),
        rpod.ok(&["system", "df", "-v"]),
    );
    let without_ages = |text: &str| -> Vec<String> {
        text.lines()
            .map(|line| {
                let line = line
                    .replace("Less than a second", "AGE")
                    .replace("About a minute", "AGE");
                let words: Vec<&str> = line.split_whitespace().collect();
                let mut kept = Vec::new();
                let mut i = 0;
                while i < words.len() {
                    let unit = words.get(i + 1).copied().unwrap_or_default();
                    if words[i].parse::<u64>().is_ok()
                        && ["second", "seconds", "minutes", "hours"].contains(&unit)
                    {
                        kept.push("AGE");
                        i += 2;
                    } else {
                        kept.push(words[i]);
                        i += 1;
                    }
                }
                kept.join(" ")
            })
            .collect()
    };
    assert_eq!(
        without_ages(&remote),
        without_ages(&local),
        "{remote}\n{local}"
    );
    // prune: what went, in the local command's order and words.
    let gone = rpod.inspect("gone1", "{{.Id}}");
    assert_eq!(
        service.remote_ok(&["system", "prune", "-f", "--volumes"]),
        // podman's order and headings (only over what went), and the 100 kB gone1 wrote.
        format!(
            "Deleted Containers\n{gone}\nDeleted Volumes\nunused\nTotal reclaimed space: 100kB\n"
        )
    );
    assert_eq!(rpod.ok(&["ps", "-a", "--format", "{{.Names}}"]), "stays\n");
    assert_eq!(rpod.ok(&["volume", "ls", "-q"]), "");
    let out = service.remote_out(&["system", "prune", "--filter", "label=x"]);
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--filter"),
        "{out:?}"
    );
}

/// `rpod --url export|save|load|import`: archives written here as the local commands write
/// theirs, and files or standard input sent to the service.
/// `rpod --url build`: the context sent as a tar (without what its ignore file leaves
/// out), the progress and the RUN steps' output printed as the local command prints them.
#[test]
fn rpod_remote_builds_images() {
    let service = Service::start();
    let rpod = &service.rpod;
    let dir = rpod.dir.path().join("ctx");
    std::fs::create_dir_all(dir.join("cache")).unwrap();
    std::fs::write(dir.join("greeting"), "built by rpod --url\n").unwrap();
    std::fs::write(dir.join("secret.txt"), "not to be sent\n").unwrap();
    std::fs::write(dir.join("cache/blob"), "not to be sent\n").unwrap();
    std::fs::write(dir.join(".dockerignore"), "secret.txt\ncache\n").unwrap();
    std::fs::write(
        dir.join("Containerfile"),
        "FROM demo\nARG WHO=nobody\nCOPY . /ctx/\nRUN echo step-ran-for-$WHO\nCMD [\"cat\", \"/ctx/greeting\"]\n",
    )
    .unwrap();
    let ctx = dir.display().to_string();
    let out = service.remote_ok(&["build", "-t", "rbuilt", "--build-arg", "WHO=remote", &ctx]);
    assert!(out.contains("STEP 1/5: FROM demo"), "{out}");
    assert_eq!(out.matches("COMMIT rbuilt\n").count(), 1, "{out}");
    assert_eq!(out.matches("Successfully tagged").count(), 1, "{out}");
    assert!(out.contains("step-ran-for-remote\n"), "{out}");
    let lines: Vec<&str> = out.lines().collect();
    let id = rpod.inspect("rbuilt", "{{.Id}}");
    assert_eq!(
        lines[lines.len() - 2..],
        ["Successfully tagged localhost/rbuilt:latest", id.as_str()],
        "{out}"
    );
    assert_eq!(rpod.ok(&["run", "--rm", "rbuilt"]), "built by rpod --url\n");
    // What the ignore file leaves out never reached the service; the ignore file did.
    let sent = rpod.ok(&["run", "--rm", "rbuilt", "ls", "-A", "/ctx"]);
    assert_eq!(sent, ".dockerignore\nContainerfile\ngreeting\n");
    // Quiet: the ID alone, also in --iidfile.
    let iidfile = rpod.dir.path().join("iid");
    let quiet = service.remote_ok(&[
        "build",
        "-q",
        "--iidfile",
        &iidfile.display().to_string(),
        &ctx,
    ]);
    assert_eq!(quiet.lines().count(), 1, "{quiet}");
    assert_eq!(
        std::fs::read_to_string(&iidfile).unwrap(),
        format!("sha256:{}", quiet.trim())
    );
    // A Containerfile outside the context, and one on standard input.
    let other = rpod.dir.path().join("Other.containerfile");
    std::fs::write(
        &other,
        "FROM demo\nCOPY . /c/\nRUN cat /c/greeting && ls -A /c\n",
    )
    .unwrap();
    let out = service.remote_ok(&["build", "-f", &other.display().to_string(), &ctx]);
    // It is not among the context's files that COPY sees.
    assert!(
        out.contains("built by rpod --url\n.dockerignore\nContainerfile\ngreeting\n"),
        "{out}"
    );
    let mut piped = service
        .remote(&["build", "-t", "fromstdin", "-f", "-", &ctx])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    piped
        .stdin
        .take()
        .unwrap()
        .write_all(b"FROM demo\nLABEL via=stdin\n")
        .unwrap();
    assert!(piped.wait_with_output().unwrap().status.success());
    assert_eq!(rpod.inspect("fromstdin", "{{.Labels.via}}"), "stdin");
    // A failed RUN step: its status, as the local command exits.
    std::fs::write(&other, "FROM demo\nRUN exit 7\n").unwrap();
    let args = ["build", "-f", &other.display().to_string(), &ctx];
    let (remote, local) = (service.remote_out(&args), rpod.run(&args));
    assert_eq!(
        (remote.status.code(), local.status.code()),
        (Some(7), Some(7))
    );
    assert!(
        String::from_utf8_lossy(&remote.stderr).contains("Error: "),
        "{remote:?}"
    );
    // What the remote command does not do is refused by name before anything is sent.
    let out = service.remote_out(&["build", "--ignorefile", "x", &ctx]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("--ignorefile of \"rpod build\" is not supported with a remote service"),
        "{out:?}"
    );
    // A context on standard input is the local command's alone.
    let out = service.remote_out(&["build", "-"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(
            "build - (a context on standard input) with a remote service is not supported"
        ),
        "{out:?}"
    );
}

#[test]
fn rpod_remote_moves_archives() {
    let service = Service::start();
    let rpod = &service.rpod;
    let dir = rpod.dir.path();
    let at = |name: &str| dir.join(name).display().to_string();
    let fails = |args: &[&str], code: i32, says: &str| {
        let out = service.remote_out(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    };
    rpod.ok(&[
        "run",
        "--name",
        "c1",
        "demo",
        "sh",
        "-c",
        "echo made > /made",
    ]);
    // export: the local command's archive, to a file or to standard output.
    rpod.ok(&["export", "-o", &at("local.tar"), "c1"]);
    assert_eq!(
        service.remote_ok(&["export", "-o", &at("remote.tar"), "c1"]),
        ""
    );
    let local = std::fs::read(at("local.tar")).unwrap();
    assert_eq!(std::fs::read(at("remote.tar")).unwrap(), local);
    assert_eq!(
        service.remote_out(&["container", "export", "c1"]).stdout,
        local
    );
    fails(
        &["export", "-o", &at("none.tar"), "nosuch"],
        125,
        "no such container",
    );
    assert!(!dir.join("none.tar").exists());
    // save: the same archive as the local save's.
    rpod.ok(&["save", "-o", &at("local-save.tar"), "demo"]);
    service.remote_ok(&["save", "-o", &at("remote-save.tar"), "demo"]);
    assert_eq!(
        std::fs::read(at("remote-save.tar")).unwrap(),
        std::fs::read(at("local-save.tar")).unwrap()
    );
    fails(
        &["save", "--format", "oci-archive", "demo", "demo"],
        125,
        "oci-archive holds one image",
    );
    // A directory format: the service's tar unpacked here, the same files as the local
    // save's; loaded back from the directory (sent as a tar of it).
    for format in ["oci-dir", "docker-dir"] {
        rpod.ok(&[
            "save",
            "--format",
            format,
            "-o",
            &at(&format!("local-{format}")),
            "demo",
        ]);
        service.remote_ok(&[
            "save",
            "--format",
            format,
            "-o",
            &at(&format!("remote-{format}")),
            "demo",
        ]);
        let files = |name: &str| {
            let mut found = Vec::new();
            let mut pending = vec![dir.join(name)];
            while let Some(next) = pending.pop() {
                for entry in std::fs::read_dir(&next).unwrap() {
                    let path = entry.unwrap().path();
                    if path.is_dir() {
                        pending.push(path);
                    } else {
                        let rel = path.strip_prefix(dir.join(name)).unwrap().to_path_buf();
                        found.push((rel, std::fs::read(&path).unwrap()));
                    }
                }
            }
            found.sort();
            found
        };
        assert!(
            files(&format!("remote-{format}")) == files(&format!("local-{format}")),
            "{format}"
        );
        let loaded = service.remote_ok(&["load", "-i", &at(&format!("remote-{format}"))]);
        assert!(loaded.starts_with("Loaded image: "), "{loaded}");
    }
    fails(
        &[
            "save",
            "--compress",
            "--format",
            "oci-dir",
            "-o",
            &at("c"),
            "demo",
        ],
        125,
        "docker-dir",
    );
    fails(
        &["image", "save", "-o", &at("none.tar"), "nosuch"],
        125,
        "nosuch",
    );
    assert!(!dir.join("none.tar").exists());
    // commit: the container's changes made an image by the service; its ID printed and
    // written to --iidfile here.
    let id = service.remote_ok(&[
        "commit",
        "-q",
        "--iidfile",
        &at("iid"),
        "--change",
        "CMD [\"cat\", \"/made\"]",
        "-m",
        "remote commit",
        "--author",
        "me",
        "c1",
        "committed:v1",
    ]);
    let id = id.trim();
    assert_eq!(
        std::fs::read_to_string(at("iid")).unwrap(),
        format!("sha256:{id}")
    );
    assert_eq!(rpod.inspect("localhost/committed:v1", "{{.Id}}"), id);
    assert_eq!(rpod.ok(&["run", "--rm", "committed:v1"]), "made\n");
    assert_eq!(rpod.inspect("committed:v1", "{{.Author}}"), "me");
    assert!(rpod
        .ok(&["history", "--format", "{{.Comment}}", "committed:v1"])
        .contains("remote commit"));
    fails(
        &["commit", "--include-volumes", "c1"],
        125,
        "--include-volumes",
    );
    fails(
        &["container", "commit", "--format", "qcow", "c1"],
        125,
        "qcow",
    );
    // load: from a file and from standard input, the names printed as locally.
    rpod.ok(&["rmi", "-f", "demo"]);
    assert_eq!(
        service.remote_ok(&["load", "-i", &at("remote-save.tar")]),
        "Loaded image: localhost/demo:latest\n"
    );
    let archive = std::fs::read(at("remote-save.tar")).unwrap();
    let out = pipe_through(&mut service.remote(&["image", "load"]), &archive);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Loaded image: localhost/demo:latest\n"
    );
    let out = pipe_through(&mut service.remote(&["load"]), b"not an archive");
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    // import: a tarball made an image, with the local command's changes and message.
    let id = service.remote_ok(&[
        "import",
        "--change",
        "CMD [\"cat\", \"/made\"]",
        "--message",
        "from afar",
        &at("local.tar"),
        "imported",
    ]);
    assert_eq!(
        rpod.inspect("localhost/imported:latest", "{{.Id}}"),
        id.trim()
    );
    assert_eq!(rpod.ok(&["run", "--rm", "imported"]), "made\n");
    assert!(rpod
        .ok(&["history", "--format", "{{.Comment}}", "imported"])
        .contains("from afar"));
    let out = pipe_through(
        &mut service.remote(&["image", "import", "-", "piped"]),
        &local,
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    rpod.ok(&["image", "exists", "localhost/piped:latest"]);
    fails(&["import", &at("missing.tar")], 125, "missing.tar");
}

/// `rpod --url pod ...`: a pod made from the local command's flags, listed, inspected and
/// moved through its lifecycle on the service.
#[test]
fn rpod_remote_manages_pods() {
    let service = Service::start();
    let id_file = service.rpod.dir.path().join("pod.id");
    let id = service.remote_ok(&[
        "pod",
        "create",
        "--name",
        "team",
        "--label",
        "tier=web",
        "--hostname",
        "teamhost",
        "--pod-id-file",
        &id_file.display().to_string(),
    ]);
    let id = id.trim().to_string();
    assert_eq!(std::fs::read_to_string(&id_file).unwrap(), id);
    // --replace: the pod of that name goes first.
    let again = service.remote_ok(&[
        "pod",
        "create",
        "--replace",
        "--name",
        "team",
        "--hostname",
        "teamhost",
    ]);
    let id = again.trim().to_string();
    assert_eq!(
        service.rpod.ok(&["pod", "ps", "-q", "--no-trunc"]).trim(),
        id
    );
    service.remote_ok(&[
        "run", "-d", "--pod", "team", "--name", "member", "demo", "sleep", "60",
    ]);
    assert_eq!(
        service.remote_ok(&["exec", "member", "hostname"]).trim(),
        "teamhost"
    );
    // A wrong name among the pods named changes nothing, as locally.
    let out = service.remote_out(&["pod", "stop", "-t", "0", "team", "nosuch"]);
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
    assert_eq!(
        service
            .remote_out(&["pod", "rm", "team", "nosuch"])
            .status
            .code(),
        Some(1)
    );
    // --force passes over a pod that is not there, as locally.
    assert_eq!(service.remote_ok(&["pod", "rm", "-f", "nosuch"]), "");
    assert_eq!(
        service.rpod.inspect("member", "{{.State.Status}}"),
        "running"
    );
    // pod logs and pod stats: the members' (not the infra container's), as locally.
    service.remote_ok(&[
        "run",
        "-d",
        "--pod",
        "team",
        "--name",
        "talker",
        "demo",
        "sh",
        "-c",
        "echo said; exec sleep 60",
    ]);
    wait_until("talker spoke", || {
        service.rpod.ok(&["logs", "talker"]) == "said\n"
    });
    for args in [
        &["pod", "logs", "team"][..],
        &["pod", "logs", "-n", "team"],
        &["pod", "logs", "-c", "talker", "team"],
    ] {
        assert_eq!(service.remote_ok(args), service.rpod.ok(args), "{args:?}");
    }
    let out = service.remote_out(&["pod", "logs", "-c", "nosuch", "team"]);
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("not in pod team"));
    // A member that is not running has its row too, without readings, as podman's.
    service
        .rpod
        .ok(&["create", "--pod", "team", "--name", "idle", "demo", "true"]);
    let fields = "{{.Pod}} {{.CID}} {{.Name}} {{.PIDS}}";
    for args in [
        &["pod", "stats", "--no-stream", "--format", fields][..],
        &["pod", "stats", "--no-stream", "--format", fields, "team"],
    ] {
        let (remote, local) = (service.remote_ok(args), service.rpod.ok(args));
        let sorted = |text: &str| {
            let mut lines: Vec<String> = text.lines().map(String::from).collect();
            lines.sort();
            lines
        };
        assert_eq!(sorted(&remote), sorted(&local), "{args:?}");
        assert_eq!(remote.lines().count(), 4, "{remote}");
        assert!(remote.contains(" idle --\n"), "{remote}");
    }
    service.rpod.ok(&["rm", "idle"]);
    let header = |text: String| text.lines().next().unwrap_or_default().to_string();
    assert_eq!(
        header(service.remote_ok(&["pod", "stats", "--no-stream"])),
        header(service.rpod.ok(&["pod", "stats", "--no-stream"]))
    );
    // A lifecycle command's `--filter pod=` takes the pod's name, through the service's
    // listing as locally.
    service.remote_ok(&["pause", "--filter", "pod=team", "--filter", "name=talker"]);
    assert_eq!(
        service.rpod.inspect("talker", "{{.State.Status}}"),
        "paused"
    );
    service.remote_ok(&["unpause", "--filter", "pod=team", "--filter", "name=talker"]);
    assert_eq!(
        service.rpod.inspect("talker", "{{.State.Status}}"),
        "running"
    );
    service.remote_ok(&["rm", "-f", "-t", "0", "talker"]);
    let table = "table {{.Id}}\t{{.Name}}\t{{.Status}}\t{{.InfraId}}\t{{.NumberOfContainers}}";
    assert_eq!(
        service.remote_ok(&["pod", "ps", "--format", table]),
        service.rpod.ok(&["pod", "ps", "--format", table])
    );
    assert_eq!(
        service.remote_ok(&[
            "pod",
            "ps",
            "--ctr-names",
            "--format",
            "{{.ContainerNames}}"
        ]),
        service.rpod.ok(&[
            "pod",
            "ps",
            "--ctr-names",
            "--format",
            "{{.ContainerNames}}"
        ])
    );
    assert_eq!(
        service
            .remote_ok(&[
                "pod",
                "inspect",
                "-f",
                "{{.Name}} {{.Hostname}} {{.NumContainers}}",
                "team"
            ])
            .trim(),
        "team teamhost 2"
    );
    assert_eq!(
        service.remote_out(&["pod", "exists", "team"]).status.code(),
        Some(0)
    );
    assert_eq!(
        service.remote_out(&["pod", "exists", "nope"]).status.code(),
        Some(1)
    );
    let top = service.remote_ok(&["pod", "top", "team", "args"]);
    assert!(top.contains("sleep 60"), "{top}");
    // The lifecycle moves print the pod's ID, as the local ones.
    for moves in [
        &["pod", "pause", "team"][..],
        &["pod", "unpause", "--all"],
        &["pod", "stop", "-t", "0", "team"],
        &["pod", "start", "team"],
        &["pod", "restart", "-t", "0", "team"],
        &["pod", "kill", "-s", "USR1", "team"],
    ] {
        assert_eq!(service.remote_ok(moves).trim(), id, "{moves:?}");
    }
    let out = service.remote_out(&["pod", "kill", "-s", "NOSUCHSIGNAL", "team"]);
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    assert_eq!(
        service
            .remote_ok(&["pod", "rm", "-f", "-t", "0", "team"])
            .trim(),
        id
    );
    assert_eq!(service.rpod.ok(&["ps", "-aq"]), "");
    assert_eq!(
        service.remote_out(&["pod", "rm", "team"]).status.code(),
        Some(1)
    );
    assert_eq!(service.remote_ok(&["pod", "rm", "--ignore", "team"]), "");
    // prune: the stopped pods; one still `Created` stays, as podman's.
    let idle = service.remote_ok(&["pod", "create", "--name", "idle"]);
    assert_eq!(service.remote_ok(&["pod", "prune", "-f"]), "");
    service.remote_ok(&["pod", "start", "idle"]);
    service.remote_ok(&["pod", "stop", "-t", "0", "idle"]);
    assert_eq!(service.remote_ok(&["pod", "prune", "-f"]), idle);
    // What needs this side's store is refused by name.
    let out = service.remote_out(&["pod", "create", "--uidmap", "0:100000:1000"]);
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("--uidmap of \"rpod pod create\" is not supported with a remote service"),
        "{out:?}"
    );
    assert_eq!(service.rpod.ok(&["pod", "ps", "-q"]), "");
}

/// `rpod --url cp`: files and directories to and from a container of the service, and
/// archives on standard input and output.
#[test]
fn rpod_remote_copies_files_both_ways() {
    let service = Service::start();
    let here = tempfile::tempdir().unwrap();
    service.remote_ok(&["run", "-d", "--name", "box", "demo", "sleep", "60"]);
    // A file in, under another name, and into a directory under its own.
    let file = here.path().join("note.txt");
    std::fs::write(&file, "from the client\n").unwrap();
    service.remote_ok(&["cp", &file.display().to_string(), "box:/tmp/renamed.txt"]);
    service.remote_ok(&["cp", &file.display().to_string(), "box:/tmp"]);
    assert_eq!(
        service.remote_ok(&["exec", "box", "cat", "/tmp/renamed.txt", "/tmp/note.txt"]),
        "from the client\nfrom the client\n"
    );
    // A directory in.
    let dir = here.path().join("tree");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(dir.join("sub/leaf"), "leaf\n").unwrap();
    service.remote_ok(&["cp", &dir.display().to_string(), "box:/tmp/"]);
    assert_eq!(
        service.remote_ok(&["exec", "box", "cat", "/tmp/tree/sub/leaf"]),
        "leaf\n"
    );
    // Out: a file as a new name, a directory into an existing one.
    service.remote_ok(&[
        "exec",
        "box",
        "sh",
        "-c",
        "mkdir -p /out/deep && echo made-inside > /out/deep/f && chmod 4755 /out/deep/f",
    ]);
    let copied = here.path().join("copied.txt");
    service.remote_ok(&["cp", "box:/tmp/renamed.txt", &copied.display().to_string()]);
    assert_eq!(
        std::fs::read_to_string(&copied).unwrap(),
        "from the client\n"
    );
    let into = here.path().join("into");
    std::fs::create_dir(&into).unwrap();
    service.remote_ok(&["cp", "box:/out", &into.display().to_string()]);
    let leaf = into.join("out/deep/f");
    assert_eq!(std::fs::read_to_string(&leaf).unwrap(), "made-inside\n");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&leaf).unwrap().permissions().mode();
    assert_eq!(
        mode & 0o7000,
        0,
        "a set-ID bit came out of the container: {mode:o}"
    );
    // Archives through standard input and output.
    let out = service.remote_out(&["cp", "box:/tmp/note.txt", "-"]);
    assert!(out.status.success(), "{out:?}");
    let mut names = Vec::new();
    for entry in tar::Archive::new(&out.stdout[..]).entries().unwrap() {
        names.push(entry.unwrap().path().unwrap().display().to_string());
    }
    assert_eq!(names, ["note.txt"]);
    let out = pipe_through(&mut service.remote(&["cp", "-", "box:/tmp"]), &out.stdout);
    assert!(out.status.success(), "{out:?}");
    // An empty input is no archive (as podman refuses it).
    let out = pipe_through(
        service
            .remote(&["cp", "-", "box:/tmp"])
            .stderr(std::process::Stdio::piped()),
        b"",
    );
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("the input is empty"));
    // Errors: a missing path, a missing container, both ends in containers.
    let out = service.remote_out(&["cp", "box:/nowhere", &here.path().display().to_string()]);
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    let out = service.remote_out(&["cp", &file.display().to_string(), "nobox:/tmp"]);
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .to_lowercase()
            .contains("no such container"),
        "{out:?}"
    );
    let out = service.remote_out(&["cp", "box:/tmp", "box:/x"]);
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    // Nothing is replaced by another kind, and a name ending in `/` is a directory that
    // must exist, either way (Docker's rules for cp, as locally).
    let refused = |args: &[&str], words: &str| {
        let out = service.remote_out(args);
        assert_eq!(out.status.code(), Some(125), "{out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(words), "{args:?}: {err}");
    };
    let shown = |path: &std::path::Path| path.display().to_string();
    refused(
        &["cp", &shown(&into), "box:/tmp/renamed.txt"],
        "cannot copy a directory onto \"/tmp/renamed.txt\" on container box",
    );
    refused(
        &["cp", &shown(&file), "box:/tmp/renamed.txt/"],
        "is not a directory",
    );
    refused(
        &["cp", &shown(&file), "box:/tmp/new/"],
        "could not be found",
    );
    refused(
        &["cp", "box:/out", &shown(&copied)],
        "cannot copy a directory onto",
    );
    refused(
        &[
            "cp",
            "box:/tmp/renamed.txt",
            &format!("{}/", shown(&copied)),
        ],
        "on the host is not a directory",
    );
    assert_eq!(
        std::fs::read_to_string(&copied).unwrap(),
        "from the client\n"
    );
    assert_eq!(
        service.remote_ok(&["exec", "box", "cat", "/tmp/renamed.txt"]),
        "from the client\n"
    );
    // `--overwrite` lets the directory replace the file; `DIR/.` puts what DIR holds
    // into an existing directory (it went in as DIR).
    service.remote_ok(&["cp", "--overwrite", &shown(&into), "box:/tmp/renamed.txt"]);
    service.remote_ok(&["exec", "box", "mkdir", "/tmp/held"]);
    service.remote_ok(&["cp", &format!("{}/.", shown(&into)), "box:/tmp/held"]);
    assert_eq!(
        service.remote_ok(&[
            "exec",
            "box",
            "cat",
            "/tmp/renamed.txt/out/deep/f",
            "/tmp/held/out/deep/f"
        ]),
        "made-inside\nmade-inside\n"
    );
    refused(
        &["cp", "--overwrite", "box:/out", &shown(&copied)],
        "not supported",
    );
    service.remote_ok(&["rm", "-f", "-t", "0", "box"]);
}
