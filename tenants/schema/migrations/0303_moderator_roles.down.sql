ALTER TABLE moderators DROP COLUMN role;
