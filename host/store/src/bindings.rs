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
//! Secrets: beside its clear `config`, a binding may hold *secrets*,
//! top-level config keys whose values are secret (see
//! `binding_secrets.rs`). They are **sealed at rest** with the store's key
//! (associated data `binding-secrets:<id>`, like connection passwords),
//! **never returned**: a [`Binding`] carries only `secrets_set`, the sorted
//! names, and so do its audit rows (plus `secrets_changed: true`); and
//! **merged only at instantiation**: [`ResolvedBinding::config`] (and
//! [`Bindings::plugin_config`], [`Bindings::config_after`] for the host's
//! validation) is the config with the secrets merged in, which is what the
//! schema check above and the plugin see. A key both in config and in
//! secrets is refused. Updates change secrets per key
//! ([`SecretsUpdate`]); [`Connections::rotate_key`](crate::connections::Connections::rotate_key)
//! re-seals them with the connection passwords.
//!
//! [`Bindings::resolve`] is what a new session uses: the enabled bindings
//! of a connection, in order, each with the concrete plugin version it
//! runs and the merged config it gets. A pin whose version was removed
//! cannot happen (removal is refused); any resolution failure (a sealed
//! value that does not open included) is an error, and the gateway must
//! then refuse the session (fail closed).

use crate::Store;
use crate::actor::Actor;
use crate::audit::{Change, record};
use crate::connections;
use crate::crypto::{Secret, SecretKeys};
use crate::db::{self, Tx, get_bool, now_ms};
use crate::error::{OnConflict, Result, StoreError};
use crate::plugins::{self, Plugin};
use crate::schema;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use sqlx::AnyConnection;
use sqlx::Row;
use sqlx::any::AnyRow;

pub use crate::binding_secrets::{
    BindingSecrets, MAX_SECRETS, MAX_SECRETS_BYTES, PluginConfig, SecretsError, SecretsUpdate,
    merge as merge_config,
};

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
    /// Names of the secret config keys (sorted); their values are sealed
    /// and never leave the store but merged into the plugin's config.
    pub secrets_set: Vec<String>,
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
    /// Secret config keys, sealed before they are stored.
    pub secrets: BindingSecrets,
    pub grants: Grants,
    pub deadline_ms: u32,
    pub memory_mb: u32,
    pub enabled: bool,
    /// Where it runs; `None` appends after the existing bindings.
    pub position: Option<i64>,
}

impl NewBinding {
    /// Latest version, empty config, no secrets, no grants, 100 ms, 32 MiB,
    /// enabled.
    pub fn new(plugin: impl Into<String>) -> Self {
        NewBinding {
            plugin: plugin.into(),
            pin: Pin::Latest,
            config: Json::Object(Default::default()),
            secrets: BindingSecrets::new(),
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
    /// Replaces the whole clear config.
    pub config: Option<Json>,
    /// Per-key changes to the secrets; empty keeps them all.
    pub secrets: SecretsUpdate,
    pub grants: Option<Grants>,
    pub deadline_ms: Option<u32>,
    pub memory_mb: Option<u32>,
    pub enabled: Option<bool>,
}

/// An enabled binding with the plugin version it runs now and the config
/// its instances get.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResolvedBinding {
    pub binding: Binding,
    pub plugin: Plugin,
    /// `binding.config` with the secrets merged in: for the plugin only.
    #[serde(skip)]
    pub config: PluginConfig,
}

/// Does `config`/`grants` suit `plugin`? The reason names the problem.
/// `config` is the merged one: the schema sees what the plugin will.
pub(crate) fn check_against(
    plugin: &Plugin,
    config: &PluginConfig,
    grants: &Grants,
) -> Result<(), String> {
    let config = config.json();
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

const COLUMNS: &str = "SELECT id, connection_id, position, plugin_name, plugin_version, plugin_digest, config, \
     secret_names, grants, deadline_ms, memory_mb, enabled, created_at, updated_at FROM plugin_bindings";

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
        secrets_set: db::get_json(row, "secret_names")?,
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

fn aad(id: i64) -> String {
    format!("binding-secrets:{id}")
}

/// Writes (or clears) the sealed secrets of binding `id` and their names.
async fn write_secrets(
    tx: &mut Tx,
    keys: &SecretKeys,
    id: i64,
    secrets: &BindingSecrets,
) -> Result<()> {
    let (sealed, key_id) = if secrets.is_empty() {
        (None, None)
    } else {
        // Wiped when dropped, like every other plaintext secret.
        let plaintext = Secret::new(secrets.to_plaintext());
        let sealed = keys.seal(plaintext.expose().as_bytes(), &aad(id));
        (Some(sealed.bytes), Some(sealed.key_id))
    };
    sqlx::query(
        "UPDATE plugin_bindings SET secrets_sealed = $1, secrets_key_id = $2, secret_names = $3 WHERE id = $4",
    )
    .bind(sealed)
    .bind(key_id)
    .bind(db::to_json(&secrets.names()))
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Opens the sealed secrets of binding `id` (none stored: empty). Errors
/// name the key id, never a value.
async fn open_secrets(
    conn: &mut AnyConnection,
    keys: &SecretKeys,
    id: i64,
) -> Result<BindingSecrets> {
    let row =
        sqlx::query("SELECT secrets_sealed, secrets_key_id FROM plugin_bindings WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or_else(|| StoreError::not_found(format!("binding {id}")))?;
    let sealed: Option<Vec<u8>> = row.try_get("secrets_sealed")?;
    let key_id: Option<String> = row.try_get("secrets_key_id")?;
    match (sealed, key_id) {
        (Some(sealed), Some(key_id)) => {
            let plaintext = keys.open(&key_id, &sealed, &aad(id))?;
            BindingSecrets::from_plaintext(plaintext.expose())
                .map_err(|e| StoreError::Secret(format!("binding {id}: {e}")))
        }
        _ => Ok(BindingSecrets::new()),
    }
}

/// `binding`'s config with its secrets opened and merged in.
pub(crate) async fn plugin_config_of(
    conn: &mut AnyConnection,
    keys: &SecretKeys,
    binding: &Binding,
) -> Result<PluginConfig> {
    let secrets = if binding.secrets_set.is_empty() {
        BindingSecrets::new()
    } else {
        open_secrets(conn, keys, binding.id).await?
    };
    Ok(merge_config(&binding.config, &secrets)?)
}

/// Re-seals every binding's secrets not sealed with the current key;
/// returns how many bindings.
pub(crate) async fn reseal(tx: &mut Tx, keys: &SecretKeys) -> Result<u64> {
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM plugin_bindings WHERE secrets_key_id IS NOT NULL AND secrets_key_id <> $1 ORDER BY id",
    )
    .bind(keys.current_id())
    .fetch_all(&mut **tx)
    .await?;
    for &id in &ids {
        let secrets = open_secrets(tx, keys, id).await?;
        write_secrets(tx, keys, id, &secrets).await?;
    }
    Ok(ids.len() as u64)
}

/// A binding's secrets before and after an update, and the merged config
/// its plugin would get.
struct Pending {
    stored: BindingSecrets,
    secrets: BindingSecrets,
    config: PluginConfig,
}

async fn pending(
    conn: &mut AnyConnection,
    keys: &SecretKeys,
    before: &Binding,
    update: &BindingUpdate,
) -> Result<Pending> {
    let stored = if before.secrets_set.is_empty() {
        BindingSecrets::new()
    } else {
        open_secrets(conn, keys, before.id).await?
    };
    let mut secrets = stored.clone();
    secrets.apply(&update.secrets);
    secrets.check()?;
    let clear = update.config.as_ref().unwrap_or(&before.config);
    let config = merge_config(clear, &secrets)?;
    Ok(Pending {
        stored,
        secrets,
        config,
    })
}

/// Names the binding in an `Invalid` error's message.
fn in_context(error: StoreError, plugin: &str, connection: &str) -> StoreError {
    match error {
        StoreError::Invalid(message) => {
            StoreError::invalid(format!("plugin {plugin} on {connection}: {message}"))
        }
        other => other,
    }
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
        let context = |e: StoreError| in_context(e, &new.plugin, &connection.name);
        new.secrets.check().map_err(|e| context(e.into()))?;
        let config = merge_config(&new.config, &new.secrets).map_err(|e| context(e.into()))?;
        let plugin = plugins::resolve(&mut tx, &new.plugin, &new.pin).await?;
        check_against(&plugin, &config, &new.grants)
            .map_err(|e| context(StoreError::invalid(e)))?;
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
        if !new.secrets.is_empty() {
            write_secrets(&mut tx, &self.store.keys, id, &new.secrets).await?;
        }
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
        let context = |e: StoreError| in_context(e, &before.plugin, &connection.name);
        let pin = update.pin.clone().unwrap_or_else(|| before.pin.clone());
        let pending = pending(&mut tx, &self.store.keys, &before, &update)
            .await
            .map_err(context)?;
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
        check_against(&plugin, &pending.config, &grants)
            .map_err(|e| context(StoreError::invalid(e)))?;
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
        let secrets_changed = pending.secrets != pending.stored;
        if secrets_changed {
            write_secrets(&mut tx, &self.store.keys, id, &pending.secrets).await?;
        }
        let after = load(&mut tx, id).await?;
        let mut change = Change::new("binding.update", target(&connection.name, &before.plugin))
            .before(&before)
            .after(&after);
        if secrets_changed {
            // The values are never recorded; that they changed is.
            if let Some(Json::Object(map)) = change.after.as_mut() {
                map.insert("secrets_changed".into(), Json::Bool(true));
            }
        }
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
    /// plugin version it runs now and its config with the secrets merged
    /// in: what a new session loads.
    pub async fn resolve(&self, connection_id: i64) -> Result<Vec<ResolvedBinding>> {
        let mut conn = self.store.pool.acquire().await?;
        connections::load(&mut conn, connection_id).await?;
        let bindings = list_in(&mut conn, connection_id).await?;
        let mut resolved = Vec::with_capacity(bindings.len());
        for binding in bindings.into_iter().filter(|b| b.enabled) {
            let plugin = plugins::resolve(&mut conn, &binding.plugin, &binding.pin).await?;
            let config = plugin_config_of(&mut conn, &self.store.keys, &binding).await?;
            resolved.push(ResolvedBinding {
                binding,
                plugin,
                config,
            });
        }
        Ok(resolved)
    }

    /// The config binding `id`'s plugin gets: its config with its secrets
    /// opened and merged in. For the host (binding it against another
    /// plugin version); never show it.
    pub async fn plugin_config(&self, id: i64) -> Result<PluginConfig> {
        let mut conn = self.store.pool.acquire().await?;
        let binding = load(&mut conn, id).await?;
        plugin_config_of(&mut conn, &self.store.keys, &binding).await
    }

    /// The config binding `id`'s plugin would get after `update` (the
    /// stored secrets with the update's per-key changes, merged into the
    /// new or kept config): for the host to validate before it stores.
    /// Refused like [`Bindings::update`] would refuse the secrets.
    pub async fn config_after(&self, id: i64, update: &BindingUpdate) -> Result<PluginConfig> {
        let mut conn = self.store.pool.acquire().await?;
        let before = load(&mut conn, id).await?;
        let connection = connections::load(&mut conn, before.connection_id).await?;
        let pending = pending(&mut conn, &self.store.keys, &before, update)
            .await
            .map_err(|e| in_context(e, &before.plugin, &connection.name))?;
        Ok(pending.config)
    }
}
