//! Integration tests of the store, each body run on SQLite and PostgreSQL
//! (`common::both`). One test binary: the crate links once.

mod audit;
mod binding_secrets;
mod common;
mod connections;
mod plugins;
mod reviews;
mod schema;
mod sessions;
mod users;
