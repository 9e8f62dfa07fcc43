//! The user's mounts: bind mounts of host paths (`-v HOST:CTR[:OPTS]`, `--mount
//! type=bind,...`) and tmpfs mounts (`--tmpfs PATH[:OPTS]`, `--mount type=tmpfs,...`),
//! parsed as podman parses them and turned into spec mounts. The runtime resolves each
//! destination inside the container's root without following its symlinks out of it.
//! Named volumes (`-v NAME:CTR`, `--mount type=volume,src=NAME`) and anonymous ones
//! (`-v CTR`, `--mount type=volume` without a source, an image's `VOLUME`) get their
//! directories at create (`engine/volumes.rs`). podman's `--mount type=devpts` is a new
//! devpts instance; `--mount type=image` an image's files, mounted by rpod at each start
//! (`engine/start.rs`).

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use oci_spec::runtime::{Mount, MountBuilder};
use serde::{Deserialize, Serialize};

use crate::{EngineError, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MountKind {
    Bind,
    Tmpfs,
    /// A devpts instance of the container's own (`--mount type=devpts`).
    Devpts,
    /// An image's files (`--mount type=image`): the source is the image as the user named
    /// it, `image_id` the image it was at create. rpod mounts it at each start and gives
    /// the runtime a bind mount of it.
    Image,
}

/// One mount as the container's configuration keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountSpec {
    pub kind: MountKind,
    /// The host path of a bind mount (absolute); empty for tmpfs.
    pub source: PathBuf,
    /// The path in the container (absolute, cleaned).
    pub destination: String,
    /// The options given to the runtime (`rbind`, `ro`, `rprivate`, `size=64m`, ...).
    pub options: Vec<String>,
    /// For a volume: its name (the source is then the volume's directory, filled in at
    /// create; an anonymous volume's name is chosen then too).
    #[serde(default)]
    pub volume: Option<String>,
    /// An anonymous volume, made for this container and removed with it by `rm -v`.
    #[serde(default)]
    pub anonymous: bool,
    /// `nocopy`: a new volume is not filled with the image's content at its mount point.
    #[serde(default)]
    pub no_copy: bool,
    /// `U`: the source is given to the container's user and group at each start.
    #[serde(default)]
    pub chown: bool,
    /// `idmap`: the source is seen through the container's user namespace (its files
    /// owned by host ID N show as container ID N), by an ID-mapped mount rpod makes at
    /// each start.
    #[serde(default)]
    pub idmap: bool,
    /// `subpath=` (a Kubernetes `subPath`): only this path inside the source (a volume's
    /// directory, a host directory) is mounted. Resolved inside the source at each start
    /// (a link in it never leads out) and bound by rpod where the runtime takes it from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subpath: Option<PathBuf>,
    /// `volume-opt=KEY=VALUE` (Docker's `VolumeOptions.DriverConfig.Options`): the options
    /// a volume that does not exist yet is made with at create (an existing one keeps its
    /// own, as in podman and Docker). Emptied once the volume is made.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub volume_options: BTreeMap<String, String>,
    /// `volume-label=KEY=VALUE` (Docker's `VolumeOptions.Labels`): the labels of such a
    /// volume made at create.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub volume_labels: BTreeMap<String, String>,
    /// An image mount's image ID, found at create.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_id: Option<String>,
    /// `O` (podman's overlay mount): the source (a directory, a volume's) is the lower
    /// layer of an overlay rpod mounts at each start; the container's changes go to the
    /// upper layer and the source stays as it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overlay: Option<OverlayLayers>,
    /// How much of a read-only bind is read-only: the mounts below its source too, by
    /// default.
    #[serde(default, skip_serializing_if = "ReadOnlyDepth::is_default")]
    pub read_only_depth: ReadOnlyDepth,
}

/// How much of a read-only recursive bind is read-only (Docker's API 1.44 `BindOptions`,
/// the docker CLI's `bind-recursive`). podman 4.3 and the runtimes' plain `ro` make only
/// the top mount read-only: a `-v /:/host:ro` left `/host/run` and every other mount below
/// writable. rpod makes them read-only too, as Docker does since 25.0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReadOnlyDepth {
    /// Every mount below as well, where the kernel can (`rro`: `mount_setattr`, Linux
    /// 5.12); the top one only on an older kernel.
    #[default]
    Recursive,
    /// The top mount only (`ReadOnlyNonRecursive`, `bind-recursive=writable`).
    TopOnly,
    /// Every mount below, or the container does not start (`ReadOnlyForceRecursive`,
    /// `bind-recursive=readonly`).
    ForceRecursive,
}

impl ReadOnlyDepth {
    fn is_default(&self) -> bool {
        *self == ReadOnlyDepth::default()
    }
}

/// Whether this kernel makes a mount and those below it read-only at once (`mount_setattr`
/// with `AT_RECURSIVE`, Linux 5.12), which the runtimes do for `rro`; asked once.
fn kernel_has_recursive_read_only() -> bool {
    static HAS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *HAS.get_or_init(|| {
        let Ok(uname) = nix::sys::utsname::uname() else {
            return false;
        };
        let release = uname.release().to_string_lossy();
        let mut numbers = release
            .split(|c: char| !c.is_ascii_digit())
            .map(|n| n.parse::<u32>().unwrap_or(0));
        let version = (numbers.next().unwrap_or(0), numbers.next().unwrap_or(0));
        version >= (5, 12)
    })
}

/// The upper layer of an `O` mount.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverlayLayers {
    /// `upperdir=` and `workdir=`: the user's directories, where the changes are kept
    /// from run to run; else rpod's own, which start empty at each start.
    pub upper: Option<PathBuf>,
    pub work: Option<PathBuf>,
}

impl OverlayLayers {
    /// The words that ask for it: `O`, and `upperdir=` and `workdir=` when given.
    pub fn words(&self) -> Vec<String> {
        let mut words = vec!["O".to_string()];
        for (key, dir) in [("upperdir", &self.upper), ("workdir", &self.work)] {
            if let Some(dir) = dir {
                words.push(format!("{key}={}", dir.display()));
            }
        }
        words
    }
}

impl MountSpec {
    /// A mount of `kind` with nothing else set (no volume, no flags of rpod's).
    fn plain(kind: MountKind, source: PathBuf, destination: String, options: Vec<String>) -> Self {
        MountSpec {
            kind,
            source,
            destination,
            options,
            volume: None,
            anonymous: false,
            no_copy: false,
            chown: false,
            idmap: false,
            subpath: None,
            volume_options: BTreeMap::new(),
            volume_labels: BTreeMap::new(),
            image_id: None,
            overlay: None,
            read_only_depth: ReadOnlyDepth::default(),
        }
    }

    /// This mount in another container (`--volumes-from`, a pod's `-v` in each of its
    /// containers): a volume stays its first container's (not anonymous to the other), is
    /// never filled again, and nothing is re-owned.
    pub fn shared(&self) -> MountSpec {
        MountSpec {
            anonymous: false,
            no_copy: self.volume.is_some(),
            chown: false,
            ..self.clone()
        }
    }

    /// Whether `nocopy` says anything of this mount: of a volume only (a bind is never
    /// filled; one shared by an earlier rpod may carry the flag).
    pub fn skips_copy_up(&self) -> bool {
        self.no_copy && self.volume.is_some()
    }

    pub fn read_only(&self) -> bool {
        self.options.iter().any(|o| o == "ro")
    }

    pub fn propagation(&self) -> &str {
        self.options
            .iter()
            .map(String::as_str)
            .find(|o| PROPAGATIONS.contains(o))
            .unwrap_or("")
    }

    pub fn to_oci(&self) -> Result<Mount> {
        let (typ, source) = match self.kind {
            MountKind::Bind => ("bind", self.source.clone()),
            MountKind::Tmpfs => ("tmpfs", PathBuf::from("tmpfs")),
            MountKind::Devpts => ("devpts", PathBuf::from("devpts")),
            // The engine puts a bind of the mounted image in its place before the spec is
            // made (`Engine::mount_image_mounts`).
            MountKind::Image => {
                return Err(EngineError::InvalidArg(format!(
                    "the image mount on {} was not mounted",
                    self.destination
                )))
            }
        };
        let mut options = self.options.clone();
        let recursive_bind = self.kind == MountKind::Bind && options.iter().any(|o| o == "rbind");
        // A file has no mounts below it (and crun's `rro` opens the target as a directory).
        if recursive_bind && self.read_only() && self.source.is_dir() {
            let possible = kernel_has_recursive_read_only();
            match self.read_only_depth {
                ReadOnlyDepth::TopOnly => {}
                ReadOnlyDepth::Recursive if !possible => {}
                ReadOnlyDepth::ForceRecursive if !possible => {
                    return Err(EngineError::NotSupported(format!(
                        "a recursively read-only mount on {} (bind-recursive=readonly): it needs Linux 5.12 or later",
                        self.destination
                    )))
                }
                ReadOnlyDepth::Recursive | ReadOnlyDepth::ForceRecursive => {
                    options.push("rro".into())
                }
            }
        }
        MountBuilder::default()
            .destination(PathBuf::from(&self.destination))
            .typ(typ)
            .source(source)
            .options(options)
            .build()
            .map_err(|e| EngineError::InvalidArg(format!("mount on {}: {e}", self.destination)))
    }
}

const PROPAGATIONS: &[&str] = &[
    "shared", "slave", "private", "rshared", "rslave", "rprivate",
];
/// Flags passed on as they are (and their opposites).
const FLAGS: &[&str] = &["noexec", "exec", "nosuid", "suid", "nodev", "dev"];

fn invalid(message: String) -> EngineError {
    EngineError::InvalidArg(message)
}

/// A container path: absolute, not `/`, without `..`; returned cleaned.
pub fn container_path(text: &str) -> Result<String> {
    destination(text)
}

fn destination(text: &str) -> Result<String> {
    if !text.starts_with('/') {
        return Err(invalid(format!(
            "invalid container path {text:?}, must be an absolute path"
        )));
    }
    let mut clean = PathBuf::from("/");
    for component in Path::new(text).components() {
        match component {
            Component::Normal(part) => clean.push(part),
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir | Component::Prefix(_) => {
                return Err(invalid(format!(
                    "invalid container path {text:?}: it may not hold \"..\""
                )))
            }
        }
    }
    if clean == Path::new("/") {
        return Err(invalid(
            "a mount cannot replace the container's root \"/\"".into(),
        ));
    }
    Ok(clean.display().to_string())
}

/// A bind mount's host path: absolute, or relative to `cwd` (`./data`) when there is one.
/// Whether it exists is the create's to check ([`check_bind_sources`]): the path may be on
/// another host (a remote client's flags are read here too).
fn host_path(text: &str, cwd: Option<&Path>) -> Result<PathBuf> {
    let path = if text.starts_with('/') {
        PathBuf::from(text)
    } else if text.starts_with('.') {
        match cwd {
            Some(cwd) => cwd.join(text),
            None => {
                return Err(invalid(format!(
                    "invalid host path {text:?}: it must be absolute"
                )))
            }
        }
    } else {
        return Err(invalid(format!(
            "invalid host path {text:?}: it must be absolute or start with ./"
        )));
    };
    Ok(path)
}

/// Make a bind mount's missing host directory, each missing level 0755 whatever the
/// process's umask (rpod's is 077), as Docker makes a `-v` directory and Kubernetes a
/// `DirectoryOrCreate` one: the container's users (not all root) must reach it.
pub fn make_host_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let levels: Vec<&Path> = dir
        .ancestors()
        .take_while(|level| std::fs::symlink_metadata(level).is_err())
        .collect();
    for level in levels.into_iter().rev() {
        match std::fs::create_dir(level) {
            Ok(()) => std::fs::set_permissions(level, std::fs::Permissions::from_mode(0o755))
                .map_err(|e| EngineError::io("making the host directory", level, e))?,
            // Made meanwhile (another create of the same directory).
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(EngineError::io("making the host directory", level, e)),
        }
    }
    Ok(())
}

/// Every bind mount's host path exists (podman's `statfs` error when one does not).
pub fn check_bind_sources(mounts: &[MountSpec]) -> Result<()> {
    let binds = mounts
        .iter()
        .filter(|m| m.kind == MountKind::Bind && m.volume.is_none());
    for mount in binds {
        match std::fs::metadata(&mount.source) {
            Err(e) => return Err(invalid(format!("statfs {}: {e}", mount.source.display()))),
            Ok(meta) if mount.overlay.is_some() && !meta.is_dir() => {
                return Err(invalid(format!(
                    "the overlay mount (O) of {}: its source must be a directory",
                    mount.source.display()
                )))
            }
            Ok(_) if mount.overlay.is_some() && !overlay_can_take(&mount.source) => {
                return Err(invalid(format!(
                    "the overlay mount (O) of {}: overlayfs cannot take a path with , or :",
                    mount.source.display()
                )))
            }
            Ok(_) => {}
        }
    }
    Ok(())
}

/// What a bind or volume mount's words say: the runtime's options, and rpod's own.
struct BindWords {
    options: Vec<String>,
    no_copy: bool,
    chown: bool,
    idmap: bool,
    overlay: Option<OverlayLayers>,
}

/// Whether overlayfs's options can carry `path` (no comma or colon: they separate them).
pub fn overlay_can_take(path: &Path) -> bool {
    !path.to_string_lossy().contains([',', ':'])
}

/// `upperdir=` or `workdir=`'s directory: an absolute host path, which overlayfs's
/// options can carry.
fn overlay_dir(word: &str, value: &str) -> Result<PathBuf> {
    if !value.starts_with('/') || !overlay_can_take(Path::new(value)) {
        return Err(invalid(format!(
            "invalid mount option {word:?}: an absolute host path without , or :"
        )));
    }
    Ok(PathBuf::from(value))
}

/// Options of a bind mount from podman's words: read-only or not, propagation, flags,
/// `U` and (for volumes) `nocopy` or `copy`.
fn bind_options(words: &[&str]) -> Result<BindWords> {
    let mut copy = None;
    let mut chown = false;
    let mut idmap = false;
    let mut read_only = None;
    let mut propagation = None;
    let mut recursive = true;
    let mut flags: Vec<String> = Vec::new();
    let mut overlay = false;
    let (mut upper, mut work) = (None, None);
    // Words an overlay mount does not take (podman refuses them beside `O`).
    let mut not_with_overlay = Vec::new();
    for word in words.iter().filter(|w| !w.is_empty()) {
        if !(*word == "O"
            || word.starts_with("upperdir=")
            || word.starts_with("workdir=")
            || ["copy", "nocopy"].contains(word)
            || FLAGS.contains(word))
        {
            not_with_overlay.push(*word);
        }
        match *word {
            "ro" | "rw" => {
                if read_only.replace(*word == "ro").is_some() {
                    return Err(invalid(
                        "cannot pass 'ro' and 'rw' options more than once".into(),
                    ));
                }
            }
            // SELinux relabelling: nothing to relabel without SELinux.
            "z" | "Z" => {}
            "O" => overlay = true,
            w if w.starts_with("upperdir=") || w.starts_with("workdir=") => {
                let (key, dir) = w.split_once('=').unwrap_or((w, ""));
                let dir = Some(overlay_dir(w, dir)?);
                match key {
                    "upperdir" => upper = dir,
                    _ => work = dir,
                }
            }
            "U" => chown = true,
            "idmap" => idmap = true,
            w if w.starts_with("idmap=") => {
                return Err(EngineError::NotSupported(format!(
                    "the mount option {w} (a mapping of its own: idmap maps as the container's user namespace does)"
                )))
            }
            // `copy` asks for the default (a new volume is filled from the image).
            "copy" | "nocopy" => {
                if copy.replace(*word == "copy").is_some() {
                    return Err(invalid(
                        "cannot pass 'copy' and 'nocopy' options more than once".into(),
                    ));
                }
            }
            "bind" => recursive = false,
            "rbind" => recursive = true,
            p if PROPAGATIONS.contains(&p) => {
                if propagation.replace(p).is_some() {
                    return Err(invalid("cannot pass multiple propagation options".into()));
                }
            }
            f if FLAGS.contains(&f) => flags.push(f.to_string()),
            other => return Err(invalid(format!("invalid option type \"{other}\""))),
        }
    }
    let mut options = vec![if recursive { "rbind" } else { "bind" }.to_string()];
    options.push(propagation.unwrap_or("rprivate").to_string());
    if read_only == Some(true) {
        options.push("ro".into());
    }
    options.extend(flags);
    if idmap && chown {
        return Err(invalid(
            "the idmap and U options do not go together: idmap shows the source's owners as the container's, U changes them".into(),
        ));
    }
    let overlay = match (overlay, upper, work) {
        (false, None, None) => None,
        (false, _, _) => {
            return Err(invalid(
                "the mount options upperdir= and workdir= are for an overlay mount (O)".into(),
            ))
        }
        (true, _, _) if !not_with_overlay.is_empty() => {
            return Err(invalid(format!(
                "can't use 'O' with other options: {}",
                not_with_overlay.join(",")
            )))
        }
        (true, upper @ Some(_), work @ Some(_)) | (true, upper @ None, work @ None) => {
            Some(OverlayLayers { upper, work })
        }
        (true, _, _) => return Err(invalid("must set both `upperdir` and `workdir`".into())),
    };
    Ok(BindWords {
        options,
        no_copy: copy == Some(false),
        chown,
        idmap,
        overlay,
    })
}

/// A bind mount of `source` on `target` with podman's option words. Relative sources are
/// taken from `cwd`; without one they are refused.
pub fn bind(source: &str, target: &str, words: &[&str], cwd: Option<&Path>) -> Result<MountSpec> {
    bind_of(host_path(source, cwd)?, target, words)
}

/// `bind` of an absolute host directory that is made before the container is created
/// (Kubernetes' `DirectoryOrCreate`): it need not exist yet.
pub fn bind_to_make(source: &str, target: &str, words: &[&str]) -> Result<MountSpec> {
    if !source.starts_with('/') {
        return Err(invalid(format!(
            "invalid host path {source:?}: it must be absolute"
        )));
    }
    bind_of(PathBuf::from(source), target, words)
}

fn bind_of(source: PathBuf, target: &str, words: &[&str]) -> Result<MountSpec> {
    let parsed = bind_options(words)?;
    if parsed.no_copy {
        return Err(invalid(
            "the nocopy option is for volumes, not bind mounts".into(),
        ));
    }
    Ok(MountSpec {
        chown: parsed.chown,
        idmap: parsed.idmap,
        overlay: parsed.overlay,
        ..MountSpec::plain(
            MountKind::Bind,
            source,
            destination(target)?,
            parsed.options,
        )
    })
}

/// A volume's options: `nosuid` and `nodev` unless the words say `suid` or `dev` (or
/// repeat them), as podman mounts volumes. What a volume holds came from containers or
/// archives (`volume import`, copies of an image's files): a set-user-ID program or a
/// device node put there must not work in the next container that mounts it.
fn volume_options(words: &[&str]) -> Result<BindWords> {
    let mut parsed = bind_options(words)?;
    for (default, opposite) in [("nosuid", "suid"), ("nodev", "dev")] {
        if !parsed.options.iter().any(|o| o == default || o == opposite) {
            parsed.options.push(default.to_string());
        }
    }
    Ok(parsed)
}

/// A named volume `name` on `target` (created at container create when missing).
pub fn named_volume(name: &str, target: &str, words: &[&str]) -> Result<MountSpec> {
    if !crate::names::valid_name(name) {
        return Err(invalid(format!(
            "invalid volume name {name:?}: must match [a-zA-Z0-9][a-zA-Z0-9_.-]*"
        )));
    }
    let parsed = volume_options(words)?;
    Ok(MountSpec {
        volume: Some(name.to_string()),
        no_copy: parsed.no_copy,
        chown: parsed.chown,
        idmap: parsed.idmap,
        overlay: parsed.overlay,
        ..MountSpec::plain(
            MountKind::Bind,
            PathBuf::new(),
            destination(target)?,
            parsed.options,
        )
    })
}

/// An anonymous volume on `target` (named and created at container create).
pub fn anonymous_volume(target: &str, words: &[&str]) -> Result<MountSpec> {
    let parsed = volume_options(words)?;
    Ok(MountSpec {
        volume: Some(String::new()),
        anonymous: true,
        no_copy: parsed.no_copy,
        chown: parsed.chown,
        idmap: parsed.idmap,
        overlay: parsed.overlay,
        ..MountSpec::plain(
            MountKind::Bind,
            PathBuf::new(),
            destination(target)?,
            parsed.options,
        )
    })
}

/// A tmpfs on `target` with podman's option words.
pub fn tmpfs(target: &str, words: &[String]) -> Result<MountSpec> {
    Ok(MountSpec::plain(
        MountKind::Tmpfs,
        PathBuf::new(),
        destination(target)?,
        tmpfs_options(words)?,
    ))
}

/// A devpts instance of the container's own on `target` (`--mount type=devpts`), with
/// podman's option words `uid=`, `gid=`, `mode=` (octal) and `max=`, passed to the kernel.
pub fn devpts(target: &str, words: &[String]) -> Result<MountSpec> {
    let mut options = Vec::new();
    for word in words {
        let (key, value) = word.split_once('=').unwrap_or((word.as_str(), ""));
        let valid = match key {
            "uid" | "gid" | "max" => value.parse::<u32>().is_ok(),
            "mode" => u32::from_str_radix(value, 8).is_ok_and(|m| m <= 0o7777),
            _ => {
                return Err(invalid(format!(
                    "invalid devpts option {word:?}: use uid=, gid=, mode= or max="
                )))
            }
        };
        if !valid {
            return Err(invalid(format!("invalid devpts option {word:?}")));
        }
        options.retain(|o: &String| o.split('=').next() != Some(key));
        options.push(word.clone());
    }
    Ok(MountSpec::plain(
        MountKind::Devpts,
        PathBuf::from("devpts"),
        destination(target)?,
        options,
    ))
}

/// The files of image `image` (a name or ID, found at create) on `target`
/// (`--mount type=image`): read-only, or with `read_write` writable, what the container
/// writes kept until it stops (each start sees the image as it is).
pub fn image(image: &str, target: &str, read_write: bool) -> Result<MountSpec> {
    if image.is_empty() {
        return Err(invalid(
            "an image mount needs a source (the image)".to_string(),
        ));
    }
    Ok(MountSpec::plain(
        MountKind::Image,
        PathBuf::from(image),
        destination(target)?,
        vec![if read_write { "rw" } else { "ro" }.to_string()],
    ))
}

/// `--tz ZONE|local` (podman-remote's `timezone`): the host's zone file that is bound
/// read-only at the container's `/etc/localtime` at each start (`local`: the host's own;
/// `spec.rs`). A zone name is looked up under /usr/share/zoneinfo only. `TZ` is left
/// alone, as podman leaves it: a zone name in `TZ` sends the C library to a zoneinfo
/// directory most images lack, where it falls back to UTC.
pub fn time_zone_file(tz: &str) -> Result<PathBuf> {
    let zones = Path::new("/usr/share/zoneinfo");
    let file = if tz == "local" {
        std::fs::canonicalize("/etc/localtime").map_err(|e| {
            EngineError::io(
                "finding the host's time zone (--tz local) at",
                "/etc/localtime",
                e,
            )
        })?
    } else {
        let plain = crate::confined::plain_relative(Path::new(tz))
            .filter(|p| !tz.starts_with('/') && !p.as_os_str().is_empty())
            .ok_or_else(|| invalid(format!("invalid --tz {tz:?}: use a zone name or local")))?;
        zones.join(plain)
    };
    if !file.is_file() {
        return Err(invalid(format!(
            "invalid --tz {tz:?}: no such time zone ({} is missing)",
            file.display()
        )));
    }
    Ok(file)
}

/// `-v HOST:CTR[:OPTS]`.
pub fn parse_volume(text: &str, cwd: &Path) -> Result<MountSpec> {
    let parts: Vec<&str> = text.split(':').collect();
    let (source, target, options) = match parts.as_slice() {
        [single] => return anonymous_volume(single, &[]),
        [source, target] => (*source, *target, ""),
        [source, target, options] => (*source, *target, *options),
        _ => {
            return Err(invalid(format!(
                "invalid volume {text:?}: use HOST:CONTAINER[:OPTIONS]"
            )))
        }
    };
    let words: Vec<&str> = options.split(',').collect();
    if source.is_empty() {
        return Err(invalid("host directory cannot be empty".into()));
    }
    if !source.starts_with('/') && !source.starts_with('.') {
        return named_volume(source, target, &words);
    }
    bind(source, target, &words, Some(cwd))
}

/// `HOST:CTR[:OPTS]` from a client without a current directory (the API's `Binds`).
pub fn parse_volume_absolute(text: &str) -> Result<MountSpec> {
    if text.starts_with('.') {
        return Err(invalid(format!(
            "invalid bind {text:?}: the host path must be absolute"
        )));
    }
    parse_volume(text, Path::new("/"))
}

/// Options of a tmpfs mount: podman's defaults (`rw,nosuid,nodev`: podman 4.3.1 mounts a
/// tmpfs `exec`, whatever its manual says), the user's after them, a flag replacing its
/// opposite. The tmpfs starts with what the image has at its place (the runtimes'
/// `tmpcopyup`, podman's default) unless `notmpcopyup` is given.
fn tmpfs_options(words: &[String]) -> Result<Vec<String>> {
    let mut options: Vec<String> = ["rw", "nosuid", "nodev"].map(String::from).to_vec();
    let mut copy_up = true;
    for word in words.iter().filter(|w| !w.is_empty()) {
        let pairs = [
            ("ro", "rw"),
            ("exec", "noexec"),
            ("suid", "nosuid"),
            ("dev", "nodev"),
        ];
        let replaced = pairs.iter().find_map(|&(a, b)| {
            if word == a {
                Some(b)
            } else if word == b {
                Some(a)
            } else {
                None
            }
        });
        if let Some(other) = replaced {
            options.retain(|o| o != other && o != word);
            options.push(word.clone());
            continue;
        }
        let key = word.split('=').next().unwrap_or_default();
        match key {
            "size" | "mode" | "uid" | "gid" | "nr_inodes" | "nr_blocks" => {
                let value = word.split_once('=').map_or("", |(_, v)| v);
                if !tmpfs_value_fits(key, value) {
                    // Refused here rather than by the kernel at the start, where the
                    // runtime's "mount tmpfs: Invalid argument" names no option.
                    return Err(invalid(format!(
                        "invalid tmpfs option \"{word}\": {}",
                        match key {
                            "size" => "a size such as 64m, or a share of memory such as 50%",
                            "mode" => "octal permissions such as 1777",
                            "uid" | "gid" => "a number",
                            _ => "a count such as 1000 or 10k",
                        }
                    )));
                }
                options.retain(|o| o.split('=').next() != Some(key));
                options.push(word.clone());
            }
            "tmpcopyup" => copy_up = true,
            "notmpcopyup" => copy_up = false,
            p if PROPAGATIONS.contains(&p) => options.push(word.clone()),
            other => return Err(invalid(format!("invalid tmpfs option \"{other}\""))),
        }
    }
    if copy_up {
        options.push("tmpcopyup".into());
    }
    Ok(options)
}

/// Whether the value of a tmpfs option's `key` is one the kernel's tmpfs takes: sizes and
/// counts a number with an optional K, M, G, T, P or E (and `size` a percentage of memory
/// too), `mode` octal, `uid` and `gid` numbers.
pub(crate) fn tmpfs_value_fits(key: &str, value: &str) -> bool {
    let number = |digits: &str| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
    match key {
        "mode" => !value.is_empty() && value.bytes().all(|b| (b'0'..=b'7').contains(&b)),
        "uid" | "gid" => number(value) && value.parse::<u32>().is_ok(),
        _ => {
            let scaled = value
                .strip_suffix(|c: char| "kKmMgGtTpPeE".contains(c))
                .unwrap_or(value);
            number(scaled) || (key == "size" && value.strip_suffix('%').is_some_and(number))
        }
    }
}

/// `--tmpfs PATH[:OPTS]`.
pub fn parse_tmpfs(text: &str) -> Result<MountSpec> {
    let (target, options) = text.split_once(':').unwrap_or((text, ""));
    let words: Vec<String> = options.split(',').map(String::from).collect();
    tmpfs(target, &words)
}

/// A size with an optional unit (`64m`, `1g`, bytes without one) in bytes.
pub(crate) fn size_bytes(text: &str) -> Option<u64> {
    let lower = text.to_ascii_lowercase();
    let digits = lower.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &lower[digits.len()..];
    let factor: u64 = match unit.trim_end_matches('b') {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        _ => return None,
    };
    digits.parse::<u64>().ok()?.checked_mul(factor)
}

/// `--mount` fields: split at commas outside double quotes, which are dropped (as the
/// docker CLI reads the flag as a CSV line: `"volume-opt=o=size=1m,uid=1000"` is one field).
fn mount_fields(text: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut quoted = false;
    for c in text.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(String::new()),
            c => fields.last_mut().expect("one field at least").push(c),
        }
    }
    fields.retain(|f| !f.is_empty());
    fields
}

/// Whether `word` is a `volume-opt=KEY=VALUE` or `volume-label=KEY=VALUE`: a setting of a
/// volume made on first use (`--mount`'s, and among a libpod SpecGenerator volume's options).
pub fn is_new_volume_word(word: &str) -> bool {
    word.split_once('=')
        .is_some_and(|(key, _)| matches!(key, "volume-opt" | "volume-label"))
}

/// A volume mount with `volume-opt=KEY=VALUE` and `volume-label=KEY=VALUE` words.
pub fn with_new_volume_settings(mut mount: MountSpec, words: &[String]) -> Result<MountSpec> {
    for word in words {
        let (what, pair) = word.split_once('=').unwrap_or((word, ""));
        let into = match what {
            "volume-opt" => &mut mount.volume_options,
            "volume-label" => &mut mount.volume_labels,
            _ => return Err(invalid(format!("invalid volume option {word:?}"))),
        };
        let (name, value) = pair
            .split_once('=')
            .filter(|(name, _)| !name.is_empty())
            .ok_or_else(|| invalid(format!("invalid {what} {pair:?}: use KEY=VALUE")))?;
        into.insert(name.to_string(), value.to_string());
    }
    Ok(mount)
}

/// The `volume-opt=` and `volume-label=` words of a mount's settings for a volume made on
/// first use (`with_new_volume_settings` reads them).
pub fn new_volume_words(mount: &MountSpec) -> Vec<String> {
    let opts = mount
        .volume_options
        .iter()
        .map(|(k, v)| format!("volume-opt={k}={v}"));
    let labels = mount
        .volume_labels
        .iter()
        .map(|(k, v)| format!("volume-label={k}={v}"));
    opts.chain(labels).collect()
}

/// `--mount type=bind|volume|tmpfs|devpts|image,KEY=VALUE,...`.
pub fn parse_mount(text: &str, cwd: &Path) -> Result<MountSpec> {
    let fields = mount_fields(text);
    let kind = fields.iter().find_map(|f| f.strip_prefix("type="));
    match kind {
        Some("devpts") => return parse_devpts_mount(text, &fields),
        Some("image") => return parse_image_mount(text, &fields),
        _ => {}
    }
    let mut kind = None;
    let mut source = None;
    let mut target = None;
    let mut bind_words: Vec<String> = Vec::new();
    let mut tmpfs_words: Vec<String> = Vec::new();
    let mut subpath = None;
    let mut depth = None;
    // A volume made on first use: its options and labels.
    let mut new_volume_words = Vec::new();
    for field in &fields {
        let field = field.as_str();
        let (key, value) = match field.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (field, None),
        };
        match (key, value) {
            _ if is_new_volume_word(field) => new_volume_words.push(field.to_string()),
            ("volume-driver", Some("local")) => {}
            ("volume-driver", Some(driver)) => {
                return Err(EngineError::NotSupported(format!(
                    "--mount volume-driver={driver} (make the volume with volume create --driver first)"
                )))
            }
            ("type", Some(t)) => kind = Some(t.to_string()),
            ("src" | "source", Some(v)) => source = Some(v.to_string()),
            ("dst" | "target" | "destination", Some(v)) => target = Some(v.to_string()),
            ("ro" | "readonly", None | Some("true")) => bind_words.push("ro".into()),
            ("ro" | "readonly", Some("false")) => bind_words.push("rw".into()),
            ("bind-propagation", Some(p)) => bind_words.push(p.to_string()),
            ("bind-nonrecursive", None | Some("true")) => bind_words.push("bind".into()),
            // The docker CLI's: `enabled` (the default), `disabled` (a bind of the top
            // mount alone), `writable` and `readonly` (how much of a read-only one is).
            ("bind-recursive", Some("enabled")) => {}
            ("bind-recursive", Some("disabled")) => bind_words.push("bind".into()),
            ("bind-recursive", Some("writable")) => depth = Some(ReadOnlyDepth::TopOnly),
            ("bind-recursive", Some("readonly")) => depth = Some(ReadOnlyDepth::ForceRecursive),
            ("relabel", Some(_)) | ("consistency", Some(_)) => {}
            ("U", None | Some("true")) | ("chown", Some("true")) => bind_words.push("U".into()),
            ("idmap", None | Some("true")) => bind_words.push("idmap".into()),
            ("volume-nocopy", None | Some("true")) => bind_words.push("nocopy".into()),
            ("subpath" | "volume-subpath", Some(path)) => subpath = Some(path.to_string()),
            ("tmpfs-size", Some(size)) => {
                let bytes = size_bytes(size)
                    .ok_or_else(|| invalid(format!("invalid tmpfs-size {size:?}")))?;
                tmpfs_words.push(format!("size={bytes}"));
            }
            ("tmpfs-mode", Some(mode)) => {
                u32::from_str_radix(mode, 8)
                    .map_err(|_| invalid(format!("invalid tmpfs-mode {mode:?}: an octal mode")))?;
                tmpfs_words.push(format!("mode={mode}"));
            }
            // podman's: whether a tmpfs starts with the image's files (the default) or empty.
            ("tmpcopyup" | "notmpcopyup", None) => tmpfs_words.push(field.to_string()),
            (flag, None) if FLAGS.contains(&flag) => bind_words.push(flag.to_string()),
            _ => return Err(invalid(format!("invalid mount option {field:?}"))),
        }
    }
    let target =
        target.ok_or_else(|| invalid(format!("--mount {text:?}: a target is required")))?;
    if kind.as_deref() != Some("volume") && !new_volume_words.is_empty() {
        return Err(invalid(format!(
            "--mount {text:?}: volume-opt and volume-label are for type=volume"
        )));
    }
    if kind.as_deref() != Some("tmpfs") && !tmpfs_words.is_empty() {
        return Err(invalid(format!(
            "--mount {text:?}: tmpfs-size, tmpfs-mode, tmpcopyup and notmpcopyup are for type=tmpfs"
        )));
    }
    let mount = match kind.as_deref() {
        Some("bind") => {
            let source =
                source.ok_or_else(|| invalid(format!("--mount {text:?}: a source is required")))?;
            let words: Vec<&str> = bind_words.iter().map(String::as_str).collect();
            bind(&source, &target, &words, Some(cwd))
        }
        Some("tmpfs") => {
            let mut words = tmpfs_words;
            words.extend(
                bind_words
                    .into_iter()
                    .filter(|w| w == "ro" || w == "rw" || FLAGS.contains(&w.as_str())),
            );
            tmpfs(&target, &words)
        }
        Some("volume") => {
            let words: Vec<&str> = bind_words.iter().map(String::as_str).collect();
            match source {
                Some(source) => named_volume(&source, &target, &words),
                None => anonymous_volume(&target, &words),
            }
            .and_then(|mount| with_new_volume_settings(mount, &new_volume_words))
        }
        // Types of later podmans, which rpod does not mount.
        Some(other @ ("ramfs" | "glob")) => Err(EngineError::NotSupported(format!(
            "--mount type={other} (rpod mounts bind, volume, tmpfs, devpts and image)"
        ))),
        Some(other) => Err(invalid(format!("invalid filesystem type {other:?}"))),
        None => Err(invalid(format!("--mount {text:?}: a type is required"))),
    }?;
    let mount = match depth {
        Some(depth) => with_read_only_depth(mount, depth)?,
        None => mount,
    };
    match subpath {
        Some(path) => with_subpath(mount, &path),
        None => Ok(mount),
    }
}

/// A read-only bind made read-only to `depth` (`bind-recursive=writable|readonly`, Docker's
/// `ReadOnlyNonRecursive` and `ReadOnlyForceRecursive`, which dockerd takes for a read-only
/// mount only); only a bind of the whole tree can be made read-only throughout.
pub fn with_read_only_depth(mut mount: MountSpec, depth: ReadOnlyDepth) -> Result<MountSpec> {
    if mount.kind != MountKind::Bind || mount.volume.is_some() {
        return Err(invalid(format!(
            "the mount on {}: bind-recursive is for bind mounts",
            mount.destination
        )));
    }
    if !mount.read_only() {
        return Err(invalid(format!(
            "the mount on {}: bind-recursive=writable|readonly (ReadOnlyNonRecursive, ReadOnlyForceRecursive) are for a read-only mount",
            mount.destination
        )));
    }
    if depth == ReadOnlyDepth::ForceRecursive && !mount.options.iter().any(|o| o == "rbind") {
        return Err(invalid(format!(
            "the mount on {}: a recursively read-only mount needs a recursive bind",
            mount.destination
        )));
    }
    mount.read_only_depth = depth;
    Ok(mount)
}

/// The target of a `--mount` of a type that takes only it, `type=`, and the words `other`
/// picks out (else an invalid option).
fn typed_mount_fields<'a>(
    text: &str,
    fields: &'a [String],
    mut other: impl FnMut(&'a str) -> bool,
) -> Result<String> {
    let mut target = None;
    for field in fields {
        match field.split_once('=') {
            Some(("type", _)) => {}
            Some(("dst" | "target" | "destination", value)) => target = Some(value.to_string()),
            _ if other(field) => {}
            _ => return Err(invalid(format!("invalid mount option {field:?}"))),
        }
    }
    target.ok_or_else(|| invalid(format!("--mount {text:?}: a target is required")))
}

/// `--mount type=devpts,target=PATH[,uid=N,gid=N,mode=OCTAL,max=N]`.
fn parse_devpts_mount(text: &str, fields: &[String]) -> Result<MountSpec> {
    let mut words = Vec::new();
    let target = typed_mount_fields(text, fields, |field| {
        let known = ["uid", "gid", "mode", "max"]
            .iter()
            .any(|key| field.split_once('=').is_some_and(|(k, _)| k == *key));
        if known {
            words.push(field.to_string());
        }
        known
    })?;
    devpts(&target, &words)
}

/// `--mount type=image,source=IMAGE,target=PATH[,rw=true|false][,subpath=PATH]` (the
/// docker CLI's `image-subpath=` too).
fn parse_image_mount(text: &str, fields: &[String]) -> Result<MountSpec> {
    let mut source = None;
    let mut subpath = None;
    let mut read_write = false;
    let mut bad_value = None;
    let target = typed_mount_fields(text, fields, |field| {
        let (key, value) = match field.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (field, None),
        };
        match (key, value) {
            ("src" | "source", Some(v)) => source = Some(v.to_string()),
            ("subpath" | "image-subpath", Some(v)) => subpath = Some(v.to_string()),
            ("rw" | "readwrite", None | Some("true")) => read_write = true,
            ("rw" | "readwrite", Some("false")) => read_write = false,
            ("rw" | "readwrite", Some(_)) => bad_value = Some(field.to_string()),
            _ => return false,
        }
        true
    })?;
    if let Some(field) = bad_value {
        return Err(invalid(format!(
            "invalid mount option {field:?}: use true or false"
        )));
    }
    let source = source.ok_or_else(|| {
        invalid(format!(
            "--mount {text:?}: an image mount needs a source (the image)"
        ))
    })?;
    let mount = image(&source, &target, read_write)?;
    match subpath {
        Some(path) => with_subpath(mount, &path),
        None => Ok(mount),
    }
}

/// `mount` of only `path` inside its source (a bind's, a volume's or an image's): a plain
/// relative path; not with `U` or `idmap`, which act on the whole source.
pub fn with_subpath(mut mount: MountSpec, path: &str) -> Result<MountSpec> {
    if !matches!(mount.kind, MountKind::Bind | MountKind::Image) {
        return Err(invalid(format!(
            "subpath {path:?}: for a bind mount, a volume or an image, not a tmpfs or devpts"
        )));
    }
    let plain = crate::confined::plain_relative(Path::new(path))
        .filter(|p| !path.starts_with('/') && !p.as_os_str().is_empty())
        .ok_or_else(|| {
            invalid(format!(
                "invalid subpath {path:?}: a relative path inside the source, without .."
            ))
        })?;
    if mount.chown || mount.idmap || mount.overlay.is_some() {
        return Err(invalid(format!(
            "subpath {path:?} does not go with U, idmap or O, which act on the whole source"
        )));
    }
    mount.subpath = Some(plain);
    Ok(mount)
}

/// No two mounts on one destination.
pub fn validate(mounts: &[MountSpec]) -> Result<()> {
    let mut seen = std::collections::BTreeSet::new();
    for mount in mounts {
        if !seen.insert(mount.destination.as_str()) {
            return Err(invalid(format!(
                "{}: duplicate mount destination",
                mount.destination
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_devpts_mount_takes_podmans_words_checked() {
        let cwd = Path::new("/");
        let m = parse_mount(
            "type=devpts,destination=/dev/pts2,uid=5,gid=5,mode=620,max=10,mode=600",
            cwd,
        )
        .unwrap();
        assert_eq!(m.kind, MountKind::Devpts);
        assert_eq!(m.destination, "/dev/pts2");
        assert_eq!(m.options, ["uid=5", "gid=5", "max=10", "mode=600"]);
        let oci = m.to_oci().unwrap();
        assert_eq!(oci.typ().as_deref(), Some("devpts"));
        assert_eq!(oci.source().as_deref(), Some(Path::new("devpts")));
        for bad in [
            "type=devpts",
            "type=devpts,dst=/p,uid=x",
            "type=devpts,dst=/p,mode=999",
            "type=devpts,dst=/p,ro",
            "type=devpts,dst=/p,src=x",
            "type=devpts,dst=/p,newinstance",
            "type=devpts,dst=p",
        ] {
            assert!(
                matches!(parse_mount(bad, cwd), Err(EngineError::InvalidArg(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn an_image_mount_names_its_image_and_is_read_only_unless_asked() {
        let cwd = Path::new("/");
        let m = parse_mount("type=image,source=demo,destination=/img", cwd).unwrap();
        assert_eq!(
            (m.kind, m.source.as_path(), m.destination.as_str()),
            (MountKind::Image, Path::new("demo"), "/img")
        );
        assert!(m.read_only());
        assert_eq!(m.image_id, None);
        for rw in ["rw", "rw=true", "readwrite=true"] {
            let m = parse_mount(&format!("type=image,src=demo,dst=/i,{rw}"), cwd).unwrap();
            assert!(!m.read_only(), "{rw}");
        }
        let m = parse_mount("type=image,src=demo,dst=/i,rw=false", cwd).unwrap();
        assert!(m.read_only());
        // Not mounted yet: no spec mount can be made of it.
        assert!(m.to_oci().is_err());
        for bad in [
            "type=image,dst=/i",
            "type=image,src=demo",
            "type=image,src=demo,dst=/i,ro",
            "type=image,src=demo,dst=/i,rw=maybe",
            "type=image,src=demo,dst=/i,U",
            "type=image,src=,dst=/i",
        ] {
            assert!(
                matches!(parse_mount(bad, cwd), Err(EngineError::InvalidArg(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_time_zone_is_a_zone_file_of_the_host_only() {
        for bad in ["../../etc/passwd", "/etc/passwd", "", "Nowhere/Atlantis"] {
            let err = time_zone_file(bad).unwrap_err().to_string();
            assert!(err.contains("invalid --tz"), "{bad}: {err}");
        }
        if Path::new("/usr/share/zoneinfo/UTC").is_file() {
            let file = time_zone_file("UTC").unwrap();
            assert_eq!(file, Path::new("/usr/share/zoneinfo/UTC"));
        }
    }

    #[test]
    fn a_read_only_bind_is_read_only_below_too() {
        let dir = tempfile::tempdir().unwrap();
        let host = dir.path().display().to_string();
        let options = |m: &MountSpec| m.to_oci().unwrap().options().clone().unwrap_or_default();
        let has_rro = |m: &MountSpec| options(m).iter().any(|o| o == "rro");
        // These machines' kernels have mount_setattr (5.12 and later).
        assert!(kernel_has_recursive_read_only());
        let ro = parse_volume(&format!("{host}:/h:ro"), dir.path()).unwrap();
        assert!(has_rro(&ro), "{:?}", options(&ro));
        let file = dir.path().join("file");
        std::fs::write(&file, "").unwrap();
        let ro_file = parse_volume(&format!("{}:/f:ro", file.display()), dir.path()).unwrap();
        assert!(!has_rro(&ro_file), "{:?}", options(&ro_file));
        for plain in [format!("{host}:/h"), format!("{host}:/h:ro,bind")] {
            let m = parse_volume(&plain, dir.path()).unwrap();
            assert!(!has_rro(&m), "{plain}: {:?}", options(&m));
        }
        let mount =
            |words: &str| parse_mount(&format!("type=bind,src={host},dst=/h,{words}"), dir.path());
        assert!(has_rro(&mount("readonly").unwrap()));
        let top = mount("readonly,bind-recursive=writable").unwrap();
        assert_eq!(top.read_only_depth, ReadOnlyDepth::TopOnly);
        assert!(!has_rro(&top));
        let forced = mount("readonly,bind-recursive=readonly").unwrap();
        assert_eq!(forced.read_only_depth, ReadOnlyDepth::ForceRecursive);
        assert!(has_rro(&forced));
        let single = mount("readonly,bind-recursive=disabled").unwrap();
        assert!(single.options.iter().any(|o| o == "bind") && !has_rro(&single));
        for (words, says) in [
            (
                "readonly,bind-recursive=readonly,bind-nonrecursive",
                "needs a recursive bind",
            ),
            ("bind-recursive=sometimes", "invalid mount option"),
            ("bind-recursive=readonly", "are for a read-only mount"),
            ("bind-recursive=writable", "are for a read-only mount"),
        ] {
            let err = mount(words).unwrap_err().to_string();
            assert!(err.contains(says), "{words}: {err}");
        }
        let err = parse_mount(
            "type=volume,src=v,dst=/v,bind-recursive=writable",
            dir.path(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("bind-recursive is for bind mounts"), "{err}");
    }

    #[test]
    fn overlay_mounts_parse_as_podman_takes_them() {
        let dir = tempfile::tempdir().unwrap();
        let host = dir.path().display().to_string();
        let m = parse_volume(&format!("{host}:/data:O"), dir.path()).unwrap();
        let own = OverlayLayers {
            upper: None,
            work: None,
        };
        assert_eq!(m.overlay.as_ref(), Some(&own));
        assert_eq!(m.options, ["rbind", "rprivate"]);
        check_bind_sources(std::slice::from_ref(&m)).unwrap();
        let m = parse_volume(
            &format!("{host}:/data:O,upperdir=/srv/up,workdir=/srv/work,noexec"),
            dir.path(),
        )
        .unwrap();
        assert_eq!(
            m.overlay,
            Some(OverlayLayers {
                upper: Some("/srv/up".into()),
                work: Some("/srv/work".into()),
            })
        );
        assert_eq!(m.options, ["rbind", "rprivate", "noexec"]);
        let named = parse_volume("cache:/c:O,nocopy", dir.path()).unwrap();
        assert_eq!(named.overlay, Some(own));
        assert!(named.no_copy);
        for (bad, says) in [
            (
                format!("{host}:/a:O,ro"),
                "can't use 'O' with other options: ro",
            ),
            (
                format!("{host}:/a:O,Z"),
                "can't use 'O' with other options: Z",
            ),
            (
                format!("{host}:/a:O,U"),
                "can't use 'O' with other options: U",
            ),
            (
                format!("{host}:/a:upperdir=/u,workdir=/w"),
                "for an overlay mount (O)",
            ),
            (format!("{host}:/a:O,upperdir=/u"), "must set both"),
            (
                format!("{host}:/a:O,upperdir=u,workdir=/w"),
                "an absolute host path",
            ),
            (
                format!("{host}:/a:O,upperdir=/u:x,workdir=/w"),
                "HOST:CONTAINER",
            ),
            (
                format!("{host}:/a:O,upperdir=/u,x,workdir=/w"),
                "invalid option",
            ),
        ] {
            let err = parse_volume(&bad, dir.path()).unwrap_err().to_string();
            assert!(err.contains(says), "{bad}: {err}");
        }
        let err = parse_mount(&format!("type=bind,src={host},dst=/a,O"), dir.path())
            .unwrap_err()
            .to_string();
        assert!(err.contains("invalid mount option"), "{err}");
        let file = dir.path().join("file");
        std::fs::write(&file, "").unwrap();
        let m = parse_volume(&format!("{}:/f:O", file.display()), dir.path()).unwrap();
        let err = check_bind_sources(&[m]).unwrap_err().to_string();
        assert!(err.contains("must be a directory"), "{err}");
        let comma = dir.path().join("a,b");
        std::fs::create_dir(&comma).unwrap();
        let m = parse_volume(&format!("{}:/c:O", comma.display()), dir.path()).unwrap();
        let err = check_bind_sources(&[m]).unwrap_err().to_string();
        assert!(err.contains("cannot take a path with , or :"), "{err}");
        let err = with_subpath(parse_volume("v:/v:O", dir.path()).unwrap(), "sub")
            .unwrap_err()
            .to_string();
        assert!(err.contains("does not go with U, idmap or O"), "{err}");
    }

    #[test]
    fn volumes_parse_as_podman_takes_them() {
        let dir = tempfile::tempdir().unwrap();
        let host = dir.path().display().to_string();
        let m = parse_volume(&format!("{host}:/data"), dir.path()).unwrap();
        assert_eq!(m.destination, "/data");
        assert_eq!(m.options, ["rbind", "rprivate"]);
        let m = parse_volume(&format!("{host}:/data/./x/:ro,z,rslave,noexec"), dir.path()).unwrap();
        assert_eq!(m.destination, "/data/x");
        assert_eq!(m.options, ["rbind", "rslave", "ro", "noexec"]);
        assert!(m.read_only() && m.propagation() == "rslave");
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let m = parse_volume("./sub:/s", dir.path()).unwrap();
        assert_eq!(m.source, dir.path().join("./sub"));
        for (bad, says) in [
            (format!("{host}:relative"), "absolute"),
            (format!("{host}:/"), "root"),
            (format!("{host}:/a/../b"), ".."),
            (format!("{host}:/a:ro,rw"), "more than once"),
            (format!("{host}:/a:bogus"), "invalid option"),
            (format!("{host}:/a:b:c"), "HOST:CONTAINER"),
        ] {
            let err = parse_volume(&bad, dir.path()).unwrap_err().to_string();
            assert!(err.contains(says), "{bad}: {err}");
        }
        // A missing host path is read (it may be another host's), and refused at a create.
        let missing = parse_volume("/no/such/dir:/a", dir.path()).unwrap();
        let err = check_bind_sources(&[missing]).unwrap_err().to_string();
        assert!(err.contains("statfs /no/such/dir"), "{err}");
        let named = parse_volume("name:/a:ro", dir.path()).unwrap();
        check_bind_sources(std::slice::from_ref(&named)).unwrap();
        assert_eq!(named.volume.as_deref(), Some("name"));
        assert_eq!(
            named.options,
            ["rbind", "rprivate", "ro", "nosuid", "nodev"]
        );
        // Volumes are nosuid and nodev unless told otherwise (podman's); binds are not.
        let allowed = parse_volume("v:/a:suid,dev,exec", dir.path()).unwrap();
        assert_eq!(
            allowed.options,
            ["rbind", "rprivate", "suid", "dev", "exec"]
        );
        let half = parse_mount("type=volume,src=v,dst=/a,dev", dir.path()).unwrap();
        assert_eq!(half.options, ["rbind", "rprivate", "dev", "nosuid"]);
        let anonymous = parse_volume("/anon", dir.path()).unwrap();
        assert_eq!(anonymous.options, ["rbind", "rprivate", "nosuid", "nodev"]);
        let anonymous = parse_volume("/a/./b:ro", dir.path());
        assert!(anonymous.is_err(), "an anonymous volume takes no options");
        let anonymous = parse_volume("/a/./b", dir.path()).unwrap();
        assert!(anonymous.anonymous && anonymous.volume.as_deref() == Some(""));
        assert_eq!(anonymous.destination, "/a/b");
        let owned = parse_volume(&format!("{host}:/a:U,ro"), dir.path()).unwrap();
        assert!(owned.chown && !owned.no_copy);
        assert_eq!(owned.options, ["rbind", "rprivate", "ro"]);
        let uncopied = parse_volume("v:/a:nocopy", dir.path()).unwrap();
        assert!(uncopied.no_copy && uncopied.skips_copy_up());
        // Shared with another container: a volume is not filled again, a bind takes no
        // `nocopy` (a spec could not say it); neither is anonymous or re-owned there.
        let anonymous_owned = MountSpec {
            anonymous: true,
            chown: true,
            ..parse_volume("v:/a", dir.path()).unwrap()
        };
        let shared = anonymous_owned.shared();
        assert!(shared.no_copy && !shared.anonymous && !shared.chown);
        let shared_bind = parse_volume(&format!("{host}:/a:U"), dir.path())
            .unwrap()
            .shared();
        assert!(!shared_bind.no_copy && !shared_bind.chown);
        let old_bind = MountSpec {
            no_copy: true,
            ..shared_bind
        };
        assert!(!old_bind.skips_copy_up());
        // `copy` is the default said out loud, on a volume or a bind (podman's); one of
        // the two at most.
        assert!(!parse_volume("v:/a:copy", dir.path()).unwrap().no_copy);
        assert!(
            !parse_volume(&format!("{host}:/a:copy"), dir.path())
                .unwrap()
                .no_copy
        );
        for both in ["copy,nocopy", "nocopy,nocopy"] {
            let err = parse_volume(&format!("v:/a:{both}"), dir.path()).unwrap_err();
            assert!(err.to_string().contains("'copy' and 'nocopy'"), "{err}");
        }
        let mapped = parse_volume(&format!("{host}:/a:idmap,ro"), dir.path()).unwrap();
        assert!(mapped.idmap && !mapped.chown);
        assert_eq!(mapped.options, ["rbind", "rprivate", "ro"]);
        assert!(parse_volume("v:/a:idmap", dir.path()).unwrap().idmap);
        assert!(parse_volume(&format!("{host}:/a:idmap,U"), dir.path()).is_err());
        assert!(matches!(
            parse_volume(&format!("{host}:/a:idmap=uids=0-1-1"), dir.path()),
            Err(EngineError::NotSupported(_))
        ));
        assert!(
            !parse_volume(&format!("{host}:/a"), dir.path())
                .unwrap()
                .idmap
        );
    }

    #[test]
    fn a_volume_mount_carries_the_options_of_a_volume_made_on_first_use() {
        let cwd = Path::new("/");
        let m = parse_mount(
            r#"type=volume,src=data,dst=/d,volume-opt=type=tmpfs,"volume-opt=o=size=1m,uid=1000",volume-label=team=db"#,
            cwd,
        )
        .unwrap();
        assert_eq!(m.volume.as_deref(), Some("data"));
        let options: Vec<(&str, &str)> = m
            .volume_options
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(options, [("o", "size=1m,uid=1000"), ("type", "tmpfs")]);
        assert_eq!(m.volume_labels["team"], "db");
        let anonymous = parse_mount("type=volume,dst=/d,volume-opt=device=tmpfs", cwd).unwrap();
        assert!(anonymous.anonymous && anonymous.volume_options["device"] == "tmpfs");
        // Only a volume takes them; each is a KEY=VALUE; the local driver only.
        for bad in [
            "type=tmpfs,dst=/d,volume-opt=o=size=1m",
            "type=volume,dst=/d,volume-opt=novalue",
            "type=volume,dst=/d,volume-label==x",
        ] {
            assert!(
                matches!(parse_mount(bad, cwd), Err(EngineError::InvalidArg(_))),
                "{bad}"
            );
        }
        assert!(parse_mount("type=volume,dst=/d,volume-driver=local", cwd).is_ok());
        // As libpod's SpecGenerator carries them: words among the volume's options.
        let words = new_volume_words(&m);
        let plain = named_volume("data", "/d", &[]).unwrap();
        assert_eq!(with_new_volume_settings(plain.clone(), &words).unwrap(), m);
        assert!(with_new_volume_settings(plain, &["volume-opt=novalue".into()]).is_err());
        assert!(matches!(
            parse_mount("type=volume,dst=/d,volume-driver=nfs", cwd),
            Err(EngineError::NotSupported(_))
        ));
    }

    #[test]
    fn tmpfs_and_mount_flags() {
        for good in [
            "size=64m",
            "size=1G",
            "size=4096",
            "size=50%",
            "nr_inodes=10k",
            "nr_blocks=100",
            "mode=0700",
            "uid=1000",
            "gid=0",
        ] {
            assert!(parse_tmpfs(&format!("/t:{good}")).is_ok(), "{good}");
        }
        for bad in [
            "size=abc",
            "size=",
            "size=10x",
            "size=5%%",
            "nr_inodes=10%",
            "mode=999",
            "mode=rwx",
            "uid=-1",
            "gid=root",
            "nr_blocks=1.5",
        ] {
            let err = parse_tmpfs(&format!("/t:{bad}")).unwrap_err().to_string();
            assert!(err.contains(&format!("\"{bad}\"")), "{bad}: {err}");
        }
        let m = parse_tmpfs("/run:size=64m,mode=1777,exec").unwrap();
        assert_eq!(
            m.options,
            [
                "rw",
                "nosuid",
                "nodev",
                "size=64m",
                "mode=1777",
                "exec",
                "tmpcopyup"
            ]
        );
        assert_eq!(
            parse_tmpfs("/t").unwrap().options,
            ["rw", "nosuid", "nodev", "tmpcopyup"]
        );
        assert_eq!(
            parse_tmpfs("/t:notmpcopyup,ro,noexec").unwrap().options,
            ["nosuid", "nodev", "ro", "noexec"]
        );
        assert!(parse_tmpfs("/t:bogus=1").is_err());
        // podman's words for an empty host side and an unknown type; podman's other types
        // are not supported.
        let said = |r: Result<MountSpec>| r.unwrap_err().to_string();
        assert_eq!(
            said(parse_volume(":/d", Path::new("/"))),
            "host directory cannot be empty"
        );
        assert_eq!(
            said(parse_mount("type=bogus,dst=/d", Path::new("/"))),
            "invalid filesystem type \"bogus\""
        );
        assert!(matches!(
            parse_mount("type=glob,src=/x*,dst=/d", Path::new("/")),
            Err(EngineError::NotSupported(_))
        ));
        let dir = tempfile::tempdir().unwrap();
        let host = dir.path().display().to_string();
        let m = parse_mount(
            &format!("type=bind,src={host},dst=/d,readonly,bind-propagation=shared"),
            dir.path(),
        )
        .unwrap();
        assert_eq!(m.options, ["rbind", "shared", "ro"]);
        let m = parse_mount(
            "type=tmpfs,target=/scratch,tmpfs-size=1m,tmpfs-mode=700",
            dir.path(),
        )
        .unwrap();
        assert_eq!(m.kind, MountKind::Tmpfs);
        assert!(
            m.options.contains(&"size=1048576".to_string())
                && m.options.contains(&"mode=700".to_string())
        );
        // podman's tmpcopyup (the default) and notmpcopyup, for a tmpfs only.
        let copied = parse_mount("type=tmpfs,dst=/c,tmpcopyup", dir.path()).unwrap();
        assert!(copied.options.contains(&"tmpcopyup".to_string()));
        let empty = parse_mount("type=tmpfs,dst=/c,notmpcopyup", dir.path()).unwrap();
        assert!(!empty.options.contains(&"tmpcopyup".to_string()));
        for bad in ["tmpcopyup", "tmpfs-size=1m"] {
            let text = format!("type=bind,src={host},dst=/d,{bad}");
            assert!(parse_mount(&text, dir.path()).is_err(), "{text}");
        }
        let volume = parse_mount("type=volume,src=v,dst=/v", dir.path()).unwrap();
        assert_eq!(volume.volume.as_deref(), Some("v"));
        let anonymous = parse_mount("type=volume,dst=/v,volume-nocopy,U", dir.path()).unwrap();
        assert!(anonymous.anonymous && anonymous.no_copy && anonymous.chown);
        for bad in [
            "type=bind,dst=/x",
            "src=/tmp,dst=/x",
            "type=tmpfs",
            "type=tmpfs,dst=/x,tmpfs-mode=9z",
            "type=nfs,dst=/x",
        ] {
            assert!(parse_mount(bad, dir.path()).is_err(), "{bad}");
        }
        let twice = [parse_tmpfs("/a").unwrap(), parse_tmpfs("/a/").unwrap()];
        assert!(validate(&twice)
            .unwrap_err()
            .to_string()
            .contains("duplicate"));
    }
}
