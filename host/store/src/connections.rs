//! Connections: a resource's roles, each with its own upstream
//! credentials, attributes and plugins. Users pick one by name,
//! `resource.role` (`billing-db.read-only`, the PostgreSQL database name
//! they connect to).
//!
//! Secrets: the upstream password is given as a [`Password`]: either a
//! value, sealed with the store's key before it reaches SQL (see
//! `crypto.rs`; the associated data names the connection's id, so a sealed
//! value copied to another row does not open), or a reference to an
//! environment variable or file of the gateway, stored as is. Reading a
//! connection reports `has_password` and where it comes from
//! ([`PasswordSource`]), never the value; audit rows record the same.
//! [`Connections::resolve_credentials`] is the one function that opens a
//! sealed value (for the proxy's upstream login). [`Connections::rotate_key`]
//! re-seals every value under the current key, binding secrets included.
//!
//! The role's name cannot change, nor its resource (the sealed password is
//! bound to the row, sessions and audit rows refer to the name). Deleting a
//! connection deletes its plugin bindings.

use crate::Store;
use crate::actor::Actor;
use crate::audit::{Change, record};
use crate::bindings;
use crate::crypto::{Secret, SecretRef};
use crate::db::{self, Tx, now_ms};
use crate::error::{OnConflict, Result, StoreError};
use crate::resources::{self, ResourceKind, TlsMode};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use sqlx::AnyConnection;
use sqlx::Row;
use sqlx::any::AnyRow;
use std::collections::BTreeMap;

/// Where a connection's password comes from (never the password).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PasswordSource {
    /// Sealed in the store.
    Stored,
    /// An environment variable of the gateway.
    Env(String),
    /// A file on the gateway.
    File(String),
}

/// A password to set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Password {
    /// The value: sealed before it is stored.
    Value(Secret),
    /// Where the gateway reads it when it logs in.
    Ref(SecretRef),
}

/// A connection as stored. It carries no secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Connection {
    pub id: i64,
    pub resource_id: i64,
    /// The resource's name.
    pub resource: String,
    /// The role's name.
    pub role: String,
    /// `resource.role`: what users connect to.
    pub name: String,
    pub kind: ResourceKind,
    /// The role's purpose.
    pub description: String,
    /// Upstream database name (databases only).
    pub database: Option<String>,
    /// Upstream login.
    pub username: Option<String>,
    pub has_password: bool,
    pub password_source: Option<PasswordSource>,
    /// Non-secret labels plugins can read.
    pub attributes: BTreeMap<String, String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A connection to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewConnection {
    /// The resource's name.
    pub resource: String,
    /// The role's name.
    pub role: String,
    pub description: String,
    pub database: Option<String>,
    pub username: Option<String>,
    pub password: Option<Password>,
    pub attributes: BTreeMap<String, String>,
}

impl NewConnection {
    pub fn new(resource: impl Into<String>, role: impl Into<String>) -> Self {
        NewConnection {
            resource: resource.into(),
            role: role.into(),
            description: String::new(),
            database: None,
            username: None,
            password: None,
            attributes: BTreeMap::new(),
        }
    }
}

/// Fields to change; `None` keeps the stored value, `Some(None)` clears an
/// optional one (`password: Some(None)` removes the password).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectionUpdate {
    pub description: Option<String>,
    pub database: Option<Option<String>>,
    pub username: Option<Option<String>>,
    pub password: Option<Option<Password>>,
    pub attributes: Option<BTreeMap<String, String>>,
}

/// What the proxy needs to log in upstream. `Debug` hides the password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// `resource.role`.
    pub connection: String,
    pub kind: ResourceKind,
    pub address: String,
    pub tls: TlsMode,
    pub ca_file: Option<String>,
    pub database: Option<String>,
    pub username: Option<String>,
    pub password: Option<Secret>,
}

fn aad(id: i64) -> String {
    format!("connection-password:{id}")
}

const SELECT: &str = "SELECT c.id, c.resource_id, c.name, c.description, c.upstream_database, c.upstream_username, \
     c.password_key_id, c.password_ref, c.attributes, c.created_at, c.updated_at, \
     r.name AS resource_name, r.kind AS resource_kind FROM connections c JOIN resources r ON r.id = c.resource_id";

fn from_row(row: &AnyRow) -> Result<Connection> {
    let resource: String = row.try_get("resource_name")?;
    let role: String = row.try_get("name")?;
    let kind: String = row.try_get("resource_kind")?;
    let key_id: Option<String> = row.try_get("password_key_id")?;
    let reference: Option<SecretRef> = db::get_json_opt(row, "password_ref")?;
    let password_source = match (key_id, reference) {
        (Some(_), _) => Some(PasswordSource::Stored),
        (None, Some(SecretRef::Env(var))) => Some(PasswordSource::Env(var)),
        (None, Some(SecretRef::File(path))) => {
            Some(PasswordSource::File(path.to_string_lossy().into_owned()))
        }
        (None, None) => None,
    };
    Ok(Connection {
        id: row.try_get("id")?,
        resource_id: row.try_get("resource_id")?,
        name: format!("{resource}.{role}"),
        resource,
        role,
        kind: ResourceKind::parse(&kind)
            .ok_or_else(|| StoreError::invalid(format!("stored kind {kind:?}")))?,
        description: row.try_get("description")?,
        database: row.try_get("upstream_database")?,
        username: row.try_get("upstream_username")?,
        has_password: password_source.is_some(),
        password_source,
        attributes: db::get_json(row, "attributes")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

pub(crate) async fn load(conn: &mut AnyConnection, id: i64) -> Result<Connection> {
    let mut sql = db::Sql::new(SELECT);
    sql.push(" WHERE c.id = ").bind(id);
    let row = sql
        .query()
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| StoreError::not_found(format!("connection {id}")))?;
    from_row(&row)
}

/// Splits `resource.role`.
pub(crate) fn split_name(name: &str) -> Result<(&str, &str)> {
    name.split_once('.').ok_or_else(|| {
        StoreError::invalid(format!("connection name {name:?} must be resource.role"))
    })
}

pub(crate) async fn load_by_name(conn: &mut AnyConnection, name: &str) -> Result<Connection> {
    let (resource, role) = split_name(name)?;
    let mut sql = db::Sql::new(SELECT);
    sql.push(" WHERE r.name = ")
        .bind(resource)
        .push(" AND c.name = ")
        .bind(role);
    let row = sql
        .query()
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| StoreError::not_found(format!("connection {name}")))?;
    from_row(&row)
}

fn check_optional(what: &str, value: &Option<String>) -> Result<()> {
    if let Some(value) = value {
        db::check_label(what, value, 200)?;
    }
    Ok(())
}

fn check_attributes(attributes: &BTreeMap<String, String>) -> Result<()> {
    if attributes.len() > 100 {
        return Err(StoreError::invalid("at most 100 attributes"));
    }
    for (key, value) in attributes {
        db::check_label("attribute name", key, 100)?;
        db::check_text(&format!("attribute {key}"), value, 1000)?;
    }
    Ok(())
}

fn check_password(password: &Option<Password>) -> Result<()> {
    match password {
        Some(Password::Value(secret)) if secret.expose().is_empty() => Err(StoreError::invalid(
            "a password must not be empty; clear it instead",
        )),
        Some(Password::Value(secret)) if secret.expose().len() > 4096 => {
            Err(StoreError::invalid("a password is at most 4096 bytes"))
        }
        Some(Password::Ref(SecretRef::Env(var))) => {
            db::check_label("environment variable", var, 200)
        }
        Some(Password::Ref(SecretRef::File(path))) => {
            db::check_label("secret file", &path.to_string_lossy(), 1000)
        }
        _ => Ok(()),
    }
}

impl Store {
    /// Writes (or clears) the password columns of connection `id`.
    async fn write_password(
        &self,
        tx: &mut Tx,
        id: i64,
        password: &Option<Password>,
    ) -> Result<()> {
        let (sealed, key_id, reference) = match password {
            None => (None, None, None),
            Some(Password::Value(secret)) => {
                let sealed = self.keys.seal(secret.expose().as_bytes(), &aad(id));
                (Some(sealed.bytes), Some(sealed.key_id), None)
            }
            Some(Password::Ref(reference)) => (None, None, Some(db::to_json(reference))),
        };
        sqlx::query("UPDATE connections SET password_sealed = $1, password_key_id = $2, password_ref = $3 WHERE id = $4")
            .bind(sealed)
            .bind(key_id)
            .bind(reference)
            .bind(id)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}

/// The connections repository.
pub struct Connections<'s> {
    store: &'s Store,
}

impl<'s> Connections<'s> {
    pub(crate) fn new(store: &'s Store) -> Self {
        Connections { store }
    }

    pub async fn create(&self, actor: &Actor, new: NewConnection) -> Result<Connection> {
        db::check_name("role", &new.role)?;
        db::check_text("description", &new.description, 2000)?;
        check_optional("database", &new.database)?;
        check_optional("username", &new.username)?;
        check_password(&new.password)?;
        check_attributes(&new.attributes)?;
        let name = format!("{}.{}", new.resource, new.role);
        let now = now_ms();
        let mut tx = self.store.begin().await?;
        let resource = resources::load_by_name(&mut tx, &new.resource).await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO connections (resource_id, name, description, upstream_database, upstream_username, \
             attributes, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id",
        )
        .bind(resource.id)
        .bind(&new.role)
        .bind(&new.description)
        .bind(&new.database)
        .bind(&new.username)
        .bind(db::to_json(&new.attributes))
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .on_conflict(|| format!("connection {name} already exists"))?;
        self.store
            .write_password(&mut tx, id, &new.password)
            .await?;
        let connection = load(&mut tx, id).await?;
        record(
            &mut tx,
            self.store.backend,
            actor,
            Change::new("connection.create", format!("connection:{name}")).after(&connection),
        )
        .await?;
        tx.commit().await?;
        Ok(connection)
    }

    pub async fn get(&self, id: i64) -> Result<Connection> {
        load(&mut *self.store.pool.acquire().await?, id).await
    }

    /// The connection named `resource.role`.
    pub async fn by_name(&self, name: &str) -> Result<Connection> {
        load_by_name(&mut *self.store.pool.acquire().await?, name).await
    }

    /// Every connection, by name.
    pub async fn list(&self) -> Result<Vec<Connection>> {
        let mut sql = db::Sql::new(SELECT);
        sql.push(" ORDER BY r.name, c.name");
        let rows = sql.query().fetch_all(&self.store.pool).await?;
        rows.iter().map(from_row).collect()
    }

    /// The roles of one resource, by name.
    pub async fn list_for_resource(&self, resource_id: i64) -> Result<Vec<Connection>> {
        let mut sql = db::Sql::new(SELECT);
        sql.push(" WHERE c.resource_id = ")
            .bind(resource_id)
            .push(" ORDER BY c.name");
        let rows = sql.query().fetch_all(&self.store.pool).await?;
        rows.iter().map(from_row).collect()
    }

    pub async fn update(
        &self,
        actor: &Actor,
        id: i64,
        update: ConnectionUpdate,
    ) -> Result<Connection> {
        if let Some(description) = &update.description {
            db::check_text("description", description, 2000)?;
        }
        if let Some(database) = &update.database {
            check_optional("database", database)?;
        }
        if let Some(username) = &update.username {
            check_optional("username", username)?;
        }
        if let Some(password) = &update.password {
            check_password(password)?;
        }
        if let Some(attributes) = &update.attributes {
            check_attributes(attributes)?;
        }
        let mut tx = self.store.begin().await?;
        let before = load(&mut tx, id).await?;
        sqlx::query(
            "UPDATE connections SET description = $1, upstream_database = $2, upstream_username = $3, \
             attributes = $4, updated_at = $5 WHERE id = $6",
        )
        .bind(update.description.as_ref().unwrap_or(&before.description))
        .bind(update.database.clone().unwrap_or_else(|| before.database.clone()))
        .bind(update.username.clone().unwrap_or_else(|| before.username.clone()))
        .bind(db::to_json(update.attributes.as_ref().unwrap_or(&before.attributes)))
        .bind(now_ms())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if let Some(password) = &update.password {
            self.store.write_password(&mut tx, id, password).await?;
        }
        let after = load(&mut tx, id).await?;
        let mut change = Change::new("connection.update", format!("connection:{}", before.name))
            .before(&before)
            .after(&after);
        if update.password.is_some() {
            // The value is never recorded; that it changed is.
            if let Some(Json::Object(map)) = change.after.as_mut() {
                map.insert("password_changed".into(), Json::Bool(true));
            }
        }
        record(&mut tx, self.store.backend, actor, change).await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Deletes a connection and its plugin bindings.
    pub async fn delete(&self, actor: &Actor, id: i64) -> Result<()> {
        let mut tx = self.store.begin().await?;
        let before = load(&mut tx, id).await?;
        sqlx::query("DELETE FROM connections WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        record(
            &mut tx,
            self.store.backend,
            actor,
            Change::new("connection.delete", format!("connection:{}", before.name)).before(&before),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The upstream address, login and password of a connection, for the
    /// proxy's upstream login only. Opens the sealed password or resolves
    /// the reference; errors name the key id or reference, never a value.
    pub async fn resolve_credentials(&self, id: i64) -> Result<Credentials> {
        let mut conn = self.store.pool.acquire().await?;
        let connection = load(&mut conn, id).await?;
        let resource = resources::load(&mut conn, connection.resource_id).await?;
        let row = sqlx::query(
            "SELECT password_sealed, password_key_id, password_ref FROM connections WHERE id = $1",
        )
        .bind(id)
        .fetch_one(&mut *conn)
        .await?;
        let sealed: Option<Vec<u8>> = row.try_get("password_sealed")?;
        let key_id: Option<String> = row.try_get("password_key_id")?;
        let reference: Option<SecretRef> = db::get_json_opt(&row, "password_ref")?;
        let password = match (sealed, key_id, reference) {
            (Some(sealed), Some(key_id), _) => {
                Some(self.store.keys.open(&key_id, &sealed, &aad(id))?)
            }
            (_, _, Some(reference)) => Some(reference.resolve()?),
            _ => None,
        };
        Ok(Credentials {
            connection: connection.name,
            kind: resource.kind,
            address: resource.address,
            tls: resource.tls,
            ca_file: resource.ca_file,
            database: connection.database,
            username: connection.username,
            password,
        })
    }

    /// Re-seals every stored password and every binding's secrets not
    /// sealed with the current key; returns how many values (passwords and
    /// bindings). Run after putting a new key first.
    pub async fn rotate_key(&self, actor: &Actor) -> Result<u64> {
        let current = self.store.keys.current_id().to_string();
        let mut tx = self.store.begin().await?;
        let rows = sqlx::query(
            "SELECT id, password_sealed, password_key_id FROM connections \
             WHERE password_key_id IS NOT NULL AND password_key_id <> $1",
        )
        .bind(&current)
        .fetch_all(&mut *tx)
        .await?;
        for row in &rows {
            let id: i64 = row.try_get("id")?;
            let sealed: Vec<u8> = row.try_get("password_sealed")?;
            let key_id: String = row.try_get("password_key_id")?;
            let secret = self.store.keys.open(&key_id, &sealed, &aad(id))?;
            self.store
                .write_password(&mut tx, id, &Some(Password::Value(secret)))
                .await?;
        }
        let count = rows.len() as u64 + bindings::reseal(&mut tx, &self.store.keys).await?;
        if count > 0 {
            let change = Change::new("connection.rotate_key", "connections")
                .after(&serde_json::json!({ "key_id": current, "resealed": count }));
            record(&mut tx, self.store.backend, actor, change).await?;
        }
        tx.commit().await?;
        Ok(count)
    }
}
