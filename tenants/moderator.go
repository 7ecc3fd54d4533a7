package tenants

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/crypto/argon2"
)

// Moderator is a person who reviews applications in the web UI.
type Moderator struct {
	ID          int64      `json:"id"`
	Email       string     `json:"email"`
	DisplayName string     `json:"display_name"`
	CreatedAt   time.Time  `json:"created_at"`
	DisabledAt  *time.Time `json:"disabled_at,omitempty"`
}

// Errors about moderator accounts.
var (
	ErrBadCredentials = errors.New("wrong email or password")
	ErrEmailTaken     = errors.New("a moderator with this email exists already")
	ErrWeakPassword   = errors.New("password must be at least 12 characters")
)

// MinPasswordLength is the shortest password a moderator may have.
const MinPasswordLength = 12

const moderatorColumns = `id, email, display_name, created_at, disabled_at`

func scanModerator(row pgx.Row) (Moderator, error) {
	var m Moderator
	err := row.Scan(&m.ID, &m.Email, &m.DisplayName, &m.CreatedAt, &m.DisabledAt)
	return m, err
}

// CreateModerator adds a moderator account with an argon2id hash of password.
func CreateModerator(ctx context.Context, db DB, email, displayName, password string, actor Actor) (Moderator, error) {
	if len([]rune(password)) < MinPasswordLength {
		return Moderator{}, ErrWeakPassword
	}
	hash, err := HashPassword(password)
	if err != nil {
		return Moderator{}, err
	}
	var out Moderator
	err = pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		m, err := scanModerator(tx.QueryRow(ctx, `INSERT INTO moderators (email, display_name, password_hash)
			VALUES ($1, $2, $3) RETURNING `+moderatorColumns, strings.TrimSpace(email), displayName, hash))
		if isUniqueViolation(err, "moderators_email_key") {
			return ErrEmailTaken
		}
		if err != nil {
			return err
		}
		out = m
		return RecordAudit(ctx, tx, AuditEntry{Actor: actor, Action: "moderator.create", SubjectType: "moderator", SubjectID: m.ID,
			Detail: map[string]any{"email": m.Email}})
	})
	if err != nil {
		return Moderator{}, fmt.Errorf("create moderator: %w", err)
	}
	return out, nil
}

// dummyHash is verified against when the email is unknown, so that a wrong email costs as much
// time as a wrong password and does not reveal which accounts exist.
var dummyHash, _ = HashPassword("not a real password, only spends time")

// AuthenticateModerator checks an email and password and returns the enabled moderator they name.
func AuthenticateModerator(ctx context.Context, db DB, email, password string) (Moderator, error) {
	var m Moderator
	var hash string
	err := db.QueryRow(ctx, `SELECT `+moderatorColumns+`, password_hash FROM moderators
		WHERE lower(email) = lower($1)`, strings.TrimSpace(email)).Scan(&m.ID, &m.Email, &m.DisplayName, &m.CreatedAt, &m.DisabledAt, &hash)
	if errors.Is(err, pgx.ErrNoRows) {
		_ = VerifyPassword(dummyHash, password)
		return Moderator{}, ErrBadCredentials
	}
	if err != nil {
		return Moderator{}, fmt.Errorf("authenticate moderator: %w", err)
	}
	if !VerifyPassword(hash, password) || m.DisabledAt != nil {
		return Moderator{}, ErrBadCredentials
	}
	return m, nil
}

// GetModerator reads one moderator by id.
func GetModerator(ctx context.Context, db DB, id int64) (Moderator, error) {
	m, err := scanModerator(db.QueryRow(ctx, `SELECT `+moderatorColumns+` FROM moderators WHERE id = $1`, id))
	if err != nil {
		return Moderator{}, fmt.Errorf("get moderator %d: %w", id, notFound(err))
	}
	return m, nil
}

// ListModerators lists every moderator account by id.
func ListModerators(ctx context.Context, db DB) ([]Moderator, error) {
	rows, err := db.Query(ctx, `SELECT `+moderatorColumns+` FROM moderators ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list moderators: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Moderator, error) { return scanModerator(r) })
	if err != nil {
		return nil, fmt.Errorf("list moderators: %w", err)
	}
	return out, nil
}

// DisableModerator stops a moderator from logging in; their past decisions stay attributed to them.
func DisableModerator(ctx context.Context, db DB, email string, actor Actor) (Moderator, error) {
	var out Moderator
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		m, err := scanModerator(tx.QueryRow(ctx, `UPDATE moderators SET disabled_at = coalesce(disabled_at, now())
			WHERE lower(email) = lower($1) RETURNING `+moderatorColumns, strings.TrimSpace(email)))
		if err != nil {
			return notFound(err)
		}
		out = m
		return RecordAudit(ctx, tx, AuditEntry{Actor: actor, Action: "moderator.disable", SubjectType: "moderator", SubjectID: m.ID})
	})
	if err != nil {
		return Moderator{}, fmt.Errorf("disable moderator %s: %w", email, err)
	}
	return out, nil
}

// SetModeratorPassword replaces a moderator's password.
func SetModeratorPassword(ctx context.Context, db DB, id int64, password string, actor Actor) error {
	if len([]rune(password)) < MinPasswordLength {
		return ErrWeakPassword
	}
	hash, err := HashPassword(password)
	if err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE moderators SET password_hash = $2 WHERE id = $1`, id, hash)
		if err != nil {
			return fmt.Errorf("set moderator password: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("set moderator password: %w", ErrNotFound)
		}
		return RecordAudit(ctx, tx, AuditEntry{Actor: actor, Action: "moderator.password", SubjectType: "moderator", SubjectID: id})
	})
}

// argon2id parameters: OWASP's recommended minimum (19 MiB, 2 passes, 1 lane).
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32
)

// HashPassword hashes a password with argon2id into the PHC string format.
func HashPassword(password string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// VerifyPassword tells whether password matches a hash made by HashPassword.
func VerifyPassword(hash, password string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var mem uint32
	var t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &mem, &t, &p); err != nil {
		return false
	}
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(parts[4])
	key, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, t, mem, p, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1
}
