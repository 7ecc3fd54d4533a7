-- Mail given up: a send_mail job that failed its last attempt, or that could not be composed or
-- opened. River keeps a discarded job for a week only; these counts stay, for operators to see
-- (dashboard, JSON API). Counted per day and template, with no recipient: the log line of each
-- drop has the masked address and the error.
CREATE TABLE mail_drops (
    day      date NOT NULL,
    template text NOT NULL,
    count    bigint NOT NULL CHECK (count >= 0),
    PRIMARY KEY (day, template)
);
