-- Custom Vision tags as entities (the official SDK creates tags first and tags images by id),
-- each project's domain, and ONNX exports of iterations. Images keep their tag's name (unique
-- in its project; tags are never renamed). Existing images' tags become tag rows. SQLite has no
-- migration 0007 (PostgreSQL's 0007 numbers customizations in insertion order).
CREATE TABLE vision_tags (
    id          TEXT PRIMARY KEY,
    project_id  TEXT NOT NULL REFERENCES vision_projects (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    kind        TEXT NOT NULL DEFAULT 'Regular',
    created_at  INTEGER NOT NULL,
    UNIQUE (project_id, name)
);
INSERT INTO vision_tags (id, project_id, name, created_at)
    SELECT lower(hex(randomblob(16))), project_id, tag, MIN(created_at) FROM vision_images GROUP BY project_id, tag;

ALTER TABLE vision_projects ADD COLUMN domain_id TEXT;

-- An export is a download link (an unguessable token, like Azure's signed blob URL); the file is
-- built from the iteration's model when it is downloaded.
CREATE TABLE vision_exports (
    token        TEXT PRIMARY KEY,
    project_id   TEXT NOT NULL REFERENCES vision_projects (id) ON DELETE CASCADE,
    iteration_id TEXT NOT NULL REFERENCES vision_iterations (id) ON DELETE CASCADE,
    platform     TEXT NOT NULL,
    flavor       TEXT NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    UNIQUE (iteration_id, platform, flavor)
);
