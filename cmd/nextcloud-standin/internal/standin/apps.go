package standin

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// Apps as Nextcloud keeps them: an app is enabled when its app config "enabled" is "yes" (or a
// group list), disabled with "no"; apps shipped with the server are enabled from the install
// (AppManager::getInstalledAppsValues, lib/private/App/AppManager.php). Apps from the app store
// are "downloaded" by `occ app:enable` from a small catalogue standing in for the store.

// shippedApps are the apps a fresh Nextcloud 31 has enabled that the stand-in knows of.
var shippedApps = []string{
	"cloud_federation_api", "dav", "federatedfilesharing", "files", "lookup_server_connector", "oauth2",
	"provisioning_api", "serverinfo", "settings", "theming", "twofactor_backupcodes", "viewer", "workflowengine",
}

// appStore are the apps `occ app:enable` can download, with the version it installs.
var appStore = map[string]string{
	"calendar": "5.2.3", "contacts": "7.0.6", "richdocuments": "8.6.4", "deck": "1.15.1",
	"tasks": "0.16.1", "notes": "4.12.1", "forms": "5.1.0", "polls": "8.0.2",
}

// appVersion is the version of an app the stand-in can enable.
func appVersion(app string) (string, bool) {
	if slices.Contains(shippedApps, app) {
		return VersionString, true
	}
	v, ok := appStore[app]
	return v, ok
}

// EnabledApps is OC_App::getEnabledApps: every enabled app, sorted.
func (s *Server) EnabledApps(ctx context.Context) ([]string, error) {
	apps, err := s.store.apps(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, app := range append(apps, shippedApps...) {
		if slices.Contains(out, app) {
			continue
		}
		v, ok, err := s.store.appValue(ctx, app, "enabled")
		if err != nil {
			return nil, err
		}
		switch {
		case ok && v != "no":
			out = append(out, app)
		case !ok && slices.Contains(shippedApps, app):
			out = append(out, app)
		}
	}
	slices.Sort(out)
	return out, nil
}

// AppNotFoundError is an app neither shipped nor in the app store; occ prints
// "Could not download app APP".
type AppNotFoundError struct{ App string }

func (e *AppNotFoundError) Error() string { return "could not download app " + e.App }

// EnableApp is `occ app:enable APP`: it prints "APP VERSION enabled", or "APP already enabled".
// An app neither shipped nor in the catalogue is Nextcloud's "Could not download app".
func (s *Server) EnableApp(ctx context.Context, app string) (string, error) {
	version, ok := appVersion(app)
	if !ok {
		return "", &AppNotFoundError{App: app}
	}
	enabled, err := s.EnabledApps(ctx)
	if err != nil {
		return "", err
	}
	if slices.Contains(enabled, app) {
		return app + " already enabled", nil
	}
	if err := s.store.setAppValue(ctx, app, "installed_version", version); err != nil {
		return "", err
	}
	if err := s.store.setAppValue(ctx, app, "enabled", "yes"); err != nil {
		return "", err
	}
	return app + " " + version + " enabled", nil
}

// DisableApp is `occ app:disable APP`: "APP VERSION disabled", or "No such app enabled: APP".
func (s *Server) DisableApp(ctx context.Context, app string) (string, error) {
	enabled, err := s.EnabledApps(ctx)
	if err != nil {
		return "", err
	}
	if !slices.Contains(enabled, app) {
		return "No such app enabled: " + app, nil
	}
	if err := s.store.setAppValue(ctx, app, "enabled", "no"); err != nil {
		return "", err
	}
	v, _, err := s.store.appValue(ctx, app, "installed_version")
	if err != nil {
		return "", err
	}
	return app + " " + v + " disabled", nil
}

// RunCron is one run of cron.php from the CLI (cron.php): nothing when Nextcloud is not
// installed or in maintenance mode; else a CLI run switches background jobs to cron mode when
// they were in another one, and records its time in core lastcron, which the admin page reads.
func (s *Server) RunCron(ctx context.Context, now time.Time) (ran bool, err error) {
	if !s.Installed() || s.Maintenance() {
		return false, nil
	}
	mode, _, err := s.store.appValue(ctx, "core", "backgroundjobs_mode")
	if err != nil {
		return false, err
	}
	if mode != "cron" {
		if err := s.store.setAppValue(ctx, "core", "backgroundjobs_mode", "cron"); err != nil {
			return false, err
		}
	}
	if err := s.store.setAppValue(ctx, "core", "lastcron", strconv.FormatInt(now.Unix(), 10)); err != nil {
		return false, err
	}
	return true, nil
}

// getCloudApps is provisioning_api's AppsController::getApps (GET cloud/apps, admins only):
// {"apps": [...]}, every app without a filter, the enabled ones with filter=enabled, the others
// with filter=disabled, and 101 with an empty message for any other filter.
func (s *Server) getCloudApps(r *http.Request, _ *User, _ []string) ocsReply {
	enabled, err := s.EnabledApps(r.Context())
	if err != nil {
		return s.internal(r, err)
	}
	all := append([]string{}, enabled...)
	for app := range appStore {
		v, _, err := s.store.appValue(r.Context(), app, "installed_version")
		if err != nil {
			return s.internal(r, err)
		}
		if v != "" && !slices.Contains(all, app) {
			all = append(all, app)
		}
	}
	slices.Sort(all)
	switch f := readParams(r).get("filter"); f {
	case "":
		return ocsReply{Code: 200, Data: obj{{"apps", stringList(all)}}}
	case "enabled":
		return ocsReply{Code: 200, Data: obj{{"apps", stringList(enabled)}}}
	case "disabled":
		var off []string
		for _, a := range all {
			if !slices.Contains(enabled, a) {
				off = append(off, a)
			}
		}
		return ocsReply{Code: 200, Data: obj{{"apps", stringList(off)}}}
	default:
		return ocsReply{Code: 101}
	}
}

// enableCloudApp is provisioning_api's AppsController::enable (POST cloud/apps/{app}, admins
// only): the app id is checked (997 "Invalid app id given"), downloaded from the store when
// missing, installed and enabled; an app the store does not have is 998 "The request app was not
// found"; success is an empty answer. Nextcloud asks for a strict password confirmation, which a
// request with basic auth and the account's password gives (PasswordConfirmationMiddleware); the
// stand-in only knows basic auth (nextcloud/server apps/provisioning_api/lib/Controller/AppsController.php).
func (s *Server) enableCloudApp(r *http.Request, _ *User, args []string) ocsReply {
	app := args[0]
	if msg := verifyAppID(app); msg != "" {
		return ocsReply{Code: 997, Message: msg}
	}
	_, err := s.EnableApp(r.Context(), app)
	var nf *AppNotFoundError
	if errors.As(err, &nf) {
		return ocsReply{Code: 998, Message: "The request app was not found"}
	}
	if err != nil {
		return s.internal(r, err)
	}
	return ocsReply{Code: 200}
}

// disableCloudApp is AppsController::disable (DELETE cloud/apps/{app}): disabling an app that is
// not enabled is no error.
func (s *Server) disableCloudApp(r *http.Request, _ *User, args []string) ocsReply {
	app := args[0]
	if msg := verifyAppID(app); msg != "" {
		return ocsReply{Code: 997, Message: msg}
	}
	if _, err := s.DisableApp(r.Context(), app); err != nil {
		return s.internal(r, err)
	}
	return ocsReply{Code: 200}
}
