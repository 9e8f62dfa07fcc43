//! Containerfiles whose name ends in `.in` are run through the C preprocessor first, as
//! podman's build (buildah) does: `#include` pulls in other files (looked up in the build
//! context first), `#ifdef` and `--cpp-flag -DNAME` choose parts. cpp reads any file its
//! input names, so only a build from a local context (the user's own files) does this;
//! one from a remote context or over the REST service refuses `.in` files.

use std::path::Path;
use std::process::Command;

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
    let mut command = Command::new("cpp");
    command
        .arg("-E")
        .arg("-iquote")
        .arg(context)
        .args(["-traditional", "-undef", "-"])
        .args(flags);
    let output = crate::child::filter(&mut command, text.as_bytes(), MAX_CONTAINERFILE, None)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => failed(
                "a Containerfile.in needs cpp, the C preprocessor (Debian's package cpp)".into(),
            ),
            _ => failed(format!("cpp: {e}")),
        })?;
    if !output.status.success() {
        return Err(failed(format!(
            "cpp {}: {}",
            output.status,
            output.stderr.trim()
        )));
    }
    String::from_utf8(output.stdout).map_err(|e| failed(format!("cpp's output: {e}")))
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
        // An output past a Containerfile's bound: cpp is killed, and that is said.
        let long = format!("#define L {}\n{}", "x".repeat(2000), "L\n".repeat(600));
        let err = preprocess(&file, &long, context.path(), &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("passed 1048576 bytes"), "{err}");
    }
}
