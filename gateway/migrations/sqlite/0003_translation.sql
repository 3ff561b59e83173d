-- Translation: user glossaries (term lists per language pair), applied through `category`.
CREATE TABLE glossaries (
    name        TEXT PRIMARY KEY,
    from_lang   TEXT NOT NULL,
    to_lang     TEXT NOT NULL,
    entries     TEXT NOT NULL,                -- JSON array of [source, target]
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
