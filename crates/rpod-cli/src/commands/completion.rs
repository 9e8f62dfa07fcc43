//! `completion`: shell completion scripts.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::{Cli, CompletionArgs};
use crate::exit::{usage, Outcome};

/// Prints (or writes to `--file`) the completion script of the whole command tree. The
/// script is static: it completes commands, flags and the values a flag accepts from a
/// fixed list, not the names of containers or images (podman asks itself for those at
/// every key press, through a hidden command).
pub fn completion(args: &CompletionArgs) -> Outcome {
    let shell = match args.shell.as_str() {
        "bash" => Shell::Bash,
        "zsh" => Shell::Zsh,
        "fish" => Shell::Fish,
        "powershell" => Shell::PowerShell,
        other => return Err(usage(format!("unknown shell {other:?}"))),
    };
    let mut command = Cli::command();
    // Materialises every command's deferred arguments before the tree is walked.
    command.build();
    if args.no_desc {
        command = without_descriptions(command);
    }
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "rpod", &mut script);
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

fn without_descriptions(command: clap::Command) -> clap::Command {
    command
        .about(None)
        .long_about(None)
        .mut_args(|arg| arg.help(None).long_help(None))
        .mut_subcommands(without_descriptions)
}
