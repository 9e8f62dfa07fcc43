//! podman-remote's build secrets: `build --secret id=ID,src=PATH` sends the file inside the
//! context tar, at its top under a name of its own (`podman-build-secretNNN`), and the
//! `secrets` parameter names it (`["id=ID,src=podman-build-secretNNN"]`). The file is
//! moved out of the context before the build, so that no `COPY .` takes it into an image.
//! podman 4.3's client also puts a second copy into the tar under its own absolute path of
//! the file (unpacked as `CONTEXT/home/.../podman-build-secretNNN`): every file of that
//! name in the context goes too, with the directories left empty by it.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use rpod_engine::scratch::ScratchDir;
use rpod_engine::BuildSecret;

use crate::error::{ApiError, ApiResult};

/// The secrets a build was sent, their files in a scratch directory of their own (kept
/// while this lives).
pub struct SentSecrets {
    pub secrets: BTreeMap<String, BuildSecret>,
    _dir: Option<ScratchDir>,
}

impl SentSecrets {
    pub fn none() -> Self {
        SentSecrets {
            secrets: BTreeMap::new(),
            _dir: None,
        }
    }
}

/// One sent secret: its ID and the name of its file at the context's top.
fn parse(text: &str) -> ApiResult<(String, String)> {
    let refused = |why: &str| ApiError::bad_request(format!("secrets {text:?}: {why}"));
    let (mut id, mut src) = (None, None);
    for field in text.split(',').filter(|f| !f.is_empty()) {
        match field.split_once('=') {
            Some(("id", v)) => id = Some(v),
            Some(("src" | "source", v)) => src = Some(v),
            Some(("type", "file")) => {}
            Some(("env" | "type", _)) => {
                return Err(refused(
                    "a secret from an environment variable: the service cannot read the client's",
                ))
            }
            _ => return Err(refused(&format!("unknown field {field:?}"))),
        }
    }
    let id = id
        .filter(|id| !id.is_empty() && !id.contains('/'))
        .ok_or_else(|| refused("id=NAME is required (no `/`)"))?;
    let src = src
        .filter(|s| is_plain_name(s))
        .ok_or_else(|| refused("src= names a file at the top of the build context"))?;
    Ok((id.to_string(), src.to_string()))
}

fn is_plain_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains('/')
}

/// The `secrets` parameter's secrets, taken out of `context` (the unpacked tar) into a
/// scratch directory under `scratch` (the store's).
pub fn take(scratch: &Path, param: Option<&str>, context: &Path) -> ApiResult<SentSecrets> {
    let Some(text) = param.filter(|t| !t.is_empty() && *t != "[]") else {
        return Ok(SentSecrets::none());
    };
    let sent: Vec<String> = serde_json::from_str(text)
        .map_err(|e| ApiError::bad_request(format!("secrets: not a JSON array of strings: {e}")))?;
    let dir = ScratchDir::new(scratch, "build-secrets-")?;
    let mut secrets = BTreeMap::new();
    for (index, given) in sent.iter().enumerate() {
        let (id, name) = parse(given)?;
        let path = context.join(&name);
        // The client's file, never a link it sent in its place.
        let is_file = fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_file());
        if !is_file {
            return Err(ApiError::bad_request(format!(
                "secrets {given:?}: {name:?} is no file of the build context"
            )));
        }
        let kept = dir.path().join(index.to_string());
        fs::rename(&path, &kept).map_err(|e| {
            ApiError::from(rpod_engine::EngineError::io("moving the secret", &path, e))
        })?;
        remove_copies(context, &name)?;
        secrets.insert(id, BuildSecret::File(kept));
    }
    Ok(SentSecrets {
        secrets,
        _dir: Some(dir),
    })
}

/// Remove every file named `name` under `top` (links are not followed), and the
/// directories that held nothing else: only those above a removed file are tried, so an
/// empty directory as sent stays (it is part of the client's context). A walk with a list
/// of its own rather than recursion: a sent tree may be thousands of levels deep.
fn remove_copies(top: &Path, name: &str) -> ApiResult<()> {
    let io = |what: &'static str, path: &Path, e| {
        ApiError::from(rpod_engine::EngineError::io(what, path, e))
    };
    let mut pending = vec![top.to_path_buf()];
    let mut emptied: Vec<PathBuf> = Vec::new();
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).map_err(|e| io("reading directory", &dir, e))? {
            let entry = entry.map_err(|e| io("reading directory", &dir, e))?;
            let kind = entry
                .file_type()
                .map_err(|e| io("reading", &entry.path(), e))?;
            if kind.is_dir() {
                pending.push(entry.path());
            } else if kind.is_file() && entry.file_name() == name {
                fs::remove_file(entry.path()).map_err(|e| io("removing", &entry.path(), e))?;
                emptied.push(dir.clone());
            }
        }
    }
    // Deepest first; a directory that still holds something ends its climb.
    emptied.sort_by_key(|dir| std::cmp::Reverse(dir.components().count()));
    for dir in emptied {
        let mut current = dir.as_path();
        while current != top && fs::remove_dir(current).is_ok() {
            match current.parent() {
                Some(parent) => current = parent,
                None => break,
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sent_secrets_name_a_file_at_the_top() {
        assert_eq!(
            parse("id=tok,src=podman-build-secret12").unwrap(),
            ("tok".into(), "podman-build-secret12".into())
        );
        assert_eq!(
            parse("id=tok,type=file,source=s").unwrap(),
            ("tok".into(), "s".into())
        );
        for (bad, says) in [
            ("id=tok,env=TOKEN", "environment"),
            ("id=tok,src=../x", "top of the build context"),
            ("id=tok,src=a/b", "top of the build context"),
            ("src=x", "id=NAME"),
            ("id=tok,src=x,mode=0400", "unknown field"),
        ] {
            let err = parse(bad).unwrap_err().message;
            assert!(err.contains(says), "{bad}: {err}");
        }
    }

    /// A sent secret's file goes from the context into the scratch directory; a name that
    /// is no file of the context (missing, a link, a directory) is refused.
    #[test]
    fn sent_secrets_leave_the_context() {
        let dir = tempfile::tempdir().unwrap();
        let (scratch, context) = (dir.path().join("tmp"), dir.path().join("ctx"));
        fs::create_dir_all(&scratch).unwrap();
        fs::create_dir_all(context.join("sub")).unwrap();
        fs::write(context.join("podman-build-secret1"), "s3cret").unwrap();
        std::os::unix::fs::symlink("/etc/hostname", context.join("link")).unwrap();
        let param = r#"["id=tok,src=podman-build-secret1"]"#;
        let sent = take(&scratch, Some(param), &context).unwrap();
        assert!(!context.join("podman-build-secret1").exists());
        match sent.secrets.get("tok") {
            Some(BuildSecret::File(kept)) => {
                assert!(kept.starts_with(&scratch));
                assert_eq!(fs::read_to_string(kept).unwrap(), "s3cret");
            }
            other => panic!("{other:?}"),
        }
        drop(sent);
        assert_eq!(fs::read_dir(&scratch).unwrap().count(), 0, "scratch kept");
        for name in ["missing", "link", "sub"] {
            let param = format!(r#"["id=tok,src={name}"]"#);
            let err = take(&scratch, Some(&param), &context).err().unwrap();
            assert!(
                err.message.contains("no file of the build context"),
                "{name}: {}",
                err.message
            );
        }
        assert!(context.join("link").symlink_metadata().is_ok());
        assert!(take(&scratch, Some("[]"), &context)
            .unwrap()
            .secrets
            .is_empty());
        assert!(take(&scratch, Some("nonsense"), &context).is_err());
    }

    /// The copies podman 4.3 sends under the client's path go, with the directories made
    /// for them; the context's other files and empty directories stay.
    #[test]
    fn copies_of_a_secret_are_removed_from_the_context() {
        let dir = tempfile::tempdir().unwrap();
        let top = dir.path();
        fs::create_dir_all(top.join("home/me/ctx")).unwrap();
        fs::write(top.join("home/me/ctx/podman-build-secret1"), "s").unwrap();
        fs::create_dir_all(top.join("src")).unwrap();
        fs::write(top.join("src/main.c"), "int main;").unwrap();
        fs::create_dir_all(top.join("empty")).unwrap();
        std::os::unix::fs::symlink("/etc", top.join("etc")).unwrap();
        remove_copies(top, "podman-build-secret1").unwrap();
        assert!(!top.join("home").exists());
        assert!(top.join("src/main.c").exists());
        assert!(top.join("etc").symlink_metadata().is_ok());
        assert!(
            top.join("empty").is_dir(),
            "the client's empty directory stays"
        );
    }
}
