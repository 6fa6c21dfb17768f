//! Applying the declarative configuration file into the store.
//!
//! `gatehouse.toml` declares plugins, resources with their roles
//! (connections) and bindings, and local users. At startup the gateway
//! applies it into the store, which is the source of truth the proxy and
//! the API read; changes made through the API to objects the file does
//! not mention are left alone.
//!
//! Semantics (idempotent: applying the same file twice changes nothing and
//! writes no audit row):
//! * **Plugins**: the embedded first-party components and every `[[plugins]]`
//!   file are installed (the store deduplicates identical bytes). When a
//!   component's version label is already taken by other bytes (a rebuilt
//!   plugin whose author did not bump the version), it is installed as
//!   `<version>+<first 12 hex digits of its digest>`.
//! * **Resources and connections** the file names are created or updated to
//!   match it. A password is stored as the file's reference (`{ env }` /
//!   `{ file }`), never as a value.
//! * **Bindings** of a connection the file names are replaced by the file's
//!   list when they differ from it (the file owns that connection's plugin
//!   list; bind through the API only on connections the file does not
//!   declare, or stop declaring its plugins). A binding's `secrets` are
//!   references in the file (`{ env }` / `{ file }`, or tables of them):
//!   they are resolved here and stored **sealed**, as the binding's secrets
//!   (never in its clear config, never logged), and the plugin gets them
//!   merged into its config. Unlike a password, which is resolved at each
//!   upstream login, a changed secret value is picked up at the next
//!   start, and a reference that does not resolve stops startup naming it.
//!   Comparing with the store opens the stored secrets (in the gateway
//!   only); ones that no longer open (a lost key) count as different.
//! * **Users** are created or updated (role, groups); every `token_sha256` is
//!   imported once.
//!
//! Every change is audited as the actor `system:config`. A failure stops
//! startup naming the object at fault; earlier objects stay applied (each
//! change is its own transaction).

use crate::config::{self, Config};
use anyhow::Context;
use gatehouse_runtime::{LoadedPlugin, Runtime};
use gatehouse_store::bindings::{Binding, Grants as StoreGrants, NewBinding, Pin, merge_config};
use gatehouse_store::connections::{ConnectionUpdate, NewConnection, Password};
use gatehouse_store::plugins::NewPlugin;
use gatehouse_store::resources::{NewResource, ResourceKind, ResourceUpdate, TlsMode};
use gatehouse_store::users::{NewUser, UserUpdate};
use gatehouse_store::{Actor, Role, SecretRef, Store, StoreError};
use std::sync::Arc;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded_plugins.rs"));
}

/// The actor of changes made by applying the file.
pub fn config_actor() -> Actor {
    Actor::system("config")
}

/// Apply `config` into `store`. Returns the plugins it loaded (by digest),
/// which the catalog reuses instead of compiling them again.
pub async fn apply(
    config: &Config,
    store: &Store,
    runtime: &Runtime,
) -> anyhow::Result<Vec<Arc<LoadedPlugin>>> {
    let actor = config_actor();
    let mut loaded = Vec::new();
    for (package, bytes) in embedded::EMBEDDED {
        let plugin = runtime
            .load(bytes)
            .await
            .with_context(|| format!("loading embedded plugin {package}"))?;
        install(store, &actor, &plugin, bytes).await?;
        loaded.push(plugin);
    }
    for source in &config.plugins {
        let bytes = std::fs::read(&source.path)
            .with_context(|| format!("reading plugin {}", source.path.display()))?;
        let plugin = runtime
            .load(&bytes)
            .await
            .with_context(|| format!("loading plugin {}", source.path.display()))?;
        install(store, &actor, &plugin, &bytes)
            .await
            .with_context(|| format!("installing plugin {}", source.path.display()))?;
        loaded.push(plugin);
    }
    for resource in &config.resources {
        apply_resource(store, &actor, resource)
            .await
            .with_context(|| format!("resource '{}'", resource.name))?;
    }
    for user in &config.users {
        apply_user(store, &actor, user)
            .await
            .with_context(|| format!("user '{}'", user.email))?;
    }
    Ok(loaded)
}

/// Install a loaded component unless the store has these bytes already.
pub async fn install(
    store: &Store,
    actor: &Actor,
    plugin: &LoadedPlugin,
    bytes: &[u8],
) -> anyhow::Result<()> {
    let versions = store.plugins().versions(plugin.name()).await?;
    if versions.iter().any(|v| v.digest == plugin.digest) {
        return Ok(());
    }
    let manifest = &plugin.manifest;
    let mut new = NewPlugin {
        name: manifest.name.clone(),
        version: manifest.version.clone(),
        description: manifest.description.clone(),
        hooks: manifest
            .hooks
            .iter()
            .map(|h| h.wit_name().to_string())
            .collect(),
        capabilities: manifest
            .capabilities
            .iter()
            .map(|c| c.wit_name().to_string())
            .collect(),
        config_schema: None,
        component: bytes.to_vec(),
    };
    if versions.iter().any(|v| v.version == new.version) {
        new.version = format!("{}+{}", new.version, &plugin.digest[..12]);
    }
    store.plugins().install(actor, new).await?;
    Ok(())
}

fn store_kind(kind: config::ResourceKind) -> ResourceKind {
    match kind {
        config::ResourceKind::Postgres => ResourceKind::Postgres,
        config::ResourceKind::Mysql => ResourceKind::Mysql,
        config::ResourceKind::Tcp => ResourceKind::Tcp,
        config::ResourceKind::Http => ResourceKind::Http,
    }
}

fn store_secret(secret: &config::SecretRef) -> SecretRef {
    match secret {
        config::SecretRef::Env(var) => SecretRef::Env(var.clone()),
        config::SecretRef::File(path) => SecretRef::File(path.clone()),
    }
}

fn store_role(role: config::Role) -> Role {
    match role {
        config::Role::Admin => Role::Admin,
        config::Role::User => Role::User,
        config::Role::Approver => Role::Approver,
    }
}

async fn apply_resource(
    store: &Store,
    actor: &Actor,
    resource: &config::Resource,
) -> anyhow::Result<()> {
    let ca_file = resource
        .ca_file
        .as_ref()
        .map(|p| p.to_string_lossy().into_owned());
    let stored = match store.resources().by_name(&resource.name).await {
        Ok(stored) => {
            let update = ResourceUpdate {
                address: (stored.address != resource.address).then(|| resource.address.clone()),
                description: (stored.description != resource.description)
                    .then(|| resource.description.clone()),
                tls: (stored.tls != TlsMode::from(resource.tls))
                    .then(|| TlsMode::from(resource.tls)),
                ca_file: (stored.ca_file != ca_file).then(|| ca_file.clone()),
            };
            anyhow::ensure!(
                stored.kind == store_kind(resource.kind),
                "its kind is {} in the store and {:?} in the file; delete it first to change its kind",
                stored.kind.as_str(),
                resource.kind
            );
            if update != ResourceUpdate::default() {
                store.resources().update(actor, stored.id, update).await?
            } else {
                stored
            }
        }
        Err(StoreError::NotFound { .. }) => {
            let mut new =
                NewResource::new(&resource.name, store_kind(resource.kind), &resource.address);
            new.description = resource.description.clone();
            new.tls = TlsMode::from(resource.tls);
            new.ca_file = ca_file.clone();
            store.resources().create(actor, new).await?
        }
        Err(err) => return Err(err.into()),
    };
    let _ = stored;
    for role in &resource.roles {
        apply_role(store, actor, resource, role)
            .await
            .with_context(|| format!("role '{}'", role.name))?;
    }
    Ok(())
}

async fn apply_role(
    store: &Store,
    actor: &Actor,
    resource: &config::Resource,
    role: &config::ResourceRole,
) -> anyhow::Result<()> {
    let name = format!("{}.{}", resource.name, role.name);
    let password = role
        .password
        .as_ref()
        .map(|secret| Password::Ref(store_secret(secret)));
    let connection = match store.connections().by_name(&name).await {
        Ok(stored) => {
            use gatehouse_store::connections::PasswordSource;
            let stored_source = stored.password_source.clone();
            let wanted_source = role.password.as_ref().map(|secret| match secret {
                config::SecretRef::Env(var) => PasswordSource::Env(var.clone()),
                config::SecretRef::File(path) => {
                    PasswordSource::File(path.to_string_lossy().into_owned())
                }
            });
            let update = ConnectionUpdate {
                description: (stored.description != role.description)
                    .then(|| role.description.clone()),
                database: (stored.database != role.database).then(|| role.database.clone()),
                username: (stored.username != role.username).then(|| role.username.clone()),
                password: (stored_source != wanted_source).then(|| password.clone()),
                attributes: (stored.attributes != role.attributes).then(|| role.attributes.clone()),
            };
            if update != ConnectionUpdate::default() {
                store.connections().update(actor, stored.id, update).await?
            } else {
                stored
            }
        }
        Err(StoreError::NotFound { .. }) => {
            let mut new = NewConnection::new(&resource.name, &role.name);
            new.description = role.description.clone();
            new.database = role.database.clone();
            new.username = role.username.clone();
            new.password = password;
            new.attributes = role.attributes.clone();
            store.connections().create(actor, new).await?
        }
        Err(err) => return Err(err.into()),
    };

    // The file owns this connection's plugin list.
    let mut wanted = Vec::with_capacity(role.plugins.len());
    for (position, spec) in role.plugins.iter().enumerate() {
        let config = serde_json::to_value(&spec.config)
            .with_context(|| format!("plugin '{}': config", spec.plugin))?;
        let grants: StoreGrants = serde_json::from_value(serde_json::to_value(&spec.grants)?)
            .with_context(|| format!("plugin '{}': grants", spec.plugin))?;
        let secrets = config::resolve_secrets(&spec.secrets)
            .with_context(|| format!("plugin '{}': secrets", spec.plugin))?;
        wanted.push(NewBinding {
            plugin: spec.plugin.clone(),
            pin: Pin::Latest,
            config,
            secrets,
            grants,
            deadline_ms: u32::try_from(spec.deadline_ms).unwrap_or(u32::MAX),
            memory_mb: spec.memory_mb,
            enabled: true,
            position: Some(position as i64),
        });
    }
    let current = store.bindings().list(connection.id).await?;
    if !unchanged(store, &current, &wanted).await? {
        for binding in current {
            store.bindings().remove(actor, binding.id).await?;
        }
        for binding in wanted {
            let plugin = binding.plugin.clone();
            store
                .bindings()
                .add(actor, connection.id, binding)
                .await
                .with_context(|| format!("binding plugin '{plugin}'"))?;
        }
    }
    Ok(())
}

/// Whether the stored bindings are the wanted ones, secrets included.
async fn unchanged(
    store: &Store,
    current: &[Binding],
    wanted: &[NewBinding],
) -> anyhow::Result<bool> {
    if current.len() != wanted.len() {
        return Ok(false);
    }
    for (have, want) in current.iter().zip(wanted) {
        let same = have.plugin == want.plugin
            && have.pin == want.pin
            && have.config == want.config
            && have.secrets_set == want.secrets.names()
            && have.grants == want.grants
            && have.deadline_ms == want.deadline_ms
            && have.memory_mb == want.memory_mb
            && have.enabled;
        if !same || !(want.secrets.is_empty() || same_secrets(store, have, want).await?) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Whether `have`'s stored secret values are `want`'s (same names and clear
/// config are already known): compares the configs the plugin would get.
async fn same_secrets(store: &Store, have: &Binding, want: &NewBinding) -> anyhow::Result<bool> {
    let wanted = merge_config(&want.config, &want.secrets)?;
    match store.bindings().plugin_config(have.id).await {
        Ok(stored) => Ok(stored == wanted),
        Err(StoreError::Secret(_)) => Ok(false),
        Err(err) => Err(err.into()),
    }
}

async fn apply_user(store: &Store, actor: &Actor, user: &config::User) -> anyhow::Result<()> {
    let role = store_role(user.role);
    let stored = match store.users().by_email(&user.email).await {
        Ok(stored) => {
            let stored = if stored.role != role {
                store
                    .users()
                    .update(
                        actor,
                        stored.id,
                        UserUpdate {
                            role: Some(role),
                            ..Default::default()
                        },
                    )
                    .await?
            } else {
                stored
            };
            let mut groups = user.groups.clone();
            groups.sort();
            groups.dedup();
            if stored.groups != groups {
                store.users().set_groups(actor, stored.id, &groups).await?
            } else {
                stored
            }
        }
        Err(StoreError::NotFound { .. }) => {
            let mut new = NewUser::new(&user.email, role);
            new.groups = user.groups.clone();
            store.users().create(actor, new).await?
        }
        Err(err) => return Err(err.into()),
    };
    let existing = store.tokens().list(stored.id).await?;
    for (index, digest) in user.token_sha256.iter().enumerate() {
        let name = format!("config-{}", &digest[..12.min(digest.len())]);
        if existing.iter().any(|token| token.name == name) {
            continue;
        }
        store
            .tokens()
            .import(actor, stored.id, &name, digest, None)
            .await
            .with_context(|| format!("token_sha256[{index}]"))?;
    }
    Ok(())
}
