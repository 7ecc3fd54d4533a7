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

// Tenants is one process serving many stand-in instances, each picked by the request's Host
// header, as the router in front of many Nextclouds does: a benchmark of a thousand spaces needs
// a thousand Nextclouds, not a thousand processes. An unknown host gets Nextcloud's own answer to
// an untrusted domain (400). It is safe for concurrent use.
type Tenants struct {
	mu     sync.RWMutex
	byHost map[string]*Server
}

// NewTenants returns an empty set of instances.
func NewTenants() *Tenants { return &Tenants{byHost: map[string]*Server{}} }

// hostName is a Host header without its port, lower-cased.
func hostName(hostPort string) string {
	if h, _, err := net.SplitHostPort(hostPort); err == nil {
		hostPort = h
	}
	return strings.ToLower(strings.Trim(hostPort, "[]"))
}

// Add serves s for host (a name; any port matches it), replacing what served it before.
func (t *Tenants) Add(host string, s *Server) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.byHost[hostName(host)] = s
}

// Server returns the instance serving host, or nil.
func (t *Tenants) Server(host string) *Server {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.byHost[hostName(host)]
}

// Len is the number of instances.
func (t *Tenants) Len() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.byHost)
}

// ServeHTTP hands the request to the instance of its host.
func (t *Tenants) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s := t.Server(r.Host)
	if s == nil {
		untrustedDomain(w, r)
		return
	}
	s.ServeHTTP(w, r)
}

// TenantConfig is one instance of a Tenants on a database shared by all of them.
type TenantConfig struct {
	// Pool is the shared database; the instance's tables live in schema TenantSchema(Host).
	Pool *pgxpool.Pool
	// Root holds every instance's directories: Root/<host>/data and Root/<host>/config.
	Root string
	// Host is the name the instance answers to, its only trusted domain besides localhost.
	Host string
	// AdminUser and AdminPassword install the instance when it is new.
	AdminUser, AdminPassword string
	// System is written to the instance's tenants.config.json at every open, beside config.json,
	// as a template's extra config file would be (hashingCost, one-click-instance, ...).
	System map[string]any
	// Logger receives the instance's logs; default slog.Default().
	Logger *slog.Logger
}

var tenantHost = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$`)

// TenantSchema names the Postgres schema of a host's tables: readable, unique per host and
// within Postgres's 63-byte identifiers.
func TenantSchema(host string) string {
	sum := sha256.Sum256([]byte(hostName(host)))
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, hostName(host))
	if len(name) > 40 {
		name = name[:40]
	}
	return "nc_" + name + "_" + hex.EncodeToString(sum[:4])
}

// Open opens the instance of cfg.Host, installing it when new, and serves it.
func (t *Tenants) Open(ctx context.Context, cfg TenantConfig) (*Server, error) {
	host := hostName(cfg.Host)
	if !tenantHost.MatchString(host) {
		return nil, fmt.Errorf("standin: tenant host %q: want a DNS name", cfg.Host)
	}
	if cfg.Root == "" || cfg.AdminUser == "" || cfg.AdminPassword == "" {
		return nil, errors.New("standin: tenant: root directory, admin user and password are required")
	}
	dir := filepath.Join(cfg.Root, host)
	conf, err := NewSystemConfig(filepath.Join(dir, "config"))
	if err != nil {
		return nil, fmt.Errorf("standin: tenant %s: %w", host, err)
	}
	if cfg.System != nil {
		if err := conf.writeFile("tenants.config.json", cfg.System); err != nil {
			return nil, fmt.Errorf("standin: tenant %s: %w", host, err)
		}
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	s, err := New(ctx, Config{Pool: cfg.Pool, Schema: TenantSchema(host), DataDir: filepath.Join(dir, "data"),
		ConfigDir: filepath.Join(dir, "config"), Logger: logger.With("tenant", host)})
	if err != nil {
		return nil, fmt.Errorf("standin: tenant %s: %w", host, err)
	}
	if err := s.Install(ctx, cfg.AdminUser, cfg.AdminPassword, []string{host}); err != nil {
		return nil, fmt.Errorf("standin: tenant %s: %w", host, err)
	}
	t.Add(host, s)
	return s, nil
}
