//! The startup phase: the untagged packets a client sends first
//! (`length: i32`, `code: u32`, then a body), and their encoders for the
//! gateway's own upstream connections.
//!
//! Packets: StartupMessage (code = protocol version, then `name\0value\0`
//! pairs and a final `\0`), SSLRequest, GSSENCRequest and CancelRequest.
//!
//! Invariants:
//! * The length is checked (`8..=`[`MAX_STARTUP_LEN`], and exactly 8 or 16
//!   for the fixed-size requests) before the body is buffered.
//! * Only protocol major version 3 is accepted. A 3.x request with x > 0 (or
//!   with `_pq_.` protocol options) is accepted as a packet; the session then
//!   calls [`negotiate`] and answers NegotiateProtocolVersion, as PostgreSQL
//!   does, and both sides speak 3.0.
//! * Bytes after the packet stay in the buffer. After an SSLRequest or
//!   GSSENCRequest the caller must check that the buffer is empty before the
//!   TLS handshake: bytes sent ahead of it were not encrypted and must not be
//!   treated as part of the secure session (CVE-2021-23214).
//!
//! Failure modes: [`WireError::StartupLength`],
//! [`WireError::UnsupportedProtocol`] (answer with an ErrorResponse from
//! [`WireError::to_error_response`]), [`WireError::UnexpectedEof`], and
//! layout errors for a malformed parameter list. A clean end of stream before
//! any byte is `Ok(None)` (port probes and health checks do that).

use bytes::{BufMut, Bytes, BytesMut};
use tokio::io::AsyncRead;

use super::cursor::{Cursor, check_cstr, put_cstr};
use super::error::WireError;
use super::framing::fill;
use super::tags::startup::{
    CANCEL_REQUEST, GSSENC_REQUEST, NEWEST_MINOR, PROTOCOL_3_0, PROTOCOL_OPTION_PREFIX, SSL_REQUEST,
};

/// The largest startup packet accepted (PostgreSQL's own limit).
pub const MAX_STARTUP_LEN: usize = 10_000;

/// A packet of the startup phase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartupPacket {
    /// StartupMessage: `version` is `major << 16 | minor` (major is always 3).
    Startup {
        version: u32,
        params: Vec<(String, String)>,
    },
    SslRequest,
    GssEncRequest,
    Cancel {
        process_id: i32,
        secret_key: i32,
    },
}

impl StartupPacket {
    /// The value of a startup parameter (`user`, `database`, ...), last one winning.
    pub fn param(&self, name: &str) -> Option<&str> {
        match self {
            StartupPacket::Startup { params, .. } => params
                .iter()
                .rev()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str()),
            _ => None,
        }
    }
}

/// What to answer a client that asked for more than protocol 3.0: the
/// NegotiateProtocolVersion message's fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolNegotiation {
    /// The newest protocol version the server side speaks, as a full version
    /// number (`major << 16 | minor`: 196608 for 3.0). The protocol
    /// documentation calls it the "newest minor version", but PostgreSQL and
    /// libpq put the whole version number in this field.
    pub newest_version: u32,
    /// The `_pq_.` options the client asked for, none of which is supported.
    pub unrecognized_options: Vec<String>,
}

impl ProtocolNegotiation {
    /// Decodes a NegotiateProtocolVersion body (what an upstream server
    /// answers a client asking for more than it speaks).
    pub fn decode(body: &Bytes) -> Result<Self, WireError> {
        const MESSAGE: &str = "NegotiateProtocolVersion";
        let mut c = Cursor::new(body, MESSAGE);
        let newest_version = c.u32()?;
        let n = c.i32()?;
        if n < 0 {
            return Err(WireError::invalid(
                MESSAGE,
                format!("negative option count {n}"),
            ));
        }
        // Each option takes at least its NUL.
        if n as usize > c.remaining() {
            return Err(WireError::Truncated(MESSAGE));
        }
        let mut unrecognized_options = Vec::with_capacity(n as usize);
        for _ in 0..n {
            unrecognized_options.push(c.cstr("option name")?);
        }
        c.finish()?;
        Ok(ProtocolNegotiation {
            newest_version,
            unrecognized_options,
        })
    }

    /// Appends the NegotiateProtocolVersion message.
    pub fn encode(&self, out: &mut BytesMut) {
        let options: Vec<&str> = self
            .unrecognized_options
            .iter()
            .map(String::as_str)
            .collect();
        super::backend::encode::negotiate_protocol_version(out, self.newest_version, &options);
    }
}

/// Decides whether a StartupMessage needs a NegotiateProtocolVersion answer,
/// and removes the `_pq_.` protocol options from `params` (they are not
/// settings and must not be forwarded upstream).
pub fn negotiate(version: u32, params: &mut Vec<(String, String)>) -> Option<ProtocolNegotiation> {
    let mut unrecognized_options = Vec::new();
    params.retain(|(name, _)| {
        let option = name.starts_with(PROTOCOL_OPTION_PREFIX);
        if option {
            unrecognized_options.push(name.clone());
        }
        !option
    });
    let minor = (version & 0xffff) as u16;
    (minor > NEWEST_MINOR || !unrecognized_options.is_empty()).then_some(ProtocolNegotiation {
        newest_version: PROTOCOL_3_0 | u32::from(NEWEST_MINOR),
        unrecognized_options,
    })
}

/// Reads the next startup-phase packet, buffering in `buf` (shared with
/// [`read_message`](super::framing::read_message) afterwards).
pub async fn read_startup<R: AsyncRead + Unpin>(
    reader: &mut R,
    buf: &mut BytesMut,
) -> Result<Option<StartupPacket>, WireError> {
    loop {
        if let Some(packet) = split_startup(buf)? {
            return Ok(Some(packet));
        }
        let expected = pending_len(buf)?.unwrap_or(4);
        if !fill(reader, buf, expected).await? {
            return Ok(None);
        }
    }
}

/// Takes one complete startup packet off the front of `buf`, if it holds one.
pub fn split_startup(buf: &mut BytesMut) -> Result<Option<StartupPacket>, WireError> {
    let Some(total) = pending_len(buf)? else {
        return Ok(None);
    };
    if buf.len() < total {
        return Ok(None);
    }
    let packet = buf.split_to(total).freeze();
    decode_startup(packet.slice(4..)).map(Some)
}

/// The declared length of the packet at the front of `buf`, validated.
fn pending_len(buf: &[u8]) -> Result<Option<usize>, WireError> {
    if buf.len() < 4 {
        return Ok(None);
    }
    let length = i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
    if length < 8 {
        return Err(WireError::StartupLength {
            length,
            expected: "a startup packet is at least 8 bytes",
        });
    }
    if length as usize > MAX_STARTUP_LEN {
        return Err(WireError::StartupLength {
            length,
            expected: "a startup packet is at most 10000 bytes",
        });
    }
    Ok(Some(length as usize))
}

/// Decodes a startup packet from its bytes after the length word.
pub fn decode_startup(body: Bytes) -> Result<StartupPacket, WireError> {
    let length = (body.len() + 4) as i32;
    let mut c = Cursor::new(&body, "startup");
    let code = c.u32()?;
    let fixed = |want: i32, expected| {
        if length == want {
            Ok(())
        } else {
            Err(WireError::StartupLength { length, expected })
        }
    };
    match code {
        SSL_REQUEST => fixed(8, "an SSLRequest is 8 bytes").map(|()| StartupPacket::SslRequest),
        GSSENC_REQUEST => {
            fixed(8, "a GSSENCRequest is 8 bytes").map(|()| StartupPacket::GssEncRequest)
        }
        CANCEL_REQUEST => {
            fixed(16, "a CancelRequest is 16 bytes")?;
            let process_id = c.i32()?;
            let secret_key = c.i32()?;
            Ok(StartupPacket::Cancel {
                process_id,
                secret_key,
            })
        }
        version if version >> 16 == 3 => {
            let mut c = Cursor::new(&body, "StartupMessage");
            c.u32()?;
            let params = decode_params(&mut c)?;
            Ok(StartupPacket::Startup { version, params })
        }
        version => Err(WireError::UnsupportedProtocol {
            major: (version >> 16) as u16,
            minor: (version & 0xffff) as u16,
        }),
    }
}

/// `name\0value\0` pairs up to an empty name, which must be the last byte.
fn decode_params(c: &mut Cursor<'_>) -> Result<Vec<(String, String)>, WireError> {
    let mut params = Vec::new();
    loop {
        let name = c.cstr("parameter name")?;
        if name.is_empty() {
            break;
        }
        let value = c.cstr("parameter value")?;
        params.push((name, value));
    }
    match c.remaining() {
        0 => Ok(params),
        count => Err(WireError::TrailingBytes {
            message: "StartupMessage",
            count,
        }),
    }
}

/// Appends a protocol 3.0 StartupMessage with `params` (`user` is required by
/// servers; `database` defaults to it). Refuses a name or value with a NUL
/// byte, and an empty name (it would end the list early).
pub fn encode_startup(out: &mut BytesMut, params: &[(&str, &str)]) -> Result<(), WireError> {
    for (name, value) in params {
        if name.is_empty() {
            return Err(WireError::invalid("StartupMessage", "empty parameter name"));
        }
        check_cstr("StartupMessage", "parameter name", name)?;
        check_cstr("StartupMessage", "parameter value", value)?;
    }
    let at = out.len();
    out.put_i32(0);
    out.put_u32(PROTOCOL_3_0);
    for (name, value) in params {
        put_cstr(out, name);
        put_cstr(out, value);
    }
    out.put_u8(0);
    let len = out.len() - at;
    if len > MAX_STARTUP_LEN {
        out.truncate(at);
        return Err(WireError::StartupLength {
            length: len as i32,
            expected: "a startup packet is at most 10000 bytes",
        });
    }
    out[at..at + 4].copy_from_slice(&(len as i32).to_be_bytes());
    Ok(())
}

/// Appends an SSLRequest.
pub fn encode_ssl_request(out: &mut BytesMut) {
    out.put_i32(8);
    out.put_u32(SSL_REQUEST);
}

/// Appends a GSSENCRequest.
pub fn encode_gssenc_request(out: &mut BytesMut) {
    out.put_i32(8);
    out.put_u32(GSSENC_REQUEST);
}

/// Appends a CancelRequest for the backend `process_id` with its `secret_key`.
pub fn encode_cancel(out: &mut BytesMut, process_id: i32, secret_key: i32) {
    out.put_i32(16);
    out.put_u32(CANCEL_REQUEST);
    out.put_i32(process_id);
    out.put_i32(secret_key);
}
