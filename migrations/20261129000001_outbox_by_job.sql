-- The scheduler looks up a job's messages (unsent ones, the last send of a job still
-- queued) and deleting a job cascades to its outbox rows: both by job_id.
CREATE INDEX outbox_job ON outbox (job_id, sent_at);
