//! Attach, terminals, detach keys, signals, exec and following logs, end to end on runc
//! and crun. Terminal behaviour runs through a real pseudo-terminal pair.

mod common;

use std::io::{Read, Write};
use std::process::Stdio;
use std::time::Duration;

use common::{pid_alive, pipe_through, wait_until, PtyRun, Rpod};

/// The bytes `yes 0123456789abcdef | head -c size` prints.
fn pattern(size: usize) -> Vec<u8> {
    b"0123456789abcdef\n"
        .iter()
        .copied()
        .cycle()
        .take(size)
        .collect()
}

fn sha256(data: &[u8]) -> String {
    let out = pipe_through(&mut std::process::Command::new("sha256sum"), data);
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

macro_rules! stream_tests {
    ($module:ident, $runtime:literal) => {
        mod $module {
            use super::*;
            const RT: &str = $runtime;

            #[test]
            fn large_output_is_byte_exact_even_with_a_slow_reader() {
                let rpod = Rpod::with_image(RT);
                for size in [1 << 20, 64 << 20] {
                    let script = format!("yes 0123456789abcdef | head -c {size}");
                    let mut child = rpod
                        .command(&["run", "--rm", "demo", "sh", "-c", &script])
                        .stdout(Stdio::piped())
                        .spawn()
                        .unwrap();
                    let mut stdout = child.stdout.take().unwrap();
                    let mut got = Vec::with_capacity(size);
                    let mut chunk = [0u8; 4096];
                    let mut reads = 0u64;
                    loop {
                        let n = stdout.read(&mut chunk).unwrap();
                        if n == 0 {
                            break;
                        }
                        got.extend_from_slice(&chunk[..n]);
                        reads += 1;
                        if reads % 64 == 0 {
                            std::thread::sleep(Duration::from_millis(1));
                        }
                    }
                    assert!(child.wait().unwrap().success());
                    assert_eq!(got.len(), size, "lost or extra output at {size} bytes");
                    assert!(got == pattern(size), "output differs at {size} bytes");
                }
            }

            #[test]
            fn stdin_reaches_the_container_and_eof_closes_it() {
                let rpod = Rpod::with_image(RT);
                let out = pipe_through(&mut rpod.command(&["run", "--rm", "-i", "demo", "cat"]), b"hello\n");
                assert_eq!(out.status.code(), Some(0));
                assert_eq!(String::from_utf8_lossy(&out.stdout), "hello\n", "echoed or lost");
                // A megabyte of binary stdin comes back byte-exact.
                let data: Vec<u8> = (0..(1u32 << 20)).map(|i| (i * 7 % 251) as u8).collect();
                let out = pipe_through(&mut rpod.command(&["run", "--rm", "-i", "demo", "cat"]), &data);
                assert!(out.stdout == data, "stdin did not come back byte-exact");
            }

            #[test]
            fn a_lone_ctrl_p_reaches_the_container() {
                let rpod = Rpod::with_image(RT);
                let mut child = rpod
                    .command(&["run", "--rm", "-i", "demo", "od", "-An", "-c"])
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .spawn()
                    .unwrap();
                let mut stdin = child.stdin.take().unwrap();
                // One key per write, as typed: ctrl-p, then a.
                stdin.write_all(&[0x10]).unwrap();
                std::thread::sleep(Duration::from_millis(100));
                stdin.write_all(b"a").unwrap();
                drop(stdin);
                let out = child.wait_with_output().unwrap();
                let text = String::from_utf8_lossy(&out.stdout);
                assert!(text.contains("020") && text.contains('a'), "{text:?}");
            }

            #[test]
            fn terminal_size_resize_and_restore() {
                let rpod = Rpod::with_image(RT);
                // Each line read prints the size again, until `q`.
                let script = "stty size; while read line; do [ \"$line\" = q ] && exit 6; stty size; done";
                let mut pty = PtyRun::spawn(&rpod, &["run", "-it", "--rm", "demo", "sh", "-c", script], 33, 111);
                let before = pty.settings();
                pty.expect("33 111");
                // While attached, the user's terminal is raw: no echo, no line discipline.
                let raw = pty.settings();
                assert!(!raw.local_modes.contains(rustix::termios::LocalModes::ECHO));
                pty.resize(20, 70);
                // Through the monitor's control FIFO (conmon's without an answer) a resize can
                // take a while under load: ask again until it shows.
                let resized = (0..20).any(|_| {
                    pty.write(b"\n");
                    pty.shows_within("20 70", Duration::from_millis(500))
                });
                assert!(resized, "never saw 20 70 in {:?}", pty.text());
                pty.write(b"q\n");
                assert_eq!(pty.wait(), 6);
                let after = pty.settings();
                assert_eq!(after.local_modes, before.local_modes, "terminal not restored");
                assert_eq!(after.input_modes, before.input_modes, "terminal not restored");
            }

            #[test]
            fn a_terminal_the_container_closes_and_opens_again_keeps_working() {
                // An init such as systemd closes its console at start and opens it again:
                // the monitor must keep the terminal for it (it once dropped it at the
                // first EIO, and the open failed with EIO for good).
                let rpod = Rpod::with_image(RT);
                let script = "echo before; exec 0<&- 1>&- 2>&-; sleep 0.5; echo after > /dev/console";
                rpod.ok(&["run", "-d", "-t", "--name", "reopen", "demo", "sh", "-c", script]);
                assert_eq!(rpod.ok(&["wait", "reopen"]).trim(), "0");
                let log = rpod.ok(&["logs", "reopen"]);
                assert!(log.contains("before") && log.contains("after"), "{log:?}");
            }

            #[test]
            fn detach_and_reattach() {
                let rpod = Rpod::with_image(RT);
                let mut pty = PtyRun::spawn(&rpod, &["run", "-it", "--name", "d", "demo", "sh"], 24, 80);
                pty.write(b"echo first-$((40+2))\n");
                pty.expect("first-42");
                pty.type_keys(&[0x10, 0x11]);
                assert_eq!(pty.wait(), 0);
                assert_eq!(rpod.inspect("d", "{{.State.Status}}"), "running");
                // Detaching restores the user's terminal too.
                let after = pty.settings();
                assert!(after.local_modes.contains(rustix::termios::LocalModes::ECHO), "terminal left raw after detach");
                let mut again = PtyRun::spawn(&rpod, &["attach", "d"], 24, 80);
                std::thread::sleep(Duration::from_millis(300));
                again.write(b"echo second-$((40+3))\n");
                again.expect("second-43");
                again.write(b"exit 5\n");
                assert_eq!(again.wait(), 5);
                assert_eq!(rpod.inspect("d", "{{.State.Status}} {{.State.ExitCode}}"), "exited 5");
            }

            #[test]
            fn custom_and_disabled_detach_keys() {
                let rpod = Rpod::with_image(RT);
                let mut pty = PtyRun::spawn(&rpod, &["run", "-it", "--detach-keys", "ctrl-x,y", "--name", "c", "demo", "sh"], 24, 80);
                pty.write(b"echo ready-$((1+1))\n");
                pty.expect("ready-2");
                pty.type_keys(&[0x18, b'y']);
                assert_eq!(pty.wait(), 0);
                assert_eq!(rpod.inspect("c", "{{.State.Status}}"), "running");
                let mut pty = PtyRun::spawn(&rpod, &["run", "-it", "--detach-keys", "", "demo", "sh"], 24, 80);
                pty.write(b"echo ready-$((2+1))\n");
                pty.expect("ready-3");
                pty.type_keys(&[0x10, 0x11]);
                pty.write(b"\nexit 3\n");
                assert_eq!(pty.wait(), 3, "detached although detaching was disabled");
                let err = rpod.fails(&["run", "--detach-keys", "ctrl-1", "demo", "true"], 125);
                assert!(err.contains("invalid detach keys"), "{err}");
            }

            #[test]
            fn create_it_then_start_ai() {
                let rpod = Rpod::with_image(RT);
                rpod.ok(&["create", "-it", "--name", "later", "demo", "sh"]);
                let mut pty = PtyRun::spawn(&rpod, &["start", "-ai", "later"], 24, 80);
                pty.write(b"echo via-$((3*3))\n");
                pty.expect("via-9");
                pty.write(b"exit 2\n");
                assert_eq!(pty.wait(), 2);
            }

            #[test]
            fn signals_are_proxied_to_the_container() {
                let rpod = Rpod::with_image(RT);
                let mut child = rpod
                    .command(&["run", "--name", "sig", "demo", "sh", "-c", "trap 'echo got-usr1; exit 4' USR1; echo ready; while true; do sleep 0.05; done"])
                    .stdout(Stdio::piped())
                    .spawn()
                    .unwrap();
                let mut stdout = child.stdout.take().unwrap();
                let mut seen = Vec::new();
                let mut byte = [0u8; 1];
                while !String::from_utf8_lossy(&seen).contains("ready") {
                    assert_eq!(stdout.read(&mut byte).unwrap(), 1, "output ended early");
                    seen.push(byte[0]);
                }
                nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGUSR1).unwrap();
                stdout.read_to_end(&mut seen).unwrap();
                assert_eq!(child.wait().unwrap().code(), Some(4));
                assert!(String::from_utf8_lossy(&seen).contains("got-usr1"));
            }

            #[test]
            fn long_roots_work() {
                let rpod = Rpod::new(RT);
                let long = rpod.dir.path().join("x".repeat(120));
                let root = long.join("root").display().to_string();
                let runroot = long.join("run").display().to_string();
                let tarball = common::busybox_tarball().display().to_string();
                let base = |args: &[&str]| {
                    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_rpod"));
                    command.args(["--root", &root, "--runroot", &runroot, "--runtime", RT]).args(args);
                    command.env("RPOD_CONFIG", rpod.config_path());
                    command.stdin(Stdio::null()).output().unwrap()
                };
                assert!(base(&["import", &tarball, "demo"]).status.success());
                let out = base(&["run", "--rm", "demo", "echo", "through a long path"]);
                assert_eq!(String::from_utf8_lossy(&out.stdout), "through a long path\n", "{}", String::from_utf8_lossy(&out.stderr));
                let id = String::from_utf8(base(&["run", "-d", "demo", "sleep", "100"]).stdout).unwrap();
                let out = base(&["exec", id.trim(), "echo", "exec too"]);
                assert_eq!(String::from_utf8_lossy(&out.stdout), "exec too\n");
                assert!(base(&["rm", "-f", "-t", "0", id.trim()]).status.success());
            }

            #[test]
            fn exec_exit_codes_and_messages() {
                let rpod = Rpod::with_image(RT);
                let id = rpod.detached(&["demo", "sleep", "1000"]);
                assert_eq!(rpod.ok(&["exec", &id, "echo", "hi"]), "hi\n");
                rpod.fails(&["exec", &id, "sh", "-c", "exit 3"], 3);
                let err = rpod.fails(&["exec", &id, "/no/such"], 127);
                assert!(err.contains("not found"), "{err}");
                let err = rpod.fails(&["exec", &id, "/etc/passwd"], 126);
                assert!(err.contains("permission denied"), "{err}");
                let out = rpod.ok(&["exec", "-u", "nobody", "-w", "/tmp", "-e", "A=b", &id, "sh", "-c", "id -u; pwd; echo $A"]);
                assert_eq!(out, "65534\n/tmp\nb\n");
                // As podman's exec: the user's supplementary groups are those the group file
                // lists it in (root is in none in the test image), not its primary group.
                assert_eq!(rpod.ok(&["exec", "-u", "root", &id, "id"]), "uid=0(root) gid=0(root)\n");
                let out = rpod.ok(&["exec", "--privileged", &id, "sh", "-c", "grep CapEff /proc/self/status"]);
                assert!(!out.contains("00000000a80425fb"), "privileged exec kept the default capabilities: {out}");
                let err = rpod.fails(&["exec", "ghost", "true"], 125);
                assert!(err.contains("no such container"), "{err}");
                // --preserve-fds hands descriptor 3 of rpod to the command.
                let secret = rpod.dir.path().join("secret");
                std::fs::write(&secret, "passed-through\n").unwrap();
                let script = format!(
                    "exec 3<{} && exec \"$0\" --root {} --runroot {} --runtime {} exec --preserve-fds 1 {} cat /proc/self/fd/3",
                    secret.display(),
                    rpod.root().display(),
                    rpod.runroot().display(),
                    RT,
                    id
                );
                let out = std::process::Command::new("bash")
                    .arg("-c")
                    .arg(&script)
                    .arg(env!("CARGO_BIN_EXE_rpod"))
                    .output()
                    .unwrap();
                assert_eq!(String::from_utf8_lossy(&out.stdout), "passed-through\n", "{}", String::from_utf8_lossy(&out.stderr));
            }

            #[test]
            fn exec_sessions_are_recorded_and_cleaned_up() {
                let rpod = Rpod::with_image(RT);
                let id = rpod.detached(&["demo", "sleep", "1000"]);
                let session = rpod.ok(&["exec", "-d", &id, "sleep", "0.7"]).trim().to_string();
                assert_eq!(session.len(), 64);
                let ids = rpod.inspect(&id, "{{json .ExecIDs}}");
                assert!(ids.contains(&session), "{ids}");
                let sessions = rpod.runroot().join("containers").join(&id).join("exec");
                assert!(sessions.join(&session).exists());
                wait_until("the session is cleaned up", || {
                    rpod.inspect(&id, "{{json .ExecIDs}}") == "[]" && !sessions.join(&session).exists()
                });
                // Failed execs leave nothing behind, however many.
                let threads: Vec<_> = (0..4)
                    .map(|_| {
                        let root = rpod.root();
                        let runroot = rpod.runroot();
                        let id = id.clone();
                        std::thread::spawn(move || {
                            for _ in 0..250 {
                                let out = std::process::Command::new(env!("CARGO_BIN_EXE_rpod"))
                                    .arg("--root").arg(&root).arg("--runroot").arg(&runroot)
                                    .args(["exec", &id, "/no/such/binary"])
                                    .stdin(Stdio::null())
                                    .output()
                                    .unwrap();
                                assert_eq!(out.status.code(), Some(127));
                            }
                        })
                    })
                    .collect();
                for thread in threads {
                    thread.join().unwrap();
                }
                assert_eq!(rpod.inspect(&id, "{{json .ExecIDs}}"), "[]");
                let leftovers: Vec<_> = std::fs::read_dir(&sessions)
                    .unwrap()
                    .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect();
                assert!(leftovers.is_empty(), "session directories left: {}", leftovers.len());
            }

            /// `attach --exec SESSION`: a detached session's output from then on (its
            /// standard output and error), its exit code, and the session collected; an
            /// ended or unknown session is refused.
            #[test]
            fn a_detached_exec_session_is_attached_to_again() {
                let rpod = Rpod::with_image(RT);
                let id = rpod.detached(&["demo", "sleep", "1000"]);
                let script = "i=0; while [ ! -e /tmp/go ]; do i=$((i+1)); echo tick $i; sleep 0.1; done; \
                              echo out; echo err >&2; exit 7";
                let session = rpod.ok(&["exec", "-d", &id, "sh", "-c", script]).trim().to_string();
                let mut attached = rpod
                    .command(&["attach", "--exec", &session])
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap();
                // Attached once its output comes; then the session is let go on to its end.
                let mut lines = std::io::BufRead::lines(std::io::BufReader::new(
                    attached.stdout.take().unwrap(),
                ));
                let first = lines.next().unwrap().unwrap();
                assert!(first.starts_with("tick"), "{first}");
                // One client collects it: a second is refused.
                let err = rpod.fails(&["attach", "--exec", &session], 125);
                assert!(err.contains("has a client attached already"), "{err}");
                rpod.ok(&["exec", &id, "touch", "/tmp/go"]);
                let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
                let out = attached.wait_with_output().unwrap();
                assert_eq!(out.status.code(), Some(7), "{rest:?} {}", String::from_utf8_lossy(&out.stderr));
                assert_eq!(rest.last().map(String::as_str), Some("out"), "{rest:?}");
                assert!(String::from_utf8_lossy(&out.stderr).ends_with("err\n"));
                // Collected by its client: nothing left.
                assert_eq!(rpod.inspect(&id, "{{json .ExecIDs}}"), "[]");
                let sessions = rpod.runroot().join("containers").join(&id).join("exec");
                assert!(!sessions.join(&session).exists());
                let err = rpod.fails(&["attach", "--exec", &session], 125);
                assert!(err.contains("no such exec session"), "{err}");
                // One that ended before anyone attached.
                let quick = rpod.ok(&["exec", "-d", &id, "true"]).trim().to_string();
                wait_until("the quick session ends", || {
                    rpod.inspect(&id, "{{json .ExecIDs}}") == "[]"
                });
                let err = rpod.fails(&["attach", "--exec", &quick], 125);
                assert!(err.contains("no such exec session") || err.contains("has ended"), "{err}");
                let err = rpod.fails(&["attach", "--exec", &quick, &id], 125);
                assert!(err.contains("cannot be used with"), "{err}");
            }

            #[test]
            fn exec_refuses_paused_and_stopped_containers() {
                let rpod = Rpod::with_image(RT);
                let id = rpod.detached(&["demo", "sleep", "1000"]);
                rpod.ok(&["pause", &id]);
                let err = rpod.fails(&["exec", &id, "true"], 125);
                assert!(err.contains("paused"), "{err}");
                rpod.ok(&["unpause", &id]);
                rpod.ok(&["stop", "-t", "0", &id]);
                let err = rpod.fails(&["exec", &id, "true"], 125);
                assert!(err.contains("running containers"), "{err}");
            }

            #[test]
            fn exec_stdin_is_byte_exact() {
                let rpod = Rpod::with_image(RT);
                let id = rpod.detached(&["demo", "sleep", "1000"]);
                let data: Vec<u8> = (0..(16u32 << 20)).map(|i| (i.wrapping_mul(2654435761) >> 24) as u8).collect();
                let out = pipe_through(&mut rpod.command(&["exec", "-i", &id, "sha256sum"]), &data);
                assert!(out.status.success());
                let got = String::from_utf8_lossy(&out.stdout);
                assert_eq!(got.split_whitespace().next().unwrap(), sha256(&data));
            }

            #[test]
            fn exec_with_a_terminal() {
                let rpod = Rpod::with_image(RT);
                let id = rpod.detached(&["demo", "sleep", "1000"]);
                let mut pty = PtyRun::spawn(&rpod, &["exec", "-it", &id, "sh"], 27, 99);
                pty.write(b"stty size\n");
                pty.expect("27 99");
                pty.resize(40, 120);
                // The resize goes through rpod and the monitor's control FIFO (conmon's
                // without an answer): under load it can take a while, so ask again.
                let resized = (0..20).any(|_| {
                    pty.write(b"stty size\n");
                    pty.shows_within("40 120", Duration::from_millis(500))
                });
                assert!(resized, "never saw 40 120 in {:?}", pty.text());
                pty.write(b"exit 9\n");
                assert_eq!(pty.wait(), 9);
            }

            #[test]
            fn logs_follow_until_exit_with_prefixes() {
                let rpod = Rpod::with_image(RT);
                let a = rpod.detached(&["demo", "sh", "-c", "for i in 1 2 3; do echo a$i; sleep 0.1; done"]);
                let b = rpod.detached(&["demo", "sh", "-c", "for i in 1 2; do echo b$i; sleep 0.15; done; printf b-end"]);
                let out = rpod.ok(&["logs", "-f", &a, &b]);
                for line in ["a1", "a2", "a3"] {
                    assert!(out.contains(&format!("{} {line}\n", &a[..12])), "{out}");
                }
                for line in ["b1", "b2"] {
                    assert!(out.contains(&format!("{} {line}\n", &b[..12])), "{out}");
                }
                assert!(out.contains(&format!("{} b-end", &b[..12])), "{out}");
                assert!(!pid_alive(rpod.inspect(&a, "{{.State.ConmonPid}}").parse().unwrap_or(0)));
                // A single container is not prefixed; an exited one just prints.
                assert_eq!(rpod.ok(&["logs", "-f", &a]), "a1\na2\na3\n");
            }
        }
    };
}

stream_tests!(runc, "runc");
stream_tests!(crun, "crun");
