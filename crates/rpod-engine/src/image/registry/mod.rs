//! A client of container registries (the OCI distribution API): pull, push, search, login
//! and logout, as podman does them. Registries are strangers: every document's size is bounded
//! and every blob is checked against the digest that named it before it is used.

mod auth_file;
mod challenge;
mod client;
mod cred_helper;
pub(crate) mod manifest;
mod pull;
mod push;
mod search;
mod signatures;

pub use auth_file::{default_path as default_auth_file, find_credentials, AuthFile, Credentials};
pub use client::{system_ca_bundle, web_agent, RegistryOptions};
pub use pull::{fetch_manifest_of, pull, remote_manifests, PullOptions, RemoteManifest};
pub use push::{
    image_manifest, push, push_list, LayerCompression, ManifestFormat, PushOptions, PushSource,
};
pub use search::{list_tags, search, SearchFilter, SearchResult};
pub use signatures::store_in_lookaside;

use crate::Result;

/// Check the credentials of `options` against `registry` without saving them (the
/// Docker API's `/auth`).
pub fn check_login(registry: &str, options: &RegistryOptions) -> Result<()> {
    client::RepositoryClient::check_login(registry, options)
}

/// Check `credentials` against `registry` and save them for it (or for a repository path
/// below it, when `key` names one); returns the file written.
pub fn login(key: &str, options: &RegistryOptions) -> Result<std::path::PathBuf> {
    let registry = key.split('/').next().unwrap_or(key);
    let credentials = options.credentials.clone().ok_or_else(|| {
        crate::EngineError::InvalidArg("login needs a user name and password".into())
    })?;
    client::RepositoryClient::check_login(registry, options)?;
    let path = options.auth_file_path();
    let mut file = AuthFile::open(&path)?;
    // A registry the file gives a credential helper keeps its credentials there, as
    // podman's login does.
    if let Some(helper) = file.cred_helper(registry) {
        cred_helper::store(helper, registry, &credentials)?;
        return Ok(path);
    }
    file.set(key, &credentials);
    file.save()?;
    Ok(path)
}

/// The saved user name for `key` (a registry, or a registry and namespace), if any
/// (`login --get-login`).
pub fn saved_login(key: &str, options: &RegistryOptions) -> Result<Option<String>> {
    let (registry, below) = key.split_once('/').unwrap_or((key, ""));
    Ok(
        auth_file::find_credentials(&options.auth_file_path(), registry, below)?
            .map(|c| c.username),
    )
}

/// Forget the credentials saved for `key`, or all of them. Whether there were any.
pub fn logout(key: Option<&str>, options: &RegistryOptions) -> Result<bool> {
    let path = options.auth_file_path();
    let mut file = AuthFile::open(&path)?;
    let removed = match key {
        Some(key) => {
            let registry = key.split('/').next().unwrap_or(key);
            let erased = match file.cred_helper(registry) {
                Some(helper) if registry == key => cred_helper::erase(helper, registry)?,
                _ => false,
            };
            file.remove(key) || erased
        }
        None => {
            file.clear();
            true
        }
    };
    if removed {
        file.save()?;
    }
    Ok(removed)
}

/// A registry from what a user typed for login/logout: `host[:port][/path]`, a URL or
/// docker's Hub URL; the path part is kept (credentials for a namespace).
pub fn login_key(text: &str) -> Result<String> {
    let trimmed = text
        .trim()
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/');
    let key = match trimmed {
        "index.docker.io/v1" | "index.docker.io" | "registry-1.docker.io" => "docker.io",
        other => other,
    };
    let host = key.split('/').next().unwrap_or("");
    let valid_host = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    if !valid_host {
        return Err(crate::EngineError::InvalidArg(format!(
            "{text:?} is not a registry (HOST[:PORT][/NAMESPACE])"
        )));
    }
    Ok(key.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_keys_are_hosts_with_an_optional_namespace() {
        assert_eq!(login_key("https://r.io:5000/").unwrap(), "r.io:5000");
        assert_eq!(login_key("r.io/team").unwrap(), "r.io/team");
        assert_eq!(
            login_key("https://index.docker.io/v1/").unwrap(),
            "docker.io"
        );
        assert!(login_key("").is_err());
        assert!(login_key("a b").is_err());
    }
}
