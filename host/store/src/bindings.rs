//! Plugin bindings: which plugins run on a connection, in what order, with
//! what config, capabilities and limits.
//!
//! A binding names a plugin and a [`Pin`]: a version, a digest, or latest
//! (see [`crate::plugins`] for how latest resolves and how hot upgrades
//! stay valid). One binding per plugin per connection; they run in
//! `position` order (ties by id). Adding or changing a binding checks it
//! against the version it resolves to now: the config must be a JSON
//! object valid under the plugin's config schema (when it has one), and
//! every granted capability must be declared by the plugin (the runtime
//! checks again when it binds: grants of undeclared capabilities are
//! refused twice). The plugin's own `validate-config` is for the caller
//! (the API) to run with the runtime before storing.
//!
//! [`Bindings::resolve`] is what a new session uses: the enabled bindings
//! of a connection, in order, each with the concrete plugin version it
//! runs. A pin whose version was removed cannot happen (removal is refused);
//! any resolution failure is an error, and the gateway must then refuse
//! the session (fail closed).

use crate::Store;
use crate::actor::Actor;
use crate::audit::{Change, record};
use crate::connections;
use crate::db::{self, Tx, get_bool, now_ms};
use crate::error::{OnConflict, Result, StoreError};
use crate::plugins::{self, Plugin};
use crate::schema;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use sqlx::AnyConnection;
use sqlx::Row;
use sqlx::any::AnyRow;

/// Which version of a plugin a binding runs.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pin {
    /// The most recently installed version (hot upgrades).
    #[default]
    Latest,
    /// Exactly this version label.
    Version(String),
    /// Exactly these bytes (SHA-256 hex).
    Digest(String),
}

/// Capabilities granted on a binding; the same JSON shape as the runtime's
/// `Grants` (`{"http": [...], "files": "/dir", "key_value": true}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grants {
    /// URL prefixes for `http-outbound`.
    #[serde(default)]
    pub http: Vec<String>,
    /// A directory on the gateway for `files`.
    #[serde(default)]
    pub files: Option<String>,
    /// The plugin's private key-value store (`key-value`).
    #[serde(default)]
    pub key_value: bool,
}

/// A binding as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Binding {
    pub id: i64,
    pub connection_id: i64,
    pub position: i64,
    pub plugin: String,
    pub pin: Pin,
    pub config: Json,
    pub grants: Grants,
    /// Per-hook deadline, 1..=60000 ms.
    pub deadline_ms: u32,
    /// Memory cap, 1..=4096 MiB.
    pub memory_mb: u32,
    pub enabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A binding to add.
#[derive(Debug, Clone, PartialEq)]
pub struct NewBinding {
    pub plugin: String,
    pub pin: Pin,
    pub config: Json,
    pub grants: Grants,
    pub deadline_ms: u32,
    pub memory_mb: u32,
    pub enabled: bool,
    /// Where it runs; `None` appends after the existing bindings.
    pub position: Option<i64>,
}

impl NewBinding {
    /// Latest version, empty config, no grants, 100 ms, 32 MiB, enabled.
    pub fn new(plugin: impl Into<String>) -> Self {
        NewBinding {
            plugin: plugin.into(),
            pin: Pin::Latest,
            config: Json::Object(Default::default()),
            grants: Grants::default(),
            deadline_ms: 100,
            memory_mb: 32,
            enabled: true,
            position: None,
        }
    }
}

/// Fields to change; `None` keeps the stored value.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BindingUpdate {
    pub pin: Option<Pin>,
    pub config: Option<Json>,
    pub grants: Option<Grants>,
    pub deadline_ms: Option<u32>,
    pub memory_mb: Option<u32>,
    pub enabled: Option<bool>,
}

/// An enabled binding with the plugin version it runs now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResolvedBinding {
    pub binding: Binding,
    pub plugin: Plugin,
}

/// Does `config`/`grants` suit `plugin`? The reason names the problem.
pub(crate) fn check_against(plugin: &Plugin, config: &Json, grants: &Grants) -> Result<(), String> {
    if !config.is_object() {
        return Err("config must be a JSON object".into());
    }
    if let Some(config_schema) = &plugin.config_schema {
        schema::validate(config_schema, config)?;
    }
    let undeclared = |capability: &str| {
        format!(
            "{capability} is granted but {} {} does not declare it",
            plugin.name, plugin.version
        )
    };
    if !grants.http.is_empty() && !plugin.declares("http-outbound") {
        return Err(undeclared("http-outbound"));
    }
    if grants.files.is_some() && !plugin.declares("files") {
        return Err(undeclared("files"));
    }
    if grants.key_value && !plugin.declares("key-value") {
        return Err(undeclared("key-value"));
    }
    Ok(())
}

fn check_values(grants: &Grants, deadline_ms: u32, memory_mb: u32) -> Result<()> {
    if deadline_ms == 0 || deadline_ms > 60_000 {
        return Err(StoreError::invalid("deadline_ms must be 1..=60000"));
    }
    if memory_mb == 0 || memory_mb > 4096 {
        return Err(StoreError::invalid("memory_mb must be 1..=4096"));
    }
    for prefix in &grants.http {
        db::check_label("http grant", prefix, 2000)?;
        if !(prefix.starts_with("https://") || prefix.starts_with("http://")) {
            return Err(StoreError::invalid(format!(
                "http grant {prefix:?} must be an http(s) URL prefix"
            )));
        }
    }
    if let Some(dir) = &grants.files {
        db::check_label("files grant", dir, 1000)?;
    }
    Ok(())
}

const COLUMNS: &str = "SELECT id, connection_id, position, plugin_name, plugin_version, plugin_digest, config, grants, \
     deadline_ms, memory_mb, enabled, created_at, updated_at FROM plugin_bindings";

fn from_row(row: &AnyRow) -> Result<Binding> {
    let version: Option<String> = row.try_get("plugin_version")?;
    let digest: Option<String> = row.try_get("plugin_digest")?;
    Ok(Binding {
        id: row.try_get("id")?,
        connection_id: row.try_get("connection_id")?,
        position: row.try_get("position")?,
        plugin: row.try_get("plugin_name")?,
        pin: match (version, digest) {
            (Some(version), _) => Pin::Version(version),
            (None, Some(digest)) => Pin::Digest(digest),
            (None, None) => Pin::Latest,
        },
        config: db::get_json(row, "config")?,
        grants: db::get_json(row, "grants")?,
        deadline_ms: db::get_u64(row, "deadline_ms")? as u32,
        memory_mb: db::get_u64(row, "memory_mb")? as u32,
        enabled: get_bool(row, "enabled")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn pin_columns(pin: &Pin) -> (Option<String>, Option<String>) {
    match pin {
        Pin::Latest => (None, None),
        Pin::Version(v) => (Some(v.clone()), None),
        Pin::Digest(d) => (None, Some(d.to_ascii_lowercase())),
    }
}

async fn load(conn: &mut AnyConnection, id: i64) -> Result<Binding> {
    let mut sql = db::Sql::new(COLUMNS);
    sql.push(" WHERE id = ").bind(id);
    let row = sql
        .query()
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| StoreError::not_found(format!("binding {id}")))?;
    from_row(&row)
}

async fn list_in(conn: &mut AnyConnection, connection_id: i64) -> Result<Vec<Binding>> {
    let mut sql = db::Sql::new(COLUMNS);
    sql.push(" WHERE connection_id = ")
        .bind(connection_id)
        .push(" ORDER BY position, id");
    let rows = sql.query().fetch_all(conn).await?;
    rows.iter().map(from_row).collect()
}

/// Bindings of plugin `name` that follow latest, with their connection's
/// name.
pub(crate) async fn following_latest(tx: &mut Tx, name: &str) -> Result<Vec<(String, Binding)>> {
    let mut sql = db::Sql::new(COLUMNS);
    sql.push(" WHERE plugin_name = ")
        .bind(name)
        .push(" AND plugin_version IS NULL AND plugin_digest IS NULL ORDER BY id");
    let rows = sql.query().fetch_all(&mut **tx).await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        let binding = from_row(row)?;
        let connection = connections::load(tx, binding.connection_id).await?;
        out.push((connection.name, binding));
    }
    Ok(out)
}

/// Names of connections whose bindings pin exactly `plugin`.
pub(crate) async fn pinning(tx: &mut Tx, plugin: &Plugin) -> Result<Vec<String>> {
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT connection_id FROM plugin_bindings WHERE plugin_name = $1 AND (plugin_version = $2 OR plugin_digest = $3) \
         ORDER BY connection_id",
    )
    .bind(&plugin.name)
    .bind(&plugin.version)
    .bind(&plugin.digest)
    .fetch_all(&mut **tx)
    .await?;
    let mut names = Vec::with_capacity(ids.len());
    for id in ids {
        names.push(connections::load(tx, id).await?.name);
    }
    Ok(names)
}

fn target(connection: &str, plugin: &str) -> String {
    format!("connection:{connection}/plugin:{plugin}")
}

/// The bindings repository.
pub struct Bindings<'s> {
    store: &'s Store,
}

impl<'s> Bindings<'s> {
    pub(crate) fn new(store: &'s Store) -> Self {
        Bindings { store }
    }

    /// Adds a binding to a connection.
    pub async fn add(&self, actor: &Actor, connection_id: i64, new: NewBinding) -> Result<Binding> {
        check_values(&new.grants, new.deadline_ms, new.memory_mb)?;
        let now = now_ms();
        let mut tx = self.store.begin().await?;
        let connection = connections::load(&mut tx, connection_id).await?;
        let plugin = plugins::resolve(&mut tx, &new.plugin, &new.pin).await?;
        check_against(&plugin, &new.config, &new.grants).map_err(|e| {
            StoreError::invalid(format!("plugin {} on {}: {e}", new.plugin, connection.name))
        })?;
        let position = match new.position {
            Some(position) => position,
            None => sqlx::query_scalar::<_, Option<i64>>(
                "SELECT MAX(position) FROM plugin_bindings WHERE connection_id = $1",
            )
            .bind(connection_id)
            .fetch_one(&mut *tx)
            .await?
            .map_or(0, |p| p + 1),
        };
        let (version, digest) = pin_columns(&new.pin);
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO plugin_bindings (connection_id, position, plugin_name, plugin_version, plugin_digest, config, \
             grants, deadline_ms, memory_mb, enabled, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) RETURNING id",
        )
        .bind(connection_id)
        .bind(position)
        .bind(&new.plugin)
        .bind(version)
        .bind(digest)
        .bind(db::to_json(&new.config))
        .bind(db::to_json(&new.grants))
        .bind(new.deadline_ms as i64)
        .bind(new.memory_mb as i64)
        .bind(new.enabled)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .on_conflict(|| format!("plugin {} is already bound on {}", new.plugin, connection.name))?;
        let binding = load(&mut tx, id).await?;
        let change =
            Change::new("binding.create", target(&connection.name, &new.plugin)).after(&binding);
        record(&mut tx, self.store.backend, actor, change).await?;
        tx.commit().await?;
        Ok(binding)
    }

    pub async fn get(&self, id: i64) -> Result<Binding> {
        load(&mut *self.store.pool.acquire().await?, id).await
    }

    /// A connection's bindings in the order they run (disabled included).
    pub async fn list(&self, connection_id: i64) -> Result<Vec<Binding>> {
        list_in(&mut *self.store.pool.acquire().await?, connection_id).await
    }

    pub async fn update(&self, actor: &Actor, id: i64, update: BindingUpdate) -> Result<Binding> {
        let mut tx = self.store.begin().await?;
        let before = load(&mut tx, id).await?;
        let connection = connections::load(&mut tx, before.connection_id).await?;
        let pin = update.pin.clone().unwrap_or_else(|| before.pin.clone());
        let config = update
            .config
            .clone()
            .unwrap_or_else(|| before.config.clone());
        let grants = update
            .grants
            .clone()
            .unwrap_or_else(|| before.grants.clone());
        let deadline_ms = update.deadline_ms.unwrap_or(before.deadline_ms);
        let memory_mb = update.memory_mb.unwrap_or(before.memory_mb);
        check_values(&grants, deadline_ms, memory_mb)?;
        let plugin = plugins::resolve(&mut tx, &before.plugin, &pin).await?;
        check_against(&plugin, &config, &grants).map_err(|e| {
            StoreError::invalid(format!(
                "plugin {} on {}: {e}",
                before.plugin, connection.name
            ))
        })?;
        let (version, digest) = pin_columns(&pin);
        sqlx::query(
            "UPDATE plugin_bindings SET plugin_version = $1, plugin_digest = $2, config = $3, grants = $4, \
             deadline_ms = $5, memory_mb = $6, enabled = $7, updated_at = $8 WHERE id = $9",
        )
        .bind(version)
        .bind(digest)
        .bind(db::to_json(&config))
        .bind(db::to_json(&grants))
        .bind(deadline_ms as i64)
        .bind(memory_mb as i64)
        .bind(update.enabled.unwrap_or(before.enabled))
        .bind(now_ms())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let after = load(&mut tx, id).await?;
        let change = Change::new("binding.update", target(&connection.name, &before.plugin))
            .before(&before)
            .after(&after);
        record(&mut tx, self.store.backend, actor, change).await?;
        tx.commit().await?;
        Ok(after)
    }

    pub async fn remove(&self, actor: &Actor, id: i64) -> Result<()> {
        let mut tx = self.store.begin().await?;
        let before = load(&mut tx, id).await?;
        let connection = connections::load(&mut tx, before.connection_id).await?;
        sqlx::query("DELETE FROM plugin_bindings WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let change =
            Change::new("binding.delete", target(&connection.name, &before.plugin)).before(&before);
        record(&mut tx, self.store.backend, actor, change).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Sets the order of a connection's bindings: `order` lists every
    /// binding id of the connection exactly once, first to run first.
    pub async fn reorder(
        &self,
        actor: &Actor,
        connection_id: i64,
        order: &[i64],
    ) -> Result<Vec<Binding>> {
        let mut tx = self.store.begin().await?;
        let connection = connections::load(&mut tx, connection_id).await?;
        let before = list_in(&mut tx, connection_id).await?;
        let mut current: Vec<i64> = before.iter().map(|b| b.id).collect();
        let mut wanted = order.to_vec();
        current.sort_unstable();
        wanted.sort_unstable();
        if current != wanted {
            return Err(StoreError::invalid(format!(
                "the new order must list each binding of {} exactly once",
                connection.name
            )));
        }
        let now = now_ms();
        for (position, id) in order.iter().enumerate() {
            sqlx::query("UPDATE plugin_bindings SET position = $1, updated_at = $2 WHERE id = $3")
                .bind(position as i64)
                .bind(now)
                .bind(*id)
                .execute(&mut *tx)
                .await?;
        }
        let after = list_in(&mut tx, connection_id).await?;
        let names = |list: &[Binding]| list.iter().map(|b| b.plugin.clone()).collect::<Vec<_>>();
        let change = Change::new("binding.reorder", format!("connection:{}", connection.name))
            .before(&names(&before))
            .after(&names(&after));
        record(&mut tx, self.store.backend, actor, change).await?;
        tx.commit().await?;
        Ok(after)
    }

    /// The enabled bindings of a connection, in order, each with the
    /// plugin version it runs now: what a new session loads.
    pub async fn resolve(&self, connection_id: i64) -> Result<Vec<ResolvedBinding>> {
        let mut conn = self.store.pool.acquire().await?;
        connections::load(&mut conn, connection_id).await?;
        let bindings = list_in(&mut conn, connection_id).await?;
        let mut resolved = Vec::with_capacity(bindings.len());
        for binding in bindings.into_iter().filter(|b| b.enabled) {
            let plugin = plugins::resolve(&mut conn, &binding.plugin, &binding.pin).await?;
            resolved.push(ResolvedBinding { binding, plugin });
        }
        Ok(resolved)
    }
}
