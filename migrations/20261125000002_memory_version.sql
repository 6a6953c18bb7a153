-- Bumped on every memory write so each API instance can tell when its cached entity
-- graph of a project is stale.
ALTER TABLE memory_spaces ADD COLUMN version bigint NOT NULL DEFAULT 0;
