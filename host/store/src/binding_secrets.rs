//! Binding secrets: the config keys of a plugin binding whose values are
//! secret (a webhook's HMAC key, an `Authorization` header, a Slack webhook
//! URL).
//!
//! A binding has a clear `config` (returned by the API, recorded in audit
//! rows) and, beside it, optional *secrets*: top-level config keys with any
//! JSON values. They follow the rule connection passwords follow:
//! * **Sealed at rest.** The secrets object is serialized and sealed with
//!   the store's key (ChaCha20-Poly1305, associated data
//!   `binding-secrets:<binding id>`, see `crypto.rs`) before it reaches SQL;
//!   only the sorted key names are kept in clear.
//! * **Never returned.** Reads report `secrets_set` (the names); audit rows
//!   the same, plus `secrets_changed: true` when a value changed.
//!   [`BindingSecrets`], [`SecretsUpdate`] and [`PluginConfig`] print key
//!   names only in `Debug` and do not implement `Serialize`.
//! * **Merged only at instantiation.** [`PluginConfig`], the config with the
//!   secrets merged in as top-level keys, is what the host hands the plugin
//!   (and what the config schema and the plugin's `validate-config` check).
//!   A key given both in config and in secrets is refused
//!   ([`SecretsError::Conflict`]), so the merge never has to pick a winner.
//!
//! Changes are per key ([`SecretsUpdate`]): a value sets (or replaces) its
//! key, `null` removes it, keys not named keep their stored values, and an
//! update without secrets keeps them all.

use crate::error::StoreError;
use serde_json::{Map, Value as Json};
use std::collections::BTreeMap;
use std::fmt;

/// Most secret keys one binding may hold.
pub const MAX_SECRETS: usize = 64;
/// Largest secrets object, in bytes of JSON.
pub const MAX_SECRETS_BYTES: usize = 64 << 10;
/// Longest secret key name.
const MAX_NAME_CHARS: usize = 200;
/// Secret values shorter than this are not redacted from plugin messages
/// ([`PluginConfig::redact`]): too short to be secret, and replacing them
/// would garble the message.
const MIN_REDACTED_CHARS: usize = 4;

/// Why secrets were refused. Messages name keys, never values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretsError {
    /// `secrets` was not a JSON object.
    #[error("secrets must be a JSON object of config keys")]
    NotAnObject,
    /// `config` was not a JSON object.
    #[error("config must be a JSON object")]
    ConfigNotAnObject,
    /// A key name is empty, too long or not one line.
    #[error("secret name {0:?} must be 1-200 characters on one line")]
    BadName(String),
    /// More than [`MAX_SECRETS`] keys.
    #[error("a binding holds at most {MAX_SECRETS} secrets")]
    TooMany,
    /// More than [`MAX_SECRETS_BYTES`] of JSON.
    #[error("a binding's secrets are at most {MAX_SECRETS_BYTES} bytes of JSON")]
    TooLarge,
    /// Keys given both in config and in secrets.
    #[error(
        "{} given both in config and in secrets; put each key in one place only",
        quoted(.0)
    )]
    Conflict(Vec<String>),
    /// The stored secrets did not decode (a corrupt row).
    #[error("the stored secrets of this binding do not decode")]
    Corrupt,
}

fn quoted(keys: &[String]) -> String {
    let names: Vec<String> = keys.iter().map(|k| format!("{k:?}")).collect();
    match names.len() {
        1 => format!("key {} is", names[0]),
        _ => format!("keys {} are", names.join(", ")),
    }
}

impl From<SecretsError> for StoreError {
    fn from(error: SecretsError) -> Self {
        StoreError::invalid(error.to_string())
    }
}

fn check_name(name: &str) -> Result<(), SecretsError> {
    let ok = !name.trim().is_empty()
        && name.chars().count() <= MAX_NAME_CHARS
        && !name.contains(['\n', '\r', '\t']);
    if ok {
        Ok(())
    } else {
        Err(SecretsError::BadName(name.to_string()))
    }
}

/// A binding's secret config keys and their values. `Debug` prints the
/// names only; there is no `Serialize`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct BindingSecrets(BTreeMap<String, Json>);

impl BindingSecrets {
    /// No secrets.
    pub fn new() -> Self {
        Self::default()
    }

    /// From a JSON object (what the API gives); a `null` value is no
    /// secret (as in an update, where it removes the key).
    pub fn from_json(value: Json) -> Result<Self, SecretsError> {
        let Json::Object(map) = value else {
            return Err(SecretsError::NotAnObject);
        };
        let secrets = BindingSecrets(map.into_iter().filter(|(_, v)| !v.is_null()).collect());
        secrets.check()?;
        Ok(secrets)
    }

    /// Sets (or replaces) one key.
    pub fn insert(&mut self, name: impl Into<String>, value: Json) {
        self.0.insert(name.into(), value);
    }

    /// The key names, sorted.
    pub fn names(&self) -> Vec<String> {
        self.0.keys().cloned().collect()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Applies per-key changes: values set their keys, removals drop them.
    pub fn apply(&mut self, update: &SecretsUpdate) {
        for (name, change) in &update.0 {
            match change {
                Some(value) => self.0.insert(name.clone(), value.clone()),
                None => self.0.remove(name),
            };
        }
    }

    /// Names, count and size within limits.
    pub(crate) fn check(&self) -> Result<(), SecretsError> {
        if self.0.len() > MAX_SECRETS {
            return Err(SecretsError::TooMany);
        }
        for name in self.0.keys() {
            check_name(name)?;
        }
        if self.to_plaintext().len() > MAX_SECRETS_BYTES {
            return Err(SecretsError::TooLarge);
        }
        Ok(())
    }

    /// The JSON text that is sealed.
    pub(crate) fn to_plaintext(&self) -> String {
        serde_json::to_string(&self.0).expect("a map of JSON values serializes")
    }

    /// Reads what [`BindingSecrets::to_plaintext`] wrote.
    pub(crate) fn from_plaintext(text: &str) -> Result<Self, SecretsError> {
        serde_json::from_str(text)
            .map(BindingSecrets)
            .map_err(|_| SecretsError::Corrupt)
    }
}

impl FromIterator<(String, Json)> for BindingSecrets {
    fn from_iter<I: IntoIterator<Item = (String, Json)>>(iter: I) -> Self {
        BindingSecrets(iter.into_iter().collect())
    }
}

impl fmt::Debug for BindingSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BindingSecrets")
            .field("names", &self.0.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Per-key changes to a binding's secrets: `Some(value)` sets the key,
/// `None` removes it; keys not named are kept. Empty: no change. `Debug`
/// prints names only.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretsUpdate(BTreeMap<String, Option<Json>>);

impl SecretsUpdate {
    /// No change.
    pub fn new() -> Self {
        Self::default()
    }

    /// From a JSON object: a value sets its key, `null` removes it.
    pub fn from_json(value: Json) -> Result<Self, SecretsError> {
        let Json::Object(map) = value else {
            return Err(SecretsError::NotAnObject);
        };
        let update: BTreeMap<String, Option<Json>> = map
            .into_iter()
            .map(|(name, value)| (name, Some(value).filter(|v| !v.is_null())))
            .collect();
        if update.len() > MAX_SECRETS {
            return Err(SecretsError::TooMany);
        }
        for name in update.keys() {
            check_name(name)?;
        }
        Ok(SecretsUpdate(update))
    }

    /// Sets (or replaces) `name`.
    pub fn set(mut self, name: impl Into<String>, value: Json) -> Self {
        self.0.insert(name.into(), Some(value));
        self
    }

    /// Removes `name`.
    pub fn remove(mut self, name: impl Into<String>) -> Self {
        self.0.insert(name.into(), None);
        self
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SecretsUpdate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = |set: bool| {
            self.0
                .iter()
                .filter(|(_, change)| change.is_some() == set)
                .map(|(name, _)| name.as_str())
                .collect::<Vec<_>>()
        };
        f.debug_struct("SecretsUpdate")
            .field("set", &names(true))
            .field("remove", &names(false))
            .finish()
    }
}

/// The config a plugin instance receives: the binding's config with its
/// secrets merged in as top-level keys. Hand it to the plugin only; `Debug`
/// prints key names, there is no `Serialize`.
#[derive(Clone, PartialEq)]
pub struct PluginConfig {
    merged: Json,
    secret_names: Vec<String>,
}

impl PluginConfig {
    /// The merged config (for the plugin, its schema and `validate-config`).
    pub fn json(&self) -> &Json {
        &self.merged
    }

    /// The merged config as JSON text, as the runtime takes it.
    pub fn to_text(&self) -> String {
        self.merged.to_string()
    }

    /// Which top-level keys came from the secrets.
    pub fn secret_names(&self) -> &[String] {
        &self.secret_names
    }

    /// `message` with every secret value in it replaced by `***`: for what
    /// a plugin says about its config (a `validate-config` refusal may quote
    /// the value it could not parse) before it is shown or logged. String
    /// and number leaves of at least 4 characters are redacted, as written
    /// and JSON-escaped.
    pub fn redact(&self, message: &str) -> String {
        let mut values = Vec::new();
        for name in &self.secret_names {
            if let Some(value) = self.merged.get(name) {
                leaf_texts(value, &mut values);
            }
        }
        values.retain(|v| v.chars().count() >= MIN_REDACTED_CHARS);
        // Longest first, so a value containing another is replaced whole.
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        values.iter().fold(message.to_string(), |text, value| {
            text.replace(value, "***")
        })
    }
}

/// The text forms of the string and number leaves of `value`: as written
/// and as escaped inside a JSON string.
fn leaf_texts(value: &Json, out: &mut Vec<String>) {
    match value {
        Json::String(text) => {
            let escaped = serde_json::to_string(text).expect("a string serializes");
            out.push(escaped[1..escaped.len() - 1].to_string());
            out.push(text.clone());
        }
        Json::Number(number) => out.push(number.to_string()),
        Json::Array(items) => items.iter().for_each(|item| leaf_texts(item, out)),
        Json::Object(map) => map.values().for_each(|item| leaf_texts(item, out)),
        Json::Bool(_) | Json::Null => {}
    }
}

impl fmt::Debug for PluginConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys: Vec<&String> = self
            .merged
            .as_object()
            .map(|map| map.keys().collect())
            .unwrap_or_default();
        f.debug_struct("PluginConfig")
            .field("keys", &keys)
            .field("secret_names", &self.secret_names)
            .finish()
    }
}

/// `config` with `secrets` merged in as top-level keys. A key in both is a
/// [`SecretsError::Conflict`] naming every such key.
pub fn merge(config: &Json, secrets: &BindingSecrets) -> Result<PluginConfig, SecretsError> {
    let Json::Object(clear) = config else {
        return Err(SecretsError::ConfigNotAnObject);
    };
    let clashes: Vec<String> = secrets
        .0
        .keys()
        .filter(|name| clear.contains_key(*name))
        .cloned()
        .collect();
    if !clashes.is_empty() {
        return Err(SecretsError::Conflict(clashes));
    }
    let mut merged: Map<String, Json> = clear.clone();
    merged.extend(secrets.0.iter().map(|(k, v)| (k.clone(), v.clone())));
    Ok(PluginConfig {
        merged: Json::Object(merged),
        secret_names: secrets.names(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn secrets(value: Json) -> BindingSecrets {
        BindingSecrets::from_json(value).unwrap()
    }

    #[test]
    fn merging_puts_secrets_beside_the_config_and_refuses_clashes() {
        let s = secrets(
            json!({"secret": "0123456789abcdef", "headers": {"Authorization": "Bearer t0k3n"}}),
        );
        let merged = merge(&json!({"url": "http://x/"}), &s).unwrap();
        assert_eq!(
            merged.json(),
            &json!({"url": "http://x/", "secret": "0123456789abcdef", "headers": {"Authorization": "Bearer t0k3n"}})
        );
        assert_eq!(merged.secret_names(), ["headers", "secret"]);
        let err = merge(&json!({"secret": "x", "headers": {}}), &s).unwrap_err();
        assert_eq!(
            err,
            SecretsError::Conflict(vec!["headers".into(), "secret".into()])
        );
        assert_eq!(
            err.to_string(),
            "keys \"headers\", \"secret\" are given both in config and in secrets; put each key in one place only"
        );
        assert_eq!(
            merge(&json!([1]), &s).unwrap_err(),
            SecretsError::ConfigNotAnObject
        );
    }

    #[test]
    fn debug_and_errors_print_names_only() {
        let s = secrets(json!({"secret": "hunter2hunter2"}));
        let merged = merge(&json!({}), &s).unwrap();
        let update = SecretsUpdate::new()
            .set("secret", json!("hunter2hunter2"))
            .remove("old");
        for text in [
            format!("{s:?}"),
            format!("{merged:?}"),
            format!("{update:?}"),
        ] {
            assert!(!text.contains("hunter2"), "{text}");
            assert!(text.contains("secret"), "{text}");
        }
        assert_eq!(
            BindingSecrets::from_json(json!("hunter2")).unwrap_err(),
            SecretsError::NotAnObject
        );
        assert!(matches!(
            BindingSecrets::from_json(json!({"": 1})),
            Err(SecretsError::BadName(_))
        ));
        assert_eq!(
            BindingSecrets::from_json(json!({"gone": null, "kept": 0}))
                .unwrap()
                .names(),
            ["kept"]
        );
    }

    #[test]
    fn updates_set_replace_and_remove_per_key() {
        let mut s = secrets(json!({"a": 1, "b": 2}));
        s.apply(&SecretsUpdate::from_json(json!({"b": null, "c": 3, "a": 10})).unwrap());
        assert_eq!(s, secrets(json!({"a": 10, "c": 3})));
        s.apply(&SecretsUpdate::new());
        assert_eq!(s.names(), ["a", "c"]);
    }

    #[test]
    fn redaction_removes_secret_values_from_plugin_messages() {
        let s = secrets(
            json!({"secret": "s3cr\"et-value", "headers": {"Authorization": "Bearer abc"}, "n": 12345, "t": "ab"}),
        );
        let merged = merge(&json!({"url": "http://x/"}), &s).unwrap();
        let message = r#"invalid type: string "s3cr\"et-value", expected a map; Bearer abc; 12345; ab; http://x/"#;
        assert_eq!(
            merged.redact(message),
            r#"invalid type: string "***", expected a map; ***; ***; ab; http://x/"#
        );
    }

    #[test]
    fn plaintext_round_trips_and_limits_hold() {
        let s = secrets(json!({"k": {"nested": [1, "two"]}}));
        assert_eq!(
            BindingSecrets::from_plaintext(&s.to_plaintext()).unwrap(),
            s
        );
        assert_eq!(
            BindingSecrets::from_plaintext("nope").unwrap_err(),
            SecretsError::Corrupt
        );
        let many: Map<String, Json> = (0..=MAX_SECRETS)
            .map(|i| (format!("k{i}"), json!(1)))
            .collect();
        assert_eq!(
            BindingSecrets::from_json(Json::Object(many)).unwrap_err(),
            SecretsError::TooMany
        );
        let big = json!({"k": "x".repeat(MAX_SECRETS_BYTES)});
        assert_eq!(
            BindingSecrets::from_json(big).unwrap_err(),
            SecretsError::TooLarge
        );
    }
}
