//! Remote commands on images: listing, removing, pulling, naming.

use chrono::{TimeZone, Utc};
use serde_json::{json, Value};

use crate::cli::{
    CommitArgs, HistoryArgs, ImagesArgs, PullArgs, PushArgs, RmiArgs, SearchArgs, TagArgs,
    TreeArgs, UntagArgs,
};
use crate::exit::{usage, Failure, Outcome, ENGINE_ERROR};
use crate::format;
use rpod_engine::human;

use super::{encode, expect, filters_map, filters_param, registry_params, short_id, Client};

/// The longest line of a pull's progress read (a line past it is read as two, neither JSON).
const MAX_REPORT_LINE: u64 = 1024 * 1024;

/// The `images` rows of a libpod `ImageSummary`: one per name, or one `<none>` row.
fn image_rows(item: &Value, no_trunc: bool) -> Vec<Value> {
    let full = item["Id"].as_str().unwrap_or_default();
    let bare = full.trim_start_matches("sha256:");
    let id = match no_trunc {
        true => format!("sha256:{bare}"),
        false => short_id(bare, false),
    };
    let created = item["Created"]
        .as_i64()
        .and_then(|t| Utc.timestamp_opt(t, 0).single());
    let size = item["Size"].as_u64().unwrap_or(0);
    let names: Vec<&str> = item["RepoTags"]
        .as_array()
        .map(|tags| tags.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let split = |name: &str| match name.rfind(':').filter(|at| !name[at + 1..].contains('/')) {
        Some(at) => (name[..at].to_string(), name[at + 1..].to_string()),
        None => (name.to_string(), "latest".to_string()),
    };
    let pairs: Vec<(String, String)> = if names.is_empty() {
        vec![("<none>".into(), "<none>".into())]
    } else {
        names.iter().map(|n| split(n)).collect()
    };
    pairs
        .into_iter()
        .map(|(repository, tag)| {
            let mut row = item.clone();
            let extra = json!({
                "Repository": repository,
                "Tag": tag,
                "ID": id,
                "Id": bare,
                "CreatedSince": created.map(human::ago).unwrap_or_default(),
                "Size": human::size(size),
                "SizeBytes": size,
            });
            if let (Some(row), Value::Object(extra)) = (row.as_object_mut(), extra) {
                row.extend(extra);
            }
            crate::inspect::image_template_values(
                &mut row,
                created,
                item["Containers"].as_u64().unwrap_or(0),
                item["Dangling"].as_bool().unwrap_or(names.is_empty()),
                item["ParentId"].as_str().unwrap_or_default(),
            );
            row
        })
        .collect()
}

/// The ID of the image `image` names when it names it by ID (or an ID's prefix).
fn image_id_asked(client: &mut Client, image: &str) -> Result<Option<String>, Failure> {
    let reply = client.call("GET", &format!("/images/{}/json", encode(image)), None)?;
    if reply.status != 200 {
        return Ok(None);
    }
    let found = reply.json()?;
    let id = found["Id"].as_str().unwrap_or_default();
    let id = id.trim_start_matches("sha256:");
    let by_id = !id.is_empty()
        && (id.starts_with(image.trim_start_matches("sha256:")) || image.contains('@'));
    Ok(by_id.then(|| id.to_string()))
}

pub fn images(client: &mut Client, args: &ImagesArgs) -> Outcome {
    let mut words = args.filter.clone();
    // An ID (or its prefix) shows that image, anything else the images of that name
    // pattern, as the local `images IMAGE`.
    if let Some(image) = &args.image {
        words.push(match image_id_asked(client, image)? {
            Some(id) => format!("id={id}"),
            None => format!("reference={image}"),
        });
    }
    let filters = filters_map(&words)?;
    let mut path = format!("/images/json?all={}", args.all);
    if !filters.is_empty() {
        path.push_str(&format!(
            "&filters={}",
            encode(&Value::Object(filters).to_string())
        ));
    }
    let list = expect(client.call("GET", &path, None)?, &[200])?.json()?;
    let mut items = list.as_array().cloned().unwrap_or_default();
    items.sort_by_key(|item| std::cmp::Reverse(item["Created"].as_i64()));
    if args.quiet {
        for item in &items {
            let id = item["Id"]
                .as_str()
                .unwrap_or_default()
                .trim_start_matches("sha256:");
            match args.no_trunc {
                true => println!("sha256:{id}"),
                false => println!("{}", short_id(id, false)),
            }
        }
        return Ok(0);
    }
    if args.format.as_deref() == Some("json") {
        println!("{}", serde_json::to_string_pretty(&items)?);
        return Ok(0);
    }
    // The service lists every name of an image a name of which matched: the rows of the
    // names asked for only, as the local `images` shows them.
    let references: Vec<&str> = words
        .iter()
        .filter_map(|w| w.strip_prefix("reference="))
        .collect();
    let rows: Vec<Value> = items
        .iter()
        .flat_map(|item| image_rows(item, args.no_trunc))
        .filter(|row| {
            references.is_empty()
                || references
                    .iter()
                    .any(|p| crate::inspect::image_row_named(row, p))
        })
        .collect();
    let format = args.format.clone().unwrap_or_else(|| {
        "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}".into()
    });
    format::print_table(
        &format,
        &rows,
        &crate::inspect::image_header,
        args.noheading,
    )?;
    Ok(0)
}

pub fn rmi(client: &mut Client, args: &RmiArgs) -> Outcome {
    if args.images.is_empty() {
        return Err(usage("give at least one image (--all is local only)"));
    }
    let mut path = format!("/images/remove?force={}&ignore={}", args.force, args.ignore);
    for image in &args.images {
        path.push_str(&format!("&images={}", encode(image)));
    }
    let report = expect(client.call("DELETE", &path, None)?, &[200])?.json()?;
    for (key, word) in [("Untagged", "Untagged"), ("Deleted", "Deleted")] {
        for item in report[key].as_array().into_iter().flatten() {
            if let Some(text) = item.as_str() {
                println!("{word}: {text}");
            }
        }
    }
    for error in report["Errors"].as_array().into_iter().flatten() {
        let text = error
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| error.to_string());
        eprintln!("Error: {text}");
    }
    Ok(report["ExitCode"].as_i64().unwrap_or(0) as i32)
}

pub fn pull(client: &mut Client, args: &PullArgs) -> Outcome {
    for image in &args.images {
        match pull_image(client, image, args.quiet)? {
            Some(id) => println!("{id}"),
            None => return Ok(ENGINE_ERROR),
        }
    }
    Ok(0)
}

/// Follow the reports of a pull or push the service runs for a POST to `path`: one JSON
/// object per line (other lines skipped), each given to `each`, until the stream ends
/// (`true`) or a report names a failure (`error`, said on stderr: `false`).
fn follow_reports(
    client: &mut Client,
    path: &str,
    mut each: impl FnMut(&Value),
) -> Result<bool, Failure> {
    let mut reports = super::StreamLines::open(client, "POST", path, MAX_REPORT_LINE)?;
    while let Some(line) = reports.next_line()? {
        let Ok(report) = serde_json::from_slice::<Value>(line) else {
            continue;
        };
        if let Some(error) = report["error"].as_str().filter(|e| !e.is_empty()) {
            eprintln!("Error: {error}");
            return Ok(false);
        }
        each(&report);
    }
    Ok(true)
}

/// Pull `image` on the service, its progress on stderr unless `quiet`; the image's ID, or
/// `None` when the service reported a failure (said on stderr).
pub fn pull_image(
    client: &mut Client,
    image: &str,
    quiet: bool,
) -> Result<Option<String>, Failure> {
    let path = format!("/images/pull?reference={}&quiet={quiet}", encode(image));
    // Progress (`stream`), then the result (`id`, `images`).
    let mut pulled = None;
    let ended = follow_reports(client, &path, |report| {
        if let Some(text) = report["stream"].as_str().filter(|_| !quiet) {
            eprint!("{text}");
        }
        if let Some(id) = report["id"].as_str().filter(|i| !i.is_empty()) {
            pulled = Some(id.to_string());
        }
    })?;
    if !ended {
        return Ok(None);
    }
    if pulled.is_none() {
        eprintln!("Error: the service's pull of {image} ended without an image");
    }
    Ok(pulled)
}

/// `push IMAGE [DESTINATION]`: the service pushes with its own registry settings but for
/// `--tls-verify` and `--creds`, which go with the request; its progress on stderr unless
/// `-q`, the manifest's digest written to `--digestfile` here.
pub fn push(client: &mut Client, args: &PushArgs) -> Outcome {
    // A destination of the service's host (`dir:PATH`...) has no digest to report.
    let local = crate::commands::registry::local_destination(args)?;
    let mut query = vec![
        format!("quiet={}", args.quiet),
        format!("compressionFormat={}", encode(&args.compression_format)),
    ];
    if let Some(destination) = &args.destination {
        query.push(format!("destination={}", encode(destination)));
    }
    if let Some(format) = &args.format {
        // Checked here as the local command checks it; the service checks again.
        let _: rpod_engine::image::ImageFormat = format.parse()?;
        query.push(format!("format={}", encode(format)));
    }
    query.extend(registry_params(&args.registry));
    let path = format!("/images/{}/push?{}", encode(&args.image), query.join("&"));
    // `stream` lines of progress, the last one naming the digest.
    let mut digest = None;
    let ended = follow_reports(client, &path, |report| {
        let text = report["stream"].as_str().unwrap_or_default();
        match text.strip_prefix("Pushed manifest ") {
            Some(pushed) => digest = Some(pushed.trim().to_string()),
            None if !args.quiet => eprint!("{text}"),
            None => {}
        }
    })?;
    if !ended {
        return Ok(ENGINE_ERROR);
    }
    if local.is_some() {
        return Ok(0);
    }
    let digest =
        digest.ok_or_else(|| usage("the service's push ended without the image's digest"))?;
    if let Some(path) = &args.digestfile {
        std::fs::write(path, &digest).map_err(|e| usage(format!("{}: {e}", path.display())))?;
    }
    Ok(0)
}

/// `search TERM`: the service searches, with its own registry settings but for
/// `--tls-verify` and `--creds`, which go with the request; the results printed as the
/// local command prints them.
pub fn search(client: &mut Client, args: &SearchArgs) -> Outcome {
    // Checked here as the local command checks them; the service checks again.
    crate::commands::registry::search_filter(args)?;
    let mut query = vec![
        format!("term={}", encode(&args.term)),
        format!("limit={}", args.limit),
        format!("listTags={}", args.list_tags),
    ];
    query.extend(filters_param(&args.filter)?);
    query.extend(registry_params(&args.registry));
    let path = format!("/images/search?{}", query.join("&"));
    let answer = expect(client.call("GET", &path, None)?, &[200])?.json()?;
    let results: Vec<rpod_engine::image::registry::SearchResult> =
        serde_json::from_value(answer)
            .map_err(|e| usage(format!("the service's search answer: {e}")))?;
    crate::commands::registry::print_search(results, args)
}

/// `image tree IMAGE`: the service's tree text, printed as the local command prints it.
pub fn tree(client: &mut Client, args: &TreeArgs) -> Outcome {
    let path = format!(
        "/images/{}/tree?whatrequires={}",
        encode(&args.image),
        args.what_requires
    );
    let answer = expect(client.call("GET", &path, None)?, &[200])?.json()?;
    let tree = answer["Tree"]
        .as_str()
        .ok_or_else(|| usage("the service's answer has no tree"))?;
    println!("{tree}");
    Ok(0)
}

/// `image history IMAGE`: the service's history of the image, printed as the local command
/// prints it. The API carries no author and times to the second only.
pub fn history(client: &mut Client, args: HistoryArgs) -> Outcome {
    let path = format!("/images/{}/history", encode(&args.image));
    let answer = expect(client.call("GET", &path, None)?, &[200])?.json()?;
    let items = answer
        .as_array()
        .ok_or_else(|| usage("the service's history answer is not a list"))?;
    let mut names: std::collections::HashMap<String, Vec<String>> = Default::default();
    let steps: Vec<rpod_engine::HistoryStep> = items
        .iter()
        .map(|item| {
            let image = item["Id"]
                .as_str()
                .filter(|id| *id != "<missing>")
                .map(|id| id.trim_start_matches("sha256:").to_string());
            if let Some(id) = &image {
                let tags = item["Tags"].as_array().into_iter().flatten();
                names.insert(
                    id.clone(),
                    tags.filter_map(|t| t.as_str().map(str::to_string))
                        .collect(),
                );
            }
            let text = |key: &str| item[key].as_str().unwrap_or_default().to_string();
            rpod_engine::HistoryStep {
                created: item["Created"]
                    .as_i64()
                    .filter(|t| *t != 0)
                    .and_then(|t| Utc.timestamp_opt(t, 0).single()),
                created_by: text("CreatedBy"),
                size: item["Size"].as_u64().unwrap_or(0),
                comment: text("Comment"),
                author: String::new(),
                image,
            }
        })
        .collect();
    let names_of = |id: &str| names.get(id).cloned().unwrap_or_default();
    crate::commands::image::print_history(&steps, &names_of, args)
}

/// A name as the API's `repo` and `tag` (`latest` when it has none). A digest cannot be
/// sent (the API has no field for it), so it is refused as the local command would refuse
/// it as a new name.
fn repo_and_tag(name: &str) -> Result<(String, String), Failure> {
    let reference = rpod_engine::image::reference::Reference::parse(name)?;
    if reference.digest.is_some() {
        return Err(usage(format!(
            "{name:?}: a name with a digest cannot tag or untag an image"
        )));
    }
    let (repo, tag) = rpod_engine::image::reference::repository_and_tag(name);
    let tag = match reference.tag {
        Some(_) => tag,
        None => rpod_engine::image::reference::DEFAULT_TAG.to_string(),
    };
    Ok((repo, tag))
}

/// `commit CONTAINER [IMAGE]`: the service makes the image; its ID printed (and written to
/// `--iidfile` here), as the local command does.
pub fn commit(client: &mut Client, args: &CommitArgs) -> Outcome {
    // Checked here as the local command checks it; the service checks again.
    let _: rpod_engine::image::ImageFormat = args.format.parse().map_err(usage)?;
    let mut query = vec![
        format!("container={}", encode(&args.container)),
        format!("pause={}", args.pause),
        format!("squash={}", args.squash),
        format!("format={}", encode(&args.format)),
    ];
    if let Some(image) = &args.image {
        let (repo, tag) = repo_and_tag(image)?;
        query.push(format!("repo={}&tag={}", encode(&repo), encode(&tag)));
    }
    for (key, value) in [("comment", &args.message), ("author", &args.author)] {
        if let Some(value) = value {
            query.push(format!("{key}={}", encode(value)));
        }
    }
    for change in &args.changes {
        query.push(format!("changes={}", encode(change)));
    }
    let path = format!("/commit?{}", query.join("&"));
    let answer = expect(client.call("POST", &path, None)?, &[201])?.json()?;
    let id = answer["Id"].as_str().unwrap_or_default();
    let id = id.trim_start_matches("sha256:");
    if let Some(path) = &args.iidfile {
        std::fs::write(path, format!("sha256:{id}"))
            .map_err(|e| usage(format!("writing {}: {e}", path.display())))?;
    }
    println!("{id}");
    Ok(0)
}

/// `tag IMAGE NAME...`: each name added by the service.
pub fn tag(client: &mut Client, args: &TagArgs) -> Outcome {
    send_names(client, &args.image, "tag", &args.names)
}

/// `untag IMAGE [NAME...]`: the names taken off by the service; without names, all of them.
pub fn untag(client: &mut Client, args: &UntagArgs) -> Outcome {
    if args.names.is_empty() {
        let path = format!("/images/{}/untag", encode(&args.image));
        expect(client.call("POST", &path, None)?, &[201])?;
        return Ok(0);
    }
    send_names(client, &args.image, "untag", &args.names)
}

/// Each of `names` to the image's `tag` or `untag` endpoint; every name is checked first,
/// so a bad one sends none.
fn send_names(client: &mut Client, image: &str, endpoint: &str, names: &[String]) -> Outcome {
    let names: Vec<(String, String)> = names
        .iter()
        .map(|name| repo_and_tag(name))
        .collect::<Result<_, _>>()?;
    for (repo, tag) in names {
        let path = format!(
            "/images/{}/{endpoint}?repo={}&tag={}",
            encode(image),
            encode(&repo),
            encode(&tag)
        );
        expect(client.call("POST", &path, None)?, &[201])?;
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::super::client::{tests::serve_once, Endpoint};
    use super::*;

    #[test]
    fn summaries_become_a_row_per_name() {
        let item = json!({
            "Id": "sha256:0123456789abcdef",
            "RepoTags": ["localhost/demo:latest", "registry:5000/x/y:v1"],
            "Created": 1_767_225_600,
            "Size": 4_861_000,
        });
        let rows = image_rows(&item, false);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0]["Repository"], "localhost/demo");
        assert_eq!(rows[0]["Tag"], "latest");
        assert_eq!(rows[1]["Repository"], "registry:5000/x/y");
        assert_eq!(rows[1]["Tag"], "v1");
        assert_eq!(rows[0]["ID"], "0123456789ab");
        assert_eq!(rows[0]["Size"], "4.86 MB");
        let bare = image_rows(&json!({"Id": "abc", "RepoTags": null}), true);
        assert_eq!(bare[0]["Repository"], "<none>");
        assert_eq!(bare[0]["ID"], "sha256:abc");
    }

    /// A streamed 200 answer whose body is `lines`, in one chunk (kept for the test's whole
    /// run: the fake service answers with a static slice).
    fn streamed(lines: &str) -> &'static [u8] {
        let answer = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{lines}\r\n0\r\n\r\n",
            lines.len()
        );
        Box::leak(answer.into_boxed_str()).as_bytes()
    }

    fn push_args(digestfile: Option<std::path::PathBuf>) -> PushArgs {
        use clap::Parser;
        let mut args = vec!["push", "demo"];
        let file = digestfile.map(|f| f.display().to_string());
        if let Some(file) = &file {
            args.extend(["--digestfile", file]);
        }
        match crate::cli::Cli::parse_from(["rpod"].iter().chain(&args)).command {
            crate::cli::Command::Push(push) => push,
            _ => unreachable!(),
        }
    }

    #[test]
    fn a_push_writes_the_digest_it_reports_and_fails_without_one() {
        let digest = format!("sha256:{}", "d".repeat(64));
        let (socket, server, dir) = serve_once(streamed(&format!(
            "{{\"stream\":\"Copying blob\\n\"}}\nnot json\n{{\"stream\":\"Pushed manifest {digest}\\n\"}}\n"
        )));
        let file = dir.path().join("digest");
        let mut client = Client::new(Endpoint::Unix(socket));
        assert_eq!(
            push(&mut client, &push_args(Some(file.clone()))).unwrap(),
            0
        );
        assert_eq!(std::fs::read_to_string(&file).unwrap(), digest);
        let request = String::from_utf8(server.join().unwrap()).unwrap();
        assert!(
            request.starts_with("POST /v4.3.1/libpod/images/demo/push?"),
            "{request}"
        );

        let (socket, _server, _dir) = serve_once(streamed("{\"stream\":\"Copying blob\\n\"}\n"));
        let mut client = Client::new(Endpoint::Unix(socket));
        let err = push(&mut client, &push_args(None)).unwrap_err();
        assert!(
            err.message().contains("without the image's digest"),
            "{}",
            err.message()
        );

        let (socket, _server, _dir) = serve_once(streamed("{\"error\":\"denied\"}\n"));
        let mut client = Client::new(Endpoint::Unix(socket));
        assert_eq!(push(&mut client, &push_args(None)).unwrap(), ENGINE_ERROR);
    }

    #[test]
    fn a_pull_gives_the_id_it_reports_or_none_on_a_failure() {
        let (socket, _server, _dir) = serve_once(streamed(
            "{\"stream\":\"Trying\\n\"}\n{\"id\":\"abc\",\"images\":[\"abc\"]}\n",
        ));
        let mut client = Client::new(Endpoint::Unix(socket));
        assert_eq!(
            pull_image(&mut client, "demo", true).unwrap().as_deref(),
            Some("abc")
        );
        for lines in [
            "{\"error\":\"no such image\"}\n{\"id\":\"abc\"}\n",
            "{\"stream\":\"x\"}\n",
        ] {
            let (socket, _server, _dir) = serve_once(streamed(lines));
            let mut client = Client::new(Endpoint::Unix(socket));
            assert_eq!(pull_image(&mut client, "demo", true).unwrap(), None);
        }
    }

    #[test]
    fn names_become_repo_and_tag() {
        let split = |name: &str| repo_and_tag(name).unwrap();
        assert_eq!(split("demo"), ("demo".into(), "latest".into()));
        assert_eq!(split("demo:v2"), ("demo".into(), "v2".into()));
        assert_eq!(
            split("localhost:5000/team/app:1.0"),
            ("localhost:5000/team/app".into(), "1.0".into())
        );
        assert_eq!(
            split("localhost:5000/team/app"),
            ("localhost:5000/team/app".into(), "latest".into())
        );
        let digest = format!("demo@sha256:{}", "a".repeat(64));
        assert!(repo_and_tag(&digest)
            .unwrap_err()
            .message()
            .contains("digest"));
        assert!(repo_and_tag("Bad Name").is_err());
    }
}
