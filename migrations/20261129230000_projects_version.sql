-- One counter for everything the project list shows (each project's fields and its ticket
-- count), so readers can cache the list and clients can ask "has it changed?" with an
-- ETag. Statement-level triggers: one bump per statement. Board-only changes (the
-- board_version and graph_version counters) leave it alone.
CREATE TABLE list_versions (
    name    text PRIMARY KEY,
    version bigint NOT NULL DEFAULT 0
);
INSERT INTO list_versions (name) VALUES ('projects');

CREATE FUNCTION bump_projects_list_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE list_versions SET version = version + 1 WHERE name = 'projects';
    RETURN NULL;
END $$;

CREATE TRIGGER projects_list_ins_del AFTER INSERT OR DELETE ON projects
    FOR EACH STATEMENT EXECUTE FUNCTION bump_projects_list_version();
CREATE TRIGGER projects_list_upd AFTER UPDATE OF name, description, repo_url, default_branch,
    execution_mode, local_path, created_at, updated_at ON projects
    FOR EACH STATEMENT EXECUTE FUNCTION bump_projects_list_version();
CREATE TRIGGER tickets_projects_list AFTER INSERT OR DELETE ON tickets
    FOR EACH STATEMENT EXECUTE FUNCTION bump_projects_list_version();
