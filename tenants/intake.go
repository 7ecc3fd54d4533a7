package tenants

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// The intake says whether the public form takes new applications. An operator closes it (pauses
// it) with a message for applicants; it also closes by itself while the capacity waiting list
// holds a number of spaces the operator sets, and reopens when the list goes back under. It
// closes nothing else: status pages, moderation, provisioning and running spaces go on.

// MaxIntakeMessage is the longest message to applicants, in characters, in each language.
const MaxIntakeMessage = 2000

// MaxWaitingListThreshold is the highest waiting list threshold an operator may set.
const MaxWaitingListThreshold = 1_000_000

// Why the intake is closed.
const (
	IntakeOpen        = ""             // it is not
	IntakePaused      = "paused"       // an operator paused it
	IntakeWaitingList = "waiting_list" // the waiting list reached the threshold
)

// Intake is the intake's setting as operators left it.
type Intake struct {
	Paused bool `json:"paused"`
	// MessageFR and MessageEN are the operator's message to applicants; when one is empty the
	// other is shown in both languages, and when both are, the pages say it in their own words.
	MessageFR string `json:"message_fr"`
	MessageEN string `json:"message_en"`
	// WaitingListThreshold closes the intake while the waiting list holds that many spaces or
	// more; 0 turns it off.
	WaitingListThreshold int `json:"waiting_list_threshold"`
	// UpdatedBy and UpdatedAt say who changed the setting last and when (empty and zero: never).
	UpdatedBy     Actor     `json:"updated_by"`
	UpdatedByName string    `json:"updated_by_name"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// Message is the operator's message in lang (fr or en), or in the other language when the
// operator wrote only that one; "" when there is none.
func (in Intake) Message(lang string) string {
	first, other := in.MessageFR, in.MessageEN
	if lang == "en" {
		first, other = other, first
	}
	if first != "" {
		return first
	}
	return other
}

// IntakeStatus is the intake's setting with what it means now.
type IntakeStatus struct {
	Intake
	// WaitingList counts the spaces on the waiting list: approved, queued, not started yet.
	WaitingList int `json:"waiting_list"`
	// Closed is true when the form takes no application now; ClosedBy says why (IntakePaused
	// first when both hold).
	Closed   bool   `json:"closed"`
	ClosedBy string `json:"closed_by"`
}

// GetIntake reads the intake's setting and the waiting list's length, and says whether the
// form is closed now. It is one cheap query (the waiting list is counted on an index), as the
// form's page asks it at every request.
func GetIntake(ctx context.Context, db DB) (IntakeStatus, error) {
	var st IntakeStatus
	var by *string
	var at *time.Time
	err := db.QueryRow(ctx, `
		SELECT i.paused, i.message_fr, i.message_en, i.waiting_list_threshold, i.updated_by, i.updated_at,
		       coalesce(t.name, m.display_name, ''),
		       (SELECT count(*) FROM spaces WHERE state = 'queued')
		FROM intake i
		LEFT JOIN api_tokens t ON t.id = CASE WHEN i.updated_by ~ '^token:[0-9]{1,18}$' THEN substr(i.updated_by, 7)::bigint END
		LEFT JOIN moderators m ON m.id = CASE WHEN i.updated_by ~ '^moderator:[0-9]{1,18}$' THEN substr(i.updated_by, 11)::bigint END`).
		Scan(&st.Paused, &st.MessageFR, &st.MessageEN, &st.WaitingListThreshold, &by, &at, &st.UpdatedByName, &st.WaitingList)
	if err != nil {
		return IntakeStatus{}, fmt.Errorf("read the intake: %w", err)
	}
	if by != nil {
		st.UpdatedBy = Actor(*by)
	}
	if at != nil {
		st.UpdatedAt = *at
	}
	switch {
	case st.Paused:
		st.Closed, st.ClosedBy = true, IntakePaused
	case st.WaitingListThreshold > 0 && st.WaitingList >= st.WaitingListThreshold:
		st.Closed, st.ClosedBy = true, IntakeWaitingList
	}
	return st, nil
}

// InvalidField says which field of an intake setting or a partner host is refused, and why.
// Code is for the pages to word it: required, too_long (Max), range (Max), url, or a text rule
// (RuleTextInvalid, RuleTextInvisible with the character in Detail).
type InvalidField struct {
	Field  string
	Code   string
	Max    int
	Detail string
}

func (e *InvalidField) Error() string {
	switch e.Code {
	case "required":
		return e.Field + " is required"
	case "too_long":
		return e.Field + " is longer than " + strconv.Itoa(e.Max) + " characters"
	case "range":
		return e.Field + " must be a whole number from 0 to " + strconv.Itoa(e.Max)
	case "url":
		return e.Field + " must be a web address starting with https:// or http://, with a host, at most 500 characters"
	case RuleTextInvisible:
		return e.Field + " contains an invisible character (" + e.Detail + ") that can disguise a text; type it again"
	}
	return e.Field + " contains characters that cannot be saved (control characters or invalid UTF-8)"
}

// checkText normalises a text field (NormalizeText) and checks its length.
func checkText(field, s string, multiline bool, max int) (string, error) {
	out, err := NormalizeText(s, multiline)
	var rule *RuleViolation
	if errors.As(err, &rule) {
		return "", &InvalidField{Field: field, Code: rule.Code, Detail: rule.Detail}
	}
	if err != nil {
		return "", err
	}
	if len([]rune(out)) > max {
		return "", &InvalidField{Field: field, Code: "too_long", Max: max}
	}
	return out, nil
}

// IntakeChange is what an operator changes in the intake; nil fields stay as they are.
type IntakeChange struct {
	Paused               *bool
	MessageFR, MessageEN *string
	WaitingListThreshold *int
}

// ErrNothingToChange is returned by UpdateIntake for a change that names nothing.
var ErrNothingToChange = errors.New("nothing to change: give paused, message_fr, message_en or waiting_list_threshold")

// UpdateIntake applies an operator's change and records it in the audit log, in one transaction:
// intake.pause and intake.resume (from open to paused and back, with the message), intake.message
// (the message changed without a pause or a resumption) and intake.threshold (from, to). A change
// to what is already set records nothing. It returns the intake as it is now.
func UpdateIntake(ctx context.Context, db DB, c IntakeChange, actor Actor) (IntakeStatus, error) {
	if c.Paused == nil && c.MessageFR == nil && c.MessageEN == nil && c.WaitingListThreshold == nil {
		return IntakeStatus{}, ErrNothingToChange
	}
	for _, m := range []struct {
		field string
		v     *string
	}{{"message_fr", c.MessageFR}, {"message_en", c.MessageEN}} {
		if m.v == nil {
			continue
		}
		s, err := checkText(m.field, *m.v, true, MaxIntakeMessage)
		if err != nil {
			return IntakeStatus{}, err
		}
		*m.v = s
	}
	if n := c.WaitingListThreshold; n != nil && (*n < 0 || *n > MaxWaitingListThreshold) {
		return IntakeStatus{}, &InvalidField{Field: "waiting_list_threshold", Code: "range", Max: MaxWaitingListThreshold}
	}
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		var was Intake
		if err := tx.QueryRow(ctx, `SELECT paused, message_fr, message_en, waiting_list_threshold FROM intake FOR UPDATE`).
			Scan(&was.Paused, &was.MessageFR, &was.MessageEN, &was.WaitingListThreshold); err != nil {
			return err
		}
		now := was
		if c.Paused != nil {
			now.Paused = *c.Paused
		}
		if c.MessageFR != nil {
			now.MessageFR = *c.MessageFR
		}
		if c.MessageEN != nil {
			now.MessageEN = *c.MessageEN
		}
		if c.WaitingListThreshold != nil {
			now.WaitingListThreshold = *c.WaitingListThreshold
		}
		if now == was {
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE intake SET paused = $1, message_fr = $2, message_en = $3,
			waiting_list_threshold = $4, updated_by = $5, updated_at = now()`,
			now.Paused, now.MessageFR, now.MessageEN, now.WaitingListThreshold, string(actor)); err != nil {
			return err
		}
		state := map[bool]string{false: "open", true: "paused"}
		message := map[string]any{"message_fr": now.MessageFR, "message_en": now.MessageEN}
		entry := AuditEntry{Actor: actor, SubjectType: "intake", SubjectID: 1}
		switch {
		case now.Paused != was.Paused:
			entry.Action, entry.FromState, entry.ToState = "intake.resume", "paused", "open"
			if now.Paused {
				entry.Action, entry.FromState, entry.ToState, entry.Detail = "intake.pause", "open", "paused", message
			}
			if err := RecordAudit(ctx, tx, entry); err != nil {
				return err
			}
			if !now.Paused && (now.MessageFR != was.MessageFR || now.MessageEN != was.MessageEN) {
				if err := RecordAudit(ctx, tx, AuditEntry{Actor: actor, Action: "intake.message", SubjectType: "intake", SubjectID: 1,
					Detail: message}); err != nil {
					return err
				}
			}
		case now.MessageFR != was.MessageFR || now.MessageEN != was.MessageEN:
			if err := RecordAudit(ctx, tx, AuditEntry{Actor: actor, Action: "intake.message", SubjectType: "intake", SubjectID: 1,
				FromState: state[now.Paused], ToState: state[now.Paused], Detail: message}); err != nil {
				return err
			}
		}
		if now.WaitingListThreshold != was.WaitingListThreshold {
			return RecordAudit(ctx, tx, AuditEntry{Actor: actor, Action: "intake.threshold", SubjectType: "intake", SubjectID: 1,
				Detail: map[string]any{"from": was.WaitingListThreshold, "to": now.WaitingListThreshold}})
		}
		return nil
	})
	if err != nil {
		return IntakeStatus{}, fmt.Errorf("update the intake: %w", err)
	}
	return GetIntake(ctx, db)
}

// PauseIntake closes the form with the operator's message (messageEN may be empty: messageFR is
// then shown in both languages; both empty: the pages say it in their own words), replacing any
// earlier message. Audited as intake.pause, or intake.message when it was paused already.
func PauseIntake(ctx context.Context, db DB, messageFR, messageEN string, actor Actor) (IntakeStatus, error) {
	paused := true
	return UpdateIntake(ctx, db, IntakeChange{Paused: &paused, MessageFR: &messageFR, MessageEN: &messageEN}, actor)
}

// ResumeIntake opens the form again (unless the waiting list keeps it closed). Audited as
// intake.resume when it was paused.
func ResumeIntake(ctx context.Context, db DB, actor Actor) (IntakeStatus, error) {
	paused := false
	return UpdateIntake(ctx, db, IntakeChange{Paused: &paused}, actor)
}

// SetWaitingListThreshold sets the waiting list's length that closes the form (0: never).
// Audited as intake.threshold.
func SetWaitingListThreshold(ctx context.Context, db DB, n int, actor Actor) (IntakeStatus, error) {
	return UpdateIntake(ctx, db, IntakeChange{WaitingListThreshold: &n}, actor)
}
