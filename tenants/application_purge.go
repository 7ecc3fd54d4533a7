package tenants

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// purgeBatch bounds one purge statement, so that a first purge of a large backlog does not hold
// locks on many rows at once.
const purgeBatch = 1000

// PurgeApplications deletes rejected and withdrawn applications that reached that state before
// olderThan, with their conversation. What is left is a count per month of submission and outcome
// (application_purge_counts); their audit entries keep who decided what and when, with their
// details emptied. It returns how many applications it deleted.
func PurgeApplications(ctx context.Context, db DB, olderThan time.Time) (int64, error) {
	var total int64
	for {
		var n int64
		err := db.QueryRow(ctx, `
			WITH gone AS (
				DELETE FROM applications WHERE id IN (
					SELECT id FROM applications
					WHERE state IN ('rejected', 'withdrawn') AND state_changed_at < $1
					ORDER BY state_changed_at LIMIT $2 FOR UPDATE SKIP LOCKED)
				RETURNING id, state, created_at),
			counted AS (
				INSERT INTO application_purge_counts (month, outcome, count)
				SELECT date_trunc('month', created_at)::date, state, count(*) FROM gone GROUP BY 1, 2
				ON CONFLICT (month, outcome) DO UPDATE SET count = application_purge_counts.count + EXCLUDED.count
				RETURNING 1),
			scrubbed AS (
				UPDATE audit_log SET detail = '{}'
				WHERE subject_type = 'application' AND subject_id IN (SELECT id FROM gone)
				RETURNING 1)
			SELECT (SELECT count(*) FROM gone) + 0 * (SELECT count(*) FROM counted) + 0 * (SELECT count(*) FROM scrubbed)`,
			olderThan, purgeBatch).Scan(&n)
		if err != nil {
			return total, fmt.Errorf("purge applications: %w", err)
		}
		total += n
		if n < purgeBatch {
			return total, nil
		}
	}
}

// expireBatch bounds one pass of ExpireStaleApplications; the rest wait for the next.
const expireBatch = 200

// ExpireStaleApplications closes the applications that have waited for the applicant's answer
// (needs_info) since before olderThan: each becomes withdrawn, with an audit entry by the system
// (application.withdraw, detail reason no_answer), and then is called in the same transaction (to
// mail the applicant). PurgeApplications then removes it after the retention. An applicant who
// answers at the same moment wins or loses cleanly: the row is locked and its state and date
// checked again. Pending applications are never closed: they wait for a moderator, and the
// dashboard counts those waiting too long (PendingOverdueAfter). At most expireBatch are closed
// per call, the oldest first. It returns how many it closed.
func ExpireStaleApplications(ctx context.Context, db DB, olderThan time.Time, then Then) (int, error) {
	rows, err := db.Query(ctx, `SELECT id FROM applications WHERE state = 'needs_info' AND state_changed_at < $1
		ORDER BY state_changed_at LIMIT $2`, olderThan, expireBatch)
	if err != nil {
		return 0, fmt.Errorf("find stale applications: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return 0, fmt.Errorf("find stale applications: %w", err)
	}
	closed := 0
	for _, id := range ids {
		// The move is a withdrawal by the service (the pages word it "the service withdrew its
		// application"); its detail says why.
		_, err := changeApplication(ctx, db, id, applicationChange{to: AppWithdrawn, actor: ActorSystem,
			action: "application.withdraw",
			check: func(cur Application) error {
				if cur.State != AppNeedsInfo || !cur.StateChangedAt.Before(olderThan) {
					return errAnsweredMeanwhile
				}
				return nil
			},
			detail: map[string]any{"reason": "no_answer"},
			then:   then})
		if errors.Is(err, errAnsweredMeanwhile) || errors.Is(err, ErrInvalidApplicationTransition) || errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return closed, err
		}
		closed++
	}
	return closed, nil
}

// errAnsweredMeanwhile stops the expiry of an application that moved since it was found.
var errAnsweredMeanwhile = errors.New("application moved meanwhile")

// PendingOverdueAfter is how long a pending application may wait for a moderator before the
// dashboard counts it as overdue. Pending applications are never closed automatically.
const PendingOverdueAfter = 30 * 24 * time.Hour

// PurgeCount is what remains of purged applications: how many, by month of submission and outcome.
type PurgeCount struct {
	Month   time.Time
	Outcome ApplicationState
	Count   int64
}

// PurgeCounts lists the anonymised counts left by purges, newest month first.
func PurgeCounts(ctx context.Context, db DB) ([]PurgeCount, error) {
	rows, err := db.Query(ctx, `SELECT month, outcome, count FROM application_purge_counts ORDER BY month DESC, outcome`)
	if err != nil {
		return nil, fmt.Errorf("read purge counts: %w", err)
	}
	defer rows.Close()
	var out []PurgeCount
	for rows.Next() {
		var c PurgeCount
		if err := rows.Scan(&c.Month, &c.Outcome, &c.Count); err != nil {
			return nil, fmt.Errorf("read purge counts: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// deleteApplicationsOf deletes the applications that led to space id, with their conversation,
// leaving their count (as approved, by month of submission) like PurgeApplications does.
func deleteApplicationsOf(ctx context.Context, tx DB, spaceID int64) error {
	_, err := tx.Exec(ctx, `
		WITH gone AS (DELETE FROM applications WHERE space_id = $1 RETURNING created_at)
		INSERT INTO application_purge_counts (month, outcome, count)
		SELECT date_trunc('month', created_at)::date, 'approved', count(*) FROM gone GROUP BY 1
		ON CONFLICT (month, outcome) DO UPDATE SET count = application_purge_counts.count + EXCLUDED.count`, spaceID)
	return err
}
