-- What the scheduler last saw of a ticket's pull request: its `updated_at` on GitHub.
-- While a PR keeps that value, the review pass does not list its comments again, so a
-- pass costs one request per project (its recently updated PRs) plus the changed PRs.
-- Keyed by the PR number too: a ticket's new PR starts unseen.
CREATE TABLE pr_poll_state (
    ticket_id uuid NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    pr_number bigint NOT NULL,
    pr_updated_at timestamptz NOT NULL,
    PRIMARY KEY (ticket_id, pr_number)
);
