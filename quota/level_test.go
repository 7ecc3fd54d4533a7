package quota

import (
	"encoding/json"
	"math"
	"testing"
)

func TestStorageLevel(t *testing.T) {
	const L = 1000 * GB // a limit where one point is 10 GB
	pct := func(p float64) int64 { return int64(p * float64(L) / 100) }
	tests := []struct {
		name        string
		prev        Level
		used, limit int64
		want        Level
	}{
		{"empty", LevelOK, 0, L, LevelOK},
		{"79.9 %", LevelOK, pct(79.9), L, LevelOK},
		{"80 % exactly", LevelOK, pct(80), L, LevelWarn80},
		{"just under 80 %", LevelOK, pct(80) - 1, L, LevelOK},
		{"89 %", LevelOK, pct(89), L, LevelWarn80},
		{"straight to 90 %", LevelOK, pct(90), L, LevelWarn90},
		{"straight to full", LevelOK, L, L, LevelFull},
		{"over the limit", LevelWarn80, L + 1, L, LevelFull},
		{"80 → 90", LevelWarn80, pct(92), L, LevelWarn90},
		{"90 → full", LevelWarn90, pct(100), L, LevelFull},
		{"80 stays at 79 %", LevelWarn80, pct(79), L, LevelWarn80},
		{"80 stays at 75 %", LevelWarn80, pct(75), L, LevelWarn80},
		{"80 left at 74.9 %", LevelWarn80, pct(74.9), L, LevelOK},
		{"90 stays at 86 %", LevelWarn90, pct(86), L, LevelWarn90},
		{"90 → 80 at 84 %", LevelWarn90, pct(84), L, LevelWarn80},
		{"90 → ok at 70 %", LevelWarn90, pct(70), L, LevelOK},
		{"full stays at 99 %", LevelFull, pct(99), L, LevelFull},
		{"full stays at 97 %", LevelFull, pct(97), L, LevelFull},
		{"full stays at 95 %", LevelFull, pct(95), L, LevelFull},
		{"full → 90 at 94 %", LevelFull, pct(94), L, LevelWarn90},
		{"full → 90 at 86 %", LevelFull, pct(86), L, LevelWarn90},
		{"full → 80 at 80 %", LevelFull, pct(80), L, LevelWarn80},
		{"full → ok when emptied", LevelFull, 0, L, LevelOK},
		{"resize lifts full", LevelFull, 40 * GB, 50 * GB, LevelWarn80},
		{"resize lifts full to ok", LevelFull, 40 * GB, 100 * GB, LevelOK},
		{"small resize keeps full", LevelFull, 40 * GB, 41 * GB, LevelFull},
		{"limit lowered under usage", LevelOK, 40 * GB, 38 * GB, LevelFull},
		{"no limit", LevelOK, 0, 0, LevelFull},
		{"negative usage", LevelWarn80, -5, L, LevelOK},
		{"huge sizes", LevelOK, math.MaxInt64 / 100 * 91, math.MaxInt64, LevelWarn90},
		{"huge sizes, just under", LevelOK, math.MaxInt64 / 10 * 9, math.MaxInt64, LevelWarn80},
		{"unknown previous level", Level(9), pct(50), L, LevelOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := StorageLevel(tt.prev, tt.used, tt.limit); got != tt.want {
				t.Fatalf("StorageLevel(%v, %d, %d) = %v, want %v", tt.prev, tt.used, tt.limit, got, tt.want)
			}
		})
	}
}

// Usage going up and down around the thresholds warns once per crossing.
func TestWarningsOncePerCrossing(t *testing.T) {
	const L = 100 * GB
	var mails []Level
	level := LevelOK
	for _, p := range []int64{50, 80, 79, 81, 78, 80, 76, 90, 88, 91, 86, 100, 99, 96, 100, 94, 90, 84, 80, 74, 80} {
		next := StorageLevel(level, p*GB, L)
		if up, changed := Crossing(level, next); up {
			mails = append(mails, next)
		} else if changed != (next != level) {
			t.Fatalf("Crossing(%v, %v) changed = %t", level, next, changed)
		}
		level = next
	}
	want := []Level{LevelWarn80, LevelWarn90, LevelFull, LevelWarn80}
	if len(mails) != len(want) {
		t.Fatalf("mails %v, want %v", mails, want)
	}
	for i := range want {
		if mails[i] != want[i] {
			t.Fatalf("mails %v, want %v", mails, want)
		}
	}
}

func TestCrossing(t *testing.T) {
	tests := []struct {
		from, to    Level
		up, changed bool
	}{
		{LevelOK, LevelOK, false, false},
		{LevelOK, LevelWarn80, true, true},
		{LevelWarn80, LevelFull, true, true},
		{LevelFull, LevelWarn90, false, true},
		{LevelWarn90, LevelWarn90, false, false},
	}
	for _, tt := range tests {
		if up, changed := Crossing(tt.from, tt.to); up != tt.up || changed != tt.changed {
			t.Errorf("Crossing(%v, %v) = %t, %t; want %t, %t", tt.from, tt.to, up, changed, tt.up, tt.changed)
		}
	}
}

func TestLevelText(t *testing.T) {
	for l, name := range map[Level]string{LevelOK: "ok", LevelWarn80: "80%", LevelWarn90: "90%", LevelFull: "full"} {
		if l.String() != name {
			t.Errorf("%d.String() = %q, want %q", int(l), l.String(), name)
		}
		b, err := l.MarshalText()
		if err != nil || string(b) != name {
			t.Errorf("%d.MarshalText() = %q, %v", int(l), b, err)
		}
		var back Level = 7
		if err := back.UnmarshalText(b); err != nil || back != l {
			t.Errorf("UnmarshalText(%q) = %v, %v", b, back, err)
		}
	}
	for _, bad := range []string{"", "OK", "80", "95%", "full "} {
		var l Level
		if err := l.UnmarshalText([]byte(bad)); err == nil {
			t.Errorf("UnmarshalText(%q) accepted", bad)
		}
	}
	if _, err := Level(4).MarshalText(); err == nil {
		t.Error("Level(4) marshalled")
	}
	if s := Level(-1).String(); s != "Level(-1)" {
		t.Errorf("Level(-1).String() = %q", s)
	}
	// The zero value is what a space never measured has.
	var zero Level
	if zero != LevelOK {
		t.Error("the zero level is not OK")
	}
	b, err := json.Marshal(struct {
		L Level `json:"storage_level"`
	}{LevelWarn90})
	if err != nil || string(b) != `{"storage_level":"90%"}` {
		t.Errorf("JSON %s, %v", b, err)
	}
}

func TestPercent(t *testing.T) {
	tests := []struct {
		used, limit int64
		want        float64
	}{
		{0, 40 * GB, 0},
		{10 * GB, 40 * GB, 25},
		{40 * GB, 40 * GB, 100},
		{50 * GB, 40 * GB, 125},
		{-1, 40 * GB, 0},
		{5, 0, 100},
	}
	for _, tt := range tests {
		if got := Percent(tt.used, tt.limit); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("Percent(%d, %d) = %g, want %g", tt.used, tt.limit, got, tt.want)
		}
	}
}
