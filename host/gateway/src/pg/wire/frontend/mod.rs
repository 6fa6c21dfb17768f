//! Messages a client sends after the startup phase, decoded from a
//! [`RawMessage`] and encoded again for the upstream server.
//!
//! Invariants:
//! * [`FrontendMessage::decode`] reads the whole body: a missing field is
//!   [`WireError::Truncated`], extra bytes are [`WireError::TrailingBytes`],
//!   and counts are checked against the remaining bytes before allocating.
//! * Bind parameters and CopyData are zero-copy slices of the read buffer.
//! * Text fields must be UTF-8 ([`WireError::InvalidUtf8`]): the gateway
//!   speaks `client_encoding` UTF8, the encoding plugins see.
//! * [`FrontendMessage::encode`] refuses (and writes nothing) rather than
//!   send a string with a NUL byte, which the server would read as a shorter
//!   SQL text or name.
//! * `'p'` messages (password, SASL) stay raw bytes: which one it is depends
//!   on the authentication exchange; [`auth`] parses each kind.
//!
//! Failure modes: [`WireError::UnknownFrontendTag`] for a tag protocol 3.0
//! does not define, and the body errors above.

pub mod auth;

use bytes::{BufMut, Bytes, BytesMut};

use super::cursor::{Cursor, begin_message, check_count, check_cstr, finish_message, put_cstr};
use super::error::WireError;
use super::framing::RawMessage;
use super::tags::{frontend as tag, target};

/// What a Describe or Close refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    Statement,
    Portal,
}

impl Target {
    fn decode(byte: u8, message: &'static str) -> Result<Self, WireError> {
        match byte {
            target::STATEMENT => Ok(Target::Statement),
            target::PORTAL => Ok(Target::Portal),
            other => Err(WireError::invalid(
                message,
                format!(
                    "unknown target {} (expected 'S' or 'P')",
                    super::error::show_tag(other)
                ),
            )),
        }
    }

    fn byte(self) -> u8 {
        match self {
            Target::Statement => target::STATEMENT,
            Target::Portal => target::PORTAL,
        }
    }
}

/// A client-to-server message of protocol 3.0 (after startup).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrontendMessage {
    Query {
        sql: String,
    },
    Parse {
        statement: String,
        sql: String,
        param_types: Vec<u32>,
    },
    Bind {
        portal: String,
        statement: String,
        param_formats: Vec<i16>,
        /// One per parameter; `None` is SQL NULL. Slices of the read buffer.
        params: Vec<Option<Bytes>>,
        result_formats: Vec<i16>,
    },
    Describe {
        target: Target,
        name: String,
    },
    Execute {
        portal: String,
        max_rows: i32,
    },
    Close {
        target: Target,
        name: String,
    },
    Sync,
    Flush,
    Terminate,
    CopyData(Bytes),
    CopyDone,
    CopyFail {
        message: String,
    },
    /// PasswordMessage, SASLInitialResponse, SASLResponse or GSSResponse
    /// (all tag `'p'`): parse with the functions of [`auth`].
    PasswordMessage(Bytes),
    /// The legacy function-call sub-protocol, relayed as is.
    FunctionCall(Bytes),
}

impl FrontendMessage {
    /// The message's name as in the protocol documentation.
    pub fn name(&self) -> &'static str {
        match self {
            FrontendMessage::Query { .. } => "Query",
            FrontendMessage::Parse { .. } => "Parse",
            FrontendMessage::Bind { .. } => "Bind",
            FrontendMessage::Describe { .. } => "Describe",
            FrontendMessage::Execute { .. } => "Execute",
            FrontendMessage::Close { .. } => "Close",
            FrontendMessage::Sync => "Sync",
            FrontendMessage::Flush => "Flush",
            FrontendMessage::Terminate => "Terminate",
            FrontendMessage::CopyData(_) => "CopyData",
            FrontendMessage::CopyDone => "CopyDone",
            FrontendMessage::CopyFail { .. } => "CopyFail",
            FrontendMessage::PasswordMessage(_) => "PasswordMessage",
            FrontendMessage::FunctionCall(_) => "FunctionCall",
        }
    }

    /// The message's tag byte.
    pub fn tag(&self) -> u8 {
        match self {
            FrontendMessage::Query { .. } => tag::QUERY,
            FrontendMessage::Parse { .. } => tag::PARSE,
            FrontendMessage::Bind { .. } => tag::BIND,
            FrontendMessage::Describe { .. } => tag::DESCRIBE,
            FrontendMessage::Execute { .. } => tag::EXECUTE,
            FrontendMessage::Close { .. } => tag::CLOSE,
            FrontendMessage::Sync => tag::SYNC,
            FrontendMessage::Flush => tag::FLUSH,
            FrontendMessage::Terminate => tag::TERMINATE,
            FrontendMessage::CopyData(_) => tag::COPY_DATA,
            FrontendMessage::CopyDone => tag::COPY_DONE,
            FrontendMessage::CopyFail { .. } => tag::COPY_FAIL,
            FrontendMessage::PasswordMessage(_) => tag::PASSWORD,
            FrontendMessage::FunctionCall(_) => tag::FUNCTION_CALL,
        }
    }

    /// Decodes one framed message.
    pub fn decode(raw: &RawMessage) -> Result<Self, WireError> {
        let body = &raw.body;
        let message = match raw.tag {
            tag::QUERY => {
                let mut c = Cursor::new(body, "Query");
                let sql = c.cstr("query string")?;
                c.finish()?;
                FrontendMessage::Query { sql }
            }
            tag::PARSE => decode_parse(body)?,
            tag::BIND => decode_bind(body)?,
            tag::DESCRIBE | tag::CLOSE => {
                let name = if raw.tag == tag::DESCRIBE {
                    "Describe"
                } else {
                    "Close"
                };
                let mut c = Cursor::new(body, name);
                let target = Target::decode(c.u8()?, name)?;
                let object = c.cstr("name")?;
                c.finish()?;
                if raw.tag == tag::DESCRIBE {
                    FrontendMessage::Describe {
                        target,
                        name: object,
                    }
                } else {
                    FrontendMessage::Close {
                        target,
                        name: object,
                    }
                }
            }
            tag::EXECUTE => {
                let mut c = Cursor::new(body, "Execute");
                let portal = c.cstr("portal name")?;
                let max_rows = c.i32()?;
                c.finish()?;
                FrontendMessage::Execute { portal, max_rows }
            }
            tag::SYNC => empty(body, "Sync", FrontendMessage::Sync)?,
            tag::FLUSH => empty(body, "Flush", FrontendMessage::Flush)?,
            tag::TERMINATE => empty(body, "Terminate", FrontendMessage::Terminate)?,
            tag::COPY_DONE => empty(body, "CopyDone", FrontendMessage::CopyDone)?,
            tag::COPY_DATA => FrontendMessage::CopyData(body.clone()),
            tag::COPY_FAIL => {
                let mut c = Cursor::new(body, "CopyFail");
                let message = c.cstr_lossy("error message")?;
                c.finish()?;
                FrontendMessage::CopyFail { message }
            }
            tag::PASSWORD => FrontendMessage::PasswordMessage(body.clone()),
            tag::FUNCTION_CALL => FrontendMessage::FunctionCall(body.clone()),
            other => return Err(WireError::UnknownFrontendTag(other)),
        };
        Ok(message)
    }

    /// Appends the framed message to `out`.
    ///
    /// Refuses a string field with a NUL byte, or more than 32767 elements in
    /// a list, leaving `out` as it was.
    pub fn encode(&self, out: &mut BytesMut) -> Result<(), WireError> {
        let start = out.len();
        let result = self.encode_unchecked(out);
        if result.is_err() {
            out.truncate(start);
        }
        result
    }

    fn encode_unchecked(&self, out: &mut BytesMut) -> Result<(), WireError> {
        let at = begin_message(out, self.tag());
        match self {
            FrontendMessage::Query { sql } => cstr(out, "Query", "query string", sql)?,
            FrontendMessage::Parse {
                statement,
                sql,
                param_types,
            } => {
                cstr(out, "Parse", "statement name", statement)?;
                cstr(out, "Parse", "query string", sql)?;
                out.put_i16(check_count("Parse", "parameter types", param_types.len())?);
                for t in param_types {
                    out.put_u32(*t);
                }
            }
            FrontendMessage::Bind {
                portal,
                statement,
                param_formats,
                params,
                result_formats,
            } => {
                cstr(out, "Bind", "portal name", portal)?;
                cstr(out, "Bind", "statement name", statement)?;
                out.put_i16(check_count(
                    "Bind",
                    "parameter formats",
                    param_formats.len(),
                )?);
                for f in param_formats {
                    out.put_i16(*f);
                }
                out.put_i16(check_count("Bind", "parameters", params.len())?);
                for p in params {
                    match p {
                        None => out.put_i32(-1),
                        Some(v) => {
                            let len = i32::try_from(v.len()).map_err(|_| {
                                WireError::invalid("Bind", "parameter over i32::MAX bytes")
                            })?;
                            out.put_i32(len);
                            out.put_slice(v);
                        }
                    }
                }
                out.put_i16(check_count("Bind", "result formats", result_formats.len())?);
                for f in result_formats {
                    out.put_i16(*f);
                }
            }
            FrontendMessage::Describe { target, name } => {
                out.put_u8(target.byte());
                cstr(out, "Describe", "name", name)?;
            }
            FrontendMessage::Close { target, name } => {
                out.put_u8(target.byte());
                cstr(out, "Close", "name", name)?;
            }
            FrontendMessage::Execute { portal, max_rows } => {
                cstr(out, "Execute", "portal name", portal)?;
                out.put_i32(*max_rows);
            }
            FrontendMessage::Sync
            | FrontendMessage::Flush
            | FrontendMessage::Terminate
            | FrontendMessage::CopyDone => {}
            FrontendMessage::CopyData(data)
            | FrontendMessage::PasswordMessage(data)
            | FrontendMessage::FunctionCall(data) => out.put_slice(data),
            FrontendMessage::CopyFail { message } => put_cstr(out, message),
        }
        finish_message(out, at);
        Ok(())
    }
}

/// A string the server must read back unchanged: refused if it has a NUL.
fn cstr(
    out: &mut BytesMut,
    message: &'static str,
    field: &'static str,
    s: &str,
) -> Result<(), WireError> {
    check_cstr(message, field, s)?;
    put_cstr(out, s);
    Ok(())
}

fn empty(
    body: &Bytes,
    name: &'static str,
    message: FrontendMessage,
) -> Result<FrontendMessage, WireError> {
    Cursor::new(body, name).finish().map(|()| message)
}

fn decode_parse(body: &Bytes) -> Result<FrontendMessage, WireError> {
    let mut c = Cursor::new(body, "Parse");
    let statement = c.cstr("statement name")?;
    let sql = c.cstr("query string")?;
    let n = c.count("parameter type", 4)?;
    let mut param_types = Vec::with_capacity(n);
    for _ in 0..n {
        param_types.push(c.u32()?);
    }
    c.finish()?;
    Ok(FrontendMessage::Parse {
        statement,
        sql,
        param_types,
    })
}

fn decode_bind(body: &Bytes) -> Result<FrontendMessage, WireError> {
    let mut c = Cursor::new(body, "Bind");
    let portal = c.cstr("portal name")?;
    let statement = c.cstr("statement name")?;
    let param_formats = i16s(&mut c, "parameter format")?;
    let n = c.count("parameter", 4)?;
    let mut params = Vec::with_capacity(n);
    for _ in 0..n {
        params.push(c.nullable_bytes("parameter")?);
    }
    let result_formats = i16s(&mut c, "result format")?;
    c.finish()?;
    Ok(FrontendMessage::Bind {
        portal,
        statement,
        param_formats,
        params,
        result_formats,
    })
}

/// An Int16 count and that many Int16 values.
fn i16s(c: &mut Cursor<'_>, field: &'static str) -> Result<Vec<i16>, WireError> {
    let n = c.count(field, 2)?;
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        v.push(c.i16()?);
    }
    Ok(v)
}
