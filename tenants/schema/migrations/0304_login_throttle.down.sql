DROP TABLE application_status_links;
DROP TABLE throttle_counters;
-- Fails if two open applications now share an identifier: close one first.
CREATE UNIQUE INDEX applications_open_legal_id_key ON applications (legal_id) WHERE state IN ('pending', 'needs_info');
