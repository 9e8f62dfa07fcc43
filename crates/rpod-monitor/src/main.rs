//! rpod-monitor: one per container (and per exec session), outliving the command that
//! started it. It speaks conmon's command line, pipes, attach socket, ctl FIFO, log format
//! and exit files, so rpod and podman can use it in conmon's place (see docs/monitor.md).

mod attach;
mod console;
mod handover;
mod kube_log;
mod monitor;
mod oom;
mod options;
mod protocol;

use clap::Parser;

/// The conmon release whose protocol this monitor speaks; callers (podman) check it.
const CONMON_COMPATIBLE: &str = "2.1.6";

fn main() {
    let options = match options::Options::try_parse() {
        Ok(options) => options,
        Err(e) => {
            let _ = e.print();
            std::process::exit(if e.use_stderr() { 1 } else { 0 });
        }
    };
    if options.version {
        println!(
            "conmon version {CONMON_COMPATIBLE}\ncommit: rpod-monitor {}",
            env!("CARGO_PKG_VERSION")
        );
        return;
    }
    let config = match options.check() {
        Ok(config) => config,
        Err(message) => {
            eprintln!("rpod-monitor: {message}");
            std::process::exit(1);
        }
    };
    std::process::exit(monitor::run(config));
}
