//! The byte stream to the upstream server: plain TCP or TLS over TCP (the
//! shared [`MaybeTls`] with client-side TLS).

use crate::pg::stream::MaybeTls;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// An established upstream byte stream.
pub type UpstreamStream = MaybeTls<TlsStream<TcpStream>>;

impl UpstreamStream {
    /// The underlying TCP socket (for addresses and socket options).
    pub fn tcp(&self) -> &TcpStream {
        match self {
            MaybeTls::Plain(s) => s,
            MaybeTls::Tls(s) => s.get_ref().0,
        }
    }
}

impl std::fmt::Debug for UpstreamStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = if self.is_tls() { "Tls" } else { "Plain" };
        f.debug_tuple(kind)
            .field(&self.tcp().peer_addr().ok())
            .finish()
    }
}
