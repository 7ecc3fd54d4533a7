-- Exports of a space for its association: an archive of its files and its database dump, written
-- by the export_space job under SPACES_EXPORT_DIR, followed by the operator who asked for it, then
-- downloaded. The archive holds personal data: it is removed after SPACES_EXPORT_RETENTION.
CREATE TABLE space_exports (
    id             bigserial PRIMARY KEY,
    space_id       bigint NOT NULL REFERENCES spaces (id) ON DELETE CASCADE,
    requested_by   text NOT NULL,               -- the actor, as in audit_log
    state          text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'done', 'failed', 'expired')),
    bytes_written  bigint NOT NULL DEFAULT 0,   -- of the archive (compressed), so far or in all
    files          bigint NOT NULL DEFAULT 0,   -- regular files in files/, once done
    files_bytes    bigint NOT NULL DEFAULT 0,   -- their size before compression
    database_bytes bigint NOT NULL DEFAULT 0,   -- size of database.sql
    file_name      text,                        -- the archive's name in the export directory
    path           text,                        -- where the archive is, absolute; NULL once expired
    sha256         text,                        -- of the finished archive, hex
    error          text,                        -- why it failed, or why the last attempt did
    warning        text,                        -- something the archive lacks although it is done
    attempts       integer NOT NULL DEFAULT 0,
    -- The attempt running it and its last sign of life: an attempt whose heartbeat is old died with
    -- its server, and another takes the export over.
    runner         text,
    heartbeat_at   timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    started_at     timestamptz,
    finished_at    timestamptz,
    expires_at     timestamptz,                 -- when a done archive is removed
    downloaded_at  timestamptz,                 -- the last download
    CHECK (state <> 'done' OR (path IS NOT NULL AND sha256 IS NOT NULL AND expires_at IS NOT NULL))
);
-- One export of a space at a time: asking again while one is queued or running gives that one.
CREATE UNIQUE INDEX space_exports_one_at_a_time ON space_exports (space_id) WHERE state IN ('queued', 'running');
CREATE INDEX space_exports_space_idx ON space_exports (space_id, id);
-- The sweep finds archives past their retention and exports whose server died.
CREATE INDEX space_exports_expires_idx ON space_exports (expires_at) WHERE state = 'done';
CREATE INDEX space_exports_running_idx ON space_exports (heartbeat_at) WHERE state = 'running';
