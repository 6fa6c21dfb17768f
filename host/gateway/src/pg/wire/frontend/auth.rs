//! The bodies of `'p'` messages, which mean different things at different
//! steps of authentication: a PasswordMessage after
//! AuthenticationCleartextPassword or AuthenticationMD5Password, a
//! SASLInitialResponse after AuthenticationSASL, a SASLResponse after
//! AuthenticationSASLContinue. The caller knows the step; these functions
//! parse and build each kind.
//!
//! Invariants: parsers read the whole body (trailing bytes are an error) and
//! return SASL data as zero-copy slices; encoders refuse a password or
//! mechanism name containing a NUL byte, leaving `out` as it was.
//!
//! Failure modes: [`WireError::MissingNul`], [`WireError::TrailingBytes`],
//! [`WireError::InvalidUtf8`], [`WireError::Truncated`],
//! [`WireError::Invalid`] (a SASL data length below -1).

use bytes::{BufMut, Bytes, BytesMut};

use super::super::cursor::{Cursor, begin_message, check_cstr, finish_message, put_cstr};
use super::super::error::WireError;
use super::super::tags::frontend::PASSWORD;

/// The first message of a SASL exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaslInitialResponse {
    /// The mechanism the client chose (`SCRAM-SHA-256`, ...).
    pub mechanism: String,
    /// The mechanism's initial response; `None` when the client sent none (-1).
    pub data: Option<Bytes>,
}

/// A cleartext (or `md5…`-hashed) password: one NUL-terminated string.
pub fn parse_password(body: &Bytes) -> Result<String, WireError> {
    let mut c = Cursor::new(body, "PasswordMessage");
    let password = c.cstr("password")?;
    c.finish()?;
    Ok(password)
}

/// A SASLInitialResponse: mechanism name, then Int32 length and data.
pub fn parse_sasl_initial_response(body: &Bytes) -> Result<SaslInitialResponse, WireError> {
    let mut c = Cursor::new(body, "SASLInitialResponse");
    let mechanism = c.cstr("mechanism")?;
    let data = c.nullable_bytes("initial response")?;
    c.finish()?;
    Ok(SaslInitialResponse { mechanism, data })
}

/// Appends a PasswordMessage carrying `password`.
pub fn encode_password(out: &mut BytesMut, password: &str) -> Result<(), WireError> {
    check_cstr("PasswordMessage", "password", password)?;
    let at = begin_message(out, PASSWORD);
    put_cstr(out, password);
    finish_message(out, at);
    Ok(())
}

/// Appends a SASLInitialResponse.
pub fn encode_sasl_initial_response(
    out: &mut BytesMut,
    mechanism: &str,
    data: Option<&[u8]>,
) -> Result<(), WireError> {
    check_cstr("SASLInitialResponse", "mechanism", mechanism)?;
    let len = match data {
        None => -1,
        Some(d) => i32::try_from(d.len()).map_err(|_| {
            WireError::invalid(
                "SASLInitialResponse",
                "initial response over i32::MAX bytes",
            )
        })?,
    };
    let at = begin_message(out, PASSWORD);
    put_cstr(out, mechanism);
    out.put_i32(len);
    if let Some(d) = data {
        out.put_slice(d);
    }
    finish_message(out, at);
    Ok(())
}

/// Appends a SASLResponse (the body is the mechanism's data, nothing else).
pub fn encode_sasl_response(out: &mut BytesMut, data: &[u8]) {
    super::super::framing::write_message(out, PASSWORD, data);
}
