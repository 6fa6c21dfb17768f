//! Plugin bindings of a connection, addressed by plugin name
//! (`/api/connections/billing-db.read-only/plugins/guardrails`): a
//! connection binds each plugin at most once.
//!
//! Before a binding is stored (added or changed) the plugin version it
//! resolves to is loaded into the runtime and bound for real
//! ([`gatehouse_runtime::Binding::new`]): the plugin's own
//! `validate-config` runs on the config, grants are checked against its
//! manifest and limits against the engine. A refusal is a 400
//! `invalid_config` and nothing is written; the store then checks its own
//! rules (config schema, declared capabilities) in the same call that
//! writes. Every change bumps the catalog signal.
//!
//! Secrets: a binding's `secrets` (top-level config keys whose values are
//! secret) are taken here and handed to the store, which seals them; no
//! response carries a value, only `secrets_set` (the names). What the
//! plugin validates is the config with the secrets merged in
//! ([`PluginConfig`]), and a plugin's refusal is redacted of secret values
//! before it reaches the response. `PATCH` changes secrets per key (a value
//! sets, `null` removes, keys not named are kept).

use super::{created, no_content, not_found_as};
use crate::authn::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Body, Path};
use crate::state::{App, AppState};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use gatehouse_runtime::{BindError, Limits};
use gatehouse_store::StoreError;
use gatehouse_store::bindings::{
    Binding, BindingSecrets, BindingUpdate, Grants, NewBinding, Pin, PluginConfig, SecretsUpdate,
    merge_config,
};
use gatehouse_store::connections::Connection;
use serde::Deserialize;
use serde_json::Value as Json_;
use std::time::Duration;

async fn connection(app: &App, name: &str) -> ApiResult<Connection> {
    app.store()
        .connections()
        .by_name(name)
        .await
        .map_err(|e| not_found_as(e, format!("connection {name}")))
}

async fn binding(app: &App, connection: &Connection, plugin: &str) -> ApiResult<Binding> {
    app.store()
        .bindings()
        .list(connection.id)
        .await?
        .into_iter()
        .find(|b| b.plugin == plugin)
        .ok_or_else(|| {
            ApiError::not_found(format!("binding of plugin {plugin} on {}", connection.name))
        })
}

fn pin_text(pin: &Pin) -> String {
    match pin {
        Pin::Latest => "latest".into(),
        Pin::Version(v) => format!("version {v}"),
        Pin::Digest(d) => format!("digest {d}"),
    }
}

/// Binds `plugin` at `pin` with this config (secrets merged in), grants
/// and limits in the runtime (running its `validate-config`), without
/// storing anything.
pub async fn validate_with_runtime(
    app: &App,
    plugin: &str,
    pin: &Pin,
    config: &PluginConfig,
    grants: &Grants,
    deadline_ms: u32,
    memory_mb: u32,
) -> ApiResult<()> {
    let store = app.store();
    let version = store
        .plugins()
        .resolve(plugin, pin)
        .await
        .map_err(|e| match e {
            StoreError::NotFound { .. } => ApiError::invalid(format!(
                "plugin {plugin} ({}) is not installed",
                pin_text(pin)
            )),
            other => other.into(),
        })?;
    let bytes = store.plugins().component(version.id).await?;
    let loaded = app.api.runtime.load(&bytes).await.map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_plugin",
            format!("plugin {plugin} {}: {e}", version.version),
        )
    })?;
    validate_loaded(app, loaded, config, grants, deadline_ms, memory_mb).await
}

/// Binds an already loaded plugin (see [`validate_with_runtime`]). A
/// refusal's message has the secrets' values redacted (a plugin may quote
/// the value it could not parse).
pub async fn validate_loaded(
    app: &App,
    loaded: std::sync::Arc<gatehouse_runtime::LoadedPlugin>,
    config: &PluginConfig,
    grants: &Grants,
    deadline_ms: u32,
    memory_mb: u32,
) -> ApiResult<()> {
    if !config.json().is_object() {
        return Err(ApiError::invalid("config must be a JSON object"));
    }
    let runtime_grants = gatehouse_runtime::Grants {
        http: grants.http.clone(),
        files: grants.files.clone().map(Into::into),
        key_value: grants.key_value,
    };
    let limits = Limits {
        deadline: Duration::from_millis(u64::from(deadline_ms)),
        memory_bytes: (memory_mb as usize) << 20,
    };
    gatehouse_runtime::Binding::new(
        &app.api.runtime,
        loaded,
        &config.to_text(),
        runtime_grants,
        limits,
    )
    .await
    .map(drop)
    .map_err(|e: BindError| {
        let message = config.redact(&e.to_string());
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_config", message)
    })
}

pub async fn list(
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<Json<Vec<Binding>>> {
    let connection = connection(&app, &name).await?;
    Ok(Json(app.store().bindings().list(connection.id).await?))
}

pub async fn show(
    State(app): State<AppState>,
    Path((name, plugin)): Path<(String, String)>,
) -> ApiResult<Json<Binding>> {
    let connection = connection(&app, &name).await?;
    Ok(Json(binding(&app, &connection, &plugin).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddBinding {
    pub plugin: String,
    /// `"latest"` (default), `{"version": "1.2.0"}` or `{"digest": "<sha256>"}`.
    #[serde(default)]
    pub pin: Pin,
    #[serde(default = "empty_object")]
    pub config: Json_,
    /// Secret config keys (any JSON values): sealed at rest, never
    /// returned, merged into the config the plugin gets.
    #[serde(default)]
    pub secrets: Option<Json_>,
    #[serde(default)]
    pub grants: Grants,
    #[serde(default = "default_deadline")]
    pub deadline_ms: u32,
    #[serde(default = "default_memory")]
    pub memory_mb: u32,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Where it runs; default: after the others.
    #[serde(default)]
    pub position: Option<i64>,
}

fn empty_object() -> Json_ {
    Json_::Object(Default::default())
}
fn default_deadline() -> u32 {
    100
}
fn default_memory() -> u32 {
    32
}
fn yes() -> bool {
    true
}

pub async fn add(
    State(app): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    Body(body): Body<AddBinding>,
) -> ApiResult<Response> {
    let connection = connection(&app, &name).await?;
    let secrets = match body.secrets {
        Some(secrets) => BindingSecrets::from_json(secrets).map_err(StoreError::from)?,
        None => BindingSecrets::new(),
    };
    let config = merge_config(&body.config, &secrets).map_err(StoreError::from)?;
    validate_with_runtime(
        &app,
        &body.plugin,
        &body.pin,
        &config,
        &body.grants,
        body.deadline_ms,
        body.memory_mb,
    )
    .await?;
    let new = NewBinding {
        plugin: body.plugin,
        pin: body.pin,
        config: body.config,
        secrets,
        grants: body.grants,
        deadline_ms: body.deadline_ms,
        memory_mb: body.memory_mb,
        enabled: body.enabled,
        position: body.position,
    };
    let binding = app
        .store()
        .bindings()
        .add(&caller.actor()?, connection.id, new)
        .await?;
    app.changed();
    Ok(created(binding))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateBinding {
    #[serde(default)]
    pub pin: Option<Pin>,
    /// Replaces the whole (clear) config.
    #[serde(default)]
    pub config: Option<Json_>,
    /// Per key: a value sets (or replaces) the secret, `null` removes it;
    /// keys not named, or no `secrets` at all, keep their stored values.
    #[serde(default)]
    pub secrets: Option<Json_>,
    #[serde(default)]
    pub grants: Option<Grants>,
    #[serde(default)]
    pub deadline_ms: Option<u32>,
    #[serde(default)]
    pub memory_mb: Option<u32>,
    #[serde(default)]
    pub enabled: Option<bool>,
}

pub async fn update(
    State(app): State<AppState>,
    caller: Caller,
    Path((name, plugin)): Path<(String, String)>,
    Body(body): Body<UpdateBinding>,
) -> ApiResult<Json<Binding>> {
    let connection = connection(&app, &name).await?;
    let current = binding(&app, &connection, &plugin).await?;
    let secrets = match body.secrets {
        Some(changes) => SecretsUpdate::from_json(changes).map_err(StoreError::from)?,
        None => SecretsUpdate::new(),
    };
    let update = BindingUpdate {
        pin: body.pin,
        config: body.config,
        secrets,
        grants: body.grants,
        deadline_ms: body.deadline_ms,
        memory_mb: body.memory_mb,
        enabled: body.enabled,
    };
    let config = app
        .store()
        .bindings()
        .config_after(current.id, &update)
        .await?;
    validate_with_runtime(
        &app,
        &current.plugin,
        update.pin.as_ref().unwrap_or(&current.pin),
        &config,
        update.grants.as_ref().unwrap_or(&current.grants),
        update.deadline_ms.unwrap_or(current.deadline_ms),
        update.memory_mb.unwrap_or(current.memory_mb),
    )
    .await?;
    let binding = app
        .store()
        .bindings()
        .update(&caller.actor()?, current.id, update)
        .await?;
    app.changed();
    Ok(Json(binding))
}

pub async fn remove(
    State(app): State<AppState>,
    caller: Caller,
    Path((name, plugin)): Path<(String, String)>,
) -> ApiResult<Response> {
    let connection = connection(&app, &name).await?;
    let current = binding(&app, &connection, &plugin).await?;
    app.store()
        .bindings()
        .remove(&caller.actor()?, current.id)
        .await?;
    app.changed();
    Ok(no_content())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Order {
    /// Every bound plugin's name, once, first to run first.
    pub order: Vec<String>,
}

pub async fn reorder(
    State(app): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    Body(body): Body<Order>,
) -> ApiResult<Json<Vec<Binding>>> {
    let connection = connection(&app, &name).await?;
    let bindings = app.store().bindings().list(connection.id).await?;
    let mut ids = Vec::with_capacity(body.order.len());
    for plugin in &body.order {
        let binding = bindings
            .iter()
            .find(|b| &b.plugin == plugin)
            .ok_or_else(|| {
                ApiError::invalid(format!(
                    "plugin {plugin} is not bound on {}",
                    connection.name
                ))
            })?;
        ids.push(binding.id);
    }
    let after = app
        .store()
        .bindings()
        .reorder(&caller.actor()?, connection.id, &ids)
        .await?;
    app.changed();
    Ok(Json(after))
}
