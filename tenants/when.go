package tenants

import (
	"errors"
	"strconv"
	"strings"
	"time"
)

// Times typed by operators: the start of an audit listing, a token's expiry.

// ParseAge reads a length of time back or forward from now: a number of days (90d) or a Go
// duration (12h, 30m, 1h30m). Negative ages are refused.
func ParseAge(s string) (time.Duration, bool) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 || n > 100*366 {
			return 0, false
		}
		return time.Duration(n) * 24 * time.Hour, true
	}
	d, err := time.ParseDuration(s)
	return d, err == nil && d >= 0
}

// ErrBadTime is returned by ParseSince and ParseUntil for text that is none of the forms they read.
var ErrBadTime = errors.New("not a number of days such as 7d, a duration such as 12h, a date such as 2026-11-01 or an RFC 3339 time")

// ParseSince reads where a listing starts: an age back from now (7d, 12h, see ParseAge), a date
// (its midnight in loc) or an RFC 3339 time.
func ParseSince(s string, now time.Time, loc *time.Location) (time.Time, error) {
	return parseWhen(s, now, loc, -1)
}

// ParseUntil reads a time to come, as for a token's expiry: an age forward from now (90d), a
// date (its midnight in loc) or an RFC 3339 time.
func ParseUntil(s string, now time.Time, loc *time.Location) (time.Time, error) {
	return parseWhen(s, now, loc, 1)
}

func parseWhen(s string, now time.Time, loc *time.Location, sign time.Duration) (time.Time, error) {
	if d, ok := ParseAge(s); ok {
		return now.Add(sign * d), nil
	}
	if t, err := time.ParseInLocation(time.DateOnly, s, loc); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return time.Time{}, ErrBadTime
}
