//! The service loop: accept connections, one thread each, until a signal or the idle limit;
//! then stop accepting, remove the socket, and give open requests a grace period.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use rpod_engine::Engine;

use crate::execs::ExecRegistry;
use crate::http::{head, Connection};
use crate::listen::Listener;

/// How long a connection may sit between requests.
const IDLE_CONNECTION: Duration = Duration::from_secs(120);
/// How long a closing connection waits for the client's last bytes (see `linger_close`).
const LINGER: Duration = Duration::from_secs(2);
/// Connections served at once; more are answered 503.
const MAX_CONNECTIONS: usize = 2048;
/// A connection thread's stack: handlers keep their buffers on the heap.
const CONNECTION_STACK: usize = 512 * 1024;

pub struct ServiceOptions {
    pub listener: Listener,
    /// Exit after this long with no open connection; `None` serves until stopped.
    pub idle_exit: Option<Duration>,
    /// How long open requests may go on once the service is asked to stop.
    pub grace: Duration,
    /// TLS on every connection (a TCP listener only).
    pub tls: Option<crate::tls::Tls>,
    /// `--cors ORIGIN`: the origin browsers may call the service from (`http::set_cors`).
    pub cors: Option<String>,
}

/// What every request handler shares.
pub struct Context {
    pub engine: Arc<Engine>,
    pub execs: ExecRegistry,
    /// Readable (hung up) once the service stops: idle connections end.
    pub stop: OwnedFd,
}

/// Counts open connections and remembers when the last one ended.
struct Activity {
    open: AtomicUsize,
    last_end: Mutex<Instant>,
}

impl Activity {
    fn idle_for(&self) -> Option<Duration> {
        if self.open.load(Ordering::SeqCst) > 0 {
            return None;
        }
        self.last_end.lock().ok().map(|t| t.elapsed())
    }
}

/// Decrements the open count when a connection thread ends, however it ends.
struct OpenGuard(Arc<Activity>);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        if let Ok(mut last) = self.0.last_end.lock() {
            *last = Instant::now();
        }
        self.0.open.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Serve until SIGTERM or SIGINT, or until idle for `idle_exit`.
pub fn serve(engine: Arc<Engine>, options: ServiceOptions) -> Result<(), String> {
    // A client that goes away must not kill the service with SIGPIPE.
    #[allow(unsafe_code)]
    // SAFETY: ignoring a signal installs no handler code.
    unsafe {
        let _ = nix::sys::signal::signal(
            nix::sys::signal::Signal::SIGPIPE,
            nix::sys::signal::SigHandler::SigIgn,
        );
    }
    let (signal_read, signal_write) = std::os::unix::net::UnixStream::pair()
        .map_err(|e| format!("creating the signal pipe: {e}"))?;
    for signal in [libc::SIGTERM, libc::SIGINT] {
        let write = signal_write
            .try_clone()
            .map_err(|e| format!("creating the signal pipe: {e}"))?;
        signal_hook::low_level::pipe::register(signal, write)
            .map_err(|e| format!("handling signal {signal}: {e}"))?;
    }
    let (stop_read, stop_write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| format!("creating the stop pipe: {e}"))?;
    let context = Arc::new(Context {
        engine,
        execs: ExecRegistry::default(),
        stop: stop_read,
    });
    if let Some(origin) = &options.cors {
        crate::http::set_cors(origin)?;
    }
    let listener = options.listener;
    listener
        .set_nonblocking()
        .map_err(|e| format!("setting up the listener: {e}"))?;
    let activity = Arc::new(Activity {
        open: AtomicUsize::new(0),
        last_end: Mutex::new(Instant::now()),
    });
    loop {
        let timeout = match (options.idle_exit, activity.idle_for()) {
            (Some(limit), Some(idle)) if idle >= limit => {
                tracing::info!("no connection for {limit:?}: stopping");
                break;
            }
            (Some(limit), Some(idle)) => limit - idle,
            // Busy: check again now and then whether it became idle.
            (Some(_), None) => Duration::from_millis(500),
            (None, _) => Duration::from_secs(3600),
        };
        let timeout = PollTimeout::try_from(timeout).unwrap_or(PollTimeout::MAX);
        let mut fds = [
            PollFd::new(listener.fd(), PollFlags::POLLIN),
            PollFd::new(signal_read.as_fd(), PollFlags::POLLIN),
        ];
        match poll(&mut fds, timeout) {
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(format!("waiting for connections: {e}")),
        }
        if fds[1].revents().is_some_and(|r| !r.is_empty()) {
            tracing::info!("signalled: stopping");
            break;
        }
        if fds[0].revents().is_none_or(|r| r.is_empty()) {
            continue;
        }
        let fd = match listener.accept() {
            Ok(fd) => fd,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) => {
                tracing::warn!("accepting a connection: {e}");
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        if activity.open.load(Ordering::SeqCst) >= MAX_CONNECTIONS {
            if options.tls.is_some() {
                // A TLS client could not read a plain answer.
                continue;
            }
            let conn = Connection::new(fd);
            let body = br#"{"message":"too many connections, try again"}"#;
            let mut out = head(
                503,
                &[
                    ("Content-Type", "application/json".into()),
                    ("Content-Length", body.len().to_string()),
                    ("Connection", "close".into()),
                ],
            );
            out.extend_from_slice(body);
            let _ = conn.write_all(&out);
            continue;
        }
        activity.open.fetch_add(1, Ordering::SeqCst);
        let guard = OpenGuard(activity.clone());
        let context = context.clone();
        let tls = options.tls.clone();
        let spawned = std::thread::Builder::new()
            .name("api-conn".into())
            .stack_size(CONNECTION_STACK)
            .spawn(move || {
                let _guard = guard;
                let fd = match tls {
                    Some(tls) => match tls.terminate(fd) {
                        Ok(plain) => plain,
                        Err(e) => {
                            tracing::warn!("starting a TLS connection: {e}");
                            return;
                        }
                    },
                    None => fd,
                };
                serve_connection(&context, fd);
            });
        if let Err(e) = spawned {
            tracing::warn!("starting a connection thread: {e}");
        }
    }
    // Stop: no new connections, the socket file goes, idle connections end at once.
    drop(listener);
    drop(stop_write);
    let deadline = Instant::now() + options.grace;
    while activity.open.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let left = activity.open.load(Ordering::SeqCst);
    if left > 0 {
        tracing::warn!("{left} connection(s) still open after the grace period; leaving them");
    }
    Ok(())
}

/// Serve the requests of one connection until it closes, idles out, or is taken over.
pub fn serve_connection(context: &Context, fd: OwnedFd) {
    let mut conn = Connection::new(fd);
    loop {
        match conn.next_request(IDLE_CONNECTION, context.stop.as_fd()) {
            Ok(Some(request)) => {
                if !crate::router::handle(context, request, &mut conn) {
                    break;
                }
            }
            Ok(None) => break,
            Err(e) => {
                if !matches!(e, crate::http::HttpError::Io(_)) {
                    let body = serde_json::json!({ "message": e.to_string() }).to_string();
                    let mut out = head(
                        e.status(),
                        &[
                            ("Content-Type", "application/json".into()),
                            ("Content-Length", body.len().to_string()),
                            ("Connection", "close".into()),
                        ],
                    );
                    out.extend_from_slice(body.as_bytes());
                    let _ = conn.write_all(&out);
                }
                break;
            }
        }
    }
    conn.linger_close(LINGER);
}
