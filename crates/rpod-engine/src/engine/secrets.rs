//! `rpod secret` and `--secret`: the store's secrets, and the copies a container gets.

use std::collections::BTreeMap;

use super::*;
use crate::mounts::MountSpec;
use crate::secrets::{write_private, SecretRecord, SecretUse, Secrets};

impl Engine {
    pub(super) fn secret_store(&self) -> Secrets {
        Secrets::new(&self.roots.root)
    }

    /// The driver a new secret gets: the one named (with the options given), else
    /// rpod.conf's `[secrets]` driver (with its options unless some are given), else `file`.
    pub fn secret_driver(
        &self,
        name: Option<&str>,
        options: &BTreeMap<String, String>,
    ) -> Result<crate::secrets::SecretDriver> {
        let configured = &self.options.config.secrets;
        match (name, configured.driver.as_deref()) {
            (Some(name), _) => crate::secrets::SecretDriver::new(name, options),
            (None, Some(driver)) if options.is_empty() => {
                crate::secrets::SecretDriver::new(driver, &configured.opts)
            }
            (None, Some(driver)) => crate::secrets::SecretDriver::new(driver, options),
            (None, None) => crate::secrets::SecretDriver::new("file", options),
        }
    }

    pub fn secret_create(
        &self,
        name: &str,
        data: &[u8],
        labels: BTreeMap<String, String>,
        replace: bool,
        driver: &crate::secrets::SecretDriver,
    ) -> Result<SecretRecord> {
        if replace {
            if let Ok(old) = self.secret_store().find(name) {
                self.refuse_used_secret(&old)?;
            }
        }
        self.secret_store()
            .create_with(name, data, labels, replace, driver)
    }

    pub fn secrets(&self) -> Result<Vec<SecretRecord>> {
        self.secret_store().list()
    }

    pub fn secret(&self, name_or_id: &str) -> Result<SecretRecord> {
        self.secret_store().find(name_or_id)
    }

    fn refuse_used_secret(&self, secret: &SecretRecord) -> Result<()> {
        let users: Vec<String> = self
            .store
            .containers()?
            .into_iter()
            .filter(|c| c.config.secrets.iter().any(|s| s.id == secret.id))
            .map(|c| c.config.name)
            .collect();
        if users.is_empty() {
            return Ok(());
        }
        Err(EngineError::InvalidArg(format!(
            "secret {} is in use by containers: {}",
            secret.name,
            users.join(", ")
        )))
    }

    /// Remove a secret no container uses.
    pub fn secret_remove(&self, name_or_id: &str) -> Result<SecretRecord> {
        let secret = self.secret_store().find(name_or_id)?;
        self.refuse_used_secret(&secret)?;
        self.secret_store().remove(&secret)?;
        Ok(secret)
    }

    /// A new container's secrets: each found (its ID recorded), file secrets copied into
    /// the container's directory with their owner and mode and bound read-only, the others
    /// as `NAME=VALUE` for its environment.
    pub(super) fn secrets_for_create(
        &self,
        id: &str,
        uses: &mut [SecretUse],
        mappings: Option<&crate::userns::IdMappings>,
    ) -> Result<(Vec<MountSpec>, Vec<String>)> {
        let (mut mounts, mut env) = (Vec::new(), Vec::new());
        if uses.is_empty() {
            return Ok((mounts, env));
        }
        let store = self.secret_store();
        let dir = self.roots.container_dir(id).join("secrets");
        for (index, usage) in uses.iter_mut().enumerate() {
            let secret = store.find(&usage.name)?;
            usage.id = secret.id.clone();
            let data = store.data(&secret)?;
            if usage.env {
                let value = String::from_utf8(data).map_err(|_| {
                    EngineError::InvalidArg(format!(
                        "secret {} is not text: it cannot be an environment variable",
                        secret.name
                    ))
                })?;
                env.push(format!("{}={value}", usage.target));
                continue;
            }
            fs::create_dir_all(&dir).map_err(|e| EngineError::io("creating", &dir, e))?;
            // One copy per use: each has its own owner and mode.
            let copy = dir.join(format!("{}-{index}", secret.id));
            write_private(&copy, &data)?;
            // The container's user namespace shows the host's IDs mapped.
            let (uid, gid) = match mappings {
                Some(m) => m.to_host(usage.uid, usage.gid)?,
                None => (usage.uid, usage.gid),
            };
            std::os::unix::fs::chown(&copy, Some(uid), Some(gid))
                .map_err(|e| EngineError::io("setting the owner of", &copy, e))?;
            std::fs::set_permissions(
                &copy,
                std::os::unix::fs::PermissionsExt::from_mode(usage.mode & 0o777),
            )
            .map_err(|e| EngineError::io("setting the mode of", &copy, e))?;
            mounts.push(crate::mounts::parse_volume_absolute(&format!(
                "{}:{}:ro",
                copy.display(),
                usage.target
            ))?);
        }
        Ok((mounts, env))
    }
}
