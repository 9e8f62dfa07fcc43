//! `rpod volume create|ls|inspect|rm|prune|exists`.

use serde_json::Value;

use rpod_engine::labels::parse_pairs;
use rpod_engine::volume_filters::{FilterUse, VolumeFilters};
use rpod_engine::volumes::VolumeRecord;
use rpod_engine::{Engine, EngineError};

use crate::cli::*;
use crate::exit::{usage, Failure, Outcome};
use crate::format;

/// Volumes as podman's `volume inspect` and `volume ls` show them: its JSON (its field
/// order, fields left out when false or zero), or with a template every field, times as Go
/// prints them.
fn print_views(
    engine: &Engine,
    volumes: &[VolumeRecord],
    format: Option<&str>,
    no_heading: bool,
) -> Result<(), Failure> {
    let views = engine.volume_views(volumes)?;
    let template = match format {
        None | Some("json") => {
            println!("{}", serde_json::to_string_pretty(&views)?);
            return Ok(());
        }
        Some(template) => template,
    };
    let rows: Vec<Value> = views
        .iter()
        .map(|view| format::go_times(view.for_template()))
        .collect();
    match no_heading {
        true => format::print_without_header(template, &rows)?,
        false => format::print(template, &rows, &header)?,
    }
    Ok(())
}

/// Column headers of `volume ls` tables, podman's.
pub(crate) fn header(field: &str) -> String {
    match field {
        "Name" => "VOLUME NAME".into(),
        "CreatedAt" => "CREATED AT".into(),
        "MountCount" => "MOUNT COUNT".into(),
        "NeedsCopyUp" => "NEEDS COPY UP".into(),
        "NeedsChown" => "NEEDS CHOWN".into(),
        other => other.to_uppercase(),
    }
}

pub fn create(engine: &Engine, args: VolumeCreateArgs) -> Outcome {
    let volume = engine.volume_create_with_driver(
        args.name,
        &args.driver,
        parse_pairs(&args.labels),
        parse_pairs(&args.opts),
    )?;
    println!("{}", volume.name);
    Ok(0)
}

/// `volume reload`, podman's output: what was added and removed; what failed on standard
/// error (and exit 125).
pub fn reload(engine: &Engine) -> Outcome {
    let reload = engine.volume_reload()?;
    for (title, names) in [("Added:", &reload.added), ("Removed:", &reload.removed)] {
        if !names.is_empty() {
            println!("{title}");
            for name in names {
                println!("{name}");
            }
        }
    }
    if reload.errors.is_empty() {
        return Ok(0);
    }
    Err(Failure::new(
        crate::exit::ENGINE_ERROR,
        anyhow::anyhow!("{}", reload.errors.join("\n")),
    ))
}

pub fn ls(engine: &Engine, args: VolumeLsArgs) -> Outcome {
    let filters = VolumeFilters::from_words(&args.filter, FilterUse::List)?;
    let mut listed = Vec::new();
    for volume in engine.volumes()? {
        if filters.matches(&volume, &|| engine.volume_in_use(&volume.name)) {
            listed.push(volume);
        }
    }
    if args.quiet {
        for volume in &listed {
            println!("{}", volume.name);
        }
        return Ok(0);
    }
    let format = args
        .format
        .unwrap_or_else(|| "table {{.Driver}}\t{{.Name}}".into());
    // No volume listed: no header either, as podman's (`json` still prints `[]`).
    let no_heading = args.no_heading || listed.is_empty();
    print_views(engine, &listed, Some(&format), no_heading)?;
    Ok(0)
}

/// One volume as `rpod inspect` shows it: its JSON, or what a template reads.
pub fn inspect_value(engine: &Engine, name: &str, templated: bool) -> Result<Value, Failure> {
    let volume = engine.volume(name)?;
    let view = engine
        .volume_views(std::slice::from_ref(&volume))?
        .pop()
        .ok_or_else(|| usage(format!("no such volume {name}")))?;
    Ok(match templated {
        true => view.for_template(),
        false => serde_json::to_value(view)?,
    })
}

pub fn inspect(engine: &Engine, args: VolumeNamesArgs) -> Outcome {
    let mut found = Vec::new();
    let mut misses = super::InspectMisses::new("object");
    let names: Vec<String> = if args.all {
        if !args.names.is_empty() {
            return Err(usage("--all takes no volume names"));
        }
        engine.volumes()?.into_iter().map(|v| v.name).collect()
    } else {
        args.names.clone()
    };
    for name in &names {
        match engine.volume(name) {
            Ok(volume) => found.push(volume),
            Err(e) => misses.add(Some("volume"), name, &e.into()),
        }
    }
    print_views(engine, &found, args.format.as_deref(), false)?;
    misses.outcome()
}

pub fn rm(engine: &Engine, args: VolumeRmArgs) -> Outcome {
    if args.all && !args.names.is_empty() {
        return Err(usage(
            "when using the --all switch, you may not pass any volume names or IDs",
        ));
    }
    let names: Vec<String> = if args.all {
        engine.volumes()?.into_iter().map(|v| v.name).collect()
    } else {
        args.names.clone()
    };
    // `--all` of no volume removes nothing and succeeds, as podman's.
    if names.is_empty() && !args.all {
        return Err(usage("choose the volumes to remove, or --all"));
    }
    let mut code = 0;
    for name in &names {
        match engine.volume_remove_with_timeout(name, args.force, args.time) {
            Ok(()) => println!("{name}"),
            // `--force` passes over a volume that is not there, as podman's.
            Err(EngineError::NoSuchVolume(_)) if args.force => {}
            Err(e) => {
                eprintln!("Error: {e}");
                code = match e {
                    EngineError::NoSuchVolume(_) => 1,
                    EngineError::VolumeInUse { .. } => 2,
                    _ => crate::exit::ENGINE_ERROR,
                };
            }
        }
    }
    Ok(code)
}

pub fn prune(engine: &Engine, args: VolumePruneArgs) -> Outcome {
    let filters = VolumeFilters::from_words(&args.filter, FilterUse::Prune)?;
    for pruned in engine.volume_prune_where(&|volume| filters.matches(volume, &|| false))? {
        println!("{}", pruned.id);
    }
    Ok(0)
}

pub fn exists(engine: &Engine, args: ExistsArgs) -> Outcome {
    match engine.volume(&args.name) {
        Ok(_) => Ok(0),
        Err(EngineError::NoSuchVolume(_)) => Ok(1),
        Err(e) => Err(e.into()),
    }
}

pub fn export(engine: &Engine, args: VolumeExportArgs) -> Outcome {
    super::write_archive(args.output.as_deref(), |out| {
        engine.volume_export(&args.name, out)
    })?;
    Ok(0)
}

pub fn import(engine: &Engine, args: VolumeImportArgs) -> Outcome {
    let mut input = import_source(&args.source)?;
    engine.volume_import(&args.name, &mut input, &args.source)?;
    Ok(0)
}

/// What `volume import` reads (local and remote): a file, or standard input for `-`,
/// never a terminal.
pub(crate) fn import_source(source: &str) -> Result<Box<dyn std::io::Read>, Failure> {
    if source != "-" {
        let file = std::fs::File::open(source).map_err(|e| usage(format!("{source}: {e}")))?;
        return Ok(Box::new(file));
    }
    if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        return Err(usage(
            "cannot read an archive from a terminal: give a file or a pipe",
        ));
    }
    Ok(Box::new(std::io::stdin().lock()))
}

pub fn mount(engine: &Engine, args: VolumeMountArgs) -> Outcome {
    for name in &args.names {
        println!("{}", engine.volume_mount(name)?.display());
    }
    Ok(0)
}

pub fn unmount(engine: &Engine, args: VolumeMountArgs) -> Outcome {
    for name in &args.names {
        engine.volume_unmount(name)?;
        println!("{name}");
    }
    Ok(0)
}
