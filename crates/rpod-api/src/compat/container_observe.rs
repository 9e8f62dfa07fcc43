//! What runs in a container and what it uses, over the Docker API: `top` and `stats`
//! (`docker top`, `docker stats`), in Docker's shapes.

use std::time::Duration;

use serde_json::{json, Value};

use rpod_engine::container::ContainerRecord;
use rpod_engine::stats::Sample;

use crate::error::{ApiError, ApiResult};
use crate::exchange::Exchange;
use crate::service::Context;

/// `GET /containers/{name}/top?ps_args=`: the processes, as `{"Titles", "Processes"}`.
/// `ps_args` are podman's descriptors (`pid,user,args`) or, as podman takes them, ps(1)'s
/// arguments run inside the container (`aux`, `-o pid,rss`): Docker's client sends them as
/// one parameter, podman-remote a parameter per word. Docker's default `-ef` (and none)
/// shows podman's default set, which needs no `ps` in the container.
pub fn top(context: &Context, ex: &mut Exchange, name: &str) -> ApiResult<()> {
    let mut words = ps_args_words(ex);
    if words == ["-ef"] {
        words.clear();
    }
    let (titles, processes) = context.engine.top(name, &words)?;
    ex.json(200, &json!({ "Titles": titles, "Processes": processes }))
}

/// The words of a top request's `ps_args`, however many parameters carry them.
pub fn ps_args_words(ex: &Exchange) -> Vec<String> {
    ex.query_values("ps_args")
        .iter()
        .flat_map(|value| words_of_ps_args(value))
        .collect()
}

/// The words of one `ps_args` value. Docker's client sends the words apart with spaces;
/// podman-remote joins them with commas (`-o,pid,rss` for `-o pid,rss`), so there the
/// leading options are words of their own and the rest is their list.
fn words_of_ps_args(value: &str) -> Vec<String> {
    if value.contains(char::is_whitespace) {
        return value.split_whitespace().map(String::from).collect();
    }
    let items: Vec<&str> = value.split(',').filter(|i| !i.is_empty()).collect();
    let options = items.iter().take_while(|i| i.starts_with('-')).count();
    let mut words: Vec<String> = items[..options].iter().map(|o| o.to_string()).collect();
    if options < items.len() {
        words.push(items[options..].join(","));
    }
    words
}

/// The host's CPU time so far in nanoseconds (the first line of `/proc/stat`), against
/// which Docker's clients weigh a container's.
fn host_cpu_nanos() -> u64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: u64 = stat
        .lines()
        .next()
        .filter(|l| l.starts_with("cpu "))
        .map(|l| {
            l.split_whitespace()
                .skip(1)
                .filter_map(|f| f.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0);
    let per_second = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .filter(|t| *t > 0)
        .unwrap_or(100) as u64;
    ticks.saturating_mul(1_000_000_000 / per_second)
}

fn online_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// One reading: the container's counters (zeros when it does not run) and the host's CPU
/// time, taken together.
struct Reading {
    time: chrono::DateTime<chrono::Utc>,
    sample: Sample,
    host_cpu: u64,
}

fn read(context: &Context, name: &str) -> ApiResult<(ContainerRecord, Reading)> {
    let record = context.engine.inspect(name)?;
    let sample = context.engine.stats(&record)?.unwrap_or_default();
    Ok((
        record,
        Reading {
            time: chrono::Utc::now(),
            sample,
            host_cpu: host_cpu_nanos(),
        },
    ))
}

fn cpu_stats(reading: Option<&Reading>) -> Value {
    let (total, host) = reading.map_or((0, 0), |r| (r.sample.cpu_nanos, r.host_cpu));
    json!({
        "cpu_usage": { "total_usage": total, "usage_in_kernelmode": 0, "usage_in_usermode": 0 },
        "system_cpu_usage": host,
        "online_cpus": online_cpus(),
        "throttling_data": { "periods": 0, "throttled_periods": 0, "throttled_time": 0 },
    })
}

/// Docker's stats object for `now`, with `before` as its `precpu_stats`.
fn stats_json(record: &ContainerRecord, now: &Reading, before: Option<&Reading>) -> Value {
    let s = &now.sample;
    let zero_time = "0001-01-01T00:00:00Z".to_string();
    let stamp =
        |t: &chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
    json!({
        "id": record.id(),
        "name": format!("/{}", record.config.name),
        "read": stamp(&now.time),
        "preread": before.map_or(zero_time, |b| stamp(&b.time)),
        "pids_stats": { "current": s.pids },
        "blkio_stats": {
            "io_service_bytes_recursive": [
                { "major": 0, "minor": 0, "op": "read", "value": s.block_read },
                { "major": 0, "minor": 0, "op": "write", "value": s.block_write },
            ],
        },
        "num_procs": 0,
        "storage_stats": {},
        "cpu_stats": cpu_stats(Some(now)),
        "precpu_stats": cpu_stats(before),
        // The usage already leaves the inactive page cache out, as Docker's clients would.
        "memory_stats": { "usage": s.memory_usage, "limit": s.memory_limit, "stats": {} },
        "networks": { "eth0": { "rx_bytes": s.net_received, "tx_bytes": s.net_sent } },
    })
}

/// One JSON object and a newline, flushed at once; false when the client went away.
fn send_line(body: &mut impl std::io::Write, value: &Value) -> bool {
    let mut line = value.to_string();
    line.push('\n');
    body.write_all(line.as_bytes())
        .and_then(|()| body.flush())
        .is_ok()
}

/// `GET /containers/{name}/stats`: with `stream` (the default) one object a second until
/// the client goes away or the container is gone; otherwise one, whose CPU figures span a
/// second (`one-shot`: at once, without them).
pub fn stats(context: &Context, ex: &mut Exchange, name: &str) -> ApiResult<()> {
    let stream = ex.query_bool_or("stream", true)?;
    let one_shot = ex.query_bool("one-shot")?;
    let (record, first) = read(context, name)?;
    if !stream {
        if one_shot {
            return ex.json(200, &stats_json(&record, &first, None));
        }
        std::thread::sleep(Duration::from_secs(1));
        let (record, second) = read(context, name)?;
        return ex.json(200, &stats_json(&record, &second, Some(&first)));
    }
    let mut body = ex.start_stream(200, "application/json")?;
    let mut before: Option<Reading> = None;
    let mut now = first;
    let mut record = record;
    loop {
        if !send_line(&mut body, &stats_json(&record, &now, before.as_ref())) {
            // The client went away.
            ex.close = true;
            return Ok(());
        }
        std::thread::sleep(Duration::from_secs(1));
        before = Some(now);
        match read(context, name) {
            Ok((next_record, next)) => {
                record = next_record;
                now = next;
            }
            // Removed meanwhile: the stream ends.
            Err(_) => break,
        }
    }
    let _ = body.finish();
    Ok(())
}

/// One container's line of podman's stats report.
fn libpod_stats_json(record: &ContainerRecord, now: &Reading, before: Option<&Reading>) -> Value {
    let s = &now.sample;
    let up = record
        .state
        .started_at
        .map(|t| (now.time - t).num_nanoseconds().unwrap_or(0).max(1) as f64)
        .unwrap_or(1.0);
    let average = s.cpu_nanos as f64 / up * 100.0;
    // Since the reading before; over the container's life for the first one.
    let cpu = match before {
        Some(b) => {
            let wall = (now.time - b.time).num_nanoseconds().unwrap_or(0).max(1) as f64;
            s.cpu_nanos.saturating_sub(b.sample.cpu_nanos) as f64 / wall * 100.0
        }
        None => average,
    };
    let percent = |part: u64, whole: u64| {
        if whole == 0 {
            0.0
        } else {
            part as f64 / whole as f64 * 100.0
        }
    };
    json!({
        "AvgCPU": average,
        "ContainerID": record.id(),
        "Name": record.config.name,
        "PerCPU": null,
        "CPU": cpu,
        "CPUNano": s.cpu_nanos,
        "CPUSystemNano": 0,
        "SystemNano": now.time.timestamp_nanos_opt().unwrap_or(0),
        "MemUsage": s.memory_usage,
        "MemLimit": s.memory_limit,
        "MemPerc": percent(s.memory_usage, s.memory_limit),
        "NetInput": s.net_received,
        "NetOutput": s.net_sent,
        "BlockInput": s.block_read,
        "BlockOutput": s.block_write,
        "PIDs": s.pids,
        "UpTime": s.cpu_nanos,
        "Duration": s.cpu_nanos,
    })
}

/// `GET /libpod/containers/stats?containers=&stream=&interval=`: podman's reports, one for
/// all the containers asked (every running one when none is named) at each `interval`
/// seconds while `stream`, else one.
pub fn libpod_stats(context: &Context, ex: &mut Exchange) -> ApiResult<()> {
    let stream = ex.query_bool_or("stream", true)?;
    let interval = ex.query_int::<u64>("interval")?.unwrap_or(5);
    if interval == 0 {
        return Err(ApiError::bad_request("interval must be at least 1 second"));
    }
    let mut names: Vec<String> = ex
        .req
        .query_all("containers")
        .into_iter()
        .filter(|n| !n.is_empty())
        .map(String::from)
        .collect();
    if names.is_empty() {
        names = context
            .engine
            .list()?
            .into_iter()
            .filter(|r| r.state.status == rpod_engine::container::Status::Running)
            .map(|r| r.id().to_string())
            .collect();
    }
    let read_all = || -> ApiResult<Vec<(ContainerRecord, Reading)>> {
        names.iter().map(|n| read(context, n)).collect()
    };
    // Unknown names are a 404 before anything is sent.
    let mut current = read_all()?;
    let mut previous: Option<Vec<(ContainerRecord, Reading)>> = None;
    let mut body = ex.start_stream(200, "application/json")?;
    loop {
        let stats: Vec<Value> = current
            .iter()
            .enumerate()
            .map(|(i, (record, now))| {
                let before = previous.as_ref().and_then(|p| p.get(i)).map(|(_, r)| r);
                libpod_stats_json(record, now, before)
            })
            .collect();
        if !send_line(&mut body, &json!({ "Error": null, "Stats": stats })) {
            ex.close = true;
            return Ok(());
        }
        if !stream {
            break;
        }
        std::thread::sleep(Duration::from_secs(interval));
        match read_all() {
            Ok(next) => previous = Some(std::mem::replace(&mut current, next)),
            Err(_) => break,
        }
    }
    let _ = body.finish();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::words_of_ps_args;

    #[test]
    fn ps_args_read_as_either_client_sends_them() {
        assert_eq!(words_of_ps_args("-o pid,rss"), ["-o", "pid,rss"]);
        assert_eq!(words_of_ps_args("-o,pid,rss"), ["-o", "pid,rss"]);
        assert_eq!(words_of_ps_args("-e,-o,pid"), ["-e", "-o", "pid"]);
        assert_eq!(words_of_ps_args("pid,seccomp"), ["pid,seccomp"]);
        assert_eq!(words_of_ps_args("aux"), ["aux"]);
        assert!(words_of_ps_args(",").is_empty());
    }
}
