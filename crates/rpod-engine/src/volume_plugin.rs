//! Volume plugins: Docker's volume plugin protocol, which podman speaks to the plugins
//! `containers.conf` names in `[engine.volume_plugins]` (rpod.conf's table of the same
//! name): JSON requests `POST /VolumeDriver.<Method>` over the plugin's Unix socket, each
//! answered with a JSON object whose `Err` is empty on success.
//!
//! The client is written here on `httparse` rather than taken from an HTTP crate: the
//! requests are one small POST each on a Unix socket, which the HTTP clients rpod links
//! (ureq) do not reach, and a whole async client would weigh more than this file.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::{EngineError, Result};

/// How long a plugin may take to answer one request (a Create or a Mount may provision
/// storage).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// The most of an answer that is read: a List of many volumes fits well within it.
const MAX_ANSWER: u64 = 16 << 20;

/// A plugin rpod.conf names, reached through its socket.
#[derive(Debug, Clone)]
pub struct VolumePlugin {
    pub name: String,
    pub socket: PathBuf,
}

/// A volume as a plugin lists it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PluginVolume {
    pub name: String,
    #[serde(default)]
    pub mountpoint: String,
}

impl VolumePlugin {
    pub fn new(name: &str, socket: &Path) -> Self {
        VolumePlugin {
            name: name.to_string(),
            socket: socket.to_path_buf(),
        }
    }

    fn error(&self, message: impl Into<String>) -> EngineError {
        EngineError::VolumePlugin {
            plugin: self.name.clone(),
            message: message.into(),
        }
    }

    /// `Plugin.Activate`: the plugin must say it implements `VolumeDriver`.
    pub fn activate(&self) -> Result<()> {
        let answer = self.call("/Plugin.Activate", &json!({}))?;
        let implements = answer["Implements"].as_array().cloned().unwrap_or_default();
        if implements.iter().any(|i| i == "VolumeDriver") {
            Ok(())
        } else {
            Err(self.error(format!(
                "it does not implement VolumeDriver (it implements {})",
                Value::Array(implements)
            )))
        }
    }

    pub fn create(&self, name: &str, options: &BTreeMap<String, String>) -> Result<()> {
        self.call(
            "/VolumeDriver.Create",
            &json!({"Name": name, "Opts": options}),
        )
        .map(drop)
    }

    pub fn remove(&self, name: &str) -> Result<()> {
        self.call("/VolumeDriver.Remove", &json!({"Name": name}))
            .map(drop)
    }

    /// `VolumeDriver.Mount`: the plugin makes the volume available and says where, an
    /// absolute directory on the host. `id` names who asks, so that the plugin can count
    /// its users.
    pub fn mount(&self, name: &str, id: &str) -> Result<PathBuf> {
        let answer = self.call("/VolumeDriver.Mount", &json!({"Name": name, "ID": id}))?;
        let mountpoint = answer["Mountpoint"].as_str().unwrap_or_default();
        let path = PathBuf::from(mountpoint);
        if !path.is_absolute() {
            return Err(self.error(format!(
                "it mounted volume {name} at {mountpoint:?}, not an absolute path"
            )));
        }
        Ok(path)
    }

    pub fn unmount(&self, name: &str, id: &str) -> Result<()> {
        self.call("/VolumeDriver.Unmount", &json!({"Name": name, "ID": id}))
            .map(drop)
    }

    /// `VolumeDriver.List`: every volume the plugin has.
    pub fn list(&self) -> Result<Vec<PluginVolume>> {
        let answer = self.call("/VolumeDriver.List", &json!({}))?;
        match answer.get("Volumes") {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(volumes) => serde_json::from_value(volumes.clone())
                .map_err(|e| self.error(format!("its list of volumes: {e}"))),
        }
    }

    /// One request: its answer, or the plugin's `Err` (or what went wrong on the way) as an
    /// error naming the plugin.
    fn call(&self, path: &str, body: &Value) -> Result<Value> {
        let (status, answer) = self
            .exchange(path, body)
            .map_err(|e| self.error(format!("{path} on {}: {e}", self.socket.display())))?;
        let value: Value = if answer.iter().all(u8::is_ascii_whitespace) {
            json!({})
        } else {
            serde_json::from_slice(&answer).map_err(|e| {
                self.error(format!(
                    "{path}: an answer that is not JSON ({e}): {}",
                    String::from_utf8_lossy(&answer[..answer.len().min(200)])
                ))
            })?
        };
        if let Some(message) = value["Err"].as_str().filter(|m| !m.is_empty()) {
            return Err(self.error(message.to_string()));
        }
        if !(200..300).contains(&status) {
            return Err(self.error(format!("{path}: status {status}: {value}")));
        }
        Ok(value)
    }

    /// Sends the request (HTTP/1.0, so that the answer comes whole, never chunked, and the
    /// connection ends with it) and reads the status and body.
    fn exchange(&self, path: &str, body: &Value) -> std::io::Result<(u16, Vec<u8>)> {
        let mut stream = UnixStream::connect(&self.socket)?;
        stream.set_read_timeout(Some(REQUEST_TIMEOUT))?;
        stream.set_write_timeout(Some(REQUEST_TIMEOUT))?;
        let body = body.to_string();
        let request = format!(
            "POST {path} HTTP/1.0\r\nHost: plugin\r\n\
             Accept: application/vnd.docker.plugins.v1.2+json\r\n\
             Content-Type: application/vnd.docker.plugins.v1.2+json\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes())?;
        let mut answer = Vec::new();
        (&mut stream).take(MAX_ANSWER).read_to_end(&mut answer)?;
        parse_answer(&answer)
    }
}

/// The status and body of a whole HTTP answer (the body up to its Content-Length when it
/// gives one).
fn parse_answer(answer: &[u8]) -> std::io::Result<(u16, Vec<u8>)> {
    let invalid = |why: String| std::io::Error::new(std::io::ErrorKind::InvalidData, why);
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut headers);
    let head = match response.parse(answer) {
        Ok(httparse::Status::Complete(head)) => head,
        Ok(httparse::Status::Partial) => {
            return Err(invalid("the answer ended within its head".into()))
        }
        Err(e) => return Err(invalid(format!("not an HTTP answer: {e}"))),
    };
    let status = response.code.unwrap_or(0);
    let mut body = &answer[head..];
    let length = response
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("content-length"))
        .and_then(|h| std::str::from_utf8(h.value).ok())
        .and_then(|v| v.trim().parse::<usize>().ok());
    if let Some(length) = length {
        if body.len() < length {
            return Err(invalid("the answer ended within its body".into()));
        }
        body = &body[..length];
    }
    Ok((status, body.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;

    /// A plugin that answers each request with the next of `answers`, recording the
    /// requests' first lines and bodies.
    fn fake_plugin(
        dir: &Path,
        answers: Vec<&'static str>,
    ) -> (VolumePlugin, std::thread::JoinHandle<Vec<String>>) {
        let socket = dir.join("plugin.sock");
        let listener = UnixListener::bind(&socket).unwrap();
        let server = std::thread::spawn(move || {
            let mut seen = Vec::new();
            for answer in answers {
                let (mut stream, _) = listener.accept().unwrap();
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                // The head, then the body its Content-Length gives.
                loop {
                    let n = stream.read(&mut buf).unwrap();
                    request.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&request).to_string();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let length: usize = text
                            .lines()
                            .find_map(|l| l.strip_prefix("Content-Length: "))
                            .map(|v| v.trim().parse().unwrap())
                            .unwrap_or(0);
                        if request.len() >= end + 4 + length {
                            let first = text.lines().next().unwrap().to_string();
                            seen.push(format!("{first} {}", &text[end + 4..]));
                            break;
                        }
                    }
                }
                stream.write_all(answer.as_bytes()).unwrap();
            }
            seen
        });
        (VolumePlugin::new("fake", &socket), server)
    }

    #[test]
    fn requests_and_answers_of_the_protocol() {
        let dir = tempfile::tempdir().unwrap();
        let (plugin, server) = fake_plugin(
            dir.path(),
            vec![
                "HTTP/1.1 200 OK\r\nContent-Length: 31\r\n\r\n{\"Implements\":[\"VolumeDriver\"]}",
                "HTTP/1.0 200 OK\r\n\r\n{\"Err\":\"\"}\n",
                "HTTP/1.1 200 OK\r\nContent-Length: 38\r\n\r\n{\"Mountpoint\":\"/srv/vols/v1\",\"Err\":\"\"}",
                "HTTP/1.1 200 OK\r\n\r\n{\"Volumes\":[{\"Name\":\"v1\",\"Mountpoint\":\"/srv/vols/v1\"},{\"Name\":\"v2\"}]}",
                "HTTP/1.1 500 Internal Server Error\r\n\r\n{\"Err\":\"volume v9 does not exist\"}",
                "HTTP/1.1 404 Not Found\r\n\r\nnot here",
                "HTTP/1.1 200 OK\r\n\r\n{\"Mountpoint\":\"relative/dir\"}",
            ],
        );
        plugin.activate().unwrap();
        let options = BTreeMap::from([("size".to_string(), "1g".to_string())]);
        plugin.create("v1", &options).unwrap();
        assert_eq!(
            plugin.mount("v1", "abc").unwrap(),
            Path::new("/srv/vols/v1")
        );
        let listed = plugin.list().unwrap();
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[1].name, "v2");
        let err = plugin.remove("v9").unwrap_err().to_string();
        assert_eq!(err, "volume plugin fake: volume v9 does not exist");
        let err = plugin.unmount("v1", "abc").unwrap_err().to_string();
        assert!(err.contains("not JSON"), "{err}");
        let err = plugin.mount("v1", "abc").unwrap_err().to_string();
        assert!(err.contains("not an absolute path"), "{err}");
        let seen = server.join().unwrap();
        assert_eq!(seen[0], "POST /Plugin.Activate HTTP/1.0 {}");
        assert_eq!(
            seen[1],
            "POST /VolumeDriver.Create HTTP/1.0 {\"Name\":\"v1\",\"Opts\":{\"size\":\"1g\"}}"
        );
        assert_eq!(
            seen[2],
            "POST /VolumeDriver.Mount HTTP/1.0 {\"Name\":\"v1\",\"ID\":\"abc\"}"
        );
    }

    #[test]
    fn a_plugin_that_is_not_a_volume_driver_or_not_there() {
        let dir = tempfile::tempdir().unwrap();
        let (plugin, server) = fake_plugin(
            dir.path(),
            vec!["HTTP/1.1 200 OK\r\n\r\n{\"Implements\":[\"NetworkDriver\"]}"],
        );
        let err = plugin.activate().unwrap_err().to_string();
        assert!(err.contains("does not implement VolumeDriver"), "{err}");
        server.join().unwrap();
        let gone = VolumePlugin::new("gone", &dir.path().join("none.sock"));
        let err = gone.activate().unwrap_err().to_string();
        assert!(
            err.starts_with("volume plugin gone: /Plugin.Activate on "),
            "{err}"
        );
    }
}
