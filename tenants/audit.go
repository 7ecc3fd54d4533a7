package tenants

import (
	"context"
	"fmt"
	"time"
)

// Actor names who did something, as written in the audit log.
type Actor string

// Actors that are not a row of their own.
const (
	ActorApplicant  Actor = "applicant"
	ActorReconciler Actor = "system:reconciler"
	ActorSystem     Actor = "system"
)

// ModeratorActor is the actor for a moderator's decision.
func ModeratorActor(id int64) Actor { return Actor(fmt.Sprintf("moderator:%d", id)) }

// TokenActor is the actor for an operator acting through an API token.
func TokenActor(id int64) Actor { return Actor(fmt.Sprintf("token:%d", id)) }

// AuditEntry is one decision: who did what to which subject, from which state to which.
type AuditEntry struct {
	ID          int64
	At          time.Time
	Actor       Actor
	Action      string
	SubjectType string
	SubjectID   int64
	FromState   string
	ToState     string
	Detail      map[string]any
}

// RecordAudit appends e to the audit log. Call it in the same transaction as the change it records,
// so that no change exists without its entry.
func RecordAudit(ctx context.Context, db DB, e AuditEntry) error {
	if e.Detail == nil {
		e.Detail = map[string]any{}
	}
	_, err := db.Exec(ctx, `
		INSERT INTO audit_log (actor, action, subject_type, subject_id, from_state, to_state, detail)
		VALUES ($1, $2, $3, $4, NULLIF($5, ''), NULLIF($6, ''), $7)`,
		string(e.Actor), e.Action, e.SubjectType, e.SubjectID, e.FromState, e.ToState, e.Detail)
	if err != nil {
		return fmt.Errorf("record audit entry %s on %s %d: %w", e.Action, e.SubjectType, e.SubjectID, err)
	}
	return nil
}

// AuditTrail lists the entries about one subject, oldest first.
func AuditTrail(ctx context.Context, db DB, subjectType string, subjectID int64) ([]AuditEntry, error) {
	rows, err := db.Query(ctx, `
		SELECT id, at, actor, action, subject_type, subject_id, coalesce(from_state, ''), coalesce(to_state, ''), detail
		FROM audit_log WHERE subject_type = $1 AND subject_id = $2 ORDER BY id`, subjectType, subjectID)
	if err != nil {
		return nil, fmt.Errorf("read audit trail: %w", err)
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var e AuditEntry
		var actor string
		if err := rows.Scan(&e.ID, &e.At, &actor, &e.Action, &e.SubjectType, &e.SubjectID, &e.FromState, &e.ToState, &e.Detail); err != nil {
			return nil, fmt.Errorf("read audit trail: %w", err)
		}
		e.Actor = Actor(actor)
		out = append(out, e)
	}
	return out, rows.Err()
}
