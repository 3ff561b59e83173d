-- One job runner for every replica: a job is claimed with a lease (owner replica, expiry) that
-- the runner renews while it works; a lease that ran out (its replica died) lets another replica
-- take the job over. `attempts` counts claims, so a job that kills its runner is not retried
-- forever. Job inputs (uploaded audio, Read images) move to the blob store: `blobs` is its
-- database backend, and the job keeps the input's size, type and file name.
ALTER TABLE jobs ADD COLUMN lease_owner TEXT;
ALTER TABLE jobs ADD COLUMN lease_until INTEGER;
ALTER TABLE jobs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN input_bytes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN input_type TEXT;
ALTER TABLE jobs ADD COLUMN input_name TEXT;

CREATE TABLE blobs (
    name       TEXT PRIMARY KEY,
    data       BLOB NOT NULL,
    created_at INTEGER NOT NULL
);

UPDATE jobs SET
    input_bytes = COALESCE((SELECT LENGTH(b.data) FROM job_blobs b WHERE b.job_id = jobs.id), 0),
    input_type = (SELECT b.content_type FROM job_blobs b WHERE b.job_id = jobs.id),
    input_name = (SELECT b.filename FROM job_blobs b WHERE b.job_id = jobs.id);
INSERT INTO blobs (name, data, created_at) SELECT 'jobs/' || job_id, data, 0 FROM job_blobs;
DROP TABLE job_blobs;

CREATE INDEX jobs_queue ON jobs (kind, status, created_at);
CREATE INDEX jobs_owner ON jobs (key_id, status);
