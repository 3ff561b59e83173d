-- Owners: glossaries, custom speech models, pronunciation lexicons and classification projects
-- belong to the key that created them (`key_id`, the key's public id), and a name is unique per
-- owner. SQLite cannot change a primary key in place, so each table is rebuilt: create the new
-- table, copy, drop the old one, rename. Rows from before this migration get the owner '' (no key
-- has that id), which only admin keys reach.

-- Glossaries.
CREATE TABLE glossaries_owned (
    key_id      TEXT NOT NULL,
    name        TEXT NOT NULL,
    from_lang   TEXT NOT NULL,
    to_lang     TEXT NOT NULL,
    entries     TEXT NOT NULL,                -- JSON array of [source, target]
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (key_id, name)
);
INSERT INTO glossaries_owned (key_id, name, from_lang, to_lang, entries, created_at, updated_at)
    SELECT '', name, from_lang, to_lang, entries, created_at, updated_at FROM glossaries;
DROP TABLE glossaries;
ALTER TABLE glossaries_owned RENAME TO glossaries;

-- Custom speech models.
CREATE TABLE speech_models_owned (
    key_id      TEXT NOT NULL,
    name        TEXT NOT NULL,
    base_model  TEXT NOT NULL,
    phrases     TEXT NOT NULL,                -- JSON array of strings
    description TEXT NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (key_id, name)
);
INSERT INTO speech_models_owned (key_id, name, base_model, phrases, description, created_at, updated_at)
    SELECT '', name, base_model, phrases, description, created_at, updated_at FROM speech_models;
DROP TABLE speech_models;
ALTER TABLE speech_models_owned RENAME TO speech_models;

-- Pronunciation lexicons.
CREATE TABLE speech_lexicons_owned (
    key_id     TEXT NOT NULL,
    name       TEXT NOT NULL,
    pls        TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (key_id, name)
);
INSERT INTO speech_lexicons_owned (key_id, name, pls, created_at)
    SELECT '', name, pls, created_at FROM speech_lexicons;
DROP TABLE speech_lexicons;
ALTER TABLE speech_lexicons_owned RENAME TO speech_lexicons;

-- Classification projects and their examples. The examples refer to their project by
-- (key_id, name). Order matters with foreign keys on: the old examples (the only table that
-- refers to the old projects) are dropped before the old projects, so dropping the projects
-- cascades into nothing; renaming the new projects table rewrites the new examples' reference.
CREATE TABLE classification_projects_owned (
    key_id      TEXT NOT NULL,
    name        TEXT NOT NULL,
    language    TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    model       TEXT,                         -- JSON of the trained classifier
    evaluation  TEXT,                         -- JSON of the held-out evaluation
    trained_at  INTEGER,
    PRIMARY KEY (key_id, name)
);
INSERT INTO classification_projects_owned
        (key_id, name, language, description, created_at, model, evaluation, trained_at)
    SELECT '', name, language, description, created_at, model, evaluation, trained_at FROM classification_projects;
CREATE TABLE classification_examples_owned (
    id      INTEGER PRIMARY KEY,
    key_id  TEXT NOT NULL,
    project TEXT NOT NULL,
    text    TEXT NOT NULL,
    label   TEXT NOT NULL,
    FOREIGN KEY (key_id, project) REFERENCES classification_projects_owned (key_id, name) ON DELETE CASCADE
);
INSERT INTO classification_examples_owned (id, key_id, project, text, label)
    SELECT id, '', project, text, label FROM classification_examples;
DROP TABLE classification_examples;
DROP TABLE classification_projects;
ALTER TABLE classification_projects_owned RENAME TO classification_projects;
ALTER TABLE classification_examples_owned RENAME TO classification_examples;
CREATE INDEX classification_examples_project ON classification_examples (key_id, project);
