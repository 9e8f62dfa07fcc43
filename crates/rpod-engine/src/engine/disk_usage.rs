//! What the store holds and uses (`system df`, and the REST services' `system/df`).

use super::*;
use crate::volumes::VolumeRecord;

/// An image, its names, how many containers use it, and how much of it is layers other
/// images have too (podman's `SharedSize`; the rest is its `UniqueSize`).
pub struct ImageUsage {
    pub record: ImageRecord,
    pub names: Vec<String>,
    pub containers: usize,
    pub shared: u64,
}

impl ImageUsage {
    /// The bytes of layers no other image has.
    pub fn unique(&self) -> u64 {
        self.record.size.saturating_sub(self.shared)
    }
}

/// A container and what it wrote (`SizeRw`) and takes with its image (`SizeRootFs`).
pub struct ContainerUsage {
    pub record: ContainerRecord,
    pub written: u64,
    pub total: u64,
}

/// A volume, the bytes in it and the containers that use it.
pub struct VolumeUsage {
    pub record: VolumeRecord,
    pub size: u64,
    pub users: usize,
}

/// What a prune removed (a container's or image's ID, a volume's name) and the bytes it
/// took before: what the container wrote, the image's size, the volume's contents (the
/// `Size` of podman's prune reports; their sum is podman's "Total reclaimed space" and the
/// Docker API's `SpaceReclaimed`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pruned {
    pub id: String,
    pub size: u64,
}

/// The bytes a prune's removals took in all.
pub fn reclaimed(pruned: &[Pruned]) -> u64 {
    pruned.iter().map(|p| p.size).sum()
}

/// The IDs (or names) a prune removed.
pub fn pruned_ids(pruned: &[Pruned]) -> Vec<String> {
    pruned.iter().map(|p| p.id.clone()).collect()
}

/// What `system prune` asks for (the command's flags, the service's parameters).
pub struct SystemPruneOptions<'a> {
    /// The stopped pods (`pod_prune`), with their containers, first.
    pub pods: bool,
    /// Volumes no container uses.
    pub volumes: bool,
    /// Every unused image, not only unnamed ones.
    pub all_images: bool,
    /// Which stopped containers go.
    pub container: &'a dyn Fn(&ContainerRecord) -> bool,
    /// Which unused images go.
    pub image: &'a dyn Fn(&image::ImageInfo) -> bool,
}

/// What `system prune` removed.
pub struct SystemPruned {
    pub pods: Vec<String>,
    pub containers: Vec<Pruned>,
    pub networks: Vec<String>,
    pub volumes: Vec<Pruned>,
    pub images: Vec<Pruned>,
}

impl SystemPruned {
    /// The bytes the containers' changes, the volumes and the images took.
    pub fn reclaimed(&self) -> u64 {
        reclaimed(&self.containers) + reclaimed(&self.volumes) + reclaimed(&self.images)
    }
}

pub struct DiskUsage {
    pub images: Vec<ImageUsage>,
    pub containers: Vec<ContainerUsage>,
    pub volumes: Vec<VolumeUsage>,
}

impl Engine {
    /// `system prune` (the command's and the service's): pods first when asked, stopped
    /// containers, networks no container uses, volumes when asked, then unused images
    /// (those the containers' removal left unused among them).
    pub fn system_prune(&self, options: &SystemPruneOptions<'_>) -> Result<SystemPruned> {
        let pods = if options.pods {
            self.pod_prune()?
        } else {
            Vec::new()
        };
        let containers = self.prune(options.container)?;
        let networks = self.network_prune(&[])?;
        let volumes = if options.volumes {
            self.volume_prune()?
        } else {
            Vec::new()
        };
        let images = self.prune_images(options.all_images, options.image)?;
        Ok(SystemPruned {
            pods,
            containers,
            networks,
            volumes,
            images,
        })
    }

    /// Every image, container and volume with what it uses.
    pub fn disk_usage(&self) -> Result<DiskUsage> {
        let containers = self.list()?;
        let records = self.images()?;
        // How many images have each layer; the size of each layer more than one has,
        // looked at once however many have it.
        let mut holders: HashMap<&str, usize> = HashMap::new();
        for record in &records {
            for layer in &record.layers {
                *holders.entry(layer.as_str()).or_default() += 1;
            }
        }
        let layer_dirs = image::layer_dirs(&self.roots);
        let shared_sizes: HashMap<&str, u64> = holders
            .iter()
            .filter(|(_, holders)| **holders > 1)
            .map(|(layer, _)| {
                let size = fs::metadata(layer_dirs.blob(layer)).map_or(0, |m| m.len());
                (*layer, size)
            })
            .collect();
        let mut images = Vec::new();
        for record in &records {
            let shared = record
                .layers
                .iter()
                .filter_map(|layer| shared_sizes.get(layer.as_str()))
                .sum();
            images.push(ImageUsage {
                names: self.image_names(&record.id)?,
                containers: containers
                    .iter()
                    .filter(|c| c.config.image_id == record.id)
                    .count(),
                shared,
                record: record.clone(),
            });
        }
        let mut volumes = Vec::new();
        for record in self.volumes()? {
            volumes.push(VolumeUsage {
                size: self.volume_size(&record.name)?,
                users: self.volume_users(&record.name)?.len(),
                record,
            });
        }
        let mut usage = Vec::new();
        for record in containers {
            let (written, total) = self.container_size(&record)?;
            usage.push(ContainerUsage {
                record,
                written,
                total,
            });
        }
        Ok(DiskUsage {
            images,
            containers: usage,
            volumes,
        })
    }
}
