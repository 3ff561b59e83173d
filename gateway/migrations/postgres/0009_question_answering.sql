-- Question answering projects (owned by a key), their deployments and their long-running jobs.
-- A project's QnAs and synonyms are one JSON document (`assets`), changed whole under an
-- optimistic `revision` check, so concurrent edits on two replicas are retried, never lost.
CREATE TABLE qna_projects (
    key_id         TEXT NOT NULL,
    name           TEXT NOT NULL,
    language       TEXT NOT NULL,
    description    TEXT NOT NULL DEFAULT '',
    default_answer TEXT,
    multilingual   BIGINT NOT NULL DEFAULT 0,
    assets         TEXT NOT NULL,
    revision       BIGINT NOT NULL DEFAULT 0,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    deployed_at    BIGINT,
    PRIMARY KEY (key_id, name)
);

-- A deployment is a snapshot of the project (the knowledge base JSON) with the MiniLM vectors
-- of its questions and answers (little-endian f32), which queries answer from.
CREATE TABLE qna_deployments (
    key_id         TEXT NOT NULL,
    project        TEXT NOT NULL,
    name           TEXT NOT NULL,
    knowledge_base TEXT NOT NULL,
    vectors        BYTEA NOT NULL,
    deployed_at    BIGINT NOT NULL,
    PRIMARY KEY (key_id, project, name),
    FOREIGN KEY (key_id, project) REFERENCES qna_projects (key_id, name) ON DELETE CASCADE
);

-- Jobs of the authoring API's long-running operations (done before the request answers; kept so
-- the SDK's poller can read them). Deletion jobs outlive their project, so no foreign key.
CREATE TABLE qna_jobs (
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
CREATE INDEX qna_jobs_expiry ON qna_jobs (expires_at);
