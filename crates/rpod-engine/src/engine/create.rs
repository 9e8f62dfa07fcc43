//! Creating a container: its record, name, command, environment and bundle directory.

use super::*;

impl Engine {
    pub fn create(&self, options: CreateOptions) -> Result<ContainerRecord> {
        let runtime_name = options
            .runtime
            .clone()
            .unwrap_or_else(|| self.options.runtime.clone());
        // Fail now, not at start, when the runtime or conmon is missing, or the seccomp
        // profile cannot be had.
        self.runtime(&runtime_name)?;
        options.security.seccomp()?;

        // Held until the container is recorded: its image cannot be removed meanwhile.
        let image_lock = match options.image {
            Some(_) => Some(self.image_lock()?),
            None => None,
        };
        let (image, image_config) = match (&options.image, &options.rootfs) {
            (_, Some(dir)) => {
                if !dir.is_dir() {
                    return Err(EngineError::InvalidArg(format!(
                        "--rootfs {}: not a directory",
                        dir.display()
                    )));
                }
                (None, None)
            }
            (Some(name), None) => {
                let record = image::resolve(&self.store, name)?;
                let config = image::config(&self.roots, &record.id)?;
                (Some((record, name.clone())), config.config().clone())
            }
            (None, None) => {
                return Err(EngineError::InvalidArg(
                    "an image or --rootfs is required".into(),
                ))
            }
        };
        let image_cfg = image_config.unwrap_or_default();

        let entrypoint = match &options.entrypoint {
            Some(e) => e.clone(),
            None => image_cfg.entrypoint().clone().unwrap_or_default(),
        };
        let cmd = if !options.command.is_empty() {
            options.command.clone()
        } else if options.entrypoint.is_some() {
            Vec::new()
        } else {
            image_cfg.cmd().clone().unwrap_or_default()
        };
        let entrypoint_len = entrypoint.len();
        let args: Vec<String> = entrypoint.into_iter().chain(cmd).collect();
        if args.is_empty() {
            return Err(EngineError::InvalidArg(
                "no command or entrypoint provided, and no CMD or ENTRYPOINT from image".into(),
            ));
        }

        let mut env: Vec<String> = image_cfg.env().clone().unwrap_or_default();
        for entry in &options.env {
            let key = entry.split('=').next().unwrap_or(entry);
            env.retain(|e| e.split('=').next() != Some(key));
            env.push(entry.clone());
        }
        let mut labels: BTreeMap<String, String> = image_cfg
            .labels()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect();
        labels.extend(options.labels.clone());
        let stop_signal = match options.stop_signal {
            Some(signal) => signal,
            None => match image_cfg.stop_signal() {
                Some(text) => rpod_oci::signal::parse_signal(text).unwrap_or(libc::SIGTERM),
                None => libc::SIGTERM,
            },
        };

        let id = random_id();
        let name = match &options.name {
            Some(name) => {
                if !valid_name(name) {
                    return Err(EngineError::InvalidArg(format!(
                        "container name {name:?} must match [a-zA-Z0-9][a-zA-Z0-9_.-]*: invalid argument"
                    )));
                }
                name.clone()
            }
            None => random_name(),
        };
        let (image_id, image_name) = match &image {
            Some((record, asked)) => {
                let names = self.store.image_names(&record.id)?;
                let resolved = image::reference::lookup_candidates(asked)
                    .ok()
                    .and_then(|c| c.into_iter().find(|n| names.contains(n)))
                    .or_else(|| names.first().cloned())
                    .unwrap_or_else(|| record.id.clone());
                (record.id.clone(), resolved)
            }
            None => (String::new(), String::new()),
        };
        let config = ContainerConfig {
            hostname: options
                .hostname
                .clone()
                .unwrap_or_else(|| id[..12].to_string()),
            id,
            name,
            image_id,
            image_name,
            rootfs: options.rootfs.clone(),
            entrypoint: options.entrypoint.clone(),
            cmd: options.command.clone(),
            args,
            entrypoint_len,
            env,
            workdir: options
                .workdir
                .clone()
                .or_else(|| image_cfg.working_dir().clone())
                .filter(|w| !w.is_empty())
                .unwrap_or_else(|| "/".into()),
            user: options
                .user
                .clone()
                .or_else(|| image_cfg.user().clone())
                .unwrap_or_default(),
            labels,
            stop_signal,
            stop_timeout: options.stop_timeout.unwrap_or(DEFAULT_STOP_TIMEOUT),
            memory: options.memory,
            cpus: options.cpus,
            pids_limit: options.pids_limit,
            read_only: options.read_only,
            network: options.network,
            runtime: runtime_name,
            auto_remove: options.auto_remove,
            log_to_file: options.log_to_file,
            terminal: options.terminal,
            stdin: options.stdin,
            created: Utc::now(),
            security: options.security.clone(),
        };
        let mut record = ContainerRecord {
            config,
            state: ContainerState::new(),
        };
        let needs_random_name = options.name.is_none();
        loop {
            match self.store.insert_container(&record) {
                Ok(()) => break,
                Err(EngineError::NameInUse { .. }) if needs_random_name => {
                    record.config.name = random_name();
                }
                Err(e) => return Err(e),
            }
        }
        let bundle = self.roots.bundle_dir(record.id());
        if let Err(e) = fs::create_dir_all(&bundle) {
            let _ = self.store.remove_container(record.id());
            return Err(EngineError::io("creating directory", &bundle, e));
        }
        drop(image_lock);
        Ok(record)
    }
}
