//! Integration tests of the API: the router called in-process against a
//! real store and the real plugin runtime.

mod binding_secrets;
mod common;
mod connections;
mod matrix;
mod oidc;
mod openapi;
mod plugins;
mod sessions;
mod users;
