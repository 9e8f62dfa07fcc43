//! The command line, as podman spells it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "rpod",
    version,
    about = "A daemonless container engine, podman-compatible"
)]
pub struct Cli {
    /// Persistent storage root (database, images, containers, logs).
    #[arg(
        long,
        global = true,
        env = "RPOD_ROOT",
        default_value = "/var/lib/rpod"
    )]
    pub root: PathBuf,
    /// Run-time state root (exit files, pid files, locks).
    #[arg(long, global = true, env = "RPOD_RUNROOT", default_value = "/run/rpod")]
    pub runroot: PathBuf,
    /// OCI runtime: a name (runc, crun) or a path to a runc-compatible runtime.
    #[arg(long, global = true, env = "RPOD_RUNTIME", default_value = "runc")]
    pub runtime: String,
    /// Path to conmon (looked up in $PATH when not given).
    #[arg(long, global = true, env = "RPOD_CONMON")]
    pub conmon: Option<PathBuf>,
    /// Log messages at this level and above: debug, info, warn, error.
    #[arg(long, global = true, default_value = "warn", value_parser = ["trace", "debug", "info", "warn", "error", "fatal", "panic"])]
    pub log_level: String,
    /// Print nothing on standard output.
    #[arg(long, global = true)]
    pub noout: bool,
    /// Where events go: `file` (the event log) or `none`.
    #[arg(long, global = true, default_value = "file", value_parser = ["file", "none"])]
    pub events_backend: String,
    /// A global flag for the OCI runtime on every call (`debug`, `log-format=json`).
    #[arg(long = "runtime-flag", global = true)]
    pub runtime_flags: Vec<String>,
    /// Only `cgroupfs`: rpod manages cgroups through the runtime's cgroupfs driver.
    #[arg(long, global = true, default_value = "cgroupfs", value_parser = ["cgroupfs", "systemd"])]
    pub cgroup_manager: String,
    /// Storage options: rpod has none to set; an empty value (clearing them) is accepted.
    #[arg(long = "storage-opt", global = true)]
    pub storage_opts: Vec<String>,
    /// Only `overlay` (or Docker's name for it, `overlay2`): rpod stores images and
    /// containers with overlay.
    #[arg(long = "storage-driver", global = true)]
    pub storage_driver: Option<String>,
    /// How ssh:// services are reached: only `native`, the `ssh` command (podman's default,
    /// `golang`, is a client built into podman); before the command (`build --ssh` is
    /// another flag).
    #[arg(long = "ssh", id = "ssh_mode")]
    pub ssh_mode: Option<String>,
    /// A directory of OCI hook definitions (oci-hooks(5)), more than one by repeating the
    /// flag: later ones mask earlier ones' files of the same name (default:
    /// /usr/share/containers/oci/hooks.d, or rpod.conf's hooks_dir).
    #[arg(long = "hooks-dir", global = true)]
    pub hooks_dirs: Vec<PathBuf>,
    /// Where volumes live (default: ROOT/volumes, or rpod.conf's volume_path): the store
    /// records it the first time and refuses another one later.
    #[arg(long = "volumepath", global = true)]
    pub volume_path: Option<PathBuf>,
    /// Where networks are defined (default: ROOT/networks, or rpod.conf's
    /// network_config_dir).
    #[arg(long = "network-config-dir", global = true)]
    pub network_config_dir: Option<PathBuf>,
    /// Log messages go to the system log (/dev/log) as well as to standard error; also
    /// those of the cleanup after a container's exit.
    #[arg(long, global = true)]
    pub syslog: bool,
    /// Not supported: podman's libpod namespaces (separate views of one store); only the
    /// default, empty one.
    #[arg(long, global = true)]
    pub namespace: Option<String>,
    /// Not supported: rpod has no slirp4netns or pasta networking for it to name.
    #[arg(long = "network-cmd-path", global = true)]
    pub network_cmd_path: Option<PathBuf>,
    /// Be a client of a REST service (`rpod system service`, or podman's) instead of using
    /// a store here: the default connection's, else RUNROOT/rpod.sock.
    #[arg(short = 'r', long, global = true)]
    pub remote: bool,
    /// The service to be a client of (implies --remote): unix:///PATH, tcp://HOST:PORT or
    /// ssh://[USER@]HOST[:PORT]/PATH.
    #[arg(long, global = true, env = "CONTAINER_HOST")]
    pub url: Option<String>,
    /// A connection of `system connection` to be a client of (implies --remote); before
    /// the command.
    #[arg(short = 'c', long, env = "CONTAINER_CONNECTION")]
    pub connection: Option<String>,
    /// The SSH key for an ssh:// service (instead of the connection's); before the command.
    #[arg(long, env = "CONTAINER_SSHKEY")]
    pub identity: Option<PathBuf>,
    /// `--tls-ca`, `--tls-cert`, `--tls-key`; before the command.
    #[command(flatten)]
    pub tls: crate::connections::TlsPaths,
    /// Directory for temporary files of rpod and the processes it starts (`TMPDIR`); rpod's
    /// state stays under --runroot and its scratch space on the storage root.
    #[arg(long, global = true)]
    pub tmpdir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

/// Every subcommand enum here defers its arguments: they are built only for the command
/// being run (building all of them took about 0.5 ms of every rpod start).
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum Command {
    /// Create a container without starting it.
    Create(RunArgs),
    /// Run a command in a new container.
    Run(RunArgs),
    /// Start one or more containers.
    Start(StartArgs),
    /// Stop one or more containers.
    Stop(StopArgs),
    /// Stop and start containers again.
    Restart(RestartArgs),
    /// Give a container another name.
    Rename(RenameArgs),
    /// Send a signal to one or more containers.
    Kill(KillArgs),
    /// Remove one or more containers.
    Rm(RmArgs),
    /// Create containers in the runtime without starting them (podman's "initialized").
    Init(AllArgs),
    /// Pause all the processes of one or more containers.
    Pause(AllArgs),
    /// Unpause the processes of one or more containers.
    Unpause(AllArgs),
    /// Wait for containers to exit and print their exit codes.
    Wait(WaitArgs),
    /// List containers.
    Ps(PsArgs),
    /// Show the configuration and state of containers or images.
    Inspect(InspectArgs),
    /// Show a container's logs.
    Logs(LogsArgs),
    /// Attach to a running container's output (and input).
    Attach(AttachArgs),
    /// Run a command in a running container.
    Exec(ExecArgs),
    /// Manage containers.
    #[command(subcommand)]
    Container(ContainerCommand),
    /// Import a root file system tarball as an image.
    Import(ImportArgs),
    /// Build an image from a Containerfile (Dockerfile).
    Build(Box<BuildArgs>),
    /// Load images from a docker-archive or oci-archive.
    Load(LoadArgs),
    /// Save images to an archive.
    Save(SaveArgs),
    /// Pull images from a registry.
    Pull(PullArgs),
    /// Push an image to a registry.
    Push(PushArgs),
    /// Search registries for images, or list a repository's tags.
    Search(SearchArgs),
    /// Log in to a registry (credentials saved for pull and push).
    Login(LoginArgs),
    /// Log out of a registry (its saved credentials removed).
    Logout(LogoutArgs),
    /// List images.
    Images(ImagesArgs),
    /// Remove images.
    Rmi(RmiArgs),
    /// Add names to an image.
    Tag(TagArgs),
    /// Manage images.
    #[command(subcommand)]
    Image(ImageCommand),
    /// Show system information.
    Info(FormatArgs),
    /// Show version information.
    Version(FormatArgs),
    /// Update containers to their images' newest versions, as their auto-update label
    /// says, restarting their systemd units.
    AutoUpdate(AutoUpdateArgs),
    /// Change the cgroup limits of containers, running or not.
    Update(UpdateArgs),
    /// Show containers' resource use (CPU, memory, network and block I/O, PIDs).
    Stats(StatsArgs),
    /// Show a container's processes.
    Top(TopArgs),
    /// Show the event log: what happened to containers and images.
    Events(EventsArgs),
    /// Show how an image was made.
    History(HistoryArgs),
    /// Remove names from an image.
    Untag(UntagArgs),
    /// List what a container changed in its image's files (A added, C changed, D deleted).
    Diff(DiffArgs),
    /// Make a new image from a container's changes.
    Commit(CommitArgs),
    /// Write a container's root file system as a tar.
    Export(ExportArgs),
    /// Copy files between a container and the host (CONTAINER:PATH, a host path, or -).
    Cp(CpArgs),
    /// Run containers' health checks.
    #[command(subcommand)]
    Healthcheck(HealthcheckCommand),
    /// Manage secrets (the file driver).
    #[command(subcommand)]
    Secret(SecretCommand),
    /// Manage manifest lists: images for several platforms under one name.
    #[command(subcommand)]
    Manifest(ManifestCommand),
    /// Mount containers' root file systems on the host and print where; list them.
    Mount(MountArgs),
    /// Undo `mount`.
    #[command(alias = "umount")]
    Unmount(UnmountArgs),
    /// Manage named volumes.
    #[command(subcommand)]
    Volume(VolumeCommand),
    /// Manage networks.
    #[command(subcommand)]
    Network(NetworkCommand),
    /// Manage pods: containers that share namespaces with the pod's infra container.
    #[command(subcommand)]
    Pod(PodCommand),
    /// List a container's published ports.
    Port(PortArgs),
    /// Generate files from containers: systemd units.
    #[command(subcommand)]
    Generate(GenerateCommand),
    /// Play Kubernetes YAML: make and start its pods, or take them down.
    #[command(subcommand)]
    Kube(KubeCommand),
    /// podman's older name of `kube play` (`play kube FILE`).
    #[command(subcommand)]
    Play(PlayCommand),
    /// Manage rpod itself: the REST service, information.
    #[command(subcommand)]
    System(SystemCommand),
    /// Print a shell's completion script for rpod's commands, flags and their fixed values.
    Completion(CompletionArgs),
    /// podman's way into its rootless user namespace; rpod runs as root and has none.
    Unshare(UnshareArgs),
    /// podman's virtual machines for hosts without Linux containers; not supported: rpod
    /// runs containers on this host.
    #[command(hide = true, disable_help_flag = true)]
    Machine(MachineArgs),
}

#[derive(Debug, Args)]
pub struct MachineArgs {
    /// Whatever follows `machine` (refused as the command is).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub words: Vec<String>,
}

#[derive(Debug, Args)]
pub struct CompletionArgs {
    /// The shell: bash, zsh, fish or powershell.
    #[arg(value_parser = ["bash", "zsh", "fish", "powershell"])]
    pub shell: String,
    /// Write the script to this file instead of standard output.
    #[arg(short = 'f', long)]
    pub file: Option<PathBuf>,
    /// Leave the descriptions of commands and flags out of the script.
    #[arg(long = "no-desc")]
    pub no_desc: bool,
}

#[derive(Debug, Args)]
pub struct UnshareArgs {
    /// Join the rootless network namespace (podman's; refused as the command is).
    #[arg(long = "rootless-netns")]
    pub rootless_netns: bool,
    /// The command to run and its arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

// cgroup limits shared by `run`/`create` and `update`. (Not a doc comment: on a flattened
// struct it would become the help text of the commands it is in, their own being deferred.)
#[derive(Debug, Args, Default, Clone)]
pub struct LimitArgs {
    /// Memory plus swap (e.g. 128m); -1 for unlimited swap.
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Memory soft limit (e.g. 32m).
    #[arg(long = "memory-reservation")]
    pub memory_reservation: Option<String>,
    /// CPU shares (relative weight, 2 to 262144).
    #[arg(short = 'c', long = "cpu-shares")]
    pub cpu_shares: Option<u64>,
    /// CFS quota in microseconds per period (-1 for none).
    #[arg(long = "cpu-quota", allow_negative_numbers = true)]
    pub cpu_quota: Option<i64>,
    /// CFS period in microseconds.
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<u64>,
    /// CPUs the container may run on (e.g. 0-2,4).
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes the container may use (e.g. 0).
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    /// Block I/O weight (10 to 1000).
    #[arg(long = "blkio-weight")]
    pub blkio_weight: Option<u16>,
    /// Block I/O weight on one device: PATH:WEIGHT (`/dev/sda:200`).
    #[arg(long = "blkio-weight-device")]
    pub blkio_weight_device: Vec<String>,
    /// How willingly the kernel swaps the container's memory out (0 to 100; -1: the
    /// kernel's default).
    #[arg(long = "memory-swappiness", allow_negative_numbers = true)]
    pub memory_swappiness: Option<i64>,
    /// Real-time scheduling period in microseconds.
    #[arg(long = "cpu-rt-period")]
    pub cpu_rt_period: Option<u64>,
    /// Real-time scheduling time in microseconds per period.
    #[arg(long = "cpu-rt-runtime", allow_negative_numbers = true)]
    pub cpu_rt_runtime: Option<i64>,
    /// Limit reads from a block device: PATH:RATE (`/dev/sda:1mb`).
    #[arg(long = "device-read-bps")]
    pub device_read_bps: Vec<String>,
    /// Limit writes to a block device: PATH:RATE.
    #[arg(long = "device-write-bps")]
    pub device_write_bps: Vec<String>,
    /// Limit read operations on a block device: PATH:COUNT per second.
    #[arg(long = "device-read-iops")]
    pub device_read_iops: Vec<String>,
    /// Limit write operations on a block device: PATH:COUNT per second.
    #[arg(long = "device-write-iops")]
    pub device_write_iops: Vec<String>,
}

#[derive(Debug, Args)]
pub struct CheckpointArgs {
    /// Every running container.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Keep the container running after the dump.
    #[arg(short = 'R', long = "leave-running")]
    pub leave_running: bool,
    /// Keep CRIU's files (logs, and the images after a restore).
    #[arg(short = 'k', long)]
    pub keep: bool,
    /// Checkpoint established TCP connections.
    #[arg(long = "tcp-established")]
    pub tcp_established: bool,
    /// Checkpoint file locks.
    #[arg(long = "file-locks")]
    pub file_locks: bool,
    /// Also write the checkpoint to an archive, to restore elsewhere.
    #[arg(short = 'e', long)]
    pub export: Option<PathBuf>,
    /// The export's compression: zstd (the default), gzip or none.
    #[arg(short = 'c', long)]
    pub compress: Option<String>,
    /// Also make a checkpoint image of this name (`restore IMAGE` restores from it).
    #[arg(long = "create-image")]
    pub create_image: Option<String>,
    /// CRIU's memory pre-dump (refused: not supported).
    #[arg(short = 'P', long = "pre-checkpoint")]
    pub pre_checkpoint: bool,
    /// A dump on a pre-dump (refused: not supported).
    #[arg(long = "with-previous")]
    pub with_previous: bool,
    /// Leave the root file system's changes out of the export.
    #[arg(long = "ignore-rootfs")]
    pub ignore_rootfs: bool,
    /// Leave the volumes' content out of the export.
    #[arg(long = "ignore-volumes")]
    pub ignore_volumes: bool,
    /// The latest created container.
    #[arg(short = 'l', long)]
    pub latest: bool,
    /// Print how long it took, as JSON.
    #[arg(long = "print-stats")]
    pub print_stats: bool,
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// Every checkpointed container.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Keep the checkpoint's files after the restore.
    #[arg(short = 'k', long)]
    pub keep: bool,
    /// Restore established TCP connections.
    #[arg(long = "tcp-established")]
    pub tcp_established: bool,
    /// Restore file locks.
    #[arg(long = "file-locks")]
    pub file_locks: bool,
    /// Restore from an exported checkpoint (a new container).
    #[arg(short = 'i', long)]
    pub import: Option<PathBuf>,
    /// The new container's name, with --import.
    #[arg(short = 'n', long)]
    pub name: Option<String>,
    /// Leave out the root file system's changes of an imported checkpoint.
    #[arg(long = "ignore-rootfs")]
    pub ignore_rootfs: bool,
    /// Leave out the volumes' content of an imported checkpoint.
    #[arg(long = "ignore-volumes")]
    pub ignore_volumes: bool,
    /// Do not give an imported container its addresses again.
    #[arg(long = "ignore-static-ip")]
    pub ignore_static_ip: bool,
    /// Do not give an imported container its MAC addresses again.
    #[arg(long = "ignore-static-mac")]
    pub ignore_static_mac: bool,
    /// Publish these ports instead of the checkpoint's (with --import).
    #[arg(short = 'p', long = "publish")]
    pub publish: Vec<String>,
    /// A pre-dump's archive (refused: not supported).
    #[arg(long = "import-previous")]
    pub import_previous: Option<std::path::PathBuf>,
    /// Into this pod (refused: rpod does not checkpoint a pod's containers).
    #[arg(long)]
    pub pod: Option<String>,
    /// The latest created container.
    #[arg(short = 'l', long)]
    pub latest: bool,
    /// Print how long it took, as JSON.
    #[arg(long = "print-stats")]
    pub print_stats: bool,
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Show every container, not only the running ones.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Show one reading and exit.
    #[arg(long = "no-stream")]
    pub no_stream: bool,
    /// Keep the previous readings on the screen instead of redrawing.
    #[arg(long = "no-reset")]
    pub no_reset: bool,
    /// Seconds between readings.
    #[arg(short = 'i', long, default_value_t = 5)]
    pub interval: u64,
    /// A Go template, or json.
    #[arg(long)]
    pub format: Option<String>,
    /// The most recently created container.
    #[arg(short = 'l', long)]
    pub latest: bool,
    /// Full container IDs.
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct TopArgs {
    /// The most recently created container (the words are then all descriptors).
    #[arg(short = 'l', long)]
    pub latest: bool,
    /// The container, then descriptors (user, pid, ppid, pcpu, etime, tty, time, args, comm,
    /// group, nice, pgid, state, vsz, hpid, huser, hgroup), or ps(1)'s options (`-ef`,
    /// `aux`), which run the container's own ps.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// Memory limit (e.g. 64m, 1g).
    #[arg(short = 'm', long)]
    pub memory: Option<String>,
    /// Number of CPUs (e.g. 0.5).
    #[arg(long)]
    pub cpus: Option<f64>,
    /// Maximum number of processes (-1 for unlimited).
    #[arg(long = "pids-limit", allow_negative_numbers = true)]
    pub pids_limit: Option<i64>,
    /// Restart policy from now on: no, on-failure[:N], always, unless-stopped.
    #[arg(long)]
    pub restart: Option<String>,
    #[command(flatten)]
    pub limits: LimitArgs,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum NetworkCommand {
    /// Create a bridge network.
    Create(NetworkCreateArgs),
    /// List networks.
    #[command(alias = "list")]
    Ls(NetworkLsArgs),
    /// Show networks' configuration.
    Inspect(NetworkInspectArgs),
    /// Remove networks.
    #[command(alias = "remove")]
    Rm(NetworkRmArgs),
    /// Connect a container to a network.
    Connect(NetworkConnectArgs),
    /// Disconnect a container from a network.
    Disconnect(NetworkDisconnectArgs),
    /// Exit 0 if the network exists, 1 if it does not.
    Exists(ExistsArgs),
    /// Remove every network no container uses (the default one stays).
    Prune(NetworkPruneArgs),
    /// Set running containers' networks up again (firewall rules, interfaces), keeping
    /// their addresses.
    Reload(NetworkReloadArgs),
}

#[derive(Debug, Args)]
pub struct NetworkReloadArgs {
    /// Every running container with networks.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// The most recently created container.
    #[arg(short = 'l', long)]
    pub latest: bool,
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct NetworkCreateArgs {
    /// bridge, or macvlan (-o parent=INTERFACE, -o mode=bridge|private|vepa|passthru).
    #[arg(short = 'd', long, default_value = "bridge")]
    pub driver: String,
    /// A subnet in CIDR form, IPv4 or IPv6 (repeatable; a free /24 of 10.89.0.0/16 when
    /// none is given).
    #[arg(long)]
    pub subnet: Vec<String>,
    /// The gateway of the subnet given in the same place (repeatable; a subnet's first
    /// address when not given).
    #[arg(long)]
    pub gateway: Vec<std::net::IpAddr>,
    /// Give containers addresses from this part of the subnet given in the same place
    /// only (a CIDR; repeatable).
    #[arg(long = "ip-range")]
    pub ip_range: Vec<String>,
    /// The address manager: host-local (rpod's own), or none (containers get no addresses;
    /// dhcp is not supported).
    #[arg(long = "ipam-driver")]
    pub ipam_driver: Option<String>,
    /// A dual-stack network: an IPv4 and an IPv6 subnet (those not given chosen by rpod;
    /// IPv6 ones are random unique local /64s).
    #[arg(long)]
    pub ipv6: bool,
    /// No route to anything outside the network.
    #[arg(long)]
    pub internal: bool,
    /// No aardvark-dns for the network: containers do not resolve each other's names.
    #[arg(long = "disable-dns")]
    pub disable_dns: bool,
    /// The bridge's name on the host (rpodN when not given); a macvlan network's parent.
    #[arg(long = "interface-name")]
    pub interface_name: Option<String>,
    #[arg(long = "label")]
    pub labels: Vec<String>,
    /// Driver options, KEY=VALUE: mtu=BYTES (the bridge's and the containers' interfaces');
    /// a macvlan network's parent=INTERFACE and mode=MODE.
    #[arg(short = 'o', long = "opt")]
    pub opts: Vec<String>,
    /// Reuse an existing network of that name instead of failing.
    #[arg(long = "ignore")]
    pub ignore: bool,
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct NetworkLsArgs {
    /// Leave the table's header out.
    #[arg(long = "noheading", alias = "noheadings")]
    pub no_heading: bool,
    #[arg(short = 'f', long)]
    pub filter: Vec<String>,
    #[arg(long)]
    pub format: Option<String>,
    #[arg(short = 'q', long)]
    pub quiet: bool,
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
}

#[derive(Debug, Args)]
pub struct NetworkInspectArgs {
    #[arg(short = 'f', long)]
    pub format: Option<String>,
    #[arg(required = true)]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct NetworkRmArgs {
    /// Remove the containers that use them too.
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Seconds to wait for a container to stop before killing it.
    #[arg(short = 't', long = "time")]
    pub time: Option<u32>,
    #[arg(required = true)]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct NetworkConnectArgs {
    #[arg(long)]
    pub alias: Vec<String>,
    #[arg(long)]
    pub ip: Option<std::net::Ipv4Addr>,
    #[arg(long)]
    pub ip6: Option<std::net::Ipv6Addr>,
    #[arg(long = "mac-address")]
    pub mac_address: Option<String>,
    pub network: String,
    pub container: String,
}

#[derive(Debug, Args)]
pub struct NetworkDisconnectArgs {
    /// Accepted for podman's sake; a disconnect is never refused for being forced or not.
    #[arg(short = 'f', long)]
    pub force: bool,
    pub network: String,
    pub container: String,
}

#[derive(Debug, Args)]
pub struct NetworkPruneArgs {
    /// Do not ask (rpod never asks).
    #[arg(short = 'f', long)]
    pub force: bool,
    /// label=KEY or label=KEY=VALUE.
    #[arg(long)]
    pub filter: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PortArgs {
    /// Every container's ports.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// The most recently created container (the word is then a port).
    #[arg(short = 'l', long)]
    pub latest: bool,
    /// The container, then optionally one of its ports (PORT[/PROTOCOL]).
    pub args: Vec<String>,
}

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum VolumeCommand {
    /// Create a volume (a random name when none is given).
    Create(VolumeCreateArgs),
    /// List volumes.
    #[command(alias = "list")]
    Ls(VolumeLsArgs),
    /// Show volumes as JSON.
    Inspect(VolumeNamesArgs),
    /// Remove volumes (refused while a container uses one, unless --force).
    #[command(alias = "remove")]
    Rm(VolumeRmArgs),
    /// Remove every volume no container uses.
    Prune(VolumePruneArgs),
    /// Exit 0 if the volume exists, 1 if it does not.
    Exists(ExistsArgs),
    /// Write a volume's content as a tar archive.
    Export(VolumeExportArgs),
    /// Add a tar archive's content to a volume.
    Import(VolumeImportArgs),
    /// Mount volumes' devices (if they have any) and print where their content is.
    Mount(VolumeMountArgs),
    /// Undo volumes' device mounts (refused while a running container uses them).
    #[command(alias = "umount")]
    Unmount(VolumeMountArgs),
    /// Record the volumes the volume plugins have and the store not; forget those they
    /// no longer have.
    Reload,
}

#[derive(Debug, Args)]
pub struct VolumeExportArgs {
    /// Write to this file (standard output when not given).
    #[arg(short = 'o', long)]
    pub output: Option<PathBuf>,
    pub name: String,
}

#[derive(Debug, Args)]
pub struct VolumeImportArgs {
    pub name: String,
    /// A tar archive, or - for standard input.
    pub source: String,
}

#[derive(Debug, Args)]
pub struct VolumeMountArgs {
    #[arg(required = true)]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct VolumeCreateArgs {
    /// `local`, or a volume plugin rpod.conf's [engine.volume_plugins] names.
    #[arg(short = 'd', long, default_value = "local")]
    pub driver: String,
    #[arg(short = 'l', long = "label")]
    pub labels: Vec<String>,
    /// Driver options: the local driver's type=, device=, o=; a plugin's own.
    #[arg(short = 'o', long = "opt")]
    pub opts: Vec<String>,
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct VolumeLsArgs {
    /// name=, driver=, label=KEY[=VALUE], label!=, dangling=true|false, until=, opt=,
    /// scope=local.
    #[arg(short = 'f', long)]
    pub filter: Vec<String>,
    #[arg(long)]
    pub format: Option<String>,
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Leave the table's header out.
    #[arg(long = "noheading", alias = "noheadings", short = 'n')]
    pub no_heading: bool,
}

#[derive(Debug, Args)]
pub struct VolumeNamesArgs {
    #[arg(short = 'f', long)]
    pub format: Option<String>,
    /// Every volume.
    #[arg(short = 'a', long)]
    pub all: bool,
    #[arg(required_unless_present = "all")]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct VolumeRmArgs {
    /// Remove the containers that use them too.
    #[arg(short = 'f', long)]
    pub force: bool,
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Seconds to wait for a container to stop before killing it, with --force.
    #[arg(short = 't', long = "time")]
    pub time: Option<u32>,
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct VolumePruneArgs {
    /// Do not ask (rpod never asks).
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Only volumes that pass: label=KEY[=VALUE], label!=, until=TIME.
    #[arg(long)]
    pub filter: Vec<String>,
}

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum SystemCommand {
    /// Serve the Docker-compatible and libpod REST API.
    Service(ServiceArgs),
    /// Show system information.
    Info(FormatArgs),
    /// Show how much disk images, containers and volumes use.
    Df(DfArgs),
    /// Remove stopped containers, unused networks, dangling images (and volumes).
    Prune(SystemPruneArgs),
    /// Remove every container, image, volume, network and secret.
    Reset(ResetArgs),
    /// Stop every running container; with --new-runtime, move every container to another
    /// OCI runtime.
    Migrate(MigrateArgs),
    /// Renumber locks (rpod numbers none: nothing to do).
    Renumber,
    /// Manage the remote hosts `image scp` copies images to and from.
    #[command(subcommand)]
    Connection(ConnectionCommand),
}

#[derive(Debug, Subcommand)]
pub enum ConnectionCommand {
    /// Record a destination: NAME for ssh://[USER@]HOST[:PORT][/SOCKET] (or USER@HOST),
    /// unix://PATH or tcp://HOST:PORT.
    Add(ConnectionAddArgs),
    /// List the destinations.
    #[command(alias = "ls")]
    List(ConnectionListArgs),
    /// Forget destinations.
    #[command(alias = "rm")]
    Remove(ConnectionRemoveArgs),
    /// Make a destination the default.
    Default(ConnectionNameArgs),
    /// Give a destination another name.
    Rename(ConnectionRenameArgs),
}

// The user namespace of a build's RUN steps, as podman's build flags name it (no doc
// comment: clap would take it as the help text of the build command).
#[derive(Debug, Args, Clone, Default)]
pub struct BuildUsernsFlags {
    /// The RUN steps' user namespace: host (the default; also an empty value), or container
    /// (one of their own, with the ranges below).
    #[arg(long)]
    pub userns: Option<String>,
    /// The RUN steps' UID ranges (CONTAINER_ID:HOST_ID:SIZE, several separated by commas);
    /// also for GIDs without --userns-gid-map.
    #[arg(long = "userns-uid-map")]
    pub uid_map: Vec<String>,
    /// The RUN steps' GID ranges (as --userns-uid-map).
    #[arg(long = "userns-gid-map")]
    pub gid_map: Vec<String>,
    /// The RUN steps' UIDs: this name's ranges in /etc/subuid (as run's --subuidname).
    #[arg(long = "userns-uid-map-user")]
    pub uid_map_user: Option<String>,
    /// The RUN steps' GIDs: this name's ranges in /etc/subgid (as run's --subgidname).
    #[arg(long = "userns-gid-map-group")]
    pub gid_map_group: Option<String>,
}

#[derive(Debug, Args)]
pub struct ConnectionAddArgs {
    pub name: String,
    pub destination: String,
    /// The private key SSH logs in with.
    #[arg(long)]
    pub identity: Option<PathBuf>,
    /// The SSH port (22 unless the destination names one).
    #[arg(short = 'p', long)]
    pub port: Option<u16>,
    /// The path of the service's socket on the host (root's podman socket by default).
    #[arg(long)]
    pub socket_path: Option<String>,
    #[command(flatten)]
    pub tls: crate::connections::TlsPaths,
    /// Make it the default destination.
    #[arg(short = 'd', long)]
    pub default: bool,
}

#[derive(Debug, Args)]
pub struct ConnectionListArgs {
    /// A Go template over .Name, .URI, .Identity, .Default, or `json`.
    #[arg(short = 'f', long)]
    pub format: Option<String>,
    /// Names only.
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct ConnectionRemoveArgs {
    pub name: Option<String>,
    /// Every destination.
    #[arg(short = 'a', long)]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct ConnectionNameArgs {
    pub name: String,
}

#[derive(Debug, Args)]
pub struct ConnectionRenameArgs {
    pub old: String,
    pub new: String,
}

#[derive(Debug, Args)]
pub struct ScpArgs {
    /// IMAGE (of this store) or HOST::IMAGE; HOST is a connection's name or USER@HOST.
    pub source: String,
    /// HOST::[NAME] (the copy tagged NAME there); none copies HOST::IMAGE into this store.
    pub destination: Option<String>,
    /// Print nothing.
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The OCI runtime every container is to use from now on (a name or a path).
    #[arg(long = "new-runtime")]
    pub new_runtime: Option<String>,
}

#[derive(Debug, Args)]
pub struct ResetArgs {
    /// Do not ask for confirmation.
    #[arg(short = 'f', long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct DfArgs {
    /// One line per image, container and volume.
    #[arg(short = 'v', long)]
    pub verbose: bool,
    #[arg(long)]
    pub format: Option<String>,
}

#[derive(Debug, Args)]
pub struct SystemPruneArgs {
    /// Every unused image, not only unnamed ones.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Do not ask (rpod never asks).
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Remove volumes no container uses too.
    #[arg(long)]
    pub volumes: bool,
    /// label=KEY[=VALUE], until=TIME (containers and images).
    #[arg(long)]
    pub filter: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ServiceArgs {
    /// Seconds without a connection before the service exits; 0 serves until stopped.
    #[arg(short = 't', long = "time", default_value_t = 5)]
    pub time: u64,
    /// TLS on a TCP address: the server's certificate chain (PEM).
    #[arg(long = "tls-cert", requires = "tls_key")]
    pub tls_cert: Option<std::path::PathBuf>,
    /// TLS on a TCP address: the server's private key (PEM).
    #[arg(long = "tls-key", requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,
    /// Only clients with a certificate signed by this CA (PEM) get in (with --tls-cert).
    #[arg(long = "tls-client-ca", requires = "tls_cert")]
    pub tls_client_ca: Option<std::path::PathBuf>,
    /// Answer browsers' cross-origin requests from this origin (`*` for any): the CORS
    /// headers on every answer, and preflight OPTIONS requests answered.
    #[arg(long)]
    pub cors: Option<String>,
    /// Where to listen: unix:///PATH or tcp://IP:PORT (default unix://RUNROOT/rpod.sock).
    pub uri: Option<String>,
}

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum ContainerCommand {
    /// Create a container without starting it.
    Create(RunArgs),
    /// Run a command in a new container.
    Run(RunArgs),
    /// Start one or more containers.
    Start(StartArgs),
    /// Stop one or more containers.
    Stop(StopArgs),
    /// Send a signal to one or more containers.
    Kill(KillArgs),
    /// Remove one or more containers.
    Rm(RmArgs),
    /// Create containers in the runtime without starting them (podman's "initialized").
    Init(AllArgs),
    /// Pause all the processes of one or more containers.
    Pause(AllArgs),
    /// Unpause the processes of one or more containers.
    Unpause(AllArgs),
    /// Wait for containers to exit (or reach a state) and print their exit codes.
    Wait(WaitArgs),
    /// List containers.
    #[command(alias = "list", alias = "ls")]
    Ps(PsArgs),
    /// Show the configuration and state of containers.
    Inspect(InspectArgs),
    /// Show containers' logs.
    Logs(LogsArgs),
    /// Attach to a running container's output (and input).
    Attach(AttachArgs),
    /// Run a command in a running container.
    Exec(ExecArgs),
    /// Exit 0 if the container exists, 1 if it does not.
    Exists(ContainerExistsArgs),
    /// Run the command an image's label describes (`podman` in it is rpod, on this store).
    Runlabel(RunlabelArgs),
    /// Clean up a container's runtime resources after it exited (run by conmon).
    Cleanup(CleanupArgs),
    /// Tear down the network of a container being removed, the namespace's lock on
    /// standard input (run by rpod's removal, which goes on meanwhile).
    #[command(hide = true)]
    TeardownNetwork(TeardownNetworkArgs),
    /// Stop and start containers again.
    Restart(RestartArgs),
    /// Give a container another name.
    Rename(RenameArgs),
    /// List what a container changed in its image's files.
    Diff(DiffArgs),
    /// Make a new image from a container's changes.
    Commit(CommitArgs),
    /// Write a container's root file system as a tar.
    Export(ExportArgs),
    /// Copy files between a container and the host.
    Cp(CpArgs),
    /// Mount containers' root file systems on the host.
    Mount(MountArgs),
    /// Undo `mount`.
    #[command(alias = "umount")]
    Unmount(UnmountArgs),
    /// Remove every container that is not running.
    Prune(PruneArgs),
    /// Checkpoint running containers (CRIU): their processes are dumped to disk.
    Checkpoint(CheckpointArgs),
    /// Restore checkpointed containers, or one exported to a file.
    Restore(RestoreArgs),
    /// Change a container's cgroup limits (and restart policy).
    Update(UpdateArgs),
    /// Show containers' resource use.
    Stats(StatsArgs),
    /// Show a container's processes.
    Top(TopArgs),
    /// List a container's published ports.
    Port(PortArgs),
    /// Make a new container like another (other limits, name or image if asked).
    Clone(CloneArgs),
}

#[derive(Debug, Args)]
pub struct CloneArgs {
    /// The clone's name (the original's with -clone by default).
    #[arg(long)]
    pub name: Option<String>,
    /// Remove the original once the clone is made.
    #[arg(long)]
    pub destroy: bool,
    /// With --destroy: remove the original even when it runs.
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Start the clone.
    #[arg(long)]
    pub run: bool,
    /// The pod the clone joins (a pod's container's clone joins its pod by default).
    #[arg(long)]
    pub pod: Option<String>,
    /// Memory limit (e.g. 64m, 1g).
    #[arg(short = 'm', long)]
    pub memory: Option<String>,
    /// Number of CPUs (e.g. 0.5).
    #[arg(long)]
    pub cpus: Option<f64>,
    #[command(flatten)]
    pub limits: LimitArgs,
    pub container: String,
    /// The clone's name (as --name).
    pub new_name: Option<String>,
    /// Another image for the clone.
    pub image: Option<String>,
}

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum ImageCommand {
    /// Import a root file system tarball as an image.
    Import(ImportArgs),
    /// Build an image from a Containerfile (Dockerfile).
    Build(Box<BuildArgs>),
    /// Load images from a docker-archive or oci-archive.
    Load(LoadArgs),
    /// Save images to an archive.
    Save(SaveArgs),
    /// Pull images from a registry.
    Pull(PullArgs),
    /// Push an image to a registry.
    Push(PushArgs),
    /// Search registries for images, or list a repository's tags.
    Search(SearchArgs),
    /// List images.
    #[command(alias = "ls", alias = "list")]
    Images(ImagesArgs),
    /// Remove images.
    #[command(alias = "rmi")]
    Rm(RmiArgs),
    /// Add names to an image.
    Tag(TagArgs),
    /// Exit 0 if the image exists, 1 if it does not.
    Exists(ExistsArgs),
    /// Show the configuration of images.
    Inspect(InspectArgs),
    /// Show how an image was made, newest step first.
    History(HistoryArgs),
    /// Remove names from an image (all when none are given).
    Untag(UntagArgs),
    /// Remove images no container uses (unnamed ones; every one with --all).
    Prune(ImagePruneArgs),
    /// List images as a tree of their layers.
    Tree(TreeArgs),
    /// Show what an image's top layer changes (A added, C changed, D deleted).
    Diff(ImageDiffArgs),
    /// Mount images read-only and print where (every mounted image without names).
    Mount(ImageMountArgs),
    /// Undo image mounts.
    #[command(alias = "umount")]
    Unmount(ImageUnmountArgs),
    /// Show or change the signature policy: which images pull, load and import take.
    #[command(subcommand)]
    Trust(TrustCommand),
    /// Sign images of a registry with a GPG key: signatures in a lookaside store.
    Sign(ImageSignArgs),
    /// Copy an image to or from another host over SSH (see `system connection`).
    Scp(ScpArgs),
}

#[derive(Debug, Args)]
pub struct AutoUpdateArgs {
    /// Only say what would be updated (UPDATED is `pending`).
    #[arg(long)]
    pub dry_run: bool,
    /// Put the previous image back when a unit fails to restart (true by default).
    #[arg(long, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "true")]
    pub rollback: bool,
    /// A Go template over .Unit, .Container, .ContainerID, .ContainerName, .Image,
    /// .Policy, .Updated, or `json`.
    #[arg(long)]
    pub format: Option<String>,
    /// Verify registries' certificates (as pull's --tls-verify).
    #[arg(long = "tls-verify", action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub tls_verify: Option<bool>,
    /// The credentials file (as pull's --authfile).
    #[arg(long, env = "REGISTRY_AUTH_FILE", hide_env = true)]
    pub authfile: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RunlabelArgs {
    /// Print the command instead of running it.
    #[arg(long)]
    pub display: bool,
    /// The container name NAME stands for (default: the image's name without registry,
    /// path or tag).
    #[arg(short = 'n', long)]
    pub name: Option<String>,
    /// Print no progress when the image is pulled.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Remove a container of that name first.
    #[arg(long)]
    pub replace: bool,
    #[command(flatten)]
    pub registry: RegistryFlags,
    /// The label whose value is the command (RUN, INSTALL, UNINSTALL, ...).
    pub label: String,
    /// The image (pulled when it is not here).
    pub image: String,
    /// Arguments added to the command.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ImageSignArgs {
    /// The GPG key to sign with (a fingerprint or user ID of the user's keyring).
    #[arg(long = "sign-by", required = true)]
    pub sign_by: String,
    /// Write the signatures under this directory, laid out as a lookaside store (default:
    /// the staging store registries.d names, else /var/lib/containers/sigstore).
    #[arg(short = 'd', long)]
    pub directory: Option<PathBuf>,
    /// For a manifest list, sign each of its manifests too.
    #[arg(short = 'a', long)]
    pub all: bool,
    #[command(flatten)]
    pub registry: RegistryFlags,
    /// Images on registries ([docker://]REGISTRY/REPOSITORY[:TAG|@DIGEST]).
    #[arg(required = true)]
    pub images: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum TrustCommand {
    /// List the policy's requirements: the default, each registry scope, each transport.
    Show(TrustShowArgs),
    /// Set the requirement of the default or of a registry scope.
    Set(TrustSetArgs),
}

#[derive(Debug, Args)]
pub struct TrustShowArgs {
    /// The policy file (default: the one rpod uses, rpod.conf's or the system's).
    #[arg(short = 'f', long = "policypath")]
    pub policy_path: Option<PathBuf>,
    /// The registries.d directory whose lookaside stores are listed (default: rpod.conf's,
    /// else containers/image's choice).
    #[arg(long = "registrypath")]
    pub registry_path: Option<PathBuf>,
    /// Print the file as it is.
    #[arg(long)]
    pub raw: bool,
    /// Print the entries as JSON.
    #[arg(short = 'j', long)]
    pub json: bool,
    /// Leave the header row out.
    #[arg(short = 'n', long)]
    pub noheading: bool,
    /// Only the entries of this scope (`default`, a registry, namespace or repository).
    pub registry: Option<String>,
}

#[derive(Debug, Args)]
pub struct TrustSetArgs {
    /// The policy file (default: the one rpod uses, rpod.conf's or the system's).
    #[arg(long = "policypath")]
    pub policy_path: Option<PathBuf>,
    /// accept, reject, signedBy (GPG keyrings) or sigstoreSigned (cosign public keys).
    #[arg(short = 't', long = "type", default_value = "signedBy")]
    pub kind: String,
    /// A public key to trust (more than once for several; each must have signed).
    #[arg(short = 'f', long = "pubkeysfile")]
    pub keys: Vec<PathBuf>,
    /// `default`, or a registry (HOST[:PORT], *.DOMAIN), namespace or repository.
    pub registry: String,
}

#[derive(Debug, Args)]
pub struct ImageDiffArgs {
    /// `json` for podman's {"added","changed","deleted"} object.
    #[arg(long)]
    pub format: Option<String>,
    pub image: String,
    /// Compare with this image instead of the layers below the first one's top layer.
    pub other: Option<String>,
}

#[derive(Debug, Args)]
pub struct ImageMountArgs {
    /// Every image.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// `json` for a list of {id, Names, Repositories, mountpoint}.
    #[arg(long)]
    pub format: Option<String>,
    pub images: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ImageUnmountArgs {
    /// Every mounted image.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Accepted (an image mount has no count to force).
    #[arg(short = 'f', long)]
    pub force: bool,
    pub images: Vec<String>,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Full IDs and commands.
    #[arg(long)]
    pub no_trunc: bool,
    /// Only the IDs.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Sizes and dates for people (`false`: bytes and RFC 3339).
    #[arg(short = 'H', long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub human: bool,
    #[arg(long)]
    pub format: Option<String>,
    pub image: String,
}

#[derive(Debug, Args)]
pub struct UntagArgs {
    pub image: String,
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ImagePruneArgs {
    /// Every image no container uses, not only unnamed ones.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Do not ask (rpod never asks).
    #[arg(short = 'f', long)]
    pub force: bool,
    /// label=KEY[=VALUE], label!=..., until=TIME.
    #[arg(long)]
    pub filter: Vec<String>,
    /// Also images used by other tools' containers (rpod's store has none: accepted).
    #[arg(long)]
    pub external: bool,
}

#[derive(Debug, Args)]
pub struct TreeArgs {
    /// The layers of the images built on this one instead of its own.
    #[arg(long = "whatrequires")]
    pub what_requires: bool,
    pub image: String,
}

#[derive(Debug, Args, Clone)]
#[command(disable_help_flag = true)]
pub struct RunArgs {
    #[command(flatten)]
    pub policy: PolicyFlag,
    /// Print help (-h is --hostname here, as in podman).
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    /// Assign a name to the container.
    #[arg(long)]
    pub name: Option<String>,
    /// Run the container in the background and print its ID.
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Remove the container when it exits.
    #[arg(long)]
    pub rm: bool,
    /// Set environment variables (KEY=VALUE, or KEY to take it from rpod's environment).
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Override the image's entrypoint (a JSON array or a single command).
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Working directory inside the container.
    #[arg(short = 'w', long)]
    pub workdir: Option<String>,
    /// User (name or uid, optionally :group) to run as.
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Container host name.
    #[arg(short = 'h', long)]
    pub hostname: Option<String>,
    /// Set metadata (KEY=VALUE).
    #[arg(short = 'l', long = "label")]
    pub labels: Vec<String>,
    /// Signal to stop the container with (default: the image's, else SIGTERM).
    #[arg(long)]
    pub stop_signal: Option<String>,
    /// Seconds to wait for the stop signal before SIGKILL.
    #[arg(long)]
    pub stop_timeout: Option<u32>,
    /// Memory limit (e.g. 64m, 1g).
    #[arg(short = 'm', long)]
    pub memory: Option<String>,
    /// Number of CPUs (e.g. 0.5).
    #[arg(long, allow_negative_numbers = true)]
    pub cpus: Option<f64>,
    /// Maximum number of processes (-1 for unlimited).
    #[arg(long, allow_negative_numbers = true)]
    pub pids_limit: Option<i64>,
    #[command(flatten)]
    pub limits: LimitArgs,
    /// Mount the root file system read-only.
    #[arg(long)]
    pub read_only: bool,
    /// Add capabilities (e.g. NET_ADMIN, CAP_SYS_TIME, ALL).
    #[arg(long = "cap-add")]
    pub cap_add: Vec<String>,
    /// Drop capabilities (e.g. CHOWN, ALL).
    #[arg(long = "cap-drop")]
    pub cap_drop: Vec<String>,
    /// Bind mount a host path: HOST:CONTAINER[:OPTIONS] (ro, rw, z, Z, propagation,
    /// noexec, nosuid, nodev).
    #[arg(short = 'v', long = "volume")]
    pub volume: Vec<String>,
    /// A mount: type=bind|volume|tmpfs|image|devpts,source=...,target=...[,readonly][,...].
    #[arg(long = "mount")]
    pub mount: Vec<String>,
    /// Mount the volumes and bind mounts of another container: CONTAINER[:ro|rw].
    #[arg(long = "volumes-from")]
    pub volumes_from: Vec<String>,
    /// Mount a tmpfs: PATH[:OPTIONS] (size=, mode=, exec, ...).
    #[arg(long = "tmpfs")]
    pub tmpfs: Vec<String>,
    /// Run an init (catatonit) as PID 1 that forwards signals and reaps zombies.
    #[arg(long)]
    pub init: bool,
    /// The init binary for --init.
    #[arg(long = "init-path")]
    pub init_path: Option<PathBuf>,
    /// PID namespace: private, host or container:NAME.
    #[arg(long)]
    pub pid: Option<String>,
    /// IPC namespace: private, shareable, host or container:NAME.
    #[arg(long)]
    pub ipc: Option<String>,
    /// UTS namespace: private, host or container:NAME.
    #[arg(long)]
    pub uts: Option<String>,
    /// cgroup namespace: private (the container sees its cgroup as /), host or
    /// container:NAME.
    #[arg(long)]
    pub cgroupns: Option<String>,
    /// The cgroup to make the container's in (/rpod by default), a path like /mygroup.
    #[arg(long = "cgroup-parent")]
    pub cgroup_parent: Option<String>,
    /// The container's NIS domain name.
    #[arg(long)]
    pub domainname: Option<String>,
    /// Where the seccomp profile comes from: default (rpod's, or --security-opt's), or
    /// image (the image's io.containers.seccomp.profile label, when it has one).
    #[arg(long = "seccomp-policy", default_value = "default", value_parser = ["default", "image"])]
    pub seccomp_policy: String,
    /// The execution domain: LINUX, or LINUX32 (a 32-bit machine to `uname -m`).
    #[arg(long)]
    pub personality: Option<String>,
    /// Containers (comma-separated) started before this one at each start; they cannot
    /// be removed while this one exists.
    #[arg(long, value_delimiter = ',')]
    pub requires: Vec<String>,
    /// The umask of the container's processes (octal, 0022 by default).
    #[arg(long)]
    pub umask: Option<String>,
    /// Leave out a default environment variable (the image's, or PATH, TERM, container).
    #[arg(long)]
    pub unsetenv: Vec<String>,
    /// Leave out every default environment variable.
    #[arg(long = "unsetenv-all")]
    pub unsetenv_all: bool,
    /// Rework a default environment variable: NAME=VALUE, where VALUE may use the
    /// defaults (`PATH=/opt/bin:${PATH}`).
    #[arg(long = "env-merge")]
    pub env_merge: Vec<String>,
    /// Pass rpod's proxy variables (http_proxy, https_proxy, ftp_proxy, no_proxy, and the
    /// same in capitals) on to the container.
    #[arg(long = "http-proxy", default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub http_proxy: bool,
    /// Add /etc/passwd and /etc/group entries for a numeric --user the image lacks.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub passwd: bool,
    /// The template of those entries ($USERNAME, $UID, $GID, $NAME, $HOME replaced).
    #[arg(long = "passwd-entry")]
    pub passwd_entry: Option<String>,
    /// Add this host account (a name or a number) to the container's /etc/passwd.
    #[arg(long)]
    pub hostuser: Vec<String>,
    /// With --read-only: a writable tmpfs on /tmp, /var/tmp and /run.
    #[arg(long = "read-only-tmpfs", default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub read_only_tmpfs: bool,
    /// Remove the image after the container exits, unless another container uses it
    /// (run only; implies --rm).
    #[arg(long)]
    pub rmi: bool,
    #[command(flatten)]
    pub target_platform: PlatformFlags,
    /// Accepted for Docker's scripts; does nothing (as podman).
    #[arg(long = "disable-content-trust", hide = true, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub disable_content_trust: bool,
    /// Size of /dev/shm (64m, 1g, bytes without a unit).
    #[arg(long = "shm-size")]
    pub shm_size: Option<String>,
    /// A namespaced kernel parameter: KEY=VALUE.
    #[arg(long)]
    pub sysctl: Vec<String>,
    /// A resource limit: NAME=SOFT[:HARD] (nofile, nproc, core, ...), or `host` alone.
    #[arg(long)]
    pub ulimit: Vec<String>,
    /// podman's and Docker's no-op: refused, no limit of the kind exists.
    #[arg(long = "kernel-memory", hide = true)]
    pub kernel_memory: Option<String>,
    /// Docker's GPU request (podman 4.3's `run` takes it and ignores it): refused, as rpod
    /// gives a container no GPU.
    #[arg(long, hide = true)]
    pub gpus: Option<String>,
    /// A host device: HOST[:CONTAINER][:PERMISSIONS].
    #[arg(long)]
    pub device: Vec<String>,
    /// An additional group of the container's process (a name or a number).
    #[arg(long = "group-add")]
    pub group_add: Vec<String>,
    /// What the image's VOLUME paths get: bind (an anonymous volume each), tmpfs, ignore.
    #[arg(long = "image-volume", default_value = "bind", value_parser = ["bind", "tmpfs", "ignore"])]
    pub image_volume: String,
    /// Security options: seccomp=unconfined|PROFILE.json, no-new-privileges, label=disable.
    #[arg(long = "security-opt")]
    pub security_opt: Vec<String>,
    /// Give the container every capability, no seccomp filter, no masked paths, all devices.
    #[arg(long)]
    pub privileged: bool,
    /// Read environment variables from a file (KEY=VALUE lines, # comments).
    #[arg(long = "env-file")]
    pub env_file: Vec<PathBuf>,
    /// Give the container all of rpod's environment variables (-e and --env-file win).
    #[arg(long = "env-host")]
    pub env_host: bool,
    /// Read labels from a file (KEY=VALUE lines, # comments).
    #[arg(long = "label-file")]
    pub label_file: Vec<PathBuf>,
    /// Write the container's ID to this file (which must not exist).
    #[arg(long)]
    pub cidfile: Option<PathBuf>,
    /// Restart policy: no, on-failure[:N], always, unless-stopped.
    #[arg(long)]
    pub restart: Option<String>,
    /// An annotation (KEY=VALUE) in the container's OCI spec.
    #[arg(long)]
    pub annotation: Vec<String>,
    /// The container's time zone: a zone name (`Europe/Paris`) or `local` (the host's).
    #[arg(long)]
    pub tz: Option<String>,
    /// Seconds the container may run before its monitor kills it.
    #[arg(long)]
    pub timeout: Option<u32>,
    /// The OOM killer's score adjustment for the container's processes (-1000 to 1000).
    #[arg(long = "oom-score-adj", allow_negative_numbers = true)]
    pub oom_score_adj: Option<i32>,
    /// Write the container's PID to this file at each start.
    #[arg(long)]
    pub pidfile: Option<PathBuf>,
    /// Write the monitor's PID to this file at each start.
    #[arg(long = "conmon-pidfile")]
    pub conmon_pidfile: Option<PathBuf>,
    /// Log driver options: max-size=SIZE (rotated at that size), tag=TAG.
    #[arg(long = "log-opt")]
    pub log_opt: Vec<String>,
    /// systemd mode: true (when the command is /sbin/init, /usr/sbin/init,
    /// /usr/local/sbin/init or systemd), false, always.
    #[arg(long, default_value = "true", value_parser = ["true", "false", "always"])]
    pub systemd: String,
    /// Attach only these streams (stdin, stdout, stderr) to run's terminal.
    #[arg(short = 'a', long = "attach")]
    pub attach: Vec<String>,
    /// The health check command (a shell command, or a JSON array: ["CMD", ...]).
    #[arg(long = "health-cmd")]
    pub health_cmd: Option<String>,
    /// How often the check should run (kept for inspect; rpod runs it on `healthcheck run`).
    #[arg(long = "health-interval", default_value = "30s")]
    pub health_interval: String,
    /// Failures in a row that make the container unhealthy.
    #[arg(long = "health-retries", default_value_t = 3)]
    pub health_retries: u32,
    /// Time after a start during which failures do not count.
    #[arg(long = "health-start-period", default_value = "0s")]
    pub health_start_period: String,
    /// How long one check may take.
    #[arg(long = "health-timeout", default_value = "30s")]
    pub health_timeout: String,
    /// No health check.
    #[arg(long = "no-healthcheck")]
    pub no_healthcheck: bool,
    /// What a check that leaves the container unhealthy does: none, kill, restart, stop.
    #[arg(long = "health-on-failure", default_value = "none")]
    pub health_on_failure: String,
    /// A startup check (needs --health-cmd), run instead of the check after each start
    /// until it passes.
    #[arg(long = "health-startup-cmd")]
    pub health_startup_cmd: Option<String>,
    /// How often the startup check runs.
    #[arg(long = "health-startup-interval", default_value = "30s")]
    pub health_startup_interval: String,
    /// Startup failures in a row that restart the container (0: never).
    #[arg(long = "health-startup-retries", default_value_t = 0)]
    pub health_startup_retries: u32,
    /// Startup passes in a row that end the startup (0 is 1).
    #[arg(long = "health-startup-success", default_value_t = 0)]
    pub health_startup_success: u32,
    /// How long one startup check may take.
    #[arg(long = "health-startup-timeout", default_value = "30s")]
    pub health_startup_timeout: String,
    /// A secret: NAME[,type=mount|env][,target=PATH|VAR][,uid=][,gid=][,mode=].
    #[arg(long)]
    pub secret: Vec<String>,
    /// Pass this many extra file descriptors (3 and up) to the container (run only).
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    /// Allow devices by rule: TYPE MAJOR:MINOR ACCESS (`c 1:3 rwm`).
    #[arg(long = "device-cgroup-rule")]
    pub device_cgroup_rule: Vec<String>,
    /// Keep the OOM killer from killing the container's processes (cgroup v1).
    #[arg(long = "oom-kill-disable")]
    pub oom_kill_disable: bool,
    /// Remove a container of the same name first.
    #[arg(long)]
    pub replace: bool,
    /// When to pull the image: missing (when there is no local one), always, newer (pull,
    /// keeping the local image if the registry cannot be reached) or never.
    #[arg(long, default_value = "missing", value_parser = ["always", "missing", "never", "newer"])]
    pub pull: String,
    /// For pulls: verify the registry's certificate (as pull's --tls-verify).
    #[arg(long = "tls-verify", action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub tls_verify: Option<bool>,
    /// For pulls: the credentials file (as pull's --authfile).
    #[arg(long, env = "REGISTRY_AUTH_FILE", hide_env = true)]
    pub authfile: Option<PathBuf>,
    /// The user namespace: host (the default, unless --uidmap or --gidmap make one of the
    /// container's own), auto[:size=N] (subordinate IDs of user containers no other
    /// container has), or container:NAME (that container's); other modes are not
    /// supported.
    #[arg(long)]
    pub userns: Option<String>,
    /// Whether the container gets cgroups: enabled, no-conmon (the same: rpod's monitor
    /// stays where it was started), disabled (crun and --privileged only); split is not
    /// supported.
    #[arg(long, default_value = "enabled")]
    pub cgroups: String,
    /// cgroup v2 settings (KEY=VALUE): not supported.
    #[arg(long = "cgroup-conf")]
    pub cgroup_conf: Vec<String>,
    /// The pod to join (name or ID), or new:NAME for a new pod.
    #[arg(long)]
    pub pod: Option<String>,
    /// Join the pod whose ID this file holds.
    #[arg(long = "pod-id-file")]
    pub pod_id_file: Option<PathBuf>,
    /// Make the container one of its pod's init containers, run to its end by `pod start`
    /// before the others: at every start of the pod (always) or at the first only (once,
    /// then removed).
    #[arg(long = "init-ctr", value_name = "always|once")]
    pub init_ctr: Option<String>,
    /// Run in a user namespace of its own: container UIDs CONTAINER_ID.. are host UIDs
    /// HOST_ID.. (CONTAINER_ID:HOST_ID:SIZE, repeatable; also for GIDs without --gidmap).
    #[arg(long)]
    pub uidmap: Vec<String>,
    /// GID ranges of the user namespace (CONTAINER_ID:HOST_ID:SIZE, repeatable; also for
    /// UIDs without --uidmap).
    #[arg(long)]
    pub gidmap: Vec<String>,
    /// The user namespace's UIDs: this name's ranges in /etc/subuid, from the container's
    /// ID 0 (also for GIDs without --subgidname).
    #[arg(long)]
    pub subuidname: Option<String>,
    /// The user namespace's GIDs: this name's ranges in /etc/subgid (also for UIDs
    /// without --subuidname).
    #[arg(long)]
    pub subgidname: Option<String>,
    /// Directories in the container (comma-separated, or repeated) that get /etc/hosts and
    /// /etc/resolv.conf under their own etc too.
    #[arg(long)]
    pub chrootdirs: Vec<String>,
    /// How systemd hears of the container's readiness: ignore; conmon (rpod says it is
    /// ready once it started, the monitor its main process); container (the container
    /// says so itself through a socket its monitor passes on, at /run/notify/notify.sock).
    #[arg(long, default_value = "ignore")]
    pub sdnotify: String,
    /// Print no pull progress.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    #[command(flatten)]
    pub net: NetworkFlags,
    /// The first argument is a root file system directory, not an image.
    #[arg(long)]
    pub rootfs: bool,
    /// Log driver: k8s-file, none or passthrough (rpod.conf's containers.log_driver, else
    /// k8s-file, by default).
    #[arg(long)]
    pub log_driver: Option<String>,
    /// Keep stdin open.
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Allocate a pseudo-terminal.
    #[arg(short = 't', long)]
    pub tty: bool,
    #[command(flatten)]
    pub flags: AttachFlags,
    /// Image (or root file system directory with --rootfs), then the command.
    #[arg(required = true, trailing_var_arg = true)]
    pub image_and_command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct CpArgs {
    /// Give what is copied into a container to the container's user (false: keep the
    /// owners the files have).
    #[arg(short = 'a', long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub archive: bool,
    /// Let a directory replace a non-directory and the reverse (refused otherwise)
    #[arg(long)]
    pub overwrite: bool,
    pub source: String,
    pub destination: String,
}

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum SecretCommand {
    /// Create a secret from a file, or from standard input with `-`.
    Create(SecretCreateArgs),
    /// List secrets.
    #[command(alias = "list")]
    Ls(SecretLsArgs),
    /// Show secrets (never their data).
    Inspect(SecretInspectArgs),
    /// Remove secrets no container uses.
    Rm(SecretRmArgs),
    /// Exit 0 if the secret exists, 1 if it does not.
    Exists(ExistsArgs),
}

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum ManifestCommand {
    /// Create a manifest list, of the local images given; print its ID.
    Create(ManifestCreateArgs),
    /// Add a local image to a manifest list (as a push in its format writes it).
    Add(ManifestAddArgs),
    /// Change an entry's platform or annotations.
    Annotate(ManifestAnnotateArgs),
    /// Take an entry (by its digest) out of a manifest list.
    Remove(ManifestRemoveArgs),
    /// Delete manifest lists (their images stay).
    #[command(alias = "delete")]
    Rm(ManifestRmArgs),
    /// Exit 0 if the manifest list exists, 1 if it does not.
    Exists(ExistsArgs),
    /// Show a manifest list, or the manifest a registry has under that name.
    Inspect(ManifestInspectArgs),
    /// Push a manifest list and its images to a registry.
    Push(ManifestPushArgs),
}

#[derive(Debug, Args)]
pub struct ManifestCreateArgs {
    /// Add the images to a list of that name if there is one.
    #[arg(long)]
    pub amend: bool,
    /// Of a registry's list given, every entry (not only this machine's).
    #[arg(long)]
    pub all: bool,
    #[command(flatten)]
    pub registry: RegistryFlags,
    pub name: String,
    pub images: Vec<String>,
}

/// An entry's platform and annotations (`manifest add`, `manifest annotate`).
#[derive(Debug, Args)]
pub struct ManifestEntryFlags {
    #[arg(long)]
    pub arch: Option<String>,
    #[arg(long)]
    pub os: Option<String>,
    #[arg(long)]
    pub variant: Option<String>,
    #[arg(long = "os-version")]
    pub os_version: Option<String>,
    /// OS features (more than once for more).
    #[arg(long = "features", alias = "os-features")]
    pub os_features: Vec<String>,
    /// KEY=VALUE (more than once for more).
    #[arg(long = "annotation")]
    pub annotations: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ManifestAddArgs {
    #[command(flatten)]
    pub entry: ManifestEntryFlags,
    /// Of a registry's list, every entry (not only the one for the platform).
    #[arg(long)]
    pub all: bool,
    #[command(flatten)]
    pub registry: RegistryFlags,
    pub list: String,
    /// A local image, else a registry's (`docker://` for a registry's only).
    pub image: String,
}

#[derive(Debug, Args)]
pub struct ManifestAnnotateArgs {
    #[command(flatten)]
    pub entry: ManifestEntryFlags,
    pub list: String,
    /// The entry's digest (`sha256:` optional).
    pub digest: String,
}

#[derive(Debug, Args)]
pub struct ManifestRemoveArgs {
    pub list: String,
    pub digest: String,
}

#[derive(Debug, Args)]
pub struct ManifestRmArgs {
    /// Ignore lists that do not exist.
    #[arg(short = 'i', long)]
    pub ignore: bool,
    #[arg(required = true)]
    pub lists: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ManifestInspectArgs {
    #[command(flatten)]
    pub registry: RegistryFlags,
    pub name: String,
}

#[derive(Debug, Args)]
pub struct ManifestPushArgs {
    #[command(flatten)]
    pub registry: RegistryFlags,
    /// Push the list's images too (by their digests) before the list.
    #[arg(long, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "true")]
    pub all: bool,
    /// Delete the list once it is pushed.
    #[arg(long)]
    pub rm: bool,
    /// Print nothing but errors.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Write the pushed list's digest to this file.
    #[arg(long)]
    pub digestfile: Option<PathBuf>,
    #[command(flatten)]
    pub signing: SigningFlags,
    /// The list's format: not supported (it is pushed as its entries were made).
    #[arg(short = 'f', long)]
    pub format: Option<String>,
    /// How the images' layers are compressed: gzip (how a list's entries are pushed).
    #[arg(long = "compression-format", default_value = "gzip")]
    pub compression_format: String,
    /// Copy no signatures the images have: rpod keeps none with an image, so none is
    /// copied either way.
    #[arg(long = "remove-signatures")]
    pub remove_signatures: bool,
    pub list: String,
    /// Where to: [docker://]REGISTRY/REPOSITORY[:TAG] (the list's own name without it).
    pub destination: Option<String>,
}

#[derive(Debug, Args)]
pub struct SecretCreateArgs {
    /// `file` (rpod's store) or `shell` (commands of yours, as --driver-opts); rpod.conf's
    /// `[secrets] driver`, else `file`, when not given.
    #[arg(short = 'd', long)]
    pub driver: Option<String>,
    /// The driver's options, KEY=VALUE (comma-separated or repeated): the shell driver's
    /// list, lookup, store and delete commands.
    #[arg(long = "driver-opts")]
    pub driver_opts: Vec<String>,
    /// Read the secret from this environment variable instead of a file.
    #[arg(long)]
    pub env: bool,
    #[arg(short = 'l', long = "label")]
    pub labels: Vec<String>,
    /// Replace a secret of the same name.
    #[arg(long)]
    pub replace: bool,
    pub name: String,
    /// A file, `-` for standard input, or with --env a variable's name.
    pub source: String,
}

#[derive(Debug, Args)]
pub struct SecretLsArgs {
    #[arg(long)]
    pub format: Option<String>,
    #[arg(short = 'q', long)]
    pub quiet: bool,
    #[arg(long)]
    pub noheading: bool,
    /// name=, id=.
    #[arg(short = 'f', long = "filter")]
    pub filter: Vec<String>,
}

#[derive(Debug, Args)]
pub struct SecretInspectArgs {
    #[arg(short = 'f', long)]
    pub format: Option<String>,
    /// Readable lines instead of JSON.
    #[arg(long)]
    pub pretty: bool,
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct SecretRmArgs {
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Ignore secrets that do not exist.
    #[arg(short = 'i', long)]
    pub ignore: bool,
    pub names: Vec<String>,
}

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum HealthcheckCommand {
    /// Run the container's health check once and record the verdict: exit 0 when
    /// healthy, 1 (printing "unhealthy") when not.
    Run(HealthcheckRunArgs),
}

#[derive(Debug, Args)]
pub struct HealthcheckRunArgs {
    pub container: String,
}

#[derive(Debug, Args)]
pub struct MountArgs {
    /// Every container.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Full IDs in the listing.
    #[arg(long, alias = "no-trunc")]
    pub notruncate: bool,
    /// `json` for a list of {id, names, mountpoint}.
    #[arg(long)]
    pub format: Option<String>,
    /// The most recently created container.
    #[arg(short = 'l', long)]
    pub latest: bool,
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct UnmountArgs {
    /// Every mounted container.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Undo every mount of the container at once.
    #[arg(short = 'f', long)]
    pub force: bool,
    /// The most recently created container.
    #[arg(short = 'l', long)]
    pub latest: bool,
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// `json` for podman's {"added","changed","deleted"} object.
    #[arg(long)]
    pub format: Option<String>,
    /// The most recently created container.
    #[arg(short = 'l', long)]
    pub latest: bool,
    /// A container or image, and what to compare it with (a container or image) instead
    /// of its image or parent layers.
    #[arg(num_args = 0..=2)]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct CommitArgs {
    /// The image's author.
    #[arg(short = 'a', long)]
    pub author: Option<String>,
    /// Apply a Dockerfile instruction (CMD, ENTRYPOINT, ENV, EXPOSE, WORKDIR, LABEL, USER,
    /// STOPSIGNAL, VOLUME).
    #[arg(short = 'c', long = "change")]
    pub changes: Vec<String>,
    /// The history entry's comment.
    #[arg(short = 'm', long)]
    pub message: Option<String>,
    /// Pause the container while its changes are read.
    #[arg(short = 'p', long, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub pause: bool,
    /// Print nothing but the image ID (rpod prints nothing else anyway).
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Write the image ID to this file too.
    #[arg(long)]
    pub iidfile: Option<PathBuf>,
    /// One layer with the whole root file system instead of the changes on top of the
    /// image's layers.
    #[arg(short = 's', long)]
    pub squash: bool,
    /// Make the container's volume paths the image's VOLUMEs.
    #[arg(long = "include-volumes")]
    pub include_volumes: bool,
    /// The image format: oci, or docker (which keeps the health check in the image).
    #[arg(short = 'f', long, default_value = "oci")]
    pub format: String,
    pub container: String,
    pub image: Option<String>,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Write to this file (standard output when not given).
    #[arg(short = 'o', long)]
    pub output: Option<PathBuf>,
    pub container: String,
}

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// type=, event=, container=, image= (repeat a key for any of its values).
    #[arg(short = 'f', long = "filter")]
    pub filter: Vec<String>,
    /// A Go template, or `json`.
    #[arg(long)]
    pub format: Option<String>,
    /// Events since this time (RFC 3339, date, Unix seconds, or a duration like 10m).
    #[arg(long)]
    pub since: Option<String>,
    /// Events until this time; the stream ends then.
    #[arg(long)]
    pub until: Option<String>,
    /// Keep printing new events (false: print the past ones and return).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub stream: bool,
    /// Print full IDs (always so; as podman's default).
    #[arg(long = "no-trunc", default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub no_trunc: bool,
}

#[derive(Debug, Args)]
pub struct StartArgs {
    /// Attach to the container's output.
    #[arg(short = 'a', long)]
    pub attach: bool,
    /// Attach stdin.
    #[arg(short = 'i', long)]
    pub interactive: bool,
    #[command(flatten)]
    pub flags: AttachFlags,
    /// Start every container, whatever its state.
    #[arg(long)]
    pub all: bool,
    /// The most recently created container.
    #[arg(short = 'l', long)]
    pub latest: bool,
    /// Containers that pass these filters (ps's keys).
    #[arg(short = 'f', long = "filter")]
    pub filter: Vec<String>,
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct ExecArgs {
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    /// Keep stdin open.
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Allocate a pseudo-terminal.
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Run in the background and print the session ID.
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Set environment variables (KEY=VALUE, or KEY to copy rpod's value).
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Working directory inside the container.
    #[arg(short = 'w', long)]
    pub workdir: Option<String>,
    /// User (name or uid, optionally :group) to run as.
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Give the command every capability.
    #[arg(long)]
    pub privileged: bool,
    /// Pass this many extra file descriptors (3 and up) to the command.
    #[arg(long, default_value_t = 0)]
    pub preserve_fds: u32,
    /// Keys that detach from the session (empty: detaching disabled).
    #[arg(long, default_value = rpod_oci::detach::DEFAULT_DETACH_KEYS)]
    pub detach_keys: String,
    /// Read environment variables from a file (KEY=VALUE lines, # comments; -e wins).
    #[arg(long = "env-file")]
    pub env_file: Vec<PathBuf>,
    /// Run in the most recently created container (the words are then all the command).
    #[arg(short = 'l', long)]
    pub latest: bool,
    /// The container, then the command.
    #[arg(required = true, num_args = 1.., trailing_var_arg = true)]
    pub container_and_command: Vec<String>,
}

// Flags of every command that attaches to a container (not a doc comment: see LimitArgs).
#[derive(Debug, Args, Clone)]
pub struct AttachFlags {
    /// Keys that detach from the container (empty: detaching disabled).
    #[arg(long, default_value = rpod_oci::detach::DEFAULT_DETACH_KEYS)]
    pub detach_keys: String,
    /// Forward signals sent to rpod to the container (non-terminal containers).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub sig_proxy: bool,
}

#[derive(Debug, Args)]
pub struct AttachArgs {
    /// Do not attach stdin.
    #[arg(long)]
    pub no_stdin: bool,
    #[command(flatten)]
    pub flags: AttachFlags,
    /// The most recently created container.
    #[arg(short = 'l', long)]
    pub latest: bool,
    /// Attach to this exec session, started with `exec -d`, instead of a container: its
    /// output from now on, until it ends (rpod exits with its exit code).
    #[arg(long = "exec", value_name = "SESSION", conflicts_with_all = ["latest", "container"])]
    pub exec_session: Option<String>,
    pub container: Option<String>,
}

// How the lifecycle commands name their containers besides `--all` and `--filter` (whose
// help and short flags differ between commands): see `commands/select.rs`. Not a doc
// comment: see LimitArgs.
#[derive(Debug, Args)]
pub struct PickArgs {
    /// The most recently created container.
    #[arg(short = 'l', long)]
    pub latest: bool,
    /// Read a container's ID from this file.
    #[arg(long)]
    pub cidfile: Vec<PathBuf>,
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct StopArgs {
    /// Seconds to wait before killing the container.
    #[arg(
        short = 't',
        long = "time",
        alias = "timeout",
        allow_negative_numbers = true
    )]
    pub time: Option<i64>,
    /// Stop all running containers.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Ignore containers that do not exist.
    #[arg(short = 'i', long)]
    pub ignore: bool,
    /// Containers that pass these filters (ps's keys).
    #[arg(short = 'f', long = "filter")]
    pub filter: Vec<String>,
    #[command(flatten)]
    pub pick: PickArgs,
}

#[derive(Debug, Args)]
pub struct RestartArgs {
    /// Seconds to wait for the stop before killing.
    #[arg(
        short = 't',
        long = "time",
        alias = "timeout",
        allow_negative_numbers = true
    )]
    pub time: Option<i64>,
    /// Every container.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// With --all, only the running ones.
    #[arg(long)]
    pub running: bool,
    /// Containers that pass these filters (ps's keys).
    #[arg(short = 'f', long = "filter")]
    pub filter: Vec<String>,
    #[command(flatten)]
    pub pick: PickArgs,
}

#[derive(Debug, Args)]
pub struct RenameArgs {
    pub container: String,
    pub new_name: String,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Do not ask (rpod never asks).
    #[arg(short = 'f', long)]
    pub force: bool,
    /// label=KEY[=VALUE], label!=..., until=TIMESTAMP|DURATION.
    #[arg(long)]
    pub filter: Vec<String>,
}

#[derive(Debug, Args)]
pub struct KillArgs {
    /// Signal to send (name or number).
    #[arg(short = 's', long, default_value = "KILL")]
    pub signal: String,
    /// Signal all running containers.
    #[arg(short = 'a', long)]
    pub all: bool,
    #[command(flatten)]
    pub pick: PickArgs,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Stop and remove running containers.
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Remove the containers' anonymous volumes too.
    #[arg(short = 'v', long)]
    pub volumes: bool,
    /// Remove all containers.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Ignore containers that do not exist.
    #[arg(short = 'i', long)]
    pub ignore: bool,
    /// Seconds to wait for a forced stop before killing.
    #[arg(short = 't', long = "time", allow_negative_numbers = true)]
    pub time: Option<i64>,
    /// Containers that pass these filters (ps's keys).
    #[arg(long = "filter")]
    pub filter: Vec<String>,
    /// Remove the containers that depend on it (share its namespaces) first.
    #[arg(long)]
    pub depend: bool,
    #[command(flatten)]
    pub pick: PickArgs,
}

#[derive(Debug, Args)]
pub struct AllArgs {
    /// Act on all eligible containers.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Containers that pass these filters (ps's keys).
    #[arg(short = 'f', long = "filter")]
    pub filter: Vec<String>,
    #[command(flatten)]
    pub pick: PickArgs,
}

#[derive(Debug, Args)]
pub struct WaitArgs {
    /// Wait until the container is in one of these states (podman's names); default:
    /// stopped or exited.
    #[arg(long, value_delimiter = ',')]
    pub condition: Vec<String>,
    /// How often to look again for a condition other than an exit (`250ms`, `1s`, or
    /// milliseconds).
    #[arg(short = 'i', long, default_value = "250ms")]
    pub interval: String,
    /// The most recently created container.
    #[arg(short = 'l', long)]
    pub latest: bool,
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PsArgs {
    /// Show all containers, not only running ones.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Print only the IDs.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Do not truncate IDs.
    #[arg(long)]
    pub no_trunc: bool,
    /// Go template or json.
    #[arg(long)]
    pub format: Option<String>,
    /// Filter: status=, name=, id=, label=.
    #[arg(short = 'f', long = "filter")]
    pub filters: Vec<String>,
    /// Show the latest container only.
    #[arg(short = 'l', long)]
    pub latest: bool,
    /// Show the N last created containers (all states).
    #[arg(short = 'n', long = "last")]
    pub last: Option<usize>,
    /// Leave the table's header out.
    #[arg(long = "noheading", alias = "noheadings")]
    pub no_heading: bool,
    /// Sort by command, created, id, image, names, runningfor, size or status.
    #[arg(long, default_value = "created")]
    pub sort: String,
    /// Show the size of what each container wrote, and of its image.
    #[arg(short = 's', long)]
    pub size: bool,
    /// Show the containers' namespaces (inode numbers).
    #[arg(long)]
    pub ns: bool,
    /// Also containers of other tools in the store (rpod's store has none).
    #[arg(long)]
    pub external: bool,
    /// Sync each container's state with its monitor and runtime first (exits recorded).
    #[arg(long)]
    pub sync: bool,
    /// Show the listing again every N seconds, until interrupted.
    #[arg(short = 'w', long)]
    pub watch: Option<u64>,
    /// Show each container's pod (its ID and name).
    #[arg(short = 'p', long)]
    pub pod: bool,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Go template or json.
    #[arg(short = 'f', long)]
    pub format: Option<String>,
    /// What to inspect: container, image, or all.
    #[arg(short = 't', long = "type", default_value = "all")]
    pub kind: String,
    /// Add the containers' sizes: SizeRw (what each wrote) and SizeRootFs (with its image).
    #[arg(short = 's', long)]
    pub size: bool,
    /// The most recently created container.
    #[arg(short = 'l', long)]
    pub latest: bool,
    #[arg(required_unless_present = "latest")]
    pub names: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub struct LogsArgs {
    /// Show only the last N lines.
    #[arg(long, allow_negative_numbers = true)]
    pub tail: Option<i64>,
    /// Prefix each line with its timestamp.
    #[arg(short = 't', long)]
    pub timestamps: bool,
    /// Only lines since this time (RFC 3339, date, Unix seconds, or a duration like 10m).
    #[arg(long)]
    pub since: Option<String>,
    /// Only lines until this time.
    #[arg(long)]
    pub until: Option<String>,
    /// Follow the log: print new lines until the container exits.
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Prefix each line with the container's name (instead of its ID with several).
    #[arg(short = 'n', long)]
    pub names: bool,
    /// Colour each container's prefix.
    #[arg(long)]
    pub color: bool,
    /// The most recently created container.
    #[arg(short = 'l', long)]
    pub latest: bool,
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ExistsArgs {
    pub name: String,
}

#[derive(Debug, Args)]
pub struct ContainerExistsArgs {
    /// Count other tools' containers too (buildah's): rpod's store holds only its own, so
    /// the answer is the same.
    #[arg(long)]
    pub external: bool,
    pub name: String,
}

#[derive(Debug, Args)]
pub struct CleanupArgs {
    /// Accepted for podman compatibility: cleanup only ever acts on stopped containers.
    #[arg(long)]
    pub stopped_only: bool,
    /// Clean up this exec session instead of the container.
    #[arg(long)]
    pub exec: Option<String>,
    /// Every container that has exited.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// The most recently created container.
    #[arg(short = 'l', long)]
    pub latest: bool,
    /// Remove the container after cleaning it up.
    #[arg(long)]
    pub rm: bool,
    /// Remove its image too, unless another container uses it (implies --rm).
    #[arg(long)]
    pub rmi: bool,
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct TeardownNetworkArgs {
    /// The container's full ID.
    pub id: String,
}

// What each RUN step's container of `build` gets: podman build's flags of the same names
// (not a doc comment: see LimitArgs).
#[derive(Debug, Args)]
pub struct BuildStepFlags {
    /// Add a line to the steps' /etc/hosts: HOST:IP.
    #[arg(long = "add-host")]
    pub add_host: Vec<String>,
    /// A DNS server for the steps.
    #[arg(long)]
    pub dns: Vec<String>,
    /// A DNS search domain for the steps.
    #[arg(long = "dns-search")]
    pub dns_search: Vec<String>,
    /// A DNS option for the steps.
    #[arg(long = "dns-option")]
    pub dns_option: Vec<String>,
    /// Do not make /etc/hosts for the steps.
    #[arg(long = "no-hosts")]
    pub no_hosts: bool,
    /// Bind mount a volume into the steps: HOST:CONTAINER[:OPTIONS], as run's.
    #[arg(short = 'v', long = "volume")]
    pub volume: Vec<String>,
    /// Add a capability to the steps.
    #[arg(long = "cap-add")]
    pub cap_add: Vec<String>,
    /// Drop a capability from the steps.
    #[arg(long = "cap-drop")]
    pub cap_drop: Vec<String>,
    /// A security option for the steps, as run's.
    #[arg(long = "security-opt")]
    pub security_opt: Vec<String>,
    /// A resource limit for the steps: NAME=SOFT[:HARD].
    #[arg(long)]
    pub ulimit: Vec<String>,
    /// A host device for the steps, as run's.
    #[arg(long)]
    pub device: Vec<String>,
    /// The size of the steps' /dev/shm.
    #[arg(long = "shm-size")]
    pub shm_size: Option<String>,
    /// The steps' memory limit.
    #[arg(short = 'm', long)]
    pub memory: Option<String>,
    /// The steps' memory and swap limit (-1: unlimited).
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// The steps' CPU shares.
    #[arg(short = 'c', long = "cpu-shares")]
    pub cpu_shares: Option<u64>,
    /// The steps' CPU period (microseconds).
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<u64>,
    /// The steps' CPU quota (microseconds per period).
    #[arg(long = "cpu-quota", allow_negative_numbers = true)]
    pub cpu_quota: Option<i64>,
    /// The CPUs the steps may run on.
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// The memory nodes the steps may use.
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    /// The steps' cgroup parent.
    #[arg(long = "cgroup-parent")]
    pub cgroup_parent: Option<String>,
    /// Pass this process's proxy variables (HTTP_PROXY, ...) to the steps (default true).
    #[arg(long = "http-proxy", action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "true")]
    pub http_proxy: bool,
    /// The steps' PID namespace (host, private, container:ID, ns:PATH).
    #[arg(long)]
    pub pid: Option<String>,
    /// The steps' IPC namespace (host, private, container:ID, ns:PATH).
    #[arg(long)]
    pub ipc: Option<String>,
    /// The steps' UTS namespace (host, private, container:ID, ns:PATH).
    #[arg(long)]
    pub uts: Option<String>,
    /// The steps' cgroup namespace (host, private).
    #[arg(long)]
    pub cgroupns: Option<String>,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    #[command(flatten)]
    pub policy: PolicyFlag,
    #[command(flatten)]
    pub registry: RegistryFlags,
    #[command(flatten)]
    pub step: BuildStepFlags,
    // The RUN steps' user namespace (no doc comment: clap would take it as the help text).
    #[command(flatten)]
    pub userns: BuildUsernsFlags,
    /// A flag for cpp, which preprocesses a Containerfile named *.in (`-DNAME`, `-I DIR`).
    #[arg(long = "cpp-flag", allow_hyphen_values = true)]
    pub cpp_flags: Vec<String>,
    /// Write the image's ID to this file.
    #[arg(long)]
    pub iidfile: Option<std::path::PathBuf>,
    /// The image the first FROM starts from instead of the one it names.
    #[arg(long)]
    pub from: Option<String>,
    /// Write the build's output (its steps, the RUN steps' output, the image's ID) to this
    /// file instead.
    #[arg(long)]
    pub logfile: Option<std::path::PathBuf>,
    /// Add podman's identity label (the buildah version) to the image: only false, as rpod
    /// adds none.
    #[arg(long = "identity-label", action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub identity_label: Option<bool>,
    /// How many stages may be built at once (0: no limit). rpod builds them one after
    /// another, in the Containerfile's order, which every limit allows.
    #[arg(long, default_value_t = 1)]
    pub jobs: u32,
    /// Merge the layers the build makes into one (no build cache then).
    #[arg(long)]
    pub squash: bool,
    /// Merge every layer, the base image's too, into one (no build cache then).
    #[arg(long = "squash-all", conflicts_with = "squash")]
    pub squash_all: bool,
    /// Also write the image's files out: DIR, type=local,dest=DIR, or type=tar,dest=FILE
    /// (- for standard output).
    #[arg(short = 'o', long)]
    pub output: Option<String>,
    /// The architecture to build for (as --platform's).
    #[arg(long)]
    pub arch: Option<String>,
    /// The OS to build for (as --platform's).
    #[arg(long)]
    pub os: Option<String>,
    /// The architecture's variant to build for (as --platform's).
    #[arg(long)]
    pub variant: Option<String>,
    /// A named context for FROM, COPY --from and RUN --mount from=: NAME=DIR, or
    /// NAME=docker-image://IMAGE (also container-image://).
    #[arg(long = "build-context")]
    pub build_contexts: Vec<String>,
    /// The ignore file to use instead of the context's .containerignore or .dockerignore.
    #[arg(long)]
    pub ignorefile: Option<std::path::PathBuf>,
    /// Set an environment variable in the image: KEY=VALUE (KEY alone: this process's).
    #[arg(long = "env")]
    pub env: Vec<String>,
    /// Remove an environment variable from the image.
    #[arg(long)]
    pub unsetenv: Vec<String>,
    /// Date the images and the files of their new layers (seconds since 1970), so that
    /// the same build makes the same image ID.
    #[arg(long, value_name = "SECONDS")]
    pub timestamp: Option<i64>,
    /// Keep no history in the images the build makes.
    #[arg(long = "omit-history")]
    pub omit_history: bool,
    /// The OS version the image requires (its config's os.version), in place of the base's.
    #[arg(long = "os-version")]
    pub os_version: Option<String>,
    /// An OS feature the image requires (its config's os.features), beside the base's.
    #[arg(long = "os-feature")]
    pub os_features: Vec<String>,
    /// How often a pull that may pass is tried again (a registry busy or unreachable).
    #[arg(long)]
    pub retry: Option<u32>,
    /// How long apart (a duration: 2s, 500ms).
    #[arg(long = "retry-delay")]
    pub retry_delay: Option<String>,
    /// Take only steps' images made less than this long ago from the cache (30m, 2h).
    #[arg(long = "cache-ttl")]
    pub cache_ttl: Option<String>,
    /// Name the image (more than once for more names).
    #[arg(short = 't', long = "tag")]
    pub tags: Vec<String>,
    /// The Containerfile (CONTEXT/Containerfile, else CONTEXT/Dockerfile, by default).
    #[arg(short = 'f', long = "file")]
    pub file: Option<std::path::PathBuf>,
    /// A value for an ARG: NAME=VALUE (NAME alone takes this process's variable).
    #[arg(long = "build-arg")]
    pub build_args: Vec<String>,
    /// Build up to this stage and name it.
    #[arg(long)]
    pub target: Option<String>,
    /// A label for the image: KEY=VALUE.
    #[arg(long = "label")]
    pub labels: Vec<String>,
    /// An annotation for the image's manifest: KEY=VALUE (OCI images only).
    #[arg(long = "annotation")]
    pub annotations: Vec<String>,
    /// Print only the image's ID (not the steps or their output).
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Run every step, even one the build cache has.
    #[arg(long)]
    pub no_cache: bool,
    /// A secret for RUN --mount=type=secret: id=ID,src=PATH or id=ID,env=VARIABLE.
    #[arg(long = "secret")]
    pub secrets: Vec<String>,
    /// Forward an ssh agent to `RUN --mount=type=ssh` steps: `default` or ID (this
    /// process's $SSH_AUTH_SOCK), ID=SOCKET, or ID=KEY[,KEY...] (private key files, held
    /// by an agent of the build's own).
    #[arg(long)]
    pub ssh: Vec<String>,
    /// A registry's repository to look for the steps' images in (tagged with their cache
    /// keys) before running them.
    #[arg(long = "cache-from")]
    pub cache_from: Vec<String>,
    /// A registry's repository to push each step's image to, tagged with its cache key.
    #[arg(long = "cache-to")]
    pub cache_to: Vec<String>,
    /// The RUN steps' network: default, none or host.
    #[arg(long)]
    pub network: Option<String>,
    /// Build only the target stage and the stages it takes from (the default); false
    /// builds every stage.
    #[arg(long, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "true")]
    pub skip_unused_stages: bool,
    /// The platform to build for (OS/ARCH[/VARIANT]): base images are for it, and
    /// TARGETPLATFORM and its parts say it.
    #[arg(long)]
    pub platform: Option<String>,
    /// Keep each step's image and take steps from the build cache (the default, or
    /// $BUILDAH_LAYERS); --layers=false removes them at the end.
    #[arg(long, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub layers: Option<bool>,
    /// When base images are pulled: missing (the default), always (also --pull alone or
    /// true), never (or false).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "always")]
    pub pull: Option<String>,
    /// Add the image to this manifest list (made when missing).
    #[arg(long)]
    pub manifest: Option<String>,
    /// The image format: oci (the default, or $BUILDAH_FORMAT), or docker, which keeps
    /// HEALTHCHECK, ONBUILD and SHELL in the image.
    #[arg(long)]
    pub format: Option<String>,
    /// Remove the steps' containers (always done; `--rm=false` is refused).
    #[arg(long, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "true")]
    pub rm: bool,
    /// Remove the steps' containers even when the build fails (always done;
    /// `--force-rm=false` is refused).
    #[arg(long = "force-rm", action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "true")]
    pub force_rm: bool,
    /// Keep the image's layers uncompressed (podman's default): rpod's store always does,
    /// and a push compresses them; accepted either way.
    #[arg(short = 'D', long = "disable-compression", action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "true")]
    pub disable_compression: bool,
    /// Pass standard input to the RUN steps (refused: they read none).
    #[arg(long)]
    pub stdin: bool,
    /// Sign the image with this GPG key (refused: sign it with `image sign` or `push
    /// --sign-by`).
    #[arg(long = "sign-by")]
    pub sign_by: Option<String>,
    /// Build for every platform of the base image (refused: name them with --platform).
    #[arg(long = "all-platforms")]
    pub all_platforms: bool,
    /// Key to decrypt an encrypted base image with (refused: rpod pulls no encrypted
    /// images).
    #[arg(long = "decryption-key")]
    pub decryption_keys: Vec<String>,
    /// How RUN steps are isolated: oci (the OCI runtime, the only one rpod has).
    #[arg(long)]
    pub isolation: Option<String>,
    /// With --logfile: the log goes to LOGFILE_OS_ARCH (the build's platform), as podman
    /// splits a multi-platform build's log.
    #[arg(long)]
    pub logsplit: bool,
    /// Accepted for Docker's scripts; does nothing (as podman: nothing is sent to a
    /// daemon).
    #[arg(long, hide = true)]
    pub compress: bool,
    /// Accepted for Docker's scripts; does nothing (as podman).
    #[arg(long = "disable-content-trust", hide = true, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub disable_content_trust: bool,
    /// The build context: the directory COPY and ADD take files from.
    #[arg(default_value = ".")]
    pub context: std::path::PathBuf,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    #[command(flatten)]
    pub policy: PolicyFlag,
    /// Apply a Dockerfile instruction (CMD, ENTRYPOINT, ENV, WORKDIR, LABEL, USER, STOPSIGNAL).
    #[arg(short = 'c', long = "change")]
    pub changes: Vec<String>,
    /// Commit message for the image history.
    #[arg(short = 'm', long)]
    pub message: Option<String>,
    /// Print nothing but the image ID.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// The operating system the image says it is for (linux by default).
    #[arg(long)]
    pub os: Option<String>,
    /// The architecture the image says it is for (this machine's by default).
    #[arg(long)]
    pub arch: Option<String>,
    /// The architecture's variant (v7, v8, ...).
    #[arg(long)]
    pub variant: Option<String>,
    /// Tarball path, or - for standard input.
    pub source: String,
    pub reference: Option<String>,
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    #[command(flatten)]
    pub policy: PolicyFlag,
    /// Archive or image directory (oci-dir, docker-dir) to read (standard input when not
    /// given).
    #[arg(short = 'i', long)]
    pub input: Option<PathBuf>,
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

#[derive(Debug, Clone, Args)]
pub struct PlatformFlags {
    /// The image's platform: OS/ARCH[/VARIANT] (the one pulled from a manifest list; a
    /// local image for another platform counts as missing).
    #[arg(long)]
    pub platform: Option<String>,
    /// The image's architecture (as --platform).
    #[arg(long)]
    pub arch: Option<String>,
    /// The image's operating system (as --platform).
    #[arg(long)]
    pub os: Option<String>,
    /// The image's architecture variant (as --platform).
    #[arg(long)]
    pub variant: Option<String>,
}

impl PlatformFlags {
    /// The platform asked for, if any.
    pub fn parsed(&self) -> rpod_engine::Result<Option<rpod_engine::image::platform::Platform>> {
        rpod_engine::image::platform::Platform::from_flags(
            self.platform.as_deref(),
            self.os.as_deref(),
            self.arch.as_deref(),
            self.variant.as_deref(),
        )
    }
}

// The signing flags of `push` and `manifest push`. (A plain comment: a flattened struct's
// doc comment would replace the commands' own help text.)
#[derive(Debug, Args)]
pub struct SigningFlags {
    /// Sign the pushed manifest with this GPG key (a fingerprint or user ID of the user's
    /// keyring): the signature goes to the lookaside store registries.d names (file://).
    #[arg(long = "sign-by", value_name = "FINGERPRINT")]
    pub sign_by: Option<String>,
    /// Sign the pushed manifest with this cosign (sigstore) private key: the signature is
    /// stored beside it, where pulls judged by a sigstoreSigned policy find it.
    #[arg(long = "sign-by-sigstore-private-key", value_name = "PATH")]
    pub sign_by_sigstore_private_key: Option<PathBuf>,
    /// The key's passphrase: the first line of this file (asked at the terminal otherwise).
    #[arg(long = "sign-passphrase-file", value_name = "PATH")]
    pub sign_passphrase_file: Option<PathBuf>,
}

// `--signature-policy` of the commands that bring images in. (A plain comment: a
// flattened struct's doc comment would replace the commands' own help text.)
#[derive(Debug, Clone, Args)]
pub struct PolicyFlag {
    /// The signature policy (containers-policy.json) images coming in are judged by,
    /// instead of rpod.conf's or the system's (/etc/containers/policy.json).
    #[arg(long = "signature-policy", value_name = "PATH")]
    pub signature_policy: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RegistryFlags {
    /// Verify the registry's certificate and refuse HTTP (default: yes, unless rpod.conf
    /// lists the registry as insecure); false also lets rpod fall back to HTTP.
    #[arg(long = "tls-verify", action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub tls_verify: Option<bool>,
    /// The credentials file (default: REGISTRY_AUTH_FILE, else
    /// $XDG_RUNTIME_DIR/containers/auth.json, else /run/containers/UID/auth.json).
    #[arg(long, env = "REGISTRY_AUTH_FILE", hide_env = true)]
    pub authfile: Option<PathBuf>,
    /// A directory of CA certificates (*.crt) for the registry (default:
    /// /etc/containers/certs.d/HOST:PORT).
    #[arg(long = "cert-dir")]
    pub cert_dir: Option<PathBuf>,
    /// USERNAME:PASSWORD to use instead of saved credentials.
    #[arg(long)]
    pub creds: Option<String>,
}

#[derive(Debug, Args)]
pub struct PullArgs {
    #[command(flatten)]
    pub policy: PolicyFlag,
    /// Print only the image ID, no progress.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    #[command(flatten)]
    pub registry: RegistryFlags,
    #[command(flatten)]
    pub target_platform: PlatformFlags,
    /// All tags of the repository: not supported.
    #[arg(short = 'a', long = "all-tags")]
    pub all_tags: bool,
    /// Accepted for podman's scripts (Docker's content trust; the signature policy decides).
    #[arg(long = "disable-content-trust", hide = true, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub disable_content_trust: bool,
    #[arg(required = true)]
    pub images: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// Print no progress.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    #[command(flatten)]
    pub registry: RegistryFlags,
    /// The manifest format: oci or v2s2 (Docker's); by default the image's own.
    #[arg(short = 'f', long)]
    pub format: Option<String>,
    /// How layers are compressed: gzip (default), zstd or none (zstd and none: OCI only).
    #[arg(long = "compression-format", default_value = "gzip")]
    pub compression_format: String,
    /// Gzip-compress the layers written to a `dir:` destination (a registry push follows
    /// --compression-format).
    #[arg(long)]
    pub compress: bool,
    /// Accepted for Docker's scripts; does nothing (as podman).
    #[arg(long = "disable-content-trust", hide = true, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub disable_content_trust: bool,
    /// Write the pushed manifest's digest to this file.
    #[arg(long)]
    pub digestfile: Option<PathBuf>,
    /// Accepted for podman's scripts: rpod pushes no signatures.
    #[arg(long = "remove-signatures")]
    pub remove_signatures: bool,
    #[command(flatten)]
    pub signing: SigningFlags,
    pub image: String,
    /// Where to push: [docker://]REGISTRY/REPOSITORY[:TAG] (default: the image's name), or
    /// dir:DIR, oci:DIR[:NAME], docker-archive:FILE[:NAME], oci-archive:FILE[:NAME].
    pub destination: Option<String>,
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// The most results per registry.
    #[arg(long, default_value_t = 25)]
    pub limit: usize,
    /// stars=N, is-official=BOOL, is-automated=BOOL.
    #[arg(short = 'f', long)]
    pub filter: Vec<String>,
    /// A Go template (fields .Index, .Name, .Description, .Stars, .Official, .Automated,
    /// .Tag), or json.
    #[arg(long)]
    pub format: Option<String>,
    /// Do not shorten descriptions.
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Also the STARS, OFFICIAL and AUTOMATED columns, as docker's.
    #[arg(long)]
    pub compatible: bool,
    /// List the tags of the repository given instead.
    #[arg(long = "list-tags")]
    pub list_tags: bool,
    #[command(flatten)]
    pub registry: RegistryFlags,
    /// What to search for: a name, or REGISTRY/NAME to search that registry only.
    pub term: String,
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    #[arg(short = 'u', long)]
    pub username: Option<String>,
    #[arg(short = 'p', long)]
    pub password: Option<String>,
    /// Read the password from standard input.
    #[arg(long = "password-stdin")]
    pub password_stdin: bool,
    /// Print the user name saved for the registry.
    #[arg(long = "get-login")]
    pub get_login: bool,
    /// Also print the credentials file used.
    #[arg(short = 'v', long)]
    pub verbose: bool,
    #[command(flatten)]
    pub registry_flags: RegistryFlags,
    /// The registry (HOST[:PORT][/NAMESPACE]); default: the first search registry.
    pub registry: Option<String>,
}

#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// Remove the credentials of every registry.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// The credentials file (as for login).
    #[arg(long, env = "REGISTRY_AUTH_FILE", hide_env = true)]
    pub authfile: Option<PathBuf>,
    /// The registry (HOST[:PORT][/NAMESPACE]); default: the first search registry.
    pub registry: Option<String>,
}

#[derive(Debug, Args)]
pub struct SaveArgs {
    /// Write to this file (standard output when not given).
    #[arg(short = 'o', long)]
    pub output: Option<PathBuf>,
    /// docker-archive (default), oci-archive, or a directory: oci-dir, docker-dir.
    #[arg(long, default_value = "docker-archive")]
    pub format: String,
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Several images in one docker-archive (rpod's save always takes the names as
    /// images: accepted).
    #[arg(short = 'm', long = "multi-image-archive")]
    pub multi_image_archive: bool,
    /// Keep layers uncompressed (rpod's archives always are: accepted).
    #[arg(long)]
    pub uncompressed: bool,
    /// Compress layers (gzip): for docker-dir only.
    #[arg(long)]
    pub compress: bool,
    #[arg(required = true)]
    pub images: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ImagesArgs {
    #[arg(short = 'q', long)]
    pub quiet: bool,
    #[arg(long)]
    pub no_trunc: bool,
    #[arg(long)]
    pub format: Option<String>,
    #[arg(short = 'a', long)]
    pub all: bool,
    /// reference=PATTERN, dangling=true|false, label=KEY[=VALUE].
    #[arg(short = 'f', long = "filter")]
    pub filter: Vec<String>,
    #[arg(long)]
    pub noheading: bool,
    /// Add a DIGEST column.
    #[arg(long)]
    pub digests: bool,
    /// Add a HISTORY column: the names the image has had.
    #[arg(long)]
    pub history: bool,
    /// Sort by created (newest first), id, repository, size or tag.
    #[arg(long, default_value = "created", value_parser = ["created", "id", "repository", "size", "tag"])]
    pub sort: String,
    /// Only this image (a name or ID).
    pub image: Option<String>,
}

#[derive(Debug, Args)]
pub struct RmiArgs {
    /// Remove containers that use the image too.
    #[arg(short = 'f', long)]
    pub force: bool,
    #[arg(short = 'a', long)]
    pub all: bool,
    #[arg(short = 'i', long)]
    pub ignore: bool,
    /// Keep untagged parent images (rpod's images have no parents to remove: accepted).
    #[arg(long = "no-prune")]
    pub no_prune: bool,
    pub images: Vec<String>,
}

#[derive(Debug, Args)]
pub struct TagArgs {
    pub image: String,
    #[arg(required = true)]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct FormatArgs {
    #[arg(short = 'f', long)]
    pub format: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn about(path: &[&str]) -> String {
        let mut command = Cli::command();
        command.build();
        let mut found = &command;
        for name in path {
            found = found
                .find_subcommand(name)
                .unwrap_or_else(|| panic!("no subcommand {name}"));
        }
        found.get_about().map(|a| a.to_string()).unwrap_or_default()
    }

    /// Deferred arguments are added after a command's own help text; a flattened struct's
    /// doc comment would replace it.
    #[test]
    fn commands_with_shared_flags_keep_their_own_help_text() {
        assert_eq!(about(&["run"]), "Run a command in a new container");
        assert_eq!(
            about(&["pod", "create"]),
            "Create a pod (and its infra container) and print its ID"
        );
        assert_eq!(
            about(&["pod", "clone"]),
            "Make a copy of a pod, with a copy of each of its containers; print its ID"
        );
        assert_eq!(
            about(&["pod", "logs"]),
            "Show the logs of a pod's containers (not the infra container's)"
        );
        assert_eq!(
            about(&["container", "start"]),
            "Start one or more containers"
        );
        assert_eq!(about(&["stop"]), "Stop one or more containers");
        assert_eq!(
            about(&["update"]),
            "Change the cgroup limits of containers, running or not"
        );
    }
}

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum KubeCommand {
    /// Make the pods of a Kubernetes YAML file (Pod, Deployment) and start them.
    Play(Box<KubePlayArgs>),
    /// Stop and remove the pods a Kubernetes YAML file made.
    Down(KubeDownArgs),
    /// Kubernetes YAML (a Pod) for containers or pods, which `kube play` makes again.
    Generate(GenerateKubeArgs),
}

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum PlayCommand {
    /// `kube play`.
    Kube(Box<KubePlayArgs>),
}

#[derive(Debug, Args)]
pub struct KubePlayArgs {
    #[command(flatten)]
    pub policy: PolicyFlag,
    /// Start the pods (true by default).
    #[arg(long, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "true")]
    pub start: bool,
    /// Remove pods of the same names first.
    #[arg(long)]
    pub replace: bool,
    /// No pull progress.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Where `Localhost` seccomp profiles are (default /var/lib/kubelet/seccomp).
    #[arg(long)]
    pub seccomp_profile_root: Option<PathBuf>,
    /// The pods' user namespace: host (the default, unless a pod's hostUsers is false), or
    /// auto[:size=N] (one of their own each).
    #[arg(long)]
    pub userns: Option<String>,
    /// A YAML file of ConfigMaps the pods may take from (more than once, or comma
    /// separated).
    #[arg(long = "configmap", value_delimiter = ',')]
    pub configmaps: Vec<std::path::PathBuf>,
    /// Build images from directories named after them (with a Containerfile) in the
    /// current directory even when they are here; =false: never (by default, when missing).
    #[arg(long, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub build: Option<bool>,
    /// The network every pod joins instead of the default (a network's name, several, or
    /// none, host, bridge), as `pod create --network` takes it.
    #[arg(long)]
    pub network: Vec<String>,
    /// Every container's log driver: k8s-file or none (the configured default otherwise).
    #[arg(long = "log-driver")]
    pub log_driver: Option<String>,
    /// Every container's log options: max-size=SIZE, max-file=N, tag=TAG.
    #[arg(long = "log-opt")]
    pub log_opt: Vec<String>,
    /// Keep the images' /etc/hosts in the pods.
    #[arg(long = "no-hosts")]
    pub no_hosts: bool,
    /// An annotation for every container (KEY=VALUE).
    #[arg(long)]
    pub annotation: Vec<String>,
    /// The pods' addresses (IPv4 or IPv6), in the file's order (repeatable).
    #[arg(long)]
    pub ip: Vec<std::net::IpAddr>,
    /// The pods' MAC addresses, in the file's order (repeatable).
    #[arg(long = "mac-address")]
    pub mac_address: Vec<String>,
    /// Where the directories of images to build are (the current directory by default).
    #[arg(long = "context-dir")]
    pub context_dir: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub registry: RegistryFlags,
    /// `kube down` instead: stop and remove the pods the file made (podman's older
    /// spelling, hidden as in podman; the other flags are not read then).
    #[arg(long, hide = true)]
    pub down: bool,
    /// The YAML file, or - for standard input.
    pub file: String,
}

#[derive(Debug, Args)]
pub struct KubeDownArgs {
    /// The YAML file, or - for standard input.
    pub file: String,
}

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum GenerateCommand {
    /// A systemd unit that runs a container as a service.
    Systemd(Box<GenerateSystemdArgs>),
    /// Kubernetes YAML (a Pod) for containers or pods, which `kube play` makes again.
    Kube(GenerateKubeArgs),
    /// podman's SpecGenerator JSON for a container (PodSpecGenerator for a pod), which the
    /// libpod API's create makes again.
    Spec(GenerateSpecArgs),
}

#[derive(Debug, Args)]
pub struct GenerateSpecArgs {
    /// The JSON on one line.
    #[arg(short = 'c', long)]
    pub compact: bool,
    /// Write the JSON to this file (its path is printed) instead of standard output.
    #[arg(short = 'f', long = "filename")]
    pub filename: Option<std::path::PathBuf>,
    /// Name the spec NAME-clone (the default); =false keeps the name.
    #[arg(short = 'n', long, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "true")]
    pub name: bool,
    /// The container or pod, by name or ID.
    pub target: String,
}

#[derive(Debug, Args)]
pub struct GenerateKubeArgs {
    /// Write the YAML to this file (which must not exist) instead of standard output.
    #[arg(short = 'f', long = "filename")]
    pub filename: Option<std::path::PathBuf>,
    /// A Kubernetes Service (NodePort) for each pod's published ports too, as podman's
    /// (`kube play` reads it and publishes by the pods' hostPorts).
    #[arg(short = 's', long)]
    pub service: bool,
    /// Containers (one pod for all of them) or pods (one each), by name or ID.
    #[arg(required = true)]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct GenerateSystemdArgs {
    /// Name the unit (and the container in it) by the container's name, not its ID.
    #[arg(short = 'n', long)]
    pub name: bool,
    /// A unit that makes a new container at each start (from the container's create
    /// command) and removes it at the stop.
    #[arg(long, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub new: Option<bool>,
    /// A template unit (NAME@.service) whose instances each run a container of their own
    /// (implies --new).
    #[arg(long)]
    pub template: bool,
    /// The unit's Restart= policy.
    #[arg(long = "restart-policy", default_value = "on-failure")]
    pub restart_policy: String,
    /// The unit's RestartSec=.
    #[arg(long = "restart-sec")]
    pub restart_sec: Option<u32>,
    /// Seconds to wait for the container to stop (its own stop timeout by default).
    #[arg(short = 't', long = "time", alias = "stop-timeout")]
    pub time: Option<u32>,
    /// Write NAME.service in the current directory and print its path.
    #[arg(short = 'f', long)]
    pub files: bool,
    /// The unit name's prefix.
    #[arg(long = "container-prefix", default_value = "container")]
    pub container_prefix: String,
    /// The prefix of a pod's unit name.
    #[arg(long = "pod-prefix", default_value = "pod")]
    pub pod_prefix: String,
    /// Between the prefix and the name.
    #[arg(long, default_value = "-")]
    pub separator: String,
    /// Leave out the comment at the top.
    #[arg(long = "no-header")]
    pub no_header: bool,
    /// An Environment= line for the unit (KEY=VALUE).
    #[arg(short = 'e', long)]
    pub env: Vec<String>,
    /// The unit's TimeoutStartSec= (seconds).
    #[arg(long = "start-timeout")]
    pub start_timeout: Option<u32>,
    /// `json`: the unit as {"NAME": "TEXT"}.
    #[arg(long)]
    pub format: Option<String>,
    /// More units to want, be started after, or require.
    #[arg(long)]
    pub wants: Vec<String>,
    #[arg(long)]
    pub after: Vec<String>,
    #[arg(long)]
    pub requires: Vec<String>,
    pub container: String,
}

// The network flags of `run`, `create`, `pod create` and `pod clone` (no doc comment: clap would take
// it as the help text of the commands that flatten it).
#[derive(Debug, Args, Clone)]
pub struct NetworkFlags {
    /// Network mode or networks: bridge (the default), none, host, container:NAME,
    /// ns:PATH, or network names.
    #[arg(long, alias = "net")]
    pub network: Vec<String>,
    /// Publish a port: [IP:][HOST_PORT:]CONTAINER_PORT[/tcp|udp|sctp], ranges allowed.
    #[arg(short = 'p', long = "publish")]
    pub publish: Vec<String>,
    /// Publish every exposed port (the image's and --expose's) on a free host port.
    #[arg(short = 'P', long = "publish-all")]
    pub publish_all: bool,
    /// Expose a port or range (published with -P).
    #[arg(long)]
    pub expose: Vec<String>,
    /// A name server for the container's resolv.conf.
    #[arg(long)]
    pub dns: Vec<String>,
    /// A search domain for the container's resolv.conf ("." for none).
    #[arg(long = "dns-search")]
    pub dns_search: Vec<String>,
    /// A resolver option for the container's resolv.conf.
    #[arg(long = "dns-option", alias = "dns-opt")]
    pub dns_option: Vec<String>,
    /// An /etc/hosts entry: HOST:IP (HOST1;HOST2:IP for several names).
    #[arg(long = "add-host")]
    pub add_host: Vec<String>,
    /// Leave the image's /etc/hosts as it is.
    #[arg(long = "no-hosts")]
    pub no_hosts: bool,
    /// The container's IPv4 address on its (first) network.
    #[arg(long)]
    pub ip: Option<std::net::Ipv4Addr>,
    /// The container's IPv6 address on its (first) network.
    #[arg(long)]
    pub ip6: Option<std::net::Ipv6Addr>,
    /// The container's MAC address on its (first) network.
    #[arg(long = "mac-address")]
    pub mac_address: Option<String>,
    /// Another name the container has on its (first) network's DNS.
    #[arg(long = "network-alias")]
    pub network_alias: Vec<String>,
}

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum PodCommand {
    /// Create a pod (and its infra container) and print its ID.
    Create(Box<PodCreateArgs>),
    /// Make a copy of a pod, with a copy of each of its containers; print its ID.
    Clone(Box<PodCloneArgs>),
    /// List pods.
    #[command(alias = "ls", alias = "list")]
    Ps(PodPsArgs),
    /// Show pods as JSON.
    Inspect(PodInspectArgs),
    /// Start pods' containers, the infra container first.
    Start(PodPickArgs),
    /// Stop pods' containers, the infra container last.
    Stop(PodStopArgs),
    /// Stop, then start pods' containers.
    Restart(PodStopArgs),
    /// Send a signal to pods' running containers.
    Kill(PodKillArgs),
    /// Pause pods' running containers.
    Pause(PodPickArgs),
    /// Unpause pods' paused containers.
    Unpause(PodPickArgs),
    /// Remove pods and their containers.
    #[command(alias = "remove")]
    Rm(PodRmArgs),
    /// Remove every stopped pod (a pod still being set up, `Created`, stays).
    Prune(PodPruneArgs),
    /// Exit 0 if the pod exists, 1 if it does not.
    Exists(ExistsArgs),
    /// Show the logs of a pod's containers (not the infra container's).
    Logs(PodLogsArgs),
    /// Show the processes of a pod's running containers.
    Top(PodTopArgs),
    /// Show the resource use of pods' containers.
    Stats(PodStatsArgs),
}

#[derive(Debug, Args)]
pub struct PodTopArgs {
    /// The most recently created pod (the words are then all descriptors).
    #[arg(short = 'l', long)]
    pub latest: bool,
    /// The pod, then descriptors (those of `top`; not ps(1)'s options).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PodStatsArgs {
    /// Every pod (the default when none is named).
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Show one reading and exit.
    #[arg(long = "no-stream")]
    pub no_stream: bool,
    /// Keep the previous readings on the screen instead of redrawing.
    #[arg(long = "no-reset")]
    pub no_reset: bool,
    /// A Go template, or json.
    #[arg(long)]
    pub format: Option<String>,
    /// The most recently created pod.
    #[arg(short = 'l', long)]
    pub latest: bool,
    pub pods: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PodLogsArgs {
    /// Only this container of the pod.
    #[arg(short = 'c', long)]
    pub container: Option<String>,
    /// `logs`' options; the word is the pod (`-l`: the latest pod).
    #[command(flatten)]
    pub logs: LogsArgs,
}

// A pod's settings that `pod create` and `pod clone` take alike (a clone's replace the
// original's, each when given). Not a doc comment: a flattened struct's would replace the
// commands' own help text.
#[derive(Debug, Default, Args)]
pub struct PodSettingFlags {
    /// The infra container's command (a JSON array or one word).
    #[arg(long = "infra-command")]
    pub infra_command: Option<String>,
    /// Write the infra container's monitor's PID to this file.
    #[arg(long = "infra-conmon-pidfile")]
    pub infra_conmon_pidfile: Option<PathBuf>,
    /// Where the pod's cgroup is made (a path below each hierarchy's root; /rpod by default).
    #[arg(long = "cgroup-parent")]
    pub cgroup_parent: Option<String>,
    /// Read labels from files (KEY=VALUE lines).
    #[arg(long = "label-file")]
    pub label_file: Vec<PathBuf>,
    /// A volume or bind mount every container of the pod gets (as `run -v`).
    #[arg(short = 'v', long)]
    pub volume: Vec<String>,
    /// Every container of the pod gets another container's volumes (CONTAINER[:ro|rw]).
    #[arg(long = "volumes-from")]
    pub volumes_from: Vec<String>,
    /// A host device every container of the pod gets (HOST[:CONTAINER][:PERMISSIONS]).
    #[arg(long)]
    pub device: Vec<String>,
    /// Kernel parameters of the pod's shared namespaces (KEY=VALUE).
    #[arg(long)]
    pub sysctl: Vec<String>,
    /// The size of the pod's /dev/shm (with --share ipc).
    #[arg(long = "shm-size")]
    pub shm_size: Option<String>,
    /// The infra container's security options (as `run --security-opt`).
    #[arg(long = "security-opt")]
    pub security_opt: Vec<String>,
    /// The infra container's PID namespace (host, private); its containers' with --share pid.
    #[arg(long)]
    pub pid: Option<String>,
    /// The infra container's UTS namespace (host, private); its containers' with --share uts.
    #[arg(long)]
    pub uts: Option<String>,
}

#[derive(Debug, Args)]
pub struct PodCreateArgs {
    #[arg(short = 'n', long)]
    pub name: Option<String>,
    /// Settings a clone may give too.
    #[command(flatten)]
    pub pod: PodSettingFlags,
    #[arg(short = 'l', long = "label")]
    pub labels: Vec<String>,
    /// Make an infra container (the default unless --share is empty).
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub infra: Option<bool>,
    /// Namespaces the containers share with the infra container: cgroup, ipc, net, pid,
    /// uts, or none (default ipc,net,uts; +NS adds to the default).
    #[arg(long)]
    pub share: Option<String>,
    /// The pod's host name (its name by default).
    #[arg(long)]
    pub hostname: Option<String>,
    /// The infra container's name (ID prefix-infra by default).
    #[arg(long = "infra-name")]
    pub infra_name: Option<String>,
    /// The infra container's image (rpod's catatonit image by default).
    #[arg(long = "infra-image")]
    pub infra_image: Option<String>,
    /// Write the pod's ID to this file.
    #[arg(long = "pod-id-file")]
    pub pod_id_file: Option<PathBuf>,
    /// When the last container (the infra container aside) exits: continue, or stop the
    /// pod.
    #[arg(long = "exit-policy", default_value = "continue")]
    pub exit_policy: String,
    /// Replace a pod of the same name.
    #[arg(long)]
    pub replace: bool,
    /// Give the pod a cgroup of its own, its containers' parent (true by default).
    #[arg(long = "share-parent", action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub share_parent: Option<bool>,
    #[command(flatten)]
    pub userns: PodUsernsFlags,
    #[command(flatten)]
    pub limits: PodLimitFlags,
    #[command(flatten)]
    pub net: NetworkFlags,
    /// The pod's name, as --name gives it (one or the other).
    #[arg(value_name = "NAME")]
    pub name_word: Option<String>,
}

// A pod's user namespace, for `pod create` and `pod clone` (no doc comment: clap would
// take it for the commands' descriptions).
#[derive(Debug, Args, Default)]
pub struct PodUsernsFlags {
    /// The pod's user namespace, its containers' (host, or auto[:size=N]).
    #[arg(long)]
    pub userns: Option<String>,
    /// The pod's user namespace's UID ranges (CONTAINER_ID:HOST_ID:SIZE, repeatable).
    #[arg(long)]
    pub uidmap: Vec<String>,
    /// The pod's user namespace's GID ranges (CONTAINER_ID:HOST_ID:SIZE, repeatable).
    #[arg(long)]
    pub gidmap: Vec<String>,
    /// The pod's UIDs: this name's ranges in /etc/subuid (also for GIDs without
    /// --subgidname).
    #[arg(long)]
    pub subuidname: Option<String>,
    /// The pod's GIDs: this name's ranges in /etc/subgid (also for UIDs without
    /// --subuidname).
    #[arg(long)]
    pub subgidname: Option<String>,
}

impl PodUsernsFlags {
    pub fn given(&self) -> bool {
        self.userns.is_some()
            || !self.uidmap.is_empty()
            || !self.gidmap.is_empty()
            || self.subuidname.is_some()
            || self.subgidname.is_some()
    }
}

// The limits of a pod's cgroup, for `pod create` and `pod clone` (no doc comment: clap
// would take it as their help text).
#[derive(Debug, Args, Clone, Default)]
pub struct PodLimitFlags {
    /// CPUs' worth of time for the whole pod (e.g. 1.5).
    #[arg(long)]
    pub cpus: Option<f64>,
    /// The pod's relative CPU weight (2 to 262144).
    #[arg(long = "cpu-shares")]
    pub cpu_shares: Option<u64>,
    /// CPUs the pod's containers may run on (e.g. 0-2,4).
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes the pod's containers may use (e.g. 0).
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    /// Memory for the whole pod (e.g. 512m).
    #[arg(short = 'm', long)]
    pub memory: Option<String>,
    /// Memory and swap together for the whole pod, or -1 for no swap limit.
    #[arg(long = "memory-swap")]
    pub memory_swap: Option<String>,
    /// The pod's block I/O weight (10 to 1000).
    #[arg(long = "blkio-weight")]
    pub blkio_weight: Option<u16>,
    /// The pod's block I/O weight on one device: PATH:WEIGHT (`/dev/sda:200`).
    #[arg(long = "blkio-weight-device")]
    pub blkio_weight_device: Vec<String>,
    /// Limit the pod's reads from a block device: PATH:RATE (`/dev/sda:1mb`).
    #[arg(long = "device-read-bps")]
    pub device_read_bps: Vec<String>,
    /// Limit the pod's writes to a block device: PATH:RATE (`/dev/sda:1mb`).
    #[arg(long = "device-write-bps")]
    pub device_write_bps: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PodCloneArgs {
    /// The new pod's name (the original's with -clone by default; also the second word).
    #[arg(short = 'n', long)]
    pub name: Option<String>,
    /// Remove the original pod once the clone is made.
    #[arg(long)]
    pub destroy: bool,
    /// Start the new pod.
    #[arg(long)]
    pub start: bool,
    /// Labels added to the original's.
    #[arg(short = 'l', long = "label")]
    pub labels: Vec<String>,
    /// The new pod's host name.
    #[arg(long)]
    pub hostname: Option<String>,
    /// The new infra container's name.
    #[arg(long = "infra-name")]
    pub infra_name: Option<String>,
    /// Limits that replace the original's.
    #[command(flatten)]
    pub limits: PodLimitFlags,
    /// Settings that replace the original's.
    #[command(flatten)]
    pub settings: PodSettingFlags,
    #[command(flatten)]
    pub net: NetworkFlags,
    // Given, they replace the original's user namespace.
    #[command(flatten)]
    pub userns: PodUsernsFlags,
    pub pod: String,
    pub new_name: Option<String>,
}

#[derive(Debug, Args)]
pub struct PodPsArgs {
    /// id=, name=, label=KEY[=VALUE], status=.
    #[arg(short = 'f', long)]
    pub filter: Vec<String>,
    #[arg(long)]
    pub format: Option<String>,
    #[arg(short = 'q', long)]
    pub quiet: bool,
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Leave the table's header out.
    #[arg(long = "noheading", alias = "noheadings", short = 'n')]
    pub no_heading: bool,
    /// The names of the pods' containers in a column.
    #[arg(long = "ctr-names")]
    pub ctr_names: bool,
    /// The IDs of the pods' containers in a column.
    #[arg(long = "ctr-ids")]
    pub ctr_ids: bool,
    /// The statuses of the pods' containers in a column.
    #[arg(long = "ctr-status")]
    pub ctr_status: bool,
    /// Only the pod made last.
    #[arg(short = 'l', long)]
    pub latest: bool,
    /// The pods' cgroup and namespace in columns.
    #[arg(long)]
    pub ns: bool,
    /// Order by created (newest first, the default), id, name, number (of containers) or
    /// status.
    #[arg(long, default_value = "created")]
    pub sort: String,
}

#[derive(Debug, Args)]
pub struct PodInspectArgs {
    #[arg(short = 'f', long)]
    pub format: Option<String>,
    /// The pod made last.
    #[arg(short = 'l', long)]
    pub latest: bool,
    #[arg(required_unless_present = "latest", conflicts_with = "latest")]
    pub names: Vec<String>,
}

#[derive(Debug, Default, Args)]
pub struct PodPickArgs {
    /// Every pod.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// The pod made last.
    #[arg(short = 'l', long)]
    pub latest: bool,
    /// The pods whose IDs these files hold.
    #[arg(long = "pod-id-file")]
    pub pod_id_file: Vec<PathBuf>,
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PodStopArgs {
    /// Seconds to wait for each container before killing it (its own stop timeout when
    /// not given).
    #[arg(short = 't', long = "time", alias = "timeout")]
    pub time: Option<u32>,
    /// Ignore pods that do not exist.
    #[arg(short = 'i', long)]
    pub ignore: bool,
    #[command(flatten)]
    pub pick: PodPickArgs,
}

#[derive(Debug, Args)]
pub struct PodKillArgs {
    /// Signal to send (name or number).
    #[arg(short = 's', long, default_value = "KILL")]
    pub signal: String,
    #[command(flatten)]
    pub pick: PodPickArgs,
}

#[derive(Debug, Args)]
pub struct PodRmArgs {
    /// Stop running containers first.
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Ignore pods that do not exist.
    #[arg(short = 'i', long)]
    pub ignore: bool,
    /// Seconds to wait for a forced stop before killing.
    #[arg(short = 't', long = "time")]
    pub time: Option<u32>,
    #[command(flatten)]
    pub pick: PodPickArgs,
}

#[derive(Debug, Args)]
pub struct PodPruneArgs {
    /// Do not ask (rpod never asks: accepted for podman's scripts).
    #[arg(short = 'f', long)]
    pub force: bool,
}
