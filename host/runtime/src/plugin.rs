//! Loading a component as a plugin, and binding a loaded plugin to a
//! connection with its config, grants and limits.
//!
//! Loading compiles the component (once per digest, via the cache), links
//! it against the 0.1 world (a component importing anything else, or not
//! exporting the `guest` interface with the right signatures, is refused
//! here with the linker's explanation), pre-instantiates it, and asks it to
//! `describe` itself. A loaded plugin is immutable and shared by every
//! binding and session that uses that version.

use crate::Runtime;
use crate::error::{BindError, LoadError};
use crate::grants::{Grants, Limits};
use crate::http::AllowedPrefix;
use crate::instance::PluginInstance;
use crate::state::BindingContext;
use crate::v0_1::{
    self,
    types::{Capability, Hook, Manifest},
};
use std::sync::Arc;

/// A compiled, linked, described plugin component.
pub struct LoadedPlugin {
    pub manifest: Manifest,
    /// Hex SHA-256 of the component bytes.
    pub digest: String,
    pub(crate) linked: Linked,
    hooks: HookSet,
    /// Keeps the compiled component in the runtime's memory cache while
    /// this plugin lives (`linked` holds the code itself).
    _component: Arc<wasmtime::component::Component>,
}

/// A component linked against the 0.1 world: what instantiating it needs.
pub(crate) struct Linked {
    pub(crate) pre: wasmtime::component::InstancePre<crate::state::PluginState>,
    /// The required exports, looked up (and the world checked) once.
    pub(crate) indices: v0_1::PluginIndices,
    /// `query-filter.on-query-keywords`, if the plugin exports it (its
    /// type is checked with every instance, first by the load's probe).
    pub(crate) query_filter: Option<wasmtime::component::ComponentExportIndex>,
}

/// The declared hooks as bits, checked on every call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HookSet(u8);

impl HookSet {
    fn bit(hook: Hook) -> u8 {
        1 << (hook as u8)
    }
    pub fn from_hooks(hooks: &[Hook]) -> Self {
        Self(hooks.iter().fold(0, |bits, hook| bits | Self::bit(*hook)))
    }
    pub fn contains(self, hook: Hook) -> bool {
        self.0 & Self::bit(hook) != 0
    }
}

impl LoadedPlugin {
    pub(crate) async fn load(runtime: &Runtime, bytes: &[u8]) -> Result<Self, LoadError> {
        let digest = crate::cache::digest(bytes);
        // Compiling takes seconds of CPU (and a load may wait for another
        // one compiling the same digest): off the async threads.
        let component = {
            let (cache, engine) = (runtime.cache.clone(), runtime.engine.clone());
            let (bytes, digest) = (bytes.to_vec(), digest.clone());
            tokio::task::spawn_blocking(move || cache.get_or_compile(&engine, &bytes, &digest))
                .await
                .map_err(|e| LoadError::Invalid(format!("compiling the component failed: {e}")))??
        };
        let instance_pre = runtime
            .linker
            .instantiate_pre(&component)
            .map_err(|e| LoadError::WrongWorld(format!("{e:#}")))?;
        let indices = v0_1::PluginIndices::new(&instance_pre)
            .map_err(|e| LoadError::WrongWorld(format!("{e:#}")))?;
        let query_filter = component
            .get_export_index(None, crate::query_filter::INTERFACE)
            .and_then(|interface| {
                component.get_export_index(Some(&interface), crate::query_filter::FUNCTION)
            });
        let linked = Linked {
            pre: instance_pre,
            indices,
            query_filter,
        };
        // Describe with an instance that has no config and no grants.
        let probe_binding = Arc::new(BindingContext {
            plugin: format!("<{}>", &digest[..12]),
            config: Arc::from("{}"),
            grants: Grants::default(),
            http_allowlist: Vec::new(),
        });
        let mut probe = PluginInstance::instantiate_raw(
            runtime,
            &linked,
            probe_binding,
            None,
            Limits::default(),
        )
        .await
        .map_err(|fault| LoadError::Describe(fault.to_string()))?;
        let manifest = probe
            .describe()
            .await
            .map_err(|fault| LoadError::Describe(fault.to_string()))?;
        check_manifest(&manifest)?;
        let hooks = HookSet::from_hooks(&manifest.hooks);
        Ok(Self {
            manifest,
            digest,
            linked,
            hooks,
            _component: component,
        })
    }

    pub fn name(&self) -> &str {
        &self.manifest.name
    }

    pub fn implements(&self, hook: Hook) -> bool {
        self.hooks.contains(hook)
    }

    pub fn declares(&self, capability: Capability) -> bool {
        self.manifest.capabilities.contains(&capability)
    }
}

fn check_manifest(manifest: &Manifest) -> Result<(), LoadError> {
    let name_ok = !manifest.name.is_empty()
        && manifest.name.len() <= 64
        && manifest
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !name_ok {
        return Err(LoadError::BadManifest(format!(
            "name {:?} must be 1-64 ASCII letters, digits, '-' or '_'",
            manifest.name
        )));
    }
    if manifest.version.is_empty() {
        return Err(LoadError::BadManifest("version is empty".into()));
    }
    Ok(())
}

/// A plugin enabled on a connection: config, grants and limits checked.
pub struct Binding {
    pub plugin: Arc<LoadedPlugin>,
    pub limits: Limits,
    pub(crate) context: Arc<BindingContext>,
    /// The `query-filter` its sessions were last answered with, compiled.
    pub(crate) query_filters: crate::query_filter::FilterCache,
}

impl Binding {
    /// Check `config` with the plugin itself (`validate-config`), the grants
    /// against its manifest, and the limits against the engine; then bind.
    pub async fn new(
        runtime: &Runtime,
        plugin: Arc<LoadedPlugin>,
        config: &str,
        grants: Grants,
        limits: Limits,
    ) -> Result<Self, BindError> {
        let name = plugin.name().to_string();
        if limits.memory_bytes > runtime.settings.max_memory_bytes {
            return Err(BindError::Limits {
                plugin: name,
                message: format!(
                    "memory cap {} exceeds the gateway's maximum of {} bytes",
                    limits.memory_bytes, runtime.settings.max_memory_bytes
                ),
            });
        }
        if limits.deadline.is_zero() {
            return Err(BindError::Limits {
                plugin: name,
                message: "deadline must be positive".into(),
            });
        }
        grants.check_against(&name, &plugin.manifest.capabilities)?;
        let http_allowlist = grants
            .http
            .iter()
            .map(|prefix| AllowedPrefix::parse(prefix))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|message| BindError::Grant {
                plugin: name.clone(),
                message,
            })?;
        let config: Arc<str> = Arc::from(if config.trim().is_empty() {
            "{}"
        } else {
            config
        });
        let context = Arc::new(BindingContext {
            plugin: name.clone(),
            config: config.clone(),
            grants,
            http_allowlist,
        });
        let mut probe =
            PluginInstance::instantiate_raw(runtime, &plugin.linked, context.clone(), None, limits)
                .await?;
        probe
            .validate_config(&config)
            .await?
            .map_err(|message| BindError::Config {
                plugin: name,
                message,
            })?;
        Ok(Self {
            plugin,
            limits,
            context,
            query_filters: Default::default(),
        })
    }

    pub fn plugin_name(&self) -> &str {
        &self.context.plugin
    }
}
