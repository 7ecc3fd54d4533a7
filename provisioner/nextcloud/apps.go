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
