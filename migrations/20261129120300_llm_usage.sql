-- Exact LLM usage, one row per call through the gateway, from the upstream's own `usage`
-- fields (never the agent's report). `jobs.input_tokens`/`output_tokens` are now the sum
-- of a job's rows here, kept in the same transaction as each insert.
CREATE TABLE llm_usage (
    id            bigserial PRIMARY KEY,
    job_id        uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    project_id    uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    ticket_id     uuid NOT NULL,
    role          text NOT NULL CHECK (role IN ('director', 'worker')),
    api           text NOT NULL CHECK (api IN ('openai', 'anthropic')),
    model         text,
    status        integer NOT NULL,
    streamed      boolean NOT NULL,
    input_tokens  bigint NOT NULL CHECK (input_tokens >= 0),
    output_tokens bigint NOT NULL CHECK (output_tokens >= 0),
    at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX llm_usage_job ON llm_usage (job_id);
CREATE INDEX llm_usage_ticket ON llm_usage (ticket_id);
CREATE INDEX llm_usage_project ON llm_usage (project_id, at);
