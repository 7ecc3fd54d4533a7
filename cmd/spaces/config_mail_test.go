package main

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// SPACES_SMTP_URL takes the three forms and says which when refused, without echoing a password.
func TestConfigSMTPURL(t *testing.T) {
	s := lookupSetting("SPACES_SMTP_URL")
	for _, v := range []string{"smtps://u:pw@mail.example.org:465", "smtp://mail.example.org:587", "smtp://127.0.0.1:2525",
		"smtp://localhost:25", "smtp://relay.internal:25?tls=none"} {
		var c Config
		if err := s.set(&c, v); err != nil || c.SMTPURL == nil {
			t.Errorf("%s refused: %v", v, err)
		}
	}
	good := "SPACES_DATABASE_URL=postgres://u:p@127.0.0.1:1/db"
	key := "SPACES_SECRET_KEY=" + strings.Repeat("A", 43) + "="
	for _, tc := range []struct{ value, want string }{
		{"smtp://u:hunter2@relay.internal:25?tls=none", "password in clear"},
		{"smtp://relay.internal:25?tls=off", "tls=none"},
		{"http://relay.internal:25", "smtps://"},
	} {
		var stderr bytes.Buffer
		cmd := spacesCommand(t, []string{good, key, "SPACES_SMTP_URL=" + tc.value}, "serve")
		cmd.Stderr = &stderr
		err := cmd.Run()
		if exit, ok := err.(*exec.ExitError); !ok || exit.ExitCode() != 2 {
			t.Fatalf("%s: exit %v; stderr %s", tc.value, err, stderr.String())
		}
		msg := stderr.String()
		if !strings.Contains(msg, "SPACES_SMTP_URL") || !strings.Contains(msg, tc.want) || strings.Contains(msg, "hunter2") {
			t.Errorf("%s: message %q, want it to name the setting and %q, without the password", tc.value, msg, tc.want)
		}
	}
}

func TestConfigStaleAfter(t *testing.T) {
	s := lookupSetting("SPACES_STALE_AFTER")
	var c Config
	if err := s.set(&c, s.def); err != nil || c.StaleAfter != 90*24*time.Hour {
		t.Errorf("default %s: %v, %v", s.def, c.StaleAfter, err)
	}
	if err := s.set(&c, "0"); err != nil || c.StaleAfter != 0 {
		t.Errorf("0: %v, %v", c.StaleAfter, err)
	}
	for _, v := range []string{"1h", "-24h", "soon"} {
		if err := s.set(&c, v); err == nil {
			t.Errorf("%s accepted", v)
		}
	}
}
