-- A worker token is bound to the one host it was minted for (`admin mint-token --kind
-- worker --host ID`): the job routes take the lease owner from it. Worker tokens minted
-- before have no host and are refused by the job routes until replaced (docs/deployment.md).
ALTER TABLE api_tokens
    ADD COLUMN host_id text,
    ADD CONSTRAINT api_tokens_host_is_a_worker_s CHECK (
        host_id IS NULL OR (kind = 'worker' AND length(btrim(host_id)) BETWEEN 1 AND 200)
    );

-- Revoking a host's tokens looks them up by host.
CREATE INDEX api_tokens_by_host ON api_tokens (host_id) WHERE host_id IS NOT NULL;
