-- Comments from authors who may not steer the agent (not the repository's owners,
-- members or collaborators, nor a login in review_trusted_logins): recorded and shown,
-- stored as handled by no job so they never start a review job.
ALTER TABLE pr_review_comments ADD COLUMN outsider boolean NOT NULL DEFAULT false;
ALTER TABLE pr_review_comments
    ADD CONSTRAINT pr_review_comments_outsider_not_taken CHECK (NOT outsider OR (handled_at IS NOT NULL AND handled_by_job IS NULL));
