//! Test harness: a real store (SQLite in a temp dir, or a throwaway
//! PostgreSQL database), the real plugin runtime with real components, the
//! router called in-process with `tower::ServiceExt::oneshot`, users of
//! every role with store access tokens, and a local OIDC provider
//! (discovery, JWKS and a token endpoint) signing ES256 tokens of ours.
#![allow(dead_code)]

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gatehouse_api::{ApiState, TcpConnectTester};
pub use gatehouse_api::{SESSION_COOKIE, STATE_COOKIE};
use gatehouse_oidc::{OidcClient, OidcConfig};
use gatehouse_runtime::{Runtime, RuntimeSettings};
use gatehouse_store::users::NewUser;
use gatehouse_store::{Actor, Role, SecretKeys, Store};
use http_body_util::BodyExt;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair};
use serde_json::{Value, json};
use sqlx::{Connection, Executor};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceExt;

pub const PUBLIC_URL: &str = "http://127.0.0.1:8080";
pub const CLIENT_ID: &str = "gatehouse";

// ---------------------------------------------------------------- plugins

fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    gatehouse_plugin_build::enclosing_target_dir(&exe).expect("cargo target directory")
}

/// The bytes of a workspace component (`access-control`,
/// `wrong-world-guest`): from `$GATEHOUSE_PLUGIN_DIR` when `cargo xtask
/// test` built them, else built here once.
pub fn component(package: &str) -> Vec<u8> {
    static BUILT: OnceLock<Mutex<()>> = OnceLock::new();
    let file = gatehouse_plugin_build::wasm_file_name(package);
    if let Ok(dir) = std::env::var("GATEHOUSE_PLUGIN_DIR") {
        let path = Path::new(&dir).join(&file);
        if path.exists() {
            return std::fs::read(path).unwrap();
        }
    }
    let _guard = BUILT.get_or_init(Default::default).lock().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.toml");
    let out = gatehouse_plugin_build::build(&root, &[package], &target_dir().join("wasm"))
        .unwrap_or_else(|e| panic!("{e}"));
    std::fs::read(out.join(file)).unwrap()
}

/// The same component describing itself with another version: the
/// manifest's version literal (`0.1.0`, the workspace version, in the
/// data segment) is replaced by one of the same length. WIT names
/// (`…@0.1.0`, preceded by `@`) are left alone, so the component still
/// targets the same world. Bytes change, so the digest does too.
pub fn with_version(wasm: &[u8], version: &str) -> Vec<u8> {
    let from = env!("CARGO_PKG_VERSION").as_bytes();
    assert_eq!(from.len(), version.len(), "same-length versions only");
    let mut out = wasm.to_vec();
    let mut replaced = 0;
    let mut i = 0;
    while i + from.len() <= out.len() {
        if &out[i..i + from.len()] == from && (i == 0 || out[i - 1] != b'@') {
            out[i..i + from.len()].copy_from_slice(version.as_bytes());
            replaced += 1;
            i += from.len();
        } else {
            i += 1;
        }
    }
    assert!(replaced > 0, "no version literal found");
    out
}

/// `wasm` with every `from` replaced by `to` (same length).
pub fn replace_bytes(wasm: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let mut out = wasm.to_vec();
    let mut found = false;
    for i in 0..out.len().saturating_sub(from.len()) {
        if &out[i..i + from.len()] == from {
            out[i..i + from.len()].copy_from_slice(to);
            found = true;
        }
    }
    assert!(found, "pattern not found");
    out
}

/// One plugin runtime per test process (compiled components cached on
/// disk, shared with the SDK harness).
pub fn runtime() -> Arc<Runtime> {
    static RUNTIME: OnceLock<Arc<Runtime>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            let mut settings = RuntimeSettings::default();
            settings.engine.max_instances = 64;
            settings.engine.max_memory_bytes = 64 << 20;
            settings.cache_dir = Some(target_dir().join("gatehouse-compiled"));
            Arc::new(Runtime::new(settings).expect("plugin runtime"))
        })
        .clone()
}

// ---------------------------------------------------------------- stores

pub fn pg_admin_url() -> String {
    std::env::var("GATEHOUSE_STORE_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A store for one test; drop it with [`TestStore::cleanup`].
pub struct TestStore {
    pub store: Store,
    pub dir: tempfile::TempDir,
    pg_database: Option<String>,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl TestStore {
    pub async fn open(backend: Backend) -> TestStore {
        let dir = tempfile::tempdir().unwrap();
        match backend {
            Backend::Sqlite => {
                let store = Store::open(&Store::default_url(dir.path()), SecretKeys::generate())
                    .await
                    .unwrap();
                TestStore {
                    store,
                    dir,
                    pg_database: None,
                }
            }
            Backend::Postgres => {
                let name = format!(
                    "gh_api_test_{}_{}_{}",
                    std::process::id(),
                    COUNTER.fetch_add(1, Ordering::Relaxed),
                    SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .unwrap()
                        .subsec_nanos()
                );
                let mut admin = sqlx::PgConnection::connect(&pg_admin_url()).await.expect(
                    "PostgreSQL (GATEHOUSE_STORE_TEST_PG, default 127.0.0.1:5432 user postgres)",
                );
                admin
                    .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .await
                    .unwrap();
                admin.close().await.ok();
                let base = pg_admin_url();
                let host_start = base.find("://").map_or(0, |i| i + 3);
                let url = match base[host_start..].find('/') {
                    Some(slash) => format!("{}/{name}", &base[..host_start + slash]),
                    None => format!("{base}/{name}"),
                };
                let store = Store::open(&url, SecretKeys::generate()).await.unwrap();
                TestStore {
                    store,
                    dir,
                    pg_database: Some(name),
                }
            }
        }
    }

    pub async fn cleanup(self) {
        self.store.close().await;
        if let Some(name) = self.pg_database {
            let mut admin = sqlx::PgConnection::connect(&pg_admin_url()).await.unwrap();
            admin
                .execute(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .await
                .unwrap();
        }
    }
}

// ---------------------------------------------------------------- the API

/// A router over a fresh store with an admin, two users and an approver.
pub struct Api {
    pub router: Router,
    pub store: Store,
    pub changes: watch::Receiver<u64>,
    test_store: Option<TestStore>,
    pub idp: Option<LocalIdp>,
}

/// Who calls: a role's token, or nobody.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Who {
    Anonymous,
    Admin,
    /// alice: a user in group `dev`.
    User,
    /// vera: an approver in group `approver-dba`.
    Approver,
    /// bob: a user in group `other`.
    OtherUser,
}

impl Who {
    pub fn email(self) -> &'static str {
        match self {
            Who::Anonymous => "",
            Who::Admin => "admin@example.com",
            Who::User => "alice@example.com",
            Who::Approver => "vera@example.com",
            Who::OtherUser => "bob@example.com",
        }
    }

    pub fn role(self) -> Option<Role> {
        match self {
            Who::Anonymous => None,
            Who::Admin => Some(Role::Admin),
            Who::User | Who::OtherUser => Some(Role::User),
            Who::Approver => Some(Role::Approver),
        }
    }
}

/// What a test sends.
pub struct Call {
    pub method: &'static str,
    pub path: String,
    pub body: Option<Body>,
    pub content_type: Option<&'static str>,
    pub headers: Vec<(&'static str, String)>,
}

impl Call {
    pub fn new(method: &'static str, path: impl Into<String>) -> Self {
        Call {
            method,
            path: path.into(),
            body: None,
            content_type: None,
            headers: Vec::new(),
        }
    }

    pub fn json(mut self, body: Value) -> Self {
        self.body = Some(Body::from(body.to_string()));
        self.content_type = Some("application/json");
        self
    }

    pub fn wasm(mut self, bytes: Vec<u8>) -> Self {
        self.body = Some(Body::from(bytes));
        self.content_type = Some("application/wasm");
        self
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

/// An answer: status, headers, JSON body (`Null` when empty or not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Answer {
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

pub struct Options {
    pub backend: Backend,
    pub oidc: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            backend: Backend::Sqlite,
            oidc: false,
        }
    }
}

impl Api {
    pub async fn start() -> (Api, Tokens) {
        Api::start_with(Options::default()).await
    }

    pub async fn start_with(options: Options) -> (Api, Tokens) {
        let test_store = TestStore::open(options.backend).await;
        let store = test_store.store.clone();
        let setup = Actor::system("test");
        let mut tokens = Tokens::default();
        for who in [Who::Admin, Who::User, Who::Approver, Who::OtherUser] {
            let groups = match who {
                Who::Admin => vec!["admins".to_string()],
                Who::User => vec!["dev".to_string()],
                Who::Approver => vec!["approver-dba".to_string()],
                _ => vec!["other".to_string()],
            };
            let user = store
                .users()
                .create(
                    &setup,
                    NewUser {
                        groups,
                        ..NewUser::new(who.email(), who.role().unwrap())
                    },
                )
                .await
                .unwrap();
            let (_, token) = store
                .tokens()
                .create(&setup, user.id, "main", None)
                .await
                .unwrap();
            tokens.set(who, user.id, token.expose().to_string());
        }
        let mut state = ApiState::new(
            store.clone(),
            runtime(),
            Arc::new(TcpConnectTester::default()),
            PUBLIC_URL,
        );
        let idp = if options.oidc {
            let idp = LocalIdp::start().await;
            let mut config = OidcConfig::new(idp.issuer.clone(), CLIENT_ID);
            config.redirect_urls = vec![format!("{PUBLIC_URL}/auth/callback")];
            config.roles.admin_groups = vec!["gh-admins".into()];
            state = state.with_oidc(OidcClient::discover(config).await.unwrap());
            Some(idp)
        } else {
            None
        };
        let changes = state.changes.subscribe();
        let router = gatehouse_api::router(state);
        (
            Api {
                router,
                store,
                changes,
                test_store: Some(test_store),
                idp,
            },
            tokens,
        )
    }

    pub async fn cleanup(mut self) {
        if let Some(test_store) = self.test_store.take() {
            test_store.cleanup().await;
        }
    }

    /// Sends `call` with `Authorization: Bearer <token>` when given.
    pub async fn send(&self, call: Call, bearer: Option<&str>) -> Answer {
        let mut builder = Request::builder().method(call.method).uri(&call.path);
        if let Some(token) = bearer {
            builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        if let Some(content_type) = call.content_type {
            builder = builder.header(header::CONTENT_TYPE, content_type);
        }
        for (name, value) in &call.headers {
            builder = builder.header(*name, value);
        }
        let mut request = builder.body(call.body.unwrap_or_default()).unwrap();
        // As `into_make_service_with_connect_info` would.
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([10, 1, 2, 3], 50000))));
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&bytes).to_string();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            body,
            text,
        }
    }

    /// Sends `call` as `who`.
    pub async fn call(&self, tokens: &Tokens, who: Who, call: Call) -> Answer {
        self.send(call, tokens.get(who)).await
    }

    /// Shorthand: `as who`, `method path` with an optional JSON body.
    pub async fn req(
        &self,
        tokens: &Tokens,
        who: Who,
        method: &'static str,
        path: &str,
        body: Option<Value>,
    ) -> Answer {
        let mut call = Call::new(method, path);
        if let Some(body) = body {
            call = call.json(body);
        }
        self.call(tokens, who, call).await
    }
}

/// Each test user's id and main token.
#[derive(Default, Clone)]
pub struct Tokens {
    entries: Vec<(Who, i64, String)>,
}

impl Tokens {
    fn set(&mut self, who: Who, id: i64, token: String) {
        self.entries.push((who, id, token));
    }

    pub fn get(&self, who: Who) -> Option<&str> {
        self.entries
            .iter()
            .find(|(w, _, _)| *w == who)
            .map(|(_, _, t)| t.as_str())
    }

    pub fn id(&self, who: Who) -> i64 {
        self.entries
            .iter()
            .find(|(w, _, _)| *w == who)
            .map(|(_, id, _)| *id)
            .unwrap()
    }
}

/// Runs `body` on SQLite, then on PostgreSQL.
pub async fn on_both<F, Fut>(body: F)
where
    F: Fn(Backend) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for backend in [Backend::Sqlite, Backend::Postgres] {
        eprintln!("backend: {backend:?}");
        body(backend).await;
    }
}

// ---------------------------------------------------------------- OIDC

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// An ES256 signing key of ours.
pub struct SigningKey {
    pair: EcdsaKeyPair,
    pub kid: String,
}

impl SigningKey {
    pub fn generate(kid: &str) -> Self {
        let rng = SystemRandom::new();
        let alg = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
        SigningKey {
            pair: EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).unwrap(),
            kid: kid.into(),
        }
    }

    pub fn jwk(&self) -> Value {
        let point = self.pair.public_key().as_ref();
        json!({ "kty": "EC", "crv": "P-256", "x": b64(&point[1..33]), "y": b64(&point[33..65]),
                "kid": self.kid, "use": "sig", "alg": "ES256" })
    }

    pub fn sign(&self, claims: Value) -> String {
        let header = json!({ "alg": "ES256", "typ": "JWT", "kid": self.kid });
        let input = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
        let sig = self
            .pair
            .sign(&SystemRandom::new(), input.as_bytes())
            .unwrap();
        format!("{input}.{}", b64(sig.as_ref()))
    }
}

/// What the local provider answers at its token endpoint.
#[derive(Default)]
pub struct IdpState {
    pub token_response: Option<Value>,
    pub token_requests: u32,
}

/// Discovery, JWKS and a token endpoint on 127.0.0.1 (plain http is
/// allowed for loopback providers).
pub struct LocalIdp {
    pub issuer: String,
    pub key: Arc<SigningKey>,
    pub state: Arc<Mutex<IdpState>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for LocalIdp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl LocalIdp {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let key = Arc::new(SigningKey::generate("k1"));
        let state = Arc::new(Mutex::new(IdpState::default()));
        let (iss, k, st) = (issuer.clone(), key.clone(), state.clone());
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (iss, k, st) = (iss.clone(), k.clone(), st.clone());
                tokio::spawn(async move { answer(stream, &iss, &k, &st).await });
            }
        });
        LocalIdp {
            issuer,
            key,
            state,
            task,
        }
    }

    /// A token as the provider would issue it (defaults overridable).
    pub fn token(&self, claims: Value) -> String {
        let mut all = json!({
            "iss": self.issuer, "aud": CLIENT_ID, "sub": "sub-1", "iat": now(), "exp": now() + 600,
            "email": "sso@example.com", "name": "Sso Person", "groups": ["dev"],
        });
        for (k, v) in claims.as_object().unwrap() {
            all[k] = v.clone();
        }
        self.key.sign(all)
    }
}

async fn answer(
    mut stream: tokio::net::TcpStream,
    issuer: &str,
    key: &SigningKey,
    state: &Mutex<IdpState>,
) {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    let header_end = loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => data.extend_from_slice(&buf[..n]),
        }
        if let Some(pos) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos + 4;
        }
    };
    let head = String::from_utf8_lossy(&data[..header_end]).to_string();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    while data.len() < header_end + length {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => data.extend_from_slice(&buf[..n]),
        }
    }
    let path = head.split(' ').nth(1).unwrap_or("").to_string();
    let (status, body) = match path.as_str() {
        "/.well-known/openid-configuration" => (
            "200 OK",
            json!({
                "issuer": issuer,
                "authorization_endpoint": format!("{issuer}/auth"),
                "token_endpoint": format!("{issuer}/token"),
                "jwks_uri": format!("{issuer}/jwks"),
                "code_challenge_methods_supported": ["S256"],
            }),
        ),
        "/jwks" => ("200 OK", json!({ "keys": [key.jwk()] })),
        "/token" => {
            let mut s = state.lock().unwrap();
            s.token_requests += 1;
            match s.token_response.clone() {
                Some(v) => ("200 OK", v),
                None => ("400 Bad Request", json!({ "error": "invalid_grant" })),
            }
        }
        _ => ("404 Not Found", json!({})),
    };
    let body = body.to_string();
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}
