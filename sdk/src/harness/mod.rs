//! Run a plugin in the real Gatehouse runtime from `cargo test`.
//!
//! ```ignore
//! use gatehouse_sdk::{QueryVerdict, harness::*};
//!
//! #[test]
//! fn denies_drop() {
//!     let plugin = gatehouse_sdk::test_plugin!();
//!     let mut session = plugin.session(r#"{"deny_statements": ["drop"]}"#).open().unwrap();
//!     assert!(matches!(session.query("drop table t"), QueryVerdict::Deny(_)));
//! }
//! ```
//!
//! [`test_plugin!`](crate::test_plugin) builds the calling crate as a
//! `wasm32-wasip2` component (a nested `cargo build --release` into
//! `<target>/wasm`, once per test process) and loads it into the same
//! runtime the gateway uses: same linker, sandbox, deadlines, memory caps
//! and fail-closed rules. No database and no gateway are involved. Set
//! `GATEHOUSE_PLUGIN_DIR` to a directory of prebuilt `.wasm` files to skip
//! the nested build (the project's test command does).
//!
//! Review and audit plugins run in a *service* instance (`init(none)`):
//! [`TestPlugin::service`] starts one, and [`TestService`] calls
//! `on-review` and `on-audit-event` with the SDK's own types.
//!
//! Everything here panics with a clear message on setup errors: these are
//! test helpers. Verdicts come back as the SDK's own types, so tests compare
//! against the same `QueryVerdict` the plugin returns.

pub mod receiver;

use crate::{ConnectVerdict, ConnectionKind, QueryVerdict, Role};
use gatehouse_runtime::{self as runtime, types as rt};
use std::cell::Cell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// The host's query filter, for tests of what `on_query_keywords` lets it
/// skip.
pub use gatehouse_runtime::QueryFilter;
pub use gatehouse_runtime::{Grants, Limits, PluginFault};

/// The runtime shared by every test of the process.
fn shared_runtime() -> &'static runtime::Runtime {
    static RUNTIME: OnceLock<runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        let mut settings = runtime::RuntimeSettings::default();
        settings.engine.max_instances = 200;
        settings.engine.max_memory_bytes = 128 << 20;
        settings.clock = Arc::new(HarnessClock);
        settings.cache_dir = target_dir().ok().map(|t| t.join("gatehouse-compiled"));
        runtime::Runtime::new(settings).expect("starting the Gatehouse plugin runtime")
    })
}

thread_local! {
    /// The time the current test's plugins see, if fixed.
    static FIXED_CLOCK_MILLIS: Cell<Option<u64>> = const { Cell::new(None) };
}

/// Hooks run on the test's own thread (current-thread executor), so a
/// thread-local override gives each test its own clock.
struct HarnessClock;

impl runtime::Clock for HarnessClock {
    fn now(&self) -> Duration {
        match FIXED_CLOCK_MILLIS.with(Cell::get) {
            Some(millis) => Duration::from_millis(millis),
            None => runtime::SystemClock.now(),
        }
    }
}

/// The cargo target directory of the running test binary.
fn target_dir() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    gatehouse_plugin_build::enclosing_target_dir(&exe).ok_or_else(|| {
        format!(
            "cannot find the cargo target directory above {}",
            exe.display()
        )
    })
}

/// Build `package` (whose manifest is in `manifest_dir`) as a component and
/// return the `.wasm` path. Built once per process per package.
pub fn build_component(package: &str, manifest_dir: &Path) -> Result<PathBuf, String> {
    static BUILT: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    let built = BUILT.get_or_init(Default::default);
    let mut built = built.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(path) = built.get(package) {
        return Ok(path.clone());
    }
    let file = gatehouse_plugin_build::wasm_file_name(package);
    if let Ok(dir) = std::env::var("GATEHOUSE_PLUGIN_DIR") {
        let prebuilt = Path::new(&dir).join(&file);
        if prebuilt.exists() {
            built.insert(package.to_string(), prebuilt.clone());
            return Ok(prebuilt);
        }
    }
    let wasm_target = target_dir()?.join("wasm");
    let dir =
        gatehouse_plugin_build::build(&manifest_dir.join("Cargo.toml"), &[package], &wasm_target)?;
    let path = dir.join(file);
    built.insert(package.to_string(), path.clone());
    Ok(path)
}

/// Build and load the calling crate's plugin: `gatehouse_sdk::test_plugin!()`.
#[macro_export]
macro_rules! test_plugin {
    () => {
        $crate::harness::TestPlugin::build(env!("CARGO_PKG_NAME"), env!("CARGO_MANIFEST_DIR"))
    };
}

/// A plugin loaded into the shared test runtime.
pub struct TestPlugin {
    plugin: Arc<runtime::LoadedPlugin>,
    executor: tokio::runtime::Runtime,
}

fn executor() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("building a tokio runtime")
}

impl TestPlugin {
    /// Build `package` from `manifest_dir` and load it. Panics on failure.
    pub fn build(package: &str, manifest_dir: &str) -> Self {
        let path =
            build_component(package, Path::new(manifest_dir)).unwrap_or_else(|e| panic!("{e}"));
        Self::load_file(&path).unwrap_or_else(|e| panic!("loading {}: {e}", path.display()))
    }

    /// Load a prebuilt component.
    pub fn load_file(path: &Path) -> Result<Self, String> {
        let executor = executor();
        let plugin = executor
            .block_on(shared_runtime().load_file(path))
            .map_err(|e| e.to_string())?;
        Ok(Self { plugin, executor })
    }

    /// Load component bytes (for testing how the runtime refuses bad ones).
    pub fn load_bytes(bytes: &[u8]) -> Result<Self, String> {
        let executor = executor();
        let plugin = executor
            .block_on(shared_runtime().load(bytes))
            .map_err(|e| e.to_string())?;
        Ok(Self { plugin, executor })
    }

    /// What the plugin declared about itself.
    pub fn manifest(&self) -> &rt::Manifest {
        &self.plugin.manifest
    }

    /// Whether the plugin declared `hook` (the host calls nothing else).
    pub fn implements(&self, hook: crate::Hook) -> bool {
        self.plugin.implements(hook_to_runtime(hook))
    }

    /// What an admin binding this config would be told.
    pub fn validate_config(&self, config: &str) -> Result<(), String> {
        self.executor
            .block_on(runtime::Binding::new(
                shared_runtime(),
                self.plugin.clone(),
                config,
                Grants::default(),
                Limits::default(),
            ))
            .map(drop)
            .map_err(|e| e.to_string())
    }

    /// Start describing a session that uses this plugin with `config`.
    pub fn session(&self, config: &str) -> SessionBuilder<'_> {
        SessionBuilder {
            plugin: self,
            config: config.to_string(),
            grants: Grants::default(),
            limits: Limits::default(),
            identity: rt::Identity {
                user_id: "u-test".into(),
                email: "tester@example.com".into(),
                groups: Vec::new(),
                role: rt::Role::User,
            },
            connection: rt::Connection {
                name: "test-db".into(),
                kind: rt::ConnectionKind::Postgres,
                resource_name: "test-db".into(),
                attributes: Vec::new(),
            },
            clock_millis: None,
        }
    }
}

/// A session under construction; [`SessionBuilder::open`] instantiates it.
pub struct SessionBuilder<'a> {
    plugin: &'a TestPlugin,
    config: String,
    grants: Grants,
    limits: Limits,
    identity: rt::Identity,
    connection: rt::Connection,
    clock_millis: Option<u64>,
}

impl<'a> SessionBuilder<'a> {
    /// The connecting user (role `user` unless [`Self::role`] says otherwise).
    pub fn user(mut self, email: &str, groups: &[&str]) -> Self {
        self.identity.email = email.into();
        self.identity.user_id = format!("u-{email}");
        self.identity.groups = groups.iter().map(|g| g.to_string()).collect();
        self
    }

    pub fn role(mut self, role: Role) -> Self {
        self.identity.role = role_to_runtime(role);
        self
    }

    pub fn connection(mut self, name: &str, kind: ConnectionKind) -> Self {
        self.connection.name = name.into();
        self.connection.resource_name = name.split('.').next().unwrap_or(name).into();
        self.connection.kind = match kind {
            ConnectionKind::Postgres => rt::ConnectionKind::Postgres,
            ConnectionKind::Mysql => rt::ConnectionKind::Mysql,
            ConnectionKind::Tcp => rt::ConnectionKind::Tcp,
            ConnectionKind::Http => rt::ConnectionKind::Http,
        };
        self
    }

    pub fn attribute(mut self, key: &str, value: &str) -> Self {
        self.connection.attributes.push((key.into(), value.into()));
        self
    }

    /// Capabilities granted on the binding.
    pub fn grants(mut self, grants: Grants) -> Self {
        self.grants = grants;
        self
    }

    /// Per-hook deadline (default 100 ms).
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.limits.deadline = deadline;
        self
    }

    /// Memory cap in bytes (default 32 MiB).
    pub fn memory_cap(mut self, bytes: usize) -> Self {
        self.limits.memory_bytes = bytes;
        self
    }

    /// Fix the wall clock the plugin sees (Unix milliseconds).
    pub fn clock_millis(mut self, millis: u64) -> Self {
        self.clock_millis = Some(millis);
        self
    }

    /// Bind the plugin (validating config and grants) and start a session.
    /// `Err` carries what an admin or user would be told.
    pub fn open(self) -> Result<TestSession<'a>, String> {
        let runtime = shared_runtime();
        let plugin = self.plugin;
        FIXED_CLOCK_MILLIS.with(|c| c.set(self.clock_millis));
        let session = rt::Session {
            id: format!("s-{}", next_id()),
            client_address: "127.0.0.1:50000".into(),
            verb: rt::SessionVerb::Connect,
            identity: self.identity,
            connection: self.connection,
            started_at: self.clock_millis.unwrap_or(0),
        };
        let plugins = plugin.executor.block_on(async {
            let binding = runtime::Binding::new(
                runtime,
                plugin.plugin.clone(),
                &self.config,
                self.grants,
                self.limits,
            )
            .await
            .map_err(|e| e.to_string())?;
            runtime::Pipeline::new(vec![Arc::new(binding)])
                .open_session(runtime, &session)
                .await
                .map_err(|e| e.to_string())
        })?;
        Ok(TestSession {
            plugin,
            plugins,
            clock_millis: self.clock_millis,
            next_query: 1,
            counters: Vec::new(),
        })
    }
}

fn next_id() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// A service instance under construction ([`TestPlugin::service`]);
/// [`ServiceBuilder::open`] starts it.
pub struct ServiceBuilder<'a> {
    plugin: &'a TestPlugin,
    config: String,
    grants: Grants,
    limits: Limits,
    clock_millis: Option<u64>,
}

impl TestPlugin {
    /// Start describing a *service* instance with `config`: what the gateway
    /// feeds review events and audit events to (`init(none)`, no session).
    pub fn service(&self, config: &str) -> ServiceBuilder<'_> {
        ServiceBuilder {
            plugin: self,
            config: config.to_string(),
            grants: Grants::default(),
            limits: Limits::default(),
            clock_millis: None,
        }
    }
}

impl<'a> ServiceBuilder<'a> {
    /// Capabilities granted on the binding.
    pub fn grants(mut self, grants: Grants) -> Self {
        self.grants = grants;
        self
    }

    /// Per-hook deadline (default 100 ms).
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.limits.deadline = deadline;
        self
    }

    /// Fix the wall clock the plugin sees (Unix milliseconds).
    pub fn clock_millis(mut self, millis: u64) -> Self {
        self.clock_millis = Some(millis);
        self
    }

    /// Bind the plugin (validating config and grants) and start the service
    /// instance. `Err` carries what an admin would be told.
    pub fn open(self) -> Result<TestService<'a>, String> {
        let runtime = shared_runtime();
        let plugin = self.plugin;
        FIXED_CLOCK_MILLIS.with(|c| c.set(self.clock_millis));
        let instance = plugin.executor.block_on(async {
            let binding = runtime::Binding::new(
                runtime,
                plugin.plugin.clone(),
                &self.config,
                self.grants,
                self.limits,
            )
            .await
            .map_err(|e| e.to_string())?;
            runtime
                .start_service(&binding)
                .await
                .map_err(|e| e.to_string())
        })?;
        Ok(TestService {
            plugin,
            instance,
            clock_millis: self.clock_millis,
        })
    }
}

/// A live service instance: review and audit-event hooks.
pub struct TestService<'a> {
    plugin: &'a TestPlugin,
    instance: runtime::PluginInstance,
    clock_millis: Option<u64>,
}

impl TestService<'_> {
    /// Change the time the plugin sees.
    pub fn set_clock_millis(&mut self, millis: u64) {
        self.clock_millis = Some(millis);
    }

    /// `on-review`, as the review workflow calls it. `Err` is a plugin
    /// fault (trap, deadline, memory cap), which changes nothing in the
    /// review. Panics if the plugin does not declare `on-review`.
    pub fn review(&mut self, event: &crate::ReviewEvent) -> Result<crate::ReviewVerdict, String> {
        assert!(
            self.plugin.implements(crate::Hook::OnReview),
            "the plugin does not declare on-review; the host would not call it"
        );
        let event = review_event_to_runtime(event);
        let verdict = run(
            self.plugin,
            self.clock_millis,
            self.instance.on_review(&event),
        )
        .map_err(|fault| fault.to_string())?;
        Ok(match verdict {
            rt::ReviewVerdict::NoChange => crate::ReviewVerdict::NoChange,
            rt::ReviewVerdict::Approve => crate::ReviewVerdict::Approve,
            rt::ReviewVerdict::Reject(reason) => crate::ReviewVerdict::Reject(reason),
        })
    }

    /// `on-audit-event`, as the audit pipeline calls it. `Err` is the
    /// plugin's own error or a fault; either makes the host retry. Panics if
    /// the plugin does not declare `on-audit-event`.
    pub fn audit_event(&mut self, event: &crate::AuditEvent) -> Result<(), String> {
        assert!(
            self.plugin.implements(crate::Hook::OnAuditEvent),
            "the plugin does not declare on-audit-event; the host would not call it"
        );
        let event = audit_event_to_runtime(event);
        run(
            self.plugin,
            self.clock_millis,
            self.instance.on_audit_event(&event),
        )
        .map_err(|fault| fault.to_string())?
    }
}

/// A live session running the plugin.
pub struct TestSession<'a> {
    plugin: &'a TestPlugin,
    plugins: runtime::SessionPlugins,
    clock_millis: Option<u64>,
    next_query: u64,
    counters: Vec<(String, u64)>,
}

/// A result column for [`TestSession::result`]: name and PostgreSQL type.
pub struct TestColumn<'a> {
    pub name: &'a str,
    pub type_name: &'a str,
    pub type_oid: u32,
}

impl<'a> TestColumn<'a> {
    /// A `text` column (OID 25).
    pub fn text(name: &'a str) -> Self {
        Self {
            name,
            type_name: "text",
            type_oid: 25,
        }
    }
}

impl TestSession<'_> {
    /// Change the time the plugin sees, mid-session.
    pub fn set_clock_millis(&mut self, millis: u64) {
        self.clock_millis = Some(millis);
    }

    /// `on-connect`, through the same fail-closed combination as the gateway.
    pub fn connect(&mut self) -> ConnectVerdict {
        let decision = run(self.plugin, self.clock_millis, self.plugins.on_connect());
        connect_verdict_to_sdk(decision.verdict)
    }

    /// `on-query` for a simple-protocol query. `Rewrite` carries the text
    /// that would run.
    pub fn query(&mut self, sql: &str) -> QueryVerdict {
        self.query_with(sql, rt::QueryProtocol::Simple, Vec::new())
    }

    /// `on-query` for a prepared statement with text parameters.
    pub fn query_prepared(&mut self, sql: &str, params: &[Option<&str>]) -> QueryVerdict {
        let params = params
            .iter()
            .map(|p| match p {
                Some(text) => rt::ParamValue::Text((*text).into()),
                None => rt::ParamValue::Null,
            })
            .collect();
        self.query_with(sql, rt::QueryProtocol::Prepared, params)
    }

    fn query_with(
        &mut self,
        sql: &str,
        protocol: rt::QueryProtocol,
        parameters: Vec<rt::ParamValue>,
    ) -> QueryVerdict {
        let mut query = rt::Query {
            id: self.next_query,
            text: sql.into(),
            protocol,
            parameters,
        };
        self.next_query += 1;
        let decision = run(
            self.plugin,
            self.clock_millis,
            self.plugins.on_query(&mut query),
        );
        query_verdict_to_sdk(decision.verdict)
    }

    /// Send a text-format result through the result hooks; returns the rows
    /// as the client would receive them, or the error that aborts the
    /// result. Counters reported at the end are kept ([`Self::counters`]).
    pub fn result(
        &mut self,
        columns: &[TestColumn<'_>],
        rows: &[Vec<Option<&str>>],
    ) -> Result<Vec<Vec<Option<String>>>, String> {
        let query_id = self.next_query;
        self.next_query += 1;
        let columns: Vec<rt::Column> = columns
            .iter()
            .map(|c| rt::Column {
                name: c.name.into(),
                type_oid: c.type_oid,
                type_name: c.type_name.into(),
                format: rt::CellFormat::Text,
            })
            .collect();
        let mut batch = rt::RowBatch {
            columns: columns.len() as u32,
            rows: rows.len() as u32,
            data: Vec::new(),
            cell_lengths: Vec::new(),
        };
        for row in rows {
            assert_eq!(
                row.len(),
                columns.len(),
                "each row needs one value per column"
            );
            for cell in row {
                match cell {
                    Some(text) => {
                        batch.data.extend_from_slice(text.as_bytes());
                        batch.cell_lengths.push(text.len() as i32);
                    }
                    None => batch.cell_lengths.push(-1),
                }
            }
        }
        let plugins = &mut self.plugins;
        let outcome: Result<Vec<rt::Counter>, PluginFault> =
            run(self.plugin, self.clock_millis, async {
                if plugins.on_result_start(query_id, &columns).await? {
                    plugins.on_result_rows(&mut batch).await?;
                }
                let summary = rt::ResultSummary {
                    command_tag: format!("SELECT {}", rows.len()),
                    rows: rows.len() as u64,
                };
                plugins.on_result_end(&summary).await
            });
        let counters = outcome.map_err(|e| e.to_string())?;
        self.counters
            .extend(counters.into_iter().map(|c| (c.name, c.value)));
        Ok(batch_to_rows(&batch))
    }

    /// Counters reported by `on-result-end` so far (`plugin.name`, value).
    pub fn counters(&self) -> &[(String, u64)] {
        &self.counters
    }

    /// `on-disconnect`.
    pub fn disconnect(mut self) {
        let summary = rt::SessionSummary {
            queries: self.next_query - 1,
            denied: 0,
            rows: 0,
            duration_ms: 0,
        };
        run(
            self.plugin,
            self.clock_millis,
            self.plugins.on_disconnect(&summary),
        );
    }
}

/// Run `future` on the plugin's executor with the session's clock set.
fn run<F: std::future::Future>(
    plugin: &TestPlugin,
    clock_millis: Option<u64>,
    future: F,
) -> F::Output {
    FIXED_CLOCK_MILLIS.with(|c| c.set(clock_millis));
    plugin.executor.block_on(future)
}

fn batch_to_rows(batch: &rt::RowBatch) -> Vec<Vec<Option<String>>> {
    let mut rows = Vec::with_capacity(batch.rows as usize);
    let mut offset = 0usize;
    let mut lengths = batch.cell_lengths.iter();
    for _ in 0..batch.rows {
        let mut row = Vec::with_capacity(batch.columns as usize);
        for _ in 0..batch.columns {
            let len = *lengths.next().expect("batch lengths");
            if len < 0 {
                row.push(None);
            } else {
                let end = offset + len as usize;
                row.push(Some(
                    String::from_utf8_lossy(&batch.data[offset..end]).into_owned(),
                ));
                offset = end;
            }
        }
        rows.push(row);
    }
    rows
}

fn hook_to_runtime(hook: crate::Hook) -> rt::Hook {
    match hook {
        crate::Hook::OnConnect => rt::Hook::OnConnect,
        crate::Hook::OnQuery => rt::Hook::OnQuery,
        crate::Hook::OnResult => rt::Hook::OnResult,
        crate::Hook::OnDisconnect => rt::Hook::OnDisconnect,
        crate::Hook::OnReview => rt::Hook::OnReview,
        crate::Hook::OnAuditEvent => rt::Hook::OnAuditEvent,
    }
}

fn role_to_runtime(role: Role) -> rt::Role {
    match role {
        Role::Admin => rt::Role::Admin,
        Role::User => rt::Role::User,
        Role::Approver => rt::Role::Approver,
    }
}

fn identity_to_runtime(identity: &crate::Identity) -> rt::Identity {
    rt::Identity {
        user_id: identity.user_id.clone(),
        email: identity.email.clone(),
        groups: identity.groups.clone(),
        role: role_to_runtime(identity.role),
    }
}

fn review_event_to_runtime(event: &crate::ReviewEvent) -> rt::ReviewEvent {
    use crate::{ReviewKind as K, ReviewState as S, ReviewTransition as T};
    let review = &event.review;
    rt::ReviewEvent {
        review: rt::Review {
            id: review.id.clone(),
            kind: match review.kind {
                K::OneTime => rt::ReviewKind::OneTime,
                K::Jit => rt::ReviewKind::Jit,
            },
            state: match review.state {
                S::Pending => rt::ReviewState::Pending,
                S::Approved => rt::ReviewState::Approved,
                S::Rejected => rt::ReviewState::Rejected,
                S::Revoked => rt::ReviewState::Revoked,
                S::Executed => rt::ReviewState::Executed,
                S::Expired => rt::ReviewState::Expired,
            },
            requester: identity_to_runtime(&review.requester),
            connection: review.connection.clone(),
            query: review.query.clone(),
            reason: review.reason.clone(),
            approver_groups: review.approver_groups.clone(),
            decisions: review
                .decisions
                .iter()
                .map(|d| rt::ReviewDecision {
                    approver: identity_to_runtime(&d.approver),
                    approved: d.approved,
                    comment: d.comment.clone(),
                    at: d.at,
                })
                .collect(),
            duration_minutes: review.duration_minutes,
            created_at: review.created_at,
        },
        transition: match event.transition {
            T::Requested => rt::ReviewTransition::Requested,
            T::DecisionAdded => rt::ReviewTransition::DecisionAdded,
            T::Approved => rt::ReviewTransition::Approved,
            T::Rejected => rt::ReviewTransition::Rejected,
            T::Revoked => rt::ReviewTransition::Revoked,
            T::Executed => rt::ReviewTransition::Executed,
            T::Expired => rt::ReviewTransition::Expired,
        },
        gateway_url: event.gateway_url.clone(),
    }
}

fn audit_event_to_runtime(event: &crate::AuditEvent) -> rt::AuditEvent {
    use crate::AuditOutcome as O;
    rt::AuditEvent {
        id: event.id.clone(),
        sequence: event.sequence,
        time: event.time,
        category: event.category.clone(),
        action: event.action.clone(),
        outcome: match event.outcome {
            O::Success => rt::AuditOutcome::Success,
            O::Failure => rt::AuditOutcome::Failure,
            O::Denied => rt::AuditOutcome::Denied,
            O::Pending => rt::AuditOutcome::Pending,
        },
        actor: event.actor.as_ref().map(identity_to_runtime),
        connection: event.connection.clone(),
        session_id: event.session_id.clone(),
        client_address: event.client_address.clone(),
        reason: event.reason.clone(),
        attributes: event.attributes.clone(),
    }
}

fn review_request_to_sdk(request: rt::ReviewRequest) -> crate::ReviewRequest {
    crate::ReviewRequest {
        reason: request.reason,
        approver_groups: request.approver_groups,
    }
}

fn connect_verdict_to_sdk(verdict: rt::ConnectVerdict) -> ConnectVerdict {
    match verdict {
        rt::ConnectVerdict::Allow => ConnectVerdict::Allow,
        rt::ConnectVerdict::Deny(reason) => ConnectVerdict::Deny(reason),
        rt::ConnectVerdict::Review(request) => {
            ConnectVerdict::Review(review_request_to_sdk(request))
        }
    }
}

fn query_verdict_to_sdk(verdict: rt::QueryVerdict) -> QueryVerdict {
    match verdict {
        rt::QueryVerdict::Allow => QueryVerdict::Allow,
        rt::QueryVerdict::Deny(reason) => QueryVerdict::Deny(reason),
        rt::QueryVerdict::Review(request) => QueryVerdict::Review(review_request_to_sdk(request)),
        rt::QueryVerdict::Rewrite(text) => QueryVerdict::Rewrite(text),
    }
}
