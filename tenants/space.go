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

// SpaceState is where a space is in its life.
//
//	queued → provisioning → active ⇄ suspended → deleting → deleted
//	any step of provisioning can end in failed; failed is retried back to queued.
//
// deleting is a soft deletion: the space is stopped, its data kept until DeleteAfter, and a
// restore before then brings it back to the state it had (RestoreState). After it, the purge
// removes everything and the space is deleted, its personal data gone.
type SpaceState string

// The states of a space.
const (
	SpaceQueued       SpaceState = "queued"
	SpaceProvisioning SpaceState = "provisioning"
	SpaceActive       SpaceState = "active"
	SpaceSuspended    SpaceState = "suspended"
	SpaceDeleting     SpaceState = "deleting"
	SpaceDeleted      SpaceState = "deleted"
	SpaceFailed       SpaceState = "failed"
)

// transitionKind tells whether a move is a decision (a person or policy changed what is wanted,
// so the generation goes up) or progress (the provisioner reports what it achieved).
type transitionKind int

const (
	decision transitionKind = iota + 1
	progress
)

// spaceTransitions is the space state machine: the only place that says which moves exist.
var spaceTransitions = map[SpaceState]map[SpaceState]transitionKind{
	SpaceQueued:       {SpaceProvisioning: progress, SpaceDeleting: decision},
	SpaceProvisioning: {SpaceActive: progress, SpaceFailed: progress, SpaceQueued: progress, SpaceDeleting: decision},
	SpaceActive:       {SpaceSuspended: decision, SpaceDeleting: decision, SpaceFailed: progress},
	SpaceSuspended:    {SpaceActive: decision, SpaceDeleting: decision, SpaceFailed: progress},
	SpaceFailed:       {SpaceQueued: decision, SpaceDeleting: decision},
	// Restoring a deleting space is a decision back to the state it had.
	SpaceDeleting: {SpaceDeleted: progress, SpaceQueued: decision, SpaceActive: decision, SpaceSuspended: decision, SpaceFailed: decision},
	SpaceDeleted:  {},
}

// SpaceStates lists every state, in the order of a space's life.
var SpaceStates = []SpaceState{SpaceQueued, SpaceProvisioning, SpaceActive, SpaceSuspended, SpaceDeleting, SpaceDeleted, SpaceFailed}

// CanBecome tells whether a space in state s may move to state to.
func (s SpaceState) CanBecome(to SpaceState) bool {
	_, ok := spaceTransitions[s][to]
	return ok
}

// Valid tells whether s is one of the states.
func (s SpaceState) Valid() bool {
	_, ok := spaceTransitions[s]
	return ok
}

// ErrInvalidTransition is returned when a space is asked to move where its state machine does not go.
var ErrInvalidTransition = errors.New("invalid state transition")

// Condition is one observed fact about a space, as the reconciler last saw it.
type Condition struct {
	Type    string    `json:"type"`   // e.g. JobRegistered, Healthy, Bootstrapped, StorageWithinLimit
	Status  string    `json:"status"` // True, False or Unknown
	Reason  string    `json:"reason"` // a CamelCase word for machines
	Message string    `json:"message"`
	Since   time.Time `json:"since"` // when Status last changed
}

// Space is one association's cloud space: what was decided (state, limits, generation) and what
// the reconciler last observed (observed generation, conditions).
type Space struct {
	ID                 int64        `json:"id"`
	Slug               string       `json:"slug"`
	AssociationName    string       `json:"association_name"`
	ContactEmail       string       `json:"contact_email"`
	Locale             string       `json:"locale"`
	State              SpaceState   `json:"state"`
	FailureReason      string       `json:"failure_reason,omitempty"`
	Limits             quota.Limits `json:"limits"`
	Generation         int64        `json:"generation"`
	ObservedGeneration int64        `json:"observed_generation"`
	Conditions         []Condition  `json:"conditions"`
	CreatedAt          time.Time    `json:"created_at"`
	UpdatedAt          time.Time    `json:"updated_at"`
	StateChangedAt     time.Time    `json:"state_changed_at"`
	// SuspendReason is why an operator suspended the space (kept while it is deleting).
	SuspendReason string `json:"suspend_reason,omitempty"`
	// DeleteReason, DeleteAfter and RestoreState describe a deleting space: why, when it will be
	// purged, and the state a restore brings it back to.
	DeleteReason string     `json:"delete_reason,omitempty"`
	DeleteAfter  *time.Time `json:"delete_after,omitempty"`
	RestoreState SpaceState `json:"restore_state,omitempty"`
	// PurgedAt is when a deleted space's data and personal data were removed.
	PurgedAt *time.Time `json:"purged_at,omitempty"`
}

// NewSpace is what approving an application decides about its space.
type NewSpace struct {
	Slug            string
	AssociationName string
	ContactEmail    string
	Locale          string
	Limits          quota.Limits
}

const spaceColumns = `id, slug, association_name, contact_email, locale, state, coalesce(failure_reason, ''),
	storage_limit_bytes, account_limit, generation, observed_generation, conditions, created_at, updated_at, state_changed_at,
	coalesce(suspend_reason, ''), coalesce(delete_reason, ''), delete_after, coalesce(restore_state, ''), purged_at`

func scanSpace(row pgx.Row) (Space, error) {
	var s Space
	err := row.Scan(&s.ID, &s.Slug, &s.AssociationName, &s.ContactEmail, &s.Locale, &s.State, &s.FailureReason,
		&s.Limits.StorageBytes, &s.Limits.Accounts, &s.Generation, &s.ObservedGeneration, &s.Conditions,
		&s.CreatedAt, &s.UpdatedAt, &s.StateChangedAt,
		&s.SuspendReason, &s.DeleteReason, &s.DeleteAfter, &s.RestoreState, &s.PurgedAt)
	if s.Conditions == nil {
		s.Conditions = []Condition{}
	}
	return s, err
}

// ErrSlugTaken is returned when a space with that slug exists already.
var ErrSlugTaken = errors.New("slug taken")

// CreateSpace records a new queued space and its audit entry.
func CreateSpace(ctx context.Context, db DB, n NewSpace, actor Actor) (Space, error) {
	if err := n.Limits.Validate(); err != nil {
		return Space{}, fmt.Errorf("create space %s: %w", n.Slug, err)
	}
	if n.Locale == "" {
		n.Locale = "fr"
	}
	var out Space
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		s, err := scanSpace(tx.QueryRow(ctx, `
			INSERT INTO spaces (slug, association_name, contact_email, locale, storage_limit_bytes, account_limit)
			VALUES ($1, $2, $3, $4, $5, $6) RETURNING `+spaceColumns,
			n.Slug, n.AssociationName, n.ContactEmail, n.Locale, n.Limits.StorageBytes, n.Limits.Accounts))
		if isUniqueViolation(err, "spaces_slug_key") {
			return ErrSlugTaken
		}
		if err != nil {
			return err
		}
		out = s
		return RecordAudit(ctx, tx, AuditEntry{Actor: actor, Action: "space.create", SubjectType: "space", SubjectID: s.ID,
			ToState: string(SpaceQueued), Detail: map[string]any{"slug": s.Slug, "limits": s.Limits}})
	})
	if err != nil {
		return Space{}, fmt.Errorf("create space %s: %w", n.Slug, err)
	}
	return out, nil
}

// GetSpace reads one space by id.
func GetSpace(ctx context.Context, db DB, id int64) (Space, error) {
	s, err := scanSpace(db.QueryRow(ctx, `SELECT `+spaceColumns+` FROM spaces WHERE id = $1`, id))
	if err != nil {
		return Space{}, fmt.Errorf("get space %d: %w", id, notFound(err))
	}
	return s, nil
}

// GetSpaceBySlug reads one space by its slug.
func GetSpaceBySlug(ctx context.Context, db DB, slug string) (Space, error) {
	s, err := scanSpace(db.QueryRow(ctx, `SELECT `+spaceColumns+` FROM spaces WHERE slug = $1`, slug))
	if err != nil {
		return Space{}, fmt.Errorf("get space %s: %w", slug, notFound(err))
	}
	return s, nil
}

// SpaceFilter selects spaces for ListSpaces. Zero values select everything.
type SpaceFilter struct {
	States  []SpaceState
	AfterID int64 // keyset pagination: spaces with a larger id
	Limit   int   // at most this many (default 100, at most 1000)
	// QuotaLevels keeps the spaces at any of these levels (space_filter.go).
	QuotaLevels []QuotaLevel
	// Search keeps the spaces whose association's name holds it (any case), or whose slug holds
	// it written as a slug (so "théâtre" finds theatre-en-herbe).
	Search string
}

// ListSpaces lists spaces by ascending id.
func ListSpaces(ctx context.Context, db DB, f SpaceFilter) ([]Space, error) {
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 100
	}
	states := make([]string, len(f.States))
	for i, s := range f.States {
		states[i] = string(s)
	}
	search := strings.TrimSpace(f.Search)
	rows, err := db.Query(ctx, `SELECT `+spaceColumns+` FROM spaces
		WHERE id > $1 AND (cardinality($2::text[]) = 0 OR state = ANY($2)) AND `+quotaLevelCondition+`
			AND ($5 = '' OR association_name ILIKE '%' || $5 || '%' OR $6 <> '' AND slug LIKE '%' || $6 || '%')
		ORDER BY id LIMIT $3`, f.AfterID, states, f.Limit, quotaLevelNames(f.QuotaLevels), escapeLike(search), escapeLike(searchSlug(search)))
	if err != nil {
		return nil, fmt.Errorf("list spaces: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Space, error) { return scanSpace(r) })
	if err != nil {
		return nil, fmt.Errorf("list spaces: %w", err)
	}
	return out, nil
}

// Transition asks for a space to move to another state.
type Transition struct {
	To     SpaceState
	Actor  Actor
	Action string // audit action, e.g. space.suspend; defaults to space.<to>
	Reason string // why; kept as the failure reason when To is failed
	// From, when set, makes the move conditional: it happens only from one of these states.
	From []SpaceState
	// DeleteAfter is when a space moving to deleting is purged (required for that move).
	DeleteAfter time.Time
}

// TransitionSpace moves a space along its state machine, bumping its generation for decisions,
// and records the move in the audit log, all in one transaction with the row locked.
func TransitionSpace(ctx context.Context, db DB, id int64, t Transition) (Space, error) {
	var out Space
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		cur, err := scanSpace(tx.QueryRow(ctx, `SELECT `+spaceColumns+` FROM spaces WHERE id = $1 FOR UPDATE`, id))
		if err != nil {
			return notFound(err)
		}
		if len(t.From) > 0 && !containsState(t.From, cur.State) {
			return fmt.Errorf("%w: space is %s, not %v", ErrInvalidTransition, cur.State, t.From)
		}
		kind, ok := spaceTransitions[cur.State][t.To]
		if !ok {
			return fmt.Errorf("%w: %s → %s", ErrInvalidTransition, cur.State, t.To)
		}
		if cur.State == SpaceDeleting && t.To != SpaceDeleted && t.To != cur.RestoreState {
			return fmt.Errorf("%w: a deleting space is restored to the state it had (%s), not %s", ErrInvalidTransition, cur.RestoreState, t.To)
		}
		if t.To == SpaceDeleting && t.DeleteAfter.IsZero() {
			return fmt.Errorf("%w: a deletion needs the end of its grace period", ErrInvalidTransition)
		}
		bump := int64(0)
		if kind == decision {
			bump = 1
		}
		reason := ""
		if t.To == SpaceFailed {
			reason = t.Reason
		}
		var deleteAfter *time.Time
		restore := ""
		if t.To == SpaceDeleting {
			deleteAfter, restore = &t.DeleteAfter, string(restoreStateOf(cur.State))
		}
		// The columns that describe a state go with it: a suspension's reason stays while the
		// space is suspended or deleting; a deletion's while it is deleting.
		out, err = scanSpace(tx.QueryRow(ctx, `
			UPDATE spaces SET state = $2, generation = generation + $4,
				updated_at = now(), state_changed_at = now(),
				failure_reason = CASE WHEN $2 = 'deleting' OR state = 'deleting' AND $2 = 'failed' THEN failure_reason
					ELSE NULLIF($3, '') END,
				suspend_reason = CASE WHEN $2 = 'suspended' AND state = 'deleting' THEN suspend_reason
					WHEN $2 = 'suspended' THEN NULLIF($5, '')
					WHEN $2 IN ('deleting', 'deleted') THEN suspend_reason END,
				delete_reason = CASE WHEN $2 = 'deleting' THEN NULLIF($5, '') WHEN $2 = 'deleted' THEN delete_reason END,
				delete_after = $6, restore_state = NULLIF($7, ''),
				purged_at = CASE WHEN $2 = 'deleted' THEN now() END
			WHERE id = $1 RETURNING `+spaceColumns, id, t.To, reason, bump, t.Reason, deleteAfter, restore))
		if err != nil {
			return err
		}
		action := t.Action
		if action == "" {
			action = "space." + string(t.To)
		}
		detail := map[string]any{}
		if t.Reason != "" {
			detail["reason"] = t.Reason
		}
		return RecordAudit(ctx, tx, AuditEntry{Actor: t.Actor, Action: action, SubjectType: "space", SubjectID: id,
			FromState: string(cur.State), ToState: string(t.To), Detail: detail})
	})
	if err != nil {
		return Space{}, fmt.Errorf("move space %d to %s: %w", id, t.To, err)
	}
	return out, nil
}

// RecordObservation stores what the reconciler saw of a space at a generation: its conditions and
// the generation they answer. A condition keeps its Since while its Status does not change.
// Observations are not decisions, so they are not audited.
func RecordObservation(ctx context.Context, db DB, id, generation int64, conds []Condition, now time.Time) error {
	return pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		cur, err := scanSpace(tx.QueryRow(ctx, `SELECT `+spaceColumns+` FROM spaces WHERE id = $1 FOR UPDATE`, id))
		if err != nil {
			return fmt.Errorf("record observation of space %d: %w", id, notFound(err))
		}
		merged := MergeConditions(cur.Conditions, conds, now)
		_, err = tx.Exec(ctx, `UPDATE spaces SET conditions = $2, observed_generation = GREATEST(observed_generation, $3)
			WHERE id = $1`, id, merged, generation)
		if err != nil {
			return fmt.Errorf("record observation of space %d: %w", id, err)
		}
		return nil
	})
}

// MergeConditions sets each of updates into current by type, keeping Since for unchanged statuses.
func MergeConditions(current, updates []Condition, now time.Time) []Condition {
	out := append([]Condition(nil), current...)
	for _, u := range updates {
		found := false
		for i := range out {
			if out[i].Type != u.Type {
				continue
			}
			found = true
			if out[i].Status != u.Status {
				u.Since = now
			} else {
				u.Since = out[i].Since
			}
			out[i] = u
		}
		if !found {
			u.Since = now
			out = append(out, u)
		}
	}
	return out
}

// restoreStateOf is the state a space deleted while in state s comes back to: a space deleted
// while its provisioning ran starts again from the queue.
func restoreStateOf(s SpaceState) SpaceState {
	if s == SpaceProvisioning {
		return SpaceQueued
	}
	return s
}

func containsState(list []SpaceState, s SpaceState) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// searchSlug is a search written as a slug ("Théâtre en" → "theatre-en"), or "" when it cannot be one.
func searchSlug(search string) string {
	slug, _, _ := NormalizeSlug(search, "")
	return slug
}
