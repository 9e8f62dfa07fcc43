//! `rpod volume create|ls|inspect|rm|prune|exists`.

use serde_json::{json, Value};

use rpod_engine::labels::parse_pairs;
use rpod_engine::volume_filters::{FilterUse, VolumeFilters};
use rpod_engine::volumes::VolumeRecord;
use rpod_engine::{Engine, EngineError};

use crate::cli::*;
use crate::exit::{usage, Failure, Outcome};
use crate::format;

/// A volume as podman's `volume inspect` shows it.
fn view(engine: &Engine, volume: &VolumeRecord) -> Value {
    json!({
        "Name": volume.name,
        "Driver": volume.driver,
        "Mountpoint": engine.volume_path(&volume.name).display().to_string(),
        "CreatedAt": volume.created.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "Labels": volume.labels,
        "Scope": "local",
        "Options": volume.options,
    })
}

pub fn create(engine: &Engine, args: VolumeCreateArgs) -> Outcome {
    if args.driver != "local" {
        return Err(Failure::new(
            crate::exit::ENGINE_ERROR,
            EngineError::NotSupported(format!("the volume driver {:?}", args.driver)),
        ));
    }
    let volume = engine.volume_create(
        args.name,
        parse_pairs(&args.labels),
        parse_pairs(&args.opts),
    )?;
    println!("{}", volume.name);
    Ok(0)
}

pub fn ls(engine: &Engine, args: VolumeLsArgs) -> Outcome {
    let filters = VolumeFilters::from_words(&args.filter, FilterUse::List)?;
    let mut rows = Vec::new();
    for volume in engine.volumes()? {
        if filters.matches(&volume, &|| engine.volume_in_use(&volume.name)) {
            rows.push(view(engine, &volume));
        }
    }
    if args.quiet {
        for row in &rows {
            println!("{}", row["Name"].as_str().unwrap_or_default());
        }
        return Ok(0);
    }
    let format = args
        .format
        .unwrap_or_else(|| "table {{.Driver}}\t{{.Name}}".into());
    let header = |field: &str| match field {
        "Name" => "VOLUME NAME".to_string(),
        other => other.to_uppercase(),
    };
    if args.no_heading {
        format::print_without_header(&format, &rows)?;
    } else {
        format::print(&format, &rows, &header)?;
    }
    Ok(0)
}

pub fn inspect(engine: &Engine, args: VolumeNamesArgs) -> Outcome {
    let mut views = Vec::new();
    let mut code = 0;
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
            Ok(volume) => views.push(view(engine, &volume)),
            Err(e) => {
                eprintln!("Error: {e}");
                code = crate::exit::ENGINE_ERROR;
            }
        }
    }
    match &args.format {
        Some(format) => format::print(format, &views, &format::upper_header)?,
        None => println!("{}", serde_json::to_string_pretty(&Value::Array(views))?),
    }
    Ok(code)
}

pub fn rm(engine: &Engine, args: VolumeRmArgs) -> Outcome {
    let names: Vec<String> = if args.all {
        engine.volumes()?.into_iter().map(|v| v.name).collect()
    } else {
        args.names.clone()
    };
    if names.is_empty() {
        return Err(usage("choose the volumes to remove, or --all"));
    }
    let mut code = 0;
    for name in &names {
        match engine.volume_remove_with_timeout(name, args.force, args.time) {
            Ok(()) => println!("{name}"),
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
    for name in engine.volume_prune_where(&|volume| filters.matches(volume, &|| false))? {
        println!("{name}");
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
    let mut input: Box<dyn std::io::Read> = if args.source == "-" {
        if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
            return Err(usage(
                "cannot read an archive from a terminal: give a file or a pipe",
            ));
        }
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(
            std::fs::File::open(&args.source)
                .map_err(|e| usage(format!("{}: {e}", args.source)))?,
        )
    };
    engine.volume_import(&args.name, &mut input, &args.source)?;
    Ok(0)
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
