//! Searching registries, as podman's `search` does: Docker Hub through its search API, any
//! other registry through its catalog (`/v2/_catalog`, filtered by the term), and the tags
//! of one repository (`--list-tags`, `/v2/NAME/tags/list`).

use serde::{Deserialize, Serialize};
use ureq::http::StatusCode;

use super::client::{read_small, registry_error, Payload, RegistryOptions, RepositoryClient};
use crate::image::reference::DEFAULT_DOMAIN;
use crate::{EngineError, Result};

/// Docker Hub's search API (not part of the distribution API).
const DOCKER_HUB_SEARCH: &str = "https://index.docker.io/v1/search";
/// Answers larger than this are refused.
const ANSWER_LIMIT: u64 = 8 << 20;

/// One result, with podman's field names.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct SearchResult {
    /// The registry.
    pub index: String,
    /// `registry/repository`.
    pub name: String,
    pub description: String,
    pub stars: u64,
    /// `[OK]` for an official image, as podman prints it.
    pub official: String,
    /// `[OK]` for an automated build.
    pub automated: String,
    /// The tag (`--list-tags` only).
    pub tag: String,
}

/// What `--filter` keeps.
#[derive(Debug, Clone, Default)]
pub struct SearchFilter {
    pub min_stars: u64,
    pub official: Option<bool>,
    pub automated: Option<bool>,
}

impl SearchFilter {
    /// From `stars=N`, `is-official=BOOL`, `is-automated=BOOL`.
    pub fn parse(filters: &[String]) -> Result<SearchFilter> {
        let mut filter = SearchFilter::default();
        for text in filters {
            let bad = || EngineError::InvalidArg(format!("invalid filter {text:?}"));
            let (key, value) = text.split_once('=').ok_or_else(bad)?;
            let flag = || value.parse::<bool>().map_err(|_| bad());
            match key {
                "stars" => filter.min_stars = value.parse().map_err(|_| bad())?,
                "is-official" => filter.official = Some(flag()?),
                "is-automated" => filter.automated = Some(flag()?),
                _ => {
                    return Err(EngineError::InvalidArg(format!(
                        "invalid filter {text:?}: the keys are stars, is-official and is-automated"
                    )))
                }
            }
        }
        Ok(filter)
    }

    fn keeps(&self, result: &SearchResult) -> bool {
        result.stars >= self.min_stars
            && self
                .official
                .is_none_or(|o| o != result.official.is_empty())
            && self
                .automated
                .is_none_or(|a| a != result.automated.is_empty())
    }
}

fn ok_mark(flag: bool) -> String {
    if flag { "[OK]" } else { "" }.to_string()
}

/// Search `registry` for `term` (at most `limit` results).
pub fn search(
    registry: &str,
    term: &str,
    limit: usize,
    filter: &SearchFilter,
    options: &RegistryOptions,
) -> Result<Vec<SearchResult>> {
    let found = if registry == DEFAULT_DOMAIN {
        search_docker_hub(term, limit, options)?
    } else {
        search_catalog(registry, term, options)?
    };
    Ok(found
        .into_iter()
        .filter(|r| filter.keeps(r))
        .take(limit)
        .collect())
}

fn search_docker_hub(
    term: &str,
    limit: usize,
    options: &RegistryOptions,
) -> Result<Vec<SearchResult>> {
    #[derive(Deserialize)]
    struct Answer {
        #[serde(default)]
        results: Vec<Hit>,
    }
    #[derive(Deserialize)]
    struct Hit {
        name: String,
        #[serde(default)]
        description: String,
        #[serde(default)]
        star_count: u64,
        #[serde(default)]
        is_official: bool,
        #[serde(default)]
        is_automated: bool,
    }
    let agent = super::client::plain_agent(options.tls_verify.unwrap_or(true));
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("q", term)
        .append_pair("n", &limit.max(1).to_string())
        .finish();
    let response = agent
        .get(format!("{DOCKER_HUB_SEARCH}?{query}"))
        .call()
        .map_err(|e| registry_error(DEFAULT_DOMAIN, "searching", e))?;
    let status = response.status();
    let body = read_small(response, ANSWER_LIMIT)
        .map_err(|e| registry_error(DEFAULT_DOMAIN, "searching", e))?;
    if status != StatusCode::OK {
        return Err(registry_error(
            DEFAULT_DOMAIN,
            "searching",
            format!("answered {status}"),
        ));
    }
    let answer: Answer = serde_json::from_slice(&body).map_err(|e| {
        registry_error(
            DEFAULT_DOMAIN,
            "searching",
            format!("unreadable answer: {e}"),
        )
    })?;
    Ok(answer
        .results
        .into_iter()
        .map(|hit| {
            let path = if hit.name.contains('/') {
                hit.name
            } else {
                format!("library/{}", hit.name)
            };
            SearchResult {
                index: DEFAULT_DOMAIN.into(),
                name: format!("{DEFAULT_DOMAIN}/{path}"),
                description: hit.description,
                stars: hit.star_count,
                official: ok_mark(hit.is_official),
                automated: ok_mark(hit.is_automated),
                tag: String::new(),
            }
        })
        .collect())
}

/// Read a small JSON answer of the registry's API, or fail with its words.
fn get_json<T: serde::de::DeserializeOwned>(
    client: &mut RepositoryClient,
    url: &str,
    what: &str,
) -> Result<T> {
    let response = client.call("GET", url, &[], &Payload::Empty)?;
    if response.status() == StatusCode::NOT_FOUND {
        return Err(EngineError::RegistryNotFound(format!(
            "registry {}: {what}: not found",
            client.registry
        )));
    }
    let response = client.expect(response, &[StatusCode::OK], what)?;
    let body = read_small(response, ANSWER_LIMIT)
        .map_err(|e| registry_error(&client.registry, what, e))?;
    serde_json::from_slice(&body)
        .map_err(|e| registry_error(&client.registry, what, format!("unreadable answer: {e}")))
}

fn search_catalog(
    registry: &str,
    term: &str,
    options: &RegistryOptions,
) -> Result<Vec<SearchResult>> {
    #[derive(Deserialize)]
    struct Catalog {
        #[serde(default)]
        repositories: Vec<String>,
    }
    let mut client = RepositoryClient::connect_for_catalog(registry, options)?;
    let url = client.api_url("_catalog?n=1000");
    let catalog: Catalog = get_json(&mut client, &url, "listing its repositories")?;
    Ok(catalog
        .repositories
        .into_iter()
        .filter(|r| r.contains(term))
        .map(|r| SearchResult {
            index: registry.to_string(),
            name: format!("{registry}/{r}"),
            ..SearchResult::default()
        })
        .collect())
}

/// The tags of `repository` on `registry` (at most `limit`).
pub fn list_tags(
    registry: &str,
    repository: &str,
    limit: usize,
    options: &RegistryOptions,
) -> Result<Vec<SearchResult>> {
    #[derive(Deserialize)]
    struct Tags {
        #[serde(default)]
        tags: Option<Vec<String>>,
    }
    let mut client = RepositoryClient::connect(registry, repository, false, options)?;
    let url = client.url("tags/list");
    let tags: Tags = get_json(&mut client, &url, "listing tags")?;
    let name = format!("{registry}/{repository}");
    Ok(tags
        .tags
        .unwrap_or_default()
        .into_iter()
        .take(limit)
        .map(|tag| SearchResult {
            index: registry.to_string(),
            name: name.clone(),
            tag,
            ..SearchResult::default()
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_keep_what_they_say() {
        let filter = SearchFilter::parse(&["stars=3".into(), "is-official=true".into()]).unwrap();
        let mut hit = SearchResult {
            stars: 5,
            official: ok_mark(true),
            ..SearchResult::default()
        };
        assert!(filter.keeps(&hit));
        hit.stars = 2;
        assert!(!filter.keeps(&hit));
        hit.stars = 9;
        hit.official = ok_mark(false);
        assert!(!filter.keeps(&hit));
        assert!(SearchFilter::parse(&["stars=x".into()]).is_err());
        assert!(SearchFilter::parse(&["color=red".into()]).is_err());
        assert!(SearchFilter::parse(&["is-automated".into()]).is_err());
    }
}
