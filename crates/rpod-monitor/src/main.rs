//! rpod-monitor: one per container (and per exec session), outliving the command that
//! started it. It speaks conmon's command line, pipes, attach socket, ctl FIFO, log format
//! and exit files, so rpod and podman can use it in conmon's place (see docs/monitor.md).

mod attach;
mod console;
mod delete;
mod handover;
mod kube_log;
mod monitor;
mod notify;
mod oom;
mod options;
mod protocol;
mod resident;
mod sealed;

/// The conmon release whose protocol this monitor speaks; callers (podman) check it.
const CONMON_COMPATIBLE: &str = "2.1.6";

fn main() {
    let options = match options::parse(std::env::args_os()) {
        Ok(options::Parsed::Run(options)) => options,
        Ok(options::Parsed::Help) => {
            print!("{}", options::USAGE);
            return;
        }
        Err(message) => {
            eprintln!("rpod-monitor: {message}");
            std::process::exit(1);
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
