package standin

import (
	"encoding/json"
	"testing"
)

func TestQuotaNormalization(t *testing.T) {
	noLimits := quotaLimits{maxQuota: -1, allowUnlimited: true}
	tests := []struct {
		in     string
		lim    quotaLimits
		stored string
		bytes  int64
		code   int    // the OCS failure, or 0
		msg    string // its message
		throws bool   // User::setQuota's InvalidArgumentException
	}{
		{in: "none", stored: "none", bytes: spaceUnlimited},
		{in: "5 GB", stored: "5 GB", bytes: 5 << 30},
		{in: "5GB", stored: "5 GB", bytes: 5 << 30},
		{in: "5 gb", stored: "5 GB", bytes: 5 << 30},
		{in: "1024", stored: "1 KB", bytes: 1024},
		{in: "2048", stored: "2 KB", bytes: 2048},
		{in: "1500000", stored: "1.4 MB", bytes: 1468006},
		{in: "1500000000", stored: "1.4 GB", bytes: 1503238554},
		{in: "3042824", stored: "2.9 MB", bytes: 3040870},
		{in: "500", stored: "500 B", bytes: 500},
		{in: "1.5 TB", stored: "1.5 TB", bytes: 1649267441664},
		{in: "10 GiB", stored: "10 B", bytes: 10}, // PHP reads the trailing "b" as bytes
		{in: "5 XB", stored: "5 B", bytes: 5},
		// computerFileSize gives the integer -1 for "-1 B", which editUser's === -1 takes as none;
		// a bare -1 is a float, becomes "?" and setQuota throws.
		{in: "-1 B", stored: "none", bytes: spaceUnlimited},
		{in: "-1", throws: true},
		{in: "lots", code: 101, msg: "Invalid quota value: lots"},
		{in: "5 XQ", code: 101, msg: "Invalid quota value: 5 XQ"},
		{in: "ABC", code: 101, msg: "Invalid quota value: ABC"},
		// files/max_quota is compared with the value as sent, before rounding.
		{in: "20 GB", lim: quotaLimits{maxQuota: 10 << 30, allowUnlimited: true}, code: 101,
			msg: "Invalid quota value. 20 GB is exceeding the maximum quota"},
		{in: "10 GB", lim: quotaLimits{maxQuota: 10 << 30, allowUnlimited: true}, stored: "10 GB", bytes: 10 << 30},
		{in: "none", lim: quotaLimits{maxQuota: 10 << 30, allowUnlimited: true}, stored: "none", bytes: spaceUnlimited},
		{in: "none", lim: quotaLimits{maxQuota: -1}, code: 101, msg: "Unlimited quota is forbidden on this instance"},
		{in: "-1 B", lim: quotaLimits{maxQuota: -1}, code: 101, msg: "Unlimited quota is forbidden on this instance"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			lim := tt.lim
			if lim == (quotaLimits{}) {
				lim = noLimits
			}
			stored, rep, err := normalizeQuota(tt.in, lim)
			if tt.throws != (err != nil) {
				t.Fatalf("err %v, want thrown=%t", err, tt.throws)
			}
			if tt.throws {
				if err.Error() != "Failed to set quota to invalid value ?" {
					t.Errorf("err %q", err)
				}
				return
			}
			if tt.code != 0 {
				if rep == nil || rep.Code != tt.code || rep.Message != tt.msg {
					t.Fatalf("reply %+v, want %d %q", rep, tt.code, tt.msg)
				}
				return
			}
			if rep != nil || stored != tt.stored {
				t.Fatalf("normalizeQuota(%q) = %q, %+v; want %q", tt.in, stored, rep, tt.stored)
			}
			if got := quotaBytes(stored); got != tt.bytes {
				t.Errorf("quotaBytes(%q) = %d, want %d", stored, got, tt.bytes)
			}
		})
	}
	if _, rep, err := normalizeQuota("default", quotaLimits{maxQuota: 1}); rep != nil || err != nil {
		t.Errorf("default is always accepted: %+v %v", rep, err)
	}
}

func TestPHPInt(t *testing.T) {
	for in, want := range map[string]int64{
		"-1": -1, "21474836480": 21474836480, "20 GB": 20, " 12": 12, "abc": 0, "": 0, "1.9": 1, "1e3": 1000,
		"99999999999999999999": 9223372036854775807,
	} {
		if got := phpInt(in); got != want {
			t.Errorf("phpInt(%q) = %d, want %d", in, got, want)
		}
	}
}

// PHP's json_encode without JSON_PRESERVE_ZERO_FRACTION, as Nextcloud calls it.
func TestPHPFloatJSON(t *testing.T) {
	for in, want := range map[float64]string{
		20: "20", 0: "0", 3.92: "3.92", 150: "150", 33.33: "33.33", 0.0001: "0.0001", 1e-5: "1.0e-5",
		1e16: "10000000000000000", 1e25: "1.0e+25", -2.5: "-2.5",
	} {
		b, err := json.Marshal(phpFloat(in))
		if err != nil || string(b) != want {
			t.Errorf("%v: %s %v, want %s", in, b, err, want)
		}
	}
}

func TestTrustedDomainPatterns(t *testing.T) {
	s := &Server{}
	var err error
	s.conf, err = NewSystemConfig(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.conf.Set("trusted_domains", []any{"cloud.example.org", "*.spaces.example", "10.0.0.5:8080"}); err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]bool{
		"cloud.example.org": true, "cloud.example.org:443": true, "a.spaces.example": true, "a.b.spaces.example": true,
		"spaces.example": false, "10.0.0.5:8080": true, "10.0.0.5": false, "localhost:1234": true, "[::1]:80": true,
		"evil.example": false, "cloud.example.org.evil": false,
	} {
		if got := s.trustedDomain(host); got != want {
			t.Errorf("%s: %t, want %t", host, got, want)
		}
	}
}
