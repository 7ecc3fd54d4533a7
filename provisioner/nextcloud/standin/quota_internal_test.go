package standin

import "testing"

func TestQuotaNormalization(t *testing.T) {
	tests := []struct {
		in     string
		stored string
		bytes  int64
		ok     bool
	}{
		{"none", "none", spaceUnlimited, true},
		{"default", "default", spaceUnlimited, true},
		{"5 GB", "5 GB", 5 << 30, true},
		{"5GB", "5 GB", 5 << 30, true},
		{"5 gb", "5 GB", 5 << 30, true},
		{"1024", "1 KB", 1024, true},
		{"2048", "2 KB", 2048, true},
		{"1500000", "1.4 MB", 1468006, true},
		{"500", "500 B", 500, true},
		{"1.5 TB", "1.5 TB", 1649267441664, true},
		{"-1", "none", spaceUnlimited, true},
		{"lots", "", 0, false},
		{"5 XB", "5 B", 5, true}, // PHP reads the trailing "b" as bytes
		{"5 XQ", "", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			stored, ok := normalizeQuota(tt.in)
			if ok != tt.ok || stored != tt.stored {
				t.Fatalf("normalizeQuota(%q) = %q, %t; want %q, %t", tt.in, stored, ok, tt.stored, tt.ok)
			}
			if !ok {
				return
			}
			if got := quotaBytes(stored, "none"); got != tt.bytes {
				t.Errorf("quotaBytes(%q) = %d, want %d", stored, got, tt.bytes)
			}
		})
	}
	if got := quotaBytes("default", "10 GB"); got != 10<<30 {
		t.Errorf("default with a default quota: %d", got)
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
