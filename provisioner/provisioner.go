// Package provisioner brings an approved space to life and keeps the pieces it made in step:
// the space's role and database on the tenant database server, its secrets in a Nomad Variable,
// its Nomad job rendered from package templates, and its first Nextcloud account.
//
// Every step is level-triggered and idempotent: it reads what exists, does nothing when that is
// what is wanted, else the smallest write. A pass interrupted anywhere (a crash, a timeout, a
// Nomad outage) is simply run again and finishes the work without duplicating any of it.
// Secrets are born in the Nomad Variable before anything uses them, so no role, job or account
// ever holds a password that is not also stored there.
package provisioner

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	nomadapi "github.com/hashicorp/nomad/api"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/assospaces/spaces/provisioner/nomad"
	"github.com/assospaces/spaces/templates"
	"github.com/assospaces/spaces/tenants"
)

// Nomad is what the provisioner needs from Nomad; *nomad.Client implements it.
type Nomad interface {
	GetVariable(ctx context.Context, path string) (nomad.Variable, error)
	CreateVariable(ctx context.Context, path string, items map[string]string) (nomad.Variable, error)
	UpdateVariable(ctx context.Context, v nomad.Variable) (nomad.Variable, error)
	ParseJob(ctx context.Context, hcl string) (*nomadapi.Job, error)
	RegisterJob(ctx context.Context, job *nomadapi.Job) (uint64, error)
	Job(ctx context.Context, jobID string) (*nomadapi.Job, error)
	Allocations(ctx context.Context, jobID string, waitIndex uint64, wait time.Duration) ([]*nomadapi.AllocationListStub, uint64, error)
	Services(ctx context.Context, name string, waitIndex uint64, wait time.Duration) ([]*nomadapi.ServiceRegistration, uint64, error)
	JobChanges(ctx context.Context) (<-chan string, error)
	Nodes(ctx context.Context) ([]*nomadapi.NodeListStub, error)
	ListJobs(ctx context.Context, prefix string) ([]*nomadapi.JobListStub, error)
	ListAllocations(ctx context.Context, jobPrefix string) ([]*nomadapi.AllocationListStub, error)
	DeregisterJob(ctx context.Context, jobID string, purge bool) error
	DeleteVariable(ctx context.Context, path string) error
	HostVolumes(ctx context.Context, name string) ([]*nomadapi.HostVolumeStub, error)
	HostVolume(ctx context.Context, id string, waitIndex uint64, wait time.Duration) (*nomadapi.HostVolume, uint64, error)
	CreateHostVolume(ctx context.Context, vol *nomadapi.HostVolume) (*nomadapi.HostVolume, error)
	DeleteHostVolume(ctx context.Context, id string) error
}

var _ Nomad = (*nomad.Client)(nil)

// Config are the provisioner's settings.
type Config struct {
	// BaseDomain: a space is served at <slug>.<BaseDomain>.
	BaseDomain string
	// Template names the jobspec spaces run (templates.Production or templates.Dev).
	Template  string
	Templates *templates.Set
	// StandinBin is the stand-in binary the dev template runs.
	StandinBin string
	// Image is the Nextcloud image of the production template.
	Image string
	// VolumePlugin is the Nomad host volume plugin that creates each space's data volume on a
	// client: "mkdir" (built into Nomad: a directory, no size limit) by default, or the id of a
	// plugin the clients carry in their host_volume_plugin_dir, one that enforces a capacity.
	VolumePlugin string
	// Namespace and Region of the space jobs.
	Namespace string
	Region    string
	// TenantDatabaseURL names the server where each space gets its role and database; its host
	// and port are also what the jobs connect to.
	TenantDatabaseURL string
	// Capacity is the most spaces taking room at once; 0 means no ceiling. With
	// CapacityFromNomad, the ceiling is instead what the Nomad nodes can hold (see Ceiling).
	Capacity          int
	CapacityFromNomad bool
	// HealthTimeout bounds one pass's wait for a healthy allocation and its service.
	HealthTimeout time.Duration
	// AdminUser is the Nextcloud administrator the provisioner logs in as.
	AdminUser string
	// CPU (MHz) and MemoryMB are reserved for each space's Nextcloud task.
	CPU      int
	MemoryMB int
	// UsageInterval is how often each active space's usage is measured and its quotas enforced.
	UsageInterval time.Duration
	// UsageTimeout bounds the measure of one space, so that a hung one never holds the others.
	UsageTimeout time.Duration
	// TLSResolver names the router's certificate resolver the production jobspec asks for the
	// one wildcard certificate of BaseDomain (a DNS-01 resolver); "letsencrypt-dns" by default.
	TLSResolver string
	// PublicCheck adds a step after health: the space's public address, https://<slug>.<BaseDomain>/status.php,
	// must answer Nextcloud's status with installed true, through normal DNS and certificate
	// verification, before the space is called ready.
	PublicCheck bool
	// PublicDial, when set, replaces how the public check connects (tests point a space's name at
	// a local server); PublicRoots, when set, replaces the system's certificate authorities.
	PublicDial  func(ctx context.Context, network, addr string) (net.Conn, error)
	PublicRoots *x509.CertPool
	// Resync is how often every wait for health is woken even without an event, in case one was
	// lost: every 5 s when 0; never when negative (tests, to see that events alone wake them).
	Resync time.Duration

	// Space are the settings every space gets (mail relay, legal pages, Office, apps); see
	// SpaceSettings. Its SMTPPassword goes to each space's Nomad Variable, never in a jobspec.
	Space SpaceSettings
}

func (c *Config) defaults() error {
	if c.Templates == nil {
		return errors.New("provisioner: no templates")
	}
	if c.Template == "" {
		c.Template = templates.Production
	}
	if c.Template == templates.Dev && c.StandinBin == "" {
		return errors.New("provisioner: the dev template needs the stand-in binary")
	}
	if c.BaseDomain == "" {
		return errors.New("provisioner: no base domain")
	}
	if c.Image == "" {
		c.Image = "nextcloud:31-apache"
	}
	if c.VolumePlugin == "" {
		c.VolumePlugin = "mkdir"
	}
	if c.Namespace == "" {
		c.Namespace = "default"
	}
	if c.HealthTimeout <= 0 {
		c.HealthTimeout = 5 * time.Minute
	}
	if c.UsageInterval <= 0 {
		c.UsageInterval = 5 * time.Minute
	}
	if c.UsageTimeout <= 0 {
		c.UsageTimeout = 20 * time.Second
	}
	if c.AdminUser == "" {
		c.AdminUser = "spaces-admin"
	}
	if c.TLSResolver == "" {
		c.TLSResolver = "letsencrypt-dns"
	}
	if c.Resync == 0 {
		c.Resync = resyncEvery
	}
	if c.CPU <= 0 {
		c.CPU = map[string]int{templates.Dev: 20}[c.Template]
		if c.CPU == 0 {
			c.CPU = 1000
		}
	}
	if c.MemoryMB <= 0 {
		c.MemoryMB = map[string]int{templates.Dev: 48}[c.Template]
		if c.MemoryMB == 0 {
			c.MemoryMB = 1024
		}
	}
	return nil
}

// Provisioner runs the provisioning steps. It is safe for concurrent use on different spaces;
// the steps tolerate concurrent passes on one space too.
type Provisioner struct {
	cfg     Config
	db      tenants.DB
	tenant  *pgxpool.Pool
	dbHost  string
	dbPort  int
	nomad   Nomad
	http    *http.Client
	public  *http.Client // the public check's, through DNS and TLS as anyone reaches a space
	logger  *slog.Logger
	now     func() time.Time
	closeDB bool
	watch   *watcher
	// dbSlots bounds the passes creating roles and databases at once: the tenant server is shared
	// by every space, and many CREATE DATABASE at once only make each slower.
	dbSlots chan struct{}

	ceilingMu sync.Mutex
	ceiling   int
	ceilingAt time.Time
	fp        footprint       // guarded by ceilingMu
	refresh   *ceilingRefresh // the read of the ceiling from Nomad while one runs; guarded by ceilingMu

	specMu sync.Mutex
	specs  map[specKey]string // jobspec hash by space and generation

	secretsMu sync.Mutex
	secrets   map[string]map[string]string // Variable items by job id, for usage passes
}

// databaseConcurrency is how many passes may run the database step at once, no more than the
// tenant pool's connections.
const databaseConcurrency = 8

// New builds a provisioner on the service database db and Nomad n, connecting to the tenant
// database server.
func New(ctx context.Context, cfg Config, db tenants.DB, n Nomad, logger *slog.Logger) (*Provisioner, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	u, err := url.Parse(cfg.TenantDatabaseURL)
	if err != nil || u.Hostname() == "" {
		return nil, fmt.Errorf("provisioner: tenant database url needs a TCP host the jobs can reach")
	}
	port := 5432
	if u.Port() != "" {
		port, _ = strconv.Atoi(u.Port())
	}
	pc, err := pgxpool.ParseConfig(cfg.TenantDatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("provisioner: tenant database url: %w", err)
	}
	pc.MaxConns = 8
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("provisioner: connect to the tenant database server: %w", err)
	}
	return &Provisioner{
		cfg: cfg, db: db, tenant: pool, dbHost: u.Hostname(), dbPort: port, nomad: n,
		http:   &http.Client{Timeout: 30 * time.Second, Transport: spaceTransport()},
		public: publicClient(cfg),
		logger: logger, now: time.Now, closeDB: true, watch: newWatcher(n, logger, cfg.Resync),
		dbSlots: make(chan struct{}, databaseConcurrency),
		specs:   map[specKey]string{}, secrets: map[string]map[string]string{},
	}, nil
}

// spaceTransport is the HTTP transport to the spaces' Nextcloud: it keeps a connection open per
// concurrent usage call, so that spaces sharing an address (a router, or stand-ins in one process)
// are not dialled again at every call, as the default of 2 idle connections per host would have it.
func spaceTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = usageConcurrency
	return t
}

// Close stops following Nomad events and releases the tenant database connections.
func (p *Provisioner) Close() {
	p.watch.stop()
	if p.closeDB {
		p.tenant.Close()
	}
}

// OnSpaceJobChange calls f, at most about once a second, whenever Nomad's event stream reports a
// change to a space's job (registered, stopped, purged, an allocation failing or recovering), so
// that a reconcile pass can run at once rather than at its next period. f must not block long.
func (p *Provisioner) OnSpaceJobChange(f func()) { p.watch.onChange(f) }

// HealthTimeout is how long one pass waits for a healthy allocation.
func (p *Provisioner) HealthTimeout() time.Duration { return p.cfg.HealthTimeout }

// JobID is the Nomad job id of a space.
func JobID(slug string) string { return "space-" + slug }

// DatabaseName is the name of a space's role and database on the tenant server.
func DatabaseName(slug string) string { return "space_" + strings.ReplaceAll(slug, "-", "_") }

// Domain is a space's public name.
func (p *Provisioner) Domain(slug string) string { return slug + "." + p.cfg.BaseDomain }

// OwnerLogin is the login of the association's first account: its contact address, lowercased,
// made into a login Nextcloud accepts. Nextcloud refuses user ids outside [a-zA-Z0-9 _.@-'] or
// longer than 64 characters (lib/private/User/Manager.php, validateUserId), and a valid address
// may hold others ("asso+cloud@example.org"): each of those becomes "_" and the login is cut at 64
// characters. The welcome mail names the login; the account's email stays the contact address.
func OwnerLogin(s tenants.Space) string {
	login := []byte(strings.ToLower(strings.TrimSpace(s.ContactEmail)))
	for i, c := range login {
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte(" _.@-'", c) >= 0
		if !ok {
			login[i] = '_' // a byte of a multi-byte character too: the login stays ASCII
		}
	}
	if len(login) > 64 {
		login = login[:64]
	}
	return strings.Trim(string(login), " .")
}

// Outcome is how a pass ended when it returned no error.
type Outcome int

// Outcomes of Provision.
const (
	// Waiting: the space is queued behind the capacity ceiling or spaces approved before it.
	Waiting Outcome = iota + 1
	// Activated: the space is active.
	Activated
	// Skipped: the space is in a state provisioning does not act on (deleting, failed…).
	Skipped
)

func (o Outcome) String() string {
	return map[Outcome]string{Waiting: "waiting", Activated: "activated", Skipped: "skipped"}[o]
}

// Ready is what the association needs to be told once its space is active.
type Ready struct {
	Space    tenants.Space
	URL      string
	Login    string
	Password string // one-time password of the first account; seal it before it is stored
}

// ReadyFunc runs in the transaction that makes a space active: it enqueues the mail to the
// association, so that the mail is sent once and only if the space became active.
type ReadyFunc func(ctx context.Context, tx pgx.Tx, r Ready) error

// PermanentError is a failure no retry can fix (a broken jobspec template); the space goes
// failed at once with Reason.
type PermanentError struct {
	Reason string
	Err    error
}

func (e *PermanentError) Error() string { return e.Reason + ": " + e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// IsPermanent tells whether err is a PermanentError.
func IsPermanent(err error) bool {
	var pe *PermanentError
	return errors.As(err, &pe)
}

// StepError names the step a pass failed at, for the failure reason people read.
type StepError struct {
	Step string
	Err  error
}

func (e *StepError) Error() string { return e.Step + ": " + e.Err.Error() }
func (e *StepError) Unwrap() error { return e.Err }

// Reason is the readable failure reason of err, as kept on a failed space: valid UTF-8 without
// NUL (Postgres text refuses both), at most 1,000 bytes cut on a character boundary, then "…".
func Reason(err error) string {
	msg := strings.ReplaceAll(strings.ToValidUTF8(err.Error(), "\uFFFD"), "\x00", "")
	if len(msg) > 1000 {
		cut := 1000
		for cut > 0 && msg[cut]&0xC0 == 0x80 { // a continuation byte: the character started before
			cut--
		}
		msg = msg[:cut] + "…"
	}
	return msg
}

// Condition types the provisioner records.
const (
	CondDatabaseReady = "DatabaseReady"
	CondSecretsStored = "SecretsStored"
	CondVolumeReady   = "VolumeReady"
	CondJobRegistered = "JobRegistered"
	CondHealthy       = "Healthy"
	CondPublic        = "PublicAddressReachable"
	CondBootstrapped  = "Bootstrapped"
	CondReady         = "Ready"
)

func cond(typ string, ok bool, reason, msg string) tenants.Condition {
	st := "True"
	if !ok {
		st = "False"
	}
	return tenants.Condition{Type: typ, Status: st, Reason: reason, Message: msg}
}

// Provision runs one pass over a space: admit it under capacity, then every step, then make it
// active and call ready in that transaction. An error means the pass should be retried (or,
// when IsPermanent, that the space should fail).
func (p *Provisioner) Provision(ctx context.Context, spaceID int64, ready ReadyFunc) (Outcome, error) {
	ceiling, err := p.Ceiling(ctx)
	if err != nil {
		return 0, err
	}
	s, adm, err := tenants.AdmitSpace(ctx, p.db, spaceID, ceiling, tenants.ActorReconciler)
	if err != nil {
		return 0, err
	}
	switch {
	case s.State == tenants.SpaceActive:
		return Activated, nil
	case s.State == tenants.SpaceQueued:
		p.logger.InfoContext(ctx, "space waits for room", "space", s.Slug, "position", adm.Position,
			"in_use", adm.InUse, "capacity", adm.Capacity)
		return Waiting, nil
	case !adm.Admitted:
		return Skipped, nil
	}
	log := p.logger.With("space", s.Slug, "space_id", s.ID, "generation", s.Generation)
	start := p.now()
	jobID := JobID(s.Slug)

	timings := []any{}
	mark := func(step string) {
		timings = append(timings, step, p.now().Sub(start).Round(time.Millisecond))
	}
	// Conditions are gathered and written in few transactions: at registration, at the end, on failure.
	var seen []tenants.Condition
	secrets, err := p.ensureProvisioningSecrets(ctx, jobID)
	if err != nil {
		return 0, p.stepFailed(ctx, s, seen, CondSecretsStored, "secrets", err)
	}
	mark("secrets")
	seen = append(seen, cond(CondSecretsStored, true, "VariableWritten", "secrets are in the Nomad Variable "+nomad.VariablePath(jobID)))

	if err := p.ensureDatabase(ctx, s, secrets[keyDBPassword]); err != nil {
		return 0, p.stepFailed(ctx, s, seen, CondDatabaseReady, "tenant database", err)
	}
	mark("database")
	seen = append(seen, cond(CondDatabaseReady, true, "RoleAndDatabaseExist", "role and database "+DatabaseName(s.Slug)))

	volumePath, err := p.ensureVolume(ctx, s)
	if err != nil {
		return 0, p.stepFailed(ctx, s, seen, CondVolumeReady, "data volume", err)
	}
	mark("volume")
	seen = append(seen, cond(CondVolumeReady, true, "VolumeReady", "data volume "+VolumeName(s.Slug)+" at "+volumePath))

	version, err := p.ensureJob(ctx, s, volumePath)
	if err != nil {
		return 0, p.stepFailed(ctx, s, seen, CondJobRegistered, "nomad job", err)
	}
	mark("job")
	seen = append(seen, cond(CondJobRegistered, true, "Registered", fmt.Sprintf("job %s version %d", jobID, version)))
	// Recorded now, so that the wait for health shows how far the pass went.
	p.observe(ctx, s, seen...)
	seen = nil

	// The wait for health and the public check share one provision timeout.
	deadline := p.now().Add(p.cfg.HealthTimeout)
	addr, allocID, err := p.waitHealthy(ctx, jobID, version)
	if err != nil {
		return 0, p.stepFailed(ctx, s, seen, CondHealthy, "health", err)
	}
	mark("healthy")
	seen = append(seen, cond(CondHealthy, true, "AllocationHealthy", fmt.Sprintf("allocation %s at %s", shortID(allocID), addr)))

	if p.cfg.PublicCheck {
		if err := p.checkPublic(ctx, p.Domain(s.Slug), deadline); err != nil {
			return 0, p.stepFailed(ctx, s, seen, CondPublic, "public address", err)
		}
		mark("public")
		seen = append(seen, cond(CondPublic, true, "StatusAnswered", "https://"+p.Domain(s.Slug)+"/status.php answers, its certificate verified"))
	}

	if err := p.bootstrap(ctx, s, addr, secrets); err != nil {
		return 0, p.stepFailed(ctx, s, seen, CondBootstrapped, "nextcloud bootstrap", err)
	}

	mark("bootstrap")
	err = pgx.BeginFunc(ctx, p.db, func(tx pgx.Tx) error {
		active, err := tenants.TransitionSpace(ctx, tx, s.ID, tenants.Transition{To: tenants.SpaceActive,
			Actor: tenants.ActorReconciler, Action: "space.activate", From: []tenants.SpaceState{tenants.SpaceProvisioning}})
		if err != nil {
			return err
		}
		conds := append(seen,
			cond(CondBootstrapped, true, "AccountCreated", "first account "+OwnerLogin(s)+", sub-admin of group "+AssociationGroup+"; storage plan applied"),
			cond(CondReady, true, "Active", "serving at https://"+p.Domain(s.Slug)))
		if err := tenants.RecordObservation(ctx, tx, s.ID, s.Generation, conds, p.now()); err != nil {
			return err
		}
		if ready == nil {
			return nil
		}
		return ready(ctx, tx, Ready{Space: active, URL: "https://" + p.Domain(s.Slug), Login: OwnerLogin(s),
			Password: secrets[keyOwnerPassword]})
	})
	if errors.Is(err, tenants.ErrInvalidTransition) {
		// Someone decided otherwise meanwhile (a deletion): leave the space to that decision.
		return Skipped, nil
	}
	if err != nil {
		return 0, fmt.Errorf("activate space %s: %w", s.Slug, err)
	}
	mark("active")
	if err := p.forgetOwnerPassword(ctx, jobID); err != nil {
		// Not worth failing an active space for: the next repair of its secrets leaves it out too.
		log.WarnContext(ctx, "one-time password left in the Nomad Variable", "err", err)
	}
	log.InfoContext(ctx, "space active", append([]any{"addr", addr}, timings...)...)
	return Activated, nil
}

// Fail moves a provisioning space to failed with reason; a space no longer provisioning is left.
func (p *Provisioner) Fail(ctx context.Context, spaceID int64, reason string) error {
	s, err := tenants.TransitionSpace(ctx, p.db, spaceID, tenants.Transition{To: tenants.SpaceFailed,
		Actor: tenants.ActorReconciler, Action: "space.fail", Reason: reason, From: []tenants.SpaceState{tenants.SpaceProvisioning}})
	if errors.Is(err, tenants.ErrInvalidTransition) {
		return nil
	}
	if err != nil {
		return err
	}
	p.observe(ctx, s, cond(CondReady, false, "ProvisioningFailed", reason))
	return nil
}

// stepFailed records the conditions seen so far and the failed step's, and wraps err with the step's name.
func (p *Provisioner) stepFailed(ctx context.Context, s tenants.Space, seen []tenants.Condition, typ, step string, err error) error {
	wrapped := &StepError{Step: step, Err: err}
	p.observe(ctx, s, append(seen, cond(typ, false, "Failed", Reason(wrapped)))...)
	var pe *PermanentError
	if errors.As(err, &pe) {
		return &PermanentError{Reason: step + ": " + pe.Reason, Err: pe.Err}
	}
	return wrapped
}

// observe records conditions; losing one is not worth failing a pass for.
func (p *Provisioner) observe(ctx context.Context, s tenants.Space, c ...tenants.Condition) {
	if err := tenants.RecordObservation(context.WithoutCancel(ctx), p.db, s.ID, s.Generation, c, p.now()); err != nil {
		p.logger.WarnContext(ctx, "record conditions", "space", s.Slug, "err", err)
	}
}

func shortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

// SpecHash is the hash of a rendered jobspec, kept in the job's meta (MetaSpecHash) to tell
// whether Nomad runs the jobspec decided.
func SpecHash(hcl string) string {
	h := sha256.Sum256([]byte(hcl))
	return hex.EncodeToString(h[:8])
}

func hostPort(host string, port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }

// PrepareForBenchmark makes a space's secrets, database and data volume without the rest of
// provisioning, so that a benchmark can run its job straight through Nomad for comparison.
func (p *Provisioner) PrepareForBenchmark(ctx context.Context, s tenants.Space) (volumePath string, err error) {
	secrets, err := p.ensureSecrets(ctx, JobID(s.Slug))
	if err != nil {
		return "", err
	}
	if err := p.ensureDatabase(ctx, s, secrets[keyDBPassword]); err != nil {
		return "", err
	}
	return p.ensureVolume(ctx, s)
}
