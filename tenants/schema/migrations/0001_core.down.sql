DROP TABLE spaces;
DROP TABLE audit_log;
DROP TABLE api_tokens;
DROP TABLE moderators;
