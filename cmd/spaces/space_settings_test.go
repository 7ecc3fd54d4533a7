package main

import (
	"net/url"
	"slices"
	"testing"
)

// The spaces' relay is SPACES_SPACE_SMTP_URL, else the service's own; smtps is Nextcloud's
// "ssl"; the password goes to the settings (and from there to each space's Variable only).
func TestSpaceSettingsFromConfig(t *testing.T) {
	own, _ := url.Parse("smtp://svc:svcpw@mail.internal:25")
	relay, _ := url.Parse("smtps://spaces:s3cret@relay.example:465")
	public, _ := url.Parse("https://spaces.example")
	cfg := &Config{SMTPURL: own, PublicURL: public, SpaceApps: []string{"calendar"}}
	s := spaceSettings(cfg)
	if s.SMTPHost != "mail.internal" || s.SMTPPort != 25 || s.SMTPSecure != "" || s.SMTPUser != "svc" || s.SMTPPassword != "svcpw" {
		t.Errorf("default relay = %+v", s)
	}
	if s.HelpURL != "https://spaces.example" || !slices.Equal(s.Apps, []string{"calendar"}) {
		t.Errorf("help %q apps %v", s.HelpURL, s.Apps)
	}
	cfg.SpaceSMTPURL = relay
	s = spaceSettings(cfg)
	if s.SMTPHost != "relay.example" || s.SMTPPort != 465 || s.SMTPSecure != "ssl" || s.SMTPUser != "spaces" || s.SMTPPassword != "s3cret" {
		t.Errorf("space relay = %+v", s)
	}
	set := lookupSetting("SPACES_SPACE_APPS").set
	if err := set(cfg, "calendar, contacts,calendar"); err != nil || !slices.Equal(cfg.SpaceApps, []string{"calendar", "contacts"}) {
		t.Errorf("apps = %v, %v", cfg.SpaceApps, err)
	}
	if err := set(cfg, "calendar,mail"); err == nil {
		t.Error("an app the service does not support was accepted")
	}
}
