//! Secrets at rest: the key ring, sealing and opening, and [`Secret`].
//!
//! Connection passwords are stored only as ChaCha20-Poly1305 ciphertext
//! (ring's AEAD, already built for rustls). Each value gets a fresh random
//! 96-bit nonce; the stored form is `nonce || ciphertext || tag` next to the
//! id of the key that sealed it. The associated data binds a ciphertext to
//! its purpose and row (`connection-password:<id>`), so a sealed value
//! copied into another row does not open.
//!
//! Keys: 32 bytes, written as 64 hex digits or base64. [`SecretKeys::load`]
//! reads `GATEHOUSE_SECRET_KEY` if it is set, else the key file
//! (`<state_dir>/secret.key`), which is generated with mode 0600 on first
//! start and refused if group or others can read it. Both may hold several
//! keys (comma- or line-separated): the first seals, all open. A key's id is
//! derived from the key (first 8 bytes of SHA-256 over a label and the key,
//! hex), so ids need no bookkeeping and rotation is: put the new key first,
//! keep the old one after it, call `Connections::rotate_key`, then drop the
//! old key.
//!
//! Failure modes: a missing key id or a failed tag check is
//! [`StoreError::Secret`](crate::StoreError::Secret) naming the key id, never
//! the value. [`Secret`] and [`SecretKeys`] print no secret in `Debug`.

use crate::error::{Result, StoreError};
use base64::Engine;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use sha2::{Digest, Sha256};
use std::fmt;
use std::path::{Path, PathBuf};

/// Environment variable holding the secret key(s).
pub const SECRET_KEY_ENV: &str = "GATEHOUSE_SECRET_KEY";
/// Name of the generated key file in the state directory.
pub const SECRET_KEY_FILE: &str = "secret.key";

/// A secret value (an upstream password, a fresh access token). `Debug`
/// prints `Secret(***)`; there is no `Display`; the bytes are overwritten
/// when it is dropped. Read it with [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself. Call only where it is used (an upstream login,
    /// the one response that shows a new token).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(value.to_string())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        let mut bytes = std::mem::take(&mut self.0).into_bytes();
        for byte in bytes.iter_mut() {
            // Volatile so the wipe is not optimised away.
            unsafe { std::ptr::write_volatile(byte, 0) };
        }
    }
}

struct Key {
    id: String,
    key: LessSafeKey,
}

/// The keys that seal and open secrets: the first seals, every one opens.
pub struct SecretKeys {
    keys: Vec<Key>,
}

impl fmt::Debug for SecretKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretKeys")
            .field(
                "ids",
                &self.keys.iter().map(|k| k.id.as_str()).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// A secret sealed for storage.
pub(crate) struct Sealed {
    pub key_id: String,
    pub bytes: Vec<u8>,
}

fn key_id(key: &[u8; 32]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"gatehouse secret key id\0");
    hasher.update(key);
    hex::encode(&hasher.finalize()[..8])
}

fn parse_key(text: &str) -> Result<[u8; 32]> {
    let text = text.trim();
    let bytes = if text.len() == 64 && text.chars().all(|c| c.is_ascii_hexdigit()) {
        hex::decode(text).ok()
    } else {
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text))
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(text))
            .ok()
    };
    bytes
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| {
            StoreError::Secret("a secret key must be 32 bytes, as 64 hex digits or base64".into())
        })
}

impl SecretKeys {
    /// Keys from raw bytes; the first seals.
    pub fn from_keys(keys: &[[u8; 32]]) -> Result<Self> {
        if keys.is_empty() {
            return Err(StoreError::Secret("no secret key".into()));
        }
        Ok(SecretKeys {
            keys: keys
                .iter()
                .map(|bytes| Key {
                    id: key_id(bytes),
                    key: LessSafeKey::new(
                        UnboundKey::new(&CHACHA20_POLY1305, bytes)
                            .expect("32-byte ChaCha20-Poly1305 key"),
                    ),
                })
                .collect(),
        })
    }

    /// A fresh random key (tests, and the generated key file).
    pub fn generate() -> Self {
        Self::from_keys(&[random_key()]).expect("one key")
    }

    /// Parses keys separated by commas or lines (`#` starts a comment);
    /// each 64 hex digits or base64 of 32 bytes. The first seals.
    pub fn parse(text: &str) -> Result<Self> {
        let keys = text
            .lines()
            .map(|line| line.split('#').next().unwrap_or(""))
            .flat_map(|line| line.split(','))
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(parse_key)
            .collect::<Result<Vec<_>>>()?;
        Self::from_keys(&keys)
    }

    /// `GATEHOUSE_SECRET_KEY` if set, else the key file in `state_dir`
    /// (created with mode 0600 when missing).
    pub fn load(state_dir: &Path) -> Result<Self> {
        match std::env::var(SECRET_KEY_ENV) {
            Ok(text) => {
                Self::parse(&text).map_err(|e| StoreError::Secret(format!("{SECRET_KEY_ENV}: {e}")))
            }
            Err(std::env::VarError::NotUnicode(_)) => Err(StoreError::Secret(format!(
                "{SECRET_KEY_ENV} is not valid UTF-8"
            ))),
            Err(std::env::VarError::NotPresent) => {
                Self::load_or_create_file(&state_dir.join(SECRET_KEY_FILE))
            }
        }
    }

    /// Reads the key file at `path`, or creates it (mode 0600, one random
    /// key) when it does not exist. A file group or others can read is
    /// refused.
    pub fn load_or_create_file(path: &Path) -> Result<Self> {
        let error = |what: &str, e: std::io::Error| {
            StoreError::Secret(format!("{what} {}: {e}", path.display()))
        };
        match std::fs::read_to_string(path) {
            Ok(text) => {
                check_private(path)?;
                Self::parse(&text)
                    .map_err(|e| StoreError::Secret(format!("{}: {e}", path.display())))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)
                        .map_err(|e| error("creating the directory of", e))?;
                }
                let key = random_key();
                let text = format!(
                    "# Gatehouse secret key: seals connection passwords in the store.\n\
                     # Losing it loses every stored password; back it up apart from the store.\n\
                     # Rotation: put a new key on the first line, keep this one below it.\n{}\n",
                    hex::encode(key)
                );
                write_private(path, text.as_bytes()).map_err(|e| error("creating", e))?;
                tracing::info!(path = %path.display(), "generated a new secret key file");
                Self::from_keys(&[key])
            }
            Err(e) => Err(error("reading", e)),
        }
    }

    /// Id of the key that seals.
    pub fn current_id(&self) -> &str {
        &self.keys[0].id
    }

    /// Ids of every key, the sealing one first.
    pub fn ids(&self) -> Vec<String> {
        self.keys.iter().map(|k| k.id.clone()).collect()
    }

    pub(crate) fn seal(&self, plaintext: &[u8], aad: &str) -> Sealed {
        let key = &self.keys[0];
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).expect("the operating system's random source");
        let mut bytes =
            Vec::with_capacity(NONCE_LEN + plaintext.len() + CHACHA20_POLY1305.tag_len());
        bytes.extend_from_slice(&nonce);
        let mut body = plaintext.to_vec();
        key.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad.as_bytes()),
                &mut body,
            )
            .expect("sealing within ChaCha20-Poly1305 limits");
        bytes.extend_from_slice(&body);
        body.fill(0);
        Sealed {
            key_id: key.id.clone(),
            bytes,
        }
    }

    pub(crate) fn open(&self, key_id: &str, sealed: &[u8], aad: &str) -> Result<Secret> {
        let key = self
            .keys
            .iter()
            .find(|k| k.id == key_id)
            .ok_or_else(|| StoreError::Secret(format!("no key with id {key_id} is loaded")))?;
        if sealed.len() < NONCE_LEN + CHACHA20_POLY1305.tag_len() {
            return Err(StoreError::Secret("sealed value is truncated".into()));
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).expect("12-byte nonce");
        let mut body = body.to_vec();
        let plaintext = key
            .key
            .open_in_place(nonce, Aad::from(aad.as_bytes()), &mut body)
            .map_err(|_| {
                StoreError::Secret(format!("sealed value does not open with key {key_id}"))
            })?;
        let text = String::from_utf8(plaintext.to_vec())
            .map_err(|_| StoreError::Secret("sealed value is not UTF-8".into()));
        body.fill(0);
        text.map(Secret)
    }
}

fn random_key() -> [u8; 32] {
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).expect("the operating system's random source");
    key
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

#[cfg(unix)]
fn check_private(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .map_err(|e| StoreError::Secret(format!("{}: {e}", path.display())))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(StoreError::Secret(format!(
            "{} is readable by group or others (mode {:o}); chmod 600 it",
            path.display(),
            mode & 0o777
        )));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_path: &Path) -> Result<()> {
    Ok(())
}

/// Where a secret comes from when it is not stored sealed: an environment
/// variable of the gateway process or a file. Neither is secret itself.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum SecretRef {
    Env(String),
    File(PathBuf),
}

impl SecretRef {
    /// Resolves the reference. Errors name the reference, never a value.
    pub fn resolve(&self) -> Result<Secret> {
        match self {
            SecretRef::Env(var) => std::env::var(var)
                .map(Secret)
                .map_err(|_| StoreError::Secret(format!("environment variable {var} is not set"))),
            SecretRef::File(path) => std::fs::read_to_string(path)
                .map(|s| Secret(s.trim_end_matches(['\n', '\r']).to_string()))
                .map_err(|e| {
                    StoreError::Secret(format!("reading secret file {}: {e}", path.display()))
                }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_and_open_round_trip_with_fresh_nonces() {
        let keys = SecretKeys::generate();
        let a = keys.seal(b"hunter2", "row:1");
        let b = keys.seal(b"hunter2", "row:1");
        assert_ne!(a.bytes, b.bytes, "nonces are random");
        assert_eq!(
            keys.open(&a.key_id, &a.bytes, "row:1").unwrap().expose(),
            "hunter2"
        );
        assert!(
            keys.open(&a.key_id, &a.bytes, "row:2").is_err(),
            "bound to its row"
        );
        let mut tampered = a.bytes.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(keys.open(&a.key_id, &tampered, "row:1").is_err());
    }

    #[test]
    fn older_keys_open_and_the_first_seals() {
        let old = random_key();
        let new = random_key();
        let before = SecretKeys::from_keys(&[old]).unwrap();
        let sealed = before.seal(b"pw", "x");
        let text = format!(
            "{}\n# comment\n{}",
            hex::encode(new),
            base64::engine::general_purpose::STANDARD.encode(old)
        );
        let after = SecretKeys::parse(&text).unwrap();
        assert_eq!(after.current_id(), key_id(&new));
        assert_eq!(
            after
                .open(&sealed.key_id, &sealed.bytes, "x")
                .unwrap()
                .expose(),
            "pw"
        );
        assert!(SecretKeys::parse("abcd").is_err());
    }

    #[test]
    fn debug_prints_no_secret() {
        assert_eq!(format!("{:?}", Secret::new("hunter2")), "Secret(***)");
        let keys = SecretKeys::generate();
        assert!(format!("{keys:?}").contains(keys.current_id()));
    }

    #[test]
    fn the_key_file_is_created_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join(SECRET_KEY_FILE);
        let first = SecretKeys::load_or_create_file(&path).unwrap();
        let second = SecretKeys::load_or_create_file(&path).unwrap();
        assert_eq!(first.current_id(), second.current_id());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            let err = SecretKeys::load_or_create_file(&path).unwrap_err();
            assert!(err.to_string().contains("chmod 600"), "{err}");
        }
    }
}
