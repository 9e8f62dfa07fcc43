//! Remote `secret create|ls|inspect|rm|exists` on libpod's `/secrets` endpoints: the data
//! read here as the local command reads it and sent as the request's body; what comes
//! back printed by the local command's own code.

use serde_json::Value;

use crate::cli::{ExistsArgs, SecretCreateArgs, SecretInspectArgs, SecretLsArgs, SecretRmArgs};
use crate::commands::secret::{
    driver_options, list_filters, print_inspect, print_list, secret_data,
};
use crate::exit::{usage, Outcome, ENGINE_ERROR};

use super::{encode, expect, failure, Client};

/// A JSON object of strings as a query value (the service's `labels` and `driveropts`).
fn json_query(pairs: &std::collections::BTreeMap<String, String>) -> String {
    encode(&serde_json::to_string(pairs).unwrap_or_default())
}

pub fn create(client: &mut Client, args: &SecretCreateArgs) -> Outcome {
    let options = driver_options(&args.driver_opts)?;
    let labels = rpod_engine::labels::parse_pairs(&args.labels);
    let data = secret_data(args)?;
    let mut path = format!(
        "/secrets/create?name={}&replace={}&labels={}",
        encode(&args.name),
        args.replace,
        json_query(&labels)
    );
    // The service's own default driver when none is named (its rpod.conf's).
    if let Some(driver) = &args.driver {
        path.push_str(&format!("&driver={}", encode(driver)));
    }
    if !options.is_empty() {
        path.push_str(&format!("&driveropts={}", json_query(&options)));
    }
    let reply = client.upload("POST", &path, "application/octet-stream", &mut |out| {
        out.write_all(&data)
    })?;
    let created = expect(reply, &[200, 201])?.json()?;
    println!("{}", created["ID"].as_str().unwrap_or_default());
    Ok(0)
}

pub fn ls(client: &mut Client, args: &SecretLsArgs) -> Outcome {
    // Checked here as the local command checks them; the service filters.
    list_filters(&args.filter)?;
    let path = super::objects::list_path("secrets", &args.filter)?;
    let listed = expect(client.call("GET", &path, None)?, &[200])?.json()?;
    print_list(
        listed.as_array().map(Vec::as_slice).unwrap_or_default(),
        args,
    )
}

/// A secret as the service shows it, or the service's answer when it has none.
fn inspected(
    client: &mut Client,
    name: &str,
) -> Result<Result<Value, super::client::Reply>, crate::exit::Failure> {
    let reply = client.call("GET", &format!("/secrets/{}/json", encode(name)), None)?;
    if reply.status == 200 {
        Ok(Ok(reply.json()?))
    } else {
        Ok(Err(reply))
    }
}

pub fn inspect(client: &mut Client, args: &SecretInspectArgs) -> Outcome {
    let mut found = Vec::new();
    let mut misses = crate::commands::InspectMisses::new("secret");
    for name in &args.names {
        match inspected(client, name)? {
            Ok(secret) => found.push(secret),
            Err(reply) => {
                misses.add_reply("secret", name, &reply);
            }
        }
    }
    print_inspect(&found, args)?;
    misses.outcome()
}

/// Each secret removed by its ID, which is printed, as the local command does.
pub fn rm(client: &mut Client, args: &SecretRmArgs) -> Outcome {
    let names: Vec<String> = if args.all {
        let listed = expect(client.call("GET", "/secrets/json", None)?, &[200])?.json()?;
        listed
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|secret| secret["ID"].as_str().map(str::to_string))
            .collect()
    } else if args.names.is_empty() {
        return Err(usage("you must provide at least one secret name or id"));
    } else {
        args.names.clone()
    };
    let mut code = 0;
    for name in &names {
        // The listing of --all names them by ID already; a name is found out first.
        let found = if args.all {
            Ok(name.clone())
        } else {
            inspected(client, name)?.map(|secret| secret["ID"].as_str().unwrap_or(name).to_string())
        };
        let id = match found {
            Ok(id) => id,
            Err(reply) if reply.status == 404 && args.ignore => continue,
            Err(reply) => {
                eprintln!("Error: {}", failure(&reply).message());
                code = ENGINE_ERROR;
                continue;
            }
        };
        let reply = client.call("DELETE", &format!("/secrets/{}", encode(&id)), None)?;
        if matches!(reply.status, 200 | 204) {
            println!("{id}");
        } else {
            eprintln!("Error: {}", failure(&reply).message());
            code = ENGINE_ERROR;
        }
    }
    Ok(code)
}

/// Through inspect, which every service serves (podman 4.3's has no `exists` for secrets).
pub fn exists(client: &mut Client, args: &ExistsArgs) -> Outcome {
    match inspected(client, &args.name)? {
        Ok(_) => Ok(0),
        Err(reply) if reply.status == 404 => Ok(1),
        Err(reply) => Err(failure(&reply)),
    }
}
