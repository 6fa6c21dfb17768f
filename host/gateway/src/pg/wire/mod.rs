//! # PostgreSQL protocol v3 codec
//!
//! The messages of the PostgreSQL front door, which sits between a client and
//! the real server: it reads client messages, relays most of them, changes
//! some (a rewritten query) and answers some itself (its own authentication
//! and errors). This module only turns bytes into typed messages and back; it
//! keeps no session state and does no I/O beyond reading a stream.
//!
//! | module | job |
//! | --- | --- |
//! | [`framing`] | split a stream into tagged messages ([`RawMessage`]) |
//! | [`startup`] | the untagged startup-phase packets and protocol negotiation |
//! | [`frontend`] | client → server messages ([`FrontendMessage`]); `'p'` bodies in [`frontend::auth`] |
//! | [`backend`] | server → client messages ([`BackendMessage`]) and the gateway's encoders ([`backend::encode`]) |
//! | [`tags`] | every protocol constant |
//! | [`error`] | [`WireError`] |
//!
//! Invariants (each module states its own in detail):
//! * No input makes the codec panic or over-allocate: lengths are checked
//!   against a limit before buffering, counts against the bytes present
//!   before allocating, and every decoder reads its body exactly.
//! * The hot path copies nothing: message bodies, DataRow cells, CopyData
//!   and Bind parameters are [`bytes::Bytes`] slices of the read buffer.
//! * Only protocol 3.0 is spoken; newer 3.x clients are negotiated down.
//! * Text is UTF-8 (the gateway requires `client_encoding` UTF8), except
//!   error and notice text, which is decoded leniently.
//! * No third-party type appears in this API except `bytes` and `tokio`'s
//!   `AsyncRead`.
//!
//! This module refers to its own parts only through `super::` paths, never
//! `crate::`, so the fuzz targets (`host/gateway/fuzz`) compile it on its own.

pub mod backend;
mod cursor;
pub mod error;
pub mod framing;
pub mod frontend;
pub mod startup;
pub mod tags;

#[cfg(test)]
mod tests;

pub use backend::{
    Authentication, BackendMessage, DataRow, ErrorFields, FieldDescription, Severity,
    TransactionStatus,
};
pub use error::WireError;
pub use framing::{
    DEFAULT_MAX_MESSAGE_LEN, RawMessage, read_message, split_message, write_message,
};
pub use frontend::{FrontendMessage, Target};
pub use startup::{
    MAX_STARTUP_LEN, ProtocolNegotiation, StartupPacket, encode_cancel, encode_ssl_request,
    encode_startup, negotiate, read_startup,
};
