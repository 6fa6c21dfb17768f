//! The provider's signing keys (JWKS) and their cache.
//!
//! Parsing: each JWK is read on its own; a key that is not for signatures
//! (`use` other than `sig`, `key_ops` without `verify`), of an unsupported
//! type or curve, malformed, or RSA under 2048 bits is skipped (logged at
//! debug), so one odd key does not hide the others. A key that names an
//! `alg` is used only for that algorithm.
//!
//! Cache ([`JwksCache`]):
//! * keys are trusted for `ttl`; after that the next verification refetches
//!   them, and if that fetch fails the verification fails (fail closed: a key
//!   the provider withdrew must stop working);
//! * a token with an unknown `kid` triggers one refetch (key rotation),
//!   but never more often than `min_refresh` — made-up key ids cannot turn
//!   into a request flood against the provider; failed fetches are rate
//!   limited the same way;
//! * one fetch at a time (single flight); readers never wait on the network
//!   while keys are fresh.

use crate::config::Algorithm;
use crate::error::VerifyError;
use crate::http::HttpClient;
use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde::Deserialize;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use url::Url;

/// base64url, padding optional (JWKs in the wild carry both).
const JWK_B64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Public key material, ready for ring.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Material {
    /// Modulus and exponent, big-endian, without leading zeros.
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
    /// Uncompressed SEC1 point (`04 || x || y`).
    P256(Vec<u8>),
    P384(Vec<u8>),
    /// The 32-byte public key.
    Ed25519(Vec<u8>),
}

/// One usable signing key.
#[derive(Debug, Clone)]
pub(crate) struct Key {
    pub(crate) kid: Option<String>,
    /// The only algorithm the key may be used with, when the JWK names one.
    pub(crate) alg: Option<Algorithm>,
    pub(crate) material: Material,
}

impl Key {
    /// Whether this key may verify `alg`: the key type must fit the
    /// algorithm family, and a JWK `alg` must be exactly `alg`.
    pub(crate) fn allows(&self, alg: Algorithm) -> bool {
        use Algorithm::*;
        let family = matches!(
            (&self.material, alg),
            (
                Material::Rsa { .. },
                RS256 | RS384 | RS512 | PS256 | PS384 | PS512
            ) | (Material::P256(_), ES256)
                | (Material::P384(_), ES384)
                | (Material::Ed25519(_), EdDSA)
        );
        family && self.alg.is_none_or(|a| a == alg)
    }
}

/// The raw JWK members we read.
#[derive(Deserialize)]
struct Jwk {
    kty: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    alg: Option<String>,
    #[serde(default, rename = "use")]
    use_: Option<String>,
    #[serde(default)]
    key_ops: Option<Vec<String>>,
    #[serde(default)]
    crv: Option<String>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
    #[serde(default)]
    x: Option<String>,
    #[serde(default)]
    y: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct JwksDocument {
    keys: Vec<serde_json::Value>,
}

fn b64(value: &Option<String>, len: Option<usize>) -> Result<Vec<u8>, &'static str> {
    let bytes = JWK_B64
        .decode(value.as_deref().ok_or("missing member")?)
        .map_err(|_| "bad base64url")?;
    match len {
        Some(len) if bytes.len() != len => Err("wrong length"),
        _ => Ok(bytes),
    }
}

fn strip_leading_zeros(mut bytes: Vec<u8>) -> Vec<u8> {
    let zeros = bytes.iter().take_while(|b| **b == 0).count();
    bytes.drain(..zeros);
    bytes
}

fn parse_key(value: serde_json::Value) -> Result<Key, String> {
    let jwk: Jwk = serde_json::from_value(value).map_err(|e| e.to_string())?;
    if jwk.use_.as_deref().is_some_and(|u| u != "sig") {
        return Err("not a signature key (use)".into());
    }
    if jwk
        .key_ops
        .as_ref()
        .is_some_and(|ops| !ops.iter().any(|o| o == "verify"))
    {
        return Err("not a verification key (key_ops)".into());
    }
    let alg = match &jwk.alg {
        None => None,
        Some(name) => {
            Some(Algorithm::from_jose(name).ok_or_else(|| format!("unsupported alg {name:?}"))?)
        }
    };
    let material = match (jwk.kty.as_str(), jwk.crv.as_deref()) {
        ("RSA", _) => {
            let n = strip_leading_zeros(b64(&jwk.n, None)?);
            let e = strip_leading_zeros(b64(&jwk.e, None)?);
            if n.len() < 256 {
                return Err("RSA key under 2048 bits".into());
            }
            if e.is_empty() {
                return Err("RSA exponent is zero".into());
            }
            Material::Rsa { n, e }
        }
        ("EC", Some("P-256")) => {
            let mut point = vec![4];
            point.extend(b64(&jwk.x, Some(32))?);
            point.extend(b64(&jwk.y, Some(32))?);
            Material::P256(point)
        }
        ("EC", Some("P-384")) => {
            let mut point = vec![4];
            point.extend(b64(&jwk.x, Some(48))?);
            point.extend(b64(&jwk.y, Some(48))?);
            Material::P384(point)
        }
        ("OKP", Some("Ed25519")) => Material::Ed25519(b64(&jwk.x, Some(32))?),
        (kty, crv) => return Err(format!("unsupported key type {kty:?} / curve {crv:?}")),
    };
    let key = Key {
        kid: jwk.kid,
        alg,
        material,
    };
    if let Some(alg) = alg
        && !key.allows(alg)
    {
        return Err(format!("alg {} does not fit the key type", alg.as_str()));
    }
    Ok(key)
}

/// The usable keys of one JWKS document.
#[derive(Debug, Default)]
pub(crate) struct KeySet {
    pub(crate) keys: Vec<Key>,
}

/// What a key lookup found.
pub(crate) enum Lookup<'a> {
    /// Keys with the token's `kid` (or the one key that fits, without one).
    Found(Vec<&'a Key>),
    /// No key has this `kid`.
    Unknown,
    /// No `kid`, and not exactly one key fits the algorithm.
    Ambiguous,
}

impl KeySet {
    pub(crate) fn parse(document: JwksDocument) -> Self {
        let keys = document
            .keys
            .into_iter()
            .filter_map(|value| match parse_key(value) {
                Ok(key) => Some(key),
                Err(reason) => {
                    tracing::debug!(reason, "skipping a provider JWK");
                    None
                }
            })
            .collect();
        KeySet { keys }
    }

    pub(crate) fn lookup(&self, kid: Option<&str>, alg: Algorithm) -> Lookup<'_> {
        match kid {
            Some(kid) => {
                let found: Vec<&Key> = self
                    .keys
                    .iter()
                    .filter(|k| k.kid.as_deref() == Some(kid))
                    .collect();
                if found.is_empty() {
                    Lookup::Unknown
                } else {
                    Lookup::Found(found)
                }
            }
            None => {
                let fitting: Vec<&Key> = self.keys.iter().filter(|k| k.allows(alg)).collect();
                if fitting.len() == 1 {
                    Lookup::Found(fitting)
                } else {
                    Lookup::Ambiguous
                }
            }
        }
    }
}

struct State {
    keys: Arc<KeySet>,
    /// When the keys were fetched (`None`: never).
    fetched_at: Option<Instant>,
    /// The last fetch attempt, successful or not.
    attempted_at: Option<Instant>,
    /// Why the last attempt failed, if it did.
    last_error: Option<String>,
}

/// The provider's keys, fetched from `jwks_uri` and cached.
pub(crate) struct JwksCache {
    http: HttpClient,
    url: Url,
    ttl: Duration,
    min_refresh: Duration,
    state: RwLock<State>,
    fetching: tokio::sync::Mutex<()>,
}

impl JwksCache {
    pub(crate) fn new(http: HttpClient, url: Url, ttl: Duration, min_refresh: Duration) -> Self {
        Self {
            http,
            url,
            ttl,
            min_refresh,
            state: RwLock::new(State {
                keys: Arc::new(KeySet::default()),
                fetched_at: None,
                attempted_at: None,
                last_error: None,
            }),
            fetching: tokio::sync::Mutex::new(()),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn fresh(&self, state: &State) -> bool {
        state.fetched_at.is_some_and(|at| at.elapsed() < self.ttl)
    }

    fn recently_attempted(&self, state: &State) -> bool {
        state
            .attempted_at
            .is_some_and(|at| at.elapsed() < self.min_refresh)
    }

    /// Fetch now (the caller holds `fetching`).
    async fn fetch(&self) -> Result<Arc<KeySet>, VerifyError> {
        let result = self.http.get_json::<JwksDocument>(&self.url).await;
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        state.attempted_at = Some(now);
        match result {
            Ok(document) => {
                let keys = Arc::new(KeySet::parse(document));
                tracing::debug!(keys = keys.keys.len(), "fetched the OIDC provider's JWKS");
                state.keys = keys.clone();
                state.fetched_at = Some(now);
                state.last_error = None;
                Ok(keys)
            }
            Err(e) => {
                let message = e.to_string();
                tracing::warn!(error = %message, "fetching the OIDC provider's JWKS failed");
                state.last_error = Some(message.clone());
                Err(VerifyError::KeysUnavailable(message))
            }
        }
    }

    /// Fetch now, whatever the cache holds (startup).
    pub(crate) async fn load(&self) -> Result<Arc<KeySet>, VerifyError> {
        let _guard = self.fetching.lock().await;
        self.fetch().await
    }

    /// Fresh keys: the cached ones within the TTL, else a refetch.
    pub(crate) async fn current(&self) -> Result<Arc<KeySet>, VerifyError> {
        {
            let state = self.read();
            if self.fresh(&state) {
                return Ok(state.keys.clone());
            }
        }
        let _guard = self.fetching.lock().await;
        {
            let state = self.read();
            if self.fresh(&state) {
                return Ok(state.keys.clone());
            }
            if state.last_error.is_some() && self.recently_attempted(&state) {
                return Err(VerifyError::KeysUnavailable(
                    state.last_error.clone().unwrap_or_default(),
                ));
            }
        }
        self.fetch().await
    }

    /// Keys after an unknown `kid` in `seen`: newer keys if someone else
    /// fetched meanwhile, a refetch if none happened within `min_refresh`,
    /// else `None` (rate limited: the kid stays unknown).
    pub(crate) async fn refresh_for_unknown_kid(
        &self,
        seen: &Arc<KeySet>,
    ) -> Result<Option<Arc<KeySet>>, VerifyError> {
        let _guard = self.fetching.lock().await;
        {
            let state = self.read();
            if !Arc::ptr_eq(&state.keys, seen) {
                return Ok(Some(state.keys.clone()));
            }
            if self.recently_attempted(&state) {
                tracing::debug!("unknown key id; JWKS refetch rate limited");
                return Ok(None);
            }
        }
        self.fetch().await.map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rsa_n() -> String {
        let mut n = vec![0u8]; // a leading zero some providers emit
        n.extend([0xc5; 256]);
        JWK_B64.encode(n)
    }

    fn set(keys: serde_json::Value) -> KeySet {
        KeySet::parse(serde_json::from_value(json!({ "keys": keys })).unwrap())
    }

    #[test]
    fn parses_supported_keys_and_skips_the_rest() {
        let p256 = JWK_B64.encode([7u8; 32]);
        let s = set(json!([
            { "kty": "RSA", "kid": "r", "n": rsa_n(), "e": "AQAB", "use": "sig" },
            { "kty": "EC", "crv": "P-256", "kid": "e", "x": p256, "y": p256, "alg": "ES256" },
            { "kty": "OKP", "crv": "Ed25519", "kid": "o", "x": p256 },
            { "kty": "RSA", "kid": "enc", "n": rsa_n(), "e": "AQAB", "use": "enc" },
            { "kty": "RSA", "kid": "small", "n": JWK_B64.encode([0xc5; 128]), "e": "AQAB" },
            { "kty": "oct", "kid": "hmac", "k": "c2VjcmV0" },
            { "kty": "EC", "crv": "P-521", "kid": "p521", "x": p256, "y": p256 },
            { "kty": "EC", "crv": "P-256", "kid": "short", "x": "AAAA", "y": p256 },
            { "kty": "RSA", "kid": "badalg", "n": rsa_n(), "e": "AQAB", "alg": "ES256" },
            { "kty": "RSA", "kid": "wrap", "n": rsa_n(), "e": "AQAB", "alg": "RSA-OAEP" },
            "not even an object",
        ]));
        let kids: Vec<_> = s.keys.iter().map(|k| k.kid.clone().unwrap()).collect();
        assert_eq!(kids, ["r", "e", "o"]);
        match &s.keys[0].material {
            Material::Rsa { n, e } => {
                assert_eq!(n.len(), 256);
                assert_eq!(e, &[1, 0, 1]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn keys_allow_only_their_family_and_alg() {
        let p256 = JWK_B64.encode([7u8; 32]);
        let s = set(json!([
            { "kty": "RSA", "kid": "r", "n": rsa_n(), "e": "AQAB" },
            { "kty": "RSA", "kid": "r256", "n": rsa_n(), "e": "AQAB", "alg": "RS256" },
            { "kty": "EC", "crv": "P-256", "kid": "e", "x": p256, "y": p256 },
        ]));
        let (r, r256, e) = (&s.keys[0], &s.keys[1], &s.keys[2]);
        assert!(r.allows(Algorithm::RS256) && r.allows(Algorithm::PS512));
        assert!(!r.allows(Algorithm::ES256));
        assert!(r256.allows(Algorithm::RS256) && !r256.allows(Algorithm::PS256));
        assert!(e.allows(Algorithm::ES256) && !e.allows(Algorithm::ES384));
        assert!(!e.allows(Algorithm::RS256) && !e.allows(Algorithm::EdDSA));
    }

    #[test]
    fn lookup_by_kid_or_the_single_fitting_key() {
        let p256 = JWK_B64.encode([7u8; 32]);
        let s = set(json!([
            { "kty": "RSA", "kid": "r1", "n": rsa_n(), "e": "AQAB" },
            { "kty": "RSA", "kid": "r2", "n": rsa_n(), "e": "AQAB" },
            { "kty": "EC", "crv": "P-256", "kid": "e", "x": p256, "y": p256 },
        ]));
        assert!(
            matches!(s.lookup(Some("r2"), Algorithm::RS256), Lookup::Found(k) if k[0].kid.as_deref() == Some("r2"))
        );
        assert!(matches!(
            s.lookup(Some("nope"), Algorithm::RS256),
            Lookup::Unknown
        ));
        assert!(matches!(
            s.lookup(None, Algorithm::RS256),
            Lookup::Ambiguous
        ));
        assert!(matches!(s.lookup(None, Algorithm::ES256), Lookup::Found(k) if k.len() == 1));
        assert!(matches!(
            s.lookup(None, Algorithm::EdDSA),
            Lookup::Ambiguous
        ));
    }
}
