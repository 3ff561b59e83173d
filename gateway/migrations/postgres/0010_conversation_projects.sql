-- Conversational language understanding: projects (owned by a key; the imported assets as JSON
-- with their entity offsets in the project's stringIndexType), trained models by label,
-- deployments (a copy of the deployed model) and the authoring API's finished jobs.
CREATE TABLE clu_projects (
    key_id            TEXT NOT NULL,
    name              TEXT NOT NULL,
    language          TEXT NOT NULL,
    description       TEXT NOT NULL DEFAULT '',
    settings          TEXT NOT NULL DEFAULT '{}',
    string_index_type TEXT NOT NULL,
    assets            TEXT NOT NULL,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    trained_at        BIGINT,
    deployed_at       BIGINT,
    PRIMARY KEY (key_id, name)
);

CREATE TABLE clu_models (
    key_id     TEXT NOT NULL,
    project    TEXT NOT NULL,
    label      TEXT NOT NULL,
    model      TEXT NOT NULL,
    report     TEXT NOT NULL,
    trained_at BIGINT NOT NULL,
    PRIMARY KEY (key_id, project, label),
    FOREIGN KEY (key_id, project) REFERENCES clu_projects (key_id, name) ON DELETE CASCADE
);

CREATE TABLE clu_deployments (
    key_id      TEXT NOT NULL,
    project     TEXT NOT NULL,
    name        TEXT NOT NULL,
    label       TEXT NOT NULL,
    model       TEXT NOT NULL,
    trained_at  BIGINT NOT NULL,
    deployed_at BIGINT NOT NULL,
    PRIMARY KEY (key_id, project, name),
    FOREIGN KEY (key_id, project) REFERENCES clu_projects (key_id, name) ON DELETE CASCADE
);

CREATE TABLE clu_jobs (
    id         TEXT PRIMARY KEY,
    key_id     TEXT NOT NULL,
    project    TEXT NOT NULL,
    kind       TEXT NOT NULL,
    status     TEXT NOT NULL,
    errors     TEXT NOT NULL DEFAULT '[]',
    result     TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX clu_jobs_expiry ON clu_jobs (expires_at);
