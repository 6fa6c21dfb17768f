-- Gatehouse store, initial schema (SQLite dialect).
--
-- Keep in step with ../postgres/0001_initial.sql: the same tables, columns,
-- nullability and type classes (tests/schema.rs compares them). Conventions:
--   * ids: INTEGER PRIMARY KEY AUTOINCREMENT (never reused after a delete);
--   * times: INTEGER, Unix time in milliseconds;
--   * booleans: INTEGER 0/1 (BOOLEAN in PostgreSQL);
--   * JSON: TEXT (parsed and written by the store, never by SQL);
--   * secrets: BLOB ciphertext only (see src/crypto.rs).

-- Users, groups and memberships -------------------------------------------

CREATE TABLE users (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    email           TEXT    NOT NULL UNIQUE,          -- lower-cased
    display_name    TEXT    NOT NULL DEFAULT '',
    role            TEXT    NOT NULL CHECK (role IN ('admin', 'user', 'approver')),
    oidc_issuer     TEXT,
    oidc_subject    TEXT,
    disabled        INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE UNIQUE INDEX users_oidc ON users (oidc_issuer, oidc_subject);

CREATE TABLE groups (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    name            TEXT    NOT NULL UNIQUE,
    description     TEXT    NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);

CREATE TABLE group_members (
    group_id        INTEGER NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id         INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members (user_id);

-- Access tokens: SHA-256 of the token only, plus a short display prefix.
CREATE TABLE access_tokens (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id         INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name            TEXT    NOT NULL,
    prefix          TEXT    NOT NULL,
    sha256          TEXT    NOT NULL UNIQUE,          -- 64 lower-case hex digits
    created_at      INTEGER NOT NULL,
    last_used_at    INTEGER,
    expires_at      INTEGER,
    UNIQUE (user_id, name)
);

-- Resources and their roles (connections) ----------------------------------

CREATE TABLE resources (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    name            TEXT    NOT NULL UNIQUE,
    kind            TEXT    NOT NULL CHECK (kind IN ('postgres', 'mysql', 'tcp', 'http')),
    address         TEXT    NOT NULL,
    description     TEXT    NOT NULL DEFAULT '',
    tls             TEXT    NOT NULL DEFAULT 'prefer',
    ca_file         TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);

CREATE TABLE connections (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    resource_id         INTEGER NOT NULL REFERENCES resources (id),
    name                TEXT    NOT NULL,             -- the role: users pick resource.name
    description         TEXT    NOT NULL DEFAULT '',
    upstream_database   TEXT,
    upstream_username   TEXT,
    password_sealed     BLOB,                         -- nonce || ChaCha20-Poly1305 ciphertext
    password_key_id     TEXT,
    password_ref        TEXT,                         -- JSON {"env": ...} or {"file": ...}
    attributes          TEXT    NOT NULL DEFAULT '{}',
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    UNIQUE (resource_id, name),
    CHECK (password_sealed IS NULL OR password_ref IS NULL),
    CHECK ((password_sealed IS NULL) = (password_key_id IS NULL))
);

-- Plugins (every uploaded version) and their bindings ----------------------

CREATE TABLE plugins (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    name            TEXT    NOT NULL,
    version         TEXT    NOT NULL,
    digest          TEXT    NOT NULL,                 -- SHA-256 (hex) of component
    description     TEXT    NOT NULL DEFAULT '',
    hooks           TEXT    NOT NULL,                 -- JSON array of hook names
    capabilities    TEXT    NOT NULL,                 -- JSON array of capability names
    config_schema   TEXT,                             -- JSON schema, or NULL
    component       BLOB    NOT NULL,
    size            INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    created_by      TEXT    NOT NULL,
    UNIQUE (name, version)
);
CREATE INDEX plugins_digest ON plugins (digest);

CREATE TABLE plugin_bindings (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    connection_id   INTEGER NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    position        INTEGER NOT NULL,
    plugin_name     TEXT    NOT NULL,
    plugin_version  TEXT,                             -- pinned version, or
    plugin_digest   TEXT,                             -- pinned digest, or neither: latest
    config          TEXT    NOT NULL,                 -- JSON object
    grants          TEXT    NOT NULL,                 -- JSON {http, files, key_value}
    deadline_ms     INTEGER NOT NULL,
    memory_mb       INTEGER NOT NULL,
    enabled         INTEGER NOT NULL DEFAULT 1,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    UNIQUE (connection_id, plugin_name),
    CHECK (plugin_version IS NULL OR plugin_digest IS NULL)
);
CREATE INDEX plugin_bindings_plugin ON plugin_bindings (plugin_name);

-- Sessions and their events -------------------------------------------------

CREATE TABLE sessions (
    id              TEXT    NOT NULL PRIMARY KEY,
    user_id         TEXT    NOT NULL,
    email           TEXT    NOT NULL,
    connection      TEXT    NOT NULL,
    client_address  TEXT    NOT NULL,
    verb            TEXT    NOT NULL CHECK (verb IN ('connect', 'exec')),
    started_at      INTEGER NOT NULL,
    ended_at        INTEGER,
    queries         INTEGER NOT NULL DEFAULT 0,
    denied          INTEGER NOT NULL DEFAULT 0,
    row_count       INTEGER NOT NULL DEFAULT 0,
    duration_ms     INTEGER
);
CREATE INDEX sessions_started ON sessions (started_at, id);
CREATE INDEX sessions_email ON sessions (email, started_at);
CREATE INDEX sessions_connection ON sessions (connection, started_at);

CREATE TABLE session_events (
    session_id      TEXT    NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    seq             INTEGER NOT NULL,
    kind            TEXT    NOT NULL,
    at              INTEGER NOT NULL,
    query_text      TEXT,
    verdict         TEXT,
    reason          TEXT,
    decided_by      TEXT,
    duration_us     INTEGER NOT NULL DEFAULT 0,
    row_count       INTEGER NOT NULL DEFAULT 0,
    command_tag     TEXT,
    counters        TEXT    NOT NULL DEFAULT '{}',
    PRIMARY KEY (session_id, seq)
);
CREATE INDEX session_events_verdict ON session_events (verdict, session_id);

-- Reviews ---------------------------------------------------------------------

CREATE TABLE reviews (
    id                  TEXT    NOT NULL PRIMARY KEY,
    kind                TEXT    NOT NULL CHECK (kind IN ('one-time', 'jit')),
    state               TEXT    NOT NULL CHECK (state IN ('pending', 'approved', 'rejected', 'revoked', 'executed', 'expired')),
    requester_id        TEXT    NOT NULL,
    requester           TEXT    NOT NULL,             -- JSON identity snapshot
    connection          TEXT    NOT NULL,
    session_id          TEXT,
    query_text          TEXT,
    query_hash          TEXT,
    reason              TEXT    NOT NULL DEFAULT '',
    duration_minutes    INTEGER,
    expires_at          INTEGER,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    version             INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX reviews_state ON reviews (state, created_at);
CREATE INDEX reviews_requester ON reviews (requester_id, created_at);
CREATE INDEX reviews_query_hash ON reviews (query_hash);

CREATE TABLE review_approver_groups (
    review_id       TEXT    NOT NULL REFERENCES reviews (id) ON DELETE CASCADE,
    group_name      TEXT    NOT NULL,
    PRIMARY KEY (review_id, group_name)
);
CREATE INDEX review_approver_groups_group ON review_approver_groups (group_name);

CREATE TABLE review_decisions (
    review_id       TEXT    NOT NULL REFERENCES reviews (id) ON DELETE CASCADE,
    approver_id     TEXT    NOT NULL,
    approver        TEXT    NOT NULL,                 -- JSON identity snapshot
    approved        INTEGER NOT NULL,
    comment         TEXT    NOT NULL DEFAULT '',
    at              INTEGER NOT NULL,
    PRIMARY KEY (review_id, approver_id)
);

-- Audit log and its delivery to sinks ---------------------------------------

CREATE TABLE audit_events (
    sequence        INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT    NOT NULL UNIQUE,
    occurred_at     INTEGER NOT NULL,
    category        TEXT    NOT NULL,
    action          TEXT    NOT NULL,
    outcome         TEXT    NOT NULL CHECK (outcome IN ('success', 'failure', 'denied', 'pending')),
    actor_id        TEXT,
    actor           TEXT,                             -- JSON identity snapshot
    connection      TEXT,
    session_id      TEXT,
    client_address  TEXT,
    reason          TEXT,
    target          TEXT,
    before_state    TEXT,                             -- JSON, secrets redacted
    after_state     TEXT,                             -- JSON, secrets redacted
    attributes      TEXT    NOT NULL DEFAULT '[]'     -- JSON [[key, value], ...]
);
CREATE INDEX audit_events_time ON audit_events (occurred_at);

CREATE TABLE audit_sinks (
    name                TEXT    NOT NULL PRIMARY KEY,
    delivered_through   INTEGER NOT NULL DEFAULT 0,   -- last sequence delivered or dead-lettered
    attempts            INTEGER NOT NULL DEFAULT 0,   -- failed attempts on the next event
    next_attempt_at     INTEGER,
    last_error          TEXT,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
);

CREATE TABLE audit_dead_letters (
    sink            TEXT    NOT NULL REFERENCES audit_sinks (name) ON DELETE CASCADE,
    sequence        INTEGER NOT NULL REFERENCES audit_events (sequence) ON DELETE CASCADE,
    attempts        INTEGER NOT NULL,
    last_error      TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (sink, sequence)
);
