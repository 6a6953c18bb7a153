-- Releases by a host that never started the job's agent (engine down, image missing) do
-- not use up an attempt; this counts them so that a host that can never start agents
-- does not bounce a job forever (after the limit they count again).
ALTER TABLE jobs ADD COLUMN free_releases integer NOT NULL DEFAULT 0 CHECK (free_releases >= 0);
