//! The runtime run from a sealed copy of itself (see the `rpod-sealed` crate): the copy is
//! made before the fork of the runtime's process, and executed in it.

use std::ffi::CString;
use std::os::fd::OwnedFd;

pub use rpod_sealed::copy;

/// In the runtime's child, after the fork: execute `copy` with `args` and the current
/// environment. Returns only when that failed.
pub fn exec(copy: &OwnedFd, args: &[CString]) {
    let env: Vec<CString> = std::env::vars_os()
        .filter_map(|(key, value)| {
            use std::os::unix::ffi::OsStrExt;
            let mut pair = key.as_bytes().to_vec();
            pair.push(b'=');
            pair.extend_from_slice(value.as_bytes());
            CString::new(pair).ok()
        })
        .collect();
    let _ = nix::unistd::fexecve(copy, args, &env);
}
