//! Image commands: import, load, save, images, rmi, tag, image exists, image inspect.

use std::fs::File;
use std::io::{self, IsTerminal, Read, Write};

use serde_json::Value;

use rpod_engine::image::{ArchiveFormat, ImportOptions};
use rpod_engine::{Engine, EngineError, ImageRemoval};

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

pub fn import(engine: &Engine, args: ImportArgs) -> Outcome {
    let source = open_input(&args.source)?;
    let options = ImportOptions {
        name: args.reference.clone(),
        changes: args.changes.clone(),
        message: args.message.clone(),
    };
    let record = engine.import_image(source, &args.source, &options)?;
    println!("{}", record.id);
    Ok(0)
}

pub fn load(engine: &Engine, args: LoadArgs) -> Outcome {
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
    let loaded = engine.load_images(source, &origin)?;
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

pub fn save(engine: &Engine, args: SaveArgs) -> Outcome {
    let format: ArchiveFormat = args.format.parse()?;
    let mut images = Vec::new();
    for name in &args.images {
        images.push(engine.image_for_save(name)?);
    }
    if format == ArchiveFormat::OciArchive && images.len() > 1 {
        return Err(usage(
            "oci-archive holds one image: save several images as docker-archive",
        ));
    }
    match &args.output {
        Some(path) => {
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."));
            // Written to an unnamed file beside the target and named at the end: a failed
            // or killed save leaves neither a truncated archive nor a temporary file.
            let mut tmp = rpod_engine::scratch::unnamed_file(dir)?;
            engine.save_images(&images, format, io::BufWriter::new(&mut tmp))?;
            rpod_engine::scratch::replace_with_unnamed(&tmp, path)?;
        }
        None => {
            if io::stdout().is_terminal() {
                return Err(usage(
                    "refusing to write an archive to a terminal: use -o FILE or redirect",
                ));
            }
            let stdout = io::stdout().lock();
            engine.save_images(&images, format, io::BufWriter::new(stdout))?;
            io::stdout().flush()?;
        }
    }
    Ok(0)
}

pub fn images(engine: &Engine, args: ImagesArgs) -> Outcome {
    let mut records = engine.images()?;
    records.sort_by(|a, b| {
        b.created
            .unwrap_or(b.added)
            .cmp(&a.created.unwrap_or(a.added))
    });
    let mut rows = Vec::new();
    for record in records {
        let info = engine.image_info(record)?;
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

pub fn rmi(engine: &Engine, args: RmiArgs) -> Outcome {
    let names: Vec<String> = match (args.all, args.images.is_empty()) {
        (true, true) => engine.images()?.into_iter().map(|i| i.id).collect(),
        (true, false) => return Err(usage("--all and image names cannot be used together")),
        (false, true) => return Err(usage("image name or ID must be specified")),
        (false, false) => args.images.clone(),
    };
    let mut code = 0;
    for name in &names {
        match engine.remove_image(name, args.force) {
            Ok(ImageRemoval::Untagged(untagged)) => println!("Untagged: {untagged}"),
            Ok(ImageRemoval::Deleted { id, names }) => {
                for n in names {
                    println!("Untagged: {n}");
                }
                println!("Deleted: {id}");
            }
            // podman's --force ignores missing images too.
            Err(EngineError::NoSuchImage(_)) if args.ignore || args.force => {}
            Err(error) => {
                let code_now = match &error {
                    EngineError::NoSuchImage(_) => 1,
                    EngineError::ImageInUse { .. } => 2,
                    other => crate::exit::code_of(other),
                };
                eprintln!("Error: {}", Failure::from(error).message());
                code = code_now;
            }
        }
    }
    Ok(code)
}

pub fn tag(engine: &Engine, args: TagArgs) -> Outcome {
    engine.tag_image(&args.image, &args.names)?;
    Ok(0)
}

pub fn exists(engine: &Engine, args: ExistsArgs) -> Outcome {
    match engine.resolve_image(&args.name) {
        Ok(_) => Ok(0),
        Err(EngineError::NoSuchImage(_)) => Ok(1),
        Err(e) => Err(e.into()),
    }
}

pub fn inspect_json(engine: &Engine, name: &str) -> Result<Value, Failure> {
    let record = engine.resolve_image(name)?;
    let info = engine.image_info(record)?;
    Ok(inspect::image(&info))
}
