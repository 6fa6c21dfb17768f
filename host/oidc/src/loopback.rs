//! The CLI's redirect target (RFC 8252 §7.3): a one-shot HTTP listener on
//! `127.0.0.1` at a random port.
//!
//! [`LoopbackListener::wait`] answers requests one at a time until one
//! reaches `/callback` with the expected `state` (compared in constant
//! time), or the timeout passes. Other paths get 404, a wrong or missing
//! `state` gets 400 and the wait goes on: another local process cannot end
//! the login by guessing the port. Each connection has 10 seconds and 8 KiB
//! to send its request head. The page shown is plain text and never echoes
//! the code. Only loopback is ever bound, so nothing off the machine can
//! reach it.
//!
//! [`OidcClient::login_with_loopback`] ties it together for `gatehouse
//! login`: bind, build the authorization URL, hand it to the caller to open
//! (print it and start a browser), wait, complete.

use crate::error::LoginError;
use crate::login::{AuthorizeOptions, CallbackParams, LoginOutcome, OidcClient};
use crate::random::constant_time_eq;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const CALLBACK_PATH: &str = "/callback";
const MAX_HEAD: usize = 8 * 1024;
const PER_CONNECTION: Duration = Duration::from_secs(10);

/// A listener for one login's redirect.
pub struct LoopbackListener {
    listener: TcpListener,
    redirect_uri: String,
}

impl LoopbackListener {
    /// Bind `127.0.0.1` on a port the system picks.
    pub async fn bind() -> Result<Self, LoginError> {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|e| LoginError::Listener(format!("binding 127.0.0.1: {e}")))?;
        let port = listener
            .local_addr()
            .map_err(|e| LoginError::Listener(e.to_string()))?
            .port();
        Ok(Self {
            listener,
            redirect_uri: format!("http://127.0.0.1:{port}{CALLBACK_PATH}"),
        })
    }

    /// `http://127.0.0.1:PORT/callback`: the login's `redirect_uri`.
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// The callback of the login whose state is `expected_state`.
    pub async fn wait(
        &self,
        expected_state: &str,
        timeout: Duration,
    ) -> Result<CallbackParams, LoginError> {
        tokio::time::timeout(timeout, self.serve(expected_state))
            .await
            .map_err(|_| {
                LoginError::Listener(format!("no login callback within {}s", timeout.as_secs()))
            })?
    }

    async fn serve(&self, expected_state: &str) -> Result<CallbackParams, LoginError> {
        loop {
            let (mut stream, _) = self
                .listener
                .accept()
                .await
                .map_err(|e| LoginError::Listener(format!("accept: {e}")))?;
            let head = match tokio::time::timeout(PER_CONNECTION, read_head(&mut stream)).await {
                Ok(Some(head)) => head,
                _ => continue,
            };
            let Some(target) = request_target(&head) else {
                respond(&mut stream, "400 Bad Request", "Bad request.").await;
                continue;
            };
            let (path, query) = target.split_once('?').unwrap_or((target, ""));
            if path != CALLBACK_PATH {
                respond(&mut stream, "404 Not Found", "Not found.").await;
                continue;
            }
            let params = CallbackParams::from_query(query);
            let state_ok = params
                .state
                .as_deref()
                .is_some_and(|s| constant_time_eq(s.as_bytes(), expected_state.as_bytes()));
            if !state_ok {
                respond(
                    &mut stream,
                    "400 Bad Request",
                    "This is not the login Gatehouse is waiting for.",
                )
                .await;
                continue;
            }
            let page = if params.error.is_some() {
                "Gatehouse login failed; see the terminal."
            } else {
                "Gatehouse login received; you can close this window and return to the terminal."
            };
            respond(&mut stream, "200 OK", page).await;
            return Ok(params);
        }
    }
}

/// The request head (up to the blank line), or `None` if the peer sent
/// something too long or closed early.
async fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut buffer = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
        if buffer.windows(4).any(|w| w == b"\r\n\r\n") {
            return String::from_utf8(buffer).ok();
        }
        if buffer.len() > MAX_HEAD {
            return None;
        }
    }
}

/// The target of a `GET target HTTP/1.x` request line.
fn request_target(head: &str) -> Option<&str> {
    let line = head.lines().next()?;
    let mut parts = line.split(' ');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("GET"), Some(target), Some(version), None) if version.starts_with("HTTP/1.") => {
            Some(target)
        }
        _ => None,
    }
}

async fn respond(stream: &mut TcpStream, status: &str, text: &str) {
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n{text}",
        text.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

impl OidcClient {
    /// The whole CLI login: listen on loopback, call `open` with the
    /// authorization URL (print it; try to start a browser), wait up to
    /// `timeout` for the redirect, then complete the login.
    pub async fn login_with_loopback<F: FnOnce(&str)>(
        &self,
        options: &AuthorizeOptions,
        timeout: Duration,
        open: F,
    ) -> Result<LoginOutcome, LoginError> {
        let listener = LoopbackListener::bind().await?;
        let (request, pending) = self.begin_login(listener.redirect_uri(), options)?;
        open(&request.url);
        let callback = listener.wait(&request.state, timeout).await?;
        self.complete_login(pending, &callback).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn get(uri: &str, path: &str) -> String {
        let addr = uri
            .trim_start_matches("http://")
            .trim_end_matches(CALLBACK_PATH)
            .to_string();
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        response
    }

    #[tokio::test]
    async fn waits_for_the_right_state_on_the_callback_path() {
        let listener = LoopbackListener::bind().await.unwrap();
        let uri = listener.redirect_uri().to_string();
        assert!(uri.starts_with("http://127.0.0.1:") && uri.ends_with("/callback"));
        let client = tokio::spawn(async move {
            assert!(get(&uri, "/favicon.ico").await.starts_with("HTTP/1.1 404"));
            assert!(
                get(&uri, "/callback?code=c&state=wrong")
                    .await
                    .starts_with("HTTP/1.1 400")
            );
            assert!(
                get(&uri, "/callback?code=c")
                    .await
                    .starts_with("HTTP/1.1 400")
            );
            let ok = get(&uri, "/callback?code=the-code&state=s1").await;
            assert!(ok.starts_with("HTTP/1.1 200"));
            assert!(!ok.contains("the-code"));
        });
        let params = listener.wait("s1", Duration::from_secs(10)).await.unwrap();
        assert_eq!(params.code.as_deref(), Some("the-code"));
        client.await.unwrap();
    }

    #[tokio::test]
    async fn times_out() {
        let listener = LoopbackListener::bind().await.unwrap();
        let err = listener
            .wait("s", Duration::from_millis(50))
            .await
            .unwrap_err();
        assert!(matches!(err, LoginError::Listener(m) if m.contains("no login callback")));
    }

    #[test]
    fn request_line_parsing() {
        assert_eq!(
            request_target("GET /callback?a=b HTTP/1.1\r\n"),
            Some("/callback?a=b")
        );
        assert_eq!(request_target("POST /callback HTTP/1.1\r\n"), None);
        assert_eq!(request_target("GET /x y HTTP/1.1\r\n"), None);
        assert_eq!(request_target("GET /x SPDY\r\n"), None);
    }
}
