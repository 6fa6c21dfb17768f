//! The one error type of the codec.
//!
//! Every way a byte stream can be wrong has its own variant and a message that
//! names the message type and the field, so a log line says what the peer sent
//! (`truncated Bind message`, `unknown frontend message tag 'X'`,
//! `message of 2147483647 bytes exceeds the 67108864-byte limit`).
//!
//! Invariants:
//! * Decoding never panics: any input yields a value or one of these errors.
//! * Apart from [`WireError::Io`], an error means the peer broke the protocol
//!   (or used a version or encoding the gateway does not speak); the stream is
//!   then out of step and the connection should be closed after answering with
//!   [`WireError::to_error_response`].

use super::backend::{ErrorFields, Severity};

/// Everything that can go wrong reading or decoding PostgreSQL protocol bytes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// The transport failed.
    #[error("I/O error on the connection: {0}")]
    Io(#[from] std::io::Error),

    /// The peer closed the connection part way through a message.
    #[error("connection closed in the middle of a message ({got} of {expected} bytes received)")]
    UnexpectedEof { got: usize, expected: usize },

    /// A message's length field is below 4 (it counts itself), negative included.
    #[error("invalid message length {0}: a length counts its own 4 bytes and must be at least 4")]
    LengthTooShort(i32),

    /// A message's declared length (which counts the length field itself) is over the limit.
    #[error("message of {length} bytes exceeds the {max}-byte limit")]
    TooLarge { length: u64, max: usize },

    /// A startup-phase packet whose length is outside `8..=10000`, or not the fixed length of its kind.
    #[error("invalid startup packet length {length}: {expected}")]
    StartupLength { length: i32, expected: &'static str },

    /// A startup packet asking for a protocol the gateway does not speak (only 3.x is).
    #[error("unsupported frontend protocol {major}.{minor}: the gateway supports 3.0")]
    UnsupportedProtocol { major: u16, minor: u16 },

    /// A client sent a message type that does not exist in protocol 3.0.
    #[error("unknown frontend message tag {}", show_tag(*.0))]
    UnknownFrontendTag(u8),

    /// A server sent a message type that does not exist in protocol 3.0.
    #[error("unknown backend message tag {}", show_tag(*.0))]
    UnknownBackendTag(u8),

    /// A message's body ends before all its fields are read.
    #[error("truncated {0} message")]
    Truncated(&'static str),

    /// A message's body goes on after its last field.
    #[error("{message} message has {count} unexpected trailing byte(s)")]
    TrailingBytes { message: &'static str, count: usize },

    /// A string field has no NUL terminator before the end of the body.
    #[error("{message} message: {field} is not NUL-terminated")]
    MissingNul {
        message: &'static str,
        field: &'static str,
    },

    /// A string field is not UTF-8 (the gateway requires `client_encoding` UTF8).
    #[error("{message} message: {field} is not valid UTF-8")]
    InvalidUtf8 {
        message: &'static str,
        field: &'static str,
    },

    /// An encoder was given a string with a NUL byte inside, which the
    /// protocol cannot carry (it would end the string early).
    #[error("{message} message: {field} contains a NUL byte")]
    InteriorNul {
        message: &'static str,
        field: &'static str,
    },

    /// A field holds a value the protocol does not allow (a negative count, an unknown code ...).
    #[error("{message} message: {detail}")]
    Invalid {
        message: &'static str,
        detail: String,
    },
}

impl WireError {
    /// The SQLSTATE a gateway answering this error to a client should use.
    pub fn sqlstate(&self) -> &'static str {
        match self {
            WireError::Io(_) | WireError::UnexpectedEof { .. } => "08006", // connection_failure
            WireError::UnsupportedProtocol { .. } => "0A000",              // feature_not_supported
            WireError::InvalidUtf8 { .. } => "22021", // character_not_in_repertoire
            _ => "08P01",                             // protocol_violation
        }
    }

    /// A FATAL ErrorResponse describing this error, for the client before the
    /// connection is closed.
    pub fn to_error_response(&self) -> ErrorFields {
        ErrorFields::new(Severity::Fatal, self.sqlstate(), self.to_string())
    }

    pub(crate) fn invalid(message: &'static str, detail: impl Into<String>) -> Self {
        WireError::Invalid {
            message,
            detail: detail.into(),
        }
    }
}

/// `'X'` for a printable ASCII tag, `0x00` otherwise.
pub(crate) fn show_tag(tag: u8) -> String {
    if tag.is_ascii_graphic() {
        format!("'{}'", tag as char)
    } else {
        format!("0x{tag:02x}")
    }
}
