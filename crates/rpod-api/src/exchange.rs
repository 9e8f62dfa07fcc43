//! One request and its answer: the helpers handlers use to reply (JSON, empty, chunked
//! streams, hijacked connections) and to read bodies.

use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{ApiError, ApiResult};
use crate::http::{head, ChunkedWriter, Connection, Request};

/// The largest JSON body accepted (a create request is a few KiB).
pub const MAX_JSON_BODY: u64 = 4 << 20;

/// Which API a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    /// Docker's Engine API.
    Compat,
    /// podman's libpod API (`/libpod/...`).
    Libpod,
}

pub struct Exchange<'a> {
    pub req: Request,
    pub conn: &'a mut Connection,
    pub flavour: Flavour,
    /// The API version in the path (`/v1.41/...`), when there was one.
    pub version: Option<(u32, u32)>,
    /// Something was written: errors can no longer be answered as such.
    responded: Arc<AtomicBool>,
    /// The connection cannot carry another request (hijacked, or a stream cut short).
    pub close: bool,
}

impl<'a> Exchange<'a> {
    pub fn new(
        req: Request,
        conn: &'a mut Connection,
        flavour: Flavour,
        version: Option<(u32, u32)>,
    ) -> Self {
        Exchange {
            req,
            conn,
            flavour,
            version,
            responded: Arc::new(AtomicBool::new(false)),
            close: false,
        }
    }

    pub fn responded(&self) -> bool {
        self.responded.load(Ordering::SeqCst)
    }

    fn write(&mut self, data: &[u8]) -> ApiResult<()> {
        self.responded.store(true, Ordering::SeqCst);
        self.conn.write_all(data).map_err(|e| {
            self.close = true;
            ApiError::internal(format!("writing the response: {e}"))
        })
    }

    /// A complete answer with a body.
    pub fn send(&mut self, status: u16, content_type: &str, body: &[u8]) -> ApiResult<()> {
        self.send_with(status, content_type, &[], body)
    }

    /// `send` with more headers.
    pub fn send_with(
        &mut self,
        status: u16,
        content_type: &str,
        extra: &[(&str, String)],
        body: &[u8],
    ) -> ApiResult<()> {
        let mut headers = vec![
            ("Content-Type", content_type.to_string()),
            ("Content-Length", body.len().to_string()),
        ];
        headers.extend(extra.iter().cloned());
        let mut out = head(status, &headers);
        if self.req.method != "HEAD" {
            out.extend_from_slice(body);
        }
        self.write(&out)
    }

    pub fn json<T: Serialize + ?Sized>(&mut self, status: u16, value: &T) -> ApiResult<()> {
        let body = serde_json::to_vec(value)
            .map_err(|e| ApiError::internal(format!("encoding the answer: {e}")))?;
        self.send(status, "application/json", &body)
    }

    /// An answer without a body (204, 304, or a 200/201 with nothing to say).
    pub fn empty(&mut self, status: u16) -> ApiResult<()> {
        let out = if status == 204 || status == 304 {
            head(status, &[])
        } else {
            head(status, &[("Content-Length", "0".into())])
        };
        self.write(&out)
    }

    pub fn error(&mut self, error: &ApiError) -> ApiResult<()> {
        let body = match self.flavour {
            Flavour::Compat => serde_json::json!({ "message": error.message }),
            Flavour::Libpod => serde_json::json!({
                "cause": error.cause,
                "message": error.libpod_message,
                "response": error.status,
            }),
        };
        self.json(error.status, &body)
    }

    /// Begin a chunked answer whose body follows (streams: wait, logs, events, pulls).
    /// Written at once, so the client sees the status before the body exists.
    pub fn start_stream(&mut self, status: u16, content_type: &str) -> ApiResult<ChunkedWriter> {
        self.start_stream_with(status, content_type, &[])
    }

    /// `start_stream` with more headers.
    pub fn start_stream_with(
        &mut self,
        status: u16,
        content_type: &str,
        extra: &[(&str, String)],
    ) -> ApiResult<ChunkedWriter> {
        let mut headers = vec![("Content-Type", content_type.to_string())];
        headers.extend(extra.iter().cloned());
        if self.req.http10 {
            // No chunks in HTTP/1.0: the body ends when the connection does.
            self.close = true;
            headers.push(("Connection", "close".into()));
            let out = head(status, &headers);
            self.write(&out)?;
            return Ok(ChunkedWriter::raw(self.conn.fd().clone()));
        }
        headers.push(("Transfer-Encoding", "chunked".into()));
        let out = head(status, &headers);
        self.write(&out)?;
        Ok(ChunkedWriter::new(self.conn.fd().clone()))
    }

    /// A tar archive as a chunked `200` answer (with `extra` headers), `write` writing it
    /// through a 256 KiB buffer. A failure once the head is out cuts the stream, so the
    /// client sees a broken transfer: what fails before must be checked before.
    pub fn send_archive<E: std::fmt::Display>(
        &mut self,
        extra: &[(&str, String)],
        write: impl FnOnce(&mut dyn std::io::Write) -> Result<(), E>,
    ) -> ApiResult<()> {
        let body = self.start_stream_with(200, "application/x-tar", extra)?;
        let mut out = std::io::BufWriter::with_capacity(256 * 1024, body);
        let result = write(&mut out).map_err(|e| e.to_string());
        self.end_stream(out, result, |w| w.finish())
    }

    /// End a streamed answer: its last chunk after `result` succeeded; after a failure
    /// (the client went away, the source failed) the connection ends without it, so the
    /// client sees a broken transfer rather than a complete-looking one.
    pub fn end_stream<W: std::io::Write>(
        &mut self,
        body: std::io::BufWriter<W>,
        result: Result<(), String>,
        finish: impl FnOnce(W) -> std::io::Result<()>,
    ) -> ApiResult<()> {
        if let Err(e) = result {
            tracing::debug!(
                "{} {}: stream cut short: {e}",
                self.req.method,
                self.req.path
            );
            self.conn.shutdown();
            self.close = true;
            return Ok(());
        }
        let finished = body
            .into_inner()
            .map_err(|e| e.into_error())
            .and_then(finish);
        if finished.is_err() {
            self.close = true;
        }
        Ok(())
    }

    /// Take over the connection for a raw stream (attach, exec start). Returns the socket
    /// and the preamble that writes the answer's head, `101 UPGRADED` when the client asked
    /// to upgrade and `200 OK` otherwise; the OCI layer writes it once the container's
    /// streams are reached. Until it runs, errors are still answered normally. Nothing
    /// follows the head until the client has read it: docker-py and podman-remote read the
    /// head with a buffered reader and the stream from the socket itself, and lost what came
    /// in the same read (an attach's past logs, a fast exec's output or its start error).
    pub fn hijack(
        &mut self,
        content_type: &str,
    ) -> ApiResult<(Arc<OwnedFd>, rpod_oci::HttpPreamble)> {
        if self.conn.has_unread_input() {
            return Err(ApiError::bad_request(
                "the client sent data before the stream was set up",
            ));
        }
        self.close = true;
        let head = self.hijack_head(content_type);
        let responded = self.responded.clone();
        let socket = self.conn.fd().clone();
        let preamble: rpod_oci::HttpPreamble = Box::new(move |out| {
            responded.store(true, Ordering::SeqCst);
            out.write_all(&head)?;
            out.flush()?;
            crate::http::await_peer_read(&socket, std::time::Duration::from_secs(1));
            Ok(())
        });
        Ok((self.conn.fd().clone(), preamble))
    }

    /// The head of a hijacked answer.
    pub fn hijack_head(&self, content_type: &str) -> Vec<u8> {
        if self.req.wants_upgrade() {
            head(
                101,
                &[
                    ("Content-Type", content_type.to_string()),
                    ("Connection", "Upgrade".into()),
                    ("Upgrade", "tcp".into()),
                ],
            )
        } else {
            head(200, &[("Content-Type", content_type.to_string())])
        }
    }

    /// Write a hijacked answer's head now, for a stream that ends at once.
    pub fn hijack_and_end(&mut self, content_type: &str) -> ApiResult<()> {
        let head = self.hijack_head(content_type);
        self.close = true;
        self.write(&head)
    }

    /// The body as JSON of type `T`; an empty body is an error.
    pub fn body_json<T: DeserializeOwned>(&mut self) -> ApiResult<T> {
        let body = self.conn.read_body(MAX_JSON_BODY)?;
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::bad_request("the request needs a JSON body"));
        }
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_request(format!("decoding the request body: {e}")))
    }

    /// The body as JSON of type `T`, or `T::default()` when there is none.
    pub fn body_json_or_default<T: DeserializeOwned + Default>(&mut self) -> ApiResult<T> {
        let body = self.conn.read_body(MAX_JSON_BODY)?;
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(T::default());
        }
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_request(format!("decoding the request body: {e}")))
    }

    /// Refuse the query parameters among `names` that are set (not empty, not `false`):
    /// they ask for what rpod does not do (`what` says of what).
    pub fn refuse_set(&self, what: &str, names: &[&str]) -> ApiResult<()> {
        for name in names {
            if self
                .req
                .query(name)
                .is_some_and(|v| !v.is_empty() && v != "false")
            {
                return Err(ApiError::unsupported(format!("{what} {name}")));
            }
        }
        Ok(())
    }

    /// A boolean query parameter as Docker's clients send them (`1`, `true`, `True`, ...).
    pub fn query_bool(&self, name: &str) -> ApiResult<bool> {
        match self.req.query(name) {
            None | Some("") => Ok(false),
            Some(v) => match v.to_ascii_lowercase().as_str() {
                "1" | "true" | "t" | "yes" => Ok(true),
                "0" | "false" | "f" | "no" => Ok(false),
                _ => Err(ApiError::bad_request(format!(
                    "invalid boolean {v:?} for query parameter {name}"
                ))),
            },
        }
    }

    /// A repeated query parameter's non-empty values.
    pub fn query_values(&self, name: &str) -> Vec<String> {
        self.req
            .query_all(name)
            .into_iter()
            .filter(|v| !v.is_empty())
            .map(String::from)
            .collect()
    }

    /// A list parameter: repeated (Docker) and/or each a JSON array of strings (podman).
    pub fn query_list(&self, name: &str) -> ApiResult<Vec<String>> {
        let mut items = Vec::new();
        for value in self.query_values(name) {
            if value.trim_start().starts_with('[') {
                let parsed: Vec<String> = serde_json::from_str(&value).map_err(|e| {
                    ApiError::bad_request(format!("{name}: not a JSON array of strings: {e}"))
                })?;
                items.extend(parsed);
            } else {
                items.push(value);
            }
        }
        Ok(items)
    }

    /// A boolean query parameter that defaults to true when absent.
    pub fn query_bool_or(&self, name: &str, default: bool) -> ApiResult<bool> {
        match self.req.query(name) {
            None => Ok(default),
            Some(_) => self.query_bool(name),
        }
    }

    /// An integer query parameter.
    pub fn query_int<T: std::str::FromStr>(&self, name: &str) -> ApiResult<Option<T>> {
        match self.req.query(name) {
            None | Some("") => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| {
                ApiError::bad_request(format!("invalid number {v:?} for query parameter {name}"))
            }),
        }
    }

    /// Whether the API version in the path is at least `major.minor`.
    pub fn version_at_least(&self, major: u32, minor: u32) -> bool {
        self.version.is_none_or(|v| v >= (major, minor))
    }
}
