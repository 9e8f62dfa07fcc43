//! `diff`, `commit` and `export`: a container's file system as a whole.

use std::io::{self, IsTerminal, Write};

use serde_json::json;

use rpod_engine::tree_diff::DiffSubject;
use rpod_engine::upper_diff::ChangeKind;
use rpod_engine::{CommitOptions, Engine, HostSource};

use crate::cli::{CommitArgs, CpArgs, DiffArgs, ExportArgs, ImageDiffArgs, MountArgs, UnmountArgs};
use crate::exit::{usage, Failure, Outcome};

/// `diff`: a container's changes, or an image's (a name no container has, as podman); with
/// a second name, what makes that one's file system the first one's.
pub fn diff(engine: &Engine, args: DiffArgs, subject: DiffSubject) -> Outcome {
    let (first, second) = match (args.latest, args.names.as_slice()) {
        (true, [other]) => (
            super::select::one_container(engine, true, None)?,
            Some(other.clone()),
        ),
        (true, [_, _]) => {
            return Err(usage(
                "--latest takes at most one name, the one to compare with",
            ))
        }
        (latest, names) => (
            super::select::one_container(engine, latest, names.first().map(String::as_str))?,
            names.get(1).cloned(),
        ),
    };
    let changes = engine.diff_changes(&first, second.as_deref(), subject)?;
    print_changes(&changes, args.format.as_deref())
}

/// `image diff`: what the image's top layer changes, or what makes another image's file
/// system this one's.
pub fn image_diff(engine: &Engine, args: ImageDiffArgs) -> Outcome {
    let changes = engine.diff_changes(&args.image, args.other.as_deref(), DiffSubject::Image)?;
    print_changes(&changes, args.format.as_deref())
}

/// Changes printed as `diff` prints them: a letter and a path each, or podman's JSON.
pub fn print_changes(changes: &[rpod_engine::upper_diff::Change], format: Option<&str>) -> Outcome {
    match format {
        None | Some("") => {
            let mut out = io::stdout().lock();
            for change in changes {
                writeln!(out, "{} {}", change.kind.letter(), change.path.display())?;
            }
        }
        Some("json") => {
            /// podman's report: its keys in its order, an empty list left out.
            #[derive(serde::Serialize)]
            struct Report {
                #[serde(skip_serializing_if = "Vec::is_empty")]
                changed: Vec<String>,
                #[serde(skip_serializing_if = "Vec::is_empty")]
                added: Vec<String>,
                #[serde(skip_serializing_if = "Vec::is_empty")]
                deleted: Vec<String>,
            }
            let of = |kind: ChangeKind| -> Vec<String> {
                changes
                    .iter()
                    .filter(|c| c.kind == kind)
                    .map(|c| c.path.display().to_string())
                    .collect()
            };
            let report = Report {
                changed: of(ChangeKind::Changed),
                added: of(ChangeKind::Added),
                deleted: of(ChangeKind::Deleted),
            };
            crate::format::print_json_indented(&report, b"     ")?;
        }
        Some(other) => return Err(usage(format!("invalid --format {other:?}: use json"))),
    }
    Ok(0)
}

pub fn commit(engine: &Engine, args: CommitArgs) -> Outcome {
    let options = CommitOptions {
        format: args.format.parse().map_err(usage)?,
        name: args.image,
        changes: args.changes,
        message: args.message,
        author: args.author,
        pause: args.pause,
        squash: args.squash,
        include_volumes: args.include_volumes,
        ..Default::default()
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
    super::write_archive(args.output.as_deref(), |out| {
        engine.export(&args.container, out)
    })?;
    Ok(0)
}

/// One side of `cp`: `CONTAINER:PATH` (a colon before any slash, as podman reads it), `-`,
/// or a host path.
pub(crate) enum CpEnd<'a> {
    Container(&'a str, &'a str),
    Stream,
    Host(&'a str),
}

/// `cp - CONTAINER:PATH`'s standard input, refused when it holds nothing at all, as
/// podman's `cp` refuses it (an empty input is no tar archive; tar(1) says so too).
pub(crate) fn archive_on_stdin() -> Result<io::BufReader<io::StdinLock<'static>>, Failure> {
    let mut stdin = io::BufReader::new(io::stdin().lock());
    let head = io::BufRead::fill_buf(&mut stdin)
        .map_err(|e| usage(format!("reading the archive on standard input: {e}")))?;
    if head.is_empty() {
        return Err(usage(
            "source must be a (compressed) tar archive when copying from stdin: the input is empty",
        ));
    }
    Ok(stdin)
}

pub(crate) fn cp_end(text: &str) -> CpEnd<'_> {
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
    // podman's words for a container that is not there.
    copy(engine, args).map_err(|failure| match failure.error.downcast_ref() {
        Some(rpod_engine::EngineError::NoSuchContainer(name)) => {
            usage(format!("container {name:?} does not exist"))
        }
        _ => failure,
    })
}

fn copy(engine: &Engine, args: CpArgs) -> Outcome {
    // `--overwrite`: a directory may replace a non-directory and the reverse.
    let how = rpod_engine::CopyInto {
        keep_kinds: !args.overwrite,
        ..rpod_engine::CopyInto::chown(args.archive)
    };
    match (cp_end(&args.source), cp_end(&args.destination)) {
        (CpEnd::Container(name, path), CpEnd::Host(dest)) => {
            let dest = std::path::Path::new(dest);
            engine.copy_from_container_as(name, path, dest, how.keep_kinds)?;
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
            engine.copy_into_container_as(name, source, path, &how)?;
        }
        (CpEnd::Stream, CpEnd::Container(name, path)) => {
            let mut stdin = archive_on_stdin()?;
            engine.copy_into_container_as(name, HostSource::Tar(&mut stdin), path, &how)?;
        }
        (CpEnd::Container(from, from_path), CpEnd::Container(to, to_path)) => {
            engine.copy_between_containers_as(from, from_path, to, to_path, &how)?;
        }
        _ => {
            return Err(usage(
                "invalid arguments: one of SOURCE and DESTINATION must be CONTAINER:PATH",
            ))
        }
    }
    Ok(0)
}

pub fn mount(engine: &Engine, args: MountArgs) -> Outcome {
    if args.containers.is_empty() && !args.all && !args.latest {
        // The listing: the containers mounted by `mount`.
        let mounted = engine.mounted()?;
        if args.format.as_deref() == Some("json") {
            let list: Vec<_> = mounted
                .iter()
                .map(
                    |(r, root)| json!({"id": r.id(), "names": [r.config.name], "mountpoint": root}),
                )
                .collect();
            println!("{}", serde_json::to_string_pretty(&list)?);
            return Ok(0);
        }
        for (record, root) in mounted {
            let id = if args.notruncate {
                record.id()
            } else {
                &record.id()[..12]
            };
            println!("{id} {}", root.display());
        }
        return Ok(0);
    }
    let names = super::select::Selection {
        names: args.containers,
        all: args.all,
        latest: args.latest,
        ..Default::default()
    }
    .resolve(engine, |_| true)?;
    let several = names.len() > 1;
    super::container::for_each_name(engine, &names, |name| {
        let root = engine.mount(name)?;
        // podman prints only the path for one container, and names them for several.
        if several {
            println!("{name} {}", root.display());
        } else {
            println!("{}", root.display());
        }
        Ok(())
    })
}

pub fn unmount(engine: &Engine, args: UnmountArgs) -> Outcome {
    let names = if args.all {
        if !args.containers.is_empty() {
            return Err(usage("no arguments are needed with --all"));
        }
        engine
            .mounted()?
            .into_iter()
            .map(|(r, _)| r.id().to_string())
            .collect()
    } else {
        super::select::Selection {
            names: args.containers,
            latest: args.latest,
            ..Default::default()
        }
        .resolve(engine, |_| true)?
    };
    super::container::for_each_name(engine, &names, |name| {
        engine.unmount(name, args.force || args.all)?;
        println!("{name}");
        Ok(())
    })
}
