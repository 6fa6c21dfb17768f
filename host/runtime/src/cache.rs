//! Compiled-component cache: a component is compiled once per (digest,
//! engine) and kept on disk, and in memory while a loaded plugin uses it.
//!
//! The memory side holds components weakly: [`CompileCache::get_or_compile`]
//! hands out an `Arc` that the loaded plugin keeps, and once the last
//! plugin of a digest is dropped (a version replaced or deleted) its native
//! code is freed; loading it again reads the disk artifact.
//!
//! One compilation per digest at a time: concurrent first loads of one
//! component (sessions of several connections binding the same plugin, an
//! API upload racing a reload) wait for the one compiling it and share its
//! result, instead of each compiling, and writing, the same artifact. Loads
//! of different digests do not wait for each other.
//!
//! Files are named `<sha256 of the .wasm>-<engine fingerprint>.cwasm`. The
//! fingerprint covers the wasmtime version and every engine setting that
//! affects code generation, so an upgrade or a changed setting simply misses
//! and recompiles.
//!
//! Invariant: the cache directory must be writable only by the gateway.
//! Loading a `.cwasm` runs native code without validation, which is why the
//! deserialisation is `unsafe`; a file that fails to load is recompiled and
//! replaced rather than trusted. Writes go to a temporary file then rename,
//! so a crash never leaves a half-written artifact under the final name.
//!
//! Pruning: when the cache is opened, artifacts of another fingerprint (an
//! earlier wasmtime or engine setting, which this engine can never load)
//! and temporary files a crashed writer left are deleted, so upgrades do
//! not pile up dead native code. Pruning is best effort: a file that cannot
//! be deleted is logged and left, and nothing else in the directory is
//! touched (only names this module writes are considered).

use crate::error::LoadError;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};
use wasmtime::Engine;
use wasmtime::component::Component;

pub struct CompileCache {
    dir: Option<PathBuf>,
    fingerprint: String,
    /// By digest: the component while some loaded plugin holds it. The
    /// map's lock is held only to find or add a digest's [`Slot`]; a slot's
    /// own lock is held while its component is loaded or compiled.
    loaded: Mutex<HashMap<String, Arc<Slot>>>,
}

/// One digest's place in the memory cache.
type Slot = Mutex<Weak<Component>>;

/// Hex SHA-256 of a component's bytes: its identity everywhere in Gatehouse.
pub fn digest(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl CompileCache {
    /// A cache that keeps artifacts in `dir` (created if missing), or only in
    /// memory when `dir` is `None`.
    pub fn new(engine: &Engine, dir: Option<PathBuf>) -> Self {
        let mut hasher = std::hash::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        env!("CARGO_PKG_VERSION").hash(&mut hasher);
        let fingerprint = format!("{:016x}", hasher.finish());
        if let Some(dir) = &dir {
            prune(dir, &fingerprint);
        }
        Self {
            dir,
            fingerprint,
            loaded: Mutex::new(HashMap::new()),
        }
    }

    /// The compiled form of `bytes` (whose digest is `digest`). The caller
    /// keeps the `Arc` for as long as it uses the component: the memory
    /// cache shares it only while someone does.
    pub fn get_or_compile(
        &self,
        engine: &Engine,
        bytes: &[u8],
        digest: &str,
    ) -> Result<Arc<Component>, LoadError> {
        let slot = self.slot(digest);
        // Held while loading: a second load of this digest waits here.
        let mut held = slot.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(component) = held.upgrade() {
            return Ok(component);
        }
        let component = Arc::new(match &self.dir {
            Some(dir) => self.load_or_compile(engine, dir, bytes, digest)?,
            None => compile(engine, bytes)?,
        });
        *held = Arc::downgrade(&component);
        Ok(component)
    }

    /// `digest`'s slot, added if missing. Slots of components nobody holds
    /// any more, and that nobody is loading, are dropped first.
    fn slot(&self, digest: &str) -> Arc<Slot> {
        let mut loaded = self.loaded.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(slot) = loaded.get(digest) {
            return slot.clone();
        }
        loaded.retain(|_, slot| {
            // A slot being loaded is locked, or held by its loader. One
            // whose load panicked (poisoned) is judged like any other.
            Arc::strong_count(slot) > 1
                || match slot.try_lock() {
                    Ok(held) => held.strong_count() > 0,
                    Err(std::sync::TryLockError::Poisoned(held)) => {
                        held.into_inner().strong_count() > 0
                    }
                    Err(std::sync::TryLockError::WouldBlock) => true,
                }
        });
        let slot = Arc::new(Mutex::new(Weak::new()));
        loaded.insert(digest.to_string(), slot.clone());
        slot
    }

    /// How many components the memory cache shares now.
    #[cfg(test)]
    fn in_memory(&self) -> usize {
        let loaded = self.loaded.lock().unwrap();
        loaded
            .values()
            .filter(|slot| slot.lock().unwrap().strong_count() > 0)
            .count()
    }

    fn load_or_compile(
        &self,
        engine: &Engine,
        dir: &Path,
        bytes: &[u8],
        digest: &str,
    ) -> Result<Component, LoadError> {
        let path = dir.join(format!("{digest}-{}.cwasm", self.fingerprint));
        if path.exists() {
            // SAFETY: the cache directory is owned by the gateway (module
            // invariant) and the file name binds the artifact to this
            // component's digest and this engine's configuration.
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(component) => return Ok(component),
                Err(err) => {
                    tracing::warn!(path = %path.display(), error = %err, "discarding unusable compiled plugin; recompiling");
                }
            }
        }
        let component = compile(engine, bytes)?;
        if let Err(err) = write_artifact(dir, &path, &component) {
            // A cache that cannot be written costs speed, not correctness.
            tracing::warn!(path = %path.display(), error = %err, "could not cache compiled plugin");
        }
        Ok(component)
    }
}

/// Deletes what this engine can never use: artifacts of another
/// fingerprint, and temporary files of interrupted writes. Returns how many
/// files were deleted.
fn prune(dir: &Path, fingerprint: &str) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0; // missing (created on first write) or unreadable: nothing to prune
    };
    let current = format!("-{fingerprint}.cwasm");
    let mut deleted = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let stale_artifact = name.ends_with(".cwasm") && !name.ends_with(&current);
        let leftover_write = name.starts_with('.') && name.ends_with(".tmp");
        if !(stale_artifact || leftover_write) {
            continue;
        }
        match std::fs::remove_file(entry.path()) {
            Ok(()) => deleted += 1,
            Err(err) => {
                tracing::warn!(path = %entry.path().display(), error = %err, "could not prune compiled-plugin cache");
            }
        }
    }
    if deleted > 0 {
        tracing::info!(dir = %dir.display(), deleted, "pruned compiled plugins of another engine");
    }
    deleted
}

fn compile(engine: &Engine, bytes: &[u8]) -> Result<Component, LoadError> {
    Component::new(engine, bytes).map_err(|e| LoadError::Invalid(format!("{e:#}")))
}

fn write_artifact(dir: &Path, path: &Path, component: &Component) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let serialized = component.serialize().map_err(|e| anyhow::anyhow!("{e}"))?;
    let tmp = dir.join(format!(".{}.{}.tmp", std::process::id(), rand_suffix()));
    std::fs::write(&tmp, serialized)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// Distinct temporary names for concurrent writers in one process.
fn rand_suffix() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("gatehouse-cache-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn opening_the_cache_prunes_other_engines_and_interrupted_writes_only() {
        let dir = scratch_dir("prune");
        let engine = Engine::default();
        let fingerprint = CompileCache::new(&engine, None).fingerprint;
        let files = [
            (format!("{}-{fingerprint}.cwasm", "a".repeat(64)), true),
            (format!("{}-0000000000000000.cwasm", "a".repeat(64)), false),
            (".4242.0.tmp".to_string(), false),
            ("notes.txt".to_string(), true),
        ];
        for (name, _) in &files {
            std::fs::write(dir.join(name), b"x").unwrap();
        }
        let _cache = CompileCache::new(&engine, Some(dir.clone()));
        for (name, kept) in &files {
            assert_eq!(dir.join(name).exists(), *kept, "{name}");
        }
        // A missing directory is not an error (it is created on first write).
        assert_eq!(prune(&dir.join("missing"), &fingerprint), 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn memory_keeps_a_component_only_while_it_is_used() {
        let engine = Engine::default();
        let cache = CompileCache::new(&engine, None);
        // An empty component, and one with a custom section (binary format).
        let bytes = b"\0asm\x0d\x00\x01\x00";
        let first = cache
            .get_or_compile(&engine, bytes, &digest(bytes))
            .unwrap();
        let again = cache
            .get_or_compile(&engine, bytes, &digest(bytes))
            .unwrap();
        assert!(Arc::ptr_eq(&first, &again), "shared while held");
        assert_eq!(cache.in_memory(), 1);
        drop((first, again));
        assert_eq!(cache.in_memory(), 0, "freed with its last user");
        let other = b"\0asm\x0d\x00\x01\x00\x00\x02\x01x";
        let _held = cache
            .get_or_compile(&engine, other, &digest(other))
            .unwrap();
        assert_eq!(
            cache.loaded.lock().unwrap().len(),
            1,
            "dead entries are dropped on insert"
        );
    }

    #[test]
    fn concurrent_first_loads_of_one_digest_compile_it_once() {
        let dir = scratch_dir("single-flight");
        let engine = Engine::default();
        let cache = CompileCache::new(&engine, Some(dir.clone()));
        // A component with a core module that has code to compile, so that
        // the loads overlap.
        let bytes = component_with_code();
        let digest = digest(&bytes);
        let start = std::sync::Barrier::new(4);
        let loaded: Vec<Arc<Component>> = std::thread::scope(|scope| {
            let loads: Vec<_> = (0..4)
                .map(|_| {
                    scope.spawn(|| {
                        start.wait();
                        cache.get_or_compile(&engine, &bytes, &digest).unwrap()
                    })
                })
                .collect();
            loads.into_iter().map(|load| load.join().unwrap()).collect()
        });
        assert!(
            loaded.iter().all(|c| Arc::ptr_eq(c, &loaded[0])),
            "every load shares the one compiled component"
        );
        let artifacts = std::fs::read_dir(&dir).unwrap().count();
        assert_eq!(artifacts, 1, "one artifact written, no temporary left");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A component embedding a core module of a few hundred functions:
    /// enough code that concurrent compilations of it overlap.
    fn component_with_code() -> Vec<u8> {
        use wasm_encoder::{
            CodeSection, ExportKind, ExportSection, Function, FunctionSection, Instruction, Module,
            ModuleSection, TypeSection, ValType,
        };
        let mut types = TypeSection::new();
        types.ty().function([ValType::I32], [ValType::I32]);
        let (mut functions, mut exports, mut code) = (
            FunctionSection::new(),
            ExportSection::new(),
            CodeSection::new(),
        );
        for i in 0..300u32 {
            functions.function(0);
            exports.export(&format!("f{i}"), ExportKind::Func, i);
            let mut body = Function::new([]);
            body.instruction(&Instruction::LocalGet(0))
                .instruction(&Instruction::I32Const(i as i32))
                .instruction(&Instruction::I32Add)
                .instruction(&Instruction::I32Const(3))
                .instruction(&Instruction::I32Mul)
                .instruction(&Instruction::End);
            code.function(&body);
        }
        let mut module = Module::new();
        module
            .section(&types)
            .section(&functions)
            .section(&exports)
            .section(&code);
        let mut component = wasm_encoder::Component::new();
        component.section(&ModuleSection(&module));
        component.finish()
    }
}
