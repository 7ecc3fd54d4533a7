DROP INDEX applications_space_id_idx;
DELETE FROM application_purge_counts WHERE outcome = 'approved';
ALTER TABLE application_purge_counts DROP CONSTRAINT application_purge_counts_outcome_check,
    ADD CONSTRAINT application_purge_counts_outcome_check CHECK (outcome IN ('rejected', 'withdrawn'));
DROP INDEX spaces_delete_after_idx;
ALTER TABLE spaces
    DROP CONSTRAINT spaces_deleting_has_deadline,
    DROP COLUMN purged_at,
    DROP COLUMN restore_state,
    DROP COLUMN delete_after,
    DROP COLUMN delete_reason,
    DROP COLUMN suspend_reason;
