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
	// Role is what the moderator may do besides reviewing applications.
	Role ModeratorRole `json:"role"`
}

// CanOperate tells whether the moderator may act on spaces (resize, suspend, resume, delete,
// restore), not only look at them.
func (m Moderator) CanOperate() bool { return m.Role == RoleOperator }

// ModeratorRole is what a moderator may do in the web UI.
type ModeratorRole string

// The roles of moderators.
const (
	// RoleModerator reviews applications and sees spaces, read-only.
	RoleModerator ModeratorRole = "moderator"
	// RoleOperator also resizes, suspends, resumes, deletes and restores spaces.
	RoleOperator ModeratorRole = "operator"
)

// ModeratorRoles lists the roles, the least powerful first.
var ModeratorRoles = []ModeratorRole{RoleModerator, RoleOperator}

// Valid tells whether r is one of the roles.
func (r ModeratorRole) Valid() bool { return r == RoleModerator || r == RoleOperator }

// Errors about moderator accounts.
var (
	ErrBadCredentials = errors.New("wrong email or password")
	ErrEmailTaken     = errors.New("a moderator with this email exists already")
	ErrWeakPassword   = errors.New("password must be at least 12 characters")
)

// MinPasswordLength is the shortest password a moderator may have.
const MinPasswordLength = 12

const moderatorColumns = `id, email, display_name, created_at, disabled_at, role`

func scanModerator(row pgx.Row) (Moderator, error) {
	var m Moderator
	err := row.Scan(&m.ID, &m.Email, &m.DisplayName, &m.CreatedAt, &m.DisabledAt, &m.Role)
	return m, err
}

// CreateModerator adds a moderator account (RoleModerator) with an argon2id hash of password.
func CreateModerator(ctx context.Context, db DB, email, displayName, password string, actor Actor) (Moderator, error) {
	return CreateModeratorWithRole(ctx, db, email, displayName, password, RoleModerator, actor)
}

// CreateModeratorWithRole adds a moderator account with role and an argon2id hash of password.
func CreateModeratorWithRole(ctx context.Context, db DB, email, displayName, password string, role ModeratorRole, actor Actor) (Moderator, error) {
	if !role.Valid() {
		return Moderator{}, fmt.Errorf("create moderator: %w", &RoleError{Role: string(role)})
	}
	if len([]rune(password)) < MinPasswordLength {
		return Moderator{}, ErrWeakPassword
	}
	hash, err := HashPassword(password)
	if err != nil {
		return Moderator{}, err
	}
	var out Moderator
	err = pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		m, err := scanModerator(tx.QueryRow(ctx, `INSERT INTO moderators (email, display_name, password_hash, role)
			VALUES ($1, $2, $3, $4) RETURNING `+moderatorColumns, strings.TrimSpace(email), displayName, hash, string(role)))
		if isUniqueViolation(err, "moderators_email_key") {
			return ErrEmailTaken
		}
		if err != nil {
			return err
		}
		out = m
		return RecordAudit(ctx, tx, AuditEntry{Actor: actor, Action: "moderator.create", SubjectType: "moderator", SubjectID: m.ID,
			Detail: map[string]any{"email": m.Email, "role": string(m.Role)}})
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
		WHERE lower(email) = lower($1)`, strings.TrimSpace(email)).Scan(&m.ID, &m.Email, &m.DisplayName, &m.CreatedAt, &m.DisabledAt, &m.Role, &hash)
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

// RoleError refuses a role that is not one of ModeratorRoles.
type RoleError struct{ Role string }

func (e *RoleError) Error() string {
	return fmt.Sprintf("%q is not a moderator role; use %s or %s", e.Role, RoleModerator, RoleOperator)
}

// SetModeratorRole gives the moderator with email the role, recording the change
// (moderator.role, from and to) in the audit log. It returns the moderator and the role they had;
// giving a moderator the role they have changes and records nothing.
func SetModeratorRole(ctx context.Context, db DB, email string, role ModeratorRole, actor Actor) (Moderator, ModeratorRole, error) {
	if !role.Valid() {
		return Moderator{}, "", fmt.Errorf("set moderator role: %w", &RoleError{Role: string(role)})
	}
	var out Moderator
	var before ModeratorRole
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		cur, err := scanModerator(tx.QueryRow(ctx, `SELECT `+moderatorColumns+` FROM moderators
			WHERE lower(email) = lower($1) FOR UPDATE`, strings.TrimSpace(email)))
		if err != nil {
			return notFound(err)
		}
		before, out = cur.Role, cur
		if cur.Role == role {
			return nil
		}
		if out, err = scanModerator(tx.QueryRow(ctx, `UPDATE moderators SET role = $2 WHERE id = $1 RETURNING `+moderatorColumns,
			cur.ID, string(role))); err != nil {
			return err
		}
		return RecordAudit(ctx, tx, AuditEntry{Actor: actor, Action: "moderator.role", SubjectType: "moderator", SubjectID: cur.ID,
			Detail: map[string]any{"from": string(cur.Role), "to": string(role)}})
	})
	if err != nil {
		return Moderator{}, "", fmt.Errorf("set role of moderator %s: %w", email, err)
	}
	return out, before, nil
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
