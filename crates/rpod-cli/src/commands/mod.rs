//! One module per command family.

pub mod container;
pub mod events;
pub mod filesystem;
pub mod image;
pub mod logs;
pub mod network;
pub mod observe;
pub mod secret;
pub mod select;
pub mod system;
pub mod volume;

/// Write an archive (`save`, `export`) to `output`, or to standard output when it is not a
/// terminal. A file is written unnamed beside its target and named only once complete: a
/// failed or killed write leaves neither a truncated archive nor a temporary file.
pub(crate) fn write_archive(
    output: Option<&std::path::Path>,
    write: impl FnOnce(&mut dyn std::io::Write) -> rpod_engine::Result<()>,
) -> Result<(), crate::exit::Failure> {
    use std::io::{IsTerminal, Write};
    match output {
        Some(path) => {
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."));
            let mut tmp = rpod_engine::scratch::unnamed_file(dir)?;
            write(&mut std::io::BufWriter::new(&mut tmp))?;
            rpod_engine::scratch::replace_with_unnamed(&tmp, path)?;
        }
        None => {
            if std::io::stdout().is_terminal() {
                return Err(crate::exit::usage(
                    "refusing to write an archive to a terminal: use -o FILE or redirect",
                ));
            }
            write(&mut std::io::BufWriter::new(std::io::stdout().lock()))?;
            std::io::stdout().flush()?;
        }
    }
    Ok(())
}
