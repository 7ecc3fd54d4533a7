package main

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/assospaces/spaces/provisioner/nextcloud"
)

// TestServeMany runs `serve-many` for two hosts on one database and talks to each through its
// Host header; an unknown host gets the untrusted-domain answer.
func TestServeMany(t *testing.T) {
	bin := standinBinary(t)
	db := newTenantDB(t)
	state := t.TempDir()
	confDir := filepath.Join(state, "config")
	if err := os.MkdirAll(confDir, 0o750); err != nil {
		t.Fatal(err)
	}
	// Settings every instance takes, as the dev template renders them for one.
	if err := os.WriteFile(filepath.Join(confDir, "limits.config.json"), []byte(`{"hashingCost": 4, "one-click-instance": true, "one-click-instance.user-limit": 2}`), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "serve-many", "--listen", "127.0.0.1:0", "one.spaces.test", "two.spaces.test")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "POSTGRES_HOST=" + db.hostPort, "POSTGRES_DB=" + db.name,
		"POSTGRES_USER=" + db.user, "POSTGRES_PASSWORD=" + db.password, "NEXTCLOUD_ADMIN_USER=admin",
		"NEXTCLOUD_ADMIN_PASSWORD=many-admin-password", "NEXTCLOUD_DATA_DIR=" + filepath.Join(state, "data"),
		"NEXTCLOUD_CONFIG_DIR=" + confDir, "NC_SERVERINFO_TOKEN=many-token"}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	// The listening line names the port it bound; everything before it is logged for a failure.
	addr := ""
	var logged []string
	sc := bufio.NewScanner(stderr)
	for addr == "" && sc.Scan() {
		line := sc.Text()
		logged = append(logged, line)
		if strings.Contains(line, `msg="nextcloud stand-in listening"`) {
			for _, f := range strings.Fields(line) {
				if a, ok := strings.CutPrefix(f, "addr="); ok {
					addr = a
				}
			}
		}
	}
	if addr == "" {
		t.Fatalf("serve-many never listened:\n%s", strings.Join(logged, "\n"))
	}
	go func() { // keep draining so the process never blocks on its log
		for sc.Scan() {
		}
	}()
	for _, host := range []string{"one.spaces.test", "two.spaces.test"} {
		c, err := nextcloud.New("http://"+addr, nextcloud.WithHost(host), nextcloud.WithBasicAuth("admin", "many-admin-password"),
			nextcloud.WithServerInfoToken("many-token"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.CreateUser(ctx, nextcloud.CreateUser{UserID: "only-" + host[:3], Password: "long enough pw"}); err != nil {
			t.Fatalf("%s: %v", host, err)
		}
		// The shared limit applies to each instance: admin + one account.
		if _, err := c.CreateUser(ctx, nextcloud.CreateUser{UserID: "third", Password: "long enough pw"}); !errors.Is(err, nextcloud.ErrUserLimit) {
			t.Errorf("%s: third account: %v", host, err)
		}
		ids, err := c.ListUsers(ctx, "", 0, 0)
		if err != nil || strings.Join(ids, ",") != "admin,only-"+host[:3] {
			t.Errorf("%s: users %v %v", host, ids, err)
		}
		if info, err := c.ServerInfo(ctx); err != nil || info.Nextcloud.Storage.NumUsers != 1 {
			t.Errorf("%s: serverinfo %+v %v", host, info, err)
		}
	}
	c, _ := nextcloud.New("http://"+addr, nextcloud.WithHost("three.spaces.test"))
	if _, err := c.Status(ctx); !errors.Is(err, nextcloud.ErrUntrustedDomain) {
		t.Errorf("unknown host: %v", err)
	}
}
