-- What each metered LLM call cost, in nano-dollars, priced by the project's `llm_prices`
-- when the call was made (a later price change does not rewrite history); the job keeps
-- the running sum, like its tokens.
ALTER TABLE llm_usage ADD COLUMN cost_nano_usd bigint NOT NULL DEFAULT 0 CHECK (cost_nano_usd >= 0);
ALTER TABLE jobs ADD COLUMN cost_nano_usd bigint NOT NULL DEFAULT 0;
