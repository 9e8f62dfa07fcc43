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

/// One result, with podman's field names (also what a service's libpod search answers).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
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
/// One page of a JSON listing, and the next page's URL when the registry's `Link` header
/// names one (`<URL>; rel="next"`) on the same registry.
fn get_json<T: serde::de::DeserializeOwned>(
    client: &mut RepositoryClient,
    url: &str,
    what: &str,
) -> Result<(T, Option<String>)> {
    let response = client.call("GET", url, &[], &Payload::Empty)?;
    if response.status() == StatusCode::NOT_FOUND {
        return Err(EngineError::RegistryNotFound(format!(
            "registry {}: {what}: not found",
            client.registry
        )));
    }
    let response = client.expect(response, &[StatusCode::OK], what)?;
    let next = response
        .headers()
        .get("link")
        .and_then(|v| v.to_str().ok())
        .and_then(|link| next_link(client, link));
    let body = read_small(response, ANSWER_LIMIT)
        .map_err(|e| registry_error(&client.registry, what, e))?;
    let page = serde_json::from_slice(&body)
        .map_err(|e| registry_error(&client.registry, what, format!("unreadable answer: {e}")))?;
    Ok((page, next))
}

/// The `rel="next"` URL of a `Link` header, resolved against the registry; none when it
/// leads to another host (a registry's word does not send rpod elsewhere).
fn next_link(client: &RepositoryClient, link: &str) -> Option<String> {
    let (target, params) = link.split_once(';')?;
    let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
    if !params.replace(' ', "").contains("rel=\"next\"") {
        return None;
    }
    let url = client.absolute(target);
    url.starts_with(&format!("{}/", client.base_url()))
        .then_some(url)
}

/// The most pages of one listing read (a registry that keeps naming a next page stops
/// there, saying so).
const MOST_PAGES: usize = 100;

/// Every page of a listing from `url` on, each page's items taken by `items`, until there
/// is no next page or `limit` items are in.
fn get_pages<T: serde::de::DeserializeOwned, I>(
    client: &mut RepositoryClient,
    url: String,
    what: &str,
    limit: usize,
    items: impl Fn(T) -> Vec<I>,
) -> Result<Vec<I>> {
    let mut all = Vec::new();
    let mut next = Some(url);
    let mut pages = 0;
    while let Some(url) = next.take() {
        if pages == MOST_PAGES {
            return Err(registry_error(
                &client.registry,
                what,
                format!("more than {MOST_PAGES} pages"),
            ));
        }
        pages += 1;
        let (page, following) = get_json(client, &url, what)?;
        all.extend(items(page));
        if all.len() >= limit {
            all.truncate(limit);
            break;
        }
        next = following;
    }
    Ok(all)
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
    let repositories = get_pages(
        &mut client,
        url,
        "listing its repositories",
        usize::MAX,
        |catalog: Catalog| catalog.repositories,
    )?;
    Ok(repositories
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
    let tags = get_pages(&mut client, url, "listing tags", limit, |page: Tags| {
        page.tags.unwrap_or_default()
    })?;
    let name = format!("{registry}/{repository}");
    Ok(tags
        .into_iter()
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
