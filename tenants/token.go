package tenants

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// APIToken is an operator's credential for the JSON API. Only its hash is stored.
type APIToken struct {
	ID         int64      `json:"id"`
	Name       string     `json:"name"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
	// Scope is what the token may do: ScopeRead or ScopeOperator.
	Scope TokenScope `json:"scope"`
}

// TokenScope is what an API token may do.
type TokenScope string

// The scopes of API tokens.
const (
	// ScopeRead may read spaces, applications, the dashboard and the audit log.
	ScopeRead TokenScope = "read"
	// ScopeOperator may also change them.
	ScopeOperator TokenScope = "operator"
)

// CanOperate tells whether the token may change things.
func (t APIToken) CanOperate() bool { return t.Scope == ScopeOperator }

// ErrBadToken is returned for a token that is unknown, malformed or revoked.
var ErrBadToken = errors.New("invalid or revoked API token")

// tokenPrefix marks our tokens so that secret scanners and people recognise them.
const tokenPrefix = "spt_"

// NewSecret returns a random token of 256 bits with the given prefix, in lowercase base32.
func NewSecret(prefix string) string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err))
	}
	return prefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

// HashSecret is how tokens and other bearer secrets are kept: SHA-256. They carry 256 random bits,
// so a fast hash is enough (unlike passwords).
func HashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// CreateAPIToken makes a new operator token; the returned secret is shown once and never stored.
func CreateAPIToken(ctx context.Context, db DB, name string, actor Actor) (APIToken, string, error) {
	secret := NewSecret(tokenPrefix)
	var t APIToken
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO api_tokens (name, token_hash) VALUES ($1, $2) RETURNING id, name, created_at`,
			name, HashSecret(secret)).Scan(&t.ID, &t.Name, &t.CreatedAt)
		if err != nil {
			return err
		}
		return RecordAudit(ctx, tx, AuditEntry{Actor: actor, Action: "token.create", SubjectType: "token", SubjectID: t.ID,
			Detail: map[string]any{"name": name}})
	})
	if err != nil {
		return APIToken{}, "", fmt.Errorf("create API token: %w", err)
	}
	return t, secret, nil
}

// AuthenticateAPIToken returns the live token matching secret and notes its use.
func AuthenticateAPIToken(ctx context.Context, db DB, secret string) (APIToken, error) {
	if !strings.HasPrefix(secret, tokenPrefix) {
		return APIToken{}, ErrBadToken
	}
	var t APIToken
	err := db.QueryRow(ctx, `UPDATE api_tokens SET last_used_at = now()
		WHERE token_hash = $1 AND revoked_at IS NULL RETURNING id, name, created_at, last_used_at`,
		HashSecret(secret)).Scan(&t.ID, &t.Name, &t.CreatedAt, &t.LastUsedAt)
	t.Scope = ScopeOperator
	if errors.Is(err, pgx.ErrNoRows) {
		return APIToken{}, ErrBadToken
	}
	if err != nil {
		return APIToken{}, fmt.Errorf("authenticate API token: %w", err)
	}
	return t, nil
}

// RevokeAPIToken stops a token from working.
func RevokeAPIToken(ctx context.Context, db DB, id int64, actor Actor) error {
	return pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1`, id)
		if err != nil {
			return fmt.Errorf("revoke API token %d: %w", id, err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("revoke API token %d: %w", id, ErrNotFound)
		}
		return RecordAudit(ctx, tx, AuditEntry{Actor: actor, Action: "token.revoke", SubjectType: "token", SubjectID: id})
	})
}
