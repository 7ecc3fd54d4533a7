package standin_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/assospaces/spaces/provisioner/nextcloud"
)

// The bootstrap's settings as Nextcloud answers them: the enabled apps over
// GET cloud/apps?filter=enabled (provisioning_api's AppsController::getApps: {"apps": [...]},
// 101 for an unknown filter, admins only), app:enable recorded as app config enabled = yes,
// the background job mode and cron's lastcron in core's app config.
func TestAppsAndBackgroundJobs(t *testing.T) {
	in := newInstance(t)
	ctx := context.Background()
	nc := in.client(t)

	apps, err := nc.EnabledApps(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(apps, "files") || !slices.Contains(apps, "provisioning_api") || slices.Contains(apps, "calendar") {
		t.Errorf("apps of a fresh install = %v", apps)
	}
	for _, app := range []string{"calendar", "contacts", "richdocuments"} {
		msg, err := in.srv.EnableApp(ctx, app)
		if err != nil || msg == "" {
			t.Fatalf("enable %s: %q %v", app, msg, err)
		}
	}
	if msg, _ := in.srv.EnableApp(ctx, "calendar"); msg != "calendar already enabled" {
		t.Errorf("enable again: %q", msg)
	}
	if _, err := in.srv.EnableApp(ctx, "not-an-app"); err == nil {
		t.Error("an app the store does not have was enabled")
	}
	apps, err = nc.EnabledApps(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, app := range []string{"calendar", "contacts", "richdocuments"} {
		if !slices.Contains(apps, app) {
			t.Errorf("enabled apps %v lack %s", apps, app)
		}
	}
	if !slices.IsSorted(apps) {
		t.Errorf("enabled apps not sorted: %v", apps)
	}
	if v, _ := nc.AppValue(ctx, "calendar", "enabled"); v != "yes" {
		t.Errorf("calendar enabled = %q, want yes as Nextcloud records it", v)
	}
	if msg, err := in.srv.DisableApp(ctx, "contacts"); err != nil || msg != "contacts 7.0.6 disabled" {
		t.Errorf("disable: %q %v", msg, err)
	}
	code, _, body := in.do(t, http.MethodGet, "/ocs/v1.php/cloud/apps?filter=disabled&format=json", nil, nil)
	var out struct {
		OCS struct {
			Meta struct{ StatusCode int } `json:"meta"`
			Data struct{ Apps []string }  `json:"data"`
		} `json:"ocs"`
	}
	if err := json.Unmarshal(body, &out); err != nil || code != 200 || !slices.Contains(out.OCS.Data.Apps, "contacts") {
		t.Errorf("filter=disabled: %d %s", code, body)
	}
	code, _, body = in.do(t, http.MethodGet, "/ocs/v2.php/cloud/apps?filter=bogus&format=json", nil, nil)
	var failure struct {
		OCS struct {
			Meta struct{ StatusCode int } `json:"meta"`
			Data []any                    `json:"data"`
		} `json:"ocs"`
	}
	if err := json.Unmarshal(body, &failure); err != nil || code != 400 || failure.OCS.Meta.StatusCode != 101 {
		t.Errorf("filter=bogus: %d %s, want 400 and statuscode 101", code, body)
	}

	// cron.php from the CLI: cron mode, lastcron; nothing in maintenance mode.
	now := time.Unix(1_800_000_000, 0)
	if ran, err := in.srv.RunCron(ctx, now); err != nil || !ran {
		t.Fatalf("cron: %v %v", ran, err)
	}
	if v, _ := nc.AppValue(ctx, "core", "backgroundjobs_mode"); v != "cron" {
		t.Errorf("backgroundjobs_mode = %q", v)
	}
	if v, _ := nc.AppValue(ctx, "core", "lastcron"); v != "1800000000" {
		t.Errorf("lastcron = %q", v)
	}
	if err := in.srv.SetMaintenance(true); err != nil {
		t.Fatal(err)
	}
	if ran, _ := in.srv.RunCron(ctx, now.Add(time.Hour)); ran {
		t.Error("cron ran in maintenance mode")
	}
}

// Apps enabled and disabled over OCS, as the reconciler puts a space's apps back: POST
// cloud/apps/{app} downloads and enables (998 for an app the store does not have, 997 for an
// invalid id), DELETE disables, again without error; both are empty answers.
func TestEnableAppOverOCS(t *testing.T) {
	in := newInstance(t)
	ctx := context.Background()
	nc := in.client(t)
	if err := nc.EnableApp(ctx, "deck"); err != nil {
		t.Fatal(err)
	}
	if err := nc.EnableApp(ctx, "deck"); err != nil {
		t.Fatalf("enable again: %v", err)
	}
	apps, err := nc.EnabledApps(ctx)
	if err != nil || !slices.Contains(apps, "deck") {
		t.Fatalf("after enable: %v %v", apps, err)
	}
	if err := nc.EnableApp(ctx, "notanapp"); !errors.Is(err, nextcloud.ErrNotFound) {
		t.Errorf("enable an unknown app: %v, want not found (998)", err)
	}
	code, _, body := in.do(t, http.MethodPost, "/ocs/v2.php/cloud/apps/Deck%21?format=json", nil, nil)
	var failure struct {
		OCS struct {
			Meta struct {
				StatusCode int    `json:"statuscode"`
				Message    string `json:"message"`
			} `json:"meta"`
		} `json:"ocs"`
	}
	if err := json.Unmarshal(body, &failure); err != nil || failure.OCS.Meta.StatusCode != 997 || failure.OCS.Meta.Message != "Invalid app id given" {
		t.Errorf("invalid app id: %d %s", code, body)
	}
	for range 2 {
		if err := nc.DisableApp(ctx, "deck"); err != nil {
			t.Fatal(err)
		}
	}
	if apps, _ := nc.EnabledApps(ctx); slices.Contains(apps, "deck") {
		t.Errorf("deck still enabled: %v", apps)
	}
}

// A non-admin may not list apps: 403 on v2, as for any admin-only route.
func TestCloudAppsAdminOnly(t *testing.T) {
	in := newInstance(t)
	ctx := context.Background()
	if _, err := in.client(t).CreateUser(ctx, nextcloud.CreateUser{UserID: "member", Password: "a long password 123"}); err != nil {
		t.Fatal(err)
	}
	c, err := nextcloud.New(in.http.URL, nextcloud.WithBasicAuth("member", "a long password 123"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.EnabledApps(ctx)
	var e *nextcloud.Error
	if !errors.As(err, &e) || e.HTTPStatus != http.StatusForbidden {
		t.Errorf("member lists apps: %v", err)
	}
}

// PUT with If-None-Match: * writes a file once; the second gets 412 and leaves it.
func TestPutFileIfAbsent(t *testing.T) {
	in := newInstance(t)
	ctx := context.Background()
	nc := in.client(t)
	if _, err := nc.CreateUser(ctx, nextcloud.CreateUser{UserID: "owner", Password: "a long password 123"}); err != nil {
		t.Fatal(err)
	}
	created, err := nc.PutFileIfAbsent(ctx, "owner", "a long password 123", "Premiers pas.md", []byte("one"))
	if err != nil || !created {
		t.Fatalf("first put: %v %v", created, err)
	}
	created, err = nc.PutFileIfAbsent(ctx, "owner", "a long password 123", "Premiers pas.md", []byte("two"))
	if err != nil || created {
		t.Fatalf("second put: %v %v", created, err)
	}
	code, _, body := in.do(t, http.MethodGet, "/remote.php/dav/files/owner/Premiers%20pas.md", nil, func(r *http.Request) {
		r.SetBasicAuth("owner", "a long password 123")
	})
	if code != 200 || string(body) != "one" {
		t.Errorf("file = %d %q, want the first content", code, body)
	}
}
