//! # gatehouse (the gateway)
//!
//! The host process: configuration, the catalog of connections and their
//! plugin pipelines, and (as they land) the protocol front doors, the store
//! and the API. Policy lives in plugins (`gatehouse-runtime` runs them); this
//! crate only wires sessions to them.

pub mod api;
pub mod apply;
pub mod audit;
pub mod catalog;
pub mod clock;
pub mod config;
pub mod exec;
pub mod identity;
pub mod pg;
pub mod record;
pub mod review_page;
pub mod reviews;
pub mod server;
pub mod workers;
