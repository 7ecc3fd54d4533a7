package nextcloud

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assospaces/spaces/provisioner/nextcloud/nextcloudtest"
)

// readFixture reads a file of testdata/ (copied from /work/shared/nextcloud-fixtures, see SOURCES.md).
func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("read fixture: %v", err)
	}
	return b
}

// xmlAsJSON converts an OCS XML fixture into JSON with the same structure (leaves as strings),
// so it goes through exactly the decoders the client uses for JSON.
func xmlAsJSON(t *testing.T, b []byte) []byte {
	t.Helper()
	v, err := nextcloudtest.FromXML(b)
	if err != nil {
		t.Fatalf("convert xml: %v", err)
	}
	j, err := nextcloudtest.ToJSON(v)
	if err != nil {
		t.Fatalf("encode json: %v", err)
	}
	return j
}

func decodeData(t *testing.T, body []byte, out any) Meta {
	t.Helper()
	meta, data, err := DecodeEnvelope(body)
	if err != nil {
		t.Fatalf("decode envelope: %v", err)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("decode data: %v", err)
		}
	}
	return meta
}

// TestEveryFixtureDecodes decodes every file of testdata/ with the client's types, and fails when
// a fixture is added without a check here.
func TestEveryFixtureDecodes(t *testing.T) {
	checks := map[string]func(t *testing.T, b []byte){
		"status.json": func(t *testing.T, b []byte) {
			var s Status
			if err := json.Unmarshal(b, &s); err != nil {
				t.Fatal(err)
			}
			want := Status{Installed: true, Version: "13.0.0.5", VersionString: "13.0.0 alpha", ProductName: "Nextcloud"}
			if s != want {
				t.Errorf("got %+v, want %+v", s, want)
			}
		},
		"status_maintenance.json": func(t *testing.T, b []byte) {
			var s Status
			if err := json.Unmarshal(b, &s); err != nil {
				t.Fatal(err)
			}
			if !s.Installed || !s.Maintenance {
				t.Errorf("got %+v, want installed and maintenance", s)
			}
		},
		"ocs_ok_v1.json": func(t *testing.T, b []byte) {
			var d struct{ Test string }
			m := decodeData(t, b, &d)
			if m.Status != "ok" || m.StatusCode != 100 || m.TotalItems == nil || *m.TotalItems != "" || m.ItemsPerPage == nil || d.Test != "hi" {
				t.Errorf("got meta %+v data %+v", m, d)
			}
		},
		"ocs_ok_v2.json": func(t *testing.T, b []byte) {
			var d struct{ Test string }
			m := decodeData(t, b, &d)
			if m.Status != "ok" || m.StatusCode != 200 || d.Test != "hi" {
				t.Errorf("got meta %+v data %+v", m, d)
			}
		},
		"ocs_error_v1.json": func(t *testing.T, b []byte) {
			m := decodeData(t, b, nil)
			if m.Status != "failure" || m.StatusCode != 400 || m.Message != "OK" {
				t.Errorf("got meta %+v", m)
			}
		},
		"ocs_error_v1.xml": func(t *testing.T, b []byte) {
			// The XML and JSON renderings of the same response must agree field by field.
			fromXML, err := nextcloudtest.Decode(xmlAsJSON(t, b))
			if err != nil {
				t.Fatal(err)
			}
			fromJSON, err := nextcloudtest.Decode(readFixture(t, "ocs_error_v1.json"))
			if err != nil {
				t.Fatal(err)
			}
			if d := nextcloudtest.Compare(fromJSON, fromXML, nextcloudtest.Options{Exact: true, Loose: true}); len(d) > 0 {
				t.Errorf("xml and json differ: %v", d)
			}
			m := decodeData(t, xmlAsJSON(t, b), nil)
			mj := decodeData(t, readFixture(t, "ocs_error_v1.json"), nil)
			if m.Status != mj.Status || m.StatusCode != mj.StatusCode || m.Message != mj.Message ||
				*m.TotalItems != *mj.TotalItems || *m.ItemsPerPage != *mj.ItemsPerPage {
				t.Errorf("xml meta %+v, json meta %+v", m, mj)
			}
		},
		"serverinfo_info.json": func(t *testing.T, b []byte) {
			var info ServerInfo
			m := decodeData(t, b, &info)
			if m.StatusCode != 200 {
				t.Errorf("statuscode %d", m.StatusCode)
			}
			checkServerInfo(t, info, 48472944640, 3)
		},
		"serverinfo_info.xml": func(t *testing.T, b []byte) {
			var info ServerInfo
			decodeData(t, xmlAsJSON(t, b), &info)
			checkServerInfo(t, info, 48472801280, 4)
			// Every key of the JSON example exists in the XML one (which adds the update block).
			fromXML, _ := nextcloudtest.Decode(xmlAsJSON(t, b))
			fromJSON, _ := nextcloudtest.Decode(readFixture(t, "serverinfo_info.json"))
			if d := nextcloudtest.Compare(fromJSON, fromXML, nextcloudtest.Options{Loose: true}); len(d) > 0 {
				t.Errorf("xml lacks json keys: %v", d)
			}
		},
		"users_list.xml": func(t *testing.T, b []byte) {
			var l userList
			m := decodeData(t, xmlAsJSON(t, b), &l)
			if m.StatusCode != 100 {
				t.Errorf("statuscode %d", m.StatusCode)
			}
			want := []string{"1st_user", "2nd_user", "3rd_user", "..._user"}
			if strings.Join(l.Users, ",") != strings.Join(want, ",") {
				t.Errorf("users %v, want %v", l.Users, want)
			}
		},
		"user_details_quota.xml": func(t *testing.T, b []byte) {
			var u User
			decodeData(t, xmlAsJSON(t, b), &u)
			want := Quota{State: QuotaComplete, Free: 20632824998, Used: 842011482, Total: 21474836480, Relative: 3.92, Quota: 21474836480}
			if u.ID != "userid" || !u.Enabled || u.LastLogin != 1578283711000 || u.Email != "user@foo.de" ||
				u.DisplayName != "John Doe" || len(u.Groups) != 4 || u.Groups[0] != "1st group" || u.Language != "de" ||
				u.Quota != want || u.Backend != "Database" {
				t.Errorf("got %+v", u)
			}
		},
		"user_details_unlimited_quota.xml": func(t *testing.T, b []byte) {
			var u User
			decodeData(t, xmlAsJSON(t, b), &u)
			if !u.Enabled || !u.Quota.Unlimited() || u.Quota.Used != 7438874 || u.Quota.Quota != SpaceUnlimited || u.DisplayName != "admin" {
				t.Errorf("got %+v", u)
			}
		},
	}
	// The failures of the Nextcloud 31 calls (bodies rendered from its code, see testdata/SOURCES.md).
	for name, want := range map[string]struct {
		code int
		msg  string
	}{
		"ocs_v1_user_does_not_exist.json":  {404, "User does not exist"},
		"ocs_v2_user_does_not_exist.json":  {404, "User does not exist"},
		"ocs_v1_not_found_998.json":        {998, ""},
		"ocs_v2_not_found_998.json":        {998, ""},
		"ocs_v1_user_exists.json":          {102, "User already exists"},
		"ocs_v2_user_exists.json":          {102, "User already exists"},
		"ocs_v1_invalid_quota.json":        {101, "Invalid quota value: ABC"},
		"ocs_v2_invalid_quota.json":        {101, "Invalid quota value: ABC"},
		"ocs_v1_not_logged_in.json":        {997, "Current user is not logged in"},
		"ocs_v2_not_logged_in.json":        {997, "Current user is not logged in"},
		"ocs_v1_user_limit.json":           {107, userLimitHint + ". Check your notifications to learn more."},
		"ocs_v2_user_limit.json":           {107, userLimitHint + ". Check your notifications to learn more."},
		"ocs_v1_group_exists.json":         {102, "group exists"},
		"ocs_v2_group_exists.json":         {102, "group exists"},
		"ocs_v1_group_not_found.json":      {404, "The requested group could not be found"},
		"ocs_v2_group_not_found.json":      {404, "The requested group could not be found"},
		"ocs_v1_forbidden.json":            {403, ""},
		"ocs_v2_forbidden.json":            {403, ""},
		"ocs_v1_subadmin_no_group.json":    {106, "No group specified (required for sub-admins)"},
		"ocs_v2_subadmin_no_group.json":    {106, "No group specified (required for sub-admins)"},
		"ocs_v1_subadmin_wrong_group.json": {105, "Insufficient privileges for group ExistingGroup"},
		"ocs_v2_subadmin_wrong_group.json": {105, "Insufficient privileges for group ExistingGroup"},
		"ocs_v1_not_admin.json":            {403, "Logged in account must be an admin"},
		"ocs_v2_not_admin.json":            {403, "Logged in account must be an admin"},
	} {
		checks[name] = func(t *testing.T, b []byte) {
			m := decodeData(t, b, nil)
			v1 := strings.HasPrefix(name, "ocs_v1_")
			if m.Status != "failure" || m.StatusCode != want.code || m.Message != want.msg || v1 != (m.TotalItems != nil) {
				t.Errorf("meta %+v, want failure %d %q", m, want.code, want.msg)
			}
		}
	}
	for _, name := range []string{"ocs_v1_empty_ok.json", "ocs_v2_empty_ok.json", "ocs_v1_add_user_ok.json", "ocs_v2_add_user_ok.json"} {
		checks[name] = func(t *testing.T, b []byte) {
			var d struct{ ID String }
			meta, data, err := DecodeEnvelope(b)
			if err != nil {
				t.Fatal(err)
			}
			if !emptyData(data) {
				if err := json.Unmarshal(data, &d); err != nil {
					t.Fatal(err)
				}
			}
			m := meta
			okCode := 200
			if strings.HasPrefix(name, "ocs_v1_") {
				okCode = 100
			}
			if m.Status != "ok" || m.StatusCode != okCode || m.Message != "OK" {
				t.Errorf("meta %+v", m)
			}
			if strings.Contains(name, "add_user") != (d.ID == "alice") {
				t.Errorf("data id %q", d.ID)
			}
		}
	}
	idList := func(want ...string) func(t *testing.T, b []byte) {
		return func(t *testing.T, b []byte) {
			var ids Strings
			if m := decodeData(t, b, &ids); m.StatusCode != 200 || strings.Join(ids, ",") != strings.Join(want, ",") {
				t.Errorf("meta %+v ids %v, want %v", m, ids, want)
			}
		}
	}
	checks["ocs_v2_user_subadmins.json"] = idList("group1")
	checks["ocs_v2_group_subadmins.json"] = idList("subadmin1")
	checks["ocs_v2_group_users.json"] = func(t *testing.T, b []byte) {
		var l userList
		if m := decodeData(t, b, &l); m.StatusCode != 200 || strings.Join(l.Users, ",") != "alice,bob" {
			t.Errorf("meta %+v users %v", m, l.Users)
		}
	}
	for name, want := range map[string]Quota{
		"quota_fragment_set.json":       {State: QuotaComplete, Free: 4 << 30, Used: 1 << 30, Total: 5 << 30, Relative: 20, Quota: 5 << 30},
		"quota_fragment_unlimited.json": {State: QuotaComplete, Free: SpaceUnlimited, Used: 7438874, Total: SpaceUnlimited, Quota: SpaceUnlimited},
		"quota_fragment_over_quota.json": {State: QuotaComplete, Free: -512 << 20, Used: 1536 << 20, Total: 1 << 30,
			Relative: 150, Quota: 1 << 30},
		"quota_fragment_never_logged_in.json": {State: QuotaNotInitialized, Free: 5 << 30, Total: 5 << 30, Quota: 5 << 30},
		"quota_fragment_never_logged_in_unlimited.json": {State: QuotaNotInitialized, Free: SpaceUnlimited, Total: SpaceUnlimited,
			Quota: SpaceUnlimited},
	} {
		checks[name] = func(t *testing.T, b []byte) {
			var q Quota
			if err := json.Unmarshal(b, &q); err != nil {
				t.Fatal(err)
			}
			if q != want {
				t.Errorf("quota %+v, want %+v", q, want)
			}
		}
	}
	checks["quota_value_roundtrip.json"] = func(t *testing.T, b []byte) {
		var table struct {
			Rows []struct {
				Sent     string          `json:"sent"`
				Stored   json.RawMessage `json:"stored"`
				Reported json.RawMessage `json:"reported_quota_bytes"`
			} `json:"rows"`
		}
		if err := json.Unmarshal(b, &table); err != nil {
			t.Fatal(err)
		}
		if len(table.Rows) < 10 || table.Rows[0].Sent != "none" {
			t.Errorf("rows %+v", table.Rows)
		}
	}
	checks["responses_index.json"] = func(t *testing.T, b []byte) {
		idx := readIndex(t, b)
		// Every OCS body copied here says how Nextcloud sends it.
		entries, err := os.ReadDir("testdata")
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), "ocs_v") && strings.HasSuffix(e.Name(), ".json") && idx[e.Name()] == 0 &&
				!strings.HasPrefix(e.Name(), "ocs_ok_") {
				t.Errorf("%s has no HTTP status in responses_index.json", e.Name())
			}
		}
	}
	entries, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, e := range entries {
		name := e.Name()
		if strings.HasSuffix(name, ".md") {
			continue
		}
		check, ok := checks[name]
		if !ok {
			t.Errorf("fixture %s has no decoding check", name)
			continue
		}
		seen++
		t.Run(name, func(t *testing.T) { check(t, readFixture(t, name)) })
	}
	if seen != len(checks) {
		t.Errorf("checked %d fixtures, expected %d: a fixture file is missing from testdata/", seen, len(checks))
	}
}

// readIndex returns the HTTP status of each file of responses_index.json.
func readIndex(t *testing.T, b []byte) map[string]int {
	t.Helper()
	var idx struct {
		Responses []struct {
			File       string `json:"file"`
			HTTPStatus *int   `json:"http_status"`
		} `json:"responses"`
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, r := range idx.Responses {
		if r.HTTPStatus != nil {
			out[r.File] = *r.HTTPStatus
		}
	}
	return out
}

func checkServerInfo(t *testing.T, info ServerInfo, free int64, last1h int64) {
	t.Helper()
	if info.Nextcloud.System.Version != "30.0.0.1" || int64(info.Nextcloud.System.FreeSpace) != free ||
		info.Nextcloud.Storage.NumUsers != 7 || info.Nextcloud.Storage.NumFiles != 708860 ||
		info.Server.Database.Type != "mysql" || info.Server.Database.Size != 331382784 ||
		info.ActiveUsers.Last5Minutes != 2 || int64(info.ActiveUsers.Last1Hour) != last1h || info.ActiveUsers.Last24Hours != 5 {
		t.Errorf("got %+v", info)
	}
}
