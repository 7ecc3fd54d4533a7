package tenants

import (
	"context"
	"fmt"
	"time"
)

// RecordMailDrop counts one mail given up (its last attempt failed, or it could not be composed),
// by day and template, with no recipient: operators see the count, the log has the details.
func RecordMailDrop(ctx context.Context, db DB, template string, at time.Time) error {
	_, err := db.Exec(ctx, `INSERT INTO mail_drops (day, template, count) VALUES (($1::timestamptz AT TIME ZONE 'UTC')::date, $2, 1)
		ON CONFLICT (day, template) DO UPDATE SET count = mail_drops.count + 1`, at.UTC(), template)
	if err != nil {
		return fmt.Errorf("count dropped mail %s: %w", template, err)
	}
	return nil
}

// MailDropsSince counts the mails given up since the day of since, per template.
func MailDropsSince(ctx context.Context, db DB, since time.Time) (map[string]int64, error) {
	rows, err := db.Query(ctx, `SELECT template, sum(count)::bigint FROM mail_drops WHERE day >= ($1::timestamptz AT TIME ZONE 'UTC')::date
		GROUP BY template`, since.UTC())
	if err != nil {
		return nil, fmt.Errorf("read dropped mail counts: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var t string
		var n int64
		if err := rows.Scan(&t, &n); err != nil {
			return nil, fmt.Errorf("read dropped mail counts: %w", err)
		}
		out[t] = n
	}
	return out, rows.Err()
}
