package tenants

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// ApplicationState is where an application is in its moderation.
//
//	pending → approved | rejected | needs_info | withdrawn
//	needs_info → pending (the applicant answered) | approved | rejected | withdrawn
//
// A moderator's claim is not a state: it marks a pending application as being worked on, until it
// expires, so that two moderators do not work the same request by accident.
type ApplicationState string

// The states of an application.
const (
	AppPending   ApplicationState = "pending"
	AppNeedsInfo ApplicationState = "needs_info"
	AppApproved  ApplicationState = "approved"
	AppRejected  ApplicationState = "rejected"
	AppWithdrawn ApplicationState = "withdrawn"
)

// ApplicationStates lists every state, open ones first.
var ApplicationStates = []ApplicationState{AppPending, AppNeedsInfo, AppApproved, AppRejected, AppWithdrawn}

// applicationTransitions is the application state machine: the only place that says which moves exist.
var applicationTransitions = map[ApplicationState][]ApplicationState{
	AppPending:   {AppApproved, AppRejected, AppNeedsInfo, AppWithdrawn},
	AppNeedsInfo: {AppPending, AppApproved, AppRejected, AppWithdrawn},
	AppApproved:  {},
	AppRejected:  {},
	AppWithdrawn: {},
}

// CanBecome tells whether an application in state s may move to state to.
func (s ApplicationState) CanBecome(to ApplicationState) bool {
	for _, t := range applicationTransitions[s] {
		if t == to {
			return true
		}
	}
	return false
}

// Valid tells whether s is one of the states.
func (s ApplicationState) Valid() bool {
	_, ok := applicationTransitions[s]
	return ok
}

// Open tells whether the application still waits for a decision or an answer.
func (s ApplicationState) Open() bool { return s == AppPending || s == AppNeedsInfo }

// Application is one association's request for a space.
type Application struct {
	ID               int64
	State            ApplicationState
	AssociationName  string
	LegalID          string // RNA (W + 9 digits) or SIREN (9 digits)
	Slug             string
	ContactName      string
	ContactEmail     string
	Purpose          string
	Activities       string
	ExpectedAccounts int
	Locale           string
	ClaimedBy        int64 // 0 when nobody holds a claim
	ClaimedByName    string
	ClaimExpiresAt   time.Time
	DecisionReason   string // the rejection text as sent
	SpaceID          int64  // the space an approval created, or 0
	CreatedAt        time.Time
	UpdatedAt        time.Time
	StateChangedAt   time.Time
}

// ClaimedByOther tells whether a moderator other than moderatorID holds a live claim at now.
func (a Application) ClaimedByOther(moderatorID int64, now time.Time) bool {
	return a.ClaimedBy != 0 && a.ClaimedBy != moderatorID && now.Before(a.ClaimExpiresAt)
}

// ClaimLive tells whether anyone holds a live claim at now.
func (a Application) ClaimLive(now time.Time) bool {
	return a.ClaimedBy != 0 && now.Before(a.ClaimExpiresAt)
}

const applicationColumns = `a.id, a.state, a.association_name, a.legal_id, a.slug, a.contact_name, a.contact_email,
	a.purpose, a.activities, a.expected_accounts, a.locale, coalesce(a.claimed_by, 0), coalesce(m.display_name, ''),
	coalesce(a.claim_expires_at, 'epoch'), coalesce(a.decision_reason, ''), coalesce(a.space_id, 0),
	a.created_at, a.updated_at, a.state_changed_at`

const applicationFrom = ` FROM applications a LEFT JOIN moderators m ON m.id = a.claimed_by `

func scanApplication(row pgx.Row) (Application, error) {
	var a Application
	err := row.Scan(&a.ID, &a.State, &a.AssociationName, &a.LegalID, &a.Slug, &a.ContactName, &a.ContactEmail,
		&a.Purpose, &a.Activities, &a.ExpectedAccounts, &a.Locale, &a.ClaimedBy, &a.ClaimedByName,
		&a.ClaimExpiresAt, &a.DecisionReason, &a.SpaceID, &a.CreatedAt, &a.UpdatedAt, &a.StateChangedAt)
	return a, err
}

// NewApplication is what the public form submits, already validated by the caller.
type NewApplication struct {
	AssociationName  string
	LegalID          string
	Slug             string
	ContactName      string
	ContactEmail     string
	Purpose          string
	Activities       string
	ExpectedAccounts int
	Locale           string
	// StatusToken is the secret of the status page's address; only its hash is stored.
	StatusToken string
	// SubmissionKey is the form's one-time key; the same form sent twice finds the first application.
	SubmissionKey string
	// Again, when set, is how an open application with the same email or legal identifier is met,
	// so that the form tells nobody that it exists (see SubmitApplication). When nil, such a
	// submission is refused with a DuplicateError.
	Again Again
}

// Again is called in the submitting transaction with the open application that already uses the
// submitted contact email (field "contact_email") or legal identifier (field "legal_id"), to tell
// its contact on file. link is the status link the existing application was given for this
// occasion, or "" when it was given none.
type Again func(ctx context.Context, tx pgx.Tx, existing Application, field, link string) error

// Errors of submitting an application.
var (
	// ErrAlreadySubmitted is returned when the same form (submission key) was sent before.
	ErrAlreadySubmitted = errors.New("this form was already submitted")
)

// DuplicateError is returned by SubmitApplication without NewApplication.Again when an open
// application already uses the same legal identifier or email (the public form sets Again and
// never shows it). It carries the reference, the date and a masked address.
type DuplicateError struct {
	Field       string // legal_id or contact_email
	ExistingID  int64
	SubmittedAt time.Time
	MaskedEmail string
}

func (e *DuplicateError) Error() string {
	return fmt.Sprintf("an open application (%d) already uses this %s", e.ExistingID, e.Field)
}

// Then is called inside the transaction that made a change, so that work it enqueues (mail,
// provisioning) exists exactly when the change does.
type Then func(ctx context.Context, tx pgx.Tx, a Application) error

// SubmitApplication records a new pending application and its audit entry, then calls then in the
// same transaction. It refuses a slug taken by a space or an open application and a form sent
// twice (ErrAlreadySubmitted).
//
// An open application that already uses the email or legal identifier is met according to
// n.Again. Without it, the submission is refused with a DuplicateError. With it:
//   - the same contact email: nothing new is recorded; the open application gets n.StatusToken as
//     one more status link (AddStatusLink's rules) and Again is called with it, then with
//     ErrAlreadySubmitted if the same form comes again;
//   - the same legal identifier with another email: the new application is recorded anyway
//     (moderators see both as possible duplicates; its audit entry names the other), then is
//     called, and Again is called for the earlier one, with no link;
//
// so that nobody learns from the form that an association applied, nor blocks it by applying first
// with its number. Submissions with one email are serialised (an advisory lock), so two at once
// meet the same way.
func SubmitApplication(ctx context.Context, db DB, n NewApplication, then Then) (Application, error) {
	if err := CheckSlug(n.Slug); err != nil {
		return Application{}, err
	}
	if n.Locale != "en" {
		n.Locale = "fr"
	}
	var out Application
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('spaces/application-email/' || lower($1), 0))`,
			n.ContactEmail); err != nil {
			return err
		}
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM applications WHERE submission_hash = $1)
			OR EXISTS (SELECT 1 FROM application_status_links WHERE token_hash = $2)`,
			HashSecret(n.SubmissionKey), HashSecret(n.StatusToken)).Scan(&exists); err != nil {
			return err
		}
		if exists {
			return ErrAlreadySubmitted
		}
		// The slug first: whether it is free is public anyway, and answering it before the
		// duplicates keeps their answer the same as a new application's.
		taken, err := SlugTaken(ctx, tx, n.Slug)
		if err != nil {
			return err
		}
		if taken {
			return &RuleViolation{Code: RuleSlugTaken}
		}
		dup, err := findOpenDuplicate(ctx, tx, n.LegalID, n.ContactEmail)
		if err != nil {
			return err
		}
		if dup != nil && n.Again == nil {
			return dup
		}
		if dup != nil && dup.Field == "contact_email" {
			existing, err := getApplication(ctx, tx, dup.ExistingID, false)
			if err != nil {
				return err
			}
			action := "application.resubmit"
			if err := addStatusLink(ctx, tx, existing.ID, n.StatusToken, action); err != nil {
				return err
			}
			out = existing
			return n.Again(ctx, tx, existing, dup.Field, n.StatusToken)
		}
		detail := map[string]any{"slug": n.Slug}
		if dup != nil {
			detail["possible_duplicate_of"] = dup.ExistingID
		}
		var id int64
		err = tx.QueryRow(ctx, `INSERT INTO applications (association_name, legal_id, slug, contact_name, contact_email,
				purpose, activities, expected_accounts, locale, status_token_hash, submission_hash)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id`,
			n.AssociationName, n.LegalID, n.Slug, n.ContactName, n.ContactEmail, n.Purpose, n.Activities,
			n.ExpectedAccounts, n.Locale, HashSecret(n.StatusToken), HashSecret(n.SubmissionKey)).Scan(&id)
		switch {
		case isUniqueViolation(err, "applications_submission_hash_key"), isUniqueViolation(err, "applications_status_token_hash_key"):
			// The same form, sent twice at once: its status token is the same too.
			return ErrAlreadySubmitted
		case isUniqueViolation(err, "applications_open_slug_key"):
			return &RuleViolation{Code: RuleSlugTaken}
		case isUniqueViolation(err, "applications_open_email_key"):
			return &DuplicateError{Field: "contact_email"}
		case err != nil:
			return err
		}
		if out, err = getApplication(ctx, tx, id, false); err != nil {
			return err
		}
		if err := RecordAudit(ctx, tx, AuditEntry{Actor: ActorApplicant, Action: "application.submit",
			SubjectType: "application", SubjectID: id, ToState: string(AppPending), Detail: detail}); err != nil {
			return err
		}
		if then != nil {
			if err := then(ctx, tx, out); err != nil {
				return err
			}
		}
		if dup != nil {
			existing, err := getApplication(ctx, tx, dup.ExistingID, false)
			if err != nil {
				return err
			}
			return n.Again(ctx, tx, existing, dup.Field, "")
		}
		return nil
	})
	if err != nil {
		return Application{}, fmt.Errorf("submit application: %w", err)
	}
	return out, nil
}

// findOpenDuplicate returns a DuplicateError for an open application with the same identifier or email.
func findOpenDuplicate(ctx context.Context, db DB, legalID, email string) (*DuplicateError, error) {
	var d DuplicateError
	var otherEmail bool
	var existingEmail string
	// The same email first: it is the same contact, whatever the identifier.
	err := db.QueryRow(ctx, `SELECT id, created_at, contact_email, lower(contact_email) <> lower($2) FROM applications
		WHERE state IN ('pending', 'needs_info') AND (legal_id = $1 OR lower(contact_email) = lower($2))
		ORDER BY lower(contact_email) = lower($2) DESC, id LIMIT 1`, legalID, email).Scan(&d.ExistingID, &d.SubmittedAt, &existingEmail, &otherEmail)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("look for duplicates: %w", err)
	}
	d.Field = "contact_email"
	if otherEmail {
		d.Field = "legal_id"
	}
	d.MaskedEmail = MaskEmail(existingEmail)
	return &d, nil
}

// MaskEmail hides most of an address while letting its owner recognise it: j•••@example.org.
func MaskEmail(email string) string {
	local, domain, ok := strings.Cut(email, "@")
	if !ok || local == "" {
		return "•••"
	}
	r := []rune(local)
	return string(r[0]) + "•••@" + domain
}

// SlugTaken tells whether a space or an open application has slug.
func SlugTaken(ctx context.Context, db DB, slug string) (bool, error) {
	var taken bool
	err := db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM spaces WHERE slug = $1)
		OR EXISTS (SELECT 1 FROM applications WHERE slug = $1 AND state IN ('pending', 'needs_info'))`, slug).Scan(&taken)
	if err != nil {
		return false, fmt.Errorf("check slug %s: %w", slug, err)
	}
	return taken, nil
}

func getApplication(ctx context.Context, db DB, id int64, forUpdate bool) (Application, error) {
	q := `SELECT ` + applicationColumns + applicationFrom + ` WHERE a.id = $1`
	if forUpdate {
		q += ` FOR UPDATE OF a`
	}
	a, err := scanApplication(db.QueryRow(ctx, q, id))
	if err != nil {
		return Application{}, notFound(err)
	}
	return a, nil
}

// GetApplication reads one application by id.
func GetApplication(ctx context.Context, db DB, id int64) (Application, error) {
	a, err := getApplication(ctx, db, id, false)
	if err != nil {
		return Application{}, fmt.Errorf("get application %d: %w", id, err)
	}
	return a, nil
}

// ApplicationOfSpace returns the id of the application whose approval created space spaceID, 0
// when there is none left (purged with the space, or the space was made without one).
func ApplicationOfSpace(ctx context.Context, db DB, spaceID int64) (int64, error) {
	var id int64
	err := db.QueryRow(ctx, `SELECT id FROM applications WHERE space_id = $1 ORDER BY id LIMIT 1`, spaceID).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("find the application of space %d: %w", spaceID, err)
	}
	return id, nil
}

// GetApplicationByToken reads the application whose status page token is token. A link mailed
// on request (AddStatusLink) is accepted too, and its first use makes it the application's link:
// the link it had stops working then, and not before.
func GetApplicationByToken(ctx context.Context, db DB, token string) (Application, error) {
	a, err := scanApplication(db.QueryRow(ctx, `SELECT `+applicationColumns+applicationFrom+
		` WHERE a.status_token_hash = $1`, HashSecret(token)))
	if errors.Is(err, pgx.ErrNoRows) {
		a, err = openMailedLink(ctx, db, token)
	}
	if err != nil {
		return Application{}, fmt.Errorf("get application by token: %w", notFound(err))
	}
	return a, nil
}

// StatusTokenExists tells whether token opens an application, as its link or as a live mailed
// one, without opening it (a mailed link is not made the application's link by this).
func StatusTokenExists(ctx context.Context, db DB, token string) (bool, error) {
	var ok bool
	err := db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM applications WHERE status_token_hash = $1)
		OR EXISTS (SELECT 1 FROM application_status_links WHERE token_hash = $1 AND expires_at > now())`,
		HashSecret(token)).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("look for status token: %w", err)
	}
	return ok, nil
}

// openMailedLink makes a live mailed link its application's link.
func openMailedLink(ctx context.Context, db DB, token string) (Application, error) {
	var out Application
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		var id int64
		if err := tx.QueryRow(ctx, `DELETE FROM application_status_links WHERE token_hash = $1 AND expires_at > now()
			RETURNING application_id`, HashSecret(token)).Scan(&id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE applications SET status_token_hash = $2, updated_at = now() WHERE id = $1`,
			id, HashSecret(token)); err != nil {
			return err
		}
		if err := RecordAudit(ctx, tx, AuditEntry{Actor: ActorApplicant, Action: "application.link",
			SubjectType: "application", SubjectID: id}); err != nil {
			return err
		}
		var err error
		out, err = getApplication(ctx, tx, id, false)
		return err
	})
	return out, err
}

// Message is one entry of the conversation about an application.
type Message struct {
	ID          int64
	Author      string // moderator or applicant
	ModeratorID int64
	Body        string
	CreatedAt   time.Time
}

// ApplicationMessages lists the conversation about an application, oldest first.
func ApplicationMessages(ctx context.Context, db DB, applicationID int64) ([]Message, error) {
	rows, err := db.Query(ctx, `SELECT id, author, coalesce(moderator_id, 0), body, created_at
		FROM application_messages WHERE application_id = $1 ORDER BY id`, applicationID)
	if err != nil {
		return nil, fmt.Errorf("read messages of application %d: %w", applicationID, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Message, error) {
		var m Message
		err := r.Scan(&m.ID, &m.Author, &m.ModeratorID, &m.Body, &m.CreatedAt)
		return m, err
	})
	if err != nil {
		return nil, fmt.Errorf("read messages of application %d: %w", applicationID, err)
	}
	return out, nil
}

// ErrInvalidApplicationTransition is returned when an application is asked to move where its
// state machine does not go (most often: it was decided or withdrawn meanwhile).
var ErrInvalidApplicationTransition = errors.New("application cannot make this move")

// applicationChange is one move of an application, made under its row lock.
type applicationChange struct {
	to     ApplicationState
	actor  Actor
	action string
	detail map[string]any
	// check, when set, may refuse the move after the row is locked and read.
	check func(cur Application) error
	// sets are extra SQL assignments with their arguments, numbered from $3.
	sets string
	args []any
	then Then
}

// changeApplication moves an application along its state machine with its audit entry, in one
// transaction with the row locked, so that concurrent moves are decided one after the other.
func changeApplication(ctx context.Context, db DB, id int64, c applicationChange) (Application, error) {
	var out Application
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		cur, err := getApplication(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if !cur.State.CanBecome(c.to) {
			return fmt.Errorf("%w: application is %s", ErrInvalidApplicationTransition, cur.State)
		}
		if c.check != nil {
			if err := c.check(cur); err != nil {
				return err
			}
		}
		args := append([]any{id, c.to}, c.args...)
		if _, err := tx.Exec(ctx, `UPDATE applications SET state = $2, updated_at = now(), state_changed_at = now(),
			claimed_by = NULL, claim_expires_at = NULL`+c.sets+` WHERE id = $1`, args...); err != nil {
			return err
		}
		if out, err = getApplication(ctx, tx, id, false); err != nil {
			return err
		}
		if err := RecordAudit(ctx, tx, AuditEntry{Actor: c.actor, Action: c.action, SubjectType: "application",
			SubjectID: id, FromState: string(cur.State), ToState: string(c.to), Detail: c.detail}); err != nil {
			return err
		}
		if c.then != nil {
			return c.then(ctx, tx, out)
		}
		return nil
	})
	if err != nil {
		return Application{}, fmt.Errorf("%s %d: %w", c.action, id, err)
	}
	return out, nil
}

// WithdrawApplication lets the applicant take back an open application.
func WithdrawApplication(ctx context.Context, db DB, id int64, then Then) (Application, error) {
	return changeApplication(ctx, db, id, applicationChange{to: AppWithdrawn, actor: ActorApplicant,
		action: "application.withdraw", then: then})
}

// MaxMessageLength is the longest message in the conversation about an application, in characters.
const MaxMessageLength = 4000

// ReplyToApplication records the applicant's answer to a request for information and puts the
// application back in the queue.
func ReplyToApplication(ctx context.Context, db DB, id int64, body string, then Then) (Application, error) {
	body = strings.TrimSpace(body)
	if body == "" || len([]rune(body)) > MaxMessageLength {
		return Application{}, fmt.Errorf("reply to application %d: message must be 1 to %d characters", id, MaxMessageLength)
	}
	return changeApplication(ctx, db, id, applicationChange{to: AppPending, actor: ActorApplicant,
		action: "application.reply",
		check: func(cur Application) error {
			if cur.State != AppNeedsInfo {
				return fmt.Errorf("%w: application is %s", ErrInvalidApplicationTransition, cur.State)
			}
			return nil
		},
		then: func(ctx context.Context, tx pgx.Tx, a Application) error {
			if _, err := tx.Exec(ctx, `INSERT INTO application_messages (application_id, author, body)
				VALUES ($1, 'applicant', $2)`, id, body); err != nil {
				return err
			}
			if then != nil {
				return then(ctx, tx, a)
			}
			return nil
		}})
}

// StatusLinkLifetime is how long a status link mailed on request works if it is never opened.
const StatusLinkLifetime = 7 * 24 * time.Hour

// AddStatusLink gives the latest application made with email one more status link, token, for an
// applicant who lost theirs. The link the application has keeps working until token is first
// opened (GetApplicationByToken), so that a stranger asking for a link with someone's address
// cannot cut them off; unopened, token expires after StatusLinkLifetime. It reports whether an
// application uses email, and calls then in the same transaction (to mail token to that address).
func AddStatusLink(ctx context.Context, db DB, email, token string, then Then) (bool, error) {
	found := false
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		var id int64
		err := tx.QueryRow(ctx, `SELECT id FROM applications WHERE lower(contact_email) = lower($1)
			ORDER BY id DESC LIMIT 1`, strings.TrimSpace(email)).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		found = true
		action := "application.link_mailed"
		if err := addStatusLink(ctx, tx, id, token, action); err != nil {
			return err
		}
		a, err := getApplication(ctx, tx, id, false)
		if err != nil {
			return err
		}
		if then != nil {
			return then(ctx, tx, a)
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("add status link: %w", err)
	}
	return found, nil
}

// addStatusLink stores token's hash as one more link to application id, with an audit entry
// (action), and deletes expired links on the way.
func addStatusLink(ctx context.Context, tx pgx.Tx, id int64, token, action string) error {
	if _, err := tx.Exec(ctx, `DELETE FROM application_status_links WHERE expires_at < now()`); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO application_status_links (token_hash, application_id, expires_at)
		VALUES ($1, $2, now() + $3 * interval '1 second')`, HashSecret(token), id, StatusLinkLifetime.Seconds()); err != nil {
		return err
	}
	return RecordAudit(ctx, tx, AuditEntry{Actor: ActorApplicant, Action: action, SubjectType: "application", SubjectID: id})
}
