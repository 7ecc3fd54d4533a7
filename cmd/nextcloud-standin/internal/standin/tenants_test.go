package standin_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/assospaces/spaces/cmd/nextcloud-standin/internal/standin"
	"github.com/assospaces/spaces/provisioner/nextcloud"
	"github.com/assospaces/spaces/tenants/pgtest"
)

// TestTenants serves three instances from one handler on one database: each host reaches its
// own accounts, files and config, an unknown host gets Nextcloud's untrusted-domain answer, and
// reopening finds every instance as it was.
func TestTenants(t *testing.T) {
	pool, _ := pgtest.Empty(t)
	root := t.TempDir()
	ctx := context.Background()
	hosts := []string{"asso-1.spaces.test", "asso-2.spaces.test", "a-very-long-association-name-that-goes-on-and-on.spaces.test"}
	open := func() *standin.Tenants {
		t.Helper()
		ts := standin.NewTenants()
		for _, h := range hosts {
			if _, err := ts.Open(ctx, standin.TenantConfig{Pool: pool, Root: root, Host: h, AdminUser: adminUser,
				AdminPassword: adminPass, System: map[string]any{"hashingCost": 4}, Logger: quiet}); err != nil {
				t.Fatal(err)
			}
		}
		return ts
	}
	ts := open()
	srv := httptest.NewServer(ts)
	t.Cleanup(srv.Close)
	client := func(host string) *nextcloud.Client {
		c, err := nextcloud.New(srv.URL, nextcloud.WithHost(host), nextcloud.WithBasicAuth(adminUser, adminPass))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	for i, h := range hosts {
		c := client(h)
		if st, err := c.Status(ctx); err != nil || !st.Installed {
			t.Fatalf("%s: %+v %v", h, st, err)
		}
		// Each gets its own account and quota default.
		if _, err := c.CreateUser(ctx, nextcloud.CreateUser{UserID: "user" + string(rune('1'+i)), Password: "long enough pw"}); err != nil {
			t.Fatal(err)
		}
		if err := c.SetAppValue(ctx, "files", "default_quota", string(rune('1'+i))+" GB"); err != nil {
			t.Fatal(err)
		}
	}
	for i, h := range hosts {
		ids, err := client(h+":8080").ListUsers(ctx, "", 0, 0) // any port reaches the host
		if err != nil || strings.Join(ids, ",") != "admin,user"+string(rune('1'+i)) {
			t.Errorf("%s: %v %v", h, ids, err)
		}
	}
	for _, h := range []string{"unknown.spaces.test", "localhost", ""} {
		_, err := client(h).Status(ctx)
		var e *nextcloud.Error
		if !errors.Is(err, nextcloud.ErrUntrustedDomain) || !errors.As(err, &e) || e.HTTPStatus != http.StatusBadRequest || e.StatusCode != 15 {
			t.Errorf("status.php for %q: %v", h, err)
		}
		if _, err := client(h).ListUsers(ctx, "", 0, 0); !errors.Is(err, nextcloud.ErrUntrustedDomain) {
			t.Errorf("ocs for %q: %v", h, err)
		}
	}
	// Reopened on the same database and directories, every instance is as it was.
	srv2 := httptest.NewServer(open())
	t.Cleanup(srv2.Close)
	for i, h := range hosts {
		c, _ := nextcloud.New(srv2.URL, nextcloud.WithHost(h), nextcloud.WithBasicAuth(adminUser, adminPass))
		u, err := c.UserDetails(ctx, "user"+string(rune('1'+i)))
		if err != nil || u.Quota.Quota != int64(i+1)<<30 {
			t.Errorf("%s after reopening: %+v %v", h, u, err)
		}
	}
	var schemas int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'nc\_%'`).Scan(&schemas); err != nil || schemas != len(hosts) {
		t.Errorf("%d schemas %v", schemas, err)
	}
	if _, err := ts.Open(ctx, standin.TenantConfig{Pool: pool, Root: root, Host: "../escape", AdminUser: "a", AdminPassword: "b"}); err == nil {
		t.Error("a host that is no DNS name was accepted")
	}
}
