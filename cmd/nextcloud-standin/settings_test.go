package main

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The space settings' occ commands answer as Nextcloud 31's occ does, serve runs the
// before-starting hooks (as the image's entrypoint does) before it listens, and cron records its
// runs in core lastcron, on the same state.
func TestSettingsHookOCCAndCron(t *testing.T) {
	bin := standinBinary(t)
	db := newTenantDB(t)
	dir := t.TempDir()
	hooks := filepath.Join(dir, "hooks", "before-starting")
	if err := os.MkdirAll(hooks, 0o755); err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\nset -u\n\"$NEXTCLOUD_STANDIN_BIN\" occ background:cron\n\"$NEXTCLOUD_STANDIN_BIN\" occ app:enable calendar contacts\n"
	if err := os.WriteFile(filepath.Join(hooks, "space-settings.sh"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "POSTGRES_HOST="+db.hostPort, "POSTGRES_DB="+db.name, "POSTGRES_USER="+db.user,
		"POSTGRES_PASSWORD="+db.password, "NEXTCLOUD_ADMIN_USER=admin", "NEXTCLOUD_ADMIN_PASSWORD=a long admin password",
		"NEXTCLOUD_TRUSTED_DOMAINS=asso.spaces.test", "NEXTCLOUD_DATA_DIR="+filepath.Join(dir, "data"),
		"NEXTCLOUD_CONFIG_DIR="+filepath.Join(dir, "config"), "NEXTCLOUD_HOOKS_DIR="+filepath.Join(dir, "hooks"),
		"NEXTCLOUD_STANDIN_BIN="+bin, "NC_LISTEN=127.0.0.1:0")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	occ := func(wantOK bool, args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, bin, append([]string{"occ"}, args...)...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if (err == nil) != wantOK {
			t.Fatalf("occ %v: %v\n%s", args, err, out)
		}
		return string(out)
	}

	// First start: install, then the hook, then listen.
	serve := exec.CommandContext(ctx, bin, "serve")
	serve.Env = env
	stderr, err := serve.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { serve.Process.Kill(); serve.Wait() }) //nolint:errcheck
	sc := bufio.NewScanner(stderr)
	var log strings.Builder
	for sc.Scan() {
		log.WriteString(sc.Text() + "\n")
		if strings.Contains(sc.Text(), "nextcloud stand-in listening") {
			break
		}
	}
	go func() {
		for sc.Scan() {
		}
	}()
	if !strings.Contains(log.String(), "Set mode for background jobs to 'cron'") || !strings.Contains(log.String(), "calendar 5.2.3 enabled") {
		t.Errorf("the hook did not run before listening:\n%s", log.String())
	}
	if got := occ(true, "config:app:get", "core", "backgroundjobs_mode"); strings.TrimSpace(got) != "cron" {
		t.Errorf("backgroundjobs_mode = %q", got)
	}
	if got := occ(true, "app:enable", "calendar"); strings.TrimSpace(got) != "calendar already enabled" {
		t.Errorf("app:enable again = %q", got)
	}
	if got := occ(false, "app:enable", "nope"); !strings.Contains(got, "Could not download app nope") {
		t.Errorf("app:enable nope = %q", got)
	}
	if got := occ(true, "app:list"); !strings.Contains(got, "  - calendar\n") || !strings.Contains(got, "  - contacts\n") {
		t.Errorf("app:list = %q", got)
	}
	if got := occ(true, "theming:config", "name", "Les Amis"); strings.TrimSpace(got) != "Updated name to Les Amis" {
		t.Errorf("theming:config = %q", got)
	}
	if got := occ(true, "config:app:get", "theming", "name"); strings.TrimSpace(got) != "Les Amis" {
		t.Errorf("theming name = %q", got)
	}

	// cron: one run at start records lastcron.
	cron := exec.CommandContext(ctx, bin, "cron", "--interval", "1h")
	cron.Env = env
	if err := cron.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cron.Process.Kill(); cron.Wait() }) //nolint:errcheck
	deadline := time.Now().Add(time.Minute)
	for {
		cmd := exec.CommandContext(ctx, bin, "occ", "config:app:get", "core", "lastcron")
		cmd.Env = env
		if out, err := cmd.Output(); err == nil && strings.TrimSpace(string(out)) != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("cron never recorded lastcron")
		}
		time.Sleep(200 * time.Millisecond)
	}
}
