package webui

import (
	"testing"

	"github.com/assospaces/spaces/quota"
)

// Sizes are written in the page's language: a decimal comma in French, a point in English, and a
// no-break space before the unit in both.
func TestPageSize(t *testing.T) {
	for _, tc := range []struct {
		lang string
		b    int64
		want string
	}{
		{"fr", 40 * quota.GB, "40\u00a0GB"},
		{"fr", 3 * quota.GB / 2, "1,5\u00a0GB"},
		{"en", 3 * quota.GB / 2, "1.5\u00a0GB"},
		{"fr", 512, "512\u00a0B"},
	} {
		if got := (page{Lang: tc.lang}).Size(tc.b); got != tc.want {
			t.Errorf("%s Size(%d) = %q, want %q", tc.lang, tc.b, got, tc.want)
		}
	}
}
