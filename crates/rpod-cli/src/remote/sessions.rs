//! Remote `create`, `run` and `exec`: a podman SpecGenerator (or exec configuration) from
//! the command line, and for attached sessions the hijacked stream between the user's
//! terminal or pipes and the container.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use serde_json::{json, Value};

use crate::cli::{AttachArgs, AttachFlags, ExecArgs, RunArgs, StartArgs};
use crate::commands::container;
use crate::exit::{usage, Failure, Outcome, ENGINE_ERROR};
use crate::terminal;
use rpod_oci::detach::{DetachMatcher, DetachStep};

use super::client::{Client, Connection, Streamed};
use super::containers::copy_frames;
use super::{encode, expect, failure, streamed_failure};

/// The flags of `create` and `run` a remote service cannot get (clap's ids): what needs
/// this side's store or registry settings (the service pulls with its own, as for
/// podman-remote), this process's descriptors, or this side's environment as a whole.
/// Every other flag is read as the local create reads it and sent in the SpecGenerator.
pub const RUN_FLAGS_KEPT_LOCAL: &[&str] = &[
    "signature_policy",
    "tls_verify",
    "authfile",
    "platform",
    "arch",
    "os",
    "variant",
    "uidmap",
    "gidmap",
    "subuidname",
    "subgidname",
    "preserve_fds",
    "env_host",
];

/// The flags of `exec` a remote service gets.
pub const EXEC_FLAGS: &[&str] = &[
    "interactive",
    "tty",
    "detach",
    "env",
    "workdir",
    "user",
    "privileged",
    "detach_keys",
    "env_file",
    "container_and_command",
];

/// The SpecGenerator of `create`/`run`: the flags read as the local create reads them
/// (the same checks, the same errors), written as `generate spec` writes a container's
/// settings; a setting the spec cannot carry is refused by name, never dropped.
fn spec(args: &RunArgs) -> Result<Value, Failure> {
    container::refuse_unsupported_modes(args)?;
    let mut options = container::create_options(args)?;
    // The spec's variables are a map: the last of a name wins, as in the container, and
    // their order is not a setting.
    options.env = variables_by_name(&options.env);
    move_per_network_flags(&mut options)?;
    let (spec, losses) = rpod_api::libpod::spec_out::container_spec_and_losses(&options);
    if !losses.is_empty() {
        return Err(usage(format!(
            "these settings are not supported with a remote service (its API has no field for them): {}",
            losses.join(", ")
        )));
    }
    Ok(spec)
}

/// `--ip`, `--ip6`, `--mac-address` and `--network-alias` into the entry of the first
/// network `--network` names (the engine gives them to the first network; a spec says them
/// in a network's entry only, and the service's default network's name is not known here).
pub(super) fn move_per_network_flags(
    options: &mut rpod_engine::CreateOptions,
) -> Result<(), Failure> {
    let given = options.ip.is_some()
        || options.ip6.is_some()
        || options.mac_address.is_some()
        || !options.network_aliases.is_empty();
    if !given {
        return Ok(());
    }
    let Some(first) = options.net.networks.first() else {
        return Err(usage(
            "--ip, --ip6, --mac-address and --network-alias need --network NAME with a remote service (its API gives them to a network by name)",
        ));
    };
    let mut first = first.clone();
    options.move_per_network_flags(&mut first)?;
    options.net.networks[0] = first;
    options.ip = None;
    options.ip6 = None;
    options.mac_address = None;
    options.network_aliases.clear();
    Ok(())
}

/// `KEY=VALUE` words, one a name (its last value), in the order of the names.
fn variables_by_name(words: &[String]) -> Vec<String> {
    let mut by_name = BTreeMap::new();
    for word in words {
        if let Some((key, value)) = word.split_once('=') {
            by_name.insert(key, value);
        }
    }
    by_name
        .into_iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect()
}

/// `--pull` on the service: `missing` pulls an image the service has none of that name
/// of, `always` and `newer` pull (`newer` goes on with the service's image when the pull
/// fails), `never` does not; the progress on stderr unless `--quiet`.
fn pull_as_asked(client: &mut Client, args: &RunArgs, image: &str) -> Result<(), Failure> {
    if args.pull == "never" {
        return Ok(());
    }
    let reply = client.call("GET", &format!("/images/{}/exists", encode(image)), None)?;
    let present = reply.status != 404;
    if present && args.pull == "missing" {
        return Ok(());
    }
    match super::images::pull_image(client, image, args.quiet)? {
        Some(_) => Ok(()),
        None if present && args.pull == "newer" => {
            tracing::warn!("pulling {image} failed, using the service's image");
            Ok(())
        }
        None if present => Err(usage(format!("pulling {image} again failed"))),
        None => Err(usage(format!(
            "{image}: no such image on the service, and pulling it failed"
        ))),
    }
}

/// Create the container as `create` and `run` do (`--pull`, `--replace`, `--cidfile`);
/// its ID.
pub fn create(client: &mut Client, args: &RunArgs) -> Result<String, Failure> {
    container::check_cidfile(args)?;
    let spec = spec(args)?;
    if let (Some(image), false) = (args.image_and_command.first(), args.rootfs) {
        pull_as_asked(client, args, image)?;
    }
    if let (true, Some(name)) = (args.replace, &args.name) {
        let reply = client.call(
            "DELETE",
            &format!("/containers/{}?force=true&timeout=0", encode(name)),
            None,
        )?;
        if !matches!(reply.status, 200 | 204 | 404) {
            return Err(failure(&reply));
        }
    }
    let reply = expect(
        client.call("POST", "/containers/create", Some(&spec))?,
        &[201, 200],
    )?;
    let answer = reply.json()?;
    for warning in answer["Warnings"].as_array().into_iter().flatten() {
        if let Some(text) = warning.as_str() {
            eprintln!("WARNING: {text}");
        }
    }
    let id = answer["Id"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| usage("the service's create answer has no container ID"))?;
    if let Err(failure) = container::write_cidfile(args, &id) {
        remove_quietly(client, &encode(&id));
        return Err(failure);
    }
    Ok(id)
}

/// Remove container `n` (encoded), running or not, when what made it failed.
fn remove_quietly(client: &mut Client, n: &str) {
    let _ = client.call(
        "DELETE",
        &format!("/containers/{n}?force=true&timeout=0"),
        None,
    );
}

pub fn run(client: &mut Client, args: &RunArgs) -> Outcome {
    // Checked before anything is made.
    container::refuse_run_conflicts(args)?;
    let streams = container::attached_streams(&args.attach)?;
    // Bad detach keys are refused before anything is made.
    rpod_oci::detach::parse_detach_keys(&args.flags.detach_keys).map_err(usage)?;
    // `--rmi` implies `--rm`.
    let mut args = args.clone();
    args.rm |= args.rmi;
    let id = create(client, &args)?;
    let n = encode(&id);
    if args.detach {
        let started = client.call("POST", &format!("/containers/{n}/start"), None)?;
        if !matches!(started.status, 204 | 304) {
            remove_quietly(client, &n);
            return Err(failure(&started));
        }
        println!("{id}");
        return Ok(0);
    }
    let outcome = attached_run(client, &args, &n, &streams);
    // A `--rm` container that never ran (or whose session failed) is not left behind.
    if outcome.is_err() && args.rm {
        remove_quietly(client, &n);
    }
    if outcome.is_ok() && args.rmi {
        remove_run_image(client, &args);
    }
    outcome
}

/// A `--rm` container's removal, which the service does once it has exited, waited for
/// (up to 10 s): the command returns once it is gone, as locally, and `--rmi`'s image is
/// no longer in use.
fn wait_until_removed(client: &mut Client, n: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        match client.call("GET", &format!("/containers/{n}/exists"), None) {
            Ok(reply) if reply.status == 204 => std::thread::sleep(Duration::from_millis(20)),
            _ => return,
        }
    }
}

/// `run --rmi`: the image removed once its container is gone; one another container uses
/// stays, with a warning (as podman's).
fn remove_run_image(client: &mut Client, args: &RunArgs) {
    let Some(image) = args.image_and_command.first() else {
        return;
    };
    let removed = match client.call("DELETE", &format!("/images/{}", encode(image)), None) {
        Ok(reply) if reply.status == 200 => Ok(()),
        Ok(reply) => Err(failure(&reply).message()),
        Err(e) => Err(format!("{e:#}")),
    };
    if let Err(e) = removed {
        tracing::warn!("Failed removing image {image}: {e}");
    }
}

/// An attached session with a container: the streams, and whether it is started for it
/// (`run`, `start -a`) or joined running (`attach`).
struct Attachment<'a> {
    output: bool,
    error: bool,
    input: bool,
    tty: bool,
    sig_proxy: bool,
    /// As the user gave them (checked): the service gets them as written.
    detach_keys: &'a str,
    start: bool,
    /// The service removes the container after its exit: returned once it is gone.
    auto_remove: bool,
}

/// Attach to the created container `n`, start it, carry the session (detached by
/// `keys`), and wait for its exit code.
fn attached_run(
    client: &mut Client,
    args: &RunArgs,
    n: &str,
    streams: &container::AttachedStreams,
) -> Outcome {
    let plan = Attachment {
        output: streams.output,
        error: streams.error,
        input: args.interactive && streams.input,
        tty: args.tty,
        sig_proxy: args.flags.sig_proxy,
        detach_keys: &args.flags.detach_keys,
        start: true,
        auto_remove: args.rm,
    };
    attached(client, n, plan)
}

/// Carry an attached session with container `n` (started here when `plan.start`) until
/// its output ends, and return its exit code (0 after a detach).
fn attached(client: &mut Client, n: &str, plan: Attachment) -> Outcome {
    let keys = rpod_oci::detach::parse_detach_keys(plan.detach_keys).map_err(usage)?;
    // The exit is waited for from before the attach (Docker's order), through the Docker
    // API's wait, which both rpod's and podman's services serve, and which keeps a
    // removed container's exit code for a wait begun before the removal. A container
    // started here: its `next-exit` (libpod 4.3's wait has no such condition); a running
    // one: `not-running`, which also answers at once if it ended in the meantime.
    let condition = if plan.start {
        "next-exit"
    } else {
        "not-running"
    };
    let wait = client.stream(
        "POST",
        &format!(
            "{}/containers/{n}/wait?condition={condition}",
            super::client::COMPAT_PREFIX
        ),
        None,
        false,
    )?;
    if wait.status != 200 {
        return Err(streamed_failure(wait));
    }
    let (exits, exit) = mpsc::channel();
    std::thread::spawn(move || {
        let mut body = Vec::new();
        let _ = wait.body.take(64 * 1024).read_to_end(&mut body);
        let _ = exits.send(body);
    });
    let attach = client.stream(
        "POST",
        &format!(
            "/containers/{n}/attach?stream=true&stdout={}&stderr={}&stdin={}&detachKeys={}",
            plan.output,
            plan.error,
            plan.input,
            encode(plan.detach_keys)
        ),
        None,
        true,
    )?;
    if attach.connection.is_none() {
        return Err(streamed_failure(attach));
    }
    // The terminal's size before the start, so the first command sees it (the service
    // keeps a resize of a container not started yet).
    let resize = plan.tty.then(|| format!("/containers/{n}/resize"));
    if let (Some(path), Some(size)) = (&resize, terminal::size()) {
        let _ = client.call(
            "POST",
            &format!("{path}?h={}&w={}", size.height, size.width),
            None,
        );
    }
    // `--sig-proxy` (without a terminal, whose keys carry them): the signals rpod gets
    // go to the container, through a client of their own.
    if plan.sig_proxy && !plan.tty {
        let mut proxy = client.sibling()?;
        let path = format!("/containers/{n}/kill");
        crate::terminal::forward_signals(move |signal| {
            if let Err(e) = proxy.call("POST", &format!("{path}?signal={signal}"), None) {
                tracing::debug!(%e, signal, "forwarding a signal to the container");
            }
        });
    }
    if plan.start {
        let started = client.call("POST", &format!("/containers/{n}/start"), None)?;
        if !matches!(started.status, 204 | 304) {
            return Err(failure(&started));
        }
    }
    let resize = resize.map(|path| (path, false));
    if session(client, attach, plan.input, plan.tty, resize, keys)? {
        // Detached: the container runs on.
        return Ok(0);
    }
    let body = exit
        .recv()
        .map_err(|_| usage("the service's wait ended without an answer"))?;
    let answer: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if let Some(message) = answer["Error"]["Message"]
        .as_str()
        .filter(|m| !m.is_empty())
    {
        return Err(usage(message.to_string()));
    }
    let code = answer["StatusCode"]
        .as_i64()
        .map(|code| code as i32)
        .ok_or_else(|| usage("the service's wait answered without an exit code"))?;
    if plan.auto_remove {
        wait_until_removed(client, n);
    }
    Ok(code)
}

/// What an attach needs to know of a container: its libpod inspect.
struct Attachable {
    id: String,
    running: bool,
    tty: bool,
    open_stdin: bool,
    auto_remove: bool,
}

fn attachable(client: &mut Client, name: &str) -> Result<Attachable, Failure> {
    let inspected = super::containers::inspect_container(client, name)?;
    let id = inspected["Id"]
        .as_str()
        .ok_or_else(|| usage("the service's inspect answered without an ID"))?;
    Ok(Attachable {
        id: id.to_string(),
        running: inspected["State"]["Running"] == json!(true),
        tty: inspected["Config"]["Tty"] == json!(true),
        open_stdin: inspected["Config"]["OpenStdin"] == json!(true),
        auto_remove: inspected["HostConfig"]["AutoRemove"] == json!(true),
    })
}

/// `attach CONTAINER`: its output from now on, stdin to it unless `--no-stdin` (when it
/// was created with one), until it exits (its exit code is ours) or the user detaches.
pub fn attach(client: &mut Client, args: &AttachArgs) -> Outcome {
    let name = args
        .container
        .as_deref()
        .ok_or_else(|| usage("attach needs a container"))?;
    attach_to(client, name, !args.no_stdin, &args.flags, false)
}

/// `start -a [-i] CONTAINER`: started attached, as `run` is; its exit code is ours.
pub fn start_attached(client: &mut Client, args: &StartArgs, name: &str) -> Outcome {
    attach_to(client, name, args.interactive, &args.flags, true)
}

/// A session with container `name`: its output, and stdin when `input` is wanted and the
/// container has one; started here when `start`, else joined running.
fn attach_to(
    client: &mut Client,
    name: &str,
    input: bool,
    flags: &AttachFlags,
    start: bool,
) -> Outcome {
    let target = attachable(client, name)?;
    if !start && !target.running {
        return Err(usage(format!(
            "you can only attach to running containers: {name} is not running"
        )));
    }
    let plan = Attachment {
        output: true,
        error: true,
        input: input && target.open_stdin,
        tty: target.tty,
        sig_proxy: flags.sig_proxy,
        detach_keys: &flags.detach_keys,
        start,
        auto_remove: target.auto_remove,
    };
    attached(client, &encode(&target.id), plan)
}

/// Copy the user's stdin into the session (when `interactive`) and its output to the
/// user's stdout and stderr, until the output ends; with `tty`, the user's terminal in raw
/// mode and its changes of size sent to `resize` (and the present size at once with its
/// flag). Whether the user detached (typed `keys`).
fn session(
    client: &mut Client,
    mut attach: Streamed,
    interactive: bool,
    tty: bool,
    resize: Option<(String, bool)>,
    keys: Vec<u8>,
) -> Result<bool, Failure> {
    let raw = if tty {
        terminal::StdinMode::raw()
    } else {
        None
    };
    if let Some((path, now)) = resize {
        follow_terminal_size(client, path, now)?;
    }
    // Without -i the input stays open: a half-closed connection may read as a client
    // gone.
    let mut connection = attach.connection.take();
    let detached = match connection.as_mut().filter(|_| interactive) {
        Some(connection) => Some(copy_stdin(connection, keys)?),
        None => None,
    };
    let copied = copy_output(&mut attach, tty);
    drop(raw);
    let detached = detached.is_some_and(|d| d.load(Ordering::SeqCst));
    match copied {
        // The connection ended by the detach may end the output in the middle of a frame.
        Err(_) if detached => Ok(true),
        other => other.map(|()| detached),
    }
}

/// A session's output to stdout (and stderr): raw from a terminal, else framed. (The
/// libpod API calls both "raw-stream", as podman does: its clients go by the terminal.)
fn copy_output(attach: &mut Streamed, tty: bool) -> Result<(), Failure> {
    if tty {
        std::io::copy(&mut attach.body, &mut std::io::stdout().lock())
            .map(|_| ())
            .map_err(|e| Failure::new(ENGINE_ERROR, e))
    } else {
        copy_frames(&mut attach.body)
    }
}

/// Stdin copied into the session on a thread of its own; its end closes the session's
/// input (the container sees EOF) and leaves the output flowing. The detach keys, typed,
/// are not sent: they set the flag returned and end the connection both ways, which ends
/// the session's output here (the client watches for them, as podman-remote's does:
/// nothing in the stream says a detach from an output that ended).
fn copy_stdin(connection: &mut Connection, keys: Vec<u8>) -> Result<Arc<AtomicBool>, Failure> {
    let mut input = connection.input_handle()?;
    let detached = Arc::new(AtomicBool::new(false));
    let flag = detached.clone();
    std::thread::spawn(move || {
        let mut matcher = DetachMatcher::new(keys);
        let mut stdin = std::io::stdin().lock();
        let mut buf = [0u8; 32 * 1024];
        loop {
            let n = match stdin.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let bytes = match matcher.feed(&buf[..n]) {
                DetachStep::Forward(bytes) => bytes,
                DetachStep::Detach => {
                    flag.store(true, Ordering::SeqCst);
                    input.end_both();
                    return;
                }
            };
            if input
                .write_all(&bytes)
                .and_then(|()| input.flush())
                .is_err()
            {
                break;
            }
        }
        drop(input);
    });
    Ok(detached)
}

/// The user's terminal size given to the session at every change, and at once with
/// `now` (retried while the session's terminal is not there yet).
fn follow_terminal_size(client: &mut Client, path: String, now: bool) -> Result<(), Failure> {
    let Some(watch) = terminal::ResizeWatch::begin() else {
        return Ok(());
    };
    // The watcher's thread has a client of its own: the session's may be waiting on an
    // answer when the terminal changes.
    let resizer = std::sync::Mutex::new(client.sibling()?);
    watch.follow(
        move |size| {
            let mut client = resizer.lock().unwrap_or_else(|e| e.into_inner());
            let reply = client
                .call(
                    "POST",
                    &format!("{path}?h={}&w={}", size.height, size.width),
                    None,
                )
                .map_err(|e| rpod_oci::OciError::Runtime {
                    runtime: "service".into(),
                    message: format!("{e:#}"),
                })?;
            match reply.status {
                200 | 201 | 204 => Ok(()),
                status => Err(rpod_oci::OciError::Runtime {
                    runtime: "service".into(),
                    message: format!("resize answered {status}"),
                }),
            }
        },
        now,
    );
    Ok(())
}

pub fn exec(client: &mut Client, args: &ExecArgs) -> Outcome {
    let keys = rpod_oci::detach::parse_detach_keys(&args.detach_keys).map_err(usage)?;
    let (container, command) = args
        .container_and_command
        .split_first()
        .ok_or_else(|| usage("a container and a command are required"))?;
    if command.is_empty() {
        return Err(usage("a command is required"));
    }
    // As the local exec reads them: the files' first, a bare `KEY` taking this process's
    // value (left out when it has none).
    let mut env = container::expand_env(&container::env_file_entries(&args.env_file)?)?;
    env.extend(container::expand_env(&args.env)?);
    let config = json!({
        "AttachStdin": args.interactive && !args.detach,
        "AttachStdout": !args.detach,
        "AttachStderr": !args.detach,
        "Tty": args.tty,
        "Cmd": command,
        "Env": env,
        "WorkingDir": args.workdir.clone().unwrap_or_default(),
        "User": args.user.clone().unwrap_or_default(),
        "Privileged": args.privileged,
        "DetachKeys": args.detach_keys,
    });
    let reply = expect(
        client.call(
            "POST",
            &format!("/containers/{}/exec", encode(container)),
            Some(&config),
        )?,
        &[201, 200],
    )?;
    let session_id = reply.json()?["Id"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| usage("the service's exec answer has no session ID"))?;
    let s = encode(&session_id);
    if args.detach {
        expect(
            client.call(
                "POST",
                &format!("/exec/{s}/start"),
                Some(&json!({"Detach": true, "Tty": args.tty})),
            )?,
            &[200, 204],
        )?;
        println!("{session_id}");
        return Ok(0);
    }
    let mut start = json!({"Detach": false, "Tty": args.tty});
    if let Some(size) = terminal::size().filter(|_| args.tty) {
        start["h"] = json!(size.height);
        start["w"] = json!(size.width);
    }
    let attach = client.stream("POST", &format!("/exec/{s}/start"), Some(&start), true)?;
    if attach.connection.is_none() && attach.status != 200 {
        return Err(streamed_failure(attach));
    }
    // The size in the start's body is rpod's; podman 4.3's service takes it only as a
    // resize once the session runs.
    let resize = args.tty.then(|| (format!("/exec/{s}/resize"), true));
    if session(client, attach, args.interactive, args.tty, resize, keys)? {
        // Detached: the session runs on.
        return Ok(0);
    }
    // The session's exit code, once the service has it (a process that closed its output
    // may run on).
    let begun = std::time::Instant::now();
    loop {
        let state = expect(
            client.call("GET", &format!("/exec/{s}/json"), None)?,
            &[200],
        )?
        .json()?;
        if state["Running"] != json!(true) {
            return Ok(state["ExitCode"].as_i64().unwrap_or(ENGINE_ERROR as i64) as i32);
        }
        let pause = if begun.elapsed() < Duration::from_secs(1) {
            10
        } else {
            100
        };
        std::thread::sleep(Duration::from_millis(pause));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn run_args(words: &[&str]) -> RunArgs {
        let mut all = vec!["rpod", "run"];
        all.extend_from_slice(words);
        match crate::cli::Cli::try_parse_from(all).unwrap().command {
            crate::cli::Command::Run(args) => args,
            _ => unreachable!(),
        }
    }

    #[test]
    fn the_command_line_becomes_a_spec_generator() {
        std::env::set_var("RPOD_REMOTE_TEST_VALUE", "from-client");
        let spec = spec(&run_args(&[
            "--name",
            "web",
            "-e",
            "A=1",
            "-e",
            "RPOD_REMOTE_TEST_VALUE",
            "-e",
            "RPOD_UNSET_VALUE_X",
            "-l",
            "k=v",
            "-w",
            "/srv",
            "-u",
            "1000",
            "-h",
            "box",
            "--rm",
            "-it",
            "--restart",
            "on-failure:3",
            "--stop-timeout",
            "7",
            "--entrypoint",
            "[\"/bin/sh\",\"-c\"]",
            "-v",
            "/host:/in:ro",
            "-v",
            "data:/data",
            "demo",
            "echo",
            "hi",
        ]))
        .unwrap();
        assert_eq!(spec["image"], "demo");
        assert_eq!(spec["name"], "web");
        assert_eq!(spec["command"], json!(["echo", "hi"]));
        assert_eq!(spec["entrypoint"], json!(["/bin/sh", "-c"]));
        assert_eq!(
            spec["env"],
            json!({"A": "1", "RPOD_REMOTE_TEST_VALUE": "from-client"})
        );
        assert_eq!(spec["labels"], json!({"k": "v"}));
        assert_eq!(spec["work_dir"], "/srv");
        assert_eq!(spec["user"], "1000");
        assert_eq!(spec["hostname"], "box");
        assert_eq!(spec["remove"], true);
        assert_eq!(spec["terminal"], true);
        assert_eq!(spec["stdin"], true);
        assert_eq!(spec["restart_policy"], "on-failure");
        assert_eq!(spec["restart_tries"], 3);
        assert_eq!(spec["stop_timeout"], 7);
        // The host path is the service's: not looked for here.
        assert_eq!(
            spec["mounts"],
            json!([{"destination": "/in", "type": "bind", "source": "/host", "options": ["rprivate", "ro"]}])
        );
        assert_eq!(spec["volumes"][0]["Name"], "data");
        assert_eq!(spec["volumes"][0]["Dest"], "/data");
        let plain = super::spec(&run_args(&["--entrypoint", "/bin/true", "demo"])).unwrap();
        assert_eq!(plain["entrypoint"], json!(["/bin/true"]));
        assert!(plain.get("command").is_none());
        assert!(super::spec(&run_args(&["-v", "a:b:c:d", "demo"])).is_err());
        assert!(super::spec(&run_args(&["--restart", "on-failure:x", "demo"])).is_err());
        // The last value of a name wins, whatever the order.
        let env = super::spec(&run_args(&["-e", "B=1", "-e", "A=2", "-e", "B=3", "demo"])).unwrap();
        assert_eq!(env["env"], json!({"A": "2", "B": "3"}));
        // Ports, limits and the first network's address (moved into its entry).
        let net = super::spec(&run_args(&[
            "--network",
            "front",
            "--ip",
            "10.1.0.5",
            "--network-alias",
            "www",
            "-p",
            "8080:80",
            "--memory",
            "64m",
            "demo",
        ]))
        .unwrap();
        assert_eq!(
            net["Networks"]["front"],
            json!({"aliases": ["www"], "static_ips": ["10.1.0.5"]})
        );
        assert_eq!(net["portmappings"][0]["host_port"], 8080);
        assert_eq!(net["portmappings"][0]["container_port"], 80);
        assert_eq!(net["resource_limits"]["memory"]["limit"], 64 << 20);
        let error = super::spec(&run_args(&["--ip", "10.1.0.5", "demo"]))
            .unwrap_err()
            .message();
        assert!(error.contains("need --network NAME"), "{error}");
        // What the spec has no field for is named.
        let error = super::spec(&run_args(&["--domainname", "example.org", "demo"]))
            .unwrap_err()
            .message();
        assert!(error.ends_with("no field for them): domainname"), "{error}");
    }
}
