//! How rpod's command line is parsed: clap, with three of podman's flag-library habits that
//! clap does not have. A flag given twice takes its last value (`--log-driver=none
//! --log-driver=k8s-file` is k8s-file); an on/off flag also takes a value after `=`
//! (`--rm=false`, `--privileged=true`, `-t=false`), read as Go's `strconv.ParseBool` reads
//! it; and a flag that takes a value takes the next word whatever it looks like (`--name
//! -x`, `--cpu-shares -5`: then refused for what it is, a negative share). Scripts written
//! for podman and docker rely on them.

use clap::error::ErrorKind;
use clap::{ArgAction, ArgMatches, CommandFactory};

use crate::cli::Cli;

/// The words Go's `strconv.ParseBool` takes, true ones first.
const TRUE_WORDS: [&str; 6] = ["1", "t", "T", "TRUE", "true", "True"];
const FALSE_WORDS: [&str; 6] = ["0", "f", "F", "FALSE", "false", "False"];

/// Parses `words` (`rpod` first). The plain command first: it builds only the subcommands
/// the words name (a command line is parsed at every start, so that is kept cheap), and
/// its help shows `--rm`, not `--rm[=<RM>]`. Only a command line it refuses for a word too
/// many or unknown (what `--rm=false` is to it) is parsed again, with values for on/off
/// flags; that parse's answer stands, as it got further.
pub fn parse<I, T>(words: I) -> Result<ArgMatches, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let words: Vec<std::ffi::OsString> = words.into_iter().map(Into::into).collect();
    let plain = match on_every_command(Cli::command(), last_value_wins).try_get_matches_from(&words)
    {
        Ok(matches) => return Ok(matches),
        Err(error) => error,
    };
    // A value that looks like a flag is an unknown word to clap, or leaves its flag
    // without a value.
    let retried = match plain.kind() {
        ErrorKind::UnknownArgument | ErrorKind::TooManyValues => true,
        ErrorKind::InvalidValue => plain
            .get(clap::error::ContextKind::InvalidValue)
            .is_some_and(|value| value.to_string().is_empty()),
        _ => false,
    };
    if !retried {
        return Err(plain);
    }
    // Built whole first: clap fills in a subcommand's flags only when it builds it.
    let mut command = Cli::command();
    command.build();
    let retried = on_every_command(command, |c| last_value_wins(c).mut_args(as_podman_reads))
        .try_get_matches_from(&words);
    match retried {
        Err(error) if error.kind() == ErrorKind::DisplayHelp => {
            Err(plain_help(&words).unwrap_or(error))
        }
        other => other,
    }
}

/// The help asked for on a line that needed the second parse (`run --rm=false --help`), as
/// the plain command shows it (`--rm`, not `--rm[=<RM>]`): the line without its
/// `-FLAG=VALUE` words, which only the second parse reads, parsed by the plain command.
fn plain_help(words: &[std::ffi::OsString]) -> Option<clap::Error> {
    let kept = words.iter().filter(|word| {
        let word = word.to_string_lossy();
        !(word.starts_with('-') && word.contains('='))
    });
    let error = on_every_command(Cli::command(), last_value_wins)
        .try_get_matches_from(kept)
        .err()?;
    (error.kind() == ErrorKind::DisplayHelp).then_some(error)
}

/// `change` made to `command` and every subcommand under it.
fn on_every_command(
    command: clap::Command,
    change: fn(clap::Command) -> clap::Command,
) -> clap::Command {
    change(command).mut_subcommands(|sub| on_every_command(sub, change))
}

/// A flag given twice takes its last value.
fn last_value_wins(command: clap::Command) -> clap::Command {
    command.args_override_self(true)
}

/// A flag as podman's flag library reads it: an on/off flag takes `=VALUE` too, and a flag
/// that takes one value takes the next word even when it starts with `-`. Positional
/// arguments are left as they are (an unknown flag must not become a container's name).
fn as_podman_reads(arg: clap::Arg) -> clap::Arg {
    let one_value = arg
        .get_num_args()
        .is_some_and(|range| range.min_values() == 1 && range.max_values() == 1);
    match arg.get_action() {
        ArgAction::SetTrue => with_optional_value(arg),
        ArgAction::Set | ArgAction::Append if !arg.is_positional() && one_value => {
            arg.allow_hyphen_values(true)
        }
        _ => arg,
    }
}

/// An on/off flag takes `=VALUE` too.
fn with_optional_value(arg: clap::Arg) -> clap::Arg {
    // Only with `=`: `--rm demo` must not read `demo` as the flag's value, and `-it`
    // stays two flags.
    arg.action(ArgAction::Set)
        .num_args(0..=1)
        .require_equals(true)
        .default_missing_value("true")
        .default_value("false")
        .value_parser(go_bool)
}

/// An on/off flag's value: what Go's `strconv.ParseBool` takes, as podman reads it.
fn go_bool(word: &str) -> Result<bool, String> {
    if TRUE_WORDS.contains(&word) {
        Ok(true)
    } else if FALSE_WORDS.contains(&word) {
        Ok(false)
    } else {
        Err("not true or false".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<String> {
        std::iter::once("rpod")
            .chain(line.split_whitespace())
            .map(String::from)
            .collect()
    }

    /// The on/off flags `ids` of `rpod run` as `line` (after `run`) sets them.
    fn run_flags(line: &str, ids: &[&str]) -> Vec<bool> {
        let matches = parse(words(&format!("run {line}"))).expect(line);
        let (name, run) = matches.subcommand().expect("a subcommand");
        assert_eq!(name, "run");
        ids.iter()
            .map(|id| *run.get_one::<bool>(id).expect(id))
            .collect()
    }

    #[test]
    fn on_off_flags_take_true_or_false_after_an_equals_sign() {
        assert_eq!(run_flags("--rm=true demo", &["rm"]), [true]);
        assert_eq!(run_flags("--rm=false demo", &["rm"]), [false]);
        assert_eq!(run_flags("--rm demo", &["rm"]), [true]);
        assert_eq!(run_flags("demo", &["rm"]), [false]);
        // Go's words for true and false.
        for (word, on) in [
            ("1", true),
            ("T", true),
            ("True", true),
            ("0", false),
            ("F", false),
        ] {
            assert_eq!(
                run_flags(&format!("--privileged={word} demo"), &["privileged"]),
                [on]
            );
        }
        // The last one given counts, as with other flags.
        assert_eq!(run_flags("--rm --rm=false demo", &["rm"]), [false]);
        assert_eq!(run_flags("--rm=false --rm demo", &["rm"]), [true]);
        // Letters: a cluster stays flags, the last letter may take a value.
        assert_eq!(
            run_flags("-it=false demo", &["interactive", "tty"]),
            [true, false]
        );
        assert_eq!(
            run_flags("-dit demo", &["detach", "interactive", "tty"]),
            [true, true, true]
        );
        assert_eq!(run_flags("-t=1 demo", &["tty"]), [true]);
        // Global flags too.
        let matches = parse(words("--remote=false ps")).unwrap();
        assert_eq!(matches.get_one::<bool>("remote"), Some(&false));
    }

    #[test]
    fn the_containers_own_command_line_is_left_alone() {
        let matches = parse(words("run --rm=true demo sh --rm=false")).unwrap();
        let (_, run) = matches.subcommand().unwrap();
        assert_eq!(run.get_one::<bool>("rm"), Some(&true));
        let given: Vec<&String> = run
            .get_many::<String>("image_and_command")
            .unwrap()
            .collect();
        assert_eq!(given, ["demo", "sh", "--rm=false"]);
    }

    #[test]
    fn a_value_that_is_not_true_or_false_is_refused_in_podmans_words() {
        let line = words("run --rm=maybe demo");
        let error = parse(&line).unwrap_err();
        assert_eq!(
            crate::parse_errors::podman_message(&error, &line).unwrap(),
            "Error: invalid argument \"maybe\" for \"--rm\" flag: not true or false\n\
             See 'rpod run --help'"
        );
        // An unknown flag is still said as such.
        let line = words("run --bogus=false demo");
        let error = parse(&line).unwrap_err();
        assert_eq!(
            crate::parse_errors::podman_message(&error, &line).unwrap(),
            "Error: unknown flag: --bogus\nSee 'rpod run --help'"
        );
        // Past an on/off flag's value, the mistake after it is the one said.
        let line = words("run --rm=false --bogus demo");
        let error = parse(&line).unwrap_err();
        assert_eq!(
            crate::parse_errors::podman_message(&error, &line).unwrap(),
            "Error: unknown flag: --bogus\nSee 'rpod run --help'"
        );
    }

    #[test]
    fn a_flags_value_may_start_with_a_hyphen() {
        let matches = parse(words("create --name -d --cpu-shares=2 demo")).unwrap();
        let (_, create) = matches.subcommand().unwrap();
        assert_eq!(
            create.get_one::<String>("name").map(String::as_str),
            Some("-d")
        );
        // Then judged as the flag's value: a negative number where none may be.
        let line = words("create --cpu-shares -5 demo");
        let error = parse(&line).unwrap_err();
        assert_eq!(
            crate::parse_errors::podman_message(&error, &line).unwrap(),
            "Error: invalid argument \"-5\" for \"--cpu-shares\" flag: invalid digit found in \
             string\nSee 'rpod create --help'"
        );
        // A flag with nothing after it, and a word that is not a flag, are still said.
        let line = words("ps --sort");
        let error = parse(&line).unwrap_err();
        assert_eq!(
            crate::parse_errors::podman_message(&error, &line).unwrap(),
            "Error: flag needs an argument: --sort\nSee 'rpod ps --help'"
        );
        let line = words("rm --bogus");
        let error = parse(&line).unwrap_err();
        assert_eq!(
            crate::parse_errors::podman_message(&error, &line).unwrap(),
            "Error: unknown flag: --bogus\nSee 'rpod rm --help'"
        );
    }

    #[test]
    fn help_shows_on_off_flags_without_a_value() {
        let error = parse(words("run --help")).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::DisplayHelp);
        let help = error.render().to_string();
        assert!(help.contains("      --rm\n"), "{help}");
        assert!(!help.contains("[=<RM>]"), "{help}");
        // Also on a line that needed the second parse.
        let error = parse(words("run --rm=false -it=true --help")).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::DisplayHelp);
        let help = error.render().to_string();
        assert!(help.contains("      --rm\n"), "{help}");
        assert!(!help.contains("[=<RM>]"), "{help}");
    }
}
