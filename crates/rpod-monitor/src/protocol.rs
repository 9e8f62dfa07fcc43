//! The small wire formats the monitor shares with libpod and rpod: sync-pipe messages, ctl
//! FIFO lines, exit statuses, and the runtime's command line. Pure functions, tested without
//! running anything.

use std::path::Path;

use crate::options::Config;

/// Largest message relayed from the runtime's stderr (conmon's limit).
pub const MESSAGE_MAX: usize = 8191;

/// One sync-pipe message: `{"data": N}` or `{"data": N, "message": "..."}`, one line.
pub fn sync_message(data: i64, message: Option<&str>) -> Vec<u8> {
    let mut object = serde_json::Map::new();
    object.insert("data".into(), data.into());
    if let Some(text) = message.filter(|m| !m.is_empty()) {
        let cut = text
            .char_indices()
            .map(|(i, _)| i)
            .take_while(|i| *i <= MESSAGE_MAX)
            .last()
            .filter(|_| text.len() > MESSAGE_MAX)
            .unwrap_or(text.len());
        object.insert("message".into(), text[..cut].into());
    }
    let mut line = serde_json::Value::Object(object).to_string().into_bytes();
    line.push(b'\n');
    line
}

/// The exit code recorded for a wait status: the code, or 128 + the signal.
pub fn exit_code(status: nix::sys::wait::WaitStatus) -> i32 {
    use nix::sys::wait::WaitStatus;
    match status {
        WaitStatus::Exited(_, code) => code,
        WaitStatus::Signaled(_, signal, _) => 128 + signal as i32,
        _ => -1,
    }
}

/// A request on the ctl FIFO.
#[derive(Debug, PartialEq, Eq)]
pub enum Control {
    Resize { height: u16, width: u16 },
    ReopenLog,
}

/// A ctl line: its request, and the token of rpod's acknowledgement when the line carried
/// one (`rpod_monitor_protocol::CTL_ACK_PREFIX`).
#[derive(Debug, PartialEq, Eq)]
pub struct ControlLine {
    pub control: Control,
    pub ack: Option<String>,
}

/// Parse whole lines out of `pending` (bytes read from the ctl FIFO so far), leaving an
/// unfinished line in it. `TYPE HEIGHT WIDTH [TOKEN]`; type 1 resizes, 2 reopens the log;
/// sizes above 1000 and malformed lines are dropped, as conmon drops them, and a token that
/// is not one the monitor answers is ignored (the request still counts). A line longer than
/// 199 bytes is discarded.
pub fn take_controls(pending: &mut Vec<u8>) -> Vec<ControlLine> {
    let mut controls = Vec::new();
    while let Some(end) = pending.iter().position(|b| *b == b'\n') {
        let line: Vec<u8> = pending.drain(..=end).collect();
        if let Some(control) = parse_control(&line[..line.len() - 1]) {
            controls.push(control);
        }
    }
    if pending.len() >= 200 {
        pending.clear();
    }
    controls
}

fn parse_control(line: &[u8]) -> Option<ControlLine> {
    let text = std::str::from_utf8(line).ok()?;
    let mut words = text.split_whitespace();
    let numbers: Vec<i64> = words
        .by_ref()
        .take(3)
        .map(|t| t.parse().ok())
        .collect::<Option<_>>()?;
    let [kind, height, width] = numbers[..] else {
        return None;
    };
    if !(0..=1000).contains(&height) || !(0..=1000).contains(&width) {
        return None;
    }
    let control = match kind {
        1 => Control::Resize {
            height: height as u16,
            width: width as u16,
        },
        2 => Control::ReopenLog,
        _ => return None,
    };
    let ack = words
        .next()
        .filter(|token| rpod_monitor_protocol::is_ctl_ack_token(token))
        .map(str::to_string);
    Some(ControlLine { control, ack })
}

fn path_arg(path: &Path) -> String {
    path.display().to_string()
}

/// The runtime's argv (without its path) for create, restore or exec, as conmon builds it:
/// global flags, the subcommand, its options, `--runtime-opt`s, the console socket, the id.
pub fn runtime_argv(config: &Config, console_socket: Option<&Path>) -> Vec<String> {
    let o = &config.options;
    let mut argv = global_argv(config);
    match (&config.exec, &o.restore) {
        (Some(exec), _) => {
            argv.extend([
                "exec".into(),
                "--pid-file".into(),
                path_arg(&config.container_pidfile),
                "--process".into(),
                path_arg(&exec.process_spec),
                "--detach".into(),
            ]);
        }
        (None, restore) => {
            argv.push(
                if restore.is_some() {
                    "restore"
                } else if o.start_at_create {
                    "run"
                } else {
                    "create"
                }
                .into(),
            );
            argv.extend([
                "--bundle".into(),
                path_arg(&config.bundle),
                "--pid-file".into(),
                path_arg(&config.container_pidfile),
            ]);
            if o.no_pivot {
                argv.push("--no-pivot".into());
            }
            if o.no_new_keyring {
                argv.push("--no-new-keyring".into());
            }
            if o.start_at_create {
                argv.push("--detach".into());
            }
            if let Some(images) = restore {
                argv.extend([
                    "--detach".into(),
                    "--image-path".into(),
                    path_arg(images),
                    "--work-path".into(),
                    path_arg(&config.bundle),
                ]);
            }
        }
    }
    argv.extend(o.runtime_opt.iter().cloned());
    if let Some(socket) = console_socket {
        argv.push("--console-socket".into());
        argv.push(path_arg(socket));
    }
    argv.push(config.cid.clone());
    argv
}

/// The runtime's argv (without its path) for the delete of the exited container
/// (`--delete-at-exit`). Without the runtime's own log (`--log`, `--log-format`): it is a
/// file in the container's directories, which the caller takes apart while the delete runs,
/// and a runtime that cannot open its log fails.
pub fn delete_argv(config: &Config) -> Vec<String> {
    let mut argv = Vec::new();
    let mut global = global_argv(config).into_iter();
    while let Some(arg) = global.next() {
        match arg.as_str() {
            "--log" | "--log-format" => {
                global.next();
            }
            _ if arg.starts_with("--log=") || arg.starts_with("--log-format=") => {}
            _ => argv.push(arg),
        }
    }
    argv.extend(["delete".into(), "--force".into(), config.cid.clone()]);
    argv
}

/// The runtime's global flags: the cgroup manager (not for an exec) and `--runtime-arg`s.
fn global_argv(config: &Config) -> Vec<String> {
    let o = &config.options;
    let mut argv = Vec::new();
    if o.systemd_cgroup && config.exec.is_none() {
        argv.push("--systemd-cgroup".to_string());
    }
    argv.extend(o.runtime_arg.iter().cloned());
    argv
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_messages_are_one_json_line() {
        assert_eq!(sync_message(1234, None), b"{\"data\":1234}\n");
        assert_eq!(sync_message(-1, Some("")), b"{\"data\":-1}\n");
        let m = sync_message(-1, Some("bad \"x\"\nnext"));
        let v: serde_json::Value = serde_json::from_slice(&m).unwrap();
        assert_eq!(v["message"], "bad \"x\"\nnext");
        assert_eq!(m.iter().filter(|b| **b == b'\n').count(), 1);
        let long = "é".repeat(5000);
        let v: serde_json::Value = serde_json::from_slice(&sync_message(-1, Some(&long))).unwrap();
        assert!(v["message"].as_str().unwrap().len() <= MESSAGE_MAX);
    }

    fn line(control: Control, ack: Option<&str>) -> ControlLine {
        ControlLine {
            control,
            ack: ack.map(str::to_string),
        }
    }

    #[test]
    fn ctl_lines() {
        let mut pending = b"1 24 80\n2 0 0\n9 1 1\n1 2000 5\nx\n1 10".to_vec();
        assert_eq!(
            take_controls(&mut pending),
            [
                line(
                    Control::Resize {
                        height: 24,
                        width: 80
                    },
                    None
                ),
                line(Control::ReopenLog, None)
            ]
        );
        assert_eq!(pending, b"1 10");
        pending.extend_from_slice(b" 20 tok3n\n1 5 6 ../x\n");
        assert_eq!(
            take_controls(&mut pending),
            [
                line(
                    Control::Resize {
                        height: 10,
                        width: 20
                    },
                    Some("tok3n")
                ),
                // A token that could name another place: the resize without an answer.
                line(
                    Control::Resize {
                        height: 5,
                        width: 6
                    },
                    None
                )
            ]
        );
        let mut long = vec![b'1'; 300];
        assert!(take_controls(&mut long).is_empty());
        assert!(long.is_empty());
    }

    fn config(extra: &[&str]) -> Config {
        let mut args = vec![
            "m",
            "-c",
            "cid",
            "-u",
            "cid",
            "-r",
            "/bin/true",
            "-b",
            "/b",
            "-p",
            "/r/pid",
            "-l",
            "none",
            "--runtime-arg",
            "--root",
            "--runtime-arg",
            "/s",
        ];
        args.extend_from_slice(extra);
        match crate::options::parse(args) {
            Ok(crate::options::Parsed::Run(options)) => options.check().unwrap(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn runtime_argv_for_each_mode() {
        assert_eq!(
            runtime_argv(
                &config(&["--runtime-opt", "--preserve-fds", "--runtime-opt", "1"]),
                None
            )
            .join(" "),
            "--root /s create --bundle /b --pid-file /r/pid --preserve-fds 1 cid"
        );
        assert_eq!(
            runtime_argv(
                &config(&["-s", "--restore", "/b/ck"]),
                Some(Path::new("/tmp/t"))
            )
            .join(" "),
            "--systemd-cgroup --root /s restore --bundle /b --pid-file /r/pid --detach \
             --image-path /b/ck --work-path /b --console-socket /tmp/t cid"
        );
        assert_eq!(
            runtime_argv(
                &config(&[
                    "--api-version",
                    "-s",
                    "-e",
                    "--exec-process-spec",
                    "/b/s/p.json"
                ]),
                None
            )
            .join(" "),
            "--root /s exec --pid-file /r/pid --process /b/s/p.json --detach cid"
        );
        assert_eq!(
            runtime_argv(
                &config(&["--start-at-create", "--no-pivot"]),
                Some(Path::new("/tmp/t"))
            )
            .join(" "),
            "--root /s run --bundle /b --pid-file /r/pid --no-pivot --detach \
             --console-socket /tmp/t cid"
        );
    }

    #[test]
    fn delete_argv_has_the_global_flags_but_the_log() {
        let log = [
            "--runtime-arg",
            "--log-format=json",
            "--runtime-arg",
            "--log",
            "--runtime-arg=/r/oci-log",
            "--runtime-arg",
            "--log-format",
            "--runtime-arg",
            "json",
            "--runtime-arg=--log=/r/oci-log",
        ];
        let mut args = vec!["-s", "--delete-at-exit", "--persist-dir", "/p"];
        args.extend(log);
        args.extend(["--runtime-arg", "--debug"]);
        assert_eq!(
            delete_argv(&config(&args)).join(" "),
            "--systemd-cgroup --root /s --debug delete --force cid"
        );
    }
}
