//! Image commands: import, load, save, images, rmi, tag, image exists, image inspect.

use std::fs::File;
use std::io::{self, IsTerminal, Read, Write};

use serde_json::Value;

use rpod_engine::image::{self, reference, ArchiveFormat, ImportOptions};
use rpod_engine::{Engine, EngineError, RemoveOptions};

use crate::cli::*;
use crate::exit::{usage, Failure, Outcome};
use crate::{format, inspect};

fn open_input(path: &str) -> Result<Box<dyn Read>, Failure> {
    if path == "-" {
        return Ok(Box::new(io::stdin().lock()));
    }
    let file = File::open(path).map_err(|e| usage(format!("{path}: {e}")))?;
    Ok(Box::new(file))
}

pub fn import(engine: &mut Engine, args: ImportArgs) -> Outcome {
    let source = open_input(&args.source)?;
    let options = ImportOptions {
        name: args.reference.clone(),
        changes: args.changes.clone(),
        message: args.message.clone(),
    };
    let roots = engine.roots().clone();
    let record = image::import(engine.store_mut(), &roots, source, &args.source, &options)?;
    println!("{}", record.id);
    Ok(0)
}

pub fn load(engine: &mut Engine, args: LoadArgs) -> Outcome {
    let (source, origin): (Box<dyn Read>, String) = match &args.input {
        Some(path) => (
            open_input(&path.display().to_string())?,
            path.display().to_string(),
        ),
        None => {
            if io::stdin().is_terminal() {
                return Err(usage(
                    "cannot read an archive from a terminal: use -i FILE or a pipe",
                ));
            }
            (Box::new(io::stdin().lock()), "(standard input)".into())
        }
    };
    let roots = engine.roots().clone();
    let loaded = image::load(engine.store_mut(), &roots, source, &origin)?;
    for (record, names) in loaded {
        if names.is_empty() {
            println!("Loaded image: sha256:{}", record.id);
        }
        for name in names {
            println!("Loaded image: {name}");
        }
    }
    Ok(0)
}

pub fn save(engine: &mut Engine, args: SaveArgs) -> Outcome {
    let format: ArchiveFormat = args.format.parse()?;
    let mut images = Vec::new();
    for name in &args.images {
        let record = image::resolve(engine.store(), name)?;
        let names = engine.store().image_names(&record.id)?;
        // Record the name the user asked for when it is one of the image's names.
        let asked = reference::lookup_candidates(name)
            .ok()
            .and_then(|c| c.into_iter().find(|n| names.contains(n)));
        let recorded = match asked {
            Some(n) => vec![n],
            None => names,
        };
        images.push((record, recorded));
    }
    if format == ArchiveFormat::OciArchive && images.len() > 1 {
        return Err(usage(
            "oci-archive holds one image: save several images as docker-archive",
        ));
    }
    let roots = engine.roots().clone();
    match &args.output {
        Some(path) => {
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."));
            // Written to an unnamed file beside the target and named at the end: a failed
            // or killed save leaves neither a truncated archive nor a temporary file.
            let mut tmp = rpod_engine::scratch::unnamed_file(dir)?;
            image::save(&roots, &images, format, io::BufWriter::new(&mut tmp))?;
            rpod_engine::scratch::replace_with_unnamed(&tmp, path)?;
        }
        None => {
            if io::stdout().is_terminal() {
                return Err(usage(
                    "refusing to write an archive to a terminal: use -o FILE or redirect",
                ));
            }
            let stdout = io::stdout().lock();
            image::save(&roots, &images, format, io::BufWriter::new(stdout))?;
            io::stdout().flush()?;
        }
    }
    Ok(0)
}

pub fn images(engine: &mut Engine, args: ImagesArgs) -> Outcome {
    let mut records = engine.store().images()?;
    records.sort_by(|a, b| {
        b.created
            .unwrap_or(b.added)
            .cmp(&a.created.unwrap_or(a.added))
    });
    let roots = engine.roots().clone();
    let mut rows = Vec::new();
    for record in records {
        let info = image::info(engine.store(), &roots, record)?;
        if args.quiet {
            let id = &info.record.id;
            println!(
                "{}",
                if args.no_trunc {
                    format!("sha256:{id}")
                } else {
                    id[..12].to_string()
                }
            );
            continue;
        }
        rows.extend(inspect::image_rows(&info, args.no_trunc));
    }
    if args.quiet {
        return Ok(0);
    }
    let format = args.format.unwrap_or_else(|| {
        "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}".into()
    });
    format::print(&format, &rows, &inspect::image_header)?;
    Ok(0)
}

pub fn rmi(engine: &mut Engine, args: RmiArgs) -> Outcome {
    let names: Vec<String> = match (args.all, args.images.is_empty()) {
        (true, true) => engine.store().images()?.into_iter().map(|i| i.id).collect(),
        (true, false) => return Err(usage("--all and image names cannot be used together")),
        (false, true) => return Err(usage("image name or ID must be specified")),
        (false, false) => args.images.clone(),
    };
    let roots = engine.roots().clone();
    let mut code = 0;
    for name in &names {
        let result = (|| -> Result<(), Failure> {
            let record = image::resolve(engine.store(), name)?;
            let image_names = engine.store().image_names(&record.id)?;
            // Removing one of several names only untags it.
            let named = reference::lookup_candidates(name)
                .ok()
                .and_then(|c| c.into_iter().find(|n| image_names.contains(n)));
            if let Some(untag) = named.filter(|_| image_names.len() > 1) {
                engine.store_mut().remove_image_name(&untag)?;
                println!("Untagged: {untag}");
                return Ok(());
            }
            let users = engine.containers_using_image(&record)?;
            if !users.is_empty() {
                if !args.force {
                    let ids: Vec<String> = users.iter().map(|c| c.id().to_string()).collect();
                    return Err(Failure::new(
                        2,
                        EngineError::ImageInUse {
                            image: record.id.clone(),
                            containers: ids.join(", "),
                        },
                    ));
                }
                for user in users {
                    engine.remove(
                        user.id(),
                        RemoveOptions {
                            force: true,
                            timeout: Some(0),
                        },
                    )?;
                }
            }
            image::remove_image(engine.store_mut(), &roots, &record)?;
            for n in image_names {
                println!("Untagged: {n}");
            }
            println!("Deleted: {}", record.id);
            Ok(())
        })();
        if let Err(failure) = result {
            let missing = matches!(
                failure.error.downcast_ref::<EngineError>(),
                Some(EngineError::NoSuchImage(_))
            );
            if missing && args.ignore {
                continue;
            }
            eprintln!("Error: {}", failure.message());
            code = if missing { 1 } else { failure.code };
        }
    }
    Ok(code)
}

pub fn tag(engine: &mut Engine, args: TagArgs) -> Outcome {
    let record = image::resolve(engine.store(), &args.image)?;
    for name in &args.names {
        let full = reference::normalize_local(name)?;
        engine.store_mut().add_image_name(&record.id, &full)?;
    }
    Ok(0)
}

pub fn exists(engine: &mut Engine, args: ExistsArgs) -> Outcome {
    match image::resolve(engine.store(), &args.name) {
        Ok(_) => Ok(0),
        Err(EngineError::NoSuchImage(_)) => Ok(1),
        Err(e) => Err(e.into()),
    }
}

pub fn inspect_json(engine: &mut Engine, name: &str) -> Result<Value, Failure> {
    let record = image::resolve(engine.store(), name)?;
    let roots = engine.roots().clone();
    let info = image::info(engine.store(), &roots, record)?;
    Ok(inspect::image(&info))
}
