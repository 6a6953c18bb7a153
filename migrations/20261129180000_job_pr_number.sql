-- The run's pull request is the one the API opened or verified for the agent
-- (/agent/pull-request), recorded on the job as it happens; a success needs it.
ALTER TABLE jobs ADD COLUMN pr_number bigint;
