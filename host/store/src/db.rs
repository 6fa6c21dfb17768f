//! Database plumbing shared by the repositories: the backend, write
//! transactions, dynamic SQL with bound values, and row decoding.
//!
//! Both backends go through sqlx's `Any` driver, so every statement is
//! written once in the SQL both dialects accept: `$1`-style placeholders
//! (SQLite reads `$N` as parameter N), `RETURNING`, `ON CONFLICT`, and only
//! the types `Any` carries (BIGINT/INTEGER, TEXT, BYTEA/BLOB, and booleans
//! which SQLite stores as INTEGER, see [`get_bool`]). Times are Unix
//! milliseconds computed here, never by the database, so both backends see
//! the same clock.
//!
//! Write transactions: on SQLite they begin `IMMEDIATE`, taking the write
//! lock up front (a deferred transaction that reads and then writes can
//! fail with `SQLITE_BUSY` instead of waiting); on PostgreSQL they are plain
//! `READ COMMITTED` transactions. Dynamic SQL ([`Sql`]) is built only from
//! static fragments; every value is bound.

use crate::error::Result;
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, AssertSqlSafe, Row};

/// Which database the store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// An SQLite file: the embedded default, one gateway node.
    Sqlite,
    /// PostgreSQL: several gateway nodes sharing one store.
    Postgres,
}

impl Backend {
    /// The backend a URL names (`sqlite:` or `postgres:`/`postgresql:`).
    pub fn from_url(url: &str) -> Option<Backend> {
        let scheme = url.split(':').next()?.to_ascii_lowercase();
        match scheme.as_str() {
            "sqlite" => Some(Backend::Sqlite),
            "postgres" | "postgresql" => Some(Backend::Postgres),
            _ => None,
        }
    }
}

/// A transaction on the store's pool.
pub(crate) type Tx = sqlx::Transaction<'static, Any>;

/// Current Unix time in milliseconds.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// `bytes` random bytes from the operating system, hex-encoded.
pub(crate) fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).expect("the operating system's random source");
    hex::encode(buf)
}

/// A bound value of dynamic SQL.
#[derive(Debug, Clone)]
pub(crate) enum Value {
    I64(i64),
    Text(String),
    /// Text or NULL.
    OptText(Option<String>),
}

impl From<Option<String>> for Value {
    fn from(v: Option<String>) -> Self {
        Value::OptText(v)
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::I64(v)
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_string())
    }
}

/// SQL assembled from static fragments with `$N` placeholders for values.
#[derive(Debug, Default)]
pub(crate) struct Sql {
    text: String,
    values: Vec<Value>,
}

impl Sql {
    pub(crate) fn new(start: &'static str) -> Self {
        Sql {
            text: start.to_string(),
            values: Vec::new(),
        }
    }

    /// Appends a static fragment.
    pub(crate) fn push(&mut self, fragment: &'static str) -> &mut Self {
        self.text.push_str(fragment);
        self
    }

    /// Appends a placeholder for `value`.
    pub(crate) fn bind(&mut self, value: impl Into<Value>) -> &mut Self {
        self.values.push(value.into());
        self.text.push('$');
        self.text.push_str(&self.values.len().to_string());
        self
    }

    /// Appends `(p1, p2, ...)` for a non-empty list of values.
    pub(crate) fn bind_list<V: Into<Value>>(
        &mut self,
        values: impl IntoIterator<Item = V>,
    ) -> &mut Self {
        self.text.push('(');
        for (i, value) in values.into_iter().enumerate() {
            if i > 0 {
                self.text.push_str(", ");
            }
            self.bind(value);
        }
        self.text.push(')');
        self
    }

    pub(crate) fn query(self) -> Query<'static, Any, AnyArguments> {
        // Sound: the text is only ever static fragments and placeholders.
        let mut query = sqlx::query(AssertSqlSafe(self.text));
        for value in self.values {
            query = match value {
                Value::I64(v) => query.bind(v),
                Value::Text(v) => query.bind(v),
                Value::OptText(v) => query.bind(v),
            };
        }
        query
    }
}

/// A boolean column: BOOLEAN in PostgreSQL, INTEGER 0/1 in SQLite.
pub(crate) fn get_bool(row: &AnyRow, column: &str) -> Result<bool> {
    match row.try_get::<bool, _>(column) {
        Ok(value) => Ok(value),
        Err(_) => Ok(row.try_get::<i64, _>(column)? != 0),
    }
}

/// A non-negative counter column.
pub(crate) fn get_u64(row: &AnyRow, column: &str) -> Result<u64> {
    Ok(row.try_get::<i64, _>(column)?.max(0) as u64)
}

/// A JSON text column.
pub(crate) fn get_json<T: serde::de::DeserializeOwned>(row: &AnyRow, column: &str) -> Result<T> {
    let text: String = row.try_get(column)?;
    Ok(serde_json::from_str(&text)?)
}

/// A nullable JSON text column.
pub(crate) fn get_json_opt<T: serde::de::DeserializeOwned>(
    row: &AnyRow,
    column: &str,
) -> Result<Option<T>> {
    let text: Option<String> = row.try_get(column)?;
    Ok(match text {
        Some(text) => Some(serde_json::from_str(&text)?),
        None => None,
    })
}

/// JSON text for a value (maps, lists and records of the crate's own types,
/// which always serialize).
pub(crate) fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).expect("store types serialize to JSON")
}

/// Checks a `limit` argument: 1..=1000.
pub(crate) fn check_limit(limit: u32) -> Result<i64> {
    if limit == 0 || limit > 1000 {
        return Err(crate::StoreError::invalid("limit must be 1..=1000"));
    }
    Ok(limit as i64)
}

/// A resource, role or plugin name: 1-63 ASCII letters, digits, `-`, `_`
/// (no dots: `.` joins resource and role in a connection's name).
pub(crate) fn check_name(what: &str, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !ok {
        return Err(crate::StoreError::invalid(format!(
            "{what} name {name:?} must be 1-63 ASCII letters, digits, '-' or '_'"
        )));
    }
    Ok(())
}

/// Free text a person typed: at most `max` bytes, no control characters
/// other than newline and tab.
pub(crate) fn check_text(what: &str, text: &str, max: usize) -> Result<()> {
    if text.len() > max {
        return Err(crate::StoreError::invalid(format!(
            "{what} is longer than {max} bytes"
        )));
    }
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(crate::StoreError::invalid(format!(
            "{what} contains control characters"
        )));
    }
    Ok(())
}

/// A label such as a group name: 1..=`max` bytes, no control characters,
/// not blank.
pub(crate) fn check_label(what: &str, text: &str, max: usize) -> Result<()> {
    if text.trim().is_empty() {
        return Err(crate::StoreError::invalid(format!(
            "{what} must not be empty"
        )));
    }
    check_text(what, text, max)?;
    if text.contains(['\n', '\t']) {
        return Err(crate::StoreError::invalid(format!(
            "{what} must be one line"
        )));
    }
    Ok(())
}
