//! A new container's environment, as podman builds it: rpod's defaults and the image's,
//! reworked by `--env-merge`, thinned by `--unsetenv`/`--unsetenv-all`, the host's proxy
//! settings (`--http-proxy`), and the user's own variables last, winning over all.

use crate::{EngineError, Result};

/// rpod's defaults, which the spec adds when the environment lacks them (see
/// `spec::generate`); here so that `--env-merge` can build on them.
const DEFAULTS: &[(&str, &str)] = &[("PATH", crate::spec::DEFAULT_PATH), ("container", "podman")];

/// The host's proxy variables that `--http-proxy` passes on (podman's list).
pub const PROXY_VARIABLES: &[&str] = &[
    "http_proxy",
    "https_proxy",
    "ftp_proxy",
    "no_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "FTP_PROXY",
    "NO_PROXY",
];

/// What a create asks of the environment.
#[derive(Debug, Clone, Default)]
pub struct EnvRequest<'a> {
    /// The image's `Env`.
    pub image: &'a [String],
    /// `-e`, `--env-file`, `--env-host`: `NAME=VALUE` each, the last of a name winning.
    pub user: &'a [String],
    /// `--env-merge NAME=VALUE`: VALUE may name the defaults (`${PATH}`, `$HOME`,
    /// `${X:-word}`).
    pub merge: &'a [String],
    /// `--unsetenv NAME`: a default (rpod's or the image's) left out.
    pub unset: &'a [String],
    /// `--unsetenv-all`: every default left out.
    pub unset_all: bool,
    /// The host's proxy variables to pass on (`--http-proxy`), as `NAME=VALUE`.
    pub proxy: Vec<String>,
}

/// The name of a `NAME=VALUE` entry (the whole entry without `=`).
pub(crate) fn name_of(entry: &str) -> &str {
    entry.split_once('=').map_or(entry, |(name, _)| name)
}

/// Set `entry` (`NAME=VALUE`) in `env`, replacing an earlier one of the same name.
fn set(env: &mut Vec<String>, entry: String) {
    let name = name_of(&entry).to_string();
    env.retain(|e| name_of(e) != name);
    env.push(entry);
}

/// Check `--unsetenv` names and `--env-merge` entries.
pub fn check(merge: &[String], unset: &[String]) -> Result<()> {
    for name in unset {
        if name.is_empty() || name.contains('=') || name.chars().any(char::is_whitespace) {
            return Err(EngineError::InvalidArg(format!(
                "invalid --unsetenv {name:?}: give a variable's name"
            )));
        }
    }
    for entry in merge {
        match entry.split_once('=') {
            Some((name, _)) if !name.is_empty() && !name.chars().any(char::is_whitespace) => {}
            _ => {
                return Err(EngineError::InvalidArg(format!(
                    "invalid --env-merge {entry:?}: use NAME=VALUE"
                )))
            }
        }
    }
    Ok(())
}

/// The environment recorded for the container (the spec adds rpod's defaults still
/// missing, unless unset).
pub fn build(request: &EnvRequest) -> Result<Vec<String>> {
    check(request.merge, request.unset)?;
    // The defaults a merge may read: rpod's, then the image's over them.
    let mut defaults: Vec<String> = DEFAULTS.iter().map(|(k, v)| format!("{k}={v}")).collect();
    for entry in request.image {
        set(&mut defaults, entry.clone());
    }
    let mut merged = Vec::new();
    for entry in request.merge {
        let (name, value) = entry.split_once('=').unwrap_or((entry, ""));
        let lookup = |var: &str| {
            defaults
                .iter()
                .find(|e| name_of(e) == var)
                .and_then(|e| e.split_once('='))
                .map(|(_, v)| v.to_string())
        };
        let value = expand(value, &lookup);
        merged.push(format!("{name}={value}"));
    }
    for entry in merged {
        set(&mut defaults, entry);
    }
    // Only the image's and the merged variables are recorded: rpod's defaults are the
    // spec's to add, so that a container keeps getting them as they are.
    let mut env: Vec<String> = defaults
        .into_iter()
        .filter(|e| {
            let name = name_of(e);
            !DEFAULTS
                .iter()
                .any(|(k, v)| *k == name && e[name.len() + 1..] == **v)
                || request.image.iter().any(|i| i == e)
        })
        .collect();
    if request.unset_all {
        env.clear();
    }
    env.retain(|e| !request.unset.iter().any(|n| n == name_of(e)));
    for entry in &request.proxy {
        set(&mut env, entry.clone());
    }
    for entry in request.user {
        set(&mut env, entry.clone());
    }
    Ok(env)
}

/// Expand `$NAME`, `${NAME}`, `${NAME:-WORD}` (WORD when NAME is unset or empty) and
/// `${NAME:+WORD}` (WORD when it is set and not empty) in `text`, as a Dockerfile's words
/// are (podman's `--env-merge` rules); an unset variable is empty, `\$` a plain `$`.
/// Written here because the crates for this (shellexpand) leave unset variables as they
/// are.
fn expand(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(['$', '\\']) {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if rest[at..].starts_with('\\') {
            match after.strip_prefix('$') {
                Some(tail) => {
                    out.push('$');
                    rest = tail;
                }
                None => {
                    out.push('\\');
                    rest = after;
                }
            }
            continue;
        }
        if let Some(braced) = after.strip_prefix('{') {
            let Some(close) = braced.find('}') else {
                out.push_str(&rest[at..]);
                return out;
            };
            let inner = &braced[..close];
            let value = match inner.split_once(":-").or_else(|| inner.split_once(":+")) {
                Some((name, word)) => {
                    let set = lookup(name).filter(|v| !v.is_empty());
                    if inner[name.len()..].starts_with(":-") {
                        set.unwrap_or_else(|| word.to_string())
                    } else {
                        set.map(|_| word.to_string()).unwrap_or_default()
                    }
                }
                None => lookup(inner).unwrap_or_default(),
            };
            out.push_str(&value);
            rest = &braced[close + 1..];
            continue;
        }
        let length = after.find(|c: char| !is_name(c)).unwrap_or(after.len());
        if length == 0 {
            out.push('$');
        } else {
            out.push_str(&lookup(&after[..length]).unwrap_or_default());
        }
        rest = &after[length..];
    }
    out.push_str(rest);
    out
}

/// This process's environment variables whose name and value are text (UTF-8). A
/// variable that is not is left out: `std::env::vars` would panic on it, and rpod only
/// ever passes such values on as text (`--env-host`, `-e KEY`, the proxy variables).
pub fn host_vars() -> Vec<(String, String)> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}

/// The proxy variables of `vars` (this process's environment, normally).
pub fn proxy_from(vars: impl Iterator<Item = (String, String)>) -> Vec<String> {
    vars.filter(|(k, _)| PROXY_VARIABLES.contains(&k.as_str()))
        .map(|(k, v)| format!("{k}={v}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_user_wins_over_the_image_and_the_proxy() {
        let image = strings(&["PATH=/img", "A=image", "B=image"]);
        let user = strings(&["A=user"]);
        let env = build(&EnvRequest {
            image: &image,
            user: &user,
            proxy: strings(&["http_proxy=http://p:3128", "B=proxy"]),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            env,
            strings(&["PATH=/img", "http_proxy=http://p:3128", "B=proxy", "A=user"])
        );
    }

    #[test]
    fn merges_read_the_defaults() {
        let image = strings(&["GREETING=hello"]);
        let merge = strings(&[
            "PATH=/opt/bin:${PATH}",
            "GREETING=$GREETING world",
            "NEW=${MISSING:-fallback}",
            "EMPTY=[$MISSING]",
        ]);
        let env = build(&EnvRequest {
            image: &image,
            merge: &merge,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            env,
            vec![
                format!("PATH=/opt/bin:{}", crate::spec::DEFAULT_PATH),
                "GREETING=hello world".to_string(),
                "NEW=fallback".to_string(),
                "EMPTY=[]".to_string(),
            ]
        );
    }

    #[test]
    fn words_expand_as_in_a_dockerfile() {
        let lookup = |name: &str| match name {
            "A" => Some("a".to_string()),
            "E" => Some(String::new()),
            _ => None,
        };
        for (text, expanded) in [
            ("$A-${A}-$NONE-${NONE}", "a-a--"),
            ("${E:-d} ${NONE:-d} ${A:-d}", "d d a"),
            ("${A:+w} ${E:+w} ${NONE:+w}", "w  "),
            ("cost \\$A $ $1x \\n", "cost $A $  \\n"),
            ("${unclosed", "${unclosed"),
        ] {
            assert_eq!(expand(text, &lookup), expanded, "{text}");
        }
    }

    #[test]
    fn unset_takes_defaults_but_never_the_users() {
        let image = strings(&["A=1", "B=2", "C=3"]);
        let user = strings(&["C=user"]);
        let unset = strings(&["A", "C"]);
        let env = build(&EnvRequest {
            image: &image,
            user: &user,
            unset: &unset,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(env, strings(&["B=2", "C=user"]));
        let env = build(&EnvRequest {
            image: &image,
            user: &user,
            unset_all: true,
            proxy: strings(&["no_proxy=local"]),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(env, strings(&["no_proxy=local", "C=user"]));
    }

    #[test]
    fn bad_names_are_refused() {
        for (merge, unset) in [
            (vec![], vec!["A=B"]),
            (vec![], vec![""]),
            (vec!["NOVALUE"], vec![]),
            (vec!["=x"], vec![]),
        ] {
            let err = check(&strings(&merge), &strings(&unset)).unwrap_err();
            assert!(err.to_string().contains("invalid --"), "{err}");
        }
    }

    #[test]
    fn only_proxy_variables_pass() {
        let vars = [("HTTPS_PROXY", "h"), ("HOME", "/root"), ("no_proxy", "x")]
            .map(|(k, v)| (k.to_string(), v.to_string()));
        assert_eq!(
            proxy_from(vars.into_iter()),
            strings(&["HTTPS_PROXY=h", "no_proxy=x"])
        );
    }
}
