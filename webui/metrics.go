package webui

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/assospaces/spaces/jobs"
	"github.com/assospaces/spaces/tenants"
)

// Metrics is what `spaces serve` reports to Prometheus at GET /metrics, in Prometheus's text
// format. Two kinds of figures: what lives in Postgres (applications and spaces per state, the
// waiting list, River's jobs, mail given up, drift) is read at each scrape by a collector, one
// query each, so every replica reports the same truth; what one process does (HTTP requests,
// the jobs it worked, the repairs it made, requests it shed) is counted in that process, and
// Prometheus adds the replicas up.
type Metrics struct {
	registry *prometheus.Registry
	pool     *pgxpool.Pool
	logger   *slog.Logger

	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	shed     *prometheus.CounterVec
	attempts *prometheus.CounterVec
	duration *prometheus.HistogramVec
	repairs  *prometheus.CounterVec
}

// NewMetrics builds the registry: the Go runtime's and the process's standard collectors, the
// per-process counters, and the collector that reads pool at scrape time. ceiling, when not
// nil, gives the capacity ceiling (0: none) as spaces_capacity_ceiling.
func NewMetrics(pool *pgxpool.Pool, logger *slog.Logger, ceiling func(context.Context) (int, error)) *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		pool:     pool,
		logger:   logger,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "spaces_http_requests_total",
			Help: "HTTP requests answered by this process, per route class (apply, status, moderation, api, static, health, other) and status code."},
			[]string{"class", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "spaces_http_request_duration_seconds",
			Help:    "Time this process took to answer HTTP requests, per route class.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}},
			[]string{"class"}),
		shed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "spaces_http_requests_shed_total",
			Help: "HTTP requests this process refused at once because it was overloaded, per route class."},
			[]string{"class"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "spaces_job_attempts_total",
			Help: "River job attempts this process worked, per job kind (provision_space, reconcile_spaces, collect_usage, send_mail, …) and outcome: completed, retried (failed, to be tried again), discarded (failed on its last attempt) or cancelled (given up at once): a space failed, a mail given up; snoozed."},
			[]string{"kind", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "spaces_job_attempt_duration_seconds",
			Help:    "How long the River job attempts of this process ran, per job kind (a provisioning attempt includes its wait for the space's health).",
			Buckets: []float64{.01, .05, .1, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}},
			[]string{"kind"}),
		repairs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "spaces_reconcile_repairs_total",
			Help: "Space jobs the reconciler of this process registered again, per drift reason (JobMissing, JobStopped, JobEdited, NewGeneration, Deleting) and outcome (repaired, failed)."},
			[]string{"reason", "outcome"}),
	}
	m.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests, m.latency, m.shed, m.attempts, m.duration, m.repairs,
		&databaseCollector{pool: pool, logger: logger, ceiling: ceiling},
	)
	return m
}

// MetricsHandler serves GET /metrics (and nothing else) for the metrics listener
// (SPACES_METRICS_ADDR). Unless open, a scrape needs `Authorization: Bearer <API token>`, a
// read-only token being enough (spaces token create prometheus --scope read), and gets the
// API's 401 errors otherwise: open is for a listener on a loopback address only.
func (m *Metrics) MetricsHandler(open bool) http.Handler {
	h := &handler{Options: Options{Pool: m.pool, Logger: m.logger}}
	serve := promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{
		// A query that fails leaves its series out of this scrape (logged); the rest is served.
		ErrorHandling: promhttp.ContinueOnError,
		ErrorLog:      promLogger{m.logger},
		Timeout:       20 * time.Second,
	}).ServeHTTP
	if !open {
		serve = h.requireToken(serve)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", serve)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h.apiFail(w, r, http.StatusNotFound, "not_found", "", "this listener serves GET /metrics only")
	})
	return mux
}

// Shed counts a request refused at once because the process is overloaded, under its route class
// (RouteClass): the hook for the load shedder (shed.go) to call when it refuses one. A nil
// Metrics (metrics off) counts nothing.
func (m *Metrics) Shed(r *http.Request) {
	if m != nil {
		m.shed.WithLabelValues(RouteClass(r.URL.Path)).Inc()
	}
}

// RouteClass names the part of the service a path belongs to, for metrics: a handful of
// values, never the path itself (slugs and tokens would make a series per space or applicant).
func RouteClass(path string) string {
	switch {
	case path == "/healthz" || path == "/readyz":
		return "health"
	case strings.HasPrefix(path, "/static/"):
		return "static"
	case strings.HasPrefix(path, "/api/"):
		return "api"
	case path == "/moderation" || strings.HasPrefix(path, "/moderation/"):
		return "moderation"
	case strings.HasPrefix(path, "/status/"):
		return "status"
	case path == "/" || path == "/apply" || strings.HasPrefix(path, "/apply/"):
		return "apply"
	}
	return "other"
}

// instrument counts every request next answers, with its class, status and duration.
func (m *Metrics) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			class := RouteClass(r.URL.Path)
			code := sw.status
			if code == 0 {
				code = http.StatusOK
			}
			m.requests.WithLabelValues(class, strconv.Itoa(code)).Inc()
			m.latency.WithLabelValues(class).Observe(time.Since(start).Seconds())
		}()
		next.ServeHTTP(sw, r)
	})
}

// statusWriter remembers the status a handler answered.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (flushes, deadlines).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// WatchJobs counts the job attempts client works in this process until ctx ends, from River's
// events (their kind, outcome and run time). Subscribe before the client starts.
func (m *Metrics) WatchJobs(ctx context.Context, client *jobs.Client) {
	events, cancel := client.Subscribe(river.EventKindJobCompleted, river.EventKindJobFailed,
		river.EventKindJobCancelled, river.EventKindJobSnoozed)
	go func() {
		defer cancel()
		for {
			select {
			case <-ctx.Done():
				return
			case e, ok := <-events:
				if !ok {
					return
				}
				m.jobEvent(e)
			}
		}
	}()
}

func (m *Metrics) jobEvent(e *river.Event) {
	if e == nil || e.Job == nil {
		return
	}
	outcome := string(e.Kind)
	switch e.Kind {
	case river.EventKindJobCompleted:
		outcome = "completed"
	case river.EventKindJobFailed:
		outcome = "retried"
		if e.Job.State == rivertype.JobStateDiscarded {
			outcome = "discarded"
		}
	case river.EventKindJobCancelled:
		outcome = "cancelled"
	case river.EventKindJobSnoozed:
		outcome = "snoozed"
	}
	m.attempts.WithLabelValues(e.Job.Kind, outcome).Inc()
	if e.JobStats != nil {
		m.duration.WithLabelValues(e.Job.Kind).Observe(e.JobStats.RunDuration.Seconds())
	}
}

// The reconciler's log records of a repair (provisioner.repairAll); CountRepairs counts them.
const (
	logRepaired     = "space job repaired"
	logRepairFailed = "space job repair failed"
)

// CountRepairs wraps the process's log handler so that the reconciler's repairs are counted as
// they are logged (the provisioner reports each repair by one record, with its reason): the
// provisioner stays free of metrics. Records go on to next as they are.
func (m *Metrics) CountRepairs(next slog.Handler) slog.Handler {
	return &repairCounter{next: next, repairs: m.repairs}
}

type repairCounter struct {
	next    slog.Handler
	repairs *prometheus.CounterVec
}

func (c *repairCounter) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelInfo || c.next.Enabled(ctx, l)
}

func (c *repairCounter) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == logRepaired || r.Message == logRepairFailed {
		outcome := "repaired"
		if r.Message == logRepairFailed {
			outcome = "failed"
		}
		reason := "unknown"
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "reason" {
				reason = a.Value.String()
				return false
			}
			return true
		})
		c.repairs.WithLabelValues(reason, outcome).Inc()
	}
	if !c.next.Enabled(ctx, r.Level) {
		return nil
	}
	return c.next.Handle(ctx, r)
}

func (c *repairCounter) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &repairCounter{next: c.next.WithAttrs(attrs), repairs: c.repairs}
}

func (c *repairCounter) WithGroup(name string) slog.Handler {
	return &repairCounter{next: c.next.WithGroup(name), repairs: c.repairs}
}

// promLogger writes promhttp's errors (a query that failed during a scrape) to the log.
type promLogger struct{ logger *slog.Logger }

func (l promLogger) Println(v ...any) {
	l.logger.Warn("metrics scrape", "err", strings.TrimSpace(fmt.Sprintln(v...)))
}

// databaseCollector reads the figures that live in Postgres at each scrape, one query each.
type databaseCollector struct {
	pool    *pgxpool.Pool
	logger  *slog.Logger
	ceiling func(context.Context) (int, error)
}

var (
	descApplications = prometheus.NewDesc("spaces_applications", "Applications per state (pending, needs_info, approved, rejected, withdrawn).", []string{"state"}, nil)
	descSpaces       = prometheus.NewDesc("spaces_spaces", "Spaces per state (queued, provisioning, active, suspended, deleting, deleted, failed).", []string{"state"}, nil)
	descWaitingList  = prometheus.NewDesc("spaces_waiting_list_length", "Approved spaces waiting for a place under the capacity ceiling (queued).", nil, nil)
	descCeiling      = prometheus.NewDesc("spaces_capacity_ceiling", "Most spaces provisioned or running at once (SPACES_CAPACITY, or what Nomad can hold); 0: no ceiling.", nil, nil)
	descRiverJobs    = prometheus.NewDesc("spaces_river_jobs", "River jobs in the database per queue and state (available, scheduled, running, retryable, completed, discarded, cancelled).", []string{"queue", "state"}, nil)
	descMailDropped  = prometheus.NewDesc("spaces_mail_dropped_total", "Mail given up (its last attempt failed, or it could not be composed), by every replica since the start, per template.", []string{"template"}, nil)
	descDrifted      = prometheus.NewDesc("spaces_reconcile_drifted", "Spaces whose Nomad job is not as decided (condition Drifted True): being repaired, or left alone (a job id taken, a broken template).", nil, nil)
	descBackingOff   = prometheus.NewDesc("spaces_reconcile_backing_off", "Spaces whose last repairs failed, waiting for their next try.", nil, nil)
	descOrphans      = prometheus.NewDesc("spaces_reconcile_orphan_jobs", "Nomad jobs that carry a space's meta but belong to no space.", nil, nil)
	descUsageStale   = prometheus.NewDesc("spaces_usage_stale", "Spaces whose last usage collection failed (their figures are stale).", nil, nil)
	descQueueOldest  = prometheus.NewDesc("spaces_moderation_queue_oldest_seconds", "Age of the oldest application waiting for a moderator (pending); 0 when none waits.", nil, nil)
	descStorageLevel = prometheus.NewDesc("spaces_storage_level", "Active and suspended spaces per storage level (ok, 80%, 90%, full: near or at their limit).", []string{"level"}, nil)
)

// Describe sends every series the collector makes.
func (c *databaseCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descApplications, descSpaces, descWaitingList, descCeiling, descRiverJobs,
		descMailDropped, descDrifted, descBackingOff, descOrphans, descUsageStale, descQueueOldest, descStorageLevel} {
		ch <- d
	}
}

// Collect runs the queries; one that fails leaves its series out (an invalid metric, which
// promhttp logs) and the others are still sent.
func (c *databaseCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	fail := func(d *prometheus.Desc, err error) { ch <- prometheus.NewInvalidMetric(d, err) }

	apps := map[string]float64{}
	for _, s := range []tenants.ApplicationState{tenants.AppPending, tenants.AppNeedsInfo, tenants.AppApproved, tenants.AppRejected, tenants.AppWithdrawn} {
		apps[string(s)] = 0
	}
	if err := c.counts(ctx, `SELECT state, count(*) FROM applications GROUP BY state`, apps); err != nil {
		fail(descApplications, err)
	} else {
		for state, n := range apps {
			ch <- prometheus.MustNewConstMetric(descApplications, prometheus.GaugeValue, n, state)
		}
	}

	spaces := map[string]float64{}
	for _, s := range []tenants.SpaceState{tenants.SpaceQueued, tenants.SpaceProvisioning, tenants.SpaceActive,
		tenants.SpaceSuspended, tenants.SpaceDeleting, tenants.SpaceDeleted, tenants.SpaceFailed} {
		spaces[string(s)] = 0
	}
	if err := c.counts(ctx, `SELECT state, count(*) FROM spaces GROUP BY state`, spaces); err != nil {
		fail(descSpaces, err)
		fail(descWaitingList, err)
	} else {
		for state, n := range spaces {
			ch <- prometheus.MustNewConstMetric(descSpaces, prometheus.GaugeValue, n, state)
		}
		// Every queued space waits on the waiting list, in approval order (tenants.QueuePosition).
		ch <- prometheus.MustNewConstMetric(descWaitingList, prometheus.GaugeValue, spaces[string(tenants.SpaceQueued)])
	}

	if c.ceiling != nil {
		if n, err := c.ceiling(ctx); err != nil {
			fail(descCeiling, err)
		} else {
			ch <- prometheus.MustNewConstMetric(descCeiling, prometheus.GaugeValue, float64(n))
		}
	}

	if rows, err := c.pool.Query(ctx, `SELECT queue, state::text, count(*) FROM river_job GROUP BY queue, state`); err != nil {
		fail(descRiverJobs, fmt.Errorf("count river jobs: %w", err))
	} else {
		var out []prometheus.Metric
		for rows.Next() {
			var queue, state string
			var n int64
			if err := rows.Scan(&queue, &state, &n); err != nil {
				break
			}
			out = append(out, prometheus.MustNewConstMetric(descRiverJobs, prometheus.GaugeValue, float64(n), queue, state))
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			fail(descRiverJobs, fmt.Errorf("count river jobs: %w", err))
		} else {
			for _, m := range out {
				ch <- m
			}
		}
	}

	drops := map[string]float64{}
	if err := c.counts(ctx, `SELECT template, sum(count)::bigint FROM mail_drops GROUP BY template`, drops); err != nil {
		fail(descMailDropped, err)
	} else {
		for template, n := range drops {
			ch <- prometheus.MustNewConstMetric(descMailDropped, prometheus.CounterValue, n, template)
		}
	}

	var nDrifted, nBackoff, nOrphans int64
	if err := c.pool.QueryRow(ctx, `SELECT
			(SELECT count(*) FROM spaces WHERE state <> 'deleted' AND conditions @> '[{"type": "Drifted", "status": "True"}]'),
			(SELECT count(*) FROM reconcile_backoff),
			(SELECT count(*) FROM orphan_jobs)`).Scan(&nDrifted, &nBackoff, &nOrphans); err != nil {
		err = fmt.Errorf("count drifted spaces: %w", err)
		fail(descDrifted, err)
		fail(descBackingOff, err)
		fail(descOrphans, err)
	} else {
		ch <- prometheus.MustNewConstMetric(descDrifted, prometheus.GaugeValue, float64(nDrifted))
		ch <- prometheus.MustNewConstMetric(descBackingOff, prometheus.GaugeValue, float64(nBackoff))
		ch <- prometheus.MustNewConstMetric(descOrphans, prometheus.GaugeValue, float64(nOrphans))
	}

	var stale int64
	if err := c.pool.QueryRow(ctx, `SELECT count(*) FROM space_usage u JOIN spaces s ON s.id = u.space_id
		WHERE u.stale_since IS NOT NULL AND s.state <> 'deleted'`).Scan(&stale); err != nil {
		fail(descUsageStale, fmt.Errorf("count stale usage: %w", err))
	} else {
		ch <- prometheus.MustNewConstMetric(descUsageStale, prometheus.GaugeValue, float64(stale))
	}

	var oldest float64
	if err := c.pool.QueryRow(ctx, `SELECT coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8
		FROM applications WHERE state = 'pending'`).Scan(&oldest); err != nil {
		fail(descQueueOldest, fmt.Errorf("age of the moderation queue: %w", err))
	} else {
		ch <- prometheus.MustNewConstMetric(descQueueOldest, prometheus.GaugeValue, oldest)
	}

	levels := map[string]float64{"ok": 0, "80%": 0, "90%": 0, "full": 0}
	if err := c.counts(ctx, `SELECT u.storage_level, count(*) FROM space_usage u JOIN spaces s ON s.id = u.space_id
		WHERE s.state IN ('active', 'suspended') GROUP BY u.storage_level`, levels); err != nil {
		fail(descStorageLevel, err)
	} else {
		for level, n := range levels {
			ch <- prometheus.MustNewConstMetric(descStorageLevel, prometheus.GaugeValue, n, level)
		}
	}
}

// counts runs a query of (label, count) rows into into, adding to the zeros it holds.
func (c *databaseCollector) counts(ctx context.Context, query string, into map[string]float64) error {
	rows, err := c.pool.Query(ctx, query)
	if err != nil {
		return fmt.Errorf("metrics query %q: %w", query, err)
	}
	defer rows.Close()
	for rows.Next() {
		var label string
		var n int64
		if err := rows.Scan(&label, &n); err != nil {
			return fmt.Errorf("metrics query %q: %w", query, err)
		}
		into[label] = float64(n)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("metrics query %q: %w", query, err)
	}
	return nil
}
