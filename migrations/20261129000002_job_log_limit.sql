-- A job's log is capped (store::jobs::LogLimits): what it stored, what it dropped, and
-- the `log-limit` event that says so.
ALTER TABLE jobs
    ADD COLUMN event_bytes    bigint NOT NULL DEFAULT 0,
    ADD COLUMN events_dropped bigint NOT NULL DEFAULT 0,
    ADD COLUMN log_limit_seq  bigint;
