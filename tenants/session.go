package tenants

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Session lifetimes: a session ends SessionLifetime after login, or SessionIdle after its last use.
const (
	SessionLifetime = 12 * time.Hour
	SessionIdle     = 2 * time.Hour
)

// sessionPrefix marks session cookie values.
const sessionPrefix = "ses_"

// ErrNoSession is returned for a session that is unknown, expired, idle too long or whose
// moderator was disabled.
var ErrNoSession = errors.New("no such session")

// CreateSession logs a moderator in: it stores the hash of a new session secret and returns the
// secret, which only the moderator's cookie holds, and when it expires.
func CreateSession(ctx context.Context, db DB, moderatorID int64, userAgent string) (string, time.Time, error) {
	secret := NewSecret(sessionPrefix)
	if len(userAgent) > 300 {
		userAgent = userAgent[:300]
	}
	var expires time.Time
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM moderator_sessions WHERE moderator_id = $1 AND expires_at < now()`, moderatorID); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `INSERT INTO moderator_sessions (id_hash, moderator_id, expires_at, user_agent)
			VALUES ($1, $2, now() + $3::interval, $4) RETURNING expires_at`,
			HashSecret(secret), moderatorID, SessionLifetime.String(), userAgent).Scan(&expires); err != nil {
			return err
		}
		return RecordAudit(ctx, tx, AuditEntry{Actor: ModeratorActor(moderatorID), Action: "moderator.login",
			SubjectType: "moderator", SubjectID: moderatorID})
	})
	if err != nil {
		return "", time.Time{}, fmt.Errorf("create session: %w", err)
	}
	return secret, expires, nil
}

// SessionModerator returns the enabled moderator a live session belongs to, with their role as it
// is now (a change of role applies at the next request), and notes its use.
func SessionModerator(ctx context.Context, db DB, secret string) (Moderator, error) {
	if len(secret) < len(sessionPrefix) || secret[:len(sessionPrefix)] != sessionPrefix {
		return Moderator{}, ErrNoSession
	}
	m, err := scanModerator(db.QueryRow(ctx, `UPDATE moderator_sessions s SET last_seen_at = now()
		FROM moderators m
		WHERE s.id_hash = $1 AND m.id = s.moderator_id AND m.disabled_at IS NULL
			AND s.expires_at > now() AND s.last_seen_at > now() - $2::interval
		RETURNING m.id, m.email, m.display_name, m.created_at, m.disabled_at, m.role`, HashSecret(secret), SessionIdle.String()))
	if errors.Is(err, pgx.ErrNoRows) {
		return Moderator{}, ErrNoSession
	}
	if err != nil {
		return Moderator{}, fmt.Errorf("read session: %w", err)
	}
	return m, nil
}

// DeleteSession logs a session out; an unknown session is not an error.
func DeleteSession(ctx context.Context, db DB, secret string) error {
	if _, err := db.Exec(ctx, `DELETE FROM moderator_sessions WHERE id_hash = $1`, HashSecret(secret)); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// DeleteExpiredSessions removes sessions past their lifetime or idle limit.
func DeleteExpiredSessions(ctx context.Context, db DB) (int64, error) {
	tag, err := db.Exec(ctx, `DELETE FROM moderator_sessions WHERE expires_at < now() OR last_seen_at < now() - $1::interval`,
		SessionIdle.String())
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}
	return tag.RowsAffected(), nil
}
