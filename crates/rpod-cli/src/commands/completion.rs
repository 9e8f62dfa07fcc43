//! `completion`: shell completion. The script `rpod completion SHELL` prints asks rpod itself
//! at every completion (clap_complete's dynamic engine, as podman's scripts ask `podman
//! __complete`): commands, flags, fixed values, and the names of the store's containers,
//! images, volumes, networks, pods and secrets where a command takes them.

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;

use clap::{CommandFactory, Parser};
use clap_complete::engine::{ArgValueCompleter, CompletionCandidate, ValueCompleter};
use clap_complete::env::Shells;

use crate::cli::{Cli, CompletionArgs};
use crate::exit::{usage, Outcome};

/// The variable whose value (the shell's name) makes rpod complete the words after `--`
/// instead of running a command. A name of rpod's own, so that no other program's setting
/// can turn a command into a completion.
const COMPLETE_VAR: &str = "RPOD_COMPLETE";

/// Set by a script made with `--no-desc`: the completions carry no descriptions.
const NO_DESC_VAR: &str = "RPOD_COMPLETE_NO_DESC";

/// When the shell's completion script started rpod: print the completions and exit.
pub fn complete_if_asked() {
    // Every rpod command passes here: one look at the environment, nothing built.
    if std::env::var_os(COMPLETE_VAR).is_none() {
        return;
    }
    clap_complete::CompleteEnv::with_factory(command_with_names)
        .var(COMPLETE_VAR)
        .bin("rpod")
        .completer("rpod")
        .complete();
}

/// Prints (or writes to `--file`) the script that makes the shell ask rpod for completions.
pub fn completion(args: &CompletionArgs) -> Outcome {
    let (shell, no_desc_line) = match args.shell.as_str() {
        "bash" | "zsh" => (args.shell.as_str(), format!("export {NO_DESC_VAR}=1\n")),
        "fish" => ("fish", format!("set -gx {NO_DESC_VAR} 1\n")),
        "powershell" => ("powershell", format!("$env:{NO_DESC_VAR} = \"1\"\n")),
        other => return Err(usage(format!("unknown shell {other:?}"))),
    };
    let shells = Shells::builtins();
    let completer = shells
        .completer(shell)
        .ok_or_else(|| usage(format!("unknown shell {shell:?}")))?;
    let mut script = Vec::new();
    if args.no_desc {
        script.extend_from_slice(no_desc_line.as_bytes());
    }
    completer.write_registration(COMPLETE_VAR, "rpod", "rpod", "rpod", &mut script)?;
    match &args.file {
        None => std::io::stdout().lock().write_all(&script)?,
        Some(path) => {
            let failed = |e: std::io::Error| usage(format!("writing {}: {e}", path.display()));
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .open(path)
                .map_err(failed)?;
            // Readable by the shells of every user: rpod's own umask (077) would make it
            // private.
            file.set_permissions(std::fs::Permissions::from_mode(0o644))
                .map_err(failed)?;
            file.write_all(&script).map_err(failed)?;
        }
    }
    Ok(0)
}

/// The command line's definition, with completers for the arguments that name objects.
fn command_with_names() -> clap::Command {
    let mut command = Cli::command();
    // Materialises every command's deferred arguments before the tree is walked.
    command.build();
    if std::env::var_os(NO_DESC_VAR).is_some() {
        command = without_descriptions(command);
    }
    with_name_completers(command, "")
}

fn with_name_completers(mut command: clap::Command, path: &str) -> clap::Command {
    let subcommands: Vec<String> = command
        .get_subcommands()
        .map(|sub| sub.get_name().to_string())
        .collect();
    for name in subcommands {
        let sub_path = match path {
            "" => name.clone(),
            _ => format!("{path} {name}"),
        };
        command = command.mut_subcommand(&name, |sub| with_name_completers(sub, &sub_path));
    }
    let positionals: Vec<String> = command
        .get_positionals()
        .map(|arg| arg.get_id().to_string())
        .collect();
    let flags: Vec<(String, String)> = command
        .get_arguments()
        .filter(|arg| arg.get_num_args().is_some_and(|n| n.takes_values()))
        .filter_map(|arg| Some((arg.get_id().to_string(), arg.get_long()?.to_string())))
        .collect();
    for (id, long) in flags {
        if let Some(names) = flag_names_for(path, &long) {
            command = command.mut_arg(&id, |arg| arg.add(ArgValueCompleter::new(names)));
        }
    }
    for id in positionals {
        if let Some(mut names) = names_for(path, &id) {
            if let Some(first) = &mut names.first_only {
                first.leaf = path.rsplit(' ').next().unwrap_or_default().to_string();
                first.value_flags = value_flags(&command);
            }
            command = command.mut_arg(&id, |arg| arg.add(ArgValueCompleter::new(names)));
        }
    }
    command
}

/// The spellings of `command`'s flags that take a value (`--env`, `-e`).
fn value_flags(command: &clap::Command) -> Vec<String> {
    command
        .get_arguments()
        .filter(|arg| !arg.is_positional())
        .filter(|arg| arg.get_num_args().is_some_and(|n| n.takes_values()))
        .flat_map(|arg| {
            let long = arg.get_long().map(|l| format!("--{l}"));
            let short = arg.get_short().map(|s| format!("-{s}"));
            long.into_iter().chain(short)
        })
        .collect()
}

/// The objects whose names completion offers.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Container,
    Image,
    Volume,
    Network,
    Pod,
    Secret,
    /// `system connection`'s destinations (kept beside rpod.conf, not in the store).
    Connection,
    /// A destination as `image scp` takes it: `NAME::`.
    ScpHost,
}

/// The names offered for one argument.
#[derive(Debug, PartialEq)]
struct Names {
    kinds: &'static [Kind],
    /// Offered beside the names (a network flag's modes).
    fixed: &'static [&'static str],
    /// Only for the argument's first value: the rest is a command (`exec CTR COMMAND...`),
    /// or something else (`top CTR DESCRIPTORS...`).
    first_only: Option<FirstOnly>,
}

/// What tells the first value of an argument from the others, on the line being completed.
#[derive(Debug, Default, PartialEq)]
struct FirstOnly {
    /// The command's own word (`exec`).
    leaf: String,
    /// Its flags that take a value, which is not a positional word.
    value_flags: Vec<String>,
}

impl FirstOnly {
    /// Whether the word being completed is the first positional word after the command's:
    /// the words come after rpod's own `--`, and the shell says which is being completed
    /// (`_CLAP_COMPLETE_INDEX`; fish's is the last).
    fn completes_first(&self) -> bool {
        // Lossily: a word being typed need not be UTF-8.
        let words: Vec<String> = super::command_line()
            .into_iter()
            .skip_while(|word| word != "--")
            .skip(1)
            .collect();
        let current = std::env::var("_CLAP_COMPLETE_INDEX")
            .ok()
            .and_then(|index| index.parse().ok())
            .unwrap_or(words.len().saturating_sub(1));
        self.is_first(&words, current)
    }

    fn is_first(&self, words: &[String], current: usize) -> bool {
        // The index is the shell's: never past the words.
        let current = current.min(words.len());
        let Some(start) = words.iter().position(|word| *word == self.leaf) else {
            return true;
        };
        let takes_value = |flag: &str| self.value_flags.iter().any(|f| f == flag);
        let mut index = start + 1;
        while index < current {
            let word = &words[index];
            if word == "--" || !word.starts_with('-') || word == "-" {
                return false;
            }
            let skip_value = match word.strip_prefix("--") {
                Some(_) => !word.contains('=') && takes_value(word),
                // A cluster (`-it`, `-e`): a flag taking a value takes the rest of the
                // word, or the next word when it is the last letter.
                None => {
                    let letters: Vec<char> = word.chars().skip(1).collect();
                    letters
                        .iter()
                        .position(|c| takes_value(&format!("-{c}")))
                        .is_some_and(|at| at + 1 == letters.len())
                }
            };
            if skip_value && index + 1 == current {
                // The word being completed is that flag's value.
                return false;
            }
            index += if skip_value { 2 } else { 1 };
        }
        true
    }
}

/// What the positional argument `arg` of the command at `path` (`"container exec"`) names.
fn names_for(path: &str, arg: &str) -> Option<Names> {
    use Kind::*;
    let group = path.split(' ').next().unwrap_or_default();
    let leaf = path.rsplit(' ').next().unwrap_or_default();
    let all = |kinds| {
        Some(Names {
            kinds,
            fixed: &[],
            first_only: None,
        })
    };
    let first = |kinds| {
        Some(Names {
            kinds,
            fixed: &[],
            first_only: Some(FirstOnly::default()),
        })
    };
    match (group, leaf, arg) {
        // Names being made, remote references, new tags: nothing to offer.
        (_, "create", "name")
        | ("secret", "create", _)
        | ("manifest", _, _)
        | (_, "pull", _)
        | (_, "push", "destination")
        | (_, "commit", "image")
        | (_, "tag" | "untag", "names") => None,
        ("volume", _, "name" | "names") => all(&[Volume]),
        ("network", _, "name" | "names" | "network") => all(&[Network]),
        ("pod", "top", "args") => first(&[Pod]),
        ("pod", _, "name" | "names" | "pod" | "pods") => all(&[Pod]),
        ("secret", _, "name" | "names") => all(&[Secret]),
        ("system", "remove" | "default" | "rename", "name" | "old") => all(&[Connection]),
        ("image", "scp", "source") => all(&[Image, ScpHost]),
        ("image", "scp", "destination") => all(&[ScpHost]),
        ("inspect", _, "names") => all(&[Container, Image, Volume, Network, Pod]),
        ("generate" | "kube", _, "names") => all(&[Container, Pod]),
        ("generate", "systemd", "container") => all(&[Container, Pod]),
        (_, "diff", "names") => all(&[Container, Image]),
        ("image", _, "name" | "names") => all(&[Image]),
        ("container", _, "name" | "names") => all(&[Container]),
        (_, _, "containers" | "container") => all(&[Container]),
        (_, _, "container_and_command") => first(&[Container]),
        (_, "top" | "port", "args") => first(&[Container]),
        (_, _, "image_and_command") => first(&[Image]),
        (_, _, "image" | "images" | "other") => all(&[Image]),
        _ => None,
    }
}

/// What the value of the flag `--long` of the command at `path` names.
fn flag_names_for(path: &str, long: &str) -> Option<Names> {
    use Kind::*;
    // A build's --network, --secret and --volume are modes and files, not objects.
    if path == "build" || path.ends_with(" build") {
        return None;
    }
    let (kinds, fixed): (&'static [Kind], &'static [&'static str]) = match long {
        "volumes-from" | "requires" => (&[Container], &[]),
        "pod" => (&[Pod], &[]),
        "secret" => (&[Secret], &[]),
        "volume" => (&[Volume], &[]),
        "network" | "net" => (&[Network], &["bridge", "host", "none"]),
        _ => return None,
    };
    Some(Names {
        kinds,
        fixed,
        first_only: None,
    })
}

impl ValueCompleter for Names {
    fn complete(&self, current: &OsStr) -> Vec<CompletionCandidate> {
        self.complete_at(0, current)
    }

    fn complete_at(&self, index: usize, current: &OsStr) -> Vec<CompletionCandidate> {
        let later_value = match &self.first_only {
            Some(first) => index > 0 || !first.completes_first(),
            None => false,
        };
        if later_value {
            return Vec::new();
        }
        let typed = current.to_string_lossy();
        let mut names = store_names(self.kinds, &typed);
        names.extend(self.fixed.iter().map(|mode| mode.to_string()));
        names.retain(|name| name.starts_with(typed.as_ref()));
        names.sort();
        names.dedup();
        names.into_iter().map(CompletionCandidate::new).collect()
    }
}

/// The names of the store's objects of `kinds`; short IDs too when `typed` is the start of
/// one. Nothing when the store cannot be read (completion never fails, and never makes a
/// store).
fn store_names(kinds: &[Kind], typed: &str) -> Vec<String> {
    let mut names = Vec::new();
    if kinds
        .iter()
        .any(|k| matches!(k, Kind::Connection | Kind::ScpHost))
    {
        let kept = crate::connections::Connections::load(&crate::connections::Connections::path())
            .unwrap_or_default();
        for destination in kept.destinations {
            if kinds.contains(&Kind::ScpHost) {
                names.push(format!("{}::", destination.name));
            }
            if kinds.contains(&Kind::Connection) {
                names.push(destination.name);
            }
        }
    }
    if kinds
        .iter()
        .all(|k| matches!(k, Kind::Connection | Kind::ScpHost))
    {
        return names;
    }
    let Some(cli) = store_flags() else {
        return names;
    };
    if !cli.root.join("rpod.db").is_file() {
        return names;
    }
    let Ok(engine) = crate::open_engine(&cli) else {
        return names;
    };
    // IDs only once what is typed can hardly be the start of a name.
    let ids_too = typed.len() >= 3 && typed.bytes().all(|b| b.is_ascii_hexdigit());
    let short = |id: &str| id.chars().take(12).collect::<String>();
    for kind in kinds {
        match kind {
            Kind::Container => {
                for record in engine.list().unwrap_or_default() {
                    if ids_too {
                        names.push(short(record.id()));
                    }
                    names.push(record.config.name);
                }
            }
            Kind::Image => {
                for info in engine.image_infos().unwrap_or_default() {
                    if ids_too {
                        names.push(short(&info.record.id));
                    }
                    for name in info.names {
                        // Typed as podman's users type them, without the default registry.
                        if let Some(local) = name.strip_prefix("localhost/") {
                            names.push(local.to_string());
                        }
                        names.push(name);
                    }
                }
            }
            Kind::Volume => names.extend(listed(engine.volumes(), |v| v.name)),
            Kind::Network => names.extend(listed(engine.networks(), |n| n.name)),
            Kind::Pod => names.extend(listed(engine.pods(), |p| p.name)),
            Kind::Secret => names.extend(listed(engine.secrets(), |s| s.name)),
            Kind::Connection | Kind::ScpHost => {}
        }
    }
    names
}

/// The names of a listing's objects; none when it failed.
fn listed<T>(listing: rpod_engine::Result<Vec<T>>, name: fn(T) -> String) -> Vec<String> {
    listing
        .map(|objects| objects.into_iter().map(name).collect())
        .unwrap_or_default()
}

/// The store the line being completed names (`--root`, `--runroot`), else the one rpod
/// would use (the variables, the defaults).
fn store_flags() -> Option<Cli> {
    let words: Vec<OsString> = std::env::args_os().collect();
    let mut argv: Vec<OsString> = vec!["rpod".into()];
    for flag in ["--root", "--runroot"] {
        let prefix = format!("{flag}=");
        // The last one given, as rpod takes a flag given twice.
        let mut value = words.iter().enumerate().filter_map(|(i, word)| {
            let word = word.to_str()?;
            match word.strip_prefix(&prefix) {
                Some(value) => Some(OsString::from(value)),
                None if word == flag => words.get(i + 1).cloned(),
                None => None,
            }
        });
        if let Some(value) = value.next_back() {
            argv.push(flag.into());
            argv.push(value);
        }
    }
    argv.push("ps".into());
    Cli::try_parse_from(argv).ok()
}

fn without_descriptions(command: clap::Command) -> clap::Command {
    command
        .about(None)
        .long_about(None)
        .mut_args(|arg| arg.help(None).long_help(None))
        .mut_subcommands(without_descriptions)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_matched_to_the_objects_they_name() {
        let kinds = |path: &str, arg: &str| names_for(path, arg).map(|n| n.kinds.to_vec());
        let first_only =
            |path: &str, arg: &str| names_for(path, arg).map(|n| n.first_only.is_some());
        assert_eq!(kinds("rm", "containers"), Some(vec![Kind::Container]));
        assert_eq!(
            kinds("system connection rename", "old"),
            Some(vec![Kind::Connection])
        );
        assert_eq!(kinds("system connection rename", "new"), None);
        assert_eq!(
            kinds("image scp", "source"),
            Some(vec![Kind::Image, Kind::ScpHost])
        );
        assert_eq!(first_only("exec", "container_and_command"), Some(true));
        assert_eq!(first_only("container run", "image_and_command"), Some(true));
        assert_eq!(first_only("rm", "containers"), Some(false));
        assert_eq!(
            kinds("network connect", "container"),
            Some(vec![Kind::Container])
        );
        assert_eq!(
            kinds("network connect", "network"),
            Some(vec![Kind::Network])
        );
        assert_eq!(kinds("pod logs", "containers"), Some(vec![Kind::Container]));
        assert_eq!(kinds("pod top", "args"), Some(vec![Kind::Pod]));
        assert_eq!(kinds("image exists", "name"), Some(vec![Kind::Image]));
        assert_eq!(kinds("image push", "image"), Some(vec![Kind::Image]));
        let flag = |path: &str, long: &str| flag_names_for(path, long).map(|n| n.kinds.to_vec());
        assert_eq!(flag("run", "volumes-from"), Some(vec![Kind::Container]));
        assert_eq!(flag("pod create", "network"), Some(vec![Kind::Network]));
        assert_eq!(flag("create", "pod"), Some(vec![Kind::Pod]));
        assert_eq!(flag("build", "network"), None);
        assert_eq!(flag("image build", "secret"), None);
        assert_eq!(flag("run", "name"), None);
        // New names and remote references get nothing.
        for (path, arg) in [
            ("volume create", "name"),
            ("network create", "name"),
            ("secret create", "name"),
            ("pull", "images"),
            ("push", "destination"),
            ("commit", "image"),
            ("tag", "names"),
            ("manifest add", "image"),
            ("cp", "source"),
        ] {
            assert_eq!(names_for(path, arg), None, "{path} {arg}");
        }
    }

    #[test]
    fn the_first_positional_word_is_told_from_flags_their_values_and_later_words() {
        let first = FirstOnly {
            leaf: "exec".into(),
            value_flags: vec!["-u".into(), "--user".into(), "-e".into()],
        };
        let words = |line: &str| line.split(' ').map(String::from).collect::<Vec<_>>();
        let at_end = |line: &str| {
            let w = words(line);
            first.is_first(&w, w.len() - 1)
        };
        assert!(at_end("rpod exec k"));
        assert!(at_end("rpod --root /r exec -it k"));
        assert!(at_end("rpod exec -u root k"));
        assert!(at_end("rpod exec --user=root -e A=b k"));
        assert!(at_end("rpod exec -itu root k"));
        assert!(at_end("rpod exec -eA=b k"));
        assert!(!at_end("rpod exec keep k"));
        assert!(!at_end("rpod exec -u k"), "the flag's value");
        assert!(!at_end("rpod exec -it keep sh k"));
        assert!(!at_end("rpod exec -- k"));
        // An index past the words (the shell's to give) counts as after them all.
        let w = words("rpod exec keep k");
        assert!(!first.is_first(&w, 99));
        assert!(first.is_first(&words("rpod exec -it"), 99));
    }
}
