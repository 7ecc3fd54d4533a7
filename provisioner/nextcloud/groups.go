package nextcloud

import (
	"context"
	"net/http"
	"net/url"
)

const opCreateGroup = "create group"

// CreateGroup creates a group; displayName may be empty (the group then shows its id). It fails
// with ErrGroupExists when the group exists, or an *Error with statuscode 101 for an empty id.
// Only admins may create groups.
func (c *Client) CreateGroup(ctx context.Context, gid, displayName string) error {
	form := url.Values{"groupid": {gid}}
	if displayName != "" {
		form.Set("displayname", displayName)
	}
	_, err := c.ocs(ctx, request{op: opCreateGroup, method: http.MethodPost, path: c.ocsPath("cloud/groups"), form: form}, nil)
	return err
}

// GroupUsers lists the ids of a group's members. Admins and the group's sub-admins may call it;
// ErrNotFound when there is no such group, ErrForbidden for anyone else.
func (c *Client) GroupUsers(ctx context.Context, gid string) ([]string, error) {
	var out userList
	_, err := c.ocs(ctx, request{op: "list group users", method: http.MethodGet,
		path: c.ocsPath("cloud/groups/" + url.PathEscape(gid) + "/users")}, &out)
	if err != nil {
		return nil, err
	}
	return out.Users, nil
}

// AddToGroup adds an account to a group. Admins may use any group, sub-admins the groups they
// administer (statuscode 104 otherwise); 102 is a missing group, 103 a missing account.
func (c *Client) AddToGroup(ctx context.Context, userID, gid string) error {
	_, err := c.ocs(ctx, request{op: "add to group", method: http.MethodPost,
		path: c.ocsPath("cloud/users/" + url.PathEscape(userID) + "/groups"), form: url.Values{"groupid": {gid}}}, nil)
	return err
}

// RemoveFromGroup takes an account out of a group, with AddToGroup's codes; 105 when a sub-admin
// would take it out of the last group of theirs it is in, or leave a group themselves.
func (c *Client) RemoveFromGroup(ctx context.Context, userID, gid string) error {
	_, err := c.ocs(ctx, request{op: "remove from group", method: http.MethodDelete,
		path: c.ocsPath("cloud/users/" + url.PathEscape(userID) + "/groups"), form: url.Values{"groupid": {gid}}}, nil)
	return err
}

// AddSubAdmin makes an account sub-admin of a group (admins only); doing it twice is no error.
// Statuscode 101 is a missing account, 102 a missing group, 103 the group admin.
func (c *Client) AddSubAdmin(ctx context.Context, userID, gid string) error {
	_, err := c.ocs(ctx, request{op: "add sub-admin", method: http.MethodPost,
		path: c.ocsPath("cloud/users/" + url.PathEscape(userID) + "/subadmins"), form: url.Values{"groupid": {gid}}}, nil)
	return err
}

// SubAdminGroups lists the groups an account is sub-admin of (admins only); ErrNotFound when
// there is no such account.
func (c *Client) SubAdminGroups(ctx context.Context, userID string) ([]string, error) {
	var out Strings
	_, err := c.ocs(ctx, request{op: "list sub-admin groups", method: http.MethodGet,
		path: c.ocsPath("cloud/users/" + url.PathEscape(userID) + "/subadmins")}, &out)
	if err != nil {
		return nil, err
	}
	return out, nil
}
