package nextcloud

import (
	"context"
	"net/http"
	"net/url"
)

// appConfigPath is provisioning_api's app config endpoint for one key.
func (c *Client) appConfigPath(app, key string) string {
	return c.ocsPath("apps/provisioning_api/api/v1/config/apps/" + url.PathEscape(app) + "/" + url.PathEscape(key))
}

// AppValue reads an app config value, as `occ config:app:get` does; an unset key reads as "".
// Only admins may read app config (ErrForbidden otherwise).
func (c *Client) AppValue(ctx context.Context, app, key string) (string, error) {
	var out struct {
		Data String `json:"data"`
	}
	_, err := c.ocs(ctx, request{op: "get app value", method: http.MethodGet, path: c.appConfigPath(app, key)}, &out)
	if err != nil {
		return "", err
	}
	return string(out.Data), nil
}

// SetAppValue sets an app config value, as `occ config:app:set` does (files default_quota,
// max_quota, …). Nextcloud refuses some keys with ErrForbidden and a message: installed_version,
// enabled and types of any app, core's public_* and remote_*, and files default_quota "none"
// when unlimited quotas are forbidden.
func (c *Client) SetAppValue(ctx context.Context, app, key, value string) error {
	_, err := c.ocs(ctx, request{op: "set app value", method: http.MethodPost, path: c.appConfigPath(app, key),
		form: url.Values{"value": {value}}}, nil)
	return err
}

// DeleteAppValue removes an app config value; removing an unset key is no error.
func (c *Client) DeleteAppValue(ctx context.Context, app, key string) error {
	_, err := c.ocs(ctx, request{op: "delete app value", method: http.MethodDelete, path: c.appConfigPath(app, key)}, nil)
	return err
}
