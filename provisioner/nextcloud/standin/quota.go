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

// normalizeQuota turns a requested quota into what Nextcloud stores ("none", "default" or a
// human size), following UsersController::editUser; ok is false for an invalid value.
func normalizeQuota(value string) (string, bool) {
	if value == "none" || value == "default" {
		return value, true
	}
	var bytes float64
	if numericStr.MatchString(value) {
		f, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			return "", false
		}
		bytes = f
	} else {
		f, ok := computerFileSize(value)
		if !ok {
			return "", false
		}
		bytes = f
	}
	if bytes == -1 {
		return "none", true
	}
	return humanFileSize(bytes), true
}

// quotaBytes resolves a stored quota ("none", "default", "5 GB") to bytes, or spaceUnlimited.
func quotaBytes(stored, defaultQuota string) int64 {
	if stored == "default" || stored == "" {
		stored = defaultQuota
	}
	if stored == "none" || stored == "" || stored == "default" {
		return spaceUnlimited
	}
	f, ok := computerFileSize(stored)
	if !ok || f < 0 {
		return spaceUnlimited
	}
	return int64(f)
}
