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
	// Scope is what the token may do: ScopeRead, ScopeOperator or ScopeForward.
	Scope TokenScope `json:"scope"`
	// ExpiresAt is when the token stops working; nil: never.
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// TokenScope is what an API token may do.
type TokenScope string

// The scopes of API tokens.
const (
	// ScopeRead may read spaces, applications, the dashboard and the audit log.
	ScopeRead TokenScope = "read"
	// ScopeOperator may also change them.
	ScopeOperator TokenScope = "operator"
	// ScopeForward may only send applications (POST /api/v1/applications): the token a partner
	// host running this software is given to forward its applicants here.
	ScopeForward TokenScope = "forward"
)

// Valid tells whether s is one of the scopes.
func (s TokenScope) Valid() bool { return s == ScopeRead || s == ScopeOperator || s == ScopeForward }

// CanOperate tells whether the token may change things.
func (t APIToken) CanOperate() bool { return t.Scope == ScopeOperator }

// The states of a token as State reports them.
const (
	TokenActive  = "active"
	TokenRevoked = "revoked"
	TokenExpired = "expired"
)

// State is TokenActive, TokenRevoked or TokenExpired at now; revoked wins over expired.
func (t APIToken) State(now time.Time) string {
	switch {
	case t.RevokedAt != nil:
		return TokenRevoked
	case t.ExpiresAt != nil && !t.ExpiresAt.After(now):
		return TokenExpired
	}
	return TokenActive
}

// ErrBadToken is returned for a token that is unknown, malformed or revoked.
var ErrBadToken = errors.New("invalid or revoked API token")

// ErrTokenExpired is returned for a live token past its expiry. The error returned is a
// *TokenExpiredError, which says when.
var ErrTokenExpired = errors.New("API token expired")

// TokenExpiredError is a token refused because it expired; errors.Is(err, ErrTokenExpired) holds.
type TokenExpiredError struct {
	ExpiredAt time.Time
}

func (e *TokenExpiredError) Error() string {
	return "the token expired on " + e.ExpiredAt.UTC().Format("2006-01-02 15:04 MST")
}

// Is makes a TokenExpiredError match ErrTokenExpired.
func (e *TokenExpiredError) Is(target error) bool { return target == ErrTokenExpired }

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

// NewAPIToken is what CreateAPIToken needs: a name people recognise in the audit log, a scope
// (none is assumed) and, optionally, when the token stops working.
type NewAPIToken struct {
	Name      string
	Scope     TokenScope
	ExpiresAt *time.Time // nil: never expires
}

// tokenColumns are the columns scanToken reads, in its order.
const tokenColumns = `id, name, scope, created_at, last_used_at, expires_at, revoked_at`

func scanToken(row pgx.Row) (APIToken, error) {
	var t APIToken
	var scope string
	err := row.Scan(&t.ID, &t.Name, &scope, &t.CreatedAt, &t.LastUsedAt, &t.ExpiresAt, &t.RevokedAt)
	t.Scope = TokenScope(scope)
	return t, err
}

// tokenAudit is the detail of a token's audit entries: its name, scope and expiry (null: never),
// so that the log says what the token could do without reading the table.
func tokenAudit(t APIToken) map[string]any {
	var expires any
	if t.ExpiresAt != nil {
		expires = t.ExpiresAt.UTC().Format(time.RFC3339)
	}
	return map[string]any{"name": t.Name, "scope": string(t.Scope), "expires_at": expires}
}

// CreateAPIToken makes a new token; the returned secret is shown once and never stored.
func CreateAPIToken(ctx context.Context, db DB, n NewAPIToken, actor Actor) (APIToken, string, error) {
	if strings.TrimSpace(n.Name) == "" {
		return APIToken{}, "", errors.New("create API token: the name is empty")
	}
	if !n.Scope.Valid() {
		return APIToken{}, "", fmt.Errorf("create API token: scope %q is not %s, %s or %s", n.Scope, ScopeRead, ScopeOperator, ScopeForward)
	}
	if n.ExpiresAt != nil && !n.ExpiresAt.After(time.Now()) {
		return APIToken{}, "", fmt.Errorf("create API token: expiry %s is not in the future", n.ExpiresAt.Format(time.RFC3339))
	}
	secret := NewSecret(tokenPrefix)
	var t APIToken
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		var err error
		t, err = scanToken(tx.QueryRow(ctx, `INSERT INTO api_tokens (name, token_hash, scope, expires_at) VALUES ($1, $2, $3, $4)
			RETURNING `+tokenColumns, n.Name, HashSecret(secret), string(n.Scope), n.ExpiresAt))
		if err != nil {
			return err
		}
		return RecordAudit(ctx, tx, AuditEntry{Actor: actor, Action: "token.create", SubjectType: "token", SubjectID: t.ID,
			Detail: tokenAudit(t)})
	})
	if err != nil {
		return APIToken{}, "", fmt.Errorf("create API token: %w", err)
	}
	return t, secret, nil
}

// AuthenticateAPIToken returns the live token matching secret and notes its use. A token that is
// unknown or revoked is ErrBadToken; one past its expiry a *TokenExpiredError.
func AuthenticateAPIToken(ctx context.Context, db DB, secret string) (APIToken, error) {
	if !strings.HasPrefix(secret, tokenPrefix) {
		return APIToken{}, ErrBadToken
	}
	hash := HashSecret(secret)
	t, err := scanToken(db.QueryRow(ctx, `UPDATE api_tokens SET last_used_at = now()
		WHERE token_hash = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())
		RETURNING `+tokenColumns, hash))
	if errors.Is(err, pgx.ErrNoRows) {
		var expired time.Time
		err := db.QueryRow(ctx, `SELECT expires_at FROM api_tokens
			WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at <= now()`, hash).Scan(&expired)
		if errors.Is(err, pgx.ErrNoRows) {
			return APIToken{}, ErrBadToken
		}
		if err != nil {
			return APIToken{}, fmt.Errorf("authenticate API token: %w", err)
		}
		return APIToken{}, &TokenExpiredError{ExpiredAt: expired}
	}
	if err != nil {
		return APIToken{}, fmt.Errorf("authenticate API token: %w", err)
	}
	return t, nil
}

// ListAPITokens lists every token, revoked and expired ones included, oldest first.
func ListAPITokens(ctx context.Context, db DB) ([]APIToken, error) {
	rows, err := db.Query(ctx, `SELECT `+tokenColumns+` FROM api_tokens ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list API tokens: %w", err)
	}
	defer rows.Close()
	var out []APIToken
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("list API tokens: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list API tokens: %w", err)
	}
	return out, nil
}

// RevokeAPIToken stops a token from working. Revoking a revoked token keeps its first revocation
// time and is recorded again.
func RevokeAPIToken(ctx context.Context, db DB, id int64, actor Actor) error {
	return pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		t, err := scanToken(tx.QueryRow(ctx, `UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1
			RETURNING `+tokenColumns, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("revoke API token %d: %w", id, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("revoke API token %d: %w", id, err)
		}
		return RecordAudit(ctx, tx, AuditEntry{Actor: actor, Action: "token.revoke", SubjectType: "token", SubjectID: id,
			Detail: tokenAudit(t)})
	})
}
