//! Compiled seccomp filters kept for crun.
//!
//! crun compiles the spec's seccomp profile with libseccomp at every create; for the default
//! profile (about 440 syscalls on three architectures) that takes about 20 ms here, more than
//! the rest of crun's create. crun writes the compiled filter to its state directory
//! (`<root>/<id>/seccomp.bpf`) and takes a compiled filter in the
//! `run.oci.seccomp_bpf_data` annotation (base64), in which case it loads that filter and
//! compiles nothing. So after a create rpod keeps crun's compiled filter, keyed by what
//! produced it, and later creates with the same profile pass it in the annotation.
//!
//! The key covers the profile itself, the crun executable (device, inode, size, change
//! time: a crun upgrade is a new file) and the kernel release (libseccomp's output depends
//! on what the kernel supports). The cache lives on the run root, which is emptied at boot.
//! Every failure here only costs the saving: the create goes on and crun compiles.

use std::fs;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use sha2::{Digest, Sha256};

/// crun's annotation for a compiled filter (crun ≥ 0.17).
pub const BPF_ANNOTATION: &str = "run.oci.seccomp_bpf_data";

/// Annotations that change how crun builds the filter (or replace it): with any of them
/// the spec is left to crun.
const CRUN_SECCOMP_ANNOTATIONS: &str = "run.oci.seccomp";

/// A compiled filter is a whole number of 8-byte BPF instructions, at most BPF_MAXINSNS
/// (4096) of them; a file that is not is not used.
const INSTRUCTION: u64 = 8;
const MAX_FILTER_BYTES: u64 = 4096 * INSTRUCTION;

/// At most this many filters are kept; storing one more empties the cache first (each
/// distinct profile, e.g. each `--security-opt seccomp=FILE`, makes one).
const MAX_ENTRIES: usize = 32;

/// The filters compiled by one crun, kept in `dir`.
#[derive(Debug, Clone)]
pub struct SeccompCache {
    dir: PathBuf,
    /// crun's state directory (`--root`), where it writes each container's filter.
    state_root: PathBuf,
    runtime: PathBuf,
}

/// What a create does with the cache.
#[derive(Debug, PartialEq, Eq)]
pub enum Prepared {
    /// The spec now carries the compiled filter.
    Hit,
    /// Nothing kept yet: keep crun's filter after the create, under this key.
    Miss(String),
}

impl SeccompCache {
    pub fn new(dir: PathBuf, state_root: PathBuf, runtime: PathBuf) -> Self {
        SeccompCache {
            dir,
            state_root,
            runtime,
        }
    }

    /// Before crun's create: put a kept filter for the spec's profile into `config.json`.
    /// `None` when the spec has no profile or asks crun for something the cache does not
    /// cover, or when anything fails (the create then goes on as it would without it).
    pub fn prepare(&self, spec_path: &Path) -> Option<Prepared> {
        match self.try_prepare(spec_path) {
            Ok(prepared) => prepared,
            Err(error) => {
                tracing::debug!(spec = %spec_path.display(), %error, "not using a compiled seccomp filter");
                None
            }
        }
    }

    fn try_prepare(&self, spec_path: &Path) -> std::io::Result<Option<Prepared>> {
        let text = fs::read(spec_path)?;
        let mut spec: serde_json::Value = serde_json::from_slice(&text)?;
        let Some(key) = self.key(&spec)? else {
            return Ok(None);
        };
        let Some(filter) = self.kept(&key) else {
            return Ok(Some(Prepared::Miss(key)));
        };
        let encoded = base64::engine::general_purpose::STANDARD.encode(filter);
        let annotations = spec
            .as_object_mut()
            .ok_or_else(|| invalid("the spec is not a JSON object"))?
            .entry("annotations")
            .or_insert_with(|| serde_json::json!({}));
        annotations
            .as_object_mut()
            .ok_or_else(|| invalid("the spec's annotations are not an object"))?
            .insert(BPF_ANNOTATION.to_string(), encoded.into());
        write_replacing(spec_path, &serde_json::to_vec(&spec)?)?;
        Ok(Some(Prepared::Hit))
    }

    /// The cache key of the spec's profile, or `None` when the spec is left to crun.
    fn key(&self, spec: &serde_json::Value) -> std::io::Result<Option<String>> {
        let seccomp = &spec["linux"]["seccomp"];
        if seccomp.is_null() {
            return Ok(None);
        }
        // A notify listener is set up by crun beside the filter; leave such specs to it.
        if seccomp["listenerPath"]
            .as_str()
            .is_some_and(|p| !p.is_empty())
        {
            return Ok(None);
        }
        let crun_options = spec["annotations"]
            .as_object()
            .is_some_and(|a| a.keys().any(|k| k.starts_with(CRUN_SECCOMP_ANNOTATIONS)));
        if crun_options {
            return Ok(None);
        }
        let runtime = fs::metadata(&self.runtime)?;
        let kernel = fs::read_to_string("/proc/sys/kernel/osrelease")?;
        let mut hash = Sha256::new();
        hash.update(
            format!(
                "{}\0{}:{}:{}:{}.{}\0{}\0",
                self.runtime.display(),
                runtime.dev(),
                runtime.ino(),
                runtime.size(),
                runtime.ctime(),
                runtime.ctime_nsec(),
                kernel.trim()
            )
            .as_bytes(),
        );
        hash.update(serde_json::to_vec(seccomp)?);
        Ok(Some(hex::encode(hash.finalize())))
    }

    /// A kept filter, when it looks like one.
    fn kept(&self, key: &str) -> Option<Vec<u8>> {
        read_filter(&self.entry(key)).ok()
    }

    fn entry(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{key}.bpf"))
    }

    /// After crun's create: keep the filter crun compiled for container `id`.
    pub fn keep(&self, id: &str, key: &str) {
        if let Err(error) = self.try_keep(id, key) {
            tracing::debug!(id, %error, "keeping the compiled seccomp filter");
        }
    }

    fn try_keep(&self, id: &str, key: &str) -> std::io::Result<()> {
        let filter = read_filter(&self.state_root.join(id).join("seccomp.bpf"))?;
        fs::create_dir_all(&self.dir)?;
        let kept = fs::read_dir(&self.dir)?.count();
        if kept >= MAX_ENTRIES {
            for entry in fs::read_dir(&self.dir)?.flatten() {
                let _ = fs::remove_file(entry.path());
            }
        }
        write_replacing(&self.entry(key), &filter)
    }
}

/// Whether `size` bytes can be a compiled filter.
fn filter_size(size: u64) -> bool {
    size > 0 && size.is_multiple_of(INSTRUCTION) && size <= MAX_FILTER_BYTES
}

/// The compiled filter in the regular file `path`: opened once, read only when its size can
/// be one, never more than `MAX_FILTER_BYTES`, and only when it is still that size once read.
fn read_filter(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let file = fs::File::open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() || !filter_size(meta.len()) {
        return Err(invalid("not a compiled seccomp filter"));
    }
    let mut filter = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_FILTER_BYTES + 1).read_to_end(&mut filter)?;
    if filter.len() as u64 != meta.len() {
        return Err(invalid("the filter changed while it was read"));
    }
    Ok(filter)
}

fn invalid(message: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, message.to_string())
}

/// Write `path` whole or not at all: a temporary file beside it, renamed over it.
fn write_replacing(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| invalid("no file name"))?
        .to_string_lossy();
    let temp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let written = (|| {
        let mut file = fs::File::create(&temp)?;
        file.write_all(data)?;
        fs::rename(&temp, path)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&temp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Setup {
        _dir: tempfile::TempDir,
        cache: SeccompCache,
        spec: PathBuf,
        state_root: PathBuf,
    }

    fn setup(spec: serde_json::Value) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let runtime = dir.path().join("crun");
        fs::write(&runtime, "#!/bin/sh\n").unwrap();
        let state_root = dir.path().join("state");
        let cache = SeccompCache::new(dir.path().join("cache"), state_root.clone(), runtime);
        let spec_path = dir.path().join("config.json");
        fs::write(&spec_path, serde_json::to_vec(&spec).unwrap()).unwrap();
        Setup {
            _dir: dir,
            cache,
            spec: spec_path,
            state_root,
        }
    }

    fn profile(names: &[&str]) -> serde_json::Value {
        serde_json::json!({
            "process": {"args": ["true"]},
            "annotations": {"io.example": "x"},
            "linux": {"seccomp": {
                "defaultAction": "SCMP_ACT_ERRNO",
                "syscalls": [{"names": names, "action": "SCMP_ACT_ALLOW"}]
            }}
        })
    }

    /// What crun would leave in its state directory after creating `id`.
    fn crun_compiled(setup: &Setup, id: &str, filter: &[u8]) {
        let dir = setup.state_root.join(id);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("seccomp.bpf"), filter).unwrap();
    }

    fn spec_of(setup: &Setup) -> serde_json::Value {
        serde_json::from_slice(&fs::read(&setup.spec).unwrap()).unwrap()
    }

    #[test]
    fn a_kept_filter_goes_into_the_next_spec_with_the_same_profile() {
        let setup = setup(profile(&["read", "write"]));
        let Some(Prepared::Miss(key)) = setup.cache.prepare(&setup.spec) else {
            panic!("an empty cache has nothing for the profile");
        };
        assert!(spec_of(&setup)["annotations"].get(BPF_ANNOTATION).is_none());
        let filter: Vec<u8> = (0..64).collect();
        crun_compiled(&setup, "c1", &filter);
        setup.cache.keep("c1", &key);

        assert_eq!(setup.cache.prepare(&setup.spec), Some(Prepared::Hit));
        let spec = spec_of(&setup);
        let data = spec["annotations"][BPF_ANNOTATION].as_str().unwrap();
        assert_eq!(
            base64::engine::general_purpose::STANDARD
                .decode(data)
                .unwrap(),
            filter
        );
        // The rest of the spec is unchanged.
        assert_eq!(spec["annotations"]["io.example"], "x");
        assert_eq!(spec["linux"], profile(&["read", "write"])["linux"]);
    }

    #[test]
    fn another_profile_or_another_runtime_is_another_key() {
        let setup = setup(profile(&["read"]));
        let Some(Prepared::Miss(key)) = setup.cache.prepare(&setup.spec) else {
            panic!("miss expected");
        };
        crun_compiled(&setup, "c1", &[0; 16]);
        setup.cache.keep("c1", &key);
        fs::write(
            &setup.spec,
            serde_json::to_vec(&profile(&["write"])).unwrap(),
        )
        .unwrap();
        assert!(matches!(setup.cache.prepare(&setup.spec), Some(Prepared::Miss(k)) if k != key));
        assert!(spec_of(&setup)["annotations"].get(BPF_ANNOTATION).is_none());
        // A new crun executable (a new file in its place) does not use the old filters.
        fs::write(
            &setup.spec,
            serde_json::to_vec(&profile(&["read"])).unwrap(),
        )
        .unwrap();
        fs::remove_file(&setup.cache.runtime).unwrap();
        fs::write(&setup.cache.runtime, "#!/bin/sh\n# upgraded\n").unwrap();
        assert!(matches!(setup.cache.prepare(&setup.spec), Some(Prepared::Miss(k)) if k != key));
    }

    #[test]
    fn specs_left_to_crun() {
        let mut no_profile = profile(&[]);
        no_profile["linux"] = serde_json::json!({});
        let mut listener = profile(&["read"]);
        listener["linux"]["seccomp"]["listenerPath"] = "/run/notify.sock".into();
        let mut crun_option = profile(&["read"]);
        crun_option["annotations"]["run.oci.seccomp_fail_unknown_syscall"] = "1".into();
        for spec in [no_profile, listener, crun_option] {
            let setup = setup(spec.clone());
            assert_eq!(setup.cache.prepare(&setup.spec), None, "{spec}");
            assert_eq!(spec_of(&setup), spec);
        }
    }

    #[test]
    fn what_is_not_a_filter_is_not_kept_or_used() {
        let setup = setup(profile(&["read"]));
        let Some(Prepared::Miss(key)) = setup.cache.prepare(&setup.spec) else {
            panic!("miss expected");
        };
        // Not a whole number of instructions; empty; no file at all.
        for filter in [&[1u8; 12][..], &[]] {
            crun_compiled(&setup, "c1", filter);
            setup.cache.keep("c1", &key);
            assert!(matches!(
                setup.cache.prepare(&setup.spec),
                Some(Prepared::Miss(_))
            ));
        }
        setup.cache.keep("never-created", &key);
        // A damaged kept file is not used either.
        fs::create_dir_all(&setup.cache.dir).unwrap();
        fs::write(setup.cache.entry(&key), [7u8; 9]).unwrap();
        assert!(matches!(
            setup.cache.prepare(&setup.spec),
            Some(Prepared::Miss(_))
        ));
        assert!(spec_of(&setup)["annotations"].get(BPF_ANNOTATION).is_none());
    }

    #[test]
    fn the_cache_is_bounded() {
        let setup = setup(profile(&["read"]));
        crun_compiled(&setup, "c1", &[0; 8]);
        for n in 0..MAX_ENTRIES + 5 {
            setup.cache.keep("c1", &format!("key{n}"));
            let count = fs::read_dir(&setup.cache.dir).unwrap().count();
            assert!(count <= MAX_ENTRIES, "{count} entries");
        }
    }

    #[test]
    fn an_unreadable_spec_is_left_alone() {
        let setup = setup(profile(&["read"]));
        fs::write(&setup.spec, "{not json").unwrap();
        assert_eq!(setup.cache.prepare(&setup.spec), None);
        assert_eq!(fs::read_to_string(&setup.spec).unwrap(), "{not json");
    }
}
