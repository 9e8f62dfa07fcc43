//! `import`: a root file system tarball becomes a one-layer image, with `--change`
//! instructions (CMD, ENTRYPOINT, ENV, EXPOSE, WORKDIR, LABEL, USER, STOPSIGNAL, VOLUME) applied
//! to its config.

use std::collections::HashMap;
use std::io::Read;

use chrono::Utc;
use oci_spec::image::{Arch, Config, HistoryBuilder, ImageConfigurationBuilder, Os, RootFsBuilder};

use super::layer::store_layer;
use super::{add_image, discard_new_layers, layer_dirs, reference, ImageRecord};
use crate::paths::Roots;
use crate::store::Store;
use crate::{EngineError, Result};

#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Name for the new image (`localhost/` is added to names without a registry).
    pub name: Option<String>,
    /// Dockerfile-style instructions applied to the image config.
    pub changes: Vec<String>,
    /// Commit message recorded in the image history.
    pub message: Option<String>,
    /// `--os`, `--arch`, `--variant`: the platform the image says it is for (this
    /// machine's when not given).
    pub os: Option<String>,
    pub arch: Option<String>,
    pub variant: Option<String>,
}

/// The Go architecture name of this machine, as image configs record it.
fn host_arch() -> Arch {
    Arch::from(crate::views::go_arch())
}

fn build_err(e: impl std::fmt::Display) -> EngineError {
    EngineError::InvalidArg(format!("building image config: {e}"))
}

pub fn import(
    store: &Store,
    roots: &Roots,
    source: impl Read,
    origin: &str,
    options: &ImportOptions,
) -> Result<ImageRecord> {
    let name = options
        .name
        .as_deref()
        .map(reference::normalize_local)
        .transpose()?;
    let mut config = Config::default();
    for change in &options.changes {
        apply_change(&mut config, change)?;
    }
    let layer = store_layer(&layer_dirs(roots), source, origin)?;
    // A tarball that holds no tar at all is not a root file system.
    if layer.size < 512 {
        discard_new_layers(store, roots, std::slice::from_ref(&layer));
        return Err(EngineError::BadArchive {
            path: origin.to_string(),
            message: "not a tar archive (too short)".into(),
        });
    }
    let now = super::config_time(Utc::now());
    let history = HistoryBuilder::default()
        .created(now.clone())
        // The layer's digest, as podman records it: where the tarball lay on this host is
        // nobody's business once the image is pushed.
        .created_by(format!("/bin/sh -c #(nop) ADD file:{} in /", layer.diff_id))
        .comment(
            options
                .message
                .clone()
                .unwrap_or_else(|| "imported from tarball".into()),
        )
        .build()
        .map_err(build_err)?;
    fn given(v: &Option<String>) -> Option<&str> {
        v.as_deref().filter(|v| !v.is_empty())
    }
    let mut image_config = ImageConfigurationBuilder::default()
        .created(now)
        .architecture(given(&options.arch).map_or_else(host_arch, Arch::from))
        .os(given(&options.os).map_or(Os::Linux, Os::from))
        .config(config);
    if let Some(variant) = given(&options.variant) {
        image_config = image_config.variant(variant.to_string());
    }
    let image_config = image_config
        .rootfs(
            RootFsBuilder::default()
                .typ("layers")
                .diff_ids(vec![format!("sha256:{}", layer.diff_id)])
                .build()
                .map_err(build_err)?,
        )
        .history(vec![history])
        .build()
        .map_err(build_err)?;
    let bytes = crate::go_json::to_vec_sorted(&image_config).map_err(build_err)?;
    let names: Vec<String> = name.into_iter().collect();
    let format = super::ImageFormat::Oci;
    add_image(
        store,
        roots,
        &bytes,
        std::slice::from_ref(&layer),
        &names,
        format,
    )
    .inspect_err(|_| {
        discard_new_layers(store, roots, std::slice::from_ref(&layer));
    })
}

/// A JSON array of strings, or `None` when `text` is not one: then, as a Containerfile's
/// parser takes it (and podman's and Docker's `commit --change`), it is the other form.
fn json_words(text: &str) -> Option<Vec<String>> {
    serde_json::from_str::<Vec<String>>(text).ok()
}

/// A CMD or ENTRYPOINT value: a JSON array, or shell form run by `/bin/sh -c` (what is
/// not a valid array too: `CMD ["a"` runs `["a"` in the shell, as a build's does).
fn command_value(value: &str) -> Vec<String> {
    let trimmed = value.trim();
    json_words(trimmed).unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into(), trimmed.to_string()])
}

/// The words of VOLUME and EXPOSE: a JSON array or words separated by blanks.
fn words(value: &str) -> Vec<String> {
    let trimmed = value.trim();
    json_words(trimmed).unwrap_or_else(|| trimmed.split_whitespace().map(str::to_string).collect())
}

/// The pair of an ENV or LABEL change, as podman reads it: `KEY=VALUE` (the value is all
/// after the first `=`, so that JSON stays whole: `LABEL profile={"a": "b c"}`), or `KEY
/// VALUE`. A value that is one quoted string loses its quotes (`LABEL a="x y"`).
fn pairs(value: &str, instruction: &str) -> Result<Vec<(String, String)>> {
    let value = value.trim();
    if let Some((key, rest)) = value.split_once('=') {
        if !key.is_empty() && !key.contains(char::is_whitespace) {
            return Ok(vec![(key.to_string(), unquoted(rest).to_string())]);
        }
    }
    match value.split_once(char::is_whitespace) {
        Some((key, rest)) => Ok(vec![(key.to_string(), unquoted(rest.trim()).to_string())]),
        None => Err(EngineError::InvalidArg(format!(
            "{instruction} needs KEY=VALUE, got {value:?}"
        ))),
    }
}

/// `text` without the quotes around it when it is one quoted string (`"x y"`), else as
/// it is (`"x y" b=2` keeps its quotes, as podman's).
fn unquoted(text: &str) -> &str {
    for quote in ['"', '\''] {
        if let Some(inner) = text.strip_prefix(quote).and_then(|t| t.strip_suffix(quote)) {
            if !inner.contains(quote) {
                return inner;
            }
        }
    }
    text
}

/// The trigger of an `ONBUILD` change (`ONBUILD RUN make`: `RUN make`), which only a
/// Docker-format image keeps; `None` for any other change.
pub fn onbuild_trigger(change: &str) -> Option<&str> {
    let change = change.trim();
    let (instruction, trigger) = change.split_once(char::is_whitespace)?;
    instruction
        .eq_ignore_ascii_case("ONBUILD")
        .then(|| trigger.trim())
}

/// `port` (`80`, `53/udp`; TCP without a protocol) added once to an image config's exposed
/// ports as a `PORT/PROTOCOL` key, checked.
pub fn expose(exposed: &mut Vec<String>, port: &str) -> Result<()> {
    let key = if port.contains('/') {
        port.to_string()
    } else {
        format!("{port}/tcp")
    };
    crate::network::ports::parse_exposed(&key)?;
    if !exposed.contains(&key) {
        exposed.push(key);
    }
    Ok(())
}

/// `path` added once to an image config's volumes; `false`, nothing added, when it is not
/// absolute.
pub fn add_volume(volumes: &mut Vec<String>, path: String) -> bool {
    if !path.starts_with('/') {
        return false;
    }
    if !volumes.contains(&path) {
        volumes.push(path);
    }
    true
}

/// Apply one Dockerfile-style instruction (`CMD ["sh"]`, `ENV A=b`, ...) to a config.
pub fn apply_change(config: &mut Config, change: &str) -> Result<()> {
    let change = change.trim();
    let split = change
        .find([' ', '='])
        .ok_or_else(|| EngineError::InvalidArg(format!("invalid change {change:?}: no value")))?;
    let (instruction, value) = (&change[..split], &change[split + 1..]);
    match instruction.to_ascii_uppercase().as_str() {
        "CMD" => {
            config.set_cmd(Some(command_value(value)));
        }
        "ENTRYPOINT" => {
            config.set_entrypoint(Some(command_value(value)));
        }
        "ENV" => {
            let mut env = config.env().clone().unwrap_or_default();
            for (key, val) in pairs(value, "ENV")? {
                env.retain(|e| e.split('=').next() != Some(key.as_str()));
                env.push(format!("{key}={val}"));
            }
            config.set_env(Some(env));
        }
        "LABEL" => {
            let mut labels: HashMap<String, String> = config.labels().clone().unwrap_or_default();
            labels.extend(pairs(value, "LABEL")?);
            config.set_labels(Some(labels));
        }
        "WORKDIR" => {
            config.set_working_dir(Some(value.trim().to_string()));
        }
        "USER" => {
            config.set_user(Some(value.trim().to_string()));
        }
        "STOPSIGNAL" => {
            rpod_oci::signal::parse_signal(value).map_err(EngineError::InvalidArg)?;
            config.set_stop_signal(Some(value.trim().to_string()));
        }
        "VOLUME" => {
            let mut volumes = config.volumes().clone().unwrap_or_default();
            for path in words(value) {
                if !add_volume(&mut volumes, path.clone()) {
                    return Err(EngineError::InvalidArg(format!(
                        "invalid change {change:?}: {path:?} is not an absolute path"
                    )));
                }
            }
            config.set_volumes(Some(volumes));
        }
        "EXPOSE" => {
            let mut exposed = config.exposed_ports().clone().unwrap_or_default();
            for port in words(value) {
                expose(&mut exposed, &port)?;
            }
            config.set_exposed_ports(Some(exposed));
        }
        "ONBUILD" => {
            return Err(EngineError::InvalidArg(format!(
                "invalid change {change:?}: only a Docker-format image keeps ONBUILD (commit --format docker)"
            )))
        }
        other => {
            return Err(EngineError::InvalidArg(format!(
                "invalid change {change:?}: {other} is not one of CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, WORKDIR, USER, STOPSIGNAL, VOLUME"
            )))
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_apply_to_the_config() {
        let mut config = Config::default();
        apply_change(&mut config, r#"CMD ["/bin/echo", "hi"]"#).unwrap();
        apply_change(&mut config, "ENTRYPOINT /bin/run me").unwrap();
        apply_change(&mut config, "ENV A=1").unwrap();
        apply_change(&mut config, "ENV A 2").unwrap();
        apply_change(&mut config, "LABEL k=v").unwrap();
        apply_change(&mut config, "WORKDIR=/srv").unwrap();
        apply_change(&mut config, "STOPSIGNAL SIGINT").unwrap();
        assert_eq!(config.cmd().clone().unwrap(), ["/bin/echo", "hi"]);
        assert_eq!(
            config.entrypoint().clone().unwrap(),
            ["/bin/sh", "-c", "/bin/run me"]
        );
        assert_eq!(config.env().clone().unwrap(), ["A=2"]);
        assert_eq!(config.labels().clone().unwrap()["k"], "v");
        assert_eq!(config.working_dir().as_deref(), Some("/srv"));
        assert!(apply_change(&mut config, "FROM x").is_err());
        // One pair, its value all after the first `=` (JSON stays whole, as podman's), a
        // value that is one quoted string unquoted; `KEY VALUE` takes the rest.
        apply_change(&mut config, r#"ENV C="x y""#).unwrap();
        apply_change(&mut config, r#"LABEL a="x y" b=2"#).unwrap();
        apply_change(&mut config, r#"LABEL j={"k": "v w", "n": 1}"#).unwrap();
        apply_change(&mut config, "LABEL q='single'").unwrap();
        apply_change(&mut config, "ENV D 3 4").unwrap();
        let env = config.env().clone().unwrap();
        for pair in ["C=x y", "D=3 4"] {
            assert!(env.contains(&pair.to_string()), "{env:?}");
        }
        let labels = config.labels().clone().unwrap();
        assert_eq!(labels["a"], r#""x y" b=2"#);
        assert_eq!(labels["j"], r#"{"k": "v w", "n": 1}"#);
        assert_eq!(labels["q"], "single");
        assert!(apply_change(&mut config, "ONBUILD RUN make").is_err());
        assert_eq!(onbuild_trigger(" onbuild  RUN make "), Some("RUN make"));
        assert_eq!(onbuild_trigger("RUN make"), None);
        // Not a JSON array: shell form, as a Containerfile's CMD and podman's commit.
        apply_change(&mut config, r#"CMD ["a""#).unwrap();
        assert_eq!(config.cmd().clone().unwrap(), ["/bin/sh", "-c", r#"["a""#]);
        assert!(apply_change(&mut config, "STOPSIGNAL NOPE").is_err());
        apply_change(&mut config, r#"VOLUME ["/data", "/logs"]"#).unwrap();
        apply_change(&mut config, "VOLUME /data /cache").unwrap();
        assert_eq!(
            config.volumes().clone().unwrap(),
            ["/data", "/logs", "/cache"]
        );
        apply_change(&mut config, "EXPOSE 80 53/udp").unwrap();
        assert_eq!(
            config.exposed_ports().clone().unwrap(),
            ["80/tcp", "53/udp"]
        );
        assert!(apply_change(&mut config, "VOLUME relative").is_err());
        assert!(apply_change(&mut config, "EXPOSE http").is_err());
    }
}
