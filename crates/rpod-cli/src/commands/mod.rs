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
