package provisioner

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// A long failure reason is cut on a character boundary: Postgres refuses text that is not UTF-8.
func TestReasonCutsOnACharacterBoundary(t *testing.T) {
	for _, prefix := range []string{"", "a", "ab", "abc"} {
		// Every offset of the 1,000th byte inside a 2-, 3- and 4-byte character.
		for _, c := range []string{"é", "€", "🌱"} {
			msg := prefix + strings.Repeat(c, 2000/len(c))
			got := Reason(errors.New(msg))
			if !utf8.ValidString(got) {
				t.Fatalf("prefix %q, %q: reason is not valid UTF-8: %q", prefix, c, got[len(got)-10:])
			}
			body, ok := strings.CutSuffix(got, "…")
			if !ok || len(body) > 1000 || len(body) < 1000-3 || !strings.HasPrefix(msg, body) {
				t.Errorf("prefix %q, %q: reason is %d bytes, ends %q", prefix, c, len(got), got[len(got)-10:])
			}
		}
	}
	if got := Reason(errors.New("short é")); got != "short é" {
		t.Errorf("short reason changed: %q", got)
	}
	if got := Reason(errors.New(strings.Repeat("x", 1000))); got != strings.Repeat("x", 1000) {
		t.Errorf("a reason of exactly 1,000 bytes was cut")
	}
	// Bytes Postgres would refuse, from a failing tool's output, are replaced or dropped.
	if got := Reason(errors.New("nomad: \xff\xfe bad\x00 output")); !utf8.ValidString(got) || strings.ContainsRune(got, 0) {
		t.Errorf("reason keeps invalid bytes: %q", got)
	}
}
