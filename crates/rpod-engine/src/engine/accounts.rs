//! A container's `/etc/passwd` and `/etc/group` entries for users its image lacks (see
//! `crate::accounts`), written at each init.

use std::path::{Path, PathBuf};

use super::Engine;
use crate::accounts::{self, AccountRequest};
use crate::confined::ConfinedDir;
use crate::container::ContainerRecord;
use crate::{EngineError, Result};

/// The host's accounts, for `--hostuser`.
const HOST_PASSWD: &str = "/etc/passwd";

impl Engine {
    /// Add what the container's numeric user and its `--hostuser`s need. As podman: the
    /// lines are appended to the container's own files (so that `useradd` and the like
    /// keep working in it); a read-only root gets copies with them, in its run directory,
    /// returned to be bound over the image's. A file the user mounts is left alone.
    pub(super) fn account_files(
        &self,
        record: &ContainerRecord,
        root: &Path,
    ) -> Result<Vec<(PathBuf, String)>> {
        let config = &record.config;
        // Only numbers (a user's or a group's) and host users can need entries: a named
        // user (the usual image USER) reads no account file here a second time.
        let numeric = config
            .user
            .split(':')
            .any(|part| !part.is_empty() && part.parse::<u32>().is_ok());
        if config.no_passwd_entries || (!numeric && config.host_users.is_empty()) {
            return Ok(Vec::new());
        }
        let host_passwd = if config.host_users.is_empty() {
            String::new()
        } else {
            std::fs::read_to_string(HOST_PASSWD)
                .map_err(|e| EngineError::io("reading", Path::new(HOST_PASSWD), e))?
        };
        let host_users = config
            .host_users
            .iter()
            .map(|u| accounts::host_user(&host_passwd, u))
            .collect::<Result<Vec<_>>>()?;
        let mounts: Vec<String> = config
            .mounts
            .iter()
            .map(|m| m.destination.clone())
            .collect();
        let request = AccountRequest {
            user: &config.user,
            workdir: &config.workdir,
            template: config.passwd_entry.as_deref(),
            host_users: &host_users,
            mounts: &mounts,
        };
        // An image without /etc (`FROM scratch`) has no account files to add to: its
        // programs do not look users up.
        let has_etc = ConfinedDir::open(root)
            .and_then(|dir| dir.dir_in_root(Path::new("etc")))
            .map_err(|e| EngineError::CannotInvoke(format!("reading the container's /etc: {e}")))?
            .is_some();
        if !has_etc {
            return Ok(Vec::new());
        }
        let passwd = crate::spec::read_account_file(root, "passwd")?;
        let group = crate::spec::read_account_file(root, "group")?;
        let (passwd_lines, group_lines) = accounts::additions(&passwd, &group, &request);
        let mut binds = Vec::new();
        for (name, current, lines) in [
            ("passwd", &passwd, passwd_lines),
            ("group", &group, group_lines),
        ] {
            let destination = format!("/etc/{name}");
            if lines.is_empty() || mounts.contains(&destination) {
                continue;
            }
            if config.read_only {
                let copy = self.roots.run_dir(record.id()).join(name);
                std::fs::create_dir_all(self.roots.run_dir(record.id()))
                    .map_err(|e| EngineError::io("creating", &copy, e))?;
                let mut text = current.clone();
                if !text.is_empty() && !text.ends_with('\n') {
                    text.push('\n');
                }
                text.push_str(&lines);
                super::etc_files::write_file(&copy, &text)?;
                binds.push((copy, destination));
            } else {
                let mut text = String::new();
                if !current.is_empty() && !current.ends_with('\n') {
                    text.push('\n');
                }
                text.push_str(&lines);
                let rel = Path::new("etc").join(name);
                ConfinedDir::open(root)
                    .and_then(|dir| dir.append_regular(&rel, text.as_bytes()))
                    .map_err(|e| {
                        EngineError::CannotInvoke(format!(
                            "unable to add the container's user to its /etc/{name}: {e}"
                        ))
                    })?;
            }
        }
        Ok(binds)
    }
}
