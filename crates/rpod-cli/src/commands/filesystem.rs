//! `diff`, `commit` and `export`: a container's file system as a whole.

use std::io::{self, IsTerminal, Write};

use serde_json::json;

use rpod_engine::upper_diff::ChangeKind;
use rpod_engine::{CommitOptions, Engine, HostSource};

use crate::cli::{CommitArgs, CpArgs, DiffArgs, ExportArgs};
use crate::exit::{usage, Outcome};

pub fn diff(engine: &Engine, args: DiffArgs) -> Outcome {
    let changes = engine.changes(&args.container)?;
    match args.format.as_deref() {
        None | Some("") => {
            let mut out = io::stdout().lock();
            for change in &changes {
                writeln!(out, "{} {}", change.kind.letter(), change.path.display())?;
            }
        }
        Some("json") => {
            let of = |kind: ChangeKind| -> Vec<String> {
                changes
                    .iter()
                    .filter(|c| c.kind == kind)
                    .map(|c| c.path.display().to_string())
                    .collect()
            };
            let mut object = serde_json::Map::new();
            for (key, kind) in [
                ("changed", ChangeKind::Changed),
                ("added", ChangeKind::Added),
                ("deleted", ChangeKind::Deleted),
            ] {
                let paths = of(kind);
                if !paths.is_empty() {
                    object.insert(key.into(), json!(paths));
                }
            }
            println!("{}", serde_json::to_string_pretty(&object)?);
        }
        Some(other) => return Err(usage(format!("invalid --format {other:?}: use json"))),
    }
    Ok(0)
}

pub fn commit(engine: &Engine, args: CommitArgs) -> Outcome {
    let options = CommitOptions {
        name: args.image,
        changes: args.changes,
        message: args.message,
        author: args.author,
        pause: args.pause,
    };
    let image = engine.commit(&args.container, &options)?;
    if let Some(path) = &args.iidfile {
        std::fs::write(path, format!("sha256:{}", image.id))
            .map_err(|e| usage(format!("writing {}: {e}", path.display())))?;
    }
    println!("{}", image.id);
    Ok(0)
}

pub fn export(engine: &Engine, args: ExportArgs) -> Outcome {
    match &args.output {
        Some(path) => {
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."));
            // Named only once complete: a failed export leaves no truncated file.
            let mut tmp = rpod_engine::scratch::unnamed_file(dir)?;
            engine.export(&args.container, io::BufWriter::new(&mut tmp))?;
            rpod_engine::scratch::replace_with_unnamed(&tmp, path)?;
        }
        None => {
            if io::stdout().is_terminal() {
                return Err(usage(
                    "refusing to export to terminal: use -o FILE or redirect",
                ));
            }
            engine.export(&args.container, io::BufWriter::new(io::stdout().lock()))?;
            io::stdout().flush()?;
        }
    }
    Ok(0)
}

/// One side of `cp`: `CONTAINER:PATH` (a colon before any slash, as podman reads it), `-`,
/// or a host path.
enum CpEnd<'a> {
    Container(&'a str, &'a str),
    Stream,
    Host(&'a str),
}

fn cp_end(text: &str) -> CpEnd<'_> {
    if text == "-" {
        return CpEnd::Stream;
    }
    match text.split_once(':') {
        Some((container, path)) if !container.is_empty() && !container.contains('/') => {
            CpEnd::Container(container, path)
        }
        _ => CpEnd::Host(text),
    }
}

pub fn cp(engine: &Engine, args: CpArgs) -> Outcome {
    match (cp_end(&args.source), cp_end(&args.destination)) {
        (CpEnd::Container(name, path), CpEnd::Host(dest)) => {
            engine.copy_from_container(name, path, std::path::Path::new(dest))?;
        }
        (CpEnd::Container(name, path), CpEnd::Stream) => {
            if io::stdout().is_terminal() {
                return Err(usage(
                    "refusing to write an archive to a terminal: redirect the output",
                ));
            }
            let mut out = io::BufWriter::new(io::stdout().lock());
            engine.copy_from_container_tar(name, path, &mut out)?;
            out.flush()?;
        }
        (CpEnd::Host(source), CpEnd::Container(name, path)) => {
            let source = HostSource::Path(std::path::Path::new(source));
            engine.copy_into_container(name, source, path, args.archive)?;
        }
        (CpEnd::Stream, CpEnd::Container(name, path)) => {
            let mut stdin = io::stdin().lock();
            engine.copy_into_container(name, HostSource::Tar(&mut stdin), path, args.archive)?;
        }
        (CpEnd::Container(..), CpEnd::Container(..)) => {
            return Err(usage(
                "copying between containers is not supported: copy through the host",
            ))
        }
        _ => {
            return Err(usage(
                "invalid arguments: one of SOURCE and DESTINATION must be CONTAINER:PATH",
            ))
        }
    }
    Ok(0)
}
