-- Terarchitect schema. Invalid states are made unrepresentable where SQL allows:
-- composite foreign keys keep every child inside its project, CHECKs pin enums,
-- a partial unique index allows one active job per ticket.

CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE projects (
    id              uuid PRIMARY KEY,
    name            text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    description     text NOT NULL DEFAULT '',
    repo_url        text NOT NULL CHECK (length(repo_url) BETWEEN 1 AND 2000),
    default_branch  text NOT NULL DEFAULT 'main' CHECK (length(default_branch) BETWEEN 1 AND 200),
    execution_mode  text NOT NULL DEFAULT 'docker' CHECK (execution_mode IN ('docker', 'local')),
    local_path      text,
    graph_version   bigint NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT projects_local_needs_path CHECK (execution_mode <> 'local' OR local_path IS NOT NULL)
);

-- ------------------------------------------------------------------ graph
CREATE TABLE graph_nodes (
    id          uuid PRIMARY KEY,
    project_id  uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    label       text NOT NULL CHECK (length(btrim(label)) BETWEEN 1 AND 200),
    kind        text NOT NULL DEFAULT 'service',
    technology  text NOT NULL DEFAULT '',
    description text NOT NULL DEFAULT '',
    x           double precision NOT NULL DEFAULT 0,
    y           double precision NOT NULL DEFAULT 0,
    UNIQUE (project_id, id)
);

CREATE TABLE graph_edges (
    id          uuid PRIMARY KEY,
    project_id  uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    source_id   uuid NOT NULL,
    target_id   uuid NOT NULL,
    label       text NOT NULL DEFAULT '',
    protocol    text NOT NULL DEFAULT '',
    UNIQUE (project_id, id),
    CONSTRAINT graph_edges_source_fkey FOREIGN KEY (project_id, source_id)
        REFERENCES graph_nodes (project_id, id) ON DELETE CASCADE,
    CONSTRAINT graph_edges_target_fkey FOREIGN KEY (project_id, target_id)
        REFERENCES graph_nodes (project_id, id) ON DELETE CASCADE,
    CONSTRAINT graph_edges_no_self_loop CHECK (source_id <> target_id)
);
CREATE INDEX graph_edges_project ON graph_edges (project_id);
CREATE INDEX graph_nodes_project ON graph_nodes (project_id);

-- ------------------------------------------------------------------ board
CREATE TABLE board_columns (
    id          uuid PRIMARY KEY,
    project_id  uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    title       text NOT NULL CHECK (length(btrim(title)) BETWEEN 1 AND 200),
    role        text CHECK (role IN ('backlog', 'in_progress', 'in_review', 'done')),
    position    integer NOT NULL CHECK (position >= 0),
    UNIQUE (project_id, id),
    CONSTRAINT board_columns_one_per_role UNIQUE (project_id, role),
    CONSTRAINT board_columns_position_unique UNIQUE (project_id, position) DEFERRABLE INITIALLY DEFERRED
);

CREATE TABLE tickets (
    id            uuid PRIMARY KEY,
    project_id    uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    column_id     uuid NOT NULL,
    position      integer NOT NULL CHECK (position >= 0),
    title         text NOT NULL CHECK (length(btrim(title)) BETWEEN 1 AND 200),
    description   text NOT NULL DEFAULT '',
    priority      text NOT NULL DEFAULT 'medium' CHECK (priority IN ('low', 'medium', 'high', 'critical')),
    whole_graph   boolean NOT NULL DEFAULT false,
    pr_url        text,
    pr_number     bigint,
    review_rounds integer NOT NULL DEFAULT 0 CHECK (review_rounds >= 0),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (project_id, id),
    -- NO ACTION: a column with tickets cannot be deleted (but a project deletes both).
    CONSTRAINT tickets_column_fkey FOREIGN KEY (project_id, column_id) REFERENCES board_columns (project_id, id),
    CONSTRAINT tickets_position_unique UNIQUE (column_id, position) DEFERRABLE INITIALLY DEFERRED
);

CREATE TABLE ticket_nodes (
    project_id uuid NOT NULL,
    ticket_id  uuid NOT NULL,
    node_id    uuid NOT NULL,
    PRIMARY KEY (ticket_id, node_id),
    CONSTRAINT ticket_nodes_ticket_fkey FOREIGN KEY (project_id, ticket_id) REFERENCES tickets (project_id, id) ON DELETE CASCADE,
    CONSTRAINT ticket_nodes_node_fkey FOREIGN KEY (project_id, node_id) REFERENCES graph_nodes (project_id, id) ON DELETE CASCADE
);

CREATE TABLE ticket_edges (
    project_id uuid NOT NULL,
    ticket_id  uuid NOT NULL,
    edge_id    uuid NOT NULL,
    PRIMARY KEY (ticket_id, edge_id),
    CONSTRAINT ticket_edges_ticket_fkey FOREIGN KEY (project_id, ticket_id) REFERENCES tickets (project_id, id) ON DELETE CASCADE,
    CONSTRAINT ticket_edges_edge_fkey FOREIGN KEY (project_id, edge_id) REFERENCES graph_edges (project_id, id) ON DELETE CASCADE
);

CREATE TABLE ticket_comments (
    id         uuid PRIMARY KEY,
    project_id uuid NOT NULL,
    ticket_id  uuid NOT NULL,
    author     text NOT NULL,
    body       text NOT NULL CHECK (length(btrim(body)) > 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT ticket_comments_ticket_fkey FOREIGN KEY (project_id, ticket_id) REFERENCES tickets (project_id, id) ON DELETE CASCADE
);
CREATE INDEX ticket_comments_ticket ON ticket_comments (ticket_id, created_at);

-- Review comments seen on a ticket's pull request (the scheduler records them).
CREATE TABLE pr_review_comments (
    project_id  uuid NOT NULL,
    ticket_id   uuid NOT NULL,
    github_id   bigint NOT NULL,
    author      text NOT NULL,
    body        text NOT NULL,
    path        text,
    created_at  timestamptz NOT NULL,
    handled_by_job uuid,
    PRIMARY KEY (ticket_id, github_id),
    CONSTRAINT pr_review_comments_ticket_fkey FOREIGN KEY (project_id, ticket_id) REFERENCES tickets (project_id, id) ON DELETE CASCADE
);

-- ------------------------------------------------------------------ notes
CREATE TABLE notes (
    id          uuid PRIMARY KEY,
    project_id  uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    node_id     uuid,
    edge_id     uuid,
    body        text NOT NULL CHECK (length(btrim(body)) > 0),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT notes_node_fkey FOREIGN KEY (project_id, node_id) REFERENCES graph_nodes (project_id, id) ON DELETE CASCADE,
    CONSTRAINT notes_edge_fkey FOREIGN KEY (project_id, edge_id) REFERENCES graph_edges (project_id, id) ON DELETE CASCADE,
    CONSTRAINT notes_one_target CHECK (node_id IS NULL OR edge_id IS NULL)
);
CREATE INDEX notes_project ON notes (project_id);

-- ------------------------------------------------------------------ jobs
CREATE TABLE jobs (
    id               uuid PRIMARY KEY,
    project_id       uuid NOT NULL,
    ticket_id        uuid NOT NULL,
    kind             text NOT NULL CHECK (kind IN ('implement', 'review')),
    status           text NOT NULL DEFAULT 'queued'
                     CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    attempt          integer NOT NULL DEFAULT 0 CHECK (attempt >= 0),
    max_attempts     integer NOT NULL DEFAULT 3 CHECK (max_attempts >= 1),
    cancel_requested boolean NOT NULL DEFAULT false,
    lease_owner      text,
    lease_expires_at timestamptz,
    job_token_hash   bytea,
    exit_code        integer,
    failure_reason   text,
    pr_url           text,
    input_tokens     bigint NOT NULL DEFAULT 0,
    output_tokens    bigint NOT NULL DEFAULT 0,
    last_event_seq   bigint NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    finished_at      timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT jobs_ticket_fkey FOREIGN KEY (project_id, ticket_id) REFERENCES tickets (project_id, id) ON DELETE CASCADE,
    -- A running job always has a lease; nothing else does.
    CONSTRAINT jobs_lease_iff_running CHECK (
        (status = 'running') = (lease_owner IS NOT NULL AND lease_expires_at IS NOT NULL AND job_token_hash IS NOT NULL)),
    CONSTRAINT jobs_finished_iff_final CHECK (
        (status IN ('succeeded', 'failed', 'cancelled')) = (finished_at IS NOT NULL)),
    CONSTRAINT jobs_success_has_pr CHECK (status <> 'succeeded' OR pr_url IS NOT NULL)
);
-- At most one queued-or-running job per ticket.
CREATE UNIQUE INDEX jobs_one_active_per_ticket ON jobs (ticket_id) WHERE status IN ('queued', 'running');
CREATE INDEX jobs_ticket ON jobs (ticket_id, created_at DESC);
CREATE INDEX jobs_running_lease ON jobs (lease_expires_at) WHERE status = 'running';
CREATE UNIQUE INDEX jobs_token ON jobs (job_token_hash) WHERE job_token_hash IS NOT NULL;

CREATE TABLE job_events (
    job_id        uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    seq           bigint NOT NULL CHECK (seq > 0),
    event_id      uuid,
    at            timestamptz NOT NULL DEFAULT now(),
    phase         text NOT NULL,
    step          text NOT NULL,
    summary       text NOT NULL DEFAULT '',
    raw_output    text,
    input_tokens  bigint NOT NULL DEFAULT 0 CHECK (input_tokens >= 0),
    output_tokens bigint NOT NULL DEFAULT 0 CHECK (output_tokens >= 0),
    PRIMARY KEY (job_id, seq),
    CONSTRAINT job_events_dedupe UNIQUE (job_id, event_id)
);

-- Jobs to put on the queue; written in the transaction that creates the job.
CREATE TABLE outbox (
    id         bigserial PRIMARY KEY,
    job_id     uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    payload    jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at    timestamptz,
    attempts   integer NOT NULL DEFAULT 0
);
CREATE INDEX outbox_unsent ON outbox (created_at) WHERE sent_at IS NULL;

-- ------------------------------------------------------------------ auth & requests
CREATE TABLE api_tokens (
    id           uuid PRIMARY KEY,
    name         text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    kind         text NOT NULL CHECK (kind IN ('user', 'worker')),
    token_hash   bytea NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);

CREATE TABLE idempotency_keys (
    token_id       uuid NOT NULL REFERENCES api_tokens (id) ON DELETE CASCADE,
    key            text NOT NULL CHECK (length(key) BETWEEN 1 AND 200),
    request_hash   bytea NOT NULL,
    response_status integer,
    response_body  jsonb,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (token_id, key)
);

-- ------------------------------------------------------------------ settings
CREATE TABLE settings (
    project_id uuid REFERENCES projects (id) ON DELETE CASCADE, -- NULL: global default
    key        text NOT NULL CHECK (key ~ '^[a-z][a-z0-9_]{0,63}$'),
    value      jsonb,
    secret     bytea, -- AES-256-GCM: 12-byte nonce || ciphertext+tag
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT settings_value_or_secret CHECK ((value IS NULL) <> (secret IS NULL)),
    CONSTRAINT settings_scope_key UNIQUE NULLS NOT DISTINCT (project_id, key)
);

-- ------------------------------------------------------------------ memory
-- Embeddings keep the model's own dimension (fixed per project at first index);
-- HNSW needs a fixed dimension, so there is one partial expression index per
-- supported dimension and queries cast to it.
CREATE TABLE memory_spaces (
    project_id uuid PRIMARY KEY REFERENCES projects (id) ON DELETE CASCADE,
    dims       integer NOT NULL CHECK (dims IN (384, 768, 1024, 1536)),
    model      text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE memory_passages (
    id           uuid PRIMARY KEY,
    project_id   uuid NOT NULL REFERENCES memory_spaces (project_id) ON DELETE CASCADE,
    content      text NOT NULL,
    content_hash bytea NOT NULL,
    dims         integer NOT NULL,
    embedding    vector NOT NULL CHECK (vector_dims(embedding) = dims),
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (project_id, content_hash),
    UNIQUE (project_id, id)
);

CREATE TABLE memory_entities (
    id         uuid PRIMARY KEY,
    project_id uuid NOT NULL REFERENCES memory_spaces (project_id) ON DELETE CASCADE,
    name       text NOT NULL,
    dims       integer NOT NULL,
    embedding  vector NOT NULL CHECK (vector_dims(embedding) = dims),
    UNIQUE (project_id, name),
    UNIQUE (project_id, id)
);

CREATE TABLE memory_facts (
    id         uuid PRIMARY KEY,
    project_id uuid NOT NULL REFERENCES memory_spaces (project_id) ON DELETE CASCADE,
    subject_id uuid NOT NULL,
    relation   text NOT NULL,
    object_id  uuid NOT NULL,
    dims       integer NOT NULL,
    embedding  vector NOT NULL CHECK (vector_dims(embedding) = dims),
    UNIQUE (project_id, subject_id, relation, object_id),
    UNIQUE (project_id, id),
    FOREIGN KEY (project_id, subject_id) REFERENCES memory_entities (project_id, id) ON DELETE CASCADE,
    FOREIGN KEY (project_id, object_id) REFERENCES memory_entities (project_id, id) ON DELETE CASCADE
);

-- Which passages support a fact / mention an entity (the graph's passage edges).
CREATE TABLE memory_fact_passages (
    project_id uuid NOT NULL,
    fact_id    uuid NOT NULL,
    passage_id uuid NOT NULL,
    PRIMARY KEY (fact_id, passage_id),
    FOREIGN KEY (project_id, fact_id) REFERENCES memory_facts (project_id, id) ON DELETE CASCADE,
    FOREIGN KEY (project_id, passage_id) REFERENCES memory_passages (project_id, id) ON DELETE CASCADE
);
CREATE INDEX memory_fact_passages_passage ON memory_fact_passages (passage_id);

CREATE TABLE memory_entity_passages (
    project_id uuid NOT NULL,
    entity_id  uuid NOT NULL,
    passage_id uuid NOT NULL,
    PRIMARY KEY (entity_id, passage_id),
    FOREIGN KEY (project_id, entity_id) REFERENCES memory_entities (project_id, id) ON DELETE CASCADE,
    FOREIGN KEY (project_id, passage_id) REFERENCES memory_passages (project_id, id) ON DELETE CASCADE
);
CREATE INDEX memory_entity_passages_passage ON memory_entity_passages (passage_id);

CREATE TABLE memory_synonyms (
    project_id uuid NOT NULL,
    entity_a   uuid NOT NULL,
    entity_b   uuid NOT NULL,
    similarity real NOT NULL,
    PRIMARY KEY (entity_a, entity_b),
    CHECK (entity_a < entity_b),
    FOREIGN KEY (project_id, entity_a) REFERENCES memory_entities (project_id, id) ON DELETE CASCADE,
    FOREIGN KEY (project_id, entity_b) REFERENCES memory_entities (project_id, id) ON DELETE CASCADE
);

CREATE INDEX memory_passages_hnsw_384 ON memory_passages USING hnsw ((embedding::vector(384)) vector_cosine_ops) WHERE dims = 384;
CREATE INDEX memory_passages_hnsw_768 ON memory_passages USING hnsw ((embedding::vector(768)) vector_cosine_ops) WHERE dims = 768;
CREATE INDEX memory_passages_hnsw_1024 ON memory_passages USING hnsw ((embedding::vector(1024)) vector_cosine_ops) WHERE dims = 1024;
CREATE INDEX memory_passages_hnsw_1536 ON memory_passages USING hnsw ((embedding::vector(1536)) vector_cosine_ops) WHERE dims = 1536;
CREATE INDEX memory_facts_hnsw_384 ON memory_facts USING hnsw ((embedding::vector(384)) vector_cosine_ops) WHERE dims = 384;
CREATE INDEX memory_facts_hnsw_768 ON memory_facts USING hnsw ((embedding::vector(768)) vector_cosine_ops) WHERE dims = 768;
CREATE INDEX memory_facts_hnsw_1024 ON memory_facts USING hnsw ((embedding::vector(1024)) vector_cosine_ops) WHERE dims = 1024;
CREATE INDEX memory_facts_hnsw_1536 ON memory_facts USING hnsw ((embedding::vector(1536)) vector_cosine_ops) WHERE dims = 1536;
CREATE INDEX memory_entities_hnsw_384 ON memory_entities USING hnsw ((embedding::vector(384)) vector_cosine_ops) WHERE dims = 384;
CREATE INDEX memory_entities_hnsw_768 ON memory_entities USING hnsw ((embedding::vector(768)) vector_cosine_ops) WHERE dims = 768;
CREATE INDEX memory_entities_hnsw_1024 ON memory_entities USING hnsw ((embedding::vector(1024)) vector_cosine_ops) WHERE dims = 1024;
CREATE INDEX memory_entities_hnsw_1536 ON memory_entities USING hnsw ((embedding::vector(1536)) vector_cosine_ops) WHERE dims = 1536;
