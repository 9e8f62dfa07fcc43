//! Pulls and pushes of the engine: names resolved (a short name through the search
//! registries of rpod.conf), the insecure registries it lists applied, the image lock
//! held while the store changes (not while layers download), events recorded.

use super::Engine;
use crate::image::policy::{Named, Policy};
use crate::image::reference::Reference;
use crate::image::registries_conf::RegistriesConf;
use crate::image::registries_d::{self, Lookaside};
use crate::image::registry::{self, PullOptions, PushOptions, RegistryOptions};
use crate::image::simple_signing;
use crate::image::{self, ImageRecord};
use crate::{EngineError, Result};

/// Transports of containers/image that name something other than a registry.
const OTHER_TRANSPORTS: &[&str] = &[
    "containers-storage",
    "dir",
    "docker-archive",
    "docker-daemon",
    "oci",
    "oci-archive",
    "ostree",
    "sif",
    "tarball",
];

/// A reference as typed, with `docker://` taken off; other transports are refused (those
/// a push writes locally are taken before: `LocalSource`).
pub(super) fn registry_reference(text: &str) -> Result<Reference> {
    let plain = text.strip_prefix("docker://").unwrap_or(text);
    if let Some((transport, _)) = plain.split_once(':') {
        if OTHER_TRANSPORTS.contains(&transport) {
            return Err(EngineError::NotSupported(format!(
                "the {transport}: transport (use load, save or import for archives)"
            )));
        }
    }
    Reference::parse(plain)
}

impl Engine {
    /// The signature policy images coming in are judged by (rpod.conf's
    /// `[image] signature_policy`, else containers/image's own choice of file).
    pub fn signature_policy(&self) -> Result<Policy> {
        Policy::load(self.options.config.image.signature_policy.as_deref())
    }

    /// containers/image's registries.conf and its drop-ins (read at each use, as the
    /// signature policy is: an edit applies to the service's next request).
    pub fn registries_conf(&self) -> Result<RegistriesConf> {
        RegistriesConf::load(self.options.config.registries.conf.as_deref())
    }

    /// The registries short names are searched in: rpod.conf's `search`, else
    /// registries.conf's `unqualified-search-registries`, else Docker Hub.
    pub fn search_registries(&self) -> Result<Vec<String>> {
        Ok(self.search_registries_of(&self.registries_conf()?))
    }

    /// `search_registries` with registries.conf already read.
    pub(super) fn search_registries_of(&self, conf: &RegistriesConf) -> Vec<String> {
        match (&self.options.config.registries.search, conf.search()) {
            (Some(search), _) => search.clone(),
            (None, Some(search)) => search.to_vec(),
            (None, None) => self.options.config.search_registries(),
        }
    }

    /// `options` for `registry`, with the insecure registries of rpod.conf and
    /// registries.conf applied when the caller did not say; a registry registries.conf
    /// blocks is refused.
    pub(super) fn options_for(
        &self,
        registry: &str,
        options: &RegistryOptions,
    ) -> Result<RegistryOptions> {
        self.options_in(&self.registries_conf()?, registry, options)
    }

    /// `options_for` with registries.conf already read (one read per operation).
    fn options_in(
        &self,
        conf: &RegistriesConf,
        registry: &str,
        options: &RegistryOptions,
    ) -> Result<RegistryOptions> {
        conf.check_not_blocked(registry)?;
        let mut options = options.clone();
        if options.tls_verify.is_none()
            && (self.options.config.is_insecure_registry(registry) || conf.is_insecure(registry))
        {
            options.tls_verify = Some(false);
        }
        Ok(options)
    }

    /// `options` for a push to `destination`, with rpod.conf's settings where the caller
    /// gave none (its insecure registries, its registries.d); a destination registries.conf
    /// blocks is refused.
    pub(super) fn push_options_for(
        &self,
        destination: &Reference,
        options: &PushOptions,
    ) -> Result<PushOptions> {
        let (registry, path) = destination.repository(image::reference::DEFAULT_DOMAIN);
        let conf = self.registries_conf()?;
        conf.check_not_blocked(&format!("{registry}/{path}"))?;
        let mut these = options.clone();
        these.registry = self.options_in(&conf, &registry, &options.registry)?;
        if these.registries_d.is_none() {
            these.registries_d = self.options.config.image.registries_d.clone();
        }
        Ok(these)
    }

    /// The full names `text` may be pulled as: its own registry; for a short name, the
    /// name registries.conf gives it as an alias, else each search registry (rpod.conf's,
    /// else registries.conf's, else Docker Hub).
    pub fn pull_candidates(&self, text: &str) -> Result<Vec<(Reference, String)>> {
        self.candidates_in(&self.registries_conf()?, text)
    }

    /// `pull_candidates` with registries.conf already read.
    fn candidates_in(&self, conf: &RegistriesConf, text: &str) -> Result<Vec<(Reference, String)>> {
        let mut reference = registry_reference(text)?;
        if reference.domain.is_none() {
            if let Some(alias) = conf.alias(&reference.path) {
                let target = Reference::parse(alias)?;
                reference.domain = target.domain;
                reference.path = target.path;
            }
        }
        let registries = match &reference.domain {
            Some(domain) => vec![domain.clone()],
            None => self.search_registries_of(conf),
        };
        if registries.is_empty() {
            return Err(EngineError::InvalidArg(format!(
                "short name {text:?} cannot be pulled: no search registries are configured (rpod.conf, registries.conf)"
            )));
        }
        Ok(registries
            .into_iter()
            .map(|registry| (reference.clone(), registry))
            .collect())
    }

    /// `attempt` on each registry `text` may be pulled from (its own, or each search
    /// registry), with the settings of rpod.conf and `conf` (registries.conf, read by the
    /// caller once for the whole operation) for it over `options`, until one succeeds. One
    /// failure is returned as it is; several are joined (not found when no registry had it).
    pub(super) fn on_first_registry<T>(
        &self,
        conf: &RegistriesConf,
        text: &str,
        options: &RegistryOptions,
        mut attempt: impl FnMut(&Reference, &str, &RegistryOptions) -> Result<T>,
    ) -> Result<T> {
        let mut failures: Vec<EngineError> = Vec::new();
        for (reference, registry) in self.candidates_in(conf, text)? {
            let (host, path) = reference.repository(&registry);
            conf.check_not_blocked(&format!("{host}/{path}"))?;
            let these = self.options_in(conf, &registry, options)?;
            match attempt(&reference, &registry, &these) {
                Ok(found) => return Ok(found),
                Err(e) => failures.push(e),
            }
        }
        if failures.len() == 1 {
            return Err(failures.remove(0));
        }
        let all_unknown = failures
            .iter()
            .all(|e| matches!(e, EngineError::RegistryNotFound(_)));
        let text = failures
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("; ");
        Err(if all_unknown {
            EngineError::RegistryNotFound(text)
        } else {
            EngineError::Registry(text)
        })
    }

    /// Pull an image and record it under its full name. A short name is tried on each
    /// search registry in turn; the first that has it wins. `progress` gets podman's lines.
    /// A local transport's image (`oci-archive:app.tar`) is loaded from its file or
    /// directory instead (`pull_local`).
    pub fn pull_image(
        &self,
        text: &str,
        options: &PullOptions,
        progress: &mut dyn FnMut(&str),
    ) -> Result<ImageRecord> {
        if let Some(source) = super::LocalSource::parse(text) {
            return self.pull_local(&source);
        }
        let policy = self.signature_policy()?;
        let conf = self.registries_conf()?;
        self.on_first_registry(
            &conf,
            text,
            &options.registry,
            |reference, registry, reach| {
                let name = reference.render(registry);
                progress(&format!("Trying to pull {name}..."));
                let these = PullOptions {
                    registry: reach.clone(),
                    registries_d: options
                        .registries_d
                        .clone()
                        .or_else(|| self.options.config.image.registries_d.clone()),
                    sources: self.pull_sources(&conf, reference, registry, &options.registry)?,
                    ..options.clone()
                };
                let record = registry::pull(
                    &self.store,
                    &self.roots,
                    reference,
                    registry,
                    &these,
                    &policy,
                    progress,
                    || self.image_lock(),
                )?;
                self.image_event(&record.id, "pull", &name);
                Ok(record)
            },
        )
    }

    /// Where registries.conf says `reference` (on `registry`) is fetched from: its mirrors
    /// for such a pull, then its location; empty when that is only the name itself.
    fn pull_sources(
        &self,
        conf: &RegistriesConf,
        reference: &Reference,
        registry: &str,
        options: &RegistryOptions,
    ) -> Result<Vec<(Reference, String, RegistryOptions)>> {
        let (host, path) = reference.repository(registry);
        let name = format!("{host}/{path}");
        let sources = conf.pull_sources(&name, reference.digest.is_some());
        if sources.len() == 1 && sources[0].name == name {
            return Ok(Vec::new());
        }
        let suffix = match (&reference.tag, &reference.digest) {
            (_, Some(digest)) => format!("@{digest}"),
            (Some(tag), None) => format!(":{tag}"),
            (None, None) => format!(":{}", image::reference::DEFAULT_TAG),
        };
        sources
            .into_iter()
            .map(|source| {
                let at = Reference::parse(&format!("{}{suffix}", source.name))?;
                let at_registry = at.domain.clone().unwrap_or_else(|| host.clone());
                let mut reach = self.options_in(conf, &at_registry, options)?;
                if source.insecure && options.tls_verify.is_none() {
                    reach.tls_verify = Some(false);
                }
                Ok((at, at_registry, reach))
            })
            .collect()
    }

    /// `pull --all-tags`: every tag of the repository `text` names (without a tag or
    /// digest), from its registry or the first search registry that lists its tags.
    pub fn pull_all_tags(
        &self,
        text: &str,
        options: &PullOptions,
        progress: &mut dyn FnMut(&str),
    ) -> Result<Vec<ImageRecord>> {
        let reference = registry_reference(text)?;
        if reference.tag.is_some() || reference.digest.is_some() {
            return Err(EngineError::InvalidArg(format!(
                "{text}: --all-tags takes a repository, without a tag or digest"
            )));
        }
        let mut failures = Vec::new();
        let conf = self.registries_conf()?;
        for (reference, registry) in self.candidates_in(&conf, text)? {
            let (host, repository) = reference.repository(&registry);
            let listing = self.options_in(&conf, &host, &options.registry)?;
            let tags = match registry::list_tags(&host, &repository, usize::MAX, &listing) {
                Ok(tags) => tags,
                Err(e) => {
                    failures.push(e.to_string());
                    continue;
                }
            };
            let mut pulled = Vec::new();
            for found in tags {
                let name = format!("{host}/{repository}:{}", found.tag);
                pulled.push(self.pull_image(&name, options, progress)?);
            }
            return Ok(pulled);
        }
        Err(EngineError::Registry(failures.join("; ")))
    }

    /// `image sign`: GPG simple signing signatures, by `key` of the user's keyring, of the
    /// manifest `text` names on its registry (and with `all`, of each manifest a list
    /// names), written to `directory` laid out as a lookaside store, else to the staging
    /// store registries.d names for it. Returns the files written.
    pub fn sign_image(
        &self,
        text: &str,
        key: &str,
        directory: Option<&std::path::Path>,
        all: bool,
        options: &RegistryOptions,
    ) -> Result<Vec<std::path::PathBuf>> {
        self.on_first_registry(
            &self.registries_conf()?,
            text,
            options,
            |reference, registry, reach| {
                let (bytes, content_type) =
                    registry::fetch_manifest_of(reference, registry, reach)?;
                let named = Named::pulled(reference, registry);
                let mut digests = vec![registry::manifest::sha256_of(&bytes)];
                if all {
                    if let registry::manifest::Document::Index(index) =
                        registry::manifest::parse(&content_type, &bytes, &named.full())?
                    {
                        for entry in index.manifests() {
                            digests
                                .push(registry::manifest::checked_digest(entry.digest().as_ref())?);
                        }
                    }
                }
                let base = match directory {
                    Some(dir) => {
                        let (_, path) = reference.repository(registry);
                        format!("file://{}/{path}", dir.display())
                    }
                    None => Lookaside::load(&registries_d::dir(
                        self.options.config.image.registries_d.as_deref(),
                    ))?
                    .write_base_for(&named),
                };
                digests
                    .iter()
                    .map(|digest| {
                        let signature = simple_signing::sign(key, digest, &named.full(), None)
                            .map_err(EngineError::InvalidArg)?;
                        registry::store_in_lookaside(&base, digest, &signature)
                    })
                    .collect()
            },
        )
    }

    /// Push the image `source` names to `destination` (or to its own name when that has a
    /// registry); returns the pushed manifest's digest.
    pub fn push_image(
        &self,
        source: &str,
        destination: Option<&str>,
        options: &PushOptions,
        progress: &mut dyn FnMut(&str),
    ) -> Result<String> {
        if let Some(target) = destination.and_then(super::LocalSource::parse) {
            self.push_to_local(source, &target, options)?;
            return Ok(String::new());
        }
        // The image's files are opened under the image lock and read from those descriptors
        // after it: a long upload does not hold other image work up, and an `rmi` meanwhile
        // does not break it.
        let (record, opened) = {
            let _lock = self.image_lock()?;
            let record = self.resolve_image(source)?;
            let opened = registry::PushSource::open(&self.roots, &record)?;
            (record, opened)
        };
        let target_text = match destination {
            Some(d) => d.to_string(),
            None => {
                let names = self.image_names(&record.id)?;
                image::reference::lookup_candidates(source)
                    .ok()
                    .and_then(|c| c.into_iter().find(|n| names.contains(n)))
                    .ok_or_else(|| {
                        EngineError::InvalidArg(format!(
                            "{source}: give a destination (REGISTRY/REPOSITORY[:TAG]) to push an image named by its ID"
                        ))
                    })?
            }
        };
        let destination = registry_reference(&target_text)?;
        // A destination without a registry is Docker Hub's, as podman's.
        let registry = destination
            .domain
            .clone()
            .unwrap_or_else(|| image::reference::DEFAULT_DOMAIN.to_string());
        if registry == image::reference::LOCAL_DOMAIN {
            return Err(EngineError::InvalidArg(format!(
                "{target_text}: localhost/ names a local image, not a registry: give a destination like localhost:5000/{}",
                destination.path
            )));
        }
        let these = self.push_options_for(&destination, options)?;
        let digest = registry::push(&self.roots, &record, opened, &destination, &these, progress)?;
        self.image_event(
            &record.id,
            "push",
            &destination.render(image::reference::DEFAULT_DOMAIN),
        );
        Ok(digest)
    }

    /// A push to a transport of this host (`dir:`, `oci:`, `docker-archive:`,
    /// `oci-archive:`, with `:NAME` for the last three): the image written there as `save`
    /// writes it, under NAME when given. `dir:` and docker-archive get a Docker manifest,
    /// the OCI ones an OCI manifest; a `--format` asking for the other is refused, as are
    /// signatures (a registry's) and any compression but gzip of `dir:`'s layers.
    fn push_to_local(
        &self,
        source: &str,
        target: &super::LocalSource,
        options: &PushOptions,
    ) -> Result<()> {
        let format = target.format;
        let place = format!("{}{}", format.transport(), target.path.display());
        let refuse = |why: String| Err(EngineError::InvalidArg(why));
        if options.sign_with.is_some() || options.sign_by_gpg.is_some() {
            return refuse(format!(
                "signatures are for a push to a registry, not to {place}"
            ));
        }
        let (writes, written) = match format {
            image::ArchiveFormat::DockerDir | image::ArchiveFormat::DockerArchive => {
                (registry::ManifestFormat::DockerV2s2, "Docker's (v2s2)")
            }
            image::ArchiveFormat::OciDir | image::ArchiveFormat::OciArchive => {
                (registry::ManifestFormat::Oci, "an OCI one")
            }
        };
        if options.format.is_some_and(|asked| asked != writes) {
            return refuse(format!(
                "{place} gets {written} manifest, not the format asked for"
            ));
        }
        if options.compress_directory && format != image::ArchiveFormat::DockerDir {
            return refuse(format!("--compress is for a dir: destination, not {place}"));
        }
        let refused_compression = match options.compression {
            registry::LayerCompression::Zstd => Some("zstd"),
            registry::LayerCompression::None if options.compress_directory => Some("none"),
            _ => None,
        };
        if let Some(compression) = refused_compression {
            return refuse(format!(
                "--compression-format {compression}: {place} gets the layers as stored, or gzip-compressed with --compress (dir: only)"
            ));
        }
        let (record, mut names) = self.image_for_save(source)?;
        if let Some(name) = &target.reference {
            // A docker-archive's names are image references (an OCI layout's, any tag).
            if format == image::ArchiveFormat::DockerArchive {
                Reference::parse(name)?;
            }
            names = vec![name.clone()];
        }
        let images = [(record, names)];
        if format.is_directory() {
            return self.save_image_directory(
                &images,
                format,
                &target.path,
                options.compress_directory,
            );
        }
        // Written unnamed and named when whole, as `save -o` writes: a failed push leaves
        // no half archive (nor takes an earlier one's place).
        let dir = target
            .path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."));
        let file = crate::scratch::unnamed_file(dir)?;
        let mut out = std::io::BufWriter::new(&file);
        self.save_images(&images, format, false, &mut out)?;
        std::io::Write::flush(&mut out).map_err(|e| EngineError::io("writing", &target.path, e))?;
        drop(out);
        crate::scratch::replace_with_unnamed(&file, &target.path)
    }
}

/// A search term split into its registry (when it names one, as `quay.io/fedora`) and
/// what is searched for there.
fn split_search_term(term: &str) -> (Option<&str>, &str) {
    match term.split_once('/') {
        Some((first, rest))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            (Some(first), rest)
        }
        _ => (None, term),
    }
}

impl Engine {
    /// Search the registry the term names, or every search registry, as podman's
    /// `search`; with `list_tags`, the tags of the repository the term names. A registry
    /// that fails is left out when another answers; when none does, the failures are the
    /// error.
    pub fn search_images(
        &self,
        term: &str,
        limit: usize,
        filter: &registry::SearchFilter,
        list_tags: bool,
        options: &RegistryOptions,
    ) -> Result<Vec<registry::SearchResult>> {
        let conf = self.registries_conf()?;
        if list_tags {
            let reference = registry_reference(term)?;
            if reference.tag.is_some() || reference.digest.is_some() {
                return Err(EngineError::InvalidArg(format!(
                    "{term}: listing tags takes a repository, without a tag or digest"
                )));
            }
            let searched = self.search_registries_of(&conf);
            let first = searched
                .first()
                .cloned()
                .unwrap_or_else(|| image::reference::DEFAULT_DOMAIN.to_string());
            let (registry, repository) = reference.repository(&first);
            let options = self.options_in(&conf, &registry, options)?;
            return registry::list_tags(&registry, &repository, limit, &options);
        }
        let (named, what) = split_search_term(term);
        let registries = match named {
            Some(registry) => vec![registry.to_string()],
            None => self.search_registries_of(&conf),
        };
        let mut results = Vec::new();
        let mut failures = Vec::new();
        for registry in &registries {
            let options = self.options_in(&conf, registry, options)?;
            match registry::search(registry, what, limit, filter, &options) {
                Ok(found) => results.extend(found),
                Err(e) => failures.push(e.to_string()),
            }
        }
        if results.is_empty() && !failures.is_empty() {
            return Err(EngineError::Registry(failures.join("; ")));
        }
        Ok(results)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_transports_are_refused_and_docker_is_taken_off() {
        assert!(matches!(
            registry_reference("oci-archive:/tmp/x.tar"),
            Err(EngineError::NotSupported(_))
        ));
        let plain = registry_reference("docker://r.io:5000/a/b:1").unwrap();
        assert_eq!(plain.domain.as_deref(), Some("r.io:5000"));
        assert_eq!(plain.tag.as_deref(), Some("1"));
        // A registry with a port is not a transport.
        assert!(registry_reference("localhost:5000/x").is_ok());
    }

    #[test]
    fn a_search_term_may_name_its_registry() {
        assert_eq!(
            split_search_term("quay.io/fedora"),
            (Some("quay.io"), "fedora")
        );
        assert_eq!(split_search_term("h:5000/a/b"), (Some("h:5000"), "a/b"));
        assert_eq!(split_search_term("team/tool"), (None, "team/tool"));
        assert_eq!(split_search_term("busybox"), (None, "busybox"));
    }
}
