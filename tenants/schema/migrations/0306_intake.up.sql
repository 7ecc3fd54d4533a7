-- The intake: whether the public form takes new applications. One row. An operator closes it
-- (paused) with a message for applicants, in French and English (one of them may be empty: the
-- other is shown in both languages); it also closes by itself while the capacity waiting list
-- (queued spaces) holds waiting_list_threshold spaces or more (0: never), and reopens when it goes
-- back under. Status pages, moderation, provisioning and running spaces do not read it.
CREATE TABLE intake (
    id                     boolean PRIMARY KEY DEFAULT true CHECK (id),
    paused                 boolean NOT NULL DEFAULT false,
    message_fr             text NOT NULL DEFAULT '' CHECK (length(message_fr) <= 2000),
    message_en             text NOT NULL DEFAULT '' CHECK (length(message_en) <= 2000),
    waiting_list_threshold integer NOT NULL DEFAULT 0 CHECK (waiting_list_threshold BETWEEN 0 AND 1000000),
    updated_by             text,
    updated_at             timestamptz
);
INSERT INTO intake DEFAULT VALUES;

-- Partner hosts: other services that give associations what this one gives, offered to applicants
-- when the intake is closed and to those whose space waits for room. Operators keep the list.
CREATE TABLE partners (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 120),
    url        text NOT NULL CHECK (url ~ '^https?://' AND length(url) <= 500),
    offer_fr   text NOT NULL DEFAULT '' CHECK (length(offer_fr) <= 1000),
    offer_en   text NOT NULL DEFAULT '' CHECK (length(offer_en) <= 1000),
    open       boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK (offer_fr <> '' OR offer_en <> '')
);
CREATE UNIQUE INDEX partners_name_idx ON partners (lower(name));
