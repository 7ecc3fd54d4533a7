package standin

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/mail"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// UserLimitMessage is Nextcloud core's hint when the user limit is reached (OC\Support\Subscription\Assertion).
const UserLimitMessage = "The user was not created because the user limit has been reached. Check your notifications to learn more."

// DefaultUserLimit is Nextcloud's default for `one-click-instance.user-limit`.
const DefaultUserLimit = 50

// minPasswordLength is the password_policy app's default minimum length.
const minPasswordLength = 10

// maxPasswordLength is IUserManager::MAX_PASSWORD_LENGTH.
const maxPasswordLength = 469

// Messages of Nextcloud's SecurityMiddleware (lib/private/AppFramework/Middleware/Security/
// SecurityMiddleware.php) and of ocs/v1.php, which also serves /ocs/v2.php.
const (
	// MsgNotAdmin answers a non-admin calling a method without #[NoAdminRequired].
	MsgNotAdmin = "Logged in account must be an admin"
	// MsgNotAuthorizedSetting answers a non-admin calling a method marked
	// #[AuthorizedAdminSetting] (sub-admin and group management) without delegation.
	MsgNotAuthorizedSetting = "Logged in account must be an admin, a sub admin or gotten special right to access this setting"
	msgNotLoggedIn          = "Current user is not logged in"
	msgInvalidQuery         = "Invalid query, please check the syntax. API specifications are here: http://www.freedesktop.org/wiki/Specifications/open-collaboration-services.\n"
	msgInternalError        = "Internal Server Error\n"
)

// params are a request's parameters, merged like PHP's: query, then form or JSON body.
type params struct {
	values url.Values
}

func readParams(r *http.Request) params {
	v := url.Values{}
	for k, vs := range r.URL.Query() {
		v[k] = vs
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case ct == "application/json":
		var m map[string]any
		if json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20)).Decode(&m) == nil {
			for k, x := range m {
				switch t := x.(type) {
				case []any:
					for _, item := range t {
						v.Add(k, scalarString(item))
					}
				default:
					v.Set(k, scalarString(t))
				}
			}
		}
	case r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodPatch:
		if err := r.ParseForm(); err == nil {
			for k, vs := range r.PostForm {
				v[k] = vs
			}
		}
	case r.Method == http.MethodDelete && ct == "application/x-www-form-urlencoded":
		// Go's ParseForm ignores a DELETE body; Nextcloud's Request decodes it for every method
		// but GET and POST (DELETE /users/{id}/groups carries groupid there).
		if b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20)); err == nil {
			if form, err := url.ParseQuery(string(b)); err == nil {
				for k, vs := range form {
					v[k] = vs
				}
			}
		}
	}
	return params{values: v}
}

func scalarString(x any) string {
	switch t := x.(type) {
	case string:
		return t
	case nil:
		return ""
	case bool:
		if t {
			return "1"
		}
		return ""
	}
	b, _ := json.Marshal(x)
	return string(b)
}

func (p params) get(key string) string { return p.values.Get(key) }

// list reads `key[]=a&key[]=b`, `key[0]=a` or `key=a`.
func (p params) list(key string) []string {
	var out []string
	out = append(out, p.values[key+"[]"]...)
	for k, vs := range p.values {
		if strings.HasPrefix(k, key+"[") && k != key+"[]" {
			out = append(out, vs...)
		}
	}
	if len(out) == 0 {
		out = append(out, p.values[key]...)
	}
	return out
}

func (p params) int(key string, def int) int {
	if n, err := strconv.Atoi(p.get(key)); err == nil {
		return n
	}
	return def
}

// authLevel is who may call an OCS route, as Nextcloud's SecurityMiddleware decides from the
// controller method's attributes.
type authLevel int

const (
	// anyAccount: #[NoAdminRequired]; the controller checks the rest itself.
	anyAccount authLevel = iota
	// adminOnly: no attribute (AppConfigController's getters, deleteKey).
	adminOnly
	// adminSetting: #[AuthorizedAdminSetting(settings: Users::class)] (groups, sub-admins).
	adminSetting
)

// ocsHandler answers one OCS route for the logged-in account me; args are the route's {…} parts.
type ocsHandler struct {
	level authLevel
	fn    func(s *Server, r *http.Request, me *User, args []string) ocsReply
}

// ocsRoute is one path of an app's routes.php, with a handler per method.
type ocsRoute struct {
	path    []string // "{}" matches one segment
	methods map[string]ocsHandler
}

func route(path string, methods map[string]ocsHandler) ocsRoute {
	return ocsRoute{path: strings.Split(path, "/"), methods: methods}
}

// ocsRoutes are provisioning_api's routes the stand-in serves (apps/provisioning_api/appinfo/
// routes.php), in its order: the first route whose path and method match wins, as Symfony's
// router picks them, so GET users/details comes before users/{userId}.
var ocsRoutes = []ocsRoute{
	route("cloud/users", map[string]ocsHandler{
		http.MethodGet:  {anyAccount, (*Server).getUsers},
		http.MethodPost: {anyAccount, (*Server).addUser},
	}),
	route("cloud/users/details", map[string]ocsHandler{http.MethodGet: {anyAccount, (*Server).getUsersDetails}}),
	route("cloud/users/{}", map[string]ocsHandler{
		http.MethodGet:    {anyAccount, (*Server).getUser},
		http.MethodPut:    {anyAccount, (*Server).editUser},
		http.MethodDelete: {anyAccount, (*Server).deleteUser},
	}),
	route("cloud/users/{}/enable", map[string]ocsHandler{http.MethodPut: {anyAccount, (*Server).enableUser}}),
	route("cloud/users/{}/disable", map[string]ocsHandler{http.MethodPut: {anyAccount, (*Server).disableUser}}),
	route("cloud/users/{}/groups", map[string]ocsHandler{
		http.MethodGet:    {anyAccount, (*Server).getUsersGroups},
		http.MethodPost:   {anyAccount, (*Server).addToGroup},
		http.MethodDelete: {anyAccount, (*Server).removeFromGroup},
	}),
	route("cloud/users/{}/subadmins", map[string]ocsHandler{
		http.MethodGet:    {adminSetting, (*Server).getUserSubAdminGroups},
		http.MethodPost:   {adminSetting, (*Server).addSubAdmin},
		http.MethodDelete: {adminSetting, (*Server).removeSubAdmin},
	}),
	route("cloud/groups", map[string]ocsHandler{
		http.MethodGet:  {anyAccount, (*Server).getGroups},
		http.MethodPost: {adminSetting, (*Server).addGroup},
	}),
	route("cloud/groups/{}", map[string]ocsHandler{http.MethodGet: {anyAccount, (*Server).getGroupUsers}}),
	route("cloud/groups/{}/users", map[string]ocsHandler{http.MethodGet: {anyAccount, (*Server).getGroupUsers}}),
	route("cloud/groups/{}/subadmins", map[string]ocsHandler{http.MethodGet: {adminSetting, (*Server).getSubAdminsOfGroup}}),
	route("cloud/apps", map[string]ocsHandler{http.MethodGet: {adminOnly, (*Server).getCloudApps}}),
	route("cloud/apps/{}", map[string]ocsHandler{
		http.MethodPost:   {adminOnly, (*Server).enableCloudApp},
		http.MethodDelete: {adminOnly, (*Server).disableCloudApp},
	}),
	route("apps/provisioning_api/api/v1/config/apps", map[string]ocsHandler{http.MethodGet: {adminOnly, (*Server).getApps}}),
	route("apps/provisioning_api/api/v1/config/apps/{}", map[string]ocsHandler{http.MethodGet: {adminOnly, (*Server).getAppKeys}}),
	route("apps/provisioning_api/api/v1/config/apps/{}/{}", map[string]ocsHandler{
		http.MethodGet:    {adminOnly, (*Server).getAppValue},
		http.MethodPost:   {anyAccount, (*Server).setAppValue},
		http.MethodDelete: {adminOnly, (*Server).deleteAppValue},
	}),
}

// matchRoute finds the handler for method and path segments. pathKnown reports a path that
// exists for other methods only (Nextcloud then answers 405).
func matchRoute(method string, seg []string) (h ocsHandler, args []string, found, pathKnown bool) {
	for _, rt := range ocsRoutes {
		if len(rt.path) != len(seg) {
			continue
		}
		var a []string
		ok := true
		for i, p := range rt.path {
			if p == "{}" {
				a = append(a, seg[i])
			} else if p != seg[i] {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		h, ok := rt.methods[method]
		if !ok && method == http.MethodHead {
			h, ok = rt.methods[http.MethodGet] // Symfony's router lets HEAD through GET routes
		}
		if ok {
			return h, a, true, true
		}
		pathKnown = true
	}
	return ocsHandler{}, nil, false, pathKnown
}

// ocsSegments splits the path after /ocs/vN.php/ into unescaped segments.
func ocsSegments(r *http.Request) []string {
	p := r.URL.EscapedPath()
	p = p[min(len("/ocs/v1.php/"), len(p)):]
	var seg []string
	for _, s := range strings.Split(strings.Trim(p, "/"), "/") {
		u, err := url.PathUnescape(s)
		if err != nil {
			u = s
		}
		seg = append(seg, u)
	}
	return seg
}

// serveOCS routes one OCS call, then authenticates it as Nextcloud does: ocs/v1.php matches the
// route before any login is required (an unknown route is 998 for everyone), then the
// SecurityMiddleware checks the login and the method's attributes.
func (s *Server) serveOCS(w http.ResponseWriter, r *http.Request, version int) {
	seg := ocsSegments(r)
	if strings.Join(seg, "/") == "apps/serverinfo/api/v1/info" {
		if r.Method != http.MethodGet {
			methodNotAllowed(w, r)
			return
		}
		s.serveServerInfo(w, r, version)
		return
	}
	h, args, found, pathKnown := matchRoute(r.Method, seg)
	if !found {
		if pathKnown {
			methodNotAllowed(w, r)
			return
		}
		writeOCS(w, r, version, ocsReply{Code: 998, Message: msgInvalidQuery, Outside: true}, true)
		return
	}
	reply := func(rep ocsReply) { writeOCS(w, r, version, rep, true) }
	me := s.authenticate(r)
	switch {
	case me == nil:
		reply(ocsReply{Code: 997, Message: msgNotLoggedIn})
		return
	case h.level == adminOnly && !isAdmin(me):
		reply(ocsReply{Code: http.StatusForbidden, Message: MsgNotAdmin})
		return
	case h.level == adminSetting && !isAdmin(me):
		reply(ocsReply{Code: http.StatusForbidden, Message: MsgNotAuthorizedSetting})
		return
	}
	reply(h.fn(s, r, me, args))
}

// methodNotAllowed is ocs/v1.php's answer to a known path with another method: HTTP 405, no body,
// the Content-Type of the requested format.
func methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Query().Get("format") {
	case "json":
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
	default:
		w.Header().Set("Content-Type", "text/xml; charset=UTF-8")
	}
	w.WriteHeader(http.StatusMethodNotAllowed)
}

// internal logs err and answers what ocs/v1.php answers to an uncaught exception.
func (s *Server) internal(r *http.Request, err error) ocsReply {
	s.log.ErrorContext(r.Context(), "ocs request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	return ocsReply{Code: 996, Message: msgInternalError, Outside: true}
}

func stringList(ss []string) list {
	l := make(list, len(ss))
	for i, s := range ss {
		l[i] = s
	}
	return l
}

// phpKey renders an id the way PHP's json_encode does when it was an array key: decimal ids
// become integers.
var decimalID = regexp.MustCompile(`^(0|-?[1-9][0-9]{0,17})$`)

func phpID(id string) any {
	if decimalID.MatchString(id) {
		if n, err := strconv.ParseInt(id, 10, 64); err == nil {
			return n
		}
	}
	return id
}

// isAdmin reports membership of group admin (IGroupManager::isAdmin).
func isAdmin(u *User) bool { return slices.Contains(u.Groups, "admin") }

// isSubAdmin is SubAdmin::isSubAdmin: admins count as sub-admins.
func isSubAdmin(u *User) bool { return isAdmin(u) || len(u.Subadmin) > 0 }

// accessible is SubAdmin::isUserAccessible (lib/private/SubAdmin.php): the target is no admin
// and shares a group with those the sub-admin administers.
func accessible(sub, target *User) bool {
	if !isSubAdmin(sub) || isAdmin(target) {
		return false
	}
	for _, g := range sub.Subadmin {
		if slices.Contains(target.Groups, g) {
			return true
		}
	}
	return false
}

// visibleUsers is the user list of UsersController::getUsers and getUsersDetails: everyone for
// an admin, the members of their groups (each group paged on its own) for a sub-admin, no one
// for others.
func (s *Server) visibleUsers(ctx context.Context, me *User, p params) ([]*User, error) {
	search, limit, offset := p.get("search"), p.int("limit", 0), p.int("offset", 0)
	if isAdmin(me) {
		return s.store.users(ctx, search, limit, offset)
	}
	var out []*User
	seen := map[string]bool{}
	for _, g := range me.Subadmin {
		users, err := s.store.usersInGroup(ctx, g, search, limit, offset)
		if err != nil {
			return nil, err
		}
		for _, u := range users {
			if !seen[u.ID] {
				seen[u.ID] = true
				out = append(out, u)
			}
		}
	}
	return out, nil
}

func (s *Server) getUsers(r *http.Request, me *User, _ []string) ocsReply {
	users, err := s.visibleUsers(r.Context(), me, readParams(r))
	if err != nil {
		return s.internal(r, err)
	}
	// array_keys() of the user map: numeric-looking ids come back as integers.
	ids := make(list, len(users))
	for i, u := range users {
		ids[i] = phpID(u.ID)
	}
	return ocsReply{Code: 200, Data: obj{{"users", ids}}}
}

func (s *Server) getUsersDetails(r *http.Request, me *User, _ []string) ocsReply {
	users, err := s.visibleUsers(r.Context(), me, readParams(r))
	if err != nil {
		return s.internal(r, err)
	}
	m := make(obj, 0, len(users))
	for _, u := range users {
		data, err := s.userData(r.Context(), me, u)
		if err != nil {
			return s.internal(r, err)
		}
		if data == nil {
			// The caller may not see this account: only its id.
			m = append(m, field{u.ID, obj{{"id", u.ID}}})
			continue
		}
		m = append(m, field{u.ID, data})
	}
	return ocsReply{Code: 200, Data: obj{{"users", m}}}
}

// getUser is UsersController::getUser: a missing account is 404 "User does not exist"
// (OCSNotFoundException in AUserDataOCSController::getUserData), one the caller may not see 998.
func (s *Server) getUser(r *http.Request, me *User, args []string) ocsReply {
	u, err := s.store.user(r.Context(), args[0])
	if errors.Is(err, ErrNotFound) {
		return ocsReply{Code: http.StatusNotFound, Message: "User does not exist"}
	}
	if err != nil {
		return s.internal(r, err)
	}
	data, err := s.userData(r.Context(), me, u)
	if err != nil {
		return s.internal(r, err)
	}
	if data == nil {
		return ocsReply{Code: 998}
	}
	return ocsReply{Code: 200, Data: data}
}

// userData is AUserDataOCSController::getUserData (apps/provisioning_api/lib/Controller/
// AUserDataOCSController.php) as me sees u: nil when me may not see u; `enabled` only for admins
// and u's sub-admins, `storageLocation` only for admins.
func (s *Server) userData(ctx context.Context, me, u *User) (obj, error) {
	var data obj
	admin := isAdmin(me)
	if admin || accessible(me, u) {
		data = append(data, field{"enabled", u.Enabled})
	} else if me.ID != u.ID {
		return nil, nil
	}
	if admin {
		data = append(data, field{"storageLocation", filepath.Join(s.dataDir, u.ID)})
	}
	var lastLogin int64
	if !u.LastLogin.IsZero() {
		lastLogin = u.LastLogin.Unix()
	}
	var firstLogin int64
	if lastLogin > 0 {
		firstLogin = u.Created.Unix()
	}
	var email any
	if u.Email != "" {
		email = u.Email
	}
	quota, err := s.storageInfo(ctx, u)
	if err != nil {
		return nil, err
	}
	data = append(data, obj{
		{"id", u.ID},
		{"firstLoginTimestamp", firstLogin},
		{"lastLoginTimestamp", lastLogin},
		{"lastLogin", lastLogin * 1000},
		{"backend", "Database"},
		{"subadmin", stringList(u.Subadmin)},
		{"quota", quota},
		{"manager", ""},
		{"email", email},
		{"additional_mail", list{}},
		{"displayname", u.DisplayName},
		{"display-name", u.DisplayName},
		{"phone", ""},
		{"address", ""},
		{"website", ""},
		{"twitter", ""},
		{"fediverse", ""},
		{"organisation", ""},
		{"role", ""},
		{"headline", ""},
		{"biography", ""},
		{"profile_enabled", "1"},
		{"pronouns", ""},
		{"groups", stringList(u.Groups)},
		{"language", u.Language},
		{"locale", ""},
		{"timezone", ""},
		// The primary (notification) address is a separate setting nobody sets here: null.
		{"notify_email", nil},
		{"backendCapabilities", obj{{"setDisplayName", true}, {"setPassword", true}}},
	}...)
	return data, nil
}

// filesConfig reads an app value of the files app, or def when unset.
func (s *Server) filesConfig(ctx context.Context, key, def string) (string, error) {
	v, ok, err := s.store.appValue(ctx, "files", key)
	if err != nil || !ok {
		return def, err
	}
	return v, nil
}

// effectiveQuota is User::getQuota (lib/private/User/User.php): the account's quota, where
// "default", or no quota at all (an account created without one), means files/default_quota
// ("none" when unset); when files/allow_unlimited_quota is not "1", an unset default falls back to
// the first of files/quota_preset.
func (s *Server) effectiveQuota(ctx context.Context, u *User) (string, error) {
	if u.Quota != "default" && u.Quota != "" {
		return u.Quota, nil
	}
	def, ok, err := s.store.appValue(ctx, "files", "default_quota")
	if err != nil {
		return "", err
	}
	if !ok {
		def = "none"
	}
	allow, err := s.filesConfig(ctx, "allow_unlimited_quota", "1")
	if err != nil {
		return "", err
	}
	if allow != "1" && !ok {
		presets, err := s.filesConfig(ctx, "quota_preset", "1 GB, 5 GB, 10 GB")
		if err != nil {
			return "", err
		}
		for _, p := range strings.Split(presets, ",") {
			if p = strings.TrimSpace(p); p != "" && p != "default" && p != "none" {
				return p, nil
			}
		}
	}
	return def, nil
}

// quotaLimits reads files/max_quota and files/allow_unlimited_quota.
func (s *Server) quotaLimits(ctx context.Context) (quotaLimits, error) {
	maxQ, err := s.filesConfig(ctx, "max_quota", "-1")
	if err != nil {
		return quotaLimits{}, err
	}
	allow, err := s.filesConfig(ctx, "allow_unlimited_quota", "1")
	if err != nil {
		return quotaLimits{}, err
	}
	return quotaLimits{maxQuota: phpInt(maxQ), allowUnlimited: allow == "1"}, nil
}

// storageInfo is AUserDataOCSController::fillStorageInfo as Nextcloud 31 computes it (without
// quota_include_external_storage): nothing clamped, no disk free space. `used` is the size of the
// files folder; with a quota, free = quota - used (negative past it) and relative = used/quota in
// percent rounded to 2 places (above 100 past it); without, free, total and quota are -3 and
// relative 0. An account that never logged in has no home yet: {quota, used: 0}.
func (s *Server) storageInfo(ctx context.Context, u *User) (any, error) {
	q, err := s.effectiveQuota(ctx, u)
	if err != nil {
		return nil, err
	}
	quota := quotaBytes(q)
	if !s.hasHome(u.ID) {
		var v any = "none"
		if quota >= 0 {
			v = quota
		}
		return obj{{"quota", v}, {"used", 0}}, nil
	}
	used, err := dirSize(s.home(u.ID))
	if err != nil {
		s.log.ErrorContext(ctx, "Could not load storage info", "user", u.ID, "err", err)
		return list{}, nil
	}
	if quota > 0 {
		relative := phpFloat(roundTo(float64(used)/float64(quota)*100, 2))
		return obj{{"free", quota - used}, {"used", used}, {"total", quota}, {"relative", relative}, {"quota", quota}}, nil
	}
	return obj{{"free", spaceUnlimited}, {"used", used}, {"total", spaceUnlimited}, {"relative", 0}, {"quota", quota}}, nil
}

var uidChars = regexp.MustCompile(`[^a-zA-Z0-9 _.@\-']`)

// validateUID is OC\User\Manager's check; it returns Nextcloud's message, or "".
func validateUID(uid string) string {
	switch {
	case uidChars.MatchString(uid):
		return `Only the following characters are allowed in a username: "a-z", "A-Z", "0-9", spaces and "_.@-'"`
	case strings.TrimSpace(uid) == "":
		return "A valid username must be provided"
	case strings.TrimSpace(uid) != uid:
		return "Username contains whitespace at the beginning or at the end"
	case strings.Trim(uid, ".") == "":
		return "Username must not consist of dots only"
	case len(uid) > 64:
		return "Login is too long"
	}
	return ""
}

var languageCode = regexp.MustCompile(`^[a-z]{2,3}(_[A-Za-z]{2,4})?$`)

// addUser is UsersController::addUser (apps/provisioning_api/lib/Controller/UsersController.php)
// in its order of checks: existence, groups (a sub-admin must name groups they administer),
// sub-admin groups, password, then OC\User\Manager::createUser (user limit, login rules,
// password policy), then display name, quota and language through editUser as the caller.
func (s *Server) addUser(r *http.Request, me *User, _ []string) ocsReply {
	ctx := r.Context()
	p := readParams(r)
	uid := p.get("userid")
	password := p.get("password")
	email := p.get("email")
	groups := p.list("groups")
	subadmin := p.list("subadmin")
	admin := isAdmin(me)

	if _, err := s.store.user(ctx, uid); err == nil {
		return ocsReply{Code: 102, Message: "User already exists"}
	} else if !errors.Is(err, ErrNotFound) {
		return s.internal(r, err)
	}
	if len(groups) > 0 {
		for _, g := range groups {
			ok, err := s.store.groupExists(ctx, g)
			if err != nil {
				return s.internal(r, err)
			}
			if !ok {
				return ocsReply{Code: 104, Message: "Group " + g + " does not exist"}
			}
			if !admin && !slices.Contains(me.Subadmin, g) {
				return ocsReply{Code: 105, Message: "Insufficient privileges for group " + g}
			}
		}
	} else if !admin {
		return ocsReply{Code: 106, Message: "No group specified (required for sub-admins)"}
	}
	for _, g := range subadmin {
		ok, err := s.store.groupExists(ctx, g)
		if err != nil {
			return s.internal(r, err)
		}
		switch {
		case !ok:
			return ocsReply{Code: 109, Message: "Sub-admin group does not exist"}
		case g == "admin":
			return ocsReply{Code: 103, Message: "Cannot create sub-admins for admin group"}
		case !admin && !slices.Contains(me.Subadmin, g):
			return ocsReply{Code: http.StatusForbidden, Message: "No permissions to promote sub-admins"}
		}
	}
	if len(password) > maxPasswordLength {
		return ocsReply{Code: 101, Message: "Invalid password value"}
	}
	if password == "" {
		if email == "" {
			return ocsReply{Code: 108, Message: "An email address is required, to send a password link to the user."}
		}
		password = randomHex(16)
	}
	if email == "" {
		if v, _, err := s.store.appValue(ctx, "core", "newUser.requireEmail"); err != nil {
			return s.internal(r, err)
		} else if v == "yes" {
			return ocsReply{Code: 110, Message: "Required email address was not provided"}
		}
	}
	if email != "" && !strings.Contains(email, "@") {
		return ocsReply{Code: 101, Message: "Invalid mail address"}
	}
	limit := 0
	if s.conf.Bool("one-click-instance", false) {
		limit = s.conf.Int("one-click-instance.user-limit", DefaultUserLimit)
		n, err := s.store.countEnabled(ctx)
		if err != nil {
			return s.internal(r, err)
		}
		// Nextcloud compares count >= limit: a limit of 0 or less refuses every new user.
		if limit <= 0 || n >= limit {
			return ocsReply{Code: 107, Message: UserLimitMessage}
		}
	}
	if msg := validateUID(uid); msg != "" {
		return ocsReply{Code: 101, Message: msg}
	}
	// The password_policy app checks on preCreateUser, after the login rules.
	if len([]rune(password)) < minPasswordLength {
		return ocsReply{Code: 107, Message: "Password needs to be at least " + strconv.Itoa(minPasswordLength) + " characters long."}
	}
	hash, err := s.passwordHash(password)
	if err != nil {
		return s.internal(r, err)
	}
	u := &User{ID: uid, DisplayName: uid, Email: email, PasswordHash: hash, Enabled: true,
		Quota: "default", Groups: groups, Subadmin: subadmin}
	switch err := s.store.createUser(ctx, u, limit); {
	case errors.Is(err, errUserLimit):
		s.log.WarnContext(ctx, "The account limit was reached and the new account was not created", "limit", limit)
		return ocsReply{Code: 107, Message: UserLimitMessage}
	case errors.Is(err, errUserExists):
		return ocsReply{Code: 102, Message: "User already exists"}
	case err != nil:
		return s.internal(r, err)
	}
	s.log.InfoContext(ctx, "Successful addUser call", "user", uid, "by", me.ID)
	edit := func(key, value string) (ocsReply, bool) {
		target, err := s.store.user(ctx, uid)
		if err != nil {
			return s.internal(r, err), false
		}
		rep, err := s.edit(ctx, me, target, key, value)
		var bad errInvalidStoredQuota
		switch {
		case errors.As(err, &bad):
			// addUser turns editUser's InvalidArgumentException into 101.
			return ocsReply{Code: 101, Message: bad.Error()}, false
		case err != nil:
			return s.internal(r, err), false
		}
		return rep, rep.Code == 200
	}
	if dn := p.get("displayName"); dn != "" {
		if rep, ok := edit(userFieldDisplayName, dn); !ok {
			// Only a refused display name takes the new account away again.
			if err := s.store.deleteUser(ctx, uid); err != nil {
				s.log.ErrorContext(ctx, "delete user after a refused display name", "user", uid, "err", err)
			}
			return rep
		}
	}
	if q := p.get("quota"); q != "" {
		if rep, ok := edit("quota", q); !ok {
			return rep
		}
	}
	if l := p.get("language"); l != "" {
		if rep, ok := edit("language", l); !ok {
			return rep
		}
	}
	return ocsReply{Code: 200, Data: obj{{"id", uid}}}
}

// userFieldDisplayName is AUserDataOCSController::USER_FIELD_DISPLAYNAME.
const userFieldDisplayName = "display"

// editUser is UsersController::editUser over HTTP: PUT key=…&value=….
func (s *Server) editUser(r *http.Request, me *User, args []string) ocsReply {
	p := readParams(r)
	target, err := s.store.user(r.Context(), args[0])
	if errors.Is(err, ErrNotFound) {
		return ocsReply{Code: 998}
	}
	if err != nil {
		return s.internal(r, err)
	}
	rep, err := s.edit(r.Context(), me, target, p.get("key"), p.get("value"))
	if err != nil {
		// An exception that is no OCSException (setQuota's) reaches ocs/v1.php: 996.
		return s.internal(r, err)
	}
	return rep
}

// edit is the body of UsersController::editUser for the keys the stand-in keeps: which keys me
// may change on target (998 when me may not manage target at all, 113 for a key not permitted),
// then the change. err is an exception Nextcloud does not turn into an OCS failure.
func (s *Server) edit(ctx context.Context, me, target *User, key, value string) (ocsReply, error) {
	admin := isAdmin(me)
	permitted := map[string]bool{}
	if target.ID == me.ID {
		if v, _ := s.conf.Value("allow_user_to_change_display_name"); v != false {
			permitted[userFieldDisplayName], permitted["displayname"], permitted["email"] = true, true, true
		}
		permitted["password"] = true
		if v, _ := s.conf.Value("force_language"); v == nil || v == false || admin {
			permitted["language"] = true
		}
		// Only an admin may set their own quota.
		permitted["quota"] = admin
	} else if admin || accessible(me, target) {
		for _, k := range []string{userFieldDisplayName, "displayname", "email", "password", "language", "quota"} {
			permitted[k] = true
		}
	} else {
		return ocsReply{Code: 998}, nil
	}
	if !permitted[key] {
		return ocsReply{Code: 113}, nil
	}
	var err error
	switch key {
	case userFieldDisplayName, "displayname":
		// User::setDisplayName trims and ignores an empty or unchanged name; the Database backend
		// refuses more than 64 characters.
		dn := strings.Trim(value, " \t\n\r\x00\x0b")
		if utf8Len(dn) > 64 {
			return ocsReply{Code: 101, Message: "Invalid displayname"}, nil
		}
		if dn == "" || dn == "0" || dn == target.DisplayName {
			return ocsReply{Code: 200}, nil
		}
		err = s.store.setUserField(ctx, target.ID, "displayname", dn)
	case "email":
		if value != "" && !validEmail(value) {
			return ocsReply{Code: 101}, nil
		}
		err = s.store.setUserField(ctx, target.ID, "email", value)
	case "quota":
		lim, lerr := s.quotaLimits(ctx)
		if lerr != nil {
			return ocsReply{}, lerr
		}
		q, rep, qerr := normalizeQuota(value, lim)
		if qerr != nil {
			return ocsReply{}, qerr
		}
		if rep != nil {
			return *rep, nil
		}
		err = s.store.setUserField(ctx, target.ID, "quota", q)
	case "language":
		if value != "en" && !languageCode.MatchString(value) {
			return ocsReply{Code: 101, Message: "Invalid language"}, nil
		}
		err = s.store.setUserField(ctx, target.ID, "lang", value)
	case "password":
		if len(value) > maxPasswordLength {
			return ocsReply{Code: 101, Message: "Invalid password value"}, nil
		}
		if len([]rune(value)) < minPasswordLength {
			return ocsReply{Code: 107, Message: "Password needs to be at least " + strconv.Itoa(minPasswordLength) + " characters long."}, nil
		}
		hash, herr := s.passwordHash(value)
		if herr != nil {
			return ocsReply{}, herr
		}
		err = s.store.setUserField(ctx, target.ID, "password", hash)
	}
	if errors.Is(err, ErrNotFound) {
		return ocsReply{Code: 998}, nil
	}
	if err != nil {
		return ocsReply{}, err
	}
	return ocsReply{Code: 200}, nil
}

func utf8Len(s string) int { return len([]rune(s)) }

// validEmail approximates PHP's FILTER_VALIDATE_EMAIL: one bare address, nothing else.
func validEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Name == "" && a.Address == s && strings.Contains(s, "@")
}

func (s *Server) enableUser(r *http.Request, me *User, args []string) ocsReply {
	return s.setEnabled(r, me, args[0], true)
}

func (s *Server) disableUser(r *http.Request, me *User, args []string) ocsReply {
	return s.setEnabled(r, me, args[0], false)
}

// setEnabled is UsersController::setEnabled: an unknown account, or oneself, is 101; one the
// caller may not manage 998.
func (s *Server) setEnabled(r *http.Request, me *User, id string, enabled bool) ocsReply {
	target, err := s.store.user(r.Context(), id)
	if errors.Is(err, ErrNotFound) || (err == nil && target.ID == me.ID) {
		return ocsReply{Code: 101}
	}
	if err != nil {
		return s.internal(r, err)
	}
	if !isAdmin(me) && !accessible(me, target) {
		return ocsReply{Code: 998}
	}
	if err := s.store.setUserField(r.Context(), target.ID, "enabled", enabled); err != nil {
		return s.internal(r, err)
	}
	return ocsReply{Code: 200}
}

// deleteUser is UsersController::deleteUser: unknown is 998, oneself 101, an account the caller
// may not manage 998. Files go too.
func (s *Server) deleteUser(r *http.Request, me *User, args []string) ocsReply {
	target, err := s.store.user(r.Context(), args[0])
	if errors.Is(err, ErrNotFound) {
		return ocsReply{Code: 998}
	}
	if err != nil {
		return s.internal(r, err)
	}
	if target.ID == me.ID {
		return ocsReply{Code: 101}
	}
	if !isAdmin(me) && !accessible(me, target) {
		return ocsReply{Code: 998}
	}
	if err := s.store.deleteUser(r.Context(), target.ID); err != nil {
		return s.internal(r, err)
	}
	if err := removeUserDir(s.dataDir, target.ID); err != nil {
		s.log.ErrorContext(r.Context(), "delete user files", "user", target.ID, "err", err)
	}
	return ocsReply{Code: 200}
}
