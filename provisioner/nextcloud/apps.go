package nextcloud

import (
	"context"
	"net/http"
	"net/url"
)

// EnabledApps lists the enabled apps, as GET cloud/apps?filter=enabled answers it
// (provisioning_api's AppsController::getApps: OC_App::getEnabledApps, admins only).
func (c *Client) EnabledApps(ctx context.Context) ([]string, error) {
	var out struct {
		Apps []string `json:"apps"`
	}
	_, err := c.ocs(ctx, request{op: "list enabled apps", method: http.MethodGet, path: c.ocsPath("cloud/apps"),
		query: url.Values{"filter": {"enabled"}}}, &out)
	if err != nil {
		return nil, err
	}
	return out.Apps, nil
}

// appPath is provisioning_api's endpoint for one app.
func (c *Client) appPath(app string) string {
	return c.ocsPath("cloud/apps/" + url.PathEscape(app))
}

// EnableApp enables an app over OCS (POST cloud/apps/{app}, AppsController::enable): Nextcloud
// downloads and installs it first when missing; an app the app store does not have is
// ErrNotFound (998). It asks for a strict password confirmation, which basic auth with the
// account's password gives.
func (c *Client) EnableApp(ctx context.Context, app string) error {
	_, err := c.ocs(ctx, request{op: "enable app " + app, method: http.MethodPost, path: c.appPath(app)}, nil)
	return err
}

// DisableApp disables an app over OCS (DELETE cloud/apps/{app}); one already disabled is no error.
func (c *Client) DisableApp(ctx context.Context, app string) error {
	_, err := c.ocs(ctx, request{op: "disable app " + app, method: http.MethodDelete, path: c.appPath(app)}, nil)
	return err
}
