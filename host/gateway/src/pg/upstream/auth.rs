//! The startup exchange: StartupMessage, authentication, then ParameterStatus
//! and BackendKeyData up to the first ReadyForQuery.
//!
//! Authentication is a small state machine: the server may ask for nothing
//! (trust), a cleartext password, an md5 digest, or SCRAM-SHA-256. With SCRAM
//! the server must also prove it knows the password (the SASLFinal signature
//! is checked) before AuthenticationOk is accepted, so a server that skips the
//! proof is refused.

use bytes::BytesMut;
use fallible_iterator::FallibleIterator;
use postgres_protocol::authentication::md5_hash;
use postgres_protocol::authentication::sasl::{
    ChannelBinding, SCRAM_SHA_256, SCRAM_SHA_256_PLUS, ScramSha256,
};
use postgres_protocol::message::backend::Message;
use postgres_protocol::message::frontend;

use super::UpstreamConnection;
use super::config::UpstreamConfig;
use super::error::UpstreamError;
use super::frame;
use super::stream::UpstreamStream;

/// Startup parameters the gateway decides itself; a client's value is dropped.
fn reserved(name: &str) -> bool {
    name.eq_ignore_ascii_case("user")
        || name.eq_ignore_ascii_case("database")
        || name.eq_ignore_ascii_case("replication")
        || name.starts_with("_pq_.")
}

/// Encodes the StartupMessage for `config`.
pub(super) fn startup_message(
    config: &UpstreamConfig,
    buf: &mut BytesMut,
) -> Result<(), UpstreamError> {
    let mut params: Vec<(&str, &str)> = vec![
        ("user", config.user.as_str()),
        ("database", config.database.as_str()),
    ];
    params.extend(
        config
            .startup_params
            .iter()
            .filter(|(name, _)| !name.is_empty() && !reserved(name))
            .map(|(name, value)| (name.as_str(), value.as_str())),
    );
    frontend::startup_message(params, buf).map_err(|_| {
        UpstreamError::Config("a startup parameter name or value contains a NUL byte".into())
    })
}

/// Runs the login on an established stream.
pub(super) async fn login(
    mut stream: UpstreamStream,
    config: &UpstreamConfig,
) -> Result<UpstreamConnection, UpstreamError> {
    let mut out = BytesMut::with_capacity(256);
    startup_message(config, &mut out)?;
    frame::send(&mut stream, &mut out).await?;

    let mut buf = BytesMut::with_capacity(8 * 1024);
    authenticate(&mut stream, &mut buf, config).await?;

    let mut parameters = Vec::new();
    let mut key = None;
    loop {
        match frame::read_message(&mut stream, &mut buf).await? {
            Message::ParameterStatus(body) => {
                let name = body.name().map_err(protocol)?.to_owned();
                let value = body.value().map_err(protocol)?.to_owned();
                match parameters.iter_mut().find(|(n, _)| *n == name) {
                    Some(slot) => slot.1 = value,
                    None => parameters.push((name, value)),
                }
            }
            Message::BackendKeyData(body) => key = Some((body.process_id(), body.secret_key())),
            Message::NoticeResponse(_) => {
                tracing::debug!("upstream sent a notice during startup");
            }
            Message::ReadyForQuery(body) => {
                let (process_id, secret_key) = key.unwrap_or((0, 0));
                return Ok(UpstreamConnection {
                    stream,
                    parameters,
                    process_id,
                    secret_key,
                    transaction_status: body.status(),
                    read_buffer: buf,
                });
            }
            other => return Err(frame::unexpected(other, "startup")),
        }
    }
}

fn protocol(e: std::io::Error) -> UpstreamError {
    UpstreamError::Protocol(format!("malformed message: {e}"))
}

/// Answers the server's authentication requests until AuthenticationOk.
async fn authenticate(
    stream: &mut UpstreamStream,
    buf: &mut BytesMut,
    config: &UpstreamConfig,
) -> Result<(), UpstreamError> {
    let mut out = BytesMut::with_capacity(256);
    match frame::read_message(stream, buf).await? {
        Message::AuthenticationOk => {
            tracing::debug!("upstream accepted the login without a password");
            return Ok(());
        }
        Message::AuthenticationCleartextPassword => {
            let password = password(config)?;
            frontend::password_message(password.as_bytes(), &mut out)
                .map_err(|_| UpstreamError::Config("the password contains a NUL byte".into()))?;
            frame::send_secret(stream, &mut out).await?;
        }
        Message::AuthenticationMd5Password(body) => {
            let password = password(config)?;
            let hash = md5_hash(config.user.as_bytes(), password.as_bytes(), body.salt());
            frontend::password_message(hash.as_bytes(), &mut out)
                .map_err(|_| UpstreamError::Config("the password contains a NUL byte".into()))?;
            drop(hash);
            frame::send_secret(stream, &mut out).await?;
        }
        Message::AuthenticationSasl(body) => {
            let mut mechanisms = Vec::new();
            let mut iter = body.mechanisms();
            while let Some(mechanism) = iter.next().map_err(protocol)? {
                mechanisms.push(mechanism.to_owned());
            }
            return scram(stream, buf, config, &mechanisms).await;
        }
        Message::AuthenticationGss | Message::AuthenticationGssContinue(_) => {
            return Err(UpstreamError::UnsupportedAuth("GSSAPI".into()));
        }
        Message::AuthenticationSspi => return Err(UpstreamError::UnsupportedAuth("SSPI".into())),
        Message::AuthenticationKerberosV5 => {
            return Err(UpstreamError::UnsupportedAuth("Kerberos V5".into()));
        }
        Message::AuthenticationScmCredential => {
            return Err(UpstreamError::UnsupportedAuth("SCM credentials".into()));
        }
        other => return Err(frame::unexpected(other, "authentication")),
    }
    // After a password message the only good answer is AuthenticationOk.
    match frame::read_message(stream, buf).await? {
        Message::AuthenticationOk => Ok(()),
        other => Err(frame::unexpected(other, "authentication")),
    }
}

fn password(config: &UpstreamConfig) -> Result<&str, UpstreamError> {
    config
        .password
        .as_deref()
        .ok_or(UpstreamError::PasswordRequired)
}

/// SCRAM-SHA-256 without channel binding (gs2 flag `n`: the client does not
/// support it, which a server offering `-PLUS` accepts). A server that offers
/// only SCRAM-SHA-256-PLUS is refused.
async fn scram(
    stream: &mut UpstreamStream,
    buf: &mut BytesMut,
    config: &UpstreamConfig,
    mechanisms: &[String],
) -> Result<(), UpstreamError> {
    if !mechanisms.iter().any(|m| m == SCRAM_SHA_256) {
        let offered = mechanisms.join(", ");
        let why = if mechanisms.iter().any(|m| m == SCRAM_SHA_256_PLUS) {
            " (SCRAM-SHA-256-PLUS needs channel binding, which the gateway does not implement)"
        } else {
            ""
        };
        return Err(UpstreamError::UnsupportedAuth(format!(
            "SASL mechanisms [{offered}]{why}"
        )));
    }
    let password = password(config)?;
    let mut scram = ScramSha256::new(password.as_bytes(), ChannelBinding::unsupported());
    let mut out = BytesMut::with_capacity(256);
    frontend::sasl_initial_response(SCRAM_SHA_256, scram.message(), &mut out).map_err(protocol)?;
    frame::send(stream, &mut out).await?;

    let challenge = match frame::read_message(stream, buf).await? {
        Message::AuthenticationSaslContinue(body) => body,
        other => return Err(frame::unexpected(other, "SCRAM exchange")),
    };
    scram
        .update(challenge.data())
        .map_err(|e| UpstreamError::Scram(e.to_string()))?;
    frontend::sasl_response(scram.message(), &mut out).map_err(protocol)?;
    frame::send_secret(stream, &mut out).await?;

    let outcome = match frame::read_message(stream, buf).await? {
        Message::AuthenticationSaslFinal(body) => body,
        other => return Err(frame::unexpected(other, "SCRAM exchange")),
    };
    scram
        .finish(outcome.data())
        .map_err(|e| UpstreamError::Scram(format!("server signature not verified: {e}")))?;

    match frame::read_message(stream, buf).await? {
        Message::AuthenticationOk => Ok(()),
        other => Err(frame::unexpected(other, "SCRAM exchange")),
    }
}
