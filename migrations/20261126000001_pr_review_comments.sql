-- The scheduler records the comments it sees on a ticket's pull request. GitHub numbers
-- issue comments (the conversation) and review comments (on the diff) separately, so the
-- kind is part of the key. `handled_at` is set once a comment was handed to a review job
-- (`handled_by_job`), was already answered by the agent's last reply, or arrived after
-- the review round limit (then a ticket comment says so).
ALTER TABLE pr_review_comments
    ADD COLUMN kind text NOT NULL DEFAULT 'review' CHECK (kind IN ('issue', 'review')),
    ADD COLUMN handled_at timestamptz,
    ADD COLUMN seen_at timestamptz NOT NULL DEFAULT now(),
    ADD CONSTRAINT pr_review_comments_job_is_handled CHECK (handled_by_job IS NULL OR handled_at IS NOT NULL),
    ADD CONSTRAINT pr_review_comments_job_fkey FOREIGN KEY (handled_by_job) REFERENCES jobs (id) ON DELETE SET NULL;
ALTER TABLE pr_review_comments DROP CONSTRAINT pr_review_comments_pkey;
ALTER TABLE pr_review_comments ADD CONSTRAINT pr_review_comments_pkey PRIMARY KEY (ticket_id, kind, github_id);
CREATE INDEX pr_review_comments_unhandled ON pr_review_comments (ticket_id) WHERE handled_at IS NULL;
