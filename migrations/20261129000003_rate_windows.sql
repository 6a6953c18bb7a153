-- Per-token write rate limits: requests per token (by its hash) per minute. Rows older
-- than a few minutes are purged by the scheduler.
CREATE TABLE rate_windows (
    token_hash   bytea NOT NULL,
    window_start timestamptz NOT NULL,
    hits         integer NOT NULL,
    PRIMARY KEY (token_hash, window_start)
);

-- A token's own write limit per minute; NULL: the default of its kind.
ALTER TABLE api_tokens ADD COLUMN writes_per_minute integer CHECK (writes_per_minute > 0);
