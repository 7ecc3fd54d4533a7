package nextcloud

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
)

// replayFixture serves a fixture of testdata/ with the HTTP status responses_index.json gives it.
func replayFixture(t *testing.T, name string) (*Client, *replay) {
	t.Helper()
	status := readIndex(t, readFixture(t, "responses_index.json"))[name]
	if status == 0 {
		t.Fatalf("%s: no HTTP status in responses_index.json", name)
	}
	version := 2
	if strings.HasPrefix(name, "ocs_v1_") {
		version = 1
	}
	return newReplay(t, status, map[string]string{"Content-Type": "application/json; charset=utf-8"},
		string(readFixture(t, name)), WithOCSVersion(version))
}

// TestGroupAndSubAdminCalls checks each call's request and how it reads Nextcloud's answers.
func TestGroupAndSubAdminCalls(t *testing.T) {
	ctx := context.Background()
	type req struct{ method, path, body string }
	tests := []struct {
		name    string
		fixture string
		call    func(*Client) (any, error)
		req     req
		want    any // the value returned, when the call succeeds
		errs    []error
		notErrs []error
	}{
		{"create group", "ocs_v2_empty_ok.json",
			func(c *Client) (any, error) { return nil, c.CreateGroup(ctx, "asso", "Les Amis du Vélo") },
			req{"POST", "/ocs/v2.php/cloud/groups", "displayname=Les+Amis+du+V%C3%A9lo&groupid=asso"}, nil, nil, nil},
		{"create group without display name", "ocs_v1_empty_ok.json",
			func(c *Client) (any, error) { return nil, c.CreateGroup(ctx, "asso", "") },
			req{"POST", "/ocs/v1.php/cloud/groups", "groupid=asso"}, nil, nil, nil},
		{"create existing group v1", "ocs_v1_group_exists.json",
			func(c *Client) (any, error) { return nil, c.CreateGroup(ctx, "asso", "") },
			req{"POST", "/ocs/v1.php/cloud/groups", "groupid=asso"}, nil, []error{ErrGroupExists}, []error{ErrUserExists, ErrNotFound}},
		{"create existing group v2", "ocs_v2_group_exists.json",
			func(c *Client) (any, error) { return nil, c.CreateGroup(ctx, "asso", "") },
			req{"POST", "/ocs/v2.php/cloud/groups", "groupid=asso"}, nil, []error{ErrGroupExists}, nil},
		{"create group as sub-admin", "ocs_v2_not_admin.json",
			func(c *Client) (any, error) { return nil, c.CreateGroup(ctx, "asso", "") },
			req{"POST", "/ocs/v2.php/cloud/groups", "groupid=asso"}, nil, []error{ErrForbidden}, []error{ErrGroupExists}},
		{"group users", "ocs_v2_group_users.json",
			func(c *Client) (any, error) { return c.GroupUsers(ctx, "group 1") },
			req{"GET", "/ocs/v2.php/cloud/groups/group%201/users", ""}, []string{"alice", "bob"}, nil, nil},
		{"group users of a missing group v1", "ocs_v1_group_not_found.json",
			func(c *Client) (any, error) { return c.GroupUsers(ctx, "nope") },
			req{"GET", "/ocs/v1.php/cloud/groups/nope/users", ""}, nil, []error{ErrNotFound}, []error{ErrForbidden}},
		{"group users of a missing group v2", "ocs_v2_group_not_found.json",
			func(c *Client) (any, error) { return c.GroupUsers(ctx, "nope") },
			req{"GET", "/ocs/v2.php/cloud/groups/nope/users", ""}, nil, []error{ErrNotFound}, nil},
		{"group users of another group v1", "ocs_v1_forbidden.json",
			func(c *Client) (any, error) { return c.GroupUsers(ctx, "other") },
			req{"GET", "/ocs/v1.php/cloud/groups/other/users", ""}, nil, []error{ErrForbidden}, []error{ErrNotFound}},
		{"group users of another group v2", "ocs_v2_forbidden.json",
			func(c *Client) (any, error) { return c.GroupUsers(ctx, "other") },
			req{"GET", "/ocs/v2.php/cloud/groups/other/users", ""}, nil, []error{ErrForbidden}, nil},
		{"add to group", "ocs_v2_empty_ok.json",
			func(c *Client) (any, error) { return nil, c.AddToGroup(ctx, "bob", "asso") },
			req{"POST", "/ocs/v2.php/cloud/users/bob/groups", "groupid=asso"}, nil, nil, nil},
		{"remove from group", "ocs_v2_empty_ok.json",
			func(c *Client) (any, error) { return nil, c.RemoveFromGroup(ctx, "bob@example.org", "admin") },
			req{"DELETE", "/ocs/v2.php/cloud/users/bob@example.org/groups", "groupid=admin"}, nil, nil, nil},
		{"add sub-admin", "ocs_v1_empty_ok.json",
			func(c *Client) (any, error) { return nil, c.AddSubAdmin(ctx, "bob", "asso") },
			req{"POST", "/ocs/v1.php/cloud/users/bob/subadmins", "groupid=asso"}, nil, nil, nil},
		{"add sub-admin as non-admin", "ocs_v1_not_admin.json",
			func(c *Client) (any, error) { return nil, c.AddSubAdmin(ctx, "bob", "asso") },
			req{"POST", "/ocs/v1.php/cloud/users/bob/subadmins", "groupid=asso"}, nil, []error{ErrForbidden}, nil},
		{"sub-admin groups", "ocs_v2_user_subadmins.json",
			func(c *Client) (any, error) { return c.SubAdminGroups(ctx, "bob") },
			req{"GET", "/ocs/v2.php/cloud/users/bob/subadmins", ""}, []string{"group1"}, nil, nil},
		{"sub-admin groups of a missing user v1", "ocs_v1_user_does_not_exist.json",
			func(c *Client) (any, error) { return c.SubAdminGroups(ctx, "nobody") },
			req{"GET", "/ocs/v1.php/cloud/users/nobody/subadmins", ""}, nil, []error{ErrNotFound}, nil},
		{"sub-admin groups of a missing user v2", "ocs_v2_user_does_not_exist.json",
			func(c *Client) (any, error) { return c.SubAdminGroups(ctx, "nobody") },
			req{"GET", "/ocs/v2.php/cloud/users/nobody/subadmins", ""}, nil, []error{ErrNotFound}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, rp := replayFixture(t, tt.fixture)
			got, err := tt.call(c)
			r := rp.reqs[0]
			form, _ := url.ParseQuery(r.body)
			wantForm, _ := url.ParseQuery(tt.req.body)
			if r.method != tt.req.method || r.path != tt.req.path || form.Encode() != wantForm.Encode() ||
				r.query.Get("format") != "json" || r.ocsHeader != "true" {
				t.Errorf("request %s %s %q, want %s %s %q", r.method, r.path, r.body, tt.req.method, tt.req.path, tt.req.body)
			}
			if tt.req.body != "" && r.contentType != "application/x-www-form-urlencoded" {
				t.Errorf("content type %q", r.contentType)
			}
			if len(tt.errs) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if w, ok := tt.want.([]string); ok && strings.Join(got.([]string), ",") != strings.Join(w, ",") {
					t.Errorf("got %v, want %v", got, w)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T %v is not *Error", err, err)
			}
			for _, w := range tt.errs {
				if !errors.Is(err, w) {
					t.Errorf("%v: not %v", err, w)
				}
			}
			for _, w := range tt.notErrs {
				if errors.Is(err, w) {
					t.Errorf("%v: unexpectedly %v", err, w)
				}
			}
		})
	}
}

func TestAppConfigCalls(t *testing.T) {
	ctx := context.Background()
	t.Run("get", func(t *testing.T) {
		for _, data := range []string{`{"data":"1 GB"}`, `{"data":1}`} {
			c, rp := newReplay(t, 200, nil, v2(200, "OK", data))
			v, err := c.AppValue(ctx, "files", "default_quota")
			if err != nil || (v != "1 GB" && v != "1") {
				t.Fatalf("%q %v", v, err)
			}
			if r := rp.reqs[0]; r.method != "GET" || r.path != "/ocs/v2.php/apps/provisioning_api/api/v1/config/apps/files/default_quota" {
				t.Errorf("request %+v", r)
			}
		}
	})
	t.Run("get as non-admin", func(t *testing.T) {
		c, _ := replayFixture(t, "ocs_v2_not_admin.json")
		if _, err := c.AppValue(ctx, "files", "max_quota"); !errors.Is(err, ErrForbidden) {
			t.Errorf("err %v", err)
		}
	})
	t.Run("set and delete", func(t *testing.T) {
		c, rp := replayFixture(t, "ocs_v1_empty_ok.json")
		if err := c.SetAppValue(ctx, "files", "max_quota", "21474836480"); err != nil {
			t.Fatal(err)
		}
		if err := c.DeleteAppValue(ctx, "files", "max_quota"); err != nil {
			t.Fatal(err)
		}
		want := []struct{ method, body string }{{"POST", "value=21474836480"}, {"DELETE", ""}}
		for i, w := range want {
			r := rp.reqs[i]
			if r.method != w.method || r.body != w.body || r.path != "/ocs/v1.php/apps/provisioning_api/api/v1/config/apps/files/max_quota" {
				t.Errorf("request %d: %+v, want %s %q", i, r, w.method, w.body)
			}
		}
	})
	t.Run("refused key: the reason is in data", func(t *testing.T) {
		for _, v := range []int{1, 2} {
			body, status := v1(403, "", `{"data":{"message":"The given key can not be set"}}`), 200
			if v == 2 {
				body, status = v2(403, "", `{"data":{"message":"The given key can not be set"}}`), 403
			}
			c, _ := newReplay(t, status, nil, body, WithOCSVersion(v))
			err := c.SetAppValue(ctx, "core", "public_files", "x")
			var e *Error
			if !errors.As(err, &e) || !errors.Is(err, ErrForbidden) || e.StatusCode != 403 || e.Message != "The given key can not be set" {
				t.Errorf("v%d: %v", v, err)
			}
		}
	})
}

func TestUserSubadminDecoded(t *testing.T) {
	body := v2(200, "OK", `{"enabled":true,"id":"bob","subadmin":["asso","board"],"groups":["asso"],"quota":{"quota":"none","used":0}}`)
	c, _ := newReplay(t, 200, nil, body)
	u, err := c.UserDetails(context.Background(), "bob")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(u.Subadmin, ",") != "asso,board" {
		t.Errorf("subadmin %v", u.Subadmin)
	}
}
