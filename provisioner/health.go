package provisioner

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"time"

	nomadapi "github.com/hashicorp/nomad/api"
)

// waitHealthy waits, within HealthTimeout, for an allocation of the job at version or later that
// Nomad's deployment marks healthy (its checks pass), then for its service registration, and
// returns the address to reach the space at. It reads the job's state with plain queries, again
// whenever the process-wide event watcher says the job changed.
func (p *Provisioner) waitHealthy(ctx context.Context, jobID string, version uint64) (addr, allocID string, err error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.HealthTimeout)
	defer cancel()
	changed, release := p.watch.subscribe(jobID)
	defer release()
	last := "no allocation yet"
	for {
		if allocID == "" {
			allocs, _, err := p.nomad.Allocations(ctx, jobID, 0, 0)
			if err != nil {
				return "", "", timeoutOr(ctx, err, p.cfg.HealthTimeout, last)
			}
			allocID, last = pickHealthy(allocs, version)
		}
		if allocID != "" {
			last = "allocation " + shortID(allocID) + " healthy, its service not registered yet"
			regs, _, err := p.nomad.Services(ctx, jobID, 0, 0)
			if err != nil {
				return "", "", timeoutOr(ctx, err, p.cfg.HealthTimeout, last)
			}
			for _, r := range regs {
				if r.AllocID == allocID && r.Port > 0 {
					return hostPort(r.Address, r.Port), allocID, nil
				}
			}
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return "", "", timeoutOr(ctx, ctx.Err(), p.cfg.HealthTimeout, last)
		}
	}
}

func timeoutOr(ctx context.Context, err error, limit time.Duration, last string) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("not healthy after %s: %s", limit, last)
	}
	return err
}

// pickHealthy returns the id of a running, healthy allocation at version or later, or a
// description of where the allocations are, for the failure reason.
func pickHealthy(allocs []*nomadapi.AllocationListStub, version uint64) (string, string) {
	var notes []string
	for _, a := range allocs {
		if a.JobVersion < version {
			continue
		}
		healthy := a.DeploymentStatus != nil && a.DeploymentStatus.Healthy != nil && *a.DeploymentStatus.Healthy
		if a.ClientStatus == nomadapi.AllocClientStatusRunning && healthy {
			return a.ID, ""
		}
		notes = append(notes, fmt.Sprintf("allocation %s is %s%s", shortID(a.ID), a.ClientStatus, taskTrouble(a)))
	}
	if len(notes) == 0 {
		return "", "no allocation placed yet"
	}
	sort.Strings(notes)
	return "", strings.Join(notes, "; ")
}

// taskTrouble is the latest notable task event of an allocation, such as a driver failure.
func taskTrouble(a *nomadapi.AllocationListStub) string {
	for name, ts := range a.TaskStates {
		for i := len(ts.Events) - 1; i >= 0; i-- {
			e := ts.Events[i]
			if e.DisplayMessage != "" && (e.FailsTask || e.Type == nomadapi.TaskDriverFailure || e.Type == nomadapi.TaskTerminated ||
				e.Type == nomadapi.TaskSetupFailure || e.Type == nomadapi.TaskRestarting) {
				return fmt.Sprintf(" (task %s: %s)", name, e.DisplayMessage)
			}
		}
	}
	return ""
}

// publicEvery is how often the public check asks again: nothing tells when a router, a DNS
// record or a certificate becomes right, so it polls, a request at a time.
const publicEvery = 2 * time.Second

// publicClient is the public check's HTTP client: normal DNS and certificate verification, as
// anyone reaching the space, except what Config.PublicDial and Config.PublicRoots replace. It
// follows no redirect, so that a router sending status.php elsewhere is reported, not hidden.
func publicClient(cfg Config) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	if cfg.PublicDial != nil {
		t.DialContext = cfg.PublicDial
		t.Proxy = nil // the dialer decides where each name goes
	}
	if cfg.PublicRoots != nil {
		t.TLSClientConfig = &tls.Config{RootCAs: cfg.PublicRoots, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: t,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// checkPublic asks https://domain/status.php until it answers Nextcloud's status with installed
// true, or until deadline, and then returns the last reason it did not (DNS, TLS, HTTP).
func (p *Provisioner) checkPublic(ctx context.Context, domain string, deadline time.Time) error {
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	u := "https://" + domain + "/status.php"
	last := ""
	for {
		reason := p.askPublic(ctx, u)
		if reason == "" {
			return nil
		}
		if ctx.Err() == nil || last == "" {
			last = reason // a request cut by the deadline says less than the one before
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("%s not ready after %s: %s", u, p.cfg.HealthTimeout, last)
			}
			return ctx.Err()
		case <-time.After(publicEvery):
		}
	}
}

// askPublic asks u once and returns why it is not a Nextcloud that is installed, or "".
func (p *Provisioner) askPublic(ctx context.Context, u string) string {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err.Error()
	}
	resp, err := p.public.Do(req)
	if err != nil {
		return publicTrouble(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg := "HTTP " + resp.Status
		if loc := resp.Header.Get("Location"); loc != "" {
			msg += ", redirected to " + loc
		}
		return msg
	}
	var st struct {
		Installed *bool `json:"installed"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&st); err != nil || st.Installed == nil {
		return "HTTP 200 but not Nextcloud's status (another server answers for this name?)"
	}
	if !*st.Installed {
		return "Nextcloud answers but is not installed yet"
	}
	return ""
}

// publicTrouble names what failed in a request to the public address: DNS, the connection, or
// TLS (the certificate), in words an operator can act on.
func publicTrouble(err error) string {
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var hostErr x509.HostnameError
	var authErr x509.UnknownAuthorityError
	var invalidErr x509.CertificateInvalidError
	var recErr tls.RecordHeaderError
	var opErr *net.OpError
	switch {
	case errors.As(err, &dnsErr):
		return "DNS: " + dnsErr.Error()
	case errors.As(err, &hostErr):
		return "TLS: the certificate is not for this name: " + hostErr.Error()
	case errors.As(err, &authErr):
		return "TLS: the certificate is not signed by a trusted authority: " + authErr.Error()
	case errors.As(err, &invalidErr):
		return "TLS: the certificate is not valid: " + invalidErr.Error()
	case errors.As(err, &certErr):
		return "TLS: " + certErr.Error()
	case errors.As(err, &recErr):
		return "TLS: the server does not speak TLS on port 443"
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return "connection: " + opErr.Error()
	}
	return err.Error()
}
