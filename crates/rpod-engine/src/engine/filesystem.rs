//! A container's file system as a whole: its changes (`diff`), a new image from them
//! (`commit`), and a tar of its root (`export`). Trees the container can change are read
//! through directory descriptors only (`upper_diff`).

use std::collections::HashSet;
use std::io::{Seek, Write};

use oci_spec::image::Config;

use super::*;
use crate::tree_diff::{self, DiffSubject};
use crate::upper_diff::{self, Change};

/// What `commit` makes.
#[derive(Debug, Clone, Default)]
pub struct CommitOptions {
    /// The new image's name; none leaves it untagged.
    pub name: Option<String>,
    /// Dockerfile-style instructions applied to the new image's config.
    pub changes: Vec<String>,
    pub message: Option<String>,
    pub author: Option<String>,
    /// Pause a running container while its changes are read.
    pub pause: bool,
    /// `--squash`: one layer with the container's whole root file system, not its changes
    /// on top of its image's layers.
    pub squash: bool,
    /// `--include-volumes`: the container's volume paths become the image's `VOLUME`s.
    pub include_volumes: bool,
    /// The new image's config as a builder keeps it, instead of one made from the
    /// container's settings (a build's RUN container runs its step, not the image's CMD).
    pub config: Option<Config>,
    /// The history's `created_by`, instead of the container's command line.
    pub created_by: Option<String>,
    /// `--format`: a Docker-format image keeps the fields only Docker's config has.
    pub format: image::ImageFormat,
    /// Those fields as a builder keeps them, instead of the image's with the container's
    /// health check (Docker format only).
    pub docker_fields: Option<image::DockerFields>,
    /// `build --timestamp`: the image's creation time and its history entry's, and the
    /// modification time of every entry of the new layer, instead of now and the files'.
    pub timestamp: Option<chrono::DateTime<chrono::Utc>>,
    /// `build --omit-history`: no history in the image.
    pub omit_history: bool,
    /// A build's steps before this one that changed only the config (`NewImage`'s).
    pub config_steps: Vec<String>,
    /// Docker's commit body: a config completed by the container's, before `changes`.
    pub given_config: Option<crate::commit_config::GivenConfig>,
}

/// Paths rpod (or the runtime, for rpod's mounts) creates in a container's upper directory
/// as mount points, and the `/etc/mtab` link; `diff` leaves them out, as podman does.
pub(super) const OWN_MOUNT_POINTS: [&str; 7] = [
    "etc/mtab",
    "etc/hosts",
    "etc/resolv.conf",
    "etc/hostname",
    "run/.containerenv",
    "run/podman-init",
    "dev/shm",
];

/// Paths podman's `diff` never shows, of an image as of a container: where the runtime
/// mounts or makes its own files at every start (a layer that has them shows its other
/// changes only).
const NEVER_SHOWN: [&str; 11] = [
    "/dev",
    "/etc/hostname",
    "/etc/hosts",
    "/etc/mtab",
    "/etc/resolv.conf",
    "/proc",
    "/run",
    "/run/.containerenv",
    "/run/notify",
    "/run/secrets",
    "/sys",
];

fn shown_changes(changes: Vec<Change>) -> Vec<Change> {
    changes
        .into_iter()
        .filter(|c| !NEVER_SHOWN.iter().any(|p| c.path == Path::new(p)))
        .collect()
}

impl Engine {
    fn image_based(&self, record: &ContainerRecord) -> Result<(ImageRecord, OverlayDirs)> {
        if record.config.rootfs.is_some() {
            return Err(EngineError::InvalidArg(format!(
                "container {} runs on a root file system directory (--rootfs), not an image",
                record.id()
            )));
        }
        let image = self
            .store
            .image(&record.config.image_id)?
            .ok_or_else(|| EngineError::NoSuchImage(record.config.image_id.clone()))?;
        Ok((image, self.overlay_dirs(record)))
    }

    /// The container's changes against its image, sorted by path.
    pub fn changes(&self, name_or_id: &str) -> Result<Vec<Change>> {
        let record = self.lookup(name_or_id)?;
        Ok(self.changes_and_placeholders(&record)?.0)
    }

    /// The container's changes without rpod's own mount points and the mounts'
    /// destinations, and those left out (the mount points rpod and the runtime made in the
    /// upper directory, and the directories made only to hold them): one walk of it.
    fn changes_and_placeholders(
        &self,
        record: &ContainerRecord,
    ) -> Result<(Vec<Change>, Vec<PathBuf>)> {
        let (image, overlay) = self.image_based(record)?;
        let dirs = image::layer_dirs(&self.roots);
        let lower: Vec<PathBuf> = image.layers.iter().map(|l| dirs.dir(l)).collect();
        let mount_points: Vec<PathBuf> = OWN_MOUNT_POINTS
            .iter()
            .map(PathBuf::from)
            .chain(
                record
                    .config
                    .mounts
                    .iter()
                    // A build step's VOLUME is the image's: its directory is committed
                    // (what the step wrote in it is the volume's, not the layer's).
                    .filter(|m| !(record.config.build_step && m.anonymous))
                    .map(|m| PathBuf::from(m.destination.trim_start_matches('/'))),
            )
            .collect();
        let skip = |path: &Path| mount_points.iter().any(|m| m == path);
        upper_diff::changes_and_left_out(&overlay.upper, &lower, &skip)
            .map_err(|e| EngineError::io("reading the changes in", &overlay.upper, e))
    }

    /// `diff NAME [OTHER]`: with `other`, `changes_between`; without, a container's changes
    /// (`changes`) or an image's top layer's (`image_changes`), as `subject` says (`Any`: a
    /// container of the name, else an image, else no such container, as podman answers);
    /// the paths podman's `diff` never shows left out.
    pub fn diff_changes(
        &self,
        name: &str,
        other: Option<&str>,
        subject: DiffSubject,
    ) -> Result<Vec<Change>> {
        self.all_diff_changes(name, other, subject)
            .map(shown_changes)
    }

    fn all_diff_changes(
        &self,
        name: &str,
        other: Option<&str>,
        subject: DiffSubject,
    ) -> Result<Vec<Change>> {
        match (other, subject) {
            (Some(other), _) => self.changes_between(name, other, subject),
            (None, DiffSubject::Container) => self.changes(name),
            (None, DiffSubject::Image) => self.image_changes(name),
            (None, DiffSubject::Any) => match self.changes(name) {
                Err(EngineError::NoSuchContainer(_)) => match self.image_changes(name) {
                    Err(EngineError::NoSuchImage(_)) => {
                        Err(EngineError::NoSuchContainer(name.to_string()))
                    }
                    other => other,
                },
                other => other,
            },
        }
    }

    /// `diff FIRST SECOND`: the changes that make SECOND's file system FIRST's, each a
    /// container (its image's layers and its own changes, without the mount points `diff`
    /// leaves out) or an image, as `subject` says.
    pub fn changes_between(
        &self,
        first: &str,
        second: &str,
        subject: DiffSubject,
    ) -> Result<Vec<Change>> {
        let new = self.file_tree(first, subject)?;
        let old = self.file_tree(second, subject)?;
        Ok(tree_diff::compare(&new, &old))
    }

    /// A container's or an image's file system, flattened.
    fn file_tree(&self, name: &str, subject: DiffSubject) -> Result<tree_diff::Tree> {
        let dirs = image::layer_dirs(&self.roots);
        let container = match subject {
            DiffSubject::Image => None,
            DiffSubject::Container => Some(self.lookup(name)?),
            DiffSubject::Any => match self.lookup(name) {
                Ok(record) => Some(record),
                Err(EngineError::NoSuchContainer(_)) => None,
                Err(e) => return Err(e),
            },
        };
        let reading = |e| EngineError::io("reading the layers of", name, e);
        let Some(record) = container else {
            let image = match image::resolve(&self.store, name) {
                Err(EngineError::NoSuchImage(_)) if subject == DiffSubject::Any => {
                    return Err(EngineError::NoSuchContainer(name.to_string()))
                }
                other => other?,
            };
            let layers: Vec<PathBuf> = image.layers.iter().map(|l| dirs.dir(l)).collect();
            return tree_diff::flatten(&layers).map_err(reading);
        };
        let (image, overlay) = self.image_based(&record)?;
        let layers: Vec<PathBuf> = image.layers.iter().map(|l| dirs.dir(l)).collect();
        let placeholders = self.mount_point_placeholders(&record)?;
        let mut tree = tree_diff::flatten(&layers).map_err(reading)?;
        tree_diff::add_layer(&mut tree, &overlay.upper, &|path| {
            placeholders.contains(path)
        })
        .map_err(reading)?;
        Ok(tree)
    }

    /// `image diff`, `diff IMAGE`: what an image's top layer changes in the layers below
    /// it (a one-layer image adds everything it has).
    pub fn image_changes(&self, name: &str) -> Result<Vec<Change>> {
        let record = image::resolve(&self.store, name)?;
        let dirs = image::layer_dirs(&self.roots);
        let mut lower: Vec<PathBuf> = record.layers.iter().map(|l| dirs.dir(l)).collect();
        let top = lower
            .pop()
            .ok_or_else(|| EngineError::InvalidArg(format!("image {} has no layers", record.id)))?;
        upper_diff::changes(&top, &lower, &|_| false)
            .map_err(|e| EngineError::io("reading the changes in", &top, e))
    }

    /// Bytes the container wrote (its changes) and the size of its image: podman's
    /// `SizeRw` and `SizeRootFs`.
    pub fn container_size(&self, record: &ContainerRecord) -> Result<(u64, u64)> {
        let Ok((image, overlay)) = self.image_based(record) else {
            return Ok((0, 0));
        };
        let written = upper_diff::disk_usage(&overlay.upper)
            .map_err(|e| EngineError::io("measuring", &overlay.upper, e))?;
        Ok((written, image.size + written))
    }

    /// A container as podman's listings show it (`ListContainer`), its pod found among
    /// `pods`; with `size`, what it wrote and its root's size measured.
    pub fn list_container(
        &self,
        record: &ContainerRecord,
        pods: &[crate::pods::PodRecord],
        size: bool,
    ) -> Result<crate::views::ListContainer> {
        let pod = record
            .config
            .pod
            .as_deref()
            .and_then(|id| pods.iter().find(|p| p.id == id));
        let mut item = crate::views::ListContainer::new(record, pod);
        if size {
            let (written, root_fs) = self.container_size(record)?;
            item.size = Some(crate::views::ListSize { root_fs, written });
        }
        Ok(item)
    }

    /// `rpod mount`: mount the container's root on the host and keep it mounted (also
    /// across exits) until as many `unmount`s; returns where it is.
    pub fn mount(&self, name_or_id: &str) -> Result<PathBuf> {
        let found = self.lookup(name_or_id)?;
        let _lock = self.lock(found.id())?;
        let mut record = self.reload(found.id(), name_or_id)?;
        self.sync(&mut record)?;
        let root = self.mount_rootfs(&record)?;
        record.state.mounted = true;
        record.state.user_mounts += 1;
        self.save(&record)?;
        self.container_event(&record, "mount", &[]);
        Ok(root)
    }

    /// `rpod unmount`: undo one `mount` (all of them with `force`); the root is unmounted
    /// once none is left and the container does not run. Returns whether it was unmounted.
    /// A container that `mount` did not mount is left as it is, without an error, as
    /// podman's `unmount` does.
    pub fn unmount(&self, name_or_id: &str, force: bool) -> Result<bool> {
        let found = self.lookup(name_or_id)?;
        let _lock = self.lock(found.id())?;
        let mut record = self.reload(found.id(), name_or_id)?;
        self.sync(&mut record)?;
        if record.state.user_mounts == 0 && !force {
            return Ok(false);
        }
        record.state.user_mounts = if force {
            0
        } else {
            record.state.user_mounts - 1
        };
        let unmount = record.state.user_mounts == 0 && !record.state.status.is_active();
        if unmount {
            self.unmount_rootfs(&record)?;
            record.state.mounted = false;
        }
        self.save(&record)?;
        self.container_event(&record, "unmount", &[]);
        Ok(unmount)
    }

    /// A Docker-format commit's own fields: the image's, with the container's health check
    /// (as Docker's commit keeps the container's config); a container that turned the
    /// image's check off makes an image with it off.
    fn commit_docker_fields(
        &self,
        record: &ContainerRecord,
        base: &ImageRecord,
    ) -> Result<image::DockerFields> {
        let (_, mut fields) = image::config_and_docker_fields(&self.roots, &base.id)?;
        fields.healthcheck = match (&record.config.healthcheck, &fields.healthcheck) {
            (Some(check), _) => Some(check.to_api()),
            (None, Some(_)) => Some(serde_json::json!({ "Test": ["NONE"] })),
            (None, None) => None,
        };
        Ok(fields)
    }

    /// The containers mounted by `rpod mount`, with where their roots are.
    pub fn mounted(&self) -> Result<Vec<(ContainerRecord, PathBuf)>> {
        Ok(self
            .list()?
            .into_iter()
            .filter(|r| r.state.user_mounts > 0)
            .map(|r| {
                let root = self.root_path(&r);
                (r, root)
            })
            .collect())
    }

    /// A new image: the container's image with the container's changes as one more layer,
    /// and the container's command, environment, working directory, user, labels and stop
    /// signal as its config (then `changes` applied).
    pub fn commit(&self, name_or_id: &str, options: &CommitOptions) -> Result<ImageRecord> {
        let record = self.inspect(name_or_id)?;
        let (base, overlay) = self.image_based(&record)?;
        let mut config = match &options.config {
            Some(config) => config.clone(),
            None => {
                let mut config = image::config(&self.roots, &base.id)?
                    .config()
                    .clone()
                    .unwrap_or_default();
                self.commit_config(&record, &mut config);
                config
            }
        };
        if options.include_volumes {
            let mut volumes = config.volumes().clone().unwrap_or_default();
            for mount in &record.config.mounts {
                if mount.volume.is_some() && !volumes.contains(&mount.destination) {
                    volumes.push(mount.destination.clone());
                }
            }
            config.set_volumes((!volumes.is_empty()).then_some(volumes));
        }
        let mut docker_fields = match options.format {
            image::ImageFormat::Oci => None,
            image::ImageFormat::Docker => Some(match &options.docker_fields {
                Some(fields) => fields.clone(),
                None => self.commit_docker_fields(&record, &base)?,
            }),
        };
        if let Some(given) = &options.given_config {
            given.apply(&mut config, docker_fields.as_mut())?;
        }
        // ONBUILD goes into a Docker-format image's own fields; an OCI image has no place
        // for it, so it is dropped with a warning, as podman does.
        let mut on_build = Vec::new();
        for change in &options.changes {
            match image::onbuild_trigger(change) {
                Some(trigger) => {
                    check_trigger(change, trigger)?;
                    if options.format == image::ImageFormat::Oci {
                        tracing::warn!(
                            "ONBUILD is not kept in an OCI image, so {trigger:?} is ignored: use --format docker"
                        );
                    } else {
                        on_build.push(trigger.to_string());
                    }
                }
                None => image::apply_change(&mut config, change)?,
            }
        }
        let paused = options.pause && record.state.status == Status::Running;
        if paused {
            self.pause(record.id())?;
        }
        let mtime = options
            .timestamp
            .map(|t| u64::try_from(t.timestamp()).unwrap_or(0));
        let layer = if options.squash {
            self.root_tar(record.id(), mtime)
        } else {
            self.changes_tar(&record, &overlay, mtime)
        };
        if paused {
            self.unpause(record.id())?;
        }
        let mut layer = layer?;
        layer
            .rewind()
            .map_err(|e| EngineError::io("rewinding the layer in", self.roots.tmp(), e))?;
        let new = image::NewImage {
            name: options.name.clone(),
            config,
            created_by: options
                .created_by
                .clone()
                .unwrap_or_else(|| shell_words(&record.config.args)),
            comment: Some(
                options
                    .message
                    .clone()
                    .unwrap_or_else(|| format!("FROM {}", record.config.image_name)),
            ),
            author: options.author.clone(),
            created: options.timestamp,
            omit_history: options.omit_history,
            config_steps: options.config_steps.clone(),
            docker: docker_fields.map(|mut fields| {
                fields.on_build.extend(on_build);
                fields
            }),
            ..Default::default()
        };
        let committed = {
            let _lock = self.image_lock()?;
            image::commit(&self.store, &self.roots, &base, layer, new, options.squash)?
        };
        let name = self.store.image_names(&committed.id)?.join(",");
        self.container_event(&record, "commit", &[]);
        self.image_event(&committed.id, "commit", &name);
        Ok(committed)
    }

    /// The container's settings as an image config.
    fn commit_config(&self, record: &ContainerRecord, config: &mut Config) {
        let c = &record.config;
        let split = c.entrypoint_len.min(c.args.len());
        let (entrypoint, cmd) = c.args.split_at(split);
        config.set_entrypoint((!entrypoint.is_empty()).then(|| entrypoint.to_vec()));
        config.set_cmd((!cmd.is_empty()).then(|| cmd.to_vec()));
        config.set_env(Some(crate::spec::configured_env(c)));
        config.set_working_dir((!c.workdir.is_empty()).then(|| c.workdir.clone()));
        config.set_user((!c.user.is_empty()).then(|| c.user.clone()));
        let mut labels = config.labels().clone().unwrap_or_default();
        labels.extend(c.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
        config.set_labels((!labels.is_empty()).then_some(labels));
        config.set_stop_signal(Some(rpod_oci::signal::signal_name(c.stop_signal)));
    }

    /// The paths in the container's upper directory that `diff` leaves out (see
    /// `changes_and_placeholders`). A commit leaves them out too when they are empty, so
    /// that no image gets an empty `/etc/hosts` (podman's commits and builds keep them).
    fn mount_point_placeholders(&self, record: &ContainerRecord) -> Result<HashSet<PathBuf>> {
        Ok(self
            .changes_and_placeholders(record)?
            .1
            .into_iter()
            .collect())
    }

    /// The upper directory as a layer tar in an unnamed file, without rpod's mount points.
    /// Every entry dated `mtime` when given (`append_layer_dated`).
    fn changes_tar(
        &self,
        record: &ContainerRecord,
        overlay: &OverlayDirs,
        mtime: Option<u64>,
    ) -> Result<fs::File> {
        let placeholders = self.mount_point_placeholders(record)?;
        let file = scratch::unnamed_file(&self.roots.tmp())?;
        // The container decides how large: the copy keeps rpod's free-space reserve.
        let mut builder = tar::Builder::new(self.roots.space_guard().writer(file));
        upper_diff::append_layer_dated(
            &mut builder,
            &overlay.upper,
            &|path| placeholders.contains(path),
            record.config.id_mappings.as_ref(),
            mtime,
        )
        .and_then(|()| builder.into_inner())
        .map(|written| written.into_inner())
        .map_err(|e| EngineError::io("reading the changes in", &overlay.upper, e).or_no_space())
    }

    /// The container's whole root file system as a tar in rpod's scratch space
    /// (`commit --squash`), within rpod's free-space reserve.
    fn root_tar(&self, id: &str, mtime: Option<u64>) -> Result<fs::File> {
        let mut file = self
            .roots
            .space_guard()
            .writer(scratch::unnamed_file(&self.roots.tmp())?);
        self.export_dated(id, &mut file, mtime)
            .map_err(EngineError::or_no_space)?;
        Ok(file.into_inner())
    }

    /// Write the container's whole root file system to `out` as a tar. A container that is
    /// not running has its root mounted for the time of the export.
    pub fn export(&self, name_or_id: &str, out: impl Write) -> Result<()> {
        self.export_dated(name_or_id, out, None)
    }

    /// `export`, every entry dated `mtime` when given.
    fn export_dated(&self, name_or_id: &str, out: impl Write, mtime: Option<u64>) -> Result<()> {
        self.with_root(name_or_id, |record, _, root| {
            let mut builder = tar::Builder::new(out);
            let mapped = record.config.id_mappings.as_ref();
            upper_diff::append_layer_dated(&mut builder, root, &|_| false, mapped, mtime)
                .and_then(|()| builder.into_inner())
                .and_then(|mut out| out.flush())
                .map_err(|e| EngineError::io("exporting", root, e))
        })
    }
}

/// A command as one line, for the image's history.
pub(super) fn shell_words(args: &[String]) -> String {
    args.iter()
        .map(|a| {
            if a.is_empty() || a.contains(|c: char| c.is_whitespace() || "'\"\\$".contains(c)) {
                format!("'{}'", a.replace('\'', r"'\''"))
            } else {
                a.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A commit's ONBUILD trigger, checked as a Containerfile's: one instruction that Docker
/// allows as a trigger.
fn check_trigger(change: &str, trigger: &str) -> Result<()> {
    let invalid =
        |what: String| EngineError::InvalidArg(format!("invalid change {change:?}: {what}"));
    let steps = crate::containerfile::parse(trigger).map_err(|e| invalid(e.to_string()))?;
    match steps.as_slice() {
        [step] => super::build::refuse_as_trigger(step).map_err(|_| {
            invalid(format!(
                "{} is not allowed as an ONBUILD trigger",
                step.keyword
            ))
        }),
        _ => Err(invalid("ONBUILD takes one instruction".into())),
    }
}

#[cfg(test)]
mod shown_changes_tests {
    use super::*;
    use crate::upper_diff::ChangeKind;

    #[test]
    fn onbuild_triggers_are_checked_as_a_containerfiles() {
        assert!(check_trigger("ONBUILD RUN make", "RUN make").is_ok());
        let err = check_trigger("ONBUILD FROM x", "FROM x").unwrap_err();
        assert!(
            err.to_string()
                .contains("not allowed as an ONBUILD trigger"),
            "{err}"
        );
        let err = check_trigger("c", "RUN a\nRUN b").unwrap_err();
        assert!(err.to_string().contains("one instruction"), "{err}");
        assert!(check_trigger("c", "").is_err());
    }

    #[test]
    fn the_runtimes_own_paths_are_never_shown() {
        let change = |path: &str| Change {
            kind: ChangeKind::Added,
            path: PathBuf::from(path),
        };
        let shown = shown_changes(
            [
                "/dev",
                "/dev/null2",
                "/etc/mtab",
                "/etc/other",
                "/run",
                "/run/secrets/s",
                "/sys",
            ]
            .map(change)
            .to_vec(),
        );
        let paths: Vec<_> = shown.iter().map(|c| c.path.display().to_string()).collect();
        assert_eq!(paths, ["/dev/null2", "/etc/other", "/run/secrets/s"]);
    }
}
