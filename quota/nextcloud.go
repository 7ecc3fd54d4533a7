package quota

import (
	"math"
	"strconv"
)

// NextcloudRoundDown gives the largest quota not above b that Nextcloud keeps exactly: it stores
// a quota as the rounded text of humanFileSize ("1.4 GB") and reads that text back, so a quota
// of 1500000000 bytes comes back as 1503238554, above what was asked. Sending only values that
// survive that round trip keeps every quota at most what the plan allows and lets the next pass
// compare what it reads with what it wrote. Negative sizes give 0: a quota is never unlimited.
//
// The values kept exactly are 0–1023 bytes, whole KB up to 1023 KB, then tenths of MB, GB, TB
// and PB, so the result is below b by less than one tenth of its unit (a whole KB under 1 MB).
func NextcloudRoundDown(b int64) int64 {
	if b < KB {
		return max(b, 0)
	}
	// Tenths of a unit, largest unit first: each unit's values lie above all of the next
	// smaller unit's, so the first one found is the largest. A candidate that would not survive
	// the round trip (none is known) is skipped for the tenth below, then for the smaller unit.
	for i := len(tenthUnits) - 1; i >= 0; i-- {
		u := tenthUnits[i]
		if b < u.size {
			continue
		}
		// ⌊10·b/unit⌋ without overflow, plus one: computerFileSize rounds to the nearest byte,
		// so the next tenth can land on b itself (2.9 MB is 3040870.4, read as 3040870).
		d := b/u.size*10 + b%u.size*10/u.size + 1
		if !u.open {
			d = min(d, 10239) // 1023.9: humanFileSize moves to the next unit at 1024
		}
		for tries := 0; d >= 10 && tries < 10; d, tries = d-1, tries+1 {
			v, ok := tenthsBytes(d, u.size)
			if ok && v <= b && ncRoundTrip(v) == v {
				return v
			}
		}
	}
	return min(b/KB, 1023) * KB
}

// NextcloudQuotaString is the text to send as an account's quota or as files/default_quota or
// files/max_quota: plain bytes, because max_quota is read with PHP's (int) cast ("20 GB" would
// mean 20 bytes) and a unit would be rounded again. The value is rounded down first, so that
// what Nextcloud stores is never more than b.
func NextcloudQuotaString(b int64) string {
	return strconv.FormatInt(NextcloudRoundDown(b), 10)
}

var tenthUnits = []struct {
	size int64
	open bool // the largest unit: humanFileSize never moves past it
}{{MB, false}, {GB, false}, {TB, false}, {1024 * TB, true}}

// tenthsBytes is what computerFileSize reads from "<d/10> <unit>": PHP's float of the number
// times the unit, rounded. float64(d)/10 is the double nearest d/10, as parsing the text gives.
func tenthsBytes(d, unit int64) (int64, bool) {
	v := math.Round(float64(d) / 10 * float64(unit))
	if v >= math.MaxInt64 { // 2^63: does not fit
		return 0, false
	}
	return int64(v), true
}

// ncRoundTrip is computerFileSize(humanFileSize(b)) (OC_Helper, lib/private/legacy), the bytes
// Nextcloud reports for a quota set to b. The text step is skipped: every number humanFileSize
// writes has at most five significant digits, which PHP prints and reads back unchanged.
func ncRoundTrip(b int64) int64 {
	if b < 0 {
		return -1 // humanFileSize writes "?", which Nextcloud refuses
	}
	x := float64(b)
	if x < 1024 {
		return b
	}
	x = math.Round(x / 1024)
	if x < 1024 {
		return int64(x) * KB
	}
	unit := float64(KB)
	for i := 0; i < 4; i++ {
		x = math.Round(x/1024*10) / 10
		unit *= 1024
		if x < 1024 || i == 3 {
			break
		}
	}
	v := math.Round(x * unit)
	if v >= math.MaxInt64 {
		return -1
	}
	return int64(v)
}
