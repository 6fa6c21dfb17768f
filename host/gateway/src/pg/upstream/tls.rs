//! TLS to the upstream server: the SSLRequest exchange and rustls (on the
//! `ring` provider) with one certificate verifier per [`UpstreamTls`] mode.
//!
//! * `VerifyFull`: rustls' WebPKI verifier (chain to a trusted root, host name).
//! * `VerifyCa`: [`ChainOnlyVerifier`]: the same chain check, no host name.
//! * `Require`, `Prefer`: [`AnyCertVerifier`]: any certificate is accepted.
//!   The handshake signatures are still checked, so the peer does hold the key
//!   of the certificate it shows, but nothing ties that certificate to the
//!   intended server: an active man in the middle is not detected.
//!
//! The SSLRequest answer is read one byte at a time, straight off the socket,
//! so no plaintext sent by the server before the handshake can be mistaken for
//! data protected by TLS (CVE-2021-23222).

use std::sync::Arc;

use bytes::BytesMut;
use postgres_protocol::message::frontend;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{WebPkiServerVerifier, verify_server_cert_signed_by_trust_anchor};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::config::{UpstreamConfig, UpstreamTls};
use super::error::UpstreamError;
use super::frame;
use super::stream::UpstreamStream;

/// What the handshake needs, prepared before any byte is sent so that a bad
/// CA file fails fast and without touching the network.
pub(super) struct TlsSetup {
    connector: TlsConnector,
    server_name: ServerName<'static>,
}

/// Builds the rustls client for `config`, or `None` for `UpstreamTls::Disable`.
pub(super) fn prepare(config: &UpstreamConfig) -> Result<Option<TlsSetup>, UpstreamError> {
    if !config.tls.requests_tls() {
        return Ok(None);
    }
    let host = super::host_of(&config.address)?;
    let server_name = ServerName::try_from(host.to_owned()).map_err(|_| {
        UpstreamError::Config(format!(
            "`{host}` (from address `{}`) is not a valid TLS server name",
            config.address
        ))
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let algorithms = provider.signature_verification_algorithms;
    let verifier: Arc<dyn ServerCertVerifier> = match config.tls {
        UpstreamTls::Disable => return Ok(None),
        UpstreamTls::Prefer | UpstreamTls::Require => Arc::new(AnyCertVerifier { algorithms }),
        UpstreamTls::VerifyCa => Arc::new(ChainOnlyVerifier {
            roots: Arc::new(root_store(config)?),
            algorithms,
        }),
        UpstreamTls::VerifyFull => WebPkiServerVerifier::builder_with_provider(
            Arc::new(root_store(config)?),
            provider.clone(),
        )
        .build()
        .map_err(|e| UpstreamError::Config(format!("cannot build the TLS verifier: {e}")))?,
    };
    let mut client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| UpstreamError::Config(format!("TLS protocol versions: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    // What libpq 17+ sends; servers that do not know ALPN ignore it.
    client.alpn_protocols = vec![b"postgresql".to_vec()];
    Ok(Some(TlsSetup {
        connector: TlsConnector::from(Arc::new(client)),
        server_name,
    }))
}

/// The trusted roots: the `ca_file` bundle, or the bundled public roots.
fn root_store(config: &UpstreamConfig) -> Result<RootCertStore, UpstreamError> {
    let Some(path) = &config.ca_file else {
        return Ok(RootCertStore::from_iter(
            webpki_roots::TLS_SERVER_ROOTS.iter().cloned(),
        ));
    };
    let shown = path.display();
    let mut roots = RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| UpstreamError::Config(format!("cannot read CA file {shown}: {e}")))?;
    for cert in certs {
        let cert = cert.map_err(|e| {
            UpstreamError::Config(format!("bad certificate in CA file {shown}: {e}"))
        })?;
        roots.add(cert).map_err(|e| {
            UpstreamError::Config(format!("unusable CA certificate in {shown}: {e}"))
        })?;
    }
    if roots.is_empty() {
        return Err(UpstreamError::Config(format!(
            "CA file {shown} holds no certificate"
        )));
    }
    Ok(roots)
}

/// Sends an SSLRequest and, when the server agrees, performs the handshake.
pub(super) async fn negotiate(
    mut tcp: TcpStream,
    mode: UpstreamTls,
    setup: Option<&TlsSetup>,
) -> Result<UpstreamStream, UpstreamError> {
    let Some(setup) = setup else {
        return Ok(UpstreamStream::Plain(tcp));
    };
    let mut request = BytesMut::with_capacity(8);
    frontend::ssl_request(&mut request);
    tcp.write_all(&request).await.map_err(UpstreamError::Io)?;

    let mut answer = [0u8; 1];
    tcp.read_exact(&mut answer).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            UpstreamError::Protocol("server closed the connection in answer to SSLRequest".into())
        } else {
            UpstreamError::Io(e)
        }
    })?;
    match answer[0] {
        b'S' => {
            let tls = setup
                .connector
                .connect(setup.server_name.clone(), tcp)
                .await
                .map_err(UpstreamError::Tls)?;
            Ok(UpstreamStream::Tls(Box::new(tls)))
        }
        b'N' if mode.requires_tls() => Err(UpstreamError::TlsNotSupported {
            mode: mode.as_str(),
        }),
        b'N' => Ok(UpstreamStream::Plain(tcp)),
        b'E' => {
            // A server that cannot even parse SSLRequest answers with an
            // ErrorResponse; surface it.
            let mut buf = BytesMut::from(&b"E"[..]);
            let message = frame::read_message(&mut tcp, &mut buf).await?;
            Err(frame::unexpected(message, "answer to SSLRequest"))
        }
        other => Err(UpstreamError::Protocol(format!(
            "unexpected answer {other:#04x} to SSLRequest"
        ))),
    }
}

/// `VerifyCa`: the chain must lead to a trusted root; the name is not checked.
#[derive(Debug)]
struct ChainOnlyVerifier {
    roots: Arc<RootCertStore>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for ChainOnlyVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let cert = ParsedCertificate::try_from(end_entity)?;
        verify_server_cert_signed_by_trust_anchor(
            &cert,
            &self.roots,
            intermediates,
            now,
            self.algorithms.all,
        )?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// `Require`/`Prefer`: encryption without authentication of the server.
///
/// RISK: any certificate is accepted, so an attacker who can intercept the
/// TCP connection can present their own and relay (and read) the session.
/// This is libpq's `sslmode=require` behaviour, kept for servers with
/// self-signed certificates; `VerifyFull` is the safe choice.
#[derive(Debug)]
struct AnyCertVerifier {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AnyCertVerifier {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
