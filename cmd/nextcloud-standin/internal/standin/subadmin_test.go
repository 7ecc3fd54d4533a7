package standin_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/assospaces/spaces/cmd/nextcloud-standin/internal/standin"
	"github.com/assospaces/spaces/provisioner/nextcloud"
)

// ocsCode is the OCS statuscode and HTTP status of a client error, for the table checks below.
func ocsCode(t *testing.T, err error) (code, httpStatus int, msg string) {
	t.Helper()
	if err == nil {
		return 0, 0, ""
	}
	var e *nextcloud.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %T %v is not *nextcloud.Error", err, err)
	}
	return e.StatusCode, e.HTTPStatus, e.Message
}

// TestGroupsAndSubAdmins runs the association's setup as the provisioner does it, then checks
// what the association's first account, a sub-admin logged in with their own password, may and
// may not do, as SubAdmin::isUserAccessible and UsersController decide.
func TestGroupsAndSubAdmins(t *testing.T) {
	in := newInstance(t)
	ctx := context.Background()
	admin := in.client(t)
	const pw = "long enough pw"

	// The admin side, with the client's group and sub-admin calls.
	if err := admin.CreateGroup(ctx, "asso", "Les Amis du Vélo"); err != nil {
		t.Fatal(err)
	}
	if err := admin.CreateGroup(ctx, "asso", ""); !errors.Is(err, nextcloud.ErrGroupExists) || errors.Is(err, nextcloud.ErrUserExists) {
		t.Errorf("second create: %v", err)
	}
	if code, _, _ := ocsCode(t, admin.CreateGroup(ctx, "", "")); code != 101 {
		t.Errorf("empty group id: %d", code)
	}
	if err := admin.CreateGroup(ctx, "other", ""); err != nil {
		t.Fatal(err)
	}
	var dn string
	if err := in.pool.QueryRow(ctx, `SELECT displayname FROM oc_groups WHERE gid = 'asso'`).Scan(&dn); err != nil || dn != "Les Amis du Vélo" {
		t.Errorf("display name %q %v", dn, err)
	}
	for _, u := range []nextcloud.CreateUser{
		{UserID: "owner", Password: pw, Groups: []string{"asso"}},
		{UserID: "outsider", Password: pw, Groups: []string{"other"}},
		{UserID: "second-admin", Password: pw, Groups: []string{"admin", "asso"}},
	} {
		if _, err := admin.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 { // making a sub-admin twice is no error
		if err := admin.AddSubAdmin(ctx, "owner", "asso"); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct {
		user, group string
		code        int
		msg         string
	}{
		{"nobody", "asso", 101, "User does not exist"},
		{"owner", "nogroup", 102, "Group does not exist"},
		{"owner", "admin", 103, "Cannot create sub-admins for admin group"},
	} {
		if code, _, msg := ocsCode(t, admin.AddSubAdmin(ctx, tt.user, tt.group)); code != tt.code || msg != tt.msg {
			t.Errorf("add sub-admin %s of %s: %d %q, want %d %q", tt.user, tt.group, code, msg, tt.code, tt.msg)
		}
	}
	if groups, err := admin.SubAdminGroups(ctx, "owner"); err != nil || strings.Join(groups, ",") != "asso" {
		t.Errorf("sub-admin groups %v %v", groups, err)
	}
	if _, err := admin.SubAdminGroups(ctx, "nobody"); !errors.Is(err, nextcloud.ErrNotFound) {
		t.Errorf("sub-admin groups of nobody: %v", err)
	}
	if u, err := admin.UserDetails(ctx, "owner"); err != nil || strings.Join(u.Subadmin, ",") != "asso" {
		t.Errorf("owner details %+v %v", u, err)
	}
	if users, err := admin.GroupUsers(ctx, "asso"); err != nil || strings.Join(users, ",") != "owner,second-admin" {
		t.Errorf("asso users %v %v", users, err)
	}

	// The sub-admin side: every client call logged in as the owner.
	for _, v := range []int{1, 2} {
		owner := in.client(t, nextcloud.WithBasicAuth("owner", pw), nextcloud.WithOCSVersion(v))
		member := "member-v" + string(rune('0'+v))
		if _, err := owner.CreateUser(ctx, nextcloud.CreateUser{UserID: member, Password: pw, Groups: []string{"asso"},
			DisplayName: "Member", Quota: "1 GB", Language: "fr"}); err != nil {
			t.Fatalf("v%d: sub-admin creates in their group: %v", v, err)
		}
		for _, tt := range []struct {
			name string
			err  error
			code int
			msg  string
		}{
			{"create without group", create(owner, "x1", nil), 106, "No group specified (required for sub-admins)"},
			{"create in another group", create(owner, "x2", []string{"other"}), 105, "Insufficient privileges for group other"},
			{"create in admin", create(owner, "x3", []string{"admin"}), 105, "Insufficient privileges for group admin"},
			{"set own quota", owner.SetQuota(ctx, "owner", "10 GB"), 113, ""},
			{"see an admin", ignore(owner.UserDetails(ctx, "second-admin")), 998, ""},
			{"see an outsider", ignore(owner.UserDetails(ctx, "outsider")), 998, ""},
			{"set an admin's quota", owner.SetQuota(ctx, "second-admin", "1 GB"), 998, ""},
			{"disable an admin", owner.DisableUser(ctx, "second-admin"), 998, ""},
			{"delete an admin", owner.DeleteUser(ctx, "second-admin"), 998, ""},
			{"delete an outsider", owner.DeleteUser(ctx, "outsider"), 998, ""},
			{"list another group", ignore(owner.GroupUsers(ctx, "other")), 403, ""},
			{"list a missing group", ignore(owner.GroupUsers(ctx, "nogroup")), 404, "The requested group could not be found"},
			{"create a group", owner.CreateGroup(ctx, "mine", ""), 403, standin.MsgNotAuthorizedSetting},
			{"make a sub-admin", owner.AddSubAdmin(ctx, member, "asso"), 403, standin.MsgNotAuthorizedSetting},
			{"read sub-admin groups", ignore(owner.SubAdminGroups(ctx, member)), 403, standin.MsgNotAuthorizedSetting},
			{"read app config", ignore(owner.AppValue(ctx, "files", "default_quota")), 403, standin.MsgNotAdmin},
			{"write app config", owner.SetAppValue(ctx, "files", "default_quota", "1 TB"), 403,
				"Logged in account must be an administrator or have authorization to edit this setting."},
			{"add to a group not theirs", owner.AddToGroup(ctx, member, "other"), 104, ""},
			{"leave their group", owner.RemoveFromGroup(ctx, "owner", "asso"), 105, "Cannot remove yourself from this group as you are a sub-admin"},
			{"take a member out of their last group", owner.RemoveFromGroup(ctx, member, "asso"), 105,
				"Not viable to remove user from the last group you are sub-admin of"},
			{"add to a missing group", owner.AddToGroup(ctx, member, "nogroup"), 102, ""},
			{"add a missing account", owner.AddToGroup(ctx, "nobody", "asso"), 103, ""},
			{"add with no group", owner.AddToGroup(ctx, member, ""), 101, ""},
		} {
			code, httpStatus, msg := ocsCode(t, tt.err)
			wantHTTP := 200
			if v == 2 {
				wantHTTP = map[int]int{998: 404, 403: 403, 404: 404}[tt.code]
				if wantHTTP == 0 {
					wantHTTP = 400
				}
			}
			if code != tt.code || msg != tt.msg || httpStatus != wantHTTP {
				t.Errorf("v%d %s: ocs %d http %d %q, want ocs %d http %d %q", v, tt.name, code, httpStatus, msg, tt.code, wantHTTP, tt.msg)
			}
		}
		// What the sub-admin may do to accounts of their group.
		for _, step := range []struct {
			name string
			err  error
		}{
			{"set quota", owner.SetQuota(ctx, member, "2 GB")},
			{"disable", owner.DisableUser(ctx, member)},
			{"enable", owner.EnableUser(ctx, member)},
			{"display name", edit(t, in, "owner", pw, v, member, "display", "Marie Curie")},
			{"email", edit(t, in, "owner", pw, v, member, "email", "marie@example.org")},
			{"language", edit(t, in, "owner", pw, v, member, "language", "de")},
			{"password", edit(t, in, "owner", pw, v, member, "password", "a new long password")},
			// Adding is not checked against the account: any account joins the sub-admin's group.
			{"add an outsider to their group", owner.AddToGroup(ctx, "outsider", "asso")},
		} {
			if step.err != nil {
				t.Errorf("v%d %s: %v", v, step.name, step.err)
			}
		}
		u, err := owner.UserDetails(ctx, member)
		if err != nil {
			t.Fatal(err)
		}
		if !u.Enabled || u.Quota.Quota != 2<<30 || u.DisplayName != "Marie Curie" || u.Email != "marie@example.org" ||
			u.Language != "de" || strings.Join(u.Groups, ",") != "asso" {
			t.Errorf("v%d member as the sub-admin sees it: %+v", v, u)
		}
		if _, err := in.client(t, nextcloud.WithBasicAuth(member, "a new long password")).ListUsers(ctx, "", 0, 0); err != nil {
			t.Errorf("v%d member logs in with the password the sub-admin set: %v", v, err)
		}
		// The outsider, now in asso too, may not be taken out of it (asso is their only group of the
		// owner's), but is now the owner's to manage.
		if code, _, _ := ocsCode(t, owner.RemoveFromGroup(ctx, "outsider", "asso")); code != 105 {
			t.Errorf("v%d remove outsider from asso: %d", v, code)
		}
		if err := admin.RemoveFromGroup(ctx, "outsider", "asso"); err != nil {
			t.Fatal(err)
		}
		ids, err := owner.ListUsers(ctx, "", 0, 0)
		if err != nil || strings.Join(ids, ",") != strings.Join(slices.Sorted(slices.Values(append(memberIDs(v), "owner", "second-admin"))), ",") {
			t.Errorf("v%d the sub-admin lists %v %v", v, ids, err)
		}
		details, err := owner.ListUserDetails(ctx, "", 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range details {
			// The admin of their group shows as its id only.
			if d.ID == "second-admin" != d.Partial {
				t.Errorf("v%d details of %s: partial=%t", v, d.ID, d.Partial)
			}
		}
		if users, err := owner.GroupUsers(ctx, "asso"); err != nil || !slices.Contains(users, member) {
			t.Errorf("v%d the sub-admin lists asso: %v %v", v, users, err)
		}
	}
	// Deleting an account of their group takes its files too.
	owner := in.client(t, nextcloud.WithBasicAuth("owner", pw))
	in.place(t, "member-v1", "a new long password", "doc.txt", 10)
	if err := owner.DeleteUser(ctx, "member-v1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(in.dataDir, "member-v1")); !os.IsNotExist(err) {
		t.Errorf("files of a deleted account: %v", err)
	}
	// What the sub-admin sees of an account: enabled, but no storage location.
	_, _, body := in.as(t, "owner", pw, "GET", "/ocs/v2.php/cloud/users/member-v2?format=json", "")
	if !strings.Contains(string(body), `"enabled":true`) || strings.Contains(string(body), "storageLocation") ||
		!strings.Contains(string(body), `"subadmin":[]`) {
		t.Errorf("details as the sub-admin: %s", body)
	}
	// An account sees itself, without enabled.
	_, _, body = in.as(t, "outsider", pw, "GET", "/ocs/v2.php/cloud/users/outsider?format=json", "")
	if strings.Contains(string(body), `"enabled"`) || !strings.Contains(string(body), `"id":"outsider"`) {
		t.Errorf("own details: %s", body)
	}
	// Someone without any group of theirs lists no one.
	if ids, err := in.client(t, nextcloud.WithBasicAuth("outsider", pw)).ListUsers(ctx, "", 0, 0); err != nil || len(ids) != 0 {
		t.Errorf("outsider lists %v %v", ids, err)
	}

	// Sub-admins of a group, and removing one (no client call: raw).
	status, _, body := in.do(t, "GET", "/ocs/v2.php/cloud/groups/asso/subadmins?format=json", nil, nil)
	if status != 200 || !strings.Contains(string(body), `"data":["owner"]`) {
		t.Errorf("sub-admins of asso: %d %s", status, body)
	}
	for _, want := range []int{200, 400} { // the second time owner is no sub-admin of asso any more: 102
		status, _, body := in.as(t, adminUser, adminPass, "DELETE", "/ocs/v2.php/cloud/users/owner/subadmins?format=json", "groupid=asso")
		if status != want {
			t.Errorf("remove sub-admin: %d %s", status, body)
		}
	}
	if groups, err := admin.SubAdminGroups(ctx, "owner"); err != nil || len(groups) != 0 {
		t.Errorf("after removal: %v %v", groups, err)
	}
	// An admin may not leave the admin group; deleting a group's sub-admin removes the row.
	if code, _, msg := ocsCode(t, admin.RemoveFromGroup(ctx, adminUser, "admin")); code != 105 || msg != "Cannot remove yourself from the admin group" {
		t.Errorf("admin leaves admin: %d %q", code, msg)
	}
	if err := admin.AddSubAdmin(ctx, "outsider", "other"); err != nil {
		t.Fatal(err)
	}
	if err := admin.DeleteUser(ctx, "outsider"); err != nil {
		t.Fatal(err)
	}
	status, _, body = in.do(t, "GET", "/ocs/v1.php/cloud/groups/other/subadmins?format=json", nil, nil)
	if status != 200 || !strings.Contains(string(body), `"data":[]`) {
		t.Errorf("sub-admins of other after deleting theirs: %s", body)
	}
}

func memberIDs(v int) []string {
	if v == 1 {
		return []string{"member-v1"}
	}
	return []string{"member-v1", "member-v2"}
}

func create(c *nextcloud.Client, uid string, groups []string) error {
	_, err := c.CreateUser(context.Background(), nextcloud.CreateUser{UserID: uid, Password: "long enough pw", Groups: groups})
	return err
}

func ignore[T any](_ T, err error) error { return err }

// edit is PUT /cloud/users/{uid} key=…&value=… as login (the client only sets quotas), with the
// failure as a *nextcloud.Error.
func edit(t *testing.T, in *instance, login, pass string, v int, uid, key, value string) error {
	t.Helper()
	path := "/ocs/v" + string(rune('0'+v)) + ".php/cloud/users/" + uid + "?format=json"
	status, _, body := in.as(t, login, pass, "PUT", path, "key="+key+"&value="+url.QueryEscape(value))
	var env struct {
		OCS struct {
			Meta nextcloud.Meta `json:"meta"`
		} `json:"ocs"`
	}
	if err := json.Unmarshal(body, &env); err != nil || status != 200 || env.OCS.Meta.Status != "ok" {
		return &nextcloud.Error{Op: "edit " + key, HTTPStatus: status, StatusCode: env.OCS.Meta.StatusCode, Message: env.OCS.Meta.Message}
	}
	return nil
}

// TestMaxQuota: files/max_quota, read as plain bytes, refuses a larger quota whoever sets it,
// on edit and on create (where the account stays); -1 lifts it.
func TestMaxQuota(t *testing.T) {
	in := newInstance(t)
	ctx := context.Background()
	admin := in.client(t)
	const pw = "long enough pw"
	if err := admin.CreateGroup(ctx, "asso", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CreateUser(ctx, nextcloud.CreateUser{UserID: "owner", Password: pw, Groups: []string{"asso"}}); err != nil {
		t.Fatal(err)
	}
	if err := admin.AddSubAdmin(ctx, "owner", "asso"); err != nil {
		t.Fatal(err)
	}
	if err := admin.SetAppValue(ctx, "files", "max_quota", "10737418240"); err != nil { // 10 GB
		t.Fatal(err)
	}
	owner := in.client(t, nextcloud.WithBasicAuth("owner", pw))
	if _, err := owner.CreateUser(ctx, nextcloud.CreateUser{UserID: "m", Password: pw, Groups: []string{"asso"}}); err != nil {
		t.Fatal(err)
	}
	const exceeding = "Invalid quota value. 20 GB is exceeding the maximum quota"
	for name, c := range map[string]*nextcloud.Client{"admin": admin, "sub-admin": owner} {
		if code, httpStatus, msg := ocsCode(t, c.SetQuota(ctx, "m", "20 GB")); code != 101 || httpStatus != 400 || msg != exceeding {
			t.Errorf("%s sets 20 GB: %d %d %q", name, code, httpStatus, msg)
		}
		if err := c.SetQuota(ctx, "m", "10 GB"); err != nil {
			t.Errorf("%s sets the maximum: %v", name, err)
		}
		// No limit on "none" or "default" (unlimited quota is allowed here).
		if err := c.SetQuota(ctx, "m", "none"); err != nil {
			t.Errorf("%s sets none: %v", name, err)
		}
	}
	_, err := admin.CreateUser(ctx, nextcloud.CreateUser{UserID: "big", Password: pw, Quota: "20 GB"})
	if code, _, msg := ocsCode(t, err); code != 101 || msg != exceeding {
		t.Errorf("create with 20 GB: %v", err)
	}
	if u, err := admin.UserDetails(ctx, "big"); err != nil || u.Quota.Quota != nextcloud.SpaceUnlimited {
		t.Errorf("the account stays, without quota: %+v %v", u, err)
	}
	// A human size in max_quota is read with (int): "20 GB" means 20 bytes.
	if err := admin.SetAppValue(ctx, "files", "max_quota", "20 GB"); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := ocsCode(t, admin.SetQuota(ctx, "m", "1 KB")); code != 101 {
		t.Errorf("1 KB under max_quota '20 GB': %d", code)
	}
	if err := admin.SetAppValue(ctx, "files", "max_quota", "-1"); err != nil {
		t.Fatal(err)
	}
	if err := admin.SetQuota(ctx, "m", "1 TB"); err != nil {
		t.Errorf("no maximum: %v", err)
	}
	// allow_unlimited_quota = 0 forbids none, and an unset default then is the first preset.
	if err := admin.SetAppValue(ctx, "files", "allow_unlimited_quota", "0"); err != nil {
		t.Fatal(err)
	}
	if code, _, msg := ocsCode(t, admin.SetQuota(ctx, "m", "none")); code != 101 || msg != "Unlimited quota is forbidden on this instance" {
		t.Errorf("none when forbidden: %d %q", code, msg)
	}
	if u, err := admin.UserDetails(ctx, "owner"); err != nil || u.Quota.Quota != 1<<30 {
		t.Errorf("default when unlimited is forbidden: %+v %v", u, err)
	}
	if code, _, msg := ocsCode(t, admin.SetAppValue(ctx, "files", "default_quota", "none")); code != 403 ||
		msg != "The given key can not be set, unlimited quota is forbidden on this instance" {
		t.Errorf("default_quota none when forbidden: %d %q", code, msg)
	}
}

// TestAppConfig: the provisioning_api app config endpoints, and files/default_quota for accounts
// created with no quota or "default".
func TestAppConfig(t *testing.T) {
	in := newInstance(t)
	ctx := context.Background()
	c := in.client(t)
	if v, err := c.AppValue(ctx, "files", "default_quota"); err != nil || v != "" {
		t.Errorf("unset: %q %v", v, err)
	}
	if err := c.SetAppValue(ctx, "files", "default_quota", "1 GB"); err != nil {
		t.Fatal(err)
	}
	if v, err := c.AppValue(ctx, "files", "default_quota"); err != nil || v != "1 GB" {
		t.Errorf("after set: %q %v", v, err)
	}
	if v, ok, err := in.srv.AppValue(ctx, "files", "default_quota"); err != nil || !ok || v != "1 GB" {
		t.Errorf("occ sees %q %t %v", v, ok, err)
	}
	for _, u := range []nextcloud.CreateUser{
		{UserID: "no-quota", Password: "long enough pw"},
		{UserID: "default-quota", Password: "long enough pw", Quota: "default"},
	} {
		if _, err := c.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		got, err := c.UserDetails(ctx, u.UserID)
		if err != nil || got.Quota.Quota != 1<<30 {
			t.Errorf("%s: %+v %v", u.UserID, got, err)
		}
		// The same default limits its uploads.
		code, _ := in.upload(t, u.UserID, "long enough pw", "f.bin", nil, false)
		if code != http.StatusCreated {
			t.Errorf("%s: upload %d", u.UserID, code)
		}
		if u, _ := c.UserDetails(ctx, u.UserID); u.Quota.Total != 1<<30 || u.Quota.State != nextcloud.QuotaComplete {
			t.Errorf("after login: %+v", u.Quota)
		}
	}
	if err := c.DeleteAppValue(ctx, "files", "default_quota"); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteAppValue(ctx, "files", "default_quota"); err != nil {
		t.Errorf("delete twice: %v", err)
	}
	if got, err := c.UserDetails(ctx, "no-quota"); err != nil || !got.Quota.Unlimited() {
		t.Errorf("after delete: %+v %v", got, err)
	}
	for _, tt := range []struct{ app, key, value, msg string }{
		{"files", "enabled", "no", "The given key can not be set"},
		{"files", "installed_version", "1", "The given key can not be set"},
		{"core", "public_files", "x", "The given key can not be set"},
		{"core", "remote_webdav", "x", "The given key can not be set"},
		{"core", "encryption_enabled", "no", "The given key can not be set"},
		{"Files", "default_quota", "1 GB", "Invalid app id given"},
		{"files_", "x", "1", "Invalid app id given"},
	} {
		err := c.SetAppValue(ctx, tt.app, tt.key, tt.value)
		if code, httpStatus, msg := ocsCode(t, err); code != 403 || httpStatus != 403 || msg != tt.msg || !errors.Is(err, nextcloud.ErrForbidden) {
			t.Errorf("set %s/%s: %v", tt.app, tt.key, err)
		}
	}
	if err := c.SetAppValue(ctx, "core", "encryption_enabled", "yes"); err != nil {
		t.Errorf("core encryption_enabled yes is allowed: %v", err)
	}
	if code, _, _ := ocsCode(t, c.DeleteAppValue(ctx, "core", "encryption_enabled")); code != 403 {
		t.Errorf("deleting encryption_enabled: %d", code)
	}
	// The refusal's reason is in data, as Nextcloud renders a DataResponse with status 403.
	_, _, body := in.do(t, "POST", "/ocs/v1.php/apps/provisioning_api/api/v1/config/apps/files/types?format=json",
		strings.NewReader("value=x"), func(r *http.Request) { r.Header.Set("Content-Type", "application/x-www-form-urlencoded") })
	if d := sameJSON(t, []byte(`{"ocs":{"meta":{"status":"failure","statuscode":403,"message":"","totalitems":"","itemsperpage":""},"data":{"data":{"message":"The given key can not be set"}}}}`), body); d != "" {
		t.Error(d)
	}
	// Listing apps and keys, and the default of an unset value.
	_, _, body = in.do(t, "GET", "/ocs/v2.php/apps/provisioning_api/api/v1/config/apps?format=json", nil, nil)
	if !strings.Contains(string(body), `"data":{"data":["core"]}`) {
		t.Errorf("apps: %s", body)
	}
	_, _, body = in.do(t, "GET", "/ocs/v2.php/apps/provisioning_api/api/v1/config/apps/core?format=json", nil, nil)
	if !strings.Contains(string(body), `"data":{"data":["encryption_enabled"]}`) {
		t.Errorf("keys: %s", body)
	}
	_, _, body = in.do(t, "GET", "/ocs/v2.php/apps/provisioning_api/api/v1/config/apps/files/nothing?format=json&defaultValue=42", nil, nil)
	if !strings.Contains(string(body), `"data":{"data":"42"}`) {
		t.Errorf("default value: %s", body)
	}
}
