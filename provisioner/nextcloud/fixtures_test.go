package nextcloud

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assospaces/spaces/provisioner/nextcloud/internal/ocsshape"
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
	v, err := ocsshape.FromXML(b)
	if err != nil {
		t.Fatalf("convert xml: %v", err)
	}
	j, err := ocsshape.ToJSON(v)
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
			fromXML, err := ocsshape.Decode(xmlAsJSON(t, b))
			if err != nil {
				t.Fatal(err)
			}
			fromJSON, err := ocsshape.Decode(readFixture(t, "ocs_error_v1.json"))
			if err != nil {
				t.Fatal(err)
			}
			if d := ocsshape.Compare(fromJSON, fromXML, ocsshape.Options{Exact: true, Loose: true}); len(d) > 0 {
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
			fromXML, _ := ocsshape.Decode(xmlAsJSON(t, b))
			fromJSON, _ := ocsshape.Decode(readFixture(t, "serverinfo_info.json"))
			if d := ocsshape.Compare(fromJSON, fromXML, ocsshape.Options{Loose: true}); len(d) > 0 {
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

func checkServerInfo(t *testing.T, info ServerInfo, free int64, last1h int64) {
	t.Helper()
	if info.Nextcloud.System.Version != "30.0.0.1" || int64(info.Nextcloud.System.FreeSpace) != free ||
		info.Nextcloud.Storage.NumUsers != 7 || info.Nextcloud.Storage.NumFiles != 708860 ||
		info.Server.Database.Type != "mysql" || info.Server.Database.Size != 331382784 ||
		info.ActiveUsers.Last5Minutes != 2 || int64(info.ActiveUsers.Last1Hour) != last1h || info.ActiveUsers.Last24Hours != 5 {
		t.Errorf("got %+v", info)
	}
}
