//! OCI runtime spec generation: the image's config plus the container's options.

use std::path::{Path, PathBuf};

use oci_spec::runtime::{
    LinuxCapabilities, LinuxDeviceBuilder, LinuxDeviceCgroupBuilder, LinuxDeviceType,
    LinuxNamespaceType, Mount, MountBuilder, PosixRlimitBuilder, PosixRlimitType, RootBuilder,
    Spec, UserBuilder,
};

use crate::confined::ConfinedDir;
use crate::container::{ContainerConfig, ContainerRecord, NetworkMode};
use crate::{EngineError, Result};

/// The highest open-file limit given to containers (podman's default). The host's hard
/// limit may be lower; asking for more than it fails at create, so the lower one wins.
const MAX_NOFILE: u64 = 1_048_576;

/// The `PATH` of a container whose image and user give none (podman's).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A user resolved against the container's /etc/passwd and /etc/group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedUser {
    pub uid: u32,
    pub gid: u32,
    /// The container process's supplementary groups (`listed_gids`, and the primary group
    /// when a user was named).
    pub additional_gids: Vec<u32>,
    /// The groups the group file lists the user in, when no group was named: an exec's
    /// supplementary groups, as podman's.
    pub listed_gids: Vec<u32>,
    pub home: String,
}

struct PasswdEntry {
    name: String,
    uid: u32,
    gid: u32,
    home: String,
}

/// The largest `/etc/passwd` or `/etc/group` read from an image.
const ACCOUNT_FILE_LIMIT: u64 = 4 << 20;

/// An account file of the container, read inside its root (never through a symlink onto
/// the host, never a device or an unbounded file). Missing is empty.
pub(crate) fn read_account_file(rootfs: &Path, name: &str) -> Result<String> {
    let rel = Path::new("etc").join(name);
    let unreadable = |e: crate::confined::ConfinedError| {
        EngineError::CannotInvoke(format!("unable to read /etc/{name} of the container: {e}"))
    };
    let root = ConfinedDir::open(rootfs).map_err(unreadable)?;
    let bytes = root
        .read_regular(&rel, ACCOUNT_FILE_LIMIT)
        .map_err(unreadable)?
        .unwrap_or_default();
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn read_passwd(rootfs: &Path) -> Result<Vec<PasswdEntry>> {
    Ok(read_account_file(rootfs, "passwd")?
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split(':').collect();
            Some(PasswdEntry {
                name: f.first()?.to_string(),
                uid: f.get(2)?.parse().ok()?,
                gid: f.get(3)?.parse().ok()?,
                home: f.get(5).unwrap_or(&"/").to_string(),
            })
        })
        .collect())
}

/// (name, gid, members) of each group.
fn read_groups(rootfs: &Path) -> Result<Vec<(String, u32, Vec<String>)>> {
    Ok(read_account_file(rootfs, "group")?
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split(':').collect();
            Some((
                f.first()?.to_string(),
                f.get(2)?.parse().ok()?,
                f.get(3)
                    .map(|m| {
                        m.split(',')
                            .filter(|s| !s.is_empty())
                            .map(String::from)
                            .collect()
                    })
                    .unwrap_or_default(),
            ))
        })
        .collect())
}

/// User and group names by ID, from a root file system's `/etc/passwd` and `/etc/group`
/// (read inside it).
pub fn account_names(
    rootfs: &Path,
) -> Result<(
    std::collections::HashMap<u32, String>,
    std::collections::HashMap<u32, String>,
)> {
    let users = read_passwd(rootfs)?
        .into_iter()
        .map(|e| (e.uid, e.name))
        .collect();
    let groups = read_groups(rootfs)?
        .into_iter()
        .map(|(name, gid, _)| (gid, name))
        .collect();
    Ok((users, groups))
}

/// `--group-add keep-groups`: no groups added, the process keeps those it was started with
/// (crun's `run.oci.keep_original_groups` annotation, which `create` adds).
pub const KEEP_GROUPS: &str = "keep-groups";

/// Resolve `--group-add` groups (names or numbers) inside the container's root file system.
pub fn resolve_groups(rootfs: &Path, names: &[String]) -> Result<Vec<u32>> {
    if names.is_empty() || names == [KEEP_GROUPS] {
        return Ok(Vec::new());
    }
    let groups = read_groups(rootfs)?;
    names
        .iter()
        .map(|name| match name.parse::<u32>() {
            Ok(gid) => Ok(gid),
            Err(_) => groups
                .iter()
                .find(|(n, _, _)| n == name)
                .map(|(_, gid, _)| *gid)
                .ok_or_else(|| {
                    EngineError::CannotInvoke(format!(
                        "unable to find group {name}: no matching entries in group file"
                    ))
                }),
        })
        .collect()
}

/// Resolve `user[:group]` (names or numbers) inside the container's root file system. The
/// supplementary groups are, as podman's, those the group file lists the user in (when no
/// group is named) and the primary group when a user was named (none named: root, with
/// its listed groups only).
pub fn resolve_user(rootfs: &Path, spec: &str) -> Result<ResolvedUser> {
    let named = !spec.is_empty();
    let spec = if named { spec } else { "0" };
    let (user_part, group_part) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let passwd = read_passwd(rootfs)?;
    let entry = match user_part.parse::<u32>() {
        Ok(uid) => passwd.iter().find(|e| e.uid == uid),
        Err(_) => Some(passwd.iter().find(|e| e.name == user_part).ok_or_else(|| {
            EngineError::CannotInvoke(format!(
                "unable to find user {user_part}: no matching entries in passwd file"
            ))
        })?),
    };
    let uid = match user_part.parse::<u32>() {
        Ok(uid) => uid,
        Err(_) => entry.map(|e| e.uid).unwrap_or(0),
    };
    let groups = read_groups(rootfs)?;
    let gid = match group_part {
        Some(g) => match g.parse::<u32>() {
            Ok(gid) => gid,
            Err(_) => groups
                .iter()
                .find(|(name, _, _)| name == g)
                .map(|(_, gid, _)| *gid)
                .ok_or_else(|| {
                    EngineError::CannotInvoke(format!(
                        "unable to find group {g}: no matching entries in group file"
                    ))
                })?,
        },
        None => entry.map(|e| e.gid).unwrap_or(0),
    };
    let mut listed_gids: Vec<u32> = match (entry, group_part) {
        (Some(e), None) => groups
            .iter()
            .filter(|(_, _, members)| members.contains(&e.name))
            .map(|(_, gid, _)| *gid)
            .collect(),
        _ => Vec::new(),
    };
    listed_gids.sort_unstable();
    listed_gids.dedup();
    let mut additional_gids = listed_gids.clone();
    if named {
        additional_gids.push(gid);
    }
    additional_gids.sort_unstable();
    additional_gids.dedup();
    Ok(ResolvedUser {
        uid,
        gid,
        additional_gids,
        listed_gids,
        home: entry.map(|e| e.home.clone()).unwrap_or_else(|| "/".into()),
    })
}

/// The owner `COPY --chown=USER[:GROUP]` gives, by Docker's and buildah's rules: a
/// numeric user alone is also the group (`55` is 55:55, whatever the passwd file says), a
/// user's name alone takes its primary group, an empty user is root (`:staff`); names are
/// looked up in the container's files (inside its root).
pub fn resolve_owner(rootfs: &Path, spec: &str) -> Result<(u32, u32)> {
    let (user, group) = match spec.split_once(':') {
        Some((user, group)) => (user, Some(group)),
        None => (spec, None),
    };
    if user.is_empty() && group.unwrap_or("").is_empty() {
        return Err(EngineError::InvalidArg(format!(
            "--chown={spec:?} needs a user or a group"
        )));
    }
    let user = if user.is_empty() { "0" } else { user };
    match (user.parse::<u32>(), group) {
        (Ok(uid), None) => Ok((uid, uid)),
        (_, Some("")) => Err(EngineError::InvalidArg(format!(
            "--chown={spec}: the group after `:` is empty"
        ))),
        (_, group) => {
            let spec = match group {
                Some(group) => format!("{user}:{group}"),
                None => user.to_string(),
            };
            // A name the container lacks is the Containerfile's mistake, not a command
            // that cannot run.
            let resolved = resolve_user(rootfs, &spec).map_err(|e| match e {
                EngineError::CannotInvoke(why) => {
                    EngineError::InvalidArg(format!("--chown={spec}: {why}"))
                }
                e => e,
            })?;
            Ok((resolved.uid, resolved.gid))
        }
    }
}

/// The working directory: one that exists in the image must be a directory; a missing one
/// is refused when it was given and must exist (podman's `--workdir`), else made, as podman
/// does, mode 0755 and owned by the container's user (left to the runtime it would get
/// rpod's private umask); directories above it that were missing too are its root's (the
/// user's in a build's RUN step, as buildah makes them). One on a mount is left to the
/// runtime. Resolved inside the container's root. `owner` and
/// `root` are the user's and root's IDs on the host (mapped, for a container with a user
/// namespace).
pub fn prepare_workdir(
    rootfs: &Path,
    record: &ContainerRecord,
    owner: (u32, u32),
    root: (u32, u32),
) -> Result<()> {
    let (id, workdir) = (record.id(), record.config.workdir.as_str());
    if workdir.is_empty() {
        return Ok(());
    }
    // On a mount it is the runtime's to find or make, in what is mounted there. A path
    // with `..` may lead out of the mount: it is looked for in the root.
    let path = Path::new(workdir);
    let plain = !path
        .components()
        .any(|c| c == std::path::Component::ParentDir);
    if plain
        && record
            .config
            .mounts
            .iter()
            .any(|m| path.starts_with(&m.destination))
    {
        return Ok(());
    }
    let tree = ConfinedDir::open(rootfs)
        .map_err(|e| EngineError::InvalidArg(format!("opening the container's root: {e}")))?;
    match tree.kind_in_root(path) {
        Ok(Some(rustix::fs::FileType::Directory)) => Ok(()),
        Ok(Some(_)) => Err(EngineError::CannotInvoke(format!(
            "workdir {workdir:?} exists on container {id}, but is not a directory"
        ))),
        Ok(None) if record.config.workdir_must_exist => Err(EngineError::CannotInvoke(format!(
            "workdir {workdir:?} does not exist on container {id}"
        ))),
        Ok(None) => {
            // A path through a symlink of the image is left to the runtime, which resolves
            // it inside the container.
            let parents = if record.config.build_step {
                owner
            } else {
                root
            };
            let made = match tree.dir_owned_by(path, parents) {
                Err(crate::confined::ConfinedError::Io { path, source, .. }) => {
                    return Err(EngineError::io(
                        "making the working directory",
                        path,
                        source,
                    ))
                }
                Err(_) => return Ok(()),
                Ok(dir) => dir,
            };
            rustix::fs::fchown(
                &made,
                Some(rustix::fs::Uid::from_raw(owner.0)),
                Some(rustix::fs::Gid::from_raw(owner.1)),
            )
            .map_err(|e| EngineError::io("setting the owner of workdir", workdir, e.into()))
        }
        Err(e) => Err(EngineError::CannotInvoke(format!(
            "workdir {workdir:?}: {e}"
        ))),
    }
}

fn host_nofile_limit() -> u64 {
    nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .map(|(_, hard)| hard.min(MAX_NOFILE))
        .unwrap_or(1024)
}

fn build_err(e: impl std::fmt::Display) -> EngineError {
    EngineError::InvalidArg(format!("generating the OCI spec: {e}"))
}

fn mount(
    destination: &str,
    typ: &str,
    source: impl AsRef<Path>,
    options: &[&str],
) -> Result<Mount> {
    MountBuilder::default()
        .destination(PathBuf::from(destination))
        .typ(typ)
        .source(source.as_ref().to_path_buf())
        .options(options.iter().map(|o| o.to_string()).collect::<Vec<_>>())
        .build()
        .map_err(build_err)
}

/// The file systems every container gets, with podman's options: nothing executable or
/// set-id from `/proc`, `/dev`, `/dev/shm`; `/sys` and its cgroups read-only unless
/// privileged (the cgroups also for systemd mode on cgroup v2, where the container's
/// namespace shows it its own).
fn default_mounts(privileged: bool, writable_cgroup: bool) -> Result<Vec<Mount>> {
    let sys_mode = if privileged { "rw" } else { "ro" };
    let cgroup_mode = if privileged || writable_cgroup {
        "rw"
    } else {
        "ro"
    };
    let shm_size = format!("size={}", crate::isolation::DEFAULT_SHM_SIZE);
    Ok(vec![
        mount("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"])?,
        mount(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "noexec", "strictatime", "mode=755", "size=65536k"],
        )?,
        mount(
            "/dev/pts",
            "devpts",
            "devpts",
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ],
        )?,
        mount(
            "/dev/shm",
            "tmpfs",
            "shm",
            &["nosuid", "noexec", "nodev", "mode=1777", &shm_size],
        )?,
        mount(
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            &["nosuid", "noexec", "nodev"],
        )?,
        mount(
            "/sys",
            "sysfs",
            "sysfs",
            &["nosuid", "noexec", "nodev", sys_mode],
        )?,
        mount(
            "/sys/fs/cgroup",
            "cgroup",
            "cgroup",
            &["nosuid", "noexec", "nodev", "relatime", cgroup_mode],
        )?,
    ])
}

/// systemd mode's file systems (`systemd_mode.rs`) where the user mounted nothing: tmpfs,
/// and on cgroup v1 the container's own `name=systemd` cgroup writable (on v2 the default
/// cgroup mount is writable, `default_mounts`).
fn systemd_mounts(
    cgroup: &crate::systemd_mode::SystemdCgroup,
    later: &mut Vec<Mount>,
    asked: &dyn Fn(&Path) -> bool,
) -> Result<()> {
    use crate::systemd_mode::{SystemdCgroup, TMPFS_OPTIONS, TMPFS_PATHS};
    for path in TMPFS_PATHS {
        if !asked(Path::new(path)) {
            later.push(mount(path, "tmpfs", "tmpfs", TMPFS_OPTIONS)?);
        }
    }
    let destination = "/sys/fs/cgroup/systemd";
    if let (SystemdCgroup::NamedHierarchy(own), false) = (cgroup, asked(Path::new(destination))) {
        let options = ["rbind", "rw", "nosuid", "noexec", "nodev"];
        later.push(mount(destination, "bind", own, &options)?);
    }
    Ok(())
}

/// A file rpod generated for the container (hosts, resolv.conf, ...): writable like the
/// image's own would be, except `.containerenv`, which describes the container to itself.
fn etc_file_mount(source: &Path, destination: &str) -> Result<Mount> {
    let mut options = vec!["rbind", "nosuid", "nodev", "noexec"];
    if destination == "/run/.containerenv" {
        options.push("ro");
    }
    mount(destination, "bind", source, &options)
}

fn id_mappings(
    ranges: &[crate::userns::IdRange],
) -> Result<Vec<oci_spec::runtime::LinuxIdMapping>> {
    ranges
        .iter()
        .map(|r| {
            oci_spec::runtime::LinuxIdMappingBuilder::default()
                .container_id(r.container)
                .host_id(r.host)
                .size(r.size)
                .build()
                .map_err(build_err)
        })
        .collect()
}

/// What `init` prepared on the host for a spec: namespaces to join, generated files.
#[derive(Debug, Clone, Default)]
pub struct Prepared {
    /// A network namespace to join (bridged, another container's, `ns:PATH`); `None` makes
    /// a new one, except with the host's network (`config.network`).
    pub namespace_path: Option<PathBuf>,
    /// (file on the host, path in the container).
    pub files: Vec<(PathBuf, String)>,
    /// Other namespaces joined (`--pid`, `--ipc`, `--uts container:NAME`): by path.
    pub shared: Vec<(LinuxNamespaceType, PathBuf)>,
    /// A `/dev/shm` to bind instead of a new tmpfs (the host's, or a shareable one).
    pub shm_source: Option<PathBuf>,
    /// `--group-add` groups, resolved.
    pub extra_gids: Vec<u32>,
    /// In systemd mode: how its cgroup is made writable.
    pub systemd_cgroup: Option<crate::systemd_mode::SystemdCgroup>,
}

/// The namespaces a `--pid`/`--ipc`/`--uts`/`--cgroupns` mode names, with the host's left
/// out.
fn host_namespaces(config: &ContainerConfig) -> Vec<LinuxNamespaceType> {
    use crate::isolation::NamespaceMode::Host;
    let iso = &config.isolation;
    let mut host = Vec::new();
    if config.network == NetworkMode::Host {
        host.push(LinuxNamespaceType::Network);
    }
    if iso.pid == Host {
        host.push(LinuxNamespaceType::Pid);
    }
    if iso.ipc == Host {
        host.push(LinuxNamespaceType::Ipc);
    }
    if iso.uts == Host {
        host.push(LinuxNamespaceType::Uts);
    }
    if iso.cgroup == Host {
        host.push(LinuxNamespaceType::Cgroup);
    }
    host
}

/// The cgroup (relative to each hierarchy's root) a container runs in: named after its ID,
/// in its `--cgroup-parent` or rpod's own.
pub fn cgroup_path(config: &ContainerConfig) -> String {
    let parent = config
        .cgroup_parent
        .as_deref()
        .unwrap_or(DEFAULT_CGROUP_PARENT);
    format!("/{}/{}", parent.trim_matches('/'), config.id)
}

/// Where containers' cgroups are made unless `--cgroup-parent` says otherwise.
pub const DEFAULT_CGROUP_PARENT: &str = "/rpod";

/// A container's process's umask unless `--umask` says otherwise (podman's).
pub const DEFAULT_UMASK: u32 = 0o022;

/// `--umask`: an octal number up to 0777 (`022`, `0027`).
pub fn parse_umask(text: &str) -> Result<u32> {
    u32::from_str_radix(text, 8)
        .ok()
        .filter(|m| *m <= 0o777 && !text.is_empty())
        .ok_or_else(|| {
            EngineError::InvalidArg(format!(
                "invalid --umask {text:?}: an octal number from 0 to 0777"
            ))
        })
}

/// Check a `--cgroup-parent`: a path of names below each hierarchy's root, which can only
/// name a cgroup there (no `.` or `..`, nothing a runtime would read as a systemd slice).
pub fn check_cgroup_parent(parent: &str) -> Result<()> {
    let names: Vec<&str> = parent.trim_matches('/').split('/').collect();
    let bad = parent.trim_matches('/').is_empty()
        || names
            .iter()
            .any(|n| n.is_empty() || *n == "." || *n == ".." || n.contains(':'))
        || parent.ends_with(".slice");
    if bad {
        return Err(EngineError::InvalidArg(format!(
            "invalid --cgroup-parent {parent:?}: use a cgroup path like /mygroup or /a/b (no ., .. or empty names; systemd slices are not supported)"
        )));
    }
    Ok(())
}

/// The environment of a container's process: its own variables, its secrets', and rpod's
/// defaults as podman's (`PATH`, `TERM=xterm`, `container=podman`, from containers.conf's
/// `env`), unless `--unsetenv` took them away; `HOSTNAME`, and `HOME` once the user's home
/// is known (read from the image's passwd at start), stay whatever is unset: they describe
/// the container rather than default its settings.
pub fn process_env(config: &ContainerConfig, home: Option<&str>) -> Vec<String> {
    let mut env = config.env.clone();
    env.extend(config.secret_env.iter().cloned());
    let wanted = |name: &str| !config.unset_env_all && !config.unset_env.iter().any(|n| n == name);
    let has =
        |env: &[String], name: &str| env.iter().any(|e| crate::environment::name_of(e) == name);
    if wanted("PATH") && !has(&env, "PATH") {
        env.insert(0, format!("PATH={DEFAULT_PATH}"));
    }
    if !has(&env, "HOSTNAME") {
        env.push(format!("HOSTNAME={}", config.hostname));
    }
    if let (Some(home), false) = (home, has(&env, "HOME")) {
        env.push(format!("HOME={home}"));
    }
    if wanted("TERM") && !has(&env, "TERM") {
        env.push("TERM=xterm".into());
    }
    // podman's marker, which tools such as systemd read to know they run in a container.
    if wanted("container") && !has(&env, "container") {
        env.push("container=podman".into());
    }
    if config.systemd && !has(&env, "container_uuid") {
        env.push(format!(
            "container_uuid={}",
            &config.id[..32.min(config.id.len())]
        ));
    }
    env
}

/// The environment a container was configured with, as podman's `commit` keeps it: its
/// own and its image's variables and the defaults (`PATH`, `TERM`, `container`), without
/// what describes this one container (`HOSTNAME`, `HOME`, `container_uuid`, unless the
/// user set them) and never a secret's value.
pub fn configured_env(config: &ContainerConfig) -> Vec<String> {
    let name_of = crate::environment::name_of;
    let given = |name: &str| config.env.iter().any(|e| name_of(e) == name);
    let mut env = without_secrets(config, process_env(config, None));
    env.retain(|entry| {
        let describes = matches!(name_of(entry), "HOSTNAME" | "HOME" | "container_uuid");
        !describes || given(name_of(entry))
    });
    env
}

/// `env` without the variables `--secret NAME,type=env` gave the container: what is shown
/// or kept of its environment never has a secret's value.
pub fn without_secrets(config: &ContainerConfig, mut env: Vec<String>) -> Vec<String> {
    let name_of = crate::environment::name_of;
    env.retain(|entry| {
        !config
            .secret_env
            .iter()
            .any(|secret| name_of(secret) == name_of(entry))
    });
    env
}

/// Generate the spec for `config` with its root at `root_path`.
pub fn generate(
    config: &ContainerConfig,
    root_path: &Path,
    user: &ResolvedUser,
    console_size: Option<rpod_oci::TerminalSize>,
    network: &Prepared,
) -> Result<Spec> {
    let mut spec = Spec::default();
    if !config.annotations.is_empty() {
        spec.set_annotations(Some(
            config
                .annotations
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ));
    }
    // Only a UTS namespace of its own has a hostname to set.
    if config.isolation.uts == crate::isolation::NamespaceMode::Private {
        spec.set_hostname(Some(config.hostname.clone()));
        spec.set_domainname(config.domainname.clone());
    } else {
        spec.set_hostname(None);
    }
    spec.set_root(Some(
        RootBuilder::default()
            .path(root_path.to_path_buf())
            .readonly(config.read_only)
            .build()
            .map_err(build_err)?,
    ));

    let env = process_env(config, Some(&user.home));

    let mut process = spec.process().clone().unwrap_or_default();
    process.set_args(Some(config.args.clone()));
    process.set_env(Some(env));
    process.set_cwd(PathBuf::from(if config.workdir.is_empty() {
        "/"
    } else {
        &config.workdir
    }));
    process.set_terminal(Some(config.terminal));
    if let (true, Some(size)) = (config.terminal, console_size) {
        // The runtime sizes the terminal before the process starts.
        process.set_console_size(Some(
            oci_spec::runtime::BoxBuilder::default()
                .height(u64::from(size.height))
                .width(u64::from(size.width))
                .build()
                .map_err(build_err)?,
        ));
    }
    process.set_no_new_privileges(Some(config.security.no_new_privileges));
    process.set_oom_score_adj(config.oom_score_adj);
    process.set_user(
        UserBuilder::default()
            .uid(user.uid)
            .gid(user.gid)
            .additional_gids({
                let mut gids = user.additional_gids.clone();
                gids.extend(network.extra_gids.iter().copied());
                gids.sort_unstable();
                gids.dedup();
                gids
            })
            // podman's default; without it the process would inherit rpod's private umask.
            .umask(config.umask.unwrap_or(DEFAULT_UMASK))
            .build()
            .map_err(build_err)?,
    );
    let caps = config.security.oci_capabilities();
    let mut process_caps = LinuxCapabilities::default();
    process_caps.set_bounding(Some(caps.clone()));
    process_caps.set_effective(Some(caps.clone()));
    process_caps.set_permitted(Some(caps));
    process_caps.set_inheritable(None);
    process_caps.set_ambient(None);
    process.set_capabilities(Some(process_caps));
    let nofile = host_nofile_limit();
    let mut rlimits = vec![PosixRlimitBuilder::default()
        .typ(PosixRlimitType::RlimitNofile)
        .hard(nofile)
        .soft(nofile)
        .build()
        .map_err(build_err)?];
    // `--ulimit host`: the limits rpod has now, read at each start (as podman's, whose
    // container inherits them).
    let host_ulimits = if config.isolation.ulimits_host {
        crate::isolation::host_ulimits()
    } else {
        Vec::new()
    };
    for ulimit in host_ulimits.iter().chain(&config.isolation.ulimits) {
        let typ: PosixRlimitType = serde_json::from_value(serde_json::json!(ulimit.name))
            .map_err(|e| EngineError::InvalidArg(format!("ulimit {}: {e}", ulimit.name)))?;
        rlimits.retain(|r| r.typ() != typ);
        rlimits.push(
            PosixRlimitBuilder::default()
                .typ(typ)
                .hard(ulimit.hard)
                .soft(ulimit.soft)
                .build()
                .map_err(build_err)?,
        );
    }
    process.set_rlimits(Some(rlimits));
    if config.isolation.init.is_some() {
        // As podman: the init runs the command, forwards signals and reaps orphans.
        let mut args = vec![
            crate::isolation::INIT_IN_CONTAINER.to_string(),
            "--".to_string(),
        ];
        args.extend(config.args.iter().cloned());
        process.set_args(Some(args));
    }
    spec.set_process(Some(process));

    let writable_cgroup = matches!(
        network.systemd_cgroup,
        Some(crate::systemd_mode::SystemdCgroup::Unified)
    );
    let mut mounts = default_mounts(config.security.privileged, writable_cgroup)?;
    if !config.security.proc_opts.is_empty() {
        if let Some(proc) = mounts
            .iter_mut()
            .find(|m| m.destination() == Path::new("/proc"))
        {
            let mut options = proc.options().clone().unwrap_or_default();
            options.extend(config.security.proc_opts.iter().cloned());
            proc.set_options(Some(options));
        }
    }
    if config.isolation.ipc == crate::isolation::NamespaceMode::None {
        mounts.retain(|m| m.destination() != Path::new("/dev/shm"));
    }
    for m in mounts.iter_mut() {
        if m.destination() != Path::new("/dev/shm") {
            continue;
        }
        if let Some(source) = &network.shm_source {
            let options = ["rbind", "nosuid", "noexec", "nodev"];
            *m = mount("/dev/shm", "bind", source, &options)?;
        } else if let Some(size) = config.isolation.shm_size {
            let mut options: Vec<String> = m
                .options()
                .clone()
                .unwrap_or_default()
                .into_iter()
                .filter(|o| !o.starts_with("size="))
                .collect();
            options.push(format!("size={size}"));
            m.set_options(Some(options));
        }
    }
    if let Some(init) = &config.isolation.init {
        let options = ["bind", "ro", "nosuid", "nodev"];
        mounts.push(mount(
            crate::isolation::INIT_IN_CONTAINER,
            "bind",
            init,
            &options,
        )?);
    }
    if let Some(tz) = &config.time_zone {
        let file = crate::mounts::time_zone_file(tz)?;
        mounts.push(mount(
            "/etc/localtime",
            "bind",
            file,
            &["rbind", "ro", "nosuid", "nodev", "rprivate"],
        )?);
    }
    // The user's mounts replace any of ours on the same path. The generated files and the
    // user's mounts go after the defaults, parents before children (a tmpfs on /etc before
    // /etc/hosts).
    let asked = |destination: &Path| {
        config
            .mounts
            .iter()
            .any(|u| Path::new(&u.destination) == destination)
    };
    mounts.retain(|m| !asked(m.destination()));
    // sysfs can only be mounted in a network namespace the container's user namespace owns:
    // one the runtime makes (a bridge's too, for such a container: `netsetup.rs`). The
    // host's, another container's or a path's gets the host's /sys bound instead, as
    // podman does.
    let joins_network = config.network == NetworkMode::Host || network.namespace_path.is_some();
    if config.id_mappings.is_some() && joins_network {
        let mut options = vec!["rbind", "nosuid", "noexec", "nodev"];
        if !config.security.privileged {
            options.push("ro");
        }
        for m in mounts.iter_mut() {
            if m.destination() == Path::new("/sys") {
                *m = mount("/sys", "bind", "/sys", &options)?;
            }
        }
    }
    let mut later: Vec<Mount> = Vec::new();
    for (source, destination) in &network.files {
        if !asked(Path::new(destination)) {
            later.push(etc_file_mount(source, destination)?);
        }
    }
    for mount in &config.mounts {
        later.push(mount.to_oci()?);
    }
    if let Some(cgroup) = &network.systemd_cgroup {
        systemd_mounts(cgroup, &mut later, &asked)?;
    }
    later.sort_by_key(|m| m.destination().components().count());
    mounts.extend(later);
    spec.set_mounts(Some(mounts));

    let mut linux = spec.linux().clone().unwrap_or_default();
    // A user namespace of its own, or another container's (`--userns container:`, joined
    // by path as the other shared ones below); the mappings are that one's either way.
    let user_namespace = match &config.id_mappings {
        Some(mappings) => {
            linux.set_uid_mappings(Some(id_mappings(&mappings.uids)?));
            linux.set_gid_mappings(Some(id_mappings(&mappings.gids)?));
            Some(
                oci_spec::runtime::LinuxNamespaceBuilder::default()
                    .typ(LinuxNamespaceType::User)
                    .build()
                    .map_err(build_err)?,
            )
        }
        None => None,
    };
    let namespaces = linux
        .namespaces()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .chain(user_namespace)
        .filter(|ns| !host_namespaces(config).contains(&ns.typ()))
        .map(|mut ns| {
            if let (LinuxNamespaceType::Network, Some(path)) = (ns.typ(), &network.namespace_path) {
                ns.set_path(Some(path.clone()));
            }
            if let Some((_, path)) = network.shared.iter().find(|(t, _)| *t == ns.typ()) {
                ns.set_path(Some(path.clone()));
            }
            ns
        })
        .collect();
    linux.set_namespaces(Some(namespaces));
    linux.set_cgroups_path((!config.no_cgroups).then(|| PathBuf::from(cgroup_path(config))));
    if config.security.privileged {
        linux.set_masked_paths(None);
        linux.set_readonly_paths(None);
    } else {
        linux.set_masked_paths(Some(config.security.masked_paths()));
        linux.set_readonly_paths(Some(config.security.readonly_paths()));
    }
    linux.set_seccomp(config.security.seccomp()?);
    if let Some(personality) = &config.personality {
        let domain = match personality.as_str() {
            "LINUX32" => oci_spec::runtime::LinuxPersonalityDomain::PerLinux32,
            _ => oci_spec::runtime::LinuxPersonalityDomain::PerLinux,
        };
        linux.set_personality(Some(
            oci_spec::runtime::LinuxPersonalityBuilder::default()
                .domain(domain)
                .build()
                .map_err(build_err)?,
        ));
    }
    let mut sysctls = config.isolation.sysctls.clone();
    if let Some(domain) = spec.domainname() {
        // Also as a sysctl: runc before 1.2 ignores the spec's `domainname`.
        sysctls
            .entry("kernel.domainname".to_string())
            .or_insert_with(|| domain.clone());
    }
    if !sysctls.is_empty() {
        linux.set_sysctl(Some(sysctls.into_iter().collect()));
    }
    // Device access: none but the runtime's defaults and `--device`'s; a privileged
    // container may use any.
    let mut device_rules = vec![LinuxDeviceCgroupBuilder::default()
        .allow(config.security.privileged)
        .access("rwm")
        .build()
        .map_err(build_err)?];
    let mut devices = Vec::new();
    for device in &config.isolation.devices {
        let (kind, major, minor) =
            crate::isolation::device_kind(&device.host)?.ok_or_else(|| {
                EngineError::InvalidArg(format!(
                    "--device {}: no longer a device",
                    device.host.display()
                ))
            })?;
        let typ = if kind == 'b' {
            LinuxDeviceType::B
        } else {
            LinuxDeviceType::C
        };
        let mode = std::fs::metadata(&device.host)
            .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777)
            .unwrap_or(0o666);
        devices.push(
            LinuxDeviceBuilder::default()
                .path(device.container.clone())
                .typ(typ)
                .major(major)
                .minor(minor)
                .file_mode(mode)
                .uid(0u32)
                .gid(0u32)
                .build()
                .map_err(build_err)?,
        );
        device_rules.push(
            LinuxDeviceCgroupBuilder::default()
                .allow(true)
                .typ(typ)
                .major(major)
                .minor(minor)
                .access(device.permissions.clone())
                .build()
                .map_err(build_err)?,
        );
    }
    for rule in &config.isolation.device_cgroup_rules {
        let mut builder = LinuxDeviceCgroupBuilder::default()
            .allow(true)
            .access(rule.access.clone());
        builder = match rule.kind {
            'b' => builder.typ(LinuxDeviceType::B),
            'c' => builder.typ(LinuxDeviceType::C),
            _ => builder.typ(LinuxDeviceType::A),
        };
        if let Some(major) = rule.major {
            builder = builder.major(major);
        }
        if let Some(minor) = rule.minor {
            builder = builder.minor(minor);
        }
        device_rules.push(builder.build().map_err(build_err)?);
    }
    if config.security.privileged {
        // The host's devices, as podman gives them (a `--device` at the same path wins).
        for host in crate::isolation::host_devices(Path::new("/dev")) {
            if devices.iter().any(|d| d.path() == &host.path) {
                continue;
            }
            devices.push(
                LinuxDeviceBuilder::default()
                    .path(host.path)
                    .typ(if host.kind == 'b' {
                        LinuxDeviceType::B
                    } else {
                        LinuxDeviceType::C
                    })
                    .major(host.major)
                    .minor(host.minor)
                    .file_mode(host.mode)
                    .uid(host.uid)
                    .gid(host.gid)
                    .build()
                    .map_err(build_err)?,
            );
        }
    }
    if !devices.is_empty() {
        linux.set_devices(Some(devices));
    }
    // Without cgroups (`--cgroups disabled`, privileged) there is nothing to limit.
    if config.no_cgroups {
        linux.set_resources(None);
    } else {
        let resources = crate::resources::limits(config)?.devices(device_rules);
        linux.set_resources(Some(resources.build().map_err(build_err)?));
    }
    spec.set_linux(Some(linux));
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::ContainerConfig;

    /// The spec `generate` makes for `config`, for root, as JSON.
    fn spec_json(config: &ContainerConfig, prepared: &Prepared) -> serde_json::Value {
        let user = ResolvedUser {
            uid: 0,
            gid: 0,
            additional_gids: vec![],
            listed_gids: vec![],
            home: "/".into(),
        };
        let spec = generate(config, Path::new("/m"), &user, None, prepared).unwrap();
        serde_json::to_value(spec).unwrap()
    }

    fn config() -> ContainerConfig {
        ContainerConfig {
            id: "abc".into(),
            args: vec!["/bin/sh".into()],
            env: vec!["A=1".into()],
            workdir: "/srv".into(),
            hostname: "host1".into(),
            memory: Some(64 << 20),
            cpus: Some(0.5),
            pids_limit: Some(100),
            read_only: true,
            network: NetworkMode::Host,
            security: crate::security::SecurityOptions {
                seccomp: crate::security::SeccompChoice::Unconfined,
                ..Default::default()
            },
            ..crate::container::test_config()
        }
    }

    #[test]
    fn a_working_directory_given_must_exist_unless_it_lies_on_a_mount() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("data")).unwrap();
        let me = (
            nix::unistd::getuid().as_raw(),
            nix::unistd::getgid().as_raw(),
        );
        let record = |workdir: &str, must_exist: bool| crate::container::ContainerRecord {
            config: ContainerConfig {
                workdir: workdir.into(),
                workdir_must_exist: must_exist,
                mounts: vec![crate::mounts::tmpfs("/data/", &[]).unwrap()],
                ..config()
            },
            state: crate::container::ContainerState::new(),
        };
        let prepare = |workdir: &str, must_exist: bool| {
            prepare_workdir(root.path(), &record(workdir, must_exist), me, me)
        };
        let err = prepare("/missing", true).unwrap_err();
        assert!(
            err.to_string().contains("does not exist on container abc"),
            "{err}"
        );
        assert!(!root.path().join("missing").exists());
        // On a mount (whatever the slashes), left to the runtime: nothing made here.
        prepare("/data/sub", true).unwrap();
        prepare("/data", true).unwrap();
        assert!(!root.path().join("data/sub").exists());
        // `..` leads out of the mount: looked for in the root.
        let err = prepare("/data/../missing", true).unwrap_err();
        assert!(err.to_string().contains("does not exist"), "{err}");
        // Not given (the image's): made.
        prepare("/made/here", false).unwrap();
        assert!(root.path().join("made/here").is_dir());
    }

    #[test]
    fn a_user_namespace_has_its_mappings_and_sysfs_where_it_can() {
        let mappings = crate::userns::IdMappings::from_flags(
            &["0:100000:65536".to_string()],
            &["0:200000:1000".to_string()],
        )
        .unwrap();
        let sys = |json: &serde_json::Value| {
            json["mounts"]
                .as_array()
                .unwrap()
                .iter()
                .find(|m| m["destination"] == "/sys")
                .cloned()
                .unwrap()
        };
        // A network namespace the runtime makes (`none`): sysfs of its own.
        let own_network = ContainerConfig {
            network: NetworkMode::None,
            id_mappings: mappings.clone(),
            ..config()
        };
        let json = spec_json(&own_network, &Prepared::default());
        let namespaces = json["linux"]["namespaces"].as_array().unwrap();
        assert!(namespaces.iter().any(|n| n["type"] == "user"));
        assert_eq!(
            json["linux"]["uidMappings"],
            serde_json::json!([{"containerID": 0, "hostID": 100000, "size": 65536}])
        );
        assert_eq!(
            json["linux"]["gidMappings"],
            serde_json::json!([{"containerID": 0, "hostID": 200000, "size": 1000}])
        );
        assert_eq!(sys(&json)["type"], "sysfs");
        // The host's network, or one rpod made (a bridge's): the host's /sys, read-only.
        for (network, path) in [
            (NetworkMode::Host, None),
            (NetworkMode::None, Some(PathBuf::from("/run/netns/x"))),
        ] {
            let joined = ContainerConfig {
                network,
                id_mappings: mappings.clone(),
                ..config()
            };
            let prepared = Prepared {
                namespace_path: path,
                ..Prepared::default()
            };
            let sys = sys(&spec_json(&joined, &prepared));
            assert_eq!(sys["type"], "bind");
            assert_eq!(sys["source"], "/sys");
            assert!(sys["options"].as_array().unwrap().iter().any(|o| o == "ro"));
        }
        // Another container's (`--userns container:`): joined by path, with its mappings.
        let joined = Prepared {
            shared: vec![(LinuxNamespaceType::User, PathBuf::from("/proc/7/ns/user"))],
            ..Prepared::default()
        };
        let json = spec_json(&own_network, &joined);
        let user = json["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["type"] == "user")
            .cloned()
            .unwrap();
        assert_eq!(user["path"], "/proc/7/ns/user");
        assert_eq!(json["linux"]["uidMappings"][0]["hostID"], 100000);
        // Without mappings: no user namespace, sysfs as ever.
        let json = spec_json(&config(), &Prepared::default());
        let namespaces = json["linux"]["namespaces"].as_array().unwrap();
        assert!(!namespaces.iter().any(|n| n["type"] == "user"));
        assert!(json["linux"]["uidMappings"].is_null());
        assert_eq!(sys(&json)["type"], "sysfs");
    }

    #[test]
    fn options_reach_the_spec() {
        let user = ResolvedUser {
            uid: 1000,
            gid: 100,
            additional_gids: vec![100],
            listed_gids: vec![],
            home: "/home/u".into(),
        };
        let spec = generate(
            &config(),
            Path::new("/merged"),
            &user,
            None,
            &Prepared::default(),
        )
        .unwrap();
        let json = serde_json::to_value(&spec).unwrap();
        assert_eq!(json["root"]["path"], "/merged");
        assert_eq!(json["root"]["readonly"], true);
        assert_eq!(json["hostname"], "host1");
        assert_eq!(json["process"]["cwd"], "/srv");
        assert_eq!(json["process"]["user"]["uid"], 1000);
        let env: Vec<String> = serde_json::from_value(json["process"]["env"].clone()).unwrap();
        assert!(env.contains(&"A=1".to_string()));
        assert!(env.contains(&"HOME=/home/u".to_string()));
        assert!(env.iter().any(|e| e.starts_with("PATH=")));
        assert_eq!(json["linux"]["resources"]["memory"]["limit"], 64 << 20);
        assert_eq!(json["linux"]["resources"]["cpu"]["quota"], 50_000);
        assert_eq!(json["linux"]["resources"]["pids"]["limit"], 100);
        assert_eq!(json["linux"]["cgroupsPath"], "/rpod/abc");
        let namespaces = json["linux"]["namespaces"].as_array().unwrap();
        assert!(!namespaces.iter().any(|n| n["type"] == "network"));
        assert!(namespaces.iter().any(|n| n["type"] == "pid"));
        assert_eq!(json["process"]["user"]["umask"], 0o022);
        assert_eq!(json["process"]["noNewPrivileges"], false);
        assert!(json["linux"]["seccomp"].is_null());
        let masked = json["linux"]["maskedPaths"].as_array().unwrap();
        assert!(masked.iter().any(|p| p == "/sys/dev/block"));
        let proc_mount = json["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["destination"] == "/proc")
            .unwrap();
        assert_eq!(
            proc_mount["options"],
            serde_json::json!(["nosuid", "noexec", "nodev"])
        );
    }

    #[test]
    fn a_container_without_cgroups_has_no_cgroup_path_or_limits_in_its_spec() {
        let mut config = config();
        config.memory = None;
        config.cpus = None;
        config.pids_limit = None;
        config.security.privileged = true;
        let generated = |config: &ContainerConfig| spec_json(config, &Prepared::default());
        let with = generated(&config);
        assert!(with["linux"]["cgroupsPath"].is_string());
        assert!(with["linux"]["resources"].is_object());
        config.no_cgroups = true;
        let without = generated(&config);
        assert!(
            without["linux"]["cgroupsPath"].is_null(),
            "{}",
            without["linux"]
        );
        assert!(
            without["linux"]["resources"].is_null(),
            "{}",
            without["linux"]
        );
    }

    #[test]
    fn systemd_mode_gets_its_file_systems_a_writable_cgroup_and_its_uuid() {
        use crate::systemd_mode::SystemdCgroup;
        let mut config = config();
        config.id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef".into();
        config.systemd = true;
        config.mounts = vec![crate::mounts::tmpfs("/tmp", &["size=1m".to_string()]).unwrap()];
        let generated = |cgroup: SystemdCgroup| {
            let prepared = Prepared {
                files: vec![(
                    PathBuf::from("/h/.containerenv"),
                    "/run/.containerenv".into(),
                )],
                systemd_cgroup: Some(cgroup),
                ..Default::default()
            };
            spec_json(&config, &prepared)
        };
        let own = PathBuf::from("/sys/fs/cgroup/systemd/rpod/x");
        let json = generated(SystemdCgroup::NamedHierarchy(own));
        let mounts = json["mounts"].as_array().unwrap();
        let at = |path: &str| {
            mounts
                .iter()
                .position(|m| m["destination"] == path)
                .unwrap_or_else(|| panic!("no mount at {path}: {mounts:?}"))
        };
        for path in ["/run", "/run/lock", "/var/log/journal"] {
            assert_eq!(mounts[at(path)]["type"], "tmpfs", "{path}");
            let options = mounts[at(path)]["options"].to_string();
            assert!(
                options.contains("tmpcopyup") && options.contains("nodev"),
                "{options}"
            );
        }
        // The user's own /tmp stays, once.
        assert_eq!(
            mounts.iter().filter(|m| m["destination"] == "/tmp").count(),
            1
        );
        assert!(mounts[at("/tmp")]["options"]
            .to_string()
            .contains("size=1m"));
        // /run first, then what goes inside it.
        assert!(at("/run") < at("/run/.containerenv") && at("/run") < at("/run/lock"));
        let cgroup = &mounts[at("/sys/fs/cgroup/systemd")];
        assert_eq!(cgroup["source"], "/sys/fs/cgroup/systemd/rpod/x");
        assert!(cgroup["options"].to_string().contains("\"rw\""), "{cgroup}");
        assert!(at("/sys/fs/cgroup") < at("/sys/fs/cgroup/systemd"));
        assert!(mounts[at("/sys/fs/cgroup")]["options"]
            .to_string()
            .contains("\"ro\""));
        let env = json["process"]["env"].to_string();
        assert!(
            env.contains("container_uuid=0123456789abcdef0123456789abcdef\""),
            "{env}"
        );

        let json = generated(SystemdCgroup::Unified);
        let mounts = json["mounts"].as_array().unwrap();
        assert!(!mounts
            .iter()
            .any(|m| m["destination"] == "/sys/fs/cgroup/systemd"));
        let cgroup = mounts
            .iter()
            .find(|m| m["destination"] == "/sys/fs/cgroup")
            .unwrap();
        let options = cgroup["options"].to_string();
        assert!(
            options.contains("\"rw\"") && !options.contains("\"ro\""),
            "{options}"
        );

        config.systemd = false;
        let plain = spec_json(&config, &Prepared::default());
        assert!(!plain["mounts"].to_string().contains("/run/lock"));
        assert!(!plain["process"]["env"]
            .to_string()
            .contains("container_uuid"));
    }

    #[test]
    fn process_settings_namespaces_and_the_cgroup_parent_reach_the_spec() {
        let mut config = config();
        config.umask = Some(0o027);
        config.domainname = Some("example.org".into());
        config.cgroup_parent = Some("/mine/inner/".into());
        config.isolation.cgroup = crate::isolation::NamespaceMode::Host;
        config.unset_env = vec!["container".into()];
        config.resources.memory_swappiness = Some(5);
        config.resources.cpu_rt_runtime = Some(1000);
        let generated = |config: &ContainerConfig| spec_json(config, &Prepared::default());
        let json = generated(&config);
        assert_eq!(json["process"]["user"]["umask"], 0o027);
        assert_eq!(json["domainname"], "example.org");
        assert_eq!(json["linux"]["sysctl"]["kernel.domainname"], "example.org");
        assert_eq!(json["linux"]["cgroupsPath"], "/mine/inner/abc");
        let namespaces = json["linux"]["namespaces"].as_array().unwrap();
        assert!(!namespaces.iter().any(|n| n["type"] == "cgroup"));
        let env = json["process"]["env"].to_string();
        assert!(
            env.contains("PATH=") && !env.contains("container="),
            "{env}"
        );
        assert_eq!(json["linux"]["resources"]["memory"]["swappiness"], 5);
        assert_eq!(json["linux"]["resources"]["cpu"]["realtimeRuntime"], 1000);

        config.unset_env_all = true;
        config.isolation.cgroup = crate::isolation::NamespaceMode::Private;
        let json = generated(&config);
        let env = json["process"]["env"].to_string();
        assert!(!env.contains("PATH=") && env.contains("HOSTNAME="), "{env}");
        let namespaces = json["linux"]["namespaces"].as_array().unwrap();
        assert!(namespaces.iter().any(|n| n["type"] == "cgroup"));
    }

    #[test]
    fn the_process_environment_has_podmans_defaults() {
        let mut config = config();
        config.hostname = "box".into();
        let env = process_env(&config, None);
        for entry in ["A=1", "HOSTNAME=box", "TERM=xterm", "container=podman"] {
            assert!(env.iter().any(|e| e == entry), "{entry} in {env:?}");
        }
        assert!(env[0].starts_with("PATH=") && !env.iter().any(|e| e.starts_with("HOME=")));
        assert!(process_env(&config, Some("/root")).contains(&"HOME=/root".to_string()));

        config.env.push("TERM=vt100".into());
        config.unset_env = vec!["PATH".into()];
        let env = process_env(&config, None);
        assert_eq!(env.iter().filter(|e| e.starts_with("TERM=")).count(), 1);
        assert!(env.contains(&"TERM=vt100".to_string()));
        assert!(!env.iter().any(|e| e.starts_with("PATH=")), "{env:?}");

        // What a commit keeps: no secret, nothing of this one container unless given.
        let mut config = self::config();
        config.secret_env = vec!["TOKEN=hunter2".into()];
        config.env.push("HOME=/srv".into());
        let kept = configured_env(&config);
        assert!(kept.contains(&"TERM=xterm".to_string()) && kept[0].starts_with("PATH="));
        assert!(kept.contains(&"HOME=/srv".to_string()), "{kept:?}");
        assert!(
            !kept
                .iter()
                .any(|e| e.starts_with("TOKEN=") || e.starts_with("HOSTNAME=")),
            "{kept:?}"
        );
    }

    #[test]
    fn cgroup_parents_and_umasks_are_checked() {
        for good in ["/a", "a/b", "/a/b/"] {
            assert!(check_cgroup_parent(good).is_ok(), "{good}");
        }
        for bad in ["", "/", "../a", "/a/../b", "/a//b", "a.slice", "/a:b"] {
            assert!(check_cgroup_parent(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_umask("027").unwrap(), 0o027);
        assert_eq!(parse_umask("0777").unwrap(), 0o777);
        for bad in ["", "8", "1000", "-1", "abc"] {
            assert!(parse_umask(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn privileged_and_flags_reach_the_spec() {
        let mut config = config();
        config.security.privileged = true;
        config.security.no_new_privileges = true;
        let user = ResolvedUser {
            uid: 0,
            gid: 0,
            additional_gids: vec![0],
            listed_gids: vec![],
            home: "/".into(),
        };
        let json = serde_json::to_value(
            generate(&config, Path::new("/m"), &user, None, &Prepared::default()).unwrap(),
        )
        .unwrap();
        assert!(json["linux"]["maskedPaths"].is_null());
        assert_eq!(json["linux"]["resources"]["devices"][0]["allow"], true);
        // The host's devices, as podman hands them on.
        let devices = json["linux"]["devices"].as_array().unwrap();
        assert!(devices
            .iter()
            .any(|d| d["path"] == "/dev/null" && d["type"] == "c" && d["major"] == 1));
        assert!(devices.iter().all(|d| d["path"] != "/dev/console"));
        assert_eq!(json["process"]["noNewPrivileges"], true);
        let sys = json["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["destination"] == "/sys")
            .unwrap();
        assert!(sys["options"].as_array().unwrap().iter().any(|o| o == "rw"));
    }

    #[test]
    fn users_resolve_from_the_rootfs() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("etc")).unwrap();
        std::fs::write(
            root.path().join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nweb:x:33:33:web:/var/www:/bin/false\n",
        )
        .unwrap();
        std::fs::write(
            root.path().join("etc/group"),
            "root:x:0:\nwww:x:33:\nextra:x:50:web\n",
        )
        .unwrap();
        let web = resolve_user(root.path(), "web").unwrap();
        assert_eq!((web.uid, web.gid), (33, 33));
        assert_eq!(web.additional_gids, vec![33, 50]);
        assert_eq!(web.listed_gids, vec![50]);
        // A group named: the user's listed groups are not taken.
        let grouped = resolve_user(root.path(), "web:www").unwrap();
        assert_eq!(
            (grouped.additional_gids, grouped.listed_gids),
            (vec![33], vec![])
        );
        assert_eq!(web.home, "/var/www");
        let root_user = resolve_user(root.path(), "").unwrap();
        assert_eq!((root_user.uid, root_user.home.as_str()), (0, "/root"));
        assert_eq!(root_user.additional_gids, Vec::<u32>::new());
        assert_eq!(
            resolve_user(root.path(), "root").unwrap().additional_gids,
            [0]
        );
        assert_eq!(
            resolve_user(root.path(), "0:0").unwrap().additional_gids,
            [0]
        );
        let numeric = resolve_user(root.path(), "1234:www").unwrap();
        assert_eq!((numeric.uid, numeric.gid), (1234, 33));
        assert!(resolve_user(root.path(), "nobody-here").is_err());
        // COPY --chown's rules: a number alone is the group too, a name alone its primary
        // group, an empty user root.
        let owner = |spec: &str| resolve_owner(root.path(), spec);
        assert_eq!(owner("55").unwrap(), (55, 55));
        assert_eq!(owner("33").unwrap(), (33, 33));
        assert_eq!(owner("web").unwrap(), (33, 33));
        assert_eq!(owner("web:extra").unwrap(), (33, 50));
        assert_eq!(owner("7:50").unwrap(), (7, 50));
        assert_eq!(owner(":www").unwrap(), (0, 33));
        for bad in ["", ":", "web:", "nobody-here", "web:no-group"] {
            let err = owner(bad).unwrap_err();
            assert!(matches!(err, EngineError::InvalidArg(_)), "{bad}: {err}");
        }
    }
}
