package tenants

import (
	"context"
	"fmt"
	"regexp"
	"time"
)

// AuditItem is an audit entry as ListAudit gives it: the entry, and the names people know its
// actor and subject by.
type AuditItem struct {
	AuditEntry
	// ActorName is the API token's name for token:ID, the moderator's display name for
	// moderator:ID; empty for an actor that is no row (applicant, system:…, cli:…) or one that
	// is gone.
	ActorName string
	// SubjectName is the slug of a space or application, the name of a token, the email of a
	// moderator; empty when the subject has none or is gone (a purged application).
	SubjectName string
}

// The number of entries ListAudit gives by default and at most.
const (
	DefaultAuditLimit = 50
	MaxAuditLimit     = 1000
)

// AuditFilter selects the entries ListAudit gives; its zero value selects them all.
type AuditFilter struct {
	// SpaceID keeps the entries about this space and about the application it came from.
	SpaceID int64
	// Actors keeps the entries by any of these actors (see ResolveActor).
	Actors []Actor
	// Since keeps the entries recorded at or after it.
	Since time.Time
	// AfterID continues a listing after the entry with this id (the last one of the previous
	// page): only older entries, whose ids are smaller.
	AfterID int64
	// Limit is how many entries at most, from 1 to MaxAuditLimit; 0 means DefaultAuditLimit.
	Limit int
}

// ListAudit lists audit entries newest first, with the names of their actors and subjects.
func ListAudit(ctx context.Context, db DB, f AuditFilter) ([]AuditItem, error) {
	if f.Limit == 0 {
		f.Limit = DefaultAuditLimit
	}
	if f.Limit < 1 || f.Limit > MaxAuditLimit {
		return nil, fmt.Errorf("list audit entries: limit %d is not from 1 to %d", f.Limit, MaxAuditLimit)
	}
	actors := make([]string, len(f.Actors))
	for i, a := range f.Actors {
		actors[i] = string(a)
	}
	// Actors are text (token:3); the CASE casts only what is known to be an id, so that the
	// joins use the primary keys.
	rows, err := db.Query(ctx, `
		SELECT a.id, a.at, a.actor, a.action, a.subject_type, coalesce(a.subject_id, 0),
		       coalesce(a.from_state, ''), coalesce(a.to_state, ''), a.detail,
		       coalesce(t.name, m.display_name, ''),
		       coalesce(s.slug, ap.slug, st.name, sm.email, '')
		FROM audit_log a
		LEFT JOIN api_tokens t ON t.id = CASE WHEN a.actor ~ '^token:[0-9]{1,18}$' THEN substr(a.actor, 7)::bigint END
		LEFT JOIN moderators m ON m.id = CASE WHEN a.actor ~ '^moderator:[0-9]{1,18}$' THEN substr(a.actor, 11)::bigint END
		LEFT JOIN spaces s ON a.subject_type = 'space' AND s.id = a.subject_id
		LEFT JOIN applications ap ON a.subject_type = 'application' AND ap.id = a.subject_id
		LEFT JOIN api_tokens st ON a.subject_type = 'token' AND st.id = a.subject_id
		LEFT JOIN moderators sm ON a.subject_type = 'moderator' AND sm.id = a.subject_id
		WHERE ($1::bigint = 0
		       OR (a.subject_type = 'space' AND a.subject_id = $1)
		       OR (a.subject_type = 'application' AND a.subject_id IN (SELECT id FROM applications WHERE space_id = $1)))
		  AND (cardinality($2::text[]) = 0 OR a.actor = ANY ($2))
		  AND a.at >= $3
		  AND ($4::bigint = 0 OR a.id < $4)
		ORDER BY a.id DESC
		LIMIT $5`, f.SpaceID, actors, f.Since, f.AfterID, f.Limit)
	if err != nil {
		return nil, fmt.Errorf("list audit entries: %w", err)
	}
	defer rows.Close()
	out := []AuditItem{}
	for rows.Next() {
		var it AuditItem
		var actor string
		if err := rows.Scan(&it.ID, &it.At, &actor, &it.Action, &it.SubjectType, &it.SubjectID, &it.FromState, &it.ToState,
			&it.Detail, &it.ActorName, &it.SubjectName); err != nil {
			return nil, fmt.Errorf("list audit entries: %w", err)
		}
		it.Actor = Actor(actor)
		out = append(out, it)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list audit entries: %w", err)
	}
	return out, nil
}

// rawActor matches an actor as the audit log writes it.
var rawActor = regexp.MustCompile(`^(?:(?:token|moderator):[0-9]+|applicant|system|system:.+|cli:.+)$`)

// ResolveActor gives the actors name stands for: an actor as the log writes it (token:3,
// moderator:5, applicant, system:reconciler, cli:camille) stands for itself; otherwise every API
// token of that name and the moderator with that email (any case). ErrNotFound when it is
// neither.
func ResolveActor(ctx context.Context, db DB, name string) ([]Actor, error) {
	if rawActor.MatchString(name) {
		return []Actor{Actor(name)}, nil
	}
	rows, err := db.Query(ctx, `
		SELECT 'token:' || id FROM api_tokens WHERE name = $1
		UNION ALL
		SELECT 'moderator:' || id FROM moderators WHERE lower(email) = lower($1)`, name)
	if err != nil {
		return nil, fmt.Errorf("resolve actor %q: %w", name, err)
	}
	defer rows.Close()
	var out []Actor
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			return nil, fmt.Errorf("resolve actor %q: %w", name, err)
		}
		out = append(out, Actor(a))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("resolve actor %q: %w", name, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("resolve actor %q: %w", name, ErrNotFound)
	}
	return out, nil
}
