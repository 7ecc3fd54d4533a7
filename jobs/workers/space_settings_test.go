package workers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/assospaces/spaces/jobs"
	"github.com/assospaces/spaces/provisioner"
	"github.com/assospaces/spaces/quota"
	"github.com/assospaces/spaces/tenants"
	"github.com/assospaces/spaces/tenants/pgtest"
)

// smtpSentinel stands for the operator's SMTP password: it must reach the space's Nomad Variable
// and nothing else (no jobspec).
const smtpSentinel = "SMTP-S3NT1NEL-never-in-a-jobspec"

// A provisioned dev space is ready to use: background jobs in cron mode and run by its cron task,
// mail through the operator's relay from its own domain, French defaults, the association's name
// and the service's legal pages in the theming, calendar, contacts and Nextcloud Office with its
// server, the first-steps guide in the welcome mail and in the first account's files; the SMTP
// password only in the Variable. Settings changed behind our back are put back by the reconciler.
func TestProvisionedSpaceIsReadyToUse(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{space: provisioner.SpaceSettings{
		SMTPHost: "relay.test", SMTPPort: 587, SMTPUser: "spaces", SMTPPassword: smtpSentinel,
		ImprintURL: "https://spaces.test/mentions", PrivacyURL: "https://spaces.test/privacy",
		OfficeURL: "https://office.test", HelpURL: "https://spaces.test/help",
	}})
	s := e.approve(randomSlug("ready"))
	s = waitState(t, e.pool, s.ID, tenants.SpaceActive, tenants.SpaceFailed)
	if s.State != tenants.SpaceActive {
		t.Fatalf("space %s: %s (%s)", s.Slug, s.State, s.FailureReason)
	}
	ctx := context.Background()
	a := accessSpace(t, e, s)
	domain := e.prov.Domain(s.Slug)

	checkAppSettings := func(t *testing.T, a spaceAccess) {
		t.Helper()
		apps, err := a.admin.EnabledApps(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, app := range []string{"calendar", "contacts", "richdocuments"} {
			if !slices.Contains(apps, app) {
				t.Errorf("enabled apps %v lack %s", apps, app)
			}
		}
		if slices.Contains(apps, "deck") {
			t.Errorf("an app not in the list is enabled: %v", apps)
		}
		for _, v := range [][3]string{{"core", "backgroundjobs_mode", "cron"}, {"theming", "name", s.AssociationName},
			{"theming", "imprintUrl", "https://spaces.test/mentions"}, {"theming", "privacyUrl", "https://spaces.test/privacy"},
			{"richdocuments", "wopi_url", "https://office.test"}} {
			got, err := a.admin.AppValue(ctx, v[0], v[1])
			if err != nil || got != v[2] {
				t.Errorf("%s %s = %q (%v), want %q", v[0], v[1], got, err, v[2])
			}
		}
	}
	t.Run("app settings", func(t *testing.T) { checkAppSettings(t, a) })

	t.Run("cron ran", func(t *testing.T) {
		waitFor(t, "the cron task's first run", func() bool {
			v, err := a.admin.AppValue(ctx, "core", "lastcron")
			return err == nil && v != ""
		})
	})

	t.Run("system config", func(t *testing.T) {
		alloc, _, err := e.nomad.API().Allocations().Info(a.allocID, nil)
		if err != nil {
			t.Fatal(err)
		}
		r, err := e.nomad.API().AllocFS().Cat(alloc, "nextcloud/local/config/space.config.json", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		b, _ := io.ReadAll(r)
		var conf map[string]any
		if err := json.Unmarshal(b, &conf); err != nil {
			t.Fatalf("space.config.json: %v\n%s", err, b)
		}
		for k, v := range map[string]any{"mail_smtpmode": "smtp", "mail_smtphost": "relay.test", "mail_smtpport": 587.0,
			"mail_smtpname": "spaces", "mail_from_address": "no-reply", "mail_domain": domain,
			"default_language": "fr", "default_locale": "fr_FR", "default_phone_region": "FR"} {
			if conf[k] != v {
				t.Errorf("%s = %v, want %v", k, conf[k], v)
			}
		}
	})

	t.Run("no secret in the jobspec", func(t *testing.T) {
		job, err := e.nomad.Job(ctx, provisioner.JobID(s.Slug))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(job)
		if strings.Contains(string(b), smtpSentinel) {
			t.Error("the SMTP password is in the job")
		}
		if a.secrets["smtp_password"] != smtpSentinel {
			t.Errorf("the Variable's smtp_password = %q", a.secrets["smtp_password"])
		}
		var args string
		if err := e.pool.QueryRow(ctx, `SELECT coalesce(string_agg(args::text, ' '), '') FROM river_job`).Scan(&args); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(args, smtpSentinel) {
			t.Error("the SMTP password is in the job table")
		}
	})

	t.Run("first steps guide", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, "http://"+a.addr+"/remote.php/dav/files/"+a.ownerID+"/Premiers%20pas.md", nil)
		req.Host = a.host
		req.SetBasicAuth(a.ownerID, a.password)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		guide, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("guide: %d %s", resp.StatusCode, guide)
		}
		wants := []string{"https://" + domain, a.ownerID, fmt.Sprint(s.Limits.Accounts) + " comptes", quota.FormatSize(s.Limits.StorageBytes), "https://spaces.test/help", "Nextcloud Office"}
		for _, want := range wants {
			if !strings.Contains(string(guide), want) {
				t.Errorf("guide lacks %q:\n%s", want, guide)
			}
		}
		var mail string
		for _, m := range e.smtp.Messages() {
			if strings.EqualFold(m.To[0], s.ContactEmail) {
				mail = m.Text
			}
		}
		for _, want := range append(wants, "Premiers pas.md") {
			if !strings.Contains(mail, want) {
				t.Errorf("welcome mail lacks %q:\n%s", want, mail)
			}
		}
	})

	// The stand-in records every app config write it is asked for (occ, OCS, its cron).
	spaceDB, err := pgx.Connect(ctx, pgtest.WithDatabase(t, pgtest.ServerURL(t), provisioner.DatabaseName(s.Slug)))
	if err != nil {
		t.Fatal(err)
	}
	defer spaceDB.Close(ctx)
	owned := []string{"core backgroundjobs_mode", "theming name", "theming imprintUrl", "theming privacyUrl",
		"richdocuments wopi_url", "calendar enabled", "contacts enabled", "richdocuments enabled"}
	writes := func(t *testing.T) map[string]int {
		t.Helper()
		rows, err := spaceDB.Query(ctx, `SELECT appid || ' ' || configkey, count(*) FROM standin_appconfig_writes GROUP BY 1`)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]int{}
		for rows.Next() {
			var k string
			var n int
			if err := rows.Scan(&k, &n); err != nil {
				t.Fatal(err)
			}
			out[k] = n
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}

	t.Run("a resumed bootstrap applies each setting once", func(t *testing.T) {
		// The settings hook wrote each one once at the job's start; the bootstrap found them set.
		for _, k := range owned {
			if n := writes(t)[k]; n != 1 {
				t.Errorf("%s written %d times by the first provisioning, want once", k, n)
			}
		}
		if _, err := e.pool.Exec(ctx, `UPDATE spaces SET state = 'provisioning' WHERE id = $1`, s.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.prov.Provision(ctx, s.ID, func(context.Context, pgxTx, provisioner.Ready) error { return nil }); err != nil {
			t.Fatal(err)
		}
		checkAppSettings(t, a)
		for _, k := range owned {
			if n := writes(t)[k]; n != 1 {
				t.Errorf("%s written %d times after a resumed bootstrap, want still once", k, n)
			}
		}
	})

	t.Run("changed over OCS, put back by the next usage pass", func(t *testing.T) {
		// An admin of the space (or occ) renames it, turns contacts off and deck on: the job is
		// untouched, so only a pass that looks at the settings themselves can see it.
		if err := a.admin.SetAppValue(ctx, "theming", "name", "Renamed by hand"); err != nil {
			t.Fatal(err)
		}
		if err := a.admin.DisableApp(ctx, "contacts"); err != nil {
			t.Fatal(err)
		}
		if err := a.admin.EnableApp(ctx, "deck"); err != nil {
			t.Fatal(err)
		}
		before := writes(t)
		if _, err := e.pool.Exec(ctx, `UPDATE space_usage SET next_at = now() WHERE space_id = $1`, s.ID); err != nil {
			t.Fatal(err)
		}
		runJob(t, e, jobs.CollectUsageArgs{})
		checkAppSettings(t, a)
		after := writes(t)
		for k, want := range map[string]int{"theming name": 1, "contacts enabled": 1, "deck enabled": 1, "theming imprintUrl": 0, "core backgroundjobs_mode": 0} {
			if got := after[k] - before[k]; got != want {
				t.Errorf("%s written %d times by the pass, want %d", k, got, want)
			}
		}
	})

	t.Run("jobspec changed behind our back, put back by the reconciler", func(t *testing.T) {
		if err := a.admin.SetAppValue(ctx, "theming", "name", "Renamed by hand"); err != nil {
			t.Fatal(err)
		}
		jobID := provisioner.JobID(s.Slug)
		job, err := e.nomad.Job(ctx, jobID)
		if err != nil {
			t.Fatal(err)
		}
		hash := job.Meta[provisioner.MetaSpecHash]
		for _, tk := range job.TaskGroups[0].Tasks {
			if tk.Name == "nextcloud" {
				tk.Env["SPACES_APPS"] = "calendar deck"
				tk.Env["SPACES_APPS_DISABLED"] = "contacts richdocuments"
			}
		}
		job.Meta[provisioner.MetaSpecHash] = "edited"
		if _, err := e.nomad.RegisterJob(ctx, job); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the decided jobspec back", func() bool {
			j, err := e.nomad.Job(ctx, jobID)
			return err == nil && j.Meta[provisioner.MetaSpecHash] == hash && *j.Version > *job.Version
		})
		var again spaceAccess
		waitFor(t, "the space's settings back", func() bool {
			cur, err := tenants.GetSpace(ctx, e.pool, s.ID)
			if err != nil || condition(cur, provisioner.CondHealthy).Status != "True" {
				return false
			}
			// While Nomad replaces the allocation, its service is gone for a moment.
			if regs, _, err := e.nomad.Services(ctx, jobID, 0, 0); err != nil || len(regs) == 0 {
				return false
			}
			again = accessSpace(t, e, s)
			name, err := again.admin.AppValue(ctx, "theming", "name")
			apps, err2 := again.admin.EnabledApps(ctx)
			return err == nil && err2 == nil && name == s.AssociationName && slices.Contains(apps, "contacts") &&
				slices.Contains(apps, "richdocuments") && !slices.Contains(apps, "deck")
		})
		checkAppSettings(t, again)
	})
}
