//! `container runlabel`: run the command an image's label describes, as podman does. The
//! label's words are split as a shell would split them; `IMAGE` and `NAME` (also `$IMAGE`,
//! `${IMAGE}`, `$NAME`, `${NAME}`) become the image and the container name; `$OPT1`,
//! `$OPT2`, `$OPT3` take the environment's values and `$PWD` the working directory (any
//! other variable is empty); a first word `podman` becomes rpod itself with this store's
//! options. The command runs on the host with rpod's privileges: for trusted images only,
//! as podman's documentation says.

use std::path::PathBuf;
use std::process::Command;

use rpod_engine::image::registry::PullOptions;
use rpod_engine::{Engine, EngineError};

use super::registry::registry_options;
use crate::cli::RunlabelArgs;
use crate::exit::{usage, Outcome};

/// What rpod passes on to the command when the label runs podman: the store and runtime
/// this rpod uses.
pub struct Globals {
    pub exe: PathBuf,
    pub options: Vec<String>,
}

pub fn runlabel(engine: &Engine, globals: Globals, args: RunlabelArgs) -> Outcome {
    let record = match engine.resolve_image_or_list(&args.image, None) {
        Ok(record) => record,
        Err(EngineError::NoSuchImage(_)) => {
            let options = PullOptions {
                registry: registry_options(&args.registry)?,
                ..PullOptions::default()
            };
            let quiet = args.quiet;
            engine.pull_image(&args.image, &options, &mut |line| {
                if !quiet {
                    eprintln!("{line}");
                }
            })?
        }
        Err(e) => return Err(e.into()),
    };
    let info = engine.image_info(record)?;
    let labels = info
        .config
        .config()
        .as_ref()
        .and_then(|c| c.labels().clone())
        .unwrap_or_default();
    let value = labels
        .get(&args.label)
        .or_else(|| {
            labels
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(&args.label))
                .map(|(_, value)| value)
        })
        .ok_or_else(|| {
            usage(format!(
                "cannot find the value of label: {} in image: {}",
                args.label, args.image
            ))
        })?;
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| default_name(&args.image));
    let working_dir = std::env::current_dir()
        .map(|d| d.display().to_string())
        .unwrap_or_default();
    let mut command = label_command(value, &args.image, &name, &|var| match var {
        "OPT1" | "OPT2" | "OPT3" => std::env::var(var).unwrap_or_default(),
        "PWD" => working_dir.clone(),
        _ => String::new(),
    })?;
    if command.is_empty() {
        return Err(usage(format!(
            "the label {} of {} is empty",
            args.label, args.image
        )));
    }
    if matches!(command[0].as_str(), "podman" | "/usr/bin/podman" | "rpod") {
        let mut own = vec![globals.exe.display().to_string()];
        own.extend(globals.options);
        command.splice(0..1, own);
    }
    command.extend(args.args.iter().cloned());
    if args.display {
        println!("command: {}", command.join(" "));
        return Ok(0);
    }
    if args.replace {
        let force = rpod_engine::RemoveOptions {
            force: true,
            ..Default::default()
        };
        match engine.remove(&name, force) {
            Ok(_) | Err(EngineError::NoSuchContainer(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let status = Command::new(&command[0])
        .args(&command[1..])
        .env("PODMAN_RUNLABEL_NESTED", "1")
        .status()
        .map_err(|e| usage(format!("running {}: {e}", command[0])))?;
    // The command's own exit code; 128 + the signal that ended it, as a shell says.
    use std::os::unix::process::ExitStatusExt;
    Ok(status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0)))
}

/// A container name from an image name: its last path component without tag or digest.
fn default_name(image: &str) -> String {
    let without_digest = image.split('@').next().unwrap_or(image);
    let last = without_digest.rsplit('/').next().unwrap_or(without_digest);
    last.split(':').next().unwrap_or(last).to_string()
}

/// The label's command, podman's way: split into words, `IMAGE` and `NAME` put in word by
/// word, then the variables expanded over the whole line and the line split again.
fn label_command(
    label: &str,
    image: &str,
    name: &str,
    variable: &dyn Fn(&str) -> String,
) -> Result<Vec<String>, crate::exit::Failure> {
    // The only thing splitting without variables can fail on is an open quote.
    let split = |text: &str| {
        rpod_engine::containerfile::words(text, 0).map_err(|_| {
            usage(format!(
                "the label's command {text:?} has an unterminated quote"
            ))
        })
    };
    let words: Vec<String> = split(label)?
        .into_iter()
        .enumerate()
        .map(|(index, word)| match word.as_str() {
            _ if index == 0 => word,
            "IMAGE=IMAGE" => format!("IMAGE={image}"),
            "NAME=NAME" => format!("NAME={name}"),
            "IMAGE" => image.to_string(),
            "NAME" => name.to_string(),
            _ => word
                .replace("${IMAGE}", image)
                .replace("$IMAGE", image)
                .replace("${NAME}", name)
                .replace("$NAME", name),
        })
        .collect();
    split(&expand(&words.join(" "), variable))
}

/// `$VAR` and `${VAR}` replaced by `variable`'s values (Go's `os.Expand`, which podman
/// uses); a `$` before anything else stays.
fn expand(text: &str, variable: &dyn Fn(&str) -> String) -> String {
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(braced) = after.strip_prefix('{') {
            if let Some(end) = braced.find('}') {
                out.push_str(&variable(&braced[..end]));
                rest = &braced[end + 1..];
                continue;
            }
        }
        let length = after.find(|c: char| !is_name(c)).unwrap_or(after.len());
        if length == 0 {
            out.push('$');
        } else {
            out.push_str(&variable(&after[..length]));
        }
        rest = &after[length..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(name: &str) -> String {
        match name {
            "OPT1" => "-d --rm".into(),
            "PWD" => "/here".into(),
            _ => String::new(),
        }
    }

    #[test]
    fn a_label_becomes_a_command_as_podman_makes_it() {
        let command = label_command(
            r#"podman run ${OPT1} --name NAME -e IMAGE=IMAGE -e NAME=NAME -v "${PWD}:/w" -e X=${HOME}x IMAGE echo "a b""#,
            "demo",
            "web",
            &vars,
        )
        .unwrap();
        assert_eq!(
            command,
            [
                "podman",
                "run",
                "-d",
                "--rm",
                "--name",
                "web",
                "-e",
                "IMAGE=demo",
                "-e",
                "NAME=web",
                "-v",
                "/here:/w",
                "-e",
                "X=x",
                "demo",
                "echo",
                "a",
                "b"
            ]
        );
        assert_eq!(
            label_command("/bin/echo $NAME/${IMAGE} $$ 5$", "i", "n", &vars).unwrap(),
            ["/bin/echo", "n/i", "$$", "5$"]
        );
        assert!(label_command("echo 'open", "i", "n", &vars).is_err());
    }

    #[test]
    fn the_default_name_is_the_image_s_last_component() {
        assert_eq!(default_name("quay.io/team/web:1"), "web");
        assert_eq!(default_name("localhost:5000/web@sha256:ab"), "web");
        assert_eq!(default_name("busybox"), "busybox");
    }
}
