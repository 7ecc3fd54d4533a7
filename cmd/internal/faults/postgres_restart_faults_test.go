//go:build faults

package faults_test

import (
	"context"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
)

// TestFaultPostgresRestart: applications keep coming while the service's PostgreSQL is stopped
// (pg_ctl -m fast: transactions in flight are cut) and started again. Meanwhile every form is
// answered either 303 (recorded) or 503 with the form as typed and Retry-After, the form page
// itself still shows, and the API answers a structured 503 "unavailable". Once the database is
// back, the service serves again without being restarted; each form answered 503 is sent again
// as its sender would (the same submission key). In the end each form is in the database exactly
// once with its one mail job, and nothing else is.
func TestFaultPostgresRestart(t *testing.T) {
	pg := privatePostgres(t, privateDir(t))
	s := newService(t, pg)

	var (
		mu      sync.Mutex
		forms   []url.Values // every form sent
		refused []url.Values // answered 503: to send again
		acked   atomic.Int64
		n       atomic.Int64
		down    atomic.Bool
		downs   atomic.Int64 // 503s while the database is down
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		b := s.newBrowser()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				f := applicationForm(int(n.Add(1)))
				wasDown := down.Load()
				status, body, header := b.submit(f)
				mu.Lock()
				forms = append(forms, f)
				switch status {
				case http.StatusSeeOther:
					acked.Add(1)
				case http.StatusServiceUnavailable:
					refused = append(refused, f)
					if wasDown && down.Load() {
						downs.Add(1)
					}
					checkUnavailablePage(t, f, body, header)
				default:
					t.Errorf("form answered HTTP %d, want 303 or 503:\n%.2000s", status, body)
				}
				mu.Unlock()
			}
		}()
	}
	stopTraffic := func() {
		close(stop)
		wg.Wait()
	}

	waitFor(t, "applications recorded before the restart", func() bool { return acked.Load() >= 20 })
	down.Store(true)
	if err := pg.Stop(); err != nil {
		stopTraffic()
		t.Fatal(err)
	}
	waitFor(t, "forms answered while the database is down", func() bool { return downs.Load() >= 10 })
	// The form itself needs no database; the API says why it cannot answer.
	s.newBrowser()
	if status, code := s.api(http.MethodGet, "/api/v1/applications", ""); status != http.StatusServiceUnavailable || code != "unavailable" {
		t.Errorf("API while the database is down: HTTP %d %q, want 503 unavailable", status, code)
	}
	if err := pg.Start(context.Background(), testLogger(t)); err != nil {
		stopTraffic()
		t.Fatal(err)
	}
	down.Store(false)
	after := acked.Load()
	waitFor(t, "applications recorded after the restart", func() bool { return acked.Load() >= after+20 })
	stopTraffic()
	if t.Failed() {
		return
	}

	// Each refused form sent again, as typed: recorded once.
	b := s.newBrowser()
	for _, f := range refused {
		if status, body, _ := b.submit(f); status != http.StatusSeeOther {
			t.Errorf("form sent again: HTTP %d, want 303:\n%.2000s", status, body)
		}
	}
	if status, code := s.api(http.MethodGet, "/api/v1/applications", ""); status != http.StatusOK {
		t.Errorf("API after the restart: HTTP %d %q", status, code)
	}
	t.Logf("%d forms: %d recorded at once, %d answered 503 (%d while the database was down) and sent again",
		len(forms), acked.Load(), len(refused), downs.Load())
	checkApplications(t, s.pool, forms)
}
