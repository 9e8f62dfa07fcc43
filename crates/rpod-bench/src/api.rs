//! REST service scenarios: rpod's service beside podman's, both on unix sockets of the
//! benchmark's work directory, driven by a minimal HTTP client (a connection per request,
//! as the docker CLI makes them).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::env::{Contender, Env, IMAGE};
use crate::scenarios::{drain, finish};
use crate::stats::summarize;
use crate::{Options, Scenario};

/// A running service; stopped when dropped.
struct Service {
    child: Child,
    socket: PathBuf,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let _ = self.child.wait();
    }
}

fn start_service(env: &Env, contender: Contender) -> Result<Service> {
    let socket = env.work.path().join(format!("{contender:?}-api.sock"));
    let uri = format!("unix://{}", socket.display());
    let child = env
        .engine(contender, &["system", "service", "--time", "0", &uri])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let service = Service { child, socket };
    let deadline = Instant::now() + Duration::from_secs(20);
    while UnixStream::connect(&service.socket).is_err() {
        if Instant::now() > deadline {
            bail!("the {contender:?} service did not come up");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(service)
}

/// One request on a new connection; the status and the whole body.
fn request(
    socket: &Path,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> Result<(u16, Vec<u8>)> {
    let mut conn = UnixStream::connect(socket)?;
    let payload = body.map(|b| b.to_string()).unwrap_or_default();
    write!(
        conn,
        "{method} {path} HTTP/1.1\r\nHost: d\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{payload}",
        payload.len()
    )?;
    let mut answer = Vec::new();
    conn.read_to_end(&mut answer)?;
    let end = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("no response head")?;
    let head = String::from_utf8_lossy(&answer[..end]).to_ascii_lowercase();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("no status")?;
    let mut body = answer[end + 4..].to_vec();
    if head.contains("transfer-encoding: chunked") {
        body = dechunk(&body);
    }
    Ok((status, body))
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = data.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&data[..line_end])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next().unwrap_or(""), 16).ok())
            .unwrap_or(0);
        data = &data[line_end + 2..];
        if size == 0 || data.len() < size {
            break;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[(size + 2).min(data.len())..];
    }
    out
}

fn expect(
    socket: &Path,
    method: &str,
    path: &str,
    body: Option<&Value>,
    want: &[u16],
) -> Result<Vec<u8>> {
    let (status, answer) = request(socket, method, path, body)?;
    if !want.contains(&status) {
        bail!(
            "{method} {path}: {status} {}",
            String::from_utf8_lossy(&answer)
        );
    }
    Ok(answer)
}

/// The create body for a contender: podman needs this host's limits and no network.
fn create_body(contender: Contender, cmd: &[&str]) -> Value {
    let mut body = json!({ "Image": IMAGE, "Cmd": cmd });
    if contender == Contender::Podman {
        body["HostConfig"] = json!({
            "NetworkMode": "none",
            "Ulimits": [
                { "Name": "nofile", "Soft": 1024, "Hard": 1024 },
                { "Name": "nproc", "Soft": 1024, "Hard": 1024 },
            ],
        });
    }
    body
}

fn create(socket: &Path, contender: Contender, cmd: &[&str]) -> Result<String> {
    let body = create_body(contender, cmd);
    let answer = expect(
        socket,
        "POST",
        "/v1.41/containers/create",
        Some(&body),
        &[201],
    )?;
    let value: Value = serde_json::from_slice(&answer)?;
    value["Id"].as_str().map(String::from).context("no Id")
}

fn start_container(socket: &Path, id: &str) -> Result<()> {
    let path = format!("/v1.41/containers/{id}/start");
    expect(socket, "POST", &path, None, &[204]).map(drop)
}

fn services(env: &Env) -> Result<Vec<(Contender, Service)>> {
    env.contenders(false)
        .into_iter()
        .map(|c| Ok((c, start_service(env, c)?)))
        .collect()
}

/// A. create, start, wait, remove over the API.
pub fn lifecycle(env: &Env, options: &Options) -> Result<Scenario> {
    eprintln!("API create+start+wait+remove ...");
    let services = services(env)?;
    let mut samples: BTreeMap<Contender, Vec<f64>> = BTreeMap::new();
    for _ in 0..options.runs {
        for (c, service) in &services {
            let socket = &service.socket;
            let start = Instant::now();
            let id = create(socket, *c, &["true"])?;
            start_container(socket, &id)?;
            let waited = expect(
                socket,
                "POST",
                &format!("/v1.41/containers/{id}/wait"),
                None,
                &[200],
            )?;
            expect(
                socket,
                "DELETE",
                &format!("/v1.41/containers/{id}"),
                None,
                &[204],
            )?;
            samples
                .entry(*c)
                .or_default()
                .push(start.elapsed().as_secs_f64() * 1000.0);
            let status: Value = serde_json::from_slice(&waited)?;
            if status["StatusCode"] != 0 {
                bail!("{c:?}: wait answered {status}");
            }
        }
    }
    Ok(finish(
        Scenario::new("API create+start+wait+remove", "ms"),
        samples,
    ))
}

/// B. `GET /containers/json?all=1` with many containers.
pub fn list(env: &Env, options: &Options) -> Result<Scenario> {
    let services = services(env)?;
    for (c, service) in &services {
        eprintln!(
            "API: creating {} containers ({c:?}) ...",
            options.ps_containers
        );
        let per_thread = options.ps_containers.div_ceil(4);
        std::thread::scope(|scope| -> Result<()> {
            let handles: Vec<_> = (0..4)
                .map(|t| {
                    let socket = service.socket.clone();
                    scope.spawn(move || -> Result<()> {
                        let count =
                            per_thread.min(options.ps_containers.saturating_sub(t * per_thread));
                        for _ in 0..count {
                            create(&socket, *c, &["true"])?;
                        }
                        Ok(())
                    })
                })
                .collect();
            for handle in handles {
                handle
                    .join()
                    .map_err(|_| anyhow::anyhow!("creator panicked"))??;
            }
            Ok(())
        })?;
    }
    eprintln!("API GET /containers/json ...");
    let mut samples: BTreeMap<Contender, Vec<f64>> = BTreeMap::new();
    let mut notes = Vec::new();
    for _ in 0..options.runs {
        for (c, service) in &services {
            let start = Instant::now();
            let answer = expect(
                &service.socket,
                "GET",
                "/v1.41/containers/json?all=1",
                None,
                &[200],
            )?;
            samples
                .entry(*c)
                .or_default()
                .push(start.elapsed().as_secs_f64() * 1000.0);
            let listed = serde_json::from_slice::<Value>(&answer)?
                .as_array()
                .map(|a| a.len())
                .unwrap_or(0);
            if listed != options.ps_containers {
                notes.push(format!(
                    "{c:?} listed {listed} of {}",
                    options.ps_containers
                ));
            }
        }
    }
    for c in env.contenders(false) {
        let _ = crate::env::run_quiet(&mut env.engine(c, &["rm", "-a", "-f"]));
    }
    let mut scenario = finish(
        Scenario::new(
            &format!(
                "API GET /containers/json, {} containers",
                options.ps_containers
            ),
            "ms",
        ),
        samples,
    );
    notes.dedup();
    scenario.notes = notes;
    Ok(scenario)
}

/// Attach over HTTP, start, and count the payload of every frame until the stream ends.
fn attach_and_drain(socket: &Path, id: &str) -> Result<u64> {
    let mut conn = UnixStream::connect(socket)?;
    write!(
        conn,
        "POST /v1.41/containers/{id}/attach?stream=1&stdout=1&stderr=1 HTTP/1.1\r\nHost: d\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n"
    )?;
    // The head, byte by byte: what follows it is the stream.
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if conn.read(&mut byte)? == 0 {
            bail!("the attach ended in its head");
        }
        head.push(byte[0]);
    }
    if !head.starts_with(b"HTTP/1.1 101") && !head.starts_with(b"HTTP/1.1 200") {
        bail!("attach: {}", String::from_utf8_lossy(&head));
    }
    start_container(socket, id)?;
    let mut reader = std::io::BufReader::with_capacity(1 << 20, conn);
    let mut header = [0u8; 8];
    let mut buffer = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        match reader.read_exact(&mut header) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(e.into()),
        }
        let mut left = u32::from_be_bytes([header[4], header[5], header[6], header[7]]) as usize;
        while left > 0 {
            let want = left.min(buffer.len());
            let n = reader.read(&mut buffer[..want])?;
            if n == 0 {
                bail!("the stream ended inside a frame");
            }
            left -= n;
            total += n as u64;
        }
    }
    Ok(total)
}

/// C. A large stdout through an HTTP attach, beside rpod's CLI attach path (`run` into a
/// pipe).
pub fn attach(env: &Env, options: &Options) -> Result<Vec<Scenario>> {
    let script = format!(
        "dd if=/dev/zero bs=1048576 count={} 2>/dev/null",
        options.output_bytes.div_ceil(1 << 20)
    );
    let services = services(env)?;
    eprintln!("{} bytes through an HTTP attach ...", options.output_bytes);
    let mut http: BTreeMap<Contender, Vec<f64>> = BTreeMap::new();
    let mut cli: Vec<f64> = Vec::new();
    let mut notes = Vec::new();
    for _ in 0..options.slow_runs {
        for (c, service) in &services {
            let id = create(&service.socket, *c, &["sh", "-c", &script])?;
            let start = Instant::now();
            let bytes = attach_and_drain(&service.socket, &id)?;
            http.entry(*c)
                .or_default()
                .push(start.elapsed().as_secs_f64() * 1000.0);
            if bytes != options.output_bytes {
                notes.push(format!(
                    "{c:?} delivered {bytes} of {} bytes",
                    options.output_bytes
                ));
            }
            expect(
                &service.socket,
                "DELETE",
                &format!("/v1.41/containers/{id}?force=1"),
                None,
                &[204],
            )?;
        }
        let (ms, bytes) = drain(&mut env.rpod(&["run", "--rm", IMAGE, "sh", "-c", &script]))?;
        cli.push(ms);
        if bytes != options.output_bytes {
            notes.push(format!("the CLI delivered {bytes} bytes"));
        }
    }
    let mib = options.output_bytes >> 20;
    let mut through_http = finish(
        Scenario::new(&format!("{mib} MiB through an HTTP attach"), "ms"),
        http,
    );
    through_http.notes = notes;
    let mut through_cli = Scenario::new(&format!("{mib} MiB through rpod run (CLI attach)"), "ms");
    through_cli.results.insert(Contender::Rpod, summarize(&cli));
    Ok(vec![through_http, through_cli])
}
