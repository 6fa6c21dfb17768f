//! Plugins: uploaded WebAssembly components, every version kept.
//!
//! Storage: the component bytes live in the database (`plugins.component`,
//! BLOB/BYTEA), not in files, so gateway nodes sharing a PostgreSQL store
//! need no shared disk; listings never load them ([`Plugins::component`]
//! does). Each version records its name, version label, SHA-256 digest,
//! description, declared hooks and capabilities (as the manifest says;
//! the API reads them from the component with the runtime before calling
//! [`Plugins::install`]), an optional config schema (the subset in
//! `schema.rs`, checked at install), size, and who installed it when.
//! `(name, version)` is unique; installing the same bytes again is a no-op
//! returning the stored version, different bytes under a taken version are
//! a `Conflict`.
//!
//! Hot upgrade: a binding names a plugin and pins a version, a digest, or
//! nothing ("latest"). Latest is the most recently *installed* version of
//! that name (highest id), not a semver comparison: installing 1.3.0 after
//! 2.0.0 makes 1.3.0 latest, which is how an admin rolls back by
//! re-uploading. New sessions resolve bindings when they start
//! ([`crate::bindings::Bindings::resolve`]), so they get the new version;
//! live sessions keep theirs. An install (or a removal that changes which
//! version is latest) is refused with a `Conflict` naming the connections
//! whose latest-bindings would no longer validate against the new latest
//! (config schema or capabilities), so "latest" never resolves to a
//! version that rejects its bindings. Removing a version that a binding
//! pins is a `Conflict` too.

use crate::Store;
use crate::actor::Actor;
use crate::audit::{Change, record};
use crate::bindings::{self, Pin};
use crate::crypto::SecretKeys;
use crate::db::{self, Tx, now_ms};
use crate::error::{OnConflict, Result, StoreError};
use crate::schema;
use serde::Serialize;
use serde_json::Value as Json;
use sha2::{Digest, Sha256};
use sqlx::AnyConnection;
use sqlx::Row;
use sqlx::any::AnyRow;

/// Hook names a plugin may declare (the WIT `hook` enum).
pub const HOOKS: &[&str] = &[
    "on-connect",
    "on-query",
    "on-result",
    "on-disconnect",
    "on-review",
    "on-audit-event",
];
/// Capability names a plugin may declare (the WIT `capability` enum).
pub const CAPABILITIES: &[&str] = &["http-outbound", "files", "key-value"];
/// Largest component accepted.
pub const MAX_COMPONENT_BYTES: usize = 64 << 20;

/// One installed version of a plugin (without its bytes).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plugin {
    pub id: i64,
    pub name: String,
    pub version: String,
    /// SHA-256 of the component, hex.
    pub digest: String,
    pub description: String,
    pub hooks: Vec<String>,
    pub capabilities: Vec<String>,
    pub config_schema: Option<Json>,
    /// Component size in bytes.
    pub size: u64,
    pub created_at: i64,
    /// `user_id` of who installed it.
    pub created_by: String,
}

impl Plugin {
    pub fn declares(&self, capability: &str) -> bool {
        self.capabilities.iter().any(|c| c == capability)
    }
}

/// A plugin version to install.
#[derive(Clone, PartialEq)]
pub struct NewPlugin {
    pub name: String,
    pub version: String,
    pub description: String,
    pub hooks: Vec<String>,
    pub capabilities: Vec<String>,
    pub config_schema: Option<Json>,
    /// The component's bytes.
    pub component: Vec<u8>,
}

impl std::fmt::Debug for NewPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewPlugin")
            .field("name", &self.name)
            .field("version", &self.version)
            .field("hooks", &self.hooks)
            .field("capabilities", &self.capabilities)
            .field("component_bytes", &self.component.len())
            .finish()
    }
}

/// SHA-256 (hex) of a component, as stored in `digest`.
pub fn digest(component: &[u8]) -> String {
    hex::encode(Sha256::digest(component))
}

const COLUMNS: &str = "SELECT id, name, version, digest, description, hooks, capabilities, config_schema, size, \
     created_at, created_by FROM plugins";

fn from_row(row: &AnyRow) -> Result<Plugin> {
    Ok(Plugin {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        version: row.try_get("version")?,
        digest: row.try_get("digest")?,
        description: row.try_get("description")?,
        hooks: db::get_json(row, "hooks")?,
        capabilities: db::get_json(row, "capabilities")?,
        config_schema: db::get_json_opt(row, "config_schema")?,
        size: db::get_u64(row, "size")?,
        created_at: row.try_get("created_at")?,
        created_by: row.try_get("created_by")?,
    })
}

pub(crate) async fn load(conn: &mut AnyConnection, id: i64) -> Result<Plugin> {
    let mut sql = db::Sql::new(COLUMNS);
    sql.push(" WHERE id = ").bind(id);
    let row = sql
        .query()
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| StoreError::not_found(format!("plugin {id}")))?;
    from_row(&row)
}

/// The version `pin` selects among the versions of `name`.
pub(crate) async fn resolve(conn: &mut AnyConnection, name: &str, pin: &Pin) -> Result<Plugin> {
    let mut sql = db::Sql::new(COLUMNS);
    sql.push(" WHERE name = ").bind(name);
    let what = match pin {
        Pin::Latest => format!("plugin {name}"),
        Pin::Version(version) => {
            sql.push(" AND version = ").bind(version.as_str());
            format!("plugin {name} version {version}")
        }
        Pin::Digest(digest) => {
            sql.push(" AND digest = ").bind(digest.as_str());
            format!("plugin {name} with digest {digest}")
        }
    };
    sql.push(" ORDER BY id DESC LIMIT 1");
    let row = sql
        .query()
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| StoreError::not_found(what))?;
    from_row(&row)
}

fn check_new(new: &NewPlugin) -> Result<()> {
    db::check_name("plugin", &new.name)?;
    db::check_label("version", &new.version, 64)?;
    if new.version.contains(char::is_whitespace) {
        return Err(StoreError::invalid("version must not contain spaces"));
    }
    db::check_text("description", &new.description, 2000)?;
    for hook in &new.hooks {
        if !HOOKS.contains(&hook.as_str()) {
            return Err(StoreError::invalid(format!("unknown hook {hook:?}")));
        }
    }
    for capability in &new.capabilities {
        if !CAPABILITIES.contains(&capability.as_str()) {
            return Err(StoreError::invalid(format!(
                "unknown capability {capability:?}"
            )));
        }
    }
    if let Some(config_schema) = &new.config_schema {
        schema::check_schema(config_schema)
            .map_err(|e| StoreError::invalid(format!("config schema: {e}")))?;
    }
    if new.component.is_empty() || new.component.len() > MAX_COMPONENT_BYTES {
        return Err(StoreError::invalid(format!(
            "a component is 1..={MAX_COMPONENT_BYTES} bytes"
        )));
    }
    Ok(())
}

/// Refuses `candidate` as the new latest of its name if any binding that
/// follows latest would not validate against it (its config with its
/// secrets merged in, as the plugin would get it).
async fn check_latest_bindings(tx: &mut Tx, keys: &SecretKeys, candidate: &Plugin) -> Result<()> {
    let mut broken = Vec::new();
    for (connection, binding) in bindings::following_latest(tx, &candidate.name).await? {
        let config = bindings::plugin_config_of(tx, keys, &binding).await?;
        if let Err(reason) = bindings::check_against(candidate, &config, &binding.grants) {
            broken.push(format!("{connection} ({reason})"));
        }
    }
    if !broken.is_empty() {
        return Err(StoreError::conflict(format!(
            "plugin {} {} would become latest but these bindings follow latest and do not validate against it; \
             pin them or update their config first: {}",
            candidate.name,
            candidate.version,
            broken.join("; ")
        )));
    }
    Ok(())
}

/// The plugins repository.
pub struct Plugins<'s> {
    store: &'s Store,
}

impl<'s> Plugins<'s> {
    pub(crate) fn new(store: &'s Store) -> Self {
        Plugins { store }
    }

    /// Installs a version (see the module docs for idempotence and the
    /// latest-bindings check).
    pub async fn install(&self, actor: &Actor, new: NewPlugin) -> Result<Plugin> {
        check_new(&new)?;
        let digest = digest(&new.component);
        let now = now_ms();
        let mut tx = self.store.begin().await?;
        if let Ok(existing) = resolve(&mut tx, &new.name, &Pin::Version(new.version.clone())).await
        {
            if existing.digest == digest {
                return Ok(existing);
            }
            return Err(StoreError::conflict(format!(
                "plugin {} version {} is already installed with other contents (digest {})",
                new.name, new.version, existing.digest
            )));
        }
        let candidate = Plugin {
            id: 0,
            name: new.name.clone(),
            version: new.version.clone(),
            digest: digest.clone(),
            description: new.description.clone(),
            hooks: new.hooks.clone(),
            capabilities: new.capabilities.clone(),
            config_schema: new.config_schema.clone(),
            size: new.component.len() as u64,
            created_at: now,
            created_by: actor.identity.user_id.clone(),
        };
        check_latest_bindings(&mut tx, &self.store.keys, &candidate).await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO plugins (name, version, digest, description, hooks, capabilities, config_schema, component, \
             size, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
        )
        .bind(&new.name)
        .bind(&new.version)
        .bind(&digest)
        .bind(&new.description)
        .bind(db::to_json(&new.hooks))
        .bind(db::to_json(&new.capabilities))
        .bind(new.config_schema.as_ref().map(db::to_json))
        .bind(new.component)
        .bind(candidate.size as i64)
        .bind(now)
        .bind(&actor.identity.user_id)
        .fetch_one(&mut *tx)
        .await
        .on_conflict(|| format!("plugin {} version {} is already installed", new.name, new.version))?;
        let plugin = load(&mut tx, id).await?;
        let change = Change::new(
            "plugin.install",
            format!("plugin:{}@{}", plugin.name, plugin.version),
        )
        .after(&plugin);
        record(&mut tx, self.store.backend, actor, change).await?;
        tx.commit().await?;
        Ok(plugin)
    }

    pub async fn get(&self, id: i64) -> Result<Plugin> {
        load(&mut *self.store.pool.acquire().await?, id).await
    }

    /// The version of `name` that `pin` selects.
    pub async fn resolve(&self, name: &str, pin: &Pin) -> Result<Plugin> {
        resolve(&mut *self.store.pool.acquire().await?, name, pin).await
    }

    /// The latest version of `name`.
    pub async fn latest(&self, name: &str) -> Result<Plugin> {
        self.resolve(name, &Pin::Latest).await
    }

    /// Every version of `name`, newest first.
    pub async fn versions(&self, name: &str) -> Result<Vec<Plugin>> {
        let mut sql = db::Sql::new(COLUMNS);
        sql.push(" WHERE name = ")
            .bind(name)
            .push(" ORDER BY id DESC");
        let rows = sql.query().fetch_all(&self.store.pool).await?;
        rows.iter().map(from_row).collect()
    }

    /// The latest version of every plugin, by name.
    pub async fn list(&self) -> Result<Vec<Plugin>> {
        let mut sql = db::Sql::new(COLUMNS);
        sql.push(" WHERE id IN (SELECT MAX(id) FROM plugins GROUP BY name) ORDER BY name");
        let rows = sql.query().fetch_all(&self.store.pool).await?;
        rows.iter().map(from_row).collect()
    }

    /// A version's component bytes.
    pub async fn component(&self, id: i64) -> Result<Vec<u8>> {
        sqlx::query_scalar("SELECT component FROM plugins WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.store.pool)
            .await?
            .ok_or_else(|| StoreError::not_found(format!("plugin {id}")))
    }

    /// Removes a version no binding pins (see the module docs).
    pub async fn remove(&self, actor: &Actor, id: i64) -> Result<()> {
        let mut tx = self.store.begin().await?;
        let plugin = load(&mut tx, id).await?;
        let pinned = bindings::pinning(&mut tx, &plugin).await?;
        if !pinned.is_empty() {
            return Err(StoreError::conflict(format!(
                "plugin {} {} is pinned by {}",
                plugin.name,
                plugin.version,
                pinned.join(", ")
            )));
        }
        let latest = resolve(&mut tx, &plugin.name, &Pin::Latest).await?;
        if latest.id == plugin.id {
            let mut sql = db::Sql::new(COLUMNS);
            sql.push(" WHERE name = ")
                .bind(plugin.name.as_str())
                .push(" AND id < ")
                .bind(plugin.id);
            sql.push(" ORDER BY id DESC LIMIT 1");
            match sql.query().fetch_optional(&mut *tx).await? {
                Some(row) => {
                    check_latest_bindings(&mut tx, &self.store.keys, &from_row(&row)?).await?
                }
                None => {
                    let users = bindings::following_latest(&mut tx, &plugin.name).await?;
                    if !users.is_empty() {
                        let names: Vec<String> = users.into_iter().map(|(c, _)| c).collect();
                        return Err(StoreError::conflict(format!(
                            "plugin {} {} is the last version and is bound on {}",
                            plugin.name,
                            plugin.version,
                            names.join(", ")
                        )));
                    }
                }
            }
        }
        sqlx::query("DELETE FROM plugins WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let change = Change::new(
            "plugin.remove",
            format!("plugin:{}@{}", plugin.name, plugin.version),
        )
        .before(&plugin);
        record(&mut tx, self.store.backend, actor, change).await?;
        tx.commit().await?;
        Ok(())
    }
}
