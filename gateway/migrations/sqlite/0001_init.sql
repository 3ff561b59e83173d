-- API keys: only a SHA-256 of each key is stored, never the key.
CREATE TABLE api_keys (
    id             TEXT PRIMARY KEY,          -- public id, used by the admin API
    lookup_prefix  TEXT NOT NULL,             -- first 8 characters of the key, to find candidates
    key_hash       TEXT NOT NULL,             -- hex SHA-256 of the key
    name           TEXT NOT NULL,
    services       TEXT NOT NULL,             -- comma-separated service names, or '*'
    rps            INTEGER,                   -- requests per second (NULL: server default)
    chars_per_hour INTEGER,                   -- characters per hour (NULL: unlimited)
    is_admin       INTEGER NOT NULL DEFAULT 0,
    created_at     INTEGER NOT NULL,
    revoked_at     INTEGER
);
CREATE INDEX api_keys_lookup ON api_keys (lookup_prefix);

-- Usage per key, service and hour (UNIX time / 3600).
CREATE TABLE usage (
    key_id     TEXT NOT NULL,
    service    TEXT NOT NULL,
    hour       INTEGER NOT NULL,
    requests   INTEGER NOT NULL DEFAULT 0,
    characters INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (key_id, service, hour)
);

-- Secrets the server generates for itself (the token signing key).
CREATE TABLE server_secrets (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Asynchronous jobs (analyze-text jobs, later batch transcription and Read).
CREATE TABLE jobs (
    id         TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    key_id     TEXT NOT NULL,
    status     TEXT NOT NULL,                 -- notStarted | running | succeeded | failed
    input      TEXT NOT NULL,                 -- JSON
    result     TEXT,                          -- JSON
    error      TEXT,                          -- JSON
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);

-- Custom text classification.
CREATE TABLE classification_projects (
    name        TEXT PRIMARY KEY,
    language    TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    model       TEXT,                         -- JSON of the trained classifier
    evaluation  TEXT,                         -- JSON of the held-out evaluation
    trained_at  INTEGER
);
CREATE TABLE classification_examples (
    id      INTEGER PRIMARY KEY,
    project TEXT NOT NULL REFERENCES classification_projects (name) ON DELETE CASCADE,
    text    TEXT NOT NULL,
    label   TEXT NOT NULL
);
CREATE INDEX classification_examples_project ON classification_examples (project);
