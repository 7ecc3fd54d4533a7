package standin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5/pgxpool"
)

// MultiTenantConfig configures a MultiTenant handler.
type MultiTenantConfig struct {
	// Pool is the one database every tenant lives in; each tenant gets its own schema.
	Pool *pgxpool.Pool
	// Root holds one directory per tenant: <Root>/<host>/data and <Root>/<host>/config.
	Root string
	// AdminUser and AdminPassword install every new tenant.
	AdminUser, AdminPassword string
	// Configure, when set, runs on a tenant right after its install (to set a user limit, a
	// serverinfo token, ...).
	Configure func(ctx context.Context, host string, s *Server) error
	Logger    *slog.Logger
	// BcryptCost for new password hashes; default bcrypt.DefaultCost.
	BcryptCost int
}

// MultiTenant serves many stand-in instances from one process, chosen by the request's Host
// (without port): the first request for a host creates and installs its instance, with its own
// schema, data directory and config directory, and its host as trusted domain.
type MultiTenant struct {
	cfg MultiTenantConfig

	mu      sync.Mutex
	tenants map[string]*tenantSlot
}

type tenantSlot struct {
	ready chan struct{}
	srv   *Server
	err   error
}

// NewMultiTenant returns a handler; tenants are created on demand.
func NewMultiTenant(cfg MultiTenantConfig) (*MultiTenant, error) {
	if cfg.Pool == nil || cfg.Root == "" || cfg.AdminUser == "" || cfg.AdminPassword == "" {
		return nil, errors.New("standin: multi-tenant: pool, root, admin user and password are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &MultiTenant{cfg: cfg, tenants: map[string]*tenantSlot{}}, nil
}

var hostName = regexp.MustCompile(`^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$`)

// tenantHost normalises a Host header: lower case, no port.
func tenantHost(host string) (string, error) {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if !hostName.MatchString(host) || strings.Contains(host, "..") {
		return "", fmt.Errorf("invalid host %q", host)
	}
	return host, nil
}

// SchemaFor is the Postgres schema of a tenant: readable, unique, at most 63 bytes.
func SchemaFor(host string) string {
	sum := sha256.Sum256([]byte(host))
	clean := regexp.MustCompile(`[^a-z0-9]+`).ReplaceAllString(host, "_")
	if len(clean) > 40 {
		clean = clean[:40]
	}
	return "nc_" + clean + "_" + hex.EncodeToString(sum[:])[:8]
}

// Tenant returns the instance for host, creating and installing it on first use.
func (m *MultiTenant) Tenant(ctx context.Context, host string) (*Server, error) {
	h, err := tenantHost(host)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	slot, ok := m.tenants[h]
	if !ok {
		slot = &tenantSlot{ready: make(chan struct{})}
		m.tenants[h] = slot
	}
	m.mu.Unlock()
	if !ok {
		// Created outside the request's context: a cancelled first request must not break the tenant.
		slot.srv, slot.err = m.create(context.WithoutCancel(ctx), h)
		if slot.err != nil {
			m.mu.Lock()
			delete(m.tenants, h) // let a later request try again
			m.mu.Unlock()
		}
		close(slot.ready)
	}
	select {
	case <-slot.ready:
		return slot.srv, slot.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (m *MultiTenant) create(ctx context.Context, host string) (*Server, error) {
	dir := filepath.Join(m.cfg.Root, host)
	srv, err := New(ctx, Config{
		Pool: m.cfg.Pool, Schema: SchemaFor(host),
		DataDir: filepath.Join(dir, "data"), ConfigDir: filepath.Join(dir, "config"),
		Logger: m.cfg.Logger.With("tenant", host), BcryptCost: m.cfg.BcryptCost,
	})
	if err != nil {
		return nil, fmt.Errorf("tenant %s: %w", host, err)
	}
	if !srv.Installed() {
		if err := srv.Install(ctx, m.cfg.AdminUser, m.cfg.AdminPassword, []string{host}); err != nil {
			return nil, fmt.Errorf("tenant %s: %w", host, err)
		}
		if m.cfg.Configure != nil {
			if err := m.cfg.Configure(ctx, host, srv); err != nil {
				return nil, fmt.Errorf("tenant %s: configure: %w", host, err)
			}
		}
	}
	return srv, nil
}

// ServeHTTP routes the request to its tenant.
func (m *MultiTenant) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	srv, err := m.Tenant(r.Context(), r.Host)
	if err != nil {
		m.cfg.Logger.ErrorContext(r.Context(), "tenant unavailable", "host", r.Host, "err", err)
		status := http.StatusServiceUnavailable
		if strings.HasPrefix(err.Error(), "invalid host") {
			status = http.StatusBadRequest
		}
		webPage(w, status, "Nextcloud", "This instance is not available.")
		return
	}
	srv.ServeHTTP(w, r)
}
