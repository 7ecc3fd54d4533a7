package standin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/assospaces/spaces/provisioner/nextcloud"
	"github.com/assospaces/spaces/provisioner/nextcloud/nextcloudtest"
)

// as sends a request as user (no credentials when user is ""), with body as a form when it is
// not empty, and returns the status, headers and body.
func (in *instance) as(t *testing.T, user, pass, method, path, body string) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	return in.do(t, method, path, rd, func(r *http.Request) {
		r.Header.Del("Authorization")
		if user != "" {
			r.SetBasicAuth(user, pass)
		}
		if body != "" {
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	})
}

// fixturesDir holds the real Nextcloud responses the client's tests replay too; the stand-in is
// held to the same files rather than to a copy.
var fixturesDir = filepath.Join("..", "..", "..", "..", "provisioner", "nextcloud", "testdata")

// rawFixture reads a file of fixturesDir.
func rawFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixturesDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fixtureStatus is the HTTP status responses_index.json gives a fixture.
func fixtureStatus(t *testing.T, name string) int {
	t.Helper()
	var idx struct {
		Responses []struct {
			File       string `json:"file"`
			HTTPStatus int    `json:"http_status"`
		} `json:"responses"`
	}
	if err := json.Unmarshal(rawFixture(t, "responses_index.json"), &idx); err != nil {
		t.Fatal(err)
	}
	for _, r := range idx.Responses {
		if r.File == name {
			return r.HTTPStatus
		}
	}
	t.Fatalf("%s is not in responses_index.json", name)
	return 0
}

// sameJSON compares two JSON documents value by value, numbers by their literal (20 is not
// 20.0, as PHP would not write it so), and returns what differs.
func sameJSON(t *testing.T, want, got []byte) string {
	t.Helper()
	w, err := nextcloudtest.Decode(want)
	if err != nil {
		t.Fatalf("decode %s: %v", want, err)
	}
	g, err := nextcloudtest.Decode(got)
	if err != nil {
		t.Fatalf("decode %s: %v", got, err)
	}
	if reflect.DeepEqual(w, g) {
		return ""
	}
	return fmt.Sprintf("want %s\n got %s", bytes.TrimSpace(want), bytes.TrimSpace(got))
}

// quotaOf returns the raw data.quota of an account's details, as the admin reads them.
func (in *instance) quotaOf(t *testing.T, version int, uid string) []byte {
	t.Helper()
	status, _, body := in.do(t, "GET", fmt.Sprintf("/ocs/v%d.php/cloud/users/%s?format=json", version, uid), nil, nil)
	if status != 200 {
		t.Fatalf("get %s: %d %s", uid, status, body)
	}
	var env struct {
		OCS struct {
			Data struct {
				Quota json.RawMessage `json:"quota"`
			} `json:"data"`
		} `json:"ocs"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatal(err)
	}
	return env.OCS.Data.Quota
}

// place puts size bytes (a sparse file: only the size counts) in an account's files, as files an
// admin copied into the data folder and scanned; the account has logged in, so has a home.
func (in *instance) place(t *testing.T, uid, pass, name string, size int64) {
	t.Helper()
	if status, _, body := in.as(t, uid, pass, "GET", "/ocs/v2.php/cloud/users/"+uid+"?format=json", ""); status != 200 {
		t.Fatalf("log in as %s: %d %s", uid, status, body)
	}
	f, err := os.Create(filepath.Join(in.dataDir, uid, "files", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
}

// TestQuotaValuesAsNextcloud31 puts each account in the situation of a quota fixture and checks
// that data.quota has the fixture's values, in v1 and v2: a set quota, no quota (no disk free
// space, -3 everywhere), past the quota (nothing clamped) and never logged in.
func TestQuotaValuesAsNextcloud31(t *testing.T) {
	in := newInstance(t)
	ctx := context.Background()
	c := in.client(t)
	const pw = "long enough pw"
	create := func(uid, quota string) {
		t.Helper()
		if _, err := c.CreateUser(ctx, nextcloud.CreateUser{UserID: uid, Password: pw, Quota: quota}); err != nil {
			t.Fatal(err)
		}
	}
	create("set", "5 GB")
	in.place(t, "set", pw, "one-gib.bin", 1<<30)
	create("unlimited", "none")
	in.place(t, "unlimited", pw, "photo.jpg", 7438874)
	create("over", "1 GB")
	in.place(t, "over", pw, "big.bin", 1536<<20)
	create("fresh", "5 GB")
	create("fresh-unlimited", "")
	for _, tt := range []struct{ uid, fixture string }{
		{"set", "quota_fragment_set.json"},
		{"unlimited", "quota_fragment_unlimited.json"},
		{"over", "quota_fragment_over_quota.json"},
		{"fresh", "quota_fragment_never_logged_in.json"},
		{"fresh-unlimited", "quota_fragment_never_logged_in_unlimited.json"},
	} {
		for _, v := range []int{1, 2} {
			if d := sameJSON(t, rawFixture(t, tt.fixture), in.quotaOf(t, v, tt.uid)); d != "" {
				t.Errorf("%s v%d (%s):\n%s", tt.uid, v, tt.fixture, d)
			}
		}
	}
	// The client reads them as they are.
	u, err := c.UserDetails(ctx, "over")
	if err != nil {
		t.Fatal(err)
	}
	if u.Quota.Free != -512<<20 || u.Quota.Relative != 150 || u.Quota.State != nextcloud.QuotaComplete {
		t.Errorf("over quota: %+v", u.Quota)
	}
	st, err := c.Status(ctx)
	if err != nil || !strings.HasPrefix(st.Version, "31.0.") || !strings.HasPrefix(st.VersionString, "31.0.") ||
		strings.Count(st.Version, ".") != 3 || strings.Count(st.VersionString, ".") != 2 {
		t.Errorf("status %+v %v: want Nextcloud 31.0.x", st, err)
	}
}

// TestQuotaRoundTrip sends every value of quota_value_roundtrip.json and reads back the bytes
// Nextcloud reports for it.
func TestQuotaRoundTrip(t *testing.T) {
	in := newInstance(t)
	ctx := context.Background()
	c := in.client(t)
	if _, err := c.CreateUser(ctx, nextcloud.CreateUser{UserID: "bob", Password: "long enough pw"}); err != nil {
		t.Fatal(err)
	}
	var table struct {
		Rows []struct {
			Sent     string `json:"sent"`
			Stored   any    `json:"stored"`
			Reported any    `json:"reported_quota_bytes"`
		} `json:"rows"`
	}
	if err := json.Unmarshal(rawFixture(t, "quota_value_roundtrip.json"), &table); err != nil {
		t.Fatal(err)
	}
	for _, row := range table.Rows {
		t.Run(row.Sent, func(t *testing.T) {
			err := c.SetQuota(ctx, "bob", row.Sent)
			var e *nextcloud.Error
			switch row.Stored {
			case false:
				if !errors.As(err, &e) || e.StatusCode != 101 || e.Message != "Invalid quota value: "+row.Sent || e.HTTPStatus != 400 {
					t.Errorf("err %v: want 101 Invalid quota value", err)
				}
				return
			case "?":
				// User::setQuota throws something no controller catches: ocs/v1.php answers 996.
				if !errors.As(err, &e) || e.StatusCode != 996 || e.HTTPStatus != 500 || e.Message != "Internal Server Error\n" {
					t.Errorf("err %v: want 996", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var stored string
			if err := in.pool.QueryRow(ctx, `SELECT quota FROM oc_users WHERE uid = 'bob'`).Scan(&stored); err != nil {
				t.Fatal(err)
			}
			if stored != row.Stored {
				t.Errorf("stored %q, want %q", stored, row.Stored)
			}
			u, err := c.UserDetails(ctx, "bob")
			if err != nil {
				t.Fatal(err)
			}
			want := int64(nextcloud.SpaceUnlimited) // "default" with no files/default_quota
			if n, ok := row.Reported.(float64); ok {
				want = int64(n)
			}
			if u.Quota.Quota != want {
				t.Errorf("reported %d, want %d", u.Quota.Quota, want)
			}
		})
	}
}

// TestAnswersEqualFixtures replays each OCS fixture's situation and checks the stand-in answers
// it byte for byte in value (JSON decoded), with the HTTP status and Content-Type of
// responses_index.json, in v1 and v2.
func TestAnswersEqualFixtures(t *testing.T) {
	in := newInstance(t)
	ctx := context.Background()
	c := in.client(t)
	const pw = "long enough pw"
	for _, g := range []string{"group1", "ExistingGroup"} {
		if err := c.CreateGroup(ctx, g, ""); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range []nextcloud.CreateUser{
		{UserID: "bob", Password: pw, Groups: []string{"group1"}},
		{UserID: "subadmin1", Password: pw},
	} {
		if _, err := c.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.AddSubAdmin(ctx, "subadmin1", "group1"); err != nil {
		t.Fatal(err)
	}
	admin := [2]string{adminUser, adminPass}
	type call struct {
		login              [2]string
		method, path, body string
		between            func(t *testing.T) // undoes what the v1 call did, before the v2 one
	}
	tests := []struct {
		fixture string // with %d for the version; a fixture missing for v1 is skipped there
		call    call
		before  func(t *testing.T)
	}{
		{fixture: "ocs_v%d_add_user_ok.json", call: call{admin, "POST", "/cloud/users", "userid=alice&password=long+enough+pw&groups[]=group1",
			func(t *testing.T) {
				if err := c.DeleteUser(ctx, "alice"); err != nil {
					t.Fatal(err)
				}
			}}},
		{fixture: "ocs_v%d_empty_ok.json", call: call{admin, "PUT", "/cloud/users/bob", "key=quota&value=5+GB", nil}},
		{fixture: "ocs_v%d_user_exists.json", call: call{admin, "POST", "/cloud/users", "userid=bob&password=long+enough+pw", nil}},
		{fixture: "ocs_v%d_invalid_quota.json", call: call{admin, "PUT", "/cloud/users/bob", "key=quota&value=ABC", nil}},
		{fixture: "ocs_v%d_user_does_not_exist.json", call: call{admin, "GET", "/cloud/users/nobody", "", nil}},
		{fixture: "ocs_v%d_not_found_998.json", call: call{admin, "PUT", "/cloud/users/nobody", "key=quota&value=1+GB", nil}},
		{fixture: "ocs_v%d_not_logged_in.json", call: call{[2]string{}, "GET", "/cloud/users", "", nil}},
		{fixture: "ocs_v%d_group_exists.json", call: call{admin, "POST", "/cloud/groups", "groupid=group1", nil}},
		{fixture: "ocs_v%d_group_not_found.json", call: call{admin, "GET", "/cloud/groups/nogroup/users", "", nil}},
		// bob is a member of group1 but not its sub-admin.
		{fixture: "ocs_v%d_forbidden.json", call: call{[2]string{"bob", pw}, "GET", "/cloud/groups/group1/users", "", nil}},
		{fixture: "ocs_v%d_subadmin_no_group.json", call: call{[2]string{"subadmin1", pw}, "POST", "/cloud/users", "userid=carol&password=long+enough+pw", nil}},
		{fixture: "ocs_v%d_subadmin_wrong_group.json", call: call{[2]string{"subadmin1", pw}, "POST", "/cloud/users",
			"userid=carol&password=long+enough+pw&groups[]=ExistingGroup", nil}},
		// A method without #[NoAdminRequired]; see provisioner/nextcloud/testdata/SOURCES.md on the calls the index names.
		{fixture: "ocs_v%d_not_admin.json", call: call{[2]string{"bob", pw}, "GET", "/apps/provisioning_api/api/v1/config/apps/files/max_quota", "", nil}},
		{fixture: "ocs_v%d_user_subadmins.json", call: call{admin, "GET", "/cloud/users/subadmin1/subadmins", "", nil}},
		{fixture: "ocs_v%d_group_users.json", call: call{[2]string{"subadmin1", pw}, "GET", "/cloud/groups/group1/users", "", nil}},
		{fixture: "ocs_v%d_group_subadmins.json", call: call{admin, "GET", "/cloud/groups/group1/subadmins", "", nil}},
		{fixture: "ocs_v%d_user_limit.json", call: call{admin, "POST", "/cloud/users", "userid=dave&password=long+enough+pw", nil},
			before: func(t *testing.T) {
				// Four enabled accounts: admin, alice, bob, subadmin1.
				if err := in.srv.Config().Update(map[string]any{"one-click-instance": true, "one-click-instance.user-limit": 4}); err != nil {
					t.Fatal(err)
				}
			}},
	}
	for _, tt := range tests {
		if tt.before != nil {
			tt.before(t)
		}
		for _, v := range []int{1, 2} {
			name := fmt.Sprintf(tt.fixture, v)
			if _, err := os.Stat(filepath.Join(fixturesDir, name)); err != nil {
				continue // v2-only fixture
			}
			t.Run(name, func(t *testing.T) {
				path := fmt.Sprintf("/ocs/v%d.php%s?format=json", v, tt.call.path)
				status, hdr, body := in.as(t, tt.call.login[0], tt.call.login[1], tt.call.method, path, tt.call.body)
				if want := fixtureStatus(t, name); status != want {
					t.Errorf("http %d, want %d", status, want)
				}
				if ct := hdr.Get("Content-Type"); ct != "application/json; charset=utf-8" {
					t.Errorf("content type %q", ct)
				}
				if d := sameJSON(t, rawFixture(t, name), body); d != "" {
					t.Errorf("body differs from %s:\n%s", name, d)
				}
				if tt.call.between != nil && v == 1 {
					tt.call.between(t)
				}
			})
		}
	}
}
