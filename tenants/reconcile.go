package tenants

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// SpacesToReconcile lists every space that is not deleted, by id: what the reconciler compares
// with what Nomad runs.
func SpacesToReconcile(ctx context.Context, db DB) ([]Space, error) {
	rows, err := db.Query(ctx, `SELECT `+spaceColumns+` FROM spaces WHERE state <> 'deleted' ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list spaces to reconcile: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Space, error) { return scanSpace(r) })
	if err != nil {
		return nil, fmt.Errorf("list spaces to reconcile: %w", err)
	}
	return out, nil
}

// Backoff is how a space's failing repairs are spaced out.
type Backoff struct {
	Failures  int
	RetryAt   time.Time
	LastError string
}

// RepairBackoffs reads the spaces whose last repair failed, by space id.
func RepairBackoffs(ctx context.Context, db DB) (map[int64]Backoff, error) {
	rows, err := db.Query(ctx, `SELECT space_id, failures, retry_at, last_error FROM reconcile_backoff`)
	if err != nil {
		return nil, fmt.Errorf("read repair backoffs: %w", err)
	}
	defer rows.Close()
	out := map[int64]Backoff{}
	for rows.Next() {
		var id int64
		var b Backoff
		if err := rows.Scan(&id, &b.Failures, &b.RetryAt, &b.LastError); err != nil {
			return nil, fmt.Errorf("read repair backoffs: %w", err)
		}
		out[id] = b
	}
	return out, rows.Err()
}

// RepairDelay is how long the reconciler waits before repairing a space again after failures
// failed repairs in a row: 10 s doubling, at most 10 minutes.
func RepairDelay(failures int) time.Duration {
	d := 10 * time.Second
	for i := 1; i < failures && d < 10*time.Minute; i++ {
		d *= 2
	}
	return min(d, 10*time.Minute)
}

// RecordRepairFailure counts a failed repair of a space and returns its backoff.
func RecordRepairFailure(ctx context.Context, db DB, spaceID int64, reason string, now time.Time) (Backoff, error) {
	var b Backoff
	err := db.QueryRow(ctx, `
		INSERT INTO reconcile_backoff (space_id, failures, retry_at, last_error) VALUES ($1, 1, $2, $3)
		ON CONFLICT (space_id) DO UPDATE SET failures = reconcile_backoff.failures + 1, last_error = $3
		RETURNING failures`, spaceID, now.Add(RepairDelay(1)), reason).Scan(&b.Failures)
	if err != nil {
		return b, fmt.Errorf("record repair failure of space %d: %w", spaceID, err)
	}
	b.RetryAt, b.LastError = now.Add(RepairDelay(b.Failures)), reason
	if _, err := db.Exec(ctx, `UPDATE reconcile_backoff SET retry_at = $2 WHERE space_id = $1`, spaceID, b.RetryAt); err != nil {
		return b, fmt.Errorf("record repair failure of space %d: %w", spaceID, err)
	}
	return b, nil
}

// ClearRepairFailures forgets a space's failed repairs once one succeeded.
func ClearRepairFailures(ctx context.Context, db DB, spaceID int64) error {
	if _, err := db.Exec(ctx, `DELETE FROM reconcile_backoff WHERE space_id = $1`, spaceID); err != nil {
		return fmt.Errorf("clear repair failures of space %d: %w", spaceID, err)
	}
	return nil
}

// OrphanJob is a Nomad job that carries a space's meta but belongs to no space (or to a deleted one).
type OrphanJob struct {
	JobID     string    `json:"job_id"`
	SpaceMeta string    `json:"space_meta"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
}

// SyncOrphanJobs records the orphan jobs seen in a pass, forgets those no longer seen, and returns
// the ones seen for the first time.
func SyncOrphanJobs(ctx context.Context, db DB, seen []OrphanJob, now time.Time) ([]OrphanJob, error) {
	ids := make([]string, len(seen))
	metas := make([]string, len(seen))
	for i, o := range seen {
		ids[i], metas[i] = o.JobID, o.SpaceMeta
	}
	var fresh []OrphanJob
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM orphan_jobs WHERE NOT (job_id = ANY($1))`, ids); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `
			INSERT INTO orphan_jobs (job_id, space_meta, first_seen, last_seen)
			SELECT id, meta, $3, $3 FROM unnest($1::text[], $2::text[]) AS o(id, meta)
			ON CONFLICT (job_id) DO UPDATE SET last_seen = $3, space_meta = excluded.space_meta
			RETURNING job_id, space_meta, first_seen, last_seen`, ids, metas, now)
		if err != nil {
			return err
		}
		all, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (OrphanJob, error) {
			var o OrphanJob
			return o, r.Scan(&o.JobID, &o.SpaceMeta, &o.FirstSeen, &o.LastSeen)
		})
		if err != nil {
			return err
		}
		for _, o := range all {
			if o.FirstSeen.Equal(o.LastSeen) {
				fresh = append(fresh, o)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("record orphan jobs: %w", err)
	}
	return fresh, nil
}

// OrphanJobs lists the orphan jobs the reconciler last reported, by job id.
func OrphanJobs(ctx context.Context, db DB) ([]OrphanJob, error) {
	rows, err := db.Query(ctx, `SELECT job_id, space_meta, first_seen, last_seen FROM orphan_jobs ORDER BY job_id`)
	if err != nil {
		return nil, fmt.Errorf("list orphan jobs: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (OrphanJob, error) {
		var o OrphanJob
		return o, r.Scan(&o.JobID, &o.SpaceMeta, &o.FirstSeen, &o.LastSeen)
	})
	if err != nil {
		return nil, fmt.Errorf("list orphan jobs: %w", err)
	}
	return out, nil
}

// RecordObservations stores the conditions of many spaces in one statement; each element's
// conditions are merged as RecordObservation does. Spaces whose conditions are unchanged are
// not written.
func RecordObservations(ctx context.Context, db DB, obs map[int64]Observation, now time.Time) error {
	if len(obs) == 0 {
		return nil
	}
	return pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		ids := make([]int64, 0, len(obs))
		for id := range obs {
			ids = append(ids, id)
		}
		rows, err := tx.Query(ctx, `SELECT id, conditions, observed_generation FROM spaces WHERE id = ANY($1) ORDER BY id FOR UPDATE`, ids)
		if err != nil {
			return err
		}
		type cur struct {
			id    int64
			conds []Condition
			gen   int64
		}
		current, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (cur, error) {
			var c cur
			return c, r.Scan(&c.id, &c.conds, &c.gen)
		})
		if err != nil {
			return err
		}
		batch := &pgx.Batch{}
		for _, c := range current {
			o := obs[c.id]
			if !o.Changes(Space{Conditions: c.conds, ObservedGeneration: c.gen}, now) {
				continue
			}
			batch.Queue(`UPDATE spaces SET conditions = $2, observed_generation = $3 WHERE id = $1`,
				c.id, MergeConditions(c.conds, o.Conditions, now), max(c.gen, o.Generation))
		}
		if batch.Len() == 0 {
			return nil
		}
		return tx.SendBatch(ctx, batch).Close()
	})
}

// Observation is what the reconciler saw of one space: conditions, and the generation they
// answer (0 when it did not see the space's latest decision applied).
type Observation struct {
	Generation int64
	Conditions []Condition
}

// Changes tells whether recording o would change space s as it was read: its conditions (merged
// as RecordObservation merges them) or its observed generation. Callers that read the space
// already ask it first, so that a steady space costs no locking write.
func (o Observation) Changes(s Space, now time.Time) bool {
	return o.Generation > s.ObservedGeneration || !SameConditions(MergeConditions(s.Conditions, o.Conditions, now), s.Conditions)
}

// SameConditions tells whether two lists hold the same conditions (Since included), in order.
func SameConditions(a, b []Condition) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Type != b[i].Type || a[i].Status != b[i].Status || a[i].Reason != b[i].Reason ||
			a[i].Message != b[i].Message || !a[i].Since.Equal(b[i].Since) {
			return false
		}
	}
	return true
}
