-- Vision: hourly image quotas and custom image classifiers (projects, labelled images, iterations).
ALTER TABLE api_keys ADD COLUMN images_per_hour INTEGER;   -- images analysed per hour (NULL: unlimited)
ALTER TABLE usage ADD COLUMN images INTEGER NOT NULL DEFAULT 0;

CREATE TABLE vision_projects (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    key_id      TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);

-- Uploaded images with their label and the 1280-d EfficientNet embedding computed at upload
-- (little-endian f32), so training never decodes an image again.
CREATE TABLE vision_images (
    id          TEXT PRIMARY KEY,
    project_id  TEXT NOT NULL REFERENCES vision_projects (id) ON DELETE CASCADE,
    tag         TEXT NOT NULL,
    data        BLOB NOT NULL,
    embedding   BLOB NOT NULL,
    width       INTEGER NOT NULL,
    height      INTEGER NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX vision_images_project ON vision_images (project_id);

-- Trained classifiers: the model as JSON, its held-out precision/recall, and the name it is
-- published under (used as `model-name=` and in the prediction route).
CREATE TABLE vision_iterations (
    id             TEXT PRIMARY KEY,
    project_id     TEXT NOT NULL REFERENCES vision_projects (id) ON DELETE CASCADE,
    status         TEXT NOT NULL,
    model          TEXT,
    evaluation     TEXT,
    published_name TEXT UNIQUE,
    created_at     INTEGER NOT NULL,
    trained_at     INTEGER
);
