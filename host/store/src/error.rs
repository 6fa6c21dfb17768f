//! The store's one error type, with stable codes for the API.
//!
//! Every public function returns [`StoreError`]. The variants are what an
//! API maps to HTTP statuses and JSON error codes ([`StoreError::code`] is
//! stable: `not_found`, `conflict`, `invalid`, `secret`, `database`,
//! `migration`). Messages name the thing at fault (a user's email, a
//! connection's name) but never a secret value: sealed passwords, tokens and
//! keys are not formatted into any error.

/// What went wrong in a store call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The named thing does not exist (`user alice@example.com`).
    #[error("{what} not found")]
    NotFound { what: String },
    /// The change clashes with what is stored: a duplicate name, a stale
    /// version, a delete of something still in use, a state transition
    /// that is no longer possible.
    #[error("{what}")]
    Conflict { what: String },
    /// The input is malformed (bad name, out-of-range limit, config that
    /// fails its plugin's schema). Nothing was written.
    #[error("{0}")]
    Invalid(String),
    /// A secret could not be sealed or opened: no key with the stored key
    /// id, a tampered ciphertext, an unreadable key file or reference.
    #[error("secret: {0}")]
    Secret(String),
    /// The database failed (connection lost, disk full, serialization).
    #[error("database: {0}")]
    Database(#[source] sqlx::Error),
    /// The SQLite store's appender failed (disk full, a lock held past the
    /// busy timeout); reported under the same code as `Database`.
    #[error("database: {0}")]
    Sqlite(#[source] rusqlite::Error),
    /// The schema could not be brought up to date when the store opened.
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// Shorthand used throughout the crate.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl StoreError {
    /// A stable machine-readable code for API error bodies.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::NotFound { .. } => "not_found",
            StoreError::Conflict { .. } => "conflict",
            StoreError::Invalid(_) => "invalid",
            StoreError::Secret(_) => "secret",
            StoreError::Database(_) | StoreError::Sqlite(_) => "database",
            StoreError::Migrate(_) => "migration",
        }
    }

    pub(crate) fn not_found(what: impl Into<String>) -> Self {
        StoreError::NotFound { what: what.into() }
    }

    pub(crate) fn conflict(what: impl Into<String>) -> Self {
        StoreError::Conflict { what: what.into() }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        StoreError::Invalid(message.into())
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        match error {
            sqlx::Error::RowNotFound => StoreError::not_found("row"),
            other => StoreError::Database(other),
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        StoreError::Sqlite(error)
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(error: serde_json::Error) -> Self {
        StoreError::Invalid(format!("stored JSON could not be read: {error}"))
    }
}

/// Turns a unique (or foreign-key) violation into a [`StoreError::Conflict`]
/// with a message that names the thing; other errors pass through.
pub(crate) trait OnConflict<T> {
    fn on_conflict(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T> OnConflict<T> for std::result::Result<T, sqlx::Error> {
    fn on_conflict(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|error| match &error {
            sqlx::Error::Database(db)
                if db.is_unique_violation() || db.is_foreign_key_violation() =>
            {
                StoreError::conflict(what())
            }
            _ => StoreError::from(error),
        })
    }
}
