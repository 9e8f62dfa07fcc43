//! Build contexts named by URL, as podman and Docker take them: a Git repository
//! (`git://...`, `git@HOST:PATH`, `github.com/...`, or an http(s) URL whose path ends in
//! `.git`; `#REF:DIR` names a branch, tag or commit and a directory in it), fetched with
//! git; or an http(s) URL of a tar archive (plain, gzip or zstd), unpacked, or of a
//! Containerfile alone (then the context holds only it). Either lands in a scratch
//! directory of rpod's, removed when the build is done.
//!
//! Both are hostile input: the archive is unpacked by the code that unpacks any context
//! tar; the repository's files are a context as any other (its links are never followed
//! out of it); the directory named in it is reached without links, the Containerfile with
//! its links followed inside the context only; git
//! runs with no terminal prompt, without the `file` and `ext` transports (a submodule
//! cannot copy the host's repositories in), and its `.git` is removed before the build
//! (as BuildKit does by default).

use std::io::{BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::{Component, Path, PathBuf};
use std::process::{Child, ChildStderr, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::add_url::download_url;
use crate::free_space::{NoSpace, SpaceGuard};
use crate::scratch::ScratchDir;
use crate::{Engine, EngineError, Result};

/// A build context named by URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteContext {
    /// A Git repository: its URL, the ref to check out (the remote's HEAD when `None`) and
    /// the directory in it that is the context (its top when `None`).
    Git {
        url: String,
        reference: Option<String>,
        dir: Option<String>,
    },
    /// An archive or a Containerfile on a web server.
    Download { url: String },
}

impl RemoteContext {
    /// The context `text` names when it is a URL; `None` for a directory. A URL of another
    /// scheme is refused (never taken for a directory).
    pub fn parse(text: &str) -> Result<Option<RemoteContext>> {
        let git_scheme = ["git://", "git@", "github.com/"]
            .iter()
            .any(|p| text.starts_with(p));
        let web = text.starts_with("http://") || text.starts_with("https://");
        if !git_scheme && !web {
            if text.contains("://") {
                return Err(EngineError::NotSupported(format!(
                    "the build context {text:?}: of URLs, http://, https:// and Git's are taken"
                )));
            }
            return Ok(None);
        }
        let (base, fragment) = text.split_once('#').unwrap_or((text, ""));
        let path = base
            .split_once("://")
            .map_or(base, |(_, rest)| rest)
            .split('?')
            .next()
            .unwrap_or("");
        if !git_scheme && !path.trim_end_matches('/').ends_with(".git") {
            return Ok(Some(RemoteContext::Download {
                url: base.to_string(),
            }));
        }
        let url = match base.strip_prefix("github.com/") {
            Some(rest) => format!("https://github.com/{rest}"),
            None => base.to_string(),
        };
        if let Some(host) = url.strip_prefix("git@") {
            // ssh's host: never an option of ssh's own.
            if host.starts_with('-') || !host.contains(':') {
                return Err(EngineError::InvalidArg(format!(
                    "the build context {text:?}: git@HOST:PATH"
                )));
            }
        }
        let (reference, dir) = match fragment.split_once(':') {
            Some((reference, dir)) => (reference, dir),
            None => (fragment, ""),
        };
        let bad_ref = reference.starts_with('-')
            || reference.contains("..")
            || reference.chars().any(|c| {
                c.is_whitespace()
                    || c.is_control()
                    || matches!(c, '~' | '^' | ':' | '?' | '*' | '[' | '\\')
            });
        if bad_ref {
            return Err(EngineError::InvalidArg(format!(
                "the build context {text:?}: {reference:?} is not a branch, tag or commit"
            )));
        }
        let dir = dir.trim_matches('/');
        if !dir.is_empty()
            && Path::new(dir)
                .components()
                .any(|c| !matches!(c, Component::Normal(_)))
        {
            return Err(EngineError::InvalidArg(format!(
                "the build context {text:?}: {dir:?} is not a directory inside the repository"
            )));
        }
        Ok(Some(RemoteContext::Git {
            url,
            reference: (!reference.is_empty()).then(|| reference.to_string()),
            dir: (!dir.is_empty()).then(|| dir.to_string()),
        }))
    }
}

/// A fetched context: its directory, kept until this is dropped.
pub struct FetchedContext {
    /// Where everything fetched is; removed on drop.
    _scratch: ScratchDir,
    /// The context directory (the repository's directory `#REF:DIR` names, or the top).
    pub dir: PathBuf,
    /// The Containerfile, when the URL was one alone.
    pub containerfile: Option<PathBuf>,
}

/// The regular file `name` in a context `dir` (a local context's default Containerfile,
/// a named one), a link on the way followed inside the context only, as if it were `/`:
/// `Dockerfile -> docker/Dockerfile.prod` is that file of the context, a link to
/// `/etc/shadow` the context's `etc/shadow`, never the host's (a cloned repository is not
/// the caller's; its Containerfile's text shows in errors). `None` when there is none.
pub fn containerfile_in_local_context(dir: &Path, name: &str) -> Result<Option<PathBuf>> {
    match crate::confined::path_in_root(dir, Path::new(name)) {
        Ok((path, stat)) => Ok((rustix::fs::FileType::from_raw_mode(stat.st_mode)
            == rustix::fs::FileType::RegularFile)
            .then_some(path)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => Ok(None),
        Err(e) => Err(EngineError::io("opening", dir.join(name), e)),
    }
}

/// The file `relative` in a fetched or streamed context `dir` (the Containerfile a client
/// names), links on the way followed inside the context only, as if it were `/` (the
/// context is not the caller's: followed on the host, a link could lead to any of its
/// files). `relative` must be a path inside, and a file there.
pub fn file_in_context(dir: &Path, relative: &str) -> Result<PathBuf> {
    let given = Path::new(relative);
    if given.is_absolute()
        || given
            .components()
            .any(|c| matches!(c, Component::ParentDir))
    {
        return Err(EngineError::InvalidArg(format!(
            "the Containerfile {relative:?}: a path inside the build context"
        )));
    }
    containerfile_in_local_context(dir, relative)?.ok_or_else(|| {
        EngineError::InvalidArg(format!(
            "the Containerfile {relative:?} is not in the build context (its links are \
             followed inside it only)"
        ))
    })
}

impl Engine {
    /// Fetch a context named by URL into a scratch directory of the store's.
    pub fn fetch_build_context(&self, remote: &RemoteContext) -> Result<FetchedContext> {
        let scratch = ScratchDir::new(&self.roots.tmp(), "build-remote-")?;
        match remote {
            RemoteContext::Git {
                url,
                reference,
                dir,
            } => {
                let top = scratch.path().join("repository");
                fetch_git(url, reference.as_deref(), &top, &self.roots.space_guard())?;
                let mut context = top.clone();
                if let Some(dir) = dir {
                    for part in Path::new(dir).components() {
                        context.push(part);
                        let meta = context.symlink_metadata();
                        if !meta.as_ref().is_ok_and(|m| m.is_dir()) {
                            return Err(EngineError::InvalidArg(format!(
                                "the build context {url}#{}:{dir}: {dir:?} is no directory of the repository (links are not followed)",
                                reference.as_deref().unwrap_or("")
                            )));
                        }
                    }
                }
                Ok(FetchedContext {
                    _scratch: scratch,
                    dir: context,
                    containerfile: None,
                })
            }
            RemoteContext::Download { url } => {
                let failed = |what: String| {
                    EngineError::InvalidArg(format!("the build context {url}: {what}"))
                };
                let fetched = download_url(self, url, &failed)?;
                self.context_from_stream(scratch, fetched.file, url)
            }
        }
    }

    /// A build context given as a stream (`build -`, as podman and Docker take one on
    /// standard input): a tar archive (plain, gzip or zstd), unpacked, or a Containerfile
    /// alone, in an empty context. Hostile input: unpacked as any tar is
    /// (`scratch::unpack_tar`), within the store's free-space reserve.
    pub fn build_context_from_stream(&self, input: impl Read) -> Result<FetchedContext> {
        let scratch = ScratchDir::new(&self.roots.tmp(), "build-stdin-")?;
        self.context_from_stream(scratch, input, "-")
    }

    /// `build_context_from_stream` into `scratch`; `origin` names the stream in errors.
    fn context_from_stream(
        &self,
        scratch: ScratchDir,
        mut input: impl Read,
        origin: &str,
    ) -> Result<FetchedContext> {
        let failed =
            |what: String| EngineError::InvalidArg(format!("the build context {origin}: {what}"));
        let dir = scratch.path().join("context");
        std::fs::create_dir(&dir).map_err(|e| EngineError::io("creating directory", &dir, e))?;
        // A tar's header is told by its first block, read whole: a pipe may give less at
        // a time.
        let mut head = Vec::with_capacity(512);
        (&mut input)
            .take(512)
            .read_to_end(&mut head)
            .map_err(|e| EngineError::io("reading", Path::new(origin), e))?;
        let kind = ArchiveKind::of(&head);
        let body = BufReader::new(std::io::Cursor::new(head).chain(input));
        let space = self.roots.space_guard();
        let what = "the build context";
        let containerfile = match kind {
            ArchiveKind::Compressed => {
                let body = crate::image::compression::decompressed(body)
                    .map_err(|e| failed(e.to_string()))?;
                crate::scratch::unpack_tar(body, &dir, what, false, &space)?;
                None
            }
            ArchiveKind::Tar => {
                crate::scratch::unpack_tar(body, &dir, what, false, &space)?;
                None
            }
            ArchiveKind::Text => {
                // A Containerfile alone (Docker names it so in an empty context).
                let path = dir.join("Dockerfile");
                let mut file = std::fs::File::create(&path)
                    .map_err(|e| EngineError::io("creating", &path, e))?;
                std::io::copy(
                    &mut body.take(crate::containerfile::MAX_CONTAINERFILE + 1),
                    &mut file,
                )
                .map_err(|e| EngineError::io("writing", &path, e))?;
                Some(path)
            }
        };
        Ok(FetchedContext {
            _scratch: scratch,
            dir,
            containerfile,
        })
    }
}

/// What a download is, by its first bytes.
#[derive(Debug, PartialEq, Eq)]
enum ArchiveKind {
    /// gzip, zstd, bzip2 or xz (a compressed tar, as Docker's and podman's builds take it).
    Compressed,
    Tar,
    /// Anything else: a Containerfile.
    Text,
}

impl ArchiveKind {
    fn of(head: &[u8]) -> ArchiveKind {
        use crate::image::compression::{is_bzip2, is_gzip, is_xz, is_zstd};
        if is_gzip(head) || is_zstd(head) || is_bzip2(head) || is_xz(head) {
            ArchiveKind::Compressed
        } else if head.get(257..262) == Some(b"ustar") {
            ArchiveKind::Tar
        } else {
            ArchiveKind::Text
        }
    }
}

/// Check out `reference` (the remote's HEAD when `None`) of the repository at `url` into
/// `top`, with its submodules, and remove its `.git`. A shallow fetch first; a server that
/// cannot serve one (a commit it does not advertise, git's "dumb" HTTP) gets a full one.
/// Progress is asked for (`--progress`, which `-q` does not silence) so that a transfer or
/// checkout that moves is told from one that stalls.
fn fetch_git(url: &str, reference: Option<&str>, top: &Path, space: &SpaceGuard) -> Result<()> {
    std::fs::create_dir(top).map_err(|e| EngineError::io("creating directory", top, e))?;
    git(top, &["init", "-q"], space)?;
    git(top, &["remote", "add", "origin", url], space)?;
    let wanted = reference.unwrap_or("HEAD");
    let shallow = [
        "fetch",
        "-q",
        "--progress",
        "--depth",
        "1",
        "origin",
        wanted,
    ];
    match git(top, &shallow, space) {
        Ok(()) => {}
        // Out of space is not a server's limit: a full fetch would need more.
        Err(e @ EngineError::NoSpace(_)) => return Err(e),
        Err(_) => git(top, &["fetch", "-q", "--progress", "origin", wanted], space)?,
    }
    git(top, &["checkout", "-q", "--progress", "FETCH_HEAD"], space)?;
    if top.join(".gitmodules").is_file() {
        git(
            top,
            &[
                "submodule",
                "update",
                "-q",
                "--progress",
                "--init",
                "--recursive",
                "--depth",
                "1",
            ],
            space,
        )?;
    }
    let dot_git = top.join(".git");
    std::fs::remove_dir_all(&dot_git).map_err(|e| EngineError::io("removing", &dot_git, e))
}

/// How long git may run without a word (its progress included) before it is given up: a
/// server that accepts the connection and sends nothing (`git://` has no low-speed limit of
/// its own) must not hold the build for ever.
const GIT_STALL: Duration = Duration::from_secs(60);

/// How often a running git's writes are held against the store's free-space reserve: git
/// writes the repository itself, so no copy of rpod's can count its bytes.
const GIT_SPACE_EVERY: Duration = Duration::from_millis(250);

/// Run git in `dir` with rpod's safeguards; its error with the end of what it said. No
/// prompt waits for a terminal (ssh's included), an HTTP transfer slower than a byte a
/// second for a minute is given up, and so is any git that says nothing for [`GIT_STALL`]
/// (its progress is asked for) or leaves less than the reserve free in `space`'s file
/// system: a repository is as large as whoever serves it wants.
fn git(dir: &Path, args: &[&str], space: &SpaceGuard) -> Result<()> {
    let mut command = Command::new("git");
    if std::env::var_os("GIT_SSH_COMMAND").is_none() {
        command.env("GIT_SSH_COMMAND", "ssh -o BatchMode=yes");
    }
    command
        .args([
            "-c",
            "protocol.file.allow=never",
            "-c",
            "protocol.ext.allow=never",
            "-c",
            "core.hooksPath=/dev/null",
            "-c",
            "advice.detachedHead=false",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_HTTP_LOW_SPEED_LIMIT", "1")
        .env("GIT_HTTP_LOW_SPEED_TIME", "60");
    let what = format!("git {}", args.join(" "));
    let watch = Watch {
        stall: GIT_STALL,
        space_every: GIT_SPACE_EVERY,
    };
    // Checked before git starts too: the watch's first look comes once it runs, by when
    // a quick command may have written already.
    let ended = match space.check(0) {
        Err(no_space) => Ok(Ended::NoSpace(no_space)),
        Ok(()) => watch.run(command, space),
    };
    match ended {
        Ok(Ended::Status(status, _)) if status.success() => Ok(()),
        Ok(Ended::Status(_, said)) => Err(EngineError::InvalidArg(format!(
            "{what}: {}",
            last_lines(&said, 5)
        ))),
        Ok(Ended::Stalled(said)) => Err(EngineError::InvalidArg(format!(
            "{what}: given up after {} s without progress: {}",
            watch.stall.as_secs(),
            last_lines(&said, 2)
        ))),
        // Named by the repository's directory, which git was filling.
        Ok(Ended::NoSpace(no_space)) => Err(EngineError::NoSpace(NoSpace {
            path: dir.to_path_buf(),
            ..no_space
        })),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(EngineError::NotSupported(
            format!("a Git build context needs git, which could not be run: {e}"),
        )),
        Err(e) => Err(EngineError::io("running", Path::new("git"), e)),
    }
}

/// The last `count` lines of what a program said, each as a terminal would have left it
/// (git redraws its progress after carriage returns).
fn last_lines(said: &[u8], count: usize) -> String {
    let said = String::from_utf8_lossy(said);
    let lines: Vec<&str> = said
        .lines()
        .map(|line| {
            line.rsplit('\r')
                .find(|part| !part.trim().is_empty())
                .unwrap_or("")
        })
        .filter(|line| !line.trim().is_empty())
        .collect();
    lines[lines.len().saturating_sub(count)..].join("\n")
}

/// How a watched program ended.
#[derive(Debug)]
enum Ended {
    /// By itself: its status and the end of what it said on stderr.
    Status(ExitStatus, Vec<u8>),
    /// Killed after saying nothing for the stall time (what it said before).
    Stalled(Vec<u8>),
    /// Killed when its file system's free space fell under the reserve.
    NoSpace(NoSpace),
}

/// A program run with its stderr read, killed (with its whole process group: git runs
/// helpers of its own) when it says nothing for `stall` or the guarded file system's free
/// space falls under the reserve, looked at every `space_every`.
#[derive(Debug, Clone, Copy)]
struct Watch {
    stall: Duration,
    space_every: Duration,
}

/// How much of a program's stderr is kept for its error message.
const SAID_KEPT: usize = 16 << 10;

impl Watch {
    fn run(&self, mut command: Command, space: &SpaceGuard) -> std::io::Result<Ended> {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()?;
        let Some(stderr) = child.stderr.take() else {
            return Err(std::io::Error::other("the program's stderr was not piped"));
        };
        let ended = self.watch(&mut child, stderr, space);
        if !matches!(ended, Ok(Ended::Status(..))) {
            // The group's id is the child's pid (`process_group(0)`); it is not reaped yet,
            // so the id is still its.
            let group = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
            let _ = child.wait();
        }
        ended
    }

    fn watch(
        &self,
        child: &mut Child,
        mut stderr: ChildStderr,
        space: &SpaceGuard,
    ) -> std::io::Result<Ended> {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        use std::os::fd::AsFd;
        let mut said = Vec::new();
        let mut chunk = [0u8; 4096];
        let mut last_word = Instant::now();
        loop {
            if let Err(no_space) = space.check(0) {
                return Ok(Ended::NoSpace(no_space));
            }
            let quiet = last_word.elapsed();
            if quiet >= self.stall {
                return Ok(Ended::Stalled(said));
            }
            let wait = self.space_every.min(self.stall - quiet);
            let wait = PollTimeout::try_from(wait).unwrap_or(PollTimeout::MAX);
            let mut fds = [PollFd::new(stderr.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, wait) {
                Ok(0) => continue,
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
            // Readable or hung up: this read does not block.
            let read = match stderr.read(&mut chunk) {
                Ok(read) => read,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if read == 0 {
                // Its stderr is closed: it has ended, or will at once (a helper that kept
                // the pipe open would not hold it: the group is killed below if it did).
                return Ok(Ended::Status(child.wait()?, said));
            }
            last_word = Instant::now();
            said.extend_from_slice(&chunk[..read]);
            if said.len() > SAID_KEPT {
                said.drain(..said.len() - SAID_KEPT);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn git(url: &str, reference: Option<&str>, dir: Option<&str>) -> RemoteContext {
        RemoteContext::Git {
            url: url.into(),
            reference: reference.map(String::from),
            dir: dir.map(String::from),
        }
    }

    /// Git URLs as Docker tells them (a scheme, `git@`, `github.com/`, a path ending in
    /// `.git`), with `#REF:DIR`; other http(s) URLs are downloads; a path is a directory.
    #[test]
    fn urls_are_git_repositories_or_downloads() {
        let parse = |text: &str| RemoteContext::parse(text).unwrap();
        assert_eq!(parse("."), None);
        assert_eq!(parse("/srv/app"), None);
        assert_eq!(
            parse("https://example.com/app.git#v1:web"),
            Some(git("https://example.com/app.git", Some("v1"), Some("web")))
        );
        assert_eq!(
            parse("git://127.0.0.1:9418/app#main"),
            Some(git("git://127.0.0.1:9418/app", Some("main"), None))
        );
        assert_eq!(
            parse("github.com/team/app#:sub/dir/"),
            Some(git("https://github.com/team/app", None, Some("sub/dir")))
        );
        // A directory is always the repository's.
        assert_eq!(
            parse("git://h/app#v1:/etc"),
            Some(git("git://h/app", Some("v1"), Some("etc")))
        );
        assert_eq!(
            parse("git@example.com:team/app.git"),
            Some(git("git@example.com:team/app.git", None, None))
        );
        assert_eq!(
            parse("https://example.com/ctx.tar.gz"),
            Some(RemoteContext::Download {
                url: "https://example.com/ctx.tar.gz".into()
            })
        );
        for bad in [
            "git://h/app#--upload-pack=x",
            "git://h/app#a..b",
            "git://h/app#v1:../../etc",
            "git@-oProxyCommand=x:app",
        ] {
            assert!(
                matches!(RemoteContext::parse(bad), Err(EngineError::InvalidArg(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            RemoteContext::parse("ftp://h/ctx.tar"),
            Err(EngineError::NotSupported(_))
        ));
    }

    /// Archives by their magic; anything else is a Containerfile.
    #[test]
    fn downloads_are_told_by_their_first_bytes() {
        let mut tar = vec![0u8; 512];
        tar[257..262].copy_from_slice(b"ustar");
        assert_eq!(ArchiveKind::of(&tar), ArchiveKind::Tar);
        for compressed in [
            &[0x1f, 0x8b, 8][..],
            &[0x28, 0xb5, 0x2f, 0xfd],
            b"BZh91AY&SY\0\0",
            &[0xfd, b'7', b'z', b'X', b'Z', 0],
        ] {
            assert_eq!(ArchiveKind::of(compressed), ArchiveKind::Compressed);
        }
        // A Containerfile that starts as bzip2's magic does is none.
        assert_eq!(
            ArchiveKind::of(b"BZh9 is no instruction\n"),
            ArchiveKind::Text
        );
        assert_eq!(ArchiveKind::of(b"FROM demo\nRUN true\n"), ArchiveKind::Text);
        assert_eq!(ArchiveKind::of(b""), ArchiveKind::Text);
    }

    /// The Containerfile named in a context is reached inside it only (links followed there).
    #[test]
    fn a_containerfile_in_a_context_is_reached_inside_it_only() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/Containerfile"), "FROM demo\n").unwrap();
        std::os::unix::fs::symlink("/etc", dir.path().join("etc")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("Dockerfile")).unwrap();
        std::os::unix::fs::symlink("sub/Containerfile", dir.path().join("linked")).unwrap();
        let top = std::fs::canonicalize(dir.path()).unwrap();
        // A link inside the context is followed there.
        for name in ["sub/Containerfile", "linked"] {
            assert_eq!(
                file_in_context(dir.path(), name).unwrap(),
                top.join("sub/Containerfile"),
                "{name}"
            );
        }
        // The host's files are not the context's; a directory is no Containerfile.
        for bad in [
            "etc/passwd",
            "Dockerfile",
            "../x",
            "/etc/passwd",
            "sub",
            "nope",
        ] {
            assert!(file_in_context(dir.path(), bad).is_err(), "{bad}");
        }
    }

    /// A local context's default Containerfile: a link followed inside the context only.
    #[test]
    fn a_local_containerfile_link_is_followed_inside_the_context_only() {
        let dir = tempfile::tempdir().unwrap();
        let top = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::create_dir(top.join("docker")).unwrap();
        std::fs::write(top.join("docker/Dockerfile.prod"), "FROM demo\n").unwrap();
        std::os::unix::fs::symlink("docker/Dockerfile.prod", top.join("Dockerfile")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", top.join("Containerfile")).unwrap();
        assert_eq!(
            containerfile_in_local_context(&top, "Dockerfile").unwrap(),
            Some(top.join("docker/Dockerfile.prod"))
        );
        // The host's /etc/passwd is not the context's: none there.
        assert_eq!(
            containerfile_in_local_context(&top, "Containerfile").unwrap(),
            None
        );
        std::fs::create_dir(top.join("etc")).unwrap();
        std::fs::write(top.join("etc/passwd"), "FROM demo\n").unwrap();
        assert_eq!(
            containerfile_in_local_context(&top, "Containerfile").unwrap(),
            Some(top.join("etc/passwd"))
        );
        // Missing, or a directory: none.
        assert_eq!(containerfile_in_local_context(&top, "Nope").unwrap(), None);
        assert_eq!(
            containerfile_in_local_context(&top, "docker").unwrap(),
            None
        );
    }

    fn shell(script: &str) -> Command {
        let mut command = Command::new("sh");
        command.args(["-c", script]);
        command
    }

    fn roomy(dir: &Path) -> SpaceGuard {
        SpaceGuard::new(dir, crate::free_space::KeepFree::Bytes(0))
    }

    /// A reserve no file system has free.
    fn full(dir: &Path) -> SpaceGuard {
        SpaceGuard::new(dir, crate::free_space::KeepFree::Bytes(u64::MAX / 4))
    }

    const QUICK: Watch = Watch {
        stall: Duration::from_millis(400),
        space_every: Duration::from_millis(50),
    };

    /// Waits (up to 10 s) for the process whose pid `file` holds to be gone. An empty file:
    /// the shell was killed between making it and writing the pid, when the helper (of
    /// its process group) was killed with it.
    fn gone(file: &Path) -> bool {
        let pid = std::fs::read_to_string(file).unwrap();
        if pid.trim().is_empty() {
            return true;
        }
        let proc_dir = PathBuf::from(format!("/proc/{}", pid.trim()));
        for _ in 0..200 {
            if !proc_dir.exists() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// A program that says nothing is given up after the stall time, with the helpers it
    /// started (its whole process group).
    #[test]
    fn a_silent_program_is_killed_with_its_helpers() {
        let dir = tempfile::tempdir().unwrap();
        let pid = dir.path().join("helper.pid");
        let script = format!(
            "echo starting >&2; sleep 30 & echo $! > {}; wait",
            pid.display()
        );
        let ended = QUICK.run(shell(&script), &roomy(dir.path())).unwrap();
        match ended {
            Ended::Stalled(said) => assert_eq!(said, b"starting\n"),
            other => panic!("{other:?}"),
        }
        assert!(gone(&pid), "the helper still runs");
    }

    /// Progress is a word: a program that keeps talking runs past the stall time.
    #[test]
    fn a_program_that_reports_progress_runs_on() {
        let dir = tempfile::tempdir().unwrap();
        let script =
            "for i in 1 2 3 4 5 6 7 8; do printf '%s%%\\r' $i >&2; sleep 0.1; done; exit 3";
        match QUICK.run(shell(script), &roomy(dir.path())).unwrap() {
            Ended::Status(status, said) => {
                assert_eq!(status.code(), Some(3));
                assert_eq!(last_lines(&said, 2), "8%");
            }
            other => panic!("{other:?}"),
        }
    }

    /// A program writing while the free space is under the reserve is stopped, helpers too.
    #[test]
    fn a_program_is_stopped_at_the_free_space_reserve() {
        let dir = tempfile::tempdir().unwrap();
        let pid = dir.path().join("helper.pid");
        let script = format!(
            "sleep 30 & echo $! > {}; while :; do echo writing >&2; sleep 0.05; done",
            pid.display()
        );
        match QUICK.run(shell(&script), &full(dir.path())).unwrap() {
            Ended::NoSpace(no_space) => assert!(no_space.to_string().contains("keep_free")),
            other => panic!("{other:?}"),
        }
        // The reserve may be found short before the helper is started: then there is none.
        assert!(!pid.exists() || gone(&pid), "the helper still runs");
    }

    /// rpod's git runs under the watch: with the reserve short, not even `git init` runs;
    /// what git said is kept to its last lines as a terminal showed them.
    #[test]
    fn git_runs_within_the_reserve() {
        let dir = tempfile::tempdir().unwrap();
        let refused = super::git(dir.path(), &["init", "-q"], &full(dir.path()));
        assert!(
            matches!(refused, Err(EngineError::NoSpace(_))),
            "{refused:?}"
        );
        assert!(!dir.path().join(".git").exists());
        super::git(dir.path(), &["init", "-q"], &roomy(dir.path())).unwrap();
        assert!(dir.path().join(".git").is_dir());
        let err = super::git(
            dir.path(),
            &["checkout", "-q", "no-such-ref"],
            &roomy(dir.path()),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("git checkout -q no-such-ref: ") && err.contains("no-such-ref"),
            "{err}"
        );
        assert_eq!(last_lines(b"a\r b\r\nc\n\n", 5), " b\nc");
    }
}
