package templates_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/assospaces/spaces/templates"
)

// parseControlPlane has the real Nomad agent parse a control plane jobspec with its variables.
func parseControlPlane(t *testing.T, name, vars string) *nomadapi.Job {
	t.Helper()
	hcl, err := templates.ControlPlaneJobspec(name)
	if err != nil {
		t.Fatal(err)
	}
	job, err := nomadClient(t).Jobs().ParseHCLOpts(&nomadapi.JobsParseRequest{JobHCL: hcl, Variables: vars, Canonicalize: true})
	if err != nil {
		t.Fatalf("nomad parses %s: %v", name, err)
	}
	return job
}

// Both control plane jobspecs run two instances of `spaces serve`, spread over nodes, one at a
// time in an update, each checked on /readyz (and /healthz, restarting a dead one), with every
// secret read from the job's Variable and none in the job; production on docker with the image
// given, the dev one on raw_exec with the binary given.
func TestControlPlaneJobspecs(t *testing.T) {
	cases := []struct {
		name, vars, driver string
		config             map[string]any
		listen, tmpl       string
	}{
		{templates.ControlPlane,
			`image = "ghcr.io/assospaces/spaces:1.2.3"` + "\n" + `public_url = "https://espaces.example.org"` + "\n" + `base_domain = "espaces.example.org"`,
			"docker", map[string]any{"image": "ghcr.io/assospaces/spaces:1.2.3", "args": []any{"serve"}, "ports": []any{"http"}},
			"0.0.0.0:8080", "production"},
		{templates.ControlPlaneDev,
			`spaces_bin = "/opt/spaces/spaces"` + "\n" + `standin_bin = "/opt/spaces/nextcloud-standin"` + "\n" + `nomad_addr = "http://10.0.0.1:4646"`,
			"raw_exec", map[string]any{"command": "/opt/spaces/spaces", "args": []any{"serve"}},
			"${NOMAD_ADDR_http}", "dev"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			job := parseControlPlane(t, c.name, c.vars)
			if *job.ID != "spaces" || *job.Type != "service" || len(job.TaskGroups) != 1 {
				t.Fatalf("job %s type %s with %d groups", *job.ID, *job.Type, len(job.TaskGroups))
			}
			u := job.Update
			if u == nil || *u.MaxParallel != 1 || *u.HealthCheck != "checks" || !*u.AutoRevert {
				t.Errorf("update = %+v: want one instance at a time, on checks, reverted when unhealthy", u)
			}
			tg := job.TaskGroups[0]
			if *tg.Count != 2 {
				t.Errorf("count = %d, want 2", *tg.Count)
			}
			if len(tg.Spreads) != 1 || tg.Spreads[0].Attribute != "${node.unique.id}" {
				t.Errorf("spreads = %+v, want one over node.unique.id", tg.Spreads)
			}
			if len(tg.Services) != 1 || tg.Services[0].Name != "spaces" || tg.Services[0].Provider != "nomad" || tg.Services[0].PortLabel != "http" {
				t.Fatalf("services = %+v", tg.Services)
			}
			paths := map[string]*nomadapi.ServiceCheck{}
			for _, ch := range tg.Services[0].Checks {
				if ch.Type != "http" {
					t.Errorf("check %s is %s, want http", ch.Name, ch.Type)
				}
				paths[ch.Path] = &ch
			}
			if paths["/readyz"] == nil || paths["/healthz"] == nil || len(paths) != 2 {
				t.Errorf("checks on %v, want /readyz and /healthz", paths)
			} else if paths["/healthz"].CheckRestart == nil || paths["/healthz"].CheckRestart.Limit == 0 {
				t.Errorf("the /healthz check restarts nothing: %+v", paths["/healthz"].CheckRestart)
			}
			task := tg.Tasks[0]
			if task.Driver != c.driver {
				t.Errorf("driver = %s, want %s", task.Driver, c.driver)
			}
			got, _ := json.Marshal(task.Config)
			want, _ := json.Marshal(c.config)
			if string(got) != string(want) {
				t.Errorf("config = %s, want %s", got, want)
			}
			if task.Env["SPACES_LISTEN"] != c.listen || task.Env["SPACES_NOMAD_TEMPLATE"] != c.tmpl || task.Env["NOMAD_ADDR"] == "" {
				t.Errorf("env = %v", task.Env)
			}
			if *task.KillTimeout < 35e9 {
				t.Errorf("kill_timeout = %s: spaces serve needs 35 s to stop gracefully", task.KillTimeout)
			}
			// The secrets: from the job's Variable into secrets/, as environment; never in the job.
			for _, k := range []string{"SPACES_DATABASE_URL", "SPACES_TENANT_DATABASE_URL", "SPACES_SECRET_KEY", "SPACES_SMTP_URL", "NOMAD_TOKEN"} {
				if _, ok := task.Env[k]; ok {
					t.Errorf("env sets %s: it must come from the Variable", k)
				}
			}
			if len(task.Templates) != 1 {
				t.Fatalf("templates = %d, want 1", len(task.Templates))
			}
			tpl := task.Templates[0]
			if !*tpl.Envvars || !strings.HasPrefix(*tpl.DestPath, "${NOMAD_SECRETS_DIR}/") ||
				!strings.Contains(*tpl.EmbeddedTmpl, `nomadVar "nomad/jobs/spaces"`) {
				t.Errorf("template = env %v at %s:\n%s", *tpl.Envvars, *tpl.DestPath, *tpl.EmbeddedTmpl)
			}
			for _, line := range []string{"SPACES_DATABASE_URL={{ .database_url }}", "SPACES_TENANT_DATABASE_URL={{ .tenant_database_url }}",
				"SPACES_SECRET_KEY={{ .secret_key }}", "SPACES_SMTP_URL={{ .smtp_url }}"} {
				if !strings.Contains(*tpl.EmbeddedTmpl, line) {
					t.Errorf("template lacks %s", line)
				}
			}
			if len(task.Identities) == 0 && (task.Identity == nil || !task.Identity.Env) {
				t.Errorf("no workload identity in the environment: the instances have no Nomad token")
			}
		})
	}
}

// The production jobspec's router tags name the web UI's host, from public_url unless given.
func TestControlPlaneRouterHost(t *testing.T) {
	base := `image = "spaces:1"` + "\n" + `base_domain = "espaces.example.org"` + "\n"
	for vars, want := range map[string]string{
		base + `public_url = "https://espaces.example.org/"`:                                 "Host(`espaces.example.org`)",
		base + `public_url = "https://espaces.example.org:8443"`:                             "Host(`espaces.example.org`)",
		base + `public_url = "https://a.example"` + "\n" + `public_host = "www.example.org"`: "Host(`www.example.org`)",
	} {
		job := parseControlPlane(t, templates.ControlPlane, vars)
		tags := job.TaskGroups[0].Services[0].Tags
		if !slices.Contains(tags, "traefik.http.routers.spaces.rule="+want) {
			t.Errorf("with %q: tags = %v, want the rule %s", vars, tags, want)
		}
	}
}

// A missing variable is Nomad's error, naming it.
func TestControlPlaneNeedsItsVariables(t *testing.T) {
	hcl, err := templates.ControlPlaneJobspec(templates.ControlPlane)
	if err != nil {
		t.Fatal(err)
	}
	_, err = nomadClient(t).Jobs().ParseHCLOpts(&nomadapi.JobsParseRequest{JobHCL: hcl,
		Variables: `public_url = "https://espaces.example.org"` + "\n" + `base_domain = "espaces.example.org"`})
	if err == nil || !strings.Contains(err.Error(), "image") {
		t.Errorf("parse without image: %v, want an error naming the variable", err)
	}
	if _, err := templates.ControlPlaneJobspec("prod"); err == nil || !strings.Contains(err.Error(), "spaces-dev") {
		t.Errorf("unknown name: %v", err)
	}
}
