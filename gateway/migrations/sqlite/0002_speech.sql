-- Speech: hourly audio quotas, custom speech models, pronunciation lexicons, batch audio.
ALTER TABLE api_keys ADD COLUMN audio_secs_per_hour INTEGER;   -- seconds of audio per hour (NULL: unlimited)
ALTER TABLE usage ADD COLUMN audio_ms INTEGER NOT NULL DEFAULT 0;

-- Custom speech models: a base Whisper model biased towards phrases (through its prompt).
CREATE TABLE speech_models (
    name        TEXT PRIMARY KEY,
    base_model  TEXT NOT NULL,
    phrases     TEXT NOT NULL,                -- JSON array of strings
    description TEXT NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

-- Pronunciation lexicons (W3C PLS documents), referenced from SSML <lexicon uri="...">.
CREATE TABLE speech_lexicons (
    name       TEXT PRIMARY KEY,
    pls        TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

-- The uploaded audio of batch transcriptions, kept until the job is deleted or expires.
CREATE TABLE job_blobs (
    job_id       TEXT PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    content_type TEXT,
    filename     TEXT,
    data         BLOB NOT NULL
);
