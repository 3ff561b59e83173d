-- Content Safety text blocklists (owned by a key) and their items (a service-made UUID, the text
-- matched literally and case-insensitively, a description).
CREATE TABLE safety_blocklists (
    key_id      TEXT NOT NULL,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (key_id, name)
);

CREATE TABLE safety_blocklist_items (
    key_id      TEXT NOT NULL,
    blocklist   TEXT NOT NULL,
    item_id     TEXT NOT NULL,
    text        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (key_id, blocklist, item_id)
);
CREATE UNIQUE INDEX safety_blocklist_items_text ON safety_blocklist_items (key_id, blocklist, text);
