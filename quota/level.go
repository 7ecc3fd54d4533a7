package quota

import (
	"fmt"
	"math/bits"
)

// Level is how close a space is to its storage limit, the state behind the warnings sent to the
// association: it is stored with the space so that each warning goes out once per crossing.
type Level int

// The levels, in increasing order; the zero value is LevelOK, the level of a space never measured.
const (
	LevelOK     Level = iota // below 80 %, or back below 75 %
	LevelWarn80              // 80 % of the limit reached, until back below 75 %
	LevelWarn90              // 90 % of the limit reached, until back below 85 %
	LevelFull                // the limit reached, until back below 95 %
)

// levelMargin is how many points of the limit usage must fall below a level's threshold before
// the level is left, so that usage hovering around a threshold does not send a warning each pass.
const levelMargin = 5

var (
	levelNames     = [...]string{"ok", "80%", "90%", "full"}
	levelThreshold = [...]int64{0, 80, 90, 100} // percent of the limit
)

// String gives the level's stored name: "ok", "80%", "90%" or "full".
func (l Level) String() string {
	if l < LevelOK || l > LevelFull {
		return fmt.Sprintf("Level(%d)", int(l))
	}
	return levelNames[l]
}

// MarshalText writes the level's name, the form kept in the database and in JSON.
func (l Level) MarshalText() ([]byte, error) {
	if l < LevelOK || l > LevelFull {
		return nil, fmt.Errorf("invalid storage level %d", int(l))
	}
	return []byte(levelNames[l]), nil
}

// UnmarshalText reads a name written by MarshalText; anything else is an error rather than a
// silent "ok", which would send the warnings again.
func (l *Level) UnmarshalText(text []byte) error {
	for i, name := range levelNames {
		if string(text) == name {
			*l = Level(i)
			return nil
		}
	}
	return fmt.Errorf("unknown storage level %q (want ok, 80%%, 90%% or full)", text)
}

// StorageLevel gives a space's level now that it uses used bytes of limit, having been at prev.
// Going up, it is the highest threshold reached (80, 90 or 100 % of the limit), so a warning
// is never late. Going down, a level is left only once usage is 5 points of the limit below its
// threshold (a space warned at 80 % is OK again below 75 %), so that usage hovering around a
// threshold does not warn at each pass. The level depends on the limit of this pass only, so a
// resize that takes usage 5 points under 100 % lifts Full at once. A limit of 0 or less is
// Full: nothing can be stored.
func StorageLevel(prev Level, used, limit int64) Level {
	if limit <= 0 {
		return LevelFull
	}
	used = max(used, 0)
	reached := LevelOK
	for l := LevelFull; l > LevelOK; l-- {
		if !below(used, limit, levelThreshold[l]) {
			reached = l
			break
		}
	}
	if prev > LevelFull {
		prev = LevelFull
	}
	level := max(prev, reached)
	for level > reached && below(used, limit, levelThreshold[level]-levelMargin) {
		level--
	}
	return level
}

// Crossing compares the level before and after a pass: changed when they differ, up when the
// space rose to a higher level, the one case that calls for a warning. Since a level is left
// only with a margin (StorageLevel), each warning goes out once per real crossing.
func Crossing(from, to Level) (up, changed bool) {
	return to > from, to != from
}

// Percent is used as a percentage of limit, for display; a limit of 0 or less counts as 100 %,
// as StorageLevel counts it Full, rather than an infinity that JSON cannot carry.
func Percent(used, limit int64) float64 {
	if limit <= 0 {
		return 100
	}
	return float64(max(used, 0)) / float64(limit) * 100
}

// below tells whether used < pct % of limit, in exact integer arithmetic so that a space at
// exactly 80 % is at 80 %, whatever float rounding would say.
func below(used, limit, pct int64) bool {
	uh, ul := bits.Mul64(uint64(used), 100)
	lh, ll := bits.Mul64(uint64(limit), uint64(pct))
	return uh < lh || uh == lh && ul < ll
}
