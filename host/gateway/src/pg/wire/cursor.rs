//! Bounds-checked reading of one message body, and the writing helpers every
//! encoder shares.
//!
//! Invariants:
//! * A [`Cursor`] never reads past its body: every read checks the remaining
//!   length first and returns [`WireError::Truncated`] naming the message.
//! * Counts read from the wire are checked against the bytes that remain
//!   ([`Cursor::count`]) before anything is allocated for them, so a peer
//!   cannot make the gateway reserve memory its message does not contain.
//! * Byte fields are zero-copy slices of the body ([`Bytes::slice`]).
//! * Writers cut a string at its first NUL byte ([`put_cstr`]): an encoded
//!   string can never end early and shift the fields after it. Encoders for
//!   which a cut would change meaning (SQL, credentials) check first with
//!   [`check_cstr`] and refuse instead.

use bytes::{BufMut, Bytes, BytesMut};

use super::error::WireError;

/// Reads the fields of one message body in order.
pub(crate) struct Cursor<'a> {
    body: &'a Bytes,
    pos: usize,
    /// The message's name, for errors.
    message: &'static str,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(body: &'a Bytes, message: &'static str) -> Self {
        Cursor {
            body,
            pos: 0,
            message,
        }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.body.len() - self.pos
    }

    fn take_slice(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        if n > self.remaining() {
            return Err(WireError::Truncated(self.message));
        }
        let s = &self.body[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take_slice(N)?);
        Ok(a)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.array::<1>()?[0])
    }

    pub(crate) fn i16(&mut self) -> Result<i16, WireError> {
        Ok(i16::from_be_bytes(self.array()?))
    }

    pub(crate) fn i32(&mut self) -> Result<i32, WireError> {
        Ok(i32::from_be_bytes(self.array()?))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, WireError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    /// `n` bytes as a zero-copy slice of the body.
    pub(crate) fn bytes(&mut self, n: usize) -> Result<Bytes, WireError> {
        if n > self.remaining() {
            return Err(WireError::Truncated(self.message));
        }
        let b = self.body.slice(self.pos..self.pos + n);
        self.pos += n;
        Ok(b)
    }

    /// Everything left, as a zero-copy slice.
    pub(crate) fn rest(&mut self) -> Bytes {
        let b = self.body.slice(self.pos..);
        self.pos = self.body.len();
        b
    }

    /// A NUL-terminated string's bytes (without the NUL).
    pub(crate) fn cstr_bytes(&mut self, field: &'static str) -> Result<&'a [u8], WireError> {
        let rest = &self.body[self.pos..];
        let Some(end) = memchr::memchr(0, rest) else {
            return Err(WireError::MissingNul {
                message: self.message,
                field,
            });
        };
        self.pos += end + 1;
        Ok(&rest[..end])
    }

    /// A NUL-terminated UTF-8 string.
    pub(crate) fn cstr(&mut self, field: &'static str) -> Result<String, WireError> {
        let message = self.message;
        let raw = self.cstr_bytes(field)?;
        std::str::from_utf8(raw)
            .map(str::to_owned)
            .map_err(|_| WireError::InvalidUtf8 { message, field })
    }

    /// A NUL-terminated string, invalid UTF-8 replaced (for diagnostic text only).
    pub(crate) fn cstr_lossy(&mut self, field: &'static str) -> Result<String, WireError> {
        Ok(String::from_utf8_lossy(self.cstr_bytes(field)?).into_owned())
    }

    /// An Int16 count of elements each at least `min_size` bytes long, checked
    /// against the bytes that remain before the caller allocates for it.
    pub(crate) fn count(
        &mut self,
        field: &'static str,
        min_size: usize,
    ) -> Result<usize, WireError> {
        let n = self.i16()?;
        if n < 0 {
            return Err(WireError::invalid(
                self.message,
                format!("negative {field} count {n}"),
            ));
        }
        let n = n as usize;
        if n * min_size > self.remaining() {
            return Err(WireError::Truncated(self.message));
        }
        Ok(n)
    }

    /// An Int32 length-prefixed value: `None` for -1 (NULL), the bytes otherwise.
    pub(crate) fn nullable_bytes(
        &mut self,
        field: &'static str,
    ) -> Result<Option<Bytes>, WireError> {
        match self.i32()? {
            -1 => Ok(None),
            n if n < 0 => Err(WireError::invalid(
                self.message,
                format!("{field} length {n} is below -1"),
            )),
            n => self.bytes(n as usize).map(Some),
        }
    }

    /// Checks that the whole body was read.
    pub(crate) fn finish(self) -> Result<(), WireError> {
        match self.remaining() {
            0 => Ok(()),
            count => Err(WireError::TrailingBytes {
                message: self.message,
                count,
            }),
        }
    }
}

/// Starts a tagged message: writes the tag and a placeholder length, and
/// returns where the length goes (for [`finish_message`]).
pub(crate) fn begin_message(out: &mut BytesMut, tag: u8) -> usize {
    out.put_u8(tag);
    let at = out.len();
    out.put_i32(0);
    at
}

/// Fills in the length of a message started at `at`.
///
/// # Panics
/// If the message is over `i32::MAX` bytes, which no message the gateway
/// builds can reach (inputs are bounded far below it): writing it would
/// corrupt the stream.
pub(crate) fn finish_message(out: &mut BytesMut, at: usize) {
    let len = out.len() - at;
    let len = i32::try_from(len).expect("a PostgreSQL message cannot exceed i32::MAX bytes");
    out[at..at + 4].copy_from_slice(&len.to_be_bytes());
}

/// Writes `s` and a NUL, cut at the first NUL of `s` (see the module docs).
pub(crate) fn put_cstr(out: &mut BytesMut, s: &str) {
    let b = s.as_bytes();
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    out.put_slice(&b[..end]);
    out.put_u8(0);
}

/// Refuses a string that would be cut by [`put_cstr`].
pub(crate) fn check_cstr(
    message: &'static str,
    field: &'static str,
    s: &str,
) -> Result<(), WireError> {
    if s.as_bytes().contains(&0) {
        Err(WireError::InteriorNul { message, field })
    } else {
        Ok(())
    }
}

/// Writes an Int16 count, refusing more than the protocol can carry.
pub(crate) fn check_count(
    message: &'static str,
    field: &'static str,
    n: usize,
) -> Result<i16, WireError> {
    i16::try_from(n).map_err(|_| {
        WireError::invalid(message, format!("{n} {field} exceed the protocol's 32767"))
    })
}
