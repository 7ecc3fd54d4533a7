package secretbox

import (
	"errors"
	"strings"
	"testing"
)

func TestSealOpen(t *testing.T) {
	key, err := ParseKey(NewKey())
	if err != nil {
		t.Fatal(err)
	}
	box, err := New(key)
	if err != nil {
		t.Fatal(err)
	}
	sealed := box.Seal([]byte("https://example.org/status/secret-token"), "mail")
	if strings.Contains(sealed, "secret-token") {
		t.Fatalf("sealed box shows its content: %s", sealed)
	}
	got, err := box.Open(sealed, "mail")
	if err != nil || string(got) != "https://example.org/status/secret-token" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := box.Open(sealed, "other"); !errors.Is(err, ErrOpen) {
		t.Errorf("Open with other additional data: err = %v, want ErrOpen", err)
	}
	tampered := sealed[:len(sealed)-2] + "AA"
	if _, err := box.Open(tampered, "mail"); !errors.Is(err, ErrOpen) {
		t.Errorf("Open tampered: err = %v, want ErrOpen", err)
	}
	otherKey, _ := ParseKey(NewKey())
	other, _ := New(otherKey)
	if _, err := other.Open(sealed, "mail"); !errors.Is(err, ErrOpen) {
		t.Errorf("Open with another key: err = %v, want ErrOpen", err)
	}
}

func TestParseKey(t *testing.T) {
	for _, bad := range []string{"", "short", "bm90IDMyIGJ5dGVz"} {
		if _, err := ParseKey(bad); err == nil {
			t.Errorf("ParseKey(%q) accepted", bad)
		}
	}
}
