//! The `/etc/passwd` and `/etc/group` lines podman adds for users an image does not know:
//! a numeric `--user` (`-u 1234[:5678]`, so that `whoami` and the like work) and
//! `--hostuser` accounts, shaped by `--passwd-entry`. Only text here; `engine/accounts.rs`
//! reads and writes the container's files.

use crate::{EngineError, Result};

/// A host account to add (`--hostuser`), as the host's `/etc/passwd` has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostUser {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub gecos: String,
    pub home: String,
}

/// What a container asks for.
#[derive(Debug, Clone, Default)]
pub struct AccountRequest<'a> {
    /// `--user`, as given (`1234`, `1234:5678`, `name:group`).
    pub user: &'a str,
    /// The working directory: the home of the entries made.
    pub workdir: &'a str,
    /// `--passwd-entry`: `$USERNAME`, `$UID`, `$GID`, `$NAME`, `$HOME` are replaced.
    pub template: Option<&'a str>,
    pub host_users: &'a [HostUser],
    /// Destinations of the container's mounts: a host user's home is its own only when
    /// mounted (its working directory otherwise), as podman decides.
    pub mounts: &'a [String],
}

/// (name, id) of each entry of a passwd or group file.
fn entries(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            Some((fields.first()?.to_string(), fields.get(2)?.to_string()))
        })
        .collect()
}

fn known(file: &[(String, String)], name_or_id: &str) -> bool {
    file.iter()
        .any(|(name, id)| name == name_or_id || id == name_or_id)
}

fn line(template: Option<&str>, fields: [&str; 5]) -> String {
    let [user, uid, gid, name, home] = fields;
    match template {
        Some(template) => {
            let text = template
                .replace("$USERNAME", user)
                .replace("$UID", uid)
                .replace("$GID", gid)
                .replace("$NAME", name)
                .replace("$HOME", home);
            format!("{text}\n")
        }
        None => format!("{user}:*:{uid}:{gid}:{name}:{home}:/bin/sh\n"),
    }
}

/// Check a `--passwd-entry` template: one line, `:`-separated.
pub fn check_template(template: &str) -> Result<()> {
    if template.contains('\n') || !template.contains(':') {
        return Err(EngineError::InvalidArg(format!(
            "invalid --passwd-entry {template:?}: one passwd line, like $USERNAME:*:$UID:$GID:$NAME:$HOME:/bin/sh"
        )));
    }
    Ok(())
}

/// The lines to add to the container's passwd and group files (empty when it knows every
/// user asked for).
pub fn additions(passwd: &str, group: &str, request: &AccountRequest) -> (String, String) {
    let users = entries(passwd);
    let groups = entries(group);
    let mut passwd_lines = String::new();
    let mut group_lines = String::new();
    let mut added_uid = None;
    for host in request.host_users {
        if known(&users, &host.name) || known(&users, &host.uid.to_string()) {
            continue;
        }
        let home_mounted = request.mounts.iter().any(|m| {
            let mounted = m.trim_end_matches('/');
            host.home == mounted || host.home.starts_with(&format!("{mounted}/"))
        });
        let home = if home_mounted {
            host.home.as_str()
        } else {
            request.workdir
        };
        passwd_lines.push_str(&line(
            request.template,
            [
                &host.name,
                &host.uid.to_string(),
                &host.gid.to_string(),
                &host.gecos,
                home,
            ],
        ));
        added_uid.get_or_insert(host.uid);
    }
    let (user_part, group_part) = match request.user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (request.user, None),
    };
    // Only a numeric user the image does not know gets an entry.
    if let Ok(uid) = user_part.parse::<u32>() {
        if !known(&users, user_part) && added_uid != Some(uid) {
            let gid = match group_part {
                Some(g) => match g.parse::<u32>() {
                    Ok(gid) => gid,
                    Err(_) => groups
                        .iter()
                        .find(|(name, _)| name == g)
                        .and_then(|(_, id)| id.parse().ok())
                        .unwrap_or(0),
                },
                None => 0,
            };
            passwd_lines.push_str(&line(
                request.template,
                [
                    user_part,
                    user_part,
                    &gid.to_string(),
                    "container user",
                    request.workdir,
                ],
            ));
        }
    }
    // A numeric group the image does not know (the user's number when no group is
    // given, as podman has it).
    let group_wanted = group_part.unwrap_or(user_part);
    if let Ok(gid) = group_wanted.parse::<u32>() {
        if !known(&groups, group_wanted) {
            group_lines.push_str(&format!("{gid}:x:{gid}:{user_part}\n"));
        }
    }
    (passwd_lines, group_lines)
}

/// A host account by name or number, from the host's passwd text.
pub fn host_user(passwd: &str, name_or_uid: &str) -> Result<HostUser> {
    passwd
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split(':').collect();
            Some(HostUser {
                name: f.first()?.to_string(),
                uid: f.get(2)?.parse().ok()?,
                gid: f.get(3)?.parse().ok()?,
                gecos: f.get(4).unwrap_or(&"").to_string(),
                home: f.get(5).unwrap_or(&"/").to_string(),
            })
        })
        .find(|u| u.name == name_or_uid || u.uid.to_string() == name_or_uid)
        .ok_or_else(|| {
            EngineError::InvalidArg(format!(
                "invalid --hostuser {name_or_uid:?}: no such user on the host"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n";
    const GROUP: &str = "root:x:0:\nstaff:x:50:\n";

    fn added(request: &AccountRequest) -> (String, String) {
        additions(PASSWD, GROUP, request)
    }

    #[test]
    fn numeric_users_and_groups_the_image_lacks_get_entries() {
        let request = AccountRequest {
            user: "1234",
            workdir: "/srv",
            ..Default::default()
        };
        assert_eq!(
            added(&request),
            (
                "1234:*:1234:0:container user:/srv:/bin/sh\n".to_string(),
                "1234:x:1234:1234\n".to_string()
            )
        );
        let request = AccountRequest {
            user: "1234:staff",
            workdir: "/",
            ..Default::default()
        };
        assert_eq!(
            added(&request),
            (
                "1234:*:1234:50:container user:/:/bin/sh\n".to_string(),
                String::new()
            )
        );
        // Known users, named users and known groups get nothing.
        for user in ["0", "65534:0", "root", "someone", ""] {
            let request = AccountRequest {
                user,
                workdir: "/",
                ..Default::default()
            };
            assert_eq!(added(&request), (String::new(), String::new()), "{user}");
        }
    }

    #[test]
    fn templates_and_host_users() {
        let request = AccountRequest {
            user: "1000:1000",
            workdir: "/work",
            template: Some("$USERNAME:x:$UID:$GID:$NAME:$HOME:/bin/bash"),
            ..Default::default()
        };
        assert_eq!(
            added(&request).0,
            "1000:x:1000:1000:container user:/work:/bin/bash\n"
        );
        let hosts = [
            HostUser {
                name: "alice".into(),
                uid: 1001,
                gid: 1001,
                gecos: "Alice".into(),
                home: "/home/alice".into(),
            },
            HostUser {
                name: "root".into(),
                uid: 0,
                gid: 0,
                gecos: String::new(),
                home: "/root".into(),
            },
        ];
        let mounts = ["/home".to_string()];
        let request = AccountRequest {
            user: "1001",
            workdir: "/",
            host_users: &hosts,
            mounts: &mounts,
            ..Default::default()
        };
        // Her home is mounted; the numeric user she is is not added twice; root is known.
        assert_eq!(
            added(&request).0,
            "alice:*:1001:1001:Alice:/home/alice:/bin/sh\n"
        );
        let request = AccountRequest {
            host_users: &hosts[..1],
            workdir: "/w",
            ..Default::default()
        };
        assert_eq!(added(&request).0, "alice:*:1001:1001:Alice:/w:/bin/sh\n");
    }

    #[test]
    fn host_users_are_found_by_name_or_number() {
        let host = "root:x:0:0:root:/root:/bin/bash\nbob:x:1002:100:Bob B:/home/bob:/bin/sh\n";
        assert_eq!(host_user(host, "bob").unwrap().uid, 1002);
        assert_eq!(host_user(host, "1002").unwrap().home, "/home/bob");
        assert!(host_user(host, "carol").is_err());
        assert!(check_template("$USERNAME:x:$UID").is_ok());
        assert!(check_template("no colon").is_err());
        assert!(check_template("a:b\nc:d").is_err());
    }
}
