package standin

import (
	"net/http"
	"regexp"
	"strings"
)

// App config over OCS as provisioning_api's AppConfigController answers it
// (apps/provisioning_api/lib/Controller/AppConfigController.php): reading and deleting are for
// admins only; writing is #[NoAdminRequired] and checks the caller itself.

// msgNotAllowedToChangeKey is AppConfigController::setValue's refusal of a non-admin.
const msgNotAllowedToChangeKey = "Logged in account must be an administrator or have authorization to edit this setting."

var appIDStrip = regexp.MustCompile(`(^[0-9_]|[^a-z0-9_]+|_$)`)

// verifyAppID is AppConfigController::verifyAppId with IAppManager::cleanAppId
// (lib/private/App/AppManager.php): an id that cleaning would change is refused.
func verifyAppID(app string) string {
	if appIDStrip.ReplaceAllString(app, "") != app {
		return "Invalid app id given"
	}
	return ""
}

// verifyConfigKey is AppConfigController::verifyConfigKey: the keys no one may set over OCS.
func (s *Server) verifyConfigKey(r *http.Request, app, key, value string) (string, error) {
	switch {
	case key == "installed_version" || key == "enabled" || key == "types",
		app == "core" && key == "encryption_enabled" && value != "yes",
		app == "core" && (strings.HasPrefix(key, "public_") || strings.HasPrefix(key, "remote_")):
		return "The given key can not be set", nil
	case app == "files" && key == "default_quota" && value == "none":
		allow, err := s.filesConfig(r.Context(), "allow_unlimited_quota", "1")
		if err != nil {
			return "", err
		}
		if phpInt(allow) == 0 {
			return "The given key can not be set, unlimited quota is forbidden on this instance", nil
		}
	}
	return "", nil
}

// forbidden is a DataResponse(['data' => ['message' => …]], 403): statuscode 403 with an empty
// meta message.
func forbidden(msg string) ocsReply {
	return ocsReply{Code: http.StatusForbidden, Data: obj{{"data", obj{{"message", msg}}}}}
}

func (s *Server) getApps(r *http.Request, _ *User, _ []string) ocsReply {
	apps, err := s.store.apps(r.Context())
	if err != nil {
		return s.internal(r, err)
	}
	return ocsReply{Code: 200, Data: obj{{"data", stringList(apps)}}}
}

func (s *Server) getAppKeys(r *http.Request, _ *User, args []string) ocsReply {
	if msg := verifyAppID(args[0]); msg != "" {
		return forbidden(msg)
	}
	keys, err := s.store.appKeys(r.Context(), args[0])
	if err != nil {
		return s.internal(r, err)
	}
	return ocsReply{Code: 200, Data: obj{{"data", stringList(keys)}}}
}

// getAppValue answers {"data": value}, or the defaultValue parameter ("" unless given) when unset.
func (s *Server) getAppValue(r *http.Request, _ *User, args []string) ocsReply {
	app, key := args[0], args[1]
	if msg := verifyAppID(app); msg != "" {
		return forbidden(msg)
	}
	v, ok, err := s.store.appValue(r.Context(), app, key)
	if err != nil {
		return s.internal(r, err)
	}
	if !ok {
		v = readParams(r).get("defaultValue")
	}
	return ocsReply{Code: 200, Data: obj{{"data", v}}}
}

func (s *Server) setAppValue(r *http.Request, me *User, args []string) ocsReply {
	app, key := args[0], args[1]
	value := readParams(r).get("value")
	if !isAdmin(me) {
		// No settings are delegated here: only admins may change keys.
		return ocsReply{Code: http.StatusForbidden, Message: msgNotAllowedToChangeKey}
	}
	if msg := verifyAppID(app); msg != "" {
		return forbidden(msg)
	}
	msg, err := s.verifyConfigKey(r, app, key, value)
	if err != nil {
		return s.internal(r, err)
	}
	if msg != "" {
		return forbidden(msg)
	}
	if err := s.store.setAppValue(r.Context(), app, key, value); err != nil {
		return s.internal(r, err)
	}
	return ocsReply{Code: 200}
}

func (s *Server) deleteAppValue(r *http.Request, _ *User, args []string) ocsReply {
	app, key := args[0], args[1]
	if msg := verifyAppID(app); msg != "" {
		return forbidden(msg)
	}
	msg, err := s.verifyConfigKey(r, app, key, "")
	if err != nil {
		return s.internal(r, err)
	}
	if msg != "" {
		return forbidden(msg)
	}
	if err := s.store.deleteAppValue(r.Context(), app, key); err != nil {
		return s.internal(r, err)
	}
	return ocsReply{Code: 200}
}
