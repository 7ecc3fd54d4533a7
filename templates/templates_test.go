package templates_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/assospaces/spaces/templates"
)

// sentinel stands for a secret: it is written where the jobs read their secrets from and must
// never show up in what we render or what Nomad parses.
const sentinel = "S3NT1NEL-never-in-a-jobspec"

func nomadClient(t *testing.T) *nomadapi.Client {
	t.Helper()
	if os.Getenv("NOMAD_ADDR") == "" {
		t.Fatal("NOMAD_ADDR is not set: these tests need a real Nomad agent (run them with `make test`)")
	}
	c, err := nomadapi.NewClient(nomadapi.DefaultConfig())
	if err != nil {
		t.Fatalf("nomad client: %v", err)
	}
	return c
}

func params() templates.Params {
	return templates.Params{
		JobID: "space-tmpltest", Namespace: "default", Slug: "tmpltest", SpaceID: 42, Generation: 3,
		Domain: "tmpltest.spaces.example", BaseDomain: "spaces.example", TLSResolver: "letsencrypt-dns", VariablePath: "nomad/jobs/space-tmpltest", VolumeName: "space-tmpltest",
		DBHost: "10.0.0.5", DBPort: 5432, DBName: "space_tmpltest", DBUser: "space_tmpltest",
		AdminUser: "spaces-admin", UserLimit: 50, StorageBytes: 40 << 30,
		StandinBin: "/usr/local/bin/nextcloud-standin", Image: "nextcloud:31-apache",
		CPU: 500, MemoryMB: 512, MinHealthy: "10s",
	}
}

// parse renders name and has the real Nomad agent parse it.
func parse(t *testing.T, set *templates.Set, name string, p templates.Params) (string, *nomadapi.Job) {
	t.Helper()
	hcl, err := set.Render(name, p)
	if err != nil {
		t.Fatalf("render %s: %v", name, err)
	}
	job, err := nomadClient(t).Jobs().ParseHCL(hcl, true)
	if err != nil {
		t.Fatalf("nomad parses %s: %v\n%s", name, err, hcl)
	}
	return hcl, job
}

func TestBothTemplatesParse(t *testing.T) {
	set, err := templates.Load("")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range templates.Names {
		t.Run(name, func(t *testing.T) {
			_, job := parse(t, set, name, params())
			if *job.ID != "space-tmpltest" || *job.Type != "service" {
				t.Errorf("job id/type = %s/%s", *job.ID, *job.Type)
			}
			if job.Meta["spaces_space_id"] != "42" || job.Meta["spaces_generation"] != "3" {
				t.Errorf("meta = %v", job.Meta)
			}
			tg := job.TaskGroups[0]
			if len(tg.Services) != 1 || tg.Services[0].Provider != "nomad" || tg.Services[0].Name != "space-tmpltest" {
				t.Fatalf("services = %+v", tg.Services)
			}
			checks := tg.Services[0].Checks
			if len(checks) != 1 || checks[0].Type != "http" || checks[0].Path != "/status.php" {
				t.Errorf("checks = %+v", checks)
			}
			if h := checks[0].Header["Host"]; len(h) != 1 || h[0] != "tmpltest.spaces.example" {
				t.Errorf("check Host header = %v", h)
			}
			if !contains(tg.Services[0].Tags, "traefik.http.routers.space-tmpltest.rule=Host(`tmpltest.spaces.example`)") {
				t.Errorf("tags = %v", tg.Services[0].Tags)
			}
			// Both mount the space's data volume, as the provisioner creates it: a dynamic host
			// volume with one capability, single-node-single-writer on a file system. Another
			// access mode would never be placed on it.
			v := tg.Volumes["data"]
			if v == nil || v.Type != "host" || v.Source != "space-tmpltest" || v.ReadOnly ||
				v.AccessMode != "single-node-single-writer" || v.AttachmentMode != "file-system" || v.PerAlloc {
				t.Errorf("data volume = %+v", v)
			}
		})
	}
}

// The volume block follows VolumeName, which Validate requires.
func TestVolumeName(t *testing.T) {
	set, err := templates.Load("")
	if err != nil {
		t.Fatal(err)
	}
	p := params()
	p.VolumeName = "space-other"
	for _, name := range templates.Names {
		hcl, err := set.Render(name, p)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(hcl, `source          = "space-other"`) {
			t.Errorf("%s: the volume block does not name VolumeName:\n%s", name, hcl)
		}
	}
	for _, bad := range []string{"", "space x", `space-"x"`} {
		p.VolumeName = bad
		if _, err := set.Render(templates.Dev, p); err == nil {
			t.Errorf("volume name %q renders", bad)
		}
	}
}

// The dev jobspec runs the stand-in on raw_exec, which cannot mount a volume: its data directory
// is the volume's host path, taken from the job meta the provisioner sets, and nothing of the
// space's files stays in the allocation directory.
func TestDevDataDirectory(t *testing.T) {
	set, err := templates.Load("")
	if err != nil {
		t.Fatal(err)
	}
	_, job := parse(t, set, templates.Dev, params())
	tg := job.TaskGroups[0]
	task := tg.Tasks[0]
	if task.Driver != "raw_exec" || len(task.VolumeMounts) != 0 {
		t.Errorf("task %s: driver %s, volume mounts %+v; raw_exec takes none", task.Name, task.Driver, task.VolumeMounts)
	}
	if got := task.Env["NEXTCLOUD_DATA_DIR"]; got != "${NOMAD_META_spaces_volume_path}" {
		t.Errorf("NEXTCLOUD_DATA_DIR = %q, want the volume's host path from the job meta", got)
	}
	if d := tg.EphemeralDisk; d != nil && (d.Sticky != nil && *d.Sticky || d.Migrate != nil && *d.Migrate) {
		t.Errorf("ephemeral disk %+v: the data is on the volume, nothing to keep or migrate", d)
	}
}

func TestProductionContent(t *testing.T) {
	set, err := templates.Load("")
	if err != nil {
		t.Fatal(err)
	}
	// A secret where the job reads it, to be sure the job reads it rather than carries it.
	c := nomadClient(t)
	p := params()
	if _, _, err := c.Variables().Create(&nomadapi.Variable{Path: p.VariablePath, Items: nomadapi.VariableItems{
		"db_password": sentinel, "admin_password": sentinel, "redis_password": sentinel, "serverinfo_token": sentinel}}, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Variables().Delete(p.VariablePath, nil) }) //nolint:errcheck

	hcl, job := parse(t, set, templates.Production, p)
	raw, _ := json.Marshal(job)
	if strings.Contains(hcl, sentinel) || strings.Contains(string(raw), sentinel) {
		t.Fatal("a secret appears in the rendered or parsed jobspec")
	}
	if strings.Contains(string(raw), "POSTGRES_PASSWORD\"") || strings.Contains(string(raw), "NEXTCLOUD_ADMIN_PASSWORD\"") {
		t.Error("a password is passed as a literal environment variable")
	}

	tg := job.TaskGroups[0]
	tasks := map[string]*nomadapi.Task{}
	for _, task := range tg.Tasks {
		tasks[task.Name] = task
	}
	nc, redis := tasks["nextcloud"], tasks["redis"]
	if nc == nil || redis == nil {
		t.Fatalf("tasks = %v", tasks)
	}
	if nc.Driver != "docker" || nc.Config["image"] != "nextcloud:31-apache" {
		t.Errorf("nextcloud task: driver %s image %v", nc.Driver, nc.Config["image"])
	}
	if redis.Config["image"] != "redis:7-alpine" || redis.Lifecycle == nil || !redis.Lifecycle.Sidecar {
		t.Errorf("redis task = %+v", redis)
	}
	wantEnv := map[string]string{
		"POSTGRES_HOST": "10.0.0.5:5432", "POSTGRES_DB": "space_tmpltest", "POSTGRES_USER": "space_tmpltest",
		"POSTGRES_PASSWORD_FILE": "/secrets/db_password", "NEXTCLOUD_ADMIN_USER": "spaces-admin",
		"NEXTCLOUD_ADMIN_PASSWORD_FILE": "/secrets/admin_password", "NEXTCLOUD_TRUSTED_DOMAINS": "tmpltest.spaces.example",
		"REDIS_HOST": "127.0.0.1", "REDIS_HOST_PASSWORD_FILE": "/secrets/redis_password",
	}
	for k, v := range wantEnv {
		if nc.Env[k] != v {
			t.Errorf("env %s = %q, want %q", k, nc.Env[k], v)
		}
	}
	if len(nc.VolumeMounts) != 1 || *nc.VolumeMounts[0].Volume != "data" || *nc.VolumeMounts[0].Destination != "/var/www/html" ||
		*nc.VolumeMounts[0].ReadOnly {
		t.Errorf("volume mounts = %+v", nc.VolumeMounts)
	}
	if len(redis.VolumeMounts) != 0 {
		t.Errorf("redis mounts the space's data: %+v", redis.VolumeMounts)
	}
	if *nc.Resources.CPU != 500 || *nc.Resources.MemoryMB != 512 {
		t.Errorf("resources = %+v", nc.Resources)
	}
	var limits, dbSecret bool
	for _, tpl := range nc.Templates {
		data := *tpl.EmbeddedTmpl
		if strings.Contains(data, "'one-click-instance.user-limit' => 50") {
			limits = true
		}
		if *tpl.DestPath == "secrets/db_password" && strings.Contains(data, `nomadVar "nomad/jobs/space-tmpltest"`) {
			dbSecret = true
		}
	}
	if !limits || !dbSecret {
		t.Errorf("templates: user limit file %v, db password from nomadVar %v", limits, dbSecret)
	}
	svc := tg.Services[0]
	if svc.Checks[0].CheckRestart == nil {
		t.Error("production check has no check_restart")
	}
}

// The production router asks for one wildcard certificate of the base domain through the named
// resolver, rather than one certificate per space: a burst of spaces would pass the certificate
// authority's rate limits.
func TestProductionWildcardCertificate(t *testing.T) {
	set, err := templates.Load("")
	if err != nil {
		t.Fatal(err)
	}
	p := params()
	p.Domain, p.BaseDomain, p.TLSResolver = "tmpltest.asso.example.org", "asso.example.org", "dns_ovh"
	_, job := parse(t, set, templates.Production, p)
	tags := job.TaskGroups[0].Services[0].Tags
	router := "traefik.http.routers.space-tmpltest."
	for _, want := range []string{
		router + "rule=Host(`tmpltest.asso.example.org`)",
		router + "tls=true",
		router + "tls.certresolver=dns_ovh",
		router + "tls.domains[0].main=asso.example.org",
		router + "tls.domains[0].sans=*.asso.example.org",
	} {
		if !contains(tags, want) {
			t.Errorf("no tag %s in %v", want, tags)
		}
	}
	for _, tag := range tags {
		if strings.Contains(tag, "tmpltest.asso") && !strings.Contains(tag, ".rule=") {
			t.Errorf("tag %s asks for a certificate of the space's own name", tag)
		}
	}

	// What the tags are made of is checked like every other value.
	for _, bad := range []templates.Params{
		func() templates.Params { q := p; q.TLSResolver = "le\"}`,x"; return q }(),
		func() templates.Params { q := p; q.BaseDomain = "other.example"; return q }(),
		func() templates.Params { q := p; q.BaseDomain = "*.asso.example.org"; return q }(),
	} {
		if hcl, err := set.Render(templates.Production, bad); err == nil {
			t.Errorf("params %s / %s render:\n%s", bad.BaseDomain, bad.TLSResolver, hcl)
		}
	}
}

func TestOverrideDirectory(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "dev.nomad.hcl"), []byte(`job [[ hcl .JobID ]] { [[ .Nope ]] }`), 0o600); err != nil {
		t.Fatal(err)
	}
	set, err := templates.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(set.Origin(templates.Production), "embedded:") || set.Origin(templates.Dev) != filepath.Join(dir, "dev.nomad.hcl") {
		t.Errorf("origins %s, %s", set.Origin(templates.Production), set.Origin(templates.Dev))
	}
	if _, err := set.Render(templates.Dev, params()); err == nil || !strings.Contains(err.Error(), "Nope") {
		t.Errorf("render of a broken override: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "production.nomad.hcl"), []byte(`job [[ .JobID `), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := templates.Load(dir); err == nil {
		t.Error("a template that does not parse loads")
	}
}

func TestHCLString(t *testing.T) {
	for in, want := range map[string]string{`a"b`: `"a\"b"`, "${x}": `"$${x}"`, "%{ if }": `"%%{ if }"`} {
		if got := templates.HCLString(in); got != want {
			t.Errorf("HCLString(%q) = %s, want %s", in, got, want)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
