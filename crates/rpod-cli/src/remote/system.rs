//! Remote `system df` and `system prune`.

use serde_json::Value;

use crate::cli::{DfArgs, SystemPruneArgs};
use crate::commands::system::{print_df, DfContainer, DfImage, DfVolume};
use crate::exit::Outcome;

use super::{expect, Client};

/// `system df`: libpod's report printed by the local command's printer. The report names
/// an image by its first name only, and a container's image by its ID.
pub fn df(client: &mut Client, args: DfArgs) -> Outcome {
    let report = expect(client.call("GET", "/system/df", None)?, &[200])?.json()?;
    let list = |key: &str| report[key].as_array().cloned().unwrap_or_default();
    let text = |item: &Value, key: &str| item[key].as_str().unwrap_or_default().to_string();
    let count = |item: &Value, key: &str| item[key].as_u64().unwrap_or(0);
    let images: Vec<DfImage> = list("Images")
        .iter()
        .map(|item| {
            let (repository, tag) = (text(item, "Repository"), text(item, "Tag"));
            DfImage {
                id: text(item, "ImageID"),
                names: match repository.as_str() {
                    "" | "<none>" => Vec::new(),
                    _ => vec![format!("{repository}:{tag}")],
                },
                size: count(item, "Size"),
                containers: count(item, "Containers") as usize,
            }
        })
        .collect();
    let containers: Vec<DfContainer> = list("Containers")
        .iter()
        .map(|item| {
            let status = text(item, "Status");
            let active = rpod_engine::Status::from_filter(&status)
                .is_some_and(|states| states.iter().any(|s| s.is_active()));
            DfContainer {
                id: text(item, "ContainerID"),
                image: text(item, "Image").chars().take(12).collect(),
                name: text(item, "Names"),
                written: count(item, "RWSize"),
                status,
                active,
            }
        })
        .collect();
    let volumes: Vec<DfVolume> = list("Volumes")
        .iter()
        .map(|item| DfVolume {
            name: text(item, "VolumeName"),
            links: count(item, "Links") as usize,
            size: count(item, "Size"),
        })
        .collect();
    print_df(&images, &containers, &volumes, args)
}

/// `system prune`: the service prunes pods, containers, networks, images (every unused one
/// with `--all`) and with `--volumes` volumes; what went printed as the local command
/// prints it.
pub fn prune(client: &mut Client, args: &SystemPruneArgs) -> Outcome {
    let path = format!("/system/prune?all={}&volumes={}", args.all, args.volumes);
    let report = expect(client.call("POST", &path, None)?, &[200])?.json()?;
    let gone = |key: &str, field: &str| -> Vec<String> {
        report[key]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|item| item[field].as_str().map(str::to_string))
            .collect()
    };
    crate::commands::system::print_prune_report(&crate::commands::system::PruneReport {
        containers: gone("ContainerPruneReports", "Id"),
        pods: gone("PodPruneReport", "Id"),
        volumes: gone("VolumePruneReports", "Id"),
        images: gone("ImagePruneReports", "Id"),
        networks: gone("NetworkPruneReports", "Name"),
        reclaimed: report["ReclaimedSpace"].as_u64().unwrap_or(0),
    });
    Ok(0)
}
