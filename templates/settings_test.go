package templates_test

import (
	"encoding/json"
	"strings"
	"testing"

	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/assospaces/spaces/templates"
)

func withSettings() templates.Params {
	p := params()
	p.Settings = templates.Settings{
		AssociationName: `Les Amis d'{{ "Émile" }} ${x}`, Language: "fr", Locale: "fr_FR", PhoneRegion: "FR",
		MailFromAddress: "no-reply", MailDomain: "tmpltest.spaces.example",
		SMTPHost: "relay.example", SMTPPort: 587, SMTPUser: "spaces",
		ImprintURL: "https://spaces.example/mentions", PrivacyURL: "https://spaces.example/privacy",
		OfficeURL: "https://office.example", Apps: templates.DefaultApps,
	}
	return p
}

func task(tg *nomadapi.TaskGroup, name string) *nomadapi.Task {
	for _, t := range tg.Tasks {
		if t.Name == name {
			return t
		}
	}
	return nil
}

func templateAt(t *nomadapi.Task, dest string) string {
	for _, tp := range t.Templates {
		if tp.DestPath != nil && *tp.DestPath == dest {
			return *tp.EmbeddedTmpl
		}
	}
	return ""
}

// Both jobspecs, parsed by Nomad, carry a cron task beside Nextcloud, the space's system config
// (mail through the relay, French defaults) and the settings hook's values, and the SMTP
// password only as a nomadVar reference.
func TestSpaceSettingsInBothJobspecs(t *testing.T) {
	set, err := templates.Load("")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("production", func(t *testing.T) {
		hcl, job := parse(t, set, templates.Production, withSettings())
		tg := job.TaskGroups[0]
		cron, nc := task(tg, "cron"), task(tg, "nextcloud")
		if cron == nil || nc == nil {
			t.Fatalf("tasks = %v", tg.Tasks)
		}
		if ep, _ := cron.Config["entrypoint"].([]any); len(ep) != 1 || ep[0] != "/cron.sh" {
			t.Errorf("cron entrypoint = %v", cron.Config["entrypoint"])
		}
		if cron.Config["image"] != nc.Config["image"] || len(cron.VolumeMounts) != 1 || *cron.VolumeMounts[0].Destination != "/var/www/html" {
			t.Errorf("cron runs %v with %+v, want Nextcloud's image on the data volume", cron.Config["image"], cron.VolumeMounts)
		}
		if cron.Lifecycle == nil || cron.Lifecycle.Hook != "poststart" || !cron.Lifecycle.Sidecar {
			t.Errorf("cron lifecycle = %+v", cron.Lifecycle)
		}
		for _, tk := range []*nomadapi.Task{nc, cron} {
			conf := templateAt(tk, "local/space.config.php")
			for _, want := range []string{"'mail_smtpmode' => 'smtp'", "'mail_smtphost' => 'relay.example'", "'mail_smtpport' => 587",
				"'mail_smtpauth' => true", "'mail_smtpname' => 'spaces'", "file_get_contents('/secrets/smtp_password')",
				"'mail_from_address' => 'no-reply'", "'mail_domain' => 'tmpltest.spaces.example'",
				"'default_language' => 'fr'", "'default_locale' => 'fr_FR'", "'default_phone_region' => 'FR'"} {
				if !strings.Contains(conf, want) {
					t.Errorf("%s space.config.php lacks %s:\n%s", tk.Name, want, conf)
				}
			}
			if pw := templateAt(tk, "secrets/smtp_password"); !strings.Contains(pw, `nomadVar "nomad/jobs/space-tmpltest"`) || !strings.Contains(pw, ".smtp_password") {
				t.Errorf("%s smtp_password template = %q", tk.Name, pw)
			}
		}
		hook := templateAt(nc, "local/space-settings.sh")
		for _, want := range []string{"occ background:cron", `occ app:enable "$app"`, `occ theming:config name "$SPACES_THEMING_NAME"`,
			"occ config:app:set richdocuments wopi_url"} {
			if !strings.Contains(hook, want) {
				t.Errorf("hook lacks %s:\n%s", want, hook)
			}
		}
		if nc.Env["SPACES_APPS"] != "calendar contacts richdocuments" || nc.Env["SPACES_THEMING_NAME"] != `Les Amis d'{{ "Émile" }} $ {x}` ||
			!strings.Contains(nc.Env["SPACES_APPS_DISABLED"], "deck") {
			t.Errorf("env = %v", nc.Env)
		}
		if !strings.Contains(hcl, "/docker-entrypoint-hooks.d/before-starting/space-settings.sh") {
			t.Error("the hook is not mounted where the image runs it at every start")
		}
	})
	t.Run("dev", func(t *testing.T) {
		_, job := parse(t, set, templates.Dev, withSettings())
		tg := job.TaskGroups[0]
		cron, nc := task(tg, "cron"), task(tg, "nextcloud")
		if cron == nil || nc == nil {
			t.Fatalf("tasks = %v", tg.Tasks)
		}
		if args, _ := cron.Config["args"].([]any); len(args) != 1 || args[0] != "cron" || cron.Config["command"] != "/usr/local/bin/nextcloud-standin" {
			t.Errorf("cron config = %v", cron.Config)
		}
		var conf map[string]any
		if err := json.Unmarshal([]byte(templateAt(nc, "local/config/space.config.json")), &conf); err != nil {
			t.Fatalf("space.config.json: %v", err)
		}
		for k, v := range map[string]any{"mail_smtphost": "relay.example", "mail_smtpport": 587.0, "mail_from_address": "no-reply",
			"mail_domain": "tmpltest.spaces.example", "default_language": "fr", "default_locale": "fr_FR", "default_phone_region": "FR"} {
			if conf[k] != v {
				t.Errorf("%s = %v, want %v", k, conf[k], v)
			}
		}
		if !strings.Contains(templateAt(nc, "local/hooks/before-starting/space-settings.sh"), "occ background:cron") {
			t.Error("dev hook missing")
		}
	})
}

func TestSettingsValidated(t *testing.T) {
	set, err := templates.Load("")
	if err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string]func(*templates.Params){
		"unsupported app":     func(p *templates.Params) { p.Apps = []string{"calendar", "mail"} },
		"braces in smtp user": func(p *templates.Params) { p.SMTPUser = "{{ env }}" },
		"office not a URL":    func(p *templates.Params) { p.OfficeURL = "office.example" },
		"bad locale":          func(p *templates.Params) { p.Locale = "fr-FR" },
		"line in name":        func(p *templates.Params) { p.AssociationName = "a\nb" },
	} {
		p := withSettings()
		edit(&p)
		if _, err := set.Render(templates.Production, p); err == nil {
			t.Errorf("%s: rendered", name)
		}
	}
}

func TestPHPString(t *testing.T) {
	for in, want := range map[string]string{`a'b\c`: `'a\'b\\c'`, "x${y}": "'x$${y}'", "%{z}": "'%%{z}'"} {
		if got := templates.PHPString(in); got != want {
			t.Errorf("PHPString(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestEnvTextDefusesNomadInterpolation: an association's name reaches a task's env block; Nomad
// would replace a ${…} in it with the task's values when the task starts.
func TestEnvTextDefusesNomadInterpolation(t *testing.T) {
	for in, want := range map[string]string{
		"Les Amis du Vélo":          "Les Amis du Vélo",
		"${NOMAD_META_spaces_slug}": "$ {NOMAD_META_spaces_slug}",
		"Prix: 5$ {sic}":            "Prix: 5$ {sic}",
		"$${x} and ${y}":            "$$ {x} and $ {y}",
	} {
		if got := templates.EnvText(in); got != want {
			t.Errorf("EnvText(%q) = %q, want %q", in, got, want)
		}
	}
}
