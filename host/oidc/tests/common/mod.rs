//! Helpers of the integration tests:
//!
//! * [`TestKey`]: signing keys of our own (ES256, EdDSA, RS256/PS256 from a
//!   fixture) to mint tokens the verifier must accept or refuse;
//! * [`LocalIdp`]: a minimal discovery + JWKS server on 127.0.0.1 serving
//!   those keys, counting JWKS fetches, able to rotate keys or fail;
//! * [`Provider`]: the real `oidc-provider` (tests/oidc/provider.mjs) in a
//!   child process;
//! * [`Browser`]: follows redirects with cookies, as a user's browser would
//!   through the provider's (headless) login.
#![allow(dead_code)]

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A private key of ours, with its JWK.
pub enum TestKey {
    Es256(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
    /// RSA, signing RS256 or PS256 depending on the header.
    Rsa(RsaKeyPair),
}

impl TestKey {
    pub fn es256() -> Self {
        let rng = SystemRandom::new();
        let alg = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
        TestKey::Es256(EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).unwrap())
    }

    pub fn ed25519() -> Self {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        TestKey::Ed25519(Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap())
    }

    pub fn rsa() -> Self {
        let pem = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rsa-test-key.pem"),
        )
        .unwrap();
        let body: String = pem
            .lines()
            .skip_while(|l| !l.starts_with("-----BEGIN"))
            .filter(|l| !l.starts_with("-----"))
            .collect();
        let der = STANDARD.decode(body).unwrap();
        TestKey::Rsa(RsaKeyPair::from_pkcs8(&der).unwrap())
    }

    /// The public JWK (without `alg` unless given).
    pub fn jwk(&self, kid: &str, alg: Option<&str>) -> Value {
        let mut jwk = match self {
            TestKey::Es256(k) => {
                let point = k.public_key().as_ref();
                json!({ "kty": "EC", "crv": "P-256", "x": b64(&point[1..33]), "y": b64(&point[33..65]) })
            }
            TestKey::Ed25519(k) => {
                json!({ "kty": "OKP", "crv": "Ed25519", "x": b64(k.public_key().as_ref()) })
            }
            TestKey::Rsa(k) => {
                let c: signature::RsaPublicKeyComponents<Vec<u8>> = k.public().into();
                json!({ "kty": "RSA", "n": b64(&c.n), "e": b64(&c.e) })
            }
        };
        jwk["kid"] = json!(kid);
        jwk["use"] = json!("sig");
        if let Some(alg) = alg {
            jwk["alg"] = json!(alg);
        }
        jwk
    }

    /// The natural `alg` of the key.
    pub fn alg(&self) -> &'static str {
        match self {
            TestKey::Es256(_) => "ES256",
            TestKey::Ed25519(_) => "EdDSA",
            TestKey::Rsa(_) => "RS256",
        }
    }

    /// Sign `signing_input` as `alg` says.
    pub fn sign_raw(&self, alg: &str, signing_input: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        match self {
            TestKey::Es256(k) => k.sign(&rng, signing_input).unwrap().as_ref().to_vec(),
            TestKey::Ed25519(k) => k.sign(signing_input).as_ref().to_vec(),
            TestKey::Rsa(k) => {
                let padding: &dyn signature::RsaEncoding = match alg {
                    "PS256" => &signature::RSA_PSS_SHA256,
                    _ => &signature::RSA_PKCS1_SHA256,
                };
                let mut sig = vec![0; k.public().modulus_len()];
                k.sign(padding, &rng, signing_input, &mut sig).unwrap();
                sig
            }
        }
    }

    /// A compact JWS of `claims` with `header`.
    pub fn sign(&self, header: Value, claims: Value) -> String {
        let alg = header["alg"].as_str().unwrap_or(self.alg()).to_string();
        let input = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
        let sig = self.sign_raw(&alg, input.as_bytes());
        format!("{input}.{}", b64(sig))
    }
}

/// What the local IdP serves.
pub struct IdpState {
    pub jwks: Value,
    /// Answer JWKS requests with 500.
    pub fail_jwks: bool,
    /// The issuer the discovery document claims (default: the real one).
    pub claimed_issuer: Option<String>,
}

/// Discovery + JWKS on 127.0.0.1, nothing else.
pub struct LocalIdp {
    pub issuer: String,
    pub state: Arc<Mutex<IdpState>>,
    pub jwks_fetches: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for LocalIdp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl LocalIdp {
    /// Over plain http on 127.0.0.1.
    pub async fn start(jwks: Value) -> Self {
        Self::serve(jwks, None).await
    }

    /// Over https on 127.0.0.1 with a fresh self-signed certificate, whose
    /// PEM is returned (for `ca_file`).
    pub async fn start_tls(jwks: Value) -> (Self, String) {
        let names = vec!["127.0.0.1".to_string(), "localhost".to_string()];
        let generated = rcgen::generate_simple_self_signed(names).unwrap();
        let cert_pem = generated.cert.pem();
        let cert = generated.cert.der().clone();
        let key =
            rustls::pki_types::PrivateKeyDer::try_from(generated.key_pair.serialize_der()).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        (Self::serve(jwks, Some(acceptor)).await, cert_pem)
    }

    async fn serve(jwks: Value, tls: Option<tokio_rustls::TlsAcceptor>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let scheme = if tls.is_some() { "https" } else { "http" };
        let issuer = format!("{scheme}://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(IdpState {
            jwks,
            fail_jwks: false,
            claimed_issuer: None,
        }));
        let jwks_fetches = Arc::new(AtomicUsize::new(0));
        let (st, count, iss) = (state.clone(), jwks_fetches.clone(), issuer.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (st, count, iss, tls) = (st.clone(), count.clone(), iss.clone(), tls.clone());
                tokio::spawn(async move {
                    match tls {
                        None => answer(stream, &st, &count, &iss).await,
                        Some(acceptor) => {
                            if let Ok(stream) = acceptor.accept(stream).await {
                                answer(stream, &st, &count, &iss).await;
                            }
                        }
                    }
                });
            }
        });
        Self {
            issuer,
            state,
            jwks_fetches,
            task,
        }
    }

    pub fn fetches(&self) -> usize {
        self.jwks_fetches.load(Ordering::SeqCst)
    }
}

/// One request: discovery, JWKS, or 404.
async fn answer<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    mut stream: S,
    state: &Mutex<IdpState>,
    jwks_fetches: &AtomicUsize,
    issuer: &str,
) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let head = String::from_utf8_lossy(&head);
    let path = head.split(' ').nth(1).unwrap_or("").to_string();
    let (status, body) = {
        let s = state.lock().unwrap();
        match path.as_str() {
            "/.well-known/openid-configuration" => (
                "200 OK",
                json!({
                    "issuer": s.claimed_issuer.clone().unwrap_or(issuer.to_string()),
                    "authorization_endpoint": format!("{issuer}/auth"),
                    "token_endpoint": format!("{issuer}/token"),
                    "jwks_uri": format!("{issuer}/jwks"),
                    "code_challenge_methods_supported": ["S256"],
                })
                .to_string(),
            ),
            "/jwks" => {
                jwks_fetches.fetch_add(1, Ordering::SeqCst);
                if s.fail_jwks {
                    ("500 Internal Server Error", "{}".to_string())
                } else {
                    ("200 OK", s.jwks.to_string())
                }
            }
            _ => ("404 Not Found", "{}".to_string()),
        }
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// The real OpenID Provider, `tests/oidc/provider.mjs`, in a child process.
pub struct Provider {
    pub issuer: String,
    child: Child,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn provider_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/oidc")
}

impl Provider {
    /// Start it and wait for its issuer line (20 s at most).
    pub fn start() -> Self {
        let dir = provider_dir();
        assert!(
            dir.join("node_modules/oidc-provider").is_dir(),
            "oidc-provider is not installed: run `npm ci --prefix tests/oidc` (or `cargo xtask test`)"
        );
        let log = std::env::temp_dir().join(format!(
            "gatehouse-oidc-provider-{}-{:?}.log",
            std::process::id(),
            std::thread::current().id()
        ));
        let mut child = Command::new("node")
            .arg("provider.mjs")
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("starting node (is Node.js installed?)");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(line) if !line.is_empty() => line,
            _ => {
                let _ = child.kill();
                panic!(
                    "the OIDC test provider did not start:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
        };
        let ready: Value = serde_json::from_str(&line).unwrap();
        Provider {
            issuer: ready["issuer"].as_str().unwrap().to_string(),
            child,
        }
    }
}

/// A user agent: follows redirects, keeps cookies (by name; fine for one
/// host), stops at the first redirect to `stop_prefix`.
pub struct Browser {
    client: hyper_util::client::legacy::Client<
        hyper_util::client::legacy::connect::HttpConnector,
        Empty<Bytes>,
    >,
    cookies: BTreeMap<String, String>,
}

impl Browser {
    pub fn new() -> Self {
        Self {
            client: hyper_util::client::legacy::Client::builder(
                hyper_util::rt::TokioExecutor::new(),
            )
            .build_http(),
            cookies: BTreeMap::new(),
        }
    }

    /// GET `url` and follow redirects until one points at `stop_prefix`;
    /// that URL is the answer. At most 10 hops.
    pub async fn follow(&mut self, url: &str, stop_prefix: &str) -> String {
        let mut url = url::Url::parse(url).unwrap();
        for _ in 0..10 {
            let mut request = hyper::Request::get(url.as_str());
            if !self.cookies.is_empty() {
                let cookie = self
                    .cookies
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join("; ");
                request = request.header(hyper::header::COOKIE, cookie);
            }
            let response = self
                .client
                .request(request.body(Empty::new()).unwrap())
                .await
                .unwrap();
            for value in response.headers().get_all(hyper::header::SET_COOKIE) {
                let pair = value.to_str().unwrap().split(';').next().unwrap();
                if let Some((name, value)) = pair.split_once('=') {
                    self.cookies.insert(name.trim().into(), value.into());
                }
            }
            let status = response.status();
            let location = response
                .headers()
                .get(hyper::header::LOCATION)
                .map(|l| l.to_str().unwrap().to_string());
            let body = response.into_body().collect().await.unwrap().to_bytes();
            let Some(location) = location else {
                panic!(
                    "{url}: {status} without a redirect: {}",
                    String::from_utf8_lossy(&body)
                );
            };
            let next = url.join(&location).unwrap();
            if next.as_str().starts_with(stop_prefix) {
                return next.into();
            }
            url = next;
        }
        panic!("too many redirects");
    }

    /// GET `url` and return the status (for the loopback listener).
    pub async fn get_status(&mut self, url: &str) -> u16 {
        let response = self
            .client
            .request(hyper::Request::get(url).body(Empty::new()).unwrap())
            .await
            .unwrap();
        response.status().as_u16()
    }
}
