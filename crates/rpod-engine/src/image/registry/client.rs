//! One repository on one registry, spoken to over the OCI distribution API: the scheme
//! (HTTPS, or HTTP for a registry the user called insecure), TLS roots, and the
//! authentication its challenges ask for (basic, or a bearer token from its token service).

use std::fs::File;
use std::io::{Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use ureq::http::{Response, StatusCode};
use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};
use ureq::{Agent, Body};

use super::auth_file::{self, Credentials};
use super::challenge::{self, Challenge};
use crate::image::reference::DEFAULT_DOMAIN;
use crate::{EngineError, Result};

/// Where Docker Hub's API answers, for images named `docker.io/...`.
const DOCKER_HUB_API_HOST: &str = "registry-1.docker.io";
/// The system's CA bundle on Debian, Ubuntu and Fedora-like hosts (podman trusts it too).
const SYSTEM_CA_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
];
/// Per-registry CA certificates, podman's place (`/etc/containers/certs.d/HOST:PORT/*.crt`).
const CERTS_D: &str = "/etc/containers/certs.d";

/// How often a request that failed in a way that may pass (the registry not reachable, a
/// connection reset or timed out, a 429 or 502-504 answer) is sent again, a second apart:
/// podman's three retries. Only requests that change nothing are (never a push's).
const RETRIES: u32 = 3;
const RETRY_DELAY: Duration = Duration::from_secs(1);

/// Whether a transport error may pass when the request is sent again.
fn transient(error: &ureq::Error) -> bool {
    use std::io::ErrorKind;
    match error {
        ureq::Error::Io(e) => matches!(
            e.kind(),
            ErrorKind::ConnectionRefused
                | ErrorKind::ConnectionReset
                | ErrorKind::ConnectionAborted
                | ErrorKind::TimedOut
                | ErrorKind::UnexpectedEof
                | ErrorKind::BrokenPipe
                | ErrorKind::Interrupted
        ),
        ureq::Error::Timeout(_) | ureq::Error::ConnectionFailed => true,
        _ => false,
    }
}

/// Whether an answer says to come back later.
fn transient_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 502 | 503 | 504)
}

/// Say that a request is sent again, and wait for it.
/// How often a request that may pass is sent again, and how long apart.
#[derive(Debug, Clone, Copy)]
struct Retries {
    count: u32,
    delay: Duration,
}

impl Retries {
    fn before(&self, registry: &str, what: &str, retry: u32, why: &str) {
        tracing::warn!(
            "{registry}: {what} failed, retrying in {:?} ({retry}/{}): {why}",
            self.delay,
            self.count
        );
        std::thread::sleep(self.delay);
    }
}
/// Token answers, error bodies and other small documents larger than this are refused.
pub const SMALL_DOCUMENT_LIMIT: u64 = 1 << 20;

/// How to reach registries: from the command line or the API.
#[derive(Debug, Clone, Default)]
pub struct RegistryOptions {
    /// Verify the registry's certificate and refuse plain HTTP. False also lets rpod fall
    /// back to HTTP when HTTPS fails, as podman's `--tls-verify=false`. `None`: verify,
    /// unless rpod.conf lists the registry as insecure (the engine decides).
    pub tls_verify: Option<bool>,
    /// A directory of CA certificates (`*.crt`) for the registry (`--cert-dir`); otherwise
    /// `/etc/containers/certs.d/HOST/`.
    pub cert_dir: Option<PathBuf>,
    /// Credentials to use instead of the saved ones (`--creds`, an API request's auth).
    pub credentials: Option<Credentials>,
    /// The credentials file (`--authfile`); otherwise `auth_file::default_path()`.
    pub auth_file: Option<PathBuf>,
    /// How often a request that may pass is sent again (`build --retry`; 3 by default).
    pub retries: Option<u32>,
    /// How long apart (`build --retry-delay`; 1 s by default).
    pub retry_delay: Option<Duration>,
}

impl RegistryOptions {
    pub fn auth_file_path(&self) -> PathBuf {
        self.auth_file
            .clone()
            .unwrap_or_else(auth_file::default_path)
    }

    /// The credentials for a repository: the given ones, else the saved ones, else none.
    fn credentials_for(&self, registry: &str, repository: &str) -> Result<Option<Credentials>> {
        if let Some(credentials) = &self.credentials {
            return Ok(Some(credentials.clone()));
        }
        auth_file::find_credentials(&self.auth_file_path(), registry, repository)
    }
}

/// A registry's error answer, rendered for a person: `{"errors":[{"code","message"}]}`.
fn error_text(status: StatusCode, body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct Errors {
        errors: Vec<ErrorEntry>,
    }
    #[derive(Deserialize)]
    struct ErrorEntry {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    let reason = status.canonical_reason().unwrap_or("");
    match serde_json::from_slice::<Errors>(body) {
        Ok(parsed) if !parsed.errors.is_empty() => {
            let parts: Vec<String> = parsed
                .errors
                .iter()
                .map(|e| match (e.code.is_empty(), e.message.is_empty()) {
                    (false, false) => format!("{}: {}", e.code.to_lowercase(), e.message),
                    (true, false) => e.message.clone(),
                    _ => e.code.to_lowercase(),
                })
                .collect();
            format!("{} {reason}: {}", status.as_u16(), parts.join("; "))
        }
        _ => format!("{} {reason}", status.as_u16()),
    }
}

/// A registry failure, naming the registry and what was asked.
pub fn registry_error(registry: &str, what: &str, message: impl std::fmt::Display) -> EngineError {
    EngineError::Registry(format!("registry {registry}: {what}: {message}"))
}

/// What a request sends.
pub enum Payload<'a> {
    Empty,
    Bytes(&'a [u8]),
    File(&'a File),
}

/// One repository on one registry, with the authorization its challenges gave. A clone
/// shares the connection pool and starts with the same authorization (parallel downloads).
#[derive(Clone)]
pub struct RepositoryClient {
    agent: Agent,
    /// `https://host[:port]` or `http://host[:port]`.
    base: String,
    /// The registry as named in the image reference (`docker.io`, `host:5000`).
    pub registry: String,
    /// The repository path (`library/busybox`).
    pub repository: String,
    credentials: Option<Credentials>,
    /// The token scope asked for (`repository:PATH:pull[,push]`, `registry:catalog:*`), or
    /// none.
    scope: Option<String>,
    /// The `Authorization` header value to send, once a challenge asked for one.
    authorization: Option<String>,
    retries: Retries,
}

/// The CA certificates to trust for `registry`: the system's bundle and the registry's own
/// directory, or webpki's roots when the system has no bundle and none are given.
fn root_certs(registry: &str, cert_dir: Option<&Path>) -> Result<RootCerts> {
    let mut certs: Vec<Certificate<'static>> = Vec::new();
    let add_pem = |path: &Path, certs: &mut Vec<Certificate<'static>>| -> Result<()> {
        let bytes = std::fs::read(path).map_err(|e| EngineError::io("reading", path, e))?;
        for item in ureq::tls::parse_pem(&bytes) {
            match item {
                Ok(PemItem::Certificate(cert)) => certs.push(cert),
                Ok(_) => {}
                Err(e) => {
                    return Err(EngineError::InvalidArg(format!(
                        "{}: not a PEM certificate file: {e}",
                        path.display()
                    )))
                }
            }
        }
        Ok(())
    };
    let registry_dir = match cert_dir {
        Some(dir) => Some(dir.to_path_buf()),
        None => Some(Path::new(CERTS_D).join(registry)).filter(|d| d.is_dir()),
    };
    if let Some(dir) = &registry_dir {
        let entries =
            std::fs::read_dir(dir).map_err(|e| EngineError::io("reading directory", dir, e))?;
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "crt"))
            .collect();
        paths.sort();
        for path in paths {
            add_pem(&path, &mut certs)?;
        }
    }
    if let Some(bundle) = system_ca_bundle() {
        add_pem(bundle, &mut certs)?;
    }
    if certs.is_empty() {
        return Ok(RootCerts::WebPki);
    }
    Ok(RootCerts::new_with_certs(&certs))
}

/// The system's bundle of CA certificates, when it has one.
pub fn system_ca_bundle() -> Option<&'static Path> {
    SYSTEM_CA_BUNDLES
        .iter()
        .map(Path::new)
        .find(|bundle| bundle.is_file())
}

/// An agent for a service outside a registry's API (Docker Hub's search), trusting
/// webpki's roots.
pub fn plain_agent(tls_verify: bool) -> Agent {
    agent(tls_verify, RootCerts::WebPki)
}

/// An agent for a download from a web server (`build`'s `ADD URL`), trusting the system's
/// CA bundle (and `certs.d`'s directory for `host`, as for a registry).
pub fn web_agent(host: &str) -> Result<Agent> {
    Ok(agent(true, root_certs(host, None)?))
}

fn agent(tls_verify: bool, roots: RootCerts) -> Agent {
    let tls = TlsConfig::builder()
        .root_certs(roots)
        .disable_verification(!tls_verify)
        .build();
    Agent::config_builder()
        .http_status_as_error(false)
        .tls_config(tls)
        .user_agent(format!("rpod/{}", env!("CARGO_PKG_VERSION")))
        .timeout_connect(Some(Duration::from_secs(30)))
        .timeout_recv_response(Some(Duration::from_secs(120)))
        .timeout_per_read(Some(Duration::from_secs(120)))
        .max_redirects(10)
        .build()
        .into()
}

/// Read a small body whole, refusing more than `limit` bytes.
pub fn read_small(response: Response<Body>, limit: u64) -> std::result::Result<Vec<u8>, String> {
    response
        .into_body()
        .into_with_config()
        .limit(limit)
        .read_to_vec()
        .map_err(|e| e.to_string())
}

impl RepositoryClient {
    /// Reach `registry` for `repository` and authenticate as its `/v2/` answer asks.
    /// `push` asks for the right to write too.
    pub fn connect(
        registry: &str,
        repository: &str,
        push: bool,
        options: &RegistryOptions,
    ) -> Result<RepositoryClient> {
        let actions = if push { "pull,push" } else { "pull" };
        let scope = (!repository.is_empty()).then(|| format!("repository:{repository}:{actions}"));
        Self::connect_with_scope(registry, repository, scope, options)
    }

    /// Reach `registry` to list its repositories (`/v2/_catalog`).
    pub fn connect_for_catalog(
        registry: &str,
        options: &RegistryOptions,
    ) -> Result<RepositoryClient> {
        Self::connect_with_scope(registry, "", Some("registry:catalog:*".into()), options)
    }

    fn connect_with_scope(
        registry: &str,
        repository: &str,
        scope: Option<String>,
        options: &RegistryOptions,
    ) -> Result<RepositoryClient> {
        let host = if registry == DEFAULT_DOMAIN {
            DOCKER_HUB_API_HOST
        } else {
            registry
        };
        let verify = options.tls_verify.unwrap_or(true);
        let roots = root_certs(registry, options.cert_dir.as_deref())?;
        let mut client = RepositoryClient {
            agent: agent(verify, roots),
            base: format!("https://{host}"),
            registry: registry.to_string(),
            repository: repository.to_string(),
            credentials: options.credentials_for(registry, repository)?,
            scope,
            authorization: None,
            retries: Retries {
                count: options.retries.unwrap_or(RETRIES),
                delay: options.retry_delay.unwrap_or(RETRY_DELAY),
            },
        };
        let retries = client.retries;
        let mut retry = 0;
        let ping = loop {
            let https = format!("https://{host}");
            let answer = match client.agent.get(format!("{https}/v2/")).call() {
                Ok(response) => Ok((https, response)),
                Err(https_error) if !verify => {
                    // An insecure registry may speak plain HTTP only.
                    let http = format!("http://{host}");
                    match client.agent.get(format!("{http}/v2/")).call() {
                        Ok(response) => Ok((http, response)),
                        Err(http_error) => Err((
                            transient(&https_error) && transient(&http_error),
                            format!("HTTPS: {https_error}; HTTP: {http_error}"),
                        )),
                    }
                }
                Err(e) => Err((transient(&e), tls_hint(&e))),
            };
            let why = match answer {
                Ok((_, response))
                    if transient_status(response.status()) && retry < retries.count =>
                {
                    response.status().to_string()
                }
                Ok((base, response)) => {
                    client.base = base;
                    break response;
                }
                Err((true, why)) if retry < retries.count => why,
                Err((_, why)) => return Err(registry_error(registry, "no answer", why)),
            };
            retry += 1;
            retries.before(registry, "reaching it", retry, &why);
        };
        match ping.status() {
            StatusCode::OK => {}
            StatusCode::UNAUTHORIZED => {
                let challenges = challenges_of(&ping);
                client.authenticate(&challenges)?;
            }
            status => {
                let body = read_small(ping, SMALL_DOCUMENT_LIMIT).unwrap_or_default();
                return Err(registry_error(
                    registry,
                    "answering /v2/",
                    format!("{} (is this a registry?)", error_text(status, &body)),
                ));
            }
        }
        Ok(client)
    }

    /// Check the credentials against the registry (login): a registry that asks for none
    /// accepts any, as podman's login does.
    pub fn check_login(registry: &str, options: &RegistryOptions) -> Result<()> {
        if options.credentials.is_none() {
            return Err(EngineError::InvalidArg(
                "login needs a user name and password".into(),
            ));
        }
        let client = RepositoryClient::connect(registry, "", false, options)?;
        if client.authorization.is_none() {
            return Ok(());
        }
        // A basic challenge is answered by trying the credentials on /v2/ itself.
        let response = client
            .request("GET", &format!("{}/v2/", client.base), &[])
            .map_err(|e| registry_error(registry, "logging in", e))?;
        match response.status() {
            StatusCode::OK => Ok(()),
            StatusCode::UNAUTHORIZED => Err(registry_error(
                registry,
                "logging in",
                "invalid username/password",
            )),
            status => Err(registry_error(
                registry,
                "logging in",
                error_text(
                    status,
                    &read_small(response, SMALL_DOCUMENT_LIMIT).unwrap_or_default(),
                ),
            )),
        }
    }

    /// Answer a challenge: basic with the credentials, bearer with a token for this
    /// repository from the realm it names.
    fn authenticate(&mut self, challenges: &[Challenge]) -> Result<()> {
        let registry = self.registry.clone();
        if let Some(bearer) = challenges.iter().find(|c| c.scheme == "bearer") {
            let token = self.fetch_token(bearer)?;
            self.authorization = Some(format!("Bearer {token}"));
            return Ok(());
        }
        if challenges.iter().any(|c| c.scheme == "basic") {
            let credentials = self.credentials.as_ref().ok_or_else(|| {
                registry_error(
                    &registry,
                    "authenticating",
                    "authentication required: log in first (rpod login) or give --creds",
                )
            })?;
            self.authorization = Some(credentials.basic_header());
            return Ok(());
        }
        Err(registry_error(
            &registry,
            "authenticating",
            "the registry asked for authentication rpod does not know (neither basic nor bearer)",
        ))
    }

    fn fetch_token(&self, bearer: &Challenge) -> Result<String> {
        let registry = &self.registry;
        let realm = bearer.param("realm").ok_or_else(|| {
            registry_error(
                registry,
                "authenticating",
                "bearer challenge without a realm",
            )
        })?;
        if !(realm.starts_with("https://") || realm.starts_with("http://")) {
            return Err(registry_error(
                registry,
                "authenticating",
                format!("token realm {realm:?} is not an HTTP(S) URL"),
            ));
        }
        // Credentials go to the realm: never in clear text from a registry reached over TLS.
        if realm.starts_with("http://") && self.base.starts_with("https://") {
            return Err(registry_error(
                registry,
                "authenticating",
                format!("token realm {realm:?} is plain HTTP for a registry reached over HTTPS"),
            ));
        }
        let mut query = form_query();
        if let Some(service) = bearer.param("service") {
            query.append_pair("service", service);
        }
        if let Some(scope) = &self.scope {
            query.append_pair("scope", scope);
        }
        if let Some(credentials) = &self.credentials {
            query.append_pair("account", &credentials.username);
        }
        let query = query.finish();
        let separator = if realm.contains('?') { '&' } else { '?' };
        let url = if query.is_empty() {
            realm.to_string()
        } else {
            format!("{realm}{separator}{query}")
        };
        let mut request = self.agent.get(&url);
        if let Some(credentials) = &self.credentials {
            request = request.header("Authorization", credentials.basic_header());
        }
        let response = request
            .call()
            .map_err(|e| registry_error(registry, "getting a token", e))?;
        let status = response.status();
        let body = read_small(response, SMALL_DOCUMENT_LIMIT)
            .map_err(|e| registry_error(registry, "getting a token", e))?;
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Err(registry_error(
                registry,
                "authenticating",
                if self.credentials.is_some() {
                    "invalid username/password".to_string()
                } else {
                    format!("{}: log in first (rpod login)", error_text(status, &body))
                },
            ));
        }
        if !status.is_success() {
            return Err(registry_error(
                registry,
                "getting a token",
                error_text(status, &body),
            ));
        }
        #[derive(Deserialize)]
        struct TokenAnswer {
            token: Option<String>,
            access_token: Option<String>,
        }
        let answer: TokenAnswer = serde_json::from_slice(&body).map_err(|e| {
            registry_error(
                registry,
                "getting a token",
                format!("unreadable answer: {e}"),
            )
        })?;
        let token = answer
            .token
            .or(answer.access_token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                registry_error(registry, "getting a token", "the answer has no token")
            })?;
        // The token goes into a header: refuse anything that could end it early.
        if token.bytes().any(|b| b.is_ascii_control() || b == b' ') {
            return Err(registry_error(
                registry,
                "getting a token",
                "malformed token",
            ));
        }
        Ok(token)
    }

    /// The URL of a path of the registry's API (`_catalog?n=100`).
    pub fn api_url(&self, below: &str) -> String {
        format!("{}/v2/{below}", self.base)
    }

    /// The URL of a path below this repository (`manifests/latest`, `blobs/sha256:...`).
    pub fn url(&self, below: &str) -> String {
        format!("{}/v2/{}/{below}", self.base, self.repository)
    }

    /// The registry's base URL (`https://host[:port]`).
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Resolve a `Location` header of an upload against the registry.
    pub fn absolute(&self, location: &str) -> String {
        if location.starts_with("http://") || location.starts_with("https://") {
            location.to_string()
        } else if location.starts_with('/') {
            format!("{}{location}", self.base)
        } else {
            format!("{}/{location}", self.base)
        }
    }

    fn request(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
    ) -> std::result::Result<Response<Body>, ureq::Error> {
        self.send(method, url, headers, &Payload::Empty)
    }

    fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        payload: &Payload<'_>,
    ) -> std::result::Result<Response<Body>, ureq::Error> {
        let mut builder = ureq::http::Request::builder().method(method).uri(url);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        // Credentials go to the registry itself only, never to another host an upload's
        // Location names.
        if let Some(authorization) = self
            .authorization
            .as_ref()
            .filter(|_| url.starts_with(&format!("{}/", self.base)))
        {
            builder = builder.header("Authorization", authorization.as_str());
        }
        match payload {
            Payload::Empty => self.agent.run(builder.body(())?),
            Payload::Bytes(bytes) => self.agent.run(builder.body(*bytes)?),
            Payload::File(file) => {
                // Sent again after a new challenge: always from its start.
                let mut reader: &File = file;
                reader.seek(SeekFrom::Start(0))?;
                self.agent.run(builder.body(reader)?)
            }
        }
    }

    /// A request, authenticated again once if the registry answers 401 with a new
    /// challenge (a token for another scope, an expired one).
    pub fn call(
        &mut self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        payload: &Payload<'_>,
    ) -> Result<Response<Body>> {
        let registry = self.registry.clone();
        let what = format!("{method} {}", self.shown(url));
        // Only what changes nothing is sent again.
        let retries = if matches!(method, "GET" | "HEAD") {
            self.retries.count
        } else {
            0
        };
        let mut retry = 0;
        let response = loop {
            let why = match self.send(method, url, headers, payload) {
                Ok(response) if transient_status(response.status()) && retry < retries => {
                    response.status().to_string()
                }
                Ok(response) => break response,
                Err(e) if transient(&e) && retry < retries => e.to_string(),
                Err(e) => return Err(registry_error(&registry, &what, e)),
            };
            retry += 1;
            self.retries.before(&registry, &what, retry, &why);
        };
        if response.status() != StatusCode::UNAUTHORIZED {
            return Ok(response);
        }
        let challenges = challenges_of(&response);
        if challenges.is_empty() {
            return Ok(response);
        }
        self.authenticate(&challenges)?;
        self.send(method, url, headers, payload)
            .map_err(|e| registry_error(&registry, &what, e))
    }

    /// A URL as errors show it: without its query (upload states can be long).
    fn shown<'u>(&self, url: &'u str) -> &'u str {
        url.split('?').next().unwrap_or(url)
    }

    /// Fail with the registry's own words unless `response` is one of `expected`.
    pub fn expect(
        &self,
        response: Response<Body>,
        expected: &[StatusCode],
        what: &str,
    ) -> Result<Response<Body>> {
        let status = response.status();
        if expected.contains(&status) {
            return Ok(response);
        }
        let body = read_small(response, SMALL_DOCUMENT_LIMIT).unwrap_or_default();
        let mut text = error_text(status, &body);
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            text.push_str(if self.credentials.is_some() {
                " (the credentials given are not allowed this)"
            } else {
                " (log in first: rpod login)"
            });
        }
        Err(registry_error(&self.registry, what, text))
    }
}

fn form_query() -> form_urlencoded::Serializer<'static, String> {
    form_urlencoded::Serializer::new(String::new())
}

fn challenges_of(response: &Response<Body>) -> Vec<Challenge> {
    response
        .headers()
        .get_all("www-authenticate")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(challenge::parse)
        .collect()
}

/// A transport error, with the hint a person needs when it is about TLS.
fn tls_hint(error: &ureq::Error) -> String {
    let text = error.to_string();
    let lower = text.to_lowercase();
    if lower.contains("invalidcontenttype") {
        // rustls met a reply that is not TLS at all.
        format!("{text} (it seems to speak plain HTTP: --tls-verify=false, or list it as insecure in rpod.conf)")
    } else if lower.contains("certificate") || lower.contains("tls") || lower.contains("handshake")
    {
        format!(
            "{text} (give its CA with --cert-dir, or --tls-verify=false for a registry you trust)"
        )
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    /// A plain-HTTP registry on a port of its own answering its requests with `statuses`,
    /// one each in turn (the client's HTTPS tries are dropped); it ends after the last.
    fn registry_answering(
        statuses: &'static [&'static str],
    ) -> (String, std::thread::JoinHandle<()>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let host = format!("127.0.0.1:{}", listener.local_addr().unwrap().port());
        let server = std::thread::spawn(move || {
            let mut next = statuses.iter();
            for stream in listener.incoming() {
                let mut stream = stream.unwrap();
                // The whole head, which may come in pieces on a busy machine (a request
                // cut after its first bytes was taken for a TLS one, and not answered); a
                // TLS handshake (0x16 first) is not HTTP.
                let mut request = Vec::new();
                let mut chunk = [0u8; 4096];
                while request.first() != Some(&0x16)
                    && !request.windows(4).any(|w| w == b"\r\n\r\n")
                {
                    match stream.read(&mut chunk) {
                        Ok(0) | Err(_) => break,
                        Ok(read) => request.extend_from_slice(&chunk[..read]),
                    }
                }
                let plain = [&b"GET "[..], b"HEAD ", b"POST ", b"PUT "];
                if !plain.iter().any(|m| request.starts_with(m)) {
                    continue;
                }
                let Some(status) = next.next() else { break };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
                // Closed only once the client is done: a socket closed with part of the
                // request unread (a POST's body) is reset, and the client may see the
                // reset before the answer (a flake of this test in a CI run).
                let _ = stream.shutdown(std::net::Shutdown::Write);
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let _ = std::io::copy(&mut stream, &mut std::io::sink());
                if next.len() == 0 {
                    break;
                }
            }
        });
        (host, server)
    }

    /// A registry that asks to come back later is asked again (a second apart) until it
    /// answers; one that answers something else is not asked again.
    #[test]
    fn requests_that_may_pass_are_sent_again_and_others_not() {
        let options = RegistryOptions {
            tls_verify: Some(false),
            ..Default::default()
        };
        let (host, server) =
            registry_answering(&["503 Service Unavailable", "429 Too Many Requests", "200 OK"]);
        let client = RepositoryClient::connect(&host, "x", false, &options).unwrap();
        assert!(
            client.base_url().starts_with("http://"),
            "{}",
            client.base_url()
        );
        server.join().unwrap();
        // A GET after the ping too.
        let (host, server) = registry_answering(&["200 OK", "502 Bad Gateway", "200 OK"]);
        let mut client = RepositoryClient::connect(&host, "x", false, &options).unwrap();
        let url = client.url("tags/list");
        let response = client.call("GET", &url, &[], &Payload::Empty).unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        server.join().unwrap();
        // A HEAD (a blob's presence) too; a POST (an upload) never: its answer is given.
        let (host, server) = registry_answering(&["200 OK", "503 Service Unavailable", "200 OK"]);
        let mut client = RepositoryClient::connect(&host, "x", false, &options).unwrap();
        let url = client.url("blobs/sha256:00");
        let response = client.call("HEAD", &url, &[], &Payload::Empty).unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        server.join().unwrap();
        let (host, server) = registry_answering(&["200 OK", "503 Service Unavailable"]);
        let mut client = RepositoryClient::connect(&host, "x", false, &options).unwrap();
        let url = client.url("blobs/uploads/");
        let response = client.call("POST", &url, &[], &Payload::Empty).unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        server.join().unwrap();
        let (host, server) = registry_answering(&["404 Not Found"]);
        let err = RepositoryClient::connect(&host, "x", false, &options)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("is this a registry?"), "{err}");
        server.join().unwrap();
        // As often and as far apart as asked (`build --retry`, `--retry-delay`).
        let quick = |count: u32| RegistryOptions {
            retries: Some(count),
            retry_delay: Some(Duration::from_millis(10)),
            ..options.clone()
        };
        let (host, server) = registry_answering(&["503 Service Unavailable", "200 OK"]);
        assert!(RepositoryClient::connect(&host, "x", false, &quick(1)).is_ok());
        server.join().unwrap();
        let (host, server) = registry_answering(&["503 Service Unavailable"]);
        let err = RepositoryClient::connect(&host, "x", false, &quick(0))
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("503"), "{err}");
        server.join().unwrap();
        // What may pass, and what will not.
        assert!(transient(&ureq::Error::ConnectionFailed));
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert!(transient(&ureq::Error::Io(refused)));
        assert!(!transient(&ureq::Error::HostNotFound));
        assert!(!transient(&ureq::Error::StatusCode(404)));
        assert!(transient_status(StatusCode::BAD_GATEWAY));
        assert!(!transient_status(StatusCode::UNAUTHORIZED));
    }
}
