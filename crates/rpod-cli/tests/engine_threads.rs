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
                volumes: false,
            },
        )
        .map_err(context("remove"))?;
    Ok(())
}

/// An engine over temporary roots on runc, with the busybox image as `demo`.
fn engine_with_demo() -> (tempfile::TempDir, Arc<Engine>) {
    let dir = tempfile::Builder::new()
        .prefix("rpod-engine-")
        .tempdir()
        .unwrap();
    let engine = Engine::open(EngineOptions {
        root: dir.path().join("root"),
        runroot: dir.path().join("run"),
        runtime: "runc".into(),
        conmon: None,
        log_level: "warn".into(),
        exe: env!("CARGO_BIN_EXE_rpod").into(),
        config: rpod_engine::config::EngineConfig::parse(&common::with_test_reserve(
            common::NO_NETWORK_CONFIG,
        ))
        .unwrap(),
        runtime_flags: Vec::new(),
        events: true,
        cgroup_root: rpod_engine::stats::CGROUP_ROOT.into(),
        hooks_dirs: Vec::new(),
        volume_path: None,
        network_config_dir: None,
        syslog: false,
    })
    .unwrap();
    engine
        .import_image(
            std::fs::File::open(busybox_tarball()).unwrap(),
            "busybox.tar",
            &ImportOptions {
                name: Some("demo".into()),
                ..Default::default()
            },
        )
        .unwrap();
    (dir, Arc::new(engine))
}

#[test]
fn one_engine_serves_thirty_two_threads() {
    let (dir, engine) = engine_with_demo();
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

#[test]
fn waits_take_conditions_deadlines_and_cancellation() {
    use rpod_engine::{WaitCondition, WaitOptions, WaitOutcome};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Instant;

    let (_dir, engine) = engine_with_demo();
    let id = engine
        .create(CreateOptions {
            image: Some("demo".into()),
            command: vec!["sleep".into(), "1000".into()],
            log_to_file: true,
            ..Default::default()
        })
        .unwrap()
        .id()
        .to_string();
    fn with(condition: WaitCondition, seconds: u64) -> WaitOptions {
        WaitOptions {
            conditions: vec![condition],
            deadline: Some(Instant::now() + Duration::from_secs(seconds)),
            ..Default::default()
        }
    }

    // A state the container reaches later.
    let running = {
        let (engine, id) = (engine.clone(), id.clone());
        std::thread::spawn(move || {
            engine.wait_for(&id, &with(WaitCondition::State(Status::Running), 30))
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    engine.start(&id, None, None).unwrap();
    assert!(matches!(
        running.join().unwrap().unwrap(),
        WaitOutcome::Met {
            status: Some(Status::Running),
            ..
        }
    ));

    // A deadline ends a wait that is not met.
    let started = Instant::now();
    let outcome = engine
        .wait_for(
            &id,
            &WaitOptions {
                deadline: Some(Instant::now() + Duration::from_millis(300)),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(outcome, WaitOutcome::TimedOut);
    assert!(started.elapsed() < Duration::from_secs(5));

    // So does a cancel flag.
    let cancel = Arc::new(AtomicBool::new(false));
    let cancelled = {
        let (engine, id, cancel) = (engine.clone(), id.clone(), cancel.clone());
        std::thread::spawn(move || {
            engine.wait_for(
                &id,
                &WaitOptions {
                    cancel: Some(cancel),
                    ..Default::default()
                },
            )
        })
    };
    std::thread::sleep(Duration::from_millis(200));
    cancel.store(true, Ordering::SeqCst);
    assert_eq!(cancelled.join().unwrap().unwrap(), WaitOutcome::Cancelled);

    // The next exit, and then the removal. Each wait has begun (its starting point
    // noted) before the stop, however late its thread runs.
    let next_exit = {
        let options = with(WaitCondition::NextExit, 60);
        let begun = engine.wait_begin(&id, &options).unwrap();
        let engine = engine.clone();
        std::thread::spawn(move || engine.wait_on(begun, &options))
    };
    let removed = {
        let options = with(WaitCondition::Removed, 60);
        let begun = engine.wait_begin(&id, &options).unwrap();
        let engine = engine.clone();
        std::thread::spawn(move || engine.wait_on(begun, &options))
    };
    engine.stop(&id, Some(0)).unwrap();
    match next_exit.join().unwrap().unwrap() {
        WaitOutcome::Met { exit_code, .. } => assert_eq!(exit_code, Some(137)),
        other => panic!("{other:?}"),
    }
    engine
        .remove(
            &id,
            RemoveOptions {
                force: false,
                timeout: None,
                volumes: false,
            },
        )
        .unwrap();
    assert_eq!(
        removed.join().unwrap().unwrap(),
        WaitOutcome::Met {
            status: None,
            exit_code: Some(137)
        }
    );
    assert!("bogus".parse::<WaitCondition>().is_err());
    assert_eq!(
        "not-running".parse::<WaitCondition>().unwrap(),
        WaitCondition::NotRunning
    );
}
