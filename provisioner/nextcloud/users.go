package nextcloud

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

const (
	opCreateUser = "create user"
)

// maxPages stops AllUserDetails on a server that ignores offset.
const maxPages = 100_000

func pageQuery(search string, limit, offset int) url.Values {
	q := url.Values{}
	if search != "" {
		q.Set("search", search)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if offset > 0 {
		q.Set("offset", strconv.Itoa(offset))
	}
	return q
}

// ListUsers returns user ids matching search; limit <= 0 means no limit.
func (c *Client) ListUsers(ctx context.Context, search string, limit, offset int) ([]string, error) {
	var out userList
	_, err := c.ocs(ctx, request{op: "list users", method: http.MethodGet, path: c.ocsPath("cloud/users"),
		query: pageQuery(search, limit, offset)}, &out)
	if err != nil {
		return nil, err
	}
	return out.Users, nil
}

// ListUserDetails returns one page of user details; limit <= 0 means no limit.
func (c *Client) ListUserDetails(ctx context.Context, search string, limit, offset int) ([]User, error) {
	var out userDetailsList
	_, err := c.ocs(ctx, request{op: "list user details", method: http.MethodGet, path: c.ocsPath("cloud/users/details"),
		query: pageQuery(search, limit, offset)}, &out)
	if err != nil {
		return nil, err
	}
	return out.Users, nil
}

// AllUserDetails pages over /cloud/users/details until a page comes back short.
func (c *Client) AllUserDetails(ctx context.Context) ([]User, error) {
	var all []User
	seen := map[string]bool{}
	for page, offset := 0, 0; page < maxPages; page++ {
		users, err := c.ListUserDetails(ctx, "", c.pageSize, offset)
		if err != nil {
			return nil, err
		}
		fresh := 0
		for _, u := range users {
			if seen[u.ID] {
				continue
			}
			seen[u.ID] = true
			all = append(all, u)
			fresh++
		}
		if len(users) < c.pageSize {
			return all, nil
		}
		if fresh == 0 {
			return nil, fmt.Errorf("nextcloud: list user details: page at offset %d repeats earlier users", offset)
		}
		offset += len(users)
	}
	return nil, fmt.Errorf("nextcloud: list user details: more than %d pages", maxPages)
}

// UserDetails returns one user's details; ErrNotFound when there is no such user.
func (c *Client) UserDetails(ctx context.Context, id string) (*User, error) {
	var u User
	_, err := c.ocs(ctx, request{op: "get user", method: http.MethodGet, path: c.ocsPath("cloud/users/" + url.PathEscape(id))}, &u)
	if err != nil {
		return nil, err
	}
	if u.ID == "" {
		return nil, &Error{Op: "get user", Method: http.MethodGet, Path: c.ocsPath("cloud/users/" + id),
			HTTPStatus: http.StatusOK, Message: "empty user details"}
	}
	return &u, nil
}

// CreateUser is the request to create an account. UserID and one of Password or Email are required.
type CreateUser struct {
	UserID      string
	Password    string
	DisplayName string
	Email       string
	Groups      []string
	// Quota is "none", "default", a byte count or a human size such as "5 GB"; empty leaves the default.
	Quota    string
	Language string
}

// CreateUser creates an account and returns its id. It fails with ErrUserExists, ErrUserLimit,
// or an *Error carrying Nextcloud's statuscode (101 bad request or refused quota, 104 unknown
// group, 105 a group the sub-admin calling does not administer, 106 no group from a sub-admin,
// 107 password policy, 108 email needed without password). Nextcloud applies Quota after creating
// the account: a refused quota fails the call but the account stays.
func (c *Client) CreateUser(ctx context.Context, u CreateUser) (string, error) {
	form := url.Values{}
	form.Set("userid", u.UserID)
	if u.Password != "" {
		form.Set("password", u.Password)
	}
	if u.DisplayName != "" {
		form.Set("displayName", u.DisplayName)
	}
	if u.Email != "" {
		form.Set("email", u.Email)
	}
	for _, g := range u.Groups {
		form.Add("groups[]", g)
	}
	if u.Quota != "" {
		form.Set("quota", u.Quota)
	}
	if u.Language != "" {
		form.Set("language", u.Language)
	}
	var out struct {
		ID String `json:"id"`
	}
	_, err := c.ocs(ctx, request{op: opCreateUser, method: http.MethodPost, path: c.ocsPath("cloud/users"), form: form}, &out)
	if err != nil {
		return "", err
	}
	if out.ID == "" {
		return u.UserID, nil
	}
	return string(out.ID), nil
}

// SetQuota sets a user's quota: "none", "default", a byte count or a human size ("5 GB").
// Nextcloud stores it as a rounded human size, so 1500000 reads back as 1.4 MB (1468006 bytes).
// A value it cannot read, or above the files app's max_quota, is statuscode 101; a sub-admin may
// set the quota of the accounts of their groups, not their own (113).
func (c *Client) SetQuota(ctx context.Context, id, quota string) error {
	form := url.Values{"key": {"quota"}, "value": {quota}}
	_, err := c.ocs(ctx, request{op: "set quota", method: http.MethodPut, path: c.ocsPath("cloud/users/" + url.PathEscape(id)), form: form}, nil)
	return err
}

// EnableUser enables an account. Nextcloud answers 101 (not 998) for an unknown user.
func (c *Client) EnableUser(ctx context.Context, id string) error {
	_, err := c.ocs(ctx, request{op: "enable user", method: http.MethodPut, path: c.ocsPath("cloud/users/" + url.PathEscape(id) + "/enable"), form: url.Values{}}, nil)
	return err
}

// DisableUser disables an account; disabled accounts do not count toward the user limit.
// Nextcloud answers 101 (not 998) for an unknown user.
func (c *Client) DisableUser(ctx context.Context, id string) error {
	_, err := c.ocs(ctx, request{op: "disable user", method: http.MethodPut, path: c.ocsPath("cloud/users/" + url.PathEscape(id) + "/disable"), form: url.Values{}}, nil)
	return err
}

// DeleteUser deletes an account and its files; ErrNotFound when there is no such user.
func (c *Client) DeleteUser(ctx context.Context, id string) error {
	_, err := c.ocs(ctx, request{op: "delete user", method: http.MethodDelete, path: c.ocsPath("cloud/users/" + url.PathEscape(id))}, nil)
	return err
}

// ServerInfo reads the serverinfo app's report, with the NC-Token when one is set, else the login.
func (c *Client) ServerInfo(ctx context.Context) (*ServerInfo, error) {
	var info ServerInfo
	_, err := c.ocs(ctx, request{op: "server info", method: http.MethodGet, path: c.ocsPath("apps/serverinfo/api/v1/info"), token: true}, &info)
	if err != nil {
		return nil, err
	}
	return &info, nil
}

// TotalUsedBytes sums quota.used over every user: serverinfo gives no total of bytes used.
// Users whose storage info is unavailable count as 0.
func (c *Client) TotalUsedBytes(ctx context.Context) (int64, error) {
	users, err := c.AllUserDetails(ctx)
	if err != nil {
		return 0, err
	}
	var total int64
	for _, u := range users {
		if u.Quota.State != QuotaUnavailable && u.Quota.Used > 0 {
			total += u.Quota.Used
		}
	}
	return total, nil
}
