//! Connections: a resource's roles (`billing-db.read-only`), each with its
//! own upstream login, attributes and plugins.
//!
//! Secrets: create and update take a `password` as a value (sealed by the
//! store before it reaches SQL) or a reference (`{"env": "VAR"}`,
//! `{"file": "/run/secrets/x"}`); `null` on update removes it. No response
//! carries it: admins see `has_password` and `password_source` (`"stored"`
//! or the reference), users see neither. [`PasswordInput`]'s `Debug` hides
//! the value, and body errors never quote it.
//!
//! `POST …/test` resolves the credentials and hands them to the gateway's
//! [`crate::ConnectionTester`] under a timeout; the outcome is a 200 with
//! `ok: true|false` (a failing upstream is an answer, not an API error) and
//! an audit row `connection.test`.

use super::{created, double_option, no_content, visible_connection};
use crate::access;
use crate::authn::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Body, Path, Query};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::response::Response;
use gatehouse_store::Secret;
use gatehouse_store::SecretRef;
use gatehouse_store::audit::{NewAuditEvent, Outcome};
use gatehouse_store::connections::{Connection, ConnectionUpdate, NewConnection, Password};
use gatehouse_store::resources::ResourceKind;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// How long a connection test may take.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(15);

/// A password as given: the value, or where the gateway reads it.
#[derive(Deserialize)]
#[serde(untagged)]
pub enum PasswordInput {
    Value(String),
    Ref(SecretRef),
}

impl std::fmt::Debug for PasswordInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PasswordInput::Value(_) => f.write_str("Value(***)"),
            PasswordInput::Ref(r) => write!(f, "Ref({r:?})"),
        }
    }
}

impl From<PasswordInput> for Password {
    fn from(input: PasswordInput) -> Self {
        match input {
            PasswordInput::Value(value) => Password::Value(Secret::new(value)),
            PasswordInput::Ref(reference) => Password::Ref(reference),
        }
    }
}

/// What users see of a connection.
#[derive(Debug, Serialize)]
pub struct UserConnection {
    pub name: String,
    pub resource: String,
    pub role: String,
    pub kind: ResourceKind,
    pub description: String,
    pub attributes: BTreeMap<String, String>,
}

#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum ConnectionView {
    Admin(Connection),
    User(UserConnection),
}

fn view(caller: &Caller, c: Connection) -> ConnectionView {
    if caller.sees_all() {
        ConnectionView::Admin(c)
    } else {
        ConnectionView::User(UserConnection {
            name: c.name,
            resource: c.resource,
            role: c.role,
            kind: c.kind,
            description: c.description,
            attributes: c.attributes,
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only this resource's roles.
    pub resource: Option<String>,
}

pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
    Query(query): Query<ListQuery>,
) -> ApiResult<Json<Vec<ConnectionView>>> {
    let connections = access::accessible(app.store(), caller.user()?).await?;
    Ok(Json(
        connections
            .into_iter()
            .filter(|c| query.resource.as_ref().is_none_or(|r| &c.resource == r))
            .map(|c| view(&caller, c))
            .collect(),
    ))
}

pub async fn show(
    State(app): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<ConnectionView>> {
    let connection = visible_connection(&app, &caller, &name).await?;
    Ok(Json(view(&caller, connection)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateConnection {
    /// `resource.role`; or give `resource` and `role`.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub resource: Option<String>,
    #[serde(default)]
    pub role: Option<String>,
    /// The role's purpose.
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub database: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<PasswordInput>,
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
}

pub async fn create(
    State(app): State<AppState>,
    caller: Caller,
    Body(body): Body<CreateConnection>,
) -> ApiResult<Response> {
    let (resource, role) = match (body.name, body.resource, body.role) {
        (Some(name), None, None) => match name.split_once('.') {
            Some((resource, role)) => (resource.to_string(), role.to_string()),
            None => return Err(ApiError::invalid("name must be resource.role")),
        },
        (None, Some(resource), Some(role)) => (resource, role),
        _ => {
            return Err(ApiError::invalid(
                "give either name (resource.role) or both resource and role",
            ));
        }
    };
    let new = NewConnection {
        resource,
        role,
        description: body.description,
        database: body.database,
        username: body.username,
        password: body.password.map(Password::from),
        attributes: body.attributes,
    };
    let connection = app
        .store()
        .connections()
        .create(&caller.actor()?, new)
        .await?;
    app.changed();
    Ok(created(connection))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateConnection {
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    pub database: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    pub username: Option<Option<String>>,
    /// `null` removes the password.
    #[serde(default, deserialize_with = "double_option")]
    pub password: Option<Option<PasswordInput>>,
    /// Replaces every attribute.
    #[serde(default)]
    pub attributes: Option<BTreeMap<String, String>>,
}

pub async fn update(
    State(app): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    Body(body): Body<UpdateConnection>,
) -> ApiResult<Json<Connection>> {
    let connection = visible_connection(&app, &caller, &name).await?;
    let update = ConnectionUpdate {
        description: body.description,
        database: body.database,
        username: body.username,
        password: body.password.map(|p| p.map(Password::from)),
        attributes: body.attributes,
    };
    let connection = app
        .store()
        .connections()
        .update(&caller.actor()?, connection.id, update)
        .await?;
    app.changed();
    Ok(Json(connection))
}

pub async fn delete(
    State(app): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    let connection = visible_connection(&app, &caller, &name).await?;
    app.store()
        .connections()
        .delete(&caller.actor()?, connection.id)
        .await?;
    app.changed();
    Ok(no_content())
}

/// The outcome of `POST /api/connections/{name}/test`.
#[derive(Debug, Serialize)]
pub struct TestOutcome {
    pub connection: String,
    pub ok: bool,
    pub latency_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

pub async fn test(
    State(app): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<TestOutcome>> {
    let connection = visible_connection(&app, &caller, &name).await?;
    let started = Instant::now();
    let result = match app
        .store()
        .connections()
        .resolve_credentials(connection.id)
        .await
    {
        // Names the reference or key id, never a value.
        Err(e) => Err(format!("credentials: {e}")),
        Ok(credentials) => {
            match tokio::time::timeout(TEST_TIMEOUT, app.api.tester.test(&connection, credentials))
                .await
            {
                Ok(result) => result,
                Err(_) => Err(format!("no answer within {TEST_TIMEOUT:?}")),
            }
        }
    };
    let latency_ms = started.elapsed().as_millis() as u64;
    let outcome = TestOutcome {
        connection: connection.name.clone(),
        ok: result.is_ok(),
        latency_ms,
        detail: result.as_ref().ok().map(|r| r.detail.clone()),
        error: result.as_ref().err().cloned(),
    };
    let actor = caller.actor()?;
    let mut event = NewAuditEvent::new(
        "admin",
        "connection.test",
        if outcome.ok {
            Outcome::Success
        } else {
            Outcome::Failure
        },
    );
    event.actor = Some(actor.identity);
    event.client_address = actor.client_address;
    event.connection = Some(connection.name.clone());
    event.target = Some(format!("connection:{}", connection.name));
    event.reason = outcome.error.clone();
    app.store().audit().append(event).await?;
    Ok(Json(outcome))
}
