DROP TABLE application_purge_counts;
DROP TABLE moderator_sessions;
DROP TABLE rejection_reasons;
DROP TABLE application_messages;
DROP TABLE applications;
-- pg_trgm stays: other objects may use it.
