//! The body of ErrorResponse and NoticeResponse: `code: u8, value\0` fields
//! ended by a zero byte, and a builder for the ones the gateway sends.
//!
//! Invariants:
//! * Every field is kept, in order, so a relayed error is re-encoded as the
//!   server sent it (apart from the two notes below).
//! * Values are diagnostic text and decode leniently: invalid UTF-8 is
//!   replaced (U+FFFD) rather than failing the session over a message.
//! * Encoding cuts a value at a NUL byte and skips a field whose code is 0,
//!   so a value can never inject fields or end the list early.
//!
//! Failure modes (decode): [`WireError::MissingNul`] for a value without a
//! terminator or a list without its final zero, [`WireError::TrailingBytes`].

use bytes::{BufMut, Bytes, BytesMut};

use super::super::cursor::{Cursor, put_cstr};
use super::super::error::WireError;
use super::super::tags::error_field as field;

/// The severity of an error or notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Severity {
    Error,
    Fatal,
    Panic,
    Warning,
    Notice,
    Debug,
    Info,
    Log,
}

impl Severity {
    /// The severity as PostgreSQL writes it (never localised).
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "ERROR",
            Severity::Fatal => "FATAL",
            Severity::Panic => "PANIC",
            Severity::Warning => "WARNING",
            Severity::Notice => "NOTICE",
            Severity::Debug => "DEBUG",
            Severity::Info => "INFO",
            Severity::Log => "LOG",
        }
    }

    /// Parses a non-localised severity.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "ERROR" => Severity::Error,
            "FATAL" => Severity::Fatal,
            "PANIC" => Severity::Panic,
            "WARNING" => Severity::Warning,
            "NOTICE" => Severity::Notice,
            "DEBUG" => Severity::Debug,
            "INFO" => Severity::Info,
            "LOG" => Severity::Log,
            _ => return None,
        })
    }
}

/// The fields of an ErrorResponse or NoticeResponse, in wire order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ErrorFields {
    fields: Vec<(u8, String)>,
}

impl ErrorFields {
    /// An error or notice with severity (localised and not), SQLSTATE `code`
    /// (five characters, e.g. `42501`) and primary `message`.
    pub fn new(severity: Severity, code: &str, message: impl Into<String>) -> Self {
        ErrorFields {
            fields: vec![
                (field::SEVERITY, severity.as_str().to_owned()),
                (field::SEVERITY_NONLOCALIZED, severity.as_str().to_owned()),
                (field::CODE, code.to_owned()),
                (field::MESSAGE, message.into()),
            ],
        }
    }

    /// Adds (or replaces) the detail field.
    pub fn with_detail(self, detail: impl Into<String>) -> Self {
        self.with(field::DETAIL, detail)
    }

    /// Adds (or replaces) the hint field.
    pub fn with_hint(self, hint: impl Into<String>) -> Self {
        self.with(field::HINT, hint)
    }

    /// Adds (or replaces) any field by its code ([`tags::error_field`](super::super::tags::error_field)).
    pub fn with(mut self, code: u8, value: impl Into<String>) -> Self {
        self.set(code, value);
        self
    }

    /// Sets a field, replacing an existing one of the same code in place.
    pub fn set(&mut self, code: u8, value: impl Into<String>) {
        let value = value.into();
        match self.fields.iter_mut().find(|(c, _)| *c == code) {
            Some(slot) => slot.1 = value,
            None => self.fields.push((code, value)),
        }
    }

    /// The value of a field, by code.
    pub fn get(&self, code: u8) -> Option<&str> {
        self.fields
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(_, v)| v.as_str())
    }

    /// All fields in order.
    pub fn fields(&self) -> &[(u8, String)] {
        &self.fields
    }

    /// The severity, non-localised where the server sent it.
    pub fn severity(&self) -> Option<&str> {
        self.get(field::SEVERITY_NONLOCALIZED)
            .or_else(|| self.get(field::SEVERITY))
    }

    /// The SQLSTATE code.
    pub fn code(&self) -> Option<&str> {
        self.get(field::CODE)
    }

    /// The primary message.
    pub fn message(&self) -> Option<&str> {
        self.get(field::MESSAGE)
    }

    pub fn detail(&self) -> Option<&str> {
        self.get(field::DETAIL)
    }

    pub fn hint(&self) -> Option<&str> {
        self.get(field::HINT)
    }

    /// Decodes a body; `message` names it in errors.
    pub fn decode(body: &Bytes, message: &'static str) -> Result<Self, WireError> {
        let mut c = Cursor::new(body, message);
        let mut fields = Vec::new();
        loop {
            let code = c.u8().map_err(|_| WireError::MissingNul {
                message,
                field: "field list",
            })?;
            if code == 0 {
                break;
            }
            fields.push((code, c.cstr_lossy("field value")?));
        }
        c.finish()?;
        Ok(ErrorFields { fields })
    }

    /// Appends the body (fields and the final zero).
    pub fn encode_body(&self, out: &mut BytesMut) {
        for (code, value) in &self.fields {
            if *code != 0 {
                out.put_u8(*code);
                put_cstr(out, value);
            }
        }
        out.put_u8(0);
    }
}
