package nextcloud

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// replay is an httptest server answering every request with one canned response, and
// recording the requests.
type replay struct {
	status int
	header map[string]string
	body   []byte

	mu   sync.Mutex
	reqs []recorded
}

type recorded struct {
	method, path, host, ocsHeader, token, contentType, body string
	query                                                   url.Values
	user, pass                                              string
	hasAuth                                                 bool
}

func (rp *replay) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	u, p, ok := r.BasicAuth()
	rp.mu.Lock()
	rp.reqs = append(rp.reqs, recorded{method: r.Method, path: r.URL.Path, host: r.Host, ocsHeader: r.Header.Get("OCS-APIRequest"),
		token: r.Header.Get("NC-Token"), contentType: r.Header.Get("Content-Type"), body: string(b), query: r.URL.Query(),
		user: u, pass: p, hasAuth: ok})
	rp.mu.Unlock()
	for k, v := range rp.header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(rp.status)
	_, _ = w.Write(rp.body)
}

func newReplay(t *testing.T, status int, header map[string]string, body string, opts ...Option) (*Client, *replay) {
	t.Helper()
	rp := &replay{status: status, header: header, body: []byte(body)}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	c, err := New(srv.URL, append([]Option{WithBasicAuth("admin", "app-password")}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c, rp
}

func v1(statuscode int, message, data string) string {
	status := "ok"
	if statuscode != 100 {
		status = "failure"
	}
	return fmt.Sprintf(`{"ocs":{"meta":{"status":%q,"statuscode":%d,"message":%q,"totalitems":"","itemsperpage":""},"data":%s}}`,
		status, statuscode, message, data)
}

func v2(statuscode int, message, data string) string {
	status := "ok"
	if statuscode != 200 {
		status = "failure"
	}
	return fmt.Sprintf(`{"ocs":{"meta":{"status":%q,"statuscode":%d,"message":%q},"data":%s}}`, status, statuscode, message, data)
}

func TestErrors(t *testing.T) {
	maint := map[string]string{"X-Nextcloud-Maintenance-Mode": "1"}
	tests := []struct {
		name    string
		status  int
		header  map[string]string
		body    string
		version int
		call    func(context.Context, *Client) error
		want    []error
		notWant []error
		code    int
	}{
		{"maintenance v2", 503, maint, v2(503, "Service unavailable", "[]"), 2, listUsers, []error{ErrMaintenance}, []error{ErrNotFound}, 503},
		{"maintenance v1 still 503", 503, maint, v1(503, "Service unavailable", "[]"), 1, listUsers, []error{ErrMaintenance}, nil, 503},
		{"maintenance html page", 503, map[string]string{"X-Nextcloud-Maintenance-Mode": "1", "Retry-After": "120"}, "<html><title>Maintenance mode</title></html>", 2, listUsers, []error{ErrMaintenance}, nil, 0},
		{"user exists v2", 400, nil, v2(102, "User already exists", "[]"), 2, createUser, []error{ErrUserExists}, []error{ErrUserLimit}, 102},
		{"user exists v1 under http 200", 200, nil, v1(102, "User already exists", "[]"), 1, createUser, []error{ErrUserExists}, nil, 102},
		{"invalid quota on create is not exists", 400, nil, v2(102, "Invalid quota value 5 XQ", "[]"), 2, createUser, nil, []error{ErrUserExists}, 102},
		{"102 on set quota is not exists", 400, nil, v2(102, "Invalid quota value x", "[]"), 2, setQuota, nil, []error{ErrUserExists}, 102},
		{"user limit v2", 400, nil, v2(107, "The user was not created because the user limit has been reached. Check your notifications to learn more.", "[]"), 2, createUser, []error{ErrUserLimit}, []error{ErrUserExists}, 107},
		{"user limit v1", 200, nil, v1(107, "The user was not created because the user limit has been reached. Check your notifications to learn more.", "[]"), 1, createUser, []error{ErrUserLimit}, nil, 107},
		{"not found v2", 404, nil, v2(998, "User does not exist", "[]"), 2, userDetails, []error{ErrNotFound}, nil, 998},
		{"not found v1 under http 200", 200, nil, v1(998, "User does not exist", "[]"), 1, userDetails, []error{ErrNotFound}, nil, 998},
		{"unauthorized v2", 401, nil, v2(997, "Current user is not logged in", "[]"), 2, listUsers, []error{ErrUnauthorized}, nil, 997},
		{"unauthorized v1", 401, nil, v1(997, "Current user is not logged in", "[]"), 1, listUsers, []error{ErrUnauthorized}, nil, 997},
		{"throttled", 429, nil, `<html><title>Too many requests</title></html>`, 2, listUsers, []error{ErrThrottled}, nil, 0},
		{"v1 generic failure under 200", 200, nil, v1(101, "", "[]"), 1, disableUser, nil, []error{ErrNotFound, ErrUserExists}, 101},
		{"untrusted domain page", 400, nil, `<!DOCTYPE html><html><head><title>Access through untrusted domain</title></head></html>`, 2, listUsers, []error{ErrUntrustedDomain}, nil, 0},
		{"untrusted domain status.php", 400, nil, `{"error": "Trusted domain error.", "code": 15}`, 2, status, []error{ErrUntrustedDomain}, nil, 15},
		{"server error", 500, nil, v2(996, "Internal Server Error", "[]"), 2, listUsers, nil, []error{ErrNotFound, ErrMaintenance}, 996},
		{"not json under 200", 200, nil, `<html>hello</html>`, 2, listUsers, nil, []error{ErrNotFound}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := newReplay(t, tt.status, tt.header, tt.body, WithOCSVersion(tt.version))
			err := tt.call(context.Background(), c)
			if err == nil {
				t.Fatal("no error")
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T %v is not *Error", err, err)
			}
			if e.HTTPStatus != tt.status || e.StatusCode != tt.code {
				t.Errorf("http %d ocs %d, want http %d ocs %d", e.HTTPStatus, e.StatusCode, tt.status, tt.code)
			}
			for _, w := range tt.want {
				if !errors.Is(err, w) {
					t.Errorf("%v: not %v", err, w)
				}
			}
			for _, w := range tt.notWant {
				if errors.Is(err, w) {
					t.Errorf("%v: unexpectedly %v", err, w)
				}
			}
		})
	}
}

func listUsers(ctx context.Context, c *Client) error {
	_, err := c.ListUsers(ctx, "", 0, 0)
	return err
}
func userDetails(ctx context.Context, c *Client) error {
	_, err := c.UserDetails(ctx, "bob")
	return err
}
func createUser(ctx context.Context, c *Client) error {
	_, err := c.CreateUser(ctx, CreateUser{UserID: "bob", Password: "correct horse battery"})
	return err
}
func setQuota(ctx context.Context, c *Client) error    { return c.SetQuota(ctx, "bob", "x") }
func disableUser(ctx context.Context, c *Client) error { return c.DisableUser(ctx, "nobody") }
func status(ctx context.Context, c *Client) error      { _, err := c.Status(ctx); return err }

func TestStatusReplaysFixtures(t *testing.T) {
	for _, tt := range []struct {
		file        string
		maintenance bool
	}{{"status.json", false}, {"status_maintenance.json", true}} {
		t.Run(tt.file, func(t *testing.T) {
			c, rp := newReplay(t, 200, nil, string(readFixture(t, tt.file)))
			s, err := c.Status(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if !s.Installed || s.Maintenance != tt.maintenance {
				t.Errorf("got %+v", s)
			}
			if rp.reqs[0].path != "/status.php" || rp.reqs[0].hasAuth {
				t.Errorf("request %+v: want unauthenticated GET /status.php", rp.reqs[0])
			}
		})
	}
}

func TestQuotaShapes(t *testing.T) {
	tests := []struct {
		name  string
		quota string
		want  Quota
	}{
		{"ints", `{"free":900,"used":100,"total":1000,"relative":10,"quota":1000}`,
			Quota{State: QuotaComplete, Free: 900, Used: 100, Total: 1000, Relative: 10, Quota: 1000}},
		{"floats", `{"free":2.0632824998E10,"used":842011482.0,"total":21474836480.0,"relative":3.92,"quota":21474836480.0}`,
			Quota{State: QuotaComplete, Free: 20632824998, Used: 842011482, Total: 21474836480, Relative: 3.92, Quota: 21474836480}},
		{"unlimited", `{"free":-3,"used":7438874,"total":-3,"relative":0,"quota":-3}`,
			Quota{State: QuotaComplete, Free: SpaceUnlimited, Used: 7438874, Total: SpaceUnlimited, Quota: SpaceUnlimited}},
		{"never logged in, no quota", `{"quota":"none","used":0}`,
			Quota{State: QuotaNotInitialized, Free: SpaceUnlimited, Total: SpaceUnlimited, Quota: SpaceUnlimited}},
		{"never logged in, 5 GB", `{"quota":5368709120,"used":0}`,
			Quota{State: QuotaNotInitialized, Free: 5368709120, Total: 5368709120, Quota: 5368709120}},
		{"never logged in, float quota", `{"quota":5368709120.0,"used":0}`,
			Quota{State: QuotaNotInitialized, Free: 5368709120, Total: 5368709120, Quota: 5368709120}},
		{"storage info failed", `[]`, Quota{State: QuotaUnavailable}},
		{"numeric strings", `{"free":"900","used":"100","total":"1000","relative":"10.5","quota":"1000"}`,
			Quota{State: QuotaComplete, Free: 900, Used: 100, Total: 1000, Relative: 10.5, Quota: 1000}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := v2(200, "OK", `{"enabled":true,"id":"bob","lastLogin":0,"email":null,"displayname":"Bob","groups":[],"quota":`+tt.quota+`}`)
			c, _ := newReplay(t, 200, nil, body)
			u, err := c.UserDetails(context.Background(), "bob")
			if err != nil {
				t.Fatal(err)
			}
			if u.Quota != tt.want {
				t.Errorf("quota %+v, want %+v", u.Quota, tt.want)
			}
			if u.ID != "bob" || !u.Enabled || u.Email != "" || u.Groups == nil && len(u.Groups) != 0 {
				t.Errorf("user %+v", u)
			}
		})
	}
}

func TestListShapes(t *testing.T) {
	tests := []struct {
		name string
		data string
		ids  []string
	}{
		{"strings", `{"users":["alice","bob"]}`, []string{"alice", "bob"}},
		{"numeric ids as numbers", `{"users":[12345,"bob",7]}`, []string{"12345", "bob", "7"}},
		{"empty list", `{"users":[]}`, nil},
		{"empty data array", `[]`, nil},
		{"empty data object", `{}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := newReplay(t, 200, nil, v1(100, "OK", tt.data), WithOCSVersion(1))
			ids, err := c.ListUsers(context.Background(), "", 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(ids, ",") != strings.Join(tt.ids, ",") {
				t.Errorf("ids %v, want %v", ids, tt.ids)
			}
		})
	}
}

func TestDetailsShapes(t *testing.T) {
	tests := []struct {
		name string
		data string
		ids  []string
	}{
		{"keyed object", `{"users":{"alice":{"id":"alice","enabled":true,"quota":[]},"bob":{"id":"bob","enabled":false,"quota":{"quota":"none","used":0}}}}`, []string{"alice", "bob"}},
		{"numeric id as number", `{"users":{"12345":{"id":12345,"enabled":true,"quota":{"quota":-3,"used":0}}}}`, []string{"12345"}},
		{"users empty array", `{"users":[]}`, nil},
		{"id only (no permission)", `{"users":{"carol":{"id":"carol"}}}`, []string{"carol"}},
		{"key only", `{"users":{"dave":{"enabled":true}}}`, []string{"dave"}},
		{"php list for sequential numeric ids", `{"users":[{"id":0,"enabled":true},{"id":1,"enabled":true}]}`, []string{"0", "1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := newReplay(t, 200, nil, v2(200, "OK", tt.data))
			users, err := c.ListUserDetails(context.Background(), "", 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, u := range users {
				ids = append(ids, u.ID)
			}
			if strings.Join(ids, ",") != strings.Join(tt.ids, ",") {
				t.Errorf("ids %v, want %v", ids, tt.ids)
			}
		})
	}
}

func TestEmptyDataOnWrites(t *testing.T) {
	for _, data := range []string{`[]`, `{}`, `null`} {
		t.Run(data, func(t *testing.T) {
			c, rp := newReplay(t, 200, nil, v2(200, "OK", data))
			ctx := context.Background()
			if err := c.SetQuota(ctx, "bob", "5 GB"); err != nil {
				t.Fatal(err)
			}
			if err := c.EnableUser(ctx, "bob"); err != nil {
				t.Fatal(err)
			}
			if err := c.DisableUser(ctx, "bob"); err != nil {
				t.Fatal(err)
			}
			if err := c.DeleteUser(ctx, "bob"); err != nil {
				t.Fatal(err)
			}
			want := []struct{ method, path, body string }{
				{"PUT", "/ocs/v2.php/cloud/users/bob", "key=quota&value=5+GB"},
				{"PUT", "/ocs/v2.php/cloud/users/bob/enable", ""},
				{"PUT", "/ocs/v2.php/cloud/users/bob/disable", ""},
				{"DELETE", "/ocs/v2.php/cloud/users/bob", ""},
			}
			for i, w := range want {
				got := rp.reqs[i]
				if got.method != w.method || got.path != w.path || got.body != w.body {
					t.Errorf("request %d: %s %s %q, want %s %s %q", i, got.method, got.path, got.body, w.method, w.path, w.body)
				}
			}
		})
	}
}

func TestRequestsCarryOCSConventions(t *testing.T) {
	c, rp := newReplay(t, 200, nil, v2(200, "OK", `{"id":"bob"}`), WithHost("asso.example.org"))
	id, err := c.CreateUser(context.Background(), CreateUser{UserID: "bob", Password: "pw-long-enough", DisplayName: "Bob B",
		Email: "bob@example.org", Groups: []string{"staff", "board"}, Quota: "5 GB", Language: "fr"})
	if err != nil || id != "bob" {
		t.Fatalf("create: %q %v", id, err)
	}
	r := rp.reqs[0]
	if r.method != "POST" || r.path != "/ocs/v2.php/cloud/users" || r.query.Get("format") != "json" || r.ocsHeader != "true" ||
		r.contentType != "application/x-www-form-urlencoded" || r.user != "admin" || r.pass != "app-password" || r.host != "asso.example.org" {
		t.Errorf("request %+v", r)
	}
	form, _ := url.ParseQuery(r.body)
	if form.Get("userid") != "bob" || form.Get("displayName") != "Bob B" || strings.Join(form["groups[]"], ",") != "staff,board" ||
		form.Get("quota") != "5 GB" || form.Get("language") != "fr" || form.Get("email") != "bob@example.org" {
		t.Errorf("form %v", form)
	}
}

func TestServerInfoToken(t *testing.T) {
	body := string(readFixture(t, "serverinfo_info.json"))
	t.Run("token", func(t *testing.T) {
		rp := &replay{status: 200, body: []byte(body)}
		srv := httptest.NewServer(rp)
		t.Cleanup(srv.Close)
		c, _ := New(srv.URL, WithServerInfoToken("s3cret"), WithBasicAuth("admin", "pw"))
		info, err := c.ServerInfo(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if info.Nextcloud.Storage.NumUsers != 7 {
			t.Errorf("num_users %d", info.Nextcloud.Storage.NumUsers)
		}
		if r := rp.reqs[0]; r.token != "s3cret" || r.hasAuth || r.path != "/ocs/v2.php/apps/serverinfo/api/v1/info" {
			t.Errorf("request %+v: want the token and no basic auth", r)
		}
	})
	t.Run("login", func(t *testing.T) {
		c, rp := newReplay(t, 200, nil, body)
		if _, err := c.ServerInfo(context.Background()); err != nil {
			t.Fatal(err)
		}
		if r := rp.reqs[0]; r.token != "" || !r.hasAuth {
			t.Errorf("request %+v: want basic auth", r)
		}
	})
}

// pagedServer serves n users over /users/details, honouring limit and offset.
func pagedServer(t *testing.T, n int) (*httptest.Server, *int) {
	t.Helper()
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		offset, _ := strconv.Atoi(r.URL.Query().Get("offset"))
		var parts []string
		for i := offset; i < n && i < offset+limit; i++ {
			parts = append(parts, fmt.Sprintf(`"u%03d":{"id":"u%03d","enabled":true,"quota":{"free":0,"used":%d,"total":-3,"relative":0,"quota":-3}}`, i, i, i))
		}
		users := "[]"
		if len(parts) > 0 {
			users = "{" + strings.Join(parts, ",") + "}"
		}
		_, _ = io.WriteString(w, v2(200, "OK", `{"users":`+users+`}`))
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

func TestAllUserDetailsPages(t *testing.T) {
	tests := []struct {
		users, page, calls int
	}{
		{0, 100, 1}, {99, 100, 1}, {100, 100, 2}, {250, 100, 3}, {7, 3, 3},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d users by %d", tt.users, tt.page), func(t *testing.T) {
			srv, calls := pagedServer(t, tt.users)
			c, err := New(srv.URL, WithPageSize(tt.page))
			if err != nil {
				t.Fatal(err)
			}
			users, err := c.AllUserDetails(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(users) != tt.users || *calls != tt.calls {
				t.Errorf("%d users in %d calls, want %d in %d", len(users), *calls, tt.users, tt.calls)
			}
			total, err := c.TotalUsedBytes(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			want := int64(tt.users * (tt.users - 1) / 2)
			if total != want {
				t.Errorf("total %d, want %d", total, want)
			}
		})
	}
}

func TestAllUserDetailsStopsOnServerIgnoringOffset(t *testing.T) {
	body := v2(200, "OK", `{"users":{"a":{"id":"a"},"b":{"id":"b"}}}`)
	c, _ := newReplay(t, 200, nil, body, WithPageSize(2))
	if _, err := c.AllUserDetails(context.Background()); err == nil {
		t.Fatal("want an error from a server repeating the same page")
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	for _, tt := range []struct {
		url  string
		opts []Option
	}{
		{"ftp://x", nil}, {"not a url", nil}, {"http://x", []Option{WithOCSVersion(3)}}, {"http://x", []Option{WithPageSize(0)}},
	} {
		if _, err := New(tt.url, tt.opts...); err == nil {
			t.Errorf("New(%q) accepted", tt.url)
		}
	}
}
