package webui

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// percentile returns the p-th percentile of durations, in milliseconds.
func percentile(d []time.Duration, p float64) float64 {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	i := int(float64(len(d)-1) * p)
	return float64(d[i].Microseconds()) / 1000
}

// BenchmarkSubmit posts valid applications over loopback HTTP to the full handler on a real
// database, from parallel clients. Targets: ≥ 500 submissions/s, p99 < 100 ms.
func BenchmarkSubmit(b *testing.B) {
	e := newTestEnv(b, envOptions{applyPerHour: 1 << 30})
	var n atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	b.SetParallelism(4)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		c := e.newClient()
		c.Transport = tr
		token := e.csrf(c)
		var mine []time.Duration
		for pb.Next() {
			i := int(n.Add(1))
			f := validForm(1_000_000 + i)
			f.Set("csrf_token", token)
			req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/apply", strings.NewReader(f.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			t0 := time.Now()
			resp, err := c.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			resp.Body.Close()
			mine = append(mine, time.Since(t0))
			if resp.StatusCode != http.StatusSeeOther {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "submissions/s")
	b.ReportMetric(percentile(lat, 0.99), "p99_ms")
	b.ReportMetric(percentile(lat, 0.50), "p50_ms")
}

// seedApplications writes n applications with COPY: a mix of states, as a year of use would.
func seedApplications(b *testing.B, e *testEnv, n int) {
	b.Helper()
	states := []string{"pending", "pending", "needs_info", "approved", "approved", "rejected", "withdrawn"}
	base := time.Now().Add(-365 * 24 * time.Hour)
	rows := make([][]any, n)
	for i := range n {
		h1, h2 := make([]byte, 32), make([]byte, 32)
		rand.Read(h1) //nolint:errcheck
		rand.Read(h2) //nolint:errcheck
		at := base.Add(time.Duration(i) * time.Minute * 5)
		rows[i] = []any{states[i%len(states)], fmt.Sprintf("Association numéro %d du quartier", i), fmt.Sprintf("W%09d", i),
			fmt.Sprintf("asso-%d", i), "Camille Martin", fmt.Sprintf("contact%d@asso.example", i), "Objet social", "Activités",
			int32(10), "fr", h1, h2, at, at, at}
	}
	// The test server commits asynchronously, and VACUUM cannot mark pages all-visible until the
	// commit is flushed: a synchronous commit, as in production, gives the visibility map that
	// autovacuum keeps over a year of use (index-only scans rely on it).
	err := pgx.BeginFunc(context.Background(), e.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(context.Background(), `SET LOCAL synchronous_commit = on`); err != nil {
			return err
		}
		_, err := tx.CopyFrom(context.Background(), pgx.Identifier{"applications"},
			[]string{"state", "association_name", "legal_id", "slug", "contact_name", "contact_email", "purpose", "activities",
				"expected_accounts", "locale", "status_token_hash", "submission_hash", "created_at", "updated_at", "state_changed_at"},
			pgx.CopyFromRows(rows))
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := e.pool.Exec(context.Background(), `VACUUM ANALYZE applications`); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkQueuePage renders the moderators' queue with 100,000 applications: the default view
// (pending, oldest first, with counts), a deep keyset page, decided applications, and searches by
// name, slug, legal identifier and email, rare and common, short and long, alone and with filters.
// Target: p95 < 50 ms for every view.
func BenchmarkQueuePage(b *testing.B) {
	e := newTestEnv(b, envOptions{})
	seedApplications(b, e, 100_000)
	mc, _ := e.addModerator("bench@example.org", "Bench")
	search := func(state, q string) string {
		return "/moderation?state=" + state + "&q=" + url.QueryEscape(q)
	}
	// empty marks views that find nothing: the page shows a message instead of the table.
	views := []struct {
		name, path string
		empty      bool
	}{
		{"default", "/moderation", false},
		{"deep", "/moderation?state=pending&after=70000", false},
		{"search", search("all", "numéro 4242"), false},
		{"decided", "/moderation?state=approved", false},
		{"unclaimed", "/moderation?state=pending&claimed=unclaimed", false},
		{"mine", "/moderation?state=pending&claimed=mine", true},
		{"search_pending", search("pending", "numéro 4242"), false},
		{"search_slug", search("all", "asso-4242"), false},
		{"search_legal_id", search("all", "W000042424"), false},
		{"search_siren", search("all", "123 456 789"), true},
		{"search_email", search("all", "Contact42424@asso.example"), false},
		{"search_common", search("all", "quartier"), false},
		{"search_common_deep", search("all", "quartier") + "&after=30000", false},
		{"search_none", search("all", "zzzz introuvable"), true},
		{"search_short", search("all", "as"), false},
		{"search_short_none", search("all", "42"), true},
		{"search_one_char", search("pending", "a"), false},
	}
	for _, v := range views {
		b.Run(v.name, func(b *testing.B) {
			var lat []time.Duration
			for b.Loop() {
				t0 := time.Now()
				resp, body := e.get(mc, v.path)
				lat = append(lat, time.Since(t0))
				if resp.StatusCode != http.StatusOK || strings.Contains(body, "<table") == v.empty {
					b.Fatalf("%s: status %d, empty %v", v.path, resp.StatusCode, !strings.Contains(body, "<table"))
				}
			}
			b.ReportMetric(percentile(lat, 0.95), "p95_ms")
			b.ReportMetric(percentile(lat, 0.50), "p50_ms")
		})
	}
}
