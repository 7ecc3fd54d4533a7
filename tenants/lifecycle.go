package tenants

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/assospaces/spaces/quota"
)

// The operators' decisions about a space: resize, suspend, resume, delete (softly, with a grace
// period), restore, and the purge at the end of the grace period. Each is written here, with its
// audit entry, in the caller's transaction; package jobs wraps them with what must happen in the
// same transaction (waking the reconciler, freeing a place in the waiting list, the mail).

// StateError refuses a decision because of the space's state, naming it.
type StateError struct {
	Slug    string
	State   SpaceState
	Action  string       // what was asked, in words: "resized", "resumed", …
	Allowed []SpaceState // the states it is allowed from
	// DeleteAfter is the end of a deleting space's grace period.
	DeleteAfter *time.Time
}

func (e *StateError) Error() string {
	allowed := make([]string, len(e.Allowed))
	for i, s := range e.Allowed {
		allowed[i] = string(s)
	}
	msg := fmt.Sprintf("space %s is %s", e.Slug, e.State)
	if e.State == SpaceDeleting && e.DeleteAfter != nil {
		msg += " (purged after " + e.DeleteAfter.UTC().Format("2006-01-02 15:04 UTC") + ")"
	}
	return msg + "; only " + strings.Join(allowed, " or ") + " spaces can be " + e.Action
}

// Unwrap makes a StateError an ErrInvalidTransition.
func (e *StateError) Unwrap() error { return ErrInvalidTransition }

// ErrGraceOver refuses a restore once the grace period is over: the space is being purged.
var ErrGraceOver = errors.New("the grace period is over")

// ShrinkError refuses a resize below what the space uses now.
type ShrinkError struct {
	Slug  string
	Field string // storage or accounts
	Used  int64  // bytes used, or accounts enabled
	Want  int64
}

func (e *ShrinkError) Error() string {
	if e.Field == "storage" {
		return fmt.Sprintf("space %s uses %s; a limit of %s is %s below that (--force resizes anyway: nobody can add files until they delete some)",
			e.Slug, quota.FormatSize(e.Used), quota.FormatSize(e.Want), quota.FormatSize(e.Used-e.Want))
	}
	return fmt.Sprintf("space %s has %d accounts enabled; a limit of %d is %d below that (--force resizes anyway: no account can be added until some are removed)",
		e.Slug, e.Used, e.Want, e.Used-e.Want)
}

// Resize is a change of limits; a zero field keeps the current value.
type Resize struct {
	StorageBytes int64
	Accounts     int
	// Force allows limits below what the space uses now.
	Force bool
}

// lockSpace reads a space by id for update.
func lockSpace(ctx context.Context, tx DB, id int64) (Space, error) {
	s, err := scanSpace(tx.QueryRow(ctx, `SELECT `+spaceColumns+` FROM spaces WHERE id = $1 FOR UPDATE`, id))
	return s, notFound(err)
}

func refuse(s Space, action string, allowed ...SpaceState) error {
	if containsState(allowed, s.State) {
		return nil
	}
	return &StateError{Slug: s.Slug, State: s.State, Action: action, Allowed: allowed, DeleteAfter: s.DeleteAfter}
}

// ResizeSpace changes a space's limits: a decision, so the generation goes up and the reconciler
// renders the user limit and the quotas again. It refuses limits below the last measured usage
// unless r.Force, and spaces that are deleting or deleted. It returns the space as before and after.
func ResizeSpace(ctx context.Context, tx DB, id int64, r Resize, actor Actor) (before, after Space, err error) {
	before, err = lockSpace(ctx, tx, id)
	if err != nil {
		return before, after, fmt.Errorf("resize space %d: %w", id, err)
	}
	if err := refuse(before, "resized", SpaceQueued, SpaceProvisioning, SpaceActive, SpaceSuspended, SpaceFailed); err != nil {
		return before, after, err
	}
	l := before.Limits
	if r.StorageBytes != 0 {
		l.StorageBytes = r.StorageBytes
	}
	if r.Accounts != 0 {
		l.Accounts = r.Accounts
	}
	if err := l.Validate(); err != nil {
		return before, after, err
	}
	if l == before.Limits {
		return before, before, nil
	}
	if !r.Force {
		u, err := UsageOf(ctx, tx, []int64{id})
		if err != nil {
			return before, after, err
		}
		if u, ok := u[id]; ok && u.Collected() {
			if l.StorageBytes < u.UsedBytes {
				return before, after, &ShrinkError{Slug: before.Slug, Field: "storage", Used: u.UsedBytes, Want: l.StorageBytes}
			}
			if l.Accounts < u.AccountsEnabled {
				return before, after, &ShrinkError{Slug: before.Slug, Field: "accounts", Used: int64(u.AccountsEnabled), Want: int64(l.Accounts)}
			}
		}
	}
	after, err = scanSpace(tx.QueryRow(ctx, `
		UPDATE spaces SET storage_limit_bytes = $2, account_limit = $3, generation = generation + 1, updated_at = now()
		WHERE id = $1 RETURNING `+spaceColumns, id, l.StorageBytes, l.Accounts))
	if err != nil {
		return before, after, fmt.Errorf("resize space %s: %w", before.Slug, err)
	}
	// The next usage pass applies the new plan at once rather than at its usual time.
	if _, err := tx.Exec(ctx, `UPDATE space_usage SET next_at = now() WHERE space_id = $1`, id); err != nil {
		return before, after, fmt.Errorf("resize space %s: %w", before.Slug, err)
	}
	detail := map[string]any{"from": before.Limits, "to": l}
	if r.Force {
		detail["forced"] = true
	}
	err = RecordAudit(ctx, tx, AuditEntry{Actor: actor, Action: "space.resize", SubjectType: "space", SubjectID: id, Detail: detail})
	return before, after, err
}

// SuspendSpace suspends an active space for reason: its data stays, its people see Nextcloud's
// maintenance page.
func SuspendSpace(ctx context.Context, tx DB, id int64, reason string, actor Actor) (Space, error) {
	cur, err := lockSpace(ctx, tx, id)
	if err != nil {
		return Space{}, fmt.Errorf("suspend space %d: %w", id, err)
	}
	if err := refuse(cur, "suspended", SpaceActive); err != nil {
		return Space{}, err
	}
	return TransitionSpace(ctx, tx, id, Transition{To: SpaceSuspended, Actor: actor, Action: "space.suspend", Reason: reason})
}

// ResumeSpace brings a suspended space back.
func ResumeSpace(ctx context.Context, tx DB, id int64, actor Actor) (Space, error) {
	cur, err := lockSpace(ctx, tx, id)
	if err != nil {
		return Space{}, fmt.Errorf("resume space %d: %w", id, err)
	}
	if err := refuse(cur, "resumed", SpaceSuspended); err != nil {
		return Space{}, err
	}
	return TransitionSpace(ctx, tx, id, Transition{To: SpaceActive, Actor: actor, Action: "space.resume"})
}

// DeleteSpace deletes a space softly: it is stopped and its data kept until now+grace, when the
// purge removes everything. It returns the space as it was and as it is.
func DeleteSpace(ctx context.Context, tx DB, id int64, reason string, grace time.Duration, now time.Time, actor Actor) (before, after Space, err error) {
	before, err = lockSpace(ctx, tx, id)
	if err != nil {
		return before, after, fmt.Errorf("delete space %d: %w", id, err)
	}
	if err := refuse(before, "deleted", SpaceQueued, SpaceProvisioning, SpaceActive, SpaceSuspended, SpaceFailed); err != nil {
		return before, after, err
	}
	after, err = TransitionSpace(ctx, tx, id, Transition{To: SpaceDeleting, Actor: actor, Action: "space.delete", Reason: reason,
		DeleteAfter: now.Add(grace)})
	return before, after, err
}

// RestoreSpace brings a deleting space back to the state it had, before its grace period ends.
func RestoreSpace(ctx context.Context, tx DB, id int64, now time.Time, actor Actor) (Space, error) {
	cur, err := lockSpace(ctx, tx, id)
	if err != nil {
		return Space{}, fmt.Errorf("restore space %d: %w", id, err)
	}
	if err := refuse(cur, "restored", SpaceDeleting); err != nil {
		return Space{}, err
	}
	if cur.DeleteAfter != nil && !now.Before(*cur.DeleteAfter) {
		return Space{}, fmt.Errorf("space %s cannot be restored: %w on %s and its data is being purged",
			cur.Slug, ErrGraceOver, cur.DeleteAfter.UTC().Format("2006-01-02 15:04 UTC"))
	}
	return TransitionSpace(ctx, tx, id, Transition{To: cur.RestoreState, Actor: actor, Action: "space.restore"})
}

// SpacesToPurge lists up to limit deleting spaces whose grace period ended before now.
func SpacesToPurge(ctx context.Context, db DB, now time.Time, limit int) ([]Space, error) {
	rows, err := db.Query(ctx, `SELECT `+spaceColumns+` FROM spaces WHERE state = 'deleting' AND delete_after <= $1
		ORDER BY delete_after LIMIT $2`, now, limit)
	if err != nil {
		return nil, fmt.Errorf("list spaces to purge: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Space, error) { return scanSpace(r) })
	if err != nil {
		return nil, fmt.Errorf("list spaces to purge: %w", err)
	}
	return out, nil
}

// PurgedContact is what replaces a purged space's contact address.
const PurgedContact = "purged"

// MarkSpacePurged records that everything a deleting space had outside this database is gone,
// and removes the personal data kept for it here: the contact's address on the space, its
// application (contact, texts and conversation), its usage figures and the details of its audit
// entries and its application's. What stays is who decided what and when, the slug and the
// association's name (a legal person's, not personal data), and the limits it had.
func MarkSpacePurged(ctx context.Context, tx DB, id int64) (Space, error) {
	cur, err := lockSpace(ctx, tx, id)
	if err != nil {
		return Space{}, fmt.Errorf("mark space %d purged: %w", id, err)
	}
	if cur.State != SpaceDeleting {
		return Space{}, &StateError{Slug: cur.Slug, State: cur.State, Action: "purged", Allowed: []SpaceState{SpaceDeleting}}
	}
	out, err := TransitionSpace(ctx, tx, id, Transition{To: SpaceDeleted, Actor: ActorSystem, Action: "space.purge"})
	if err != nil {
		return Space{}, err
	}
	stmts := []string{
		`UPDATE spaces SET contact_email = '` + PurgedContact + `', suspend_reason = NULL, delete_reason = NULL,
			failure_reason = NULL, conditions = '[]' WHERE id = $1`,
		`DELETE FROM space_usage_history WHERE space_id = $1`,
		`DELETE FROM space_usage WHERE space_id = $1`,
		`DELETE FROM reconcile_backoff WHERE space_id = $1`,
		// Keep what a decision was about (states, limits), drop the texts people wrote.
		`UPDATE audit_log SET detail = detail - 'reason' - 'message' - 'email' - 'contact_email' - 'text'
			WHERE subject_type = 'space' AND subject_id = $1`,
		`UPDATE audit_log SET detail = '{}' WHERE subject_type = 'application'
			AND subject_id IN (SELECT id FROM applications WHERE space_id = $1)`,
	}
	for _, q := range stmts {
		if _, err := tx.Exec(ctx, q, id); err != nil {
			return Space{}, fmt.Errorf("mark space %s purged: %w", cur.Slug, err)
		}
	}
	if err := deleteApplicationsOf(ctx, tx, id); err != nil {
		return Space{}, fmt.Errorf("mark space %s purged: %w", cur.Slug, err)
	}
	out.ContactEmail, out.SuspendReason, out.DeleteReason, out.FailureReason, out.Conditions = PurgedContact, "", "", "", []Condition{}
	return out, nil
}

// LockSpaceToPurge locks space id in tx and tells whether it is still due for its purge at now:
// hold the lock while purging, so that a restore waits and then finds the space deleted.
func LockSpaceToPurge(ctx context.Context, tx DB, id int64, now time.Time) (Space, bool, error) {
	s, err := lockSpace(ctx, tx, id)
	if err != nil {
		return s, false, fmt.Errorf("lock space %d to purge: %w", id, err)
	}
	return s, s.State == SpaceDeleting && s.DeleteAfter != nil && !now.Before(*s.DeleteAfter), nil
}
