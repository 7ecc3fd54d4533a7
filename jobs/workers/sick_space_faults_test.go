//go:build faults

package workers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/assospaces/spaces/jobs"
	"github.com/assospaces/spaces/provisioner"
	"github.com/assospaces/spaces/quota"
	"github.com/assospaces/spaces/tenants"
)

// sickSpaceProxy stands between the service and Nomad and, for the spaces it is told about,
// rewrites Nomad's allocation listing so that their http port is another server: a Nextcloud
// that hangs or answers 500, in front of the space as the service sees it. Nomad's own health
// check still reaches the real stand-in, so Nomad keeps the allocation healthy, as it does when a
// Nextcloud answers its status page but not its API.
type sickSpaceProxy struct {
	URL string
	mu  sync.Mutex
	to  map[string]string // job ID → host:port the service is sent to
}

func newSickSpaceProxy(t *testing.T, target string) *sickSpaceProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &sickSpaceProxy{to: map[string]string{}}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.FlushInterval = -1
	direct := rp.Director
	rp.Director = func(r *http.Request) {
		direct(r)
		r.Header.Del("Accept-Encoding") // a body to rewrite, not a gzip stream
	}
	rp.ModifyResponse = p.rewrite
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

// send makes the service reach job's allocations at addr.
func (p *sickSpaceProxy) send(jobID, addr string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.to[jobID] = addr
}

func (p *sickSpaceProxy) rewrite(resp *http.Response) error {
	if resp.Request.Method != http.MethodGet || resp.Request.URL.Path != "/v1/allocations" || resp.StatusCode != http.StatusOK {
		return nil
	}
	p.mu.Lock()
	to := maps.Clone(p.to)
	p.mu.Unlock()
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	var allocs []map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber() // indexes and nanosecond times do not fit a float64
	if err := dec.Decode(&allocs); err != nil {
		return err
	}
	for _, a := range allocs {
		addr, ok := to[a["JobID"].(string)]
		if !ok {
			continue
		}
		host, port, _ := net.SplitHostPort(addr)
		n, _ := strconv.Atoi(port)
		res, _ := a["AllocatedResources"].(map[string]any)
		shared, _ := res["Shared"].(map[string]any)
		ports, _ := shared["Ports"].([]any)
		for _, pm := range ports {
			if m, _ := pm.(map[string]any); m["Label"] == "http" {
				m["HostIP"], m["Value"] = host, n
			}
		}
		networks, _ := shared["Networks"].([]any)
		for _, nw := range networks {
			nm, _ := nw.(map[string]any)
			dyn, _ := nm["DynamicPorts"].([]any)
			for _, pm := range dyn {
				if m, _ := pm.(map[string]any); m["Label"] == "http" {
					nm["IP"], m["Value"] = host, n
				}
			}
		}
	}
	body, err = json.Marshal(allocs)
	if err != nil {
		return err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	return nil
}

// TestFaultSickSpaces: of three spaces, one's Nextcloud hangs and one's answers 500 to
// everything. A usage pass still ends (each space is bounded by the usage timeout, 3 s here),
// measures the healthy space and marks each sick one UsageCollected=False with the reason (a
// deadline exceeded, an HTTP 500). After a resize of all three, the reconciler applies the
// healthy space's new limits and reports its generation observed, and marks each sick one
// Drifted with the reason, its generation not observed. Once the sick spaces answer again, both
// catch up by themselves.
func TestFaultSickSpaces(t *testing.T) {
	t.Parallel()
	proxy := newSickSpaceProxy(t, nomadAddr(t))
	e := newEnv(t, envOptions{nomadAddr: proxy.URL, usageInterval: time.Millisecond, usageTimeout: 3 * time.Second})
	limits := quota.Limits{StorageBytes: 100 * quota.MB, Accounts: 5}
	fine := activeSpace(t, e, "fine", limits)
	hung := activeSpace(t, e, "hung", limits)
	failing := activeSpace(t, e, "fail", limits)
	runJob(t, e, jobs.CollectUsageArgs{})
	_, before := usageOf(t, e, fine)
	if !before.Collected() {
		t.Fatalf("usage not measured before the fault: %+v", before)
	}

	release := make(chan struct{})
	var hangs sync.WaitGroup
	hanging := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hangs.Add(1)
		defer hangs.Done()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
	}))
	t.Cleanup(func() {
		close(release)
		hanging.Close()
		broken.Close()
	})
	proxy.send(provisioner.JobID(hung.Slug), hanging.Listener.Addr().String())
	proxy.send(provisioner.JobID(failing.Slug), broken.Listener.Addr().String())

	// The usage pass ends, the healthy space measured, the sick ones marked.
	runJob(t, e, jobs.CollectUsageArgs{})
	_, after := usageOf(t, e, fine)
	if after.Stale() || !after.CollectedAt.After(before.CollectedAt) {
		t.Errorf("the healthy space was not measured again: %+v", after)
	}
	sick := func(s tenants.Space, typ, want string) {
		t.Helper()
		cur, _ := usageOf(t, e, s)
		c := condition(cur, typ)
		if c.Status != "False" || !strings.Contains(c.Message, want) {
			t.Errorf("space %s %s = %+v, want False saying %q", s.Slug, typ, c, want)
		}
		t.Logf("space %s %s: %s: %s", s.Slug, typ, c.Reason, c.Message)
	}
	sick(hung, provisioner.CondUsageCollected, "deadline exceeded")
	sick(failing, provisioner.CondUsageCollected, "500")

	// A resize of all three: the reconciler applies the healthy space's new limits and reports
	// its generation observed; each sick space is marked Drifted with the reason, its generation
	// left to apply (a usage pass that fails on it meanwhile observes nothing either).
	d := &jobs.Decisions{Pool: e.pool, Client: e.client, BaseDomain: testDomain, PublicURL: "http://spaces.test", DeleteGrace: time.Hour}
	bigger := quota.Limits{StorageBytes: 200 * quota.MB, Accounts: 6}
	resized := map[string]tenants.Space{}
	for _, s := range []tenants.Space{fine, hung, failing} {
		r, err := d.Resize(context.Background(), s.ID, tenants.Resize{StorageBytes: bigger.StorageBytes, Accounts: bigger.Accounts}, tenants.TokenActor(1))
		if err != nil {
			t.Fatal(err)
		}
		resized[s.Slug] = r
	}
	waitObserved(t, e, resized[fine.Slug])
	for _, s := range []tenants.Space{hung, failing} {
		waitFor(t, "space "+s.Slug+" marked drifted", func() bool {
			cur, _ := usageOf(t, e, s)
			if cur.ObservedGeneration >= resized[s.Slug].Generation {
				t.Fatalf("space %s: generation %d observed while its limits could not be applied; conditions %+v",
					s.Slug, cur.ObservedGeneration, cur.Conditions)
			}
			c := condition(cur, provisioner.CondDrifted)
			return c.Status == "False" && c.Reason == "NewGeneration" && strings.Contains(c.Message, "not applied yet")
		})
	}
	sick(hung, provisioner.CondDrifted, "deadline exceeded")
	sick(failing, provisioner.CondDrifted, "500")

	// The sick spaces answer again: the reconciler applies their limits, the usage passes measure
	// them, by themselves.
	proxy.mu.Lock()
	clear(proxy.to)
	proxy.mu.Unlock()
	for _, s := range []tenants.Space{hung, failing} {
		cur := waitObserved(t, e, resized[s.Slug])
		if cur.Limits != bigger {
			t.Errorf("space %s limits %+v, want %+v", s.Slug, cur.Limits, bigger)
		}
		waitFor(t, "space "+s.Slug+" measured again", func() bool {
			cur, u := usageOf(t, e, s)
			return condition(cur, provisioner.CondUsageCollected).Status == "True" && !u.Stale()
		})
	}
}
