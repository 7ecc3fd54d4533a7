package nextcloud

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Nextcloud's special storage values (OCP\Files\FileInfo::SPACE_*).
const (
	SpaceNotComputed int64 = -1
	SpaceUnknown     int64 = -2
	SpaceUnlimited   int64 = -3
)

// String is a JSON value read as a string: Nextcloud (PHP) turns numeric-looking user ids into
// numbers, and XML turns everything into text.
type String string

// UnmarshalJSON accepts a string, a number, a boolean or null.
func (s *String) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		*s = ""
	case b[0] == '"':
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = String(v)
	case b[0] == '{' || b[0] == '[':
		return fmt.Errorf("want a string, got %.20s", b)
	default:
		*s = String(b)
	}
	return nil
}

// Int64 is a JSON number that may also come as a float (PHP computes sizes in floats) or as a
// numeric string (XML, older versions). The string "none" reads as SpaceUnlimited.
type Int64 int64

// UnmarshalJSON accepts an integer, a float, a numeric string, "none", "" or null.
func (n *Int64) UnmarshalJSON(b []byte) error {
	s, err := scalarText(b)
	if err != nil {
		return err
	}
	v, err := parseInt64(s)
	if err != nil {
		return err
	}
	*n = Int64(v)
	return nil
}

func parseInt64(s string) (int64, error) {
	s = strings.TrimSpace(s)
	switch s {
	case "":
		return 0, nil
	case "none":
		return SpaceUnlimited, nil
	}
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		return v, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("want a number, got %q", s)
	}
	return int64(math.Round(f)), nil
}

// Float64 is a JSON number that may also come as a numeric string.
type Float64 float64

// UnmarshalJSON accepts a number, a numeric string, "" or null.
func (f *Float64) UnmarshalJSON(b []byte) error {
	s, err := scalarText(b)
	if err != nil {
		return err
	}
	if strings.TrimSpace(s) == "" {
		*f = 0
		return nil
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return fmt.Errorf("want a number, got %q", s)
	}
	*f = Float64(v)
	return nil
}

// scalarText is a JSON scalar as text: a string's content, or a number's literal; "" for null.
func scalarText(b []byte) (string, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" {
		return "", nil
	}
	s := string(b)
	if b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return "", err
		}
	}
	return s, nil
}

// Bool is a JSON boolean that may also come as 1/0 or "1"/""/"true"/"false" (XML renders true as 1).
type Bool bool

// UnmarshalJSON accepts booleans, numbers and strings.
func (v *Bool) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	s := string(b)
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	}
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "1", "yes":
		*v = true
	case "false", "0", "", "no", "null":
		*v = false
	default:
		return fmt.Errorf("want a boolean, got %q", s)
	}
	return nil
}

// Strings is a JSON list of strings (items may be numbers); `{}` keyed lists read in key order of
// appearance, and an empty string (an empty XML element) reads as no items.
type Strings []string

// UnmarshalJSON accepts a list, an object of values, "" or null.
func (l *Strings) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" || string(b) == `""` {
		*l = nil
		return nil
	}
	var items []String
	if b[0] == '{' {
		_, m, err := orderedObject(b)
		if err != nil {
			return err
		}
		for _, raw := range m {
			var s String
			if err := json.Unmarshal(raw, &s); err != nil {
				return err
			}
			items = append(items, s)
		}
	} else if err := json.Unmarshal(b, &items); err != nil {
		return err
	}
	out := make([]string, len(items))
	for i, s := range items {
		out[i] = string(s)
	}
	*l = out
	return nil
}

// orderedObject returns the keys and values of a JSON object in the order they appear.
func orderedObject(b []byte) ([]string, []json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	t, err := dec.Token()
	if err != nil {
		return nil, nil, err
	}
	if d, ok := t.(json.Delim); !ok || d != '{' {
		return nil, nil, fmt.Errorf("want an object")
	}
	var keys []string
	var vals []json.RawMessage
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, nil, err
		}
		k, _ := t.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, nil, err
		}
		keys = append(keys, k)
		vals = append(vals, raw)
	}
	return keys, vals, nil
}

// QuotaState says how much of the quota block Nextcloud could fill in.
type QuotaState int

const (
	// QuotaComplete: free, used, total, relative and quota are all known.
	QuotaComplete QuotaState = iota
	// QuotaNotInitialized: the user never logged in, so has no home yet; only quota and used (0).
	QuotaNotInitialized
	// QuotaUnavailable: Nextcloud could not load the storage info and sent `[]`.
	QuotaUnavailable
)

// String names the state.
func (s QuotaState) String() string {
	switch s {
	case QuotaComplete:
		return "complete"
	case QuotaNotInitialized:
		return "not initialized"
	case QuotaUnavailable:
		return "unavailable"
	}
	return "unknown"
}

// Quota is the `quota` block of user details. Sizes are bytes.
type Quota struct {
	State QuotaState
	// Quota is the user's limit, or SpaceUnlimited (also for "none").
	Quota int64
	// Used counts the user's home files (not versions, trash or previews).
	Used int64
	// Free and Total are SpaceUnlimited for an unlimited user.
	Free  int64
	Total int64
	// Relative is the used share of the quota, in percent (0 when unlimited).
	Relative float64
}

// Unlimited reports whether the user has no quota.
func (q Quota) Unlimited() bool { return q.Quota < 0 }

// UnmarshalJSON reads the full block, the never-logged-in block ({quota, used}) and `[]`.
func (q *Quota) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if emptyData(b) || string(b) == `""` {
		*q = Quota{State: QuotaUnavailable}
		return nil
	}
	var raw struct {
		Free     *Int64   `json:"free"`
		Used     *Int64   `json:"used"`
		Total    *Int64   `json:"total"`
		Relative *Float64 `json:"relative"`
		Quota    *Int64   `json:"quota"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("decode quota: %w", err)
	}
	*q = Quota{State: QuotaComplete, Quota: SpaceUnlimited}
	if raw.Quota != nil {
		q.Quota = int64(*raw.Quota)
	}
	if raw.Used != nil {
		q.Used = int64(*raw.Used)
	}
	if raw.Free == nil || raw.Total == nil {
		q.State = QuotaNotInitialized
		if q.Unlimited() {
			q.Free, q.Total = SpaceUnlimited, SpaceUnlimited
		} else {
			q.Free, q.Total = q.Quota-q.Used, q.Quota
		}
		return nil
	}
	q.Free, q.Total = int64(*raw.Free), int64(*raw.Total)
	if raw.Relative != nil {
		q.Relative = float64(*raw.Relative)
	}
	return nil
}

// User is the details of one account (GET /cloud/users/{id}).
type User struct {
	ID          string
	Enabled     bool
	DisplayName string
	Email       string
	Groups      []string
	// Subadmin lists the groups this account is a sub-admin of.
	Subadmin []string
	Language string
	Locale   string
	Backend  string
	// LastLogin is in milliseconds since the epoch; 0 when the user never logged in.
	LastLogin int64
	Quota     Quota
	// Partial is true when Nextcloud only sent the id (the caller may not see this user).
	Partial bool
}

// UnmarshalJSON reads user details, tolerating numeric ids and XML-style scalars.
func (u *User) UnmarshalJSON(b []byte) error {
	var raw struct {
		ID          String  `json:"id"`
		Enabled     *Bool   `json:"enabled"`
		DisplayName *String `json:"displayname"`
		DisplayLeg  String  `json:"display-name"`
		Email       String  `json:"email"`
		Groups      Strings `json:"groups"`
		Subadmin    Strings `json:"subadmin"`
		Language    String  `json:"language"`
		Locale      String  `json:"locale"`
		Backend     String  `json:"backend"`
		LastLogin   Int64   `json:"lastLogin"`
		Quota       *Quota  `json:"quota"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("decode user: %w", err)
	}
	*u = User{
		ID: string(raw.ID), Email: string(raw.Email), Groups: raw.Groups, Subadmin: raw.Subadmin,
		Language: string(raw.Language), Locale: string(raw.Locale), Backend: string(raw.Backend),
		LastLogin: int64(raw.LastLogin),
	}
	if raw.Enabled != nil {
		u.Enabled = bool(*raw.Enabled)
	}
	if raw.DisplayName != nil {
		u.DisplayName = string(*raw.DisplayName)
	} else {
		u.DisplayName = string(raw.DisplayLeg)
	}
	if raw.Quota != nil {
		u.Quota = *raw.Quota
	} else {
		u.Quota = Quota{State: QuotaUnavailable}
	}
	u.Partial = raw.Enabled == nil && raw.Quota == nil
	return nil
}

// userList is the data of GET /cloud/users.
type userList struct {
	Users Strings `json:"users"`
}

// userDetailsList is the data of GET /cloud/users/details: an object keyed by id, `[]` when
// empty, or a list when PHP saw sequential numeric ids.
type userDetailsList struct {
	Users []User
}

// UnmarshalJSON reads every shape of the users field.
func (l *userDetailsList) UnmarshalJSON(b []byte) error {
	var raw struct {
		Users json.RawMessage `json:"users"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	u := bytes.TrimSpace(raw.Users)
	l.Users = nil
	if emptyData(u) || string(u) == `""` {
		return nil
	}
	if u[0] == '[' {
		return json.Unmarshal(u, &l.Users)
	}
	keys, vals, err := orderedObject(u)
	if err != nil {
		return fmt.Errorf("decode users: %w", err)
	}
	for i, v := range vals {
		var usr User
		if err := json.Unmarshal(v, &usr); err != nil {
			return err
		}
		if usr.ID == "" {
			usr.ID = keys[i]
		}
		l.Users = append(l.Users, usr)
	}
	return nil
}

// ServerInfo is the part of the serverinfo app's report the provisioner reads.
type ServerInfo struct {
	Nextcloud struct {
		System struct {
			Version   String `json:"version"`
			FreeSpace Int64  `json:"freespace"`
			MemTotal  Int64  `json:"mem_total"`
			MemFree   Int64  `json:"mem_free"`
		} `json:"system"`
		Storage struct {
			NumUsers         Int64 `json:"num_users"`
			NumDisabledUsers Int64 `json:"num_disabled_users"`
			NumFiles         Int64 `json:"num_files"`
			NumStorages      Int64 `json:"num_storages"`
		} `json:"storage"`
		Shares struct {
			NumShares Int64 `json:"num_shares"`
		} `json:"shares"`
	} `json:"nextcloud"`
	Server struct {
		Webserver String `json:"webserver"`
		PHP       struct {
			Version String `json:"version"`
		} `json:"php"`
		Database struct {
			Type    String `json:"type"`
			Version String `json:"version"`
			Size    Int64  `json:"size"`
		} `json:"database"`
	} `json:"server"`
	ActiveUsers struct {
		Last5Minutes Int64 `json:"last5minutes"`
		Last1Hour    Int64 `json:"last1hour"`
		Last24Hours  Int64 `json:"last24hours"`
		Last7Days    Int64 `json:"last7days"`
		Last1Month   Int64 `json:"last1month"`
		Last3Months  Int64 `json:"last3months"`
		Last6Months  Int64 `json:"last6months"`
		LastYear     Int64 `json:"lastyear"`
	} `json:"activeUsers"`
}
