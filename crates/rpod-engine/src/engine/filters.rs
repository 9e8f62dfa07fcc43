//! Filter values that name another object by name or ID, turned into the form the
//! filters compare (`container_filters`, `PodView::passes`), once per listing.

use std::collections::HashMap;

use super::Engine;
use crate::Result;

impl Engine {
    /// Container filters with `pod=NAME` made `pod=ID` and `network=ID` made
    /// `network=NAME`: both filters take either, as podman's do.
    pub fn resolve_container_filters(&self, filters: &[String]) -> Result<Vec<String>> {
        let filters = if filters.iter().any(|f| f.starts_with("pod=")) {
            crate::container_filters::with_pod_ids(filters, &self.pods()?)
        } else {
            filters.to_vec()
        };
        Ok(filters
            .into_iter()
            .map(|filter| match filter.strip_prefix("network=") {
                Some(value) => format!("network={}", self.network_name_for_filter(value)),
                None => filter,
            })
            .collect())
    }

    /// `pod ps` filters with each `network=ID` made `network=NAME`.
    pub fn resolve_pod_filters(
        &self,
        mut filters: HashMap<String, Vec<String>>,
    ) -> HashMap<String, Vec<String>> {
        if let Some(values) = filters.get_mut("network") {
            for value in values {
                *value = self.network_name_for_filter(value);
            }
        }
        filters
    }

    /// The name of the network a filter value names (its name, its ID or a prefix of
    /// it). A value that names none is kept: it matches nothing, as podman's.
    pub fn network_name_for_filter(&self, value: &str) -> String {
        if value == self.default_network_name() {
            return value.to_string();
        }
        match self.definitions().get(value) {
            Ok(network) => network.name,
            Err(_) => value.to_string(),
        }
    }
}
