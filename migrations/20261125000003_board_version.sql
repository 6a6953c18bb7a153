-- A per-project counter bumped by every change that shows on the board (columns,
-- tickets, their attachments, jobs), so readers can cache the board and clients can
-- ask "has it changed?" with an ETag. Statement-level triggers: one bump per statement
-- however many rows it touches.
ALTER TABLE projects ADD COLUMN board_version bigint NOT NULL DEFAULT 0;

CREATE FUNCTION bump_board_version_new() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE projects SET board_version = board_version + 1 WHERE id IN (SELECT DISTINCT project_id FROM new_rows);
    RETURN NULL;
END $$;

CREATE FUNCTION bump_board_version_old() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE projects SET board_version = board_version + 1 WHERE id IN (SELECT DISTINCT project_id FROM old_rows);
    RETURN NULL;
END $$;

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['board_columns', 'tickets', 'ticket_nodes', 'ticket_edges', 'jobs'] LOOP
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON %I REFERENCING NEW TABLE AS new_rows
                        FOR EACH STATEMENT EXECUTE FUNCTION bump_board_version_new()', t || '_board_ins', t);
        EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON %I REFERENCING NEW TABLE AS new_rows
                        FOR EACH STATEMENT EXECUTE FUNCTION bump_board_version_new()', t || '_board_upd', t);
        EXECUTE format('CREATE TRIGGER %I AFTER DELETE ON %I REFERENCING OLD TABLE AS old_rows
                        FOR EACH STATEMENT EXECUTE FUNCTION bump_board_version_old()', t || '_board_del', t);
    END LOOP;
END $$;
