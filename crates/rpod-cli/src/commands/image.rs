//! Image commands: import, load, save, images, rmi, tag, image exists, image inspect.

use std::fs::File;
use std::io::{self, IsTerminal, Read};
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use rpod_engine::image::{ArchiveFormat, ImportOptions};
use rpod_engine::image_filters::{reference_matches, FilterUse, ImageFilters};
use rpod_engine::{Engine, EngineError, ImageRemoval};

use crate::cli::*;
use crate::exit::{usage, Failure, Outcome};
use crate::{format, inspect};

pub(crate) fn open_input(path: &str) -> Result<Box<dyn Read>, Failure> {
    if path == "-" {
        return Ok(Box::new(io::stdin().lock()));
    }
    let file = File::open(path).map_err(|e| usage(format!("{path}: {e}")))?;
    Ok(Box::new(file))
}

/// Reads the Containerfile given as `-f -` (local and remote builds), refusing one larger
/// than the builder reads rather than cutting it short.
pub(crate) fn containerfile_from(input: impl Read) -> Result<Vec<u8>, Failure> {
    let limit = rpod_engine::containerfile::MAX_CONTAINERFILE;
    let mut text = Vec::new();
    input.take(limit + 1).read_to_end(&mut text).map_err(|e| {
        usage(format!(
            "reading the Containerfile from standard input: {e}"
        ))
    })?;
    if text.len() as u64 > limit {
        return Err(usage(format!(
            "the Containerfile on standard input is larger than {limit} bytes"
        )));
    }
    Ok(text)
}

pub fn import(engine: &Engine, args: ImportArgs) -> Outcome {
    let source = open_input(&args.source)?;
    let options = ImportOptions {
        name: args.reference.clone(),
        changes: args.changes.clone(),
        message: args.message.clone(),
        os: args.os.clone(),
        arch: args.arch.clone(),
        variant: args.variant.clone(),
    };
    let record = engine.import_image(source, &args.source, &options)?;
    println!("{}", record.id);
    Ok(0)
}

/// `build`'s flags rpod does not do, refused before anything is done (local and remote).
pub(crate) fn refuse_build_flags(args: &BuildArgs) -> Result<(), Failure> {
    for (given, refusal) in [
        (
            args.stdin,
            "build --stdin (RUN steps read no standard input)",
        ),
        (
            args.sign_by.is_some(),
            "build --sign-by (sign the built image with `image sign` or `push --sign-by`)",
        ),
        (
            args.all_platforms,
            "build --all-platforms (name each platform with --platform)",
        ),
        (
            !args.decryption_keys.is_empty(),
            "build --decryption-key (encrypted images)",
        ),
    ] {
        if given {
            return Err(rpod_engine::EngineError::NotSupported(refusal.into()).into());
        }
    }
    Ok(())
}

pub fn build(engine: &Engine, args: BuildArgs) -> Outcome {
    let tar_to_stdout = matches!(
        args.output.as_deref().map(BuildOutput::parse),
        Some(Ok(BuildOutput::Tar(path))) if path.as_os_str() == "-"
    );
    if args.logfile.is_some() && tar_to_stdout {
        return Err(usage(
            "--logfile cannot be given with --output - (standard output is the archive's)",
        ));
    }
    let platform = rpod_engine::image::platform::Platform::from_flags(
        args.platform.as_deref(),
        args.os.as_deref(),
        args.arch.as_deref(),
        args.variant.as_deref(),
    )?;
    let logfile = match (&args.logfile, args.logsplit) {
        (None, true) => return Err(usage("--logsplit needs --logfile")),
        (Some(path), true) => {
            // podman's names: the platform's OS and architecture after the file's name.
            let asked = platform.as_ref();
            let os = asked
                .and_then(|p| p.os.clone())
                .unwrap_or_else(|| "linux".into());
            let arch = asked
                .and_then(|p| p.arch.clone())
                .unwrap_or_else(|| rpod_engine::image::platform::go_arch(std::env::consts::ARCH));
            let mut name = path.as_os_str().to_owned();
            name.push(format!("_{os}_{arch}"));
            Some(std::path::PathBuf::from(name))
        }
        (path, false) => path.clone(),
    };
    // Restored when the build is done: an error is still said on the terminal.
    let _log = logfile.as_deref().map(LogFile::redirect).transpose()?;
    for (kept, flag) in [(args.rm, "--rm=false"), (args.force_rm, "--force-rm=false")] {
        if !kept {
            return Err(rpod_engine::EngineError::NotSupported(format!(
                "build {flag} (rpod removes the containers of the steps, also when a step fails)"
            ))
            .into());
        }
    }
    refuse_build_flags(&args)?;
    match args.isolation.as_deref() {
        None | Some("" | "oci") => {}
        Some(other) => {
            return Err(rpod_engine::EngineError::NotSupported(format!(
                "build --isolation {other} (RUN steps run in containers of the OCI runtime: oci)"
            ))
            .into())
        }
    }
    // podman's default is true; rpod's images never carry the label, as podman's with
    // `--identity-label=false`, which scripts pass for reproducible images.
    if args.identity_label == Some(true) {
        return Err(rpod_engine::EngineError::NotSupported(
            "build --identity-label (the io.buildah.version label: rpod is not buildah and \
             adds no identity label; --identity-label=false is what rpod does)"
                .into(),
        )
        .into());
    }
    // podman's default, and its BUILDAH_FORMAT that changes it.
    let format = args
        .format
        .clone()
        .or_else(|| {
            std::env::var("BUILDAH_FORMAT")
                .ok()
                .filter(|f| !f.is_empty())
        })
        .unwrap_or_else(|| "oci".into());
    let format: rpod_engine::image::ImageFormat = format.parse().map_err(usage)?;
    let pull = match args.pull.as_deref() {
        None | Some("missing") => rpod_engine::BuildPull::Missing,
        Some("always") | Some("true") => rpod_engine::BuildPull::Always,
        Some("never") | Some("false") => rpod_engine::BuildPull::Never,
        Some("newer") => rpod_engine::BuildPull::Newer,
        Some(other) => {
            return Err(usage(format!(
                "invalid --pull {other:?}: missing, always, never or newer"
            )))
        }
    };
    let context_from_stdin = args.context.as_os_str() == "-";
    if context_from_stdin && args.file.as_deref().is_some_and(|f| f.as_os_str() == "-") {
        return Err(usage(
            "the Containerfile and the build context cannot both come from standard input",
        ));
    }
    // `-f -`: the Containerfile comes on standard input (kept in a file of its own for
    // the build, bounded as any Containerfile).
    let from_stdin = match &args.file {
        Some(file) if file.as_os_str() == "-" => {
            let text = containerfile_from(io::stdin().lock())?;
            let file = tempfile::NamedTempFile::new().map_err(|e| {
                usage(format!(
                    "keeping the Containerfile from standard input: {e}"
                ))
            })?;
            std::fs::write(file.path(), &text).map_err(|e| {
                usage(format!(
                    "keeping the Containerfile from standard input: {e}"
                ))
            })?;
            Some(file)
        }
        _ => None,
    };
    // A context named by URL (a Git repository, an archive, a Containerfile alone) is
    // fetched first; the Containerfile is then found inside it, never through a link.
    let remote = match args.context.to_str() {
        Some(text) => rpod_engine::RemoteContext::parse(text)?,
        None => None,
    };
    // `-`: the context (a tar archive) or a Containerfile alone on standard input, as
    // podman and Docker take it.
    let fetched = if context_from_stdin {
        Some(engine.build_context_from_stream(io::stdin().lock())?)
    } else {
        remote
            .as_ref()
            .map(|remote| engine.fetch_build_context(remote))
            .transpose()?
    };
    let context = fetched
        .as_ref()
        .map_or_else(|| args.context.clone(), |f| f.dir.clone());
    let in_context = |name: &str| -> Result<std::path::PathBuf, Failure> {
        match &fetched {
            Some(_) => Ok(rpod_engine::file_in_context(&context, name)?),
            None => Ok(context.join(name)),
        }
    };
    let containerfile = match (
        &args.file,
        fetched.as_ref().and_then(|f| f.containerfile.clone()),
    ) {
        (Some(_), _) if from_stdin.is_some() => from_stdin
            .as_ref()
            .map(|f| f.path().to_path_buf())
            .unwrap_or_default(),
        (_, Some(downloaded)) => downloaded,
        (Some(file), None) if fetched.is_some() => in_context(&file.to_string_lossy())?,
        (Some(file), None) => file.clone(),
        (None, None) => {
            let mut found = None;
            for name in ["Containerfile", "Dockerfile"] {
                let path = match &fetched {
                    Some(_) => Some(in_context(name)?).filter(|path| path.is_file()),
                    None => rpod_engine::containerfile_in_local_context(&context, name)?,
                };
                if path.is_some() {
                    found = path;
                    break;
                }
            }
            found.ok_or_else(|| {
                usage(format!(
                    "no Containerfile or Dockerfile in {}: name one with -f",
                    args.context.display()
                ))
            })?
        }
    };
    let mut build_args = std::collections::BTreeMap::new();
    for arg in &args.build_args {
        match arg.split_once('=') {
            Some((name, value)) => {
                build_args.insert(name.to_string(), value.to_string());
            }
            None => {
                // As podman: a name alone takes this process's variable, if it has one.
                if let Ok(value) = std::env::var(arg) {
                    build_args.insert(arg.clone(), value);
                }
            }
        }
    }
    let mut labels = std::collections::BTreeMap::new();
    for label in &args.labels {
        let (key, value) = label.split_once('=').unwrap_or((label, ""));
        if key.is_empty() {
            return Err(usage(format!("invalid --label {label:?}: KEY=VALUE")));
        }
        labels.insert(key.to_string(), value.to_string());
    }
    let annotations = rpod_engine::image::parse_annotations(&args.annotations)?;
    let mut secrets = std::collections::BTreeMap::new();
    for secret in &args.secrets {
        let (id, value) = rpod_engine::parse_secret_flag(secret).map_err(usage)?;
        secrets.insert(id, value);
    }
    let mut ssh = std::collections::BTreeMap::new();
    for given in &args.ssh {
        let (id, socket) = rpod_engine::parse_ssh_flag(given).map_err(usage)?;
        ssh.insert(id, socket);
    }
    let network = match &args.network {
        Some(network) => rpod_engine::parse_build_network(network)?,
        None => None,
    };
    let mut build_contexts = std::collections::BTreeMap::new();
    for given in &args.build_contexts {
        let (name, value) = given
            .split_once('=')
            .filter(|(name, _)| !name.is_empty())
            .ok_or_else(|| usage(format!("invalid --build-context {given:?}: NAME=VALUE")))?;
        build_contexts.insert(name.to_string(), rpod_engine::BuildContext::parse(value)?);
    }
    // `--env`: a bare KEY takes this process's value, as podman's.
    let env = super::container::expand_env(&args.env)?
        .into_iter()
        .filter_map(|e| {
            e.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect();
    let options = rpod_engine::BuildOptions {
        containerfile,
        // cpp reads what the file names: only the user's own local context's is run through.
        cpp_flags: fetched.is_none().then(|| args.cpp_flags.clone()),
        context,
        tags: args.tags.clone(),
        build_args,
        target: args.target.clone(),
        from: args.from.clone(),
        quiet: args.quiet,
        capture_run_output: false,
        labels,
        annotations,
        step_labels: std::collections::BTreeMap::from([(
            BUILD_STEP_LABEL.to_string(),
            rpod_engine::names::random_id(),
        )]),
        pull,
        format,
        step_images: Default::default(),
        layers: args.layers.unwrap_or_else(layers_by_default),
        squash: if args.squash_all {
            rpod_engine::Squash::All
        } else if args.squash {
            rpod_engine::Squash::New
        } else {
            rpod_engine::Squash::No
        },
        no_cache: args.no_cache,
        secrets,
        ssh,
        cache_from: args
            .cache_from
            .iter()
            .map(|r| rpod_engine::parse_cache_repository(r))
            .collect::<Result<_, _>>()?,
        cache_to: args
            .cache_to
            .iter()
            .map(|r| rpod_engine::parse_cache_repository(r))
            .collect::<Result<_, _>>()?,
        network,
        platform,
        ignore_file: args.ignorefile.clone(),
        build_contexts,
        skip_unused_stages: args.skip_unused_stages,
        step_template: rpod_engine::CreateOptions {
            id_mappings: build_id_mappings(engine, &args.userns)?,
            ..super::container::build_step_template(&args.step)?
        },
        registry: rpod_engine::image::registry::RegistryOptions {
            retries: args.retry,
            retry_delay: args
                .retry_delay
                .as_deref()
                .map(|text| duration_flag("--retry-delay", text, "2s"))
                .transpose()?,
            ..super::registry::registry_options(&args.registry)?
        },
        os_version: args.os_version.clone().filter(|v| !v.is_empty()),
        os_features: args.os_features.clone(),
        env,
        unset_env: args.unsetenv.clone(),
        timestamp: args
            .timestamp
            .map(|seconds| rpod_engine::parse_build_timestamp(seconds).map_err(usage))
            .transpose()?,
        omit_history: args.omit_history,
        cache_ttl: args
            .cache_ttl
            .as_deref()
            .map(|text| duration_flag("--cache-ttl", text, "2h"))
            .transpose()?,
    };
    let output = args.output.as_deref().map(BuildOutput::parse).transpose()?;
    let quiet = args.quiet;
    // A tar on standard output: the progress goes to standard error.
    let to_stderr = matches!(&output, Some(BuildOutput::Tar(path)) if path.as_os_str() == "-");
    // `-q` keeps the steps' output back, not the build's warnings (`[Warning] HEALTHCHECK
    // is not kept in an OCI image`): they go to standard error, as podman's do.
    let record = build_interruptible(engine, &options, &mut |line| match (quiet, to_stderr) {
        (true, _) if line.starts_with("[Warning]") => eprintln!("{line}"),
        (true, _) => {}
        (false, true) => eprintln!("{line}"),
        (false, false) => println!("{line}"),
    })?;
    match &output {
        Some(BuildOutput::Directory(dir)) => engine.export_image_to_directory(&record.id, dir)?,
        Some(BuildOutput::Tar(path)) if path.as_os_str() == "-" => {
            engine.export_image_files(&record.id, io::stdout().lock())?
        }
        Some(BuildOutput::Tar(path)) => {
            // Written beside the target and renamed, so a failure leaves no partial file.
            let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
            let partial =
                tempfile::NamedTempFile::new_in(dir.unwrap_or(Path::new("."))).map_err(|e| {
                    Failure::new(
                        crate::exit::ENGINE_ERROR,
                        anyhow::anyhow!("--output {}: {e}", path.display()),
                    )
                })?;
            engine.export_image_files(&record.id, partial.as_file())?;
            partial.persist(path).map_err(|e| {
                Failure::new(
                    crate::exit::ENGINE_ERROR,
                    anyhow::anyhow!("--output {}: {e}", path.display()),
                )
            })?;
        }
        None => {}
    }
    if to_stderr {
        // Nothing else on standard output: the tar is.
        return Ok(0);
    }
    if !quiet {
        for tag in &args.tags {
            println!("{}", rpod_engine::successfully_tagged(tag));
        }
    }
    if let Some(file) = &args.iidfile {
        // As podman writes it: the ID with its algorithm, no newline.
        std::fs::write(file, format!("sha256:{}", record.id)).map_err(|e| {
            Failure::new(
                crate::exit::ENGINE_ERROR,
                anyhow::anyhow!("writing --iidfile {}: {e}", file.display()),
            )
        })?;
    }
    // `--manifest LIST`: the image added to the list, which is made when missing.
    if let Some(list) = &args.manifest {
        let registry = rpod_engine::image::registry::RegistryOptions::default();
        engine.manifest_create(
            list,
            std::slice::from_ref(&record.id),
            true,
            false,
            &registry,
        )?;
    }
    println!("{}", record.id);
    Ok(0)
}

/// Where `build --output` writes the image's files.
enum BuildOutput {
    Directory(PathBuf),
    /// A tar file, or standard output (`-`).
    Tar(PathBuf),
}

impl BuildOutput {
    /// `DIR`, or `type=local|tar,dest=PATH` (podman's and BuildKit's).
    fn parse(text: &str) -> Result<BuildOutput, Failure> {
        if !text.contains('=') {
            if text == "-" {
                return Ok(BuildOutput::Tar(PathBuf::from("-")));
            }
            return Ok(BuildOutput::Directory(PathBuf::from(text)));
        }
        let (mut kind, mut dest) = (None, None);
        for field in text.split(',') {
            match field.split_once('=') {
                Some(("type", value)) => kind = Some(value),
                Some(("dest", value)) if !value.is_empty() => dest = Some(PathBuf::from(value)),
                _ => {
                    return Err(usage(format!(
                        "invalid --output {text:?}: type=local|tar,dest=PATH"
                    )))
                }
            }
        }
        let dest =
            dest.ok_or_else(|| usage(format!("invalid --output {text:?}: dest=PATH is needed")))?;
        match kind {
            Some("local") | None => Ok(BuildOutput::Directory(dest)),
            Some("tar") => Ok(BuildOutput::Tar(dest)),
            Some(other) => Err(rpod_engine::EngineError::NotSupported(format!(
                "--output type={other} (local and tar are)"
            ))
            .into()),
        }
    }
}

/// The RUN steps' user namespace (`--userns`, `--userns-uid-map`, ...): the mappings of one
/// of their own, or `None` for the host's. What the steps make is committed with the
/// container's IDs, as any commit of a container with mappings.
fn build_id_mappings(
    engine: &Engine,
    flags: &crate::cli::BuildUsernsFlags,
) -> Result<Option<rpod_engine::userns::IdMappings>, Failure> {
    let mapped = engine
        .id_mappings_for(
            &flags.uid_map,
            &flags.gid_map,
            flags.uid_map_user.as_deref(),
            flags.gid_map_group.as_deref(),
            rpod_engine::userns::FlagNames::BUILD,
        )
        .map_err(|e| usage(e.to_string()))?;
    match (flags.userns.as_deref(), mapped) {
        (None | Some("" | "container" | "private"), Some(mapped)) => Ok(Some(mapped)),
        (None | Some("" | "host"), None) => Ok(None),
        (Some("host"), Some(_)) => Err(usage(
            "--userns host shares the host's user namespace: it cannot be given with --userns-uid-map, --userns-gid-map, --userns-uid-map-user or --userns-gid-map-group",
        )),
        (Some(mode @ ("container" | "private")), None) => Err(usage(format!(
            "--userns {mode}: give its ranges with --userns-uid-map or --userns-uid-map-user"
        ))),
        (Some(other), _) => Err(rpod_engine::EngineError::NotSupported(format!(
            "build --userns {other} (the steps get a namespace of their own with the ranges given, or the host's)"
        ))
        .into()),
    }
}

/// Whether a build keeps its steps' layers when `--layers` is not given: `$BUILDAH_LAYERS`
/// when set (as podman reads it), else yes.
pub(crate) fn layers_by_default() -> bool {
    match std::env::var("BUILDAH_LAYERS") {
        Ok(value) => !matches!(
            value.to_ascii_lowercase().as_str(),
            "0" | "false" | "f" | "no"
        ),
        Err(_) => true,
    }
}

/// The label of a build's step containers, whose value names the build.
const BUILD_STEP_LABEL: &str = "io.rpod.build-step";

/// `build`, and when INT, TERM or HUP comes first, the running step's container removed
/// before rpod exits as the signal says (it runs apart from rpod and would go on).
fn build_interruptible(
    engine: &Engine,
    options: &rpod_engine::BuildOptions,
    progress: &mut dyn FnMut(&str),
) -> rpod_engine::Result<rpod_engine::image::ImageRecord> {
    use signal_hook::consts::signal::{SIGHUP, SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
        return engine.build(options, progress);
    };
    let handle = signals.handle();
    std::thread::scope(|scope| {
        scope.spawn(|| {
            if let Some(signal) = signals.forever().next() {
                let ours = |labels: &std::collections::BTreeMap<String, String>| {
                    options
                        .step_labels
                        .iter()
                        .all(|(key, value)| labels.get(key) == Some(value))
                };
                for container in engine.list().unwrap_or_default() {
                    if ours(&container.config.labels) {
                        let _ = engine.remove(
                            container.id(),
                            rpod_engine::RemoveOptions {
                                force: true,
                                volumes: true,
                                timeout: Some(0),
                            },
                        );
                    }
                }
                // The images of the steps done so far, newest first (their layers go
                // with them unless another image has them).
                for image in options.made_images().iter().rev() {
                    let _ = engine.remove_image(image, false);
                }
                std::process::exit(128 + signal);
            }
        });
        let built = engine.build(options, progress);
        handle.close();
        built
    })
}

/// A flag's duration (`2s`, `1h30m`), or a usage error showing `example`.
fn duration_flag(flag: &str, text: &str, example: &str) -> Result<std::time::Duration, Failure> {
    super::logs::parse_duration(text)
        .and_then(|d| d.to_std().ok())
        .ok_or_else(|| {
            usage(format!(
                "invalid {flag} {text:?}: a duration like {example}"
            ))
        })
}

pub fn load(engine: &Engine, args: LoadArgs) -> Outcome {
    // An oci-dir or docker-dir.
    if let Some(dir) = args.input.as_deref().filter(|p| p.is_dir()) {
        print_loaded(engine.load_image_directory(dir)?);
        return Ok(0);
    }
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
    print_loaded(engine.load_images(source, &origin, args.input.as_deref())?);
    Ok(0)
}

/// `Loaded image: NAME` per name, the ID for an image without one.
fn print_loaded(loaded: Vec<(rpod_engine::image::ImageRecord, Vec<String>)>) {
    for (record, names) in loaded {
        if names.is_empty() {
            println!("Loaded image: sha256:{}", record.id);
        }
        for name in names {
            println!("Loaded image: {name}");
        }
    }
}

/// `save`'s refusals before anything is written (local and remote): `--compress` but for
/// docker-dir, several images but for docker-archive, a directory format without `-o`.
pub(crate) fn check_save(args: &SaveArgs) -> Result<ArchiveFormat, Failure> {
    let format: ArchiveFormat = args.format.parse()?;
    format.check_save(args.images.len(), args.compress)?;
    if format.is_directory() && args.output.is_none() {
        return Err(usage(format!(
            "--format {format} writes a directory: name it with -o DIRECTORY"
        )));
    }
    Ok(format)
}

pub fn save(engine: &Engine, args: SaveArgs) -> Outcome {
    let format = check_save(&args)?;
    let mut images = Vec::new();
    for name in &args.images {
        images.push(engine.image_for_save(name)?);
    }
    match (&args.output, format.is_directory()) {
        (Some(dir), true) => engine.save_image_directory(&images, format, dir, args.compress)?,
        _ => super::write_archive(args.output.as_deref(), |out| {
            engine.save_images(&images, format, false, out)
        })?,
    }
    Ok(0)
}

/// One image as podman's `images --format json` prints it; `containers`: how many it has.
fn image_json(info: &rpod_engine::image::ImageInfo, containers: usize) -> Value {
    let created = info.record.created.unwrap_or(info.record.added);
    // Sorted, as Go writes a map; null for an image without any, as podman's.
    let labels = info.labels();
    let labels = (!labels.is_empty()).then_some(labels);
    json!({
        "Id": info.record.id,
        "ParentId": info.record.parent.clone().unwrap_or_default(),
        "RepoTags": null,
        "RepoDigests": info.repo_digests(),
        "Size": info.record.size,
        "SharedSize": 0,
        "VirtualSize": info.record.size,
        "Labels": labels,
        "Containers": containers,
        "Names": if info.names.is_empty() { Value::Null } else { json!(info.names) },
        "Digest": info.digest(),
        "History": info.names,
        "Created": created.timestamp(),
        "CreatedAt": created.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    })
}

/// `KEY=VALUE` filter words as keys and values.
fn filter_pairs(words: &[String]) -> Result<Vec<(String, String)>, Failure> {
    words
        .iter()
        .map(|f| {
            f.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| usage(format!("invalid filter {f:?}: use KEY=VALUE")))
        })
        .collect()
}

/// `image prune --filter` (and `system prune`'s): `label=`, `label!=`, `until=`.
pub fn prune_filters(engine: &Engine, words: &[String]) -> Result<ImageFilters, Failure> {
    Ok(engine.image_filters(filter_pairs(words)?, FilterUse::Prune)?)
}

pub fn images(engine: &Engine, args: ImagesArgs) -> Outcome {
    let filters = engine.image_filters(filter_pairs(&args.filter)?, FilterUse::List)?;
    // IMAGE is an ID (or its prefix, or a digested name), which lists that image, or else a
    // name pattern as reference='s: `images REPO` lists every tag of REPO, as podman's and
    // Docker's. An unknown image lists nothing.
    let by_id = args.image.as_deref().and_then(|image| {
        let id = engine
            .resolve_image(image)
            .map(|r| r.id)
            .or_else(|_| engine.manifest_list(image).map(|l| l.id))
            .ok()?;
        (id.starts_with(image.trim_start_matches("sha256:")) || image.contains('@')).then_some(id)
    });
    let positional = args.image.as_deref().filter(|_| by_id.is_none());
    let mut infos = engine.image_infos()?;
    // A build's intermediate images only with -a (or when asked for by name), as podman's.
    infos.retain(|info| args.all || args.image.is_some() || !info.is_intermediate());
    // Manifest lists too, as podman lists them.
    infos.extend(engine.manifest_list_images()?);
    infos.sort_by(|a, b| {
        b.record
            .created
            .unwrap_or(b.record.added)
            .cmp(&a.record.created.unwrap_or(a.record.added))
    });
    infos.retain(|info| {
        let asked = match (&by_id, positional) {
            (Some(id), _) => *id == info.record.id,
            (None, Some(pattern)) => info.names.iter().any(|n| reference_matches(n, pattern)),
            (None, None) => true,
        };
        asked && filters.matches(info)
    });
    if args.quiet {
        for info in &infos {
            let id = &info.record.id;
            if args.no_trunc {
                println!("sha256:{id}");
            } else {
                println!("{}", &id[..12]);
            }
        }
        return Ok(0);
    }
    if args.format.as_deref() == Some("json") {
        let containers = engine.containers_per_image()?;
        let list: Vec<Value> = infos
            .iter()
            .map(|info| {
                let count = containers.get(&info.record.id).copied().unwrap_or(0);
                image_json(info, count)
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(0);
    }
    // A name (positional or reference=) shows the rows of that name only, as podman's.
    let references = filters.references();
    // Counted only for a template that shows them.
    let containers = match args.format.as_deref() {
        Some(format) if format.contains(".Containers") => engine.containers_per_image()?,
        _ => Default::default(),
    };
    let mut rows: Vec<Value> = infos
        .iter()
        .flat_map(|info| {
            let count = containers.get(&info.record.id).copied().unwrap_or(0);
            inspect::image_rows(info, args.no_trunc, count as u64)
        })
        .filter(|row| {
            let named = |pattern: &str| inspect::image_row_named(row, pattern);
            (references.is_empty() || references.iter().any(|p| named(p)))
                && positional.is_none_or(named)
        })
        .collect();
    sort_image_rows(&mut rows, &args.sort);
    let format = args.format.unwrap_or_else(|| {
        let mut columns = vec!["{{.Repository}}", "{{.Tag}}"];
        if args.digests {
            columns.push("{{.Digest}}");
        }
        columns.extend(["{{.ID}}", "{{.CreatedSince}}", "{{.Size}}"]);
        if args.history {
            columns.push("{{.History}}");
        }
        format!("table {}", columns.join("\t"))
    });
    if args.noheading {
        format::print_without_header(&format, &rows)?;
    } else {
        format::print(&format, &rows, &inspect::image_header)?;
    }
    Ok(0)
}

/// `images --sort`: podman's keys; the rows come newest first already (`created`), and a
/// stable sort keeps that order among equal keys.
fn sort_image_rows(rows: &mut [Value], key: &str) {
    let text = |row: &Value, field: &str| row[field].as_str().unwrap_or_default().to_string();
    match key {
        "id" => rows.sort_by_key(|r| text(r, "Id")),
        "repository" => rows.sort_by_key(|r| text(r, "Repository")),
        "tag" => rows.sort_by_key(|r| text(r, "Tag")),
        "size" => rows.sort_by_key(|r| r["SizeBytes"].as_u64().unwrap_or(0)),
        _ => {}
    }
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
            Ok(ImageRemoval::Deleted { id, names, parent }) => {
                for n in names {
                    println!("Untagged: {n}");
                }
                println!("Deleted: {id}");
                // The build's intermediate images it was made on, as podman's rmi.
                if !args.no_prune {
                    for parent in engine.prune_parents(parent)? {
                        println!("Deleted: {parent}");
                    }
                }
            }
            // A manifest list's name: the list goes, as podman's rmi removes lists.
            Err(EngineError::NoSuchImage(_)) if engine.manifest_exists(name)? => {
                let list = engine.manifest_delete(name)?;
                println!("Untagged: {}", list.name);
                println!("Deleted: {}", list.id);
            }
            // podman's --force ignores missing images too; with --all, an intermediate
            // image an image removed before took with it is gone.
            Err(EngineError::NoSuchImage(_)) if args.ignore || args.force || args.all => {}
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

/// An image, or a manifest list (podman's lists are images).
pub fn exists(engine: &Engine, args: ExistsArgs) -> Outcome {
    match engine.resolve_image(&args.name) {
        Ok(_) => Ok(0),
        Err(EngineError::NoSuchImage(_)) if engine.manifest_exists(&args.name)? => Ok(0),
        Err(EngineError::NoSuchImage(_)) => Ok(1),
        Err(e) => Err(e.into()),
    }
}

/// An image as `inspect` shows it; `templated`: for a template, with every field.
pub fn inspect_json(engine: &Engine, name: &str, templated: bool) -> Result<Value, Failure> {
    let record = engine.resolve_image_or_list(name, None)?;
    let info = engine.image_info(record)?;
    Ok(inspect::image(engine, &info, templated))
}

/// `image history`: the image's history, newest first. Steps that made a layer show its
/// size; the newest step shows the image's ID, the others `<missing>`, as podman's.
pub fn history(engine: &Engine, args: HistoryArgs) -> Outcome {
    let record = engine.resolve_image(&args.image)?;
    let info = engine.image_info(record)?;
    let steps = engine.image_history(&info);
    print_history(
        &steps,
        &|id| engine.image_names(id).unwrap_or_default(),
        args,
    )
}

/// An image's history, newest first, printed as `history` prints it (a table, a template,
/// JSON or IDs); `names` gives a step's image's names.
pub fn print_history(
    steps: &[rpod_engine::HistoryStep],
    names: &dyn Fn(&str) -> Vec<String>,
    args: HistoryArgs,
) -> Outcome {
    let id_of = |step: &rpod_engine::HistoryStep| match &step.image {
        Some(id) if args.no_trunc => id.clone(),
        Some(id) => id.get(..12).unwrap_or(id).to_string(),
        None => "<missing>".into(),
    };
    if args.quiet {
        for step in steps {
            println!("{}", id_of(step));
        }
        return Ok(0);
    }
    if args.format.as_deref() == Some("json") {
        // podman's objects: the full ID, the time in full (and to the second as
        // `Created`), the size in bytes.
        let objects: Vec<Value> = steps
            .iter()
            .map(|step| {
                let mut object = json!({
                    "id": step.image.clone().unwrap_or_else(|| "<missing>".into()),
                    "created": step.created.map(|c| c.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
                    "CreatedBy": step.created_by,
                    "size": step.size,
                    "comment": step.comment,
                    "Created": step.created.map(|c| c.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
                });
                if !step.author.is_empty() {
                    object["author"] = json!(step.author);
                }
                object
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&objects)?);
        return Ok(0);
    }
    let rows: Vec<Value> = steps
        .iter()
        .map(|step| {
            let shown_by = if args.no_trunc || step.created_by.chars().count() <= 45 {
                step.created_by.clone()
            } else {
                format!("{}...", step.created_by.chars().take(42).collect::<String>())
            };
            let names = match &step.image {
                Some(id) => names(id),
                None => Vec::new(),
            };
            json!({
                "ID": id_of(step),
                "Created": step.created.map(|c| if args.human {
                    rpod_engine::human::ago(c)
                } else {
                    c.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                }).unwrap_or_default(),
                "CreatedSince": step.created.map(rpod_engine::human::ago).unwrap_or_default(),
                // Go's time.Time printed, to the second, as podman's `.CreatedAt`.
                "CreatedAt": step.created
                    .map(|c| c.format("%Y-%m-%d %H:%M:%S +0000 UTC").to_string())
                    .unwrap_or_default(),
                "CreatedBy": shown_by,
                "Size": if args.human { rpod_engine::human::size(step.size) } else { step.size.to_string() },
                "Comment": step.comment,
                "Author": step.author,
                "Tags": names,
            })
        })
        .collect();
    let format = args.format.unwrap_or_else(|| {
        "table {{.ID}}\t{{.Created}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}".into()
    });
    format::print(&format, &rows, &|field| match field {
        "CreatedBy" => "CREATED BY".into(),
        "CreatedSince" => "CREATED".into(),
        "CreatedAt" => "CREATED AT".into(),
        other => other.to_uppercase(),
    })?;
    Ok(0)
}

pub fn untag(engine: &Engine, args: UntagArgs) -> Outcome {
    engine.untag_image(&args.image, &args.names)?;
    Ok(0)
}

pub fn prune(engine: &Engine, args: ImagePruneArgs) -> Outcome {
    let filters = prune_filters(engine, &args.filter)?;
    for pruned in engine.prune_images(args.all, &|info| filters.matches(info))? {
        println!("{}", pruned.id);
    }
    Ok(0)
}

/// `image tree`: the image and its layers, bottom first, with their sizes.
pub fn tree(engine: &Engine, args: TreeArgs) -> Outcome {
    let record = engine.resolve_image(&args.image)?;
    let info = engine.image_info(record)?;
    // podman prints the tree's text with a newline of its own after it.
    println!("{}", engine.image_tree(&info, args.what_requires)?);
    Ok(0)
}

/// `image mount`: each image's mount point; without names, the mounted images.
pub fn mount(engine: &Engine, args: ImageMountArgs) -> Outcome {
    if args.all && !args.images.is_empty() {
        return Err(usage("--all takes no image names"));
    }
    let names: Vec<String> = if args.all {
        engine.images()?.into_iter().map(|r| r.id).collect()
    } else {
        args.images.clone()
    };
    let mut mounted = Vec::new();
    if names.is_empty() {
        for (record, point) in engine.image_mounts()? {
            let names = engine.image_info(record.clone())?.names;
            mounted.push((record.id, names, point));
        }
    } else {
        for name in &names {
            let point = engine.image_mount(name)?;
            let record = engine.resolve_image(name)?;
            let names = engine.image_info(record.clone())?.names;
            mounted.push((record.id, names, point));
        }
    }
    if args.format.as_deref() == Some("json") {
        let list: Vec<Value> = mounted
            .iter()
            .map(|(id, names, point)| {
                json!({ "id": id, "Names": names, "Repositories": names, "mountpoint": point })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(0);
    }
    for (id, names, point) in &mounted {
        if args.images.is_empty() {
            // A listing: which image is where.
            let shown = names.first().map_or(&id[..12], String::as_str);
            println!("{shown} {}", point.display());
        } else {
            println!("{}", point.display());
        }
    }
    Ok(0)
}

/// `image unmount`: prints the ID of each image it unmounted (one that was not mounted is
/// no error, and not printed), as podman's.
pub fn unmount(engine: &Engine, args: ImageUnmountArgs) -> Outcome {
    let names: Vec<String> = if args.all {
        engine
            .image_mounts()?
            .into_iter()
            .map(|(record, _)| record.id)
            .collect()
    } else {
        args.images.clone()
    };
    if names.is_empty() && !args.all {
        return Err(usage("give the images to unmount, or --all"));
    }
    for name in &names {
        if let Some(id) = engine.image_unmount(name)? {
            println!("{id}");
        }
    }
    Ok(0)
}

/// The policy file `image trust` works on: `--policypath`, else the one rpod judges by.
fn trust_policy_path(engine: &Engine, given: Option<&Path>) -> PathBuf {
    let configured = engine.config().image.signature_policy.as_deref();
    rpod_engine::image::policy::path(given.or(configured))
}

/// `image trust show`: podman's table (TRANSPORT NAME TYPE ID STORE, the store being
/// registries.d's lookaside store for the scope), `--json` or `--raw`.
pub fn trust_show(engine: &Engine, args: TrustShowArgs) -> Outcome {
    let path = trust_policy_path(engine, args.policy_path.as_deref());
    if args.raw {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
        print!("{text}");
        return Ok(0);
    }
    let policy = rpod_engine::image::policy::Policy::read(&path)?;
    let registries_d = rpod_engine::image::registries_d::dir(
        args.registry_path
            .as_deref()
            .or(engine.config().image.registries_d.as_deref()),
    );
    let lookaside = rpod_engine::image::registries_d::Lookaside::load(&registries_d)?;
    let entries: Vec<_> = rpod_engine::image::trust::entries(&policy, &lookaside)
        .into_iter()
        .filter(|e| args.registry.as_ref().is_none_or(|r| *r == e.repo_name))
        .collect();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&entries)?);
        return Ok(0);
    }
    let mut lines = Vec::new();
    if !args.noheading {
        lines.push("TRANSPORT\tNAME\tTYPE\tID\tSTORE".to_string());
    }
    for entry in &entries {
        lines.push(format!(
            "{}\t{}\t{}\t{}\t{}",
            entry.transport, entry.repo_name, entry.kind, entry.key_ids, entry.store
        ));
    }
    if !lines.is_empty() {
        println!("{}", crate::format::align_columns(&lines));
    }
    Ok(0)
}

/// `image trust set`: one scope's requirement changed in the policy file.
pub fn trust_set(engine: &Engine, args: TrustSetArgs) -> Outcome {
    let path = trust_policy_path(engine, args.policy_path.as_deref());
    let kind: rpod_engine::image::trust::TrustKind = args.kind.parse()?;
    rpod_engine::image::trust::set(&path, &args.registry, kind, &args.keys)?;
    Ok(0)
}

/// `build --logfile FILE`: the build's standard output and error (its steps, the RUN steps'
/// output, the image's ID) go to the file (made 0600 and emptied, as podman makes it); the
/// terminal's come back when this is dropped.
struct LogFile {
    stdout: std::os::fd::OwnedFd,
    stderr: std::os::fd::OwnedFd,
}

impl LogFile {
    fn redirect(path: &Path) -> Result<Self, Failure> {
        use std::io::Write;
        use std::os::fd::AsFd;
        use std::os::unix::fs::OpenOptionsExt;
        let failed = |e: io::Error| usage(format!("--logfile {}: {e}", path.display()));
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)
            .map_err(failed)?;
        let keep = |fd: std::os::fd::BorrowedFd| {
            rustix::io::fcntl_dupfd_cloexec(fd, 3).map_err(|e| failed(e.into()))
        };
        let _ = io::stdout().flush();
        let saved = LogFile {
            stdout: keep(io::stdout().as_fd())?,
            stderr: keep(io::stderr().as_fd())?,
        };
        rustix::stdio::dup2_stdout(&file).map_err(|e| failed(e.into()))?;
        rustix::stdio::dup2_stderr(&file).map_err(|e| failed(e.into()))?;
        Ok(saved)
    }
}

impl Drop for LogFile {
    fn drop(&mut self) {
        use std::io::Write;
        let _ = io::stdout().flush();
        let _ = rustix::stdio::dup2_stdout(&self.stdout);
        let _ = rustix::stdio::dup2_stderr(&self.stderr);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rpod_engine::containerfile::MAX_CONTAINERFILE;

    #[test]
    fn a_containerfile_on_standard_input_up_to_the_bound_is_read_whole() {
        let text = vec![b'#'; MAX_CONTAINERFILE as usize];
        let read = containerfile_from(&text[..]).expect("within the bound");
        assert_eq!(read.len(), text.len());
    }

    #[test]
    fn a_containerfile_on_standard_input_past_the_bound_is_refused_not_cut() {
        let text = vec![b'#'; MAX_CONTAINERFILE as usize + 1];
        let failure = containerfile_from(&text[..]).expect_err("one byte too many");
        assert_eq!(failure.code, crate::exit::ENGINE_ERROR);
        let message = failure.error.to_string();
        assert!(
            message.contains("larger than 1048576 bytes"),
            "unexpected message: {message}"
        );
    }
}
