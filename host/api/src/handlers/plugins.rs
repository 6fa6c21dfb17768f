//! Plugins: upload a component to install (or upgrade) it, list, remove a
//! version.
//!
//! `POST /api/plugins` takes the `.wasm` as the body
//! (`Content-Type: application/wasm` or `application/octet-stream`, at most
//! [`MAX_COMPONENT_BYTES`]). The runtime loads it — compile, link against
//! the `gatehouse:plugin@0.1` world, instantiate, `describe` — so a file
//! that is not a component, targets another world, or describes itself
//! badly is a 400 `invalid_plugin` and nothing is stored. Name, version,
//! description, hooks and capabilities come from its manifest.
//!
//! Upgrade = the same name with a new version: it becomes the latest, so
//! every binding that follows latest gets it in **new** sessions once the
//! gateway reloads its catalog (the change signal is bumped after the
//! store commits); live sessions keep the version they loaded. Before
//! storing, each such binding is bound against the new version in the
//! runtime (its `validate-config` runs on the binding's config): one that
//! would not validate makes the upload a 409 naming it, so latest never
//! resolves to a version that rejects its bindings. The same name, version
//! and bytes again is a no-op (200); other bytes under a taken version are
//! a 409.

use super::bindings::validate_loaded;
use super::{no_content, not_found_as};
use crate::authn::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::Path;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use gatehouse_runtime::types::{Capability, Hook};
use gatehouse_store::bindings::Pin;
pub use gatehouse_store::plugins::MAX_COMPONENT_BYTES;
use gatehouse_store::plugins::{NewPlugin, Plugin};
use serde::Serialize;

pub async fn list(State(app): State<AppState>) -> ApiResult<Json<Vec<Plugin>>> {
    Ok(Json(app.store().plugins().list().await?))
}

/// A plugin with its versions.
#[derive(Debug, Serialize)]
pub struct PluginVersions {
    pub name: String,
    /// The version bindings that follow latest run.
    pub latest: String,
    /// Newest first.
    pub versions: Vec<Plugin>,
}

pub async fn show(
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<Json<PluginVersions>> {
    let versions = app.store().plugins().versions(&name).await?;
    let latest = versions
        .first()
        .ok_or_else(|| ApiError::not_found(format!("plugin {name}")))?
        .version
        .clone();
    Ok(Json(PluginVersions {
        name,
        latest,
        versions,
    }))
}

pub async fn remove(
    State(app): State<AppState>,
    caller: Caller,
    Path((name, version)): Path<(String, String)>,
) -> ApiResult<Response> {
    let store = app.store();
    let plugin = store
        .plugins()
        .resolve(&name, &Pin::Version(version.clone()))
        .await
        .map_err(|e| not_found_as(e, format!("plugin {name} version {version}")))?;
    store.plugins().remove(&caller.actor()?, plugin.id).await?;
    app.changed();
    Ok(no_content())
}

fn hook_name(hook: Hook) -> &'static str {
    match hook {
        Hook::OnConnect => "on-connect",
        Hook::OnQuery => "on-query",
        Hook::OnResult => "on-result",
        Hook::OnDisconnect => "on-disconnect",
        Hook::OnReview => "on-review",
        Hook::OnAuditEvent => "on-audit-event",
    }
}

fn capability_name(capability: Capability) -> &'static str {
    match capability {
        Capability::HttpOutbound => "http-outbound",
        Capability::Files => "files",
        Capability::KeyValue => "key-value",
    }
}

/// The answer to an upload.
#[derive(Debug, Serialize)]
pub struct Installed {
    pub plugin: Plugin,
    /// `false`: these exact bytes were already installed under this version.
    pub created: bool,
    /// The version that was latest before (an upgrade or a rollback), if
    /// any other.
    pub previous_latest: Option<String>,
}

pub async fn install(
    State(app): State<AppState>,
    caller: Caller,
    request: Request,
) -> ApiResult<Response> {
    let wasm = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .is_some_and(|m| m == "application/wasm" || m == "application/octet-stream");
    if !wasm {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "upload the component as the body with Content-Type: application/wasm",
        ));
    }
    let bytes = axum::body::to_bytes(request.into_body(), MAX_COMPONENT_BYTES)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("a component is at most {MAX_COMPONENT_BYTES} bytes"),
            )
        })?;
    if bytes.is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_plugin",
            "the body is empty; upload the .wasm component",
        ));
    }
    let loaded = app
        .api
        .runtime
        .load(&bytes)
        .await
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_plugin", e.to_string()))?;
    let manifest = &loaded.manifest;
    let store = app.store();
    let digest = gatehouse_store::plugins::digest(&bytes);

    // Already there (idempotent re-upload) or a clash on the version.
    if let Ok(existing) = store
        .plugins()
        .resolve(&manifest.name, &Pin::Version(manifest.version.clone()))
        .await
    {
        if existing.digest == digest {
            return Ok((
                StatusCode::OK,
                Json(Installed {
                    plugin: existing,
                    created: false,
                    previous_latest: None,
                }),
            )
                .into_response());
        }
        return Err(ApiError::conflict(format!(
            "plugin {} version {} is already installed with other contents (digest {}); give the new build a new version",
            manifest.name, manifest.version, existing.digest
        )));
    }

    let previous_latest = store.plugins().latest(&manifest.name).await.ok();

    // Every binding that follows latest must accept the new version.
    let mut refused = Vec::new();
    if previous_latest.is_some() {
        for connection in store.connections().list().await? {
            for binding in store.bindings().list(connection.id).await? {
                if binding.plugin != manifest.name || binding.pin != Pin::Latest {
                    continue;
                }
                // What the plugin would get: the config with its secrets.
                let config = store.bindings().plugin_config(binding.id).await?;
                if let Err(e) = validate_loaded(
                    &app,
                    loaded.clone(),
                    &config,
                    &binding.grants,
                    binding.deadline_ms,
                    binding.memory_mb,
                )
                .await
                {
                    refused.push(format!("{} ({})", connection.name, e.message));
                }
            }
        }
    }
    if !refused.is_empty() {
        return Err(ApiError::conflict(format!(
            "plugin {} {} would become latest, but these bindings follow latest and it refuses them; \
             pin them or update their config first: {}",
            manifest.name,
            manifest.version,
            refused.join("; ")
        )));
    }

    let new = NewPlugin {
        name: manifest.name.clone(),
        version: manifest.version.clone(),
        description: manifest.description.clone(),
        hooks: manifest
            .hooks
            .iter()
            .map(|h| hook_name(*h).to_string())
            .collect(),
        capabilities: manifest
            .capabilities
            .iter()
            .map(|c| capability_name(*c).to_string())
            .collect(),
        config_schema: None,
        component: bytes.to_vec(),
    };
    let plugin = store.plugins().install(&caller.actor()?, new).await?;
    app.changed();
    tracing::info!(
        plugin = %plugin.name,
        version = %plugin.version,
        previous = previous_latest.as_ref().map(|p| p.version.as_str()),
        "plugin installed"
    );
    Ok((
        StatusCode::CREATED,
        Json(Installed {
            plugin,
            created: true,
            previous_latest: previous_latest.map(|p| p.version),
        }),
    )
        .into_response())
}
