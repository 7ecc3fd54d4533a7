package provisioner

import (
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	nomadapi "github.com/hashicorp/nomad/api"
	"github.com/jackc/pgx/v5"

	"github.com/assospaces/spaces/provisioner/nomad"
	"github.com/assospaces/spaces/quota"
	"github.com/assospaces/spaces/templates"
	"github.com/assospaces/spaces/tenants"
	"github.com/assospaces/spaces/tenants/pgtest"
)

// fakeNomad keeps variables in memory, with Nomad's check-and-set rules; the job calls are not
// used by these tests.
type fakeNomad struct {
	mu    sync.Mutex
	vars  map[string]nomad.Variable
	index uint64
	// beforeCreate runs before a create, to play a concurrent writer.
	beforeCreate func()
}

func (f *fakeNomad) GetVariable(_ context.Context, path string) (nomad.Variable, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.vars[path]
	if !ok {
		return nomad.Variable{}, nomad.ErrNotFound
	}
	v.Items = copyItems(v.Items)
	return v, nil
}

func (f *fakeNomad) CreateVariable(_ context.Context, path string, items map[string]string) (nomad.Variable, error) {
	if f.beforeCreate != nil {
		hook := f.beforeCreate
		f.beforeCreate = nil
		hook()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.vars[path]; ok {
		return nomad.Variable{}, nomad.ErrConflict
	}
	f.index++
	v := nomad.Variable{Path: path, Items: copyItems(items), ModifyIndex: f.index}
	f.vars[path] = v
	return v, nil
}

func (f *fakeNomad) UpdateVariable(_ context.Context, v nomad.Variable) (nomad.Variable, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if cur, ok := f.vars[v.Path]; !ok || cur.ModifyIndex != v.ModifyIndex {
		return nomad.Variable{}, nomad.ErrConflict
	}
	f.index++
	v.ModifyIndex, v.Items = f.index, copyItems(v.Items)
	f.vars[v.Path] = v
	return v, nil
}

func (f *fakeNomad) ParseJob(context.Context, string) (*nomadapi.Job, error) {
	return nil, errors.New("unused")
}
func (f *fakeNomad) RegisterJob(context.Context, *nomadapi.Job) (uint64, error) {
	return 0, errors.New("unused")
}
func (f *fakeNomad) Job(context.Context, string) (*nomadapi.Job, error) {
	return nil, nomad.ErrNotFound
}
func (f *fakeNomad) Allocations(context.Context, string, uint64, time.Duration) ([]*nomadapi.AllocationListStub, uint64, error) {
	return nil, 0, nil
}
func (f *fakeNomad) Services(context.Context, string, uint64, time.Duration) ([]*nomadapi.ServiceRegistration, uint64, error) {
	return nil, 0, nil
}
func (f *fakeNomad) ListJobs(context.Context, string) ([]*nomadapi.JobListStub, error) {
	return nil, errors.New("not in the fake")
}
func (f *fakeNomad) ListAllocations(context.Context, string) ([]*nomadapi.AllocationListStub, error) {
	return nil, errors.New("not in the fake")
}
func (f *fakeNomad) Nodes(context.Context) ([]*nomadapi.NodeListStub, error) {
	return nil, errors.New("unused")
}
func (f *fakeNomad) DeregisterJob(context.Context, string, bool) error {
	return errors.New("not in the fake")
}
func (f *fakeNomad) DeleteVariable(context.Context, string) error {
	return errors.New("not in the fake")
}
func (f *fakeNomad) HostVolumes(context.Context, string) ([]*nomadapi.HostVolumeStub, error) {
	return nil, errors.New("not in the fake")
}
func (f *fakeNomad) HostVolume(context.Context, string, uint64, time.Duration) (*nomadapi.HostVolume, uint64, error) {
	return nil, 0, errors.New("not in the fake")
}
func (f *fakeNomad) CreateHostVolume(context.Context, *nomadapi.HostVolume) (*nomadapi.HostVolume, error) {
	return nil, errors.New("not in the fake")
}
func (f *fakeNomad) DeleteHostVolume(context.Context, string) error {
	return errors.New("not in the fake")
}
func (f *fakeNomad) JobChanges(ctx context.Context) (<-chan string, error) {
	ch := make(chan string)
	go func() { <-ctx.Done(); close(ch) }()
	return ch, nil
}

func copyItems(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func newTestProvisioner(t *testing.T) (*Provisioner, *fakeNomad) {
	t.Helper()
	pool, _ := pgtest.New(t)
	set, err := templates.Load("")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeNomad{vars: map[string]nomad.Variable{}}
	p, err := New(context.Background(), Config{BaseDomain: "spaces.test", Template: templates.Dev, Templates: set,
		StandinBin: "/bin/true", TenantDatabaseURL: pgtest.ServerURL(t)}, pool, f, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p, f
}

func TestSecretsCheckAndSet(t *testing.T) {
	p, f := newTestProvisioner(t)
	ctx := context.Background()
	// Another pass creates the variable between our read and our create: we use theirs.
	theirs := map[string]string{}
	for _, k := range secretKeys {
		theirs[k] = "theirs-" + k
	}
	f.beforeCreate = func() { f.CreateVariable(ctx, nomad.VariablePath("space-a"), theirs) } //nolint:errcheck
	got, err := p.ensureSecrets(ctx, "space-a")
	if err != nil {
		t.Fatal(err)
	}
	if got[keyDBPassword] != "theirs-db_password" {
		t.Errorf("secrets = %v, want the concurrent writer's", got)
	}
	// A variable missing a key (an older version) gets it added, the others kept.
	f.vars[nomad.VariablePath("space-b")] = nomad.Variable{Path: nomad.VariablePath("space-b"), Items: map[string]string{keyDBPassword: "old"}, ModifyIndex: 99}
	got, err = p.ensureProvisioningSecrets(ctx, "space-b")
	if err != nil {
		t.Fatal(err)
	}
	if got[keyDBPassword] != "old" || len(got[keyOwnerPassword]) < 20 {
		t.Errorf("secrets = %v", got)
	}
	again, _ := p.ensureProvisioningSecrets(ctx, "space-b")
	if again[keyOwnerPassword] != got[keyOwnerPassword] {
		t.Error("a second pass changed a secret")
	}
}

// TestDatabaseTakesTheStoredPassword plays a crash after CREATE ROLE with a password nobody
// kept: the next pass sets the password from the Nomad Variable, and the space can log in.
func TestDatabaseTakesTheStoredPassword(t *testing.T) {
	p, _ := newTestProvisioner(t)
	ctx := context.Background()
	slug := "dbtest-" + strings.ToLower(newSecret()[:8])
	name := DatabaseName(slug)
	t.Cleanup(func() {
		p.tenant.Exec(context.Background(), "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)") //nolint:errcheck
		p.tenant.Exec(context.Background(), "DROP ROLE IF EXISTS "+pgx.Identifier{name}.Sanitize())                     //nolint:errcheck
	})
	if _, err := p.tenant.Exec(ctx, "CREATE ROLE "+pgx.Identifier{name}.Sanitize()+" LOGIN PASSWORD 'lost-in-a-crash'"); err != nil {
		t.Fatal(err)
	}
	s := tenants.Space{Slug: slug, Limits: quota.Limits{StorageBytes: quota.GB, Accounts: 1}}
	stored := newSecret()
	for range 2 { // twice: the second pass changes nothing
		if err := p.ensureDatabase(ctx, s, stored); err != nil {
			t.Fatal(err)
		}
	}
	// The test server may trust every login, so check the stored verifier against the password.
	var verifier string
	if err := p.tenant.QueryRow(ctx, `SELECT rolpassword FROM pg_authid WHERE rolname = $1`, name).Scan(&verifier); err != nil {
		t.Fatal(err)
	}
	if !scramMatches(t, verifier, stored) {
		t.Errorf("role %s does not have the stored password (verifier %s)", name, verifier)
	}
	var owner string
	if err := p.tenant.QueryRow(ctx, `SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1`, name).Scan(&owner); err != nil || owner != name {
		t.Errorf("database owner = %q, %v", owner, err)
	}
}

// scramMatches recomputes a SCRAM-SHA-256 verifier's keys from password and its salt.
func scramMatches(t *testing.T, verifier, password string) bool {
	t.Helper()
	var iter int
	var salt, keys string
	head, keys, _ := strings.Cut(strings.TrimPrefix(verifier, "SCRAM-SHA-256$"), "$")
	iterS, salt, _ := strings.Cut(head, ":")
	iter, _ = strconv.Atoi(iterS)
	rawSalt, err := base64.StdEncoding.DecodeString(salt)
	if err != nil || iter == 0 {
		return false
	}
	salted, _ := pbkdf2.Key(sha256.New, password, rawSalt, iter, sha256.Size)
	h := hmac.New(sha256.New, salted)
	h.Write([]byte("Client Key"))
	storedKey := sha256.Sum256(h.Sum(nil))
	return strings.HasPrefix(keys, base64.StdEncoding.EncodeToString(storedKey[:])+":")
}

// TestRenderedUserLimitLeavesTheAssociationItsLimit: Nextcloud counts the service's own account
// against its user limit, so both jobspecs render the association's limit plus that account.
func TestRenderedUserLimitLeavesTheAssociationItsLimit(t *testing.T) {
	p, _ := newTestProvisioner(t)
	s := tenants.Space{ID: 7, Slug: "asso", Generation: 1, Limits: quota.Limits{StorageBytes: 40 * quota.GB, Accounts: 50}}
	for _, name := range templates.Names {
		hcl, err := p.cfg.Templates.Render(name, p.Params(s))
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{templates.Dev: `"one-click-instance.user-limit": 51`,
			templates.Production: `'one-click-instance.user-limit' => 51`}[name]
		if !strings.Contains(hcl, want) {
			t.Errorf("%s jobspec lacks %s", name, want)
		}
	}
}

// TestOwnerPasswordForgottenOnceActive: the one-time password leaves the Variable, the runtime
// secrets stay, and a later repair of the secrets does not bring it back.
func TestOwnerPasswordForgottenOnceActive(t *testing.T) {
	p, f := newTestProvisioner(t)
	ctx := context.Background()
	before, err := p.ensureProvisioningSecrets(ctx, "space-c")
	if err != nil || before[keyOwnerPassword] == "" {
		t.Fatalf("provisioning secrets = %v, %v", before, err)
	}
	for range 2 { // the second finds nothing to do
		if err := p.forgetOwnerPassword(ctx, "space-c"); err != nil {
			t.Fatal(err)
		}
	}
	after := f.vars[nomad.VariablePath("space-c")].Items
	if _, kept := after[keyOwnerPassword]; kept || after[keyDBPassword] != before[keyDBPassword] {
		t.Errorf("variable after = %v", after)
	}
	again, err := p.ensureSecrets(ctx, "space-c")
	if _, back := again[keyOwnerPassword]; err != nil || back {
		t.Errorf("a repair brought the one-time password back: %v, %v", again, err)
	}
}

func TestOwnerLoginIsOneNextcloudAccepts(t *testing.T) {
	for _, tt := range []struct{ email, want string }{
		{"Contact@Asso.example", "contact@asso.example"},
		{"asso+cloud@gmail.com", "asso_cloud@gmail.com"},
		{"o'brien@example.org", "o'brien@example.org"},
		{"élise@exemple.fr", "__lise@exemple.fr"},
		{strings.Repeat("a", 70) + "@example.org", strings.Repeat("a", 64)},
	} {
		got := OwnerLogin(tenants.Space{ContactEmail: tt.email})
		if got != tt.want {
			t.Errorf("OwnerLogin(%q) = %q, want %q", tt.email, got, tt.want)
		}
		for _, c := range got {
			if !strings.ContainsRune("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _.@-'", c) || len(got) > 64 {
				t.Errorf("OwnerLogin(%q) = %q, which Nextcloud refuses", tt.email, got)
			}
		}
	}
}
