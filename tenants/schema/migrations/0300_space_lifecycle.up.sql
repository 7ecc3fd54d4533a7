-- Operators' decisions about a space's life: suspension with its reason, deletion with a grace
-- period during which the space can be restored to the state it had, and the purge after it.
ALTER TABLE spaces
    ADD COLUMN suspend_reason text,
    ADD COLUMN delete_reason  text,
    -- When a deleting space is purged; a restore before it brings the space back as restore_state.
    ADD COLUMN delete_after   timestamptz,
    ADD COLUMN restore_state  text CHECK (restore_state IN ('queued', 'active', 'suspended', 'failed')),
    ADD COLUMN purged_at      timestamptz,
    ADD CONSTRAINT spaces_deleting_has_deadline CHECK (state <> 'deleting' OR (delete_after IS NOT NULL AND restore_state IS NOT NULL));
-- The purge finds the spaces whose grace period is over.
CREATE INDEX spaces_delete_after_idx ON spaces (delete_after) WHERE state = 'deleting';
-- A purged space's application is counted like the rejected and withdrawn ones.
ALTER TABLE application_purge_counts DROP CONSTRAINT application_purge_counts_outcome_check,
    ADD CONSTRAINT application_purge_counts_outcome_check CHECK (outcome IN ('approved', 'rejected', 'withdrawn'));
-- A space's page links to its application; a purge deletes it.
CREATE INDEX applications_space_id_idx ON applications (space_id) WHERE space_id IS NOT NULL;
