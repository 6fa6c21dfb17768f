//! Splitting a byte stream into tagged messages: `tag: u8`, `length: i32`
//! (big-endian, counting itself but not the tag), then `length - 4` body bytes.
//!
//! Invariants:
//! * A message's declared length is checked (`4 <= length <= max_len`)
//!   before any memory is reserved for its body, and the buffer grows in
//!   steps of at most [`READ_CHUNK`] as bytes actually arrive, so a peer that
//!   announces a large message without sending it costs nothing. Reads ask
//!   for at least [`MIN_READ`] bytes, so bytes after the current message may
//!   be buffered: they stay in `buf` for the next call.
//! * [`RawMessage::body`] is a zero-copy slice of the read buffer.
//! * [`read_message`] keeps all its state in the caller's `BytesMut`, so it is
//!   cancel-safe (usable in `tokio::select!`): bytes read before a
//!   cancellation stay in the buffer for the next call.
//!
//! Failure modes: [`WireError::LengthTooShort`], [`WireError::TooLarge`],
//! [`WireError::UnexpectedEof`] when the stream ends part way through a
//! message, [`WireError::Io`]. A clean end of stream between messages is
//! `Ok(None)`.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};

use super::cursor::{begin_message, finish_message};
use super::error::WireError;

/// The default `max_len` for [`read_message`]: 64 MiB, far above any message
/// a client sends for a query and below anything that would strain the host.
pub const DEFAULT_MAX_MESSAGE_LEN: usize = 64 << 20;

/// The most [`read_message`] reserves in the buffer before bytes arrive.
pub const READ_CHUNK: usize = 64 << 10;

/// The least room a read asks for, so a stream of small messages (DataRows)
/// is read many messages per system call rather than one header at a time.
pub const MIN_READ: usize = 8 << 10;

/// Tag byte plus length field.
const HEADER_LEN: usize = 5;

/// One message as framed on the wire, not yet decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawMessage {
    /// The message type byte.
    pub tag: u8,
    /// The body, without tag and length.
    pub body: Bytes,
}

impl RawMessage {
    pub fn new(tag: u8, body: impl Into<Bytes>) -> Self {
        RawMessage {
            tag,
            body: body.into(),
        }
    }

    /// Appends this message, framed, to `out` (a relay writes what it read).
    pub fn encode(&self, out: &mut BytesMut) {
        write_message(out, self.tag, &self.body);
    }
}

/// Takes one complete message off the front of `buf`, if it holds one.
///
/// `Ok(None)` means more bytes are needed; the buffer is left untouched.
pub fn split_message(buf: &mut BytesMut, max_len: usize) -> Result<Option<RawMessage>, WireError> {
    let Some(total) = pending_len(buf, max_len)? else {
        return Ok(None);
    };
    if buf.len() < total {
        return Ok(None);
    }
    let mut frame = buf.split_to(total).freeze();
    let tag = frame[0];
    frame.advance(HEADER_LEN);
    Ok(Some(RawMessage { tag, body: frame }))
}

/// The full size (tag included) of the message at the front of `buf`, once
/// its header is there; validates the length field.
fn pending_len(buf: &[u8], max_len: usize) -> Result<Option<usize>, WireError> {
    if buf.len() < HEADER_LEN {
        return Ok(None);
    }
    let length = i32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]);
    if length < 4 {
        return Err(WireError::LengthTooShort(length));
    }
    if length as u64 > max_len as u64 {
        return Err(WireError::TooLarge {
            length: length as u64,
            max: max_len,
        });
    }
    Ok(Some(1 + length as usize))
}

/// Reads the next message from `reader`, buffering in `buf`.
///
/// Returns `Ok(None)` on a clean end of stream between messages. Bytes after
/// the returned message stay in `buf` for the next call.
pub async fn read_message<R: AsyncRead + Unpin>(
    reader: &mut R,
    buf: &mut BytesMut,
    max_len: usize,
) -> Result<Option<RawMessage>, WireError> {
    loop {
        if let Some(message) = split_message(buf, max_len)? {
            return Ok(Some(message));
        }
        let expected = pending_len(buf, max_len)?.unwrap_or(HEADER_LEN);
        if !fill(reader, buf, expected).await? {
            return Ok(None);
        }
    }
}

/// Reads more bytes towards a frame of `expected` bytes. Returns `false` on
/// a clean end of stream (nothing of a frame buffered); an end of stream part
/// way through a frame is [`WireError::UnexpectedEof`].
pub(crate) async fn fill<R: AsyncRead + Unpin>(
    reader: &mut R,
    buf: &mut BytesMut,
    expected: usize,
) -> Result<bool, WireError> {
    let missing = expected.saturating_sub(buf.len());
    buf.reserve(missing.clamp(MIN_READ, READ_CHUNK));
    let n = reader.read_buf(buf).await?;
    if n > 0 {
        return Ok(true);
    }
    if buf.is_empty() {
        return Ok(false);
    }
    Err(WireError::UnexpectedEof {
        got: buf.len(),
        expected,
    })
}

/// Appends one framed message to `out`.
///
/// # Panics
/// If `body` is over `i32::MAX - 4` bytes (a length the protocol cannot
/// express; nothing the gateway reads can reach it).
pub fn write_message(out: &mut BytesMut, tag: u8, body: &[u8]) {
    out.reserve(HEADER_LEN + body.len());
    let at = begin_message(out, tag);
    out.put_slice(body);
    finish_message(out, at);
}
