package quota

import "testing"

func TestParseSize(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{"1024", 1024, false},
		{"40 GB", 40 * GB, false},
		{"40GB", 40 * GB, false},
		{"1.5G", GB + GB/2, false},
		{"512 mb", 512 * MB, false},
		{"10kb", 10 * KB, false},
		{"2 TB", 2 * TB, false},
		{"", 0, true},
		{"-1 GB", 0, true},
		{"ten GB", 0, true},
		{"5 PB", 0, true},
		{"99999999999 TB", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSize(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseSize(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			}
			if got != tt.want {
				t.Fatalf("ParseSize(%q) = %d, want %d", tt.in, got, tt.want)
			}
		})
	}
}

func TestFormatSizeRoundTrips(t *testing.T) {
	for _, b := range []int64{0, 1, 1023, KB, 40 * GB, GB + GB/2, 3 * TB} {
		s := FormatSize(b)
		got, err := ParseSize(s)
		if err != nil || got != b {
			t.Errorf("ParseSize(FormatSize(%d) = %q) = %d, %v", b, s, got, err)
		}
	}
	if got := FormatSize(40 * GB); got != "40 GB" {
		t.Errorf("FormatSize(40 GB) = %q", got)
	}
}

func TestLimitsValidate(t *testing.T) {
	if err := DefaultLimits.Validate(); err != nil {
		t.Fatalf("default limits invalid: %v", err)
	}
	for _, l := range []Limits{{0, 50}, {40 * GB, 0}, {-1, 5}, {200 * TB, 5}, {GB, 1_000_000}} {
		if l.Validate() == nil {
			t.Errorf("Limits%+v accepted", l)
		}
	}
}
