package provisioner

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// resyncEvery wakes every waiter even without an event, so a lost event or a broken stream costs
// a few seconds, never a hung pass.
const resyncEvery = 5 * time.Second

// watcher follows Nomad's event stream once for the whole process and wakes the passes waiting
// on a job when its allocations or services change. Passes then read the job's state with one
// plain query: events are triggers, never the state itself, so a missed one changes nothing.
// With it, a hundred passes waiting for health hold no connection to Nomad each.
type watcher struct {
	nomad  Nomad
	logger *slog.Logger
	// resync is resyncEvery, or never when negative.
	resync time.Duration

	ctx  context.Context
	stop context.CancelFunc

	mu      sync.Mutex
	waiters map[string]map[chan struct{}]struct{}
	started bool
	// hooks are called, at most once per hookEvery, after any space job changed.
	hooks []func()
	kick  chan struct{}
}

// hookEvery spaces out the calls of the change hooks: a burst of events makes one call.
const hookEvery = time.Second

func newWatcher(n Nomad, logger *slog.Logger, resync time.Duration) *watcher {
	ctx, stop := context.WithCancel(context.Background())
	return &watcher{nomad: n, logger: logger, resync: resync, ctx: ctx, stop: stop, waiters: map[string]map[chan struct{}]struct{}{},
		kick: make(chan struct{}, 1)}
}

// onChange calls f (spaced out by hookEvery) whenever Nomad reports a change to a space's job:
// registered, stopped, purged, or one of its allocations or services changed.
func (w *watcher) onChange(f func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.hooks = append(w.hooks, f)
	if len(w.hooks) == 1 {
		go w.callHooks(w.ctx)
	}
	w.startLocked()
}

func (w *watcher) callHooks(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.kick:
		}
		w.mu.Lock()
		hooks := append([]func(){}, w.hooks...)
		w.mu.Unlock()
		for _, f := range hooks {
			f()
		}
		sleep(ctx, hookEvery)
	}
}

func (w *watcher) startLocked() {
	if !w.started {
		w.started = true
		go w.run(w.ctx)
	}
}

// subscribe returns a channel poked when jobID changes (or at each resync), and its release.
func (w *watcher) subscribe(jobID string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	w.mu.Lock()
	if w.waiters[jobID] == nil {
		w.waiters[jobID] = map[chan struct{}]struct{}{}
	}
	w.waiters[jobID][ch] = struct{}{}
	w.startLocked()
	w.mu.Unlock()
	return ch, func() {
		w.mu.Lock()
		delete(w.waiters[jobID], ch)
		if len(w.waiters[jobID]) == 0 {
			delete(w.waiters, jobID)
		}
		w.mu.Unlock()
	}
}

func (w *watcher) poke(jobID string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for ch := range w.waiters[jobID] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func (w *watcher) pokeAll() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, chans := range w.waiters {
		for ch := range chans {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}
}

// run follows the event stream for the life of the process, reconnecting with backoff.
func (w *watcher) run(ctx context.Context) {
	if w.resync > 0 {
		ticker := time.NewTicker(w.resync)
		defer ticker.Stop()
		go func() {
			for {
				select {
				case <-ticker.C:
					w.pokeAll()
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	backoff := time.Second
	for ctx.Err() == nil {
		changes, err := w.nomad.JobChanges(ctx)
		if err != nil {
			w.logger.WarnContext(ctx, "nomad event stream", "err", err, "retry_in", backoff)
			sleep(ctx, backoff)
			backoff = min(2*backoff, 30*time.Second)
			continue
		}
		backoff = time.Second
		w.pokeAll() // what changed while the stream was down
		for jobID := range changes {
			w.poke(jobID)
			if strings.HasPrefix(jobID, jobPrefix) {
				select {
				case w.kick <- struct{}{}:
				default:
				}
			}
		}
		sleep(ctx, time.Second)
	}
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
