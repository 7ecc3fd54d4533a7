package standin

import (
	"math"
	"regexp"
	"strconv"
	"strings"
)

// spaceUnlimited is OCP\Files\FileInfo::SPACE_UNLIMITED.
const spaceUnlimited = -3

var (
	sizeSuffix = regexp.MustCompile(`([kmgtp]?b?)$`)
	numberHead = regexp.MustCompile(`^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?`)
	numericStr = regexp.MustCompile(`^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$`)
)

var sizeUnits = map[string]float64{
	"b": 1, "k": 1 << 10, "kb": 1 << 10, "m": 1 << 20, "mb": 1 << 20,
	"g": 1 << 30, "gb": 1 << 30, "t": 1 << 40, "tb": 1 << 40, "p": 1 << 50, "pb": 1 << 50,
}

// computerFileSize is OCP\Util::computerFileSize: "5 GB" → 5368709120, "1024" → 1024;
// ok is false when the text has no known unit.
func computerFileSize(s string) (float64, bool) {
	s = strings.ToLower(s)
	if numericStr.MatchString(s) {
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		return f, err == nil
	}
	m := sizeSuffix.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	unit, ok := sizeUnits[m[1]]
	if !ok {
		return 0, false
	}
	// PHP's (float) cast reads the leading number and ignores the rest ("abc gb" is 0).
	var n float64
	if h := numberHead.FindString(s); h != "" {
		n, _ = strconv.ParseFloat(strings.TrimSpace(h), 64)
	}
	return math.Round(n * unit), true
}

// humanFileSize is OCP\Util::humanFileSize: Nextcloud stores quotas in this rounded form.
func humanFileSize(bytes float64) string {
	if bytes < 0 {
		return "?"
	}
	if bytes < 1024 {
		return phpNum(bytes) + " B"
	}
	bytes = math.Round(bytes / 1024)
	if bytes < 1024 {
		return phpNum(bytes) + " KB"
	}
	for _, unit := range []string{"MB", "GB", "TB"} {
		bytes = roundTo(bytes/1024, 1)
		if bytes < 1024 {
			return phpNum(bytes) + " " + unit
		}
	}
	bytes = roundTo(bytes/1024, 1)
	return phpNum(bytes) + " PB"
}

func roundTo(v float64, places int) float64 {
	p := math.Pow(10, float64(places))
	return math.Round(v*p) / p
}

func phpNum(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// isNumeric is PHP's is_numeric for the strings a form carries: optional surrounding
// whitespace, a sign, digits with an optional fraction and exponent.
func isNumeric(s string) bool { return numericStr.MatchString(s) }

// phpInt is PHP's (int) cast of a string: the leading number, truncated towards zero ("20 GB" is
// 20, "abc" is 0, "1e3" is 1000). files/max_quota is read this way.
func phpInt(s string) int64 {
	h := numberHead.FindString(s)
	if h == "" {
		return 0
	}
	h = strings.TrimSpace(h)
	if !strings.ContainsAny(h, ".eE") {
		// An integer string saturates, as PHP's strtol-based conversion does.
		n, _ := strconv.ParseInt(h, 10, 64)
		return n
	}
	f, err := strconv.ParseFloat(h, 64)
	if err != nil || math.IsNaN(f) || f >= math.MaxInt64 || f <= math.MinInt64 {
		return 0 // PHP 7+ casts a float it cannot represent to 0
	}
	return int64(f)
}

// errInvalidStoredQuota is User::setQuota's InvalidArgumentException: the value editUser computed
// does not parse again (a negative number became "?").
type errInvalidStoredQuota struct{ value string }

func (e errInvalidStoredQuota) Error() string {
	return "Failed to set quota to invalid value " + e.value
}

// quotaLimits are the files app settings editUser checks a new quota against.
type quotaLimits struct {
	// maxQuota is files/max_quota read with (int); -1 means no limit.
	maxQuota int64
	// allowUnlimited is files/allow_unlimited_quota == "1" (its default).
	allowUnlimited bool
}

// normalizeQuota is UsersController::editUser's quota branch followed by User::setQuota
// (apps/provisioning_api/lib/Controller/UsersController.php, lib/private/User/User.php): it returns
// what Nextcloud stores ("none", "default" or a rounded human size), or the OCS failure (code
// 101) editUser answers, or errInvalidStoredQuota when setQuota throws.
func normalizeQuota(value string, lim quotaLimits) (stored string, rep *ocsReply, err error) {
	quota := value
	if value != "none" && value != "default" {
		var bytes float64
		fromUnit := false
		if isNumeric(value) {
			// (float) $quota: a number given without unit never equals the integer -1 below.
			f, perr := strconv.ParseFloat(strings.TrimSpace(value), 64)
			if perr != nil {
				return "", &ocsReply{Code: 101, Message: "Invalid quota value: " + value}, nil
			}
			bytes = f
		} else {
			f, ok := computerFileSize(value)
			if !ok {
				return "", &ocsReply{Code: 101, Message: "Invalid quota value: " + value}, nil
			}
			bytes, fromUnit = f, true
		}
		if fromUnit && bytes == -1 {
			// computerFileSize returns the integer -1 for "-1 B": PHP's strict === -1 matches it.
			quota = "none"
		} else {
			if lim.maxQuota != -1 && bytes > float64(lim.maxQuota) {
				return "", &ocsReply{Code: 101, Message: "Invalid quota value. " + value + " is exceeding the maximum quota"}, nil
			}
			quota = humanFileSize(bytes)
		}
	}
	if quota == "none" && !lim.allowUnlimited {
		return "", &ocsReply{Code: 101, Message: "Unlimited quota is forbidden on this instance"}, nil
	}
	if quota != "none" && quota != "default" {
		b, ok := computerFileSize(quota)
		if !ok {
			return "", nil, errInvalidStoredQuota{quota}
		}
		quota = humanFileSize(b)
	}
	return quota, nil, nil
}

// quotaBytes resolves a quota as User::getQuota returns it ("none", or a size such as "5 GB") to
// bytes, or spaceUnlimited, as fillStorageInfo does.
func quotaBytes(quota string) int64 {
	if quota == "none" {
		return spaceUnlimited
	}
	f, ok := computerFileSize(quota)
	if !ok {
		return spaceUnlimited
	}
	return int64(f)
}
