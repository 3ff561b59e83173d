-- Personalizer: one learning loop per key (its service configuration and policy as JSON, the
-- model's bytes, written under an optimistic `version` check so two replicas never learn the
-- same rewards twice) and the ranked events waiting for their reward (the chosen action's
-- example and probability), deleted once learned or expired.
CREATE TABLE personalizer_loops (
    key_id            TEXT PRIMARY KEY,
    configuration     TEXT NOT NULL,
    policy            TEXT NOT NULL,
    model             BYTEA NOT NULL,
    version           BIGINT NOT NULL,
    update_every_secs BIGINT NOT NULL,
    model_created_at  BIGINT NOT NULL,
    model_updated_at  BIGINT NOT NULL,
    learned_at        BIGINT NOT NULL
);

CREATE TABLE personalizer_events (
    key_id       TEXT NOT NULL,
    event_id     TEXT NOT NULL,
    slot_id      TEXT NOT NULL,
    example      BYTEA NOT NULL,
    probability  DOUBLE PRECISION NOT NULL,
    active       BIGINT NOT NULL,
    reward       DOUBLE PRECISION,
    reward_count BIGINT NOT NULL DEFAULT 0,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    PRIMARY KEY (key_id, event_id, slot_id)
);
CREATE INDEX personalizer_events_due ON personalizer_events (key_id, expires_at);
