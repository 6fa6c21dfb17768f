//! From TCP accept to an authenticated client that picked a connection.
//!
//! Order of checks, chosen so that nothing tells an attacker which part of
//! their credentials was wrong:
//! 1. SSL negotiation (`SSLRequest` → TLS when configured; `GSSENCRequest`
//!    → refused with `N`, after which clients continue in plain text or
//!    give up, as they choose); a `CancelRequest` is handed to the cancel
//!    registry and the socket closed;
//! 2. the startup packet; replication connections are refused (they would
//!    bypass every SQL decision);
//! 3. off loopback without TLS, the password is not even asked for unless
//!    the operator allowed it;
//! 4. the token (as the password) is checked; a wrong user or token gets
//!    the same `28P01` as PostgreSQL gives;
//! 5. only then is the database name (the connection) looked up: `3D000`.
//!
//! Every refusal is written to the session record and audited
//! (`authentication/session.refused`) before the client is answered.

use crate::catalog::ConnectionEntry;
use crate::pg::FrontDoor;
use crate::pg::reply;
use crate::pg::stream::ClientStream;
use crate::pg::wire::backend::encode;
use crate::pg::wire::framing::{RawMessage, read_message};
use crate::pg::wire::frontend::FrontendMessage;
use crate::pg::wire::frontend::auth::parse_password;
use crate::pg::wire::startup::{StartupPacket, negotiate, read_startup};
use crate::record::SessionEvent;
use bytes::BytesMut;
use gatehouse_runtime::types::Identity;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// Longest a client may take to authenticate.
pub const HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// An authenticated client with its chosen connection.
pub struct Admitted {
    pub stream: ClientStream,
    pub buffer: BytesMut,
    pub identity: Identity,
    pub connection: Arc<ConnectionEntry>,
    /// Startup parameters to pass upstream (user/database removed).
    pub params: Vec<(String, String)>,
}

/// Why the handshake ended without a session (already answered).
pub enum Outcome {
    Admitted(Box<Admitted>),
    /// Cancel request handled, or client went away, or refused.
    Done,
}

pub async fn handshake(
    socket: TcpStream,
    peer: SocketAddr,
    door: &FrontDoor,
) -> anyhow::Result<Outcome> {
    let mut stream = ClientStream::Plain(socket);
    let mut buffer = BytesMut::with_capacity(8 << 10);
    let mut out = BytesMut::new();
    let (version, mut params) = loop {
        let Some(packet) = read_startup(&mut stream, &mut buffer).await? else {
            return Ok(Outcome::Done);
        };
        match packet {
            StartupPacket::SslRequest => match (&door.tls, &stream) {
                (Some(tls), ClientStream::Plain(_)) => {
                    if !buffer.is_empty() {
                        // Bytes sent before the TLS handshake would be
                        // treated as if they had been encrypted.
                        anyhow::bail!("client sent data after SSLRequest before the TLS handshake");
                    }
                    let ClientStream::Plain(tcp) = stream else {
                        unreachable!()
                    };
                    let mut tcp = tcp;
                    tcp.write_all(b"S").await?;
                    let acceptor = tokio_rustls::TlsAcceptor::from(tls.clone());
                    stream = ClientStream::Tls(Box::new(acceptor.accept(tcp).await?));
                }
                _ => stream.write_all(b"N").await?,
            },
            StartupPacket::GssEncRequest => stream.write_all(b"N").await?,
            StartupPacket::Cancel {
                process_id,
                secret_key,
            } => {
                door.cancels.cancel(process_id, secret_key).await;
                return Ok(Outcome::Done);
            }
            StartupPacket::Startup { version, params } => break (version, params),
        }
    };
    if let Some(negotiation) = negotiate(version, &mut params) {
        negotiation.encode(&mut out);
    }
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let user = param("user").unwrap_or_default();
    let database = param("database").unwrap_or_else(|| user.clone());
    let client = peer.to_string();
    let refuse = |reason: String| SessionEvent::Refused {
        client: client.clone(),
        user: user.clone(),
        connection: database.clone(),
        reason,
        at: SystemTime::now(),
    };

    if param("replication").is_some_and(|v| v != "false" && v != "0" && v != "off") {
        reply::fatal(
            &mut out,
            "28000",
            "replication connections are not allowed through Gatehouse",
        );
        door.refuse_login(refuse("replication connection refused".into()), None)
            .await;
        return finish(stream, out).await;
    }
    if !stream.is_tls() && !peer.ip().is_loopback() && !door.allow_plaintext_off_loopback {
        reply::fatal(
            &mut out,
            "28000",
            "connections from other hosts must use TLS (sslmode=require)",
        );
        door.refuse_login(refuse("plaintext connection off loopback".into()), None)
            .await;
        return finish(stream, out).await;
    }

    encode::authentication_cleartext_password(&mut out);
    stream.write_all(&out).await?;
    out.clear();
    let Some(message) = read_message(&mut stream, &mut buffer, 64 << 10).await? else {
        return Ok(Outcome::Done);
    };
    let token = match password_of(&message) {
        Some(token) => token,
        None => {
            reply::fatal(&mut out, "08P01", "expected a password message");
            return finish(stream, out).await;
        }
    };
    let Some(identity) = crate::identity::authenticate(&door.store, &user, &token).await else {
        reply::fatal(
            &mut out,
            "28P01",
            &format!("password authentication failed for user \"{user}\""),
        );
        door.refuse_login(refuse("bad credentials".into()), None)
            .await;
        return finish(stream, out).await;
    };
    let Some(connection) = door.catalog.connection(&database) else {
        reply::fatal(
            &mut out,
            "3D000",
            &format!("database \"{database}\" does not exist"),
        );
        door.refuse_login(refuse("unknown connection".into()), Some(&identity))
            .await;
        return finish(stream, out).await;
    };
    if !out.is_empty() {
        stream.write_all(&out).await?;
    }
    params.retain(|(k, _)| k != "user" && k != "database" && k != "replication");
    Ok(Outcome::Admitted(Box::new(Admitted {
        stream,
        buffer,
        identity,
        connection,
        params,
    })))
}

fn password_of(message: &RawMessage) -> Option<String> {
    match FrontendMessage::decode(message).ok()? {
        FrontendMessage::PasswordMessage(body) => parse_password(&body).ok(),
        _ => None,
    }
}

async fn finish(mut stream: ClientStream, out: BytesMut) -> anyhow::Result<Outcome> {
    stream.write_all(&out).await?;
    let _ = stream.shutdown().await;
    Ok(Outcome::Done)
}
