// Command rush is the load generator of the rush (webui's BenchmarkRush, `make rush`): it offers
// POST /apply a fixed rate, open loop — each request goes out on its schedule in its own
// goroutine, whatever the answers — and prints what became of them as one JSON object. It runs in
// its own process so that the server's scheduler sees only the server's goroutines, as it would
// behind a real crowd.
//
// It reads its plan as JSON on standard input (see plan) and writes a report (see report).
// `rush -form N TOKEN` prints the N-th application form instead, for the benchmark to check it.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// plan is what to offer, and how to recognise a friendly refusal.
type plan struct {
	URL      string        `json:"url"`      // the server's base URL
	Rate     int           `json:"rate"`     // submissions offered per second
	Duration time.Duration `json:"duration"` // for how long
	// Cookie (a Cookie header) and Token are one browser's CSRF cookie and form token.
	Cookie string `json:"cookie"`
	Token  string `json:"token"`
	// RobotEvery: one request in this many comes from one network (192.0.2.1) sending again and
	// again; the others each from their own address, in X-Forwarded-For.
	RobotEvery int `json:"robot_every"`
	// First numbers the applications, so that they differ from any already in the database.
	First int `json:"first"`
	// Languages are sent in turn as Accept-Language; Friendly[status][lang] is a text the refusal
	// page with that status must hold in that language (HTML-escaped as the page writes it).
	Languages []string                     `json:"languages"`
	Friendly  map[string]map[string]string `json:"friendly"`
}

// report is what became of the submissions. Durations are in milliseconds.
type report struct {
	Offered      int      `json:"offered"`
	Total        int      `json:"total"`
	SentSeconds  float64  `json:"sent_seconds"` // from the start to the last request sent
	Reached      float64  `json:"reached"`      // submissions sent per second
	Accepted     int      `json:"accepted"`     // 303 to /apply/sent
	Limited      int      `json:"limited"`      // 429
	Busy         int      `json:"busy"`         // 503
	Unfriendly   int      `json:"unfriendly"`   // 429 or 503 without Retry-After or the page's text
	Other        int      `json:"other"`        // any other answer, or none
	Errors       []string `json:"errors"`       // the first few of those
	AcceptedP50  float64  `json:"accepted_p50_ms"`
	AcceptedP99  float64  `json:"accepted_p99_ms"` // from when each was due on the schedule
	AcceptedSent float64  `json:"accepted_sent_p99_ms"`
	ShedP50      float64  `json:"shed_p50_ms"`
	ShedP99      float64  `json:"shed_p99_ms"`
	// From when the request was written on its connection to the answer: the server's own time,
	// without the wait for a connection.
	AcceptedServerP50 float64 `json:"accepted_server_p50_ms"`
	AcceptedServerP99 float64 `json:"accepted_server_p99_ms"`
	ShedServerP99     float64 `json:"shed_server_p99_ms"`
}

// outcome is what became of one submission.
type outcome struct {
	status                            int
	sinceDue, sinceSent, sinceWritten time.Duration
	sentAt                            time.Duration // from the start
	friendly, failed                  bool
}

func main() {
	if len(os.Args) == 4 && os.Args[1] == "-form" {
		n, err := strconv.Atoi(os.Args[2])
		if err != nil {
			fmt.Fprintln(os.Stderr, "rush: -form wants a number, got", os.Args[2])
			os.Exit(2)
		}
		fmt.Println(form(n, os.Args[3]))
		return
	}
	var p plan
	if err := json.NewDecoder(os.Stdin).Decode(&p); err != nil {
		fmt.Fprintln(os.Stderr, "rush: read the plan on standard input:", err)
		os.Exit(2)
	}
	if p.Rate <= 0 || p.Duration <= 0 || p.URL == "" || p.RobotEvery <= 0 || len(p.Languages) == 0 {
		fmt.Fprintln(os.Stderr, "rush: the plan needs url, rate, duration, robot_every and languages")
		os.Exit(2)
	}
	if path := os.Getenv("SPACES_RUSH_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "rush: SPACES_RUSH_CPUPROFILE:", err)
			os.Exit(2)
		}
		defer pprof.StopCPUProfile()
	}
	if err := json.NewEncoder(os.Stdout).Encode(run(p)); err != nil {
		fmt.Fprintln(os.Stderr, "rush:", err)
		os.Exit(1)
	}
}

func run(p plan) report {
	// Connections are bounded so that the generator and the server stay within their open files;
	// a request waiting for one counts that wait in its time from due.
	tr := &http.Transport{MaxConnsPerHost: 2048, MaxIdleConns: 2048, MaxIdleConnsPerHost: 2048, DisableCompression: true}
	client := &http.Client{Transport: tr, Timeout: 5 * time.Minute, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	friendly := map[int]map[string][]byte{}
	for status, texts := range p.Friendly {
		code, _ := strconv.Atoi(status)
		friendly[code] = map[string][]byte{}
		for lang, text := range texts {
			friendly[code][lang] = []byte(text)
		}
	}

	total := int(float64(p.Rate) * p.Duration.Seconds())
	outcomes := make([]outcome, total)
	var errMu sync.Mutex
	var errs []string
	bodies := sync.Pool{New: func() any { return new(bytes.Buffer) }}
	var wg sync.WaitGroup
	start := time.Now()
	fire := func(i int) {
		defer wg.Done()
		due := start.Add(time.Duration(float64(i) / float64(p.Rate) * float64(time.Second)))
		sent := time.Now()
		fail := func(err error) {
			outcomes[i] = outcome{failed: true, sentAt: sent.Sub(start)}
			errMu.Lock()
			if len(errs) < 5 {
				errs = append(errs, err.Error())
			}
			errMu.Unlock()
		}
		req, _ := http.NewRequest(http.MethodPost, p.URL+"/apply", strings.NewReader(form(p.First+i, p.Token)))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Cookie", p.Cookie)
		lang := p.Languages[i%len(p.Languages)]
		req.Header.Set("Accept-Language", lang)
		from := fmt.Sprintf("10.%d.%d.%d", (i>>16)&255, (i>>8)&255, i&255)
		if i%p.RobotEvery == 0 {
			from = "192.0.2.1"
		}
		req.Header.Set("X-Forwarded-For", from)
		var written time.Time
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			WroteRequest: func(httptrace.WroteRequestInfo) { written = time.Now() }}))
		resp, err := client.Do(req)
		if err != nil {
			fail(err)
			return
		}
		body := bodies.Get().(*bytes.Buffer)
		defer bodies.Put(body)
		body.Reset()
		_, err = body.ReadFrom(resp.Body)
		resp.Body.Close()
		if err != nil {
			fail(err)
			return
		}
		o := outcome{status: resp.StatusCode, sinceDue: time.Since(due), sinceSent: time.Since(sent), sinceWritten: time.Since(written),
			sentAt: sent.Sub(start)}
		if want, ok := friendly[resp.StatusCode]; ok {
			o.friendly = resp.Header.Get("Retry-After") != "" && bytes.Contains(body.Bytes(), want[lang])
		}
		outcomes[i] = o
	}
	// Every millisecond, send what is due by now.
	tick := time.NewTicker(time.Millisecond)
	for sent := 0; sent < total; {
		<-tick.C
		due := min(total, int(time.Since(start).Seconds()*float64(p.Rate)))
		for ; sent < due; sent++ {
			wg.Add(1)
			go fire(sent)
		}
	}
	tick.Stop()
	wg.Wait()

	r := report{Offered: p.Rate, Total: total}
	var accepted, acceptedSent, acceptedServer, shed, shedServer []time.Duration
	var last time.Duration
	for _, o := range outcomes {
		last = max(last, o.sentAt)
		switch {
		case o.failed:
			r.Other++
		case o.status == http.StatusSeeOther:
			r.Accepted++
			accepted = append(accepted, o.sinceDue)
			acceptedSent = append(acceptedSent, o.sinceSent)
			acceptedServer = append(acceptedServer, o.sinceWritten)
		case o.status == http.StatusTooManyRequests, o.status == http.StatusServiceUnavailable:
			if o.status == http.StatusTooManyRequests {
				r.Limited++
			} else {
				r.Busy++
			}
			shed = append(shed, o.sinceSent)
			shedServer = append(shedServer, o.sinceWritten)
			if !o.friendly {
				r.Unfriendly++
			}
		default:
			r.Other++
			if len(errs) < 5 {
				errs = append(errs, "status "+strconv.Itoa(o.status))
			}
		}
	}
	r.Errors = errs
	r.SentSeconds = last.Seconds()
	if last > 0 {
		r.Reached = float64(total) / last.Seconds()
	}
	r.AcceptedP50, r.AcceptedP99 = percentile(accepted, 0.50), percentile(accepted, 0.99)
	r.AcceptedSent = percentile(acceptedSent, 0.99)
	r.ShedP50, r.ShedP99 = percentile(shed, 0.50), percentile(shed, 0.99)
	r.AcceptedServerP50, r.AcceptedServerP99 = percentile(acceptedServer, 0.50), percentile(acceptedServer, 0.99)
	r.ShedServerP99 = percentile(shedServer, 0.99)
	return r
}

// form is a valid application numbered n with the CSRF token, URL-encoded (webui's validForm,
// written out: thousands are made a second).
func form(n int, token string) string {
	id := strconv.Itoa(n)
	key := "sub_rush" + strings.Repeat("0", max(0, 40-len(id))) + id
	legal := "000000000" + id
	return "activities=Ateliers%2C+chantiers+collectifs%2C+f%C3%AAte+des+semences.&association_name=Les+Amis+du+Jardin+" + id +
		"&contact_email=camille" + id + "%40jardin.example&contact_name=Camille+Martin&csrf_token=" + url.QueryEscape(token) +
		"&expected_accounts=12&legal_id=W" + legal[len(legal)-9:] + "&purpose=Entretenir+un+jardin+partag%C3%A9+et+transmettre+les+savoirs." +
		"&slug=jardin-" + id + "&submission_key=" + key + "&terms=on"
}

// percentile is the p-th percentile of d in milliseconds, 0 for none.
func percentile(d []time.Duration, p float64) float64 {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return float64(d[int(float64(len(d)-1)*p)].Microseconds()) / 1000
}
