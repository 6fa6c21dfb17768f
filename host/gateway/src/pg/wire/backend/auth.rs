//! Authentication (`'R'`) messages: `code: i32` then a body depending on it.
//!
//! Invariants: the methods the gateway takes part in (trust, cleartext, MD5,
//! SASL/SCRAM) are decoded field by field and must have exactly their
//! layout; any other method (Kerberos, GSSAPI, SSPI, or a code from a newer
//! server) is [`Authentication::Other`] with its raw data, so the caller can
//! refuse it by name rather than by a decode error. SASL data is a zero-copy
//! slice.
//!
//! Failure modes: [`WireError::Truncated`], [`WireError::TrailingBytes`],
//! [`WireError::MissingNul`] / [`WireError::InvalidUtf8`] in the SASL
//! mechanism list.

use bytes::{BufMut, Bytes, BytesMut};

use super::super::cursor::{Cursor, begin_message, finish_message, put_cstr};
use super::super::error::WireError;
use super::super::tags::{auth as code, backend::AUTHENTICATION};

/// A server's authentication request or result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authentication {
    /// AuthenticationOk.
    Ok,
    /// AuthenticationCleartextPassword.
    CleartextPassword,
    /// AuthenticationMD5Password.
    Md5Password { salt: [u8; 4] },
    /// AuthenticationSASL: the mechanisms the server offers.
    Sasl { mechanisms: Vec<String> },
    /// AuthenticationSASLContinue: the mechanism's challenge.
    SaslContinue(Bytes),
    /// AuthenticationSASLFinal: the mechanism's outcome data.
    SaslFinal(Bytes),
    /// Any other method (Kerberos 2, GSS 7, GSSContinue 8, SSPI 9, ...).
    Other { code: i32, data: Bytes },
}

impl Authentication {
    /// Decodes an Authentication body.
    pub fn decode(body: &Bytes) -> Result<Self, WireError> {
        let mut c = Cursor::new(body, "Authentication");
        let auth = match c.i32()? {
            code::OK => Authentication::Ok,
            code::CLEARTEXT_PASSWORD => Authentication::CleartextPassword,
            code::MD5_PASSWORD => {
                let salt = [c.u8()?, c.u8()?, c.u8()?, c.u8()?];
                Authentication::Md5Password { salt }
            }
            code::SASL => {
                let mut mechanisms = Vec::new();
                loop {
                    let m = c.cstr("SASL mechanism")?;
                    if m.is_empty() {
                        break;
                    }
                    mechanisms.push(m);
                }
                Authentication::Sasl { mechanisms }
            }
            code::SASL_CONTINUE => Authentication::SaslContinue(c.rest()),
            code::SASL_FINAL => Authentication::SaslFinal(c.rest()),
            other => Authentication::Other {
                code: other,
                data: c.rest(),
            },
        };
        c.finish()?;
        Ok(auth)
    }

    /// Appends the framed message. SASL mechanism names are cut at a NUL.
    pub fn encode(&self, out: &mut BytesMut) {
        let at = begin_message(out, AUTHENTICATION);
        match self {
            Authentication::Ok => out.put_i32(code::OK),
            Authentication::CleartextPassword => out.put_i32(code::CLEARTEXT_PASSWORD),
            Authentication::Md5Password { salt } => {
                out.put_i32(code::MD5_PASSWORD);
                out.put_slice(salt);
            }
            Authentication::Sasl { mechanisms } => {
                out.put_i32(code::SASL);
                for m in mechanisms
                    .iter()
                    .filter(|m| !m.is_empty() && !m.starts_with('\0'))
                {
                    put_cstr(out, m);
                }
                out.put_u8(0);
            }
            Authentication::SaslContinue(data) => {
                out.put_i32(code::SASL_CONTINUE);
                out.put_slice(data);
            }
            Authentication::SaslFinal(data) => {
                out.put_i32(code::SASL_FINAL);
                out.put_slice(data);
            }
            Authentication::Other { code, data } => {
                out.put_i32(*code);
                out.put_slice(data);
            }
        }
        finish_message(out, at);
    }
}
