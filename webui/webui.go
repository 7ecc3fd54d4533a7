// Package webui serves people and programs over HTTP: the public application form and status
// pages, the moderators' pages, and the operators' JSON API (/api/v1). Handlers call the domain
// packages; nothing here talks to Nomad.
package webui

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"runtime"
	"time"
	_ "time/tzdata" // dates are shown in Europe/Paris time, wherever the server runs

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/assospaces/spaces/jobs"
	"github.com/assospaces/spaces/quota"
	"github.com/assospaces/spaces/tenants"
	"github.com/assospaces/spaces/tenants/secretbox"
)

// Options are the server's dependencies and settings.
type Options struct {
	Pool          *pgxpool.Pool
	Jobs          *jobs.Client
	Logger        *slog.Logger
	PublicURL     *url.URL
	BaseDomain    string
	DefaultLimits quota.Limits
	// Ceiling is the capacity ceiling now, 0 for none (provisioner.Provisioner.Ceiling); nil: none.
	Ceiling func(context.Context) (int, error)
	// ApplyPerHour is how many applications one client network may send at once, then one more
	// every hour/ApplyPerHour; counted in Postgres, across replicas.
	ApplyPerHour int
	// PublicInFlight bounds the public pages' requests (the form, status pages) this process
	// handles at once, ModerationInFlight the moderators' pages' and the JSON API's. A request
	// waits at most BusyWait for room, then gets 503 (shed.go). Zero: the Default… values.
	PublicInFlight     int
	ModerationInFlight int
	BusyWait           time.Duration

	// SecretKey is the service's secret key (SPACES_SECRET_KEY): it seals mail data and keys the
	// CSRF and status-link derivations.
	SecretKey []byte
	// Retention is how long rejected and withdrawn applications are kept, told to applicants.
	Retention time.Duration
	// DeleteGrace is how long a deleted space can be restored (jobs.DefaultDeleteGrace when 0).
	DeleteGrace time.Duration
	// TrustedProxies are the reverse proxies whose X-Forwarded-For is believed when finding a
	// client's address for rate limits. Empty: the connection's address is the client's.
	TrustedProxies []netip.Prefix
	// Metrics, when set, counts every request (route class, status, duration) for /metrics.
	Metrics *Metrics
	// WorkersRunning, when set, tells whether this process's job workers run; /readyz reports the
	// server not ready while they do not.
	WorkersRunning func() bool

	// Test seams, set only by this package's tests.
	// authenticate checks a moderator's credentials (one argon2 hash); nil: tenants.AuthenticateModerator.
	authenticate func(ctx context.Context, db tenants.DB, email, password string) (tenants.Moderator, error)
	// hashSlots bounds concurrent password hashes (0: GOMAXPROCS); hashWait is how long a login
	// waits for a slot before a 503 (0: 5 s).
	hashSlots int
	hashWait  time.Duration
	// loginAccount and loginNetwork replace tenants.LoginAccountRule and LoginNetworkRule when set.
	loginAccount, loginNetwork *tenants.ThrottleRule
	// shedAdmitted, when set, is called with each request that got room in its class, before it is
	// handled (a test holds a request there to fill the class).
	shedAdmitted func(*http.Request)
}

// handler holds what every handler needs.
type handler struct {
	Options
	pages     *pages
	box       *secretbox.Box
	csrfKey   []byte // keys CSRF tokens
	statusKey []byte // derives status-page tokens from submission keys
	secure    bool   // the public URL is https: cookies are Secure and __Host- prefixed
	// applyRule bounds submissions per client network, in Postgres (tenants.RateTake), as logins
	// and lost-link requests are throttled (tenants.ThrottleFailure): replicas count together.
	applyRule tenants.RateRule
	// shedding bounds the requests of each class handled at once; busy are the pages of refusals,
	// made at start (shed.go).
	shedding shedClasses
	busy     map[busyKey]busyPage
	// hashes holds one token per password hash running in this process.
	hashes                     chan struct{}
	loginAccount, loginNetwork tenants.ThrottleRule
	location                   *time.Location
	// decisions records operators' decisions about spaces, for the API and the spaces pages alike.
	decisions *jobs.Decisions
}

// New builds the HTTP handler. Templates are parsed here, so a broken one fails the start.
func New(opts Options) (http.Handler, error) {
	if opts.Pool == nil || opts.Logger == nil || opts.PublicURL == nil || opts.Jobs == nil {
		return nil, fmt.Errorf("webui: Pool, Jobs, Logger and PublicURL are required")
	}
	if len(opts.SecretKey) != secretbox.KeySize {
		return nil, fmt.Errorf("webui: SecretKey must be %d bytes", secretbox.KeySize)
	}
	if opts.ApplyPerHour <= 0 {
		opts.ApplyPerHour = 10
	}
	if opts.DefaultLimits == (quota.Limits{}) {
		opts.DefaultLimits = quota.DefaultLimits
	}
	if opts.Retention <= 0 {
		opts.Retention = 90 * 24 * time.Hour
	}
	if opts.PublicInFlight <= 0 {
		opts.PublicInFlight = DefaultPublicInFlight
	}
	if opts.ModerationInFlight <= 0 {
		opts.ModerationInFlight = DefaultModerationInFlight
	}
	if opts.BusyWait <= 0 {
		opts.BusyWait = DefaultBusyWait
	}
	pg, err := parsePages()
	if err != nil {
		return nil, err
	}
	box, err := secretbox.New(opts.SecretKey)
	if err != nil {
		return nil, err
	}
	loc, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		return nil, fmt.Errorf("webui: load time zone: %w", err)
	}
	h := &handler{
		Options:   opts,
		pages:     pg,
		box:       box,
		csrfKey:   deriveKey(opts.SecretKey, "spaces/webui/csrf"),
		statusKey: deriveKey(opts.SecretKey, "spaces/webui/status-token"),
		secure:    opts.PublicURL.Scheme == "https",
		applyRule: tenants.ApplyNetworkRule(opts.ApplyPerHour),
		location:  loc,
		decisions: &jobs.Decisions{Pool: opts.Pool, Client: opts.Jobs, BaseDomain: opts.BaseDomain,
			PublicURL: opts.PublicURL.String(), DeleteGrace: opts.DeleteGrace},
	}
	if h.authenticate == nil {
		h.authenticate = tenants.AuthenticateModerator
	}
	if h.hashSlots <= 0 {
		h.hashSlots = runtime.GOMAXPROCS(0)
	}
	if h.hashWait <= 0 {
		h.hashWait = 5 * time.Second
	}
	h.hashes = make(chan struct{}, h.hashSlots)
	h.shedding = shedClasses{
		public:     newShedClass("public", opts.PublicInFlight, opts.BusyWait, 2*time.Minute),
		moderation: newShedClass("moderation", opts.ModerationInFlight, opts.BusyWait, 10*time.Second),
	}
	if h.busy, err = h.busyPages(); err != nil {
		return nil, err
	}
	h.loginAccount, h.loginNetwork = tenants.LoginAccountRule, tenants.LoginNetworkRule
	if opts.loginAccount != nil {
		h.loginAccount = *opts.loginAccount
	}
	if opts.loginNetwork != nil {
		h.loginNetwork = *opts.loginNetwork
	}
	mux := http.NewServeMux()
	h.routes(mux)
	if opts.Metrics != nil {
		return opts.Metrics.instrument(h.middleware(mux)), nil
	}
	return h.middleware(mux), nil
}
