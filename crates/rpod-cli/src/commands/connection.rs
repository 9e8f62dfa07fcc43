//! `system connection` (the destinations kept in `connections.rs`) and `image scp`, which
//! copies images to and from them over SSH.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};

use rpod_engine::image::ArchiveFormat;
use rpod_engine::Engine;
use serde_json::json;

use crate::cli::{ConnectionAddArgs, ConnectionCommand, ConnectionListArgs, ScpArgs};
use crate::connections::{
    check_name, destination_uri, Connections, Destination, SshTarget, TlsPaths,
};
use crate::exit::{usage, Outcome};
use crate::format;

/// `system connection ...`: none of them opens the store.
pub fn connection(command: ConnectionCommand) -> Outcome {
    let path = Connections::path();
    let mut connections = Connections::load(&path).map_err(|e| usage(format!("{e:#}")))?;
    match command {
        ConnectionCommand::List(args) => return list(&connections, args),
        ConnectionCommand::Add(args) => add(&mut connections, args)?,
        ConnectionCommand::Remove(args) => match (args.all, args.name) {
            (true, None) => connections = Connections::default(),
            (false, Some(name)) => connections.remove(&name),
            _ => return Err(usage("give a connection's name, or --all")),
        },
        ConnectionCommand::Default(args) => connections
            .set_default(&args.name)
            .map_err(|e| usage(format!("{e:#}")))?,
        ConnectionCommand::Rename(args) => connections
            .rename(&args.old, &args.new)
            .map_err(|e| usage(format!("{e:#}")))?,
    }
    connections
        .save(&path)
        .map_err(|e| usage(format!("{e:#}")))?;
    Ok(0)
}

fn add(connections: &mut Connections, args: ConnectionAddArgs) -> Result<(), crate::exit::Failure> {
    check_name(&args.name).map_err(|e| usage(format!("{e:#}")))?;
    let uri = destination_uri(&args.destination, args.port, args.socket_path.as_deref())
        .map_err(|e| usage(format!("{e:#}")))?;
    let identity = match args.identity {
        Some(path) => {
            let path = std::path::absolute(&path)
                .map_err(|e| usage(format!("identity {}: {e}", path.display())))?;
            if !path.is_file() {
                return Err(usage(format!(
                    "failed to read identity {:?}: no such file",
                    path.display()
                )));
            }
            Some(path)
        }
        None => None,
    };
    let tls = TlsPaths {
        tls_ca: existing_file("--tls-ca", args.tls.tls_ca)?,
        tls_cert: existing_file("--tls-cert", args.tls.tls_cert)?,
        tls_key: existing_file("--tls-key", args.tls.tls_key)?,
    };
    if tls.wanted() && !uri.starts_with("tcp://") {
        return Err(usage(format!(
            "--tls-ca, --tls-cert and --tls-key are for a tcp:// destination, not {uri}"
        )));
    }
    connections.add(
        Destination {
            name: args.name,
            uri,
            identity,
            tls,
        },
        args.default,
    );
    Ok(())
}

/// A file named by `flag`, as an absolute path (the connection is used from anywhere).
fn existing_file(
    flag: &str,
    path: Option<PathBuf>,
) -> Result<Option<PathBuf>, crate::exit::Failure> {
    let Some(path) = path else {
        return Ok(None);
    };
    let absolute =
        std::path::absolute(&path).map_err(|e| usage(format!("{flag} {}: {e}", path.display())))?;
    if !absolute.is_file() {
        return Err(usage(format!(
            "{flag} {}: no such file",
            absolute.display()
        )));
    }
    Ok(Some(absolute))
}

fn list(connections: &Connections, args: ConnectionListArgs) -> Outcome {
    let items: Vec<serde_json::Value> = connections
        .destinations
        .iter()
        .map(|d| {
            json!({
                "Name": d.name,
                "URI": d.uri,
                "Identity": d.identity.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
                "IsMachine": false,
                "Default": connections.default.as_deref() == Some(d.name.as_str()),
            })
        })
        .collect();
    if args.quiet {
        for item in &items {
            println!("{}", item["Name"].as_str().unwrap_or_default());
        }
        return Ok(0);
    }
    if let Some(template) = &args.format {
        format::print(template, &items, &|field: &str| field.to_string())?;
        return Ok(0);
    }
    let mut lines = vec!["Name\tURI\tIdentity\tDefault".to_string()];
    for item in &items {
        lines.push(format!(
            "{}\t{}\t{}\t{}",
            item["Name"].as_str().unwrap_or_default(),
            item["URI"].as_str().unwrap_or_default(),
            item["Identity"].as_str().unwrap_or_default(),
            item["Default"]
        ));
    }
    println!("{}", format::align_columns(&lines));
    Ok(0)
}

/// One side of `image scp`: this store, or a host reached over SSH.
enum Side {
    Here(String),
    Remote { ssh: Ssh, image: Option<String> },
}

/// How a host is reached: OpenSSH's `ssh` with the destination's key and port, and
/// rpod.conf's `[engine] ssh_config` when it names one.
struct Ssh {
    /// What the user called it (a connection's name, or `user@host`), for messages.
    label: String,
    target: SshTarget,
    identity: Option<PathBuf>,
    config: Option<PathBuf>,
}

impl Ssh {
    /// `ssh ... HOST 'rpod words...'`: the remote shell gets one line, each word quoted. The
    /// remote rpod is this one's name as it was run (the same path, or found in the remote
    /// PATH), as podman runs `podman`.
    fn command(&self, words: &[&str]) -> Command {
        let program = std::env::args_os()
            .next()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|| "rpod".to_string());
        let line: Vec<String> = std::iter::once(program.as_str())
            .chain(words.iter().copied())
            .map(shell_quote)
            .collect();
        let mut command = crate::connections::ssh_command(
            &self.target,
            self.identity.as_deref(),
            self.config.as_deref(),
        );
        command
            .arg("--")
            .arg(self.target.login())
            .arg(line.join(" "))
            .stderr(Stdio::piped());
        command
    }

    fn spawn(&self, mut command: Command) -> Result<Child, crate::exit::Failure> {
        command.spawn().map_err(|e| {
            usage(format!(
                "running ssh for {}: {e} (install openssh-client)",
                self.label
            ))
        })
    }

    /// The error of a run on this host that ended with `status`.
    fn failed(&self, what: &str, status: ExitStatus, stderr: &str) -> crate::exit::Failure {
        let why = match status.code() {
            Some(255) => "ssh could not reach it or log in",
            _ => "the command failed there",
        };
        usage(format!(
            "{what} on {} failed ({status}: {why}): {}",
            self.label,
            stderr.trim()
        ))
    }
}

/// A word for a POSIX shell: single quotes, a quote inside written as `'\''`.
fn shell_quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', "'\\''"))
}

/// `HOST::REST` split at the first `::` outside brackets (an IPv6 address has its own).
fn split_remote(arg: &str) -> Option<(&str, &str)> {
    let mut depth = 0i32;
    let bytes = arg.as_bytes();
    for (i, byte) in bytes.iter().enumerate() {
        match byte {
            b'[' => depth += 1,
            b']' => depth -= 1,
            b':' if depth == 0 && bytes.get(i + 1) == Some(&b':') => {
                return Some((&arg[..i], &arg[i + 2..]))
            }
            _ => {}
        }
    }
    None
}

impl Side {
    fn parse(
        arg: &str,
        connections: &Connections,
        ssh_config: Option<&PathBuf>,
    ) -> Result<Side, crate::exit::Failure> {
        let Some((host, rest)) = split_remote(arg) else {
            return Ok(Side::Here(arg.to_string()));
        };
        let image = (!rest.is_empty()).then(|| rest.to_string());
        let (target, identity) = match connections.get(host) {
            Some(destination) => {
                let Some(uri) = destination.uri.strip_prefix("ssh://") else {
                    return Err(usage(format!(
                        "connection {host} is {}: image scp copies over ssh:// connections only",
                        destination.uri
                    )));
                };
                let target = SshTarget::parse(uri).map_err(|e| usage(format!("{e:#}")))?;
                (target, destination.identity.clone())
            }
            None if host.contains('@') => (
                SshTarget::parse(host).map_err(|e| usage(format!("{e:#}")))?,
                None,
            ),
            None => {
                return Err(usage(format!(
                    "no connection named {host:?}: add it with \"rpod system connection add\", or give user@host"
                )))
            }
        };
        Ok(Side::Remote {
            ssh: Ssh {
                label: host.to_string(),
                target,
                identity,
                config: ssh_config.cloned(),
            },
            image,
        })
    }
}

/// `image scp SOURCE [DESTINATION]`: an image of this store to a host (`IMAGE HOST::`, the
/// copy tagged `NAME` there with `HOST::NAME`), a host's image here (`HOST::IMAGE`), or
/// from one host to another (`HOST::IMAGE OTHER::`). The archive streams through ssh; the
/// remote side runs rpod's `image save` or `image load`.
pub fn image_scp(engine: &Engine, args: ScpArgs) -> Outcome {
    let connections =
        Connections::load(&Connections::path()).map_err(|e| usage(format!("{e:#}")))?;
    let ssh_config = engine.config().engine.ssh_config.as_ref();
    let source = Side::parse(&args.source, &connections, ssh_config)?;
    // `None`: this store.
    let destination = match &args.destination {
        Some(arg) => Some(Side::parse(arg, &connections, ssh_config)?),
        None => None,
    };
    let loaded = match (source, destination) {
        (Side::Here(image), Some(Side::Remote { ssh, image: tag })) => {
            let (record, names) = engine.image_for_save(&image)?;
            let mut load = ssh.command(&["image", "load"]);
            load.stdin(Stdio::piped()).stdout(Stdio::piped());
            let mut child = ssh.spawn(load)?;
            let stdin = child.stdin.take();
            let (stdout, stderr) = collect_output(&mut child);
            let saved = match stdin {
                Some(stdin) => engine.save_images(&[(record, names)], ArchiveFormat::DockerArchive, false, stdin),
                None => Ok(()),
            };
            let status = child.wait().map_err(|e| usage(format!("waiting for ssh: {e}")))?;
            let (stdout, stderr) = (join(stdout), join(stderr));
            if !status.success() {
                return Err(ssh.failed("loading the image", status, &stderr));
            }
            saved?;
            let loaded = loaded_names(&stdout);
            if let (Some(tag), Some(name)) = (tag, loaded.last()) {
                run_remote(&ssh, &["tag", name, &tag], "tagging the image")?;
            }
            loaded
        }
        (Side::Here(_), None | Some(Side::Here(_))) => {
            return Err(usage(
                "give a destination: HOST::[NAME] (a connection or user@host); rpod has no other user's store to copy into",
            ))
        }
        (Side::Remote { image: None, ssh }, _) => {
            return Err(usage(format!(
                "name the image to copy from {}: {}::IMAGE",
                ssh.label, ssh.label
            )))
        }
        (Side::Remote { image: Some(_), .. }, Some(Side::Here(_))) => {
            return Err(usage(
                "the destination of a copy here is this store: HOST::IMAGE alone",
            ))
        }
        (Side::Remote { ssh, image: Some(image) }, None) => {
            let mut save = ssh.command(&["image", "save", &image]);
            save.stdin(Stdio::null()).stdout(Stdio::piped());
            let mut child = ssh.spawn(save)?;
            let stdout = child.stdout.take();
            let (_, stderr) = collect_output(&mut child);
            let origin = format!("{}::{image}", ssh.label);
            let loaded = match stdout {
                Some(stdout) => engine.load_images(stdout, &origin, None),
                None => Ok(Vec::new()),
            };
            let status = child.wait().map_err(|e| usage(format!("waiting for ssh: {e}")))?;
            if !status.success() {
                return Err(ssh.failed("saving the image", status, &join(stderr)));
            }
            let mut names = Vec::new();
            for (record, recorded) in loaded? {
                if recorded.is_empty() {
                    names.push(format!("sha256:{}", record.id));
                }
                names.extend(recorded);
            }
            names
        }
        (
            Side::Remote {
                ssh: from,
                image: Some(image),
            },
            Some(Side::Remote { ssh: to, image: tag }),
        ) => {
            let mut save = from.command(&["image", "save", &image]);
            save.stdin(Stdio::null()).stdout(Stdio::piped());
            let mut saving = from.spawn(save)?;
            let archive = saving
                .stdout
                .take()
                .map(Stdio::from)
                .unwrap_or_else(Stdio::null);
            let mut load = to.command(&["image", "load"]);
            load.stdin(archive).stdout(Stdio::piped());
            let mut loading = to.spawn(load)?;
            let (_, saving_errors) = collect_output(&mut saving);
            let (stdout, loading_errors) = collect_output(&mut loading);
            let saved = saving.wait().map_err(|e| usage(format!("waiting for ssh: {e}")))?;
            let loaded = loading.wait().map_err(|e| usage(format!("waiting for ssh: {e}")))?;
            // When one side fails the other usually does too (an archive cut short, a pipe
            // closed): both are said then.
            match (saved.success(), loaded.success()) {
                (true, true) => {}
                (false, true) => {
                    return Err(from.failed("saving the image", saved, &join(saving_errors)))
                }
                (true, false) => {
                    return Err(to.failed("loading the image", loaded, &join(loading_errors)))
                }
                (false, false) => {
                    let saving = from.failed("saving the image", saved, &join(saving_errors));
                    let loading = to.failed("loading the image", loaded, &join(loading_errors));
                    return Err(usage(format!("{}; {}", saving.error, loading.error)));
                }
            }
            let loaded = loaded_names(&join(stdout));
            if let (Some(tag), Some(name)) = (tag, loaded.last()) {
                run_remote(&to, &["tag", name, &tag], "tagging the image")?;
            }
            loaded
        }
    };
    if !args.quiet {
        for name in loaded {
            println!("Loaded image: {name}");
        }
    }
    Ok(0)
}

/// Run `rpod words...` on a host, for its status alone.
fn run_remote(ssh: &Ssh, words: &[&str], what: &str) -> Outcome {
    let mut command = ssh.command(words);
    command.stdin(Stdio::null()).stdout(Stdio::null());
    let mut child = ssh.spawn(command)?;
    let (_, stderr) = collect_output(&mut child);
    let status = child
        .wait()
        .map_err(|e| usage(format!("waiting for ssh: {e}")))?;
    if !status.success() {
        return Err(ssh.failed(what, status, &join(stderr)));
    }
    Ok(0)
}

type Reader = Option<std::thread::JoinHandle<String>>;

/// What is kept of a remote command's output or messages: the other host says what it
/// likes, and rpod holds it in memory.
const KEPT_OUTPUT: usize = 64 * 1024;

/// The child's piped stdout and stderr, each read to its end on a thread of its own (so
/// that neither fills while the archive streams), the first `KEPT_OUTPUT` bytes kept.
fn collect_output(child: &mut Child) -> (Reader, Reader) {
    fn read_all(pipe: Option<impl Read + Send + 'static>) -> Reader {
        pipe.map(|mut pipe| {
            std::thread::spawn(move || {
                let mut text = Vec::new();
                let mut buffer = [0u8; 8192];
                loop {
                    match pipe.read(&mut buffer) {
                        Ok(0) => break,
                        Ok(n) => {
                            let room = KEPT_OUTPUT.saturating_sub(text.len());
                            text.extend_from_slice(&buffer[..n.min(room)]);
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(_) => break,
                    }
                }
                String::from_utf8_lossy(&text).into_owned()
            })
        })
    }
    (read_all(child.stdout.take()), read_all(child.stderr.take()))
}

fn join(reader: Reader) -> String {
    reader.and_then(|r| r.join().ok()).unwrap_or_default()
}

/// The names a remote `image load` printed (`Loaded image: NAME`).
fn loaded_names(output: &str) -> Vec<String> {
    output
        .lines()
        .filter_map(|l| l.strip_prefix("Loaded image: "))
        .map(|n| n.trim().to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_split_at_the_first_double_colon_outside_brackets() {
        assert_eq!(split_remote("lab::alpine"), Some(("lab", "alpine")));
        assert_eq!(split_remote("lab::"), Some(("lab", "")));
        assert_eq!(
            split_remote("root@[fd00::1]:22::img:tag"),
            Some(("root@[fd00::1]:22", "img:tag"))
        );
        assert_eq!(split_remote("alpine:latest"), None);
        assert_eq!(split_remote("sha256:abc"), None);
    }

    #[test]
    fn remote_words_are_quoted_for_the_shell() {
        assert_eq!(shell_quote("plain"), "'plain'");
        assert_eq!(shell_quote("it's; rm -rf /"), "'it'\\''s; rm -rf /'");
        assert_eq!(
            loaded_names("Loaded image: localhost/a:1\nnoise\nLoaded image: sha256:ff\n"),
            ["localhost/a:1", "sha256:ff"]
        );
    }
}
