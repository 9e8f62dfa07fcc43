//! `RUN --mount` for `build`: what a RUN step sees besides the image's files, as BuildKit
//! and buildah give it: the build context's or another stage's files (`type=bind`), a
//! directory kept between builds (`type=cache`), a tmpfs, a secret. None of it goes into
//! the step's layer (a commit leaves mount points out). Sources are copied, never bound
//! where they are: a context's files as COPY reads them (the ignore file applies, a source
//! that is a link followed inside the context only, links below it kept as links), a
//! stage's through `cp`'s machinery (paths resolved inside its root), so a step's writes to
//! an `rw` bind are thrown away with the copy and a link in the sources can never expose
//! the host (a bind's source is never a link).

use std::fs;
use std::os::unix::fs::PermissionsExt;

use super::cache_dirs::{self, CacheDir, NewDirMode};
use super::{parse_chmod, step_error, Builder, FromSource, Stage};
use crate::containerfile::{self, Instruction};
use crate::mounts::MountSpec;
use crate::scratch::ScratchDir;
use crate::{EngineError, Result};

/// The largest secret a step may mount.
const MAX_SECRET: u64 = 1 << 20;

/// A `--secret` given to `build`: where its value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildSecret {
    /// A file's contents (`src=PATH`).
    File(std::path::PathBuf),
    /// A value (`env=NAME`: the variable's, read when the build starts).
    Value(String),
}

/// Where `build --ssh ID=...` takes the agent that `RUN --mount=type=ssh,id=ID` forwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SshSource {
    /// A running agent's socket (`ID=SOCKET`, or `$SSH_AUTH_SOCK` for `ID` alone).
    Socket(std::path::PathBuf),
    /// Private key files (`ID=KEY[,KEY...]`), served by an agent of the build's own.
    Keys(Vec<std::path::PathBuf>),
}

/// `build --ssh ID[=SOCKET|KEY[,KEY...]]` (`default` is an ID too), as BuildKit and podman
/// take it: one path that is a socket is an agent's; otherwise every path is a key file.
pub fn parse_ssh_flag(text: &str) -> std::result::Result<(String, SshSource), String> {
    let (id, paths) = match text.split_once('=') {
        Some((id, paths)) => (id, Some(paths)),
        None => (text, None),
    };
    if id.is_empty() || id.contains(',') {
        return Err(format!("invalid --ssh {text:?}: ID[=SOCKET|KEY[,KEY...]]"));
    }
    let Some(paths) = paths else {
        let socket = std::env::var_os("SSH_AUTH_SOCK")
            .filter(|s| !s.is_empty())
            .map(std::path::PathBuf::from)
            .ok_or_else(|| {
                format!("--ssh {id}: SSH_AUTH_SOCK is not set: give --ssh {id}=SOCKET or KEY")
            })?;
        check_ssh_socket(id, &socket)?;
        return Ok((id.to_string(), SshSource::Socket(socket)));
    };
    let paths: Vec<std::path::PathBuf> = paths.split(',').map(Into::into).collect();
    if paths.iter().any(|p| p.as_os_str().is_empty()) {
        return Err(format!("invalid --ssh {text:?}: an empty path"));
    }
    if let [only] = paths.as_slice() {
        if is_socket(only) {
            return Ok((id.to_string(), SshSource::Socket(only.clone())));
        }
    }
    for path in &paths {
        let meta =
            fs::metadata(path).map_err(|e| format!("--ssh {id}: {}: {e}", path.display()))?;
        if !meta.is_file() {
            return Err(format!(
                "--ssh {id}: {} is neither a key file nor (alone) an ssh agent's socket",
                path.display()
            ));
        }
    }
    Ok((id.to_string(), SshSource::Keys(paths)))
}

fn is_socket(path: &std::path::Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    fs::metadata(path).is_ok_and(|m| m.file_type().is_socket())
}

/// An ssh agent's socket is a socket: checked when `--ssh` is read and again when a step
/// forwards it (the agent may have gone since).
fn check_ssh_socket(id: &str, socket: &std::path::Path) -> std::result::Result<(), String> {
    fs::metadata(socket).map_err(|e| format!("--ssh {id}: {}: {e}", socket.display()))?;
    if !is_socket(socket) {
        return Err(format!(
            "--ssh {id}: {} is not an ssh agent's socket",
            socket.display()
        ));
    }
    Ok(())
}

/// `build --secret id=ID,src=PATH` (or `env=NAME`; `type=file|env` may say which).
pub fn parse_secret_flag(text: &str) -> std::result::Result<(String, BuildSecret), String> {
    let (mut id, mut src, mut env, mut kind) = (None, None, None, None);
    for field in text.split(',').filter(|f| !f.is_empty()) {
        match field.split_once('=') {
            Some(("id", v)) => id = Some(v.to_string()),
            Some(("src" | "source", v)) => src = Some(v.to_string()),
            Some(("env", v)) => env = Some(v.to_string()),
            Some(("type", v @ ("file" | "env"))) => kind = Some(v.to_string()),
            _ => return Err(format!("--secret {text:?}: unknown field {field:?}")),
        }
    }
    let id = id
        .filter(|id| !id.is_empty() && !id.contains('/'))
        .ok_or_else(|| format!("--secret {text:?}: id=NAME is required (no `/`)"))?;
    let secret = match (kind.as_deref(), src, env) {
        (Some("env") | None, None, Some(name)) | (Some("env"), Some(name), None) => {
            BuildSecret::Value(std::env::var(&name).map_err(|_| {
                format!("--secret {text:?}: the environment variable {name} is not set")
            })?)
        }
        (Some("file") | None, Some(path), None) => BuildSecret::File(path.into()),
        _ => {
            return Err(format!(
                "--secret {text:?}: give src=PATH or env=NAME, one of them"
            ))
        }
    };
    Ok((id, secret))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Bind,
    Cache,
    Tmpfs,
    Secret,
    /// An SSH agent's socket (`build --ssh`), forwarded into the step.
    Ssh,
}

/// How concurrent builds share a cache mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sharing {
    Shared,
    /// One step at a time (also `private`, which BuildKit gives a directory of its own
    /// when the shared one is busy: here it waits for it instead).
    Locked,
}

/// The agent an ssh mount names (`id=`, `default` when not given).
fn ssh_id(mount: &RunMount) -> String {
    mount.id.clone().unwrap_or_else(|| "default".into())
}

/// The secret a secret mount names (`id=`, or BuildKit's `source=`).
fn secret_id(mount: &RunMount) -> String {
    mount
        .id
        .clone()
        .or_else(|| mount.source.clone())
        .unwrap_or_default()
}

/// One `--mount=...` of a RUN step, as written (variables put in).
#[derive(Debug, Clone, PartialEq, Eq)]
struct RunMount {
    kind: Kind,
    target: String,
    source: Option<String>,
    from: Option<String>,
    read_write: bool,
    id: Option<String>,
    sharing: Sharing,
    mode: Option<u32>,
    uid: u32,
    gid: u32,
    size: Option<u64>,
    required: bool,
}

fn flag_bool(key: &str, value: Option<&str>) -> std::result::Result<bool, String> {
    match value {
        None | Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(other) => Err(format!("{key}={other:?}: true or false")),
    }
}

/// A `--mount` flag's value: `type=bind|cache|tmpfs|secret|ssh` and its fields, BuildKit's;
/// `ssh_index`: how many ssh mounts the step has before this one (BuildKit numbers their
/// default targets).
fn parse_run_mount(text: &str, ssh_index: usize) -> std::result::Result<RunMount, String> {
    let mut mount = RunMount {
        kind: Kind::Bind,
        target: String::new(),
        source: None,
        from: None,
        read_write: false,
        id: None,
        sharing: Sharing::Shared,
        mode: None,
        uid: 0,
        gid: 0,
        size: None,
        required: false,
    };
    let mut read_write = None;
    let number = |key: &str, value: &str| {
        value
            .parse::<u32>()
            .map_err(|_| format!("{key}={value:?}: a number"))
    };
    for field in text.split(',').filter(|f| !f.is_empty()) {
        let (key, value) = match field.split_once('=') {
            Some((key, value)) => (key.to_ascii_lowercase(), Some(value)),
            None => (field.to_ascii_lowercase(), None),
        };
        match (key.as_str(), value) {
            ("type", Some(kind)) => {
                mount.kind = match kind {
                    "bind" => Kind::Bind,
                    "cache" => Kind::Cache,
                    "tmpfs" => Kind::Tmpfs,
                    "secret" => Kind::Secret,
                    "ssh" => Kind::Ssh,
                    other => {
                        return Err(format!("type={other:?}: bind, cache, tmpfs, secret or ssh"))
                    }
                }
            }
            ("target" | "dst" | "destination", Some(v)) => mount.target = v.to_string(),
            ("source" | "src", Some(v)) => mount.source = Some(v.to_string()),
            ("from", Some(v)) => mount.from = Some(v.to_string()),
            ("id", Some(v)) => mount.id = Some(v.to_string()),
            ("ro" | "readonly", value) => read_write = Some(!flag_bool(&key, value)?),
            ("rw" | "readwrite", value) => read_write = Some(flag_bool(&key, value)?),
            ("required", value) => mount.required = flag_bool(&key, value)?,
            ("sharing", Some("shared")) => mount.sharing = Sharing::Shared,
            ("sharing", Some("locked" | "private")) => mount.sharing = Sharing::Locked,
            ("mode", Some(v)) => mount.mode = Some(parse_chmod(v)?),
            ("uid", Some(v)) => mount.uid = number("uid", v)?,
            ("gid", Some(v)) => mount.gid = number("gid", v)?,
            ("size" | "tmpfs-size", Some(v)) => {
                mount.size = Some(
                    crate::mounts::size_bytes(v).ok_or_else(|| format!("size={v:?}: a size"))?,
                )
            }
            _ => return Err(format!("unknown or malformed field {field:?}")),
        }
    }
    if mount.kind == Kind::Secret {
        let id = secret_id(&mount);
        if id.is_empty() || id.contains('/') {
            return Err("a secret mount needs id=NAME (no `/`)".into());
        }
        if mount.target.is_empty() {
            mount.target = format!("/run/secrets/{id}");
        }
    }
    if mount.kind == Kind::Ssh {
        if mount.id.as_ref().is_some_and(|id| id.is_empty()) {
            return Err("an ssh mount's id= cannot be empty".into());
        }
        if mount.target.is_empty() {
            mount.target = format!("/run/buildkit/ssh_agent.{ssh_index}");
        }
    }
    if !mount.target.starts_with('/') {
        return Err(if mount.target.is_empty() {
            "target=PATH is required".into()
        } else {
            format!("target={:?}: an absolute path", mount.target)
        });
    }
    // Binds and secrets are read-only unless asked; caches and tmpfs are writable.
    mount.read_write = read_write.unwrap_or(matches!(mount.kind, Kind::Cache | Kind::Tmpfs));
    match mount.kind {
        Kind::Cache if mount.from.is_none() && mount.source.is_some() => {
            Err("a cache mount's source= is a path of its from= stage or image".into())
        }
        Kind::Tmpfs | Kind::Secret | Kind::Ssh if mount.from.is_some() => {
            Err("from= is for bind and cache mounts".into())
        }
        Kind::Ssh if mount.source.is_some() => {
            Err("an ssh mount's agent is named by id= (build --ssh ID=SOCKET)".into())
        }
        Kind::Secret if mount.read_write => Err("a secret mount is read-only".into()),
        _ => Ok(mount),
    }
}

/// The containers whose roots cache mounts with `from=` show, by image: the container's ID
/// and where its root is mounted.
pub(super) type CacheRoots =
    std::sync::Mutex<std::collections::HashMap<String, (String, std::path::PathBuf)>>;

/// What a step's mounts hold until it ends: the copies they show and the cache locks.
pub(super) struct StepMounts {
    pub specs: Vec<MountSpec>,
    /// Variables the mounts set for the step (`SSH_AUTH_SOCK`).
    pub env: Vec<String>,
    _scratch: Vec<ScratchDir>,
    _caches: Vec<CacheDir>,
}

/// A step's `--mount`, with what a bind's files come from found.
pub(super) struct PlannedMount {
    mount: RunMount,
    source: BindFrom,
}

enum BindFrom {
    /// Not a bind.
    Nothing,
    /// Files of the build context, or of a named one.
    Context(Option<String>, std::path::PathBuf),
    /// A stage's or image's, by its ID.
    Image(String),
}

/// What the build was given for a mount (a secret, an agent), or `None` when it was not
/// and the mount does not require it (BuildKit then leaves the mount out).
fn given<'a, T>(
    found: Option<&'a T>,
    mount: &RunMount,
    instruction: &Instruction,
    required: impl FnOnce() -> String,
) -> Result<Option<&'a T>> {
    match found {
        None if mount.required => Err(mount_error(instruction, required())),
        found => Ok(found),
    }
}

/// `path` inside `root` as the image sees it (`RESOLVE_IN_ROOT`), as a host path without
/// links: what the descriptor that resolved it names.
fn resolve_in_root(root: &std::path::Path, path: &str) -> Result<std::path::PathBuf> {
    let relative = std::path::Path::new(path.trim_start_matches('/'));
    crate::confined::path_in_root(root, relative)
        .map(|(resolved, _)| resolved)
        .map_err(|e| EngineError::InvalidArg(format!("source={path}: {e}")))
}

/// A bind's source is never a link: the runtime would follow it on the host, wherever it
/// leads (the sources are copies of hostile files: the context's, an image's).
fn refuse_link(copy: &std::path::Path, source: &str) -> Result<()> {
    let meta = copy
        .symlink_metadata()
        .map_err(|e| EngineError::io("reading", copy, e))?;
    if meta.file_type().is_symlink() {
        return Err(EngineError::InvalidArg(format!(
            "source={source}: a link is not bound"
        )));
    }
    Ok(())
}

fn mount_error(instruction: &Instruction, what: impl std::fmt::Display) -> EngineError {
    step_error(instruction, format!("--mount: {what}"))
}

impl Builder<'_> {
    /// The mounts a RUN step asks for, and what the build cache keys them by (a bind's
    /// files by content; a cache's, a tmpfs' and a secret's by name, as BuildKit's cache:
    /// their contents are not the step's input). Nothing is copied yet.
    pub(super) fn plan_mounts(
        &mut self,
        stage: &Stage,
        instruction: &Instruction,
        progress: &mut dyn FnMut(&str),
    ) -> Result<(Vec<PlannedMount>, serde_json::Value)> {
        let mut planned = Vec::new();
        let mut keyed = Vec::new();
        let vars = stage.vars();
        let mut ssh_mounts = 0;
        for (name, value) in &instruction.flags {
            if name != "mount" {
                continue;
            }
            let value = containerfile::expand(value, &vars, instruction.line)?;
            let mount =
                parse_run_mount(&value, ssh_mounts).map_err(|e| mount_error(instruction, e))?;
            if mount.kind == Kind::Ssh {
                ssh_mounts += 1;
            }
            let from = match (mount.kind, &mount.from) {
                (Kind::Bind | Kind::Cache, Some(from)) => Some(self.source_named(from, progress)?),
                _ => None,
            };
            let (source, key) = match (mount.kind, from) {
                (Kind::Bind, None | Some(FromSource::Directory(_))) => {
                    // (A `from=` here is a named context's directory.)
                    let named = mount.from.as_ref().map(|n| n.to_ascii_lowercase());
                    let context = self.context_dir(named.as_deref());
                    let source = mount.source.clone().unwrap_or_default();
                    let relative = source.trim_start_matches('/');
                    let relative = if relative.is_empty() { "." } else { relative };
                    if relative.contains(['*', '?', '[']) {
                        return Err(mount_error(instruction, "a pattern as a bind's source"));
                    }
                    let paths = context.sources(&[relative.to_string()], instruction)?;
                    let digest = context.digest(&paths)?;
                    let path = paths.into_iter().next().ok_or_else(|| {
                        mount_error(instruction, format!("{source}: not in the context"))
                    })?;
                    // A link is followed inside the context: bound as it is, the host
                    // would follow it (a link to /etc/shadow would be the host's).
                    let path = context.followed(&path)?;
                    let key =
                        serde_json::json!({ "named": named, "context": digest, "source": source });
                    (BindFrom::Context(named, path), key)
                }
                (Kind::Bind, Some(FromSource::Image(image))) => {
                    let key = serde_json::json!({ "image": image, "source": mount.source });
                    (BindFrom::Image(image), key)
                }
                (Kind::Cache, Some(FromSource::Image(image))) => {
                    let key = serde_json::json!({ "cache_from": image, "source": mount.source });
                    (BindFrom::Image(image), key)
                }
                (Kind::Cache, Some(FromSource::Directory(name))) => {
                    return Err(mount_error(
                        instruction,
                        format!("a cache mount's from= names a stage or an image, not the build context {name}"),
                    ))
                }
                (Kind::Cache, None) => (
                    BindFrom::Nothing,
                    serde_json::json!({ "cache": mount.id.clone().unwrap_or_else(|| mount.target.clone()) }),
                ),
                (Kind::Tmpfs, _) => (
                    BindFrom::Nothing,
                    serde_json::json!({ "tmpfs": mount.size }),
                ),
                (Kind::Secret, _) => (
                    BindFrom::Nothing,
                    serde_json::json!({ "secret": secret_id(&mount) }),
                ),
                (Kind::Ssh, _) => (
                    BindFrom::Nothing,
                    serde_json::json!({ "ssh": ssh_id(&mount) }),
                ),
            };
            keyed.push(serde_json::json!({
                "target": mount.target,
                "rw": mount.read_write,
                "what": key,
            }));
            planned.push(PlannedMount { mount, source });
        }
        Ok((planned, serde_json::Value::Array(keyed)))
    }

    /// The planned mounts made ready for the step's container: sources copied, cache
    /// directories made and locked, secrets written.
    pub(super) fn prepare_mounts(
        &self,
        planned: Vec<PlannedMount>,
        instruction: &Instruction,
    ) -> Result<StepMounts> {
        let mut prepared = StepMounts {
            specs: Vec::new(),
            env: Vec::new(),
            _scratch: Vec::new(),
            _caches: Vec::new(),
        };
        for PlannedMount { mount, source } in planned {
            let options: &[&str] = if mount.read_write { &[] } else { &["ro"] };
            let bind = |path: &std::path::Path, options: &[&str]| {
                crate::mounts::bind(&path.display().to_string(), &mount.target, options, None)
            };
            let spec = match (mount.kind, source) {
                (Kind::Bind, BindFrom::Context(named, path)) => {
                    let (scratch, copy) = self.copy_context_for_mount(named.as_deref(), &path)?;
                    prepared._scratch.push(scratch);
                    bind(&copy, options)?
                }
                (Kind::Bind, BindFrom::Image(image)) => {
                    let source = mount.source.clone().unwrap_or_else(|| "/".into());
                    let (scratch, copy) = self.copy_image_for_mount(image, &source)?;
                    prepared._scratch.push(scratch);
                    bind(&copy, options)?
                }
                (Kind::Cache, BindFrom::Image(image)) => {
                    let source = mount.source.clone().unwrap_or_else(|| "/".into());
                    let path = self
                        .cache_from(image, &source)
                        .map_err(|e| mount_error(instruction, e))?;
                    bind(&path, options)?
                }
                (Kind::Cache, _) => {
                    let cache = self.cache_dir(&mount)?;
                    let spec = bind(&cache.path, options)?;
                    prepared._caches.push(cache);
                    spec
                }
                (Kind::Tmpfs, _) => {
                    let words: Vec<String> = mount
                        .size
                        .map(|size| format!("size={size}"))
                        .into_iter()
                        .collect();
                    crate::mounts::tmpfs(&mount.target, &words)?
                }
                (Kind::Secret, _) => {
                    let Some((scratch, file)) = self.secret_file(&mount, instruction)? else {
                        continue;
                    };
                    prepared._scratch.push(scratch);
                    bind(&file, &["ro"])?
                }
                (Kind::Ssh, _) => {
                    let Some(socket) = self.ssh_agent(&mount, instruction)? else {
                        continue;
                    };
                    // As BuildKit: the step's agent is the first ssh mount's.
                    if prepared.env.is_empty() {
                        prepared.env.push(format!("SSH_AUTH_SOCK={}", mount.target));
                    }
                    bind(&socket, &[])?
                }
                (Kind::Bind, BindFrom::Nothing) => {
                    return Err(mount_error(instruction, "a bind mount without a source"))
                }
            };
            prepared.specs.push(spec);
        }
        crate::mounts::validate(&prepared.specs)?;
        Ok(prepared)
    }

    /// The context's `path` (a file or a directory) copied as COPY reads it, into a
    /// scratch directory; the copy's path.
    fn copy_context_for_mount(
        &self,
        named: Option<&str>,
        path: &std::path::Path,
    ) -> Result<(ScratchDir, std::path::PathBuf)> {
        let scratch = ScratchDir::new(&self.engine.roots.tmp(), "build-mount-")?;
        let is_dir = path
            .symlink_metadata()
            .map_err(|e| EngineError::io("reading", path, e))?
            .is_dir();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let (name, copy) = if is_dir {
            (None, scratch.path().to_path_buf())
        } else {
            let copy = scratch.path().join(&name);
            (Some(name), copy)
        };
        let mut archive =
            self.context_dir(named)
                .tar(&self.engine.roots.tmp(), path, name.as_deref())?;
        let space = self.engine.roots.space_guard();
        crate::scratch::unpack_tar(
            &mut archive,
            scratch.path(),
            "the build context",
            false,
            &space,
        )?;
        refuse_link(&copy, &path.display().to_string())?;
        Ok((scratch, copy))
    }

    /// `source` of an image copied out (through `cp`'s machinery: resolved inside its
    /// root) into a scratch directory; the copy's path.
    fn copy_image_for_mount(
        &self,
        image: String,
        source: &str,
    ) -> Result<(ScratchDir, std::path::PathBuf)> {
        let scratch = ScratchDir::new(&self.engine.roots.tmp(), "build-mount-")?;
        let container = self.container(
            &Stage::new(None, image, Default::default(), Default::default()),
            None,
        )?;
        let copied = (|| -> Result<std::path::PathBuf> {
            let named = format!("/{}", source.trim_start_matches('/'));
            // A link is followed inside the image's root: copied as a link, the runtime's
            // bind would follow it on the host.
            let (path, stat) = self.followed_in_image(&container, &named)?;
            if stat.mode & libc::S_IFMT == libc::S_IFDIR {
                let contents = format!("{}/.", path.trim_end_matches('/'));
                self.engine
                    .copy_from_container(&container, &contents, scratch.path())?;
                Ok(scratch.path().to_path_buf())
            } else {
                self.engine
                    .copy_from_container(&container, &path, scratch.path())?;
                Ok(scratch.path().join(&stat.name))
            }
        })();
        self.remove_container(&container);
        let copied = copied?;
        refuse_link(&copied, source)?;
        Ok((scratch, copied))
    }

    /// `source` in the root of `image` that cache mounts with that `from=` show for the
    /// rest of the build (the root mounted at the first; see `Builder::cache_roots`): the
    /// path resolved inside the root (a link in the image never leads out of it), with no
    /// link left in it, for the runtime to bind.
    fn cache_from(&self, image: String, source: &str) -> Result<std::path::PathBuf> {
        let root = {
            let mut roots = self
                .cache_roots
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            match roots.get(&image) {
                Some((_, root)) => root.clone(),
                None => {
                    let stage =
                        Stage::new(None, image.clone(), Default::default(), Default::default());
                    let container = self.container(&stage, None)?;
                    let root = match self.engine.mount(&container) {
                        Ok(root) => root,
                        Err(e) => {
                            self.remove_container(&container);
                            return Err(e);
                        }
                    };
                    roots.insert(image, (container, root.clone()));
                    root
                }
            }
        };
        resolve_in_root(&root, source)
    }

    /// Remove the containers of `cache_from` (their roots unmounted with them): at the
    /// build's end, before the images they were made of may go.
    pub(super) fn remove_cache_roots(&self) {
        let roots = std::mem::take(
            &mut *self
                .cache_roots
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
        for (container, _) in roots.into_values() {
            self.remove_container(&container);
        }
    }

    /// A cache mount's directory (made on first use with the mount's mode and owner),
    /// locked for the step: exclusively unless it is shared.
    fn cache_dir(&self, mount: &RunMount) -> Result<CacheDir> {
        let id = mount.id.clone().unwrap_or_else(|| mount.target.clone());
        let new = NewDirMode {
            mode: mount.mode.unwrap_or(0o755),
            uid: mount.uid,
            gid: mount.gid,
        };
        cache_dirs::open(
            &self.engine.roots.build_cache_mounts(),
            &id,
            &new,
            mount.sharing == Sharing::Locked,
        )
    }

    /// The agent socket an ssh mount forwards (`build --ssh ID=SOCKET`), checked to be a
    /// socket still; `None` for an agent the build was not given that the mount does not
    /// require (BuildKit skips it).
    fn ssh_agent(
        &self,
        mount: &RunMount,
        instruction: &Instruction,
    ) -> Result<Option<std::path::PathBuf>> {
        let id = ssh_id(mount);
        let found = self.ssh_agents.sockets.get(&id);
        let Some(socket) = given(found, mount, instruction, || {
            format!("the ssh agent {id:?} is required: give --ssh {id}=SOCKET or KEY")
        })?
        else {
            return Ok(None);
        };
        check_ssh_socket(&id, socket).map_err(EngineError::InvalidArg)?;
        Ok(Some(socket.clone()))
    }

    /// A secret's value in a scratch file with the mount's mode and owner; `None` for a
    /// secret the build was not given that the mount does not require (BuildKit skips it).
    fn secret_file(
        &self,
        mount: &RunMount,
        instruction: &Instruction,
    ) -> Result<Option<(ScratchDir, std::path::PathBuf)>> {
        let id = secret_id(mount);
        let found = self.options.secrets.get(&id);
        let Some(secret) = given(found, mount, instruction, || {
            format!("the secret {id:?} is required: give --secret id={id},src=PATH")
        })?
        else {
            return Ok(None);
        };
        let value = match secret {
            BuildSecret::Value(value) => value.clone().into_bytes(),
            BuildSecret::File(path) => {
                use std::io::Read;
                let file = fs::File::open(path).map_err(|e| EngineError::io("opening", path, e))?;
                let mut value = Vec::new();
                file.take(MAX_SECRET + 1)
                    .read_to_end(&mut value)
                    .map_err(|e| EngineError::io("reading", path, e))?;
                if value.len() as u64 > MAX_SECRET {
                    return Err(EngineError::InvalidArg(format!(
                        "the secret {id}: {} is larger than {MAX_SECRET} bytes",
                        path.display()
                    )));
                }
                value
            }
        };
        let scratch = ScratchDir::new(&self.engine.roots.tmp(), "build-secret-")?;
        let file = scratch.path().join("secret");
        let write = || -> std::io::Result<()> {
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            let mut out = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o400)
                .open(&file)?;
            out.write_all(&value)?;
            std::os::unix::fs::fchown(&out, Some(mount.uid), Some(mount.gid))?;
            // After the owner, which would clear set-id bits.
            out.set_permissions(fs::Permissions::from_mode(mount.mode.unwrap_or(0o400)))
        };
        write().map_err(|e| EngineError::io("writing the secret to", &file, e))?;
        Ok(Some((scratch, file)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_mounts_parse_as_buildkit_takes_them() {
        let bind = parse_run_mount("target=/src", 0).unwrap();
        assert_eq!((bind.kind, bind.read_write), (Kind::Bind, false));
        let bind = parse_run_mount("type=bind,from=builder,source=/out,dst=/in,rw", 0).unwrap();
        assert_eq!(bind.from.as_deref(), Some("builder"));
        assert_eq!(bind.source.as_deref(), Some("/out"));
        assert!(bind.read_write);
        let cache = parse_run_mount(
            "type=cache,target=/root/.cache,id=pip,sharing=locked,mode=0700,uid=5,gid=6",
            0,
        )
        .unwrap();
        assert_eq!(cache.kind, Kind::Cache);
        assert!(cache.read_write);
        assert_eq!(cache.sharing, Sharing::Locked);
        assert_eq!((cache.mode, cache.uid, cache.gid), (Some(0o700), 5, 6));
        let filled = parse_run_mount("type=cache,target=/c,from=base,source=/var/x", 0).unwrap();
        assert_eq!(filled.from.as_deref(), Some("base"));
        assert_eq!(filled.source.as_deref(), Some("/var/x"));
        assert!(filled.read_write);
        let cache = parse_run_mount("type=cache,target=/c,ro", 0).unwrap();
        assert!(!cache.read_write);
        let tmpfs = parse_run_mount("type=tmpfs,target=/t,size=1m", 0).unwrap();
        assert_eq!(tmpfs.size, Some(1 << 20));
        let secret = parse_run_mount("type=secret,id=token,required", 0).unwrap();
        assert_eq!(secret.target, "/run/secrets/token");
        assert!(secret.required && !secret.read_write);
        // ssh: the agent `default` unless named, at BuildKit's numbered default targets.
        let ssh = parse_run_mount("type=ssh", 0).unwrap();
        assert_eq!((ssh.kind, ssh_id(&ssh)), (Kind::Ssh, "default".to_string()));
        assert_eq!(ssh.target, "/run/buildkit/ssh_agent.0");
        let ssh = parse_run_mount("type=ssh,id=git,required", 1).unwrap();
        assert_eq!(ssh.target, "/run/buildkit/ssh_agent.1");
        assert!(ssh.required && ssh_id(&ssh) == "git");
        for (bad, says) in [
            ("type=bind", "target"),
            ("target=relative", "absolute"),
            ("type=ssh,id=", "id="),
            ("type=ssh,src=/tmp/agent", "id="),
            ("type=ssh,from=x", "from="),
            ("type=volume,target=/v", "type="),
            ("type=cache,target=/c,source=/x", "from="),
            ("type=secret", "id=NAME"),
            ("type=secret,id=x,rw", "read-only"),
            ("type=cache,target=/c,mode=u+x", "octal"),
            ("type=cache,target=/c,uid=me", "a number"),
            ("target=/x,ro=maybe", "true or false"),
            ("target=/x,bogus=1", "bogus"),
        ] {
            let err = parse_run_mount(bad, 0).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }

    /// `--ssh`: an agent's socket by ID, or key files (one alone too); a socket among
    /// keys, a directory, a missing path, an empty path and an empty ID are refused
    /// saying why.
    #[test]
    fn ssh_flags_take_an_agents_socket_or_key_files() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("agent.sock");
        let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        let given = format!("git={}", socket.display());
        assert_eq!(
            parse_ssh_flag(&given).unwrap(),
            ("git".into(), SshSource::Socket(socket.clone()))
        );
        let key = dir.path().join("id_ed25519");
        fs::write(&key, "a key").unwrap();
        assert_eq!(
            parse_ssh_flag(&format!("default={}", key.display())).unwrap(),
            ("default".into(), SshSource::Keys(vec![key.clone()]))
        );
        assert_eq!(
            parse_ssh_flag(&format!("default={},{}", key.display(), key.display())).unwrap(),
            (
                "default".into(),
                SshSource::Keys(vec![key.clone(), key.clone()])
            )
        );
        for (bad, says) in [
            (
                format!("default={},{}", key.display(), socket.display()),
                "neither a key file",
            ),
            (
                format!("default={}", dir.path().display()),
                "neither a key file",
            ),
            (
                format!("x={}", dir.path().join("nothing").display()),
                "nothing",
            ),
            (format!("x={},", key.display()), "an empty path"),
            ("=/x".to_string(), "ID[=SOCKET|KEY"),
        ] {
            let err = parse_ssh_flag(&bad).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }

    #[test]
    fn secret_flags_take_a_file_or_a_variable() {
        assert_eq!(
            parse_secret_flag("id=token,src=/run/token").unwrap(),
            ("token".into(), BuildSecret::File("/run/token".into()))
        );
        std::env::set_var("RPOD_TEST_SECRET_FLAG", "value");
        assert_eq!(
            parse_secret_flag("id=t,env=RPOD_TEST_SECRET_FLAG").unwrap(),
            ("t".into(), BuildSecret::Value("value".into()))
        );
        assert_eq!(
            parse_secret_flag("type=env,id=t,src=RPOD_TEST_SECRET_FLAG")
                .unwrap()
                .1,
            BuildSecret::Value("value".into())
        );
        for bad in [
            "src=/x",
            "id=a/b,src=/x",
            "id=x",
            "id=x,src=/a,env=B",
            "id=x,env=RPOD_TEST_NO_SUCH_VARIABLE",
            "id=x,src=/a,color=red",
        ] {
            assert!(parse_secret_flag(bad).is_err(), "{bad}");
        }
    }
}
