//! Host services a plugin may call: logging and the clock for every plugin;
//! outbound HTTP and the key-value store only when the capability is declared
//! by the plugin *and* granted by the admin (otherwise they return
//! `NotAllowed`, never panic).

use crate::bindings::gatehouse::plugin::host as wit_host;

pub use wit_host::LogLevel;

/// Structured logging, attributed by the host to this plugin and session.
pub mod log {
    use super::{LogLevel, wit_host};

    /// Log `message` with key/value `fields` at `level`.
    pub fn log(level: LogLevel, message: &str, fields: &[(&str, &str)]) {
        let fields: Vec<(String, String)> = fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        wit_host::log(level, message, &fields);
    }

    pub fn debug(message: &str, fields: &[(&str, &str)]) {
        log(LogLevel::Debug, message, fields)
    }
    pub fn info(message: &str, fields: &[(&str, &str)]) {
        log(LogLevel::Info, message, fields)
    }
    pub fn warn(message: &str, fields: &[(&str, &str)]) {
        log(LogLevel::Warn, message, fields)
    }
    pub fn error(message: &str, fields: &[(&str, &str)]) {
        log(LogLevel::Error, message, fields)
    }
}

/// Wall-clock time in Unix milliseconds, from the host.
pub fn now_millis() -> u64 {
    wit_host::now()
}

/// Outbound HTTP to the URL prefixes an admin allowed (`http-outbound`).
pub mod http {
    pub use crate::bindings::gatehouse::plugin::http::{HttpError, Request, Response, send};

    /// POST `body` with the given content type.
    pub fn post(url: &str, content_type: &str, body: Vec<u8>) -> Result<Response, HttpError> {
        send(&Request {
            method: "POST".into(),
            url: url.into(),
            headers: vec![("content-type".into(), content_type.into())],
            body,
        })
    }
}

/// A small key-value store private to this plugin (`key-value`).
pub mod kv {
    pub use crate::bindings::gatehouse::plugin::kv::{KvError, delete, get, set};
}
