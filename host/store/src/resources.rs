//! Resources: the databases and services users reach through the gateway.
//!
//! A resource has a unique name (1-63 of `A-Za-z0-9-_`, no dots), a kind,
//! an upstream address (`host:port`), a description, and TLS settings
//! towards the upstream (libpq's `sslmode` values, with an optional CA
//! bundle path). Its roles, the connections users pick, are in
//! [`crate::connections`]. A resource with connections cannot be deleted
//! (`Conflict`): delete its connections first. Names cannot change
//! (connection names, sessions and audit rows refer to them).

use crate::Store;
use crate::actor::Actor;
use crate::audit::{Change, record};
use crate::db::{self, now_ms};
use crate::error::{OnConflict, Result, StoreError};
use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;
use sqlx::Row;
use sqlx::any::AnyRow;

/// What kind of upstream a resource is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResourceKind {
    Postgres,
    Mysql,
    Tcp,
    Http,
}

impl ResourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceKind::Postgres => "postgres",
            ResourceKind::Mysql => "mysql",
            ResourceKind::Tcp => "tcp",
            ResourceKind::Http => "http",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "postgres" => ResourceKind::Postgres,
            "mysql" => ResourceKind::Mysql,
            "tcp" => ResourceKind::Tcp,
            "http" => ResourceKind::Http,
            _ => return None,
        })
    }
}

/// TLS towards the upstream, as libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TlsMode {
    Disable,
    #[default]
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl TlsMode {
    pub fn as_str(self) -> &'static str {
        match self {
            TlsMode::Disable => "disable",
            TlsMode::Prefer => "prefer",
            TlsMode::Require => "require",
            TlsMode::VerifyCa => "verify-ca",
            TlsMode::VerifyFull => "verify-full",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "disable" => TlsMode::Disable,
            "prefer" => TlsMode::Prefer,
            "require" => TlsMode::Require,
            "verify-ca" => TlsMode::VerifyCa,
            "verify-full" => TlsMode::VerifyFull,
            _ => return None,
        })
    }
}

/// A resource as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resource {
    pub id: i64,
    pub name: String,
    pub kind: ResourceKind,
    /// `host:port` of the upstream.
    pub address: String,
    pub description: String,
    pub tls: TlsMode,
    /// PEM CA bundle for `verify-ca` / `verify-full`, a path on the gateway.
    pub ca_file: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A resource to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewResource {
    pub name: String,
    pub kind: ResourceKind,
    pub address: String,
    pub description: String,
    pub tls: TlsMode,
    pub ca_file: Option<String>,
}

impl NewResource {
    pub fn new(name: impl Into<String>, kind: ResourceKind, address: impl Into<String>) -> Self {
        NewResource {
            name: name.into(),
            kind,
            address: address.into(),
            description: String::new(),
            tls: TlsMode::default(),
            ca_file: None,
        }
    }
}

/// Fields to change; `None` keeps the stored value (`ca_file: Some(None)`
/// clears it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourceUpdate {
    pub address: Option<String>,
    pub description: Option<String>,
    pub tls: Option<TlsMode>,
    pub ca_file: Option<Option<String>>,
}

fn check_address(address: &str) -> Result<()> {
    db::check_label("address", address, 500)?;
    if address.contains(char::is_whitespace) {
        return Err(StoreError::invalid("address must not contain spaces"));
    }
    Ok(())
}

pub(crate) fn from_row(row: &AnyRow) -> Result<Resource> {
    let kind: String = row.try_get("kind")?;
    let tls: String = row.try_get("tls")?;
    Ok(Resource {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        kind: ResourceKind::parse(&kind)
            .ok_or_else(|| StoreError::invalid(format!("stored kind {kind:?}")))?,
        address: row.try_get("address")?,
        description: row.try_get("description")?,
        tls: TlsMode::parse(&tls)
            .ok_or_else(|| StoreError::invalid(format!("stored tls mode {tls:?}")))?,
        ca_file: row.try_get("ca_file")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

pub(crate) async fn load(conn: &mut AnyConnection, id: i64) -> Result<Resource> {
    let row = sqlx::query("SELECT * FROM resources WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| StoreError::not_found(format!("resource {id}")))?;
    from_row(&row)
}

pub(crate) async fn load_by_name(conn: &mut AnyConnection, name: &str) -> Result<Resource> {
    let row = sqlx::query("SELECT * FROM resources WHERE name = $1")
        .bind(name)
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| StoreError::not_found(format!("resource {name}")))?;
    from_row(&row)
}

/// The resources repository.
pub struct Resources<'s> {
    store: &'s Store,
}

impl<'s> Resources<'s> {
    pub(crate) fn new(store: &'s Store) -> Self {
        Resources { store }
    }

    pub async fn create(&self, actor: &Actor, new: NewResource) -> Result<Resource> {
        db::check_name("resource", &new.name)?;
        check_address(&new.address)?;
        db::check_text("description", &new.description, 2000)?;
        if let Some(path) = &new.ca_file {
            db::check_label("ca_file", path, 1000)?;
        }
        let now = now_ms();
        let mut tx = self.store.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO resources (name, kind, address, description, tls, ca_file, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id",
        )
        .bind(&new.name)
        .bind(new.kind.as_str())
        .bind(&new.address)
        .bind(&new.description)
        .bind(new.tls.as_str())
        .bind(&new.ca_file)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .on_conflict(|| format!("resource {} already exists", new.name))?;
        let resource = load(&mut tx, id).await?;
        record(
            &mut tx,
            self.store.backend,
            actor,
            Change::new("resource.create", format!("resource:{}", new.name)).after(&resource),
        )
        .await?;
        tx.commit().await?;
        Ok(resource)
    }

    pub async fn get(&self, id: i64) -> Result<Resource> {
        load(&mut *self.store.pool.acquire().await?, id).await
    }

    pub async fn by_name(&self, name: &str) -> Result<Resource> {
        load_by_name(&mut *self.store.pool.acquire().await?, name).await
    }

    /// Every resource, by name.
    pub async fn list(&self) -> Result<Vec<Resource>> {
        let rows = sqlx::query("SELECT * FROM resources ORDER BY name")
            .fetch_all(&self.store.pool)
            .await?;
        rows.iter().map(from_row).collect()
    }

    pub async fn update(&self, actor: &Actor, id: i64, update: ResourceUpdate) -> Result<Resource> {
        if let Some(address) = &update.address {
            check_address(address)?;
        }
        if let Some(description) = &update.description {
            db::check_text("description", description, 2000)?;
        }
        if let Some(Some(path)) = &update.ca_file {
            db::check_label("ca_file", path, 1000)?;
        }
        let mut tx = self.store.begin().await?;
        let before = load(&mut tx, id).await?;
        sqlx::query("UPDATE resources SET address = $1, description = $2, tls = $3, ca_file = $4, updated_at = $5 WHERE id = $6")
            .bind(update.address.as_ref().unwrap_or(&before.address))
            .bind(update.description.as_ref().unwrap_or(&before.description))
            .bind(update.tls.unwrap_or(before.tls).as_str())
            .bind(update.ca_file.clone().unwrap_or_else(|| before.ca_file.clone()))
            .bind(now_ms())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let after = load(&mut tx, id).await?;
        record(
            &mut tx,
            self.store.backend,
            actor,
            Change::new("resource.update", format!("resource:{}", before.name))
                .before(&before)
                .after(&after),
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Deletes a resource that has no connections left.
    pub async fn delete(&self, actor: &Actor, id: i64) -> Result<()> {
        let mut tx = self.store.begin().await?;
        let before = load(&mut tx, id).await?;
        let roles: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM connections WHERE resource_id = $1")
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
        if roles > 0 {
            return Err(StoreError::conflict(format!(
                "resource {} still has {roles} connection(s); delete them first",
                before.name
            )));
        }
        sqlx::query("DELETE FROM resources WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .on_conflict(|| format!("resource {} is still in use", before.name))?;
        record(
            &mut tx,
            self.store.backend,
            actor,
            Change::new("resource.delete", format!("resource:{}", before.name)).before(&before),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
