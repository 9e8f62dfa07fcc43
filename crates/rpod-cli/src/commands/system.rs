//! `info`, `version` and `system service`.

use serde_json::{json, Map, Value};

use rpod_engine::Engine;

use crate::cli::{DfArgs, FormatArgs, MigrateArgs, ResetArgs, ServiceArgs, SystemPruneArgs};
use crate::exit::{usage, Failure, Outcome, ENGINE_ERROR};
use crate::format;

/// JSON keys (`ociRuntime`) to the Go field names templates use (`OCIRuntime`).
fn go_names(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    // podman's Go field names where they are not the JSON key capitalized.
                    let key = match k.as_str() {
                        "ociRuntime" => "OCIRuntime".to_string(),
                        "os" => "OS".to_string(),
                        "cgroupVersion" => "CgroupsVersion".to_string(),
                        "cpus" => "CPUs".to_string(),
                        "cpuUtilization" => "CPUUtilization".to_string(),
                        "idMappings" => "IDMappings".to_string(),
                        "gidmap" => "GIDMap".to_string(),
                        "uidmap" => "UIDMap".to_string(),
                        "apparmorEnabled" => "AppArmorEnabled".to_string(),
                        "capabilities" => "DefaultCapabilities".to_string(),
                        "seccompEnabled" => "SECCOMPEnabled".to_string(),
                        "seccompProfilePath" => "SECCOMPProfilePath".to_string(),
                        "selinuxEnabled" => "SELinuxEnabled".to_string(),
                        other => {
                            let mut chars = other.chars();
                            chars
                                .next()
                                .map(|c| c.to_uppercase().chain(chars).collect())
                                .unwrap_or_default()
                        }
                    };
                    (key, go_names(v))
                })
                .collect::<Map<_, _>>(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(go_names).collect()),
        other => other.clone(),
    }
}

/// A small YAML rendering of JSON, as podman prints `info`.
fn yaml(value: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                match v {
                    Value::Object(inner) if !inner.is_empty() => {
                        out.push_str(&format!("{pad}{key}:\n"));
                        yaml(v, indent + 2, out);
                    }
                    Value::Array(items) if !items.is_empty() => {
                        out.push_str(&format!("{pad}{key}:\n"));
                        for item in items {
                            out.push_str(&format!("{pad}- {}\n", scalar(item)));
                        }
                    }
                    other => out.push_str(&format!("{pad}{key}: {}\n", scalar(other))),
                }
            }
        }
        other => out.push_str(&format!("{pad}{}\n", scalar(other))),
    }
}

/// A string YAML would read as something else (a number, a boolean, null), or would cut
/// or misread (a comment, a key, an indicator first, edge spaces, a newline): quoted.
fn needs_quotes(s: &str) -> bool {
    s.is_empty()
        || s.contains(": ")
        || s.contains(" #")
        || s.contains('\n')
        || s.starts_with([
            '*', '&', '!', '{', '[', '#', '|', '>', '\'', '"', '%', '@', '`',
        ])
        || s.starts_with(' ')
        || s.ends_with([' ', ':'])
        || s.parse::<f64>().is_ok()
        || matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "~"
        )
}

fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) if needs_quotes(s) => format!("{s:?}"),
        Value::String(s) => s.clone(),
        Value::Object(m) if m.is_empty() => "{}".into(),
        Value::Array(a) if a.is_empty() => "[]".into(),
        other => other.to_string(),
    }
}

/// `rpod system service`: serve the REST API until stopped or idle.
pub fn service(engine: Engine, runroot: &std::path::Path, args: ServiceArgs) -> Outcome {
    use rpod_api::{ListenUri, Listener, ServiceOptions};
    // The service manager's socket of the service's own unit is not its containers': one
    // with `--sdnotify` started here must tell it nothing (its monitor would become the
    // service's main process). Removed before any thread of the service's runs.
    std::env::remove_var("NOTIFY_SOCKET");
    // Checked before anything listens.
    if let Some(origin) = &args.cors {
        rpod_api::http::set_cors(origin).map_err(usage)?;
    }
    let listener = match Listener::from_activation().map_err(usage)? {
        Some(listener) => {
            if args.uri.is_some() {
                tracing::warn!("started by socket activation: the URI argument is ignored");
            }
            listener
        }
        None => {
            let uri = match &args.uri {
                Some(text) => ListenUri::parse(text).map_err(usage)?,
                None => ListenUri::Unix(rpod_engine::paths::service_socket(runroot)),
            };
            Listener::bind(&uri).map_err(|e| Failure::new(ENGINE_ERROR, anyhow::anyhow!(e)))?
        }
    };
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => {
            if listener.tcp_address().is_none() {
                return Err(usage(
                    "--tls-cert and --tls-key need a TCP address (tcp://IP:PORT)".to_string(),
                ));
            }
            let files = rpod_api::tls::TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
                client_ca: args.tls_client_ca.clone(),
            };
            Some(rpod_api::tls::Tls::load(&files).map_err(usage)?)
        }
        _ => None,
    };
    if let Some(warning) = listener.exposure_warning(tls.as_ref()) {
        tracing::warn!("{warning}");
    }
    let options = ServiceOptions {
        listener,
        idle_exit: (args.time > 0).then(|| std::time::Duration::from_secs(args.time)),
        grace: std::time::Duration::from_secs(10),
        tls,
        cors: args.cors.clone(),
    };
    rpod_api::serve(std::sync::Arc::new(engine), options)
        .map_err(|e| Failure::new(ENGINE_ERROR, anyhow::anyhow!(e)))?;
    Ok(0)
}

pub fn info(engine: &Engine, args: FormatArgs) -> Outcome {
    print_info(serde_json::to_value(engine.info()?)?, &args)
}

/// `info`'s output of the engine's report (this store's, or a remote service's).
pub fn print_info(data: Value, args: &FormatArgs) -> Outcome {
    match args.format.as_deref() {
        Some("json") => println!("{}", serde_json::to_string_pretty(&data)?),
        Some(template) => format::print(template, &[go_names(&data)], &format::upper_header)?,
        None => {
            let mut out = String::new();
            yaml(&data, 0, &mut out);
            print!("{out}");
        }
    }
    Ok(0)
}

/// This rpod's version, as `version` shows the client's.
pub fn client_version() -> Value {
    serde_json::to_value(rpod_engine::views::VersionInfo::of_this_build()).unwrap_or_default()
}

pub fn version(args: &FormatArgs) -> Outcome {
    let data = json!({ "Client": client_version() });
    match args.format.as_deref() {
        Some("json") => println!("{}", serde_json::to_string_pretty(&data)?),
        Some(template) => {
            // Without a service, the engine is this program: a template may read it as
            // the server, as podman's local `version --format '{{.Server.Version}}'`.
            let data = json!({ "Client": data["Client"], "Server": data["Client"] });
            format::print(template, &[data], &format::upper_header)?
        }
        None => {
            println!("Version:      {}", env!("CARGO_PKG_VERSION"));
            println!("API Version:  {}", env!("CARGO_PKG_VERSION"));
            println!("OS/Arch:      linux/{}", rpod_engine::views::go_arch());
        }
    }
    Ok(0)
}

/// podman's `unshare` enters the user namespace of rootless podman; as root it refuses
/// (`please use unshare with rootless`), and rpod always runs as root.
pub fn unshare(_args: &crate::cli::UnshareArgs) -> Outcome {
    Err(usage(
        "unshare is for rootless mode, which rpod does not have: it runs as root, \
         where podman refuses it too (please use unshare with rootless)",
    ))
}

/// `machine`: podman's virtual machines (for macOS, Windows and hosts without container
/// support) are not something rpod has.
pub fn machine() -> Outcome {
    Err(usage(
        "\"rpod machine\" is not supported: rpod runs containers on this host, in no \
         virtual machine",
    ))
}

/// A size and the share of `total` it is, as podman's `system df` prints it.
fn reclaimable(size: u64, total: u64) -> String {
    let percent = (size * 100).checked_div(total).unwrap_or(0);
    format!("{} ({percent}%)", rpod_engine::human::size_precise(size))
}

/// An image as `system df` counts it.
pub struct DfImage {
    pub id: String,
    pub names: Vec<String>,
    pub created: chrono::DateTime<chrono::Utc>,
    pub size: u64,
    /// The bytes of its layers that other images have too.
    pub shared: u64,
    /// How many containers use it.
    pub containers: usize,
}

/// A container as `system df` counts it: what it wrote.
pub struct DfContainer {
    pub id: String,
    pub image_id: String,
    pub command: String,
    /// How many named or anonymous volumes it mounts.
    pub volumes: usize,
    pub created: chrono::DateTime<chrono::Utc>,
    pub name: String,
    pub written: u64,
    pub status: String,
    pub active: bool,
}

/// A volume as `system df` counts it.
pub struct DfVolume {
    pub name: String,
    /// How many containers use it.
    pub links: usize,
    pub size: u64,
}

/// `system df`: what images, containers and volumes take on disk.
pub fn df(engine: &Engine, args: DfArgs) -> Outcome {
    let usage = engine.disk_usage()?;
    let images: Vec<DfImage> = usage
        .images
        .iter()
        .map(|image| DfImage {
            id: image.record.id.clone(),
            names: image.names.clone(),
            created: image.record.created.unwrap_or(image.record.added),
            size: image.record.size,
            shared: image.shared,
            containers: image.containers,
        })
        .collect();
    let containers: Vec<DfContainer> = usage
        .containers
        .iter()
        .map(|container| DfContainer {
            id: container.record.id().to_string(),
            image_id: container.record.config.image_id.clone(),
            command: container.record.config.args.join(" "),
            volumes: container
                .record
                .config
                .mounts
                .iter()
                .filter(|m| m.volume.is_some())
                .count(),
            created: container.record.config.created,
            name: container.record.config.name.clone(),
            written: container.written,
            status: container.record.state.status.as_str().to_string(),
            // Running, as podman and Docker count active containers (an initialized or
            // paused one is not).
            active: container.record.state.status == rpod_engine::Status::Running,
        })
        .collect();
    let volumes: Vec<DfVolume> = usage
        .volumes
        .iter()
        .map(|volume| DfVolume {
            name: volume.record.name.clone(),
            links: volume.users,
            size: volume.size,
        })
        .collect();
    print_df(&images, &containers, &volumes, args)
}

/// `system df`'s summary (or with `--verbose` its three tables) of what the store holds.
pub fn print_df(
    images: &[DfImage],
    containers: &[DfContainer],
    volumes: &[DfVolume],
    args: DfArgs,
) -> Outcome {
    let short = |id: &str| id.chars().take(12).collect::<String>();
    let age = |time: chrono::DateTime<chrono::Utc>| {
        rpod_engine::human::duration((chrono::Utc::now() - time).num_seconds())
    };
    let size = rpod_engine::human::size_precise;
    let mut image_rows = Vec::new();
    let (mut image_total, mut image_unused, mut images_used) = (0, 0, 0);
    for image in images {
        image_total += image.size;
        if image.containers == 0 {
            image_unused += image.size;
        } else {
            images_used += 1;
        }
        // A row per name, as podman's: `<none>` for an image without one.
        for (repository, tag) in rpod_engine::image::reference::rows_of_names(&image.names) {
            image_rows.push(json!({
                "Repository": repository,
                "Tag": tag,
                "ID": short(&image.id),
                "Created": age(image.created),
                "Size": size(image.size),
                "SharedSize": size(image.shared),
                "UniqueSize": size(image.size.saturating_sub(image.shared)),
                "Containers": image.containers,
            }));
        }
    }
    let mut container_rows = Vec::new();
    let (mut written_total, mut written_idle, mut active) = (0, 0, 0);
    for container in containers {
        written_total += container.written;
        if container.active {
            active += 1;
        } else {
            written_idle += container.written;
        }
        container_rows.push(json!({
            "ID": short(&container.id),
            "Image": short(&container.image_id),
            "Command": container.command,
            "LocalVolumes": container.volumes,
            "Size": size(container.written),
            "Created": age(container.created),
            "Status": container.status,
            "Names": container.name,
        }));
    }
    let mut volume_rows = Vec::new();
    let (mut volume_total, mut volume_unused, mut volumes_used) = (0, 0, 0);
    for volume in volumes {
        volume_total += volume.size;
        if volume.links == 0 {
            volume_unused += volume.size;
        } else {
            volumes_used += 1;
        }
        volume_rows.push(json!({
            "VolumeName": volume.name,
            "Links": volume.links,
            "Size": rpod_engine::human::size_precise(volume.size),
        }));
    }
    if args.verbose {
        // podman's tables and headers.
        println!("Images space usage:\n");
        format::print(
            "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.Created}}\t{{.Size}}\t\
             {{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}",
            &image_rows,
            &|f| match f {
                "ID" => "IMAGE ID".into(),
                "SharedSize" => "SHARED SIZE".into(),
                "UniqueSize" => "UNIQUE SIZE".into(),
                other => other.to_uppercase(),
            },
        )?;
        println!("\nContainers space usage:\n");
        format::print(
            "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t\
             {{.Created}}\t{{.Status}}\t{{.Names}}",
            &container_rows,
            &|f| match f {
                "ID" => "CONTAINER ID".into(),
                "LocalVolumes" => "LOCAL VOLUMES".into(),
                other => other.to_uppercase(),
            },
        )?;
        println!("\nLocal Volumes space usage:\n");
        format::print(
            "table {{.VolumeName}}\t{{.Links}}\t{{.Size}}",
            &volume_rows,
            &|f| match f {
                "VolumeName" => "VOLUME NAME".into(),
                other => other.to_uppercase(),
            },
        )?;
        return Ok(0);
    }
    let rows = vec![
        json!({
            "Type": "Images",
            "Total": images.len(),
            "Active": images_used,
            "Size": rpod_engine::human::size_precise(image_total),
            "RawSize": image_total,
            "Reclaimable": reclaimable(image_unused, image_total),
            "RawReclaimable": image_unused,
        }),
        json!({
            "Type": "Containers",
            "Total": containers.len(),
            "Active": active,
            "Size": rpod_engine::human::size_precise(written_total),
            "RawSize": written_total,
            "Reclaimable": reclaimable(written_idle, written_total),
            "RawReclaimable": written_idle,
        }),
        json!({
            "Type": "Local Volumes",
            "Total": volumes.len(),
            "Active": volumes_used,
            "Size": rpod_engine::human::size_precise(volume_total),
            "RawSize": volume_total,
            "Reclaimable": reclaimable(volume_unused, volume_total),
            "RawReclaimable": volume_unused,
        }),
    ];
    let format = args.format.unwrap_or_else(|| {
        "table {{.Type}}\t{{.Total}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}".into()
    });
    format::print(&format, &rows, &format::upper_header)?;
    Ok(0)
}

/// `system prune`: stopped containers, networks no container uses, unnamed images (every
/// unused one with --all), and with --volumes the volumes no container uses.
pub fn prune(engine: &Engine, args: SystemPruneArgs) -> Outcome {
    let mut container_filters = Vec::new();
    for filter in &args.filter {
        container_filters.push(super::container::prune_filter(filter)?);
    }
    let image_filters = super::image::prune_filters(engine, &args.filter)?;
    let pruned = engine.system_prune(&rpod_engine::engine::SystemPruneOptions {
        // Not when filtered: the filters are containers' and images'.
        pods: args.filter.is_empty(),
        volumes: args.volumes,
        all_images: args.all,
        container: &|r| container_filters.iter().all(|f| f(r)),
        image: &|i| image_filters.matches(i),
    })?;
    let ids = rpod_engine::engine::pruned_ids;
    print_prune_report(&PruneReport {
        reclaimed: pruned.reclaimed(),
        containers: ids(&pruned.containers),
        pods: pruned.pods,
        volumes: ids(&pruned.volumes),
        images: ids(&pruned.images),
        networks: pruned.networks,
    });
    Ok(0)
}

/// What `system prune` removed, here or on a service.
pub struct PruneReport {
    pub containers: Vec<String>,
    pub pods: Vec<String>,
    pub volumes: Vec<String>,
    pub images: Vec<String>,
    pub networks: Vec<String>,
    /// The bytes the removed containers' changes, volumes and images took.
    pub reclaimed: u64,
}

/// Print a `system prune` as podman does: a heading over each kind that lost something,
/// then the space reclaimed in Go's `HumanSize` ("Total reclaimed space: 2.141MB").
pub fn print_prune_report(report: &PruneReport) {
    for (heading, gone) in [
        ("Deleted Containers", &report.containers),
        ("Deleted Pods", &report.pods),
        ("Deleted Volumes", &report.volumes),
        ("Deleted Images", &report.images),
        ("Deleted Networks", &report.networks),
    ] {
        if !gone.is_empty() {
            println!("{heading}");
            for id in gone {
                println!("{id}");
            }
        }
    }
    println!(
        "Total reclaimed space: {}",
        rpod_engine::human::size_precise(report.reclaimed)
    );
}

/// `system migrate`: podman's words for each container stopped.
pub fn migrate(engine: &Engine, args: MigrateArgs) -> Outcome {
    let report = engine.system_migrate(args.new_runtime.as_deref())?;
    for id in &report.stopped {
        println!("stopped {id}");
    }
    Ok(0)
}

/// `system renumber`: podman gives each container and pod a numbered lock out of a fixed
/// table, which a change of its size makes renumber; rpod's locks are files by ID, so
/// there is nothing to renumber, and saying so is the whole job.
pub fn renumber() -> Outcome {
    eprintln!(
        "rpod's locks are not numbered (one lock file per container and pod): nothing to renumber"
    );
    Ok(0)
}

/// `system reset`: everything removed, after a yes on standard input unless `--force`.
pub fn reset(engine: &Engine, args: ResetArgs) -> Outcome {
    if !args.force {
        eprint!(
            "WARNING! This will remove:\n        - all pods\n        - all containers\n        - all images\n        - all volumes\n        - all networks\n        - all secrets\nAre you sure you want to continue? [y/N] "
        );
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if !matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
            return Ok(0);
        }
    }
    engine.reset()?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_that_read_as_something_else_are_quoted() {
        for (text, shown) in [
            ("12", "\"12\""),
            ("1.5", "\"1.5\""),
            ("true", "\"true\""),
            ("null", "\"null\""),
            ("a: b", "\"a: b\""),
            ("two\nlines", "\"two\\nlines\""),
            ("", "\"\""),
            ("bookworm", "bookworm"),
            ("v1", "v1"),
            ("/usr/sbin/runc", "/usr/sbin/runc"),
        ] {
            assert_eq!(scalar(&Value::String(text.into())), shown, "{text:?}");
        }
        assert_eq!(scalar(&serde_json::json!(12)), "12");
    }
}
