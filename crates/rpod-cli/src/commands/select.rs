//! How lifecycle commands pick their containers, as podman's do: by name or ID, from
//! `--cidfile` files, `--all` eligible ones, the `--latest` created, or those passing
//! `--filter`s (ps's filter keys).

use std::path::PathBuf;

use rpod_engine::{ContainerRecord, Engine};

use crate::exit::{usage, Failure};

use super::container::validate_filter;

/// What the user asked for; each command fills in the flags it has.
#[derive(Debug, Default)]
pub struct Selection {
    pub names: Vec<String>,
    pub all: bool,
    pub latest: bool,
    pub cidfiles: Vec<PathBuf>,
    pub filters: Vec<String>,
}

impl crate::cli::PickArgs {
    /// The selection these flags make, with the command's `--all` and `--filter`s.
    pub fn selection(self, all: bool, filters: Vec<String>) -> Selection {
        Selection {
            names: self.containers,
            all,
            latest: self.latest,
            cidfiles: self.cidfile,
            filters,
        }
    }
}

impl crate::cli::StartArgs {
    /// The selection `start`'s flags make (it has no `--cidfile`).
    pub fn selection(&self) -> Selection {
        Selection {
            names: self.containers.clone(),
            all: self.all,
            latest: self.latest,
            filters: self.filter.clone(),
            ..Selection::default()
        }
    }
}

/// What a selection asks for, before any container is looked at.
pub enum Picked {
    /// The containers named, and those whose IDs the `--cidfile`s hold.
    Named(Vec<String>),
    /// The latest created.
    Latest,
    /// Every eligible container (`--all`), or those the `--filter`s pass.
    Listed,
}

impl Selection {
    /// The flags checked against each other, and the `--cidfile`s read.
    pub fn picked(&self) -> Result<Picked, Failure> {
        for filter in &self.filters {
            validate_filter(filter)?;
        }
        let mut targets = self.names.clone();
        for file in &self.cidfiles {
            // A missing file is an error even with --ignore, as in podman.
            let text = std::fs::read_to_string(file)
                .map_err(|e| usage(format!("reading CIDFile {}: {e}", file.display())))?;
            targets.push(text.trim().to_string());
        }
        let named = !targets.is_empty() || !self.cidfiles.is_empty();
        if self.all && named {
            return Err(usage("no arguments are needed with --all"));
        }
        if self.latest && (named || self.all) {
            return Err(usage(
                "--all, --latest, and containers cannot be used together",
            ));
        }
        if !self.filters.is_empty() && named {
            return Err(usage("--filter takes no arguments"));
        }
        if named {
            return Ok(Picked::Named(targets));
        }
        if self.latest {
            return Ok(Picked::Latest);
        }
        if self.filters.is_empty() && !self.all {
            return Err(usage("you must provide at least one name or id"));
        }
        Ok(Picked::Listed)
    }

    /// The containers to act on, each as the user named it (a name or ID as given; a full
    /// ID otherwise, as podman prints them). `eligible` narrows `--all`.
    pub fn resolve(
        self,
        engine: &Engine,
        eligible: impl Fn(&ContainerRecord) -> bool,
    ) -> Result<Vec<String>, Failure> {
        match self.picked()? {
            Picked::Named(targets) => return Ok(targets),
            Picked::Latest => return Ok(vec![latest_id(engine)?]),
            Picked::Listed => {}
        }
        let mut records = engine.list()?;
        records.sort_by_key(|r| r.config.created);
        // `pod=` takes a pod's name and `network=` a network's ID, as ps's do.
        let filters = engine.resolve_container_filters(&self.filters)?;
        Ok(records
            .iter()
            .filter(|r| {
                if filters.is_empty() {
                    eligible(r)
                } else {
                    rpod_engine::container_filters::matches_all(r, &filters, &records)
                }
            })
            .map(|r| r.id().to_string())
            .collect())
    }
}

/// The ID of the most recently created container (`--latest`).
pub fn latest_id(engine: &Engine) -> Result<String, Failure> {
    engine
        .list()?
        .into_iter()
        .max_by_key(|r| r.config.created)
        .map(|r| r.id().to_string())
        .ok_or_else(|| usage("no containers to act on: there are none"))
}

/// A single-container command's words (`exec`, `top`, `port`): with `--latest` they are
/// all the command's own and the container is the latest; without it the first names it.
pub fn container_and_rest(
    engine: &Engine,
    latest: bool,
    words: &[String],
) -> Result<(String, Vec<String>), Failure> {
    if latest {
        return Ok((latest_id(engine)?, words.to_vec()));
    }
    let (container, rest) = words
        .split_first()
        .ok_or_else(|| usage("give a container (or --latest)"))?;
    Ok((container.clone(), rest.to_vec()))
}

/// A single container named, or the latest (`attach`, `diff`).
pub fn one_container(engine: &Engine, latest: bool, name: Option<&str>) -> Result<String, Failure> {
    match (latest, name) {
        (true, None) => latest_id(engine),
        (false, Some(name)) => Ok(name.to_string()),
        (true, Some(_)) => Err(usage("--latest and containers cannot be used together")),
        (false, None) => Err(usage("give a container (or --latest)")),
    }
}
