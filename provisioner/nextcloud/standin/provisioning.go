package standin

import (
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// UserLimitMessage is Nextcloud core's hint when the user limit is reached (OC\Support\Subscription\Assertion).
const UserLimitMessage = "The user was not created because the user limit has been reached. Check your notifications to learn more."

// DefaultUserLimit is Nextcloud's default for `one-click-instance.user-limit`.
const DefaultUserLimit = 50

// minPasswordLength is the password_policy app's default minimum length.
const minPasswordLength = 10

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
	case r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodPatch || r.Method == http.MethodDelete:
		if err := r.ParseForm(); err == nil {
			for k, vs := range r.PostForm {
				v[k] = vs
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

// serveOCS authenticates and dispatches one OCS call. rest starts with "/".
func (s *Server) serveOCS(w http.ResponseWriter, r *http.Request, version int, rest string) {
	reply := func(rep ocsReply) { writeOCS(w, r, version, rep, true) }
	if rest == "/apps/serverinfo/api/v1/info" && r.Method == http.MethodGet {
		s.serveServerInfo(w, r, version)
		return
	}
	u := s.authenticate(r)
	if u == nil {
		reply(ocsReply{Code: 997, Message: "Current user is not logged in"})
		return
	}
	if !isAdmin(u) {
		reply(ocsReply{Code: 403, Message: "Logged in account must be an admin"})
		return
	}
	seg := strings.Split(strings.Trim(rest, "/"), "/")
	switch {
	case len(seg) == 2 && seg[0] == "cloud" && seg[1] == "users":
		switch r.Method {
		case http.MethodGet:
			reply(s.listUsers(r, false))
		case http.MethodPost:
			reply(s.addUser(r, u))
		default:
			reply(ocsReply{Code: 998, Message: "Invalid query"})
		}
	case len(seg) == 3 && seg[0] == "cloud" && seg[1] == "users" && seg[2] == "details" && r.Method == http.MethodGet:
		reply(s.listUsers(r, true))
	case len(seg) == 3 && seg[0] == "cloud" && seg[1] == "users":
		id, _ := url.PathUnescape(seg[2])
		switch r.Method {
		case http.MethodGet:
			reply(s.getUser(r, id))
		case http.MethodPut:
			reply(s.editUser(r, u, id))
		case http.MethodDelete:
			reply(s.deleteUser(r, u, id))
		default:
			reply(ocsReply{Code: 998, Message: "Invalid query"})
		}
	case len(seg) == 4 && seg[0] == "cloud" && seg[1] == "users" && r.Method == http.MethodPut && (seg[3] == "enable" || seg[3] == "disable"):
		id, _ := url.PathUnescape(seg[2])
		reply(s.setEnabled(r, u, id, seg[3] == "enable"))
	case len(seg) == 2 && seg[0] == "cloud" && seg[1] == "groups":
		switch r.Method {
		case http.MethodGet:
			groups, err := s.store.groups(r.Context())
			if err != nil {
				reply(s.internal(r, err))
				return
			}
			reply(ocsReply{Code: 200, Data: obj{{"groups", stringList(groups)}}})
		case http.MethodPost:
			reply(s.addGroup(r))
		default:
			reply(ocsReply{Code: 998, Message: "Invalid query"})
		}
	default:
		reply(ocsReply{Code: 998, Message: "Invalid query, please check the syntax. API specifications are here: http://www.freedesktop.org/wiki/Specifications/open-collaboration-services."})
	}
}

func (s *Server) internal(r *http.Request, err error) ocsReply {
	s.log.ErrorContext(r.Context(), "ocs request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	return ocsReply{Code: 996, Message: "Internal Server Error"}
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

func (s *Server) listUsers(r *http.Request, details bool) ocsReply {
	p := readParams(r)
	limit := p.int("limit", 0)
	users, err := s.store.users(r.Context(), p.get("search"), limit, p.int("offset", 0))
	if err != nil {
		return s.internal(r, err)
	}
	if !details {
		// array_keys() of the user map: numeric-looking ids come back as integers.
		ids := make(list, len(users))
		for i, u := range users {
			ids[i] = phpID(u.ID)
		}
		return ocsReply{Code: 200, Data: obj{{"users", ids}}}
	}
	m := make(obj, 0, len(users))
	for _, u := range users {
		m = append(m, field{u.ID, s.userData(r, u)})
	}
	return ocsReply{Code: 200, Data: obj{{"users", m}}}
}

func (s *Server) getUser(r *http.Request, id string) ocsReply {
	u, err := s.store.user(r.Context(), id)
	if errors.Is(err, ErrNotFound) {
		return ocsReply{Code: 998, Message: "User does not exist"}
	}
	if err != nil {
		return s.internal(r, err)
	}
	return ocsReply{Code: 200, Data: s.userData(r, u)}
}

// userData is AUserDataOCSController::getUserData as an admin sees it.
func (s *Server) userData(r *http.Request, u *User) obj {
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
	groups := u.Groups
	if groups == nil {
		groups = []string{}
	}
	return obj{
		{"enabled", u.Enabled},
		{"storageLocation", filepath.Join(s.dataDir, u.ID)},
		{"id", u.ID},
		{"firstLoginTimestamp", firstLogin},
		{"lastLoginTimestamp", lastLogin},
		{"lastLogin", lastLogin * 1000},
		{"backend", "Database"},
		{"subadmin", list{}},
		{"quota", s.storageInfo(r, u)},
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
		{"groups", stringList(groups)},
		{"language", u.Language},
		{"locale", ""},
		{"timezone", ""},
		{"notify_email", email},
		{"backendCapabilities", obj{{"setDisplayName", true}, {"setPassword", true}}},
	}
}

// defaultQuota is the files app's default_quota ("none" when unset).
func (s *Server) defaultQuota(r *http.Request) string {
	v, ok, err := s.store.appValue(r.Context(), "files", "default_quota")
	if err != nil || !ok || v == "" {
		return "none"
	}
	return v
}

// storageInfo is AUserDataOCSController::fillStorageInfo: the full block once the user has a
// home, {quota, used: 0} before the first login, `[]` when the home cannot be measured.
func (s *Server) storageInfo(r *http.Request, u *User) any {
	quota := quotaBytes(u.Quota, s.defaultQuota(r))
	if !s.hasHome(u.ID) {
		var q any = "none"
		if quota >= 0 {
			q = quota
		}
		return obj{{"quota", q}, {"used", 0}}
	}
	used, err := dirSize(s.home(u.ID))
	if err != nil {
		s.log.ErrorContext(r.Context(), "Could not load storage info", "user", u.ID, "err", err)
		return list{}
	}
	if quota > 0 {
		relative := phpFloat(roundTo(float64(used)/float64(quota)*100, 2))
		return obj{{"free", quota - used}, {"used", used}, {"total", quota}, {"relative", relative}, {"quota", quota}}
	}
	return obj{{"free", spaceUnlimited}, {"used", used}, {"total", spaceUnlimited}, {"relative", 0}, {"quota", quota}}
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

// addUser is UsersController::addUser, in its order of checks.
func (s *Server) addUser(r *http.Request, current *User) ocsReply {
	ctx := r.Context()
	p := readParams(r)
	uid := p.get("userid")
	password := p.get("password")
	email := p.get("email")
	groups := p.list("groups")

	if _, err := s.store.user(ctx, uid); err == nil {
		return ocsReply{Code: 102, Message: "User already exists"}
	} else if !errors.Is(err, ErrNotFound) {
		return s.internal(r, err)
	}
	for _, g := range groups {
		ok, err := s.store.groupExists(ctx, g)
		if err != nil {
			return s.internal(r, err)
		}
		if !ok {
			return ocsReply{Code: 104, Message: "group " + g + " does not exist"}
		}
	}
	if len(password) > 469 {
		return ocsReply{Code: 101, Message: "Invalid password value"}
	}
	if password == "" {
		if email == "" {
			return ocsReply{Code: 108, Message: "To send a password link to the user an email address is required."}
		}
		password = randomHex(16)
	} else if len([]rune(password)) < minPasswordLength {
		return ocsReply{Code: 107, Message: "Password needs to be at least " + strconv.Itoa(minPasswordLength) + " characters long."}
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
	hash, err := s.passwordHash(password)
	if err != nil {
		return s.internal(r, err)
	}
	u := &User{ID: uid, DisplayName: uid, Email: email, PasswordHash: hash, Enabled: true,
		Quota: "default", Groups: groups}
	switch err := s.store.createUser(ctx, u, limit); {
	case errors.Is(err, errUserLimit):
		s.log.WarnContext(ctx, "The account limit was reached and the new account was not created", "limit", limit)
		return ocsReply{Code: 107, Message: UserLimitMessage}
	case errors.Is(err, errUserExists):
		return ocsReply{Code: 102, Message: "User already exists"}
	case err != nil:
		return s.internal(r, err)
	}
	s.log.InfoContext(ctx, "Successful addUser call", "user", uid, "by", current.ID)
	// Like Nextcloud, the account stays created when a later field is refused.
	if dn := p.get("displayName"); dn != "" {
		if rep := s.applyField(r, uid, "display", dn); rep.Code != 200 {
			return rep
		}
	}
	if q := p.get("quota"); q != "" {
		if rep := s.applyField(r, uid, "quota", q); rep.Code != 200 {
			return rep
		}
	}
	if l := p.get("language"); l != "" {
		if rep := s.applyField(r, uid, "language", l); rep.Code != 200 {
			return rep
		}
	}
	return ocsReply{Code: 200, Data: obj{{"id", uid}}}
}

// editUser is UsersController::editUser for the keys the stand-in keeps.
func (s *Server) editUser(r *http.Request, current *User, id string) ocsReply {
	p := readParams(r)
	target, err := s.store.user(r.Context(), id)
	if errors.Is(err, ErrNotFound) {
		return ocsReply{Code: 998}
	}
	if err != nil {
		return s.internal(r, err)
	}
	return s.applyField(r, target.ID, p.get("key"), p.get("value"))
}

func (s *Server) applyField(r *http.Request, uid, key, value string) ocsReply {
	ctx := r.Context()
	var err error
	switch key {
	case "display", "displayname":
		if len(value) > 64*4 {
			return ocsReply{Code: 101, Message: "Invalid display name"}
		}
		err = s.store.setUserField(ctx, uid, "displayname", value)
	case "email":
		if value != "" && !strings.Contains(value, "@") {
			return ocsReply{Code: 101}
		}
		err = s.store.setUserField(ctx, uid, "email", value)
	case "quota":
		q, ok := normalizeQuota(value)
		if !ok {
			return ocsReply{Code: 102, Message: "Invalid quota value " + value}
		}
		err = s.store.setUserField(ctx, uid, "quota", q)
	case "language":
		if !languageCode.MatchString(value) {
			return ocsReply{Code: 102, Message: "Invalid language"}
		}
		err = s.store.setUserField(ctx, uid, "lang", value)
	case "password":
		if len([]rune(value)) < minPasswordLength {
			return ocsReply{Code: 107, Message: "Password needs to be at least " + strconv.Itoa(minPasswordLength) + " characters long."}
		}
		hash, herr := s.passwordHash(value)
		if herr != nil {
			return s.internal(r, herr)
		}
		err = s.store.setUserField(ctx, uid, "password", hash)
	default:
		return ocsReply{Code: 113}
	}
	if errors.Is(err, ErrNotFound) {
		return ocsReply{Code: 998}
	}
	if err != nil {
		return s.internal(r, err)
	}
	return ocsReply{Code: 200}
}

// setEnabled is UsersController::setEnabled: an unknown user, or oneself, is 101.
func (s *Server) setEnabled(r *http.Request, current *User, id string, enabled bool) ocsReply {
	target, err := s.store.user(r.Context(), id)
	if errors.Is(err, ErrNotFound) || (err == nil && target.ID == current.ID) {
		return ocsReply{Code: 101}
	}
	if err != nil {
		return s.internal(r, err)
	}
	if err := s.store.setUserField(r.Context(), target.ID, "enabled", enabled); err != nil {
		return s.internal(r, err)
	}
	return ocsReply{Code: 200}
}

// deleteUser is UsersController::deleteUser: unknown is 998, oneself 101. Files go too.
func (s *Server) deleteUser(r *http.Request, current *User, id string) ocsReply {
	target, err := s.store.user(r.Context(), id)
	if errors.Is(err, ErrNotFound) {
		return ocsReply{Code: 998}
	}
	if err != nil {
		return s.internal(r, err)
	}
	if target.ID == current.ID {
		return ocsReply{Code: 101}
	}
	if err := s.store.deleteUser(r.Context(), target.ID); err != nil {
		return s.internal(r, err)
	}
	if err := removeUserDir(s.dataDir, target.ID); err != nil {
		s.log.ErrorContext(r.Context(), "delete user files", "user", target.ID, "err", err)
	}
	return ocsReply{Code: 200}
}

// addGroup is GroupsController::addGroup: 101 without an id, 102 when it exists.
func (s *Server) addGroup(r *http.Request) ocsReply {
	gid := readParams(r).get("groupid")
	if gid == "" {
		return ocsReply{Code: 101, Message: "Invalid group name"}
	}
	created, err := s.store.createGroup(r.Context(), gid)
	if err != nil {
		return s.internal(r, err)
	}
	if !created {
		return ocsReply{Code: 102, Message: "group exists"}
	}
	return ocsReply{Code: 200}
}
