//! `kube play` and `kube down`: the pods of a Kubernetes YAML file (`kube.rs` reads it)
//! made, started and removed with the engine's own pod and container operations.

use super::*;
use crate::image::registry::PullOptions;
use crate::kube::{PlannedContainer, PullPolicy};

/// The label of the volumes `kube play` fills with a ConfigMap's or Secret's files (its
/// value: the volume's name): only such a volume is written again.
const KUBE_FILLED_LABEL: &str = "io.rpod.kube.volume-source";

/// How `kube play` plays a file.
#[derive(Debug, Clone, Default)]
pub struct PlayOptions {
    /// Start the pods (the default); otherwise they are only made.
    pub start: bool,
    /// Remove pods of the same names first.
    pub replace: bool,
    /// `--userns auto[:size=N]`: every pod gets a user namespace of its own (as a pod's
    /// `hostUsers: false` asks for one).
    pub userns_auto: Option<crate::userns::AutoUserns>,
    /// `--configmap FILE`s' texts: ConfigMaps besides the file's own.
    pub configmaps: Vec<String>,
    /// Where a container's image may be built from (podman's: the current directory):
    /// a directory named after the image holding a Containerfile or Dockerfile. None: no
    /// builds (the REST service's).
    pub build_dir: Option<PathBuf>,
    /// `--build`: build such images even when they are here (`Some(true)`), never
    /// (`Some(false)`), or only when missing (`None`, podman's default).
    pub build: Option<bool>,
    /// `--network`: the network mode and networks every pod of the file gets instead of
    /// the default (`network::parse_network_flags`'s); a pod with `hostNetwork` refuses it.
    pub network: Option<(
        Option<crate::container::NetworkMode>,
        Vec<crate::container::NetworkJoin>,
    )>,
    /// `--log-driver`: every container's log to its file (`Some(true)`, k8s-file) or none
    /// (`Some(false)`); the configured default when `None`.
    pub log_to_file: Option<bool>,
    /// `--log-opt`: every container's log size, files and tag (a path is refused: the
    /// containers cannot share one file).
    pub log: crate::logs::LogOptions,
    /// `--tls-verify`, `--authfile`, `--creds`, `--cert-dir`: for the images pulled.
    pub registry: crate::image::registry::RegistryOptions,
    /// `--no-hosts`: the pods keep their images' /etc/hosts.
    pub no_hosts: bool,
    /// `--annotation`: every container's, besides the file's.
    pub annotations: BTreeMap<String, String>,
    /// `--ip`, `--mac-address`: the pods' addresses, the first pod's first, and so on (a
    /// pod past the list gets one of the network's).
    pub ips: Vec<std::net::IpAddr>,
    pub macs: Vec<String>,
    /// `--seccomp-profile-root`: where `Localhost` seccomp profiles are
    /// (`DEFAULT_SECCOMP_PROFILE_ROOT` when `None`, as podman's).
    pub seccomp_profile_root: Option<PathBuf>,
}

/// Where `Localhost` seccomp profiles are by default (the kubelet's directory, podman's
/// default).
pub const DEFAULT_SECCOMP_PROFILE_ROOT: &str = "/var/lib/kubelet/seccomp";

/// A `Localhost` seccomp profile under the profile root: the file itself (links followed;
/// the planning made sure the path has no `..`).
fn seccomp_profile(options: &PlayOptions, relative: &str) -> Result<PathBuf> {
    let root = options
        .seccomp_profile_root
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_SECCOMP_PROFILE_ROOT));
    let path = root.join(relative);
    let found = fs::canonicalize(&path).map_err(|e| {
        EngineError::InvalidArg(format!(
            "kube play: seccomp profile {} (localhost/{relative} under --seccomp-profile-root {}): {e}",
            path.display(),
            root.display()
        ))
    })?;
    if !found.is_file() {
        return Err(EngineError::InvalidArg(format!(
            "kube play: seccomp profile {} is not a file",
            path.display()
        )));
    }
    Ok(found)
}

/// `kube play --log-driver`'s drivers: a container's log to its file, or none. (A
/// container of a played pod has no terminal of the caller's to pass its output to.)
pub fn parse_kube_log_driver(driver: &str) -> Result<bool> {
    match driver {
        "k8s-file" | "json-file" => Ok(true),
        "none" => Ok(false),
        other => Err(EngineError::NotSupported(format!(
            "kube play --log-driver {other:?} (use k8s-file or none)"
        ))),
    }
}

/// What `kube play` made: the volumes of the file's claims (new or there already) and the
/// pods.
#[derive(Debug, Clone, Default)]
pub struct PlayReport {
    pub volumes: Vec<String>,
    pub pods: Vec<PlayedPod>,
    /// The file's Services: read, nothing made of them (`kube::KubePlan::services`).
    pub services: Vec<String>,
}

/// A pod `kube play` made, with its containers (the infra container aside).
#[derive(Debug, Clone)]
pub struct PlayedPod {
    pub id: String,
    pub containers: Vec<String>,
}

impl Engine {
    /// Make (and start) the pods of a Kubernetes YAML file. The whole file is read and
    /// checked first; a pod whose containers cannot all be made is removed again.
    pub fn kube_play(
        &self,
        yaml: &str,
        options: &PlayOptions,
        progress: &mut dyn FnMut(&str),
    ) -> Result<PlayReport> {
        // A Secret the file names but has not: the secret store's of that name, when it
        // holds a Kubernetes Secret (as podman's); one that cannot be read is none.
        let stored = |name: &str| -> Option<Vec<u8>> {
            let record = self.secret(name).ok().filter(|r| r.name == name)?;
            self.secret_store().data(&record).ok()
        };
        let crate::kube::KubePlan {
            pods: plans,
            claims,
            services,
        } = crate::kube::plan_play(yaml, &options.configmaps, &stored)?;
        let mut plans = plans;
        // Before anything is made: a profile that is not there stops the whole file.
        for plan in &mut plans {
            for container in plan.init_containers.iter_mut().chain(&mut plan.containers) {
                if let Some(relative) = container.seccomp_profile.take() {
                    container.options.security.seccomp = crate::security::SeccompChoice::Profile(
                        seccomp_profile(options, &relative)?,
                    );
                }
            }
        }
        let mut report = PlayReport {
            services,
            ..Default::default()
        };
        // A claim's volume that is there already is used as it is: it holds the user's
        // data (a second play of the same file finds it).
        for claim in claims {
            match self.volume_create(Some(claim.name.clone()), claim.labels, claim.options) {
                Ok(_) | Err(EngineError::VolumeExists(_)) => report.volumes.push(claim.name),
                Err(e) => return Err(e),
            }
        }
        if options.log.path.is_some() {
            return Err(EngineError::InvalidArg(
                "kube play --log-opt path: the containers cannot share one log file".into(),
            ));
        }
        for (index, plan) in plans.into_iter().enumerate() {
            if options.replace {
                match self.pod_remove(&plan.name, true, Some(0)) {
                    Ok(_) | Err(EngineError::NoSuchPod(_)) => {}
                    Err(e) => return Err(e),
                }
            }
            for container in plan.init_containers.iter().chain(&plan.containers) {
                if let Some(image) = container.options.image.as_deref() {
                    self.kube_image(image, container.pull, options, progress)?;
                }
                for dir in &container.make_dirs {
                    crate::mounts::make_host_dir(dir)?;
                }
            }
            for (image, pull) in &plan.volume_images {
                self.kube_image(image, *pull, options, progress)?;
            }
            for volume in &plan.filled_volumes {
                self.fill_config_map_volume(volume)?;
            }
            let mut pod_options = plan.pod;
            let infra = &mut pod_options.infra_options;
            infra.net.no_hosts |= options.no_hosts;
            match options.ips.get(index) {
                // Either family, as podman takes it: the pod's address in that family's
                // subnet.
                Some(std::net::IpAddr::V4(ip)) => infra.ip = Some(*ip),
                Some(std::net::IpAddr::V6(ip)) => infra.ip6 = Some(*ip),
                None if !options.ips.is_empty() => progress(&format!(
                    "no --ip left for pod {}: it gets one of the network's",
                    plan.name
                )),
                None => {}
            }
            match options.macs.get(index) {
                Some(mac) => infra.mac_address = Some(mac.clone()),
                None if !options.macs.is_empty() => progress(&format!(
                    "no --mac-address left for pod {}: it gets one of its own",
                    plan.name
                )),
                None => {}
            }
            if let Some(auto) = options.userns_auto {
                pod_options.infra_options.userns_auto = Some(auto);
            }
            if let Some((mode, joins)) = &options.network {
                if pod_options.infra_options.network == Some(NetworkMode::Host) {
                    return Err(EngineError::InvalidArg(format!(
                        "kube play --network: pod {} has hostNetwork: it is on the host's network",
                        plan.name
                    )));
                }
                pod_options.infra_options.network = mode.clone();
                pod_options.infra_options.net.networks = joins.clone();
            }
            let pod = self.create_pod(pod_options)?;
            let empty_dirs = plan.empty_dirs;
            let made = (|| -> Result<Vec<String>> {
                for volume in &empty_dirs {
                    self.make_empty_dir(volume, &plan.name)?;
                }
                let make = |container: PlannedContainer| -> Result<String> {
                    let mut create = container.with_pod_id(&pod.id);
                    create.pod = Some(pod.id.clone());
                    if let Some(to_file) = options.log_to_file {
                        create.log_to_file = to_file;
                        create.log_driver_from_config = false;
                    }
                    let log = &options.log;
                    create.log_size_max = log.max_size.or(create.log_size_max);
                    create.log_max_files = log.max_file.or(create.log_max_files);
                    create.log_tag = log.tag.clone().or(create.log_tag.take());
                    if !log.attributes.is_empty() {
                        create.log_attributes = log.attributes.clone();
                    }
                    for (key, value) in &options.annotations {
                        create.annotations.insert(key.clone(), value.clone());
                    }
                    Ok(self.create(create)?.id().to_string())
                };
                // The init containers first: `pod start` runs them in the order made.
                for container in plan.init_containers {
                    make(container)?;
                }
                let mut ids = Vec::new();
                for container in plan.containers {
                    ids.push(make(container)?);
                }
                if options.start {
                    self.pod_start(&pod.id)?;
                }
                Ok(ids)
            })();
            match made {
                Ok(containers) => report.pods.push(PlayedPod {
                    id: pod.id,
                    containers,
                }),
                Err(e) => {
                    let _ = self.pod_remove(&pod.id, true, Some(0));
                    let _ = self.remove_empty_dirs(&plan.name);
                    return Err(e);
                }
            }
        }
        Ok(report)
    }

    /// A `configMap` or `secret` volume's named volume (made when missing) holding exactly
    /// the files given. Written by descriptor, never through a link: the volume's
    /// containers may have put links there. A volume of that name that `kube play` did not
    /// make is the user's: refused, never emptied.
    fn fill_config_map_volume(&self, volume: &crate::kube::FilledVolume) -> Result<()> {
        match self.volume(&volume.name) {
            Ok(found) if found.labels.get(KUBE_FILLED_LABEL) == Some(&volume.name) => {}
            Ok(_) => {
                return Err(EngineError::InvalidArg(format!(
                    "kube play: the volume {} exists and holds no ConfigMap's or Secret's files of kube play's: it is left as it is (remove or rename it, or the ConfigMap)",
                    volume.name
                )))
            }
            Err(EngineError::NoSuchVolume(_)) => {
                let labels =
                    BTreeMap::from([(KUBE_FILLED_LABEL.to_string(), volume.name.clone())]);
                self.volume_create(Some(volume.name.clone()), labels, BTreeMap::new())?;
            }
            Err(e) => return Err(e),
        }
        let path = self.volume_path(&volume.name);
        let confined_err = |e: crate::confined::ConfinedError| {
            EngineError::InvalidArg(format!("filling the volume {}: {e}", volume.name))
        };
        let tree = crate::confined::ConfinedDir::open(&path).map_err(confined_err)?;
        let io_err = |e: std::io::Error| EngineError::io("filling the volume", &path, e);
        // What an earlier play of another version left goes.
        for name in crate::tree_copy::entries(tree.top()).map_err(io_err)? {
            crate::confined::remove_entry(tree.top(), &name).map_err(io_err)?;
        }
        for (rel, content, mode) in &volume.files {
            use rustix::fs::{self as rfs, Mode, OFlags};
            let (parent, name) = tree.parent_of(rel, true).map_err(confined_err)?;
            crate::confined::remove_entry(&parent, &name).map_err(io_err)?;
            let file = rfs::openat(
                &parent,
                name.as_os_str(),
                OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::from_raw_mode(0o600),
            )
            .map_err(|e| io_err(e.into()))?;
            let mut file = std::fs::File::from(file);
            std::io::Write::write_all(&mut file, content).map_err(io_err)?;
            rfs::fchmod(&file, Mode::from_raw_mode(*mode)).map_err(|e| io_err(e.into()))?;
        }
        Ok(())
    }

    /// The image of a container or an image volume to play, pulled as its policy says (or
    /// built, from the build directory).
    fn kube_image(
        &self,
        image: &str,
        pull: PullPolicy,
        options: &PlayOptions,
        progress: &mut dyn FnMut(&str),
    ) -> Result<()> {
        let local = match self.resolve_image(image) {
            Ok(_) => true,
            Err(EngineError::NoSuchImage(_)) => false,
            Err(e) => return Err(e),
        };
        if let Some(containerfile) = self.kube_build_file(image, options) {
            if options.build == Some(true) || !local {
                let context = containerfile
                    .parent()
                    .map(Path::to_path_buf)
                    .unwrap_or_default();
                self.build(
                    &super::BuildOptions {
                        containerfile,
                        context,
                        tags: vec![image.to_string()],
                        layers: true,
                        skip_unused_stages: true,
                        // The steps' output goes with the progress, apart from the report.
                        capture_run_output: true,
                        ..Default::default()
                    },
                    progress,
                )
                // The step's status is a build's exit code, not `kube play`'s.
                .map_err(|e| match e {
                    EngineError::StepFailed { message, .. } => EngineError::InvalidArg(message),
                    other => other,
                })?;
                return Ok(());
            }
        }
        let pull = match pull {
            PullPolicy::Always => true,
            PullPolicy::Missing => !local,
            PullPolicy::Never if local => false,
            PullPolicy::Never => return Err(EngineError::NoSuchImage(image.to_string())),
        };
        if pull {
            let pull = PullOptions {
                registry: options.registry.clone(),
                ..Default::default()
            };
            self.pull_image(image, &pull, progress)?;
        }
        Ok(())
    }

    /// The Containerfile (or Dockerfile) `kube play` builds `image` from, as podman finds
    /// it: in a directory of the build directory named as the image's repository's last
    /// part (`localhost/web:1` in `web/`).
    fn kube_build_file(&self, image: &str, options: &PlayOptions) -> Option<PathBuf> {
        if options.build == Some(false) {
            return None;
        }
        let dir = options.build_dir.as_ref()?;
        let reference = image::reference::Reference::parse(image).ok()?;
        let name = reference.path.rsplit('/').next()?;
        ["Containerfile", "Dockerfile"]
            .into_iter()
            .map(|file| dir.join(name).join(file))
            .find(|path| path.is_file())
    }

    /// A pod's emptyDir volume, empty: one an earlier pod of that name left (`pod rm`
    /// keeps volumes) is made anew; a volume of that name that is no pod's emptyDir is the
    /// user's, and refused.
    fn make_empty_dir(&self, volume: &str, pod: &str) -> Result<()> {
        match self.volume(volume) {
            Ok(found) if empty_dir_pod(&found) == Some(pod) => self.volume_remove(volume, false)?,
            Ok(_) => {
                return Err(EngineError::InvalidArg(format!(
                    "the emptyDir of pod {pod} needs the volume {volume}, which exists and is \
                     not kube play's: remove or rename it"
                )))
            }
            Err(EngineError::NoSuchVolume(_)) => {}
            Err(e) => return Err(e),
        }
        let labels = BTreeMap::from([(crate::kube::EMPTY_DIR_LABEL.to_string(), pod.to_string())]);
        self.volume_create(Some(volume.to_string()), labels, BTreeMap::new())?;
        Ok(())
    }

    /// The volumes `kube play` made for emptyDirs, each with its emptyDir's name.
    fn kube_empty_dirs(&self) -> Result<BTreeMap<String, String>> {
        let mut found = BTreeMap::new();
        for volume in self.volumes()? {
            let Some(pod) = empty_dir_pod(&volume) else {
                continue;
            };
            if let Some(own) = crate::kube::empty_dir_of_volume(&volume.name, pod) {
                found.insert(volume.name.clone(), own.to_string());
            }
        }
        Ok(found)
    }

    /// The emptyDir volumes of the pod named `pod`.
    fn remove_empty_dirs(&self, pod: &str) -> Result<()> {
        for volume in self.volumes()? {
            if empty_dir_pod(&volume) == Some(pod) {
                match self.volume_remove(&volume.name, true) {
                    Ok(()) | Err(EngineError::NoSuchVolume(_)) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }

    /// Remove the pods a Kubernetes YAML file makes (stopped first), and their emptyDir
    /// volumes; their IDs. A pod of the file that is not there is an error, after the
    /// others are removed.
    pub fn kube_down(&self, yaml: &str) -> Result<Vec<String>> {
        let mut removed = Vec::new();
        let mut missing = Vec::new();
        for name in crate::kube::pod_names(yaml)? {
            match self.lookup_pod(&name) {
                Ok(pod) => {
                    self.pod_remove(&pod.id, true, None)?;
                    self.remove_empty_dirs(&name)?;
                    removed.push(pod.id);
                }
                Err(EngineError::NoSuchPod(_)) => missing.push(name),
                Err(e) => return Err(e),
            }
        }
        if !missing.is_empty() {
            return Err(EngineError::NoSuchPod(missing.join(", ")));
        }
        Ok(removed)
    }
}

/// Labels (or annotations) every one of `maps` has, with the same value.
fn common_entries<'a>(
    mut maps: impl Iterator<Item = &'a BTreeMap<String, String>>,
) -> BTreeMap<String, String> {
    let Some(first) = maps.next() else {
        return BTreeMap::new();
    };
    let mut common = first.clone();
    for map in maps {
        common.retain(|key, value| map.get(key) == Some(value));
    }
    common
}

impl Engine {
    /// `generate kube NAME...`: a `Pod` document for each pod named, and one for the
    /// containers named (called after the first, `NAME-pod`, as podman calls it); with
    /// `service`, a Service for each before it (`--service`).
    pub fn generate_kube(
        &self,
        names: &[String],
        service: bool,
    ) -> Result<crate::kube_generate::GeneratedKube> {
        let mut containers = Vec::new();
        let mut pods = Vec::new();
        let mut volumes = Vec::new();
        for name in names {
            match self.inspect(name) {
                Ok(record) => {
                    if let Some(pod) = &record.config.pod {
                        let pod = self.lookup_pod(pod).map(|p| p.name).unwrap_or(pod.clone());
                        return Err(EngineError::InvalidArg(format!(
                            "container {} is in pod {pod}: generate kube the pod instead",
                            record.config.name
                        )));
                    }
                    containers.push(record);
                }
                Err(EngineError::NoSuchContainer(_)) => match self.lookup_pod(name) {
                    Ok(pod) => pods.push(self.pod_view(pod)?),
                    Err(EngineError::NoSuchPod(_)) => match self.volume(name) {
                        Ok(volume) => volumes.push(volume),
                        Err(EngineError::NoSuchVolume(_)) => {
                            return Err(EngineError::NoSuchContainer(name.clone()))
                        }
                        Err(e) => return Err(e),
                    },
                    Err(e) => return Err(e),
                },
                Err(e) => return Err(e),
            }
        }
        let mut documents: Vec<_> = volumes
            .iter()
            .map(crate::kube_generate::claim_document)
            .collect();
        let mut warnings = Vec::new();
        if let Some(first) = containers.first() {
            let images = self.member_images(&containers);
            let dirs: Vec<PathBuf> = containers
                .iter()
                .map(|c| self.roots.container_dir(c.id()))
                .collect();
            let default_network = self.default_network_name().to_string();
            let empty_dirs = self.kube_empty_dirs()?;
            let members = members_of(
                &containers,
                &images,
                &dirs,
                None,
                &default_network,
                &empty_dirs,
            );
            let image_labels = |i: usize| -> BTreeMap<String, String> {
                images[i]
                    .as_ref()
                    .and_then(|c| c.labels().clone())
                    .map(|l| l.into_iter().collect())
                    .unwrap_or_default()
            };
            let own_labels: Vec<BTreeMap<String, String>> = containers
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let from_image = image_labels(i);
                    c.config
                        .labels
                        .iter()
                        .filter(|(k, v)| from_image.get(*k) != Some(*v))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect()
                })
                .collect();
            let ports: Vec<_> = containers
                .iter()
                .flat_map(|c| c.config.net.ports.iter().cloned())
                .collect();
            let config = &first.config;
            let own_hostname = config.isolation.uts == crate::isolation::NamespaceMode::Private
                && !config.id.starts_with(&config.hostname);
            let name = format!("{}-pod", config.name);
            let mut shape = crate::kube_generate::PodShape {
                name: &name,
                labels: common_entries(own_labels.iter()),
                annotations: common_entries(containers.iter().map(|c| &c.config.annotations)),
                hostname: own_hostname.then_some(config.hostname.as_str()),
                host_network: config.network == NetworkMode::Host,
                ports: &ports,
                created: Utc::now(),
                strip_prefix: None,
            };
            if service {
                documents.extend(crate::kube_generate::service_document(
                    &mut shape,
                    &mut warnings,
                ));
            }
            let (document, more) = crate::kube_generate::pod_document(&shape, &members)?;
            documents.push(document);
            warnings.extend(more);
        }
        for view in &pods {
            let pod = &view.pod;
            let infra = pod
                .infra_id
                .as_deref()
                .and_then(|id| view.containers.iter().find(|c| c.id() == id));
            let mut members: Vec<ContainerRecord> = view
                .containers
                .iter()
                .filter(|c| Some(c.id()) != pod.infra_id.as_deref())
                .cloned()
                .collect();
            if members.is_empty() {
                return Err(EngineError::InvalidArg(format!(
                    "pod {} has no container but its infra container: a Kubernetes pod needs one",
                    pod.name
                )));
            }
            members.sort_by_key(|c| c.config.created);
            let images = self.member_images(&members);
            let dirs: Vec<PathBuf> = members
                .iter()
                .map(|c| self.roots.container_dir(c.id()))
                .collect();
            let default_network = self.default_network_name().to_string();
            let empty_dirs = self.kube_empty_dirs()?;
            let member_list = members_of(
                &members,
                &images,
                &dirs,
                pod.infra_id.as_deref(),
                &default_network,
                &empty_dirs,
            );
            let no_ports = Vec::new();
            let network = infra.map(|i| &i.config.network);
            if !matches!(
                network,
                None | Some(NetworkMode::Bridge | NetworkMode::Host)
            ) || infra.is_some_and(|i| {
                !crate::kube_generate::on_default_network(&i.config.net, &default_network)
            }) {
                warnings.push(format!(
                    "pod {}: its network cannot be said in Kubernetes YAML and is left out (a pod is made on the default network)",
                    pod.name
                ));
            }
            if pod.limits != crate::pod_cgroups::PodLimits::default() {
                warnings.push(format!(
                    "pod {}: its limits cannot be said in Kubernetes YAML and are left out",
                    pod.name
                ));
            }
            let mut shape = crate::kube_generate::PodShape {
                name: &pod.name,
                labels: pod.labels.clone(),
                annotations: common_entries(members.iter().map(|c| &c.config.annotations)),
                hostname: (pod.hostname != pod.name).then_some(pod.hostname.as_str()),
                host_network: network == Some(&NetworkMode::Host),
                ports: infra.map(|i| &i.config.net.ports).unwrap_or(&no_ports),
                created: pod.created,
                strip_prefix: Some(format!("{}-", pod.name)),
            };
            if service {
                documents.extend(crate::kube_generate::service_document(
                    &mut shape,
                    &mut warnings,
                ));
            }
            let (document, more) = crate::kube_generate::pod_document(&shape, &member_list)?;
            documents.push(document);
            warnings.extend(more);
        }
        Ok(crate::kube_generate::GeneratedKube {
            yaml: crate::kube_generate::render(&documents)?,
            warnings,
        })
    }

    /// Each container's image's own configuration, when the image is still there.
    fn member_images(
        &self,
        containers: &[ContainerRecord],
    ) -> Vec<Option<oci_spec::image::Config>> {
        containers
            .iter()
            .map(|c| {
                let record = self.resolve_image(&c.config.image_id).ok()?;
                self.image_info(record).ok()?.config.config().clone()
            })
            .collect()
    }
}

/// The pod whose emptyDir a volume is (`kube::EMPTY_DIR_LABEL`), if it is one.
fn empty_dir_pod(volume: &crate::volumes::VolumeRecord) -> Option<&str> {
    volume
        .labels
        .get(crate::kube::EMPTY_DIR_LABEL)
        .map(String::as_str)
}

fn members_of<'a>(
    containers: &'a [ContainerRecord],
    images: &'a [Option<oci_spec::image::Config>],
    dirs: &'a [PathBuf],
    infra_id: Option<&'a str>,
    default_network: &'a str,
    empty_dirs: &'a BTreeMap<String, String>,
) -> Vec<crate::kube_generate::Member<'a>> {
    containers
        .iter()
        .zip(images)
        .zip(dirs)
        .map(|((c, image), dir)| crate::kube_generate::Member {
            config: &c.config,
            image: image.as_ref(),
            own_dir: dir,
            infra_id,
            default_network,
            empty_dirs,
        })
        .collect()
}
