//! rpod's container engine: containers and their state machine, the state store, per-container
//! locks, local images, OCI spec generation, and reconciliation after monitor deaths and
//! reboots. It decides what is legal; `rpod-oci` carries it out.
#![deny(unsafe_code)]

pub mod accounts;
pub mod at_once;
mod child;
pub mod commit_config;
pub mod config;
pub mod confined;
pub mod container;
pub mod container_filters;
pub mod containerfile;
pub mod copy_destination;
pub mod engine;
pub mod environment;
pub mod error;
pub mod events;
pub mod filter_values;
pub mod free_space;
pub mod go_json;
pub mod health;
pub mod hooks;
pub mod host_system;
pub mod human;
pub mod idmapped;
pub mod image;
pub mod image_filters;
pub mod isolation;
pub mod kube;
pub mod kube_generate;
pub mod labels;
pub mod lock;
pub mod logs;
pub mod mounted_tree;
pub mod mountinfo;
pub mod mounts;
pub mod names;
pub mod network;
pub mod paths;
pub mod pod_cgroups;
pub mod pods;
pub mod resources;
pub mod restart;
pub mod rootfs;
pub mod scratch;
pub mod sd_notify;
pub mod seccomp;
pub mod secrets;
pub mod security;
pub mod spec;
pub mod stats;
pub mod store;
pub mod systemd_mode;
pub mod systemd_unit;
pub mod top;
pub mod tree_copy;
pub mod tree_diff;
pub mod upper_diff;
pub mod userns;
pub mod views;
pub mod volume_filters;
pub mod volume_options;
pub mod volume_plugin;
pub mod volumes;

pub use container::{
    ContainerConfig, ContainerRecord, ContainerState, ExecSession, NetworkMode, Status,
};
pub use engine::checkpoint::{
    ArchiveCompression, CheckpointReport, CheckpointRequest, RestoreRequest,
};
pub use engine::successfully_tagged;
pub use engine::{
    containerfile_in_local_context, file_in_context, parse_build_network, parse_build_timestamp,
    parse_cache_repository, parse_kube_log_driver, parse_secret_flag, parse_ssh_flag, BuildContext,
    BuildOptions, BuildPull, BuildSecret, CloneOptions, CommitOptions, CopyInto, CreateOptions,
    Engine, EngineOptions, ExecReattached, ExecRequest, ExecStarted, FetchedContext, HealthRun,
    HistoryStep, HostSource, ImageRemoval, ImageVolumes, LocalSource, MigrateReport, PathStat,
    PlayOptions, PlayReport, PlayedPod, PodCloneOptions, PodNetworkSettings, PodOptions,
    PodSettings, PodView, RemoteContext, RemoveOptions, RuntimeMaker, Squash, SshSource,
    StepSettings, WaitBegun, WaitCondition, WaitOptions, WaitOutcome,
};
pub use error::{EngineError, ErrorKind, Result};
