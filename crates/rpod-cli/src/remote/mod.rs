//! `rpod --remote` (or `--url`, `--connection`): the command line as a client of a REST
//! service, rpod's own (`rpod system service`) or podman's, through the libpod API, as
//! podman-remote is.
//!
//! The commands a remote client is used for most are here; every other command, and every
//! flag of these commands that is not, is refused by name before anything is sent, never
//! dropped.

mod archives;
mod build;
mod checkpoints;
mod client;
mod containers;
mod copy;
mod destination;
mod events;
mod generate;
mod images;
mod kube;
mod manifests;
mod objects;
mod pods;
mod secrets;
mod sessions;
mod system;

use clap::parser::ValueSource;
use clap::ArgMatches;

use crate::cli::{
    Cli, Command, ContainerCommand, GenerateCommand, HealthcheckCommand, ImageCommand, KubeCommand,
    NetworkCommand, PlayCommand, PodCommand, SecretCommand, SystemCommand, VolumeCommand,
};
use crate::exit::{usage, Failure, Outcome, ENGINE_ERROR};
use rpod_engine::Status;

pub use client::Client;

/// The flags of `logs` a remote service gets (`pod logs` takes them too).
const LOGS_FLAGS: &[&str] = &[
    "tail",
    "timestamps",
    "since",
    "until",
    "follow",
    "names",
    "color",
    "containers",
];

/// Whether the command line asks for a remote service.
pub fn wanted(cli: &Cli) -> bool {
    cli.remote || cli.url.is_some() || cli.connection.is_some()
}

/// The global flags that choose the local store, the runtime and the monitor: they have
/// no meaning for a remote service and are refused when given on the command line (their
/// variables, `RPOD_ROOT` and the like, are left alone).
const LOCAL_GLOBALS: &[&str] = &[
    "root",
    "runroot",
    "runtime",
    "conmon",
    "runtime_flags",
    "cgroup_manager",
    "storage_opts",
    "hooks_dirs",
    "events_backend",
    "volume_path",
    "network_config_dir",
];

/// Run `cli`'s command against the service it names.
pub fn run(cli: Cli, matches: &ArgMatches) -> Outcome {
    for id in LOCAL_GLOBALS {
        if given_on_command_line(matches, id) {
            return Err(usage(format!(
                "{} is a flag of the local store: a remote service uses its own",
                flag_name(&[], id)
            )));
        }
    }
    let (path, leaf) = leaf_command(matches);
    let config = rpod_engine::config::EngineConfig::load()?;
    let connections =
        crate::connections::Connections::load(&crate::connections::Connections::path())?;
    let endpoint = destination::resolve(
        &destination::Choice {
            url: cli.url.as_deref(),
            connection: cli.connection.as_deref(),
            both_flags: given_on_command_line(matches, "url")
                && given_on_command_line(matches, "connection"),
            identity: cli.identity.as_deref(),
            tls: cli.tls.clone(),
            own_socket: rpod_engine::paths::service_socket(&cli.runroot),
            ssh_config: config.engine.ssh_config.as_deref(),
        },
        &connections,
    )?;
    let mut client = Client::new(endpoint);
    let c = &mut client;
    match cli.command {
        Command::Version(a) => {
            only(&path, leaf, &["format"])?;
            containers::version(c, &a)
        }
        Command::Info(a) | Command::System(SystemCommand::Info(a)) => {
            only(&path, leaf, &["format"])?;
            containers::info(c, &a)
        }
        Command::Ps(a) | Command::Container(ContainerCommand::Ps(a)) => {
            only(
                &path,
                leaf,
                &[
                    "all",
                    "quiet",
                    "no_trunc",
                    "format",
                    "filters",
                    "last",
                    "no_heading",
                ],
            )?;
            containers::ps(c, &a)
        }
        Command::Inspect(a) => {
            only(&path, leaf, &["format", "kind", "names"])?;
            containers::inspect(c, &a)
        }
        Command::Container(ContainerCommand::Inspect(mut a)) => {
            only(&path, leaf, &["format", "names"])?;
            a.kind = "container".into();
            containers::inspect(c, &a)
        }
        Command::Image(ImageCommand::Inspect(mut a)) => {
            only(&path, leaf, &["format", "names"])?;
            a.kind = "image".into();
            containers::inspect(c, &a)
        }
        Command::Start(a) | Command::Container(ContainerCommand::Start(a)) => {
            only(
                &path,
                leaf,
                &[
                    "all",
                    "filter",
                    "containers",
                    "attach",
                    "interactive",
                    "detach_keys",
                    "sig_proxy",
                ],
            )?;
            let names = containers::select(c, &a.selection(), |_| true)?;
            if a.attach || a.interactive {
                let [name] = names.names.as_slice() else {
                    return Err(usage(
                        "you cannot start and attach multiple containers at once",
                    ));
                };
                return sessions::start_attached(c, &a, name);
            }
            containers::each(c, &names, containers::Action::Start)
        }
        Command::Attach(a) | Command::Container(ContainerCommand::Attach(a)) => {
            only(
                &path,
                leaf,
                &["no_stdin", "detach_keys", "sig_proxy", "container"],
            )?;
            sessions::attach(c, &a)
        }
        Command::Stop(a) | Command::Container(ContainerCommand::Stop(a)) => {
            only(
                &path,
                leaf,
                &["time", "ignore", "all", "filter", "cidfile", "containers"],
            )?;
            // `--all`: every container, stopped ones too, as locally.
            let selection = a.pick.selection(a.all, a.filter);
            let names = containers::select(c, &selection, |_| true)?;
            containers::each(
                c,
                &names,
                containers::Action::Stop {
                    time: a.time,
                    ignore: a.ignore,
                },
            )
        }
        Command::Restart(a) | Command::Container(ContainerCommand::Restart(a)) => {
            only(
                &path,
                leaf,
                &["time", "all", "running", "filter", "cidfile", "containers"],
            )?;
            if a.running && !a.all {
                return Err(usage("--running goes with --all"));
            }
            let running = a.running;
            let selection = a.pick.selection(a.all, a.filter);
            let names = containers::select(c, &selection, |item| {
                !running || containers::state_is(item, |s| s == Status::Running)
            })?;
            containers::each(c, &names, containers::Action::Restart { time: a.time })
        }
        Command::Kill(a) | Command::Container(ContainerCommand::Kill(a)) => {
            only(&path, leaf, &["signal", "all", "cidfile", "containers"])?;
            let selection = a.pick.selection(a.all, Vec::new());
            let names = containers::select(c, &selection, |item| {
                containers::state_is(item, Status::can_kill)
            })?;
            containers::each(c, &names, containers::Action::Kill { signal: a.signal })
        }
        Command::Pause(a) | Command::Container(ContainerCommand::Pause(a)) => {
            only(&path, leaf, &["all", "filter", "cidfile", "containers"])?;
            let selection = a.pick.selection(a.all, a.filter);
            let names = containers::select(c, &selection, |item| {
                containers::state_is(item, |s| s == Status::Running)
            })?;
            containers::each(c, &names, containers::Action::Pause)
        }
        Command::Unpause(a) | Command::Container(ContainerCommand::Unpause(a)) => {
            only(&path, leaf, &["all", "filter", "cidfile", "containers"])?;
            let selection = a.pick.selection(a.all, a.filter);
            let names = containers::select(c, &selection, |item| {
                containers::state_is(item, |s| s == Status::Paused)
            })?;
            containers::each(c, &names, containers::Action::Unpause)
        }
        Command::Rm(a) | Command::Container(ContainerCommand::Rm(a)) => {
            only(
                &path,
                leaf,
                &[
                    "force",
                    "volumes",
                    "ignore",
                    "time",
                    "all",
                    "filter",
                    "cidfile",
                    "containers",
                ],
            )?;
            let selection = a.pick.selection(a.all, a.filter);
            // Checked before any pod goes.
            selection.picked()?;
            let pods_code = if a.all {
                containers::remove_pods(c, a.force, a.time)?
            } else {
                0
            };
            let mut names = containers::select(c, &selection, |item| {
                item["IsInfra"].as_bool() != Some(true)
            })?;
            // Newest first: a container joined to another's namespaces goes before it.
            if a.all {
                names.names.reverse();
            }
            let code = containers::each(
                c,
                &names,
                containers::Action::Remove {
                    force: a.force,
                    volumes: a.volumes,
                    // podman's --force ignores missing containers too.
                    ignore: a.ignore || a.force,
                    time: a.time,
                },
            )?;
            Ok(code.max(pods_code))
        }
        Command::Init(a) | Command::Container(ContainerCommand::Init(a)) => {
            only(&path, leaf, &["all", "filter", "cidfile", "containers"])?;
            let selection = a.pick.selection(a.all, a.filter);
            let names = containers::select(c, &selection, |item| {
                containers::state_is(item, |s| {
                    matches!(s, Status::Configured | Status::Exited | Status::Stopped)
                })
            })?;
            containers::each(c, &names, containers::Action::Init)
        }
        Command::System(SystemCommand::Df(a)) => {
            only(&path, leaf, &["verbose", "format"])?;
            system::df(c, a)
        }
        Command::System(SystemCommand::Prune(a)) => {
            only(&path, leaf, &["all", "force", "volumes"])?;
            system::prune(c, &a)
        }
        Command::Events(a) => {
            only(
                &path,
                leaf,
                &["filter", "format", "since", "until", "stream", "no_trunc"],
            )?;
            events::events(c, a)
        }
        Command::Export(a) | Command::Container(ContainerCommand::Export(a)) => {
            only(&path, leaf, &["output", "container"])?;
            archives::export(c, &a)
        }
        Command::Save(a) | Command::Image(ImageCommand::Save(a)) => {
            only(
                &path,
                leaf,
                &[
                    "output",
                    "format",
                    "quiet",
                    "multi_image_archive",
                    "uncompressed",
                    "compress",
                    "images",
                ],
            )?;
            archives::save(c, &a)
        }
        Command::Load(a) | Command::Image(ImageCommand::Load(a)) => {
            only(&path, leaf, &["input", "quiet"])?;
            archives::load(c, &a)
        }
        Command::Import(a) | Command::Image(ImageCommand::Import(a)) => {
            only(
                &path,
                leaf,
                &["changes", "message", "quiet", "source", "reference"],
            )?;
            archives::import(c, &a)
        }
        Command::Diff(a) => {
            only(&path, leaf, &["format", "names"])?;
            containers::diff(c, "containers", None, &a.names, a.format.as_deref())
        }
        Command::Container(ContainerCommand::Diff(a)) => {
            only(&path, leaf, &["format", "names"])?;
            let diff_type = Some("container");
            containers::diff(c, "containers", diff_type, &a.names, a.format.as_deref())
        }
        Command::Image(ImageCommand::Diff(a)) => {
            only(&path, leaf, &["format", "image", "other"])?;
            let names: Vec<String> = std::iter::once(a.image).chain(a.other).collect();
            containers::diff(c, "images", None, &names, a.format.as_deref())
        }
        Command::Manifest(command) => {
            only(&path, leaf, manifests::FLAGS)?;
            manifests::manifest(c, &command)
        }
        Command::Kube(KubeCommand::Play(a)) | Command::Play(PlayCommand::Kube(a)) if a.down => {
            kube::down(c, &crate::cli::KubeDownArgs { file: a.file })
        }
        Command::Kube(KubeCommand::Play(a)) | Command::Play(PlayCommand::Kube(a)) => {
            only(&path, leaf, kube::PLAY_FLAGS)?;
            kube::play(c, &a)
        }
        Command::Kube(KubeCommand::Down(a)) => {
            only(&path, leaf, &["file"])?;
            kube::down(c, &a)
        }
        Command::Generate(GenerateCommand::Systemd(a)) => {
            // Every flag: each is a query parameter of the service's.
            generate::systemd(c, &a)
        }
        Command::Generate(GenerateCommand::Kube(a)) | Command::Kube(KubeCommand::Generate(a)) => {
            only(&path, leaf, &["filename", "service", "names"])?;
            generate::kube(c, &a)
        }
        Command::Container(ContainerCommand::Checkpoint(a)) => {
            only(
                &path,
                leaf,
                &[
                    "all",
                    "leave_running",
                    "keep",
                    "tcp_established",
                    "file_locks",
                    "export",
                    "create_image",
                    "pre_checkpoint",
                    "with_previous",
                    "ignore_rootfs",
                    "ignore_volumes",
                    "print_stats",
                    "containers",
                ],
            )?;
            checkpoints::checkpoint(c, &a)
        }
        Command::Container(ContainerCommand::Restore(a)) => {
            only(
                &path,
                leaf,
                &[
                    "all",
                    "keep",
                    "tcp_established",
                    "file_locks",
                    "import",
                    "name",
                    "ignore_rootfs",
                    "ignore_volumes",
                    "ignore_static_ip",
                    "ignore_static_mac",
                    "publish",
                    "import_previous",
                    "pod",
                    "print_stats",
                    "containers",
                ],
            )?;
            checkpoints::restore(c, &a)
        }
        Command::Update(a) | Command::Container(ContainerCommand::Update(a)) => {
            // Every flag: what the API cannot carry is refused by name.
            containers::update(c, &a)
        }
        Command::Rename(a) | Command::Container(ContainerCommand::Rename(a)) => {
            only(&path, leaf, &["container", "new_name"])?;
            containers::rename(c, &a)
        }
        Command::Healthcheck(HealthcheckCommand::Run(a)) => {
            only(&path, leaf, &["container"])?;
            containers::healthcheck_run(c, &a)
        }
        Command::Stats(a) | Command::Container(ContainerCommand::Stats(a)) => {
            only(
                &path,
                leaf,
                &[
                    "all",
                    "no_stream",
                    "no_reset",
                    "interval",
                    "format",
                    "no_trunc",
                    "containers",
                ],
            )?;
            containers::stats(c, &a)
        }
        Command::Top(a) | Command::Container(ContainerCommand::Top(a)) => {
            only(&path, leaf, &["args"])?;
            containers::top(c, &a)
        }
        Command::Port(a) | Command::Container(ContainerCommand::Port(a)) => {
            only(&path, leaf, &["all", "args"])?;
            containers::port(c, &a)
        }
        Command::Wait(a) | Command::Container(ContainerCommand::Wait(a)) => {
            only(&path, leaf, &["condition", "containers"])?;
            containers::wait(c, &a.containers, &a.condition)
        }
        Command::Logs(a) | Command::Container(ContainerCommand::Logs(a)) => {
            only(&path, leaf, LOGS_FLAGS)?;
            containers::logs(c, &a)
        }
        Command::Container(ContainerCommand::Exists(a)) => {
            only(&path, leaf, &["name", "external"])?;
            containers::exists(c, "containers", &a.name)
        }
        Command::Image(ImageCommand::Exists(a)) => {
            only(&path, leaf, &["name"])?;
            containers::exists(c, "images", &a.name)
        }
        Command::Images(a) | Command::Image(ImageCommand::Images(a)) => {
            only(
                &path,
                leaf,
                &[
                    "quiet",
                    "no_trunc",
                    "format",
                    "all",
                    "filter",
                    "noheading",
                    "image",
                ],
            )?;
            images::images(c, &a)
        }
        Command::Rmi(a) | Command::Image(ImageCommand::Rm(a)) => {
            only(&path, leaf, &["force", "ignore", "images"])?;
            images::rmi(c, &a)
        }
        Command::History(a) | Command::Image(ImageCommand::History(a)) => {
            only(
                &path,
                leaf,
                &["no_trunc", "quiet", "human", "format", "image"],
            )?;
            images::history(c, a)
        }
        Command::Image(ImageCommand::Tree(a)) => {
            only(&path, leaf, &["what_requires", "image"])?;
            images::tree(c, &a)
        }
        Command::Search(a) | Command::Image(ImageCommand::Search(a)) => {
            only(
                &path,
                leaf,
                &[
                    "limit",
                    "filter",
                    "format",
                    "no_trunc",
                    "compatible",
                    "list_tags",
                    "tls_verify",
                    "creds",
                    "term",
                ],
            )?;
            images::search(c, &a)
        }
        Command::Push(a) | Command::Image(ImageCommand::Push(a)) => {
            only(
                &path,
                leaf,
                &[
                    "quiet",
                    "tls_verify",
                    "creds",
                    "format",
                    "compression_format",
                    "digestfile",
                    "image",
                    "destination",
                ],
            )?;
            images::push(c, &a)
        }
        Command::Commit(a) | Command::Container(ContainerCommand::Commit(a)) => {
            only(
                &path,
                leaf,
                &[
                    "author",
                    "changes",
                    "message",
                    "pause",
                    "quiet",
                    "iidfile",
                    "squash",
                    "format",
                    "container",
                    "image",
                ],
            )?;
            images::commit(c, &a)
        }
        Command::Tag(a) | Command::Image(ImageCommand::Tag(a)) => {
            only(&path, leaf, &["image", "names"])?;
            images::tag(c, &a)
        }
        Command::Untag(a) | Command::Image(ImageCommand::Untag(a)) => {
            only(&path, leaf, &["image", "names"])?;
            images::untag(c, &a)
        }
        Command::Build(a) | Command::Image(ImageCommand::Build(a)) => {
            only(&path, leaf, build::FLAGS)?;
            build::build(c, &a)
        }
        Command::Pull(a) | Command::Image(ImageCommand::Pull(a)) => {
            only(&path, leaf, &["quiet", "images"])?;
            images::pull(c, &a)
        }
        Command::Create(a) | Command::Container(ContainerCommand::Create(a)) => {
            all_but(&path, leaf, sessions::RUN_FLAGS_KEPT_LOCAL)?;
            sessions::create(c, &a).map(|id| {
                println!("{id}");
                0
            })
        }
        Command::Run(a) | Command::Container(ContainerCommand::Run(a)) => {
            all_but(&path, leaf, sessions::RUN_FLAGS_KEPT_LOCAL)?;
            sessions::run(c, &a)
        }
        Command::Exec(a) | Command::Container(ContainerCommand::Exec(a)) => {
            only(&path, leaf, sessions::EXEC_FLAGS)?;
            sessions::exec(c, &a)
        }
        Command::Cp(a) | Command::Container(ContainerCommand::Cp(a)) => {
            only(&path, leaf, &["source", "destination", "overwrite"])?;
            copy::cp(c, &a, config.keep_free())
        }
        Command::Secret(SecretCommand::Create(a)) => {
            only(
                &path,
                leaf,
                &[
                    "driver",
                    "driver_opts",
                    "env",
                    "labels",
                    "replace",
                    "name",
                    "source",
                ],
            )?;
            secrets::create(c, &a)
        }
        Command::Secret(SecretCommand::Ls(a)) => {
            only(&path, leaf, &["format", "quiet", "noheading", "filter"])?;
            secrets::ls(c, &a)
        }
        Command::Secret(SecretCommand::Inspect(a)) => {
            only(&path, leaf, &["format", "pretty", "names"])?;
            secrets::inspect(c, &a)
        }
        Command::Secret(SecretCommand::Rm(a)) => {
            only(&path, leaf, &["all", "ignore", "names"])?;
            secrets::rm(c, &a)
        }
        Command::Secret(SecretCommand::Exists(a)) => {
            only(&path, leaf, &["name"])?;
            secrets::exists(c, &a)
        }
        Command::Volume(VolumeCommand::Create(a)) => {
            only(&path, leaf, &["driver", "labels", "opts", "name"])?;
            objects::volume_create(c, &a)
        }
        Command::Volume(VolumeCommand::Ls(a)) => {
            only(&path, leaf, &["filter", "format", "quiet", "no_heading"])?;
            objects::volume_ls(c, &a)
        }
        Command::Volume(VolumeCommand::Inspect(a)) => {
            only(&path, leaf, &["format", "names"])?;
            objects::volume_inspect(c, &a)
        }
        Command::Volume(VolumeCommand::Rm(a)) => {
            only(&path, leaf, &["force", "time", "names"])?;
            objects::volume_rm(c, &a)
        }
        Command::Volume(VolumeCommand::Exists(a)) => {
            only(&path, leaf, &["name"])?;
            containers::exists(c, "volumes", &a.name)
        }
        Command::Volume(VolumeCommand::Export(a)) => {
            only(&path, leaf, &["output", "name"])?;
            archives::volume_export(c, &a)
        }
        Command::Volume(VolumeCommand::Import(a)) => {
            only(&path, leaf, &["name", "source"])?;
            archives::volume_import(c, &a)
        }
        Command::Network(NetworkCommand::Create(a)) => {
            only(
                &path,
                leaf,
                &[
                    "driver",
                    "subnet",
                    "gateway",
                    "ipv6",
                    "internal",
                    "disable_dns",
                    "interface_name",
                    "labels",
                    "opts",
                    "ignore",
                    "name",
                ],
            )?;
            objects::network_create(c, &a)
        }
        Command::Network(NetworkCommand::Ls(a)) => {
            only(
                &path,
                leaf,
                &["no_heading", "filter", "format", "quiet", "no_trunc"],
            )?;
            objects::network_ls(c, &a)
        }
        Command::Network(NetworkCommand::Inspect(a)) => {
            only(&path, leaf, &["format", "names"])?;
            objects::network_inspect(c, &a)
        }
        Command::Network(NetworkCommand::Rm(a)) => {
            only(&path, leaf, &["force", "time", "names"])?;
            objects::network_rm(c, &a)
        }
        Command::Network(NetworkCommand::Exists(a)) => {
            only(&path, leaf, &["name"])?;
            containers::exists(c, "networks", &a.name)
        }
        Command::Network(NetworkCommand::Connect(a)) => {
            only(
                &path,
                leaf,
                &["alias", "ip", "ip6", "mac_address", "network", "container"],
            )?;
            objects::network_connect(c, &a)
        }
        Command::Network(NetworkCommand::Disconnect(a)) => {
            only(&path, leaf, &["force", "network", "container"])?;
            objects::network_disconnect(c, &a)
        }
        Command::Pod(PodCommand::Create(a)) => {
            all_but(&path, leaf, pods::CREATE_FLAGS_KEPT_LOCAL)?;
            pods::create(c, &a)
        }
        Command::Pod(PodCommand::Ps(a)) => {
            only(
                &path,
                leaf,
                &[
                    "filter",
                    "format",
                    "quiet",
                    "no_trunc",
                    "no_heading",
                    "ctr_names",
                    "ctr_ids",
                    "ctr_status",
                    "ns",
                    "sort",
                ],
            )?;
            pods::ps(c, &a)
        }
        Command::Pod(PodCommand::Inspect(a)) => {
            only(&path, leaf, &["format", "names"])?;
            pods::inspect(c, &a)
        }
        Command::Pod(PodCommand::Exists(a)) => {
            only(&path, leaf, &["name"])?;
            containers::exists(c, "pods", &a.name)
        }
        Command::Pod(PodCommand::Logs(a)) => {
            only(&path, leaf, &[LOGS_FLAGS, &["container"]].concat())?;
            pods::logs(c, &a)
        }
        Command::Pod(PodCommand::Stats(a)) => {
            only(
                &path,
                leaf,
                &["all", "no_stream", "no_reset", "format", "pods"],
            )?;
            pods::stats(c, &a)
        }
        Command::Pod(PodCommand::Top(a)) => {
            only(&path, leaf, &["args"])?;
            pods::top(c, &a)
        }
        Command::Pod(PodCommand::Start(a)) => {
            only(&path, leaf, &["all", "pod_id_file", "names"])?;
            pods::each(c, &a, false, pods::Move::Start)
        }
        Command::Pod(PodCommand::Pause(a)) => {
            only(&path, leaf, &["all", "pod_id_file", "names"])?;
            pods::each(c, &a, false, pods::Move::Pause)
        }
        Command::Pod(PodCommand::Unpause(a)) => {
            only(&path, leaf, &["all", "pod_id_file", "names"])?;
            pods::each(c, &a, false, pods::Move::Unpause)
        }
        Command::Pod(PodCommand::Stop(a)) => {
            only(
                &path,
                leaf,
                &["time", "ignore", "all", "pod_id_file", "names"],
            )?;
            pods::stop(c, &a, false)
        }
        Command::Pod(PodCommand::Restart(a)) => {
            only(
                &path,
                leaf,
                &["time", "ignore", "all", "pod_id_file", "names"],
            )?;
            pods::stop(c, &a, true)
        }
        Command::Pod(PodCommand::Kill(a)) => {
            only(&path, leaf, &["signal", "all", "pod_id_file", "names"])?;
            pods::kill(c, &a)
        }
        Command::Pod(PodCommand::Rm(a)) => {
            only(
                &path,
                leaf,
                &["force", "ignore", "time", "all", "pod_id_file", "names"],
            )?;
            pods::rm(c, &a)
        }
        Command::Pod(PodCommand::Prune(_)) => {
            only(&path, leaf, &["force"])?;
            objects::prune(c, "pods", &[], false)
        }
        Command::Container(ContainerCommand::Prune(a)) => {
            only(&path, leaf, &["force", "filter"])?;
            objects::prune(c, "containers", &a.filter, false)
        }
        Command::Image(ImageCommand::Prune(a)) => {
            only(&path, leaf, &["all", "force", "filter"])?;
            objects::prune(c, "images", &a.filter, a.all)
        }
        Command::Volume(VolumeCommand::Prune(a)) => {
            only(&path, leaf, &["force", "filter"])?;
            objects::prune(c, "volumes", &a.filter, false)
        }
        Command::Network(NetworkCommand::Prune(a)) => {
            only(&path, leaf, &["force", "filter"])?;
            objects::prune(c, "networks", &a.filter, false)
        }
        // The commands above are the ones docs/remote.md lists.
        _ => Err(usage(format!(
            "\"rpod {}\" is not supported with a remote service: run it on the service's \
             host, or use podman-remote or the docker CLI against the service",
            path.join(" ")
        ))),
    }
}

/// Whether `id` was given on the command line of this command or an enclosing one.
fn given_on_command_line(matches: &ArgMatches, id: &str) -> bool {
    let here = matches.try_contains_id(id).unwrap_or(false)
        && matches.value_source(id) == Some(ValueSource::CommandLine);
    here || matches
        .subcommand()
        .is_some_and(|(_, sub)| given_on_command_line(sub, id))
}

/// The names of the subcommands run (`container`, `ps`) and the innermost one's matches.
fn leaf_command(matches: &ArgMatches) -> (Vec<String>, &ArgMatches) {
    let mut path = Vec::new();
    let mut leaf = matches;
    while let Some((name, sub)) = leaf.subcommand() {
        path.push(name.to_string());
        leaf = sub;
    }
    (path, leaf)
}

/// Refuse every flag or argument of the command, given on its command line or by a
/// variable, that is not in `supported` (ids as clap names them: the field names), naming
/// it as the user wrote it.
fn only(path: &[String], leaf: &ArgMatches, supported: &[&str]) -> Result<(), Failure> {
    let globals = global_ids();
    let command = command_at(path);
    for id in leaf.ids() {
        let id = id.as_str();
        if supported.contains(&id) || globals.iter().any(|g| g == id) {
            continue;
        }
        // Groups (one per argument struct) are not arguments.
        let Some(argument) = command
            .as_ref()
            .and_then(|c| c.get_arguments().find(|a| a.get_id() == id))
        else {
            continue;
        };
        if !matches!(
            leaf.value_source(id),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        ) {
            continue;
        }
        // A flag that is off unless given, given off (`--latest=false`), asks for nothing.
        // One that is on by default (`--http-proxy`) asks for something when turned off.
        if matches!(argument.get_action(), clap::ArgAction::SetTrue)
            && matches!(leaf.try_get_one::<bool>(id), Ok(Some(false)))
        {
            continue;
        }
        return Err(usage(format!(
            "{} of \"rpod {}\" is not supported with a remote service",
            flag_name(path, id),
            path.join(" ")
        )));
    }
    Ok(())
}

/// [`only`] with every argument of the command supported but those in `refused`.
fn all_but(path: &[String], leaf: &ArgMatches, refused: &[&str]) -> Result<(), Failure> {
    let supported: Vec<String> = argument_ids(path)
        .into_iter()
        .filter(|id| !refused.contains(&id.as_str()))
        .collect();
    let supported: Vec<&str> = supported.iter().map(String::as_str).collect();
    only(path, leaf, &supported)
}

/// The ids of the top-level command's arguments (global flags are in every subcommand's
/// matches).
fn global_ids() -> Vec<String> {
    use clap::CommandFactory;
    Cli::command()
        .get_arguments()
        .map(|a| a.get_id().to_string())
        .collect()
}

/// The command at `path` (`["container", "ps"]`), built (its deferred arguments made).
fn command_at(path: &[String]) -> Option<clap::Command> {
    use clap::CommandFactory;
    let mut command = Cli::command();
    for name in path {
        command.build();
        command = command.find_subcommand(name)?.clone();
    }
    command.build();
    Some(command)
}

/// The ids of the arguments of the command at `path`.
fn argument_ids(path: &[String]) -> Vec<String> {
    command_at(path)
        .map(|c| c.get_arguments().map(|a| a.get_id().to_string()).collect())
        .unwrap_or_default()
}

/// `--long` (or `-s`, or the argument's name) of argument `id` of the command at `path`.
fn flag_name(path: &[String], id: &str) -> String {
    let Some(command) = command_at(path) else {
        return id.to_string();
    };
    let name = match command.get_arguments().find(|a| a.get_id() == id) {
        Some(arg) => match (arg.get_long(), arg.get_short()) {
            (Some(long), _) => format!("--{long}"),
            (None, Some(short)) => format!("-{short}"),
            (None, None) => arg
                .get_value_names()
                .and_then(|names| names.first())
                .map(|n| n.to_string())
                .unwrap_or_else(|| id.to_uppercase()),
        },
        None => id.to_string(),
    };
    name
}

impl crate::commands::InspectMisses {
    /// A service's answer other than 200 to the inspection of `name`, a `kind` (`add_said`).
    pub fn add_reply(&mut self, kind: &str, name: &str, reply: &client::Reply) {
        self.add_said(
            Some(kind),
            name,
            reply.status == 404,
            failure(reply).message(),
        );
    }
}

/// A failed answer as an error: podman's `{"cause", "message", "response"}` (or Docker's
/// `{"message"}`), with the exit code the local command would have.
pub fn failure(reply: &client::Reply) -> Failure {
    let json = reply.json().unwrap_or(serde_json::Value::Null);
    let message = json["message"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| String::from_utf8_lossy(&reply.body).trim().to_string());
    let message = if message.is_empty() {
        format!("the service answered {}", reply.status)
    } else {
        message
    };
    Failure::new(code_of_message(&message), anyhow::anyhow!("{message}"))
}

/// The exit code of a failure the service reports: the runtime's "not found" and
/// "permission denied" as the local command's 127 and 126.
fn code_of_message(message: &str) -> i32 {
    if message.contains("OCI runtime attempted to invoke a command that was not found")
        || message.contains("executable file not found")
    {
        crate::exit::NOT_FOUND
    } else if message.contains("OCI permission denied") {
        crate::exit::CANNOT_INVOKE
    } else {
        ENGINE_ERROR
    }
}

/// A streamed answer that is an error, as an error (its first 64 KiB read).
pub fn streamed_failure(streamed: client::Streamed) -> Failure {
    use std::io::Read;
    let mut body = Vec::new();
    let _ = streamed.body.take(64 * 1024).read_to_end(&mut body);
    failure(&client::Reply {
        status: streamed.status,
        body,
        path_stat: None,
    })
}

/// A request's answer, an error unless its status is one of `ok`.
pub fn expect(reply: client::Reply, ok: &[u16]) -> Result<client::Reply, Failure> {
    if ok.contains(&reply.status) {
        Ok(reply)
    } else {
        Err(failure(&reply))
    }
}

/// The API's filters (`{"key": ["value", ...]}`) of `key=value` flags.
pub fn filters_map(
    filters: &[String],
) -> Result<serde_json::Map<String, serde_json::Value>, Failure> {
    if let Some(bad) = filters.iter().find(|f| !f.contains('=')) {
        return Err(usage(format!("invalid filter {bad:?}: use KEY=VALUE")));
    }
    Ok(rpod_engine::filter_values::group_by_key(filters)
        .into_iter()
        .map(|(key, values)| (key.to_string(), serde_json::json!(values)))
        .collect())
}

/// The `filters` query parameter of `key=value` flags (`filters=` and the map as JSON);
/// none without flags.
pub fn filters_param(filters: &[String]) -> Result<Option<String>, Failure> {
    let filters = filters_map(filters)?;
    Ok((!filters.is_empty()).then(|| {
        let text = serde_json::Value::Object(filters).to_string();
        format!("filters={}", encode(&text))
    }))
}

/// `--tls-verify` and `--creds` as the query parameters of the service's registry calls
/// (pull, push, search, manifests, kube play): the service's own settings otherwise.
pub fn registry_params(flags: &crate::cli::RegistryFlags) -> Vec<String> {
    let mut params = Vec::new();
    if let Some(verify) = flags.tls_verify {
        params.push(format!("tlsVerify={verify}"));
    }
    if let Some(creds) = &flags.creds {
        params.push(format!("credentials={}", encode(creds)));
    }
    params
}

/// An ID the service sent, as a list shows it: whole, or its first 12 characters (by
/// character: the service's text need not be hexadecimal).
pub fn short_id(id: &str, no_trunc: bool) -> String {
    match no_trunc {
        true => id.to_string(),
        false => id.chars().take(12).collect(),
    }
}

/// The lines of a streamed answer of one JSON value per line (pull, push, events, stats),
/// blank ones skipped. A line is bounded: the service's text is not trusted to end, and a
/// longer one is read as two (neither JSON).
pub struct StreamLines<R> {
    reader: std::io::BufReader<R>,
    longest: u64,
    line: Vec<u8>,
}

impl StreamLines<Box<dyn std::io::Read + Send>> {
    /// The lines of the answer to `method path`, which must be a 200 (else its error).
    pub fn open(
        client: &mut Client,
        method: &str,
        path: &str,
        longest: u64,
    ) -> Result<Self, Failure> {
        let streamed = client.stream(method, path, None, false)?;
        if streamed.status != 200 {
            return Err(streamed_failure(streamed));
        }
        Ok(StreamLines::new(streamed.body, longest))
    }
}

impl<R: std::io::Read> StreamLines<R> {
    pub fn new(body: R, longest: u64) -> Self {
        StreamLines {
            reader: std::io::BufReader::new(body),
            longest,
            line: Vec::new(),
        }
    }

    /// The next line that is not blank, or `None` at the stream's end.
    pub fn next_line(&mut self) -> Result<Option<&[u8]>, Failure> {
        use std::io::{BufRead, Read};
        loop {
            self.line.clear();
            (&mut self.reader)
                .take(self.longest)
                .read_until(b'\n', &mut self.line)
                .map_err(|e| Failure::new(ENGINE_ERROR, e))?;
            if self.line.is_empty() {
                return Ok(None);
            }
            if !self.line.trim_ascii().is_empty() {
                return Ok(Some(&self.line));
            }
        }
    }
}

/// A path segment or query value, percent-encoded.
pub fn encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> ArgMatches {
        crate::parser::parse(args).unwrap()
    }

    #[test]
    fn flags_outside_the_supported_set_are_refused_by_name() {
        let matches = parse(&["rpod", "--remote", "ps", "-a", "--size"]);
        let (path, leaf) = leaf_command(&matches);
        assert_eq!(path, ["ps"]);
        only(&path, leaf, &["all"])
            .map_err(|e| e.message())
            .unwrap_err();
        let error = only(&path, leaf, &["all"]).unwrap_err().message();
        assert_eq!(
            error,
            "--size of \"rpod ps\" is not supported with a remote service"
        );
        assert!(only(&path, leaf, &["all", "size"]).is_ok());
        // A flag that is off by default, turned off, asks for nothing; one that is on by
        // default, turned off, does.
        let matches = parse(&["rpod", "--remote", "ps", "-a", "--size=false"]);
        let (path, leaf) = leaf_command(&matches);
        assert!(only(&path, leaf, &["all"]).is_ok());
        let matches = parse(&["rpod", "--remote", "run", "--http-proxy=false", "demo"]);
        let (path, leaf) = leaf_command(&matches);
        let error = only(&path, leaf, &["image_and_command"])
            .unwrap_err()
            .message();
        assert!(error.starts_with("--http-proxy of \"rpod run\""), "{error}");
        // Defaults are not "given".
        let matches = parse(&["rpod", "--remote", "container", "stop", "x"]);
        let (path, leaf) = leaf_command(&matches);
        assert_eq!(path, ["container", "stop"]);
        assert!(only(&path, leaf, &["containers"]).is_ok());
        let matches = parse(&["rpod", "-r", "run", "--uidmap", "0:1:1", "demo"]);
        let (path, leaf) = leaf_command(&matches);
        let error = all_but(&path, leaf, sessions::RUN_FLAGS_KEPT_LOCAL)
            .unwrap_err()
            .message();
        assert!(error.starts_with("--uidmap of \"rpod run\""), "{error}");
        let matches = parse(&["rpod", "-r", "run", "--cpus", "2", "-p", "80", "demo"]);
        let (path, leaf) = leaf_command(&matches);
        assert!(all_but(&path, leaf, sessions::RUN_FLAGS_KEPT_LOCAL).is_ok());
    }

    #[test]
    fn local_globals_given_on_the_command_line_are_seen_anywhere() {
        let matches = parse(&["rpod", "--remote", "ps", "--root", "/x"]);
        assert!(given_on_command_line(&matches, "root"));
        let matches = parse(&["rpod", "--remote", "ps"]);
        assert!(!given_on_command_line(&matches, "root"));
    }

    #[test]
    fn filters_become_the_apis_map() {
        let map = filters_map(&[
            "status=exited".into(),
            "label=a=b".into(),
            "status=created".into(),
        ])
        .unwrap();
        assert_eq!(
            serde_json::Value::Object(map),
            serde_json::json!({"status": ["exited", "created"], "label": ["a=b"]})
        );
        assert!(filters_map(&["nokey".into()]).is_err());
    }

    #[test]
    fn short_ids_are_cut_by_character() {
        assert_eq!(short_id("0123456789abcdef", false), "0123456789ab");
        assert_eq!(short_id("0123456789abcdef", true), "0123456789abcdef");
        // A service's ID that is not hexadecimal must not cut a character in two.
        assert_eq!(short_id("ééééééééééééé", false), "éééééééééééé");
        assert_eq!(short_id("ab", false), "ab");
    }

    #[test]
    fn runtime_failures_keep_their_exit_codes() {
        assert_eq!(
            code_of_message("crun: executable file `x` not found in $PATH: No such file or directory: OCI runtime attempted to invoke a command that was not found"),
            127
        );
        assert_eq!(code_of_message("crun: open x: OCI permission denied"), 126);
        assert_eq!(code_of_message("no such container"), 125);
    }
}
