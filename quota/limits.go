package quota

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Sizes in bytes. Nextcloud reads "40 GB" as 40 × 1024³ bytes, so these units are binary too.
const (
	KB int64 = 1 << (10 * (iota + 1))
	MB
	GB
	TB
)

// Limits is what one space may use.
type Limits struct {
	// StorageBytes is the storage shared by all the space's accounts.
	StorageBytes int64 `json:"storage_bytes"`
	// Accounts is the number of enabled accounts the space may have.
	Accounts int `json:"accounts"`
}

// DefaultLimits are a new space's limits: 40 GB shared by at most 50 accounts.
var DefaultLimits = Limits{StorageBytes: 40 * GB, Accounts: 50}

// Validate checks that both limits are positive and within what one space can be given.
func (l Limits) Validate() error {
	if l.StorageBytes <= 0 {
		return errors.New("storage limit must be positive")
	}
	if l.StorageBytes > 100*TB {
		return errors.New("storage limit must be at most 100 TB")
	}
	if l.Accounts <= 0 {
		return errors.New("accounts limit must be positive")
	}
	if l.Accounts > 100_000 {
		return errors.New("accounts limit must be at most 100000")
	}
	return nil
}

// ParseSize reads a size as Nextcloud does: bytes ("1024"), or a number with a unit
// ("40 GB", "1.5G", "512 MB", "10kb"); units are binary and case does not matter.
func ParseSize(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	if t == "" {
		return 0, errors.New("empty size")
	}
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
		i++
	}
	num, unit := t[:i], strings.TrimSpace(t[i:])
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("size %q: want a number of bytes or a number with a unit (KB, MB, GB, TB)", s)
	}
	mult := map[string]int64{"": 1, "b": 1, "k": KB, "kb": KB, "m": MB, "mb": MB, "g": GB, "gb": GB, "t": TB, "tb": TB}[unit]
	if mult == 0 {
		return 0, fmt.Errorf("size %q: unknown unit %q (use KB, MB, GB or TB)", s, unit)
	}
	bytes := v * float64(mult)
	if bytes > math.MaxInt64/2 {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return int64(math.Round(bytes)), nil
}

// FormatSize writes bytes with the largest binary unit that keeps the number at least 1,
// in the form ParseSize and Nextcloud's quota field accept ("40 GB", "1.5 MB", "512 B").
func FormatSize(b int64) string {
	units := []struct {
		name string
		size int64
	}{{"TB", TB}, {"GB", GB}, {"MB", MB}, {"KB", KB}}
	for _, u := range units {
		if b >= u.size {
			v := float64(b) / float64(u.size)
			return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64) + " " + u.name
		}
	}
	return strconv.FormatInt(b, 10) + " B"
}
