package nextcloud

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Sentinel errors, matched by *Error through errors.Is.
var (
	// ErrMaintenance: the instance is in maintenance mode or needs an upgrade
	// (HTTP 503 with `X-Nextcloud-Maintenance-Mode: 1`).
	ErrMaintenance = errors.New("nextcloud: maintenance mode")
	// ErrUserExists: CreateUser named an existing user (OCS 102 on create).
	ErrUserExists = errors.New("nextcloud: user already exists")
	// ErrGroupExists: CreateGroup named an existing group (OCS 102 on create).
	ErrGroupExists = errors.New("nextcloud: group already exists")
	// ErrUserLimit: the instance's user limit (`one-click-instance.user-limit`) is reached.
	ErrUserLimit = errors.New("nextcloud: user limit reached")
	// ErrNotFound: the user, group or endpoint does not exist, or the caller may not see that
	// user (OCS 998 or 404, or HTTP 404).
	ErrNotFound = errors.New("nextcloud: not found")
	// ErrForbidden: the login may not make this call (OCS 403 or HTTP 403), such as a sub-admin
	// calling an admin-only endpoint or listing another group's users.
	ErrForbidden = errors.New("nextcloud: forbidden")
	// ErrUnauthorized: the login or token was refused (OCS 997 or HTTP 401).
	ErrUnauthorized = errors.New("nextcloud: unauthorized")
	// ErrThrottled: brute-force protection is slowing this client down (HTTP 429).
	ErrThrottled = errors.New("nextcloud: throttled")
	// ErrUntrustedDomain: the Host sent is not in the instance's trusted_domains (HTTP 400).
	ErrUntrustedDomain = errors.New("nextcloud: untrusted domain")
)

// userLimitHint is the start of Nextcloud core's message when the user limit is reached.
const userLimitHint = "The user was not created because the user limit has been reached"

// Error is a failed call: the HTTP status and, when the body was an OCS envelope, its statuscode
// and message.
type Error struct {
	// Op names the client method ("create user", "set quota", ...).
	Op     string
	Method string
	Path   string
	// HTTPStatus is the response's HTTP status code.
	HTTPStatus int
	// StatusCode is `ocs.meta.statuscode` (0 when the body was not OCS).
	StatusCode int
	// Message is `ocs.meta.message`, or a short excerpt of a non-OCS body.
	Message string
	// Maintenance is true when the response carried `X-Nextcloud-Maintenance-Mode: 1`.
	Maintenance bool
}

// Error describes the failure in one line.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "nextcloud: %s: %s %s: http %d", e.Op, e.Method, e.Path, e.HTTPStatus)
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, ", ocs %d", e.StatusCode)
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	return b.String()
}

// Is matches the sentinel errors of this package.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrMaintenance:
		return e.HTTPStatus == http.StatusServiceUnavailable && (e.Maintenance || e.StatusCode == 503)
	case ErrUserExists:
		// Nextcloud 28 also answered 102 to a bad quota or language sent with the create
		// ("Invalid quota value ..."); 31 answers 101.
		return e.Op == opCreateUser && e.StatusCode == 102 && !strings.HasPrefix(e.Message, "Invalid")
	case ErrGroupExists:
		return e.Op == opCreateGroup && e.StatusCode == 102
	case ErrUserLimit:
		return strings.Contains(e.Message, userLimitHint)
	case ErrNotFound:
		// v1 reports a missing user or group as statuscode 404 under HTTP 200.
		return e.StatusCode == 998 || e.StatusCode == http.StatusNotFound || e.HTTPStatus == http.StatusNotFound
	case ErrForbidden:
		return e.StatusCode == http.StatusForbidden || e.HTTPStatus == http.StatusForbidden
	case ErrUnauthorized:
		// serverinfo answers a refused token with statuscode 401 (under HTTP 200 in v1).
		return e.StatusCode == 997 || e.StatusCode == 401 || e.HTTPStatus == http.StatusUnauthorized
	case ErrThrottled:
		return e.HTTPStatus == http.StatusTooManyRequests
	case ErrUntrustedDomain:
		return e.HTTPStatus == http.StatusBadRequest &&
			(strings.Contains(e.Message, "untrusted domain") || strings.Contains(e.Message, "Trusted domain error"))
	}
	return false
}
