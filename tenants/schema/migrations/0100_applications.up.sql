-- Applications from associations, their moderation, moderators' sessions, rejection templates,
-- and the anonymised counts left when old applications are purged.

-- Trigram indexes make the queue's search by name or slug fast at any size. pg_trgm is a trusted
-- extension: the database owner may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- An application: what an association asked for and where its moderation stands.
--   pending → (claimed) → approved | rejected | needs_info → pending; withdrawn by the applicant.
-- A claim is not a state: a moderator's name and an expiry on a pending application.
CREATE TABLE applications (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    state             text NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'needs_info', 'approved', 'rejected', 'withdrawn')),
    association_name  text NOT NULL CHECK (length(association_name) BETWEEN 1 AND 200),
    legal_id          text NOT NULL CHECK (legal_id ~ '^(W[0-9]{9}|[0-9]{9})$'), -- RNA or SIREN, normalised
    slug              text NOT NULL CHECK (slug ~ '^[a-z0-9]([a-z0-9-]{1,38})[a-z0-9]$'),
    contact_name      text NOT NULL CHECK (length(contact_name) BETWEEN 1 AND 200),
    contact_email     text NOT NULL CHECK (length(contact_email) BETWEEN 3 AND 254),
    purpose           text NOT NULL CHECK (length(purpose) BETWEEN 1 AND 2000),
    activities        text NOT NULL CHECK (length(activities) BETWEEN 1 AND 2000),
    expected_accounts integer NOT NULL CHECK (expected_accounts BETWEEN 1 AND 100000),
    locale            text NOT NULL DEFAULT 'fr' CHECK (locale IN ('fr', 'en')),
    -- SHA-256 of the status page token; the token itself is only in the applicant's mail and browser.
    status_token_hash bytea NOT NULL UNIQUE,
    -- SHA-256 of the form's one-time submission key: a second POST of the same form finds the first.
    submission_hash   bytea NOT NULL UNIQUE,
    claimed_by        bigint REFERENCES moderators (id),
    claim_expires_at  timestamptz,
    decision_reason   text,                  -- the rejection text as sent to the applicant
    space_id          bigint REFERENCES spaces (id),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    state_changed_at  timestamptz NOT NULL DEFAULT now()
);
-- The queue: one state, oldest (or newest) first, keyset pagination on id.
CREATE INDEX applications_state_idx ON applications (state, id);
-- Open applications may not share a slug, an identifier or an email.
CREATE UNIQUE INDEX applications_open_slug_key ON applications (slug) WHERE state IN ('pending', 'needs_info');
CREATE UNIQUE INDEX applications_open_legal_id_key ON applications (legal_id) WHERE state IN ('pending', 'needs_info');
CREATE UNIQUE INDEX applications_open_email_key ON applications (lower(contact_email)) WHERE state IN ('pending', 'needs_info');
-- Possible duplicates among every application, open or not.
CREATE INDEX applications_legal_id_idx ON applications (legal_id);
CREATE INDEX applications_email_idx ON applications (lower(contact_email));
CREATE INDEX applications_name_trgm_idx ON applications USING gin (association_name gin_trgm_ops);
CREATE INDEX applications_slug_trgm_idx ON applications USING gin (slug gin_trgm_ops);
-- The purge looks for closed applications by age.
CREATE INDEX applications_closed_idx ON applications (state_changed_at) WHERE state IN ('rejected', 'withdrawn');

-- The conversation about an application: moderators' requests for information and the answers.
CREATE TABLE application_messages (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    application_id bigint NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    author         text NOT NULL CHECK (author IN ('moderator', 'applicant')),
    moderator_id   bigint REFERENCES moderators (id),
    body           text NOT NULL CHECK (length(body) BETWEEN 1 AND 4000),
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX application_messages_app_idx ON application_messages (application_id, id);

-- Reasons a moderator picks from when rejecting; moderators edit them in the web UI.
CREATE TABLE rejection_reasons (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    title       text NOT NULL CHECK (length(title) BETWEEN 1 AND 120),
    body_fr     text NOT NULL CHECK (length(body_fr) BETWEEN 1 AND 4000),
    body_en     text NOT NULL CHECK (length(body_en) BETWEEN 1 AND 4000),
    position    integer NOT NULL DEFAULT 0,
    archived_at timestamptz,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
INSERT INTO rejection_reasons (title, body_fr, body_en, position) VALUES
('Pas une association',
 'Ce service est réservé aux associations et collectifs à but non lucratif. D''après les informations transmises, votre structure n''en est pas une.',
 'This service is for non-profit associations and collectives only. From the information you gave, your organisation is not one.', 10),
('Identifiant introuvable',
 'Nous n''avons pas trouvé votre association dans les registres publics (RNA ou SIRENE) avec l''identifiant indiqué. Vous pouvez déposer une nouvelle demande avec le bon identifiant.',
 'We could not find your association in the public registers (RNA or SIRENE) with the identifier you gave. You may apply again with the right identifier.', 20),
('Objet hors du champ du service',
 'L''objet de votre association ne correspond pas aux conditions d''utilisation du service.',
 'Your association''s purpose does not fit the service''s terms of use.', 30),
('Demande en double',
 'Votre association dispose déjà d''un espace ou d''une demande en cours : nous gardons celle-ci.',
 'Your association already has a space or an open application: we keep that one.', 40);

-- A moderator's logged-in session. Only a SHA-256 of the cookie's value is kept.
CREATE TABLE moderator_sessions (
    id_hash      bytea PRIMARY KEY,
    moderator_id bigint NOT NULL REFERENCES moderators (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    user_agent   text NOT NULL DEFAULT ''
);
CREATE INDEX moderator_sessions_expires_idx ON moderator_sessions (expires_at);

-- What is left of purged applications: how many, of which outcome, submitted which month.
CREATE TABLE application_purge_counts (
    month   date NOT NULL,
    outcome text NOT NULL CHECK (outcome IN ('rejected', 'withdrawn')),
    count   bigint NOT NULL CHECK (count >= 0),
    PRIMARY KEY (month, outcome)
);
