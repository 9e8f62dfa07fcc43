//! Remote `system df` and `system prune`.

use serde_json::Value;

use crate::cli::{DfArgs, SystemPruneArgs};
use crate::commands::system::{print_df, DfContainer, DfImage, DfVolume};
use crate::exit::Outcome;

use super::{expect, Client};

/// `system df`: libpod's report printed by the local command's printer. The report has an
/// image once per name (gathered again here, so that the totals count each image once),
/// and a container's image by its ID.
pub fn df(client: &mut Client, args: DfArgs) -> Outcome {
    let report = expect(client.call("GET", "/system/df", None)?, &[200])?.json()?;
    let list = |key: &str| report[key].as_array().cloned().unwrap_or_default();
    let text = |item: &Value, key: &str| item[key].as_str().unwrap_or_default().to_string();
    let count = |item: &Value, key: &str| item[key].as_u64().unwrap_or(0);
    let time = |item: &Value| {
        chrono::DateTime::parse_from_rfc3339(&text(item, "Created"))
            .map(|t| t.with_timezone(&chrono::Utc))
            .unwrap_or_default()
    };
    let mut images: Vec<DfImage> = Vec::new();
    for item in list("Images") {
        let id = text(&item, "ImageID");
        let (repository, tag) = (text(&item, "Repository"), text(&item, "Tag"));
        let name = match repository.as_str() {
            "" | "<none>" => None,
            _ => Some(format!("{repository}:{tag}")),
        };
        match images.iter_mut().find(|image| image.id == id) {
            Some(image) => image.names.extend(name),
            None => images.push(DfImage {
                id,
                names: name.into_iter().collect(),
                created: time(&item),
                size: count(&item, "Size"),
                shared: count(&item, "SharedSize"),
                containers: count(&item, "Containers") as usize,
            }),
        }
    }
    let containers: Vec<DfContainer> = list("Containers")
        .iter()
        .map(|item| {
            let status = text(item, "Status");
            let active = status == rpod_engine::Status::Running.as_str();
            let command = item["Command"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(" ");
            DfContainer {
                id: text(item, "ContainerID"),
                image_id: text(item, "Image"),
                command,
                volumes: count(item, "LocalVolumes") as usize,
                created: time(item),
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
