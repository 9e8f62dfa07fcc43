//! `rpod --remote build`: the build context goes to the service as a tar, as podman-remote
//! sends it; the service builds, and its progress and the RUN steps' output are printed
//! here as the local command prints them (the image's ID last).
//!
//! What the context's ignore file (`.containerignore`, else `.dockerignore`) leaves out is
//! not sent; the service applies the same file again, so this only saves the upload. The
//! Containerfile and the ignore file are always sent; a Containerfile outside the context
//! (`-f ../Containerfile`, `-f -`) goes into the tar under a name of its own, which the
//! sent ignore file leaves out (a line added to the context's, or a `.containerignore`
//! that also leaves itself out), so `COPY .` does not copy it, as the docker CLI does.

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::cli::BuildArgs;
use crate::exit::{usage, Failure, Outcome, ENGINE_ERROR};
use rpod_engine::containerfile::{IgnoreRules, MAX_CONTAINERFILE};

use super::{encode, Client, StreamLines};

/// The longest line of the service's progress taken whole (a RUN step's output line).
const MAX_PROGRESS_LINE: u64 = 1024 * 1024;

/// The arguments of `build` a remote service takes (the others are refused by name).
pub const FLAGS: &[&str] = &[
    // Accepted, as locally: the service's store keeps layers uncompressed too.
    "disable_compression",
    "tags",
    "file",
    "build_args",
    "target",
    "labels",
    "annotations",
    "quiet",
    "no_cache",
    "iidfile",
    "format",
    "layers",
    "squash",
    "timestamp",
    "omit_history",
    "from",
    "pull",
    "platform",
    "os",
    "arch",
    "variant",
    "skip_unused_stages",
    "rm",
    "force_rm",
    "compress",
    "disable_content_trust",
    "context",
];

/// Where the Containerfile is for the service.
enum Containerfile {
    /// A file of the context (its path there).
    InContext(String),
    /// Sent into the context's tar under `name`.
    Sent { name: String, text: Vec<u8> },
}

impl Containerfile {
    fn name(&self) -> &str {
        match self {
            Containerfile::InContext(name) | Containerfile::Sent { name, .. } => name,
        }
    }
}

pub fn build(client: &mut Client, args: &BuildArgs) -> Outcome {
    crate::commands::image::refuse_build_flags(args)?;
    for (kept, flag) in [(args.rm, "--rm=false"), (args.force_rm, "--force-rm=false")] {
        if !kept {
            return Err(rpod_engine::EngineError::NotSupported(format!(
                "build {flag} (rpod removes the containers of the steps, also when a step fails)"
            ))
            .into());
        }
    }
    if args.context.as_os_str() == "-" {
        return Err(rpod_engine::EngineError::NotSupported(
            "build - (a context on standard input) with a remote service".into(),
        )
        .into());
    }
    let mut query = query(args)?;
    let remote = match args.context.to_str() {
        Some(text) => rpod_engine::RemoteContext::parse(text)?.map(|_| text.to_string()),
        None => None,
    };
    let streamed = match remote {
        // The service fetches the context itself; the Containerfile is found in it.
        Some(url) => {
            if args.file.as_deref().is_some_and(|f| f.as_os_str() == "-") {
                return Err(usage("-f - needs a local build context"));
            }
            if let Some(file) = &args.file {
                query.push(format!(
                    "dockerfile={}",
                    encode(&json!([file.to_string_lossy()]).to_string())
                ));
            }
            query.push(format!("remote={}", encode(&url)));
            let path = format!("/build?{}", query.join("&"));
            client.upload_streamed("POST", &path, "application/x-tar", &mut |_| Ok(()))?
        }
        None => {
            let context = LocalContext::open(&args.context, args.file.as_deref())?;
            query.push(format!(
                "dockerfile={}",
                encode(&json!([context.containerfile.name()]).to_string())
            ));
            let path = format!("/build?{}", query.join("&"));
            client.upload_streamed("POST", &path, "application/x-tar", &mut |out| {
                context.write_tar(out)
            })?
        }
    };
    if streamed.status != 200 {
        return Err(super::streamed_failure(streamed));
    }
    let id = follow(
        StreamLines::new(streamed.body, MAX_PROGRESS_LINE),
        &mut io::stdout(),
    )?;
    // (The service said `Successfully tagged` for each name, as podman's does.)
    if let Some(file) = &args.iidfile {
        // As the local command writes it: the ID with its algorithm, no newline.
        fs::write(file, format!("sha256:{id}")).map_err(|e| {
            Failure::new(
                ENGINE_ERROR,
                anyhow::anyhow!("writing --iidfile {}: {e}", file.display()),
            )
        })?;
    }
    println!("{id}");
    Ok(0)
}

/// The query of the build's settings (all but the Containerfile's name and the context).
fn query(args: &BuildArgs) -> Result<Vec<String>, Failure> {
    let mut query = Vec::new();
    for tag in &args.tags {
        query.push(format!("t={}", encode(tag)));
    }
    // A name alone takes this process's variable, if it has one, as the local command.
    let mut build_args = serde_json::Map::new();
    for arg in &args.build_args {
        match arg.split_once('=') {
            Some((name, value)) => {
                build_args.insert(name.to_string(), value.into());
            }
            None => {
                if let Ok(value) = std::env::var(arg) {
                    build_args.insert(arg.clone(), value.into());
                }
            }
        }
    }
    if !build_args.is_empty() {
        query.push(format!(
            "buildargs={}",
            encode(&Value::Object(build_args).to_string())
        ));
    }
    for label in &args.labels {
        if label.split_once('=').unwrap_or((label, "")).0.is_empty() {
            return Err(usage(format!("invalid --label {label:?}: KEY=VALUE")));
        }
    }
    if !args.labels.is_empty() {
        query.push(format!(
            "labels={}",
            encode(&json!(args.labels).to_string())
        ));
    }
    // Checked here as the local command checks them; the service checks again.
    rpod_engine::image::parse_annotations(&args.annotations)?;
    if !args.annotations.is_empty() {
        query.push(format!(
            "annotations={}",
            encode(&json!(args.annotations).to_string())
        ));
    }
    if let Some(target) = &args.target {
        query.push(format!("target={}", encode(target)));
    }
    if let Some(from) = &args.from {
        query.push(format!("from={}", encode(from)));
    }
    // The local command's defaults, its variables included ($BUILDAH_FORMAT,
    // $BUILDAH_LAYERS): the service cannot see this process's.
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
    query.push(format!(
        "outputformat={}",
        match format {
            rpod_engine::image::ImageFormat::Oci => "oci",
            rpod_engine::image::ImageFormat::Docker => "docker",
        }
    ));
    let layers = args
        .layers
        .unwrap_or_else(crate::commands::image::layers_by_default);
    query.push(format!("layers={layers}"));
    match args.pull.as_deref() {
        None | Some("missing") => {}
        Some("always" | "true") => query.push("pullpolicy=always".into()),
        Some("never" | "false") => query.push("pullpolicy=never".into()),
        Some("newer") => query.push("pullpolicy=ifnewer".into()),
        Some(other) => {
            return Err(usage(format!(
                "invalid --pull {other:?}: missing, always, never or newer"
            )))
        }
    }
    for (set, name) in [
        (args.quiet, "q"),
        (args.no_cache, "nocache"),
        (args.squash, "squash"),
        (args.omit_history, "omithistory"),
    ] {
        if set {
            query.push(format!("{name}=true"));
        }
    }
    if !args.skip_unused_stages {
        query.push("skipunusedstages=false".into());
    }
    if let Some(seconds) = args.timestamp {
        rpod_engine::parse_build_timestamp(seconds).map_err(usage)?;
        query.push(format!("timestamp={seconds}"));
    }
    let platform = rpod_engine::image::platform::Platform::from_flags(
        args.platform.as_deref(),
        args.os.as_deref(),
        args.arch.as_deref(),
        args.variant.as_deref(),
    )?;
    if let Some(platform) = platform {
        let part = |p: &Option<String>| p.clone().unwrap_or_default();
        let mut text = format!("{}/{}", part(&platform.os), part(&platform.arch));
        if let Some(variant) = &platform.variant {
            text.push_str(&format!("/{variant}"));
        }
        query.push(format!("platform={}", encode(&text)));
    }
    Ok(query)
}

/// The service's progress printed to `out` as it comes; the image's ID, which is the last
/// line of a build that succeeded. A failure the service reports is an error with its
/// message, exiting with a failed RUN step's status as the local command does.
fn follow(mut lines: StreamLines<impl Read>, out: &mut impl Write) -> Result<String, Failure> {
    let write_failed = |e: io::Error| Failure::new(ENGINE_ERROR, e);
    // A line that looks like the ID is held until another follows it.
    let mut held: Option<String> = None;
    while let Some(line) = lines.next_line()? {
        let Ok(report) = serde_json::from_slice::<Value>(line) else {
            continue;
        };
        if let Some(error) = report["error"].as_str().filter(|e| !e.is_empty()) {
            if let Some(text) = held.take() {
                out.write_all(text.as_bytes()).map_err(write_failed)?;
            }
            let code = report["errorDetail"]["code"]
                .as_i64()
                .filter(|code| (1..=255).contains(code))
                .map_or(ENGINE_ERROR, |code| code as i32);
            return Err(Failure::new(code, anyhow::anyhow!("{error}")));
        }
        let Some(text) = report["stream"].as_str() else {
            continue;
        };
        if let Some(previous) = held.take() {
            out.write_all(previous.as_bytes()).map_err(write_failed)?;
        }
        if image_id(text).is_some() {
            held = Some(text.to_string());
        } else {
            out.write_all(text.as_bytes()).map_err(write_failed)?;
            out.flush().map_err(write_failed)?;
        }
    }
    held.as_deref()
        .and_then(image_id)
        .map(str::to_string)
        .ok_or_else(|| {
            Failure::new(
                ENGINE_ERROR,
                anyhow::anyhow!("the service's build ended without an image ID"),
            )
        })
}

/// The image ID a progress line is, if it is one (64 hex digits alone).
fn image_id(text: &str) -> Option<&str> {
    let id = text.trim_end_matches('\n');
    (id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit())).then_some(id)
}

/// A build context on this machine and what of it is sent.
struct LocalContext {
    root: PathBuf,
    ignore: IgnoreRules,
    /// The ignore file sent in place of the context's (its name and text), with a line
    /// that leaves out a Containerfile sent from elsewhere.
    sent_ignore_file: Option<(&'static str, String)>,
    containerfile: Containerfile,
    /// The context's paths sent whatever the ignore file says.
    always: Vec<PathBuf>,
}

impl LocalContext {
    fn open(dir: &Path, file: Option<&Path>) -> Result<LocalContext, Failure> {
        let root = fs::canonicalize(dir).map_err(|e| {
            Failure::new(
                ENGINE_ERROR,
                anyhow::anyhow!("opening the build context {}: {e}", dir.display()),
            )
        })?;
        if !root.is_dir() {
            return Err(usage(format!(
                "the build context {} is not a directory",
                root.display()
            )));
        }
        let mut always = Vec::new();
        let mut ignore = IgnoreRules::default();
        let mut ignore_file = None;
        for name in [".containerignore", ".dockerignore"] {
            let path = root.join(name);
            match path.symlink_metadata() {
                Ok(meta) if meta.is_file() => {
                    // The service reads it with the Containerfile's bound.
                    let text = read_bounded(&path, MAX_CONTAINERFILE)?;
                    ignore = IgnoreRules::parse(&text)?;
                    ignore_file = Some((name, text));
                    always.push(PathBuf::from(name));
                    break;
                }
                Ok(_) => return Err(usage(format!("{}: not a plain file", path.display()))),
                Err(_) => {}
            }
        }
        let containerfile = Self::find_containerfile(&root, dir, file)?;
        let sent_ignore_file = match &containerfile {
            Containerfile::InContext(name) => {
                always.push(PathBuf::from(name));
                None
            }
            Containerfile::Sent { name, .. } => {
                Some(Self::ignore_file_leaving_out(&root, name, ignore_file)?)
            }
        };
        Ok(LocalContext {
            root,
            ignore,
            sent_ignore_file,
            containerfile,
            always,
        })
    }

    /// The ignore file that leaves out `name`: the context's with a line added (refused
    /// when that takes it past the bound the service reads it with), else a
    /// `.containerignore` that leaves itself out too.
    fn ignore_file_leaving_out(
        root: &Path,
        name: &str,
        context_file: Option<(&'static str, String)>,
    ) -> Result<(&'static str, String), Failure> {
        let Some((file, text)) = context_file else {
            return Ok((".containerignore", format!("{name}\n.containerignore\n")));
        };
        let text = format!("{text}\n{name}\n");
        if text.len() as u64 > MAX_CONTAINERFILE {
            return Err(usage(format!(
                "{}: with a line for the Containerfile sent from elsewhere, larger than the \
                 {MAX_CONTAINERFILE} bytes the service reads",
                root.join(file).display()
            )));
        }
        Ok((file, text))
    }

    /// The Containerfile `-f` names (a path here, or `-` for standard input), else the
    /// context's Containerfile or Dockerfile.
    fn find_containerfile(
        root: &Path,
        dir: &Path,
        file: Option<&Path>,
    ) -> Result<Containerfile, Failure> {
        let sent = |text: Vec<u8>| Containerfile::Sent {
            // Beside the context's own files, under a name none of them has.
            name: format!(
                ".rpod-containerfile-{}",
                &rpod_engine::names::random_id()[..12]
            ),
            text,
        };
        let Some(file) = file else {
            return ["Containerfile", "Dockerfile"]
                .into_iter()
                .find(|name| root.join(name).is_file())
                .map(|name| Containerfile::InContext(name.to_string()))
                .ok_or_else(|| {
                    usage(format!(
                        "no Containerfile or Dockerfile in {}: name one with -f",
                        dir.display()
                    ))
                });
        };
        if file.as_os_str() == "-" {
            let text = crate::commands::image::containerfile_from(io::stdin().lock())?;
            return Ok(sent(text));
        }
        let found = fs::canonicalize(file).map_err(|e| {
            Failure::new(
                ENGINE_ERROR,
                anyhow::anyhow!("reading the Containerfile {}: {e}", file.display()),
            )
        })?;
        match found.strip_prefix(root) {
            Ok(inside) if found.is_file() => Ok(Containerfile::InContext(
                inside.to_string_lossy().into_owned(),
            )),
            _ => Ok(sent(read_bounded(&found, MAX_CONTAINERFILE)?.into_bytes())),
        }
    }

    /// The context as a tar: what the ignore file leaves out is not in it, links are links
    /// (never followed), sockets are left out (a tar cannot hold them).
    fn write_tar(&self, out: &mut dyn Write) -> io::Result<()> {
        let mut builder = tar::Builder::new(out);
        builder.follow_symlinks(false);
        self.add_directory(&mut builder, Path::new(""))?;
        if let Containerfile::Sent { name, text } = &self.containerfile {
            append_file(&mut builder, name, text)?;
        }
        if let Some((name, text)) = &self.sent_ignore_file {
            append_file(&mut builder, name, text.as_bytes())?;
        }
        builder.finish()
    }

    fn add_directory(
        &self,
        builder: &mut tar::Builder<&mut dyn Write>,
        relative: &Path,
    ) -> io::Result<()> {
        use std::os::unix::fs::FileTypeExt;
        let mut entries =
            fs::read_dir(self.root.join(relative))?.collect::<io::Result<Vec<_>>>()?;
        entries.sort_by_key(|entry| entry.file_name());
        for entry in entries {
            let path = relative.join(entry.file_name());
            // The context's ignore file, when another is sent in its place (above).
            if (self.sent_ignore_file.as_ref()).is_some_and(|(name, _)| path == Path::new(name)) {
                continue;
            }
            let kind = entry.file_type()?;
            let left_out = self.ignore.excludes(&path) && !self.always.contains(&path);
            if kind.is_dir() {
                // A left-out directory is still looked in when a pattern takes something
                // below it back in, or when the Containerfile is there.
                let looked_in = !left_out
                    || self.ignore.has_exceptions()
                    || self.always.iter().any(|kept| kept.starts_with(&path));
                if looked_in {
                    builder.append_dir(&path, entry.path())?;
                    self.add_directory(builder, &path)?;
                }
            } else if !left_out && !kind.is_socket() {
                builder.append_path_with_name(entry.path(), &path)?;
            }
        }
        Ok(())
    }
}

/// A file of `text` made here (mode 0644, dated 1970: its time is not the context's).
fn append_file(
    builder: &mut tar::Builder<&mut dyn Write>,
    name: &str,
    text: &[u8],
) -> io::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(text.len() as u64);
    header.set_mode(0o644);
    header.set_mtime(0);
    builder.append_data(&mut header, name, text)
}

/// A text file read whole, refused past `limit` bytes.
fn read_bounded(path: &Path, limit: u64) -> Result<String, Failure> {
    let failed = |e: io::Error| {
        Failure::new(
            ENGINE_ERROR,
            anyhow::anyhow!("reading {}: {e}", path.display()),
        )
    };
    let mut text = String::new();
    fs::File::open(path)
        .map_err(failed)?
        .take(limit + 1)
        .read_to_string(&mut text)
        .map_err(failed)?;
    if text.len() as u64 > limit {
        return Err(usage(format!(
            "{}: longer than {limit} bytes",
            path.display()
        )));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> StreamLines<&[u8]> {
        StreamLines::new(text.as_bytes(), MAX_PROGRESS_LINE)
    }

    const ID: &str = "5f3e1cf7e1d7c9d6e5b0a4e0f7d1a2b3c4d5e6f708192a3b4c5d6e7f80912a3b";

    #[test]
    fn progress_is_printed_and_the_last_line_is_the_id() {
        let text = format!(
            "{}\n{}\n{}\n",
            json!({"stream": "STEP 1/2: FROM demo\n"}),
            json!({"stream": "hello\n"}),
            json!({"stream": format!("{ID}\n")})
        );
        let mut out = Vec::new();
        assert_eq!(follow(lines(&text), &mut out).unwrap(), ID);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "STEP 1/2: FROM demo\nhello\n"
        );
    }

    #[test]
    fn an_id_like_line_followed_by_more_is_output() {
        let text = format!(
            "{}\n{}\n",
            json!({"stream": format!("{ID}\n")}),
            json!({"stream": "done\n"})
        );
        let mut out = Vec::new();
        let err = follow(lines(&text), &mut out).unwrap_err();
        assert!(
            err.message().contains("without an image ID"),
            "{}",
            err.message()
        );
        assert_eq!(String::from_utf8(out).unwrap(), format!("{ID}\ndone\n"));
    }

    #[test]
    fn a_failed_step_exits_with_its_status_and_other_failures_with_125() {
        let step = format!(
            "{}\n{}\n",
            json!({"stream": "STEP 2/2: RUN false\n"}),
            json!({"error": "building at STEP \"RUN false\": exit status 3", "errorDetail": {"message": "x", "code": 3}})
        );
        let mut out = Vec::new();
        let err = follow(lines(&step), &mut out).unwrap_err();
        assert_eq!(err.code, 3);
        assert!(err.message().contains("RUN false"), "{}", err.message());
        let other = format!("{}\n", json!({"error": "no such image"}));
        assert_eq!(
            follow(lines(&other), &mut Vec::new()).unwrap_err().code,
            ENGINE_ERROR
        );
    }

    fn entries(context: &LocalContext) -> Vec<String> {
        let mut tar = Vec::new();
        context.write_tar(&mut tar).unwrap();
        let mut archive = tar::Archive::new(tar.as_slice());
        archive
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect()
    }

    #[test]
    fn what_the_ignore_file_leaves_out_is_not_sent_but_the_containerfile_is() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("build/keep")).unwrap();
        fs::create_dir_all(root.join("cache/deep")).unwrap();
        fs::create_dir_all(root.join("docker")).unwrap();
        for file in ["a.txt", "b.log", "build/x", "build/keep/y", "cache/deep/z"] {
            fs::write(root.join(file), "data").unwrap();
        }
        fs::write(root.join("docker/Containerfile"), "FROM demo\n").unwrap();
        fs::write(
            root.join(".dockerignore"),
            "*.log\ncache\ndocker\nbuild/x\n",
        )
        .unwrap();
        std::os::unix::fs::symlink("/etc/passwd", root.join("link")).unwrap();
        let context = LocalContext::open(root, Some(&root.join("docker/Containerfile"))).unwrap();
        assert_eq!(context.containerfile.name(), "docker/Containerfile");
        assert_eq!(
            entries(&context),
            [
                ".dockerignore",
                "a.txt",
                "build",
                "build/keep",
                "build/keep/y",
                "docker",
                "docker/Containerfile",
                "link",
            ]
        );
    }

    #[test]
    fn a_containerfile_outside_the_context_is_sent_under_a_name_of_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let context_dir = dir.path().join("context");
        fs::create_dir(&context_dir).unwrap();
        fs::write(context_dir.join("a"), "data").unwrap();
        let outside = dir.path().join("Containerfile.other");
        fs::write(&outside, "FROM demo\nCOPY a /\n").unwrap();
        let context = LocalContext::open(&context_dir, Some(&outside)).unwrap();
        let name = context.containerfile.name().to_string();
        assert!(name.starts_with(".rpod-containerfile-"), "{name}");
        // A .containerignore leaves it (and itself) out of what COPY and ADD see.
        assert_eq!(
            entries(&context),
            ["a".to_string(), name.clone(), ".containerignore".into()]
        );
        assert_eq!(
            entry_text(&context, ".containerignore"),
            format!("{name}\n.containerignore\n")
        );
        let rules = IgnoreRules::parse(&entry_text(&context, ".containerignore")).unwrap();
        assert!(rules.excludes(Path::new(&name)) && !rules.excludes(Path::new("a")));
        // The context's own ignore file gets a line for it.
        fs::write(context_dir.join(".dockerignore"), "*.log").unwrap();
        let context = LocalContext::open(&context_dir, Some(&outside)).unwrap();
        let name = context.containerfile.name().to_string();
        assert_eq!(
            entries(&context),
            ["a".to_string(), name.clone(), ".dockerignore".into()]
        );
        assert_eq!(
            entry_text(&context, ".dockerignore"),
            format!("*.log\n{name}\n")
        );
        // One the line would take past what the service reads is refused here, and sent
        // as it is when the Containerfile is the context's own.
        let padding = "# padding\n".repeat(MAX_CONTAINERFILE as usize / 10);
        fs::write(context_dir.join(".dockerignore"), &padding).unwrap();
        let Err(refused) = LocalContext::open(&context_dir, Some(&outside)) else {
            panic!("an ignore file too large for its added line was taken");
        };
        assert_eq!(refused.code, ENGINE_ERROR);
        assert!(
            refused
                .error
                .to_string()
                .contains(".dockerignore: with a line"),
            "{:#}",
            refused.error
        );
        fs::write(context_dir.join("Containerfile"), "FROM demo\n").unwrap();
        let context = LocalContext::open(&context_dir, None).unwrap();
        assert_eq!(entry_text(&context, ".dockerignore"), padding);
    }

    fn entry_text(context: &LocalContext, wanted: &str) -> String {
        let mut tar = Vec::new();
        context.write_tar(&mut tar).unwrap();
        let mut archive = tar::Archive::new(tar.as_slice());
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            if entry.path().unwrap() == Path::new(wanted) {
                let mut text = String::new();
                entry.read_to_string(&mut text).unwrap();
                return text;
            }
        }
        panic!("no {wanted} in the tar");
    }

    #[test]
    fn without_a_containerfile_the_error_says_where_it_looked() {
        let dir = tempfile::tempdir().unwrap();
        let err = LocalContext::open(dir.path(), None).err().unwrap();
        assert!(
            err.message().contains("no Containerfile or Dockerfile"),
            "{}",
            err.message()
        );
        fs::write(dir.path().join("Dockerfile"), "FROM demo\n").unwrap();
        let context = LocalContext::open(dir.path(), None).unwrap();
        assert_eq!(context.containerfile.name(), "Dockerfile");
    }
}
