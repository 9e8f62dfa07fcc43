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
    if let Some(matches) = parse_with_global_flags_first(&words) {
        return Ok(matches);
    }
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

/// The line parsed with rpod's global flags (`--root`, `--runtime`, ...) known only before
/// the subcommand, when it gives none of them after it, as nearly every line does. Why:
/// clap copies each global flag into every subcommand it has before it parses (which is
/// what lets `rpod ps --root DIR` work), and with rpod's twenty global flags and sixty-odd
/// subcommands that took 2 ms of every command's start here (measured; 0.2 ms without).
/// `None` for every other line, and for one this parse refuses: then the whole parse
/// runs, so what is accepted, and every message and help text, stay as they were.
fn parse_with_global_flags_first(words: &[std::ffi::OsString]) -> Option<ArgMatches> {
    let command = on_every_command(Cli::command(), last_value_wins);
    let subcommand_at = subcommand_position(&command, words)?;
    let globals: Vec<&clap::Arg> = command
        .get_arguments()
        .filter(|arg| arg.is_global_set())
        .collect();
    if words[subcommand_at..]
        .iter()
        .any(|word| may_name_one_of(&globals, word))
    {
        return None;
    }
    command
        .mut_args(|arg| arg.global(false))
        .try_get_matches_from(words)
        .ok()
}

/// Where the subcommand's name is in `words` (`rpod` first): the first word that is neither
/// a top-level flag nor its value. `None` when a word before it is no top-level flag, or
/// there is no subcommand: left to the whole parse.
fn subcommand_position(command: &clap::Command, words: &[std::ffi::OsString]) -> Option<usize> {
    let takes_value = |arg: &clap::Arg| arg.get_action().takes_values();
    let mut at = 1;
    while let Some(word) = words.get(at) {
        let word = word.to_str()?;
        if let Some(long) = word.strip_prefix("--") {
            let (name, value) = match long.split_once('=') {
                Some((name, _)) => (name, true),
                None => (long, false),
            };
            let arg = command
                .get_arguments()
                .find(|arg| answers_to_long(arg, name))?;
            at += if takes_value(arg) && !value { 2 } else { 1 };
        } else if let Some(letters) = word.strip_prefix('-').filter(|l| !l.is_empty()) {
            // A cluster of letters (`-rc NAME`): a letter that takes a value takes the rest
            // of the word, or the next word when it is the last.
            at += 1;
            for (index, letter) in letters.char_indices() {
                let arg = command
                    .get_arguments()
                    .find(|arg| answers_to_letter(arg, letter))?;
                if takes_value(arg) {
                    if index + letter.len_utf8() == letters.len() {
                        at += 1;
                    }
                    break;
                }
            }
        } else {
            return Some(at);
        }
    }
    None
}

/// Whether `word` could give one of the flags `globals`, by its long name (or an alias of
/// it, with or without `=VALUE`) or its letter anywhere in a cluster. Loose on purpose: a
/// word that only looks like one (`ls -r` in a container's command) costs the whole
/// parse, never a different one.
fn may_name_one_of(globals: &[&clap::Arg], word: &std::ffi::OsStr) -> bool {
    let word = word.to_string_lossy();
    if let Some(long) = word.strip_prefix("--") {
        let name = long.split_once('=').map_or(long, |(name, _)| name);
        globals.iter().any(|arg| answers_to_long(arg, name))
    } else if let Some(letters) = word.strip_prefix('-') {
        letters
            .chars()
            .any(|letter| globals.iter().any(|arg| answers_to_letter(arg, letter)))
    } else {
        false
    }
}

/// Whether `--NAME` gives `arg` (its long name or an alias of it).
fn answers_to_long(arg: &clap::Arg, name: &str) -> bool {
    arg.get_long() == Some(name)
        || arg
            .get_all_aliases()
            .is_some_and(|aliases| aliases.contains(&name))
}

/// Whether `-LETTER` gives `arg` (its letter or an alias of it).
fn answers_to_letter(arg: &clap::Arg, letter: char) -> bool {
    arg.get_short() == Some(letter)
        || arg
            .get_all_short_aliases()
            .is_some_and(|aliases| aliases.contains(&letter))
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

    fn os_words(line: &str) -> Vec<std::ffi::OsString> {
        words(line).into_iter().map(Into::into).collect()
    }

    /// The whole parse, as it ran before the quick one was tried first.
    fn whole_parse(line: &str) -> String {
        use clap::FromArgMatches;
        let matches = on_every_command(Cli::command(), last_value_wins)
            .try_get_matches_from(words(line))
            .expect(line);
        format!("{:?}", Cli::from_arg_matches(&matches).expect(line))
    }

    #[test]
    fn global_flags_before_the_subcommand_are_parsed_without_copies_and_alike() {
        use clap::FromArgMatches;
        for line in [
            "ps",
            "--root /x --runroot=/y --runtime crun run --rm -d --name a demo sh -c true",
            "-r ps -a",
            "--url unix:///x container ps --all",
            "--log-level=debug --runtime-flag debug --runtime-flag log-format=json exec -it c ls",
            "--root /a --root /b volume create v",
            "--storage-opt overlay.mount_program=/x -c conn --noout images",
        ] {
            let quick = parse_with_global_flags_first(&os_words(line)).expect(line);
            let quick = format!("{:?}", Cli::from_arg_matches(&quick).expect(line));
            assert_eq!(quick, whole_parse(line), "{line}");
        }
    }

    #[test]
    fn every_line_parses_as_the_whole_parse_alone_would_parse_it() {
        use clap::FromArgMatches;
        let prefixes = [
            "",
            "--root /x",
            "--runtime=crun --runroot /y -r",
            "--log-level debug --noout",
            "-c conn --tmpdir /t",
        ];
        let lines = [
            "ps -a --format {{.Names}}",
            "run --rm -it -v /a:/b:ro --name n demo sh -c 'echo hi'",
            "run -d --root /z demo",
            "run demo ls -r --root",
            "exec -it c ls -la",
            "container rm -f -t 0 a b",
            "image ls --filter reference=x",
            "volume create --opt o=bind v",
            "network create --subnet 10.1.0.0/24 n",
            "pod create --name p",
            "logs -f --tail 2 c",
            "system service --time 0 unix:///tmp/x.sock",
            "ps --bogus",
            "run",
            "nosuch command",
            "rm --help",
            "version",
        ];
        let mut quick_ones = 0;
        for prefix in prefixes {
            for line in lines {
                let line = format!("{prefix} {line}");
                let whole = on_every_command(Cli::command(), last_value_wins)
                    .try_get_matches_from(words(&line));
                let quick = parse_with_global_flags_first(&os_words(&line));
                match (whole, quick) {
                    (Ok(whole), Some(quick)) => {
                        quick_ones += 1;
                        assert_eq!(
                            format!("{:?}", Cli::from_arg_matches(&quick)),
                            format!("{:?}", Cli::from_arg_matches(&whole)),
                            "{line}"
                        )
                    }
                    // Refused by the whole parse: never taken by the quick one.
                    (Err(error), quick) => assert!(quick.is_none(), "{line}: {error}"),
                    (Ok(_), None) => {}
                }
            }
        }
        // Every line the whole parse takes, but those giving a global flag after their
        // subcommand (two of them, under each prefix), went the quick way.
        assert_eq!(quick_ones, 5 * (lines.len() - 4 - 2));
    }

    #[test]
    fn a_global_flag_after_the_subcommand_gets_the_whole_parse() {
        for line in [
            "ps --root /x",
            "container ps --runtime=crun",
            "run -dr demo",
            "run --rm demo ls -r",
            "run --rm demo sh --root /x",
            "--bogus ps",
            "--root",
        ] {
            assert!(
                parse_with_global_flags_first(&os_words(line)).is_none(),
                "{line}"
            );
        }
        // And it is read as before: a global flag after the subcommand counts, a word of the
        // container's own command stays its own.
        use clap::FromArgMatches;
        let cli = Cli::from_arg_matches(&parse(words("ps --root /x")).unwrap()).unwrap();
        assert_eq!(cli.root, std::path::Path::new("/x"));
        let line = "--root /r run --rm demo sh --root /x";
        let cli = Cli::from_arg_matches(&parse(words(line)).unwrap()).unwrap();
        assert_eq!(cli.root, std::path::Path::new("/r"));
        assert_eq!(format!("{cli:?}"), whole_parse(line));
    }

    #[test]
    fn the_subcommand_is_found_past_the_top_level_flags_and_their_values() {
        let at = |line: &str| subcommand_position(&Cli::command(), &os_words(line));
        assert_eq!(at("ps"), Some(1));
        assert_eq!(at("--root /x ps"), Some(3));
        assert_eq!(at("--root=/x -r ps"), Some(3));
        // A letter that takes a value takes the rest of its word or the next one.
        assert_eq!(at("-c conn ps"), Some(3));
        assert_eq!(at("-cconn ps"), Some(2));
        assert_eq!(at("-rc conn ps"), Some(3));
        assert_eq!(at("--remote ps"), Some(2));
        // No subcommand, or a word that is no top-level flag.
        assert_eq!(at("--root /x"), None);
        assert_eq!(at("--bogus ps"), None);
        assert_eq!(at("-z ps"), None);
        assert_eq!(at("-- ps"), None);
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
