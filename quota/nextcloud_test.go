package quota

import (
	"math"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// A second port of Nextcloud's quota round trip, text and all, kept apart from ncRoundTrip so
// that the two check each other: editUser stores humanFileSize((float)$value), and the quota
// is later read back with computerFileSize (OC_Helper, lib/private/legacy).

// phpHumanFileSize is OC_Helper::humanFileSize. PHP's round() has changed between versions in
// how it breaks near-ties, so the port records the closest any of its roundings came to a tie:
// a value Nextcloud is sure to keep must stay clear of ties.
func phpHumanFileSize(bytes float64) (text string, tie float64) {
	tie = 1
	round := func(v float64, places int) float64 {
		p := math.Pow(10, float64(places))
		x := v * p
		tie = min(tie, math.Abs(x-math.Floor(x)-0.5))
		return math.Round(x) / p
	}
	str := func(v float64) string { return strconv.FormatFloat(v, 'G', 14, 64) } // PHP precision=14
	if bytes < 0 {
		return "?", tie
	}
	if bytes < 1024 {
		return str(bytes) + " B", tie
	}
	bytes = round(bytes/1024, 0)
	if bytes < 1024 {
		return str(bytes) + " KB", tie
	}
	for _, unit := range []string{"MB", "GB", "TB"} {
		bytes = round(bytes/1024, 1)
		if bytes < 1024 {
			return str(bytes) + " " + unit, tie
		}
	}
	return str(round(bytes/1024, 1)) + " PB", tie
}

var (
	phpNumeric = regexp.MustCompile(`^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$`)
	phpLeadNum = regexp.MustCompile(`^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?`)
	phpSuffix  = regexp.MustCompile(`([kmgtp]?b?)$`)
	phpUnits   = map[string]float64{"b": 1, "k": 1 << 10, "kb": 1 << 10, "m": 1 << 20, "mb": 1 << 20,
		"g": 1 << 30, "gb": 1 << 30, "t": 1 << 40, "tb": 1 << 40, "p": 1 << 50, "pb": 1 << 50}
)

// phpComputerFileSize is OC_Helper::computerFileSize; ok is false where PHP returns false.
func phpComputerFileSize(s string) (float64, bool) {
	s = strings.ToLower(s)
	if phpNumeric.MatchString(s) {
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		return f, err == nil
	}
	unit, ok := phpUnits[phpSuffix.FindString(s)]
	if !ok {
		return 0, false
	}
	n, _ := strconv.ParseFloat(strings.TrimSpace(phpLeadNum.FindString(s)), 64)
	return math.Round(n * unit), true
}

// storedQuota is what Nextcloud reports after a quota of b bytes was set, and how close to a
// rounding tie it came.
func storedQuota(t *testing.T, b int64) (int64, float64) {
	t.Helper()
	text, tie := phpHumanFileSize(float64(b))
	f, ok := phpComputerFileSize(text)
	if !ok || f >= math.MaxInt64 {
		t.Fatalf("quota %d stored as %q, which does not read back", b, text)
	}
	return int64(f), tie
}

// The port must agree with what Nextcloud is known to do (quota_value_roundtrip.json and the
// stand-in's tests), or the other tests prove nothing.
func TestRoundTripPortMatchesNextcloud(t *testing.T) {
	tests := []struct {
		sent   int64
		stored string
		bytes  int64
	}{
		{0, "0 B", 0},
		{500, "500 B", 500},
		{1024, "1 KB", 1024},
		{2048, "2 KB", 2048},
		{1500000, "1.4 MB", 1468006},
		{3042824, "2.9 MB", 3040870},
		{1073741824, "1 GB", 1073741824},
		{1500000000, "1.4 GB", 1503238554},
		{5368709120, "5 GB", 5368709120},
		{1649267441664, "1.5 TB", 1649267441664},
	}
	for _, tt := range tests {
		text, _ := phpHumanFileSize(float64(tt.sent))
		got, _ := storedQuota(t, tt.sent)
		if text != tt.stored || got != tt.bytes {
			t.Errorf("quota %d: stored %q read %d, want %q read %d", tt.sent, text, got, tt.stored, tt.bytes)
		}
		if got := ncRoundTrip(tt.sent); got != tt.bytes {
			t.Errorf("ncRoundTrip(%d) = %d, want %d", tt.sent, got, tt.bytes)
		}
	}
	for _, s := range []string{"5 GB", "5gb", "12MB", "1.5 GB", "1024"} {
		if _, ok := phpComputerFileSize(s); !ok {
			t.Errorf("computerFileSize(%q) refused", s)
		}
	}
}

// checkRoundDown checks r = NextcloudRoundDown(b): kept exactly, clear of rounding ties, not
// above b (nor negative), and the largest such value: no value Nextcloud keeps lies in (r, b].
// Nextcloud keeps only bytes under 1 KB, whole KB and tenths of larger units, so it is enough
// to try those near b.
func checkRoundDown(t *testing.T, b int64) {
	t.Helper()
	r := NextcloudRoundDown(b)
	if r < 0 || r > max(b, 0) {
		t.Fatalf("NextcloudRoundDown(%d) = %d, want within [0, %d]", b, r, max(b, 0))
	}
	got, tie := storedQuota(t, r)
	if got != r {
		t.Fatalf("NextcloudRoundDown(%d) = %d, which Nextcloud reads back as %d", b, r, got)
	}
	// Above 2^53 bytes the quotients are so coarse that some are exact halves, which every PHP
	// version rounds away from zero as math.Round does; below, no tie may come near.
	if tie < 1e-6 && r < 1<<53 {
		t.Fatalf("NextcloudRoundDown(%d) = %d comes within %g of a rounding tie", b, r, tie)
	}
	if NextcloudRoundDown(r) != r {
		t.Fatalf("NextcloudRoundDown(%d) = %d is not kept by NextcloudRoundDown", b, r)
	}
	var above []int64
	if b < KB {
		above = append(above, b)
	} else {
		above = append(above, min(b/KB, 1023)*KB)
	}
	for _, unit := range []int64{MB, GB, TB, 1024 * TB} {
		if b < unit {
			break
		}
		d := b/unit*10 + b%unit*10/unit
		for dd := d - 2; dd <= d+1; dd++ {
			if v, ok := tenthsBytes(dd, unit); ok && dd >= 10 && (dd < 10240 || unit == 1024*TB) {
				above = append(above, v)
			}
		}
	}
	for _, v := range above {
		if v > r && v <= b {
			if got, _ := storedQuota(t, v); got == v {
				t.Fatalf("NextcloudRoundDown(%d) = %d, but %d is kept too and larger", b, r, v)
			}
		}
	}
	// What is lost is less than one step of the result's unit.
	step := int64(1)
	switch {
	case r >= 1024*TB:
		step = 1024 * TB / 10
	case r >= TB:
		step = TB / 10
	case r >= GB:
		step = GB / 10
	case r >= MB:
		step = MB / 10
	case r >= KB:
		step = KB
	}
	// Plus the rounding of computerFileSize, and of float64 itself for the largest sizes.
	if b >= 0 && b-r > step+step>>20+1 {
		t.Fatalf("NextcloudRoundDown(%d) = %d loses %d, more than a step of %d", b, r, b-r, step)
	}
}

func TestNextcloudRoundDown(t *testing.T) {
	tests := []struct {
		b, want int64
	}{
		{-5, 0},
		{0, 0},
		{1, 1},
		{1023, 1023},
		{KB, KB},
		{KB + 1, KB},
		{1023*KB + 1000, 1023 * KB},
		{MB - 1, 1023 * KB},
		{MB, MB},
		{3042824, 3040870},                   // 2.9 MB
		{1500000000, 1395864371},             // 1.3 GB: 1.4 GB would be 1503238554
		{1503238554, 1503238554},             // 1.4 GB
		{GB + GB*44/100, 1503238554},         // 1.44 GB → 1.4 GB
		{40 * GB, 40 * GB},                   // the default limit
		{40*GB - 1, 42842298778},             // 39.9 GB
		{1024*GB - 1, 1099404253594},         // 1023.9 GB
		{100 * TB, 100 * TB},                 // the largest limit
		{math.MaxInt64, 9223259446864091136}, // 8191.9 PB
	}
	for _, tt := range tests {
		if got := NextcloudRoundDown(tt.b); got != tt.want {
			t.Errorf("NextcloudRoundDown(%d) = %d, want %d", tt.b, got, tt.want)
		}
		checkRoundDown(t, tt.b)
	}
}

func TestNextcloudRoundDownRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		// Sizes spread over every unit: a random mantissa times a random power of two.
		b := rng.Int64N(1<<20) << rng.IntN(44)
		checkRoundDown(t, b)
		checkRoundDown(t, b+rng.Int64N(1024))
	}
	for range 2000 {
		checkRoundDown(t, rng.Int64())
	}
	// Every value up to a few MB, where the units change.
	for b := int64(0); b < 3*MB; b += 7 {
		checkRoundDown(t, b)
	}
}

func TestNextcloudQuotaString(t *testing.T) {
	for b, want := range map[int64]string{0: "0", -1: "0", 1023: "1023", 1500000000: "1395864371", 40 * GB: "42949672960"} {
		if got := NextcloudQuotaString(b); got != want {
			t.Errorf("NextcloudQuotaString(%d) = %q, want %q", b, got, want)
		}
	}
}
