//! Containerfiles whose name ends in `.in` are run through the C preprocessor first, as
//! podman's build (buildah) does: `#include` pulls in other files (looked up in the build
//! context first), `#ifdef` and `--cpp-flag -DNAME` choose parts. cpp reads any file its
//! input names, so only a build from a local context (the user's own files) does this;
//! one from a remote context or over the REST service refuses `.in` files.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use crate::containerfile::MAX_CONTAINERFILE;
use crate::{EngineError, Result};

/// Whether the Containerfile at `path` is preprocessed.
pub fn wants_preprocessing(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|name| name.to_string_lossy().ends_with(".in"))
}

/// `text` (the Containerfile at `path`) through `cpp -E -iquote CONTEXT -traditional
/// -undef -` with the user's `flags` after, as buildah runs it; cpp's output, at most as
/// large as a Containerfile may be.
pub fn preprocess(path: &Path, text: &str, context: &Path, flags: &[String]) -> Result<String> {
    let failed =
        |what: String| EngineError::InvalidArg(format!("preprocessing {}: {what}", path.display()));
    let mut child = Command::new("cpp")
        .arg("-E")
        .arg("-iquote")
        .arg(context)
        .args(["-traditional", "-undef", "-"])
        .args(flags)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => failed(
                "a Containerfile.in needs cpp, the C preprocessor (Debian's package cpp)".into(),
            ),
            _ => failed(format!("starting cpp: {e}")),
        })?;
    // Written from a thread: cpp writes while it reads, and would wait on a full pipe.
    let mut stdin = child.stdin.take();
    let input = text.as_bytes().to_vec();
    let writer = std::thread::spawn(move || {
        if let Some(stdin) = stdin.as_mut() {
            let _ = stdin.write_all(&input);
        }
    });
    // Its messages from a thread too, so that neither pipe fills while the other is read.
    let stderr = child.stderr.take();
    let messages = std::thread::spawn(move || {
        let mut errors = Vec::new();
        if let Some(stderr) = stderr {
            let _ = stderr.take(64 * 1024).read_to_end(&mut errors);
        }
        String::from_utf8_lossy(&errors).into_owned()
    });
    let mut output = String::new();
    let read = match child.stdout.take() {
        Some(stdout) => stdout
            .take(MAX_CONTAINERFILE + 1)
            .read_to_string(&mut output)
            .map(drop),
        None => Ok(()),
    };
    // Too much output (or none readable): cpp may still be writing; it goes.
    if read.is_err() || output.len() as u64 > MAX_CONTAINERFILE {
        let _ = child.kill();
    }
    let status = child
        .wait()
        .map_err(|e| failed(format!("waiting for cpp: {e}")))?;
    let _ = writer.join();
    let errors = messages.join().unwrap_or_default();
    read.map_err(|e| failed(format!("reading cpp's output: {e}")))?;
    if output.len() as u64 > MAX_CONTAINERFILE {
        return Err(failed(format!(
            "the preprocessed Containerfile is larger than {MAX_CONTAINERFILE} bytes"
        )));
    }
    if !status.success() {
        return Err(failed(format!("cpp {status}: {}", errors.trim())));
    }
    Ok(output)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_in_files_are_preprocessed() {
        assert!(wants_preprocessing(Path::new("/ctx/Containerfile.in")));
        assert!(wants_preprocessing(Path::new("x.in")));
        assert!(!wants_preprocessing(Path::new("/ctx/Containerfile")));
        assert!(!wants_preprocessing(Path::new("/ctx.in/Dockerfile")));
    }

    /// Needs cpp (scripts/install-deps.sh installs it).
    #[test]
    fn includes_and_conditions_are_taken_and_errors_said() {
        let context = tempfile::tempdir().unwrap();
        std::fs::write(context.path().join("part.inc"), "RUN echo part\n").unwrap();
        let file = context.path().join("Containerfile.in");
        let text = "FROM demo\n#include \"part.inc\"\n#ifdef EXTRA\nRUN echo extra\n#endif\n";
        let plain = preprocess(&file, text, context.path(), &[]).unwrap();
        assert!(
            plain.contains("RUN echo part") && !plain.contains("extra"),
            "{plain}"
        );
        let flagged = preprocess(&file, text, context.path(), &["-DEXTRA".into()]).unwrap();
        assert!(flagged.contains("RUN echo extra"), "{flagged}");

        let err = preprocess(&file, "#include \"nothing.inc\"\n", context.path(), &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("Containerfile.in") && err.contains("nothing.inc"),
            "{err}"
        );
        let err = preprocess(&file, "#error stop here\n", context.path(), &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("stop here"), "{err}");
    }
}
