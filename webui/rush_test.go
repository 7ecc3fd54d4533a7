package webui

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"maps"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/assospaces/spaces/tenants"
)

// The rush: the public form offered far more than it can take, as on the day a newspaper writes
// about the service. `make rush` runs BenchmarkRush once; it is a benchmark, so `make test` never
// runs it, and its assertions are the acceptance criteria of load shedding.

// submitRate is BenchmarkSubmit's figure on this machine (README, Benchmarks): the rush offers
// eight times it unless SPACES_RUSH_RATE says otherwise.
const submitRate = 651

// rushRobotEvery: one request in this many comes from one network sending again and again, which
// the per-network limit (SPACES_APPLY_PER_HOUR) answers with 429; the others each come from their
// own address, as a crowd does.
const rushRobotEvery = 20

// rushReport is what the generator (cmd/internal/rush) reports; durations in milliseconds.
type rushReport struct {
	Offered      int      `json:"offered"`
	Total        int      `json:"total"`
	SentSeconds  float64  `json:"sent_seconds"`
	Reached      float64  `json:"reached"`
	Accepted     int      `json:"accepted"`
	Limited      int      `json:"limited"`
	Busy         int      `json:"busy"`
	Unfriendly   int      `json:"unfriendly"`
	Other        int      `json:"other"`
	Errors       []string `json:"errors"`
	AcceptedP50  float64  `json:"accepted_p50_ms"`
	AcceptedP99  float64  `json:"accepted_p99_ms"`
	AcceptedSent float64  `json:"accepted_sent_p99_ms"`
	ShedP50      float64  `json:"shed_p50_ms"`
	ShedP99      float64  `json:"shed_p99_ms"`
	// From when each request was written on its connection: the server's own time.
	AcceptedServerP50 float64 `json:"accepted_server_p50_ms"`
	AcceptedServerP99 float64 `json:"accepted_server_p99_ms"`
	ShedServerP99     float64 `json:"shed_server_p99_ms"`
}

// BenchmarkRush offers POST /apply a fixed rate for a while (open loop: requests go out on a
// schedule, each in its own goroutine, whatever the answers), from many addresses behind a trusted
// proxy, while a moderator loads the queue page and the JSON API in turn; the server runs with its
// production settings and a year of applications, and the generator (cmd/internal/rush) in a
// process of its own. It fails unless: the server sheds with 429 and 503, each with Retry-After
// and the friendly page in the applicant's language; what it accepts is answered within a second
// at p99 (counted from when the request was written on its connection: the server's time, not
// the generator's own lag, which the report gives too); the moderator's page and the API answer
// within a second at p95; and the applications recorded are exactly the submissions acknowledged.
//
// SPACES_RUSH_RATE (submissions offered per second) and SPACES_RUSH_DURATION (a Go duration)
// change the offer.
func BenchmarkRush(b *testing.B) {
	offered := rushSetting(b, "SPACES_RUSH_RATE", 8*submitRate, strconv.Atoi)
	duration := rushSetting(b, "SPACES_RUSH_DURATION", time.Minute, time.ParseDuration)
	gen := filepath.Join(b.TempDir(), "rush")
	if out, err := exec.Command("go", "build", "-o", gen, "github.com/assospaces/spaces/cmd/internal/rush").CombinedOutput(); err != nil {
		b.Fatalf("build the generator: %v\n%s", err, out)
	}
	e := newTestEnv(b, envOptions{configure: func(o *Options) {
		// As `spaces serve` runs: a pool of 32 connections, the default limits, one proxy in front.
		cfg := o.Pool.Config()
		cfg.MaxConns = 32
		pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(pool.Close)
		o.Pool = pool
		o.ApplyPerHour = 10
		o.PublicInFlight, o.ModerationInFlight, o.BusyWait = 0, 0, 0
		o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	}})
	const seeded = 100_000
	seedApplications(b, e, seeded)
	mc, _ := e.addModerator("rush@example.org", "Rush")
	_, apiSecret := e.apiTokenFor("rush", tenants.ScopeRead)

	// Every submission carries one browser's CSRF cookie and token.
	c := e.newClient()
	token := e.csrf(c)
	var cookie string
	srvURL, _ := url.Parse(e.srv.URL)
	for _, ck := range c.Jar.Cookies(srvURL) {
		if ck.Name == "csrf" {
			cookie = ck.String()
		}
	}
	if cookie == "" {
		b.Fatal("no CSRF cookie")
	}
	// The generator's forms are valid ones.
	const first = 2_000_000
	out, err := exec.Command(gen, "-form", strconv.Itoa(first+7), token).Output()
	if err != nil {
		b.Fatalf("the generator's form: %v", err)
	}
	got, err := url.ParseQuery(strings.TrimSpace(string(out)))
	want := validForm(first + 7)
	want.Set("csrf_token", token)
	want.Set("submission_key", got.Get("submission_key"))
	if err != nil || !maps.EqualFunc(got, want, slices.Equal) || !validSubmissionKey(got.Get("submission_key")) {
		b.Fatalf("the generator's form is %v (%v), want %v", got, err, want)
	}
	friendly := map[string]map[string]string{}
	for status, key := range map[int]string{http.StatusServiceUnavailable: "busy.apply", http.StatusTooManyRequests: "apply.ratelimited"} {
		friendly[strconv.Itoa(status)] = map[string]string{}
		for _, lang := range languages {
			friendly[strconv.Itoa(status)][lang] = html.EscapeString(translate(lang, key))
		}
	}
	plan, err := json.Marshal(map[string]any{"url": e.srv.URL, "rate": offered, "duration": duration, "cookie": cookie,
		"token": token, "robot_every": rushRobotEvery, "first": first, "languages": languages, "friendly": friendly})
	if err != nil {
		b.Fatal(err)
	}

	// The moderator: the queue page, then the API's list of applications, again and again.
	stop := make(chan struct{})
	var modLat, apiLat []time.Duration
	var modErrs []string
	modDone := make(chan struct{})
	go func() {
		defer close(modDone)
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			for _, v := range []struct {
				path, token string
				lat         *[]time.Duration
			}{{"/moderation", "", &modLat}, {"/api/v1/applications", apiSecret, &apiLat}} {
				req, _ := http.NewRequest(http.MethodGet, e.srv.URL+v.path, nil)
				client := mc
				if v.token != "" {
					req.Header.Set("Authorization", "Bearer "+v.token)
					client = http.DefaultClient
				}
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					modErrs = append(modErrs, v.path+": "+err.Error())
					continue
				}
				io.Copy(io.Discard, resp.Body) //nolint:errcheck
				resp.Body.Close()
				*v.lat = append(*v.lat, time.Since(t0))
				if resp.StatusCode != http.StatusOK {
					modErrs = append(modErrs, fmt.Sprintf("%s: status %d", v.path, resp.StatusCode))
				}
			}
		}
	}()

	b.ResetTimer()
	var before syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &before) //nolint:errcheck
	cmd := exec.Command(gen)
	cmd.Stdin = bytes.NewReader(plan)
	cmd.Stderr = os.Stderr
	out, err = cmd.Output()
	close(stop)
	<-modDone
	b.StopTimer()
	var after syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &after) //nolint:errcheck
	serverCPU := time.Duration(after.Utime.Nano() + after.Stime.Nano() - before.Utime.Nano() - before.Stime.Nano())
	var genCPU time.Duration
	if cmd.ProcessState != nil {
		genCPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	if err != nil {
		b.Fatalf("generator: %v", err)
	}
	var r rushReport
	if err := json.Unmarshal(out, &r); err != nil {
		b.Fatalf("the generator's report %q: %v", out, err)
	}
	var rows int
	if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM applications`).Scan(&rows); err != nil {
		b.Fatal(err)
	}
	rows -= seeded

	accepted := float64(r.Accepted) / max(r.SentSeconds, 1)
	b.ReportMetric(float64(r.Offered), "offered/s")
	b.ReportMetric(r.Reached, "reached/s")
	b.ReportMetric(float64(r.Accepted), "accepted")
	b.ReportMetric(accepted, "accepted/s")
	b.ReportMetric(float64(r.Limited), "shed_429")
	b.ReportMetric(float64(r.Busy), "shed_503")
	b.ReportMetric(r.AcceptedP50, "accepted_p50_ms")
	b.ReportMetric(r.AcceptedP99, "accepted_p99_ms")
	b.ReportMetric(r.AcceptedServerP99, "accepted_written_p99_ms")
	b.ReportMetric(r.ShedP99, "shed_p99_ms")
	b.ReportMetric(percentile(modLat, 0.95), "queue_page_p95_ms")
	b.ReportMetric(percentile(apiLat, 0.95), "api_p95_ms")
	b.ReportMetric(float64(rows), "rows")
	b.Logf("offered %d/s for %v: %d submissions, sent in %.1f s (%.0f/s reached); accepted %d (%.0f/s), 429 %d, 503 %d, "+
		"other %d; accepted p50 %.1f ms, p99 %.1f ms from due (p99 %.1f ms from sent; p50 %.1f ms, p99 %.1f ms from written); "+
		"shed p50 %.1f ms, p99 %.1f ms (p99 %.1f ms from written); "+
		"queue page p95 %.1f ms over %d loads, API p95 %.1f ms over %d; rows %d = acknowledged %d; "+
		"CPU: server %.1f s, generator %.1f s",
		r.Offered, duration, r.Total, r.SentSeconds, r.Reached, r.Accepted, accepted, r.Limited, r.Busy,
		r.Other, r.AcceptedP50, r.AcceptedP99, r.AcceptedSent, r.AcceptedServerP50, r.AcceptedServerP99, r.ShedP50, r.ShedP99, r.ShedServerP99,
		percentile(modLat, 0.95), len(modLat), percentile(apiLat, 0.95), len(apiLat), rows, r.Accepted,
		serverCPU.Seconds(), genCPU.Seconds())

	// The acceptance criteria.
	if r.Limited == 0 || r.Busy == 0 {
		b.Errorf("the server should shed with both 429 (per network) and 503 (overloaded): %d and %d", r.Limited, r.Busy)
	}
	if r.Unfriendly > 0 {
		b.Errorf("%d refusals without Retry-After or the page explaining them in the applicant's language", r.Unfriendly)
	}
	if r.Other > 0 {
		b.Errorf("%d submissions neither accepted nor refused with 429/503, such as %v", r.Other, r.Errors)
	}
	if r.Accepted == 0 {
		b.Errorf("nothing accepted")
	} else if r.AcceptedServerP99 >= 1000 {
		b.Errorf("accepted submissions answered in %.0f ms at p99 from when they were written, want under a second", r.AcceptedServerP99)
	}
	if len(modErrs) > 0 {
		b.Errorf("the moderator's requests failed: %v", modErrs[:min(5, len(modErrs))])
	}
	if len(modLat) == 0 || len(apiLat) == 0 {
		b.Errorf("the moderator made %d page and %d API loads", len(modLat), len(apiLat))
	}
	if p := percentile(modLat, 0.95); p >= 1000 {
		b.Errorf("the queue page took %.0f ms at p95, want under a second", p)
	}
	if p := percentile(apiLat, 0.95); p >= 1000 {
		b.Errorf("the API took %.0f ms at p95, want under a second", p)
	}
	if rows != r.Accepted {
		b.Errorf("%d applications recorded, %d acknowledged: they must be equal", rows, r.Accepted)
	}
}

// rushSetting reads an environment variable with parse, or gives def.
func rushSetting[T any](b *testing.B, name string, def T, parse func(string) (T, error)) T {
	v, ok := os.LookupEnv(name)
	if !ok || v == "" {
		return def
	}
	x, err := parse(v)
	if err != nil {
		b.Fatalf("%s=%q: %v", name, v, err)
	}
	return x
}
