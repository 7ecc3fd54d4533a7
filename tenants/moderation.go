package tenants

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode"

	"github.com/jackc/pgx/v5"

	"github.com/assospaces/spaces/quota"
)

// ClaimDuration is how long a moderator's claim on an application lasts unless renewed.
const ClaimDuration = 30 * time.Minute

// ClaimedError is returned when another moderator holds a live claim on the application.
type ClaimedError struct {
	By    string
	Until time.Time
}

func (e *ClaimedError) Error() string {
	return fmt.Sprintf("claimed by %s until %s", e.By, e.Until.Format(time.RFC3339))
}

func refuseIfClaimedByOther(moderatorID int64) func(Application) error {
	return func(cur Application) error {
		if cur.ClaimedByOther(moderatorID, time.Now()) {
			return &ClaimedError{By: cur.ClaimedByName, Until: cur.ClaimExpiresAt}
		}
		return nil
	}
}

// ClaimApplication marks an open application as worked on by a moderator for ClaimDuration;
// claiming it again renews the claim. Another moderator's live claim is refused with ClaimedError.
func ClaimApplication(ctx context.Context, db DB, id, moderatorID int64) (Application, error) {
	var out Application
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		cur, err := getApplication(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if !cur.State.Open() {
			return fmt.Errorf("%w: application is %s", ErrInvalidApplicationTransition, cur.State)
		}
		if err := refuseIfClaimedByOther(moderatorID)(cur); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE applications SET claimed_by = $2, claim_expires_at = now() + $3::interval,
			updated_at = now() WHERE id = $1`, id, moderatorID, ClaimDuration.String()); err != nil {
			return err
		}
		if out, err = getApplication(ctx, tx, id, false); err != nil {
			return err
		}
		return RecordAudit(ctx, tx, AuditEntry{Actor: ModeratorActor(moderatorID), Action: "application.claim",
			SubjectType: "application", SubjectID: id, Detail: map[string]any{"until": out.ClaimExpiresAt}})
	})
	if err != nil {
		return Application{}, fmt.Errorf("claim application %d: %w", id, err)
	}
	return out, nil
}

// ReleaseClaim gives up a moderator's own claim; releasing a claim one does not hold does nothing.
func ReleaseClaim(ctx context.Context, db DB, id, moderatorID int64) error {
	return pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE applications SET claimed_by = NULL, claim_expires_at = NULL, updated_at = now()
			WHERE id = $1 AND claimed_by = $2`, id, moderatorID)
		if err != nil {
			return fmt.Errorf("release claim on application %d: %w", id, err)
		}
		if tag.RowsAffected() == 0 {
			return nil
		}
		return RecordAudit(ctx, tx, AuditEntry{Actor: ModeratorActor(moderatorID), Action: "application.release",
			SubjectType: "application", SubjectID: id})
	})
}

// Decider is who decides on an application: a moderator (ModeratorID, who may hold its claim),
// or an operator through an API token (Actor, ModeratorID 0), who never claims: any live claim is
// then a moderator's and refuses the decision with ClaimedError, so that an operator never
// decides an application a moderator is working on.
type Decider struct {
	ModeratorID int64
	// Actor names an operator's token; empty for a moderator.
	Actor Actor
}

func (d Decider) actor() Actor {
	if d.Actor != "" {
		return d.Actor
	}
	return ModeratorActor(d.ModeratorID)
}

// Approval is a decision to give an association its space.
type Approval struct {
	Decider
	Limits quota.Limits
	// Then runs in the approval's transaction with the new space: it enqueues provisioning and mail.
	Then func(ctx context.Context, tx pgx.Tx, a Application, s Space) error
}

// ApproveApplication approves an open application: it creates the space as queued with the given
// limits, links it, audits the decision and calls Then, all in one transaction with the
// application's row locked. Of two moderators approving at the same instant, one creates the space
// and the other gets ErrInvalidApplicationTransition. A slug meanwhile taken by another space
// gives ErrSlugTaken.
func ApproveApplication(ctx context.Context, db DB, id int64, ap Approval) (Application, Space, error) {
	var space Space
	actor := ap.actor()
	a, err := changeApplication(ctx, db, id, applicationChange{to: AppApproved, actor: actor, action: "application.approve",
		check: func(cur Application) error {
			if err := refuseIfClaimedByOther(ap.ModeratorID)(cur); err != nil {
				return err
			}
			return nil
		},
		then: func(ctx context.Context, tx pgx.Tx, a Application) error {
			s, err := CreateSpace(ctx, tx, NewSpace{Slug: a.Slug, AssociationName: a.AssociationName,
				ContactEmail: a.ContactEmail, Locale: a.Locale, Limits: ap.Limits}, actor)
			if err != nil {
				return err
			}
			space = s
			if _, err := tx.Exec(ctx, `UPDATE applications SET space_id = $2 WHERE id = $1`, id, s.ID); err != nil {
				return err
			}
			if ap.Then != nil {
				return ap.Then(ctx, tx, a, s)
			}
			return nil
		}})
	if err != nil {
		return Application{}, Space{}, err
	}
	a.SpaceID = space.ID
	return a, space, nil
}

// Rejection is a decision to refuse an application, with a reason picked from the templates and
// an optional note added to it.
type Rejection struct {
	Decider
	ReasonID int64
	Note     string
	Then     Then
}

// RejectApplication refuses an open application. The reason's text in the applicant's language,
// followed by the note, is kept as the decision reason and shown to the applicant.
func RejectApplication(ctx context.Context, db DB, id int64, rj Rejection) (Application, error) {
	reason, err := GetRejectionReason(ctx, db, rj.ReasonID)
	if err != nil {
		return Application{}, fmt.Errorf("reject application %d: %w", id, err)
	}
	note := strings.TrimSpace(rj.Note)
	if len([]rune(note)) > MaxMessageLength {
		return Application{}, fmt.Errorf("reject application %d: note longer than %d characters", id, MaxMessageLength)
	}
	var text string
	return changeApplication(ctx, db, id, applicationChange{to: AppRejected, actor: rj.actor(),
		action: "application.reject", detail: map[string]any{"reason_id": reason.ID, "reason": reason.Title},
		check: func(cur Application) error {
			text = reason.Body(cur.Locale)
			if note != "" {
				text += "\n\n" + note
			}
			return refuseIfClaimedByOther(rj.ModeratorID)(cur)
		},
		sets: `, decision_reason = $3`, args: []any{&text}, then: rj.Then})
}

// Question is a request for more information sent to an applicant.
type Question struct {
	Decider
	Text string
	Then Then
}

// AskForInformation sends an open application back to its applicant with a question.
func AskForInformation(ctx context.Context, db DB, id int64, q Question) (Application, error) {
	question := strings.TrimSpace(q.Text)
	if question == "" || len([]rune(question)) > MaxMessageLength {
		return Application{}, fmt.Errorf("ask for information on application %d: question must be 1 to %d characters", id, MaxMessageLength)
	}
	var moderator *int64 // the message names its moderator; an operator's names none
	if q.ModeratorID != 0 {
		moderator = &q.ModeratorID
	}
	return changeApplication(ctx, db, id, applicationChange{to: AppNeedsInfo, actor: q.actor(),
		action: "application.ask_info", check: refuseIfClaimedByOther(q.ModeratorID),
		then: func(ctx context.Context, tx pgx.Tx, a Application) error {
			if _, err := tx.Exec(ctx, `INSERT INTO application_messages (application_id, author, moderator_id, body)
				VALUES ($1, 'moderator', $2, $3)`, id, moderator, question); err != nil {
				return err
			}
			if q.Then != nil {
				return q.Then(ctx, tx, a)
			}
			return nil
		}})
}

// QueueFilter selects applications for the moderators' queue.
type QueueFilter struct {
	// State selects one state; empty selects every state.
	State ApplicationState
	// Query searches names and slugs (substring, any case), legal identifiers and emails (exact).
	// A query without three letters or digits in a row ("42", "a b") matches names and slugs
	// that start with it: a substring that short cannot be searched through an index.
	Query string
	// Claimed is "mine", "unclaimed" or empty for any; mine uses ModeratorID.
	Claimed     string
	ModeratorID int64
	// After continues a listing from the id the previous page ended on (keyset pagination).
	After int64
	Limit int
}

// Descending tells whether the listing runs newest first: decided applications are read from the
// latest, open ones from the oldest (first come, first served).
func (f QueueFilter) Descending() bool {
	return f.State == AppApproved || f.State == AppRejected || f.State == AppWithdrawn || f.State == ""
}

// QueuePage is one page of the queue; Next is the After of the following page, 0 on the last.
type QueuePage struct {
	Items []Application
	Next  int64
}

// ListApplications lists applications for the queue with keyset pagination on id.
//
// A listing without a search reads the (state, id) or primary key index in order. A search finds
// its matches through the indexes (trigrams or prefixes of name and slug, btree on identifier and
// email) and sorts them; a query matching too many for that walks the listing in order instead,
// where matches are dense. Both give the page the plain filtered listing would.
func ListApplications(ctx context.Context, db DB, f QueueFilter) (QueuePage, error) {
	if f.Limit <= 0 || f.Limit > 200 {
		f.Limit = 50
	}
	order := "ASC"
	if f.Descending() {
		order = "DESC"
	}
	var b queueSQL
	if strings.TrimSpace(f.Query) == "" {
		items, err := collectApplications(ctx, db, `SELECT `+applicationColumns+applicationFrom+` WHERE `+b.filters(f)+
			` ORDER BY a.id `+order+` LIMIT `+b.arg(f.Limit+1), b.args...)
		if err != nil {
			return QueuePage{}, fmt.Errorf("list applications: %w", err)
		}
		page := QueuePage{Items: items}
		if len(items) > f.Limit {
			page.Items = items[:f.Limit]
			page.Next = page.Items[f.Limit-1].ID
		}
		return page, nil
	}
	ids, err := searchApplicationIDs(ctx, db, f, order)
	if err != nil {
		return QueuePage{}, fmt.Errorf("list applications: %w", err)
	}
	var page QueuePage
	if len(ids) > f.Limit {
		ids = ids[:f.Limit]
		page.Next = ids[f.Limit-1]
	}
	if len(ids) == 0 {
		return page, nil
	}
	// The rows are read again with the conditions: one that changed meanwhile is left out.
	page.Items, err = collectApplications(ctx, db, `SELECT `+applicationColumns+applicationFrom+` WHERE a.id = ANY(`+
		b.arg(ids)+`) AND `+b.filters(f)+` AND `+b.match(f.Query)+` ORDER BY a.id `+order, b.args...)
	if err != nil {
		return QueuePage{}, fmt.Errorf("list applications: %w", err)
	}
	return page, nil
}

// searchCandidates is how many matches a search sorts at most. A query matching more is common
// enough (one in fifty of 100,000) for a walk of the listing in order to fill a page soon.
const searchCandidates = 2000

// searchApplicationIDs returns the ids of the first f.Limit+1 applications of the listing that
// match f.Query, in the listing's order. Each query is planned with its own values
// (QueryExecModeExec): a cached generic plan cannot tell a rare name from a common word, and
// the prefix indexes only serve a pattern the planner sees.
func searchApplicationIDs(ctx context.Context, db DB, f QueueFilter, order string) ([]int64, error) {
	// The matches, from the trigram and btree indexes, unless there are more than searchCandidates.
	// The CTE keeps the planner from walking the whole listing in order for a rare name.
	b := queueSQL{args: []any{pgx.QueryExecModeExec}}
	var found int
	var ids []int64
	err := db.QueryRow(ctx, `WITH hits AS MATERIALIZED (
			SELECT a.id FROM applications a WHERE `+b.match(f.Query)+` AND `+b.filters(f)+` LIMIT `+b.arg(searchCandidates+1)+`)
		SELECT count(*), coalesce((array_agg(id ORDER BY id `+order+`))[:`+b.arg(f.Limit+1)+`], '{}') FROM hits`,
		b.args...).Scan(&found, &ids)
	if err != nil || found <= searchCandidates {
		return ids, err
	}
	b = queueSQL{args: []any{pgx.QueryExecModeExec}}
	rows, err := db.Query(ctx, `SELECT a.id FROM applications a WHERE `+b.match(f.Query)+` AND `+b.filters(f)+
		` ORDER BY a.id `+order+` LIMIT `+b.arg(f.Limit+1), b.args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

func collectApplications(ctx context.Context, db DB, sql string, args ...any) ([]Application, error) {
	rows, err := db.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Application, error) { return scanApplication(r) })
}

// queueSQL builds the conditions of a queue query and collects their arguments.
type queueSQL struct {
	args []any
	n    int
}

func (b *queueSQL) arg(v any) string {
	b.args = append(b.args, v)
	b.n++
	return fmt.Sprintf("$%d", b.n)
}

// filters is the condition on state, claim and keyset cursor.
func (b *queueSQL) filters(f QueueFilter) string {
	var where []string
	if f.State != "" {
		where = append(where, "a.state = "+b.arg(string(f.State)))
	}
	switch f.Claimed {
	case "mine":
		where = append(where, "a.claimed_by = "+b.arg(f.ModeratorID)+" AND a.claim_expires_at > now()")
	case "unclaimed":
		where = append(where, "(a.claimed_by IS NULL OR a.claim_expires_at <= now())")
	}
	if f.Descending() {
		after := f.After
		if after == 0 {
			after = math.MaxInt64
		}
		where = append(where, "a.id < "+b.arg(after))
	} else {
		where = append(where, "a.id > "+b.arg(f.After))
	}
	return strings.Join(where, " AND ")
}

// match is the condition of a search: name or slug containing the query, in any case, or the
// same legal identifier or email. Containing needs the trigram indexes, which need a word of at
// least three letters or digits in the query; a shorter query ("42", "a b") matches names and
// slugs that start with it instead, through their prefix indexes.
func (b *queueSQL) match(query string) string {
	q := strings.TrimSpace(query)
	var conds []string
	if hasTrigram(q) {
		conds = []string{"a.association_name ILIKE " + b.arg("%"+escapeLike(q)+"%"),
			"a.slug ILIKE " + b.arg("%"+escapeLike(strings.ToLower(q))+"%")}
	} else {
		// ILIKE lowers both sides, as these do: lower(name) is what the prefix index holds, and
		// slugs are lower case. The planner folds lower() of a constant to use the index.
		p := b.arg(escapeLike(q) + "%")
		conds = []string{"lower(a.association_name) LIKE lower(" + p + ")", "a.slug LIKE lower(" + p + ")"}
	}
	if id, err := NormalizeLegalID(q); err == nil {
		conds = append(conds, "a.legal_id = "+b.arg(id))
	}
	if strings.Contains(q, "@") {
		conds = append(conds, "lower(a.contact_email) = lower("+b.arg(q)+")")
	}
	return "(" + strings.Join(conds, " OR ") + ")"
}

// hasTrigram tells whether q holds a run of three letters or digits, from which pg_trgm takes
// the trigrams its index is searched with.
func hasTrigram(q string) bool {
	run := 0
	for _, r := range q {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			if run++; run == 3 {
				return true
			}
		} else {
			run = 0
		}
	}
	return false
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// CountApplicationsByState counts applications in each state; every state is present.
func CountApplicationsByState(ctx context.Context, db DB) (map[ApplicationState]int64, error) {
	rows, err := db.Query(ctx, `SELECT state, count(*) FROM applications GROUP BY state`)
	if err != nil {
		return nil, fmt.Errorf("count applications: %w", err)
	}
	defer rows.Close()
	out := make(map[ApplicationState]int64, len(ApplicationStates))
	for _, s := range ApplicationStates {
		out[s] = 0
	}
	for rows.Next() {
		var s ApplicationState
		var n int64
		if err := rows.Scan(&s, &n); err != nil {
			return nil, fmt.Errorf("count applications: %w", err)
		}
		out[s] = n
	}
	return out, rows.Err()
}

// Duplicate is another application that may be the same association's.
type Duplicate struct {
	Application
	SameLegalID bool
	SameEmail   bool
	SimilarName bool
}

// PossibleDuplicates lists other applications, in any state, with the same legal identifier or
// email as a, or a similar name (trigram similarity), newest first.
func PossibleDuplicates(ctx context.Context, db DB, a Application) ([]Duplicate, error) {
	rows, err := db.Query(ctx, `SELECT `+applicationColumns+`, a.legal_id = $2, lower(a.contact_email) = lower($3),
			similarity(a.association_name, $4) >= 0.5`+applicationFrom+`
		WHERE a.id <> $1 AND (a.legal_id = $2 OR lower(a.contact_email) = lower($3) OR a.association_name % $4)
		ORDER BY a.id DESC LIMIT 20`, a.ID, a.LegalID, a.ContactEmail, a.AssociationName)
	if err != nil {
		return nil, fmt.Errorf("find duplicates of application %d: %w", a.ID, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Duplicate, error) {
		var d Duplicate
		x := &d.Application
		err := r.Scan(&x.ID, &x.State, &x.AssociationName, &x.LegalID, &x.Slug, &x.ContactName, &x.ContactEmail,
			&x.Purpose, &x.Activities, &x.ExpectedAccounts, &x.Locale, &x.ClaimedBy, &x.ClaimedByName,
			&x.ClaimExpiresAt, &x.DecisionReason, &x.SpaceID, &x.CreatedAt, &x.UpdatedAt, &x.StateChangedAt,
			&d.SameLegalID, &d.SameEmail, &d.SimilarName)
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("find duplicates of application %d: %w", a.ID, err)
	}
	return out, nil
}

// RejectionReason is a template a moderator picks when rejecting; moderators edit them.
type RejectionReason struct {
	ID        int64
	Title     string // for moderators
	BodyFR    string // sent to French-speaking applicants
	BodyEN    string // sent to English-speaking applicants
	Position  int
	Archived  bool
	UpdatedAt time.Time
}

// Body is the reason's text in locale.
func (r RejectionReason) Body(locale string) string {
	if locale == "en" {
		return r.BodyEN
	}
	return r.BodyFR
}

const reasonColumns = `id, title, body_fr, body_en, position, archived_at IS NOT NULL, updated_at`

func scanReason(row pgx.Row) (RejectionReason, error) {
	var r RejectionReason
	err := row.Scan(&r.ID, &r.Title, &r.BodyFR, &r.BodyEN, &r.Position, &r.Archived, &r.UpdatedAt)
	return r, err
}

// ListRejectionReasons lists the reasons in their order; archived ones only when asked.
func ListRejectionReasons(ctx context.Context, db DB, withArchived bool) ([]RejectionReason, error) {
	rows, err := db.Query(ctx, `SELECT `+reasonColumns+` FROM rejection_reasons
		WHERE $1 OR archived_at IS NULL ORDER BY archived_at IS NOT NULL, position, id`, withArchived)
	if err != nil {
		return nil, fmt.Errorf("list rejection reasons: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (RejectionReason, error) { return scanReason(r) })
	if err != nil {
		return nil, fmt.Errorf("list rejection reasons: %w", err)
	}
	return out, nil
}

// GetRejectionReason reads one reason; an archived one is ErrNotFound, as it may no longer be picked.
func GetRejectionReason(ctx context.Context, db DB, id int64) (RejectionReason, error) {
	r, err := scanReason(db.QueryRow(ctx, `SELECT `+reasonColumns+` FROM rejection_reasons WHERE id = $1 AND archived_at IS NULL`, id))
	if err != nil {
		return RejectionReason{}, fmt.Errorf("get rejection reason %d: %w", id, notFound(err))
	}
	return r, nil
}

// ErrInvalidReason is returned for a rejection reason with an empty or overlong field.
var ErrInvalidReason = errors.New("a reason needs a title (at most 120 characters) and both texts (at most 4000)")

// SaveRejectionReason creates (ID 0) or updates a reason and audits the change.
func SaveRejectionReason(ctx context.Context, db DB, r RejectionReason, actor Actor) (RejectionReason, error) {
	r.Title, r.BodyFR, r.BodyEN = strings.TrimSpace(r.Title), strings.TrimSpace(r.BodyFR), strings.TrimSpace(r.BodyEN)
	if r.Title == "" || r.BodyFR == "" || r.BodyEN == "" || len([]rune(r.Title)) > 120 ||
		len([]rune(r.BodyFR)) > MaxMessageLength || len([]rune(r.BodyEN)) > MaxMessageLength {
		return RejectionReason{}, ErrInvalidReason
	}
	var out RejectionReason
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		var err error
		action := "reason.update"
		if r.ID == 0 {
			action = "reason.create"
			out, err = scanReason(tx.QueryRow(ctx, `INSERT INTO rejection_reasons (title, body_fr, body_en, position)
				VALUES ($1, $2, $3, $4) RETURNING `+reasonColumns, r.Title, r.BodyFR, r.BodyEN, r.Position))
		} else {
			out, err = scanReason(tx.QueryRow(ctx, `UPDATE rejection_reasons SET title = $2, body_fr = $3, body_en = $4,
				position = $5, archived_at = CASE WHEN $6 THEN coalesce(archived_at, now()) END, updated_at = now()
				WHERE id = $1 RETURNING `+reasonColumns, r.ID, r.Title, r.BodyFR, r.BodyEN, r.Position, r.Archived))
		}
		if err != nil {
			return notFound(err)
		}
		return RecordAudit(ctx, tx, AuditEntry{Actor: actor, Action: action, SubjectType: "rejection_reason",
			SubjectID: out.ID, Detail: map[string]any{"title": out.Title, "archived": out.Archived}})
	})
	if err != nil {
		return RejectionReason{}, fmt.Errorf("save rejection reason: %w", err)
	}
	return out, nil
}

// GetRejectionReasonForEdit reads a reason whether archived or not.
func GetRejectionReasonForEdit(ctx context.Context, db DB, id int64) (RejectionReason, error) {
	r, err := scanReason(db.QueryRow(ctx, `SELECT `+reasonColumns+` FROM rejection_reasons WHERE id = $1`, id))
	if err != nil {
		return RejectionReason{}, fmt.Errorf("get rejection reason %d: %w", id, notFound(err))
	}
	return r, nil
}
