// Package standin is a Nextcloud stand-in: an http.Handler that answers like Nextcloud 31 for
// the subset of its API the provisioner uses (status.php; the provisioning API's users, groups,
// sub-admins and app config; serverinfo; WebDAV uploads, reads and deletes), with the same
// envelopes, codes, messages and permissions (admins, sub-admins, other accounts), maintenance
// mode, trusted domains, user limit and per-user quotas counted from real bytes on disk.
//
// State lives where Nextcloud keeps it: accounts, groups, sub-admins and app config in the
// tenant's Postgres database (tables oc_* in one schema), files in the data directory
// (<datadir>/<user>/files/...), system settings in a config directory of *.config.json files (the
// equivalent of config/*.config.php). A restarted stand-in on the same database and directories
// finds everything again. Tenants serves many instances from one process, one schema each.
package standin

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/crypto/bcrypt"
)

// Version is the Nextcloud version the stand-in reports: the production template runs
// nextcloud:31-apache, and the stand-in answers as Nextcloud 31 does (quota numbers included).
const (
	Version       = "31.0.9.1"
	VersionString = "31.0.9"
)

// Config is what a stand-in instance needs.
type Config struct {
	// Pool is the tenant's database. Required.
	Pool *pgxpool.Pool
	// DataDir holds users' files (<DataDir>/<user>/files). Required.
	DataDir string
	// ConfigDir holds config.json and *.config.json. Required.
	ConfigDir string
	// Schema is the Postgres schema of the instance's tables; default "public". Instances that
	// share one database each need their own (see Tenants).
	Schema string
	// Logger receives request and install logs; default slog.Default().
	Logger *slog.Logger
}

// Server is one stand-in instance. It is an http.Handler; its exported methods are the occ
// commands, working on the same state.
type Server struct {
	store   *store
	conf    *SystemConfig
	dataDir string
	log     *slog.Logger

	// verified caches successful password checks (bcrypt is slow by design): key is
	// uid + sha256(password), value the hash that was checked.
	verified sync.Map
}

// New opens an instance: it creates the stand-in's tables when missing and reads the config
// directory. It does not install; see Install.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Pool == nil {
		return nil, errors.New("standin: no database pool")
	}
	if cfg.DataDir == "" {
		return nil, errors.New("standin: no data directory")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("standin: create data directory: %w", err)
	}
	conf, err := NewSystemConfig(cfg.ConfigDir)
	if err != nil {
		return nil, fmt.Errorf("standin: %w", err)
	}
	if cfg.Schema == "" {
		cfg.Schema = "public"
	}
	s := &Server{store: &store{pool: cfg.Pool, schema: cfg.Schema}, conf: conf, dataDir: cfg.DataDir,
		log: cfg.Logger}
	if err := s.store.migrate(ctx); err != nil {
		return nil, fmt.Errorf("standin: %w", err)
	}
	return s, nil
}

// Config returns the instance's system configuration.
func (s *Server) Config() *SystemConfig { return s.conf }

// Installed reports whether the instance has been installed.
func (s *Server) Installed() bool { return s.conf.Bool("installed", false) }

// Install does what the official image's unattended install does: it creates the admin user
// (member of group admin, logged in once, with a home), writes trusted_domains and marks the
// instance installed. It does nothing when already installed: like the image, these values are
// written at install time only.
func (s *Server) Install(ctx context.Context, adminUser, adminPassword string, trustedDomains []string) error {
	if s.Installed() {
		return nil
	}
	if adminUser == "" || adminPassword == "" {
		return errors.New("standin: install: admin user and password are required")
	}
	if msg := validateUID(adminUser); msg != "" {
		return fmt.Errorf("standin: install: admin user: %s", msg)
	}
	if _, err := s.store.createGroup(ctx, "admin", ""); err != nil {
		return fmt.Errorf("standin: install: %w", err)
	}
	hash, err := s.passwordHash(adminPassword)
	if err != nil {
		return fmt.Errorf("standin: install: hash password: %w", err)
	}
	admin := &User{ID: adminUser, DisplayName: adminUser, PasswordHash: hash, Enabled: true,
		Quota: "default", Groups: []string{"admin"}, LastLogin: time.Now()}
	// A half-finished earlier install may have created the admin already.
	switch err := s.store.createUser(ctx, admin, 0); {
	case err == nil:
		// The hash was made from this password just now: the first login need not verify it again.
		s.rememberVerified(adminUser, adminPassword, admin.PasswordHash)
	case !errors.Is(err, errUserExists):
		return fmt.Errorf("standin: install: %w", err)
	}
	if err := s.ensureHome(adminUser); err != nil {
		return fmt.Errorf("standin: install: %w", err)
	}
	if err := os.WriteFile(filepath.Join(s.dataDir, ".ocdata"), nil, 0o640); err != nil {
		return fmt.Errorf("standin: install: %w", err)
	}
	domains := make([]any, 0, len(trustedDomains)+1)
	domains = append(domains, "localhost")
	for _, d := range trustedDomains {
		if d != "" && d != "localhost" {
			domains = append(domains, d)
		}
	}
	if err := s.conf.Update(map[string]any{
		"instanceid":      "oc" + randomHex(5),
		"datadirectory":   s.dataDir,
		"dbtype":          "pgsql",
		"version":         Version,
		"trusted_domains": domains,
		"installed":       true,
	}); err != nil {
		return fmt.Errorf("standin: install: %w", err)
	}
	s.log.InfoContext(ctx, "nextcloud stand-in installed", "admin", adminUser, "trusted_domains", domains)
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// home is a user's files directory.
func (s *Server) home(uid string) string { return filepath.Join(s.dataDir, uid, "files") }

func (s *Server) ensureHome(uid string) error {
	if err := os.MkdirAll(s.home(uid), 0o750); err != nil {
		return fmt.Errorf("create home of %s: %w", uid, err)
	}
	return nil
}

func (s *Server) hasHome(uid string) bool {
	info, err := os.Stat(s.home(uid))
	return err == nil && info.IsDir()
}

// Maintenance reports whether maintenance mode is on.
func (s *Server) Maintenance() bool { return s.conf.Bool("maintenance", false) }

// SetMaintenance is `occ maintenance:mode --on|--off`.
func (s *Server) SetMaintenance(on bool) error { return s.conf.Set("maintenance", on) }

// SetAppValue is `occ config:app:set APP KEY --value VALUE`.
func (s *Server) SetAppValue(ctx context.Context, app, key, value string) error {
	return s.store.setAppValue(ctx, app, key, value)
}

// AppValue is `occ config:app:get APP KEY`; ok is false when unset.
func (s *Server) AppValue(ctx context.Context, app, key string) (string, bool, error) {
	return s.store.appValue(ctx, app, key)
}

// DeleteAppValue is `occ config:app:delete APP KEY`.
func (s *Server) DeleteAppValue(ctx context.Context, app, key string) error {
	return s.store.deleteAppValue(ctx, app, key)
}

// Users is `occ user:list`: every account, by id.
func (s *Server) Users(ctx context.Context) ([]*User, error) { return s.store.users(ctx, "", 0, 0) }

// StatusBody is the JSON of status.php.
func (s *Server) StatusBody() obj {
	return obj{
		{"installed", s.Installed()},
		{"maintenance", s.Maintenance()},
		{"needsDbUpgrade", false},
		{"version", Version},
		{"versionstring", VersionString},
		{"edition", ""},
		{"productname", "Nextcloud"},
		{"extendedSupport", false},
	}
}

// ServeHTTP answers one request the way Nextcloud's front controllers do: trusted domain check,
// then status.php, then maintenance, then the OCS, WebDAV or web routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	if s.Installed() && !s.trustedDomain(r.Host) {
		s.log.InfoContext(r.Context(), "trusted domain error", "host", r.Host, "remote", r.RemoteAddr)
		untrustedDomain(w, r)
		return
	}
	if path == "/status.php" {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		writeJSON(w, http.StatusOK, s.StatusBody())
		return
	}
	if !s.Installed() {
		webPage(w, http.StatusServiceUnavailable, "Nextcloud", "This Nextcloud is not installed yet.")
		return
	}
	version, isOCS := ocsVersion(path)
	if s.Maintenance() {
		w.Header().Set("X-Nextcloud-Maintenance-Mode", "1")
		switch {
		case isOCS:
			// ocs/v1.php answers before any controller runs, honouring only ?format=.
			writeOCS(w, r, version, ocsReply{Code: 503, Message: "Service unavailable", HTTP: http.StatusServiceUnavailable}, false)
		case strings.HasPrefix(path, "/remote.php/"):
			sabreError(w, http.StatusServiceUnavailable, `Sabre\DAV\Exception\ServiceUnavailable`, "System is in maintenance mode.")
		default:
			w.Header().Set("Retry-After", "120")
			webPage(w, http.StatusServiceUnavailable, "Maintenance mode",
				"This Nextcloud instance is currently in maintenance mode, which may take a while. This page will refresh itself when the instance is available again.")
		}
		return
	}
	switch {
	case isOCS:
		s.serveOCS(w, r, version)
	case strings.HasPrefix(path, "/remote.php/dav/files/") || strings.HasPrefix(path, "/remote.php/webdav/"):
		s.serveDAV(w, r)
	case path == "/" || path == "/index.php" || strings.HasPrefix(path, "/index.php/") || path == "/login":
		webPage(w, http.StatusOK, "Nextcloud", "Log in to Nextcloud.")
	default:
		webPage(w, http.StatusNotFound, "Not found", "The page could not be found on the server.")
	}
}

// untrustedDomain is Nextcloud's answer to a Host that is not a trusted domain: status.php gives
// its JSON error, every other page the "Access through untrusted domain" page, both with 400.
func untrustedDomain(w http.ResponseWriter, r *http.Request) {
	if strings.HasSuffix(r.URL.Path, "/status.php") {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error": "Trusted domain error.", "code": 15}`))
		return
	}
	webPage(w, http.StatusBadRequest, "Access through untrusted domain",
		"Please contact your administrator. If you are an administrator, edit the \"trusted_domains\" setting in config/config.php like the example in config.sample.php.")
}

// ocsVersion recognises /ocs/v1.php/… and /ocs/v2.php/….
func ocsVersion(path string) (version int, ok bool) {
	switch {
	case strings.HasPrefix(path, "/ocs/v1.php/"):
		return 1, true
	case strings.HasPrefix(path, "/ocs/v2.php/"):
		return 2, true
	}
	return 0, false
}

var localhost = regexp.MustCompile(`^(127\.0\.0\.1|localhost|\[::1\])$`)

// trustedDomain is OC\Security\TrustedDomainHelper::isTrustedDomain: localhost is always trusted;
// entries match the host with or without its port; `*` matches [-.a-zA-Z0-9]*.
func (s *Server) trustedDomain(hostWithPort string) bool {
	host := hostWithPort
	if h, _, err := net.SplitHostPort(hostWithPort); err == nil {
		host = h
		if strings.Contains(h, ":") {
			host = "[" + h + "]"
		}
	}
	if localhost.MatchString(host) {
		return true
	}
	for _, t := range s.conf.Strings("trusted_domains") {
		if strings.EqualFold(t, host) || strings.EqualFold(t, hostWithPort) {
			return true
		}
		if strings.Contains(t, "*") {
			pattern := "(?i)^" + strings.ReplaceAll(regexp.QuoteMeta(t), `\*`, `[-\.a-zA-Z0-9]*`) + "$"
			if re, err := regexp.Compile(pattern); err == nil && (re.MatchString(host) || re.MatchString(hostWithPort)) {
				return true
			}
		}
	}
	return false
}

// authenticate checks HTTP basic auth against the users table; nil when it fails or is missing.
// A successful login records the login (at most once a minute) and creates the user's home, as
// Nextcloud does at first login.
func (s *Server) authenticate(r *http.Request) *User {
	name, pass, ok := r.BasicAuth()
	if !ok || name == "" {
		return nil
	}
	u, err := s.store.user(r.Context(), name)
	if err != nil {
		if !errors.Is(err, ErrNotFound) {
			s.log.ErrorContext(r.Context(), "authenticate", "err", err)
		}
		return nil
	}
	if !u.Enabled {
		return nil
	}
	key := verifiedKey(u.ID, pass)
	if cached, ok := s.verified.Load(key); !ok || subtle.ConstantTimeCompare([]byte(cached.(string)), []byte(u.PasswordHash)) != 1 {
		if bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(pass)) != nil {
			return nil
		}
		s.verified.Store(key, u.PasswordHash)
	}
	s.recordLogin(r.Context(), u)
	return u
}

// passwordHash hashes a new password as Nextcloud's bcrypt hasher does: at the cost the system
// config's hashingCost names (Nextcloud's default 10 when unset), within bcrypt's bounds. Existing
// hashes keep the cost they were made with.
func (s *Server) passwordHash(password string) (string, error) {
	cost := min(max(s.conf.Int("hashingCost", bcrypt.DefaultCost), bcrypt.MinCost), bcrypt.MaxCost)
	hash, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	return string(hash), err
}

// verifiedKey is the key of the verified cache: the user and a SHA-256 of the password.
func verifiedKey(uid, password string) string {
	sum := sha256.Sum256([]byte(password))
	return uid + "\x00" + hex.EncodeToString(sum[:])
}

// rememberVerified records that password matches hash, which was just made from it. An entry
// only counts while the user's stored hash is still that one, so a password change invalidates it.
func (s *Server) rememberVerified(uid, password, hash string) {
	s.verified.Store(verifiedKey(uid, password), hash)
}

func (s *Server) recordLogin(ctx context.Context, u *User) {
	if err := s.ensureHome(u.ID); err != nil {
		s.log.ErrorContext(ctx, "record login", "user", u.ID, "err", err)
	}
	if time.Since(u.LastLogin) < time.Minute {
		return
	}
	now := time.Now()
	if err := s.store.setUserField(ctx, u.ID, "last_login", now); err != nil {
		s.log.ErrorContext(ctx, "record login", "user", u.ID, "err", err)
		return
	}
	u.LastLogin = now
}

func writeJSON(w http.ResponseWriter, status int, v obj) {
	b, err := v.MarshalJSON()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// webPage writes a minimal guest page like Nextcloud's templates, with the title clients look for.
func webPage(w http.ResponseWriter, status int, title, text string) {
	w.Header().Set("Content-Type", "text/html; charset=UTF-8")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<!DOCTYPE html>\n<html class=\"ng-csp\" data-placeholder-focus=\"false\" lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>%s</title>\n</head>\n<body id=\"body-login\">\n<div class=\"guest-box\">\n<h2>%s</h2>\n<p>%s</p>\n</div>\n</body>\n</html>\n",
		html.EscapeString(title), html.EscapeString(title), html.EscapeString(text))
}
