//! Compiled seccomp filters kept for crun.
//!
//! crun compiles the spec's seccomp profile with libseccomp at every create; for the default
//! profile (about 440 syscalls on three architectures) that takes about 20 ms here, more than
//! the rest of crun's create. crun writes the compiled filter to its state directory
//! (`<root>/<id>/seccomp.bpf`) and takes a compiled filter in the
//! `run.oci.seccomp_bpf_data` annotation (base64), in which case it loads that filter and
//! compiles nothing. So after a create rpod keeps crun's compiled filter, keyed by what
//! produced it, and later creates with the same profile pass it in the annotation. The
//! annotation goes into the spec before the engine writes it (`OciRuntime::prepare_spec`),
//! so `config.json` is written once; the key of a profile with no filter kept yet waits
//! here, by container, for the create that compiles it.
//!
//! The key covers the profile itself, the crun executable (device, inode, size, change
//! time: a crun upgrade is a new file) and the kernel release (libseccomp's output depends
//! on what the kernel supports). The cache lives on the run root, which is emptied at boot.
//! Every failure here only costs the saving: the create goes on and crun compiles.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use oci_spec::runtime::Spec;
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

/// At most this many keys wait for their creates (a prepared spec whose create never came
/// leaves one); one more forgets them all, which only costs those creates the saving.
const MAX_WAITING: usize = 64;

/// The filters compiled by one crun, kept in `dir`.
#[derive(Debug, Clone)]
pub struct SeccompCache {
    dir: PathBuf,
    /// crun's state directory (`--root`), where it writes each container's filter.
    state_root: PathBuf,
    runtime: PathBuf,
    /// By container ID: the key of a prepared spec's profile that has no filter kept yet.
    waiting: Arc<Mutex<HashMap<String, String>>>,
}

/// What preparing a spec did.
#[derive(Debug, PartialEq, Eq)]
pub enum Prepared {
    /// The spec now carries the compiled filter.
    Hit,
    /// Nothing kept yet: crun's filter is kept after the create, under this key.
    Miss(String),
}

impl SeccompCache {
    pub fn new(dir: PathBuf, state_root: PathBuf, runtime: PathBuf) -> Self {
        SeccompCache {
            dir,
            state_root,
            runtime,
            waiting: Default::default(),
        }
    }

    /// Before the spec of container `id` is written: put a kept filter for its profile
    /// into its annotations, or remember the profile's key for the create. `None` when the
    /// spec has no profile or asks crun for something the cache does not cover, or when
    /// anything fails (the create then goes on as it would without it).
    pub fn prepare(&self, id: &str, spec: &mut Spec) -> Option<Prepared> {
        let mut waiting = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
        waiting.remove(id);
        let prepared = match self.try_prepare(spec) {
            Ok(prepared) => prepared,
            Err(error) => {
                tracing::debug!(id, %error, "not using a compiled seccomp filter");
                None
            }
        };
        if let Some(Prepared::Miss(key)) = &prepared {
            if waiting.len() >= MAX_WAITING {
                waiting.clear();
            }
            waiting.insert(id.to_string(), key.clone());
        }
        prepared
    }

    fn try_prepare(&self, spec: &mut Spec) -> std::io::Result<Option<Prepared>> {
        let Some(key) = self.key(spec)? else {
            return Ok(None);
        };
        let Some(filter) = self.kept(&key) else {
            return Ok(Some(Prepared::Miss(key)));
        };
        let encoded = base64::engine::general_purpose::STANDARD.encode(filter);
        let mut annotations = spec.annotations().clone().unwrap_or_default();
        annotations.insert(BPF_ANNOTATION.to_string(), encoded);
        spec.set_annotations(Some(annotations));
        Ok(Some(Prepared::Hit))
    }

    /// The cache key of the spec's profile, or `None` when the spec is left to crun.
    fn key(&self, spec: &Spec) -> std::io::Result<Option<String>> {
        let Some(seccomp) = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) else {
            return Ok(None);
        };
        // A notify listener is set up by crun beside the filter; leave such specs to it.
        if seccomp
            .listener_path()
            .as_ref()
            .is_some_and(|p| !p.as_os_str().is_empty())
        {
            return Ok(None);
        }
        let crun_options = spec
            .annotations()
            .as_ref()
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

    /// After crun's create of container `id`: keep the filter it compiled, when its spec
    /// was prepared without one.
    pub fn created(&self, id: &str) {
        let key = self
            .waiting
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
        if let Some(key) = key {
            self.keep(id, &key);
        }
    }

    /// Forget what waits for container `id`'s create (a restore, which compiles nothing
    /// of its own, or a create that failed).
    pub fn forget(&self, id: &str) {
        self.waiting
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }

    /// Keep the filter crun compiled for container `id` under `key`.
    fn keep(&self, id: &str, key: &str) {
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
        state_root: PathBuf,
    }

    fn setup() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let runtime = dir.path().join("crun");
        fs::write(&runtime, "#!/bin/sh\n").unwrap();
        let state_root = dir.path().join("state");
        let cache = SeccompCache::new(dir.path().join("cache"), state_root.clone(), runtime);
        Setup {
            _dir: dir,
            cache,
            state_root,
        }
    }

    fn profile_json(names: &[&str]) -> serde_json::Value {
        serde_json::json!({
            "ociVersion": "1.0.2",
            "process": {"args": ["true"], "cwd": "/", "user": {"uid": 0, "gid": 0}},
            "root": {"path": "rootfs"},
            "annotations": {"io.example": "x"},
            "linux": {"seccomp": {
                "defaultAction": "SCMP_ACT_ERRNO",
                "syscalls": [{"names": names, "action": "SCMP_ACT_ALLOW"}]
            }}
        })
    }

    fn spec(json: serde_json::Value) -> Spec {
        serde_json::from_value(json).unwrap()
    }

    fn profile(names: &[&str]) -> Spec {
        spec(profile_json(names))
    }

    /// What crun would leave in its state directory after creating `id`.
    fn crun_compiled(setup: &Setup, id: &str, filter: &[u8]) {
        let dir = setup.state_root.join(id);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("seccomp.bpf"), filter).unwrap();
    }

    fn annotation(spec: &Spec) -> Option<String> {
        spec.annotations()
            .as_ref()
            .and_then(|a| a.get(BPF_ANNOTATION).cloned())
    }

    #[test]
    fn a_kept_filter_goes_into_the_next_spec_with_the_same_profile() {
        let setup = setup();
        let mut first = profile(&["read", "write"]);
        let Some(Prepared::Miss(_)) = setup.cache.prepare("c1", &mut first) else {
            panic!("an empty cache has nothing for the profile");
        };
        assert_eq!(first, profile(&["read", "write"]), "a miss leaves the spec");
        let filter: Vec<u8> = (0..64).collect();
        crun_compiled(&setup, "c1", &filter);
        setup.cache.created("c1");

        let mut second = profile(&["read", "write"]);
        assert_eq!(setup.cache.prepare("c2", &mut second), Some(Prepared::Hit));
        let data = annotation(&second).unwrap();
        assert_eq!(
            base64::engine::general_purpose::STANDARD
                .decode(data)
                .unwrap(),
            filter
        );
        // The rest of the spec is unchanged.
        let mut json = serde_json::to_value(&second).unwrap();
        json["annotations"]
            .as_object_mut()
            .unwrap()
            .remove(BPF_ANNOTATION);
        assert_eq!(spec(json), profile(&["read", "write"]));
        // A hit waits for nothing: its create keeps nothing.
        crun_compiled(&setup, "c2", &[9; 8]);
        setup.cache.created("c2");
        let mut third = profile(&["read", "write"]);
        setup.cache.prepare("c3", &mut third);
        assert_eq!(annotation(&third), annotation(&second));
    }

    #[test]
    fn only_the_create_of_the_prepared_container_keeps_its_filter() {
        let setup = setup();
        crun_compiled(&setup, "c1", &[1; 16]);
        crun_compiled(&setup, "other", &[2; 16]);
        setup.cache.prepare("c1", &mut profile(&["read"]));
        setup.cache.created("other");
        let mut next = profile(&["read"]);
        assert!(matches!(
            setup.cache.prepare("c2", &mut next),
            Some(Prepared::Miss(_))
        ));
        // A restore (or a failed create) forgets what waited.
        setup.cache.forget("c1");
        setup.cache.created("c1");
        assert!(matches!(
            setup.cache.prepare("c3", &mut profile(&["read"])),
            Some(Prepared::Miss(_))
        ));
        crun_compiled(&setup, "c3", &[3; 16]);
        setup.cache.created("c3");
        assert_eq!(setup.cache.prepare("c4", &mut next), Some(Prepared::Hit));
    }

    #[test]
    fn another_profile_or_another_runtime_is_another_key() {
        let setup = setup();
        let Some(Prepared::Miss(key)) = setup.cache.prepare("c1", &mut profile(&["read"])) else {
            panic!("miss expected");
        };
        crun_compiled(&setup, "c1", &[0; 16]);
        setup.cache.created("c1");
        let mut other = profile(&["write"]);
        assert!(
            matches!(setup.cache.prepare("c2", &mut other), Some(Prepared::Miss(k)) if k != key)
        );
        assert_eq!(annotation(&other), None);
        // A new crun executable (a new file in its place) does not use the old filters.
        fs::remove_file(&setup.cache.runtime).unwrap();
        fs::write(&setup.cache.runtime, "#!/bin/sh\n# upgraded\n").unwrap();
        assert!(matches!(
            setup.cache.prepare("c3", &mut profile(&["read"])),
            Some(Prepared::Miss(k)) if k != key
        ));
    }

    #[test]
    fn specs_left_to_crun() {
        let mut no_profile = profile_json(&[]);
        no_profile["linux"] = serde_json::json!({});
        let mut listener = profile_json(&["read"]);
        listener["linux"]["seccomp"]["listenerPath"] = "/run/notify.sock".into();
        let mut crun_option = profile_json(&["read"]);
        crun_option["annotations"]["run.oci.seccomp_fail_unknown_syscall"] = "1".into();
        let setup = setup();
        // Even with a filter kept for the profile.
        setup.cache.prepare("c1", &mut profile(&["read"]));
        crun_compiled(&setup, "c1", &[0; 16]);
        setup.cache.created("c1");
        for json in [no_profile, listener, crun_option] {
            let mut given = spec(json.clone());
            assert_eq!(setup.cache.prepare("c2", &mut given), None, "{json}");
            assert_eq!(given, spec(json));
        }
    }

    #[test]
    fn what_is_not_a_filter_is_not_kept_or_used() {
        let setup = setup();
        // Not a whole number of instructions; empty; no file at all.
        for filter in [&[1u8; 12][..], &[]] {
            let Some(Prepared::Miss(_)) = setup.cache.prepare("c1", &mut profile(&["read"])) else {
                panic!("miss expected");
            };
            crun_compiled(&setup, "c1", filter);
            setup.cache.created("c1");
        }
        let Some(Prepared::Miss(key)) = setup
            .cache
            .prepare("never-created", &mut profile(&["read"]))
        else {
            panic!("miss expected");
        };
        setup.cache.created("never-created");
        // A damaged kept file is not used either.
        fs::create_dir_all(&setup.cache.dir).unwrap();
        fs::write(setup.cache.entry(&key), [7u8; 9]).unwrap();
        let mut spec = profile(&["read"]);
        assert!(matches!(
            setup.cache.prepare("c2", &mut spec),
            Some(Prepared::Miss(_))
        ));
        assert_eq!(annotation(&spec), None);
    }

    #[test]
    fn the_cache_and_the_waiting_keys_are_bounded() {
        let setup = setup();
        crun_compiled(&setup, "c1", &[0; 8]);
        for n in 0..MAX_ENTRIES + 5 {
            setup.cache.keep("c1", &format!("key{n}"));
            let count = fs::read_dir(&setup.cache.dir).unwrap().count();
            assert!(count <= MAX_ENTRIES, "{count} entries");
        }
        for n in 0..MAX_WAITING + 5 {
            setup
                .cache
                .prepare(&format!("w{n}"), &mut profile(&["write"]));
            let waiting = setup.cache.waiting.lock().unwrap().len();
            assert!(waiting <= MAX_WAITING, "{waiting} waiting");
        }
    }
}
