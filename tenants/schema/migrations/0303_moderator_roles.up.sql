-- What a moderator may do in the web UI. moderator: review applications and look at spaces;
-- operator: also resize, suspend, resume, delete and restore spaces. Moderators made before roles
-- existed could not act on spaces from the web UI, so they stay plain moderators until promoted
-- (spaces moderator role EMAIL operator).
ALTER TABLE moderators
    ADD COLUMN role text NOT NULL DEFAULT 'moderator' CHECK (role IN ('moderator', 'operator'));
