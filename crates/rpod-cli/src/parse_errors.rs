//! A command line rpod cannot take, said in podman's words (its flag library's): a flag it
//! does not know, a flag without its value, a value that does not parse, a word where none
//! is taken, too few words; with podman's `See 'podman image rm --help'` line where podman
//! prints one. Other errors keep clap's own. clap gives the error; where the command line
//! was when parsing stopped is worked out here from the command's own definition.

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::CommandFactory;

use crate::cli::Cli;

/// Where parsing of a command line got to: the (sub)commands it names and the words it
/// gave the last of them.
struct Position {
    /// The subcommands' own names (an alias gives the name, as podman's `container ls`
    /// gives `container list`).
    path: Vec<String>,
    command: clap::Command,
    /// The words that are neither flags nor flags' values, after the path.
    positionals: usize,
}

/// Walks `words` (rpod's command line, `rpod` first) as clap does: flags and their values
/// are skipped, each word names a subcommand of the one before until one does not; a flag
/// the command does not know is where parsing stopped.
fn position(words: &[String]) -> Position {
    let mut command = Cli::command();
    // Built, so that every subcommand has the global flags (`--root` takes a value).
    command.build();
    let takes_value = |arg: &clap::Arg| arg.get_action().takes_values();
    let mut path = Vec::new();
    let mut positionals = 0;
    let mut words = words.iter().skip(1);
    while let Some(word) = words.next() {
        if word == "--" {
            positionals += words.count();
            break;
        }
        if let Some(long) = word.strip_prefix("--") {
            let name = long.split('=').next().unwrap_or(long);
            let Some(arg) = command.get_arguments().find(|a| a.get_long() == Some(name)) else {
                break;
            };
            if !long.contains('=') && takes_value(arg) {
                words.next();
            }
            continue;
        }
        if let Some(letters) = word.strip_prefix('-').filter(|s| !s.is_empty()) {
            // A cluster (`-it`): the first letter that takes a value takes the rest of
            // the word, or the next word when it is the last.
            let mut known = true;
            for (at, letter) in letters.char_indices() {
                let Some(arg) = command
                    .get_arguments()
                    .find(|a| a.get_short() == Some(letter))
                else {
                    known = false;
                    break;
                };
                if takes_value(arg) {
                    if at + letter.len_utf8() == letters.len() {
                        words.next();
                    }
                    break;
                }
            }
            if !known {
                break;
            }
            continue;
        }
        match command.find_subcommand(word).cloned() {
            Some(sub) if positionals == 0 => {
                path.push(sub.get_name().to_string());
                command = sub;
            }
            _ => positionals += 1,
        }
    }
    Position {
        path,
        command,
        positionals,
    }
}

/// How many words `command` takes at most, when that is bounded.
fn most_words(command: &clap::Command) -> Option<usize> {
    command
        .get_positionals()
        .map(|a| {
            let most = a.get_num_args().map_or(1, |n| n.max_values());
            (most != usize::MAX).then_some(most)
        })
        .sum()
}

/// The message for clap's `error`, as podman's, or none where clap's own is kept.
pub fn podman_message(error: &clap::Error, words: &[String]) -> Option<String> {
    let text = |kind: ContextKind| match error.get(kind) {
        Some(ContextValue::String(text)) => Some(text.as_str()),
        _ => None,
    };
    // clap names a flag with its value's placeholder: `--tail <TAIL>`, `--rm[=<RM>]`.
    let flag = || {
        let named = text(ContextKind::InvalidArg)?.split_whitespace().next()?;
        named.split('[').next()
    };
    let at = position(words);
    let see_help = || {
        let mut line = String::from("See 'rpod ");
        for name in &at.path {
            line.push_str(name);
            line.push(' ');
        }
        line.push_str("--help'");
        line
    };
    let said = match error.kind() {
        ErrorKind::UnknownArgument => {
            let arg = text(ContextKind::InvalidArg)?;
            if let Some(long) = arg.strip_prefix("--") {
                let name = long.split('=').next().unwrap_or(long);
                format!("unknown flag: --{name}")
            } else if let Some(short) = arg.strip_prefix('-').filter(|s| !s.is_empty()) {
                let first = short.chars().next()?;
                // clap names the letter alone (`-b`); podman the word it is in (`-bad`).
                let word = words
                    .iter()
                    .skip(1)
                    .take_while(|w| *w != "--")
                    .find(|w| {
                        !w.starts_with("--")
                            && w.strip_prefix('-').is_some_and(|l| l.contains(first))
                    })
                    .map_or(arg, String::as_str);
                format!("unknown shorthand flag: '{first}' in {word}")
            } else if at.command.get_positionals().next().is_none() && !at.path.is_empty() {
                // podman's words, without the help line.
                return Some(format!(
                    "Error: `rpod {}` takes no arguments",
                    at.path.join(" ")
                ));
            } else if let Some(most) = most_words(&at.command).filter(|_| !at.path.is_empty()) {
                // cobra's words for one word too many, without the help line.
                return Some(format!(
                    "Error: accepts at most {most} arg(s), received {}",
                    at.positionals
                ));
            } else {
                format!("unexpected argument {arg:?}")
            }
        }
        ErrorKind::InvalidSubcommand => {
            let name = text(ContextKind::InvalidSubcommand)?;
            let mut command = vec!["rpod"];
            command.extend(at.path.iter().map(String::as_str));
            let mut said = format!(
                "Error: unrecognized command `{} {name}`\n",
                command.join(" ")
            );
            if let Some(ContextValue::Strings(like)) = error.get(ContextKind::SuggestedSubcommand) {
                said.push_str("\nDid you mean this?\n");
                for other in like {
                    said.push_str(&format!("\t{other}\n"));
                }
                said.push('\n');
            }
            said.push_str(&format!(
                "Try '{} --help' for more information",
                command.join(" ")
            ));
            return Some(said);
        }
        ErrorKind::MissingRequiredArgument => {
            // Only missing words (`<DESTINATION>`), not a required flag.
            let missing = match error.get(ContextKind::InvalidArg) {
                Some(ContextValue::Strings(missing)) => missing,
                _ => return None,
            };
            if at.path.is_empty() || !missing.iter().all(|m| m.starts_with('<')) {
                return None;
            }
            let required: Vec<&clap::Arg> = at
                .command
                .get_positionals()
                .filter(|a| a.is_required_set())
                .collect();
            let least: usize = required
                .iter()
                .map(|a| a.get_num_args().map_or(1, |n| n.min_values().max(1)))
                .sum();
            // cobra's two wordings: a fixed number of words, or at least one.
            let fixed = at.command.get_positionals().all(|a| {
                a.is_required_set() && a.get_num_args().is_none_or(|n| n.max_values() == 1)
            });
            return Some(if fixed {
                format!("Error: accepts {least} arg(s), received {}", at.positionals)
            } else {
                format!(
                    "Error: requires at least {least} arg(s), only received {}",
                    at.positionals
                )
            });
        }
        ErrorKind::InvalidValue | ErrorKind::ValueValidation => {
            let flag = flag().filter(|f| f.starts_with('-'))?;
            let value = text(ContextKind::InvalidValue).unwrap_or_default();
            if value.is_empty() && error.kind() == ErrorKind::InvalidValue {
                format!("flag needs an argument: {flag}")
            } else {
                let reason = match error.get(ContextKind::ValidValue) {
                    Some(ContextValue::Strings(valid)) => {
                        format!("use one of {}", valid.join(", "))
                    }
                    _ => std::error::Error::source(error)
                        .map(ToString::to_string)
                        .unwrap_or_else(|| "invalid value".into()),
                };
                format!("invalid argument \"{value}\" for \"{flag}\" flag: {reason}")
            }
        }
        _ => return None,
    };
    Some(format!("Error: {said}\n{}", see_help()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What rpod says about `line`, or None where clap's own message is kept.
    fn said(line: &str) -> Option<String> {
        let words: Vec<String> = std::iter::once("rpod")
            .chain(line.split_whitespace())
            .map(String::from)
            .collect();
        let error = crate::cli::Cli::command()
            .try_get_matches_from(&words)
            .expect_err(line);
        podman_message(&error, &words)
    }

    #[test]
    fn unknown_flags_name_the_command_parsing_stopped_in() {
        assert_eq!(
            said("--root /x image rm -fbad i").unwrap(),
            "Error: unknown shorthand flag: 'b' in -fbad\nSee 'rpod image rm --help'"
        );
        assert_eq!(
            said("-x ps").unwrap(),
            "Error: unknown shorthand flag: 'x' in -x\nSee 'rpod --help'"
        );
        assert_eq!(
            said("run -it -p 80 -v=/a:/a --bogus demo").unwrap(),
            "Error: unknown flag: --bogus\nSee 'rpod run --help'"
        );
        assert_eq!(
            said("--log-level=info volume --bogus ls").unwrap(),
            "Error: unknown flag: --bogus\nSee 'rpod volume --help'"
        );
        assert_eq!(
            said("ps --sort").unwrap(),
            "Error: flag needs an argument: --sort\nSee 'rpod ps --help'"
        );
    }

    #[test]
    fn unknown_commands() {
        assert_eq!(
            said("volume zzz").unwrap(),
            "Error: unrecognized command `rpod volume zzz`\nTry 'rpod volume --help' for more information"
        );
        let bogus = said("--root /x logz").unwrap();
        assert!(
            bogus.starts_with("Error: unrecognized command `rpod logz`\n\nDid you mean this?\n")
                && bogus.contains("\tlogs\n")
                && bogus.ends_with("\n\nTry 'rpod --help' for more information"),
            "{bogus}"
        );
    }

    #[test]
    fn words_where_none_or_more_are_taken() {
        assert_eq!(
            said("ps extra").unwrap(),
            "Error: `rpod ps` takes no arguments"
        );
        assert_eq!(
            said("volume ls x").unwrap(),
            "Error: `rpod volume ls` takes no arguments"
        );
        assert_eq!(
            said("images a b").unwrap(),
            "Error: accepts at most 1 arg(s), received 2"
        );
        assert_eq!(said("cp a").unwrap(), "Error: accepts 2 arg(s), received 1");
        assert_eq!(
            said("run --rm").unwrap(),
            "Error: requires at least 1 arg(s), only received 0"
        );
        assert_eq!(
            said("tag").unwrap(),
            "Error: requires at least 2 arg(s), only received 0"
        );
    }
}
