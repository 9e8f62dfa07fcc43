//! `rpod manifest`: manifest lists of local images (create, add, annotate, remove, rm,
//! exists, inspect, push), as podman's.

use std::io::Write;

use rpod_engine::image::manifest_list::EntryOptions;
use rpod_engine::image::registry::PushOptions;
use rpod_engine::{Engine, EngineError};

use super::registry::{progress_printer, registry_options};
use crate::cli::{ManifestCommand, ManifestEntryFlags};
use crate::exit::{usage, Outcome};

fn entry_options(flags: ManifestEntryFlags) -> EntryOptions {
    EntryOptions {
        arch: flags.arch,
        os: flags.os,
        variant: flags.variant,
        os_version: flags.os_version,
        os_features: flags.os_features,
        annotations: flags.annotations,
    }
}

pub fn manifest(engine: &Engine, command: ManifestCommand) -> Outcome {
    match command {
        ManifestCommand::Create(args) => {
            let registry = registry_options(&args.registry)?;
            let list = engine.manifest_create(
                &args.name,
                &args.images,
                args.amend,
                args.all,
                &registry,
            )?;
            println!("{}", list.id);
        }
        ManifestCommand::Add(args) => {
            let registry = registry_options(&args.registry)?;
            let list = engine.manifest_add(
                &args.list,
                &args.image,
                &entry_options(args.entry),
                args.all,
                &registry,
            )?;
            println!("{}", list.id);
        }
        ManifestCommand::Annotate(args) => {
            let list =
                engine.manifest_annotate(&args.list, &args.digest, &entry_options(args.entry))?;
            println!("{}", list.id);
        }
        ManifestCommand::Remove(args) => {
            let list = engine.manifest_remove(&args.list, &args.digest)?;
            println!("{}", list.id);
        }
        ManifestCommand::Rm(args) => {
            let mut code = 0;
            for name in &args.lists {
                match engine.manifest_delete(name) {
                    Ok(list) => {
                        println!("Untagged: {}", list.name);
                        println!("Deleted: {}", list.id);
                    }
                    Err(EngineError::NoSuchImage(_)) if args.ignore => {}
                    Err(e) => {
                        eprintln!("Error: {e}");
                        // A list that is not there exits 1, as `rmi` and podman's.
                        code = code.max(match e {
                            EngineError::NoSuchImage(_) => 1,
                            _ => crate::exit::code_of(&e),
                        });
                    }
                }
            }
            return Ok(code);
        }
        ManifestCommand::Exists(args) => {
            return Ok(i32::from(!engine.manifest_exists(&args.name)?))
        }
        ManifestCommand::Inspect(args) => {
            let document =
                engine.manifest_inspect(&args.name, &registry_options(&args.registry)?)?;
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(&document);
            let _ = out.write_all(b"\n");
        }
        ManifestCommand::Push(args) => {
            if let Some(format) = &args.format {
                return Err(EngineError::NotSupported(format!(
                    "manifest push --format {format} (a list is pushed as its entries were made: add images in the format wanted)"
                ))
                .into());
            }
            let options = PushOptions {
                registry: registry_options(&args.registry)?,
                compression: args.compression_format.parse()?,
                ..super::registry::signing_options(&args.signing)?
            };
            let list = engine.manifest_list(&args.list)?;
            let destination = args
                .destination
                .clone()
                .unwrap_or_else(|| list.name.clone());
            let mut progress = progress_printer(args.quiet);
            let digest = engine.manifest_push(
                &list.name,
                &destination,
                &options,
                args.all,
                &mut progress,
            )?;
            if let Some(path) = &args.digestfile {
                std::fs::write(path, &digest)
                    .map_err(|e| usage(format!("writing {}: {e}", path.display())))?;
            }
            if args.rm {
                engine.manifest_delete(&list.name)?;
            }
        }
    }
    Ok(0)
}
