//! `rpod`: a podman-compatible command line over the rpod engine.
#![deny(unsafe_code)]

mod cli;
mod commands;
mod connections;
mod exit;
mod format;
mod inspect;
mod parse_errors;
mod parser;
mod remote;
mod system_log;
mod terminal;

use cli::{
    Cli, Command, ContainerCommand, ImageCommand, NetworkCommand, SystemCommand, VolumeCommand,
};
use rpod_engine::{Engine, EngineOptions};

fn init_logging(level: &str, syslog: bool) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = match level {
        "fatal" | "panic" => "error",
        other => other,
    };
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .without_time();
    let (system_log, unreachable) = match syslog {
        false => (None, None),
        true => {
            match system_log::SystemLog::connect(std::path::Path::new(system_log::SYSTEM_LOG)) {
                Ok(log) => (Some(log), None),
                Err(e) => (None, Some(e)),
            }
        }
    };
    // The syslog message carries its level in its priority.
    let system_log = system_log.map(|log| {
        tracing_subscriber::fmt::layer()
            .with_writer(log)
            .with_target(false)
            .with_ansi(false)
            .with_level(false)
            .without_time()
    });
    tracing_subscriber::registry()
        .with(tracing_subscriber::EnvFilter::new(filter))
        .with(stderr)
        .with(system_log)
        .init();
    if let Some(e) = unreachable {
        // As podman: the command goes on with its messages on stderr only.
        tracing::warn!(
            "--syslog: the system log at {} cannot be reached: {e}",
            system_log::SYSTEM_LOG
        );
    }
}

/// Global flags podman has that change nothing in rpod are checked, so that a value rpod
/// cannot honour fails instead of being ignored.
fn check_global_flags(cli: &Cli) -> Result<(), exit::Failure> {
    if cli.cgroup_manager == "systemd" {
        return Err(exit::usage(
            "--cgroup-manager systemd is not supported: rpod uses cgroupfs",
        ));
    }
    if let Some(opt) = cli.storage_opts.iter().find(|o| !o.is_empty()) {
        return Err(exit::usage(format!(
            "--storage-opt {opt:?} is not supported: rpod's overlay storage has no options"
        )));
    }
    match cli.storage_driver.as_deref() {
        None | Some("overlay") | Some("overlay2") => {}
        Some(other) => {
            return Err(exit::usage(format!(
                "--storage-driver {other:?} is not supported: rpod stores with overlay"
            )))
        }
    }
    match cli.ssh_mode.as_deref() {
        None | Some("native") => {}
        Some(other) => {
            return Err(exit::usage(format!(
                "--ssh {other:?} is not supported: rpod reaches ssh:// services with the ssh command (native)"
            )))
        }
    }
    if cli.namespace.as_ref().is_some_and(|n| !n.is_empty()) {
        return Err(exit::usage(
            "--namespace is not supported: rpod's store has one view of its containers, pods and volumes",
        ));
    }
    if cli
        .network_cmd_path
        .as_ref()
        .is_some_and(|p| !p.as_os_str().is_empty())
    {
        return Err(exit::usage(
            "--network-cmd-path is not supported: rpod has no slirp4netns or pasta networking",
        ));
    }
    if let Some(dir) = &cli.tmpdir {
        if !dir.is_dir() {
            return Err(exit::usage(format!(
                "--tmpdir {}: not a directory",
                dir.display()
            )));
        }
    }
    Ok(())
}

/// `--noout`: standard output goes nowhere.
fn silence_stdout() -> Result<(), exit::Failure> {
    let null = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/null")
        .map_err(|e| exit::usage(format!("opening /dev/null: {e}")))?;
    rustix::stdio::dup2_stdout(&null).map_err(|e| exit::usage(format!("--noout: {e}")))?;
    Ok(())
}

/// The global options a nested rpod needs to work on the same store as this one.
fn global_options(cli: &Cli) -> Vec<String> {
    let mut options = vec![
        "--root".to_string(),
        cli.root.display().to_string(),
        "--runroot".to_string(),
        cli.runroot.display().to_string(),
        "--runtime".to_string(),
        cli.runtime.clone(),
    ];
    if let Some(conmon) = &cli.conmon {
        options.push("--conmon".into());
        options.push(conmon.display().to_string());
    }
    for dir in &cli.hooks_dirs {
        options.push(format!("--hooks-dir={}", dir.display()));
    }
    if let Some(path) = &cli.volume_path {
        options.push(format!("--volumepath={}", path.display()));
    }
    if let Some(dir) = &cli.network_config_dir {
        options.push(format!("--network-config-dir={}", dir.display()));
    }
    if cli.syslog {
        options.push("--syslog".into());
    }
    options
}

/// The `--signature-policy` the command was given, if it takes one.
fn signature_policy_flag(command: &Command) -> Option<&std::path::Path> {
    let flag = match command {
        Command::Create(a)
        | Command::Run(a)
        | Command::Container(ContainerCommand::Create(a))
        | Command::Container(ContainerCommand::Run(a)) => &a.policy,
        Command::Pull(a) | Command::Image(ImageCommand::Pull(a)) => &a.policy,
        Command::Build(a) | Command::Image(ImageCommand::Build(a)) => &a.policy,
        Command::Import(a) | Command::Image(ImageCommand::Import(a)) => &a.policy,
        Command::Load(a) | Command::Image(ImageCommand::Load(a)) => &a.policy,
        Command::Kube(cli::KubeCommand::Play(a)) | Command::Play(cli::PlayCommand::Kube(a)) => {
            &a.policy
        }
        _ => return None,
    };
    flag.signature_policy.as_deref()
}

fn open_engine(cli: &Cli) -> anyhow::Result<Engine> {
    let exe = std::env::current_exe()
        .map_err(|e| anyhow::anyhow!("finding rpod's own executable: {e}"))?;
    let mut config = rpod_engine::config::EngineConfig::load()?;
    if let Some(path) = signature_policy_flag(&cli.command) {
        config.image.signature_policy = Some(path.to_path_buf());
    }
    Ok(Engine::open(EngineOptions {
        root: cli.root.clone(),
        runroot: cli.runroot.clone(),
        runtime: cli.runtime.clone(),
        conmon: cli.conmon.clone(),
        log_level: cli.log_level.clone(),
        exe,
        config,
        runtime_flags: cli.runtime_flags.clone(),
        events: cli.events_backend != "none",
        cgroup_root: rpod_engine::stats::CGROUP_ROOT.into(),
        hooks_dirs: cli.hooks_dirs.clone(),
        volume_path: cli.volume_path.clone(),
        network_config_dir: cli.network_config_dir.clone(),
        syslog: cli.syslog,
    })?)
}

/// Commands that have the runtime start a process in a container, most of the time.
fn starts_a_process(command: &Command) -> bool {
    matches!(
        command,
        Command::Run(_)
            | Command::Exec(_)
            | Command::Start(_)
            | Command::Restart(_)
            | Command::Container(
                ContainerCommand::Run(_)
                    | ContainerCommand::Exec(_)
                    | ContainerCommand::Start(_)
                    | ContainerCommand::Restart(_)
            )
    )
}

fn run(cli: Cli, matches: &clap::ArgMatches) -> Result<i32, exit::Failure> {
    use commands::{
        container as c, filesystem as fs, image as i, network as n, observe as o, registry,
        system as s, volume as v,
    };
    check_global_flags(&cli)?;
    if let Some(dir) = &cli.tmpdir {
        // rpod's own temporary files (copies of files being committed) and those of the
        // processes it starts; before any thread exists.
        std::env::set_var("TMPDIR", dir);
    }
    if cli.noout {
        silence_stdout()?;
    }
    // A remote service's commands; the shell completion and the connections kept here
    // stay local, as podman-remote's, and `machine`, which nowhere is.
    let local_only = matches!(
        cli.command,
        Command::Completion(_)
            | Command::System(SystemCommand::Connection(_))
            | Command::Machine(_)
    );
    if remote::wanted(&cli) && !local_only {
        return remote::run(cli, matches);
    }
    if cli.tls.wanted() {
        return Err(exit::usage(
            "--tls-ca, --tls-cert and --tls-key are for a remote service (--remote, --url or --connection)",
        ));
    }
    match &cli.command {
        Command::Version(args) => return s::version(args),
        Command::Completion(args) => return commands::completion::completion(args),
        Command::Unshare(args) => return s::unshare(args),
        Command::Machine(_) => return s::machine(),
        _ => {}
    }
    if let Command::System(SystemCommand::Connection(command)) = cli.command {
        return commands::connection::connection(command);
    }
    // `--preserve-fds`: the descriptors this process was given, taken before opening the
    // engine opens its own (which would take the same numbers).
    let preserve = match &cli.command {
        Command::Run(a) | Command::Container(ContainerCommand::Run(a)) => a.preserve_fds,
        Command::Exec(a) | Command::Container(ContainerCommand::Exec(a)) => a.preserve_fds,
        _ => 0,
    };
    let preserved = terminal::inherited_fds(preserve)?;
    if starts_a_process(&cli.command) {
        // The runtime will move a process into a cgroup; the kernel's wait for that starts
        // now and runs beside the store's opening (`rpod_oci::cgroup_prime`).
        rpod_oci::cgroup_prime::prime_cgroup_moves();
    }
    let engine = open_engine(&cli)?;
    if let Command::System(SystemCommand::Service(args)) = cli.command {
        return s::service(engine, &cli.runroot, args);
    }
    let e = &engine;
    let nested_options = global_options(&cli);
    match cli.command {
        Command::Create(a) | Command::Container(ContainerCommand::Create(a)) => c::create(e, a),
        Command::Run(a) | Command::Container(ContainerCommand::Run(a)) => c::run(e, a, preserved),
        Command::Start(a) | Command::Container(ContainerCommand::Start(a)) => c::start(e, a),
        Command::Stop(a) | Command::Container(ContainerCommand::Stop(a)) => c::stop(e, a),
        Command::Restart(a) | Command::Container(ContainerCommand::Restart(a)) => c::restart(e, a),
        Command::Rename(a) | Command::Container(ContainerCommand::Rename(a)) => c::rename(e, a),
        Command::Container(ContainerCommand::Prune(a)) => c::prune(e, a),
        Command::Kill(a) | Command::Container(ContainerCommand::Kill(a)) => c::kill(e, a),
        Command::Rm(a) | Command::Container(ContainerCommand::Rm(a)) => c::rm(e, a),
        Command::Init(a) | Command::Container(ContainerCommand::Init(a)) => c::init(e, a),
        Command::Container(ContainerCommand::Clone(a)) => c::clone(e, a),
        Command::Pause(a) | Command::Container(ContainerCommand::Pause(a)) => c::pause(e, a, true),
        Command::Unpause(a) | Command::Container(ContainerCommand::Unpause(a)) => {
            c::pause(e, a, false)
        }
        Command::Wait(a) | Command::Container(ContainerCommand::Wait(a)) => c::wait(e, a),
        Command::Ps(a) | Command::Container(ContainerCommand::Ps(a)) => c::ps(e, a),
        Command::Inspect(a) => c::inspect(e, a),
        Command::Container(ContainerCommand::Inspect(mut a)) => {
            a.kind = "container".into();
            c::inspect(e, a)
        }
        Command::Logs(a) | Command::Container(ContainerCommand::Logs(a)) => c::logs(e, a),
        Command::Attach(a) | Command::Container(ContainerCommand::Attach(a)) => c::attach(e, a),
        Command::Exec(a) | Command::Container(ContainerCommand::Exec(a)) => {
            c::exec(e, a, preserved)
        }
        Command::Container(ContainerCommand::Exists(a)) => c::exists(e, a),
        Command::AutoUpdate(a) => commands::auto_update::auto_update(e, a),
        Command::Container(ContainerCommand::Runlabel(a)) => {
            // What a label's `podman` runs with: this store and runtime.
            let globals = commands::runlabel::Globals {
                exe: std::env::current_exe()
                    .map_err(|e| exit::usage(format!("rpod's executable: {e}")))?,
                options: nested_options,
            };
            commands::runlabel::runlabel(e, globals, a)
        }
        Command::Container(ContainerCommand::Cleanup(a)) => c::cleanup(e, a),
        Command::Container(ContainerCommand::TeardownNetwork(a)) => c::teardown_network(e, a),
        Command::Container(ContainerCommand::Checkpoint(a)) => o::checkpoint(e, a),
        Command::Container(ContainerCommand::Restore(a)) => o::restore(e, a),
        Command::Import(a) | Command::Image(ImageCommand::Import(a)) => i::import(e, a),
        Command::Build(a) | Command::Image(ImageCommand::Build(a)) => i::build(e, *a),
        Command::Load(a) | Command::Image(ImageCommand::Load(a)) => i::load(e, a),
        Command::Pull(a) | Command::Image(ImageCommand::Pull(a)) => registry::pull(e, a),
        Command::Push(a) | Command::Image(ImageCommand::Push(a)) => registry::push(e, a),
        Command::Search(a) | Command::Image(ImageCommand::Search(a)) => registry::search(e, a),
        Command::Login(a) => registry::login(e, a),
        Command::Logout(a) => registry::logout(e, a),
        Command::Save(a) | Command::Image(ImageCommand::Save(a)) => i::save(e, a),
        Command::Images(a) | Command::Image(ImageCommand::Images(a)) => i::images(e, a),
        Command::Rmi(a) | Command::Image(ImageCommand::Rm(a)) => i::rmi(e, a),
        Command::Tag(a) | Command::Image(ImageCommand::Tag(a)) => i::tag(e, a),
        Command::Image(ImageCommand::Exists(a)) => i::exists(e, a),
        Command::History(a) | Command::Image(ImageCommand::History(a)) => i::history(e, a),
        Command::Untag(a) | Command::Image(ImageCommand::Untag(a)) => i::untag(e, a),
        Command::Image(ImageCommand::Prune(a)) => i::prune(e, a),
        Command::Image(ImageCommand::Tree(a)) => i::tree(e, a),
        Command::Image(ImageCommand::Mount(a)) => i::mount(e, a),
        Command::Image(ImageCommand::Diff(a)) => commands::filesystem::image_diff(e, a),
        Command::Image(ImageCommand::Unmount(a)) => i::unmount(e, a),
        Command::Image(ImageCommand::Trust(cli::TrustCommand::Show(a))) => i::trust_show(e, a),
        Command::Image(ImageCommand::Trust(cli::TrustCommand::Set(a))) => i::trust_set(e, a),
        Command::Image(ImageCommand::Sign(a)) => registry::sign(e, a),
        Command::System(SystemCommand::Df(a)) => s::df(e, a),
        Command::System(SystemCommand::Prune(a)) => s::prune(e, a),
        Command::System(SystemCommand::Reset(a)) => s::reset(e, a),
        Command::System(SystemCommand::Migrate(a)) => s::migrate(e, a),
        Command::System(SystemCommand::Renumber) => s::renumber(),
        Command::System(SystemCommand::Connection(_)) => unreachable!("handled before"),
        Command::Image(ImageCommand::Scp(a)) => commands::connection::image_scp(e, a),
        Command::Image(ImageCommand::Inspect(mut a)) => {
            a.kind = "image".into();
            c::inspect(e, a)
        }
        Command::Info(a) | Command::System(SystemCommand::Info(a)) => s::info(e, a),
        Command::Volume(VolumeCommand::Create(a)) => v::create(e, a),
        Command::Volume(VolumeCommand::Ls(a)) => v::ls(e, a),
        Command::Volume(VolumeCommand::Inspect(a)) => v::inspect(e, a),
        Command::Volume(VolumeCommand::Rm(a)) => v::rm(e, a),
        Command::Volume(VolumeCommand::Prune(a)) => v::prune(e, a),
        Command::Volume(VolumeCommand::Exists(a)) => v::exists(e, a),
        Command::Volume(VolumeCommand::Export(a)) => v::export(e, a),
        Command::Volume(VolumeCommand::Import(a)) => v::import(e, a),
        Command::Volume(VolumeCommand::Mount(a)) => v::mount(e, a),
        Command::Volume(VolumeCommand::Unmount(a)) => v::unmount(e, a),
        Command::Volume(VolumeCommand::Reload) => v::reload(e),
        Command::Network(NetworkCommand::Create(a)) => n::create(e, a),
        Command::Network(NetworkCommand::Ls(a)) => n::ls(e, a),
        Command::Network(NetworkCommand::Inspect(a)) => n::inspect(e, a),
        Command::Network(NetworkCommand::Rm(a)) => n::rm(e, a),
        Command::Network(NetworkCommand::Connect(a)) => n::connect(e, a),
        Command::Network(NetworkCommand::Disconnect(a)) => n::disconnect(e, a),
        Command::Network(NetworkCommand::Exists(a)) => n::exists(e, a),
        Command::Network(NetworkCommand::Prune(a)) => n::prune(e, a),
        Command::Network(NetworkCommand::Reload(a)) => n::reload(e, a),
        Command::Port(a) | Command::Container(ContainerCommand::Port(a)) => n::port(e, a),
        Command::Update(a) | Command::Container(ContainerCommand::Update(a)) => c::update(e, a),
        Command::Stats(a) | Command::Container(ContainerCommand::Stats(a)) => o::stats(e, a),
        Command::Events(a) => commands::events::events(e, a),
        Command::Generate(cli::GenerateCommand::Systemd(a)) => commands::generate::systemd(e, *a),
        Command::Generate(cli::GenerateCommand::Kube(a))
        | Command::Kube(cli::KubeCommand::Generate(a)) => commands::generate::kube(e, a),
        Command::Generate(cli::GenerateCommand::Spec(a)) => commands::generate::spec(e, a),
        Command::Kube(cli::KubeCommand::Play(a)) | Command::Play(cli::PlayCommand::Kube(a)) => {
            commands::kube::play(e, *a)
        }
        Command::Kube(cli::KubeCommand::Down(a)) => commands::kube::down(e, a),
        Command::Diff(a) => fs::diff(e, a, rpod_engine::tree_diff::DiffSubject::Any),
        Command::Container(ContainerCommand::Diff(a)) => {
            fs::diff(e, a, rpod_engine::tree_diff::DiffSubject::Container)
        }
        Command::Commit(a) | Command::Container(ContainerCommand::Commit(a)) => fs::commit(e, a),
        Command::Export(a) | Command::Container(ContainerCommand::Export(a)) => fs::export(e, a),
        Command::Cp(a) | Command::Container(ContainerCommand::Cp(a)) => fs::cp(e, a),
        Command::Mount(a) | Command::Container(ContainerCommand::Mount(a)) => fs::mount(e, a),
        Command::Healthcheck(cli::HealthcheckCommand::Run(a)) => c::healthcheck_run(e, a),
        Command::Secret(command) => commands::secret::secret(e, command),
        Command::Manifest(command) => commands::manifest::manifest(e, command),
        Command::Pod(command) => commands::pod::pod(e, command),
        Command::Unmount(a) | Command::Container(ContainerCommand::Unmount(a)) => fs::unmount(e, a),
        Command::Top(a) | Command::Container(ContainerCommand::Top(a)) => o::top(e, a),
        Command::System(SystemCommand::Service(_)) => unreachable!("handled before"),
        Command::Version(_)
        | Command::Completion(_)
        | Command::Unshare(_)
        | Command::Machine(_) => {
            unreachable!("handled before opening the engine")
        }
    }
}

/// The command line, and clap's matches of it (which say what was given, for a remote
/// service's check of its flags).
fn parse_args() -> Result<(Cli, clap::ArgMatches), clap::Error> {
    use clap::FromArgMatches;
    let matches = parser::parse(std::env::args_os())?;
    Ok((Cli::from_arg_matches(&matches)?, matches))
}

/// Output to a closed pipe (`rpod info | head -n1`) ends rpod quietly, as it ends other
/// command-line tools, instead of failing on every later write. Not for the commands that
/// write into the monitor's sockets (run, start, attach, exec): a socket the monitor closed
/// must be an error they handle, never a signal that kills them before the exit code is
/// collected. Nor for `image scp`, whose ssh may end before the archive is written to it
/// (its failure is what is said then).
fn talks_to_monitor_sockets(command: &Command) -> bool {
    matches!(
        command,
        Command::Image(ImageCommand::Scp(_))
            | Command::Run(_)
            | Command::Start(_)
            | Command::Attach(_)
            | Command::Exec(_)
            | Command::Container(
                ContainerCommand::Run(_)
                    | ContainerCommand::Start(_)
                    | ContainerCommand::Attach(_)
                    | ContainerCommand::Exec(_)
            )
    )
}

#[allow(unsafe_code)]
fn default_sigpipe() {
    // SAFETY: setting the default disposition of SIGPIPE before any thread starts; no
    // handler function is involved.
    let _ = unsafe {
        nix::sys::signal::signal(
            nix::sys::signal::Signal::SIGPIPE,
            nix::sys::signal::SigHandler::SigDfl,
        )
    };
}

fn main() {
    // Whatever rpod creates (database, bundles with the container's environment, logs,
    // exit files) is for root only; modes that must be wider are set explicitly.
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
    commands::completion::complete_if_asked();
    let (cli, matches) = match parse_args() {
        Ok(parsed) => parsed,
        Err(e) => {
            let code = match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => 0,
                _ => exit::ENGINE_ERROR,
            };
            match parse_errors::podman_message(&e, &commands::command_line()) {
                Some(message) => eprintln!("{message}"),
                None => {
                    let _ = e.print();
                }
            }
            std::process::exit(code);
        }
    };
    if !talks_to_monitor_sockets(&cli.command) {
        default_sigpipe();
    }
    init_logging(&cli.log_level, cli.syslog);
    let code = match run(cli, &matches) {
        Ok(code) => code,
        Err(failure) => {
            eprintln!("Error: {}", failure.message());
            failure.code
        }
    };
    std::process::exit(code);
}
