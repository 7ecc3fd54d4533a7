DROP TABLE orphan_jobs;
DROP TABLE reconcile_backoff;
DROP TABLE space_usage_history;
DROP TABLE space_usage;
