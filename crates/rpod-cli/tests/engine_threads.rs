//! One `Engine` shared by 32 threads: create, start, inspect, list, exec, stop, wait and
//! remove on 100 containers at once, with no error and no deadlock (real runc and conmon).

mod common;

use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use common::busybox_tarball;
use rpod_engine::image::ImportOptions;
use rpod_engine::{CreateOptions, Engine, EngineOptions, ExecRequest, RemoveOptions, Status};

const THREADS: usize = 32;
const CONTAINERS: usize = 100;

fn lifecycle(engine: &Engine, index: usize) -> Result<(), String> {
    let context =
        |step: &'static str| move |e: rpod_engine::EngineError| format!("c{index} {step}: {e}");
    let record = engine
        .create(CreateOptions {
            image: Some("demo".into()),
            name: Some(format!("c{index}")),
            command: vec!["sleep".into(), "1000".into()],
            log_to_file: true,
            ..Default::default()
        })
        .map_err(context("create"))?;
    let id = record.id().to_string();
    engine.start(&id, None, None).map_err(context("start"))?;
    let seen = engine.inspect(&id).map_err(context("inspect"))?;
    if seen.state.status != Status::Running {
        return Err(format!("c{index} is {:?} after start", seen.state.status));
    }
    engine.list().map_err(context("list"))?;
    let request = ExecRequest {
        cmd: vec!["true".into()],
        ..Default::default()
    };
    engine
        .exec_start(&id, &request, None, None)
        .map_err(context("exec"))?;
    engine.stop(&id, Some(0)).map_err(context("stop"))?;
    let code = engine.wait(&id).map_err(context("wait"))?;
    if code != 137 {
        return Err(format!("c{index} exited {code}, expected 137"));
    }
    engine
        .remove(
            &id,
            RemoveOptions {
                force: true,
                timeout: Some(0),
            },
        )
        .map_err(context("remove"))?;
    Ok(())
}

#[test]
fn one_engine_serves_thirty_two_threads() {
    let dir = tempfile::Builder::new()
        .prefix("rpod-threads-")
        .tempdir()
        .unwrap();
    let engine = Arc::new(
        Engine::open(EngineOptions {
            root: dir.path().join("root"),
            runroot: dir.path().join("run"),
            runtime: "runc".into(),
            conmon: None,
            log_level: "warn".into(),
            exe: env!("CARGO_BIN_EXE_rpod").into(),
        })
        .unwrap(),
    );
    let tarball = std::fs::File::open(busybox_tarball()).unwrap();
    engine
        .import_image(
            tarball,
            "busybox.tar",
            &ImportOptions {
                name: Some("demo".into()),
                ..Default::default()
            },
        )
        .unwrap();
    let (done, results) = mpsc::channel();
    for thread in 0..THREADS {
        let engine = engine.clone();
        let done = done.clone();
        std::thread::spawn(move || {
            let mut errors = Vec::new();
            for index in (thread..CONTAINERS).step_by(THREADS) {
                if let Err(e) = lifecycle(&engine, index) {
                    errors.push(e);
                }
            }
            let _ = done.send(errors);
        });
    }
    let mut errors = Vec::new();
    for _ in 0..THREADS {
        let batch = results
            .recv_timeout(Duration::from_secs(600))
            .expect("a thread did not finish: deadlock");
        errors.extend(batch);
    }
    assert!(errors.is_empty(), "{} errors: {errors:#?}", errors.len());
    assert!(engine.list().unwrap().is_empty(), "containers were left");
    let cli = std::process::Command::new(env!("CARGO_BIN_EXE_rpod"))
        .arg("--root")
        .arg(dir.path().join("root"))
        .arg("--runroot")
        .arg(dir.path().join("run"))
        .args(["ps", "-a", "-q"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&cli.stdout), "");
}
