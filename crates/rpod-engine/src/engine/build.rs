//! `build`: a Containerfile (`containerfile.rs` reads it) made into an image with the
//! engine's own operations, one step at a time: a RUN step runs its command in a container
//! of the image so far and commits it; a COPY or ADD step copies into such a container (the
//! paths resolved inside its root, never through its links) and commits it; the other
//! instructions change the image's config, which the builder keeps and gives each commit.
//! Stages (`FROM ... AS name`) and `COPY --from` are supported; the images of the steps
//! are removed at the end, their layers staying with the image that uses them.

use std::collections::BTreeSet;

use oci_spec::image::Config;

use super::*;
use crate::containerfile::{self, Args, Instruction};
use crate::image::ImportOptions;

mod add_url;
pub(super) mod cache_dirs;
mod context;
mod mounts;
mod preprocess;
mod remote;
mod ssh_agent;
mod step_settings;
pub use mounts::{parse_secret_flag, parse_ssh_flag, BuildSecret, SshSource};
pub use remote::{containerfile_in_local_context, file_in_context, FetchedContext, RemoteContext};
pub use step_settings::StepSettings;

/// What `build` builds.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// The Containerfile.
    pub containerfile: PathBuf,
    /// A Containerfile named `*.in` is run through cpp first with these `--cpp-flag`s
    /// (`build/preprocess.rs`); `None` (a remote context, the REST service) refuses one.
    pub cpp_flags: Option<Vec<String>>,
    /// The directory COPY and ADD take files from.
    pub context: PathBuf,
    /// Names for the image.
    pub tags: Vec<String>,
    /// `--build-arg NAME=VALUE`.
    pub build_args: BTreeMap<String, String>,
    /// `--target`: the stage to stop at (the last one by default).
    pub target: Option<String>,
    /// `--from IMAGE`: the first FROM's image instead of the one it names (its `AS NAME`
    /// kept).
    pub from: Option<String>,
    /// RUN steps' output is not shown (`-q`).
    pub quiet: bool,
    /// RUN steps' output goes to `progress`, a line at a time once the step ends, instead
    /// of to this process's own standard output and error (the REST service's builds).
    pub capture_run_output: bool,
    /// Labels for the image (`--label`).
    pub labels: BTreeMap<String, String>,
    /// Annotations for the image's manifest (`--annotation`; an OCI image's only).
    pub annotations: BTreeMap<String, String>,
    /// `--os-version`: the OS version the image requires, in place of its base's.
    pub os_version: Option<String>,
    /// `--os-feature`: OS features the image requires, beside its base's.
    pub os_features: Vec<String>,
    /// Labels for the steps' containers (not the image's): how an interrupted build's
    /// caller finds the container of the step that was running.
    pub step_labels: BTreeMap<String, String>,
    /// When base images are pulled (`--pull`).
    pub pull: BuildPull,
    /// `--format`: a Docker-format image keeps HEALTHCHECK, ONBUILD and SHELL.
    pub format: image::ImageFormat,
    /// The images of the steps, as they are made: what a caller that stops the build
    /// midway (a signal) removes, besides the step's container. (With `layers` they stay:
    /// the next build takes them from the cache.)
    pub step_images: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    /// `--layers` (not taken with `squash`): each step's image is kept (an intermediate image,
    /// `images -a`) and noted in the build cache, and a step the cache knows is not run
    /// again (podman's default). Without it the steps' images go at the end.
    pub layers: bool,
    /// `--no-cache`: every step runs, even one the cache knows (what they make is still
    /// noted with `layers`).
    pub no_cache: bool,
    /// `--secret id=ID,...`: what `RUN --mount=type=secret,id=ID` shows, by ID.
    pub secrets: BTreeMap<String, BuildSecret>,
    /// `--ssh ID=SOCKET|KEY,...`: the ssh agents `RUN --mount=type=ssh,id=ID` forwards,
    /// by ID.
    pub ssh: BTreeMap<String, SshSource>,
    /// `--network`: the RUN steps' network (`RUN --network` says otherwise for one step);
    /// the configured default when `None`.
    pub network: Option<NetworkMode>,
    /// `--platform`: the platform built for (`TARGETPLATFORM`), which base images must be
    /// for unless their FROM says `--platform`; this machine's when `None`.
    pub platform: Option<image::platform::Platform>,
    /// `--skip-unused-stages` (buildah's default): only the target stage and those it
    /// takes from are built.
    pub skip_unused_stages: bool,
    /// What every RUN step's container gets besides its command, environment, mounts and
    /// network: `build`'s `--add-host`, `--dns`, `-v`, `--cap-add`, `--security-opt`,
    /// `--ulimit`, `--memory`, `--http-proxy`... (a `create`'s options; the builder sets
    /// the image, command, working directory, user, labels and log itself).
    pub step_template: CreateOptions,
    /// For pulls of base images (`--tls-verify`, `--authfile`, `--creds`, `--cert-dir`).
    pub registry: crate::image::registry::RegistryOptions,
    /// `--env KEY=VALUE`: set in every stage from its start (RUN steps see it) and so in
    /// the image.
    pub env: Vec<(String, String)>,
    /// `--ignorefile`: the ignore file instead of the context's `.containerignore` or
    /// `.dockerignore`.
    pub ignore_file: Option<PathBuf>,
    /// `--build-context NAME=VALUE`.
    pub build_contexts: BTreeMap<String, BuildContext>,
    /// `--squash`, `--squash-all`: the image's layers merged (no build cache then).
    pub squash: Squash,
    /// `--unsetenv KEY`: removed from the image's environment (every stage's, at its end:
    /// its RUN steps still see it).
    pub unset_env: Vec<String>,
    /// `--cache-from REPOSITORY`: registries' repositories a step's image is looked for in
    /// (tagged with its cache key) when the local cache has none.
    pub cache_from: Vec<String>,
    /// `--cache-to REPOSITORY`: where each step's image is pushed, tagged with its key.
    pub cache_to: Vec<String>,
    /// `--timestamp SECONDS`: the creation time of every image the build makes and the
    /// modification time of every file in the layers it makes, so that the same build
    /// makes the same image (ID) again.
    pub timestamp: Option<chrono::DateTime<chrono::Utc>>,
    /// `--omit-history`: the images the build makes keep no history.
    pub omit_history: bool,
    /// `--cache-ttl`: only steps' images made less than this long ago are taken from the
    /// cache (local or `--cache-from`'s).
    pub cache_ttl: Option<std::time::Duration>,
}

/// What a build says of each name it gave its image (`-t`): the full name, as podman
/// says it (`Successfully tagged localhost/web:latest`).
pub fn successfully_tagged(tag: &str) -> String {
    let name = crate::image::reference::normalize_local(tag).unwrap_or_else(|_| tag.to_string());
    format!("Successfully tagged {name}")
}

/// A FROM line's stage name (`AS NAME`, in lower case), if it has one.
fn stage_name(from: &Instruction, globals: &BTreeMap<String, String>) -> Option<String> {
    let text = containerfile::expand(&from.args.text(), globals, from.line).ok()?;
    match containerfile::words(&text, from.line).ok()?.as_slice() {
        [_, as_word, name] if as_word.eq_ignore_ascii_case("as") => Some(name.to_ascii_lowercase()),
        _ => None,
    }
}

/// `--from IMAGE`: the first FROM starts from `image` (taken as it is: no variable in it
/// is expanded), its `AS NAME` and flags kept.
fn replace_first_base(instructions: &mut [Instruction], image: &str) -> Result<()> {
    if image.is_empty() || image.contains(|c: char| c.is_whitespace() || c == '$') {
        return Err(EngineError::InvalidArg(format!(
            "invalid --from {image:?}: an image name"
        )));
    }
    let Some(first) = instructions.iter_mut().find(|i| i.keyword == "FROM") else {
        return Err(EngineError::InvalidArg(
            "--from: the Containerfile has no FROM".into(),
        ));
    };
    let text = first.args.text();
    let rest = text
        .trim_start()
        .split_once(char::is_whitespace)
        .map(|(_, rest)| rest.trim_start().to_string());
    first.args = containerfile::Args::Text(match rest {
        Some(rest) => format!("{image} {rest}"),
        None => image.to_string(),
    });
    Ok(())
}

/// Which stages a build needs (`--skip-unused-stages`): the target (`--target`'s stage,
/// else the last) and, in turn, the stages it takes from by FROM, `COPY --from` and `RUN
/// --mount=...,from=`. Empty (every stage is built) when a reference holds a variable
/// that only the stage being built could give.
fn needed_stages(
    instructions: &[Instruction],
    target: Option<&str>,
    globals: &BTreeMap<String, String>,
) -> Vec<bool> {
    // Each stage's name and the names it refers to.
    let mut stages: Vec<(Option<String>, Vec<String>)> = Vec::new();
    for instruction in instructions {
        let mut referred = Vec::new();
        match instruction.keyword.as_str() {
            "FROM" => {
                let base =
                    containerfile::expand(&instruction.args.text(), globals, instruction.line)
                        .ok()
                        .and_then(|text| containerfile::words(&text, instruction.line).ok())
                        .and_then(|words| words.first().cloned());
                stages.push((stage_name(instruction, globals), Vec::new()));
                referred.extend(base);
            }
            "COPY" | "ADD" | "RUN" => {
                for (flag, value) in &instruction.flags {
                    let from = match flag.as_str() {
                        "from" => Some(value.clone()),
                        "mount" => value
                            .split(',')
                            .find_map(|field| field.strip_prefix("from="))
                            .map(str::to_string),
                        _ => None,
                    };
                    let Some(from) = from else { continue };
                    if from.contains('$') {
                        return Vec::new();
                    }
                    referred.push(from);
                }
            }
            _ => {}
        }
        if let Some((_, refs)) = stages.last_mut() {
            refs.extend(referred.into_iter().map(|r| r.to_ascii_lowercase()));
        }
    }
    let index_of = |name: &str, before: usize| -> Option<usize> {
        stages[..before]
            .iter()
            .position(|(stage, _)| stage.as_deref() == Some(name))
            .or_else(|| name.parse::<usize>().ok().filter(|n| *n < before))
    };
    let Some(last) = stages.len().checked_sub(1) else {
        return Vec::new();
    };
    let target = match target {
        Some(target) => {
            let target = target.to_ascii_lowercase();
            match stages
                .iter()
                .position(|(name, _)| name.as_deref() == Some(target.as_str()))
            {
                Some(index) => index,
                None => return Vec::new(),
            }
        }
        None => last,
    };
    let mut needed = vec![false; stages.len()];
    let mut pending = vec![target];
    while let Some(index) = pending.pop() {
        if std::mem::replace(&mut needed[index], true) {
            continue;
        }
        for name in &stages[index].1 {
            pending.extend(index_of(name, index));
        }
    }
    needed
}

/// This machine's platform, as Go names it (`linux`, `amd64`).
fn native_platform() -> image::platform::Platform {
    image::platform::Platform {
        os: Some("linux".into()),
        arch: Some(image::platform::go_arch(std::env::consts::ARCH)),
        variant: None,
    }
}

/// The ARGs every build has without declaring them (BuildKit's and buildah's): the
/// target's and the build machine's platforms and their parts.
fn platform_args(target: &image::platform::Platform) -> BTreeMap<String, String> {
    let mut args = BTreeMap::new();
    for (prefix, platform) in [("TARGET", target.clone()), ("BUILD", native_platform())] {
        let os = platform.os.unwrap_or_else(|| "linux".into());
        let arch = platform
            .arch
            .map(|a| image::platform::go_arch(&a))
            .unwrap_or_else(|| image::platform::go_arch(std::env::consts::ARCH));
        let variant = platform.variant.unwrap_or_default();
        let whole = if variant.is_empty() {
            format!("{os}/{arch}")
        } else {
            format!("{os}/{arch}/{variant}")
        };
        args.insert(format!("{prefix}PLATFORM"), whole);
        args.insert(format!("{prefix}OS"), os);
        args.insert(format!("{prefix}ARCH"), arch);
        args.insert(format!("{prefix}VARIANT"), variant);
    }
    args
}

/// How `build` merges the image's layers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Squash {
    /// Each step's layer stays one.
    #[default]
    No,
    /// `--squash`: the layers the build made become one, on the base image's.
    New,
    /// `--squash-all`: every layer, the base image's too, becomes one.
    All,
}

/// `--build-context NAME=VALUE`: what FROM, `COPY --from` and `RUN --mount from=` find
/// under NAME.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildContext {
    /// A directory, as the build context is (COPY and bind mounts).
    Directory(PathBuf),
    /// An image (`docker-image://REF`, `container-image://REF`).
    Image(String),
    /// A Git repository or a download (`remote.rs`), fetched when the build begins.
    Remote(RemoteContext),
}

impl BuildContext {
    /// `DIR`, `docker-image://REF`, `container-image://REF`, or a URL of a Git repository,
    /// an archive or a Containerfile (`RemoteContext`).
    pub fn parse(value: &str) -> Result<BuildContext> {
        for prefix in ["docker-image://", "container-image://"] {
            if let Some(image) = value.strip_prefix(prefix) {
                return Ok(BuildContext::Image(image.to_string()));
            }
        }
        if let Some(remote) = RemoteContext::parse(value)? {
            return Ok(BuildContext::Remote(remote));
        }
        if value.is_empty() {
            return Err(EngineError::InvalidArg(
                "--build-context NAME=VALUE: the value is empty".into(),
            ));
        }
        Ok(BuildContext::Directory(PathBuf::from(value)))
    }
}

/// A named context as the build uses it.
enum NamedContext {
    Directory(context::ContextDir),
    Image(String),
}

/// Where a step's `--from=NAME` takes files from.
enum FromSource {
    /// An image: a stage's, a named context's, or one by name.
    Image(String),
    /// A named context's directory.
    Directory(String),
}

/// A RUN step's container: its command, environment, mounts and network.
struct StepRun {
    argv: Vec<String>,
    env: Vec<String>,
    mounts: Vec<crate::mounts::MountSpec>,
    network: Option<NetworkMode>,
}

/// `build --network` and `RUN --network`: `default` (the configured one), `none`, `host`.
pub fn parse_build_network(text: &str) -> Result<Option<NetworkMode>> {
    match text {
        "default" | "" => Ok(None),
        "none" => Ok(Some(NetworkMode::None)),
        "host" => Ok(Some(NetworkMode::Host)),
        other => Err(EngineError::NotSupported(format!(
            "the build network {other:?} (default, none and host are)"
        ))),
    }
}

/// `build --pull`: when a FROM or `COPY --from` image is pulled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum BuildPull {
    /// When it is not in the store (podman's default).
    #[default]
    Missing,
    /// Every time: a pull that fails fails the build.
    Always,
    /// Never: a missing image is an error.
    Never,
    /// Every time, but a pull that fails leaves the local image to be used, when there is
    /// one (as `run --pull newer`): a pull fetches only what changed.
    Newer,
}

/// A stage being built.
struct Stage {
    name: Option<String>,
    /// Its place among the build's stages, from 1, and how many instructions it has.
    number: usize,
    steps: usize,
    /// The image so far (its ID).
    image: String,
    /// The image's config as the steps so far leave it.
    config: Config,
    /// Whether `config` is ahead of the image's own.
    config_changed: bool,
    /// The history entries (`created_by`) of the instructions that changed only the config
    /// since the stage's last commit.
    config_steps: Vec<String>,
    /// Whether CMD was set in this stage (an ENTRYPOINT then keeps it).
    cmd_set: bool,
    shell: Vec<String>,
    /// The ARGs declared in the stage, with their values.
    args: BTreeMap<String, String>,
    author: Option<String>,
    /// HEALTHCHECK, ONBUILD and SHELL as a Docker-format image keeps them (the base
    /// image's health check and shell to begin with; its triggers run, not inherited).
    docker: image::DockerFields,
}

impl Stage {
    fn new(
        name: Option<String>,
        image: String,
        config: Config,
        base: image::DockerFields,
    ) -> Stage {
        let shell = if base.shell.is_empty() {
            vec!["/bin/sh".into(), "-c".into()]
        } else {
            base.shell.clone()
        };
        Stage {
            name,
            number: 0,
            steps: 0,
            image,
            config,
            config_changed: false,
            config_steps: Vec::new(),
            cmd_set: false,
            shell,
            args: BTreeMap::new(),
            author: None,
            docker: image::DockerFields {
                on_build: Vec::new(),
                ..base
            },
        }
    }

    /// What `$NAME` means in the stage: its ARGs, then its environment over them.
    fn vars(&self) -> BTreeMap<String, String> {
        let mut vars = self.args.clone();
        for entry in self.config.env().clone().unwrap_or_default() {
            if let Some((key, value)) = entry.split_once('=') {
                vars.insert(key.to_string(), value.to_string());
            }
        }
        vars
    }

    fn workdir(&self) -> String {
        self.config
            .working_dir()
            .clone()
            .filter(|w| !w.is_empty())
            .unwrap_or_else(|| "/".into())
    }

    /// A path of the step made absolute from the working directory.
    fn in_workdir(&self, path: &str) -> String {
        if path.starts_with('/') {
            path.to_string()
        } else {
            let workdir = self.workdir();
            format!("{}/{path}", workdir.trim_end_matches('/'))
        }
    }
}

/// The instructions that change only an image's config (its history entries are
/// `empty_layer`).
const CONFIG_ONLY: &[&str] = &[
    "ENV",
    "LABEL",
    "WORKDIR",
    "USER",
    "STOPSIGNAL",
    "VOLUME",
    "EXPOSE",
    "CMD",
    "ENTRYPOINT",
    "SHELL",
    "HEALTHCHECK",
    "ONBUILD",
];

fn step_error(instruction: &Instruction, what: impl std::fmt::Display) -> EngineError {
    EngineError::InvalidArg(format!(
        "Containerfile line {} ({}): {what}",
        instruction.line, instruction.keyword
    ))
}

fn not_supported(instruction: &Instruction, what: impl std::fmt::Display) -> EngineError {
    EngineError::NotSupported(format!(
        "Containerfile line {} ({}): {what}",
        instruction.line, instruction.keyword
    ))
}

/// An ONBUILD trigger that Docker refuses: one that chains, starts a stage or names an
/// author.
pub(super) fn refuse_as_trigger(step: &Instruction) -> Result<()> {
    match step.keyword.as_str() {
        "ONBUILD" | "FROM" | "MAINTAINER" => {
            Err(step_error(step, "is not allowed as an ONBUILD trigger"))
        }
        _ => Ok(()),
    }
}

/// A HEALTHCHECK as Docker's `HealthConfig` (times in nanoseconds, 0 for the default):
/// `NONE`, or `[--interval=D] [--timeout=D] [--start-period=D] [--retries=N] CMD ...`
/// with the command in exec form (`CMD ["prog", "arg"]`) or shell form.
fn health_config(instruction: &Instruction) -> Result<serde_json::Value> {
    let text = instruction.args.text();
    let text = text.trim();
    let (kind, command) = text
        .split_once(char::is_whitespace)
        .map_or((text, ""), |(kind, rest)| (kind, rest.trim()));
    if kind.eq_ignore_ascii_case("NONE") {
        if !command.is_empty() || !instruction.flags.is_empty() {
            return Err(step_error(
                instruction,
                "HEALTHCHECK NONE takes nothing more",
            ));
        }
        return Ok(serde_json::json!({ "Test": ["NONE"] }));
    }
    if !kind.eq_ignore_ascii_case("CMD") || command.is_empty() {
        return Err(step_error(
            instruction,
            "HEALTHCHECK [OPTIONS] CMD COMMAND, or HEALTHCHECK NONE",
        ));
    }
    let test: Vec<String> = match serde_json::from_str::<Vec<String>>(command) {
        Ok(words) if !words.is_empty() => std::iter::once("CMD".to_string()).chain(words).collect(),
        _ => vec!["CMD-SHELL".into(), command.to_string()],
    };
    let mut config = serde_json::json!({ "Test": test });
    for (flag, value) in &instruction.flags {
        let (key, number) = match flag.as_str() {
            "retries" => (
                "Retries",
                value.parse::<u64>().map_err(|_| {
                    step_error(instruction, format!("--retries={value:?} is not a number"))
                })?,
            ),
            _ => {
                let nanos = crate::human::parse_duration(value)
                    .and_then(|d| d.num_nanoseconds())
                    .and_then(|n| u64::try_from(n).ok())
                    .ok_or_else(|| {
                        step_error(instruction, format!("--{flag}={value:?} is not a duration"))
                    })?;
                let key = match flag.as_str() {
                    "interval" => "Interval",
                    "timeout" => "Timeout",
                    "start-period" => "StartPeriod",
                    _ => "StartInterval",
                };
                (key, nanos)
            }
        };
        config[key] = serde_json::json!(number);
    }
    Ok(config)
}

/// Refuse the flags of an instruction but those named.
fn only_flags(instruction: &Instruction, allowed: &[&str]) -> Result<()> {
    match instruction
        .flags
        .iter()
        .find(|(name, _)| !allowed.contains(&name.as_str()))
    {
        Some((name, _)) => Err(not_supported(instruction, format!("--{name}"))),
        None => Ok(()),
    }
}

impl Engine {
    /// A build context sent as a tar, plain or compressed (gzip, bzip2, xz or zstd, told
    /// apart by their first bytes, as Docker's and podman's services take it), unpacked
    /// into a scratch directory of rpod's, which goes when the value returned is dropped.
    /// Hostile input: the REST service's builds.
    pub fn build_context_from_tar(&self, input: impl std::io::Read) -> Result<scratch::ScratchDir> {
        const ORIGIN: &str = "the build context";
        let input = crate::image::compression::decompressed(input)
            .map_err(|e| EngineError::InvalidArg(format!("{ORIGIN}: {e}")))?;
        let dir = scratch::ScratchDir::new(&self.roots.tmp(), "build-")?;
        let space = self.roots.space_guard();
        scratch::unpack_tar(input, dir.path(), ORIGIN, false, &space)?;
        Ok(dir)
    }

    /// Build the image a Containerfile describes; its record. `progress` gets the steps
    /// as they begin (and the notes podman prints); a RUN step's output goes to this
    /// process's own standard output and error unless `quiet`.
    pub fn build(
        &self,
        options: &BuildOptions,
        progress: &mut dyn FnMut(&str),
    ) -> Result<ImageRecord> {
        let context = context::ContextDir::open(
            &options.context,
            options.ignore_file.as_deref(),
            "the build context",
        )?;
        let mut named_contexts = BTreeMap::new();
        // Fetched named contexts, kept until the build is done.
        let mut fetched = Vec::new();
        for (name, given) in &options.build_contexts {
            let what = format!("the build context {name}");
            let named = match given {
                BuildContext::Directory(dir) => {
                    NamedContext::Directory(context::ContextDir::open(dir, None, &what)?)
                }
                BuildContext::Image(image) => NamedContext::Image(image.clone()),
                BuildContext::Remote(remote) => {
                    let got = self.fetch_build_context(remote)?;
                    let dir = context::ContextDir::open(&got.dir, None, &what)?;
                    fetched.push(got);
                    NamedContext::Directory(dir)
                }
            };
            named_contexts.insert(name.to_ascii_lowercase(), named);
        }
        let mut text = read_bounded(&options.containerfile)?;
        if preprocess::wants_preprocessing(&options.containerfile) {
            let Some(flags) = &options.cpp_flags else {
                return Err(EngineError::NotSupported(format!(
                    "preprocessing {} with cpp for a build from a remote context or over the REST service (cpp would read this host's files for it)",
                    options.containerfile.display()
                )));
            };
            text = preprocess::preprocess(&options.containerfile, &text, &options.context, flags)?;
        }
        let mut instructions = containerfile::parse(&text)?;
        if let Some(image) = &options.from {
            replace_first_base(&mut instructions, image)?;
        }
        let ssh_agents = ssh_agent::SshAgents::start(self, &options.ssh)?;
        let mut builder = Builder {
            engine: self,
            context,
            named_contexts,
            ssh_agents,
            options,
            global_args: platform_args(options.platform.as_ref().unwrap_or(&native_platform())),
            used_args: BTreeSet::new(),
            place: Place::default(),
            stages: Vec::new(),
            last_base: String::new(),
            cache_roots: Default::default(),
        };
        let made_before = options.made_images().len();
        let result = builder
            .run(&instructions, progress)
            .and_then(|id| builder.squashed(id, progress));
        // Before the steps' images go: these containers use them.
        builder.remove_cache_roots();
        // The images of the steps go (what the result uses of them stays with it).
        let keep = result.as_ref().ok().cloned();
        let made = options.made_images().split_off(made_before);
        for id in made.iter().rev() {
            if Some(id) != keep.as_ref() {
                let _ = self.remove_image(id, false);
            }
        }
        let id = result?;
        // Annotations are a manifest's: a Docker-format image has none, as podman's.
        if options.format == image::ImageFormat::Oci {
            self.store
                .add_image_annotations(&id, &options.annotations)?;
        }
        if !options.tags.is_empty() {
            self.tag_image(&id, &options.tags)?;
        }
        for name in options.build_args.keys() {
            if !builder.used_args.contains(name) {
                progress(&format!(
                    "[Warning] the build argument {name} was not consumed"
                ));
            }
        }
        self.resolve_image(&id)
    }
}

impl Engine {
    /// An image's files as a tar (`build --output`): those of a container of it that is
    /// made for this and removed after.
    pub fn export_image_files(&self, image: &str, out: impl std::io::Write) -> Result<()> {
        let container = self.create(CreateOptions {
            image: Some(image.to_string()),
            entrypoint: Some(vec!["true".to_string()]),
            image_volumes: ImageVolumes::Ignore,
            no_healthcheck: true,
            ..Default::default()
        })?;
        let id = container.id().to_string();
        let exported = self.export(&id, out);
        let removed = self.remove(
            &id,
            RemoveOptions {
                force: true,
                volumes: true,
                timeout: Some(0),
            },
        );
        exported?;
        removed.map(drop)
    }

    /// `build --output type=local,dest=DIR`: an image's files written into `dest` (made
    /// when missing), owners kept, as podman writes them.
    pub fn export_image_to_directory(&self, image: &str, dest: &Path) -> Result<()> {
        fs::create_dir_all(dest).map_err(|e| EngineError::io("creating directory", dest, e))?;
        let staging = scratch::unnamed_file(&self.roots.tmp())?;
        let mut staging = self.roots.space_guard().writer(staging);
        self.export_image_files(image, &mut staging)?;
        let mut staging = staging.into_inner();
        std::io::Seek::rewind(&mut staging)
            .map_err(|e| EngineError::io("reading the export of", dest, e))?;
        let space = crate::free_space::SpaceGuard::new(dest, self.roots.keep_free);
        scratch::unpack_tar_on_host(staging, dest, "the image's files", true, &space).map(drop)
    }
}

fn read_bounded(path: &Path) -> Result<String> {
    use std::io::Read;
    let file = fs::File::open(path).map_err(|e| EngineError::io("opening", path, e))?;
    let mut text = String::new();
    file.take(containerfile::MAX_CONTAINERFILE + 1)
        .read_to_string(&mut text)
        .map_err(|e| EngineError::io("reading", path, e))?;
    if text.len() as u64 > containerfile::MAX_CONTAINERFILE {
        return Err(EngineError::InvalidArg(format!(
            "{}: larger than {} bytes",
            path.display(),
            containerfile::MAX_CONTAINERFILE
        )));
    }
    Ok(text)
}

/// Where a build is, as its progress lines say it, the way buildah says it: steps are
/// numbered within their stage (the FROM is the first), a build of more than one stage
/// puts the stage's place before its lines (`[2/3] STEP 1/4: FROM ...`), and the commit
/// that makes the build's image is announced (`COMMIT NAME`).
#[derive(Debug, Default)]
struct Place {
    /// The current stage, from 1.
    stage: usize,
    /// The stages the build goes through: up to `--target`'s.
    stages: usize,
    /// How many instructions the current stage has, its FROM included.
    stage_steps: usize,
    /// Whether the current instruction is the last one of the build's own stage.
    final_step: bool,
    /// Whether `COMMIT` was said.
    commit_said: bool,
    /// Whether `--target` ends the build before the file's last stage.
    cut_short: bool,
}

impl Place {
    /// What the lines of stage `number` start with.
    fn prefix(&self, number: usize) -> String {
        if self.stages > 1 {
            format!("[{number}/{}] ", self.stages)
        } else {
            String::new()
        }
    }

    /// Whether the current stage's image is the build's.
    fn final_stage(&self) -> bool {
        self.stage == self.stages
    }
}

/// Whether a FROM line names the stage `target` (`FROM IMAGE AS TARGET`).
fn names_stage(from: &Instruction, target: &str) -> bool {
    from.keyword == "FROM"
        && containerfile::words(&from.args.text(), from.line)
            .is_ok_and(|words| words.len() == 3 && words[2].eq_ignore_ascii_case(target))
}

struct Builder<'a> {
    engine: &'a Engine,
    /// The build context, with what its ignore file leaves out of COPY and ADD.
    context: context::ContextDir,
    /// `--build-context NAME=...`, by name in lower case.
    named_contexts: BTreeMap<String, NamedContext>,
    /// The sockets of `--ssh`'s agents, those of the build's own running until its end.
    ssh_agents: ssh_agent::SshAgents,
    options: &'a BuildOptions,
    /// ARGs before the first FROM: usable in FROM lines and redeclared in stages.
    global_args: BTreeMap<String, String>,
    used_args: BTreeSet<String>,
    /// Where the build is, for its progress lines.
    place: Place,
    /// The stages built so far: their names and images.
    stages: Vec<(Option<String>, String)>,
    /// The image the last stage started from (what `--squash` squashes onto).
    last_base: String,
    /// Cache mounts filled from a stage or image (`from=`, `source=`): a container of that
    /// image each, its root mounted at the first such mount and removed when the build
    /// ends, so that later steps see what earlier ones wrote there, as podman's do.
    cache_roots: mounts::CacheRoots,
}

impl BuildOptions {
    /// The images the build's steps made so far (`step_images`).
    pub fn made_images(&self) -> Vec<String> {
        self.step_images
            .lock()
            .map(|images| images.clone())
            .unwrap_or_else(|poisoned| poisoned.into_inner().clone())
    }
}

impl Builder<'_> {
    fn run(
        &mut self,
        instructions: &[Instruction],
        progress: &mut dyn FnMut(&str),
    ) -> Result<String> {
        let froms: Vec<usize> = instructions
            .iter()
            .enumerate()
            .filter(|(_, i)| i.keyword == "FROM")
            .map(|(index, _)| index)
            .collect();
        self.place.stages = froms.len();
        if let Some(target) = &self.options.target {
            // The first stage of that name ends the build.
            let Some(number) = froms
                .iter()
                .position(|&index| names_stage(&instructions[index], target))
            else {
                return Err(EngineError::InvalidArg(format!(
                    "--target {target}: no stage of that name"
                )));
            };
            self.place.stages = number + 1;
            self.place.cut_short = self.place.stages < froms.len();
        }
        let mut stage: Option<Stage> = None;
        // Which stages are built: known at the first FROM, once the global ARGs are.
        let mut needed: Option<Vec<bool>> = None;
        let mut stage_number = 0usize;
        let mut skipping = false;
        for (index, instruction) in instructions.iter().enumerate() {
            if instruction.keyword == "FROM" {
                if needed.is_none() {
                    needed = Some(if self.options.skip_unused_stages {
                        needed_stages(
                            instructions,
                            self.options.target.as_deref(),
                            &self.global_args,
                        )
                    } else {
                        Vec::new()
                    });
                }
                skipping = needed
                    .as_ref()
                    .and_then(|n| n.get(stage_number))
                    .is_some_and(|needed| !needed);
                stage_number += 1;
                let stage_end = froms
                    .get(stage_number)
                    .copied()
                    .unwrap_or(instructions.len());
                self.place.stage = stage_number;
                self.place.stage_steps = stage_end - index;
                if skipping {
                    // Its place is kept (stages are also named by number), empty.
                    if let Some(done) = stage.take() {
                        if self.finish(done, progress)? {
                            return Ok(self.stages.last().map(|s| s.1.clone()).unwrap_or_default());
                        }
                    }
                    let name = stage_name(instruction, &self.global_args);
                    self.stages.push((name, String::new()));
                    continue;
                }
            } else if skipping {
                continue;
            }
            let stage_start = froms[..stage_number].last().copied();
            self.place.final_step = self.place.final_stage()
                && stage_start.is_some_and(|start| index + 1 == start + self.place.stage_steps);
            let flags: String = instruction
                .flags
                .iter()
                .map(|(name, value)| match value.is_empty() {
                    // A flag given alone (`--link`) is shown as written.
                    true => format!("--{name} "),
                    false => format!("--{name}={value} "),
                })
                .collect();
            // ARGs before the first FROM are the build's, not a stage's step.
            if let Some(start) = stage_start {
                progress(&format!(
                    "{}STEP {}/{}: {} {flags}{}",
                    self.place.prefix(self.place.stage),
                    index - start + 1,
                    self.steps_shown(self.place.stage, self.place.stage_steps),
                    instruction.keyword,
                    instruction.args.text()
                ));
            }
            if instruction.keyword == "FROM" {
                if let Some(done) = stage.take() {
                    let reached = self.finish(done, progress)?;
                    if reached {
                        return Ok(self.stages.last().map(|s| s.1.clone()).unwrap_or_default());
                    }
                }
                stage = Some(self.from(instruction, progress)?);
                continue;
            }
            match stage.as_mut() {
                None if instruction.keyword == "ARG" => {
                    let vars = self.global_args.clone();
                    let declared =
                        self.declared_args(instruction, &vars, &vars, &BTreeMap::new())?;
                    for (name, value) in declared {
                        self.global_args.insert(name, value);
                    }
                }
                None => return Err(step_error(instruction, "comes before the first FROM")),
                Some(current) => self.step(current, instruction, progress)?,
            }
        }
        let Some(last) = stage else {
            return Err(EngineError::InvalidArg(
                "the Containerfile has no FROM".into(),
            ));
        };
        self.finish(last, progress)?;
        Ok(self.stages.last().map(|s| s.1.clone()).unwrap_or_default())
    }

    /// The ARG names and values an instruction declares: a build argument's value, else
    /// the default given, else the value the same ARG already has where it is declared
    /// again (`declared_before`: the stage's ARGs, or the global ones before the first FROM;
    /// buildah's: `ARG A=1` then `ARG A` keeps 1), else the global ARG's.
    fn declared_args(
        &mut self,
        instruction: &Instruction,
        vars: &BTreeMap<String, String>,
        declared_before: &BTreeMap<String, String>,
        globals: &BTreeMap<String, String>,
    ) -> Result<Vec<(String, String)>> {
        let text = instruction.args.text();
        let mut declared = Vec::new();
        for word in containerfile::words(&text, instruction.line)? {
            let (name, default) = match word.split_once('=') {
                Some((name, default)) => (
                    name.to_string(),
                    Some(containerfile::expand(default, vars, instruction.line)?),
                ),
                None => (word.clone(), None),
            };
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(step_error(instruction, format!("{name:?} is not a name")));
            }
            let value = match self.options.build_args.get(&name) {
                Some(value) => {
                    self.used_args.insert(name.clone());
                    value.clone()
                }
                None => default
                    .or_else(|| declared_before.get(&name).cloned())
                    .or_else(|| globals.get(&name).cloned())
                    .unwrap_or_default(),
            };
            declared.push((name, value));
        }
        if declared.is_empty() {
            return Err(step_error(instruction, "needs a name"));
        }
        Ok(declared)
    }

    /// Start a stage: `FROM IMAGE|STAGE|scratch [AS NAME]`.
    fn from(&mut self, instruction: &Instruction, progress: &mut dyn FnMut(&str)) -> Result<Stage> {
        only_flags(instruction, &["platform"])?;
        // The platform the base image must be for: FROM's own, else the build's.
        let platform = match instruction
            .flags
            .iter()
            .rev()
            .find(|(n, _)| n == "platform")
        {
            Some((_, text)) => {
                let text = containerfile::expand(text, &self.global_args, instruction.line)?;
                image::platform::Platform::from_flags(Some(&text), None, None, None)
                    .map_err(|e| step_error(instruction, e))?
            }
            None => self.options.platform.clone(),
        };
        let text = containerfile::expand(
            &instruction.args.text(),
            &self.global_args,
            instruction.line,
        )?;
        let words = containerfile::words(&text, instruction.line)?;
        let (base, name) = match words.as_slice() {
            [base] => (base.clone(), None),
            [base, as_word, name] if as_word.eq_ignore_ascii_case("as") => {
                (base.clone(), Some(name.to_ascii_lowercase()))
            }
            _ => return Err(step_error(instruction, "FROM IMAGE [AS NAME]")),
        };
        let image = if base == "scratch" {
            self.scratch_image(instruction)?
        } else if let Some(id) = self.stage_image(&base) {
            id
        } else {
            match self.named_contexts.get(&base.to_ascii_lowercase()) {
                Some(NamedContext::Image(image)) => {
                    let image = image.clone();
                    self.image_for(&image, platform.as_ref(), progress)?
                }
                Some(NamedContext::Directory(_)) => {
                    return Err(step_error(
                        instruction,
                        format!("{base} is a directory build context: FROM takes an image"),
                    ))
                }
                None => self.image_for(&base, platform.as_ref(), progress)?,
            }
        };
        self.last_base = image.clone();
        let (config, docker) = image::config_and_docker_fields(&self.engine.roots, &image)?;
        let triggers = docker.on_build.clone();
        let mut stage = Stage::new(
            name,
            image,
            config.config().clone().unwrap_or_default(),
            docker,
        );
        stage.number = self.place.stage;
        stage.steps = self.place.stage_steps;
        if base == "scratch" {
            stage.config.set_cmd(None);
        }
        // A base without PATH gets the default one, which an image the stage makes then
        // keeps, as buildah's and Docker's builds do (a stage that makes nothing new is
        // still its base image).
        let mut env = stage.config.env().clone().unwrap_or_default();
        if !env.iter().any(|e| e.split('=').next() == Some("PATH")) {
            env.push(format!("PATH={}", crate::spec::DEFAULT_PATH));
            stage.config.set_env(Some(env));
        }
        // `--env`, from the stage's start.
        if !self.options.env.is_empty() {
            let mut env = stage.config.env().clone().unwrap_or_default();
            for (key, value) in &self.options.env {
                env.retain(|e| e.split('=').next() != Some(key.as_str()));
                env.push(format!("{key}={value}"));
            }
            stage.config.set_env(Some(env));
            stage.config_changed = true;
        }
        // The base image's ONBUILD triggers run first, as Docker and buildah run them (none
        // of their commits is the build's last: the stage's end says so if it is).
        let final_step = std::mem::replace(&mut self.place.final_step, false);
        for trigger in &triggers {
            progress(&format!("ONBUILD {trigger}"));
            for step in containerfile::parse(trigger)? {
                let step = Instruction {
                    line: instruction.line,
                    ..step
                };
                refuse_as_trigger(&step)?;
                self.step(&mut stage, &step, progress)?;
            }
        }
        self.place.final_step = final_step;
        Ok(stage)
    }

    /// Note an image a step made: without `layers`, removed at the end, or by a caller
    /// that stops the build; with them it stays, for the cache.
    fn made(&mut self, id: &str) {
        if self.keeps_layers() {
            return;
        }
        let mut images = self
            .options
            .step_images
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        images.push(id.to_string());
    }

    /// Whether the steps' images are kept and the cache used: `--layers`, unless the
    /// build is squashed (its steps' images are merged, not kept).
    fn keeps_layers(&self) -> bool {
        self.options.layers && self.options.squash == Squash::No
    }

    /// An empty image for `FROM scratch`: one the cache has, else a new one.
    fn scratch_image(&mut self, instruction: &Instruction) -> Result<String> {
        let key = cache_key(&serde_json::json!({ "scratch": true }));
        if let Some(id) = self.cached_image(&key)? {
            return Ok(id);
        }
        let mut empty = Vec::new();
        tar::Builder::new(&mut empty)
            .finish()
            .map_err(|e| step_error(instruction, e))?;
        let record = self.engine.import_made_image(
            std::io::Cursor::new(empty),
            "scratch",
            &ImportOptions::default(),
        )?;
        self.made(&record.id);
        self.remember(&key, &record.id)?;
        Ok(record.id)
    }

    /// The image the cache has for `key`, when the build takes the cache.
    fn cached_image(&self, key: &str) -> Result<Option<String>> {
        if !self.keeps_layers() || self.options.no_cache {
            return Ok(None);
        }
        let Some(id) = self.engine.store.build_cache_image(key)? else {
            return Ok(None);
        };
        // Only `--cache-ttl` needs the image's record.
        let fresh = self.options.cache_ttl.is_none()
            || self
                .engine
                .resolve_image(&id)
                .is_ok_and(|image| self.fresh_enough(&image));
        Ok(fresh.then_some(id))
    }

    /// Whether a cached step's image is young enough for `--cache-ttl` (made, by its
    /// config's time, less than that long ago).
    fn fresh_enough(&self, image: &ImageRecord) -> bool {
        let Some(ttl) = self.options.cache_ttl else {
            return true;
        };
        let made = image.created.unwrap_or(image.added);
        chrono::Duration::from_std(ttl)
            .is_ok_and(|ttl| chrono::Utc::now().signed_duration_since(made) < ttl)
    }

    /// Note in the cache the image a step made (with `layers`).
    fn remember(&self, key: &str, image: &str) -> Result<()> {
        if self.keeps_layers() {
            self.engine.store.set_build_cache_image(key, image)?;
        }
        Ok(())
    }

    /// The cache key of a step that commits: the image it starts from, the config it
    /// leaves (every config instruction since the last commit is in it), what the step
    /// is and what it takes in (`input`: a RUN step's environment, the digest of the
    /// files a COPY copies).
    fn step_key(&self, stage: &Stage, step: &str, input: serde_json::Value) -> String {
        let mut key = serde_json::json!({
            "parent": stage.image,
            "config": stage.config,
            "author": stage.author,
            "format": self.options.format == image::ImageFormat::Docker,
            "docker": {
                "healthcheck": stage.docker.healthcheck,
                "on_build": stage.docker.on_build,
                "shell": stage.docker.shell,
            },
            "step": step,
            "input": input,
        });
        // Only when given, so that the keys of builds without it stay as they were.
        if let Some(time) = self.options.timestamp {
            key["timestamp"] = time.timestamp().into();
        }
        if self.options.omit_history {
            key["omit_history"] = true.into();
        }
        cache_key(&key)
    }

    /// Go on from the image the cache has for `key`, if it has one (podman's "Using
    /// cache"); whether it did. `builds_image`: the step's image is the build's, whose
    /// commit is announced (`COMMIT NAME` after `Using cache`, as buildah says it).
    fn take_from_cache(
        &mut self,
        stage: &mut Stage,
        key: &str,
        progress: &mut dyn FnMut(&str),
        builds_image: bool,
    ) -> Result<bool> {
        let found = match self.cached_image(key)? {
            Some(id) => Some(id),
            None => self.remote_cached_image(stage, key, progress)?,
        };
        let Some(id) = found else {
            return Ok(false);
        };
        progress(&format!("--> Using cache {id}"));
        if builds_image {
            self.say_commit(stage.number, progress);
        }
        progress(&format!("--> {}", short_id(&id)));
        stage.image = id;
        stage.config_changed = false;
        // The cached image's history has them already.
        stage.config_steps.clear();
        Ok(true)
    }

    /// A step's image from a `--cache-from` repository (tagged with `key`), pulled,
    /// checked to be one layer on the stage's image, and noted in the local cache. A
    /// repository without it is a miss; one that cannot be reached or serves something
    /// else is told and passed over: the step runs.
    fn remote_cached_image(
        &self,
        stage: &Stage,
        key: &str,
        progress: &mut dyn FnMut(&str),
    ) -> Result<Option<String>> {
        if self.options.cache_from.is_empty() || !self.keeps_layers() || self.options.no_cache {
            return Ok(None);
        }
        let parent = self.engine.resolve_image(&stage.image)?;
        for repository in &self.options.cache_from {
            let name = format!("{repository}:{key}");
            let pulled = self.engine.pull_image(
                &name,
                &crate::image::registry::PullOptions {
                    registry: self.options.registry.clone(),
                    ..Default::default()
                },
                &mut |_| {},
            );
            let record = match pulled {
                Ok(record) => record,
                Err(EngineError::RegistryNotFound(_) | EngineError::NoSuchImage(_)) => continue,
                Err(e) => {
                    progress(&format!("WARN: --cache-from {repository}: {e}"));
                    continue;
                }
            };
            // The cache's name is not the image's: it stays an intermediate image.
            let _ = self
                .engine
                .untag_image(&record.id, std::slice::from_ref(&name));
            // One layer more, or none (a step that changed only the config).
            let on_parent = record.layers.len() <= parent.layers.len() + 1
                && record.layers.starts_with(&parent.layers);
            if !on_parent {
                progress(&format!(
                    "WARN: --cache-from {repository}: {key} is not a step on image {}: not used",
                    short_id(&parent.id)
                ));
            }
            if !on_parent || !self.fresh_enough(&record) {
                self.forget_unused(&record.id);
                continue;
            }
            self.remember(key, &record.id)?;
            return Ok(Some(record.id));
        }
        Ok(None)
    }

    /// Remove an image a `--cache-from` pull brought that is not used after all, unless
    /// something has it: a name, a child image (an earlier build's), a container.
    fn forget_unused(&self, id: &str) {
        let kept = self
            .engine
            .image_names(id)
            .map_or(true, |names| !names.is_empty())
            || self.engine.store.image_has_children(id).unwrap_or(true);
        if !kept {
            let _ = self.engine.remove_image(id, false);
        }
    }

    /// Push a step's image to the `--cache-to` repositories, tagged with its cache key; a
    /// push that fails is told and the build goes on.
    fn push_to_cache(&self, key: &str, image: &str, progress: &mut dyn FnMut(&str)) {
        for repository in &self.options.cache_to {
            let name = format!("{repository}:{key}");
            let options = crate::image::registry::PushOptions {
                registry: self.options.registry.clone(),
                ..Default::default()
            };
            if let Err(e) = self
                .engine
                .push_image(image, Some(&name), &options, &mut |_| {})
            {
                progress(&format!("WARN: --cache-to {repository}: {e}"));
            }
        }
    }

    /// The built image with its layers merged as `--squash` or `--squash-all` asks (its
    /// ID; `image` itself, a step's, goes at the end with the others).
    fn squashed(&mut self, image: String, progress: &mut dyn FnMut(&str)) -> Result<String> {
        let squash = self.options.squash;
        if squash == Squash::No {
            return Ok(image);
        }
        let engine = self.engine;
        let built = engine.resolve_image(&image)?;
        let (base, merged_layers) = match squash {
            Squash::All => (built.clone(), built.layers.clone()),
            _ => {
                let base = engine.resolve_image(&self.last_base)?;
                let new = built
                    .layers
                    .strip_prefix(base.layers.as_slice())
                    .ok_or_else(|| {
                        EngineError::InvalidArg(format!(
                            "--squash: image {} is not built on its base {}",
                            short_id(&built.id),
                            short_id(&base.id)
                        ))
                    })?;
                (base, new.to_vec())
            }
        };
        let dirs = image::layer_dirs(&engine.roots);
        let blobs: Vec<PathBuf> = merged_layers.iter().map(|l| dirs.blob(l)).collect();
        let tmp = engine.roots.tmp();
        fs::create_dir_all(&tmp).map_err(|e| EngineError::io("creating directory", &tmp, e))?;
        let mut merged = engine
            .roots
            .space_guard()
            .writer(scratch::unnamed_file(&tmp)?);
        // What the base has: the whiteouts of anything else are dropped.
        let base_tree = match squash {
            Squash::New => {
                let base_dirs: Vec<PathBuf> = base.layers.iter().map(|l| dirs.dir(l)).collect();
                crate::tree_diff::flatten(&base_dirs)
                    .map_err(|e| EngineError::io("reading the layers of", tmp.join(&base.id), e))?
            }
            _ => Default::default(),
        };
        let in_base = |path: &Path| base_tree.contains_key(path);
        let below: Option<&dyn Fn(&Path) -> bool> = match squash {
            Squash::New => Some(&in_base),
            _ => None,
        };
        image::squash::merge_layers(&blobs, &mut merged, below)
            .map_err(|e| EngineError::io("merging the layers of", tmp.join(&built.id), e))?;
        let mut merged = merged.into_inner();
        std::io::Seek::rewind(&mut merged)
            .map_err(|e| EngineError::io("merging the layers of", tmp.join(&built.id), e))?;
        let (config, docker) = image::config_and_docker_fields(&engine.roots, &built.id)?;
        self.say_commit(self.place.stages, progress);
        let new = image::NewImage {
            name: None,
            config: config.config().clone().unwrap_or_default(),
            created_by: format!("/bin/sh -c #(nop) squashed {} layers", merged_layers.len()),
            comment: None,
            author: config.author().clone(),
            created: self.options.timestamp,
            omit_history: self.options.omit_history,
            docker: (built.format() == image::ImageFormat::Docker).then_some(docker),
            config_steps: Vec::new(),
            ..Default::default()
        };
        let committed = {
            let _lock = engine.image_lock()?;
            image::commit(
                &engine.store,
                &engine.roots,
                &base,
                merged,
                new,
                squash == Squash::All,
            )?
        };
        progress(&format!("--> {}", short_id(&committed.id)));
        Ok(committed.id)
    }

    /// The build context, or the named one (`--build-context`) that is a directory.
    fn context_dir(&self, named: Option<&str>) -> &context::ContextDir {
        match named.and_then(|name| self.named_contexts.get(name)) {
            Some(NamedContext::Directory(dir)) => dir,
            _ => &self.context,
        }
    }

    /// What `--from=NAME` (COPY, `RUN --mount`) takes from: a stage built before, a named
    /// context (`--build-context`), else an image by that name (pulled when missing).
    fn source_named(&self, name: &str, progress: &mut dyn FnMut(&str)) -> Result<FromSource> {
        if let Some(id) = self.stage_image(name) {
            return Ok(FromSource::Image(id));
        }
        let lower = name.to_ascii_lowercase();
        match self.named_contexts.get(&lower) {
            Some(NamedContext::Directory(_)) => Ok(FromSource::Directory(lower)),
            Some(NamedContext::Image(image)) => Ok(FromSource::Image(self.image(image, progress)?)),
            None => Ok(FromSource::Image(self.image(name, progress)?)),
        }
    }

    /// A stage built before, by name or number (not one the build skipped).
    fn stage_image(&self, name: &str) -> Option<String> {
        let lower = name.to_ascii_lowercase();
        self.stages
            .iter()
            .find(|(stage, _)| stage.as_deref() == Some(lower.as_str()))
            .or_else(|| name.parse::<usize>().ok().and_then(|n| self.stages.get(n)))
            .map(|(_, id)| id.clone())
            .filter(|id| !id.is_empty())
    }

    /// An image by name: the local one, else pulled (as `--pull` says).
    fn image(&self, name: &str, progress: &mut dyn FnMut(&str)) -> Result<String> {
        self.image_for(name, None, progress)
    }

    /// `image`, which must be for `platform` when one is given: a local image for
    /// another one is pulled again for it (or refused with `--pull=never`).
    fn image_for(
        &self,
        name: &str,
        platform: Option<&image::platform::Platform>,
        progress: &mut dyn FnMut(&str),
    ) -> Result<String> {
        let pull_with = |progress: &mut dyn FnMut(&str)| {
            self.engine.pull_image(
                name,
                &crate::image::registry::PullOptions {
                    registry: self.options.registry.clone(),
                    platform: platform.cloned(),
                    ..Default::default()
                },
                progress,
            )
        };
        if self.options.pull == BuildPull::Always {
            pull_with(progress)?;
            return Ok(self.engine.resolve_image(name)?.id);
        }
        if self.options.pull == BuildPull::Newer {
            if let Err(e) = pull_with(progress) {
                if self.engine.resolve_image(name).is_err() {
                    return Err(e);
                }
                progress(&format!(
                    "WARN pulling {name} failed, using the local image: {e}\n"
                ));
            }
        }
        let for_platform = |record: &ImageRecord| -> Result<()> {
            match platform {
                Some(platform) => {
                    let config = image::config(&self.engine.roots, &record.id)?;
                    platform.check(name, &config)
                }
                None => Ok(()),
            }
        };
        match self.engine.resolve_image(name) {
            Ok(record) => match for_platform(&record) {
                Ok(()) => Ok(record.id),
                Err(e) if self.options.pull == BuildPull::Never => Err(e),
                Err(_) => {
                    pull_with(progress)?;
                    let record = self.engine.resolve_image(name)?;
                    for_platform(&record)?;
                    Ok(record.id)
                }
            },
            Err(EngineError::NoSuchImage(_)) if self.options.pull == BuildPull::Never => Err(
                EngineError::NoSuchImage(format!("{name} (not in the store, and --pull=never)")),
            ),
            Err(EngineError::NoSuchImage(_)) => {
                pull_with(progress)?;
                Ok(self.engine.resolve_image(name)?.id)
            }
            Err(e) => Err(e),
        }
    }

    /// End a stage: its config committed when a step changed it; whether it was the target.
    fn finish(&mut self, mut stage: Stage, progress: &mut dyn FnMut(&str)) -> Result<bool> {
        // `--unsetenv`: out of the image (the stage's steps saw them).
        let env = stage.config.env().clone().unwrap_or_default();
        let kept: Vec<String> = env.iter().filter(|e| !self.unset(e)).cloned().collect();
        if kept.len() != env.len() {
            stage.config.set_env(Some(kept));
            stage.config_changed = true;
        }
        if !self.options.labels.is_empty() {
            // Given to every stage: only the one that ends the build is kept.
            let mut labels = stage.config.labels().clone().unwrap_or_default();
            labels.extend(self.options.labels.clone());
            stage.config.set_labels(Some(labels));
            stage.config_changed = true;
        }
        // `--os-version`, `--os-feature`: written with the stage's last commit (and in its
        // cache key, so a cached image without them is not taken).
        let platform = self.platform_set();
        if platform {
            stage.config_changed = true;
        }
        let builds_image = stage.number == self.place.stages && self.options.squash == Squash::No;
        if self.shows_label_steps(stage.number) {
            // `--label`s are steps of the build's own stage as buildah shows them (one
            // `LABEL` each, after the file's), though rpod commits them at once.
            let total = self.steps_shown(stage.number, stage.steps);
            for (number, (key, value)) in (stage.steps + 1..).zip(&self.options.labels) {
                progress(&format!(
                    "{}STEP {number}/{total}: LABEL {key:?}={value:?}",
                    self.place.prefix(stage.number),
                ));
            }
        }
        if stage.config_changed {
            let settings = if platform {
                serde_json::json!({
                    "os.version": self.options.os_version,
                    "os.features": self.options.os_features,
                })
            } else {
                serde_json::Value::Null
            };
            let key = self.step_key(&stage, "#(nop) config", settings);
            if !self.take_from_cache(&mut stage, &key, progress, builds_image)? {
                if builds_image {
                    self.say_commit(stage.number, progress);
                }
                self.commit_config(&mut stage, &key, progress)?;
                self.say_image(&stage.image, progress);
            }
        } else if builds_image && stage.steps == 1 && !self.place.commit_said {
            // A stage of its FROM alone: the build's image is its base, said as buildah
            // says it.
            self.say_commit(stage.number, progress);
            progress(&format!("--> {}", short_id(&stage.image)));
        }
        let reached = match (&self.options.target, &stage.name) {
            (Some(target), Some(name)) => target.eq_ignore_ascii_case(name),
            _ => false,
        };
        self.stages.push((stage.name, stage.image));
        Ok(reached)
    }

    /// How many steps stage `number`, of `steps` instructions, is said to have: for the
    /// file's last stage, when it is the build's, a `LABEL` step more per `--label`
    /// (buildah adds them to that stage; a `--target` before it shows none, though its
    /// image has the labels too).
    fn steps_shown(&self, number: usize, steps: usize) -> usize {
        match self.shows_label_steps(number) {
            true => steps + self.options.labels.len(),
            false => steps,
        }
    }

    fn shows_label_steps(&self, number: usize) -> bool {
        number == self.place.stages && !self.place.cut_short
    }

    /// `--os-version` or `--os-feature`: written with each stage's last commit.
    fn platform_set(&self) -> bool {
        self.options.os_version.is_some() || !self.options.os_features.is_empty()
    }

    /// Whether `finish` commits the stage's config once more after a commit now: for
    /// `--label`, `--os-version`, `--os-feature`, or `--unsetenv` of a variable it has.
    fn finish_commits_after(&self, stage: &Stage) -> bool {
        let unsets = stage
            .config
            .env()
            .as_ref()
            .is_some_and(|env| env.iter().any(|e| self.unset(e)));
        unsets || !self.options.labels.is_empty() || self.platform_set()
    }

    /// Whether the current step's image is the build's: the last step of its own stage,
    /// with nothing committed after it.
    fn step_builds_image(&self, stage: &Stage) -> bool {
        self.place.final_step
            && self.options.squash == Squash::No
            && !self.finish_commits_after(stage)
    }

    /// Whether `--unsetenv` takes environment entry `KEY=VALUE` out of the image.
    fn unset(&self, entry: &str) -> bool {
        let key = entry.split('=').next().unwrap_or("");
        self.options.unset_env.iter().any(|unset| unset == key)
    }

    /// `COMMIT NAME` (the first name given, as given), once, before the commit that makes
    /// the build's image, as buildah says it.
    fn say_commit(&mut self, stage_number: usize, progress: &mut dyn FnMut(&str)) {
        if std::mem::replace(&mut self.place.commit_said, true) {
            return;
        }
        let name = self
            .options
            .tags
            .first()
            .map(|tag| format!(" {tag}"))
            .unwrap_or_default();
        progress(&format!("{}COMMIT{name}", self.place.prefix(stage_number)));
    }

    /// `--> ID` after a step's commit: with layers every step's image, which stays; without
    /// them only the build's own (after its `COMMIT`), as buildah says none of the others
    /// (it commits none: rpod's go at the end).
    fn say_image(&self, id: &str, progress: &mut dyn FnMut(&str)) {
        if self.keeps_layers() || self.place.commit_said {
            progress(&format!("--> {}", short_id(id)));
        }
    }

    fn step(
        &mut self,
        stage: &mut Stage,
        instruction: &Instruction,
        progress: &mut dyn FnMut(&str),
    ) -> Result<()> {
        self.step_instruction(stage, instruction, progress)?;
        // An instruction that changed only the config gets a history entry of its own,
        // written with the stage's next commit.
        if stage.config_changed && CONFIG_ONLY.contains(&instruction.keyword.as_str()) {
            stage.config_steps.push(format!(
                "/bin/sh -c #(nop) {} {}",
                instruction.keyword,
                instruction.args.text()
            ));
        }
        Ok(())
    }

    fn step_instruction(
        &mut self,
        stage: &mut Stage,
        instruction: &Instruction,
        progress: &mut dyn FnMut(&str),
    ) -> Result<()> {
        let line = instruction.line;
        let expanded = || containerfile::expand(&instruction.args.text(), &stage.vars(), line);
        let command = |stage: &Stage| -> Vec<String> {
            match &instruction.args {
                Args::Json(words) => words.clone(),
                Args::Text(text) => {
                    let mut argv = stage.shell.clone();
                    argv.push(text.clone());
                    argv
                }
            }
        };
        match instruction.keyword.as_str() {
            "RUN" => {
                only_flags(instruction, &["mount", "network"])?;
                let argv = command(stage);
                self.run_step(stage, instruction, argv, progress)?;
            }
            "COPY" | "ADD" => self.copy_step(stage, instruction, progress)?,
            "ENV" | "LABEL" => {
                // Variables put in a word at a time, as Docker does.
                let pairs = containerfile::pairs(&instruction.args.text(), &stage.vars(), line)?;
                if instruction.keyword == "ENV" {
                    let mut env = stage.config.env().clone().unwrap_or_default();
                    for (key, value) in pairs {
                        env.retain(|e| e.split('=').next() != Some(key.as_str()));
                        env.push(format!("{key}={value}"));
                    }
                    stage.config.set_env(Some(env));
                } else {
                    let mut labels = stage.config.labels().clone().unwrap_or_default();
                    labels.extend(pairs);
                    stage.config.set_labels(Some(labels));
                }
                stage.config_changed = true;
            }
            "WORKDIR" => {
                let path = expanded()?;
                let path = stage.in_workdir(path.trim());
                stage.config.set_working_dir(Some(path));
                stage.config_changed = true;
            }
            "USER" | "STOPSIGNAL" | "VOLUME" | "EXPOSE" => {
                let change = format!("{} {}", instruction.keyword, expanded()?);
                image::apply_change(&mut stage.config, &change)
                    .map_err(|e| step_error(instruction, e))?;
                stage.config_changed = true;
            }
            "CMD" => {
                stage.config.set_cmd(Some(command(stage)));
                stage.cmd_set = true;
                stage.config_changed = true;
            }
            "ENTRYPOINT" => {
                stage.config.set_entrypoint(Some(command(stage)));
                // Docker's rule: an ENTRYPOINT drops the CMD the base image had.
                if !stage.cmd_set {
                    stage.config.set_cmd(None);
                }
                stage.config_changed = true;
            }
            "SHELL" => match &instruction.args {
                Args::Json(words) if !words.is_empty() => {
                    stage.shell = words.clone();
                    self.keep_docker_field(stage, instruction, progress, |docker| {
                        docker.shell = words.clone()
                    });
                }
                _ => return Err(step_error(instruction, "SHELL takes a JSON array")),
            },
            "ARG" => {
                let vars = stage.vars();
                let globals = self.global_args.clone();
                let declared = self.declared_args(instruction, &vars, &stage.args, &globals)?;
                for (name, value) in declared {
                    stage.args.insert(name, value);
                }
            }
            "MAINTAINER" => stage.author = Some(instruction.args.text()),
            "HEALTHCHECK" => {
                only_flags(
                    instruction,
                    &[
                        "interval",
                        "timeout",
                        "start-period",
                        "start-interval",
                        "retries",
                    ],
                )?;
                let check = health_config(instruction)?;
                self.keep_docker_field(stage, instruction, progress, |docker| {
                    docker.healthcheck = Some(check)
                });
            }
            "ONBUILD" => {
                let trigger = instruction.args.text();
                for step in containerfile::parse(&trigger)? {
                    refuse_as_trigger(&Instruction {
                        line: instruction.line,
                        ..step
                    })?;
                }
                self.keep_docker_field(stage, instruction, progress, |docker| {
                    docker.on_build.push(trigger)
                });
            }
            other => {
                return Err(step_error(
                    instruction,
                    format!("unknown instruction {other}"),
                ))
            }
        }
        Ok(())
    }

    /// Keep what a HEALTHCHECK, ONBUILD or SHELL says in a Docker-format image; an OCI
    /// one has no place for it, which podman's OCI builds warn of (SHELL still serves
    /// the stage's RUN steps).
    fn keep_docker_field(
        &self,
        stage: &mut Stage,
        instruction: &Instruction,
        progress: &mut dyn FnMut(&str),
        set: impl FnOnce(&mut image::DockerFields),
    ) {
        if self.options.format == image::ImageFormat::Docker {
            set(&mut stage.docker);
            stage.config_changed = true;
        } else if instruction.keyword != "SHELL" {
            progress(&format!(
                "[Warning] {} is not kept in an OCI image, and is ignored: use --format docker",
                instruction.keyword
            ));
        }
    }

    /// A container of the stage's image, not started: for a RUN step with its command and
    /// environment (`run`), else one that only holds the file system.
    fn container(&self, stage: &Stage, run: Option<StepRun>) -> Result<String> {
        let shown = !self.options.quiet;
        let captured = self.options.capture_run_output;
        let mut options = match run {
            // A RUN step's: the build's settings for steps, its command and mounts.
            Some(run) => {
                let mut options = self.options.step_template.clone();
                options.mounts.extend(run.mounts);
                // The stage's VOLUMEs are new anonymous volumes, filled with the image's
                // content and removed with the step: a RUN step finds them, and what it
                // writes in them is not committed, as Docker's and buildah's.
                for path in stage.config.volumes().iter().flatten() {
                    let volume = crate::mounts::anonymous_volume(path, &[])
                        .map_err(|e| EngineError::InvalidArg(format!("VOLUME {path}: {e}")))?;
                    if !options
                        .mounts
                        .iter()
                        .any(|m| m.destination == volume.destination)
                    {
                        options.mounts.push(volume);
                    }
                }
                crate::mounts::validate(&options.mounts)?;
                options.network = run.network.or(options.network);
                options.entrypoint = Some(run.argv);
                options.env = run.env;
                options.passthrough = shown && !captured;
                options.log_to_file = shown && captured;
                options.build_step = true;
                options
            }
            // One that only holds the file system.
            None => CreateOptions {
                entrypoint: Some(vec!["true".to_string()]),
                ..Default::default()
            },
        };
        options.image = Some(stage.image.clone());
        options.workdir = Some(stage.workdir());
        options.user = stage.config.user().clone().filter(|u| !u.is_empty());
        options.labels = self.options.step_labels.clone();
        options.image_volumes = ImageVolumes::Ignore;
        // A step's container is not checked (the base image's check is for its users).
        options.no_healthcheck = true;
        // Nor given passwd and group entries for a numeric USER the image lacks (what `run`
        // adds): they would be committed into the image, which buildah's steps never do.
        options.no_passwd_entries = true;
        Ok(self.engine.create(options)?.id().to_string())
    }

    fn remove_container(&self, id: &str) {
        let _ = self.engine.remove(
            id,
            RemoveOptions {
                force: true,
                volumes: true,
                timeout: Some(0),
            },
        );
    }

    /// Commit a step's container with the stage's config; the stage goes on from it. The
    /// image is noted in the cache under `key`.
    fn commit(
        &mut self,
        stage: &mut Stage,
        container: &str,
        created_by: String,
        key: &str,
        progress: &mut dyn FnMut(&str),
    ) -> Result<()> {
        if self.step_builds_image(stage) {
            self.say_commit(self.place.stage, progress);
        }
        let committed = self.engine.commit(
            container,
            &CommitOptions {
                config: Some(stage.config.clone()),
                created_by: Some(created_by),
                author: stage.author.clone(),
                message: Some(String::new()),
                format: self.options.format,
                docker_fields: Some(stage.docker.clone()),
                timestamp: self.options.timestamp,
                omit_history: self.options.omit_history,
                config_steps: stage.config_steps.clone(),
                ..Default::default()
            },
        )?;
        self.step_made(stage, key, committed.id, progress)
    }

    /// A step's new image: the stage's, noted as the build's and in the cache under `key`.
    fn step_made(
        &mut self,
        stage: &mut Stage,
        key: &str,
        id: String,
        progress: &mut dyn FnMut(&str),
    ) -> Result<()> {
        self.made(&id);
        self.remember(key, &id)?;
        if self.keeps_layers() {
            self.push_to_cache(key, &id, progress);
        }
        stage.image = id;
        stage.config_changed = false;
        stage.config_steps.clear();
        Ok(())
    }

    /// The stage's config as a new image of its image's layers: no container and no
    /// layer (a step that changed only the config has nothing to add).
    fn commit_config(
        &mut self,
        stage: &mut Stage,
        key: &str,
        progress: &mut dyn FnMut(&str),
    ) -> Result<()> {
        let base = self.engine.resolve_image(&stage.image)?;
        let new = image::NewImage {
            name: None,
            config: stage.config.clone(),
            created_by: "#(nop) config".into(),
            comment: Some(String::new()),
            author: stage.author.clone(),
            created: self.options.timestamp,
            omit_history: self.options.omit_history,
            docker: match self.options.format {
                image::ImageFormat::Oci => None,
                image::ImageFormat::Docker => Some(stage.docker.clone()),
            },
            config_steps: stage.config_steps.clone(),
            os_version: self.options.os_version.clone(),
            os_features: self.options.os_features.clone(),
        };
        let committed = {
            let _lock = self.engine.image_lock()?;
            image::commit_config(&self.engine.store, &self.engine.roots, &base, new)?
        };
        self.step_made(stage, key, committed.id, progress)
    }

    fn run_step(
        &mut self,
        stage: &mut Stage,
        instruction: &Instruction,
        argv: Vec<String>,
        progress: &mut dyn FnMut(&str),
    ) -> Result<()> {
        // The stage's ARGs are the command's environment too, under its own variables.
        let mut env = stage.config.env().clone().unwrap_or_default();
        for (name, value) in &stage.args {
            if !env
                .iter()
                .any(|e| e.split('=').next() == Some(name.as_str()))
            {
                env.push(format!("{name}={value}"));
            }
        }
        // The words as they are, joined, as buildah and Docker record a RUN step.
        let created_by = argv.join(" ");
        let network = match instruction.flags.iter().rev().find(|(n, _)| n == "network") {
            Some((_, value)) => parse_build_network(value)
                .map_err(|e| step_error(instruction, format!("--network: {e}")))?,
            None => self.options.network.clone(),
        };
        let (planned, mount_key) = self.plan_mounts(stage, instruction, progress)?;
        let key = self.step_key(
            stage,
            "RUN",
            serde_json::json!({
                "argv": argv,
                "env": env,
                "mounts": mount_key,
                "network": network.as_ref().map(NetworkMode::as_string),
            }),
        );
        if self.take_from_cache(stage, &key, progress, self.step_builds_image(stage))? {
            return Ok(());
        }
        // Held until the step's container is gone: the mounts' copies and locks.
        let mounts = self.prepare_mounts(planned, instruction)?;
        env.extend(mounts.env.iter().cloned());
        let run = StepRun {
            argv,
            env,
            mounts: mounts.specs.clone(),
            network,
        };
        let container = self.container(stage, Some(run))?;
        let ran = (|| -> Result<()> {
            let record = self.engine.start(&container, None, None)?;
            if self.options.capture_run_output && !self.options.quiet {
                // The step's output as it comes, until its monitor is done with the log.
                let log = self.engine.log_path(&record);
                let still_writing = || {
                    self.engine
                        .inspect(&container)
                        .is_ok_and(|r| r.state.status == Status::Running)
                };
                crate::logs::follow(
                    &log,
                    &crate::logs::LogFilter::default(),
                    still_writing,
                    |line| {
                        progress(&line.text);
                        Ok(())
                    },
                )?;
            }
            let code = self.engine.wait(&container)?;
            if code != 0 {
                return Err(EngineError::StepFailed {
                    message: step_error(
                        instruction,
                        format!("{} exited with status {code}", instruction.args.text()),
                    )
                    .to_string(),
                    status: code,
                });
            }
            self.commit(stage, &container, created_by, &key, progress)?;
            self.say_image(&stage.image, progress);
            Ok(())
        })();
        self.remove_container(&container);
        ran
    }

    fn copy_step(
        &mut self,
        stage: &mut Stage,
        instruction: &Instruction,
        progress: &mut dyn FnMut(&str),
    ) -> Result<()> {
        let add = instruction.keyword == "ADD";
        only_flags(
            instruction,
            if add {
                &["chown", "chmod", "checksum"]
            } else {
                &["from", "chown", "chmod"]
            },
        )?;
        let flag = |wanted: &str| {
            instruction
                .flags
                .iter()
                .rev()
                .find(|(name, _)| name == wanted)
                .map(|(_, value)| value.clone())
        };
        let from = flag("from");
        let line = instruction.line;

        let vars = stage.vars();
        let how = CopyInto {
            owner: match flag("chown") {
                Some(owner) => CopyOwner::User(containerfile::expand(&owner, &vars, line)?),
                None => CopyOwner::Source,
            },
            mode: match flag("chmod") {
                Some(mode) => Some(
                    parse_chmod(&containerfile::expand(&mode, &vars, line)?)
                        .map_err(|e| step_error(instruction, e))?,
                ),
                None => None,
            },
            // COPY replaces what is in the image, whatever its kind.
            keep_kinds: false,
        };
        let mut words = match &instruction.args {
            Args::Json(words) => words
                .iter()
                .map(|w| containerfile::expand(w, &vars, line))
                .collect::<Result<Vec<_>>>()?,
            // Variables a word at a time, as in ENV (a value with blanks is one path).
            Args::Text(text) => containerfile::expanded_words(text, &vars, line)?,
        };
        if words.len() < 2 {
            return Err(step_error(instruction, "needs a source and a destination"));
        }
        let dest_word = words.pop().unwrap_or_default();
        let dest = stage.in_workdir(&dest_word);
        let into_dir = dest_word.ends_with('/') || dest_word == "." || words.len() > 1;
        let checksum = flag("checksum");
        // Heredocs (`COPY <<EOF /etc/motd`) are files of their own, copied as downloads are.
        let heredoc_of = |word: &str| {
            containerfile::heredoc_marker(word).and_then(|(delimiter, _)| {
                instruction
                    .heredocs
                    .iter()
                    .find(|h| h.delimiter == delimiter)
            })
        };
        let heredocs: Vec<&containerfile::Heredoc> =
            words.iter().filter_map(|w| heredoc_of(w)).collect();
        let (urls, local): (Vec<String>, Vec<String>) = words
            .iter()
            .filter(|w| heredoc_of(w).is_none())
            .cloned()
            .partition(|w| add_url::is_url(w));
        if !add && !urls.is_empty() {
            return Err(step_error(
                instruction,
                "a URL is not a COPY source: ADD downloads",
            ));
        }
        if checksum.is_some() && (urls.len() != 1 || !local.is_empty()) {
            return Err(step_error(instruction, "--checksum is for ADD of one URL"));
        }
        if from.is_some() && words.iter().any(|s| s.contains(['*', '?', '['])) {
            return Err(not_supported(instruction, "patterns in COPY --from"));
        }
        // What the step copies from, found before the cache is asked: the image's ID, or
        // the context's files and the digest of what they hold.
        let from = match &from {
            Some(from) => Some(self.source_named(from, progress)?),
            None => None,
        };
        let (source, input) = match from {
            Some(FromSource::Image(image)) => {
                let input = serde_json::json!({ "from": image });
                (CopySource::Image(image), input)
            }
            // A named context's files, as the build context's are taken.
            Some(FromSource::Directory(name)) => {
                let paths = self.context_dir(Some(&name)).sources(&local, instruction)?;
                let input = serde_json::json!({
                    "named": name,
                    "context": self.context_dir(Some(&name)).digest(&paths)?,
                });
                (CopySource::Context(Some(name), paths, Vec::new()), input)
            }
            None => {
                let paths = self.context.sources(&local, instruction)?;
                // ADD's downloads, each time (the cache keys them by what came).
                let mut downloads = Vec::new();
                for url in &urls {
                    downloads.push(self.download(url, checksum.as_deref(), instruction)?);
                }
                for heredoc in &heredocs {
                    let tmp = self.engine.roots.tmp();
                    downloads.push(add_url::heredoc_file(heredoc, &vars, line, &tmp)?);
                }
                let fetched: Vec<serde_json::Value> = downloads
                    .iter()
                    .map(|d| serde_json::json!([d.url, d.digest, d.modified]))
                    .collect();
                let input = serde_json::json!({
                    "context": self.context.digest(&paths)?,
                    "downloads": fetched,
                });
                (CopySource::Context(None, paths, downloads), input)
            }
        };
        let what = serde_json::json!({
            "sources": words,
            "dest": dest,
            "into_dir": into_dir,
            "owner": format!("{:?}", how.owner),
            "mode": how.mode,
            "input": input,
        });
        let key = self.step_key(stage, &instruction.keyword, what);
        if self.take_from_cache(stage, &key, progress, self.step_builds_image(stage))? {
            return Ok(());
        }
        let container = self.container(stage, None)?;
        let copied = (|| -> Result<()> {
            match source {
                CopySource::Image(image) => {
                    self.copy_from_image(&container, image, (&words, &dest, into_dir), &how)
                }
                CopySource::Context(named, paths, downloads) => self.copy_from_context(
                    &container,
                    (named.as_deref(), paths, downloads),
                    (&dest, into_dir),
                    &how,
                    add,
                ),
            }?;
            let created_by = format!(
                "/bin/sh -c #(nop) {} {}",
                instruction.keyword,
                instruction.args.text()
            );
            self.commit(stage, &container, created_by, &key, progress)?;
            self.say_image(&stage.image, progress);
            Ok(())
        })();
        self.remove_container(&container);
        copied
    }

    /// Make `dir` and its parents in the container (0755, root's or as `--chown` says), as
    /// COPY does.
    fn make_dirs(&self, container: &str, dir: &str, how: &CopyInto) -> Result<()> {
        let parts: Vec<String> = dir
            .split('/')
            .filter(|p| !p.is_empty() && *p != ".")
            .map(str::to_string)
            .collect();
        // What exists is left as it is (a `/tmp` keeps its mode): only the missing
        // directories are made, below the deepest one that exists.
        let mut existing = 0;
        while existing < parts.len() {
            let path = format!("/{}", parts[..=existing].join("/"));
            match self.engine.stat_container_path(container, &path) {
                Ok(stat) if stat.mode & libc::S_IFMT == libc::S_IFDIR => existing += 1,
                Ok(_) => {
                    return Err(EngineError::InvalidArg(format!(
                        "{path} is not a directory in the image"
                    )))
                }
                Err(_) => break,
            }
        }
        if existing == parts.len() {
            return Ok(());
        }
        let base = format!("/{}", parts[..existing].join("/"));
        let mut archive = tar::Builder::new(Vec::new());
        let mut path = PathBuf::new();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        for part in &parts[existing..] {
            path.push(part);
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(tar::EntryType::Directory);
            header.set_mode(0o755);
            header.set_size(0);
            header.set_uid(0);
            header.set_gid(0);
            header.set_mtime(now);
            archive
                .append_data(&mut header, &path, std::io::empty())
                .map_err(|e| EngineError::io("making directories for", dir, e))?;
        }
        let bytes = archive
            .into_inner()
            .map_err(|e| EngineError::io("making directories for", dir, e))?;
        let made = CopyInto {
            owner: how.owner.clone(),
            mode: None,
            keep_kinds: how.keep_kinds,
        };
        self.engine.copy_into_container_as(
            container,
            HostSource::Tar(&mut bytes.as_slice()),
            &base,
            &made,
        )
    }

    fn copy_from_context(
        &self,
        container: &str,
        (named, paths, downloads): (Option<&str>, Vec<PathBuf>, Vec<add_url::Download>),
        (dest, into_dir): (&str, bool),
        how: &CopyInto,
        add: bool,
    ) -> Result<()> {
        let context = self.context_dir(named);
        let tmp = self.engine.roots.tmp();
        // An existing directory is copied into, as with a trailing `/`.
        let dest_is_dir = self
            .engine
            .stat_container_path(container, dest)
            .is_ok_and(|stat| stat.mode & libc::S_IFMT == libc::S_IFDIR);
        let into_dir = into_dir || paths.len() + downloads.len() > 1 || dest_is_dir;
        let (parent, file_name) = if into_dir {
            (dest.to_string(), None)
        } else {
            (
                parent_of(dest),
                Path::new(dest)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned()),
            )
        };
        self.make_dirs(container, &parent, how)?;
        for named_path in paths {
            // A source that is a link is what it leads to (inside the context), under its
            // own name, as Docker's and buildah's COPY take it.
            let path = context.followed(&named_path)?;
            let meta = path
                .symlink_metadata()
                .map_err(|e| EngineError::io("reading", &path, e))?;
            let (archive, into) = if meta.is_dir() {
                // A directory's contents, into the destination (made when missing).
                self.make_dirs(container, dest, how)?;
                (context.tar(&tmp, &path, None)?, dest.to_string())
            } else if let Some(kind) = (add && meta.is_file())
                .then(|| archive_kind(&path))
                .transpose()?
                .flatten()
            {
                self.make_dirs(container, dest, how)?;
                let file =
                    fs::File::open(&path).map_err(|e| EngineError::io("opening", &path, e))?;
                let mut reader: Box<dyn std::io::Read> = match kind {
                    Archive::Compressed => crate::image::compression::decompressed(file)
                        .map_err(|e| EngineError::io("reading", &path, e))?,
                    Archive::Tar => Box::new(file),
                };
                self.engine.copy_into_container_as(
                    container,
                    HostSource::Tar(&mut reader),
                    dest,
                    how,
                )?;
                continue;
            } else {
                let name = match &file_name {
                    Some(name) => name.clone(),
                    None => named_path
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                };
                (context.tar(&tmp, &path, Some(&name))?, parent.clone())
            };
            let mut archive = archive;
            self.engine.copy_into_container_as(
                container,
                HostSource::Tar(&mut archive),
                &into,
                how,
            )?;
        }
        // Downloads are files, never unpacked.
        for mut download in downloads {
            let name = file_name
                .clone()
                .or_else(|| download.name.clone())
                .ok_or_else(|| {
                    EngineError::InvalidArg(format!(
                        "ADD {}: no file name in the URL's path: give the destination's",
                        download.url
                    ))
                })?;
            let archive = add_url::download_tar(&mut download, &name)?;
            self.engine.copy_into_container_as(
                container,
                HostSource::Tar(&mut archive.as_slice()),
                &parent,
                how,
            )?;
        }
        Ok(())
    }

    /// `named`, a path in the root of the step container `container`, with a link at its
    /// end followed inside that root (as `cp` resolves it): the path and what is there.
    fn followed_in_image(&self, container: &str, named: &str) -> Result<(String, PathStat)> {
        let first = self.engine.stat_container_path(container, named)?;
        if first.mode & libc::S_IFMT != libc::S_IFLNK {
            return Ok((first.link_target.clone(), first));
        }
        let path = first.link_target;
        let stat = self
            .engine
            .stat_container_path(container, &path)
            .map_err(|e| match path == named {
                true => e,
                false => EngineError::InvalidArg(format!(
                    "{named}: a link to {path}, which the image does not have"
                )),
            })?;
        // `cp` leaves a link that leads nowhere in the root as it is.
        if stat.mode & libc::S_IFMT == libc::S_IFLNK {
            return Err(EngineError::InvalidArg(format!(
                "{named}: a link to something the image does not have"
            )));
        }
        Ok((path, stat))
    }

    fn copy_from_image(
        &mut self,
        container: &str,
        image: String,
        (sources, dest, into_dir): (&[String], &str, bool),
        how: &CopyInto,
    ) -> Result<()> {
        let source = self.container(
            &Stage::new(None, image, Config::default(), Default::default()),
            None,
        )?;
        let copied = (|| -> Result<()> {
            let into_dir = into_dir || sources.len() > 1;
            let parent = if into_dir {
                dest.to_string()
            } else {
                parent_of(dest)
            };
            self.make_dirs(container, &parent, how)?;
            for named in sources {
                let named = if named.starts_with('/') {
                    named.clone()
                } else {
                    format!("/{named}")
                };
                // A source that is a link is what it leads to inside the image's root,
                // under its own name, as Docker's and buildah's COPY take it.
                let (path, stat) = self.followed_in_image(&source, &named)?;
                let is_dir = stat.mode & libc::S_IFMT == libc::S_IFDIR;
                if is_dir {
                    self.make_dirs(container, dest, how)?;
                    let contents = format!("{}/.", path.trim_end_matches('/'));
                    self.engine
                        .copy_between_containers_as(&source, &contents, container, dest, how)?;
                } else {
                    let target = match (into_dir, Path::new(&named).file_name()) {
                        (true, Some(name)) => {
                            format!("{}/{}", dest.trim_end_matches('/'), name.to_string_lossy())
                        }
                        (true, None) => format!("{}/", dest.trim_end_matches('/')),
                        (false, _) => dest.to_string(),
                    };
                    self.engine
                        .copy_between_containers_as(&source, &path, container, &target, how)?;
                }
            }
            Ok(())
        })();
        self.remove_container(&source);
        copied
    }
}

/// Where a COPY or ADD step copies from.
enum CopySource {
    /// A stage's or an image's files (`--from`), by the image's ID.
    Image(String),
    /// Files of the build context (or of a named one), and ADD's downloads.
    Context(Option<String>, Vec<PathBuf>, Vec<add_url::Download>),
}

/// A build cache key: the SHA-256 of what the step depends on, as JSON with every
/// object's keys sorted (a config's labels come from a HashMap, whose order changes from
/// one process to the next).
fn cache_key(what: &serde_json::Value) -> String {
    use sha2::Digest;
    let mut canonical = what.clone();
    canonical.sort_all_objects();
    hex::encode(sha2::Sha256::digest(canonical.to_string().as_bytes()))
}

/// `--timestamp`'s value (seconds since 1970, as podman takes it) as a time; the error
/// names what was given.
pub fn parse_build_timestamp(seconds: i64) -> Result<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::from_timestamp(seconds, 0)
        .filter(|_| seconds >= 0)
        .ok_or_else(|| {
            EngineError::InvalidArg(format!("invalid --timestamp {seconds}: seconds since 1970"))
        })
}

/// `--cache-from` and `--cache-to`'s value: a registry's repository (`REGISTRY/PATH`),
/// without a tag or digest (the steps' cache keys are its tags).
pub fn parse_cache_repository(text: &str) -> Result<String> {
    let bad = |why: &str| {
        EngineError::InvalidArg(format!(
            "invalid cache repository {text:?}: {why} (REGISTRY/REPOSITORY)"
        ))
    };
    let reference = image::reference::Reference::parse(text).map_err(|_| bad("not a name"))?;
    if reference.tag.is_some() || reference.digest.is_some() {
        return Err(bad("no tag or digest: the steps' cache keys are its tags"));
    }
    match &reference.domain {
        Some(domain) if domain != image::reference::LOCAL_DOMAIN => {
            Ok(format!("{domain}/{}", reference.path))
        }
        _ => Err(bad("a registry's repository")),
    }
}

/// The short form of an image ID that podman prints after each step.
fn short_id(id: &str) -> &str {
    &id[..id.len().min(11)]
}

/// `--chmod`'s permissions: octal digits (`644`, `0755`, `4755`).
fn parse_chmod(text: &str) -> std::result::Result<u32, String> {
    let octal = !text.is_empty() && text.bytes().all(|b| (b'0'..=b'7').contains(&b));
    match u32::from_str_radix(text, 8) {
        Ok(mode) if octal && mode <= 0o7777 => Ok(mode),
        _ => Err(format!(
            "--chmod={text:?}: permissions are octal digits, such as 0644"
        )),
    }
}

/// The directory a destination path is in.
fn parent_of(dest: &str) -> String {
    Path::new(dest)
        .parent()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|| "/".into())
}

/// The archives ADD unpacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Archive {
    Tar,
    /// gzip, bzip2, xz or zstd (`compression::decompressed`), as podman's ADD unpacks them.
    Compressed,
}

/// What kind of archive a file is, by its first bytes.
fn archive_kind(path: &Path) -> Result<Option<Archive>> {
    use std::io::Read;
    let mut head = [0u8; 512];
    let mut file = fs::File::open(path).map_err(|e| EngineError::io("opening", path, e))?;
    let mut filled = 0;
    while filled < head.len() {
        match file.read(&mut head[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) => return Err(EngineError::io("reading", path, e)),
        }
    }
    let head = &head[..filled];
    use crate::image::compression::{is_bzip2, is_gzip, is_xz, is_zstd};
    Ok(
        if is_gzip(head) || is_bzip2(head) || is_xz(head) || is_zstd(head) {
            Some(Archive::Compressed)
        } else if head.len() >= 262 && &head[257..262] == b"ustar" {
            Some(Archive::Tar)
        } else {
            None
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn healthchecks_become_dockers_health_config() {
        let config = |line: &str| {
            let instruction = containerfile::parse(line).unwrap().remove(0);
            health_config(&instruction)
        };
        assert_eq!(
            config("HEALTHCHECK --interval=1m30s --timeout=500ms --start-period=2s --retries=4 CMD curl -f x").unwrap(),
            serde_json::json!({
                "Test": ["CMD-SHELL", "curl -f x"],
                "Interval": 90_000_000_000u64,
                "Timeout": 500_000_000u64,
                "StartPeriod": 2_000_000_000u64,
                "Retries": 4,
            })
        );
        assert_eq!(
            config(r#"HEALTHCHECK cmd ["prog", "a b"]"#).unwrap(),
            serde_json::json!({ "Test": ["CMD", "prog", "a b"] })
        );
        assert_eq!(
            config("HEALTHCHECK NONE").unwrap(),
            serde_json::json!({ "Test": ["NONE"] })
        );
        for bad in [
            "HEALTHCHECK",
            "HEALTHCHECK CMD",
            "HEALTHCHECK --retries=2 NONE",
            "HEALTHCHECK RUN x",
            "HEALTHCHECK --interval=5 CMD x",
        ] {
            assert!(config(bad).is_err(), "{bad} was taken");
        }
    }

    #[test]
    fn archives_are_known_by_their_first_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, bytes: &[u8]| {
            let path = dir.path().join(name);
            fs::write(&path, bytes).unwrap();
            path
        };
        let mut tar_bytes = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(1);
        tar_bytes.append_data(&mut header, "f", &b"x"[..]).unwrap();
        let tar_bytes = tar_bytes.into_inner().unwrap();
        assert_eq!(
            archive_kind(&write("a.tar", &tar_bytes)).unwrap(),
            Some(Archive::Tar)
        );
        assert_eq!(
            archive_kind(&write("a.gz", &[0x1f, 0x8b, 8, 0])).unwrap(),
            Some(Archive::Compressed)
        );
        let bzip2_head = b"BZh91AY&SY\0\0";
        assert_eq!(
            archive_kind(&write("a.bz2", bzip2_head)).unwrap(),
            Some(Archive::Compressed)
        );
        assert_eq!(
            archive_kind(&write("a.zst", &[0x28, 0xb5, 0x2f, 0xfd, 0])).unwrap(),
            Some(Archive::Compressed)
        );
        // A text that starts like bzip2's header is not one.
        assert_eq!(archive_kind(&write("bz", b"BZh9 notes")).unwrap(), None);
        // A file named like an archive is copied as it is.
        assert_eq!(
            archive_kind(&write("notes.tar", b"plain text")).unwrap(),
            None
        );
        assert_eq!(archive_kind(&write("empty", b"")).unwrap(), None);
        assert_eq!(
            archive_kind(&write("a.xz", b"\xfd7zXZ\0\0")).unwrap(),
            Some(Archive::Compressed)
        );
    }

    #[test]
    fn only_the_stages_the_target_takes_from_are_needed() {
        let file = "ARG BASE=base\n\
                    FROM demo AS base\n\
                    FROM demo AS unused\nRUN exit 1\n\
                    FROM $BASE AS mid\nCOPY --from=tools /x /\n\
                    FROM demo AS tools\n\
                    FROM demo AS cached\n\
                    FROM demo\nCOPY --from=mid /a /\nRUN --mount=type=cache,target=/c,from=x true\n\
                    RUN --mount=type=bind,target=/b,from=cached true\n";
        let instructions = containerfile::parse(file).unwrap();
        let globals = BTreeMap::from([("BASE".to_string(), "base".to_string())]);
        // (`tools` comes after `mid`: a stage cannot take from a later one, so `tools`
        // there is an image's name.)
        assert_eq!(
            needed_stages(&instructions, None, &globals),
            [true, false, true, false, true, true]
        );
        assert_eq!(
            needed_stages(&instructions, Some("MID"), &globals),
            [true, false, true, false, false, false]
        );
        assert_eq!(
            needed_stages(&instructions, Some("nosuch"), &globals),
            Vec::<bool>::new()
        );
        // A reference only the stage could resolve: every stage is built.
        let file = "FROM demo AS a\nFROM demo AS b\nARG S=a\nCOPY --from=$S /x /\n";
        let instructions = containerfile::parse(file).unwrap();
        assert!(needed_stages(&instructions, None, &globals).is_empty());
    }

    #[test]
    fn step_paths_are_taken_from_the_working_directory() {
        let mut stage = Stage::new(None, String::new(), Config::default(), Default::default());
        stage.args.insert("V".into(), "arg".into());
        assert_eq!(stage.in_workdir("x"), "/x");
        stage.config.set_working_dir(Some("/app/".into()));
        assert_eq!(stage.in_workdir("x/y"), "/app/x/y");
        assert_eq!(stage.in_workdir("/abs"), "/abs");
        // An ENV of the same name is stronger than an ARG.
        assert_eq!(stage.vars()["V"], "arg");
        stage
            .config
            .set_env(Some(vec!["V=env".into(), "W=w=1".into()]));
        assert_eq!(stage.vars()["V"], "env");
        assert_eq!(stage.vars()["W"], "w=1");
    }
}
