//! `auto-update`: the engine's report as podman prints it (UNIT CONTAINER IMAGE POLICY
//! UPDATED), then the errors; exit code 125 when there were any.

use rpod_engine::engine::auto_update::AutoUpdateOptions;
use rpod_engine::image::registry::RegistryOptions;
use rpod_engine::Engine;

use crate::cli::AutoUpdateArgs;
use crate::exit::Outcome;
use crate::format;

pub fn auto_update(engine: &Engine, args: AutoUpdateArgs) -> Outcome {
    let options = AutoUpdateOptions {
        registry: RegistryOptions {
            tls_verify: args.tls_verify,
            auth_file: args.authfile.clone(),
            ..RegistryOptions::default()
        },
        dry_run: args.dry_run,
        rollback: args.rollback,
        systemctl: None,
    };
    let (reports, errors) = engine.auto_update(&options)?;
    let items: Vec<serde_json::Value> = reports
        .iter()
        .map(|r| serde_json::to_value(r).unwrap_or_default())
        .collect();
    match args.format.as_deref() {
        Some(template) => format::print(template, &items, &format::upper_header)?,
        None if !reports.is_empty() => {
            let mut lines = vec!["UNIT\tCONTAINER\tIMAGE\tPOLICY\tUPDATED".to_string()];
            for r in &reports {
                lines.push(format!(
                    "{}\t{}\t{}\t{}\t{}",
                    r.unit, r.container, r.image, r.policy, r.updated
                ));
            }
            println!("{}", format::align_columns(&lines));
        }
        None => {}
    }
    for error in &errors {
        eprintln!("Error: {error}");
    }
    Ok(if errors.is_empty() { 0 } else { 125 })
}
