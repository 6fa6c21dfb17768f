//! The little framing the login needs: read one backend message (decoded by
//! `postgres-protocol`), write an encoded frontend message, turn an
//! ErrorResponse into [`UpstreamError::Server`].

use bytes::BytesMut;
use fallible_iterator::FallibleIterator;
use postgres_protocol::message::backend::{ErrorResponseBody, Message};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::error::UpstreamError;

/// Largest message accepted during login. Real ones (ErrorResponse,
/// ParameterStatus, SASL challenges) are far smaller; the cap stops a hostile
/// or confused peer from making the gateway buffer gigabytes.
pub(super) const MAX_LOGIN_MESSAGE: usize = 1 << 20;

/// NegotiateProtocolVersion: the server's answer to a minor version or `_pq_`
/// option it does not know; `postgres-protocol` does not decode it.
const NEGOTIATE_PROTOCOL_VERSION_TAG: u8 = b'v';

/// Reads the next backend message, keeping any bytes past it in `buf`.
/// NegotiateProtocolVersion is informational and skipped.
pub(super) async fn read_message<S>(
    stream: &mut S,
    buf: &mut BytesMut,
) -> Result<Message, UpstreamError>
where
    S: AsyncRead + Unpin,
{
    loop {
        if buf.len() >= 5 {
            let len = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize;
            if !(4..=MAX_LOGIN_MESSAGE).contains(&len) {
                return Err(UpstreamError::Protocol(format!(
                    "message of type {:?} with invalid length {len}",
                    char::from(buf[0])
                )));
            }
            if buf[0] == NEGOTIATE_PROTOCOL_VERSION_TAG && buf.len() > len {
                let _ = buf.split_to(len + 1);
                tracing::debug!("upstream sent NegotiateProtocolVersion; continuing with 3.0");
                continue;
            }
        }
        if buf[..].first() != Some(&NEGOTIATE_PROTOCOL_VERSION_TAG) {
            match Message::parse(buf) {
                Ok(Some(message)) => return Ok(message),
                Ok(None) => {}
                Err(e) => return Err(UpstreamError::Protocol(format!("malformed message: {e}"))),
            }
        }
        let read = stream.read_buf(buf).await.map_err(UpstreamError::Io)?;
        if read == 0 {
            return Err(UpstreamError::Protocol(
                "server closed the connection during login".into(),
            ));
        }
    }
}

/// Writes and flushes `buf`, then clears it.
pub(super) async fn send<S>(stream: &mut S, buf: &mut BytesMut) -> Result<(), UpstreamError>
where
    S: AsyncWrite + Unpin,
{
    stream.write_all(buf).await.map_err(UpstreamError::Io)?;
    stream.flush().await.map_err(UpstreamError::Io)?;
    buf.clear();
    Ok(())
}

/// Like [`send`], but overwrites the buffer afterwards: for messages that
/// carry a password or a value derived from it (best effort; the password
/// itself lives on in the config).
pub(super) async fn send_secret<S>(stream: &mut S, buf: &mut BytesMut) -> Result<(), UpstreamError>
where
    S: AsyncWrite + Unpin,
{
    let result = async {
        stream.write_all(buf).await?;
        stream.flush().await
    }
    .await;
    buf.iter_mut().for_each(|b| *b = 0);
    buf.clear();
    result.map_err(UpstreamError::Io)
}

/// The SQLSTATE and primary message of an ErrorResponse.
pub(super) fn server_error(body: &ErrorResponseBody) -> UpstreamError {
    let mut code = String::new();
    let mut message = String::new();
    let mut fields = body.fields();
    while let Ok(Some(field)) = fields.next() {
        match field.type_() {
            b'C' => code = String::from_utf8_lossy(field.value_bytes()).into_owned(),
            b'M' => message = String::from_utf8_lossy(field.value_bytes()).into_owned(),
            _ => {}
        }
    }
    if code.is_empty() {
        code.push_str("XX000");
    }
    UpstreamError::Server { code, message }
}

/// An ErrorResponse becomes the server error; anything else a protocol
/// violation naming what was expected.
pub(super) fn unexpected(message: Message, expected: &str) -> UpstreamError {
    match message {
        Message::ErrorResponse(body) => server_error(&body),
        other => UpstreamError::Protocol(format!("unexpected {} during {expected}", name(&other))),
    }
}

/// A readable name for a backend message (never its contents).
pub(super) fn name(message: &Message) -> &'static str {
    match message {
        Message::AuthenticationCleartextPassword => "AuthenticationCleartextPassword",
        Message::AuthenticationGss => "AuthenticationGSS",
        Message::AuthenticationKerberosV5 => "AuthenticationKerberosV5",
        Message::AuthenticationMd5Password(_) => "AuthenticationMD5Password",
        Message::AuthenticationOk => "AuthenticationOk",
        Message::AuthenticationScmCredential => "AuthenticationSCMCredential",
        Message::AuthenticationSspi => "AuthenticationSSPI",
        Message::AuthenticationGssContinue(_) => "AuthenticationGSSContinue",
        Message::AuthenticationSasl(_) => "AuthenticationSASL",
        Message::AuthenticationSaslContinue(_) => "AuthenticationSASLContinue",
        Message::AuthenticationSaslFinal(_) => "AuthenticationSASLFinal",
        Message::BackendKeyData(_) => "BackendKeyData",
        Message::ErrorResponse(_) => "ErrorResponse",
        Message::NoticeResponse(_) => "NoticeResponse",
        Message::ParameterStatus(_) => "ParameterStatus",
        Message::ReadyForQuery(_) => "ReadyForQuery",
        _ => "message",
    }
}
