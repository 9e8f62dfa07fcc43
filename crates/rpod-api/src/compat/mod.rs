//! Handlers of the Docker Engine API, with the Docker schema's field names and types.

pub mod build;
mod build_secrets;
mod build_steps;
pub mod container_files;
pub mod container_observe;
pub mod containers;
pub mod create;
pub mod exec;
pub mod images;
pub mod system;
pub mod views;
