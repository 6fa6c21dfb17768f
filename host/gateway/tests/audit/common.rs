//! Shared by the audit pipeline tests: a configuration with one PostgreSQL
//! connection (`pg.test`, guardrails denying DROP) and two users, an
//! in-process gateway, a tiny HTTP client and a webhook receiver.

use gatehouse::config::Config;
use gatehouse::identity::new_token;
use gatehouse::record::MemoryRecorder;
use gatehouse::server::Gateway;
use gatehouse_store::Store;
use gatehouse_store::audit::AuditEvent;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub const ADMIN: &str = "root@example.com";
pub const USER: &str = "alice@example.com";
pub const OTHER: &str = "bob@example.com";

/// Tokens of the three users, and their digests for the config file.
pub struct Tokens {
    pub admin: String,
    pub user: String,
    pub other: String,
    digests: [String; 3],
}

impl Tokens {
    pub fn new() -> Self {
        let (admin, a) = new_token();
        let (user, u) = new_token();
        let (other, o) = new_token();
        Self {
            admin,
            user,
            other,
            digests: [a, u, o],
        }
    }
}

/// Compiled plugins shared with the other tests of the workspace.
pub fn compile_cache() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    gatehouse_plugin_build::enclosing_target_dir(&exe)
        .expect("cargo target dir")
        .join("gatehouse-compiled")
}

/// A `gatehouse.toml` with the two listeners, the users, `pg.test`, and
/// `extra` appended (`[audit]`, `[sessions]` …).
pub fn config_text(
    state: &Path,
    pg_listen: &str,
    api_listen: &str,
    tokens: &Tokens,
    extra: &str,
) -> String {
    let [admin, user, other] = &tokens.digests;
    format!(
        r#"
[gateway]
state_dir = "{state}"
[runtime]
max_instances = 64
cache_dir = "{cache}"
[api]
listen = "{api_listen}"
[postgres]
listen = "{pg_listen}"
[[users]]
email = "{ADMIN}"
role = "admin"
token_sha256 = ["{admin}"]
[[users]]
email = "{USER}"
role = "user"
groups = ["dba", "dev"]
token_sha256 = ["{user}"]
[[users]]
email = "{OTHER}"
role = "user"
groups = ["dev"]
token_sha256 = ["{other}"]
[[resources]]
name = "pg"
kind = "postgres"
address = "127.0.0.1:5432"
tls = "disable"
  [[resources.roles]]
  name = "test"
  database = "test"
  username = "postgres"
    [[resources.roles.plugins]]
    plugin = "guardrails"
    config = {{ deny_statements = ["drop", "truncate"] }}
{extra}
"#,
        state = state.display(),
        cache = compile_cache().display(),
    )
}

/// An in-process gateway on a fresh state directory.
pub struct TestGateway {
    pub gateway: Gateway,
    pub tokens: Tokens,
    _state: tempfile::TempDir,
}

impl TestGateway {
    pub async fn start(extra: &str) -> Self {
        let state = tempfile::tempdir().unwrap();
        Self::start_in(state, extra).await
    }

    pub async fn start_in(state: tempfile::TempDir, extra: &str) -> Self {
        let tokens = Tokens::new();
        let text = config_text(state.path(), "127.0.0.1:0", "127.0.0.1:0", &tokens, extra);
        let config: Config = toml::from_str(&text).expect("test config parses");
        config.check().expect("test config is valid");
        let gateway = Gateway::start(&config, Arc::new(MemoryRecorder::default()))
            .await
            .expect("gateway starts");
        Self {
            gateway,
            tokens,
            _state: state,
        }
    }

    pub fn store(&self) -> &Store {
        &self.gateway.store
    }

    pub async fn client(&self) -> tokio_postgres::Client {
        connect(self.gateway.postgres_addr.port(), &self.tokens.user)
            .await
            .expect("connects")
    }

    pub async fn api(&self, method: &str, path: &str, token: &str, body: Option<&str>) -> Response {
        http(
            &self.gateway.api_addr.to_string(),
            method,
            path,
            Some(token),
            body,
        )
        .await
        .expect("the API answers")
    }
}

/// Connect as alice to `pg.test` through the gateway on `port`.
pub async fn connect(
    port: u16,
    token: &str,
) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let conninfo = format!(
        "host=127.0.0.1 port={port} user={USER} dbname=pg.test password={token} sslmode=disable"
    );
    let (client, connection) = tokio_postgres::connect(&conninfo, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

/// Every event in the store, in sequence order.
pub async fn all_events(store: &Store) -> Vec<AuditEvent> {
    let mut all = Vec::new();
    loop {
        let after = all.last().map_or(0, |e: &AuditEvent| e.sequence);
        let page = store.audit().after(after, 1000).await.unwrap();
        if page.is_empty() {
            return all;
        }
        all.extend(page);
    }
}

pub fn attribute<'a>(event: &'a AuditEvent, key: &str) -> Option<&'a str> {
    event
        .attributes
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// Poll `check` every 20 ms until it holds, for at most `limit`.
pub async fn eventually<F, Fut>(limit: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: String,
    pub body: String,
}

impl Response {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }
}

/// One HTTP/1.1 request (`Connection: close`), chunked bodies decoded.
pub async fn http(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> std::io::Result<Response> {
    let mut stream = TcpStream::connect(addr).await?;
    let body = body.unwrap_or("");
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(token) = token {
        request.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    if !body.is_empty() {
        request.push_str("Content-Type: application/json\r\n");
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(request.as_bytes()).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, rest) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other(format!("no HTTP head in {text:?}")))?;
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other("no status"))?;
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_string()
    };
    Ok(Response {
        status,
        headers: head.to_string(),
        body,
    })
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    loop {
        let Some((size, after)) = rest.split_once("\r\n") else {
            return out;
        };
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 {
            return out;
        }
        out.push_str(&after[..size]);
        rest = &after[size + 2..];
    }
}

/// A request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: String,
    pub body: serde_json::Value,
    /// The status it answered.
    pub status: u16,
}

/// A webhook receiver answering 500 to the first `fail_first` requests
/// (all of them with `usize::MAX`) and 200 after.
pub struct Receiver {
    pub url: String,
    pub received: Arc<Mutex<Vec<Received>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    pub async fn start(fail_first: usize) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = received.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let log = log.clone();
                tokio::spawn(async move {
                    let Some((headers, body)) = read_request(&mut socket).await else {
                        return;
                    };
                    let status = {
                        let mut log = log.lock().unwrap();
                        let status = if log.len() < fail_first { 500 } else { 200 };
                        log.push(Received {
                            headers,
                            body: serde_json::from_slice(&body).unwrap_or_default(),
                            status,
                        });
                        status
                    };
                    let reply = format!(
                        "HTTP/1.1 {status} X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
                    );
                    let _ = socket.write_all(reply.as_bytes()).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        Self {
            url,
            received,
            task,
        }
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn read_request(socket: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let n = socket.read(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        raw.extend_from_slice(&buf[..n]);
        let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&raw[..end]).into_owned();
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().ok())?
            })
            .unwrap_or(0);
        while raw.len() < end + 4 + length {
            let n = socket.read(&mut buf).await.ok()?;
            if n == 0 {
                return None;
            }
            raw.extend_from_slice(&buf[..n]);
        }
        return Some((head, raw[end + 4..end + 4 + length].to_vec()));
    }
}
