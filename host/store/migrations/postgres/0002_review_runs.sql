-- Queries run by the gateway itself once their one-time review is approved
-- (exec): one row per held exec query, its output kept for the requester.

CREATE TABLE review_runs (
    review_id       TEXT    NOT NULL PRIMARY KEY REFERENCES reviews (id) ON DELETE CASCADE,
    session_id      TEXT,                             -- the exec session that ran it
    output          TEXT,                             -- JSON, once run
    created_at      BIGINT  NOT NULL,
    finished_at     BIGINT
);
