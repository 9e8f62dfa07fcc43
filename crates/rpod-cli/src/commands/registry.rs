//! Registry commands: pull, push, search, login, logout; and the pull `run` and `create`
//! make.

use std::io::{self, BufRead, IsTerminal, Read, Write};

use rpod_engine::image::registry::{
    self, Credentials, PullOptions, PushOptions, RegistryOptions, SearchFilter,
};
use rpod_engine::{Engine, EngineError};

use crate::cli::*;
use crate::exit::{usage, Failure, Outcome};

pub(crate) fn registry_options(flags: &RegistryFlags) -> Result<RegistryOptions, Failure> {
    Ok(RegistryOptions {
        tls_verify: flags.tls_verify,
        cert_dir: flags.cert_dir.clone(),
        credentials: flags.creds.as_deref().map(Credentials::parse).transpose()?,
        auth_file: flags.authfile.clone(),
        ..Default::default()
    })
}

/// Progress lines go to standard error, as podman's do; none with `quiet`.
pub(crate) fn progress_printer(quiet: bool) -> impl FnMut(&str) {
    move |line: &str| {
        if !quiet {
            eprintln!("{line}");
        }
    }
}

pub fn pull(engine: &Engine, args: PullArgs) -> Outcome {
    let options = PullOptions {
        registry: registry_options(&args.registry)?,
        platform: args.target_platform.parsed()?,
        ..PullOptions::default()
    };
    let mut progress = progress_printer(args.quiet);
    if args.all_tags {
        let [repository] = args.images.as_slice() else {
            return Err(usage("--all-tags takes one repository"));
        };
        for record in engine.pull_all_tags(repository, &options, &mut progress)? {
            println!("{}", record.id);
        }
        return Ok(0);
    }
    for image in &args.images {
        let record = engine.pull_image(image, &options, &mut progress)?;
        println!("{}", record.id);
    }
    Ok(0)
}

/// The pull `run` and `create` make for `--pull` (`missing` only when the image is not
/// here; `newer` keeps the local image when the pull fails).
pub fn pull_for_run(engine: &Engine, args: &RunArgs, image: &str) -> Result<(), Failure> {
    let platform = args.target_platform.parsed()?;
    // A local image for another platform than the one asked for counts as missing, as for
    // podman (which pulls the one asked for); why it does not do is kept for the error.
    let mut other_platform: Option<EngineError> = None;
    let local = match engine.resolve_image_or_list(image, platform.as_ref()) {
        Ok(record) => match &platform {
            Some(wanted) if args.pull == "missing" => {
                let info = engine.image_info(record)?;
                other_platform = wanted.check(image, &info.config).err();
                other_platform.is_none()
            }
            _ => true,
        },
        Err(EngineError::NoSuchImage(_)) => false,
        Err(e) => return Err(e.into()),
    };
    let wanted = match args.pull.as_str() {
        "never" => false,
        "missing" => !local,
        _ => true,
    };
    if !wanted {
        return Ok(());
    }
    let options = PullOptions {
        registry: RegistryOptions {
            tls_verify: args.tls_verify,
            auth_file: args.authfile.clone(),
            ..RegistryOptions::default()
        },
        platform,
        ..PullOptions::default()
    };
    let mut progress = progress_printer(args.quiet);
    match engine.pull_image(image, &options, &mut progress) {
        Ok(_) => Ok(()),
        Err(e) if args.pull == "newer" && local => {
            tracing::warn!("pulling {image} failed, using the local image: {e}");
            Ok(())
        }
        Err(e) if !local => Err(usage(match other_platform {
            Some(why) => format!("{why}; pulling one for that platform failed: {e}"),
            None => format!("{image}: image not known locally, and pulling it failed: {e}"),
        })),
        Err(e) => Err(e.into()),
    }
}

/// A push's destination when it is a file or directory (`dir:PATH`...), not a registry;
/// such a push has no manifest digest for `--digestfile` (local and remote).
pub(crate) fn local_destination(
    args: &PushArgs,
) -> Result<Option<rpod_engine::LocalSource>, Failure> {
    let local = args
        .destination
        .as_deref()
        .and_then(rpod_engine::LocalSource::parse);
    match (&local, &args.digestfile) {
        (Some(target), Some(_)) => Err(usage(format!(
            "--digestfile is for a push to a registry, not to {}",
            target.format.transport()
        ))),
        _ => Ok(local),
    }
}

pub fn push(engine: &Engine, args: PushArgs) -> Outcome {
    local_destination(&args)?;
    let options = PushOptions {
        registry: registry_options(&args.registry)?,
        format: args.format.as_deref().map(str::parse).transpose()?,
        compression: args.compression_format.parse()?,
        compress_directory: args.compress,
        ..signing_options(&args.signing)?
    };
    let mut progress = progress_printer(args.quiet);
    let digest = engine.push_image(
        &args.image,
        args.destination.as_deref(),
        &options,
        &mut progress,
    )?;
    if let Some(path) = &args.digestfile {
        std::fs::write(path, &digest).map_err(|e| usage(format!("{}: {e}", path.display())))?;
    }
    Ok(0)
}

/// `image sign`: each image's manifest signed with a GPG key into a lookaside store.
pub fn sign(engine: &Engine, args: ImageSignArgs) -> Outcome {
    let options = registry_options(&args.registry)?;
    for image in &args.images {
        engine.sign_image(
            image,
            &args.sign_by,
            args.directory.as_deref(),
            args.all,
            &options,
        )?;
    }
    Ok(0)
}

/// The signing a push's flags ask for (`--sign-by`, `--sign-by-sigstore-private-key`).
pub fn signing_options(args: &SigningFlags) -> Result<PushOptions, Failure> {
    Ok(PushOptions {
        sign_with: signing_key(args)?,
        sign_by_gpg: match &args.sign_by {
            Some(key) => Some((key.clone(), passphrase_file(args)?)),
            None => None,
        },
        ..PushOptions::default()
    })
}

/// The key of `--sign-by-sigstore-private-key`, opened with its passphrase (the first
/// line of `--sign-passphrase-file`, else typed at the terminal), before anything is pushed.
fn signing_key(
    args: &SigningFlags,
) -> Result<Option<rpod_engine::image::sigstore::SigningKey>, Failure> {
    let Some(path) = &args.sign_by_sigstore_private_key else {
        if args.sign_passphrase_file.is_some() && args.sign_by.is_none() {
            return Err(usage(
                "--sign-passphrase-file is only for --sign-by or --sign-by-sigstore-private-key",
            ));
        }
        return Ok(None);
    };
    let pem = std::fs::read(path).map_err(|e| usage(format!("{}: {e}", path.display())))?;
    let passphrase = match passphrase_file(args)? {
        Some(passphrase) => passphrase,
        None if io::stdin().is_terminal() => prompt("Key Passphrase: ", true)?.into_bytes(),
        None => {
            return Err(usage(
                "the private key's passphrase is needed: give --sign-passphrase-file",
            ))
        }
    };
    rpod_engine::image::sigstore::private_key(&pem, &passphrase)
        .map(Some)
        .map_err(|e| usage(format!("{}: {e}", path.display())))
}

/// The first line of `--sign-passphrase-file` (without its newline), podman's way.
fn passphrase_file(args: &SigningFlags) -> Result<Option<Vec<u8>>, Failure> {
    let Some(file) = &args.sign_passphrase_file else {
        return Ok(None);
    };
    let text = std::fs::read(file).map_err(|e| usage(format!("{}: {e}", file.display())))?;
    Ok(Some(
        text.split(|b| *b == b'\n')
            .next()
            .unwrap_or_default()
            .to_vec(),
    ))
}

/// Descriptions longer than this are cut (with `...`) unless `--no-trunc`, as podman's.
const DESCRIPTION_WIDTH: usize = 44;

pub fn search(engine: &Engine, args: SearchArgs) -> Outcome {
    let filter = search_filter(&args)?;
    let options = registry_options(&args.registry)?;
    let results =
        engine.search_images(&args.term, args.limit, &filter, args.list_tags, &options)?;
    print_search(results, &args)
}

/// `search --filter`, checked (local and remote).
pub(crate) fn search_filter(args: &SearchArgs) -> Result<SearchFilter, Failure> {
    if args.list_tags && !args.filter.is_empty() {
        return Err(usage("filters are not applicable to list tags result"));
    }
    Ok(SearchFilter::parse(&args.filter)?)
}

/// `search`'s output of what a registry (or a service) found.
pub(crate) fn print_search(results: Vec<registry::SearchResult>, args: &SearchArgs) -> Outcome {
    let json_output = args.format.as_deref() == Some("json");
    let rows: Vec<serde_json::Value> = results
        .into_iter()
        .map(|mut result| {
            result.description = result.description.replace('\n', " ");
            let chars: Vec<char> = result.description.chars().collect();
            if chars.len() > DESCRIPTION_WIDTH && !(args.no_trunc || json_output) {
                let cut: String = chars[..DESCRIPTION_WIDTH].iter().collect();
                result.description = format!("{}...", cut.trim());
            }
            serde_json::to_value(result).unwrap_or_default()
        })
        .collect();
    if rows.is_empty() {
        return Ok(0);
    }
    let format = match (&args.format, args.list_tags, args.compatible) {
        (Some(format), _, _) => format.clone(),
        (None, true, _) => "table {{.Name}}\t{{.Tag}}".into(),
        (None, false, true) => {
            "table {{.Name}}\t{{.Description}}\t{{.Stars}}\t{{.Official}}\t{{.Automated}}".into()
        }
        (None, false, false) => "table {{.Name}}\t{{.Description}}".into(),
    };
    crate::format::print(&format, &rows, &crate::format::upper_header)?;
    Ok(0)
}

/// The registry login and logout act on: the one given, else the first search registry.
fn chosen_registry(engine: &Engine, given: Option<&str>) -> Result<String, Failure> {
    let text = match given {
        Some(text) => text.to_string(),
        None => engine.search_registries()?.into_iter().next().ok_or_else(|| {
            usage("no registry given, and no search registries are configured (rpod.conf, registries.conf)")
        })?,
    };
    Ok(registry::login_key(&text)?)
}

/// A line typed at the terminal after `prompt` (standard error), without echo for a
/// password.
fn prompt(prompt: &str, secret: bool) -> Result<String, Failure> {
    let stdin = io::stdin();
    if !stdin.is_terminal() {
        return Err(usage(format!(
            "{} is needed: give it as a flag (or --password-stdin)",
            prompt.trim_end_matches(": ").to_lowercase()
        )));
    }
    eprint!("{prompt}");
    let _ = io::stderr().flush();
    let echo_off = secret
        .then(crate::terminal::StdinMode::without_echo)
        .flatten();
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    drop(echo_off);
    if secret {
        eprintln!();
    }
    read.map_err(|e| usage(format!("reading from the terminal: {e}")))?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

pub fn login(engine: &Engine, args: LoginArgs) -> Outcome {
    let key = chosen_registry(engine, args.registry.as_deref())?;
    let mut options = registry_options(&args.registry_flags)?;
    if args.get_login {
        return match registry::saved_login(&key, &options)? {
            Some(user) => {
                println!("{user}");
                Ok(0)
            }
            None => Err(usage(format!("not logged into {key}"))),
        };
    }
    if args.password.is_some() && args.password_stdin {
        return Err(usage(
            "--password and --password-stdin cannot be used together",
        ));
    }
    let password = if args.password_stdin {
        let mut text = String::new();
        io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| usage(format!("reading the password from standard input: {e}")))?;
        Some(text.trim_end_matches(['\n', '\r']).to_string())
    } else {
        args.password.clone()
    };
    if args.username.is_none() && password.is_none() && options.credentials.is_none() {
        let host = key.split('/').next().unwrap_or(&key);
        let below = key.split_once('/').map(|(_, p)| p).unwrap_or("");
        if let Some(saved) = registry::find_credentials(&options.auth_file_path(), host, below)? {
            let mut check = options.clone();
            check.credentials = Some(saved);
            if registry::login(&key, &check).is_ok() {
                println!("Authenticating with existing credentials for {key}");
                println!("Existing credentials are valid. Already logged in to {key}");
                return Ok(0);
            }
        }
    }
    if options.credentials.is_none() {
        let username = match args.username.clone() {
            Some(u) => u,
            None => prompt("Username: ", false)?,
        };
        let password = match password {
            Some(p) => p,
            None => prompt("Password: ", true)?,
        };
        if username.is_empty() {
            return Err(usage("a user name is needed to log in"));
        }
        options.credentials = Some(Credentials { username, password });
    }
    registry::login(&key, &options)?;
    if args.verbose {
        println!("Used: {}", options.auth_file_path().display());
    }
    println!("Login Succeeded!");
    Ok(0)
}

pub fn logout(engine: &Engine, args: LogoutArgs) -> Outcome {
    let options = RegistryOptions {
        auth_file: args.authfile.clone(),
        ..RegistryOptions::default()
    };
    if args.all {
        registry::logout(None, &options)?;
        println!("Removed login credentials for all registries");
        return Ok(0);
    }
    let key = chosen_registry(engine, args.registry.as_deref())?;
    if !registry::logout(Some(&key), &options)? {
        return Err(usage(format!("not logged into {key}")));
    }
    println!("Removed login credentials for {key}");
    Ok(0)
}
